//! Pure text formatting for the views, per language: money, counts,
//! percentages, durations, dates.
//!
//! Our own tables (no `Intl` call per cell): they match what
//! `Intl.NumberFormat` / `Intl.DateTimeFormat` print for `en-US` and `zh-CN`
//! on the figures we show (grouping by thousands in both, `US$` in Chinese,
//! `1.2万` compact numbers, `2021年9月1日` dates), stay deterministic, and are
//! unit-tested natively. Times are UTC (event time), as labelled.

use shoppulse_core::event::{minor_digits, Currency};
use shoppulse_core::time::{civil_from_days, format_hms};

use crate::i18n::Lang;

/// Groups the digits of `n` by thousands: `1234567` -> `"1,234,567"` (both
/// languages group by thousands with a comma).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A signed integer with grouping: `-1234` -> `"-1,234"`.
pub fn int(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", thousands(n.unsigned_abs()))
}

/// The symbol written before an amount in `lang` (as `Intl` does), or
/// `None` to write the code before it (`CHF 1,500.00`).
fn symbol(code: &str, lang: Lang) -> Option<&'static str> {
    let zh = lang == Lang::Zh;
    Some(match code {
        "GBP" => "£",
        "EUR" => "€",
        "INR" => "₹",
        "CAD" => "CA$",
        "USD" if zh => "US$",
        "USD" => "$",
        "JPY" if zh => "JP¥",
        "JPY" => "¥",
        "CNY" if zh => "¥",
        "CNY" => "CN¥",
        "AUD" if zh => "AU$",
        "AUD" => "A$",
        _ => return None,
    })
}

/// Minor units as an exact decimal without grouping (`-123456` -> `"-1234.56"`),
/// for CSV.
pub fn decimal(minor: i64, currency: Option<Currency>) -> String {
    let digits = currency.map_or(2, |c| minor_digits(c.as_str()));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(digits);
    if digits == 0 {
        format!("{sign}{abs}")
    } else {
        format!(
            "{sign}{}.{:0w$}",
            abs / scale,
            abs % scale,
            w = digits as usize
        )
    }
}

/// Formats integer minor units as money: `123456` GBP -> `"£1,234.56"`,
/// `-50` USD -> `"-$0.50"` (`"-US$0.50"` in Chinese), unknown codes ->
/// `"CHF 1,234.56"`, no currency -> `"1,234.56"`.
pub fn money(minor: i64, currency: Option<Currency>, lang: Lang) -> String {
    let code = currency.map(|c| c.as_str().to_owned());
    let digits = code.as_deref().map_or(2, minor_digits);
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(digits);
    let whole = thousands(abs / scale);
    let number = if digits == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", abs % scale, width = digits as usize)
    };
    let sign = if neg { "-" } else { "" };
    match code.as_deref() {
        None => format!("{sign}{number}"),
        Some(c) => match symbol(c, lang) {
            Some(sym) => format!("{sign}{sym}{number}"),
            None => format!("{sign}{c}\u{a0}{number}"),
        },
    }
}

/// Minor units as a plain float in major units, for chart axes.
pub fn major_units(minor: i64, currency: Option<Currency>) -> f64 {
    let digits = currency.map_or(2, |c| minor_digits(c.as_str()));
    minor as f64 / 10f64.powi(i32::try_from(digits).unwrap_or(2))
}

/// A ratio as a percentage with one decimal: `0.1234` -> `"12.3%"`.
pub fn percent(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{:.1}%", ratio * 100.0)
    } else {
        "—".to_owned()
    }
}

/// `part / whole` as a percentage, `"—"` when `whole` is 0.
pub fn conversion(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".to_owned()
    } else {
        percent(part as f64 / whole as f64)
    }
}

/// Unit words: `[ms, s, min, h, d]`.
fn units(lang: Lang) -> [&'static str; 5] {
    match lang {
        Lang::En => ["ms", "s", "min", "h", "d"],
        Lang::Zh => ["毫秒", "秒", "分钟", "小时", "天"],
    }
}

/// A duration in ms as a compact text: `850 ms`, `4.2 s`, `12 min`,
/// `3 h 5 min`, `2 d 4 h` (`4.2 秒`, `3 小时 5 分钟` in Chinese).
pub fn duration_ms(ms: f64, lang: Lang) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".to_owned();
    }
    let u = units(lang);
    let secs = ms / 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} {}", u[0])
    } else if secs < 60.0 {
        format!("{secs:.1} {}", u[1])
    } else if secs < 3600.0 {
        format!("{:.0} {}", (secs / 60.0).floor(), u[2])
    } else if secs < 86_400.0 {
        let h = (secs / 3600.0).floor();
        let m = ((secs - h * 3600.0) / 60.0).floor();
        format!("{h:.0} {} {m:.0} {}", u[3], u[2])
    } else {
        let d = (secs / 86_400.0).floor();
        let h = ((secs - d * 86_400.0) / 3600.0).floor();
        format!("{d:.0} {} {h:.0} {}", u[4], u[3])
    }
}

/// When `at_ms` is relative to `now_ms`: `"in 12 min"`, `"now"`,
/// `"3 min ago"` (`"12 分钟后"`, `"现在"`, `"3 分钟前"`).
pub fn relative(at_ms: i64, now_ms: i64, lang: Lang) -> String {
    let delta = at_ms - now_ms;
    let d = duration_ms(delta.unsigned_abs() as f64, lang);
    match (lang, delta.abs() < 1000, delta > 0) {
        (Lang::En, true, _) => "now".to_owned(),
        (Lang::Zh, true, _) => "现在".to_owned(),
        (Lang::En, _, true) => format!("in {d}"),
        (Lang::En, _, false) => format!("{d} ago"),
        (Lang::Zh, _, true) => format!("{d}后"),
        (Lang::Zh, _, false) => format!("{d}前"),
    }
}

/// A rate with a sensible number of decimals: `0.25`, `12.5`, `1,234`.
pub fn rate(per_s: f64) -> String {
    if !per_s.is_finite() || per_s <= 0.0 {
        "0".to_owned()
    } else if per_s < 10.0 {
        format!("{per_s:.2}")
    } else if per_s < 100.0 {
        format!("{per_s:.1}")
    } else {
        // reason: rates are far below 2^53; rounding to whole events is intended
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = per_s.round() as u64;
        thousands(whole)
    }
}

/// An optional latency in ms, `"—"` when absent.
pub fn opt_ms(v: Option<f64>, lang: Lang) -> String {
    v.map_or_else(|| "—".to_owned(), |ms| duration_ms(ms, lang))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `(year, month 1..=12, day)` of an epoch-ms time (UTC).
fn ymd(ts_ms: i64) -> (i64, usize, i64) {
    let (y, m, d) = civil_from_days(ts_ms.div_euclid(86_400_000));
    (y, usize::try_from(m).unwrap_or(1).clamp(1, 12), d)
}

/// A calendar date (UTC): `"1 Sep 2021"`, `"2021年9月1日"`.
pub fn date(ts_ms: i64, lang: Lang) -> String {
    let (y, m, d) = ymd(ts_ms);
    match lang {
        Lang::En => format!("{d} {} {y}", MONTHS[m - 1]),
        Lang::Zh => format!("{y}年{m}月{d}日"),
    }
}

/// Date and time (UTC): `"1 Sep 2021, 10:00:00"`, `"2021年9月1日 10:00:00"`.
pub fn datetime(ts_ms: i64, lang: Lang) -> String {
    let sep = if lang == Lang::En { ", " } else { " " };
    format!("{}{sep}{}", date(ts_ms, lang), format_hms(ts_ms))
}

/// Label for a window start (UTC): `HH:MM` for minute/hour windows, the
/// date for day windows.
pub fn window_label(start_ms: i64, len_ms: i64, lang: Lang) -> String {
    if len_ms >= 86_400_000 {
        let (_, m, d) = ymd(start_ms);
        match lang {
            Lang::En => format!("{d} {}", MONTHS[m - 1]),
            Lang::Zh => format!("{m}月{d}日"),
        }
    } else {
        let t = format_hms(start_ms);
        t.get(..5).unwrap_or(&t).to_owned()
    }
}

/// A short axis label: `950`, `1.2k`, `3.4M` (`1.2万`, `3.4亿` in Chinese).
pub fn compact(v: f64, lang: Lang) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return "—".to_owned();
    }
    if lang == Lang::Zh {
        return if a >= 1e8 {
            format!("{:.1}亿", v / 1e8)
        } else if a >= 1e4 {
            format!("{:.1}万", v / 1e4)
        } else if a >= 10.0 || a == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
    }
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: Lang = Lang::En;
    const ZH: Lang = Lang::Zh;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(int(-1234), "-1,234");
    }

    #[test]
    fn money_formats_per_language() {
        assert_eq!(money(123_456, Some(Currency::GBP), EN), "£1,234.56");
        assert_eq!(money(123_456, Some(Currency::GBP), ZH), "£1,234.56");
        assert_eq!(money(-50, Some(Currency::USD), EN), "-$0.50");
        assert_eq!(money(-50, Some(Currency::USD), ZH), "-US$0.50");
        assert_eq!(money(5, Some(Currency::GBP), EN), "£0.05");
        assert_eq!(money(0, None, EN), "0.00");
        assert_eq!(
            money(100_000, Currency::parse("CHF"), EN),
            "CHF\u{a0}1,000.00"
        );
        assert_eq!(money(1500, Currency::parse("JPY"), EN), "¥1,500");
        assert_eq!(money(1500, Currency::parse("JPY"), ZH), "JP¥1,500");
        assert_eq!(money(1500, Currency::parse("CNY"), ZH), "¥15.00");
        assert_eq!(
            money(i64::MIN, Some(Currency::GBP), EN),
            "-£92,233,720,368,547,758.08"
        );
        assert_eq!(decimal(-123_456, Some(Currency::GBP)), "-1234.56");
        assert_eq!(decimal(7, Currency::parse("KWD")), "0.007");
        assert_eq!(decimal(1500, Currency::parse("JPY")), "1500");
    }

    #[test]
    fn regression_zero_and_four_decimal_currencies_the_gateway_parses_show_as_it_parsed_them() {
        // The dashboard had its own, shorter list: KMF, DJF, GNF, BIF, VUV,
        // XPF amounts (parsed by the gateway with no decimals) were shown
        // divided by 100, and CLF with two decimals instead of four.
        for code in ["KMF", "DJF", "GNF", "BIF", "VUV", "XPF"] {
            assert_eq!(decimal(1500, Currency::parse(code)), "1500", "{code}");
        }
        assert_eq!(decimal(12_345, Currency::parse("CLF")), "1.2345");
    }

    #[test]
    fn durations_and_relative() {
        assert_eq!(duration_ms(850.0, EN), "850 ms");
        assert_eq!(duration_ms(4200.0, EN), "4.2 s");
        assert_eq!(duration_ms(4200.0, ZH), "4.2 秒");
        assert_eq!(duration_ms(12.0 * 60_000.0 + 5.0, EN), "12 min");
        assert_eq!(
            duration_ms(3.0 * 3_600_000.0 + 5.0 * 60_000.0, EN),
            "3 h 5 min"
        );
        assert_eq!(
            duration_ms(3.0 * 3_600_000.0 + 5.0 * 60_000.0, ZH),
            "3 小时 5 分钟"
        );
        assert_eq!(relative(12 * 60_000, 0, EN), "in 12 min");
        assert_eq!(relative(12 * 60_000, 0, ZH), "12 分钟后");
        assert_eq!(relative(0, 180_000, EN), "3 min ago");
        assert_eq!(relative(0, 180_000, ZH), "3 分钟前");
        assert_eq!(relative(10, 0, EN), "now");
    }

    #[test]
    fn percents_and_rates() {
        assert_eq!(conversion(1, 4), "25.0%");
        assert_eq!(conversion(1, 0), "—");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.345), "2.35");
        assert_eq!(rate(1234.4), "1,234");
    }

    #[test]
    fn compact_labels() {
        assert_eq!(compact(0.0, EN), "0");
        assert_eq!(compact(950.0, EN), "950");
        assert_eq!(compact(1234.0, EN), "1.2k");
        assert_eq!(compact(25_000.0, EN), "25k");
        assert_eq!(compact(25_000.0, ZH), "2.5万");
        assert_eq!(compact(3_400_000.0, EN), "3.4M");
        assert_eq!(compact(340_000_000.0, ZH), "3.4亿");
        assert_eq!(compact(2.5, EN), "2.5");
    }

    #[test]
    fn dates_per_language() {
        let t = 1_630_490_400_000; // 2021-09-01T10:00:00Z
        assert_eq!(datetime(t, EN), "1 Sep 2021, 10:00:00");
        assert_eq!(datetime(t, ZH), "2021年9月1日 10:00:00");
        assert_eq!(window_label(1_630_454_400_000, 60_000, EN), "00:00");
        assert_eq!(window_label(1_630_454_400_000, 86_400_000, EN), "1 Sep");
        assert_eq!(window_label(1_630_454_400_000, 86_400_000, ZH), "9月1日");
    }
}
