// Soak: an accelerated long run. A simulated shop is recorded to a file
// (`shoppulse-feed simulate`) in two parts and replayed at 60x real time by
// event time:
// - a prefill of 2.5 million events (20 s of wall time), enough to fill
//   every bounded structure of the operators (seen orders, shoppers, sync
//   states...) so what follows shows the steady state, not the warm-up;
// - then the live part, 1 s of event time per 50 events (3000 events/s at
//   60x), with a dashboard open in Chromium (it joins with the snapshot of
//   the prefilled engine).
// Every few seconds: the gateway's RSS (/proc), its queue and history
// gauges (/metrics), and the page's JS heap after a forced GC, wasm memory
// and DOM size (Chrome DevTools Protocol). Memory must be flat in the
// second half of the live part (growth under 5%, or under 1 MiB / 500 DOM
// nodes for the small figures, whose jitter is larger) and no queue may
// grow.
//
//   node tests/e2e/soak.mjs [MINUTES] [EVENTS_PER_S]     (scripts/soak.sh)
//
// The test suite runs a one-minute version (soak.test.mjs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEED_BIN, ARTIFACTS, startGateway, launchBrowser, openDashboard, until } from './harness.mjs';

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

const SIM_RATE = 50; // live part: simulated events per second of event time
const PREFILL = 2_500_000; // events replayed before the dashboard opens
const PREFILL_WALL_S = 20;
const T0 = Date.UTC(2024, 10, 1);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Writes the prefill and `events` live events, gzipped, to `file`. */
function record(file, events, speed) {
  const prefillSpan = PREFILL_WALL_S * speed; // event-time seconds
  const iso = (ms) => new Date(ms).toISOString();
  const a = `"$BIN" simulate --seed 9 --rate ${Math.round(PREFILL / prefillSpan)} --sim-start ${iso(T0)} --events ${PREFILL}`;
  const b = `"$BIN" simulate --seed 10 --rate ${SIM_RATE} --sim-start ${iso(T0 + prefillSpan * 1000)} --events ${events}`;
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', `{ ${a} && ${b}; } | gzip -1 > "$OUT"`], {
      env: { ...process.env, BIN: FEED_BIN, OUT: file },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    sh.stderr.on('data', (d) => (err += d));
    sh.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulate failed: ${err}`))));
  });
}

function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : NaN;
}

async function gauges(gw) {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const get = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  };
  return {
    head: get('shoppulse_feed_head_seq'),
    history: get('shoppulse_feed_history_events'),
    queuedFrames: get('shoppulse_feed_queued_frames'),
    queuedBytes: get('shoppulse_feed_queued_bytes'),
    maxQueuedFrames: get('shoppulse_feed_max_queued_frames'),
    dropped: get('shoppulse_feed_dropped_slow_connections_total'),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/** Growth from the middle of the run to its end (medians of the samples around each). */
export function secondHalfGrowth(samples, key) {
  const n = samples.length;
  const mid = median(samples.slice(Math.floor(n * 0.45), Math.ceil(n * 0.55)).map((s) => s[key]));
  const end = median(samples.slice(Math.floor(n * 0.9)).map((s) => s[key]));
  const growth = mid === 0 ? (end === 0 ? 0 : Infinity) : (end - mid) / mid;
  return { mid, end, growth };
}

/**
 * Runs the soak; returns {samples, growth, report}. Throws nothing: the
 * caller asserts.
 */
export async function runSoak({ seconds = 60, rate = 3000, interval = 3, log = console.log } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-soak-'));
  const file = path.join(dir, 'soak.ndjson.gz');
  const events = Math.ceil((seconds + 60) * rate); // the live part outlasts a slow prefill
  const speed = rate / SIM_RATE;
  const t0 = Date.now();
  await record(file, events, speed);
  log(`soak: recorded ${PREFILL} + ${events} events in ${((Date.now() - t0) / 1000).toFixed(1)} s; replaying at ${speed}x`);
  const gw = await startGateway(['--replay', file, '--speed', String(speed), '--history', '50000']);
  await until(async () => (await gauges(gw)).head >= PREFILL, 120_000, 'the prefill');
  log(`soak: prefill of ${PREFILL} events done ${((Date.now() - t0) / 1000).toFixed(1)} s in; the dashboard opens, live for ${seconds} s`);
  const browser = await launchBrowser();
  const samples = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    await context.addInitScript(() => {
      addEventListener('TrunkApplicationStarted', (e) => {
        window.__wasmMemory = e.detail?.wasm?.memory;
      });
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    await page.goto(gw.url);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await until(() => page.evaluate(() => Boolean(window.__wasmMemory)), 15_000, 'wasm memory handle');
    const start = Date.now();
    while (Date.now() - start < seconds * 1000) {
      await sleep(interval * 1000);
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      const { metrics } = await cdp.send('Performance.getMetrics');
      const metric = (n) => metrics.find((m) => m.name === n)?.value ?? NaN;
      const page_ = await page.evaluate(() => {
        const s = document.querySelector('[data-testid="feed-health"]');
        return {
          lastSeq: Number(s?.dataset.lastSeq),
          applied: Number(s?.dataset.applied),
          // The page's wasm plus the engine worker's (0 when the operators
          // run on the page's thread).
          wasm: (window.__wasmMemory?.buffer.byteLength ?? NaN) + (window.__shoppulse_host_memory?.() ?? 0),
          detail: document.querySelector('[data-testid="conn-detail"]')?.innerText ?? '',
        };
      });
      const g = await gauges(gw);
      const s = {
        t: Math.round((Date.now() - start) / 1000),
        rssKb: rssKb(gw.child.pid),
        ...g,
        behind: g.head - page_.lastSeq,
        applied: page_.applied,
        wasmBytes: page_.wasm,
        jsHeap: heap.usedSize,
        domNodes: metric('Nodes'),
        listeners: metric('JSEventListeners'),
        disconnects: /disconnects (\d+)/.exec(page_.detail)?.[1] ?? '0',
      };
      samples.push(s);
      log(
        `t=${String(s.t).padStart(4)}s head=${s.head} page behind=${s.behind} gw rss=${(s.rssKb / 1024).toFixed(1)}MB ` +
          `queued=${s.queuedFrames}f/${s.queuedBytes}B history=${s.history} wasm=${(s.wasmBytes / 1048576).toFixed(1)}MB ` +
          `js=${(s.jsHeap / 1048576).toFixed(1)}MB dom=${s.domNodes} listeners=${s.listeners} disconnects=${s.disconnects}`,
      );
    }
    const growth = {};
    for (const k of ['rssKb', 'wasmBytes', 'jsHeap', 'domNodes', 'listeners']) growth[k] = secondHalfGrowth(samples, k);
    const report = {
      seconds,
      events_per_s: rate,
      prefill_events: PREFILL,
      live_events: (samples.at(-1)?.head ?? 0) - PREFILL,
      live_event_time_hours: +(((samples.at(-1)?.head ?? 0) - PREFILL) / SIM_RATE / 3600).toFixed(2),
      samples: samples.length,
      growth_second_half_pct: Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, +(v.growth * 100).toFixed(2)])),
      end: {
        gateway_rss_mb: +(samples.at(-1).rssKb / 1024).toFixed(1),
        wasm_mb: +(samples.at(-1).wasmBytes / 1048576).toFixed(1),
        js_heap_mb: +(samples.at(-1).jsHeap / 1048576).toFixed(1),
        dom_nodes: samples.at(-1).domNodes,
      },
      max_queued_frames: Math.max(...samples.map((s) => s.maxQueuedFrames)),
      max_queued_bytes: Math.max(...samples.map((s) => s.queuedBytes)),
      queued_frames_first_half: Math.max(0, ...samples.slice(0, samples.length >> 1).map((s) => s.maxQueuedFrames)),
      queued_frames_second_half: Math.max(0, ...samples.slice(samples.length >> 1).map((s) => s.maxQueuedFrames)),
      // Growth is a trend, not one sample: the mean of each half.
      queued_frames_mean_first_half: mean(samples.slice(0, samples.length >> 1).map((s) => s.maxQueuedFrames)),
      queued_frames_mean_second_half: mean(samples.slice(samples.length >> 1).map((s) => s.maxQueuedFrames)),
      max_behind: Math.max(...samples.map((s) => s.behind)),
      dropped_slow: samples.at(-1).dropped,
      page_errors: errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e)),
    };
    writeFileSync(path.join(ARTIFACTS, `soak-${seconds}s.json`), JSON.stringify({ report, samples }, null, 2) + '\n');
    return { samples, growth, report };
  } finally {
    await browser.close();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Absolute jitter allowed on top of 5%, per figure. */
const SLACK = { rssKb: 1024, wasmBytes: 1 << 20, jsHeap: 1 << 20, domNodes: 500, listeners: 20 };

/** The soak's pass/fail rules; returns the failures (empty: pass). */
export function soakFailures({ growth, report }) {
  const out = [];
  for (const [k, v] of Object.entries(growth)) {
    if (!(v.growth < 0.05 || v.end - v.mid < SLACK[k])) {
      out.push(`${k} grew ${(v.growth * 100).toFixed(1)}% in the second half (${v.mid} -> ${v.end})`);
    }
  }
  // A loaded machine can stall the page for a moment, leaving one sample
  // with a few dozen queued frames (regression: 1 then 34 at load 4 failed
  // a healthy run); a queue that grows raises the mean of the second half.
  if (report.queued_frames_mean_second_half > Math.max(2 * report.queued_frames_mean_first_half, 16)) {
    out.push(`queues grew: ${report.queued_frames_mean_first_half.toFixed(1)} frames on average in the first half, ${report.queued_frames_mean_second_half.toFixed(1)} in the second (max ${report.queued_frames_first_half} / ${report.queued_frames_second_half})`);
  }
  if (report.dropped_slow !== 0) out.push(`the dashboard was dropped as slow ${report.dropped_slow} times`);
  if (report.page_errors.length) out.push(`page errors: ${report.page_errors.join('; ')}`);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const minutes = Number(process.argv[2] ?? 10);
  const rate = Number(process.argv[3] ?? 3000);
  const result = await runSoak({ seconds: Math.round(minutes * 60), rate, interval: minutes > 2 ? 10 : 2 });
  console.log(JSON.stringify(result.report, null, 2));
  const failures = soakFailures(result);
  if (failures.length) {
    console.error(`soak FAILED:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('soak passed: memory flat, queues bounded');
}
