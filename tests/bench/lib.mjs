// Building blocks of the browser benchmarks: the simulator's event stream as
// a line source, ingest pushers (paced or closed-loop), and page helpers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FEED_BIN, ROOT, startGateway } from '../e2e/harness.mjs';

export { FEED_BIN, ROOT, startGateway };
const here = path.dirname(fileURLToPath(import.meta.url));
export const INSTRUMENT = readFileSync(path.join(here, 'instrument.js'), 'utf8');
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
