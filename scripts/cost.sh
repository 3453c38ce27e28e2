#!/usr/bin/env bash
# What decoding and applying one event of the simulator's stream costs
# (bin1 + all five operators), counted by cachegrind: instructions, L1 data
# misses, misses of a 2 MB last level (the 2-core machines' L2 per core) and
# mispredicted branches (cachegrind's simple predictor, pessimistic against
# a real core's, but the same on every run). Deterministic, unlike timings:
# compare two builds with it. Needs valgrind (apt-get install valgrind).
# Usage: scripts/cost.sh [N] [WARM_UP]   (defaults 1,000,000 and 300,000)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
n="${1:-1000000}"
warm="${2:-300000}"
cargo build --quiet --profile bench -p shoppulse-feed --example sim_cost
bin=target/release/examples/sim_cost
count() {
  valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --LL=2097152,16,64 \
    --cachegrind-out-file=/dev/null "$bin" "$n" "$warm" "$1" 2>&1 |
    awk '/ I +refs:/ {gsub(",", "", $4); i = $4}
         / D1  misses:/ {gsub(",", "", $4); d = $4}
         / LL misses:/ {gsub(",", "", $4); l = $4}
         / Mispredicts:/ {gsub(",", "", $3); m = $3}
         END {print i, d, l, m}'
}
log "cachegrind: $warm events of warm-up, then 0 and $n events applied (two runs at once)"
base="$(mktemp)"
trap 'rm -f "$base"' EXIT
count 0 >"$base" &
read -r i1 d1 l1 m1 < <(count "$n")
wait
read -r i0 d0 l0 m0 <"$base"
awk -v n="$n" -v i="$((i1 - i0))" -v d="$((d1 - d0))" -v l="$((l1 - l0))" -v m="$((m1 - m0))" 'BEGIN {
  printf "per event (bin1 + all five, simulator stream): %.1f instructions, %.2f L1d misses, %.3f 2 MB-LL misses, %.2f mispredicted branches\n", i / n, d / n, l / n, m / n
}'
