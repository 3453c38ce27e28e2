//! The `bin1` encoding agrees with JSON: for any events, decoding the
//! binary frame gives exactly what decoding each event's canonical JSON
//! gives (ids above 2^53, string SKUs, hostile strings, missing optional
//! fields, flagged times, every kind). And hostile binary input never
//! panics: it is refused with a typed error.

use proptest::prelude::*;
use shoppulse_core::binary::{encode_events, Frame, Positions, Scratch};
use shoppulse_core::decode::decode_event;
use shoppulse_core::event::{
    Action, Behavior, Body, Currency, Event, Inventory, LineItem, Order, OrderStatus, Rejected,
    SalesFigure, Sync, SyncStatus, Target,
};
use shoppulse_core::Id;

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        // Hostile: quotes, markup, control characters, multi-byte text.
        "\\PC{1,24}".prop_map(|s: String| s),
        Just("<script>\"'\\\u{0}\u{7f}".to_owned()),
        Just("é中😀".to_owned()),
    ]
    .prop_map(move |s| {
        let mut s = s;
        while s.len() > max {
            s.pop();
        }
        if s.is_empty() {
            "x".to_owned()
        } else {
            s
        }
    })
}

fn arb_id() -> impl Strategy<Value = Id> {
    prop_oneof![
        any::<u64>().prop_map(Id::Num),
        (1u64 << 53..=u64::MAX).prop_map(Id::Num),
        arb_text(40).prop_map(|s| Id::from_text(&s)),
        Just(Id::from_text("85123A")),
    ]
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Browse),
        Just(Action::AddToCart),
        Just(Action::RemoveFromCart),
        Just(Action::Checkout),
        Just(Action::Purchase),
        arb_text(64).prop_map(|s| Action::parse(&s)),
    ]
}

fn arb_status() -> impl Strategy<Value = OrderStatus> {
    prop_oneof![
        Just(OrderStatus::Created),
        Just(OrderStatus::Paid),
        Just(OrderStatus::Fulfilled),
        Just(OrderStatus::Cancelled),
        Just(OrderStatus::Refunded),
        arb_text(64).prop_map(|s| OrderStatus::parse(&s)),
    ]
}

#[allow(clippy::too_many_lines)] // reason: one strategy per event kind, side by side
fn arb_body() -> impl Strategy<Value = Body> {
    let name = || arb_text(64).prop_map(std::sync::Arc::<str>::from);
    prop_oneof![
        (
            arb_id(),
            prop::option::of(arb_id()),
            arb_action(),
            arb_id(),
            prop::option::of(name()),
            prop::option::of(any::<i64>())
        )
            .prop_map(|(user, session, action, product, channel, price_cents)| {
                Body::Behavior(Behavior {
                    user,
                    session,
                    action,
                    product,
                    channel,
                    price_cents,
                })
            }),
        (arb_id(), any::<i64>(), prop::option::of(name())).prop_map(
            |(product, quantity, warehouse)| Body::Inventory(Inventory {
                product,
                quantity,
                warehouse
            })
        ),
        (
            arb_id(),
            name(),
            arb_status(),
            any::<i64>(),
            prop_oneof![Just(Currency::GBP), Just(Currency::USD)],
            prop::collection::vec(
                (arb_id(), any::<i64>(), any::<i64>()).prop_map(|(product, quantity, p)| {
                    LineItem {
                        product,
                        quantity,
                        unit_price_cents: p,
                    }
                }),
                0..5
            ),
            prop::option::of(arb_id())
        )
            .prop_map(
                |(order, channel, status, total_cents, currency, lines, user)| {
                    Body::Order(Order {
                        order,
                        channel,
                        status,
                        total_cents,
                        currency,
                        lines,
                        user,
                    })
                }
            ),
        (
            arb_id(),
            name(),
            prop::sample::select(Target::ALL.to_vec()),
            prop::sample::select(SyncStatus::ALL.to_vec()),
            1u32..,
            prop::option::of(0..=i64::MAX as u64),
            prop::option::of(arb_text(4096).prop_map(std::sync::Arc::<str>::from))
        )
            .prop_map(
                |(order, channel, target, status, attempt, latency_ms, error)| {
                    Body::Sync(Sync {
                        order,
                        channel,
                        target,
                        status,
                        attempt,
                        latency_ms,
                        error,
                    })
                }
            ),
        (arb_text(64), any::<i64>(), prop::option::of(name())).prop_map(|(bucket, n, channel)| {
            Body::Sales(SalesFigure {
                bucket: bucket.into(),
                sales_text: n.to_string().into(),
                #[allow(clippy::cast_precision_loss)] // reason: as the JSON decoder does
                sales: n as f64,
                channel,
            })
        }),
        (
            name(),
            prop::option::of(0..=i64::MAX as u64),
            arb_text(4096)
        )
            .prop_map(|(source, line, reason)| Body::Rejected(Rejected {
                source,
                line,
                class: "malformed".into(),
                excerpt: shoppulse_core::decode::excerpt(&reason, 160).into(),
                reason: reason.into(),
            })),
    ]
}

fn arb_event() -> impl Strategy<Value = Event> {
    (any::<i64>(), any::<bool>(), arb_body()).prop_map(|(ts_ms, ts_inferred, body)| Event {
        ts_ms,
        ts_inferred,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Binary and JSON decoding agree, event for event and seq for seq.
    #[test]
    fn binary_and_json_decoding_agree(events in prop::collection::vec(arb_event(), 0..40), first in 1u64..1 << 60) {
        let bytes = encode_events("sim-1", Positions { first_seq: first, ..Positions::default() }, 5, &events);
        let frame = Frame::parse(&bytes).expect("own frame parses");
        let mut got = Vec::new();
        frame.for_each(&mut Scratch::default(), |seq, e| got.push((seq, e.clone()))).expect("own frame decodes");
        prop_assert_eq!(got.len(), events.len());
        for (i, ((seq, bin), original)) in got.iter().zip(&events).enumerate() {
            let json = decode_event(&original.to_json(), 0).expect("canonical JSON decodes");
            prop_assert_eq!(*seq, first + i as u64);
            prop_assert_eq!(bin, &json, "event {} binary vs JSON", i);
            prop_assert_eq!(bin, original);
        }
        // `decode_into` (for batches) gives the same events, replacing
        // whatever the vector held.
        let mut into: Vec<Event> = events.iter().rev().cloned().collect();
        frame.decode_into(&mut Scratch::default(), &mut into).expect("own frame decodes");
        prop_assert_eq!(&into, &events);
    }

    /// Arbitrary bytes after the magic never panic.
    #[test]
    fn arbitrary_bytes_are_refused_or_decoded_without_panic(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = b"SPB1".to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(f) = Frame::parse(&bytes) {
            let _ = f.for_each(&mut Scratch::default(), |_, _| {});
        }
    }

    /// Corrupting any byte of a valid frame never panics; what still
    /// decodes is well-formed (it survives a JSON round trip).
    #[test]
    fn mutated_frames_never_panic(events in prop::collection::vec(arb_event(), 1..8), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let mut bytes = encode_events("e", Positions { first_seq: 1, ..Positions::default() }, 0, &events);
        let i = at.index(bytes.len());
        bytes[i] = to;
        if let Ok(f) = Frame::parse(&bytes) {
            let mut each = Vec::new();
            let r = f.for_each(&mut Scratch::default(), |_, e| {
                let again = decode_event(&e.to_json(), 0);
                assert_eq!(again.as_ref(), Ok(e), "a decoded event is a valid event");
                each.push(e.clone());
            });
            // `decode_into` stops where `for_each` stops, with the same error.
            let mut into = Vec::new();
            let r2 = f.decode_into(&mut Scratch::default(), &mut into);
            prop_assert_eq!(r.map_err(|e| e.to_string()), r2.map_err(|e| e.to_string()));
            prop_assert_eq!(into, each);
        }
    }
}
