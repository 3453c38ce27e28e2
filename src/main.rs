//! The `ShopPulse` dashboard: a Leptos (CSR) app that runs the operator core in the
//! browser.
//!
//! Data flows one way: [`feed`] (socket) -> [`session`] (protocol rules,
//! engine) in the engine [`host`] (a Web Worker, [`worker`], or this thread;
//! messages in [`link`]) -> at most one publish per animation frame ->
//! [`state::Store`] signals -> [`state::Sections`], drawn together or in
//! turn ([`stagger`]) -> [`views`] (read only) and [`chart`] (canvas).
//! Alongside: [`bench`] (the benchmark's read-only aggregates hook), [`alerts`] derived from each published view, [`pause`] (the
//! queue while the view is paused), [`settings`], [`i18n`] (every label),
//! [`format`] (numbers, money, dates per language), [`export`] (CSV, PNG).

pub mod access;
pub mod alerts;
pub mod app;
pub mod bench;
pub mod chart;
pub mod dom;
pub mod export;
pub mod feed;
pub mod format;
pub mod host;
pub mod i18n;
pub mod link;
#[cfg(target_arch = "wasm32")]
pub mod notify;
pub mod overload;
pub mod pause;
pub mod prefs;
pub mod session;
pub mod settings;
#[cfg(target_arch = "wasm32")]
pub mod socket;
pub mod stagger;
pub mod state;
pub mod ui;
pub mod views;
#[cfg(target_arch = "wasm32")]
pub mod worker;

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        if worker::in_worker() {
            // The same module, started by worker.js: the engine host.
            worker::serve();
            return;
        }
        // The static "loading" placeholder of index.html gives way to the app.
        if let Some(boot) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("boot"))
        {
            boot.remove();
        }
        leptos::mount::mount_to_body(app::start);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("shoppulse is a browser app: build it with `trunk build --release`");
    }
}
