//! Where requests may come from.
//!
//! - **Origin** (browsers send it on WebSocket upgrades and cross-origin
//!   POSTs): allowed when it is the gateway's own origin (`http(s)://` + the
//!   request's `Host`), one of `--allow-origin`, or, when the gateway listens
//!   on loopback, a page served from this machine (`localhost`, `127.x.x.x`,
//!   `[::1]`, any port: `trunk serve` on 8080, a local proxy in front of the
//!   gateway). Anything else, `null` included, is
//!   refused: a page on another site cannot open the feed with the operator's
//!   browser (cross-site WebSocket hijacking) nor post to `/ingest`. A request
//!   without `Origin` is not from a browser page and passes (tokens still
//!   apply).
//! - **Host** (only when listening on loopback): must name this machine
//!   (`localhost`, `127.x.x.x`, `[::1]`, a single-label name) or the host of
//!   an allowed origin, so a DNS-rebinding page (evil.example resolving to
//!   127.0.0.1) cannot talk to a development gateway as if it were
//!   same-origin.

use axum::http::{header, HeaderMap};

/// The Origin/Host policy.
#[derive(Clone, Debug, Default)]
pub struct OriginPolicy {
    /// Exact origins allowed besides our own (lower case, no trailing `/`).
    allowed: Vec<String>,
    /// The gateway listens on loopback: check `Host` against loopback names
    /// and accept pages from loopback origins.
    loopback_only: bool,
}

/// Normalizes an origin for comparison: lower case, no trailing slash, and
/// the default port dropped (`http://a:80` is `http://a`).
pub fn normalize(origin: &str) -> String {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if o.starts_with(scheme) && o.ends_with(port) {
            return o[..o.len() - port.len()].to_owned();
        }
    }
    o
}

/// Checks the shape of an `--allow-origin` value.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let n = normalize(s);
    let rest = n
        .strip_prefix("http://")
        .or_else(|| n.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("expected an origin such as https://shop.example:8443, got {s:?}")
        })?;
    if rest.is_empty() || rest.contains('/') || rest.contains('*') || rest.contains('?') {
        return Err(format!(
            "expected scheme://host[:port] without path or wildcard, got {s:?}"
        ));
    }
    Ok(n)
}

/// The host part of `host[:port]` (IPv6 in brackets kept).
fn host_name(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return host_port.find(']').map_or(host_port, |i| &host_port[..=i]);
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// `localhost`, `*.localhost`, `127.x.x.x`, `[::1]`.
fn is_loopback(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h == "[::1]"
        || h.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Loopback names and addresses, and single-label names (no dot: not a
/// public DNS name an attacker could point at 127.0.0.1).
fn is_loopback_name(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    is_loopback(&h) || (!h.is_empty() && !h.contains('.') && !h.starts_with('['))
}

impl OriginPolicy {
    /// A policy over `allowed` origins (already normalized); `loopback`: the
    /// gateway listens on a loopback address (loopback origins allowed, Host
    /// checked).
    pub fn new(allowed: &[String], loopback: bool) -> OriginPolicy {
        let mut all: Vec<String> = allowed.iter().map(|o| normalize(o)).collect();
        all.sort();
        all.dedup();
        OriginPolicy {
            allowed: all,
            loopback_only: loopback,
        }
    }

    /// The allowed origins besides the gateway's own.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Is `Host` acceptable? Always, unless the gateway listens on loopback;
    /// then it must be a loopback name or an allowed origin's host.
    pub fn host_ok(&self, headers: &HeaderMap) -> bool {
        if !self.loopback_only {
            return true;
        }
        let Some(host) = headers.get(header::HOST) else {
            return true; // HTTP/1.0 without Host: not a browser page
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        let name = host_name(host.trim());
        is_loopback_name(name)
            || self.allowed.iter().any(|o| {
                o.split_once("://")
                    .is_some_and(|(_, hp)| host_name(hp).eq_ignore_ascii_case(name))
            })
    }

    /// Is the request's `Origin` acceptable? `Ok` when absent.
    pub fn origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = normalize(origin);
        if self.allowed.contains(&origin) {
            return true;
        }
        if self.loopback_only {
            let host_port = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if host_port.is_some_and(|hp| is_loopback(host_name(hp))) {
                return true;
            }
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let host = host.trim().to_ascii_lowercase();
        [format!("http://{host}"), format!("https://{host}")]
            .iter()
            .any(|own| normalize(own) == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, v.parse().unwrap());
        }
        if let Some(v) = origin {
            h.insert(header::ORIGIN, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn own_origin_and_listed_origins_pass_others_do_not() {
        let p = OriginPolicy::new(&["https://Ops.Example/".into()], false);
        assert!(p.origin_ok(&headers(Some("gw:9001"), None)));
        assert!(p.origin_ok(&headers(Some("gw:9001"), Some("http://gw:9001"))));
        assert!(p.origin_ok(&headers(Some("gw:9001"), Some("https://gw:9001"))));
        assert!(p.origin_ok(&headers(Some("gw:9001"), Some("https://ops.example"))));
        assert!(p.origin_ok(&headers(Some("gw"), Some("http://gw:80"))));
        assert!(!p.origin_ok(&headers(Some("gw:9001"), Some("https://evil.example"))));
        assert!(!p.origin_ok(&headers(Some("gw:9001"), Some("http://gw:9002"))));
        assert!(!p.origin_ok(&headers(Some("gw:9001"), Some("null"))));
        assert!(!p.origin_ok(&headers(None, Some("http://gw:9001"))));
        // Not loopback: local pages are not implied.
        assert!(!p.origin_ok(&headers(Some("gw:9001"), Some("http://localhost:8080"))));
    }

    #[test]
    fn loopback_gateways_allow_local_pages_and_check_host() {
        let p = OriginPolicy::new(&[], true);
        let local = |host: &str, origin: &str| p.origin_ok(&headers(Some(host), Some(origin)));
        assert!(local("127.0.0.1:9001", "http://localhost:8080"));
        assert!(
            local("127.0.0.1:7000", "http://127.0.0.1:9001"),
            "a local proxy"
        );
        assert!(local("127.0.0.1:9001", "https://[::1]:8443"));
        assert!(!local("127.0.0.1:9001", "http://evil.example:8080"));
        assert!(!local("127.0.0.1:9001", "http://127.0.0.1.evil.example"));
        assert!(!local("127.0.0.1:9001", "http://devbox:8080"));
        assert!(!local("127.0.0.1:9001", "null"));
        assert!(p.host_ok(&headers(Some("127.0.0.1:9001"), None)));
        assert!(p.host_ok(&headers(Some("localhost:9001"), None)));
        assert!(p.host_ok(&headers(Some("[::1]:9001"), None)));
        assert!(p.host_ok(&headers(None, None)));
        // DNS rebinding: same-origin for the browser, but not our name.
        assert!(!p.host_ok(&headers(Some("evil.example:9001"), None)));
        assert!(!p.host_ok(&headers(Some("10.0.0.1:9001"), None)));
        assert!(!p.host_ok(&headers(Some("[fe80::1]:9001"), None)));
        assert!(
            p.host_ok(&headers(Some("devbox"), None)),
            "single-label names are not public DNS"
        );
        let p = OriginPolicy::new(&["http://dev.box:9001".into()], true);
        assert!(p.host_ok(&headers(Some("dev.box:9001"), None)));
        let remote = OriginPolicy::new(&[], false);
        assert!(remote.host_ok(&headers(Some("anything.example"), None)));
    }

    #[test]
    fn allow_origin_values_are_checked() {
        assert_eq!(
            parse_origin("HTTPS://Ops.Example:443/").unwrap(),
            "https://ops.example"
        );
        assert!(parse_origin("ops.example").is_err());
        assert!(parse_origin("https://ops.example/path").is_err());
        assert!(parse_origin("https://*.example").is_err());
        assert!(parse_origin("https://").is_err());
    }
}
