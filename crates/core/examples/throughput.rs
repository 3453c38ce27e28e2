//! Quick throughput check, no criterion: prints events/s for decode alone,
//! the operators alone and decode + all operators over a realistic
//! generated stream, plus the cost of a `view()` and the snapshot size.
//!
//! JSON (one event per line, as the gateway's canonical JSON) and `bin1`
//! (frames of 1,000 events, as the gateway batches them) are both measured.
//!
//! `cargo run --release -p shoppulse-core --example throughput`
//! (the workspace's release profile optimizes for size, for wasm; for the
//! native speed figure use `--profile bench`, which is opt-level 3).
//!
//! The stream keeps advancing in event time: each measured chunk is freshly
//! generated (untimed) and applied (timed) to one long-lived engine, so the
//! operators run in steady state with full maps, as in production. Rates
//! are events per second of on-CPU time (Linux), so they hold on a shared
//! machine. Optional arguments: seconds per measurement (default 2), then
//! which phases to run (`decode`, `bin1` (its decoding only), `ops`,
//! `batch`, `all`, `lean` (`bin1` with recommendations and sync turned
//! off), `view`; default all), or `show` to print a summary of
//! the view after the warm-up stream.

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use shoppulse_core::binary::{Frame, Scratch};
use shoppulse_core::decode::decode_event;
use shoppulse_core::{Config, Engine};

#[path = "../benches/gen/mod.rs"]
mod gen;
#[path = "../benches/rates/mod.rs"]
mod rates;

use rates::{bin1_rate, frames_of, json_rate, Meter, CHUNK, FRAME};

/// Postcard size of a view section, bytes.
fn size<T: serde::Serialize>(x: &T) -> usize {
    postcard::to_allocvec(x).map_or(0, |b| b.len())
}

/// Events/s of `apply` on a copy of the warmed-up `engine`, fed pre-decoded
/// chunks of the stream after the warm-up (decoding is not timed).
fn operators_rate(
    engine: &Engine,
    budget: Duration,
    mut apply: impl FnMut(&mut Engine, &[shoppulse_core::event::Event]),
) -> f64 {
    let mut e = engine.clone();
    let mut g = gen::Gen::new(42);
    let mut line = String::new();
    for _ in 0..300_000 {
        g.next_line(&mut line);
    }
    let mut m = Meter::default();
    while m.busy < budget {
        let events: Vec<_> = g
            .lines(CHUNK)
            .iter()
            .filter_map(|l| decode_event(l, 0).ok())
            .collect();
        m.time(CHUNK, || apply(&mut e, &events));
    }
    m.rate()
}

#[allow(clippy::too_many_lines)] // reason: the phases run one after another, each a short block
fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let only = std::env::args().nth(2).unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);

    // Warm-up stream: fills every operator's maps to their steady size.
    let mut g = gen::Gen::new(42);
    let mut engine = Engine::new(Config::default());
    let mut line = String::new();
    for _ in 0..300_000 {
        g.next_line(&mut line);
        let _ = engine.apply_json(&line, 0, "bench");
    }
    let lines = g.lines(CHUNK);
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "stream: {:.0} bytes/event (behaviour 70%, inventory 10%, orders 8%, sync 12%); 300k events of warm-up",
        bytes as f64 / CHUNK as f64
    );

    if run("decode") {
        let mut m = Meter::default();
        while m.busy < budget {
            m.time(CHUNK, || {
                for l in &lines {
                    std::hint::black_box(decode_event(l, 0).ok());
                }
            });
        }
        println!("decode only:            {:>12.0} events/s", m.rate());
    }
    let frames = frames_of(&lines);
    let frame_bytes: usize = frames.iter().map(Vec::len).sum();
    println!(
        "bin1: {:.1} bytes/event in frames of {FRAME} ({:.1}x smaller than JSON)",
        frame_bytes as f64 / CHUNK as f64,
        bytes as f64 / frame_bytes as f64
    );
    if run("decode") || run("bin1") {
        let mut m = Meter::default();
        let mut scratch = Scratch::default();
        while m.busy < budget {
            m.time(CHUNK, || {
                for f in &frames {
                    let frame = Frame::parse(f).expect("own frame");
                    let r = frame.for_each(&mut scratch, |seq, ev| {
                        std::hint::black_box((seq, ev));
                    });
                    std::hint::black_box(r.is_ok());
                }
            });
        }
        println!("bin1 decode only:       {:>12.0} events/s", m.rate());
    }
    if run("ops") {
        let rate = operators_rate(&engine, budget, |e, events| {
            for ev in events {
                e.apply(ev);
            }
        });
        println!("operators only:         {rate:>12.0} events/s");
    }
    if run("batch") {
        let rate = operators_rate(&engine, budget, |e, events| {
            for frame in events.chunks(FRAME) {
                e.apply_batch(frame);
            }
        });
        println!("operators, apply_batch: {rate:>12.0} events/s");
    }
    if run("all") {
        let rate = json_rate(&mut engine, || g.lines(CHUNK), budget);
        println!("decode + all operators: {rate:>12.0} events/s");
    }
    if run("all") {
        let rate = bin1_rate(&mut engine, || g.lines(CHUNK), budget);
        println!("bin1 decode + all ops:  {rate:>12.0} events/s");
    }
    if run("lean") {
        // The dashboard with recommendations and order sync turned off in
        // its settings: the operators the side-by-side comparison's
        // aggregates need (behaviour, inventory, sales).
        let mut lean = engine.clone();
        lean.set_config(Config {
            compute_recs: false,
            compute_sync: false,
            ..Config::default()
        });
        let rate = bin1_rate(&mut lean, || g.lines(CHUNK), budget);
        println!("bin1 + recs, sync off:  {rate:>12.0} events/s");
        let rate = json_rate(&mut lean, || g.lines(CHUNK), budget);
        println!("JSON + recs, sync off:  {rate:>12.0} events/s");
    }
    if run("all") {
        let mut m = Meter::default();
        let mut events = Vec::new();
        while m.busy < budget {
            let chunk = g.lines(CHUNK);
            m.time(CHUNK, || {
                for lines in chunk.chunks(FRAME) {
                    events.clear();
                    events.extend(lines.iter().filter_map(|l| decode_event(l, 0).ok()));
                    engine.apply_batch(&events);
                }
            });
        }
        println!("decode + all, batches:  {:>12.0} events/s", m.rate());
    }
    if run("all") {
        let mut m = Meter::default();
        let mut scratch = Scratch::default();
        let mut events = Vec::new();
        while m.busy < budget {
            let chunk = frames_of(&g.lines(CHUNK));
            m.time(CHUNK, || {
                for f in &chunk {
                    if let Ok(frame) = Frame::parse(f) {
                        let _ = frame.decode_into(&mut scratch, &mut events);
                        engine.apply_batch(&events);
                    }
                }
            });
        }
        println!("bin1 + all, batches:    {:>12.0} events/s", m.rate());
    }
    if only == "show" {
        show(&engine);
        return;
    }
    if !run("view") {
        return;
    }
    let t0 = Instant::now();
    let mut views = 0u32;
    while t0.elapsed() < Duration::from_millis(500) {
        std::hint::black_box(engine.view());
        views += 1;
    }
    println!(
        "view():                 {:>12.1} µs",
        t0.elapsed().as_secs_f64() * 1e6 / f64::from(views)
    );
    // What a worker posts to the page per publish (the whole view, postcard).
    let v = engine.view();
    let posted = postcard::to_allocvec(&v).expect("view encodes");
    let t0 = Instant::now();
    let mut decoded = 0u32;
    while t0.elapsed() < Duration::from_millis(300) {
        let back: shoppulse_core::View = postcard::from_bytes(&posted).expect("view decodes");
        std::hint::black_box(back);
        decoded += 1;
    }
    println!(
        "view as posted:         {:>12} bytes postcard, decoded in {:.1} µs (health {}, behavior {}, inventory {}, recs {}, sales {}, sync {})",
        posted.len(),
        t0.elapsed().as_secs_f64() * 1e6 / f64::from(decoded),
        size(&v.health),
        size(&v.behavior),
        size(&v.inventory),
        size(&v.recs),
        size(&v.sales),
        size(&v.sync),
    );
    let snap = serde_json::to_string(&engine).expect("engine serializes");
    println!("snapshot:               {:>12} bytes of JSON", snap.len());
    let t0 = Instant::now();
    let back: Engine = serde_json::from_str(&snap).expect("JSON snapshot decodes");
    let json_ms = t0.elapsed().as_secs_f64() * 1e3;
    drop(back);
    let bin = shoppulse_core::snapshot::encode("bench", 0, &engine);
    let t0 = Instant::now();
    let back = shoppulse_core::snapshot::decode(&bin).expect("snap1 snapshot decodes");
    let snap1_ms = t0.elapsed().as_secs_f64() * 1e3;
    drop(back);
    println!(
        "snapshot snap1:         {:>12} bytes ({:.1}x smaller); decode {json_ms:.1} ms JSON, {snap1_ms:.1} ms snap1",
        bin.len(),
        snap.len() as f64 / bin.len() as f64
    );
    if let Ok(serde_json::Value::Object(parts)) = serde_json::from_str::<serde_json::Value>(&snap) {
        for (k, v) in &parts {
            let mut line = format!("  {k:<10} {:>10} bytes", v.to_string().len());
            if let serde_json::Value::Object(fields) = v {
                let mut big: Vec<(usize, &String)> = fields
                    .iter()
                    .map(|(f, x)| (x.to_string().len(), f))
                    .collect();
                big.sort_unstable_by(|a, b| b.cmp(a));
                for (n, f) in big.iter().take(3) {
                    let _ = write!(line, "  {f}={n}");
                }
            }
            println!("{line}");
        }
    }
}

/// Prints a compact summary of the view (a sanity check of the numbers).
#[allow(clippy::many_single_char_names)] // reason: one short name per view section keeps the lines short
fn show(engine: &Engine) {
    let v = engine.view();
    let b = &v.behavior;
    println!(
        "log[0..3]: {:?}",
        b.log.iter().take(3).map(|l| &l.text).collect::<Vec<_>>()
    );
    println!(
        "counts 1m {:?} 5m {:?} 1h {:?}",
        b.counts_1m, b.counts_5m, b.counts_1h
    );
    println!(
        "funnel {:?}; active {} (exact {})",
        b.funnel, b.active_shoppers, b.active_exact
    );
    println!(
        "top products: {:?}",
        b.top_products
            .iter()
            .take(5)
            .map(|p| (p.product.to_string(), p.count, p.error))
            .collect::<Vec<_>>()
    );
    let i = &v.inventory;
    println!(
        "inventory: tracked {} low {} out {} oversold {}; warnings[0..2] {:?}",
        i.tracked,
        i.low_count,
        i.out_count,
        i.oversold_count,
        &i.warnings[..i.warnings.len().min(2)]
    );
    if let Some(r) = i.low.first() {
        println!(
            "  low[0]: {} q={} rate={:.1}/h stockout={:?} points={}",
            r.product,
            r.quantity,
            r.depletion_per_hour,
            r.projected_stockout_ms,
            r.history.len()
        );
    }
    let r = &v.recs;
    println!(
        "trending: {:?}",
        r.trending
            .iter()
            .take(5)
            .map(|t| (t.product.to_string(), (t.score * 10.0).round() / 10.0))
            .collect::<Vec<_>>()
    );
    println!(
        "co_purchase: {:?}",
        &r.co_purchase[..r.co_purchase.len().min(3)]
    );
    for u in r.for_users.iter().take(3) {
        println!("  user {}: {:?} {:?}", u.user, u.products, u.reasons);
    }
    let s = &v.sales;
    println!(
        "sales total: {:?}; other currency {}; late {}",
        s.total, s.other_currency_orders, s.late_orders
    );
    if let Some(w) = s.minutes.iter().rev().nth(1) {
        println!(
            "  last closed minute? {} incomplete {} total {:?}",
            w.closed, w.incomplete, w.total
        );
    }
    let y = &v.sync;
    for c in y.cells.iter().take(4) {
        println!(
            "  sync {}/{:?}: {:?} retries {} fail {:.2} p50 {:?} p95 {:?} p99 {:?}",
            c.channel,
            c.target,
            c.current,
            c.retries,
            c.failure_rate,
            c.lag_p50_ms,
            c.lag_p95_ms,
            c.lag_p99_ms
        );
    }
    println!(
        "stuck {} invalid {}; forecast {:?}",
        y.stuck_count,
        y.invalid_count,
        y.forecast.first()
    );
    println!(
        "health: applied {} late {} watermark {}",
        v.health.applied, v.health.late, v.health.watermark_ms
    );
}
