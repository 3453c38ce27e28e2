//! Inventory: latest stock, low/out/oversold with hysteresis, warnings,
//! depletion and projected stock-out, bounds.

use super::support::*;
use shoppulse_core::view::InventoryView;
use shoppulse_core::{Config, Id};

/// Applies `events` and checks the inventory view with `expected`.
fn check<S: AsRef<str>>(events: &[S], expected: impl FnOnce(&InventoryView)) {
    expected(&view(events).inventory);
}

fn ids(rows: &[shoppulse_core::view::StockRow]) -> Vec<(Id, i64)> {
    rows.iter()
        .map(|r| (r.product.clone(), r.quantity))
        .collect()
}

#[test]
fn seed_stream_warns_once_for_103_only() {
    check(
        &[
            r#"{"product_id": 101, "quantity": 100}"#,
            r#"{"product_id": 102, "quantity": 50}"#,
            r#"{"product_id": 103, "quantity": 0}"#,
        ],
        |v| {
            assert_eq!(v.warnings, ["Warning: Product 103 is low on stock"]);
            assert_eq!(v.tracked, 3);
            assert_eq!(ids(&v.out), [(Id::Num(103), 0)]);
            assert!(v.low.is_empty());
            assert_eq!((v.low_count, v.out_count, v.oversold_count), (0, 1, 0));
        },
    );
}

#[test]
fn low_stock_has_hysteresis() {
    // threshold 10, hysteresis 2: enters at <= 10, leaves only above 12.
    let steps = [
        (20, false),
        (10, true),
        (11, true),
        (12, true),
        (13, false),
        (9, true),
    ];
    let mut events = Vec::new();
    for (i, (q, low)) in steps.into_iter().enumerate() {
        events.push(inv(T0 + i as i64 * S, 1, q));
        let v = view(&events).inventory;
        assert_eq!(v.low_count == 1, low, "after quantity {q}");
    }
    let v = view(&events).inventory;
    assert_eq!(
        v.warnings,
        [
            "Warning: Product 1 is low on stock",
            "Warning: Product 1 is low on stock"
        ],
        "entered twice: at 10 and at 9"
    );
    assert_eq!(v.low[0].threshold, 10);
}

#[test]
fn per_product_thresholds_apply() {
    let mut cfg = Config::default();
    cfg.product_thresholds.insert(Id::Num(7), 50);
    let v = run_with(cfg, &[inv(T0, 7, 40), inv(T0, 8, 40)])
        .view()
        .inventory;
    assert_eq!(ids(&v.low), [(Id::Num(7), 40)]);
    assert_eq!(v.low[0].threshold, 50);
}

#[test]
fn orders_do_not_change_stock_but_a_sale_at_zero_is_oversold() {
    check(
        &[
            inv(T0, 1, 5),
            order_lines(T0 + 1, 900, 1, &[(1, 2)]),
            inv(T0 + 2, 2, 0),
            b(T0 + 3, 4, "purchase", 2),
            inv(T0 + 4, 3, -2),
        ],
        |v| {
            assert_eq!(
                ids(&v.low),
                [(Id::Num(1), 5)],
                "the order did not change stock"
            );
            assert_eq!(ids(&v.out), [(Id::Num(2), 0)]);
            assert_eq!(ids(&v.oversold), [(Id::Num(2), 0), (Id::Num(3), -2)]);
            assert_eq!(
                v.warnings,
                [
                    "Warning: Product 3 is oversold",
                    "Warning: Product 3 is low on stock",
                    "Warning: Product 2 is oversold",
                    "Warning: Product 2 is low on stock",
                    "Warning: Product 1 is low on stock",
                ]
            );
        },
    );
}

#[test]
fn restock_clears_oversold_and_low() {
    check(
        &[
            inv(T0, 2, 0),
            b(T0 + 1, 4, "purchase", 2),
            inv(T0 + 2, 2, 100),
        ],
        |v| {
            assert_eq!((v.low_count, v.out_count, v.oversold_count), (0, 0, 0));
        },
    );
}

#[test]
fn stale_inventory_events_do_not_override_newer_stock() {
    check(&[inv(T0 + M, 1, 50), inv(T0, 1, 3)], |v| {
        assert_eq!(v.low_count, 0);
        assert!(v.warnings.is_empty());
    });
}

#[test]
fn depletion_rate_projects_the_stock_out() {
    check(
        &[
            inv(T0, 1, 100),
            inv(T0 + 10 * M, 1, 90),
            inv(T0 + 20 * M, 1, 8),
        ],
        |v| {
            let r = &v.low[0];
            // 92 units in 20 minutes = 276 per hour; 8 left -> 8/276 h later.
            assert!(
                (r.depletion_per_hour - 276.0).abs() < 1e-9,
                "{}",
                r.depletion_per_hour
            );
            let expect = T0 + 20 * M + (8.0_f64 / (92.0 / (20.0 * 60_000.0))).ceil() as i64;
            assert_eq!(r.projected_stockout_ms, Some(expect));
            assert_eq!(r.history, [(T0, 100), (T0 + 10 * M, 90), (T0 + 20 * M, 8)]);
        },
    );
}

#[test]
fn no_depletion_no_projection() {
    check(&[inv(T0, 1, 5), inv(T0 + M, 1, 6)], |v| {
        assert_eq!(v.low[0].depletion_per_hour, 0.0);
        assert_eq!(v.low[0].projected_stockout_ms, None);
    });
}

#[test]
fn history_and_products_are_bounded() {
    let cfg = Config {
        max_products: 10,
        ..Config::default()
    };
    let mut events: Vec<String> = (0..100).map(|i| inv(T0 + i * S, 1, 5 - i % 3)).collect();
    events.extend((0..50u64).map(|p| inv(T0 + 200 * S + p as i64, 100 + p, 0)));
    let e = run_with(cfg, &events);
    let v = e.view().inventory;
    assert_eq!(v.tracked, 10);
    assert_eq!(v.out_count, 10, "evicted products leave the lists");
    assert_eq!(
        v.out[0].product,
        Id::Num(140),
        "least recently updated evicted"
    );
    let sizes = e.sizes();
    let get = |k: &str| sizes.iter().find(|s| s.0 == k).unwrap().1;
    assert!(get("inventory.max_history") <= 32);
    assert!(get("inventory.products") <= 10);
}
