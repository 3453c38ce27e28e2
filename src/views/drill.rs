//! The drill-down panel: a product (stock, depletion, sparkline, what sells
//! with it), a sync cell (its failed and stuck orders with their errors) or
//! an order (its sync state per target and the events seen here).
//!
//! Opened by clicking any element with `data-drill` (one delegated handler,
//! [`on_drill_click`]); it reads the engine through read-only queries and
//! follows the live view.

use leptos::prelude::*;
use shoppulse_core::event::{SyncStatus, Target};
use shoppulse_core::id::Id;
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{OrderTargetState, StockRow};
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::inventory::stockout_text;
use super::sync::{status_title, target_title};
use super::widgets::{fx, lang, on_click, part, set_attr, set_text, show, sparkline_el};
use crate::dom::{drill_button, el, patch, text, E};
use crate::format::{datetime, duration_ms, percent, thousands};
use crate::i18n::{Lang, K};
use crate::link::DrillData;
use crate::session::{NoteKind, OrderNote};
use crate::state::{Sections, Signals};
use crate::ui::{Drill, Ui};

/// The delegated click handler: opens the drill-down named by the nearest
/// `data-drill` element (`product` / `order` with `data-drill-id`, `cell`
/// inside an element with `data-channel` and `data-target`).
pub fn on_drill_click(ui: Ui, ev: &web_sys::Event) {
    let Some(el) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|t| t.closest("[data-drill]").ok().flatten())
    else {
        return;
    };
    let id = || el.get_attribute("data-drill-id").map(|s| Id::from_text(&s));
    let drill = match el.get_attribute("data-drill").as_deref() {
        Some("product") => id().map(Drill::Product),
        Some("order") => id().map(Drill::Order),
        Some("cell") => el
            .closest("[data-channel][data-target]")
            .ok()
            .flatten()
            .and_then(|c| {
                let ch = c.get_attribute("data-channel")?;
                let t = Target::parse(&c.get_attribute("data-target")?)?;
                Some(Drill::Cell(ch, t))
            }),
        _ => None,
    };
    if let Some(d) = drill {
        ui.settings_open.set(false);
        ui.drill.set(Some(d));
    }
}

/// What a drill-down shows, read from the engine (compared to skip
/// re-rendering when nothing changed).
#[derive(Clone, PartialEq, Debug)]
enum Data {
    Product {
        id: Id,
        stock: Option<StockRow>,
        partners: Vec<(Id, u64)>,
        score: Option<f64>,
        top: Option<u64>,
        now: i64,
    },
    Cell {
        orders: Vec<OrderTargetState>,
        figures: Option<String>,
    },
    Order {
        states: Vec<OrderTargetState>,
        notes: Vec<OrderNote>,
    },
}

/// A product's details; `recs_on`: the recommendations operator runs
/// (else its figures say they are not computed).
fn product_el(
    stock: Option<&StockRow>,
    partners: &[(Id, u64)],
    score: Option<f64>,
    top: Option<u64>,
    now: i64,
    recs_on: bool,
    l: Lang,
) -> Vec<E> {
    let fig = |label: K, value: E, note: Option<String>| {
        el("div", "figure")
            .c(text("span", "figure-label", l.t(label)))
            .c(value)
            .o(note.map(|n| text("span", "muted small", &n)))
    };
    let mut out = Vec::new();
    match stock {
        None => out.push(text("p", "muted", l.t(K::NotTracked)).a("data-testid", "drill-stock")),
        Some(r) => {
            let state = if r.quantity < 0 {
                K::StateOversold
            } else if r.quantity == 0 {
                K::StateOut
            } else if r.quantity <= r.threshold {
                K::StateLow
            } else {
                K::Stock
            };
            out.push(
                el("div", "drill-figures")
                    .c(fig(
                        K::Stock,
                        text("span", "figure-value big", &l.f(K::QtyNow, &[&r.quantity]))
                            .a("data-testid", "drill-stock")
                            .a("data-quantity", &r.quantity.to_string()),
                        Some(l.f(K::ThresholdN, &[&r.threshold])),
                    ))
                    .c(fig(
                        K::Depletion,
                        text(
                            "span",
                            "figure-value",
                            &l.f(K::PerHour, &[&format!("{:.1}", r.depletion_per_hour)]),
                        )
                        .a("data-testid", "drill-depletion"),
                        Some(stockout_text(r, now, l)),
                    ))
                    .c(fig(
                        K::StateLabel,
                        text("span", "figure-value", l.t(state)),
                        None,
                    )),
            );
            out.push(text("h3", "", l.t(K::StockHistory)));
            out.push(
                el("div", "drill-spark")
                    .a("data-testid", "drill-sparkline")
                    .a("data-points", &r.history.len().to_string())
                    .c(sparkline_el(&r.history, r.threshold)),
            );
            let span = |i: Option<&(i64, i64)>| i.map(|(t, _)| format_hms(*t)).unwrap_or_default();
            out.push(text(
                "p",
                "muted small",
                &format!("{} … {}", span(r.history.first()), span(r.history.last())),
            ));
        }
    }
    let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
    out.push(
        el("div", "drill-figures")
            .c(fig(
                K::Velocity,
                text(
                    "span",
                    "figure-value",
                    &dash(score.map(|s| format!("{s:.2}"))),
                ),
                None,
            ))
            .c(fig(
                K::TopCount,
                text("span", "figure-value", &dash(top.map(thousands))),
                None,
            )),
    );
    out.push(text("h3", "", l.t(K::OftenWith)));
    if !recs_on {
        out.push(text("p", "muted", l.t(K::NotComputed)).a("data-testid", "drill-recs-off"));
    } else if partners.is_empty() {
        out.push(text("p", "muted", l.t(K::NoPartners)));
    } else {
        out.push(
            el("ul", "rows").a("data-testid", "drill-recs").cs(partners
                .iter()
                .map(|(p, n)| {
                    let id = p.to_string();
                    el("li", "")
                        .a("data-product-id", &id)
                        .c(drill_button("product", &id, &l.f(K::ProductN, &[&id])))
                        .c(text("span", "num muted", &format!("{n}×")))
                })
                .collect()),
        );
    }
    out
}

fn cell_el(orders: &[OrderTargetState], figures: Option<&str>, l: Lang) -> Vec<E> {
    let mut out = vec![
        text(
            "p",
            "muted",
            &figures
                .map(|f| l.f(K::CellFigures, &[&f]))
                .unwrap_or_default(),
        )
        .a("data-testid", "drill-cell-figures"),
        text("h3", "", l.t(K::UnsyncedOrders)),
    ];
    if orders.is_empty() {
        out.push(text("p", "muted", l.t(K::NoUnsynced)));
    }
    out.push(
        el("ul", "rows drill-orders")
            .a("data-testid", "drill-orders")
            .cs(orders
                .iter()
                .map(|o| {
                    let id = o.order.to_string();
                    el("li", "")
                        .a("data-testid", "drill-order-row")
                        .a("data-order-id", &id)
                        .a("data-status", o.status.as_str())
                        .c(drill_button("order", &id, &l.f(K::OrderDetails, &[&id])))
                        .c(text(
                            "span",
                            &format!("tag st-{}", o.status.as_str()),
                            status_title(o.status, l),
                        ))
                        .c(text(
                            "span",
                            "muted small",
                            &format!(
                                "{} · {}",
                                l.f(K::AttemptN, &[&o.attempt]),
                                datetime(o.since_ms, l)
                            ),
                        ))
                        .o(o.last_error
                            .as_deref()
                            .map(|e| text("span", "err", e).a("data-testid", "drill-error")))
                })
                .collect()),
    );
    out
}

/// A note of an order's timeline in words.
fn note_text(what: &NoteKind, l: Lang) -> String {
    match what {
        NoteKind::Order(status) => l.f(K::OrderStatusIs, &[status]),
        NoteKind::Sync {
            target,
            status,
            attempt,
            latency_ms,
            ..
        } => {
            let mut s = format!(
                "{} → {} · {}",
                target_title(*target, l),
                status_title(*status, l),
                l.f(K::AttemptN, &[attempt])
            );
            if let Some(ms) = latency_ms {
                s.push_str(" · ");
                s.push_str(&l.f(K::LatencyN, &[&duration_ms(*ms as f64, l)]));
            }
            s
        }
    }
}

/// An order's details; `sync_on`: the order-sync operator runs.
fn order_el(states: &[OrderTargetState], notes: &[OrderNote], sync_on: bool, l: Lang) -> Vec<E> {
    let mut out = Vec::new();
    if let Some(c) = states
        .first()
        .map(|s| &s.channel)
        .or_else(|| notes.first().map(|n| &n.channel))
    {
        out.push(text("p", "muted", &format!("{}: {c}", l.t(K::ColChannel))));
    }
    out.push(text("h3", "", l.t(K::CurrentSync)));
    if !sync_on {
        out.push(text("p", "muted", l.t(K::NotComputed)).a("data-testid", "drill-sync-off"));
    } else if states.is_empty() {
        out.push(text("p", "muted", l.t(K::UnknownOrder)));
    } else {
        let th = |k: K| text("th", "", l.t(k)).a("scope", "col");
        out.push(
            el("table", "table")
                .a("data-testid", "drill-sync-states")
                .c(el("thead", "").c(el("tr", "")
                    .c(th(K::ColTarget))
                    .c(th(K::ColStatus))
                    .c(th(K::ColSince))
                    .c(th(K::ColLastError))))
                .c(el("tbody", "").cs(states
                    .iter()
                    .map(|s| {
                        el("tr", "")
                            .a("data-target", s.target.as_str())
                            .a("data-status", s.status.as_str())
                            .c(text("td", "", target_title(s.target, l)))
                            .c(text(
                                "td",
                                &format!("st-{}", s.status.as_str()),
                                &format!(
                                    "{} ({})",
                                    status_title(s.status, l),
                                    l.f(K::AttemptN, &[&s.attempt])
                                ),
                            ))
                            .c(text("td", "", &datetime(s.since_ms, l)))
                            .c(text(
                                "td",
                                "err",
                                s.last_error.as_deref().unwrap_or_default(),
                            ))
                    })
                    .collect())),
        );
    }
    out.push(text("h3", "", l.t(K::Timeline)));
    if notes.is_empty() {
        out.push(text("p", "muted", l.t(K::NoTimeline)));
    } else {
        out.push(
            el("ol", "timeline")
                .a("data-testid", "drill-timeline")
                .cs(notes
                    .iter()
                    .map(|n| {
                        let err = match &n.what {
                            NoteKind::Sync { error: Some(e), .. } => Some(text("span", "err", e)),
                            _ => None,
                        };
                        el("li", "")
                            .a("data-testid", "timeline-row")
                            .c(text("time", "muted small", &datetime(n.ts_ms, l)))
                            .c(text("span", "", &note_text(&n.what, l)))
                            .o(err)
                    })
                    .collect()),
        );
    }
    out
}

/// What `drill` shows: the engine's side from the host's answer in
/// `signals.extras` (`None` until the host answered for this drill-down),
/// the rest from the sections.
fn read(drill: &Drill, signals: Signals, sections: Sections, l: Lang) -> Option<Data> {
    let data = signals.extras.with(|x| {
        x.drill
            .as_ref()
            .filter(|(d, _)| d == drill)
            .map(|(_, data)| data.clone())
    })?;
    match (drill, data) {
        (
            Drill::Product(id),
            DrillData::Product {
                stock,
                partners,
                score,
                now_ms,
            },
        ) => {
            let top = sections.behavior.with(|b| {
                b.top_products
                    .iter()
                    .find(|p| p.product == *id)
                    .map(|p| p.count)
            });
            Some(Data::Product {
                id: id.clone(),
                stock,
                partners,
                score,
                top,
                now: now_ms,
            })
        }
        (Drill::Cell(ch, t), DrillData::Cell { orders }) => {
            let figures = sections.sync.with(|s| {
                s.cells
                    .iter()
                    .find(|c| c.channel == *ch && c.target == *t)
                    .map(|c| {
                        let counts = SyncStatus::ALL
                            .into_iter()
                            .map(|st| format!("{} {}", status_title(st, l), thousands(c.count(st))))
                            .collect::<Vec<_>>()
                            .join(" · ");
                        format!(
                            "{counts} · {}",
                            l.f(K::FailPct, &[&percent(c.failure_rate)])
                        )
                    })
            });
            Some(Data::Cell { orders, figures })
        }
        (Drill::Order(_), DrillData::Order { states, notes }) => {
            Some(Data::Order { states, notes })
        }
        _ => None,
    }
}

/// What the open drawer last drew: its data, and whether the
/// recommendations and order-sync operators ran.
type Drawn = (Data, (bool, bool));

/// The drawer.
pub fn drill_panel(parent: &Element, anchor: &web_sys::Node) {
    let drill = expect_context::<Ui>().drill;
    show(parent, anchor, move || drill.with(Option::is_some), drawer);
}

/// The open drawer.
fn drawer() -> Element {
    let l = lang();
    let ui = expect_context::<Ui>();
    let signals = expect_context::<Signals>();
    let sections = expect_context::<Sections>();
    let drill = ui.drill;
    let root = el("aside", "drawer")
        .a("data-testid", "drilldown")
        .a("role", "dialog")
        .a("aria-labelledby", "drill-title")
        .c(el("div", "drawer-head")
            .c(el("h2", "").a("id", "drill-title").a("tabindex", "-1"))
            .c(text("button", "btn", "✕")
                .a("type", "button")
                .a("data-testid", "drilldown-close")
                .a("aria-label", l.t(K::CloseDetails))))
        .c(el("div", "drill-body"))
        .materialise();
    on_click(&root, move |id, _| {
        if id == "drilldown-close" {
            drill.set(None);
        }
    });
    let title = part(&root, "h2");
    let aside = root.clone();
    fx(move || {
        let (t, kind) = match drill.get() {
            Some(Drill::Product(p)) => (l.f(K::ProductDetails, &[&p]), "product"),
            Some(Drill::Cell(c, t)) => (l.f(K::CellDetails, &[&c, &target_title(t, l)]), "cell"),
            Some(Drill::Order(o)) => (l.f(K::OrderDetails, &[&o]), "order"),
            None => (String::new(), ""),
        };
        set_text(&title, &t);
        set_attr(&aside, "data-kind", kind);
    });
    let body = part(&root, ".drill-body");
    let settings = ui.settings;
    let last: StoredValue<Option<Drawn>, LocalStorage> = StoredValue::new_local(None);
    fx(move || {
        let Some(d) = drill.get() else {
            last.set_value(None);
            return;
        };
        // The host answers with every publish for products and orders, and
        // once a second for a cell (its scan is costly).
        let Some(data) = read(&d, signals, sections, l) else {
            return;
        };
        let on = settings.with(|s| (s.compute_recs, s.compute_sync));
        if last.with_value(|p| p.as_ref().is_some_and(|(d, o)| *d == data && *o == on))
            && body.child_element_count() > 0
        {
            return;
        }
        let children = match &data {
            Data::Product {
                stock,
                partners,
                score,
                top,
                now,
                ..
            } => product_el(stock.as_ref(), partners, *score, *top, *now, on.0, l),
            Data::Cell { orders, figures } => cell_el(orders, figures.as_deref(), l),
            Data::Order { states, notes } => order_el(states, notes, on.1, l),
        };
        patch(&body, children);
        let (key, id) = match &d {
            Drill::Product(p) => ("data-product-id", p.to_string()),
            Drill::Order(o) => ("data-order-id", o.to_string()),
            Drill::Cell(ch, t) => {
                let _ = body.set_attribute("data-target", t.as_str());
                ("data-channel", ch.clone())
            }
        };
        let _ = body.set_attribute(key, &id);
        last.set_value(Some((data, on)));
    });
    // Move focus into the panel when it opens or shows another item
    // (keyboard users land on it).
    fx(move || {
        if drill.with(Option::is_some) {
            request_animation_frame(|| focus_selector("#drill-title"));
        }
    });
    root
}

/// Focuses the first element matching `sel` (for keyboard users).
pub fn focus_selector(sel: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(sel).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
