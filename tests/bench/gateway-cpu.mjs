// What the browser sweep's feed costs the machine: CPU of the gateway and of
// this node process (the paced /ingest pusher plus one WebSocket consumer) at
// a paced rate, for 8 s (docs/PERFORMANCE.md, *Which thread is busy*).
// Usage: node --experimental-websocket tests/bench/gateway-cpu.mjs [RATE] [bin1|json]
import { readFileSync } from 'node:fs';
import { simSource, pushPaced, startGateway } from './lib.mjs';
const rate = Number(process.argv[2] ?? 50000);
const secs = 8;
const ticks = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (+f[11] + +f[12]) / 100; };
const gw = await startGateway(['--client-queue', '100000', '--client-queue-bytes', '2GiB', '--history', '200000']);
const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`);
let bytes = 0; ws.binaryType = 'arraybuffer';
ws.onmessage = (m) => { bytes += m.data.byteLength ?? m.data.length; };
await new Promise((r) => (ws.onopen = r));
ws.send(JSON.stringify({ type: 'hello', protocol: 1, encodings: [process.argv[3] ?? 'bin1'] }));
const src = simSource({ rate, events: rate * (secs + 3) });
await new Promise((r) => setTimeout(r, 1500));
const g0 = ticks(gw.child.pid), c0 = process.cpuUsage(), t0 = performance.now();
const pushed = await pushPaced(gw, src, rate, secs);
const wall = (performance.now() - t0) / 1000;
const c1 = process.cpuUsage();
console.log(`rate ${rate}: pushed ${pushed} in ${wall.toFixed(1)} s; gateway ${(100 * (ticks(gw.child.pid) - g0) / wall).toFixed(0)}% of a core; node (pusher+consumer) ${((c1.user + c1.system - c0.user - c0.system) / 1e4 / wall).toFixed(0)}%; received ${(bytes / 1e6).toFixed(1)} MB`);
src.close(); ws.close(); await gw.stop();
