//! Security counters, part of `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a request or connection was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// `/ws` hello without a valid viewer token (close 1008 `unauthorized`).
    WsUnauthorized,
    /// `/ingest` without a valid ingest token (401).
    IngestUnauthorized,
    /// `/metrics` without a valid token while tokens are configured (401).
    MetricsUnauthorized,
    /// A browser `Origin` not on the allow-list (403).
    Origin,
    /// A `Host` that is not this machine on a loopback gateway (403).
    Host,
    /// Too many open WebSocket connections from one IP (429).
    ConnsPerIp,
    /// Ingest over `--ingest-rate` (429 with `Retry-After`).
    IngestRate,
    /// A client WebSocket message or frame over 64 KiB (close 1009).
    MessageTooLarge,
    /// An ingest body over `--max-body` (413).
    BodyTooLarge,
}

impl Refusal {
    /// Every reason, in counter order.
    pub const ALL: [Refusal; 9] = [
        Refusal::WsUnauthorized,
        Refusal::IngestUnauthorized,
        Refusal::MetricsUnauthorized,
        Refusal::Origin,
        Refusal::Host,
        Refusal::ConnsPerIp,
        Refusal::IngestRate,
        Refusal::MessageTooLarge,
        Refusal::BodyTooLarge,
    ];

    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::WsUnauthorized => "ws_unauthorized",
            Refusal::IngestUnauthorized => "ingest_unauthorized",
            Refusal::MetricsUnauthorized => "metrics_unauthorized",
            Refusal::Origin => "origin",
            Refusal::Host => "host",
            Refusal::ConnsPerIp => "conns_per_ip",
            Refusal::IngestRate => "ingest_rate",
            Refusal::MessageTooLarge => "message_too_large",
            Refusal::BodyTooLarge => "body_too_large",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct SecurityCounters {
    refused: [AtomicU64; 9],
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: AtomicU64,
}

impl SecurityCounters {
    /// Counts one refusal.
    pub fn add(&self, r: Refusal) {
        self.refused[r as usize].fetch_add(1, Relaxed);
    }

    /// Refusals of one kind so far.
    pub fn get(&self, r: Refusal) -> u64 {
        self.refused[r as usize].load(Relaxed)
    }

    /// Appends the Prometheus text of these counters.
    pub fn render(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "# HELP shoppulse_feed_refused_total Requests and connections refused by a security control, by reason.\n# TYPE shoppulse_feed_refused_total counter"
        );
        for r in Refusal::ALL {
            let _ = writeln!(
                o,
                "shoppulse_feed_refused_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.get(r)
            );
        }
        let _ = writeln!(
            o,
            "# HELP shoppulse_feed_tls_handshake_failures_total TLS handshakes that failed or timed out.\n# TYPE shoppulse_feed_tls_handshake_failures_total counter\nshoppulse_feed_tls_handshake_failures_total {}",
            self.tls_handshake_failures.load(Relaxed)
        );
    }
}
