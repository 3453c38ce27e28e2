//! Native throughput of decode plus the operators on the gateway
//! simulator's own stream: the stream the demo and the browser benchmarks
//! feed (seed 7, 2,000 events/s of event time, from 2024-11-29T09:00:00Z;
//! 500 products, 5,000 shoppers). The core's `throughput` example measures
//! the same phases, the same way (`crates/core/benches/rates`), on the bench
//! generator's bigger shop (10,000 products, 200,000 users); the two
//! together tell how much the shop's size costs, and this one compares with
//! the browser's figures event for event.
//!
//! `cargo run --profile bench -p shoppulse-feed --example sim_throughput
//! [SECONDS] [RATE]` (seconds per measurement, default 2; the simulator's
//! events per second of event time, default 2000).

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::time::Duration;

use shoppulse_core::{Config, Engine};

mod common;
#[path = "../../core/benches/rates/mod.rs"]
mod rates;

use rates::{bin1_rate, frames_of, json_rate, CHUNK};

/// Events applied before measuring, so the maps are at their steady size.
const WARM_UP: usize = 300_000;

fn main() {
    let arg = |i: usize| std::env::args().nth(i).and_then(|s| s.parse::<f64>().ok());
    let budget = Duration::from_secs_f64(arg(1).unwrap_or(2.0));
    let rate = arg(2).unwrap_or(2000.0);
    let mut sim = common::simulator(rate);
    let mut engine = Engine::new(Config::default());
    for _ in 0..WARM_UP {
        engine.apply(&sim.next_event());
    }
    let mut next = || -> Vec<String> { (0..CHUNK).map(|_| sim.next_event().to_json()).collect() };
    let lines = next();
    let json_bytes: usize = lines.iter().map(String::len).sum();
    let bin1_bytes: usize = frames_of(&lines).iter().map(Vec::len).sum();
    println!(
        "simulator stream (seed 7, {rate} ev/s of event time): {:.0} bytes/event JSON, {:.1} bin1; {WARM_UP} events of warm-up",
        json_bytes as f64 / CHUNK as f64,
        bin1_bytes as f64 / CHUNK as f64,
    );
    let r = json_rate(&mut engine, &mut next, budget);
    println!("decode + all operators: {r:>12.0} events/s");
    let r = bin1_rate(&mut engine, &mut next, budget);
    println!("bin1 decode + all ops:  {r:>12.0} events/s");
    let mut lean = engine.clone();
    lean.set_config(Config {
        compute_recs: false,
        compute_sync: false,
        ..Config::default()
    });
    let r = bin1_rate(&mut lean, &mut next, budget);
    println!("bin1 + recs, sync off:  {r:>12.0} events/s");
    let r = json_rate(&mut lean, &mut next, budget);
    println!("JSON + recs, sync off:  {r:>12.0} events/s");
}
