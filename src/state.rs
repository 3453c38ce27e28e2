//! Application state: the non-reactive engine and the reactive snapshots the
//! views read.
//!
//! Data flows one way: [`crate::feed`] hands each text frame to
//! [`Store::on_text`], which applies it to the [`Session`] (engine included)
//! at once and schedules one publish on the next animation frame (costly
//! publishes paced so that publishing takes at most [`PUBLISH_DUTY`] of the
//! main thread). The
//! publish builds ONE [`View`] (only when something changed) and sets it into
//! [`Signals::view`]; [`Sections`] splits it with memos so a section that did
//! not change does not re-render. Views only read.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use shoppulse_core::frame::ServerFrame;
use shoppulse_core::view::{
    BehaviorView, HealthView, InventoryView, RecsView, SalesView, SyncView, View,
};

use crate::alerts::{AlertRow, Alerts, AlertsView, Rules};
use crate::pause::{PauseQueue, Queued};
use crate::session::{Encoding, Outcome, ServerInfo, Session};
use crate::settings::Settings;

/// Connection state shown in the feed-health strip.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ConnState {
    /// Opening the socket / waiting for the gateway's hello.
    #[default]
    Connecting,
    /// Hello received, frames flowing.
    Live,
    /// Disconnected; the next attempt starts in `in_s` seconds.
    Reconnecting {
        /// Seconds until the next attempt.
        in_s: u32,
    },
    /// A gap was reported and the snapshot that followed has been applied.
    Resynced,
    /// The browser is offline or attempts keep failing; still retrying.
    Offline {
        /// Seconds until the next attempt.
        in_s: u32,
    },
    /// The gateway refused the viewer token; waiting for another one.
    Unauthorized,
}

impl ConnState {
    /// The status text ("connecting", "live", "reconnecting in 3 s",
    /// "gap — resynced", "offline").
    pub fn label(self) -> String {
        match self {
            ConnState::Connecting => "connecting".to_owned(),
            ConnState::Live => "live".to_owned(),
            ConnState::Reconnecting { in_s } => format!("reconnecting in {in_s} s"),
            ConnState::Resynced => "gap — resynced".to_owned(),
            ConnState::Offline { .. } => "offline".to_owned(),
            ConnState::Unauthorized => "unauthorized — check the token".to_owned(),
        }
    }

    /// A stable machine name, for CSS and `data-state`.
    pub fn key(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Live => "live",
            ConnState::Reconnecting { .. } => "reconnecting",
            ConnState::Resynced => "resynced",
            ConnState::Offline { .. } => "offline",
            ConnState::Unauthorized => "unauthorized",
        }
    }
}

/// Connection facts for the health strip (changes rarely).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct ConnInfo {
    /// Current state.
    pub state: ConnState,
    /// The feed URL in use.
    pub url: String,
    /// The gateway's hello.
    pub server: Option<ServerInfo>,
    /// Connections lost so far.
    pub disconnects: u32,
    /// Why the last connection ended.
    pub last_disconnect: Option<String>,
    /// Latest protocol problem or gateway error message.
    pub last_error: Option<String>,
    /// Frames that could not be used.
    pub protocol_errors: u64,
    /// Gaps reported by the gateway.
    pub gaps: u32,
    /// Reason of the latest gap.
    pub last_gap: Option<String>,
}

/// Stream position, published with each view.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Progress {
    /// Stream epoch of the state held.
    pub epoch: Option<String>,
    /// Last applied sequence number.
    pub last_seq: u64,
    /// Gateway head sequence number.
    pub head_seq: u64,
    /// Events applied from `events` frames in this page.
    pub applied_here: u64,
}

/// The reactive handles (all `Copy`), provided as context.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
    /// The latest published view.
    pub view: RwSignal<View>,
    /// Connection facts.
    pub conn: RwSignal<ConnInfo>,
    /// Stream position.
    pub progress: RwSignal<Progress>,
    /// Applied events per second of wall time (last few seconds).
    pub rate: RwSignal<f64>,
    /// Wall clock (epoch ms), ticking once a second.
    pub now_ms: RwSignal<i64>,
    /// The live view is paused (frames queue).
    pub paused: RwSignal<bool>,
    /// Events queued while paused.
    pub queued: RwSignal<u64>,
    /// The alerts panel.
    pub alerts: RwSignal<AlertsView>,
}

/// Per-section memos over [`Signals::view`]: a section re-renders only when
/// its part of the view changed (the sections derive `PartialEq`).
#[derive(Clone, Copy, Debug)]
pub struct Sections {
    /// Feed health.
    pub health: Memo<HealthView>,
    /// Behaviour.
    pub behavior: Memo<BehaviorView>,
    /// Inventory.
    pub inventory: Memo<InventoryView>,
    /// Recommendations.
    pub recs: Memo<RecsView>,
    /// Sales.
    pub sales: Memo<SalesView>,
    /// Order sync.
    pub sync: Memo<SyncView>,
}

impl Sections {
    /// Splits `view` into section memos.
    pub fn new(view: RwSignal<View>) -> Self {
        Sections {
            health: Memo::new(move |_| view.with(|v| v.health.clone())),
            behavior: Memo::new(move |_| view.with(|v| v.behavior.clone())),
            inventory: Memo::new(move |_| view.with(|v| v.inventory.clone())),
            recs: Memo::new(move |_| view.with(|v| v.recs.clone())),
            sales: Memo::new(move |_| view.with(|v| v.sales.clone())),
            sync: Memo::new(move |_| view.with(|v| v.sync.clone())),
        }
    }
}

/// Sets `sig` only when `value` differs, so nothing downstream wakes for nothing.
pub fn set_if_changed<T: PartialEq + Send + Sync + 'static>(sig: RwSignal<T>, value: T) {
    if sig.with_untracked(|v| *v != value) {
        sig.set(value);
    }
}

/// Wall-clock samples kept for the events/s figure (one per second).
const RATE_SAMPLES: usize = 6;

/// Largest share of the main thread that a costly publish (building the
/// view and re-rendering the sections) may take while events stream in:
/// after a publish that cost `c` ms (more than [`PUBLISH_FRAME_BUDGET_MS`]),
/// the next one waits `c * (1 - d) / d` ms, so the rest goes to applying
/// events. Profiled: at high rates the re-render, not the operators, is what
/// limits the events applied per second.
const PUBLISH_DUTY: f64 = 0.3;
/// A publish that cost at most this, ms, is followed by one on the next
/// animation frame (the rendering diffs, so a publish costs what changed:
/// a few ms at 10,000 events/s), which keeps event-to-pixel latency to
/// about a frame; only costlier publishes are paced by [`PUBLISH_DUTY`].
const PUBLISH_FRAME_BUDGET_MS: f64 = 8.0;
/// Longest pause between publishes however costly they are, ms (the view is
/// never older than about this).
const PUBLISH_MAX_GAP_MS: f64 = 1_000.0;

/// The engine and its bookkeeping (non-reactive), plus the signals it feeds.
#[derive(Debug)]
pub struct Store {
    /// Protocol state and engine. Borrowed briefly; never across an await.
    pub session: RefCell<Session>,
    /// The reactive outputs.
    pub signals: Signals,
    publish_scheduled: Cell<bool>,
    /// Earliest time of the next publish (`performance.now()` ms).
    next_publish_ms: Cell<f64>,
    rate_samples: RefCell<VecDeque<(f64, u64)>>,
    paused: Cell<bool>,
    queue: RefCell<PauseQueue>,
    alerts: RefCell<Alerts>,
    rules: Cell<Rules>,
    hidden_channels: RefCell<Vec<String>>,
    notify: Cell<bool>,
    /// Why the current connection should be dropped and resumed, if it should.
    reconnect: RefCell<Option<String>>,
    token_version: Cell<u32>,
}

impl Store {
    /// A store with a fresh session, publishing into new signals.
    pub fn new(url: String) -> Rc<Self> {
        let signals = Signals {
            view: RwSignal::new(View::default()),
            conn: RwSignal::new(ConnInfo {
                url,
                ..ConnInfo::default()
            }),
            progress: RwSignal::new(Progress::default()),
            rate: RwSignal::new(0.0),
            now_ms: RwSignal::new(now_ms()),
            paused: RwSignal::new(false),
            queued: RwSignal::new(0),
            alerts: RwSignal::new(AlertsView::default()),
        };
        Rc::new(Store {
            session: RefCell::new(Session::with_encoding(if crate::feed::wants_bin1() {
                Encoding::Bin1
            } else {
                Encoding::Json
            })),
            signals,
            publish_scheduled: Cell::new(false),
            next_publish_ms: Cell::new(0.0),
            rate_samples: RefCell::new(VecDeque::with_capacity(RATE_SAMPLES + 1)),
            paused: Cell::new(false),
            queue: RefCell::new(PauseQueue::default()),
            alerts: RefCell::new(Alerts::new()),
            rules: Cell::new(Rules::default()),
            hidden_channels: RefCell::new(Vec::new()),
            notify: Cell::new(false),
            reconnect: RefCell::new(None),
            token_version: Cell::new(0),
        })
    }

    /// Applies one text frame now (or queues it while paused); the view
    /// follows on the next animation frame.
    pub fn on_text(self: &Rc<Self>, text: &str) -> Outcome {
        if self.paused.get() {
            if let Ok(frame) = ServerFrame::parse(text) {
                if matches!(
                    frame,
                    ServerFrame::Events { .. }
                        | ServerFrame::Snapshot { .. }
                        | ServerFrame::Gap { .. }
                ) {
                    let applied = self.session.borrow().resume_point();
                    let mut q = self.queue.borrow_mut();
                    q.push(frame, applied.as_ref());
                    set_if_changed(self.signals.queued, q.events());
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
                let mut q = self.queue.borrow_mut();
                q.push_snap1(bytes.to_vec(), epoch, seq);
                set_if_changed(self.signals.queued, q.events());
                return Outcome::Continue;
            }
            if let Some(frame) = bin1_as_json_frame(bytes) {
                let applied = self.session.borrow().resume_point();
                let mut q = self.queue.borrow_mut();
                q.push(frame, applied.as_ref());
                set_if_changed(self.signals.queued, q.events());
                return Outcome::Continue;
            }
        }
        let outcome = self.session.borrow_mut().on_binary(bytes, now_ms());
        self.schedule_publish();
        outcome
    }

    /// The `hello` for a new connection (with the resume point, if any;
    /// while paused, after what is queued).
    pub fn hello_frame(&self) -> String {
        if let Some(r) = self.queue.borrow().resume_point() {
            return self.session.borrow().hello_at(Some(r.clone()));
        }
        self.session.borrow().hello_frame()
    }

    /// Pauses (frames queue, the view freezes) or resumes (the queue
    /// applies in order, then the view follows).
    pub fn set_paused(self: &Rc<Self>, paused: bool) {
        if self.paused.replace(paused) == paused {
            return;
        }
        self.signals.paused.set(paused);
        if paused {
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
        set_if_changed(self.signals.queued, 0);
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
        self.signals.conn.with_untracked(|c| c.url.clone())
    }

    /// Applies the operator's settings: engine thresholds and SLA (kept
    /// across snapshots), alert rules, hidden channels, notifications, and
    /// the feed URL (`url`, already resolved; a change reconnects).
    pub fn apply_settings(self: &Rc<Self>, s: &Settings, url: String) {
        let engine_settings = s.clone();
        self.session
            .borrow_mut()
            .set_local_config(Some(Box::new(move |c| engine_settings.apply_to(c))));
        self.rules.set(Rules {
            fail_rate: s.alert_fail_pct as f64 / 100.0,
            lag_ms: s.alert_lag_ms as f64,
            per_minute: usize::try_from(s.alerts_per_min).unwrap_or(10),
        });
        self.hidden_channels.replace(s.hidden_channels.clone());
        self.notify.set(s.notify);
        if self.url() != url {
            self.signals.conn.update(|c| c.url = url);
            self.request_reconnect("feed URL changed".to_owned());
        }
        self.refresh_alerts();
        self.schedule_publish();
    }

    /// Re-reads the alert conditions from the published view (after a
    /// settings change).
    fn refresh_alerts(&self) {
        let raised = self.signals.view.with_untracked(|v| self.update_alerts(v));
        self.notify_rows(&raised);
    }

    fn update_alerts(&self, view: &View) -> Vec<AlertRow> {
        let hidden = self.hidden_channels.borrow();
        let shows = |c: &str| !hidden.iter().any(|h| h == c);
        let rules = self.rules.get();
        let mut alerts = self.alerts.borrow_mut();
        let raised = alerts.update(view, &rules, &shows, now_ms());
        set_if_changed(self.signals.alerts, alerts.view(&rules));
        raised
    }

    /// Acknowledges one alert (`None`: all).
    pub fn ack(&self, id: Option<u64>) {
        let mut alerts = self.alerts.borrow_mut();
        match id {
            Some(id) => alerts.ack(id),
            None => alerts.ack_all(),
        }
        set_if_changed(self.signals.alerts, alerts.view(&self.rules.get()));
    }

    /// Drops cleared alerts.
    pub fn clear_resolved_alerts(&self) {
        let mut alerts = self.alerts.borrow_mut();
        alerts.clear_resolved();
        set_if_changed(self.signals.alerts, alerts.view(&self.rules.get()));
    }

    /// Browser notifications for newly raised alerts, when enabled and
    /// permitted.
    fn notify_rows(&self, rows: &[AlertRow]) {
        if self.notify.get() && !rows.is_empty() {
            #[cfg(target_arch = "wasm32")]
            crate::notify::show(rows);
        }
    }

    /// Sets the viewer token sent in the next hello.
    pub fn set_token(&self, token: Option<String>) {
        self.session.borrow_mut().token = token
            .filter(|t| !t.trim().is_empty())
            .map(|t| shoppulse_core::frame::Token::new(t.trim()));
        self.token_version
            .set(self.token_version.get().wrapping_add(1));
    }

    /// Bumped by every [`Store::set_token`] (the feed waits for it after a
    /// refusal).
    pub fn token_version(&self) -> u32 {
        self.token_version.get()
    }

    /// Changes the connection state shown.
    pub fn set_state(&self, state: ConnState) {
        if self.signals.conn.with_untracked(|c| c.state != state) {
            self.signals.conn.update(|c| c.state = state);
        }
    }

    /// The connection state shown.
    pub fn state(&self) -> ConnState {
        self.signals.conn.with_untracked(|c| c.state)
    }

    /// Records why a connection ended.
    pub fn note_disconnect(&self, reason: String) {
        self.signals.conn.update(|c| {
            c.disconnects += 1;
            c.last_disconnect = Some(reason);
        });
    }

    /// Schedules one publish on an animation frame (coalesced), no sooner
    /// than the render budget allows (see [`PUBLISH_DUTY`]).
    fn schedule_publish(self: &Rc<Self>) {
        if self.publish_scheduled.replace(true) {
            return;
        }
        let store = Rc::clone(self);
        let wait_ms = self.next_publish_ms.get() - now_f64();
        if wait_ms > 1.0 {
            // reason: wait_ms is in (1, PUBLISH_MAX_GAP_MS]
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let wait = std::time::Duration::from_millis(wait_ms as u64);
            set_timeout(
                move || request_animation_frame(move || store.publish()),
                wait,
            );
        } else {
            request_animation_frame(move || store.publish());
        }
    }

    /// Builds the view (only if something changed) and sets the signals.
    fn publish(self: &Rc<Self>) {
        self.publish_scheduled.set(false);
        // The render cost: from here to the first task after this one (the
        // views update in microtasks of this task), which sets the earliest
        // next publish.
        let started = now_f64();
        let store = Rc::clone(self);
        set_timeout(
            move || {
                let cost = now_f64() - started;
                let gap = if cost <= PUBLISH_FRAME_BUDGET_MS {
                    0.0
                } else {
                    (cost * (1.0 - PUBLISH_DUTY) / PUBLISH_DUTY).min(PUBLISH_MAX_GAP_MS)
                };
                store.next_publish_ms.set(started + cost + gap);
            },
            std::time::Duration::ZERO,
        );
        let (view, progress, conn_facts) = {
            let mut s = self.session.borrow_mut();
            if !s.take_changed() {
                return;
            }
            let progress = Progress {
                epoch: s.epoch.clone(),
                last_seq: s.last_seq,
                head_seq: s.head_seq,
                applied_here: s.applied_here,
            };
            let facts = (
                s.server.clone(),
                s.last_error.clone(),
                s.protocol_errors,
                s.gaps,
                s.last_gap.clone(),
            );
            (s.engine.view(), progress, facts)
        };
        let raised = self.update_alerts(&view);
        self.notify_rows(&raised);
        set_if_changed(self.signals.progress, progress);
        let (server, last_error, protocol_errors, gaps, last_gap) = conn_facts;
        let conn = self.signals.conn;
        let differs = conn.with_untracked(|c| {
            c.server != server
                || c.last_error != last_error
                || c.protocol_errors != protocol_errors
                || c.gaps != gaps
                || c.last_gap != last_gap
        });
        if differs {
            conn.update(|c| {
                c.server = server;
                c.last_error = last_error;
                c.protocol_errors = protocol_errors;
                c.gaps = gaps;
                c.last_gap = last_gap;
            });
        }
        set_if_changed(self.signals.view, view);
    }

    /// Once a second: the wall clock and the events/s figure.
    pub fn tick(&self) {
        let now = now_ms();
        self.signals.now_ms.set(now);
        let applied = self.session.borrow().applied_here;
        let mut samples = self.rate_samples.borrow_mut();
        samples.push_back((now as f64, applied));
        while samples.len() > RATE_SAMPLES {
            samples.pop_front();
        }
        let rate = match (samples.front(), samples.back()) {
            (Some(&(t0, a0)), Some(&(t1, a1))) if t1 > t0 => {
                (a1.saturating_sub(a0)) as f64 * 1000.0 / (t1 - t0)
            }
            _ => 0.0,
        };
        set_if_changed(self.signals.rate, rate);
    }
}

/// Monotonic clock for scheduling, ms (`performance.now()` in the browser).
pub fn now_f64() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or_else(js_sys::Date::now, |p| p.now())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        now_ms() as f64
    }
}

/// Wall clock, epoch ms.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        // reason: Date.now() is an integral number of ms well inside i64
        #[allow(clippy::cast_possible_truncation)]
        let ms = js_sys::Date::now() as i64;
        ms
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A `Copy` handle on the store for views that read the engine directly
/// (the per-user recommendation lookup). Read-only by convention.
#[derive(Clone, Copy, Debug)]
pub struct StoreHandle(pub StoredValue<Rc<Store>, LocalStorage>);

impl StoreHandle {
    /// Wraps `store` for use in reactive closures.
    pub fn new(store: &Rc<Store>) -> Self {
        StoreHandle(StoredValue::new_local(Rc::clone(store)))
    }

    /// Reads the engine.
    pub fn with_engine<R>(self, f: impl FnOnce(&shoppulse_core::Engine) -> R) -> Option<R> {
        self.with_session(|s| f(&s.engine))
    }

    /// Reads the session (engine and the order notes).
    pub fn with_session<R>(self, f: impl FnOnce(&Session) -> R) -> Option<R> {
        self.0
            .try_with_value(|store| store.session.try_borrow().ok().map(|s| f(&s)))
            .flatten()
    }

    /// The store itself (for the controls: pause, settings).
    pub fn store(self) -> Option<Rc<Store>> {
        self.0.try_with_value(Rc::clone)
    }

    /// Pauses or resumes the live view.
    pub fn set_paused(self, paused: bool) {
        if let Some(s) = self.store() {
            s.set_paused(paused);
        }
    }

    /// Acknowledges one alert (`None`: all).
    pub fn ack(self, id: Option<u64>) {
        if let Some(s) = self.store() {
            s.ack(id);
        }
    }

    /// Drops cleared alerts.
    pub fn clear_resolved_alerts(self) {
        if let Some(s) = self.store() {
            s.clear_resolved_alerts();
        }
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
