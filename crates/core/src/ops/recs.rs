//! Recommendations operator: item-to-item co-occurrence, decayed trending
//! and per-user suggestions.
//!
//! ## Design
//! - **Recent items per user**: the last [`USER_ITEMS`] distinct products a
//!   user browsed, carted or purchased (or ordered), most recent last, with
//!   the actions done on each.
//! - **Co-occurrence**: when a user touches a product *new* to their recent
//!   list, it is paired with their [`CO_WINDOW`] most recent items (weight
//!   1); the products of a new order are paired with each other (weight
//!   [`ORDER_PAIR_WEIGHT`], first [`ORDER_LINES_PAIRED`] distinct products).
//!   Each product keeps its strongest [`PARTNERS`] partners with weighted
//!   Space-Saving (a new partner replaces the weakest and inherits its count,
//!   so counts are upper bounds). The strongest pairs overall are tracked
//!   incrementally (counts only grow), the pair count being the smaller of
//!   its two sides.
//! - **Trending**: exponentially decayed score (half-life [`HALF_LIFE_MS`],
//!   10 min of event time) with browse 1, add to cart 3, purchase 5 and each
//!   product of a new order 5. Forward decay: a contribution at `ts` adds
//!   `w·2^((ts - landmark)/half_life)`; the landmark moves (one O(n) rescale)
//!   every 256 half-lives. Scores are shown decayed to "now".
//! - **Suggestions for a user** (at most [`RECS_PER_USER`]): products
//!   co-occurring with the user's recent items (weighted by recency, items
//!   already in their list excluded), then trending products, then the
//!   user's own recent items as "buy again" (purchased, then in cart, then
//!   viewed). Never a product the inventory says is out of stock (q <= 0).
//!   The seed (user 1 browses 101, carts 102, purchases 103) gives user 1
//!   `[103, 102, 101]`: "you purchased", "in your cart", "you viewed".
//!
//! ## Bounds
//! [`MAX_USERS`] users (least recently active evicted) x [`USER_ITEMS`]
//! items; [`MAX_ITEMS`] products with co-occurrence lists (least recently
//! paired evicted) x [`PARTNERS`] partners; [`MAX_TRENDING`] trending scores
//! (the weaker half dropped when full); [`TOP_PAIRS_KEPT`] strongest pairs;
//! the [`RECENT_USERS`] most recently active users for the view.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Action, Behavior, Order};
use crate::id::Id;
use crate::ops::common::{id_hash, FastMap, Lru};
use crate::ops::inventory::InventoryOp;
use crate::time::MINUTE_MS;
use crate::view::{RecsView, Scored, UserRecs};

/// Users with a recent-items list.
pub const MAX_USERS: usize = 20_000;
/// Distinct recent items per user.
pub const USER_ITEMS: usize = 20;
/// Recent items a newly touched product is paired with.
pub const CO_WINDOW: usize = 8;
/// Products with a partner list.
pub const MAX_ITEMS: usize = 10_000;
/// Partners kept per product.
pub const PARTNERS: usize = 16;
/// Trending scores kept.
pub const MAX_TRENDING: usize = 4096;
/// Trending half-life (event time).
pub const HALF_LIFE_MS: i64 = 10 * MINUTE_MS;
/// Order lines paired with each other.
pub const ORDER_LINES_PAIRED: usize = 20;
/// Weight of a co-purchase in one order.
pub const ORDER_PAIR_WEIGHT: u64 = 2;
/// Strongest pairs tracked (10 shown).
pub const TOP_PAIRS_KEPT: usize = 16;
/// Users shown in `for_users`.
pub const RECENT_USERS: usize = 20;
/// Suggestions per user.
pub const RECS_PER_USER: usize = 5;
/// Trending products shown.
pub const TRENDING_SHOWN: usize = 10;

const BIT_BROWSE: u8 = 1;
const BIT_CART: u8 = 2;
const BIT_PURCHASE: u8 = 4;
const RESCALE_HALF_LIVES: f64 = 256.0;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Recent {
    id: Id,
    h: u64,
    mask: u8,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct UserItems {
    items: Vec<Recent>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Partner {
    id: Id,
    h: u64,
    count: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Adj {
    partners: Vec<Partner>,
}

/// Recommendation state. Bounds: see the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecsOp {
    users: Lru<Id, UserItems>,
    items: Lru<Id, Adj>,
    seq: u64,
    trending: FastMap<Id, f64>,
    landmark: i64,
    top_pairs: Vec<(Id, Id, u64)>,
    recent_users: VecDeque<Id>,
}

/// Adds `w` to `a`'s partner `b`; returns the new count.
fn bump(items: &mut Lru<Id, Adj>, seq: &mut u64, a: &Id, b: &Id, hb: u64, w: u64) -> u64 {
    *seq += 1;
    let (adj, _) = items.touch(a, *seq, Adj::default);
    if let Some(p) = adj.partners.iter_mut().find(|p| p.h == hb && p.id == *b) {
        p.count += w;
        return p.count;
    }
    if adj.partners.len() < PARTNERS {
        adj.partners.push(Partner {
            id: b.clone(),
            h: hb,
            count: w,
        });
        return w;
    }
    let mut mi = 0;
    for (i, p) in adj.partners.iter().enumerate() {
        if p.count < adj.partners[mi].count {
            mi = i;
        }
    }
    let p = &mut adj.partners[mi];
    p.id = b.clone();
    p.h = hb;
    p.count += w;
    p.count
}

fn note_pair(top: &mut Vec<(Id, Id, u64)>, a: &Id, b: &Id, c: u64) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    if let Some(e) = top.iter_mut().find(|e| e.0 == *lo && e.1 == *hi) {
        e.2 = c;
        return;
    }
    if top.len() < TOP_PAIRS_KEPT {
        top.push((lo.clone(), hi.clone(), c));
        return;
    }
    let mut mi = 0;
    for (i, e) in top.iter().enumerate() {
        if (e.2, &e.0, &e.1) < (top[mi].2, &top[mi].0, &top[mi].1) {
            mi = i;
        }
    }
    if c > top[mi].2 {
        top[mi] = (lo.clone(), hi.clone(), c);
    }
}

fn pair(
    items: &mut Lru<Id, Adj>,
    seq: &mut u64,
    top: &mut Vec<(Id, Id, u64)>,
    (a, ha): (&Id, u64),
    (b, hb): (&Id, u64),
    w: u64,
) {
    if a == b {
        return;
    }
    let ca = bump(items, seq, a, b, hb, w);
    let cb = bump(items, seq, b, a, ha, w);
    note_pair(top, a, b, ca.min(cb));
    while items.len() > MAX_ITEMS {
        items.pop_oldest();
    }
}

impl RecsOp {
    fn trend(&mut self, id: &Id, w: f64, ts: i64) {
        if self.trending.is_empty() {
            self.landmark = ts;
        }
        let mut x = (ts - self.landmark) as f64 / HALF_LIFE_MS as f64;
        if x > RESCALE_HALF_LIVES {
            let f = (-x).exp2();
            for s in self.trending.values_mut() {
                *s *= f;
            }
            self.landmark = ts;
            x = 0.0;
        }
        let add = w * x.exp2();
        if let Some(s) = self.trending.get_mut(id) {
            *s += add;
            return;
        }
        if self.trending.len() >= MAX_TRENDING {
            let mut all: Vec<(Id, f64)> = self.trending.drain().collect();
            sort_scored(&mut all);
            all.truncate(MAX_TRENDING / 2);
            self.trending.extend(all);
        }
        self.trending.insert(id.clone(), add);
    }

    fn touch_user(&mut self, user: &Id) {
        if self.recent_users.front() == Some(user) {
            return;
        }
        if let Some(pos) = self.recent_users.iter().position(|u| u == user) {
            self.recent_users.remove(pos);
        }
        self.recent_users.push_front(user.clone());
        self.recent_users.truncate(RECENT_USERS);
    }

    /// Adds `product` to `user`'s recent items; pairs it with their recent
    /// items when it is new to the list and `co` is set.
    fn remember(&mut self, user: &Id, product: &Id, h: u64, bit: u8, co: bool) {
        self.seq += 1;
        let (u, _) = self.users.touch(user, self.seq, UserItems::default);
        if let Some(pos) = u.items.iter().position(|r| r.h == h && r.id == *product) {
            let mut r = u.items.remove(pos);
            r.mask |= bit;
            u.items.push(r);
        } else {
            if co {
                let from = u.items.len().saturating_sub(CO_WINDOW);
                for r in &u.items[from..] {
                    pair(
                        &mut self.items,
                        &mut self.seq,
                        &mut self.top_pairs,
                        (product, h),
                        (&r.id, r.h),
                        1,
                    );
                }
            }
            if u.items.len() >= USER_ITEMS {
                u.items.remove(0);
            }
            u.items.push(Recent {
                id: product.clone(),
                h,
                mask: bit,
            });
        }
        while self.users.len() > MAX_USERS {
            self.users.pop_oldest();
        }
    }

    /// Applies a behaviour event.
    pub fn on_behavior(&mut self, ts: i64, b: &Behavior) {
        let (bit, w) = match b.action {
            Action::Browse => (BIT_BROWSE, 1.0),
            Action::AddToCart => (BIT_CART, 3.0),
            Action::Purchase => (BIT_PURCHASE, 5.0),
            _ => return,
        };
        self.trend(&b.product, w, ts);
        self.touch_user(&b.user);
        self.remember(&b.user, &b.product, id_hash(&b.product), bit, true);
    }

    /// Applies a new order (first `created`/`paid` of its id).
    pub fn on_new_order(&mut self, ts: i64, o: &Order) {
        let mut prods: Vec<(&Id, u64)> = Vec::new();
        for l in &o.lines {
            if l.quantity > 0 && prods.len() < ORDER_LINES_PAIRED {
                let h = id_hash(&l.product);
                if !prods.iter().any(|p| p.1 == h && *p.0 == l.product) {
                    prods.push((&l.product, h));
                }
            }
        }
        for (i, &a) in prods.iter().enumerate() {
            self.trend(a.0, 5.0, ts);
            for &b in &prods[i + 1..] {
                pair(
                    &mut self.items,
                    &mut self.seq,
                    &mut self.top_pairs,
                    a,
                    b,
                    ORDER_PAIR_WEIGHT,
                );
            }
        }
        if let Some(user) = &o.user {
            self.touch_user(user);
            for &(p, h) in &prods {
                self.remember(user, p, h, BIT_PURCHASE, false);
            }
        }
    }

    /// Trending products in stock, best first, at most `n`.
    fn trending_top(&self, now: i64, inv: &InventoryOp, n: usize) -> Vec<(Id, f64)> {
        let decay = (-((now - self.landmark) as f64) / HALF_LIFE_MS as f64).exp2();
        let mut all: Vec<(Id, f64)> = self
            .trending
            .iter()
            .filter(|(id, _)| !inv.is_out_of_stock(id))
            .map(|(id, &s)| (id.clone(), s * decay))
            .collect();
        if all.len() > n {
            all.select_nth_unstable_by(n, cmp_scored);
            all.truncate(n);
        }
        sort_scored(&mut all);
        all
    }

    /// Suggestions for one user.
    pub fn recommend_for(&self, user: &Id, now: i64, inv: &InventoryOp, _cfg: &Config) -> UserRecs {
        let trend = self.trending_top(now, inv, TRENDING_SHOWN + USER_ITEMS + RECS_PER_USER);
        self.recommend(user, &trend, inv)
    }

    fn recommend(&self, user: &Id, trend: &[(Id, f64)], inv: &InventoryOp) -> UserRecs {
        let mut out = UserRecs {
            user: user.clone(),
            products: Vec::new(),
            reasons: Vec::new(),
        };
        let items: &[Recent] = self.users.get(user).map_or(&[], |u| &u.items);
        let own = |id: &Id| items.iter().any(|r| r.id == *id);
        let add = |out: &mut UserRecs, id: &Id, reason: String| {
            if out.products.len() < RECS_PER_USER
                && !out.products.contains(id)
                && !inv.is_out_of_stock(id)
            {
                out.products.push(id.clone());
                out.reasons.push(reason);
            }
        };
        // 1. Co-occurring with the user's recent items.
        let mut cands: Vec<(Id, f64, f64, usize)> = Vec::new();
        let mut index: FastMap<Id, usize> = FastMap::default();
        for (rank, r) in items.iter().rev().enumerate() {
            let w = 1.0 / (1.0 + rank as f64);
            let Some(adj) = self.items.get(&r.id) else {
                continue;
            };
            for p in &adj.partners {
                if own(&p.id) || inv.is_out_of_stock(&p.id) {
                    continue;
                }
                let contrib = p.count as f64 * w;
                let src = items.len() - 1 - rank;
                if let Some(&i) = index.get(&p.id) {
                    let c = &mut cands[i];
                    c.1 += contrib;
                    if contrib > c.2 {
                        c.2 = contrib;
                        c.3 = src;
                    }
                } else {
                    index.insert(p.id.clone(), cands.len());
                    cands.push((p.id.clone(), contrib, contrib, src));
                }
            }
        }
        cands.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (id, _, _, src) in cands.iter().take(RECS_PER_USER) {
            let r = &items[*src];
            let reason = if r.mask & BIT_PURCHASE != 0 {
                format!("bought with {}", r.id)
            } else {
                format!("viewed with {}", r.id)
            };
            add(&mut out, id, reason);
        }
        // 2. Trending.
        for (id, _) in trend {
            if !own(id) {
                add(&mut out, id, "trending".to_owned());
            }
        }
        // 3. Buy again: the user's own recent items.
        for (bit, reason) in [
            (BIT_PURCHASE, "you purchased"),
            (BIT_CART, "in your cart"),
            (BIT_BROWSE, "you viewed"),
        ] {
            for r in items.iter().rev() {
                if r.mask & bit != 0 {
                    add(&mut out, &r.id, reason.to_owned());
                }
            }
        }
        out
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("recs.users", self.users.len()),
            ("recs.users_queue", self.users.queue_len()),
            (
                "recs.max_user_items",
                self.users
                    .iter()
                    .map(|(_, _, u)| u.items.len())
                    .max()
                    .unwrap_or(0),
            ),
            ("recs.items", self.items.len()),
            ("recs.items_queue", self.items.queue_len()),
            (
                "recs.max_partners",
                self.items
                    .iter()
                    .map(|(_, _, a)| a.partners.len())
                    .max()
                    .unwrap_or(0),
            ),
            ("recs.trending", self.trending.len()),
            ("recs.top_pairs", self.top_pairs.len()),
            ("recs.recent_users", self.recent_users.len()),
        ]
    }

    /// The recommendations view as of `now`.
    pub fn view(&self, now: i64, inv: &InventoryOp, _cfg: &Config) -> RecsView {
        let trend = self.trending_top(now, inv, TRENDING_SHOWN + USER_ITEMS + RECS_PER_USER);
        let mut pairs = self.top_pairs.clone();
        pairs.sort_by(|a, b| {
            b.2.cmp(&a.2)
                .then_with(|| a.0.cmp(&b.0))
                .then_with(|| a.1.cmp(&b.1))
        });
        pairs.truncate(10);
        RecsView {
            trending: trend
                .iter()
                .take(TRENDING_SHOWN)
                .map(|(id, s)| Scored {
                    product: id.clone(),
                    score: *s,
                })
                .collect(),
            co_purchase: pairs,
            for_users: self
                .recent_users
                .iter()
                .map(|u| self.recommend(u, &trend, inv))
                .collect(),
        }
    }
}

fn cmp_scored(a: &(Id, f64), b: &(Id, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

fn sort_scored(v: &mut [(Id, f64)]) {
    v.sort_by(cmp_scored);
}
