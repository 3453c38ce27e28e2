//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sources::Speed;

/// The feed gateway of the shop operations dashboard.
///
/// Sequences events from a seeded shop simulator, an NDJSON replay file and
/// `POST /ingest` into one numbered stream, runs the dashboard's engine over it,
/// and serves it to dashboards over WebSocket (`/ws`, protocol v1) with
/// snapshots, resume and slow-consumer protection. Also serves `/healthz`,
/// `/metrics` (Prometheus) and, with `--dist`, the dashboard's files.
///
/// The bound address is printed on stdout as `listening on http://ADDR`.
/// Logs go to stderr. See docs/GATEWAY.md.
#[derive(Parser, Debug)]
#[command(
    name = "shoppulse-feed",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Run a tool instead of the gateway.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Gateway options (when no subcommand is given).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Tools.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Convert a public dataset into NDJSON events for replay.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print the simulator's events as NDJSON without serving (for replay
    /// files and benchmarks). Same seed and start: same output.
    Simulate(SimulateArgs),
}

/// Datasets `import` knows.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// The UCI "Online Retail" CSV (columns `InvoiceNo`, `StockCode`,
    /// `Description`, `Quantity`, `InvoiceDate`, `UnitPrice`, `CustomerID`,
    /// `Country`), plain or gzipped. Writes one `order` event per invoice; prints a summary on
    /// stderr.
    OnlineRetail(OnlineRetailArgs),
}

/// `import online-retail` options.
#[derive(Args, Debug)]
pub struct OnlineRetailArgs {
    /// The CSV file (`.csv` or `.csv.gz`; gzip is detected by content).
    pub input: PathBuf,
    /// Output NDJSON file (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "OUT.ndjson")]
    pub output: Option<PathBuf>,
    /// Also write a behaviour `purchase` event for every product line of a
    /// paid invoice with a known customer (feeds the recommender).
    #[arg(long)]
    pub with_behavior: bool,
    /// Never draw the progress bar (it is only drawn when stderr is a
    /// terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

/// Simulator settings shared by the gateway and `simulate`.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Simulator seed: the same seed and --sim-start give the same events.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// Simulated events per second; event time advances by one second every
    /// RATE events (and the gateway emits them at that pace in real time).
    #[arg(long, default_value_t = 200.0, value_name = "EVENTS_PER_S", value_parser = parse_rate)]
    pub rate: f64,
    /// Probability that one sync attempt fails (then retried with back-off,
    /// up to 4 attempts); a small share of attempts stays pending (stuck).
    #[arg(long, default_value_t = crate::sim::DEFAULT_FAILURE_RATE, value_name = "F", value_parser = parse_fraction)]
    pub failure_rate: f64,
    /// Event time of the first simulated event, RFC 3339
    /// (e.g. 2024-11-29T09:00:00Z). Default: the wall clock at start.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub sim_start: Option<i64>,
}

/// `simulate` options.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulator settings.
    #[command(flatten)]
    pub sim: SimArgs,
    /// How many events to print.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub events: u64,
    /// Output NDJSON file (default: stdout).
    #[arg(short = 'o', long = "output", value_name = "OUT.ndjson")]
    pub output: Option<PathBuf>,
}

/// Log line format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Gateway options.
#[derive(Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // reason: independent on/off flags of a CLI
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is
    /// printed as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:9001", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Serve the built dashboard from DIR at `/` (unknown paths fall back to
    /// DIR/index.html).
    #[arg(long, value_name = "DIR")]
    pub dist: Option<PathBuf>,

    /// Run the seeded shop simulator as a source.
    #[arg(long)]
    pub simulate: bool,
    /// Simulator settings.
    #[command(flatten)]
    pub sim: SimArgs,
    /// Stop the simulator after N events (default: run forever).
    #[arg(long, value_name = "N")]
    pub sim_events: Option<u64>,

    /// Replay an NDJSON file (optionally gzipped) as a source; every line is
    /// delivered in order, bad lines as `rejected` notices with their line
    /// number.
    #[arg(long, value_name = "FILE.ndjson")]
    pub replay: Option<PathBuf>,
    /// Replay pace: `max` (as fast as possible) or N times real time by
    /// event time (1 = real time, 60 = a minute per second).
    #[arg(long, default_value = "1", value_name = "max|N", value_parser = Speed::parse)]
    pub speed: Speed,

    /// Events kept in memory for resume (and the oldest resumable point).
    #[arg(long, default_value_t = 200_000, value_name = "N")]
    pub history: usize,
    /// Frames queued per dashboard before it is dropped as a slow consumer.
    #[arg(long, default_value_t = 256, value_name = "FRAMES")]
    pub client_queue: usize,
    /// Bytes queued per dashboard before it is dropped as a slow consumer
    /// (suffixes K, M, G, KiB, MiB, GiB accepted).
    #[arg(long, default_value = "64MiB", value_name = "BYTES", value_parser = parse_size)]
    pub client_queue_bytes: usize,
    /// Most events in one `events` frame.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch: usize,
    /// How long events gather before an `events` frame goes out, ms.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    pub flush_ms: u64,
    /// Heartbeat to dashboards after this many ms without other frames.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub heartbeat_ms: u64,
    /// Close a dashboard that sent nothing (no heartbeat) for this many ms.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub client_timeout_ms: u64,
    /// Largest `POST /ingest` body; larger bodies get 413 with a JSON error
    /// (suffixes K, M, G, KiB, MiB, GiB accepted).
    #[arg(long, default_value = "16MiB", value_name = "BYTES", value_parser = parse_size)]
    pub max_body: usize,
    /// For benchmarks: send resumed history at these rates instead of as
    /// fast as the socket takes it, `RATE:SECONDS[,RATE:SECONDS...]` (events
    /// per second; rate 0 pauses), from when each resuming dashboard's
    /// frames are ready; what is beyond the schedule goes out unpaced. The
    /// latest start is `resume_pace_started_ms` in `/healthz`.
    #[arg(long, value_name = "SCHEDULE", value_parser = crate::pace::Pace::parse)]
    pub resume_pace: Option<crate::pace::Pace>,
    /// Use this epoch instead of the one derived from the sources.
    #[arg(long, value_name = "STRING")]
    pub epoch: Option<String>,

    /// Webhook sources (`POST /webhooks/...`), see docs/SOURCES.md.
    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookArgs,
    /// Access tokens, origins, limits and TLS (docs/SECURITY.md).
    #[command(flatten)]
    pub security: crate::security::SecurityArgs,

    /// NATS options (`--nats URL`: serve a shared `JetStream` stream).
    #[command(flatten)]
    pub nats: NatsArgs,

    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` wins when set.
    #[arg(long, default_value = "info", value_name = "FILTER")]
    pub log: String,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Scale-out on NATS `JetStream` (docs/SCALING.md).
#[derive(Args, Debug, Clone)]
pub struct NatsArgs {
    /// Serve the events of a NATS `JetStream` stream (created when missing)
    /// instead of a local sequencer: `/ingest` and `--simulate` publish to
    /// it, any number of gateways consume it, and its sequence numbers and
    /// identity are the feed's, so a dashboard resumes on any gateway.
    /// Comma-separate several servers of a cluster.
    #[arg(long, value_name = "nats://HOST:PORT")]
    pub nats: Option<String>,
    /// The stream's name.
    #[arg(
        long,
        default_value = "SHOPPULSE",
        value_name = "NAME",
        requires = "nats"
    )]
    pub stream: String,
    /// Byte limit of the stream when this gateway creates it (oldest
    /// events are discarded past it).
    #[arg(long, default_value = "1GiB", value_name = "BYTES", value_parser = parse_size, requires = "nats")]
    pub stream_max_bytes: usize,
    /// Age limit of the stream's events when this gateway creates it
    /// (`90s`, `30m`, `24h`, `7d`).
    #[arg(long, default_value = "7d", value_name = "DURATION", value_parser = parse_duration, requires = "nats")]
    pub stream_max_age: std::time::Duration,
    /// Replicas of the stream when this gateway creates it (3 on a
    /// three-node NATS cluster).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "nats")]
    pub stream_replicas: usize,
    /// Shops the simulator publishes for with `--simulate --nats`, comma
    /// separated; each gets its own simulated shop (seed + index) at
    /// `--rate`.
    #[arg(
        long,
        default_value = "default",
        value_name = "SHOP,...",
        value_delimiter = ',',
        requires = "nats"
    )]
    pub shops: Vec<String>,
    /// Most distinct shop filters served at once (each keeps its own engine
    /// and history); idle ones are dropped after a minute.
    #[arg(long, default_value_t = 64, value_name = "N", requires = "nats")]
    pub max_filters: usize,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 90s, 30m, 24h or 7d, got {s:?}"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "expected a duration such as 90s, 30m, 24h or 7d, got {s:?}"
            ))
        }
    };
    Ok(std::time::Duration::from_secs(n.saturating_mul(secs)))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!(
            "expected a positive number of events per second, got {s:?}"
        )),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a probability between 0 and 1, got {s:?}")),
    }
}

fn parse_time(s: &str) -> Result<i64, String> {
    shoppulse_core::time::parse_rfc3339_ms(s)
        .ok_or_else(|| format!("expected RFC 3339 time such as 2024-11-29T09:00:00Z, got {s:?}"))
}

/// Parses `16MiB`, `64K`, `1048576`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("expected a size such as 16MiB or 65536, got {s:?}"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("1x").is_err());
    }

    #[test]
    fn parses_subcommands_and_flags() {
        let c = Cli::try_parse_from([
            "shoppulse-feed",
            "--simulate",
            "--seed",
            "7",
            "--rate",
            "500",
            "--sim-start",
            "2024-01-01T00:00:00Z",
            "--listen",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert!(c.command.is_none());
        assert!(c.serve.simulate);
        assert_eq!(c.serve.sim.seed, 7);
        assert_eq!(c.serve.sim.sim_start, Some(1_704_067_200_000));
        let c = Cli::try_parse_from([
            "shoppulse-feed",
            "import",
            "online-retail",
            "x.csv.gz",
            "-o",
            "o.ndjson",
        ])
        .unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Import(ImportCommand::OnlineRetail(_)))
        ));
        assert!(Cli::try_parse_from(["shoppulse-feed", "--speed", "0"]).is_err());
        let c = Cli::try_parse_from(["shoppulse-feed", "--speed", "max"]).unwrap();
        assert_eq!(c.serve.speed, Speed::Max);
    }

    #[test]
    fn nats_flags() {
        let c = Cli::try_parse_from([
            "shoppulse-feed",
            "--nats",
            "nats://127.0.0.1:4222",
            "--stream",
            "S",
            "--shops",
            "a,b",
            "--stream-max-age",
            "24h",
        ])
        .unwrap();
        assert_eq!(c.serve.nats.nats.as_deref(), Some("nats://127.0.0.1:4222"));
        assert_eq!(c.serve.nats.stream, "S");
        assert_eq!(c.serve.nats.shops, ["a", "b"]);
        assert_eq!(c.serve.nats.stream_max_age.as_secs(), 86_400);
        assert!(
            Cli::try_parse_from(["shoppulse-feed", "--stream", "S"]).is_err(),
            "--stream needs --nats"
        );
        assert!(parse_duration("7x").is_err());
    }
}
