#!/usr/bin/env bash
# Builds the four Lambda artifacts with cargo-lambda (release profile: LTO, one codegen unit,
# stripped, panic = abort) and prints each bootstrap.zip's size.
#
#   ./scripts/build-lambdas.sh            # x86_64 (what this machine can build)
#   ./scripts/build-lambdas.sh --arm64    # arm64 / Graviton (needs the aarch64 target; CI deploy does this)
set -euo pipefail
cd "$(dirname "$0")/.."
arch_flag=()
if [ "${1:-}" = "--arm64" ]; then arch_flag=(--arm64); fi
mapfile -t functions < <(./scripts/functions.sh)
[ "${#functions[@]}" -gt 0 ] || { echo "no Lambda function packages found (scripts/functions.sh)" >&2; exit 1; }
packages=()
for f in "${functions[@]}"; do packages+=(--package "$f"); done
cargo lambda build --release "${arch_flag[@]}" --output-format zip "${packages[@]}"
target="${CARGO_TARGET_DIR:-target}"
for f in "${functions[@]}"; do
  zip="$target/lambda/$f/bootstrap.zip"
  [ -f "$zip" ] || { echo "missing $zip" >&2; exit 1; }
  printf '%-18s %8d KiB  %s\n' "$f" $(( $(stat -c %s "$zip") / 1024 )) "$zip"
done
