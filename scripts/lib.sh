# Shared helpers for scripts/*.sh: paths and the tool PATH. Source it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export TRUNK_SKIP_VERSION_CHECK=true
export PATH="$TOOLS/bin:$ROOT/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export SHOPPULSE_DATA="${SHOPPULSE_DATA:-$ROOT/../shared/data}"
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# The wasm-bindgen version pinned by Cargo.lock (wasm-bindgen-cli must match).
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock"
}
