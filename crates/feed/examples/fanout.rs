//! Load client: `cargo run --release -p shoppulse-feed --example fanout --
//! ws://127.0.0.1:9001/ws CLIENTS SECONDS`. Opens CLIENTS dashboard
//! connections (hello without resume), reads for SECONDS and prints events
//! received per second in all and the slowest client's count. Each client
//! sends heartbeats and checks that sequence numbers are consecutive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shoppulse_core::frame::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "ws://127.0.0.1:9001/ws".into());
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let total = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        let total = total.clone();
        tasks.push(tokio::spawn(async move {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                return (0u64, "connect failed".to_owned());
            };
            let hello = ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                resume: None,
                encoding: None,
                shops: None,
            };
            let text = serde_json::to_string(&hello).unwrap_or_default();
            if ws.send(Message::Text(text.into())).await.is_err() {
                return (0, "send failed".into());
            }
            let end = Instant::now() + Duration::from_secs(secs);
            let mut mine = 0u64;
            let mut next: Option<u64> = None;
            let mut last_hb = Instant::now();
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(end.into(), ws.next()).await {
                if last_hb.elapsed() > Duration::from_secs(2) {
                    last_hb = Instant::now();
                    let hb = serde_json::to_string(&ClientFrame::Heartbeat { sent_ms: 0 })
                        .unwrap_or_default();
                    let _ = ws.send(Message::Text(hb.into())).await;
                }
                let Message::Text(t) = msg else { continue };
                match ServerFrame::parse(t.as_str()) {
                    Ok(ServerFrame::Snapshot { seq, .. }) => next = Some(seq + 1),
                    Ok(ServerFrame::Events {
                        first_seq, events, ..
                    }) => {
                        if next.is_some_and(|n| n != first_seq) {
                            return (mine, format!("gap at {first_seq}"));
                        }
                        next = Some(first_seq + events.len() as u64);
                        mine += events.len() as u64;
                        total.fetch_add(events.len() as u64, Ordering::Relaxed);
                    }
                    Ok(ServerFrame::Error { code, .. }) => return (mine, code),
                    _ => {}
                }
            }
            (mine, "ok".into())
        }));
    }
    let started = Instant::now();
    let mut per_client = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            per_client.push(r);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let sum = total.load(Ordering::Relaxed);
    let min = per_client.iter().map(|r| r.0).min().unwrap_or(0);
    let mut outcomes = std::collections::BTreeMap::new();
    for (_, o) in &per_client {
        *outcomes.entry(o.clone()).or_insert(0) += 1;
    }
    println!(
        "{clients} clients, {secs:.1} s: {sum} events ({:.0}/s in all), slowest client {min} ({:.0}/s); outcomes {outcomes:?}",
        sum as f64 / secs,
        min as f64 / secs
    );
}
