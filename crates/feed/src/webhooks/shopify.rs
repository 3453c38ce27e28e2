//! Shopify Admin webhooks (REST payloads) to protocol events.
//!
//! Topic from `X-Shopify-Topic`. Field-by-field mapping and what is dropped:
//! docs/SOURCES.md.

use serde_json::{json, Value};
use shoppulse_core::Id;

use super::json::{opt_id, opt_int, opt_time, req_id, J};
use super::{out, Ctx, Item, MapError};

/// Maps one delivery of `topic`.
pub fn map(topic: &str, doc: &J, ctx: &mut Ctx<'_>) -> Item {
    match topic {
        "orders/create" | "orders/paid" | "orders/cancelled" | "orders/fulfilled" => {
            Item::Events(order(topic, doc, ctx).map(|e| vec![e]))
        }
        "refunds/create" => Item::Events(refund(doc, ctx).map(|e| vec![e])),
        "inventory_levels/update" => match inventory(doc) {
            Ok(Some(e)) => Item::Events(Ok(vec![e])),
            Ok(None) => Item::Ignored("inventory_levels/update with available null: the item's stock is not tracked"),
            Err(e) => Item::Events(Err(e)),
        },
        "checkouts/create" | "checkouts/update" => Item::Events(checkout(doc, ctx)),
        "products/update" => Item::Ignored(
            "products/update carries catalogue data (titles, variants); the dashboard shows product ids, so it is counted and not mapped",
        ),
        "" => Item::Unknown("(no X-Shopify-Topic header)".into()),
        other => Item::Unknown(shoppulse_core::decode::excerpt(other, 64).to_owned()),
    }
}

/// `source_name` is the sales channel: `web`, `pos`, `shopify_draft_order`,
/// `iphone`, `android`, or a sales-channel app's id.
fn channel(doc: &J) -> String {
    doc.get("source_name").text().map_or_else(
        || "shopify".to_owned(),
        |s| shoppulse_core::decode::excerpt(s.trim(), 64).to_owned(),
    )
}

/// A line's product: `product_id`, else `sku`; custom items have neither.
fn line_product(line: &J, at: &str) -> Result<Option<Id>, MapError> {
    match opt_id(line.get("product_id"), &format!("{at}.product_id"))? {
        Some(p) => Ok(Some(p)),
        None => Ok(line.get("sku").text().map(|s| Id::from_text(s.trim()))),
    }
}

fn lines(doc: &J, currency: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Value>, MapError> {
    let mut out_lines = Vec::new();
    for (i, line) in doc
        .get("line_items")
        .items("line_items")?
        .iter()
        .enumerate()
    {
        let at = format!("line_items[{i}]");
        let Some(product) = line_product(line, &at)? else {
            // A custom line item (no product, no SKU): its amount is in the
            // order total; it has no product to show.
            continue;
        };
        let quantity = opt_int(line.get("quantity"), &format!("{at}.quantity"))?
            .ok_or_else(|| MapError::missing(&format!("{at}.quantity")))?;
        let price = ctx.req_money(line.get("price"), &format!("{at}.price"), currency)?;
        out_lines.push(json!({
            "product": out::id(&product),
            "quantity": quantity,
            "unit_price_cents": price,
        }));
    }
    Ok(out_lines)
}

fn customer(doc: &J) -> Result<Option<Id>, MapError> {
    // `customer` is null on guest and POS orders without a customer.
    opt_id(doc.get("customer").get("id"), "customer.id")
}

fn currency(doc: &J, field: &str) -> Result<String, MapError> {
    doc.get(field)
        .text()
        .map(|s| s.trim().to_ascii_uppercase())
        .ok_or_else(|| MapError::missing(field))
}

fn order(topic: &str, doc: &J, ctx: &mut Ctx<'_>) -> Result<Value, MapError> {
    let id = req_id(doc.get("id"), "id")?;
    let currency = currency(doc, "currency")?;
    let total = ctx.req_money(doc.get("total_price"), "total_price", &currency)?;
    let status = match topic {
        "orders/create" if doc.get("financial_status").text() == Some("paid") => "paid",
        "orders/create" => "created",
        "orders/paid" => "paid",
        "orders/cancelled" => "cancelled",
        _ => "fulfilled",
    };
    let ts = match topic {
        "orders/create" => opt_time(doc.get("created_at"), "created_at")?,
        "orders/cancelled" => match opt_time(doc.get("cancelled_at"), "cancelled_at")? {
            Some(t) => Some(t),
            None => opt_time(doc.get("updated_at"), "updated_at")?,
        },
        _ => opt_time(doc.get("updated_at"), "updated_at")?,
    };
    let ts = match ts {
        Some(t) => Some(t),
        None => opt_time(doc.get("created_at"), "created_at")?,
    };
    let channel = channel(doc);
    ctx.remember_channel(&id.to_string(), &channel);
    Ok(out::event(
        "order",
        ts,
        json!({
            "order": out::id(&id),
            "channel": channel,
            "status": status,
            "total_cents": total,
            "currency": currency,
            "lines": lines(doc, &currency, ctx)?,
            "user": out::opt_id(customer(doc)?.as_ref()),
        }),
    ))
}

/// A refund: the order's status becomes `refunded`, with the amount
/// refunded (successful refund transactions, else the refunded lines'
/// subtotals) as `total_cents`.
fn refund(doc: &J, ctx: &mut Ctx<'_>) -> Result<Value, MapError> {
    let order_id = req_id(doc.get("order_id"), "order_id")?;
    let mut currency: Option<String> = None;
    let mut amount: i64 = 0;
    let mut from_transactions = false;
    for (i, t) in doc
        .get("transactions")
        .items("transactions")?
        .iter()
        .enumerate()
    {
        let at = format!("transactions[{i}]");
        let kind = t.get("kind").text().unwrap_or("refund");
        let status = t.get("status").text().unwrap_or("success");
        if kind != "refund" || !matches!(status, "success" | "pending") {
            continue;
        }
        let cur = match t.get("currency").text() {
            Some(c) => c.trim().to_ascii_uppercase(),
            None => return Err(MapError::missing(&format!("{at}.currency"))),
        };
        let a = ctx.req_money(t.get("amount"), &format!("{at}.amount"), &cur)?;
        amount = amount.saturating_add(a.abs());
        currency.get_or_insert(cur);
        from_transactions = true;
    }
    if !from_transactions {
        for (i, l) in doc
            .get("refund_line_items")
            .items("refund_line_items")?
            .iter()
            .enumerate()
        {
            let at = format!("refund_line_items[{i}]");
            let cur = l
                .get("subtotal_set")
                .get("shop_money")
                .get("currency_code")
                .text()
                .map(|c| c.trim().to_ascii_uppercase())
                .ok_or_else(|| {
                    MapError::missing(&format!("{at}.subtotal_set.shop_money.currency_code"))
                })?;
            let a = ctx.req_money(l.get("subtotal"), &format!("{at}.subtotal"), &cur)?;
            amount = amount.saturating_add(a.abs());
            currency.get_or_insert(cur);
        }
    }
    let currency = currency.ok_or_else(|| {
        MapError::missing(
            "transactions[].currency (no successful refund transaction and no refund line item)",
        )
    })?;
    let ts = match opt_time(doc.get("processed_at"), "processed_at")? {
        Some(t) => Some(t),
        None => opt_time(doc.get("created_at"), "created_at")?,
    };
    let channel = ctx
        .channel_of(&order_id.to_string())
        .unwrap_or_else(|| "shopify".to_owned());
    Ok(out::event(
        "order",
        ts,
        json!({
            "order": out::id(&order_id),
            "channel": channel,
            "status": "refunded",
            "total_cents": amount,
            "currency": currency,
        }),
    ))
}

fn inventory(doc: &J) -> Result<Option<Value>, MapError> {
    let item = req_id(doc.get("inventory_item_id"), "inventory_item_id")?;
    let Some(available) = opt_int(doc.get("available"), "available")? else {
        return Ok(None);
    };
    let warehouse = opt_id(doc.get("location_id"), "location_id")?.map(|l| l.to_string());
    Ok(Some(out::event(
        "inventory",
        opt_time(doc.get("updated_at"), "updated_at")?,
        json!({
            "product": out::id(&item),
            "quantity": available,
            "warehouse": warehouse,
        }),
    )))
}

/// One `checkout` behaviour per line item. The shopper is the customer, or
/// for a guest the checkout `token`; the session is the checkout `token`.
fn checkout(doc: &J, ctx: &mut Ctx<'_>) -> Result<Vec<Value>, MapError> {
    let token = opt_id(doc.get("token"), "token")?;
    let user = match customer(doc)? {
        Some(c) => c,
        None => token
            .clone()
            .or(opt_id(doc.get("id"), "id")?)
            .ok_or_else(|| MapError::missing("customer.id (and no checkout token)"))?,
    };
    let currency = doc
        .get("currency")
        .text()
        .or_else(|| doc.get("presentment_currency").text())
        .map_or_else(|| "USD".to_owned(), |c| c.trim().to_ascii_uppercase());
    let ts = match opt_time(doc.get("updated_at"), "updated_at")? {
        Some(t) => Some(t),
        None => opt_time(doc.get("created_at"), "created_at")?,
    };
    let channel = channel(doc);
    let mut events = Vec::new();
    for (i, line) in doc
        .get("line_items")
        .items("line_items")?
        .iter()
        .enumerate()
    {
        let at = format!("line_items[{i}]");
        let Some(product) = line_product(line, &at)? else {
            continue;
        };
        let price = ctx.money(line.get("price"), &format!("{at}.price"), &currency)?;
        events.push(out::event(
            "behavior",
            ts,
            json!({
                "user": out::id(&user),
                "session": out::opt_id(token.as_ref()),
                "action": "checkout",
                "product": out::id(&product),
                "channel": channel,
                "price_cents": price,
            }),
        ));
    }
    if events.is_empty() {
        return Err(MapError::missing(
            "line_items (no line with a product_id or sku)",
        ));
    }
    Ok(events)
}
