//! Gateway counters, rendered in the Prometheus text format at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use shoppulse_core::decode::ErrorClass;

/// Where accepted events come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    /// The seeded simulator.
    Simulator,
    /// An NDJSON replay file.
    Replay,
    /// `POST /ingest`.
    Ingest,
    /// `POST /webhooks/...` (Shopify, WooCommerce, Segment, GA4).
    Webhook,
    /// A NATS `JetStream` stream (`--nats`).
    Nats,
}

impl Source {
    /// All sources, in counter order.
    pub const ALL: [Source; 5] = [
        Source::Simulator,
        Source::Replay,
        Source::Ingest,
        Source::Webhook,
        Source::Nats,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Simulator => "simulator",
            Source::Replay => "replay",
            Source::Ingest => "ingest",
            Source::Webhook => "webhook",
            Source::Nats => "nats",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Frame types the gateway sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameType {
    /// `hello`.
    Hello,
    /// `snapshot`.
    Snapshot,
    /// `events`.
    Events,
    /// `heartbeat`.
    Heartbeat,
    /// `gap`.
    Gap,
    /// `error`.
    Error,
}

impl FrameType {
    const ALL: [FrameType; 6] = [
        FrameType::Hello,
        FrameType::Snapshot,
        FrameType::Events,
        FrameType::Heartbeat,
        FrameType::Gap,
        FrameType::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            FrameType::Hello => "hello",
            FrameType::Snapshot => "snapshot",
            FrameType::Events => "events",
            FrameType::Heartbeat => "heartbeat",
            FrameType::Gap => "gap",
            FrameType::Error => "error",
        }
    }
}

/// Outcome of an ingest request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IngestOutcome {
    /// Read and processed (bad lines are reported in the answer).
    Ok,
    /// Body over `--max-body`.
    TooLarge,
    /// The body could not be read.
    Error,
}

/// All counters; cheap to bump from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// WebSocket connections accepted since start.
    pub connections_total: AtomicU64,
    events_in: [AtomicU64; 5],
    /// Events handed to dashboards (counted once per connection).
    pub events_out: AtomicU64,
    rejected_by_class: [AtomicU64; 6],
    rejected_by_source: [AtomicU64; 5],
    /// Connections closed because their queue overflowed.
    pub dropped_slow: AtomicU64,
    /// Connections closed because the client went silent.
    pub client_timeouts: AtomicU64,
    /// Connections closed for a protocol violation.
    pub protocol_errors: AtomicU64,
    ingest: [AtomicU64; 3],
    frames: [AtomicU64; 6],
    /// WebSocket payload bytes sent.
    pub bytes_out: AtomicU64,
    /// Size of the latest snapshot state, bytes.
    pub snapshot_bytes: AtomicU64,
    /// Resumes served from history.
    pub resumes: AtomicU64,
    /// Gap frames sent (resume impossible).
    pub gaps: AtomicU64,
    /// When the latest paced resume (`--resume-pace`) started, ms since the
    /// Unix epoch (0: none yet).
    pub pace_started_ms: AtomicU64,
    /// Webhook requests, events and refusals by source.
    pub webhooks: crate::webhooks::Counters,
    /// Refusals by the security controls.
    pub security: crate::security::counters::SecurityCounters,
}

/// History gauges, read under the hub lock when rendering.
#[derive(Clone, Copy, Debug, Default)]
pub struct HistoryGauges {
    /// Newest sequence number.
    pub head_seq: u64,
    /// Oldest held sequence number.
    pub oldest_seq: u64,
    /// Events held.
    pub events: u64,
    /// Bytes of canonical JSON held.
    pub bytes: u64,
    /// Configured capacity.
    pub capacity: u64,
    /// Frames waiting in all connection queues.
    pub queued_frames: u64,
    /// Bytes waiting in all connection queues.
    pub queued_bytes: u64,
    /// Frames waiting in the fullest connection queue.
    pub max_queued_frames: u64,
}

impl Metrics {
    /// Counts events accepted from a source.
    pub fn add_in(&self, source: Source, n: u64) {
        self.events_in[source.slot()].fetch_add(n, Relaxed);
    }

    /// Events accepted from `source` so far.
    pub fn events_in(&self, source: Source) -> u64 {
        self.events_in[source.slot()].load(Relaxed)
    }

    /// Counts one refused input line.
    pub fn add_rejected(&self, source: Source, class: &str) {
        self.rejected_by_source[source.slot()].fetch_add(1, Relaxed);
        let slot = ErrorClass::parse(class)
            .and_then(|c| ErrorClass::ALL.iter().position(|x| *x == c))
            .unwrap_or(0);
        self.rejected_by_class[slot].fetch_add(1, Relaxed);
    }

    /// Refused lines from `source` so far.
    pub fn rejected(&self, source: Source) -> u64 {
        self.rejected_by_source[source.slot()].load(Relaxed)
    }

    /// Counts an ingest request.
    pub fn add_ingest(&self, outcome: IngestOutcome) {
        self.ingest[outcome as usize].fetch_add(1, Relaxed);
    }

    /// Counts a frame sent.
    pub fn add_frame(&self, ty: FrameType, bytes: usize) {
        self.frames[ty as usize].fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }

    /// The Prometheus text exposition.
    #[allow(clippy::too_many_lines)] // reason: one flat list of metric declarations
    pub fn render(&self, h: HistoryGauges, uptime_s: f64) -> String {
        let mut o = String::with_capacity(4096);
        let mut metric = |name: &str, ty: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {ty}");
            for (labels, v) in samples {
                let _ = writeln!(o, "{name}{labels} {v}");
            }
        };
        let one = |v: &AtomicU64| vec![(String::new(), v.load(Relaxed))];
        metric(
            "shoppulse_feed_connections",
            "gauge",
            "Open WebSocket connections.",
            &one(&self.connections),
        );
        metric(
            "shoppulse_feed_connections_total",
            "counter",
            "WebSocket connections accepted since start.",
            &one(&self.connections_total),
        );
        metric(
            "shoppulse_feed_events_in_total",
            "counter",
            "Events sequenced into the feed, rejection notices included, by source.",
            &Source::ALL
                .iter()
                .map(|s| {
                    (
                        format!("{{source=\"{}\"}}", s.as_str()),
                        self.events_in[s.slot()].load(Relaxed),
                    )
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "shoppulse_feed_events_out_total",
            "counter",
            "Events handed to dashboards (each connection counts separately).",
            &one(&self.events_out),
        );
        metric(
            "shoppulse_feed_rejected_lines_total",
            "counter",
            "Input lines refused, by error class.",
            &ErrorClass::ALL
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        format!("{{class=\"{}\"}}", c.as_str()),
                        self.rejected_by_class[i].load(Relaxed),
                    )
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "shoppulse_feed_rejected_lines_by_source_total",
            "counter",
            "Input lines refused, by source.",
            &Source::ALL
                .iter()
                .map(|s| {
                    (
                        format!("{{source=\"{}\"}}", s.as_str()),
                        self.rejected_by_source[s.slot()].load(Relaxed),
                    )
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "shoppulse_feed_dropped_slow_connections_total",
            "counter",
            "Connections closed with slow_consumer because their queue overflowed.",
            &one(&self.dropped_slow),
        );
        metric(
            "shoppulse_feed_client_timeouts_total",
            "counter",
            "Connections closed because the dashboard sent nothing for --client-timeout.",
            &one(&self.client_timeouts),
        );
        metric(
            "shoppulse_feed_protocol_errors_total",
            "counter",
            "Connections closed for a bad hello, an oversized or an unknown client message.",
            &one(&self.protocol_errors),
        );
        metric(
            "shoppulse_feed_ingest_requests_total",
            "counter",
            "POST /ingest requests, by outcome.",
            &["ok", "too_large", "error"]
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("{{outcome=\"{s}\"}}"), self.ingest[i].load(Relaxed)))
                .collect::<Vec<_>>(),
        );
        metric(
            "shoppulse_feed_frames_sent_total",
            "counter",
            "WebSocket frames sent, by frame type.",
            &FrameType::ALL
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        format!("{{type=\"{}\"}}", t.as_str()),
                        self.frames[i].load(Relaxed),
                    )
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "shoppulse_feed_bytes_sent_total",
            "counter",
            "WebSocket payload bytes sent.",
            &one(&self.bytes_out),
        );
        metric(
            "shoppulse_feed_resumes_total",
            "counter",
            "Reconnections resumed from history without a snapshot.",
            &one(&self.resumes),
        );
        metric(
            "shoppulse_feed_gaps_total",
            "counter",
            "Gap frames sent (resume impossible: history gone or epoch changed).",
            &one(&self.gaps),
        );
        metric(
            "shoppulse_feed_snapshot_bytes",
            "gauge",
            "Size of the latest snapshot state sent, bytes.",
            &one(&self.snapshot_bytes),
        );
        let g = |v: u64| vec![(String::new(), v)];
        metric(
            "shoppulse_feed_head_seq",
            "gauge",
            "Sequence number of the newest event.",
            &g(h.head_seq),
        );
        metric(
            "shoppulse_feed_oldest_seq",
            "gauge",
            "Oldest sequence number still held in history.",
            &g(h.oldest_seq),
        );
        metric(
            "shoppulse_feed_history_events",
            "gauge",
            "Events held in the resume history.",
            &g(h.events),
        );
        metric(
            "shoppulse_feed_history_bytes",
            "gauge",
            "Bytes of canonical event JSON held in the resume history.",
            &g(h.bytes),
        );
        metric(
            "shoppulse_feed_history_capacity",
            "gauge",
            "Configured history capacity (--history), events.",
            &g(h.capacity),
        );
        metric(
            "shoppulse_feed_queued_frames",
            "gauge",
            "Frames waiting in the per-connection send queues, all connections.",
            &g(h.queued_frames),
        );
        metric(
            "shoppulse_feed_queued_bytes",
            "gauge",
            "Bytes waiting in the per-connection send queues, all connections.",
            &g(h.queued_bytes),
        );
        metric(
            "shoppulse_feed_max_queued_frames",
            "gauge",
            "Frames waiting in the fullest per-connection send queue.",
            &g(h.max_queued_frames),
        );
        self.webhooks.render(&mut o);
        self.security.render(&mut o);
        let _ = writeln!(
            o,
            "# HELP shoppulse_feed_uptime_seconds Seconds since the gateway started.\n# TYPE shoppulse_feed_uptime_seconds gauge\nshoppulse_feed_uptime_seconds {uptime_s:.3}"
        );
        o
    }
}
