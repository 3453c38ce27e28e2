// The dashboard asks the gateway for binary `bin1` events frames by default
// and for JSON with `?encoding=json`; fed the same stream, both pages must
// show exactly the same figures (issue 5: the binary batch encoding). Both
// take their snapshot as a binary `snap1` message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedGatewayAndBrowser, ingest, openDashboard, WHOLE_PAGE, until, readCount, sectionTexts } from './harness.mjs';

const shared = sharedGatewayAndBrowser([]);

/** Counts the WebSocket messages a page receives: `bin1` events (binary,
 * `SPB1`), `snap1` snapshots (binary, `SPS1`), JSON events and snapshots. */
function countFrames(page) {
  const seen = { binary: 0, snap1: 0, textEvents: 0, textSnapshots: 0 };
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string') {
        if (payload.startsWith('{"type":"events"')) seen.textEvents += 1;
        if (payload.startsWith('{"type":"snapshot"')) seen.textSnapshots += 1;
      } else if (Buffer.from(payload).subarray(0, 4).toString('latin1') === 'SPS1') {
        seen.snap1 += 1;
      } else {
        seen.binary += 1;
      }
    });
  });
  return seen;
}

function stream() {
  const lines = [];
  for (let i = 1; i <= 120; i += 1) {
    const ts = `2026-11-22T10:${String(Math.floor(i / 4)).padStart(2, '0')}:00Z`;
    lines.push({ kind: 'behavior', ts, user: i % 7, action: ['browse', 'add_to_cart', 'purchase'][i % 3], product: `SKU-${i % 5}`, channel: 'web' });
    if (i % 10 === 0) {
      lines.push({ kind: 'order', ts, order: `A-${i}`, channel: i % 20 ? 'web' : 'app', status: 'paid', total_cents: 1000 + i, currency: 'GBP', lines: [{ product: `SKU-${i % 5}`, quantity: 1, unit_price_cents: 1000 + i }] });
      lines.push({ kind: 'sync', ts, order: `A-${i}`, channel: 'web', target: 'payment', status: i % 30 ? 'synced' : 'failed', latency_ms: i, error: i % 30 ? undefined : '<b>"timeout"</b>' });
      lines.push({ product_id: `SKU-${i % 5}`, quantity: i % 12 });
    }
  }
  lines.push({ date: '2021-09-01', sales: 12.5 });
  return lines;
}

test('binary and JSON dashboards show the same figures from the same stream', async () => {
  // `?worker=0`: the socket on the page's thread, where Playwright sees its
  // frames (a worker's socket is not reported to the page).
  const sep = shared.gw.url.includes('?') ? '&' : '?';
  const bin = await openDashboard(shared.browser, `${shared.gw.url}${sep}worker=0`, WHOLE_PAGE);
  const binFrames = countFrames(bin.page);
  await bin.page.reload();
  const json = await openDashboard(shared.browser, `${shared.gw.url}${sep}worker=0&encoding=json`, WHOLE_PAGE);
  const jsonFrames = countFrames(json.page);
  await json.page.reload();
  for (const { page } of [bin, json]) {
    await until(async () => (await page.getByTestId('conn-status').innerText()).toLowerCase().includes('live'), 15_000, 'live');
  }
  const events = stream();
  const res = await ingest(shared.gw.url, events);
  assert.equal(res.accepted, events.length, JSON.stringify(res));
  await ingest(shared.gw.url, [{ not: 'an event' }]); // a rejection notice, also sequenced
  for (const { page } of [bin, json]) {
    await until(async () => (await readCount(page, 'events-applied')) >= events.length, 15_000, 'all applied');
    await until(async () => (await readCount(page, 'events-rejected')) === 1, 10_000, 'the rejection counted');
  }
  for (const id of ['events-applied', 'events-rejected']) {
    assert.equal(await readCount(bin.page, id), await readCount(json.page, id), id);
  }
  const sections = ['behavior-log', 'sales-total', 'sync-matrix', 'low-stock', 'sales-figures'];
  const [tb, tj] = await sectionTexts(bin.page, json.page, sections);
  sections.forEach((id, i) => assert.equal(tb[i], tj[i], `${id} is the same either way`));
  assert.ok(binFrames.binary > 0, `the default page got binary frames: ${JSON.stringify(binFrames)}`);
  assert.equal(binFrames.textEvents, 0, 'and no JSON events frames');
  assert.equal(jsonFrames.binary, 0, `?encoding=json gets no binary events frames: ${JSON.stringify(jsonFrames)}`);
  assert.ok(jsonFrames.textEvents > 0);
  // Snapshots come as `snap1` either way, never as JSON.
  for (const f of [binFrames, jsonFrames]) {
    assert.ok(f.snap1 >= 1, `a snap1 snapshot: ${JSON.stringify(f)}`);
    assert.equal(f.textSnapshots, 0, `no JSON snapshot: ${JSON.stringify(f)}`);
  }
  assert.deepEqual(bin.errors, []);
  assert.deepEqual(json.errors, []);
});
