//! Recommendations operator (placeholder until implemented).
use crate::engine::Config;
use crate::event::Event;
use crate::id::Id;
use crate::ops::inventory::InventoryOp;
use crate::view::{RecsView, UserRecs};
use serde::{Deserialize, Serialize};
/// Recommendation state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RecsOp {}
impl RecsOp {
    /// Applies one event.
    pub fn apply(&mut self, _ev: &Event, _cfg: &Config) {}
    /// Suggestions for one user.
    pub fn recommend_for(&self, user: &Id, _inv: &InventoryOp, _cfg: &Config) -> UserRecs {
        UserRecs {
            user: user.clone(),
            products: Vec::new(),
            reasons: Vec::new(),
        }
    }
    /// View.
    pub fn view(&self, _inv: &InventoryOp, _cfg: &Config) -> RecsView {
        RecsView::default()
    }
}
