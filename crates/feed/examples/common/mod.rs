//! The simulator's stream as the browser benchmarks feed it, shared by the
//! gateway's examples that measure it (`sim_throughput`, `sim_cost`).

use shoppulse_feed::sim::{SimConfig, Simulator, DEFAULT_FAILURE_RATE};

/// 2024-11-29T09:00:00Z, the browser benchmarks' `SIM_START`.
pub const SIM_START_MS: i64 = 1_732_870_800_000;

/// The simulator of the benchmarks' stream: seed 7 from [`SIM_START_MS`],
/// `rate` events per second of event time, the default failure rate.
pub fn simulator(rate: f64) -> Simulator {
    Simulator::new(SimConfig {
        seed: 7,
        start_ms: SIM_START_MS,
        rate,
        failure_rate: DEFAULT_FAILURE_RATE,
    })
}
