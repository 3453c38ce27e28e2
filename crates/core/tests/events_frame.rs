//! The one-pass `events` frame reader (`EventsFrame::parse`, the dashboard's
//! path for JSON events frames) against the general one
//! (`ServerFrame::parse`): on every frame the fast path reads, both give the
//! same epoch, positions, send time, numbering and event texts, except that
//! an event which is not valid JSON is the fast path's single refused event
//! where the general parse refuses the frame. Frames are generated in many
//! layouts (field order, whitespace, optional fields, escapes), then cut and
//! mutated.

use proptest::prelude::*;
use shoppulse_core::decode::{decode_event, ErrorClass};
use shoppulse_core::frame::{encode_events_frame, EventsFrame, ServerFrame};

/// Checks the contract on `text` (see the module docs); true when the fast
/// path read it.
fn agree(text: &str) -> bool {
    let Some(fast) = EventsFrame::parse(text) else {
        return false;
    };
    match ServerFrame::parse(text) {
        Ok(ServerFrame::Events {
            epoch,
            first_seq,
            sent_ms,
            events,
            seqs,
            last_seq,
        }) => {
            assert_eq!(fast.epoch, epoch, "{text}");
            assert_eq!(fast.first_seq, first_seq, "{text}");
            assert_eq!(fast.sent_ms, sent_ms, "{text}");
            assert_eq!(fast.seqs, seqs, "{text}");
            assert_eq!(fast.last_seq, last_seq, "{text}");
            let general: Vec<&str> = events.iter().map(|r| r.get()).collect();
            assert_eq!(fast.events, general, "{text}");
        }
        Ok(other) => panic!("fast path read an events frame, general parse {other:?}: {text}"),
        Err(e) => {
            // Only an event that is not JSON may set them apart, and the
            // fast path's reader refuses it as malformed.
            let bad: Vec<&&str> = fast
                .events
                .iter()
                .filter(|ev| serde_json::from_str::<serde::de::IgnoredAny>(ev).is_err())
                .collect();
            assert!(
                !bad.is_empty(),
                "general parse refused ({e}) a frame whose events are all JSON: {text}"
            );
            for ev in bad {
                let err = decode_event(ev, 0).expect_err("not JSON");
                assert_eq!(err.class, ErrorClass::Malformed, "{ev}");
            }
        }
    }
    true
}

fn arb_event() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z0-9 {}\\[\\],:\"\\\\é\u{1F600}]{0,10}".prop_map(serde_json::Value::from),
    ];
    let value = scalar.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_\"{}]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    (
        prop::collection::btree_map("[a-z_]{1,8}", value, 0..6),
        any::<bool>(),
    )
        .prop_map(|(m, pretty)| {
            let v = serde_json::Value::Object(m.into_iter().collect());
            if pretty {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            } else {
                v.to_string()
            }
        })
}

/// JSON whitespace, often none.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just(String::new()), 1 => "[ \t\r\n]{1,3}"]
}

/// An `events` frame in some layout: fields in any order, whitespace
/// between tokens, optional `sent_ms`, `seqs` and `last_seq`.
fn arb_frame() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(arb_event(), 0..6),
        "[a-z0-9\\-\"\\\\]{0,12}",
        0u64..1_000_000,
        any::<Option<i64>>(),
        any::<bool>(),
        any::<Option<u8>>(),
        Just((0..7).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec(ws(), 40),
    )
        .prop_map(
            |(events, epoch, first, sent, with_seqs, extra, order, spaces)| {
                let mut sp = spaces.into_iter().cycle();
                let mut w = move || sp.next().unwrap_or_default();
                let n = events.len() as u64;
                let list = events
                    .iter()
                    .map(|e| format!("{}{e}{}", w(), w()))
                    .collect::<Vec<_>>()
                    .join(",");
                let mut fields: Vec<Option<(String, String)>> = vec![
                    Some(("type".into(), r#""events""#.into())),
                    Some(("epoch".into(), serde_json::Value::from(epoch).to_string())),
                    Some(("first_seq".into(), first.to_string())),
                    sent.map(|s| ("sent_ms".into(), s.to_string())),
                    Some(("events".into(), format!("[{list}{}]", w()))),
                    with_seqs.then(|| {
                        let seqs: Vec<String> =
                            (0..n).map(|i| (first + 2 * i).to_string()).collect();
                        ("seqs".into(), format!("[{}]", seqs.join(",")))
                    }),
                    extra.map(|x| {
                        (
                            "last_seq".into(),
                            (first + 3 * n + u64::from(x)).to_string(),
                        )
                    }),
                ];
                let body: Vec<String> = order
                    .iter()
                    .filter_map(|&i| fields[i].take())
                    .map(|(k, v)| format!("{}\"{k}\"{}:{}{v}{}", w(), w(), w(), w()))
                    .collect();
                format!("{}{{{}}}{}", w(), body.join(","), w())
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Every well-formed frame is read by the fast path, exactly as by the
    /// general parse.
    #[test]
    fn one_pass_events_frames_agree_with_server_frame_parse(text in arb_frame()) {
        prop_assert!(agree(&text), "the fast path did not read {}", text);
    }

    /// Frames cut short or with bytes replaced, inserted or removed: the
    /// fast path reads them only as the contract allows, never panics.
    #[test]
    fn mutated_events_frames_keep_the_contract(
        text in arb_frame(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec!['{', '}', '[', ']', '"', '\\', ',', ':', ' ', 'x', '1', 'é'])), 1..4),
    ) {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match op {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => {
                    chars.remove(i);
                }
            }
        }
        let text: String = chars.into_iter().collect();
        agree(&text);
        for cut in [text.len() / 3, text.len() / 2, text.len().saturating_sub(1)] {
            if let Some(t) = text.get(..cut) {
                agree(t);
            }
        }
    }

    /// Arbitrary bytes: no panic, and the contract holds.
    #[test]
    fn arbitrary_text_keeps_the_contract(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        agree(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn the_gateways_events_frames_take_the_fast_path() {
    let events = [
        r#"{"kind":"behavior","ts":1700000000000,"user":1,"action":"browse","product":101}"#,
        r#"{"kind":"inventory","ts":1700000000001,"product":"SKU-1","quantity":3}"#,
    ];
    let text = encode_events_frame("e1", 41, 1_700_000_000_500, events.iter().copied());
    assert!(agree(&text));
    let f = EventsFrame::parse(&text).expect("fast path");
    assert_eq!(
        (f.epoch.as_str(), f.first_seq, f.sent_ms),
        ("e1", 41, 1_700_000_000_500)
    );
    assert_eq!(f.events, events);
}

#[test]
fn an_event_that_is_not_json_is_one_refused_event_not_a_lost_frame() {
    let text = r#"{"type":"events","epoch":"e1","first_seq":7,"sent_ms":0,"events":[{"kind":"behavior","ts":1,"user":1,"action":"browse","product":1},{"kind":"behavior","ts":tru},{"kind":"behavior","ts":2,"user":1,"action":"browse","product":2}]}"#;
    assert!(
        ServerFrame::parse(text).is_err(),
        "the general parse refuses the frame"
    );
    let f = EventsFrame::parse(text).expect("fast path");
    assert_eq!(f.events.len(), 3);
    assert!(decode_event(f.events[0], 0).is_ok());
    assert_eq!(
        decode_event(f.events[1], 0).map_err(|e| e.class).err(),
        Some(ErrorClass::Malformed)
    );
    assert!(decode_event(f.events[2], 0).is_ok());
    assert!(agree(text));
}

#[test]
fn other_frames_and_unusual_layouts_go_to_the_general_parse() {
    for text in [
        r#"{"type":"heartbeat","sent_ms":1,"head_seq":2}"#,
        r#"{"type":"events","epoch":"e","first_seq":1,"events":[1]}"#,
        r#"{"type":"events","epoch":"e","first_seq":1,"events":[],"extra":1}"#,
        r#"{"type":"events","epoch":"e","first_seq":1,"first_seq":1,"events":[]}"#,
        r#"{"type":"events","ep\u006fch":"e","first_seq":1,"events":[]}"#,
        r#"{"type":"events","epoch":"e","first_seq":1,"events":[{}],"seqs":[]}"#,
        r#"{"type":"events","epoch":"e","first_seq":1,"events":[]} x"#,
    ] {
        assert_eq!(EventsFrame::parse(text), None, "{text}");
    }
}
