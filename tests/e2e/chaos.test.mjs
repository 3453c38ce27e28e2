// Chaos: a dashboard in real Chromium behind a TCP proxy that cuts its
// connections at random moments (also in the middle of frames), while the
// gateway replaying a known stream is killed with SIGKILL and restarted on
// the same port several times. At the end the page must show exactly the
// totals computed from the stream file: events applied and refused, orders,
// revenue per channel, stock of every product. Seeded (CHAOS_SEED), bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGateway, launchBrowser, openDashboard, WHOLE_PAGE, until, freePort, shot, ARTIFACTS, metric } from './harness.mjs';
import { Proxy } from './proxy.mjs';
import { rng, writeStream, expectedTotals, pageTotals, compareTotals } from './stream.mjs';

const SEED = Number(process.env.CHAOS_SEED ?? 6);
const EVENTS = 30_000;
// ~1800 s of event time at 90x: about 20 s per full replay.
const SPEED = '90';
const KILLS = 3;

let browser;
let dir;
before(async () => {
  browser = await launchBrowser();
  dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-chaos-'));
});
after(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function health(gw) {
  const res = await fetch(`${gw.url}/healthz`);
  return res.json();
}

test(`chaos (seed ${SEED}): random cuts and gateway kills, the page ends with the stream's exact totals`, async () => {
  const started = Date.now();
  const r = rng(SEED);
  const file = path.join(dir, 'stream.ndjson');
  const lines = writeStream(file, { seed: SEED, events: EVENTS });
  const want = expectedTotals(lines);
  const port = await freePort();
  const args = ['--replay', file, '--speed', SPEED];
  let gw = await startGateway(args, { port });
  const epoch = (await health(gw)).epoch;
  // A quarter of the connections are cut after a random number of bytes.
  let tearing = true;
  const proxy = new Proxy(port, {
    rand: r,
    cutAfterBytes: () => (tearing && r() < 0.25 ? Math.floor(r() * 400_000) : null),
  });
  const proxyPort = await proxy.listen();
  const stats = { kills: 0, resumes: 0, gaps: 0, timedCuts: 0 };
  let watching = true;
  try {
  const { page, errors } = await openDashboard(browser, `${gw.url}/?feed=ws://127.0.0.1:${proxyPort}/ws`, WHOLE_PAGE);

  // Watch the page: what it shows must never go backwards.
  const samples = { n: 0, backwards: [] };
  let prev = { applied: 0, lastSeq: 0 };
  const watcher = (async () => {
    while (watching) {
      const now = await page
        .evaluate(() => {
          const s = document.querySelector('[data-testid="feed-health"]');
          return s ? { applied: Number(s.dataset.applied), lastSeq: Number(s.dataset.lastSeq) } : null;
        })
        .catch(() => null);
      if (now && Number.isFinite(now.applied)) {
        samples.n += 1;
        if (now.applied < prev.applied || now.lastSeq < prev.lastSeq) {
          samples.backwards.push(`${JSON.stringify(prev)} -> ${JSON.stringify(now)}`);
        }
        prev = now;
      }
      await sleep(200);
    }
  })();

  const scrape = async () => {
    stats.resumes += await metric(gw, 'shoppulse_feed_resumes_total');
    stats.gaps += await metric(gw, 'shoppulse_feed_gaps_total');
  };

  // Faults: proxy cuts every 0.6-2.5 s; a SIGKILL 3-8 s into each replay run.
  let nextCut = Date.now() + 600 + r() * 1900;
  for (let k = 0; k < KILLS; k += 1) {
    const killAt = Date.now() + 3000 + r() * 5000;
    while (Date.now() < killAt) {
      if (Date.now() >= nextCut) {
        stats.timedCuts += proxy.cutAll() > 0 ? 1 : 0;
        nextCut = Date.now() + 600 + r() * 1900;
      }
      await sleep(50);
    }
    await scrape();
    await gw.stop(); // SIGKILL
    stats.kills += 1;
    await sleep(100 + r() * 1200);
    gw = await startGateway(args, { port });
    assert.equal((await health(gw)).epoch, epoch, 'the replay keeps its epoch across restarts');
  }
  // Keep cutting until the last run has replayed the whole file.
  await until(
    async () => {
      if (Date.now() >= nextCut) {
        stats.timedCuts += proxy.cutAll() > 0 ? 1 : 0;
        nextCut = Date.now() + 600 + r() * 1900;
      }
      return (await health(gw)).head_seq === want.sequenced;
    },
    60_000,
    `the gateway to replay all ${want.sequenced} lines`,
  );
  tearing = false;
  // Then the page must catch up to the head and show the stream's totals.
  let last;
  await until(
    async () => {
      const s = await pageTotals(page);
      last = { state: s.state, epoch: s.epoch, lastSeq: s.lastSeq, applied: s.applied, gaps: s.gaps, detail: await page.getByTestId('conn-detail').innerText() };
      return s.epoch === epoch && s.lastSeq === want.sequenced && s.applied === want.applied;
    },
    30_000,
    'the page to reach the head',
  ).catch((e) => {
    throw new Error(`${e.message}; page: ${JSON.stringify(last)}; want ${want.sequenced} / ${want.applied}`);
  });
  // One animation frame more for the tables.
  await sleep(300);
  watching = false;
  await watcher;
  await scrape();
  const shown = await pageTotals(page);
  const faults = proxy.cuts + stats.kills;
  const report = {
    seed: SEED,
    lines: lines.length,
    events_checked: want.sequenced,
    applied: want.applied,
    rejected: want.rejected,
    orders: want.orders,
    channels: Object.keys(want.channels).length,
    products: Object.keys(want.stock).length,
    faults_injected: faults,
    proxy_cuts: proxy.cuts,
    gateway_kills: stats.kills,
    connections_through_proxy: proxy.accepted,
    resumes_served: stats.resumes,
    gaps_served: stats.gaps,
    page_gaps: shown.gaps,
    page_samples: samples.n,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(`chaos: ${JSON.stringify(report)}`);
  writeFileSync(path.join(ARTIFACTS, 'chaos.json'), JSON.stringify(report, null, 2) + '\n');
  await shot(page, 'chaos-end');

  assert.deepEqual(compareTotals(shown, want), [], 'the page shows exactly the stream totals');
  assert.deepEqual(samples.backwards, [], 'applied and last-seq never went backwards');
  assert.ok(faults >= KILLS + 5, `enough faults injected: ${faults}`);
  assert.ok(stats.resumes >= 3, `dashboards resumed: ${stats.resumes}`);
  const crashes = errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e));
  assert.deepEqual(crashes, [], 'no page error or panic');
  } finally {
    watching = false;
    await proxy.close();
    await gw.stop();
  }
});
