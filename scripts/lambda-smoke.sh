#!/usr/bin/env bash
# Smoke check of the four Lambda functions as real binaries: `cargo lambda watch` serves the
# Lambda runtime API, each function's binary runs against it with its AWS clients pointed at a
# local moto server (and product-fetch at a local product API), and `cargo lambda invoke` sends
# each one a sample event from events/. Everything listens on 127.0.0.1 only; every background
# process is stopped on exit.
#
# The binaries are the ones the test build makes (`cargo test --workspace --all-targets
# --no-run`, run here first: a no-op after scripts/test.sh, which exports the same lint set-up),
# so the smoke check compiles nothing of its own. `cargo lambda watch` would build each function
# alone, with that package's features, which recompiles much of the dependency tree.
#
#   ./scripts/lambda-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "nothing listens on port $1 after 300 s ($2); log:" >&2
  tail -n 40 "$3" >&2
  return 1
}

moto_port=$(free_port)
python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_port "$moto_port" moto "$work/moto.log"

api_port=$(free_port)
python3 tests/python/product_api_stub.py "$api_port" 90 >"$work/api.log" 2>&1 &
pids+=($!)
wait_port "$api_port" "product API stub" "$work/api.log"

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing SHOPFLOW_S3_FORCE_PATH_STYLE=true
topic=$(python3 tests/python/smoke_setup.py)

export LAKE_BUCKET=shopflow-dev-lake LEDGER_TABLE=ledger RUNS_TABLE=runs PRODUCTS_TABLE=products
export STREAM_NAME=shopflow-dev-fetch-tasks TOPIC_ARN="$topic"
export PRODUCT_SOURCES="dummyjson=http://127.0.0.1:$api_port/products" RUST_LOG=info

mapfile -t functions < <(./scripts/functions.sh)
[ "${#functions[@]}" -gt 0 ] || { echo "no Lambda function packages found (scripts/functions.sh)" >&2; exit 1; }
cargo test --workspace --all-targets --locked --no-run >"$work/build.log" 2>&1 || {
  echo "building the function binaries failed:" >&2
  tail -n 40 "$work/build.log" >&2
  exit 1
}
bin_dir="${CARGO_TARGET_DIR:-target}/debug"
for f in "${functions[@]}"; do
  [ -x "$bin_dir/$f" ] || { echo "missing $bin_dir/$f after the test build" >&2; exit 1; }
done

watch_port=$(free_port)
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$watch_port" >"$work/watch.log" 2>&1 &
pids+=($!)
wait_port "$watch_port" "cargo lambda watch" "$work/watch.log"
# What `cargo lambda watch` gives a function it starts itself: the runtime API under the
# function's own name, so that `cargo lambda invoke NAME` reaches that binary.
for f in "${functions[@]}"; do
  AWS_LAMBDA_FUNCTION_NAME="$f" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$watch_port/.rt/$f" \
    "$bin_dir/$f" >"$work/$f.log" 2>&1 &
  pids+=($!)
done

passed=0
failed=0
check() { # function event expected-substring
  local out
  out=$(cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$watch_port" --data-file "$2" --output-format json 2>&1) || true
  # Compact the (pretty-printed) answer so the checks do not depend on its layout.
  out=$(python3 -c 'import json,sys; t=sys.stdin.read(); print(json.dumps(json.loads(t), separators=(",", ":"), sort_keys=True))' <<<"$out" 2>/dev/null || printf '%s' "$out")
  if grep -q -- "$3" <<<"$out"; then
    echo "ok   $1 $2"
    passed=$((passed + 1))
  else
    echo "FAIL $1 $2: expected $3, got:" >&2
    printf "%s\n" "$out" | tail -n 20 >&2
    failed=$((failed + 1))
  fi
}
check ingest-trigger events/ingest-trigger/api-post-ingestions.json '"statusCode":202'
check ingest-trigger events/ingest-trigger/api-post-ingestions-bad-body.json '"statusCode":400'
check product-fetch events/product-fetch/kinesis-fetch-tasks.json '"batchItemFailures":\[\]'
check transformer events/transformer/s3-put.json '"status":"processed"'
check transformer events/transformer/s3-put.json '"status":"skipped"'
check report-generator events/report-generator/step-functions-date.json '"report_key":"reports/daily/date=2026-11-21/report.json"'
echo "lambda smoke: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  echo "--- cargo lambda watch log (tail)" >&2
  tail -n 30 "$work/watch.log" >&2
  for f in "${functions[@]}"; do
    echo "--- $f log (tail)" >&2
    tail -n 20 "$work/$f.log" >&2
  done
  exit 1
fi
