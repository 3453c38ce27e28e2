// Every string from the feed is shown as text, never run as HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, until, shot } from './harness.mjs';

const shared = sharedGatewayAndBrowser([]);

const IMG = '<img src=x onerror="window.__pwned=1">';
const SCRIPT = '<script>window.__pwned=2</script>';
const RLO = 'evil\u202Egnp.exe';
const ts = '2026-11-22T11:00:00Z';

test('hostile strings render as text and run nothing', async () => {
  const { page, errors } = await openDashboard(shared.browser, shared.gw.url);
  await until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');
  const res = await ingest(shared.gw.url, [
    { kind: 'behavior', ts, user: IMG, action: 'browse', product: SCRIPT, channel: 'web' },
    { kind: 'behavior', ts, user: 'javascript:alert(1)', action: SCRIPT.slice(0, 60), product: RLO },
    { kind: 'inventory', ts, product: IMG, quantity: 1 },
    { kind: 'sync', ts, order: SCRIPT, channel: IMG.slice(0, 60), target: 'payment', status: 'failed', attempt: 1, error: `${SCRIPT} ${'x'.repeat(3000)}` },
    `{"user": "${'A'.repeat(100_000)}", "action": "browse", "product": 1}`,
  ]);
  assert.equal(res.accepted, 4, JSON.stringify(res).slice(0, 500));
  assert.equal(res.rejected.length, 1);
  const log = page.getByTestId('behavior-log');
  await until(async () => (await log.innerText()).includes(SCRIPT), 10_000, 'script tag shown as text');
  await until(async () => (await page.getByTestId('low-stock').innerText()).includes('<img'), 10_000, 'img tag shown as text in low stock');
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected code ran');
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'no element was injected');
  assert.equal(await page.locator('script:not([src]):not([type="module"])').evaluateAll((els) => els.filter((e) => e.textContent.includes('__pwned')).length), 0);
  // Layout holds: the page is no wider than the viewport.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
  await shot(page, 'xss');
  assert.deepEqual(errors, []);
});
