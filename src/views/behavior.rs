//! Shopper behaviour: live log, funnel, active shoppers, top products,
//! action counts.

use leptos::prelude::*;
use shoppulse_core::event::ACTION_SLOTS;
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{ActionCounts, BehaviorView, Funnel, LogLine, ProductCount};
use web_sys::Element;

use super::widgets::{
    csv_click, figure, fx, fx_throttled, lang, on_click, panel, part, set_text, sub_head, Slot,
};
use crate::dom::{content_keys, drill_button, el, keyed, patch, text, KeyCache, E};
use crate::export::Csv;
use crate::format::{conversion, thousands};
use crate::i18n::{Lang, K};
use crate::state::Sections;

/// Lines of the live log in the page: about five times what its box shows
/// (the core keeps `Config::log_len`, 200, which the CSV export gives).
const LOG_SHOWN: usize = 60;

/// Shortest time between two rewrites of the live log, ms.
const LOG_MIN_INTERVAL_MS: f64 = 250.0;

/// Display name of an action slot.
pub fn action_name(slot: usize, l: Lang) -> &'static str {
    l.t(match slot {
        0 => K::ActBrowse,
        1 => K::ActAddToCart,
        2 => K::ActRemove,
        3 => K::ActCheckout,
        4 => K::ActPurchase,
        _ => K::ActOther,
    })
}

/// The log line in `l`: the core's own English sentence, or the Chinese one
/// built from its parts.
pub fn log_text(line: &LogLine, l: Lang) -> String {
    if l == Lang::En {
        return line.text.clone();
    }
    let k = match line.action.as_str() {
        "browse" => K::LogBrowse,
        "add_to_cart" => K::LogAdd,
        "remove_from_cart" => K::LogRemove,
        "checkout" => K::LogCheckout,
        "purchase" => K::LogPurchase,
        _ => K::LogOther,
    };
    l.f(k, &[&line.user, &line.product, &line.action])
}

fn log_el(line: &LogLine, l: Lang) -> E {
    let product = line.product.to_string();
    text(
        "li",
        &format!("log-line act-{}", line.action),
        &log_text(line, l),
    )
    .a("data-testid", "log-line")
    .a("data-product-id", &product)
    .a("data-user-id", &line.user.to_string())
    .a("data-action", &line.action)
    .a("data-time", &format_hms(line.ts_ms))
    .a("data-drill", "product")
    .a("data-drill-id", &product)
}

/// A horizontal bar filled to `ratio` (0..=1).
pub fn bar_el(ratio: f64, class: &str) -> E {
    let pct = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0) * 100.0
    } else {
        0.0
    };
    el("div", "bar").c(el("div", &format!("bar-fill {class}")).css("width", &format!("{pct:.1}%")))
}

fn funnel_els(f: Funnel, l: Lang) -> Vec<E> {
    let steps = [
        ("browse", K::StepBrowse, f.browse, f.browse),
        ("cart", K::StepCart, f.cart, f.browse),
        ("checkout", K::StepCheckout, f.checkout, f.cart),
        ("purchase", K::StepPurchase, f.purchase, f.checkout),
    ];
    let top = f.browse.max(1);
    let mut out: Vec<E> = steps
        .into_iter()
        .map(|(name, k, n, prev)| {
            el("div", "funnel-step")
                .a("data-testid", "funnel-step")
                .a("data-step", name)
                .a("data-count", &n.to_string())
                .c(text("span", "funnel-name", l.t(k)))
                .c(bar_el(n as f64 / top as f64, "fill-accent"))
                .c(text("span", "num", &thousands(n)))
                .c(text(
                    "span",
                    "num muted",
                    &if name == "browse" {
                        String::new()
                    } else {
                        conversion(n, prev)
                    },
                )
                .a("title", l.t(K::FromPrevious)))
        })
        .collect();
    out.push(
        text(
            "div",
            "muted small",
            &l.f(K::BrowseToPurchase, &[&conversion(f.purchase, f.browse)]),
        )
        .a("data-testid", "funnel-conversion"),
    );
    out
}

fn top_els(top: &[ProductCount], l: Lang) -> Vec<E> {
    top.iter()
        .map(|p| {
            let id = p.product.to_string();
            let err = if p.error > 0 {
                format!(" ±{}", p.error)
            } else {
                String::new()
            };
            el("li", "")
                .a("data-product-id", &id)
                .c(drill_button("product", &id, &l.f(K::ProductN, &[&id])))
                .c(text("span", "num", &format!("{}{err}", thousands(p.count))))
        })
        .collect()
}

fn counts_els(c: &[ActionCounts; 4], l: Lang) -> Vec<E> {
    ACTION_SLOTS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (0..4).fold(
                el("tr", "")
                    .a("data-action", name)
                    .c(text("td", "", action_name(i, l))),
                |tr, w| tr.c(text("td", "num", &thousands(c[w][i]))),
            )
        })
        .collect()
}

/// The behaviour panel.
#[allow(clippy::too_many_lines)] // reason: one panel, laid out top to bottom
pub fn behavior_panel() -> Element {
    let l = lang();
    let b = expect_context::<Sections>().behavior;
    let counts_of = |b: &BehaviorView| [b.counts_1m, b.counts_5m, b.counts_1h, b.counts_total];
    let top_csv = move || {
        let mut c = Csv::new(&[l.t(K::ColProduct), l.t(K::ColCount), l.t(K::ColError)]);
        b.with_untracked(|b| {
            for p in &b.top_products {
                c.row(&[
                    p.product.to_string(),
                    p.count.to_string(),
                    p.error.to_string(),
                ]);
            }
        });
        c.finish()
    };
    let counts_csv = move || {
        let mut c = Csv::new(&[
            l.t(K::ColAction),
            l.t(K::Col1m),
            l.t(K::Col5m),
            l.t(K::Col1h),
            l.t(K::ColAll),
        ]);
        let k = b.with_untracked(counts_of);
        for (i, name) in ACTION_SLOTS.iter().enumerate() {
            c.row(&[
                (*name).to_owned(),
                k[0][i].to_string(),
                k[1][i].to_string(),
                k[2][i].to_string(),
                k[3][i].to_string(),
            ]);
        }
        c.finish()
    };
    let log = Slot::new();
    let cache = StoredValue::new_local(KeyCache::new());
    // The live log is rewritten at most every LOG_MIN_INTERVAL_MS (the
    // figures around it still follow every frame): at thousands of events
    // per second it changed every frame, faster than anyone reads, and its
    // layout and paint were the largest share of the page's rendering.
    fx_throttled(
        "live log",
        LOG_MIN_INTERVAL_MS,
        move || b.track(),
        move || {
            let Some(ol) = log.get() else {
                return;
            };
            b.with_untracked(|b| {
                let shown = &b.log[..b.log.len().min(LOG_SHOWN)];
                let keys = content_keys(shown);
                cache.update_value(|c| keyed(c, &ol, &keys, &|i| log_el(&shown[i], l)));
            });
        },
    );
    let root = panel(l.t(K::Behaviour), "behavior", false)
        .c(el("div", "row-figures").c(figure(l.t(K::ActiveShoppers), "active-shoppers")))
        .c(el("div", "funnel").a("data-testid", "funnel"))
        .c(text("h3", "", l.t(K::LiveLog)))
        .c(el("ol", "log")
            .a("data-testid", "behavior-log")
            .a("tabindex", "0")
            .a("aria-label", l.t(K::LiveLog))
            .a("data-empty", l.t(K::NoActivity)))
        .c(el("div", "two-col")
            .c(el("div", "")
                .c(sub_head(l.t(K::TopProducts), "top-products"))
                .c(el("ol", "rank").a("data-testid", "top-products")))
            .c(el("div", "").c(sub_head(l.t(K::Actions), "actions")).c(el(
                "table",
                "table compact",
            )
            .a("data-testid", "action-counts")
            .c(
                el("thead", "").c([K::ColAction, K::Col1m, K::Col5m, K::Col1h, K::ColAll]
                    .into_iter()
                    .fold(el("tr", ""), |tr, k| {
                        tr.c(text("th", "", l.t(k)).a("scope", "col"))
                    })),
            )
            .c(el("tbody", "")))))
        .materialise();
    log.find(&root, "[data-testid=behavior-log]");
    let active = part(&root, "[data-testid=active-shoppers]");
    let funnel = part(&root, "[data-testid=funnel]");
    let top = part(&root, "[data-testid=top-products]");
    let counts = part(&root, "tbody");
    // One effect for the rest of the section: the diff makes the parts
    // that did not change cheap, and an effect costs wasm.
    fx(move || {
        b.with(|b| {
            let n = thousands(b.active_shoppers);
            set_text(
                &active,
                &if b.active_exact || b.active_shoppers == 0 {
                    n
                } else {
                    format!("≈{n}")
                },
            );
            patch(&funnel, funnel_els(b.funnel, l));
            patch(&top, top_els(&b.top_products, l));
            patch(&counts, counts_els(&counts_of(b), l));
        });
    });
    on_click(&root, move |id, e| {
        if id == "export-csv" {
            csv_click(e, &[("top-products", &top_csv), ("actions", &counts_csv)]);
        }
    });
    root
}
