//! Order-sync operator: a state machine per (order, target), the status
//! matrix per (channel, target), retries, failure rate, lag percentiles and
//! histograms, stuck orders, invalid transitions and an order-volume
//! forecast per channel.
//!
//! ## Design
//! - **State**: per order (keyed by the id's stable 64-bit hash, the id kept
//!   for display; its channel is the one of its first sync event) one slot
//!   per target holding status, attempt, `since_ms` and the last error. Each event moves the (order, target) from
//!   its old status to the new one: the cell's `current[old] -= 1`,
//!   `current[new] += 1`, so `current` always equals the count of the last
//!   status per (order, target) (in arrival order).
//! - **Retries**: attempts beyond the first, counted once per attempt number
//!   (`new_attempt - max(old_attempt, 1)` when it goes up).
//! - **Failure rate** = transitions into `failed` / (into `failed` + into
//!   `synced`); a transition is an event whose status or attempt differs from
//!   the previous one (exact repeats are not counted).
//! - **Lag percentiles** per cell from `latency_ms`: a log-bucketed
//!   histogram written here ([`LogHist`], 2 % relative error, serde and
//!   wasm32 with no features; dense buckets up to the largest latency).
//!   Lag histogram per channel with fixed bounds [`LAG_BOUNDS_MS`].
//! - **Stuck**: pending or retrying since before `now - Config::sync_sla_ms`
//!   ("now" = newest event time). `since_ms` is when the (order, target)
//!   entered an open state (pending -> retrying keeps it), so an order
//!   retrying forever is stuck. Open states sit in an ordered index by
//!   `since_ms` (then the order id's hash: integer keys, no id cloned or
//!   compared; stuck orders with the same `since_ms` are listed in that
//!   order); the stuck count is maintained incrementally as the SLA
//!   cutoff advances, so the view is O(shown rows).
//! - **Invalid transitions** (still applied, then reported): `logistics`
//!   synced while `payment` is not synced for the same order; a status change
//!   after `synced` (`synced` -> pending / retrying / failed); the attempt
//!   number going down.
//! - **Forecast**: new orders (first `created`/`paid` of an id, from the
//!   order events) per channel per minute of event time, smoothed with Holt's
//!   linear method (α = [`HOLT_ALPHA`], β = [`HOLT_BETA`]); minutes without
//!   orders count as zero (up to 60, beyond which the model restarts).
//!
//! ## Bounds
//! (order, target) states at most `Config::max_open_syncs` (least recently
//! updated order evicted beyond; evicting forgets its open statuses from
//! `current` but keeps `synced`, which is final); at most 64 channels x 4
//! cells; [`MAX_INVALID`] invalid transitions kept; the view shows at most
//! [`MAX_STUCK_SHOWN`] stuck orders.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Order, Sync, SyncStatus, Target};
use crate::id::Id;
use crate::ops::common::{id_hash, push_newest, Channels, LogHist, Lru};
use crate::time::MINUTE_MS;
use crate::view::{Forecast, InvalidTransition, LagHistogram, StuckOrder, SyncCell, SyncView};

/// Invalid transitions kept (newest first).
pub const MAX_INVALID: usize = 50;
/// Stuck orders shown.
pub const MAX_STUCK_SHOWN: usize = 50;
/// Upper bounds of the per-channel lag histogram buckets (ms); the last is
/// `u64::MAX`.
pub const LAG_BOUNDS_MS: [u64; 8] = [50, 100, 200, 500, 1000, 2000, 5000, u64::MAX];
/// Holt level smoothing.
pub const HOLT_ALPHA: f64 = 0.5;
/// Holt trend smoothing.
pub const HOLT_BETA: f64 = 0.3;
const MAX_ZERO_FILL: i64 = 60;

/// One (order, target) state (JSON: `[status, attempt, since, error]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    into = "(SyncStatus, u32, i64, Option<Box<str>>)",
    from = "(SyncStatus, u32, i64, Option<Box<str>>)"
)]
struct TState {
    status: SyncStatus,
    attempt: u32,
    since: i64,
    error: Option<Box<str>>,
}

impl From<TState> for (SyncStatus, u32, i64, Option<Box<str>>) {
    fn from(t: TState) -> Self {
        (t.status, t.attempt, t.since, t.error)
    }
}

impl From<(SyncStatus, u32, i64, Option<Box<str>>)> for TState {
    fn from((status, attempt, since, error): (SyncStatus, u32, i64, Option<Box<str>>)) -> Self {
        TState {
            status,
            attempt,
            since,
            error,
        }
    }
}

/// One order's sync states (JSON: `[id, channel, [payment, inventory, logistics, customer_service]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    into = "(Id, u16, [Option<TState>; 4])",
    from = "(Id, u16, [Option<TState>; 4])"
)]
struct OrderSync {
    id: Id,
    chan: u16,
    t: [Option<TState>; 4],
}

impl From<OrderSync> for (Id, u16, [Option<TState>; 4]) {
    fn from(o: OrderSync) -> Self {
        (o.id, o.chan, o.t)
    }
}

impl From<(Id, u16, [Option<TState>; 4])> for OrderSync {
    fn from((id, chan, t): (Id, u16, [Option<TState>; 4])) -> Self {
        OrderSync { id, chan, t }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Cell {
    seen: bool,
    current: [u64; 4],
    retries: u64,
    failed: u64,
    synced: u64,
    lag: LogHist,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Holt {
    cur_min: Option<i64>,
    cur_count: u64,
    last_complete: u64,
    last_complete_min: i64,
    level: f64,
    trend: f64,
    fed: u8,
}

impl Holt {
    fn feed(&mut self, x: f64) {
        match self.fed {
            0 => {
                self.level = x;
                self.fed = 1;
            }
            1 => {
                self.trend = x - self.level;
                self.level = x;
                self.fed = 2;
            }
            _ => {
                let level = HOLT_ALPHA * x + (1.0 - HOLT_ALPHA) * (self.level + self.trend);
                self.trend = HOLT_BETA * (level - self.level) + (1.0 - HOLT_BETA) * self.trend;
                self.level = level;
            }
        }
    }

    /// Closes every minute before `min`.
    #[allow(clippy::cast_precision_loss)] // reason: per-minute counts are small
    fn advance(&mut self, min: i64) {
        let Some(cur) = self.cur_min else {
            return;
        };
        if min <= cur {
            return;
        }
        self.feed(self.cur_count as f64);
        self.last_complete = self.cur_count;
        self.last_complete_min = cur;
        if min - cur - 1 > MAX_ZERO_FILL {
            *self = Holt::default();
            return;
        }
        for m in cur + 1..min {
            self.feed(0.0);
            self.last_complete = 0;
            self.last_complete_min = m;
        }
        self.cur_min = Some(min);
        self.cur_count = 0;
    }

    fn order(&mut self, ts: i64) {
        let min = ts.div_euclid(MINUTE_MS);
        match self.cur_min {
            None => {
                self.cur_min = Some(min);
                self.cur_count = 1;
            }
            Some(cur) if min < cur => {}
            Some(_) => {
                self.advance(min);
                if self.cur_min.is_none() {
                    self.cur_min = Some(min);
                }
                self.cur_count += 1;
            }
        }
    }
}

/// Sync state. Bounds: see the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncOp {
    channels: Channels,
    /// Keyed by the order id's stable hash.
    orders: Lru<u64, OrderSync>,
    states: usize,
    seq: u64,
    cells: Vec<Cell>,
    lag_hist: Vec<[u64; 8]>,
    holt: Vec<Holt>,
    /// Open (order, target) states: `(since, order id hash, target slot)`.
    open: BTreeSet<(i64, u64, u8)>,
    stuck_count: u64,
    stuck_cutoff: i64,
    stuck_sla: i64,
    /// Cache: the smallest `since` in `open` at or above `stuck_cutoff`
    /// (`i64::MAX` when none, `None` = unknown), so most ticks cost one
    /// comparison.
    #[serde(default)]
    next_since: Option<i64>,
    invalid: VecDeque<InvalidTransition>,
    invalid_count: u64,
    evicted_states: u64,
}

fn is_open(s: SyncStatus) -> bool {
    matches!(s, SyncStatus::Pending | SyncStatus::Retrying)
}

#[allow(clippy::cast_possible_truncation)] // reason: target slots are 0..4
fn target_of(slot: u8) -> Target {
    Target::ALL[usize::from(slot) % 4]
}

impl SyncOp {
    fn cell(&mut self, chan: u16, target: Target) -> &mut Cell {
        let i = usize::from(chan) * 4 + target.slot();
        if self.cells.len() <= i {
            self.cells.resize_with(i + 1, Cell::default);
        }
        &mut self.cells[i]
    }

    fn open_insert(&mut self, key: (i64, u64, u8)) {
        let since = key.0;
        if self.open.insert(key) {
            if since < self.stuck_cutoff {
                self.stuck_count += 1;
            } else if self.next_since.is_some_and(|n| since < n) {
                self.next_since = Some(since);
            }
        }
    }

    fn open_remove(&mut self, key: &(i64, u64, u8)) {
        if self.open.remove(key) {
            if key.0 < self.stuck_cutoff {
                self.stuck_count = self.stuck_count.saturating_sub(1);
            } else if self.next_since == Some(key.0) {
                self.next_since = None;
            }
        }
    }

    /// Smallest `since` at or above `from` (`i64::MAX` when none).
    fn next_open_since(&self, from: i64) -> i64 {
        self.open
            .range((from, 0, 0u8)..)
            .next()
            .map_or(i64::MAX, |k| k.0)
    }

    /// Reads, without changing anything, the order entry `s` will touch
    /// (for [`crate::Engine::apply_batch`]).
    pub fn warm(&self, s: &Sync) -> u64 {
        self.orders
            .get(&id_hash(&s.order))
            .map_or(0, |o| u64::from(o.chan))
    }

    /// Applies a sync event.
    #[allow(clippy::cast_possible_truncation, clippy::too_many_lines)] // reason: target slot < 4; one linear state-machine step
    pub fn on_sync(&mut self, ts: i64, s: &Sync, now: i64, cfg: &Config) {
        let chan_in = self.channels.intern(&s.channel);
        self.seq += 1;
        let order_h = id_hash(&s.order);
        let (o, _) = self.orders.touch(&order_h, self.seq, || OrderSync {
            id: s.order.clone(),
            chan: chan_in,
            t: [None, None, None, None],
        });
        let chan = o.chan;
        let ti = s.target.slot();
        let prev = o.t[ti].clone();
        let payment_synced = o.t[Target::Payment.slot()]
            .as_ref()
            .is_some_and(|p| p.status == SyncStatus::Synced);
        let since = match &prev {
            Some(p) if is_open(p.status) && is_open(s.status) => p.since,
            _ => ts,
        };
        let error = if s.status == SyncStatus::Synced {
            None
        } else {
            s.error
                .as_deref()
                .map(Box::from)
                .or_else(|| prev.as_ref().and_then(|p| p.error.clone()))
        };
        o.t[ti] = Some(TState {
            status: s.status,
            attempt: s.attempt,
            since,
            error,
        });
        if prev.is_none() {
            self.states += 1;
        }

        // Invalid transitions.
        let mut reasons: Vec<String> = Vec::new();
        if s.target == Target::Logistics && s.status == SyncStatus::Synced && !payment_synced {
            reasons.push("logistics synced before payment".to_owned());
        }
        if let Some(p) = &prev {
            if p.status == SyncStatus::Synced && s.status != SyncStatus::Synced {
                reasons.push(format!("{} after synced", s.status.as_str()));
            }
            if s.attempt < p.attempt {
                reasons.push(format!(
                    "attempt went down from {} to {}",
                    p.attempt, s.attempt
                ));
            }
        }
        for reason in reasons {
            self.invalid_count += 1;
            push_newest(
                &mut self.invalid,
                InvalidTransition {
                    ts_ms: ts,
                    order: s.order.clone(),
                    channel: self.channels.name(chan).to_owned(),
                    target: s.target,
                    reason,
                },
                MAX_INVALID,
            );
        }

        // Counters.
        let changed = prev
            .as_ref()
            .is_none_or(|p| p.status != s.status || p.attempt != s.attempt);
        let old_attempt = prev.as_ref().map_or(1, |p| p.attempt.max(1));
        let cell = self.cell(chan, s.target);
        cell.seen = true;
        if let Some(p) = &prev {
            let c = &mut cell.current[p.status.slot()];
            *c = c.saturating_sub(1);
        }
        cell.current[s.status.slot()] += 1;
        if changed {
            match s.status {
                SyncStatus::Failed => cell.failed += 1,
                SyncStatus::Synced => cell.synced += 1,
                _ => {}
            }
        }
        if s.attempt > old_attempt {
            cell.retries += u64::from(s.attempt - old_attempt);
        }
        if let Some(l) = s.latency_ms {
            cell.lag.add(l);
            let c = usize::from(chan);
            if self.lag_hist.len() <= c {
                self.lag_hist.resize(c + 1, [0; 8]);
            }
            let b = LAG_BOUNDS_MS.iter().position(|&ub| l <= ub).unwrap_or(7);
            self.lag_hist[c][b] += 1;
        }

        // Open-state index.
        let slot = ti as u8;
        if let Some(p) = &prev {
            if is_open(p.status) && !(is_open(s.status) && p.since == since) {
                self.open_remove(&(p.since, order_h, slot));
            }
        }
        if is_open(s.status) && !prev.as_ref().is_some_and(|p| is_open(p.status)) {
            self.open_insert((since, order_h, slot));
        }

        // Bound.
        while self.states > cfg.max_open_syncs {
            let Some((gone_h, o)) = self.orders.pop_oldest() else {
                break;
            };
            for (i, st) in o.t.iter().enumerate() {
                let Some(st) = st else { continue };
                self.states -= 1;
                self.evicted_states += 1;
                if st.status != SyncStatus::Synced {
                    let cell = self.cell(o.chan, Target::ALL[i]);
                    let c = &mut cell.current[st.status.slot()];
                    *c = c.saturating_sub(1);
                }
                if is_open(st.status) {
                    self.open_remove(&(st.since, gone_h, i as u8));
                }
            }
        }
        self.tick(now, cfg);
    }

    /// A new order (first `created`/`paid` of its id): feeds the forecast.
    pub fn on_new_order(&mut self, ts: i64, o: &Order) {
        let c = usize::from(self.channels.intern(&o.channel));
        if self.holt.len() <= c {
            self.holt.resize_with(c + 1, Holt::default);
        }
        self.holt[c].order(ts);
    }

    /// Time-driven upkeep: advances the stuck cutoff. Inlined for the
    /// usual event, which moves the cutoff without reaching the next open
    /// order's `since`.
    #[inline]
    pub fn tick(&mut self, now: i64, cfg: &Config) {
        let cutoff = now.saturating_sub(cfg.sync_sla_ms);
        if cfg.sync_sla_ms == self.stuck_sla
            && cutoff >= self.stuck_cutoff
            && self.next_since.is_some_and(|n| n >= cutoff)
        {
            self.stuck_cutoff = cutoff;
            return;
        }
        self.advance_stuck(cutoff, cfg);
    }

    /// [`SyncOp::tick`] outside its usual case.
    #[inline(never)]
    fn advance_stuck(&mut self, cutoff: i64, cfg: &Config) {
        if cfg.sync_sla_ms != self.stuck_sla || cutoff < self.stuck_cutoff {
            self.stuck_sla = cfg.sync_sla_ms;
            self.stuck_cutoff = cutoff;
            self.stuck_count = self.count_before(cutoff);
            self.next_since = None;
        } else if cutoff > self.stuck_cutoff {
            let next = match self.next_since {
                Some(n) => n,
                None => self.next_open_since(self.stuck_cutoff),
            };
            if next < cutoff {
                let lo = (self.stuck_cutoff, 0, 0u8);
                let hi = (cutoff, 0, 0u8);
                self.stuck_count += self.open.range(lo..hi).count() as u64;
                self.stuck_cutoff = cutoff;
                self.next_since = None;
            } else {
                self.stuck_cutoff = cutoff;
                self.next_since = Some(next);
            }
        }
    }

    fn count_before(&self, cutoff: i64) -> u64 {
        self.open.range(..(cutoff, 0, 0u8)).count() as u64
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("sync.orders", self.orders.len()),
            ("sync.orders_queue", self.orders.queue_len()),
            ("sync.states", self.states),
            ("sync.open_index", self.open.len()),
            ("sync.cells", self.cells.len()),
            ("sync.channels", self.channels.len()),
            ("sync.invalid", self.invalid.len()),
            ("sync.forecasts", self.holt.len()),
        ]
    }

    /// The sync view as of `now`.
    pub fn view(&self, now: i64, cfg: &Config) -> SyncView {
        let order = self.channels.sorted();
        let mut cells = Vec::new();
        let mut lag_histograms = Vec::new();
        let mut forecast = Vec::new();
        for &c in &order {
            let name = self.channels.name(c);
            for t in Target::ALL {
                let Some(cell) = self.cells.get(usize::from(c) * 4 + t.slot()) else {
                    continue;
                };
                if !cell.seen {
                    continue;
                }
                let done = cell.failed + cell.synced;
                cells.push(SyncCell {
                    channel: name.to_owned(),
                    target: t,
                    current: cell.current,
                    retries: cell.retries,
                    failure_rate: if done == 0 {
                        0.0
                    } else {
                        cell.failed as f64 / done as f64
                    },
                    lag_p50_ms: cell.lag.quantile(0.50),
                    lag_p95_ms: cell.lag.quantile(0.95),
                    lag_p99_ms: cell.lag.quantile(0.99),
                });
            }
            if let Some(h) = self.lag_hist.get(usize::from(c)) {
                lag_histograms.push(LagHistogram {
                    channel: name.to_owned(),
                    buckets: LAG_BOUNDS_MS
                        .iter()
                        .copied()
                        .zip(h.iter().copied())
                        .collect(),
                });
            }
            if let Some(h) = self.holt.get(usize::from(c)) {
                if h.cur_min.is_some() || h.fed > 0 {
                    let now_min = now.div_euclid(MINUTE_MS);
                    let mut h = h.clone();
                    h.advance(now_min);
                    let last = if h.last_complete_min == now_min - 1 {
                        h.last_complete
                    } else {
                        0
                    };
                    let next = if h.fed == 0 {
                        #[allow(clippy::cast_precision_loss)] // reason: small counts
                        let partial = h.cur_count as f64;
                        partial
                    } else {
                        (h.level + h.trend).max(0.0)
                    };
                    forecast.push(Forecast {
                        channel: name.to_owned(),
                        last_minute_orders: last,
                        next_minute_orders: next,
                    });
                }
            }
        }
        let cutoff = now.saturating_sub(cfg.sync_sla_ms);
        let stuck: Vec<StuckOrder> = self
            .open
            .range(..(cutoff, 0, 0u8))
            .take(MAX_STUCK_SHOWN)
            .filter_map(|(since, h, slot)| {
                let o = self.orders.get(h)?;
                let st = o.t[usize::from(*slot)].as_ref()?;
                Some(StuckOrder {
                    order: o.id.clone(),
                    channel: self.channels.name(o.chan).to_owned(),
                    target: target_of(*slot),
                    status: st.status,
                    since_ms: *since,
                    stuck_for_ms: now.saturating_sub(*since),
                    last_error: st.error.as_deref().map(str::to_owned),
                })
            })
            .collect();
        let stuck_count = if cfg.sync_sla_ms == self.stuck_sla && cutoff == self.stuck_cutoff {
            self.stuck_count
        } else {
            self.count_before(cutoff)
        };
        SyncView {
            cells,
            stuck,
            stuck_count,
            invalid: self.invalid.iter().cloned().collect(),
            invalid_count: self.invalid_count,
            lag_histograms,
            forecast,
            sla_ms: cfg.sync_sla_ms,
        }
    }
}

/// Read-only queries for the dashboard's drill-downs (bounded answers).
impl SyncOp {
    fn target_state(&self, o: &OrderSync, slot: usize) -> Option<crate::view::OrderTargetState> {
        let st = o.t.get(slot)?.as_ref()?;
        Some(crate::view::OrderTargetState {
            order: o.id.clone(),
            channel: self.channels.name(o.chan).to_owned(),
            target: Target::ALL[slot],
            status: st.status,
            attempt: st.attempt,
            since_ms: st.since,
            last_error: st.error.as_deref().map(str::to_owned),
        })
    }

    /// The current state of `order` on each target it has been seen on, in
    /// [`Target::ALL`] order (empty when the order is unknown or evicted).
    pub fn order_states(&self, order: &Id) -> Vec<crate::view::OrderTargetState> {
        match self.orders.get(&id_hash(order)) {
            Some(o) if o.id == *order => (0..4).filter_map(|i| self.target_state(o, i)).collect(),
            _ => Vec::new(),
        }
    }

    /// Orders of one (channel, target) cell that are not synced: failed
    /// first, then retrying, then pending; newest first within a status; at
    /// most `limit`. Scans the kept orders (at most `Config::max_open_syncs`).
    pub fn cell_orders(
        &self,
        channel: &str,
        target: Target,
        limit: usize,
    ) -> Vec<crate::view::OrderTargetState> {
        let Some(chan) = self
            .channels
            .sorted()
            .into_iter()
            .find(|&c| self.channels.name(c) == channel)
        else {
            return Vec::new();
        };
        let slot = target.slot();
        let rank = |s: SyncStatus| match s {
            SyncStatus::Failed => 0u8,
            SyncStatus::Retrying => 1,
            SyncStatus::Pending => 2,
            SyncStatus::Synced => 3,
        };
        let mut hits: Vec<(u8, i64, &OrderSync)> = self
            .orders
            .iter()
            .filter(|(_, _, o)| o.chan == chan)
            .filter_map(|(_, _, o)| {
                let st = o.t[slot].as_ref()?;
                (st.status != SyncStatus::Synced).then_some((rank(st.status), st.since, o))
            })
            .collect();
        let cmp = |a: &(u8, i64, &OrderSync), b: &(u8, i64, &OrderSync)| {
            a.0.cmp(&b.0)
                .then(b.1.cmp(&a.1))
                .then_with(|| a.2.id.cmp(&b.2.id))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit, cmp);
            hits.truncate(limit);
        }
        crate::sort::sort_by(&mut hits, cmp);
        hits.into_iter()
            .filter_map(|(_, _, o)| self.target_state(o, slot))
            .collect()
    }
}
