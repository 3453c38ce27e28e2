// Security controls in real Chromium against the real gateway: the page
// works under its Content-Security-Policy (and the policy blocks injected
// script), a gateway with tokens shows "unauthorized" without a reconnect
// storm and never puts the token in a URL or a log, a page on another origin
// cannot open the feed, and the dashboard runs over TLS (https + wss).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, DIST, startGateway, launchBrowser, openDashboard, until, shot, readCount, freePort } from './harness.mjs';

const VIEWER = 'viewer-e2e-0123456789abcdef';
const INGEST = 'ingest-e2e-0123456789abcdef';
const WRONG = 'viewer-e2e-not-the-right-one';
const SIM = ['--simulate', '--seed', '11', '--rate', '300'];

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Records CSP violations in the page from the very first script on. */
async function watchCsp(context) {
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
}

const status = async (page) => (await page.getByTestId('conn-status').innerText()).toLowerCase();

async function metrics(base, token) {
  const res = await fetch(`${base}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200);
  return res.text();
}

function metric(text, sample) {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  assert.ok(line, `${sample} in /metrics`);
  return Number(line.split(' ').pop());
}

test('the dashboard works under its Content-Security-Policy, which blocks injected script', async () => {
  const gw = await startGateway(SIM);
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    await watchCsp(context);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    const res = await page.goto(gw.url);
    const csp = res.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /style-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(res.headers()['x-content-type-options'], 'nosniff');
    assert.equal(res.headers()['referrer-policy'], 'no-referrer');
    await until(async () => (await status(page)).includes('live'), 15_000, 'live');
    await until(async () => (await readCount(page, 'events-applied')) > 100, 15_000, 'events flowing');
    await until(async () => (await page.locator('[data-testid="sync-matrix"] [data-channel][data-target]').count()) >= 4, 20_000, 'views filled');
    assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violation while the dashboard runs');
    // Defence in depth: script injected into the DOM does not run.
    const ran = await page.evaluate(async () => {
      window.__ran = [];
      const s = document.createElement('script');
      s.textContent = 'window.__ran.push("inline")';
      document.body.append(s);
      const d = document.createElement('div');
      d.innerHTML = '<img src="data:," onerror="window.__ran.push(\'handler\')">';
      document.body.append(d);
      await new Promise((r) => setTimeout(r, 300));
      return window.__ran;
    });
    assert.deepEqual(ran, [], 'neither an inline script nor an inline handler ran');
    const violations = await page.evaluate(() => window.__csp);
    assert.ok(violations.some((v) => v.startsWith('script-src')), `blocked and reported: ${violations}`);
    await shot(page, 'security-csp');
    assert.deepEqual(errors.filter((e) => !e.includes('Content Security Policy')), []);
    await context.close();
  } finally {
    await gw.stop();
  }
});

test("connect-src 'self' alone lets the page reach its own feed", async () => {
  // A copy of the dashboard whose index.html adds a second policy,
  // connect-src 'self' only: both policies apply, so the page may connect
  // only where 'self' allows (as when the gateway listens on a public
  // address and sends no loopback development sources).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-dist-'));
  try {
    cpSync(DIST, dir, { recursive: true });
    const index = path.join(dir, 'index.html');
    writeFileSync(
      index,
      readFileSync(index, 'utf8').replace('<head>', `<head><meta http-equiv="Content-Security-Policy" content="connect-src 'self'">`),
    );
    const gw = await startGateway([...SIM, '--dist', dir]);
    try {
      const context = await browser.newContext();
      await watchCsp(context);
      const page = await context.newPage();
      await page.goto(gw.url);
      await until(async () => (await readCount(page, 'events-applied')) > 50, 15_000, "events over ws under connect-src 'self'");
      assert.deepEqual(await page.evaluate(() => window.__csp), []);
      // And the meta policy does bite: another port is refused.
      const other = await page.evaluate(async () => {
        const ws = new WebSocket('ws://127.0.0.1:1/ws');
        return new Promise((r) => { ws.onerror = () => r('error'); });
      });
      assert.equal(other, 'error');
      assert.ok((await page.evaluate(() => window.__csp)).some((v) => v.startsWith('connect-src')), 'the other port was blocked by CSP');
      await context.close();
    } finally {
      await gw.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with tokens: unauthorized without a storm, then live with the token; the token is never in a URL or a log', async () => {
  const gw = await startGateway(['--viewer-token', VIEWER, '--ingest-token', INGEST, ...SIM], {
    env: { RUST_LOG: 'debug' },
  });
  try {
    // `?worker=0`: the socket on the page's thread, where Playwright sees
    // each connection attempt.
    const { page, context, errors } = await openDashboard(browser, `${gw.url}/?worker=0`);
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const consoleText = [];
    page.on('console', (m) => consoleText.push(m.text()));

    await until(async () => (await status(page)).includes('unauthorized — check the token'), 15_000, 'unauthorized shown');
    await page.getByTestId('access-form').waitFor();
    // No reconnect storm: it waits for a token.
    const before = sockets.length;
    await page.waitForTimeout(3000);
    assert.equal(sockets.length, before, `no new connection attempt while unauthorized (${sockets.length - before})`);
    await shot(page, 'security-unauthorized');

    // A wrong token: refused again, once.
    await page.getByTestId('access-token').fill(WRONG);
    await page.getByTestId('access-connect').click();
    await until(async () => sockets.length === before + 1, 5000, 'one attempt with the new token');
    // Refused again: shown, and the refused token is forgotten.
    await until(
      async () =>
        (await status(page)).includes('unauthorized') &&
        (await page.evaluate(() => sessionStorage.getItem('shoppulse.token'))) === null,
      10_000,
      'still unauthorized, token forgotten',
    );
    await page.getByTestId('access-form').waitFor();
    await page.waitForTimeout(1500);
    assert.equal(sockets.length, before + 1, 'no retry with the refused token');

    // The right one: live and data flows.
    await page.getByTestId('access-token').fill(VIEWER);
    await page.getByTestId('access-connect').click();
    await until(async () => (await status(page)).includes('live'), 15_000, 'live with the token');
    await until(async () => (await readCount(page, 'events-applied')) > 50, 15_000, 'events flowing');
    assert.equal(await page.getByTestId('access-form').count(), 0, 'the prompt is gone');

    // Where the token is, and is not.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('shoppulse.token')), VIEWER, 'kept for this tab');
    assert.equal(await page.evaluate((t) => JSON.stringify(localStorage).includes(t), VIEWER), false, 'not in localStorage');
    for (const u of [page.url(), ...sockets]) {
      assert.ok(!u.includes(VIEWER) && !u.includes(WRONG), `no token in URL ${u}`);
    }
    assert.ok(!consoleText.join('\n').includes(VIEWER), 'no token in the console');

    // A reload reconnects with the kept token, no prompt.
    await page.reload();
    await until(async () => (await status(page)).includes('live'), 15_000, 'live again after reload');
    assert.equal(await page.getByTestId('access-form').count(), 0);

    const m = await metrics(gw.url, VIEWER);
    assert.ok(metric(m, 'shoppulse_feed_refused_total{reason="ws_unauthorized"}') >= 2);
    const logs = gw.stderr();
    assert.ok(logs.includes('unauthorized'), 'refusals are logged');
    for (const t of [VIEWER, WRONG]) assert.ok(!logs.includes(t), `token ${t.slice(0, 10)}… not in the gateway logs`);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await gw.stop();
  }
});

test('a page on another site cannot open the feed or post events (cross-site WebSocket hijacking, DNS rebinding)', async () => {
  const gw = await startGateway(SIM);
  const port = await freePort();
  const evil = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><script>
      window.result = new Promise((resolve) => {
        const ws = new WebSocket(${JSON.stringify(gw.url.replace('http', 'ws') + '/ws')});
        ws.onopen = () => { ws.send('{"type":"hello","protocol":1}'); };
        ws.onmessage = (e) => resolve('read: ' + e.data.slice(0, 40));
        ws.onerror = () => resolve('refused');
      });
      fetch(${JSON.stringify(gw.url + '/ingest')}, { method: 'POST', mode: 'no-cors', body: '{"product_id": 666, "quantity": 1}' });
    </script>`);
  });
  await new Promise((r) => evil.listen(port, '127.0.0.1', r));
  // A browser in which evil.test resolves to this machine: a foreign site
  // (or a DNS-rebinding name) that can reach the gateway.
  const rebinding = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.test 127.0.0.1'],
    headless: true,
  });
  try {
    const page = await (await rebinding.newContext()).newPage();
    await page.goto(`http://evil.test:${port}/`);
    assert.equal(await page.evaluate(() => window.result), 'refused', 'the feed did not open for a foreign origin');
    await page.waitForTimeout(500);
    let m = await metrics(gw.url);
    assert.ok(metric(m, 'shoppulse_feed_refused_total{reason="origin"}') >= 2, 'both refusals counted');
    assert.equal(metric(m, 'shoppulse_feed_events_in_total{source="ingest"}'), 0, 'nothing was ingested from the foreign page');
    // DNS rebinding: the page is same-origin with the gateway by name, but
    // the gateway answers only to this machine's names.
    const res = await page.goto(`http://evil.test:${new URL(gw.url).port}/`);
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /forbidden_host/);
    m = await metrics(gw.url);
    assert.ok(metric(m, 'shoppulse_feed_refused_total{reason="host"}') >= 1);
  } finally {
    await rebinding.close();
    evil.close();
    await gw.stop();
  }
});

test('the dashboard runs over TLS (https page, wss feed)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoppulse-tls-'));
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days', '1', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    const gw = await startGateway(['--tls-cert', cert, '--tls-key', key, ...SIM]);
    try {
      assert.match(gw.url, /^https:\/\//);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      await watchCsp(context);
      const page = await context.newPage();
      const sockets = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      const res = await page.goto(`${gw.url}/?worker=0`); // the socket where Playwright sees it
      assert.ok(res.headers()['strict-transport-security']);
      await until(async () => (await readCount(page, 'events-applied')) > 50, 20_000, 'events over wss');
      assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith('wss://')), `feed over wss: ${sockets}`);
      assert.deepEqual(await page.evaluate(() => window.__csp), []);
      await context.close();
    } finally {
      await gw.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
