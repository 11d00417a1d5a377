#!/usr/bin/env bash
# ShopFlow's benchmark, one command: builds `shopflow` (profile `profiling`), installs the peers
# (DuckDB, Polars, pyarrow, pandas, Python deltalake) from PyPI into their own virtual
# environment, generates the inputs with `shopflow generate` and times every stage against the
# peers on the same files in the same run. Arguments go to bench/bench.py, e.g.
#
#   bench/run.sh                                  # the defaults: 1M transactions, 3 runs each
#   bench/run.sh --transactions 100000 --merge-rows 1000000 --runs 1     # a quick look
#   bench/run.sh --stages csv,json --markdown target/bench/table.md
#
# Environment: SHOPFLOW_BENCH_VENV (default target/bench-venv), PYTHON (default python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${SHOPFLOW_BENCH_VENV:-$root/target/bench-venv}"
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --locked --profile profiling -p shopflow
exec "$venv/bin/python" bench/bench.py --shopflow "$root/target/profiling/shopflow" "$@"
