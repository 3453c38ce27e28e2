// Real shops as sources, seen by a person in the dashboard: a signed Shopify
// webhook shows up in the sales figures and a forged one in the rejected
// input; the whole Online Retail file replayed shows its real revenue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, FEED_BIN, startGateway, launchBrowser, openDashboard, until, shot } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const digits = (s) => s.replace(/[^0-9]/g, '');

test('a signed Shopify order reaches the dashboard; a forged one is shown as rejected', async () => {
  const secret = 'e2e-shopify-secret';
  const gw = await startGateway(['--shopify-secret', secret]);
  try {
    const { page, errors } = await openDashboard(browser, gw.url);
    await until(async () => /live/i.test(await page.getByTestId('conn-status').innerText()), 15_000, 'live');
    // A 64-bit order id above 2^53, as Shopify sends it (a bare JSON number).
    const body = JSON.stringify({
      id: '__ID__',
      created_at: '2024-01-15T10:30:00-05:00',
      currency: 'GBP',
      financial_status: 'paid',
      source_name: 'web',
      total_price: '1234.56',
      customer: null,
      line_items: [{ product_id: 632910392, sku: 'IPOD2008PINK', quantity: 2, price: '617.28' }],
    }).replace('"__ID__"', '820982911946154508');
    const post = (signature) =>
      fetch(`${gw.url}/webhooks/shopify`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-shopify-topic': 'orders/create',
          'x-shopify-hmac-sha256': signature,
          'x-shopify-webhook-id': `e2e-${signature.length}-${Date.now()}`,
        },
        body,
      });
    const good = await post(createHmac('sha256', secret).update(body).digest('base64'));
    assert.equal(good.status, 200, await good.text());
    await until(
      async () => digits(await page.getByTestId('sales-total').innerText()).includes('123456'),
      15_000,
      'revenue 1,234.56 in the sales total',
    );
    const forged = await post(createHmac('sha256', 'guessed').update(body).digest('base64'));
    assert.equal(forged.status, 401);
    const row = page.locator('[data-testid="rejection-row"][data-source="webhook:shopify"]');
    await until(async () => (await row.count()) === 1, 15_000, 'the forged webhook in the rejected input');
    // Polled: the rejections panel has just been shown, and a panel is
    // `content-visibility: auto`, so for a frame or two its rows are not
    // rendered yet and their innerText reads '' (it failed twice in full runs).
    await until(async () => /X-Shopify-Hmac-Sha256/.test(await row.innerText()), 5_000, 'the forged webhook row says why');
    await shot(page, 'webhook-shopify');
    assert.deepEqual(errors, []);
  } finally {
    await gw.stop();
  }
});

test('replaying the whole Online Retail file shows its real revenue and orders', async (t) => {
  const csv = path.join(ROOT, '../shared/data/online-retail.csv.gz');
  if (!existsSync(csv)) {
    t.skip(`SKIPPED: ${csv} is absent; the whole-file replay needs the shared dataset`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-e2e-retail-'));
  const out = path.join(dir, 'retail.ndjson');
  const run = spawnSync(FEED_BIN, ['import', 'online-retail', csv, '-o', out, '--no-progress'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const gw = await startGateway(['--replay', out, '--speed', 'max']);
  try {
    const { page, errors } = await openDashboard(browser, gw.url);
    // Net revenue of the file's product rows (cancellations subtract),
    // computed from the CSV by crates/feed/tests/import.rs: £9,793,394.69
    // in 19,774 orders.
    await until(
      async () => {
        const text = digits(await page.getByTestId('sales-total').innerText());
        return text.includes('979339469') && text.includes('19774');
      },
      60_000,
      'the real totals in the sales panel',
    );
    await shot(page, 'online-retail-replayed');
    assert.deepEqual(errors, []);
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
