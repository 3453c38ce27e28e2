//! `shoppulse-feed import online-retail`: the UCI "Online Retail" CSV as
//! `ShopPulse` NDJSON events. The mapping is documented in `docs/GATEWAY.md`;
//! in short:
//!
//! - One `order` event per invoice (`InvoiceNo`), at the invoice's earliest
//!   `InvoiceDate` (read as UTC), in order of first appearance.
//! - Normal invoices have status `paid`; cancellations (`C` prefix) have
//!   status `refunded`, negative quantities and a negative total.
//!   `total_cents` is always exactly the sum of `quantity * unit_price_cents`
//!   over the order's lines.
//! - Prices are parsed from their decimal text into integer pence (never
//!   through floating point); sub-penny prices are rounded half away from
//!   zero and counted.
//! - Non-product stock codes (postage, discounts, manual entries, fees...)
//!   are not order lines: they are skipped and reported, with their amounts,
//!   in the summary. So are zero-price rows and negative quantities outside a
//!   cancellation (stock write-offs).
//! - `CustomerID` `17850.0` becomes user `17850`; an empty one, no user.
//! - `Country` becomes the channel through [`channel_for_country`].
//! - An invoice with more than [`MAX_LINES`] product lines is split into
//!   parts `NNN`, `NNN-2`, ... of at most that many lines.
//! - With `--with-behavior`, every product line of a paid invoice with a
//!   known customer also yields a `behavior` `purchase` event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use flate2::read::MultiGzDecoder;
use shoppulse_core::decode::MAX_LINES;
use shoppulse_core::event::{Action, Behavior, Body, Currency, LineItem, Order, OrderStatus};
use shoppulse_core::time::{format_rfc3339_ms, parse_rfc3339_ms};
use shoppulse_core::{Event, Id};

/// Rows after which an invoice not seen again is written out (the file is
/// in time order; one invoice in the dataset is interleaved with another).
const WINDOW_ROWS: u64 = 50_000;

/// What to import and where to.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The CSV, plain or gzipped.
    pub input: PathBuf,
    /// NDJSON output; stdout when `None`.
    pub output: Option<PathBuf>,
    /// Also emit behaviour `purchase` events.
    pub with_behavior: bool,
    /// Draw a progress bar (only if stderr is a terminal).
    pub progress: bool,
}

/// Counts of one skip reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Rows.
    pub rows: u64,
    /// Sum of quantity * price of those rows, pence (where parseable).
    pub cents: i64,
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Data rows read (header excluded).
    pub rows: u64,
    /// Distinct invoices seen.
    pub invoices: u64,
    /// Cancellation invoices (`C` prefix) seen.
    pub cancellation_invoices: u64,
    /// `order` events written.
    pub orders: u64,
    /// ... of which `paid`.
    pub paid_orders: u64,
    /// ... of which `refunded`.
    pub refunded_orders: u64,
    /// Extra parts from invoices over [`MAX_LINES`] lines.
    pub split_parts: u64,
    /// Invoices with no product line (no order written).
    pub invoices_without_products: u64,
    /// Invoices whose rows were not contiguous within the window.
    pub late_rows_invoices: u64,
    /// Order lines written.
    pub lines: u64,
    /// Rows merged into an identical (product, price) line of their invoice.
    pub merged_rows: u64,
    /// Behaviour events written.
    pub behavior_events: u64,
    /// Net revenue: sum of all written totals, pence.
    pub revenue_cents: i64,
    /// Sum of `paid` totals, pence.
    pub paid_cents: i64,
    /// Sum of `refunded` totals (negative), pence.
    pub refunded_cents: i64,
    /// Prices with more than two decimals, rounded to whole pence.
    pub rounded_prices: u64,
    /// Skipped rows by reason.
    pub skipped: BTreeMap<String, Skipped>,
    /// Earliest and latest invoice time.
    pub first_ts: Option<i64>,
    /// Latest invoice time.
    pub last_ts: Option<i64>,
    /// Wall time taken, seconds.
    pub seconds: f64,
}

impl Summary {
    fn skip(&mut self, reason: impl Into<String>, cents: i64) {
        let e = self.skipped.entry(reason.into()).or_default();
        e.rows += 1;
        e.cents = e.cents.saturating_add(cents);
    }

    /// Rows skipped in all.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.values().map(|s| s.rows).sum()
    }

    /// The readable report printed on stderr.
    pub fn report(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "import online-retail: done in {:.2} s", self.seconds);
        let _ = writeln!(o, "  rows read             {}", self.rows);
        let _ = writeln!(
            o,
            "  invoices              {} ({} cancellations, {} without product lines)",
            self.invoices, self.cancellation_invoices, self.invoices_without_products
        );
        let _ = writeln!(
            o,
            "  orders written        {} ({} paid, {} refunded; {} extra parts of split invoices)",
            self.orders, self.paid_orders, self.refunded_orders, self.split_parts
        );
        let _ = writeln!(
            o,
            "  lines written         {} ({} rows merged into identical lines)",
            self.lines, self.merged_rows
        );
        if self.behavior_events > 0 {
            let _ = writeln!(o, "  behaviour events      {}", self.behavior_events);
        }
        let _ = writeln!(
            o,
            "  revenue (net)         {} GBP = {} paid {} refunded",
            money(self.revenue_cents),
            money(self.paid_cents),
            money(self.refunded_cents)
        );
        let _ = writeln!(o, "  prices rounded        {}", self.rounded_prices);
        let _ = writeln!(o, "  rows skipped          {}", self.skipped_rows());
        for (reason, s) in &self.skipped {
            let _ = writeln!(
                o,
                "    {reason:<44} {:>7} rows {:>14} GBP",
                s.rows,
                money(s.cents)
            );
        }
        if let (Some(a), Some(b)) = (self.first_ts, self.last_ts) {
            let _ = writeln!(
                o,
                "  event time            {} .. {}",
                format_rfc3339_ms(a),
                format_rfc3339_ms(b)
            );
        }
        o
    }
}

/// Pence as `-1234.56`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Import errors (I/O and a missing header; bad rows are skipped, not errors).
#[derive(Debug)]
pub enum ImportError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The CSV itself is unreadable.
    Csv(csv::Error),
    /// A required column is missing.
    MissingColumn(&'static str),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Io(e) => write!(f, "I/O error: {e}"),
            ImportError::Csv(e) => write!(f, "CSV error: {e}"),
            ImportError::MissingColumn(c) => write!(f, "the CSV has no `{c}` column"),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<io::Error> for ImportError {
    fn from(e: io::Error) -> Self {
        ImportError::Io(e)
    }
}

impl From<csv::Error> for ImportError {
    fn from(e: csv::Error) -> Self {
        ImportError::Csv(e)
    }
}

/// The channel for a `Country` value: ISO 3166-1 alpha-2 in lower case
/// (except `uk` for the United Kingdom, as the shop calls it), `eu` for
/// "European Community", `channel-islands`, `unspecified`; any other country
/// is lower-cased with runs of non-alphanumerics turned into `-`.
pub fn channel_for_country(country: &str) -> String {
    let c = country.trim();
    let code = match c {
        "United Kingdom" => "uk",
        "EIRE" | "Ireland" => "ie",
        "Germany" => "de",
        "France" => "fr",
        "Spain" => "es",
        "Netherlands" => "nl",
        "Belgium" => "be",
        "Switzerland" => "ch",
        "Portugal" => "pt",
        "Australia" => "au",
        "Norway" => "no",
        "Italy" => "it",
        "Channel Islands" => "channel-islands",
        "Finland" => "fi",
        "Cyprus" => "cy",
        "Sweden" => "se",
        "Unspecified" | "" => "unspecified",
        "Austria" => "at",
        "Denmark" => "dk",
        "Japan" => "jp",
        "Poland" => "pl",
        "Israel" => "il",
        "USA" => "us",
        "Hong Kong" => "hk",
        "Singapore" => "sg",
        "Iceland" => "is",
        "Canada" => "ca",
        "Greece" => "gr",
        "Malta" => "mt",
        "United Arab Emirates" => "ae",
        "European Community" => "eu",
        "RSA" => "za",
        "Lebanon" => "lb",
        "Lithuania" => "lt",
        "Brazil" => "br",
        "Czech Republic" => "cz",
        "Bahrain" => "bh",
        "Saudi Arabia" => "sa",
        other => return slug(other),
    };
    code.to_owned()
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "unspecified".into()
    } else {
        out.chars().take(64).collect()
    }
}

/// How a stock code is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// A product: becomes an order line.
    Product,
    /// A non-product entry (postage, discount, fee...): skipped and reported.
    NonProduct(&'static str),
}

/// Classifies a `StockCode`.
pub fn classify_code(code: &str) -> CodeKind {
    CodeKind::NonProduct(match code {
        "POST" => "postage (POST)",
        "DOT" => "dotcom postage (DOT)",
        "C2" => "carriage (C2)",
        "D" => "discount (D)",
        "M" | "m" => "manual entry (M)",
        "S" => "samples (S)",
        "B" => "bad-debt adjustment (B)",
        "CRUK" => "CRUK commission (CRUK)",
        "BANK CHARGES" => "bank charges",
        "AMAZONFEE" => "Amazon fee (AMAZONFEE)",
        "PADS" => "cushion pads at 0.001 (PADS)",
        _ => return CodeKind::Product,
    })
}

/// Parses a decimal price (`2.55`, `-11062.06`, `0.001`) into pence,
/// rounding half away from zero beyond two decimals. Returns the pence and
/// whether rounding changed the value. No floating point is involved.
pub fn parse_price_cents(s: &str) -> Option<(i64, bool)> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if (int_part.is_empty() && frac.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int_part.len() > 15
    {
        return None;
    }
    let whole: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let fb = frac.as_bytes();
    let digit = |i: usize| fb.get(i).map_or(0, |b| i64::from(b - b'0'));
    let mut cents = whole.checked_mul(100)? + digit(0) * 10 + digit(1);
    let rest = fb.get(2..).unwrap_or(&[]);
    let rounded = rest.iter().any(|&b| b != b'0');
    if rest.first().is_some_and(|&b| b >= b'5') {
        cents += 1;
    }
    Some((if neg { -cents } else { cents }, rounded))
}

/// `17850.0` -> 17850; an empty field -> no user.
pub fn customer_id(s: &str) -> Option<Id> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let s = s.strip_suffix(".0").unwrap_or(s);
    Some(Id::from_text(s))
}

struct OpenInvoice {
    no: String,
    ts: i64,
    user: Option<Id>,
    channel: String,
    cancel: bool,
    lines: Vec<LineItem>,
    index: HashMap<(Id, i64), usize>,
    last_row: u64,
}

struct Columns {
    invoice: usize,
    code: usize,
    quantity: usize,
    date: usize,
    price: usize,
    customer: usize,
    country: usize,
}

fn columns(headers: &csv::ByteRecord) -> Result<Columns, ImportError> {
    let find = |name: &'static str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.as_bytes()))
            .ok_or(ImportError::MissingColumn(name))
    };
    Ok(Columns {
        invoice: find("InvoiceNo")?,
        code: find("StockCode")?,
        quantity: find("Quantity")?,
        date: find("InvoiceDate")?,
        price: find("UnitPrice")?,
        customer: find("CustomerID")?,
        country: find("Country")?,
    })
}

fn field(rec: &csv::ByteRecord, i: usize) -> &str {
    rec.get(i)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
        .trim()
}

/// Opens the CSV (gunzipping when it starts with the gzip magic bytes) with
/// a progress bar over the bytes read when stderr is a terminal.
fn open_input(
    path: &std::path::Path,
    progress: bool,
) -> io::Result<(Box<dyn Read>, indicatif::ProgressBar)> {
    let file = File::open(path)?;
    let len = file.metadata().map_or(0, |m| m.len());
    let bar = if progress && io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut raw = BufReader::with_capacity(1 << 16, bar.wrap_read(file));
    let gz = {
        use std::io::BufRead;
        raw.fill_buf()?.starts_with(&[0x1f, 0x8b])
    };
    let reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Ok((reader, bar))
}

/// Runs the import; the summary is also what the CLI prints.
pub fn import_online_retail(opts: &ImportOptions) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let (reader, bar) = open_input(&opts.input, opts.progress)?;
    let out: Box<dyn Write> = match &opts.output {
        Some(p) => Box::new(File::create(p)?),
        None => Box::new(io::stdout().lock()),
    };
    let mut w = Writer {
        out: BufWriter::with_capacity(1 << 20, out),
        with_behavior: opts.with_behavior,
        summary: Summary::default(),
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 18)
        .from_reader(reader);
    let cols = columns(csv.byte_headers()?)?;
    let mut open: HashMap<String, OpenInvoice> = HashMap::new();
    let mut order: VecDeque<String> = VecDeque::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut rec = csv::ByteRecord::new();
    let mut row = 0u64;
    while csv.read_byte_record(&mut rec)? {
        row += 1;
        w.summary.rows += 1;
        let inv = field(&rec, cols.invoice);
        if inv.is_empty() {
            w.summary.skip("malformed: no InvoiceNo", 0);
            continue;
        }
        if !open.contains_key(inv) {
            if seen.insert(inv.to_owned()) {
                w.summary.invoices += 1;
                if inv.starts_with('C') {
                    w.summary.cancellation_invoices += 1;
                }
            } else {
                // Seen and already written: its late rows become another
                // order event with the same id.
                w.summary.late_rows_invoices += 1;
            }
            let Some(ts) = parse_rfc3339_ms(field(&rec, cols.date)) else {
                w.summary.skip("malformed: InvoiceDate", 0);
                continue;
            };
            open.insert(
                inv.to_owned(),
                OpenInvoice {
                    no: inv.to_owned(),
                    ts,
                    user: customer_id(field(&rec, cols.customer)),
                    channel: channel_for_country(field(&rec, cols.country)),
                    cancel: inv.starts_with('C'),
                    lines: Vec::new(),
                    index: HashMap::new(),
                    last_row: row,
                },
            );
            order.push_back(inv.to_owned());
        }
        let Some(o) = open.get_mut(inv) else {
            continue;
        };
        o.last_row = row;
        if let Some(ts) = parse_rfc3339_ms(field(&rec, cols.date)) {
            o.ts = o.ts.min(ts);
        }
        add_row(&mut w.summary, o, &rec, &cols);
        // Write out invoices that can no longer grow, in first-seen order.
        while let Some(front) = order.front() {
            let done = open
                .get(front)
                .is_none_or(|f| f.last_row + WINDOW_ROWS < row);
            if !done {
                break;
            }
            if let Some(f) = order.pop_front().and_then(|k| open.remove(&k)) {
                w.write_invoice(&f)?;
            }
        }
    }
    while let Some(k) = order.pop_front() {
        if let Some(f) = open.remove(&k) {
            w.write_invoice(&f)?;
        }
    }
    w.out.flush()?;
    bar.finish_and_clear();
    let mut summary = w.summary;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn add_row(sum: &mut Summary, inv: &mut OpenInvoice, rec: &csv::ByteRecord, cols: &Columns) {
    let code = field(rec, cols.code);
    let qty: Option<i64> = field(rec, cols.quantity).parse().ok();
    let price = parse_price_cents(field(rec, cols.price));
    let amount = match (qty, price) {
        (Some(quantity), Some((cents, _))) => quantity.saturating_mul(cents),
        _ => 0,
    };
    let s = sum;
    let o = inv;
    if let CodeKind::NonProduct(reason) = classify_code(code) {
        s.skip(format!("non-product: {reason}"), amount);
        return;
    }
    if code.is_empty() {
        s.skip("malformed: no StockCode", 0);
        return;
    }
    let Some(quantity) = qty else {
        s.skip("malformed: Quantity", 0);
        return;
    };
    let Some((unit, rounded)) = price else {
        s.skip("malformed: UnitPrice", 0);
        return;
    };
    if unit == 0 {
        s.skip("zero price (free item or stock fix)", 0);
        return;
    }
    if unit < 0 {
        s.skip("negative price", amount);
        return;
    }
    if quantity == 0 {
        s.skip("zero quantity", 0);
        return;
    }
    if quantity < 0 && !o.cancel {
        s.skip("stock write-off (qty < 0, not C)", amount);
        return;
    }
    if quantity > 0 && o.cancel {
        s.skip("positive qty in a cancellation", amount);
        return;
    }
    if rounded {
        s.rounded_prices += 1;
    }
    let product = Id::from_text(code);
    let merged = o.index.get(&(product.clone(), unit)).copied();
    let line_qty = match merged {
        Some(at) => o.lines[at].quantity.checked_add(quantity),
        None => Some(quantity),
    };
    if !line_qty.is_some_and(|q| line_in_range(q, unit)) {
        s.skip("malformed: amount out of range", 0);
        return;
    }
    if let Some(at) = merged {
        o.lines[at].quantity += quantity;
        s.merged_rows += 1;
    } else {
        o.index.insert((product.clone(), unit), o.lines.len());
        o.lines.push(LineItem {
            product,
            quantity,
            unit_price_cents: unit,
        });
    }
}

/// Largest `|quantity × unit price|` of one order line, in pence (£10
/// trillion): with at most [`MAX_LINES`] lines, every order total stays
/// exact in an `i64`. Rows beyond it are malformed.
pub const MAX_LINE_CENTS: i128 = 1_000_000_000_000_000;

fn line_in_range(quantity: i64, unit_cents: i64) -> bool {
    (i128::from(quantity) * i128::from(unit_cents)).abs() <= MAX_LINE_CENTS
}

struct Writer {
    out: BufWriter<Box<dyn Write>>,
    with_behavior: bool,
    summary: Summary,
}

impl Writer {
    fn emit(&mut self, ev: &Event) -> io::Result<()> {
        self.out.write_all(ev.to_json().as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn write_invoice(&mut self, inv: &OpenInvoice) -> io::Result<()> {
        if inv.lines.is_empty() {
            self.summary.invoices_without_products += 1;
            return Ok(());
        }
        let status = if inv.cancel {
            OrderStatus::Refunded
        } else {
            OrderStatus::Paid
        };
        let s = &mut self.summary;
        s.first_ts = Some(s.first_ts.map_or(inv.ts, |t| t.min(inv.ts)));
        s.last_ts = Some(s.last_ts.map_or(inv.ts, |t| t.max(inv.ts)));
        for (part, chunk) in inv.lines.chunks(MAX_LINES).enumerate() {
            let id = if part == 0 {
                Id::from_text(&inv.no)
            } else {
                self.summary.split_parts += 1;
                Id::from_text(&format!("{}-{}", inv.no, part + 1))
            };
            let total: i64 = chunk.iter().map(|l| l.quantity * l.unit_price_cents).sum();
            let ev = Event {
                ts_ms: inv.ts,
                ts_inferred: false,
                body: Body::Order(Order {
                    order: id,
                    channel: inv.channel.as_str().into(),
                    status: status.clone(),
                    total_cents: total,
                    currency: Currency::GBP,
                    lines: chunk.to_vec(),
                    user: inv.user.clone(),
                }),
            };
            self.emit(&ev)?;
            let s = &mut self.summary;
            s.orders += 1;
            s.lines += chunk.len() as u64;
            s.revenue_cents = s.revenue_cents.saturating_add(total);
            if inv.cancel {
                s.refunded_orders += 1;
                s.refunded_cents = s.refunded_cents.saturating_add(total);
            } else {
                s.paid_orders += 1;
                s.paid_cents = s.paid_cents.saturating_add(total);
            }
        }
        if self.with_behavior && !inv.cancel {
            if let Some(user) = &inv.user {
                for l in &inv.lines {
                    let ev = Event {
                        ts_ms: inv.ts,
                        ts_inferred: false,
                        body: Body::Behavior(Behavior {
                            user: user.clone(),
                            session: None,
                            action: Action::Purchase,
                            product: l.product.clone(),
                            channel: Some(inv.channel.as_str().into()),
                            price_cents: Some(l.unit_price_cents),
                        }),
                    };
                    self.emit(&ev)?;
                    self.summary.behavior_events += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_price_cents("2.55"), Some((255, false)));
        assert_eq!(parse_price_cents("0.85"), Some((85, false)));
        assert_eq!(parse_price_cents("1.1"), Some((110, false)));
        assert_eq!(parse_price_cents("165"), Some((16500, false)));
        assert_eq!(parse_price_cents("-11062.06"), Some((-1_106_206, false)));
        assert_eq!(parse_price_cents("0.001"), Some((0, true)));
        assert_eq!(parse_price_cents("0.005"), Some((1, true)));
        assert_eq!(parse_price_cents("1.2350"), Some((124, true)));
        assert_eq!(parse_price_cents("1.2300"), Some((123, false)));
        assert_eq!(parse_price_cents(".5"), Some((50, false)));
        assert_eq!(parse_price_cents("abc"), None);
        assert_eq!(parse_price_cents(""), None);
        assert_eq!(parse_price_cents("1e3"), None);
        // 0.29 * 100 is 28.999999999999996 in floating point.
        assert_eq!(parse_price_cents("0.29"), Some((29, false)));
    }

    #[test]
    fn channels_and_customers() {
        assert_eq!(channel_for_country("United Kingdom"), "uk");
        assert_eq!(channel_for_country("EIRE"), "ie");
        assert_eq!(channel_for_country("RSA"), "za");
        assert_eq!(channel_for_country("New Zealand"), "new-zealand");
        assert_eq!(channel_for_country("  "), "unspecified");
        assert_eq!(customer_id("17850.0"), Some(Id::Num(17850)));
        assert_eq!(customer_id(""), None);
        assert_eq!(classify_code("85123A"), CodeKind::Product);
        assert!(matches!(classify_code("POST"), CodeKind::NonProduct(_)));
        assert_eq!(money(-1234), "-12.34");
        assert_eq!(money(5), "0.05");
    }

    #[test]
    fn small_file_end_to_end() {
        let dir = std::env::temp_dir().join(format!("sp-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.csv");
        let output = dir.join("out.ndjson");
        std::fs::write(
            &input,
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
536365,85123A,\"WHITE HANGING, HEART\",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n\
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n\
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850.0,United Kingdom\n\
536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,EIRE\n\
536367,21777,,-10,2010-12-01 08:29:00,0.0,,United Kingdom\n\
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom\n\
C536383,35004C,SET OF 3 COLOURED FLYING DUCKS,-1,2010-12-01 09:49:00,4.65,15311.0,United Kingdom\n\
536365,71053,WHITE METAL LANTERN,2,2010-12-01 08:27:00,3.39,17850.0,United Kingdom\n",
        )
        .unwrap();
        let s = import_online_retail(&ImportOptions {
            input: input.clone(),
            output: Some(output.clone()),
            with_behavior: true,
            progress: false,
        })
        .unwrap();
        assert_eq!(s.rows, 8);
        assert_eq!(s.invoices, 5);
        assert_eq!(s.cancellation_invoices, 2);
        assert_eq!(s.orders, 3);
        assert_eq!(s.invoices_without_products, 2);
        assert_eq!(s.merged_rows, 1);
        assert_eq!(s.lines, 4);
        assert_eq!(s.revenue_cents, 6 * 255 + 8 * 339 + 6 * 185 - 465);
        assert_eq!(s.refunded_cents, -465);
        assert_eq!(s.behavior_events, 2);
        let text = std::fs::read_to_string(&output).unwrap();
        let events: Vec<Event> = text
            .lines()
            .map(|l| shoppulse_core::decode_event(l, 0).unwrap())
            .collect();
        assert_eq!(events.len(), 5);
        match &events[0].body {
            Body::Order(o) => {
                assert_eq!(o.order, Id::Num(536_365));
                assert_eq!(o.channel.as_ref(), "uk");
                assert_eq!(o.user, Some(Id::Num(17850)));
                assert_eq!(o.status, OrderStatus::Paid);
                assert_eq!(o.lines.len(), 2);
                assert_eq!(events[0].ts_ms, 1_291_191_960_000);
            }
            other => panic!("{other:?}"),
        }
        match &events[3].body {
            Body::Order(o) => {
                assert_eq!(o.channel.as_ref(), "ie");
                assert_eq!(o.user, None);
            }
            other => panic!("{other:?}"),
        }
        match &events[4].body {
            Body::Order(o) => {
                assert_eq!(o.order, Id::from_text("C536383"));
                assert_eq!(o.status, OrderStatus::Refunded);
                assert_eq!(o.total_cents, -465);
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
