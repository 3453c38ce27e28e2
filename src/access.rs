//! The viewer token: where the dashboard keeps it and the prompt that asks
//! for it.
//!
//! A gateway with tokens refuses a dashboard whose `hello` carries no valid
//! viewer token (`error` `unauthorized`). The dashboard then stops
//! reconnecting, shows "unauthorized — check the token" and this prompt. The
//! token entered is sent in the next `hello` (never in a URL, never logged)
//! and kept in `sessionStorage`: it survives reloads of the tab, is gone when
//! the tab closes, and is not shared with other tabs. A refused token is
//! forgotten at once.

use leptos::prelude::*;
use web_sys::Element;

use crate::dom::{el, text};
use crate::i18n::K;
use crate::state::{ConnState, Signals, StoreHandle};
use crate::views::widgets::{lang, on, part, set_value, value_of};

/// `sessionStorage` key of the token.
pub const STORAGE_KEY: &str = "shoppulse.token";

#[cfg(target_arch = "wasm32")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The token kept for this tab, if any.
pub fn load() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        storage()?
            .get_item(STORAGE_KEY)
            .ok()
            .flatten()
            .filter(|t| !t.is_empty())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

/// Keeps `token` for this tab.
pub fn save(token: &str) {
    #[cfg(target_arch = "wasm32")]
    if let Some(s) = storage() {
        let _ = s.set_item(STORAGE_KEY, token);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = token;
}

/// Forgets the kept token (it was refused).
pub fn forget() {
    #[cfg(target_arch = "wasm32")]
    if let Some(s) = storage() {
        let _ = s.remove_item(STORAGE_KEY);
    }
}

/// Whether the gateway refuses the current token (the prompt is shown
/// while it does).
pub fn refused() -> Memo<bool> {
    let signals = expect_context::<Signals>();
    Memo::new(move |_| signals.conn.with(|c| c.state == ConnState::Unauthorized))
}

/// The prompt for a viewer token, shown while the gateway refuses the
/// current one (see [`refused`]).
pub fn access_prompt() -> Element {
    let l = lang();
    let store = expect_context::<StoreHandle>();
    let form = el("form", "access")
        .a("data-testid", "access-form")
        .c(text("p", "access-error", l.t(K::Unauthorized))
            .a("role", "alert")
            .a("data-testid", "access-error"))
        .c(el("label", "")
            .t(l.t(K::ViewerToken))
            .t(" ")
            .c(el("input", "")
                .a("type", "password")
                .a("autocomplete", "off")
                .a("spellcheck", "false")
                .a("data-testid", "access-token")))
        .c(text("button", "", l.t(K::Connect))
            .a("type", "submit")
            .a("data-testid", "access-connect"))
        .materialise();
    let input = part(&form, "input");
    on(&form, "submit", move |ev| {
        ev.prevent_default();
        let token = value_of(&input).trim().to_owned();
        if token.is_empty() {
            return;
        }
        save(&token);
        set_value(&input, "");
        store.0.with_value(|s| s.set_token(Some(token)));
    });
    form
}
