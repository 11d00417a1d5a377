#!/usr/bin/env python3
"""How long each Lambda function takes from process start to ready for its first event.

Serves Lambda's runtime API on a free loopback port and starts a function's real binary with the
environment Lambda gives it (and the configuration ShopFlow's functions require, their AWS
clients pointed at a loopback port). "Ready" is the moment the binary asks the runtime API for
its first event (`GET /2018-06-01/runtime/invocation/next`): everything before it (the
allocator, logging, typed configuration, the AWS clients built once) is what a cold start adds
to the first invocation, minus Lambda's own download and unpack of the zip, which cannot run
here. Each binary is started `--runs` times; the median, min and max are printed.

    python3 bench/lambda_start.py --runs 20 target/release/transformer target/release/...

The binaries are whatever build is given (`cargo build --release -p transformer ...`, or the
artifacts' `bootstrap` unzipped from `target/lambda/<function>/bootstrap.zip`).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

NEXT = "/2018-06-01/runtime/invocation/next"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RuntimeApi(http.server.ThreadingHTTPServer):
    """The runtime API's first call only: records when `next` was asked for, answers nothing
    (the process is stopped then)."""

    daemon_threads = True

    def __init__(self, port: int):
        self.asked = threading.Event()
        self.asked_at = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                if self.path == NEXT and not outer.asked.is_set():
                    outer.asked_at = time.perf_counter()
                    outer.asked.set()
                # Hold the request: the binary is killed before it gets an answer.
                time.sleep(5)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)


def environment(api_port: int, name: str) -> dict[str, str]:
    """What Lambda sets, and what ShopFlow's functions require, all on loopback."""
    dead = free_port()  # nothing listens there: a client that calls out at start-up fails
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead}",
        "SHOPFLOW_S3_FORCE_PATH_STYLE": "true",
        "LAKE_BUCKET": "shopflow-bench-lake",
        "LEDGER_TABLE": "ledger",
        "RUNS_TABLE": "runs",
        "PRODUCTS_TABLE": "products",
        "STREAM_NAME": "fetch-tasks",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        "PRODUCT_SOURCES": f"dummyjson=http://127.0.0.1:{dead}/products",
        "RUST_LOG": "warn",
    }
    return env


def start_once(binary: Path) -> float:
    """Seconds from the binary's start to its first `next` request."""
    port = free_port()
    server = RuntimeApi(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = environment(port, binary.name)
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if not server.asked.wait(timeout=30):
                proc.kill()
                _, err = proc.communicate()
                raise SystemExit(
                    f"{binary} never asked for an event (exit {proc.returncode}): {err.decode(errors='replace')[-2000:]}"
                )
            return server.asked_at - t0
        finally:
            proc.kill()
            proc.wait()
    finally:
        server.shutdown()
        server.server_close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binaries", nargs="+", type=Path)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print one JSON object per binary")
    args = p.parse_args()
    for binary in args.binaries:
        if not os.access(binary, os.X_OK):
            print(f"{binary}: not an executable (build it first)", file=sys.stderr)
            return 2
        start_once(binary)  # warm-up: the binary's pages into the page cache
        times = sorted(start_once(binary) for _ in range(max(1, args.runs)))
        ms = [t * 1000 for t in times]
        out = {
            "binary": str(binary),
            "runs": len(ms),
            "median_ms": round(statistics.median(ms), 2),
            "min_ms": round(ms[0], 2),
            "max_ms": round(ms[-1], 2),
            "size_mib": round(binary.stat().st_size / 2**20, 1),
        }
        if args.json:
            print(json.dumps(out))
        else:
            print(
                f"{binary.name:<18} start to ready: median {out['median_ms']:7.2f} ms "
                f"(min {out['min_ms']:.2f}, max {out['max_ms']:.2f}, {out['runs']} runs; binary {out['size_mib']} MiB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
