//! The gateway socket: connect, greet (with a resume point), keep alive,
//! detect a dead link, reconnect with jittered exponential backoff.
//!
//! State machine shown in the health strip ([`ConnState`]):
//! `Connecting` -> (hello) `Live` -> (gap + snapshot) `Resynced` -> (15 s) `Live`;
//! any disconnect -> `Reconnecting { in_s }` counting down, or `Offline` when
//! the browser says it is offline or [`OFFLINE_AFTER`] attempts in a row
//! failed (still retrying) -> `Connecting` again. A refused viewer token ->
//! `Unauthorized`, no retry until the operator enters another token.
//!
//! It runs where the engine host runs (a Web Worker by default, see
//! [`crate::link`]). Frames are handed to [`Host::on_text`] (JSON) and
//! [`Host::on_binary`] (`bin1` events frames, asked for unless the page has
//! `?encoding=json`) as they arrive; nothing here touches the engine
//! directly.

use crate::host::Host;
use crate::state::ConnState;

/// Keep-alive interval, ms.
pub const HEARTBEAT_MS: i64 = 2_000;
/// Nothing received for this long: the connection is dead, ms.
pub const DEAD_AFTER_MS: i64 = 6_000;
/// Time allowed to open the socket, ms.
pub const CONNECT_TIMEOUT_MS: u32 = 10_000;
/// Shortest reconnect delay, ms.
pub const BACKOFF_MIN_MS: f64 = 500.0;
/// Delay before reconnecting when the protocol asks for a resume, ms.
pub const RESUME_DELAY_MS: u32 = 500;
/// Longest reconnect delay, ms.
pub const BACKOFF_MAX_MS: f64 = 10_000.0;
/// Failed attempts in a row after which the state shows `offline`.
pub const OFFLINE_AFTER: u32 = 5;
/// How long "gap — resynced" stays up before "live", ms.
pub const RESYNCED_SHOWN_MS: i64 = 15_000;
/// Longest wait between checks for a reconnect request (new feed URL,
/// resume after a pause), ms.
pub const POLL_MS: i64 = 500;

/// Reconnect delay after `failures` failed attempts in a row (0 for the
/// first retry): `0.5 s * 2^failures` capped at 10 s, with "equal jitter"
/// (`jitter` in `[0, 1)` picks between half and all of it), never under 0.5 s.
pub fn backoff_ms(failures: u32, jitter: f64) -> u32 {
    let base = (BACKOFF_MIN_MS * 2f64.powi(i32::try_from(failures.min(16)).unwrap_or(16)))
        .min(BACKOFF_MAX_MS);
    let ms = (base * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).clamp(BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    // reason: ms is clamped to [500, 10000]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = ms as u32;
    ms
}

/// The feed URL: `?feed=ws://host:port/ws` when given, else the one saved
/// in the settings, else the page origin's `/ws` with `ws:` or `wss:`
/// following the page scheme.
pub fn feed_url_for(
    search_feed: Option<String>,
    saved: &str,
    page_protocol: &str,
    page_host: &str,
) -> String {
    if let Some(url) = search_feed.filter(|u| !u.trim().is_empty()) {
        return url.trim().to_owned();
    }
    if !saved.trim().is_empty() {
        return saved.trim().to_owned();
    }
    let scheme = if page_protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    format!("{scheme}://{page_host}/ws")
}

/// The shops to watch from `?shops=north,south` (a gateway on a shared NATS
/// stream); `None` (every shop) when absent or empty.
pub fn shops_for(search_shops: Option<String>) -> Option<Vec<String>> {
    let list: Vec<String> = search_shops?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Whether to ask for `bin1` binary events frames: yes unless the page's
/// `?encoding=` says `json`.
pub fn bin1_for(query_encoding: Option<&str>) -> bool {
    !query_encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("json"))
}

#[cfg(target_arch = "wasm32")]
pub use browser::{feed_url, page_shops, run, wants_bin1};

/// Native builds: binary, as in the browser by default.
#[cfg(not(target_arch = "wasm32"))]
pub fn wants_bin1() -> bool {
    bin1_for(None)
}

/// Native builds have no socket; the dashboard only runs in the browser.
#[cfg(not(target_arch = "wasm32"))]
// reason: same signature as the browser version
#[allow(clippy::unused_async)]
pub async fn run(_host: std::rc::Rc<Host>) {}

#[cfg(not(target_arch = "wasm32"))]
/// Native builds: the default local gateway.
pub fn feed_url(saved: &str) -> String {
    feed_url_for(None, saved, "http:", "127.0.0.1:9001")
}

/// The state shown while waiting `in_s` more seconds before the next attempt.
pub fn waiting_state(offline: bool, failures: u32, in_s: u32) -> ConnState {
    if offline || failures >= OFFLINE_AFTER {
        ConnState::Offline { in_s }
    } else {
        ConnState::Reconnecting { in_s }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use std::rc::Rc;

    use futures::future::{select, Either};
    use futures::StreamExt;
    use gloo_timers::future::TimeoutFuture;

    use super::{
        backoff_ms, feed_url_for, shops_for, waiting_state, ConnState, Host, CONNECT_TIMEOUT_MS,
        DEAD_AFTER_MS, HEARTBEAT_MS, POLL_MS, RESYNCED_SHOWN_MS,
    };
    use crate::session::{Outcome, Session};
    use crate::socket::{Frames, Socket, SocketEvent};
    use crate::state::now_ms;

    /// The feed URL for this page (see [`super::feed_url_for`]).
    pub fn feed_url(saved: &str) -> String {
        let Some(window) = web_sys::window() else {
            return feed_url_for(None, saved, "http:", "127.0.0.1:9001");
        };
        let loc = window.location();
        let search_feed = loc
            .search()
            .ok()
            .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
            .and_then(|p| p.get("feed"));
        let protocol = loc.protocol().unwrap_or_else(|_| "http:".to_owned());
        let host = loc.host().unwrap_or_else(|_| "127.0.0.1:9001".to_owned());
        feed_url_for(search_feed, saved, &protocol, &host)
    }

    /// The page's `?shops=` (see [`super::shops_for`]).
    pub fn page_shops() -> Option<Vec<String>> {
        let search = web_sys::window()?.location().search().ok()?;
        shops_for(
            web_sys::UrlSearchParams::new_with_str(&search)
                .ok()?
                .get("shops"),
        )
    }

    /// Whether this page asks for `bin1` (see [`super::bin1_for`]).
    pub fn wants_bin1() -> bool {
        let encoding = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
            .and_then(|p| p.get("encoding"));
        super::bin1_for(encoding.as_deref())
    }

    /// `navigator.onLine` is false (of the window or of the worker).
    fn browser_offline() -> bool {
        js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"onLine".into()))
            .is_ok_and(|v| v.as_bool() == Some(false))
    }

    /// How one connection ended.
    #[derive(Default)]
    struct Ended {
        /// Readable reason.
        reason: String,
        /// The gateway greeted us on this connection.
        was_live: bool,
        /// Reconnect quickly (resume requested by the protocol).
        prompt: bool,
        /// The gateway refused the viewer token.
        unauthorized: bool,
    }

    /// Connects forever; never returns.
    pub async fn run(store: Rc<Host>) {
        let mut failures: u32 = 0;
        loop {
            store.set_state(ConnState::Connecting);
            let url = store.url();
            let _ = store.take_reconnect(); // this attempt is the reconnect
            let ended = connect_once(&store, &url).await;
            let unauthorized = ended.unauthorized;
            store.note_disconnect(ended.reason);
            if unauthorized {
                // Wait for another token (or another feed URL) instead of
                // retrying the same one (the page forgets the refused one).
                store.note_refused();
                let version = store.token_version();
                while store.token_version() == version {
                    if store.take_reconnect().is_some() {
                        break;
                    }
                    TimeoutFuture::new(250).await;
                }
                failures = 0;
                continue;
            }
            if ended.was_live {
                failures = 0;
            }
            let wait = if ended.prompt {
                super::RESUME_DELAY_MS
            } else {
                backoff_ms(failures, js_sys::Math::random())
            };
            failures = failures.saturating_add(1);
            wait_countdown(&store, wait, failures).await;
        }
    }

    async fn wait_countdown(store: &Rc<Host>, wait_ms: u32, failures: u32) {
        let mut remaining = wait_ms;
        let was_offline = browser_offline();
        while remaining > 0 {
            let offline = browser_offline();
            if was_offline && !offline {
                return; // back online: try now
            }
            if store.take_reconnect().is_some() {
                return; // e.g. a new feed URL: try now
            }
            store.set_state(waiting_state(offline, failures, remaining.div_ceil(1000)));
            // Step to the next whole second so "in N s" is exact.
            let step = match remaining % 1000 {
                0 => 1000,
                r => r,
            };
            TimeoutFuture::new(step).await;
            remaining -= step;
        }
    }

    /// Why the socket closed, for the health strip.
    fn describe(code: u16, reason: &str, failed: bool) -> String {
        match (failed, reason.is_empty()) {
            (true, true) => format!("connection failed (code {code})"),
            (true, false) => format!("connection failed (code {code}: {reason})"),
            (false, true) => format!("closed (code {code})"),
            (false, false) => format!("closed (code {code}: {reason})"),
        }
    }

    impl Ended {
        fn because(mut self, reason: impl Into<String>) -> Self {
            self.reason = reason.into();
            self
        }
    }

    /// Opens a socket to `url` and waits until it is open (or why not).
    async fn open(url: &str) -> Result<Socket, String> {
        let mut ws = Socket::open(url).map_err(|e| format!("cannot open {url}: {e}"))?;
        match select(ws.events.next(), TimeoutFuture::new(CONNECT_TIMEOUT_MS)).await {
            Either::Left((Some(SocketEvent::Open), _)) => Ok(ws),
            Either::Left((
                Some(SocketEvent::Closed {
                    code,
                    reason,
                    failed,
                }),
                _,
            )) => Err(describe(code, &reason, failed)),
            Either::Left(_) => Err("connection failed".to_owned()),
            Either::Right(_) => Err("connect timed out".to_owned()),
        }
    }

    async fn connect_once(store: &Rc<Host>, url: &str) -> Ended {
        let mut ended = Ended::default();
        let mut ws = match open(url).await {
            Ok(ws) => ws,
            Err(e) => return ended.because(e),
        };
        if let Err(e) = ws.send(&store.hello_frame()) {
            return ended.because(e);
        }
        let mut frames = Frames::default();
        let mut last_rx = now_ms();
        let mut next_heartbeat = last_rx + HEARTBEAT_MS;
        let mut resynced_at: Option<i64> = None;
        let mut timer: Option<TimeoutFuture> = None;
        loop {
            if let Some(reason) = store.take_reconnect() {
                ended.prompt = true;
                return ended.because(reason);
            }
            let now = now_ms();
            if now - last_rx >= DEAD_AFTER_MS {
                return ended.because(format!("nothing received for {} s", DEAD_AFTER_MS / 1000));
            }
            if resynced_at.is_some_and(|t| now - t >= RESYNCED_SHOWN_MS) {
                resynced_at = None;
                if store.state() == ConnState::Resynced {
                    store.set_state(ConnState::Live);
                }
            }
            if now >= next_heartbeat {
                if let Err(e) = ws.send(&Session::heartbeat_frame(now)) {
                    return ended.because(e);
                }
                next_heartbeat = now + HEARTBEAT_MS;
            }
            let wait = (next_heartbeat - now)
                .min(last_rx + DEAD_AFTER_MS - now)
                .clamp(1, POLL_MS);
            // One timer outlives the messages that come before it fires
            // (a timer per message was 2 % of a busy worker: setTimeout and
            // clearTimeout); every deadline it serves only moves later.
            let t = timer
                .get_or_insert_with(|| TimeoutFuture::new(u32::try_from(wait).unwrap_or(1000)));
            let event = match select(ws.events.next(), t).await {
                Either::Left((event, _)) => event,
                Either::Right(_) => {
                    timer = None;
                    continue;
                }
            };
            match event {
                None => {
                    return ended.because("closed");
                }
                Some(SocketEvent::Closed {
                    code,
                    reason,
                    failed,
                }) => {
                    return ended.because(describe(code, &reason, failed));
                }
                Some(frame) => {
                    last_rx = now_ms();
                    let outcome = match frame {
                        SocketEvent::Text(text) => store.on_text(frames.text(&text)),
                        SocketEvent::Bytes(bytes) => store.on_binary(frames.bytes(&bytes)),
                        // Not sent after the opening, nor after the close.
                        SocketEvent::Open | SocketEvent::Closed { .. } => Outcome::Continue,
                    };
                    frames.trim();
                    match outcome {
                        Outcome::Continue | Outcome::Gap => {}
                        Outcome::Hello => {
                            ended.was_live = true;
                            store.set_state(ConnState::Live);
                        }
                        Outcome::Resynced => {
                            resynced_at = Some(last_rx);
                            store.set_state(ConnState::Resynced);
                        }
                        Outcome::Reconnect(reason) => {
                            ended.prompt = true;
                            return ended.because(reason);
                        }
                        Outcome::Unauthorized(reason) => {
                            ended.unauthorized = true;
                            return ended.because(format!("unauthorized: {reason}"));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_unless_the_page_asks_for_json() {
        assert!(bin1_for(None));
        assert!(bin1_for(Some("bin1")));
        assert!(!bin1_for(Some("json")));
        assert!(!bin1_for(Some(" JSON ")));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(0, 0.0), 500);
        assert_eq!(backoff_ms(0, 0.999), 500);
        assert_eq!(backoff_ms(1, 0.999), 999);
        assert_eq!(backoff_ms(3, 0.0), 2000);
        assert_eq!(backoff_ms(10, 0.0), 5000);
        assert_eq!(backoff_ms(10, 1.0), 10_000);
        assert_eq!(backoff_ms(u32::MAX, 0.5), 7500);
    }

    #[test]
    fn feed_url_follows_page_or_query() {
        assert_eq!(
            feed_url_for(None, "", "http:", "localhost:8080"),
            "ws://localhost:8080/ws"
        );
        assert_eq!(
            feed_url_for(None, "", "https:", "shop.example"),
            "wss://shop.example/ws"
        );
        assert_eq!(
            feed_url_for(
                Some("ws://127.0.0.1:9001/ws".into()),
                "ws://saved/ws",
                "https:",
                "x"
            ),
            "ws://127.0.0.1:9001/ws"
        );
        assert_eq!(
            feed_url_for(None, "ws://saved/ws", "http:", "h"),
            "ws://saved/ws"
        );
        assert_eq!(
            feed_url_for(Some("  ".into()), "", "http:", "h"),
            "ws://h/ws"
        );
    }

    #[test]
    fn shops_come_from_the_page_query() {
        assert_eq!(shops_for(None), None);
        assert_eq!(shops_for(Some(" , ".into())), None);
        assert_eq!(
            shops_for(Some("north, south,".into())),
            Some(vec!["north".to_owned(), "south".to_owned()])
        );
    }

    #[test]
    fn offline_after_repeated_failures() {
        assert_eq!(
            waiting_state(false, 1, 3),
            ConnState::Reconnecting { in_s: 3 }
        );
        assert_eq!(
            waiting_state(false, OFFLINE_AFTER, 3),
            ConnState::Offline { in_s: 3 }
        );
        assert_eq!(waiting_state(true, 0, 1), ConnState::Offline { in_s: 1 });
    }
}
