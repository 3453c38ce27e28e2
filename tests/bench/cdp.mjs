// A minimal Chrome DevTools Protocol client for the benchmark: launches
// Debian Chromium headless with --remote-debugging-port and talks to one page
// target over its WebSocket. Only the Page, Runtime, Profiler and
// HeapProfiler domains are used: DevTools' Network domain (which Playwright
// always enables) copies every WebSocket frame into the DevTools backend and
// roughly halves the rate a page can take, so it is never enabled here.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Every page's window, `WxH`: 1440x1000 unless SHOPPULSE_WINDOW says otherwise (ShopPulse draws a
 * panel out of view only about once a second, so the window decides what is drawn with every view). */
export const WINDOW = process.env.SHOPPULSE_WINDOW ?? '1440x1000';

if (typeof WebSocket === 'undefined') {
  throw new Error('run with `node --experimental-websocket` (Node 20) or Node >= 22');
}

/** Starts Chromium; resolves with {browserWsUrl, port, version, close()}. */
export async function launchChromium(extraArgs = []) {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-bench-'));
  const child = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--mute-audio', '--enable-precise-memory-info',
    '--enable-blink-features=ForceEagerMeasureMemory',
    '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...extraArgs, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const browserWsUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 20_000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (c) => { clearTimeout(timer); reject(new Error(`chromium exited ${c}: ${err}`)); });
  });
  const port = Number(new URL(browserWsUrl).port);
  const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
  return {
    port,
    version: version.Browser,
    async close() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      // Chromium's helper processes may still be writing into the profile
      // (ENOTEMPTY): the figures are taken, a leftover temp dir is not fatal.
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      } catch (e) {
        console.error('[cdp] could not remove', profile, e.code);
      }
    },
  };
}

/** A short-lived CDP session on the browser target. */
async function browserSession(port) {
  const v = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
  const ws = new WebSocket(v.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(msg.error.message));
    else w.resolve(msg.result);
  };
  return {
    send: (method, params = {}) => new Promise((resolve, reject) => {
      id += 1;
      waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

/** A CDP session on a new page target of the browser at `port`. */
export async function newPage(port) {
  // A new window per page (not a tab): every page is visible and gets
  // animation frames, even with several open at once.
  const browser = await browserSession(port);
  const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank', newWindow: true });
  browser.close();
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = list.find((t) => t.id === targetId);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let nextId = 1;
  const waiting = new Map();
  const listeners = new Map();
  const workers = []; // sessionIds of the page's dedicated workers
  let workerSource = null;
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.method === 'Target.attachedToTarget' && msg.params.targetInfo.type === 'worker') {
      // A dedicated worker, paused before its first script: the
      // instrumentation goes in, then it runs.
      const sessionId = msg.params.sessionId;
      workers.push(sessionId);
      (async () => {
        if (workerSource) await send('Runtime.evaluate', { expression: workerSource }, sessionId).catch(() => {});
        await send('Runtime.runIfWaitingForDebugger', {}, sessionId).catch(() => {});
      })();
      return;
    }
    if (msg.method === 'Target.detachedFromTarget') {
      const i = workers.indexOf(msg.params.sessionId);
      if (i >= 0) workers.splice(i, 1);
      return;
    }
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(`${msg.error.message} ${msg.error.data ?? ''}`));
      else resolve(msg.result);
    } else if (msg.method) {
      for (const f of listeners.get(msg.method) ?? []) f(msg.params);
    }
  };
  const send = (method, params = {}, sessionId = undefined) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
  });
  const page = {
    send,
    on(method, f) {
      if (!listeners.has(method)) listeners.set(method, []);
      listeners.get(method).push(f);
    },
    /** Evaluates `expression` in the page (awaiting promises); returns its JSON value. */
    async eval(expression) {
      const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) {
        throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      }
      return r.result.value;
    },
    /**
     * Runs `source` in every dedicated worker the page starts, before the
     * worker's own script (call before navigating).
     */
    async instrumentWorkers(source) {
      workerSource = source;
      await send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true });
    },
    /** CDP session ids of the page's dedicated workers (for `send(method, params, id)`). */
    workerSessions: () => [...workers],
    /** Used JS heap of the page's dedicated workers, bytes (after a GC each). */
    async workersHeapBytes() {
      let total = 0;
      for (const w of [...workers]) {
        await send('HeapProfiler.collectGarbage', {}, w).catch(() => {});
        const h = await send('Runtime.getHeapUsage', {}, w).catch(() => null);
        total += h?.usedSize ?? 0;
      }
      return total;
    },
    /** Navigates and waits for the load event. */
    async goto(url) {
      const loaded = new Promise((r) => page.on('Page.loadEventFired', r));
      await send('Page.navigate', { url });
      await loaded;
    },
    async close() {
      await fetch(`http://127.0.0.1:${port}/json/close/${target.id}`).catch(() => {});
      ws.close();
    },
  };
  await send('Page.enable');
  await send('Runtime.enable');
  const [width, height] = WINDOW.split('x').map(Number);
  await send('Emulation.setDeviceMetricsOverride', {
    width, height, deviceScaleFactor: 1, mobile: false,
  });
  return page;
}
