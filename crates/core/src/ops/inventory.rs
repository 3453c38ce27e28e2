//! Inventory operator (placeholder until implemented).
use crate::engine::Config;
use crate::event::Event;
use crate::id::Id;
use crate::view::InventoryView;
use serde::{Deserialize, Serialize};
/// Inventory state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InventoryOp {}
impl InventoryOp {
    /// Applies one event.
    pub fn apply(&mut self, _ev: &Event, _cfg: &Config) {}
    /// True when the product is known to be out of stock (quantity <= 0).
    pub fn is_out_of_stock(&self, _p: &Id) -> bool {
        false
    }
    /// View.
    pub fn view(&self, _cfg: &Config) -> InventoryView {
        InventoryView::default()
    }
}
