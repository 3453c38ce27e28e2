//! What applying the simulator's stream costs, counted rather than timed:
//! run under `valgrind --tool=cachegrind` twice, applying 0 and then N
//! events of the same pre-generated stream; the difference of the two
//! runs' totals is the cost of decoding (`bin1`) and applying those N
//! events with all five operators: instructions, cache misses and
//! mispredicted branches per event, the same on every run, so a change
//! worth 2 % shows on a machine whose timings vary by 15 %.
//! `scripts/cost.sh` runs it and prints the figures.
//!
//! `cargo run --profile bench -p shoppulse-feed --example sim_cost
//! [N] [WARM_UP] [APPLIED]`: generates `WARM_UP` (default 300,000) and `N`
//! (default 1,000,000) events of the simulator's stream (seed 7, 2,000
//! events/s of event time, as `sim_throughput`), as `bin1` frames of
//! 1,000 events; applies the warm-up, then the first `APPLIED` (default
//! `N`) events, and prints the on-CPU rate of that last part (a timing,
//! for a quick look; the counts are the point).

#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use shoppulse_core::binary::Scratch;
use shoppulse_core::{Config, Engine};

mod common;
#[path = "../../core/benches/rates/mod.rs"]
mod rates;

use rates::{apply_bin1, cpu_now, frames_of, FRAME};

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let n = arg(1, 1_000_000);
    let warm_up = arg(2, 300_000);
    let applied = arg(3, n).min(n);
    let mut sim = common::simulator(2000.0);
    let mut lines = |count: usize| -> Vec<Vec<u8>> {
        let json: Vec<String> = (0..count).map(|_| sim.next_event().to_json()).collect();
        frames_of(&json)
    };
    let warm = lines(warm_up);
    let measured = lines(n);
    let mut engine = Engine::new(Config::default());
    let mut scratch = Scratch::default();
    apply_bin1(&mut engine, &mut scratch, &warm);
    let t0 = cpu_now();
    apply_bin1(&mut engine, &mut scratch, &measured[..applied / FRAME]);
    let busy = cpu_now().saturating_sub(t0);
    let done = applied / FRAME * FRAME;
    println!(
        "{done} events applied after {warm_up} of warm-up: {:.0} events/s on-CPU",
        done as f64 / busy.as_secs_f64().max(1e-9)
    );
}
