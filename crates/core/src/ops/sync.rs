//! Order-sync operator (placeholder until implemented).
use crate::engine::Config;
use crate::event::Event;
use crate::view::SyncView;
use serde::{Deserialize, Serialize};
/// Sync state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncOp {}
impl SyncOp {
    /// Applies one event.
    pub fn apply(&mut self, _ev: &Event, _cfg: &Config) {}
    /// View.
    pub fn view(&self, _cfg: &Config) -> SyncView {
        SyncView::default()
    }
}
