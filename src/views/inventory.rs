//! Stock: low stock with sparklines and projected stock-out, out of stock,
//! oversold, and the seed-style warning lines.

use leptos::prelude::*;
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{InventoryView, StockRow};
use web_sys::Element;

use super::widgets::{
    csv_click, fx, fx_throttled, lang, on_click, panel, part, set_text, sparkline_el, sub_head,
};
use crate::dom::{content_keys, drill_button, el, key_of, keyed, keyed_morph, text, KeyCache, E};
use crate::export::{csv_time, Csv};
use crate::format::{relative, thousands};
use crate::i18n::{Lang, K};
use crate::state::Sections;

/// The low-stock, out-of-stock, oversold and warning lists are redrawn at
/// most this often, ms.
const LISTS_MIN_INTERVAL_MS: f64 = 250.0;

/// "in 12 min" style stock-out projection relative to the newest event time.
pub fn stockout_text(row: &StockRow, now_ms: i64, l: Lang) -> String {
    match row.projected_stockout_ms {
        Some(at) if at <= now_ms => l.t(K::OutNowAtRate).to_owned(),
        Some(at) => l.f(
            K::OutInAt,
            &[
                &relative(at, now_ms, l),
                &format!("{:.1}", row.depletion_per_hour),
            ],
        ),
        None => l.t(K::NotDepleting).to_owned(),
    }
}

/// A core warning line in `l` (kept verbatim in English).
fn warning_text(line: &str, l: Lang) -> String {
    if l == Lang::En {
        return line.to_owned();
    }
    let product = line
        .strip_prefix("Warning: Product ")
        .and_then(|r| r.strip_suffix(" is low on stock").map(|p| (p, K::WarnLow)))
        .or_else(|| {
            line.strip_prefix("Warning: Product ")
                .and_then(|r| r.strip_suffix(" is oversold").map(|p| (p, K::WarnOversold)))
        });
    match product {
        Some((p, k)) => l.f(k, &[&p]),
        None => line.to_owned(),
    }
}

/// Every stock problem as CSV (low, out, oversold).
fn stock_csv(i: &InventoryView, l: Lang) -> String {
    let mut c = Csv::new(&[
        l.t(K::ColProduct),
        l.t(K::ColState),
        l.t(K::ColQuantity),
        l.t(K::ColThreshold),
        l.t(K::ColPerHour),
        l.t(K::ColStockout),
        l.t(K::ColUpdated),
    ]);
    for (state, rows) in [("low", &i.low), ("out", &i.out), ("oversold", &i.oversold)] {
        for r in rows {
            c.row(&[
                r.product.to_string(),
                state.to_owned(),
                r.quantity.to_string(),
                r.threshold.to_string(),
                format!("{:.2}", r.depletion_per_hour),
                r.projected_stockout_ms.map(csv_time).unwrap_or_default(),
                csv_time(r.updated_ms),
            ]);
        }
    }
    c.finish()
}

/// One low-stock product: the seed-style warning, quantity, sparkline and
/// projected stock-out.
fn low_el(row: &StockRow, eta: &str, l: Lang) -> E {
    let (li, product) = stock_li("stock-row", "low-stock-row", row);
    li.c(el("span", "stock-main").c(drill_button(
        "product",
        &product,
        &l.f(K::WarnLow, &[&product]),
    )))
    .c(text(
        "span",
        "num stock-qty",
        &l.f(K::LeftOf, &[&row.quantity, &row.threshold]),
    ))
    .c(sparkline_el(&row.history, row.threshold))
    .c(text("span", "muted small", eta).a("data-testid", "stockout-eta"))
}

/// The row of a stock list for `row` (`data-testid`, product id and
/// quantity), and the product id as text.
fn stock_li(class: &str, testid: &str, row: &StockRow) -> (E, String) {
    let id = row.product.to_string();
    let li = el("li", class)
        .a("data-testid", testid)
        .a("data-product-id", &id)
        .a("data-quantity", &row.quantity.to_string());
    (li, id)
}

/// One out-of-stock product.
fn out_el(r: &StockRow, l: Lang) -> E {
    let (li, id) = stock_li("", "out-of-stock-row", r);
    li.c(drill_button("product", &id, &l.f(K::WarnLow, &[&id])))
        .c(text("span", "tag tag-bad", l.t(K::TagOut)))
        .c(text(
            "span",
            "muted small",
            &l.f(K::Since, &[&format_hms(r.updated_ms)]),
        ))
}

/// One oversold product.
fn oversold_el(r: &StockRow, l: Lang) -> E {
    let (li, id) = stock_li("", "oversold-row", r);
    li.c(drill_button(
        "product",
        &id,
        &l.f(K::OversoldQty, &[&id, &r.quantity]),
    ))
}

/// Keys of stock rows: their products.
fn product_keys(rows: &[StockRow]) -> Vec<u64> {
    rows.iter()
        .map(|r| key_of(&r.product.to_string()))
        .collect()
}

/// The inventory panel.
pub fn inventory_panel() -> Element {
    let l = lang();
    let s = expect_context::<Sections>();
    let inv = s.inventory;
    let list = |class: &str, testid: &str, label: &str| {
        el("ul", class)
            .a("data-testid", testid)
            .a("tabindex", "0")
            .a("aria-label", label)
    };
    let root = panel(l.t(K::Inventory), "inventory", false)
        .c(el("p", "muted").a("data-testid", "inventory-summary"))
        // One container for every stock problem (low, out, oversold), so a
        // product at zero is found under `low-stock` as the seed's "low on
        // stock" warning implies.
        .c(el("div", "stock-lists")
            .a("data-testid", "low-stock")
            .c(sub_head(l.t(K::LowStock), "low-stock"))
            .c(list("rows", "low-stock-list", l.t(K::LowStock)))
            .c(el("div", "two-col")
                .c(el("div", "").c(text("h3", "", l.t(K::OutOfStock))).c(list(
                    "rows",
                    "out-of-stock",
                    l.t(K::OutOfStock),
                )))
                .c(el("div", "").c(text("h3", "", l.t(K::Oversold))).c(list(
                    "rows bad",
                    "oversold",
                    l.t(K::Oversold),
                )))))
        .c(text("h3", "", l.t(K::Warnings)))
        .c(list("rows warnings", "stock-warnings", l.t(K::Warnings)))
        .materialise();
    let summary = part(&root, "[data-testid=inventory-summary]");
    let low = part(&root, "[data-testid=low-stock-list]");
    let out = part(&root, "[data-testid=out-of-stock]");
    let oversold = part(&root, "[data-testid=oversold]");
    let warnings = part(&root, "[data-testid=stock-warnings]");
    fx(move || {
        inv.with(|i| {
            set_text(
                &summary,
                &l.f(
                    K::InvSummary,
                    &[
                        &thousands(i.tracked),
                        &thousands(i.low_count),
                        &thousands(i.out_count),
                        &thousands(i.oversold_count),
                    ],
                ),
            );
        });
    });
    // The lists are redrawn at most every LISTS_MIN_INTERVAL_MS (the
    // summary above follows every view): under a busy feed every low-stock
    // row (quantity, projection, sparkline) changed with every view, faster
    // than anyone reads, and this panel was the page's largest layout and
    // paint cost (docs/PERFORMANCE.md, *Long frames, attributed*). Each list
    // is keyed: a row keeps its node while it stays, and a new warning is
    // one insertion, not a rewrite of every line below it.
    let caches = StoredValue::new_local([(); 4].map(|()| KeyCache::new()));
    fx_throttled(
        "inventory lists",
        LISTS_MIN_INTERVAL_MS,
        move || {
            s.health.track();
            inv.track();
        },
        move || {
            let now = s.health.with_untracked(|h| h.max_event_ms);
            inv.with_untracked(|i| {
                caches.update_value(|[c_low, c_out, c_over, c_warn]| {
                    keyed_morph(c_low, &low, &product_keys(&i.low), &|k| {
                        let r = &i.low[k];
                        low_el(r, &stockout_text(r, now, l), l)
                    });
                    keyed_morph(c_out, &out, &product_keys(&i.out), &|k| {
                        out_el(&i.out[k], l)
                    });
                    keyed_morph(c_over, &oversold, &product_keys(&i.oversold), &|k| {
                        oversold_el(&i.oversold[k], l)
                    });
                    keyed(c_warn, &warnings, &content_keys(&i.warnings), &|k| {
                        text("li", "", &warning_text(&i.warnings[k], l))
                    });
                });
            });
        },
    );
    on_click(&root, move |id, e| {
        if id == "export-csv" {
            csv_click(
                e,
                &[("low-stock", &|| inv.with_untracked(|i| stock_csv(i, l)))],
            );
        }
    });
    root
}
