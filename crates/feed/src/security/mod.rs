//! Security controls of the gateway (threat model and tests:
//! `docs/SECURITY.md`).
//!
//! - [`tokens`]: viewer and ingest tokens, checked in constant time (the
//!   webhook endpoints check their senders' own secrets, docs/SOURCES.md).
//! - [`origin`]: the `Origin` allow-list (cross-site WebSocket hijacking,
//!   cross-site posts) and the loopback `Host` check (DNS rebinding).
//! - [`limits`]: WebSocket connections per IP, ingest events/s per token.
//! - [`headers`]: Content-Security-Policy and other response headers.
//! - [`tls`]: rustls on the listener.
//! - [`counters`]: every refusal, counted in `/metrics`.
//!
//! [`guard`] is a middleware over every route; `/ws` calls
//! [`Security::admit_ws`] before upgrading and checks the hello's token with
//! [`Security::check_viewer`].

pub mod counters;
pub mod headers;
pub mod limits;
pub mod origin;
pub mod tls;
pub mod tokens;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clap::Args;
use serde_json::json;
use tracing::{info, warn};

use self::counters::Refusal;
use self::headers::Csp;
use self::limits::{ConnLimiter, ConnSlot, RateLimiter};
use self::origin::OriginPolicy;
use self::tokens::{Access, Denied, Principal, Role};
use crate::hub::Hub;
use crate::server::App;

/// Security options of the gateway.
#[derive(Args, Clone, Default)]
pub struct SecurityArgs {
    /// File of access tokens: lines `viewer TOKEN` / `ingest TOKEN` (`#`
    /// comments), or JSON `{"viewer":[…],"ingest":[…]}`. With any token
    /// configured, `/ws` needs a viewer token and `/ingest` an ingest token.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// A viewer token (repeatable; also `SHOPPULSE_VIEWER_TOKENS`, comma
    /// separated). Prefer --tokens or the variable: flags show in `ps`.
    #[arg(long = "viewer-token", value_name = "TOKEN")]
    pub viewer_tokens: Vec<String>,
    /// An ingest token (repeatable; also `SHOPPULSE_INGEST_TOKENS`).
    #[arg(long = "ingest-token", value_name = "TOKEN")]
    pub ingest_tokens: Vec<String>,
    /// Allow a --listen address beyond loopback (needed for 0.0.0.0 or a
    /// LAN address); warns loudly when no token is configured.
    #[arg(long)]
    pub allow_remote: bool,
    /// Also accept WebSocket upgrades and ingest posts from this browser
    /// origin (repeatable), e.g. `https://ops.example`. The gateway's own
    /// origin is always accepted, and on loopback any page served from this
    /// machine (`trunk serve`, a local proxy).
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = origin::parse_origin)]
    pub allow_origins: Vec<String>,
    /// Another feed the served dashboard may connect to (`?feed=`), added to
    /// the Content-Security-Policy's connect-src (repeatable), e.g.
    /// `wss://feed.example:9443`.
    #[arg(long = "feed-origin", value_name = "ORIGIN", value_parser = parse_feed_origin)]
    pub feed_origins: Vec<String>,
    /// Most open WebSocket connections from one IP address (0: no limit);
    /// more get 429.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub max_conns_per_ip: u32,
    /// Most ingested events per second per ingest token (per client IP when
    /// no token is configured); over it, 429 with Retry-After. 0: no limit.
    #[arg(long, default_value_t = 0.0, value_name = "EVENTS_PER_S", value_parser = parse_non_negative)]
    pub ingest_rate: f64,
    /// Events a token may send at once before --ingest-rate paces it
    /// (default: one second's worth).
    #[arg(long, value_name = "EVENTS", value_parser = parse_non_negative)]
    pub ingest_burst: Option<f64>,
    /// Serve HTTPS and WSS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl fmt::Debug for SecurityArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityArgs")
            .field("tokens", &self.tokens)
            .field("viewer_tokens", &self.viewer_tokens.len())
            .field("ingest_tokens", &self.ingest_tokens.len())
            .field("allow_remote", &self.allow_remote)
            .field("allow_origins", &self.allow_origins)
            .field("feed_origins", &self.feed_origins)
            .field("max_conns_per_ip", &self.max_conns_per_ip)
            .field("ingest_rate", &self.ingest_rate)
            .field("ingest_burst", &self.ingest_burst)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

fn parse_non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("expected a number >= 0, got {s:?}")),
    }
}

fn parse_feed_origin(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let ok = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|p| t.len() > p.len() && t.to_ascii_lowercase().starts_with(p));
    if !ok || t.contains(char::is_whitespace) || t.contains(';') || t.contains(',') {
        return Err(format!(
            "expected an origin such as wss://feed.example:9443, got {s:?}"
        ));
    }
    Ok(t.to_owned())
}

/// Who a rate limit applies to.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RateKey {
    /// An ingest token.
    Token(usize),
    /// A client address (no tokens configured).
    Ip(IpAddr),
}

/// Request extension set by [`guard`] on admitted ingest requests: the
/// handler charges the events it sequenced with [`Security::charge_ingest`].
#[derive(Clone, Debug)]
pub struct IngestClient(pub RateKey);

/// The security configuration, shared by the handlers.
#[derive(Debug)]
pub struct Security {
    /// Tokens.
    pub access: Access,
    /// Origin / Host policy.
    pub origins: OriginPolicy,
    /// WebSocket connections per IP.
    pub conns: Arc<ConnLimiter>,
    /// Ingest rate per token.
    pub ingest_rate: RateLimiter<RateKey>,
    /// The dashboard's Content-Security-Policy.
    pub csp: Csp,
    /// TLS, when configured.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Default for Security {
    fn default() -> Self {
        Security::open()
    }
}

/// Paths that push events: cross-site posts are refused on all of them.
/// `/ingest` needs an ingest token when tokens are configured; the
/// `/webhooks/*` endpoints authenticate each sender with its own secret
/// (HMAC signatures, see docs/SOURCES.md) and answer 401 themselves.
pub fn is_ingest_path(path: &str) -> bool {
    path == "/ingest" || path.starts_with("/webhooks/")
}

impl Security {
    /// No tokens, loopback policy, default limits (tests and development).
    pub fn open() -> Security {
        Security {
            access: Access::open(),
            origins: OriginPolicy::new(&[], true),
            conns: ConnLimiter::new(0),
            ingest_rate: RateLimiter::new(0.0, 1.0),
            csp: Csp::new(None, vec![headers::LOOPBACK_FEEDS.to_owned()]),
            tls: None,
        }
    }

    /// Builds the configuration from the flags and the environment, and
    /// refuses unsafe combinations (a non-loopback --listen without
    /// --allow-remote). Tokens are read but never logged.
    pub fn from_args(
        args: &SecurityArgs,
        listen: SocketAddr,
        dist: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Security, Vec<String>), String> {
        let mut warnings = Vec::new();
        let loopback = listen.ip().is_loopback();
        if !loopback && !args.allow_remote {
            return Err(format!(
                "--listen {listen} is reachable from other machines: add --allow-remote to mean it \
                 (and configure tokens: --tokens FILE), or listen on 127.0.0.1"
            ));
        }
        let mut access = Access::open();
        if let Some(path) = &args.tokens {
            if let Some(w) = access.add_file(path)? {
                warnings.push(w);
            }
        }
        for t in &args.viewer_tokens {
            access.add(Role::Viewer, t, "--viewer-token")?;
        }
        for t in &args.ingest_tokens {
            access.add(Role::Ingest, t, "--ingest-token")?;
        }
        if let Some(list) = env(tokens::VIEWER_ENV) {
            access.add_list(Role::Viewer, &list, tokens::VIEWER_ENV)?;
        }
        if let Some(list) = env(tokens::INGEST_ENV) {
            access.add_list(Role::Ingest, &list, tokens::INGEST_ENV)?;
        }
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(c), Some(k)) => Some(tls::load_config(c, k)?),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let mut connect = args.feed_origins.clone();
        if loopback {
            connect.push(headers::LOOPBACK_FEEDS.to_owned());
        }
        let burst = args.ingest_burst.unwrap_or(args.ingest_rate).max(1.0);
        let sec = Security {
            access,
            origins: OriginPolicy::new(&args.allow_origins, loopback),
            conns: ConnLimiter::new(args.max_conns_per_ip),
            ingest_rate: RateLimiter::new(args.ingest_rate, burst),
            csp: Csp::new(dist, connect),
            tls,
        };
        if !sec.access.enabled() && !loopback {
            warnings.push(format!(
                "NO ACCESS TOKENS and listening on {listen}: anyone who can reach this address \
                 can read the feed and ingest events. Configure --tokens FILE."
            ));
        }
        if sec.access.enabled() && !loopback && sec.tls.is_none() {
            warnings.push(
                "tokens travel in clear text without TLS: use --tls-cert/--tls-key or a TLS \
                 reverse proxy (docs/SECURITY.md)"
                    .into(),
            );
        }
        for role in [Role::Viewer, Role::Ingest] {
            if sec.access.enabled() && sec.access.count(role) == 0 {
                warnings.push(format!(
                    "no {} token configured: every {} request will be refused",
                    role.as_str(),
                    match role {
                        Role::Viewer => "dashboard",
                        Role::Ingest => "ingest",
                    }
                ));
            }
        }
        Ok((sec, warnings))
    }

    /// Logs what is enforced (never a token).
    pub fn log_summary(&self, warnings: &[String]) {
        if self.access.enabled() {
            info!(
                viewer_tokens = self.access.count(Role::Viewer),
                ingest_tokens = self.access.count(Role::Ingest),
                "access: tokens required (viewer for /ws, ingest for /ingest; webhooks by their own secrets)"
            );
        } else {
            info!("access: OPEN, no token configured (development mode; loopback only unless --allow-remote)");
        }
        info!(
            tls = self.tls.is_some(),
            max_conns_per_ip = self.conns.max(),
            ingest_rate = self.ingest_rate.rate(),
            allowed_origins = ?self.origins.allowed(),
            "security controls"
        );
        for w in warnings {
            warn!("{w}");
        }
    }

    /// Checks a `/ws` upgrade before it happens: Origin, then the per-IP
    /// connection limit. The slot must live as long as the connection.
    #[allow(clippy::result_large_err)] // reason: the error is the response to send, built once
    pub fn admit_ws(
        self: &Arc<Self>,
        hub: &Hub,
        headers: &HeaderMap,
        ip: IpAddr,
    ) -> Result<ConnSlot, Response> {
        if !self.origins.origin_ok(headers) {
            hub.metrics.security.add(Refusal::Origin);
            warn!(origin = ?headers.get(header::ORIGIN), "WebSocket from a foreign origin refused");
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "this page's origin may not open the feed (--allow-origin)",
            ));
        }
        self.conns.try_acquire(ip).ok_or_else(|| {
            hub.metrics.security.add(Refusal::ConnsPerIp);
            warn!(%ip, max = self.conns.max(), "too many connections from one address");
            let mut r = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                &format!(
                    "at most {} open connections per address (--max-conns-per-ip)",
                    self.conns.max()
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        })
    }

    /// Checks the token of a `/ws` hello; counts a refusal.
    pub fn check_viewer(&self, hub: &Hub, token: Option<&str>) -> Result<Principal, Denied> {
        self.access.check(Role::Viewer, token).inspect_err(|_| {
            hub.metrics.security.add(Refusal::WsUnauthorized);
        })
    }

    /// Charges an ingest client for the events it sent.
    pub fn charge_ingest(&self, client: Option<&IngestClient>, events: u64) {
        if let Some(c) = client {
            self.ingest_rate.charge(&c.0, events, Instant::now());
        }
    }
}

/// A JSON refusal `{"error": code, "message": …}`.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn unauthorized(denied: Denied, role: Role) -> Response {
    let mut r = refusal(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        &denied.message(role),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"shoppulse\""),
    );
    r
}

/// The middleware over every route: Host check; Origin check on the paths
/// that push events, and on `/ingest` the ingest token and rate admission; a token for `/metrics`
/// when tokens are configured, and the security headers on every response.
pub async fn guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let sec = &app.security;
    let metrics = &app.hub.metrics;
    if !sec.origins.host_ok(req.headers()) {
        metrics.security.add(Refusal::Host);
        return with_headers(
            sec,
            refusal(
                StatusCode::FORBIDDEN,
                "forbidden_host",
                "this gateway listens on loopback and answers only to localhost names",
            ),
        );
    }
    let path = req.uri().path().to_owned();
    if is_ingest_path(&path) && req.method() != Method::GET {
        if !sec.origins.origin_ok(req.headers()) {
            metrics.security.add(Refusal::Origin);
            return with_headers(
                sec,
                refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden_origin",
                    "cross-site posts are refused (--allow-origin)",
                ),
            );
        }
        // A webhook's handler checks its sender's own secret instead.
        let key = if path == "/ingest" {
            match sec
                .access
                .check(Role::Ingest, tokens::bearer(req.headers()))
            {
                Ok(Principal::Token(_, n)) => Some(RateKey::Token(n)),
                Ok(Principal::Open) => peer_ip(&req).map(RateKey::Ip),
                Err(denied) => {
                    metrics.security.add(Refusal::IngestUnauthorized);
                    warn!(%path, reason = denied.as_str(), "ingest refused: no valid ingest token");
                    return with_headers(sec, unauthorized(denied, Role::Ingest));
                }
            }
        } else {
            None
        };
        if let Some(key) = key {
            if let Err(wait) = sec.ingest_rate.admit(&key, Instant::now()) {
                metrics.security.add(Refusal::IngestRate);
                let secs = wait.as_secs_f64().ceil().max(1.0);
                let mut r = refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    &format!(
                        "over {} events/s (--ingest-rate); retry in {secs} s",
                        sec.ingest_rate.rate()
                    ),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("{secs}")) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return with_headers(sec, r);
            }
            req.extensions_mut().insert(IngestClient(key));
        }
    } else if path == "/metrics" && sec.access.enabled() {
        let token = tokens::bearer(req.headers());
        let ok = sec.access.check(Role::Viewer, token).is_ok()
            || sec.access.check(Role::Ingest, token).is_ok();
        if !ok {
            metrics.security.add(Refusal::MetricsUnauthorized);
            return with_headers(
                sec,
                unauthorized(
                    if token.is_some() {
                        Denied::Invalid
                    } else {
                        Denied::Missing
                    },
                    Role::Viewer,
                ),
            );
        }
    }
    let resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        metrics.security.add(Refusal::BodyTooLarge);
    }
    with_headers(sec, resp)
}

fn with_headers(sec: &Security, mut resp: Response) -> Response {
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    if is_html {
        if let Ok(v) = HeaderValue::from_str(&sec.csp.header()) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if sec.tls.is_some() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> SecurityArgs {
        SecurityArgs::default()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn remote_listen_needs_allow_remote_and_warns_without_tokens() {
        let remote: SocketAddr = "0.0.0.0:9001".parse().unwrap();
        let e = Security::from_args(&args(), remote, None, no_env).unwrap_err();
        assert!(e.contains("--allow-remote"), "{e}");
        let a = SecurityArgs {
            allow_remote: true,
            ..args()
        };
        let (sec, warnings) = Security::from_args(&a, remote, None, no_env).unwrap();
        assert!(!sec.access.enabled());
        assert!(
            warnings.iter().any(|w| w.contains("NO ACCESS TOKENS")),
            "{warnings:?}"
        );
    }

    #[test]
    fn loopback_without_tokens_is_open_and_quiet() {
        let lo: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let (sec, warnings) = Security::from_args(&args(), lo, None, no_env).unwrap();
        assert!(!sec.access.enabled());
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn tokens_from_flags_and_environment() {
        let lo: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let a = SecurityArgs {
            viewer_tokens: vec!["flag-viewer-0123456789".into()],
            ..args()
        };
        let env = |k: &str| {
            (k == tokens::INGEST_ENV).then(|| "env-ingest-0123456789,env-ingest-9876543210".into())
        };
        let (sec, warnings) = Security::from_args(&a, lo, None, env).unwrap();
        assert_eq!(sec.access.count(Role::Viewer), 1);
        assert_eq!(sec.access.count(Role::Ingest), 2);
        assert!(warnings.is_empty(), "{warnings:?}");
        let a = SecurityArgs {
            viewer_tokens: vec!["short".into()],
            ..args()
        };
        assert!(Security::from_args(&a, lo, None, no_env).is_err());
        let a = SecurityArgs {
            ingest_tokens: vec!["ingest-only-0123456789".into()],
            ..args()
        };
        let (_, warnings) = Security::from_args(&a, lo, None, no_env).unwrap();
        assert!(
            warnings.iter().any(|w| w.contains("no viewer token")),
            "{warnings:?}"
        );
    }

    #[test]
    fn args_debug_hides_tokens() {
        let a = SecurityArgs {
            viewer_tokens: vec!["flag-viewer-0123456789".into()],
            ..args()
        };
        let d = format!("{a:?}");
        assert!(!d.contains("flag-viewer"), "{d}");
    }

    #[test]
    fn feed_origins_are_checked() {
        assert_eq!(
            parse_feed_origin("wss://feed.example:9443/").unwrap(),
            "wss://feed.example:9443"
        );
        assert!(parse_feed_origin("feed.example").is_err());
        assert!(parse_feed_origin("wss://a; script-src *").is_err());
    }

    #[test]
    fn ingest_paths() {
        assert!(is_ingest_path("/ingest"));
        assert!(is_ingest_path("/webhooks/segment"));
        assert!(!is_ingest_path("/ingestx"));
        assert!(!is_ingest_path("/ws"));
    }
}
