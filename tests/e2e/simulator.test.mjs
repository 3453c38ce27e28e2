// With the simulator, every view fills within seconds and the counters rise;
// killing and restarting the gateway shows reconnecting, then live again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchBrowser, openDashboard, until, shot, readCount, freePort } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const SIM = ['--simulate', '--seed', '7', '--rate', '400'];

test('simulator fills every view and the counters keep rising', async () => {
  const gw = await startGateway(SIM);
  try {
    const { page, errors } = await openDashboard(browser, gw.url);
    await until(async () => (await readCount(page, 'events-applied')) > 200, 15_000, 'events applied');
    const checks = {
      'behavior-log': async () => (await page.getByTestId('behavior-log').innerText()).match(/User \S+ (is browsing|has added|has purchased)/),
      'low-stock or out': async () => (await page.locator('[data-testid="low-stock"] [data-product-id], [data-testid="out-of-stock"] [data-product-id]').count()) > 0,
      recommendations: async () => (await page.locator('[data-testid="recommendations"] [data-product-id]').count()) > 0,
      'sales-total': async () => /[1-9]/.test(await page.getByTestId('sales-total').innerText()),
      'sync-matrix': async () => (await page.locator('[data-testid="sync-matrix"] [data-channel][data-target]').count()) >= 4,
    };
    for (const [name, fn] of Object.entries(checks)) {
      await until(fn, 20_000, name);
    }
    const a = await readCount(page, 'events-applied');
    await page.waitForTimeout(1500);
    const b = await readCount(page, 'events-applied');
    assert.ok(b > a, `applied rose: ${a} -> ${b}`);
    const box = await page.getByTestId('sales-chart').boundingBox();
    assert.ok(box && box.width > 200 && box.height > 100, `chart is drawn at a visible size: ${JSON.stringify(box)}`);
    await shot(page, 'simulator-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    await shot(page, 'simulator-phone');
    assert.deepEqual(errors, []);
  } finally {
    await gw.stop();
  }
});

test('killing the gateway shows reconnecting, restarting it shows live again', async () => {
  const port = await freePort();
  let gw = await startGateway(SIM, { port });
  try {
    const { page } = await openDashboard(browser, gw.url);
    const status = () => page.getByTestId('conn-status').innerText();
    await until(async () => (await status()).toLowerCase().includes('live'), 15_000, 'live');
    await gw.stop();
    await until(async () => /reconnecting|offline|connecting/i.test(await status()), 10_000, 'reconnecting');
    await shot(page, 'reconnecting');
    const seen = await status();
    gw = await startGateway(SIM, { port });
    await until(async () => /live|resynced/i.test(await status()), 20_000, `live again (was: ${seen})`);
    const a = await readCount(page, 'events-applied');
    await until(async () => (await readCount(page, 'events-applied')) > a, 10_000, 'applying again');
  } finally {
    await gw.stop();
  }
});
