// Shared by the two comparison clients (plain JavaScript, Perspective): the
// gateway connection (protocol v1 JSON frames: hello, then `events` frames),
// the per-frame display of a few figures, and the read-out the benchmark and
// the correctness test use (`window.__bench`).
//
// Either the gateway is empty when a client connects, so the snapshot it
// sends first holds nothing (seq 0), or the client resumes from sequence 0
// of the gateway's epoch (`?epoch=`) and gets no snapshot: either way every
// event arrives in `events` frames. A non-empty snapshot is reported as an
// error, never silently used.

/** The event's aggregate keys, as every implementation reads them. */
export const ACTION_SLOT = {
  browse: 0, view: 0, add_to_cart: 1, remove_from_cart: 2, checkout: 3, purchase: 4,
};
export const TOP_WEIGHT = [1, 3, 0, 0, 5, 0]; // browse 1, add to cart 3, purchase 5
export const MINUTE_MS = 60_000;

/** Time of an event: integer ms or an RFC 3339 string. */
export function eventMs(ts) {
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

/** An id as a map key: numbers and canonical decimal strings are the same id. */
export function idKey(id) {
  return String(id);
}

/**
 * Connects to the gateway at `url` and hands every `events` frame's array
 * to `onEvents(events, firstSeq, sentMs)`. Returns the bench state.
 */
export function connect(url, onEvents) {
  const state = {
    received: 0, frames: 0, lastSeq: 0, errors: [], open: false, closed: null,
  };
  const ws = new WebSocket(url);
  ws.onopen = () => {
    state.open = true;
    // `?epoch=E`: the whole history of epoch E (resume from 0), else the
    // live tail after an (empty) snapshot.
    const epoch = new URLSearchParams(location.search).get('epoch');
    const hello = { type: 'hello', protocol: 1 };
    if (epoch) hello.resume = { epoch, seq: 0 };
    ws.send(JSON.stringify(hello));
  };
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.type === 'events') {
      if (state.lastSeq !== 0 && f.first_seq !== state.lastSeq + 1) {
        state.errors.push(`gap: expected ${state.lastSeq + 1}, got ${f.first_seq}`);
      }
      state.lastSeq = f.first_seq + f.events.length - 1;
      state.frames += 1;
      state.received += f.events.length;
      onEvents(f.events, f.first_seq, f.sent_ms);
    } else if (f.type === 'snapshot') {
      if (f.seq !== 0) state.errors.push(`snapshot at seq ${f.seq} (expected an empty gateway)`);
      state.lastSeq = f.seq;
    } else if (f.type === 'error' || f.type === 'gap') {
      state.errors.push(`${f.type}: ${f.code ?? f.reason}`);
    }
  };
  ws.onclose = (e) => { state.closed = `closed ${e.code} ${e.reason}`; };
  // The gateway drops a client it hears nothing from for ~10 s.
  setInterval(() => {
    if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'heartbeat', sent_ms: Date.now() }));
  }, 2000);
  return state;
}

/** The feed URL: `?feed=ws://…/ws`. */
export function feedUrl() {
  return new URLSearchParams(location.search).get('feed');
}

/**
 * Redraws `el` once per animation frame when `dirty()` says something
 * changed, with the text `render()` returns (a few figures, like a
 * dashboard's header).
 */
export function displayLoop(el, dirty, render) {
  const step = async () => {
    if (dirty()) el.textContent = await render();
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}
