//! Criterion benchmark: events/s for decode alone and for decode + all
//! operators over a realistic generated stream (see `gen`).
//!
//! `cargo bench -p shoppulse-core`

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shoppulse_core::decode::decode_event;
use shoppulse_core::{Config, Engine};

mod gen;

const LINES: usize = 100_000;

fn bench(c: &mut Criterion) {
    // Warm engine: the operators are measured in steady state (full maps),
    // on the batch that follows the warm-up stream in event time.
    let mut g = gen::Gen::new(42);
    let mut warm = Engine::new(Config::default());
    let mut line = String::new();
    for _ in 0..300_000 {
        g.next_line(&mut line);
        let _ = warm.apply_json(&line, 0, "bench");
    }
    let lines = g.lines(LINES);

    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(decode_event(l, 0).ok());
            }
        });
    });
    g.bench_function("decode+operators", |b| {
        b.iter_batched_ref(
            || warm.clone(),
            |e| {
                for l in &lines {
                    let _ = e.apply_json(l, 0, "bench");
                }
            },
            criterion::BatchSize::LargeInput,
        );
    });
    g.bench_function("view", |b| b.iter(|| black_box(warm.view())));
    g.finish();

    // Plain events/s figures, printed once (wall time; the operators
    // figure re-applies the batch to fresh clones of the warm engine).
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_secs(2) {
        for l in &lines {
            black_box(decode_event(l, 0).ok());
        }
        n += LINES;
    }
    println!(
        "{:>18}: {:>12.0} events/s",
        "decode",
        n as f64 / t0.elapsed().as_secs_f64()
    );
    let mut busy = Duration::ZERO;
    let mut n = 0;
    while busy < Duration::from_secs(2) {
        let mut e = warm.clone();
        let t0 = Instant::now();
        for l in &lines {
            let _ = e.apply_json(l, 0, "bench");
        }
        busy += t0.elapsed();
        n += LINES;
    }
    println!(
        "{:>18}: {:>12.0} events/s",
        "decode+operators",
        n as f64 / busy.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
