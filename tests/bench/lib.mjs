// Building blocks of the browser benchmarks: the simulator's event stream as
// a line source, ingest pushers (paced or closed-loop), and page helpers.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FEED_BIN, ROOT, startGateway } from '../e2e/harness.mjs';

export { FEED_BIN, ROOT, startGateway };
const here = path.dirname(fileURLToPath(import.meta.url));
export const INSTRUMENT = readFileSync(path.join(here, 'instrument.js'), 'utf8');
/** Queue bounds of every benchmark gateway: a page is never dropped as a slow consumer. */
export const QUEUE_ARGS = ['--client-queue', '100000', '--client-queue-bytes', '2GiB'];
/** The stream's fixed start, so every run and every client sees the same events. */
export const SIM_START = '2024-11-29T09:00:00Z';

/**
 * The simulator's NDJSON (`shoppulse-feed simulate`, seed 7) as a source of
 * whole lines: `take(n)` resolves with {buf, n} (fewer at the end).
 * `rate` is the simulated events per second of event time.
 */
export function simSource({ rate, events, seed = 7 }) {
  const child = spawn(FEED_BIN, [
    'simulate', '--seed', String(seed), '--rate', String(rate), '--sim-start', SIM_START,
    '--events', String(events),
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  const parts = []; // Buffers of whole lines
  let lines = 0;
  let rest = Buffer.alloc(0);
  let ended = false;
  let wake = null;
  child.stdout.on('data', (d) => {
    const b = rest.length ? Buffer.concat([rest, d]) : d;
    const cut = b.lastIndexOf(10) + 1;
    rest = b.subarray(cut);
    if (cut > 0) {
      const whole = b.subarray(0, cut);
      let n = 0;
      for (let i = whole.indexOf(10); i !== -1; i = whole.indexOf(10, i + 1)) n += 1;
      parts.push({ buf: whole, n });
      lines += n;
      // Back-pressure: at most ~200k lines read ahead.
      if (lines > 200_000) child.stdout.pause();
    }
    wake?.();
  });
  child.stdout.on('end', () => { ended = true; wake?.(); });
  return {
    async take(n) {
      while (lines < n && !ended) {
        child.stdout.resume();
        await new Promise((r) => { wake = r; });
        wake = null;
      }
      const out = [];
      let got = 0;
      while (got < n && parts.length) {
        const p = parts[0];
        if (got + p.n <= n) {
          out.push(p.buf);
          got += p.n;
          parts.shift();
        } else {
          // Split p after (n - got) lines.
          let i = -1;
          for (let k = 0; k < n - got; k++) i = p.buf.indexOf(10, i + 1);
          out.push(p.buf.subarray(0, i + 1));
          parts[0] = { buf: p.buf.subarray(i + 1), n: p.n - (n - got) };
          got = n;
        }
      }
      lines -= got;
      if (lines < 100_000) child.stdout.resume();
      return { buf: Buffer.concat(out), n: got };
    },
    close() { child.kill('SIGKILL'); },
  };
}

/** POSTs `buf` (NDJSON) to the gateway's /ingest; returns events accepted. */
export async function post(gw, buf) {
  const res = await fetch(`${gw.url}/ingest`, {
    method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: buf,
  });
  const a = await res.json();
  if (!res.ok || a.rejected_total) throw new Error(`ingest ${res.status}: ${JSON.stringify(a).slice(0, 300)}`);
  return a.accepted;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Open loop: pushes `rate` events/s for `seconds` (every 50 ms what is due).
 * Returns events pushed.
 */
export async function pushPaced(gw, src, rate, seconds) {
  const t0 = performance.now();
  let pushed = 0;
  for (;;) {
    const t = (performance.now() - t0) / 1000;
    if (t >= seconds) break;
    const due = Math.floor(rate * t) - pushed;
    if (due > 0) {
      const { buf, n } = await src.take(due);
      if (n === 0) break;
      await post(gw, buf);
      pushed += n;
    }
    await sleep(50 - ((performance.now() - t0) % 50));
  }
  return pushed;
}

/**
 * Closed loop: keeps at most `backlog` events pushed but not yet applied by
 * the page (as it reports them) for `seconds`, or until `until(applied)`.
 * Returns {pushed, applied, seconds}.
 */
export async function pushClosed(gw, src, page, { seconds = Infinity, backlog = 50_000, chunk = 10_000, until = () => false, onSample } = {}) {
  const t0 = performance.now();
  const a0 = await page.eval('__perf.applied()');
  let pushed = 0;
  let applied = 0;
  let lastSample = t0;
  for (;;) {
    applied = (await page.eval('__perf.applied()')) - a0;
    const now = performance.now();
    if ((now - t0) / 1000 >= seconds || until(applied)) break;
    if (onSample && now - lastSample >= 1000) {
      lastSample = now;
      await onSample(applied, pushed);
    }
    if (pushed - applied < backlog) {
      const { buf, n } = await src.take(chunk);
      if (n === 0) {
        if (applied >= pushed) break;
      } else {
        await post(gw, buf);
        pushed += n;
      }
    } else {
      await sleep(5);
    }
  }
  return { pushed, applied, seconds: (performance.now() - t0) / 1000 };
}

/** Polls `fn` until truthy. */
export async function until(fn, timeoutMs = 20_000, what = 'condition') {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    last = await fn().catch((e) => e);
    if (last && !(last instanceof Error)) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/** p-quantile of numbers. */
export function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : null;
}

/**
 * A gateway whose history holds `events` simulator events (seed 7; the
 * NDJSON is kept in `dir`, the temporary directory unless given, and reused;
 * replayed with --replay --speed max and waited for), with `extra` flags.
 * Resolves with {gw, epoch, seconds} (seconds: the replay's time).
 */
export async function prefilled(events, extra = [], { dir = os.tmpdir() } = {}) {
  const file = path.join(dir, `shoppulse-bench-seed7-2000-${events}.ndjson`);
  if (!existsSync(file)) {
    execFileSync(FEED_BIN, ['simulate', '--seed', '7', '--rate', '2000', '--sim-start', SIM_START,
      '--events', String(events), '-o', `${file}.part`], { stdio: 'ignore' });
    renameSync(`${file}.part`, file);
  }
  const gw = await startGateway([...QUEUE_ARGS, '--history', String(events + 1000),
    '--replay', file, '--speed', 'max', ...extra]);
  const t0 = performance.now();
  const h = await until(async () => {
    const j = await (await fetch(`${gw.url}/healthz`)).json();
    return j.head_seq >= events ? j : null;
  }, 300_000, 'the replay to fill the history');
  return { gw, epoch: h.epoch, seconds: (performance.now() - t0) / 1000 };
}

/**
 * When (epoch ms, the gateway's clock) its paced resume (`--resume-pace`)
 * started, waiting for one that started at or after `since` (epoch ms).
 */
export function pacedStart(gw, since, what = 'the paced resume to start') {
  return until(async () => {
    const j = await (await fetch(`${gw.url}/healthz`)).json();
    return j.resume_pace_started_ms >= since ? j.resume_pace_started_ms : null;
  }, 60_000, what);
}

/** Self time per function of a CDP CPU profile, the top `n`, as % of samples. */
export function selfTimes(p, n = 25) {
  const hits = new Map();
  let total = 0;
  for (const node of p.nodes) {
    const cf = node.callFrame;
    const where = cf.url ? cf.url.split('/').pop() : '';
    const k = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    hits.set(k, (hits.get(k) ?? 0) + (node.hitCount ?? 0));
    total += node.hitCount ?? 0;
  }
  return [...hits].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, h]) => `${((100 * h) / total).toFixed(1)}% ${k}`);
}

/** The complete events of the renderer's main thread in a trace, in time order. */
export function mainThreadEvents(events) {
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) return [];
  return events.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur)
    .sort((a, b) => a.ts - b.ts);
}

/** Main-thread time per trace event name (complete events, nested ones not double-counted), the top `n`. */
export function traceSummary(events, n = 12) {
  const mine = mainThreadEvents(events);
  if (!mine.length) return ['no renderer main thread in the trace'];
  const self = new Map();
  const stack = [];
  for (const e of mine) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    const parent = stack.at(-1);
    if (parent) self.set(parent.name, (self.get(parent.name) ?? 0) - e.dur);
    self.set(e.name, (self.get(e.name) ?? 0) + e.dur);
    stack.push(e);
  }
  // Animation-frame callbacks (ShopPulse publishes in one): their durations, and the whole
  // frame's rendering work after them.
  const q = (xs, f) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] : 0);
  const raf = mine.filter((e) => e.name === 'FireAnimationFrame').map((e) => e.dur / 1000).sort((a, b) => a - b);
  const span = (mine.at(-1).ts + mine.at(-1).dur - mine[0].ts) / 1000;
  return [
    `${(span / 1000).toFixed(1)} s traced; animation-frame callbacks: ${raf.length}, p50 ${q(raf, 0.5).toFixed(1)} ms, p99 ${q(raf, 0.99).toFixed(1)} ms, max ${(raf.at(-1) ?? 0).toFixed(1)} ms`,
    ...[...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(0)} ms ${k}`),
  ];
}
