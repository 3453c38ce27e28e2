//! Inventory operator: latest stock per product, low / out / oversold
//! states with hysteresis, warnings, depletion rate and projected stock-out.
//!
//! ## Design
//! - Only `inventory` events set the quantity (the latest by event time; an
//!   inventory event older than the product's latest update is ignored).
//!   Orders and purchases never change stock, but a behaviour purchase, or a
//!   new order (first `created`/`paid` of its id) with a line for the
//!   product, while the quantity is 0 or below marks the product *oversold*
//!   until stock is set above 0 again.
//! - **Low stock with hysteresis**: a product enters the alert state when
//!   `q <= threshold` (`Config::threshold_for`, evaluated on each update) and
//!   leaves it only when `q > threshold + Config::low_stock_hysteresis`.
//!   Listed as *low* while alerting with `q > 0`, *out* when `q == 0`,
//!   *oversold* when `q < 0` or flagged. Entering the alert state emits
//!   "Warning: Product 103 is low on stock" (also for a drop straight to 0);
//!   becoming oversold emits "Warning: Product 103 is oversold". The seed
//!   stream (101 -> 100, 102 -> 50, 103 -> 0) yields exactly one warning.
//! - The three lists are kept as ordered sets, updated only when a
//!   product's state or quantity changes, so the view is O(shown rows).
//! - **Depletion**: each product keeps its last [`HISTORY_LEN`] `(ts, qty)`
//!   points (the sparkline). The rate is the sum of decreases between
//!   consecutive points whose later point falls in the last
//!   [`DEPLETION_WINDOW_MS`] (1 h) of event time, divided by the time from
//!   the start of that run (at most 1 h, at least 1 min) to "now";
//!   `projected_stockout_ms = now + q / rate` when `q > 0` and the rate is
//!   positive.
//!
//! ## Bounds
//! `Config::max_products` products (least recently updated evicted), each
//! with at most [`HISTORY_LEN`] points; [`MAX_WARNINGS`] warnings; the view
//! lists at most [`MAX_ROWS`] rows each.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Inventory, Order};
use crate::id::Id;
use crate::ops::common::{push_newest, Lru};
use crate::time::{HOUR_MS, MINUTE_MS};
use crate::view::{InventoryView, StockRow};

/// Points kept per product for the sparkline and the depletion rate.
pub const HISTORY_LEN: usize = 32;
/// Warnings kept.
pub const MAX_WARNINGS: usize = 50;
/// Rows shown per list.
pub const MAX_ROWS: usize = 100;
/// Event-time window of the depletion rate.
pub const DEPLETION_WINDOW_MS: i64 = HOUR_MS;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Product {
    qty: i64,
    updated: i64,
    alert: bool,
    flagged: bool,
    history: VecDeque<(i64, i64)>,
}

/// List membership of a product at one moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Cats {
    qty: i64,
    low: bool,
    out: bool,
    oversold: bool,
}

impl Product {
    fn cats(&self) -> Cats {
        Cats {
            qty: self.qty,
            low: self.low(),
            out: self.out(),
            oversold: self.oversold(),
        }
    }
    fn low(&self) -> bool {
        self.alert && self.qty > 0
    }
    fn out(&self) -> bool {
        self.qty == 0
    }
    fn oversold(&self) -> bool {
        self.qty < 0 || self.flagged
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
enum WarningKind {
    Low,
    Oversold,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Warning {
    ts: i64,
    product: Id,
    kind: WarningKind,
}

/// Inventory state. Bounds: see the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InventoryOp {
    products: Lru<Id, Product>,
    seq: u64,
    low: BTreeSet<(i64, Id)>,
    out: BTreeSet<Id>,
    oversold: BTreeSet<Id>,
    warnings: VecDeque<Warning>,
}

impl InventoryOp {
    fn unlist(&mut self, id: &Id, c: Cats) {
        if c.low {
            self.low.remove(&(c.qty, id.clone()));
        }
        if c.out {
            self.out.remove(id);
        }
        if c.oversold {
            self.oversold.remove(id);
        }
    }

    fn list(&mut self, id: &Id, c: Cats) {
        if c.low {
            self.low.insert((c.qty, id.clone()));
        }
        if c.out {
            self.out.insert(id.clone());
        }
        if c.oversold {
            self.oversold.insert(id.clone());
        }
    }

    /// Reads, without changing anything, the entry of `product`
    /// (for [`crate::Engine::apply_batch`]).
    pub fn warm(&self, product: &Id) -> u64 {
        self.products
            .get(product)
            .map_or(0, |p| p.qty.unsigned_abs())
    }

    /// Applies an inventory event.
    pub fn on_inventory(&mut self, ts: i64, inv: &Inventory, cfg: &Config) {
        self.seq += 1;
        let (p, inserted) = self.products.touch(&inv.product, self.seq, || Product {
            qty: 0,
            updated: ts,
            alert: false,
            flagged: false,
            history: VecDeque::new(),
        });
        if !inserted && ts < p.updated {
            return;
        }
        let before = (!inserted).then(|| p.cats());
        let thr = cfg.threshold_for(&inv.product);
        let q = inv.quantity;
        let was_alert = p.alert;
        let was_oversold = !inserted && p.oversold();
        p.qty = q;
        p.updated = ts;
        if q <= thr {
            p.alert = true;
        } else if q > thr.saturating_add(cfg.low_stock_hysteresis) {
            p.alert = false;
        }
        if q > 0 {
            p.flagged = false;
        }
        if p.history.len() >= HISTORY_LEN {
            p.history.pop_front();
        }
        p.history.push_back((ts, q));
        let after = p.cats();
        let alert = p.alert;
        let id = &inv.product;
        if before != Some(after) {
            if let Some(b) = before {
                self.unlist(id, b);
            }
            self.list(id, after);
        }
        if alert && !was_alert {
            self.warn(ts, id, WarningKind::Low);
        }
        if after.oversold && !was_oversold {
            self.warn(ts, id, WarningKind::Oversold);
        }
        while self.products.len() > cfg.max_products {
            match self.products.pop_oldest() {
                Some((old, p)) => self.unlist(&old, p.cats()),
                None => break,
            }
        }
    }

    fn warn(&mut self, ts: i64, product: &Id, kind: WarningKind) {
        push_newest(
            &mut self.warnings,
            Warning {
                ts,
                product: product.clone(),
                kind,
            },
            MAX_WARNINGS,
        );
    }

    /// A sale of `product` was seen (behaviour purchase or new order line):
    /// flags it oversold when its stock is known to be 0 or below.
    pub fn on_sale(&mut self, ts: i64, product: &Id) {
        let Some(p) = self.products.get_mut(product) else {
            return;
        };
        if p.qty > 0 || p.flagged {
            return;
        }
        let was = p.oversold();
        p.flagged = true;
        if !was {
            self.oversold.insert(product.clone());
            self.warn(ts, product, WarningKind::Oversold);
        }
    }

    /// A new order: every line is a sale.
    pub fn on_new_order(&mut self, ts: i64, o: &Order) {
        for l in &o.lines {
            if l.quantity > 0 {
                self.on_sale(ts, &l.product);
            }
        }
    }

    /// True when the product is known to be out of stock (quantity <= 0).
    pub fn is_out_of_stock(&self, p: &Id) -> bool {
        self.products.get(p).is_some_and(|s| s.qty <= 0)
    }

    /// Latest known quantity of a product.
    pub fn quantity(&self, p: &Id) -> Option<i64> {
        self.products.get(p).map(|s| s.qty)
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        let max_hist = self
            .products
            .iter()
            .map(|(_, _, p)| p.history.len())
            .max()
            .unwrap_or(0);
        vec![
            ("inventory.products", self.products.len()),
            ("inventory.queue", self.products.queue_len()),
            ("inventory.low", self.low.len()),
            ("inventory.out", self.out.len()),
            ("inventory.oversold", self.oversold.len()),
            ("inventory.warnings", self.warnings.len()),
            ("inventory.max_history", max_hist),
        ]
    }

    fn row(&self, id: &Id, now: i64, cfg: &Config) -> Option<StockRow> {
        let p = self.products.get(id)?;
        let (rate, stockout) = depletion(&p.history, p.qty, now);
        Some(StockRow {
            product: id.clone(),
            quantity: p.qty,
            threshold: cfg.threshold_for(id),
            depletion_per_hour: rate,
            projected_stockout_ms: stockout,
            history: p.history.iter().copied().collect(),
            updated_ms: p.updated,
        })
    }

    /// The inventory view as of `now`.
    pub fn view(&self, now: i64, cfg: &Config) -> InventoryView {
        InventoryView {
            tracked: self.products.len() as u64,
            low: self
                .low
                .iter()
                .take(MAX_ROWS)
                .filter_map(|(_, id)| self.row(id, now, cfg))
                .collect(),
            out: self
                .out
                .iter()
                .take(MAX_ROWS)
                .filter_map(|id| self.row(id, now, cfg))
                .collect(),
            oversold: self
                .oversold
                .iter()
                .take(MAX_ROWS)
                .filter_map(|id| self.row(id, now, cfg))
                .collect(),
            warnings: self
                .warnings
                .iter()
                .map(|w| match w.kind {
                    WarningKind::Low => format!("Warning: Product {} is low on stock", w.product),
                    WarningKind::Oversold => format!("Warning: Product {} is oversold", w.product),
                })
                .collect(),
            low_count: self.low.len() as u64,
            out_count: self.out.len() as u64,
            oversold_count: self.oversold.len() as u64,
        }
    }
}

/// `(units per hour, projected stock-out time)` from a product's history.
#[allow(clippy::cast_possible_truncation)] // reason: a projected time in ms, far inside i64
pub fn depletion(history: &VecDeque<(i64, i64)>, qty: i64, now: i64) -> (f64, Option<i64>) {
    let from = now.saturating_sub(DEPLETION_WINDOW_MS);
    let mut decrease = 0i64;
    let mut start: Option<i64> = None;
    for (a, b) in history.iter().zip(history.iter().skip(1)) {
        if b.0 >= from {
            start.get_or_insert(a.0.max(from));
            decrease = decrease.saturating_add(a.1.saturating_sub(b.1).max(0));
        }
    }
    let Some(start) = start else {
        return (0.0, None);
    };
    if decrease == 0 {
        return (0.0, None);
    }
    let span = now.saturating_sub(start).max(MINUTE_MS);
    let per_ms = decrease as f64 / span as f64;
    let per_hour = per_ms * HOUR_MS as f64;
    let stockout = (qty > 0).then(|| now.saturating_add((qty as f64 / per_ms).ceil() as i64));
    (per_hour, stockout)
}

/// Read-only query for the dashboard's product drill-down.
impl InventoryOp {
    /// One product's stock row (quantity, threshold, depletion, history), if tracked.
    pub fn stock_row(&self, id: &Id, now: i64, cfg: &Config) -> Option<StockRow> {
        self.row(id, now, cfg)
    }
}

/// Re-evaluation after a threshold change (the dashboard's settings).
impl InventoryOp {
    /// Re-evaluates every tracked product's low-stock state under `cfg`,
    /// with the same rule and hysteresis as an update, and moves it between
    /// the low / out / oversold lists. Emits no warning (warnings record
    /// stock *updates* that crossed the line). O(tracked products).
    pub fn reclassify(&mut self, cfg: &Config) {
        let ids: Vec<Id> = self.products.iter().map(|(k, _, _)| k.clone()).collect();
        for id in ids {
            let Some(p) = self.products.get_mut(&id) else {
                continue;
            };
            let before = p.cats();
            let thr = cfg.threshold_for(&id);
            if p.qty <= thr {
                p.alert = true;
            } else if p.qty > thr.saturating_add(cfg.low_stock_hysteresis) {
                p.alert = false;
            }
            let after = p.cats();
            if before != after {
                self.unlist(&id, before);
                self.list(&id, after);
            }
        }
    }
}
