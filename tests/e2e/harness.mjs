// End-to-end harness: starts the real `shoppulse-feed` binary on a free
// loopback port, serving the release-built dashboard (dist/), and drives real
// Debian Chromium through playwright-core (no bundled browser).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const FEED_BIN =
  process.env.SHOPPULSE_FEED_BIN ?? path.join(ROOT, 'target/release/shoppulse-feed');
export const DIST = process.env.SHOPPULSE_DIST ?? path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(here, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts the gateway. Resolves once it printed `listening on http://ADDR`.
 * @param {string[]} args extra flags (sources etc.)
 * @param {{port?: number, env?: Record<string, string>}} opts
 */
export async function startGateway(args = [], opts = {}) {
  const port = opts.port ?? 0;
  const child = spawn(
    FEED_BIN,
    ['--listen', `127.0.0.1:${port}`, ...(args.includes('--dist') ? [] : ['--dist', DIST]), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...(opts.env ?? {}) },
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 15_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (https?:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** POSTs NDJSON lines (objects or raw strings) to /ingest; returns the JSON answer. */
export async function ingest(base, lines) {
  const body = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const res = await fetch(`${base}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ingest ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Launches headless Chromium with a fresh profile. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

/**
 * A window tall enough to show every panel at once. The page draws a panel
 * out of view only about once a second (src/state.rs, `Panel`); a test that
 * reads every panel the moment the strip shows the stream's end opens this
 * (offscreen.test.mjs checks the default window).
 */
export const WHOLE_PAGE = { width: 1440, height: 4000 };

/**
 * Opens the dashboard; collects console errors and page errors.
 * @returns {{page, errors: string[]}}
 */
export async function openDashboard(browser, url, { width = 1440, height = 1000 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', async (d) => {
    errors.push(`dialog opened: ${d.message()}`);
    await d.dismiss();
  });
  await page.goto(url);
  return { page, context, errors };
}

/** Reads an integer from a test id's text (digits only, separators ignored). */
export async function readCount(page, testid) {
  const text = await page.getByTestId(testid).first().innerText();
  const digits = text.replace(/[^0-9]/g, '');
  return digits === '' ? NaN : Number(digits);
}

/**
 * The text of each `data-testid` section on two pages, read once both show
 * the same (or after `timeoutMs`), for tests that compare two dashboards
 * fed the same stream. The counters can lead the other sections by up to
 * two frames: a slow machine drops frames, and then the sections are drawn
 * in turn (src/stagger.rs). Sections that never agree come back different
 * and the caller's assertion says which.
 */
export async function sectionTexts(pageA, pageB, ids, timeoutMs = 5_000) {
  const texts = (page) => Promise.all(ids.map((id) => page.getByTestId(id).first().innerText()));
  let pair = [];
  await until(async () => {
    pair = [await texts(pageA), await texts(pageB)];
    return JSON.stringify(pair[0]) === JSON.stringify(pair[1]);
  }, timeoutMs, 'both pages drawn alike').catch(() => {});
  return pair;
}

/** Polls `fn` until it returns truthy or `timeoutMs` passes. */
export async function until(fn, timeoutMs = 10_000, what = 'condition') {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

/**
 * Full-page screenshot into `file`. The panels are `content-visibility:
 * auto` (not rendered while off screen), so the viewport is first made as
 * tall as the page, then put back.
 */
export async function fullPageShot(page, file) {
  const size = page.viewportSize();
  const frames = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  let tall = size?.height ?? 0;
  // Panels rendered for the first time take their real height: measure
  // again until the page's height holds.
  for (let i = 0; size && i < 4; i++) {
    const height = await page.evaluate(() => Math.ceil(document.body.getBoundingClientRect().height));
    if (height <= size.height || height === tall) break;
    tall = height;
    await page.setViewportSize({ width: size.width, height });
    await frames();
  }
  await page.screenshot({ path: file, fullPage: true });
  if (size && tall !== size.height) await page.setViewportSize(size);
}

/** Full-page screenshot into tests/e2e/artifacts/NAME.png. */
export async function shot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await fullPageShot(page, file);
  return file;
}

/**
 * Registers before/after hooks that start one gateway (with `args`) and one
 * browser for the whole test file. Returns a holder: `{ gw, browser }`.
 */
export function sharedGatewayAndBrowser(args = []) {
  const shared = { gw: undefined, browser: undefined };
  before(async () => {
    shared.gw = await startGateway(args);
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.gw?.stop();
  });
  return shared;
}

/**
 * One sample of the gateway's `/metrics` (the unlabelled series `name`);
 * `missing` when the series is absent.
 */
export async function metric(gw, name, { missing = 0 } = {}) {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : missing;
}

/** What the feed-health strip shows: state, last seq, gaps, status and detail texts. */
export const healthStrip = (page) =>
  page.evaluate(() => {
    const s = document.querySelector('[data-testid="feed-health"]');
    return {
      state: s.dataset.state,
      lastSeq: Number(s.dataset.lastSeq),
      gaps: Number(s.dataset.gaps),
      status: document.querySelector('[data-testid="conn-status"]').innerText,
      detail: document.querySelector('[data-testid="conn-detail"]').innerText,
    };
  });
