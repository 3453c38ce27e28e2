//! Small shared pieces: effects, slots and event listeners for views built
//! with [`crate::dom`], panels, figures, CSV buttons, the sparkline.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::dom::{el, svg, text, E};
use crate::export::{download_text, file_name};
use crate::i18n::{Lang, K};
use crate::state::{now_f64, now_ms};
use crate::ui::Ui;

/// Runs `f` in an effect (re-run when a signal it read changes). Boxed:
/// every effect of the dashboard shares one instantiation of Leptos's
/// effect code (each distinct closure given to `Effect::new` compiles its
/// own, a few KB of wasm each).
pub fn fx(f: impl Fn() + 'static) {
    fx_box(Box::new(f));
}

fn fx_box(f: Box<dyn Fn()>) {
    Effect::new(move |_| f());
}

/// A piece of the page's work longer than this is named in the console,
/// ms (a long task is 50 ms).
pub const SLOW_TASK_MS: f64 = 40.0;

/// Runs `f`; when it takes over [`SLOW_TASK_MS`], warns in the console
/// with `name` and the time taken. A long task in a profile or in the Long
/// Animation Frames API shows only wasm-bindgen's closure wrapper (`real`);
/// this says which drawing it was (the benchmark prints these warnings).
/// `name` is formatted only then.
pub fn timed<T>(name: &dyn std::fmt::Display, f: impl FnOnce() -> T) -> T {
    let start = now_f64();
    let out = f();
    let ms = now_f64() - start;
    if ms > SLOW_TASK_MS {
        web_sys::console::warn_1(&format!("shoppulse slow task: {name} {ms:.0} ms").into());
    }
    out
}

/// Runs requested work at most once every `min_interval_ms`: at once when
/// the last run is older than that (unless `deferred`: then always in a task
/// of its own, never inside the caller), else in one trailing run when the
/// interval ends. Requests in between merge into that run, which reads the
/// latest state, so the last state is always shown. Nothing runs once the
/// view that made it is gone (a language switch rebuilds the page). One
/// throttle serves the live parts of the views ([`fx_throttled`]) and the
/// sales chart.
#[derive(Clone, Copy)]
pub struct Throttle {
    /// What it draws, named when a run is slow ([`timed`]).
    name: &'static str,
    min_interval_ms: f64,
    deferred: bool,
    /// The last run's start (`now_f64`) and whether a run is scheduled.
    state: StoredValue<(f64, bool), LocalStorage>,
}

impl Throttle {
    /// A throttle owned by the current view, drawing `name`.
    pub fn new(name: &'static str, min_interval_ms: f64, deferred: bool) -> Throttle {
        Throttle {
            name,
            min_interval_ms,
            deferred,
            state: StoredValue::new_local((f64::NEG_INFINITY, false)),
        }
    }

    /// Runs `run` now or later (see [`Throttle`]); dropped when a run is
    /// already scheduled.
    pub fn request(self, run: impl FnOnce() + 'static) {
        let Some((last_ms, scheduled)) = self.state.try_get_value() else {
            return;
        };
        if scheduled {
            return;
        }
        let since = now_f64() - last_ms;
        if since >= self.min_interval_ms && !self.deferred {
            self.state.set_value((now_f64(), false));
            timed(&self.name, run);
            return;
        }
        self.state.set_value((last_ms, true));
        // reason: a number of ms between 0 and min_interval_ms
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let wait = (self.min_interval_ms - since).max(0.0).ceil() as u64;
        set_timeout(
            move || {
                // `Some` back: the view is gone.
                if self.state.try_set_value((now_f64(), false)).is_none() {
                    timed(&self.name, run);
                }
            },
            std::time::Duration::from_millis(wait),
        );
    }
}

/// An effect for a part of a view that changes faster than anyone reads
/// (the live log, the suggestions for active shoppers): `track` reads the
/// signals it follows, `render` (untracked) redraws the part, at most once
/// every `min_interval_ms` ([`Throttle`]). Under a busy feed these parts
/// changed on every frame and were most of the page's DOM changes, layout
/// and paint (docs/PERFORMANCE.md, *Frame time and the worker as
/// default*).
pub fn fx_throttled(
    name: &'static str,
    min_interval_ms: f64,
    track: impl Fn() + 'static,
    render: impl Fn() + 'static,
) {
    let render = std::rc::Rc::new(render);
    let throttle = Throttle::new(name, min_interval_ms, false);
    fx(move || {
        track();
        let render = render.clone();
        throttle.request(move || untrack(|| render()));
    });
}

/// A place for an element of a view that code fills or reads after the
/// view is built (what a `NodeRef` was, without the template).
#[derive(Clone, Copy)]
pub struct Slot(StoredValue<Option<Element>, LocalStorage>);

impl Slot {
    /// An empty slot.
    pub fn new() -> Slot {
        Slot(StoredValue::new_local(None))
    }

    /// The element, once found (`None` too after the view is gone).
    pub fn get(self) -> Option<Element> {
        self.0.try_get_value().flatten()
    }

    /// Holds the element under `root` matching `sel`.
    pub fn find(self, root: &Element, sel: &str) {
        self.0.set_value(root.query_selector(sel).ok().flatten());
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// The element under `root` matching `sel` (a detached `div` when there is
/// none, which only happens if the view and the selector disagree).
pub fn part(root: &Element, sel: &str) -> Element {
    root.query_selector(sel)
        .ok()
        .flatten()
        .unwrap_or_else(|| el("div", "").materialise())
}

/// Sets the text of `e` when it differs.
pub fn set_text(e: &Element, text: &str) {
    if e.text_content().as_deref() != Some(text) {
        e.set_text_content(Some(text));
    }
}

/// Sets an attribute when it differs.
pub fn set_attr(e: &Element, name: &str, value: &str) {
    if e.get_attribute(name).as_deref() != Some(value) {
        let _ = e.set_attribute(name, value);
    }
}

/// Adds or removes a class.
pub fn set_class(e: &Element, class: &str, on: bool) {
    let _ = e.class_list().toggle_with_force(class, on);
}

/// Sets the JS property `value` (inputs, selects) when it differs.
pub fn set_value(e: &Element, value: &str) {
    let key = JsValue::from_str("value");
    let now = js_sys::Reflect::get(e, &key)
        .ok()
        .and_then(|v| v.as_string());
    if now.as_deref() != Some(value) {
        let _ = js_sys::Reflect::set(e, &key, &JsValue::from_str(value));
    }
}

/// The JS property `value` of `e` (inputs, selects).
pub fn value_of(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("value"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// The JS property `value` of an event's target (inputs, selects).
pub fn target_value(ev: &web_sys::Event) -> String {
    ev.target().map(|t| value_of(&t)).unwrap_or_default()
}

/// Keeps the text of `e` equal to `f()` (an effect).
pub fn text_fx(e: Element, f: impl Fn() -> String + 'static) {
    let f: Box<dyn Fn() -> String> = Box::new(f);
    fx(move || set_text(&e, &f()));
}

/// Keeps the attribute `name` of `e` equal to `f()` (an effect).
pub fn attr_fx(e: Element, name: &'static str, f: impl Fn() -> String + 'static) {
    let f: Box<dyn Fn() -> String> = Box::new(f);
    fx(move || set_attr(&e, name, &f()));
}

/// Says, under the title of the panel `root`, that its operator is not
/// computed while `off()` (`data-testid="{testid}"`); the stylesheet hides
/// the rest of the panel then (`data-off="1"`).
pub fn off_note(root: &Element, testid: &str, off: impl Fn() -> bool + 'static) {
    let note = text("p", "off-note muted", lang().t(K::NotComputed))
        .a("data-testid", testid)
        .materialise();
    if let Some(title) = root.query_selector("h2").ok().flatten() {
        let _ = root.insert_before(&note, title.next_sibling().as_ref());
    }
    attr_fx(root.clone(), "data-off", move || {
        u8::from(off()).to_string()
    });
}

/// Calls `f` on every `event` at `target`, until the current reactive
/// owner is cleaned up (the view is gone).
pub fn on(target: &web_sys::EventTarget, event: &str, f: impl Fn(web_sys::Event) + 'static) {
    on_box(target, event, Box::new(f));
}

fn on_box(target: &web_sys::EventTarget, event: &str, f: Box<dyn Fn(web_sys::Event)>) {
    let c = Closure::wrap(f);
    let _ = target.add_event_listener_with_callback(event, c.as_ref().unchecked_ref());
    // Dropped with the owner, when the view (and so `target`) is gone.
    StoredValue::new_local(c);
}

type OnClick = Box<dyn Fn(&str, &Element)>;

/// Calls `f` with the nearest element under a click that has a
/// `data-testid`, and that test id (one delegated handler per view).
pub fn on_click(target: &Element, f: impl Fn(&str, &Element) + 'static) {
    let f: OnClick = Box::new(f);
    on(target, "click", move |ev| {
        if let Some(e) = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest("[data-testid]").ok().flatten())
        {
            if let Some(id) = e.get_attribute("data-testid") {
                f(&id, &e);
            }
        }
    });
}

/// Keeps the element `build()` makes in `parent`, before `anchor`, while
/// `when()` is true (what `<Show>` did). It is built anew, with its own
/// reactive owner, each time it shows; the owner (its effects, listeners)
/// is cleaned up when it hides or when the current owner is.
pub fn show(
    parent: &Element,
    anchor: &web_sys::Node,
    when: impl Fn() -> bool + 'static,
    build: impl Fn() -> Element + 'static,
) {
    show_box(
        parent.clone(),
        anchor.clone(),
        Box::new(when),
        Box::new(build),
    );
}

fn show_box(
    parent: Element,
    anchor: web_sys::Node,
    when: Box<dyn Fn() -> bool>,
    build: Box<dyn Fn() -> Element>,
) {
    let owner = Owner::current().unwrap_or_default();
    let shown: StoredValue<Option<(Owner, Element)>, LocalStorage> = StoredValue::new_local(None);
    fx(move || {
        let on = when();
        if on == shown.with_value(Option::is_some) {
            return;
        }
        if let Some((o, e)) = shown.try_update_value(Option::take).flatten() {
            e.remove();
            o.cleanup();
        }
        if on {
            let child = owner.child();
            let e = child.with(|| untrack(&build));
            let _ = parent.insert_before(&e, Some(&anchor));
            shown.set_value(Some((child, e)));
        }
    });
}

/// The language the dashboard is rendered in (read once per render: a
/// language switch re-renders the dashboard).
pub fn lang() -> Lang {
    expect_context::<Ui>().l()
}

/// A button that downloads a table as CSV (see [`export_csv`]); carries
/// `data-testid="export-csv"` and `data-table`.
pub fn csv_button(table: &str, label: &str) -> E {
    let name = lang().f(K::CsvLabel, &[&label]);
    el("button", "btn tiny")
        .a("type", "button")
        .a("data-testid", "export-csv")
        .a("data-table", table)
        .a("aria-label", &name)
        .a("title", &name)
        .t("CSV")
}

/// Downloads `csv()` as `shoppulse-<table>-<time>.csv` (the click of a
/// [`csv_button`]).
pub fn export_csv(table: &str, csv: &dyn Fn() -> String) {
    download_text(
        &file_name(table, "csv", now_ms()),
        "text/csv;charset=utf-8",
        &csv(),
    );
}

/// Downloads the table of the clicked CSV button `e`: `tables` holds each
/// table name and its CSV builder.
pub fn csv_click(e: &Element, tables: &[(&str, &dyn Fn() -> String)]) {
    let name = e.get_attribute("data-table").unwrap_or_default();
    if let Some((t, f)) = tables.iter().find(|(t, _)| *t == name) {
        export_csv(t, *f);
    }
}

/// A sub-heading with a CSV button beside it.
pub fn sub_head(title: &str, table: &str) -> E {
    el("div", "sub-head")
        .c(text("h3", "", title))
        .c(csv_button(table, title))
}

/// A titled card in the dashboard grid (children appended by the caller).
pub fn panel(title: &str, testid: &str, wide: bool) -> E {
    el("section", if wide { "panel wide" } else { "panel" })
        .a("data-testid", testid)
        .a("aria-label", title)
        .c(text("h2", "", title))
}

/// A labelled figure: small caption over a big value (the value element
/// carries `data-testid`; its text is set by the caller).
pub fn figure(label: &str, testid: &str) -> E {
    el("div", "figure")
        .c(text("span", "figure-label", label))
        .c(el("span", "figure-value").a("data-testid", testid))
}

/// SVG polyline points for `values` in a `w` x `h` box (y grows downwards),
/// scaled between `lo` and `hi`.
pub fn polyline_points(values: &[f64], width: f64, height: f64, lo: f64, hi: f64) -> String {
    let range = if hi > lo { hi - lo } else { 1.0 };
    let count = values.len();
    let step = if count > 1 {
        width / (count - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let px = i as f64 * step;
            let py = height - (v - lo) / range * height;
            format!("{px:.1},{py:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stock sparkline (SVG) from `(ts_ms, quantity)` history with the
/// threshold as a dashed line.
pub fn sparkline_el(history: &[(i64, i64)], threshold: i64) -> E {
    let values: Vec<f64> = history.iter().map(|&(_, q)| q as f64).collect();
    let hi = values
        .iter()
        .copied()
        .fold(threshold as f64, f64::max)
        .max(1.0);
    let lo = values.iter().copied().fold(0.0, f64::min);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let ty = format!("{:.1}", 20.0 - (threshold as f64 - lo) / span * 20.0);
    svg("svg", "spark")
        .a("viewBox", "0 0 80 20")
        .a("preserveAspectRatio", "none")
        .a("aria-hidden", "true")
        .c(svg("line", "spark-threshold")
            .a("x1", "0")
            .a("x2", "80")
            .a("y1", &ty)
            .a("y2", &ty))
        .c(
            svg("polyline", "spark-line")
                .a("points", &polyline_points(&values, 80.0, 20.0, lo, hi)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polyline_scales() {
        assert_eq!(
            polyline_points(&[0.0, 10.0], 80.0, 20.0, 0.0, 10.0),
            "0.0,20.0 80.0,0.0"
        );
        assert_eq!(polyline_points(&[5.0], 80.0, 20.0, 5.0, 5.0), "0.0,20.0");
    }
}
