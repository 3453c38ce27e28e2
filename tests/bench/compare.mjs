// Checks that ShopPulse, Perspective and the plain JavaScript client computed
// the same aggregates from the same stream. Returns a list of differences
// (empty when they agree).
//
// ShopPulse keeps bounded state: the last 60 minutes of per-minute counts
// and sales windows, and the top products by Space-Saving (each count with
// its maximum overestimate). So: its minutes must equal the others' on the
// minutes it keeps; its top counts must bound the exact counts
// (count - error <= exact <= count) and hold the exact top 3; stock and the
// applied count must be equal. Perspective and plain JavaScript are both
// exact and must agree on everything.

const key = (id) => String(id);

function minuteMap(perMinute) {
  return new Map(perMinute.map(([m, c]) => [Number(m), c.map(Number)]));
}

function revenueMap(revenue) {
  const out = new Map();
  for (const [m, ch, v] of revenue) if (Number(v) !== 0) out.set(`${Number(m)}|${ch}`, Number(v));
  return out;
}

function sameMaps(a, b, what, diffs, keys = new Set([...a.keys(), ...b.keys()])) {
  for (const k of keys) {
    const x = JSON.stringify(a.get(k) ?? null);
    const y = JSON.stringify(b.get(k) ?? null);
    if (x !== y) diffs.push(`${what} ${k}: ${x} vs ${y}`);
    if (diffs.length > 20) return;
  }
}

/** Two exact implementations: everything equal. */
export function compareExact(a, b, names = ['a', 'b']) {
  const diffs = [];
  const tag = (w) => `${w} (${names[0]} vs ${names[1]})`;
  if (a.applied !== b.applied) diffs.push(`${tag('applied')}: ${a.applied} vs ${b.applied}`);
  sameMaps(minuteMap(a.perMinute), minuteMap(b.perMinute), tag('minute'), diffs);
  sameMaps(revenueMap(a.revenue), revenueMap(b.revenue), tag('revenue'), diffs);
  sameMaps(new Map(a.top.map(([p, c]) => [key(p), Number(c)])),
    new Map(b.top.map(([p, c]) => [key(p), Number(c)])), tag('top'), diffs);
  sameMaps(new Map(a.stock.map(([p, q]) => [key(p), Number(q)])),
    new Map(b.stock.map(([p, q]) => [key(p), Number(q)])), tag('stock'), diffs);
  return diffs;
}

/** ShopPulse (`sp`, from window.__shoppulse_aggregates) against an exact one. */
export function compareShopPulse(sp, exact, name = 'exact') {
  const diffs = [];
  if (sp.applied !== exact.applied) diffs.push(`applied: shoppulse ${sp.applied} vs ${name} ${exact.applied}`);
  const mine = minuteMap(sp.per_minute);
  const theirs = minuteMap(exact.perMinute);
  if (mine.size === 0) diffs.push('shoppulse has no minutes');
  for (const [m, c] of mine) {
    const t = theirs.get(m) ?? [0, 0, 0, 0, 0, 0];
    if (JSON.stringify(c) !== JSON.stringify(t)) diffs.push(`minute ${m}: shoppulse ${c} vs ${name} ${t}`);
  }
  const rMine = revenueMap(sp.revenue);
  const minutes = new Set(sp.revenue.map(([m]) => Number(m)));
  const rTheirs = new Map([...revenueMap(exact.revenue)].filter(([k]) => minutes.has(Number(k.split('|')[0]))));
  sameMaps(rMine, rTheirs, `revenue (shoppulse vs ${name})`, diffs);
  const exactTop = new Map(exact.top.map(([p, c]) => [key(p), Number(c)]));
  for (const [p, count, error] of sp.top) {
    const x = exactTop.get(key(p)) ?? 0;
    if (!(count - error <= x && x <= count)) diffs.push(`top ${p}: shoppulse ${count} (error ${error}) vs ${name} ${x}`);
  }
  const spTop = new Set(sp.top.map(([p]) => key(p)));
  const top3 = [...exactTop].sort((a, b) => b[1] - a[1]).slice(0, 3);
  for (const [p] of top3) if (!spTop.has(p)) diffs.push(`exact top-3 product ${p} missing from shoppulse's top`);
  sameMaps(new Map(sp.stock.map(([p, q]) => [key(p), Number(q)])),
    new Map(exact.stock.map(([p, q]) => [key(p), Number(q)])), `stock (shoppulse vs ${name})`, diffs);
  return diffs;
}

/** The product ids an exact client saw, for ShopPulse's stock read-out (JSON array). */
export function productsJson(exact) {
  return JSON.stringify(exact.stock.map(([p]) => p));
}
