// A dead connection that TCP does not notice: a proxy between the page and
// the gateway stops forwarding in both directions but keeps both sockets
// open. Heartbeats (every 2 s each way) must reveal it on both sides: the
// page within 6 s (then it reconnects and resumes), the gateway within its
// --client-timeout-ms (default 10 s).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startGateway, launchBrowser, openDashboard, until, ARTIFACTS, metric as harnessMetric, healthStrip } from './harness.mjs';
import { Proxy } from './proxy.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const metric = (gw, name) => harnessMetric(gw, name, { missing: NaN });
const strip = healthStrip;

test('a silent dead link is detected by heartbeats on both sides, then the page resumes', async () => {
  const gw = await startGateway(['--simulate', '--seed', '3', '--rate', '300']);
  const proxy = new Proxy(gw.port);
  const proxyPort = await proxy.listen();
  try {
    const { page, errors } = await openDashboard(browser, `${gw.url}/?feed=ws://127.0.0.1:${proxyPort}/ws`);
    await until(async () => (await strip(page)).state === 'live' && (await strip(page)).lastSeq > 0, 15_000, 'live');
    await until(async () => (await metric(gw, 'shoppulse_feed_connections')) === 1, 5_000, 'one connection');
    const before = await strip(page);
    // The path dies silently: nothing is closed, nothing gets through.
    const t0 = Date.now();
    assert.equal(proxy.blackhole(), 1);
    let pageMs;
    let gatewayMs;
    await until(
      async () => {
        if (pageMs === undefined && (await strip(page)).state !== 'live') pageMs = Date.now() - t0;
        if (gatewayMs === undefined && (await metric(gw, 'shoppulse_feed_client_timeouts_total')) >= 1) {
          gatewayMs = Date.now() - t0;
        }
        return pageMs !== undefined && gatewayMs !== undefined;
      },
      20_000,
      'both sides to notice',
    );
    const after = await strip(page);
    console.log(`dead link: page noticed after ${pageMs} ms, gateway after ${gatewayMs} ms`);
    writeFileSync(
      path.join(ARTIFACTS, 'deadlink.json'),
      JSON.stringify({ page_detect_ms: pageMs, gateway_detect_ms: gatewayMs }, null, 2) + '\n',
    );
    // Not TCP (nothing was closed): the page's 6 s silence rule, the
    // gateway's 10 s client timeout.
    assert.ok(pageMs >= 5_000 && pageMs <= 8_000, `page noticed after ${pageMs} ms`);
    assert.ok(gatewayMs >= 9_000 && gatewayMs <= 13_000, `gateway noticed after ${gatewayMs} ms`);
    // The page reconnects (new connections get through) and resumes
    // exactly where it was: no gap.
    await until(async () => (await strip(page)).state === 'live', 10_000, 'live again');
    const resumed = await strip(page);
    assert.match(resumed.detail, /nothing received for 6 s/);
    assert.equal(resumed.gaps, 0, 'resumed, no gap');
    assert.ok((await metric(gw, 'shoppulse_feed_resumes_total')) >= 1, 'served as a resume');
    await until(async () => (await strip(page)).lastSeq > after.lastSeq + 300, 10_000, 'applying again');
    assert.ok(resumed.lastSeq >= before.lastSeq);
    const crashes = errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e));
    assert.deepEqual(crashes, []);
  } finally {
    await proxy.close();
    await gw.stop();
  }
});
