//! One dashboard connection: protocol v1 over a WebSocket.
//!
//! 1. The dashboard sends `hello` (optionally with a resume point) within
//!    `--client-timeout`.
//! 2. The gateway answers `hello`, then either the missed events (resume) or
//!    `gap` (when resume is impossible) and a `snapshot`, then live `events`.
//! 3. `heartbeat` every `--heartbeat-ms` when nothing else is sent; the
//!    dashboard must send something (a heartbeat) at least every
//!    `--client-timeout`, or it is closed with `timeout`.
//! 4. A dashboard whose queue overflows gets `error` `slow_consumer` and a
//!    WebSocket close (code 1013, "try again later"); it is expected to
//!    reconnect and resume.
//!
//! The reader and the writer are separate tasks, so a stalled socket blocks
//! only its own writer; the hub never waits for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shoppulse_core::binary::BIN1;
use shoppulse_core::frame::{ClientFrame, ServerFrame, Token, PROTOCOL_VERSION};
use shoppulse_core::snapshot::SNAP1;
use tracing::{debug, info, warn, Instrument};

use crate::hub::{now_ms, CloseReason, Encoding, Hub, Kill, Payload, SnapshotBody, Start};
use crate::metrics::FrameType;
use crate::pace::Pace;
use crate::security::counters::Refusal;
use crate::security::tokens::Role;
use crate::security::Security;
use crate::shops::{Router, ShopFilter};

/// Connection timing.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Idle time after which the gateway sends a heartbeat.
    pub heartbeat: Duration,
    /// Silence from the dashboard after which it is closed.
    pub client_timeout: Duration,
    /// Time allowed to deliver the closing `error` and close frames.
    pub close_grace: Duration,
    /// Token check of the hello (open by default).
    pub security: Arc<Security>,
    /// Rates at which resumed history goes out (`--resume-pace`); `None`:
    /// as fast as the socket takes it.
    pub resume_pace: Option<Arc<Pace>>,
}

type Sink = SplitSink<WebSocket, Message>;

/// Serves one upgraded socket until it closes. `router` (a gateway on a
/// shared NATS stream) picks the hub for the shops the dashboard asks for.
pub async fn serve(
    socket: WebSocket,
    hub: Arc<Hub>,
    cfg: WsConfig,
    id: u64,
    peer: String,
    router: Option<Arc<Router>>,
) {
    let span = tracing::info_span!("conn", id, peer = %peer);
    async move {
        hub.metrics.connections.fetch_add(1, Ordering::Relaxed);
        hub.metrics
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        info!("dashboard connected");
        let reason = run(socket, &hub, &cfg, id, router.as_deref()).await;
        hub.leave(id);
        hub.metrics.connections.fetch_sub(1, Ordering::Relaxed);
        info!(reason = ?reason, "dashboard disconnected");
    }
    .instrument(span)
    .await;
}

async fn send_frame(sink: &mut Sink, hub: &Hub, ty: FrameType, body: Payload) -> bool {
    let len = body.len();
    let msg = match body {
        Payload::Text(t) => Message::Text(t),
        Payload::Binary(b) => Message::Binary(b),
    };
    if sink.send(msg).await.is_ok() {
        hub.metrics.add_frame(ty, len);
        true
    } else {
        false
    }
}

/// Sends unless the connection is told to close first.
async fn send_or_kill(
    sink: &mut Sink,
    hub: &Hub,
    kill: &Kill,
    ty: FrameType,
    body: Utf8Bytes,
) -> Result<(), CloseReason> {
    send_payload_or_kill(sink, hub, kill, ty, Payload::Text(body)).await
}

/// [`send_or_kill`] for a text or binary message.
async fn send_payload_or_kill(
    sink: &mut Sink,
    hub: &Hub,
    kill: &Kill,
    ty: FrameType,
    body: Payload,
) -> Result<(), CloseReason> {
    tokio::select! {
        biased;
        r = kill.fired() => Err(r),
        ok = send_frame(sink, hub, ty, body) => if ok { Ok(()) } else { Err(CloseReason::ClientGone) },
    }
}

async fn send_heartbeat(sink: &mut Sink, hub: &Hub, kill: &Kill) -> Result<(), CloseReason> {
    let hb = ServerFrame::Heartbeat {
        sent_ms: now_ms(),
        head_seq: hub.head_seq(),
    };
    send_or_kill(
        sink,
        hub,
        kill,
        FrameType::Heartbeat,
        Utf8Bytes::from(hb.to_json()),
    )
    .await
}

/// Waits for `work` while sending a heartbeat after every `every` of
/// silence, unless the connection is told to close first.
async fn keep_alive<T>(
    sink: &mut Sink,
    hub: &Hub,
    kill: &Kill,
    every: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, CloseReason> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            r = kill.fired() => return Err(r),
            out = &mut work => return Ok(out),
            () = tokio::time::sleep(every) => send_heartbeat(sink, hub, kill).await?,
        }
    }
}

enum HelloError {
    Gone,
    Timeout,
    Bad(String),
    TooLarge,
}

async fn read_hello(
    stream: &mut SplitStream<WebSocket>,
    limit: Duration,
) -> Result<ClientFrame, HelloError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let msg = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(HelloError::Timeout),
            Ok(None) => return Err(HelloError::Gone),
            Ok(Some(Err(e))) => {
                return Err(if is_capacity(&e) {
                    HelloError::TooLarge
                } else if is_violation(&e) {
                    HelloError::Bad(format!("unreadable frame: {e}"))
                } else {
                    HelloError::Gone
                })
            }
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(t) => {
                return match serde_json::from_str::<ClientFrame>(t.as_str()) {
                    Ok(f @ ClientFrame::Hello { .. }) => Ok(f),
                    Ok(ClientFrame::Heartbeat { .. }) => continue,
                    Err(e) => Err(HelloError::Bad(format!("expected a hello frame: {e}"))),
                }
            }
            Message::Binary(_) => {
                return Err(HelloError::Bad(
                    "binary frames are not part of protocol v1".into(),
                ))
            }
            Message::Close(_) => return Err(HelloError::Gone),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

/// The hub for the shops asked for: the gateway's own without a filter;
/// with one, the router's filter hub (only on a shared NATS stream).
fn pick_hub(
    hub: &Arc<Hub>,
    router: Option<&Router>,
    shops: Option<&[String]>,
) -> Result<Arc<Hub>, (&'static str, String)> {
    let filter = ShopFilter::parse(shops).map_err(|e| ("bad_hello", e))?;
    if filter.is_all() {
        return Ok(hub.clone());
    }
    match router {
        Some(r) => r.hub_for(&filter).map_err(|e| ("too_many_filters", e)),
        None => Err((
            "bad_hello",
            "this gateway serves one shop's stream (no --nats): leave `shops` out".to_owned(),
        )),
    }
}

fn is_capacity(e: &axum::Error) -> bool {
    let s = e.to_string();
    s.contains("Space limit exceeded") || s.contains("capacity") || s.contains("too long")
}

/// A frame that breaks the WebSocket rules (invalid UTF-8 in a text frame,
/// reserved bits, bad opcodes...), as opposed to a connection that went away.
fn is_violation(e: &axum::Error) -> bool {
    let s = e.to_string();
    s.starts_with("UTF-8 encoding error")
        || (s.starts_with("WebSocket protocol error") && !s.contains("reset without closing"))
}

fn error_frame(code: &str, message: &str) -> Utf8Bytes {
    Utf8Bytes::from(
        ServerFrame::Error {
            code: code.into(),
            message: message.into(),
        }
        .to_json(),
    )
}

async fn close_with(
    sink: &mut Sink,
    hub: &Hub,
    grace: Duration,
    code: Option<(&str, &str)>,
    close_code: u16,
    reason: &str,
) {
    let work = async {
        if let Some((c, m)) = code {
            send_frame(
                sink,
                hub,
                FrameType::Error,
                Payload::Text(error_frame(c, m)),
            )
            .await;
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: close_code,
                reason: Utf8Bytes::from(reason.to_owned()),
            })))
            .await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(grace, work).await;
}

#[allow(clippy::too_many_lines)] // reason: the connection's life in order reads best as one function
async fn run(
    socket: WebSocket,
    hub: &Arc<Hub>,
    cfg: &WsConfig,
    id: u64,
    router: Option<&Router>,
) -> CloseReason {
    let (mut sink, mut stream) = socket.split();
    let hello = match read_hello(&mut stream, cfg.client_timeout).await {
        Ok(h) => h,
        Err(HelloError::Gone) => return CloseReason::ClientGone,
        Err(HelloError::Timeout) => {
            hub.metrics.client_timeouts.fetch_add(1, Ordering::Relaxed);
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("timeout", "no hello received")),
                1008,
                "timeout",
            )
            .await;
            return CloseReason::ClientTimeout;
        }
        Err(HelloError::TooLarge) => {
            hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
            hub.metrics.security.add(Refusal::MessageTooLarge);
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("too_large", "client message over 64 KiB")),
                1009,
                "too_large",
            )
            .await;
            return CloseReason::TooLarge;
        }
        Err(HelloError::Bad(msg)) => {
            hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
            warn!(%msg, "bad hello");
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("bad_hello", &msg)),
                1002,
                "bad_hello",
            )
            .await;
            return CloseReason::Protocol;
        }
    };
    let snap1 = hello.accepts(SNAP1);
    let encoding = if hello.accepts_bin1() {
        Encoding::Bin1
    } else {
        Encoding::Json
    };
    let ClientFrame::Hello {
        protocol,
        resume,
        shops,
        token,
        ..
    } = hello
    else {
        return CloseReason::Protocol;
    };
    if let Err(denied) = cfg
        .security
        .check_viewer(hub, token.as_ref().map(Token::expose))
    {
        warn!(
            reason = denied.as_str(),
            "unauthorized: no valid viewer token in hello"
        );
        close_with(
            &mut sink,
            hub,
            cfg.close_grace,
            Some(("unauthorized", &denied.message(Role::Viewer))),
            1008,
            "unauthorized",
        )
        .await;
        return CloseReason::Protocol;
    }
    if protocol != PROTOCOL_VERSION {
        hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("this gateway speaks protocol {PROTOCOL_VERSION}, not {protocol}");
        close_with(
            &mut sink,
            hub,
            cfg.close_grace,
            Some(("unsupported_protocol", &msg)),
            1002,
            "unsupported_protocol",
        )
        .await;
        return CloseReason::Protocol;
    }

    // Building a new shop filter's hub replays the window: off the runtime.
    let picked = if shops.is_some() && router.is_some() {
        tokio::task::block_in_place(|| pick_hub(hub, router, shops.as_deref()))
    } else {
        pick_hub(hub, router, shops.as_deref())
    };
    let picked = match picked {
        Ok(h) => h,
        Err((code, msg)) => {
            hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
            warn!(%msg, "shop filter refused");
            let close = if code == "bad_hello" { 1002 } else { 1013 };
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some((code, &msg)),
                close,
                code,
            )
            .await;
            return CloseReason::Protocol;
        }
    };
    let hub = &picked;
    let joined = hub.join_with(id, resume.as_ref(), encoding, snap1);
    let mut sub = joined.sub;
    let kill = sub.kill.clone();
    debug!(resume = ?resume, head = joined.head_seq, "joined");

    // Reader: liveness and protocol checks.
    let reader = {
        let kill = kill.clone();
        let hub = hub.clone();
        let timeout = cfg.client_timeout;
        tokio::spawn(
            async move {
                loop {
                    match tokio::time::timeout(timeout, stream.next()).await {
                        Err(_) => {
                            hub.metrics.client_timeouts.fetch_add(1, Ordering::Relaxed);
                            kill.fire(CloseReason::ClientTimeout);
                            return;
                        }
                        Ok(None | Some(Ok(Message::Close(_)))) => {
                            kill.fire(CloseReason::ClientGone);
                            return;
                        }
                        Ok(Some(Err(e))) => {
                            if is_capacity(&e) {
                                hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                                hub.metrics.security.add(Refusal::MessageTooLarge);
                                kill.fire(CloseReason::TooLarge);
                            } else if is_violation(&e) {
                                warn!(error = %e, "client broke the WebSocket rules");
                                hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                                kill.fire(CloseReason::Protocol);
                            } else {
                                kill.fire(CloseReason::ClientGone);
                            }
                            return;
                        }
                        Ok(Some(Ok(Message::Text(t)))) => {
                            match serde_json::from_str::<ClientFrame>(t.as_str()) {
                                Ok(_) => {}
                                Err(e) => {
                                    warn!(error = %e, "unreadable client frame");
                                    hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                                    kill.fire(CloseReason::Protocol);
                                    return;
                                }
                            }
                        }
                        Ok(Some(Ok(Message::Binary(_)))) => {
                            hub.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                            kill.fire(CloseReason::Protocol);
                            return;
                        }
                        Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                    }
                }
            }
            .in_current_span(),
        )
    };

    let result = async {
        let hello = ServerFrame::Hello {
            protocol: PROTOCOL_VERSION,
            epoch: hub.info.epoch.clone(),
            head_seq: joined.head_seq,
            oldest_seq: joined.oldest_seq,
            server: format!("shoppulse-feed/{}", env!("CARGO_PKG_VERSION")),
            source: hub.info.source.clone(),
            replay_speed: hub.info.replay_speed,
            encodings: vec!["json".into(), BIN1.into(), SNAP1.into()],
            encoding: (encoding == Encoding::Bin1).then(|| BIN1.to_owned()),
        };
        send_or_kill(
            &mut sink,
            hub,
            &kill,
            FrameType::Hello,
            Utf8Bytes::from(hello.to_json()),
        )
        .await?;
        match joined.start {
            Start::Snapshot { gap, seq, state } => {
                if let Some(reason) = gap {
                    let gap = ServerFrame::Gap {
                        epoch: hub.info.epoch.clone(),
                        requested: resume.clone(),
                        oldest_seq: joined.oldest_seq,
                        reason: reason.into(),
                    };
                    info!(reason, requested = ?resume, "resume impossible, sending snapshot");
                    send_or_kill(
                        &mut sink,
                        hub,
                        &kill,
                        FrameType::Gap,
                        Utf8Bytes::from(gap.to_json()),
                    )
                    .await?;
                }
                hub.metrics
                    .snapshot_bytes
                    .store(state.len() as u64, Ordering::Relaxed);
                let payload = match state {
                    SnapshotBody::Snap1(bytes) => Payload::Binary(bytes),
                    SnapshotBody::Json(state) => {
                        let epoch = serde_json::to_string(&hub.info.epoch).unwrap_or_default();
                        let mut frame = String::with_capacity(state.len() + 64);
                        frame.push_str(r#"{"type":"snapshot","epoch":"#);
                        frame.push_str(&epoch);
                        frame.push_str(r#","seq":"#);
                        frame.push_str(&seq.to_string());
                        frame.push_str(r#","state":"#);
                        frame.push_str(&state);
                        frame.push('}');
                        Payload::Text(frame.into())
                    }
                };
                send_payload_or_kill(&mut sink, hub, &kill, FrameType::Snapshot, payload).await?;
            }
            Start::Resume {
                first_seq,
                last_seq,
                seqs,
                events,
            } => {
                info!(first_seq, missed = events.len(), "resuming");
                // Encoding a long history takes a while (about 0.75 s per
                // million events in `bin1`): off the runtime, with
                // heartbeats meanwhile, so the dashboard does not take the
                // silence for a dead gateway.
                let build = {
                    let hub = Arc::clone(hub);
                    tokio::task::spawn_blocking(move || {
                        hub.resume_frames(encoding, first_seq, last_seq, &seqs, &events)
                    })
                };
                let frames = keep_alive(&mut sink, hub, &kill, cfg.heartbeat, build)
                    .await?
                    .map_err(|e| {
                        warn!(error = %e, "building the resume frames failed");
                        CloseReason::Shutdown
                    })?;
                let paced = cfg.resume_pace.as_deref().map(|p| {
                    hub.metrics
                        .pace_started_ms
                        .store(u64::try_from(now_ms()).unwrap_or(0), Ordering::Relaxed);
                    (p, tokio::time::Instant::now())
                });
                let mut sent = 0u64;
                for (frame, n) in frames {
                    sent += n as u64;
                    if let Some(at) = paced.and_then(|(p, t0)| p.due(sent).map(|d| t0 + d)) {
                        let wait = tokio::time::sleep_until(at);
                        keep_alive(&mut sink, hub, &kill, cfg.heartbeat, wait).await?;
                    }
                    send_payload_or_kill(&mut sink, hub, &kill, FrameType::Events, frame).await?;
                    hub.metrics.events_out.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
        let mut heartbeat = tokio::time::interval(cfg.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.reset();
        loop {
            tokio::select! {
                biased;
                r = kill.fired() => return Err::<(), CloseReason>(r),
                out = sub.rx.recv() => {
                    let Some(out) = out else {
                        // The hub dropped us; the kill switch says why.
                        return Err(kill.reason().unwrap_or(CloseReason::SlowConsumer));
                    };
                    let len = out.payload.len();
                    let res = send_payload_or_kill(&mut sink, hub, &kill, FrameType::Events, out.payload).await;
                    sub.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                    res?;
                    hub.metrics.events_out.fetch_add(u64::from(out.events), Ordering::Relaxed);
                    heartbeat.reset();
                }
                _ = heartbeat.tick() => send_heartbeat(&mut sink, hub, &kill).await?,
            }
        }
    }
    .await;
    hub.leave(id);
    drop(sub);
    let reason = match result {
        Ok(()) => CloseReason::ClientGone,
        Err(r) => r,
    };
    match reason {
        CloseReason::SlowConsumer => {
            warn!("slow consumer: queue overflowed, closing");
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some((
                    "slow_consumer",
                    "your queue overflowed; reconnect and resume from your last sequence number",
                )),
                1013,
                "slow_consumer",
            )
            .await;
        }
        CloseReason::ClientTimeout => {
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("timeout", "nothing received from the dashboard in time")),
                1008,
                "timeout",
            )
            .await;
        }
        CloseReason::Protocol => {
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("bad_frame", "unreadable or unexpected client frame")),
                1002,
                "bad_frame",
            )
            .await;
        }
        CloseReason::TooLarge => {
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("too_large", "client message over 64 KiB")),
                1009,
                "too_large",
            )
            .await;
        }
        CloseReason::Shutdown => {
            close_with(
                &mut sink,
                hub,
                cfg.close_grace,
                Some(("shutdown", "the gateway is stopping")),
                1001,
                "shutdown",
            )
            .await;
        }
        CloseReason::ClientGone => {
            let _ = tokio::time::timeout(cfg.close_grace, sink.close()).await;
        }
    }
    reader.abort();
    reason
}
