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
//! - **Funnel**: per shopper (the session when the event has one, else the
//!   user) a bitmask of the steps done (browse, add to cart, checkout,
//!   purchase) and the last time seen. Shoppers not seen for
//!   [`FUNNEL_HORIZON_MS`] (1 h of event time) leave the funnel, and at most
//!   [`MAX_FUNNEL_SHOPPERS`] are kept (least recently seen evicted). The four
//!   step counts are maintained incrementally (a step counts the shoppers
//!   that *did* it; the funnel is not forced to be monotone).
//! - **Active shoppers**: shoppers seen in the last `Config::active_window_ms`.
//!   Exact (a map shopper -> last seen, expired by event time) while there
//!   are at most `Config::exact_distinct_limit`; beyond that the map is
//!   dropped and a ring of [`HLL_MINUTES`] per-minute `HyperLogLog` sketches
//!   (p = 12, ~1.6 % error) takes over, seeded from the map. In that mode
//!   the window is rounded out to whole minutes and capped at 15 minutes.
//!   Exact counting resumes once the estimate falls below half the limit
//!   and a full window has been observed exactly.
//! - **Top products**: weighted Space-Saving with [`TOP_K`] counters; a
//!   browse weighs [`W_BROWSE`], an add to cart [`W_CART`], a purchase
//!   [`W_PURCHASE`]; other actions do not score. The view shows the top 10
//!   with each count's maximum overestimate.
//!
//! ## Bounds
//! Log `Config::log_len` records; 300 + 60 bucket arrays; funnel
//! [`MAX_FUNNEL_SHOPPERS`]; exact active set `Config::exact_distinct_limit`
//! (+1 before it switches); [`HLL_MINUTES`] sketches of 4 KiB; [`TOP_K`]
//! counters. Per event: O(1) amortized, no text formatting.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Action, Behavior};
use crate::id::Id;
use crate::ops::common::{
    id_hash, mix64, push_newest, stamp_time, time_stamp, Hll, Lru, Ring, SpaceSaving, HLL_M,
};
use crate::time::MINUTE_MS;
use crate::view::{ActionCounts, BehaviorView, Funnel, LogLine};

/// Shoppers kept in the funnel.
pub const MAX_FUNNEL_SHOPPERS: usize = 100_000;
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// Distinct active shoppers: exact map or per-minute `HyperLogLog` ring.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Active {
    /// Exact mode on.
    exact_on: bool,
    /// Event time exact tracking (re)started; exact answers need a full window.
    exact_since: i64,
    /// Shopper -> last seen (stamp = event time), while exact.
    exact: Lru<u64, ()>,
    /// Per-minute sketches, fed while not exact (or not yet trusted).
    hll: Ring<Hll>,
    /// The minute at which the mode was last reconsidered.
    checked_min: i64,
}

impl Default for Active {
    fn default() -> Self {
        Active {
            exact_on: true,
            exact_since: i64::MIN,
            exact: Lru::default(),
            hll: Ring::new(HLL_MINUTES, MINUTE_MS),
            checked_min: i64::MIN,
        }
    }
}

impl Active {
    fn window_min(window_ms: i64) -> i64 {
        #[allow(clippy::cast_possible_wrap)] // reason: HLL_MINUTES is tiny
        let max = HLL_MINUTES as i64 - 1;
        (window_ms.max(1) + MINUTE_MS - 1)
            .div_euclid(MINUTE_MS)
            .min(max)
    }

    fn hll_estimate(&self, now: i64, window_ms: i64) -> f64 {
        let now_min = now.div_euclid(MINUTE_MS);
        let from = now_min - Self::window_min(window_ms);
        let mut acc = vec![0u8; HLL_M];
        for m in from..=now_min {
            if let Some(h) = self.hll.get(m) {
                h.merge_into(&mut acc);
            }
        }
        Hll::estimate(&acc)
    }

    fn hll_trusted(&self, now: i64, window_ms: i64) -> bool {
        !(self.exact_on && self.exact_since <= now.saturating_sub(window_ms))
    }

    fn see(&mut self, who: u64, ts: i64, now: i64, cfg: &Config) {
        let window = cfg.active_window_ms;
        if self.exact_on {
            self.exact.touch(&who, time_stamp(ts), || ());
            if self.exact.len() > cfg.exact_distinct_limit {
                // Switch to estimating: seed the sketches from the map.
                for (&s, stamp, ()) in self.exact.iter() {
                    if let Some(h) = self.hll.slot_mut(stamp_time(stamp), now) {
                        h.insert(s);
                    }
                }
                self.exact.clear();
                self.exact_on = false;
            }
        }
        if self.hll_trusted(now, window) {
            if let Some(h) = self.hll.slot_mut(ts, now) {
                h.insert(who);
            }
        }
    }

    /// Time-driven upkeep: expiry and mode changes.
    fn tick(&mut self, now: i64, cfg: &Config) {
        let window = cfg.active_window_ms;
        let cutoff = time_stamp(now.saturating_sub(window));
        while self.exact.pop_expired(cutoff).is_some() {}
        let now_min = now.div_euclid(MINUTE_MS);
        if now_min != self.checked_min {
            self.checked_min = now_min;
            if !self.exact_on {
                #[allow(clippy::cast_precision_loss)] // reason: limits are far below 2^52
                let low = cfg.exact_distinct_limit as f64 / 2.0;
                if self.hll_estimate(now, window) < low {
                    self.exact_on = true;
                    self.exact_since = now;
                }
            } else if self.exact_since <= now.saturating_sub(window) && self.hll.allocated() > 0 {
                // Exact again for a full window: the sketches are not needed.
                self.hll = Ring::new(HLL_MINUTES, MINUTE_MS);
            }
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // reason: a rounded, non-negative estimate
    fn count(&self, now: i64, window: i64) -> (u64, bool) {
        if self.hll_trusted(now, window) {
            (
                self.hll_estimate(now, window).round().max(0.0) as u64,
                false,
            )
        } else {
            (self.exact.len() as u64, true)
        }
    }
}

/// Funnel entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Steps {
    mask: u8,
}

/// Behaviour state. Bounds: see the module docs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BehaviorOp {
    log: VecDeque<LogRec>,
    seconds: Ring<ActionCounts>,
    minutes: Ring<ActionCounts>,
    total: ActionCounts,
    first_ms: Option<i64>,
    funnel: Lru<u64, Steps>,
    funnel_counts: [u64; 4],
    active: Active,
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
            funnel: Lru::default(),
            funnel_counts: [0; 4],
            active: Active::default(),
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
                        Action::Other(s) => Some(s.clone()),
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
        let (steps, _) = self
            .funnel
            .touch(&who, time_stamp(ts), || Steps { mask: 0 });
        if steps.mask & bit == 0 && bit != 0 {
            steps.mask |= bit;
            self.funnel_counts[bit.trailing_zeros() as usize] += 1;
        }
        while self.funnel.len() > MAX_FUNNEL_SHOPPERS {
            if let Some((_, s)) = self.funnel.pop_oldest() {
                self.uncount(s.mask);
            }
        }

        self.active.see(who, ts, now, cfg);

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

    fn uncount(&mut self, mask: u8) {
        for (i, bit) in STEP_BITS.iter().enumerate() {
            if mask & bit != 0 {
                self.funnel_counts[i] -= 1;
            }
        }
    }

    /// Time-driven upkeep, called for every event (cheap when nothing expires).
    pub fn tick(&mut self, now: i64, cfg: &Config) {
        let cutoff = time_stamp(now.saturating_sub(FUNNEL_HORIZON_MS));
        while let Some((_, s)) = self.funnel.pop_expired(cutoff) {
            self.uncount(s.mask);
        }
        self.active.tick(now, cfg);
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("behavior.log", self.log.len()),
            ("behavior.funnel", self.funnel.len()),
            ("behavior.funnel_queue", self.funnel.queue_len()),
            ("behavior.active_exact", self.active.exact.len()),
            ("behavior.active_queue", self.active.exact.queue_len()),
            ("behavior.hll_minutes", self.active.hll.allocated()),
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
            per_minute.push((m * MINUTE_MS, c));
        }
        let (active_shoppers, active_exact) = self.active.count(now, cfg.active_window_ms);
        BehaviorView {
            log: self
                .log
                .iter()
                .take(cfg.log_len)
                .map(|r| {
                    let action = match &r.other {
                        Some(o) => o.to_string(),
                        None => crate::event::ACTION_SLOTS[usize::from(r.slot)].to_owned(),
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
