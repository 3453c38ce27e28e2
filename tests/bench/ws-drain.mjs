#!/usr/bin/env node
// Diagnostics: how fast this browser's WebSocket alone hands the gateway's
// frames to a dedicated worker that does (almost) nothing with them, so the
// part of a dashboard's cost that is the browser's own (receiving,
// assembling, decoding text frames into JS strings) can be told apart from
// ShopPulse's. A gateway holds EVENTS events (the simulator's stream); a
// worker resumes from sequence 0 and drains the whole history as fast as
// it comes, once per mode:
//   text     JSON events frames, each message's length read
//   encode   JSON events frames, each copied into a buffer with TextEncoder.encodeInto
//   bin1     bin1 events frames (binary), each message's byteLength read
// Prints events/s over the drain and the worker's time in its handler.
// Usage: node --experimental-websocket tests/bench/ws-drain.mjs [EVENTS] [modes]
import { launchChromium, newPage } from './cdp.mjs';
import { prefilled } from './lib.mjs';

const EVENTS = Number(process.argv[2] ?? 3_000_000);
const MODES = (process.argv[3] ?? 'text,encode,bin1,text,encode,bin1').split(',');
const WORKER = `
onmessage = (start) => {
  const { url, epoch, mode } = start.data;
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const enc = new TextEncoder();
  let buf = new Uint8Array(1 << 21);
  let msgs = 0, bytes = 0, first = 0, last = 0, handler = 0;
  ws.onopen = () => {
    const hello = { type: 'hello', protocol: 1, resume: { epoch, seq: 0 } };
    if (mode === 'bin1') hello.encodings = ['bin1', 'json'];
    ws.send(JSON.stringify(hello));
  };
  ws.onmessage = (m) => {
    const t0 = performance.now();
    const d = m.data;
    // Heartbeats and the hello are small: only events frames (kilobytes) count.
    if ((typeof d === 'string' ? d.length : d.byteLength) < 2048) return;
    if (!first) first = t0;
    if (typeof d === 'string') {
      if (mode === 'encode') {
        if (buf.length < d.length * 3) buf = new Uint8Array(d.length * 3);
        bytes += enc.encodeInto(d, buf).written;
      } else bytes += d.length;
    } else bytes += d.byteLength;
    msgs += 1;
    last = performance.now();
    handler += last - t0;
  };
  setInterval(() => {
    ws.send(JSON.stringify({ type: 'heartbeat', sent_ms: Date.now() }));
    postMessage({ msgs, bytes, first, last, handler });
  }, 250);
};`;

const { gw, epoch } = await prefilled(EVENTS);
const chrome = await launchChromium();
try {
  for (const mode of MODES) {
    const page = await newPage(chrome.port);
    await page.goto(`${gw.url}/healthz`);
    await page.eval(`(() => {
      const w = new Worker(URL.createObjectURL(new Blob([${JSON.stringify(WORKER)}], { type: 'text/javascript' })));
      window.__drain = null;
      w.onmessage = (m) => { window.__drain = m.data; };
      w.postMessage({ url: 'ws://127.0.0.1:${gw.port}/ws', epoch: ${JSON.stringify(epoch)}, mode: ${JSON.stringify(mode)} });
    })()`);
    let prev = null;
    let still = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const d = await page.eval("window.__drain");
      if (d && prev && d.msgs === prev.msgs && d.msgs > 0) still += 1;
      else still = 0;
      prev = d;
      if (still >= 8) break;
    }
    const s = (prev.last - prev.first) / 1000;
    console.log(`${mode.padEnd(7)} ${prev.msgs} messages, ${(prev.bytes / 1e6).toFixed(0)} MB in ${s.toFixed(2)} s: ${Math.round(EVENTS / s).toLocaleString('en')} ev/s, ${(prev.bytes / 1e6 / s).toFixed(0)} MB/s; handler ${(prev.handler / 1000).toFixed(2)} s (${(1e6 * prev.handler / EVENTS).toFixed(0)} ns/event)`);
    await page.close();
  }
} finally {
  await chrome.close();
  await gw.stop();
}
