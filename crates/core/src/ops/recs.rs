//! Recommendations operator: item-to-item co-occurrence, decayed trending
//! and per-user suggestions.
//!
//! ## Design
//! - **Product registry**: one bounded map keyed by the product's stable
//!   64-bit hash holds its id, its trending score and its strongest
//!   co-occurring partners, so an event costs one product lookup.
//! - **Recent items per user**: the last [`USER_ITEMS`] distinct products a
//!   user browsed, carted or purchased (or ordered), as 16-byte records
//!   (product hash, the user's interaction clock when last touched, actions
//!   done); the least recently touched is replaced when full.
//! - **Co-occurrence**: when a user touches a product *new* to their list, it
//!   is paired (weight 1) with the items they touched in their last
//!   [`CO_WINDOW`] interactions; the products of a new order are paired with
//!   each other (weight [`ORDER_PAIR_WEIGHT`], first [`ORDER_LINES_PAIRED`]
//!   distinct products). Each product keeps its strongest [`PARTNERS`]
//!   partners with weighted Space-Saving (a new partner replaces the weakest
//!   and inherits its count, so counts are upper bounds). The strongest
//!   pairs overall are tracked incrementally (counts only grow); a pair's
//!   count is the smaller of its two sides.
//! - **Trending**: exponentially decayed score (half-life [`HALF_LIFE_MS`],
//!   10 min of event time): browse 1, add to cart 3, purchase 5, each product
//!   of a new order 5. Forward decay: a contribution at `ts` adds
//!   `w·2^((ts - landmark)/half_life)`; the landmark moves (one O(n) rescale)
//!   every 256 half-lives. Scores are shown decayed to "now". Since stored
//!   scores only grow, the [`TRENDING_KEPT`] best are maintained exactly
//!   with one comparison per event (against the list's floor), and the view
//!   reads only those. A product in the list is found from the position it
//!   had there last (a checked hint in its registry entry), not searched.
//! - **Suggestions for a user** (at most [`RECS_PER_USER`]): products
//!   co-occurring with the user's recent items, scored
//!   `Σ recency_weight · c · c/(c+2) / sqrt(uses(r) · uses(p))` with `c` the
//!   guaranteed (lower-bound) co-occurrence count: cosine-style, so
//!   best-sellers do not crowd out specific associations, shrunk so one-off
//!   pairs rank low; recency weight 1/(1 + rank); items already in their
//!   list excluded. Each suggestion names the item that contributed most as
//!   its reason; then trending products, then the
//!   item that contributed most as its reason; then trending products, then the
//!   user's own recent items as "buy again" (purchased, then in cart, then
//!   viewed). Never a product the inventory says is out of stock (q <= 0).
//!   The seed (user 1 browses 101, carts 102, purchases 103) gives user 1
//!   `[103, 102, 101]`: "you purchased", "in your cart", "you viewed".
//!
//! ## Bounds
//! [`MAX_USERS`] users (least recently active evicted) x [`USER_ITEMS`]
//! items; [`MAX_PRODUCTS`] products in the registry (least recently touched
//! evicted; a user's item or a partner whose product was evicted is skipped)
//! x [`PARTNERS`] partners; [`TOP_PAIRS_KEPT`] strongest pairs;
//! [`TRENDING_KEPT`] trending scores; the last [`USER_TOUCHES`] user touches
//! (the view shows the [`RECENT_USERS`] most recent distinct users among
//! them).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Action, Behavior, Order};
use crate::id::Id;
use crate::ops::common::{id_hash, FastMap, Lru, Tags};
use crate::ops::inventory::InventoryOp;
use crate::time::MINUTE_MS;
use crate::view::{RecsView, Scored, UserRecs};

/// Users with a recent-items list.
pub const MAX_USERS: usize = 20_000;
/// Distinct recent items per user.
pub const USER_ITEMS: usize = 20;
/// A new item is paired with the items touched in this many latest interactions.
pub const CO_WINDOW: u32 = 3;
/// Products in the registry (trending score and partners).
pub const MAX_PRODUCTS: usize = 20_000;
/// Partners kept per product.
pub const PARTNERS: usize = 16;
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
/// Latest user touches kept (deduplicated on view into the
/// [`RECENT_USERS`] most recent distinct users).
pub const USER_TOUCHES: usize = 256;
/// Suggestions per user.
pub const RECS_PER_USER: usize = 5;
/// Trending products shown.
pub const TRENDING_SHOWN: usize = 10;
/// Highest trending scores tracked (the view filters out-of-stock ones from
/// these). Forward-decayed scores only grow, so the list is the exact top.
pub const TRENDING_KEPT: usize = 64;

const BIT_BROWSE: u8 = 1;
const BIT_CART: u8 = 2;
const BIT_PURCHASE: u8 = 4;
const RESCALE_HALF_LIVES: f64 = 256.0;
/// Shrinkage of small co-occurrence counts in suggestions.
const SHRINK: f64 = 2.0;

/// One recent item of a user (JSON: `[h, last, mask]`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(into = "(u64, u32, u8)", from = "(u64, u32, u8)")]
struct Recent {
    h: u64,
    last: u32,
    mask: u8,
}

impl From<Recent> for (u64, u32, u8) {
    fn from(r: Recent) -> Self {
        (r.h, r.last, r.mask)
    }
}

impl From<(u64, u32, u8)> for Recent {
    fn from((h, last, mask): (u64, u32, u8)) -> Self {
        Recent { h, last, mask }
    }
}

/// A user's recent items, inline (no separate allocation), unordered;
/// recency is `last` (no shifting on touch). Stored as parallel arrays so
/// the per-event search reads only the product hashes (160 bytes) rather
/// than whole records. JSON: `[clock, [items...]]`, items `[h, last, mask]`
/// in slot order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "(u32, Vec<Recent>)", from = "(u32, Vec<Recent>)")]
struct UserItems {
    clock: u32,
    len: u8,
    /// The tags of `hs`, for the per-event search.
    tags: Tags<3>,
    hs: [u64; USER_ITEMS],
    last: [u32; USER_ITEMS],
    mask: [u8; USER_ITEMS],
}

impl Default for UserItems {
    fn default() -> Self {
        UserItems {
            clock: 0,
            len: 0,
            tags: Tags::default(),
            hs: [0; USER_ITEMS],
            last: [0; USER_ITEMS],
            mask: [0; USER_ITEMS],
        }
    }
}

impl From<UserItems> for (u32, Vec<Recent>) {
    fn from(u: UserItems) -> Self {
        (u.clock, u.items().collect())
    }
}

impl From<(u32, Vec<Recent>)> for UserItems {
    fn from((clock, v): (u32, Vec<Recent>)) -> Self {
        let mut u = UserItems {
            clock,
            ..UserItems::default()
        };
        for r in v.into_iter().take(USER_ITEMS) {
            u.set(usize::from(u.len), r);
            u.len += 1;
        }
        u
    }
}

impl UserItems {
    fn set(&mut self, i: usize, r: Recent) {
        self.tags.set(i, r.h);
        self.hs[i] = r.h;
        self.last[i] = r.last;
        self.mask[i] = r.mask;
    }

    /// Items in slot order.
    fn items(&self) -> impl Iterator<Item = Recent> + '_ {
        (0..usize::from(self.len)).map(|i| Recent {
            h: self.hs[i],
            last: self.last[i],
            mask: self.mask[i],
        })
    }

    /// Notes an interaction with product `h` (action bit `bit`). When `h` is
    /// new to the list and `co` is set, writes the items touched in the
    /// last [`CO_WINDOW`] interactions to `partners` and returns how many;
    /// a full list replaces its least recent item.
    fn note(&mut self, h: u64, bit: u8, co: bool, partners: &mut [u64; USER_ITEMS]) -> usize {
        self.clock = self.clock.wrapping_add(1);
        let clock = self.clock;
        let len = usize::from(self.len);
        if let Some(i) = self.tags.find(&self.hs, len, h) {
            self.mask[i] |= bit;
            self.last[i] = clock;
            return 0;
        }
        let mut n = 0;
        if co {
            // Branch-free (which items are recent is data, not a pattern
            // the branch predictor learns): every item is written at `n`,
            // and `n` moves on only past the recent ones (`n <= i`, so the
            // write stays in bounds).
            for (&hx, &last) in self.hs[..len].iter().zip(&self.last[..len]) {
                partners[n] = hx;
                n += usize::from(clock.wrapping_sub(last) <= CO_WINDOW);
            }
        }
        let item = Recent {
            h,
            last: clock,
            mask: bit,
        };
        if len >= USER_ITEMS {
            // The least recent slot (the last of equals, as `max_by_key`):
            // the greatest age first (a reduction, with no index carried
            // through the loop), then where it is.
            let age = |l: &u32| clock.wrapping_sub(*l);
            let oldest_age = self.last.iter().map(age).max().unwrap_or(0);
            let oldest = self
                .last
                .iter()
                .rposition(|l| age(l) == oldest_age)
                .unwrap_or(0);
            self.set(oldest, item);
        } else {
            self.set(len, item);
            self.len += 1;
        }
        n
    }

    /// Items most recent first.
    fn by_recency(&self) -> Vec<Recent> {
        let mut v: Vec<Recent> = self.items().collect();
        crate::sort::sort_by(&mut v, |a, b| {
            self.clock
                .wrapping_sub(a.last)
                .cmp(&self.clock.wrapping_sub(b.last))
        });
        v
    }
}

/// `2^(dt_ms / HALF_LIFE_MS)`: the forward-decay weight of an event
/// `dt_ms` after the landmark (negative for events before it). Computed as
/// a power of two for the whole half-lives times two table entries for the
/// rest (1,024-ms steps and single milliseconds, 12.9 KB built once), so an
/// event costs two loads and two multiplications instead of an `exp2`
/// (which was 40 % of [`RecsOp::trend`]). Within 3 ulp of
/// `2^whole · exp2(rest / HALF_LIFE_MS)` (tested).
fn decay_weight(dt_ms: i64) -> f64 {
    const STEP: i64 = 1024;
    const COARSE: i64 = HALF_LIFE_MS / STEP + 1;
    static TABLES: std::sync::OnceLock<(Vec<f64>, Vec<f64>)> = std::sync::OnceLock::new();
    let (coarse, fine) = TABLES.get_or_init(|| {
        let exp = |ms: i64| (ms as f64 / HALF_LIFE_MS as f64).exp2();
        (
            (0..COARSE).map(|i| exp(i * STEP)).collect(),
            (0..STEP).map(exp).collect(),
        )
    });
    let halves = dt_ms.div_euclid(HALF_LIFE_MS);
    let rest = dt_ms.rem_euclid(HALF_LIFE_MS);
    // 2^halves, exactly, from the exponent bits (0 below 2^-1022, far
    // beyond any score that still counts).
    let Ok(biased) = u64::try_from(halves.saturating_add(1023)) else {
        return 0.0;
    };
    if biased == 0 {
        return 0.0;
    }
    let whole = f64::from_bits(biased.min(2046) << 52);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // reason: 0 <= rest < HALF_LIFE_MS
    let (hi, lo) = ((rest / STEP) as usize, (rest % STEP) as usize);
    whole * coarse[hi] * fine[lo]
}

/// A co-occurring partner (JSON: `[h, count, error]`): `count` is an upper
/// bound, `count - error` a lower bound of the true co-occurrence weight.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(into = "(u64, u64, u64)", from = "(u64, u64, u64)")]
struct Partner {
    h: u64,
    count: u64,
    err: u64,
}

impl From<Partner> for (u64, u64, u64) {
    fn from(p: Partner) -> Self {
        (p.h, p.count, p.err)
    }
}

impl From<(u64, u64, u64)> for Partner {
    fn from((h, count, err): (u64, u64, u64)) -> Self {
        Partner { h, count, err }
    }
}

/// A product in the registry, partners inline as parallel arrays (the
/// per-pair search reads only the partner hashes, 128 bytes). JSON:
/// `[id, score, uses, partners]`, partners `[h, count, error]` in slot order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    into = "(Id, f64, u64, Vec<Partner>)",
    from = "(Id, f64, u64, Vec<Partner>)"
)]
struct Prod {
    id: Id,
    /// Forward-decayed trending score (relative to the landmark).
    score: f64,
    /// Interactions counted (browse, cart, purchase, order line): the
    /// popularity that normalizes co-occurrence.
    uses: u64,
    n: u8,
    /// The tags of `ph`, for the per-pair search.
    tags: Tags<2>,
    /// Partner hashes, counts and errors (first `n` slots used).
    ph: [u64; PARTNERS],
    /// Counts and errors in 32 bits (saturating; a pair gains at most 2
    /// per event, so 2^32 is hours of a whole feed on one pair): the
    /// record is 128 bytes (two cache lines) smaller.
    pc: [u32; PARTNERS],
    pe: [u32; PARTNERS],
    /// The first slot with the smallest count (0 when none): the one a new
    /// partner replaces, kept up to date so a full list is not scanned for
    /// every new partner (derived, rebuilt when read back).
    weak: u8,
    /// Where this product last sat in `RecsOp::top_trend`: a hint only,
    /// checked before use (entries move; not serialized), so a product
    /// in the list is found without searching it.
    top_hint: u8,
}

/// The first slot with the smallest count in `counts`, 0 for none.
fn first_weakest(counts: &[u32]) -> usize {
    let mut mi = 0;
    for (i, &c) in counts.iter().enumerate().skip(1) {
        if c < counts[mi] {
            mi = i;
        }
    }
    mi
}

impl Prod {
    fn new(id: Id) -> Prod {
        Prod {
            id,
            score: 0.0,
            uses: 0,
            n: 0,
            tags: Tags::default(),
            ph: [0; PARTNERS],
            pc: [0; PARTNERS],
            pe: [0; PARTNERS],
            weak: 0,
            top_hint: 0,
        }
    }

    /// Slot `i`, the first weakest at count `old`, has been bumped: the
    /// first weakest is now the next slot after it still at `old` (the
    /// slots before it all count more), else is found anew.
    #[allow(clippy::cast_possible_truncation)] // reason: a slot index < PARTNERS
    fn reweak(&mut self, i: usize, old: u32) {
        let n = usize::from(self.n);
        if self.pc[i] == old {
            return;
        }
        let next = self.pc[i + 1..n].iter().position(|&c| c == old);
        self.weak = next.map_or_else(|| first_weakest(&self.pc[..n]), |j| i + 1 + j) as u8;
    }

    /// Partners in slot order.
    fn partners(&self) -> impl Iterator<Item = Partner> + '_ {
        (0..usize::from(self.n)).map(|i| Partner {
            h: self.ph[i],
            count: u64::from(self.pc[i]),
            err: u64::from(self.pe[i]),
        })
    }
}

impl From<Prod> for (Id, f64, u64, Vec<Partner>) {
    fn from(p: Prod) -> Self {
        let partners = p.partners().collect();
        (p.id, p.score, p.uses, partners)
    }
}

impl From<(Id, f64, u64, Vec<Partner>)> for Prod {
    fn from((id, score, uses, v): (Id, f64, u64, Vec<Partner>)) -> Self {
        let mut p = Prod::new(id);
        p.score = score;
        p.uses = uses;
        for x in v.into_iter().take(PARTNERS) {
            let i = usize::from(p.n);
            p.ph[i] = x.h;
            p.tags.set(i, x.h);
            p.pc[i] = u32::try_from(x.count).unwrap_or(u32::MAX);
            p.pe[i] = u32::try_from(x.err).unwrap_or(u32::MAX);
            p.n += 1;
        }
        #[allow(clippy::cast_possible_truncation)] // reason: a slot index < PARTNERS
        {
            p.weak = first_weakest(&p.pc[..usize::from(p.n)]) as u8;
        }
        p
    }
}

/// Recommendation state. Bounds: see the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecsOp {
    /// Keyed by the user's stable hash.
    users: Lru<u64, UserItems>,
    /// Keyed by the product's stable hash.
    products: Lru<u64, Prod>,
    seq: u64,
    landmark: i64,
    top_pairs: Vec<(Id, Id, u64)>,
    /// The lowest count in a full `top_pairs` (0 while not full), so a
    /// pair that cannot enter is told with one comparison. Derived: not
    /// serialized (0 when read back, a lower bound, which only costs a
    /// call of `note_pair` until the next one sets it).
    #[serde(skip)]
    top_pairs_low: u64,
    /// The [`TRENDING_KEPT`] highest scores: `(product hash, score)`.
    top_trend: Vec<(u64, f64)>,
    /// Lowest score in a full `top_trend` (0 while not full).
    trend_floor: f64,
    recent_users: VecDeque<Id>,
}

/// Adds `w` to `prod`'s partner `hb`; returns the new count. A new
/// partner takes a free slot, else replaces the first weakest and inherits
/// its count as its error.
fn bump(prod: &mut Prod, hb: u64, w: u64) -> u64 {
    let w = u32::try_from(w).unwrap_or(u32::MAX);
    let n = usize::from(prod.n);
    if let Some(i) = prod.tags.find(&prod.ph, n, hb) {
        let old = prod.pc[i];
        prod.pc[i] = old.saturating_add(w);
        if i == usize::from(prod.weak) {
            prod.reweak(i, old);
        }
        return u64::from(prod.pc[i]);
    }
    if n < PARTNERS {
        prod.ph[n] = hb;
        prod.tags.set(n, hb);
        prod.pc[n] = w;
        prod.pe[n] = 0;
        prod.n += 1;
        if n == 0 || w < prod.pc[usize::from(prod.weak)] {
            #[allow(clippy::cast_possible_truncation)] // reason: n < PARTNERS
            {
                prod.weak = n as u8;
            }
        }
        return u64::from(w);
    }
    let mi = usize::from(prod.weak);
    let old = prod.pc[mi];
    prod.ph[mi] = hb;
    prod.tags.set(mi, hb);
    prod.pe[mi] = old;
    prod.pc[mi] = old.saturating_add(w);
    prod.reweak(mi, old);
    u64::from(prod.pc[mi])
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

/// Keeps `top` the exact top [`TRENDING_KEPT`] after product `h`'s score
/// grew to `score` (scores only grow, so a product at or below the
/// `floor` of a full list cannot be in it); `hint` is where `h` may sit
/// (checked). Returns where `h` now sits, `None` when it is not in `top`.
fn note_trend(
    top: &mut Vec<(u64, f64)>,
    floor: &mut f64,
    h: u64,
    score: f64,
    hint: usize,
) -> Option<usize> {
    let full = top.len() == TRENDING_KEPT;
    if full && score <= *floor {
        return None;
    }
    let at = if top.get(hint).is_some_and(|t| t.0 == h) {
        Some(hint)
    } else {
        top.iter().position(|t| t.0 == h)
    };
    // Scores only grow: the floor moves only when the lowest entry grows or
    // is replaced, or when the list fills.
    let (at, floor_moves) = if let Some(i) = at {
        let was_floor = top[i].1 <= *floor;
        top[i].1 = score;
        (i, was_floor)
    } else if full {
        let mut mi = 0;
        for (i, t) in top.iter().enumerate() {
            if t.1 < top[mi].1 {
                mi = i;
            }
        }
        top[mi] = (h, score);
        (mi, true)
    } else {
        top.push((h, score));
        (top.len() - 1, true)
    };
    if floor_moves && top.len() == TRENDING_KEPT {
        *floor = top.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    }
    Some(at)
}

impl RecsOp {
    /// Adds a trending contribution (creating the registry entry); returns
    /// nothing, the product is then present in the registry.
    fn trend(&mut self, id: &Id, h: u64, w: f64, ts: i64) {
        if self.products.is_empty() {
            self.landmark = ts;
        }
        let x = ts.saturating_sub(self.landmark) as f64 / HALF_LIFE_MS as f64;
        if x > RESCALE_HALF_LIVES {
            let f = (-x).exp2();
            for p in self.products.values_mut() {
                p.score *= f;
            }
            for t in &mut self.top_trend {
                t.1 *= f;
            }
            self.trend_floor *= f;
            self.landmark = ts;
        }
        self.seq += 1;
        let (p, _) = self.products.touch(&h, self.seq, || Prod::new(id.clone()));
        p.score += w * decay_weight(ts.saturating_sub(self.landmark));
        p.uses += 1;
        let score = p.score;
        if let Some(at) = note_trend(
            &mut self.top_trend,
            &mut self.trend_floor,
            h,
            score,
            usize::from(p.top_hint),
        ) {
            #[allow(clippy::cast_possible_truncation)] // reason: a position < TRENDING_KEPT
            {
                p.top_hint = at as u8;
            }
        }
        while self.products.len() > MAX_PRODUCTS {
            if let Some((gone, _)) = self.products.pop_oldest() {
                self.top_trend.retain(|t| t.0 != gone);
                if self.top_trend.len() < TRENDING_KEPT {
                    self.trend_floor = 0.0;
                }
            }
        }
    }

    /// Pairs two registry products (both sides must still be registered).
    fn pair(&mut self, ha: u64, hb: u64, w: u64) {
        if ha == hb {
            return;
        }
        self.seq += 1;
        let Some(a) = self.products.touch_existing(&ha, self.seq) else {
            return;
        };
        let ca = bump(a, hb, w);
        let Some(b) = self.products.touch_existing(&hb, self.seq) else {
            return;
        };
        let cb = bump(b, ha, w);
        let c = ca.min(cb);
        if c > self.top_pairs_low || self.top_pairs.len() < TOP_PAIRS_KEPT {
            let b_id = b.id.clone();
            if let Some(a) = self.products.get(&ha) {
                let a_id = a.id.clone();
                note_pair(&mut self.top_pairs, &a_id, &b_id, c);
                self.top_pairs_low = if self.top_pairs.len() < TOP_PAIRS_KEPT {
                    0
                } else {
                    self.top_pairs.iter().map(|e| e.2).min().unwrap_or(0)
                };
            }
        }
    }

    /// O(1): appends to a ring of the latest touches (newest first).
    fn touch_user(&mut self, user: &Id) {
        if self.recent_users.front() == Some(user) {
            return;
        }
        if self.recent_users.len() >= USER_TOUCHES {
            self.recent_users.pop_back();
        }
        self.recent_users.push_front(user.clone());
    }

    /// The most recently active distinct users, newest first.
    fn recent_distinct(&self) -> Vec<&Id> {
        let mut out: Vec<&Id> = Vec::with_capacity(RECENT_USERS);
        for u in &self.recent_users {
            if !out.contains(&u) {
                out.push(u);
                if out.len() == RECENT_USERS {
                    break;
                }
            }
        }
        out
    }

    /// Adds product `h` to `user`'s recent items; pairs it with the items the
    /// user touched in their last [`CO_WINDOW`] interactions when it is new
    /// to the list and `co` is set.
    fn remember(&mut self, user: &Id, h: u64, bit: u8, co: bool) {
        self.seq += 1;
        let (u, _) = self
            .users
            .touch(&id_hash(user), self.seq, UserItems::default);
        let mut partners = [0u64; USER_ITEMS];
        let n = u.note(h, bit, co, &mut partners);
        while self.users.len() > MAX_USERS {
            self.users.pop_oldest();
        }
        for &hb in &partners[..n] {
            self.pair(h, hb, 1);
        }
    }

    /// Reads, without changing anything, the registry entry of `b`'s product
    /// and `b`'s user's recent items (the lines [`RecsOp::on_behavior`] will
    /// touch), for [`crate::Engine::apply_batch`]; the returned value only
    /// keeps the reads alive.
    pub fn warm(&self, b: &Behavior) -> u64 {
        if !matches!(
            b.action,
            Action::Browse | Action::AddToCart | Action::Purchase
        ) {
            return 0;
        }
        let acc = self
            .products
            .get(&id_hash(&b.product))
            .map_or(0, |p| p.uses ^ p.ph[0] ^ p.ph[8] ^ u64::from(p.pc[0]));
        acc ^ self.warm_user(&b.user)
    }

    /// Reads `user`'s recent items, or, for a user not held while the map
    /// is full, the entry an insert would evict.
    fn warm_user(&self, user: &Id) -> u64 {
        let read = |u: &UserItems| u.hs[0] ^ u.hs[8] ^ u.hs[16] ^ u64::from(u.last[0] ^ u.last[16]);
        match self.users.get(&id_hash(user)) {
            Some(u) => read(u),
            None if self.users.len() >= MAX_USERS => self.users.peek_oldest().map_or(0, read),
            None => 0,
        }
    }

    /// Reads the entries a new order `o` will touch (its products, its
    /// user), for [`crate::Engine::apply_batch`].
    pub fn warm_order(&self, o: &Order) -> u64 {
        let mut acc = 0;
        for l in o.lines.iter().take(ORDER_LINES_PAIRED) {
            acc ^= self
                .products
                .get(&id_hash(&l.product))
                .map_or(0, |p| p.uses ^ p.ph[8]);
        }
        if let Some(u) = &o.user {
            acc ^= self.warm_user(u);
        }
        acc
    }

    /// The second level of [`RecsOp::warm`]: the registry entries of the
    /// items `b`'s user touched last (the partners a new item is paired
    /// with). Call after `warm`, when the user's items are in the cache.
    pub fn warm_partners(&self, b: &Behavior) -> u64 {
        if !matches!(
            b.action,
            Action::Browse | Action::AddToCart | Action::Purchase
        ) {
            return 0;
        }
        let Some(u) = self.users.get(&id_hash(&b.user)) else {
            return 0;
        };
        let mut acc = 0;
        let len = usize::from(u.len);
        for (&h, &last) in u.hs[..len].iter().zip(&u.last[..len]) {
            if u.clock.wrapping_sub(last) < CO_WINDOW {
                acc ^= self
                    .products
                    .get(&h)
                    .map_or(0, |p| p.ph[0] ^ p.ph[8] ^ u64::from(p.pc[0]));
            }
        }
        acc
    }

    /// Applies a behaviour event.
    pub fn on_behavior(&mut self, ts: i64, b: &Behavior) {
        let (bit, w) = match b.action {
            Action::Browse => (BIT_BROWSE, 1.0),
            Action::AddToCart => (BIT_CART, 3.0),
            Action::Purchase => (BIT_PURCHASE, 5.0),
            _ => return,
        };
        let h = id_hash(&b.product);
        self.trend(&b.product, h, w, ts);
        self.touch_user(&b.user);
        self.remember(&b.user, h, bit, true);
    }

    /// Applies a new order (first `created`/`paid` of its id).
    pub fn on_new_order(&mut self, ts: i64, o: &Order) {
        let mut prods: Vec<u64> = Vec::new();
        for l in &o.lines {
            if l.quantity > 0 && prods.len() < ORDER_LINES_PAIRED {
                let h = id_hash(&l.product);
                if !prods.contains(&h) {
                    self.trend(&l.product, h, 5.0, ts);
                    prods.push(h);
                }
            }
        }
        for (i, &a) in prods.iter().enumerate() {
            for &b in &prods[i + 1..] {
                self.pair(a, b, ORDER_PAIR_WEIGHT);
            }
        }
        if let Some(user) = &o.user {
            self.touch_user(user);
            for &h in &prods {
                self.remember(user, h, BIT_PURCHASE, false);
            }
        }
    }

    fn id_of(&self, h: u64) -> Option<&Id> {
        self.products.get(&h).map(|p| &p.id)
    }

    /// Trending products in stock, best first, at most `n`.
    fn trending_top(&self, now: i64, inv: &InventoryOp, n: usize) -> Vec<(Id, f64)> {
        let decay = (-(now.saturating_sub(self.landmark) as f64) / HALF_LIFE_MS as f64).exp2();
        let mut all: Vec<(&Id, f64)> = self
            .top_trend
            .iter()
            .filter_map(|&(h, s)| Some((self.id_of(h)?, s)))
            .filter(|(id, s)| *s > 0.0 && !inv.is_out_of_stock(id))
            .collect();
        let cmp = |a: &(&Id, f64), b: &(&Id, f64)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0));
        if all.len() > n {
            all.select_nth_unstable_by(n, cmp);
            all.truncate(n);
        }
        crate::sort::sort_by(&mut all, cmp);
        all.into_iter()
            .map(|(id, s)| (id.clone(), s * decay))
            .collect()
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
        let items: Vec<Recent> = self
            .users
            .get(&id_hash(user))
            .map_or_else(Vec::new, UserItems::by_recency);
        let own = |h: u64| items.iter().any(|r| r.h == h);
        let add = |out: &mut UserRecs, id: &Id, reason: String| {
            if out.products.len() < RECS_PER_USER
                && !out.products.contains(id)
                && !inv.is_out_of_stock(id)
            {
                out.products.push(id.clone());
                out.reasons.push(reason);
            }
        };
        // 1. Co-occurring with the user's recent items (most recent weigh most).
        let mut cands: Vec<(&Id, f64, f64, usize)> = Vec::new();
        let mut index: FastMap<u64, usize> = FastMap::default();
        for (rank, r) in items.iter().enumerate() {
            let w = 1.0 / (1.0 + rank as f64);
            let Some(prod) = self.products.get(&r.h) else {
                continue;
            };
            let uses_r = prod.uses.max(1) as f64;
            for p in prod.partners() {
                if own(p.h) {
                    continue;
                }
                let Some(partner) = self.products.get(&p.h) else {
                    continue;
                };
                let pid = &partner.id;
                if inv.is_out_of_stock(pid) {
                    continue;
                }
                // Cosine-style: co-occurrence over the geometric mean of
                // the two popularities, so a best-seller does not crowd out
                // specific associations.
                // The guaranteed part of the count, shrunk towards 0 when
                // small (c / (c + 2)) so one-off co-occurrences rank low.
                let c = (p.count - p.err) as f64;
                if c <= 0.0 {
                    continue;
                }
                let contrib =
                    w * c * c / ((c + SHRINK) * (uses_r * partner.uses.max(1) as f64).sqrt());
                if let Some(&i) = index.get(&p.h) {
                    let c = &mut cands[i];
                    c.1 += contrib;
                    if contrib > c.2 {
                        c.2 = contrib;
                        c.3 = rank;
                    }
                } else {
                    index.insert(p.h, cands.len());
                    cands.push((pid, contrib, contrib, rank));
                }
            }
        }
        crate::sort::sort_by(&mut cands, |a, b| {
            b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0))
        });
        for &(id, _, _, src) in cands.iter().take(RECS_PER_USER) {
            let r = items[src];
            let Some(src_id) = self.id_of(r.h) else {
                continue;
            };
            let reason = if r.mask & BIT_PURCHASE != 0 {
                format!("bought with {src_id}")
            } else {
                format!("viewed with {src_id}")
            };
            add(&mut out, id, reason);
        }
        // 2. Trending.
        for (id, _) in trend {
            if !own(id_hash(id)) {
                add(&mut out, id, "trending".to_owned());
            }
        }
        // 3. Buy again: the user's own recent items.
        for (bit, reason) in [
            (BIT_PURCHASE, "you purchased"),
            (BIT_CART, "in your cart"),
            (BIT_BROWSE, "you viewed"),
        ] {
            for r in &items {
                if r.mask & bit != 0 {
                    if let Some(id) = self.id_of(r.h) {
                        add(&mut out, id, reason.to_owned());
                    }
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
                    .map(|(_, _, u)| usize::from(u.len))
                    .max()
                    .unwrap_or(0),
            ),
            ("recs.products", self.products.len()),
            ("recs.products_queue", self.products.queue_len()),
            (
                "recs.max_partners",
                self.products
                    .iter()
                    .map(|(_, _, p)| usize::from(p.n))
                    .max()
                    .unwrap_or(0),
            ),
            ("recs.top_pairs", self.top_pairs.len()),
            ("recs.top_trend", self.top_trend.len()),
            ("recs.recent_users", self.recent_users.len()),
        ]
    }

    /// The recommendations view as of `now`.
    pub fn view(&self, now: i64, inv: &InventoryOp, _cfg: &Config) -> RecsView {
        let trend = self.trending_top(now, inv, TRENDING_SHOWN + USER_ITEMS + RECS_PER_USER);
        let mut pairs = self.top_pairs.clone();
        crate::sort::sort_by(&mut pairs, |a, b| {
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
                .recent_distinct()
                .into_iter()
                .map(|u| self.recommend(u, &trend, inv))
                .collect(),
        }
    }
}

/// Read-only queries for the dashboard's product drill-down.
impl RecsOp {
    /// Products most often seen with `product` (its kept partners, at most
    /// [`PARTNERS`]), strongest first then by id, at most `n`, never out of
    /// stock: `(product, count)`.
    pub fn partners_of(&self, product: &Id, inv: &InventoryOp, n: usize) -> Vec<(Id, u64)> {
        let Some(p) = self.products.get(&id_hash(product)) else {
            return Vec::new();
        };
        let mut out: Vec<(Id, u64)> = p
            .partners()
            .filter_map(|q| Some((self.id_of(q.h)?.clone(), q.count)))
            .filter(|(id, _)| !inv.is_out_of_stock(id))
            .collect();
        crate::sort::sort_by(&mut out, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(n);
        out
    }

    /// `product`'s trending score decayed to `now`, if it is in the registry.
    pub fn trend_score(&self, product: &Id, now: i64) -> Option<f64> {
        let p = self.products.get(&id_hash(product))?;
        let decay = (-(now.saturating_sub(self.landmark) as f64) / HALF_LIFE_MS as f64).exp2();
        Some(p.score * decay)
    }
}

#[cfg(test)]
mod layout_tests {
    //! The parallel-array `UserItems` and `Prod` against the record-array
    //! implementations they replaced (kept here verbatim as the reference).
    use super::*;
    use proptest::prelude::*;

    /// A product's `top_hint` is only a hint: one pointing at another
    /// product, or past the end of the list, is not trusted.
    #[test]
    fn a_stale_trending_hint_is_not_trusted() {
        let mut top = vec![(1, 5.0), (2, 6.0)];
        let mut floor = 0.0;
        assert_eq!(note_trend(&mut top, &mut floor, 2, 7.0, 0), Some(1));
        assert_eq!(top, vec![(1, 5.0), (2, 7.0)]);
        assert_eq!(note_trend(&mut top, &mut floor, 1, 8.0, 9), Some(0));
        assert_eq!(top, vec![(1, 8.0), (2, 7.0)]);
        assert_eq!(note_trend(&mut top, &mut floor, 3, 1.0, 1), Some(2));
        assert_eq!(top, vec![(1, 8.0), (2, 7.0), (3, 1.0)]);
    }

    /// The previous `UserItems`: an array of records.
    #[derive(Clone, Default)]
    struct RefUser {
        clock: u32,
        items: Vec<Recent>,
    }

    impl RefUser {
        fn note(&mut self, h: u64, bit: u8, co: bool) -> Vec<u64> {
            self.clock = self.clock.wrapping_add(1);
            let clock = self.clock;
            if let Some(r) = self.items.iter_mut().find(|r| r.h == h) {
                r.mask |= bit;
                r.last = clock;
                return Vec::new();
            }
            let partners = if co {
                self.items
                    .iter()
                    .filter(|r| clock.wrapping_sub(r.last) <= CO_WINDOW)
                    .map(|r| r.h)
                    .collect()
            } else {
                Vec::new()
            };
            let item = Recent {
                h,
                last: clock,
                mask: bit,
            };
            if self.items.len() >= USER_ITEMS {
                let oldest = self
                    .items
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, r)| clock.wrapping_sub(r.last))
                    .map_or(0, |(i, _)| i);
                self.items[oldest] = item;
            } else {
                self.items.push(item);
            }
            partners
        }
    }

    /// The previous `bump`, over an array of `(h, count, err)` records.
    fn ref_bump(adj: &mut Vec<(u64, u64, u64)>, hb: u64, w: u64) -> u64 {
        if let Some(p) = adj.iter_mut().find(|p| p.0 == hb) {
            p.1 += w;
            return p.1;
        }
        if adj.len() < PARTNERS {
            adj.push((hb, w, 0));
            return w;
        }
        let mut mi = 0;
        for (i, p) in adj.iter().enumerate() {
            if p.1 < adj[mi].1 {
                mi = i;
            }
        }
        let p = &mut adj[mi];
        p.0 = hb;
        p.2 = p.1;
        p.1 += w;
        p.1
    }

    fn rec(r: Recent) -> (u64, u32, u8) {
        r.into()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Same partners, same list, same JSON after every interaction
        /// (products from a small pool so lists fill, repeat and replace).
        #[test]
        fn user_items_match_the_record_array(
            start_clock in prop_oneof![Just(0u32), Just(u32::MAX - 30)],
            steps in prop::collection::vec((0u64..40, prop_oneof![Just(1u8), Just(2), Just(4)], any::<bool>()), 1..200),
        ) {
            let mut u = UserItems { clock: start_clock, ..UserItems::default() };
            let mut r = RefUser { clock: start_clock, items: Vec::new() };
            for (h, bit, co) in steps {
                let mut partners = [0u64; USER_ITEMS];
                let n = u.note(h, bit, co, &mut partners);
                prop_assert_eq!(&partners[..n], &r.note(h, bit, co)[..]);
                prop_assert_eq!(
                    u.items().map(rec).collect::<Vec<_>>(),
                    r.items.iter().copied().map(rec).collect::<Vec<_>>()
                );
            }
            let json = serde_json::to_string(&u).unwrap();
            let ref_items: Vec<(u64, u32, u8)> = r.items.iter().copied().map(rec).collect();
            prop_assert_eq!(&json, &serde_json::to_string(&(r.clock, ref_items)).unwrap());
            let back: UserItems = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }

        /// Same counts, errors and slots as the record-array Space-Saving.
        #[test]
        fn partners_match_the_record_array(
            steps in prop::collection::vec((0u64..48, 1u64..4), 1..300),
        ) {
            let mut p = Prod::new(Id::Num(1));
            let mut r: Vec<(u64, u64, u64)> = Vec::new();
            for (k, (hb, w)) in steps.into_iter().enumerate() {
                if k % 37 == 36 {
                    // Read back from JSON mid-way: the derived slot is rebuilt.
                    p = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
                }
                prop_assert_eq!(bump(&mut p, hb, w), ref_bump(&mut r, hb, w));
                prop_assert_eq!(
                    p.partners().map(|x| (x.h, x.count, x.err)).collect::<Vec<_>>(),
                    r.clone()
                );
            }
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&(Id::Num(1), 0.0, 0u64, r)).unwrap());
        }

        /// The table-driven weight is `2^whole · exp2(rest / half-life)`
        /// within 3 ulp, for events long before the landmark, just before
        /// or after it, and up to the rescale point. (Not `exp2(dt /
        /// half-life)` itself: rounding the quotient costs that up to 16 ulp
        /// a hundred half-lives away.)
        #[test]
        fn decay_weight_is_exp2(dt_ms in prop_oneof![
            -(100 * HALF_LIFE_MS)..0,
            -5_000i64..5_000,
            0..257 * HALF_LIFE_MS, // the rescale point (256) and one more
        ]) {
            let whole = i32::try_from(dt_ms.div_euclid(HALF_LIFE_MS)).unwrap();
            let rest = dt_ms.rem_euclid(HALF_LIFE_MS);
            let want = 2f64.powi(whole) * (rest as f64 / HALF_LIFE_MS as f64).exp2();
            let got = decay_weight(dt_ms);
            prop_assert!((got - want).abs() <= 3.0 * f64::EPSILON * want, "{dt_ms}: {got} vs {want}");
        }

        /// `top_trend` holds exactly the [`TRENDING_KEPT`] highest scores of
        /// the registry, and `trend_floor` the lowest of them once full, after
        /// every event (products from a pool larger than the list; time moving
        /// on, back, and across a rescale).
        #[test]
        fn top_trend_is_the_exact_top(
            steps in prop::collection::vec((0u64..150, 0usize..3, 0i64..400_000), 1..600),
        ) {
            let mut op = RecsOp::default();
            let mut ts = 0i64;
            for (i, (p, a, dt)) in steps.into_iter().enumerate() {
                // Mostly forward; every 50th step jumps past the rescale.
                ts += if i % 50 == 49 { 300 * HALF_LIFE_MS } else { dt - 100_000 };
                let b = Behavior {
                    user: Id::Num(1 + p % 7),
                    session: None,
                    action: [Action::Browse, Action::AddToCart, Action::Purchase][a].clone(),
                    product: Id::Num(p),
                    channel: None,
                    price_cents: None,
                };
                op.on_behavior(ts, &b);
                let mut all: Vec<f64> = op.products.iter().map(|(_, _, q)| q.score).collect();
                all.sort_by(|x, y| y.total_cmp(x));
                all.truncate(TRENDING_KEPT);
                let mut kept: Vec<f64> = op.top_trend.iter().map(|t| t.1).collect();
                kept.sort_by(|x, y| y.total_cmp(x));
                prop_assert_eq!(&kept, &all);
                for &(h, score) in &op.top_trend {
                    prop_assert_eq!(op.products.get(&h).map(|q| q.score), Some(score));
                }
                if kept.len() == TRENDING_KEPT {
                    prop_assert_eq!(op.trend_floor.to_bits(), kept[TRENDING_KEPT - 1].to_bits());
                }
            }
        }
    }
}
