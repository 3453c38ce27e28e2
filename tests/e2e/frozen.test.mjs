// A frozen tab: one dashboard's JavaScript is paused (Chrome DevTools
// Protocol `Debugger.pause`: no frame is read, no heartbeat is sent) while
// the simulator runs fast. The gateway's per-connection bound (queue or
// client timeout) drops it; another dashboard stays live the whole time and
// is never dropped. When the frozen tab wakes it reconnects; its point is
// no longer in the (small) history, so it gets a gap and a snapshot, says
// so, and ends with exactly the same totals as the live one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startGateway, launchBrowser, openDashboard, WHOLE_PAGE, until, shot, ARTIFACTS, metric as harnessMetric, healthStrip } from './harness.mjs';
import { pageTotals, compareTotals } from './stream.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const metric = (gw, name) => harnessMetric(gw, name, { missing: NaN });
const strip = healthStrip;

test('a frozen tab is dropped by its own bound, the others stay live, and it recovers when it wakes', async () => {
  const EVENTS = 70_000;
  const gw = await startGateway([
    '--simulate', '--seed', '11', '--rate', '2000', '--sim-start', '2024-11-29T09:00:00Z',
    '--sim-events', String(EVENTS), '--history', '4000', '--client-queue', '256',
  ]);
  try {
    // `?worker=0`: the operators on the page's thread, so pausing the page's
    // JavaScript stops the reading too (with a worker, the worker would keep
    // reading while the page is frozen).
    const live = await openDashboard(browser, `${gw.url}/?worker=0`, WHOLE_PAGE);
    const frozen = await openDashboard(browser, `${gw.url}/?worker=0`, WHOLE_PAGE);
    for (const p of [live.page, frozen.page]) {
      await until(async () => (await strip(p)).state === 'live', 15_000, 'live');
    }
    await until(async () => (await strip(frozen.page)).lastSeq > 2_000, 15_000, 'frozen tab applying');
    const cdp = await frozen.context.newCDPSession(frozen.page);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    const t0 = Date.now();
    // The live tab keeps advancing every second while the other is frozen;
    // the frozen one is dropped by the gateway.
    let droppedMs;
    let lastLive = (await strip(live.page)).lastSeq;
    let stalls = 0;
    while (Date.now() - t0 < 14_000) {
      await sleep(1_000);
      const s = await strip(live.page);
      if (s.lastSeq <= lastLive) stalls += 1;
      lastLive = s.lastSeq;
      assert.equal(s.state, 'live', 'the live tab never leaves live');
      if (droppedMs === undefined && (await metric(gw, 'shoppulse_feed_connections')) === 1) droppedMs = Date.now() - t0;
    }
    assert.ok(stalls <= 1, `the live tab kept advancing (${stalls} stalled seconds)`);
    assert.ok(droppedMs !== undefined, 'the frozen tab was dropped');
    const slow = await metric(gw, 'shoppulse_feed_dropped_slow_connections_total');
    const timeouts = await metric(gw, 'shoppulse_feed_client_timeouts_total');
    assert.equal(slow + timeouts, 1, 'dropped once, by its queue bound or its silence');
    await cdp.send('Debugger.resume');
    // It wakes, reconnects, gets gap + snapshot (its point left the
    // 4000-event history), shows it, and catches up.
    await until(async () => (await strip(frozen.page)).gaps >= 1, 20_000, 'gap reported');
    const woke = await strip(frozen.page);
    assert.match(woke.detail, /history_gone/);
    await until(
      async () => (await strip(frozen.page)).lastSeq === EVENTS && (await strip(live.page)).lastSeq === EVENTS,
      60_000,
      'both tabs at the end of the stream',
    );
    await sleep(300);
    const a = await pageTotals(live.page);
    const b = await pageTotals(frozen.page);
    assert.equal(a.applied, EVENTS);
    assert.deepEqual(compareTotals(b, a), [], 'the woken tab shows what the live one shows');
    assert.equal((await strip(live.page)).gaps, 0, 'the live tab never had a gap');
    await shot(frozen.page, 'frozen-recovered');
    const report = {
      dropped_after_ms: droppedMs,
      dropped_as: slow ? 'slow_consumer' : 'timeout',
      live_stalled_seconds: stalls,
      recovered_by: 'gap + snapshot (history_gone)',
      events_checked: EVENTS,
    };
    console.log(`frozen tab: ${JSON.stringify(report)}`);
    writeFileSync(path.join(ARTIFACTS, 'frozen.json'), JSON.stringify(report, null, 2) + '\n');
    for (const p of [live, frozen]) {
      const crashes = p.errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e));
      assert.deepEqual(crashes, []);
    }
  } finally {
    await gw.stop();
  }
});
