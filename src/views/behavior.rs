//! Shopper behaviour: live log, funnel, active shoppers, top products,
//! action counts.

use leptos::prelude::*;
use shoppulse_core::event::ACTION_SLOTS;
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{ActionCounts, Funnel, ProductCount};

use super::widgets::{keyed_by_content, Bar, Panel};
use crate::format::{conversion, thousands};
use crate::state::Sections;

/// The behaviour panel.
#[component]
pub fn BehaviorPanel() -> impl IntoView {
    let b = expect_context::<Sections>().behavior;
    let funnel = Memo::new(move |_| b.with(|b| b.funnel));
    let active = Memo::new(move |_| {
        b.with(|b| {
            let n = thousands(b.active_shoppers);
            if b.active_exact || b.active_shoppers == 0 {
                n
            } else {
                format!("≈{n}")
            }
        })
    });
    let top = Memo::new(move |_| b.with(|b| b.top_products.clone()));
    let counts =
        Memo::new(move |_| b.with(|b| [b.counts_1m, b.counts_5m, b.counts_1h, b.counts_total]));
    view! {
        <Panel title="Shopper behaviour" testid="behavior">
            <div class="row-figures">
                <div class="figure">
                    <span class="figure-label">"active shoppers (5 min)"</span>
                    <span class="figure-value" data-testid="active-shoppers">{move || active.get()}</span>
                </div>
            </div>
            <FunnelBars funnel=funnel />
            <h3>"Live log"</h3>
            <BehaviorLog />
            <div class="two-col">
                <div>
                    <h3>"Top products"</h3>
                    <TopProducts top=top />
                </div>
                <div>
                    <h3>"Actions"</h3>
                    <ActionTable counts=counts />
                </div>
            </div>
        </Panel>
    }
}

/// The newest-first log; each row's text is exactly the log line, with the
/// time shown through CSS from `data-time`.
#[component]
fn BehaviorLog() -> impl IntoView {
    let b = expect_context::<Sections>().behavior;
    let rows = Memo::new(move |_| b.with(|b| keyed_by_content(&b.log)));
    view! {
        <ol class="log" data-testid="behavior-log">
            <For each=move || rows.get() key=|(k, _)| *k let:((_, line))>
                <li
                    class=format!("log-line act-{}", line.action)
                    data-testid="log-line"
                    data-product-id=line.product.to_string()
                    data-user-id=line.user.to_string()
                    data-action=line.action.clone()
                    data-time=format_hms(line.ts_ms)
                >
                    {line.text.clone()}
                </li>
            </For>
        </ol>
    }
}

/// Funnel bars browse -> cart -> checkout -> purchase with step conversion.
#[component]
fn FunnelBars(
    /// Shoppers per step.
    funnel: Memo<Funnel>,
) -> impl IntoView {
    view! {
        <div class="funnel" data-testid="funnel">
            {move || {
                let f = funnel.get();
                let steps = [
                    ("browse", f.browse, f.browse),
                    ("cart", f.cart, f.browse),
                    ("checkout", f.checkout, f.cart),
                    ("purchase", f.purchase, f.checkout),
                ];
                let top = f.browse.max(1);
                let overall = conversion(f.purchase, f.browse);
                view! {
                    {steps
                        .into_iter()
                        .map(|(name, n, prev)| {
                            view! {
                                <div class="funnel-step" data-testid="funnel-step" data-step=name data-count=n.to_string()>
                                    <span class="funnel-name">{name}</span>
                                    <Bar ratio=n as f64 / top as f64 class="fill-accent" />
                                    <span class="num">{thousands(n)}</span>
                                    <span class="num muted" title="from previous step">
                                        {if name == "browse" { String::new() } else { conversion(n, prev) }}
                                    </span>
                                </div>
                            }
                        })
                        .collect_view()}
                    <div class="muted small" data-testid="funnel-conversion">
                        {format!("browse → purchase: {overall}")}
                    </div>
                }
            }}
        </div>
    }
}

/// Heavy hitters with their Space-Saving error bound.
#[component]
fn TopProducts(
    /// Most viewed/bought products.
    top: Memo<Vec<ProductCount>>,
) -> impl IntoView {
    view! {
        <ol class="rank" data-testid="top-products">
            {move || {
                top.get()
                    .into_iter()
                    .map(|p| {
                        let err = if p.error > 0 { format!(" ±{}", p.error) } else { String::new() };
                        view! {
                            <li data-product-id=p.product.to_string()>
                                <span>{format!("Product {}", p.product)}</span>
                                <span class="num">{format!("{}{err}", thousands(p.count))}</span>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ol>
    }
}

/// Action counts over 1 min / 5 min / 1 h / all time.
#[component]
fn ActionTable(
    /// `[1m, 5m, 1h, total]` counts per action.
    counts: Memo<[ActionCounts; 4]>,
) -> impl IntoView {
    view! {
        <table class="table compact" data-testid="action-counts">
            <thead>
                <tr><th>"action"</th><th>"1 m"</th><th>"5 m"</th><th>"1 h"</th><th>"all"</th></tr>
            </thead>
            <tbody>
                {move || {
                    let c = counts.get();
                    ACTION_SLOTS
                        .iter()
                        .enumerate()
                        .map(|(i, name)| {
                            view! {
                                <tr data-action=*name>
                                    <td>{*name}</td>
                                    <td class="num">{thousands(c[0][i])}</td>
                                    <td class="num">{thousands(c[1][i])}</td>
                                    <td class="num">{thousands(c[2][i])}</td>
                                    <td class="num">{thousands(c[3][i])}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}
