//! The read-only drill-down queries the dashboard uses: product stock and
//! partners, an order's sync states, a sync cell's unsynced orders.

use shoppulse_core::decode::decode_event;
use shoppulse_core::event::{SyncStatus, Target};
use shoppulse_core::id::Id;
use shoppulse_core::Engine;

fn feed(e: &mut Engine, lines: &[&str]) {
    for l in lines {
        let ev = decode_event(l, 0).expect("valid event");
        e.apply(&ev);
    }
}

#[test]
fn product_stock_partners_and_score() {
    let mut e = Engine::default();
    feed(
        &mut e,
        &[
            r#"{"kind":"inventory","ts":1000,"product":7,"quantity":50}"#,
            r#"{"kind":"inventory","ts":60000,"product":7,"quantity":20}"#,
            r#"{"kind":"inventory","ts":1000,"product":9,"quantity":0}"#,
            r#"{"kind":"order","ts":2000,"order":1,"channel":"web","status":"paid","total_cents":100,"currency":"GBP","lines":[{"product":7,"quantity":1,"unit_price_cents":50},{"product":8,"quantity":1,"unit_price_cents":50},{"product":9,"quantity":1,"unit_price_cents":1}]}"#,
        ],
    );
    let row = e.stock_of(&Id::Num(7)).expect("tracked");
    assert_eq!(row.quantity, 20);
    assert_eq!(row.history.len(), 2);
    assert!(row.depletion_per_hour > 0.0);
    assert!(e.stock_of(&Id::Num(12345)).is_none());
    // 9 is out of stock: never suggested.
    let partners = e.bought_with(&Id::Num(7), 5);
    assert_eq!(
        partners.iter().map(|p| p.0.clone()).collect::<Vec<_>>(),
        vec![Id::Num(8)]
    );
    assert!(e.trend_score(&Id::Num(7)).is_some_and(|s| s > 0.0));
    assert!(e.trend_score(&Id::Num(4242)).is_none());
}

#[test]
fn order_states_and_cell_orders() {
    let mut e = Engine::default();
    feed(
        &mut e,
        &[
            r#"{"kind":"sync","ts":1000,"order":"A","channel":"web","target":"payment","status":"synced"}"#,
            r#"{"kind":"sync","ts":2000,"order":"A","channel":"web","target":"logistics","status":"failed","attempt":2,"error":"carrier down"}"#,
            r#"{"kind":"sync","ts":3000,"order":"B","channel":"web","target":"logistics","status":"pending"}"#,
            r#"{"kind":"sync","ts":4000,"order":"C","channel":"web","target":"logistics","status":"retrying","attempt":3,"error":"timeout"}"#,
            r#"{"kind":"sync","ts":5000,"order":"D","channel":"app","target":"logistics","status":"failed"}"#,
            r#"{"kind":"sync","ts":6000,"order":"E","channel":"web","target":"logistics","status":"synced"}"#,
        ],
    );
    let a = e.order_sync(&Id::from_text("A"));
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].target, Target::Payment);
    assert_eq!(a[0].status, SyncStatus::Synced);
    assert_eq!(a[1].target, Target::Logistics);
    assert_eq!(a[1].attempt, 2);
    assert_eq!(a[1].last_error.as_deref(), Some("carrier down"));
    assert!(e.order_sync(&Id::from_text("nope")).is_empty());

    let cell = e.cell_orders("web", Target::Logistics, 10);
    let ids: Vec<String> = cell.iter().map(|s| s.order.to_string()).collect();
    assert_eq!(
        ids,
        ["A", "C", "B"],
        "failed, retrying, pending; synced E and app's D left out"
    );
    assert_eq!(e.cell_orders("web", Target::Logistics, 1).len(), 1);
    assert!(e.cell_orders("nowhere", Target::Payment, 10).is_empty());
}

#[test]
fn a_new_threshold_reclassifies_stock_already_seen() {
    use shoppulse_core::engine::Config;
    let mut e = Engine::default();
    feed(
        &mut e,
        &[
            r#"{"kind":"inventory","ts":1000,"product":1,"quantity":20}"#,
            r#"{"kind":"inventory","ts":1000,"product":2,"quantity":5}"#,
        ],
    );
    let low = |e: &Engine| {
        e.view()
            .inventory
            .low
            .iter()
            .map(|r| r.product.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(low(&e), vec![Id::Num(2)]);
    let warnings = e.view().inventory.warnings.len();
    let mut cfg = Config {
        low_stock_threshold: 25,
        ..Config::default()
    };
    cfg.product_thresholds.insert(Id::Num(2), 2);
    e.set_config_reclassify(cfg.clone());
    assert_eq!(
        low(&e),
        vec![Id::Num(1)],
        "1 is low at 25; 2 is not at its own 2 (5 > 2 + 2)"
    );
    assert_eq!(
        e.view().inventory.warnings.len(),
        warnings,
        "no warning without a stock update"
    );
    // Hysteresis: back to 10, product 1 at 20 > 10 + 2 leaves the list.
    e.set_config_reclassify(Config::default());
    assert_eq!(low(&e), vec![Id::Num(2)]);
}
