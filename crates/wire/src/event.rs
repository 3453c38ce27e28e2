//! The decoded event model: what every operator consumes.
//!
//! These types are the *internal* form. The JSON wire form (with its aliases,
//! seed shapes and error reporting) lives in [`crate::decode`]; the canonical
//! JSON written by [`Event::to_json`] is what the gateway forwards.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::Id;

/// Money in integer minor units (pence, cents) of `currency`.
pub type Cents = i64;

/// Digits of a currency's minor unit (ISO 4217), from its code in any
/// case: 0 for JPY, KRW, ...; 3 for KWD, BHD, ...; 4 for CLF and UYW; 2 for
/// every other code. The one list the gateway (webhook amounts) and the
/// dashboard (money on screen) share.
pub fn minor_digits(code: &str) -> u32 {
    match code.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// An ISO 4217 currency code, three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Currency(pub [u8; 3]);

impl Currency {
    /// Pound sterling, the online-retail dataset's currency.
    pub const GBP: Currency = Currency(*b"GBP");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses `"GBP"`-style codes (case-insensitive, folded to upper case).
    pub fn parse(s: &str) -> Option<Currency> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Some(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            None
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // The bytes are validated ASCII letters on construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).ok_or_else(|| serde::de::Error::custom("currency must be 3 letters"))
    }
}

/// One event as the operators see it.
#[derive(Clone, PartialEq, Debug)]
pub struct Event {
    /// Event time, epoch milliseconds (UTC).
    pub ts_ms: i64,
    /// True when the event carried no time and `ts_ms` is the frame's or the
    /// arrival time instead.
    pub ts_inferred: bool,
    /// What happened.
    pub body: Body,
}

/// The five kinds of event of protocol v1.
#[derive(Clone, PartialEq, Debug)]
pub enum Body {
    /// A shopper did something.
    Behavior(Behavior),
    /// Stock on hand of a product changed.
    Inventory(Inventory),
    /// An order was created or changed status.
    Order(Order),
    /// An order's sync to one target system changed status.
    Sync(Sync),
    /// A pre-aggregated business figure (the seed's `{"date", "sales"}`).
    Sales(SalesFigure),
    /// A notice, sequenced into the feed by the gateway, that an input line
    /// was refused: the bad input is counted and shown, never silently lost.
    Rejected(Rejected),
}

impl Body {
    /// The wire name of this event's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Behavior(_) => Kind::Behavior,
            Body::Inventory(_) => Kind::Inventory,
            Body::Order(_) => Kind::Order,
            Body::Sync(_) => Kind::Sync,
            Body::Sales(_) => Kind::Sales,
            Body::Rejected(_) => Kind::Rejected,
        }
    }
}

/// Event kinds, as named on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `"behavior"` (also accepted: `"behaviour"`).
    Behavior,
    /// `"inventory"`.
    Inventory,
    /// `"order"`.
    Order,
    /// `"sync"`.
    Sync,
    /// `"sales"`.
    Sales,
    /// `"rejected"`: a refused input line (see [`Rejected`]).
    Rejected,
}

impl Kind {
    /// All kinds, in wire order.
    pub const ALL: [Kind; 6] = [
        Kind::Behavior,
        Kind::Inventory,
        Kind::Order,
        Kind::Sync,
        Kind::Sales,
        Kind::Rejected,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Behavior => "behavior",
            Kind::Inventory => "inventory",
            Kind::Order => "order",
            Kind::Sync => "sync",
            Kind::Sales => "sales",
            Kind::Rejected => "rejected",
        }
    }
}

/// A shopper's action.
#[derive(Clone, PartialEq, Debug)]
pub struct Behavior {
    /// Who.
    pub user: Id,
    /// The shopping session, when the source knows it.
    pub session: Option<Id>,
    /// What they did.
    pub action: Action,
    /// On which product.
    pub product: Id,
    /// Sales channel (web, app, a marketplace...), when known.
    pub channel: Option<Arc<str>>,
    /// Unit price seen, in minor units, when known.
    pub price_cents: Option<Cents>,
}

/// Behaviour actions. Unknown actions are kept (and counted as "other").
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// Viewed a product page.
    Browse,
    /// Put a product in the cart.
    AddToCart,
    /// Took a product out of the cart.
    RemoveFromCart,
    /// Started checkout.
    Checkout,
    /// Bought the product.
    Purchase,
    /// Any other action name, kept verbatim.
    Other(Arc<str>),
}

impl Action {
    /// Parses a wire action name; never fails.
    pub fn parse(s: &str) -> Action {
        match s {
            "browse" | "view" => Action::Browse,
            "add_to_cart" => Action::AddToCart,
            "remove_from_cart" => Action::RemoveFromCart,
            "checkout" => Action::Checkout,
            "purchase" => Action::Purchase,
            other => Action::Other(other.into()),
        }
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Action::Browse => "browse",
            Action::AddToCart => "add_to_cart",
            Action::RemoveFromCart => "remove_from_cart",
            Action::Checkout => "checkout",
            Action::Purchase => "purchase",
            Action::Other(s) => s,
        }
    }

    /// Index into per-action counter arrays: the five known actions, then other.
    pub fn slot(&self) -> usize {
        match self {
            Action::Browse => 0,
            Action::AddToCart => 1,
            Action::RemoveFromCart => 2,
            Action::Checkout => 3,
            Action::Purchase => 4,
            Action::Other(_) => 5,
        }
    }
}

/// Names of the per-action counter slots, in [`Action::slot`] order.
pub const ACTION_SLOTS: [&str; 6] = [
    "browse",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "other",
];

/// Stock on hand of one product (may be negative: oversold).
#[derive(Clone, PartialEq, Debug)]
pub struct Inventory {
    /// Which product.
    pub product: Id,
    /// Quantity on hand after the change.
    pub quantity: i64,
    /// Warehouse, when stock is tracked per warehouse.
    pub warehouse: Option<Arc<str>>,
}

/// Order status. Unknown statuses are kept verbatim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum OrderStatus {
    /// Placed, not yet paid.
    Created,
    /// Paid.
    Paid,
    /// Shipped or otherwise fulfilled.
    Fulfilled,
    /// Cancelled before fulfilment.
    Cancelled,
    /// Money returned.
    Refunded,
    /// Any other status name.
    Other(Arc<str>),
}

impl OrderStatus {
    /// Parses a wire status name; never fails.
    pub fn parse(s: &str) -> OrderStatus {
        match s {
            "created" | "new" | "pending" => OrderStatus::Created,
            "paid" => OrderStatus::Paid,
            "fulfilled" | "shipped" | "delivered" => OrderStatus::Fulfilled,
            "cancelled" | "canceled" => OrderStatus::Cancelled,
            "refunded" => OrderStatus::Refunded,
            other => OrderStatus::Other(other.into()),
        }
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Other(s) => s,
        }
    }
}

/// An order or a change of its status.
#[derive(Clone, PartialEq, Debug)]
pub struct Order {
    /// Order id.
    pub order: Id,
    /// Sales channel.
    pub channel: Arc<str>,
    /// Status after this event.
    pub status: OrderStatus,
    /// Order total in minor units of `currency`.
    pub total_cents: Cents,
    /// Currency of every amount in this order.
    pub currency: Currency,
    /// Line items (may be empty on a pure status change).
    pub lines: Vec<LineItem>,
    /// The customer, when known.
    pub user: Option<Id>,
}

/// One line of an order.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct LineItem {
    /// Which product.
    pub product: Id,
    /// How many (negative on a return line).
    pub quantity: i64,
    /// Price of one unit in minor units.
    pub unit_price_cents: Cents,
}

/// The four systems an order syncs to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Payment provider.
    Payment,
    /// Inventory / warehouse system.
    Inventory,
    /// Logistics / shipping.
    Logistics,
    /// Customer-service desk.
    CustomerService,
}

impl Target {
    /// All targets, in matrix column order.
    pub const ALL: [Target; 4] = [
        Target::Payment,
        Target::Inventory,
        Target::Logistics,
        Target::CustomerService,
    ];

    /// Parses a wire target name.
    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "payment" => Some(Target::Payment),
            "inventory" => Some(Target::Inventory),
            "logistics" => Some(Target::Logistics),
            "customer_service" => Some(Target::CustomerService),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Payment => "payment",
            Target::Inventory => "inventory",
            Target::Logistics => "logistics",
            Target::CustomerService => "customer_service",
        }
    }

    /// Index into per-target arrays.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// Sync status of one (order, target).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Sent, no answer yet.
    Pending,
    /// Confirmed by the target.
    Synced,
    /// Gave up, or failed and not yet retried.
    Failed,
    /// Being retried.
    Retrying,
}

impl SyncStatus {
    /// All statuses, in matrix order.
    pub const ALL: [SyncStatus; 4] = [
        SyncStatus::Pending,
        SyncStatus::Synced,
        SyncStatus::Failed,
        SyncStatus::Retrying,
    ];

    /// Parses a wire status name.
    pub fn parse(s: &str) -> Option<SyncStatus> {
        match s {
            "pending" => Some(SyncStatus::Pending),
            "synced" => Some(SyncStatus::Synced),
            "failed" => Some(SyncStatus::Failed),
            "retrying" => Some(SyncStatus::Retrying),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Pending => "pending",
            SyncStatus::Synced => "synced",
            SyncStatus::Failed => "failed",
            SyncStatus::Retrying => "retrying",
        }
    }

    /// Index into per-status arrays.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// A change of one order's sync state towards one target system.
#[derive(Clone, PartialEq, Debug)]
pub struct Sync {
    /// Which order.
    pub order: Id,
    /// The order's sales channel.
    pub channel: Arc<str>,
    /// Which system.
    pub target: Target,
    /// New status.
    pub status: SyncStatus,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Time the target took to answer, when known.
    pub latency_ms: Option<u64>,
    /// The target's error text on failure.
    pub error: Option<Arc<str>>,
}

/// A pre-aggregated business figure: `{"date": "2021-09-01", "sales": 1000}`.
#[derive(Clone, PartialEq, Debug)]
pub struct SalesFigure {
    /// The bucket label as given (a date or a time bucket).
    pub bucket: Arc<str>,
    /// The figure exactly as it was written on the wire (`1000`, `12.5`).
    pub sales_text: Arc<str>,
    /// The figure as a number, for charts.
    pub sales: f64,
    /// Channel, when the source gives one.
    pub channel: Option<Arc<str>>,
}

/// A refused input line, as the gateway sequences it into the feed.
#[derive(Clone, PartialEq, Debug)]
pub struct Rejected {
    /// Where the line came from (`ingest`, `replay`, `webhook:shopify`...).
    pub source: Arc<str>,
    /// 1-based line number within its request or file, when known.
    pub line: Option<u64>,
    /// Error class (see [`crate::decode::ErrorClass`]), as its wire name.
    pub class: Arc<str>,
    /// The readable reason.
    pub reason: Arc<str>,
    /// The start of the offending input (at most [`crate::decode::EXCERPT_LEN`] bytes).
    pub excerpt: Arc<str>,
}
