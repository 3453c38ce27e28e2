//! Sales: totals, revenue/orders chart per window, per-channel table,
//! recent windows (incomplete ones marked) and business figure lines.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use shoppulse_core::event::Currency;
use shoppulse_core::view::{ChannelTotals, SalesView, SalesWindow};

use super::widgets::Panel;
use crate::chart::sales::{channel_css, channels, draw, Span};
use crate::format::{money, thousands, window_label};
use crate::state::{now_ms, Sections};

/// Shortest time between two chart draws, ms.
const DRAW_EVERY_MS: i64 = 250;
/// Windows listed in the table, newest first.
const WINDOW_ROWS: usize = 12;

/// Coalesces draw requests: at most one draw per [`DRAW_EVERY_MS`]; a request
/// inside the interval schedules one trailing draw.
#[derive(Default)]
struct Throttle {
    last_ms: Cell<i64>,
    pending: Cell<bool>,
}

impl Throttle {
    fn request(self: &Rc<Self>, draw: impl FnOnce() + 'static) {
        if self.pending.get() {
            return; // the scheduled draw reads the latest data
        }
        let since = now_ms() - self.last_ms.get();
        if since >= DRAW_EVERY_MS {
            self.last_ms.set(now_ms());
            draw();
            return;
        }
        self.pending.set(true);
        let this = Rc::clone(self);
        let delay = u64::try_from(DRAW_EVERY_MS - since).unwrap_or(0);
        set_timeout(
            move || {
                this.pending.set(false);
                this.last_ms.set(now_ms());
                draw();
            },
            Duration::from_millis(delay),
        );
    }
}

/// The sales panel.
#[component]
pub fn SalesPanel() -> impl IntoView {
    let sales = expect_context::<Sections>().sales;
    let span = RwSignal::new(Span::Minute);
    let currency = Memo::new(move |_| sales.with(|s| s.currency));
    let total = Memo::new(move |_| sales.with(|s| s.total.clone()));
    let by_channel = Memo::new(move |_| sales.with(|s| s.by_channel.clone()));
    let notes = Memo::new(move |_| sales.with(|s| (s.other_currency_orders, s.late_orders)));
    let figures = Memo::new(move |_| sales.with(|s| s.figures.clone()));
    view! {
        <Panel title="Sales" testid="sales" wide=true>
            <SalesTotal total=total currency=currency />
            <div class="chart-head">
                <label class="muted small">
                    "window "
                    <select
                        data-testid="sales-window-select"
                        on:change=move |ev| span.set(Span::parse(&event_target_value(&ev)))
                    >
                        {Span::ALL
                            .into_iter()
                            .map(|s| view! { <option value=s.as_str() selected=s == Span::Minute>{s.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <Legend span=span />
            </div>
            <SalesChart span=span />
            <div class="two-col">
                <div>
                    <h3>"By channel"</h3>
                    <ChannelTable rows=by_channel currency=currency />
                </div>
                <div>
                    <h3>"Recent windows"</h3>
                    <WindowTable span=span currency=currency />
                </div>
            </div>
            <p class="muted small" data-testid="sales-notes">
                {move || {
                    let (other, late) = notes.get();
                    format!(
                        "{} orders in another currency (not in totals) · {} late orders",
                        thousands(other),
                        thousands(late)
                    )
                }}
            </p>
            <h3>"Business figures"</h3>
            <ul class="rows" data-testid="sales-figures">
                {move || {
                    figures
                        .get()
                        .into_iter()
                        .map(|f| view! { <li data-bucket=f.bucket.clone()>{f.text.clone()}</li> })
                        .collect_view()
                }}
            </ul>
        </Panel>
    }
}

/// Revenue, orders, AOV and cancellations over all channels.
#[component]
fn SalesTotal(
    /// All channels together.
    total: Memo<ChannelTotals>,
    /// Currency of the money figures.
    currency: Memo<Option<Currency>>,
) -> impl IntoView {
    view! {
        <div class="row-figures" data-testid="sales-total">
            <div class="figure">
                <span class="figure-label">"revenue"</span>
                <span class="figure-value big" data-testid="sales-revenue">
                    {move || money(total.with(|t| t.revenue_cents), currency.get())}
                </span>
            </div>
            <div class="figure">
                <span class="figure-label">"orders"</span>
                <span class="figure-value" data-testid="sales-orders">
                    {move || thousands(total.with(|t| t.orders))}
                </span>
            </div>
            <div class="figure">
                <span class="figure-label">"avg order"</span>
                <span class="figure-value" data-testid="sales-aov">
                    {move || money(total.with(|t| t.aov_cents), currency.get())}
                </span>
            </div>
            <div class="figure">
                <span class="figure-label">"cancelled / refunded"</span>
                <span class="figure-value" data-testid="sales-cancelled">
                    {move || thousands(total.with(|t| t.cancelled))}
                </span>
            </div>
        </div>
    }
}

/// Channel colours used by the chart.
#[component]
fn Legend(
    /// Selected window span.
    span: RwSignal<Span>,
) -> impl IntoView {
    let sales = expect_context::<Sections>().sales;
    let names = Memo::new(move |_| sales.with(|s| channels(span.get().windows(s))));
    view! {
        <ul class="legend" data-testid="sales-legend">
            {move || {
                names
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let key = name.clone();
                        view! {
                            <li data-channel=key>
                                <span class="swatch" style=format!("background:{}", channel_css(i))></span>
                                {name}
                            </li>
                        }
                    })
                    .collect_view()
            }}
            <li class="muted"><span class="swatch swatch-total"></span>"total"</li>
            <li class="muted"><span class="swatch swatch-incomplete"></span>"incomplete"</li>
        </ul>
    }
}

/// The canvas; redrawn (throttled) when the sales section, the span or the
/// window size changes.
#[component]
fn SalesChart(
    /// Selected window span.
    span: RwSignal<Span>,
) -> impl IntoView {
    let sales = expect_context::<Sections>().sales;
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    let resized = RwSignal::new(0u32);
    let _listener = window_event_listener(leptos::ev::resize, move |_| {
        resized.update(|n| *n = n.wrapping_add(1));
    });
    let throttle = Rc::new(Throttle::default());
    Effect::new(move |_| {
        sales.track();
        span.track();
        resized.track();
        if canvas_ref.get().is_none() {
            return;
        }
        throttle.request(move || {
            if let Some(canvas) = canvas_ref.get_untracked() {
                let sp = span.get_untracked();
                if let Err(e) = sales.with_untracked(|s: &SalesView| draw(&canvas, s, sp)) {
                    leptos::logging::warn!("sales chart: {e}");
                }
            }
        });
    });
    view! {
        <canvas
            node_ref=canvas_ref
            class="chart"
            data-testid="sales-chart"
            role="img"
            aria-label="Revenue per channel and orders per window"
        ></canvas>
    }
}

/// Per-channel totals.
#[component]
fn ChannelTable(
    /// Totals per channel.
    rows: Memo<Vec<ChannelTotals>>,
    /// Currency of the money figures.
    currency: Memo<Option<Currency>>,
) -> impl IntoView {
    view! {
        <table class="table" data-testid="sales-by-channel">
            <thead>
                <tr><th>"channel"</th><th>"revenue"</th><th>"orders"</th><th>"cancelled"</th><th>"AOV"</th></tr>
            </thead>
            <tbody>
                {move || {
                    let cur = currency.get();
                    rows.get()
                        .into_iter()
                        .map(|c| {
                            view! {
                                <tr data-channel=c.channel.clone()>
                                    <td>{c.channel.clone()}</td>
                                    <td class="num">{money(c.revenue_cents, cur)}</td>
                                    <td class="num">{thousands(c.orders)}</td>
                                    <td class="num">{thousands(c.cancelled)}</td>
                                    <td class="num">{money(c.aov_cents, cur)}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}

/// The newest windows of the selected span; incomplete ones marked.
#[component]
fn WindowTable(
    /// Selected window span.
    span: RwSignal<Span>,
    /// Currency of the money figures.
    currency: Memo<Option<Currency>>,
) -> impl IntoView {
    let sales = expect_context::<Sections>().sales;
    let rows = Memo::new(move |_| {
        sales.with(|s| {
            span.get()
                .windows(s)
                .iter()
                .rev()
                .take(WINDOW_ROWS)
                .cloned()
                .collect::<Vec<SalesWindow>>()
        })
    });
    view! {
        <table class="table" data-testid="sales-windows">
            <thead>
                <tr><th>"window (UTC)"</th><th>"revenue"</th><th>"orders"</th><th>"state"</th></tr>
            </thead>
            <tbody>
                {move || {
                    let cur = currency.get();
                    rows.get()
                        .into_iter()
                        .map(|w| {
                            let state = if w.incomplete {
                                "⚠ incomplete"
                            } else if w.closed {
                                "closed"
                            } else {
                                "open"
                            };
                            view! {
                                <tr
                                    class:incomplete=w.incomplete
                                    data-start-ms=w.start_ms.to_string()
                                    data-incomplete=w.incomplete.to_string()
                                    data-closed=w.closed.to_string()
                                >
                                    <td>{window_label(w.start_ms, w.len_ms)}</td>
                                    <td class="num">{money(w.total.revenue_cents, cur)}</td>
                                    <td class="num">{thousands(w.total.orders)}</td>
                                    <td class="state">{state}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}
