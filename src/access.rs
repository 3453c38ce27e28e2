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

use crate::i18n::K;
use crate::state::{ConnState, Signals, StoreHandle};
use crate::views::widgets::lang;

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

/// Asks for a viewer token while the gateway refuses the current one.
#[component]
pub fn AccessPrompt() -> impl IntoView {
    let signals = expect_context::<Signals>();
    let store = expect_context::<StoreHandle>();
    let refused = Memo::new(move |_| signals.conn.with(|c| c.state == ConnState::Unauthorized));
    let (value, set_value) = signal(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = value.get_untracked().trim().to_owned();
        if token.is_empty() {
            return;
        }
        save(&token);
        set_value.set(String::new());
        store.0.with_value(|s| s.set_token(Some(token)));
    };
    move || {
        refused.get().then(|| {
            let l = lang();
            view! {
                <form class="access" data-testid="access-form" on:submit=submit>
                    <p class="access-error" role="alert" data-testid="access-error">
                        {l.t(K::Unauthorized)}
                    </p>
                    <label>
                        {l.t(K::ViewerToken)}
                        " "
                        <input
                            type="password"
                            autocomplete="off"
                            spellcheck="false"
                            data-testid="access-token"
                            prop:value=move || value.get()
                            on:input=move |ev| set_value.set(event_target_value(&ev))
                        />
                    </label>
                    <button type="submit" data-testid="access-connect">{l.t(K::Connect)}</button>
                </form>
            }
        })
    }
}
