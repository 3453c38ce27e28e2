//! The root component: loads the UI state, creates the store, starts the
//! feed and the clock, provides the context and lays out the panels. A
//! language switch re-renders the dashboard below the contexts (the stream,
//! settings, alerts and open panels are kept).

use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use web_sys::Element;

use crate::dom::el;
use crate::link::{Interest, Start};
use crate::state::{Store, StoreHandle};
use crate::ui::{watch_system_theme, Ui};
use crate::views::alerts::alerts_panel;
use crate::views::behavior::behavior_panel;
use crate::views::drill::{drill_panel, on_drill_click};
use crate::views::health::{empty_state, health_strip, rejections};
use crate::views::inventory::inventory_panel;
use crate::views::recs::{recs_panel, LookupQuery};
use crate::views::sales::sales_panel;
use crate::views::settings::settings_panel;
use crate::views::sync::sync_panel;
use crate::views::widgets::{fx, on, show};
use crate::{access, feed};

/// How the engine host starts, from the page's URL (`?shops=`,
/// `?encoding=`, `?bench_resume_epoch=`).
fn start_of(url: String) -> Start {
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

/// Run the operators in a Web Worker unless the page says `?worker=0`: the
/// page's thread then only draws, so frames stay short and event-to-pixel
/// latency low under a busy feed (docs/PERFORMANCE.md, *Web Worker*). If
/// the worker cannot start, the host runs on the page's thread anyway.
fn wants_worker() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        query("worker").as_deref() != Some("0")
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        false
    }
}

/// `?off=recs,sync`: panels not computed on this page load (as if turned
/// off in the settings, without saving them).
fn panels_off() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        query("off")
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// Starts the dashboard: the store, the feed, the clock and the contexts,
/// then the page (built anew on a language switch).
pub fn start() {
    let ui = Ui::load();
    if let Some(off) = panels_off() {
        ui.settings.update_untracked(|s| s.turn_off(&off));
    }
    let settings = ui.settings.get_untracked();
    let url = feed::feed_url(&settings.feed_url);
    let store = Store::new(start_of(url.clone()), wants_worker());
    store.apply_settings(&settings, url);
    store.set_token(access::load());
    let signals = store.signals;
    #[cfg(target_arch = "wasm32")]
    crate::bench::install(&store);
    let lookup = RwSignal::new(String::new());
    provide_context(ui);
    provide_context(signals);
    provide_context(store.sections);
    provide_context(StoreHandle::new(&store));
    provide_context(LookupQuery(lookup));
    watch_system_theme(ui);

    // What the page looks at beyond the view goes to the engine host, which
    // answers in `signals.extras` with every publish.
    let interested = Rc::clone(&store);
    fx(move || {
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

    // Built anew in the new language on a switch (the stream, settings,
    // alerts and open panels are kept); the effect's owner holds the old
    // page's effects, cleaned up before the new page is built.
    let shown = StoredValue::new_local(None::<Element>);
    fx(move || {
        ui.lang.track();
        let app = untrack(|| page(ui));
        match shown.get_value() {
            Some(old) => {
                let _ = old.replace_with_with_node_1(&app);
            }
            None => {
                if let Some(body) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.body())
                {
                    let _ = body.append_child(&app);
                }
            }
        }
        shown.set_value(Some(app));
    });
}

/// The page: the strip, the panels and the drawers.
fn page(ui: Ui) -> Element {
    let app = el("div", "app").materialise();
    on(&app, "click", move |ev| on_drill_click(ui, &ev));
    // Where a drawer or the token prompt goes when shown.
    let anchor = || -> web_sys::Node {
        let t: web_sys::Node = match web_sys::Text::new() {
            Ok(t) => t.into(),
            Err(_) => el("span", "").materialise().into(),
        };
        let _ = app.append_child(&t);
        t
    };
    let _ = app.append_child(&health_strip());
    let access_at = anchor();
    let refused = access::refused();
    show(
        &app,
        &access_at,
        move || refused.get(),
        access::access_prompt,
    );
    let main = el("main", "grid").materialise();
    for e in empty_state() {
        let _ = main.append_child(&e);
    }
    for e in [
        alerts_panel(),
        rejections(),
        behavior_panel(),
        inventory_panel(),
        recs_panel(),
        sales_panel(),
        sync_panel(),
    ] {
        let _ = main.append_child(&e);
    }
    let _ = app.append_child(&main);
    // Panels out of view are drawn only about once a second (state.rs, `Panel`).
    #[cfg(target_arch = "wasm32")]
    if let Some(store) = expect_context::<StoreHandle>().store() {
        store.watch_panels(&main);
    }
    let drill_at = anchor();
    drill_panel(&app, &drill_at);
    let settings_at = anchor();
    settings_panel(&app, &settings_at);
    app
}
