//! The page's state: the reactive signals the views read, the alerts, and
//! the link to the engine host.
//!
//! Data flows one way: the engine host ([`crate::host::Host`], in a Web
//! Worker or on this thread, see [`crate::link`]) applies the socket's
//! frames and publishes what changed, at most once per animation frame;
//! [`Store::apply`] sets it into [`Signals`] and derives the alerts; the
//! view goes into [`Sections`], one signal per section, set only when that
//! section changed: all together while the page keeps up, one group of
//! sections per animation frame, in turn, while it drops frames
//! ([`crate::stagger`]); a panel out of view only about once a second
//! ([`Panel`]). Views only read;
//! the page's intentions (pause, settings, token, what a drill-down looks
//! at) go to the host as [`Cmd`]s.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use shoppulse_core::view::{
    BehaviorView, HealthView, InventoryView, RecsView, SalesView, SyncView, View,
};

use crate::alerts::{AlertRow, Alerts, AlertsView, Rules};
use crate::host::Host;
use crate::link::{Answer, Cmd, Extras, Interest, Published, Start};
use crate::session::ServerInfo;
use crate::settings::Settings;
use crate::stagger::{frames_per_view, CatchUp, CatchUpStep, Stagger, GROUPS};

/// Connection state shown in the feed-health strip.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
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
    /// Viewer tokens the gateway refused so far (each one is forgotten).
    pub refusals: u32,
}

/// Stream position, published with each view.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
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

impl Progress {
    /// Events the gateway has that this page has not applied yet.
    pub fn behind(&self) -> u64 {
        self.head_seq.saturating_sub(self.last_seq)
    }
}

/// The reactive handles (all `Copy`), provided as context.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
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
    /// The host's answers to what the page looks at (lookup, drill-down).
    pub extras: RwSignal<Extras>,
    /// Where the operators run: `"worker"` or `"main"` (shown in the
    /// health strip's details, read by the tests).
    pub host: RwSignal<&'static str>,
    /// Wasm memory of the engine host when it is a worker, bytes.
    pub host_memory_bytes: RwSignal<u64>,
    /// The sections are drawn in turn (a frame was late recently, see
    /// [`crate::stagger`]); the strip's `data-drawing`.
    pub in_turn: RwSignal<bool>,
}

/// The view, one signal per section: a section re-renders only when its
/// part of the view changed (the sections derive `PartialEq`). The store
/// sets them in [`GROUPS`] groups, together or in turn
/// ([`crate::stagger`]).
#[derive(Clone, Copy, Debug)]
pub struct Sections {
    /// Feed health.
    pub health: RwSignal<HealthView>,
    /// Behaviour.
    pub behavior: RwSignal<BehaviorView>,
    /// Inventory.
    pub inventory: RwSignal<InventoryView>,
    /// Recommendations.
    pub recs: RwSignal<RecsView>,
    /// Sales.
    pub sales: RwSignal<SalesView>,
    /// Order sync.
    pub sync: RwSignal<SyncView>,
}

impl Sections {
    fn new() -> Self {
        Sections {
            health: RwSignal::new(HealthView::default()),
            behavior: RwSignal::new(BehaviorView::default()),
            inventory: RwSignal::new(InventoryView::default()),
            recs: RwSignal::new(RecsView::default()),
            sales: RwSignal::new(SalesView::default()),
            sync: RwSignal::new(SyncView::default()),
        }
    }

    /// Per group: whether its sections already show `view`, a panel out of
    /// view (`!on(panel)`) counting as shown. The groups split the drawing
    /// cost about evenly (measured per panel, see docs/PERFORMANCE.md,
    /// *Staggered drawing*): 0 the strip, behaviour and sales; 1 inventory;
    /// 2 recommendations and sync ([`Panel::group`]).
    fn shows(&self, view: &View, on: &dyn Fn(Panel) -> bool) -> [bool; GROUPS] {
        let mut out = [true; GROUPS];
        out[0] = shows(self.health, &view.health);
        for p in Panel::ALL {
            out[p.group()] &= !on(p) || self.shows_panel(p, view);
        }
        out
    }

    /// Sets group `g`'s sections from `view`: the strip always, a panel
    /// only while `on(panel)`.
    fn draw(&self, g: usize, view: &View, on: &dyn Fn(Panel) -> bool) {
        if g == 0 {
            set_from(self.health, &view.health);
        }
        for p in Panel::ALL {
            if p.group() == g && on(p) {
                self.draw_panel(p, view);
            }
        }
    }

    /// Whether panel `p`'s section holds `view`'s.
    fn shows_panel(&self, p: Panel, view: &View) -> bool {
        match p {
            Panel::Behavior => shows(self.behavior, &view.behavior),
            Panel::Inventory => shows(self.inventory, &view.inventory),
            Panel::Recs => shows(self.recs, &view.recs),
            Panel::Sales => shows(self.sales, &view.sales),
            Panel::Sync => shows(self.sync, &view.sync),
        }
    }

    /// Sets panel `p`'s section from `view` (nothing when it holds it).
    fn draw_panel(&self, p: Panel, view: &View) {
        match p {
            Panel::Behavior => set_from(self.behavior, &view.behavior),
            Panel::Inventory => set_from(self.inventory, &view.inventory),
            Panel::Recs => set_from(self.recs, &view.recs),
            Panel::Sales => set_from(self.sales, &view.sales),
            Panel::Sync => set_from(self.sync, &view.sync),
        }
    }
}

/// The panels, which are drawn with every view only while on screen
/// ([`Store::set_on_screen`]); out of view a panel catches up every
/// [`OFF_SCREEN_MS`], and at once when it comes into view. The strip is
/// always drawn. The discriminant is the panel's place in [`Panel::ALL`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Panel {
    /// Behaviour.
    Behavior,
    /// Inventory.
    Inventory,
    /// Recommendations.
    Recs,
    /// Sales.
    Sales,
    /// Order sync.
    Sync,
}

impl Panel {
    /// Every panel, in page order.
    pub const ALL: [Panel; 5] = [
        Panel::Behavior,
        Panel::Inventory,
        Panel::Recs,
        Panel::Sales,
        Panel::Sync,
    ];

    /// The `data-testid` of the panel's `<section>`.
    pub fn testid(self) -> &'static str {
        match self {
            Panel::Behavior => "behavior",
            Panel::Inventory => "inventory",
            Panel::Recs => "recommendations",
            Panel::Sales => "sales",
            Panel::Sync => "sync",
        }
    }

    /// The group the panel is drawn in ([`crate::stagger`]).
    fn group(self) -> usize {
        match self {
            Panel::Behavior | Panel::Sales => 0,
            Panel::Inventory => 1,
            Panel::Recs | Panel::Sync => 2,
        }
    }
}

/// A panel out of view is drawn at most this often, ms (and at once when it
/// comes into view): what is not on screen costs no style, layout or paint
/// per frame, and its text (for find-in-page, assistive technology and
/// tests) is never more than about a second old.
pub const OFF_SCREEN_MS: u64 = 1000;

/// `sig` holds `value`.
fn shows<T: PartialEq + Send + Sync + 'static>(sig: RwSignal<T>, value: &T) -> bool {
    sig.with_untracked(|x| x == value)
}

/// Sets `sig` to a copy of `value` unless it already holds it.
fn set_from<T: Clone + PartialEq + Send + Sync + 'static>(sig: RwSignal<T>, value: &T) {
    if !shows(sig, value) {
        sig.set(value.clone());
    }
}

/// Sets `sig` only when `value` differs, so nothing downstream wakes for nothing.
pub fn set_if_changed<T: PartialEq + Send + Sync + 'static>(sig: RwSignal<T>, value: T) {
    if !shows(sig, &value) {
        sig.set(value);
    }
}

/// Runs `f` in the `n`-th animation frame from now (`n` >= 1).
fn after_frames(n: u32, f: impl FnOnce() + 'static) {
    if n <= 1 {
        request_animation_frame(f);
    } else {
        request_animation_frame(move || after_frames(n - 1, f));
    }
}

/// Calls `f` with the time of the next animation frame (ms, the frame's
/// start on the `performance.now()` clock). Natively nothing renders: never.
fn on_next_frame(f: impl FnOnce(f64) + 'static) {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let cb = wasm_bindgen::closure::Closure::once_into_js(f);
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(cb.unchecked_ref());
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    drop(f);
}

/// The animation frames are watched until this long after the last
/// published view, ms.
const WATCH_MS: f64 = 2000.0;

/// Wall-clock samples kept for the events/s figure (one per second).
const RATE_SAMPLES: usize = 6;

/// How far beyond the viewport a panel counts as on screen: a panel
/// scrolled into view is already drawn.
#[cfg(target_arch = "wasm32")]
const PANEL_MARGIN: &str = "200px 0px";

/// The intersection observer of the page's panels and its callback.
#[cfg(target_arch = "wasm32")]
struct PanelWatch {
    observer: web_sys::IntersectionObserver,
    _callback: wasm_bindgen::closure::Closure<dyn Fn(js_sys::Array)>,
}

/// Where the engine host runs.
enum Link {
    /// On this thread (`?worker=0`, or no worker could start).
    Local(Rc<Host>),
    /// In a dedicated worker.
    #[cfg(target_arch = "wasm32")]
    Worker(web_sys::Worker),
}

/// The page's state (see the module note).
pub struct Store {
    /// The reactive outputs.
    pub signals: Signals,
    /// The view, by section (drawn together or in turn).
    pub sections: Sections,
    /// The latest published view (the sections catch up with it).
    latest: RefCell<View>,
    /// The latest published stream position (its `last_seq` is shown once
    /// every group shows it).
    published: RefCell<Progress>,
    /// Which group of sections to draw next.
    stagger: RefCell<Stagger>,
    /// A draw is scheduled on the next animation frame.
    draw_scheduled: Cell<bool>,
    /// The animation frames are being watched.
    watching: Cell<bool>,
    /// Per panel ([`Panel::ALL`] order): on screen (or near it), as the
    /// page's intersection observer last said; all until it says.
    on_screen: Cell<[bool; 5]>,
    /// The catch-up of the panels out of view.
    catch_up: RefCell<CatchUp<Panel>>,
    /// The observer of the panels (replaced when the page is rebuilt).
    #[cfg(target_arch = "wasm32")]
    panel_watch: RefCell<Option<PanelWatch>>,
    /// When the last view was published (`now_f64`, ms).
    last_view_ms: Cell<f64>,
    link: RefCell<Option<Link>>,
    /// How the host was started (kept to start a local one if the worker
    /// fails).
    start: Start,
    /// The latest commands that set the host's state, replayed to a local
    /// host if the worker fails.
    settings_cmd: RefCell<Option<Cmd>>,
    token_cmd: RefCell<Option<Cmd>>,
    interest: RefCell<Interest>,
    rate_samples: RefCell<VecDeque<(f64, u64)>>,
    alerts: RefCell<Alerts>,
    rules: Cell<Rules>,
    hidden_channels: RefCell<Vec<String>>,
    notify: Cell<bool>,
    /// Pending answers of the benchmark hook: `(request, resolve)`.
    #[cfg(target_arch = "wasm32")]
    pending: RefCell<Vec<(u32, js_sys::Function)>>,
    #[cfg(target_arch = "wasm32")]
    next_request: Cell<u32>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store whose engine host starts from `start`: in a worker when
    /// `worker` and the page can start one, else on this thread.
    pub fn new(start: Start, worker: bool) -> Rc<Self> {
        let signals = Signals {
            conn: RwSignal::new(ConnInfo {
                url: start.url.clone(),
                ..ConnInfo::default()
            }),
            progress: RwSignal::new(Progress::default()),
            rate: RwSignal::new(0.0),
            now_ms: RwSignal::new(now_ms()),
            paused: RwSignal::new(false),
            queued: RwSignal::new(0),
            alerts: RwSignal::new(AlertsView::default()),
            extras: RwSignal::new(Extras::default()),
            host: RwSignal::new("main"),
            host_memory_bytes: RwSignal::new(0),
            in_turn: RwSignal::new(false),
        };
        let store = Rc::new(Store {
            signals,
            sections: Sections::new(),
            latest: RefCell::new(View::default()),
            published: RefCell::new(Progress::default()),
            stagger: RefCell::new(Stagger::default()),
            draw_scheduled: Cell::new(false),
            watching: Cell::new(false),
            on_screen: Cell::new([true; 5]),
            catch_up: RefCell::new(CatchUp::default()),
            #[cfg(target_arch = "wasm32")]
            panel_watch: RefCell::new(None),
            last_view_ms: Cell::new(0.0),
            link: RefCell::new(None),
            start,
            settings_cmd: RefCell::new(None),
            token_cmd: RefCell::new(None),
            interest: RefCell::new(Interest::default()),
            rate_samples: RefCell::new(VecDeque::with_capacity(RATE_SAMPLES + 1)),
            alerts: RefCell::new(Alerts::new()),
            rules: Cell::new(Rules::default()),
            hidden_channels: RefCell::new(Vec::new()),
            notify: Cell::new(false),
            #[cfg(target_arch = "wasm32")]
            pending: RefCell::new(Vec::new()),
            #[cfg(target_arch = "wasm32")]
            next_request: Cell::new(0),
        });
        #[cfg(target_arch = "wasm32")]
        if worker {
            if let Some(w) = crate::worker::spawn(&store) {
                store.link.replace(Some(Link::Worker(w)));
                store.signals.host.set("worker");
                store.send(Cmd::Start(store.start.clone()));
                return store;
            }
        }
        let _ = worker;
        store.start_local(None);
        store
    }

    /// Starts the engine host on this thread (and its feed), replaying the
    /// latest settings, token and interest.
    pub fn start_local(self: &Rc<Self>, note: Option<String>) {
        let page = Rc::downgrade(self);
        let host = Host::new(
            Start {
                note,
                ..self.start.clone()
            },
            Box::new(move |a| {
                if let Some(p) = page.upgrade() {
                    p.on_answer(a);
                }
            }),
        );
        self.link.replace(Some(Link::Local(Rc::clone(&host))));
        self.signals.host.set("main");
        for cmd in [
            self.settings_cmd.borrow().clone(),
            self.token_cmd.borrow().clone(),
        ]
        .into_iter()
        .flatten()
        {
            host.handle(cmd);
        }
        host.handle(Cmd::Interest(self.interest.borrow().clone()));
        if self.signals.paused.get_untracked() {
            host.handle(Cmd::Pause(true));
        }
        #[cfg(target_arch = "wasm32")]
        leptos::task::spawn_local(crate::feed::run(host));
    }

    /// Sends `cmd` to the engine host.
    fn send(&self, cmd: Cmd) {
        let link = self.link.borrow();
        match &*link {
            Some(Link::Local(h)) => {
                let h = Rc::clone(h);
                drop(link);
                h.handle(cmd);
            }
            #[cfg(target_arch = "wasm32")]
            Some(Link::Worker(w)) => crate::worker::post(w, &crate::link::encode(&cmd)),
            None => {}
        }
    }

    /// The engine host's worker failed (`why`): the host starts again on
    /// this thread, from a snapshot.
    pub fn worker_failed(self: &Rc<Self>, why: &str) {
        if matches!(&*self.link.borrow(), Some(Link::Local(_))) {
            return;
        }
        #[cfg(target_arch = "wasm32")]
        if let Some(Link::Worker(w)) = self.link.borrow_mut().take() {
            w.terminate();
        }
        self.start_local(Some(format!(
            "worker failed, operators moved to the page: {why}"
        )));
    }

    /// Handles what the engine host sent.
    pub fn on_answer(self: &Rc<Self>, answer: Answer) {
        match answer {
            Answer::Publish(p) => {
                let worker = !matches!(&*self.link.borrow(), Some(Link::Local(_)));
                // The next publish may come once this one is drawn, and
                // under a busy feed a frame or two later (the cadence).
                let frames = if worker {
                    frames_per_view(self.signals.rate.get_untracked())
                } else {
                    1
                };
                self.stagger.borrow_mut().set_frames_per_view(frames);
                self.apply(*p);
                if worker {
                    let store = Rc::clone(self);
                    after_frames(frames, move || store.send(Cmd::Drawn));
                }
            }
            Answer::Aggregates(id, json) => {
                #[cfg(target_arch = "wasm32")]
                {
                    let mut pending = self.pending.borrow_mut();
                    if let Some(i) = pending.iter().position(|(r, _)| *r == id) {
                        let (_, resolve) = pending.swap_remove(i);
                        drop(pending);
                        let _ = resolve.call1(
                            &wasm_bindgen::JsValue::NULL,
                            &wasm_bindgen::JsValue::from_str(&json),
                        );
                    }
                }
                #[cfg(not(target_arch = "wasm32"))]
                let _ = (id, json);
            }
        }
    }

    /// Sets what changed into the signals and derives the alerts.
    pub fn apply(self: &Rc<Self>, p: Published) {
        if let Some(c) = p.conn {
            // Counted, not compared by state: a second refusal in a row may
            // come without any other state published in between.
            let refused = self
                .signals
                .conn
                .with_untracked(|o| o.refusals != c.refusals);
            if refused {
                // A refused token is forgotten at once.
                crate::access::forget();
            }
            set_if_changed(self.signals.conn, c);
        }
        if let Some(pr) = p.progress {
            self.published.replace(pr);
        }
        if let Some(q) = p.queued {
            set_if_changed(self.signals.queued, q);
        }
        if let Some(e) = p.extras {
            set_if_changed(self.signals.extras, e);
        }
        if let Some(m) = p.host_memory_bytes {
            set_if_changed(self.signals.host_memory_bytes, m);
        }
        if let Some(view) = p.view {
            let raised = self.update_alerts(&view);
            self.notify_rows(&raised);
            let shows = self.sections.shows(&view, &|p| self.on(p));
            let seq = self.published.borrow().last_seq;
            self.stagger.borrow_mut().published(seq, shows);
            self.latest.replace(view);
            self.watch_frames();
        }
        self.draw();
    }

    /// Watches the animation frames while views are published (a late one
    /// makes the sections be drawn in turn, see [`crate::stagger`]), until
    /// [`WATCH_MS`] pass without one.
    fn watch_frames(self: &Rc<Self>) {
        self.last_view_ms.set(now_f64());
        if !self.watching.replace(true) {
            let store = Rc::clone(self);
            on_next_frame(move |t| store.on_frame(t, true));
        }
    }

    /// An animation frame that began at `frame_ms` (its vsync time, not
    /// when this callback runs).
    fn on_frame(self: &Rc<Self>, frame_ms: f64, first: bool) {
        let in_turn = {
            let mut st = self.stagger.borrow_mut();
            st.frame(frame_ms, first);
            st.in_turn(frame_ms)
        };
        set_if_changed(self.signals.in_turn, in_turn);
        if now_f64() - self.last_view_ms.get() < WATCH_MS {
            let store = Rc::clone(self);
            on_next_frame(move |t| store.on_frame(t, false));
        } else {
            self.watching.set(false);
        }
    }

    /// Draws the groups of sections that wait (see [`Stagger::take`]): all
    /// of them while the page keeps up, else the next one if a frame has passed
    /// since the last one, and shows the stream position on screen; asks
    /// for an animation frame while groups wait.
    fn draw(self: &Rc<Self>) {
        let drawn = self.stagger.borrow_mut().take(now_f64());
        for g in drawn {
            self.sections
                .draw(g, &self.latest.borrow(), &|p| self.on(p));
        }
        self.catch_up_later();
        let shown = Progress {
            last_seq: self.stagger.borrow().shown_seq(),
            ..self.published.borrow().clone()
        };
        set_if_changed(self.signals.progress, shown);
        if self.stagger.borrow().waiting() && !self.draw_scheduled.replace(true) {
            let store = Rc::clone(self);
            request_animation_frame(move || {
                store.draw_scheduled.set(false);
                store.draw();
            });
        }
    }

    /// Whether panel `p` is drawn with every view: on screen, or read by
    /// the open drill-down (a product's reads behaviour, a sync cell's the
    /// sync panel).
    fn on(&self, p: Panel) -> bool {
        self.on_screen.get()[p as usize]
            || (self.interest.borrow().drill.is_some()
                && matches!(p, Panel::Behavior | Panel::Sync))
    }

    /// The page's observer says whether panel `p` is on screen (or near
    /// it); a panel coming into view is drawn with the latest view at once.
    pub fn set_on_screen(&self, p: Panel, on: bool) {
        let mut all = self.on_screen.get();
        all[p as usize] = on;
        self.on_screen.set(all);
        if on {
            self.sections.draw_panel(p, &self.latest.borrow());
        }
    }

    /// The panels out of view that do not show the latest view.
    fn behind(&self) -> Vec<Panel> {
        let latest = self.latest.borrow();
        Panel::ALL
            .into_iter()
            .filter(|&p| !self.on(p) && !self.sections.shows_panel(p, &latest))
            .collect()
    }

    /// Schedules a catch-up of the panels out of view in [`OFF_SCREEN_MS`]
    /// if one shows an older view than the latest ([`CatchUp`]).
    fn catch_up_later(self: &Rc<Self>) {
        if self.catch_up.borrow_mut().stale(|| self.behind()) {
            Rc::clone(self).catch_up_task(OFF_SCREEN_MS);
        }
    }

    /// In `wait_ms`, one task of a catch-up round ([`CatchUp::next`]).
    fn catch_up_task(self: Rc<Self>, wait_ms: u64) {
        set_timeout(
            move || {
                let step = self
                    .catch_up
                    .borrow_mut()
                    .next(|p| !self.on(p), || self.behind());
                match step {
                    CatchUpStep::Draw(p) => {
                        crate::views::widgets::timed(&format_args!("catch-up of {p:?}"), || {
                            self.sections.draw_panel(p, &self.latest.borrow());
                        });
                        self.catch_up_task(0);
                    }
                    CatchUpStep::Again => self.catch_up_task(OFF_SCREEN_MS),
                    CatchUpStep::Done => {}
                }
            },
            std::time::Duration::from_millis(wait_ms),
        );
    }

    /// Watches which panels of the page under `main` are on screen (an
    /// intersection observer, with a margin so that a panel scrolled into
    /// view is already drawn); replaces the watch of a previous page.
    #[cfg(target_arch = "wasm32")]
    pub fn watch_panels(self: &Rc<Self>, main: &web_sys::Element) {
        use wasm_bindgen::JsCast;
        if let Some(old) = self.panel_watch.take() {
            old.observer.disconnect();
        }
        self.on_screen.set([true; 5]);
        let weak = Rc::downgrade(self);
        let callback = wasm_bindgen::closure::Closure::<dyn Fn(js_sys::Array)>::new(
            move |entries: js_sys::Array| {
                let Some(store) = weak.upgrade() else {
                    return;
                };
                for e in entries.iter() {
                    let e: web_sys::IntersectionObserverEntry = e.unchecked_into();
                    let id = e.target().get_attribute("data-testid");
                    if let Some(p) = Panel::ALL
                        .into_iter()
                        .find(|p| id.as_deref() == Some(p.testid()))
                    {
                        store.set_on_screen(p, e.is_intersecting());
                    }
                }
            },
        );
        let options = web_sys::IntersectionObserverInit::new();
        options.set_root_margin(PANEL_MARGIN);
        let Ok(observer) = web_sys::IntersectionObserver::new_with_options(
            callback.as_ref().unchecked_ref(),
            &options,
        ) else {
            return; // no observer: every panel stays drawn with every view
        };
        for p in Panel::ALL {
            if let Ok(Some(e)) = main.query_selector(&format!("[data-testid=\"{}\"]", p.testid())) {
                observer.observe(&e);
            }
        }
        self.panel_watch.replace(Some(PanelWatch {
            observer,
            _callback: callback,
        }));
    }

    /// The feed URL in use.
    pub fn url(&self) -> String {
        self.signals.conn.with_untracked(|c| c.url.clone())
    }

    /// Pauses (frames queue, the view freezes) or resumes.
    pub fn set_paused(&self, paused: bool) {
        set_if_changed(self.signals.paused, paused);
        self.send(Cmd::Pause(paused));
    }

    /// Tells the host what the page looks at (sent only when it changed).
    pub fn set_interest(&self, interest: Interest) {
        if *self.interest.borrow() != interest {
            self.interest.replace(interest.clone());
            self.send(Cmd::Interest(interest));
        }
    }

    /// Applies the operator's settings: engine thresholds and SLA and the
    /// feed URL (`url`, already resolved; a change reconnects) in the host;
    /// alert rules, hidden channels and notifications here.
    pub fn apply_settings(&self, s: &Settings, url: String) {
        let cmd = Cmd::Settings(s.engine(), url);
        self.settings_cmd.replace(Some(cmd.clone()));
        self.send(cmd);
        self.rules.set(Rules {
            fail_rate: s.alert_fail_pct as f64 / 100.0,
            lag_ms: s.alert_lag_ms as f64,
            per_minute: usize::try_from(s.alerts_per_min).unwrap_or(10),
        });
        self.hidden_channels.replace(s.hidden_channels.clone());
        self.notify.set(s.notify);
        self.refresh_alerts();
    }

    /// Sets the viewer token sent in the next hello.
    pub fn set_token(&self, token: Option<String>) {
        let cmd = Cmd::Token(token);
        self.token_cmd.replace(Some(cmd.clone()));
        self.send(cmd);
    }

    /// The benchmark hook: asks the host for the aggregates (with the stock
    /// of `products_json`); `resolve` gets the JSON answer.
    #[cfg(target_arch = "wasm32")]
    pub fn aggregates(&self, products_json: String, resolve: js_sys::Function) {
        let id = self.next_request.get().wrapping_add(1);
        self.next_request.set(id);
        self.pending.borrow_mut().push((id, resolve));
        self.send(Cmd::Aggregates(id, products_json));
    }

    /// Re-reads the alert conditions from the published view (after a
    /// settings change).
    fn refresh_alerts(&self) {
        let raised = self.update_alerts(&self.latest.borrow());
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

    /// Once a second: the wall clock and the events/s figure.
    pub fn tick(&self) {
        let now = now_ms();
        self.signals.now_ms.set(now);
        let applied = self.signals.progress.with_untracked(|p| p.applied_here);
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
        // `performance` of the window or of the worker running the host.
        use wasm_bindgen::JsCast;
        js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .ok()
            .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
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

/// A `Copy` handle on the store for the views' controls (pause, settings,
/// alerts); the views read only the signals.
#[derive(Clone, Copy, Debug)]
pub struct StoreHandle(pub StoredValue<Rc<Store>, LocalStorage>);

impl StoreHandle {
    /// Wraps `store` for use in reactive closures.
    pub fn new(store: &Rc<Store>) -> Self {
        StoreHandle(StoredValue::new_local(Rc::clone(store)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A view whose every section differs from the default.
    fn busy_view() -> View {
        let mut v = View::default();
        v.health.applied = 7;
        v.behavior.active_shoppers = 3;
        v.inventory.tracked = 99;
        v.recs.co_purchase.push(("1".into(), "2".into(), 1));
        v.sales.other_currency_orders = 1;
        v.sync.stuck_count = 1;
        v
    }

    #[test]
    fn a_panel_out_of_view_is_not_drawn_and_does_not_hold_its_group() {
        let s = Sections::new();
        let view = busy_view();
        let off = |p: Panel| p != Panel::Sales && p != Panel::Sync;
        for g in 0..GROUPS {
            s.draw(g, &view, &off);
        }
        assert!(s.shows_panel(Panel::Behavior, &view));
        assert!(!s.shows_panel(Panel::Sales, &view), "sales is out of view");
        assert!(!s.shows_panel(Panel::Sync, &view), "sync is out of view");
        assert_eq!(
            s.shows(&view, &off),
            [true; GROUPS],
            "what is on screen shows the view"
        );
        assert_eq!(s.shows(&view, &|_| true), [false, true, false]);
        // Coming into view: drawn.
        s.draw_panel(Panel::Sync, &view);
        assert!(s.shows_panel(Panel::Sync, &view));
    }

    #[test]
    fn every_panel_has_its_group_and_the_testid_of_its_section() {
        let ids: Vec<&str> = Panel::ALL.iter().map(|p| p.testid()).collect();
        assert_eq!(
            ids,
            ["behavior", "inventory", "recommendations", "sales", "sync"]
        );
        assert!(Panel::ALL.iter().all(|p| p.group() < GROUPS));
        assert!(Panel::ALL.iter().enumerate().all(|(i, p)| *p as usize == i));
    }
}
