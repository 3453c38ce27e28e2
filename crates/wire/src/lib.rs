//! # `ShopPulse` wire types and event decoding
//!
//! Pure Rust, no IO, no clock. The event model and its two decoders (JSON
//! and `bin1`), split out of `shoppulse-core` (which re-exports every module
//! here under its own paths: `shoppulse_core::decode`, `::binary`, `::event`,
//! `::id`, `::time`) for one reason: Cargo sets the optimisation level per
//! crate. The dashboard's release build is optimised for size
//! (`opt-level = "z"`, the wasm start-up budget), which makes the
//! byte-by-byte decoders about 2.3x (JSON) and 1.4x (`bin1`) slower
//! natively; this crate alone is built at `opt-level = 3` (root
//! `Cargo.toml`), which costs 17 KB of gzipped wasm and gives about 12 %
//! more JSON events and 14 % more `bin1` events (recommendations and sync
//! off) applied in the browser (docs/PERFORMANCE.md, *JSON in the browser,
//! profiled*).
//!
//! ## Design
//! - [`id`]: ids as JSON numbers or strings, exact beyond 2^53.
//! - [`event`]: the decoded event model (behaviour, inventory, order, sync,
//!   sales, and the gateway's rejection notices).
//! - [`decode`]: JSON wire decoding that never panics; every bad input
//!   becomes a typed [`decode::DecodeError`] (class, field, reason).
//! - [`binary`]: `bin1`, the compact binary events frame: encoding, and
//!   decoding without an allocation per event.
//! - [`time`]: RFC 3339 <-> epoch ms without a clock.
//!
//! ## Invariants
//! - Depends on nothing of `shoppulse-core` (the core depends on it): the
//!   five modules only refer to each other.
//! - Nothing cold and large belongs here (serde code for engine state,
//!   views, frames): it would be compiled for speed and grow the wasm.
pub mod binary;
pub mod decode;
pub mod event;
pub mod id;
pub mod time;
