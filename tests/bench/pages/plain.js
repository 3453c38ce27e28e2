// (c) Plain JavaScript: JSON.parse (in common.js) and Maps. The same
// aggregates as ShopPulse: counts per action per minute, revenue per minute
// window per channel (an order counts once, at its first created/paid; its
// first cancel/refund takes back what was counted, or the refund's amount for
// an order never seen), weighted product counts, latest stock per product.
import {
  ACTION_SLOT, TOP_WEIGHT, MINUTE_MS, connect, displayLoop, eventMs, feedUrl, idKey,
} from './common.js';

const perMinute = new Map(); // minute start ms -> counts[6]
const revenue = new Map(); // minute start ms -> Map(channel -> cents)
const orders = new Map(); // order key -> {placed, cancelled, total}
const top = new Map(); // product key -> weighted count
const stock = new Map(); // product key -> quantity
let applied = 0;
let dirty = false;

function addRevenue(ms, channel, cents) {
  const m = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
  let w = revenue.get(m);
  if (!w) revenue.set(m, (w = new Map()));
  w.set(channel, (w.get(channel) ?? 0) + cents);
}

function apply(e) {
  const ms = eventMs(e.ts);
  switch (e.kind) {
    case 'behavior': {
      const slot = ACTION_SLOT[e.action] ?? 5;
      const m = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
      let c = perMinute.get(m);
      if (!c) perMinute.set(m, (c = [0, 0, 0, 0, 0, 0]));
      c[slot] += 1;
      const w = TOP_WEIGHT[slot];
      if (w) {
        const p = idKey(e.product);
        top.set(p, (top.get(p) ?? 0) + w);
      }
      break;
    }
    case 'inventory':
      stock.set(idKey(e.product), e.quantity);
      break;
    case 'order': {
      const placing = e.status === 'created' || e.status === 'paid';
      const cancelling = e.status === 'cancelled' || e.status === 'refunded';
      if (!placing && !cancelling) break;
      const k = idKey(e.order);
      let o = orders.get(k);
      if (!o) orders.set(k, (o = { placed: false, cancelled: false, total: 0 }));
      if (placing && !o.placed && !o.cancelled) {
        o.placed = true;
        o.total = e.total_cents;
        addRevenue(ms, e.channel, e.total_cents);
      } else if (cancelling && !o.cancelled) {
        const amount = Math.abs(e.total_cents);
        if (e.status === 'refunded' && o.placed && amount > 0 && amount < o.total) {
          o.total -= amount; // a partial refund: the order stays counted
          addRevenue(ms, e.channel, -amount);
          break;
        }
        o.cancelled = true;
        addRevenue(ms, e.channel, -(o.placed ? o.total : amount));
      }
      break;
    }
    default:
  }
}

const state = connect(feedUrl(), (events) => {
  for (const e of events) apply(e);
  applied += events.length;
  dirty = true;
});

function topN(n) {
  return [...top].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
}

displayLoop(
  document.getElementById('out'),
  () => { const d = dirty; dirty = false; return d; },
  () => `applied ${applied} · top ${topN(10).map(([p, c]) => `${p}:${c}`).join(' ')}`,
);

window.__bench = {
  name: 'plain',
  applied: () => applied,
  state,
  aggregates: () => ({
    applied,
    perMinute: [...perMinute].sort((a, b) => a[0] - b[0]),
    revenue: [...revenue].flatMap(([m, w]) => [...w].map(([c, v]) => [m, c, v])),
    top: [...top],
    stock: [...stock],
  }),
};
