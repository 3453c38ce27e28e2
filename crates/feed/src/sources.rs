//! Source drivers: the simulator and the replay file, each on its own thread,
//! publishing batches into the hub.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use tracing::{info, warn};

use crate::hub::{now_ms, Hub};
use crate::lines::decode_line;
use crate::metrics::Source;
use crate::sim::{SimConfig, Simulator};

/// Replay pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the gateway can sequence.
    Max,
    /// `N` times real time, by event time.
    Factor(f64),
}

impl Speed {
    /// Parses `max` or a positive number.
    pub fn parse(s: &str) -> Result<Speed, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
            _ => Err(format!("expected `max` or a positive number, got {s:?}")),
        }
    }

    /// The `hello.replay_speed` value (0 for max).
    pub fn as_hello(self) -> f64 {
        match self {
            Speed::Max => 0.0,
            Speed::Factor(x) => x,
        }
    }
}

/// Largest batch a source publishes at once.
const BATCH: usize = 1000;

/// Runs the simulator at `rate` events per second of wall time (its event
/// time advances at the same rate), until `max_events` or shutdown.
pub fn run_simulator(cfg: SimConfig, max_events: Option<u64>, hub: &Arc<Hub>) {
    let rate = cfg.rate;
    let mut sim = Simulator::new(cfg);
    let t0 = Instant::now();
    let limit = max_events.unwrap_or(u64::MAX);
    let mut batch = Vec::with_capacity(BATCH);
    let mut warned_behind = false;
    info!(rate, max_events, "simulator started");
    loop {
        if hub.stopping() {
            return;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // reason: a non-negative event count, saturating on overflow
        let due = ((t0.elapsed().as_secs_f64() * rate).floor() as u64)
            .saturating_add(1)
            .min(limit);
        let mut produced = 0u64;
        while sim.emitted() < due && produced < 20 * BATCH as u64 {
            batch.push(sim.next_event());
            produced += 1;
            if batch.len() == BATCH {
                hub.publish(&batch, Source::Simulator);
                batch.clear();
            }
        }
        hub.publish(&batch, Source::Simulator);
        batch.clear();
        if sim.emitted() >= limit {
            info!(
                events = sim.emitted(),
                "simulator reached --sim-events, stopping"
            );
            return;
        }
        if sim.emitted() < due {
            if !warned_behind && rate < 1e8 && due - sim.emitted() > 10 * BATCH as u64 {
                warn!(
                    rate,
                    "simulator cannot keep up with --rate; running flat out"
                );
                warned_behind = true;
            }
            continue;
        }
        // Sleep until the next event is due (at most 20 ms, to batch).
        #[allow(clippy::cast_precision_loss)] // reason: event counts far below 2^52
        let next_at = (sim.emitted() as f64) / rate;
        let wait = (next_at - t0.elapsed().as_secs_f64()).clamp(0.001, 0.020);
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
}

/// Opens a file, transparently gunzipping it when it starts with the gzip
/// magic bytes.
pub fn open_maybe_gz(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    let f = File::open(path)?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f)),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
    }
}

/// Replays an NDJSON file in order. Lines without `ts` (and rejection
/// notices) take the replay clock: the event time of the latest timed line,
/// or the wall clock before the first.
pub fn run_replay(path: &Path, speed: Speed, hub: &Arc<Hub>) {
    let mut reader = match open_maybe_gz(path) {
        Ok(r) => r,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot open replay file");
            return;
        }
    };
    info!(path = %path.display(), ?speed, "replay started");
    let wall0 = Instant::now();
    let mut first_ts: Option<i64> = None;
    let mut clock: Option<i64> = None;
    let mut batch = Vec::with_capacity(BATCH);
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let (mut events, mut rejected) = (0u64, 0u64);
    loop {
        if hub.stopping() {
            return;
        }
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                warn!(line = line_no + 1, error = %e, "replay read error, stopping");
                break;
            }
        }
        line_no += 1;
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let fallback = clock.unwrap_or_else(now_ms);
        let Some(decoded) = decode_line(raw, line_no, fallback, "replay") else {
            continue;
        };
        let ev = match decoded {
            Ok(ev) => {
                events += 1;
                ev
            }
            Err(notice) => {
                rejected += 1;
                notice
            }
        };
        if !ev.ts_inferred {
            clock = Some(clock.map_or(ev.ts_ms, |c| c.max(ev.ts_ms)));
            if let Speed::Factor(f) = speed {
                let t0 = *first_ts.get_or_insert(ev.ts_ms);
                #[allow(clippy::cast_precision_loss)] // reason: ms offsets far below 2^52
                let due = Duration::from_secs_f64(((ev.ts_ms - t0).max(0) as f64) / 1000.0 / f);
                let elapsed = wall0.elapsed();
                if due > elapsed + Duration::from_millis(1) {
                    hub.publish(&batch, Source::Replay);
                    batch.clear();
                    sleep_until(hub, wall0 + due);
                }
            }
        }
        batch.push(ev);
        if batch.len() == BATCH {
            hub.publish(&batch, Source::Replay);
            batch.clear();
        }
    }
    hub.publish(&batch, Source::Replay);
    info!(
        lines = line_no,
        events, rejected, "replay finished; the gateway keeps serving"
    );
}

fn sleep_until(hub: &Hub, at: Instant) {
    loop {
        let now = Instant::now();
        if now >= at || hub.stopping() {
            return;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(100)));
    }
}
