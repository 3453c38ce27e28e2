//! Operator specs: one module per operator, each with a `check(events,
//! expected)` helper, plus engine-level properties and reference models.

#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::float_cmp,
    clippy::too_many_lines
)] // reason: spec data are small numbers; golden tests compare exact floats on purpose; long scenario tests read top to bottom

mod behavior;
mod engine;
mod inventory;
mod props;
mod recs;
mod sales;
mod support;
mod sync;
