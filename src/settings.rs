//! Operator settings: what they are, their defaults, how a draft typed into
//! the settings panel is validated, and how they reach the engine.
//!
//! Pure (no browser APIs), unit-tested natively. Persisted in `localStorage`
//! ([`crate::prefs::SETTINGS`]) as `key=value` lines (one line per product
//! threshold and per hidden channel); a stored value that no longer
//! validates falls back to the default field by field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use shoppulse_core::engine::Config;
use shoppulse_core::id::Id;

use crate::chart::sales::Span;
use crate::i18n::K;
use crate::link::EngineSettings;

/// Largest low-stock threshold accepted.
pub const MAX_THRESHOLD: i64 = 1_000_000;
/// Per-product thresholds kept at most.
pub const MAX_PRODUCT_THRESHOLDS: usize = 500;
/// Longest sync SLA accepted, seconds (7 days).
pub const MAX_SLA_S: i64 = 604_800;
/// Longest lag alert threshold, ms (1 hour).
pub const MAX_LAG_MS: i64 = 3_600_000;
/// Most new alerts per minute that can be allowed.
pub const MAX_ALERTS_PER_MIN: i64 = 100;
/// Channels remembered as hidden at most.
pub const MAX_HIDDEN: usize = 64;

/// Everything the operator can set.
#[derive(Clone, PartialEq, Debug)]
pub struct Settings {
    /// Gateway WebSocket URL; empty: the page origin's `/ws` (a `?feed=`
    /// in the page URL still wins).
    pub feed_url: String,
    /// Low stock at or below this quantity.
    pub low_stock_threshold: i64,
    /// Per-product overrides `(product id, threshold)`.
    pub product_thresholds: Vec<(String, i64)>,
    /// Pending/retrying longer than this is stuck, seconds.
    pub sync_sla_s: i64,
    /// Chart window span: `minute`, `hour` or `day`.
    pub chart_span: String,
    /// Windows the chart shows (the newest).
    pub chart_windows: u32,
    /// Channels not shown in the channel tables, chart, matrix and alerts.
    pub hidden_channels: Vec<String>,
    /// Alert when a sync cell's failure rate reaches this, percent.
    pub alert_fail_pct: i64,
    /// Alert when a sync cell's lag p95 reaches this, ms.
    pub alert_lag_ms: i64,
    /// New alert rows per minute at most; the rest go to a summary row.
    pub alerts_per_min: i64,
    /// Also raise a browser notification for each new alert.
    pub notify: bool,
    /// Compute the recommendations panel (off: its operator does not run).
    pub compute_recs: bool,
    /// Compute the order-sync panel (off: its operator does not run).
    pub compute_sync: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let core = Config::default();
        Settings {
            feed_url: String::new(),
            low_stock_threshold: core.low_stock_threshold,
            product_thresholds: Vec::new(),
            sync_sla_s: core.sync_sla_ms / 1000,
            chart_span: Span::Minute.as_str().to_owned(),
            chart_windows: 60,
            hidden_channels: Vec::new(),
            alert_fail_pct: 20,
            alert_lag_ms: 2_000,
            alerts_per_min: 10,
            notify: false,
            compute_recs: core.compute_recs,
            compute_sync: core.compute_sync,
        }
    }
}

/// Window counts offered for each span.
pub fn window_choices(span: Span) -> &'static [u32] {
    match span {
        Span::Minute => &[15, 30, 60],
        Span::Hour => &[12, 24, 48],
        Span::Day => &[7, 14, 31],
    }
}

impl Settings {
    /// The chart span.
    pub fn span(&self) -> Span {
        Span::parse(&self.chart_span)
    }

    /// Windows the chart shows, snapped to the span's choices.
    pub fn windows(&self) -> usize {
        let choices = window_choices(self.span());
        let n = if choices.contains(&self.chart_windows) {
            self.chart_windows
        } else {
            choices[choices.len() - 1]
        };
        n as usize
    }

    /// Sets the chart span and keeps a window count that fits it.
    pub fn set_span(&mut self, span: Span) {
        span.as_str().clone_into(&mut self.chart_span);
        let choices = window_choices(span);
        if !choices.contains(&self.chart_windows) {
            self.chart_windows = choices[choices.len() - 1];
        }
    }

    /// True when `channel` is shown.
    pub fn shows(&self, channel: &str) -> bool {
        !self.hidden_channels.iter().any(|c| c == channel)
    }

    /// Turns off the panels named in `list` (comma-separated `recs`,
    /// `sync`; the page's `?off=`), other names ignored.
    pub fn turn_off(&mut self, list: &str) {
        for name in list.split(',').map(str::trim) {
            match name {
                "recs" => self.compute_recs = false,
                "sync" => self.compute_sync = false,
                _ => {}
            }
        }
    }

    /// `cfg` with the operator's thresholds and SLA.
    pub fn apply_to(&self, cfg: &Config) -> Config {
        self.engine().apply_to(cfg)
    }

    /// The part of the settings the engine host needs.
    pub fn engine(&self) -> EngineSettings {
        EngineSettings {
            low_stock_threshold: self.low_stock_threshold,
            product_thresholds: self.product_thresholds.clone(),
            sync_sla_s: self.sync_sla_s,
            compute_recs: self.compute_recs,
            compute_sync: self.compute_sync,
        }
    }

    /// Settings as text for storage: `key=value` lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "feed_url={}\nlow_stock_threshold={}\nsync_sla_s={}\nchart_span={}\nchart_windows={}\nalert_fail_pct={}\nalert_lag_ms={}\nalerts_per_min={}\nnotify={}\ncompute_recs={}\ncompute_sync={}\n",
            self.feed_url.replace('\n', ""),
            self.low_stock_threshold,
            self.sync_sla_s,
            self.chart_span,
            self.chart_windows,
            self.alert_fail_pct,
            self.alert_lag_ms,
            self.alerts_per_min,
            u8::from(self.notify),
            u8::from(self.compute_recs),
            u8::from(self.compute_sync),
        );
        for (p, t) in &self.product_thresholds {
            let _ = writeln!(out, "product={p}={t}");
        }
        for c in &self.hidden_channels {
            let _ = writeln!(out, "hidden={}", c.replace('\n', " "));
        }
        out
    }

    /// Settings from storage: unknown keys are ignored; each value that does
    /// not validate -> its default.
    pub fn from_text(text: &str) -> Settings {
        let d = Settings::default();
        let mut s = d.clone();
        let num = |v: &str, f: Field, dv: i64| {
            if check_field(f, v).is_ok() {
                v.trim().parse().unwrap_or(dv)
            } else {
                dv
            }
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "feed_url" if valid_feed_url(v) => v.trim().clone_into(&mut s.feed_url),
                "low_stock_threshold" => {
                    s.low_stock_threshold = num(v, Field::Threshold, d.low_stock_threshold);
                }
                "sync_sla_s" => s.sync_sla_s = num(v, Field::Sla, d.sync_sla_s),
                "chart_span" => s.set_span(Span::parse(v)),
                "chart_windows" => s.chart_windows = v.parse().unwrap_or(d.chart_windows),
                "alert_fail_pct" => s.alert_fail_pct = num(v, Field::FailPct, d.alert_fail_pct),
                "alert_lag_ms" => s.alert_lag_ms = num(v, Field::LagMs, d.alert_lag_ms),
                "alerts_per_min" => {
                    s.alerts_per_min = num(v, Field::AlertsPerMin, d.alerts_per_min);
                }
                "notify" => s.notify = v == "1",
                "compute_recs" => s.compute_recs = v != "0",
                "compute_sync" => s.compute_sync = v != "0",
                "product" => {
                    if let Ok(mut p) = parse_product_thresholds(v) {
                        if s.product_thresholds.len() < MAX_PRODUCT_THRESHOLDS {
                            s.product_thresholds.append(&mut p);
                        }
                    }
                }
                "hidden" if s.hidden_channels.len() < MAX_HIDDEN && !v.is_empty() => {
                    s.hidden_channels.push(v.to_owned());
                }
                _ => {}
            }
        }
        s
    }
}

/// A field of the settings form that can be refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    /// Feed URL.
    FeedUrl,
    /// Global low-stock threshold.
    Threshold,
    /// Per-product thresholds.
    Products,
    /// Sync SLA.
    Sla,
    /// Failure-rate alert threshold.
    FailPct,
    /// Lag p95 alert threshold.
    LagMs,
    /// New alerts per minute.
    AlertsPerMin,
}

impl Field {
    /// Stable name, for `data-field` and element ids.
    pub fn key(self) -> &'static str {
        match self {
            Field::FeedUrl => "feed-url",
            Field::Threshold => "threshold",
            Field::Products => "product-thresholds",
            Field::Sla => "sla",
            Field::FailPct => "fail-rate",
            Field::LagMs => "lag-ms",
            Field::AlertsPerMin => "alert-rate",
        }
    }
}

/// Why a field was refused: a message key and its argument (a line number).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldError {
    /// Which field.
    pub field: Field,
    /// The message ([`crate::i18n`]).
    pub msg: K,
    /// `{0}` in the message (e.g. the line number), may be empty.
    pub arg: String,
}

/// The text fields as typed.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Draft {
    /// Feed URL.
    pub feed_url: String,
    /// Global threshold.
    pub threshold: String,
    /// `product=threshold` lines.
    pub products: String,
    /// SLA, seconds.
    pub sla: String,
    /// Failure-rate alert, percent.
    pub fail_pct: String,
    /// Lag alert, ms.
    pub lag_ms: String,
    /// Alerts per minute.
    pub alerts_per_min: String,
}

impl Draft {
    /// The draft showing `s`.
    pub fn of(s: &Settings) -> Draft {
        Draft {
            feed_url: s.feed_url.clone(),
            threshold: s.low_stock_threshold.to_string(),
            products: s
                .product_thresholds
                .iter()
                .map(|(p, t)| format!("{p}={t}"))
                .collect::<Vec<_>>()
                .join("\n"),
            sla: s.sync_sla_s.to_string(),
            fail_pct: s.alert_fail_pct.to_string(),
            lag_ms: s.alert_lag_ms.to_string(),
            alerts_per_min: s.alerts_per_min.to_string(),
        }
    }
}

/// A whole number in `lo..=hi` written with digits only (spaces around allowed).
fn whole(text: &str, lo: i64, hi: i64) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() || t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok().filter(|n| (lo..=hi).contains(n))
}

/// True for `ws://host[:port][/path]` or `wss://...` (empty: the default).
pub fn valid_feed_url(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    let rest = if let Some(r) = t.strip_prefix("ws://") {
        r
    } else if let Some(r) = t.strip_prefix("wss://") {
        r
    } else {
        return false;
    };
    if t.len() > 2048 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let port_ok = port.is_none_or(|p| whole(p, 1, 65_535).is_some());
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    host_ok && port_ok
}

/// Checks one single-value field.
pub fn check_field(field: Field, text: &str) -> Result<(), K> {
    let ok = match field {
        Field::FeedUrl => valid_feed_url(text),
        Field::Threshold => whole(text, 0, MAX_THRESHOLD).is_some(),
        Field::Sla => whole(text, 1, MAX_SLA_S).is_some(),
        Field::FailPct => whole(text, 1, 100).is_some(),
        Field::LagMs => whole(text, 1, MAX_LAG_MS).is_some(),
        Field::AlertsPerMin => whole(text, 1, MAX_ALERTS_PER_MIN).is_some(),
        Field::Products => parse_product_thresholds(text).is_ok(),
    };
    if ok {
        return Ok(());
    }
    Err(match field {
        Field::FeedUrl => K::ErrFeedUrl,
        Field::Threshold => K::ErrThreshold,
        Field::Sla => K::ErrSla,
        Field::FailPct => K::ErrFailPct,
        Field::LagMs => K::ErrLagMs,
        Field::AlertsPerMin => K::ErrAlertsPerMin,
        Field::Products => K::ErrProductLine,
    })
}

/// Parses `product=threshold` lines (blank lines skipped; the last value of
/// a product wins). Errors carry the message and the 1-based line number.
pub fn parse_product_thresholds(text: &str) -> Result<Vec<(String, i64)>, (K, usize)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((p, t)) = line.rsplit_once('=') else {
            return Err((K::ErrProductLine, i + 1));
        };
        let p = p.trim();
        if p.is_empty() || p.len() > 256 {
            return Err((K::ErrProductLine, i + 1));
        }
        let Some(t) = whole(t, 0, MAX_THRESHOLD) else {
            return Err((K::ErrProductThreshold, i + 1));
        };
        out.retain(|(q, _)| q != p);
        out.push((p.to_owned(), t));
        if out.len() > MAX_PRODUCT_THRESHOLDS {
            return Err((K::ErrProductCount, MAX_PRODUCT_THRESHOLDS));
        }
    }
    Ok(out)
}

/// Validates a draft; on success the settings it describes (the fields not
/// in the draft are taken from `base`), else every refused field.
pub fn validate(d: &Draft, base: &Settings) -> Result<Settings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut single = |field: Field, text: &str| {
        if let Err(msg) = check_field(field, text) {
            errors.push(FieldError {
                field,
                msg,
                arg: String::new(),
            });
        }
    };
    single(Field::FeedUrl, &d.feed_url);
    single(Field::Threshold, &d.threshold);
    single(Field::Sla, &d.sla);
    single(Field::FailPct, &d.fail_pct);
    single(Field::LagMs, &d.lag_ms);
    single(Field::AlertsPerMin, &d.alerts_per_min);
    let products = match parse_product_thresholds(&d.products) {
        Ok(p) => p,
        Err((msg, n)) => {
            errors.push(FieldError {
                field: Field::Products,
                msg,
                arg: n.to_string(),
            });
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let num = |t: &str| t.trim().parse::<i64>().unwrap_or(0);
    let mut hidden = base.hidden_channels.clone();
    hidden.truncate(MAX_HIDDEN);
    Ok(Settings {
        feed_url: d.feed_url.trim().to_owned(),
        low_stock_threshold: num(&d.threshold),
        product_thresholds: products,
        sync_sla_s: num(&d.sla),
        alert_fail_pct: num(&d.fail_pct),
        alert_lag_ms: num(&d.lag_ms),
        alerts_per_min: num(&d.alerts_per_min),
        hidden_channels: hidden,
        ..base.clone()
    })
}

impl EngineSettings {
    /// `cfg` with these thresholds and SLA.
    pub fn apply_to(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        c.low_stock_threshold = self.low_stock_threshold;
        c.product_thresholds = self
            .product_thresholds
            .iter()
            .map(|(p, t)| (Id::from_text(p), *t))
            .collect::<BTreeMap<Id, i64>>();
        c.sync_sla_ms = self.sync_sla_s.saturating_mul(1000);
        c.compute_recs = self.compute_recs;
        c.compute_sync = self.compute_sync;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip() {
        let s = Settings::default();
        assert_eq!(validate(&Draft::of(&s), &s), Ok(s.clone()));
        assert_eq!(Settings::from_text(&s.to_text()), s);
        assert_eq!(Settings::from_text("not settings"), s);
        let full = Settings {
            feed_url: "ws://h:1/ws?a=b".into(),
            low_stock_threshold: 25,
            product_thresholds: vec![("101".into(), 5), ("SKU=9".into(), 7)],
            sync_sla_s: 60,
            chart_span: "hour".into(),
            chart_windows: 24,
            hidden_channels: vec!["app".into(), "web shop".into()],
            alert_fail_pct: 30,
            alert_lag_ms: 900,
            alerts_per_min: 5,
            notify: true,
            compute_recs: false,
            compute_sync: false,
        };
        let back = Settings::from_text(&full.to_text());
        assert_eq!(back.product_thresholds[0], ("101".into(), 5));
        assert_eq!(back.product_thresholds[1].1, 7);
        assert_eq!(
            Settings {
                product_thresholds: Vec::new(),
                ..back
            },
            Settings {
                product_thresholds: Vec::new(),
                ..full
            }
        );
    }

    #[test]
    fn thresholds_are_whole_numbers_in_range() {
        let s = Settings::default();
        for bad in ["abc", "-1", "1.5", "1000001", "", "1e3"] {
            let d = Draft {
                threshold: bad.into(),
                ..Draft::of(&s)
            };
            let errs = validate(&d, &s).unwrap_err();
            assert_eq!(errs.len(), 1, "{bad}");
            assert_eq!(errs[0].field, Field::Threshold);
            assert_eq!(errs[0].msg, K::ErrThreshold);
        }
        let d = Draft {
            threshold: " 25 ".into(),
            ..Draft::of(&s)
        };
        assert_eq!(validate(&d, &s).unwrap().low_stock_threshold, 25);
    }

    #[test]
    fn feed_urls() {
        for ok in [
            "",
            "ws://127.0.0.1:9001/ws",
            "wss://shop.example/ws",
            "ws://[::1]:9001/ws",
            "ws://localhost",
        ] {
            assert!(valid_feed_url(ok), "{ok}");
        }
        for bad in [
            "http://x/ws",
            "ws://",
            "ws:// x",
            "ws://host:99999/ws",
            "ws://host:abc",
            "javascript:alert(1)",
            "ws://<img>/",
        ] {
            assert!(!valid_feed_url(bad), "{bad}");
        }
    }

    #[test]
    fn product_lines() {
        assert_eq!(
            parse_product_thresholds("101=5\n\n 85123A = 20 \n101=7"),
            Ok(vec![("85123A".into(), 20), ("101".into(), 7)])
        );
        assert_eq!(
            parse_product_thresholds("101=5\n102"),
            Err((K::ErrProductLine, 2))
        );
        assert_eq!(
            parse_product_thresholds("101=-5"),
            Err((K::ErrProductThreshold, 1))
        );
    }

    #[test]
    fn applies_to_the_engine_config() {
        let s = Settings {
            low_stock_threshold: 25,
            product_thresholds: vec![("101".into(), 3), ("A-1".into(), 9)],
            sync_sla_s: 60,
            ..Settings::default()
        };
        let c = s.apply_to(&Config::default());
        assert_eq!(c.low_stock_threshold, 25);
        assert_eq!(c.threshold_for(&Id::Num(101)), 3);
        assert_eq!(c.threshold_for(&Id::from_text("A-1")), 9);
        assert_eq!(c.sync_sla_ms, 60_000);
        assert!(c.compute_recs && c.compute_sync, "both computed by default");
        let lean = Settings {
            compute_recs: false,
            ..s
        };
        let c = lean.apply_to(&Config::default());
        assert!(!c.compute_recs && c.compute_sync);
    }

    #[test]
    fn the_page_can_turn_panels_off_by_name() {
        let mut s = Settings::default();
        s.turn_off("nothing, sync");
        assert!(s.compute_recs && !s.compute_sync);
        s.turn_off("recs");
        assert!(!s.compute_recs && !s.compute_sync);
        // Stored settings from before the switch existed compute both.
        let old = "low_stock_threshold=12\nnotify=1\n";
        let back = Settings::from_text(old);
        assert!(back.compute_recs && back.compute_sync);
    }

    #[test]
    fn stored_bad_fields_fall_back_one_by_one() {
        let text = "low_stock_threshold=-4\nsync_sla_s=120\nfeed_url=http://nope\nproduct=1=x\n";
        let s = Settings::from_text(text);
        assert_eq!(s.low_stock_threshold, 10);
        assert_eq!(s.sync_sla_s, 120);
        assert_eq!(s.feed_url, "");
    }

    #[test]
    fn window_counts_fit_the_span() {
        let mut s = Settings::default();
        assert_eq!(s.windows(), 60);
        s.set_span(Span::Hour);
        assert_eq!(s.windows(), 48);
        s.chart_windows = 12;
        assert_eq!(s.windows(), 12);
    }
}
