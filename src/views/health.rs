//! Feed-health strip (top of the page) with the toolbar, the rejection list,
//! and the loading and empty states.

use leptos::prelude::*;

use super::drill::focus_selector;
use super::widgets::{lang, rb, rx, Figure};
use crate::dom::{content_keys, el, keyed, patch, text, KeyCache};
use crate::format::{datetime, rate, relative, thousands};
use crate::i18n::{Lang, K};
use crate::state::{ConnState, Sections, Signals, StoreHandle};
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

/// The strip: connection state, counters, rate, lag, source and the
/// toolbar. Carries `data-last-seq`, `data-epoch`, `data-head-seq`,
/// `data-applied` and `data-state` for tests.
#[component]
pub fn HealthStrip() -> impl IntoView {
    let l = lang();
    let signals = expect_context::<Signals>();
    let sections = expect_context::<Sections>();
    let health = sections.health;
    let conn = signals.conn;
    let progress = signals.progress;

    let status = rx(move || conn.with(|c| state_label(c.state, l)));
    let detail = rx(move || {
        conn.with(|c| {
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
            parts.join(" · ")
        })
    });
    let applied = Signal::derive(move || health.with(|h| thousands(h.applied)));
    let rejected = Signal::derive(move || health.with(|h| thousands(h.rejected)));
    let late = Signal::derive(move || health.with(|h| thousands(h.late)));
    let per_s = Signal::derive(move || rate(signals.rate.get()));
    let behind = Signal::derive(move || {
        progress.with(|p| {
            let n = p.head_seq.saturating_sub(p.last_seq);
            l.f(K::NEvents, &[&thousands(n)])
        })
    });
    let newest = Signal::derive(move || {
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
    let source = rx(move || source_text(signals, l));

    view! {
        <header
            class="strip"
            data-testid="feed-health"
            data-state=rx(move || conn.with(|c| c.state.key()).to_owned())
            data-last-seq=rx(move || progress.with(|p| p.last_seq.to_string()))
            data-head-seq=rx(move || progress.with(|p| p.head_seq.to_string()))
            data-epoch=rx(move || progress.with(|p| p.epoch.clone().unwrap_or_default()))
            data-applied=rx(move || health.with(|h| h.applied.to_string()))
            data-gaps=rx(move || conn.with(|c| c.gaps.to_string()))
        >
            <h1 class="brand">"ShopPulse"</h1>
            <div class=rx(move || format!("conn conn-{}", conn.with(|c| c.state.key())))>
                <span class="dot" aria-hidden="true"></span>
                <span data-testid="conn-status" role="status">{status}</span>
            </div>
            <Figure label=l.t(K::Applied) testid="events-applied" value=applied />
            <Figure label=l.t(K::Rejected) testid="events-rejected" value=rejected />
            <Figure label=l.t(K::Late) testid="events-late" value=late />
            <Figure label=l.t(K::EventsPerS) testid="events-rate" value=per_s />
            <Figure label=l.t(K::BehindFeed) testid="feed-lag" value=behind />
            <Figure label=l.t(K::NewestEvent) testid="event-time" value=newest />
            <div class="strip-source">
                <span data-testid="feed-source">{source}</span>
                <span class="muted small" data-testid="conn-detail">{detail}</span>
            </div>
            <Toolbar />
        </header>
    }
}

/// Pause/resume with the queue count, replay speed, language, theme and
/// settings.
#[component]
fn Toolbar() -> impl IntoView {
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
    // The language choices: built here (cheaper in wasm than a template).
    let lang_select = NodeRef::<leptos::html::Select>::new();
    Effect::new(move |_| {
        if let Some(s) = lang_select.get() {
            patch(
                &s,
                Lang::ALL
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
                    .collect(),
            );
            s.set_value(l.code());
        }
    });
    view! {
        <div class="toolbar" role="toolbar" aria-label=l.t(K::Controls)>
            <button
                type="button"
                class="btn"
                class:btn-on=paused
                data-testid="pause-toggle"
                aria-pressed=rx(move || paused.get().to_string())
                aria-label=rx(move || l.t(if paused.get() { K::Resume } else { K::Pause }).to_owned())
                title=l.t(K::PauseHint)
                on:click=move |_| store.set_paused(!paused.get_untracked())
            >
                {rx(move || format!("{} {}", if paused.get() { "▶" } else { "❚❚" }, l.t(if paused.get() { K::Resume } else { K::Pause })))}
            </button>
            <span
                class="chip chip-warn"
                class:hidden=rb(move || !paused.get())
                data-testid="paused-queue"
                data-count=rx(move || queued.get().to_string())
                role="status"
            >
                {rx(move || l.f(K::Queued, &[&thousands(queued.get())]))}
            </span>
            <span class="chip" class:hidden=rb(move || replay_text(signals, l).is_none()) data-testid="replay-speed">
                {rx(move || replay_text(signals, l).unwrap_or_default())}
            </span>
            <select
                class="btn"
                data-testid="lang-select"
                aria-label="Language / 语言"
                on:change=move |ev| {
                    ui.set_lang(Lang::parse(&event_target_value(&ev)));
                    // The dashboard is rebuilt in the new language: keep the
                    // keyboard focus on this control.
                    request_animation_frame(|| focus_selector("[data-testid=lang-select]"));
                }
                node_ref=lang_select
            ></select>
            <button
                type="button"
                class="btn"
                data-testid="theme-toggle"
                data-theme-now=rx(move || theme.get().key().to_owned())
                aria-label=rx(move || l.f(K::ThemeToggle, &[&next_theme()]))
                on:click=move |_| ui.toggle_theme()
            >
                {rx(move || format!("{} {}", if theme.get() == Theme::Dark { "☀" } else { "☾" }, next_theme()))}
            </button>
            <button
                type="button"
                class="btn"
                data-testid="settings-open"
                aria-haspopup="dialog"
                aria-expanded=rx(move || ui.settings_open.get().to_string())
                on:click=move |_| {
                    ui.drill.set(None);
                    ui.settings_open.update(|o| *o = !*o);
                }
            >
                <span aria-hidden="true">"⚙ "</span>
                {l.t(K::Settings)}
            </button>
        </div>
    }
}

/// Latest rejected inputs (class, line, reason, excerpt), shown as text.
#[component]
pub fn Rejections() -> impl IntoView {
    let l = lang();
    let health = expect_context::<Sections>().health;
    let chips = NodeRef::<leptos::html::Div>::new();
    let list = NodeRef::<leptos::html::Ul>::new();
    let cache = StoredValue::new_local(KeyCache::new());
    Effect::new(move |_| {
        health.with(|h| {
            if let Some(d) = chips.get() {
                patch(
                    &d,
                    h.rejected_by_class
                        .iter()
                        .map(|(class, n)| {
                            text("span", "chip chip-bad", &format!("{class}: {n}"))
                                .a("data-class", class)
                        })
                        .collect(),
                );
            }
            if let Some(u) = list.get() {
                let rows = &h.recent_rejections;
                let keys = content_keys(rows);
                cache.update_value(|c| {
                    keyed(c, &u, &keys, &|i| {
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
            }
        });
    });
    view! {
        <section class="panel wide rejections" data-testid="rejections" aria-label=l.t(K::RejectedInput) class:hidden=rb(move || health.with(|h| h.rejected == 0))>
            <h2>{l.t(K::RejectedInput)}</h2>
            <div class="chips" data-testid="rejections-by-class" node_ref=chips></div>
            <ul class="rejection-list" data-testid="rejection-list" tabindex="0" aria-label=l.t(K::RejectedInput) node_ref=list></ul>
        </section>
    }
}

/// Shown until the first event or rejection arrives: a loading state while
/// no gateway has answered, then an empty state that says what to do.
#[component]
pub fn EmptyState() -> impl IntoView {
    let l = lang();
    let health = expect_context::<Sections>().health;
    let conn = expect_context::<Signals>().conn;
    let empty = move || health.with(|h| h.applied == 0 && h.rejected == 0);
    let greeted = move || conn.with(|c| c.server.is_some());
    let url = rx(move || conn.with(|c| c.url.clone()));
    let state = rx(move || conn.with(|c| state_label(c.state, l)));
    let loading = rb(move || !empty() || greeted());
    let waiting = rb(move || !(empty() && greeted()));
    view! {
        <section class="panel wide empty" class:hidden=loading data-testid="loading" aria-busy="true">
            <div class="spinner" aria-hidden="true"></div>
            <h2>{l.t(K::Loading)}</h2>
            <p class="muted">{l.t(K::FeedColon)} <code>{url}</code> " · " {state}</p>
            <p class="muted small">{l.t(K::LoadingHint)}</p>
        </section>
        <section class="panel wide empty" class:hidden=waiting data-testid="empty-state">
            <h2>{l.t(K::EmptyTitle)}</h2>
            <p class="muted">{l.t(K::FeedColon)} <code>{url}</code> " · " {state}</p>
            <p class="muted small">
                {l.t(K::EmptyEg)} <code>"shoppulse-feed --listen 127.0.0.1:9001 --simulate --dist dist"</code>
                {l.t(K::EmptyOr)} <code>"?feed=ws://host:port/ws"</code>
            </p>
            <p class="muted small">{l.t(K::EmptySettings)}</p>
        </section>
    }
}
