#!/usr/bin/env bash
# ShopFlow's whole test suite, runnable on a fresh machine: installs what the tests need, then
# runs formatting, lints and every test. This is the README's test command and what CI runs.
#
#   ./scripts/test.sh
#
# Environment:
#   CARGO_TARGET_DIR   reuse a build cache (default: target/ in the clone)
#   SHOPFLOW_SKIP_INSTALL=1   do not install the Python test tools (they must already be there)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

for tool in cargo python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install it first" >&2; exit 1; }
done

if [ "${SHOPFLOW_SKIP_INSTALL:-0}" != "1" ]; then
  say "installing test tools (pyarrow, moto[server], cargo-lambda: tests/python/requirements.txt)"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/python/requirements.txt
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 0 ]; then
  say "Lambda functions under cargo lambda watch (moto + a local product API)"
  set +e
  ./scripts/lambda-smoke.sh 2>&1 | tee -a "$log"
  smoke=${PIPESTATUS[0]}
  set -e
  [ "$smoke" -eq 0 ] || status=$smoke

  say "cargo lambda build --release (x86_64 here; deploy.yml builds arm64)"
  set +e
  ./scripts/build-lambdas.sh
  build=$?
  set -e
  [ "$build" -eq 0 ] || status=$build
fi
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$3} END {print s+0}')
smoke_passed=$(grep -Eo 'lambda smoke: [0-9]+ passed' "$log" | awk '{s+=$3} END {print s+0}')
smoke_failed=$(grep -Eo 'lambda smoke: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$5} END {print s+0}')
say "summary"
echo "$((passed + smoke_passed)) passed, $((failed + smoke_failed)) failed"
exit "$status"
