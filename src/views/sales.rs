//! Sales: totals, revenue/orders chart per window, per-channel table,
//! recent windows (incomplete ones marked) and business figure lines.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use shoppulse_core::event::Currency;
use shoppulse_core::view::{ChannelTotals, SalesView, SalesWindow};

use super::widgets::{lang, rb, rx, Panel, SubHead};
use crate::chart::sales::{channel_css, channels, draw, shown_windows, ChartOpts, Drawn, Span};
use crate::dom::{el, fill, patch, text, E};
use crate::export::{csv_time, download_canvas, file_name, Csv};
use crate::format::{decimal, money, thousands, window_label};
use crate::i18n::{Lang, K};
use crate::settings::window_choices;
use crate::state::{now_ms, Sections, StoreHandle};
use crate::ui::Ui;

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

/// Window state label ("open", "closed", "⚠ incomplete") in `l`.
fn window_state(w: &SalesWindow, l: Lang) -> &'static str {
    l.t(if w.incomplete {
        K::StIncomplete
    } else if w.closed {
        K::StClosed
    } else {
        K::StOpen
    })
}

fn th_row(keys: &[K], l: Lang) -> E {
    el("tr", "").cs(keys
        .iter()
        .map(|k| text("th", "", l.t(*k)).a("scope", "col"))
        .collect())
}

fn channel_rows(rows: &[ChannelTotals], cur: Option<Currency>, l: Lang) -> Vec<E> {
    rows.iter()
        .map(|c| {
            el("tr", "")
                .a("data-channel", &c.channel)
                .c(text("td", "", &c.channel))
                .c(text("td", "num", &money(c.revenue_cents, cur, l)))
                .c(text("td", "num", &thousands(c.orders)))
                .c(text("td", "num", &thousands(c.cancelled)))
                .c(text("td", "num", &money(c.aov_cents, cur, l)))
        })
        .collect()
}

fn window_rows(s: &SalesView, span: Span, l: Lang) -> Vec<E> {
    let cur = s.currency;
    span.windows(s)
        .iter()
        .rev()
        .take(WINDOW_ROWS)
        .map(|w| {
            el("tr", if w.incomplete { "incomplete" } else { "" })
                .a("data-start-ms", &w.start_ms.to_string())
                .a(
                    "data-incomplete",
                    if w.incomplete { "true" } else { "false" },
                )
                .a("data-closed", if w.closed { "true" } else { "false" })
                .c(text("td", "", &window_label(w.start_ms, w.len_ms, l)))
                .c(text("td", "num", &money(w.total.revenue_cents, cur, l)))
                .c(text("td", "num", &thousands(w.total.orders)))
                .c(text("td", "state", window_state(w, l)))
        })
        .collect()
}

fn legend_items(names: &[String], l: Lang) -> Vec<E> {
    let swatch = |class: &str| el("span", class);
    let mut out: Vec<E> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            el("li", "")
                .a("data-channel", name)
                .c(swatch("swatch").css("background", &channel_css(i)))
                .t(name)
        })
        .collect();
    out.push(
        el("li", "muted")
            .c(swatch("swatch swatch-total"))
            .t(l.t(K::Total)),
    );
    out.push(
        el("li", "muted")
            .c(swatch("swatch swatch-incomplete"))
            .t(l.t(K::Incomplete)),
    );
    out
}

fn option_els(options: Vec<(String, String, bool)>) -> Vec<E> {
    options
        .into_iter()
        .map(|(v, t, sel)| {
            let o = el("option", "").a("value", &v).t(&t);
            if sel {
                o.a("selected", "")
            } else {
                o
            }
        })
        .collect()
}

/// The sales panel.
#[component]
#[allow(clippy::too_many_lines)] // reason: one panel, laid out top to bottom
pub fn SalesPanel() -> impl IntoView {
    let l = lang();
    let ui = expect_context::<Ui>();
    let store = expect_context::<StoreHandle>();
    let sales = expect_context::<Sections>().sales;
    let settings = ui.settings;
    let span = Memo::new(move |_| settings.with(crate::settings::Settings::span));
    let count = Memo::new(move |_| settings.with(crate::settings::Settings::windows));
    let hidden = Memo::new(move |_| settings.with(|s| s.hidden_channels.clone()));
    let currency = move || sales.with(|s| s.currency);
    let by_channel = move || {
        let hidden = hidden.get();
        sales.with(|s| {
            s.by_channel
                .iter()
                .filter(|c| !hidden.contains(&c.channel))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let channel_csv = Box::new(move || {
        let cur = sales.with_untracked(|s| s.currency);
        let code = cur.map(|c| c.as_str().to_owned()).unwrap_or_default();
        let mut c = Csv::new(&[
            l.t(K::ColChannel),
            l.t(K::ColRevenue),
            l.t(K::ColCurrency),
            l.t(K::ColOrders),
            l.t(K::ColCancelled),
            l.t(K::ColAov),
        ]);
        for t in untrack(by_channel) {
            c.row(&[
                t.channel.clone(),
                decimal(t.revenue_cents, cur),
                code.clone(),
                t.orders.to_string(),
                t.cancelled.to_string(),
                decimal(t.aov_cents, cur),
            ]);
        }
        c.finish()
    });
    let windows_csv = Box::new(move || {
        let cur = sales.with_untracked(|s| s.currency);
        let mut c = Csv::new(&[
            l.t(K::ColWindow),
            l.t(K::ColRevenue),
            l.t(K::ColCurrency),
            l.t(K::ColOrders),
            l.t(K::ColState),
        ]);
        sales.with_untracked(|s| {
            for w in shown_windows(s, span.get_untracked(), count.get_untracked())
                .iter()
                .rev()
            {
                c.row(&[
                    csv_time(w.start_ms),
                    decimal(w.total.revenue_cents, cur),
                    cur.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                    w.total.orders.to_string(),
                    window_state(w, Lang::En)
                        .trim_start_matches("⚠ ")
                        .to_owned(),
                ]);
            }
        });
        c.finish()
    });
    let range = NodeRef::<leptos::html::Select>::new();
    let legend = NodeRef::<leptos::html::Ul>::new();
    let chan_body = NodeRef::<leptos::html::Tbody>::new();
    let win_body = NodeRef::<leptos::html::Tbody>::new();
    let figs = NodeRef::<leptos::html::Ul>::new();
    let chan_head = NodeRef::<leptos::html::Thead>::new();
    let win_head = NodeRef::<leptos::html::Thead>::new();
    Effect::new(move |_| {
        if let (Some(a), Some(b)) = (chan_head.get(), win_head.get()) {
            fill(
                &a,
                vec![th_row(
                    &[
                        K::ColChannel,
                        K::ColRevenue,
                        K::ColOrders,
                        K::ColCancelled,
                        K::ColAov,
                    ],
                    l,
                )],
            );
            fill(
                &b,
                vec![th_row(
                    &[K::ColWindow, K::ColRevenue, K::ColOrders, K::ColState],
                    l,
                )],
            );
        }
    });
    Effect::new(move |_| {
        if let Some(r) = range.get() {
            let sp = span.get();
            let cur = count.get();
            patch(
                &r,
                option_els(
                    window_choices(sp)
                        .iter()
                        .map(|&n| (n.to_string(), sp.range_label(n, l), n as usize == cur))
                        .collect(),
                ),
            );
            r.set_value(&cur.to_string());
        }
    });
    Effect::new(move |_| {
        if let Some(u) = legend.get() {
            let h = hidden.get();
            let names = sales.with(|s| channels(shown_windows(s, span.get(), count.get()), &h));
            patch(&u, legend_items(&names, l));
        }
    });
    Effect::new(move |_| {
        if let Some(b) = chan_body.get() {
            patch(&b, channel_rows(&by_channel(), currency(), l));
        }
    });
    Effect::new(move |_| {
        if let Some(b) = win_body.get() {
            let sp = span.get();
            sales.with(|s| patch(&b, window_rows(s, sp, l)));
        }
    });
    Effect::new(move |_| {
        if let Some(u) = figs.get() {
            sales.with(|s| {
                patch(
                    &u,
                    s.figures
                        .iter()
                        .map(|f| {
                            let t = if l == Lang::En {
                                f.text.clone()
                            } else {
                                l.f(K::FigureLine, &[&f.bucket, &f.sales_text])
                            };
                            text("li", "", &t).a("data-bucket", &f.bucket)
                        })
                        .collect(),
                );
            });
        }
    });
    let money_of = move |f: fn(&ChannelTotals) -> i64| {
        rx(move || sales.with(|s| money(f(&s.total), s.currency, l)))
    };
    let count_of =
        move |f: fn(&ChannelTotals) -> u64| rx(move || sales.with(|s| thousands(f(&s.total))));
    view! {
        <Panel title=l.t(K::Sales) testid="sales" wide=true>
            <div class="row-figures" data-testid="sales-total">
                <div class="figure">
                    <span class="figure-label">{l.t(K::Revenue)}</span>
                    <span class="figure-value big" data-testid="sales-revenue">{money_of(|t| t.revenue_cents)}</span>
                </div>
                <div class="figure">
                    <span class="figure-label">{l.t(K::Orders)}</span>
                    <span class="figure-value" data-testid="sales-orders">{count_of(|t| t.orders)}</span>
                </div>
                <div class="figure">
                    <span class="figure-label">{l.t(K::AvgOrder)}</span>
                    <span class="figure-value" data-testid="sales-aov">{money_of(|t| t.aov_cents)}</span>
                </div>
                <div class="figure">
                    <span class="figure-label">{l.t(K::CancelledRefunded)}</span>
                    <span class="figure-value" data-testid="sales-cancelled">{count_of(|t| t.cancelled)}</span>
                </div>
            </div>
            <div class="chart-head">
                <div class="chart-controls">
                    <label class="muted small">
                        {l.t(K::Window)}
                        <select
                            data-testid="sales-window-select"
                            on:change=move |ev| {
                                let sp = Span::parse(&event_target_value(&ev));
                                if let Some(st) = store.store() {
                                    ui.update_settings(&st, |s| s.set_span(sp));
                                }
                            }
                        >
                            {Span::ALL
                                .into_iter()
                                .map(|s| view! { <option value=s.as_str() selected=rb(move || span.get() == s)>{s.label(l)}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <label class="muted small">
                        {l.t(K::Range)}
                        <select
                            data-testid="chart-range"
                            node_ref=range
                            on:change=move |ev| {
                                let n = event_target_value(&ev).parse::<u32>().unwrap_or(60);
                                if let Some(st) = store.store() {
                                    ui.update_settings(&st, |s| s.chart_windows = n);
                                }
                            }
                        ></select>
                    </label>
                </div>
                <ul class="legend" data-testid="sales-legend" node_ref=legend></ul>
            </div>
            <SalesChart span=span count=count hidden=hidden />
            <div class="two-col">
                <div>
                    <SubHead title=l.t(K::ByChannel) table="sales-by-channel" csv=channel_csv />
                    <table class="table" data-testid="sales-by-channel">
                        <thead node_ref=chan_head></thead>
                        <tbody node_ref=chan_body></tbody>
                    </table>
                </div>
                <div>
                    <SubHead title=l.t(K::RecentWindows) table="sales-windows" csv=windows_csv />
                    <table class="table" data-testid="sales-windows">
                        <thead node_ref=win_head></thead>
                        <tbody node_ref=win_body></tbody>
                    </table>
                </div>
            </div>
            <p class="muted small" data-testid="sales-notes">
                {rx(move || {
                    let (other, late) = sales.with(|s| (s.other_currency_orders, s.late_orders));
                    let h = hidden.get();
                    let mut t = l.f(K::SalesNotes, &[&thousands(other), &thousands(late)]);
                    if !h.is_empty() {
                        t.push_str(" · ");
                        t.push_str(&l.f(K::HiddenNote, &[&h.join(", ")]));
                    }
                    t
                })}
            </p>
            <h3>{l.t(K::BusinessFigures)}</h3>
            <ul class="rows" data-testid="sales-figures" tabindex="0" aria-label=l.t(K::BusinessFigures) node_ref=figs></ul>
        </Panel>
    }
}

/// The canvas; redrawn (throttled) when the sales section, the span or the
/// window size changes.
#[component]
fn SalesChart(
    /// Selected window span.
    span: Memo<Span>,
    /// Windows shown.
    count: Memo<usize>,
    /// Channels not shown.
    hidden: Memo<Vec<String>>,
) -> impl IntoView {
    let l = lang();
    let theme = expect_context::<Ui>().theme;
    let sales = expect_context::<Sections>().sales;
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();
    // The canvas's CSS box, from a ResizeObserver (reading it in the draw
    // would force a layout in the middle of the publish's DOM updates).
    let css_px = RwSignal::new((0i32, 0i32));
    let observer = StoredValue::new_local(None::<web_sys::ResizeObserver>);
    Effect::new(move |_| {
        if let Some(c) = canvas_ref.get() {
            if let Some(ro) = observe_size(&c, css_px) {
                observer.set_value(Some(ro));
            }
        }
    });
    on_cleanup(move || {
        observer.try_update_value(|o| {
            if let Some(ro) = o.take() {
                ro.disconnect();
            }
        });
    });
    let throttle = Rc::new(Throttle::default());
    let last = StoredValue::new_local(None::<Drawn>);
    Effect::new(move |_| {
        sales.track();
        span.track();
        count.track();
        hidden.track();
        theme.track();
        css_px.track();
        if canvas_ref.get().is_none() {
            return;
        }
        throttle.request(move || {
            // A trailing draw may fire after a language switch rebuilt the
            // dashboard: the old chart's signals are gone then.
            let (
                Some(Some(canvas)),
                Some(span),
                Some(windows),
                Some(theme),
                Some(hidden),
                Some(size),
            ) = (
                canvas_ref.try_get_untracked(),
                span.try_get_untracked(),
                count.try_get_untracked(),
                theme.try_get_untracked(),
                hidden.try_get_untracked(),
                css_px.try_get_untracked(),
            )
            else {
                return;
            };
            let opts = ChartOpts {
                span,
                windows,
                lang: l,
                theme,
                hidden,
            };
            let _ = sales.try_with_untracked(|s: &SalesView| {
                let now = Drawn::of(s, &opts, size);
                if last.try_with_value(|d| d.as_ref() == Some(&now)) == Some(true) {
                    return; // the same picture
                }
                if let Err(e) = draw(&canvas, s, &opts, size) {
                    leptos::logging::warn!("sales chart: {e}");
                }
                last.try_set_value(Some(now));
            });
        });
    });
    let png = move |_| {
        if let Some(c) = canvas_ref.get_untracked() {
            download_canvas(&c, &file_name("sales-chart", "png", now_ms()));
        }
    };
    view! {
        <div class="chart-box">
            <canvas
                node_ref=canvas_ref
                class="chart"
                data-testid="sales-chart"
                role="img"
                aria-label=l.t(K::ChartLabel)
            ></canvas>
            <button
                type="button"
                class="btn tiny chart-export"
                data-testid="export-png"
                data-chart="sales"
                aria-label=l.t(K::PngLabel)
                title=l.t(K::PngLabel)
                on:click=png
            >
                "PNG"
            </button>
        </div>
    }
}

/// Observes `canvas`'s CSS box into `css_px` (the callback holds no
/// reference to the canvas, so a removed canvas is not kept alive by it).
fn observe_size(
    canvas: &web_sys::HtmlCanvasElement,
    css_px: RwSignal<(i32, i32)>,
) -> Option<web_sys::ResizeObserver> {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
        let Some(target) = entries
            .get(0)
            .dyn_into::<web_sys::ResizeObserverEntry>()
            .ok()
            .map(|e| e.target())
        else {
            return;
        };
        let size = (target.client_width(), target.client_height());
        if css_px.try_get_untracked().is_some_and(|s| s != size) {
            css_px.try_set(size);
        }
    })
    .into_js_value();
    let ro = web_sys::ResizeObserver::new(on_resize.unchecked_ref()).ok()?;
    ro.observe(canvas);
    Some(ro)
}
