//! WooCommerce webhooks (REST API v3 resource payloads) to protocol events.
//!
//! Topic from `X-WC-Webhook-Topic`. Field-by-field mapping and what is
//! dropped: docs/SOURCES.md.

use serde_json::{json, Value};
use shoppulse_core::Id;

use super::json::{opt_id, opt_int, opt_time, req_id, J};
use super::{out, Ctx, Item, MapError};

/// Maps one delivery of `topic`.
pub fn map(topic: &str, doc: &J, ctx: &mut Ctx<'_>) -> Item {
    match topic {
        "order.created" | "order.updated" => Item::Events(order(topic, doc, ctx).map(|e| vec![e])),
        "product.created" | "product.updated" => match product_stock(doc) {
            Ok(Some(e)) => Item::Events(Ok(vec![e])),
            Ok(None) => Item::Ignored(
                "product without managed stock (manage_stock false or stock_quantity null)",
            ),
            Err(e) => Item::Events(Err(e)),
        },
        "" => Item::Unknown("(no X-WC-Webhook-Topic header)".into()),
        other => Item::Unknown(shoppulse_core::decode::excerpt(other, 64).to_owned()),
    }
}

/// WooCommerce order status to protocol status.
pub fn status(s: &str) -> &str {
    match s {
        "pending" | "on-hold" => "created",
        "processing" => "paid",
        "completed" => "fulfilled",
        "cancelled" => "cancelled",
        "refunded" => "refunded",
        // failed, trash, checkout-draft and plugin statuses: kept verbatim.
        other => other,
    }
}

/// `created_via`: `checkout` and `store-api` are the storefront (`web`);
/// `admin`, `rest-api` and others are kept.
fn channel(doc: &J) -> String {
    match doc.get("created_via").text().map(str::trim) {
        None => "woocommerce".to_owned(),
        Some("checkout" | "store-api") => "web".to_owned(),
        Some(other) => shoppulse_core::decode::excerpt(other, 64).to_owned(),
    }
}

/// `*_gmt` times are UTC without an offset; the plain ones are the site's
/// local time, so only the `_gmt` fields are read.
fn time(doc: &J, first: &str, second: &str) -> Result<Option<i64>, MapError> {
    match opt_time(doc.get(first), first)? {
        Some(t) => Ok(Some(t)),
        None => opt_time(doc.get(second), second),
    }
}

fn order(topic: &str, doc: &J, ctx: &mut Ctx<'_>) -> Result<Value, MapError> {
    let id = req_id(doc.get("id"), "id")?;
    let wc_status = doc
        .get("status")
        .text()
        .ok_or_else(|| MapError::missing("status"))?;
    let currency = doc
        .get("currency")
        .text()
        .map(|c| c.trim().to_ascii_uppercase())
        .ok_or_else(|| MapError::missing("currency"))?;
    let total = ctx.req_money(doc.get("total"), "total", &currency)?;
    // customer_id 0 is a guest.
    let user = opt_id(doc.get("customer_id"), "customer_id")?.filter(|u| *u != Id::Num(0));
    let ts = if topic == "order.created" {
        time(doc, "date_created_gmt", "date_modified_gmt")?
    } else {
        time(doc, "date_modified_gmt", "date_created_gmt")?
    };
    let mut lines = Vec::new();
    for (i, line) in doc
        .get("line_items")
        .items("line_items")?
        .iter()
        .enumerate()
    {
        let at = format!("line_items[{i}]");
        // product_id 0: the product was deleted; fall back to the SKU.
        let product = opt_id(line.get("product_id"), &format!("{at}.product_id"))?
            .filter(|p| *p != Id::Num(0))
            .or_else(|| line.get("sku").text().map(|s| Id::from_text(s.trim())));
        let Some(product) = product else {
            continue;
        };
        let quantity = opt_int(line.get("quantity"), &format!("{at}.quantity"))?
            .ok_or_else(|| MapError::missing(&format!("{at}.quantity")))?;
        // `price` is a JSON number (the line total over the quantity, so it
        // can have many decimals); read exactly, then rounded to the minor
        // unit. When absent, `subtotal` / quantity.
        let price = ctx.money(line.get("price"), &format!("{at}.price"), &currency)?;
        let unit = if let Some(p) = price {
            p
        } else {
            let sub = ctx.req_money(line.get("subtotal"), &format!("{at}.subtotal"), &currency)?;
            if quantity == 0 {
                0
            } else {
                sub / quantity
            }
        };
        lines.push(
            json!({"product": out::id(&product), "quantity": quantity, "unit_price_cents": unit}),
        );
    }
    Ok(out::event(
        "order",
        ts,
        json!({
            "order": out::id(&id),
            "channel": channel(doc),
            "status": status(wc_status.trim()),
            "total_cents": total,
            "currency": currency,
            "lines": lines,
            "user": out::opt_id(user.as_ref()),
        }),
    ))
}

fn product_stock(doc: &J) -> Result<Option<Value>, MapError> {
    let id = req_id(doc.get("id"), "id")?;
    if matches!(doc.get("manage_stock"), J::Bool(false)) {
        return Ok(None);
    }
    let Some(quantity) = opt_int(doc.get("stock_quantity"), "stock_quantity")? else {
        return Ok(None);
    };
    Ok(Some(out::event(
        "inventory",
        time(doc, "date_modified_gmt", "date_created_gmt")?,
        json!({"product": out::id(&id), "quantity": quantity}),
    )))
}
