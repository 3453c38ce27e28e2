//! The root component: loads the UI state, creates the store, starts the
//! feed and the clock, provides the context and lays out the panels. A
//! language switch re-renders the dashboard below the contexts (the stream,
//! settings, alerts and open panels are kept).

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;

use crate::access::AccessPrompt;
use crate::link::{Interest, Start};
use crate::state::{Sections, Store, StoreHandle};
use crate::ui::{watch_system_theme, Ui};
use crate::views::alerts::AlertsPanel;
use crate::views::behavior::BehaviorPanel;
use crate::views::drill::{on_drill_click, DrillPanel};
use crate::views::health::{EmptyState, HealthStrip, Rejections};
use crate::views::inventory::InventoryPanel;
use crate::views::recs::{LookupQuery, RecsPanel};
use crate::views::sales::SalesPanel;
use crate::views::settings::SettingsPanel;
use crate::views::sync::SyncPanel;
use crate::{access, feed};

/// How the engine host starts, from the page's URL (`?shops=`,
/// `?encoding=`, `?bench_resume_epoch=`).
fn start(url: String) -> Start {
    #[cfg(target_arch = "wasm32")]
    {
        Start {
            url,
            shops: feed::page_shops(),
            bin1: feed::wants_bin1(),
            resume_epoch: query("bench_resume_epoch"),
            note: None,
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Start {
            url,
            bin1: feed::wants_bin1(),
            ..Start::default()
        }
    }
}

/// The page's query parameter `name`, if given.
#[cfg(target_arch = "wasm32")]
fn query(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
        .filter(|v| !v.is_empty())
}

/// Run the operators in a Web Worker when the page says `?worker=1` (not
/// the default yet: on this machine's first, loaded benchmark run the worker
/// applied fewer events per second than the main thread, see
/// docs/PERFORMANCE.md).
fn wants_worker() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        query("worker").as_deref() == Some("1")
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        false
    }
}

/// The dashboard.
#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::load();
    let settings = ui.settings.get_untracked();
    let url = feed::feed_url(&settings.feed_url);
    let store = Store::new(start(url.clone()), wants_worker());
    store.apply_settings(&settings, url);
    store.set_token(access::load());
    let signals = store.signals;
    #[cfg(target_arch = "wasm32")]
    crate::bench::install(&store);
    let lookup = RwSignal::new(String::new());
    provide_context(ui);
    provide_context(signals);
    provide_context(Sections::new(signals.view));
    provide_context(StoreHandle::new(&store));
    provide_context(LookupQuery(lookup));
    watch_system_theme(ui);

    // What the page looks at beyond the view goes to the engine host, which
    // answers in `signals.extras` with every publish.
    let interested = Rc::clone(&store);
    Effect::new(move |_| {
        interested.set_interest(Interest {
            lookup: lookup.with(|q| q.trim().to_owned()),
            drill: ui.drill.get(),
        });
    });
    let ticker = Rc::clone(&store);
    set_interval(move || ticker.tick(), Duration::from_secs(1));
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            ui.drill.set(None);
            ui.settings_open.set(false);
        }
    });
    on_cleanup(move || keys.remove());

    // Keyed by the language: a switch builds the dashboard anew (no diffing
    // of the old tree, so no rebuild code for it either).
    view! {
        <For each=move || [ui.lang.get()] key=|l| *l let:_lang>
            <div class="app" on:click=move |ev| on_drill_click(ui, &ev)>
                <HealthStrip />
                <AccessPrompt />
                <main class="grid">
                    <EmptyState />
                    <AlertsPanel />
                    <Rejections />
                    <BehaviorPanel />
                    <InventoryPanel />
                    <RecsPanel />
                    <SalesPanel />
                    <SyncPanel />
                </main>
                <DrillPanel />
                <SettingsPanel />
            </div>
        </For>
    }
}
