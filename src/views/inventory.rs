//! Stock: low stock with sparklines and projected stock-out, out of stock,
//! oversold, and the seed-style warning lines.

use leptos::prelude::*;
use shoppulse_core::time::format_hms;
use shoppulse_core::view::StockRow;

use super::widgets::{keyed_by_content, Panel, Sparkline};
use crate::format::{relative, thousands};
use crate::state::Sections;

/// "in 12 min" style stock-out projection relative to the newest event time.
fn stockout_text(row: &StockRow, now_ms: i64) -> String {
    match row.projected_stockout_ms {
        Some(at) if at <= now_ms => "out of stock now at this rate".to_owned(),
        Some(at) => format!(
            "out {} at {:.1}/h",
            relative(at, now_ms),
            row.depletion_per_hour
        ),
        None => "not depleting".to_owned(),
    }
}

/// The inventory panel.
#[component]
pub fn InventoryPanel() -> impl IntoView {
    let s = expect_context::<Sections>();
    let inv = s.inventory;
    let summary = Memo::new(move |_| {
        inv.with(|i| {
            format!(
                "{} tracked · {} low · {} out · {} oversold",
                thousands(i.tracked),
                thousands(i.low_count),
                thousands(i.out_count),
                thousands(i.oversold_count)
            )
        })
    });
    let low = Memo::new(move |_| inv.with(|i| keyed_by_content(&i.low)));
    let out = Memo::new(move |_| inv.with(|i| i.out.clone()));
    let oversold = Memo::new(move |_| inv.with(|i| i.oversold.clone()));
    let warnings = Memo::new(move |_| inv.with(|i| keyed_by_content(&i.warnings)));
    let now = Memo::new(move |_| s.health.with(|h| h.max_event_ms));
    view! {
        <Panel title="Inventory" testid="inventory">
            <p class="muted" data-testid="inventory-summary">{move || summary.get()}</p>
            // One container for every stock problem (low, out, oversold), so a
            // product at zero is found under `low-stock` as the seed's
            // "low on stock" warning implies.
            <div class="stock-lists" data-testid="low-stock">
                <h3>"Low stock"</h3>
                <ul class="rows" data-testid="low-stock-list">
                    <For each=move || low.get() key=|(k, _)| *k let:((_, row))>
                        <LowStockRow row=row now=now />
                    </For>
                </ul>
                <div class="two-col">
                    <div>
                        <h3>"Out of stock"</h3>
                        <ul class="rows" data-testid="out-of-stock">
                            {move || {
                                out.get()
                                    .into_iter()
                                    .map(|r| {
                                        view! {
                                            <li data-testid="out-of-stock-row" data-product-id=r.product.to_string() data-quantity=r.quantity.to_string()>
                                                {format!("Warning: Product {} is low on stock", r.product)}
                                                <span class="tag tag-bad">"out of stock"</span>
                                                <span class="muted small">{format!(" since {}", format_hms(r.updated_ms))}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </ul>
                    </div>
                    <div>
                        <h3>"Oversold"</h3>
                        <ul class="rows bad" data-testid="oversold">
                            {move || {
                                oversold
                                    .get()
                                    .into_iter()
                                    .map(|r| {
                                        view! {
                                            <li data-testid="oversold-row" data-product-id=r.product.to_string() data-quantity=r.quantity.to_string()>
                                                {format!("Product {} oversold: quantity {}", r.product, r.quantity)}
                                            </li>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </ul>
                    </div>
                </div>
            </div>
            <h3>"Warnings"</h3>
            <ul class="rows warnings" data-testid="stock-warnings">
                <For each=move || warnings.get() key=|(k, _)| *k let:((_, line))>
                    <li>{line}</li>
                </For>
            </ul>
        </Panel>
    }
}

/// One low-stock product: the seed-style warning, quantity, sparkline and
/// projected stock-out.
#[component]
fn LowStockRow(
    /// The product's stock.
    row: StockRow,
    /// Newest event time (epoch ms): "now" for the projection.
    now: Memo<i64>,
) -> impl IntoView {
    let product = row.product.to_string();
    let quantity = row.quantity;
    let eta_row = row.clone();
    view! {
        <li class="stock-row" data-testid="low-stock-row" data-product-id=product.clone() data-quantity=quantity.to_string()>
            <span class="stock-main">{format!("Warning: Product {product} is low on stock")}</span>
            <span class="num stock-qty">{format!("{quantity} left (≤ {})", row.threshold)}</span>
            <Sparkline history=row.history threshold=row.threshold />
            <span class="muted small" data-testid="stockout-eta">
                {move || stockout_text(&eta_row, now.get())}
            </span>
        </li>
    }
}
