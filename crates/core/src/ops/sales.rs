//! Sales operator (placeholder until implemented).
use crate::engine::Config;
use crate::event::Event;
use crate::view::SalesView;
use serde::{Deserialize, Serialize};
/// Sales state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SalesOp {}
impl SalesOp {
    /// Applies one event.
    pub fn apply(&mut self, _ev: &Event, _cfg: &Config) {}
    /// Marks open windows incomplete after a gap.
    pub fn mark_incomplete(&mut self) {}
    /// Late events counted.
    pub fn late(&self) -> u64 {
        0
    }
    /// View.
    pub fn view(&self, _cfg: &Config) -> SalesView {
        SalesView::default()
    }
}
