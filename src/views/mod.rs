//! The dashboard's views. They only read: the section memos in
//! [`crate::state::Sections`], the feed signals in [`crate::state::Signals`],
//! and (for the per-user lookup) the engine through
//! [`crate::state::StoreHandle`]. Every string from the feed is rendered as
//! text.

pub mod behavior;
pub mod health;
pub mod inventory;
pub mod recs;
pub mod sales;
pub mod sync;
pub mod widgets;
