//! Dashboard-side UI state (not the stream's): language, theme, settings,
//! the open drill-down and panels. Remembered in `localStorage`.

use std::rc::Rc;

use leptos::prelude::*;
use shoppulse_core::event::Target;
use shoppulse_core::id::Id;

use crate::i18n::Lang;
use crate::prefs;
use crate::settings::Settings;
use crate::state::Store;

/// Colour theme.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Theme {
    /// Light background.
    Light,
    /// Dark background.
    Dark,
}

impl Theme {
    /// `data-theme` value and storage value.
    pub fn key(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The other theme.
    #[must_use]
    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

/// What the drill-down panel shows.
#[derive(Clone, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
pub enum Drill {
    /// A product: stock, depletion, sparkline, what sells with it.
    Product(Id),
    /// A sync cell: its failed and stuck orders.
    Cell(String, Target),
    /// An order: its sync timeline.
    Order(Id),
}

/// The UI signals, provided as context (all `Copy`).
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// Language (changing it re-renders the dashboard).
    pub lang: RwSignal<Lang>,
    /// Theme in force.
    pub theme: RwSignal<Theme>,
    /// The operator's settings (saved ones).
    pub settings: RwSignal<Settings>,
    /// Open drill-down.
    pub drill: RwSignal<Option<Drill>>,
    /// The settings panel is open.
    pub settings_open: RwSignal<bool>,
}

impl Ui {
    /// Loads the remembered language, theme and settings.
    pub fn load() -> Ui {
        let lang = prefs::load(prefs::LANG).map_or_else(browser_lang, |t| Lang::parse(&t));
        let theme = match prefs::load(prefs::THEME).as_deref() {
            Some("light") => Theme::Light,
            Some("dark") => Theme::Dark,
            _ => system_theme(),
        };
        let settings = prefs::load(prefs::SETTINGS)
            .map(|t| Settings::from_text(&t))
            .unwrap_or_default();
        apply_lang(lang);
        apply_theme(theme);
        Ui {
            lang: RwSignal::new(lang),
            theme: RwSignal::new(theme),
            settings: RwSignal::new(settings),
            drill: RwSignal::new(None),
            settings_open: RwSignal::new(false),
        }
    }

    /// The language, untracked (views re-render as a whole on a change).
    pub fn l(self) -> Lang {
        self.lang.get_untracked()
    }

    /// Switches the language and remembers it.
    pub fn set_lang(self, lang: Lang) {
        prefs::save(prefs::LANG, lang.code());
        apply_lang(lang);
        self.lang.set(lang);
    }

    /// Switches the theme and remembers the choice.
    pub fn toggle_theme(self) {
        let t = self.theme.get_untracked().other();
        prefs::save(prefs::THEME, t.key());
        apply_theme(t);
        self.theme.set(t);
    }

    /// Follows the system theme while the operator has not chosen one.
    pub fn follow_system(self, dark: bool) {
        if prefs::load(prefs::THEME).is_none() {
            let t = if dark { Theme::Dark } else { Theme::Light };
            apply_theme(t);
            self.theme.set(t);
        }
    }

    /// Saves validated settings, remembers them and applies them to the store.
    pub fn save_settings(self, store: &Rc<Store>, s: Settings) {
        prefs::save(prefs::SETTINGS, &s.to_text());
        store.apply_settings(&s, crate::feed::feed_url(&s.feed_url));
        self.settings.set(s);
    }

    /// Changes one setting that needs no validation (chart window, shown
    /// channels) and saves.
    pub fn update_settings(self, store: &Rc<Store>, f: impl FnOnce(&mut Settings)) {
        let mut s = self.settings.get_untracked();
        f(&mut s);
        self.save_settings(store, s);
    }
}

#[cfg(target_arch = "wasm32")]
fn browser_lang() -> Lang {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .map_or(Lang::En, |t| Lang::parse(&t))
}

#[cfg(not(target_arch = "wasm32"))]
fn browser_lang() -> Lang {
    Lang::En
}

#[cfg(target_arch = "wasm32")]
fn dark_query() -> Option<web_sys::MediaQueryList> {
    web_sys::window()?
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
}

#[cfg(target_arch = "wasm32")]
fn system_theme() -> Theme {
    if dark_query().is_some_and(|q| q.matches()) {
        Theme::Dark
    } else {
        Theme::Light
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn system_theme() -> Theme {
    Theme::Dark
}

#[cfg(target_arch = "wasm32")]
fn root() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.document_element()
}

#[cfg(target_arch = "wasm32")]
fn apply_lang(lang: Lang) {
    if let Some(r) = root() {
        let _ = r.set_attribute("lang", lang.code());
    }
}

#[cfg(target_arch = "wasm32")]
fn apply_theme(t: Theme) {
    if let Some(r) = root() {
        let _ = r.set_attribute("data-theme", t.key());
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn apply_lang(_: Lang) {}

#[cfg(not(target_arch = "wasm32"))]
fn apply_theme(_: Theme) {}

/// Calls `ui.follow_system` whenever the system theme changes.
#[cfg(target_arch = "wasm32")]
pub fn watch_system_theme(ui: Ui) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Some(q) = dark_query() else { return };
    let q2 = q.clone();
    let cb = Closure::<dyn Fn()>::new(move || ui.follow_system(q2.matches()));
    let _ = q.add_event_listener_with_callback("change", cb.as_ref().unchecked_ref());
    cb.forget(); // lives as long as the page
}

/// Native builds have no system theme.
#[cfg(not(target_arch = "wasm32"))]
pub fn watch_system_theme(_: Ui) {}
