//! Exports: CSV of a table (built from the view model, not scraped from the
//! page) and PNG of a canvas chart, downloaded through an `<a download>`.
//!
//! CSV is RFC 4180 (quoted when needed, CRLF line ends) with a UTF-8 BOM so
//! spreadsheet programs read Chinese headers right. Text cells that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first)
//! get a leading `'`: feed strings are untrusted.

use shoppulse_core::time::format_rfc3339_ms;

/// A CSV document being built.
#[derive(Debug)]
pub struct Csv(String);

/// True for a plain number (`-12`, `3.5`): written as is.
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|&b| b == b'.').count() <= 1
        && !body.starts_with('.')
        && !body.ends_with('.')
}

impl Csv {
    /// A document with a header row.
    pub fn new(headers: &[&str]) -> Csv {
        let mut c = Csv(String::from("\u{feff}"));
        c.row(headers);
        c
    }

    /// Appends one row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let cell = cell.as_ref();
            let guarded = !is_number(cell)
                && cell
                    .chars()
                    .next()
                    .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
            let text = if guarded {
                format!("'{cell}")
            } else {
                cell.to_owned()
            };
            if text.contains([',', '"', '\n', '\r']) {
                self.0.push('"');
                self.0.push_str(&text.replace('"', "\"\""));
                self.0.push('"');
            } else {
                self.0.push_str(&text);
            }
        }
        self.0.push_str("\r\n");
    }

    /// The document.
    pub fn finish(self) -> String {
        self.0
    }
}

/// A time for CSV: RFC 3339 UTC, empty for 0.
pub fn csv_time(ts_ms: i64) -> String {
    if ts_ms == 0 {
        String::new()
    } else {
        format_rfc3339_ms(ts_ms)
    }
}

/// File name `shoppulse-<what>-<YYYYMMDD-HHMMSS>.<ext>` (UTC wall clock).
pub fn file_name(what: &str, ext: &str, now_ms: i64) -> String {
    let t = format_rfc3339_ms(now_ms);
    let stamp: String = t
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .enumerate()
        .flat_map(|(i, c)| (i == 8).then_some('-').into_iter().chain([c]))
        .collect();
    format!("shoppulse-{what}-{stamp}.{ext}")
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use wasm_bindgen::JsCast;

    /// Clicks a temporary `<a download>` pointing at `href`.
    pub fn click_link(href: &str, name: &str) {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Some(a) = doc
            .create_element("a")
            .ok()
            .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        a.set_href(href);
        a.set_download(name);
        let _ = a.set_attribute("hidden", "");
        if let Some(body) = doc.body() {
            let _ = body.append_child(&a);
            a.click();
            a.remove();
        }
    }

    /// Downloads `text` as a file.
    pub fn download_text(name: &str, mime: &str, text: &str) {
        let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type(mime);
        let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
            return;
        };
        let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
            return;
        };
        click_link(&url, name);
        // Revoke once the download has started.
        let u = url.clone();
        leptos::prelude::set_timeout(
            move || {
                let _ = web_sys::Url::revoke_object_url(&u);
            },
            std::time::Duration::from_secs(30),
        );
    }

    /// Downloads a canvas as PNG.
    pub fn download_canvas(canvas: &web_sys::HtmlCanvasElement, name: &str) {
        if let Ok(url) = canvas.to_data_url_with_type("image/png") {
            click_link(&url, name);
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use browser::{download_canvas, download_text};

/// Native builds: nothing to download to.
#[cfg(not(target_arch = "wasm32"))]
pub fn download_text(_name: &str, _mime: &str, _text: &str) {}

/// Native builds: nothing to download to.
#[cfg(not(target_arch = "wasm32"))]
pub fn download_canvas(_canvas: &web_sys::HtmlCanvasElement, _name: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_guards() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(&["x,y", "say \"hi\""]);
        c.row(&["=1+1", "-12.5"]);
        c.row(&["-cmd", "@x"]);
        assert_eq!(
            c.finish(),
            "\u{feff}a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n'=1+1,-12.5\r\n'-cmd,'@x\r\n"
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            file_name("alerts", "csv", 1_630_490_400_000),
            "shoppulse-alerts-20210901-100000.csv"
        );
        assert!(is_number("0") && is_number("-3.25") && !is_number("1.2.3") && !is_number("-"));
    }
}
