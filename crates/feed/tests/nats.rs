//! Scale-out on NATS `JetStream`, end to end: a real `nats-server` with
//! `JetStream` on a free loopback port, real `shoppulse-feed` gateways with
//! `--nats`, real WebSocket clients.
//!
//! The tests need `nats-server` (installed by `scripts/setup.sh` into
//! `.tools/bin`; `NATS_SERVER` overrides the path). Without it they print why
//! and pass without running, unless `SHOPPULSE_REQUIRE_NATS` is set (as
//! `scripts/test.sh` does): then a missing `nats-server` fails them.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_with, Client, Gateway};
use shoppulse_core::frame::{covered_last_seq, event_seq, ResumePoint, ServerFrame};
use shoppulse_core::Engine;

const STREAM: &str = "SHOPTEST";

// ---------------------------------------------------------------- nats-server

/// The `nats-server` binary, when installed.
fn nats_server_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/nats-server");
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    })
}

/// A `nats-server -js` on a loopback port with file storage; killed on drop.
struct Nats {
    child: Option<Child>,
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
}

impl Nats {
    /// Starts on a free port, or `None` (with a message) when `nats-server`
    /// is not installed.
    fn start(test: &str) -> Option<Nats> {
        let Some(bin) = nats_server_bin() else {
            assert!(
                std::env::var_os("SHOPPULSE_REQUIRE_NATS").is_none(),
                "{test}: nats-server not found and SHOPPULSE_REQUIRE_NATS is set (run scripts/setup.sh, or set NATS_SERVER)"
            );
            eprintln!(
                "SKIPPED {test}: nats-server not found (run scripts/setup.sh, or set NATS_SERVER)"
            );
            return None;
        };
        let dir = common::temp_dir(&format!("nats-{test}"));
        let mut n = Nats {
            child: None,
            bin,
            port: 0,
            dir,
        };
        n.spawn(None);
        Some(n)
    }

    fn spawn(&mut self, port: Option<u16>) {
        let ports_dir = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir).expect("ports dir");
        let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let child = Command::new(&self.bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &port_arg,
                "--ports_file_dir",
            ])
            .arg(&ports_dir)
            .arg("-sd")
            .arg(self.dir.join("store"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        self.port = loop {
            assert!(Instant::now() < deadline, "nats-server wrote no ports file");
            if let Some(p) = read_port(&ports_dir) {
                break p;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: a crash, not a clean stop).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same storage.
    fn restart(&mut self) {
        self.kill();
        let port = self.port;
        self.spawn(Some(port));
        assert_eq!(self.port, port);
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_port(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let mut text = String::new();
    std::fs::File::open(entry.path())
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let url = v["nats"][0].as_str()?;
    url.rsplit(':').next()?.parse().ok()
}

// ---------------------------------------------------------------- helpers

fn gateway(nats_url: &str, extra: &[&str]) -> Gateway {
    let mut args = vec![
        "--nats",
        nats_url,
        "--stream",
        STREAM,
        "--client-timeout-ms",
        "60000",
        "--flush-ms",
        "5",
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

fn epoch_of(gw: &Gateway) -> String {
    gw.health()["epoch"].as_str().expect("epoch").to_owned()
}

/// `POST /ingest?shop=…`; returns the answer.
fn ingest(gw: &Gateway, shop: &str, body: &str) -> serde_json::Value {
    let (status, text) = gw.post(&format!("/ingest?shop={shop}"), body.as_bytes());
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("ingest JSON")
}

/// `n` inventory events for products `from..from + n`, as NDJSON.
fn inventory(from: u64, n: u64) -> String {
    let mut out = String::new();
    for p in from..from + n {
        let _ = writeln!(
            out,
            "{{\"kind\":\"inventory\",\"ts\":{},\"product\":{p},\"quantity\":{}}}",
            1_700_000_000_000 + p,
            p % 50
        );
    }
    out
}

/// Sends a raw `hello` and reads the gateway's.
async fn hello(c: &mut Client, resume: Option<&ResumePoint>, shops: Option<&[&str]>) -> String {
    let mut h = serde_json::json!({"type": "hello", "protocol": 1});
    if let Some(r) = resume {
        h["resume"] = serde_json::json!({"epoch": r.epoch, "seq": r.seq});
    }
    if let Some(s) = shops {
        h["shops"] = serde_json::json!(s);
    }
    c.send_text(h.to_string()).await;
    match c.frame().await {
        ServerFrame::Hello { epoch, .. } => epoch,
        other => panic!("expected hello, got {other:?}"),
    }
}

/// A fresh dashboard: hello, then the snapshot. Returns (epoch, snapshot
/// seq, the engine it holds).
async fn open_fresh(url: &str, shops: Option<&[&str]>) -> (Client, String, u64, Engine) {
    let mut c = Client::connect(url).await;
    let epoch = hello(&mut c, None, shops).await;
    match c.frame().await {
        ServerFrame::Snapshot { seq, state, .. } => {
            let engine: Engine = serde_json::from_str(state.get()).expect("snapshot state");
            (c, epoch, seq, engine)
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

/// Reads `events` frames until they cover position `upto`, checking that
/// each frame starts right after the previous one: returns every event with
/// its sequence number.
async fn collect(c: &mut Client, mut covered: u64, upto: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_mins(1);
    while covered < upto {
        assert!(
            Instant::now() < deadline,
            "timed out at position {covered} of {upto}"
        );
        let Some(frame) = c.try_frame(Duration::from_secs(30)).await else {
            panic!("no frame after position {covered} (waiting for {upto})")
        };
        match frame {
            ServerFrame::Events {
                first_seq,
                events,
                seqs,
                last_seq,
                ..
            } => {
                assert_eq!(
                    first_seq,
                    covered + 1,
                    "each frame starts right after the last"
                );
                for (i, e) in events.iter().enumerate() {
                    out.push((event_seq(first_seq, seqs.as_deref(), i), e.get().to_owned()));
                }
                covered = covered_last_seq(first_seq, events.len(), seqs.as_deref(), last_seq);
            }
            ServerFrame::Heartbeat { .. } => c.heartbeat().await,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(covered, upto, "covered exactly up to {upto}");
    out
}

/// Nothing more arrives for a while (heartbeats aside).
async fn quiet(c: &mut Client, for_: Duration) {
    let end = tokio::time::Instant::now() + for_;
    while let Some(left) = end.checked_duration_since(tokio::time::Instant::now()) {
        match c.try_frame(left).await {
            None | Some(ServerFrame::Heartbeat { .. }) => {}
            Some(other) => panic!("expected nothing more, got {other:?}"),
        }
    }
}

fn seqs_of(events: &[(u64, String)]) -> Vec<u64> {
    events.iter().map(|(q, _)| *q).collect()
}

fn range(a: u64, b: u64) -> Vec<u64> {
    (a..=b).collect()
}

async fn jetstream(url: &str) -> async_nats::jetstream::Context {
    let client = async_nats::connect(url).await.expect("test NATS client");
    async_nats::jetstream::new(client)
}

/// Publishes one payload straight to the stream; returns its sequence.
async fn publish(js: &async_nats::jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_owned(), payload.to_owned().into())
        .await
        .expect("publish")
        .await
        .expect("ack")
        .sequence
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_once_reach_dashboards_on_both_gateways() {
    let Some(nats) = Nats::start("both") else {
        return;
    };
    let a = gateway(&nats.url(), &[]);
    let b = gateway(&nats.url(), &[]);
    let epoch = epoch_of(&a);
    assert!(epoch.starts_with(&format!("nats-{STREAM}-")), "{epoch}");
    assert_eq!(
        epoch_of(&b),
        epoch,
        "the stream's identity is every gateway's epoch"
    );

    let (mut on_a, _, s_a, _) = open_fresh(&a.ws_url(), None).await;
    let (mut on_b, _, s_b, _) = open_fresh(&b.ws_url(), None).await;
    assert_eq!((s_a, s_b), (0, 0));

    // Once through gateway A's /ingest (a bad line becomes a notice)...
    let answer = ingest(
        &a,
        "north",
        "{\"user_id\": 1, \"action\": \"browse\", \"product_id\": 101}\n\
         {\"product_id\": 103, \"quantity\": 0}\n\
         not json\n\
         {\"date\": \"2021-09-01\", \"sales\": 1000}\n",
    );
    assert_eq!(answer["accepted"], 3);
    assert_eq!(answer["rejected"][0]["line"], 3);
    assert_eq!(
        (answer["first_seq"].as_u64(), answer["last_seq"].as_u64()),
        (Some(1), Some(4))
    );
    // ...and once straight into JetStream by a shop backend.
    let js = jetstream(&nats.url()).await;
    assert_eq!(
        publish(
            &js,
            "shop.south.inventory",
            r#"{"product_id": 7, "quantity": 3, "ts": 1700000000000}"#
        )
        .await,
        5
    );
    assert_eq!(publish(&js, "shop.south.order", "{broken").await, 6);

    let got_a = collect(&mut on_a, 0, 6).await;
    let got_b = collect(&mut on_b, 0, 6).await;
    assert_eq!(seqs_of(&got_a), range(1, 6));
    assert_eq!(
        got_a, got_b,
        "the same events with the same numbers on both gateways"
    );
    assert!(
        got_a[2].1.contains(r#""kind":"rejected""#) && got_a[2].1.contains(r#""source":"ingest""#)
    );
    assert!(got_a[5].1.contains(r#""source":"nats""#), "{}", got_a[5].1);
    quiet(&mut on_a, Duration::from_millis(300)).await;
    assert_eq!(
        b.metric(r#"shoppulse_feed_events_in_total{source="nats"}"#),
        6
    );
    assert_eq!(b.metric("shoppulse_feed_nats_consumed_total"), 6);
    assert_eq!(a.metric("shoppulse_feed_nats_published_total"), 4);
    // Bad shop names are refused with a reason.
    let (status, text) = a.post("/ingest?shop=a.b", b"{}\n");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("bad_shop"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_resumes_on_the_other_gateway_with_exactly_the_missed_events() {
    let Some(nats) = Nats::start("resume") else {
        return;
    };
    let a = gateway(&nats.url(), &[]);
    let b = gateway(&nats.url(), &[]);
    let (mut c, epoch, _, _) = open_fresh(&a.ws_url(), None).await;
    ingest(&a, "default", &inventory(1, 10));
    let first = collect(&mut c, 0, 10).await;
    drop(c); // the dashboard loses gateway A

    let answer = ingest(&b, "default", &inventory(11, 7));
    assert_eq!(answer["last_seq"], 17);
    // It reconnects through the load balancer and lands on gateway B.
    let mut c = Client::connect(&b.ws_url()).await;
    let point = ResumePoint {
        epoch: epoch.clone(),
        seq: 10,
    };
    assert_eq!(hello(&mut c, Some(&point), None).await, epoch);
    let missed = collect(&mut c, 10, 17).await;
    assert_eq!(
        seqs_of(&missed),
        range(11, 17),
        "exactly the missed events, no snapshot"
    );
    quiet(&mut c, Duration::from_millis(300)).await;
    // The numbers mean the same events everywhere.
    let mut on_a = Client::connect(&a.ws_url()).await;
    hello(&mut on_a, Some(&ResumePoint { epoch, seq: 0 }), None).await;
    let all = collect(&mut on_a, 0, 17).await;
    assert_eq!(all[..10], first[..]);
    assert_eq!(all[10..], missed[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_filter_gets_only_its_shops_and_resumes_exactly_elsewhere() {
    let Some(nats) = Nats::start("filter") else {
        return;
    };
    let a = gateway(&nats.url(), &[]);
    let b = gateway(&nats.url(), &[]);
    // Ground truth: which shop each position belongs to.
    let mut shop_at: BTreeMap<u64, &str> = BTreeMap::new();
    let post =
        |gw: &Gateway, shop: &'static str, from: u64, n: u64, map: &mut BTreeMap<u64, &str>| {
            let ans = ingest(gw, shop, &inventory(from, n));
            let (f, l) = (
                ans["first_seq"].as_u64().unwrap(),
                ans["last_seq"].as_u64().unwrap(),
            );
            assert_eq!(l - f + 1, n);
            for q in f..=l {
                map.insert(q, shop);
            }
            l
        };
    post(&a, "a", 1, 3, &mut shop_at);
    post(&b, "b", 100, 4, &mut shop_at);
    let head = post(&a, "c", 200, 2, &mut shop_at);
    let mine = |map: &BTreeMap<u64, &str>, after: u64, upto: u64| -> Vec<u64> {
        map.range(after + 1..=upto)
            .filter(|(_, s)| **s == "a" || **s == "c")
            .map(|(q, _)| *q)
            .collect()
    };
    // Wait until gateway A has consumed everything, so the snapshot is at head.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.health()["head_seq"].as_u64() != Some(head) {
        assert!(Instant::now() < deadline, "gateway A did not consume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut dash, epoch, snap, engine) = open_fresh(&a.ws_url(), Some(&["c", "a"])).await;
    assert_eq!(snap, head);
    assert_eq!(
        engine.view().health.applied,
        5,
        "the snapshot holds shops a and c only (3 + 2 events)"
    );
    let p1 = post(&b, "b", 300, 2, &mut shop_at);
    let p2 = post(&a, "a", 400, 2, &mut shop_at);
    let p3 = post(&b, "b", 500, 3, &mut shop_at);
    let live = collect(&mut dash, snap, p3).await;
    assert_eq!(seqs_of(&live), mine(&shop_at, snap, p3));
    assert!(p1 < p2 && live.len() == 2);
    drop(dash); // position p3 applied

    let p4 = post(&a, "c", 600, 2, &mut shop_at);
    post(&b, "b", 700, 5, &mut shop_at);
    let p6 = post(&a, "a", 800, 1, &mut shop_at);
    let mut again = Client::connect(&b.ws_url()).await;
    let point = ResumePoint {
        epoch: epoch.clone(),
        seq: p3,
    };
    hello(&mut again, Some(&point), Some(&["a", "c"])).await;
    let missed = collect(&mut again, p3, p6).await;
    assert_eq!(
        seqs_of(&missed),
        mine(&shop_at, p3, p6),
        "exactly the missed a/c events"
    );
    assert_eq!(seqs_of(&missed), [p4 - 1, p4, p6]);
    quiet(&mut again, Duration::from_millis(300)).await;
    // A filter on a gateway without --nats is refused with a reason.
    let local = Gateway::start(&[]);
    let mut refused = Client::connect(&local.ws_url()).await;
    refused
        .send_text(r#"{"type":"hello","protocol":1,"shops":["a"]}"#.to_owned())
        .await;
    match refused.frame().await {
        ServerFrame::Error { code, message } => {
            assert_eq!(code, "bad_hello");
            assert!(message.contains("--nats"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// `POST /ingest?shop=default` with an `Idempotency-Key` header.
fn ingest_with_key(gw: &Gateway, key: &str, body: &str) -> (u16, String) {
    use std::io::Write as _;
    let mut s = std::net::TcpStream::connect(gw.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let head = format!(
        "POST /ingest?shop=default HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Idempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    common::read_response(&mut s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_sent_again_with_its_idempotency_key_is_stored_once() {
    let Some(nats) = Nats::start("idem") else {
        return;
    };
    let a = gateway(&nats.url(), &[]);
    let b = gateway(&nats.url(), &[]);
    let (mut c, _, _, _) = open_fresh(&b.ws_url(), None).await;
    let body = inventory(1, 6);
    let (status, first) = ingest_with_key(&a, "order-batch-17", &body);
    assert_eq!(status, 200, "{first}");
    // The client did not see the answer and sends it again, to the other gateway.
    let (status, again) = ingest_with_key(&b, "order-batch-17", &body);
    assert_eq!(status, 200, "{again}");
    let (first, again): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&again).unwrap(),
    );
    assert_eq!(
        (first["first_seq"].as_u64(), first["last_seq"].as_u64()),
        (Some(1), Some(6))
    );
    assert_eq!(
        again["last_seq"], first["last_seq"],
        "the same stream positions"
    );
    ingest(&a, "default", &inventory(7, 1));
    let got = collect(&mut c, 0, 7).await;
    assert_eq!(seqs_of(&got), range(1, 7), "stored once");
    let (status, text) = ingest_with_key(&a, "has space", &body);
    assert_eq!(status, 400, "{text}");
}

/// A Segment delivery of two messages, by bearer token.
fn segment(gw: &Gateway, shop: &str, secret: &str) -> (u16, serde_json::Value) {
    let body = r#"{"batch": [
      {"type": "track", "event": "Product Viewed", "messageId": "n-1", "userId": 42,
       "timestamp": "2024-03-01T13:00:00Z", "properties": {"product_id": 101}},
      {"type": "track", "event": "Product Added", "messageId": "n-2", "userId": 42,
       "timestamp": "2024-03-01T13:00:05Z", "properties": {"product_id": 101, "quantity": 1}}
    ]}"#;
    let bearer = format!("Bearer {secret}");
    let (status, text) = http_with(
        gw.addr,
        "POST",
        &format!("/webhooks/segment?shop={shop}"),
        &[("Authorization", &bearer)],
        body.as_bytes(),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivery_goes_into_the_shared_stream_once() {
    let Some(nats) = Nats::start("hooks") else {
        return;
    };
    let secret = "segment-shared-secret";
    let a = gateway(&nats.url(), &["--segment-secret", secret]);
    let b = gateway(&nats.url(), &["--segment-secret", secret]);
    let (mut on_b, _, _, _) = open_fresh(&b.ws_url(), Some(&["north"])).await;
    let (status, first) = segment(&a, "north", secret);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["accepted"], 2);
    assert_eq!(
        (first["first_seq"].as_u64(), first["last_seq"].as_u64()),
        (Some(1), Some(2))
    );
    // The sender did not see the answer and sends the delivery again, to
    // the other gateway: the stream stores it once.
    let (status, again) = segment(&b, "north", secret);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["last_seq"], first["last_seq"], "the same positions");
    // Not a shop name.
    let (status, refused) = segment(&a, "a.b", secret);
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "bad_shop");
    // A wrong token: 401, and a notice in the shop's feed.
    let (status, _) = segment(&a, "north", "wrong");
    assert_eq!(status, 401);

    let got = collect(&mut on_b, 0, 3).await;
    assert_eq!(seqs_of(&got), range(1, 3));
    assert!(got[0].1.contains(r#""action":"browse""#), "{}", got[0].1);
    assert!(
        got[1].1.contains(r#""action":"add_to_cart""#),
        "{}",
        got[1].1
    );
    assert!(
        got[2].1.contains(r#""source":"webhook:segment""#),
        "{}",
        got[2].1
    );
    quiet(&mut on_b, Duration::from_millis(300)).await;
    let requests = |gw: &Gateway, outcome: &str| {
        gw.metric(&format!(
            "shoppulse_feed_webhook_requests_total{{source=\"segment\",outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(requests(&a, "accepted"), 1);
    assert_eq!(requests(&b, "accepted"), 1);
    assert_eq!(requests(&a, "bad_shop"), 1);
    assert_eq!(requests(&a, "bad_signature"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_gateway_loses_nothing() {
    let Some(nats) = Nats::start("killgw") else {
        return;
    };
    let url = nats.url();
    let a = gateway(&url, &[]);
    let b = gateway(&url, &[]);
    let (mut c, epoch, _, _) = open_fresh(&a.ws_url(), None).await;
    ingest(&a, "default", &inventory(1, 20));
    collect(&mut c, 0, 20).await;
    drop(a); // SIGKILL: gateway A dies with its dashboard
    drop(c);
    ingest(&b, "default", &inventory(21, 15));
    // A comes back (a fresh process, loading its window from the stream) and
    // the dashboard resumes on it.
    let a = gateway(&url, &[]);
    assert_eq!(epoch_of(&a), epoch);
    let mut c = Client::connect(&a.ws_url()).await;
    hello(&mut c, Some(&ResumePoint { epoch, seq: 20 }), None).await;
    let missed = collect(&mut c, 20, 35).await;
    assert_eq!(seqs_of(&missed), range(21, 35));
    ingest(&b, "default", &inventory(36, 5));
    let live = collect(&mut c, 35, 40).await;
    assert_eq!(seqs_of(&live), range(36, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_nats_loses_nothing() {
    let Some(mut nats) = Nats::start("restart") else {
        return;
    };
    let url = nats.url();
    let a = gateway(&url, &[]);
    let b = gateway(&url, &[]);
    let epoch = epoch_of(&a);
    let (mut on_a, _, _, _) = open_fresh(&a.ws_url(), Some(&["default"])).await;
    let (mut on_b, _, _, _) = open_fresh(&b.ws_url(), None).await;
    ingest(&a, "default", &inventory(1, 20));
    collect(&mut on_a, 0, 20).await;
    collect(&mut on_b, 0, 20).await;

    nats.kill();
    // An ingest while NATS is down waits for it (and retries) instead of
    // losing the events.
    let a_addr = a.addr;
    let during = std::thread::spawn(move || {
        common::http(
            a_addr,
            "POST",
            "/ingest?shop=default",
            Some(inventory(21, 10).as_bytes()),
        )
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    nats.restart();
    let (status, text) = during.join().expect("ingest thread");
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (answer["first_seq"].as_u64(), answer["last_seq"].as_u64()),
        (Some(21), Some(30))
    );
    ingest(&b, "default", &inventory(31, 10));
    let after_a = collect(&mut on_a, 20, 40).await;
    let after_b = collect(&mut on_b, 20, 40).await;
    assert_eq!(seqs_of(&after_a), range(21, 40));
    assert_eq!(after_a, after_b);
    assert_eq!(epoch_of(&a), epoch, "file storage: same stream, same epoch");
    assert!(a.metric("shoppulse_feed_nats_disconnects_total") >= 1);
}

/// A TCP proxy that can cut every connection through it and refuse new
/// ones, to play a network cut between a gateway and NATS.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (c, g) = (cut.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let my_gen = g.load(Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let copy = tokio::io::copy_bidirectional(&mut down, &mut up);
                    let watch = async {
                        while g.load(Ordering::SeqCst) == my_gen {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {},
                        () = watch => {},
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            generation,
        }
    }

    /// Cuts, and waits until every connection through it is closed.
    async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_between_gateway_and_nats_recovers_by_itself() {
    let Some(nats) = Nats::start("cut") else {
        return;
    };
    let proxy = Proxy::start(nats.port).await;
    let through_proxy = format!("nats://127.0.0.1:{}", proxy.port);
    let a = gateway(&through_proxy, &[]);
    let b = gateway(&nats.url(), &[]);
    let (mut c, _, _, _) = open_fresh(&a.ws_url(), None).await;
    ingest(&b, "default", &inventory(1, 5));
    collect(&mut c, 0, 5).await;

    proxy.cut().await;
    ingest(&b, "default", &inventory(6, 10));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cut_health = a.health();
    assert_eq!(
        cut_health["nats"]["head_seq"].as_u64(),
        Some(5),
        "A is cut off: {cut_health}"
    );
    proxy.heal();
    ingest(&b, "default", &inventory(16, 5));
    let after = collect(&mut c, 5, 20).await;
    assert_eq!(
        seqs_of(&after),
        range(6, 20),
        "A caught up by itself, nothing lost or doubled"
    );
    quiet(&mut c, Duration::from_millis(300)).await;
    assert!(a.metric("shoppulse_feed_nats_disconnects_total") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_publishes_shops_that_every_gateway_serves() {
    let Some(nats) = Nats::start("sim") else {
        return;
    };
    let sim = gateway(
        &nats.url(),
        &[
            "--simulate",
            "--shops",
            "east,west",
            "--rate",
            "2000",
            "--sim-events",
            "400",
            "--sim-start",
            "2024-11-29T09:00:00Z",
        ],
    );
    let b = gateway(&nats.url(), &[]);
    let mut west = Client::connect(&b.ws_url()).await;
    let epoch = hello(
        &mut west,
        Some(&ResumePoint {
            epoch: epoch_of(&b),
            seq: 0,
        }),
        Some(&["west"]),
    )
    .await;
    assert_eq!(epoch, epoch_of(&sim));
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.health()["head_seq"].as_u64() != Some(800) {
        assert!(
            Instant::now() < deadline,
            "800 simulated events reach gateway B"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = collect(&mut west, 0, 800).await;
    assert_eq!(got.len(), 400, "exactly the west shop's 400 events");
    for (_, json) in &got {
        shoppulse_core::decode_event(json, 0).expect("valid events");
    }
}

/// Events per second through one gateway from NATS. Not part of the suite:
/// `cargo test --release -p shoppulse-feed --test nats -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_events_per_second_through_one_gateway() {
    let Some(nats) = Nats::start("bench") else {
        return;
    };
    let n: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    // Real simulated events (the gateway's own `simulate` subcommand).
    let out = Command::new(common::BIN)
        .args([
            "simulate",
            "--seed",
            "3",
            "--sim-start",
            "2024-11-29T09:00:00Z",
            "--rate",
            "2000",
            "--events",
        ])
        .arg(n.to_string())
        .output()
        .expect("simulate");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect();
    let gw = gateway(&nats.url(), &["--history", "200000"]);
    let (mut c, _, _, _) = open_fresh(&gw.ws_url(), None).await;
    let js = jetstream(&nats.url()).await;
    let cpu0 = gw.cpu_s();
    let t0 = Instant::now();
    let publisher = tokio::spawn(async move {
        let mut acks = Vec::with_capacity(4096);
        for (i, l) in lines.into_iter().enumerate() {
            acks.push(
                js.publish("shop.bench.event", l.into())
                    .await
                    .expect("publish"),
            );
            if acks.len() == 4096 || i as u64 + 1 == n {
                for a in acks.drain(..) {
                    a.await.expect("ack");
                }
            }
        }
        Instant::now()
    });
    let mut covered = 0;
    while covered < n {
        match c.try_frame(Duration::from_secs(30)).await.expect("frames") {
            ServerFrame::Events {
                first_seq,
                events,
                seqs,
                last_seq,
                ..
            } => {
                assert_eq!(first_seq, covered + 1);
                covered = covered_last_seq(first_seq, events.len(), seqs.as_deref(), last_seq);
            }
            ServerFrame::Heartbeat { .. } => c.heartbeat().await,
            other => panic!("{other:?}"),
        }
    }
    let through = t0.elapsed().as_secs_f64();
    let cpu = gw.cpu_s() - cpu0;
    let publish_s = publisher
        .await
        .expect("publisher")
        .duration_since(t0)
        .as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // reason: counts far below 2^52
    let nf = n as f64;
    println!(
        "live: {n} events published in {publish_s:.2} s ({:.0}/s); through one gateway to a dashboard in {through:.2} s ({:.0} events/s); gateway CPU {cpu:.2} s ({:.0} events per CPU-second)",
        nf / publish_s,
        nf / through,
        nf / cpu.max(0.01)
    );
    drop(c);
    // A gateway starting on the full stream loads its window (decode + engine).
    let t1 = Instant::now();
    let second = gateway(&nats.url(), &["--history", "200000"]);
    let load = t1.elapsed().as_secs_f64();
    let load_cpu = second.cpu_s();
    let held = second.health()["history"].as_u64().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)] // reason: counts far below 2^52
    let held_f = held as f64;
    println!(
        "start-up: {held} events loaded from the stream in {load:.2} s ({:.0} events/s), {load_cpu:.2} s CPU ({:.0} events per CPU-second)",
        held_f / load,
        held_f / load_cpu.max(0.01)
    );
}

#[test]
fn flags_that_do_not_go_with_nats_are_refused_before_connecting() {
    for (args, says) in [
        (&["--stream", "a.b"][..], "--stream"),
        (&["--shops", "north,so uth", "--simulate"][..], "--shops"),
        (&["--replay", "x.ndjson"][..], "--replay"),
        (&["--epoch", "e1"][..], "--epoch"),
    ] {
        let out = Command::new(common::BIN)
            .args(["--listen", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"])
            .args(args)
            .output()
            .expect("run shoppulse-feed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must be refused");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
