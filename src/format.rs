//! Pure text formatting for the views: money, counts, percentages, durations.
//!
//! No browser APIs here, so everything is unit-tested natively.

use shoppulse_core::event::Currency;

/// Groups the digits of `n` by thousands: `1234567` -> `"1,234,567"`.
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

/// Digits after the decimal point of a currency's minor unit (ISO 4217).
pub fn minor_digits(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "PYG" | "RWF" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

/// The symbol written before an amount, or `None` to write the code after it.
fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "GBP" => "£",
        "USD" => "$",
        "EUR" => "€",
        "JPY" => "¥",
        "INR" => "₹",
        "AUD" => "A$",
        "CAD" => "C$",
        _ => return None,
    })
}

/// Formats integer minor units as money: `123456` GBP -> `"£1,234.56"`,
/// `-50` USD -> `"-$0.50"`, unknown codes -> `"1,234.56 CHF"`, no currency ->
/// `"1,234.56"`.
pub fn money(minor: i64, currency: Option<Currency>) -> String {
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
        Some(c) => match symbol(c) {
            Some(sym) => format!("{sign}{sym}{number}"),
            None => format!("{sign}{number} {c}"),
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

/// A duration in ms as a compact text: `850 ms`, `4.2 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".to_owned();
    }
    let secs = ms / 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{:.0} min", (secs / 60.0).floor())
    } else if secs < 86_400.0 {
        let h = (secs / 3600.0).floor();
        let m = ((secs - h * 3600.0) / 60.0).floor();
        format!("{h:.0} h {m:.0} min")
    } else {
        let d = (secs / 86_400.0).floor();
        let h = ((secs - d * 86_400.0) / 3600.0).floor();
        format!("{d:.0} d {h:.0} h")
    }
}

/// When `at_ms` is relative to `now_ms`: `"in 12 min"`, `"now"`, `"3 min ago"`.
pub fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = at_ms - now_ms;
    if delta.abs() < 1000 {
        "now".to_owned()
    } else if delta > 0 {
        format!("in {}", duration_ms(delta as f64))
    } else {
        format!("{} ago", duration_ms((-delta) as f64))
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
pub fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), duration_ms)
}

/// Label for a window start (UTC): `HH:MM` for minute/hour windows,
/// `YYYY-MM-DD` for day windows.
pub fn window_label(start_ms: i64, len_ms: i64) -> String {
    let text = shoppulse_core::time::format_rfc3339_ms(start_ms);
    if len_ms >= 86_400_000 {
        text.get(..10).unwrap_or(&text).to_owned()
    } else {
        text.get(11..16).unwrap_or(&text).to_owned()
    }
}

/// A short axis label: `950`, `1.2k`, `3.4M`, `-12`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "—".to_owned()
    } else if a >= 1e9 {
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

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn money_formats() {
        assert_eq!(money(123_456, Some(Currency::GBP)), "£1,234.56");
        assert_eq!(money(-50, Some(Currency::USD)), "-$0.50");
        assert_eq!(money(5, Some(Currency::GBP)), "£0.05");
        assert_eq!(money(0, None), "0.00");
        assert_eq!(money(100_000, Currency::parse("CHF")), "1,000.00 CHF");
        assert_eq!(money(1500, Currency::parse("JPY")), "¥1,500");
        assert_eq!(
            money(i64::MIN, Some(Currency::GBP)),
            "-£92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn durations_and_relative() {
        assert_eq!(duration_ms(850.0), "850 ms");
        assert_eq!(duration_ms(4200.0), "4.2 s");
        assert_eq!(duration_ms(12.0 * 60_000.0 + 5.0), "12 min");
        assert_eq!(duration_ms(3.0 * 3_600_000.0 + 5.0 * 60_000.0), "3 h 5 min");
        assert_eq!(relative(12 * 60_000, 0), "in 12 min");
        assert_eq!(relative(0, 180_000), "3 min ago");
        assert_eq!(relative(10, 0), "now");
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
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1234.0), "1.2k");
        assert_eq!(compact(25_000.0), "25k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(2.5), "2.5");
    }

    #[test]
    fn window_labels() {
        assert_eq!(window_label(1_630_454_400_000, 60_000), "00:00");
        assert_eq!(window_label(1_630_454_400_000, 86_400_000), "2021-09-01");
    }
}
