//! Feed-health strip (top of the page), the rejection list and the empty state.

use std::fmt::Write as _;

use leptos::prelude::*;
use shoppulse_core::time::format_rfc3339_ms;

use super::widgets::{keyed_by_content, Figure};
use crate::format::{rate, relative, thousands};
use crate::state::{ConnState, Sections, Signals};

/// Source, replay speed and server from the gateway's hello.
fn source_text(signals: Signals) -> String {
    signals.conn.with(|c| match &c.server {
        None => "no hello yet".to_owned(),
        Some(s) => {
            let mut out = if s.source.is_empty() {
                "unnamed source".to_owned()
            } else {
                s.source.clone()
            };
            match s.replay_speed {
                Some(0.0) => out.push_str(" · replay as fast as possible"),
                Some(x) => {
                    let _ = write!(out, " · replay ×{x}");
                }
                None => {}
            }
            if !s.server.is_empty() {
                out.push_str(" · ");
                out.push_str(&s.server);
            }
            out
        }
    })
}

/// The strip: connection state, counters, rate, lag and source. Carries
/// `data-last-seq`, `data-epoch`, `data-head-seq`, `data-applied` and
/// `data-state` for tests.
#[component]
pub fn HealthStrip() -> impl IntoView {
    let signals = expect_context::<Signals>();
    let sections = expect_context::<Sections>();
    let health = sections.health;
    let conn = signals.conn;
    let progress = signals.progress;

    let state_key = Memo::new(move |_| conn.with(|c| c.state.key()));
    let status = Memo::new(move |_| conn.with(|c| c.state.label()));
    let detail = Memo::new(move |_| {
        conn.with(|c| {
            let mut parts = Vec::new();
            if let ConnState::Offline { in_s } = c.state {
                parts.push(format!("retrying in {in_s} s"));
            }
            parts.push(c.url.clone());
            if let Some(g) = &c.last_gap {
                parts.push(format!("gaps {} (last: {g})", c.gaps));
            }
            if c.disconnects > 0 {
                if let Some(r) = &c.last_disconnect {
                    parts.push(format!("disconnects {} (last: {r})", c.disconnects));
                }
            }
            if let Some(e) = &c.last_error {
                parts.push(format!("last error: {e}"));
            }
            parts.join(" · ")
        })
    });
    let applied = Signal::derive(move || health.with(|h| h.applied.to_string()));
    let rejected = Signal::derive(move || health.with(|h| h.rejected.to_string()));
    let late = Signal::derive(move || health.with(|h| h.late.to_string()));
    let per_s = Signal::derive(move || rate(signals.rate.get()));
    let behind = Signal::derive(move || {
        progress.with(|p| {
            let n = p.head_seq.saturating_sub(p.last_seq);
            format!("{} events", thousands(n))
        })
    });
    let newest = Signal::derive(move || {
        let max = health.with(|h| h.max_event_ms);
        if max == 0 {
            return "—".to_owned();
        }
        let age = signals.now_ms.get() - max;
        let at = format_rfc3339_ms(max);
        let at = at.get(..19).unwrap_or(&at).replace('T', " ");
        if age.abs() < 1000 {
            format!("{at} (now)")
        } else if age.abs() < 3_600_000 {
            format!("{at} ({})", relative(max, max + age))
        } else {
            at
        }
    });
    let source = Memo::new(move |_| source_text(signals));

    view! {
        <header
            class="strip"
            data-testid="feed-health"
            data-state=move || state_key.get()
            data-last-seq=move || progress.with(|p| p.last_seq.to_string())
            data-head-seq=move || progress.with(|p| p.head_seq.to_string())
            data-epoch=move || progress.with(|p| p.epoch.clone().unwrap_or_default())
            data-applied=move || health.with(|h| h.applied.to_string())
            data-gaps=move || conn.with(|c| c.gaps.to_string())
        >
            <div class="brand">"ShopPulse"</div>
            <div class=move || format!("conn conn-{}", state_key.get())>
                <span class="dot" aria-hidden="true"></span>
                <span data-testid="conn-status" role="status">{move || status.get()}</span>
            </div>
            <Figure label="applied" testid="events-applied" value=applied />
            <Figure label="rejected" testid="events-rejected" value=rejected />
            <Figure label="late" testid="events-late" value=late />
            <Figure label="events/s" testid="events-rate" value=per_s />
            <Figure label="behind feed" testid="feed-lag" value=behind />
            <Figure label="newest event (UTC)" testid="event-time" value=newest />
            <div class="strip-source">
                <span data-testid="feed-source">{move || source.get()}</span>
                <span class="muted small" data-testid="conn-detail">{move || detail.get()}</span>
            </div>
        </header>
    }
}

/// Latest rejected inputs (class, line, reason, excerpt), shown as text.
#[component]
pub fn Rejections() -> impl IntoView {
    let health = expect_context::<Sections>().health;
    let by_class = Memo::new(move |_| health.with(|h| h.rejected_by_class.clone()));
    let rows = Memo::new(move |_| health.with(|h| keyed_by_content(&h.recent_rejections)));
    let any = Memo::new(move |_| health.with(|h| h.rejected > 0));
    view! {
        <Show when=move || any.get()>
            <section class="panel wide rejections" data-testid="rejections" aria-label="Rejected input">
                <h2>"Rejected input"</h2>
                <div class="chips" data-testid="rejections-by-class">
                    {move || {
                        by_class
                            .get()
                            .into_iter()
                            .map(|(class, n)| {
                                view! {
                                    <span class="chip chip-bad" data-class=class.clone()>
                                        {format!("{class}: {n}")}
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                </div>
                <ul class="rejection-list" data-testid="rejection-list">
                    <For each=move || rows.get() key=|(k, _)| *k let:((_, r))>
                        <li data-testid="rejection-row" data-class=r.class.clone() data-source=r.source.clone()>
                            <span class="tag">{r.class.clone()}</span>
                            <span class="muted">
                                {format!(
                                    "{}{}",
                                    r.source,
                                    r.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                                )}
                            </span>
                            <span class="reason">{r.reason.clone()}</span>
                            <code class="excerpt">{r.excerpt.clone()}</code>
                        </li>
                    </For>
                </ul>
            </section>
        </Show>
    }
}

/// Shown until the first event or rejection arrives.
#[component]
pub fn EmptyState() -> impl IntoView {
    let health = expect_context::<Sections>().health;
    let conn = expect_context::<Signals>().conn;
    let empty = Memo::new(move |_| health.with(|h| h.applied == 0 && h.rejected == 0));
    view! {
        <Show when=move || empty.get()>
            <section class="panel wide empty" data-testid="empty-state">
                <h2>"Waiting for events — start the gateway with --simulate or POST to /ingest"</h2>
                <p class="muted">
                    "Feed: " <code>{move || conn.with(|c| c.url.clone())}</code> " · "
                    {move || conn.with(|c| c.state.label())}
                </p>
                <p class="muted small">
                    "e.g. " <code>"shoppulse-feed --listen 127.0.0.1:9001 --simulate --dist dist"</code>
                    " or open this page with " <code>"?feed=ws://host:port/ws"</code>
                </p>
            </section>
        </Show>
    }
}
