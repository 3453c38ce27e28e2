// The seed documents' four example streams, posted verbatim to /ingest, must
// show their exact lines in the dashboard (issue: the dashboard, end to end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, until, shot, readCount } from './harness.mjs';

const behaviour = [
  { user_id: 1, action: 'browse', product_id: 101 },
  { user_id: 1, action: 'add_to_cart', product_id: 102 },
  { user_id: 2, action: 'purchase', product_id: 103 },
];
const inventory = [
  { product_id: 101, quantity: 100 },
  { product_id: 102, quantity: 50 },
  { product_id: 103, quantity: 0 },
];
const recommendation = [
  { user_id: 1, action: 'browse', product_id: 101 },
  { user_id: 1, action: 'add_to_cart', product_id: 102 },
  { user_id: 1, action: 'purchase', product_id: 103 },
];
const business = [
  { date: '2021-09-01', sales: 1000 },
  { date: '2021-09-02', sales: 1500 },
  { date: '2021-09-03', sales: 1200 },
];
const sync = [
  { kind: 'sync', ts: '2026-11-22T10:00:00Z', order: 'A-1', channel: 'web', target: 'payment', status: 'synced', attempt: 1, latency_ms: 120 },
  { kind: 'sync', ts: '2026-11-22T10:00:01Z', order: 'A-1', channel: 'web', target: 'inventory', status: 'pending', attempt: 1 },
  { kind: 'sync', ts: '2026-11-22T10:00:02Z', order: 'B-7', channel: 'app', target: 'logistics', status: 'failed', attempt: 2, latency_ms: 3000, error: 'carrier timeout' },
];

const shared = sharedGatewayAndBrowser([]);

test('seed streams show their exact lines, warnings, recommendation, figures and sync cells', async () => {
  const { page, errors } = await openDashboard(shared.browser, shared.gw.url);
  await until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');

  for (const stream of [behaviour, inventory, business, sync]) {
    const res = await ingest(shared.gw.url, stream);
    assert.equal(res.accepted, stream.length, JSON.stringify(res));
    assert.deepEqual(res.rejected, []);
  }
  const log = page.getByTestId('behavior-log');
  for (const line of [
    'User 1 is browsing product 101',
    'User 1 has added product 102 to cart',
    'User 2 has purchased product 103',
  ]) {
    await until(async () => (await log.innerText()).includes(line), 10_000, line);
  }

  const low = page.getByTestId('low-stock');
  await until(async () => (await low.locator('[data-product-id="103"]').count()) > 0, 10_000, 'low stock 103');
  assert.equal(await low.locator('[data-product-id="101"]').count(), 0, '101 is not low');
  assert.equal(await low.locator('[data-product-id="102"]').count(), 0, '102 is not low');
  assert.match(await page.locator('body').innerText(), /Warning: Product 103 is low on stock/);
  assert.doesNotMatch(await page.locator('body').innerText(), /Warning: Product 10[12] is low on stock/);

  // The recommendation example's stream (user 1 browses 101, adds 102, buys 103).
  await ingest(shared.gw.url, recommendation);
  const recs = page.getByTestId('recommendations');
  await page.getByTestId('rec-user-input').fill('1');
  await until(
    async () => (await recs.locator('[data-user-id="1"] [data-product-id]').count()) > 0,
    10_000,
    'a recommendation for user 1',
  );
  const suggested = await recs.locator('[data-user-id="1"] [data-product-id]').evaluateAll((els) =>
    els.map((e) => e.getAttribute('data-product-id')),
  );
  assert.ok(!suggested.includes('103'), `103 is out of stock and must not be suggested: ${suggested}`);

  const figures = page.getByTestId('sales-figures');
  for (const line of ['Sales on 2021-09-01: 1000', 'Sales on 2021-09-02: 1500', 'Sales on 2021-09-03: 1200']) {
    await until(async () => (await figures.innerText()).includes(line), 10_000, line);
  }

  const cell = (ch, t) => page.locator(`[data-testid="sync-matrix"] [data-channel="${ch}"][data-target="${t}"]`);
  await until(async () => /synced\D*1\b/i.test(await cell('web', 'payment').innerText()), 10_000, 'web/payment synced 1');
  assert.match(await cell('web', 'inventory').innerText(), /pending\D*1\b/i);
  assert.match(await cell('app', 'logistics').innerText(), /failed\D*1\b/i);

  const applied = await readCount(page, 'events-applied');
  assert.equal(applied, behaviour.length + inventory.length + business.length + sync.length + recommendation.length);
  assert.equal(await readCount(page, 'events-rejected'), 0);

  await shot(page, 'seed-desktop');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await shot(page, 'seed-phone');
  assert.deepEqual(errors, []);
});

test('bad lines are refused by line number, counted and shown, good lines still land', async () => {
  const { page, errors } = await openDashboard(shared.browser, shared.gw.url);
  await until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');
  const before = await readCount(page, 'events-rejected');
  const res = await ingest(shared.gw.url, [
    { user_id: 7, action: 'browse', product_id: 701 },
    '{"user_id": 7, "action": ',
    { kind: 'inventory', product: 5, quantity: 'ten' },
    { kind: 'teleport' },
    { user_id: 7, action: 'purchase', product_id: 701 },
  ]);
  assert.equal(res.accepted, 2);
  assert.deepEqual(res.rejected.map((r) => r.line), [2, 3, 4]);
  await until(async () => (await readCount(page, 'events-rejected')) === before + 3, 10_000, 'rejections counted');
  await until(async () => /quantity/.test(await page.locator('body').innerText()), 5_000, 'the rejection reason shown');
  await until(async () => (await page.getByTestId('behavior-log').innerText()).includes('User 7 has purchased product 701'), 10_000, 'good line after bad ones');
  assert.deepEqual(errors, []);
});
