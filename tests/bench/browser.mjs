#!/usr/bin/env node
// The browser benchmarks, in one run of one headless Chromium, fed by the
// real gateway (`shoppulse-feed`, release build) over real WebSockets with
// the simulator's stream (seed 7, fixed start):
//
//  1. side by side: (a) ShopPulse, (b) FINOS Perspective, (c) plain
//     JavaScript (JSON.parse + Maps), each on a fresh page:
//     - a rate sweep from a gateway whose history holds the sweep's stream,
//       sent on a schedule (`--resume-pace`: 10k to 2M events/s, 4 s or
//       3 s per step): the highest rate each keeps up with while p99 frame
//       time stays <= 16.7 ms ("at the frame-time bound"), with long tasks
//       counted;
//     - the maximum (the whole 6M-event history as fast as the page takes
//       it), with p99 frame time and memory recorded;
//  2. the same stream to all three at once (via /ingest) and their
//     aggregates compared;
//  3. ShopPulse only: event-to-pixel latency at 10,000 ev/s (/ingest),
//     start-up (wasm size gzipped, first live data after navigation),
//     memory over an accelerated hour of feed at 10,000 ev/s of event time.
//
// Chromium is driven over a minimal CDP client (cdp.mjs) that never enables
// the Network domain. Measurements are taken in the page (instrument.js).
//
// Usage: node --experimental-websocket tests/bench/browser.mjs
//          [--quick] [--json FILE] [--hour-minutes N] [--clients a,b] [--side-only] [--profile DIR]
//          [--encoding bin1|json]   (ShopPulse's events frames; default: what the dashboard asks for, bin1)
//          [--only side,same,latency,startup,memory]   (run only these parts; default: all)
//          [--trace]   (DevTools timeline of the latency run: main-thread time per kind of work)
// Environment: SHOPPULSE_WINDOW=WxH (the pages' window, default 1440x1000); SHOPPULSE_DIST (the
// dashboard build); SHOPPULSE_TRACE_CATEGORIES, SHOPPULSE_PROBE (diagnostics of the latency run).
// Prints a table; --json writes every figure.
import { gzipSync } from 'node:zlib';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { WINDOW, launchChromium, newPage } from './cdp.mjs';
import { compareExact, compareShopPulse, productsJson } from './compare.mjs';
import {
  INSTRUMENT, QUEUE_ARGS, ROOT, pacedStart, post, prefilled, pushClosed, pushPaced, quantile, selfTimes, simSource,
  startGateway, traceSummary, until,
} from './lib.mjs';
import { startStatic } from './server.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUICK = flag('--quick');
const HOUR_MINUTES = Number(opt('--hour-minutes', QUICK ? 3 : 60));
const DIST = process.env.SHOPPULSE_DIST ?? path.join(ROOT, 'dist');
const FRAME_BOUND_MS = 16.7;
// A frame delta is a whole number of vsync intervals plus the timer's
// jitter: an idle page reads 16.7-16.8 ms. A step is within the bound when
// its p99 delta is under FRAME_BOUND_MS + FRAME_JITTER_MS, i.e. at most 1 %
// of its frames took more than one interval.
const FRAME_JITTER_MS = 0.5;
// Before the sweep's steps the page is fed at the first rate for WARM_S
// seconds, measured apart ("cold"): the first seconds of a page's feed also
// pay for compiling its hot wasm functions (V8 tiers them up on the same
// two cores).
const WARM_S = QUICK ? 4 : 6;
const STEP_S = QUICK ? 3 : 4;
const STEP_HIGH_S = 3;
const RATES = QUICK
  ? [10_000, 50_000, 250_000]
  : [10_000, 15_000, 25_000, 35_000, 50_000, 75_000, 100_000, 150_000, 250_000, 350_000, 500_000, 750_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000];
// The maximum's history: long enough that the fastest client takes several
// seconds (2M events took 1.5 s on a quiet machine, shorter than the
// polling could resolve), polled every MAX_POLL_MS.
const MAX_EVENTS = QUICK ? 300_000 : 10_000_000;
const MAX_POLL_MS = 100;
const MAX_S = QUICK ? 10 : 30;
// ShopPulse three times: `shoppulse` as shipped (all five operators in a Web
// Worker), `shoppulse-main` (`?worker=0`: operators on the page's main
// thread) and `shoppulse-lean` (in a worker, `?off=recs,sync`: the
// recommendations and order-sync panels turned off, so it computes what the
// other clients compute: behaviour, inventory, sales).
const CLIENTS = opt('--clients', 'shoppulse,shoppulse-lean,shoppulse-main,perspective,plain').split(',');
const isShopPulse = (name) => name.startsWith('shoppulse');
/** The page query selecting where ShopPulse's operators run, and which. */
const hostQuery = (name) => ({ 'shoppulse-main': '&worker=0', 'shoppulse-lean': '&worker=1&off=recs,sync' })[name] ?? '&worker=1';
const ONLY_SIDE = flag('--side-only');
// --only a,b: the parts to run (side = rate sweep + maximum; same = same stream, same aggregates;
// latency; startup; memory). Default: all; --side-only is --only side.
const PARTS = new Set(opt('--only', ONLY_SIDE ? 'side' : 'side,same,latency,startup,memory').split(','));
// --profile DIR: CPU profiles (CDP Profiler) of each client's maximum run, saved as DIR/NAME.cpuprofile,
// and of the latency run (10k ev/s), saved as DIR/shoppulse-latency.cpuprofile.
const PROFILE = opt('--profile');
if (PROFILE) mkdirSync(PROFILE, { recursive: true });
// --trace: a DevTools timeline trace of the latency run; prints the main thread's time per
// event kind (script, style, layout, paint...) and saves PROFILE/shoppulse-latency.trace.json.
const TRACE = flag('--trace');
// --encoding json forces ShopPulse onto JSON events frames (`?encoding=json`); the comparison clients always read JSON.
const ENCODING = opt('--encoding', 'bin1');
const GATEWAY_ARGS = [...QUEUE_ARGS, '--history', '200000'];
const log = (...a) => console.error('[bench]', ...a);
const MB = (b) => (b == null ? null : Math.round((b / 1048576) * 10) / 10);

const chrome = await launchChromium();
const stat = await startStatic();
const results = {
  machine: `${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  browser: chrome.version,
  node: process.version,
  date: new Date().toISOString(),
  window: WINDOW,
};
log(results.machine, '·', results.browser);

/**
 * A fresh page with the instrumentation; ShopPulse's engine worker gets the
 * socket wrapper only for the latency run (`latency`), and is attached to
 * in every run (its memory is counted).
 */
async function instrumentedPage(name, { latency = false } = {}) {
  const page = await newPage(chrome.port);
  await page.send('Page.addScriptToEvaluateOnNewDocument', { source: INSTRUMENT });
  if (isShopPulse(name)) await page.instrumentWorkers(latency ? INSTRUMENT : '');
  return page;
}

/** `__perf.memory()` plus the JS heap of the page's workers; `totalBytes` for ShopPulse. */
async function memoryOf(page) {
  const m = await page.eval('__perf.memory()');
  m.workerJsHeapBytes = await page.workersHeapBytes();
  m.totalBytes = (m.jsHeapBytes ?? 0) + (m.wasmBytes ?? 0) + (m.workerWasmBytes ?? 0) + m.workerJsHeapBytes;
  return m;
}

async function openClient(name, gw, { latency = false } = {}) {
  const page = await instrumentedPage(name, { latency });
  const feed = encodeURIComponent(`ws://127.0.0.1:${gw.port}/ws`);
  const url = isShopPulse(name)
    ? `${gw.url}/?feed=${feed}${hostQuery(name)}${latency ? '&latency=1' : ''}${ENCODING === 'json' ? '&encoding=json' : ''}`
    : `${stat.url}/${name}.html?feed=${feed}`;
  await page.goto(url);
  const ready = isShopPulse(name)
    ? `document.querySelector('[data-state]')?.getAttribute('data-state') === 'live'`
    : `!!(window.__bench && __bench.state.open && __bench.state.errors.length === 0)`;
  await until(() => page.eval(ready), 30_000, `${name} connected`);
  await new Promise((r) => setTimeout(r, 500));
  return page;
}

async function errorsOf(page) {
  return page.eval(`window.__bench ? __bench.state.errors.concat(__bench.state.closed ? [__bench.state.closed] : []) : []`);
}

// The sweep's schedule (the gateway's `--resume-pace`), seconds from the
// start of a page's paced resume: IDLE_S without events (the idle frame
// times), WARM_S at RATES[0] ("cold"), then each rate for stepSecs(rate)
// after a pause of GAP_S (the previous step's tail drains).
const IDLE_S = 3;
const GAP_S = 0.3;
const stepSecs = (rate) => (rate >= 100_000 ? STEP_HIGH_S : STEP_S);
const SCHEDULE = [[0, IDLE_S], [RATES[0], WARM_S], ...RATES.flatMap((r) => [[0, GAP_S], [r, stepSecs(r)]])];
const SWEEP_EVENTS = SCHEDULE.reduce((n, [r, secs]) => n + r * secs, 0);

/** `prefilled` (lib.mjs), logged. */
async function prefilledLogged(events, extra = []) {
  const pre = await prefilled(events, extra);
  log(`history holds ${events} events (replayed in ${pre.seconds.toFixed(1)} s), epoch ${pre.epoch}`);
  return pre;
}

/** A fresh page for `name` that resumes the whole history of `gw` from sequence 0. */
async function resumingPage(name, { gw, epoch }) {
  const page = await instrumentedPage(name);
  // ShopPulse names its slow pieces of work in the console (src/views/widgets.rs `timed`).
  const opened = Date.now();
  page.on('Runtime.consoleAPICalled', (e) => {
    const text = e.args?.map((a) => a.value ?? '').join(' ') ?? '';
    if (text.startsWith('shoppulse slow task')) log(name, `  ${text} at ${((Date.now() - opened) / 1000).toFixed(1)} s after the page opened`);
  });
  const feed = encodeURIComponent(`ws://127.0.0.1:${gw.port}/ws`);
  const e = encodeURIComponent(epoch);
  const url = isShopPulse(name)
    ? `${gw.url}/?feed=${feed}&bench_resume_epoch=${e}${hostQuery(name)}${ENCODING === 'json' ? '&encoding=json' : ''}`
    : `${stat.url}/${name}.html?feed=${feed}&epoch=${e}`;
  return { page, url };
}

/**
 * Rate sweep for one client: the page resumes the paced gateway's history
 * from sequence 0 and the gateway sends it on SCHEDULE (pre-encoded frames of
 * 1,000 events, each released when the schedule allows its last event;
 * a page that cannot keep up holds the sender back through the socket).
 * Steps are timed from the gateway's own record of the schedule's start
 * (`/healthz` `resume_pace_started_ms`, same machine clock). A step "keeps
 * up" when at its end at most a quarter second of its events is scheduled
 * but not yet applied. The sweep stops at the first step that does not.
 */
async function sweep(name, paced) {
  const out = { sweep: [] };
  const { page, url } = await resumingPage(name, paced);
  try {
    const before = Date.now();
    await page.goto(url);
    const T = await pacedStart(paced.gw, before, `${name}'s paced resume to start`);
    const at = (s) => new Promise((r) => setTimeout(r, Math.max(0, T + s * 1000 - Date.now())));
    let t = 0.5;
    await at(t);
    await page.eval('__perf.start()');
    await at(IDLE_S - 0.2);
    out.idle = await page.eval('__perf.stop()');
    let due = 0;
    const step = async (rate, secs) => {
      await page.eval('__perf.start()');
      t += secs;
      due += rate * secs;
      await at(t);
      const applied = await page.eval('__perf.applied()');
      const f = await page.eval('__perf.stop()');
      return { rate, seconds: secs, due, applied, behind: due - applied, keptUp: due - applied <= rate * 0.25, ...f };
    };
    t = IDLE_S;
    await at(t);
    out.cold = await step(RATES[0], WARM_S);
    log(name, 'cold: first', WARM_S, 's at', RATES[0], 'p99 frame', out.cold.frameP99Ms?.toFixed(1), 'dropped', `${out.cold.droppedPct?.toFixed(1)}%`, 'behind', out.cold.behind);
    for (const rate of RATES) {
      t += GAP_S;
      await at(t);
      const x = await step(rate, stepSecs(rate));
      out.sweep.push(x);
      const longAt = x.longAtMs?.length ? ` (${x.longAtMs.map(([t, d]) => `${d} ms at ${(t / 1000).toFixed(1)} s`).join(', ')} after navigation)` : '';
      log(name, 'rate', rate, 'behind', x.behind, 'kept up', x.keptUp, 'p99 frame', x.frameP99Ms?.toFixed(1), 'dropped', `${x.droppedPct?.toFixed(1)}%`, 'long tasks', `${x.longTasks}${longAt}`, 'drawn in turn', `${x.inTurnPct?.toFixed(0)}%`);
      for (const f of x.longFrames ?? []) {
        log(name, '  long frame', `${f.ms} ms at ${(f.atMs / 1000).toFixed(1)} s:`, `blocking ${f.blockingMs}, script ${f.scriptMs}, render ${f.renderMs} (style and layout ${f.layoutMs})`,
          f.scripts.map((x) => `${x.ms} ms ${x.what}`).join('; '));
      }
      if (!x.keptUp) break;
    }
    const within = (x) => x.keptUp && x.frameP99Ms <= FRAME_BOUND_MS + FRAME_JITTER_MS && x.longTasks === 0;
    // Every step up to it within the bound: a step that passes after one
    // that failed (single late frames decide a step) does not count.
    const firstMiss = out.sweep.findIndex((x) => !within(x));
    const upTo = firstMiss < 0 ? out.sweep : out.sweep.slice(0, firstMiss);
    out.atBound = upTo.length ? upTo[upTo.length - 1].rate : 0;
    // Every step within the bound: the schedule, not the page, stopped the sweep.
    out.boundIsFeedLimit = firstMiss < 0;
    out.errors = await errorsOf(page);
  } finally {
    await page.close();
  }
  return out;
}

/**
 * The maximum for one client: a fresh page resumes from sequence 0 of the
 * prefilled gateway and takes the whole history as fast as it can (the
 * gateway sends pre-encoded frames, held back only by the socket), while
 * frame times, long tasks and applied events are recorded. Rate: applied
 * events over the time from the first to the last sample while events were
 * still arriving (at most MAX_S seconds).
 */
async function maximum(name, pre) {
  const { page, url } = await resumingPage(name, pre);
  if (PROFILE) {
    await page.send('Profiler.enable');
    await page.send('Profiler.setSamplingInterval', { interval: 500 });
    await page.send('Profiler.start');
  }
  await page.goto(url);
  await page.eval('__perf.start()');
  const samples = [];
  const t0 = performance.now();
  for (;;) {
    const a = await page.eval('__perf.applied()');
    const t = (performance.now() - t0) / 1000;
    samples.push([t, a]);
    if (a >= MAX_EVENTS || t > MAX_S) break;
    await new Promise((r) => setTimeout(r, MAX_POLL_MS));
  }
  const f = await page.eval('__perf.stop()');
  let profile;
  if (PROFILE) {
    const { profile: p } = await page.send('Profiler.stop');
    profile = selfTimes(p);
    writeFileSync(path.join(PROFILE, `${name}.cpuprofile`), JSON.stringify(p));
  }
  const first = samples.find(([, a]) => a > 0) ?? samples[0];
  const last = samples.at(-1);
  const perS = last[0] > first[0] ? Math.round((last[1] - first[1]) / (last[0] - first[0])) : 0;
  const memory = await memoryOf(page);
  const errors = await errorsOf(page);
  await page.close();
  if (profile) log(name, 'profile (self time):\n  ' + profile.slice(0, 15).join('\n  '));
  log(name, 'max applied/s', perS, `(${last[1]} events in ${(last[0] - first[0]).toFixed(1)} s)`, 'p99 frame', f.frameP99Ms?.toFixed(1), 'long tasks', f.longTasks, 'max long', f.longMaxMs?.toFixed(0));
  return { perS, applied: last[1], seconds: last[0] - first[0], ...f, memory, errors, profile };
}

/** One stream to all three at once; their aggregates compared. */
async function sameStream(events) {
  const gw = await startGateway(GATEWAY_ARGS);
  const src = simSource({ rate: 2000, events });
  try {
    const pages = {};
    for (const c of CLIENTS) pages[c] = await openClient(c, gw);
    let pushed = 0;
    for (;;) {
      const { buf, n } = await src.take(20_000);
      if (!n) break;
      await post(gw, buf);
      pushed += n;
      // Pace to the slowest so no client is dropped as a slow consumer.
      await until(async () => {
        const a = await Promise.all(CLIENTS.map((c) => pages[c].eval('__perf.applied()')));
        return Math.min(...a) >= pushed - 40_000 || null;
      }, 120_000, 'clients to keep within 40k events');
    }
    for (const c of CLIENTS) {
      await until(async () => (await pages[c].eval('__perf.applied()')) >= pushed || null, 120_000, `${c} to apply ${pushed}`);
    }
    const plain = await pages.plain.eval('__bench.aggregates()');
    const persp = await pages.perspective.eval('__bench.aggregates()');
    const diffs = [...compareExact(persp, plain, ['perspective', 'plain'])];
    for (const c of CLIENTS.filter(isShopPulse)) {
      const sp = JSON.parse(await pages[c].eval(`__shoppulse_aggregates(${JSON.stringify(productsJson(plain))})`));
      diffs.push(...compareShopPulse(sp, plain, `${c} vs plain`), ...compareShopPulse(sp, persp, `${c} vs perspective`));
    }
    for (const c of CLIENTS) await pages[c].close();
    return { events: pushed, agree: diffs.length === 0, diffs: diffs.slice(0, 20) };
  } finally {
    src.close();
    await gw.stop();
  }
}

/** Event-to-pixel latency at 10,000 ev/s (ShopPulse, operators where `name` says). */
async function latency(name) {
  const gw = await startGateway(GATEWAY_ARGS);
  const src = simSource({ rate: 10_000, events: 1_000_000 });
  try {
    const page = await openClient(name, gw, { latency: true });
    if (PROFILE) {
      await page.send('Profiler.enable');
      await page.send('Profiler.setSamplingInterval', { interval: 500 });
      await page.send('Profiler.start');
    }
    const traced = [];
    let traceDone;
    if (TRACE) {
      page.on('Tracing.dataCollected', (d) => traced.push(...d.value));
      traceDone = new Promise((r) => page.on('Tracing.tracingComplete', r));
      await page.send('Tracing.start', {
        // SHOPPULSE_TRACE_CATEGORIES adds categories, e.g.
        // disabled-by-default-devtools.timeline.invalidationTracking (which nodes dirtied layout).
        categories: ['devtools.timeline,disabled-by-default-devtools.timeline', process.env.SHOPPULSE_TRACE_CATEGORIES]
          .filter(Boolean).join(','),
        transferMode: 'ReportEvents',
      });
    }
    await page.eval('__perf.start()');
    const seconds = QUICK ? 5 : 15;
    const pushed = await pushPaced(gw, src, 10_000, seconds);
    await new Promise((r) => setTimeout(r, 500));
    const f = await page.eval('__perf.stop()');
    // SHOPPULSE_PROBE: an expression evaluated in the page at the end of the run, printed (diagnostics).
    if (process.env.SHOPPULSE_PROBE) log(`probe: ${JSON.stringify(await page.eval(process.env.SHOPPULSE_PROBE))}`);
    if (PROFILE) {
      const { profile: p } = await page.send('Profiler.stop');
      writeFileSync(path.join(PROFILE, `${name}-latency.cpuprofile`), JSON.stringify(p));
      log('latency profile (self time):\n  ' + selfTimes(p).slice(0, 20).join('\n  '));
    }
    if (TRACE) {
      await page.send('Tracing.end');
      await traceDone;
      if (PROFILE) {
        writeFileSync(path.join(PROFILE, `${name}-latency.trace.json`), JSON.stringify(traced));
        // The page's DOM (backend node ids) as the trace ended: invalidation tracking names nodes by id.
        const { root } = await page.send('DOM.getDocument', { depth: -1 });
        writeFileSync(path.join(PROFILE, `${name}-latency.dom.json`), JSON.stringify(root));
      }
      log('latency trace (main thread, ms per event kind, top-level events):\n  ' + traceSummary(traced).join('\n  '));
    }
    await page.close();
    return { name, rate: 10_000, seconds, pushed, ...f };
  } finally {
    src.close();
    await gw.stop();
  }
}

/** Start-up: gzipped wasm, first live data on screen after navigation. */
async function startup() {
  const wasm = readdirSync(DIST).find((f) => f.endsWith('.wasm'));
  const raw = readFileSync(path.join(DIST, wasm));
  const gw = await startGateway(GATEWAY_ARGS);
  const src = simSource({ rate: 2000, events: 10_000 });
  try {
    await post(gw, (await src.take(10_000)).buf);
    const firsts = [];
    for (let i = 0; i < (QUICK ? 3 : 7); i++) {
      const page = await newPage(chrome.port);
      await page.send('Page.addScriptToEvaluateOnNewDocument', { source: INSTRUMENT });
      await page.send('Page.navigate', { url: `${gw.url}/` });
      firsts.push(await until(() => page.eval('__perf.firstDataMs'), 20_000, 'first data'));
      await page.close();
    }
    return {
      wasmBytes: raw.length,
      wasmGzipBytes: gzipSync(raw, { level: 9 }).length,
      firstDataMs: firsts.map((x) => Math.round(x)),
      firstDataMedianMs: Math.round(quantile(firsts, 0.5)),
      firstDataMaxMs: Math.round(Math.max(...firsts)),
    };
  } finally {
    src.close();
    await gw.stop();
  }
}

/** An accelerated hour (HOUR_MINUTES minutes of event time) at 10,000 ev/s. */
async function memoryHour() {
  const perMinute = 600_000;
  const gw = await startGateway(GATEWAY_ARGS);
  const src = simSource({ rate: 10_000, events: perMinute * HOUR_MINUTES });
  try {
    const page = await openClient('shoppulse', gw);
    const samples = [];
    const sample = async (minute) => {
      await page.send('HeapProfiler.collectGarbage');
      samples.push({ minute, ...(await memoryOf(page)) });
    };
    const half = Math.floor(HOUR_MINUTES / 2);
    let next = 1;
    const t0 = performance.now();
    const r = await pushClosed(gw, src, page, {
      backlog: 100_000,
      chunk: 20_000,
      onSample: async (applied) => {
        if (applied >= next * perMinute) {
          await sample(Math.floor(applied / perMinute));
          next = Math.floor(applied / perMinute) + 1;
        }
      },
    });
    await sample(HOUR_MINUTES);
    await page.close();
    const at = (min) => samples.filter((s) => s.minute <= min).at(-1) ?? samples[0];
    const m30 = at(half);
    const m60 = at(HOUR_MINUTES);
    return {
      minutes: HOUR_MINUTES,
      events: r.applied,
      wallSeconds: Math.round((performance.now() - t0) / 1000),
      atHalfMB: MB(m30.totalBytes),
      atEndMB: MB(m60.totalBytes),
      peakMB: MB(Math.max(...samples.map((s) => s.totalBytes))),
      growthPct: Math.round(((m60.totalBytes - m30.totalBytes) / m30.totalBytes) * 1000) / 10,
      wasmEndMB: MB(m60.wasmBytes),
      jsHeapEndMB: MB(m60.jsHeapBytes),
      workerWasmEndMB: MB(m60.workerWasmBytes),
      workerJsHeapEndMB: MB(m60.workerJsHeapBytes),
      samples,
    };
  } finally {
    src.close();
    await gw.stop();
  }
}

try {
  if (PARTS.has('side')) {
    results.side = {};
    results.schedule = SCHEDULE.map(([r, secs]) => `${r}:${secs}`).join(',');
    log(`rate sweep: ${SWEEP_EVENTS} events in the paced gateway's history`);
    const paced = await prefilledLogged(SWEEP_EVENTS, ['--resume-pace', results.schedule]);
    try {
      for (const c of CLIENTS) {
        log('rate sweep', c);
        results.side[c] = await sweep(c, paced);
      }
    } finally {
      await paced.gw.stop();
    }
    log(`maximum: ${MAX_EVENTS} events from the gateway's history`);
    const pre = await prefilledLogged(MAX_EVENTS);
    try {
      for (const c of CLIENTS) results.side[c].max = await maximum(c, pre);
    } finally {
      await pre.gw.stop();
    }
  }
  if (ONLY_SIDE) throw new Error('--side-only: stopping after the side-by-side figures');
  if (PARTS.has('same')) {
    log('same stream, three clients');
    results.sameStream = await sameStream(QUICK ? 50_000 : 300_000);
    log('same stream agree:', results.sameStream.agree, results.sameStream.diffs.join('; '));
  }
  if (PARTS.has('latency')) {
    results.latency = [];
    for (const c of CLIENTS.filter(isShopPulse)) {
      log('latency at 10k ev/s', c);
      results.latency.push(await latency(c));
    }
  }
  if (PARTS.has('startup')) {
    log('start-up');
    results.startup = await startup();
  }
  if (PARTS.has('memory')) {
    log(`memory over ${HOUR_MINUTES} minutes of event time at 10k ev/s`);
    results.memoryHour = await memoryHour();
  }
} finally {
  await stat.close();
  await chrome.close();
}

const jsonOut = opt('--json');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));

// The table.
const f1 = (x) => (x == null ? '—' : Number(x).toFixed(1));
const k = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const lines = [];
lines.push(`Browser: ${results.browser} (headless), window ${results.window} · machine: ${results.machine} · ${results.date}`);
lines.push('');
if (results.side) {
lines.push('| client | kept up at p99 frame <= 16.7 ms, no long task (ev/s, paced history) | max events/s (whole history, closed loop) | p99 / max frame at max (ms) | long tasks > 50 ms at max | memory after max (MB) |');
lines.push('|---|---:|---:|---:|---:|---:|');
for (const c of CLIENTS) {
  const s = results.side[c];
  const mem = s.max.memory;
  const memText = isShopPulse(c)
    ? `${f1(MB(mem.totalBytes))} (page JS heap ${f1(MB(mem.jsHeapBytes))} + wasm ${f1(MB(mem.wasmBytes))}${c !== 'shoppulse-main' ? `; worker JS heap ${f1(MB(mem.workerJsHeapBytes))} + wasm ${f1(MB(mem.workerWasmBytes))}` : ''})`
    : `${f1(MB(mem.pageBytes))} page incl. workers (main JS heap ${f1(MB(mem.jsHeapBytes))})`;
  const enc = ENCODING === 'json' ? 'JSON' : 'bin1';
  const label = { shoppulse: `(a) ShopPulse (${enc}, operators in a worker)`, 'shoppulse-lean': `(a'') ShopPulse (${enc}, worker, recommendations and sync turned off: the compared aggregates' operators only)`, 'shoppulse-main': `(a') ShopPulse (${enc}, operators on the main thread)`, perspective: '(b) Perspective 3.8.0', plain: '(c) plain JS + Maps' }[c];
  lines.push(`| ${label} | ${s.boundIsFeedLimit ? '>= ' : ''}${k(s.atBound)} | ${k(s.max.perS)} | ${f1(s.max.frameP99Ms)} / ${f1(s.max.frameMaxMs)} | ${s.max.longTasks} (max ${f1(s.max.longMaxMs)} ms) | ${memText} |`);
}
lines.push('');
lines.push(`Idle p99 frame (no events): ${CLIENTS.map((c) => `${c} ${f1(results.side[c].idle.frameP99Ms)} ms`).join(', ')}.`);
lines.push('');
lines.push(`Rate sweep (the gateway's history paced by --resume-pace; ${STEP_S} s per step below 100k ev/s, ${STEP_HIGH_S} s from 100k, after the first ${WARM_S} s of feed), p99 frame / frames dropped, and those first ${WARM_S} s ("cold"):`);
for (const c of CLIENTS) {
  const s = results.side[c];
  const turn = (x) => (isShopPulse(c) ? ` (in turn ${k(x.inTurnPct)} %)` : '');
  const steps = s.sweep.map((x) => `${k(x.rate / 1000)}k ${f1(x.frameP99Ms)} ms / ${f1(x.droppedPct)} %${turn(x)}${x.longTasks ? `, ${x.longTasks} long tasks` : ''}${x.keptUp ? '' : ` (fell behind by ${k(x.behind)} events)`}`);
  lines.push(`- ${c}: ${steps.join('; ')}; cold ${k(s.cold.rate / 1000)}k ${f1(s.cold.frameP99Ms)} ms / ${f1(s.cold.droppedPct)} %.`);
}
}
if (results.sameStream) lines.push(`Same stream, same aggregates (${k(results.sameStream.events)} events to every client at once): ${results.sameStream.agree ? 'agree' : `DIFFER: ${results.sameStream.diffs.join('; ')}`}.`);
for (const L of results.latency ?? []) {
  lines.push(`${L.name} event-to-pixel latency at 10,000 ev/s (${L.seconds} s, ${k(L.latencyN)} frames): p50 ${f1(L.latencyP50Ms)} ms, p99 ${f1(L.latencyP99Ms)} ms; p99 frame ${f1(L.frameP99Ms)} ms, long tasks ${L.longTasks}; sections drawn in turn in ${f1(L.inTurnPct)} % of the frames.`);
}
const S = results.startup;
if (S) lines.push(`ShopPulse start-up: wasm ${k(S.wasmBytes / 1024)} KiB, ${k(S.wasmGzipBytes / 1024)} KiB gzipped (gzip -9); first live data on screen ${S.firstDataMedianMs} ms median, ${S.firstDataMaxMs} ms max after navigation (${S.firstDataMs.join(', ')}).`);
const H = results.memoryHour;
if (H) lines.push(`ShopPulse memory, ${H.minutes} min of event time at 10,000 ev/s (${k(H.events)} events in ${H.wallSeconds} s): ${f1(H.atHalfMB)} MB at minute ${Math.floor(H.minutes / 2)}, ${f1(H.atEndMB)} MB at minute ${H.minutes} (growth ${f1(H.growthPct)} %), peak ${f1(H.peakMB)} MB (page wasm ${f1(H.wasmEndMB)} + JS heap ${f1(H.jsHeapEndMB)}, worker wasm ${f1(H.workerWasmEndMB)} + JS heap ${f1(H.workerJsHeapEndMB)} at the end, after GC).`);
console.log(lines.join('\n'));
for (const c of results.side ? CLIENTS : []) {
  const errs = [...(results.side[c].errors ?? []), ...(results.side[c].max.errors ?? [])];
  if (errs.length) console.log(`${c} errors: ${errs.join('; ')}`);
}
if (results.sameStream && !results.sameStream.agree) process.exitCode = 1;
