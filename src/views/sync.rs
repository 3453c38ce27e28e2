//! Order sync: channel x target matrix, stuck orders, invalid transitions,
//! lag histograms and the order-volume forecast.

use leptos::prelude::*;
use shoppulse_core::event::{SyncStatus, Target};
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{InvalidTransition, LagHistogram, StuckOrder, SyncCell, SyncView};
use web_sys::Element;

use super::widgets::{
    csv_button, csv_click, fx, lang, off_note, on_click, panel, part, set_attr, set_text, sub_head,
    Slot,
};
use crate::dom::{
    button, content_keys, drill_button, el, fill, key_of, keyed, keyed_morph, patch, svg, text,
    KeyCache, E,
};
use crate::export::{csv_time, Csv};
use crate::format::{duration_ms, opt_ms, percent, thousands};
use crate::i18n::{Lang, K};
use crate::state::Sections;
use crate::ui::Ui;

/// Column heading for a target.
pub fn target_title(t: Target, l: Lang) -> &'static str {
    l.t(match t {
        Target::Payment => K::TPayment,
        Target::Inventory => K::TInventory,
        Target::Logistics => K::TLogistics,
        Target::CustomerService => K::TCustomerService,
    })
}

/// A sync status in `l` (the wire name in English).
pub fn status_title(s: SyncStatus, l: Lang) -> &'static str {
    l.t(match s {
        SyncStatus::Pending => K::SPending,
        SyncStatus::Synced => K::SSynced,
        SyncStatus::Failed => K::SFailed,
        SyncStatus::Retrying => K::SRetrying,
    })
}

/// A core invalid-transition reason in `l`.
fn invalid_reason(reason: &str, l: Lang) -> String {
    if l == Lang::En {
        return reason.to_owned();
    }
    if reason == "logistics synced before payment" {
        return l.t(K::ReasonLogisticsFirst).to_owned();
    }
    if let Some(st) = reason.strip_suffix(" after synced") {
        let st = SyncStatus::parse(st).map_or(st, |s| status_title(s, l));
        return l.f(K::ReasonAfterSynced, &[&st]);
    }
    if let Some((a, b)) = reason
        .strip_prefix("attempt went down from ")
        .and_then(|r| r.split_once(" to "))
    {
        return l.f(K::ReasonAttemptDown, &[&a, &b]);
    }
    reason.to_owned()
}

fn matrix_csv(s: &SyncView, shows: &dyn Fn(&str) -> bool, l: Lang) -> String {
    let mut c = Csv::new(&[
        l.t(K::ColChannel),
        l.t(K::ColTarget),
        l.t(K::SPending),
        l.t(K::SSynced),
        l.t(K::SFailed),
        l.t(K::SRetrying),
        l.t(K::ColRetries),
        l.t(K::ColFailureRate),
        "p50_ms",
        "p95_ms",
        "p99_ms",
    ]);
    let ms = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_default();
    for cell in s.cells.iter().filter(|c| shows(&c.channel)) {
        c.row(&[
            cell.channel.clone(),
            cell.target.as_str().to_owned(),
            cell.count(SyncStatus::Pending).to_string(),
            cell.count(SyncStatus::Synced).to_string(),
            cell.count(SyncStatus::Failed).to_string(),
            cell.count(SyncStatus::Retrying).to_string(),
            cell.retries.to_string(),
            format!("{:.4}", cell.failure_rate),
            ms(cell.lag_p50_ms),
            ms(cell.lag_p95_ms),
            ms(cell.lag_p99_ms),
        ]);
    }
    c.finish()
}

fn stuck_csv(s: &SyncView, shows: &dyn Fn(&str) -> bool, l: Lang) -> String {
    let mut c = Csv::new(&[
        l.t(K::ColOrder),
        l.t(K::ColChannel),
        l.t(K::ColTarget),
        l.t(K::ColStatus),
        l.t(K::ColSince),
        l.t(K::ColStuckFor),
        l.t(K::ColLastError),
    ]);
    for o in s.stuck.iter().filter(|o| shows(&o.channel)) {
        c.row(&[
            o.order.to_string(),
            o.channel.clone(),
            o.target.as_str().to_owned(),
            o.status.as_str().to_owned(),
            csv_time(o.since_ms),
            o.stuck_for_ms.to_string(),
            o.last_error.clone().unwrap_or_default(),
        ]);
    }
    c.finish()
}

/// The matrix: a header row, then one row per channel, one cell per target.
fn matrix_els(cells: &[&SyncCell], l: Lang) -> Vec<E> {
    let head = el("thead", "").c(el("tr", "")
        .c(text("th", "", l.t(K::ColChannel)).a("scope", "col"))
        .cs(Target::ALL
            .into_iter()
            .map(|t| {
                text("th", "", target_title(t, l))
                    .a("scope", "col")
                    .a("data-target", t.as_str())
            })
            .collect()));
    let mut order: Vec<&str> = Vec::new();
    for c in cells {
        if !order.contains(&c.channel.as_str()) {
            order.push(&c.channel);
        }
    }
    let rows = order
        .into_iter()
        .map(|ch| {
            el("tr", "")
                .a("data-channel", ch)
                .c(text("th", "", ch).a("scope", "row"))
                .cs(Target::ALL
                    .into_iter()
                    .map(|t| {
                        cell_el(
                            ch,
                            t,
                            cells
                                .iter()
                                .find(|c| c.channel == ch && c.target == t)
                                .copied(),
                            l,
                        )
                    })
                    .collect())
        })
        .collect();
    vec![head, el("tbody", "").cs(rows)]
}

/// One matrix cell: counts per status, failure rate, lag percentiles; a
/// button opens its orders.
fn cell_el(channel: &str, target: Target, cell: Option<&SyncCell>, l: Lang) -> E {
    let td = |class: &str| {
        el("td", class)
            .a("data-testid", "sync-cell")
            .a("data-channel", channel)
            .a("data-target", target.as_str())
    };
    let Some(c) = cell else {
        return td("cell empty").t("—");
    };
    let health = if c.count(SyncStatus::Failed) > 0 || c.failure_rate >= 0.2 {
        "cell bad"
    } else if c.count(SyncStatus::Pending) + c.count(SyncStatus::Retrying) > 0 {
        "cell warn"
    } else {
        "cell ok"
    };
    let mut statuses = el("span", "statuses");
    for s in SyncStatus::ALL {
        statuses = statuses
            .c(text(
                "span",
                &format!("st st-{}", s.as_str()),
                &format!("{} {}", status_title(s, l), thousands(c.count(s))),
            )
            .a("data-status", s.as_str()))
            .t(" ");
    }
    let mut td = td(health);
    for s in SyncStatus::ALL {
        td = td.a(&format!("data-{}", s.as_str()), &c.count(s).to_string());
    }
    td.c(button(
        "cell-btn",
        &format!("cell:{channel}:{}", target.as_str()),
        "",
    )
    .a("data-drill", "cell")
    .a(
        "title",
        &l.f(K::OpenCell, &[&channel, &target_title(target, l)]),
    )
    .c(statuses)
    .c(el("span", "small block")
        .c(
            text("span", "", &l.f(K::FailPct, &[&percent(c.failure_rate)]))
                .a("data-testid", "failure-rate"),
        )
        .t(&l.f(K::Retries, &[&thousands(c.retries)])))
    .c(text(
        "span",
        "small muted block",
        &l.f(
            K::Percentiles,
            &[
                &opt_ms(c.lag_p50_ms, l),
                &opt_ms(c.lag_p95_ms, l),
                &opt_ms(c.lag_p99_ms, l),
            ],
        ),
    )
    .a("data-testid", "lag-percentiles")))
}

fn stuck_el(o: &StuckOrder, l: Lang) -> E {
    let id = o.order.to_string();
    el("li", "")
        .a("data-order-id", &id)
        .a("data-channel", &o.channel)
        .a("data-target", o.target.as_str())
        .c(drill_button(
            "order",
            &id,
            &l.f(
                K::StuckLine,
                &[
                    &id,
                    &o.channel,
                    &target_title(o.target, l),
                    &status_title(o.status, l),
                    &duration_ms(o.stuck_for_ms as f64, l),
                ],
            ),
        ))
        .o(o.last_error.as_deref().map(|e| text("span", "err", e)))
}

fn invalid_el(t: &InvalidTransition, l: Lang) -> E {
    let id = t.order.to_string();
    el("li", "")
        .a("data-order-id", &id)
        .a("data-channel", &t.channel)
        .a("data-target", t.target.as_str())
        .c(text("span", "muted small", &format_hms(t.ts_ms)))
        .t(" ")
        .c(drill_button(
            "order",
            &id,
            &l.f(
                K::InvalidLine,
                &[&id, &t.channel, &target_title(t.target, l)],
            ),
        ))
        .c(text("span", "err", &invalid_reason(&t.reason, l)))
}

/// Bucket label: upper bound of the bucket.
fn bound_label(ms: u64, l: Lang) -> String {
    if ms == u64::MAX {
        l.t(K::More).to_owned()
    } else {
        // reason: bucket bounds are small
        #[allow(clippy::cast_precision_loss)]
        let v = ms as f64;
        format!("≤{}", duration_ms(v, l))
    }
}

/// A small SVG bar histogram of one channel's sync lag.
fn hist_el(hist: &LagHistogram, l: Lang) -> E {
    let max = hist
        .buckets
        .iter()
        .map(|&(_, n)| n)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = hist.buckets.len().max(1);
    let bw = 100.0 / n as f64;
    let summary = hist
        .buckets
        .iter()
        .map(|&(b, c)| format!("{}: {c}", bound_label(b, l)))
        .collect::<Vec<_>>()
        .join(", ");
    let bars = hist
        .buckets
        .iter()
        .enumerate()
        .map(|(i, &(bound, count))| {
            let h = count as f64 / max as f64 * 36.0;
            let label = bound_label(bound, l);
            svg("rect", "")
                .a("x", &format!("{:.2}", i as f64 * bw + bw * 0.1))
                .a("y", &format!("{:.2}", 40.0 - h))
                .a("width", &format!("{:.2}", bw * 0.8))
                .a("height", &format!("{h:.2}"))
                .a("data-bound", &label)
                .a("data-count", &count.to_string())
                .c(svg("title", "").t(&format!("{label}: {count}")))
        })
        .collect();
    let edge = |b: Option<&(u64, u64)>| b.map(|&(b, _)| bound_label(b, l)).unwrap_or_default();
    el("figure", "hist")
        .a("data-channel", &hist.channel)
        .c(text("figcaption", "", &hist.channel))
        .c(svg("svg", "hist-svg")
            .a("viewBox", "0 0 100 40")
            .a("preserveAspectRatio", "none")
            .a("role", "img")
            .a(
                "aria-label",
                &format!("{}: {summary}", l.f(K::LagHistLabel, &[&hist.channel])),
            )
            .cs(bars))
        .c(el("div", "hist-axis muted small")
            .c(text("span", "", &edge(hist.buckets.first())))
            .c(text("span", "", &edge(hist.buckets.last()))))
}

/// The order-sync panel.
#[allow(clippy::too_many_lines)] // reason: one panel, laid out top to bottom
pub fn sync_panel() -> Element {
    let l = lang();
    let settings = expect_context::<Ui>().settings;
    let sync = expect_context::<Sections>().sync;
    let counts = move || sync.with(|s| (s.stuck_count, s.invalid_count, s.sla_ms));
    let shows = move |c: &str| settings.with_untracked(|s| s.shows(c));
    let m_csv = move || sync.with_untracked(|s| matrix_csv(s, &shows, l));
    let s_csv = move || sync.with_untracked(|s| stuck_csv(s, &shows, l));
    let f_csv = move || {
        let mut c = Csv::new(&[
            l.t(K::ColChannel),
            l.t(K::ColLastMinute),
            l.t(K::ColNextMinute),
        ]);
        sync.with_untracked(|s| {
            for f in s.forecast.iter().filter(|f| shows(&f.channel)) {
                c.row(&[
                    f.channel.clone(),
                    f.last_minute_orders.to_string(),
                    format!("{:.2}", f.next_minute_orders),
                ]);
            }
        });
        c.finish()
    };
    let matrix = Slot::new();
    let stuck = Slot::new();
    let invalid = Slot::new();
    let hists = Slot::new();
    let forecast = Slot::new();
    let forecast_head = Slot::new();
    let stuck_cache = StoredValue::new_local(KeyCache::new());
    let invalid_cache = StoredValue::new_local(KeyCache::new());
    fx(move || {
        let h = settings.with(|s| s.hidden_channels.clone());
        let visible = |c: &str| !h.iter().any(|x| x == c);
        sync.with(|s| {
            if let Some(t) = matrix.get() {
                let cells: Vec<&SyncCell> =
                    s.cells.iter().filter(|c| visible(&c.channel)).collect();
                patch(&t, matrix_els(&cells, l));
            }
            if let Some(u) = stuck.get() {
                let rows: Vec<&StuckOrder> =
                    s.stuck.iter().filter(|o| visible(&o.channel)).collect();
                let keys: Vec<u64> = rows
                    .iter()
                    .map(|o| key_of(&format!("{}\u{1}{}", o.order, o.target.as_str())))
                    .collect();
                stuck_cache.update_value(|c| keyed_morph(c, &u, &keys, &|i| stuck_el(rows[i], l)));
            }
            if let Some(u) = invalid.get() {
                let keys = content_keys(&s.invalid);
                invalid_cache
                    .update_value(|c| keyed(c, &u, &keys, &|i| invalid_el(&s.invalid[i], l)));
            }
            if let Some(d) = hists.get() {
                patch(
                    &d,
                    s.lag_histograms
                        .iter()
                        .filter(|x| visible(&x.channel))
                        .map(|x| hist_el(x, l))
                        .collect(),
                );
            }
            if let Some(b) = forecast.get() {
                patch(
                    &b,
                    s.forecast
                        .iter()
                        .filter(|x| visible(&x.channel))
                        .map(|f| {
                            el("tr", "")
                                .a("data-channel", &f.channel)
                                .c(text("td", "", &f.channel))
                                .c(text("td", "num", &thousands(f.last_minute_orders)))
                                .c(text("td", "num", &format!("{:.1}", f.next_minute_orders)))
                        })
                        .collect(),
                );
            }
        });
    });
    fx(move || {
        if let Some(h) = forecast_head.get() {
            fill(
                &h,
                vec![
                    el("tr", "").cs([K::ColChannel, K::ColLastMinute, K::ColNextMinute]
                        .into_iter()
                        .map(|k| text("th", "", l.t(k)).a("scope", "col"))
                        .collect()),
                ],
            );
        }
    });
    let list = |testid: &str, label: &str| {
        el("ul", "rows bad")
            .a("data-testid", testid)
            .a("tabindex", "0")
            .a("aria-label", label)
    };
    let root = panel(l.t(K::OrderSync), "sync", true)
        .c(el("div", "sub-head")
            .c(el("span", ""))
            .c(csv_button("sync-matrix", l.t(K::OrderSync))))
        .c(el("div", "scroll-x")
            .a("tabindex", "0")
            .a("aria-label", l.t(K::OrderSync))
            .c(el("table", "table matrix").a("data-testid", "sync-matrix")))
        .c(el("div", "two-col")
            .c(el("div", "")
                .c(el("div", "sub-head")
                    .c(el("h3", "").a("data-part", "stuck-title"))
                    .c(csv_button("stuck-orders", l.t(K::ColOrder))))
                .c(list("stuck-orders", "")))
            .c(el("div", "")
                .c(el("h3", "").a("data-part", "invalid-title"))
                .c(list("invalid-transitions", l.t(K::InvalidTransitions)))))
        .c(el("div", "two-col")
            .c(el("div", "")
                .c(text("h3", "", l.t(K::LagPerChannel)))
                .c(el("div", "hists").a("data-testid", "lag-histograms")))
            .c(el("div", "")
                .c(sub_head(l.t(K::Forecast), "sync-forecast"))
                .c(el("table", "table")
                    .a("data-testid", "sync-forecast")
                    .c(el("thead", ""))
                    .c(el("tbody", "")))))
        .materialise();
    off_note(&root, "sync-off", move || {
        settings.with(|s| !s.compute_sync)
    });
    matrix.find(&root, "[data-testid=sync-matrix]");
    stuck.find(&root, "[data-testid=stuck-orders]");
    invalid.find(&root, "[data-testid=invalid-transitions]");
    hists.find(&root, "[data-testid=lag-histograms]");
    forecast.find(&root, "[data-testid=sync-forecast] tbody");
    forecast_head.find(&root, "[data-testid=sync-forecast] thead");
    let stuck_h = part(&root, "[data-part=stuck-title]");
    let stuck_list = part(&root, "[data-testid=stuck-orders]");
    let invalid_h = part(&root, "[data-part=invalid-title]");
    for h in [&stuck_h, &invalid_h] {
        let _ = h.remove_attribute("data-part");
    }
    fx(move || {
        let (n, bad, sla) = counts();
        let title = l.f(
            K::StuckOrders,
            &[&thousands(n), &duration_ms(sla as f64, l)],
        );
        set_text(&stuck_h, &title);
        set_attr(&stuck_list, "aria-label", &title);
        set_text(&invalid_h, &l.f(K::InvalidTransitions, &[&thousands(bad)]));
    });
    on_click(&root, move |id, e| {
        if id == "export-csv" {
            csv_click(
                e,
                &[
                    ("sync-matrix", &m_csv),
                    ("stuck-orders", &s_csv),
                    ("sync-forecast", &f_csv),
                ],
            );
        }
    });
    root
}
