//! Bounded fuzzing of the gateway's own decoders with proptest: NDJSON line
//! splitting (`POST /ingest` bodies and replay lines) and the online-retail
//! CSV importer. Nothing may panic; every non-blank line becomes exactly one
//! event or one counted rejection; what the importer writes is valid
//! protocol with exact totals.

use std::io::Write as _;

use proptest::prelude::*;
use shoppulse_core::decode::ErrorClass;
use shoppulse_core::event::Body;
use shoppulse_core::{decode_event, Event};
use shoppulse_feed::import::{
    channel_for_country, classify_code, customer_id, import_online_retail, parse_price_cents,
    ImportOptions,
};
use shoppulse_feed::lines::{decode_line, parse_ndjson};

const GOOD: &str = r#"{"kind":"inventory","ts":5,"product":1,"quantity":2}"#;

/// Lines mixing good events, near misses and raw bytes.
fn arb_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(GOOD.as_bytes().to_vec()),
        Just(br#"{"user_id": 1, "action": "browse", "product_id": 101}"#.to_vec()),
        Just(b"   ".to_vec()),
        Just(b"\r".to_vec()),
        Just(Vec::new()),
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..80
        ),
        "[ -~]{0,60}".prop_map(String::into_bytes),
        (0usize..GOOD.len()).prop_map(|cut| GOOD.as_bytes()[..cut].to_vec()),
    ]
}

fn is_blank(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.iter().all(u8::is_ascii_whitespace)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Every non-blank line is one event, in order: the decoded event or a
    /// `rejected` notice with its 1-based line number and a typed class.
    #[test]
    fn ndjson_bodies_split_into_one_event_per_line(lines in prop::collection::vec(arb_line(), 0..12), trailing in any::<bool>()) {
        let mut body = lines.join(&b'\n');
        if trailing {
            body.push(b'\n');
        }
        let parsed = parse_ndjson(&body, 77, "ingest");
        // What the body splits into (a final newline ends the last line).
        let mut split: Vec<&[u8]> = body.strip_suffix(b"\n").unwrap_or(&body).split(|&b| b == b'\n').collect();
        if body.is_empty() || body == b"\n" {
            split.clear();
        }
        let expect: Vec<(u64, &[u8])> = split
            .iter()
            .enumerate()
            .filter(|(_, l)| !is_blank(l))
            .map(|(i, l)| (i as u64 + 1, *l))
            .collect();
        prop_assert_eq!(parsed.events.len(), expect.len());
        prop_assert_eq!(parsed.accepted + parsed.rejected.len() as u64, expect.len() as u64);
        let mut rejected = parsed.rejected.iter();
        for (ev, (line, raw)) in parsed.events.iter().zip(&expect) {
            if let Body::Rejected(r) = &ev.body {
                let listed = rejected.next().expect("listed");
                prop_assert_eq!(listed.line, *line);
                prop_assert_eq!(r.line, Some(*line));
                prop_assert!(ErrorClass::parse(&r.class).is_some());
                prop_assert!(!r.reason.is_empty());
                prop_assert!(ev.ts_inferred && ev.ts_ms == 77);
                // The notice itself is valid protocol.
                let again = decode_event(&ev.to_json(), 0).expect("a notice decodes");
                prop_assert_eq!(&again, ev);
            } else {
                let raw = std::str::from_utf8(raw).expect("accepted lines are UTF-8");
                let raw = raw.strip_suffix('\r').unwrap_or(raw);
                prop_assert_eq!(ev, &decode_event(raw, 77).expect("accepted lines decode"));
            }
        }
        prop_assert!(rejected.next().is_none());
    }

    /// One raw line (any bytes, any size): nothing, an event, or a notice.
    #[test]
    fn any_line_decodes_or_is_refused(raw in prop::collection::vec(any::<u8>(), 0..300), n in 1u64..u64::MAX) {
        match decode_line(&raw, n, 1, "replay") {
            None => prop_assert!(is_blank(&raw)),
            Some(Ok(ev)) => prop_assert!(!matches!(ev.body, Body::Rejected(_))),
            Some(Err(Event { body: Body::Rejected(r), .. })) => {
                prop_assert_eq!(r.line, Some(n));
                prop_assert!(r.excerpt.len() <= 4 * 160);
            }
            Some(Err(other)) => prop_assert!(false, "{other:?}"),
        }
    }

    /// The importer's field parsers take any text.
    #[test]
    fn importer_fields_never_panic(s in ".{0,40}", digits in "[-+]?[0-9]{0,20}(\\.[0-9]{0,8})?") {
        let _ = parse_price_cents(&s);
        let _ = parse_price_cents(&digits);
        let _ = customer_id(&s);
        let _ = channel_for_country(&s);
        let _ = classify_code(&s);
    }
}

/// A CSV field: sometimes sane, sometimes hostile.
fn arb_field(sane: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(sane).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
        1 => prop::sample::select(&["", "-", "99999999999999999999", "-9223372036854775808", "1e9", "NaN", "\"", "0.001", "-0.5"][..]).prop_map(str::to_owned),
    ]
}

fn arb_row() -> impl Strategy<Value = Vec<String>> {
    (
        arb_field(&["536365", "536366", "C536379", "A563185", "573585"]),
        arb_field(&["85123A", "71053", "POST", "M", "22633", "AMAZONFEE"]),
        arb_field(&["6", "-2", "0", "12", "80995", "-80995"]),
        arb_field(&[
            "2010-12-01 08:26:00",
            "12/1/2010 8:26",
            "2011-12-09 12:50:00",
            "2010-13-45 99:99:99",
        ]),
        arb_field(&["2.55", "3.39", "0", "-11062.06", "0.001", "38970.00"]),
        arb_field(&["17850.0", "", "13047", "12583.0"]),
        arb_field(&["United Kingdom", "France", "EIRE", "New Zealand", "Ünïcødé"]),
    )
        .prop_map(|(a, b, c, d, e, f, g)| vec![a, b, "desc".to_owned(), c, d, e, f, g])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, .. ProptestConfig::default() })]

    /// Hostile CSV rows: the import finishes or fails with an error, and
    /// every order it writes decodes, with `total_cents = Σ qty × price`.
    #[test]
    fn importer_survives_hostile_rows(rows in prop::collection::vec(arb_row(), 0..40), junk in prop::collection::vec(any::<u8>(), 0..64)) {
        let dir = std::env::temp_dir().join(format!("shoppulse-fuzz-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let input = dir.join("in.csv");
        let output = dir.join("out.ndjson");
        let mut csv = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n".to_vec();
        for r in &rows {
            let quoted: Vec<String> = r.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
            csv.extend_from_slice(quoted.join(",").as_bytes());
            csv.push(b'\n');
        }
        csv.extend_from_slice(&junk);
        std::fs::File::create(&input).and_then(|mut f| f.write_all(&csv)).expect("write csv");
        let opts = ImportOptions { input: input.clone(), output: Some(output.clone()), with_behavior: true, progress: false };
        if import_online_retail(&opts).is_ok() {
            let text = std::fs::read_to_string(&output).expect("output");
            for line in text.lines() {
                let ev = decode_event(line, 0).unwrap_or_else(|e| panic!("importer wrote {line}: {e}"));
                if let Body::Order(o) = &ev.body {
                    let sum: i128 = o.lines.iter().map(|l| i128::from(l.quantity) * i128::from(l.unit_price_cents)).sum();
                    prop_assert_eq!(i128::from(o.total_cents), sum, "{}", line);
                }
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
