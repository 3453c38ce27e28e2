//! Scale-out on NATS `JetStream` (`--nats URL --stream NAME`).
//!
//! Every shop's events go into one `JetStream` stream under
//! `shop.<shop>.<kind>` ([`crate::shops`]): `POST /ingest?shop=S`, the
//! webhooks (`POST /webhooks/...?shop=S`) and the simulator publish there (with a message id, so a retried publish is stored
//! once), and every gateway consumes the whole stream with one ordered
//! consumer into its [`Router`]. The stream sequence is the feed's sequence
//! and `nats-<stream>-<creation time>` its epoch, so the same event has the
//! same number on every gateway and a dashboard resumes on any of them.
//!
//! Recovery: the client reconnects by itself (forever, quick back-off); the
//! ordered consumer recreates itself from the last sequence it delivered
//! after a cut or a server restart; if its message stream still ends or
//! fails, [`consume`] creates a new consumer from the router's head + 1.
//! Nothing is taken twice (the router ignores positions at or before its
//! head) and nothing is skipped (the consumer starts right after the head).
//! See `docs/SCALING.md`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, message::PublishMessage as Publish, stream};
use axum::serve::ListenerExt as _;
use futures_util::StreamExt;
use serde_json::json;
use shoppulse_core::decode::{DecodeError, ErrorClass};
use shoppulse_core::event::{Body, Rejected};
use shoppulse_core::Event;
use tracing::{debug, error, info, warn};

use crate::cli::{NatsArgs, ServeArgs};
use crate::hub::{now_ms, StreamInfo};
use crate::lines::decode_line;
use crate::prng::splitmix64;
use crate::server::{router as http_router, App};
use crate::shops::{
    check_shop, shop_of_subject, subject, Incoming, Router, DEFAULT_SHOP, SUBJECTS,
};
use crate::sim::{SimConfig, Simulator};
use crate::webhooks::{Secrets, Webhooks};

/// How long `/ingest` keeps retrying a publish NATS did not acknowledge
/// before it answers 503.
pub const PUBLISH_PATIENCE: Duration = Duration::from_secs(20);
/// Timeout of one `JetStream` API call or publish acknowledgement.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Window in which the stream drops a message whose id it has already
/// stored (set when this gateway creates the stream).
pub const DUPLICATE_WINDOW: Duration = Duration::from_mins(2);

/// NATS counters, on `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub struct NatsStats {
    /// 1 while the client is connected.
    pub connected: AtomicBool,
    /// Disconnections seen.
    pub disconnects: AtomicU64,
    /// Stream messages taken into the hubs.
    pub consumed: AtomicU64,
    /// Events published and acknowledged (ingest, simulator).
    pub published: AtomicU64,
    /// Publishes retried after an error or a missing acknowledgement.
    pub publish_retries: AtomicU64,
    /// Ingest requests answered 503 because NATS did not store everything.
    pub publish_failures: AtomicU64,
    /// Consumers (re)created.
    pub consumers_created: AtomicU64,
    /// Fired when the client is connected again after a disconnection.
    reconnected: tokio::sync::Notify,
}

/// The connection to NATS and the stream's identity.
#[derive(Debug)]
pub struct Link {
    js: jetstream::Context,
    /// The server URL(s).
    pub url: String,
    /// The stream's name.
    pub stream: String,
    /// `nats-<stream>-<creation time, ns, hex>`.
    pub epoch: String,
    created_ns: i128,
    /// Counters.
    pub stats: Arc<NatsStats>,
}

/// A publish NATS did not acknowledge within [`PUBLISH_PATIENCE`].
#[derive(Debug)]
pub struct PublishFailure {
    /// Events stored (acknowledged) before giving up.
    pub stored: usize,
    /// Events asked for.
    pub total: usize,
    /// The last error.
    pub error: String,
}

impl PublishFailure {
    /// The body of the `503` answer; `retry` says how to send the request
    /// again so that the rest is stored exactly once.
    pub fn answer(&self, retry: &str) -> serde_json::Value {
        json!({
            "error": "nats_unavailable",
            "message": format!(
                "NATS stored {} of {} events before giving up ({}); {retry} to store the rest exactly once",
                self.stored, self.total, self.error
            ),
            "stored": self.stored,
            "total": self.total,
        })
    }
}

fn epoch_of(stream: &str, created_ns: i128) -> String {
    format!("nats-{stream}-{created_ns:x}")
}

fn random_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut s = u64::try_from(now_ms()).unwrap_or(0) ^ (u64::from(std::process::id()) << 40);
    s ^= COUNTER
        .fetch_add(1, Relaxed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{:016x}", splitmix64(&mut s))
}

/// The servers of `--nats a,b,c`.
fn servers(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Link {
    /// Connects (retrying until NATS answers), and gets the stream or creates
    /// it (`shop.>`, file storage, the `--stream-*` limits).
    pub async fn connect(args: &NatsArgs) -> Result<(Link, stream::Info), String> {
        let url = args.nats.clone().unwrap_or_default();
        let stats = Arc::new(NatsStats::default());
        let events = stats.clone();
        let client = async_nats::ConnectOptions::new()
            .name(format!("shoppulse-feed/{}", env!("CARGO_PKG_VERSION")))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .ping_interval(Duration::from_secs(5))
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(REQUEST_TIMEOUT))
            .reconnect_delay_callback(|attempts| {
                let exp = u32::try_from(attempts.min(5)).unwrap_or(5);
                Duration::from_millis((100u64 << exp).min(2000))
            })
            .event_callback(move |event| {
                let stats = events.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            stats.connected.store(true, Relaxed);
                            info!("NATS connected");
                            if stats.disconnects.load(Relaxed) > 0 {
                                stats.reconnected.notify_one();
                            }
                        }
                        async_nats::Event::Disconnected => {
                            stats.connected.store(false, Relaxed);
                            stats.disconnects.fetch_add(1, Relaxed);
                            warn!("NATS disconnected; reconnecting");
                        }
                        other => debug!(event = %other, "NATS event"),
                    }
                }
            })
            .connect(servers(&url))
            .await
            .map_err(|e| format!("--nats {url}: {e}"))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client);
        let config = stream::Config {
            name: args.stream.clone(),
            subjects: vec![SUBJECTS.to_owned()],
            storage: stream::StorageType::File,
            max_bytes: i64::try_from(args.stream_max_bytes).unwrap_or(i64::MAX),
            max_age: args.stream_max_age,
            num_replicas: args.stream_replicas.max(1),
            duplicate_window: DUPLICATE_WINDOW,
            discard: stream::DiscardPolicy::Old,
            description: Some("ShopPulse events: shop.<shop>.<kind>".to_owned()),
            ..stream::Config::default()
        };
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut st = loop {
            match js.get_or_create_stream(config.clone()).await {
                Ok(s) => break s,
                Err(e) => {
                    attempt += 1;
                    if attempt == 1 || attempt.is_multiple_of(10) {
                        warn!(url = %url, stream = %args.stream, error = %e,
                            waited_s = started.elapsed().as_secs(), "waiting for NATS JetStream");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let info = st
            .info()
            .await
            .map_err(|e| format!("stream {}: {e}", args.stream))?
            .clone();
        if !info
            .config
            .subjects
            .iter()
            .any(|s| s == SUBJECTS || s == ">")
        {
            return Err(format!(
                "stream {} exists with subjects {:?}, without {SUBJECTS}: use another --stream",
                args.stream, info.config.subjects
            ));
        }
        let created_ns = info.created.unix_timestamp_nanos();
        Ok((
            Link {
                js,
                url,
                stream: args.stream.clone(),
                epoch: epoch_of(&args.stream, created_ns),
                created_ns,
                stats,
            },
            info,
        ))
    }

    /// Publishes `events` of `shop` in order, each with the message id
    /// `<key>-<index>` (a retry with the same key within the stream's
    /// duplicate window stores nothing twice), and returns each event's
    /// stream sequence. Unacknowledged publishes are retried, in order,
    /// for up to [`PUBLISH_PATIENCE`].
    pub async fn publish(
        &self,
        shop: &str,
        events: &[Event],
        key: &str,
    ) -> Result<Vec<u64>, PublishFailure> {
        let mut seqs = vec![0u64; events.len()];
        let payloads: Vec<(String, String)> = events
            .iter()
            .map(|e| (subject(shop, e.body.kind().as_str()), e.to_json()))
            .collect();
        let mut pending = Vec::with_capacity(events.len());
        for (i, (subj, payload)) in payloads.iter().enumerate() {
            let msg = Publish::build()
                .payload(payload.clone().into())
                .message_id(format!("{key}-{i}"));
            pending.push((i, self.js.send_publish(subj.clone(), msg).await.ok()));
        }
        let mut retry = Vec::new();
        for (i, ack) in pending {
            match ack {
                Some(fut) => match fut.await {
                    Ok(a) => seqs[i] = a.sequence,
                    Err(_) => retry.push(i),
                },
                None => retry.push(i),
            }
        }
        let deadline = Instant::now() + PUBLISH_PATIENCE;
        for i in retry {
            loop {
                self.stats.publish_retries.fetch_add(1, Relaxed);
                let (subj, payload) = &payloads[i];
                let msg = Publish::build()
                    .payload(payload.clone().into())
                    .message_id(format!("{key}-{i}"));
                let res = match self.js.send_publish(subj.clone(), msg).await {
                    Ok(fut) => fut.await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match res {
                    Ok(a) => {
                        seqs[i] = a.sequence;
                        break;
                    }
                    Err(e) if Instant::now() >= deadline => {
                        let stored = seqs.iter().filter(|&&q| q > 0).count();
                        self.stats.publish_failures.fetch_add(1, Relaxed);
                        self.stats.published.fetch_add(stored as u64, Relaxed);
                        return Err(PublishFailure {
                            stored,
                            total: events.len(),
                            error: e,
                        });
                    }
                    Err(e) => {
                        debug!(error = %e, "publish not acknowledged; retrying");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        }
        self.stats.published.fetch_add(events.len() as u64, Relaxed);
        Ok(seqs)
    }

    /// `/healthz` section.
    pub fn health(&self, router: &Router) -> serde_json::Value {
        json!({
            "url": self.url,
            "stream": self.stream,
            "connected": self.stats.connected.load(Relaxed),
            "consumed": self.stats.consumed.load(Relaxed),
            "head_seq": router.head(),
            "shop_filters": router.filters(),
        })
    }

    /// `/metrics` lines.
    pub fn render_metrics(&self, router: &Router) -> String {
        let s = &self.stats;
        let mut o = String::new();
        for (name, ty, help, v) in [
            (
                "shoppulse_feed_nats_connected",
                "gauge",
                "1 while connected to NATS.",
                u64::from(s.connected.load(Relaxed)),
            ),
            (
                "shoppulse_feed_nats_disconnects_total",
                "counter",
                "Disconnections from NATS.",
                s.disconnects.load(Relaxed),
            ),
            (
                "shoppulse_feed_nats_consumed_total",
                "counter",
                "Stream messages taken into the hubs.",
                s.consumed.load(Relaxed),
            ),
            (
                "shoppulse_feed_nats_published_total",
                "counter",
                "Events published to the stream and acknowledged.",
                s.published.load(Relaxed),
            ),
            (
                "shoppulse_feed_nats_publish_retries_total",
                "counter",
                "Publishes retried after an error or a missing acknowledgement.",
                s.publish_retries.load(Relaxed),
            ),
            (
                "shoppulse_feed_nats_publish_failures_total",
                "counter",
                "Ingest requests answered 503: NATS did not store every event in time.",
                s.publish_failures.load(Relaxed),
            ),
            (
                "shoppulse_feed_nats_consumers_created_total",
                "counter",
                "Stream consumers created (1 + recoveries).",
                s.consumers_created.load(Relaxed),
            ),
            (
                "shoppulse_feed_shop_filters",
                "gauge",
                "Shop filters served (each with its own engine and history).",
                router.filters() as u64,
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {v}");
        }
        o
    }
}

/// Turns a stream message into an [`Incoming`]: the payload is one event
/// (NDJSON line, any accepted shape); one that does not decode becomes a
/// `rejected` notice (source `nats`, `line` = the stream sequence). Events
/// without a time take the message's stream timestamp, the same on every
/// gateway.
pub fn incoming(seq: u64, payload: &[u8], published_ms: i64, shop: Arc<str>) -> Incoming {
    let event = match decode_line(payload, seq, published_ms, "nats") {
        Some(Ok(ev) | Err(ev)) => ev,
        None => Event {
            ts_ms: published_ms,
            ts_inferred: true,
            body: Body::Rejected(Rejected::from_error(
                "nats",
                Some(seq),
                &DecodeError {
                    class: ErrorClass::Malformed,
                    field: None,
                    detail: "empty message".to_owned(),
                },
                "",
            )),
        },
    };
    Incoming {
        seq,
        shop,
        json: Arc::from(event.to_json()),
        event,
    }
}

/// Consumes the stream into `router` forever, recovering from cuts.
pub async fn consume(link: Arc<Link>, router: Arc<Router>) {
    let mut failures = 0u32;
    loop {
        let before = router.head();
        let err = consume_once(&link, &router).await;
        if router.head() > before {
            failures = 0;
        }
        let wait = Duration::from_millis((200u64 << failures.min(4)).min(3000));
        warn!(error = %err, head = router.head(), retry_ms = wait.as_millis(),
            "NATS consumer stopped; resuming after the head");
        failures += 1;
        tokio::time::sleep(wait).await;
    }
}

async fn consume_once(link: &Link, router: &Router) -> String {
    let mut stream = match link.js.get_stream(&link.stream).await {
        Ok(s) => s,
        Err(e) => return format!("stream {}: {e}", link.stream),
    };
    match stream.info().await {
        Ok(info) => {
            if info.created.unix_timestamp_nanos() != link.created_ns {
                // Another stream under the same name: its numbers mean
                // other events. Dashboards must start over with a new epoch.
                error!(stream = %link.stream, "the stream was deleted and created again; \
                    its sequence numbers are a new epoch: restart this gateway");
                std::process::exit(3);
            }
            let head = router.head();
            if info.state.messages > 0 && head + 1 < info.state.first_sequence {
                warn!(
                    head,
                    first = info.state.first_sequence,
                    "events after this gateway's head left the stream (limits) before it read them"
                );
            }
        }
        Err(e) => return format!("stream info: {e}"),
    }
    let start = router.head() + 1;
    let consumer = match stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: SUBJECTS.to_owned(),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..consumer::pull::OrderedConfig::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return format!("create consumer: {e}"),
    };
    link.stats.consumers_created.fetch_add(1, Relaxed);
    let messages = match consumer.messages().await {
        Ok(m) => m,
        Err(e) => return format!("consumer messages: {e}"),
    };
    info!(start, "consuming the stream");
    let mut chunks = messages.ready_chunks(1024);
    let mut shops: HashMap<String, Arc<str>> = HashMap::new();
    loop {
        // After a reconnection the server may have lost this ephemeral
        // consumer (a restart): start a new one from the head at once rather
        // than wait for the old one to notice.
        let chunk = tokio::select! {
            c = chunks.next() => c,
            () = link.stats.reconnected.notified() => {
                return "reconnected to NATS; new consumer".to_owned();
            }
        };
        let Some(chunk) = chunk else {
            break;
        };
        let mut batch = Vec::with_capacity(chunk.len());
        let mut failed = None;
        for m in chunk {
            let msg = match m {
                Ok(msg) => msg,
                Err(e) => {
                    failed = Some(format!("consumer: {e}"));
                    break;
                }
            };
            let (seq, published_ms) = match msg.info() {
                Ok(i) => (
                    i.stream_sequence,
                    i64::try_from(i.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
                ),
                Err(e) => {
                    failed = Some(format!("message without stream metadata: {e}"));
                    break;
                }
            };
            let name = shop_of_subject(&msg.subject).unwrap_or(DEFAULT_SHOP);
            let shop = if let Some(s) = shops.get(name) {
                s.clone()
            } else {
                if shops.len() > 10_000 {
                    shops.clear();
                }
                let s: Arc<str> = Arc::from(name);
                shops.insert(name.to_owned(), s.clone());
                s
            };
            batch.push(incoming(seq, &msg.payload, published_ms, shop));
        }
        if !batch.is_empty() {
            link.stats.consumed.fetch_add(batch.len() as u64, Relaxed);
            router.ingest(&batch);
        }
        if let Some(e) = failed {
            return e;
        }
    }
    "the consumer's message stream ended".to_owned()
}

/// Publishes simulated shops (one [`Simulator`] per shop, seed + index) to
/// the stream at `rate` events per second each, retrying what NATS does
/// not acknowledge (the simulator waits during an outage, then catches up).
pub async fn run_simulator(
    link: Arc<Link>,
    cfg: SimConfig,
    shops: Vec<String>,
    max_events: Option<u64>,
) {
    let run = random_key();
    let mut sims: Vec<(String, Simulator)> = shops
        .iter()
        .enumerate()
        .map(|(i, shop)| {
            let c = SimConfig {
                seed: cfg.seed.wrapping_add(i as u64),
                ..cfg.clone()
            };
            (shop.clone(), Simulator::new(c))
        })
        .collect();
    let limit = max_events.unwrap_or(u64::MAX);
    let t0 = Instant::now();
    info!(rate = cfg.rate, shops = ?shops, "simulator publishing to NATS");
    loop {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // reason: a non-negative event count, saturating on overflow
        let due = ((t0.elapsed().as_secs_f64() * cfg.rate).floor() as u64)
            .saturating_add(1)
            .min(limit);
        let mut batch: Vec<(String, Event, String)> = Vec::new();
        for (shop, sim) in &mut sims {
            while sim.emitted() < due && batch.len() < 2000 {
                let id = format!("sim-{run}-{shop}-{}", sim.emitted());
                batch.push((shop.clone(), sim.next_event(), id));
            }
        }
        if !batch.is_empty() {
            publish_until_stored(&link, &batch).await;
        }
        if sims.iter().all(|(_, s)| s.emitted() >= limit) {
            info!("simulator reached --sim-events, stopping");
            return;
        }
        if sims.iter().any(|(_, s)| s.emitted() < due) {
            continue;
        }
        #[allow(clippy::cast_precision_loss)] // reason: event counts far below 2^52
        let next_at = (sims[0].1.emitted() as f64) / cfg.rate;
        let wait = (next_at - t0.elapsed().as_secs_f64()).clamp(0.001, 0.020);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

async fn publish_until_stored(link: &Link, batch: &[(String, Event, String)]) {
    let mut todo: Vec<usize> = (0..batch.len()).collect();
    let mut warned = false;
    while !todo.is_empty() {
        let mut acks = Vec::with_capacity(todo.len());
        for &i in &todo {
            let (shop, ev, id) = &batch[i];
            let msg = Publish::build()
                .payload(ev.to_json().into())
                .message_id(id.as_str());
            acks.push((
                i,
                link.js
                    .send_publish(subject(shop, ev.body.kind().as_str()), msg)
                    .await,
            ));
        }
        let mut again = Vec::new();
        for (i, ack) in acks {
            let ok = match ack {
                Ok(fut) => fut.await.is_ok(),
                Err(_) => false,
            };
            if ok {
                link.stats.published.fetch_add(1, Relaxed);
            } else {
                again.push(i);
            }
        }
        if !again.is_empty() {
            link.stats
                .publish_retries
                .fetch_add(again.len() as u64, Relaxed);
            if !warned {
                warn!(
                    unacknowledged = again.len(),
                    "simulator: NATS did not store every event; retrying"
                );
                warned = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        todo = again;
    }
}

/// What the HTTP side needs in NATS mode.
#[derive(Debug)]
pub struct NatsGateway {
    /// The connection.
    pub link: Arc<Link>,
    /// The hubs.
    pub router: Arc<Router>,
}

impl NatsGateway {
    /// Publishes an ingest body's events for `shop`; `key` is the client's
    /// `Idempotency-Key` (or a fresh one).
    pub async fn ingest(
        &self,
        shop: &str,
        events: &[Event],
        key: Option<&str>,
    ) -> Result<Vec<u64>, PublishFailure> {
        let key = key.map_or_else(random_key, |k| format!("key-{k}"));
        self.link.publish(shop, events, &key).await
    }
}

/// Checks the flags that do not go with `--nats`.
fn check_args(args: &ServeArgs) -> Result<(), String> {
    if args.replay.is_some() {
        return Err(
            "--replay does not go with --nats: publish the file with POST /ingest \
                    (or run a gateway without --nats)"
                .into(),
        );
    }
    if args.epoch.is_some() {
        return Err("--epoch does not go with --nats: the stream's identity is the epoch".into());
    }
    for s in &args.nats.shops {
        check_shop(s).map_err(|e| format!("--shops: {e}"))?;
    }
    // Stream names follow the same rule as shop names (no `.`, `*`, `>`,
    // spaces).
    check_shop(&args.nats.stream)
        .map_err(|e| format!("--stream: {}", e.replacen("shop name", "stream name", 1)))?;
    if let Some(d) = &args.dist {
        if !d.join("index.html").is_file() {
            return Err(format!(
                "--dist {}: no index.html there (build the dashboard first)",
                d.display()
            ));
        }
    }
    Ok(())
}

/// Runs a gateway on a shared `JetStream` stream until Ctrl-C / SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<(), String> {
    crate::run::init_logs(&args.log, args.log_format);
    check_args(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("feed-rt")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(serve_async(args))
}

/// Waits until the consumer has taken the stream up to `last` (its last
/// sequence at start), so the first dashboards get the whole window.
async fn wait_loaded(router: &Router, start: u64, last: u64) {
    let loading = Instant::now();
    let mut said = Instant::now();
    while router.head() < last {
        if said.elapsed() > Duration::from_secs(5) {
            info!(
                head = router.head(),
                last, "loading the window from the stream"
            );
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    info!(
        events = router.head().saturating_sub(start - 1),
        ms = loading.elapsed().as_millis(),
        "window loaded"
    );
}

async fn serve_async(args: &ServeArgs) -> Result<(), String> {
    // Security flags are checked before connecting, like every other flag.
    let security = crate::run::security_from_args(args)?;
    let (link, info) = Link::connect(&args.nats).await?;
    let link = Arc::new(link);
    let history = args.history.max(1) as u64;
    let last = info.state.last_sequence;
    // Load the last --history positions: the resume window and the
    // snapshot window.
    let start = info
        .state
        .first_sequence
        .max(last.saturating_sub(history - 1))
        .max(1);
    let limits = crate::run::hub_limits(args);
    let mut source = format!("nats {} stream {}", link.url, link.stream);
    if args.simulate {
        let _ = write!(
            source,
            "; simulator publishing shops {}",
            args.nats.shops.join(",")
        );
    }
    let stream_info = StreamInfo {
        epoch: link.epoch.clone(),
        source,
        replay_speed: None,
    };
    let router = Arc::new(Router::new(
        stream_info,
        limits,
        args.nats.max_filters.max(1),
        start - 1,
    ));
    info!(epoch = %link.epoch, first = info.state.first_sequence, last, loading_from = start,
        "stream ready");
    tokio::spawn(router.all().clone().broadcast());
    tokio::spawn(consume(link.clone(), router.clone()));
    wait_loaded(&router, start, last).await;
    if args.simulate {
        let cfg = crate::run::sim_config(&args.sim);
        tokio::spawn(run_simulator(
            link.clone(),
            cfg,
            args.nats.shops.clone(),
            args.sim_events,
        ));
    }
    {
        let router = router.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                router.reap(Duration::from_mins(1));
            }
        });
    }
    let ws = crate::run::ws_config(args, &security);
    let gateway = Arc::new(NatsGateway {
        link: link.clone(),
        router: router.clone(),
    });
    let secrets = Secrets::from_args(&args.webhooks)?;
    if !secrets.enabled().is_empty() {
        info!(sources = ?secrets.enabled(), "webhooks enabled (into the shared stream)");
    }
    let hooks = Webhooks::new(
        router.all().clone(),
        secrets,
        args.webhooks.webhook_dedupe,
        args.max_body,
    )
    .with_nats(gateway.clone());
    let app = App::new(router.all().clone(), ws, args.max_body)
        .with_nats(gateway)
        .with_webhooks(Arc::new(hooks))
        .with_security(Arc::clone(&security));
    let (listener, addr) = crate::run::listen(args, &security, router.all()).await?;
    info!(%addr, epoch = %link.epoch, "gateway up (NATS)");
    let service =
        http_router(app, args.dist.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let stopper = router.clone();
    let served = axum::serve(listener.tap_io(|_| {}), service)
        .with_graceful_shutdown(async move {
            crate::run::shutdown_signal().await;
            info!("stopping");
            stopper.shutdown();
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    router.shutdown();
    served.map_err(|e| format!("server error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_an_event_or_a_counted_rejection() {
        let ok = incoming(
            7,
            br#"{"product_id": 103, "quantity": 0}"#,
            1_000,
            Arc::from("a"),
        );
        assert_eq!(ok.seq, 7);
        assert!(ok.event.ts_inferred, "no ts: the stream's timestamp");
        assert_eq!(ok.event.ts_ms, 1_000);
        assert_eq!(&*ok.json, ok.event.to_json());
        for bad in [&b"not json"[..], b""] {
            let r = incoming(8, bad, 1_000, Arc::from("a"));
            match &r.event.body {
                Body::Rejected(rej) => {
                    assert_eq!(&*rej.source, "nats");
                    assert_eq!(rej.line, Some(8));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_cluster_is_a_comma_separated_list() {
        assert_eq!(
            servers("nats://n1:4222, nats://n2:4222,"),
            ["nats://n1:4222", "nats://n2:4222"]
        );
    }

    #[test]
    fn epochs_name_the_stream_and_its_creation() {
        assert_eq!(epoch_of("S", 0x1234), "nats-S-1234");
        assert_ne!(random_key(), random_key());
    }
}
