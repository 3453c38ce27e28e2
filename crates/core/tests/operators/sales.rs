//! Sales: business figures, counting orders once, cancellations, currency,
//! lateness and window flags.

use super::support::*;
use shoppulse_core::event::Currency;
use shoppulse_core::view::{ChannelTotals, SalesView};
use shoppulse_core::Config;

/// Applies `events` and checks the sales view with `expected`.
fn check<S: AsRef<str>>(events: &[S], expected: impl FnOnce(&SalesView)) {
    expected(&view(events).sales);
}

fn totals(t: &ChannelTotals) -> (&str, i64, u64, u64, i64) {
    (
        &t.channel,
        t.revenue_cents,
        t.orders,
        t.cancelled,
        t.aov_cents,
    )
}

#[test]
fn seed_figures_read_as_given() {
    check(
        &[
            r#"{"date": "2021-09-01", "sales": 1000}"#,
            r#"{"date": "2021-09-02", "sales": 1500}"#,
            r#"{"date": "2021-09-03", "sales": 1200}"#,
        ],
        |v| {
            let lines: Vec<&str> = v.figures.iter().map(|f| f.text.as_str()).collect();
            assert_eq!(
                lines,
                [
                    "Sales on 2021-09-01: 1000",
                    "Sales on 2021-09-02: 1500",
                    "Sales on 2021-09-03: 1200",
                ]
            );
            assert_eq!(v.figures[1].sales, 1500.0);
        },
    );
}

#[test]
fn figures_keep_the_last_100_in_arrival_order() {
    let events: Vec<String> = (0..150)
        .map(|i| format!(r#"{{"date": "d{i}", "sales": {i}}}"#))
        .collect();
    check(&events, |v| {
        assert_eq!(v.figures.len(), 100);
        assert_eq!(v.figures[0].text, "Sales on d50: 50");
        assert_eq!(v.figures[99].text, "Sales on d149: 149");
    });
}

#[test]
fn an_order_counts_once_and_a_cancellation_subtracts_in_its_own_window() {
    check(
        &[
            order(T0, 1, "web", "created", 1000),
            order(T0 + 10 * S, 1, "web", "paid", 1000),
            order(T0 + 20 * S, 2, "app", "paid", 3000),
            order(T0 + 2 * M, 1, "web", "cancelled", 1000),
            order(T0 + 2 * M + 1, 1, "web", "refunded", 1000),
            order(T0 + 2 * M + 2, 2, "app", "fulfilled", 3000),
        ],
        |v| {
            assert_eq!(v.currency, Some(Currency::GBP));
            assert_eq!(totals(&v.total), ("total", 3000, 2, 1, 1500));
            let by: Vec<_> = v.by_channel.iter().map(totals).collect();
            assert_eq!(by, [("app", 3000, 1, 0, 3000), ("web", 0, 1, 1, 0)]);
            assert_eq!(v.minutes.len(), 3);
            assert_eq!(totals(&v.minutes[0].total), ("total", 4000, 2, 0, 2000));
            assert_eq!(totals(&v.minutes[1].total), ("total", 0, 0, 0, 0));
            assert_eq!(totals(&v.minutes[2].total), ("total", -1000, 0, 1, 0));
            assert_eq!(v.minutes[2].by_channel.len(), 1);
            assert_eq!(v.hours.len(), 1);
            assert_eq!(totals(&v.days[0].total), ("total", 3000, 2, 1, 1500));
        },
    );
}

#[test]
fn other_currencies_are_counted_not_summed() {
    check(
        &[
            order(T0, 1, "web", "created", 1000),
            order_in(T0, 2, "web", "created", 5000, "USD"),
            order_in(T0, 2, "web", "paid", 5000, "USD"),
        ],
        |v| {
            assert_eq!(v.total.revenue_cents, 1000);
            assert_eq!(v.total.orders, 1);
            assert_eq!(v.other_currency_orders, 1);
        },
    );
}

#[test]
fn late_orders_are_applied_where_held_and_always_counted() {
    // allowed lateness 1 min; now = T0 + 2 h.
    let now = T0 + 2 * H;
    check(
        &[
            order(now, 1, "web", "created", 100),
            order(now - 30 * S, 2, "web", "created", 200), // on time
            order(now - 10 * M, 3, "web", "created", 400), // late, minute window held
            order(now - 90 * M, 4, "web", "created", 800), // late, minute window gone, hour held
            order(now - 40 * H, 5, "web", "created", 1600), // late, minute window gone, hour and day held
        ],
        |v| {
            assert_eq!(v.late_orders, 3);
            assert_eq!(v.total.revenue_cents, 3100, "totals take every order");
            let minutes: i64 = v.minutes.iter().map(|w| w.total.revenue_cents).sum();
            assert_eq!(minutes, 700);
            let hours: i64 = v.hours.iter().map(|w| w.total.revenue_cents).sum();
            assert_eq!(hours, 3100);
            let days: i64 = v.days.iter().map(|w| w.total.revenue_cents).sum();
            assert_eq!(days, 3100);
        },
    );
    let e = run(&[
        order(now, 1, "web", "created", 100),
        order(now - 10 * M, 3, "web", "created", 4),
    ]);
    assert_eq!(e.late_events(), 1);
    assert_eq!(e.view().health.late, 1);
}

#[test]
fn windows_close_when_the_watermark_passes_and_gaps_mark_them_incomplete() {
    let mut e = run(&[
        order(T0, 1, "web", "created", 100),
        order(T0 + 90 * S, 2, "web", "created", 100),
    ]);
    let v = e.view().sales;
    // watermark = T0 + 30 s: no minute closed yet.
    assert!(v.minutes.iter().all(|w| !w.closed));
    e.apply(&ev(&order(T0 + 2 * M + 1, 3, "web", "created", 100)));
    let v = e.view().sales;
    assert_eq!(
        v.minutes.iter().map(|w| w.closed).collect::<Vec<_>>(),
        [true, false, false]
    );
    e.mark_gap();
    let v = e.view().sales;
    assert_eq!(
        v.minutes.iter().map(|w| w.incomplete).collect::<Vec<_>>(),
        [false, true, true]
    );
    assert!(v.hours[0].incomplete && v.days[0].incomplete);
}

#[test]
fn cancelling_an_unseen_order_subtracts_the_event_total_once() {
    let cfg = Config::default();
    let e = run_with(
        cfg,
        &[
            order(T0, 9, "web", "refunded", 700),
            order(T0 + 1, 9, "web", "refunded", 700),
            order(T0 + 2, 9, "web", "paid", 700),
        ],
    );
    let v = e.view().sales;
    assert_eq!(totals(&v.total), ("total", -700, 0, 1, 0));
}

#[test]
fn a_refund_of_an_unseen_order_reduces_revenue_whatever_the_sign_of_its_total() {
    // The online-retail importer writes cancellation invoices with negative
    // totals (quantities are negative in the data); webhooks write the
    // refunded amount positive. Both give money back.
    check(
        &[
            order(T0, 1, "web", "paid", 5000),
            order(T0 + S, 2, "web", "refunded", -1200),
            order(T0 + 2 * S, 3, "web", "refunded", 800),
        ],
        |v| {
            assert_eq!(totals(&v.total), ("total", 3000, 1, 2, 3000));
        },
    );
}

#[test]
fn partial_refund_reverses_only_the_amount_refunded() {
    // Regression: a refund of part of an order used to reverse the whole
    // order. GA4 and Segment refunds carry the amount given back.
    check(
        &[
            order(T0, 1, "web", "paid", 5000),
            order(T0 + M, 1, "web", "refunded", 1200),
            order(T0 + M + S, 1, "web", "refunded", -800),
        ],
        |v| {
            assert_eq!(totals(&v.total), ("total", 3000, 1, 0, 3000));
            assert_eq!(totals(&v.minutes[0].total), ("total", 5000, 1, 0, 5000));
            assert_eq!(totals(&v.minutes[1].total), ("total", -2000, 0, 0, 0));
        },
    );
}

#[test]
fn refunding_what_is_left_or_an_amount_of_zero_reverses_the_order_once() {
    check(
        &[
            order(T0, 1, "web", "paid", 5000),
            order(T0 + S, 1, "web", "refunded", 1000),
            order(T0 + 2 * S, 1, "web", "refunded", 4000),
            order(T0 + 3 * S, 1, "web", "refunded", 4000),
            order(T0, 2, "app", "paid", 3000),
            order(T0 + S, 2, "app", "refunded", 0),
            order(T0, 3, "app", "paid", 2000),
            order(T0 + S, 3, "app", "refunded", 500),
            order(T0 + 2 * S, 3, "app", "cancelled", 2000),
        ],
        |v| {
            assert_eq!(totals(&v.total), ("total", 0, 3, 3, 0));
            let by: Vec<_> = v.by_channel.iter().map(totals).collect();
            assert_eq!(by, [("app", 0, 2, 2, 0), ("web", 0, 1, 1, 0)]);
        },
    );
}
