//! Cost of each operator alone, in ns per event of the benchmark stream
//! (the same stream and warm-up as `throughput`): tells which operator the
//! `operators only` figure goes to. Each operator gets its share of the
//! events exactly as `Engine::apply` hands them out; which orders are new
//! (decided by the sales operator) is worked out untimed beforehand.
//!
//! `cargo run --profile bench -p shoppulse-core --example opcost [secs] [operator]`
//! (operator: `behavior`, `inventory`, `recs`, `sales`, `sync`; default all).
//! The operators run alone, so their maps compete less for the caches than
//! in the engine: the sum is below `throughput`'s `operators only`.

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::time::{Duration, Instant};

use shoppulse_core::decode::decode_event;
use shoppulse_core::event::{Action, Body, Event};
use shoppulse_core::ops::{
    behavior::BehaviorOp, inventory::InventoryOp, recs::RecsOp, sales::SalesOp, sync::SyncOp,
};
use shoppulse_core::Config;

#[path = "../benches/gen/mod.rs"]
mod gen;

const OPERATORS: [&str; 5] = ["behavior", "inventory", "recs", "sales", "sync"];

/// One operator's state.
enum Op {
    Behavior(BehaviorOp),
    Inventory(InventoryOp),
    Recs(RecsOp),
    Sales(SalesOp),
    Sync(SyncOp),
}

impl Op {
    fn new(name: &str) -> Op {
        match name {
            "behavior" => Op::Behavior(BehaviorOp::default()),
            "inventory" => Op::Inventory(InventoryOp::default()),
            "recs" => Op::Recs(RecsOp::default()),
            "sales" => Op::Sales(SalesOp::default()),
            _ => Op::Sync(SyncOp::default()),
        }
    }

    /// Applies `ev` (`new_order`: the sales operator found it a new order).
    fn apply(&mut self, ev: &Event, new_order: bool, now: i64, cfg: &Config) {
        let ts = ev.ts_ms;
        match (self, &ev.body) {
            (Op::Behavior(op), Body::Behavior(b)) => {
                op.on_behavior(ts, b, now, cfg);
                op.tick(now, cfg);
            }
            (Op::Behavior(op), _) => op.tick(now, cfg),
            (Op::Inventory(op), Body::Behavior(b)) if b.action == Action::Purchase => {
                op.on_sale(ts, &b.product);
            }
            (Op::Inventory(op), Body::Inventory(i)) => op.on_inventory(ts, i, cfg),
            (Op::Inventory(op), Body::Order(o)) if new_order => op.on_new_order(ts, o),
            (Op::Recs(op), Body::Behavior(b)) => op.on_behavior(ts, b),
            (Op::Recs(op), Body::Order(o)) if new_order => op.on_new_order(ts, o),
            (Op::Sales(op), body) => {
                if let Body::Order(o) = body {
                    op.on_order(ts, o, now, cfg);
                }
                op.tick(now, cfg);
            }
            (Op::Sync(op), Body::Sync(s)) => op.on_sync(ts, s, now, cfg),
            (Op::Sync(op), body) => {
                if let Body::Order(o) = body {
                    if new_order {
                        op.on_new_order(ts, o);
                    }
                }
                op.tick(now, cfg);
            }
            _ => {}
        }
    }
}

/// A chunk of events with, per event, whether it is a new order and the
/// newest event time so far (both from `judge`, untimed).
fn prepare(
    lines: &[String],
    judge: &mut SalesOp,
    now: &mut i64,
    cfg: &Config,
) -> Vec<(Event, bool, i64)> {
    lines
        .iter()
        .filter_map(|l| decode_event(l, 0).ok())
        .map(|ev| {
            *now = (*now).max(ev.ts_ms);
            let new = match &ev.body {
                Body::Order(o) => judge.on_order(ev.ts_ms, o, *now, cfg),
                _ => false,
            };
            (ev, new, *now)
        })
        .collect()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let only = std::env::args().nth(2);
    let cfg = Config::default();
    for name in OPERATORS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mut g = gen::Gen::new(42);
        let mut judge = SalesOp::default();
        let mut now = 0;
        let mut op = Op::new(name);
        for ev in prepare(&g.lines(300_000), &mut judge, &mut now, &cfg) {
            op.apply(&ev.0, ev.1, ev.2, &cfg);
        }
        let mut busy = Duration::ZERO;
        let mut n = 0usize;
        while busy.as_secs_f64() < secs {
            let chunk = prepare(&g.lines(100_000), &mut judge, &mut now, &cfg);
            let t0 = Instant::now();
            for (ev, new, at) in &chunk {
                op.apply(ev, *new, *at, &cfg);
            }
            busy += t0.elapsed();
            n += chunk.len();
        }
        println!(
            "{name:>10}: {:>6.1} ns per event of the stream",
            busy.as_nanos() as f64 / n as f64
        );
    }
}
