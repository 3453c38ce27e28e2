// Injected into every benchmarked page before its own scripts (CDP
// Page.addScriptToEvaluateOnNewDocument): frame times from
// requestAnimationFrame deltas, long tasks (PerformanceObserver 'longtask'),
// memory (JS heap; wasm linear memory for ShopPulse from Trunk's start
// event and of its engine worker), an applied-events read-out for every
// client, and optionally the event-to-pixel latency (see `wrapSockets`).
(() => {
  const LATENCY_CHANNEL = 'shoppulse-bench-latency';
  if (typeof window === 'undefined') {
    // In a worker (the engine host): only the socket wrapper (below), its
    // frame heads posted to the page.
    // The channel is opened at the first frame, not here: this runs (over
    // CDP) while the worker is paused before its own script, and a
    // BroadcastChannel constructed then hangs the worker and its page
    // (Chromium 156).
    let out = null;
    // eslint-disable-next-line no-use-before-define
    wrapSockets(self, (first, sent) => {
      out ??= new BroadcastChannel(LATENCY_CHANNEL);
      out.postMessage([first, sent]);
    });
    return;
  }
  const P = (window.__perf = {
    recording: false, deltas: [], long: [], loaf: [], last: 0, wasmMemory: null, lat: [], pending: [],
  });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!P.recording) continue;
        P.long.push(e.duration);
        P.longAt.push(Math.round(e.startTime));
      }
    }).observe({ type: 'longtask' });
  } catch (e) { P.noLongtask = String(e); }
  // What a long frame was made of (Long Animation Frames API): for each
  // animation frame that blocked the page over 50 ms, when it began, how
  // long it took, how much of that was script (and which), style and
  // layout, and the rest (paint, commit, or the thread not running: a
  // garbage collection or the core busy with other threads).
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!P.recording || e.blockingDuration <= 0) continue;
        const scripts = e.scripts.map((x) => ({
          ms: Math.round(x.duration),
          what: `${x.invokerType} ${x.invoker}${x.sourceFunctionName ? ` ${x.sourceFunctionName}` : ''}`,
        })).sort((a, b) => b.ms - a.ms);
        const scriptMs = Math.round(e.scripts.reduce((n, x) => n + x.duration, 0));
        const layoutMs = e.styleAndLayoutStart ? Math.round(e.startTime + e.duration - e.styleAndLayoutStart) : 0;
        P.loaf.push({
          atMs: Math.round(e.startTime), ms: Math.round(e.duration), blockingMs: Math.round(e.blockingDuration),
          scriptMs, renderMs: e.renderStart ? Math.round(e.startTime + e.duration - e.renderStart) : 0, layoutMs,
          scripts: scripts.slice(0, 3),
        });
      }
    }).observe({ type: 'long-animation-frame' });
  } catch (e) { P.noLoaf = String(e); }
  addEventListener('TrunkApplicationStarted', (e) => { P.wasmMemory = e.detail?.wasm?.memory ?? null; });

  const shownSeq = () => {
    const el = document.querySelector('[data-last-seq]');
    return el ? Number(el.getAttribute('data-last-seq')) : (window.__bench?.state?.lastSeq ?? 0);
  };
  const loop = (t) => {
    if (P.recording && P.last) {
      P.deltas.push(t - P.last);
      // ShopPulse: frames while its sections were drawn in turn.
      if (document.querySelector('[data-drawing]')?.getAttribute('data-drawing') === 'in-turn') P.inTurn += 1;
    }
    // First live data on screen: ms from navigation start (rAF time) to the
    // first frame whose view shows applied events.
    if (P.firstDataMs === undefined && P.applied() > 0) P.firstDataMs = t;
    P.last = t;
    if (P.pending.length) {
      // Frames whose events are on screen by this animation frame: their
      // latency is now minus the gateway's send time (same machine clock).
      const seq = shownSeq();
      const now = Date.now();
      while (P.pending.length && P.pending[0][0] <= seq) P.lat.push(now - P.pending.shift()[1]);
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);

  P.start = () => { P.deltas = []; P.long = []; P.longAt = []; P.loaf = []; P.last = 0; P.lat = []; P.inTurn = 0; P.recording = true; };
  const q = (xs, f) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(f * xs.length))] : null);
  P.stop = () => {
    P.recording = false;
    const d = P.deltas.slice().sort((a, b) => a - b);
    const l = P.lat.slice().sort((a, b) => a - b);
    // Frames the page missed: a delta of n vsync intervals (16.7 ms at
    // 60 Hz) is n - 1 missed frames.
    const dropped = d.reduce((n, x) => n + Math.max(0, Math.round(x / (1000 / 60)) - 1), 0);
    return {
      frames: d.length,
      framesDropped: dropped,
      inTurnPct: d.length ? (100 * P.inTurn) / d.length : null,
      droppedPct: d.length ? (100 * dropped) / (d.length + dropped) : null,
      frameP50Ms: q(d, 0.5),
      frameP99Ms: q(d, 0.99),
      frameMaxMs: d.length ? d[d.length - 1] : null,
      longTasks: P.long.length,
      longMaxMs: P.long.length ? Math.max(...P.long) : 0,
      // When each long task began, ms after navigation, and how long it took.
      longAtMs: P.long.map((d, i) => [P.longAt[i], Math.round(d)]),
      // Long animation frames (over 50 ms of blocking), see above.
      longFrames: P.loaf,
      latencyN: l.length,
      latencyP50Ms: q(l, 0.5),
      latencyP99Ms: q(l, 0.99),
    };
  };
  // Main-thread JS heap and ShopPulse's wasm linear memory; on the
  // cross-origin-isolated comparison pages also the whole page's memory as
  // the browser measures it (workers and their wasm included: Perspective's
  // engine lives in a Web Worker).
  P.memory = async () => ({
    jsHeapBytes: performance.memory ? performance.memory.usedJSHeapSize : null,
    wasmBytes: P.wasmMemory ? P.wasmMemory.buffer.byteLength : null,
    // ShopPulse's engine worker's wasm (0 with the operators on the page).
    workerWasmBytes: window.__shoppulse_host_memory ? window.__shoppulse_host_memory() : null,
    pageBytes: window.crossOriginIsolated && performance.measureUserAgentSpecificMemory
      ? (await performance.measureUserAgentSpecificMemory()).bytes : null,
  });
  // Events applied so far: ShopPulse's health strip, or the client's counter.
  P.applied = () => {
    if (window.__bench) return window.__bench.applied();
    const el = document.querySelector('[data-applied]');
    return el ? Number(el.getAttribute('data-applied')) : 0;
  };

  // Event-to-pixel latency: with `?latency=1` every socket's `events`
  // frames (JSON text or bin1 binary) are noted (first seq, gateway send
  // time) from the frame's head only (no parse of the events), and matched
  // against the sequence shown on screen. The socket may be the page's own
  // (operators on the main thread) or the engine worker's: this script is
  // also run in the page's workers (cdp.mjs `instrumentWorkers`), where it
  // hands the frame heads to the page over a BroadcastChannel.
  function wrapSockets(scope, note) {
    const Native = scope.WebSocket;
    scope.WebSocket = function (...args) {
      const ws = new Native(...args);
      ws.addEventListener('message', (m) => {
        if (m.data instanceof ArrayBuffer) {
          // bin1 (docs/PROTOCOL.md 2.1): "SPB1" · uv flags · str epoch · uv first_seq · sv sent_ms.
          const b = new Uint8Array(m.data);
          if (b.length < 8 || b[0] !== 0x53 || b[1] !== 0x50 || b[2] !== 0x42 || b[3] !== 0x31) return;
          let at = 4;
          const uv = () => {
            let v = 0; let mul = 1;
            for (;;) {
              const x = b[at++];
              v += (x & 0x7f) * mul;
              if (x < 0x80) return v;
              mul *= 128;
            }
          };
          uv();
          const epochLen = uv();
          at += epochLen;
          const first = uv();
          const z = uv();
          const sent = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
          note(first, sent);
          return;
        }
        if (typeof m.data !== 'string' || !m.data.startsWith('{"type":"events"')) return;
        const head = m.data.slice(0, 200);
        const first = /"first_seq":(\d+)/.exec(head);
        const sent = /"sent_ms":(\d+)/.exec(head);
        if (!first || !sent) return;
        // The frame's last seq: first_seq + events - 1; counting the events
        // needs the body, so the first seq is used (the frame is on screen
        // when the shown seq reaches it; its later events come in the same
        // apply).
        note(Number(first[1]), Number(sent[1]));
      });
      return ws;
    };
    scope.WebSocket.prototype = Native.prototype;
    Object.assign(scope.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  }
  if (new URLSearchParams(location.search).has('latency')) {
    wrapSockets(window, (first, sent) => { if (P.recording) P.pending.push([first, sent]); });
    new BroadcastChannel(LATENCY_CHANNEL).onmessage = (m) => { if (P.recording) P.pending.push(m.data); };
  }
})();
