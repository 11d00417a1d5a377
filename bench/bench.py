"""ShopFlow's benchmark: each stage timed against its peers on the same files, in the same run.

Started by `bench/run.sh`, which builds the `shopflow` binary (profile `profiling`: release
optimisation without LTO, with line tables for `perf`) and the peers' virtual environment. It:

1. generates the inputs with `shopflow generate` (timed: the generator is a stage too);
2. runs every stage `--runs` times for ShopFlow and then for each peer, in turn, on the same
   files, each as its own process, and takes the median wall time and the largest peak RSS
   (the kernel's `ru_maxrss` for that process);
3. prints one table per stage: wall, rows/s, MB/s, peak RSS, output size, rows kept and
   rejected, and each peer's ratio to ShopFlow; `--markdown FILE` writes the same tables.

Whole-process figures: start-up, reading, checking, writing and exit all count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers.py"
CONTRACTS = ROOT / "contracts"
INGEST_PEERS = ["duckdb", "polars", "pyarrow", "pandas", "course"]
JSON_PEERS = ["duckdb", "polars", "pyarrow", "pandas"]
STAGES = ["generate", "csv", "json", "report", "demo", "merge"]


@dataclass
class Run:
    """One process: its wall time, peak resident memory and what it printed."""

    wall: float
    peak_kib: int
    stdout: str


@dataclass
class Result:
    """A tool's runs of one stage and what it reported about its rows."""

    tool: str
    runs: list[Run] = field(default_factory=list)
    rows_in: int | None = None
    rows_kept: int | None = None
    rows_rejected: int | None = None
    output_bytes: int | None = None
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(r.peak_kib for r in self.runs) / 1024


@dataclass
class Stage:
    """A stage's results, ShopFlow's first, and what its input was."""

    name: str
    title: str
    input_rows: int
    input_bytes: int
    results: list[Result] = field(default_factory=list)


class BenchError(RuntimeError):
    """A command of the benchmark failed; the message names it and carries its stderr."""


def measure(argv: list[str], cwd: Path | None = None) -> Run:
    """Run `argv` to completion and return its wall time and its own peak RSS."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"shopflow-bench-{os.getpid()}.out"
    err_path = out_path.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    if child.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited with {child.returncode}:\n{stderr[-4000:]}")
    return Run(wall, usage.ru_maxrss, stdout)


def tree_bytes(path: Path, skip: set[str] = frozenset()) -> int:
    """Bytes of every file under `path`, leaving out top-level entries named in `skip`."""
    total = 0
    if path.is_file():
        return path.stat().st_size
    for entry in path.iterdir():
        if entry.name in skip:
            continue
        if entry.is_dir():
            total += tree_bytes(entry)
        else:
            total += entry.stat().st_size
    return total


def fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def manifests(lake: Path) -> dict[str, int]:
    """Sums of the lake's manifests: rows in, in silver, quarantined, duplicates removed."""
    sums = {"rows_in": 0, "rows_silver": 0, "rows_quarantined": 0, "duplicates_removed": 0}
    for file in (lake / "manifests").rglob("*.json"):
        record = json.loads(file.read_text())
        for key in sums:
            sums[key] += int(record.get(key) or 0)
    return sums


class Bench:
    """The inputs, the binaries and the results of one benchmark run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.shopflow = str(Path(args.shopflow).resolve())
        self.python = sys.executable
        self.stages: list[Stage] = []
        self.inputs = self.work / "input"

    # -- helpers -------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def repeat(self, result: Result, argv: list[str], before=None, cwd: Path | None = None) -> None:
        """Run `argv` `--runs` times, calling `before` (untimed) ahead of each run."""
        for i in range(self.args.runs):
            if before:
                before()
            run = measure(argv, cwd=cwd)
            result.runs.append(run)
            self.say(f"  {result.tool} run {i + 1}: {run.wall:.2f} s, {run.peak_kib / 1024:.0f} MiB")

    def generate_args(self, out: Path, transactions: int, seed: int) -> list[str]:
        return [
            self.shopflow, "generate", "--out", str(out),
            "--transactions", str(transactions),
            "--customers", str(self.args.customers),
            "--products", str(self.args.products),
            "--seed", str(seed),
            "--end-date", self.args.end_date,
        ]

    def peer_ingest(self, stage: Stage, tool: str, dataset: str, source: Path) -> Result:
        result = Result(tool)
        out = self.work / "out" / f"{stage.name}-{tool}"
        argv = [
            self.python, str(PEERS), tool, "ingest",
            "--contract", str(CONTRACTS / f"{dataset}.toml"),
            "--input", str(source), "--out", str(out),
        ]
        try:
            self.repeat(result, argv, before=lambda: fresh(out))
        except BenchError as error:
            result.note = f"failed: {str(error).splitlines()[-1]}"
            self.say(f"  {tool}: {result.note}")
            return result
        reported = json.loads(result.runs[-1].stdout.strip().splitlines()[-1])
        result.rows_in = reported["rows_in"]
        result.rows_kept = reported["rows_silver"]
        result.rows_rejected = reported["rows_rejected"]
        result.output_bytes = tree_bytes(out)
        result.note = reported["options"]
        return result

    def shopflow_ingest(self, stage: Stage, source: Path) -> Result:
        result = Result("shopflow")
        lake = self.work / "out" / f"{stage.name}-shopflow"
        argv = [self.shopflow, "ingest", "--lake", str(lake), str(source)]
        self.repeat(result, argv, before=lambda: fresh(lake))
        sums = manifests(lake)
        result.rows_in = sums["rows_in"]
        result.rows_kept = sums["rows_silver"]
        result.rows_rejected = sums["rows_quarantined"]
        result.output_bytes = tree_bytes(lake, skip={"landing"})
        result.note = (
            f"bronze + silver (Delta) + quarantine (Delta) + manifest; "
            f"{sums['duplicates_removed']} exact duplicates removed"
        )
        return result

    # -- stages --------------------------------------------------------------------------------

    def stage_generate(self) -> None:
        args = self.args
        self.say(f"generate: {args.transactions:,} transactions")
        target = self.work / "gen-run"
        result = Result("shopflow")
        argv = self.generate_args(target, args.transactions, args.seed)
        self.repeat(result, argv, before=lambda: fresh(target))
        fresh(self.inputs)
        target.rename(self.inputs)
        report = json.loads((self.inputs / "generation_report.json").read_text())
        rows = sum(f["rows"] for f in report["files"])
        size = sum(f["bytes"] for f in report["files"])
        result.rows_in, result.output_bytes = rows, size
        transactions = next(f["rows"] for f in report["files"] if f["dataset"] == "transactions")
        result.note = (
            f"{transactions / result.wall:,.0f} transactions/s; rows/s counts every file "
            "(customers, products, transactions, clickstream)"
        )
        stage = Stage("generate", "Generator (every dataset, defects injected)", rows, size, [result])
        self.stages.append(stage)

    def ensure_inputs(self) -> None:
        if (self.inputs / "generation_report.json").exists():
            return
        self.say("generating the inputs")
        measure(self.generate_args(fresh(self.inputs), self.args.transactions, self.args.seed))

    def json_input(self) -> Path:
        """The first `--events` lines of the generated clickstream, under a clickstream name."""
        folder = self.work / "json"
        path = folder / "clickstream.jsonl"
        marker = folder / f".events-{self.args.events}"
        if marker.exists() and path.exists():
            return path
        fresh(folder).mkdir(parents=True)
        with open(self.inputs / "clickstream.jsonl", "rb") as src, open(path, "wb") as dst:
            for i, line in enumerate(src):
                if i >= self.args.events:
                    break
                dst.write(line)
        marker.touch()
        return path

    def stage_ingest(self, name: str, title: str, dataset: str, source: Path, peers: list[str]) -> None:
        rows = sum(1 for _ in open(source, "rb")) - (0 if source.suffix == ".jsonl" else 1)
        stage = Stage(name, title, rows, source.stat().st_size)
        self.say(f"{name}: {title}")
        stage.results.append(self.shopflow_ingest(stage, source))
        for tool in peers:
            if tool in self.args.peers:
                stage.results.append(self.peer_ingest(stage, tool, dataset, source))
        self.stages.append(stage)

    def base_lake(self) -> Path:
        """A lake holding every generated dataset (clickstream cut to `--events`), no gold yet."""
        lake = self.work / "base-lake"
        marker = self.work / f".base-lake-{self.args.events}"
        if marker.exists() and lake.exists():
            return lake
        self.say("building the lake the report stages start from (untimed)")
        fresh(lake)
        files = [
            p for p in sorted(self.inputs.iterdir())
            if p.suffix in {".csv", ".json", ".jsonl"} and not p.name.startswith("clickstream")
            and p.name != "generation_report.json"
        ]
        measure([self.shopflow, "ingest", "--lake", str(lake), *map(str, files), str(self.json_input())])
        marker.touch()
        return lake

    def stage_report(self) -> None:
        base = self.base_lake()
        rows = manifests(base)["rows_silver"]
        size = tree_bytes(base / "silver")
        run_lake = self.work / "out" / "report-shopflow"

        def copy_from(origin: Path):
            def prepare():
                fresh(run_lake)
                shutil.copytree(origin, run_lake, symlinks=True)
            return prepare

        first = Stage("report-first", "First gold build + report (every day of silver)", rows, size)
        self.say(f"report-first: {first.title}")
        result = Result("shopflow")
        self.repeat(result, [self.shopflow, "report", "--lake", str(run_lake)], before=copy_from(base))
        result.output_bytes = tree_bytes(run_lake / "gold") + tree_bytes(run_lake / "reports")
        result.note = "gold star schema (SCD2 dimensions, facts, aggregates, funnel, LTV) + report JSON/CSV/HTML"
        first.results.append(result)
        if "duckdb" in self.args.peers:
            first.results.append(self.gold_peer(base, run_lake))
        self.stages.append(first)

        reported = self.work / "reported-lake"
        fresh(reported)
        shutil.copytree(run_lake, reported, symlinks=True)
        incremental = Stage("report-incremental", "Next report on a lake with gold (date + look-back rebuilt)", rows, size)
        self.say(f"report-incremental: {incremental.title}")
        result = Result("shopflow")
        self.repeat(result, [self.shopflow, "report", "--lake", str(run_lake)], before=copy_from(reported))
        result.note = "the report's date and the 3-day look-back rebuilt; dimensions kept (their silver tables unchanged)"
        incremental.results.append(result)
        self.stages.append(incremental)

    def gold_peer(self, base: Path, built: Path) -> Result:
        """DuckDB running the first build's own SQL (`shopflow report --print-sql` on the same
        lake, untimed) over the same silver tables, each gold table written as Parquet; its
        rows and revenue are checked against the gold ShopFlow wrote to `built`."""
        plan = self.work / "gold-plan.json"
        plan.write_text(measure([self.shopflow, "report", "--print-sql", "--lake", str(base)]).stdout)
        out = self.work / "out" / "report-duckdb"
        peer = Result("duckdb")
        argv = [
            self.python, str(PEERS), "duckdb", "gold",
            "--plan", str(plan), "--lake", str(base), "--out", str(out),
        ]
        try:
            self.repeat(peer, argv, before=lambda: fresh(out))
        except BenchError as error:
            peer.note = f"failed: {str(error).splitlines()[-1]}"
            return peer
        reported = json.loads(peer.runs[-1].stdout.strip().splitlines()[-1])
        peer.rows_in = reported["rows_in"]
        peer.rows_kept = reported["rows_silver"]
        peer.output_bytes = tree_bytes(out)
        ours = json.loads(measure([
            self.python, "-c",
            "import json, sys; from deltalake import DeltaTable; import pyarrow.compute as pc; "
            "f = DeltaTable(sys.argv[1] + '/gold/fact_sales').to_pyarrow_table(columns=['revenue']); "
            "print(json.dumps({'rows': f.num_rows, 'revenue': float(pc.sum(f['revenue']).as_py() or 0)}))",
            str(built),
        ]).stdout)
        same = ours["rows"] == reported["tables"]["fact_sales"] and abs(ours["revenue"] - reported["revenue"]) < 0.01
        check = (
            f"same fact_sales as ShopFlow's ({ours['rows']:,} rows, revenue {ours['revenue']:,.2f})"
            if same else
            f"DIFFERENT from ShopFlow's: {reported['tables']['fact_sales']:,} rows, revenue "
            f"{reported['revenue']:,.2f} vs {ours['rows']:,}, {ours['revenue']:,.2f}"
        )
        peer.note = f"gold SQL only, no report; {check}; {reported['options']}"
        return peer

    def stage_demo(self) -> None:
        lake = self.work / "out" / "demo-shopflow"
        stage = Stage("demo", "`shopflow demo` end to end (generate, ingest, gold, report)", 0, 0)
        self.say(f"demo: {stage.title}")
        result = Result("shopflow")
        self.repeat(result, [self.shopflow, "demo", "--lake", str(lake)], before=lambda: fresh(lake))
        sums = manifests(lake)
        stage.input_rows = sums["rows_in"]
        result.rows_in, result.rows_kept, result.rows_rejected = (
            sums["rows_in"], sums["rows_silver"], sums["rows_quarantined"],
        )
        result.output_bytes = tree_bytes(lake, skip={"landing"})
        stage.results.append(result)
        self.stages.append(stage)

    def stage_merge(self) -> None:
        args = self.args
        big_rows = args.merge_rows
        base = self.work / f"merge-base-{big_rows}"
        second_dir = self.work / "merge-second"
        second = second_dir / "transactions-second.csv"
        if not (base / "silver" / "transactions" / "_delta_log").exists():
            self.say(f"merge: building a table of {big_rows:,} rows (untimed)")
            source = fresh(self.work / "merge-source")
            source.mkdir(parents=True)
            # Only the transactions are read here; the clickstream of 10M sales is about 93M
            # events (20 GB), so it is written to /dev/null instead of the disk.
            (source / "clickstream.jsonl").symlink_to(os.devnull)
            measure(self.generate_args(source, big_rows, args.seed))
            fresh(base)
            measure([self.shopflow, "ingest", "--lake", str(base), str(source / "transactions.csv")])
            shutil.rmtree(source)
        if not second.exists():
            scratch = self.work / "merge-second-gen"
            measure(self.generate_args(fresh(scratch), args.transactions, args.seed + 1))
            fresh(second_dir).mkdir(parents=True)
            (scratch / "transactions.csv").rename(second)
            shutil.rmtree(scratch)
        held = manifests(base)["rows_silver"]
        rows = sum(1 for _ in open(second, "rb")) - 1
        stage = Stage(
            "merge",
            f"MERGE a {rows:,}-row file into a silver table holding {held:,} rows "
            "(same ids: matched rows updated, the rest inserted)",
            rows, second.stat().st_size,
        )
        self.say(f"merge: {stage.title}")
        run_lake = self.work / "out" / "merge-run"

        def prepare():
            fresh(run_lake)
            shutil.copytree(base, run_lake, symlinks=True)

        result = Result("shopflow")
        self.repeat(result, [self.shopflow, "ingest", "--lake", str(run_lake), str(second)], before=prepare)
        sums = manifests(run_lake)
        result.rows_in = sums["rows_in"] - manifests(base)["rows_in"]
        result.rows_kept = sums["rows_silver"] - held
        result.rows_rejected = sums["rows_quarantined"] - manifests(base)["rows_quarantined"]
        result.note = "bronze + quarantine + silver MERGE on the key, in bounded chunks"
        stage.results.append(result)
        if "deltalake" in args.peers:
            peer = Result("deltalake")
            argv = [
                self.python, str(PEERS), "deltalake", "merge",
                "--contract", str(CONTRACTS / "transactions.toml"),
                "--input", str(second), "--table", str(run_lake / "silver" / "transactions"),
            ]
            try:
                self.repeat(peer, argv, before=prepare)
                reported = json.loads(peer.runs[-1].stdout.strip().splitlines()[-1])
                peer.rows_in = reported["rows_in"]
                peer.rows_kept = reported["rows_silver"]
                peer.note = reported["options"]
            except BenchError as error:
                peer.note = f"failed: {str(error).splitlines()[-1]}"
            stage.results.append(peer)
        self.stages.append(stage)

    def run(self) -> None:
        chosen = self.args.stages
        if "generate" in chosen:
            self.stage_generate()
        else:
            self.ensure_inputs()
        if "csv" in chosen:
            self.stage_ingest(
                "csv", "Transactions CSV → bronze, silver, quarantine", "transactions",
                self.inputs / "transactions.csv", INGEST_PEERS,
            )
        if "json" in chosen:
            self.stage_ingest(
                "json", "Clickstream JSON lines → bronze, silver, quarantine", "clickstream",
                self.json_input(), JSON_PEERS,
            )
        if "report" in chosen:
            self.stage_report()
        if "demo" in chosen:
            self.stage_demo()
        if "merge" in chosen:
            self.stage_merge()


# -- output ------------------------------------------------------------------------------------


def ratio(peer: Result, shopflow: Result) -> str:
    if not peer.runs or not shopflow.runs or peer is shopflow:
        return ""
    r = peer.wall / shopflow.wall
    return f"{r:.2f} (ShopFlow {r:.1f}× faster)" if r >= 1 else f"{r:.2f} (ShopFlow {1 / r:.1f}× slower)"


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def table(stage: Stage, runs: int) -> list[list[str]]:
    header = [
        "tool", f"wall s (median of {runs})", "rows/s", "MB/s", "peak RSS MiB", "output MB",
        "rows in / kept / rejected", "peer ÷ ShopFlow (wall)", "how",
    ]
    rows = [header]
    shopflow = stage.results[0]
    for r in stage.results:
        if not r.runs:
            rows.append([r.tool, "", "", "", "", "", "", "", r.note])
            continue
        rows.append([
            r.tool,
            f"{r.wall:.2f}",
            f"{stage.input_rows / r.wall:,.0f}" if stage.input_rows else "",
            f"{stage.input_bytes / r.wall / 1e6:,.1f}" if stage.input_bytes else "",
            f"{r.peak_mib:,.0f}",
            f"{r.output_bytes / 1e6:,.1f}" if r.output_bytes is not None else "",
            " / ".join(count(v) for v in (r.rows_in, r.rows_kept, r.rows_rejected)) if r.rows_in is not None else "",
            ratio(r, shopflow),
            r.note,
        ])
    return rows


def render_text(rows: list[list[str]]) -> str:
    shown = [row[:-1] for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in shown]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {row[0]}: {row[-1]}" for row in rows[1:] if row[-1]]
    return "\n".join(lines + notes)


def render_markdown(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(out)


def describe(args: argparse.Namespace) -> str:
    import importlib.metadata as md

    versions = []
    for name in ["duckdb", "polars", "pyarrow", "pandas", "deltalake"]:
        try:
            versions.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            pass
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    mem = ""
    try:
        kib = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (
        f"{dt.date.today().isoformat()}, ShopFlow {commit} (profile `profiling`: release without LTO), "
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
        + ", ".join(versions)
        + f"; inputs: `shopflow generate --transactions {args.transactions} --customers {args.customers} "
        f"--products {args.products} --seed {args.seed}`, clickstream cut to its first {args.events:,} events"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shopflow", required=True, help="the shopflow binary to measure")
    parser.add_argument("--work", default=str(ROOT / "target" / "bench"), help="inputs and outputs")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end-date", default="2026-11-20", help="last generated day (fixed, so runs compare)")
    parser.add_argument("--events", type=int, default=1_000_000, help="clickstream events for the JSON stage")
    parser.add_argument("--merge-rows", type=int, default=10_000_000, help="rows the merge stage's table holds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {','.join(STAGES)}")
    parser.add_argument("--peers", default=",".join(INGEST_PEERS + ["deltalake"]))
    parser.add_argument("--markdown", help="also write the tables as Markdown to this file")
    args = parser.parse_args()
    args.stages = [s for s in args.stages.split(",") if s]
    args.peers = [p for p in args.peers.split(",") if p]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}: choose from {STAGES}")
    bench = Bench(args)
    try:
        bench.run()
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    heading = describe(args)
    text = [heading, ""]
    markdown = [f"Measured {heading}.", ""]
    for stage in bench.stages:
        rows = table(stage, args.runs)
        text += [f"## {stage.name}: {stage.title}", render_text(rows), ""]
        markdown += [f"**{stage.name}**: {stage.title}", "", render_markdown(rows), ""]
    print("\n".join(text))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
