#!/usr/bin/env bash
# Fuzzes the readers and the contract loader with libFuzzer (`cargo fuzz`, fuzz/).
#
#   ./scripts/fuzz.sh            # the short bounded pass the test command runs: 20 s per target
#   ./scripts/fuzz.sh 3600       # a longer run (seconds per target), for CI's fuzz job
#
# Builds on stable Rust without a sanitizer (`-s none`: the code is safe Rust; what a run looks
# for is a panic, an abort, an out-of-memory or a hang). Installs cargo-fuzz when it is missing.
# New corpus entries go to a temporary directory, so the checked-in seeds (fuzz/corpus/, the
# malformed-file corpus and the built-in contracts) stay as they are; a crash is saved under
# fuzz/artifacts/ and fails the run.
#
# A short pass (up to 60 s per target) builds the targets unoptimised (`--dev`): its build then
# costs minutes of a cold machine's two cores instead of half an hour of optimised Arrow and
# Parquet, and 20 s of an unoptimised target still runs tens of thousands of inputs. A longer
# run builds them optimised (`-O`), where executions per second matter more than the build.
#
# Environment: CARGO_TARGET_DIR (default target/ in the clone) gets a fuzz/ subdirectory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
if [ "$seconds" -le 60 ]; then profile=--dev; else profile=-O; fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
cd fuzz
cargo fuzz build -s none "$profile"
for target in read contract; do
  work=$(mktemp -d)
  echo "== fuzz $target for ${seconds}s (seeds: fuzz/corpus/$target)"
  # -rss_limit_mb: a reader that needs more than this for one input is a finding too.
  set +e
  cargo fuzz run -s none "$profile" "$target" "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 -print_final_stats=1 2>&1 |
    grep -E '^(stat::|#[0-9]+.*DONE|==|INFO: seed corpus|.*(panicked|ERROR|deadly|crash|Test unit written))'
  status=${PIPESTATUS[0]}
  set -e
  rm -rf "$work"
  [ "$status" -eq 0 ] || { echo "fuzz $target found a failure (see fuzz/artifacts/$target)" >&2; exit "$status"; }
done
