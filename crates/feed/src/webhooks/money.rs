//! Decimal money text to integer minor units, without floating point.
//!
//! Accepted: an optional `-`, digits, and an optional `.` followed by
//! digits (`"199.00"`, `"0.1"`, `"5"`, `".5"`, `"12."`, `19.99` as a JSON
//! number's text). Refused, with a reason naming the form: exponents
//! (`1e3`), a `+` sign, thousands separators (`1,000.00`), currency symbols,
//! spaces inside, `NaN`, empty text, and amounts beyond `i64` minor units.
//!
//! Digits beyond the currency's minor unit are rounded half away from zero
//! (`19.995` USD → 2000 cents); [`Money::rounded`] tells the caller, which
//! counts it. Tracking scripts send float noise such as
//! `0.30000000000000004`, and the exact decimal value is what was written.

use std::fmt;

/// An amount in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    /// The amount in minor units of its currency.
    pub minor: i64,
    /// True when digits beyond the minor unit were rounded away.
    pub rounded: bool,
}

/// Why a money text was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoneyError(String);

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub use shoppulse_core::event::minor_digits;

/// Parses `text` into minor units with `digits` decimals.
pub fn parse_minor(text: &str, digits: u32) -> Result<Money, MoneyError> {
    let shown = shoppulse_core::decode::excerpt(text, 40);
    let refuse = |why: &str| Err(MoneyError(format!("amount {shown:?}: {why}")));
    let t = text.trim();
    if t.is_empty() {
        return refuse("empty");
    }
    let (negative, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => return refuse("a leading `+` is not accepted"),
        _ => (false, t),
    };
    if body.bytes().any(|b| b == b'e' || b == b'E') && body.bytes().any(|b| b.is_ascii_digit()) {
        return refuse(
            "exponent notation (such as 1e3) is not accepted for money; write the decimal digits",
        );
    }
    if body.contains(',') {
        return refuse("thousands separators are not accepted; write 1000.00, not 1,000.00");
    }
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() && frac.is_empty() {
        return refuse("no digits");
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return refuse("expected a decimal number such as 199.00");
    }
    let d = digits as usize;
    let (kept, dropped) = if frac.len() > d {
        frac.split_at(d)
    } else {
        (frac, "")
    };
    let overflow = || MoneyError(format!("amount {shown:?}: too large"));
    let mut minor: i64 = 0;
    for b in whole.bytes().chain(kept.bytes()) {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    for _ in kept.len()..d {
        minor = minor.checked_mul(10).ok_or_else(overflow)?;
    }
    let rounded = dropped.bytes().any(|b| b != b'0');
    if dropped.as_bytes().first().is_some_and(|&b| b >= b'5') {
        minor = minor.checked_add(1).ok_or_else(overflow)?;
    }
    Ok(Money {
        minor: if negative { -minor } else { minor },
        rounded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(s: &str) -> i64 {
        parse_minor(s, 2).unwrap().minor
    }

    #[test]
    fn decimal_strings_become_exact_minor_units() {
        assert_eq!(cents("199.00"), 19_900);
        assert_eq!(cents("0.1"), 10);
        assert_eq!(cents("19.99"), 1999);
        assert_eq!(cents("5"), 500);
        assert_eq!(cents(".5"), 50);
        assert_eq!(cents("12."), 1200);
        assert_eq!(cents("-10.00"), -1000);
        assert_eq!(cents("0.07"), 7);
        assert_eq!(cents(" 3.10 "), 310);
        assert!(!parse_minor("199.000", 2).unwrap().rounded);
        // Sums that floats get wrong stay exact: 0.1 + 0.2 as text.
        assert_eq!(cents("0.1") + cents("0.2"), cents("0.3"));
        // The largest amounts stay exact (beyond f64's 2^53).
        assert_eq!(cents("92233720368547758.07"), i64::MAX);
    }

    #[test]
    fn currency_exponents() {
        assert_eq!(minor_digits("JPY"), 0);
        assert_eq!(minor_digits("jpy"), 0);
        assert_eq!(minor_digits("KWD"), 3);
        assert_eq!(minor_digits("GBP"), 2);
        assert_eq!(minor_digits("CLF"), 4);
        assert_eq!(parse_minor("1500", 0).unwrap().minor, 1500);
        assert_eq!(parse_minor("1.250", 3).unwrap().minor, 1250);
        assert_eq!(parse_minor("1.25", 3).unwrap().minor, 1250);
        assert_eq!(parse_minor("1500.00", 0).unwrap().minor, 1500);
    }

    #[test]
    fn extra_digits_round_half_away_from_zero_and_say_so() {
        let m = parse_minor("0.30000000000000004", 2).unwrap();
        assert_eq!((m.minor, m.rounded), (30, true));
        assert_eq!(parse_minor("19.995", 2).unwrap().minor, 2000);
        assert_eq!(parse_minor("-19.995", 2).unwrap().minor, -2000);
        assert_eq!(parse_minor("19.994", 2).unwrap().minor, 1999);
        assert_eq!(parse_minor("1.5", 0).unwrap().minor, 2);
    }

    #[test]
    fn exotic_forms_are_refused_with_a_reason() {
        for (text, why) in [
            ("1e3", "exponent"),
            ("1.5E2", "exponent"),
            ("+5", "`+`"),
            ("1,000.00", "thousands"),
            ("$5", "decimal number"),
            ("NaN", "decimal number"),
            ("", "empty"),
            ("-", "no digits"),
            (".", "no digits"),
            ("1.2.3", "decimal number"),
            ("1 000", "decimal number"),
            ("99999999999999999999", "too large"),
        ] {
            let e = parse_minor(text, 2).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
