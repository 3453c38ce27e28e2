// (b) FINOS Perspective (@finos/perspective, its engine in a Web Worker),
// fed with `table.update` in batches: one columnar update per table per
// WebSocket frame. Perspective computes the aggregates (group-by views);
// this adapter only maps events to rows. Perspective has no "count an order
// once" operator, so the adapter keeps the order ids it has seen (a Map) and
// writes each order's revenue effect as a signed row, which Perspective sums.
import perspective from '/pkg/perspective/dist/cdn/perspective.js';
import {
  ACTION_SLOT, TOP_WEIGHT, MINUTE_MS, connect, displayLoop, eventMs, feedUrl, idKey,
} from './common.js';

const SLOT_NAME = ['browse', 'add_to_cart', 'remove_from_cart', 'checkout', 'purchase', 'other'];
// The CDN build fetches its server wasm itself; the client wasm is handed over.
perspective.init_client(fetch('/pkg/perspective/dist/wasm/perspective-js.wasm'));
const worker = await perspective.worker();
const beh = await worker.table({ minute: 'integer', action: 'string', product: 'string', weight: 'integer' });
const rev = await worker.table({ minute: 'integer', channel: 'string', revenue: 'float' });
const stock = await worker.table({ product: 'string', quantity: 'integer' }, { index: 'product' });
const counts = await beh.view({ group_by: ['minute', 'action'], columns: ['weight'], aggregates: { weight: 'count' } });
const topView = await beh.view({
  group_by: ['product'], columns: ['weight'], aggregates: { weight: 'sum' }, sort: [['weight', 'desc']],
});
const revView = await rev.view({ group_by: ['minute', 'channel'], columns: ['revenue'], aggregates: { revenue: 'sum' } });
const stockView = await stock.view({ columns: ['product', 'quantity'] });

const orders = new Map(); // order key -> {placed, cancelled, total}
let applied = 0;
let dirty = false;

function onEvents(events) {
  const b = { minute: [], action: [], product: [], weight: [] };
  const r = { minute: [], channel: [], revenue: [] };
  const s = { product: [], quantity: [] };
  for (const e of events) {
    const minute = Math.floor(eventMs(e.ts) / MINUTE_MS);
    if (e.kind === 'behavior') {
      const slot = ACTION_SLOT[e.action] ?? 5;
      b.minute.push(minute);
      b.action.push(SLOT_NAME[slot]);
      b.product.push(idKey(e.product));
      b.weight.push(TOP_WEIGHT[slot]);
    } else if (e.kind === 'inventory') {
      s.product.push(idKey(e.product));
      s.quantity.push(e.quantity);
    } else if (e.kind === 'order') {
      const placing = e.status === 'created' || e.status === 'paid';
      const cancelling = e.status === 'cancelled' || e.status === 'refunded';
      if (!placing && !cancelling) continue;
      const k = idKey(e.order);
      let o = orders.get(k);
      if (!o) orders.set(k, (o = { placed: false, cancelled: false, total: 0 }));
      let cents = null;
      if (placing && !o.placed && !o.cancelled) {
        o.placed = true;
        o.total = e.total_cents;
        cents = e.total_cents;
      } else if (cancelling && !o.cancelled) {
        const amount = Math.abs(e.total_cents);
        if (e.status === 'refunded' && o.placed && amount > 0 && amount < o.total) {
          o.total -= amount; // a partial refund: the order stays counted
          cents = -amount;
        } else {
          o.cancelled = true;
          cents = -(o.placed ? o.total : amount);
        }
      }
      if (cents !== null) {
        r.minute.push(minute);
        r.channel.push(e.channel);
        r.revenue.push(cents);
      }
    }
  }
  const done = [];
  if (b.minute.length) done.push(beh.update(b));
  if (r.minute.length) done.push(rev.update(r));
  if (s.product.length) done.push(stock.update(s));
  Promise.all(done).then(() => {
    applied += events.length;
    dirty = true;
  }, (err) => state.errors.push(`update: ${err}`));
}

const state = connect(feedUrl(), onEvents);

/** Rows of a grouped view at full depth: [...path, value]. */
async function leaves(view, depth, col) {
  const c = await view.to_columns();
  const out = [];
  c.__ROW_PATH__.forEach((p, i) => {
    if (p.length === depth) out.push([...p, c[col][i]]);
  });
  return out;
}

displayLoop(
  document.getElementById('out'),
  () => { const d = dirty; dirty = false; return d; },
  async () => {
    const t = await topView.to_columns({ end_row: 11 });
    const top = t.__ROW_PATH__.map((p, i) => [p, t.weight[i]]).filter(([p]) => p.length === 1);
    return `applied ${applied} · top ${top.map(([p, c]) => `${p[0]}:${c}`).join(' ')}`;
  },
);

window.__bench = {
  name: 'perspective',
  applied: () => applied,
  state,
  aggregates: async () => {
    const byMinute = new Map();
    for (const [minute, action, n] of await leaves(counts, 2, 'weight')) {
      if (!byMinute.has(minute)) byMinute.set(minute, [0, 0, 0, 0, 0, 0]);
      byMinute.get(minute)[SLOT_NAME.indexOf(action)] = n;
    }
    const sc = await stockView.to_columns();
    return {
      applied,
      perMinute: [...byMinute].map(([m, c]) => [m * MINUTE_MS, c]).sort((a, b) => a[0] - b[0]),
      revenue: (await leaves(revView, 2, 'revenue')).map(([m, ch, v]) => [m * MINUTE_MS, ch, v]),
      top: (await leaves(topView, 1, 'weight')),
      stock: sc.product.map((p, i) => [p, sc.quantity[i]]),
    };
  },
};
