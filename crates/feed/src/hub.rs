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
//! ## Fan-out
//! A broadcaster task cuts the events published since the last flush into
//! `events` frames (at most [`HubLimits::batch_events`] events or about
//! [`HubLimits::batch_bytes`] bytes each), builds each frame **once** and hands
//! the same reference-counted text to every connection's bounded queue with a
//! non-blocking `try_send`. A connection whose queue is full (frames or bytes)
//! is removed and told to close with `slow_consumer`: publishers and other
//! connections never wait for a slow one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use shoppulse_core::event::Body;
use shoppulse_core::frame::{encode_events_frame, ResumePoint, MAX_FRAME_BYTES};
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

/// One queued frame for a connection.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The frame text (shared between connections).
    pub text: Utf8Bytes,
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
        /// Sequence number of `events[0]`.
        first_seq: u64,
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
        /// `serde_json::to_string(&engine)`.
        state: Arc<str>,
    },
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
    history_bytes: usize,
    /// Sequence number of `history[0]` (`head_seq + 1` when empty).
    oldest_seq: u64,
    head_seq: u64,
    broadcast_upto: u64,
    subscribers: Vec<Subscriber>,
    snapshot_cache: Option<(u64, Arc<str>)>,
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
    /// Counters.
    pub metrics: Metrics,
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
        Hub {
            state: Mutex::new(State {
                engine,
                history: VecDeque::new(),
                history_bytes: 0,
                oldest_seq: 1,
                head_seq: 0,
                broadcast_upto: 0,
                subscribers: Vec::new(),
                snapshot_cache: None,
            }),
            wake: Notify::new(),
            head: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            info,
            limits,
            metrics: Metrics::default(),
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
        }
        let last = st.head_seq;
        let cap = self.limits.history.max(1);
        // Never evict what the broadcaster has not sent yet: flush first.
        if st.head_seq - st.broadcast_upto >= self.limits.batch_events as u64
            || st.history.len() > cap
        {
            self.flush_locked(&mut st);
        }
        while st.history.len() > cap {
            if let Some(old) = st.history.pop_front() {
                st.history_bytes -= old.len();
            }
            st.oldest_seq += 1;
        }
        self.head.store(last, Ordering::Release);
        drop(st);
        self.wake.notify_one();
        Some((first, last))
    }

    /// Registers a connection and returns how it starts.
    pub fn join(&self, id: u64, resume: Option<&ResumePoint>) -> Joined {
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
                    events: Vec::new(),
                });
            } else {
                let from = usize::try_from(rp.seq + 1 - oldest).unwrap_or(usize::MAX);
                let events: Vec<Arc<str>> = st.history.range(from..).cloned().collect();
                start = Some(Start::Resume {
                    first_seq: rp.seq + 1,
                    events,
                });
            }
        }
        let start = if let Some(s) = start {
            self.metrics.resumes.fetch_add(1, Ordering::Relaxed);
            s
        } else {
            let state = match &st.snapshot_cache {
                Some((seq, text)) if *seq == head => text.clone(),
                _ => {
                    let text: Arc<str> = Arc::from(
                        serde_json::to_string(&st.engine).unwrap_or_else(|_| "{}".to_owned()),
                    );
                    if text.len() > MAX_FRAME_BYTES {
                        tracing::warn!(
                            bytes = text.len(),
                            limit = MAX_FRAME_BYTES,
                            "snapshot state is over the protocol's frame limit"
                        );
                    }
                    st.snapshot_cache = Some((head, text.clone()));
                    text
                }
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
        loop {
            self.wake.notified().await;
            if self.stopping() {
                return;
            }
            {
                let mut st = self.lock();
                self.flush_locked(&mut st);
            }
            // Let events accumulate into the next frame.
            tokio::time::sleep(self.limits.flush_interval).await;
        }
    }

    fn flush_locked(&self, st: &mut State) {
        let sent_ms = now_ms();
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
            let base = usize::try_from(a - st.oldest_seq).unwrap_or(0);
            let mut n = 0usize;
            let mut bytes = 0usize;
            for ev in st.history.range(base..) {
                if n == self.limits.batch_events || (n > 0 && bytes >= self.limits.batch_bytes) {
                    break;
                }
                n += 1;
                bytes += ev.len() + 1;
            }
            if n == 0 {
                // Nothing held past `a` (cannot happen: eviction waits for
                // the flush); never spin.
                st.broadcast_upto = st.head_seq;
                break;
            }
            let b = a + n as u64 - 1;
            let slice = |from: u64| -> Outgoing {
                let lo = base + usize::try_from(from - a).unwrap_or(0);
                let text = encode_events_frame(
                    &self.info.epoch,
                    from,
                    sent_ms,
                    st.history.range(lo..base + n).map(AsRef::as_ref),
                );
                Outgoing {
                    text: Utf8Bytes::from(text),
                    events: u32::try_from(b + 1 - from).unwrap_or(u32::MAX),
                }
            };
            let mut shared: Option<Outgoing> = None;
            let mut slow = Vec::new();
            for s in &st.subscribers {
                if s.next_seq > b || s.kill.reason().is_some() {
                    continue;
                }
                let out = if s.next_seq <= a {
                    shared.get_or_insert_with(|| slice(a)).clone()
                } else {
                    slice(s.next_seq)
                };
                let len = out.text.len();
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
            match shoppulse_core::frame::ServerFrame::parse(&o.text).unwrap() {
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
            Start::Resume { first_seq, events } => {
                assert_eq!(first_seq, 5);
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
            Start::Resume { first_seq, events } => {
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
}
