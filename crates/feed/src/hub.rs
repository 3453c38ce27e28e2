//! The hub: sequences every accepted event, keeps the bounded history and
//! the gateway's own [`Engine`], and fans events frames out to connections.
//!
//! ## Consistency
//! One mutex guards the sequence counter, the history, the engine and the
//! subscriber list. [`Hub::publish`] assigns consecutive sequence numbers,
//! applies the events to the engine and appends their canonical JSON to the
//! history in one critical section. [`Hub::join`] takes the snapshot (or the
//! resume catch-up) and registers the subscriber in one critical section too,
//! so a new connection's snapshot covers exactly `1..=S` and its live frames
//! start at `S + 1`: no event is in both, none is missing.
//!
//! ## Explicit sequence numbers
//! A hub fed by [`Hub::publish`] numbers events itself (consecutive from 1).
//! A hub fed by [`Hub::publish_at`] takes the numbers it is given (the NATS
//! stream sequence) and may hold only some of them (the events of the shops
//! its dashboards asked for): `head_seq` is then the last stream position it
//! has *seen*, and its frames carry `seqs` and `last_seq` so that every frame
//! covers a contiguous range of positions (see `docs/PROTOCOL.md`).
//!
//! ## Fan-out
//! A broadcaster task cuts the events published since the last flush into
//! `events` frames (at most [`HubLimits::batch_events`] events or about
//! [`HubLimits::batch_bytes`] bytes each), builds each frame **once** and hands
//! the same reference-counted text to every connection's bounded queue with a
//! non-blocking `try_send`. Frames are built once **per encoding in use**:
//! JSON text for JSON connections, one `bin1` binary message
//! ([`shoppulse_core::binary`]) for those that negotiated it, never once per
//! connection. A connection whose queue is full (frames or bytes)
//! is removed and told to close with `slow_consumer`: publishers and other
//! connections never wait for a slow one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::Utf8Bytes;
use shoppulse_core::binary::{encode_events_from_json, Positions};
use shoppulse_core::event::Body;
use shoppulse_core::frame::{
    encode_events_frame, encode_events_frame_with_seqs, ResumePoint, MAX_FRAME_BYTES,
};
use shoppulse_core::{Engine, Event};
use tokio::sync::{mpsc, Notify};

use crate::metrics::{HistoryGauges, Metrics, Source};

/// Wall-clock time, epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Fan-out limits.
#[derive(Clone, Debug)]
pub struct HubLimits {
    /// Events held for resume.
    pub history: usize,
    /// Most events in one `events` frame.
    pub batch_events: usize,
    /// An `events` frame is cut once its events reach this many bytes.
    pub batch_bytes: usize,
    /// Frames queued per connection before it is dropped as slow.
    pub queue_frames: usize,
    /// Bytes queued per connection before it is dropped as slow.
    pub queue_bytes: usize,
    /// Pause between broadcaster flushes (batches events into frames).
    pub flush_interval: Duration,
    /// Least time between two `events` frames that carry no event, only a
    /// newer `last_seq` (hubs that hold some shops of a shared stream).
    pub watermark_interval: Duration,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            history: 200_000,
            batch_events: 1000,
            batch_bytes: 1 << 20,
            queue_frames: 256,
            queue_bytes: 64 << 20,
            flush_interval: Duration::from_millis(20),
            watermark_interval: Duration::from_secs(1),
        }
    }
}

/// Static facts about the stream, for `hello` and `/healthz`.
#[derive(Clone, Debug)]
pub struct StreamInfo {
    /// The epoch.
    pub epoch: String,
    /// Readable description of the sources.
    pub source: String,
    /// Replay speed (`Some(0.0)`: as fast as possible).
    pub replay_speed: Option<f64>,
}

/// Why a connection must close.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum CloseReason {
    /// Its queue overflowed.
    SlowConsumer = 1,
    /// The dashboard went silent.
    ClientTimeout = 2,
    /// The dashboard closed or the socket failed.
    ClientGone = 3,
    /// The dashboard sent something it must not.
    Protocol = 4,
    /// A client message over the size limit.
    TooLarge = 5,
    /// The gateway is stopping.
    Shutdown = 6,
}

impl CloseReason {
    fn from_u8(v: u8) -> Option<CloseReason> {
        Some(match v {
            1 => CloseReason::SlowConsumer,
            2 => CloseReason::ClientTimeout,
            3 => CloseReason::ClientGone,
            4 => CloseReason::Protocol,
            5 => CloseReason::TooLarge,
            6 => CloseReason::Shutdown,
            _ => return None,
        })
    }
}

/// A shared "close this connection" switch; the first reason set wins.
#[derive(Debug, Default)]
pub struct Kill {
    reason: AtomicU8,
    notify: Notify,
}

impl Kill {
    /// Asks the connection to close for `reason` (ignored if already asked).
    pub fn fire(&self, reason: CloseReason) {
        if self
            .reason
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The reason, once fired.
    pub fn reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.reason.load(Ordering::Acquire))
    }

    /// Waits until fired.
    pub async fn fired(&self) -> CloseReason {
        loop {
            if let Some(r) = self.reason() {
                return r;
            }
            self.notify.notified().await;
        }
    }
}

/// How a connection wants its `events` frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Encoding {
    /// JSON text frames (the default).
    #[default]
    Json,
    /// `bin1` binary messages.
    Bin1,
}

/// One WebSocket message body, shared between connections.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A JSON text frame.
    Text(Utf8Bytes),
    /// A binary message (`bin1`).
    Binary(Bytes),
}

impl Payload {
    /// Bytes on the wire (before WebSocket framing).
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(t) => t.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    /// True when empty (never for a frame).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a JSON frame.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Payload::Text(t) => Some(t.as_str()),
            Payload::Binary(_) => None,
        }
    }
}

/// Builds one `events` frame in `encoding` from held canonical JSON. A
/// `bin1` frame whose events do not all decode (never for what the hub
/// holds) falls back to JSON rather than lose events.
/// `explicit` is `(seqs, last_seq)` for a filtered stream's frame.
pub fn events_payload<'a>(
    encoding: Encoding,
    epoch: &str,
    first_seq: u64,
    explicit: Option<(&[u64], u64)>,
    sent_ms: i64,
    events: impl IntoIterator<Item = &'a str> + Clone,
) -> Payload {
    if encoding == Encoding::Bin1 {
        let pos = Positions {
            first_seq,
            seqs: explicit.map(|e| e.0),
            last_seq: explicit.map(|e| e.1),
        };
        if let Some(b) = encode_events_from_json(epoch, pos, sent_ms, events.clone()) {
            return Payload::Binary(Bytes::from(b));
        }
    }
    Payload::Text(Utf8Bytes::from(match explicit {
        None => encode_events_frame(epoch, first_seq, sent_ms, events),
        Some((seqs, last)) => {
            encode_events_frame_with_seqs(epoch, first_seq, last, sent_ms, seqs, events)
        }
    }))
}

/// One queued frame for a connection.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The frame (shared between connections of the same encoding).
    pub payload: Payload,
    /// Events inside, for the events-out counter.
    pub events: u32,
}

/// The connection side of a subscription.
#[derive(Debug)]
pub struct Subscription {
    /// Live frames, in order.
    pub rx: mpsc::Receiver<Outgoing>,
    /// Bytes sitting in `rx`; the writer subtracts what it sent.
    pub queued_bytes: Arc<AtomicUsize>,
    /// Close switch.
    pub kill: Arc<Kill>,
}

struct Subscriber {
    id: u64,
    encoding: Encoding,
    next_seq: u64,
    tx: mpsc::Sender<Outgoing>,
    queued_bytes: Arc<AtomicUsize>,
    kill: Arc<Kill>,
}

/// How a new connection starts.
#[derive(Debug)]
pub enum Start {
    /// Resume: exactly the events after the client's point, then live.
    Resume {
        /// The first position to send (the client's point + 1).
        first_seq: u64,
        /// The last position the catch-up covers (the head at join time).
        last_seq: u64,
        /// Sequence numbers of `events`.
        seqs: Vec<u64>,
        /// Missed events, canonical JSON.
        events: Vec<Arc<str>>,
    },
    /// Snapshot of the engine at `seq`, then live from `seq + 1`.
    Snapshot {
        /// The gap to report first, when the client asked to resume and
        /// could not: `history_gone` or `epoch_changed`.
        gap: Option<&'static str>,
        /// The snapshot covers `1..=seq`.
        seq: u64,
        /// The engine state in the encoding the client asked for.
        state: SnapshotBody,
    },
}

/// The value kept in `slot` for position `head`, or `encode()` made and
/// kept there (one encoding per head position, shared by every connection
/// that joins there). A snapshot over the protocol's frame limit is logged.
fn cached<T: Clone>(
    slot: &mut Option<(u64, T)>,
    head: u64,
    len: impl Fn(&T) -> usize,
    encode: impl FnOnce() -> T,
) -> T {
    if let Some((seq, value)) = slot {
        if *seq == head {
            return value.clone();
        }
    }
    let value = encode();
    if len(&value) > MAX_FRAME_BYTES {
        tracing::warn!(
            bytes = len(&value),
            limit = MAX_FRAME_BYTES,
            "snapshot is over the protocol's frame limit"
        );
    }
    *slot = Some((head, value.clone()));
    value
}

/// A snapshot's engine state, encoded once per head position and encoding
/// and shared by every connection that joins there.
#[derive(Debug, Clone)]
pub enum SnapshotBody {
    /// `serde_json::to_string(&engine)`, the `state` of a JSON `snapshot`
    /// frame.
    Json(Arc<str>),
    /// A whole `snap1` binary snapshot frame (header included).
    Snap1(Bytes),
}

impl SnapshotBody {
    /// Bytes of the encoded state.
    pub fn len(&self) -> usize {
        match self {
            SnapshotBody::Json(t) => t.len(),
            SnapshotBody::Snap1(b) => b.len(),
        }
    }

    /// True when nothing is encoded (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything a connection needs after joining.
#[derive(Debug)]
pub struct Joined {
    /// Head at join time (for `hello`).
    pub head_seq: u64,
    /// Oldest held at join time (for `hello` and `gap`).
    pub oldest_seq: u64,
    /// Snapshot or catch-up.
    pub start: Start,
    /// The live feed.
    pub sub: Subscription,
}

struct State {
    engine: Engine,
    history: VecDeque<Arc<str>>,
    /// Sequence number of each `history` entry, strictly increasing.
    seqs: VecDeque<u64>,
    history_bytes: usize,
    /// The oldest position the hub can serve from: every event at or after
    /// it is held (`head_seq + 1` when nothing is).
    oldest_seq: u64,
    /// The newest position seen.
    head_seq: u64,
    broadcast_upto: u64,
    /// Wall clock of the last frame the broadcaster cut (epoch ms).
    last_frame_ms: i64,
    subscribers: Vec<Subscriber>,
    snapshot_cache: Option<(u64, Arc<str>)>,
    /// The same for `snap1` clients.
    snap1_cache: Option<(u64, Bytes)>,
}

impl State {
    /// Index of the first held event with a sequence number `>= seq`.
    fn index_from(&self, seq: u64) -> usize {
        self.seqs.partition_point(|&q| q < seq)
    }
}

/// The hub; share it as `Arc<Hub>`.
pub struct Hub {
    state: Mutex<State>,
    wake: Notify,
    head: AtomicU64,
    stopping: AtomicBool,
    /// Stream identity.
    pub info: StreamInfo,
    /// Limits.
    pub limits: HubLimits,
    /// Counters (shared by every hub of a gateway).
    pub metrics: Arc<Metrics>,
    started: std::time::Instant,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("epoch", &self.info.epoch)
            .field("head", &self.head.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub with an empty stream.
    pub fn new(info: StreamInfo, limits: HubLimits, engine: Engine) -> Hub {
        Hub::with_metrics(info, limits, engine, Arc::default(), 0)
    }

    /// A hub that counts into `metrics` and starts after position `after`
    /// (nothing at or before it can be served: a resume point older than
    /// `after` gets a `gap`).
    pub fn with_metrics(
        info: StreamInfo,
        limits: HubLimits,
        engine: Engine,
        metrics: Arc<Metrics>,
        after: u64,
    ) -> Hub {
        Hub {
            state: Mutex::new(State {
                engine,
                history: VecDeque::new(),
                seqs: VecDeque::new(),
                history_bytes: 0,
                oldest_seq: after + 1,
                head_seq: after,
                broadcast_upto: after,
                last_frame_ms: 0,
                subscribers: Vec::new(),
                snapshot_cache: None,
                snap1_cache: None,
            }),
            wake: Notify::new(),
            head: AtomicU64::new(after),
            stopping: AtomicBool::new(false),
            info,
            limits,
            metrics,
            started: std::time::Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data that is still
        // consistent enough to serve; keep going rather than cascade.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Newest sequence number (lock-free).
    pub fn head_seq(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// True once [`Hub::shutdown`] ran.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sequences `events` (in order) from `source`. Returns the first and
    /// last sequence numbers assigned, or `None` for an empty batch.
    pub fn publish(&self, events: &[Event], source: Source) -> Option<(u64, u64)> {
        if events.is_empty() {
            return None;
        }
        // Encode outside the lock: once per event, shared by every connection.
        let encoded: Vec<Arc<str>> = events.iter().map(|e| Arc::from(e.to_json())).collect();
        for e in events {
            if let Body::Rejected(r) = &e.body {
                self.metrics.add_rejected(source, &r.class);
            }
        }
        self.metrics.add_in(source, events.len() as u64);
        let mut st = self.lock();
        let first = st.head_seq + 1;
        for (ev, json) in events.iter().zip(encoded) {
            st.engine.apply(ev);
            st.history_bytes += json.len();
            st.history.push_back(json);
            st.head_seq += 1;
            let seq = st.head_seq;
            st.seqs.push_back(seq);
        }
        let last = st.head_seq;
        self.trim_locked(&mut st);
        self.head.store(last, Ordering::Release);
        drop(st);
        self.wake.notify_one();
        Some((first, last))
    }

    /// Takes events numbered elsewhere (the NATS stream sequence): each
    /// `(seq, event, canonical JSON)` in increasing `seq` order, then moves
    /// the head to `through` (the last position seen, which may be past the
    /// last event: the positions in between hold events of other shops).
    /// Events at or before the current head are ignored (never applied
    /// twice). Returns how many were taken.
    pub fn publish_at(
        &self,
        events: &[(u64, &Event, Arc<str>)],
        through: u64,
        source: Source,
    ) -> usize {
        self.publish_at_counted(events, through, Some(source))
    }

    /// [`Hub::publish_at`] without counting into the metrics (a hub that
    /// shares its counters with another hub taking the same events).
    pub fn publish_at_uncounted(&self, events: &[(u64, &Event, Arc<str>)], through: u64) -> usize {
        self.publish_at_counted(events, through, None)
    }

    fn publish_at_counted(
        &self,
        events: &[(u64, &Event, Arc<str>)],
        through: u64,
        source: Option<Source>,
    ) -> usize {
        let mut st = self.lock();
        let mut taken = 0usize;
        for (seq, ev, json) in events {
            if *seq <= st.head_seq {
                continue;
            }
            if let (Body::Rejected(r), Some(source)) = (&ev.body, source) {
                self.metrics.add_rejected(source, &r.class);
            }
            st.engine.apply(ev);
            st.history_bytes += json.len();
            st.history.push_back(json.clone());
            st.seqs.push_back(*seq);
            st.head_seq = *seq;
            taken += 1;
        }
        if let Some(source) = source {
            self.metrics.add_in(source, taken as u64);
        }
        st.head_seq = st.head_seq.max(through);
        let last = st.head_seq;
        self.trim_locked(&mut st);
        self.head.store(last, Ordering::Release);
        drop(st);
        self.wake.notify_one();
        taken
    }

    /// Flushes a full batch and evicts history over the cap.
    fn trim_locked(&self, st: &mut State) {
        let cap = self.limits.history.max(1);
        // Never evict what the broadcaster has not sent yet: flush first.
        let unsent = st.seqs.len() - st.index_from(st.broadcast_upto + 1);
        if unsent >= self.limits.batch_events || st.history.len() > cap {
            self.flush_locked(st);
        }
        while st.history.len() > cap {
            if let Some(old) = st.history.pop_front() {
                st.history_bytes -= old.len();
            }
            if let Some(seq) = st.seqs.pop_front() {
                st.oldest_seq = seq + 1;
            }
        }
    }

    /// Registers a JSON connection and returns how it starts.
    pub fn join(&self, id: u64, resume: Option<&ResumePoint>) -> Joined {
        self.join_as(id, resume, Encoding::Json)
    }

    /// Registers a connection that takes its `events` frames in `encoding`.
    pub fn join_as(&self, id: u64, resume: Option<&ResumePoint>, encoding: Encoding) -> Joined {
        self.join_with(id, resume, encoding, false)
    }

    /// [`Hub::join_as`] for a client that may take its snapshot as a binary
    /// `snap1` frame (`snap1`).
    pub fn join_with(
        &self,
        id: u64,
        resume: Option<&ResumePoint>,
        encoding: Encoding,
        snap1: bool,
    ) -> Joined {
        let (tx, rx) = mpsc::channel(self.limits.queue_frames.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let kill = Arc::new(Kill::default());
        let mut st = self.lock();
        let head = st.head_seq;
        let oldest = st.oldest_seq;
        let mut gap = None;
        let mut start = None;
        let mut next_seq = head + 1;
        if let Some(rp) = resume {
            if rp.epoch != self.info.epoch {
                gap = Some("epoch_changed");
            } else if rp.seq + 1 < oldest {
                gap = Some("history_gone");
            } else if rp.seq >= head {
                // Up to date (or ahead, after a restart of a deterministic
                // source): live from the next event it has not seen.
                next_seq = rp.seq + 1;
                start = Some(Start::Resume {
                    first_seq: rp.seq + 1,
                    last_seq: rp.seq,
                    seqs: Vec::new(),
                    events: Vec::new(),
                });
            } else {
                let from = st.index_from(rp.seq + 1);
                start = Some(Start::Resume {
                    first_seq: rp.seq + 1,
                    last_seq: head,
                    seqs: st.seqs.range(from..).copied().collect(),
                    events: st.history.range(from..).cloned().collect(),
                });
            }
        }
        let start = if let Some(s) = start {
            self.metrics.resumes.fetch_add(1, Ordering::Relaxed);
            s
        } else {
            // Through the guard once, so the cache and the engine borrow apart.
            let st = &mut *st;
            let state = if snap1 {
                SnapshotBody::Snap1(cached(&mut st.snap1_cache, head, Bytes::len, || {
                    Bytes::from(shoppulse_core::snapshot::encode(
                        &self.info.epoch,
                        head,
                        &st.engine,
                    ))
                }))
            } else {
                SnapshotBody::Json(cached(
                    &mut st.snapshot_cache,
                    head,
                    |t| t.len(),
                    || {
                        Arc::from(
                            serde_json::to_string(&st.engine).unwrap_or_else(|_| "{}".to_owned()),
                        )
                    },
                ))
            };
            if gap.is_some() {
                self.metrics.gaps.fetch_add(1, Ordering::Relaxed);
            }
            Start::Snapshot {
                gap,
                seq: head,
                state,
            }
        };
        st.subscribers.push(Subscriber {
            id,
            encoding,
            next_seq,
            tx,
            queued_bytes: queued_bytes.clone(),
            kill: kill.clone(),
        });
        drop(st);
        Joined {
            head_seq: head,
            oldest_seq: oldest,
            start,
            sub: Subscription {
                rx,
                queued_bytes,
                kill,
            },
        }
    }

    /// Unregisters a connection.
    pub fn leave(&self, id: u64) {
        self.lock().subscribers.retain(|s| s.id != id);
    }

    /// Connections subscribed.
    pub fn subscribers(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// Gauges for `/metrics` and `/healthz`.
    pub fn gauges(&self) -> HistoryGauges {
        let st = self.lock();
        let queued = st.subscribers.iter().map(|s| {
            (
                s.tx.max_capacity() - s.tx.capacity(),
                s.queued_bytes.load(Ordering::Acquire),
            )
        });
        let (mut frames, mut bytes, mut max_frames) = (0, 0, 0);
        for (f, b) in queued {
            frames += f;
            bytes += b;
            max_frames = max_frames.max(f);
        }
        HistoryGauges {
            head_seq: st.head_seq,
            oldest_seq: st.oldest_seq,
            events: st.history.len() as u64,
            bytes: st.history_bytes as u64,
            capacity: self.limits.history as u64,
            queued_frames: frames as u64,
            queued_bytes: bytes as u64,
            max_queued_frames: max_frames as u64,
        }
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Tells every connection to close and stops the broadcaster.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        let st = self.lock();
        for s in &st.subscribers {
            s.kill.fire(CloseReason::Shutdown);
        }
        drop(st);
        self.wake.notify_one();
    }

    /// The broadcaster loop: run it once, on the runtime.
    pub async fn broadcast(self: Arc<Self>) {
        // True while positions are held back (a rate-limited watermark):
        // the loop then comes back for them after the watermark interval
        // even if no new event wakes it (regression: the last positions of
        // a filtered stream were never covered when nothing followed them,
        // so a dashboard stayed "behind" and a test waited in vain).
        let mut held_back = false;
        loop {
            if held_back {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.limits.watermark_interval) => {}
                }
            } else {
                self.wake.notified().await;
            }
            if self.stopping() {
                return;
            }
            held_back = {
                let mut st = self.lock();
                self.flush_locked(&mut st);
                st.broadcast_upto < st.head_seq
            };
            // Let events accumulate into the next frame.
            tokio::time::sleep(self.limits.flush_interval).await;
        }
    }

    fn flush_locked(&self, st: &mut State) {
        let sent_ms = now_ms();
        let watermark_ms =
            i64::try_from(self.limits.watermark_interval.as_millis()).unwrap_or(i64::MAX);
        while st.broadcast_upto < st.head_seq {
            let mut a = st.broadcast_upto + 1;
            if a < st.oldest_seq {
                // Only possible with a tiny --history: the events are gone.
                for s in &st.subscribers {
                    if s.next_seq < st.oldest_seq && s.kill.reason().is_none() {
                        s.kill.fire(CloseReason::SlowConsumer);
                        self.metrics.dropped_slow.fetch_add(1, Ordering::Relaxed);
                    }
                }
                a = st.oldest_seq;
            }
            let base = st.index_from(a);
            let mut n = 0usize;
            let mut bytes = 0usize;
            for ev in st.history.range(base..) {
                if n == self.limits.batch_events || (n > 0 && bytes >= self.limits.batch_bytes) {
                    break;
                }
                n += 1;
                bytes += ev.len() + 1;
            }
            // The frame covers a..=b: up to its last event, or up to the
            // head when it takes every event left.
            let b = if base + n == st.history.len() {
                st.head_seq
            } else {
                st.seqs[base + n - 1]
            };
            if n == 0 && sent_ms - st.last_frame_ms < watermark_ms {
                // Newer positions but no event for this hub: tell the
                // dashboards (a watermark) at most every watermark_interval;
                // the next frame covers these positions anyway.
                break;
            }
            st.last_frame_ms = sent_ms;
            let slice = |from: u64, encoding: Encoding| -> Outgoing {
                let lo = st.index_from(from).max(base);
                let count = base + n - lo;
                let events = st.history.range(lo..base + n).map(AsRef::as_ref);
                let seqs: Vec<u64>;
                let explicit = if count as u64 == b + 1 - from {
                    None
                } else {
                    seqs = st.seqs.range(lo..base + n).copied().collect();
                    Some((&seqs[..], b))
                };
                Outgoing {
                    payload: events_payload(
                        encoding,
                        &self.info.epoch,
                        from,
                        explicit,
                        sent_ms,
                        events,
                    ),
                    events: u32::try_from(count).unwrap_or(u32::MAX),
                }
            };
            // Built at most once per encoding in use, shared by every
            // connection of that encoding that is at the batch's start.
            let mut shared_json: Option<Outgoing> = None;
            let mut shared_bin: Option<Outgoing> = None;
            let mut slow = Vec::new();
            for s in &st.subscribers {
                if s.next_seq > b || s.kill.reason().is_some() {
                    continue;
                }
                let out = if s.next_seq <= a {
                    let shared = match s.encoding {
                        Encoding::Json => &mut shared_json,
                        Encoding::Bin1 => &mut shared_bin,
                    };
                    shared.get_or_insert_with(|| slice(a, s.encoding)).clone()
                } else {
                    slice(s.next_seq, s.encoding)
                };
                let len = out.payload.len();
                let over_bytes =
                    s.queued_bytes.load(Ordering::Acquire) + len > self.limits.queue_bytes;
                if over_bytes || s.tx.try_send(out).is_err() {
                    slow.push(s.id);
                    s.kill.fire(CloseReason::SlowConsumer);
                    self.metrics.dropped_slow.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.queued_bytes.fetch_add(len, Ordering::AcqRel);
                }
            }
            for s in &mut st.subscribers {
                if s.next_seq <= b {
                    s.next_seq = b + 1;
                }
            }
            if !slow.is_empty() {
                st.subscribers.retain(|s| !slow.contains(&s.id));
            }
            st.broadcast_upto = b;
        }
    }

    /// The `events` frames that catch a resuming connection up: the events
    /// of a [`Start::Resume`], cut like live frames, the last one covering
    /// up to `last_seq` (a single event-less frame when a filtered hub had
    /// nothing for the client, none when there is nothing to cover).
    pub fn resume_frames(
        &self,
        encoding: Encoding,
        first_seq: u64,
        last_seq: u64,
        seqs: &[u64],
        events: &[Arc<str>],
    ) -> Vec<(Payload, usize)> {
        let mut frames = Vec::new();
        let mut from = first_seq;
        let mut i = 0;
        while from <= last_seq {
            let mut n = 0;
            let mut bytes = 0;
            while i + n < events.len()
                && n < self.limits.batch_events
                && (n == 0 || bytes < self.limits.batch_bytes)
            {
                bytes += events[i + n].len() + 1;
                n += 1;
            }
            let to = if i + n == events.len() {
                last_seq
            } else {
                seqs[i + n - 1]
            };
            let evs = events[i..i + n].iter().map(AsRef::as_ref);
            let explicit = (n as u64 != to + 1 - from).then(|| (&seqs[i..i + n], to));
            let frame = events_payload(encoding, &self.info.epoch, from, explicit, now_ms(), evs);
            frames.push((frame, n));
            i += n;
            from = to + 1;
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::decode_event;

    fn hub(history: usize) -> Hub {
        Hub::new(
            StreamInfo {
                epoch: "t".into(),
                source: "test".into(),
                replay_speed: None,
            },
            HubLimits {
                history,
                batch_events: 3,
                queue_frames: 100,
                ..HubLimits::default()
            },
            Engine::default(),
        )
    }

    fn ev(i: i64) -> Event {
        decode_event(
            &format!(r#"{{"product_id": {i}, "quantity": 5, "ts": {i}}}"#),
            0,
        )
        .unwrap()
    }

    fn drain(sub: &mut Subscription) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        while let Ok(o) = sub.rx.try_recv() {
            let Payload::Text(text) = &o.payload else {
                panic!("a JSON subscriber gets text frames");
            };
            match shoppulse_core::frame::ServerFrame::parse(text).unwrap() {
                shoppulse_core::frame::ServerFrame::Events {
                    first_seq, events, ..
                } => out.push((first_seq, events.len())),
                other => panic!("{other:?}"),
            }
        }
        out
    }

    #[test]
    fn sequences_and_resumes_exactly() {
        let hb = hub(10);
        assert_eq!(hb.publish(&[ev(1), ev(2)], Source::Ingest), Some((1, 2)));
        let mut first = hb.join(1, None);
        assert!(matches!(
            first.start,
            Start::Snapshot {
                seq: 2,
                gap: None,
                ..
            }
        ));
        assert_eq!(
            hb.publish(&[ev(3), ev(4), ev(5), ev(6)], Source::Ingest),
            Some((3, 6))
        );
        let mut st = hb.lock();
        hb.flush_locked(&mut st);
        drop(st);
        // Publishing 3 events (a full frame) flushes inline: 1..=3 is cut
        // first (sliced to 3 for this subscriber), then 4..=6.
        assert_eq!(drain(&mut first.sub), vec![(3, 1), (4, 3)]);
        let resumed = hb.join(
            2,
            Some(&ResumePoint {
                epoch: "t".into(),
                seq: 4,
            }),
        );
        match resumed.start {
            Start::Resume {
                first_seq,
                last_seq,
                seqs,
                events,
            } => {
                assert_eq!((first_seq, last_seq), (5, 6));
                assert_eq!(seqs, [5, 6]);
                assert_eq!(events.len(), 2);
            }
            Start::Snapshot { .. } => panic!("expected resume"),
        }
        for i in 7..20 {
            hb.publish(&[ev(i)], Source::Ingest);
        }
        let gone = hb.join(
            3,
            Some(&ResumePoint {
                epoch: "t".into(),
                seq: 2,
            }),
        );
        assert!(matches!(
            gone.start,
            Start::Snapshot {
                gap: Some("history_gone"),
                ..
            }
        ));
        let changed = hb.join(
            4,
            Some(&ResumePoint {
                epoch: "other".into(),
                seq: 2,
            }),
        );
        assert!(matches!(
            changed.start,
            Start::Snapshot {
                gap: Some("epoch_changed"),
                ..
            }
        ));
        assert_eq!(hb.gauges().events, 10);
        assert_eq!(hb.gauges().oldest_seq, 10);
    }

    #[test]
    fn a_client_ahead_of_a_restarted_stream_waits_for_its_next_event() {
        let h = hub(100);
        h.publish(&[ev(1), ev(2)], Source::Replay);
        let mut ahead = h.join(
            1,
            Some(&ResumePoint {
                epoch: "t".into(),
                seq: 4,
            }),
        );
        match &ahead.start {
            Start::Resume {
                first_seq, events, ..
            } => {
                assert_eq!(*first_seq, 5);
                assert!(events.is_empty());
            }
            Start::Snapshot { .. } => panic!("expected resume"),
        }
        h.publish(&[ev(3), ev(4), ev(5), ev(6)], Source::Replay);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        // 1..=3 cut first (skipped), then 4..=6 sliced to start at 5.
        assert_eq!(drain(&mut ahead.sub), vec![(5, 2)]);
    }

    #[test]
    fn joins_mid_batch_get_sliced_frames() {
        let h = hub(100);
        h.publish(&[ev(1), ev(2)], Source::Ingest);
        let mut a = h.join(1, None); // snapshot at 2
        h.publish(&[ev(3)], Source::Ingest);
        let mut b = h.join(2, None); // snapshot at 3, not yet broadcast
        h.publish(&[ev(4)], Source::Ingest);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        // The inline flush cuts 1..=3 then 4: each gets exactly what follows
        // its snapshot.
        assert_eq!(drain(&mut a.sub), vec![(3, 1), (4, 1)]);
        assert_eq!(drain(&mut b.sub), vec![(4, 1)]);
    }

    type Frame = (u64, Option<Vec<u64>>, Option<u64>, usize);

    fn drain_all(sub: &mut Subscription) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Ok(o) = sub.rx.try_recv() {
            match shoppulse_core::frame::ServerFrame::parse(o.payload.as_text().unwrap()).unwrap() {
                shoppulse_core::frame::ServerFrame::Events {
                    first_seq,
                    events,
                    seqs,
                    last_seq,
                    ..
                } => out.push((first_seq, seqs, last_seq, events.len())),
                other => panic!("{other:?}"),
            }
        }
        out
    }

    fn at(events: &[(u64, Event)]) -> Vec<(u64, &Event, Arc<str>)> {
        events
            .iter()
            .map(|(q, e)| (*q, e, Arc::from(e.to_json())))
            .collect()
    }

    #[test]
    fn a_hub_fed_explicit_numbers_covers_every_position_in_its_frames() {
        let mut h = hub(100);
        h.limits.watermark_interval = Duration::ZERO;
        let mut live = h.join(1, None);
        // Positions 1..=10 seen; this hub holds 3, 4 and 9.
        let evs = [(3, ev(3)), (4, ev(4)), (9, ev(9))];
        assert_eq!(h.publish_at(&at(&evs), 10, Source::Nats), 3);
        assert_eq!(h.head_seq(), 10);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        // batch_events is 3: one frame 1..=10 with explicit seqs.
        assert_eq!(
            drain_all(&mut live.sub),
            vec![(1, Some(vec![3, 4, 9]), Some(10), 3)]
        );
        // Re-delivered positions are ignored; only newer ones count.
        assert_eq!(
            h.publish_at(&at(&[(9, ev(9)), (12, ev(12))]), 12, Source::Nats),
            1
        );
        // Positions 13..=20 with nothing for this hub: a watermark frame.
        h.publish_at(&[], 20, Source::Nats);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        assert_eq!(
            drain_all(&mut live.sub),
            vec![(11, Some(vec![12]), Some(20), 1)]
        );
        // A dashboard that stopped at 4 resumes with 9 and 12, covered to 20.
        let back = h.join(
            2,
            Some(&ResumePoint {
                epoch: "t".into(),
                seq: 4,
            }),
        );
        let Start::Resume {
            first_seq,
            last_seq,
            seqs,
            events,
        } = back.start
        else {
            panic!("expected a resume")
        };
        assert_eq!(
            (first_seq, last_seq, seqs.as_slice()),
            (5, 20, &[9, 12][..])
        );
        let frames = h.resume_frames(Encoding::Json, first_seq, last_seq, &seqs, &events);
        assert_eq!(frames.len(), 1);
        let Payload::Text(text) = &frames[0].0 else {
            panic!("JSON asked for");
        };
        let f = shoppulse_core::frame::ServerFrame::parse(text).unwrap();
        assert_eq!(f.events_last_seq(), Some(20));
        // Up to date at 20: nothing to send.
        assert!(h.resume_frames(Encoding::Json, 21, 20, &[], &[]).is_empty());
        let bin = h.resume_frames(Encoding::Bin1, first_seq, last_seq, &seqs, &events);
        let Payload::Binary(b) = &bin[0].0 else {
            panic!("bin1 asked for");
        };
        let f = shoppulse_core::binary::Frame::parse(b).unwrap();
        assert_eq!(f.covered_to(), 20);
        let got: Vec<u64> = f.events().unwrap().iter().map(|e| e.0).collect();
        assert_eq!(got, [9, 12], "explicit seqs in binary too");
        // A resume point before what the hub started from is a gap.
        let late = Hub::with_metrics(
            h.info.clone(),
            h.limits.clone(),
            Engine::default(),
            Arc::default(),
            50,
        );
        let gone = late.join(
            3,
            Some(&ResumePoint {
                epoch: "t".into(),
                seq: 10,
            }),
        );
        assert!(matches!(
            gone.start,
            Start::Snapshot {
                gap: Some("history_gone"),
                seq: 50,
                ..
            }
        ));
    }

    #[test]
    fn watermarks_are_rate_limited() {
        let mut h = hub(100);
        h.limits.watermark_interval = Duration::from_hours(1);
        let mut live = h.join(1, None);
        h.publish_at(&at(&[(2, ev(2))]), 2, Source::Nats);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        assert_eq!(
            drain_all(&mut live.sub),
            vec![(1, Some(vec![2]), Some(2), 1)]
        );
        h.publish_at(&[], 30, Source::Nats);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        assert!(drain_all(&mut live.sub).is_empty(), "no watermark yet");
        // The next event's frame covers the skipped positions.
        h.publish_at(&at(&[(31, ev(31))]), 31, Source::Nats);
        let mut st = h.lock();
        h.flush_locked(&mut st);
        drop(st);
        assert_eq!(
            drain_all(&mut live.sub),
            vec![(3, Some(vec![31]), Some(31), 1)]
        );
    }

    #[tokio::test]
    async fn a_held_back_watermark_goes_out_without_a_further_event() {
        let mut h = hub(100);
        h.limits.watermark_interval = Duration::from_millis(200);
        let h = Arc::new(h);
        let mut live = h.join(1, None);
        tokio::spawn(Arc::clone(&h).broadcast());
        h.publish_at(&at(&[(2, ev(2))]), 2, Source::Nats);
        // Right after that frame: positions 3..=9 hold nothing for this hub,
        // and the watermark is rate-limited...
        tokio::time::sleep(Duration::from_millis(50)).await;
        h.publish_at(&[], 9, Source::Nats);
        // ...but it still goes out once the interval has passed, with no
        // further event to wake the broadcaster.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut frames = Vec::new();
        while !frames.iter().any(|f: &Frame| f.2 == Some(9)) {
            assert!(
                std::time::Instant::now() < deadline,
                "no watermark covering 9: {frames:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            frames.extend(drain_all(&mut live.sub));
        }
        assert_eq!(frames.last(), Some(&(3, Some(vec![]), Some(9), 0)));
        h.shutdown();
    }

    #[test]
    fn full_queue_kills_only_the_slow_one() {
        let mut h = hub(100);
        h.limits.queue_frames = 2;
        let slow = h.join(1, None);
        let mut fast = h.join(2, None);
        for i in 0..5 {
            h.publish(&[ev(i), ev(i), ev(i)], Source::Ingest);
            let mut st = h.lock();
            h.flush_locked(&mut st);
            drop(st);
            drain(&mut fast.sub);
        }
        assert_eq!(slow.sub.kill.reason(), Some(CloseReason::SlowConsumer));
        assert_eq!(fast.sub.kill.reason(), None);
        assert_eq!(h.subscribers(), 1);
    }

    #[test]
    fn frames_are_built_once_per_encoding_in_use() {
        let h = hub(10);
        let mut subs: Vec<Subscription> = [
            Encoding::Json,
            Encoding::Bin1,
            Encoding::Json,
            Encoding::Bin1,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, e)| h.join_as(i as u64, None, e).sub)
        .collect();
        h.publish(&[ev(1), ev(2)], Source::Ingest);
        h.flush_locked(&mut h.lock());
        let got: Vec<Payload> = subs
            .iter_mut()
            .map(|s| s.rx.try_recv().expect("a frame").payload)
            .collect();
        let (Payload::Text(j0), Payload::Binary(b0), Payload::Text(j1), Payload::Binary(b1)) =
            (&got[0], &got[1], &got[2], &got[3])
        else {
            panic!("each connection gets its encoding: {got:?}");
        };
        assert_eq!(
            j0.as_str().as_ptr(),
            j1.as_str().as_ptr(),
            "one JSON text shared"
        );
        assert_eq!(b0.as_ptr(), b1.as_ptr(), "one binary frame shared");
        let bin = shoppulse_core::binary::Frame::parse(b0)
            .unwrap()
            .events()
            .unwrap();
        assert_eq!(bin, vec![(1, ev(1)), (2, ev(2))]);
    }
}
