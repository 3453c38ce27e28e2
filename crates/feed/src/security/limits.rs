//! Per-client limits: WebSocket connections per IP and ingest events per
//! second per token.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Open WebSocket connections per peer IP (`--max-conns-per-ip`; 0: no
/// limit). A slot is taken before the upgrade and given back when the
/// connection ends ([`ConnSlot`] drop). The map only holds IPs with open
/// connections.
#[derive(Debug, Default)]
pub struct ConnLimiter {
    max: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One connection's place in its IP's count; released on drop.
#[derive(Debug)]
pub struct ConnSlot {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl ConnLimiter {
    /// At most `max` connections per IP (0: unlimited).
    pub fn new(max: u32) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The configured limit (0: none).
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Takes a slot for `ip`, or `None` when it has `max` open already.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ConnSlot {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Open connections of `ip`.
    pub fn open(&self, ip: IpAddr) -> u32 {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }
}

/// Most buckets kept; past it, full (idle) buckets are forgotten first.
const MAX_BUCKETS: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    level: f64,
    at: Instant,
}

/// Token buckets per key (`--ingest-rate` events/s, `--ingest-burst`).
///
/// A request is admitted while its bucket holds one event or more and is then charged
/// for every event it carried, even below zero (debt): a request larger than
/// the burst still goes through once, and the next ones wait until the
/// bucket has refilled. Over time a key cannot exceed `rate` events/s.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` events/s (0: unlimited), bursts of `burst` events.
    pub fn new(rate: f64, burst: f64) -> RateLimiter<K> {
        RateLimiter {
            rate: rate.max(0.0),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Is there a limit at all?
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// The configured rate, events/s.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.level = (b.level + dt * self.rate).min(self.burst);
        b.at = now;
    }

    /// `Ok` when `key` may send now; else how long to wait.
    pub fn admit(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(b) = buckets.get_mut(key) else {
            return Ok(()); // unseen: a full bucket
        };
        self.refill(b, now);
        if b.level >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.level) / self.rate))
        }
    }

    /// Charges `key` for `events` events.
    pub fn charge(&self, key: &K, events: u64, now: Instant) {
        if !self.enabled() || events == 0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                let dt = now.saturating_duration_since(b.at).as_secs_f64();
                b.level + dt * rate < burst
            });
            if buckets.len() >= MAX_BUCKETS {
                buckets.clear();
            }
        }
        let b = buckets.entry(key.clone()).or_insert(Bucket {
            level: self.burst,
            at: now,
        });
        self.refill(b, now);
        b.level -= events as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_slots_count_per_ip_and_come_back_on_drop() {
        let l = ConnLimiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = l.try_acquire(a).unwrap();
        let _s2 = l.try_acquire(a).unwrap();
        assert!(l.try_acquire(a).is_none(), "third from the same IP refused");
        let _other = l.try_acquire(b).expect("another IP is not affected");
        drop(s1);
        assert_eq!(l.open(a), 1);
        assert!(l.try_acquire(a).is_some());
        let unlimited = ConnLimiter::new(0);
        let slots: Vec<_> = (0..1000)
            .map(|_| unlimited.try_acquire(a).unwrap())
            .collect();
        assert_eq!(unlimited.open(a), 1000);
        drop(slots);
        assert_eq!(unlimited.open(a), 0);
    }

    #[test]
    fn token_bucket_admits_a_burst_then_paces() {
        let r = RateLimiter::new(100.0, 100.0);
        let t0 = Instant::now();
        assert!(r.admit(&"k", t0).is_ok());
        r.charge(&"k", 100, t0);
        let wait = r.admit(&"k", t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(20),
            "{wait:?}"
        );
        // 50 ms later 5 events' worth has come back.
        assert!(r.admit(&"k", t0 + Duration::from_millis(50)).is_ok());
        assert!(r.admit(&"other", t0).is_ok(), "keys are independent");
    }

    #[test]
    fn a_large_request_passes_once_then_waits_its_debt() {
        let r = RateLimiter::new(1000.0, 1000.0);
        let t0 = Instant::now();
        r.charge(&1, 5000, t0);
        let wait = r.admit(&1, t0).unwrap_err();
        assert!(
            wait >= Duration::from_secs(4),
            "debt of 4000 events at 1000/s: {wait:?}"
        );
        assert!(r.admit(&1, t0 + Duration::from_millis(4100)).is_ok());
    }

    #[test]
    fn unlimited_when_rate_is_zero() {
        let r = RateLimiter::new(0.0, 1.0);
        r.charge(&1, 1_000_000, Instant::now());
        assert!(r.admit(&1, Instant::now()).is_ok());
    }
}
