//! Reliability of the real `shoppulse-feed` binary under faults: dead
//! connections that TCP does not notice, restarts (resume ahead of the new
//! head, history lost), and hostile input on `POST /ingest` and `/ws`.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, Gateway};
use futures_util::{SinkExt, StreamExt};
use shoppulse_core::event::Body;
use shoppulse_core::frame::{ResumePoint, ServerFrame};
use shoppulse_core::{decode_event, Engine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- helpers

/// One entry of `tests/data/hostile.jsonl`.
struct Hostile {
    name: String,
    class: String,
    line: Vec<u8>,
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = u32::try_from(ABC.iter().position(|&a| a == c).expect("base64 digit"))
            .expect("test setup");
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).expect("test setup"));
        }
    }
    out
}

/// The hostile corpus shared with the browser tests.
fn hostile_corpus() -> Vec<Hostile> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/hostile.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("tests/data/hostile.jsonl");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("corpus entry");
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            let line = if let Some(line) = s("line") {
                line.into_bytes()
            } else if let Some(b) = s("line_b64") {
                base64_decode(&b)
            } else {
                let times =
                    usize::try_from(v["times"].as_u64().expect("times")).expect("test setup");
                let fill = s("fill").expect("fill").repeat(times);
                let close = s("close").unwrap_or_default().repeat(times);
                s("template")
                    .expect("template")
                    .replacen("{}", &fill, 1)
                    .replacen("{/}", &close, 1)
                    .into_bytes()
            };
            Hostile {
                name: s("name").expect("name"),
                class: s("class").expect("class"),
                line,
            }
        })
        .collect()
}

/// A TCP proxy that can stop forwarding without closing anything: the
/// connection looks alive to TCP on both ends, no byte gets through.
struct Blackhole {
    addr: SocketAddr,
    dead: Arc<AtomicBool>,
}

impl Blackhole {
    /// Forwards to `target` until [`Blackhole::cut`]. `drain`: keep reading
    /// (and dropping) what arrives after the cut, else stop reading so the
    /// sender's buffers fill up.
    async fn start(target: SocketAddr, drain: bool) -> Blackhole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test setup");
        let addr = listener.local_addr().expect("test setup");
        let dead = Arc::new(AtomicBool::new(false));
        let flag = dead.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = tokio::net::TcpStream::connect(target)
                    .await
                    .expect("test setup");
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                tokio::spawn(pump(cr, uw, flag.clone(), drain));
                tokio::spawn(pump(ur, cw, flag.clone(), drain));
            }
        });
        Blackhole { addr, dead }
    }

    fn cut(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    dead: Arc<AtomicBool>,
    drain: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if dead.load(Ordering::SeqCst) && !drain {
            // Hold both sockets open, read nothing, send nothing.
            tokio::time::sleep(Duration::from_hours(1)).await;
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !dead.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    t0.elapsed()
}

fn write_stream(path: &std::path::Path, n: usize, step_ms: i64) {
    let mut text = String::new();
    for i in 0..n {
        let ts = 1_700_000_000_000i64 + i64::try_from(i).expect("test setup") * step_ms;
        let line = match i % 4 {
            0 => format!(
                r#"{{"kind":"inventory","ts":{ts},"product":{},"quantity":{i}}}"#,
                i % 7
            ),
            1 => format!(
                r#"{{"kind":"order","ts":{ts},"order":{i},"channel":"web","status":"paid","total_cents":{},"currency":"GBP"}}"#,
                100 + i
            ),
            2 => format!(
                r#"{{"kind":"behavior","ts":{ts},"user":{},"action":"browse","product":{}}}"#,
                i % 11,
                i % 7
            ),
            _ => "not json".to_owned(),
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).expect("test setup");
}

/// Every event of a replayed file, read from seq 1 at `--speed max`.
async fn reference_events(path: &std::path::Path, n: u64) -> (String, Vec<String>) {
    let gw = Gateway::start(&[
        "--replay",
        path.to_str().expect("test setup"),
        "--speed",
        "max",
    ]);
    let epoch = gw.health()["epoch"]
        .as_str()
        .expect("test setup")
        .to_owned();
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 0,
    }))
    .await;
    (epoch, c.events_until(1, n).await)
}

/// A 400-line stream (`write_stream`) in a temporary directory, its
/// reference events, and a gateway with `extra` flags that replayed it at
/// max speed (waited for). Returns (directory, epoch, events, gateway).
async fn replayed_400(
    name: &str,
    extra: &[&str],
) -> (std::path::PathBuf, String, Vec<String>, Gateway) {
    let dir = common::temp_dir(name);
    let path = dir.join("stream.ndjson");
    write_stream(&path, 400, 50);
    let (epoch, all) = reference_events(&path, 400).await;
    let path = path.to_str().expect("test setup").to_owned();
    let mut args = vec!["--replay", &path, "--speed", "max"];
    args.extend_from_slice(extra);
    let gw = Gateway::start(&args);
    wait_for("replayed", Duration::from_secs(10), || {
        gw.health()["head_seq"] == 400
    })
    .await;
    (dir, epoch, all, gw)
}

// ------------------------------------------------------ dead connections

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_dashboard_is_closed_with_timeout_after_the_client_timeout() {
    let gw = Gateway::start(&["--client-timeout-ms", "1500", "--heartbeat-ms", "300"]);
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(None).await;
    let t0 = Instant::now();
    // Read (the gateway's heartbeats arrive) but never send anything.
    let mut heartbeats = 0;
    let mut code = None;
    loop {
        match c.raw(Duration::from_secs(10)).await {
            Some(Ok(Message::Text(t))) => match ServerFrame::parse(t.as_str()).unwrap() {
                ServerFrame::Heartbeat { .. } => heartbeats += 1,
                ServerFrame::Error { code: c, .. } => code = Some(c),
                _ => {}
            },
            Some(Ok(Message::Close(f))) => {
                let f = f.expect("a close frame with a code");
                assert_eq!((u16::from(f.code), f.reason.as_str()), (1008, "timeout"));
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
    let took = t0.elapsed();
    assert_eq!(code.as_deref(), Some("timeout"), "an error frame says why");
    assert!(
        heartbeats >= 3,
        "the gateway kept sending heartbeats: {heartbeats}"
    );
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(3500),
        "closed {took:?} after going silent (timeout 1.5 s)"
    );
    assert_eq!(gw.metric("shoppulse_feed_client_timeouts_total"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stops_carrying_bytes_is_dropped_though_tcp_stays_open() {
    // Two dead paths: one still accepts the gateway's bytes (and drops
    // them), one accepts nothing (the gateway's writes block).
    let gw = Gateway::start(&[
        "--simulate",
        "--rate",
        "2000",
        "--client-timeout-ms",
        "2000",
    ]);
    let draining = Blackhole::start(gw.addr, true).await;
    let frozen = Blackhole::start(gw.addr, false).await;
    let mut a = Client::connect(&format!("ws://{}/ws", draining.addr)).await;
    let mut b = Client::connect(&format!("ws://{}/ws", frozen.addr)).await;
    a.hello(None).await;
    b.hello(None).await;
    assert!(matches!(a.frame().await, ServerFrame::Snapshot { .. }));
    assert!(matches!(b.frame().await, ServerFrame::Snapshot { .. }));
    wait_for("both connected", Duration::from_secs(5), || {
        gw.metric("shoppulse_feed_connections") == 2
    })
    .await;
    draining.cut();
    frozen.cut();
    // Neither socket is closed; only the missing heartbeats tell.
    let took = wait_for("the gateway drops both", Duration::from_secs(8), || {
        gw.metric("shoppulse_feed_connections") == 0
    })
    .await;
    assert!(
        took >= Duration::from_millis(1500),
        "not before the timeout: {took:?}"
    );
    assert_eq!(gw.metric("shoppulse_feed_client_timeouts_total"), 2);
    eprintln!("gateway dropped two blackholed connections {took:?} after the cut (timeout 2 s)");
}

// ------------------------------------------------------------- restarts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_ahead_of_a_restarted_replay_gets_exactly_the_events_after_its_point() {
    let dir = common::temp_dir("ahead");
    let path = dir.join("stream.ndjson");
    write_stream(&path, 400, 50); // 20 s of event time
    let (epoch, all) = reference_events(&path, 400).await;
    // The dashboard applied 1..=300, then the gateway restarted: the new
    // process replays from line 1 at 10x (2 s) and is far behind seq 300.
    let gw = Gateway::start(&["--replay", path.to_str().unwrap(), "--speed", "10"]);
    assert_eq!(
        gw.health()["epoch"],
        epoch.as_str(),
        "same file, same epoch"
    );
    let mut c = Client::connect(&gw.ws_url()).await;
    let opened = c
        .hello(Some(ResumePoint {
            epoch: epoch.clone(),
            seq: 300,
        }))
        .await;
    assert!(
        opened.head_seq < 300,
        "the new head ({}) is behind",
        opened.head_seq
    );
    // No gap, no snapshot: the next frame is events from 301, when the
    // replay gets there, identical to the first run's.
    let got = c.events_until(301, 400).await;
    assert_eq!(got, all[300..].to_vec());
    assert_eq!(gw.metric("shoppulse_feed_resumes_total"), 1);
    assert_eq!(gw.metric("shoppulse_feed_gaps_total"), 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_with_history_lost_the_snapshot_still_holds_every_event() {
    let (dir, epoch, all, gw) = replayed_400("lost", &["--history", "50"]).await;
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 100,
    }))
    .await;
    match c.frame().await {
        ServerFrame::Gap {
            reason, oldest_seq, ..
        } => assert_eq!((reason.as_str(), oldest_seq), ("history_gone", 351)),
        other => panic!("expected gap, got {other:?}"),
    }
    let state = match c.frame().await {
        ServerFrame::Snapshot { seq, state, .. } => {
            assert_eq!(seq, 400);
            state
        }
        other => panic!("expected snapshot, got {other:?}"),
    };
    // The gateway's engine saw every event since line 1: the snapshot is the
    // whole stream, not just the history it still holds.
    let snap: Engine = serde_json::from_str(state.get()).unwrap();
    let mut full = Engine::default();
    for j in &all {
        full.apply(&decode_event(j, 0).unwrap());
    }
    assert_eq!(
        serde_json::to_value(snap.view()).unwrap(),
        serde_json::to_value(full.view()).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------- hostile input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // reason: one corpus, every check on it in order
async fn every_hostile_line_gets_a_counted_readable_rejection_of_its_class() {
    let corpus = hostile_corpus();
    let gw = Gateway::start(&["--max-body", "64MiB"]);
    let mut dashboard = Client::connect(&gw.ws_url()).await;
    dashboard.hello(None).await;
    assert!(matches!(
        dashboard.frame().await,
        ServerFrame::Snapshot { .. }
    ));
    // Each hostile line between two good ones: line 2k+1 good, 2k+2 hostile.
    let good = |i: usize| format!(r#"{{"kind":"inventory","ts":{i},"product":{i},"quantity":5}}"#);
    let mut body = Vec::new();
    for (i, h) in corpus.iter().enumerate() {
        body.extend_from_slice(good(i).as_bytes());
        body.push(b'\n');
        body.extend_from_slice(&h.line);
        body.push(b'\n');
    }
    body.extend_from_slice(good(corpus.len()).as_bytes());
    body.push(b'\n');
    let t0 = Instant::now();
    let (status, answer) = gw.post("/ingest", &body);
    let took = t0.elapsed();
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        v["accepted"],
        corpus.len() + 1,
        "good lines are never refused"
    );
    assert_eq!(v["rejected_total"], corpus.len());
    let rejected = v["rejected"].as_array().unwrap();
    let mut by_class = BTreeMap::<String, u64>::new();
    let mut wrong = Vec::new();
    for (h, r) in corpus.iter().zip(rejected) {
        let (class, reason) = (r["class"].as_str().unwrap(), r["reason"].as_str().unwrap());
        assert!(reason.starts_with(class), "{}: reason {reason:?}", h.name);
        assert!(
            reason.len() > class.len() + 5,
            "{}: a readable reason",
            h.name
        );
        if class != h.class {
            wrong.push(format!(
                "{}: {class} ({reason}), expected {}",
                h.name, h.class
            ));
        }
        *by_class.entry(class.to_owned()).or_default() += 1;
    }
    assert!(wrong.is_empty(), "wrong classes:\n{}", wrong.join("\n"));
    for (class, n) in &by_class {
        assert_eq!(
            gw.metric(&format!(
                "shoppulse_feed_rejected_lines_total{{class=\"{class}\"}}"
            )),
            *n,
            "{class} counted"
        );
    }
    // The dashboard gets a notice for each, in line order, short excerpts.
    let n = u64::try_from(corpus.len() * 2 + 1).unwrap();
    let got = dashboard.events_until(1, n).await;
    for (i, json) in got.iter().enumerate() {
        let ev = decode_event(json, 0).unwrap_or_else(|e| panic!("seq {}: {e}", i + 1));
        match (&ev.body, i % 2) {
            (Body::Rejected(r), 1) => {
                let h = &corpus[i / 2];
                assert_eq!(r.line, Some(u64::try_from(i + 1).unwrap()), "{}", h.name);
                assert_eq!(r.class.to_string(), h.class, "{}", h.name);
                assert!(r.excerpt.len() <= 160 * 4, "{}: excerpt bounded", h.name);
            }
            (Body::Inventory(_), 0) => {}
            (other, _) => panic!("seq {}: unexpected {other:?}", i + 1),
        }
    }
    assert_eq!(gw.health()["ok"], true, "still serving");
    eprintln!(
        "hostile corpus: {} lines ({} bytes) refused in {took:?}: {by_class:?}",
        corpus.len(),
        body.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // reason: one hostile client after another, in order
async fn hostile_websocket_clients_are_closed_with_a_reason_and_others_never_notice() {
    let gw = Gateway::start(&["--simulate", "--rate", "2000", "--heartbeat-ms", "500"]);
    let url = gw.ws_url();
    // A good dashboard reads the live tail the whole time.
    let mut good = Client::connect(&url).await;
    good.hello(None).await;
    let ServerFrame::Snapshot { seq, .. } = good.frame().await else {
        panic!("expected snapshot");
    };
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut next = seq + 1;
            let mut events = 0usize;
            while !stop.load(Ordering::SeqCst) {
                match good.try_frame(Duration::from_secs(3)).await {
                    Some(ServerFrame::Events {
                        first_seq,
                        events: ev,
                        ..
                    }) => {
                        assert_eq!(first_seq, next, "consecutive events");
                        next += ev.len() as u64;
                        events += ev.len();
                    }
                    Some(ServerFrame::Heartbeat { .. }) => good.heartbeat().await,
                    other => panic!("the good dashboard got {other:?}"),
                }
            }
            events
        })
    };

    // (what it sends, before hello?, expected error code, close code)
    let deep = format!(
        r#"{{"type":"hello","protocol":1,"x":{}1{}}}"#,
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let cases: Vec<(&str, Message, bool, &str, u16)> = vec![
        (
            "garbage text",
            Message::text("not json at all"),
            false,
            "bad_frame",
            1002,
        ),
        (
            "unknown frame type",
            Message::text(r#"{"type":"subscribe"}"#),
            false,
            "bad_frame",
            1002,
        ),
        (
            "binary frame",
            Message::binary(vec![0u8, 159, 146, 150, 255]),
            false,
            "bad_frame",
            1002,
        ),
        (
            "text frame with invalid UTF-8",
            Message::Frame(Frame::message(
                vec![b'{', 0xff, 0xfe, b'}'],
                OpCode::Data(Data::Text),
                true,
            )),
            false,
            "bad_frame",
            1002,
        ),
        (
            "message over 64 KiB",
            Message::text("x".repeat(100_000)),
            false,
            "too_large",
            1009,
        ),
        (
            "binary instead of hello",
            Message::binary(vec![1u8, 2, 3]),
            true,
            "bad_hello",
            1002,
        ),
        (
            "20000-deep hello",
            Message::text(deep),
            true,
            "bad_hello",
            1002,
        ),
        (
            "hello of another protocol",
            Message::text(r#"{"type":"hello","protocol":2}"#),
            true,
            "unsupported_protocol",
            1002,
        ),
    ];
    let mut summary = Vec::new();
    for (name, msg, instead_of_hello, want_code, want_close) in cases {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        if !instead_of_hello {
            let hello = r#"{"type":"hello","protocol":1}"#;
            ws.send(Message::text(hello)).await.unwrap();
        }
        let _ = ws.send(msg).await;
        let mut code = None;
        let mut close = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    if let Ok(ServerFrame::Error { code: c, message }) =
                        ServerFrame::parse(t.as_str())
                    {
                        assert!(!message.is_empty(), "{name}: a readable message");
                        code = Some(c);
                    }
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    close = f.map(|f| u16::from(f.code));
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => break,
            }
        }
        assert_eq!(code.as_deref(), Some(want_code), "{name}: error frame");
        if want_close == 1009 {
            // The gateway stops reading at 64 KiB and closes while the client
            // is still sending: the close frame may be lost to the reset.
            assert!(
                matches!(close, None | Some(1009)),
                "{name}: close code {close:?}"
            );
        } else {
            assert_eq!(close, Some(want_close), "{name}: close code");
        }
        summary.push(format!("{name}: {want_code}/{want_close}"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        gw.metric("shoppulse_feed_connections"),
        1,
        "only the good one left"
    );
    stop.store(true, Ordering::SeqCst);
    let events = reader.await.expect("the good dashboard kept reading");
    assert!(events > 1000, "the good dashboard kept receiving: {events}");
    assert_eq!(gw.metric("shoppulse_feed_protocol_errors_total"), 8);
    assert_eq!(
        gw.metric("shoppulse_feed_dropped_slow_connections_total"),
        0
    );
    eprintln!("hostile websocket clients: {}", summary.join("; "));
}

// ------------------------------------------------------ paced resume

/// `--resume-pace` (the browser benchmark's source): resumed history goes
/// out no sooner than the schedule allows, exactly once and in order, and
/// what is beyond the schedule goes out unpaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_resume_sends_no_frame_before_the_schedule_allows_it() {
    let (dir, epoch, all, gw) = replayed_400(
        "paced",
        &[
            "--batch",
            "50",
            "--resume-pace",
            "0:0.6,250:0.8",
            "--heartbeat-ms",
            "150",
        ],
    )
    .await;
    assert!(gw.health().get("resume_pace_started_ms").is_none());
    let mut c = Client::connect(&gw.ws_url()).await;
    let t0 = Instant::now();
    c.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 0,
    }))
    .await;
    let mut got = Vec::new();
    let mut arrivals = Vec::new();
    let mut heartbeats_before_events = 0;
    while got.len() < 400 {
        match c.frame().await {
            ServerFrame::Events {
                first_seq, events, ..
            } => {
                assert_eq!(first_seq, got.len() as u64 + 1, "consecutive frames");
                got.extend(events.into_iter().map(|e| e.get().to_owned()));
                arrivals.push((got.len(), t0.elapsed()));
            }
            ServerFrame::Heartbeat { .. } => {
                heartbeats_before_events += usize::from(got.is_empty());
                c.heartbeat().await;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert_eq!(got, all, "every event once, in order");
    // Regression (a dashboard gives up on 6 s of silence, and resuming a
    // 10M-event history in `bin1` was 7.5 s of silence while its frames were
    // built): the gateway keeps the connection alive while it builds or waits.
    assert!(
        heartbeats_before_events >= 2,
        "{heartbeats_before_events} heartbeats in the 0.6 s pause"
    );
    // The schedule allows 250 events/s after a 0.6 s pause, 200 in all: a
    // frame whose last event is the n-th (n <= 200) is due at 0.6 + n/250 s.
    for &(n, at) in &arrivals {
        if n <= 200 {
            let due = Duration::from_secs_f64(0.6 + n as f64 / 250.0);
            assert!(
                at >= due,
                "frame up to event {n} came at {at:?}, due {due:?}"
            );
        }
    }
    // Beyond the schedule (events 201..=400) nothing waits: they follow the
    // 200th at once.
    let (_, at_200) = arrivals.iter().find(|(n, _)| *n == 200).copied().unwrap();
    let (_, at_400) = *arrivals.last().unwrap();
    assert!(
        at_400.checked_sub(at_200).unwrap() < Duration::from_millis(500),
        "{arrivals:?}"
    );
    assert!(gw.health()["resume_pace_started_ms"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(&dir).ok();
}
