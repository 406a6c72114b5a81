#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (system
# packages from scripts/apt-packages.txt, a Python virtual environment from
# tests/peers/requirements.txt), then runs fmt, clippy, the layering check and
# every test. Interop skips become failures here (TIDEPOOL_REQUIRE_INTEROP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s\n' "$*"; }

log "system packages"
missing=()
while read -r pkg bin; do
  [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
  command -v "${bin:-$pkg}" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null || true
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null \
      || echo "WARNING: could not install ${missing[*]}; tests that need them will fail under TIDEPOOL_REQUIRE_INTEROP=1"
  else
    echo "WARNING: no apt-get; install ${missing[*]} by hand"
  fi
fi

log "python peers"
venv="$root/.venv"
if command -v python3 >/dev/null 2>&1; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/peers/requirements.txt </dev/null
  export TIDEPOOL_PYTHON="$venv/bin/python"
else
  echo "WARNING: python3 not found; interop tests will fail under TIDEPOOL_REQUIRE_INTEROP=1"
fi
export TIDEPOOL_REQUIRE_INTEROP=1

log "layering: engines and net never import the console or the CLI"
# Comment lines (//, //!, ///) may name the rule; code may not break it.
code_refs() { grep -rnE "$1" src/engine src/net | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true; }
if [ -n "$(code_refs 'crate::(tui|cli)')" ]; then
  code_refs 'crate::(tui|cli)'
  echo "error: src/engine or src/net imports crate::tui or crate::cli" >&2
  exit 1
fi
if grep -rnE 'crate::engine' src/net | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'; then
  echo "error: src/net imports crate::engine" >&2
  exit 1
fi

log "cargo fmt"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings

log "fuzz targets type-check (run them with scripts/fuzz.sh)"
CARGO_TARGET_DIR=target/fuzz-check cargo check --quiet --manifest-path fuzz/Cargo.toml

log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first, so the run closes on nextest's summary of every test.
  cargo test --all-features --doc
  cargo nextest run --all-features --no-fail-fast --profile ci
else
  cargo test --all-features --no-fail-fast
fi
