//! Decoder spec: seed shapes, canonical round trip, and every class of bad input.

use shoppulse_core::decode::{decode_event, ErrorClass};
use shoppulse_core::event::{Action, Body};
use shoppulse_core::Id;

const FALLBACK_MS: i64 = 1_700_000_000_000;

fn ok(json: &str) -> shoppulse_core::Event {
    decode_event(json, FALLBACK_MS).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn err(json: &str) -> (ErrorClass, Option<&'static str>, String) {
    let e = decode_event(json, FALLBACK_MS).expect_err(json);
    (e.class, e.field, e.to_string())
}

#[test]
fn seed_behavior_shape_is_inferred() {
    let ev = ok(r#"{"user_id": 1, "action": "browse", "product_id": 101}"#);
    assert!(ev.ts_inferred);
    assert_eq!(ev.ts_ms, FALLBACK_MS);
    match ev.body {
        Body::Behavior(b) => {
            assert_eq!(b.user, Id::Num(1));
            assert_eq!(b.product, Id::Num(101));
            assert_eq!(b.action, Action::Browse);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn seed_inventory_and_sales_shapes_are_inferred() {
    assert!(
        matches!(ok(r#"{"product_id": 103, "quantity": 0}"#).body, Body::Inventory(i) if i.quantity == 0)
    );
    match ok(r#"{"date": "2021-09-01", "sales": 1000}"#).body {
        Body::Sales(s) => {
            assert_eq!(&*s.bucket, "2021-09-01");
            assert_eq!(&*s.sales_text, "1000");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_action_is_kept_not_rejected() {
    match ok(r#"{"kind":"behavior","ts":5,"user":"u","action":"wishlist","product":"SKU"}"#).body {
        Body::Behavior(b) => assert_eq!(b.action, Action::Other("wishlist".into())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn canonical_json_round_trips_every_kind() {
    let lines = [
        r#"{"kind":"behavior","ts":1,"user":1,"session":"s-1","action":"purchase","product":"85123A","channel":"web","price_cents":255}"#,
        r#"{"kind":"inventory","ts":"2021-09-01T10:00:00Z","product":101,"quantity":-3,"warehouse":"LON"}"#,
        r#"{"kind":"order","ts":3,"order":"536365","channel":"uk","status":"paid","total_cents":1530,"currency":"gbp","lines":[{"product":"85123A","quantity":6,"unit_price_cents":255}],"user":17850}"#,
        r#"{"kind":"sync","ts":4,"order":18446744073709551615,"channel":"app","target":"logistics","status":"failed","attempt":2,"latency_ms":900,"error":"<script>alert(1)</script>"}"#,
        r#"{"kind":"sales","ts":5,"date":"2021-09-02","sales":12.5}"#,
        r#"{"kind":"rejected","ts":6,"source":"ingest","line":3,"class":"malformed","reason":"bad","excerpt":"{oops"}"#,
    ];
    for line in lines {
        let ev = ok(line);
        let again = ok(&ev.to_json());
        assert_eq!(again, ev, "{line}");
    }
}

#[test]
fn ids_above_2_pow_53_are_exact() {
    match ok(r#"{"user":9007199254740993,"action":"browse","product":1}"#).body {
        Body::Behavior(b) => assert_eq!(b.user, Id::Num(9_007_199_254_740_993)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bad_input_class_is_named() {
    let cases: &[(&str, ErrorClass, Option<&str>)] = &[
        ("", ErrorClass::Malformed, None),
        ("not json", ErrorClass::Malformed, None),
        ("[1,2]", ErrorClass::Malformed, None),
        (
            r#"{"user":1,"action":"browse""#,
            ErrorClass::Malformed,
            None,
        ),
        (
            r#"{"kind":"teleport","ts":1}"#,
            ErrorClass::UnknownKind,
            Some("kind"),
        ),
        (r#"{"hello":"world"}"#, ErrorClass::UnknownKind, None),
        (
            r#"{"kind":"inventory","product":1}"#,
            ErrorClass::MissingField,
            Some("quantity"),
        ),
        (
            r#"{"kind":"inventory","product":1,"quantity":"ten"}"#,
            ErrorClass::WrongType,
            Some("quantity"),
        ),
        (
            r#"{"kind":"inventory","product":1,"quantity":1.5}"#,
            ErrorClass::WrongType,
            Some("quantity"),
        ),
        (
            r#"{"kind":"inventory","product":{"a":1},"quantity":1}"#,
            ErrorClass::WrongType,
            Some("product"),
        ),
        (
            r#"{"kind":"inventory","product":1e300,"quantity":1}"#,
            ErrorClass::WrongType,
            Some("product"),
        ),
        (
            r#"{"kind":"inventory","product":-4,"quantity":1}"#,
            ErrorClass::BadValue,
            Some("product"),
        ),
        (
            r#"{"kind":"inventory","ts":"yesterday","product":1,"quantity":1}"#,
            ErrorClass::BadValue,
            Some("ts"),
        ),
        (
            r#"{"kind":"inventory","ts":true,"product":1,"quantity":1}"#,
            ErrorClass::WrongType,
            Some("ts"),
        ),
        (
            r#"{"kind":"sync","order":1,"channel":"web","target":"moon","status":"synced"}"#,
            ErrorClass::BadValue,
            Some("target"),
        ),
        (
            r#"{"kind":"sync","order":1,"channel":"web","target":"payment","status":"done"}"#,
            ErrorClass::BadValue,
            Some("status"),
        ),
        (
            r#"{"kind":"order","order":1,"channel":"web","status":"paid","total_cents":1,"currency":"pounds"}"#,
            ErrorClass::BadValue,
            Some("currency"),
        ),
        (
            r#"{"kind":"order","order":1,"channel":"web","status":"paid","total_cents":1,"currency":"GBP","lines":[{"product":1,"quantity":"x","unit_price_cents":1}]}"#,
            ErrorClass::WrongType,
            Some("lines.quantity"),
        ),
        (
            r#"{"kind":"sales","date":"d","sales":"NaN"}"#,
            ErrorClass::WrongType,
            Some("sales"),
        ),
        (
            r#"{"kind":"sales","date":"d","sales":1e999}"#,
            ErrorClass::Malformed,
            None,
        ),
    ];
    for (json, class, field) in cases {
        let (c, f, text) = err(json);
        assert_eq!((c, f), (*class, *field), "{json} -> {text}");
        assert!(!text.is_empty());
    }
}

#[test]
fn deep_nesting_and_huge_strings_are_refused_not_crashed() {
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    // Deeply nested unknown fields are skipped; the event itself is judged.
    let deep_unknown = format!(r#"{{"x":{},"product":1,"quantity":2}}"#, nest(10_000));
    assert!(decode_event(&deep_unknown, 0).is_ok());
    let deep_known = format!(
        r#"{{"kind":"inventory","product":{},"quantity":2}}"#,
        nest(10_000)
    );
    let (c, f, _) = err(&deep_known);
    assert!(
        (c, f) == (ErrorClass::Malformed, None)
            || (c, f) == (ErrorClass::WrongType, Some("product")),
        "{c:?} {f:?}"
    );
    let huge = format!(
        r#"{{"user":"{}","action":"browse","product":1}}"#,
        "A".repeat(10 * 1024 * 1024)
    );
    assert_eq!(err(&huge).0, ErrorClass::TooLarge);
    let long_id = format!(
        r#"{{"user":"{}","action":"browse","product":1}}"#,
        "A".repeat(1000)
    );
    let (c, f, _) = err(&long_id);
    assert_eq!((c, f), (ErrorClass::TooLarge, Some("user")));
}
