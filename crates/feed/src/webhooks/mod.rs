//! Webhooks from real shops and tracking tools, mapped to protocol events.
//!
//! `POST /webhooks/shopify`, `/webhooks/woocommerce`, `/webhooks/segment`
//! and `/webhooks/ga4` take each service's own payloads, check their
//! signature (or shared token), map them to protocol-v1 events
//! ([`shopify`], [`woocommerce`], [`segment`], [`ga4`]) and sequence those
//! through the same hub as `POST /ingest`, so they reach every dashboard.
//! docs/SOURCES.md lists every mapping field by field.
//!
//! With `--nats` the mapped events go to the shared stream instead, under
//! the shop of `?shop=NAME` (default `default`), like `/ingest`: every
//! gateway's hub takes them from there. Their message ids derive from the
//! source and a hash of the body, so a delivery sent again (a retry after
//! a 503, or to another gateway) within the stream's duplicate window is
//! stored once.
//!
//! Every mapped event is checked by the protocol decoder itself
//! ([`shoppulse_core::decode_event`]), so limits and rules are exactly those
//! of `/ingest`. Every refusal is counted in `/metrics` by source and reason;
//! a payload that cannot be mapped also becomes a `rejected` notice with
//! source `webhook:shopify` (etc.) in the feed. Signature failures are
//! notices too, at most one per second per source (an unauthenticated
//! sender must not be able to flood the feed), without the body's text.

pub mod ga4;
pub mod json;
pub mod money;
pub mod segment;
pub mod shopify;
pub mod verify;
pub mod woocommerce;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body as HttpBody;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use shoppulse_core::decode::{excerpt, ErrorClass, EXCERPT_LEN};
use shoppulse_core::event::{Body, Rejected};
use shoppulse_core::{decode_event, Event};
use tracing::{info, warn};

use crate::hub::{now_ms, Hub};
use crate::lines::RejectedLine;
use crate::metrics::Source;
use crate::nats::{NatsGateway, PublishFailure};
use crate::shops::{check_served_shop, DEFAULT_SHOP};
use json::J;
use verify::AuthError;

/// Webhook secrets, from flags, the environment or files.
#[derive(Args, Debug, Clone, Default)]
pub struct WebhookArgs {
    /// Shopify app's shared secret: enables `POST /webhooks/shopify`
    /// (verified with `X-Shopify-Hmac-Sha256`). Prefer the environment
    /// variable or the file form: flags show in `ps`.
    #[arg(
        long,
        env = "SHOPPULSE_SHOPIFY_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub shopify_secret: Option<String>,
    /// Read the Shopify secret from FILE (surrounding whitespace ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "shopify_secret")]
    pub shopify_secret_file: Option<PathBuf>,
    /// WooCommerce webhook secret: enables `POST /webhooks/woocommerce`
    /// (verified with `X-WC-Webhook-Signature`).
    #[arg(
        long,
        env = "SHOPPULSE_WOOCOMMERCE_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub woocommerce_secret: Option<String>,
    /// Read the WooCommerce secret from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "woocommerce_secret")]
    pub woocommerce_secret_file: Option<PathBuf>,
    /// Segment shared secret: enables `POST /webhooks/segment` (verified
    /// with `X-Signature`, HMAC-SHA1 hex of the body, or
    /// `Authorization: Bearer SECRET`).
    #[arg(
        long,
        env = "SHOPPULSE_SEGMENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub segment_secret: Option<String>,
    /// Read the Segment secret from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "segment_secret")]
    pub segment_secret_file: Option<PathBuf>,
    /// GA4 Measurement Protocol API secret: enables `POST /webhooks/ga4`
    /// (checked against the `api_secret` query parameter or
    /// `Authorization: Bearer SECRET`).
    #[arg(
        long,
        env = "SHOPPULSE_GA4_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub ga4_secret: Option<String>,
    /// Read the GA4 API secret from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "ga4_secret")]
    pub ga4_secret_file: Option<PathBuf>,
    /// Delivery and message ids remembered to drop duplicates
    /// (`X-Shopify-Webhook-Id`, Segment `messageId`), oldest forgotten first.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub webhook_dedupe: usize,
}

/// The four webhook sources.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WhSource {
    /// Shopify Admin webhooks.
    Shopify,
    /// WooCommerce webhooks.
    WooCommerce,
    /// Segment e-commerce spec v2 track calls.
    Segment,
    /// GA4 Measurement Protocol ecommerce events.
    Ga4,
}

impl WhSource {
    /// All sources, in counter order.
    pub const ALL: [WhSource; 4] = [
        WhSource::Shopify,
        WhSource::WooCommerce,
        WhSource::Segment,
        WhSource::Ga4,
    ];

    /// Label value and path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            WhSource::Shopify => "shopify",
            WhSource::WooCommerce => "woocommerce",
            WhSource::Segment => "segment",
            WhSource::Ga4 => "ga4",
        }
    }

    /// The `source` of its rejection notices.
    pub fn notice_source(self) -> &'static str {
        match self {
            WhSource::Shopify => "webhook:shopify",
            WhSource::WooCommerce => "webhook:woocommerce",
            WhSource::Segment => "webhook:segment",
            WhSource::Ga4 => "webhook:ga4",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }

    fn secret_flag(self) -> &'static str {
        match self {
            WhSource::Shopify => "--shopify-secret",
            WhSource::WooCommerce => "--woocommerce-secret",
            WhSource::Segment => "--segment-secret",
            WhSource::Ga4 => "--ga4-secret",
        }
    }

    /// The header (or parameter) that carries the signature or token.
    fn auth_field(self) -> &'static str {
        match self {
            WhSource::Shopify => "X-Shopify-Hmac-Sha256",
            WhSource::WooCommerce => "X-WC-Webhook-Signature",
            WhSource::Segment => "X-Signature",
            WhSource::Ga4 => "api_secret",
        }
    }
}

/// How a webhook request ended, for `/metrics`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Every item mapped and sequenced.
    Accepted,
    /// Some items sequenced, some refused.
    Partial,
    /// Nothing could be mapped (every item refused, or not JSON): 422.
    Rejected,
    /// The signature or token did not match: 401.
    BadSignature,
    /// No signature or token: 401.
    MissingSignature,
    /// No secret configured for this source: 404.
    NotConfigured,
    /// A delivery already seen (same id): 200, dropped.
    Duplicate,
    /// A topic or event name the gateway does not know: 202.
    UnknownTopic,
    /// A known topic that carries nothing the dashboard shows
    /// (`products/update`, untracked stock): 200, counted.
    Ignored,
    /// Body over `--max-body`: 413.
    TooLarge,
    /// WooCommerce's `webhook_id=N` ping when a webhook is created: 200.
    Ping,
    /// The body could not be read: 400.
    BadBody,
    /// `?shop=` is not a valid shop name, or names another shop than
    /// `default` on a gateway without `--nats`: 400.
    BadShop,
    /// NATS did not store every event (`--nats`): 503, to be sent again.
    Unavailable,
}

impl Outcome {
    const ALL: [Outcome; 14] = [
        Outcome::Accepted,
        Outcome::Partial,
        Outcome::Rejected,
        Outcome::BadSignature,
        Outcome::MissingSignature,
        Outcome::NotConfigured,
        Outcome::Duplicate,
        Outcome::UnknownTopic,
        Outcome::Ignored,
        Outcome::TooLarge,
        Outcome::Ping,
        Outcome::BadBody,
        Outcome::BadShop,
        Outcome::Unavailable,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Partial => "partial",
            Outcome::Rejected => "rejected",
            Outcome::BadSignature => "bad_signature",
            Outcome::MissingSignature => "missing_signature",
            Outcome::NotConfigured => "not_configured",
            Outcome::Duplicate => "duplicate",
            Outcome::UnknownTopic => "unknown_topic",
            Outcome::Ignored => "ignored",
            Outcome::TooLarge => "too_large",
            Outcome::Ping => "ping",
            Outcome::BadBody => "bad_body",
            Outcome::BadShop => "bad_shop",
            Outcome::Unavailable => "nats_unavailable",
        }
    }
}

/// Webhook counters (part of [`crate::metrics::Metrics`]).
#[derive(Debug, Default)]
pub struct Counters {
    requests: [[AtomicU64; Outcome::ALL.len()]; 4],
    events: [AtomicU64; 4],
    refused: [[AtomicU64; 6]; 4],
    duplicates: [AtomicU64; 4],
    ignored: [AtomicU64; 4],
    rounded: [AtomicU64; 4],
}

impl Counters {
    /// Counts a request by outcome.
    pub fn request(&self, s: WhSource, o: Outcome) {
        self.requests[s.slot()][o as usize].fetch_add(1, Relaxed);
    }

    /// Requests of `s` that ended with `o` so far.
    pub fn requests(&self, s: WhSource, o: Outcome) -> u64 {
        self.requests[s.slot()][o as usize].load(Relaxed)
    }

    fn refused(&self, s: WhSource, class: ErrorClass) {
        let i = ErrorClass::ALL
            .iter()
            .position(|c| *c == class)
            .unwrap_or(0);
        self.refused[s.slot()][i].fetch_add(1, Relaxed);
    }

    /// Appends the webhook metrics in the Prometheus text format.
    pub fn render(&self, o: &mut String) {
        let mut head = |name: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
        };
        head(
            "shoppulse_feed_webhook_requests_total",
            "Webhook requests by source and outcome.",
        );
        for s in WhSource::ALL {
            for oc in Outcome::ALL {
                let _ = writeln!(
                    o,
                    "shoppulse_feed_webhook_requests_total{{source=\"{}\",outcome=\"{}\"}} {}",
                    s.as_str(),
                    oc.as_str(),
                    self.requests(s, oc)
                );
            }
        }
        let per_source = |o: &mut String, name: &str, help: &str, v: &[AtomicU64; 4]| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
            for s in WhSource::ALL {
                let _ = writeln!(
                    o,
                    "{name}{{source=\"{}\"}} {}",
                    s.as_str(),
                    v[s.slot()].load(Relaxed)
                );
            }
        };
        per_source(
            o,
            "shoppulse_feed_webhook_events_total",
            "Events mapped from webhooks and sequenced, by source.",
            &self.events,
        );
        let _ = writeln!(
            o,
            "# HELP shoppulse_feed_webhook_refused_total Webhook payloads or items refused (each also a rejected notice), by source and error class.\n# TYPE shoppulse_feed_webhook_refused_total counter"
        );
        for s in WhSource::ALL {
            for (i, c) in ErrorClass::ALL.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "shoppulse_feed_webhook_refused_total{{source=\"{}\",class=\"{}\"}} {}",
                    s.as_str(),
                    c.as_str(),
                    self.refused[s.slot()][i].load(Relaxed)
                );
            }
        }
        per_source(
            o,
            "shoppulse_feed_webhook_duplicates_total",
            "Deliveries or messages dropped as already seen (X-Shopify-Webhook-Id, Segment messageId).",
            &self.duplicates,
        );
        per_source(
            o,
            "shoppulse_feed_webhook_ignored_total",
            "Topics, events or items accepted but not mapped (unknown topics, products/update, untracked stock).",
            &self.ignored,
        );
        per_source(
            o,
            "shoppulse_feed_webhook_money_rounded_total",
            "Amounts with more decimals than the currency's minor unit, rounded half away from zero.",
            &self.rounded,
        );
    }
}

/// Why a payload or one of its items could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// Error class (the protocol's classes).
    pub class: ErrorClass,
    /// The field at fault, as a path in the payload (`line_items[2].price`).
    pub field: String,
    /// What was wrong.
    pub detail: String,
}

impl MapError {
    /// A refusal of `class` at `field`.
    pub fn new(class: ErrorClass, field: &str, detail: impl Into<String>) -> MapError {
        MapError {
            class,
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    /// A required field that is absent or null.
    pub fn missing(field: &str) -> MapError {
        MapError::new(
            ErrorClass::MissingField,
            field,
            "required field is missing or null",
        )
    }

    /// A field of the wrong JSON type.
    pub fn wrong(field: &str, expected: &str, got: &J) -> MapError {
        MapError::new(
            ErrorClass::WrongType,
            field,
            format!("expected {expected}, got {}", got.describe()),
        )
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.class.as_str(), self.detail)
        } else {
            write!(
                f,
                "{}: field `{}`: {}",
                self.class.as_str(),
                self.field,
                self.detail
            )
        }
    }
}

/// One unit of a payload: a whole Shopify or WooCommerce delivery, one
/// Segment message of a batch, one GA4 event.
#[derive(Debug)]
pub enum Item {
    /// Protocol-v1 event objects (to be checked by the decoder), or why the
    /// item could not be mapped.
    Events(Result<Vec<serde_json::Value>, MapError>),
    /// A known kind of item that carries nothing to show; counted.
    Ignored(&'static str),
    /// An item kind (topic, event name) the gateway does not know; counted.
    Unknown(String),
    /// A message already seen (by its id); counted, dropped.
    Duplicate,
}

/// What the mappers need besides the payload.
pub struct Ctx<'a> {
    /// Arrival time, for events without a time of their own.
    pub arrival_ms: i64,
    /// Amounts rounded to the minor unit so far.
    pub rounded: u64,
    memory: &'a Memory,
    /// Ids seen for the first time while mapping this delivery (forgotten
    /// again if it cannot be stored, so that its retry is not a duplicate).
    sighted: Vec<String>,
}

impl fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("arrival_ms", &self.arrival_ms)
            .field("rounded", &self.rounded)
            .finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A context over `memory`.
    pub fn new(arrival_ms: i64, memory: &'a Memory) -> Ctx<'a> {
        Ctx {
            arrival_ms,
            rounded: 0,
            memory,
            sighted: Vec::new(),
        }
    }

    /// Reads an amount in `currency` as minor units (counting rounding).
    pub fn money(&mut self, v: &J, field: &str, currency: &str) -> Result<Option<i64>, MapError> {
        Ok(json::opt_money(v, field, currency)?.map(|m| {
            if m.rounded {
                self.rounded += 1;
            }
            m.minor
        }))
    }

    /// Reads a required amount.
    pub fn req_money(&mut self, v: &J, field: &str, currency: &str) -> Result<i64, MapError> {
        self.money(v, field, currency)?
            .ok_or_else(|| MapError::missing(field))
    }

    /// True the first time `key` is seen (bounded memory).
    pub fn first_sighting(&mut self, key: &str) -> bool {
        let first = self.memory.first_sighting(key);
        if first {
            self.sighted.push(key.to_owned());
        }
        first
    }

    /// Remembers the sales channel of an order (for refunds, which do not
    /// carry it).
    pub fn remember_channel(&self, order: &str, channel: &str) {
        self.memory.remember_channel(order, channel);
    }

    /// The channel remembered for an order.
    pub fn channel_of(&self, order: &str) -> Option<String> {
        self.memory.channel_of(order)
    }
}

/// Bounded FIFO set.
#[derive(Debug, Default)]
struct Fifo {
    cap: usize,
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Fifo {
    /// Inserts; false when already present.
    fn insert(&mut self, key: &str) -> bool {
        if self.set.contains(key) {
            return false;
        }
        if self.cap == 0 {
            return true;
        }
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(key.to_owned());
        self.order.push_back(key.to_owned());
        true
    }

    /// Forgets `keys` (rare: a delivery that could not be stored).
    fn forget(&mut self, keys: &[String]) {
        for k in keys {
            self.set.remove(k);
        }
        self.order.retain(|k| !keys.contains(k));
    }
}

/// The gateway's bounded memory across webhook deliveries: ids seen (for
/// duplicates) and each order's channel (for refunds).
#[derive(Debug, Default)]
pub struct Memory {
    seen: Mutex<Fifo>,
    channels: Mutex<(HashMap<String, String>, VecDeque<String>)>,
    cap: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    /// Memory for `cap` ids and `cap` order channels.
    pub fn new(cap: usize) -> Memory {
        Memory {
            seen: Mutex::new(Fifo {
                cap,
                ..Fifo::default()
            }),
            channels: Mutex::default(),
            cap,
        }
    }

    fn first_sighting(&self, key: &str) -> bool {
        lock(&self.seen).insert(key)
    }

    fn forget(&self, keys: &[String]) {
        if !keys.is_empty() {
            lock(&self.seen).forget(keys);
        }
    }

    fn remember_channel(&self, order: &str, channel: &str) {
        if self.cap == 0 {
            return;
        }
        let mut g = lock(&self.channels);
        let (map, order_q) = &mut *g;
        if map.insert(order.to_owned(), channel.to_owned()).is_none() {
            order_q.push_back(order.to_owned());
            while order_q.len() > self.cap {
                if let Some(old) = order_q.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    fn channel_of(&self, order: &str) -> Option<String> {
        lock(&self.channels).0.get(order).cloned()
    }
}

/// Secrets per source, read once at start.
#[derive(Clone, Default)]
pub struct Secrets([Option<Vec<u8>>; 4]);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on: Vec<&str> = WhSource::ALL
            .iter()
            .filter(|s| self.0[s.slot()].is_some())
            .map(|s| s.as_str())
            .collect();
        write!(f, "Secrets(configured: {on:?})")
    }
}

impl Secrets {
    /// Reads the flags, environment and files.
    pub fn from_args(a: &WebhookArgs) -> Result<Secrets, String> {
        let read = |flag: &str, value: &Option<String>, file: &Option<PathBuf>| {
            let text = match (value, file) {
                (Some(v), _) => v.clone(),
                (None, Some(p)) => std::fs::read_to_string(p)
                    .map_err(|e| format!("{flag}-file {}: {e}", p.display()))?,
                (None, None) => return Ok(None),
            };
            let t = text.trim();
            if t.is_empty() {
                return Err(format!("{flag}: the secret is empty"));
            }
            Ok(Some(t.as_bytes().to_vec()))
        };
        Ok(Secrets([
            read(
                "--shopify-secret",
                &a.shopify_secret,
                &a.shopify_secret_file,
            )?,
            read(
                "--woocommerce-secret",
                &a.woocommerce_secret,
                &a.woocommerce_secret_file,
            )?,
            read(
                "--segment-secret",
                &a.segment_secret,
                &a.segment_secret_file,
            )?,
            read("--ga4-secret", &a.ga4_secret, &a.ga4_secret_file)?,
        ]))
    }

    /// Sets one source's secret.
    #[must_use]
    pub fn with(mut self, s: WhSource, secret: &str) -> Secrets {
        self.0[s.slot()] = Some(secret.as_bytes().to_vec());
        self
    }

    /// The configured sources, for the startup log and `/healthz`.
    pub fn enabled(&self) -> Vec<&'static str> {
        WhSource::ALL
            .iter()
            .filter(|s| self.0[s.slot()].is_some())
            .map(|s| s.as_str())
            .collect()
    }
}

/// Handler state of the webhook routes.
#[derive(Debug)]
pub struct Webhooks {
    hub: Arc<Hub>,
    /// With `--nats`: events go to the shared stream, not to `hub`.
    nats: Option<Arc<NatsGateway>>,
    secrets: Secrets,
    memory: Memory,
    max_body: usize,
    last_auth_notice: [AtomicI64; 4],
}

impl Webhooks {
    /// Webhook state publishing into `hub`.
    pub fn new(hub: Arc<Hub>, secrets: Secrets, dedupe: usize, max_body: usize) -> Webhooks {
        Webhooks {
            hub,
            nats: None,
            secrets,
            memory: Memory::new(dedupe),
            max_body,
            last_auth_notice: Default::default(),
        }
    }

    /// Sends the mapped events to the shared stream (`--nats`); `hub` is
    /// then only where the counters are kept.
    #[must_use]
    pub fn with_nats(mut self, nats: Arc<NatsGateway>) -> Webhooks {
        self.nats = Some(nats);
        self
    }

    /// The shop a delivery is for: `?shop=NAME`, by default `default`;
    /// other shops only on a shared stream (`--nats`), as for `/ingest`.
    fn shop(&self, query: Option<&str>) -> Result<String, String> {
        let shop = query_param(query, "shop").unwrap_or(DEFAULT_SHOP);
        check_served_shop(shop, self.nats.is_some())?;
        Ok(shop.to_owned())
    }
}

/// Publishes `events` of `shop` into the shared stream (`--nats`) under
/// message ids `<key>-<i>`; returns the first and last sequence numbers.
async fn to_stream(
    nats: &NatsGateway,
    shop: &str,
    events: &[Event],
    key: &str,
) -> Result<Option<(u64, u64)>, PublishFailure> {
    if events.is_empty() {
        return Ok(None);
    }
    let seqs = nats.ingest(shop, events, Some(key)).await?;
    Ok(seqs.iter().min().copied().zip(seqs.iter().max().copied()))
}

/// The message-id key of a delivery on the shared stream: the source and
/// a hash of the body, so the same delivery sent again is stored once.
fn delivery_key(src: WhSource, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let mut key = format!("webhook-{}-", src.as_str());
    for b in &digest[..16] {
        let _ = write!(key, "{b:02x}");
    }
    key
}

/// The webhook routes (merge into the main router).
pub fn router(state: Arc<Webhooks>) -> Router {
    Router::new()
        .route("/webhooks/shopify", post(shopify_handler))
        .route("/webhooks/woocommerce", post(woocommerce_handler))
        .route("/webhooks/segment", post(segment_handler))
        .route("/webhooks/ga4", post(ga4_handler))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

async fn shopify_handler(
    State(w): State<Arc<Webhooks>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: HttpBody,
) -> Response {
    handle(WhSource::Shopify, w, headers, q, body).await
}

async fn woocommerce_handler(
    State(w): State<Arc<Webhooks>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: HttpBody,
) -> Response {
    handle(WhSource::WooCommerce, w, headers, q, body).await
}

async fn segment_handler(
    State(w): State<Arc<Webhooks>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: HttpBody,
) -> Response {
    handle(WhSource::Segment, w, headers, q, body).await
}

async fn ga4_handler(
    State(w): State<Arc<Webhooks>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: HttpBody,
) -> Response {
    handle(WhSource::Ga4, w, headers, q, body).await
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    header(h, header::AUTHORIZATION.as_str()).and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    })
}

/// The value of one query parameter (no percent-decoding beyond `%XX` is
/// needed for API secrets, which are URL-safe).
fn query_param<'q>(q: Option<&'q str>, name: &str) -> Option<&'q str> {
    q?.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn reply(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, Json(body.clone())).into_response()
}

/// Reads the body up to `max` bytes.
async fn read_body(body: HttpBody, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, Outcome> {
    let declared =
        header(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Outcome::TooLarge);
    }
    let mut buf = Vec::with_capacity(
        declared
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(max),
    );
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let bytes = chunk.map_err(|_| Outcome::BadBody)?;
        if buf.len() + bytes.len() > max {
            return Err(Outcome::TooLarge);
        }
        buf.extend_from_slice(&bytes);
    }
    Ok(buf)
}

fn authenticate(
    src: WhSource,
    secret: &[u8],
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(), AuthError> {
    match src {
        WhSource::Shopify => {
            verify::hmac_sha256_base64(secret, body, header(headers, "x-shopify-hmac-sha256"))
        }
        WhSource::WooCommerce => {
            verify::hmac_sha256_base64(secret, body, header(headers, "x-wc-webhook-signature"))
        }
        WhSource::Segment => match header(headers, "x-signature") {
            Some(sig) => verify::hmac_sha1_hex(secret, body, Some(sig)),
            None => verify::token(secret, bearer(headers)),
        },
        WhSource::Ga4 => match query_param(query, "api_secret") {
            Some(t) => verify::token(secret, Some(t)),
            None => verify::token(secret, bearer(headers)),
        },
    }
}

/// WooCommerce pings a new webhook's URL with the form body `webhook_id=N`
/// (no topic, no signature).
fn is_woo_ping(headers: &HeaderMap, body: &[u8]) -> bool {
    header(headers, "x-wc-webhook-topic").is_none()
        && body
            .strip_prefix(b"webhook_id=")
            .is_some_and(|rest| !rest.is_empty() && rest.iter().all(u8::is_ascii_digit))
}

fn notice(src: WhSource, ts_ms: i64, line: Option<u64>, err: &MapError, input: &str) -> Event {
    Event {
        ts_ms,
        ts_inferred: true,
        body: Body::Rejected(Rejected {
            source: src.notice_source().into(),
            line,
            class: err.class.as_str().into(),
            reason: excerpt(&err.to_string(), 4096).into(),
            excerpt: excerpt(input, EXCERPT_LEN).into(),
        }),
    }
}

/// The whole outcome of one authenticated payload.
#[derive(Debug, Default)]
struct Processed {
    events: Vec<Event>,
    accepted: u64,
    rejected: Vec<RejectedLine>,
    duplicates: u64,
    ignored: Vec<String>,
    unknown: Vec<String>,
    rounded: u64,
    /// Ids seen for the first time in this delivery.
    sighted: Vec<String>,
}

/// Maps an authenticated body into events and notices. Pure but for the
/// memory (duplicates, order channels).
fn process(
    src: WhSource,
    headers: &HeaderMap,
    body: &[u8],
    arrival: i64,
    memory: &Memory,
) -> Processed {
    let text = String::from_utf8_lossy(body);
    let mut ctx = Ctx::new(arrival, memory);
    let items: Vec<Item> = match std::str::from_utf8(body)
        .map_err(|e| format!("body is not valid UTF-8 (byte {})", e.valid_up_to()))
        .and_then(|t| J::parse(t).map_err(|e| format!("body is not JSON: {e}")))
    {
        Err(why) => vec![Item::Events(Err(MapError::new(
            ErrorClass::Malformed,
            "",
            why,
        )))],
        Ok(doc) => match src {
            WhSource::Shopify => vec![shopify::map(
                header(headers, "x-shopify-topic").unwrap_or(""),
                &doc,
                &mut ctx,
            )],
            WhSource::WooCommerce => vec![woocommerce::map(
                header(headers, "x-wc-webhook-topic").unwrap_or(""),
                &doc,
                &mut ctx,
            )],
            WhSource::Segment => segment::map(&doc, &mut ctx),
            WhSource::Ga4 => ga4::map(&doc, &mut ctx),
        },
    };
    let mut out = Processed {
        rounded: ctx.rounded,
        sighted: std::mem::take(&mut ctx.sighted),
        ..Processed::default()
    };
    for (i, item) in items.into_iter().enumerate() {
        let line = i as u64 + 1;
        let refuse = |out: &mut Processed, err: &MapError| {
            out.rejected.push(RejectedLine {
                line,
                class: err.class.as_str().to_owned(),
                reason: err.to_string(),
            });
            out.events
                .push(notice(src, arrival, Some(line), err, &text));
        };
        match item {
            Item::Events(Ok(values)) => {
                for v in values {
                    match decode_event(&v.to_string(), arrival) {
                        Ok(ev) => {
                            out.accepted += 1;
                            out.events.push(ev);
                        }
                        Err(e) => {
                            let err = MapError {
                                class: e.class,
                                field: e.field.unwrap_or("").to_owned(),
                                detail: format!(
                                    "mapped event refused by the protocol decoder: {}",
                                    e.detail
                                ),
                            };
                            refuse(&mut out, &err);
                        }
                    }
                }
            }
            Item::Events(Err(err)) => refuse(&mut out, &err),
            Item::Ignored(why) => out.ignored.push(why.to_owned()),
            Item::Unknown(name) => out.unknown.push(name),
            Item::Duplicate => out.duplicates += 1,
        }
    }
    out
}

/// Counts a request that failed authentication, sequences a notice (at
/// most one per second per source, without the body) and answers 401.
fn unauthenticated(
    src: WhSource,
    w: &Webhooks,
    shop: &str,
    e: AuthError,
    arrival: i64,
) -> Response {
    let counters = &w.hub.metrics.webhooks;
    let (outcome, err) = match e {
        AuthError::Missing => (
            Outcome::MissingSignature,
            MapError::new(
                ErrorClass::MissingField,
                src.auth_field(),
                "no signature or token; request refused with 401",
            ),
        ),
        AuthError::Bad => (
            Outcome::BadSignature,
            MapError::new(
                ErrorClass::BadValue,
                src.auth_field(),
                "signature or token does not match (wrong secret, or the body was changed on the way); request refused with 401",
            ),
        ),
    };
    counters.request(src, outcome);
    counters.refused(src, err.class);
    warn!(
        source = src.as_str(),
        outcome = outcome.as_str(),
        "webhook refused: not authenticated"
    );
    // At most one notice per second per source, and without the body:
    // the sender is not authenticated.
    let last = w.last_auth_notice[src.slot()].load(Relaxed);
    if arrival - last >= 1000
        && w.last_auth_notice[src.slot()]
            .compare_exchange(last, arrival, Relaxed, Relaxed)
            .is_ok()
    {
        let event = notice(src, arrival, None, &err, "");
        if let Some(nats) = &w.nats {
            // Not awaited: the answer does not wait for NATS.
            let (nats, shop) = (Arc::clone(nats), shop.to_owned());
            let key = format!("webhook-{}-auth-{arrival}", src.as_str());
            tokio::spawn(async move {
                if let Err(f) = to_stream(&nats, &shop, &[event], &key).await {
                    warn!(error = %f.error, "webhook: NATS did not store the refusal notice");
                }
            });
        } else {
            w.hub.publish(&[event], Source::Webhook);
        }
    }
    reply(
        StatusCode::UNAUTHORIZED,
        &json!({"error": outcome.as_str(), "message": err.to_string()}),
    )
}

async fn handle(
    src: WhSource,
    w: Arc<Webhooks>,
    headers: HeaderMap,
    query: Option<String>,
    body: HttpBody,
) -> Response {
    let counters = &w.hub.metrics.webhooks;
    let Some(secret) = w.secrets.0[src.slot()].clone() else {
        counters.request(src, Outcome::NotConfigured);
        return reply(
            StatusCode::NOT_FOUND,
            &json!({
                "error": "not_configured",
                "message": format!("the {} webhook is not enabled: start the gateway with {} (or its environment variable or file form)", src.as_str(), src.secret_flag()),
            }),
        );
    };
    let shop = match w.shop(query.as_deref()) {
        Ok(shop) => shop,
        Err(message) => {
            counters.request(src, Outcome::BadShop);
            return reply(
                StatusCode::BAD_REQUEST,
                &json!({"error": "bad_shop", "message": message}),
            );
        }
    };
    let body = match read_body(body, &headers, w.max_body).await {
        Ok(b) => b,
        Err(o) => {
            counters.request(src, o);
            warn!(
                source = src.as_str(),
                outcome = o.as_str(),
                "webhook body refused"
            );
            return if o == Outcome::TooLarge {
                reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": "too_large", "message": format!("request body over the limit of {} bytes (--max-body)", w.max_body)}),
                )
            } else {
                reply(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "bad_body", "message": "the request body could not be read"}),
                )
            };
        }
    };
    if src == WhSource::WooCommerce && is_woo_ping(&headers, &body) {
        counters.request(src, Outcome::Ping);
        return reply(StatusCode::OK, &json!({"ping": true}));
    }
    let arrival = now_ms();
    if let Err(e) = authenticate(src, &secret, &headers, query.as_deref(), &body) {
        return unauthenticated(src, &w, &shop, e, arrival);
    }
    let Some(mut sighted) = shopify_delivery(src, &w, &headers) else {
        return reply(StatusCode::OK, &json!({"duplicate": true, "accepted": 0}));
    };
    // With `--nats`: the stream, and the message ids (a hash of the body).
    let stream = w
        .nats
        .as_ref()
        .map(|nats| (Arc::clone(nats), delivery_key(src, &body)));
    let w2 = w.clone();
    let work = tokio::task::spawn_blocking(move || {
        let p = process(src, &headers, &body, arrival, &w2.memory);
        // Without a shared stream the hub sequences here (off the runtime).
        let seqs = w2
            .nats
            .is_none()
            .then(|| w2.hub.publish(&p.events, Source::Webhook))
            .flatten();
        (p, seqs)
    })
    .await;
    let Ok((mut p, mut seqs)) = work else {
        w.memory.forget(&sighted);
        counters.request(src, Outcome::BadBody);
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "internal", "message": "webhook worker failed"}),
        );
    };
    if let Some((nats, key)) = &stream {
        match to_stream(nats, &shop, &p.events, key).await {
            Ok(s) => seqs = s,
            Err(f) => {
                // Sent again, the delivery must not count as a duplicate;
                // what NATS stored is not stored twice (same message ids).
                sighted.append(&mut p.sighted);
                w.memory.forget(&sighted);
                return unavailable(src, counters, &shop, &f);
            }
        }
    }
    answer(src, counters, &p, seqs)
}

/// Shopify retries a delivery with the same `X-Shopify-Webhook-Id`: the id
/// when seen for the first time (`None`: a duplicate, counted).
fn shopify_delivery(src: WhSource, w: &Webhooks, headers: &HeaderMap) -> Option<Vec<String>> {
    let id = match header(headers, "x-shopify-webhook-id") {
        Some(id) if src == WhSource::Shopify && !id.is_empty() => id,
        _ => return Some(Vec::new()),
    };
    let seen = format!("shopify:{id}");
    if w.memory.first_sighting(&seen) {
        return Some(vec![seen]);
    }
    let counters = &w.hub.metrics.webhooks;
    counters.request(src, Outcome::Duplicate);
    counters.duplicates[src.slot()].fetch_add(1, Relaxed);
    info!(
        source = src.as_str(),
        webhook_id = id,
        "duplicate webhook dropped"
    );
    None
}

/// Counts a delivery NATS did not store whole and answers 503.
fn unavailable(src: WhSource, counters: &Counters, shop: &str, f: &PublishFailure) -> Response {
    counters.request(src, Outcome::Unavailable);
    warn!(source = src.as_str(), shop, stored = f.stored, total = f.total, error = %f.error,
        "webhook: NATS did not store every event");
    reply(
        StatusCode::SERVICE_UNAVAILABLE,
        &f.answer("send the same delivery again"),
    )
}

/// Counts a processed payload and builds the answer.
fn answer(src: WhSource, counters: &Counters, p: &Processed, seqs: Option<(u64, u64)>) -> Response {
    counters.events[src.slot()].fetch_add(p.accepted, Relaxed);
    counters.rounded[src.slot()].fetch_add(p.rounded, Relaxed);
    counters.duplicates[src.slot()].fetch_add(p.duplicates, Relaxed);
    counters.ignored[src.slot()].fetch_add((p.ignored.len() + p.unknown.len()) as u64, Relaxed);
    for r in &p.rejected {
        counters.refused(
            src,
            ErrorClass::parse(&r.class).unwrap_or(ErrorClass::Malformed),
        );
    }
    let (status, outcome) = if !p.rejected.is_empty() {
        if p.accepted == 0 {
            (StatusCode::UNPROCESSABLE_ENTITY, Outcome::Rejected)
        } else {
            (StatusCode::OK, Outcome::Partial)
        }
    } else if p.accepted > 0 {
        (StatusCode::OK, Outcome::Accepted)
    } else if !p.unknown.is_empty() {
        (StatusCode::ACCEPTED, Outcome::UnknownTopic)
    } else if p.duplicates > 0 && p.ignored.is_empty() {
        (StatusCode::OK, Outcome::Duplicate)
    } else {
        (StatusCode::OK, Outcome::Ignored)
    };
    counters.request(src, outcome);
    info!(
        source = src.as_str(),
        outcome = outcome.as_str(),
        accepted = p.accepted,
        rejected = p.rejected.len(),
        "webhook"
    );
    let mut answer = json!({
        "accepted": p.accepted,
        "rejected": p.rejected,
        "first_seq": seqs.map(|s| s.0),
        "last_seq": seqs.map(|s| s.1),
    });
    if p.duplicates > 0 {
        answer["duplicates"] = json!(p.duplicates);
    }
    if !p.ignored.is_empty() {
        answer["ignored"] = json!(p.ignored);
    }
    if !p.unknown.is_empty() {
        answer["unknown"] = json!(p.unknown);
    }
    reply(status, &answer)
}

/// Protocol fields shared by the mappers.
pub(crate) mod out {
    use serde_json::{json, Map, Value};
    use shoppulse_core::Id;

    /// `{"kind": kind, "ts": ts?}` plus `fields`.
    pub fn event(kind: &str, ts: Option<i64>, fields: Value) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!(kind));
        if let Some(t) = ts {
            m.insert("ts".into(), json!(t));
        }
        if let Value::Object(f) = fields {
            for (k, v) in f {
                if !v.is_null() {
                    m.insert(k, v);
                }
            }
        }
        Value::Object(m)
    }

    /// An id as protocol JSON (number or string).
    pub fn id(i: &Id) -> Value {
        match i {
            Id::Num(n) => json!(n),
            Id::Str(s) => json!(&**s),
        }
    }

    /// An optional id.
    pub fn opt_id(i: Option<&Id>) -> Value {
        i.map_or(Value::Null, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_forgets_the_oldest_first() {
        let m = Memory::new(2);
        assert!(m.first_sighting("a"));
        assert!(!m.first_sighting("a"));
        assert!(m.first_sighting("b"));
        assert!(m.first_sighting("c"));
        assert!(m.first_sighting("a"), "a was forgotten");
        assert!(!m.first_sighting("c"));
    }

    #[test]
    fn a_delivery_that_could_not_be_stored_is_forgotten_so_its_retry_counts() {
        let m = Memory::new(3);
        assert!(m.first_sighting("shopify:1"));
        assert!(m.first_sighting("segment:m-1"));
        assert!(m.first_sighting("segment:m-2"));
        m.forget(&["shopify:1".to_owned(), "segment:m-1".to_owned()]);
        assert!(
            m.first_sighting("shopify:1"),
            "the retry is not a duplicate"
        );
        assert!(m.first_sighting("segment:m-1"));
        assert!(!m.first_sighting("segment:m-2"), "others stay remembered");
        assert_eq!(lock(&m.seen).order.len(), 3, "one slot per id");
    }

    #[test]
    fn a_delivery_key_names_the_source_and_the_body() {
        let a = delivery_key(WhSource::Segment, b"{}");
        assert_eq!(a, delivery_key(WhSource::Segment, b"{}"));
        assert!(a.starts_with("webhook-segment-") && a.len() == "webhook-segment-".len() + 32);
        assert_ne!(a, delivery_key(WhSource::Segment, b"{ }"));
        assert_ne!(a, delivery_key(WhSource::Ga4, b"{}"));
    }

    #[test]
    fn channel_memory_is_bounded() {
        let m = Memory::new(2);
        m.remember_channel("1", "web");
        m.remember_channel("2", "pos");
        m.remember_channel("3", "web");
        assert_eq!(m.channel_of("1"), None);
        assert_eq!(m.channel_of("2").as_deref(), Some("pos"));
    }

    #[test]
    fn woo_ping_is_recognised() {
        let h = HeaderMap::new();
        assert!(is_woo_ping(&h, b"webhook_id=17"));
        assert!(!is_woo_ping(&h, b"webhook_id="));
        assert!(!is_woo_ping(&h, b"{}"));
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("measurement_id=G-1&api_secret=abc"), "api_secret"),
            Some("abc")
        );
        assert_eq!(query_param(Some("a=1"), "api_secret"), None);
        assert_eq!(query_param(None, "api_secret"), None);
    }

    #[test]
    fn metrics_render_every_source_and_outcome() {
        let c = Counters::default();
        c.request(WhSource::Shopify, Outcome::BadSignature);
        let mut o = String::new();
        c.render(&mut o);
        assert!(o.contains(
            "shoppulse_feed_webhook_requests_total{source=\"shopify\",outcome=\"bad_signature\"} 1"
        ));
        assert!(o.contains(
            "shoppulse_feed_webhook_refused_total{source=\"ga4\",class=\"bad_value\"} 0"
        ));
    }
}
