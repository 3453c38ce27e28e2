//! Response headers for the dashboard: Content-Security-Policy and friends.
//!
//! The policy (`default-src 'self'`, no inline script except the exact
//! loader Trunk writes into `index.html`, WebAssembly allowed, connections
//! only to this gateway and the configured feed origins) is sent with every
//! HTML response. Trunk 0.21 puts its wasm loader in an inline
//! `<script type="module">`; its SHA-256 is computed from the served
//! `index.html` (again whenever the file changes), so the page runs without
//! `'unsafe-inline'` and no other inline script can.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Loopback WebSocket origins a development dashboard may use
/// (`?feed=ws://127.0.0.1:PORT/ws`, a local proxy).
/// (CSP host sources cannot name IPv6 addresses.)
pub const LOOPBACK_FEEDS: &str =
    "ws://127.0.0.1:* ws://localhost:* wss://127.0.0.1:* wss://localhost:*";

/// The `'sha256-…'` sources of every inline `<script>` (one without `src`)
/// in `html`, in document order.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| i + at) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</script").map(|i| i + tag_end) else {
            break;
        };
        let tag = &lower[start..tag_end];
        let has_src = tag
            .split(|c: char| c.is_whitespace())
            .any(|attr| attr.starts_with("src="));
        if !has_src {
            let body = &html[tag_end + 1..close];
            let digest = Sha256::digest(body.as_bytes());
            out.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        at = close + 1;
    }
    out
}

/// Builds the policy.
pub fn policy(script_hashes: &[String], connect_extra: &[String]) -> String {
    let mut script = String::from("'self' 'wasm-unsafe-eval'");
    for h in script_hashes {
        script.push(' ');
        script.push_str(h);
    }
    let mut connect = String::from("'self'");
    for c in connect_extra {
        connect.push(' ');
        connect.push_str(c);
    }
    format!(
        "default-src 'self'; script-src {script}; connect-src {connect}; style-src 'self'; \
         img-src 'self' data: blob:; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for the served `index.html`, recomputed when its modification
/// time changes.
#[derive(Debug)]
pub struct Csp {
    index: Option<PathBuf>,
    connect_extra: Vec<String>,
    cached: Mutex<Option<(Option<SystemTime>, String)>>,
}

impl Csp {
    /// A policy for the dashboard in `dist` (none: no inline script allowed)
    /// with `connect_extra` sources added to `connect-src`.
    pub fn new(dist: Option<&Path>, connect_extra: Vec<String>) -> Csp {
        Csp {
            index: dist.map(|d| d.join("index.html")),
            connect_extra,
            cached: Mutex::new(None),
        }
    }

    /// The current header value.
    pub fn header(&self) -> String {
        let mtime = self
            .index
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok());
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, value)) = cached.as_ref() {
            if *at == mtime {
                return value.clone();
            }
        }
        let hashes = self
            .index
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|html| inline_script_hashes(&html))
            .unwrap_or_default();
        let value = policy(&hashes, &self.connect_extra);
        *cached = Some((mtime, value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts_exactly() {
        let html = "<head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script><SCRIPT>x()</SCRIPT></head>";
        let h = inline_script_hashes(html);
        assert_eq!(h.len(), 2);
        // echo -n "x()" | openssl dgst -sha256 -binary | base64
        assert_eq!(
            h[1],
            "'sha256-D6IGS8VMvCoyaR/l0h9tERrBTATY01CoPS7l6xDv0kI='"
        );
        assert!(h[0].starts_with("'sha256-") && h[0] != h[1]);
    }

    #[test]
    fn policy_has_every_directive() {
        let p = policy(&["'sha256-abc'".into()], &["wss://feed.example".into()]);
        for d in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-abc'",
            "connect-src 'self' wss://feed.example",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(p.contains(d), "{d} in {p}");
        }
        assert!(!p.contains("unsafe-inline"));
    }
}
