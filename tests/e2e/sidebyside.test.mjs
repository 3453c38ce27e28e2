// The side-by-side benchmark's correctness, fast: one stream from the real
// gateway over real WebSockets to ShopPulse, FINOS Perspective and a plain
// JavaScript implementation at once (tests/bench/pages), and the aggregates
// they computed compared: counts per action per minute, revenue per minute
// window per channel, top products, latest stock per product. The long
// benchmark (figures) is scripts/bench.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { ROOT, launchBrowser, startGateway, until } from './harness.mjs';
import { compareExact, compareShopPulse, productsJson } from '../bench/compare.mjs';
import { post, simSource } from '../bench/lib.mjs';
import { startStatic } from '../bench/server.mjs';

const PERSPECTIVE = path.join(ROOT, 'tests/bench/node_modules/@finos/perspective/dist/cdn/perspective.js');

test('ShopPulse (as shipped, and with recommendations and sync turned off as in the benchmark), Perspective and plain JavaScript compute the same aggregates from the same stream', { timeout: 150_000 }, async () => {
  assert.ok(existsSync(PERSPECTIVE), 'tests/bench dependencies installed (scripts/setup.sh)');
  const gw = await startGateway([]);
  const stat = await startStatic();
  const browser = await launchBrowser();
  const src = simSource({ rate: 200, events: 30_000 }); // 150 s of event time: 3 minutes
  try {
    const feed = encodeURIComponent(`ws://127.0.0.1:${gw.port}/ws`);
    const pages = {};
    for (const [name, url] of [
      ['shoppulse', `${gw.url}/?feed=${feed}`],
      ['shoppulse-lean', `${gw.url}/?feed=${feed}&off=recs,sync`],
      ['perspective', `${stat.url}/perspective.html?feed=${feed}`],
      ['plain', `${stat.url}/plain.html?feed=${feed}`],
    ]) {
      const page = await (await browser.newContext()).newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      if (name.startsWith('shoppulse')) {
        await page.locator('[data-state="live"]').waitFor({ timeout: 30_000 });
      } else {
        await until(() => page.evaluate(() => window.__bench?.state.open), 30_000, `${name} connected`);
      }
      pages[name] = { page, errors };
    }
    const shopPulseApplied = (p) => p.evaluate(() => Number(document.querySelector('[data-applied]').getAttribute('data-applied')));
    const applied = {
      shoppulse: shopPulseApplied,
      'shoppulse-lean': shopPulseApplied,
      perspective: (p) => p.evaluate(() => window.__bench.applied()),
      plain: (p) => p.evaluate(() => window.__bench.applied()),
    };
    let pushed = 0;
    for (;;) {
      const { buf, n } = await src.take(5_000);
      if (!n) break;
      await post(gw, buf);
      pushed += n;
    }
    assert.equal(pushed, 30_000);
    for (const [name, { page }] of Object.entries(pages)) {
      await until(async () => (await applied[name](page)) >= pushed, 60_000, `${name} to apply ${pushed} events`);
    }
    const plain = await pages.plain.page.evaluate(() => window.__bench.aggregates());
    const persp = await pages.perspective.page.evaluate(() => window.__bench.aggregates());
    const aggregatesOf = async (name) => JSON.parse(await pages[name].page.evaluate((ids) => window.__shoppulse_aggregates(ids), productsJson(plain)));
    const sp = await aggregatesOf('shoppulse');
    const lean = await aggregatesOf('shoppulse-lean');

    // The stream has every kind of figure the comparison covers.
    assert.ok(plain.perMinute.length >= 2, 'several minutes of behaviour');
    assert.ok(plain.revenue.length > 0, 'revenue in some windows');
    assert.ok(plain.stock.length > 100, 'stock for many products');
    assert.ok(sp.top.length === 10, 'ShopPulse shows its top 10 products');
    assert.deepEqual(compareExact(persp, plain, ['perspective', 'plain']), []);
    assert.deepEqual(compareShopPulse(sp, plain, 'plain'), []);
    assert.deepEqual(compareShopPulse(sp, persp, 'perspective'), []);
    assert.deepEqual(compareShopPulse(lean, plain, 'plain'), [], 'recommendations and sync off');
    assert.deepEqual(lean, sp, 'the same aggregates with or without recommendations and sync');
    assert.equal(await pages['shoppulse-lean'].page.getByTestId('recommendations-off').isVisible(), true);
    for (const [name, { page, errors }] of Object.entries(pages)) {
      assert.deepEqual(errors, [], `${name}: no page errors`);
      if (!name.startsWith('shoppulse')) assert.deepEqual(await page.evaluate(() => window.__bench.state.errors), [], `${name}: no feed errors`);
    }
  } finally {
    src.close();
    await browser.close();
    await stat.close();
    await gw.stop();
  }
});

test('the comparison notices a wrong aggregate (it can fail)', () => {
  const exact = {
    applied: 3,
    perMinute: [[60_000, [2, 1, 0, 0, 0, 0]]],
    revenue: [[60_000, 'web', 1250]],
    top: [['7', 5]],
    stock: [['7', 11]],
  };
  const sp = {
    applied: 3,
    per_minute: [[60_000, [2, 1, 0, 0, 0, 0]]],
    revenue: [[60_000, 'web', 1250]],
    top: [[7, 5, 0]],
    stock: [[7, 11]],
  };
  assert.deepEqual(compareShopPulse(sp, exact), []);
  assert.notDeepEqual(compareShopPulse({ ...sp, per_minute: [[60_000, [2, 0, 0, 0, 0, 0]]] }, exact), []);
  assert.notDeepEqual(compareShopPulse({ ...sp, revenue: [[60_000, 'web', 1249]] }, exact), []);
  assert.notDeepEqual(compareShopPulse({ ...sp, top: [[7, 4, 0]] }, exact), []);
  assert.notDeepEqual(compareShopPulse({ ...sp, stock: [[7, 10]] }, exact), []);
  assert.notDeepEqual(compareExact({ ...exact, revenue: [[60_000, 'app', 1250]] }, exact), []);
});
