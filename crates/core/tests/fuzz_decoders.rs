//! Bounded fuzzing of every decoder with proptest: arbitrary bytes, arbitrary
//! JSON values, and mutations of valid events. Nothing may panic; every
//! refusal must be a typed, readable error; every accepted event must survive
//! a canonical round trip.
//!
//! Decoders covered here: events (`decode_event`), server frames
//! (`ServerFrame::parse`), client frames (`ClientFrame`), the snapshot state
//! (`Engine` from JSON, also corrupted snapshots that still parse, which must
//! then run without panicking), `events` frame encoding, and event times
//! (`parse_rfc3339_ms` / `format_rfc3339_ms`). The gateway's NDJSON line
//! splitting and importer are fuzzed in `crates/feed/tests/fuzz_gateway.rs`,
//! the dashboard's frame handling in `src/session.rs`.

use proptest::prelude::*;
use shoppulse_core::decode::{decode_event, ErrorClass};
use shoppulse_core::frame::{encode_events_frame, ClientFrame, ServerFrame};
use shoppulse_core::time::{format_rfc3339_ms, parse_rfc3339_ms};
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

/// A valid snapshot state: an engine after a small mixed stream.
fn valid_state() -> &'static str {
    static STATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let mut e = Engine::default();
        for i in 0..120i64 {
            let ts = 1_700_000_000_000 + i * 7_000;
            let p = i % 9;
            for json in [
                format!(r#"{{"kind":"behavior","ts":{ts},"user":{},"session":"s{}","action":"purchase","product":{p},"channel":"web","price_cents":250}}"#, i % 5, i % 8),
                format!(r#"{{"kind":"inventory","ts":{ts},"product":{p},"quantity":{}}}"#, 12 - i % 15),
                format!(r#"{{"kind":"order","ts":{ts},"order":"O{i}","channel":"app","status":"paid","total_cents":{},"currency":"GBP","lines":[{{"product":{p},"quantity":1,"unit_price_cents":250}},{{"product":"SKU-{}","quantity":2,"unit_price_cents":100}}]}}"#, 450, i % 4),
                format!(r#"{{"kind":"sync","ts":{ts},"order":"O{}","channel":"app","target":"payment","status":"failed","attempt":2,"latency_ms":300,"error":"declined"}}"#, i / 2),
                r#"{"date":"2021-09-01","sales":1000}"#.to_owned(),
            ] {
                e.apply_json(&json, ts, "fuzz").expect("a valid event");
            }
        }
        let err = decode_event("{", 0).expect_err("malformed");
        e.record_rejection(1, "fuzz", Some(3), &err, "{");
        serde_json::to_string(&e).expect("a snapshot")
    })
}

/// Byte offsets in [`valid_state`] where a number (or a digit run inside a
/// string) starts.
fn number_starts() -> &'static [usize] {
    static STARTS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    STARTS.get_or_init(|| {
        let state = valid_state();
        let b = state.as_bytes();
        (0..b.len())
            .filter(|&i| {
                (b[i].is_ascii_digit() || b[i] == b'-')
                    && (i == 0 || !matches!(b[i - 1], b'0'..=b'9' | b'.' | b'-' | b'e'))
            })
            .collect()
    })
}

/// Runs a decoded (possibly corrupt) engine: more events, a view, a
/// snapshot of its own. Must not panic, with one exception: a corrupt
/// snapshot can hold counters at their limits (a count of `u64::MAX`, an
/// error bound above its count), whose next update trips the *debug-build*
/// arithmetic overflow check. Release builds (the dashboard's wasm, the
/// gateway) wrap there instead of panicking, so those panics are allowed;
/// any other (index out of bounds, division by zero, unwrap...) fails.
fn exercise(e: Engine) {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || run_engine(e)));
    if let Err(payload) = run {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let debug_only = [
            "attempt to add with overflow",
            "attempt to subtract with overflow",
            "attempt to multiply with overflow",
            "attempt to negate with overflow",
        ];
        assert!(
            debug_only.contains(&msg.as_str()),
            "a corrupt snapshot panicked in a way release builds would too: {msg}"
        );
    }
}

fn run_engine(mut e: Engine) {
    for json in [
        r#"{"kind":"behavior","ts":1700000900000,"user":1,"action":"purchase","product":3,"channel":"web"}"#,
        r#"{"kind":"inventory","ts":1700000900001,"product":3,"quantity":0}"#,
        r#"{"kind":"order","ts":1700000900002,"order":"O5","channel":"app","status":"refunded","total_cents":450,"currency":"GBP"}"#,
        r#"{"kind":"order","ts":1700000900003,"order":"N1","channel":"web","status":"created","total_cents":100,"currency":"GBP","lines":[{"product":3,"quantity":1,"unit_price_cents":100}]}"#,
        r#"{"kind":"sync","ts":1700000900004,"order":"N1","channel":"web","target":"payment","status":"synced"}"#,
    ] {
        let _ = e.apply_json(json, 0, "fuzz");
    }
    e.mark_gap();
    let _ = e.view();
    let _ = e.recommend_for(&shoppulse_core::id::Id::Num(1));
    let _ = serde_json::to_string(&e);
}

/// JSON numbers worth planting in a snapshot.
const NUMBERS: [&str; 9] = [
    "0",
    "1",
    "-1",
    "4294967296",
    "18446744073709551615",
    "-9223372036854775808",
    "9223372036854775807",
    "1e308",
    "0.5",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 250, .. ProptestConfig::default() })]

    /// A snapshot cut anywhere is refused, never a panic.
    #[test]
    fn truncated_snapshots_are_refused(cut in 0usize..usize::MAX) {
        let state = valid_state();
        let mut end = cut % state.len();
        while !state.is_char_boundary(end) {
            end -= 1;
        }
        prop_assert!(serde_json::from_str::<Engine>(&state[..end]).is_err());
    }

    /// Numbers in a snapshot replaced by extreme ones: refused, or an engine
    /// that keeps running (more events, view, snapshot) without panicking.
    #[test]
    fn corrupted_snapshot_numbers_never_panic(picks in prop::collection::vec((any::<prop::sample::Index>(), 0usize..NUMBERS.len()), 1..6)) {
        let state = valid_state();
        let starts = number_starts();
        let mut text = state.to_owned();
        let mut chosen: Vec<(usize, &str)> = picks.iter().map(|(ix, n)| (starts[ix.index(starts.len())], NUMBERS[*n])).collect();
        chosen.sort_unstable();
        chosen.dedup_by_key(|c| c.0);
        for (at, num) in chosen.into_iter().rev() {
            let len = text[at..].find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+')).unwrap_or(text.len() - at);
            text.replace_range(at..at + len, num);
        }
        if let Ok(e) = serde_json::from_str::<Engine>(&text) {
            exercise(e);
        }
    }

    /// Single bytes of a snapshot flipped: refused, or an engine that runs.
    #[test]
    fn corrupted_snapshot_bytes_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"{}[],:\"0123456789-.etfnul ".to_vec())), 1..4)) {
        let mut bytes = valid_state().as_bytes().to_vec();
        for (ix, b) in edits {
            let at = ix.index(bytes.len());
            bytes[at] = b;
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(e) = serde_json::from_str::<Engine>(text) {
                exercise(e);
            }
        }
    }

    /// Any JSON as a snapshot state or a client frame: no panic.
    #[test]
    fn arbitrary_json_states_and_client_frames_never_panic(v in arb_json()) {
        let text = v.to_string();
        if let Ok(e) = serde_json::from_str::<Engine>(&text) {
            exercise(e);
        }
        let _ = serde_json::from_str::<ClientFrame>(&text);
        let hello = format!(r#"{{"type":"hello","protocol":1,"resume":{text}}}"#);
        let _ = serde_json::from_str::<ClientFrame>(&hello);
    }

    /// Whatever events a frame carries, it parses back to exactly those.
    #[test]
    fn events_frames_round_trip(events in prop::collection::vec(arb_json(), 0..8), first in any::<u64>(), sent in any::<i64>(), epoch in ".{0,16}") {
        let raw: Vec<String> = events.iter().map(ToString::to_string).collect();
        let text = encode_events_frame(&epoch, first, sent, raw.iter().map(String::as_str));
        match ServerFrame::parse(&text) {
            Ok(ServerFrame::Events { epoch: e, first_seq, sent_ms, events: got, seqs: None, last_seq: None }) => {
                prop_assert_eq!(e, epoch);
                prop_assert_eq!(first_seq, first);
                prop_assert_eq!(sent_ms, sent);
                let got: Vec<&str> = got.iter().map(|r| r.get()).collect();
                prop_assert_eq!(got, raw.iter().map(String::as_str).collect::<Vec<_>>());
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    /// Event times: any text parses or not without panicking; any i64
    /// formats; every time in years 0..=9999 round-trips.
    #[test]
    fn times_never_panic_and_round_trip(s in ".{0,40}", t in any::<i64>(), inrange in -62_167_219_200_000i64..253_402_300_799_999) {
        let _ = parse_rfc3339_ms(&s);
        let _ = format_rfc3339_ms(t);
        let _ = shoppulse_core::time::format_hms(t);
        prop_assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(inrange)), Some(inrange));
    }
}

/// Regression (found by `corrupted_snapshot_bytes_never_panic`, 2026-12-07):
/// a snapshot whose live-log record has an action slot out of range made
/// the behaviour view index past `ACTION_SLOTS` and panic.
#[test]
fn a_log_record_with_an_unknown_action_slot_does_not_panic_the_view() {
    fn corrupt(v: &mut serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => {
                let mut n = 0;
                if m.contains_key("user") && m.contains_key("product") {
                    if let Some(slot) = m.get_mut("slot") {
                        *slot = serde_json::json!(7);
                        n += 1;
                    }
                }
                n + m.values_mut().map(corrupt).sum::<usize>()
            }
            serde_json::Value::Array(a) => a.iter_mut().map(corrupt).sum(),
            _ => 0,
        }
    }
    let mut state: serde_json::Value = serde_json::from_str(valid_state()).expect("json");
    assert!(corrupt(&mut state) > 0, "the snapshot has log records");
    let e: Engine = serde_json::from_value(state).expect("still a well-formed snapshot");
    let log = e.view().behavior.log;
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|l| l.action == "action slot 7"),
        "{:?}",
        log[0]
    );
    exercise(e);
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
