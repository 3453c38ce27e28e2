//! How the native throughput figures are measured, shared by the core's
//! `throughput` example (the bench generator's stream) and the gateway's
//! `sim_throughput` example (the simulator's stream, as the browser
//! benchmarks feed it), so the two streams' figures compare.
//!
//! Each measured chunk of [`CHUNK`] events is freshly produced (untimed) and
//! applied (timed) to one long-lived engine, so the operators run in steady
//! state with full maps. Rates are events per second of on-CPU time
//! (Linux `schedstat`), so they hold on a shared machine.

#![allow(dead_code)] // reason: each includer uses a different subset
#![allow(clippy::cast_precision_loss)] // reason: rates are display values

use std::time::{Duration, Instant};

use shoppulse_core::binary::{encode_events, Frame, Positions, Scratch};
use shoppulse_core::decode::decode_event;
use shoppulse_core::{Engine, Event};

/// Events per measured chunk.
pub const CHUNK: usize = 100_000;
/// Events per binary frame (the gateway's default batch).
pub const FRAME: usize = 1_000;

/// `lines` as `bin1` frames of [`FRAME`] events (untimed preparation).
pub fn frames_of(lines: &[String]) -> Vec<Vec<u8>> {
    let events: Vec<Event> = lines
        .iter()
        .filter_map(|l| decode_event(l, 0).ok())
        .collect();
    events
        .chunks(FRAME)
        .enumerate()
        .map(|(i, c)| {
            let pos = Positions {
                first_seq: 1 + (i * FRAME) as u64,
                ..Positions::default()
            };
            encode_events("bench", pos, 0, c)
        })
        .collect()
}

/// On-CPU time of this process (Linux `schedstat`, ns), robust to other
/// processes sharing the cores; wall time elsewhere.
pub fn cpu_now() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or_else(
            || START.get_or_init(Instant::now).elapsed(),
            Duration::from_nanos,
        )
}

/// Accumulates timed sections.
#[derive(Default)]
pub struct Meter {
    pub busy: Duration,
    pub events: usize,
}

impl Meter {
    /// Times `f`, which handles `events` events.
    pub fn time(&mut self, events: usize, f: impl FnOnce()) {
        let t0 = cpu_now();
        f();
        self.busy += cpu_now().saturating_sub(t0);
        self.events += events;
    }

    /// Events per second of on-CPU time so far.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.busy.as_secs_f64()
    }
}

/// Events/s of `bin1` decoding plus `engine`'s operators, one event at a
/// time as decoded (as the dashboard applies them), over fresh chunks of
/// canonical JSON lines from `next`.
pub fn bin1_rate(
    engine: &mut Engine,
    mut next: impl FnMut() -> Vec<String>,
    budget: Duration,
) -> f64 {
    let mut m = Meter::default();
    let mut scratch = Scratch::default();
    while m.busy < budget {
        let lines = next();
        let chunk = frames_of(&lines);
        m.time(lines.len(), || apply_bin1(engine, &mut scratch, &chunk));
    }
    m.rate()
}

/// Decodes `frames` and applies each event to `engine` as it is decoded
/// (as the dashboard does); a bad frame is skipped.
pub fn apply_bin1(engine: &mut Engine, scratch: &mut Scratch, frames: &[Vec<u8>]) {
    for f in frames {
        if let Ok(frame) = Frame::parse(f) {
            let _ = frame.for_each(scratch, |_, ev| engine.apply(ev));
        }
    }
}

/// Events/s of JSON decoding plus `engine`'s operators, one line at a
/// time, over fresh chunks from `next`.
pub fn json_rate(
    engine: &mut Engine,
    mut next: impl FnMut() -> Vec<String>,
    budget: Duration,
) -> f64 {
    let mut m = Meter::default();
    while m.busy < budget {
        let chunk = next();
        m.time(chunk.len(), || {
            for l in &chunk {
                let _ = engine.apply_json(l, 0, "bench");
            }
        });
    }
    m.rate()
}
