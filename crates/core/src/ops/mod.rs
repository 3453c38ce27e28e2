//! The five streaming operators. Each is incremental, event-time driven and
//! bounded; each has `apply(&Event, &Config)` and `view(..)`.

pub mod behavior;
pub mod inventory;
pub mod recs;
pub mod sales;
pub mod sync;
