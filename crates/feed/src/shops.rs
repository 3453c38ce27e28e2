//! Shops on a shared stream: subject names, dashboard shop filters, and the
//! [`Router`] that keeps one [`Hub`] per filter.
//!
//! With `--nats`, every event of every shop is in one `JetStream` stream under
//! the subject `shop.<shop>.<kind>`; the stream sequence is the feed's
//! sequence. A gateway consumes the whole stream once and serves each
//! dashboard the shops it asked for (`hello.shops`):
//!
//! - the **all-shops hub** holds every event (the dashboards without a
//!   filter), and the router keeps a **ring** of the last `--history` stream
//!   positions with their shop;
//! - a **filter hub** per distinct set of shops holds only their events and
//!   runs its own engine. It is built on first use by replaying the ring's
//!   events of those shops (the bounded snapshot window, see
//!   `docs/SCALING.md`), then kept current by [`Router::ingest`] under the
//!   same lock, so its snapshot covers exactly `..=head` and its live frames
//!   start at `head + 1`. Idle filter hubs are dropped ([`Router::reap`]).
//!
//! Every hub advances its head with every stream position, so a filtered
//! dashboard's frames cover contiguous ranges of positions (`seqs` +
//! `last_seq`) and its resume point stays exact.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shoppulse_core::{decode_event, Config, Engine, Event};
use tracing::{info, warn};

use crate::hub::{Hub, HubLimits, StreamInfo};
use crate::metrics::{Metrics, Source};

/// The shop of events ingested without `?shop=`.
pub const DEFAULT_SHOP: &str = "default";
/// Longest shop name, bytes.
pub const MAX_SHOP_LEN: usize = 64;
/// Most shops in one dashboard filter.
pub const MAX_FILTER_SHOPS: usize = 32;
/// The subjects of the stream: `shop.<shop>.<kind>`.
pub const SUBJECTS: &str = "shop.>";

/// Checks a shop name: 1 to 64 bytes of `A-Z a-z 0-9 _ -` (one NATS subject
/// token, no wildcards).
pub fn check_shop(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_SHOP_LEN {
        return Err(format!(
            "shop name must be 1 to {MAX_SHOP_LEN} bytes, got {} bytes",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "shop name {name:?} has {c:?}; use letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// Checks the shop a request (`/ingest`, a webhook) names: a shop name,
/// and [`DEFAULT_SHOP`] unless the gateway serves a shared stream
/// (`--nats`), where any shop goes.
pub fn check_served_shop(name: &str, shared_stream: bool) -> Result<(), String> {
    check_shop(name)?;
    if !shared_stream && name != DEFAULT_SHOP {
        return Err(format!(
            "this gateway serves one shop, `{DEFAULT_SHOP}` (start it with --nats for several); got {name:?}"
        ));
    }
    Ok(())
}

/// The subject an event of `kind` from `shop` is published on.
pub fn subject(shop: &str, kind: &str) -> String {
    format!("shop.{shop}.{kind}")
}

/// The shop of a `shop.<shop>.<kind>` subject.
pub fn shop_of_subject(subject: &str) -> Option<&str> {
    let mut tokens = subject.split('.');
    match (tokens.next(), tokens.next()) {
        (Some("shop"), Some(shop)) if !shop.is_empty() => Some(shop),
        _ => None,
    }
}

/// A dashboard's shops: sorted, without duplicates; `None` is every shop.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ShopFilter(Option<Vec<String>>);

impl ShopFilter {
    /// Every shop.
    pub fn all() -> ShopFilter {
        ShopFilter(None)
    }

    /// Checks and normalizes `hello.shops`.
    pub fn parse(shops: Option<&[String]>) -> Result<ShopFilter, String> {
        let Some(list) = shops else {
            return Ok(ShopFilter(None));
        };
        if list.is_empty() {
            return Err("`shops` is empty; leave it out to get every shop".into());
        }
        if list.len() > MAX_FILTER_SHOPS {
            return Err(format!(
                "`shops` names {} shops; at most {MAX_FILTER_SHOPS}",
                list.len()
            ));
        }
        for s in list {
            check_shop(s)?;
        }
        let mut v = list.to_vec();
        v.sort();
        v.dedup();
        Ok(ShopFilter(Some(v)))
    }

    /// True for every shop.
    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// Whether an event of `shop` passes.
    pub fn matches(&self, shop: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|v| v.binary_search_by(|s| s.as_str().cmp(shop)).is_ok())
    }

    /// `a,b,c`, or `*` for every shop.
    pub fn describe(&self) -> String {
        self.0
            .as_ref()
            .map_or_else(|| "*".to_owned(), |v| v.join(","))
    }
}

/// One stream message, decoded, on its way into the hubs.
#[derive(Debug)]
pub struct Incoming {
    /// Stream sequence.
    pub seq: u64,
    /// The shop from the subject.
    pub shop: Arc<str>,
    /// The event (or a `rejected` notice for an undecodable message).
    pub event: Event,
    /// Its canonical JSON.
    pub json: Arc<str>,
}

struct Held {
    seq: u64,
    shop: Arc<str>,
    json: Arc<str>,
}

struct FilterHub {
    hub: Arc<Hub>,
    last_used: Instant,
}

struct Inner {
    ring: VecDeque<Held>,
    /// The oldest position the ring covers.
    ring_oldest: u64,
    head: u64,
    filters: HashMap<ShopFilter, FilterHub>,
}

/// The hubs of a gateway on a shared stream. See the module docs.
pub struct Router {
    inner: Mutex<Inner>,
    all: Arc<Hub>,
    info: StreamInfo,
    limits: HubLimits,
    metrics: Arc<Metrics>,
    max_filters: usize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("epoch", &self.info.epoch)
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router whose stream starts after position `after` (positions up to
    /// it are not served: older resume points get a `gap`).
    pub fn new(info: StreamInfo, limits: HubLimits, max_filters: usize, after: u64) -> Router {
        let metrics = Arc::new(Metrics::default());
        let all = Arc::new(Hub::with_metrics(
            info.clone(),
            limits.clone(),
            Engine::new(Config::default()),
            metrics.clone(),
            after,
        ));
        Router {
            inner: Mutex::new(Inner {
                ring: VecDeque::new(),
                ring_oldest: after + 1,
                head: after,
                filters: HashMap::new(),
            }),
            all,
            info,
            limits,
            metrics,
            max_filters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The all-shops hub (also the gateway's `/healthz` and `/metrics`).
    pub fn all(&self) -> &Arc<Hub> {
        &self.all
    }

    /// The last stream position taken.
    pub fn head(&self) -> u64 {
        self.lock().head
    }

    /// Filter hubs alive.
    pub fn filters(&self) -> usize {
        self.lock().filters.len()
    }

    /// Takes a batch of stream messages in sequence order: into the ring,
    /// the all-shops hub and every filter hub whose shops match; every hub's
    /// head moves to the batch's last position. Messages at or before the
    /// head are ignored (a consumer that re-delivers never doubles).
    pub fn ingest(&self, batch: &[Incoming]) {
        let mut inner = self.lock();
        let fresh: Vec<&Incoming> = batch.iter().filter(|m| m.seq > inner.head).collect();
        let Some(last) = fresh.last().map(|m| m.seq) else {
            return;
        };
        let cap = self.limits.history.max(1);
        for m in &fresh {
            inner.ring.push_back(Held {
                seq: m.seq,
                shop: m.shop.clone(),
                json: m.json.clone(),
            });
        }
        while inner.ring.len() > cap {
            if let Some(old) = inner.ring.pop_front() {
                inner.ring_oldest = old.seq + 1;
            }
        }
        inner.head = last;
        let every: Vec<(u64, &Event, Arc<str>)> = fresh
            .iter()
            .map(|m| (m.seq, &m.event, m.json.clone()))
            .collect();
        self.all.publish_at(&every, last, Source::Nats);
        for (filter, fh) in &inner.filters {
            let mine: Vec<(u64, &Event, Arc<str>)> = fresh
                .iter()
                .filter(|m| filter.matches(&m.shop))
                .map(|m| (m.seq, &m.event, m.json.clone()))
                .collect();
            // Filter hubs share the all-shops hub's counters: count nothing twice.
            fh.hub.publish_at_uncounted(&mine, last);
        }
    }

    /// The hub serving `filter`, created (and its broadcaster spawned on
    /// the current runtime) on first use.
    pub fn hub_for(&self, filter: &ShopFilter) -> Result<Arc<Hub>, String> {
        if filter.is_all() {
            return Ok(self.all.clone());
        }
        let mut inner = self.lock();
        if let Some(fh) = inner.filters.get_mut(filter) {
            fh.last_used = Instant::now();
            return Ok(fh.hub.clone());
        }
        if inner.filters.len() >= self.max_filters {
            // Not the ones just handed out to connections still joining.
            Self::reap_locked(&mut inner, Duration::from_secs(1));
            if inner.filters.len() >= self.max_filters {
                return Err(format!(
                    "this gateway already serves {} shop filters (--max-filters); try again later or watch every shop",
                    inner.filters.len()
                ));
            }
        }
        let started = Instant::now();
        let info = StreamInfo {
            epoch: self.info.epoch.clone(),
            source: format!("{}; shops {}", self.info.source, filter.describe()),
            replay_speed: None,
        };
        let hub = Arc::new(Hub::with_metrics(
            info,
            self.limits.clone(),
            Engine::new(Config::default()),
            self.metrics.clone(),
            inner.ring_oldest - 1,
        ));
        // The snapshot window: the ring's events of these shops.
        let mut decoded = Vec::new();
        for h in inner.ring.iter().filter(|h| filter.matches(&h.shop)) {
            match decode_event(&h.json, 0) {
                Ok(ev) => decoded.push((h.seq, ev, h.json.clone())),
                Err(e) => warn!(seq = h.seq, error = %e, "held event does not decode; skipped"),
            }
        }
        let items: Vec<(u64, &Event, Arc<str>)> =
            decoded.iter().map(|(q, e, j)| (*q, e, j.clone())).collect();
        hub.publish_at_uncounted(&items, inner.head);
        tokio::spawn(hub.clone().broadcast());
        info!(
            shops = %filter.describe(),
            events = items.len(),
            ms = started.elapsed().as_millis(),
            "shop filter hub built from the window"
        );
        inner.filters.insert(
            filter.clone(),
            FilterHub {
                hub: hub.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(hub)
    }

    /// Drops filter hubs without dashboards unused for `idle`.
    pub fn reap(&self, idle: Duration) {
        Self::reap_locked(&mut self.lock(), idle);
    }

    fn reap_locked(inner: &mut Inner, idle: Duration) {
        inner.filters.retain(|filter, fh| {
            let keep = fh.hub.subscribers() > 0 || fh.last_used.elapsed() < idle;
            if !keep {
                info!(shops = %filter.describe(), "idle shop filter hub dropped");
                fh.hub.shutdown();
            }
            keep
        });
    }

    /// Stops every hub (dashboards get `shutdown`).
    pub fn shutdown(&self) {
        self.all.shutdown();
        for fh in self.lock().filters.values() {
            fh.hub.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::frame::{ResumePoint, ServerFrame};

    #[test]
    fn shop_names_are_single_subject_tokens() {
        assert!(check_shop("north-1_EU").is_ok());
        for bad in ["", "a.b", "a*", ">", "a b", &"x".repeat(65)] {
            assert!(check_shop(bad).is_err(), "{bad:?}");
        }
        assert_eq!(subject("north", "order"), "shop.north.order");
        assert_eq!(shop_of_subject("shop.north.order"), Some("north"));
        assert_eq!(shop_of_subject("other.north"), None);
    }

    #[test]
    fn filters_are_normalized_and_checked() {
        let f = ShopFilter::parse(Some(&["b".into(), "a".into(), "b".into()])).unwrap();
        assert_eq!(f.describe(), "a,b");
        assert!(f.matches("a") && f.matches("b") && !f.matches("c"));
        assert!(ShopFilter::parse(None).unwrap().matches("anything"));
        assert!(ShopFilter::parse(Some(&[])).is_err());
        assert!(ShopFilter::parse(Some(&["a.b".into()])).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("s{i}")).collect();
        assert!(ShopFilter::parse(Some(&many)).is_err());
    }

    fn incoming(seq: u64, shop: &str) -> Incoming {
        let json = format!(r#"{{"kind":"inventory","ts":{seq},"product":{seq},"quantity":1}}"#);
        let event = decode_event(&json, 0).unwrap();
        Incoming {
            seq,
            shop: Arc::from(shop),
            json: Arc::from(event.to_json()),
            event,
        }
    }

    fn router() -> Router {
        Router::new(
            StreamInfo {
                epoch: "nats-t".into(),
                source: "test".into(),
                replay_speed: None,
            },
            HubLimits {
                history: 100,
                ..HubLimits::default()
            },
            4,
            0,
        )
    }

    #[tokio::test]
    async fn a_filter_hub_starts_from_the_window_and_follows_the_stream() {
        let r = router();
        r.ingest(&[incoming(1, "a"), incoming(2, "b"), incoming(3, "a")]);
        let a = r
            .hub_for(&ShopFilter::parse(Some(&["a".into()])).unwrap())
            .unwrap();
        assert_eq!(a.head_seq(), 3);
        let joined = a.join(
            1,
            Some(&ResumePoint {
                epoch: "nats-t".into(),
                seq: 1,
            }),
        );
        match joined.start {
            crate::hub::Start::Resume { seqs, last_seq, .. } => {
                assert_eq!(seqs, [3], "only shop a after seq 1");
                assert_eq!(last_seq, 3);
            }
            crate::hub::Start::Snapshot { .. } => panic!("expected a resume"),
        }
        // Live: 4 (b) and 5 (a); the frame covers 4..=5 and carries seq 5.
        r.ingest(&[incoming(4, "b"), incoming(5, "a")]);
        r.ingest(&[incoming(5, "a")]); // re-delivered: ignored
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut sub = joined.sub;
        let out = sub.rx.try_recv().unwrap();
        match ServerFrame::parse(out.payload.as_text().unwrap()).unwrap() {
            ServerFrame::Events {
                first_seq,
                seqs,
                last_seq,
                events,
                ..
            } => {
                assert_eq!(first_seq, 4);
                assert_eq!(seqs.as_deref(), Some(&[5][..]));
                assert_eq!(last_seq, Some(5));
                assert_eq!(events.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(sub.rx.try_recv().is_err(), "nothing doubled");
        assert_eq!(r.all().head_seq(), 5);
        r.shutdown();
    }

    #[tokio::test]
    async fn filter_hubs_are_bounded_and_idle_ones_go() {
        let r = router();
        let filter = |name: &str| ShopFilter::parse(Some(&[name.into()])).unwrap();
        let mut hubs = Vec::new();
        for name in ["a", "b", "c", "d"] {
            hubs.push(r.hub_for(&filter(name)).unwrap());
        }
        assert_eq!(r.filters(), 4);
        let refused = r.hub_for(&filter("e")).unwrap_err();
        assert!(refused.contains("--max-filters"), "{refused}");
        let _dashboard = hubs[0].join(1, None);
        r.reap(Duration::ZERO);
        assert_eq!(r.filters(), 1, "only the hub with a dashboard stays");
        assert!(r.hub_for(&filter("e")).is_ok());
        assert!(
            r.hub_for(&ShopFilter::all()).is_ok(),
            "every shop: no filter hub"
        );
        assert_eq!(r.filters(), 2);
        r.shutdown();
    }
}
