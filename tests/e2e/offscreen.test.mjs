// Panels out of view (issue 5, frame time): the page draws a panel with
// every view only while it is on screen (or within 200 px of it); out of view
// it catches up about once a second, and at once when scrolled into view.
// In the default window (1440 x 1000) the sales and sync panels are below the
// fold. A continuous feed of orders changes the sales panel with every view;
// the test counts the page's re-renders of that panel (mutation observer
// callbacks: one per draw) while it is out of view, then in view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, until, readCount } from './harness.mjs';
import { generate } from './stream.mjs';

const shared = sharedGatewayAndBrowser([]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Orders n..n+count, one per 10 ms of event time, on four channels. */
function orders(n, count) {
  const t0 = Date.parse('2024-11-29T09:00:00Z');
  return Array.from({ length: count }, (_, k) => {
    const i = n + k;
    return {
      kind: 'order', ts: new Date(t0 + i * 10).toISOString(), order: `OFF-${i}`,
      channel: ['web', 'app', 'amazon', 'ebay'][i % 4], status: 'paid', total_cents: 1000 + (i % 97), currency: 'GBP',
    };
  });
}

/** Feeds 40 orders every 50 ms for `ms`; returns the next order number. */
async function feed(n, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await ingest(shared.gw.url, orders(n, 40));
    n += 40;
    await sleep(50);
  }
  return n;
}

/** Re-renders of the sales panel (mutation callbacks) since the last call. */
const renders = (page) => page.evaluate(() => {
  const n = window.__salesRenders ?? 0;
  window.__salesRenders = 0;
  return n;
});

test('a panel out of view is drawn about once a second, and at once when scrolled into view', async (t) => {
  const { page, errors } = await openDashboard(shared.browser, shared.gw.url);
  await until(async () => /live/i.test(await page.getByTestId('conn-status').innerText()), 15_000, 'live');
  // A shop's worth of activity first, so the panels have their real height.
  const shop = generate({ seed: 3, events: 3_000 }).flatMap((l) => {
    try { return [JSON.parse(l)]; } catch { return []; } // the stream's deliberately bad lines
  }).filter((e) => e && typeof e === 'object' && !['order', 'refund', 'order_status'].includes(e.kind));
  const { accepted } = await ingest(shared.gw.url, shop);
  await until(async () => (await readCount(page, 'events-applied')) >= accepted, 10_000, 'the shop applied');
  const below = await page.evaluate(() => document.querySelector('[data-testid="sales"]').getBoundingClientRect().top - innerHeight);
  assert.ok(below > 200, `the sales panel starts ${below} px below the window`);
  await page.evaluate(() => {
    window.__salesRenders = 0;
    new MutationObserver(() => { window.__salesRenders += 1; })
      .observe(document.querySelector('[data-testid="sales"]'), { subtree: true, childList: true, characterData: true, attributes: true });
  });

  let n = await feed(0, 600);
  await renders(page);
  n = await feed(n, 3000);
  const out = await renders(page);
  // Out of view: one catch-up a second (3 in 3 s; 5 leaves room for timing).
  assert.ok(out >= 1 && out <= 5, `out of view, the sales panel was drawn ${out} times in 3 s`);
  // Its figures are never more than about a second old: the feed stopped,
  // the panel catches up with the last order without being scrolled to.
  await until(async () => (await readCount(page, 'events-applied')) >= accepted + n, 10_000, 'every order applied');
  await until(async () => (await readCount(page, 'sales-orders')) === n, 3_000, `the sales panel out of view catches up with ${n} orders`);

  // Scrolled into view: drawn with the latest view at once, then with every view.
  n = await feed(n, 300);
  await page.getByTestId('sales').scrollIntoViewIfNeeded();
  await until(async () => (await readCount(page, 'sales-orders')) === n, 1_000, 'the panel scrolled into view shows every order');
  await renders(page);
  n = await feed(n, 3000);
  const inView = await renders(page);
  assert.ok(inView >= 15, `in view, the sales panel was drawn ${inView} times in 3 s (out of view: ${out})`);
  t.diagnostic(`sales panel draws in 3 s of feed: ${out} out of view, ${inView} in view`);
  assert.deepEqual(errors, []);
  await page.context().close();
});
