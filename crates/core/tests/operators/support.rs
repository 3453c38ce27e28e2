//! Event builders and helpers shared by the operator specs.

#![allow(dead_code)] // reason: each spec module uses a different subset

use shoppulse_core::decode::decode_event;
use shoppulse_core::{Config, Engine, Event, View};

/// 2021-09-01T00:00:00Z, the default event time of the specs.
pub const T0: i64 = 1_630_454_400_000;
/// One second, minute, hour (ms).
pub const S: i64 = 1000;
/// One minute.
pub const M: i64 = 60 * S;
/// One hour.
pub const H: i64 = 60 * M;

/// Decodes one JSON event (events without `ts` get [`T0`]).
pub fn ev(json: &str) -> Event {
    decode_event(json, T0).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// An engine with `cfg` after applying `events` (JSON lines).
pub fn run_with<S: AsRef<str>>(cfg: Config, events: &[S]) -> Engine {
    let mut e = Engine::new(cfg);
    for j in events {
        e.apply(&ev(j.as_ref()));
    }
    e
}

/// An engine with the default config after applying `events`.
pub fn run<S: AsRef<str>>(events: &[S]) -> Engine {
    run_with(Config::default(), events)
}

/// The view after applying `events`.
pub fn view<S: AsRef<str>>(events: &[S]) -> View {
    run(events).view()
}

/// A behaviour event.
pub fn b(ts: i64, user: u64, action: &str, product: u64) -> String {
    format!(
        r#"{{"kind":"behavior","ts":{ts},"user":{user},"action":"{action}","product":{product}}}"#
    )
}

/// A behaviour event in a session.
pub fn bs(ts: i64, user: u64, session: &str, action: &str, product: u64) -> String {
    format!(
        r#"{{"kind":"behavior","ts":{ts},"user":{user},"session":"{session}","action":"{action}","product":{product}}}"#
    )
}

/// An inventory event.
pub fn inv(ts: i64, product: u64, qty: i64) -> String {
    format!(r#"{{"kind":"inventory","ts":{ts},"product":{product},"quantity":{qty}}}"#)
}

/// An order event in GBP without lines.
pub fn order(ts: i64, id: u64, channel: &str, status: &str, total: i64) -> String {
    order_in(ts, id, channel, status, total, "GBP")
}

/// An order event in a currency.
pub fn order_in(ts: i64, id: u64, channel: &str, status: &str, total: i64, cur: &str) -> String {
    format!(
        r#"{{"kind":"order","ts":{ts},"order":{id},"channel":"{channel}","status":"{status}","total_cents":{total},"currency":"{cur}"}}"#
    )
}

/// A new GBP order with line items `(product, qty)` for `user`.
pub fn order_lines(ts: i64, id: u64, user: u64, lines: &[(u64, i64)]) -> String {
    let items: Vec<String> = lines
        .iter()
        .map(|(p, q)| format!(r#"{{"product":{p},"quantity":{q},"unit_price_cents":100}}"#))
        .collect();
    let total: i64 = lines.iter().map(|l| l.1 * 100).sum();
    format!(
        r#"{{"kind":"order","ts":{ts},"order":{id},"channel":"web","status":"created","total_cents":{total},"currency":"GBP","user":{user},"lines":[{}]}}"#,
        items.join(",")
    )
}

/// A sync event.
pub fn sync(
    ts: i64,
    order: u64,
    channel: &str,
    target: &str,
    status: &str,
    attempt: u32,
) -> String {
    format!(
        r#"{{"kind":"sync","ts":{ts},"order":{order},"channel":"{channel}","target":"{target}","status":"{status}","attempt":{attempt}}}"#
    )
}

/// A sync event with a latency.
pub fn sync_lat(
    ts: i64,
    order: u64,
    channel: &str,
    target: &str,
    status: &str,
    latency: u64,
) -> String {
    format!(
        r#"{{"kind":"sync","ts":{ts},"order":{order},"channel":"{channel}","target":"{target}","status":"{status}","attempt":1,"latency_ms":{latency}}}"#
    )
}
