// A TCP proxy for fault injection between a dashboard and the gateway
// (node:net, no WebSocket parsing: faults land anywhere, also mid-frame).
//
// - cutAll(): closes every open connection at once (FIN or RST, by coin toss).
// - a per-connection byte budget (`cutAfterBytes`): the connection is cut
//   after that many bytes from the gateway, usually in the middle of a frame.
// - blackhole(): existing connections stay open but nothing is forwarded in
//   either direction (a dead NAT path: TCP does not notice).
// - When the gateway is down, a new connection is closed at once.
import net from 'node:net';

export class Proxy {
  /**
   * @param {number} targetPort gateway port on 127.0.0.1
   * @param {{rand?: () => number, cutAfterBytes?: () => number | null}} opts
   */
  constructor(targetPort, opts = {}) {
    this.targetPort = targetPort;
    this.rand = opts.rand ?? Math.random;
    this.cutAfterBytes = opts.cutAfterBytes ?? (() => null);
    this.conns = new Set();
    this.cuts = 0; // connections the proxy closed on purpose
    this.accepted = 0;
    this.server = net.createServer((client) => this.#accept(client));
  }

  /** Starts listening on a free port; resolves to the port. */
  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port));
    });
  }

  #accept(client) {
    this.accepted += 1;
    const conn = { client, upstream: null, down: 0, budget: this.cutAfterBytes(), dead: false, blackholed: false };
    this.conns.add(conn);
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    conn.upstream = upstream;
    const end = () => {
      if (conn.dead) return;
      conn.dead = true;
      this.conns.delete(conn);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.on('data', (d) => {
      if (!conn.blackholed && !conn.dead) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (conn.blackholed || conn.dead) return;
      conn.down += d.length;
      if (conn.budget !== null && conn.down > conn.budget) {
        // Forward part of this chunk, then cut: a torn frame.
        const keep = Math.max(0, d.length - (conn.down - conn.budget));
        if (keep > 0) client.write(d.subarray(0, keep));
        this.#cut(conn);
        return;
      }
      client.write(d);
    });
  }

  #cut(conn) {
    if (conn.dead) return;
    this.cuts += 1;
    conn.dead = true;
    this.conns.delete(conn);
    if (this.rand() < 0.5 && typeof conn.client.resetAndDestroy === 'function') {
      conn.client.resetAndDestroy();
    } else {
      conn.client.destroy();
    }
    conn.upstream.destroy();
  }

  /** Cuts every open connection; returns how many were cut. */
  cutAll() {
    const n = this.conns.size;
    for (const c of [...this.conns]) this.#cut(c);
    return n;
  }

  /** Stops forwarding on every open connection without closing it. */
  blackhole() {
    for (const c of this.conns) c.blackholed = true;
    return this.conns.size;
  }

  /** Open connections. */
  get open() {
    return this.conns.size;
  }

  close() {
    for (const c of [...this.conns]) {
      c.client.destroy();
      c.upstream?.destroy();
    }
    this.conns.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
