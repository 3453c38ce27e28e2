//! Benchmark and test hook: `window.__shoppulse_aggregates(products_json)`
//! returns, as a JSON string, the aggregates that the side-by-side browser
//! benchmark (`tests/bench`) and its fast correctness test
//! (`tests/e2e/sidebyside.test.mjs`) compare with FINOS Perspective and a
//! plain JavaScript implementation fed the same stream: counts per action per
//! minute, revenue per minute window per channel, the top products and the
//! latest stock of the products asked for.
//!
//! Read-only: it borrows the session briefly and never applies anything.

use serde::Serialize;
use shoppulse_core::id::Id;
use shoppulse_core::view::ActionCounts;
use shoppulse_core::Engine;

/// What the hook returns.
#[derive(Serialize, Debug, PartialEq)]
pub struct Aggregates {
    /// Events applied by the engine (snapshot included).
    pub applied: u64,
    /// Per minute of event time (window start, epoch ms): counts per action
    /// slot, in `shoppulse_core::event::ACTION_SLOTS` order (the last 60
    /// minutes the operator keeps).
    pub per_minute: Vec<(i64, ActionCounts)>,
    /// `(minute window start ms, channel, revenue in minor units)` for every
    /// channel with activity in each kept minute window.
    pub revenue: Vec<(i64, String, i64)>,
    /// Top products: `(product, weighted count, maximum overestimate)`.
    pub top: Vec<(Id, u64, u64)>,
    /// `(product, latest quantity on hand)` for each product asked for that
    /// has a known stock.
    pub stock: Vec<(Id, i64)>,
}

/// The aggregates of `engine`, with the stock of `products`.
pub fn aggregates(engine: &Engine, products: &[Id]) -> Aggregates {
    let view = engine.view();
    let revenue = view
        .sales
        .minutes
        .iter()
        .flat_map(|w| {
            w.by_channel
                .iter()
                .map(move |c| (w.start_ms, c.channel.clone(), c.revenue_cents))
        })
        .collect();
    Aggregates {
        applied: view.health.applied,
        per_minute: view.behavior.per_minute,
        revenue,
        top: view
            .behavior
            .top_products
            .into_iter()
            .map(|p| (p.product, p.count, p.error))
            .collect(),
        stock: products
            .iter()
            .filter_map(|p| engine.stock_of(p).map(|row| (p.clone(), row.quantity)))
            .collect(),
    }
}

/// The hook's answer for `products_json` (a JSON array of ids; anything
/// else asks for no stock).
pub fn aggregates_json(engine: &Engine, products_json: &str) -> String {
    let products: Vec<Id> = serde_json::from_str(products_json).unwrap_or_default();
    serde_json::to_string(&aggregates(engine, &products)).unwrap_or_default()
}

/// Installs `window.__shoppulse_aggregates(products_json)` for this page's
/// store: it returns a promise of the JSON answer, computed by the engine
/// host (in its worker, or on this thread). With `?bench_resume_epoch=EPOCH`
/// (read when the host starts) the first `hello` asks for the whole history
/// of that epoch (resume from sequence 0) instead of a snapshot, so the
/// benchmark can feed a fresh page every event the gateway holds as fast as
/// the page takes them (the same path a dashboard takes after an unreadable
/// snapshot). `window.__shoppulse_host()` says where the operators run
/// (`"worker"` or `"main"`) and `window.__shoppulse_host_memory()` the
/// worker's wasm memory in bytes (0 on the main thread).
#[cfg(target_arch = "wasm32")]
pub fn install(store: &std::rc::Rc<crate::state::Store>) {
    use leptos::prelude::GetUntracked;
    use wasm_bindgen::prelude::*;
    let page = std::rc::Rc::clone(store);
    let hook = Closure::<dyn Fn(String) -> js_sys::Promise>::new(move |products: String| {
        let page = std::rc::Rc::clone(&page);
        js_sys::Promise::new(&mut move |resolve, _reject| {
            page.aggregates(products.clone(), resolve);
        })
    });
    let signals = store.signals;
    let host = Closure::<dyn Fn() -> String>::new(move || signals.host.get_untracked().to_owned());
    let memory =
        Closure::<dyn Fn() -> f64>::new(move || signals.host_memory_bytes.get_untracked() as f64);
    if let Some(w) = web_sys::window() {
        for (name, f) in [
            ("__shoppulse_aggregates", hook.as_ref()),
            ("__shoppulse_host", host.as_ref()),
            ("__shoppulse_host_memory", memory.as_ref()),
        ] {
            let _ = js_sys::Reflect::set(&w, &JsValue::from_str(name), f);
        }
    }
    // The hooks live as long as the page.
    hook.forget();
    host.forget();
    memory.forget();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_with(lines: &[&str]) -> Engine {
        let mut e = Engine::default();
        for l in lines {
            let ev = shoppulse_core::decode_event(l, 0).expect("valid event");
            e.apply(&ev);
        }
        e
    }

    #[test]
    fn the_hook_reports_counts_per_minute_revenue_per_channel_top_products_and_stock() {
        let e = engine_with(&[
            r#"{"kind":"behavior","ts":60000,"user":1,"action":"browse","product":7}"#,
            r#"{"kind":"behavior","ts":61000,"user":1,"action":"purchase","product":7}"#,
            r#"{"kind":"behavior","ts":125000,"user":2,"action":"view","product":8}"#,
            r#"{"kind":"order","ts":62000,"order":1,"channel":"web","status":"created","total_cents":1250,"currency":"GBP"}"#,
            r#"{"kind":"order","ts":63000,"order":1,"channel":"web","status":"paid","total_cents":1250,"currency":"GBP"}"#,
            r#"{"kind":"order","ts":64000,"order":2,"channel":"app","status":"paid","total_cents":500,"currency":"GBP"}"#,
            r#"{"kind":"inventory","ts":65000,"product":7,"quantity":12}"#,
            r#"{"kind":"inventory","ts":66000,"product":7,"quantity":11}"#,
        ]);
        let a: Aggregates = aggregates(&e, &[Id::Num(7), Id::Num(8)]);
        assert_eq!(a.applied, 8);
        assert_eq!(
            a.per_minute,
            vec![(60_000, [1, 0, 0, 0, 1, 0]), (120_000, [1, 0, 0, 0, 0, 0])]
        );
        assert_eq!(
            a.revenue,
            vec![
                (60_000, "app".to_owned(), 500),
                (60_000, "web".to_owned(), 1250)
            ]
        );
        assert_eq!(a.top[0], (Id::Num(7), 6, 0));
        assert_eq!(a.stock, vec![(Id::Num(7), 11)]);
    }

    #[test]
    fn the_hook_asks_for_no_stock_when_the_product_list_is_not_json() {
        let e = engine_with(&[r#"{"kind":"inventory","ts":1,"product":7,"quantity":3}"#]);
        let json = aggregates_json(&e, "not json");
        assert!(json.contains(r#""stock":[]"#), "{json}");
    }
}
