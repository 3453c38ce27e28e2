// The gateway restarts on another stream (a new epoch): the dashboard cannot
// resume, says so ("gap — resynced", the reason), takes the new stream's
// snapshot, shows exactly the new stream's totals, and marks the sales
// windows it could not see whole as incomplete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, launchBrowser, openDashboard, WHOLE_PAGE, until, freePort, shot } from './harness.mjs';
import { writeStream, expectedTotals, pageTotals, compareTotals } from './stream.mjs';

let browser;
let dir;
before(async () => {
  browser = await launchBrowser();
  dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-gap-'));
});
after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const incompleteWindows = (page) =>
  page.evaluate(() => document.querySelectorAll('[data-testid="sales-windows"] [data-incomplete="true"]').length);

test('a restart on another stream is a gap: said, resynced, new totals exact, windows marked incomplete', async () => {
  const a = path.join(dir, 'a.ndjson');
  const b = path.join(dir, 'b.ndjson');
  const wantA = expectedTotals(writeStream(a, { seed: 21, events: 4_000 }));
  const wantB = expectedTotals(writeStream(b, { seed: 22, events: 5_000, startMs: Date.UTC(2024, 2, 2, 10) }));
  const port = await freePort();
  let gw = await startGateway(['--replay', a, '--speed', 'max'], { port });
  try {
    const { page, errors } = await openDashboard(browser, gw.url, WHOLE_PAGE);
    await until(async () => (await pageTotals(page)).lastSeq === wantA.sequenced, 20_000, 'stream A applied');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(compareTotals(await pageTotals(page), wantA), []);
    assert.equal(await incompleteWindows(page), 0, 'nothing incomplete on a whole stream');
    const epochA = (await pageTotals(page)).epoch;

    await gw.stop();
    gw = await startGateway(['--replay', b, '--speed', 'max'], { port });
    await until(async () => (await pageTotals(page)).gaps === 1, 20_000, 'the gap is reported');
    await until(async () => (await pageTotals(page)).lastSeq === wantB.sequenced, 20_000, 'stream B applied');
    await new Promise((r) => setTimeout(r, 300));
    const shown = await pageTotals(page);
    assert.notEqual(shown.epoch, epochA);
    assert.deepEqual(compareTotals(shown, wantB), [], 'exactly the new stream, nothing of the old one');
    const status = await page.getByTestId('conn-status').innerText();
    const detail = await page.getByTestId('conn-detail').innerText();
    assert.match(status, /gap — resynced/);
    assert.match(detail, /gaps 1 \(last: epoch_changed\)/);
    assert.ok((await incompleteWindows(page)) >= 1, 'the open windows are marked incomplete');
    await shot(page, 'gap-resynced');
    const crashes = errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e));
    assert.deepEqual(crashes, []);
  } finally {
    await gw.stop();
  }
});
