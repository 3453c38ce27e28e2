//! JSON wire decoding and canonical encoding of events (protocol v1).
//!
//! [`decode_event`] never panics: every bad input yields a [`DecodeError`]
//! naming its [`ErrorClass`], the field (when one is at fault) and what was
//! wrong. Callers count the error, keep its reason and go on with the next
//! event.
//!
//! Decoding is a single `serde_json` pass into a flat struct of borrowed
//! [`Scalar`]s (strings without escapes are not copied), followed by typed
//! validation per kind. Unknown fields are ignored.

// reason: the field helpers take `&Option<Scalar>` straight from the flat `Raw`
// struct; folding JSON `null` into "missing" is exactly that adapter.
#![allow(clippy::ref_option)]

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::{
    Action, Behavior, Body, Currency, Event, Inventory, Kind, LineItem, Order, OrderStatus,
    Rejected, SalesFigure, Sync, SyncStatus, Target,
};
use crate::id::{Id, MAX_ID_LEN};
use crate::time::{format_rfc3339_ms, parse_rfc3339_ms};

/// Largest frame either side sends or accepts, in bytes (re-exported as
/// `shoppulse_core::frame::MAX_FRAME_BYTES`).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Largest accepted event, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Longest accepted short text (channel, warehouse, action, status, currency...).
pub const MAX_NAME_LEN: usize = 64;
/// Longest accepted free text (sync error text, rejection reason).
pub const MAX_TEXT_LEN: usize = 4096;
/// Most line items in one order.
pub const MAX_LINES: usize = 1000;
/// Bytes of a bad input kept in its rejection notice.
pub const EXCERPT_LEN: usize = 160;

/// What kind of wrong an input was.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Not JSON, not an object, or nested too deeply.
    Malformed,
    /// Over a size limit (event, string, line items).
    TooLarge,
    /// A `kind` we do not know, or no kind field and no known shape.
    UnknownKind,
    /// A required field is absent (or null).
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A field has the right type but an impossible value.
    BadValue,
}

impl ErrorClass {
    /// All classes, for counters.
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Malformed,
        ErrorClass::TooLarge,
        ErrorClass::UnknownKind,
        ErrorClass::MissingField,
        ErrorClass::WrongType,
        ErrorClass::BadValue,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Malformed => "malformed",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::UnknownKind => "unknown_kind",
            ErrorClass::MissingField => "missing_field",
            ErrorClass::WrongType => "wrong_type",
            ErrorClass::BadValue => "bad_value",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why an event was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecodeError {
    /// The class, for counting.
    pub class: ErrorClass,
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    /// What was wrong, readable.
    pub detail: String,
}

impl DecodeError {
    /// An error of `class` about `field`, saying `detail`.
    pub fn new(class: ErrorClass, field: Option<&'static str>, detail: impl Into<String>) -> Self {
        DecodeError {
            class,
            field,
            detail: detail.into(),
        }
    }

    fn missing(field: &'static str) -> Self {
        DecodeError::new(
            ErrorClass::MissingField,
            Some(field),
            "required field is missing",
        )
    }

    fn wrong(field: &'static str, expected: &str, got: &Scalar<'_>) -> Self {
        DecodeError::new(
            ErrorClass::WrongType,
            Some(field),
            format!("expected {expected}, got {}", got.describe()),
        )
    }

    fn bad(field: &'static str, detail: impl Into<String>) -> Self {
        DecodeError::new(ErrorClass::BadValue, Some(field), detail)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(
                f,
                "{}: field `{field}`: {}",
                self.class.as_str(),
                self.detail
            ),
            None => write!(f, "{}: {}", self.class.as_str(), self.detail),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Any JSON value, with scalars kept and containers reduced to what the
/// decoder needs. Borrowed strings point into the input.
#[derive(Debug)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// A number with a fraction or exponent.
    F64(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array, elements unparsed.
    Array(Vec<&'a RawValue>),
    /// An object (contents skipped).
    Object,
}

impl Scalar<'_> {
    fn describe(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => format!("boolean {b}"),
            Scalar::U64(n) => format!("number {n}"),
            Scalar::I64(n) => format!("number {n}"),
            Scalar::F64(x) => format!("number {x}"),
            Scalar::Str(s) => format!("string {:?}", excerpt(s, 40)),
            Scalar::Array(_) => "array".into(),
            Scalar::Object => "object".into(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(if v >= 0 {
                    Scalar::U64(v.unsigned_abs())
                } else {
                    Scalar::I64(v)
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(Scalar::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Object)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The flat union of every field any event kind may carry, aliases included.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw<'a> {
    #[serde(borrow)]
    kind: Option<Scalar<'a>>,
    #[serde(borrow)]
    ts: Option<Scalar<'a>>,
    #[serde(borrow)]
    ts_inferred: Option<Scalar<'a>>,
    #[serde(borrow)]
    user: Option<Scalar<'a>>,
    #[serde(borrow)]
    user_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    session: Option<Scalar<'a>>,
    #[serde(borrow)]
    action: Option<Scalar<'a>>,
    #[serde(borrow)]
    product: Option<Scalar<'a>>,
    #[serde(borrow)]
    product_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    channel: Option<Scalar<'a>>,
    #[serde(borrow)]
    price_cents: Option<Scalar<'a>>,
    #[serde(borrow)]
    quantity: Option<Scalar<'a>>,
    #[serde(borrow)]
    warehouse: Option<Scalar<'a>>,
    #[serde(borrow)]
    order: Option<Scalar<'a>>,
    #[serde(borrow)]
    order_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    total_cents: Option<Scalar<'a>>,
    #[serde(borrow)]
    currency: Option<Scalar<'a>>,
    #[serde(borrow)]
    lines: Option<Scalar<'a>>,
    #[serde(borrow)]
    target: Option<Scalar<'a>>,
    #[serde(borrow)]
    attempt: Option<Scalar<'a>>,
    #[serde(borrow)]
    latency_ms: Option<Scalar<'a>>,
    #[serde(borrow)]
    error: Option<Scalar<'a>>,
    #[serde(borrow)]
    date: Option<Scalar<'a>>,
    #[serde(borrow)]
    bucket: Option<Scalar<'a>>,
    #[serde(borrow)]
    sales: Option<Scalar<'a>>,
    #[serde(borrow)]
    source: Option<Scalar<'a>>,
    #[serde(borrow)]
    line: Option<Scalar<'a>>,
    #[serde(borrow)]
    class: Option<Scalar<'a>>,
    #[serde(borrow)]
    reason: Option<Scalar<'a>>,
    #[serde(borrow)]
    excerpt: Option<Scalar<'a>>,
    /// The line items, already decoded and valid, when the fast path read
    /// `lines` (`lines` then holds an empty array, for the kind inference).
    #[serde(skip)]
    plain_lines: Option<Vec<LineItem>>,
}

/// A field that is absent or `null` is treated as missing.
fn present<'s, 'a>(v: &'s Option<Scalar<'a>>) -> Option<&'s Scalar<'a>> {
    match v {
        None | Some(Scalar::Null) => None,
        Some(s) => Some(s),
    }
}

fn either<'s, 'a>(a: &'s Option<Scalar<'a>>, b: &'s Option<Scalar<'a>>) -> Option<&'s Scalar<'a>> {
    present(a).or_else(|| present(b))
}

fn id_of(v: &Scalar<'_>, field: &'static str) -> Result<Id, DecodeError> {
    match v {
        Scalar::U64(n) => Ok(Id::Num(*n)),
        Scalar::Str(s) => {
            if s.is_empty() {
                Err(DecodeError::bad(field, "id must not be empty"))
            } else if s.len() > MAX_ID_LEN {
                Err(DecodeError::new(
                    ErrorClass::TooLarge,
                    Some(field),
                    format!("id is {} bytes, limit {MAX_ID_LEN}", s.len()),
                ))
            } else {
                Ok(Id::from_text(s))
            }
        }
        Scalar::I64(n) => Err(DecodeError::bad(
            field,
            format!("id must not be negative, got {n}"),
        )),
        Scalar::F64(_) => Err(DecodeError::wrong(
            field,
            "an integer or string id (a fractional or huge number would lose precision)",
            v,
        )),
        _ => Err(DecodeError::wrong(field, "an integer or string id", v)),
    }
}

fn req_id(v: Option<&Scalar<'_>>, field: &'static str) -> Result<Id, DecodeError> {
    id_of(v.ok_or_else(|| DecodeError::missing(field))?, field)
}

fn opt_id(v: Option<&Scalar<'_>>, field: &'static str) -> Result<Option<Id>, DecodeError> {
    v.map(|s| id_of(s, field)).transpose()
}

fn int_of(v: &Scalar<'_>, field: &'static str) -> Result<i64, DecodeError> {
    match v {
        Scalar::U64(n) => {
            i64::try_from(*n).map_err(|_| DecodeError::bad(field, format!("{n} is out of range")))
        }
        Scalar::I64(n) => Ok(*n),
        _ => Err(DecodeError::wrong(field, "an integer", v)),
    }
}

fn req_int(v: &Option<Scalar<'_>>, field: &'static str) -> Result<i64, DecodeError> {
    int_of(
        present(v).ok_or_else(|| DecodeError::missing(field))?,
        field,
    )
}

fn opt_int(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Option<i64>, DecodeError> {
    present(v).map(|s| int_of(s, field)).transpose()
}

fn str_of<'s>(v: &'s Scalar<'_>, field: &'static str, max: usize) -> Result<&'s str, DecodeError> {
    match v {
        Scalar::Str(s) if s.len() > max => Err(DecodeError::new(
            ErrorClass::TooLarge,
            Some(field),
            format!("text is {} bytes, limit {max}", s.len()),
        )),
        Scalar::Str(s) => Ok(s),
        _ => Err(DecodeError::wrong(field, "a string", v)),
    }
}

fn req_str<'s>(
    v: &'s Option<Scalar<'_>>,
    field: &'static str,
    max: usize,
) -> Result<&'s str, DecodeError> {
    str_of(
        present(v).ok_or_else(|| DecodeError::missing(field))?,
        field,
        max,
    )
}

fn opt_str<'s>(
    v: &'s Option<Scalar<'_>>,
    field: &'static str,
    max: usize,
) -> Result<Option<&'s str>, DecodeError> {
    present(v).map(|s| str_of(s, field, max)).transpose()
}

/// A required short name: present, a string, at most [`MAX_NAME_LEN`]
/// bytes, not empty.
fn name_str<'s>(v: &'s Option<Scalar<'_>>, field: &'static str) -> Result<&'s str, DecodeError> {
    let s = req_str(v, field, MAX_NAME_LEN)?;
    if s.is_empty() {
        return Err(DecodeError::bad(field, "must not be empty"));
    }
    Ok(s)
}

fn name(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Arc<str>, DecodeError> {
    name_str(v, field).map(Into::into)
}

fn opt_name(v: &Option<Scalar<'_>>, field: &'static str) -> Result<Option<Arc<str>>, DecodeError> {
    Ok(opt_str(v, field, MAX_NAME_LEN)?
        .filter(|s| !s.is_empty())
        .map(Into::into))
}

fn time_of(v: &Scalar<'_>) -> Result<i64, DecodeError> {
    match v {
        Scalar::U64(_) | Scalar::I64(_) => int_of(v, "ts"),
        Scalar::Str(s) => parse_rfc3339_ms(s).ok_or_else(|| {
            DecodeError::bad(
                "ts",
                format!("not RFC 3339 or epoch milliseconds: {:?}", excerpt(s, 40)),
            )
        }),
        _ => Err(DecodeError::wrong(
            "ts",
            "RFC 3339 text or integer epoch milliseconds",
            v,
        )),
    }
}

/// Infers the kind of an event without a `kind` field from its fields
/// (the seed documents' shapes).
fn infer_kind(r: &Raw<'_>) -> Option<Kind> {
    if r.action.is_some() {
        Some(Kind::Behavior)
    } else if r.sales.is_some() {
        Some(Kind::Sales)
    } else if r.target.is_some() {
        Some(Kind::Sync)
    } else if r.lines.is_some() || r.total_cents.is_some() {
        Some(Kind::Order)
    } else if r.quantity.is_some() && (r.product.is_some() || r.product_id.is_some()) {
        Some(Kind::Inventory)
    } else {
        None
    }
}

fn kind_of(r: &Raw<'_>) -> Result<Kind, DecodeError> {
    match present(&r.kind) {
        Some(Scalar::Str(s)) => match s.as_ref() {
            "behavior" | "behaviour" => Ok(Kind::Behavior),
            "inventory" => Ok(Kind::Inventory),
            "order" => Ok(Kind::Order),
            "sync" => Ok(Kind::Sync),
            "sales" => Ok(Kind::Sales),
            "rejected" => Ok(Kind::Rejected),
            other => Err(DecodeError::new(
                ErrorClass::UnknownKind,
                Some("kind"),
                format!("unknown kind {:?}", excerpt(other, 40)),
            )),
        },
        Some(other) => Err(DecodeError::wrong("kind", "a string", other)),
        None => infer_kind(r).ok_or_else(|| {
            DecodeError::new(
                ErrorClass::UnknownKind,
                None,
                "no `kind` field and the fields match no known event shape",
            )
        }),
    }
}

/// Decodes one JSON event. `fallback_ts_ms` is used (and the event flagged
/// `ts_inferred`) when the event carries no `ts`.
pub fn decode_event(json: &str, fallback_ts_ms: i64) -> Result<Event, DecodeError> {
    if json.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::new(
            ErrorClass::TooLarge,
            None,
            format!("event is {} bytes, limit {MAX_EVENT_BYTES}", json.len()),
        ));
    }
    let trimmed = json.trim_start();
    if !trimmed.starts_with('{') {
        return Err(DecodeError::new(
            ErrorClass::Malformed,
            None,
            if trimmed.is_empty() {
                "empty input".to_owned()
            } else {
                format!(
                    "an event must be a JSON object, got {:?}",
                    excerpt(trimmed, 24)
                )
            },
        ));
    }
    let mut raw = Raw::default();
    if scan_plain(json, &mut raw) {
        return decode_raw(&raw, fallback_ts_ms);
    }
    decode_general(json, fallback_ts_ms)
}

/// The general path of [`decode_event`] (after its size and shape checks):
/// `serde_json` into [`Raw`], then validation.
fn decode_general(json: &str, fallback_ts_ms: i64) -> Result<Event, DecodeError> {
    let raw: Raw<'_> = serde_json::from_str(json)
        .map_err(|e| DecodeError::new(ErrorClass::Malformed, None, format!("invalid JSON: {e}")))?;
    decode_raw(&raw, fallback_ts_ms)
}

/// The fast path of [`decode_event`]: reads the plain layout the gateway and
/// shops write (one flat object, no whitespace, only known fields, each
/// once; values integers, strings without escapes, `true`, `false`,
/// `null`) straight into [`Raw`], with exactly the values `serde_json`
/// would give; an order's `lines` array of plain line-item objects is
/// decoded and checked as the general path does. Anything else (another
/// array or object, a fraction, an escape, whitespace, an unknown or
/// repeated field, a line item the general path would refuse, anything
/// malformed)
/// returns `false` (`raw` then partly filled, to be dropped) and the
/// general path decides, so every error still comes
/// from one place. The `fast_path_agrees_with_serde` proptest checks the
/// two paths agree.
fn scan_plain<'a>(json: &'a str, raw: &mut Raw<'a>) -> bool {
    scan_plain_fields(json, raw).is_some()
}

fn scan_plain_fields<'a>(json: &'a str, raw: &mut Raw<'a>) -> Option<()> {
    let b = json.as_bytes();
    let mut seen: u32 = 0;
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1;
    loop {
        let (key, after) = plain_key(json, i)?;
        let after = if key == "lines" {
            if seen & (1 << 30) != 0 {
                return None;
            }
            seen |= 1 << 30;
            let (items, after) = plain_lines(json, after)?;
            raw.lines = Some(Scalar::Array(Vec::new()));
            raw.plain_lines = Some(items);
            after
        } else {
            let (n, slot) = raw_field(raw, key)?;
            if seen & (1 << n) != 0 {
                return None;
            }
            seen |= 1 << n;
            let (value, after) = plain_value(json, after)?;
            *slot = value;
            after
        };
        match b.get(after) {
            Some(b',') => i = after + 1,
            Some(b'}') if after + 1 == b.len() => return Some(()),
            _ => return None,
        }
    }
}

/// An array of plain line-item objects at `i` (fields `product` or
/// `product_id`, `quantity`, `unit_price_cents`, each once), decoded and
/// checked exactly as `decode_line` does, and the index past it; `None`
/// for anything else, including a line item that `decode_line` would
/// refuse (the general path then reports it) and more than [`MAX_LINES`].
fn plain_lines(json: &str, i: usize) -> Option<(Vec<LineItem>, usize)> {
    let b = json.as_bytes();
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut items = Vec::new();
    let mut i = i + 1;
    if b.get(i) == Some(&b']') {
        return Some((items, i + 1));
    }
    loop {
        if items.len() == MAX_LINES || b.get(i) != Some(&b'{') {
            return None;
        }
        let mut f: [Option<Scalar<'_>>; 4] = [None, None, None, None];
        let mut seen = 0u8;
        i += 1;
        loop {
            let (key, after) = plain_key(json, i)?;
            let n = match key {
                "product" => 0,
                "product_id" => 1,
                "quantity" => 2,
                "unit_price_cents" => 3,
                _ => return None,
            };
            if seen & (1 << n) != 0 {
                return None;
            }
            seen |= 1 << n;
            let (value, after) = plain_value(json, after)?;
            f[n] = value;
            match b.get(after) {
                Some(b',') => i = after + 1,
                Some(b'}') => {
                    i = after + 1;
                    break;
                }
                _ => return None,
            }
        }
        let [product, product_id, quantity, unit_price_cents] = &f;
        items.push(LineItem {
            product: req_id(either(product, product_id), "lines.product").ok()?,
            quantity: req_int(quantity, "lines.quantity").ok()?,
            unit_price_cents: req_int(unit_price_cents, "lines.unit_price_cents").ok()?,
        });
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return Some((items, i + 1)),
            _ => return None,
        }
    }
}

/// An object key at `i` (`"key":`) and the index of its value; `None`
/// for anything not plain.
fn plain_key(json: &str, i: usize) -> Option<(&str, usize)> {
    let b = json.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let (key, after) = plain_str(json, i + 1)?;
    (b.get(after) == Some(&b':')).then_some((key, after + 1))
}

/// A string's text from `start` (just past its opening quote) and the
/// index past its closing quote; `None` on an escape or a control
/// character (left to the general path).
fn plain_str(json: &str, start: usize) -> Option<(&str, usize)> {
    let b = json.as_bytes();
    let mut i = start;
    loop {
        match *b.get(i)? {
            b'"' => return Some((json.get(start..i)?, i + 1)),
            b'\\' | 0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// One scalar value at `i` (`null` reads as an absent field, as serde reads
/// an `Option`) and the index past it; `None` for anything not plain.
fn plain_value(json: &str, i: usize) -> Option<(Option<Scalar<'_>>, usize)> {
    let b = json.as_bytes();
    let lit = |word: &[u8], v: Option<Scalar<'static>>| {
        b.get(i..i + word.len())
            .filter(|s| *s == word)
            .map(|_| (v, i + word.len()))
    };
    match *b.get(i)? {
        b'"' => {
            let (s, after) = plain_str(json, i + 1)?;
            Some((Some(Scalar::Str(Cow::Borrowed(s))), after))
        }
        b't' => lit(b"true", Some(Scalar::Bool(true))),
        b'f' => lit(b"false", Some(Scalar::Bool(false))),
        b'n' => lit(b"null", None),
        b'-' => {
            let (n, after) = plain_digits(b, i + 1)?;
            // -0 and out-of-range negatives are left to the general path.
            let v = 0i64.checked_sub_unsigned(n).filter(|&v| v < 0)?;
            Some((Some(Scalar::I64(v)), after))
        }
        b'0'..=b'9' => {
            let (n, after) = plain_digits(b, i)?;
            Some((Some(Scalar::U64(n)), after))
        }
        _ => None,
    }
}

/// An unsigned integer's digits from `i` (no leading zero, no fraction or
/// exponent, fits a `u64`) and the index past them.
fn plain_digits(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        j += 1;
    }
    let digits = j - i;
    if digits == 0 || (digits > 1 && b[i] == b'0') {
        return None;
    }
    if matches!(b.get(j), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    Some((n, j))
}

/// The [`Raw`] field named `key` and its number (for the repeat check).
fn raw_field<'r, 'a>(r: &'r mut Raw<'a>, key: &str) -> Option<(u32, &'r mut Option<Scalar<'a>>)> {
    Some(match key {
        "kind" => (0, &mut r.kind),
        "ts" => (1, &mut r.ts),
        "ts_inferred" => (2, &mut r.ts_inferred),
        "user" => (3, &mut r.user),
        "user_id" => (4, &mut r.user_id),
        "session" => (5, &mut r.session),
        "action" => (6, &mut r.action),
        "product" => (7, &mut r.product),
        "product_id" => (8, &mut r.product_id),
        "channel" => (9, &mut r.channel),
        "price_cents" => (10, &mut r.price_cents),
        "quantity" => (11, &mut r.quantity),
        "warehouse" => (12, &mut r.warehouse),
        "order" => (13, &mut r.order),
        "order_id" => (14, &mut r.order_id),
        "status" => (15, &mut r.status),
        "total_cents" => (16, &mut r.total_cents),
        "currency" => (17, &mut r.currency),
        "target" => (18, &mut r.target),
        "attempt" => (19, &mut r.attempt),
        "latency_ms" => (20, &mut r.latency_ms),
        "error" => (21, &mut r.error),
        "date" => (22, &mut r.date),
        "bucket" => (23, &mut r.bucket),
        "sales" => (24, &mut r.sales),
        "source" => (25, &mut r.source),
        "line" => (26, &mut r.line),
        "class" => (27, &mut r.class),
        "reason" => (28, &mut r.reason),
        "excerpt" => (29, &mut r.excerpt),
        // Unknown fields: the general path (`lines` is read by the caller).
        _ => return None,
    })
}

fn decode_raw(r: &Raw<'_>, fallback_ts_ms: i64) -> Result<Event, DecodeError> {
    let kind = kind_of(r)?;
    let (ts_ms, ts_inferred) = match present(&r.ts) {
        Some(v) => (
            time_of(v)?,
            matches!(present(&r.ts_inferred), Some(Scalar::Bool(true))),
        ),
        None => (fallback_ts_ms, true),
    };
    let body = match kind {
        Kind::Behavior => Body::Behavior(Behavior {
            user: req_id(either(&r.user, &r.user_id), "user")?,
            session: opt_id(present(&r.session), "session")?,
            action: Action::parse(name_str(&r.action, "action")?),
            product: req_id(either(&r.product, &r.product_id), "product")?,
            channel: opt_name(&r.channel, "channel")?,
            price_cents: opt_int(&r.price_cents, "price_cents")?,
        }),
        Kind::Inventory => Body::Inventory(Inventory {
            product: req_id(either(&r.product, &r.product_id), "product")?,
            quantity: req_int(&r.quantity, "quantity")?,
            warehouse: opt_name(&r.warehouse, "warehouse")?,
        }),
        Kind::Order => Body::Order(decode_order(r)?),
        Kind::Sync => Body::Sync(decode_sync(r)?),
        Kind::Sales => Body::Sales(decode_sales(r)?),
        Kind::Rejected => Body::Rejected(Rejected {
            source: name(&r.source, "source")?,
            line: opt_int(&r.line, "line")?.and_then(|n| u64::try_from(n).ok()),
            class: name(&r.class, "class")?,
            reason: req_str(&r.reason, "reason", MAX_TEXT_LEN)?.into(),
            excerpt: excerpt(
                opt_str(&r.excerpt, "excerpt", MAX_TEXT_LEN)?.unwrap_or(""),
                EXCERPT_LEN,
            )
            .into(),
        }),
    };
    Ok(Event {
        ts_ms,
        ts_inferred,
        body,
    })
}

fn decode_order(r: &Raw<'_>) -> Result<Order, DecodeError> {
    let currency_text = req_str(&r.currency, "currency", MAX_NAME_LEN)?;
    let currency = Currency::parse(currency_text).ok_or_else(|| {
        DecodeError::bad(
            "currency",
            format!(
                "expected an ISO 4217 code such as \"GBP\", got {:?}",
                excerpt(currency_text, 16)
            ),
        )
    })?;
    let lines = match present(&r.lines) {
        None => Vec::new(),
        Some(Scalar::Array(_)) if r.plain_lines.is_some() => {
            r.plain_lines.clone().unwrap_or_default()
        }
        Some(Scalar::Array(items)) => {
            if items.len() > MAX_LINES {
                return Err(DecodeError::new(
                    ErrorClass::TooLarge,
                    Some("lines"),
                    format!("{} line items, limit {MAX_LINES}", items.len()),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| decode_line(item, i))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(other) => return Err(DecodeError::wrong("lines", "an array of line items", other)),
    };
    Ok(Order {
        order: req_id(either(&r.order, &r.order_id), "order")?,
        channel: name(&r.channel, "channel")?,
        status: OrderStatus::parse(name_str(&r.status, "status")?),
        total_cents: req_int(&r.total_cents, "total_cents")?,
        currency,
        lines,
        user: opt_id(either(&r.user, &r.user_id), "user")?,
    })
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, default)]
    product: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    product_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    quantity: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    unit_price_cents: Option<Scalar<'a>>,
}

fn decode_line(item: &RawValue, index: usize) -> Result<LineItem, DecodeError> {
    let at = |e: DecodeError| DecodeError {
        detail: format!("line item {index}: {}", e.detail),
        ..e
    };
    let raw: RawLine<'_> = serde_json::from_str(item.get()).map_err(|e| {
        DecodeError::new(
            ErrorClass::WrongType,
            Some("lines"),
            format!("line item {index} must be an object: {e}"),
        )
    })?;
    Ok(LineItem {
        product: req_id(either(&raw.product, &raw.product_id), "lines.product").map_err(at)?,
        quantity: req_int(&raw.quantity, "lines.quantity").map_err(at)?,
        unit_price_cents: req_int(&raw.unit_price_cents, "lines.unit_price_cents").map_err(at)?,
    })
}

fn decode_sync(r: &Raw<'_>) -> Result<Sync, DecodeError> {
    let target_text = req_str(&r.target, "target", MAX_NAME_LEN)?;
    let target = Target::parse(target_text).ok_or_else(|| {
        DecodeError::bad(
            "target",
            format!(
                "expected payment, inventory, logistics or customer_service, got {:?}",
                excerpt(target_text, 32)
            ),
        )
    })?;
    let status_text = req_str(&r.status, "status", MAX_NAME_LEN)?;
    let status = SyncStatus::parse(status_text).ok_or_else(|| {
        DecodeError::bad(
            "status",
            format!(
                "expected pending, synced, failed or retrying, got {:?}",
                excerpt(status_text, 32)
            ),
        )
    })?;
    let attempt = match opt_int(&r.attempt, "attempt")? {
        None => 1,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| DecodeError::bad("attempt", format!("must be 1 or more, got {n}")))?,
    };
    let latency_ms = match opt_int(&r.latency_ms, "latency_ms")? {
        None => None,
        Some(n) => Some(u64::try_from(n).map_err(|_| {
            DecodeError::bad("latency_ms", format!("must not be negative, got {n}"))
        })?),
    };
    Ok(Sync {
        order: req_id(either(&r.order, &r.order_id), "order")?,
        channel: name(&r.channel, "channel")?,
        target,
        status,
        attempt,
        latency_ms,
        error: opt_str(&r.error, "error", MAX_TEXT_LEN)?.map(Into::into),
    })
}

fn decode_sales(r: &Raw<'_>) -> Result<SalesFigure, DecodeError> {
    let bucket = match either(&r.date, &r.bucket) {
        Some(v) => str_of(v, "date", MAX_NAME_LEN)?,
        None => return Err(DecodeError::missing("date")),
    };
    let (sales, sales_text) = match present(&r.sales) {
        None => return Err(DecodeError::missing("sales")),
        #[allow(clippy::cast_precision_loss)] // reason: business figures are display values
        Some(Scalar::U64(n)) => (*n as f64, n.to_string()),
        #[allow(clippy::cast_precision_loss)] // reason: business figures are display values
        Some(Scalar::I64(n)) => (*n as f64, n.to_string()),
        Some(Scalar::F64(x)) => (*x, x.to_string()),
        Some(other) => return Err(DecodeError::wrong("sales", "a number", other)),
    };
    Ok(SalesFigure {
        bucket: bucket.into(),
        sales_text: sales_text.into(),
        sales,
        channel: opt_name(&r.channel, "channel")?,
    })
}

/// The first `max` bytes of `s`, cut at a character boundary.
pub fn excerpt(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Canonical JSON form of an event: what the gateway forwards and what
/// [`decode_event`] reads back to the same [`Event`].
#[derive(Serialize)]
struct Out<'a> {
    kind: &'static str,
    ts: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ts_inferred: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warehouse: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<&'a [LineItem]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sales: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    excerpt: Option<&'a str>,
}

impl Event {
    /// Writes the canonical JSON of this event (one line, no newline).
    pub fn to_json(&self) -> String {
        let mut out = Out {
            kind: self.body.kind().as_str(),
            ts: self.ts_ms,
            ts_inferred: self.ts_inferred,
            user: None,
            session: None,
            action: None,
            product: None,
            order: None,
            channel: None,
            price_cents: None,
            quantity: None,
            warehouse: None,
            status: None,
            total_cents: None,
            currency: None,
            lines: None,
            target: None,
            attempt: None,
            latency_ms: None,
            error: None,
            date: None,
            sales: None,
            source: None,
            line: None,
            class: None,
            reason: None,
            excerpt: None,
        };
        let sales_raw;
        match &self.body {
            Body::Behavior(b) => {
                out.user = Some(&b.user);
                out.session = b.session.as_ref();
                out.action = Some(b.action.as_str());
                out.product = Some(&b.product);
                out.channel = b.channel.as_deref();
                out.price_cents = b.price_cents;
            }
            Body::Inventory(i) => {
                out.product = Some(&i.product);
                out.quantity = Some(i.quantity);
                out.warehouse = i.warehouse.as_deref();
            }
            Body::Order(o) => {
                out.order = Some(&o.order);
                out.channel = Some(&o.channel);
                out.status = Some(o.status.as_str());
                out.total_cents = Some(o.total_cents);
                out.currency = Some(o.currency.as_str());
                out.lines = Some(&o.lines);
                out.user = o.user.as_ref();
            }
            Body::Sync(s) => {
                out.order = Some(&s.order);
                out.channel = Some(&s.channel);
                out.target = Some(s.target.as_str());
                out.status = Some(s.status.as_str());
                out.attempt = Some(s.attempt);
                out.latency_ms = s.latency_ms;
                out.error = s.error.as_deref();
            }
            Body::Sales(s) => {
                out.date = Some(&s.bucket);
                sales_raw = RawValue::from_string(s.sales_text.to_string()).ok();
                out.sales = sales_raw.as_deref();
                out.channel = s.channel.as_deref();
            }
            Body::Rejected(r) => {
                out.source = Some(&r.source);
                out.line = r.line;
                out.class = Some(&r.class);
                out.reason = Some(&r.reason);
                out.excerpt = Some(&r.excerpt);
            }
        }
        // Serializing plain data to a String cannot fail; fall back to a
        // rejection-shaped line rather than panic if it ever did.
        serde_json::to_string(&out).unwrap_or_else(|e| {
            format!(
                r#"{{"kind":"rejected","ts":{},"source":"encoder","class":"malformed","reason":{:?}}}"#,
                self.ts_ms,
                e.to_string()
            )
        })
    }
}

impl Rejected {
    /// Builds the rejection notice for a refused input line.
    pub fn from_error(source: &str, line: Option<u64>, err: &DecodeError, input: &str) -> Rejected {
        Rejected {
            source: excerpt(source, MAX_NAME_LEN).into(),
            line,
            class: err.class.as_str().into(),
            reason: err.to_string().into(),
            excerpt: excerpt(input, EXCERPT_LEN).into(),
        }
    }
}

/// Formats `ts_ms` the way the canonical encoder would in RFC 3339 form
/// (re-exported for views and tools).
pub fn ts_text(ts_ms: i64) -> String {
    format_rfc3339_ms(ts_ms)
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    /// Lines as the gateway writes them, one per kind the fast path reads.
    const PLAIN: [&str; 7] = [
        r#"{"kind":"order","ts":1630454400003,"order":500002,"channel":"web","status":"created","total_cents":1097,"currency":"GBP","user":9,"lines":[{"product":101,"quantity":2,"unit_price_cents":299},{"product_id":"SKU-9","quantity":1,"unit_price_cents":499}]}"#,
        r#"{"ts":7,"order":"A-1","channel":"pos","status":"paid","total_cents":0,"currency":"usd","lines":[]}"#,
        r#"{"kind":"behavior","ts":1630454400000,"user":17,"session":"s42","action":"browse","product":101,"channel":"web","price_cents":299}"#,
        r#"{"kind":"inventory","ts":1630454400001,"product":"85123A","quantity":-3,"warehouse":"LON"}"#,
        r#"{"kind":"sync","ts":1630454400002,"order":500001,"channel":"app","target":"payment","status":"failed","attempt":2,"latency_ms":140,"error":"card declined"}"#,
        r#"{"kind":"behavior","ts":"2021-09-01T10:00:00Z","ts_inferred":true,"user_id":"u-1","action":"purchase","product_id":7,"session":null}"#,
        r#"{"kind":"rejected","ts":5,"source":"import","line":3,"class":"malformed","reason":"bad","excerpt":"{x"}"#,
    ];

    fn slow(json: &str) -> Result<Event, DecodeError> {
        decode_general(json, 99)
    }

    #[test]
    fn plain_lines_take_the_fast_path_and_decode_as_serde_does() {
        for line in PLAIN {
            let mut raw = Raw::default();
            assert!(scan_plain(line, &mut raw), "fast path refused {line}");
            let fast = decode_raw(&raw, 99);
            assert_eq!(fast, slow(line), "{line}");
            assert!(fast.is_ok(), "{line}: {fast:?}");
        }
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for line in [
            r#"{"kind":"order","ts":1,"order":1,"lines":[{"product":1,"quantity":1}]}"#,
            r#"{"kind":"order","ts":1,"order":1,"lines":[{"product":1,"quantity":1,"unit_price_cents":1,"x":1}]}"#,
            r#"{"kind":"order","ts":1,"order":1,"lines":[1]}"#,
            r#"{"kind":"order","ts":1,"order":1,"lines":[],"lines":[]}"#,
            r#"{"kind":"order","ts":1,"order":1,"lines":null}"#,
            r#"{"kind":"behavior","sales":{}}"#,
            r#"{ "kind":"behavior"}"#,
            r#"{"kind":"behavior","ts":1.5}"#,
            r#"{"kind":"behavior","ts":1e3}"#,
            r#"{"kind":"behavior","ts":01}"#,
            r#"{"kind":"behavior","ts":-0}"#,
            r#"{"kind":"behavior","ts":18446744073709551616}"#,
            r#"{"kind":"beh\u0061vior"}"#,
            r#"{"kind":"behavior","kind":"order"}"#,
            r#"{"kind":"behavior","ts":null,"ts":1}"#,
            r#"{"kind":"behavior","mystery":1}"#,
            r#"{"kind":"behavior",}"#,
            r#"{"kind":"behavior"} "#,
            r#"{"kind":"behavior"}}"#,
            "{}",
            "{\"kind\":\"be\thavior\"}",
        ] {
            assert!(
                !scan_plain(line, &mut Raw::default()),
                "fast path took {line}"
            );
        }
    }

    fn arb_line() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("kind"),
            Just("ts"),
            Just("ts_inferred"),
            Just("user"),
            Just("session"),
            Just("action"),
            Just("product"),
            Just("quantity"),
            Just("order"),
            Just("channel"),
            Just("status"),
            Just("target"),
            Just("attempt"),
            Just("error"),
            Just("price_cents"),
            Just("warehouse"),
            Just("other"),
            Just("lines"),
            Just("total_cents"),
            Just("currency"),
        ];
        let value = prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("-0".to_owned()),
            Just("-9223372036854775808".to_owned()),
            Just("-9223372036854775809".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("1.5".to_owned()),
            prop_oneof![
                Just("behavior"),
                Just("inventory"),
                Just("sync"),
                Just("browse"),
                Just("payment"),
                Just("synced"),
                Just("failed"),
                Just("2021-09-01T10:00:00Z"),
                Just(""),
            ]
            .prop_map(|s| format!("\"{s}\"")),
            "[ -~]{0,6}".prop_map(|s| format!("\"{s}\"")),
            prop::collection::vec(
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("product"),
                            Just("product_id"),
                            Just("quantity"),
                            Just("unit_price_cents"),
                            Just("x"),
                        ],
                        prop_oneof![
                            (-3i64..1000).prop_map(|n| n.to_string()),
                            Just("\"SKU\"".to_owned()),
                            Just("\"\"".to_owned()),
                            Just("null".to_owned()),
                            Just("2.5".to_owned()),
                        ],
                    ),
                    0..5,
                ),
                0..4,
            )
            .prop_map(|items| {
                let objs: Vec<String> = items
                    .iter()
                    .map(|kv| {
                        let body: Vec<String> =
                            kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                        format!("{{{}}}", body.join(","))
                    })
                    .collect();
                format!("[{}]", objs.join(","))
            }),
        ];
        prop::collection::vec((key, value), 0..9).prop_map(|kv| {
            let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whenever the fast path reads a line, it decodes it exactly as
        /// the general path does (the same event or the same error).
        #[test]
        fn fast_path_agrees_with_serde(line in arb_line()) {
            let mut raw = Raw::default();
            if scan_plain(&line, &mut raw) {
                prop_assert_eq!(decode_raw(&raw, 99), slow(&line), "{}", line);
            }
        }

        /// The same for byte-level mutations of plain lines.
        #[test]
        fn fast_path_agrees_with_serde_on_mutations(
            which in 0..PLAIN.len(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, 0x20u8..0x7f), 1..4),
        ) {
            let mut bytes = PLAIN[which].as_bytes().to_vec();
            for (at, op, c) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 => bytes.insert(i, c),
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => bytes[i] = c,
                    _ => {}
                }
            }
            let line = String::from_utf8(bytes).expect("ASCII edits");
            let mut raw = Raw::default();
            if scan_plain(&line, &mut raw) {
                prop_assert_eq!(decode_raw(&raw, 99), slow(&line), "{}", line);
            }
        }
    }
}
