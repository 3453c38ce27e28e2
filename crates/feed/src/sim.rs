//! The seeded shop simulator: a pure, deterministic event generator.
//!
//! The output depends only on [`SimConfig`] (seed, start time, rate, failure
//! rate): no clock, no hash-map iteration order, no floating-point formatting.
//! Event `i` (from 0) has event time `start_ms + floor(i * 1000 / rate)`, so
//! the stream's event time advances by exactly `rate` events per second.
//!
//! ## The model
//! - **Catalogue**: [`PRODUCTS`] products with SKU-like ids (plain numbers,
//!   `85123A`-style codes and `SKU-1234` codes), log-normal prices in pence,
//!   Zipf popularity (rank 0 most popular).
//! - **Stock**: every product starts with stock in proportion to its
//!   popularity, announced as `inventory` events at the start of the stream.
//!   Purchases deplete it; at or below [`RESTOCK_AT`] a restock (again sized
//!   by popularity) is ordered and arrives minutes later (event time). A
//!   product that is out of stock is rarely added to a cart and mostly
//!   delisted on marketplaces, but carts already in checkout still go
//!   through: that is an oversell (negative stock).
//! - **Shoppers**: sessions on `web` and `app`, each a small state machine
//!   (browse, add to cart, remove from cart, checkout, purchase, abandon).
//!   Browsing follows Zipf popularity with some "related product" hops, so
//!   co-purchases exist for the recommender.
//! - **Marketplaces**: `amazon`, `ebay` and `tmall` orders arrive without a
//!   click stream (some without a known customer).
//! - **Orders**: `order` events, status `created` then `paid` after the
//!   payment sync, `cancelled` when payment finally fails (or, rarely, by the
//!   customer), `refunded` for a few fulfilled orders. Integer pence, GBP.
//! - **Sync**: each order syncs to payment -> inventory -> logistics ->
//!   `customer_service` in turn. Latencies are log-normal with a median and
//!   spread per target, times a factor per channel (marketplaces are slower).
//!   Each attempt fails with probability `failure_rate`. A third of failures
//!   are permanent (card declined, address invalid...) and stay `failed`; the
//!   others are transient (timeouts, 503s) and are followed by a `retrying`
//!   event with `attempt + 1` after an exponential back-off, up to
//!   [`MAX_ATTEMPTS`] attempts; a retry during an outage fails more often. A
//!   payment that finally fails cancels the order. A small share of attempts
//!   never gets an answer and stays `pending` (stuck).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use shoppulse_core::event::{
    Action, Behavior, Body, Currency, Inventory, LineItem, Order, OrderStatus, Sync, SyncStatus,
    Target,
};
use shoppulse_core::{Event, Id};

use crate::prng::{Rng, Zipf};

/// Products in the catalogue.
pub const PRODUCTS: usize = 500;
/// Distinct shoppers.
pub const USERS: usize = 5000;
/// Stock level at or below which a restock is ordered, plus a margin of
/// expected demand during the restock lead time.
pub const RESTOCK_AT: i64 = 10;
/// Units sold per simulated event on average (measured); sizes stock so that
/// its dynamics in event time do not depend on `--rate`.
const UNITS_PER_EVENT: f64 = 0.067;
/// Attempts per (order, target) before a sync stays failed.
pub const MAX_ATTEMPTS: u32 = 4;
/// Concurrent shopper sessions kept.
const MAX_SESSIONS: usize = 120;
/// Probability that one sync attempt fails, unless told otherwise
/// (`--failure-rate`).
pub const DEFAULT_FAILURE_RATE: f64 = 0.03;

/// What fixes a simulated stream.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// PRNG seed.
    pub seed: u64,
    /// Event time of the first event (epoch ms).
    pub start_ms: i64,
    /// Events per second of event time.
    pub rate: f64,
    /// Probability that one sync attempt fails.
    pub failure_rate: f64,
}

impl SimConfig {
    /// Event time of event number `i` (from 0).
    pub fn ts_of(&self, i: u64) -> i64 {
        #[allow(clippy::cast_possible_truncation)]
        // reason: floor of a finite non-negative offset in ms, far below i64::MAX
        let off = (i as f64 * 1000.0 / self.rate).floor() as i64;
        self.start_ms.saturating_add(off)
    }

    /// A readable description for `hello.source`.
    pub fn describe(&self) -> String {
        format!(
            "simulator seed {} from {} at {} ev/s, failure rate {}",
            self.seed,
            shoppulse_core::time::format_rfc3339_ms(self.start_ms),
            self.rate,
            self.failure_rate
        )
    }
}

const CHANNELS_SHOP: [&str; 2] = ["web", "app"];
const CHANNELS_MARKET: [&str; 3] = ["amazon", "ebay", "tmall"];

/// Latency profile of a target: (median ms, log-normal sigma).
fn target_latency(t: Target) -> (f64, f64) {
    match t {
        Target::Payment => (350.0, 0.5),
        Target::Inventory => (120.0, 0.6),
        Target::Logistics => (1500.0, 0.7),
        Target::CustomerService => (4000.0, 0.9),
    }
}

/// Latency factor of a channel: marketplaces answer through their own APIs.
fn channel_factor(channel: &str) -> f64 {
    match channel {
        "app" => 1.1,
        "amazon" => 1.8,
        "ebay" => 1.5,
        "tmall" => 2.6,
        _ => 1.0,
    }
}

/// Error texts of a target: (transient, permanent).
fn target_errors(t: Target) -> (&'static [&'static str], &'static [&'static str]) {
    match t {
        Target::Payment => (
            &["payment gateway timeout", "PSP returned 502"],
            &["card declined", "3-D Secure challenge failed"],
        ),
        Target::Inventory => (
            &["warehouse API returned 503", "WMS lock timeout"],
            &["SKU not mapped in WMS"],
        ),
        Target::Logistics => (
            &["carrier rate limit exceeded", "label service timeout"],
            &["address validation failed"],
        ),
        Target::CustomerService => (&["CRM timeout"], &["ticket rejected: duplicate"]),
    }
}

/// Units sold of rank `k` over a horizon where `total` units sell in all.
fn demand_units(z: &Zipf, k: usize, total: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)] // reason: a small positive unit count
    let units = (z.pmf(k) * total).round() as i64;
    units
}

fn next_target(t: Target) -> Option<Target> {
    match t {
        Target::Payment => Some(Target::Inventory),
        Target::Inventory => Some(Target::Logistics),
        Target::Logistics => Some(Target::CustomerService),
        Target::CustomerService => None,
    }
}

#[derive(Clone, Debug)]
struct Product {
    id: Id,
    price_cents: i64,
}

#[derive(Clone, Debug)]
struct Session {
    id: u64,
    user: u64,
    channel: &'static str,
    last: Option<usize>,
    cart: Vec<(usize, i64)>,
    checked_out: bool,
}

#[derive(Clone, Debug)]
struct OpenOrder {
    id: Id,
    channel: &'static str,
    total_cents: i64,
    user: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    /// Send (or re-send) an order to a target.
    SyncStart {
        order: u64,
        target: Target,
        attempt: u32,
    },
    /// The target answers.
    SyncAnswer {
        order: u64,
        target: Target,
        attempt: u32,
        latency_ms: u64,
        ok: bool,
    },
    /// A restock delivery arrives.
    Restock { product: usize, quantity: i64 },
    /// A fulfilled order is refunded.
    Refund { order: u64 },
}

/// The generator. Call [`Simulator::next_event`] for the stream.
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    rng: Rng,
    emitted: u64,
    products: Vec<Product>,
    popularity: Zipf,
    shoppers: Zipf,
    stock: Vec<i64>,
    restocking: Vec<bool>,
    sessions: Vec<Session>,
    next_session: u64,
    next_order: u64,
    orders: BTreeMap<u64, OpenOrder>,
    tasks: BinaryHeap<Reverse<(i64, u64, Task)>>,
    task_seq: u64,
    ready: VecDeque<Body>,
}

impl Simulator {
    /// A simulator at the start of its stream.
    pub fn new(cfg: SimConfig) -> Simulator {
        let mut rng = Rng::new(cfg.seed);
        let mut cat_rng = rng.fork(1);
        let products: Vec<Product> = (0..PRODUCTS)
            .map(|i| make_product(i, &mut cat_rng))
            .collect();
        let popularity = Zipf::new(PRODUCTS, 1.05);
        let per_min = UNITS_PER_EVENT * cfg.rate * 60.0;
        // About six minutes of demand on the shelf at the start.
        let stock: Vec<i64> = (0..PRODUCTS)
            .map(|i| demand_units(&popularity, i, 6.0 * per_min) + cat_rng.range_i64(5, 80))
            .collect();
        let mut ready = VecDeque::with_capacity(PRODUCTS);
        for (p, q) in products.iter().zip(&stock) {
            ready.push_back(Body::Inventory(Inventory {
                product: p.id.clone(),
                quantity: *q,
                warehouse: Some("uk-main".into()),
            }));
        }
        Simulator {
            cfg,
            rng,
            emitted: 0,
            products,
            popularity,
            shoppers: Zipf::new(USERS, 0.6),
            restocking: vec![false; PRODUCTS],
            stock,
            sessions: Vec::with_capacity(MAX_SESSIONS),
            next_session: 1,
            next_order: 1,
            orders: BTreeMap::new(),
            tasks: BinaryHeap::new(),
            task_seq: 0,
            ready,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Events produced so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// The next event of the stream.
    pub fn next_event(&mut self) -> Event {
        let now = self.cfg.ts_of(self.emitted);
        loop {
            if let Some(body) = self.ready.pop_front() {
                self.emitted += 1;
                return Event {
                    ts_ms: now,
                    ts_inferred: false,
                    body,
                };
            }
            let due = matches!(self.tasks.peek(), Some(Reverse((at, _, _))) if *at <= now);
            if due {
                if let Some(Reverse((_, _, task))) = self.tasks.pop() {
                    self.run_task(&task, now);
                }
            } else {
                self.step(now);
            }
        }
    }

    fn schedule(&mut self, at: i64, task: Task) {
        self.task_seq += 1;
        self.tasks.push(Reverse((at, self.task_seq, task)));
    }

    fn step(&mut self, now: i64) {
        if self.rng.chance(0.009) {
            self.marketplace_order(now);
            return;
        }
        if self.sessions.is_empty() || (self.sessions.len() < MAX_SESSIONS && self.rng.chance(0.06))
        {
            let user = self.shoppers.sample(&mut self.rng) as u64 + 1;
            let channel = if self.rng.chance(0.6) {
                CHANNELS_SHOP[0]
            } else {
                CHANNELS_SHOP[1]
            };
            self.sessions.push(Session {
                id: self.next_session,
                user,
                channel,
                last: None,
                cart: Vec::new(),
                checked_out: false,
            });
            self.next_session += 1;
        }
        let i = self.rng.index(self.sessions.len());
        self.advance_session(i, now);
    }

    fn pick_product(&mut self, last: Option<usize>) -> usize {
        match last {
            // Related-product hop: neighbours in the catalogue.
            Some(p) if self.rng.chance(0.25) => {
                let hop = usize::try_from(self.rng.range_i64(1, 3)).unwrap_or(1);
                (p + hop) % PRODUCTS
            }
            _ => self.popularity.sample(&mut self.rng),
        }
    }

    fn behavior(&self, s: &Session, action: Action, product: usize) -> Body {
        let p = &self.products[product];
        Body::Behavior(Behavior {
            user: Id::Num(s.user),
            session: Some(Id::Num(s.id)),
            action,
            product: p.id.clone(),
            channel: Some(s.channel.into()),
            price_cents: Some(p.price_cents),
        })
    }

    fn advance_session(&mut self, slot: usize, now: i64) {
        let mut sess = self.sessions[slot].clone();
        let mut ended = false;
        if sess.checked_out {
            if self.rng.chance(0.8) {
                self.purchase(&sess, now);
            }
            ended = true;
        } else {
            let roll = self.rng.f64();
            let in_stock = |sim: &Simulator, prod: usize| sim.stock[prod] > 0;
            match sess.last {
                Some(prod) if roll < 0.20 && (in_stock(self, prod) || self.rng.chance(0.05)) => {
                    let qty = if self.rng.chance(0.8) {
                        1
                    } else {
                        self.rng.range_i64(2, 4)
                    };
                    sess.cart.push((prod, qty));
                    let ev = self.behavior(&sess, Action::AddToCart, prod);
                    self.ready.push_back(ev);
                }
                _ if roll < 0.25 && !sess.cart.is_empty() => {
                    let at = self.rng.index(sess.cart.len());
                    let (prod, _) = sess.cart.remove(at);
                    let ev = self.behavior(&sess, Action::RemoveFromCart, prod);
                    self.ready.push_back(ev);
                }
                _ if roll < 0.33 && !sess.cart.is_empty() => {
                    sess.checked_out = true;
                    let ev = self.behavior(&sess, Action::Checkout, sess.cart[0].0);
                    self.ready.push_back(ev);
                }
                _ if roll < 0.40 => ended = true,
                _ => {
                    let prod = self.pick_product(sess.last);
                    sess.last = Some(prod);
                    let ev = self.behavior(&sess, Action::Browse, prod);
                    self.ready.push_back(ev);
                }
            }
        }
        if ended {
            self.sessions.swap_remove(slot);
        } else {
            self.sessions[slot] = sess;
        }
    }

    fn purchase(&mut self, s: &Session, now: i64) {
        let mut lines: Vec<LineItem> = Vec::with_capacity(s.cart.len());
        for &(p, q) in &s.cart {
            let b = self.behavior(s, Action::Purchase, p);
            self.ready.push_back(b);
            lines.push(LineItem {
                product: self.products[p].id.clone(),
                quantity: q,
                unit_price_cents: self.products[p].price_cents,
            });
        }
        let cart: Vec<(usize, i64)> = s.cart.clone();
        let order_no = self.next_order;
        self.next_order += 1;
        let id = Id::Num(1_000_000 + order_no);
        self.open_order(order_no, id, s.channel, Some(Id::Num(s.user)), lines, now);
        self.deplete(&cart, now);
    }

    fn marketplace_order(&mut self, now: i64) {
        let channel = CHANNELS_MARKET[self.rng.weighted(&[0.5, 0.3, 0.2])];
        let n = if self.rng.chance(0.7) {
            1
        } else {
            self.rng.index(3) + 2
        };
        let mut cart = Vec::with_capacity(n);
        for _ in 0..n {
            let p = self.popularity.sample(&mut self.rng);
            // Marketplaces delist what is out of stock, with some sync lag.
            let listed = self.stock[p] > 0 || self.rng.chance(0.03);
            if listed && cart.iter().all(|&(q, _)| q != p) {
                cart.push((p, if self.rng.chance(0.85) { 1 } else { 2 }));
            }
        }
        if cart.is_empty() {
            return;
        }
        let lines = cart
            .iter()
            .map(|&(p, q)| LineItem {
                product: self.products[p].id.clone(),
                quantity: q,
                unit_price_cents: self.products[p].price_cents,
            })
            .collect();
        let order_no = self.next_order;
        self.next_order += 1;
        let id = match channel {
            "amazon" => format!("AMZ-{:07}", 3_000_000 + order_no),
            "ebay" => format!("EB-{:08}", 10_000_000 + order_no * 7),
            _ => format!("TM{:010}", 2_000_000_000 + order_no * 13),
        };
        let user = if self.rng.chance(0.6) {
            Some(Id::Num(self.shoppers.sample(&mut self.rng) as u64 + 1))
        } else {
            None
        };
        self.open_order(order_no, Id::from_text(&id), channel, user, lines, now);
        self.deplete(&cart, now);
    }

    fn open_order(
        &mut self,
        order_no: u64,
        id: Id,
        channel: &'static str,
        user: Option<Id>,
        lines: Vec<LineItem>,
        now: i64,
    ) {
        let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
        self.ready.push_back(Body::Order(Order {
            order: id.clone(),
            channel: channel.into(),
            status: OrderStatus::Created,
            total_cents,
            currency: Currency::GBP,
            lines,
            user: user.clone(),
        }));
        self.orders.insert(
            order_no,
            OpenOrder {
                id,
                channel,
                total_cents,
                user,
            },
        );
        let delay = self.rng.range_i64(50, 600);
        self.schedule(
            now + delay,
            Task::SyncStart {
                order: order_no,
                target: Target::Payment,
                attempt: 1,
            },
        );
    }

    fn deplete(&mut self, cart: &[(usize, i64)], now: i64) {
        for &(p, q) in cart {
            self.stock[p] -= q;
            self.ready.push_back(Body::Inventory(Inventory {
                product: self.products[p].id.clone(),
                quantity: self.stock[p],
                warehouse: Some("uk-main".into()),
            }));
            let per_min = UNITS_PER_EVENT * self.cfg.rate * 60.0;
            // Reorder point: the threshold plus about 2.5 minutes of demand
            // (lead times vary, so popular products sometimes oversell).
            let reorder_at = RESTOCK_AT + demand_units(&self.popularity, p, 2.5 * per_min);
            if self.stock[p] <= reorder_at && !self.restocking[p] {
                self.restocking[p] = true;
                #[allow(clippy::cast_possible_truncation)]
                // reason: a delay of minutes in ms, finite and small
                let delay = self.rng.lognormal(3.0 * 60_000.0, 0.5) as i64;
                let quantity =
                    demand_units(&self.popularity, p, 12.0 * per_min) + self.rng.range_i64(20, 100);
                self.schedule(
                    now + delay,
                    Task::Restock {
                        product: p,
                        quantity,
                    },
                );
            }
        }
    }

    fn order_status(&mut self, order_no: u64, status: OrderStatus) {
        if let Some(o) = self.orders.get(&order_no) {
            self.ready.push_back(Body::Order(Order {
                order: o.id.clone(),
                channel: o.channel.into(),
                status,
                total_cents: o.total_cents,
                currency: Currency::GBP,
                lines: Vec::new(),
                user: o.user.clone(),
            }));
        }
    }

    fn sync_body(
        &self,
        order_no: u64,
        target: Target,
        status: SyncStatus,
        attempt: u32,
    ) -> Option<Sync> {
        self.orders.get(&order_no).map(|o| Sync {
            order: o.id.clone(),
            channel: o.channel.into(),
            target,
            status,
            attempt,
            latency_ms: None,
            error: None,
        })
    }

    fn run_task(&mut self, task: &Task, now: i64) {
        match *task {
            Task::SyncStart {
                order,
                target,
                attempt,
            } => {
                let status = if attempt == 1 {
                    SyncStatus::Pending
                } else {
                    SyncStatus::Retrying
                };
                let Some(body) = self.sync_body(order, target, status, attempt) else {
                    return;
                };
                let channel = self.orders.get(&order).map_or("web", |o| o.channel);
                self.ready.push_back(Body::Sync(body));
                let fr = self.cfg.failure_rate;
                if self.rng.chance(fr * 0.12) {
                    // Never answered: stays pending/retrying (stuck).
                    self.orders.remove(&order);
                    return;
                }
                let (median, sigma) = target_latency(target);
                let lat = self.rng.lognormal(median * channel_factor(channel), sigma);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                // reason: a positive latency in ms, clamped to a day
                let latency_ms = lat.clamp(1.0, 86_400_000.0) as u64;
                // A retry happens during an outage: it fails more often.
                let p_fail = if attempt > 1 { (fr * 5.0).min(0.9) } else { fr };
                let ok = !self.rng.chance(p_fail);
                self.schedule(
                    now + i64::try_from(latency_ms).unwrap_or(i64::MAX / 4),
                    Task::SyncAnswer {
                        order,
                        target,
                        attempt,
                        latency_ms,
                        ok,
                    },
                );
            }
            Task::SyncAnswer {
                order,
                target,
                attempt,
                latency_ms,
                ok,
            } => self.sync_answer(order, target, attempt, latency_ms, ok, now),
            Task::Restock { product, quantity } => {
                self.restocking[product] = false;
                self.stock[product] += quantity;
                self.ready.push_back(Body::Inventory(Inventory {
                    product: self.products[product].id.clone(),
                    quantity: self.stock[product],
                    warehouse: Some("uk-main".into()),
                }));
            }
            Task::Refund { order } => {
                self.order_status(order, OrderStatus::Refunded);
                self.orders.remove(&order);
            }
        }
    }

    fn sync_answer(
        &mut self,
        order: u64,
        target: Target,
        attempt: u32,
        latency_ms: u64,
        ok: bool,
        now: i64,
    ) {
        let status = if ok {
            SyncStatus::Synced
        } else {
            SyncStatus::Failed
        };
        let Some(mut body) = self.sync_body(order, target, status, attempt) else {
            return;
        };
        body.latency_ms = Some(latency_ms);
        let mut permanent = false;
        if !ok {
            let (transient, fatal) = target_errors(target);
            permanent = self.rng.chance(1.0 / 3.0);
            let errs = if permanent { fatal } else { transient };
            body.error = Some(errs[self.rng.index(errs.len())].into());
        }
        self.ready.push_back(Body::Sync(body));
        if !ok {
            if !permanent && attempt < MAX_ATTEMPTS {
                #[allow(clippy::cast_possible_truncation)]
                // reason: a back-off of seconds in ms
                let backoff = (1000.0 * f64::from(1u32 << attempt) * (0.5 + self.rng.f64())) as i64;
                self.schedule(
                    now + backoff,
                    Task::SyncStart {
                        order,
                        target,
                        attempt: attempt + 1,
                    },
                );
            } else {
                if target == Target::Payment {
                    self.order_status(order, OrderStatus::Cancelled);
                }
                self.orders.remove(&order);
            }
            return;
        }
        if target == Target::Payment {
            self.order_status(order, OrderStatus::Paid);
            if self.rng.chance(0.015) {
                // The customer cancels right after paying: the chain stops.
                self.order_status(order, OrderStatus::Cancelled);
                self.orders.remove(&order);
                return;
            }
        }
        match next_target(target) {
            Some(next) => {
                let gap = self.rng.range_i64(10, 250);
                self.schedule(
                    now + gap,
                    Task::SyncStart {
                        order,
                        target: next,
                        attempt: 1,
                    },
                );
            }
            None => {
                if self.rng.chance(0.03) {
                    #[allow(clippy::cast_possible_truncation)]
                    // reason: minutes in ms
                    let later = self.rng.lognormal(20.0 * 60_000.0, 0.5) as i64;
                    self.schedule(now + later, Task::Refund { order });
                } else {
                    self.orders.remove(&order);
                }
            }
        }
    }
}

fn make_product(i: usize, rng: &mut Rng) -> Product {
    let n = i as u64;
    let id = match rng.below(10) {
        0..=4 => Id::Num(20_000 + n * 7),
        5..=7 => {
            let letter = char::from(b'A' + u8::try_from(rng.below(8)).unwrap_or(0));
            Id::from_text(&format!("{}{letter}", 80_000 + n * 13))
        }
        _ => Id::from_text(&format!("SKU-{:04}", 1000 + n * 17)),
    };
    #[allow(clippy::cast_possible_truncation)]
    // reason: a price in pence, clamped to a small range
    let raw = rng.lognormal(850.0, 0.8).clamp(49.0, 50_000.0) as i64;
    // Shop prices: round to 5p, and half of them end in 9 (4.99, 12.49).
    let mut price_cents = (raw / 5).max(1) * 5;
    if rng.chance(0.5) {
        price_cents -= 1;
    }
    Product { id, price_cents }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::decode_event;

    fn cfg(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            start_ms: 1_700_000_000_000,
            rate: 200.0,
            failure_rate: 0.03,
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let mut a = Simulator::new(cfg(7));
        let mut b = Simulator::new(cfg(7));
        for _ in 0..20_000 {
            assert_eq!(a.next_event().to_json(), b.next_event().to_json());
        }
        let mut c = Simulator::new(cfg(8));
        let differs = (0..2000).any(|_| a.next_event().to_json() != c.next_event().to_json());
        assert!(differs);
    }

    #[test]
    fn events_round_trip_and_time_advances_with_rate() {
        let mut s = Simulator::new(cfg(3));
        let mut last = i64::MIN;
        let mut kinds = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        let mut oversold = 0;
        let mut channels = BTreeMap::new();
        for i in 0..200_000u64 {
            let ev = s.next_event();
            assert!(ev.ts_ms >= last);
            last = ev.ts_ms;
            assert_eq!(ev.ts_ms, s.config().ts_of(i));
            let json = ev.to_json();
            let back = decode_event(&json, 0).expect("simulator output decodes");
            assert_eq!(back, ev);
            *kinds.entry(ev.body.kind().as_str()).or_insert(0u64) += 1;
            match &ev.body {
                Body::Sync(x) => {
                    *statuses.entry(x.status.as_str()).or_insert(0u64) += 1;
                    assert!(x.attempt >= 1 && x.attempt <= MAX_ATTEMPTS);
                }
                Body::Inventory(x) if x.quantity < 0 => oversold += 1,
                Body::Order(o) => {
                    *channels.entry(o.channel.to_string()).or_insert(0u64) += 1;
                    assert_eq!(o.currency, Currency::GBP);
                    if !o.lines.is_empty() {
                        let sum: i64 = o
                            .lines
                            .iter()
                            .map(|l| l.quantity * l.unit_price_cents)
                            .sum();
                        assert_eq!(sum, o.total_cents);
                    }
                }
                _ => {}
            }
        }
        // 200k events at 200 ev/s = 1000 s of event time.
        assert_eq!(last - s.config().start_ms, 999_995);
        for k in ["behavior", "inventory", "order", "sync"] {
            assert!(kinds.get(k).copied().unwrap_or(0) > 100, "{k}: {kinds:?}");
        }
        for st in ["pending", "synced", "failed", "retrying"] {
            assert!(
                statuses.get(st).copied().unwrap_or(0) > 0,
                "{st}: {statuses:?}"
            );
        }
        for ch in ["web", "app", "amazon", "ebay", "tmall"] {
            assert!(channels.contains_key(ch), "{ch}: {channels:?}");
        }
        assert!(oversold > 0, "some products oversell");
    }
}
