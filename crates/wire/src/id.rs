//! Identifiers as real shops send them: JSON numbers or strings.
//!
//! An [`Id`] is either an unsigned 64-bit number (parsed exactly, never through
//! `f64`, so ids above 2^53 keep every digit) or a string such as the SKU
//! `"85123A"`. A string that is the canonical decimal form of a `u64` (no sign,
//! no leading zero, no spaces) is the same id as that number: `"101"` and `101`
//! name one product. This makes ids usable as JSON object keys (which are always
//! strings) and round-trip through snapshots unchanged.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest id string accepted, in bytes. Longer ids are refused by the decoder.
pub const MAX_ID_LEN: usize = 256;

/// A product, user, session or order identifier.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    /// A numeric id, exact over the whole `u64` range.
    Num(u64),
    /// Any other id (SKU, UUID, ...), never the canonical decimal of a `u64`.
    Str(Arc<str>),
}

impl Id {
    /// Builds an id from text, folding canonical decimals into [`Id::Num`].
    pub fn from_text(s: &str) -> Self {
        if let Some(n) = canonical_u64(s) {
            Id::Num(n)
        } else {
            Id::Str(s.into())
        }
    }

    /// [`Id::from_text`] for text already shared: a string id keeps `s`
    /// (no copy).
    pub fn from_shared(s: Arc<str>) -> Self {
        if let Some(n) = canonical_u64(&s) {
            Id::Num(n)
        } else {
            Id::Str(s)
        }
    }
}

/// `Some(n)` when `s` is exactly how `n` prints in decimal.
fn canonical_u64(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    s.parse().ok()
}

impl From<u64> for Id {
    fn from(n: u64) -> Self {
        Id::Num(n)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id::from_text(s)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Num(n) => write!(f, "{n}"),
            Id::Str(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Num(n) => write!(f, "{n}"),
            Id::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return match self {
                Id::Num(n) => BinaryId::Num(*n),
                Id::Str(t) => BinaryId::Str(std::borrow::Cow::Borrowed(t)),
            }
            .serialize(s);
        }
        match self {
            Id::Num(n) => s.serialize_u64(*n),
            Id::Str(t) => s.serialize_str(t),
        }
    }
}

/// An id in binary (not self-describing) formats such as the `snap1`
/// snapshot: which of the two it is must be written down.
#[derive(Serialize, Deserialize)]
enum BinaryId<'a> {
    Num(u64),
    #[serde(borrow)]
    Str(std::borrow::Cow<'a, str>),
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or a string id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                u64::try_from(v)
                    .map(Id::Num)
                    .map_err(|_| E::custom(format!("id must not be negative, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id::from_text(v))
            }
        }
        if !d.is_human_readable() {
            // A string id that reads as a canonical number is still that
            // number (as in JSON), whoever wrote it.
            return Ok(match BinaryId::deserialize(d)? {
                BinaryId::Num(n) => Id::Num(n),
                BinaryId::Str(t) => Id::from_text(&t),
            });
        }
        d.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_shared_folds_like_from_text_and_keeps_the_string() {
        for t in [
            "101",
            "0101",
            "85123A",
            "",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            let shared: Arc<str> = Arc::from(t);
            let id = Id::from_shared(shared.clone());
            assert_eq!(id, Id::from_text(t), "{t:?}");
            if let Id::Str(s) = id {
                assert!(Arc::ptr_eq(&s, &shared), "{t:?} was copied");
            }
        }
    }

    #[test]
    fn canonical_decimal_strings_equal_numbers() {
        assert_eq!(Id::from_text("101"), Id::Num(101));
        assert_eq!(Id::from_text("0101"), Id::Str("0101".into()));
        assert_eq!(Id::from_text("85123A"), Id::Str("85123A".into()));
        assert_eq!(Id::from_text(""), Id::Str("".into()));
        assert_eq!(
            Id::from_text("18446744073709551615"),
            Id::Num(u64::MAX),
            "u64::MAX is canonical"
        );
        assert_eq!(
            Id::from_text("18446744073709551616"),
            Id::Str("18446744073709551616".into()),
            "beyond u64 stays a string"
        );
    }

    #[test]
    fn ids_above_2_pow_53_keep_precision() {
        let id: Id = serde_json::from_str("9007199254740993").unwrap();
        assert_eq!(id, Id::Num(9_007_199_254_740_993));
        assert_eq!(serde_json::to_string(&id).unwrap(), "9007199254740993");
    }

    #[test]
    fn ids_round_trip_as_map_keys() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(Id::Num(7), 1);
        m.insert(Id::from_text("SKU-1"), 2);
        let text = serde_json::to_string(&m).unwrap();
        let back: std::collections::BTreeMap<Id, i32> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
    }
}
