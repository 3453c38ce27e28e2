//! Engine: snapshot round trip, determinism, bounded memory.

use super::support::*;
use shoppulse_core::event::{
    Action, Behavior, Body, Currency, Event, Inventory, LineItem, Order, OrderStatus, Sync,
    SyncStatus, Target,
};
use shoppulse_core::view::{RecsView, SyncView};
use shoppulse_core::{snapshot, Config, Engine, Id};

#[path = "../../benches/gen/mod.rs"]
mod gen;

fn engine_after(n: usize, seed: u64) -> (Engine, gen::Gen) {
    let mut g = gen::Gen::new(seed);
    let mut e = Engine::new(Config::default());
    let mut line = String::new();
    for _ in 0..n {
        g.next_line(&mut line);
        e.apply_json(&line, 0, "test")
            .expect("generated lines decode");
    }
    (e, g)
}

#[test]
fn json_snapshot_round_trip_gives_the_same_view_and_the_same_future() {
    let (mut a, mut g) = engine_after(30_000, 7);
    let json = serde_json::to_string(&a).unwrap();
    let mut b: Engine = serde_json::from_str(&json).unwrap();
    assert_eq!(a.view(), b.view());
    let mut line = String::new();
    for _ in 0..5_000 {
        g.next_line(&mut line);
        a.apply_json(&line, 0, "test").unwrap();
        b.apply_json(&line, 0, "test").unwrap();
    }
    a.mark_gap();
    b.mark_gap();
    assert_eq!(a.view(), b.view());
    for u in [1u64, 2, 3, 777] {
        assert_eq!(a.recommend_for(&Id::Num(u)), b.recommend_for(&Id::Num(u)));
    }
    // And again through a second snapshot.
    let c: Engine = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(c.view(), a.view());
}

/// The same state through the binary `snap1` snapshot frame.
fn through_snap1(e: &Engine) -> Engine {
    let bytes = snapshot::encode("e1", 42, e);
    let s = snapshot::decode(&bytes).expect("a snap1 frame decodes");
    assert_eq!((s.epoch.as_str(), s.seq), ("e1", 42));
    s.engine
}

#[test]
fn snap1_snapshot_round_trip_gives_the_same_view_and_the_same_future_as_json() {
    let (mut a, mut g) = engine_after(30_000, 11);
    let json = serde_json::to_string(&a).unwrap();
    let bytes = snapshot::encode("e1", 30_000, &a);
    assert!(
        bytes.len() * 2 < json.len(),
        "snap1 {} bytes vs JSON {} bytes",
        bytes.len(),
        json.len()
    );
    let mut b = through_snap1(&a);
    let mut c: Engine = serde_json::from_str(&json).unwrap();
    assert_eq!(a.view(), b.view());
    let mut line = String::new();
    for _ in 0..5_000 {
        g.next_line(&mut line);
        for e in [&mut a, &mut b, &mut c] {
            e.apply_json(&line, 0, "test").unwrap();
        }
    }
    assert_eq!(a.view(), b.view());
    assert_eq!(c.view(), b.view());
    for u in [1u64, 2, 3, 777] {
        assert_eq!(a.recommend_for(&Id::Num(u)), b.recommend_for(&Id::Num(u)));
    }
}

#[test]
fn snap1_keeps_string_ids_and_numeric_looking_strings_as_json_does() {
    let mut a = Engine::new(Config::default());
    for line in [
        r#"{"user_id": "u-1", "action": "browse", "product_id": "85123A"}"#,
        r#"{"user_id": 18446744073709551615, "action": "purchase", "product_id": "101"}"#,
        r#"{"product_id": "85123A", "quantity": 3}"#,
    ] {
        a.apply_json(line, 0, "test").unwrap();
    }
    let b = through_snap1(&a);
    assert_eq!(a.view(), b.view());
    for u in [Id::Str("u-1".into()), Id::Num(u64::MAX)] {
        assert_eq!(a.recommend_for(&u), b.recommend_for(&u));
    }
}

#[test]
fn bad_snap1_frames_are_refused_with_a_reason() {
    let (a, _) = engine_after(2_000, 5);
    let good = snapshot::encode("e1", 7, &a);
    assert!(snapshot::is_snap1(&good));
    let mut trailing = good.clone();
    trailing.push(0);
    let cases: [(&[u8], &str); 4] = [
        (b"SPB1\x00", "SPS1"),
        (&good[..3], "SPS1"),
        (&good[..good.len() / 2], "engine state"),
        (&trailing, "after the engine state"),
    ];
    for (bytes, why) in cases {
        let e = snapshot::decode(bytes).expect_err("refused");
        assert!(e.to_string().contains(why), "{e} should mention {why}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Snapshot at any point (JSON and `snap1`), continue all three: the
    /// views stay identical.
    #[test]
    fn snapshots_at_any_point_continue_identically(seed in 0u64..1_000_000, n in 1usize..4000, cut in 0.0f64..1.0) {
        let lines = gen::Gen::new(seed).lines(n);
        let at = (n as f64 * cut) as usize;
        let mut a = Engine::new(Config { exact_distinct_limit: 50, max_products: 200, max_open_syncs: 400, ..Config::default() });
        for l in &lines[..at] {
            a.apply_json(l, 0, "test").unwrap();
        }
        let mut b: Engine = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        let mut c = through_snap1(&a);
        proptest::prop_assert_eq!(a.view(), b.view());
        proptest::prop_assert_eq!(a.view(), c.view());
        for l in &lines[at..] {
            a.apply_json(l, 0, "test").unwrap();
            b.apply_json(l, 0, "test").unwrap();
            c.apply_json(l, 0, "test").unwrap();
        }
        proptest::prop_assert_eq!(a.view(), b.view());
        proptest::prop_assert_eq!(a.view(), c.view());
    }
}

/// `apply_batch` (read the state a batch will touch ahead, then apply) is
/// `apply` on each event in order: the same state, byte for byte, on a
/// stream long enough to fill the recommendation users and evict from them.
#[test]
fn apply_batch_gives_the_same_state_as_applying_one_by_one() {
    let events: Vec<Event> = gen::Gen::new(5)
        .lines(240_000)
        .iter()
        .map(|l| shoppulse_core::decode::decode_event(l, 0).expect("generated lines decode"))
        .collect();
    let mut one = Engine::new(Config::default());
    let mut batched = Engine::new(Config::default());
    for ev in &events {
        one.apply(ev);
    }
    for (i, chunk) in events.chunks(997).enumerate() {
        if i % 2 == 0 {
            batched.apply_batch(chunk);
        } else {
            // Mixed with single applies, as a caller may.
            for ev in chunk {
                batched.apply(ev);
            }
        }
    }
    assert!(
        one.sizes()
            .contains(&("recs.users", shoppulse_core::ops::recs::MAX_USERS)),
        "the stream fills the users map: {:?}",
        one.sizes()
    );
    assert_eq!(one.view(), batched.view());
    assert_eq!(
        snapshot::encode("e1", 1, &one),
        snapshot::encode("e1", 1, &batched)
    );
}

#[test]
fn the_view_is_deterministic() {
    let (a, _) = engine_after(10_000, 3);
    let (b, _) = engine_after(10_000, 3);
    assert_eq!(a.view(), b.view());
    let v = a.view();
    assert!(!v.behavior.log.is_empty());
    assert!(!v.recs.trending.is_empty());
    assert!(!v.sales.minutes.is_empty());
    assert!(!v.sync.cells.is_empty());
    assert_eq!(v.health.applied, 10_000);
}

#[test]
fn empty_engine_views_and_round_trips() {
    let e = Engine::default();
    let v = e.view();
    assert!(v.behavior.log.is_empty() && v.sales.minutes.is_empty());
    let back: Engine = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back.view(), v);
}

fn event(ts: i64, body: Body) -> Event {
    Event {
        ts_ms: ts,
        ts_inferred: false,
        body,
    }
}

/// Feeds 1,000,000 events, every one with fresh ids (users, sessions,
/// products, orders), and checks every container stays under its cap.
#[test]
fn memory_stays_bounded_under_a_million_distinct_ids() {
    let cfg = Config::default();
    let mut e = Engine::new(cfg.clone());
    let rounds = 250_000u64;
    for i in 0..rounds {
        let ts = T0 + i as i64 * 4;
        e.apply(&event(
            ts,
            Body::Behavior(Behavior {
                user: Id::Num(i),
                session: Some(Id::from_text(&format!("s{i}"))),
                action: if i % 2 == 0 {
                    Action::Browse
                } else {
                    Action::Purchase
                },
                product: Id::Num(i),
                channel: None,
                price_cents: None,
            }),
        ));
        e.apply(&event(
            ts + 1,
            Body::Inventory(Inventory {
                product: Id::Num(1_000_000 + i),
                quantity: 0,
                warehouse: None,
            }),
        ));
        e.apply(&event(
            ts + 2,
            Body::Order(Order {
                order: Id::Num(i),
                channel: format!("ch{}", i % 100).into(),
                status: OrderStatus::Created,
                total_cents: 100,
                currency: Currency::GBP,
                lines: vec![
                    LineItem {
                        product: Id::Num(2_000_000 + i),
                        quantity: 1,
                        unit_price_cents: 50,
                    },
                    LineItem {
                        product: Id::Num(3_000_000 + i),
                        quantity: 1,
                        unit_price_cents: 50,
                    },
                ],
                user: Some(Id::Num(5_000_000 + i)),
            }),
        ));
        e.apply(&event(
            ts + 3,
            Body::Sync(Sync {
                order: Id::Num(i),
                channel: "web".into(),
                target: Target::ALL[(i % 4) as usize],
                status: SyncStatus::Pending,
                attempt: 1,
                latency_ms: Some(i % 10_000),
                error: Some("timeout".into()),
            }),
        ));
    }
    let caps: &[(&str, usize)] = &[
        ("health.recent", 20),
        ("health.classes", 7),
        ("behavior.log", cfg.log_len),
        ("behavior.shoppers", 50_000),
        ("behavior.shoppers_queue", 50_000),
        ("behavior.active_queue", 100_000),
        ("behavior.hll_minutes", 16),
        ("behavior.top", 64),
        ("inventory.products", cfg.max_products),
        ("inventory.queue", cfg.max_products),
        ("inventory.low", cfg.max_products),
        ("inventory.out", cfg.max_products),
        ("inventory.oversold", cfg.max_products),
        ("inventory.warnings", 50),
        ("inventory.max_history", 32),
        ("recs.users", 20_000),
        ("recs.users_queue", 20_000),
        ("recs.max_user_items", 20),
        ("recs.products", 20_000),
        ("recs.products_queue", 20_000),
        ("recs.max_partners", 16),
        ("recs.top_pairs", 16),
        ("recs.top_trend", 64),
        ("recs.recent_users", 256),
        ("sales.seen_orders", 100_000),
        ("sales.seen_queue", 100_000),
        ("sales.channels", 64),
        ("sales.figures", 100),
        ("sales.windows", 60 + 48 + 31),
        ("sync.orders", cfg.max_open_syncs),
        ("sync.orders_queue", cfg.max_open_syncs + 1),
        ("sync.states", cfg.max_open_syncs),
        ("sync.open_index", cfg.max_open_syncs),
        ("sync.cells", 64 * 4),
        ("sync.channels", 64),
        ("sync.invalid", 50),
        ("sync.forecasts", 64),
    ];
    let sizes = e.sizes();
    for (name, n) in &sizes {
        let cap = caps
            .iter()
            .find(|c| c.0 == *name)
            .unwrap_or_else(|| panic!("no cap listed for {name}"))
            .1;
        assert!(*n <= cap, "{name} = {n} exceeds its cap {cap}");
    }
    let get = |k: &str| sizes.iter().find(|s| s.0 == k).unwrap().1;
    // The caps were reached (the test really exercised eviction).
    assert_eq!(get("inventory.products"), cfg.max_products);
    assert_eq!(get("sales.seen_orders"), 100_000);
    assert_eq!(get("recs.users"), 20_000);
    assert_eq!(get("behavior.shoppers"), 50_000);
    assert_eq!(get("recs.products"), 20_000);
    assert_eq!(get("sync.states"), cfg.max_open_syncs);
    assert_eq!(get("sales.channels"), 64);
    let v = e.view();
    assert!(!v.behavior.active_exact);
    assert_eq!(v.health.applied, 4 * rounds);
    assert!(v.inventory.out.len() <= 100 && v.sync.stuck.len() <= 50);
}

/// Extreme but decodable values never panic (debug builds check overflow),
/// and the state still views and round-trips.
#[test]
fn hostile_values_never_panic() {
    let max = i64::MAX;
    let min = i64::MIN;
    let lines = [
        format!(r#"{{"kind":"behavior","ts":{max},"user":1,"action":"purchase","product":1}}"#),
        format!(r#"{{"kind":"behavior","ts":{min},"user":1,"action":"browse","product":2}}"#),
        format!(r#"{{"kind":"inventory","ts":{max},"product":1,"quantity":{max}}}"#),
        format!(r#"{{"kind":"inventory","ts":{max},"product":1,"quantity":{min}}}"#),
        format!(r#"{{"kind":"inventory","ts":{min},"product":3,"quantity":{max}}}"#),
        format!(r#"{{"kind":"inventory","ts":0,"product":3,"quantity":{min}}}"#),
        format!(
            r#"{{"kind":"order","ts":{max},"order":1,"channel":"w","status":"paid","total_cents":{max},"currency":"GBP","lines":[{{"product":1,"quantity":{max},"unit_price_cents":{max}}}]}}"#
        ),
        format!(
            r#"{{"kind":"order","ts":{max},"order":2,"channel":"w","status":"paid","total_cents":{max},"currency":"GBP"}}"#
        ),
        format!(
            r#"{{"kind":"order","ts":{min},"order":3,"channel":"w","status":"refunded","total_cents":{min},"currency":"GBP"}}"#
        ),
        format!(
            r#"{{"kind":"order","ts":{min},"order":4,"channel":"w","status":"refunded","total_cents":{min},"currency":"GBP"}}"#
        ),
        format!(
            r#"{{"kind":"sync","ts":{min},"order":1,"channel":"w","target":"payment","status":"pending","attempt":4294967295,"latency_ms":9223372036854775807}}"#
        ),
        format!(
            r#"{{"kind":"sync","ts":{max},"order":1,"channel":"w","target":"payment","status":"retrying","attempt":1,"latency_ms":0}}"#
        ),
        format!(
            r#"{{"kind":"sync","ts":{max},"order":2,"channel":"w","target":"logistics","status":"synced","attempt":1}}"#
        ),
        format!(
            r#"{{"kind":"order","ts":{max},"order":5,"channel":"w","status":"created","total_cents":1,"currency":"GBP"}}"#
        ),
        format!(
            r#"{{"kind":"order","ts":{min},"order":6,"channel":"w","status":"created","total_cents":1,"currency":"GBP"}}"#
        ),
        r#"{"kind":"behavior","ts":0,"user":1,"action":"purchase","product":1}"#.to_owned(),
        r#"{"date": "x", "sales": 1e308}"#.to_owned(),
    ];
    for cfg in [
        Config::default(),
        Config {
            allowed_lateness_ms: max,
            sync_sla_ms: min,
            active_window_ms: max,
            low_stock_threshold: max,
            low_stock_hysteresis: max,
            log_len: 0,
            exact_distinct_limit: 0,
            ..Config::default()
        },
        Config {
            allowed_lateness_ms: min,
            sync_sla_ms: max,
            active_window_ms: min,
            low_stock_threshold: min,
            low_stock_hysteresis: min,
            ..Config::default()
        },
    ] {
        let mut e = Engine::new(cfg);
        for l in &lines {
            e.apply_json(l, 0, "test").unwrap();
            let _ = e.view();
        }
        e.mark_gap();
        let _ = e.recommend_for(&Id::Num(1));
        let back: Engine = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.view(), e.view());
    }
}

/// The engine as the dashboard runs it with recommendations and order sync
/// turned off in its settings.
fn lean() -> Config {
    Config {
        compute_recs: false,
        compute_sync: false,
        ..Config::default()
    }
}

#[test]
fn operators_turned_off_leave_every_other_section_as_the_full_engine_has_it() {
    let mut g = gen::Gen::new(21);
    let mut full = Engine::new(Config::default());
    let mut off = Engine::new(lean());
    let mut line = String::new();
    for i in 0..40_000 {
        g.next_line(&mut line);
        full.apply_json(&line, 0, "test").unwrap();
        off.apply_json(&line, 0, "test").unwrap();
        if i % 10_000 == 9_999 {
            let (a, b) = (full.view(), off.view());
            assert_eq!(a.health, b.health);
            assert_eq!(a.behavior, b.behavior);
            assert_eq!(a.inventory, b.inventory);
            assert_eq!(a.sales, b.sales);
            assert!(a.operators_off.is_empty());
            assert_eq!(b.operators_off, ["recs", "sync"]);
            assert_ne!(
                a.recs,
                RecsView::default(),
                "the stream feeds recommendations"
            );
            assert_ne!(a.sync, SyncView::default(), "the stream feeds order sync");
            assert_eq!(b.recs, RecsView::default());
            assert_eq!(b.sync, SyncView::default());
        }
    }
    let held = |e: &Engine, prefix: &str| -> usize {
        e.sizes()
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(held(&full, "recs.") > 0 && held(&full, "sync.") > 0);
    assert_eq!(held(&off, "recs."), 0, "{:?}", off.sizes());
    assert_eq!(held(&off, "sync."), 0, "{:?}", off.sizes());
    // Turning them off on a running engine frees their state at once.
    full.set_config_reclassify(lean());
    assert_eq!(held(&full, "recs.") + held(&full, "sync."), 0);
    assert_eq!(full.view(), off.view());
    // Turned on again they start empty and follow the stream from there.
    off.set_config_reclassify(Config::default());
    let mut order = String::new();
    while !order.contains("\"order\"") {
        g.next_line(&mut order);
        off.apply_json(&order, 0, "test").unwrap();
    }
    assert!(off.view().operators_off.is_empty());
    assert!(held(&off, "recs.") + held(&off, "sync.") > 0);
}
