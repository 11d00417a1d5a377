"""Runs a gold build's own SQL in DuckDB and compares every table with the gold ShopFlow wrote.

Usage: python3 tests/python/check_gold_sql.py LAKE_DIR PLAN_JSON

PLAN_JSON is what `shopflow report --print-sql` printed for the lake before the report built
gold; LAKE_DIR is the lake after that report. DuckDB (through the benchmark's own peer,
`bench/peers.py duckdb gold`, so the test and the benchmark run the same code) reads silver from
each Delta snapshot's files and runs every statement; each gold table ShopFlow wrote is read
back with Python `deltalake` and must hold the same rows, value for value (column order and
row order aside; decimals to the cent, doubles to 1e-9: see `approximate`).

Exits 1 listing the differences, 3 if duckdb or deltalake is missing.
"""

import decimal
import importlib.util
import json
import math
import pathlib
import sys
import tempfile

try:
    import duckdb  # noqa: F401  (bench/peers.py imports it; fail here with the install hint)
    from deltalake import DeltaTable
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "duckdb or deltalake is missing: install them with "
        "`python3 -m pip install -r tests/python/requirements.txt` (the README's test command does this)\n"
    )
    sys.exit(3)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_peers():
    spec = importlib.util.spec_from_file_location("peers", ROOT / "bench" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["peers"] = module
    spec.loader.exec_module(module)
    return module


def approximate(a, b):
    """Whether two values of an approximate column agree: doubles to 1e-9; decimals to one
    cent, because DuckDB divides a decimal by an integer in double precision (81.865 becomes
    81.86) where DataFusion divides exactly and rounds half up (81.87)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return abs(decimal.Decimal(a) - decimal.Decimal(b)) <= decimal.Decimal("0.01")


def compare(table, ours, theirs, columns):
    """Differences between two tables' rows: rows matched on their exact columns (text, whole
    numbers, dates, times), then their decimals and doubles compared with `approximate`."""
    first = ours.slice(0, 1).to_pylist()
    sample = first[0] if first else {}
    inexact = [c for c in columns if isinstance(sample.get(c), (decimal.Decimal, float))]
    exact = [c for c in columns if c not in inexact]

    def keyed(t):
        rows = t.select(columns).to_pylist()
        return sorted(rows, key=lambda r: tuple((r[c] is None, str(r[c])) for c in exact))

    a, b = keyed(ours), keyed(theirs)
    if len(a) != len(b):
        return [f"{table}: {len(a)} rows vs DuckDB's {len(b)}"]
    out = []
    for x, y in zip(a, b):
        wrong = [c for c in exact if x[c] != y[c]] + [c for c in inexact if not approximate(x[c], y[c])]
        if wrong:
            out.append(f"{table}: {', '.join(wrong)} differ: ours {x} vs DuckDB's {y}")
            if len(out) == 3:
                break
    return out


def main() -> int:
    lake = pathlib.Path(sys.argv[1])
    plan_path = pathlib.Path(sys.argv[2])
    plan = json.loads(plan_path.read_text())
    peers = load_peers()
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        out = pathlib.Path(scratch)
        outcome = peers.duckdb_gold(plan_path, lake, out)
        import pyarrow.dataset as ds

        tables = [s["table"] for s in plan["statements"]] + ["dim_date"]
        for table in tables:
            ours = DeltaTable(str(lake / "gold" / table)).to_pyarrow_table()
            if outcome["tables"][table] == 0:
                # DuckDB writes no file for an empty partitioned table.
                if ours.num_rows:
                    failures.append(f"{table}: {ours.num_rows} rows vs DuckDB's 0")
                else:
                    print(f"ok   {table}: empty, as DuckDB's")
                continue
            theirs = ds.dataset(out / table, format="parquet", partitioning="hive").to_table()
            columns = sorted(ours.column_names)
            if sorted(theirs.column_names) != columns:
                failures.append(f"{table}: columns {columns} vs DuckDB's {sorted(theirs.column_names)}")
                continue
            if table in {"fact_sales", "agg_daily_sales", "agg_category_daily", "agg_product_daily", "funnel_daily"}:
                # Partitioned: the partition column comes back from the path as text or date.
                ours = ours.set_column(ours.schema.get_field_index("dt"), "dt", ours["dt"].cast("string"))
                theirs = theirs.set_column(theirs.schema.get_field_index("dt"), "dt", theirs["dt"].cast("string"))
            differences = compare(table, ours, theirs, columns)
            if differences:
                failures.extend(differences)
            else:
                print(f"ok   {table}: {ours.num_rows} rows equal to DuckDB's")
        if outcome["tables"]["fact_sales"] == 0:
            failures.append("fact_sales is empty: the check compared nothing")
    if failures:
        print("\n".join(f"FAIL {f}" for f in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
