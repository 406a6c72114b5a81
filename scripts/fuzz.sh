#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ for a bounded time each (default 60 s).
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the
# machine's stable toolchain accept them, so no second toolchain is needed.
# Not part of scripts/test.sh (the sanitizer build alone takes minutes); the
# suite runs the same decoders on arbitrary bytes through proptest.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
corpus_root="${FUZZ_CORPUS_DIR:-target/fuzz-corpus}"
status=0
for target in $(cargo fuzz list); do
    mkdir -p "$corpus_root/$target"
    echo "== $target (${seconds} s)"
    if ! cargo fuzz run -O "$target" "$corpus_root/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 3; then
        echo "!! $target found a crash (see fuzz/artifacts/$target/)"
        status=1
    fi
done
exit "$status"
