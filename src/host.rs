//! The engine host: the socket's frames applied to the [`Session`] (protocol
//! rules and operators), the pause queue, and what is published to the page.
//!
//! It runs in a dedicated Web Worker or on the page's main thread (see
//! [`crate::link`]); it never touches the DOM or Leptos. [`crate::feed`]
//! hands it each frame ([`Host::on_text`], [`Host::on_binary`]) and tells it
//! about the connection ([`Host::set_state`], [`Host::note_disconnect`]).
//! After a change it publishes ONE [`Published`] (what changed: view,
//! progress, connection facts, queue length, answers to the page's
//! [`Interest`]) through its sink:
//! - on the main thread, on the next animation frame, costly publishes paced
//!   so that publishing takes at most [`PUBLISH_DUTY`] of the thread;
//! - in a worker, as soon as the page has drawn the previous one
//!   ([`Cmd::Drawn`], sent from the page's next animation frame), so at
//!   most one publish per frame is ever in flight and a slow page is never
//!   flooded.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use shoppulse_core::frame::ServerFrame;
use shoppulse_core::id::Id;

use crate::link::{Answer, Cmd, DrillData, EngineSettings, Extras, Interest, Published, Start};
use crate::pause::{PauseQueue, Queued};
use crate::session::{Encoding, Outcome, Session};
use crate::state::{now_f64, now_ms, ConnInfo, ConnState, Progress};
use crate::ui::Drill;

/// Largest share of the main thread that a costly publish (building the
/// view and re-rendering the sections) may take while events stream in:
/// after a publish that cost `c` ms (more than [`PUBLISH_FRAME_BUDGET_MS`]),
/// the next one waits `c * (1 - d) / d` ms, so the rest goes to applying
/// events. Profiled: at high rates the re-render, not the operators, is what
/// limits the events applied per second (main-thread host only).
const PUBLISH_DUTY: f64 = 0.3;
/// A publish that cost at most this, ms, is followed by one on the next
/// animation frame (the rendering diffs, so a publish costs what changed:
/// a few ms at 10,000 events/s), which keeps event-to-pixel latency to
/// about a frame; only costlier publishes are paced by [`PUBLISH_DUTY`].
const PUBLISH_FRAME_BUDGET_MS: f64 = 8.0;
/// Longest pause between publishes however costly they are, ms (the view is
/// never older than about this).
const PUBLISH_MAX_GAP_MS: f64 = 1_000.0;
/// Unsynced orders listed for a cell's drill-down.
pub const CELL_ORDERS: usize = 50;
/// Partners listed for a product's drill-down.
pub const PARTNERS_SHOWN: usize = 8;
/// The cell scan (every unsynced order of the stream) is re-run at most this
/// often while its drill-down is open, ms.
const CELL_SCAN_MS: f64 = 1_000.0;

/// Where the host publishes.
pub type Sink = Box<dyn Fn(Answer)>;

/// The engine host (see the module note).
pub struct Host {
    /// Protocol state and engine. Borrowed briefly; never across an await.
    pub session: RefCell<Session>,
    conn: RefCell<ConnInfo>,
    conn_dirty: Cell<bool>,
    publish_scheduled: Cell<bool>,
    /// Earliest time of the next publish (`performance.now()` ms).
    next_publish_ms: Cell<f64>,
    /// Publishes wait for [`Cmd::Drawn`] (a worker) instead of animation
    /// frames (the main thread).
    paced_by_page: Cell<bool>,
    in_flight: Cell<bool>,
    paused: Cell<bool>,
    queue: RefCell<PauseQueue>,
    queued_dirty: Cell<bool>,
    interest: RefCell<Interest>,
    extras_dirty: Cell<bool>,
    cell_scanned_ms: Cell<f64>,
    /// Why the current connection should be dropped and resumed, if it should.
    reconnect: RefCell<Option<String>>,
    token_version: Cell<u32>,
    sink: Sink,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host with a fresh session, publishing into `sink`.
    pub fn new(start: Start, sink: Sink) -> Rc<Self> {
        let mut session = Session::with_encoding(if start.bin1 {
            Encoding::Bin1
        } else {
            Encoding::Json
        });
        session.shops = start.shops;
        session.last_error = start.note;
        if let Some(epoch) = start.resume_epoch.filter(|e| !e.is_empty()) {
            session.epoch = Some(epoch);
            session.last_seq = 0;
        }
        Rc::new(Host {
            session: RefCell::new(session),
            conn: RefCell::new(ConnInfo {
                url: start.url,
                ..ConnInfo::default()
            }),
            conn_dirty: Cell::new(true),
            publish_scheduled: Cell::new(false),
            next_publish_ms: Cell::new(0.0),
            paced_by_page: Cell::new(false),
            in_flight: Cell::new(false),
            paused: Cell::new(false),
            queue: RefCell::new(PauseQueue::default()),
            queued_dirty: Cell::new(false),
            interest: RefCell::new(Interest::default()),
            extras_dirty: Cell::new(false),
            cell_scanned_ms: Cell::new(f64::NEG_INFINITY),
            reconnect: RefCell::new(None),
            token_version: Cell::new(0),
            sink,
        })
    }

    /// Publishes when the page has drawn the previous publish (a worker).
    pub fn set_paced_by_page(&self) {
        self.paced_by_page.set(true);
    }

    /// Handles one message from the page.
    pub fn handle(self: &Rc<Self>, cmd: Cmd) {
        match cmd {
            // The host is made from its `Start`; a second one changes nothing.
            Cmd::Start(_) => {}
            Cmd::Settings(s, url) => self.apply_settings(&s, url),
            Cmd::Token(t) => self.set_token(t),
            Cmd::Pause(p) => self.set_paused(p),
            Cmd::Interest(i) => {
                if *self.interest.borrow() != i {
                    self.cell_scanned_ms.set(f64::NEG_INFINITY);
                    self.interest.replace(i);
                    self.extras_dirty.set(true);
                    self.schedule_publish();
                }
            }
            Cmd::Drawn => {
                self.in_flight.set(false);
                self.schedule_publish();
            }
            Cmd::Aggregates(id, products) => {
                let json = self
                    .session
                    .try_borrow()
                    .map(|s| crate::bench::aggregates_json(&s.engine, &products))
                    .unwrap_or_default();
                (self.sink)(Answer::Aggregates(id, json));
            }
        }
    }

    /// Applies one text frame now (or queues it while paused); the view
    /// follows with the next publish.
    pub fn on_text(self: &Rc<Self>, text: &str) -> Outcome {
        if self.paused.get() {
            if let Ok(frame) = ServerFrame::parse(text) {
                if matches!(
                    frame,
                    ServerFrame::Events { .. }
                        | ServerFrame::Snapshot { .. }
                        | ServerFrame::Gap { .. }
                ) {
                    self.queue_frame(frame);
                    return Outcome::Continue;
                }
                let outcome = self.session.borrow_mut().on_frame(frame, now_ms());
                self.schedule_publish();
                return outcome;
            }
        }
        let outcome = self.session.borrow_mut().on_text(text, now_ms());
        self.schedule_publish();
        outcome
    }

    /// Applies one binary message (a `snap1` snapshot or a `bin1` events
    /// frame) now, or queues it while paused (a `bin1` frame as the
    /// equivalent JSON `events` frame).
    pub fn on_binary(self: &Rc<Self>, bytes: &[u8]) -> Outcome {
        if self.paused.get() {
            if let Ok((epoch, seq)) = shoppulse_core::snapshot::header(bytes) {
                self.queue
                    .borrow_mut()
                    .push_snap1(bytes.to_vec(), epoch, seq);
                self.queued_changed();
                return Outcome::Continue;
            }
            if let Some(frame) = bin1_as_json_frame(bytes) {
                self.queue_frame(frame);
                return Outcome::Continue;
            }
        }
        let outcome = self.session.borrow_mut().on_binary(bytes, now_ms());
        self.schedule_publish();
        outcome
    }

    /// Queues `frame` while paused (after what was applied).
    fn queue_frame(self: &Rc<Self>, frame: ServerFrame) {
        let applied = self.session.borrow().resume_point();
        self.queue.borrow_mut().push(frame, applied.as_ref());
        self.queued_changed();
    }

    fn queued_changed(self: &Rc<Self>) {
        self.queued_dirty.set(true);
        self.schedule_publish();
    }

    /// The `hello` for a new connection (with the resume point, if any;
    /// while paused, after what is queued).
    pub fn hello_frame(&self) -> String {
        if self.session.borrow().wants_snapshot() {
            // A panel was turned back on: its state comes from a snapshot.
            return self.session.borrow().hello_frame();
        }
        if let Some(r) = self.queue.borrow().resume_point() {
            return self.session.borrow().hello_at(Some(r.clone()));
        }
        self.session.borrow().hello_frame()
    }

    /// Pauses (frames queue, the view freezes) or resumes (the queue
    /// applies in order, then the view follows).
    pub fn set_paused(self: &Rc<Self>, paused: bool) {
        if self.paused.replace(paused) == paused || paused {
            return;
        }
        let (frames, overflowed) = self.queue.borrow_mut().take();
        let mut reconnect =
            overflowed.then(|| "pause queue was full: resuming from the gateway".to_owned());
        let mut resynced = false;
        {
            let mut s = self.session.borrow_mut();
            let now = now_ms();
            for f in frames {
                let outcome = match f {
                    Queued::Frame(f) => s.on_frame(f, now),
                    Queued::Snap1(bytes) => s.on_binary(&bytes, now),
                };
                match outcome {
                    Outcome::Reconnect(r) => reconnect = Some(r),
                    Outcome::Resynced => resynced = true,
                    _ => {}
                }
            }
        }
        self.queued_dirty.set(true);
        if resynced {
            self.set_state(ConnState::Resynced);
        }
        if let Some(r) = reconnect {
            self.request_reconnect(r);
        }
        self.schedule_publish();
    }

    /// Asks the feed to drop the connection and resume (picked up within
    /// half a second).
    pub fn request_reconnect(&self, reason: String) {
        *self.reconnect.borrow_mut() = Some(reason);
    }

    /// The pending reconnect request, once.
    pub fn take_reconnect(&self) -> Option<String> {
        self.reconnect.borrow_mut().take()
    }

    /// The feed URL in use.
    pub fn url(&self) -> String {
        self.conn.borrow().url.clone()
    }

    /// Applies the operator's engine settings (kept across snapshots) and
    /// the feed URL (`url`, already resolved; a change reconnects).
    pub fn apply_settings(self: &Rc<Self>, s: &EngineSettings, url: String) {
        let engine_settings = s.clone();
        let want_snapshot = self
            .session
            .borrow_mut()
            .set_local_config(Some(Box::new(move |c| engine_settings.apply_to(c))));
        if want_snapshot {
            self.request_reconnect("a panel turned back on: reloading from the gateway".to_owned());
        }
        if self.url() != url {
            self.conn.borrow_mut().url = url;
            self.conn_dirty.set(true);
            self.request_reconnect("feed URL changed".to_owned());
        }
        self.schedule_publish();
    }

    /// Sets the viewer token sent in the next hello.
    pub fn set_token(&self, token: Option<String>) {
        self.session.borrow_mut().token = token
            .filter(|t| !t.trim().is_empty())
            .map(|t| shoppulse_core::frame::Token::new(t.trim()));
        self.token_version
            .set(self.token_version.get().wrapping_add(1));
    }

    /// Bumped by every [`Host::set_token`] (the feed waits for it after a
    /// refusal).
    pub fn token_version(&self) -> u32 {
        self.token_version.get()
    }

    /// Changes the connection state shown.
    pub fn set_state(self: &Rc<Self>, state: ConnState) {
        if self.conn.borrow().state != state {
            self.conn.borrow_mut().state = state;
            self.conn_dirty.set(true);
            self.schedule_publish();
        }
    }

    /// The gateway refused the viewer token: shown, and counted so the page
    /// forgets the token.
    pub fn note_refused(self: &Rc<Self>) {
        self.conn.borrow_mut().refusals += 1;
        self.conn_dirty.set(true);
        self.set_state(ConnState::Unauthorized);
        self.schedule_publish();
    }

    /// The connection state shown.
    pub fn state(&self) -> ConnState {
        self.conn.borrow().state
    }

    /// Records why a connection ended.
    pub fn note_disconnect(self: &Rc<Self>, reason: String) {
        {
            let mut c = self.conn.borrow_mut();
            c.disconnects += 1;
            c.last_disconnect = Some(reason);
        }
        self.conn_dirty.set(true);
        self.schedule_publish();
    }

    /// Schedules one publish (coalesced): on an animation frame, no sooner
    /// than the render budget allows (main thread), or as soon as the page
    /// drew the previous one (worker).
    fn schedule_publish(self: &Rc<Self>) {
        if self.publish_scheduled.get() || (self.paced_by_page.get() && self.in_flight.get()) {
            return;
        }
        // A worker publishes after the frames already received in this
        // turn; the main thread on a frame, after the render budget's wait.
        let wait_ms = if self.paced_by_page.get() {
            None
        } else {
            Some(self.next_publish_ms.get() - now_f64())
        };
        #[cfg(target_arch = "wasm32")]
        {
            self.publish_scheduled.set(true);
            let host = Rc::clone(self);
            match wait_ms {
                None => {
                    gloo_timers::callback::Timeout::new(0, move || host.publish_now()).forget();
                }
                Some(w) if w > 1.0 => {
                    // reason: w is in (1, PUBLISH_MAX_GAP_MS]
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let w = w as u32;
                    gloo_timers::callback::Timeout::new(w, move || {
                        leptos::prelude::request_animation_frame(move || host.publish_now());
                    })
                    .forget();
                }
                Some(_) => leptos::prelude::request_animation_frame(move || host.publish_now()),
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = wait_ms;
    }

    /// Publishes what changed, if anything (and if the page drew the
    /// previous publish, for a worker).
    pub fn publish_now(self: &Rc<Self>) {
        self.publish_scheduled.set(false);
        if self.paced_by_page.get() && self.in_flight.get() {
            return;
        }
        let Some(published) = self.take_published() else {
            return;
        };
        if self.paced_by_page.get() {
            self.in_flight.set(true);
        } else {
            self.pace_main_thread();
        }
        (self.sink)(Answer::Publish(Box::new(published)));
    }

    /// On the main thread: the render cost of this publish is measured from
    /// here to the first task after this one (the views update in
    /// microtasks of this task), which sets the earliest next publish.
    fn pace_main_thread(self: &Rc<Self>) {
        let started = now_f64();
        let host = Rc::clone(self);
        let measured = move || {
            let cost = now_f64() - started;
            host.next_publish_ms
                .set(started + cost + publish_gap_ms(cost));
        };
        #[cfg(target_arch = "wasm32")]
        gloo_timers::callback::Timeout::new(0, measured).forget();
        // Natively (tests) there is no event loop: nothing renders.
        #[cfg(not(target_arch = "wasm32"))]
        measured();
    }

    /// What changed since the previous publish (`None`: nothing).
    fn take_published(&self) -> Option<Published> {
        let mut s = self.session.borrow_mut();
        let changed = s.take_changed();
        let interest = self.interest.borrow();
        let cell_due = matches!(interest.drill, Some(Drill::Cell(..)))
            && now_f64() - self.cell_scanned_ms.get() >= CELL_SCAN_MS;
        let follows_view = !interest.lookup.is_empty()
            || matches!(interest.drill, Some(Drill::Product(_) | Drill::Order(_)));
        let extras_due = self.extras_dirty.replace(false) || (changed && follows_view) || cell_due;
        let conn_due = self.conn_dirty.replace(false);
        let queued_due = self.queued_dirty.replace(false);
        if !(changed || extras_due || conn_due || queued_due) {
            return None;
        }
        let mut p = Published::default();
        if changed {
            p.progress = Some(Progress {
                epoch: s.epoch.clone(),
                last_seq: s.last_seq,
                head_seq: s.head_seq,
                applied_here: s.applied_here,
            });
            p.view = Some(s.engine.view());
            let mut c = self.conn.borrow_mut();
            c.server.clone_from(&s.server);
            c.last_error.clone_from(&s.last_error);
            c.protocol_errors = s.protocol_errors;
            c.gaps = s.gaps;
            c.last_gap.clone_from(&s.last_gap);
        }
        if changed || conn_due {
            p.conn = Some(self.conn.borrow().clone());
        }
        if queued_due {
            p.queued = Some(self.queue.borrow().events());
        }
        if extras_due {
            if cell_due {
                self.cell_scanned_ms.set(now_f64());
            }
            p.extras = Some(extras(&s, &interest));
        }
        if self.paced_by_page.get() {
            p.host_memory_bytes = wasm_memory_bytes();
        }
        Some(p)
    }
}

/// The wait after a main-thread publish that cost `cost_ms` before the next
/// one, ms (see [`PUBLISH_DUTY`]).
fn publish_gap_ms(cost_ms: f64) -> f64 {
    if cost_ms <= PUBLISH_FRAME_BUDGET_MS {
        0.0
    } else {
        (cost_ms * (1.0 - PUBLISH_DUTY) / PUBLISH_DUTY).min(PUBLISH_MAX_GAP_MS)
    }
}

/// The answers to `interest` from the session.
fn extras(s: &Session, interest: &Interest) -> Extras {
    let lookup = (!interest.lookup.is_empty()).then(|| {
        let id = Id::from_text(&interest.lookup);
        (interest.lookup.clone(), s.engine.recommend_for(&id))
    });
    let drill = interest.drill.as_ref().map(|d| {
        let e = &s.engine;
        let data = match d {
            Drill::Product(id) => DrillData::Product {
                stock: e.stock_of(id),
                partners: e.bought_with(id, PARTNERS_SHOWN),
                score: e.trend_score(id),
                now_ms: e.now_ms(),
            },
            Drill::Cell(ch, t) => DrillData::Cell {
                orders: e.cell_orders(ch, *t, CELL_ORDERS),
            },
            Drill::Order(id) => DrillData::Order {
                states: e.order_sync(id),
                notes: s.order_notes(id),
            },
        };
        (d.clone(), data)
    });
    Extras { lookup, drill }
}

/// This instance's wasm linear memory, bytes.
fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let mem = wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .ok()?;
        let buf = mem.buffer().dyn_into::<js_sys::ArrayBuffer>().ok()?;
        Some(u64::from(buf.byte_length()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// A readable `bin1` frame as the equivalent JSON `events` frame (for the
/// pause queue, which holds parsed frames); `None` when unreadable (the
/// session then counts it).
fn bin1_as_json_frame(bytes: &[u8]) -> Option<ServerFrame> {
    let f = shoppulse_core::binary::Frame::parse(bytes).ok()?;
    let mut events = Vec::with_capacity(f.count);
    f.for_each(&mut shoppulse_core::binary::Scratch::default(), |_, ev| {
        events.push(ev.to_json());
    })
    .ok()?;
    let text = shoppulse_core::frame::encode_events_frame(
        f.epoch,
        f.first_seq,
        f.sent_ms,
        events.iter().map(String::as_str),
    );
    ServerFrame::parse(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::publish_gap_ms;

    #[test]
    fn a_cheap_publish_is_followed_by_one_on_the_next_frame_and_a_costly_one_waits() {
        assert!(publish_gap_ms(8.0).abs() < f64::EPSILON);
        // 30 % duty: 30 ms of rendering, then 70 ms for the events.
        assert!((publish_gap_ms(30.0) - 70.0).abs() < 1e-9);
        assert!((publish_gap_ms(5_000.0) - 1_000.0).abs() < f64::EPSILON);
    }
}
