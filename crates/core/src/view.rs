//! The immutable view model: what [`crate::engine::Engine::view`] yields for
//! the dashboard's views once per animation frame.
//!
//! Plain data, sorted deterministically, `PartialEq` so that a view section
//! that did not change does not re-render. Bounded: every list has a cap
//! (documented on the field), whatever the size of the stream.

use serde::{Deserialize, Serialize};

use crate::event::{Currency, SyncStatus, Target};
use crate::id::Id;

/// Everything the dashboard shows.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct View {
    /// Feed health: counters and latest rejection reasons.
    pub health: HealthView,
    /// Shopper behaviour.
    pub behavior: BehaviorView,
    /// Stock.
    pub inventory: InventoryView,
    /// Recommendations.
    pub recs: RecsView,
    /// Sales windows and business figures.
    pub sales: SalesView,
    /// Order sync to the four target systems.
    pub sync: SyncView,
    /// Sections whose operator the settings turn off (`"recs"`, `"sync"`,
    /// sorted): shown as not computed, their section empty.
    #[serde(default)]
    pub operators_off: Vec<String>,
}

/// Feed health.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct HealthView {
    /// Events applied to the operators (rejection notices not included).
    pub applied: u64,
    /// Applied events per kind, in [`crate::event::Kind::ALL`] order (rejected excluded).
    pub applied_by_kind: Vec<(String, u64)>,
    /// Input lines refused (by the gateway or by this engine's decoder).
    pub rejected: u64,
    /// Rejections per error class, sorted by class name; only non-zero.
    pub rejected_by_class: Vec<(String, u64)>,
    /// Latest rejections, newest first (at most 20).
    pub recent_rejections: Vec<RejectionLine>,
    /// Events that arrived older than the watermark (counted, still
    /// applied where an operator can, never silently dropped).
    pub late: u64,
    /// Events that carried no time of their own.
    pub inferred_time: u64,
    /// Newest event time seen (epoch ms), 0 before the first event.
    pub max_event_ms: i64,
    /// Watermark: `max_event_ms - allowed_lateness_ms`.
    pub watermark_ms: i64,
}

/// One refused input, for the feed-health strip.
#[derive(Clone, PartialEq, Debug, Serialize, serde::Deserialize)]
pub struct RejectionLine {
    /// Event time of the notice (epoch ms).
    pub ts_ms: i64,
    /// `ingest`, `replay`, `dashboard`...
    pub source: String,
    /// Line number in its request or file.
    pub line: Option<u64>,
    /// Error class wire name.
    pub class: String,
    /// Readable reason.
    pub reason: String,
    /// Start of the bad input.
    pub excerpt: String,
}

/// Per-action counts: `[browse, add_to_cart, remove_from_cart, checkout, purchase, other]`.
pub type ActionCounts = [u64; 6];

/// Shopper behaviour.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct BehaviorView {
    /// Readable log, newest first (at most `Config::log_len`, default 200).
    pub log: Vec<LogLine>,
    /// Counts per action over the last minute of event time.
    pub counts_1m: ActionCounts,
    /// ... last 5 minutes.
    pub counts_5m: ActionCounts,
    /// ... last hour.
    pub counts_1h: ActionCounts,
    /// Counts per action since the start.
    pub counts_total: ActionCounts,
    /// Per-minute counts per action for the last 60 minutes, oldest first:
    /// `(minute_start_ms, counts)`.
    pub per_minute: Vec<(i64, ActionCounts)>,
    /// Funnel over shoppers (session, or user when no session) seen in the
    /// funnel horizon.
    pub funnel: Funnel,
    /// Distinct shoppers active in the last 5 minutes of event time.
    pub active_shoppers: u64,
    /// True when `active_shoppers` is exact, false when estimated (`HyperLogLog`).
    pub active_exact: bool,
    /// Most viewed/bought products (heavy hitters, Space-Saving with 64
    /// counters), at most 10, by score desc then id; score = browse 1 + add
    /// to cart 3 + purchase 5.
    pub top_products: Vec<ProductCount>,
}

/// One line of the behaviour log.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LogLine {
    /// Event time (epoch ms).
    pub ts_ms: i64,
    /// Who.
    pub user: Id,
    /// Which product.
    pub product: Id,
    /// Action wire name.
    pub action: String,
    /// The readable line, as in the seed: "User 1 is browsing product 101".
    pub text: String,
}

/// Shoppers reaching each funnel step.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Funnel {
    /// Shoppers who browsed.
    pub browse: u64,
    /// Shoppers who added to cart.
    pub cart: u64,
    /// Shoppers who started checkout.
    pub checkout: u64,
    /// Shoppers who purchased.
    pub purchase: u64,
}

/// A product with a count (top products).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ProductCount {
    /// Which product.
    pub product: Id,
    /// Estimated count (Space-Saving upper bound).
    pub count: u64,
    /// Maximum overestimation of `count`.
    pub error: u64,
}

/// Stock.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct InventoryView {
    /// Products tracked.
    pub tracked: u64,
    /// Low-stock products (0 < quantity <= threshold, with hysteresis),
    /// lowest quantity first, then id; at most 100.
    pub low: Vec<StockRow>,
    /// Out of stock (quantity == 0), by id; at most 100.
    pub out: Vec<StockRow>,
    /// Oversold (quantity < 0, or a purchase seen while at zero), by id; at most 100.
    pub oversold: Vec<StockRow>,
    /// Warnings as in the seed ("Warning: Product 103 is low on stock"),
    /// newest first, at most 50.
    pub warnings: Vec<String>,
    /// Total counts (the lists above are capped).
    pub low_count: u64,
    /// Count of out-of-stock products.
    pub out_count: u64,
    /// Count of oversold products.
    pub oversold_count: u64,
}

/// One product's stock.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct StockRow {
    /// Which product.
    pub product: Id,
    /// Latest quantity on hand.
    pub quantity: i64,
    /// Low-stock threshold in force for this product.
    pub threshold: i64,
    /// Depletion rate over the recent past, units per hour (0 when not depleting).
    pub depletion_per_hour: f64,
    /// Projected event time of stock-out at that rate, when depleting.
    pub projected_stockout_ms: Option<i64>,
    /// Recent quantities for a sparkline, oldest first (at most 32): `(ts_ms, quantity)`.
    pub history: Vec<(i64, i64)>,
    /// Event time of the latest update.
    pub updated_ms: i64,
}

/// Recommendations.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct RecsView {
    /// Trending products (exponentially decayed score), best first, at most 10;
    /// never out of stock.
    pub trending: Vec<Scored>,
    /// Strongest co-occurring pairs, at most 10: `(a, b, count)`, a < b.
    pub co_purchase: Vec<(Id, Id, u64)>,
    /// Suggestions for the most recently active users, at most 20 users.
    pub for_users: Vec<UserRecs>,
}

/// A product with a score.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Scored {
    /// Which product.
    pub product: Id,
    /// Score (higher is better).
    pub score: f64,
}

/// Suggestions for one user.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct UserRecs {
    /// Which user.
    pub user: Id,
    /// Suggested products, best first, at most 5; never out of stock.
    pub products: Vec<Id>,
    /// Why, readable ("bought with 101", "trending", "you purchased").
    pub reasons: Vec<String>,
}

/// Sales.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct SalesView {
    /// Currency of the money figures (the first seen; other currencies are
    /// counted in `other_currency_orders`).
    pub currency: Option<Currency>,
    /// Per-minute windows, oldest first (last 60).
    pub minutes: Vec<SalesWindow>,
    /// Per-hour windows, oldest first (last 48).
    pub hours: Vec<SalesWindow>,
    /// Per-day windows, oldest first (last 31).
    pub days: Vec<SalesWindow>,
    /// Totals since the start, per channel sorted by name, plus `total`.
    pub by_channel: Vec<ChannelTotals>,
    /// All channels together.
    pub total: ChannelTotals,
    /// Orders in another currency than `currency` (not added to money totals).
    pub other_currency_orders: u64,
    /// Order events later than the watermark allows (counted, shown).
    pub late_orders: u64,
    /// Business figures as given, in arrival order, at most 100:
    /// "Sales on 2021-09-01: 1000".
    pub figures: Vec<FigureLine>,
}

/// One event-time window.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct SalesWindow {
    /// Window start (epoch ms).
    pub start_ms: i64,
    /// Window length (ms).
    pub len_ms: i64,
    /// Per channel, sorted by name.
    pub by_channel: Vec<ChannelTotals>,
    /// All channels.
    pub total: ChannelTotals,
    /// True once the watermark has passed the window end.
    pub closed: bool,
    /// True when the window may be missing events (a gap in the feed).
    pub incomplete: bool,
}

/// Revenue and orders of one channel (or all).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ChannelTotals {
    /// Channel name (`"total"` for all).
    pub channel: String,
    /// Revenue in minor units (refunds and cancellations subtract).
    pub revenue_cents: i64,
    /// Orders placed.
    pub orders: u64,
    /// Orders cancelled or refunded.
    pub cancelled: u64,
    /// `revenue_cents / orders`, rounded down; 0 with no orders.
    pub aov_cents: i64,
}

/// A business figure line.
#[derive(Clone, PartialEq, Debug, Serialize, serde::Deserialize)]
pub struct FigureLine {
    /// Bucket label as given.
    pub bucket: String,
    /// Figure as given.
    pub sales_text: String,
    /// Figure as a number.
    pub sales: f64,
    /// "Sales on 2021-09-01: 1000".
    pub text: String,
}

/// Order sync.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct SyncView {
    /// One cell per (channel, target) seen, channels sorted by name, targets in
    /// [`Target::ALL`] order.
    pub cells: Vec<SyncCell>,
    /// Orders stuck in pending or retrying longer than the SLA, oldest first,
    /// at most 50.
    pub stuck: Vec<StuckOrder>,
    /// Total stuck (the list is capped).
    pub stuck_count: u64,
    /// Invalid transitions, newest first, at most 50.
    pub invalid: Vec<InvalidTransition>,
    /// Total invalid transitions seen.
    pub invalid_count: u64,
    /// Lag distribution per channel (all targets): bucket upper bounds in ms
    /// and counts, for a histogram.
    pub lag_histograms: Vec<LagHistogram>,
    /// Order-volume forecast per channel for the next minute.
    pub forecast: Vec<Forecast>,
    /// SLA in force (ms of event time).
    pub sla_ms: i64,
}

/// One (channel, target) cell of the sync matrix.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct SyncCell {
    /// Channel.
    pub channel: String,
    /// Target system.
    pub target: Target,
    /// Orders currently in each status, in [`SyncStatus::ALL`] order.
    pub current: [u64; 4],
    /// Retry attempts seen (attempt > 1).
    pub retries: u64,
    /// Failures / (failures + successes) over all finished attempts.
    pub failure_rate: f64,
    /// Lag percentiles in ms (None until a latency is seen).
    pub lag_p50_ms: Option<f64>,
    /// 95th percentile.
    pub lag_p95_ms: Option<f64>,
    /// 99th percentile.
    pub lag_p99_ms: Option<f64>,
}

impl SyncCell {
    /// Orders in `status` now.
    pub fn count(&self, status: SyncStatus) -> u64 {
        self.current[status.slot()]
    }
}

/// An order stuck in pending or retrying.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct StuckOrder {
    /// Which order.
    pub order: Id,
    /// Its channel.
    pub channel: String,
    /// Which target it is stuck on.
    pub target: Target,
    /// Pending or retrying.
    pub status: SyncStatus,
    /// Since when (event time, ms).
    pub since_ms: i64,
    /// How long, in event time, as of the newest event.
    pub stuck_for_ms: i64,
    /// Last error text, if any.
    pub last_error: Option<String>,
}

/// An order-state transition that should not happen.
#[derive(Clone, PartialEq, Debug, Serialize, serde::Deserialize)]
pub struct InvalidTransition {
    /// Event time.
    pub ts_ms: i64,
    /// Which order.
    pub order: Id,
    /// Its channel.
    pub channel: String,
    /// Which target.
    pub target: Target,
    /// Readable reason ("logistics synced before payment").
    pub reason: String,
}

/// Lag histogram for one channel.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LagHistogram {
    /// Channel.
    pub channel: String,
    /// `(upper_bound_ms, count)`, ascending; the last bound is `u64::MAX`.
    pub buckets: Vec<(u64, u64)>,
}

/// Order-volume forecast for one channel.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Forecast {
    /// Channel.
    pub channel: String,
    /// Orders in the last complete minute.
    pub last_minute_orders: u64,
    /// Forecast orders for the next minute (Holt's linear smoothing).
    pub next_minute_orders: f64,
}

/// The current sync state of one (order, target): the drill-downs' answer
/// ([`crate::engine::Engine::order_sync`], [`crate::engine::Engine::cell_orders`]).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct OrderTargetState {
    /// Which order.
    pub order: Id,
    /// Its channel.
    pub channel: String,
    /// Which target system.
    pub target: Target,
    /// Latest status.
    pub status: SyncStatus,
    /// Latest attempt number.
    pub attempt: u32,
    /// Event time the status began (an open state keeps its first time).
    pub since_ms: i64,
    /// Last error text, if any (cleared once synced).
    pub last_error: Option<String>,
}
