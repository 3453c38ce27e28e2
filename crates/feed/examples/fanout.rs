//! Load client: `cargo run --release -p shoppulse-feed --example fanout --
//! ws://127.0.0.1:9001/ws CLIENTS SECONDS [json|bin1] [GATEWAY_PID]`. Opens
//! CLIENTS dashboard connections (hello without resume, asking for the
//! given encoding of `events` frames, JSON by default), reads for SECONDS
//! and prints events received per second in all, bytes per second and the
//! slowest client's count. Each client sends heartbeats and checks that
//! sequence numbers are consecutive (and, with `bin1`, that every frame
//! parses). With the gateway's PID it also prints the gateway's CPU use over
//! the run (Linux `/proc`) and its resident memory at the end and at peak.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use shoppulse_core::binary::{Frame, BIN1};
use shoppulse_core::frame::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
#[allow(clippy::too_many_lines)] // reason: a load client that reads top to bottom: connect, read, report
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "ws://127.0.0.1:9001/ws".into());
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let bin1 = args.get(4).is_some_and(|e| e == BIN1);
    let pid: Option<u32> = args.get(5).and_then(|s| s.parse().ok());
    let total = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        let total = total.clone();
        let bytes = bytes.clone();
        tasks.push(tokio::spawn(async move {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                return (0u64, "connect failed".to_owned());
            };
            let hello = ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                resume: None,
                encoding: None,
                shops: None,
                encodings: bin1.then(|| vec![BIN1.to_owned(), "json".to_owned()]),
                token: None,
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
                let t = match msg {
                    Message::Text(t) => t,
                    Message::Binary(b) => {
                        bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                        let f = match Frame::parse(&b) {
                            Ok(f) => f,
                            Err(e) => return (mine, format!("bad bin1 frame: {e}")),
                        };
                        if next.is_some_and(|n| n != f.first_seq) {
                            return (mine, format!("gap at {}", f.first_seq));
                        }
                        next = Some(f.covered_to() + 1);
                        mine += f.count as u64;
                        total.fetch_add(f.count as u64, Ordering::Relaxed);
                        continue;
                    }
                    _ => continue,
                };
                bytes.fetch_add(t.len() as u64, Ordering::Relaxed);
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
    let cpu0 = pid.and_then(cpu_ticks);
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
    let cpu1 = pid.and_then(cpu_ticks);
    println!(
        "{clients} clients ({}), {secs:.1} s: {sum} events ({:.0}/s in all, {:.1} MB/s), slowest client {min} ({:.0}/s); outcomes {outcomes:?}",
        if bin1 { BIN1 } else { "json" },
        sum as f64 / secs,
        bytes.load(Ordering::Relaxed) as f64 / secs / 1e6,
        min as f64 / secs
    );
    if let (Some(pid), Some(a), Some(b)) = (pid, cpu0, cpu1) {
        // USER_HZ is 100 on Linux.
        println!(
            "gateway pid {pid}: {:.0}% of one core over the run; RSS {} (peak {})",
            (b - a) as f64 / secs,
            status_field(pid, "VmRSS:").unwrap_or_default(),
            status_field(pid, "VmHWM:").unwrap_or_default()
        );
    }
}

/// User + system CPU ticks of a process (`/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `/proc/PID/status` line's value (`VmRSS:` → `93244 kB`).
fn status_field(pid: u32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
}
