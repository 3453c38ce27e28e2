// A small static file server for the comparison pages (tests/bench/pages at
// `/`) and Perspective's browser build (`/pkg/perspective/…`). The pages are
// not served by the gateway: its dashboard CSP would block them, and they
// are not part of the product.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOTS = [
  ['/pkg/perspective/', path.join(here, 'node_modules/@finos/perspective/')],
  ['/', path.join(here, 'pages/')],
];
const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.map': 'application/json', '.css': 'text/css',
};

/** Starts the server on a free loopback port; resolves with {url, close()}. */
export function startStatic() {
  const srv = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const [prefix, dir] = ROOTS.find(([p]) => url.pathname.startsWith(p));
    const file = path.normalize(path.join(dir, url.pathname.slice(prefix.length)));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        // Cross-origin isolation, so performance.measureUserAgentSpecificMemory()
        // can measure the whole page (workers included).
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${srv.address().port}`,
      // Connections a page left open (keep-alive, a worker's fetch) would
      // hold close() for ever: cut them.
      close: () => new Promise((r) => { srv.close(r); srv.closeAllConnections(); }),
    }));
  });
}
