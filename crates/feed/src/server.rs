//! HTTP side: `/ws`, `/healthz`, `/metrics`, `POST /ingest`,
//! `POST /webhooks/...` ([`crate::webhooks`]), and the dashboard's static
//! files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
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
use crate::nats::NatsGateway;
use crate::security::{self, IngestClient, Security};
use crate::shops::{check_served_shop, DEFAULT_SHOP};
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
    /// The shared stream, with `--nats`.
    pub nats: Option<Arc<NatsGateway>>,
    /// Tokens, origins, limits, headers (open by default).
    pub security: Arc<Security>,
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
            nats: None,
            security: Arc::new(Security::open()),
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Uses `webhooks` for the `/webhooks/...` routes.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<Webhooks>) -> App {
        self.webhooks = webhooks;
        self
    }

    /// The same, serving a shared NATS stream: `/ingest` publishes there and
    /// dashboards may ask for some shops.
    #[must_use]
    pub fn with_nats(mut self, nats: Arc<NatsGateway>) -> App {
        self.nats = Some(nats);
        self
    }

    /// The same handlers under `security`.
    #[must_use]
    pub fn with_security(mut self, security: Arc<Security>) -> App {
        self.ws.security = Arc::clone(&security);
        self.security = security;
        self
    }
}

/// The router.
pub fn router(app: App, dist: Option<PathBuf>) -> Router {
    let hooks = webhooks::router(app.webhooks.clone());
    let guard = axum::middleware::from_fn_with_state(app.clone(), security::guard);
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
            // `scripts/build.sh` writes a gzip -9 copy beside each asset
            // (`x.wasm.gz`): served as `Content-Encoding: gzip` to browsers
            // that accept it (the wasm is 2.4x smaller on the wire), the
            // plain file otherwise or when there is no copy.
            r.fallback_service(
                ServeDir::new(dir)
                    .precompressed_gzip()
                    .fallback(ServeFile::new(index)),
            )
        }
        None => r,
    }
    .layer(guard)
}

async fn ws_handler(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let slot = match app.security.admit_ws(&app.hub, &headers, peer.ip()) {
        Ok(slot) => slot,
        Err(refused) => return refused,
    };
    let id = app.next_conn.fetch_add(1, Ordering::Relaxed);
    let router = app.nats.as_ref().map(|n| n.router.clone());
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            ws::serve(socket, app.hub, app.ws, id, peer.to_string(), router).await;
        })
}

async fn healthz(State(app): State<App>) -> Json<serde_json::Value> {
    let g = app.hub.gauges();
    let mut health = json!({
        "ok": true,
        "epoch": app.hub.info.epoch,
        "head_seq": g.head_seq,
        "oldest_seq": g.oldest_seq,
        "history": g.events,
        "connections": app.hub.metrics.connections.load(Ordering::Relaxed),
        "source": app.hub.info.source,
        "uptime_s": app.hub.uptime_s(),
    });
    if let Some(n) = &app.nats {
        health["nats"] = n.link.health(&n.router);
    }
    let paced = app.hub.metrics.pace_started_ms.load(Ordering::Relaxed);
    if paced > 0 {
        health["resume_pace_started_ms"] = paced.into();
    }
    Json(health)
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let mut text = app.hub.metrics.render(app.hub.gauges(), app.hub.uptime_s());
    if let Some(n) = &app.nats {
        text.push_str(&n.link.render_metrics(&n.router));
    }
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

/// `POST /ingest` query: `?shop=NAME`.
#[derive(Debug, serde::Deserialize)]
pub struct IngestQuery {
    /// The shop the events belong to (default `default`).
    pub shop: Option<String>,
}

fn bad_shop(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "bad_shop", "message": message})),
    )
        .into_response()
}

/// Reads an ingest body up to `--max-body`: `Err` is the refusal to send
/// (413 over the limit, 400 for a broken body), already counted.
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    let max = app.max_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        app.hub.metrics.add_ingest(IngestOutcome::TooLarge);
        warn!(declared, max, "ingest body over --max-body");
        return Err(too_large(max));
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
                    return Err(too_large(max));
                }
                buf.extend_from_slice(&bytes);
            }
            Err(e) => {
                app.hub.metrics.add_ingest(IngestOutcome::Error);
                return Err((
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "bad_body", "message": e.to_string()})),
                )
                    .into_response());
            }
        }
    }
    Ok(buf)
}

async fn ingest(
    State(app): State<App>,
    client: Option<axum::Extension<IngestClient>>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let shop = query.shop.unwrap_or_else(|| DEFAULT_SHOP.to_owned());
    if let Err(e) = check_served_shop(&shop, app.nats.is_some()) {
        app.hub.metrics.add_ingest(IngestOutcome::Error);
        return bad_shop(&e);
    }
    let buf = match read_body(&app, &headers, body).await {
        Ok(buf) => buf,
        Err(refused) => return refused,
    };
    let arrival = now_ms();
    if let Some(nats) = app.nats.clone() {
        let Ok(key) = idempotency_key(&headers) else {
            app.hub.metrics.add_ingest(IngestOutcome::Error);
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "bad_idempotency_key",
                    "message": "Idempotency-Key must be 1 to 128 visible ASCII characters"})),
            )
                .into_response();
        };
        return ingest_nats(
            &app,
            client.as_deref(),
            &nats,
            &shop,
            buf,
            arrival,
            key.as_deref(),
        )
        .await;
    }
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
    app.security
        .charge_ingest(client.as_deref(), parsed.events.len() as u64);
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

/// The client's `Idempotency-Key` header: 1 to 128 visible ASCII
/// characters; `Err` for anything else.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ()> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(k)) if (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        Some(_) => Err(()),
    }
}

/// `/ingest` with `--nats`: decode here, publish to the stream, answer with
/// the stream sequence numbers (the gateways' hubs take the events when they
/// consume them).
async fn ingest_nats(
    app: &App,
    client: Option<&IngestClient>,
    nats: &NatsGateway,
    shop: &str,
    buf: Vec<u8>,
    arrival: i64,
    key: Option<&str>,
) -> Response {
    let Ok(parsed) =
        tokio::task::spawn_blocking(move || parse_ndjson(&buf, arrival, "ingest")).await
    else {
        app.hub.metrics.add_ingest(IngestOutcome::Error);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "internal", "message": "ingest worker failed"})),
        )
            .into_response();
    };
    let total_rejected = parsed.rejected.len();
    match nats.ingest(shop, &parsed.events, key).await {
        Ok(seqs) => {
            app.hub.metrics.add_ingest(IngestOutcome::Ok);
            app.security
                .charge_ingest(client, parsed.events.len() as u64);
            info!(
                accepted = parsed.accepted,
                rejected = total_rejected,
                shop,
                "ingest published"
            );
            let mut listed = parsed.rejected;
            listed.truncate(MAX_LISTED_REJECTIONS);
            Json(json!({
                "accepted": parsed.accepted,
                "rejected": listed,
                "rejected_total": total_rejected,
                "first_seq": seqs.iter().min(),
                "last_seq": seqs.iter().max(),
                "shop": shop,
            }))
            .into_response()
        }
        Err(f) => {
            app.hub.metrics.add_ingest(IngestOutcome::Error);
            warn!(stored = f.stored, total = f.total, error = %f.error, "ingest: NATS did not store every event");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(f.answer("send the same body again with the same Idempotency-Key header")),
            )
                .into_response()
        }
    }
}
