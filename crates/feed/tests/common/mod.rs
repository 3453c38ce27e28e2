//! Test helpers: start the real `shoppulse-feed` binary, talk HTTP over a raw
//! socket and protocol v1 over a real WebSocket client.
#![allow(dead_code)] // reason: each test binary uses a different subset of the helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shoppulse_core::frame::{ClientFrame, ResumePoint, ServerFrame, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The gateway binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_shoppulse-feed");

/// A running gateway; killed on drop.
pub struct Gateway {
    child: Child,
    /// Its bound address.
    pub addr: SocketAddr,
}

impl Gateway {
    /// Starts the binary on 127.0.0.1:0 with `args` and waits for its
    /// `listening on` line.
    pub fn start(args: &[&str]) -> Gateway {
        Gateway::start_env(args, &[])
    }

    /// Starts the binary with `args` and extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--log", "warn"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shoppulse-feed");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("gateway printed `listening on`")
            .parse()
            .expect("a socket address");
        Gateway { child, addr }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, None)
    }

    /// `POST path` with a body.
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, String) {
        http(self.addr, "POST", path, Some(body))
    }

    /// `/healthz` as JSON.
    pub fn health(&self) -> serde_json::Value {
        let (status, body) = self.get("/healthz");
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("healthz JSON")
    }

    /// The value of one integer metric sample line (`name{labels}`) in
    /// `/metrics`.
    pub fn metric(&self, sample: &str) -> u64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("metric {sample} not found in:\n{text}"))
    }

    /// WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// CPU time the process used so far, seconds (Linux `/proc`; 0 elsewhere).
    pub fn cpu_s(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the `(comm)`: utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        ticks as f64 / 100.0
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 client over a raw socket (`Connection: close`).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str("Content-Type: application/x-ndjson\r\nContent-Length: ");
        req.push_str(&b.len().to_string());
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write request");
    if let Some(b) = body {
        s.write_all(b).expect("write body");
    }
    read_response(&mut s)
}

/// An HTTP/1.1 request with extra headers (`Connection: close`).
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&[*k, ": ", *v, "\r\n"].concat());
    }
    req.push_str(&["Content-Length: ", &body.len().to_string(), "\r\n\r\n"].concat());
    s.write_all(req.as_bytes()).expect("write request");
    s.write_all(body).expect("write body");
    read_response(&mut s)
}

/// Reads a whole `Connection: close` response.
pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        body = rest.get(n + 2..).unwrap_or("");
    }
    out
}

/// A protocol v1 dashboard connection.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

/// What the first frames of a connection said.
#[derive(Debug)]
pub struct Opened {
    /// `hello.epoch`.
    pub epoch: String,
    /// `hello.head_seq`.
    pub head_seq: u64,
    /// `hello.oldest_seq`.
    pub oldest_seq: u64,
    /// `hello.encoding`: the encoding of this connection's `events` frames.
    pub encoding: Option<String>,
}

impl Client {
    /// Connects (no hello yet).
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Client { ws }
    }

    /// Connects over a socket with a tiny receive buffer (for stall tests).
    pub async fn connect_small_buffer(addr: SocketAddr) -> Client {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = sock.connect(addr).await.expect("tcp connect");
        let (ws, _) =
            tokio_tungstenite::client_async(format!("ws://{addr}/ws"), MaybeTlsStream::Plain(tcp))
                .await
                .expect("websocket handshake");
        Client { ws }
    }

    /// Sends `hello` and reads the server's `hello`.
    pub async fn hello(&mut self, resume: Option<ResumePoint>) -> Opened {
        self.hello_with(resume, None).await
    }

    /// Sends `hello` listing `encodings` and reads the server's `hello`.
    pub async fn hello_with(
        &mut self,
        resume: Option<ResumePoint>,
        encodings: Option<Vec<String>>,
    ) -> Opened {
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            resume,
            encoding: None,
            shops: None,
            encodings,
            token: None,
        };
        self.send_text(serde_json::to_string(&hello).expect("hello json"))
            .await;
        match self.frame().await {
            ServerFrame::Hello {
                protocol,
                epoch,
                head_seq,
                oldest_seq,
                encodings,
                encoding,
                ..
            } => {
                assert_eq!(protocol, PROTOCOL_VERSION);
                assert!(encodings.iter().any(|e| e == "json"));
                Opened {
                    epoch,
                    head_seq,
                    oldest_seq,
                    encoding,
                }
            }
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Sends a client heartbeat.
    pub async fn heartbeat(&mut self) {
        let hb = ClientFrame::Heartbeat { sent_ms: 0 };
        self.send_text(serde_json::to_string(&hb).expect("json"))
            .await;
    }

    /// The next server frame (10 s timeout).
    pub async fn frame(&mut self) -> ServerFrame {
        self.try_frame(Duration::from_secs(10))
            .await
            .expect("a frame before the timeout")
    }

    /// The next server frame, `None` on timeout or close.
    pub async fn try_frame(&mut self, timeout: Duration) -> Option<ServerFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Text(t)) => {
                    return Some(ServerFrame::parse(t.as_str()).expect("valid server frame"))
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Raw next message (for close-frame checks).
    pub async fn raw(&mut self, timeout: Duration) -> Option<Result<Message, String>> {
        tokio::time::timeout(timeout, self.ws.next())
            .await
            .ok()?
            .map(|r| r.map_err(|e| e.to_string()))
    }

    /// Collects `bin1` events until `last_seq` has arrived, checking that
    /// sequence numbers are consecutive from `next_seq` and that no events
    /// frame comes as JSON text. Heartbeats are answered.
    pub async fn bin1_events_until(
        &mut self,
        mut next_seq: u64,
        last_seq: u64,
    ) -> Vec<shoppulse_core::Event> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_mins(1);
        while next_seq <= last_seq {
            assert!(Instant::now() < deadline, "timed out at seq {next_seq}");
            match self.raw(Duration::from_secs(10)).await {
                Some(Ok(Message::Binary(b))) => {
                    let f = shoppulse_core::binary::Frame::parse(&b).expect("a valid bin1 frame");
                    assert_eq!(f.first_seq, next_seq, "events frames are consecutive");
                    for (seq, ev) in f.events().expect("bin1 events decode") {
                        assert_eq!(seq, next_seq);
                        next_seq += 1;
                        out.push(ev);
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    match ServerFrame::parse(t.as_str()).expect("frame") {
                        ServerFrame::Heartbeat { .. } => self.heartbeat().await,
                        other => panic!("unexpected text frame {other:?}"),
                    }
                }
                other => panic!("unexpected message {other:?}"),
            }
        }
        out
    }

    /// Collects events until `last_seq` has arrived, checking that sequence
    /// numbers are consecutive from `next_seq`. Heartbeats are answered.
    pub async fn events_until(&mut self, mut next_seq: u64, last_seq: u64) -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_mins(1);
        while next_seq <= last_seq {
            assert!(Instant::now() < deadline, "timed out at seq {next_seq}");
            match self.frame().await {
                ServerFrame::Events {
                    first_seq, events, ..
                } => {
                    assert_eq!(first_seq, next_seq, "events frames are consecutive");
                    next_seq += events.len() as u64;
                    out.extend(events.into_iter().map(|e| e.get().to_owned()));
                }
                ServerFrame::Heartbeat { .. } => self.heartbeat().await,
                other => panic!("unexpected frame {other:?}"),
            }
        }
        out
    }
}

/// A unique temporary directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "shoppulse-feed-test-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
