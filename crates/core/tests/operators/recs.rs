//! Recommendations: seed answer, co-occurrence, trending, stock filter.

use super::support::*;
use shoppulse_core::view::{RecsView, UserRecs};
use shoppulse_core::Id;

/// Applies `events` and checks the recommendations view with `expected`.
fn check<S: AsRef<str>>(events: &[S], expected: impl FnOnce(&RecsView)) {
    expected(&view(events).recs);
}

fn for_user(v: &RecsView, user: u64) -> &UserRecs {
    v.for_users
        .iter()
        .find(|u| u.user == Id::Num(user))
        .unwrap_or_else(|| panic!("user {user} not in for_users"))
}

fn nums(ids: &[Id]) -> Vec<u64> {
    ids.iter()
        .map(|i| match i {
            Id::Num(n) => *n,
            Id::Str(_) => 0,
        })
        .collect()
}

#[test]
fn seed_user_1_gets_a_sensible_non_empty_answer() {
    let e = run(&[
        r#"{"user_id": 1, "action": "browse", "product_id": 101}"#,
        r#"{"user_id": 1, "action": "add_to_cart", "product_id": 102}"#,
        r#"{"user_id": 1, "action": "purchase", "product_id": 103}"#,
    ]);
    let r = e.recommend_for(&Id::Num(1));
    assert_eq!(nums(&r.products), [103, 102, 101]);
    assert_eq!(r.reasons, ["you purchased", "in your cart", "you viewed"]);
    let v = e.view().recs;
    assert_eq!(for_user(&v, 1), &r, "view and lookup agree");
    assert_eq!(v.trending[0].product, Id::Num(103), "purchase weighs most");
}

#[test]
fn co_occurring_items_come_first() {
    let mut events = Vec::new();
    for u in 2..12 {
        events.push(b(T0 + u as i64, u, "browse", 1));
        events.push(b(T0 + u as i64, u, "browse", 2));
    }
    events.push(b(T0 + 100, 3, "browse", 9)); // 9 co-occurs with 1 and 2 once
    events.push(b(T0 + 200, 1, "browse", 1));
    check(&events, |v| {
        let r = for_user(v, 1);
        assert_eq!(r.products[0], Id::Num(2));
        assert_eq!(r.reasons[0], "viewed with 1");
        assert_eq!(r.products[1], Id::Num(9));
        assert!(!r.products.contains(&Id::Num(1)) || r.reasons.iter().any(|x| x == "you viewed"));
        assert_eq!(v.co_purchase[0], (Id::Num(1), Id::Num(2), 10));
    });
}

#[test]
fn orders_make_co_purchase_pairs() {
    check(
        &[
            order_lines(T0, 1, 50, &[(5, 1), (6, 2)]),
            order_lines(T0 + 1, 2, 51, &[(5, 1), (6, 1), (7, 1)]),
            b(T0 + 2, 52, "purchase", 5),
        ],
        |v| {
            assert_eq!(v.co_purchase[0], (Id::Num(5), Id::Num(6), 4));
            let r = for_user(v, 52);
            assert_eq!(nums(&r.products[..2]), [6, 7]);
            assert_eq!(r.reasons[0], "bought with 5");
        },
    );
}

#[test]
fn out_of_stock_is_never_recommended() {
    let mut events = Vec::new();
    for u in 2..6 {
        events.push(b(T0, u, "browse", 1));
        events.push(b(T0, u, "purchase", 2));
    }
    events.push(b(T0, 1, "purchase", 3));
    events.push(b(T0, 1, "browse", 1));
    events.push(inv(T0, 2, 0));
    events.push(inv(T0, 3, -1));
    check(&events, |v| {
        for u in &v.for_users {
            assert!(!u.products.contains(&Id::Num(2)), "{u:?}");
            assert!(!u.products.contains(&Id::Num(3)), "{u:?}");
        }
        assert!(v.trending.iter().all(|t| t.product != Id::Num(2)));
        assert!(!for_user(v, 1).products.is_empty());
    });
}

#[test]
fn trending_decays_with_event_time() {
    let mut events = Vec::new();
    for _ in 0..10 {
        events.push(b(T0, 1, "purchase", 1)); // 50 points, an hour ago
    }
    for _ in 0..2 {
        events.push(b(T0 + H, 2, "browse", 2)); // 2 points, now
    }
    check(&events, |v| {
        assert_eq!(v.trending[0].product, Id::Num(2));
        let old = v.trending.iter().find(|t| t.product == Id::Num(1)).unwrap();
        assert!(
            (old.score - 50.0 / 64.0).abs() < 1e-9,
            "six half-lives: {}",
            old.score
        );
        assert!((v.trending[0].score - 2.0).abs() < 1e-9);
    });
}

#[test]
fn for_users_lists_the_most_recently_active_first() {
    let events: Vec<String> = (0..30).map(|u| b(T0 + u as i64, u, "browse", 1)).collect();
    check(&events, |v| {
        assert_eq!(v.for_users.len(), 20);
        assert_eq!(v.for_users[0].user, Id::Num(29));
        assert_eq!(v.for_users[19].user, Id::Num(10));
    });
}

#[test]
fn unknown_users_get_trending() {
    let e = run(&[b(T0, 1, "purchase", 7), b(T0, 1, "browse", 8)]);
    let r = e.recommend_for(&Id::from_text("nobody"));
    assert_eq!(nums(&r.products), [7, 8]);
    assert_eq!(r.reasons, ["trending", "trending"]);
}
