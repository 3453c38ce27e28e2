#!/usr/bin/env bash
# Release build of the gateway and the dashboard (dist/). Incremental.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
log "cargo build --release -p shoppulse-feed"
# The release profile is size-optimised (opt-level "z") for the wasm
# dashboard; the native gateway is built for speed.
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --release -p shoppulse-feed
log "trunk build --release (dashboard -> dist/)"
trunk build --release >/dev/null
# gzip -9 copies the gateway serves to browsers that accept gzip (see
# crates/feed/src/server.rs); -k keeps the originals, -f replaces old copies.
gzip -9 -k -f dist/*.wasm dist/*.js dist/*.css
ls -l dist/*.wasm | awk '{print "    wasm: " $5 " bytes, " $NF}' >&2
