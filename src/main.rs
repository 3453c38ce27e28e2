//! The `ShopPulse` dashboard: a Leptos (CSR) app that runs the operator core in the
//! browser.
//!
//! Data flows one way: [`feed`] (socket) -> [`session`] (protocol rules,
//! engine) via [`state::Store`] -> one view per animation frame ->
//! [`state::Sections`] memos -> [`views`] (read only) and [`chart`] (canvas).

pub mod app;
pub mod chart;
pub mod feed;
pub mod format;
pub mod session;
pub mod state;
pub mod views;

fn main() {
    #[cfg(target_arch = "wasm32")]
    {
        console_error_panic_hook::set_once();
        leptos::mount::mount_to_body(app::App);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("shoppulse is a browser app: build it with `trunk build --release`");
    }
}
