//! The alerts panel: coalesced rows with time, repeat count and an
//! acknowledge button, the held-back summary, and a CSV export.

use leptos::prelude::*;
use shoppulse_core::time::{format_hms, format_rfc3339_ms};
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::sync::target_title;
use super::widgets::{
    csv_button, csv_click, fx, lang, on, on_click, part, set_attr, set_class, set_text,
};
use crate::alerts::{AlertKind, AlertRow, AlertsView};
use crate::dom::{button, drill_button, el, keyed_morph, text, KeyCache, E};
use crate::export::{csv_time, Csv};
use crate::format::{duration_ms, percent};
use crate::i18n::{Lang, K};
use crate::state::{Signals, StoreHandle};

/// The kind's name in `l`.
pub fn kind_title(k: AlertKind, l: Lang) -> &'static str {
    l.t(match k {
        AlertKind::LowStock => K::KindLow,
        AlertKind::OutOfStock => K::KindOut,
        AlertKind::Oversold => K::KindOversold,
        AlertKind::SyncFailures => K::KindFail,
        AlertKind::SyncLag => K::KindLag,
        AlertKind::Stuck => K::KindStuck,
    })
}

/// One alert in words.
pub fn alert_text(r: &AlertRow, l: Lang) -> String {
    // reason: quantities and counts are whole numbers carried as f64
    #[allow(clippy::cast_possible_truncation)]
    let whole = |v: f64| v.round() as i64;
    let target = r.target.map_or("", |t| target_title(t, l));
    match r.kind {
        AlertKind::LowStock => l.f(K::AlertLow, &[&r.subject, &whole(r.value), &whole(r.limit)]),
        AlertKind::OutOfStock => l.f(K::AlertOut, &[&r.subject]),
        AlertKind::Oversold => l.f(K::AlertOversold, &[&r.subject, &whole(r.value)]),
        AlertKind::SyncFailures => l.f(
            K::AlertFail,
            &[&r.subject, &target, &percent(r.value), &percent(r.limit)],
        ),
        AlertKind::SyncLag => l.f(
            K::AlertLag,
            &[
                &r.subject,
                &target,
                &duration_ms(r.value, l),
                &duration_ms(r.limit, l),
            ],
        ),
        AlertKind::Stuck => l.f(
            K::AlertStuck,
            &[&r.subject, &whole(r.value), &duration_ms(r.limit, l)],
        ),
    }
}

fn alerts_csv(v: &AlertsView, l: Lang) -> String {
    let mut c = Csv::new(&[
        l.t(K::ColKind),
        l.t(K::ColSubject),
        l.t(K::ColTarget),
        l.t(K::ColValue),
        l.t(K::ColThreshold),
        l.t(K::ColCount),
        l.t(K::ColFirst),
        l.t(K::ColLast),
        l.t(K::ColActive),
        l.t(K::ColAcked),
    ]);
    for r in &v.rows {
        c.row(&[
            r.kind.key().to_owned(),
            r.subject.clone(),
            r.target.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            format!("{}", r.value),
            format!("{}", r.limit),
            r.count.to_string(),
            csv_time(r.first_ms),
            csv_time(r.last_ms),
            r.active.to_string(),
            r.acked.to_string(),
        ]);
    }
    c.finish()
}

/// One alert row.
fn row_el(r: &AlertRow, l: Lang) -> E {
    let words = alert_text(r, l);
    let sev = match r.kind {
        AlertKind::OutOfStock | AlertKind::Oversold | AlertKind::SyncFailures => "sev-bad",
        _ => "sev-warn",
    };
    let class = format!(
        "alert {sev}{}{}",
        if r.active { "" } else { " resolved" },
        if r.acked { " acked" } else { "" }
    );
    let subject = match r.kind {
        k if k.is_product() => drill_button("product", &r.subject, &words),
        AlertKind::SyncFailures | AlertKind::SyncLag => el("span", "alert-cell")
            .a("data-channel", &r.subject)
            .a("data-target", r.target.map_or("", |t| t.as_str()))
            .c(
                button("link", &format!("cell:{}:{}", r.id, r.subject), &words)
                    .a("data-drill", "cell"),
            ),
        _ => el("span", "").t(&words),
    };
    let state = if !r.active {
        Some(l.t(K::Resolved))
    } else if r.acked {
        Some(l.t(K::Acked))
    } else {
        None
    };
    let ack = (!r.acked && r.active).then(|| {
        button("btn tiny", &format!("ack:{}", r.id), l.t(K::Ack))
            .a("data-testid", "alert-ack")
            .a("data-ack", &r.id.to_string())
            .a("aria-label", &l.f(K::AckOne, &[&words]))
    });
    el("li", &class)
        .a("data-testid", "alert-row")
        .a("data-kind", r.kind.key())
        .a("data-subject", &r.subject)
        .a("data-count", &r.count.to_string())
        .a("data-active", if r.active { "true" } else { "false" })
        .a("data-acked", if r.acked { "true" } else { "false" })
        .c(text("time", "alert-time", &format_hms(r.event_ms))
            .a("data-testid", "alert-time")
            .a("datetime", &format_rfc3339_ms(r.event_ms)))
        .c(text("span", "alert-kind tag", kind_title(r.kind, l)))
        .c(el("span", "alert-text").c(subject))
        .c(text(
            "span",
            if r.count > 1 {
                "alert-count many"
            } else {
                "alert-count"
            },
            &l.f(K::TimesN, &[&r.count]),
        )
        .a("data-testid", "alert-count"))
        .c(text(
            "span",
            "muted small alert-when",
            &l.f(
                K::FirstLast,
                &[&format_hms(r.first_ms), &format_hms(r.last_ms)],
            ),
        ))
        .o(state.map(|s| text("span", "tag muted", s)))
        .o(ack)
}

/// The list: rows (each keeps its element while it lives), then the
/// summary of held-back alerts.
fn render(list: &web_sys::Element, cache: &mut KeyCache, v: &AlertsView, l: Lang) {
    let mut keys: Vec<u64> = v.rows.iter().map(|r| r.id).collect();
    if v.held_total > 0 {
        keys.push(u64::MAX);
    }
    keyed_morph(cache, list, &keys, &|i| {
        if let Some(r) = v.rows.get(i) {
            return row_el(r, l);
        }
        let kinds = v
            .held
            .iter()
            .map(|(k, c)| format!("{} {c}", kind_title(*k, l)))
            .collect::<Vec<_>>()
            .join(", ");
        text(
            "li",
            "alert summary",
            &l.f(K::HeldSummary, &[&v.held_total, &v.per_minute, &kinds]),
        )
        .a("data-testid", "alert-summary")
        .a("data-count", &v.held_total.to_string())
    });
}

/// The alerts panel.
pub fn alerts_panel() -> Element {
    let l = lang();
    let alerts = expect_context::<Signals>().alerts;
    let store = expect_context::<StoreHandle>();
    let root = el("section", "panel wide alerts-panel")
        .a("aria-labelledby", "alerts-title")
        .c(el("div", "panel-head")
            .c(el("h2", "")
                .a("id", "alerts-title")
                .t(l.t(K::Alerts))
                .c(el("span", "badge")))
            .c(el("div", "head-actions")
                .c(text("button", "btn tiny", l.t(K::AckAll))
                    .a("type", "button")
                    .a("data-testid", "alerts-ack-all"))
                .c(text("button", "btn tiny", l.t(K::ClearResolved))
                    .a("type", "button")
                    .a("data-testid", "alerts-clear"))
                .c(csv_button("alerts", l.t(K::Alerts)))))
        .c(text("p", "muted", l.t(K::NoAlerts)).a("data-testid", "alerts-empty"))
        .c(el("ul", "alert-list")
            .a("data-testid", "alerts")
            .a("aria-labelledby", "alerts-title"))
        .materialise();
    let list = part(&root, "ul");
    let badge = part(&root, ".badge");
    let empty = part(&root, "p");
    let cache = StoredValue::new_local(KeyCache::new());
    let r = root.clone();
    fx(move || {
        alerts.with(|a| {
            set_attr(&r, "data-open", &a.open.to_string());
            set_class(&badge, "badge-on", a.open > 0);
            set_text(&badge, &l.f(K::AlertsOpen, &[&a.open]));
            set_class(&empty, "hidden", !a.rows.is_empty() || a.held_total > 0);
            cache.update_value(|c| render(&list, c, a, l));
        });
    });
    // Acknowledge buttons are plain DOM: one delegated handler.
    on(&root, "click", move |ev| {
        let id = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("[data-ack]").ok().flatten())
            .and_then(|b| b.get_attribute("data-ack"))
            .and_then(|s| s.parse::<u64>().ok());
        if id.is_some() {
            store.ack(id);
        }
    });
    on_click(&root, move |id, e| match id {
        "alerts-ack-all" => store.ack(None),
        "alerts-clear" => store.clear_resolved_alerts(),
        "export-csv" => csv_click(
            e,
            &[("alerts", &|| alerts.with_untracked(|a| alerts_csv(a, l)))],
        ),
        _ => {}
    });
    root
}
