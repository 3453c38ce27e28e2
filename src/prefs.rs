//! Remembered preferences: a thin wrapper over `localStorage` (a map in
//! native builds, for tests). Keys are prefixed `shoppulse.`.

/// Storage key of the settings (JSON).
pub const SETTINGS: &str = "shoppulse.settings";
/// Storage key of the language (`en`, `zh-CN`).
pub const LANG: &str = "shoppulse.lang";
/// Storage key of the theme (`light`, `dark`); absent: follow the system.
pub const THEME: &str = "shoppulse.theme";

#[cfg(target_arch = "wasm32")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The stored value of `key`.
#[cfg(target_arch = "wasm32")]
pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Stores `value` under `key` (ignored when storage is unavailable, e.g.
/// private mode with storage disabled).
#[cfg(target_arch = "wasm32")]
pub fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static MAP: std::cell::RefCell<std::collections::HashMap<String, String>> =
        std::cell::RefCell::default();
}

/// The stored value of `key`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load(key: &str) -> Option<String> {
    MAP.with(|m| m.borrow().get(key).cloned())
}

/// Stores `value` under `key`.
#[cfg(not(target_arch = "wasm32"))]
pub fn save(key: &str, value: &str) {
    MAP.with(|m| m.borrow_mut().insert(key.to_owned(), value.to_owned()));
}
