// ShopPulse engine host worker (see src/worker.rs): loads the page's own
// wasm-bindgen module and wasm (URLs in this script's query string) and
// starts it; the wasm sees it runs in a worker and serves the page's
// messages. Messages that arrive while the wasm loads are kept and replayed.
const early = [];
self.onmessage = (e) => early.push(e);
const params = new URL(self.location.href).searchParams;
const bindings = await import(params.get("js"));
await bindings.default({ module_or_path: params.get("wasm") });
for (const e of early) self.onmessage(e);
