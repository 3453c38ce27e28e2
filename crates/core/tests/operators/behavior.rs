//! Behaviour: the readable log, windows, funnel, active shoppers, top products.

use super::support::*;
use shoppulse_core::view::BehaviorView;
use shoppulse_core::Config;

/// Applies `events` and checks the behaviour view with `expected`.
fn check<S: AsRef<str>>(events: &[S], expected: impl FnOnce(&BehaviorView)) {
    expected(&view(events).behavior);
}

fn log_texts(v: &BehaviorView) -> Vec<&str> {
    v.log.iter().map(|l| l.text.as_str()).collect()
}

#[test]
fn seed_log_lines_are_exact_newest_first() {
    check(
        &[
            r#"{"user_id": 1, "action": "browse", "product_id": 101}"#,
            r#"{"user_id": 1, "action": "add_to_cart", "product_id": 102}"#,
            r#"{"user_id": 2, "action": "purchase", "product_id": 103}"#,
        ],
        |v| {
            assert_eq!(
                log_texts(v),
                [
                    "User 2 has purchased product 103",
                    "User 1 has added product 102 to cart",
                    "User 1 is browsing product 101",
                ]
            );
            assert_eq!(v.log[0].action, "purchase");
            assert_eq!(v.counts_total, [1, 1, 0, 0, 1, 0]);
        },
    );
}

#[test]
fn other_actions_read_well() {
    check(
        &[
            b(T0, 1, "remove_from_cart", 102),
            b(T0, 1, "checkout", 102),
            b(T0, 1, "wishlist", 5),
        ],
        |v| {
            assert_eq!(
                log_texts(v),
                [
                    "User 1 did wishlist on product 5",
                    "User 1 is checking out with product 102",
                    "User 1 has removed product 102 from cart",
                ]
            );
            assert_eq!(v.log[0].action, "wishlist");
            assert_eq!(v.counts_total, [0, 0, 1, 1, 0, 1]);
        },
    );
}

#[test]
fn log_is_bounded_by_config() {
    let cfg = Config {
        log_len: 3,
        ..Config::default()
    };
    let events: Vec<String> = (0..10).map(|i| b(T0 + i, 1, "browse", i as u64)).collect();
    let v = run_with(cfg, &events).view().behavior;
    assert_eq!(
        log_texts(&v),
        [
            "User 1 is browsing product 9",
            "User 1 is browsing product 8",
            "User 1 is browsing product 7"
        ]
    );
}

#[test]
fn windows_count_event_time_back_from_the_newest_event() {
    let now = T0 + 3 * H;
    check(
        &[
            b(now - 2 * H, 1, "browse", 1),       // total only
            b(now - 30 * M, 1, "add_to_cart", 1), // 1 h
            b(now - 2 * M, 1, "purchase", 1),     // 5 min, 1 h
            b(now - 30 * S, 1, "browse", 1),      // all windows
            b(now, 1, "browse", 2),               // all windows; defines now
        ],
        |v| {
            assert_eq!(v.counts_1m, [2, 0, 0, 0, 0, 0]);
            assert_eq!(v.counts_5m, [2, 0, 0, 0, 1, 0]);
            assert_eq!(v.counts_1h, [2, 1, 0, 0, 1, 0]);
            assert_eq!(v.counts_total, [3, 1, 0, 0, 1, 0]);
            assert_eq!(v.per_minute.len(), 60);
            let last = v.per_minute.last().unwrap();
            assert_eq!(last.0, now - now.rem_euclid(M));
            assert_eq!(last.1[0], 1);
            assert!(v.per_minute.windows(2).all(|w| w[1].0 - w[0].0 == M));
        },
    );
}

#[test]
fn late_behaviour_is_counted_in_its_window_if_still_held() {
    let now = T0 + H;
    check(
        &[b(now, 1, "browse", 1), b(now - 10 * S, 2, "browse", 1)],
        |v| {
            assert_eq!(v.counts_1m[0], 2);
            assert_eq!(
                v.log[0].user,
                shoppulse_core::Id::Num(2),
                "log is arrival order"
            );
        },
    );
}

#[test]
fn events_older_than_the_watermark_are_counted_late_and_still_applied() {
    // allowed lateness 1 min
    let e = run(&[
        b(T0 + H, 1, "browse", 1),
        b(T0 + H - 30 * S, 2, "browse", 1),
        b(T0 + H - 10 * M, 3, "browse", 1),
        inv(T0, 5, 3),
    ]);
    assert_eq!(e.late_events(), 2);
    let v = e.view();
    assert_eq!(v.health.late, 2);
    assert_eq!(v.behavior.counts_1h[0], 3, "the late browse is in its hour");
    assert_eq!(
        v.inventory.low_count, 1,
        "late stock is still the latest known"
    );
}

#[test]
fn funnel_counts_shoppers_per_step_by_session_or_user() {
    check(
        &[
            bs(T0, 1, "s1", "browse", 1),
            bs(T0 + 1, 1, "s1", "add_to_cart", 1),
            bs(T0 + 2, 1, "s1", "add_to_cart", 2),
            bs(T0 + 3, 1, "s1", "checkout", 1),
            bs(T0 + 4, 1, "s1", "purchase", 1),
            bs(T0 + 5, 1, "s2", "browse", 1), // same user, new session
            b(T0 + 6, 2, "browse", 3),
            b(T0 + 7, 2, "add_to_cart", 3),
        ],
        |v| {
            assert_eq!(
                (
                    v.funnel.browse,
                    v.funnel.cart,
                    v.funnel.checkout,
                    v.funnel.purchase
                ),
                (3, 2, 1, 1)
            );
        },
    );
}

#[test]
fn funnel_forgets_shoppers_after_an_hour() {
    check(
        &[
            b(T0, 1, "browse", 1),
            b(T0 + 30 * M, 2, "browse", 1),
            b(T0 + 61 * M, 3, "add_to_cart", 1),
        ],
        |v| {
            assert_eq!((v.funnel.browse, v.funnel.cart), (1, 1));
        },
    );
}

#[test]
fn active_shoppers_are_exact_below_the_limit() {
    check(
        &[
            b(T0, 1, "browse", 1),
            b(T0 + M, 2, "browse", 1),
            b(T0 + 6 * M, 3, "browse", 1),
            b(T0 + 6 * M, 3, "browse", 2),
        ],
        |v| {
            assert!(v.active_exact);
            assert_eq!(v.active_shoppers, 2, "users 2 and 3 in the last 5 min");
        },
    );
}

#[test]
fn active_shoppers_are_estimated_above_the_limit_then_exact_again() {
    let cfg = Config {
        exact_distinct_limit: 100,
        ..Config::default()
    };
    let mut events: Vec<String> = (0..5000)
        .map(|u| b(T0 + u as i64, u, "browse", 1))
        .collect();
    let e = run_with(cfg.clone(), &events);
    let v = e.view().behavior;
    assert!(!v.active_exact);
    let err = (v.active_shoppers as f64 - 5000.0).abs() / 5000.0;
    assert!(
        err < 0.05,
        "estimate {} too far from 5000",
        v.active_shoppers
    );
    // Quiet traffic later: the 5000 leave the window, the count is exact again.
    for i in 0..20 {
        events.push(b(T0 + 30 * M + i * M, 1 + (i as u64 % 3), "browse", 1));
    }
    let v = run_with(cfg, &events).view().behavior;
    assert!(v.active_exact);
    assert_eq!(v.active_shoppers, 3);
}

#[test]
fn top_products_weigh_browse_1_cart_3_purchase_5() {
    check(
        &[
            b(T0, 1, "browse", 10),
            b(T0, 1, "browse", 10),
            b(T0, 1, "browse", 10),
            b(T0, 1, "browse", 10),
            b(T0, 1, "add_to_cart", 20),
            b(T0, 1, "browse", 20),
            b(T0, 1, "purchase", 30),
            b(T0, 1, "checkout", 40),
        ],
        |v| {
            let got: Vec<(String, u64, u64)> = v
                .top_products
                .iter()
                .map(|p| (p.product.to_string(), p.count, p.error))
                .collect();
            assert_eq!(
                got,
                [
                    ("30".into(), 5, 0),
                    ("10".into(), 4, 0),
                    ("20".into(), 4, 0)
                ]
            );
        },
    );
}
