//! Small shared pieces: reactive text, panels, figures, CSV buttons, the sparkline.

use leptos::prelude::*;

use crate::dom::{svg, E};
use crate::export::{download_text, file_name};
use crate::i18n::{Lang, K};
use crate::state::now_ms;
use crate::ui::Ui;

/// Reactive text or attribute value from a closure, type-erased: every
/// `Signal<String>` in a view shares one renderer, while each `move ||`
/// closure placed in a view directly compiles its own (a few KB of wasm
/// each).
pub fn rx(f: impl Fn() -> String + Send + Sync + 'static) -> Signal<String> {
    Signal::derive(f)
}

/// A reactive boolean (`class:x=`), type-erased like [`rx`].
pub fn rb(f: impl Fn() -> bool + Send + Sync + 'static) -> Signal<bool> {
    Signal::derive(f)
}

/// The language the dashboard is rendered in (read once per render: a
/// language switch re-renders the dashboard).
pub fn lang() -> Lang {
    expect_context::<Ui>().l()
}

/// A button that downloads `csv()` as `shoppulse-<table>-<time>.csv`;
/// carries `data-testid="export-csv"` and `data-table`.
#[component]
pub fn CsvButton(
    /// Table name (`data-table`, file name).
    table: &'static str,
    /// What the table is, for the accessible name.
    label: &'static str,
    /// Builds the CSV text at click time.
    csv: Box<dyn Fn() -> String>,
) -> impl IntoView {
    let l = lang();
    view! {
        <button
            type="button"
            class="btn tiny"
            data-testid="export-csv"
            data-table=table
            aria-label=l.f(K::CsvLabel, &[&label])
            title=l.f(K::CsvLabel, &[&label])
            on:click=move |_| download_text(&file_name(table, "csv", now_ms()), "text/csv;charset=utf-8", &csv())
        >
            "CSV"
        </button>
    }
}

/// A sub-heading with a CSV button beside it.
#[component]
pub fn SubHead(
    /// Heading text.
    title: &'static str,
    /// Table name for the CSV button.
    table: &'static str,
    /// Builds the CSV text.
    csv: Box<dyn Fn() -> String>,
) -> impl IntoView {
    view! {
        <div class="sub-head">
            <h3>{title}</h3>
            <CsvButton table=table label=title csv=csv />
        </div>
    }
}

/// A titled card in the dashboard grid.
#[component]
pub fn Panel(
    /// Heading text.
    title: &'static str,
    /// `data-testid` of the section element.
    testid: &'static str,
    /// Spans the whole grid row when true.
    #[prop(optional)]
    wide: bool,
    /// Panel body.
    children: Children,
) -> impl IntoView {
    let class = if wide { "panel wide" } else { "panel" };
    view! {
        <section class=class data-testid=testid aria-label=title>
            <h2>{title}</h2>
            {children()}
        </section>
    }
}

/// A labelled figure: small caption over a big value.
#[component]
pub fn Figure(
    /// Caption.
    label: &'static str,
    /// `data-testid` of the value element.
    testid: &'static str,
    /// The value text (reactive).
    value: Signal<String>,
) -> impl IntoView {
    view! {
        <div class="figure">
            <span class="figure-label">{label}</span>
            <span class="figure-value" data-testid=testid>{value}</span>
        </div>
    }
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
