#!/usr/bin/env bash
# Fuzzes each target for a bounded time (default 60 s each) on the committed seed corpus.
# Not part of CI's default path. Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable
# toolchain is enough: RUSTC_BOOTSTRAP lets it use the sanitizer flags cargo-fuzz passes.
#   fuzz/run.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
export RUSTC_BOOTSTRAP=1
for target in sources body_peek ids; do
  # Work on a scratch copy so new inputs found do not pile up in the committed seeds.
  work="target/corpus-$target"
  mkdir -p "$work"
  cp -n corpus/"$target"/* "$work"/ 2>/dev/null || true
  echo "== $target: ${seconds}s"
  cargo fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=4096 2>&1 | tail -n 3
done
