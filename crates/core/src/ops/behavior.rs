//! Behaviour operator: the readable live log, windowed action counts, the
//! funnel, distinct active shoppers and the top products.
//!
//! ## Design
//! - **Log**: a newest-first ring of at most `Config::log_len` records. A
//!   record keeps the parts (time, user, product, action); the readable text
//!   ("User 1 is browsing product 101") is formatted only in [`BehaviorOp::view`].
//! - **Windows**: per-action counts in two rings of tumbling event-time
//!   buckets: 300 one-second buckets (the 1-minute and 5-minute windows are
//!   the last 60 / 300 seconds ending at "now", the newest event time) and
//!   60 one-minute buckets (the 1-hour window, the minutes `now_min - 59
//!   ..= now_min`, and the `per_minute` series). An event older than a ring
//!   is counted in `counts_total` only.
//! - **Shoppers** (the session when the event has one, else the user, as a
//!   stable 64-bit key): one map holds, per shopper, the funnel steps done
//!   (browse, add to cart, checkout, purchase) and whether it is counted as
//!   active; its stamp is the last time seen. Shoppers not seen for
//!   [`FUNNEL_HORIZON_MS`] (1 h of event time) leave it, and at most
//!   [`MAX_SHOPPERS`] are kept (least recently seen evicted). The four
//!   funnel counts are maintained incrementally (a step counts the shoppers
//!   that *did* it; the funnel is not forced to be monotone).
//! - **Active shoppers**: seen in the last `Config::active_window_ms`. An
//!   exact count is maintained on the same map with a second expiry queue
//!   (each activation queued once, re-queued if seen again before it
//!   expires). A ring of [`HLL_MINUTES`] per-minute `HyperLogLog` sketches
//!   (p = 12, ~1.6 % error) is always fed; the view shows the exact count
//!   while it is at most `Config::exact_distinct_limit` and the estimate
//!   above (window rounded out to whole minutes, at most 15). A new window
//!   length applies to activity after the change.
//! - **Top products**: weighted Space-Saving with [`TOP_K`] counters; a
//!   browse weighs [`W_BROWSE`], an add to cart [`W_CART`], a purchase
//!   [`W_PURCHASE`]; other actions do not score. The view shows the top 10
//!   with each count's maximum overestimate.
//!
//! ## Bounds
//! Log `Config::log_len` records; 300 + 60 bucket arrays; [`MAX_SHOPPERS`]
//! shoppers, the activity queue compacted to one slot per shopper beyond
//! 2 x [`MAX_SHOPPERS`]; [`HLL_MINUTES`] sketches of 4 KiB; [`TOP_K`]
//! counters. Per event: O(1) amortized, one shopper lookup, no text
//! formatting.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Action, Behavior};
use crate::id::Id;
use crate::ops::common::{
    id_hash, mix64, push_newest, time_stamp, FastSet, Hll, Lru, Ring, SpaceSaving, HLL_M,
};
use crate::time::MINUTE_MS;
use crate::view::{ActionCounts, BehaviorView, Funnel, LogLine};

/// Shoppers kept (funnel and activity).
pub const MAX_SHOPPERS: usize = 50_000;
/// Event time a shopper stays in the funnel after last being seen.
pub const FUNNEL_HORIZON_MS: i64 = 60 * MINUTE_MS;
/// Space-Saving counters for top products.
pub const TOP_K: usize = 64;
/// Products shown in `top_products`.
pub const TOP_SHOWN: usize = 10;
/// Score weight of a browse.
pub const W_BROWSE: u64 = 1;
/// Score weight of an add to cart.
pub const W_CART: u64 = 3;
/// Score weight of a purchase.
pub const W_PURCHASE: u64 = 5;
/// Per-minute `HyperLogLog` sketches kept (the estimated window is at most
/// `HLL_MINUTES - 1` minutes).
pub const HLL_MINUTES: usize = 16;

const SECOND_MS: i64 = 1000;
const SECONDS_KEPT: usize = 300;
const MINUTES_KEPT: usize = 60;

/// Stable 64-bit key of the shopper behind an event: the session when the
/// event has one, else the user (the two kinds are kept apart). Funnel and
/// activity maps are keyed by it: no id is cloned or compared per event,
/// and the chance that two of even 100,000 shoppers collide is ~3·10⁻¹⁰.
pub fn shopper_key(b: &Behavior) -> u64 {
    match &b.session {
        Some(s) => mix64(id_hash(s) ^ 0x5e55_1011_5e55_1011),
        None => id_hash(&b.user),
    }
}

/// One log record: the parts, formatted on view.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LogRec {
    ts: i64,
    user: Id,
    product: Id,
    slot: u8,
    // Always written (no `skip_serializing_if`): the binary `snap1`
    // snapshot has no field names, so every field must be present.
    #[serde(default)]
    other: Option<Box<str>>,
}

/// Funnel step bits, in view order.
const STEP_BITS: [u8; 4] = [1, 2, 4, 8];

fn step_bit(a: &Action) -> u8 {
    match a {
        Action::Browse => 1,
        Action::AddToCart => 2,
        Action::Checkout => 4,
        Action::Purchase => 8,
        Action::RemoveFromCart | Action::Other(_) => 0,
    }
}

/// Shopper flag: counted in `active`.
const ACTIVE: u8 = 0x80;

fn hll_window_min(window_ms: i64) -> i64 {
    #[allow(clippy::cast_possible_wrap)] // reason: HLL_MINUTES is tiny
    let max = HLL_MINUTES as i64 - 1;
    window_ms
        .max(1)
        .saturating_add(MINUTE_MS - 1)
        .div_euclid(MINUTE_MS)
        .min(max)
}

/// Behaviour state. Bounds: see the module docs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BehaviorOp {
    log: VecDeque<LogRec>,
    seconds: Ring<ActionCounts>,
    minutes: Ring<ActionCounts>,
    total: ActionCounts,
    first_ms: Option<i64>,
    /// Shopper key -> funnel step bits | [`ACTIVE`]; stamp = last seen.
    shoppers: Lru<u64, u8>,
    funnel_counts: [u64; 4],
    /// Activations in time order: `(shopper, time queued)`.
    active_queue: VecDeque<(u64, i64)>,
    active: u64,
    hll: Ring<Hll>,
    top: SpaceSaving,
}

impl Default for BehaviorOp {
    fn default() -> Self {
        BehaviorOp {
            log: VecDeque::new(),
            seconds: Ring::new(SECONDS_KEPT, SECOND_MS),
            minutes: Ring::new(MINUTES_KEPT, MINUTE_MS),
            total: [0; 6],
            first_ms: None,
            shoppers: Lru::default(),
            funnel_counts: [0; 4],
            active_queue: VecDeque::new(),
            active: 0,
            hll: Ring::new(HLL_MINUTES, MINUTE_MS),
            top: SpaceSaving::default(),
        }
    }
}

fn sum_into(acc: &mut ActionCounts, add: &ActionCounts) {
    for (a, b) in acc.iter_mut().zip(add) {
        *a += b;
    }
}

impl BehaviorOp {
    /// Applies one behaviour event (`now` = newest event time, this one included).
    #[allow(clippy::cast_possible_truncation)] // reason: slot() < 6
    pub fn on_behavior(&mut self, ts: i64, b: &Behavior, now: i64, cfg: &Config) {
        let slot = b.action.slot();
        self.total[slot] += 1;
        self.first_ms = Some(self.first_ms.map_or(ts, |f| f.min(ts)));
        if let Some(c) = self.seconds.slot_mut(ts, now) {
            c[slot] += 1;
        }
        if let Some(c) = self.minutes.slot_mut(ts, now) {
            c[slot] += 1;
        }
        if cfg.log_len > 0 {
            push_newest(
                &mut self.log,
                LogRec {
                    ts,
                    user: b.user.clone(),
                    product: b.product.clone(),
                    slot: slot as u8,
                    other: match &b.action {
                        Action::Other(s) => Some(Box::from(&**s)),
                        _ => None,
                    },
                },
                cfg.log_len,
            );
        } else {
            self.log.clear();
        }

        let who = shopper_key(b);
        let bit = step_bit(&b.action);
        let (m, _) = self.shoppers.touch(&who, time_stamp(ts), || 0);
        if *m & bit == 0 && bit != 0 {
            *m |= bit;
            self.funnel_counts[bit.trailing_zeros() as usize] += 1;
        }
        if *m & ACTIVE == 0 && ts >= now.saturating_sub(cfg.active_window_ms) {
            *m |= ACTIVE;
            self.active += 1;
            self.active_queue.push_back((who, ts));
        }
        while self.shoppers.len() > MAX_SHOPPERS {
            if let Some((_, m)) = self.shoppers.pop_oldest() {
                self.forget(m);
            }
        }
        if self.active_queue.len() > 2 * MAX_SHOPPERS {
            self.compact_active_queue();
        }
        if let Some(h) = self.hll.slot_mut(ts, now) {
            h.insert(who);
        }

        let w = match b.action {
            Action::Browse => W_BROWSE,
            Action::AddToCart => W_CART,
            Action::Purchase => W_PURCHASE,
            _ => 0,
        };
        if w > 0 {
            self.top.add(&b.product, w, TOP_K);
        }
    }

    /// Reads, without changing anything, the shopper entry `b` will touch,
    /// so that [`crate::Engine::apply_batch`] can bring it into the cache
    /// ahead of applying (the returned value only keeps the read alive).
    pub fn warm(&self, b: &Behavior) -> u64 {
        self.shoppers
            .get(&shopper_key(b))
            .map_or(0, |&m| u64::from(m))
    }

    /// A shopper leaves the map: uncount its steps and activity.
    fn forget(&mut self, mask: u8) {
        for (i, bit) in STEP_BITS.iter().enumerate() {
            if mask & bit != 0 {
                self.funnel_counts[i] = self.funnel_counts[i].saturating_sub(1);
            }
        }
        if mask & ACTIVE != 0 {
            self.active = self.active.saturating_sub(1);
        }
    }

    /// Keeps one queue slot (the newest) per shopper still counted active.
    fn compact_active_queue(&mut self) {
        let mut seen: FastSet<u64> = FastSet::default();
        let mut kept: VecDeque<(u64, i64)> = VecDeque::new();
        for &(k, t) in self.active_queue.iter().rev() {
            if self.shoppers.get(&k).is_some_and(|m| m & ACTIVE != 0) && seen.insert(k) {
                kept.push_front((k, t));
            }
        }
        self.active_queue = kept;
    }

    /// Time-driven upkeep, called for every event (cheap when nothing
    /// expires: two looks at the fronts of the queues, inlined).
    #[inline]
    pub fn tick(&mut self, now: i64, cfg: &Config) {
        let funnel_cutoff = time_stamp(now.saturating_sub(FUNNEL_HORIZON_MS));
        let active_cutoff = now.saturating_sub(cfg.active_window_ms);
        if self
            .shoppers
            .front_stamp()
            .is_none_or(|q| q >= funnel_cutoff)
            && self
                .active_queue
                .front()
                .is_none_or(|&(_, t)| t >= active_cutoff)
        {
            return;
        }
        self.expire(funnel_cutoff, active_cutoff);
    }

    /// Expires shoppers last seen before `funnel_cutoff` and activity
    /// before `active_cutoff`.
    #[inline(never)]
    fn expire(&mut self, funnel_cutoff: u64, active_cutoff: i64) {
        while let Some((_, m)) = self.shoppers.pop_expired(funnel_cutoff) {
            self.forget(m);
        }
        while let Some(&(k, t)) = self.active_queue.front() {
            if t >= active_cutoff {
                break;
            }
            self.active_queue.pop_front();
            if let Some((stamp, m)) = self.shoppers.get_full_mut(&k) {
                if *m & ACTIVE != 0 {
                    let last = i64::try_from(stamp).unwrap_or(i64::MAX);
                    if last < active_cutoff {
                        *m &= !ACTIVE;
                        self.active = self.active.saturating_sub(1);
                    } else {
                        self.active_queue.push_back((k, last));
                    }
                }
            }
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // reason: a rounded, non-negative estimate
    fn active_count(&self, now: i64, cfg: &Config) -> (u64, bool) {
        #[allow(clippy::cast_possible_truncation)] // reason: limits are far below 2^32 in practice
        if self.active <= cfg.exact_distinct_limit as u64 {
            return (self.active, true);
        }
        let now_min = now.div_euclid(MINUTE_MS);
        let from = now_min - hll_window_min(cfg.active_window_ms);
        let mut acc = vec![0u8; HLL_M];
        for m in from..=now_min {
            if let Some(h) = self.hll.get(m) {
                h.merge_into(&mut acc);
            }
        }
        (Hll::estimate(&acc).round().max(0.0) as u64, false)
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("behavior.log", self.log.len()),
            ("behavior.shoppers", self.shoppers.len()),
            ("behavior.shoppers_queue", self.shoppers.queue_len()),
            ("behavior.active_queue", self.active_queue.len()),
            ("behavior.hll_minutes", self.hll.allocated()),
            ("behavior.top", self.top.len()),
        ]
    }

    /// The behaviour view as of `now` (the newest event time).
    pub fn view(&self, now: i64, cfg: &Config) -> BehaviorView {
        let Some(first_ms) = self.first_ms else {
            return BehaviorView::default();
        };
        let now_s = now.div_euclid(SECOND_MS);
        let mut c1 = [0; 6];
        let mut c5 = [0; 6];
        #[allow(clippy::cast_possible_wrap)] // reason: ring size is a small constant
        for s in (now_s - SECONDS_KEPT as i64 + 1)..=now_s {
            if let Some(c) = self.seconds.get(s) {
                sum_into(&mut c5, c);
                if s > now_s - 60 {
                    sum_into(&mut c1, c);
                }
            }
        }
        let now_m = now.div_euclid(MINUTE_MS);
        #[allow(clippy::cast_possible_wrap)] // reason: ring size is a small constant
        let from_m = (now_m - MINUTES_KEPT as i64 + 1).max(first_ms.div_euclid(MINUTE_MS));
        let mut c60 = [0; 6];
        let mut per_minute = Vec::with_capacity(MINUTES_KEPT);
        for m in from_m..=now_m {
            let c = self.minutes.get(m).copied().unwrap_or([0; 6]);
            sum_into(&mut c60, &c);
            per_minute.push((m.saturating_mul(MINUTE_MS), c));
        }
        let (active_shoppers, active_exact) = self.active_count(now, cfg);
        BehaviorView {
            log: self
                .log
                .iter()
                .take(cfg.log_len)
                .map(|r| {
                    let action = match &r.other {
                        Some(o) => o.to_string(),
                        // A slot out of range only comes from a corrupt
                        // snapshot: shown, never indexed blindly.
                        None => crate::event::ACTION_SLOTS
                            .get(usize::from(r.slot))
                            .map_or_else(|| format!("action slot {}", r.slot), |s| (*s).to_owned()),
                    };
                    LogLine {
                        ts_ms: r.ts,
                        text: log_text(&r.user, &r.product, r.slot, &action),
                        user: r.user.clone(),
                        product: r.product.clone(),
                        action,
                    }
                })
                .collect(),
            counts_1m: c1,
            counts_5m: c5,
            counts_1h: c60,
            counts_total: self.total,
            per_minute,
            funnel: Funnel {
                browse: self.funnel_counts[0],
                cart: self.funnel_counts[1],
                checkout: self.funnel_counts[2],
                purchase: self.funnel_counts[3],
            },
            active_shoppers,
            active_exact,
            top_products: self.top.top(TOP_SHOWN),
        }
    }
}

/// The readable log line, as in the seed.
pub fn log_text(user: &Id, product: &Id, slot: u8, action: &str) -> String {
    match slot {
        0 => format!("User {user} is browsing product {product}"),
        1 => format!("User {user} has added product {product} to cart"),
        2 => format!("User {user} has removed product {product} from cart"),
        3 => format!("User {user} is checking out with product {product}"),
        4 => format!("User {user} has purchased product {product}"),
        _ => format!("User {user} did {action} on product {product}"),
    }
}
