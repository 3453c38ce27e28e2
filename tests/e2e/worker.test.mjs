// The operators run in a dedicated Web Worker with `?worker=1` (issue 5: the
// page's main thread only draws); `?worker=0` (the default) runs them on the
// page's thread. Fed
// the same stream, both must show exactly the same figures, answer the same
// recommendation lookup and drill-downs, and compute the same aggregates.
// A worker that cannot start leaves the operators on the page's thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, WHOLE_PAGE, until, readCount, shot, healthStrip, sectionTexts } from './harness.mjs';
import { generate } from './stream.mjs';

const shared = sharedGatewayAndBrowser([]);
const sep = (url) => (url.includes('?') ? '&' : '?');
const host = (page) => page.evaluate(() => window.__shoppulse_host?.());
const live = (page) => until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');

test('worker and main-thread dashboards fed the same stream show the same figures, lookups and drill-downs', async () => {
  const worker = await openDashboard(shared.browser, `${shared.gw.url}${sep(shared.gw.url)}worker=1`, WHOLE_PAGE);
  const main = await openDashboard(shared.browser, `${shared.gw.url}${sep(shared.gw.url)}worker=0`, WHOLE_PAGE);
  for (const { page } of [worker, main]) await live(page);
  assert.equal(await host(worker.page), 'worker', '?worker=1 runs the operators in a worker');
  assert.equal(await host(main.page), 'main', '?worker=0 runs them on the page');

  const lines = generate({ seed: 5, events: 6_000 }).map((l) => {
    try { return JSON.parse(l); } catch { return l; }
  });
  const objects = lines.filter((l) => typeof l === 'object');
  const res = await ingest(shared.gw.url, objects);
  const fed = res.accepted + res.rejected.length;
  assert.ok(res.accepted > 5_000, JSON.stringify(res));
  for (const { page } of [worker, main]) {
    await until(async () => (await readCount(page, 'events-applied')) + (await readCount(page, 'events-rejected')) >= fed, 30_000, 'all applied');
  }
  const sections = ['events-applied', 'events-rejected', 'behavior-log', 'funnel', 'sales-total', 'sync-matrix', 'low-stock', 'sales-figures', 'trending', 'co-purchase'];
  const [tw, tm] = await sectionTexts(worker.page, main.page, sections);
  sections.forEach((id, i) => assert.equal(tw[i], tm[i], `${id} is the same in the worker and on the main thread`));

  // The same aggregates (the side-by-side benchmark's figures).
  const products = JSON.stringify(['SKU-1', 'SKU-2', 'SKU-3', 1001, 1002]);
  const agg = async (page) => JSON.parse(await page.evaluate((p) => window.__shoppulse_aggregates(p), products));
  const [aw, am] = [await agg(worker.page), await agg(main.page)];
  assert.ok(aw.applied >= res.accepted, `aggregates cover the stream: ${aw.applied}`);
  assert.deepEqual(aw, am, 'the worker computes exactly what the main thread computes');

  // The recommendation lookup and a product drill-down, answered by the
  // host wherever it runs.
  for (const { page } of [worker, main]) {
    await page.getByTestId('rec-user-input').fill('17');
    await until(async () => (await page.getByTestId('rec-user-result').count()) === 1, 10_000, 'lookup answered');
    await page.locator('[data-testid="trending"] [data-drill]').first().click();
    await until(async () => (await page.locator('.drill-body[data-product-id]').count()) === 1, 10_000, 'drill-down answered');
  }
  const text = async (page, sel) => page.locator(sel).first().innerText();
  assert.equal(await text(worker.page, '[data-testid="rec-user-result"]'), await text(main.page, '[data-testid="rec-user-result"]'));
  assert.equal(await text(worker.page, '.drill-body'), await text(main.page, '.drill-body'));
  assert.ok((await text(worker.page, '.drill-body')).length > 20, 'the drill-down shows the product');
  await shot(worker.page, 'worker-drilldown');

  // The worker reports its memory (counted by the benchmark).
  assert.ok(await worker.page.evaluate(() => window.__shoppulse_host_memory()) > 1_000_000, 'worker wasm memory reported');
  assert.deepEqual(worker.errors, []);
  assert.deepEqual(main.errors, []);
  await worker.context.close();
  await main.context.close();
});

test('a worker that cannot start leaves the operators on the page, which says so', async () => {
  const context = await shared.browser.newContext();
  await context.route('**/worker.js*', (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: 'throw new Error("no worker here");' }));
  const page = await context.newPage();
  await page.goto(`${shared.gw.url}${sep(shared.gw.url)}worker=1`, WHOLE_PAGE);
  await until(async () => (await host(page)) === 'main', 15_000, 'fell back to the main thread');
  await live(page);
  const before = await readCount(page, 'events-applied');
  const res = await ingest(shared.gw.url, [{ kind: 'behavior', ts: '2026-11-22T10:00:00Z', user: 1, action: 'browse', product: 'SKU-1' }]);
  assert.equal(res.accepted, 1);
  await until(async () => (await readCount(page, 'events-applied')) > before, 10_000, 'events applied on the page');
  const strip = await healthStrip(page);
  assert.match(strip.detail, /worker failed, operators moved to the page: .*no worker here/, strip.detail);
  await context.close();
});
