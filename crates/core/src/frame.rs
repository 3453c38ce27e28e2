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

pub use crate::decode::MAX_FRAME_BYTES;

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
        /// The encoding of this connection's `events` frames, when the
        /// dashboard asked for one (`"bin1"`: binary messages; see
        /// [`crate::binary`]); absent means JSON.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encoding: Option<String>,
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
    /// A batch of events covering the stream positions `first_seq..=last`
    /// (see [`ServerFrame::events_last_seq`]).
    ///
    /// Without `seqs` the events are consecutive: `events[i]` has sequence
    /// `first_seq + i`. With `seqs` (a dashboard that watches some shops of
    /// a shared stream) `events[i]` has sequence `seqs[i]`, and the positions
    /// in between belong to events the dashboard did not ask for.
    Events {
        /// Stream epoch.
        epoch: String,
        /// The first stream position this frame covers (the sequence number
        /// of `events[0]` when `seqs` is absent).
        first_seq: u64,
        /// Gateway time when the frame was sent (epoch ms), for lag display.
        sent_ms: i64,
        /// The events, each in canonical JSON.
        events: Vec<Box<RawValue>>,
        /// Explicit, strictly increasing sequence numbers of `events`, each
        /// `>= first_seq` (filtered streams only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seqs: Option<Vec<u64>>,
        /// The last stream position this frame covers, when it goes past its
        /// last event (filtered streams: "nothing for you up to here").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seq: Option<u64>,
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
    encoding: Option<String>,
    seq: Option<u64>,
    state: Option<Box<RawValue>>,
    first_seq: Option<u64>,
    sent_ms: Option<i64>,
    events: Option<Vec<Box<RawValue>>>,
    seqs: Option<Vec<u64>>,
    last_seq: Option<u64>,
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
                encoding: f.encoding,
            },
            "snapshot" => ServerFrame::Snapshot {
                epoch: need(f.epoch, ty, "epoch")?,
                seq: need(f.seq, ty, "seq")?,
                state: need(f.state, ty, "state")?,
            },
            "events" => {
                let first_seq = need(f.first_seq, ty, "first_seq")?;
                let events = need(f.events, ty, "events")?;
                check_event_seqs(first_seq, events.len(), f.seqs.as_deref(), f.last_seq)
                    .map_err(<serde_json::Error as serde::de::Error>::custom)?;
                ServerFrame::Events {
                    epoch: need(f.epoch, ty, "epoch")?,
                    first_seq,
                    sent_ms: f.sent_ms.unwrap_or_default(),
                    events,
                    seqs: f.seqs,
                    last_seq: f.last_seq,
                }
            }
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

    /// The last stream position an `events` frame covers: `last_seq` when
    /// given, else the sequence number of its last event (`first_seq - 1`
    /// for an empty frame, which covers nothing). `None` for other frames.
    pub fn events_last_seq(&self) -> Option<u64> {
        match self {
            ServerFrame::Events {
                first_seq,
                events,
                seqs,
                last_seq,
                ..
            } => Some(covered_last_seq(
                *first_seq,
                events.len(),
                seqs.as_deref(),
                *last_seq,
            )),
            _ => None,
        }
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

/// An `events` frame read in one pass, its events borrowed from the text
/// (the dashboard's path for JSON events frames; [`ServerFrame::parse`]
/// reads every frame).
///
/// [`ServerFrame::parse`] scans each event twice: `serde_json` finds its
/// end (a `RawValue`, validated and copied), then
/// [`crate::decode::decode_event`] reads it. Here an event's end is found by
/// matching its braces (strings skipped), and `decode_event` alone reads and
/// checks it, so each byte is scanned once. The frame's other fields are
/// read with `serde_json`, from their own text.
///
/// The one difference, on purpose: an event that is not valid JSON inside
/// an otherwise well-formed frame makes [`ServerFrame::parse`] refuse the
/// whole frame, while here it is one event that `decode_event` refuses
/// (counted and shown, the rest applied). Everything else agrees (the
/// `one_pass_events_frames_agree_with_server_frame_parse` proptest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsFrame<'a> {
    /// Stream epoch.
    pub epoch: String,
    /// The first stream position the frame covers.
    pub first_seq: u64,
    /// Gateway time when the frame was sent (epoch ms; 0 when absent).
    pub sent_ms: i64,
    /// Each event's text, as sent.
    pub events: Vec<&'a str>,
    /// Explicit sequence numbers (filtered streams).
    pub seqs: Option<Vec<u64>>,
    /// The last stream position covered, when past the last event.
    pub last_seq: Option<u64>,
}

impl<'a> EventsFrame<'a> {
    /// The `events` frame in `text`, when it is one in the layout the
    /// gateway writes: keys without escapes, each at most once, only the
    /// `events` frame's own (`type`, `epoch`, `first_seq`, `sent_ms`,
    /// `events`, `seqs`, `last_seq`), every event an object, the numbering
    /// consistent. `None` for anything else: read it with
    /// [`ServerFrame::parse`], which also says what is wrong.
    pub fn parse(text: &'a str) -> Option<EventsFrame<'a>> {
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i += 1;
        let (mut ty, mut epoch, mut first_seq, mut sent_ms) = (false, None, None, None);
        let (mut events, mut seqs, mut last_seq) = (None, None, None);
        let mut seen = 0u8;
        loop {
            i = skip_ws(b, i);
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key_end = i + 1 + b[i + 1..].iter().position(|&c| c == b'"')?;
            let key = &text[i + 1..key_end];
            if key.contains('\\') {
                return None;
            }
            i = skip_ws(b, key_end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_ws(b, i + 1);
            let (bit, end) = if key == "events" {
                let (list, end) = split_objects(text, start)?;
                events = Some(list);
                (0, end)
            } else {
                let end = skip_value(b, start)?;
                let value = &text[start..end];
                let bit = match key {
                    "type" => {
                        ty = value == r#""events""#;
                        1
                    }
                    "epoch" => {
                        epoch = serde_json::from_str::<Option<String>>(value).ok()?;
                        2
                    }
                    "first_seq" => {
                        first_seq = serde_json::from_str::<Option<u64>>(value).ok()?;
                        3
                    }
                    "sent_ms" => {
                        sent_ms = serde_json::from_str::<Option<i64>>(value).ok()?;
                        4
                    }
                    "seqs" => {
                        seqs = serde_json::from_str::<Option<Vec<u64>>>(value).ok()?;
                        5
                    }
                    "last_seq" => {
                        last_seq = serde_json::from_str::<Option<u64>>(value).ok()?;
                        6
                    }
                    _ => return None,
                };
                (bit, end)
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            i = skip_ws(b, end);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') if skip_ws(b, i + 1) == b.len() => break,
                _ => return None,
            }
        }
        let (epoch, first_seq, events) = (epoch?, first_seq?, events?);
        if !ty {
            return None;
        }
        check_event_seqs(first_seq, events.len(), seqs.as_deref(), last_seq).ok()?;
        Some(EventsFrame {
            epoch,
            first_seq,
            sent_ms: sent_ms.unwrap_or_default(),
            events,
            seqs,
            last_seq,
        })
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the JSON value starting at `i`: a string (escapes
/// skipped), an object or an array (brackets matched, strings skipped), or
/// a bare word or number (up to the next delimiter). Not validated: the
/// caller reads the value, which checks it. `None` when it does not end.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let n = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            (n > 0).then_some(i + n)
        }
    }
}

/// The index just past the string starting at `i` (a `"`).
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// The objects of the JSON array starting at `i`, as slices of `text`,
/// and the index past the array; `None` unless every element is an object.
fn split_objects(text: &str, i: usize) -> Option<(Vec<&str>, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return Some((out, i + 1));
    }
    loop {
        if b.get(i) != Some(&b'{') {
            return None;
        }
        let end = skip_value(b, i)?;
        // Brackets and quotes are ASCII, so `i` and `end` are on char
        // boundaries.
        out.push(text.get(i..end)?);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return Some((out, i + 1)),
            _ => return None,
        }
    }
}

/// Sequence number of the `i`-th event of an `events` frame.
pub fn event_seq(first_seq: u64, seqs: Option<&[u64]>, i: usize) -> u64 {
    match seqs {
        Some(s) => s.get(i).copied().unwrap_or(u64::MAX),
        None => first_seq.saturating_add(i as u64),
    }
}

/// The last stream position an `events` frame covers (see
/// [`ServerFrame::events_last_seq`]).
pub fn covered_last_seq(
    first_seq: u64,
    n_events: usize,
    seqs: Option<&[u64]>,
    last_seq: Option<u64>,
) -> u64 {
    let last_event = match (seqs, n_events) {
        (_, 0) => first_seq.saturating_sub(1),
        (Some(s), _) => s.last().copied().unwrap_or(first_seq.saturating_sub(1)),
        (None, n) => first_seq.saturating_add(n as u64 - 1),
    };
    last_seq.map_or(last_event, |l| l.max(last_event))
}

/// Checks the numbering of an `events` frame: `seqs`, when present, has one
/// strictly increasing number per event, none below `first_seq`; `last_seq`,
/// when present, is not below the last event nor below `first_seq - 1`.
pub fn check_event_seqs(
    first_seq: u64,
    n_events: usize,
    seqs: Option<&[u64]>,
    last_seq: Option<u64>,
) -> Result<(), String> {
    let last_event = if let Some(s) = seqs {
        if s.len() != n_events {
            return Err(format!(
                "`events` frame with {n_events} events but {} `seqs`",
                s.len()
            ));
        }
        let mut prev = first_seq.saturating_sub(1);
        for (i, &q) in s.iter().enumerate() {
            if q < first_seq || (i > 0 && q <= prev) {
                return Err(format!(
                    "`events` frame `seqs` not strictly increasing from `first_seq` {first_seq}: {q} after {prev}"
                ));
            }
            prev = q;
        }
        prev
    } else {
        covered_last_seq(first_seq, n_events, None, None)
    };
    match last_seq {
        Some(l) if l < last_event => Err(format!(
            "`events` frame `last_seq` {l} before its last event {last_event}"
        )),
        _ => Ok(()),
    }
}

/// An access token as sent in the dashboard's `hello`. Its `Debug` output is
/// redacted so that logging a frame never logs the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The secret itself (to check it; never to log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
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
        /// Only these shops (a gateway on a shared NATS stream); absent: every
        /// event of the stream. Sequence numbers stay the stream's, so the
        /// `events` frames carry `seqs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shops: Option<Vec<String>>,
        /// Encodings the dashboard accepts for `events` frames, best first
        /// (`["bin1", "json"]`); absent: JSON only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encodings: Option<Vec<String>>,
        /// Viewer token, for a gateway that requires one (see
        /// `docs/SECURITY.md`). Sent here, in the first message, so that it
        /// never appears in a URL; redacted from `Debug` output.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<Token>,
    },
    /// Keep-alive from the dashboard.
    Heartbeat {
        /// Dashboard time (epoch ms), informative.
        sent_ms: i64,
    },
}

/// Writes an `events` frame with explicit sequence numbers (`seqs[i]` for
/// `events[i]`, strictly increasing, none below `first_seq`) covering the
/// stream positions `first_seq..=last_seq`. `events` must each be one valid
/// JSON object.
pub fn encode_events_frame_with_seqs<'a>(
    epoch: &str,
    first_seq: u64,
    last_seq: u64,
    sent_ms: i64,
    seqs: &[u64],
    events: impl IntoIterator<Item = &'a str>,
) -> String {
    use std::fmt::Write as _;
    let mut out = encode_events_frame(epoch, first_seq, sent_ms, events);
    out.truncate(out.len() - 1); // the closing `}`
    out.push_str(r#","seqs":["#);
    for (i, q) in seqs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{q}");
    }
    let _ = write!(out, r#"],"last_seq":{last_seq}}}"#);
    out
}

impl ClientFrame {
    /// True when this `hello` lists `name` in `encodings` (e.g.
    /// [`crate::snapshot::SNAP1`]).
    pub fn accepts(&self, name: &str) -> bool {
        match self {
            ClientFrame::Hello { encodings, .. } => encodings.iter().flatten().any(|e| e == name),
            ClientFrame::Heartbeat { .. } => false,
        }
    }

    /// True when this `hello` accepts `bin1` events frames (listed in
    /// `encodings`, or named as the preferred `encoding`).
    pub fn accepts_bin1(&self) -> bool {
        match self {
            ClientFrame::Hello {
                encoding,
                encodings,
                ..
            } => {
                encoding.as_deref() == Some(crate::binary::BIN1)
                    || encodings.iter().flatten().any(|e| e == crate::binary::BIN1)
            }
            ClientFrame::Heartbeat { .. } => false,
        }
    }
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
                seqs,
                last_seq,
            } => {
                assert_eq!((seqs, last_seq), (None, None));
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
            shops: None,
            encodings: None,
            token: None,
        };
        let text = serde_json::to_string(&hello).unwrap();
        assert_eq!(
            text,
            r#"{"type":"hello","protocol":1,"resume":{"epoch":"abc","seq":42}}"#
        );
        assert_eq!(serde_json::from_str::<ClientFrame>(&text).unwrap(), hello);
        assert!(!hello.accepts_bin1(), "JSON unless asked");
    }

    #[test]
    fn a_hello_listing_bin1_accepts_it() {
        let hello: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"encodings":["bin1","json"]}"#)
                .unwrap();
        assert!(hello.accepts_bin1());
        let json_only: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"encodings":["json"]}"#).unwrap();
        assert!(!json_only.accepts_bin1());
    }

    #[test]
    fn hello_carries_a_token_that_debug_never_shows() {
        let text = r#"{"type":"hello","protocol":1,"token":"s3cret-viewer-token"}"#;
        let hello: ClientFrame = serde_json::from_str(text).unwrap();
        let ClientFrame::Hello { token, .. } = &hello else {
            panic!("not a hello: {hello:?}");
        };
        assert_eq!(
            token.as_ref().map(Token::expose),
            Some("s3cret-viewer-token")
        );
        assert_eq!(serde_json::to_string(&hello).unwrap(), text);
        let debug = format!("{hello:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}

#[cfg(test)]
mod seq_tests {
    use super::*;

    const EV: &str = r#"{"kind":"inventory","ts":1,"product":1,"quantity":2}"#;

    #[test]
    fn a_filtered_events_frame_carries_its_sequence_numbers_and_coverage() {
        let text = encode_events_frame_with_seqs("e", 10, 20, 7, &[12, 17], [EV, EV]);
        let frame = ServerFrame::parse(&text).unwrap();
        assert_eq!(frame.events_last_seq(), Some(20));
        match frame {
            ServerFrame::Events {
                first_seq,
                seqs,
                last_seq,
                events,
                ..
            } => {
                assert_eq!(first_seq, 10);
                assert_eq!(seqs.as_deref(), Some(&[12, 17][..]));
                assert_eq!(last_seq, Some(20));
                assert_eq!(event_seq(first_seq, seqs.as_deref(), 1), 17);
                assert_eq!(events.len(), 2);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_empty_filtered_frame_is_a_watermark() {
        let text = encode_events_frame_with_seqs("e", 10, 30, 7, &[], std::iter::empty());
        assert_eq!(
            ServerFrame::parse(&text).unwrap().events_last_seq(),
            Some(30)
        );
    }

    #[test]
    fn a_plain_frame_covers_its_events_only() {
        let text = encode_events_frame("e", 5, 0, [EV, EV, EV]);
        assert_eq!(
            ServerFrame::parse(&text).unwrap().events_last_seq(),
            Some(7)
        );
        let empty = encode_events_frame("e", 5, 0, std::iter::empty());
        assert_eq!(
            ServerFrame::parse(&empty).unwrap().events_last_seq(),
            Some(4)
        );
    }

    #[test]
    fn inconsistent_numbering_is_refused() {
        for (first, n, seqs, last) in [
            (5, 2, Some(vec![6]), None),
            (5, 2, Some(vec![7, 7]), None),
            (5, 2, Some(vec![4, 7]), None),
            (5, 2, Some(vec![6, 9]), Some(8)),
            (5, 3, None, Some(6)),
        ] {
            assert!(
                check_event_seqs(first, n, seqs.as_deref(), last).is_err(),
                "{first} {n} {seqs:?} {last:?}"
            );
        }
        assert!(check_event_seqs(5, 2, Some(&[5, 9]), Some(9)).is_ok());
        assert!(check_event_seqs(5, 0, None, Some(4)).is_ok());
        // First sequence 0 (a stream that numbers from 0) stays readable.
        assert!(check_event_seqs(0, 1, None, Some(0)).is_ok());
        assert!(check_event_seqs(0, 2, Some(&[0, 3]), Some(3)).is_ok());
        let bad =
            r#"{"type":"events","epoch":"e","first_seq":5,"sent_ms":0,"events":[{}],"seqs":[3]}"#;
        assert!(ServerFrame::parse(bad).is_err());
    }

    #[test]
    fn a_hello_may_name_shops() {
        let hello: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"shops":["a","b"]}"#).unwrap();
        assert!(matches!(
            hello,
            ClientFrame::Hello { shops: Some(ref s), .. } if s == &["a", "b"]
        ));
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
