//! A JSON tree that keeps every number's exact text.
//!
//! `serde_json::Value` turns `199.99` into an `f64` and an integer above
//! `u64::MAX` into an `f64` too, losing digits. Webhook payloads carry money
//! as numbers (`"price": 19.99`) and ids as large integers, so this tree
//! keeps each number as the text it was written with: money is then read
//! as a decimal without floating point ([`super::money`]) and ids keep every
//! digit. The whole body is validated by `serde_json` first (so nesting is
//! bounded by its recursion limit of 128), then each level is unpacked from
//! its raw text.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use shoppulse_core::decode::ErrorClass;
use shoppulse_core::Id;

use super::money::{self, Money};
use super::MapError;

/// A JSON value whose numbers keep their source text.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, exactly as written (`199.00`, `-3`, `1e3`,
    /// `450789469000000000001`).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object (a repeated key keeps its last value, as in `serde_json`).
    Obj(BTreeMap<String, J>),
}

/// The missing value returned by lookups on absent fields.
static NULL: J = J::Null;

impl J {
    /// Parses a whole document.
    pub fn parse(text: &str) -> Result<J, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        J::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Result<J, serde_json::Error> {
        let t = raw.get();
        Ok(match t.as_bytes().first() {
            Some(b'n') => J::Null,
            Some(b't') => J::Bool(true),
            Some(b'f') => J::Bool(false),
            Some(b'"') => J::Str(serde_json::from_str::<String>(t)?),
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(t)?;
                J::Arr(
                    items
                        .into_iter()
                        .map(J::from_raw)
                        .collect::<Result<_, _>>()?,
                )
            }
            Some(b'{') => {
                let map: BTreeMap<String, &RawValue> = serde_json::from_str(t)?;
                J::Obj(
                    map.into_iter()
                        .map(|(k, v)| J::from_raw(v).map(|v| (k, v)))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => J::Num(t.trim().to_owned()),
        })
    }

    /// The field `key` of an object; `Null` when absent or not an object.
    pub fn get(&self, key: &str) -> &J {
        match self {
            J::Obj(m) => m.get(key).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// True for `null` (and absent fields).
    pub fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => format!("boolean {b}"),
            J::Num(n) => format!("number {}", shoppulse_core::decode::excerpt(n, 40)),
            J::Str(s) => format!("string {:?}", shoppulse_core::decode::excerpt(s, 40)),
            J::Arr(_) => "array".into(),
            J::Obj(_) => "object".into(),
        }
    }

    /// The text of a string, or `None` for null, absent or an empty string.
    pub fn text(&self) -> Option<&str> {
        match self {
            J::Str(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }

    /// The elements of an array (none for null or absent).
    pub fn items(&self, field: &str) -> Result<&[J], MapError> {
        match self {
            J::Null => Ok(&[]),
            J::Arr(v) => Ok(v),
            other => Err(MapError::wrong(field, "an array", other)),
        }
    }
}

/// Reads an id: a JSON integer (exact over `u64`; longer integers are kept
/// as their digit string) or a non-empty string. `Ok(None)` for null or
/// absent.
pub fn opt_id(v: &J, field: &str) -> Result<Option<Id>, MapError> {
    match v {
        J::Null => Ok(None),
        J::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Id::from_text(s)))
            }
        }
        J::Num(n) => {
            if !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MapError::new(
                    ErrorClass::BadValue,
                    field,
                    format!(
                        "an id must be a non-negative integer or a string, got number {}",
                        shoppulse_core::decode::excerpt(n, 40)
                    ),
                ));
            }
            // Above u64 (never seen from a real shop, but valid JSON):
            // keep every digit as a string id rather than round it.
            Ok(Some(Id::from_text(n)))
        }
        other => Err(MapError::wrong(field, "an id (integer or string)", other)),
    }
}

/// Reads a required id.
pub fn req_id(v: &J, field: &str) -> Result<Id, MapError> {
    opt_id(v, field)?.ok_or_else(|| MapError::missing(field))
}

/// Reads an integer quantity (JSON integer or integer string). `Ok(None)`
/// for null or absent.
pub fn opt_int(v: &J, field: &str) -> Result<Option<i64>, MapError> {
    let text = match v {
        J::Null => return Ok(None),
        J::Num(n) => n.as_str(),
        J::Str(s) => s.trim(),
        other => return Err(MapError::wrong(field, "an integer", other)),
    };
    // `3.0` is an integer written by a float-minded sender; `3.5` is not.
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if !frac.bytes().all(|b| b == b'0') {
        return Err(MapError::new(
            ErrorClass::BadValue,
            field,
            format!(
                "expected a whole number, got {:?}",
                shoppulse_core::decode::excerpt(text, 40)
            ),
        ));
    }
    whole.parse::<i64>().map(Some).map_err(|_| {
        MapError::new(
            ErrorClass::BadValue,
            field,
            format!(
                "expected an integer, got {:?}",
                shoppulse_core::decode::excerpt(text, 40)
            ),
        )
    })
}

/// Reads an amount of money in `currency` (a decimal string such as
/// `"199.00"` or a JSON number written the same way). `Ok(None)` for null,
/// absent or an empty string.
pub fn opt_money(v: &J, field: &str, currency: &str) -> Result<Option<Money>, MapError> {
    let text = match v {
        J::Null => return Ok(None),
        J::Str(s) if s.trim().is_empty() => return Ok(None),
        J::Num(n) => n.as_str(),
        J::Str(s) => s.as_str(),
        other => return Err(MapError::wrong(field, "an amount of money", other)),
    };
    money::parse_minor(text, money::minor_digits(currency))
        .map(Some)
        .map_err(|e| MapError::new(ErrorClass::BadValue, field, e.to_string()))
}

/// Reads a required amount of money.
pub fn req_money(v: &J, field: &str, currency: &str) -> Result<Money, MapError> {
    opt_money(v, field, currency)?.ok_or_else(|| MapError::missing(field))
}

/// Reads an RFC 3339 time (`2024-01-15T10:30:00-05:00`,
/// `2017-03-22T16:28:02` as UTC) to epoch ms. `Ok(None)` for null or absent.
pub fn opt_time(v: &J, field: &str) -> Result<Option<i64>, MapError> {
    match v {
        J::Null => Ok(None),
        J::Str(s) if s.trim().is_empty() => Ok(None),
        J::Str(s) => shoppulse_core::time::parse_rfc3339_ms(s)
            .map(Some)
            .ok_or_else(|| {
                MapError::new(
                    ErrorClass::BadValue,
                    field,
                    format!(
                        "expected an RFC 3339 time, got {:?}",
                        shoppulse_core::decode::excerpt(s, 40)
                    ),
                )
            }),
        other => Err(MapError::wrong(field, "an RFC 3339 time string", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_exact_text() {
        let j = J::parse(
            r#"{"id": 450789469000000000001, "price": 19.99, "big": 18446744073709551615, "n": null}"#,
        )
        .unwrap();
        assert_eq!(j.get("price"), &J::Num("19.99".into()));
        assert_eq!(
            opt_id(j.get("id"), "id").unwrap(),
            Some(Id::Str("450789469000000000001".into()))
        );
        assert_eq!(
            opt_id(j.get("big"), "big").unwrap(),
            Some(Id::Num(u64::MAX))
        );
        assert_eq!(opt_id(j.get("n"), "n").unwrap(), None);
        assert_eq!(opt_id(j.get("absent"), "absent").unwrap(), None);
    }

    #[test]
    fn ids_refuse_negative_and_fractional_numbers() {
        let j = J::parse(r#"{"a": -1, "b": 1.5, "c": {"x": 1}}"#).unwrap();
        assert_eq!(
            opt_id(j.get("a"), "a").unwrap_err().class,
            ErrorClass::BadValue
        );
        assert_eq!(
            opt_id(j.get("b"), "b").unwrap_err().class,
            ErrorClass::BadValue
        );
        assert_eq!(
            opt_id(j.get("c"), "c").unwrap_err().class,
            ErrorClass::WrongType
        );
    }

    #[test]
    fn integers_from_numbers_and_strings() {
        let j = J::parse(r#"{"a": 3, "b": "4", "c": 2.0, "d": 2.5, "e": true}"#).unwrap();
        assert_eq!(opt_int(j.get("a"), "a").unwrap(), Some(3));
        assert_eq!(opt_int(j.get("b"), "b").unwrap(), Some(4));
        assert_eq!(opt_int(j.get("c"), "c").unwrap(), Some(2));
        assert!(opt_int(j.get("d"), "d").is_err());
        assert!(opt_int(j.get("e"), "e").is_err());
    }

    #[test]
    fn strings_with_escapes_and_nested_arrays() {
        let j = J::parse(r#"{"s": "a\"b\u00e9", "l": [[1], {"k": "v"}]}"#).unwrap();
        assert_eq!(j.get("s").text(), Some("a\"b\u{e9}"));
        let l = j.get("l").items("l").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].get("k").text(), Some("v"));
        assert!(J::parse("{").is_err());
        assert!(J::parse("[1,]").is_err());
    }
}
