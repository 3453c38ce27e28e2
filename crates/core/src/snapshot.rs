//! `snap1`: the compact binary encoding of `snapshot` frames.
//!
//! Negotiated like `bin1` (the client's `hello` lists `"snap1"` in
//! `encodings`); a client that does not list it gets the JSON `snapshot`
//! frame, unchanged. A `snap1` snapshot is one WebSocket *binary* message:
//!
//! ```text
//! "SPS1" | epoch (varint length + UTF-8) | seq (varint) | engine state
//! ```
//!
//! The engine state is the same serde data model as the JSON snapshot
//! (`Engine`'s `Serialize`), written with postcard: fields in declaration
//! order, LEB128 varints, no field names. Why: a JSON snapshot of a busy
//! shop is 12–27 MB and its serde-derived JSON decoder is the largest single
//! part of the dashboard's wasm (field-name matching and map visitors for
//! every state type); the binary one is less than half the size, decodes
//! faster, and its decoder is a fraction of the code. Ids, the one type whose
//! JSON form needs a self-describing format (a number or a string), are
//! written as a two-variant enum in binary formats (see [`crate::id`]).
//!
//! Bad input never panics: a refused snapshot is a [`SnapshotError`] with a
//! reason, and the caller keeps the state it had.

use std::fmt;

use crate::engine::Engine;

/// The encoding's name in `hello` frames.
pub const SNAP1: &str = "snap1";

/// First bytes of every `snap1` snapshot frame.
pub const MAGIC: [u8; 4] = *b"SPS1";

/// A decoded `snap1` snapshot frame.
#[derive(Debug)]
pub struct Snapshot {
    /// Stream identity (as in the JSON frame).
    pub epoch: String,
    /// The state covers events up to and including this sequence number.
    pub seq: u64,
    /// The engine state.
    pub engine: Engine,
}

/// A refused `snap1` frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SnapshotError {
    /// Readable reason.
    pub reason: String,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad snap1 snapshot: {}", self.reason)
    }
}

impl std::error::Error for SnapshotError {}

/// True when `bytes` start like a `snap1` frame (binary messages are either
/// `bin1` events or `snap1` snapshots).
pub fn is_snap1(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Encodes a snapshot frame.
pub fn encode(epoch: &str, seq: u64, engine: &Engine) -> Vec<u8> {
    let out =
        postcard::to_extend(&(epoch, seq), MAGIC.to_vec()).expect("writing to a Vec cannot fail");
    // The engine state is plain data; serializing it cannot fail either
    // (no maps with non-serializable keys, no sequences of unknown length
    // that postcard refuses). An empty state is still a valid frame.
    postcard::to_extend(engine, out).expect("the engine state serializes")
}

fn err(reason: String) -> SnapshotError {
    SnapshotError { reason }
}

/// The magic and the header `(epoch, seq)`, and the bytes after them.
fn split_header(bytes: &[u8]) -> Result<((String, u64), &[u8]), SnapshotError> {
    let rest = bytes
        .strip_prefix(&MAGIC)
        .ok_or_else(|| err("does not start with SPS1".to_owned()))?;
    postcard::take_from_bytes::<(String, u64)>(rest).map_err(|e| err(format!("header: {e}")))
}

/// The epoch and sequence number of a snapshot frame, without decoding the
/// engine state (to queue it while paused, say).
pub fn header(bytes: &[u8]) -> Result<(String, u64), SnapshotError> {
    split_header(bytes).map(|(h, _)| h)
}

/// Decodes a snapshot frame: magic, header, then the whole rest must be one
/// engine state.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let ((epoch, seq), rest) = split_header(bytes)?;
    let (engine, rest) =
        postcard::take_from_bytes::<Engine>(rest).map_err(|e| err(format!("engine state: {e}")))?;
    if !rest.is_empty() {
        return Err(err(format!("{} bytes after the engine state", rest.len())));
    }
    Ok(Snapshot { epoch, seq, engine })
}
