//! Recommendations: trending, co-purchase pairs, per-user suggestions and a
//! per-user lookup that asks the engine (read-only).

use leptos::prelude::*;
use shoppulse_core::id::Id;
use shoppulse_core::view::UserRecs;
use web_sys::Element;

use super::widgets::{
    csv_click, fx, fx_throttled, lang, off_note, on, on_click, panel, part, set_value, sub_head,
    target_value,
};
use crate::dom::{button, drill_button, el, patch, text, E};
use crate::export::Csv;
use crate::i18n::{Lang, K};
use crate::state::{Sections, Signals};
use crate::ui::Ui;

/// Shortest time between two redraws of the suggestions for active
/// shoppers, ms.
const USERS_MIN_INTERVAL_MS: f64 = 1000.0;

/// A core reason ("bought with 101", "trending"...) in `l`.
pub fn reason_text(reason: &str, l: Lang) -> String {
    if l == Lang::En {
        return reason.to_owned();
    }
    if let Some(p) = reason.strip_prefix("bought with ") {
        return l.f(K::ReasonBoughtWith, &[&p]);
    }
    if let Some(p) = reason.strip_prefix("viewed with ") {
        return l.f(K::ReasonViewedWith, &[&p]);
    }
    match reason {
        "trending" => l.t(K::ReasonTrending),
        "you purchased" => l.t(K::ReasonPurchased),
        "in your cart" => l.t(K::ReasonInCart),
        "you viewed" => l.t(K::ReasonViewed),
        other => other,
    }
    .to_owned()
}

/// A user's reasons as one line: each distinct reason once, in the order
/// of the suggestions it explains, with how many it explains when more than
/// one ("viewed with 20014 ×3; you viewed"), so five suggestions from the
/// same item do not repeat its sentence five times.
fn reasons_line(reasons: &[String], l: Lang) -> String {
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    for r in reasons {
        match distinct.iter_mut().find(|(d, _)| *d == r.as_str()) {
            Some((_, n)) => *n += 1,
            None => distinct.push((r, 1)),
        }
    }
    distinct
        .iter()
        .map(|&(r, n)| {
            let t = reason_text(r, l);
            if n > 1 {
                format!("{t} ×{n}")
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A user's query text for the lookup, kept across language switches.
#[derive(Clone, Copy, Debug)]
pub struct LookupQuery(pub RwSignal<String>);

/// One user's suggestions: a chip per product (each with `data-user-id` and
/// `data-product-id`) and the reasons.
fn user_recs_el(recs: &UserRecs, l: Lang) -> E {
    let user = recs.user.to_string();
    let chips = recs
        .products
        .iter()
        .map(|p| {
            let id = p.to_string();
            button("chip", &format!("rec:{user}:{id}"), &id)
                .a("data-testid", "rec-product")
                .a("data-user-id", &user)
                .a("data-product-id", &id)
                .a("data-drill", "product")
                .a("data-drill-id", &id)
        })
        .collect();
    let reasons = reasons_line(&recs.reasons, l);
    el("li", "user-recs")
        .a("data-testid", "user-recs-row")
        .a("data-user-id", &user)
        .c(text("span", "user", &l.f(K::UserN, &[&user])))
        .c(el("span", "chips").cs(chips))
        .o(recs
            .products
            .is_empty()
            .then(|| text("span", "muted small", l.t(K::NoSuggestion))))
        .c(text("span", "muted small reasons", &reasons))
}

fn product_li(id: &Id, num: &str, l: Lang) -> E {
    let s = id.to_string();
    el("li", "")
        .a("data-product-id", &s)
        .c(drill_button("product", &s, &l.f(K::ProductN, &[&s])))
        .c(text("span", "num muted", num))
}

/// The recommendations panel.
pub fn recs_panel() -> Element {
    let l = lang();
    let recs = expect_context::<Sections>().recs;
    let trending_csv = move || {
        let mut c = Csv::new(&[l.t(K::ColProduct), l.t(K::ColScore)]);
        recs.with_untracked(|r| {
            for s in &r.trending {
                c.row(&[s.product.to_string(), format!("{:.4}", s.score)]);
            }
        });
        c.finish()
    };
    let list = |class: &str, testid: &str, label: &str| {
        el("ul", class)
            .a("data-testid", testid)
            .a("tabindex", "0")
            .a("aria-label", label)
    };
    let root = panel(l.t(K::Recommendations), "recommendations", false)
        .c(el("div", "two-col")
            .c(el("div", "")
                .c(sub_head(l.t(K::Trending), "trending"))
                .c(el("ol", "rank").a("data-testid", "trending")))
            .c(el("div", "")
                .c(text("h3", "", l.t(K::BoughtTogether)))
                .c(list("rows", "co-purchase", l.t(K::BoughtTogether)))))
        .c(text("h3", "", l.t(K::ForActive)))
        .c(list("rows recs-users", "user-recs", l.t(K::ForActive)))
        .materialise();
    let settings = expect_context::<Ui>().settings;
    off_note(&root, "recommendations-off", move || {
        settings.with(|s| !s.compute_recs)
    });
    let trend = part(&root, "[data-testid=trending]");
    let pairs = part(&root, "[data-testid=co-purchase]");
    let users = part(&root, "[data-testid=user-recs]");
    fx(move || {
        recs.with(|r| {
            patch(
                &trend,
                r.trending
                    .iter()
                    .map(|s| product_li(&s.product, &format!("{:.2}", s.score), l))
                    .collect(),
            );
            patch(
                &pairs,
                r.co_purchase
                    .iter()
                    .map(|(a, b, n)| {
                        let (a, b) = (a.to_string(), b.to_string());
                        el("li", "")
                            .a("data-product-a", &a)
                            .a("data-product-b", &b)
                            .c(drill_button("product", &a, &l.f(K::ProductN, &[&a])))
                            .t("+")
                            .c(drill_button("product", &b, &l.f(K::ProductN, &[&b])))
                            .c(text("span", "num muted", &format!("{n}×")))
                    })
                    .collect(),
            );
        });
    });
    // The active shoppers change on nearly every frame under a busy feed;
    // their rows are redrawn at most once a second so they can be read.
    fx_throttled(
        "suggestions for active shoppers",
        USERS_MIN_INTERVAL_MS,
        move || recs.track(),
        move || {
            recs.with_untracked(|r| {
                patch(
                    &users,
                    r.for_users.iter().map(|x| user_recs_el(x, l)).collect(),
                );
            });
        },
    );
    on_click(&root, move |id, e| {
        if id == "export-csv" {
            csv_click(e, &[("trending", &trending_csv)]);
        }
    });
    // The lookup comes first, after the heading.
    let h2 = root.first_element_child();
    let _ = root.insert_before(&user_lookup(), h2.and_then(|h| h.next_sibling()).as_ref());
    root
}

/// Type a user id; shows the engine's `recommend_for(user)` (asked of the
/// host through the page's interest) and follows the feed.
fn user_lookup() -> Element {
    let l = lang();
    let extras = expect_context::<Signals>().extras;
    let query = expect_context::<LookupQuery>().0;
    let root = el("div", "lookup")
        .c(el("label", "")
            .c(text("span", "muted small", l.t(K::SuggestionsFor)))
            .c(el("input", "")
                .a("type", "text")
                .a("inputmode", "text")
                .a("placeholder", l.t(K::UserIdPlaceholder))
                .a("data-testid", "rec-user-input")))
        .c(el("div", ""))
        .materialise();
    let input = part(&root, "input");
    on(&input, "input", move |ev| query.set(target_value(&ev)));
    let out = part(&root, ":scope > div");
    fx(move || {
        let q = query.get();
        set_value(&input, &q);
        let q = q.trim();
        // The host's answer for the query as typed (none while it is empty
        // or not answered yet); it follows the feed.
        extras.with(|x| {
            patch(
                &out,
                x.lookup
                    .iter()
                    .filter(|(asked, _)| !q.is_empty() && asked == q)
                    .map(|(_, r)| {
                        el("ul", "rows")
                            .a("data-testid", "rec-user-result")
                            .a("data-user-id", &r.user.to_string())
                            .c(user_recs_el(r, l))
                    })
                    .collect(),
            );
        });
    });
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reasons: &[&str], l: Lang, expected: &str) {
        let reasons: Vec<String> = reasons.iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(reasons_line(&reasons, l), expected);
    }

    #[test]
    fn each_reason_is_said_once_with_how_many_suggestions_it_explains() {
        check(
            &[
                "viewed with 20014",
                "viewed with 20014",
                "trending",
                "viewed with 20014",
                "viewed with 20028",
            ],
            Lang::En,
            "viewed with 20014 ×3; trending; viewed with 20028",
        );
        check(
            &["you purchased", "in your cart", "you viewed"],
            Lang::En,
            "you purchased; in your cart; you viewed",
        );
        check(&[], Lang::En, "");
    }

    #[test]
    fn grouped_reasons_are_translated() {
        check(
            &["bought with 101", "bought with 101"],
            Lang::Zh,
            &format!("{} ×2", reason_text("bought with 101", Lang::Zh)),
        );
    }
}
