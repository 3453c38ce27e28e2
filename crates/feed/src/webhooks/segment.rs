//! Segment track calls of the E-commerce spec v2 to protocol events.
//!
//! The body is one message or `{"batch": [...]}`; each message is one item
//! (its line number in notices is its 1-based position). Field-by-field
//! mapping and what is dropped: docs/SOURCES.md.

use serde_json::{json, Value};
use shoppulse_core::Id;

use super::json::{opt_id, opt_int, opt_time, J};
use super::{out, Ctx, Item, MapError};

/// Maps a body (one message or a batch).
pub fn map(doc: &J, ctx: &mut Ctx<'_>) -> Vec<Item> {
    match doc.get("batch") {
        J::Arr(msgs) => msgs.iter().map(|m| message(m, ctx)).collect(),
        J::Null => vec![message(doc, ctx)],
        other => vec![Item::Events(Err(MapError::wrong(
            "batch", "an array", other,
        )))],
    }
}

/// Maps one message.
pub fn message(m: &J, ctx: &mut Ctx<'_>) -> Item {
    if !matches!(m, J::Obj(_)) {
        return Item::Events(Err(MapError::wrong("", "a message object", m)));
    }
    let kind = m.get("type").text().unwrap_or("track");
    if kind != "track" {
        return Item::Unknown(format!(
            "{} call",
            shoppulse_core::decode::excerpt(kind, 32)
        ));
    }
    let Some(name) = m.get("event").text() else {
        return Item::Events(Err(MapError::missing("event")));
    };
    let action = match name {
        "Product Viewed" => "browse",
        "Product Added" => "add_to_cart",
        "Product Removed" => "remove_from_cart",
        "Checkout Started" => "checkout",
        "Order Completed" => "purchase",
        "Order Refunded" => "refund",
        other => return Item::Unknown(shoppulse_core::decode::excerpt(other, 64).to_owned()),
    };
    // Segment retries deliveries; messageId is its documented dedupe key.
    if let Some(mid) = m.get("messageId").text() {
        if !ctx.first_sighting(&format!("segment:{mid}")) {
            return Item::Duplicate;
        }
    }
    Item::Events(track(action, m, ctx))
}

fn user(m: &J) -> Result<Option<Id>, MapError> {
    match opt_id(m.get("userId"), "userId")? {
        Some(u) => Ok(Some(u)),
        None => opt_id(m.get("anonymousId"), "anonymousId"),
    }
}

fn product_of(p: &J, at: &str) -> Result<Option<Id>, MapError> {
    match opt_id(p.get("product_id"), &format!("{at}product_id"))? {
        Some(id) => Ok(Some(id)),
        None => opt_id(p.get("sku"), &format!("{at}sku")),
    }
}

fn currency(props: &J) -> String {
    // The spec's default currency is USD.
    props
        .get("currency")
        .text()
        .map_or_else(|| "USD".to_owned(), |c| c.trim().to_ascii_uppercase())
}

fn track(action: &str, m: &J, ctx: &mut Ctx<'_>) -> Result<Vec<Value>, MapError> {
    let props = m.get("properties");
    let ts = match opt_time(m.get("timestamp"), "timestamp")? {
        Some(t) => Some(t),
        None => opt_time(m.get("originalTimestamp"), "originalTimestamp")?,
    };
    let currency = currency(props);
    let user = user(m)?;
    match action {
        "browse" | "add_to_cart" | "remove_from_cart" => {
            let user = user.ok_or_else(|| MapError::missing("userId (and anonymousId)"))?;
            let product = product_of(props, "properties.")?
                .ok_or_else(|| MapError::missing("properties.product_id (and properties.sku)"))?;
            let price = ctx.money(props.get("price"), "properties.price", &currency)?;
            Ok(vec![out::event(
                "behavior",
                ts,
                json!({
                    "user": out::id(&user),
                    "action": action,
                    "product": out::id(&product),
                    "price_cents": price,
                }),
            )])
        }
        "checkout" => {
            let user = user.ok_or_else(|| MapError::missing("userId (and anonymousId)"))?;
            let lines = products(props, &currency, ctx)?;
            if lines.is_empty() {
                return Err(MapError::missing("properties.products"));
            }
            Ok(lines
                .iter()
                .map(|(p, _, price)| {
                    out::event(
                        "behavior",
                        ts,
                        json!({"user": out::id(&user), "action": "checkout", "product": out::id(p), "price_cents": price}),
                    )
                })
                .collect())
        }
        "purchase" | "refund" => order(action, props, user.as_ref(), ts, &currency, ctx),
        _ => Ok(Vec::new()),
    }
}

/// `properties.products[]` as (product, quantity, unit price).
fn products(
    props: &J,
    currency: &str,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<(Id, i64, Option<i64>)>, MapError> {
    let mut v = Vec::new();
    for (i, p) in props
        .get("products")
        .items("properties.products")?
        .iter()
        .enumerate()
    {
        let at = format!("properties.products[{i}].");
        let Some(id) = product_of(p, &at)? else {
            return Err(MapError::missing(&format!("{at}product_id (and {at}sku)")));
        };
        let qty = opt_int(p.get("quantity"), &format!("{at}quantity"))?.unwrap_or(1);
        let price = ctx.money(p.get("price"), &format!("{at}price"), currency)?;
        v.push((id, qty, price));
    }
    Ok(v)
}

fn order(
    action: &str,
    props: &J,
    user: Option<&Id>,
    ts: Option<i64>,
    currency: &str,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Value>, MapError> {
    let order_id = match opt_id(props.get("order_id"), "properties.order_id")? {
        Some(o) => o,
        None => opt_id(props.get("checkout_id"), "properties.checkout_id")?
            .ok_or_else(|| MapError::missing("properties.order_id"))?,
    };
    let lines = products(props, currency, ctx)?;
    let from_lines: Option<i64> = lines
        .iter()
        .map(|(_, q, p)| p.map(|p| p.saturating_mul(*q)))
        .sum();
    // total, else revenue, else the products' sum, else (refund only) 0.
    let total = match ctx.money(props.get("total"), "properties.total", currency)? {
        Some(t) => t,
        None => match ctx.money(props.get("revenue"), "properties.revenue", currency)? {
            Some(r) => r,
            None if !lines.is_empty() && from_lines.is_some() => from_lines.unwrap_or(0),
            None if action == "refund" => 0,
            None => {
                return Err(MapError::missing(
                    "properties.total (and properties.revenue, and priced products)",
                ))
            }
        },
    };
    let channel = props.get("affiliation").text().map_or("web", str::trim);
    let mut events = vec![out::event(
        "order",
        ts,
        json!({
            "order": out::id(&order_id),
            "channel": shoppulse_core::decode::excerpt(channel, 64),
            "status": if action == "refund" { "refunded" } else { "paid" },
            "total_cents": if action == "refund" { total.abs() } else { total },
            "currency": currency,
            "lines": lines.iter().filter_map(|(p, q, price)| price.map(|c| json!({"product": out::id(p), "quantity": q, "unit_price_cents": c}))).collect::<Vec<_>>(),
            "user": out::opt_id(user),
        }),
    )];
    if action == "purchase" {
        if let Some(u) = user {
            for (p, _, price) in &lines {
                events.push(out::event(
                    "behavior",
                    ts,
                    json!({"user": out::id(u), "action": "purchase", "product": out::id(p), "channel": shoppulse_core::decode::excerpt(channel, 64), "price_cents": price}),
                ));
            }
        }
    }
    Ok(events)
}
