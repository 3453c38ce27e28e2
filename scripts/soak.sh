#!/usr/bin/env bash
# Long soak: an accelerated replay (a simulated shop recorded at 50 events
# per second of event time, replayed at ~60x) with a dashboard open in
# headless Chromium, for MINUTES (default 10) at EVENTS_PER_S (default 3000).
# Prints gateway RSS, queue and history gauges, page JS heap (after GC), wasm
# memory and DOM size over time; fails if memory grew 5% or more in the
# second half, if a queue grew, or if the dashboard was dropped.
#   scripts/soak.sh [MINUTES] [EVENTS_PER_S]
# Figures also go to tests/e2e/artifacts/soak-SECONDSs.json.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
log "soak: ${1:-10} min at ${2:-3000} events/s"
cd tests/e2e
SHOPPULSE_FEED_BIN="${SHOPPULSE_FEED_BIN:-$ROOT/target/release/shoppulse-feed}" SHOPPULSE_DIST="${SHOPPULSE_DIST:-$ROOT/dist}" \
  node soak.mjs "${1:-10}" "${2:-3000}"
