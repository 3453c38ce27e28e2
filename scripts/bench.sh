#!/usr/bin/env bash
# The one benchmark command (not part of scripts/test.sh: it takes about
# 15-20 minutes). Builds the release builds, runs the native benchmarks (core
# decode + operators; gateway fan-out) and the browser benchmarks (ShopPulse
# side by side with FINOS Perspective and plain JavaScript, latency, start-up,
# an accelerated hour of memory), and prints one report with the machine and
# the browser version. Figures also land in target/bench/.
#
#   scripts/bench.sh            # everything
#   scripts/bench.sh --quick    # short browser runs (3 min of "hour"), for a smoke test
#
# Any arguments go to tests/bench/browser.mjs (see its header).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
browser="$("$CHROMIUM" --version 2>/dev/null | head -1)"

log "native core: decode + operators (crates/core/examples/throughput.rs)"
nice cargo run --quiet --profile bench -p shoppulse-core --example throughput | tee "$OUT/native-core.txt"
log "native core on the simulator's stream, as the browser benchmarks feed it (crates/feed/examples/sim_throughput.rs)"
nice cargo run --quiet --profile bench -p shoppulse-feed --example sim_throughput | tee "$OUT/native-sim.txt"
log "native core: each operator alone (crates/core/examples/opcost.rs)"
nice cargo run --quiet --profile bench -p shoppulse-core --example opcost | tee "$OUT/native-operators.txt"

log "gateway fan-out: 50 dashboards on one gateway (crates/feed/examples/fanout.rs)"
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --quiet --release -p shoppulse-feed --example fanout
# A fresh gateway per encoding (JSON, then bin1); with the gateway's pid the
# load client prints its CPU and memory. 50 x 30,000 ev/s: the target is
# 1 M ev/s in all, and a load of exactly 1 M delivers a little under it in
# any fixed window (the first frames, the last), so 1.5 M is offered.
: >"$OUT/fanout.txt"
for encoding in json bin1; do
  gw_log="$(mktemp)"
  target/release/shoppulse-feed --listen 127.0.0.1:0 --simulate --rate 30000 >"$gw_log" 2>/dev/null &
  gw_pid=$!
  trap 'kill $gw_pid 2>/dev/null || true; rm -f "$gw_log"' EXIT
  for _ in $(seq 100); do grep -q 'listening on' "$gw_log" && break; sleep 0.1; done
  gw_addr="$(sed -n 's/.*listening on http:\/\/\([^ /]*\).*/\1/p' "$gw_log" | head -1)"
  sleep 2
  target/release/examples/fanout "ws://$gw_addr/ws" 50 10 "$encoding" "$gw_pid" | tee -a "$OUT/fanout.txt"
  kill $gw_pid 2>/dev/null || true
  wait $gw_pid 2>/dev/null || true
  rm -f "$gw_log"
done

log "browser benchmarks (tests/bench/browser.mjs, headless Chromium over CDP)"
node --experimental-websocket tests/bench/browser.mjs --json "$OUT/browser.json" "$@" | tee "$OUT/browser.md"

{
  echo
  echo "# ShopPulse benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo "Machine: $cpu, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $browser (headless)"
  echo
  echo "## Native core (one core)"
  echo "The bench generator's shop (10,000 products, 200,000 users):"
  cat "$OUT/native-core.txt"
  echo
  echo "The simulator's shop (500 products, 5,000 shoppers; the browser benchmarks' stream):"
  cat "$OUT/native-sim.txt"
  echo
  echo "Each operator alone (ns per event of the stream):"
  cat "$OUT/native-operators.txt"
  echo
  echo "## Gateway fan-out (50 dashboards, simulator at 30,000 ev/s: 1.5 M ev/s offered)"
  cat "$OUT/fanout.txt"
  echo
  echo "## Browser"
  cat "$OUT/browser.md"
} | tee "$OUT/report.md"
