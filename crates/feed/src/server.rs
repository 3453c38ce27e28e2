//! HTTP side: `/ws`, `/healthz`, `/metrics`, `POST /ingest`,
//! `POST /webhooks/...` ([`crate::webhooks`]), and the dashboard's static
//! files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};
use tracing::{info, warn};

use crate::hub::{now_ms, Hub};
use crate::lines::parse_ndjson;
use crate::metrics::{IngestOutcome, Source};
use crate::webhooks::{self, Secrets, Webhooks};
use crate::ws::{self, WsConfig};

/// Largest client WebSocket message or frame accepted.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Most rejected lines listed in one ingest answer (all are still counted
/// and sequenced).
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// Shared handler state.
#[derive(Clone, Debug)]
pub struct App {
    /// The hub.
    pub hub: Arc<Hub>,
    /// WebSocket timing.
    pub ws: WsConfig,
    /// `--max-body`.
    pub max_body: usize,
    /// The webhook routes' state (no source enabled unless configured).
    pub webhooks: Arc<Webhooks>,
    next_conn: Arc<AtomicU64>,
}

impl App {
    /// Handler state over `hub`.
    pub fn new(hub: Arc<Hub>, ws: WsConfig, max_body: usize) -> App {
        App {
            webhooks: Arc::new(Webhooks::new(hub.clone(), Secrets::default(), 0, max_body)),
            hub,
            ws,
            max_body,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Uses `webhooks` for the `/webhooks/...` routes.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<Webhooks>) -> App {
        self.webhooks = webhooks;
        self
    }
}

/// The router.
pub fn router(app: App, dist: Option<PathBuf>) -> Router {
    let hooks = webhooks::router(app.webhooks.clone());
    let r = Router::new()
        .route("/ws", get(ws_handler))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/ingest", post(ingest).layer(DefaultBodyLimit::disable()))
        .with_state(app)
        .merge(hooks);
    match dist {
        Some(dir) => {
            let index = dir.join("index.html");
            r.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => r,
    }
}

async fn ws_handler(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let id = app.next_conn.fetch_add(1, Ordering::Relaxed);
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| ws::serve(socket, app.hub, app.ws, id, peer.to_string()))
}

async fn healthz(State(app): State<App>) -> Json<serde_json::Value> {
    let g = app.hub.gauges();
    Json(json!({
        "ok": true,
        "epoch": app.hub.info.epoch,
        "head_seq": g.head_seq,
        "oldest_seq": g.oldest_seq,
        "history": g.events,
        "connections": app.hub.metrics.connections.load(Ordering::Relaxed),
        "source": app.hub.info.source,
        "uptime_s": app.hub.uptime_s(),
    }))
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let text = app.hub.metrics.render(app.hub.gauges(), app.hub.uptime_s());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

fn too_large(max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({
            "error": "too_large",
            "message": format!("request body over the limit of {max} bytes (--max-body); split it into smaller requests"),
            "max_body": max,
        })),
    )
        .into_response()
}

async fn ingest(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let max = app.max_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        app.hub.metrics.add_ingest(IngestOutcome::TooLarge);
        warn!(declared, max, "ingest body over --max-body");
        return too_large(max);
    }
    let mut buf = Vec::with_capacity(
        declared
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(max),
    );
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if buf.len() + bytes.len() > max {
                    app.hub.metrics.add_ingest(IngestOutcome::TooLarge);
                    warn!(max, "ingest body over --max-body");
                    return too_large(max);
                }
                buf.extend_from_slice(&bytes);
            }
            Err(e) => {
                app.hub.metrics.add_ingest(IngestOutcome::Error);
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "bad_body", "message": e.to_string()})),
                )
                    .into_response();
            }
        }
    }
    let arrival = now_ms();
    let hub = app.hub.clone();
    let work = tokio::task::spawn_blocking(move || {
        let parsed = parse_ndjson(&buf, arrival, "ingest");
        let seqs = hub.publish(&parsed.events, Source::Ingest);
        (parsed, seqs)
    })
    .await;
    let Ok((parsed, seqs)) = work else {
        app.hub.metrics.add_ingest(IngestOutcome::Error);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "internal", "message": "ingest worker failed"})),
        )
            .into_response();
    };
    app.hub.metrics.add_ingest(IngestOutcome::Ok);
    let total_rejected = parsed.rejected.len();
    info!(
        accepted = parsed.accepted,
        rejected = total_rejected,
        "ingest"
    );
    let mut listed = parsed.rejected;
    listed.truncate(MAX_LISTED_REJECTIONS);
    Json(json!({
        "accepted": parsed.accepted,
        "rejected": listed,
        "rejected_total": total_rejected,
        "first_seq": seqs.map(|s| s.0),
        "last_seq": seqs.map(|s| s.1),
    }))
    .into_response()
}
