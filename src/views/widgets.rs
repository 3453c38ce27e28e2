//! Small shared pieces: panels, bars, sparklines, keyed rows.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

use leptos::prelude::*;

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
            <span class="figure-value" data-testid=testid>{move || value.get()}</span>
        </div>
    }
}

/// A horizontal bar filled to `ratio` (0..=1).
#[component]
pub fn Bar(
    /// Fill ratio, clamped to 0..=1.
    ratio: f64,
    /// Extra CSS class for the fill (colour).
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView {
    let pct = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0) * 100.0
    } else {
        0.0
    };
    view! {
        <div class="bar">
            <div class=format!("bar-fill {class}") style=format!("width:{pct:.1}%")></div>
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

/// A stock sparkline from `(ts_ms, quantity)` history with the threshold as a
/// dashed line.
#[component]
pub fn Sparkline(
    /// Quantities, oldest first.
    history: Vec<(i64, i64)>,
    /// Low-stock threshold, drawn dashed.
    threshold: i64,
) -> impl IntoView {
    const W: f64 = 80.0;
    const H: f64 = 20.0;
    let values: Vec<f64> = history.into_iter().map(|(_, q)| q as f64).collect();
    let hi = values
        .iter()
        .copied()
        .fold(threshold as f64, f64::max)
        .max(1.0);
    let lo = values.iter().copied().fold(0.0, f64::min);
    let points = polyline_points(&values, W, H, lo, hi);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let ty = format!("{:.1}", H - (threshold as f64 - lo) / span * H);
    view! {
        <svg class="spark" viewBox="0 0 80 20" preserveAspectRatio="none" aria-hidden="true">
            <line class="spark-threshold" x1="0" x2="80" y1=ty.clone() y2=ty></line>
            <polyline class="spark-line" points=points></polyline>
        </svg>
    }
}

/// Pairs each item with a key that changes when its content changes, so a
/// keyed list re-renders only new or changed rows. Identical rows are told
/// apart by counting from the end of the list (the oldest, for newest-first
/// lists), so prepending does not re-key the rows below.
pub fn keyed_by_content<T: Debug + Clone>(items: &[T]) -> Vec<((u64, u32), T)> {
    let mut seen: HashMap<u64, u32> = HashMap::with_capacity(items.len());
    let mut out: Vec<((u64, u32), T)> = items
        .iter()
        .rev()
        .map(|item| {
            let mut h = DefaultHasher::new();
            format!("{item:?}").hash(&mut h);
            let hash = h.finish();
            let n = seen.entry(hash).or_insert(0);
            *n += 1;
            ((hash, *n), item.clone())
        })
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_prepending_and_tell_duplicates_apart() {
        let a = keyed_by_content(&["x", "y", "x"]);
        let b = keyed_by_content(&["z", "x", "y", "x"]);
        assert_eq!(a[0].0, b[1].0);
        assert_eq!(a[2].0, b[3].0);
        assert_ne!(a[0].0, a[2].0);
    }

    #[test]
    fn polyline_scales() {
        assert_eq!(
            polyline_points(&[0.0, 10.0], 80.0, 20.0, 0.0, 10.0),
            "0.0,20.0 80.0,0.0"
        );
        assert_eq!(polyline_points(&[5.0], 80.0, 20.0, 5.0, 5.0), "0.0,20.0");
    }
}
