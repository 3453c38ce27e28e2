//! Revenue per window (one line per channel plus the total) over orders per
//! window, drawn with plotters on a canvas. Input is the windowed aggregates
//! only (at most 60 windows), so the cost depends on the canvas size, not on
//! the number of events.

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use shoppulse_core::event::Currency;
use shoppulse_core::view::{SalesView, SalesWindow};
use web_sys::HtmlCanvasElement;

use crate::format::{compact, major_units, window_label};
use crate::i18n::{Lang, K};
use crate::ui::Theme;

/// Which windows the chart shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Span {
    /// Per-minute windows (last 60).
    #[default]
    Minute,
    /// Per-hour windows (last 48).
    Hour,
    /// Per-day windows (last 31).
    Day,
}

impl Span {
    /// All spans, in select order.
    pub const ALL: [Span; 3] = [Span::Minute, Span::Hour, Span::Day];

    /// Value of the select option.
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Minute => "minute",
            Span::Hour => "hour",
            Span::Day => "day",
        }
    }

    /// Parses a select value (minute when unknown).
    pub fn parse(s: &str) -> Span {
        match s {
            "hour" => Span::Hour,
            "day" => Span::Day,
            _ => Span::Minute,
        }
    }

    /// The windows of `sales` for this span.
    pub fn windows(self, sales: &SalesView) -> &[SalesWindow] {
        match self {
            Span::Minute => &sales.minutes,
            Span::Hour => &sales.hours,
            Span::Day => &sales.days,
        }
    }

    /// The span's name in `l`.
    pub fn label(self, l: Lang) -> &'static str {
        l.t(match self {
            Span::Minute => K::SpanMinute,
            Span::Hour => K::SpanHour,
            Span::Day => K::SpanDay,
        })
    }

    /// "last 30 minutes" in `l`.
    pub fn range_label(self, n: u32, l: Lang) -> String {
        let k = match self {
            Span::Minute => K::LastNMinutes,
            Span::Hour => K::LastNHours,
            Span::Day => K::LastNDays,
        };
        l.f(k, &[&n])
    }
}

/// How to draw: which windows, in which language and theme, which channels.
#[derive(Clone, PartialEq, Debug)]
pub struct ChartOpts {
    /// Window span.
    pub span: Span,
    /// The newest this many windows.
    pub windows: usize,
    /// Labels' language.
    pub lang: Lang,
    /// Colours.
    pub theme: Theme,
    /// Channels not drawn.
    pub hidden: Vec<String>,
}

/// Chart colours of a theme.
#[derive(Clone, Copy)]
struct Colors {
    bg: RGBColor,
    fg: RGBColor,
    muted: RGBColor,
    grid: RGBColor,
}

fn colors(theme: Theme) -> Colors {
    match theme {
        Theme::Dark => Colors {
            bg: RGBColor(23, 26, 33),
            fg: RGBColor(222, 226, 234),
            muted: RGBColor(160, 168, 182),
            grid: RGBColor(44, 49, 60),
        },
        Theme::Light => Colors {
            bg: RGBColor(255, 255, 255),
            fg: RGBColor(28, 32, 40),
            muted: RGBColor(84, 91, 104),
            grid: RGBColor(222, 226, 232),
        },
    }
}

/// The newest `n` windows of `span` in `sales`.
pub fn shown_windows(sales: &SalesView, span: Span, n: usize) -> &[SalesWindow] {
    let w = span.windows(sales);
    &w[w.len().saturating_sub(n)..]
}

/// Line colours per channel (the total is drawn in the foreground colour);
/// mid-tones that read on both the dark and the light background.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(47, 128, 237),
    RGBColor(230, 126, 34),
    RGBColor(39, 174, 96),
    RGBColor(214, 69, 110),
    RGBColor(142, 99, 230),
    RGBColor(22, 160, 170),
    RGBColor(190, 160, 20),
    RGBColor(127, 140, 141),
];
const INCOMPLETE: RGBColor = RGBColor(220, 80, 80);

/// Colour of the `i`-th channel, as CSS.
pub fn channel_css(i: usize) -> String {
    let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
    format!("rgb({r},{g},{b})")
}

/// Channel names across `windows`, sorted, without `hidden` ones.
pub fn channels(windows: &[SalesWindow], hidden: &[String]) -> Vec<String> {
    let mut names: Vec<String> = windows
        .iter()
        .flat_map(|w| w.by_channel.iter().map(|c| c.channel.clone()))
        .filter(|c| !hidden.contains(c))
        .collect();
    shoppulse_core::sort::sort_by(&mut names, Ord::cmp);
    names.dedup();
    names
}

fn channel_revenue(w: &SalesWindow, channel: &str) -> i64 {
    w.by_channel
        .iter()
        .find(|c| c.channel == channel)
        .map_or(0, |c| c.revenue_cents)
}

/// What a chart drawing shows: when the next draw would show the same, it
/// is skipped (the drawing costs pixels, not events).
#[derive(Clone, PartialEq, Debug)]
pub struct Drawn {
    windows: Vec<SalesWindow>,
    currency: Option<Currency>,
    opts: ChartOpts,
    css_px: (i32, i32),
}

impl Drawn {
    /// What drawing `sales` with `o` into a `css_px` box shows.
    pub fn of(sales: &SalesView, o: &ChartOpts, css_px: (i32, i32)) -> Drawn {
        Drawn {
            windows: shown_windows(sales, o.span, o.windows).to_vec(),
            currency: sales.currency,
            opts: o.clone(),
            css_px,
        }
    }
}

/// Draws the chart into `canvas`, sized to its CSS box (`css_px`, the
/// canvas's client size) at the device pixel ratio.
pub fn draw(
    canvas: &HtmlCanvasElement,
    sales: &SalesView,
    o: &ChartOpts,
    css_px: (i32, i32),
) -> Result<(), String> {
    let dpr = web_sys::window()
        .map_or(1.0, |w| w.device_pixel_ratio())
        .clamp(1.0, 3.0);
    let css_w = f64::from(css_px.0.max(240));
    let css_h = f64::from(css_px.1.max(180));
    // reason: sizes are small positive pixel counts
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (w, h) = ((css_w * dpr) as u32, (css_h * dpr) as u32);
    if canvas.width() != w {
        canvas.set_width(w);
    }
    if canvas.height() != h {
        canvas.set_height(h);
    }
    let backend = CanvasBackend::with_canvas_object(canvas.clone())
        .ok_or_else(|| "canvas has no 2d context".to_owned())?;
    let root = backend.into_drawing_area();
    draw_on(&root, sales, o, dpr).map_err(|e| e.to_string())
}

/// Scaled pixel size.
fn px(k: f64, v: f64) -> u32 {
    // reason: small positive sizes
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let p = (v * k).round() as u32;
    p
}

/// Scaled pixel coordinate.
fn pxi(k: f64, v: f64) -> i32 {
    // reason: small positive coordinates
    #[allow(clippy::cast_possible_truncation)]
    let p = (v * k).round() as i32;
    p
}

type Area<DB> = DrawingArea<DB, plotters::coord::Shift>;
type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn font(k: f64, size: f64, c: RGBColor) -> TextStyle<'static> {
    ("sans-serif", size * k).into_font().color(&c)
}

/// Window indexes flagged incomplete.
fn incomplete_xs(windows: &[SalesWindow]) -> Vec<f64> {
    windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.incomplete)
        .map(|(i, _)| i as f64)
        .collect()
}

fn draw_on<DB: DrawingBackend>(
    root: &Area<DB>,
    sales: &SalesView,
    o: &ChartOpts,
    k: f64,
) -> DrawResult<DB> {
    let c = colors(o.theme);
    root.fill(&c.bg)?;
    let windows = shown_windows(sales, o.span, o.windows);
    if windows.is_empty() {
        root.draw(&Text::new(
            o.lang.f(K::NoWindows, &[&o.span.label(o.lang)]),
            (pxi(k, 16.0), pxi(k, 20.0)),
            font(k, 13.0, c.muted),
        ))?;
        return root.present();
    }
    let (_, height) = root.dim_in_pixel();
    // reason: pixel heights
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let split = (f64::from(height) * 0.68) as u32;
    let (upper, lower) = root.split_vertically(split);
    draw_revenue(&upper, windows, sales.currency, o, c, k)?;
    draw_orders(&lower, windows, o.lang, c, k)?;
    root.present()
}

/// Revenue per window: a line per channel, the total dashed.
fn draw_revenue<DB: DrawingBackend>(
    area: &Area<DB>,
    windows: &[SalesWindow],
    currency: Option<Currency>,
    o: &ChartOpts,
    col: Colors,
    k: f64,
) -> DrawResult<DB> {
    let names = channels(windows, &o.hidden);
    let lang = o.lang;
    let n = windows.len() as f64;
    let (lo, hi) = windows
        .iter()
        .flat_map(|w| {
            std::iter::once(w.total.revenue_cents)
                .chain(w.by_channel.iter().map(|c| c.revenue_cents))
        })
        .fold((0i64, 0i64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let y_lo = major_units(lo, currency);
    let y_hi = major_units(hi, currency).max(y_lo + 1.0) * 1.1;
    let money_label = |v: &f64| compact(*v, lang);

    let mut chart = ChartBuilder::on(area)
        .margin(px(k, 8.0))
        .margin_bottom(0)
        .y_label_area_size(px(k, 54.0))
        .x_label_area_size(0)
        .build_cartesian_2d(-0.5..(n - 0.5), y_lo..y_hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .light_line_style(col.grid)
        .bold_line_style(col.grid)
        .axis_style(col.grid)
        .y_labels(5)
        .y_label_formatter(&money_label)
        .label_style(font(k, 11.0, col.muted))
        .y_desc(lang.f(
            K::RevenueAxis,
            &[&currency.as_ref().map_or("—", Currency::as_str)],
        ))
        .axis_desc_style(font(k, 11.0, col.muted))
        .draw()?;
    chart.draw_series(incomplete_xs(windows).into_iter().map(|x| {
        Rectangle::new(
            [(x - 0.5, y_lo), (x + 0.5, y_hi)],
            INCOMPLETE.mix(0.18).filled(),
        )
    }))?;
    for (ci, name) in names.iter().enumerate() {
        let color = PALETTE[ci % PALETTE.len()];
        let points: Vec<(f64, f64)> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| (i as f64, major_units(channel_revenue(w, name), currency)))
            .collect();
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(px(k, 2.0)),
        ))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, px(k, 2.5), color.filled())),
        )?;
    }
    if names.len() > 1 {
        chart.draw_series(DashedLineSeries::new(
            windows
                .iter()
                .enumerate()
                .map(|(i, w)| (i as f64, major_units(w.total.revenue_cents, currency))),
            px(k, 5.0),
            px(k, 4.0),
            col.fg.stroke_width(px(k, 1.0)),
        ))?;
    }
    Ok(())
}

/// Orders per window as bars (open windows lighter), window labels below.
fn draw_orders<DB: DrawingBackend>(
    area: &Area<DB>,
    windows: &[SalesWindow],
    lang: Lang,
    col: Colors,
    k: f64,
) -> DrawResult<DB> {
    let n = windows.len() as f64;
    let max_orders = windows
        .iter()
        .map(|w| w.total.orders)
        .max()
        .unwrap_or(0)
        .max(1);
    let o_hi = max_orders as f64 * 1.15;
    let label_for = |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i >= n {
            return String::new();
        }
        // reason: i is a whole index in 0..n
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let w = &windows[i as usize];
        window_label(w.start_ms, w.len_ms, lang)
    };
    let mut chart = ChartBuilder::on(area)
        .margin(px(k, 8.0))
        .margin_top(px(k, 4.0))
        .y_label_area_size(px(k, 54.0))
        .x_label_area_size(px(k, 20.0))
        .build_cartesian_2d(-0.5..(n - 0.5), 0f64..o_hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .light_line_style(col.grid)
        .bold_line_style(col.grid)
        .axis_style(col.grid)
        .y_labels(3)
        .x_labels(8)
        .x_label_formatter(&label_for)
        .y_label_formatter(&|v| compact(*v, lang))
        .label_style(font(k, 11.0, col.muted))
        .y_desc(lang.t(K::Orders))
        .axis_desc_style(font(k, 11.0, col.muted))
        .draw()?;
    chart.draw_series(incomplete_xs(windows).into_iter().map(|x| {
        Rectangle::new(
            [(x - 0.5, 0.0), (x + 0.5, o_hi)],
            INCOMPLETE.mix(0.18).filled(),
        )
    }))?;
    chart.draw_series(windows.iter().enumerate().map(|(i, w)| {
        let x = i as f64;
        let y = w.total.orders as f64;
        let alpha = if w.closed { 0.85 } else { 0.45 };
        Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, y)],
            PALETTE[0].mix(alpha).filled(),
        )
    }))?;
    Ok(())
}
