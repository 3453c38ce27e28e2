#!/usr/bin/env node
// Diagnostics for the rate sweep (docs/PERFORMANCE.md): one ShopPulse page
// (worker) fed RATE events/s from a paced gateway history (--resume-pace),
// with a DevTools timeline trace of SECONDS at that rate. Prints the frame
// figures, the main thread's time per kind of work and every thread's busy
// time (top-level trace events), so what makes frames late at a rate can be
// seen instead of guessed.
// With --profile, CPU profiles of the page and of the engine worker over the same seconds
// (self time per function; build with names to read the wasm's).
// Usage: node --experimental-websocket tests/bench/trace-rate.mjs RATE [SECONDS] [--save DIR] [--profile]
// Environment: SHOPPULSE_DIST, SHOPPULSE_WINDOW, SHOPPULSE_TRACE_CATEGORIES as for browser.mjs;
// SHOPPULSE_QUERY adds to the page's query (e.g. `&worker=0`); SHOPPULSE_GATEWAY_ARGS to the gateway's arguments (e.g. `--batch 250`).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { launchChromium, newPage } from './cdp.mjs';
import { INSTRUMENT, mainThreadEvents, pacedStart, prefilled, selfTimes, traceSummary } from './lib.mjs';

const argv = process.argv.slice(2);
const RATE = Number(argv[0] ?? 100_000);
const SECS = Number(argv[1] && !argv[1].startsWith('--') ? argv[1] : 8);
const save = argv.includes('--save') ? argv[argv.indexOf('--save') + 1] : null;
if (save) mkdirSync(save, { recursive: true });
const WARM = [[0, 3], [10_000, 3]];
const schedule = [...WARM, [RATE, SECS + 1]];
const events = schedule.reduce((n, [r, s]) => n + r * s, 0);
const gatewayArgs = (process.env.SHOPPULSE_GATEWAY_ARGS ?? '').split(' ').filter(Boolean);
const { gw, epoch } = await prefilled(events, ['--resume-pace', schedule.map(([r, s]) => `${r}:${s}`).join(','), ...gatewayArgs]);
const chrome = await launchChromium();
try {
  const page = await newPage(chrome.port);
  await page.send('Page.addScriptToEvaluateOnNewDocument', { source: INSTRUMENT });
  await page.instrumentWorkers('');
  const feed = encodeURIComponent(`ws://127.0.0.1:${gw.port}/ws`);
  const before = Date.now();
  await page.goto(`${gw.url}/?feed=${feed}&bench_resume_epoch=${encodeURIComponent(epoch)}${process.env.SHOPPULSE_QUERY ?? ''}`);
  const T = await pacedStart(gw, before);
  const at = (s) => new Promise((r) => setTimeout(r, Math.max(0, T + s * 1000 - Date.now())));
  const t0 = WARM.reduce((n, [, s]) => n + s, 0) + 0.5;
  await at(t0);
  const traced = [];
  page.on('Tracing.dataCollected', (d) => traced.push(...d.value));
  const done = new Promise((r) => page.on('Tracing.tracingComplete', r));
  await page.send('Tracing.start', {
    categories: ['devtools.timeline,disabled-by-default-devtools.timeline,toplevel,v8', process.env.SHOPPULSE_TRACE_CATEGORIES]
      .filter(Boolean).join(','),
    transferMode: 'ReportEvents',
  });
  const workers = argv.includes('--profile') ? [undefined, ...page.workerSessions()] : [];
  for (const w of workers) {
    await page.send('Profiler.enable', {}, w);
    await page.send('Profiler.setSamplingInterval', { interval: 200 }, w);
    await page.send('Profiler.start', {}, w);
  }
  const a0 = await page.eval('__perf.applied()');
  await page.eval('__perf.start()');
  await at(t0 + SECS);
  const f = await page.eval('__perf.stop()');
  const a1 = await page.eval('__perf.applied()');
  await page.send('Tracing.end');
  await done;
  for (const w of workers) {
    const { profile: p } = await page.send('Profiler.stop', {}, w);
    console.log(`${w ? 'engine worker' : 'page main thread'}, self time (% of samples):`);
    for (const line of selfTimes(p, 40)) console.log(`  ${line.slice(0, 160)}`);
    if (save) writeFileSync(path.join(save, `${w ? 'worker' : 'page'}-${RATE}.cpuprofile`), JSON.stringify(p));
  }
  console.log(`rate ${RATE}: applied ${Math.round((a1 - a0) / SECS)}/s; p99 frame ${f.frameP99Ms?.toFixed(1)} ms, dropped ${f.droppedPct?.toFixed(1)} %, long tasks ${f.longTasks}, in turn ${f.inTurnPct?.toFixed(0)} %`);
  // Thread names, then busy time per thread (top-level complete events only).
  const names = new Map();
  for (const e of traced) if (e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args?.name);
  const busy = new Map();
  const ends = new Map();
  for (const e of traced.filter((x) => x.ph === 'X' && x.dur).sort((a, b) => a.ts - b.ts)) {
    const key = `${e.pid}:${e.tid}`;
    if ((ends.get(key) ?? 0) > e.ts) continue; // nested in the previous top-level event
    ends.set(key, e.ts + e.dur);
    busy.set(key, (busy.get(key) ?? 0) + e.dur);
  }
  console.log(`busy per thread over ${SECS} s (top-level trace events):`);
  for (const [key, us] of [...busy].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    console.log(`  ${(us / 1000).toFixed(0).padStart(6)} ms ${names.get(key) ?? key}`);
  }
  // Tasks over 50 ms on the main thread (the long tasks), with what they spent the most in.
  const mainEvents = mainThreadEvents(traced);
  for (const t of mainEvents.filter((x) => x.dur > 50_000 && (x.name === 'RunTask' || x.name === 'ThreadControllerImpl::RunTask'))) {
    const inner = new Map();
    for (const e of mainEvents) {
      if (e !== t && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur && !/RunTask/.test(e.name)) inner.set(e.name, Math.max(inner.get(e.name) ?? 0, e.dur));
    }
    const top = [...inner].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} ms`);
    console.log(`long task ${(t.dur / 1000).toFixed(0)} ms at +${((t.ts - mainEvents[0].ts) / 1e6).toFixed(2)} s: ${top.join(', ')}`);
  }
  console.log('main thread, self time per event kind:');
  for (const line of traceSummary(traced, 14)) console.log(`  ${line}`);
  if (save) {
    writeFileSync(path.join(save, `trace-${RATE}.json`), JSON.stringify(traced));
    // What the window showed at the end (which panels are drawn with every view).
    const shot = await page.send('Page.captureScreenshot', { format: 'png' });
    writeFileSync(path.join(save, `window-${RATE}.png`), Buffer.from(shot.data, 'base64'));
  }
  await page.close();
} finally {
  await chrome.close();
  await gw.stop();
}
