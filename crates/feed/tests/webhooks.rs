//! Webhooks from real shops and tracking tools, end to end: realistic
//! payloads (written from the services' documented fields, with real-data
//! quirks: string money, nulls, a missing customer, 64-bit ids) posted to
//! the real gateway with valid and invalid signatures; the events that reach
//! a WebSocket dashboard and the counted refusals are both checked.

mod common;

use common::{http_with, Client, Gateway};
use serde_json::Value;
use shoppulse_core::decode_event;
use shoppulse_core::frame::ResumePoint;
use shoppulse_feed::webhooks::verify::{sign_sha1_hex, sign_sha256_base64};

const SHOPIFY_SECRET: &str = "shpss_7c1f0e4d2a9b";
const WOO_SECRET: &str = "wc-secret-9f8e7d";
const SEGMENT_SECRET: &str = "segment-shared-secret";
const GA4_SECRET: &str = "ga4ApiSecret_x1";

/// Posts a Shopify delivery signed with `secret`.
fn shopify(gw: &Gateway, topic: &str, webhook_id: &str, body: &str, secret: &str) -> (u16, Value) {
    let sig = sign_sha256_base64(secret.as_bytes(), body.as_bytes());
    let (status, text) = http_with(
        gw.addr,
        "POST",
        "/webhooks/shopify",
        &[
            ("Content-Type", "application/json"),
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Hmac-Sha256", &sig),
            ("X-Shopify-Shop-Domain", "example.myshopify.com"),
            ("X-Shopify-Webhook-Id", webhook_id),
            ("X-Shopify-API-Version", "2024-01"),
        ],
        body.as_bytes(),
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn woo(gw: &Gateway, topic: &str, body: &str, secret: &str) -> (u16, Value) {
    let sig = sign_sha256_base64(secret.as_bytes(), body.as_bytes());
    let (status, text) = http_with(
        gw.addr,
        "POST",
        "/webhooks/woocommerce",
        &[
            ("Content-Type", "application/json"),
            ("X-WC-Webhook-Source", "https://shop.example.com/"),
            ("X-WC-Webhook-Topic", topic),
            ("X-WC-Webhook-Signature", &sig),
            ("X-WC-Webhook-ID", "12"),
        ],
        body.as_bytes(),
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn post(gw: &Gateway, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let (status, text) = http_with(gw.addr, "POST", path, headers, body.as_bytes());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every event of the stream so far, as JSON, read by a dashboard from
/// sequence 1 (each one must decode as a protocol event).
async fn feed(gw: &Gateway) -> Vec<Value> {
    let h = gw.health();
    let head = h["head_seq"].as_u64().expect("head_seq");
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(Some(ResumePoint {
        epoch: h["epoch"].as_str().expect("epoch").to_owned(),
        seq: 0,
    }))
    .await;
    c.events_until(1, head)
        .await
        .iter()
        .map(|json| {
            decode_event(json, 0).unwrap_or_else(|e| panic!("{json}: {e}"));
            serde_json::from_str(json).expect("event JSON")
        })
        .collect()
}

fn requests(gw: &Gateway, source: &str, outcome: &str) -> u64 {
    gw.metric(&format!(
        "shoppulse_feed_webhook_requests_total{{source=\"{source}\",outcome=\"{outcome}\"}}"
    ))
}

fn refused(gw: &Gateway, source: &str, class: &str) -> u64 {
    gw.metric(&format!(
        "shoppulse_feed_webhook_refused_total{{source=\"{source}\",class=\"{class}\"}}"
    ))
}

fn ts(text: &str) -> i64 {
    shoppulse_core::time::parse_rfc3339_ms(text).expect("RFC 3339 time")
}

// Shopify REST webhook payloads, trimmed to realistic subsets of the
// documented fields. The order id is above 2^53; the customer is null (a
// guest checkout); one line is a custom item with neither product_id nor
// sku; money is string decimals.
const SHOPIFY_ORDER: &str = r##"{
  "id": 820982911946154508,
  "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
  "name": "#9999",
  "order_number": 1234,
  "created_at": "2024-01-15T10:30:00-05:00",
  "updated_at": "2024-01-15T10:31:12-05:00",
  "cancelled_at": null,
  "currency": "USD",
  "presentment_currency": "EUR",
  "financial_status": "pending",
  "fulfillment_status": null,
  "source_name": "web",
  "subtotal_price": "209.00",
  "total_tax": "0.00",
  "total_discounts": "10.00",
  "total_price": "199.00",
  "customer": null,
  "line_items": [
    {"id": 866550311766439020, "product_id": 632910392, "variant_id": 808950810, "sku": "IPOD2008PINK", "title": "IPod Nano - 8GB", "quantity": 1, "price": "199.00", "price_set": {"shop_money": {"amount": "199.00", "currency_code": "USD"}}},
    {"id": 141249953214522974, "product_id": null, "variant_id": null, "sku": null, "title": "Gift wrapping", "quantity": 1, "price": "10.00"}
  ]
}"##;

const SHOPIFY_POS_ORDER: &str = r#"{
  "id": 450789469,
  "created_at": "2024-01-15T16:00:00Z",
  "updated_at": "2024-01-15T16:05:00Z",
  "currency": "USD",
  "financial_status": "paid",
  "source_name": "pos",
  "total_price": "0.10",
  "customer": {"id": 207119551, "email": "bob.norman@mail.example.com", "first_name": "Bob", "last_name": "Norman"},
  "line_items": [{"id": 1, "product_id": null, "sku": "STICKER-01", "quantity": 2, "price": "0.05"}]
}"#;

const SHOPIFY_REFUND: &str = r#"{
  "id": 509562969,
  "order_id": 820982911946154508,
  "created_at": "2024-01-16T09:00:00-05:00",
  "processed_at": "2024-01-16T09:00:05-05:00",
  "note": "it broke during shipping",
  "user_id": 548380009,
  "restock": true,
  "refund_line_items": [
    {"id": 104689539, "quantity": 1, "line_item_id": 866550311766439020, "subtotal": 195.66, "total_tax": 3.98,
     "subtotal_set": {"shop_money": {"amount": "195.66", "currency_code": "USD"}}}
  ],
  "transactions": [
    {"id": 179259969, "order_id": 820982911946154508, "kind": "refund", "status": "success", "amount": "41.94", "currency": "USD", "gateway": "bogus"},
    {"id": 179259970, "order_id": 820982911946154508, "kind": "refund", "status": "failure", "amount": "99.00", "currency": "USD", "gateway": "bogus"}
  ]
}"#;

const SHOPIFY_INVENTORY: &str = r#"{
  "inventory_item_id": 39072856,
  "location_id": 905684977,
  "available": 6,
  "updated_at": "2024-01-15T11:00:00-05:00",
  "admin_graphql_api_id": "gid://shopify/InventoryLevel/905684977?inventory_item_id=39072856"
}"#;

const SHOPIFY_CHECKOUT: &str = r#"{
  "id": 901414060,
  "token": "b1946ac92492d2347c6235b4d2611184",
  "cart_token": "68778783ad298f1c80c3bafcddeea02f",
  "created_at": "2024-01-15T09:00:00-05:00",
  "updated_at": "2024-01-15T09:10:00-05:00",
  "currency": "USD",
  "source_name": "web",
  "customer": null,
  "line_items": [
    {"product_id": 632910392, "variant_id": 39072856, "sku": "IPOD2008PINK", "quantity": 1, "price": "199.00"},
    {"product_id": 921728736, "variant_id": 457924702, "sku": "", "quantity": 2, "price": "9.50"}
  ]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_orders_refunds_stock_and_checkouts_reach_the_dashboard() {
    let gw = Gateway::start(&["--shopify-secret", SHOPIFY_SECRET]);
    let s = SHOPIFY_SECRET;
    assert_eq!(shopify(&gw, "orders/create", "w1", SHOPIFY_ORDER, s).0, 200);
    assert_eq!(shopify(&gw, "orders/paid", "w2", SHOPIFY_ORDER, s).0, 200);
    assert_eq!(
        shopify(&gw, "orders/create", "w3", SHOPIFY_POS_ORDER, s).0,
        200
    );
    let (status, answer) = shopify(&gw, "refunds/create", "w4", SHOPIFY_REFUND, s);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)));
    assert_eq!(
        shopify(&gw, "inventory_levels/update", "w5", SHOPIFY_INVENTORY, s).0,
        200
    );
    let (status, answer) = shopify(&gw, "checkouts/create", "w6", SHOPIFY_CHECKOUT, s);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(2)));
    // Untracked stock and catalogue updates: accepted, counted, not mapped.
    let untracked = SHOPIFY_INVENTORY.replace("\"available\": 6", "\"available\": null");
    let (status, answer) = shopify(&gw, "inventory_levels/update", "w7", &untracked, s);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(0)));
    let product = r#"{"id": 632910392, "title": "IPod Nano - 8GB", "variants": [{"id": 808950810, "inventory_item_id": 39072856}]}"#;
    assert_eq!(shopify(&gw, "products/update", "w8", product, s).0, 200);
    // A topic the gateway does not know: 202, counted, not an error.
    let (status, answer) = shopify(&gw, "customers/create", "w9", r#"{"id": 1}"#, s);
    assert_eq!(status, 202);
    assert_eq!(answer["unknown"][0], "customers/create");

    let events = feed(&gw).await;
    assert_eq!(events.len(), 7, "{events:#?}");
    // orders/create: 64-bit id exact, "199.00" -> 19900, guest (no user),
    // the custom line dropped, time from created_at with its offset.
    let created = &events[0];
    assert_eq!(created["kind"], "order");
    assert_eq!(created["order"].as_u64(), Some(820_982_911_946_154_508));
    assert_eq!(created["status"], "created");
    assert_eq!(created["total_cents"], 19_900);
    assert_eq!(created["currency"], "USD");
    assert_eq!(created["channel"], "web");
    assert!(created.get("user").is_none(), "guest checkout: no user");
    assert_eq!(
        created["lines"],
        serde_json::json!([{"product": 632_910_392, "quantity": 1, "unit_price_cents": 19_900}])
    );
    assert_eq!(created["ts"], ts("2024-01-15T15:30:00Z"));
    // orders/paid: same order, paid, at updated_at.
    assert_eq!(events[1]["order"], created["order"]);
    assert_eq!(events[1]["status"], "paid");
    assert_eq!(events[1]["ts"], ts("2024-01-15T15:31:12.000Z"));
    // A POS order already paid: customer kept, SKU as product, "0.10" exact.
    assert_eq!(events[2]["status"], "paid");
    assert_eq!(events[2]["channel"], "pos");
    assert_eq!(events[2]["user"], 207_119_551);
    assert_eq!(events[2]["total_cents"], 10);
    assert_eq!(events[2]["lines"][0]["product"], "STICKER-01");
    assert_eq!(events[2]["lines"][0]["unit_price_cents"], 5);
    // refunds/create: the successful refund transaction's amount, the
    // order's channel remembered from orders/create.
    let refund = &events[3];
    assert_eq!(refund["order"], created["order"]);
    assert_eq!(refund["status"], "refunded");
    assert_eq!(refund["total_cents"], 4194);
    assert_eq!(refund["channel"], "web");
    assert_eq!(refund["ts"], ts("2024-01-16T14:00:05.000Z"));
    // inventory_levels/update: the inventory item at its location.
    assert_eq!(events[4]["kind"], "inventory");
    assert_eq!(events[4]["product"], 39_072_856);
    assert_eq!(events[4]["quantity"], 6);
    assert_eq!(events[4]["warehouse"], "905684977");
    // checkouts/create: one checkout per line; a guest is known by the
    // checkout token, which is also the session.
    for (ev, product, price) in [
        (&events[5], 632_910_392, 19_900),
        (&events[6], 921_728_736, 950),
    ] {
        assert_eq!(ev["kind"], "behavior");
        assert_eq!(ev["action"], "checkout");
        assert_eq!(ev["product"], product);
        assert_eq!(ev["price_cents"], price);
        assert_eq!(ev["user"], "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(ev["session"], "b1946ac92492d2347c6235b4d2611184");
    }

    assert_eq!(requests(&gw, "shopify", "accepted"), 6);
    assert_eq!(requests(&gw, "shopify", "ignored"), 2);
    assert_eq!(requests(&gw, "shopify", "unknown_topic"), 1);
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_events_total{source=\"shopify\"}"),
        7
    );
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_ignored_total{source=\"shopify\"}"),
        3
    );
    assert_eq!(
        gw.metric("shoppulse_feed_events_in_total{source=\"webhook\"}"),
        7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // reason: one scenario, every refusal and its count in order
async fn shopify_bad_signatures_duplicates_and_unmappable_payloads_are_refused_and_counted() {
    let gw = Gateway::start(&["--shopify-secret", SHOPIFY_SECRET]);
    // Signed with another secret: 401, nothing sequenced but a notice.
    let auth_started = std::time::Instant::now();
    let (status, answer) = shopify(&gw, "orders/create", "b1", SHOPIFY_ORDER, "not-the-secret");
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "bad_signature");
    // The body changed after signing.
    let sig = sign_sha256_base64(SHOPIFY_SECRET.as_bytes(), SHOPIFY_ORDER.as_bytes());
    let tampered = SHOPIFY_ORDER.replace("\"199.00\"", "\"1.00\"");
    let (status, _) = post(
        &gw,
        "/webhooks/shopify",
        &[
            ("X-Shopify-Topic", "orders/create"),
            ("X-Shopify-Hmac-Sha256", &sig),
        ],
        &tampered,
    );
    assert_eq!(status, 401);
    // No signature at all.
    let (status, answer) = post(
        &gw,
        "/webhooks/shopify",
        &[("X-Shopify-Topic", "orders/create")],
        SHOPIFY_ORDER,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("missing_signature"))
    );
    let auth_took = auth_started.elapsed();
    assert_eq!(requests(&gw, "shopify", "bad_signature"), 2);
    assert_eq!(requests(&gw, "shopify", "missing_signature"), 1);

    // The same delivery twice (Shopify retries with the same id): one event.
    assert_eq!(
        shopify(
            &gw,
            "orders/create",
            "dup-1",
            SHOPIFY_POS_ORDER,
            SHOPIFY_SECRET
        )
        .0,
        200
    );
    let (status, answer) = shopify(
        &gw,
        "orders/create",
        "dup-1",
        SHOPIFY_POS_ORDER,
        SHOPIFY_SECRET,
    );
    assert_eq!((status, answer["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(requests(&gw, "shopify", "duplicate"), 1);
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_duplicates_total{source=\"shopify\"}"),
        1
    );

    // Authentic but unmappable: no total_price; money in exponent form; not JSON.
    let no_total = SHOPIFY_POS_ORDER.replace("\"total_price\": \"0.10\",", "");
    let (status, answer) = shopify(&gw, "orders/paid", "u1", &no_total, SHOPIFY_SECRET);
    assert_eq!(status, 422);
    assert_eq!(answer["rejected"][0]["class"], "missing_field");
    assert!(answer["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("`total_price`"));
    let exotic = SHOPIFY_POS_ORDER.replace("\"total_price\": \"0.10\"", "\"total_price\": \"1e3\"");
    let (status, answer) = shopify(&gw, "orders/paid", "u2", &exotic, SHOPIFY_SECRET);
    assert_eq!(
        (status, answer["rejected"][0]["class"].as_str()),
        (422, Some("bad_value"))
    );
    assert!(answer["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("exponent"));
    let (status, answer) = shopify(&gw, "orders/paid", "u3", "{\"id\": 1,", SHOPIFY_SECRET);
    assert_eq!(
        (status, answer["rejected"][0]["class"].as_str()),
        (422, Some("malformed"))
    );
    assert_eq!(requests(&gw, "shopify", "rejected"), 3);
    assert_eq!(
        refused(&gw, "shopify", "missing_field"),
        2,
        "one payload, one missing signature"
    );
    assert_eq!(
        refused(&gw, "shopify", "bad_value"),
        3,
        "two bad signatures, one bad amount"
    );
    assert_eq!(refused(&gw, "shopify", "malformed"), 1);

    // A source without a secret is not enabled.
    let (status, answer) = woo(&gw, "order.created", "{}", WOO_SECRET);
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("not_configured"))
    );
    assert_eq!(requests(&gw, "woocommerce", "not_configured"), 1);

    // The feed: the signature notices first (one when the three failures
    // came within a second: notices are limited to one per second per
    // source, and carry no unauthenticated text), then the order once and
    // three mapping notices.
    let events = feed(&gw).await;
    let auth = events
        .iter()
        .take_while(|e| e["kind"] == "rejected")
        .count();
    if auth_took < std::time::Duration::from_millis(900) {
        assert_eq!(auth, 1, "{events:#?}");
    } else {
        assert!((1..=3).contains(&auth), "{events:#?}");
    }
    assert_eq!(events[0]["source"], "webhook:shopify");
    assert_eq!(events[0]["class"], "bad_value");
    assert!(events[0]["reason"]
        .as_str()
        .unwrap()
        .contains("X-Shopify-Hmac-Sha256"));
    assert!(
        events[0].get("excerpt").is_none_or(|e| e == ""),
        "no unauthenticated text shown"
    );
    let events = &events[auth..];
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["order", "rejected", "rejected", "rejected"],
        "{events:#?}"
    );
    assert_eq!(events[1]["class"], "missing_field");
    assert_eq!(events[1]["line"], 1);
    assert!(events[1]["excerpt"]
        .as_str()
        .unwrap()
        .starts_with("{\n  \"id\": 450789469"));
    assert_eq!(events[2]["class"], "bad_value");
    assert_eq!(events[3]["class"], "malformed");
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_by_source_total{source=\"webhook\"}"),
        3 + auth as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_orders_and_stock_with_the_secret_from_a_file() {
    let dir = common::temp_dir("woo-secret");
    let file = dir.join("woo.secret");
    std::fs::write(&file, format!("{WOO_SECRET}\n")).unwrap();
    let gw = Gateway::start(&["--woocommerce-secret-file", file.to_str().unwrap()]);
    // WooCommerce REST v3 order: string money, line `price` a float number
    // (line total over quantity), guest (customer_id 0), a deleted product
    // (product_id 0) kept by its SKU, `_gmt` times without an offset.
    let order = r#"{
      "id": 727, "parent_id": 0, "number": "727", "order_key": "wc_order_58d2d042d1d",
      "created_via": "checkout", "status": "processing", "currency": "EUR",
      "date_created": "2017-03-22T16:28:02", "date_created_gmt": "2017-03-22T19:28:02",
      "date_modified": "2017-03-22T16:28:08", "date_modified_gmt": "2017-03-22T19:28:08",
      "discount_total": "0.00", "shipping_total": "10.00", "total": "29.35", "total_tax": "1.35",
      "customer_id": 0, "payment_method": "bacs",
      "billing": {"first_name": "John", "last_name": "Doe", "email": null},
      "line_items": [
        {"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0, "quantity": 2, "tax_class": "",
         "subtotal": "6.00", "total": "6.00", "sku": "", "price": 3},
        {"id": 316, "name": "Ship Your Idea - Color: Black", "product_id": 0, "variation_id": 0, "quantity": 3,
         "subtotal": "12.00", "total": "11.00", "sku": "SYI-BLK", "price": 3.6666666666666665}
      ],
      "refunds": []
    }"#;
    let (status, answer) = woo(&gw, "order.created", order, WOO_SECRET);
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    let refunded = order
        .replace("\"status\": \"processing\"", "\"status\": \"refunded\"")
        .replace("\"customer_id\": 0", "\"customer_id\": 12")
        .replace(
            "\"date_modified_gmt\": \"2017-03-22T19:28:08\"",
            "\"date_modified_gmt\": \"2017-03-25T08:00:00\"",
        );
    assert_eq!(woo(&gw, "order.updated", &refunded, WOO_SECRET).0, 200);
    let product = r#"{"id": 794, "name": "Premium Quality", "sku": "PQ-1", "manage_stock": true, "stock_quantity": 3,
      "stock_status": "instock", "price": "21.99", "date_modified_gmt": "2017-03-23T17:01:14"}"#;
    assert_eq!(woo(&gw, "product.updated", product, WOO_SECRET).0, 200);
    let unmanaged = r#"{"id": 795, "manage_stock": false, "stock_quantity": null}"#;
    assert_eq!(woo(&gw, "product.updated", unmanaged, WOO_SECRET).0, 200);
    // The ping WooCommerce sends when the webhook is saved.
    let (status, answer) = post(
        &gw,
        "/webhooks/woocommerce",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "webhook_id=12",
    );
    assert_eq!((status, answer["ping"].as_bool()), (200, Some(true)));
    assert_eq!(woo(&gw, "order.created", order, "wrong").0, 401);
    assert_eq!(
        woo(&gw, "coupon.created", r#"{"id": 1}"#, WOO_SECRET).0,
        202
    );

    let events = feed(&gw).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["order", "order", "inventory", "rejected"],
        "{events:#?}"
    );
    let o = &events[0];
    assert_eq!(
        (o["order"].as_u64(), o["status"].as_str()),
        (Some(727), Some("paid"))
    );
    assert_eq!(o["total_cents"], 2935);
    assert_eq!(o["currency"], "EUR");
    assert_eq!(o["channel"], "web");
    assert!(o.get("user").is_none(), "customer_id 0 is a guest");
    assert_eq!(o["ts"], ts("2017-03-22T19:28:02.000Z"));
    assert_eq!(
        o["lines"],
        serde_json::json!([
            {"product": 93, "quantity": 2, "unit_price_cents": 300},
            {"product": "SYI-BLK", "quantity": 3, "unit_price_cents": 367}
        ])
    );
    assert_eq!(events[1]["status"], "refunded");
    assert_eq!(events[1]["user"], 12);
    assert_eq!(events[1]["ts"], ts("2017-03-25T08:00:00.000Z"));
    assert_eq!(events[2]["product"], 794);
    assert_eq!(events[2]["quantity"], 3);
    assert_eq!(events[3]["source"], "webhook:woocommerce");
    assert_eq!(requests(&gw, "woocommerce", "accepted"), 3);
    assert_eq!(requests(&gw, "woocommerce", "ignored"), 1);
    assert_eq!(requests(&gw, "woocommerce", "ping"), 1);
    assert_eq!(requests(&gw, "woocommerce", "bad_signature"), 1);
    assert_eq!(requests(&gw, "woocommerce", "unknown_topic"), 1);
    // 3.6666666666666665 -> 367 cents, rounded and counted (twice: both orders).
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_money_rounded_total{source=\"woocommerce\"}"),
        2
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A Segment batch of E-commerce spec v2 track calls.
fn segment_batch() -> String {
    r#"{"batch": [
      {"type": "track", "event": "Product Viewed", "messageId": "m-1", "userId": null, "anonymousId": "507f191e810c19729de860ea",
       "timestamp": "2024-03-01T12:00:00.000Z",
       "properties": {"product_id": "507f1f77bcf86cd799439011", "sku": "G-32", "category": "Games", "name": "Monopoly: 3rd Edition", "price": 18.99, "currency": "usd"}},
      {"type": "track", "event": "Product Added", "messageId": "m-2", "anonymousId": "507f191e810c19729de860ea",
       "timestamp": "2024-03-01T12:00:05.000Z",
       "properties": {"cart_id": "skdjsidjsdkdj29j", "product_id": "507f1f77bcf86cd799439011", "price": "18.99", "quantity": 1}},
      {"type": "track", "event": "Product Removed", "messageId": "m-3", "anonymousId": "507f191e810c19729de860ea",
       "timestamp": "2024-03-01T12:00:09.000Z",
       "properties": {"product_id": null, "sku": "G-32"}},
      {"type": "track", "event": "Checkout Started", "messageId": "m-4", "userId": "user-42",
       "timestamp": "2024-03-01T12:01:00.000Z",
       "properties": {"order_id": "50314b8e9bcf000000000000", "value": 30, "revenue": 25.00, "currency": "USD",
         "products": [{"product_id": "507f1f77bcf86cd799439011", "price": 19, "quantity": 1},
                      {"product_id": 18446744073709551615, "price": 3, "quantity": 2}]}},
      {"type": "track", "event": "Order Completed", "messageId": "m-5", "userId": "user-42",
       "timestamp": "2024-03-01T12:02:00.000Z",
       "properties": {"checkout_id": "fksdjfsdjfisjf9sdfjsd9f", "order_id": "50314b8e9bcf000000000000", "affiliation": "Google Store",
         "total": "27.50", "subtotal": 22.5, "revenue": 25.00, "shipping": 3, "tax": 2, "discount": 2.5, "coupon": "hasbros", "currency": "USD",
         "products": [{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly: 3rd Edition", "price": 19, "quantity": 1},
                      {"product_id": 18446744073709551615, "sku": "46493-32", "name": "Uno Card Game", "price": 3, "quantity": 2}]}},
      {"type": "track", "event": "Order Refunded", "messageId": "m-6", "userId": "user-42",
       "timestamp": "2024-03-02T08:00:00.000Z",
       "properties": {"order_id": "50314b8e9bcf000000000000", "total": 27.5, "currency": "USD"}},
      {"type": "track", "event": "Signed Up", "messageId": "m-7", "userId": "user-42", "properties": {}},
      {"type": "identify", "messageId": "m-8", "userId": "user-42", "traits": {"email": "x@example.com"}},
      {"type": "track", "event": "Product Viewed", "messageId": "m-9", "userId": null, "anonymousId": null,
       "properties": {"product_id": "507f1f77bcf86cd799439011"}},
      {"type": "track", "event": "Product Viewed", "messageId": "m-1", "anonymousId": "507f191e810c19729de860ea",
       "properties": {"product_id": "507f1f77bcf86cd799439011"}}
    ]}"#
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_ecommerce_spec_events_signed_with_x_signature() {
    let gw = Gateway::start_env(&[], &[("SHOPPULSE_SEGMENT_SECRET", SEGMENT_SECRET)]);
    let body = segment_batch();
    let sig = sign_sha1_hex(SEGMENT_SECRET.as_bytes(), body.as_bytes());
    let (status, answer) = post(&gw, "/webhooks/segment", &[("X-Signature", &sig)], &body);
    // 10 messages: 6 mapped (9 events), 2 unknown, 1 refused, 1 duplicate.
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 9);
    assert_eq!(answer["duplicates"], 1);
    assert_eq!(
        answer["unknown"],
        serde_json::json!(["Signed Up", "identify call"])
    );
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(answer["rejected"][0]["line"], 9);
    assert_eq!(answer["rejected"][0]["class"], "missing_field");
    // Bad signature, then the shared secret as a bearer token instead.
    let (status, _) = post(&gw, "/webhooks/segment", &[("X-Signature", "00ff")], &body);
    assert_eq!(status, 401);
    // One shop without --nats: another is refused before anything is read.
    let (status, answer) = post(
        &gw,
        "/webhooks/segment?shop=north",
        &[("X-Signature", &sig)],
        &body,
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "bad_shop");
    assert_eq!(requests(&gw, "segment", "bad_shop"), 1);
    let single = r#"{"type": "track", "event": "Product Viewed", "messageId": "m-10", "userId": 42,
      "timestamp": "2024-03-01T13:00:00Z", "properties": {"sku": "G-32", "price": null}}"#;
    let bearer = format!("Bearer {SEGMENT_SECRET}");
    let (status, answer) = post(
        &gw,
        "/webhooks/segment",
        &[("Authorization", &bearer)],
        single,
    );
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)));

    let events = feed(&gw).await;
    let brief: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let k = e["kind"].as_str().unwrap().to_owned();
            let what = e.get("action").or(e.get("status")).or(e.get("class"));
            (k, what.and_then(Value::as_str).unwrap_or("").to_owned())
        })
        .collect();
    let want: Vec<(&str, &str)> = vec![
        ("behavior", "browse"),
        ("behavior", "add_to_cart"),
        ("behavior", "remove_from_cart"),
        ("behavior", "checkout"),
        ("behavior", "checkout"),
        ("order", "paid"),
        ("behavior", "purchase"),
        ("behavior", "purchase"),
        ("order", "refunded"),
        ("rejected", "missing_field"),
        ("rejected", "bad_value"),
        ("behavior", "browse"),
    ];
    let brief: Vec<(&str, &str)> = brief
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(brief, want, "{events:#?}");
    // Anonymous shopper by anonymousId; float and string prices exact.
    assert_eq!(events[0]["user"], "507f191e810c19729de860ea");
    assert_eq!(events[0]["price_cents"], 1899);
    assert_eq!(events[1]["price_cents"], 1899);
    assert_eq!(events[2]["product"], "G-32", "sku when product_id is null");
    assert_eq!(events[0]["ts"], ts("2024-03-01T12:00:00.000Z"));
    // Order Completed: total "27.50", lines, the 64-bit product id exact.
    let order = &events[5];
    assert_eq!(order["order"], "50314b8e9bcf000000000000");
    assert_eq!(order["total_cents"], 2750);
    assert_eq!(order["channel"], "Google Store");
    assert_eq!(order["user"], "user-42");
    assert_eq!(order["lines"][1]["product"].as_u64(), Some(u64::MAX));
    assert_eq!(order["lines"][1]["quantity"], 2);
    assert_eq!(events[7]["product"].as_u64(), Some(u64::MAX));
    assert_eq!(events[8]["total_cents"], 2750);
    assert_eq!(events[9]["line"], 9);
    assert!(events[9]["reason"].as_str().unwrap().contains("userId"));
    assert_eq!(events[10]["source"], "webhook:segment");
    assert_eq!(events[11]["user"], 42);
    assert!(
        events[11].get("price_cents").is_none(),
        "null price: no price"
    );

    assert_eq!(requests(&gw, "segment", "partial"), 1);
    assert_eq!(requests(&gw, "segment", "accepted"), 1);
    assert_eq!(requests(&gw, "segment", "bad_signature"), 1);
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_duplicates_total{source=\"segment\"}"),
        1
    );
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_ignored_total{source=\"segment\"}"),
        2
    );
    assert_eq!(refused(&gw, "segment", "missing_field"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ga4_measurement_protocol_ecommerce_events() {
    let gw = Gateway::start(&["--ga4-secret", GA4_SECRET]);
    let body = r#"{
      "client_id": "1234567890.1700000000",
      "user_id": null,
      "timestamp_micros": "1709294400000000",
      "events": [
        {"name": "view_item", "params": {"currency": "JPY", "value": 1500, "session_id": "1709294399",
          "items": [{"item_id": "SKU_12345", "item_name": "Stan and Friends Tee", "price": 1500, "quantity": 1}]}},
        {"name": "add_to_cart", "params": {"currency": "USD", "value": 30.03,
          "items": [{"item_id": 9007199254740993, "price": 10.01, "quantity": 3}]}},
        {"name": "purchase", "timestamp_micros": 1709298000123456, "params": {"currency": "KWD", "transaction_id": "T_12345", "value": "12.345",
          "affiliation": "Google Merchandise Store", "tax": 0.5, "shipping": 1,
          "items": [{"item_id": "SKU_12345", "price": 4.115, "quantity": 3}]}},
        {"name": "page_view", "params": {"page_location": "https://example.com/"}},
        {"name": "purchase", "params": {"currency": "USD", "transaction_id": "T_2", "value": 1e3, "items": []}}
      ]
    }"#;
    let path = format!("/webhooks/ga4?measurement_id=G-XXXXXXX&api_secret={GA4_SECRET}");
    let (status, answer) = post(&gw, &path, &[], body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 4);
    assert_eq!(answer["unknown"], serde_json::json!(["page_view"]));
    assert_eq!(answer["rejected"][0]["line"], 5);
    assert!(answer["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("exponent"));
    let auth_started = std::time::Instant::now();
    let (status, _) = post(&gw, "/webhooks/ga4?measurement_id=G-XXXXXXX", &[], body);
    assert_eq!(status, 401);
    let (status, _) = post(&gw, "/webhooks/ga4?api_secret=guess", &[], body);
    assert_eq!(status, 401);

    let auth_took = auth_started.elapsed();
    let events = feed(&gw).await;
    if auth_took < std::time::Duration::from_millis(900) {
        assert_eq!(events.len(), 6, "one notice for both failures: {events:#?}");
    } else {
        assert_eq!(events.len(), 7, "{events:#?}");
    }
    // view_item: the device is the shopper (no user_id), JPY has no minor unit.
    assert_eq!(events[0]["action"], "browse");
    assert_eq!(events[0]["user"], "1234567890.1700000000");
    assert_eq!(events[0]["session"], 1_709_294_399);
    assert_eq!(events[0]["price_cents"], 1500);
    assert_eq!(events[0]["ts"], ts("2024-03-01T12:00:00.000Z"));
    // add_to_cart: an item id above 2^53 kept exactly.
    assert_eq!(events[1]["product"].as_u64(), Some(9_007_199_254_740_993));
    assert_eq!(events[1]["price_cents"], 1001);
    // purchase: KWD has three decimals; the event's own time wins.
    let order = &events[2];
    assert_eq!(order["kind"], "order");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["order"], "T_12345");
    assert_eq!(order["total_cents"], 12_345);
    assert_eq!(order["currency"], "KWD");
    assert_eq!(order["channel"], "Google Merchandise Store");
    assert_eq!(order["lines"][0]["unit_price_cents"], 4115);
    assert_eq!(order["ts"], ts("2024-03-01T13:00:00.123Z"));
    assert_eq!(events[3]["action"], "purchase");
    assert_eq!(events[4]["source"], "webhook:ga4");
    assert_eq!(events[4]["line"], 5);
    // Two authentication failures within a second: one notice (the first).
    assert_eq!(events[5]["source"], "webhook:ga4");
    assert_eq!(events[5]["class"], "missing_field");
    assert_eq!(requests(&gw, "ga4", "partial"), 1);
    assert_eq!(requests(&gw, "ga4", "bad_signature"), 1);
    assert_eq!(requests(&gw, "ga4", "missing_signature"), 1);
    assert_eq!(
        gw.metric("shoppulse_feed_webhook_events_total{source=\"ga4\"}"),
        4
    );
}
