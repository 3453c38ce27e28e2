//! Sales: totals, revenue/orders chart per window, per-channel table,
//! recent windows (incomplete ones marked) and business figure lines.

use leptos::prelude::*;
use shoppulse_core::event::Currency;
use shoppulse_core::view::{ChannelTotals, SalesView, SalesWindow};
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::widgets::{
    csv_click, fx, lang, on, on_click, panel, part, set_value, sub_head, target_value, Slot,
    Throttle,
};
use crate::chart::sales::{channel_css, channels, draw, shown_windows, ChartOpts, Drawn, Span};
use crate::dom::{el, fill, patch, text, E};
use crate::export::{csv_time, download_canvas, file_name, Csv};
use crate::format::{decimal, money, thousands, window_label};
use crate::i18n::{Lang, K};
use crate::settings::window_choices;
use crate::state::{now_ms, Sections, StoreHandle};
use crate::ui::Ui;

/// Shortest time between two chart draws, ms.
const DRAW_EVERY_MS: f64 = 250.0;
/// Windows listed in the table, newest first.
const WINDOW_ROWS: usize = 12;

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

/// The four total figures (revenue, orders, average order, cancelled).
fn total_els(t: &ChannelTotals, cur: Option<Currency>, l: Lang) -> Vec<E> {
    let figure = |label: K, testid: &str, class: &str, value: &str| {
        el("div", "figure")
            .c(text("span", "figure-label", l.t(label)))
            .c(text("span", class, value).a("data-testid", testid))
    };
    vec![
        figure(
            K::Revenue,
            "sales-revenue",
            "figure-value big",
            &money(t.revenue_cents, cur, l),
        ),
        figure(
            K::Orders,
            "sales-orders",
            "figure-value",
            &thousands(t.orders),
        ),
        figure(
            K::AvgOrder,
            "sales-aov",
            "figure-value",
            &money(t.aov_cents, cur, l),
        ),
        figure(
            K::CancelledRefunded,
            "sales-cancelled",
            "figure-value",
            &thousands(t.cancelled),
        ),
    ]
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
#[allow(clippy::too_many_lines)] // reason: one panel, laid out top to bottom
pub fn sales_panel() -> Element {
    let l = lang();
    let ui = expect_context::<Ui>();
    let store = expect_context::<StoreHandle>();
    let sales = expect_context::<Sections>().sales;
    let settings = ui.settings;
    let span = Memo::new(move |_| settings.with(crate::settings::Settings::span));
    let count = Memo::new(move |_| settings.with(crate::settings::Settings::windows));
    let hidden = Memo::new(move |_| settings.with(|s| s.hidden_channels.clone()));
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
    let channel_csv = move || {
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
    };
    let windows_csv = move || {
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
    };
    let range = Slot::new();
    let legend = Slot::new();
    let chan_body = Slot::new();
    let win_body = Slot::new();
    let figs = Slot::new();
    let chan_head = Slot::new();
    let win_head = Slot::new();
    fx(move || {
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
    // The controls' choices, then the content: built here (cheaper in wasm
    // than templates) and diffed, so the parts that did not change cost
    // their building only (one effect each: an effect costs wasm too).
    let span_select = Slot::new();
    fx(move || {
        let sp = span.get();
        let cur = count.get();
        if let Some(r) = range.get() {
            patch(
                &r,
                option_els(
                    window_choices(sp)
                        .iter()
                        .map(|&n| (n.to_string(), sp.range_label(n, l), n as usize == cur))
                        .collect(),
                ),
            );
            set_value(&r, &cur.to_string());
        }
        if let Some(r) = span_select.get() {
            patch(
                &r,
                option_els(
                    Span::ALL
                        .into_iter()
                        .map(|s| (s.as_str().to_owned(), s.label(l).to_owned(), s == sp))
                        .collect(),
                ),
            );
            set_value(&r, sp.as_str());
        }
    });
    let totals = Slot::new();
    let notes = Slot::new();
    fx(move || {
        let h = hidden.get();
        let (sp, n) = (span.get(), count.get());
        let rows = by_channel();
        sales.with(|s| {
            if let Some(d) = totals.get() {
                patch(&d, total_els(&s.total, s.currency, l));
            }
            if let Some(u) = legend.get() {
                patch(&u, legend_items(&channels(shown_windows(s, sp, n), &h), l));
            }
            if let Some(b) = chan_body.get() {
                patch(&b, channel_rows(&rows, s.currency, l));
            }
            if let Some(b) = win_body.get() {
                patch(&b, window_rows(s, sp, l));
            }
            if let Some(u) = figs.get() {
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
            }
            if let Some(p) = notes.get() {
                let mut t = l.f(
                    K::SalesNotes,
                    &[
                        &thousands(s.other_currency_orders),
                        &thousands(s.late_orders),
                    ],
                );
                if !h.is_empty() {
                    t.push_str(" · ");
                    t.push_str(&l.f(K::HiddenNote, &[&h.join(", ")]));
                }
                if p.text_content().as_deref() != Some(t.as_str()) {
                    p.set_text_content(Some(&t));
                }
            }
        });
    });
    let root = panel(l.t(K::Sales), "sales", true)
        .c(el("div", "row-figures").a("data-testid", "sales-total"))
        .c(el("div", "chart-head")
            .c(el("div", "chart-controls")
                .c(el("label", "muted small")
                    .t(l.t(K::Window))
                    .c(el("select", "").a("data-testid", "sales-window-select")))
                .c(el("label", "muted small")
                    .t(l.t(K::Range))
                    .c(el("select", "").a("data-testid", "chart-range"))))
            .c(el("ul", "legend").a("data-testid", "sales-legend")))
        .c(el("div", "two-col")
            .c(el("div", "")
                .c(sub_head(l.t(K::ByChannel), "sales-by-channel"))
                .c(el("table", "table")
                    .a("data-testid", "sales-by-channel")
                    .c(el("thead", ""))
                    .c(el("tbody", ""))))
            .c(el("div", "")
                .c(sub_head(l.t(K::RecentWindows), "sales-windows"))
                .c(el("table", "table")
                    .a("data-testid", "sales-windows")
                    .c(el("thead", ""))
                    .c(el("tbody", "")))))
        .c(el("p", "muted small").a("data-testid", "sales-notes"))
        .c(text("h3", "", l.t(K::BusinessFigures)))
        .c(el("ul", "rows")
            .a("data-testid", "sales-figures")
            .a("tabindex", "0")
            .a("aria-label", l.t(K::BusinessFigures)))
        .materialise();
    totals.find(&root, "[data-testid=sales-total]");
    span_select.find(&root, "[data-testid=sales-window-select]");
    range.find(&root, "[data-testid=chart-range]");
    legend.find(&root, "[data-testid=sales-legend]");
    chan_head.find(&root, "[data-testid=sales-by-channel] thead");
    chan_body.find(&root, "[data-testid=sales-by-channel] tbody");
    win_head.find(&root, "[data-testid=sales-windows] thead");
    win_body.find(&root, "[data-testid=sales-windows] tbody");
    notes.find(&root, "[data-testid=sales-notes]");
    figs.find(&root, "[data-testid=sales-figures]");
    on(
        &part(&root, "[data-testid=sales-window-select]"),
        "change",
        move |ev| {
            let sp = Span::parse(&target_value(&ev));
            if let Some(st) = store.store() {
                ui.update_settings(&st, |s| s.set_span(sp));
            }
        },
    );
    on(
        &part(&root, "[data-testid=chart-range]"),
        "change",
        move |ev| {
            let n = target_value(&ev).parse::<u32>().unwrap_or(60);
            if let Some(st) = store.store() {
                ui.update_settings(&st, |s| s.chart_windows = n);
            }
        },
    );
    on_click(&root, move |id, e| {
        if id == "export-csv" {
            csv_click(
                e,
                &[
                    ("sales-by-channel", &channel_csv),
                    ("sales-windows", &windows_csv),
                ],
            );
        }
    });
    // The chart comes after the chart head.
    let head = part(&root, ".chart-head");
    let _ = root.insert_before(
        &sales_chart(span, count, hidden),
        head.next_sibling().as_ref(),
    );
    root
}

/// The canvas; redrawn (throttled) when the sales section, the span or the
/// window size changes.
fn sales_chart(
    // selected window span
    span: Memo<Span>,
    // windows shown
    count: Memo<usize>,
    // channels not shown
    hidden: Memo<Vec<String>>,
) -> Element {
    let l = lang();
    let theme = expect_context::<Ui>().theme;
    let sales = expect_context::<Sections>().sales;
    let canvas_ref = Slot::new();
    let resized = RwSignal::new(0u32);
    let listener = window_event_listener(leptos::ev::resize, move |_| {
        resized.try_update(|n| *n = n.wrapping_add(1));
    });
    on_cleanup(move || listener.remove());
    // Always in a task of its own, never inside the publish: by then the
    // frame's DOM updates are laid out, so reading the canvas size is free,
    // and the draw does not lengthen the publish.
    let throttle = Throttle::new("sales chart", DRAW_EVERY_MS, true);
    let last = StoredValue::new_local(None::<Drawn>);
    fx(move || {
        sales.track();
        span.track();
        count.track();
        hidden.track();
        theme.track();
        resized.track();
        if canvas_ref.get().is_none() {
            return;
        }
        throttle.request(move || {
            // A trailing draw may fire after a language switch rebuilt the
            // dashboard: the old chart's signals are gone then.
            let (Some(canvas), Some(span), Some(windows), Some(theme), Some(hidden)) = (
                canvas(canvas_ref),
                span.try_get_untracked(),
                count.try_get_untracked(),
                theme.try_get_untracked(),
                hidden.try_get_untracked(),
            ) else {
                return;
            };
            // Read in a task of its own (see `throttle`), after the frame's
            // layout: no forced layout.
            let size = (canvas.client_width(), canvas.client_height());
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
    let root = el("div", "chart-box")
        .c(el("canvas", "chart")
            .a("data-testid", "sales-chart")
            .a("role", "img")
            .a("aria-label", l.t(K::ChartLabel)))
        .c(text("button", "btn tiny chart-export", "PNG")
            .a("type", "button")
            .a("data-testid", "export-png")
            .a("data-chart", "sales")
            .a("aria-label", l.t(K::PngLabel))
            .a("title", l.t(K::PngLabel)))
        .materialise();
    canvas_ref.find(&root, "canvas");
    on_click(&root, move |id, _| {
        if id == "export-png" {
            if let Some(c) = canvas(canvas_ref) {
                download_canvas(&c, &file_name("sales-chart", "png", now_ms()));
            }
        }
    });
    root
}

/// The chart's canvas, while the chart is on the page.
fn canvas(slot: Slot) -> Option<web_sys::HtmlCanvasElement> {
    slot.get()?.dyn_into().ok()
}
