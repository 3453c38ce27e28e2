//! Application state: the non-reactive engine and the reactive snapshots the
//! views read.
//!
//! Data flows one way: [`crate::feed`] hands each text frame to
//! [`Store::on_text`], which applies it to the [`Session`] (engine included)
//! at once and schedules one publish on the next animation frame. The publish
//! builds ONE [`View`] (only when something changed) and sets it into
//! [`Signals::view`]; [`Sections`] splits it with memos so a section that did
//! not change does not re-render. Views only read.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use shoppulse_core::view::{
    BehaviorView, HealthView, InventoryView, RecsView, SalesView, SyncView, View,
};

use crate::session::{Outcome, ServerInfo, Session};

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

/// The engine and its bookkeeping (non-reactive), plus the signals it feeds.
#[derive(Debug)]
pub struct Store {
    /// Protocol state and engine. Borrowed briefly; never across an await.
    pub session: RefCell<Session>,
    /// The reactive outputs.
    pub signals: Signals,
    publish_scheduled: Cell<bool>,
    rate_samples: RefCell<VecDeque<(f64, u64)>>,
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
        };
        Rc::new(Store {
            session: RefCell::new(Session::new()),
            signals,
            publish_scheduled: Cell::new(false),
            rate_samples: RefCell::new(VecDeque::with_capacity(RATE_SAMPLES + 1)),
        })
    }

    /// Applies one text frame now; the view follows on the next animation frame.
    pub fn on_text(self: &Rc<Self>, text: &str) -> Outcome {
        let outcome = self.session.borrow_mut().on_text(text, now_ms());
        self.schedule_publish();
        outcome
    }

    /// The `hello` for a new connection (with the resume point, if any).
    pub fn hello_frame(&self) -> String {
        self.session.borrow().hello_frame()
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

    /// Schedules one publish on the next animation frame (coalesced).
    fn schedule_publish(self: &Rc<Self>) {
        if self.publish_scheduled.replace(true) {
            return;
        }
        let store = Rc::clone(self);
        request_animation_frame(move || store.publish());
    }

    /// Builds the view (only if something changed) and sets the signals.
    fn publish(&self) {
        self.publish_scheduled.set(false);
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
        self.0
            .try_with_value(|store| store.session.try_borrow().ok().map(|s| f(&s.engine)))
            .flatten()
    }
}
