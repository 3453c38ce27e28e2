//! The engine host in a dedicated Web Worker.
//!
//! The worker runs the same wasm module as the page: `worker.js` (copied
//! next to `index.html`) imports the page's wasm-bindgen JS and wasm (their
//! URLs, hashed by Trunk, are read from the page's preload links and passed
//! in the worker's query string) and starts it; [`crate::main`] sees that it
//! runs in a worker and calls [`serve`] instead of mounting the app. Messages
//! are `postcard` bytes of [`Cmd`] and [`Answer`], their buffers transferred,
//! not copied.
//!
//! The page falls back to a host on its own thread when the worker cannot
//! be created or fails (an `error` event): the new host starts from a
//! snapshot, and the health strip says why.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::host::Host;
use crate::link::{decode, encode, Answer, Cmd};
use crate::state::Store;

/// True in a dedicated worker (the engine host), false on the page.
pub fn in_worker() -> bool {
    js_sys::global()
        .dyn_into::<web_sys::DedicatedWorkerGlobalScope>()
        .is_ok()
}

/// Posts `bytes` to `target` (a worker or the worker's scope), transferring
/// the buffer.
fn post_bytes(post: impl FnOnce(&JsValue, &JsValue) -> Result<(), JsValue>, bytes: &[u8]) {
    let arr = js_sys::Uint8Array::from(bytes);
    let transfer = js_sys::Array::of1(&arr.buffer());
    let _ = post(&arr, &transfer);
}

/// Sends a message to the worker.
pub fn post(worker: &web_sys::Worker, bytes: &[u8]) {
    post_bytes(|m, t| worker.post_message_with_transfer(m, t), bytes);
}

/// The bytes of a message event (a `Uint8Array` or its buffer).
fn bytes_of(ev: &web_sys::MessageEvent) -> Vec<u8> {
    js_sys::Uint8Array::new(&ev.data()).to_vec()
}

/// The worker's side: waits for [`Cmd::Start`], then runs the host and its
/// feed, answering by `postMessage`.
pub fn serve() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let host: Rc<RefCell<Option<Rc<Host>>>> = Rc::default();
    let reply_scope = scope.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let bytes = bytes_of(&ev);
            let Some(cmd) = decode::<Cmd>(&bytes) else {
                return;
            };
            if let Cmd::Start(start) = cmd {
                if host.borrow().is_some() {
                    return;
                }
                let scope = reply_scope.clone();
                let h = Host::new(
                    start,
                    Box::new(move |a: Answer| {
                        post_bytes(|m, t| scope.post_message_with_transfer(m, t), &encode(&a));
                    }),
                );
                h.set_paced_by_page();
                host.replace(Some(Rc::clone(&h)));
                wasm_bindgen_futures::spawn_local(crate::feed::run(h));
                return;
            }
            let h = host.borrow().clone();
            if let Some(h) = h {
                h.handle(cmd);
            }
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // One handler for the worker's lifetime.
    on_message.forget();
}

/// The URL of the page's preload link matching `selector`.
fn link_href(doc: &web_sys::Document, selector: &str) -> Option<String> {
    doc.query_selector(selector)
        .ok()
        .flatten()?
        .get_attribute("href")
        .filter(|h| !h.is_empty())
}

/// The page's side: starts the worker for `store` (`None`: it cannot be
/// started here, e.g. the page was not built by Trunk).
pub fn spawn(store: &Rc<Store>) -> Option<web_sys::Worker> {
    let doc = web_sys::window()?.document()?;
    let base = doc.base_uri().ok().flatten()?;
    let abs = |href: String| {
        web_sys::Url::new_with_base(&href, &base)
            .ok()
            .map(|u| u.href())
    };
    let js = abs(link_href(&doc, "link[rel=modulepreload]")?)?;
    let wasm = abs(link_href(&doc, "link[rel=preload][as=fetch]")?)?;
    let url = web_sys::Url::new_with_base("worker.js", &base).ok()?;
    url.search_params().set("js", &js);
    url.search_params().set("wasm", &wasm);
    let opts = web_sys::WorkerOptions::new();
    opts.set_type(web_sys::WorkerType::Module);
    opts.set_name("shoppulse-engine");
    let worker = web_sys::Worker::new_with_options(&url.href(), &opts).ok()?;

    let page = Rc::downgrade(store);
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let bytes = bytes_of(&ev);
            if let (Some(answer), Some(store)) = (decode::<Answer>(&bytes), page.upgrade()) {
                store.on_answer(answer);
            }
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let page = Rc::downgrade(store);
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let why = js_sys::Reflect::get(&ev, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the worker did not start".to_owned());
        if let Some(store) = page.upgrade() {
            store.worker_failed(&why);
        }
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    Some(worker)
}
