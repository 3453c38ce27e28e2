//! End-to-end tests of the real `shoppulse-feed` binary over HTTP and
//! WebSocket.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{Client, Gateway};
use shoppulse_core::event::Body;
use shoppulse_core::frame::{ResumePoint, ServerFrame};
use shoppulse_core::{decode_event, Engine};

const SIM_START: &str = "2024-11-29T09:00:00Z";

fn epoch_of(gw: &Gateway) -> String {
    gw.health()["epoch"].as_str().expect("epoch").to_owned()
}

/// Reads every event of a finite simulated stream from seq 1.
async fn read_all(gw: &Gateway, n: u64) -> (String, Vec<String>) {
    let epoch = epoch_of(gw);
    let mut c = Client::connect(&gw.ws_url()).await;
    let opened = c
        .hello(Some(ResumePoint {
            epoch: epoch.clone(),
            seq: 0,
        }))
        .await;
    assert_eq!(opened.epoch, epoch);
    (epoch, c.events_until(1, n).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_is_valid_protocol_and_deterministic() {
    const N: u64 = 3000;
    let args = [
        "--simulate",
        "--seed",
        "42",
        "--rate",
        "5000",
        "--sim-start",
        SIM_START,
        "--sim-events",
        "3000",
    ];
    let a = Gateway::start(&args);
    let b = Gateway::start(&args);
    let (epoch_a, events_a) = read_all(&a, N).await;
    let (epoch_b, events_b) = read_all(&b, N).await;
    assert_eq!(epoch_a, epoch_b, "the epoch derives from seed and start");
    assert!(epoch_a.starts_with("sim-"));
    assert_eq!(events_a.len(), 3000);
    assert_eq!(events_a, events_b, "same seed and start, same events");
    let start = shoppulse_core::time::parse_rfc3339_ms(SIM_START).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (i, json) in events_a.iter().enumerate() {
        let ev = decode_event(json, 0).unwrap_or_else(|e| panic!("event {i} {json}: {e}"));
        assert_eq!(&ev.to_json(), json, "canonical JSON");
        assert!(!ev.ts_inferred);
        // Event time advances with the rate: 5000 events per second.
        assert_eq!(ev.ts_ms, start + i64::try_from(i).unwrap() / 5);
        kinds.insert(ev.body.kind().as_str());
    }
    for k in ["behavior", "inventory", "order", "sync"] {
        assert!(kinds.contains(k), "{k} in {kinds:?}");
    }
    // Another seed gives another stream and another epoch.
    let c = Gateway::start(&[
        "--simulate",
        "--seed",
        "43",
        "--rate",
        "5000",
        "--sim-start",
        SIM_START,
        "--sim-events",
        "1000",
    ]);
    let (epoch_c, events_c) = read_all(&c, 1000).await;
    assert_ne!(epoch_c, epoch_a);
    assert_ne!(events_c[..], events_a[..1000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_delivers_every_line_in_order() {
    let dir = common::temp_dir("replay");
    let path = dir.join("feed.ndjson");
    let lines = [
        r#"{"kind":"inventory","ts":"2021-09-01T10:00:00Z","product":101,"quantity":100}"#,
        r#"{"user_id": 1, "action": "browse", "product_id": 101, "ts": 1630490401000}"#,
        "this is not json",
        "",
        r#"{"kind":"order","ts":1630490402000,"order":"A-1","channel":"web","status":"paid","currency":"GBP"}"#,
        r#"{"kind":"teleport","ts":1630490403000}"#,
        r#"{"date": "2021-09-01", "sales": 1000}"#,
        r#"{"kind":"order","ts":1630490404000,"order":"A-2","channel":"web","status":"paid","total_cents":1250,"currency":"GBP","lines":[{"product":"85123A","quantity":1,"unit_price_cents":1250}]}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let gw = Gateway::start(&["--replay", path.to_str().unwrap(), "--speed", "max"]);
    let epoch = epoch_of(&gw);
    assert!(epoch.starts_with("replay-"));
    let (_, got) = read_all(&gw, 7).await;
    // Line 4 is blank: skipped. Every other line, in order.
    let expect_lines = [1u64, 2, 3, 5, 6, 7, 8];
    let bad = [3u64, 5, 6];
    for (json, line) in got.iter().zip(expect_lines) {
        let ev = decode_event(json, 0).unwrap();
        let original = lines[usize::try_from(line).unwrap() - 1];
        if bad.contains(&line) {
            match ev.body {
                Body::Rejected(r) => {
                    assert_eq!(&*r.source, "replay");
                    assert_eq!(r.line, Some(line));
                    assert!(original.starts_with(&*r.excerpt));
                }
                other => panic!("line {line} should be rejected, got {other:?}"),
            }
        } else {
            let want = decode_event(original, ev.ts_ms).unwrap();
            assert_eq!(ev, want, "line {line}");
        }
    }
    // The replay clock gives the ts-less seed line the previous event time.
    let sales = decode_event(&got[5], 0).unwrap();
    assert!(sales.ts_inferred);
    assert_eq!(
        sales.ts_ms, 1_630_490_401_000,
        "line 2 is the latest good timed line"
    );
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_by_source_total{source=\"replay\"}"),
        3
    );
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_total{class=\"unknown_kind\"}"),
        1
    );

    // The same file replayed again keeps its epoch (restart-safe numbering).
    let again = Gateway::start(&["--replay", path.to_str().unwrap(), "--speed", "max"]);
    assert_eq!(epoch_of(&again), epoch);
    // ... so a dashboard that had applied up to seq 4 resumes exactly.
    let mut c = Client::connect(&again.ws_url()).await;
    c.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 4,
    }))
    .await;
    assert_eq!(c.events_until(5, 7).await, got[4..7].to_vec());

    // Paced replay: 2 s of event time at 2x takes about 1 s.
    let paced = dir.join("paced.ndjson");
    std::fs::write(
        &paced,
        (0..5)
            .map(|i| {
                format!(
                    r#"{{"kind":"inventory","ts":{},"product":1,"quantity":{i}}}"#,
                    1_630_490_400_000i64 + i * 500
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let gw = Gateway::start(&["--replay", paced.to_str().unwrap(), "--speed", "2"]);
    let t0 = Instant::now();
    let early = gw.health()["head_seq"].as_u64().unwrap();
    assert!(
        early < 5,
        "not all at once: {early} events right after start"
    );
    let (_, got) = read_all(&gw, 5).await;
    assert_eq!(got.len(), 5);
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "paced by event time: {:?}",
        t0.elapsed()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // reason: one scenario, step by step
async fn ingest_accepts_good_lines_and_reports_bad_ones() {
    let dist = common::temp_dir("dist");
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>ShopPulse</title>",
    )
    .unwrap();
    std::fs::write(dist.join("app.js"), "console.log(1)").unwrap();
    let gw = Gateway::start(&["--dist", dist.to_str().unwrap()]);
    assert!(epoch_of(&gw).starts_with("ingest-"));

    let mut c = Client::connect(&gw.ws_url()).await;
    let opened = c.hello(None).await;
    assert_eq!(opened.head_seq, 0);
    match c.frame().await {
        ServerFrame::Snapshot { seq, state, .. } => {
            assert_eq!(seq, 0);
            let _: Engine = serde_json::from_str(state.get()).expect("state is an Engine");
        }
        other => panic!("expected snapshot, got {other:?}"),
    }

    let big = format!(
        r#"{{"user_id": 1, "action": "browse", "product_id": "{}"}}"#,
        "x".repeat(70_000)
    );
    let body = [
        r#"{"user_id": 1, "action": "browse", "product_id": 101}"#,
        r#"{"user_id": 1, "action": "add_to_cart", "product_id": 102}"#,
        r#"{"user_id": 2, "action": "purchase", "product_id": 103}"#,
        "{not json",
        r#"{"product_id": 101, "quantity": 100}"#,
        r#"{"product_id": 102, "quantity": 50}"#,
        r#"{"product_id": 103, "quantity": 0}"#,
        r#"{"kind": "sync", "order": 1, "channel": "web", "target": "payment", "status": "exploded"}"#,
        &big,
        r#"{"date": "2021-09-01", "sales": 1000}"#,
        r#"{"date": "2021-09-02", "sales": 1500}"#,
        r#"{"date": "2021-09-03", "sales": 1200}"#,
    ]
    .join("\n");
    let (status, answer) = gw.post("/ingest", body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["accepted"], 9);
    let rejected: Vec<(u64, String)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["reason"].as_str().unwrap().is_empty());
            (
                r["line"].as_u64().unwrap(),
                r["class"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (4, "malformed".to_owned()),
            (8, "bad_value".to_owned()),
            (9, "too_large".to_owned())
        ]
    );
    assert_eq!(v["first_seq"], 1);
    assert_eq!(v["last_seq"], 12);

    // Every line reaches the dashboard in order; bad lines as notices.
    let got = c.events_until(1, 12).await;
    for (i, json) in got.iter().enumerate() {
        let ev = decode_event(json, 0).unwrap();
        let line = i as u64 + 1;
        match (&ev.body, line) {
            (Body::Rejected(r), 4 | 8 | 9) => {
                assert_eq!(&*r.source, "ingest");
                assert_eq!(r.line, Some(line));
            }
            (Body::Rejected(_), _) => panic!("line {line} wrongly rejected"),
            (_, 4 | 8 | 9) => panic!("line {line} should be a notice"),
            _ => assert!(ev.ts_inferred, "no ts: arrival time, flagged"),
        }
    }

    // A second request numbers on.
    let (status, answer) = gw.post(
        "/ingest",
        b"{\"product_id\": 7, \"quantity\": 3, \"ts\": \"2024-01-01T00:00:00Z\"}\n",
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["first_seq"].as_u64()),
        (Some(1), Some(13))
    );
    let got = c.events_until(13, 13).await;
    assert!(!decode_event(&got[0], 0).unwrap().ts_inferred);

    // Health and metrics.
    let h = gw.health();
    assert_eq!(h["ok"], true);
    assert_eq!(h["head_seq"], 13);
    assert_eq!(h["connections"], 1);
    assert_eq!(
        gw.metric("shoppulse_feed_events_in_total{source=\"ingest\"}"),
        13
    );
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_total{class=\"malformed\"}"),
        1
    );
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_total{class=\"too_large\"}"),
        1
    );
    assert_eq!(
        gw.metric("shoppulse_feed_ingest_requests_total{outcome=\"ok\"}"),
        2
    );
    assert_eq!(gw.metric("shoppulse_feed_connections"), 1);
    assert_eq!(gw.metric("shoppulse_feed_history_events"), 13);
    assert!(gw.metric("shoppulse_feed_events_out_total") >= 13);
    assert!(gw.metric("shoppulse_feed_frames_sent_total{type=\"events\"}") >= 2);

    // Static files with index.html fallback.
    let (status, page) = gw.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("ShopPulse"));
    assert_eq!(gw.get("/app.js"), (200, "console.log(1)".to_owned()));
    let (status, page) = gw.get("/some/client/route");
    assert_eq!(status, 200);
    assert!(page.contains("ShopPulse"));
    std::fs::remove_dir_all(&dist).ok();
}

#[test]
fn oversized_ingest_body_gets_413_with_a_json_error() {
    let gw = Gateway::start(&["--max-body", "64KiB"]);
    // Declared too large: refused before reading the body.
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"POST /ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n",
    )
    .unwrap();
    let (status, body) = common::read_response(&mut s);
    assert_eq!(status, 413);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "too_large");
    assert_eq!(v["max_body"], 65536);
    // Chunked (no length): counted while streaming.
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    let chunk = "x".repeat(50_000);
    let req = format!(
        "POST /ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{n:x}\r\n{chunk}\r\n{n:x}\r\n{chunk}\r\n0\r\n\r\n",
        n = chunk.len()
    );
    let _ = std::io::Write::write_all(&mut s, req.as_bytes());
    let (status, body) = common::read_response(&mut s);
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        gw.metric("shoppulse_feed_ingest_requests_total{outcome=\"too_large\"}"),
        2
    );
    // Under the limit still works.
    let (status, _) = gw.post("/ingest", b"{\"product_id\": 1, \"quantity\": 1}\n");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::many_single_char_names)] // reason: clients a..f in order of connection
async fn reconnect_with_epoch_and_seq_gets_exactly_the_missed_events() {
    let gw = Gateway::start(&["--history", "20"]);
    let ingest = |from: u64, to: u64| {
        let mut body = String::new();
        for i in from..=to {
            let _ = writeln!(
                body,
                "{{\"product_id\": {i}, \"quantity\": {i}, \"ts\": {i}}}"
            );
        }
        let (status, _) = gw.post("/ingest", body.as_bytes());
        assert_eq!(status, 200);
    };
    let mut a = Client::connect(&gw.ws_url()).await;
    let opened = a.hello(None).await;
    let epoch = opened.epoch.clone();
    assert!(matches!(
        a.frame().await,
        ServerFrame::Snapshot { seq: 0, .. }
    ));
    ingest(1, 10);
    let seen = a.events_until(1, 10).await;
    assert_eq!(seen.len(), 10);
    drop(a); // the dashboard applied up to 5 only, say, and went away

    ingest(11, 15);
    let mut b = Client::connect(&gw.ws_url()).await;
    let opened = b
        .hello(Some(ResumePoint {
            epoch: epoch.clone(),
            seq: 5,
        }))
        .await;
    assert_eq!(opened.head_seq, 15);
    let missed = b.events_until(6, 15).await;
    let quantities: Vec<i64> = missed
        .iter()
        .map(|j| match decode_event(j, 0).unwrap().body {
            Body::Inventory(i) => i.quantity,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(quantities, (6..=15).collect::<Vec<_>>());
    // Then the live tail, with nothing in between.
    ingest(16, 16);
    assert_eq!(b.events_until(16, 16).await.len(), 1);
    assert_eq!(gw.metric("shoppulse_feed_resumes_total"), 1);

    // Up to date: nothing to replay, live continues.
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 16,
    }))
    .await;
    ingest(17, 17);
    assert_eq!(c.events_until(17, 17).await.len(), 1);

    // Another epoch: gap, then snapshot, then tail.
    let mut d = Client::connect(&gw.ws_url()).await;
    d.hello(Some(ResumePoint {
        epoch: "some-other-stream".into(),
        seq: 3,
    }))
    .await;
    match d.frame().await {
        ServerFrame::Gap {
            reason, requested, ..
        } => {
            assert_eq!(reason, "epoch_changed");
            assert_eq!(requested.unwrap().seq, 3);
        }
        other => panic!("expected gap, got {other:?}"),
    }
    assert!(matches!(
        d.frame().await,
        ServerFrame::Snapshot { seq: 17, .. }
    ));

    // History gone (holds 20 events: 18..=37 after this).
    ingest(18, 37);
    let mut e = Client::connect(&gw.ws_url()).await;
    let opened = e
        .hello(Some(ResumePoint {
            epoch: epoch.clone(),
            seq: 5,
        }))
        .await;
    assert_eq!(opened.oldest_seq, 18);
    match e.frame().await {
        ServerFrame::Gap {
            reason, oldest_seq, ..
        } => {
            assert_eq!(reason, "history_gone");
            assert_eq!(oldest_seq, 18);
        }
        other => panic!("expected gap, got {other:?}"),
    }
    assert!(matches!(
        e.frame().await,
        ServerFrame::Snapshot { seq: 37, .. }
    ));
    // ... while resuming from exactly the oldest held point still works.
    let mut f = Client::connect(&gw.ws_url()).await;
    f.hello(Some(ResumePoint { epoch, seq: 17 })).await;
    assert_eq!(f.events_until(18, 37).await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plus_tail_equals_the_full_stream() {
    const N: u64 = 8000;
    let gw = Gateway::start(&[
        "--simulate",
        "--seed",
        "5",
        "--rate",
        "2000",
        "--sim-start",
        SIM_START,
        "--sim-events",
        "8000",
    ]);
    let epoch = epoch_of(&gw);
    // A: everything from the start.
    let mut a = Client::connect(&gw.ws_url()).await;
    a.hello(Some(ResumePoint {
        epoch: epoch.clone(),
        seq: 0,
    }))
    .await;
    // B: joins mid-stream, takes a snapshot.
    let mut waited = 0;
    while gw.health()["head_seq"].as_u64().unwrap() < 2000 && waited < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    let mut b = Client::connect(&gw.ws_url()).await;
    b.hello(None).await;
    let (snap_seq, state) = match b.frame().await {
        ServerFrame::Snapshot { seq, state, .. } => (seq, state),
        other => panic!("expected snapshot, got {other:?}"),
    };
    assert!(
        snap_seq > 0 && snap_seq < N,
        "snapshot mid-stream at {snap_seq}"
    );
    let mut engine_b: Engine = serde_json::from_str(state.get()).expect("engine state");
    let tail = b.events_until(snap_seq + 1, N).await;
    for j in &tail {
        engine_b.apply(&decode_event(j, 0).unwrap());
    }
    let mut engine_a = Engine::default();
    for j in a.events_until(1, N).await {
        engine_a.apply(&decode_event(&j, 0).unwrap());
    }
    let (va, vb) = (engine_a.view(), engine_b.view());
    assert_eq!(va.health.applied, N);
    assert_eq!(
        vb.health.applied, va.health.applied,
        "no event lost or doubled"
    );
    assert_eq!(
        serde_json::to_value(&vb).unwrap(),
        serde_json::to_value(&va).unwrap(),
        "snapshot + tail gives the same view as the whole stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_client_is_dropped_without_blocking_a_fast_one() {
    let gw = Gateway::start(&[
        "--simulate",
        "--rate",
        "3000",
        // Room for a reader slowed by a loaded machine (regression: with 8
        // frames / 256 KiB the *fast* client was dropped at load 10), still
        // small enough for the stalled one to overflow within seconds.
        "--client-queue",
        "64",
        "--client-queue-bytes",
        "1MiB",
        "--flush-ms",
        "10",
    ]);
    let mut fast = Client::connect(&gw.ws_url()).await;
    fast.hello(None).await;
    assert!(matches!(fast.frame().await, ServerFrame::Snapshot { .. }));
    let mut stalled = Client::connect_small_buffer(gw.addr).await;
    stalled.hello(None).await;
    // `stalled` now reads nothing. `fast` keeps reading; the stall must not
    // hold it up, and the stalled one must be dropped.
    let started = Instant::now();
    let mut fast_events = 0usize;
    let mut next: Option<u64> = None;
    let mut dropped_at = None;
    let mut last_poll = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        match fast.try_frame(Duration::from_secs(2)).await {
            Some(ServerFrame::Events {
                first_seq, events, ..
            }) => {
                if let Some(n) = next {
                    assert_eq!(first_seq, n, "fast client sees consecutive events");
                }
                next = Some(first_seq + events.len() as u64);
                fast_events += events.len();
            }
            Some(ServerFrame::Heartbeat { .. }) => fast.heartbeat().await,
            Some(other) => panic!("fast client got {other:?}"),
            None => panic!("fast client starved after {:?}", started.elapsed()),
        }
        if last_poll.elapsed() > Duration::from_millis(100) {
            last_poll = Instant::now();
            if dropped_at.is_none()
                && gw.metric("shoppulse_feed_dropped_slow_connections_total") >= 1
            {
                dropped_at = Some(fast_events);
                break;
            }
        }
    }
    let dropped_at = dropped_at.expect("the stalled client was dropped as slow");
    // Keep the fast one going a little longer after the drop.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if let Some(ServerFrame::Events { events, .. }) =
            fast.try_frame(Duration::from_secs(2)).await
        {
            fast_events += events.len();
        }
    }
    assert!(
        fast_events > dropped_at,
        "fast client still served after the drop"
    );
    // The stalled client reads again: buffered events, then the error frame
    // and a close with a reason.
    let mut saw_error = false;
    let mut close_reason = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match stalled.raw(Duration::from_secs(5)).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                if let ServerFrame::Error { code, .. } = ServerFrame::parse(t.as_str()).unwrap() {
                    assert_eq!(code, "slow_consumer");
                    saw_error = true;
                }
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                close_reason = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(saw_error, "slow_consumer error frame delivered");
    assert_eq!(close_reason, Some((1013, "slow_consumer".to_owned())));
    // The gauge drops just after the close frame is sent: wait for it
    // (regression: `stalled_client_gauge_race`, seen under load 11).
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.metric("shoppulse_feed_connections") != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gw.metric("shoppulse_feed_connections"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hello_is_refused_with_an_error_frame() {
    let gw = Gateway::start(&[]);
    let mut c = Client::connect(&gw.ws_url()).await;
    c.send_text("{\"type\":\"subscribe\"}".into()).await;
    match c.frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, "bad_hello"),
        other => panic!("{other:?}"),
    }
    let mut c = Client::connect(&gw.ws_url()).await;
    c.send_text("{\"type\":\"hello\",\"protocol\":99}".into())
        .await;
    match c.frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, "unsupported_protocol"),
        other => panic!("{other:?}"),
    }
    // A client message over 64 KiB.
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(None).await;
    let _ = c.frame().await; // snapshot
    c.send_text(format!(
        "{{\"type\":\"heartbeat\",\"sent_ms\":0,\"pad\":\"{}\"}}",
        "x".repeat(70_000)
    ))
    .await;
    let mut saw = false;
    while let Some(f) = c.try_frame(Duration::from_secs(5)).await {
        if let ServerFrame::Error { code, .. } = f {
            assert_eq!(code, "too_large");
            saw = true;
        }
    }
    assert!(saw, "too_large error frame");
    assert!(gw.metric("shoppulse_feed_protocol_errors_total") >= 3);
}

/// A dashboard that asks for `bin1` gets binary `events` frames carrying
/// exactly the events a JSON dashboard gets, live and on resume; one that
/// does not ask keeps JSON.
#[tokio::test]
async fn json_and_bin1_dashboards_receive_the_same_events() {
    let gw = Gateway::start(&["--history", "1000"]);
    let mut body = String::new();
    for i in 1..=40u64 {
        let _ = match i % 4 {
            0 => writeln!(
                body,
                r#"{{"user_id": {i}, "action": "browse", "product_id": "SKU-{i}", "channel": "web", "ts": {i}}}"#
            ),
            1 => writeln!(
                body,
                r#"{{"product_id": 9007199254740993, "quantity": -{i}}}"#
            ),
            2 => writeln!(
                body,
                r#"{{"kind":"order","ts":{i},"order":"A-{i}","channel":"app","status":"paid","total_cents":1999,"currency":"GBP","lines":[{{"product":1,"quantity":2,"unit_price_cents":500}}]}}"#
            ),
            _ => writeln!(
                body,
                r#"{{"kind":"sync","ts":{i},"order":{i},"channel":"pos","target":"payment","status":"failed","error":"<b>\"boom\"</b>"}}"#
            ),
        };
    }
    body.push_str("not json\n");
    let bin1 = || Some(vec!["bin1".to_owned(), "json".to_owned()]);

    let mut json = Client::connect(&gw.ws_url()).await;
    let opened = json.hello(None).await;
    assert_eq!(opened.encoding, None, "JSON unless asked");
    assert!(matches!(
        json.frame().await,
        ServerFrame::Snapshot { seq: 0, .. }
    ));
    let mut bin = Client::connect(&gw.ws_url()).await;
    let opened = bin.hello_with(None, bin1()).await;
    assert_eq!(opened.encoding.as_deref(), Some("bin1"));
    assert!(matches!(
        bin.frame().await,
        ServerFrame::Snapshot { seq: 0, .. }
    ));

    let (status, _) = gw.post("/ingest", body.as_bytes());
    assert_eq!(status, 200);
    let from_json: Vec<_> = json
        .events_until(1, 41)
        .await
        .iter()
        .map(|j| decode_event(j, 0).expect("canonical JSON"))
        .collect();
    let from_bin = bin.bin1_events_until(1, 41).await;
    assert_eq!(from_bin.len(), 41);
    assert_eq!(from_bin, from_json, "the same events either way");
    assert!(
        matches!(from_bin[40].body, Body::Rejected(_)),
        "the rejection notice travels in binary too"
    );

    // Resume in binary: exactly the missed events.
    let mut again = Client::connect(&gw.ws_url()).await;
    again
        .hello_with(
            Some(ResumePoint {
                epoch: opened.epoch.clone(),
                seq: 30,
            }),
            bin1(),
        )
        .await;
    assert_eq!(again.bin1_events_until(31, 41).await, from_json[30..]);
}

/// A client that lists `snap1` gets its snapshot as one binary message
/// holding the same engine state a JSON client gets as text (same view,
/// same future); one that does not list it keeps the JSON snapshot.
#[tokio::test]
async fn snap1_clients_get_the_same_snapshot_in_binary() {
    let gw = Gateway::start(&["--history", "100"]);
    let mut body = String::new();
    for i in 1..=300u64 {
        let _ = writeln!(
            body,
            r#"{{"user_id": {}, "action": "{}", "product_id": "SKU-{}", "channel": "web", "ts": {i}}}"#,
            i % 17,
            ["browse", "add_to_cart", "purchase"][(i % 3) as usize],
            i % 23
        );
    }
    let (status, _) = gw.post("/ingest", body.as_bytes());
    assert_eq!(status, 200);
    // Wait until the gateway's engine holds all 300.
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.health()["head_seq"].as_u64() != Some(300) {
        assert!(Instant::now() < deadline, "ingest did not land");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut json = Client::connect(&gw.ws_url()).await;
    let opened = json.hello(None).await;
    let from_json: Engine = match json.frame().await {
        ServerFrame::Snapshot { seq, state, .. } => {
            assert_eq!(seq, 300);
            serde_json::from_str(state.get()).expect("a JSON engine state")
        }
        other => panic!("expected a JSON snapshot, got {other:?}"),
    };

    let mut bin = Client::connect(&gw.ws_url()).await;
    bin.hello_with(None, Some(vec!["snap1".to_owned(), "json".to_owned()]))
        .await;
    let bytes = match bin.raw(Duration::from_secs(20)).await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(b))) => b,
        other => panic!("expected a binary snapshot, got {other:?}"),
    };
    assert!(shoppulse_core::snapshot::is_snap1(&bytes));
    let snap = shoppulse_core::snapshot::decode(&bytes).expect("a snap1 frame");
    assert_eq!(
        (snap.epoch.as_str(), snap.seq),
        (opened.epoch.as_str(), 300)
    );
    assert_eq!(snap.engine.view(), from_json.view());
    assert_eq!(snap.engine.view().health.applied, 300);
    assert_eq!(
        gw.metric("shoppulse_feed_snapshot_bytes"),
        u64::try_from(bytes.len()).unwrap(),
        "the snapshot size metric reports what was sent"
    );
}

/// The dashboard's assets go out gzip-compressed when the browser accepts
/// it and `scripts/build.sh` left a `.gz` copy; byte-identical once
/// decompressed; plain for a client that does not accept gzip.
#[test]
fn dashboard_assets_are_served_precompressed_to_browsers_that_accept_gzip() {
    use std::io::{Read as _, Write as _};
    let dist = common::temp_dir("dist-gz");
    let wasm: Vec<u8> = (0..200_000u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(dist.join("app_bg.wasm"), &wasm).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&wasm).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(dist.join("app_bg.wasm.gz"), &gz).unwrap();
    let gw = Gateway::start(&["--dist", dist.to_str().unwrap()]);

    let fetch = |accept: Option<&str>| -> (String, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        let mut req = format!(
            "GET /app_bg.wasm HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            gw.addr
        );
        if let Some(a) = accept {
            let _ = write!(req, "Accept-Encoding: {a}\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        (head, raw[split + 4..].to_vec())
    };

    let (head, body) = fetch(Some("gzip, deflate, br"));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert_eq!(body.len(), gz.len(), "the .gz copy is what is sent");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, wasm);

    let (head, body) = fetch(None);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, wasm);
    std::fs::remove_dir_all(&dist).ok();
}
