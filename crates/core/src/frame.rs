//! Protocol v1 frames between gateway and dashboard (JSON text frames).
//!
//! Gateway to dashboard: `hello`, `snapshot`, `events`, `heartbeat`, `gap`,
//! `error`. Dashboard to gateway: `hello` (with an optional resume point),
//! `heartbeat`. Every frame is a JSON object with a `type` field. See
//! `docs/PROTOCOL.md` for the contract and the resume rules.
//!
//! Events inside an `events` frame are kept as raw JSON so that each is
//! decoded on its own with [`crate::decode::decode_event`]: one bad event is
//! counted and skipped, never the whole frame.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The protocol version spoken by this crate.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side sends or accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Where a dashboard left off: the stream epoch and the last sequence number
/// it applied.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ResumePoint {
    /// Stream identity. Sequence numbers are only comparable within an epoch.
    pub epoch: String,
    /// Last applied sequence number (0: nothing applied yet).
    pub seq: u64,
}

/// A frame from the gateway. Parse with [`ServerFrame::parse`] (serde's
/// internally tagged enums cannot carry raw JSON values).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Hello {
        /// Protocol version ([`PROTOCOL_VERSION`]).
        protocol: u32,
        /// The stream's epoch.
        epoch: String,
        /// Sequence number of the newest event in the stream (0: none yet).
        head_seq: u64,
        /// Oldest sequence number still held in history (`head_seq + 1` when empty).
        oldest_seq: u64,
        /// Gateway name and version.
        server: String,
        /// Human description of the sources (`simulator seed 7 at 200 ev/s`).
        source: String,
        /// Replay speed when replaying (`Some(0.0)` means as fast as possible).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replay_speed: Option<f64>,
        /// Encodings the gateway can send; `"json"` always.
        encodings: Vec<String>,
    },
    /// The full operator state after applying every event up to `seq`.
    Snapshot {
        /// Stream epoch.
        epoch: String,
        /// The state includes every event with sequence number `<= seq`.
        seq: u64,
        /// Serialized [`crate::engine::Engine`].
        state: Box<RawValue>,
    },
    /// A batch of consecutive events.
    Events {
        /// Stream epoch.
        epoch: String,
        /// Sequence number of `events[0]`; the rest follow consecutively.
        first_seq: u64,
        /// Gateway time when the frame was sent (epoch ms), for lag display.
        sent_ms: i64,
        /// The events, each in canonical JSON.
        events: Vec<Box<RawValue>>,
    },
    /// Keep-alive; also tells the dashboard how far the stream has gone.
    Heartbeat {
        /// Gateway time (epoch ms).
        sent_ms: i64,
        /// Newest sequence number.
        head_seq: u64,
    },
    /// The events after the requested resume point are no longer available
    /// (or the epoch changed). A `snapshot` follows.
    Gap {
        /// Current epoch.
        epoch: String,
        /// What the dashboard asked to resume after.
        requested: Option<ResumePoint>,
        /// Oldest sequence still held.
        oldest_seq: u64,
        /// `history_gone` or `epoch_changed`.
        reason: String,
    },
    /// The gateway is closing or refusing something; readable.
    Error {
        /// Machine-readable code (`slow_consumer`, `bad_hello`, `too_large`...).
        code: String,
        /// Readable message.
        message: String,
    },
}

/// Every field any server frame may carry, for a single-pass parse.
#[derive(Deserialize)]
struct AnyServerFrame {
    #[serde(rename = "type")]
    ty: String,
    protocol: Option<u32>,
    epoch: Option<String>,
    head_seq: Option<u64>,
    oldest_seq: Option<u64>,
    server: Option<String>,
    source: Option<String>,
    replay_speed: Option<f64>,
    encodings: Option<Vec<String>>,
    seq: Option<u64>,
    state: Option<Box<RawValue>>,
    first_seq: Option<u64>,
    sent_ms: Option<i64>,
    events: Option<Vec<Box<RawValue>>>,
    requested: Option<ResumePoint>,
    reason: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

fn need<T>(v: Option<T>, ty: &str, field: &str) -> Result<T, serde_json::Error> {
    v.ok_or_else(|| {
        <serde_json::Error as serde::de::Error>::custom(format!("`{ty}` frame without `{field}`"))
    })
}

impl ServerFrame {
    /// Parses a server frame from JSON text.
    pub fn parse(text: &str) -> Result<ServerFrame, serde_json::Error> {
        let f: AnyServerFrame = serde_json::from_str(text)?;
        let ty = f.ty.as_str();
        Ok(match ty {
            "hello" => ServerFrame::Hello {
                protocol: need(f.protocol, ty, "protocol")?,
                epoch: need(f.epoch, ty, "epoch")?,
                head_seq: need(f.head_seq, ty, "head_seq")?,
                oldest_seq: need(f.oldest_seq, ty, "oldest_seq")?,
                server: f.server.unwrap_or_default(),
                source: f.source.unwrap_or_default(),
                replay_speed: f.replay_speed,
                encodings: f.encodings.unwrap_or_default(),
            },
            "snapshot" => ServerFrame::Snapshot {
                epoch: need(f.epoch, ty, "epoch")?,
                seq: need(f.seq, ty, "seq")?,
                state: need(f.state, ty, "state")?,
            },
            "events" => ServerFrame::Events {
                epoch: need(f.epoch, ty, "epoch")?,
                first_seq: need(f.first_seq, ty, "first_seq")?,
                sent_ms: f.sent_ms.unwrap_or_default(),
                events: need(f.events, ty, "events")?,
            },
            "heartbeat" => ServerFrame::Heartbeat {
                sent_ms: f.sent_ms.unwrap_or_default(),
                head_seq: need(f.head_seq, ty, "head_seq")?,
            },
            "gap" => ServerFrame::Gap {
                epoch: need(f.epoch, ty, "epoch")?,
                requested: f.requested,
                oldest_seq: need(f.oldest_seq, ty, "oldest_seq")?,
                reason: f.reason.unwrap_or_default(),
            },
            "error" => ServerFrame::Error {
                code: f.code.unwrap_or_default(),
                message: f.message.unwrap_or_default(),
            },
            other => {
                return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                    "unknown frame type {other:?}"
                )))
            }
        })
    }

    /// Serializes the frame as one JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                r#"{{"type":"error","code":"encode","message":{:?}}}"#,
                e.to_string()
            )
        })
    }
}

/// A frame from the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame on every connection.
    Hello {
        /// Protocol version spoken by the dashboard.
        protocol: u32,
        /// Resume after this point instead of taking a snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumePoint>,
        /// Preferred encoding (`"json"`, the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encoding: Option<String>,
    },
    /// Keep-alive from the dashboard.
    Heartbeat {
        /// Dashboard time (epoch ms), informative.
        sent_ms: i64,
    },
}

/// Writes an `events` frame from already-encoded canonical event JSON without
/// re-parsing it. `events` must each be one valid JSON object.
pub fn encode_events_frame<'a>(
    epoch: &str,
    first_seq: u64,
    sent_ms: i64,
    events: impl IntoIterator<Item = &'a str>,
) -> String {
    let epoch_json = serde_json::to_string(epoch).unwrap_or_else(|_| "\"\"".to_owned());
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"type":"events","epoch":"#);
    out.push_str(&epoch_json);
    out.push_str(r#","first_seq":"#);
    out.push_str(&first_seq.to_string());
    out.push_str(r#","sent_ms":"#);
    out.push_str(&sent_ms.to_string());
    out.push_str(r#","events":["#);
    for (i, e) in events.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(e);
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_frame_parses_back() {
        let text = encode_events_frame(
            "e\"1",
            5,
            9,
            [
                r#"{"kind":"inventory","ts":1,"product":1,"quantity":2}"#,
                r#"{"x":1}"#,
            ],
        );
        let frame = ServerFrame::parse(&text).unwrap();
        match frame {
            ServerFrame::Events {
                epoch,
                first_seq,
                sent_ms,
                events,
            } => {
                assert_eq!(epoch, "e\"1");
                assert_eq!(first_seq, 5);
                assert_eq!(sent_ms, 9);
                assert_eq!(events.len(), 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn client_hello_round_trips() {
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume: Some(ResumePoint {
                epoch: "abc".into(),
                seq: 42,
            }),
            encoding: None,
        };
        let text = serde_json::to_string(&hello).unwrap();
        assert_eq!(
            text,
            r#"{"type":"hello","protocol":1,"resume":{"epoch":"abc","seq":42}}"#
        );
        assert_eq!(serde_json::from_str::<ClientFrame>(&text).unwrap(), hello);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    #[test]
    fn snapshot_frame_round_trips_raw_state() {
        let state = RawValue::from_string(r#"{"a":[1,2]}"#.to_owned()).unwrap();
        let text = ServerFrame::Snapshot {
            epoch: "x".into(),
            seq: 3,
            state,
        }
        .to_json();
        match ServerFrame::parse(&text).unwrap() {
            ServerFrame::Snapshot { seq, state, .. } => {
                assert_eq!(seq, 3);
                assert_eq!(state.get(), r#"{"a":[1,2]}"#);
            }
            other => panic!("{other:?}"),
        }
    }
}
