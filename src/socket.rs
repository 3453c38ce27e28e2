//! The browser's WebSocket as a stream of [`SocketEvent`]s, with frames
//! handed over without an allocation per frame.
//!
//! A text frame stays a JS string until [`Frames::text`] copies it into one
//! reused UTF-8 buffer with `TextEncoder.encodeInto` (the browser's own
//! copy); a binary frame is copied into another reused buffer. Through
//! `gloo-net` every text frame became a new Rust `String` through
//! wasm-bindgen's string glue, a loop over the string's characters in
//! JavaScript, which was 8 % of a worker busy with JSON frames
//! (docs/PERFORMANCE.md, *JSON frames into the worker*).
//!
//! Only [`crate::feed`] uses it; it holds the connection's state machine.

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What happened on the socket, in the order the browser reported it.
pub enum SocketEvent {
    /// The connection is open.
    Open,
    /// A text frame, still a JS string (read it with [`Frames::text`]).
    Text(js_sys::JsString),
    /// A binary frame (read it with [`Frames::bytes`]).
    Bytes(js_sys::ArrayBuffer),
    /// The socket is closed; nothing follows.
    Closed {
        /// The close code (1006 when the connection failed or dropped).
        code: u16,
        /// The peer's reason, often empty.
        reason: String,
        /// An error was reported before the close (a failed connection).
        failed: bool,
    },
}

/// Handlers kept alive while the socket is open.
struct Handlers {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _error: Closure<dyn FnMut()>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

/// An open (or opening) WebSocket; closed when dropped.
pub struct Socket {
    ws: WebSocket,
    /// The socket's events; ends after [`SocketEvent::Closed`].
    pub events: UnboundedReceiver<SocketEvent>,
    _handlers: Handlers,
}

/// A readable message from a thrown JS value.
fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

impl Socket {
    /// Starts connecting to `url` (binary frames as `ArrayBuffer`s).
    pub fn open(url: &str) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|e| js_error(&e))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let (tx, events) = unbounded();
        let failed = std::rc::Rc::new(std::cell::Cell::new(false));
        let open = {
            let tx = tx.clone();
            Closure::<dyn FnMut()>::new(move || {
                let _ = tx.unbounded_send(SocketEvent::Open);
            })
        };
        let message = {
            let tx = tx.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
                let data = m.data();
                let ev = match data.dyn_into::<js_sys::ArrayBuffer>() {
                    Ok(buf) => SocketEvent::Bytes(buf),
                    // A text frame is a string: binaryType is set above.
                    Err(other) => SocketEvent::Text(other.unchecked_into()),
                };
                let _ = tx.unbounded_send(ev);
            })
        };
        let error = {
            let failed = failed.clone();
            Closure::<dyn FnMut()>::new(move || failed.set(true))
        };
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |c: CloseEvent| {
            let _ = tx.unbounded_send(SocketEvent::Closed {
                code: c.code(),
                reason: c.reason(),
                failed: failed.get(),
            });
            tx.close_channel();
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onerror(Some(error.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            events,
            _handlers: Handlers {
                _open: open,
                _message: message,
                _error: error,
                _close: close,
            },
        })
    }

    /// Sends a text frame.
    pub fn send(&self, text: &str) -> Result<(), String> {
        self.ws.send_with_str(text).map_err(|e| js_error(&e))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The handlers are dropped with the socket: unhook them first.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onerror(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

#[wasm_bindgen]
extern "C" {
    /// `TextEncoder`, bound here to take a JS string as it is (web-sys'
    /// `encode_into` takes a `&str`, which would copy it into Rust first).
    #[wasm_bindgen(js_name = TextEncoder)]
    type Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Encoder;
    #[wasm_bindgen(method, js_class = "TextEncoder", js_name = encodeInto)]
    fn encode_into(
        this: &Encoder,
        source: &js_sys::JsString,
        dest: &js_sys::Uint8Array,
    ) -> Progress;
    /// `encodeInto`'s result.
    type Progress;
    #[wasm_bindgen(method, getter)]
    fn read(this: &Progress) -> u32;
    #[wasm_bindgen(method, getter)]
    fn written(this: &Progress) -> u32;
}

/// Buffers up to this size are kept from frame to frame, bytes (an events
/// frame of 1,000 events is about 150 KB of JSON or 18 KB of `bin1`).
pub const KEEP_BYTES: usize = 1 << 20;

/// Reads frames into buffers reused from frame to frame.
pub struct Frames {
    encoder: Encoder,
    text: Vec<u8>,
    /// Text that is not all ASCII, through wasm-bindgen's conversion.
    other: String,
    bytes: Vec<u8>,
}

impl Default for Frames {
    fn default() -> Self {
        Frames {
            encoder: Encoder::new(),
            text: Vec::new(),
            other: String::new(),
            bytes: Vec::new(),
        }
    }
}

impl Frames {
    /// The text of a text frame. ASCII (all the gateway's JSON unless a
    /// field holds other characters) is copied by the browser straight
    /// into the reused buffer; other text is converted the usual way.
    pub fn text(&mut self, s: &js_sys::JsString) -> &str {
        let units = s.length() as usize;
        if self.text.len() < units {
            self.text.resize(units, 0);
        }
        // A view on the wasm memory where `self.text` lies (no `unsafe`:
        // the view is built from the buffer's address, as wasm-bindgen's
        // own glue does). It is used only by `encodeInto`, which runs no
        // wasm code, so the memory cannot grow (and the view cannot be
        // detached) while it is alive.
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        // reason: wasm32 addresses and lengths are 32-bit
        #[allow(clippy::cast_possible_truncation)]
        let dest = js_sys::Uint8Array::new_with_byte_offset_and_length(
            &memory.buffer(),
            self.text.as_mut_ptr() as usize as u32,
            units as u32,
        );
        let done = self.encoder.encode_into(s, &dest);
        drop(dest);
        if done.read() as usize == units {
            // encodeInto writes well-formed UTF-8 (lone surrogates as U+FFFD).
            if let Ok(t) = std::str::from_utf8(&self.text[..done.written() as usize]) {
                return t;
            }
        }
        self.other = String::from(s);
        &self.other
    }

    /// Lets go of a buffer that a frame larger than [`KEEP_BYTES`] grew
    /// (a snapshot is megabytes): the buffers are kept for the next frame
    /// only at the size of ordinary frames, so one large frame does not
    /// hold its size in the wasm memory for ever.
    pub fn trim(&mut self) {
        if self.text.len() > KEEP_BYTES {
            self.text = Vec::new();
        }
        if self.bytes.len() > KEEP_BYTES {
            self.bytes = Vec::new();
        }
        if self.other.capacity() > KEEP_BYTES {
            self.other = String::new();
        }
    }

    /// The bytes of a binary frame.
    pub fn bytes(&mut self, buf: &js_sys::ArrayBuffer) -> &[u8] {
        let view = js_sys::Uint8Array::new(buf);
        let len = view.length() as usize;
        if self.bytes.len() < len {
            self.bytes.resize(len, 0);
        }
        view.copy_to(&mut self.bytes[..len]);
        &self.bytes[..len]
    }
}
