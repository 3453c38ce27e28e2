//! NDJSON line handling shared by `POST /ingest` and `--replay`.
//!
//! Every non-blank line becomes exactly one event: the decoded event, or a
//! `rejected` notice naming the source, the 1-based line number, the error
//! class and the reason. Blank (whitespace-only) lines are skipped without a
//! notice. A trailing `\r` is removed (CRLF files).

use serde::Serialize;
use shoppulse_core::decode::{DecodeError, ErrorClass};
use shoppulse_core::event::{Body, Rejected};
use shoppulse_core::{decode_event, Event};

/// One refused line, as reported to the ingest caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    /// 1-based line number in the request body or file.
    pub line: u64,
    /// Error class wire name.
    pub class: String,
    /// Readable reason.
    pub reason: String,
}

/// Decodes one raw line. `None` for a blank line; `Err` carries the
/// `rejected` notice to sequence instead.
pub fn decode_line(
    raw: &[u8],
    line: u64,
    fallback_ts_ms: i64,
    source: &str,
) -> Option<Result<Event, Event>> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let decoded = match std::str::from_utf8(raw) {
        Ok(text) => decode_event(text, fallback_ts_ms).map_err(|e| (e, text.to_owned())),
        Err(u) => Err((
            DecodeError {
                class: ErrorClass::Malformed,
                field: None,
                detail: format!("line is not valid UTF-8 (byte {})", u.valid_up_to()),
            },
            String::from_utf8_lossy(raw).into_owned(),
        )),
    };
    Some(decoded.map_err(|(err, text)| Event {
        ts_ms: fallback_ts_ms,
        ts_inferred: true,
        body: Body::Rejected(Rejected::from_error(source, Some(line), &err, &text)),
    }))
}

/// The outcome of an NDJSON body.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Events to sequence, in line order (rejection notices included).
    pub events: Vec<Event>,
    /// Good lines.
    pub accepted: u64,
    /// Bad lines.
    pub rejected: Vec<RejectedLine>,
}

/// Splits and decodes a whole NDJSON body.
pub fn parse_ndjson(body: &[u8], fallback_ts_ms: i64, source: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut body = body;
    if let Some(rest) = body.strip_suffix(b"\n") {
        body = rest;
    }
    if body.is_empty() {
        return out;
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i as u64 + 1;
        match decode_line(raw, line, fallback_ts_ms, source) {
            None => {}
            Some(Ok(ev)) => {
                out.accepted += 1;
                out.events.push(ev);
            }
            Some(Err(notice)) => {
                if let Body::Rejected(r) = &notice.body {
                    out.rejected.push(RejectedLine {
                        line,
                        class: r.class.to_string(),
                        reason: r.reason.to_string(),
                    });
                }
                out.events.push(notice);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_never_reject_good_ones() {
        let body = b"{\"user_id\": 1, \"action\": \"browse\", \"product_id\": 101}\r\n\
not json\n\
\n\
{\"product_id\": 103, \"quantity\": 0}\n\
{\"kind\": \"order\"}\n\
\xff\xfe\n\
{\"date\": \"2021-09-01\", \"sales\": 1000}\n";
        let p = parse_ndjson(body, 42, "ingest");
        assert_eq!(p.accepted, 3);
        let lines: Vec<(u64, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.line, r.class.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![(2, "malformed"), (5, "missing_field"), (6, "malformed")]
        );
        assert_eq!(p.events.len(), 6);
        assert!(p.events[0].ts_inferred && p.events[0].ts_ms == 42);
        match &p.events[1].body {
            Body::Rejected(r) => {
                assert_eq!(&*r.source, "ingest");
                assert_eq!(r.line, Some(2));
                assert_eq!(&*r.excerpt, "not json");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_and_oversized() {
        assert_eq!(parse_ndjson(b"", 0, "ingest").events.len(), 0);
        assert_eq!(parse_ndjson(b"\n\n  \n", 0, "ingest").events.len(), 0);
        let big = format!("{{\"x\": \"{}\"}}", "a".repeat(70_000));
        let p = parse_ndjson(big.as_bytes(), 0, "ingest");
        assert_eq!(p.rejected[0].class, "too_large");
    }
}
