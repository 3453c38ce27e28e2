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

use shoppulse_core::binary::{Frame, Scratch};
use shoppulse_core::{Config, Engine};
use shoppulse_feed::sim::{SimConfig, Simulator, DEFAULT_FAILURE_RATE};

#[path = "../../core/benches/rates/mod.rs"]
mod rates;

use rates::{cpu_now, frames_of, FRAME};

/// 2024-11-29T09:00:00Z, the browser benchmarks' `SIM_START`.
const SIM_START_MS: i64 = 1_732_870_800_000;

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
    let mut sim = Simulator::new(SimConfig {
        seed: 7,
        start_ms: SIM_START_MS,
        rate: 2000.0,
        failure_rate: DEFAULT_FAILURE_RATE,
    });
    let mut lines = |count: usize| -> Vec<Vec<u8>> {
        let json: Vec<String> = (0..count).map(|_| sim.next_event().to_json()).collect();
        frames_of(&json)
    };
    let warm = lines(warm_up);
    let measured = lines(n);
    let mut engine = Engine::new(Config::default());
    let mut scratch = Scratch::default();
    let mut apply = |frames: &[Vec<u8>], engine: &mut Engine| {
        for f in frames {
            if let Ok(frame) = Frame::parse(f) {
                let _ = frame.for_each(&mut scratch, |_, ev| engine.apply(ev));
            }
        }
    };
    apply(&warm, &mut engine);
    let t0 = cpu_now();
    apply(&measured[..applied / FRAME], &mut engine);
    let busy = cpu_now().saturating_sub(t0);
    let done = applied / FRAME * FRAME;
    println!(
        "{done} events applied after {warm_up} of warm-up: {:.0} events/s on-CPU",
        done as f64 / busy.as_secs_f64().max(1e-9)
    );
}
