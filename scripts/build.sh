#!/usr/bin/env bash
# Release build of the gateway and the dashboard (dist/). Incremental.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
log "cargo build --release -p shoppulse-feed"
cargo build --release -p shoppulse-feed
log "trunk build --release (dashboard -> dist/)"
trunk build --release >/dev/null
ls -l dist/*.wasm | awk '{print "    wasm: " $5 " bytes, " $NF}' >&2
