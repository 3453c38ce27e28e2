//! GA4 ecommerce events in the Measurement Protocol shape to protocol
//! events.
//!
//! Body: `{client_id, user_id?, timestamp_micros?, events: [{name, params:
//! {currency, value, transaction_id, items: [{item_id, price, quantity}]}}]}`.
//! Each element of `events` is one item (its line number in notices is its
//! 1-based position). Field-by-field mapping: docs/SOURCES.md.

use serde_json::{json, Value};
use shoppulse_core::Id;

use super::json::{opt_id, opt_int, J};
use super::{out, Ctx, Item, MapError};

/// Maps a Measurement Protocol body.
pub fn map(doc: &J, ctx: &mut Ctx<'_>) -> Vec<Item> {
    if !matches!(doc, J::Obj(_)) {
        return vec![Item::Events(Err(MapError::wrong("", "an object", doc)))];
    }
    let events = match doc.get("events") {
        J::Arr(v) if !v.is_empty() => v,
        J::Arr(_) | J::Null => return vec![Item::Events(Err(MapError::missing("events")))],
        other => {
            return vec![Item::Events(Err(MapError::wrong(
                "events", "an array", other,
            )))]
        }
    };
    // user_id when the site knows the shopper, else the device's client_id.
    let user = match opt_id(doc.get("user_id"), "user_id") {
        Ok(Some(u)) => Ok(u),
        Ok(None) => match opt_id(doc.get("client_id"), "client_id") {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(MapError::missing("client_id (and user_id)")),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let body_ts = micros(doc.get("timestamp_micros"), "timestamp_micros");
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let name = e.get("name").text().unwrap_or("");
            let action = match name {
                "view_item" => "browse",
                "add_to_cart" => "add_to_cart",
                "remove_from_cart" => "remove_from_cart",
                "begin_checkout" => "checkout",
                "purchase" => "purchase",
                "refund" => "refund",
                "" => return Item::Events(Err(MapError::missing(&format!("events[{i}].name")))),
                other => {
                    return Item::Unknown(shoppulse_core::decode::excerpt(other, 64).to_owned())
                }
            };
            let user = match &user {
                Ok(u) => u,
                Err(err) => return Item::Events(Err(err.clone())),
            };
            let own = micros(
                e.get("timestamp_micros"),
                &format!("events[{i}].timestamp_micros"),
            );
            let ts = match (own, body_ts.clone()) {
                (Err(err), _) | (Ok(None), Err(err)) => return Item::Events(Err(err)),
                (Ok(Some(t)), _) | (Ok(None), Ok(Some(t))) => Some(t),
                (Ok(None), Ok(None)) => None,
            };
            Item::Events(event(action, i, e.get("params"), user, ts, ctx))
        })
        .collect()
}

/// `timestamp_micros` (integer or integer string) to epoch ms.
fn micros(v: &J, field: &str) -> Result<Option<i64>, MapError> {
    Ok(opt_int(v, field)?.map(|us| us.div_euclid(1000)))
}

fn event(
    action: &str,
    i: usize,
    params: &J,
    user: &Id,
    ts: Option<i64>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Value>, MapError> {
    let at = format!("events[{i}].params.");
    let currency = params
        .get("currency")
        .text()
        .map(|c| c.trim().to_ascii_uppercase());
    let session = opt_id(params.get("session_id"), &format!("{at}session_id"))?;
    // Items: item_id, else item_name (GA4 requires one of the two).
    let mut items = Vec::new();
    for (k, it) in params
        .get("items")
        .items(&format!("{at}items"))?
        .iter()
        .enumerate()
    {
        let iat = format!("{at}items[{k}].");
        let id = match opt_id(it.get("item_id"), &format!("{iat}item_id"))? {
            Some(id) => id,
            None => it
                .get("item_name")
                .text()
                .map(|n| Id::from_text(n.trim()))
                .ok_or_else(|| MapError::missing(&format!("{iat}item_id (and {iat}item_name)")))?,
        };
        let qty = opt_int(it.get("quantity"), &format!("{iat}quantity"))?.unwrap_or(1);
        let price = ctx.money(
            it.get("price"),
            &format!("{iat}price"),
            currency.as_deref().unwrap_or("USD"),
        )?;
        items.push((id, qty, price));
    }
    let channel = params.get("affiliation").text().map_or("web", str::trim);
    let channel = shoppulse_core::decode::excerpt(channel, 64);
    match action {
        "purchase" | "refund" => {
            let order = opt_id(params.get("transaction_id"), &format!("{at}transaction_id"))?
                .ok_or_else(|| MapError::missing(&format!("{at}transaction_id")))?;
            let currency = currency.ok_or_else(|| MapError::missing(&format!("{at}currency")))?;
            let from_items: Option<i64> = items
                .iter()
                .map(|(_, q, p)| p.map(|p| p.saturating_mul(*q)))
                .sum();
            let total = match ctx.money(params.get("value"), &format!("{at}value"), &currency)? {
                Some(v) => v,
                None if !items.is_empty() && from_items.is_some() => from_items.unwrap_or(0),
                None if action == "refund" => 0,
                None => return Err(MapError::missing(&format!("{at}value (and priced items)"))),
            };
            let mut events = vec![out::event(
                "order",
                ts,
                json!({
                    "order": out::id(&order),
                    "channel": channel,
                    "status": if action == "refund" { "refunded" } else { "paid" },
                    "total_cents": if action == "refund" { total.abs() } else { total },
                    "currency": currency,
                    "lines": items.iter().filter_map(|(p, q, price)| price.map(|c| json!({"product": out::id(p), "quantity": q, "unit_price_cents": c}))).collect::<Vec<_>>(),
                    "user": out::id(user),
                }),
            )];
            if action == "purchase" {
                for (p, _, price) in &items {
                    events.push(out::event(
                        "behavior",
                        ts,
                        json!({"user": out::id(user), "session": out::opt_id(session.as_ref()), "action": "purchase", "product": out::id(p), "channel": channel, "price_cents": price}),
                    ));
                }
            }
            Ok(events)
        }
        _ => {
            if items.is_empty() {
                return Err(MapError::missing(&format!("{at}items")));
            }
            Ok(items
                .iter()
                .map(|(p, _, price)| {
                    out::event(
                        "behavior",
                        ts,
                        json!({"user": out::id(user), "session": out::opt_id(session.as_ref()), "action": action, "product": out::id(p), "channel": channel, "price_cents": price}),
                    )
                })
                .collect())
        }
    }
}
