//! Bounded fuzzing of every decoder with proptest: arbitrary bytes, arbitrary
//! JSON values, and mutations of valid events. Nothing may panic; every
//! refusal must be a typed, readable error; every accepted event must survive
//! a canonical round trip.

use proptest::prelude::*;
use shoppulse_core::decode::{decode_event, ErrorClass};
use shoppulse_core::frame::{ClientFrame, ServerFrame};
use shoppulse_core::Engine;

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("browse"),
            Just("purchase"),
            Just("payment"),
            Just("synced"),
            Just("GBP"),
            Just("2021-09-01"),
            Just("2021-09-01T10:00:00Z"),
            Just("behavior"),
            Just("order"),
            Just("sync"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("kind".to_owned()),
                    Just("ts".to_owned()),
                    Just("user".to_owned()),
                    Just("user_id".to_owned()),
                    Just("action".to_owned()),
                    Just("product".to_owned()),
                    Just("product_id".to_owned()),
                    Just("quantity".to_owned()),
                    Just("order".to_owned()),
                    Just("channel".to_owned()),
                    Just("status".to_owned()),
                    Just("total_cents".to_owned()),
                    Just("currency".to_owned()),
                    Just("lines".to_owned()),
                    Just("target".to_owned()),
                    Just("attempt".to_owned()),
                    Just("latency_ms".to_owned()),
                    Just("date".to_owned()),
                    Just("sales".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..8,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check_outcome(input: &str) {
    match decode_event(input, 1_000) {
        Ok(ev) => {
            let again = decode_event(&ev.to_json(), 1_000)
                .unwrap_or_else(|e| panic!("canonical form of {input:?} refused: {e}"));
            assert_eq!(again, ev, "round trip of {input:?}");
            let mut engine = Engine::default();
            engine.apply(&ev);
            let _ = engine.view();
        }
        Err(e) => {
            assert!(ErrorClass::ALL.contains(&e.class));
            assert!(!e.to_string().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        check_outcome(&text);
        let _ = ServerFrame::parse(&text);
        let _ = serde_json::from_str::<ClientFrame>(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let text = v.to_string();
        check_outcome(&text);
        let _ = ServerFrame::parse(&text);
    }

    #[test]
    fn truncated_valid_events_never_panic(cut in 0usize..200) {
        let valid = r#"{"kind":"order","ts":"2021-09-01T10:00:00Z","order":"536365","channel":"uk","status":"paid","total_cents":1530,"currency":"GBP","lines":[{"product":"85123A","quantity":6,"unit_price_cents":255}],"user":17850}"#;
        let end = cut.min(valid.len());
        check_outcome(&valid[..end]);
    }
}

#[test]
fn engine_state_decoder_refuses_garbage_without_panicking() {
    for text in [
        "",
        "{}",
        "[]",
        "null",
        r#"{"health":5}"#,
        "{\"config\":{\"log_len\":-1}}",
    ] {
        let _ = serde_json::from_str::<Engine>(text);
    }
}
