//! `bin1`: the compact binary encoding of `events` frames.
//!
//! Negotiated per connection (the dashboard's `hello` lists
//! `"encodings": ["bin1", "json"]`; the gateway's `hello` says which it
//! picked); JSON stays the default. Only `events` frames are binary (one
//! WebSocket *binary* message each); every other frame stays JSON text.
//! The layout is in `docs/PROTOCOL.md` §2.1; in short:
//!
//! ```text
//! "SPB1" | flags | epoch | first_seq | sent_ms | [last_seq] | count
//!        | [seqs: byte length, then count deltas] | dictionary | events
//! ```
//!
//! - Integers are LEB128 varints; signed ones zigzag. Event times are
//!   deltas from the previous event's time (the first from 0).
//! - Every string of the frame (channels, string ids, texts) is written once
//!   in the frame's **own** dictionary and referred to by index. There is no
//!   state across frames, so a frame never depends on one the client did not
//!   receive (resume, slicing, reconnection are free).
//! - Each event is a head byte (kind, `ts_inferred`), the time delta, a flags
//!   varint (which optional fields are present, which ids are strings,
//!   enumerations) and then a fixed field order per kind.
//!
//! Decoding borrows: the dictionary is `&str` slices of the frame (UTF-8
//! checked once per frame), turned into shared `Arc<str>` at most once per
//! frame per string (and reused across frames from a bounded cache in the
//! decoder's [`Scratch`], so a product or order id seen in an earlier frame
//! costs a lookup, not an allocation; the frame format itself still has no
//! state across frames), and events are built in a reused scratch [`Event`]
//! whose line-item vector keeps its capacity, so applying a frame does not
//! allocate per event. Bad input never panics: it is a [`BinaryError`] with
//! the byte offset and a reason, and the frame's remaining events are not
//! delivered.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;

use crate::decode::MAX_FRAME_BYTES;
use crate::decode::{EXCERPT_LEN, MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::event::{
    Action, Behavior, Body, Currency, Event, Inventory, LineItem, Order, OrderStatus, Rejected,
    SalesFigure, Sync, SyncStatus, Target,
};
use crate::id::{Id, MAX_ID_LEN};

/// The encoding's name in `hello` frames.
pub const BIN1: &str = "bin1";

/// First bytes of every `bin1` events frame.
pub const MAGIC: [u8; 4] = *b"SPB1";

const HAS_LAST_SEQ: u64 = 1;
const HAS_SEQS: u64 = 2;

/// A refused binary frame: where and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BinaryError {
    /// Byte offset in the frame where decoding stopped.
    pub offset: usize,
    /// Events of the frame already delivered before the error.
    pub delivered: usize,
    /// Readable reason.
    pub reason: String,
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad bin1 frame at byte {} (after {} events): {}",
            self.offset, self.delivered, self.reason
        )
    }
}

impl std::error::Error for BinaryError {}

// ---------------------------------------------------------------- encoding

#[allow(clippy::cast_possible_truncation)] // reason: LEB128 takes seven bits at a time
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1).cast_signed() ^ -((v & 1).cast_signed())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Interns the frame's strings while its events are written.
#[derive(Default)]
struct Dict<'a> {
    index: HashMap<&'a str, u32>,
    strings: Vec<&'a str>,
}

impl<'a> Dict<'a> {
    fn put(&mut self, out: &mut Vec<u8>, s: &'a str) {
        let next = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let i = *self.index.entry(s).or_insert_with(|| {
            self.strings.push(s);
            next
        });
        put_varint(out, u64::from(i));
    }
}

fn put_id<'a>(out: &mut Vec<u8>, dict: &mut Dict<'a>, id: &'a Id) {
    match id {
        Id::Num(n) => put_varint(out, *n),
        Id::Str(s) => dict.put(out, s),
    }
}

fn is_str(id: &Id) -> u64 {
    u64::from(matches!(id, Id::Str(_)))
}

fn action_slot(a: &Action) -> u64 {
    a.slot() as u64
}

fn status_slot(s: &OrderStatus) -> u64 {
    match s {
        OrderStatus::Created => 0,
        OrderStatus::Paid => 1,
        OrderStatus::Fulfilled => 2,
        OrderStatus::Cancelled => 3,
        OrderStatus::Refunded => 4,
        OrderStatus::Other(_) => 5,
    }
}

fn kind_slot(b: &Body) -> u8 {
    match b {
        Body::Behavior(_) => 0,
        Body::Inventory(_) => 1,
        Body::Order(_) => 2,
        Body::Sync(_) => 3,
        Body::Sales(_) => 4,
        Body::Rejected(_) => 5,
    }
}

fn put_event<'a>(out: &mut Vec<u8>, dict: &mut Dict<'a>, prev_ts: &mut i64, ev: &'a Event) {
    out.push(kind_slot(&ev.body) | (u8::from(ev.ts_inferred) << 3));
    put_varint(out, zigzag(ev.ts_ms.wrapping_sub(*prev_ts)));
    *prev_ts = ev.ts_ms;
    match &ev.body {
        Body::Behavior(b) => {
            let flags = is_str(&b.user)
                | u64::from(b.session.is_some()) << 1
                | b.session.as_ref().map_or(0, is_str) << 2
                | is_str(&b.product) << 3
                | u64::from(b.channel.is_some()) << 4
                | u64::from(b.price_cents.is_some()) << 5
                | action_slot(&b.action) << 6;
            put_varint(out, flags);
            put_id(out, dict, &b.user);
            if let Some(s) = &b.session {
                put_id(out, dict, s);
            }
            if let Action::Other(a) = &b.action {
                dict.put(out, a);
            }
            put_id(out, dict, &b.product);
            if let Some(c) = &b.channel {
                dict.put(out, c);
            }
            if let Some(p) = b.price_cents {
                put_varint(out, zigzag(p));
            }
        }
        Body::Inventory(i) => {
            put_varint(
                out,
                is_str(&i.product) | u64::from(i.warehouse.is_some()) << 1,
            );
            put_id(out, dict, &i.product);
            put_varint(out, zigzag(i.quantity));
            if let Some(w) = &i.warehouse {
                dict.put(out, w);
            }
        }
        Body::Order(o) => {
            let flags = is_str(&o.order)
                | u64::from(o.user.is_some()) << 1
                | o.user.as_ref().map_or(0, is_str) << 2
                | status_slot(&o.status) << 3;
            put_varint(out, flags);
            put_id(out, dict, &o.order);
            dict.put(out, &o.channel);
            if let OrderStatus::Other(s) = &o.status {
                dict.put(out, s);
            }
            put_varint(out, zigzag(o.total_cents));
            out.extend_from_slice(&o.currency.0);
            if let Some(u) = &o.user {
                put_id(out, dict, u);
            }
            put_varint(out, o.lines.len() as u64);
            for l in &o.lines {
                put_varint(out, is_str(&l.product));
                put_id(out, dict, &l.product);
                put_varint(out, zigzag(l.quantity));
                put_varint(out, zigzag(l.unit_price_cents));
            }
        }
        Body::Sync(s) => {
            let flags = is_str(&s.order)
                | (s.target.slot() as u64) << 1
                | (s.status.slot() as u64) << 3
                | u64::from(s.latency_ms.is_some()) << 5
                | u64::from(s.error.is_some()) << 6;
            put_varint(out, flags);
            put_id(out, dict, &s.order);
            dict.put(out, &s.channel);
            put_varint(out, u64::from(s.attempt));
            if let Some(l) = s.latency_ms {
                put_varint(out, l);
            }
            if let Some(e) = &s.error {
                dict.put(out, e);
            }
        }
        Body::Sales(f) => {
            put_varint(out, u64::from(f.channel.is_some()));
            dict.put(out, &f.bucket);
            dict.put(out, &f.sales_text);
            if let Some(c) = &f.channel {
                dict.put(out, c);
            }
        }
        Body::Rejected(r) => {
            put_varint(out, u64::from(r.line.is_some()));
            dict.put(out, &r.source);
            if let Some(l) = r.line {
                put_varint(out, l);
            }
            dict.put(out, &r.class);
            dict.put(out, &r.reason);
            dict.put(out, &r.excerpt);
        }
    }
}

/// Where the events of a frame sit in the stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Positions<'s> {
    /// Sequence number of the first event (or the first position covered).
    pub first_seq: u64,
    /// Explicit, strictly increasing sequence numbers of the events (a
    /// filtered stream); `None`: consecutive from `first_seq`.
    pub seqs: Option<&'s [u64]>,
    /// Last position covered when past the last event.
    pub last_seq: Option<u64>,
}

/// Encodes one `events` frame: `events` in order at `pos`, sent at
/// `sent_ms`. The result is one WebSocket binary message.
pub fn encode_events<'a>(
    epoch: &str,
    pos: Positions<'_>,
    sent_ms: i64,
    events: impl IntoIterator<Item = &'a Event>,
) -> Vec<u8> {
    let mut dict = Dict::default();
    let mut body = Vec::with_capacity(1024);
    let mut prev_ts = 0i64;
    let mut count = 0u64;
    for ev in events {
        put_event(&mut body, &mut dict, &mut prev_ts, ev);
        count += 1;
    }
    let dict_bytes: usize = dict.strings.iter().map(|s| s.len() + 2).sum();
    let mut out = Vec::with_capacity(body.len() + dict_bytes + 64);
    out.extend_from_slice(&MAGIC);
    let flags = if pos.last_seq.is_some() {
        HAS_LAST_SEQ
    } else {
        0
    } | if pos.seqs.is_some() { HAS_SEQS } else { 0 };
    put_varint(&mut out, flags);
    put_str(&mut out, epoch);
    put_varint(&mut out, pos.first_seq);
    put_varint(&mut out, zigzag(sent_ms));
    if let Some(l) = pos.last_seq {
        put_varint(&mut out, l);
    }
    put_varint(&mut out, count);
    if let Some(seqs) = pos.seqs {
        let mut s = Vec::with_capacity(seqs.len());
        let mut prev = pos.first_seq;
        for (i, &q) in seqs.iter().enumerate() {
            // The first is relative to first_seq (may be equal), the rest
            // strictly increase.
            put_varint(&mut s, q.wrapping_sub(prev).wrapping_sub(u64::from(i > 0)));
            prev = q;
        }
        put_varint(&mut out, s.len() as u64);
        out.extend_from_slice(&s);
    }
    put_varint(&mut out, dict.strings.len() as u64);
    for s in &dict.strings {
        put_str(&mut out, s);
    }
    out.extend_from_slice(&body);
    out
}

/// Encodes a `bin1` frame from events held as canonical JSON (the
/// gateway's history). `None` when one of them does not decode (never for
/// what [`Event::to_json`] wrote); the caller then sends JSON.
pub fn encode_events_from_json<'a>(
    epoch: &str,
    pos: Positions<'_>,
    sent_ms: i64,
    events: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<u8>> {
    let events = events
        .into_iter()
        .map(|j| crate::decode::decode_event(j, 0).ok())
        .collect::<Option<Vec<Event>>>()?;
    Some(encode_events(epoch, pos, sent_ms, &events))
}

// ---------------------------------------------------------------- decoding

/// A cursor over the frame's bytes.
#[derive(Clone, Copy, Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: impl Into<String>) -> BinaryError {
        BinaryError {
            offset: self.pos,
            delivered: 0,
            reason: reason.into(),
        }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn byte(&mut self) -> Result<u8, BinaryError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BinaryError> {
        if n > self.left() {
            return Err(self.err(format!(
                "truncated: {n} bytes announced, {} left",
                self.left()
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn varint(&mut self) -> Result<u64, BinaryError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn len(&mut self, what: &str) -> Result<usize, BinaryError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.left())
            .ok_or_else(|| self.err(format!("{what} of {n} is more than the frame holds")))
    }

    fn str(&mut self) -> Result<&'a str, BinaryError> {
        let n = self.len("string length")?;
        let at = self.pos;
        std::str::from_utf8(self.take(n)?).map_err(|_| BinaryError {
            offset: at,
            delivered: 0,
            reason: "string is not UTF-8".into(),
        })
    }
}

/// The header of a `bin1` events frame, parsed and checked; its events are
/// read with [`Frame::for_each`].
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    /// Stream epoch.
    pub epoch: &'a str,
    /// First stream position covered (the first event's sequence number
    /// unless explicit seqs say otherwise).
    pub first_seq: u64,
    /// Gateway time when sent (epoch ms).
    pub sent_ms: i64,
    /// Last position covered, when given explicitly.
    pub last_seq: Option<u64>,
    /// Number of events.
    pub count: usize,
    /// Sequence number of the last event (`first_seq - 1` when empty).
    last_event_seq: u64,
    seqs: Option<&'a [u8]>,
    dict: Vec<&'a str>,
    body: Reader<'a>,
}

/// Strings of earlier frames kept by [`Scratch`] for reuse, per generation:
/// when the newer generation holds this many, it becomes the older one and
/// the older one is dropped (at most twice this many are held; a string
/// found in the older generation moves to the newer one).
pub const STRING_CACHE_MAX: usize = 8192;
/// Longer strings (free texts, error messages) are not cached.
const STRING_CACHE_LEN_MAX: usize = 64;

/// Reusable decoding state: shared strings for the current frame, a bounded
/// cache of the strings of earlier frames and the scratch line items, so
/// decoding does not allocate per event, and a string that recurs across
/// frames (a product, a busy order's id, a channel) is one shared
/// allocation (ids compare by pointer first).
#[derive(Default, Debug)]
pub struct Scratch {
    strings: Vec<Option<Arc<str>>>,
    ids: Vec<Option<Id>>,
    lines: Vec<LineItem>,
    cache: StringCache,
}

/// The decoder's strings of earlier frames, in two generations, so a
/// working set larger than one generation (a shop's live sessions) still
/// hits instead of being emptied away.
#[derive(Default, Debug)]
struct StringCache {
    newer: HashSet<Arc<str>, FxBuildHasher>,
    older: HashSet<Arc<str>, FxBuildHasher>,
}

impl StringCache {
    /// Strings held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }

    /// The shared string for `s`, else a new one (remembered when short).
    fn shared(&mut self, s: &str) -> Arc<str> {
        if s.len() > STRING_CACHE_LEN_MAX {
            return Arc::from(s);
        }
        if let Some(a) = self.newer.get(s) {
            return a.clone();
        }
        let a = self.older.get(s).cloned().unwrap_or_else(|| Arc::from(s));
        if self.newer.len() >= STRING_CACHE_MAX {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(a.clone());
        a
    }
}

impl<'a> Frame<'a> {
    /// True when `bytes` starts like a `bin1` frame.
    pub fn is_bin1(bytes: &[u8]) -> bool {
        bytes.starts_with(&MAGIC)
    }

    /// Parses and checks the header, the positions and the dictionary.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, BinaryError> {
        let mut r = Reader { bytes, pos: 0 };
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(r.err(format!(
                "frame of {} bytes, limit {MAX_FRAME_BYTES}",
                bytes.len()
            )));
        }
        if r.take(4).ok() != Some(&MAGIC[..]) {
            return Err(r.err("not a bin1 frame (magic \"SPB1\" missing)"));
        }
        let flags = r.varint()?;
        if flags & !(HAS_LAST_SEQ | HAS_SEQS) != 0 {
            return Err(r.err(format!("unknown frame flags {flags:#x}")));
        }
        let epoch = r.str()?;
        let first_seq = r.varint()?;
        let sent_ms = unzigzag(r.varint()?);
        let last_seq = if flags & HAS_LAST_SEQ != 0 {
            Some(r.varint()?)
        } else {
            None
        };
        // Every event takes at least three bytes: a cheap bound that keeps a
        // hostile count from reserving memory.
        let count = r.len("event count")?;
        let mut last_event_seq = first_seq.wrapping_add(count as u64).wrapping_sub(1);
        if count > 0 && first_seq.checked_add(count as u64 - 1).is_none() {
            return Err(r.err("sequence numbers overflow"));
        }
        let seqs = if flags & HAS_SEQS != 0 {
            let n = r.len("seqs section")?;
            let section = r.take(n)?;
            let mut s = Reader {
                bytes: section,
                pos: 0,
            };
            let mut prev = first_seq;
            for i in 0..count {
                let d = s.varint()?;
                prev = prev
                    .checked_add(d)
                    .and_then(|p| p.checked_add(u64::from(i > 0)))
                    .ok_or_else(|| r.err("explicit seqs overflow"))?;
            }
            if s.left() != 0 {
                return Err(r.err("seqs section longer than its events"));
            }
            last_event_seq = if count == 0 {
                first_seq.wrapping_sub(1)
            } else {
                prev
            };
            Some(section)
        } else {
            None
        };
        if let Some(l) = last_seq {
            if count > 0 && l < last_event_seq || l.wrapping_add(1) < first_seq {
                return Err(r.err(format!("last_seq {l} before the frame's events")));
            }
        }
        let n = r.len("dictionary size")?;
        let mut dict = Vec::with_capacity(n);
        for _ in 0..n {
            dict.push(r.str()?);
        }
        if count > r.left() / 3 {
            return Err(r.err(format!("{count} events cannot fit in {} bytes", r.left())));
        }
        Ok(Frame {
            epoch,
            first_seq,
            sent_ms,
            last_seq,
            count,
            last_event_seq,
            seqs,
            dict,
            body: r,
        })
    }

    /// The last stream position this frame covers (`first_seq - 1` for an
    /// empty frame without `last_seq`).
    pub fn covered_to(&self) -> u64 {
        self.last_seq.unwrap_or(self.last_event_seq)
    }

    /// Calls `f(seq, &event)` for every event in order. Stops at the first
    /// bad event and returns its error; the events before it were delivered.
    pub fn for_each(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(u64, &Event),
    ) -> Result<(), BinaryError> {
        self.decode_each(scratch, |seq, ev, lines| {
            f(seq, &ev);
            if let Body::Order(o) = ev.body {
                // Keep the capacity for the next order.
                *lines = o.lines;
            }
        })
    }

    /// Decodes every event of the frame, in order, into `out` (cleared
    /// first; its capacity is reused), for `shoppulse_core::Engine::apply_batch`.
    /// Stops at the first bad event and returns its error; the events before
    /// it are in `out`. Their positions are the ones [`Frame::for_each`]
    /// gives.
    pub fn decode_into(
        &self,
        scratch: &mut Scratch,
        out: &mut Vec<Event>,
    ) -> Result<(), BinaryError> {
        out.clear();
        out.reserve(self.count);
        self.decode_each(scratch, |_, ev, _| out.push(ev))
    }

    /// Decodes the events one by one, handing each to `f` with the scratch
    /// line items (which `f` may refill to keep their capacity).
    fn decode_each(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(u64, Event, &mut Vec<LineItem>),
    ) -> Result<(), BinaryError> {
        scratch.strings.clear();
        scratch.strings.resize(self.dict.len(), None);
        scratch.ids.clear();
        scratch.ids.resize(self.dict.len(), None);
        let mut d = Decoder {
            r: self.body,
            dict: &self.dict,
            strings: &mut scratch.strings,
            ids: &mut scratch.ids,
            cache: &mut scratch.cache,
        };
        let mut seqs = self.seqs.map(|bytes| Reader { bytes, pos: 0 });
        let mut seq = self.first_seq;
        let mut prev_ts = 0i64;
        let lines = &mut scratch.lines;
        for i in 0..self.count {
            if let Some(s) = &mut seqs {
                // Checked in parse.
                let delta = s.varint().unwrap_or(0);
                seq = seq.wrapping_add(delta).wrapping_add(u64::from(i > 0));
            } else if i > 0 {
                seq += 1;
            }
            lines.clear();
            match d.event(&mut prev_ts, lines) {
                Ok(ev) => f(seq, ev, lines),
                Err(mut e) => {
                    e.delivered = i;
                    return Err(e);
                }
            }
        }
        if d.r.left() != 0 {
            return Err(BinaryError {
                offset: d.r.pos,
                delivered: self.count,
                reason: format!("{} bytes after the last event", d.r.left()),
            });
        }
        Ok(())
    }

    /// Every `(seq, event)` of the frame (allocating; tests and tools).
    pub fn events(&self) -> Result<Vec<(u64, Event)>, BinaryError> {
        let mut out = Vec::with_capacity(self.count);
        self.for_each(&mut Scratch::default(), |s, e| out.push((s, e.clone())))?;
        Ok(out)
    }
}

/// The figure of a sales text, when the text is exactly how the JSON
/// decoder writes a figure (so both encodings give the same event).
#[allow(clippy::cast_precision_loss)] // reason: business figures are display values, as in JSON
fn sales_of(text: &str) -> Option<f64> {
    if let Ok(n) = text.parse::<u64>() {
        return (n.to_string() == text).then_some(n as f64);
    }
    if let Ok(n) = text.parse::<i64>() {
        return (n.to_string() == text).then_some(n as f64);
    }
    let x = text.parse::<f64>().ok().filter(|x| x.is_finite())?;
    (x.to_string() == text).then_some(x)
}

struct Decoder<'f, 'a> {
    r: Reader<'a>,
    dict: &'f [&'a str],
    strings: &'f mut [Option<Arc<str>>],
    /// The entries read as string ids, folded (a canonical decimal is a
    /// number), once per frame.
    ids: &'f mut [Option<Id>],
    cache: &'f mut StringCache,
}

impl<'a> Decoder<'_, 'a> {
    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn text(&mut self, what: &str, max: usize) -> Result<Arc<str>, BinaryError> {
        let (i, s) = self.entry(what, max)?;
        Ok(self.shared_at(i, s))
    }

    /// The shared string of dictionary entry `i` (`s`), made once per frame.
    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn shared_at(&mut self, i: usize, s: &str) -> Arc<str> {
        let cache = &mut *self.cache;
        self.strings[i]
            .get_or_insert_with(|| cache.shared(s))
            .clone()
    }

    /// Reads a dictionary reference: its index and its checked string.
    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn entry(&mut self, what: &str, max: usize) -> Result<(usize, &'a str), BinaryError> {
        let at = self.r.pos;
        let i = usize::try_from(self.r.varint()?).unwrap_or(usize::MAX);
        let Some(s) = self.dict.get(i) else {
            return Err(BinaryError {
                offset: at,
                delivered: 0,
                reason: format!("{what}: string {i} not in the dictionary"),
            });
        };
        if s.len() > max {
            return Err(BinaryError {
                offset: at,
                delivered: 0,
                reason: format!("{what}: {} bytes, limit {max}", s.len()),
            });
        }
        Ok((i, s))
    }

    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn name(&mut self, what: &str) -> Result<Arc<str>, BinaryError> {
        let at = self.r.pos;
        let s = self.text(what, MAX_NAME_LEN)?;
        if s.is_empty() {
            return Err(BinaryError {
                offset: at,
                delivered: 0,
                reason: format!("{what} must not be empty"),
            });
        }
        Ok(s)
    }

    /// An optional name: empty means absent, as in JSON.
    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn opt_name(&mut self, present: bool, what: &str) -> Result<Option<Arc<str>>, BinaryError> {
        if !present {
            return Ok(None);
        }
        let s = self.text(what, MAX_NAME_LEN)?;
        Ok((!s.is_empty()).then_some(s))
    }

    /// An optional count (a varint that must fit an `i64`, as in JSON).
    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn opt_count(&mut self, present: bool, what: &str) -> Result<Option<u64>, BinaryError> {
        if !present {
            return Ok(None);
        }
        let at = self.r.pos;
        let n = self.r.varint()?;
        if i64::try_from(n).is_err() {
            return Err(BinaryError {
                offset: at,
                delivered: 0,
                reason: format!("{what} out of range"),
            });
        }
        Ok(Some(n))
    }

    // Inlined into `Decoder::event` natively: called out of line, each read
    // returned its `Result` through the stack and the caller's wide reload
    // of it stalled (store forwarding); +4-6 % `bin1` + all operators. Not
    // in wasm, where it made no difference in the browser and cost 4.7 KB
    // gzipped (docs/PERFORMANCE.md, *Decoding without a stall per id*).
    #[allow(clippy::inline_always)] // reason: measured, as said above
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn id(&mut self, is_str: bool, what: &str) -> Result<Id, BinaryError> {
        if !is_str {
            return Ok(Id::Num(self.r.varint()?));
        }
        let at = self.r.pos;
        let (i, s) = self.entry(what, MAX_ID_LEN)?;
        if let Some(id) = &self.ids[i] {
            return Ok(id.clone());
        }
        if s.is_empty() {
            return Err(BinaryError {
                offset: at,
                delivered: 0,
                reason: format!("{what}: id must not be empty"),
            });
        }
        // A canonical decimal is the numeric id (never a string id); told
        // once per frame and entry, not per use.
        let id = Id::from_shared(self.shared_at(i, s));
        self.ids[i] = Some(id.clone());
        Ok(id)
    }

    // Inlined, as `Decoder::id` (a store-forwarding stall per call otherwise).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn int(&mut self) -> Result<i64, BinaryError> {
        Ok(unzigzag(self.r.varint()?))
    }

    // Inlined into the frame's decoding loop natively, for the same reason
    // as `Decoder::id`: the event is not returned through the stack and
    // moved again into the callback (+4 %).
    #[allow(clippy::inline_always)] // reason: measured (see `Decoder::id`)
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    #[allow(clippy::too_many_lines)] // reason: one fixed layout per kind, read in order
    fn event(
        &mut self,
        prev_ts: &mut i64,
        lines: &mut Vec<LineItem>,
    ) -> Result<Event, BinaryError> {
        let head_at = self.r.pos;
        let head = self.r.byte()?;
        if head & 0xf0 != 0 {
            return Err(BinaryError {
                offset: head_at,
                delivered: 0,
                reason: format!("unknown event head {head:#x}"),
            });
        }
        let ts_ms = prev_ts.wrapping_add(unzigzag(self.r.varint()?));
        *prev_ts = ts_ms;
        let flags_at = self.r.pos;
        let flags = self.r.varint()?;
        let bad_flags = |allowed: u64| -> Result<(), BinaryError> {
            if flags & !allowed == 0 {
                Ok(())
            } else {
                Err(BinaryError {
                    offset: flags_at,
                    delivered: 0,
                    reason: format!("unknown flags {flags:#x} for this kind"),
                })
            }
        };
        let bit = |n: u32| flags >> n & 1 == 1;
        let body = match head & 7 {
            0 => {
                bad_flags(0x1ff)?;
                let user = self.id(bit(0), "user")?;
                let session = if bit(1) {
                    Some(self.id(bit(2), "session")?)
                } else {
                    None
                };
                let action = match flags >> 6 {
                    0 => Action::Browse,
                    1 => Action::AddToCart,
                    2 => Action::RemoveFromCart,
                    3 => Action::Checkout,
                    4 => Action::Purchase,
                    5 => {
                        let s = self.name("action")?;
                        match Action::parse(&s) {
                            Action::Other(_) => Action::Other(s),
                            known => known,
                        }
                    }
                    n => return Err(self.r.err(format!("unknown action slot {n}"))),
                };
                Body::Behavior(Behavior {
                    user,
                    session,
                    action,
                    product: self.id(bit(3), "product")?,
                    channel: self.opt_name(bit(4), "channel")?,
                    price_cents: if bit(5) { Some(self.int()?) } else { None },
                })
            }
            1 => {
                bad_flags(0b11)?;
                Body::Inventory(Inventory {
                    product: self.id(bit(0), "product")?,
                    quantity: self.int()?,
                    warehouse: self.opt_name(bit(1), "warehouse")?,
                })
            }
            2 => {
                bad_flags(0x3f)?;
                let order = self.id(bit(0), "order")?;
                let channel = self.name("channel")?;
                let status = match flags >> 3 {
                    0 => OrderStatus::Created,
                    1 => OrderStatus::Paid,
                    2 => OrderStatus::Fulfilled,
                    3 => OrderStatus::Cancelled,
                    4 => OrderStatus::Refunded,
                    5 => {
                        let s = self.name("status")?;
                        match OrderStatus::parse(&s) {
                            OrderStatus::Other(_) => OrderStatus::Other(s),
                            known => known,
                        }
                    }
                    n => return Err(self.r.err(format!("unknown order status slot {n}"))),
                };
                let total_cents = self.int()?;
                let at = self.r.pos;
                let cur = self.r.take(3)?;
                let currency = std::str::from_utf8(cur)
                    .ok()
                    .and_then(Currency::parse)
                    .filter(|c| c.0 == cur)
                    .ok_or_else(|| BinaryError {
                        offset: at,
                        delivered: 0,
                        reason: "currency must be three upper-case letters".into(),
                    })?;
                let user = if bit(1) {
                    Some(self.id(bit(2), "user")?)
                } else {
                    None
                };
                let n = self.r.len("line count")?;
                if n > crate::decode::MAX_LINES {
                    return Err(self.r.err(format!(
                        "{n} line items, limit {}",
                        crate::decode::MAX_LINES
                    )));
                }
                let mut items = std::mem::take(lines);
                for _ in 0..n {
                    let line = (|| {
                        let tag = self.r.varint()?;
                        if tag > 1 {
                            return Err(self.r.err(format!("unknown line item tag {tag}")));
                        }
                        Ok(LineItem {
                            product: self.id(tag == 1, "lines.product")?,
                            quantity: self.int()?,
                            unit_price_cents: self.int()?,
                        })
                    })();
                    match line {
                        Ok(l) => items.push(l),
                        Err(e) => {
                            *lines = items;
                            return Err(e);
                        }
                    }
                }
                Body::Order(Order {
                    order,
                    channel,
                    status,
                    total_cents,
                    currency,
                    lines: items,
                    user,
                })
            }
            3 => {
                bad_flags(0x7f)?;
                let target = Target::ALL[usize::try_from(flags >> 1 & 3).unwrap_or(0)];
                let status = SyncStatus::ALL[usize::try_from(flags >> 3 & 3).unwrap_or(0)];
                let order = self.id(bit(0), "order")?;
                let channel = self.name("channel")?;
                let at = self.r.pos;
                let attempt = u32::try_from(self.r.varint()?)
                    .ok()
                    .filter(|&a| a >= 1)
                    .ok_or_else(|| BinaryError {
                        offset: at,
                        delivered: 0,
                        reason: "attempt must be 1 ..= 2^32-1".into(),
                    })?;
                let latency_ms = self.opt_count(bit(5), "latency_ms")?;
                let error = if bit(6) {
                    Some(self.text("error", MAX_TEXT_LEN)?)
                } else {
                    None
                };
                Body::Sync(Sync {
                    order,
                    channel,
                    target,
                    status,
                    attempt,
                    latency_ms,
                    error,
                })
            }
            4 => {
                bad_flags(1)?;
                let bucket = self.text("date", MAX_NAME_LEN)?;
                let at = self.r.pos;
                let sales_text = self.text("sales", MAX_NAME_LEN)?;
                let sales = sales_of(&sales_text).ok_or_else(|| BinaryError {
                    offset: at,
                    delivered: 0,
                    reason: "sales must be a number as the JSON decoder writes it".into(),
                })?;
                Body::Sales(SalesFigure {
                    bucket,
                    sales_text,
                    sales,
                    channel: self.opt_name(bit(0), "channel")?,
                })
            }
            5 => {
                bad_flags(1)?;
                let source = self.name("source")?;
                let line = self.opt_count(bit(0), "line")?;
                let class = self.name("class")?;
                let reason = self.text("reason", MAX_TEXT_LEN)?;
                let excerpt = self.text("excerpt", MAX_TEXT_LEN)?;
                let cut = crate::decode::excerpt(&excerpt, EXCERPT_LEN);
                let excerpt = if cut.len() == excerpt.len() {
                    excerpt
                } else {
                    Arc::from(cut)
                };
                Body::Rejected(Rejected {
                    source,
                    line,
                    class,
                    reason,
                    excerpt,
                })
            }
            k => {
                return Err(BinaryError {
                    offset: head_at,
                    delivered: 0,
                    reason: format!("unknown event kind {k}"),
                })
            }
        };
        Ok(Event {
            ts_ms,
            ts_inferred: head & 8 != 0,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_event;

    fn frame_of(events: &[Event]) -> Vec<u8> {
        encode_events(
            "sim-7",
            Positions {
                first_seq: 10,
                ..Positions::default()
            },
            1_700_000_000_123,
            events,
        )
    }

    /// The decoder's string cache: a string of an earlier frame is the same
    /// shared allocation in the next one; the cache holds at most
    /// 2 x `STRING_CACHE_MAX` strings, long texts are not cached, and what is
    /// decoded never depends on it.
    #[test]
    fn strings_recurring_across_frames_share_one_allocation() {
        let ev = |order: &str, error: &str| {
            decode_event(
                &format!(
                    r#"{{"kind":"sync","ts":1,"order":"{order}","channel":"web","target":"payment","status":"failed","error":"{error}"}}"#
                ),
                0,
            )
            .expect("valid")
        };
        let long = "x".repeat(STRING_CACHE_LEN_MAX + 1);
        let first = frame_of(&[ev("EB-1", &long)]);
        let second = frame_of(&[ev("EB-1", &long)]);
        let mut scratch = Scratch::default();
        let mut got = Vec::new();
        for f in [&first, &second] {
            Frame::parse(f)
                .expect("frame")
                .for_each(&mut scratch, |_, e| got.push(e.clone()))
                .expect("decodes");
        }
        let parts = |e: &Event| match &e.body {
            Body::Sync(s) => (s.order.clone(), s.channel.clone(), s.error.clone()),
            other => panic!("not a sync event: {other:?}"),
        };
        let ((o1, c1, e1), (o2, c2, e2)) = (parts(&got[0]), parts(&got[1]));
        assert_eq!(got[0], got[1]);
        let (Id::Str(o1), Id::Str(o2)) = (o1, o2) else {
            panic!("string ids")
        };
        assert!(
            Arc::ptr_eq(&o1, &o2),
            "the order id is shared across frames"
        );
        assert!(Arc::ptr_eq(&c1, &c2), "the channel is shared across frames");
        let (e1, e2) = (e1.expect("error"), e2.expect("error"));
        assert!(!Arc::ptr_eq(&e1, &e2), "long texts are not cached");

        // Bounded: many distinct strings never hold more than the limit.
        for i in 0..3 * STRING_CACHE_MAX {
            let f = frame_of(&[ev(&format!("O-{i}"), "e")]);
            Frame::parse(&f)
                .expect("frame")
                .for_each(&mut scratch, |_, _| {})
                .expect("decodes");
            assert!(scratch.cache.len() <= 2 * STRING_CACHE_MAX);
        }
    }

    /// The string cache's older generation is still read: a string
    /// remembered before the newer one filled up is the same allocation.
    #[test]
    fn the_string_cache_keeps_the_previous_generation() {
        let mut c = StringCache::default();
        let first = c.shared("s0");
        for i in 1..=STRING_CACHE_MAX {
            c.shared(&format!("s{i}"));
        }
        assert_eq!(c.newer.len(), 1, "the newer generation was full");
        assert!(
            Arc::ptr_eq(&first, &c.shared("s0")),
            "found in the older one"
        );
        assert!(c.len() <= 2 * STRING_CACHE_MAX);
    }

    /// A working set of thousands of live strings (the bench generator's
    /// 5,000 live sessions) keeps hitting: the same ids a few frames later
    /// are the same allocations.
    #[test]
    fn thousands_of_live_strings_keep_sharing_across_frames() {
        let frame = |from: usize| {
            let events: Vec<Event> = (from..from + 1000)
                .map(|i| {
                    decode_event(
                        &format!(r#"{{"kind":"behavior","ts":1,"user":1,"session":"s{i}","action":"browse","product":1}}"#),
                        0,
                    )
                    .expect("valid")
                })
                .collect();
            frame_of(&events)
        };
        let mut scratch = Scratch::default();
        let sessions = |scratch: &mut Scratch| -> Vec<Arc<str>> {
            let mut out = Vec::new();
            for k in 0..6 {
                let f = frame(k * 1000);
                Frame::parse(&f)
                    .expect("frame")
                    .for_each(scratch, |_, e| {
                        if let Body::Behavior(b) = &e.body {
                            if let Some(Id::Str(s)) = &b.session {
                                out.push(s.clone());
                            }
                        }
                    })
                    .expect("decodes");
            }
            out
        };
        let first = sessions(&mut scratch);
        let again = sessions(&mut scratch);
        assert_eq!(first.len(), 6000);
        let shared = first
            .iter()
            .zip(&again)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(
            shared, 6000,
            "6,000 live strings, generations of {STRING_CACHE_MAX}"
        );
    }

    /// A string id is folded once per frame and entry: an entry that is a
    /// canonical decimal is the number at every use, an empty one is refused
    /// at every use.
    #[test]
    fn string_ids_are_folded_at_every_use_of_an_entry() {
        let mut ev = decode_event(
            r#"{"kind":"behavior","ts":1,"user":1,"action":"browse","product":"85123A"}"#,
            0,
        )
        .expect("valid");
        let with = |ev: &mut Event, product: &str| {
            if let Body::Behavior(b) = &mut ev.body {
                b.product = Id::Str(product.into());
            }
            ev.clone()
        };
        let decoded = |events: &[Event]| {
            let f = frame_of(events);
            let mut got = Vec::new();
            let r = Frame::parse(&f)
                .expect("frame")
                .for_each(&mut Scratch::default(), |_, e| got.push(e.clone()));
            (got, r)
        };
        let (got, r) = decoded(&[with(&mut ev, "101"), with(&mut ev, "101")]);
        r.expect("decodes");
        for e in &got {
            let Body::Behavior(b) = &e.body else {
                panic!("behaviour")
            };
            assert_eq!(b.product, Id::Num(101));
        }
        let (got, r) = decoded(&[with(&mut ev, "85123A"), with(&mut ev, "")]);
        assert_eq!(got.len(), 1);
        assert!(r
            .expect_err("empty id")
            .reason
            .contains("id must not be empty"));
    }

    #[test]
    fn every_kind_round_trips_exactly() {
        let lines = [
            r#"{"kind":"behavior","ts":1630490400000,"user":9007199254740993,"session":"s1","action":"wishlist","product":"85123A","channel":"web","price_cents":-5}"#,
            r#"{"kind":"behavior","user":18446744073709551615,"action":"browse","product":1}"#,
            r#"{"kind":"inventory","ts":5,"product":103,"quantity":-4,"warehouse":"LON"}"#,
            r#"{"kind":"order","ts":-7,"order":"A-1","channel":"app","status":"on_hold","total_cents":1999,"currency":"usd","user":"u\"<b>","lines":[{"product":1,"quantity":2,"unit_price_cents":500},{"product":"SKU é","quantity":-1,"unit_price_cents":999}]}"#,
            r#"{"kind":"order","ts":8,"order":2,"channel":"pos","status":"paid","total_cents":0,"currency":"GBP"}"#,
            r#"{"kind":"sync","ts":9,"order":2,"channel":"pos","target":"customer_service","status":"retrying","attempt":3,"latency_ms":1200,"error":"timeout\n\u0000"}"#,
            r#"{"kind":"sync","ts":9,"order":2,"channel":"pos","target":"payment","status":"synced"}"#,
            r#"{"date":"2021-09-01","sales":12.5}"#,
            r#"{"kind":"sales","date":"2021-09-02","sales":1000,"channel":"web"}"#,
            r#"{"kind":"rejected","ts":3,"source":"ingest","line":4,"class":"malformed","reason":"invalid JSON","excerpt":"{oops"}"#,
        ];
        let events: Vec<Event> = lines
            .iter()
            .map(|l| decode_event(l, 1_630_000_000_000).expect(l))
            .collect();
        let bytes = frame_of(&events);
        let frame = Frame::parse(&bytes).unwrap();
        assert_eq!(frame.epoch, "sim-7");
        assert_eq!(frame.sent_ms, 1_700_000_000_123);
        assert_eq!(frame.covered_to(), 10 + events.len() as u64 - 1);
        let back = frame.events().unwrap();
        for (i, (seq, ev)) in back.iter().enumerate() {
            assert_eq!(*seq, 10 + i as u64);
            assert_eq!(ev, &events[i], "event {i}");
        }
        assert!(
            bytes.len() * 2 < lines.iter().map(|l| l.len()).sum::<usize>(),
            "bin1 is compact: {} bytes",
            bytes.len()
        );
    }

    /// One scratch for many frames (as the gateway's and the dashboard's
    /// sessions use it): every frame decodes to exactly its events.
    #[test]
    fn one_scratch_decodes_many_frames_exactly() {
        let mut scratch = Scratch::default();
        for f in 0..40u64 {
            let events: Vec<Event> = (0..500u64)
                .map(|i| {
                    let n = f * 250 + i;
                    let line = format!(
                        r#"{{"kind":"behavior","ts":{n},"user":"u{}","session":"s{}","action":"browse","product":"p{}","channel":"c{}"}}"#,
                        n % 7_000,
                        n / 3,
                        n % 1_000,
                        n % 5
                    );
                    decode_event(&line, 0).unwrap()
                })
                .collect();
            let bytes = frame_of(&events);
            let frame = Frame::parse(&bytes).unwrap();
            let mut got = Vec::new();
            frame
                .for_each(&mut scratch, |_, e| got.push(e.clone()))
                .unwrap();
            assert_eq!(got, events, "frame {f}");
        }
    }

    #[test]
    fn explicit_seqs_and_last_seq_round_trip() {
        let ev = decode_event(r#"{"product_id": 103, "quantity": 0, "ts": 1}"#, 0).unwrap();
        let events = vec![ev.clone(), ev.clone(), ev];
        let bytes = encode_events(
            "e",
            Positions {
                first_seq: 5,
                seqs: Some(&[5, 9, 100]),
                last_seq: Some(120),
            },
            0,
            &events,
        );
        let f = Frame::parse(&bytes).unwrap();
        assert_eq!(f.covered_to(), 120);
        let seqs: Vec<u64> = f.events().unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [5, 9, 100]);
    }

    #[test]
    fn an_empty_frame_covers_up_to_last_seq() {
        let bytes = encode_events(
            "e",
            Positions {
                first_seq: 5,
                seqs: Some(&[]),
                last_seq: Some(9),
            },
            0,
            &[],
        );
        let f = Frame::parse(&bytes).unwrap();
        assert_eq!((f.count, f.covered_to()), (0, 9));
    }

    #[test]
    fn truncated_and_corrupt_frames_are_typed_errors() {
        let ev = decode_event(
            r#"{"kind":"order","ts":8,"order":2,"channel":"pos","status":"paid","total_cents":0,"currency":"GBP","lines":[{"product":1,"quantity":2,"unit_price_cents":500}]}"#,
            0,
        )
        .unwrap();
        let bytes = frame_of(&[ev.clone(), ev]);
        for cut in 0..bytes.len() {
            let r = Frame::parse(&bytes[..cut]).and_then(|f| f.events().map(|_| ()));
            assert!(r.is_err(), "a frame cut at {cut} is refused");
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(Frame::parse(&bad).unwrap_err().reason.contains("magic"));
    }

    #[test]
    fn a_bad_event_stops_the_frame_after_the_good_ones() {
        let ev = decode_event(r#"{"product_id": 103, "quantity": 0, "ts": 1}"#, 0).unwrap();
        let mut bytes = frame_of(&[ev.clone(), ev]);
        let n = bytes.len();
        // The second event is its last five bytes
        // (head, ts delta, flags, product, quantity): make it kind 7.
        bytes[n - 5] = 7;
        let f = Frame::parse(&bytes).unwrap();
        let mut seen = 0;
        let err = f
            .for_each(&mut Scratch::default(), |_, _| seen += 1)
            .unwrap_err();
        assert_eq!((seen, err.delivered), (1, 1));
        assert!(err.reason.contains("unknown event kind"), "{err}");
    }
}
