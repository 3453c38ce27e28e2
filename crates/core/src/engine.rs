//! The engine: applies events to every operator and yields the [`View`].
//!
//! One `Engine` per stream. It is `Serialize + Deserialize`: the gateway
//! runs one too and sends its serialized state as the `snapshot` frame, so a
//! dashboard that connects late starts complete and then applies the tail.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::{decode_event, DecodeError, ErrorClass, EXCERPT_LEN};
use crate::event::{Action, Body, Event, Kind, OrderStatus, Rejected};
use crate::id::Id;
use crate::ops::{
    behavior::BehaviorOp, inventory::InventoryOp, recs::RecsOp, sales::SalesOp, sync::SyncOp,
};
use crate::view::{HealthView, RecsView, RejectionLine, SyncView, UserRecs, View};

/// Operator settings. Every bound on memory is here or a documented constant.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Low stock at or below this quantity (the seed's 10).
    pub low_stock_threshold: i64,
    /// Per-product overrides of `low_stock_threshold`.
    pub product_thresholds: BTreeMap<Id, i64>,
    /// A low-stock product leaves the list only above `threshold + hysteresis`.
    pub low_stock_hysteresis: i64,
    /// Event-time lateness tolerated before an event counts as late.
    pub allowed_lateness_ms: i64,
    /// Pending/retrying longer than this (event time) is stuck.
    pub sync_sla_ms: i64,
    /// Lines kept in the behaviour log.
    pub log_len: usize,
    /// Window for "active shoppers".
    pub active_window_ms: i64,
    /// Distinct shoppers counted exactly up to this many, estimated above.
    pub exact_distinct_limit: usize,
    /// Products tracked by inventory (least recently updated evicted beyond).
    pub max_products: usize,
    /// (order, target) sync states kept, open or synced (the least recently
    /// updated order evicted beyond).
    pub max_open_syncs: usize,
    /// Compute the recommendations operator. A dashboard may turn it off to
    /// give its share of the CPU to the others (it is the costliest, about
    /// half of the operators' time): its state is then dropped, its view
    /// section empty and named in [`View::operators_off`]. Turning it back
    /// on starts it empty; the dashboard asks the gateway for a snapshot.
    pub compute_recs: bool,
    /// Compute the order-sync operator (as [`Config::compute_recs`]).
    pub compute_sync: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            low_stock_threshold: 10,
            product_thresholds: BTreeMap::new(),
            low_stock_hysteresis: 2,
            allowed_lateness_ms: 60_000,
            sync_sla_ms: 5 * 60_000,
            log_len: 200,
            active_window_ms: 5 * 60_000,
            exact_distinct_limit: 10_000,
            max_products: 100_000,
            max_open_syncs: 200_000,
            compute_recs: true,
            compute_sync: true,
        }
    }
}

impl Config {
    /// The operators these settings turn off, by view section name
    /// (`"recs"`, `"sync"`), sorted.
    pub fn operators_off(&self) -> Vec<&'static str> {
        let mut off = Vec::new();
        if !self.compute_recs {
            off.push("recs");
        }
        if !self.compute_sync {
            off.push("sync");
        }
        off
    }

    /// Low-stock threshold for `product`.
    pub fn threshold_for(&self, product: &Id) -> i64 {
        self.product_thresholds
            .get(product)
            .copied()
            .unwrap_or(self.low_stock_threshold)
    }
}

/// Events whose state [`Engine::apply_batch`] reads ahead before applying
/// them.
pub const WARM_AHEAD: usize = 64;

/// Latest rejections kept for display.
pub const RECENT_REJECTIONS: usize = 20;

/// Feed-health counters. Bounded: [`RECENT_REJECTIONS`] latest rejections;
/// per-class counts only for the known error classes plus `other`.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Health {
    applied: u64,
    applied_by_kind: [u64; 5],
    rejected: u64,
    rejected_by_class: BTreeMap<String, u64>,
    recent: Vec<RejectionLine>,
    inferred_time: u64,
    max_event_ms: i64,
    /// Events older than the watermark when they arrived (all kinds).
    #[serde(default)]
    late: u64,
}

impl Health {
    fn reject(&mut self, ts_ms: i64, r: &Rejected) {
        self.rejected += 1;
        // Bounded: only the known classes, anything else counts as "other".
        let class = ErrorClass::parse(&r.class).map_or("other", ErrorClass::as_str);
        *self.rejected_by_class.entry(class.to_owned()).or_insert(0) += 1;
        if self.recent.len() == RECENT_REJECTIONS {
            self.recent.pop();
        }
        self.recent.insert(
            0,
            RejectionLine {
                ts_ms,
                source: r.source.to_string(),
                line: r.line,
                class: r.class.to_string(),
                reason: r.reason.to_string(),
                excerpt: r.excerpt.to_string(),
            },
        );
    }
}

/// All operators over one stream.
///
/// Memory is bounded whatever the stream: every container's cap is a
/// [`Config`] field or a constant documented in its operator's module
/// ([`crate::ops`]); [`Engine::sizes`] reports the live sizes. Applying an
/// event is amortized O(1); [`Engine::view`] is O(shown rows) (about 0.25 ms
/// natively on a full engine).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Engine {
    config: Config,
    health: Health,
    behavior: BehaviorOp,
    inventory: InventoryOp,
    recs: RecsOp,
    sales: SalesOp,
    sync: SyncOp,
}

impl Engine {
    /// A fresh engine.
    pub fn new(config: Config) -> Self {
        Engine {
            config,
            ..Engine::default()
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the settings (thresholds take effect on the next view; an
    /// operator turned off drops its state at once).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
        self.drop_state_of_operators_off();
    }

    /// Frees the state of the operators the settings turn off (see
    /// [`Config::compute_recs`]).
    fn drop_state_of_operators_off(&mut self) {
        if !self.config.compute_recs {
            self.recs = RecsOp::default();
        }
        if !self.config.compute_sync {
            self.sync = SyncOp::default();
        }
    }

    /// Applies one event to every operator.
    ///
    /// "Now" is the newest event time seen (this event included). An order
    /// is *new* on the first `created`/`paid` event of its id (decided by the
    /// sales operator's bounded seen-set); only new orders feed inventory
    /// (oversold check), recommendations (co-purchase, trending) and the
    /// sync forecast, so a created-then-paid order counts once everywhere.
    pub fn apply(&mut self, ev: &Event) {
        if let Body::Rejected(r) = &ev.body {
            self.health.reject(ev.ts_ms, r);
            return;
        }
        let h = &mut self.health;
        h.applied += 1;
        let slot = match ev.body.kind() {
            Kind::Behavior => 0,
            Kind::Inventory => 1,
            Kind::Order => 2,
            Kind::Sync => 3,
            Kind::Sales | Kind::Rejected => 4,
        };
        h.applied_by_kind[slot] += 1;
        if ev.ts_inferred {
            h.inferred_time += 1;
        }
        if h.applied == 1 {
            h.max_event_ms = ev.ts_ms;
        } else {
            if ev.ts_ms
                < h.max_event_ms
                    .saturating_sub(self.config.allowed_lateness_ms)
            {
                h.late += 1;
            }
            h.max_event_ms = h.max_event_ms.max(ev.ts_ms);
        }
        let now = h.max_event_ms;
        let ts = ev.ts_ms;
        let cfg = &self.config;
        match &ev.body {
            Body::Behavior(b) => {
                self.behavior.on_behavior(ts, b, now, cfg);
                if b.action == Action::Purchase {
                    self.inventory.on_sale(ts, &b.product);
                }
                if cfg.compute_recs {
                    self.recs.on_behavior(ts, b);
                }
            }
            Body::Inventory(i) => self.inventory.on_inventory(ts, i, cfg),
            Body::Order(o) => {
                if self.sales.on_order(ts, o, now, cfg) {
                    self.inventory.on_new_order(ts, o);
                    if cfg.compute_recs {
                        self.recs.on_new_order(ts, o);
                    }
                    if cfg.compute_sync {
                        self.sync.on_new_order(ts, o);
                    }
                }
            }
            Body::Sync(s) => {
                if cfg.compute_sync {
                    self.sync.on_sync(ts, s, now, cfg);
                }
            }
            Body::Sales(f) => self.sales.on_figure(f),
            Body::Rejected(_) => {}
        }
        self.behavior.tick(now, cfg);
        self.sales.tick(now, cfg);
        if cfg.compute_sync && !matches!(ev.body, Body::Sync(_)) {
            self.sync.tick(now, cfg);
        }
    }

    /// Newest event time seen (epoch ms), 0 before the first event.
    pub fn now_ms(&self) -> i64 {
        self.health.max_event_ms
    }

    /// Sizes of every internal container, `(name, len)`: for tests and
    /// debugging that the bounds documented on the operators hold.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        let mut v = vec![
            ("health.recent", self.health.recent.len()),
            ("health.classes", self.health.rejected_by_class.len()),
        ];
        v.extend(self.behavior.sizes());
        v.extend(self.inventory.sizes());
        v.extend(self.recs.sizes());
        v.extend(self.sales.sizes());
        v.extend(self.sync.sizes());
        v
    }

    /// Applies a batch in order, exactly as [`Engine::apply`] on each event,
    /// but faster on a full engine: the operators' state is mostly cold
    /// hash-map entries, so for every [`WARM_AHEAD`] events it first reads
    /// (without changing anything) the entries they will touch, letting the
    /// CPU overlap those cache misses, then applies them one by one.
    pub fn apply_batch(&mut self, events: &[Event]) {
        for chunk in events.chunks(WARM_AHEAD) {
            let mut acc = 0u64;
            for ev in chunk {
                acc ^= self.warm(ev);
            }
            if self.config.compute_recs {
                for ev in chunk {
                    if let Body::Behavior(b) = &ev.body {
                        acc ^= self.recs.warm_partners(b);
                    }
                }
            }
            std::hint::black_box(acc);
            for ev in chunk {
                self.apply(ev);
            }
        }
    }

    /// Reads the entries `ev` will touch (see [`Engine::apply_batch`]).
    fn warm(&self, ev: &Event) -> u64 {
        let (recs, sync) = (self.config.compute_recs, self.config.compute_sync);
        match &ev.body {
            Body::Behavior(b) => {
                let mut acc = self.behavior.warm(b);
                if recs {
                    acc ^= self.recs.warm(b);
                }
                if b.action == Action::Purchase {
                    acc ^= self.inventory.warm(&b.product);
                }
                acc
            }
            Body::Inventory(i) => self.inventory.warm(&i.product),
            Body::Order(o) => {
                let mut acc = self.sales.warm(o);
                if matches!(o.status, OrderStatus::Created | OrderStatus::Paid) {
                    if recs {
                        acc ^= self.recs.warm_order(o);
                    }
                    for l in &o.lines {
                        acc ^= self.inventory.warm(&l.product);
                    }
                }
                acc
            }
            Body::Sync(s) if sync => self.sync.warm(s),
            Body::Sync(_) | Body::Sales(_) | Body::Rejected(_) => 0,
        }
    }

    /// Applies a batch, in order.
    pub fn apply_all<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        for ev in events {
            self.apply(ev);
        }
    }

    /// Decodes and applies one JSON event; a bad one is recorded as a
    /// rejection (source `source`) and its error returned.
    pub fn apply_json(
        &mut self,
        json: &str,
        fallback_ts_ms: i64,
        source: &str,
    ) -> Result<(), DecodeError> {
        match decode_event(json, fallback_ts_ms) {
            Ok(ev) => {
                self.apply(&ev);
                Ok(())
            }
            Err(e) => {
                self.record_rejection(fallback_ts_ms, source, None, &e, json);
                Err(e)
            }
        }
    }

    /// Records an input refused before it became an event.
    pub fn record_rejection(
        &mut self,
        ts_ms: i64,
        source: &str,
        line: Option<u64>,
        err: &DecodeError,
        input: &str,
    ) {
        let r = Rejected::from_error(source, line, err, input);
        self.health.reject(ts_ms, &r);
    }

    /// Marks every window not yet closed as possibly incomplete (after a
    /// feed gap).
    pub fn mark_gap(&mut self) {
        self.sales.mark_incomplete();
    }

    /// Events (of any kind) that arrived older than the watermark: counted,
    /// and still applied wherever an operator keeps their window. The sales
    /// view counts its late order events separately (`late_orders`).
    pub fn late_events(&self) -> u64 {
        self.health.late
    }

    /// Suggestions for one user (the per-user lookup).
    pub fn recommend_for(&self, user: &Id) -> UserRecs {
        self.recs
            .recommend_for(user, self.now_ms(), &self.inventory, &self.config)
    }

    /// The view model of the current state.
    pub fn view(&self) -> View {
        let h = &self.health;
        let now = h.max_event_ms;
        let watermark_ms = h
            .max_event_ms
            .saturating_sub(self.config.allowed_lateness_ms);
        let kinds = [
            Kind::Behavior,
            Kind::Inventory,
            Kind::Order,
            Kind::Sync,
            Kind::Sales,
        ];
        View {
            health: HealthView {
                applied: h.applied,
                applied_by_kind: kinds
                    .iter()
                    .zip(h.applied_by_kind)
                    .map(|(k, n)| (k.as_str().to_owned(), n))
                    .collect(),
                rejected: h.rejected,
                rejected_by_class: h
                    .rejected_by_class
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
                recent_rejections: h.recent.clone(),
                late: self.late_events(),
                inferred_time: h.inferred_time,
                max_event_ms: h.max_event_ms,
                watermark_ms,
            },
            behavior: self.behavior.view(now, &self.config),
            inventory: self.inventory.view(now, &self.config),
            recs: if self.config.compute_recs {
                self.recs.view(now, &self.inventory, &self.config)
            } else {
                RecsView::default()
            },
            sales: self.sales.view(now, &self.config),
            sync: if self.config.compute_sync {
                self.sync.view(now, &self.config)
            } else {
                SyncView::default()
            },
            operators_off: self
                .config
                .operators_off()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Settings changes from the dashboard.
impl Engine {
    /// Replaces the settings and re-evaluates every tracked product's
    /// low-stock state under the new thresholds (see
    /// `InventoryOp::reclassify`), so a changed threshold applies to stock
    /// already seen, not only to the next update.
    pub fn set_config_reclassify(&mut self, config: Config) {
        self.set_config(config);
        self.inventory.reclassify(&self.config);
    }
}

/// Read-only queries for the dashboard's drill-downs. They never change the
/// engine and their answers are bounded.
impl Engine {
    /// One product's stock (quantity, threshold, depletion, sparkline), if tracked.
    pub fn stock_of(&self, product: &Id) -> Option<crate::view::StockRow> {
        self.inventory
            .stock_row(product, self.now_ms(), &self.config)
    }

    /// Products most often seen with `product`, strongest first, at most
    /// `n` (never out of stock): `(product, count)`.
    pub fn bought_with(&self, product: &Id, n: usize) -> Vec<(Id, u64)> {
        self.recs.partners_of(product, &self.inventory, n)
    }

    /// `product`'s trending score now, if it is in the recommendations registry.
    pub fn trend_score(&self, product: &Id) -> Option<f64> {
        self.recs.trend_score(product, self.now_ms())
    }

    /// The current sync state of `order` per target seen.
    pub fn order_sync(&self, order: &Id) -> Vec<crate::view::OrderTargetState> {
        self.sync.order_states(order)
    }

    /// Unsynced orders of one (channel, target) cell: failed, then retrying,
    /// then pending, newest first; at most `limit`.
    pub fn cell_orders(
        &self,
        channel: &str,
        target: crate::event::Target,
        limit: usize,
    ) -> Vec<crate::view::OrderTargetState> {
        self.sync.cell_orders(channel, target, limit)
    }
}

/// Error class names, for callers that count rejections themselves.
pub fn class_names() -> impl Iterator<Item = &'static str> {
    ErrorClass::ALL.into_iter().map(ErrorClass::as_str)
}

/// Bytes of input kept per rejection (re-exported for the gateway).
pub const REJECTION_EXCERPT_LEN: usize = EXCERPT_LEN;
