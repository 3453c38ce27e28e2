//! Security controls of the real `shoppulse-feed` binary, over real HTTP,
//! WebSocket and TLS connections (docs/SECURITY.md lists each control with
//! its test here).

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use sha2::Digest as _;
use shoppulse_core::frame::{ClientFrame, ServerFrame, Token, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

const VIEWER: &str = "viewer-0123456789abcdef";
const INGEST: &str = "ingest-0123456789abcdef";
const EVENT: &[u8] = b"{\"product_id\": 7, \"quantity\": 3}\n";

/// A gateway whose stderr (the logs) is kept for inspection.
struct Gw {
    child: Child,
    addr: SocketAddr,
    scheme: String,
    logs: Arc<Mutex<String>>,
}

impl Gw {
    fn start(args: &[&str]) -> Gw {
        Gw::start_env(args, &[])
    }

    fn start_env(args: &[&str], env: &[(&str, &str)]) -> Gw {
        let mut cmd = Command::new(common::BIN);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(["--log", "debug"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("SHOPPULSE_VIEWER_TOKENS")
            .env_remove("SHOPPULSE_INGEST_TOKENS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start shoppulse-feed");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().expect("log buffer");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "gateway did not start: {}",
                    logs.lock().expect("log buffer")
                )
            });
        let (scheme, addr) = url.split_once("://").expect("scheme://addr");
        Gw {
            child,
            addr: addr.parse().expect("a socket address"),
            scheme: scheme.to_owned(),
            logs,
        }
    }

    fn logs(&self) -> String {
        self.logs.lock().expect("log buffer").clone()
    }

    /// The logs once they hold `needle` (or after 5 s): stderr is read by
    /// another thread, so a line written before `listening on` may arrive
    /// after it (regression: `NO ACCESS TOKENS` missed at load 4).
    fn logs_with(&self, needle: &str) -> String {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if logs.contains(needle) || std::time::Instant::now() > until {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(self.addr, method, path, headers, body)
    }

    /// One sample of `/metrics`, read with a viewer token.
    fn metric(&self, sample: &str) -> u64 {
        let r = self.request(
            "GET",
            "/metrics",
            &[("Authorization", &bearer(VIEWER))],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        metric_in(&r.body, sample)
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric_in(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(sample)
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("metric {sample} not in:\n{text}"))
}

fn refused(reason: &str) -> String {
    format!("shoppulse_feed_refused_total{{reason=\"{reason}\"}}")
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn parse_response(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Resp {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn raw_request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Plain HTTP/1.1 with `Connection: close`; a `Host` in `headers` replaces
/// the default one.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or_else(|| addr.to_string(), |(_, v)| (*v).to_owned());
    let rest: Vec<_> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .copied()
        .collect();
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    s.write_all(&raw_request(&host, method, path, &rest, body))
        .expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` with extra request headers; `Err(status)` when the upgrade is
/// refused.
async fn ws_open(url: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut req = url.into_client_request().expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket connect: {e}"),
    }
}

fn hello(token: Option<&str>) -> Message {
    let h = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        resume: None,
        encoding: None,
        shops: None,
        encodings: None,
        token: token.map(Token::new),
    };
    Message::Text(serde_json::to_string(&h).expect("json").into())
}

/// What the gateway did after a hello: greeted, or refused with an error
/// code and a close code.
#[derive(Debug, PartialEq)]
enum Greeting {
    Hello,
    Refused { code: String, close: Option<u16> },
}

async fn greet<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, token: Option<&str>) -> Greeting
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(hello(token)).await.expect("send hello");
    let mut code = String::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer in time");
        match msg {
            Some(Ok(Message::Text(t))) => match ServerFrame::parse(t.as_str()).expect("frame") {
                ServerFrame::Hello { .. } => return Greeting::Hello,
                ServerFrame::Error { code: c, .. } => code = c,
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Message::Close(frame))) => {
                return Greeting::Refused {
                    code,
                    close: frame.map(|f| u16::from(f.code)),
                }
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Greeting::Refused { code, close: None },
        }
    }
}

fn unauthorized() -> Greeting {
    Greeting::Refused {
        code: "unauthorized".into(),
        close: Some(u16::from(CloseCode::Policy)),
    }
}

fn with_tokens() -> Vec<&'static str> {
    vec!["--viewer-token", VIEWER, "--ingest-token", INGEST]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_needs_a_viewer_token_in_the_hello() {
    let gw = Gw::start(&with_tokens());
    for (token, why) in [
        (None, "no token"),
        (Some("viewer-0123456789abcdeX"), "a wrong token"),
        (Some(INGEST), "an ingest token"),
    ] {
        let mut ws = ws_open(&gw.ws_url(), &[]).await.expect("upgrade");
        assert_eq!(greet(&mut ws, token).await, unauthorized(), "{why}");
    }
    let mut ws = ws_open(&gw.ws_url(), &[]).await.expect("upgrade");
    assert_eq!(greet(&mut ws, Some(VIEWER)).await, Greeting::Hello);
    assert_eq!(gw.metric(&refused("ws_unauthorized")), 3);
    let logs = gw.logs_with("unauthorized");
    assert!(logs.contains("unauthorized"), "refusals are logged");
    for secret in [VIEWER, INGEST, "viewer-0123456789abcdeX"] {
        assert!(
            !logs.contains(secret),
            "a token leaked into the logs:\n{logs}"
        );
    }
}

#[test]
fn ingest_needs_an_ingest_token_and_webhooks_their_secret() {
    let segment_secret = "segment-secret-0123456789";
    let mut args = with_tokens();
    args.extend(["--segment-secret", segment_secret]);
    let gw = Gw::start(&args);
    let post = |path: &str, auth: Option<&str>| {
        let h = auth.map(bearer);
        let headers: Vec<(&str, &str)> = h.iter().map(|v| ("Authorization", v.as_str())).collect();
        gw.request("POST", path, &headers, EVENT)
    };
    let r = post("/ingest", None);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.json()["error"], "unauthorized");
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    let r = post("/ingest", Some(VIEWER));
    assert_eq!(r.status, 401, "a viewer token cannot ingest");
    assert_eq!(r.json()["message"], "a viewer token cannot ingest");
    let r = post("/ingest", Some("ingest-0123456789abcdeX"));
    assert_eq!(r.status, 401);
    let r = post("/ingest", Some(INGEST));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["accepted"], 1);
    assert_eq!(gw.metric(&refused("ingest_unauthorized")), 3);
    // Webhooks: the sender's own secret, not an ingest token (docs/SOURCES.md).
    let segment = br#"{"type":"track","event":"Product Viewed","userId":"u1","messageId":"m1","timestamp":"2026-11-22T10:00:00Z","properties":{"product_id":"p1"}}"#;
    for auth in [None, Some(INGEST), Some(VIEWER)] {
        let h = auth.map(bearer);
        let headers: Vec<(&str, &str)> = h.iter().map(|v| ("Authorization", v.as_str())).collect();
        let r = gw.request("POST", "/webhooks/segment", &headers, segment);
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
    }
    let r = gw.request(
        "POST",
        "/webhooks/segment",
        &[("Authorization", &bearer(segment_secret))],
        segment,
    );
    assert_eq!(r.status, 200, "{r:?}");
    // /metrics needs a token too (of either role).
    let r = gw.request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 401);
    let r = gw.request(
        "GET",
        "/metrics",
        &[("Authorization", &bearer(INGEST))],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(gw.metric(&refused("metrics_unauthorized")), 1);
    let logs = gw.logs();
    assert!(!logs.contains(VIEWER) && !logs.contains(INGEST), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_come_from_a_file_or_the_environment() {
    let dir = common::temp_dir("tokens");
    let file = dir.join("tokens");
    std::fs::write(
        &file,
        format!("# ShopPulse access\nviewer {VIEWER}\ningest {INGEST}\n"),
    )
    .unwrap();
    let gw = Gw::start(&["--tokens", file.to_str().unwrap()]);
    let mut ws = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut ws, Some(VIEWER)).await, Greeting::Hello);
    let r = gw.request(
        "POST",
        "/ingest",
        &[("Authorization", &bearer(INGEST))],
        EVENT,
    );
    assert_eq!(r.status, 200);
    drop(gw);

    let other = "env-viewer-0123456789abcdef";
    let gw = Gw::start_env(
        &[],
        &[("SHOPPULSE_VIEWER_TOKENS", &format!("{VIEWER},{other}"))],
    );
    let mut ws = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut ws, Some(other)).await, Greeting::Hello);
    let mut ws = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut ws, None).await, unauthorized());
    // No ingest token configured while viewer tokens are: ingest is closed.
    let r = gw.request("POST", "/ingest", &[], EVENT);
    assert_eq!(r.status, 401);
    let logs = gw.logs_with("no ingest token configured");
    assert!(logs.contains("no ingest token configured"), "{logs}");

    // A bad token file stops the gateway with a clear message.
    std::fs::write(&file, "viewer short\n").unwrap();
    let out = Command::new(common::BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && err.contains("shorter than 16"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_the_loopback_gateway_is_open_and_says_so() {
    let gw = Gw::start(&[]);
    let mut ws = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut ws, None).await, Greeting::Hello);
    assert_eq!(gw.request("POST", "/ingest", &[], EVENT).status, 200);
    let logs = gw.logs_with("access: OPEN");
    assert!(logs.contains("access: OPEN"), "{logs}");
}

#[test]
fn listening_beyond_loopback_needs_allow_remote_and_warns_without_tokens() {
    let out = Command::new(common::BIN)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
    let gw = Gw::start(&["--listen", "0.0.0.0:0", "--allow-remote"]);
    let logs = gw.logs_with("NO ACCESS TOKENS");
    assert!(logs.contains("NO ACCESS TOKENS"), "{logs}");
    let gw = Gw::start(&[
        "--listen",
        "0.0.0.0:0",
        "--allow-remote",
        "--viewer-token",
        VIEWER,
    ]);
    // Warnings are logged together: once this one is there, all are.
    let logs = gw.logs_with("clear text without TLS");
    assert!(!logs.contains("NO ACCESS TOKENS"), "{logs}");
    assert!(logs.contains("clear text without TLS"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_origins_and_foreign_hosts_are_refused() {
    let gw = Gw::start(&["--allow-origin", "https://ops.example"]);
    let own = format!("http://{}", gw.addr);
    for origin in [own.as_str(), "http://localhost:8080", "https://ops.example"] {
        let mut ws = ws_open(&gw.ws_url(), &[("Origin", origin)])
            .await
            .unwrap_or_else(|s| {
                panic!("{origin} refused with {s}");
            });
        assert_eq!(greet(&mut ws, None).await, Greeting::Hello, "{origin}");
    }
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example:8080",
    ] {
        let refused_with = ws_open(&gw.ws_url(), &[("Origin", origin)]).await.err();
        assert_eq!(refused_with, Some(403), "{origin}");
    }
    // Cross-site form posts to /ingest (no preflight) are refused too.
    let r = gw.request(
        "POST",
        "/ingest",
        &[("Origin", "https://evil.example")],
        EVENT,
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "forbidden_origin");
    assert_eq!(gw.metric(&refused("origin")), 4);
    // DNS rebinding: evil.example resolving to 127.0.0.1 makes the page
    // same-origin, but the Host is not this machine's name.
    let r = gw.request("GET", "/healthz", &[("Host", "evil.example:9001")], b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "forbidden_host");
    let r = gw.request("GET", "/healthz", &[("Host", "localhost:9001")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(gw.metric(&refused("host")), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_are_limited() {
    let gw = Gw::start(&["--max-conns-per-ip", "2"]);
    let mut a = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut a, None).await, Greeting::Hello);
    let mut b = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut b, None).await, Greeting::Hello);
    assert_eq!(
        ws_open(&gw.ws_url(), &[]).await.err(),
        Some(429),
        "a third is refused"
    );
    // Closing one gives its slot back.
    a.close(None).await.unwrap();
    drop(a);
    let mut c = None;
    for _ in 0..50 {
        if let Ok(ws) = ws_open(&gw.ws_url(), &[]).await {
            c = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c = c.expect("a slot came back after a close");
    assert_eq!(greet(&mut c, None).await, Greeting::Hello);
    assert!(gw.metric(&refused("conns_per_ip")) >= 1);
}

#[test]
fn ingest_is_rate_limited_per_token() {
    let second = "ingest-second-0123456789";
    let gw = Gw::start(&[
        "--viewer-token",
        VIEWER,
        "--ingest-token",
        INGEST,
        "--ingest-token",
        second,
        "--ingest-rate",
        "20",
        "--ingest-burst",
        "50",
    ]);
    let body: Vec<u8> = EVENT.repeat(50);
    let auth = bearer(INGEST);
    let r = gw.request("POST", "/ingest", &[("Authorization", &auth)], &body);
    assert_eq!(r.status, 200, "the burst passes");
    let head = r.json()["last_seq"].as_u64().unwrap();
    let r = gw.request("POST", "/ingest", &[("Authorization", &auth)], EVENT);
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.json()["error"], "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "retry after {retry} s");
    // Nothing of the refused request was sequenced.
    let h = gw.request("GET", "/healthz", &[], b"").json();
    assert_eq!(h["head_seq"].as_u64().unwrap(), head);
    // Another token has its own bucket.
    let r = gw.request(
        "POST",
        "/ingest",
        &[("Authorization", &bearer(second))],
        EVENT,
    );
    assert_eq!(r.status, 200);
    assert_eq!(gw.metric(&refused("ingest_rate")), 1);
    // After the wait, the first token may send again.
    std::thread::sleep(Duration::from_secs(retry));
    let r = gw.request("POST", "/ingest", &[("Authorization", &auth)], EVENT);
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_and_bodies_are_refused_and_counted() {
    let gw = Gw::start(&["--max-body", "1KiB"]);
    let mut ws = ws_open(&gw.ws_url(), &[]).await.unwrap();
    assert_eq!(greet(&mut ws, None).await, Greeting::Hello);
    let big = format!(
        r#"{{"type":"heartbeat","sent_ms":0,"pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    let _ = ws.send(Message::Text(big.into())).await;
    let mut close = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match msg {
            Ok(Message::Close(f)) => {
                close = f.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(close, Some(1009), "closed as too big");
    let r = gw.request("POST", "/ingest", &[], &EVENT.repeat(100));
    assert_eq!(r.status, 413);
    assert_eq!(gw.metric(&refused("message_too_large")), 1);
    assert_eq!(gw.metric(&refused("body_too_large")), 1);
}

#[test]
fn dashboard_files_carry_the_content_security_policy() {
    let dir = common::temp_dir("csp");
    let loader = "\nimport init from '/app.js';\nawait init();\n";
    std::fs::write(
        dir.join("index.html"),
        format!("<!doctype html><html><head><script type=\"module\">{loader}</script></head><body></body></html>"),
    )
    .unwrap();
    let gw = Gw::start(&[
        "--dist",
        dir.to_str().unwrap(),
        "--feed-origin",
        "wss://feed.example:9443",
    ]);
    let r = gw.request("GET", "/", &[], b"");
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("a CSP header");
    // The loader's exact hash, as a browser computes it.
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(loader));
    assert!(
        csp.contains(&format!(
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}'"
        )),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' wss://feed.example:9443 ws://127.0.0.1:*"),
        "{csp}"
    );
    for d in [
        "default-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(d), "{d} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
    // SPA fallback paths get the same policy.
    let r = gw.request("GET", "/some/view", &[], b"");
    assert!(r.header("content-security-policy").is_some());
    // A rebuilt index.html is picked up.
    std::fs::write(
        dir.join("index.html"),
        "<html><head><script>other()</script></head></html>",
    )
    .unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join("index.html"))
        .unwrap();
    f.set_modified(later).unwrap();
    let csp2 = gw
        .request("GET", "/", &[], b"")
        .header("content-security-policy")
        .unwrap();
    assert_ne!(csp, csp2, "new loader, new hash");
    let _ = std::fs::remove_dir_all(dir);
}

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    (cert, key, ck.cert.der().to_vec())
}

fn tls_connector(der: Vec<u8>) -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_https_and_wss_with_tokens() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = common::temp_dir("tls");
    let (cert, key, der) = self_signed(&dir);
    let mut args = with_tokens();
    args.extend([
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let gw = Gw::start(&args);
    assert_eq!(gw.scheme, "https", "the gateway announces https");
    let connector = tls_connector(der);
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // HTTPS: /healthz over TLS, HSTS set.
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut tls = connector
        .connect(name.clone(), tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(&raw_request("localhost", "GET", "/healthz", &[], b""))
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let r = parse_response(&raw);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("strict-transport-security").is_some());

    // WSS with a viewer token: hello answered.
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let tls = connector.connect(name.clone(), tcp).await.unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", gw.addr.port()), tls)
            .await
            .expect("wss upgrade");
    assert_eq!(greet(&mut ws, Some(VIEWER)).await, Greeting::Hello);

    // Plain HTTP to the TLS port gets nothing and is counted.
    let mut plain = TcpStream::connect(gw.addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let _ = plain.write_all(&raw_request("localhost", "GET", "/healthz", &[], b""));
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("\"ok\""),
        "no plain-text answer"
    );
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(&raw_request(
        "localhost",
        "GET",
        "/metrics",
        &[("Authorization", &bearer(VIEWER))],
        b"",
    ))
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let r = parse_response(&raw);
    assert!(metric_in(&r.body, "shoppulse_feed_tls_handshake_failures_total") >= 1);
    let _ = std::fs::remove_dir_all(dir);
}
