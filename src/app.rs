//! The root component: creates the store, starts the feed and the clock,
//! provides the context and lays out the panels.

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;

use crate::feed;
use crate::state::{Sections, Store, StoreHandle};
use crate::views::behavior::BehaviorPanel;
use crate::views::health::{EmptyState, HealthStrip, Rejections};
use crate::views::inventory::InventoryPanel;
use crate::views::recs::RecsPanel;
use crate::views::sales::SalesPanel;
use crate::views::sync::SyncPanel;

/// The dashboard.
#[component]
pub fn App() -> impl IntoView {
    let store = Store::new(feed::feed_url());
    let signals = store.signals;
    provide_context(signals);
    provide_context(Sections::new(signals.view));
    provide_context(StoreHandle::new(&store));

    leptos::task::spawn_local(feed::run(Rc::clone(&store)));
    let ticker = Rc::clone(&store);
    set_interval(move || ticker.tick(), Duration::from_secs(1));

    view! {
        <HealthStrip />
        <main class="grid">
            <EmptyState />
            <Rejections />
            <BehaviorPanel />
            <InventoryPanel />
            <RecsPanel />
            <SalesPanel />
            <SyncPanel />
        </main>
    }
}
