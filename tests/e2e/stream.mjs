// A known, deterministic event stream for the reliability tests, and the
// totals a correct dashboard must show for it, computed straight from the
// NDJSON text (independently of the Rust operators).
//
// The stream: a seeded shop with 60 products (numeric and string ids), four
// sales channels, orders that are created, paid (sometimes twice), cancelled
// or refunded, sync steps, shopper behaviour, a few pre-aggregated sales
// figures, and a few bad lines (refused, counted). It ends with one stock
// update per product at a quantity of 10 or below, so every product is
// listed in the inventory panel (low, out of stock or oversold) and the page
// shows the stock of every product.
import { writeFileSync } from 'node:fs';

/** mulberry32: a small seeded PRNG, returns floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHANNELS = ['web', 'app', 'amazon', 'ebay'];
const ACTIONS = ['browse', 'browse', 'browse', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase'];
const TARGETS = ['payment', 'inventory', 'logistics', 'customer_service'];
const SYNC_STATUS = ['pending', 'synced', 'synced', 'synced', 'failed', 'retrying'];

/** Product ids: 40 numbers and 20 SKU strings. */
export const PRODUCTS = [
  ...Array.from({ length: 40 }, (_, i) => 20001 + i),
  ...Array.from({ length: 20 }, (_, i) => `SKU-${100 + i}A`),
];

/**
 * Generates `n` lines (plus the closing stock updates).
 * @returns {string[]} NDJSON lines
 */
export function generate({ seed = 1, events = 30_000, startMs = Date.UTC(2024, 2, 1, 10), stepMs = 60 } = {}) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const price = new Map(PRODUCTS.map((p) => [p, int(150, 9_000)]));
  const lines = [];
  let ts = startMs;
  const orders = []; // [id, channel, total, lines]
  let nextOrder = 1;
  for (const p of PRODUCTS) {
    lines.push(JSON.stringify({ kind: 'inventory', ts, product: p, quantity: int(20, 200), warehouse: 'main' }));
  }
  while (lines.length < events) {
    ts += int(stepMs / 3, (stepMs * 5) / 3);
    const x = r();
    if (x < 0.5) {
      const product = pick(PRODUCTS);
      lines.push(JSON.stringify({
        kind: 'behavior', ts, user: int(1, 900), session: `s${int(1, 3000)}`,
        action: pick(ACTIONS), product, channel: r() < 0.6 ? 'web' : 'app', price_cents: price.get(product),
      }));
    } else if (x < 0.6) {
      lines.push(JSON.stringify({ kind: 'inventory', ts, product: pick(PRODUCTS), quantity: r() < 0.05 ? int(-3, 0) : int(0, 150) }));
    } else if (x < 0.72) {
      const y = r();
      if (y < 0.55 || orders.length === 0) {
        const id = r() < 0.5 ? `O-${nextOrder}` : 900000 + nextOrder;
        nextOrder += 1;
        const channel = pick(CHANNELS);
        const ls = Array.from({ length: int(1, 3) }, () => {
          const product = pick(PRODUCTS);
          return { product, quantity: int(1, 4), unit_price_cents: price.get(product) };
        });
        const total = ls.reduce((s, l) => s + l.quantity * l.unit_price_cents, 0);
        orders.push([id, channel, total, ls]);
        lines.push(JSON.stringify({
          kind: 'order', ts, order: id, channel, status: r() < 0.7 ? 'created' : 'paid',
          total_cents: total, currency: 'GBP', lines: ls, user: int(1, 900),
        }));
      } else {
        const [id, channel, total, ls] = pick(orders);
        const status = y < 0.8 ? 'paid' : y < 0.88 ? 'fulfilled' : y < 0.95 ? 'cancelled' : 'refunded';
        lines.push(JSON.stringify({ kind: 'order', ts, order: id, channel, status, total_cents: total, currency: 'GBP', lines: ls }));
      }
    } else if (x < 0.985) {
      if (orders.length === 0) continue;
      const [id, channel] = pick(orders);
      const status = pick(SYNC_STATUS);
      const ev = { kind: 'sync', ts, order: id, channel, target: pick(TARGETS), status, attempt: int(1, 3), latency_ms: int(20, 5000) };
      if (status === 'failed') ev.error = 'gateway timeout';
      lines.push(JSON.stringify(ev));
    } else if (x < 0.993) {
      // The seed's pre-aggregated figure (no kind, no ts: replay clock).
      lines.push(JSON.stringify({ date: new Date(ts).toISOString().slice(0, 10), sales: int(100, 5000) }));
    } else {
      lines.push(pick([
        'this is not json',
        '{"kind":"teleport","ts":1}',
        `{"kind":"order","ts":${ts},"order":"X","channel":"web","status":"paid","currency":"GBP"}`,
        `{"kind":"inventory","ts":${ts},"product":20001,"quantity":"ten"}`,
        '{"user_id": 1, "action": "browse"',
      ]));
    }
  }
  // Close: every product at a quantity of 10 or below (all listed).
  for (const p of PRODUCTS) {
    ts += 10;
    lines.push(JSON.stringify({ kind: 'inventory', ts, product: p, quantity: int(-3, 10) }));
  }
  return lines;
}

/** Writes the stream to `file`; returns its lines. */
export function writeStream(file, opts) {
  const lines = generate(opts);
  writeFileSync(file, lines.join('\n') + '\n');
  return lines;
}

const KNOWN = new Set(['behavior', 'inventory', 'order', 'sync']);
const isInt = (v) => Number.isSafeInteger(v);

/** The event a line holds, or null when the gateway must refuse it. */
function parse(line) {
  let v;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  if (v.kind === undefined) {
    // Seed shapes used by the generator: the sales figure.
    return 'sales' in v && 'date' in v ? { ...v, kind: 'sales' } : null;
  }
  if (!KNOWN.has(v.kind)) return null;
  if (v.kind === 'order' && !(isInt(v.total_cents) && typeof v.currency === 'string')) return null;
  if (v.kind === 'inventory' && !isInt(v.quantity)) return null;
  return v;
}

/**
 * What the dashboard must show once it has applied the whole stream:
 * events applied and refused, orders and revenue per channel (sales rules:
 * an order counts once, on its first `created`/`paid`; a `refunded` of
 * less than is left of it gives that much back, and the first `cancelled`
 * or other `refunded` subtracts what is left), stock per product
 * (the latest inventory update).
 */
export function expectedTotals(lines) {
  const out = {
    sequenced: 0, applied: 0, rejected: 0,
    orders: 0, revenue: 0, cancelled: 0,
    channels: {}, stock: {},
  };
  const seen = new Map(); // order id -> {total, placed, cancelled}
  const chan = (c) => (out.channels[c] ??= { revenue: 0, orders: 0, cancelled: 0 });
  for (const line of lines) {
    if (line.trim() === '') continue;
    out.sequenced += 1;
    const ev = parse(line);
    if (!ev) {
      out.rejected += 1;
      continue;
    }
    out.applied += 1;
    if (ev.kind === 'inventory') out.stock[String(ev.product)] = ev.quantity;
    if (ev.kind !== 'order') continue;
    const key = typeof ev.order === 'number' ? `n${ev.order}` : `s${ev.order}`;
    const s = seen.get(key) ?? { total: 0, placed: false, cancelled: false };
    seen.set(key, s);
    if (ev.status === 'created' || ev.status === 'paid') {
      if (s.placed || s.cancelled) continue;
      s.placed = true;
      s.total = ev.total_cents;
      out.orders += 1;
      out.revenue += ev.total_cents;
      chan(ev.channel).orders += 1;
      chan(ev.channel).revenue += ev.total_cents;
    } else if (ev.status === 'cancelled' || ev.status === 'refunded') {
      if (s.cancelled) continue;
      const amount = Math.abs(ev.total_cents);
      if (ev.status === 'refunded' && s.placed && amount > 0 && amount < s.total) {
        // A partial refund: the order stays counted.
        s.total -= amount;
        out.revenue -= amount;
        chan(ev.channel).revenue -= amount;
        continue;
      }
      s.cancelled = true;
      const v = s.placed ? s.total : amount;
      out.cancelled += 1;
      out.revenue -= v;
      chan(ev.channel).cancelled += 1;
      chan(ev.channel).revenue -= v;
    }
  }
  return out;
}

/**
 * Reads the totals the page shows: applied and rejected counts, orders and
 * revenue per channel from the sales table (money parsed from the text, in
 * minor units), and the stock of every listed product.
 */
export async function pageTotals(page) {
  return page.evaluate(() => {
    const digits = (s) => {
      const neg = /^\s*-/.test(s);
      const d = s.replace(/[^0-9]/g, '');
      return d === '' ? NaN : (neg ? -1 : 1) * Number(d);
    };
    const q = (sel) => document.querySelector(sel);
    const strip = q('[data-testid="feed-health"]');
    const channels = {};
    for (const tr of document.querySelectorAll('[data-testid="sales-by-channel"] tbody tr[data-channel]')) {
      const td = tr.querySelectorAll('td');
      channels[tr.dataset.channel] = {
        revenue: digits(td[1].innerText),
        orders: digits(td[2].innerText),
        cancelled: digits(td[3].innerText),
      };
    }
    const stock = {};
    const conflicts = [];
    for (const li of document.querySelectorAll('[data-testid="low-stock"] [data-product-id][data-quantity]')) {
      const id = li.dataset.productId;
      const qty = Number(li.dataset.quantity);
      if (id in stock && stock[id] !== qty) conflicts.push(`${id}: ${stock[id]} vs ${qty}`);
      stock[id] = qty;
    }
    return {
      state: strip?.dataset.state,
      lastSeq: Number(strip?.dataset.lastSeq),
      epoch: strip?.dataset.epoch,
      gaps: Number(strip?.dataset.gaps ?? 0),
      applied: Number(strip?.dataset.applied),
      rejected: digits(q('[data-testid="events-rejected"]')?.innerText ?? ''),
      orders: digits(q('[data-testid="sales-orders"]')?.innerText ?? ''),
      revenue: digits(q('[data-testid="sales-revenue"]')?.innerText ?? ''),
      channels,
      stock,
      conflicts,
    };
  });
}

/** Differences between what the page shows and what the stream says (empty: equal). */
export function compareTotals(shown, want) {
  const diffs = [];
  const eq = (what, a, b) => {
    if (a !== b) diffs.push(`${what}: page ${a}, stream ${b}`);
  };
  eq('events applied', shown.applied, want.applied);
  eq('events rejected', shown.rejected, want.rejected);
  eq('orders', shown.orders, want.orders);
  eq('revenue (minor units)', shown.revenue, want.revenue);
  const chans = new Set([...Object.keys(shown.channels), ...Object.keys(want.channels)]);
  for (const c of chans) {
    const a = shown.channels[c] ?? {};
    const b = want.channels[c] ?? {};
    eq(`${c} revenue`, a.revenue, b.revenue);
    eq(`${c} orders`, a.orders, b.orders);
    eq(`${c} cancelled`, a.cancelled, b.cancelled);
  }
  const ids = new Set([...Object.keys(shown.stock), ...Object.keys(want.stock)]);
  for (const id of ids) eq(`stock of ${id}`, shown.stock[id], want.stock[id]);
  for (const c of shown.conflicts ?? []) diffs.push(`product listed twice with different stock: ${c}`);
  return diffs;
}
