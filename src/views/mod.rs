//! The dashboard's views. They only read: the section memos in
//! [`crate::state::Sections`], the feed signals in [`crate::state::Signals`],
//! and (for lookups and drill-downs) the engine through the read-only
//! [`crate::state::StoreHandle`]. Their controls change dashboard state
//! (pause, settings, acknowledgements), never the engine's events. Every
//! string from the feed is rendered as text.

pub mod alerts;
pub mod behavior;
pub mod drill;
pub mod health;
pub mod inventory;
pub mod recs;
pub mod sales;
pub mod settings;
pub mod sync;
pub mod widgets;
