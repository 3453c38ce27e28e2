//! Alerts derived from successive published [`View`]s (never from the engine
//! directly, never changing it).
//!
//! - **Conditions** read from one view: a product low, out of stock or
//!   oversold; a (channel, target) sync cell whose failure rate or lag p95
//!   reaches the operator's threshold (it clears below 90 % of it, so a
//!   value hovering at the line does not flap); a channel with stuck orders.
//!   Channels the operator hides raise nothing.
//! - **Coalesced**: one row per (kind, subject). While active, a repeat (the
//!   product updated again while low, a new stuck order, the condition coming
//!   back after it cleared) raises the row's count instead of adding a row. A
//!   repeat after clearing re-opens an acknowledged row.
//! - **No storms**: at most `Rules::per_minute` new rows in any 60 s of wall
//!   time; further new conditions are *held*: counted in one summary row
//!   (by kind) while they stay active, never listed one by one.
//! - **Bounded**: at most [`MAX_ROWS`] rows (resolved or acknowledged ones
//!   are dropped first) and [`MAX_HELD`] held conditions.

use std::collections::{HashMap, HashSet, VecDeque};

use shoppulse_core::event::{SyncStatus, Target};
use shoppulse_core::view::View;

/// Rows kept at most.
pub const MAX_ROWS: usize = 100;
/// Held (rate-limited) conditions remembered at most.
pub const MAX_HELD: usize = 10_000;
/// A sync alert clears when its value falls below this share of the threshold.
pub const CLEAR_RATIO: f64 = 0.9;
/// Wall-clock window of the rate limit, ms.
pub const RATE_WINDOW_MS: i64 = 60_000;

/// What an alert is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum AlertKind {
    /// Quantity at or below the threshold (and above 0).
    LowStock,
    /// Quantity 0.
    OutOfStock,
    /// Quantity below 0, or sold while at 0.
    Oversold,
    /// A sync cell's failure rate reached the threshold.
    SyncFailures,
    /// A sync cell's lag p95 reached the threshold.
    SyncLag,
    /// A channel has orders stuck longer than the SLA.
    Stuck,
}

impl AlertKind {
    /// Every kind, in summary order.
    pub const ALL: [AlertKind; 6] = [
        AlertKind::OutOfStock,
        AlertKind::Oversold,
        AlertKind::LowStock,
        AlertKind::SyncFailures,
        AlertKind::SyncLag,
        AlertKind::Stuck,
    ];

    /// Stable name, for `data-kind` and CSV.
    pub fn key(self) -> &'static str {
        match self {
            AlertKind::LowStock => "low_stock",
            AlertKind::OutOfStock => "out_of_stock",
            AlertKind::Oversold => "oversold",
            AlertKind::SyncFailures => "sync_failures",
            AlertKind::SyncLag => "sync_lag",
            AlertKind::Stuck => "stuck_orders",
        }
    }

    /// The view section (operator) whose figures raise this kind.
    pub fn section(self) -> &'static str {
        if self.is_product() {
            "inventory"
        } else {
            "sync"
        }
    }

    /// True for alerts about a product.
    pub fn is_product(self) -> bool {
        matches!(
            self,
            AlertKind::LowStock | AlertKind::OutOfStock | AlertKind::Oversold
        )
    }
}

/// The operator's alert thresholds.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Rules {
    /// Failure rate (0..=1) that raises a sync alert.
    pub fail_rate: f64,
    /// Lag p95 (ms) that raises a sync alert.
    pub lag_ms: f64,
    /// New rows per minute at most.
    pub per_minute: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            fail_rate: 0.2,
            lag_ms: 2000.0,
            per_minute: 10,
        }
    }
}

/// `(kind, subject, target)`: one row per key.
type Key = (AlertKind, String, Option<Target>);

/// One alert row.
#[derive(Clone, PartialEq, Debug)]
pub struct AlertRow {
    /// Stable id (for the acknowledge button).
    pub id: u64,
    /// What.
    pub kind: AlertKind,
    /// Product id or channel.
    pub subject: String,
    /// The target system, for sync-cell alerts.
    pub target: Option<Target>,
    /// The value that raised it (quantity, rate 0..=1, lag ms, stuck orders).
    pub value: f64,
    /// The threshold in force (low-stock threshold, rate, ms, SLA ms).
    pub limit: f64,
    /// Event time of the latest trigger (epoch ms).
    pub event_ms: i64,
    /// Wall time first raised (epoch ms).
    pub first_ms: i64,
    /// Wall time of the latest trigger.
    pub last_ms: i64,
    /// Triggers coalesced into this row.
    pub count: u32,
    /// The condition holds now.
    pub active: bool,
    /// The operator acknowledged it.
    pub acked: bool,
    /// Marker of the latest trigger (repeats when it grows).
    marker: i64,
}

/// What the alerts panel shows.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct AlertsView {
    /// Rows: unacknowledged active first, then acknowledged, then cleared;
    /// newest trigger first within each.
    pub rows: Vec<AlertRow>,
    /// Active conditions held back by the rate limit, per kind (non-zero).
    pub held: Vec<(AlertKind, u64)>,
    /// Sum of `held`.
    pub held_total: u64,
    /// The rate limit in force.
    pub per_minute: usize,
    /// Active, unacknowledged rows.
    pub open: u64,
}

/// One condition read from a view.
struct Cond {
    key: Key,
    value: f64,
    limit: f64,
    marker: i64,
    event_ms: i64,
    /// Reached the raising threshold (not only the clearing one).
    raises: bool,
}

/// The conditions holding in `view`.
fn conditions(view: &View, rules: &Rules, shows: &dyn Fn(&str) -> bool) -> Vec<Cond> {
    let mut out = Vec::new();
    let inv = &view.inventory;
    for (kind, rows) in [
        (AlertKind::LowStock, &inv.low),
        (AlertKind::OutOfStock, &inv.out),
        (AlertKind::Oversold, &inv.oversold),
    ] {
        for r in rows {
            out.push(Cond {
                key: (kind, r.product.to_string(), None),
                value: r.quantity as f64,
                limit: r.threshold as f64,
                marker: r.updated_ms,
                event_ms: r.updated_ms,
                raises: true,
            });
        }
    }
    let now = view.health.max_event_ms;
    for c in &view.sync.cells {
        if !shows(&c.channel) {
            continue;
        }
        if c.count(SyncStatus::Failed) > 0 && c.failure_rate >= rules.fail_rate * CLEAR_RATIO {
            out.push(Cond {
                key: (AlertKind::SyncFailures, c.channel.clone(), Some(c.target)),
                value: c.failure_rate,
                limit: rules.fail_rate,
                marker: 0,
                event_ms: now,
                raises: c.failure_rate >= rules.fail_rate,
            });
        }
        if let Some(p95) = c.lag_p95_ms.filter(|p| *p >= rules.lag_ms * CLEAR_RATIO) {
            out.push(Cond {
                key: (AlertKind::SyncLag, c.channel.clone(), Some(c.target)),
                value: p95,
                limit: rules.lag_ms,
                marker: 0,
                event_ms: now,
                raises: p95 >= rules.lag_ms,
            });
        }
    }
    let mut stuck: Vec<Cond> = Vec::new();
    for s in &view.sync.stuck {
        if !shows(&s.channel) {
            continue;
        }
        if let Some(c) = stuck.iter_mut().find(|c| c.key.1 == s.channel) {
            c.value += 1.0;
            c.marker = c.marker.max(s.since_ms);
        } else {
            stuck.push(Cond {
                key: (AlertKind::Stuck, s.channel.clone(), None),
                value: 1.0,
                limit: view.sync.sla_ms as f64,
                marker: s.since_ms,
                event_ms: now,
                raises: true,
            });
        }
    }
    out.extend(stuck);
    out
}

/// Alert state across views.
#[derive(Debug, Default)]
pub struct Alerts {
    rows: HashMap<Key, AlertRow>,
    held: HashSet<Key>,
    created: VecDeque<i64>,
    next_id: u64,
}

impl Alerts {
    /// A fresh state.
    pub fn new() -> Self {
        Alerts::default()
    }

    /// Reads the conditions of `view` at wall time `now_ms`; returns the rows
    /// created or re-opened by this view (for notifications).
    pub fn update(
        &mut self,
        view: &View,
        rules: &Rules,
        shows: &dyn Fn(&str) -> bool,
        now_ms: i64,
    ) -> Vec<AlertRow> {
        while self
            .created
            .front()
            .is_some_and(|&t| t <= now_ms - RATE_WINDOW_MS)
        {
            self.created.pop_front();
        }
        let conds = conditions(view, rules, shows);
        let mut seen: HashSet<&Key> = HashSet::with_capacity(conds.len());
        let mut raised = Vec::new();
        for c in &conds {
            seen.insert(&c.key);
            if let Some(row) = self.rows.get_mut(&c.key) {
                let repeat = if row.active {
                    c.marker > row.marker
                } else {
                    c.raises
                };
                if !row.active && !c.raises {
                    continue;
                }
                row.value = c.value;
                row.limit = c.limit;
                if repeat {
                    row.count = row.count.saturating_add(1);
                    row.last_ms = now_ms;
                    row.event_ms = c.event_ms;
                    if !row.active {
                        row.acked = false;
                        raised.push(row.clone());
                    }
                }
                row.marker = row.marker.max(c.marker);
                row.active = true;
                continue;
            }
            if !c.raises || self.held.contains(&c.key) {
                continue;
            }
            if self.created.len() >= rules.per_minute || !self.make_room() {
                if self.held.len() < MAX_HELD {
                    self.held.insert(c.key.clone());
                }
                continue;
            }
            self.created.push_back(now_ms);
            self.next_id += 1;
            let row = AlertRow {
                id: self.next_id,
                kind: c.key.0,
                subject: c.key.1.clone(),
                target: c.key.2,
                value: c.value,
                limit: c.limit,
                event_ms: c.event_ms,
                first_ms: now_ms,
                last_ms: now_ms,
                count: 1,
                active: true,
                acked: false,
                marker: c.marker,
            };
            raised.push(row.clone());
            self.rows.insert(c.key.clone(), row);
        }
        // A condition is gone when its figures say so, not when its
        // operator was turned off (its rows and held conditions stay as
        // they were until it is back).
        let off = |k: &Key| view.operators_off.iter().any(|o| o == k.0.section());
        for (k, row) in &mut self.rows {
            if row.active && !seen.contains(k) && !off(k) {
                row.active = false;
            }
        }
        self.held.retain(|k| seen.contains(k) || off(k));
        raised
    }

    /// Frees a row slot when full: drops the oldest cleared or acknowledged
    /// row. False when every row is active and unacknowledged.
    fn make_room(&mut self) -> bool {
        if self.rows.len() < MAX_ROWS {
            return true;
        }
        let victim = self
            .rows
            .iter()
            .filter(|(_, r)| !r.active || r.acked)
            .min_by_key(|(_, r)| (r.last_ms, r.id))
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                self.rows.remove(&k);
                true
            }
            None => false,
        }
    }

    /// Acknowledges one row.
    pub fn ack(&mut self, id: u64) {
        if let Some(r) = self.rows.values_mut().find(|r| r.id == id) {
            r.acked = true;
        }
    }

    /// Acknowledges every row.
    pub fn ack_all(&mut self) {
        for r in self.rows.values_mut() {
            r.acked = true;
        }
    }

    /// Drops cleared rows.
    pub fn clear_resolved(&mut self) {
        self.rows.retain(|_, r| r.active);
    }

    /// The panel's view.
    pub fn view(&self, rules: &Rules) -> AlertsView {
        let mut rows: Vec<AlertRow> = self.rows.values().cloned().collect();
        let rank = |r: &AlertRow| match (r.active, r.acked) {
            (true, false) => 0,
            (true, true) => 1,
            _ => 2,
        };
        shoppulse_core::sort::sort_by(&mut rows, |a, b| {
            rank(a)
                .cmp(&rank(b))
                .then(b.last_ms.cmp(&a.last_ms))
                .then(b.id.cmp(&a.id))
        });
        let held: Vec<(AlertKind, u64)> = AlertKind::ALL
            .into_iter()
            .map(|k| (k, self.held.iter().filter(|h| h.0 == k).count() as u64))
            .filter(|(_, n)| *n > 0)
            .collect();
        AlertsView {
            open: rows.iter().filter(|r| rank(r) == 0).count() as u64,
            held_total: held.iter().map(|(_, n)| n).sum(),
            held,
            per_minute: rules.per_minute,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::id::Id;
    use shoppulse_core::view::{StockRow, SyncCell};

    fn stock(product: u64, q: i64, at: i64) -> StockRow {
        StockRow {
            product: Id::Num(product),
            quantity: q,
            threshold: 10,
            depletion_per_hour: 0.0,
            projected_stockout_ms: None,
            history: Vec::new(),
            updated_ms: at,
        }
    }

    fn low(rows: Vec<StockRow>) -> View {
        let mut v = View::default();
        v.inventory.low = rows;
        v
    }

    const ALL: &dyn Fn(&str) -> bool = &|_| true;

    #[test]
    fn repeats_coalesce_into_one_row_with_a_count() {
        let mut a = Alerts::new();
        let r = Rules::default();
        assert_eq!(a.update(&low(vec![stock(7, 5, 1)]), &r, ALL, 0).len(), 1);
        // Same state again: nothing new.
        assert!(a.update(&low(vec![stock(7, 5, 1)]), &r, ALL, 10).is_empty());
        // Updated again while low: a repeat.
        a.update(&low(vec![stock(7, 4, 2)]), &r, ALL, 20);
        a.update(&low(vec![stock(7, 3, 3)]), &r, ALL, 30);
        let v = a.view(&r);
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rows[0].count, 3);
        assert!((v.rows[0].value - 3.0).abs() < 1e-9, "{}", v.rows[0].value);
        // Cleared, then low again: the same row, re-opened.
        a.ack(v.rows[0].id);
        a.update(&low(vec![]), &r, ALL, 40);
        assert!(!a.view(&r).rows[0].active);
        let raised = a.update(&low(vec![stock(7, 2, 5)]), &r, ALL, 50);
        assert_eq!(raised.len(), 1);
        let v = a.view(&r);
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rows[0].count, 4);
        assert!(v.rows[0].active && !v.rows[0].acked);
    }

    #[test]
    fn storms_are_held_in_a_summary() {
        let mut a = Alerts::new();
        let r = Rules {
            per_minute: 3,
            ..Rules::default()
        };
        let many = low((0..50).map(|p| stock(p, 1, 1)).collect());
        assert_eq!(a.update(&many, &r, ALL, 0).len(), 3);
        // Held conditions are not counted twice.
        a.update(&many, &r, ALL, 1000);
        let v = a.view(&r);
        assert_eq!(v.rows.len(), 3);
        assert_eq!(v.held_total, 47);
        assert_eq!(v.held, vec![(AlertKind::LowStock, 47)]);
        // A minute later new conditions may raise rows again.
        let more = low((100..102).map(|p| stock(p, 1, 1)).collect());
        assert_eq!(a.update(&more, &r, ALL, 61_000).len(), 2);
        assert_eq!(
            a.view(&r).held_total,
            0,
            "held conditions that cleared are forgotten"
        );
    }

    /// A view whose one sync cell (web -> payment, lag p95 100 ms) fails at
    /// `rate`.
    fn failing(rate: f64) -> View {
        let mut v = View::default();
        v.sync.cells = vec![SyncCell {
            channel: "web".into(),
            target: Target::Payment,
            current: [0, 8, 2, 0],
            retries: 0,
            failure_rate: rate,
            lag_p50_ms: None,
            lag_p95_ms: Some(100.0),
            lag_p99_ms: None,
        }];
        v
    }

    #[test]
    fn sync_thresholds_with_hysteresis_and_hidden_channels() {
        let r = Rules::default();
        let mut a = Alerts::new();
        assert!(a.update(&failing(0.19), &r, ALL, 0).is_empty());
        assert_eq!(a.update(&failing(0.25), &r, ALL, 1).len(), 1);
        a.update(&failing(0.19), &r, ALL, 2);
        assert!(
            a.view(&r).rows[0].active,
            "still above 90% of the threshold"
        );
        a.update(&failing(0.1), &r, ALL, 3);
        assert!(!a.view(&r).rows[0].active);
        let mut b = Alerts::new();
        let hide_web: &dyn Fn(&str) -> bool = &|c| c != "web";
        assert!(b.update(&failing(0.5), &r, hide_web, 0).is_empty());
    }

    #[test]
    fn regression_sync_alerts_are_not_resolved_by_turning_sync_off() {
        let r = Rules::default();
        let mut a = Alerts::new();
        assert_eq!(a.update(&failing(0.5), &r, ALL, 0).len(), 1);
        // Turned off: the section is empty, the alert stays open; a low
        // product (inventory still computed) clears as usual.
        let mut off = low(vec![stock(7, 5, 1)]);
        off.operators_off = vec!["sync".into()];
        assert_eq!(a.update(&off, &r, ALL, 1).len(), 1);
        off.inventory.low.clear();
        a.update(&off, &r, ALL, 2);
        let rows = a.view(&r).rows;
        let active = |k: AlertKind| rows.iter().find(|x| x.kind == k).is_some_and(|x| x.active);
        assert!(
            active(AlertKind::SyncFailures),
            "not resolved by turning sync off"
        );
        assert!(!active(AlertKind::LowStock));
        // Back on with the cell healthy: now it clears.
        a.update(&failing(0.0), &r, ALL, 3);
        assert!(!a.view(&r).rows.iter().any(|x| x.active));
    }

    #[test]
    fn rows_are_bounded() {
        let mut a = Alerts::new();
        let r = Rules {
            per_minute: 1000,
            ..Rules::default()
        };
        let many = low((0..300).map(|p| stock(p, 1, 1)).collect());
        a.update(&many, &r, ALL, 0);
        let v = a.view(&r);
        assert_eq!(v.rows.len(), MAX_ROWS);
        assert_eq!(v.held_total, 200);
    }
}
