//! Quick throughput check, no criterion: prints events/s for decode alone
//! and for decode + all operators over a realistic generated stream, plus
//! the cost of a `view()` and the snapshot size.
//!
//! `cargo run --release -p shoppulse-core --example throughput`
//! (the workspace's release profile optimizes for size, for wasm; for the
//! native speed figure use `--profile bench`, which is opt-level 3).
//! Optional argument: seconds per measurement (default 2).

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::time::{Duration, Instant};

use shoppulse_core::decode::decode_event;
use shoppulse_core::{Config, Engine};

#[path = "../benches/gen/mod.rs"]
mod gen;

const LINES: usize = 200_000;

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let lines = gen::Gen::new(42).lines(LINES);
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "stream: {LINES} events, {:.0} bytes/event (behaviour 70%, inventory 10%, orders 8%, sync 12%)",
        bytes as f64 / LINES as f64
    );

    // Decode only.
    let (mut n, t0) = (0usize, Instant::now());
    while t0.elapsed() < budget {
        for l in &lines {
            let ev = decode_event(l, 0).expect("generated lines decode");
            std::hint::black_box(&ev);
        }
        n += LINES;
    }
    let decode = rate(n, t0.elapsed());
    println!("decode only:            {:>12.0} events/s", decode);

    // Operators only (pre-decoded), one engine in steady state.
    let events: Vec<_> = lines
        .iter()
        .map(|l| decode_event(l, 0).expect("generated lines decode"))
        .collect();
    let mut e = Engine::new(Config::default());
    let (mut n, t0) = (0usize, Instant::now());
    while t0.elapsed() < budget {
        for ev in &events {
            e.apply(ev);
        }
        n += LINES;
    }
    let ops = rate(n, t0.elapsed());
    println!("operators only:         {:>12.0} events/s", ops);

    // Decode + all operators, fresh engine.
    let mut e = Engine::new(Config::default());
    let (mut n, t0) = (0usize, Instant::now());
    while t0.elapsed() < budget {
        for l in &lines {
            let _ = e.apply_json(l, 0, "bench");
        }
        n += LINES;
    }
    let all = rate(n, t0.elapsed());
    println!("decode + all operators: {:>12.0} events/s", all);

    // View and snapshot.
    let t0 = Instant::now();
    let mut views = 0u32;
    while t0.elapsed() < Duration::from_millis(500) {
        std::hint::black_box(e.view());
        views += 1;
    }
    println!(
        "view():                 {:>12.1} µs",
        t0.elapsed().as_secs_f64() * 1e6 / f64::from(views)
    );
    let snap = serde_json::to_string(&e).expect("engine serializes");
    println!("snapshot:               {:>12} bytes of JSON", snap.len());
}
