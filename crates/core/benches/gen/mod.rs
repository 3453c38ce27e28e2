//! A realistic mixed event stream, generated in-process and deterministic
//! (seeded): behaviour ~70 %, inventory ~10 %, orders ~8 %, sync ~12 %,
//! Zipf-distributed products (s = 1.1 over 10,000), four channels, event
//! time advancing ~1 ms per event (~1,000 events/s) with up to 2 s of
//! disorder. Shoppers come in sessions, as real traffic does: 5,000
//! concurrent sessions, each of 5 to 44 behaviour events, then replaced by a
//! new session of a random user out of 200,000 (so ~130,000 sessions and
//! ~100,000 users an hour). Shared by the criterion bench, the `throughput` example
//! and the engine specs (via `#[path]`).

#![allow(dead_code)] // reason: each includer uses a different subset
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // reason: bounded PRNG arithmetic

use std::fmt::Write as _;

/// 2021-09-01T00:00:00Z.
pub const START_MS: i64 = 1_630_454_400_000;
/// Products in the catalogue.
pub const PRODUCTS: usize = 10_000;
/// Users.
pub const USERS: u64 = 200_000;
/// Concurrent sessions.
pub const SESSIONS: usize = 5_000;
const CHANNELS: [&str; 4] = ["web", "app", "marketplace", "pos"];
const TARGETS: [&str; 4] = ["payment", "inventory", "logistics", "customer_service"];

/// Seeded stream generator.
pub struct Gen {
    state: u64,
    cdf: Vec<f64>,
    ts: i64,
    next_order: u64,
    open_orders: Vec<(u64, u8, u32)>,
    /// `(user, session number, events left)`.
    sessions: Vec<(u64, u64, u32)>,
    next_session: u64,
}

impl Gen {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut cdf = Vec::with_capacity(PRODUCTS);
        let mut acc = 0.0;
        for k in 1..=PRODUCTS {
            acc += 1.0 / (k as f64).powf(1.1);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Gen {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
            cdf,
            ts: START_MS,
            next_order: 500_000,
            open_orders: Vec::new(),
            sessions: Vec::with_capacity(SESSIONS),
            next_session: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn product(&mut self) -> u64 {
        let u = self.unit();
        let i = self.cdf.partition_point(|&c| c < u);
        100 + i as u64
    }

    /// The shopper of the next behaviour event: a random live session.
    fn shopper(&mut self) -> (u64, u64) {
        if self.sessions.len() < SESSIONS {
            let user = self.below(USERS) + 1;
            self.next_session += 1;
            let len = 5 + self.below(40) as u32;
            self.sessions.push((user, self.next_session, len));
        }
        let i = self.below(self.sessions.len() as u64) as usize;
        let s = &mut self.sessions[i];
        let out = (s.0, s.1);
        s.2 -= 1;
        if s.2 == 0 {
            self.sessions.swap_remove(i);
        }
        out
    }

    /// Writes the next event as one JSON line (no newline) into `out`.
    #[allow(clippy::too_many_lines)] // reason: one branch per event kind reads best inline
    pub fn next_line(&mut self, out: &mut String) {
        out.clear();
        self.ts += self.below(3) as i64;
        let ts = self.ts - self.below(2000) as i64 * i64::from(self.below(10) == 0);
        let roll = self.below(100);
        if roll < 70 {
            let (user, session) = self.shopper();
            let a = self.below(100);
            let action = match a {
                0..=69 => "browse",
                70..=84 => "add_to_cart",
                85..=87 => "remove_from_cart",
                88..=92 => "checkout",
                93..=97 => "purchase",
                _ => "wishlist",
            };
            let p = self.product();
            let ch = CHANNELS[self.below(4) as usize];
            let _ = write!(
                out,
                r#"{{"kind":"behavior","ts":{ts},"user":{user},"session":"s{session}","action":"{action}","product":{p},"channel":"{ch}","price_cents":{}}}"#,
                199 + p % 5000
            );
        } else if roll < 80 {
            let p = self.product();
            let q = if self.below(5) == 0 {
                self.below(12) as i64
            } else {
                self.below(500) as i64
            };
            let _ = write!(
                out,
                r#"{{"kind":"inventory","ts":{ts},"product":{p},"quantity":{q},"warehouse":"LON"}}"#
            );
        } else if roll < 88 {
            let r = self.below(100);
            let (id, ch, status) = if r < 60 || self.open_orders.is_empty() {
                self.next_order += 1;
                let ch = self.below(4) as u8;
                if self.open_orders.len() >= 4096 {
                    let i = self.below(4096) as usize;
                    self.open_orders.swap_remove(i);
                }
                self.open_orders.push((self.next_order, ch, 0));
                (self.next_order, ch, "created")
            } else {
                let i = self.below(self.open_orders.len() as u64) as usize;
                let (id, ch, _) = self.open_orders[i];
                let status = match r {
                    60..=84 => "paid",
                    85..=89 => "cancelled",
                    _ => "fulfilled",
                };
                (id, ch, status)
            };
            let n = 1 + self.below(4);
            let mut lines = String::new();
            let mut total = 0;
            for k in 0..n {
                let p = self.product();
                let q = 1 + self.below(3);
                let price = 199 + p % 5000;
                total += q * price;
                if k > 0 {
                    lines.push(',');
                }
                let _ = write!(
                    lines,
                    r#"{{"product":{p},"quantity":{q},"unit_price_cents":{price}}}"#
                );
            }
            let cur = if self.below(100) == 0 { "USD" } else { "GBP" };
            let user = self.below(USERS) + 1;
            let _ = write!(
                out,
                r#"{{"kind":"order","ts":{ts},"order":{id},"channel":"{}","status":"{status}","total_cents":{total},"currency":"{cur}","user":{user},"lines":[{lines}]}}"#,
                CHANNELS[ch as usize]
            );
        } else {
            let (id, ch) = if self.open_orders.is_empty() {
                (1, 0)
            } else {
                let i = self.below(self.open_orders.len() as u64) as usize;
                let o = &mut self.open_orders[i];
                o.2 += 1;
                (o.0, o.1)
            };
            let t = TARGETS[self.below(4) as usize];
            let s = self.below(100);
            let (status, attempt) = match s {
                0..=29 => ("pending", 1),
                30..=79 => ("synced", 1 + u32::from(s > 70)),
                80..=89 => ("failed", 1 + (s % 3) as u32),
                _ => ("retrying", 2 + (s % 3) as u32),
            };
            let lat = 20
                + self.below(400)
                + if self.below(20) == 0 {
                    self.below(8000)
                } else {
                    0
                };
            let _ = write!(
                out,
                r#"{{"kind":"sync","ts":{ts},"order":{id},"channel":"{}","target":"{t}","status":"{status}","attempt":{attempt},"latency_ms":{lat}}}"#,
                CHANNELS[ch as usize]
            );
        }
    }

    /// `n` lines.
    pub fn lines(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        let mut s = String::new();
        for _ in 0..n {
            self.next_line(&mut s);
            out.push(s.clone());
        }
        out
    }
}
