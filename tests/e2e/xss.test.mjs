// Every string from the feed is shown as text, never run as HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, until, shot } from './harness.mjs';

const shared = sharedGatewayAndBrowser([]);

const IMG = '<img src=x onerror="window.__pwned=1">';
const SCRIPT = '<script>window.__pwned=2</script>';
const RLO = 'evil\u202Egnp.exe';
const JS_URL = 'javascript:alert(document.domain)//';
const LONG_ID = `${'9'.repeat(30)}-${'\u202E'.repeat(5)}${'W'.repeat(200)}`;
const ts = '2026-11-22T11:00:00Z';

test('hostile strings render as text and run nothing', async () => {
  const { page, errors } = await openDashboard(shared.browser, shared.gw.url);
  await until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');
  const res = await ingest(shared.gw.url, [
    { kind: 'behavior', ts, user: IMG, action: 'browse', product: SCRIPT, channel: 'web' },
    { kind: 'behavior', ts, user: JS_URL, action: SCRIPT.slice(0, 60), product: RLO },
    { kind: 'inventory', ts, product: IMG, quantity: 1 },
    { kind: 'sync', ts, order: SCRIPT, channel: IMG.slice(0, 60), target: 'payment', status: 'failed', attempt: 1, error: `${SCRIPT} ${'x'.repeat(3000)}` },
    // The longest strings the protocol accepts: a 256-byte id without a
    // break, a 64-byte channel, a 4 KiB error text mixing right-to-left
    // overrides and markup.
    { kind: 'behavior', ts, user: 'U'.repeat(256), action: 'add_to_cart', product: JS_URL, channel: `${RLO}${'c'.repeat(64 - RLO.length - 2)}` },
    { kind: 'order', ts, order: JS_URL, channel: RLO, status: 'paid', total_cents: 100, currency: 'GBP', user: LONG_ID },
    { kind: 'sync', ts, order: LONG_ID, channel: JS_URL, target: 'logistics', status: 'failed', attempt: 2, error: `${RLO}${IMG}`.repeat(60).slice(0, 3900) },
    // Refused lines are shown with their reason and an excerpt: a 100 KB
    // line (over the 64 KiB event limit) and an unknown kind full of markup.
    `{"user": "${'A'.repeat(100_000)}", "action": "browse", "product": 1}`,
    { kind: IMG, ts, user: 1 },
  ]);
  assert.equal(res.accepted, 7, JSON.stringify(res).slice(0, 500));
  assert.equal(res.rejected.length, 2);
  const log = page.getByTestId('behavior-log');
  await until(async () => (await log.innerText()).includes(SCRIPT), 10_000, 'script tag shown as text');
  await until(async () => (await log.innerText()).includes(JS_URL), 10_000, 'javascript: URL shown as text');
  await until(async () => (await page.getByTestId('low-stock').innerText()).includes('<img'), 10_000, 'img tag shown as text in low stock');
  await until(async () => (await page.getByTestId('events-rejected').innerText()).replace(/\D/g, '') >= 2, 10_000, 'rejections counted');
  await page.waitForTimeout(500);
  const body = await page.locator('body').innerText();
  assert.ok(body.includes(RLO), 'the right-to-left override is kept as a character, shown as text');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected code ran');
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'no element was injected');
  assert.equal(await page.locator('a[href^="javascript:" i], [src^="javascript:" i], [onerror], [onclick]').count(), 0, 'no javascript: link or inline handler exists');
  assert.equal(await page.locator('script:not([src]):not([type="module"])').evaluateAll((els) => els.filter((e) => e.textContent.includes('__pwned')).length), 0);
  // Layout holds: the page is no wider than the viewport, also on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
  await shot(page, 'xss');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  const phone = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(phone <= 0, `horizontal overflow of ${phone}px on a phone`);
  assert.deepEqual(errors, []);
});
