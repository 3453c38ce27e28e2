//! The protocol session: what one dashboard knows about the stream, and how
//! each server frame changes it.
//!
//! Pure (no browser APIs, no clock: callers pass `now_ms`), so the resume and
//! sequence rules are unit-tested natively. [`crate::feed`] owns the socket
//! and acts on the [`Outcome`] of each frame; [`crate::state`] publishes the
//! engine's view.
//!
//! Rules (protocol v1):
//! - `snapshot` replaces the engine; `last_seq` becomes the snapshot's `seq`.
//! - `events` cover the stream positions `first_seq..=last` and carry
//!   consecutive sequence numbers from `first_seq`, or explicit `seqs` (a
//!   dashboard watching some shops of a shared stream), with `last_seq` when
//!   the frame covers positions past its last event. An event with
//!   `seq <= last_seq` is skipped (never applied twice); `last_seq` then
//!   moves to the end of the frame's coverage; a frame starting after
//!   `last_seq + 1` means events were missed: reconnect and resume.
//! - Each event is decoded on its own; a bad one is recorded as a rejection
//!   with source `dashboard` and the rest of the frame still applies.
//! - `gap`: the resume point is gone; shown, `mark_gap` called, a snapshot follows.
//!   After `epoch_changed` the new stream's snapshot cannot hold what came
//!   before, so its open sales windows (and those of its first event) are
//!   marked incomplete; after `history_gone` the snapshot is the gateway's
//!   whole state (every event of the epoch), so nothing is marked.
//! - An unreadable snapshot (e.g. a gateway of another version) is never
//!   followed by a mid-stream start: the dashboard asks once for the whole
//!   history from seq 0, and otherwise applies nothing and shows the error.
//! - `error` with code `slow_consumer`: reconnect and resume.
//! - With `bin1` negotiated (the default; `?encoding=json` turns it off),
//!   `events` frames arrive as binary messages ([`Session::on_binary`]) and
//!   follow the same rules. A binary frame that cannot be read is counted
//!   (a rejection with source `dashboard`, and a protocol error); the
//!   events before the bad byte are applied, and the dashboard reconnects
//!   and resumes after the last one it applied.
//! - `error` with code `unauthorized`: the viewer token is missing or wrong;
//!   stop and ask for one (no reconnect storm).

use std::collections::VecDeque;
use std::fmt::Write as _;

use shoppulse_core::binary::{self, Frame, Scratch, BIN1};
use shoppulse_core::decode::{decode_event, DecodeError, ErrorClass};
use shoppulse_core::engine::Config;
use shoppulse_core::event::{Body, Event, SyncStatus, Target};
use shoppulse_core::frame::{
    covered_last_seq, event_seq, ClientFrame, EventsFrame, ResumePoint, ServerFrame, Token,
    PROTOCOL_VERSION,
};
use shoppulse_core::id::Id;
use shoppulse_core::snapshot::{self, SNAP1};
use shoppulse_core::Engine;

/// The operator's engine settings, as a function of the engine's config.
pub type ConfigFn = Box<dyn Fn(&Config) -> Config>;

/// Order and sync events remembered for order timelines.
pub const ORDER_LOG_LEN: usize = 4096;

/// One order or sync event seen by this dashboard (for an order's timeline).
#[derive(Clone, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
pub struct OrderNote {
    /// Event time.
    pub ts_ms: i64,
    /// Which order.
    pub order: Id,
    /// Its channel.
    pub channel: String,
    /// What happened.
    pub what: NoteKind,
}

/// The two kinds of order note.
#[derive(Clone, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
pub enum NoteKind {
    /// The order's own status (`created`, `paid`...).
    Order(String),
    /// A sync step.
    Sync {
        /// Target system.
        target: Target,
        /// Status.
        status: SyncStatus,
        /// Attempt number.
        attempt: u32,
        /// Latency, when given.
        latency_ms: Option<u64>,
        /// Error text, when given.
        error: Option<String>,
    },
}

impl OrderNote {
    /// The note for `ev`, when it is an order or sync event.
    pub fn of(ev: &Event) -> Option<OrderNote> {
        match &ev.body {
            Body::Order(o) => Some(OrderNote {
                ts_ms: ev.ts_ms,
                order: o.order.clone(),
                channel: o.channel.to_string(),
                what: NoteKind::Order(o.status.as_str().to_owned()),
            }),
            Body::Sync(s) => Some(OrderNote {
                ts_ms: ev.ts_ms,
                order: s.order.clone(),
                channel: s.channel.to_string(),
                what: NoteKind::Sync {
                    target: s.target,
                    status: s.status,
                    attempt: s.attempt,
                    latency_ms: s.latency_ms,
                    error: s.error.as_deref().map(str::to_owned),
                },
            }),
            _ => None,
        }
    }
}

/// Source name given to events this dashboard could not decode.
pub const REJECT_SOURCE: &str = "dashboard";

/// What the gateway said about itself in its `hello`.
#[derive(Clone, PartialEq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ServerInfo {
    /// Gateway name and version.
    pub server: String,
    /// Human description of the sources.
    pub source: String,
    /// Replay speed when replaying (`Some(0.0)`: as fast as possible).
    pub replay_speed: Option<f64>,
    /// Protocol version the gateway speaks.
    pub protocol: u32,
}

/// What the feed should do after a frame.
#[derive(Clone, PartialEq, Debug)]
pub enum Outcome {
    /// Keep reading.
    Continue,
    /// The gateway greeted us: the connection is live.
    Hello,
    /// A snapshot arrived after a `gap`: the view is whole again.
    Resynced,
    /// The gateway reported a gap; a snapshot follows.
    Gap,
    /// Close this connection and reconnect, resuming where we are.
    Reconnect(String),
    /// The gateway refused the viewer token: do not retry until the
    /// operator gives another one.
    Unauthorized(String),
}

/// The encoding of `events` frames a dashboard asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Encoding {
    /// JSON text frames.
    #[default]
    Json,
    /// `bin1` binary messages (JSON still accepted).
    Bin1,
}

/// One dashboard's protocol state and its engine.
#[derive(Default)]
#[allow(clippy::struct_excessive_bools)] // reason: four independent protocol flags, each documented; no two form a state machine
pub struct Session {
    /// The operators.
    pub engine: Engine,
    /// Only these shops (sent in `hello`); `None`: the whole stream.
    pub shops: Option<Vec<String>>,
    /// Stream epoch of the state we hold (`None`: nothing applied yet).
    pub epoch: Option<String>,
    /// Last applied sequence number.
    pub last_seq: u64,
    /// Newest sequence number the gateway has (hello, heartbeat, events).
    pub head_seq: u64,
    /// The gateway's hello, once received.
    pub server: Option<ServerInfo>,
    /// Gateway clock of the latest frame that carried one (epoch ms).
    pub server_sent_ms: i64,
    /// Events applied from `events` frames by this dashboard (not snapshots).
    pub applied_here: u64,
    /// `gap` frames received.
    pub gaps: u32,
    /// Reason of the latest gap (`history_gone`, `epoch_changed`, `missed 12..40`).
    pub last_gap: Option<String>,
    /// Frames that could not be parsed or used.
    pub protocol_errors: u64,
    /// Latest problem worth showing (bad frame, gateway error message).
    pub last_error: Option<String>,
    /// The operator's settings for the engine (thresholds, SLA), applied
    /// again after every snapshot (a snapshot carries the gateway's config).
    local_config: Option<ConfigFn>,
    /// Latest order and sync events seen here, oldest first (bounded).
    pub order_log: VecDeque<OrderNote>,
    /// Viewer token sent in the hello (redacted from `Debug`).
    pub token: Option<Token>,
    /// A gap was reported and its snapshot has not arrived yet.
    gap_pending: bool,
    /// Reason of the gap whose snapshot is pending.
    gap_reason: Option<String>,
    /// Mark the sales windows incomplete once more after the next event (the
    /// first event of a new epoch opens windows the snapshot did not have).
    mark_after_next_event: bool,
    /// The epoch named in the gateway's latest `hello`.
    hello_epoch: Option<String>,
    /// Snapshots that could not be read since the last good one.
    snapshot_failures: u32,
    /// Something the views show changed since the last [`Session::take_changed`].
    changed: bool,
    /// The encoding of `events` frames to ask the gateway for.
    pub encoding: Encoding,
    /// Reused decoding state for binary frames.
    scratch: Scratch,
    /// An operator was turned back on: its state must come from a snapshot,
    /// so the next `hello` asks for one instead of resuming.
    want_snapshot: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("epoch", &self.epoch)
            .field("last_seq", &self.last_seq)
            .field("head_seq", &self.head_seq)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Sets (or clears) the operator's engine settings and applies them now.
    /// True when an operator that was off is turned back on while the
    /// stream is under way: it starts empty, so the caller reconnects and
    /// the next `hello` asks for a snapshot ([`Session::resume_point`] is
    /// `None` until one is installed). False while a snapshot is already
    /// asked for: that one brings every operator's state, so another
    /// settings change (a threshold, a second panel) needs no new
    /// connection.
    pub fn set_local_config(&mut self, f: Option<ConfigFn>) -> bool {
        self.local_config = f;
        let turned_on = self.apply_local_config();
        let ask = turned_on && self.epoch.is_some() && !self.want_snapshot;
        if ask {
            self.want_snapshot = true;
        }
        ask
    }

    /// An operator was turned back on and no snapshot has come since.
    pub fn wants_snapshot(&self) -> bool {
        self.want_snapshot
    }

    /// Applies the local settings; true when they turn an operator on.
    fn apply_local_config(&mut self) -> bool {
        let Some(f) = &self.local_config else {
            return false;
        };
        let old = self.engine.config();
        let cfg = f(old);
        let now_off = cfg.operators_off();
        let turned_on = old.operators_off().iter().any(|o| !now_off.contains(o));
        if cfg != *old {
            // Stock already seen is re-evaluated under the new thresholds.
            self.engine.set_config_reclassify(cfg);
            self.changed = true;
        }
        turned_on
    }

    /// The order and sync events seen here for `order`, oldest first.
    pub fn order_notes(&self, order: &Id) -> Vec<OrderNote> {
        self.order_log
            .iter()
            .filter(|n| n.order == *order)
            .cloned()
            .collect()
    }

    /// A session with a fresh engine (JSON events frames; set
    /// [`Session::encoding`] to ask for binary ones).
    pub fn new() -> Self {
        Session::default()
    }

    /// A session with a fresh engine that asks for `encoding`.
    pub fn with_encoding(encoding: Encoding) -> Self {
        Session {
            encoding,
            ..Session::default()
        }
    }

    /// The `hello` to send on a new connection, resuming at `resume`.
    pub fn hello_at(&self, resume: Option<ResumePoint>) -> String {
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume,
            encoding: None,
            shops: self.shops.clone(),
            // Snapshots always as `snap1` (the only kind this dashboard
            // reads); events as `bin1` when asked, else JSON.
            encodings: Some(
                match self.encoding {
                    Encoding::Bin1 => &[BIN1, SNAP1, "json"][..],
                    Encoding::Json => &[SNAP1, "json"][..],
                }
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            ),
            token: self.token.clone(),
        };
        serde_json::to_string(&hello).unwrap_or_default()
    }

    /// Where to resume, once something has been applied; with nothing
    /// applied and an unreadable snapshot, from seq 0 of the gateway's epoch
    /// (the whole history instead of a snapshot).
    pub fn resume_point(&self) -> Option<ResumePoint> {
        if self.want_snapshot {
            return None;
        }
        match (&self.epoch, &self.hello_epoch) {
            (Some(epoch), _) => Some(ResumePoint {
                epoch: epoch.clone(),
                seq: self.last_seq,
            }),
            (None, Some(epoch)) if self.snapshot_failures > 0 => Some(ResumePoint {
                epoch: epoch.clone(),
                seq: 0,
            }),
            (None, _) => None,
        }
    }

    /// The `hello` to send on a new connection.
    pub fn hello_frame(&self) -> String {
        self.hello_at(self.resume_point())
    }

    /// The keep-alive to send every ~2 s.
    pub fn heartbeat_frame(now_ms: i64) -> String {
        serde_json::to_string(&ClientFrame::Heartbeat { sent_ms: now_ms }).unwrap_or_default()
    }

    /// True once, after anything the views show changed.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Events the dashboard is behind the gateway's head.
    pub fn behind(&self) -> u64 {
        self.head_seq.saturating_sub(self.last_seq)
    }

    fn problem(&mut self, text: String) {
        self.protocol_errors += 1;
        self.last_error = Some(text);
        self.changed = true;
    }

    /// Applies one text frame from the gateway. `now_ms` is the wall clock,
    /// used as the time of events that carry none.
    pub fn on_text(&mut self, text: &str, now_ms: i64) -> Outcome {
        // An events frame in the gateway's layout is read in one pass
        // (`EventsFrame`); anything else, or anything wrong, through the
        // general parse, which also says what is wrong.
        if let Some(f) = EventsFrame::parse(text) {
            return self.events_frame(
                (&f.epoch, f.first_seq, f.sent_ms),
                &f.events,
                f.seqs.as_deref(),
                f.last_seq,
                now_ms,
            );
        }
        match ServerFrame::parse(text) {
            Ok(frame) => self.on_frame(frame, now_ms),
            Err(e) => {
                self.problem(format!("unreadable frame: {e}"));
                Outcome::Continue
            }
        }
    }

    /// Applies one binary message from the gateway: a `snap1` snapshot or
    /// a `bin1` events frame.
    pub fn on_binary(&mut self, bytes: &[u8], now_ms: i64) -> Outcome {
        if snapshot::is_snap1(bytes) {
            return match snapshot::decode(bytes) {
                Ok(snap) => self.install_snapshot(snap.epoch, snap.seq, snap.engine),
                Err(e) => self.unreadable_snapshot(format!("snapshot unreadable: {e}")),
            };
        }
        let frame = match Frame::parse(bytes) {
            Ok(f) => f,
            Err(e) => return self.bad_binary(&e, bytes, now_ms),
        };
        if let Some(out) = self.events_start(frame.epoch, frame.first_seq, frame.sent_ms) {
            return out;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        // The events before a bad one are decoded and applied.
        let res = frame.for_each(&mut scratch, |seq, ev| self.apply_after_last(seq, ev));
        self.scratch = scratch;
        if res.is_ok() {
            self.last_seq = self.last_seq.max(frame.covered_to());
        }
        self.head_seq = self.head_seq.max(self.last_seq);
        match res {
            Ok(()) => Outcome::Continue,
            Err(e) => self.bad_binary(&e, bytes, now_ms),
        }
    }

    /// Counts an unreadable binary frame and asks to resume after what was
    /// applied.
    fn bad_binary(&mut self, e: &binary::BinaryError, bytes: &[u8], now_ms: i64) -> Outcome {
        let msg = e.to_string();
        let err = DecodeError::new(ErrorClass::Malformed, None, msg.clone());
        let mut head = String::with_capacity(64);
        for b in bytes.iter().take(32) {
            let _ = write!(head, "{b:02x}");
        }
        self.engine
            .record_rejection(now_ms, REJECT_SOURCE, None, &err, &head);
        self.problem(msg.clone());
        Outcome::Reconnect(msg)
    }

    /// Applies event `seq` of a `bin1` frame if it comes after `last_seq`,
    /// exactly as [`Session::apply_event`] (any event at or before what was
    /// applied is skipped, so a hand-made frame out of order is safe).
    ///
    /// Each event is applied as it is decoded ([`Frame::for_each`]), while
    /// it is still in the cache, and an order's line items keep one reused
    /// vector; not [`shoppulse_core::Engine::apply_batch`], whose reads
    /// ahead cost more in the browser than they saved (the worker 10 %
    /// busier at 1M ev/s, and 1.36-1.39 M against 1.48 M ev/s applied when
    /// offered 1.5M; docs/PERFORMANCE.md).
    fn apply_after_last(&mut self, seq: u64, ev: &Event) {
        if seq > self.last_seq {
            self.apply_event(ev);
            self.last_seq = seq;
            self.applied_here += 1;
            self.changed = true;
        }
    }

    /// Applies one decoded event (and remembers order notes).
    fn apply_event(&mut self, ev: &Event) {
        self.engine.apply(ev);
        if std::mem::take(&mut self.mark_after_next_event) {
            self.engine.mark_gap();
        }
        self.note_order(ev);
    }

    /// Remembers `ev` in the order log if it is an order or sync event.
    fn note_order(&mut self, ev: &Event) {
        if let Some(note) = OrderNote::of(ev) {
            if self.order_log.len() == ORDER_LOG_LEN {
                self.order_log.pop_front();
            }
            self.order_log.push_back(note);
        }
    }

    /// Applies one parsed frame.
    pub fn on_frame(&mut self, frame: ServerFrame, now_ms: i64) -> Outcome {
        match frame {
            ServerFrame::Hello {
                protocol,
                epoch,
                head_seq,
                server,
                source,
                replay_speed,
                ..
            } => {
                if protocol != PROTOCOL_VERSION {
                    self.problem(format!(
                        "gateway speaks protocol {protocol}, dashboard {PROTOCOL_VERSION}"
                    ));
                }
                self.head_seq = head_seq;
                self.hello_epoch = Some(epoch);
                self.server = Some(ServerInfo {
                    server,
                    source,
                    replay_speed,
                    protocol,
                });
                self.changed = true;
                Outcome::Hello
            }
            // The dashboard asks for `snap1` snapshots and does not carry a
            // JSON engine-state decoder (it was the largest part of the
            // wasm): a JSON snapshot is unreadable here, handled as such.
            ServerFrame::Snapshot { seq, .. } => self.unreadable_snapshot(format!(
                "snapshot at seq {seq} unreadable: JSON snapshots are not read \
                 by this dashboard (it asks for snap1; is the gateway older?)"
            )),
            ServerFrame::Events {
                epoch,
                first_seq,
                sent_ms,
                events,
                seqs,
                last_seq,
            } => self.events_frame(
                (&epoch, first_seq, sent_ms),
                &events.iter().map(|r| r.get()).collect::<Vec<_>>(),
                seqs.as_deref(),
                last_seq,
                now_ms,
            ),
            ServerFrame::Heartbeat { sent_ms, head_seq } => {
                self.server_sent_ms = sent_ms;
                if head_seq != self.head_seq {
                    self.head_seq = head_seq;
                    self.changed = true;
                }
                Outcome::Continue
            }
            ServerFrame::Gap {
                epoch,
                oldest_seq,
                reason,
                ..
            } => {
                self.gaps += 1;
                self.last_gap = Some(if reason.is_empty() {
                    format!("history before seq {oldest_seq} gone (epoch {epoch})")
                } else {
                    reason
                });
                self.engine.mark_gap();
                self.gap_pending = true;
                self.gap_reason = self.last_gap.clone();
                self.changed = true;
                Outcome::Gap
            }
            ServerFrame::Error { code, message } => {
                self.last_error = Some(if message.is_empty() {
                    code.clone()
                } else {
                    format!("{code}: {message}")
                });
                self.changed = true;
                if code == "slow_consumer" {
                    Outcome::Reconnect("gateway: slow consumer".to_owned())
                } else if code == "unauthorized" {
                    Outcome::Unauthorized(message)
                } else {
                    Outcome::Continue
                }
            }
        }
    }

    /// Replaces the engine with a snapshot's (applied up to `seq`).
    fn install_snapshot(&mut self, epoch: String, seq: u64, engine: Engine) -> Outcome {
        self.engine = engine;
        self.apply_local_config();
        self.want_snapshot = false;
        self.snapshot_failures = 0;
        if self.gap_pending && self.gap_reason.as_deref() == Some("epoch_changed") {
            self.engine.mark_gap();
            self.mark_after_next_event = true;
        }
        self.epoch = Some(epoch);
        self.last_seq = seq;
        self.head_seq = self.head_seq.max(seq);
        self.changed = true;
        self.gap_reason = None;
        if std::mem::take(&mut self.gap_pending) {
            Outcome::Resynced
        } else {
            Outcome::Continue
        }
    }

    /// A snapshot that could not be read: shown, and the first time the
    /// dashboard reconnects to ask for the events instead.
    fn unreadable_snapshot(&mut self, msg: String) -> Outcome {
        self.problem(msg.clone());
        // Resume instead (an operator turned back on then follows the
        // stream from here rather than from the gateway's state).
        self.want_snapshot = false;
        self.snapshot_failures += 1;
        if self.snapshot_failures == 1 {
            Outcome::Reconnect(msg)
        } else {
            Outcome::Continue
        }
    }

    /// The checks before an `events` frame applies (either encoding):
    /// `Some(outcome)` when it must not.
    fn events_start(&mut self, epoch: &str, first_seq: u64, sent_ms: i64) -> Option<Outcome> {
        if sent_ms != 0 {
            self.server_sent_ms = sent_ms;
        }
        match &self.epoch {
            Some(ours) if ours != epoch => {
                return Some(Outcome::Reconnect(format!(
                    "stream epoch changed to {epoch}"
                )));
            }
            Some(_) => {}
            None if self.snapshot_failures > 0 && first_seq > 1 => {
                // No state to apply these to: wait (the error is shown).
                return Some(Outcome::Continue);
            }
            None => {
                // Nothing applied yet and no snapshot came first: start here
                // (from seq 1 after an unreadable snapshot: the whole history).
                self.snapshot_failures = 0;
                self.epoch = Some(epoch.to_owned());
                self.last_seq = first_seq.saturating_sub(1);
                if first_seq > 1 {
                    self.engine.mark_gap();
                }
            }
        }
        if first_seq > self.last_seq.saturating_add(1) {
            if self.snapshot_failures > 1 {
                // The snapshot that should bridge this was unreadable again:
                // hold what we have and show the error, no reconnect loop.
                return Some(Outcome::Continue);
            }
            let missed = format!("missed seq {}..{}", self.last_seq + 1, first_seq - 1);
            self.last_gap = Some(missed.clone());
            self.changed = true;
            return Some(Outcome::Reconnect(missed));
        }
        None
    }

    /// A JSON `events` frame: its epoch, first position and send time, the
    /// text of each event, its numbering.
    fn events_frame(
        &mut self,
        (epoch, first_seq, sent_ms): (&str, u64, i64),
        events: &[&str],
        seqs: Option<&[u64]>,
        last_seq: Option<u64>,
        now_ms: i64,
    ) -> Outcome {
        let last = covered_last_seq(first_seq, events.len(), seqs, last_seq);
        if let Some(out) = self.events_start(epoch, first_seq, sent_ms) {
            return out;
        }
        let numbered = (0..events.len()).map(|i| (event_seq(first_seq, seqs, i), events[i]));
        self.on_events(last, numbered, now_ms)
    }

    /// Applies the events of a JSON `events` frame covering the positions
    /// up to `covered`.
    fn on_events<'a>(
        &mut self,
        covered: u64,
        events: impl Iterator<Item = (u64, &'a str)>,
        now_ms: i64,
    ) -> Outcome {
        for (seq, json) in events {
            if seq <= self.last_seq {
                continue;
            }
            match decode_event(json, now_ms) {
                Ok(ev) => self.apply_event(&ev),
                Err(err) => {
                    self.engine
                        .record_rejection(now_ms, REJECT_SOURCE, None, &err, json);
                }
            }
            self.last_seq = seq;
            self.applied_here += 1;
            self.changed = true;
        }
        self.last_seq = self.last_seq.max(covered);
        self.head_seq = self.head_seq.max(self.last_seq);
        Outcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::frame::{encode_events_frame, encode_events_frame_with_seqs};

    /// A mix of every kind, with string ids, a hostile string, a bad line.
    fn mixed_lines() -> Vec<String> {
        let mut out = Vec::new();
        for i in 1..=300u64 {
            out.push(match i % 6 {
                0 => format!(r#"{{"kind":"behavior","ts":{i}000,"user":{u},"session":"s{u}","action":"{a}","product":{p},"channel":"web","price_cents":250}}"#,
                    u = i % 17, p = 100 + i % 23, a = ["browse", "add_to_cart", "purchase", "wishlist"][(i % 4) as usize]),
                1 => format!(r#"{{"kind":"inventory","ts":{i}000,"product":{p},"quantity":{q}}}"#, p = 100 + i % 23, q = i % 13),
                2 => format!(r#"{{"kind":"order","ts":{i}000,"order":{i},"channel":"app","status":"created","total_cents":500,"currency":"GBP","user":{u},"lines":[{{"product":{p},"quantity":1,"unit_price_cents":500}},{{"product":"SKU-{p}","quantity":1,"unit_price_cents":0}}]}}"#, u = i % 17, p = 100 + i % 23),
                3 => format!(r#"{{"kind":"sync","ts":{i}000,"order":{o},"channel":"app","target":"payment","status":"{s}","latency_ms":{i},"error":"<img onerror=x>"}}"#, o = i - 1, s = ["pending", "synced", "failed", "retrying"][(i % 4) as usize]),
                4 => format!(r#"{{"date":"2021-09-0{d}","sales":{i}.5}}"#, d = 1 + i % 9),
                _ => format!(r#"{{"kind":"behavior","user":{i},"action":"browse","product":9007199254740993}}"#),
            });
        }
        out
    }

    /// A JSON session and a `bin1` session, both past `hello` and an empty
    /// snapshot of epoch `e1`.
    fn json_and_bin1_sessions() -> (Session, Session) {
        let mut json = Session::new();
        let mut bin = Session::with_encoding(Encoding::Bin1);
        for s in [&mut json, &mut bin] {
            s.on_text(&hello(), 0);
            s.on_binary(&snapshot("e1", 0), 0);
        }
        (json, bin)
    }

    /// Sends `lines[range]` (sequence numbers from `range.start + 1`) to
    /// `json` as a JSON events frame and the same `events` to `bin` as a
    /// `bin1` frame.
    fn feed_both(
        (json, bin): (&mut Session, &mut Session),
        lines: &[String],
        events: &[Event],
        range: std::ops::Range<usize>,
    ) {
        let first = 1 + range.start as u64;
        let text = encode_events_frame(
            "e1",
            first,
            0,
            lines[range.clone()].iter().map(String::as_str),
        );
        assert_eq!(json.on_text(&text, 0), Outcome::Continue);
        let pos = binary::Positions {
            first_seq: first,
            ..binary::Positions::default()
        };
        let bytes = binary::encode_events("e1", pos, 0, &events[range]);
        assert_eq!(bin.on_binary(&bytes, 0), Outcome::Continue);
    }

    /// Both sessions at sequence 300 with the same operator state and
    /// order log.
    fn assert_same_state(json: &Session, bin: &Session) {
        assert_eq!((json.last_seq, bin.last_seq), (300, 300));
        assert_eq!(
            serde_json::to_string(&json.engine).unwrap(),
            serde_json::to_string(&bin.engine).unwrap(),
            "the same operator state"
        );
        assert_eq!(json.engine.view(), bin.engine.view());
        assert_eq!(json.order_log, bin.order_log);
    }

    #[test]
    fn a_binary_frame_and_its_json_frame_give_identical_engine_state() {
        let lines = mixed_lines();
        let events: Vec<Event> = lines.iter().map(|l| decode_event(l, 0).unwrap()).collect();
        let (mut json, mut bin) = json_and_bin1_sessions();
        for start in (0..lines.len()).step_by(64) {
            let end = (start + 64).min(lines.len());
            feed_both((&mut json, &mut bin), &lines, &events, start..end);
        }
        assert_same_state(&json, &bin);
        assert!(bin
            .hello_frame()
            .contains(r#""encodings":["bin1","snap1","json"]"#));
        assert!(!json.hello_frame().contains("bin1"));
    }

    #[test]
    fn overlapping_binary_frames_give_the_state_of_one_by_one() {
        // Each frame re-sends the second half of the previous one (as after a
        // resume): the frame path must skip exactly what was applied.
        let lines = mixed_lines();
        let events: Vec<Event> = lines.iter().map(|l| decode_event(l, 0).unwrap()).collect();
        let (mut json, mut bin) = json_and_bin1_sessions();
        let mut start = 0;
        loop {
            let end = (start + 80).min(lines.len());
            feed_both((&mut json, &mut bin), &lines, &events, start..end);
            if end == lines.len() {
                break;
            }
            start += 40;
        }
        assert_eq!((json.applied_here, bin.applied_here), (300, 300));
        assert_same_state(&json, &bin);
    }

    #[test]
    fn an_unreadable_binary_frame_is_counted_and_resumes_after_the_good_events() {
        let lines = mixed_lines();
        let events: Vec<Event> = lines[..3]
            .iter()
            .map(|l| decode_event(l, 0).unwrap())
            .collect();
        let mut s = Session::with_encoding(Encoding::Bin1);
        s.on_text(&hello(), 0);
        s.on_binary(&snapshot("e1", 0), 0);
        let pos = binary::Positions {
            first_seq: 1,
            ..binary::Positions::default()
        };
        let mut bytes = binary::encode_events("e1", pos, 0, &events);
        bytes.truncate(bytes.len() - 2);
        assert!(matches!(s.on_binary(&bytes, 0), Outcome::Reconnect(_)));
        assert_eq!(s.last_seq, 2, "the two whole events applied");
        assert_eq!(s.protocol_errors, 1);
        assert_eq!(s.engine.view().health.rejected, 1, "counted and shown");
        assert_eq!(s.resume_point().map(|r| r.seq), Some(2));
        assert!(matches!(s.on_binary(b"SPB1\x07", 0), Outcome::Reconnect(_)));
        assert_eq!(s.protocol_errors, 2);
    }

    const INV: &str = r#"{"kind":"inventory","ts":1000,"product":101,"quantity":5}"#;

    fn hello() -> String {
        r#"{"type":"hello","protocol":1,"epoch":"e1","head_seq":0,"oldest_seq":1,"server":"gw","source":"sim","encodings":["json"]}"#.to_owned()
    }

    /// A `snap1` snapshot of an empty engine.
    fn snapshot(epoch: &str, seq: u64) -> Vec<u8> {
        snapshot::encode(epoch, seq, &Engine::default())
    }

    fn applied(s: &Session) -> u64 {
        s.engine.view().health.applied
    }

    #[test]
    fn fresh_hello_has_no_resume() {
        let s = Session::new();
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"encodings":["snap1","json"]}"#
        );
    }

    #[test]
    fn snapshot_then_events_apply_in_order_once() {
        let mut s = Session::new();
        assert_eq!(s.on_text(&hello(), 0), Outcome::Hello);
        assert_eq!(s.on_binary(&snapshot("e1", 10), 0), Outcome::Continue);
        assert_eq!(s.last_seq, 10);
        // seq 9 and 10 are already in the snapshot: skipped.
        let f = encode_events_frame("e1", 9, 0, [INV, INV, INV, INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        assert_eq!(s.last_seq, 12);
        assert_eq!(applied(&s), 2);
        assert_eq!(s.applied_here, 2);
        // A replayed frame changes nothing.
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        assert_eq!(applied(&s), 2);
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"resume":{"epoch":"e1","seq":12},"encodings":["snap1","json"]}"#
        );
    }

    #[test]
    fn missed_events_ask_for_a_resume() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 3), 0);
        let f = encode_events_frame("e1", 6, 0, [INV]);
        assert!(matches!(s.on_text(&f, 0), Outcome::Reconnect(_)));
        assert_eq!(s.last_seq, 3);
        assert_eq!(applied(&s), 0);
    }

    #[test]
    fn other_epoch_asks_for_a_resume() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 3), 0);
        let f = encode_events_frame("e2", 4, 0, [INV]);
        assert!(matches!(s.on_text(&f, 0), Outcome::Reconnect(_)));
    }

    #[test]
    fn bad_events_are_rejected_not_fatal() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 0), 0);
        let f = encode_events_frame("e1", 1, 0, [r#"{"kind":"nope"}"#, INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        let h = s.engine.view().health;
        assert_eq!(h.applied, 1);
        assert_eq!(h.rejected, 1);
        assert_eq!(h.recent_rejections[0].source, REJECT_SOURCE);
        assert_eq!(s.last_seq, 2);
    }

    #[test]
    fn an_event_that_is_not_json_in_a_json_frame_is_one_rejection_the_rest_applied() {
        // Read in one pass (`EventsFrame`), the frame's good events are
        // applied and the broken one is counted; the general parse would
        // have refused the whole frame.
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 0), 0);
        let f = encode_events_frame("e1", 1, 0, [INV, r#"{"kind":"behavior","ts":tru}"#, INV]);
        assert!(ServerFrame::parse(&f).is_err());
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        let h = s.engine.view().health;
        assert_eq!((h.applied, h.rejected), (2, 1));
        assert_eq!(s.last_seq, 3);
    }

    #[test]
    fn gap_then_snapshot_is_resynced() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 5), 0);
        let gap = r#"{"type":"gap","epoch":"e1","requested":{"epoch":"e1","seq":5},"oldest_seq":50,"reason":"history_gone"}"#;
        assert_eq!(s.on_text(gap, 0), Outcome::Gap);
        assert_eq!(s.gaps, 1);
        assert_eq!(s.last_gap.as_deref(), Some("history_gone"));
        assert_eq!(s.on_binary(&snapshot("e1", 60), 0), Outcome::Resynced);
        assert_eq!(s.last_seq, 60);
    }

    #[test]
    fn slow_consumer_reconnects_other_errors_do_not() {
        let mut s = Session::new();
        let slow = r#"{"type":"error","code":"slow_consumer","message":"too slow"}"#;
        assert!(matches!(s.on_text(slow, 0), Outcome::Reconnect(_)));
        let other = r#"{"type":"error","code":"bad_hello","message":"x"}"#;
        assert_eq!(s.on_text(other, 0), Outcome::Continue);
        assert_eq!(s.last_error.as_deref(), Some("bad_hello: x"));
    }

    #[test]
    fn the_token_goes_in_the_hello_and_a_refusal_stops() {
        let mut s = Session::new();
        s.token = Some(Token::new("viewer-0123456789abcdef"));
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"encodings":["snap1","json"],"token":"viewer-0123456789abcdef"}"#
        );
        assert!(
            !format!("{s:?}").contains("viewer-0123"),
            "Debug never shows it"
        );
        let refused =
            r#"{"type":"error","code":"unauthorized","message":"the viewer token is not valid"}"#;
        assert_eq!(
            s.on_text(refused, 0),
            Outcome::Unauthorized("the viewer token is not valid".to_owned())
        );
    }

    #[test]
    fn events_without_snapshot_start_the_stream() {
        let mut s = Session::new();
        let f = encode_events_frame("e1", 1, 0, [INV, INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        assert_eq!(s.epoch.as_deref(), Some("e1"));
        assert_eq!(s.last_seq, 2);
    }

    const ORDER: &str = r#"{"kind":"order","ts":600000,"order":"A","channel":"web","status":"paid","total_cents":500,"currency":"GBP"}"#;

    /// A `snap1` snapshot of an engine that applied `events`.
    fn snapshot_of(epoch: &str, seq: u64, events: &[&str]) -> Vec<u8> {
        let mut e = Engine::default();
        for j in events {
            e.apply_json(j, 0, "test").unwrap();
        }
        snapshot::encode(epoch, seq, &e)
    }

    fn incomplete_windows(s: &Session) -> usize {
        let v = s.engine.view().sales;
        v.minutes
            .iter()
            .chain(&v.hours)
            .chain(&v.days)
            .filter(|w| w.incomplete)
            .count()
    }

    fn gap(reason: &str) -> String {
        format!(
            r#"{{"type":"gap","epoch":"e2","requested":{{"epoch":"e1","seq":5}},"oldest_seq":1,"reason":"{reason}"}}"#
        )
    }

    #[test]
    fn a_new_epoch_marks_the_windows_it_could_not_see_incomplete() {
        let mut s = Session::new();
        s.on_binary(&snapshot_of("e1", 5, &[ORDER]), 0);
        assert_eq!(s.on_text(&gap("epoch_changed"), 0), Outcome::Gap);
        // The new stream's snapshot is taken whole, its open windows marked.
        assert_eq!(
            s.on_binary(&snapshot_of("e2", 1, &[ORDER]), 0),
            Outcome::Resynced
        );
        assert_eq!(s.epoch.as_deref(), Some("e2"));
        assert_eq!(
            incomplete_windows(&s),
            3,
            "minute, hour and day of the order"
        );
        // An empty snapshot: the windows opened by the first event are marked.
        let mut s = Session::new();
        s.on_binary(&snapshot_of("e1", 5, &[ORDER]), 0);
        s.on_text(&gap("epoch_changed"), 0);
        s.on_binary(&snapshot_of("e2", 0, &[]), 0);
        s.on_text(&encode_events_frame("e2", 1, 0, [ORDER]), 0);
        assert_eq!(incomplete_windows(&s), 3);
        // ... and only those: two hours later, the new minute and hour are
        // whole; the old hour and the day that spans the gap stay marked.
        let later = ORDER.replace("600000", "7800000").replace("\"A\"", "\"B\"");
        s.on_text(&encode_events_frame("e2", 2, 0, [later.as_str()]), 0);
        let v = s.engine.view().sales;
        assert!(!v.minutes.last().unwrap().incomplete && !v.hours.last().unwrap().incomplete);
        assert_eq!(incomplete_windows(&s), 2);
    }

    #[test]
    fn after_history_gone_the_snapshot_is_whole() {
        let mut s = Session::new();
        s.on_binary(&snapshot_of("e1", 5, &[ORDER]), 0);
        s.on_text(&gap("history_gone"), 0);
        assert_eq!(
            s.on_binary(&snapshot_of("e1", 90, &[ORDER]), 0),
            Outcome::Resynced
        );
        assert_eq!(incomplete_windows(&s), 0);
        assert_eq!(s.gaps, 1);
    }

    #[test]
    fn an_unreadable_snapshot_never_starts_the_stream_in_the_middle() {
        let mut s = Session::new();
        s.on_text(&hello(), 0);
        let bad = r#"{"type":"snapshot","epoch":"e1","seq":40,"state":{"health":5}}"#;
        assert!(matches!(s.on_text(bad, 0), Outcome::Reconnect(_)));
        assert!(s.last_error.as_deref().unwrap_or("").contains("unreadable"));
        // The next connection asks for everything from seq 0 instead.
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"resume":{"epoch":"e1","seq":0},"encodings":["snap1","json"]}"#
        );
        // Still unreadable (history gone too): nothing is applied mid-stream.
        assert_eq!(s.on_text(bad, 0), Outcome::Continue);
        assert_eq!(
            s.on_text(&encode_events_frame("e1", 41, 0, [INV]), 0),
            Outcome::Continue
        );
        assert_eq!((applied(&s), s.last_seq, s.epoch.clone()), (0, 0, None));
        // The whole history from seq 1 applies exactly.
        assert_eq!(
            s.on_text(&encode_events_frame("e1", 1, 0, [INV, INV]), 0),
            Outcome::Continue
        );
        assert_eq!((applied(&s), s.last_seq), (2, 2));
    }

    #[test]
    fn a_damaged_snap1_snapshot_is_unreadable_and_the_history_is_asked_for() {
        let mut s = Session::new();
        s.on_text(&hello(), 0);
        let mut bytes = snapshot_of("e1", 40, &[ORDER, INV]);
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(s.on_binary(&bytes, 0), Outcome::Reconnect(_)));
        let shown = s.last_error.clone().unwrap_or_default();
        assert!(shown.contains("snap1"), "{shown}");
        assert_eq!(s.resume_point().map(|r| r.seq), Some(0));
        assert_eq!((applied(&s), s.epoch.clone()), (0, None));
    }

    #[test]
    fn a_json_snapshot_is_refused_with_a_reason_the_operator_can_act_on() {
        let mut s = Session::new();
        s.on_text(&hello(), 0);
        let state = serde_json::to_string(&Engine::default()).unwrap();
        let json = format!(r#"{{"type":"snapshot","epoch":"e1","seq":7,"state":{state}}}"#);
        assert!(matches!(s.on_text(&json, 0), Outcome::Reconnect(_)));
        let shown = s.last_error.clone().unwrap_or_default();
        assert!(shown.contains("asks for snap1"), "{shown}");
        // The same state as snap1 applies.
        assert_eq!(s.on_binary(&snapshot("e1", 7), 0), Outcome::Continue);
        assert_eq!(s.last_seq, 7);
    }

    #[test]
    fn repeated_unreadable_snapshots_hold_the_state_without_a_reconnect_loop() {
        let mut s = Session::new();
        s.on_text(&hello(), 0);
        s.on_binary(&snapshot("e1", 3), 0);
        s.on_text(&encode_events_frame("e1", 4, 0, [INV]), 0);
        s.on_text(&gap("history_gone"), 0);
        let bad = r#"{"type":"snapshot","epoch":"e1","seq":90,"state":[]}"#;
        // Once: reconnect and resume; a second time: hold, show, wait.
        assert!(matches!(s.on_text(bad, 0), Outcome::Reconnect(_)));
        assert_eq!(s.on_text(bad, 0), Outcome::Continue);
        let later = encode_events_frame("e1", 91, 0, [INV]);
        assert_eq!(s.on_text(&later, 0), Outcome::Continue);
        assert_eq!(
            (s.last_seq, applied(&s)),
            (4, 1),
            "nothing applied past the hole"
        );
        assert!(s.last_error.as_deref().unwrap_or("").contains("unreadable"));
    }

    /// A small deterministic PRNG (xorshift64*) for the randomized tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random frame sequences (snapshots, overlapping, repeated, early and
    /// late events frames, consecutive or with a shop filter's explicit seqs
    /// and watermarks, gaps, heartbeats, errors, garbage) against a
    /// model of the rules: every event is applied exactly once, in order,
    /// and a frame that would skip one is never applied.
    #[test]
    fn random_frame_orders_apply_every_event_exactly_once() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for _ in 0..300 {
            let mut s = Session::new();
            let (mut model_last, mut model_applied, mut model_epoch) = (0u64, 0u64, None::<String>);
            for _ in 0..40 {
                let epoch = if rng.below(10) == 0 { "e2" } else { "e1" };
                match rng.below(8) {
                    0 => {
                        let seq = rng.below(60);
                        s.on_binary(&snapshot(epoch, seq), 0);
                        (model_last, model_applied, model_epoch) = (seq, 0, Some(epoch.to_owned()));
                    }
                    1 => {
                        s.on_text(&gap("history_gone"), 0);
                    }
                    2 => {
                        let hb = format!(
                            r#"{{"type":"heartbeat","sent_ms":1,"head_seq":{}}}"#,
                            rng.below(100)
                        );
                        s.on_text(&hb, 0);
                    }
                    3 => {
                        let mut junk: Vec<u8> = (0..rng.below(40))
                            .map(|_| u8::try_from(rng.below(256)).unwrap())
                            .collect();
                        junk.retain(u8::is_ascii);
                        s.on_text(&String::from_utf8(junk).unwrap(), 0);
                    }
                    _ => {
                        let first = (model_last + 1).saturating_sub(rng.below(4)).max(1)
                            + u64::from(rng.below(6) == 0);
                        // Half the frames are a shop filter's: explicit seqs,
                        // some positions of `first..=last` only (or none: a
                        // watermark); the rest consecutive, as local mode.
                        let filtered = rng.below(2) == 0;
                        let (seqs, covered): (Vec<u64>, u64) = if filtered {
                            let last = first + rng.below(8) - 1;
                            let seqs = (first..=last).filter(|_| rng.below(3) == 0).collect();
                            (seqs, last)
                        } else {
                            let n = rng.below(5);
                            ((first..first + n).collect(), first + n - 1)
                        };
                        let events: Vec<&str> = seqs
                            .iter()
                            .map(|q| {
                                if q.is_multiple_of(7) {
                                    r#"{"kind":"nope"}"#
                                } else {
                                    INV
                                }
                            })
                            .collect();
                        let f = if filtered {
                            encode_events_frame_with_seqs(epoch, first, covered, 0, &seqs, events)
                        } else {
                            encode_events_frame(epoch, first, 0, events)
                        };
                        let out = s.on_text(&f, 0);
                        let contiguous = first <= model_last + 1;
                        match &model_epoch {
                            Some(e) if e == epoch && contiguous => {
                                assert_eq!(out, Outcome::Continue);
                                model_applied +=
                                    seqs.iter().filter(|&&q| q > model_last).count() as u64;
                                model_last = model_last.max(covered);
                            }
                            Some(_) => assert!(matches!(out, Outcome::Reconnect(_))),
                            None => {
                                model_epoch = Some(epoch.to_owned());
                                model_applied = seqs.len() as u64;
                                model_last = covered;
                            }
                        }
                    }
                }
                let h = s.engine.view().health;
                assert_eq!(h.applied + h.rejected, model_applied, "exactly once");
                assert_eq!(s.last_seq, model_last);
                assert_eq!(s.epoch, model_epoch);
            }
        }
    }

    /// Arbitrary bytes and mutated valid frames never panic the session.
    #[test]
    fn arbitrary_and_mutated_frames_never_panic() {
        let mut rng = Rng(0xdead_beef_0bad_f00d);
        let valid = [
            hello().into_bytes(),
            snapshot_of("e1", 3, &[ORDER, INV]),
            encode_events_frame("e1", 4, 7, [INV, ORDER, "{\"kind\":\"x\"}"]).into_bytes(),
            gap("epoch_changed").into_bytes(),
            br#"{"type":"heartbeat","sent_ms":5,"head_seq":42}"#.to_vec(),
            br#"{"type":"error","code":"slow_consumer","message":"m"}"#.to_vec(),
        ];
        let mut s = Session::new();
        for i in 0..20_000u64 {
            let mut b = valid[usize::try_from(rng.below(valid.len() as u64)).unwrap()].clone();
            for _ in 0..=rng.below(4) {
                if b.is_empty() {
                    break;
                }
                let at = usize::try_from(rng.below(b.len() as u64)).unwrap();
                match rng.below(4) {
                    0 => b[at] = u8::try_from(rng.below(256)).unwrap(),
                    1 => b.truncate(at),
                    2 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, b"{}[]\",:0-9e"[usize::try_from(rng.below(11)).unwrap()]),
                }
            }
            if i % 5 == 0 {
                b = (0..rng.below(64))
                    .map(|_| u8::try_from(rng.below(256)).unwrap())
                    .collect();
            }
            // Both doors: binary messages (`snap1`, `bin1`) and text.
            if b.starts_with(b"SPS1") || i % 3 == 0 {
                let _ = s.on_binary(&b, 0);
            } else {
                let _ = s.on_text(&String::from_utf8_lossy(&b), 0);
            }
            let _ = s.engine.view();
        }
    }

    #[test]
    fn local_config_survives_snapshots() {
        let mut s = Session::new();
        s.set_local_config(Some(Box::new(|c: &Config| Config {
            low_stock_threshold: 25,
            ..c.clone()
        })));
        assert_eq!(s.engine.config().low_stock_threshold, 25);
        s.on_binary(&snapshot("e1", 3), 0);
        assert_eq!(s.engine.config().low_stock_threshold, 25);
    }

    fn recs(on: bool) -> ConfigFn {
        Box::new(move |c: &Config| Config {
            compute_recs: on,
            ..c.clone()
        })
    }

    #[test]
    fn a_panel_turned_back_on_reloads_from_a_snapshot() {
        let mut s = Session::new();
        // Off before anything arrives: nothing to reload when turned on.
        assert!(!s.set_local_config(Some(recs(false))));
        assert!(!s.set_local_config(Some(recs(true))));
        assert!(!s.set_local_config(Some(recs(false))));
        s.on_binary(&snapshot("e1", 3), 0);
        assert!(
            !s.engine.config().compute_recs,
            "kept off across the snapshot"
        );
        let f = encode_events_frame("e1", 4, 0, [INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        // Other settings changes resume as before.
        assert!(!s.set_local_config(Some(recs(false))));
        assert!(s
            .hello_frame()
            .contains(r#""resume":{"epoch":"e1","seq":4}"#));
        // Turned on under way: a snapshot is asked for, not a resume.
        assert!(s.set_local_config(Some(recs(true))));
        assert!(s.engine.config().compute_recs);
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"encodings":["snap1","json"]}"#
        );
        // Events still arriving on the old connection apply meanwhile.
        let f = encode_events_frame("e1", 5, 0, [INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        assert!(s.wants_snapshot());
        s.on_binary(&snapshot("e1", 9), 0);
        assert!(!s.wants_snapshot());
        assert_eq!(s.last_seq, 9);
        assert!(s
            .hello_frame()
            .contains(r#""resume":{"epoch":"e1","seq":9}"#));
    }

    #[test]
    fn regression_a_settings_change_while_a_snapshot_is_wanted_does_not_reconnect_again() {
        // Was: every settings change returned "reconnect" until the snapshot
        // came, so a threshold changed meanwhile dropped the connection that
        // was bringing it.
        let mut s = Session::new();
        s.set_local_config(Some(recs(false)));
        s.on_binary(&snapshot("e1", 3), 0);
        assert!(s.set_local_config(Some(recs(true))));
        assert!(s.wants_snapshot());
        assert!(
            !s.set_local_config(Some(recs(true))),
            "a change that turns nothing on"
        );
        assert!(!s.set_local_config(Some(recs(false))));
        assert!(
            !s.set_local_config(Some(recs(true))),
            "on again, still asked"
        );
        assert!(s.wants_snapshot());
        assert!(!s.hello_frame().contains("resume"));
        s.on_binary(&snapshot("e1", 9), 0);
        assert!(!s.wants_snapshot());
        // Once it has come, turning a panel on asks again.
        assert!(!s.set_local_config(Some(recs(false))));
        assert!(s.set_local_config(Some(recs(true))));
    }

    #[test]
    fn an_unreadable_snapshot_after_a_panel_turned_on_resumes_instead() {
        let mut s = Session::new();
        s.set_local_config(Some(recs(false)));
        s.on_binary(&snapshot("e1", 3), 0);
        assert!(s.set_local_config(Some(recs(true))));
        assert!(matches!(
            s.on_binary(b"SPS1\x07garbage", 0),
            Outcome::Reconnect(_)
        ));
        assert!(!s.wants_snapshot());
        assert!(s
            .hello_frame()
            .contains(r#""resume":{"epoch":"e1","seq":3}"#));
    }

    #[test]
    fn order_and_sync_events_are_noted() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 0), 0);
        let f = encode_events_frame(
            "e1",
            1,
            0,
            [
                r#"{"kind":"sync","ts":5,"order":"A","channel":"web","target":"payment","status":"failed","error":"card declined"}"#,
                INV,
                r#"{"kind":"sync","ts":6,"order":"B","channel":"web","target":"payment","status":"synced"}"#,
            ],
        );
        s.on_text(&f, 0);
        let notes = s.order_notes(&Id::from_text("A"));
        assert_eq!(notes.len(), 1);
        assert!(
            matches!(&notes[0].what, NoteKind::Sync { error: Some(e), .. } if e == "card declined")
        );
        assert_eq!(s.order_log.len(), 2);
    }

    #[test]
    fn a_shop_filter_goes_into_the_hello() {
        let mut s = Session::new();
        s.shops = Some(vec!["north".into(), "south".into()]);
        assert_eq!(
            s.hello_frame(),
            r#"{"type":"hello","protocol":1,"shops":["north","south"],"encodings":["snap1","json"]}"#
        );
    }

    #[test]
    fn filtered_frames_apply_their_own_seqs_and_advance_over_the_rest() {
        let mut s = Session::new();
        s.on_binary(&snapshot("e1", 10), 0);
        // Positions 11..=20; this dashboard's events are at 13 and 18.
        let f = encode_events_frame_with_seqs("e1", 11, 20, 0, &[13, 18], [INV, INV]);
        assert_eq!(s.on_text(&f, 0), Outcome::Continue);
        assert_eq!(applied(&s), 2);
        assert_eq!(s.last_seq, 20, "the whole covered range is done");
        // A watermark with no events moves the resume point on.
        let w = encode_events_frame_with_seqs("e1", 21, 35, 0, &[], std::iter::empty());
        assert_eq!(s.on_text(&w, 0), Outcome::Continue);
        assert_eq!(s.last_seq, 35);
        // An overlapping frame applies only what is new: 30 is old, 36 new.
        let o = encode_events_frame_with_seqs("e1", 30, 36, 0, &[30, 36], [INV, INV]);
        assert_eq!(s.on_text(&o, 0), Outcome::Continue);
        assert_eq!(applied(&s), 3);
        assert_eq!(s.last_seq, 36);
        // A frame starting past 37 means positions were missed: resume.
        let skip = encode_events_frame_with_seqs("e1", 40, 41, 0, &[41], [INV]);
        assert!(matches!(s.on_text(&skip, 0), Outcome::Reconnect(_)));
        assert_eq!(s.last_seq, 36);
        assert_eq!(applied(&s), 3);
    }

    #[test]
    fn heartbeat_tracks_head_and_garbage_is_counted() {
        let mut s = Session::new();
        s.on_text(r#"{"type":"heartbeat","sent_ms":5,"head_seq":42}"#, 0);
        assert_eq!(s.head_seq, 42);
        assert_eq!(s.behind(), 42);
        s.on_text("not json", 0);
        assert_eq!(s.protocol_errors, 1);
    }
}
