//! Feed-health strip (top of the page) with the toolbar, the rejection list,
//! and the loading and empty states.

use leptos::prelude::*;
use web_sys::Element;

use super::drill::focus_selector;
use super::widgets::{
    attr_fx, figure, fx, lang, on, on_click, part, set_attr, set_class, set_text, set_value,
    target_value, text_fx,
};
use crate::dom::{content_keys, el, keyed, patch, text, KeyCache, E};
use crate::format::{datetime, rate, relative, thousands};
use crate::i18n::{Lang, K};
use crate::overload::Overload;
use crate::state::{now_ms, ConnState, Progress, Sections, Signals, StoreHandle};
use crate::ui::{Theme, Ui};

/// The connection state in words.
pub fn state_label(state: ConnState, l: Lang) -> String {
    match state {
        ConnState::Connecting => l.t(K::Connecting).to_owned(),
        ConnState::Live => l.t(K::Live).to_owned(),
        ConnState::Reconnecting { in_s } => l.f(K::ReconnectingIn, &[&in_s]),
        ConnState::Resynced => l.t(K::Resynced).to_owned(),
        ConnState::Offline { .. } => l.t(K::Offline).to_owned(),
        ConnState::Unauthorized => l.t(K::Unauthorized).to_owned(),
    }
}

/// The replay speed from the gateway's hello, when replaying.
fn replay_text(signals: Signals, l: Lang) -> Option<String> {
    signals
        .conn
        .with(|c| c.server.as_ref().and_then(|s| s.replay_speed))
        .map(|x| {
            if x == 0.0 {
                l.t(K::ReplayMax).to_owned()
            } else {
                l.f(K::ReplayX, &[&x])
            }
        })
}

/// Source and server from the gateway's hello.
fn source_text(signals: Signals, l: Lang) -> String {
    signals.conn.with(|c| match &c.server {
        None => l.t(K::NoHello).to_owned(),
        Some(s) => {
            let mut out = if s.source.is_empty() {
                l.t(K::UnnamedSource).to_owned()
            } else {
                s.source.clone()
            };
            if !s.server.is_empty() {
                out.push_str(" · ");
                out.push_str(&s.server);
            }
            out
        }
    })
}

/// Keeps `data-drawing` on `root`: `in-turn` while the sections are drawn
/// in turn ([`crate::stagger`]), else `together`.
fn drawing_attr(root: &Element, in_turn: RwSignal<bool>) {
    let r = root.clone();
    fx(move || {
        let how = if in_turn.get() { "in-turn" } else { "together" };
        set_attr(&r, "data-drawing", how);
    });
}

/// Keeps the strip's position in the stream (`data-last-seq`,
/// `data-head-seq`, `data-epoch`), the events it is behind, and the hint to
/// lighten the dashboard when it stays behind.
fn behind_fx(root: &Element, signals: Signals, l: Lang) {
    let r = root.clone();
    let behind = part(root, "[data-testid=feed-lag]");
    fx(move || {
        signals.progress.with(|p| {
            set_attr(&r, "data-last-seq", &p.last_seq.to_string());
            set_attr(&r, "data-head-seq", &p.head_seq.to_string());
            set_attr(&r, "data-epoch", p.epoch.as_deref().unwrap_or_default());
            set_text(&behind, &l.f(K::NEvents, &[&thousands(p.behind())]));
        });
    });
    overload_hint(part(root, "[data-testid=overload-hint]"), signals);
}

/// Shows `hint` while the dashboard has been falling behind its feed for a
/// while (`overload.rs`) with a costly panel still computed.
fn overload_hint(hint: Element, signals: Signals) {
    let settings = expect_context::<Ui>().settings;
    let detector = StoredValue::new_local(Overload::default());
    fx(move || {
        signals.now_ms.track();
        let behind = signals.progress.with(Progress::behind);
        let (rate, paused) = (signals.rate.get(), signals.paused.get());
        let costly_on = settings.with(|s| s.compute_recs || s.compute_sync);
        let over = detector
            .try_update_value(|d| d.observe(now_ms(), behind, rate, paused))
            .unwrap_or(false);
        let _ = hint.toggle_attribute_with_force("hidden", !(over && costly_on));
    });
}

/// The strip: connection state, counters, rate, lag, source and the
/// toolbar. Carries `data-last-seq`, `data-epoch`, `data-head-seq`,
/// `data-applied`, `data-state` and `data-drawing` (`in-turn` or
/// `together`, see [`crate::stagger`]) for tests and benchmarks.
pub fn health_strip() -> Element {
    let l = lang();
    let signals = expect_context::<Signals>();
    let sections = expect_context::<Sections>();
    let health = sections.health;
    let conn = signals.conn;

    let root = el("header", "strip")
        .a("data-testid", "feed-health")
        .c(text("h1", "brand", "ShopPulse"))
        .c(el("div", "")
            .c(el("span", "dot").a("aria-hidden", "true"))
            .c(el("span", "")
                .a("data-testid", "conn-status")
                .a("role", "status")))
        .c(figure(l.t(K::Applied), "events-applied"))
        .c(figure(l.t(K::Rejected), "events-rejected"))
        .c(figure(l.t(K::Late), "events-late"))
        .c(figure(l.t(K::EventsPerS), "events-rate"))
        .c(figure(l.t(K::BehindFeed), "feed-lag"))
        .c(figure(l.t(K::NewestEvent), "event-time"))
        .c(el("div", "strip-source")
            .c(el("span", "").a("data-testid", "feed-source"))
            .c(el("span", "muted small").a("data-testid", "conn-detail"))
            .c(text("span", "overload-hint small", l.t(K::FallingBehind))
                .a("data-testid", "overload-hint")
                .a("role", "status")
                .a("hidden", "")))
        .materialise();
    let _ = root.append_child(&toolbar());
    let r = root.clone();
    let conn_box = part(&root, "div");
    let status = part(&root, "[data-testid=conn-status]");
    let detail = part(&root, "[data-testid=conn-detail]");
    let source = part(&root, "[data-testid=feed-source]");
    fx(move || {
        conn.with(|c| {
            let key = c.state.key();
            set_attr(&r, "data-state", key);
            set_attr(&r, "data-gaps", &c.gaps.to_string());
            set_attr(&conn_box, "class", &format!("conn conn-{key}"));
            set_text(&status, &state_label(c.state, l));
            let mut parts = Vec::new();
            if let ConnState::Offline { in_s } = c.state {
                parts.push(l.f(K::RetryingIn, &[&in_s]));
            }
            parts.push(c.url.clone());
            if let Some(g) = &c.last_gap {
                parts.push(l.f(K::GapsLast, &[&c.gaps, g]));
            }
            if c.disconnects > 0 {
                if let Some(r) = &c.last_disconnect {
                    parts.push(l.f(K::DisconnectsLast, &[&c.disconnects, r]));
                }
            }
            if let Some(e) = &c.last_error {
                parts.push(l.f(K::LastError, &[e]));
            }
            set_text(&detail, &parts.join(" · "));
        });
        set_text(&source, &source_text(signals, l));
    });
    drawing_attr(&root, signals.in_turn);
    behind_fx(&root, signals, l);
    let r = root.clone();
    let applied = part(&root, "[data-testid=events-applied]");
    let rejected = part(&root, "[data-testid=events-rejected]");
    let late = part(&root, "[data-testid=events-late]");
    fx(move || {
        health.with(|h| {
            set_attr(&r, "data-applied", &h.applied.to_string());
            set_text(&applied, &thousands(h.applied));
            set_text(&rejected, &thousands(h.rejected));
            set_text(&late, &thousands(h.late));
        });
    });
    text_fx(part(&root, "[data-testid=events-rate]"), move || {
        rate(signals.rate.get())
    });
    text_fx(part(&root, "[data-testid=event-time]"), move || {
        let max = health.with(|h| h.max_event_ms);
        if max == 0 {
            return "—".to_owned();
        }
        let age = signals.now_ms.get() - max;
        let at = datetime(max, l);
        if age.abs() < 1000 {
            format!("{at} ({})", l.t(K::Now))
        } else if age.abs() < 3_600_000 {
            format!("{at} ({})", relative(max, max + age, l))
        } else {
            at
        }
    });
    root
}

/// Pause/resume with the queue count, replay speed, language, theme and
/// settings.
#[allow(clippy::too_many_lines)] // reason: one toolbar, its controls top to bottom
fn toolbar() -> Element {
    let l = lang();
    let ui = expect_context::<Ui>();
    let signals = expect_context::<Signals>();
    let store = expect_context::<StoreHandle>();
    let paused = signals.paused;
    let queued = signals.queued;
    let theme = ui.theme;
    let next_theme = move || {
        l.t(match theme.get() {
            Theme::Dark => K::ThemeLight,
            Theme::Light => K::ThemeDark,
        })
    };
    // The language choices.
    let langs: Vec<E> = Lang::ALL
        .into_iter()
        .map(|x| {
            let o = text("option", "", x.name())
                .a("value", x.code())
                .a("lang", x.code());
            if x == l {
                o.a("selected", "")
            } else {
                o
            }
        })
        .collect();
    let root = el("div", "toolbar")
        .a("role", "toolbar")
        .a("aria-label", l.t(K::Controls))
        .c(el("button", "btn")
            .a("type", "button")
            .a("data-testid", "pause-toggle")
            .a("title", l.t(K::PauseHint)))
        .c(el("span", "chip chip-warn")
            .a("data-testid", "paused-queue")
            .a("role", "status"))
        .c(el("span", "chip").a("data-testid", "replay-speed"))
        .c(el("select", "btn")
            .a("data-testid", "lang-select")
            .a("aria-label", "Language / 语言")
            .cs(langs))
        .c(el("button", "btn")
            .a("type", "button")
            .a("data-testid", "theme-toggle"))
        .c(el("button", "btn")
            .a("type", "button")
            .a("data-testid", "settings-open")
            .a("aria-haspopup", "dialog")
            .c(text("span", "", "⚙ ").a("aria-hidden", "true"))
            .t(l.t(K::Settings)))
        .materialise();
    let select = part(&root, "select");
    set_value(&select, l.code());
    on(&select, "change", move |ev| {
        ui.set_lang(Lang::parse(&target_value(&ev)));
        // The dashboard is rebuilt in the new language: keep the
        // keyboard focus on this control.
        request_animation_frame(|| focus_selector("[data-testid=lang-select]"));
    });
    on_click(&root, move |id, _| match id {
        "pause-toggle" => store.set_paused(!paused.get_untracked()),
        "theme-toggle" => ui.toggle_theme(),
        "settings-open" => {
            ui.drill.set(None);
            ui.settings_open.update(|o| *o = !*o);
        }
        _ => {}
    });
    let pause = part(&root, "[data-testid=pause-toggle]");
    fx(move || {
        let p = paused.get();
        set_class(&pause, "btn-on", p);
        set_attr(&pause, "aria-pressed", &p.to_string());
        let word = l.t(if p { K::Resume } else { K::Pause });
        set_attr(&pause, "aria-label", word);
        set_text(&pause, &format!("{} {word}", if p { "▶" } else { "❚❚" }));
    });
    let queue = part(&root, "[data-testid=paused-queue]");
    fx(move || {
        set_class(&queue, "hidden", !paused.get());
        let n = queued.get();
        set_attr(&queue, "data-count", &n.to_string());
        set_text(&queue, &l.f(K::Queued, &[&thousands(n)]));
    });
    let replay = part(&root, "[data-testid=replay-speed]");
    fx(move || {
        let t = replay_text(signals, l);
        set_class(&replay, "hidden", t.is_none());
        set_text(&replay, &t.unwrap_or_default());
    });
    let toggle = part(&root, "[data-testid=theme-toggle]");
    fx(move || {
        let next = next_theme();
        set_attr(&toggle, "data-theme-now", theme.get().key());
        set_attr(&toggle, "aria-label", &l.f(K::ThemeToggle, &[&next]));
        let icon = if theme.get() == Theme::Dark {
            "☀"
        } else {
            "☾"
        };
        set_text(&toggle, &format!("{icon} {next}"));
    });
    let open = part(&root, "[data-testid=settings-open]");
    attr_fx(open, "aria-expanded", move || {
        ui.settings_open.get().to_string()
    });
    root
}

/// Latest rejected inputs (class, line, reason, excerpt), shown as text.
pub fn rejections() -> Element {
    let l = lang();
    let health = expect_context::<Sections>().health;
    let root = el("section", "panel wide rejections")
        .a("data-testid", "rejections")
        .a("aria-label", l.t(K::RejectedInput))
        .c(text("h2", "", l.t(K::RejectedInput)))
        .c(el("div", "chips").a("data-testid", "rejections-by-class"))
        .c(el("ul", "rejection-list")
            .a("data-testid", "rejection-list")
            .a("tabindex", "0")
            .a("aria-label", l.t(K::RejectedInput)))
        .materialise();
    let chips = part(&root, "div");
    let list = part(&root, "ul");
    let cache = StoredValue::new_local(KeyCache::new());
    let r = root.clone();
    fx(move || {
        health.with(|h| {
            set_class(&r, "hidden", h.rejected == 0);
            patch(
                &chips,
                h.rejected_by_class
                    .iter()
                    .map(|(class, n)| {
                        text("span", "chip chip-bad", &format!("{class}: {n}"))
                            .a("data-class", class)
                    })
                    .collect(),
            );
            let rows = &h.recent_rejections;
            let keys = content_keys(rows);
            cache.update_value(|c| {
                keyed(c, &list, &keys, &|i| {
                    let r = &rows[i];
                    let line = r
                        .line
                        .map(|n| format!(" {}", l.f(K::LineN, &[&n])))
                        .unwrap_or_default();
                    el("li", "")
                        .a("data-testid", "rejection-row")
                        .a("data-class", &r.class)
                        .a("data-source", &r.source)
                        .c(text("span", "tag", &r.class))
                        .c(text("span", "muted", &format!("{}{line}", r.source)))
                        .c(text("span", "reason", &r.reason))
                        .c(text("code", "excerpt", &r.excerpt))
                });
            });
        });
    });
    root
}

/// Shown until the first event or rejection arrives: a loading state while
/// no gateway has answered, then an empty state that says what to do.
pub fn empty_state() -> [Element; 2] {
    let l = lang();
    let health = expect_context::<Sections>().health;
    let conn = expect_context::<Signals>().conn;
    let feed = || {
        el("p", "muted")
            .t(l.t(K::FeedColon))
            .c(el("code", ""))
            .t(" · ")
            .t("")
    };
    let loading = el("section", "panel wide empty")
        .a("data-testid", "loading")
        .a("aria-busy", "true")
        .c(el("div", "spinner").a("aria-hidden", "true"))
        .c(text("h2", "", l.t(K::Loading)))
        .c(feed())
        .c(text("p", "muted small", l.t(K::LoadingHint)))
        .materialise();
    let waiting = el("section", "panel wide empty")
        .a("data-testid", "empty-state")
        .c(text("h2", "", l.t(K::EmptyTitle)))
        .c(feed())
        .c(el("p", "muted small")
            .t(l.t(K::EmptyEg))
            .c(text(
                "code",
                "",
                "shoppulse-feed --listen 127.0.0.1:9001 --simulate --dist dist",
            ))
            .t(l.t(K::EmptyOr))
            .c(text("code", "", "?feed=ws://host:port/ws")))
        .c(text("p", "muted small", l.t(K::EmptySettings)))
        .materialise();
    let (a, b) = (loading.clone(), waiting.clone());
    // The feed's URL (in `code`) and the state (the paragraph's last text).
    let urls = [part(&a, "code"), part(&b, "code")];
    let states: Vec<web_sys::Node> = urls
        .iter()
        .filter_map(|c| c.parent_node()?.last_child())
        .collect();
    fx(move || {
        let empty = health.with(|h| h.applied == 0 && h.rejected == 0);
        let greeted = conn.with(|c| c.server.is_some());
        set_class(&a, "hidden", !empty || greeted);
        set_class(&b, "hidden", !(empty && greeted));
        conn.with(|c| {
            let state = state_label(c.state, l);
            for u in &urls {
                set_text(u, &c.url);
            }
            for n in &states {
                if n.node_value().as_deref() != Some(state.as_str()) {
                    n.set_node_value(Some(&state));
                }
            }
        });
    });
    [loading, waiting]
}
