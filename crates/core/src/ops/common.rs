//! Building blocks shared by the operators, all bounded and serializable.
//!
//! - [`FastMap`]: `HashMap` with the Fx hasher (`rustc-hash`): fast on short
//!   keys, works on wasm32, serde-friendly. Iteration order is never exposed:
//!   everything that leaves an operator is sorted.
//! - [`id_hash`]: a *stable* 64-bit hash of an [`Id`], identical on wasm32
//!   and native, so sketches built by the gateway keep working in the browser
//!   after a snapshot.
//! - [`Lru`]: a map bounded by recency (least recently touched evicted first)
//!   or expired by event time, with amortized O(1) upkeep.
//! - [`Ring`]: tumbling event-time buckets in a fixed ring (per second,
//!   minute, hour, day).
//! - [`Hll`]: `HyperLogLog` (p = 12, 4096 one-byte registers, ~1.6 % standard
//!   error), written here (a few dozen lines; the crates we looked at either
//!   hash with a per-process random seed or do not serialize).
//! - [`SpaceSaving`]: weighted heavy hitters with per-item error bounds.
//! - [`LogHist`]: log-bucketed histogram for percentiles with bounded
//!   relative error (2 %), written here (tiny, exact error bound, serde and
//!   wasm32 without features).
//! - [`Channels`]: bounded interning of channel names.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use rustc_hash::FxBuildHasher;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::Id;
use crate::view::ProductCount;

/// A `HashMap` with the fast, deterministic Fx hasher.
pub type FastMap<K, V> = HashMap<K, V, FxBuildHasher>;
/// A `HashSet` with the Fx hasher.
pub type FastSet<K> = std::collections::HashSet<K, FxBuildHasher>;

/// One-byte tags of the hashes in a small inline list (slot `i` in byte
/// `i % 8` of word `i / 8`), so a search compares 8 slots per word with a
/// few integer operations instead of one 64-bit compare per slot; a tag
/// match is then confirmed on the full hash (a tag is one byte of the
/// hash, so about one slot in 256 matches by chance). Derived data: rebuilt
/// whenever the list is, never serialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tags<const W: usize>([u64; W]);

impl<const W: usize> Default for Tags<W> {
    fn default() -> Self {
        Tags([0; W])
    }
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

impl<const W: usize> Tags<W> {
    /// The tag of hash `h` (its top byte).
    fn tag(h: u64) -> u64 {
        h >> 56
    }

    /// Sets slot `i`'s tag from hash `h`.
    pub fn set(&mut self, i: usize, h: u64) {
        let (w, shift) = (i / 8, (i % 8) * 8);
        self.0[w] = (self.0[w] & !(0xff << shift)) | (Self::tag(h) << shift);
    }

    /// The first of the first `len` slots of `hs` holding `h`, found from
    /// the tags (`hs` and the tags must describe the same list).
    pub fn find<const N: usize>(&self, hs: &[u64; N], len: usize, h: u64) -> Option<usize> {
        let key = Self::tag(h).wrapping_mul(0x0101_0101_0101_0101);
        let live = if len >= 64 {
            u64::MAX
        } else {
            (1u64 << len) - 1
        };
        let mut m = 0u64;
        for (w, &word) in self.0.iter().enumerate() {
            // Exact zero-byte test (no false positives): the high bit of
            // each byte of `z` is set where `word` and `key` agree.
            let x = word ^ key;
            let z = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
            // The 8 high bits gathered into one byte, slot order.
            let bits = ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
            m |= bits << (8 * w);
        }
        m &= live;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            if hs.get(i) == Some(&h) {
                return Some(i);
            }
            m &= m - 1;
        }
        None
    }
}

/// `SplitMix64` finalizer: a strong, cheap 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stable 64-bit hash of an id: the same on every platform and every run.
pub fn id_hash(id: &Id) -> u64 {
    match id {
        Id::Num(n) => mix64(*n),
        Id::Str(s) => str_hash(s.as_bytes()),
    }
}

/// The hash of a string id: a fixed number of wide reads for the usual
/// short ids (a byte loop ending at a varying length costs a mispredicted
/// branch per id; measured with cachegrind), tagged so it differs from the
/// numbers'. Up to 16 bytes, two overlapping reads cover every byte, so
/// `(length, first read, last read)` names the string exactly and only
/// the mixing can collide; longer ids fold every 8-byte chunk in.
fn str_hash(b: &[u8]) -> u64 {
    let n = b.len();
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    let (mut acc, first, last) = match n {
        0 => (0, 0, 0),
        1..=3 => (
            0,
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ),
        4..=7 => (0, half(0), half(n - 4)),
        8..=16 => (0, word(0), word(n - 8)),
        _ => {
            let mut acc = 0u64;
            let mut at = 8;
            while at + 8 < n {
                acc = mix64(acc ^ word(at));
                at += 8;
            }
            (acc, word(0), word(n - 8))
        }
    };
    acc ^= (n as u64).rotate_left(56) ^ 0x5bd1_e995_5bd1_e995;
    mix64(mix64(acc ^ first) ^ last)
}

/// Serializes any map as a JSON array of `[key, value]` pairs, so keys that
/// are not strings (tuples, enums) survive JSON.
pub mod map_vec {
    use super::{DeserializeOwned, Deserializer, Hash, HashMap, Serialize, Serializer};
    use serde::Deserialize;
    use std::hash::BuildHasher;

    /// Writes the map as a sequence of pairs.
    pub fn serialize<K: Serialize, V: Serialize, H: BuildHasher, S: Serializer>(
        m: &HashMap<K, V, H>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    /// Reads a sequence of pairs back into a map.
    pub fn deserialize<'de, K, V, H, D>(d: D) -> Result<HashMap<K, V, H>, D::Error>
    where
        K: DeserializeOwned + Hash + Eq,
        V: DeserializeOwned,
        H: BuildHasher + Default,
        D: Deserializer<'de>,
    {
        let pairs: Vec<(K, V)> = Vec::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

/// How far ahead in its upkeep queue [`Lru::pop_oldest`] reads.
pub const LRU_WARM_AHEAD: usize = 16;

/// A map bounded by recency or by event-time expiry.
///
/// Every entry carries a `stamp` (a touch sequence number or an event time,
/// only ever raised). A queue holds each key with the stamp it had when
/// queued; the front is the oldest candidate. When popping, an entry whose
/// stamp moved on is re-queued instead of evicted. Each re-queue pays for an
/// earlier touch, so upkeep is amortized O(1) per touch, and the queue holds
/// about one slot per live key.
///
/// Serialized compactly and exactly as one list in queue order:
/// `[key, queued_stamp, stamp, value]` per entry.
#[derive(Clone, Debug)]
pub struct Lru<K, V> {
    map: FastMap<K, (u64, V)>,
    queue: VecDeque<(K, u64)>,
}

impl<K: Serialize + Hash + Eq, V: Serialize> Serialize for Lru<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.map.len()))?;
        // Each live key has exactly one queue slot (see `touch`/`pop_*`).
        for (k, queued) in &self.queue {
            if let Some((stamp, v)) = self.map.get(k) {
                seq.serialize_element(&(k, queued, stamp, v))?;
            }
        }
        seq.end()
    }
}

impl<'de, K: DeserializeOwned + Hash + Eq + Clone, V: DeserializeOwned> Deserialize<'de>
    for Lru<K, V>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries: Vec<(K, u64, u64, V)> = Vec::deserialize(d)?;
        let mut lru = Lru {
            map: FastMap::default(),
            queue: VecDeque::with_capacity(entries.len()),
        };
        lru.map.reserve(entries.len());
        for (k, queued, stamp, v) in entries {
            lru.queue.push_back((k.clone(), queued));
            lru.map.insert(k, (stamp, v));
        }
        Ok(lru)
    }
}

impl<K, V> Default for Lru<K, V> {
    fn default() -> Self {
        Lru {
            map: FastMap::default(),
            queue: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// Live entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Slots in the upkeep queue (about `len()`; bounded by touches).
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// The stamp at the front of the upkeep queue: the first one
    /// [`Lru::pop_expired`] looks at.
    pub fn front_stamp(&self) -> Option<u64> {
        self.queue.front().map(|e| e.1)
    }

    /// The value for `k`, without touching it.
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(k).map(|e| &e.1)
    }

    /// The value for `k`, mutably, without touching it.
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(k).map(|e| &mut e.1)
    }

    /// Touches `k` with `stamp` (stamps only go up), inserting `make()` when
    /// absent. Returns the value and whether it was inserted.
    pub fn touch(&mut self, k: &K, stamp: u64, make: impl FnOnce() -> V) -> (&mut V, bool) {
        match self.map.entry(k.clone()) {
            Entry::Occupied(o) => {
                let e = o.into_mut();
                if stamp > e.0 {
                    e.0 = stamp;
                }
                (&mut e.1, false)
            }
            Entry::Vacant(v) => {
                self.queue.push_back((k.clone(), stamp));
                (&mut v.insert((stamp, make())).1, true)
            }
        }
    }

    /// The stamp and value of `k`, mutably, without touching it.
    pub fn get_full_mut(&mut self, k: &K) -> Option<(u64, &mut V)> {
        self.map.get_mut(k).map(|e| (e.0, &mut e.1))
    }

    /// Raises the stamp of `k` if present; returns its value.
    pub fn touch_existing(&mut self, k: &K, stamp: u64) -> Option<&mut V> {
        let e = self.map.get_mut(k)?;
        if stamp > e.0 {
            e.0 = stamp;
        }
        Some(&mut e.1)
    }

    /// All values, mutably (unordered).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.map.values_mut().map(|e| &mut e.1)
    }

    /// The value of the first eviction candidate (the front of the upkeep
    /// queue), without changing anything: lets a caller bring it into the
    /// cache before an insert evicts it.
    pub fn peek_oldest(&self) -> Option<&V> {
        let (k, _) = self.queue.front()?;
        self.map.get(k).map(|e| &e.1)
    }

    /// Removes and returns the least recently stamped entry.
    ///
    /// Each call also reads the entry of the key [`LRU_WARM_AHEAD`] places
    /// further in the upkeep queue, changing nothing: in a map too big for
    /// the cache, the eviction that pops it then finds its entry in the
    /// cache, and the read, issued before this eviction's own probe, waits
    /// for memory at the same time as that probe rather than after it.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        let ahead = self
            .queue
            .get(LRU_WARM_AHEAD)
            .and_then(|(k, _)| self.map.get(k));
        std::hint::black_box(ahead.map(|e| e.0));
        self.pop_queued(|_| false, |queued, cur| cur == queued)
    }

    /// Removes and returns one entry whose stamp is below `cutoff`, if any
    /// (call in a loop to expire everything older than `cutoff`).
    pub fn pop_expired(&mut self, cutoff: u64) -> Option<(K, V)> {
        self.pop_queued(|queued| queued >= cutoff, |_, cur| cur < cutoff)
    }

    /// Pops the upkeep queue until `stop(queued stamp)` or an entry with
    /// `evict(queued stamp, stamp)`, which is removed and returned; a live
    /// entry whose stamp moved on is queued again with its stamp.
    fn pop_queued(
        &mut self,
        stop: impl Fn(u64) -> bool,
        evict: impl Fn(u64, u64) -> bool,
    ) -> Option<(K, V)> {
        while let Some(&(_, queued)) = self.queue.front() {
            if stop(queued) {
                return None;
            }
            let (k, queued) = self.queue.pop_front()?;
            let Some(&(cur, _)) = self.map.get(&k) else {
                continue;
            };
            if evict(queued, cur) {
                let (_, v) = self.map.remove(&k)?;
                return Some((k, v));
            }
            self.queue.push_back((k, cur));
        }
        None
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.queue.clear();
    }

    /// All entries (unordered): `(key, stamp, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&K, u64, &V)> {
        self.map.iter().map(|(k, (s, v))| (k, *s, v))
    }
}

/// Maps an event time to a `u64` stamp for [`Lru`], preserving order for
/// times from 1970 on (earlier times all map to 0); short in JSON.
pub fn time_stamp(ts_ms: i64) -> u64 {
    u64::try_from(ts_ms).unwrap_or(0)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Slot<T> {
    idx: i64,
    val: T,
}

/// `N`-slot ring of tumbling event-time buckets of `len_ms` each. A bucket
/// is reused (reset) when time moves `N` buckets on; writes older than the
/// `N` buckets ending at "now" are refused. Slots are allocated on first
/// write (an empty ring costs nothing in a snapshot). The bucket of the
/// last time looked up is remembered, so the events of one bucket (most
/// events, in time order) cost no division.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RingWire<T>")]
pub struct Ring<T> {
    len_ms: i64,
    n: usize,
    slots: Vec<Slot<T>>,
    /// The last bucket looked up: its first millisecond, index and slot.
    #[serde(skip)]
    hot: Option<(i64, i64, usize)>,
}

/// Most buckets a ring may have; a snapshot claiming more is refused.
pub const MAX_RING_SLOTS: usize = 100_000;

/// A ring as it comes in from a snapshot, checked before use.
#[derive(Deserialize)]
struct RingWire<T> {
    len_ms: i64,
    n: usize,
    slots: Vec<Slot<T>>,
}

impl<T> TryFrom<RingWire<T>> for Ring<T> {
    type Error = String;

    /// Refuses rings that would divide by zero or index out of bounds.
    fn try_from(w: RingWire<T>) -> Result<Self, String> {
        if w.n == 0 || w.n > MAX_RING_SLOTS {
            return Err(format!("a ring of {} buckets (1..={MAX_RING_SLOTS})", w.n));
        }
        if w.len_ms <= 0 {
            return Err(format!("a ring bucket of {} ms", w.len_ms));
        }
        if !w.slots.is_empty() && w.slots.len() != w.n {
            return Err(format!(
                "a ring of {} buckets holding {}",
                w.n,
                w.slots.len()
            ));
        }
        Ok(Ring {
            len_ms: w.len_ms,
            n: w.n,
            slots: w.slots,
            hot: None,
        })
    }
}

impl<T: Default + Clone> Ring<T> {
    /// A ring of `n` buckets of `len_ms`.
    pub fn new(n: usize, len_ms: i64) -> Self {
        Ring {
            len_ms,
            n,
            slots: Vec::new(),
            hot: None,
        }
    }

    /// Bucket length.
    pub fn len_ms(&self) -> i64 {
        self.len_ms
    }

    /// Number of buckets.
    pub fn capacity(&self) -> usize {
        self.n
    }

    /// Bucket index of a time.
    pub fn index_of(&self, ts_ms: i64) -> i64 {
        ts_ms.div_euclid(self.len_ms)
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap
    )] // reason: ring sizes are tiny; rem_euclid of a positive n is in 0..n
    fn pos(&self, idx: i64) -> usize {
        idx.rem_euclid(self.n as i64) as usize
    }

    /// The bucket holding `ts_ms`, reset if it held an older bucket; `None`
    /// when `ts_ms` is older than the `N` buckets ending at `now_ms`.
    #[inline]
    pub fn slot_mut(&mut self, ts_ms: i64, now_ms: i64) -> Option<&mut T> {
        // Most events: the event and the newest time both fall in the last
        // bucket looked up, which is held.
        if let Some((lo, idx, pos)) = self.hot {
            if self.in_bucket(ts_ms, lo)
                && self.in_bucket(now_ms, lo)
                && self.slots.get(pos).is_some_and(|s| s.idx == idx)
            {
                return Some(&mut self.slots[pos].val);
            }
        }
        self.slot_mut_slow(ts_ms, now_ms)
    }

    /// True when `ts_ms` falls in the bucket starting at `lo`.
    #[allow(clippy::cast_sign_loss)] // reason: ts_ms >= lo, so the wrapped difference is the exact distance; len_ms > 0
    fn in_bucket(&self, ts_ms: i64, lo: i64) -> bool {
        ts_ms >= lo && (ts_ms.wrapping_sub(lo) as u64) < self.len_ms as u64
    }

    /// [`Ring::slot_mut`] outside its fast path.
    #[inline(never)]
    fn slot_mut_slow(&mut self, ts_ms: i64, now_ms: i64) -> Option<&mut T> {
        let (now_idx, _) = self.locate(now_ms);
        let (idx, pos) = self.locate(ts_ms);
        let now_idx = now_idx.max(idx);
        // In i128: `now_idx - n` is below `i64::MIN` for a 1-ms ring at the
        // earliest times.
        #[allow(clippy::cast_possible_wrap)] // reason: ring sizes are tiny
        if i128::from(idx) <= i128::from(now_idx) - self.n as i128 {
            return None;
        }
        if self.slots.is_empty() {
            self.slots = vec![
                Slot {
                    idx: i64::MIN,
                    val: T::default(),
                };
                self.n
            ];
        }
        let slot = &mut self.slots[pos];
        if slot.idx != idx {
            if slot.idx > idx {
                return None;
            }
            slot.idx = idx;
            slot.val = T::default();
        }
        Some(&mut slot.val)
    }

    /// The bucket index of `ts_ms` and its slot, from the last bucket looked
    /// up when `ts_ms` falls in it (no division), else computed and
    /// remembered.
    fn locate(&mut self, ts_ms: i64) -> (i64, usize) {
        if let Some((lo, idx, pos)) = self.hot {
            if self.in_bucket(ts_ms, lo) {
                return (idx, pos);
            }
        }
        let idx = self.index_of(ts_ms);
        let pos = self.pos(idx);
        // Not remembered when the bucket starts before i64::MIN.
        self.hot = idx.checked_mul(self.len_ms).map(|lo| (lo, idx, pos));
        (idx, pos)
    }

    /// The bucket with index `idx`, if held.
    pub fn get(&self, idx: i64) -> Option<&T> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = &self.slots[self.pos(idx)];
        (slot.idx == idx).then_some(&slot.val)
    }

    /// All held buckets, mutably, with their index.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (i64, &mut T)> {
        self.slots
            .iter_mut()
            .filter(|s| s.idx != i64::MIN)
            .map(|s| (s.idx, &mut s.val))
    }

    /// Buckets allocated (0 or `n`).
    pub fn allocated(&self) -> usize {
        self.slots.len()
    }
}

/// `HyperLogLog` precision: 2^12 registers.
pub const HLL_P: u32 = 12;
/// Registers per sketch.
pub const HLL_M: usize = 1 << HLL_P;

/// A `HyperLogLog` sketch over stable 64-bit hashes. Registers are allocated
/// on first insert and serialized as hex.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hll {
    regs: Vec<u8>,
}

impl Hll {
    /// Adds a hashed item.
    #[allow(clippy::cast_possible_truncation)] // reason: leading_zeros() + 1 <= 65 fits in u8; index < 2^12
    pub fn insert(&mut self, h: u64) {
        if self.regs.is_empty() {
            self.regs = vec![0; HLL_M];
        }
        let idx = (h >> (64 - HLL_P)) as usize;
        let rank = ((h << HLL_P) | (1 << (HLL_P - 1))).leading_zeros() as u8 + 1;
        let r = &mut self.regs[idx];
        if rank > *r {
            *r = rank;
        }
    }

    /// Takes the register-wise maximum into `acc` (length [`HLL_M`]).
    pub fn merge_into(&self, acc: &mut [u8]) {
        for (a, &r) in acc.iter_mut().zip(&self.regs) {
            *a = (*a).max(r);
        }
    }

    /// True before any insert.
    pub fn is_empty(&self) -> bool {
        self.regs.is_empty()
    }

    /// Cardinality estimate of merged registers (with the small-range
    /// linear-counting correction).
    pub fn estimate(regs: &[u8]) -> f64 {
        let m = HLL_M as f64;
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for &r in regs {
            sum += f64::from(-i32::from(r)).exp2();
            if r == 0 {
                zeros += 1;
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        }
    }
}

impl Serialize for Hll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.regs.len() * 2);
        for &b in &self.regs {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        s.serialize_str(&out)
    }
}

impl<'de> Deserialize<'de> for Hll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        let b = text.as_bytes();
        if !b.is_empty() && b.len() != HLL_M * 2 {
            return Err(serde::de::Error::custom("bad HyperLogLog register length"));
        }
        let nib = |c: u8| -> Result<u8, D::Error> {
            (c as char)
                .to_digit(16)
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(|| serde::de::Error::custom("bad HyperLogLog register hex"))
        };
        let mut regs = Vec::with_capacity(b.len() / 2);
        for pair in b.chunks_exact(2) {
            regs.push((nib(pair[0])? << 4) | nib(pair[1])?);
        }
        Ok(Hll { regs })
    }
}

/// Weighted Space-Saving heavy hitters with `cap` counters.
///
/// Guarantees (Metwally et al.), with `W` the total weight added: every
/// reported `count` satisfies `count - error <= true <= count`, `error <=
/// W / cap`, and every item whose true weight exceeds `W / cap` is held.
///
/// A new item replaces the first counter (in slot order) at the minimum.
/// Counts only grow, so that counter is found from where the last one was:
/// every slot before [`SpaceSaving::min_from`] counts more than
/// [`SpaceSaving::min_count`], and a scan of all counters happens only when
/// no slot at or after it is still at that count (the minimum rose).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SpaceSaving {
    ids: Vec<Id>,
    counts: Vec<u64>,
    errors: Vec<u64>,
    /// Stable hash of the id -> counter slot.
    index: FastMap<u64, u32>,
    total: u64,
    /// A lower bound of the smallest count, exact when some slot at or after
    /// `min_from` holds it; not kept in snapshots (`min_from == 0` after a
    /// read, so the first replacement scans).
    #[serde(skip)]
    min_count: u64,
    /// Every slot before it counts more than `min_count`.
    #[serde(skip)]
    min_from: usize,
}

impl SpaceSaving {
    /// Adds `w` to `id`, keeping at most `cap` counters.
    #[allow(clippy::cast_possible_truncation)] // reason: cap is a small constant, indices fit in u32
    pub fn add(&mut self, id: &Id, w: u64, cap: usize) {
        self.total += w;
        let h = id_hash(id);
        if let Some(&i) = self.index.get(&h) {
            self.counts[i as usize] += w;
            return;
        }
        if self.ids.len() < cap {
            self.index.insert(h, self.ids.len() as u32);
            self.ids.push(id.clone());
            self.counts.push(w);
            self.errors.push(0);
            // A new slot may count less than `min_count`: scan next time.
            self.min_from = 0;
            self.min_count = 0;
            return;
        }
        let Some(mi) = self.first_min() else {
            return;
        };
        let min = self.counts[mi];
        self.index.remove(&id_hash(&self.ids[mi]));
        self.index.insert(h, mi as u32);
        self.ids[mi] = id.clone();
        self.counts[mi] = min + w;
        self.errors[mi] = min;
        self.min_from = mi;
    }

    /// The first slot at the smallest count (`None` when there are none).
    fn first_min(&mut self) -> Option<usize> {
        let from = self.min_from.min(self.counts.len());
        if let Some(i) = self.counts[from..]
            .iter()
            .position(|&c| c == self.min_count)
        {
            return Some(from + i);
        }
        let (i, &min) = self
            .counts
            .iter()
            .enumerate()
            .min_by_key(|&(i, &c)| (c, i))?;
        self.min_count = min;
        self.min_from = i;
        Some(i)
    }

    /// Total weight added.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counters held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `n` largest counters, count descending then id.
    pub fn top(&self, n: usize) -> Vec<ProductCount> {
        let mut all: Vec<ProductCount> = self
            .ids
            .iter()
            .zip(&self.counts)
            .zip(&self.errors)
            .map(|((id, &count), &error)| ProductCount {
                product: id.clone(),
                count,
                error,
            })
            .collect();
        crate::sort::sort_by(&mut all, |a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.product.cmp(&b.product))
        });
        all.truncate(n);
        all
    }
}

/// Growth factor between [`LogHist`] buckets.
pub const LOG_HIST_GAMMA: f64 = 1.04;
/// Worst relative error of a [`LogHist`] quantile: `(γ-1)/(γ+1)` ≈ 1.96 %.
pub const LOG_HIST_REL_ERROR: f64 = (LOG_HIST_GAMMA - 1.0) / (LOG_HIST_GAMMA + 1.0);

/// Log-bucketed histogram of non-negative integers (latencies in ms).
///
/// Bucket `i` holds values in `(γ^(i-1), γ^i]` (γ = 1.04) and reports
/// `2γ^i/(γ+1)`, so every quantile is within [`LOG_HIST_REL_ERROR`] (2 %) of
/// a true sample at the same rank; zero is exact. Buckets are dense and
/// grow to the largest value seen: at most 1,130 for the whole `u64` range
/// (≈ 240 up to 10 s).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogHist {
    zeros: u64,
    counts: Vec<u64>,
    n: u64,
}

impl LogHist {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // reason: ln(u64::MAX)/ln(1.04) < 1200, non-negative for v >= 1
    fn bucket(v: u64) -> usize {
        ((v as f64).ln() / LOG_HIST_GAMMA.ln()).ceil().max(0.0) as usize
    }

    /// Adds one value.
    pub fn add(&mut self, v: u64) {
        self.n += 1;
        if v == 0 {
            self.zeros += 1;
            return;
        }
        let b = Self::bucket(v);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The `q`-quantile (nearest rank: the value at rank `ceil(q·n)`), or
    /// `None` when empty.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap
    )] // reason: ranks are small positive numbers; bucket indices < 1200
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = self.zeros;
        if seen >= rank {
            return Some(0.0);
        }
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(2.0 * LOG_HIST_GAMMA.powi(i as i32) / (LOG_HIST_GAMMA + 1.0));
            }
        }
        None
    }
}

/// Most distinct channel names kept; later new names share the last slot,
/// named [`OTHER_CHANNEL`].
pub const MAX_CHANNELS: usize = 64;
/// Name of the overflow channel slot.
pub const OTHER_CHANNEL: &str = "(other)";

/// Interned channel names (bounded by [`MAX_CHANNELS`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Channels {
    names: Vec<Box<str>>,
    index: FastMap<Box<str>, u16>,
}

impl Channels {
    /// The slot of `name`, interning it if new.
    #[allow(clippy::cast_possible_truncation)] // reason: at most MAX_CHANNELS (64) slots
    pub fn intern(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let name = if self.names.len() + 1 >= MAX_CHANNELS {
            if let Some(&i) = self.index.get(OTHER_CHANNEL) {
                return i;
            }
            OTHER_CHANNEL
        } else {
            name
        };
        let i = self.names.len() as u16;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    /// Name of slot `i`.
    pub fn name(&self, i: u16) -> &str {
        self.names.get(usize::from(i)).map_or("", |s| s)
    }

    /// Slots sorted by name.
    #[allow(clippy::cast_possible_truncation)] // reason: at most MAX_CHANNELS (64) slots
    pub fn sorted(&self) -> Vec<u16> {
        let mut v: Vec<u16> = (0..self.names.len() as u16).collect();
        crate::sort::sort_by(&mut v, |&a, &b| {
            self.names[usize::from(a)].cmp(&self.names[usize::from(b)])
        });
        v
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Pushes to the front of a newest-first ring, dropping the oldest beyond `cap`.
pub fn push_newest<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    if cap == 0 {
        ring.clear();
        return;
    }
    while ring.len() >= cap {
        ring.pop_back();
    }
    ring.push_front(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Tags::find` is `position` over the first `len` hashes, whatever
    /// the tags collide on.
    #[test]
    fn tags_find_the_first_slot_holding_a_hash() {
        // Hashes sharing a top byte (0xab) and others, in 20 slots.
        let hs: [u64; 20] = std::array::from_fn(|i| {
            if i % 3 == 0 {
                0xab00_0000_0000_0000 | i as u64
            } else {
                mix64(i as u64)
            }
        });
        let mut tags: Tags<3> = Tags::default();
        for (i, &h) in hs.iter().enumerate() {
            tags.set(i, h);
        }
        for len in 0..=20 {
            for &h in hs.iter().chain(&[0xab00_0000_0000_0001, 0, u64::MAX]) {
                assert_eq!(
                    tags.find(&hs, len, h),
                    hs[..len].iter().position(|&y| y == h),
                    "len {len} h {h:#x}"
                );
            }
        }
        // Overwriting a slot's tag.
        let mut hs2 = hs;
        hs2[5] = 0x1200_0000_0000_0000;
        tags.set(5, hs2[5]);
        assert_eq!(tags.find(&hs2, 20, hs2[5]), Some(5));
        assert_eq!(tags.find(&hs2, 20, hs[5]), None);
    }

    #[test]
    fn lru_evicts_least_recently_touched() {
        let mut l: Lru<u32, ()> = Lru::default();
        for (i, k) in [1, 2, 3, 1].into_iter().enumerate() {
            l.touch(&k, i as u64, || ());
        }
        assert_eq!(l.pop_oldest().map(|e| e.0), Some(2));
        assert_eq!(l.pop_oldest().map(|e| e.0), Some(3));
        assert_eq!(l.pop_oldest().map(|e| e.0), Some(1));
        assert!(l.pop_oldest().is_none());
    }

    #[test]
    fn lru_expires_by_stamp() {
        let mut l: Lru<u32, ()> = Lru::default();
        l.touch(&1, 10, || ());
        l.touch(&2, 20, || ());
        l.touch(&1, 30, || ());
        assert_eq!(l.pop_expired(25).map(|e| e.0), Some(2));
        assert!(l.pop_expired(25).is_none());
        assert_eq!(l.len(), 1);
    }

    /// Regression: a 1-ms ring at the earliest representable time overflowed
    /// (`now_idx - n`) in a debug build.
    #[test]
    fn ring_at_the_start_of_time_does_not_overflow() {
        let mut r: Ring<u64> = Ring::new(3, 1);
        assert!(r.slot_mut(i64::MIN, i64::MIN).is_some());
        assert!(r.slot_mut(i64::MIN + 1, i64::MIN + 1).is_some());
    }

    #[test]
    fn hll_is_close() {
        let mut h = Hll::default();
        for i in 0..100_000u64 {
            h.insert(mix64(i));
        }
        let mut acc = vec![0; HLL_M];
        h.merge_into(&mut acc);
        let e = Hll::estimate(&acc);
        assert!((e - 100_000.0).abs() < 5_000.0, "{e}");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hll>(&json).unwrap(), h);
    }

    #[test]
    fn stable_hash_is_fixed() {
        assert_eq!(id_hash(&Id::Num(1)), mix64(1));
        assert_ne!(id_hash(&Id::from_text("a")), id_hash(&Id::from_text("b")));
    }
}
