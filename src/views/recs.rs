//! Recommendations: trending, co-purchase pairs, per-user suggestions and a
//! per-user lookup that asks the engine (read-only).

use leptos::prelude::*;
use shoppulse_core::id::Id;
use shoppulse_core::view::UserRecs;

use super::widgets::Panel;
use crate::state::{Sections, Signals, StoreHandle};

/// The recommendations panel.
#[component]
pub fn RecsPanel() -> impl IntoView {
    let recs = expect_context::<Sections>().recs;
    let trending = Memo::new(move |_| recs.with(|r| r.trending.clone()));
    let pairs = Memo::new(move |_| recs.with(|r| r.co_purchase.clone()));
    let users = Memo::new(move |_| recs.with(|r| r.for_users.clone()));
    view! {
        <Panel title="Recommendations" testid="recommendations">
            <UserLookup />
            <div class="two-col">
                <div>
                    <h3>"Trending"</h3>
                    <ol class="rank" data-testid="trending">
                        {move || {
                            trending
                                .get()
                                .into_iter()
                                .map(|s| {
                                    view! {
                                        <li data-product-id=s.product.to_string()>
                                            <span>{format!("Product {}", s.product)}</span>
                                            <span class="num muted">{format!("{:.2}", s.score)}</span>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ol>
                </div>
                <div>
                    <h3>"Bought together"</h3>
                    <ul class="rows" data-testid="co-purchase">
                        {move || {
                            pairs
                                .get()
                                .into_iter()
                                .map(|(a, b, n)| {
                                    view! {
                                        <li data-product-a=a.to_string() data-product-b=b.to_string()>
                                            <span>{format!("Product {a} + Product {b}")}</span>
                                            <span class="num muted">{format!("{n}×")}</span>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ul>
                </div>
            </div>
            <h3>"For active shoppers"</h3>
            <ul class="rows recs-users" data-testid="user-recs">
                {move || users.get().into_iter().map(|u| view! { <UserRecsRow recs=u /> }).collect_view()}
            </ul>
        </Panel>
    }
}

/// One user's suggestions: a chip per product (each with `data-user-id` and
/// `data-product-id`) and the reasons.
#[component]
fn UserRecsRow(
    /// The user's suggestions.
    recs: UserRecs,
) -> impl IntoView {
    let user = recs.user.to_string();
    let chips = recs
        .products
        .iter()
        .map(|p| {
            view! {
                <span class="chip" data-testid="rec-product" data-user-id=user.clone() data-product-id=p.to_string()>
                    {p.to_string()}
                </span>
            }
        })
        .collect_view();
    let reasons = recs.reasons.join("; ");
    let empty = recs.products.is_empty();
    view! {
        <li class="user-recs" data-testid="user-recs-row" data-user-id=user.clone()>
            <span class="user">{format!("User {user}")}</span>
            <span class="chips">{chips}</span>
            {empty.then(|| view! { <span class="muted small">"no suggestion yet"</span> })}
            <span class="muted small reasons">{reasons}</span>
        </li>
    }
}

/// Type a user id; shows `engine.recommend_for(user)` and follows the feed.
#[component]
fn UserLookup() -> impl IntoView {
    let store = expect_context::<StoreHandle>();
    let view_sig = expect_context::<Signals>().view;
    let query = RwSignal::new(String::new());
    let result = Memo::new(move |_| {
        let q = query.get();
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        view_sig.track();
        let id = Id::from_text(q);
        store.with_engine(|e| e.recommend_for(&id))
    });
    view! {
        <div class="lookup">
            <label>
                <span class="muted small">"Suggestions for user "</span>
                <input
                    type="text"
                    inputmode="text"
                    placeholder="user id, e.g. 1"
                    data-testid="rec-user-input"
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
            </label>
            {move || {
                result
                    .get()
                    .map(|r| {
                        let user = r.user.to_string();
                        view! {
                            <ul class="rows" data-testid="rec-user-result" data-user-id=user>
                                <UserRecsRow recs=r />
                            </ul>
                        }
                    })
            }}
        </div>
    }
}
