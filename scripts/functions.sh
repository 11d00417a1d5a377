#!/usr/bin/env bash
# Prints the workspace's Lambda functions, one package name a line: every member with a binary
# that depends on lambda_runtime. Read from `cargo metadata`, so a new function crate is picked up
# by the build and smoke scripts with no list to edit.
#
#   ./scripts/functions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
for pkg in sorted(meta["packages"], key=lambda p: p["name"]):
    has_bin = any("bin" in t["kind"] for t in pkg["targets"])
    if has_bin and any(d["name"] == "lambda_runtime" for d in pkg["dependencies"]):
        print(pkg["name"])
'
