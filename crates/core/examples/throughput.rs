//! Quick throughput check, no criterion: prints events/s for decode alone
//! and for decode + all operators over a realistic generated stream, plus
//! the cost of a `view()` and the snapshot size.
//!
//! `cargo run --release -p shoppulse-core --example throughput`
//! (the workspace's release profile optimizes for size, for wasm; for the
//! native speed figure use `--profile bench`, which is opt-level 3).
//! Rates are events per second of on-CPU time (Linux), so they hold on a
//! shared machine. Optional arguments: seconds per measurement (default 2), then which
//! phases to run (`decode`, `ops`, `all`, `view`; default every phase).

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use shoppulse_core::decode::decode_event;
use shoppulse_core::{Config, Engine};

#[path = "../benches/gen/mod.rs"]
mod gen;

const LINES: usize = 200_000;

/// On-CPU time of this process (Linux `schedstat`, ns), robust to other
/// processes sharing the cores; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// A stopwatch reporting on-CPU time when available, else wall time.
struct Watch {
    wall: Instant,
    cpu: Option<u64>,
}

impl Watch {
    fn start() -> Watch {
        Watch {
            wall: Instant::now(),
            cpu: cpu_ns(),
        }
    }
    fn elapsed(&self) -> Duration {
        self.wall.elapsed()
    }
    fn busy(&self) -> Duration {
        match (self.cpu, cpu_ns()) {
            (Some(a), Some(b)) => Duration::from_nanos(b - a),
            _ => self.wall.elapsed(),
        }
    }
}

fn rate(n: usize, w: &Watch) -> f64 {
    n as f64 / w.busy().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let only = std::env::args().nth(2).unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);
    let lines = gen::Gen::new(42).lines(LINES);
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "stream: {LINES} events, {:.0} bytes/event (behaviour 70%, inventory 10%, orders 8%, sync 12%)",
        bytes as f64 / LINES as f64
    );

    // Decode only.
    if run("decode") {
        let (mut n, t0) = (0usize, Watch::start());
        while t0.elapsed() < budget {
            for l in &lines {
                let ev = decode_event(l, 0).expect("generated lines decode");
                std::hint::black_box(&ev);
            }
            n += LINES;
        }
        let decode = rate(n, &t0);
        println!("decode only:            {decode:>12.0} events/s");
    }

    // Operators only (pre-decoded), one engine in steady state.
    let events: Vec<_> = lines
        .iter()
        .map(|l| decode_event(l, 0).expect("generated lines decode"))
        .collect();
    if run("ops") {
        let mut e = Engine::new(Config::default());
        let (mut n, t0) = (0usize, Watch::start());
        while t0.elapsed() < budget {
            for ev in &events {
                e.apply(ev);
            }
            n += LINES;
        }
        let ops = rate(n, &t0);
        println!("operators only:         {ops:>12.0} events/s");
    }

    // Decode + all operators, fresh engine.
    let mut e = Engine::new(Config::default());
    if run("all") {
        let (mut n, t0) = (0usize, Watch::start());
        while t0.elapsed() < budget {
            for l in &lines {
                let _ = e.apply_json(l, 0, "bench");
            }
            n += LINES;
        }
        let all = rate(n, &t0);
        println!("decode + all operators: {all:>12.0} events/s");
    } else {
        for ev in &events {
            e.apply(ev);
        }
    }
    if !run("view") {
        return;
    }

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
