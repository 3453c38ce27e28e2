// Hostile input against the running gateway with a dashboard open: the
// corpus in tests/data/hostile.jsonl (wrong types, missing fields, NaN and
// huge numbers, deep nesting, 10 MB strings, invalid UTF-8, unknown kinds,
// binary garbage) posted to /ingest, and WebSocket clients sending garbage,
// binary and oversized frames. Every bad line gets a counted, readable
// rejection of its class, in the ingest answer, in /metrics and on the page;
// nothing crashes; the dashboard is never disconnected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway, launchBrowser, openDashboard, until, shot, ARTIFACTS } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The corpus, each entry resolved to the bytes of its line. */
export function hostileCorpus() {
  const text = readFileSync(path.join(here, '../data/hostile.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const e = JSON.parse(l);
      let bytes;
      if (e.line !== undefined) bytes = Buffer.from(e.line, 'utf8');
      else if (e.line_b64 !== undefined) bytes = Buffer.from(e.line_b64, 'base64');
      else {
        const fill = e.fill.repeat(e.times);
        const close = (e.close ?? '').repeat(e.times);
        bytes = Buffer.from(e.template.replace('{}', () => fill).replace('{/}', () => close), 'utf8');
      }
      return { name: e.name, class: e.class, bytes };
    });
}

/** A raw WebSocket client: handshake, then whatever frames we like. */
function rawWebSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.once('connect', () => {
      sock.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      if (!buf.subarray(0, 12).toString().includes('101')) return reject(new Error(buf.toString()));
      const rest = buf.subarray(end + 4);
      const frames = [];
      let pending = rest;
      let closed = false;
      const parse = () => {
        while (pending.length >= 2) {
          let len = pending[1] & 0x7f;
          let off = 2;
          if (len === 126) {
            if (pending.length < 4) return;
            len = pending.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (pending.length < 10) return;
            len = Number(pending.readBigUInt64BE(2));
            off = 10;
          }
          if (pending.length < off + len) return;
          frames.push({ opcode: pending[0] & 0x0f, payload: pending.subarray(off, off + len) });
          pending = pending.subarray(off + len);
        }
      };
      sock.on('data', (d) => {
        pending = Buffer.concat([pending, d]);
        parse();
      });
      sock.on('close', () => {
        closed = true;
      });
      parse();
      resolve({
        send(opcode, payload) {
          const mask = randomBytes(4);
          const body = Buffer.from(payload);
          for (let i = 0; i < body.length; i += 1) body[i] ^= mask[i % 4];
          let head;
          if (body.length < 126) head = Buffer.from([0x80 | opcode, 0x80 | body.length]);
          else if (body.length < 65536) {
            head = Buffer.alloc(4);
            head[0] = 0x80 | opcode;
            head[1] = 0x80 | 126;
            head.writeUInt16BE(body.length, 2);
          } else {
            head = Buffer.alloc(10);
            head[0] = 0x80 | opcode;
            head[1] = 0x80 | 127;
            head.writeBigUInt64BE(BigInt(body.length), 2);
          }
          sock.write(Buffer.concat([head, mask, body]));
        },
        frames,
        get closed() {
          return closed;
        },
        destroy: () => sock.destroy(),
      });
    };
    sock.on('data', onData);
  });
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function metrics(gw) {
  return (await (await fetch(`${gw.url}/metrics`)).text()).split('\n');
}

test('hostile events and hostile WebSocket clients: counted, readable rejections, no crash, no disconnect', async () => {
  const corpus = hostileCorpus();
  const gw = await startGateway(['--max-body', '64MiB']);
  try {
    const { page, errors } = await openDashboard(browser, gw.url);
    await until(async () => (await page.getByTestId('feed-health').getAttribute('data-state')) === 'live', 15_000, 'live');

    // One body: good line, hostile line, good line, ...
    const good = (i) => Buffer.from(`{"kind":"inventory","ts":${1_700_000_000_000 + i},"product":${i + 1},"quantity":5}\n`);
    const parts = [];
    corpus.forEach((h, i) => parts.push(good(i), h.bytes, Buffer.from('\n')));
    parts.push(good(corpus.length));
    const body = Buffer.concat(parts);
    const res = await fetch(`${gw.url}/ingest`, { method: 'POST', body });
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.accepted, corpus.length + 1);
    assert.equal(answer.rejected_total, corpus.length);
    const wrong = [];
    const byClass = {};
    answer.rejected.forEach((r, i) => {
      const h = corpus[i];
      assert.equal(r.line, 2 * i + 2, h.name);
      assert.ok(r.reason.startsWith(`${r.class}:`) && r.reason.length > r.class.length + 5, `${h.name}: ${r.reason}`);
      if (r.class !== h.class) wrong.push(`${h.name}: got ${r.class} (${r.reason})`);
      byClass[r.class] = (byClass[r.class] ?? 0) + 1;
    });
    assert.deepEqual(wrong, []);
    const lines = await metrics(gw);
    for (const [cls, n] of Object.entries(byClass)) {
      assert.ok(lines.includes(`shoppulse_feed_rejected_lines_total{class="${cls}"} ${n}`), `${cls} counted ${n}`);
    }

    // The page counts every one, by class, and applied the good lines.
    await until(async () => (await page.getByTestId('feed-health').getAttribute('data-applied')) === String(corpus.length + 1), 15_000, 'good lines applied');
    const shown = await page.evaluate(() => {
      const chips = {};
      for (const c of document.querySelectorAll('[data-testid="rejections-by-class"] [data-class]')) {
        chips[c.dataset.class] = Number(c.innerText.replace(/[^0-9]/g, ''));
      }
      return {
        rejected: Number(document.querySelector('[data-testid="events-rejected"]').innerText.replace(/[^0-9]/g, '')),
        chips,
        rows: document.querySelectorAll('[data-testid="rejection-row"]').length,
      };
    });
    assert.equal(shown.rejected, corpus.length);
    assert.deepEqual(shown.chips, byClass);
    assert.ok(shown.rows > 0, 'latest rejections listed with reasons');

    // Hostile WebSocket clients: each gets an error frame and a close.
    const cases = [
      ['binary frame before hello', 0x2, Buffer.from([0, 0xff, 0x13, 0x37]), 'bad_hello', 1002],
      ['garbage text as hello', 0x1, Buffer.from('{{{{'), 'bad_hello', 1002],
      ['text frame with invalid UTF-8', 0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_hello', 1002],
      ['message over 64 KiB', 0x1, Buffer.alloc(100_000, 0x61), 'too_large', 1009],
    ];
    const ws = [];
    for (const [name, opcode, payload, code, closeCode] of cases) {
      const c = await rawWebSocket(gw.port);
      c.send(opcode, payload);
      await until(() => c.closed || c.frames.some((f) => f.opcode === 0x8), 10_000, `${name}: closed`);
      if (code === 'too_large' && !c.frames.some((f) => f.opcode === 0x8)) {
        // The gateway stops reading at 64 KiB and closes while the client is
        // still sending: the unread rest resets the connection, which can
        // discard the error and close frames before the client reads them.
        ws.push(`${name}: reset`);
        continue;
      }
      const err = c.frames.find((f) => f.opcode === 0x1);
      assert.ok(err, `${name}: an error frame first`);
      const frame = JSON.parse(err.payload.toString());
      assert.equal(frame.code, code, name);
      assert.ok(frame.message.length > 0, name);
      const close = c.frames.find((f) => f.opcode === 0x8);
      assert.equal(close.payload.readUInt16BE(0), closeCode, name);
      c.destroy();
      ws.push(`${name}: ${code}/${closeCode}`);
    }
    assert.ok((await metrics(gw)).includes(`shoppulse_feed_protocol_errors_total ${cases.length}`), 'every hostile client counted');
    // The dashboard never noticed, and still works.
    const detail = await page.getByTestId('conn-detail').innerText();
    assert.doesNotMatch(detail, /disconnects/);
    const after = await fetch(`${gw.url}/ingest`, { method: 'POST', body: '{"product_id": 7, "quantity": 3}\n' });
    assert.equal(after.status, 200);
    await until(async () => (await page.getByTestId('feed-health').getAttribute('data-applied')) === String(corpus.length + 2), 10_000, 'still applying');
    assert.equal((await (await fetch(`${gw.url}/healthz`)).json()).ok, true);
    await shot(page, 'hostile');
    const crashes = errors.filter((e) => e.startsWith('pageerror') || /panicked/.test(e));
    assert.deepEqual(crashes, []);
    const report = { lines: corpus.length, bytes: body.length, rejections_by_class: byClass, websocket: ws };
    console.log(`hostile: ${JSON.stringify(report)}`);
    writeFileSync(path.join(ARTIFACTS, 'hostile.json'), JSON.stringify(report, null, 2) + '\n');
  } finally {
    await gw.stop();
  }
});
