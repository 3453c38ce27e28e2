//! The settings panel: a form over the saved settings. Save validates every
//! field; a refused one keeps its text and gets a message next to it
//! (`data-testid="settings-error"`, tied to the input by
//! `aria-describedby`); nothing is saved until all pass.
//!
//! The form body is built with [`crate::dom`] when the panel opens and read
//! back from the inputs on save (the inputs hold the draft).

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use super::drill::focus_selector;
use super::widgets::{fx, lang, on, on_click, part, show, text_fx, Slot};
use crate::chart::sales::Span;
use crate::dom::{el, fill, text, E};
use crate::i18n::{Lang, K};
use crate::settings::{validate, window_choices, Draft, Field, FieldError, Settings};
use crate::state::{Sections, StoreHandle};
use crate::ui::Ui;

/// The text fields: field, label, help, multi-line.
const FIELDS: [(Field, K, Option<K>, bool); 7] = [
    (Field::FeedUrl, K::FeedUrl, Some(K::FeedUrlHelp), false),
    (
        Field::Threshold,
        K::Threshold,
        Some(K::ThresholdHelp),
        false,
    ),
    (
        Field::Products,
        K::ProductThresholds,
        Some(K::ProductThresholdsHelp),
        true,
    ),
    (Field::Sla, K::Sla, Some(K::SlaHelp), false),
    (Field::FailPct, K::FailRate, None, false),
    (Field::LagMs, K::LagAlert, None, false),
    (Field::AlertsPerMin, K::AlertsPerMin, None, false),
];

fn draft_value(d: &Draft, f: Field) -> &str {
    match f {
        Field::FeedUrl => &d.feed_url,
        Field::Threshold => &d.threshold,
        Field::Products => &d.products,
        Field::Sla => &d.sla,
        Field::FailPct => &d.fail_pct,
        Field::LagMs => &d.lag_ms,
        Field::AlertsPerMin => &d.alerts_per_min,
    }
}

fn by_id(id: &str) -> Option<Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// The `value` (or `checked`) property of an element.
fn prop(e: &Element, name: &str) -> JsValue {
    js_sys::Reflect::get(e, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn set_prop(e: &Element, name: &str, v: &JsValue) {
    let _ = js_sys::Reflect::set(e, &JsValue::from_str(name), v);
}

fn value_of(id: &str) -> String {
    by_id(id)
        .and_then(|e| prop(&e, "value").as_string())
        .unwrap_or_default()
}

/// One labelled field.
fn field_el(f: Field, label: K, help: Option<K>, multiline: bool, value: &str, l: Lang) -> E {
    let id = format!("set-{}", f.key());
    let input = if multiline {
        el("textarea", "").a("rows", "4").t(value)
    } else {
        el("input", "")
            .a("type", "text")
            .a("autocomplete", "off")
            .a(
                "inputmode",
                if f == Field::FeedUrl {
                    "url"
                } else {
                    "numeric"
                },
            )
            .a("value", value)
    }
    .a("id", &id)
    .a("spellcheck", "false")
    .a("data-testid", &format!("setting-{}", f.key()))
    .a("aria-invalid", "false");
    let input = match help {
        Some(_) => input.a("aria-describedby", &format!("help-{}", f.key())),
        None => input,
    };
    el("div", "field")
        .c(text("label", "", l.t(label)).a("for", &id))
        .c(input)
        .o(help.map(|h| text("p", "muted small", l.t(h)).a("id", &format!("help-{}", f.key()))))
}

fn select_el(testid: &str, label: &str, options: Vec<(String, String, bool)>) -> E {
    el("select", "")
        .a("data-testid", testid)
        .a("aria-label", label)
        .cs(options
            .into_iter()
            .map(|(v, t, sel)| {
                let o = el("option", "").a("value", &v).t(&t);
                if sel {
                    o.a("selected", "")
                } else {
                    o
                }
            })
            .collect())
}

fn range_options(span: Span, cur: usize, l: Lang) -> Vec<(String, String, bool)> {
    window_choices(span)
        .iter()
        .map(|&n| (n.to_string(), span.range_label(n, l), n as usize == cur))
        .collect()
}

fn check_el(testid: &str, channel: Option<&str>, on: bool, label: &str) -> E {
    let input = el("input", "")
        .a("type", "checkbox")
        .a("data-testid", testid);
    let input = match channel {
        Some(c) => input.a("data-channel", c),
        None => input,
    };
    let input = if on { input.a("checked", "") } else { input };
    el("label", "check").c(input).t(label)
}

/// The whole form body for `s`.
fn form_body(s: &Settings, channels: &[String], l: Lang) -> Vec<E> {
    let d = Draft::of(s);
    let f = |i: usize| {
        let (field, label, help, multi) = FIELDS[i];
        field_el(field, label, help, multi, draft_value(&d, field), l)
    };
    let fieldset = |legend: K, kids: Vec<E>| {
        el("fieldset", "")
            .c(text("legend", "", l.t(legend)))
            .cs(kids)
    };
    let span = s.span();
    let spans = Span::ALL
        .into_iter()
        .map(|x| (x.as_str().to_owned(), x.label(l).to_owned(), x == span))
        .collect();
    let checks: Vec<E> = channels
        .iter()
        .map(|c| check_el("setting-channel", Some(c), s.shows(c), c))
        .collect();
    let no_channels = channels
        .is_empty()
        .then(|| text("p", "muted small", l.t(K::NoChannels)));
    vec![
        f(0),
        fieldset(K::Inventory, vec![f(1), f(2)]),
        fieldset(K::OrderSync, vec![f(3)]),
        fieldset(
            K::ChartWindow,
            vec![el("div", "field inline")
                .c(select_el("setting-chart-span", l.t(K::ChartWindow), spans))
                .c(select_el(
                    "setting-chart-range",
                    l.t(K::Range),
                    range_options(span, s.windows(), l),
                ))],
        ),
        fieldset(
            K::ChannelsShown,
            no_channels
                .into_iter()
                .chain([el("div", "checks").cs(checks)])
                .collect(),
        ),
        fieldset(
            K::PanelsComputed,
            vec![
                text("p", "muted small", l.t(K::ComputedHelp)),
                el("div", "checks")
                    .c(check_el(
                        "setting-compute-recs",
                        None,
                        s.compute_recs,
                        l.t(K::Recommendations),
                    ))
                    .c(check_el(
                        "setting-compute-sync",
                        None,
                        s.compute_sync,
                        l.t(K::OrderSync),
                    )),
            ],
        ),
        fieldset(
            K::AlertRules,
            vec![
                f(4),
                f(5),
                f(6),
                check_el("setting-notify", None, s.notify, l.t(K::Notify)),
            ],
        ),
    ]
}

/// Shows `errors` next to their fields (and clears the others).
fn show_errors(form: &Element, errors: &[FieldError], l: Lang) {
    for (f, ..) in FIELDS {
        let Some(input) = by_id(&format!("set-{}", f.key())) else {
            continue;
        };
        let Some(wrap) = input.parent_element() else {
            continue;
        };
        let err_id = format!("err-{}", f.key());
        if let Some(old) = by_id(&err_id) {
            old.remove();
        }
        let err = errors.iter().find(|e| e.field == f);
        let _ = wrap
            .class_list()
            .toggle_with_force("invalid", err.is_some());
        let _ = input.set_attribute("aria-invalid", if err.is_some() { "true" } else { "false" });
        let help = FIELDS
            .iter()
            .find(|x| x.0 == f)
            .and_then(|x| x.2)
            .map(|_| format!("help-{}", f.key()));
        let mut described: Vec<String> = help.into_iter().collect();
        if let Some(e) = err {
            described.push(err_id.clone());
            let p = text("p", "field-error", &l.f(e.msg, &[&e.arg]))
                .a("id", &err_id)
                .a("data-testid", "settings-error")
                .a("data-field", f.key())
                .a("role", "alert");
            let _ = wrap.append_with_node_1(&p.materialise());
        }
        let _ = input.set_attribute("aria-describedby", &described.join(" "));
    }
    let _ = form;
}

/// The drawer with the form, while the settings are open.
pub fn settings_panel(parent: &Element, anchor: &web_sys::Node) {
    let open = expect_context::<Ui>().settings_open;
    show(parent, anchor, move || open.get(), settings_form);
}

#[allow(clippy::too_many_lines)] // reason: the form and its handlers, top to bottom
fn settings_form() -> Element {
    let l = lang();
    let ui = expect_context::<Ui>();
    let store = expect_context::<StoreHandle>();
    let sections = expect_context::<Sections>();
    let status = RwSignal::new(None::<K>);
    let form = Slot::new();
    // Every channel seen, plus hidden ones no longer in the view.
    let channels = move |s: &Settings| {
        let mut v: Vec<String> = sections
            .sales
            .with_untracked(|x| x.by_channel.iter().map(|c| c.channel.clone()).collect());
        sections
            .sync
            .with_untracked(|x| v.extend(x.cells.iter().map(|c| c.channel.clone())));
        v.extend(s.hidden_channels.iter().cloned());
        shoppulse_core::sort::sort_by(&mut v, Ord::cmp);
        v.dedup();
        v
    };
    let load = move |s: &Settings| {
        if let Some(c) = form.get() {
            fill(&c, form_body(s, &channels(s), l));
        }
    };
    fx(move || {
        if form.get().is_some() {
            load(&ui.settings.get_untracked());
            request_animation_frame(|| focus_selector("#settings-title"));
        }
    });
    let save = move || {
        let Some(body) = form.get() else {
            return;
        };
        let draft = Draft {
            feed_url: value_of("set-feed-url"),
            threshold: value_of("set-threshold"),
            products: value_of("set-product-thresholds"),
            sla: value_of("set-sla"),
            fail_pct: value_of("set-fail-rate"),
            lag_ms: value_of("set-lag-ms"),
            alerts_per_min: value_of("set-alert-rate"),
        };
        let mut base = ui.settings.get_untracked();
        let pick = |testid: &str| {
            body.query_selector(&format!("[data-testid=\"{testid}\"]"))
                .ok()
                .flatten()
                .and_then(|e| prop(&e, "value").as_string())
                .unwrap_or_default()
        };
        base.set_span(Span::parse(&pick("setting-chart-span")));
        base.chart_windows = pick("setting-chart-range").parse().unwrap_or(60);
        let mut hidden = Vec::new();
        if let Ok(list) = body.query_selector_all("[data-testid=\"setting-channel\"]") {
            for i in 0..list.length() {
                if let Some(e) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    if !prop(&e, "checked").is_truthy() {
                        hidden.extend(e.get_attribute("data-channel"));
                    }
                }
            }
        }
        base.hidden_channels = hidden;
        let checked = |testid: &str| {
            body.query_selector(&format!("[data-testid=\"{testid}\"]"))
                .ok()
                .flatten()
                .is_some_and(|e| prop(&e, "checked").is_truthy())
        };
        base.notify = checked("setting-notify");
        base.compute_recs = checked("setting-compute-recs");
        base.compute_sync = checked("setting-compute-sync");
        match validate(&draft, &base) {
            Ok(s) => {
                show_errors(&body, &[], l);
                if let Some(st) = store.store() {
                    ui.save_settings(&st, s);
                }
                status.set(Some(K::Saved));
            }
            Err(es) => {
                show_errors(&body, &es, l);
                status.set(Some(K::NotSaved));
                if let Some(e) = es.first() {
                    let sel = format!("#set-{}", e.field.key());
                    request_animation_frame(move || focus_selector(&sel));
                }
            }
        }
    };
    // The span select rebuilds the window choices; the notification box asks
    // for permission when turned on.
    let on_change = move |ev: web_sys::Event| {
        let Some(t) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        match t.get_attribute("data-testid").as_deref() {
            Some("setting-chart-span") => {
                let span = Span::parse(&prop(&t, "value").as_string().unwrap_or_default());
                if let Some(range) = form.get().and_then(|b| {
                    b.query_selector("[data-testid=\"setting-chart-range\"]")
                        .ok()
                        .flatten()
                }) {
                    let n = window_choices(span)[window_choices(span).len() - 1] as usize;
                    let opts = select_el("x", "", range_options(span, n, l)).materialise();
                    range.set_text_content(None);
                    while let Some(o) = opts.first_child() {
                        let _ = range.append_child(&o);
                    }
                    set_prop(&range, "value", &JsValue::from_str(&n.to_string()));
                }
            }
            #[cfg(target_arch = "wasm32")]
            Some("setting-notify")
                if prop(&t, "checked").is_truthy() && !crate::notify::granted() =>
            {
                crate::notify::request();
            }
            _ => {}
        }
    };
    let root = el("aside", "drawer settings")
        .a("data-testid", "settings")
        .a("role", "dialog")
        .a("aria-labelledby", "settings-title")
        .c(el("div", "drawer-head")
            .c(text("h2", "", l.t(K::SettingsTitle))
                .a("id", "settings-title")
                .a("tabindex", "-1"))
            .c(text("button", "btn", "✕")
                .a("type", "button")
                .a("data-testid", "settings-close")
                .a("aria-label", l.t(K::Close))))
        .c(el("form", "settings-form")
            .a("novalidate", "")
            .c(el("div", ""))
            .c(el("div", "form-actions")
                .c(text("button", "btn btn-primary", l.t(K::Save))
                    .a("type", "submit")
                    .a("data-testid", "settings-save"))
                .c(text("button", "btn", l.t(K::Reset))
                    .a("type", "button")
                    .a("data-testid", "settings-reset"))
                .c(el("span", "muted")
                    .a("role", "status")
                    .a("data-testid", "settings-status"))))
        .materialise();
    let f = part(&root, "form");
    form.find(&f, ":scope > div");
    on(&f, "submit", move |ev| {
        ev.prevent_default();
        save();
    });
    on(&f, "change", on_change);
    on_click(&root, move |id, _| match id {
        "settings-close" => ui.settings_open.set(false),
        "settings-reset" => {
            load(&Settings::default());
            status.set(None);
        }
        _ => {}
    });
    text_fx(part(&root, "[data-testid=settings-status]"), move || {
        status.get().map(|k| l.t(k)).unwrap_or_default().to_owned()
    });
    root
}
