//! Recommendations: trending, co-purchase pairs, per-user suggestions and a
//! per-user lookup that asks the engine (read-only).

use leptos::prelude::*;
use shoppulse_core::id::Id;
use shoppulse_core::view::UserRecs;

use super::widgets::{lang, Panel, SubHead};
use crate::dom::{button, drill_button, el, patch, text, E};
use crate::export::Csv;
use crate::i18n::{Lang, K};
use crate::state::{Sections, Signals};

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
    let reasons = recs
        .reasons
        .iter()
        .map(|r| reason_text(r, l))
        .collect::<Vec<_>>()
        .join("; ");
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
#[component]
pub fn RecsPanel() -> impl IntoView {
    let l = lang();
    let recs = expect_context::<Sections>().recs;
    let trending_csv = Box::new(move || {
        let mut c = Csv::new(&[l.t(K::ColProduct), l.t(K::ColScore)]);
        recs.with_untracked(|r| {
            for s in &r.trending {
                c.row(&[s.product.to_string(), format!("{:.4}", s.score)]);
            }
        });
        c.finish()
    });
    let trend_ref = NodeRef::<leptos::html::Ol>::new();
    let pairs_ref = NodeRef::<leptos::html::Ul>::new();
    let users_ref = NodeRef::<leptos::html::Ul>::new();
    Effect::new(move |_| {
        recs.with(|r| {
            if let Some(o) = trend_ref.get() {
                patch(
                    &o,
                    r.trending
                        .iter()
                        .map(|s| product_li(&s.product, &format!("{:.2}", s.score), l))
                        .collect(),
                );
            }
            if let Some(u) = pairs_ref.get() {
                patch(
                    &u,
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
            }
            if let Some(u) = users_ref.get() {
                patch(&u, r.for_users.iter().map(|x| user_recs_el(x, l)).collect());
            }
        });
    });
    view! {
        <Panel title=l.t(K::Recommendations) testid="recommendations">
            <UserLookup />
            <div class="two-col">
                <div>
                    <SubHead title=l.t(K::Trending) table="trending" csv=trending_csv />
                    <ol class="rank" data-testid="trending" node_ref=trend_ref></ol>
                </div>
                <div>
                    <h3>{l.t(K::BoughtTogether)}</h3>
                    <ul class="rows" data-testid="co-purchase" tabindex="0" aria-label=l.t(K::BoughtTogether) node_ref=pairs_ref></ul>
                </div>
            </div>
            <h3>{l.t(K::ForActive)}</h3>
            <ul class="rows recs-users" data-testid="user-recs" tabindex="0" aria-label=l.t(K::ForActive) node_ref=users_ref></ul>
        </Panel>
    }
}

/// Type a user id; shows the engine's `recommend_for(user)` (asked of the
/// host through the page's interest) and follows the feed.
#[component]
fn UserLookup() -> impl IntoView {
    let l = lang();
    let extras = expect_context::<Signals>().extras;
    let query = expect_context::<LookupQuery>().0;
    // The host's answer for the query as typed (none while it is empty or
    // not answered yet); it follows the feed.
    let result = move || {
        let q = query.get();
        let q = q.trim();
        extras.with(|x| {
            x.lookup
                .as_ref()
                .filter(|(asked, _)| !q.is_empty() && asked == q)
                .map(|(_, recs)| recs.clone())
        })
    };
    let out = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(d) = out.get() {
            let r = result();
            {
                patch(
                    &d,
                    r.iter()
                        .map(|r| {
                            el("ul", "rows")
                                .a("data-testid", "rec-user-result")
                                .a("data-user-id", &r.user.to_string())
                                .c(user_recs_el(r, l))
                        })
                        .collect(),
                );
            }
        }
    });
    view! {
        <div class="lookup">
            <label>
                <span class="muted small">{l.t(K::SuggestionsFor)}</span>
                <input
                    type="text"
                    inputmode="text"
                    placeholder=l.t(K::UserIdPlaceholder)
                    data-testid="rec-user-input"
                    prop:value=query
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </label>
            <div node_ref=out></div>
        </div>
    }
}
