//! `shoppulse-feed import online-retail` on the whole real dataset, checked
//! against an independent computation from the CSV; then the imported file
//! replayed through the gateway, as one more source, shows the real totals.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, Gateway};
use shoppulse_core::event::{Body, OrderStatus};
use shoppulse_core::frame::{ResumePoint, ServerFrame};
use shoppulse_core::{decode_event, Engine, Id};

fn dataset() -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/online-retail.csv.gz");
    p.is_file().then_some(p)
}

/// What the import should produce, computed here without the importer's
/// code: the `csv` crate, floating-point prices rounded to pence (exact for
/// the two-decimal product prices), and the documented rules.
#[derive(Debug, Default)]
struct Expected {
    rows: u64,
    invoices: HashSet<String>,
    with_products: HashSet<String>,
    lines: BTreeMap<String, HashSet<(String, i64)>>,
    revenue_cents: i64,
    refunds_cents: i64,
    units: i64,
}

const NON_PRODUCT: [&str; 12] = [
    "POST",
    "DOT",
    "C2",
    "D",
    "M",
    "m",
    "S",
    "B",
    "CRUK",
    "BANK CHARGES",
    "AMAZONFEE",
    "PADS",
];

fn expected(path: &PathBuf) -> Expected {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open dataset"))
        .read_to_string(&mut text)
        .expect("gunzip dataset");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut e = Expected::default();
    for rec in rdr.records() {
        let rec = rec.expect("CSV record");
        e.rows += 1;
        let invoice = rec[0].trim().to_owned();
        let code = rec[1].trim();
        let qty: i64 = rec[3].trim().parse().expect("Quantity");
        let price: f64 = rec[5].trim().parse().expect("UnitPrice");
        e.invoices.insert(invoice.clone());
        let cancel = invoice.starts_with('C');
        #[allow(clippy::cast_possible_truncation)] // reason: prices in pence fit
        let cents = (price * 100.0).round() as i64;
        let keep = !NON_PRODUCT.contains(&code)
            && cents > 0
            && ((qty > 0 && !cancel) || (qty < 0 && cancel));
        if !keep {
            continue;
        }
        e.with_products.insert(invoice.clone());
        e.lines
            .entry(invoice)
            .or_default()
            .insert((code.to_owned(), cents));
        e.revenue_cents += qty * cents;
        if cancel {
            e.refunds_cents += qty * cents;
        }
        e.units += qty;
    }
    e
}

#[test]
fn import_of_the_whole_online_retail_file_matches_an_independent_count() {
    let Some(path) = dataset() else {
        eprintln!(
            "SKIPPED: ../shared/data/online-retail.csv.gz is absent; \
             the whole-file import test needs the shared dataset"
        );
        return;
    };
    let dir = common::temp_dir("import");
    let out = dir.join("orders.ndjson");
    let started = std::time::Instant::now();
    let run = Command::new(common::BIN)
        .args(["import", "online-retail"])
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run import");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    eprintln!("import took {took:?}\n{stderr}");
    assert!(stderr.contains("rows read             541909"), "{stderr}");
    assert!(stderr.contains("invoices              25900"), "{stderr}");

    let want = expected(&path);
    assert_eq!(want.rows, 541_909);
    assert_eq!(want.invoices.len(), 25_900);

    let text = std::fs::read_to_string(&out).unwrap();
    let (mut orders, mut lines, mut revenue, mut refunds, mut units) =
        (0usize, 0usize, 0i64, 0i64, 0i64);
    let mut bases = HashSet::new();
    for (i, json) in text.lines().enumerate() {
        let ev = decode_event(json, 0).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert!(!ev.ts_inferred);
        let Body::Order(o) = ev.body else {
            panic!("line {}: not an order", i + 1)
        };
        let id = o.order.to_string();
        let base = match id.rsplit_once('-') {
            Some((b, n)) if n.parse::<u32>().is_ok() && want.with_products.contains(b) => {
                b.to_owned()
            }
            _ => id.clone(),
        };
        assert!(want.with_products.contains(&base), "unexpected order {id}");
        bases.insert(base.clone());
        let sum: i64 = o
            .lines
            .iter()
            .map(|l| l.quantity * l.unit_price_cents)
            .sum();
        assert_eq!(
            o.total_cents, sum,
            "order {id}: total is the sum of its lines"
        );
        assert!(o.lines.len() <= shoppulse_core::decode::MAX_LINES);
        if base.starts_with('C') {
            assert_eq!(o.status, OrderStatus::Refunded);
            assert!(o.total_cents < 0);
            refunds += o.total_cents;
        } else {
            assert_eq!(o.status, OrderStatus::Paid);
            assert!(o.total_cents > 0);
        }
        if o.channel.as_ref() == "uk" {
            assert!(o.order != Id::from_text(""));
        }
        orders += 1;
        lines += o.lines.len();
        revenue += o.total_cents;
        units += o.lines.iter().map(|l| l.quantity).sum::<i64>();
    }
    let want_lines: usize = want.lines.values().map(HashSet::len).sum();
    let want_orders: usize = want
        .lines
        .values()
        .map(|l| l.len().div_ceil(shoppulse_core::decode::MAX_LINES))
        .sum();
    assert_eq!(
        bases.len(),
        want.with_products.len(),
        "one order per invoice with products"
    );
    assert_eq!(orders, want_orders, "orders (with split parts)");
    assert_eq!(lines, want_lines, "lines");
    assert_eq!(units, want.units, "units");
    assert_eq!(revenue, want.revenue_cents, "net revenue in pence");
    assert_eq!(refunds, want.refunds_cents, "refunds in pence");
    eprintln!(
        "checked: {orders} orders, {lines} lines, revenue {revenue} pence ({refunds} refunded)"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_whole_imported_file_shows_the_real_totals() {
    let Some(path) = dataset() else {
        eprintln!(
            "SKIPPED: ../shared/data/online-retail.csv.gz is absent; \
             the whole-file replay test needs the shared dataset"
        );
        return;
    };
    let dir = common::temp_dir("replay-retail");
    let out = dir.join("orders.ndjson");
    let run = Command::new(common::BIN)
        .args(["import", "online-retail", "--no-progress"])
        .arg(&path)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run import");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let n_events = std::fs::read_to_string(&out).unwrap().lines().count() as u64;

    // The real figures, from the CSV alone: net revenue of product rows
    // (cancellation invoices negative), paid and cancellation invoices with
    // product lines, and the extra parts of invoices over the protocol's
    // 1000 lines (each part is an order of its own on the dashboard).
    let want = expected(&path);
    let parts = |cancel: bool| -> u64 {
        want.lines
            .iter()
            .filter(|(inv, _)| inv.starts_with('C') == cancel)
            .map(|(_, l)| l.len().div_ceil(shoppulse_core::decode::MAX_LINES) as u64)
            .sum()
    };
    let (want_paid, want_refunded) = (parts(false), parts(true));

    let gw = Gateway::start(&["--replay", out.to_str().unwrap(), "--speed", "max"]);
    let deadline = Instant::now() + Duration::from_mins(3);
    while gw.health()["head_seq"].as_u64() != Some(n_events) {
        assert!(Instant::now() < deadline, "replay did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        gw.metric("shoppulse_feed_rejected_lines_by_source_total{source=\"replay\"}"),
        0
    );

    // A dashboard that applies every event itself, from sequence 1...
    let epoch = gw.health()["epoch"].as_str().unwrap().to_owned();
    let mut c = Client::connect(&gw.ws_url()).await;
    c.hello(Some(ResumePoint { epoch, seq: 0 })).await;
    let mut engine = Engine::default();
    for json in c.events_until(1, n_events).await {
        engine.apply(&decode_event(&json, 0).expect("event decodes"));
    }
    let live = engine.view().sales.total;
    // ...and one that starts from the gateway's snapshot.
    let mut d = Client::connect(&gw.ws_url()).await;
    d.hello(None).await;
    let ServerFrame::Snapshot { seq, state, .. } = d.frame().await else {
        panic!("expected a snapshot")
    };
    assert_eq!(seq, n_events);
    let snap: Engine = serde_json::from_str(state.get()).expect("engine state");
    let snap = snap.view().sales.total;

    eprintln!(
        "dashboard totals: {} orders, {} cancelled, revenue {} pence; CSV: {want_paid} orders, \
         {want_refunded} refunded invoices, {} pence",
        live.orders, live.cancelled, live.revenue_cents, want.revenue_cents
    );
    for t in [&live, &snap] {
        assert_eq!(
            t.revenue_cents, want.revenue_cents,
            "net revenue: £9,793,394.69"
        );
        assert_eq!(t.orders, want_paid, "orders placed");
        assert_eq!(t.cancelled, want_refunded, "cancellation invoices");
    }
    assert_eq!(want.revenue_cents, 979_339_469);
    std::fs::remove_dir_all(&dir).ok();
}
