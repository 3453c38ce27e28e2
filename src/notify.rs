//! Optional browser notifications for new alerts (Notification API), only
//! when the operator turned them on and the browser granted permission.

use web_sys::{Notification, NotificationOptions, NotificationPermission};

use crate::alerts::AlertRow;
use crate::i18n::{Lang, K};
use crate::prefs;
use crate::views::alerts::alert_text;

/// Notifications are granted for this site.
pub fn granted() -> bool {
    Notification::permission() == NotificationPermission::Granted
}

/// Notifications are blocked for this site.
pub fn denied() -> bool {
    Notification::permission() == NotificationPermission::Denied
}

/// Asks for permission (call from a user gesture).
pub fn request() {
    let _ = Notification::request_permission();
}

/// One notification per raised row (at most three at once; the rest are in
/// the panel).
pub fn show(rows: &[AlertRow]) {
    if !granted() {
        return;
    }
    let lang = prefs::load(prefs::LANG).map_or(Lang::En, |t| Lang::parse(&t));
    for r in rows.iter().take(3) {
        let opts = NotificationOptions::new();
        opts.set_body(&alert_text(r, lang));
        opts.set_tag(&format!("shoppulse-{}-{}", r.kind.key(), r.subject));
        let _ =
            Notification::new_with_options(&format!("ShopPulse · {}", lang.t(K::Alerts)), &opts);
    }
}
