//! `shoppulse-feed import online-retail` on the whole real dataset, checked
//! against an independent computation from the CSV.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use shoppulse_core::event::{Body, OrderStatus};
use shoppulse_core::{decode_event, Id};

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
