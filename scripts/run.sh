#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the dashboard on a simulated shop.
#   scripts/run.sh [--listen 127.0.0.1:9001] [extra shoppulse-feed flags]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
listen="127.0.0.1:9001"
if [ "${1:-}" = "--listen" ]; then listen="$2"; shift 2; fi
log "starting shoppulse-feed (simulator seed 1, 300 events/s); open the URL below"
exec "$ROOT/target/release/shoppulse-feed" --listen "$listen" --dist "$ROOT/dist" \
  --simulate --seed 1 --rate 300 "$@"
