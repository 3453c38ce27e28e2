//! Behaviour operator (placeholder until implemented).
use crate::engine::Config;
use crate::event::Event;
use crate::view::BehaviorView;
use serde::{Deserialize, Serialize};
/// Behaviour state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BehaviorOp {}
impl BehaviorOp {
    /// Applies one event.
    pub fn apply(&mut self, _ev: &Event, _cfg: &Config) {}
    /// View.
    pub fn view(&self, _cfg: &Config) -> BehaviorView {
        BehaviorView::default()
    }
}
