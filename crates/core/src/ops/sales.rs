//! Sales operator: tumbling event-time windows of revenue and orders per
//! channel, lateness against the watermark, and the business figures.
//!
//! ## Design
//! - **Counting an order once**: the first `created` or `paid` event of an
//!   order id counts the order (`orders += 1`, `revenue += total`) in the
//!   windows of that event's time; later `created`/`paid` events of the same
//!   id are ignored. `cancelled` (once per id) subtracts what is left of
//!   the order's counted total in the windows of the *cancellation* event
//!   and counts it `cancelled`. `refunded` gives back the event's total
//!   taken as an amount (whatever its sign): for a placed order, an amount
//!   smaller than what is left is a *partial* refund (subtracted, the
//!   order stays placed and can be refunded again), and an amount of 0 or
//!   at least what is left reverses the rest and counts it `cancelled`.
//!   For an order never seen, the first `cancelled`/`refunded` subtracts
//!   the event's amount once. (Duplicate webhook deliveries are dropped by
//!   the gateway before they reach the operator.)
//!   Other statuses (`fulfilled`...) do not change sales. Seen ids are kept
//!   by stable 64-bit hash in a bounded set ([`MAX_SEEN_ORDERS`], least
//!   recently seen forgotten first).
//! - **Currency**: the first currency seen is the display currency; orders
//!   in any other currency are counted once in `other_currency_orders` and
//!   never summed.
//! - **Windows**: rings of 60 minutes, 48 hours and 31 days. Each window
//!   holds totals per channel (interned, at most 64 channels) and overall.
//! - **Lateness**: watermark = newest event time − `Config::allowed_lateness_ms`.
//!   An order event older than the watermark is counted in `late_orders` and
//!   still applied: to every window ring that still retains its window, and
//!   always to the totals by channel. Nothing is dropped silently.
//! - `closed` = the watermark has passed the window end; [`SalesOp::mark_incomplete`]
//!   flags every retained window not yet closed (after a feed gap).
//! - **Figures**: "Sales on 2021-09-01: 1000", the last [`MAX_FIGURES`] in
//!   arrival order.
//! - The view lists each ring's windows contiguously (empty ones as zeros)
//!   from the first event's window to "now"; a window's `by_channel` lists
//!   only channels with activity in it.
//!
//! ## Bounds
//! 60 + 48 + 31 windows x at most 64 channels; [`MAX_SEEN_ORDERS`] order
//! ids; [`MAX_FIGURES`] figures; 64 channels.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::engine::Config;
use crate::event::{Currency, Order, OrderStatus, SalesFigure};
use crate::ops::common::{id_hash, Channels, Lru, Ring};
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::view::{ChannelTotals, FigureLine, SalesView, SalesWindow};

/// Order ids remembered for counting once (oldest forgotten first).
pub const MAX_SEEN_ORDERS: usize = 100_000;
/// Business figures kept.
pub const MAX_FIGURES: usize = 100;
/// Minute windows kept.
pub const MINUTES_KEPT: usize = 60;
/// Hour windows kept.
pub const HOURS_KEPT: usize = 48;
/// Day windows kept.
pub const DAYS_KEPT: usize = 31;

/// Revenue and counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Revenue in minor units.
    pub revenue: i64,
    /// Orders counted.
    pub orders: u64,
    /// Orders cancelled or refunded.
    pub cancelled: u64,
}

impl Totals {
    fn is_zero(&self) -> bool {
        *self == Totals::default()
    }

    fn view(&self, channel: &str) -> ChannelTotals {
        ChannelTotals {
            channel: channel.to_owned(),
            revenue_cents: self.revenue,
            orders: self.orders,
            cancelled: self.cancelled,
            aov_cents: if self.orders == 0 {
                0
            } else {
                self.revenue
                    .div_euclid(i64::try_from(self.orders).unwrap_or(i64::MAX))
            },
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Win {
    by_channel: Vec<Totals>,
    total: Totals,
    incomplete: bool,
}

/// What is known of an order id (JSON: `[total, flags]`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(into = "(i64, u8)", from = "(i64, u8)")]
struct Seen {
    /// What is left of the total counted, after partial refunds (0 for a
    /// foreign-currency or never-placed order).
    total: i64,
    /// Counted as placed.
    placed: bool,
    /// Cancellation applied.
    cancelled: bool,
    /// In another currency than the display currency.
    foreign: bool,
}

impl From<Seen> for (i64, u8) {
    fn from(s: Seen) -> Self {
        (
            s.total,
            u8::from(s.placed) | u8::from(s.cancelled) << 1 | u8::from(s.foreign) << 2,
        )
    }
}

impl From<(i64, u8)> for Seen {
    fn from((total, f): (i64, u8)) -> Self {
        Seen {
            total,
            placed: f & 1 != 0,
            cancelled: f & 2 != 0,
            foreign: f & 4 != 0,
        }
    }
}

#[derive(Clone, Copy)]
enum Effect {
    Place(i64),
    /// The order is reversed (what is left of it).
    Cancel(i64),
    /// Part of the order is given back; it stays counted as an order.
    Refund(i64),
}

/// Sales state. Bounds: see the module docs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SalesOp {
    channels: Channels,
    currency: Option<Currency>,
    /// Keyed by the order id's stable hash.
    seen: Lru<u64, Seen>,
    seq: u64,
    minutes: Ring<Win>,
    hours: Ring<Win>,
    days: Ring<Win>,
    by_channel: Vec<Totals>,
    total: Totals,
    other_currency_orders: u64,
    late_orders: u64,
    watermark: i64,
    first_ms: Option<i64>,
    figures: VecDeque<FigureLine>,
}

impl Default for SalesOp {
    fn default() -> Self {
        SalesOp {
            channels: Channels::default(),
            currency: None,
            seen: Lru::default(),
            seq: 0,
            minutes: Ring::new(MINUTES_KEPT, MINUTE_MS),
            hours: Ring::new(HOURS_KEPT, HOUR_MS),
            days: Ring::new(DAYS_KEPT, DAY_MS),
            by_channel: Vec::new(),
            total: Totals::default(),
            other_currency_orders: 0,
            late_orders: 0,
            watermark: i64::MIN,
            first_ms: None,
            figures: VecDeque::new(),
        }
    }
}

fn apply_totals(t: &mut Totals, e: Effect) {
    match e {
        Effect::Place(v) => {
            t.revenue = t.revenue.saturating_add(v);
            t.orders += 1;
        }
        Effect::Cancel(v) => {
            t.revenue = t.revenue.saturating_sub(v);
            t.cancelled += 1;
        }
        Effect::Refund(v) => t.revenue = t.revenue.saturating_sub(v),
    }
}

fn apply_win(ring: &mut Ring<Win>, ts: i64, now: i64, chan: u16, e: Effect) {
    if let Some(w) = ring.slot_mut(ts, now) {
        let c = usize::from(chan);
        if w.by_channel.len() <= c {
            w.by_channel.resize(c + 1, Totals::default());
        }
        apply_totals(&mut w.by_channel[c], e);
        apply_totals(&mut w.total, e);
    }
}

impl SalesOp {
    /// Reads, without changing anything, the seen-set entry of `o`, or the
    /// entry its insert would evict (for [`crate::Engine::apply_batch`]).
    pub fn warm(&self, o: &Order) -> u64 {
        match self.seen.get(&id_hash(&o.order)) {
            Some(s) => s.total.unsigned_abs(),
            None if self.seen.len() >= MAX_SEEN_ORDERS => self
                .seen
                .peek_oldest()
                .map_or(0, |s| s.total.unsigned_abs()),
            None => 0,
        }
    }

    /// Applies an order event; returns true when it is a *new* order (the
    /// first `created`/`paid` of its id), which other operators react to.
    pub fn on_order(&mut self, ts: i64, o: &Order, now: i64, cfg: &Config) -> bool {
        self.watermark = now.saturating_sub(cfg.allowed_lateness_ms);
        self.first_ms = Some(self.first_ms.map_or(ts, |f| f.min(ts)));
        if ts < self.watermark {
            self.late_orders += 1;
        }
        let currency = *self.currency.get_or_insert(o.currency);
        let foreign = o.currency != currency;
        let placing = matches!(o.status, OrderStatus::Created | OrderStatus::Paid);
        let cancelling = matches!(o.status, OrderStatus::Cancelled | OrderStatus::Refunded);
        if !placing && !cancelling {
            return false;
        }
        self.seq += 1;
        let (seen, _) = self.seen.touch(&id_hash(&o.order), self.seq, || Seen {
            total: 0,
            placed: false,
            cancelled: false,
            foreign,
        });
        let mut new_order = false;
        let effect = if placing {
            if seen.placed || seen.cancelled {
                None
            } else {
                seen.placed = true;
                new_order = true;
                if seen.foreign {
                    self.other_currency_orders += 1;
                    None
                } else {
                    seen.total = o.total_cents;
                    Some(Effect::Place(o.total_cents))
                }
            }
        } else if seen.cancelled {
            None
        } else {
            // A refund carries the amount given back; sources write it
            // positive or negative (the online-retail `C` invoices,
            // WooCommerce refunds), and it always reduces revenue.
            let amount = o.total_cents.saturating_abs();
            let partial = matches!(o.status, OrderStatus::Refunded)
                && seen.placed
                && !seen.foreign
                && amount > 0
                && amount < seen.total;
            if partial {
                seen.total -= amount;
                Some(Effect::Refund(amount))
            } else {
                seen.cancelled = true;
                if seen.foreign {
                    if !seen.placed {
                        self.other_currency_orders += 1;
                    }
                    None
                } else {
                    Some(Effect::Cancel(if seen.placed {
                        seen.total
                    } else {
                        amount
                    }))
                }
            }
        };
        while self.seen.len() > MAX_SEEN_ORDERS {
            self.seen.pop_oldest();
        }
        if let Some(e) = effect {
            let chan = self.channels.intern(&o.channel);
            let c = usize::from(chan);
            if self.by_channel.len() <= c {
                self.by_channel.resize(c + 1, Totals::default());
            }
            apply_totals(&mut self.by_channel[c], e);
            apply_totals(&mut self.total, e);
            apply_win(&mut self.minutes, ts, now, chan, e);
            apply_win(&mut self.hours, ts, now, chan, e);
            apply_win(&mut self.days, ts, now, chan, e);
        }
        new_order
    }

    /// Applies a business figure.
    pub fn on_figure(&mut self, f: &SalesFigure) {
        if self.figures.len() >= MAX_FIGURES {
            self.figures.pop_front();
        }
        self.figures.push_back(FigureLine {
            bucket: f.bucket.to_string(),
            sales_text: f.sales_text.to_string(),
            sales: f.sales,
            text: format!("Sales on {}: {}", f.bucket, f.sales_text),
        });
    }

    /// Time-driven upkeep (keeps the watermark current).
    pub fn tick(&mut self, now: i64, cfg: &Config) {
        self.watermark = now.saturating_sub(cfg.allowed_lateness_ms);
    }

    /// Marks every retained window not yet closed as incomplete (after a gap).
    pub fn mark_incomplete(&mut self) {
        let wm = self.watermark;
        for ring in [&mut self.minutes, &mut self.hours, &mut self.days] {
            let len = ring.len_ms();
            for (idx, w) in ring.iter_mut() {
                if (idx + 1).saturating_mul(len) > wm {
                    w.incomplete = true;
                }
            }
        }
    }

    /// Late order events counted.
    pub fn late(&self) -> u64 {
        self.late_orders
    }

    /// Internal sizes, for bound checks.
    pub fn sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("sales.seen_orders", self.seen.len()),
            ("sales.seen_queue", self.seen.queue_len()),
            ("sales.channels", self.channels.len()),
            ("sales.figures", self.figures.len()),
            (
                "sales.windows",
                self.minutes.allocated() + self.hours.allocated() + self.days.allocated(),
            ),
        ]
    }

    fn windows(&self, ring: &Ring<Win>, now: i64, order: &[u16]) -> Vec<SalesWindow> {
        let Some(first) = self.first_ms else {
            return Vec::new();
        };
        let len = ring.len_ms();
        let now_idx = ring.index_of(now);
        #[allow(clippy::cast_possible_wrap)] // reason: ring sizes are tiny
        let from = (now_idx - ring.capacity() as i64 + 1).max(ring.index_of(first));
        let empty = Win::default();
        (from..=now_idx)
            .map(|idx| {
                let w = ring.get(idx).unwrap_or(&empty);
                SalesWindow {
                    start_ms: idx.saturating_mul(len),
                    len_ms: len,
                    by_channel: order
                        .iter()
                        .filter_map(|&c| {
                            let t = w.by_channel.get(usize::from(c))?;
                            (!t.is_zero()).then(|| t.view(self.channels.name(c)))
                        })
                        .collect(),
                    total: w.total.view("total"),
                    closed: (idx + 1).saturating_mul(len) <= self.watermark,
                    incomplete: w.incomplete,
                }
            })
            .collect()
    }

    /// The sales view as of `now`.
    pub fn view(&self, now: i64, _cfg: &Config) -> SalesView {
        let order = self.channels.sorted();
        SalesView {
            currency: self.currency,
            minutes: self.windows(&self.minutes, now, &order),
            hours: self.windows(&self.hours, now, &order),
            days: self.windows(&self.days, now, &order),
            by_channel: order
                .iter()
                .filter_map(|&c| {
                    self.by_channel
                        .get(usize::from(c))
                        .map(|t| t.view(self.channels.name(c)))
                })
                .collect(),
            total: self.total.view("total"),
            other_currency_orders: self.other_currency_orders,
            late_orders: self.late_orders,
            figures: self.figures.iter().cloned().collect(),
        }
    }
}
