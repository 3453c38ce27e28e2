//! # `ShopPulse` operator core
//!
//! Pure Rust, no IO, no clock, no wasm/Leptos/tokio dependency: the same code
//! runs in the browser (wasm32) and in the gateway (native).
//!
//! ## Design
//! - [`id`], [`event`], [`decode`], [`binary`], [`time`] live in the `shoppulse-wire`
//!   crate, re-exported here under these paths: it is compiled for speed
//!   while the dashboard's build is compiled for size (see that crate).
//! - [`id`]: ids as JSON numbers or strings, exact beyond 2^53.
//! - [`event`]: the decoded event model (behaviour, inventory, order, sync,
//!   sales, and the gateway's rejection notices).
//! - [`decode`]: JSON wire decoding that never panics; every bad input becomes a
//!   typed [`decode::DecodeError`] (class, field, reason). The seed documents'
//!   four bare shapes are accepted and their kind inferred.
//! - [`frame`]: protocol v1 frames (hello, snapshot, events, heartbeat, gap,
//!   error) with epochs and consecutive sequence numbers for resume.
//! - [`ops`]: the five incremental, event-time, bounded operators.
//! - [`engine`]: applies events to all operators; serializable so its state is
//!   the snapshot frame; yields the immutable [`view::View`].
//! - [`snapshot`]: `snap1`, the binary snapshot frame (the engine state
//!   in postcard, less than half the size of the JSON one).
//! - [`time`]: RFC 3339 <-> epoch ms without a clock.
//! - [`sort`]: one stable sort for every caller (small wasm).
//!
//! Time comes only from events: "now" is the newest event time seen, and the
//! watermark trails it by the allowed lateness. Every container is bounded;
//! the bounds are in [`engine::Config`] and on the operator types.

pub use shoppulse_wire::{binary, decode, event, id, time};
pub mod engine;
pub mod frame;
pub mod ops;
pub mod snapshot;
pub mod sort;
pub mod view;

pub use decode::{decode_event, DecodeError, ErrorClass};
pub use engine::{Config, Engine};
pub use event::{Body, Event, Kind};
pub use id::Id;
pub use view::View;
