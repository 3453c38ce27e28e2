//! The five streaming operators. Each is incremental, event-time driven and
//! bounded: the engine hands each event to the operators that use it
//! (`on_behavior`, `on_inventory`, `on_order`, `on_sync`...), with "now" =
//! the newest event time, and calls `tick` for time-driven upkeep. Each has
//! `view(now, ..)` and `sizes()`; [`common`] holds the shared sketches.

pub mod behavior;
pub mod common;
pub mod inventory;
pub mod recs;
pub mod sales;
pub mod sync;
