"""The peers ShopFlow is measured against: each does the nearest equivalent of one stage.

Run as its own process, so its figures are whole-process figures like ShopFlow's:

    python bench/peers.py TOOL STAGE --contract contracts/transactions.toml --input F --out DIR

TOOL is duckdb, polars, pyarrow, pandas or course (the course's transformer Lambda in pandas);
STAGE is `ingest` (a CSV or JSON lines file → bronze, silver, quarantine), `merge` (Python
`deltalake`'s MERGE of a file into an existing Delta table, `--table DIR`) or `gold` (DuckDB runs
the SQL of a gold build that `shopflow report --print-sql` printed, `--plan FILE`, over the
silver tables of `--lake DIR`, and writes each table as Parquet under `--out DIR`).

Every meaning comes from the contract file, never from a column name written here: which source
names map to which column (aliases), each column's type, the timestamp formats, the business key,
the event time that partitions silver, and the rules whose severity is `reject`. Warnings and
references do not reject a row in ShopFlow either, so no peer checks them.

Each peer prints one JSON line: rows in, rows in silver, rows rejected, and the options a user
would have had to give it so it does not stop at the first injected defect (every peer reads all
columns as text and then try-casts: a typed read fails on the generator's defects).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Column:
    """One contract column: its name in the tables, its type and how sources may spell it."""

    name: str
    type: str
    required: bool
    aliases: list[str]
    scale: int | None
    formats: list[str]


@dataclass
class Contract:
    """What the peers need from a contract: columns, key, event time and the rejecting rules."""

    dataset: str
    columns: list[Column]
    primary_key: list[str]
    event_time: str
    rules: list[dict] = field(default_factory=list)

    @staticmethod
    def load(path: Path) -> "Contract":
        raw = tomllib.loads(path.read_text())
        columns = [
            Column(
                name=c["name"],
                type=c["type"],
                required=bool(c.get("required", False)),
                aliases=list(c.get("aliases", [])) or [c["name"]],
                scale=c.get("scale"),
                formats=list(c.get("formats", [])),
            )
            for c in raw["columns"]
        ]
        rules = [r for r in raw.get("rules", []) if r.get("severity", "reject") == "reject"]
        return Contract(raw["dataset"], columns, list(raw["primary_key"]), raw["event_time"], rules)

    def mapping(self, source_names: list[str]) -> dict[str, str]:
        """Source name → column name, as ShopFlow maps headers: exact alias, then any case."""
        out: dict[str, str] = {}
        for column in self.columns:
            exact = [s for s in source_names if s in column.aliases]
            folded = [
                s for s in source_names if s.lower() in {a.lower() for a in column.aliases}
            ]
            chosen = (exact or folded or [None])[0]
            if chosen is not None and chosen not in out:
                out[chosen] = column.name
        return out

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def timestamp_formats(self, name: str) -> list[str]:
        return self.column(name).formats or ["rfc3339"]


def latest_allowed(rule: dict) -> dt.datetime | None:
    ahead = rule.get("max_days_ahead")
    if ahead is None:
        return None
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=ahead)


def earliest_allowed(rule: dict) -> dt.datetime | None:
    earliest = rule.get("earliest")
    if earliest is None:
        return None
    if isinstance(earliest, dt.datetime):
        return earliest.replace(tzinfo=None)
    return dt.datetime.combine(earliest, dt.time())


def report(tool: str, rows_in: int, silver: int, rejected: int, options: str) -> dict:
    """What a peer tells the harness about its run (printed as one JSON line by `main`)."""
    return {
        "tool": tool,
        "rows_in": rows_in,
        "rows_silver": silver,
        "rows_rejected": rejected,
        "options": options,
    }


def is_json_lines(path: Path) -> bool:
    return path.suffix in {".jsonl", ".ndjson", ".json"}


# ---------------------------------------------------------------------------------------------
# DuckDB


def duckdb_type(column: Column) -> str:
    return {
        "string": "VARCHAR",
        "integer": "BIGINT",
        "number": "DOUBLE",
        "decimal": f"DECIMAL(18, {column.scale or 0})",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    }[column.type]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_timestamp(expr: str, formats: list[str]) -> str:
    """A try-parse of `expr` under each declared format, first success wins, in UTC."""
    tries = []
    for f in formats:
        if f == "rfc3339":
            tries.append(f"try_cast(try_cast({expr} AS TIMESTAMPTZ) AS TIMESTAMP)")
        elif f == "epoch_seconds":
            tries.append(f"try_cast(to_timestamp(try_cast({expr} AS DOUBLE)) AS TIMESTAMP)")
        elif f == "epoch_millis":
            tries.append(
                f"try_cast(to_timestamp(try_cast({expr} AS DOUBLE) / 1000) AS TIMESTAMP)"
            )
        else:
            tries.append(f"try_strptime({expr}, {sql_text(f.replace('%.f', '.%f'))})")
    return f"coalesce({', '.join(tries)})"


def duckdb_ingest(contract: Contract, source: Path, out: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET preserve_insertion_order = false")
    if is_json_lines(source):
        con.execute(
            f"CREATE VIEW src AS SELECT * FROM read_json({sql_text(str(source))}, "
            "format = 'newline_delimited', sample_size = 20000)"
        )
        options = "read_json newline_delimited, every column cast to text, try_cast per contract type"
    else:
        con.execute(
            f"CREATE VIEW src AS SELECT * FROM read_csv({sql_text(str(source))}, "
            "all_varchar = true, header = true, strict_mode = false, null_padding = true)"
        )
        options = "read_csv all_varchar, strict_mode off, null_padding, try_cast per contract type"
    names = [row[0] for row in con.execute("DESCRIBE src").fetchall()]
    mapping = contract.mapping(names)
    text = {target: f"CAST({quote(src)} AS VARCHAR)" for src, target in mapping.items()}
    typed = []
    checks = []
    for column in contract.columns:
        raw = text.get(column.name)
        if raw is None:
            typed.append(f"CAST(NULL AS {duckdb_type(column)}) AS {quote(column.name)}")
            if column.required:
                checks.append("false")
            continue
        if column.type == "timestamp":
            expr = duckdb_timestamp(raw, contract.timestamp_formats(column.name))
        elif column.type == "string":
            expr = f"nullif({raw}, '')"
        else:
            expr = f"try_cast(nullif(trim({raw}), '') AS {duckdb_type(column)})"
        typed.append(f"{expr} AS {quote(column.name)}")
        if column.required:
            checks.append(f"({quote(column.name)} IS NOT NULL)")
        if column.type != "string":
            typed.append(f"nullif(trim({raw}), '') IS NOT NULL AS {quote('_present_' + column.name)}")
            checks.append(f"(NOT {quote('_present_' + column.name)} OR {quote(column.name)} IS NOT NULL)")
    for rule in contract.rules:
        col = quote(rule["column"])
        kind = rule["kind"]
        if kind == "range":
            if "min" in rule:
                op = ">" if rule.get("min_exclusive") else ">="
                checks.append(f"({col} IS NULL OR {col} {op} {rule['min']})")
            if "max" in rule:
                op = "<" if rule.get("max_exclusive") else "<="
                checks.append(f"({col} IS NULL OR {col} {op} {rule['max']})")
        elif kind == "allowed_values":
            values = ", ".join(sql_text(v.lower()) for v in rule["values"])
            checks.append(f"({col} IS NULL OR lower(trim({col})) IN ({values}))")
        elif kind == "pattern":
            checks.append(f"({col} IS NULL OR regexp_matches({col}, {sql_text(rule['pattern'])}))")
        elif kind == "date_range":
            low, high = earliest_allowed(rule), latest_allowed(rule)
            if low:
                checks.append(f"({col} IS NULL OR {col} >= TIMESTAMP '{low:%Y-%m-%d %H:%M:%S}')")
            if high:
                checks.append(f"({col} IS NULL OR {col} <= TIMESTAMP '{high:%Y-%m-%d %H:%M:%S}')")
    valid = " AND ".join(checks) or "true"
    outputs = ", ".join(quote(c.name) for c in contract.columns)
    keys = ", ".join(quote(k) for k in contract.primary_key)
    event = quote(contract.event_time)
    con.execute(
        f"CREATE TABLE checked AS SELECT *, coalesce({valid}, false) AS _valid FROM "
        f"(SELECT {', '.join(typed)}, row_number() OVER () AS _row FROM src)"
    )
    silver = out / "silver"
    silver.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT {outputs}, CAST({event} AS DATE) AS dt FROM checked "
        f"WHERE _valid QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _row DESC) = 1) "
        f"TO {sql_text(str(silver))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt), "
        "OVERWRITE_OR_IGNORE true)"
    )
    con.execute(
        f"COPY (SELECT * FROM src) TO {sql_text(str(out / 'bronze.parquet'))} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    con.execute(
        f"COPY (SELECT _row, {outputs} FROM checked WHERE NOT _valid) TO "
        f"{sql_text(str(out / 'quarantine.parquet'))} (FORMAT parquet, COMPRESSION zstd)"
    )
    rows_in, good, bad = con.execute(
        "SELECT count(*), count(*) FILTER (_valid), count(*) FILTER (NOT _valid) FROM checked"
    ).fetchone()
    written = con.execute(
        f"SELECT count(*) FROM read_parquet({sql_text(str(silver / '**' / '*.parquet'))})"
    ).fetchone()[0]
    return report("duckdb", rows_in, written, bad, options + f"; {good - written} key duplicates dropped")


# ---------------------------------------------------------------------------------------------
# Polars


def polars_ingest(contract: Contract, source: Path, out: Path) -> dict:
    import polars as pl

    if is_json_lines(source):
        frame = pl.scan_ndjson(source, infer_schema_length=20000)
        options = "scan_ndjson, every column cast to text, cast(strict=False) per contract type"
    else:
        frame = pl.scan_csv(source, infer_schema=False, truncate_ragged_lines=True)
        options = "scan_csv infer_schema=False, truncate_ragged_lines, cast(strict=False)"
    names = frame.collect_schema().names()
    mapping = contract.mapping(names)
    reverse = {target: src for src, target in mapping.items()}
    exprs = []
    checks = []
    for column in contract.columns:
        src = reverse.get(column.name)
        if src is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(column.name))
            if column.required:
                checks.append(pl.lit(False))
            continue
        raw = pl.col(src).cast(pl.String).str.strip_chars()
        raw = pl.when(raw == "").then(None).otherwise(raw)
        if column.type == "string":
            expr = pl.col(src).cast(pl.String)
        elif column.type == "integer":
            expr = raw.cast(pl.Int64, strict=False)
        elif column.type == "number":
            expr = raw.cast(pl.Float64, strict=False)
        elif column.type == "decimal":
            expr = raw.cast(pl.Decimal(18, column.scale or 0), strict=False)
        elif column.type == "date":
            expr = raw.str.to_date(strict=False)
        elif column.type == "timestamp":
            tries = []
            for f in contract.timestamp_formats(column.name):
                if f == "rfc3339":
                    tries.append(
                        raw.str.to_datetime("%+", strict=False, time_zone="UTC").dt.replace_time_zone(None)
                    )
                elif f == "epoch_seconds":
                    tries.append(pl.from_epoch(raw.cast(pl.Int64, strict=False), time_unit="s"))
                elif f == "epoch_millis":
                    tries.append(pl.from_epoch(raw.cast(pl.Int64, strict=False), time_unit="ms"))
                else:
                    tries.append(raw.str.to_datetime(f, strict=False, time_unit="us"))
            expr = pl.coalesce([t.cast(pl.Datetime("us")) for t in tries])
        else:
            expr = raw.cast(pl.Boolean, strict=False)
        exprs.append(expr.alias(column.name))
        if column.required:
            checks.append(pl.col(column.name).is_not_null())
        if column.type != "string":
            checks.append(raw.is_null() | pl.col(column.name).is_not_null())
    for rule in contract.rules:
        if rule["column"] not in reverse:
            continue
        col = pl.col(rule["column"])
        kind = rule["kind"]
        if kind == "range":
            if "min" in rule:
                cmp = col > rule["min"] if rule.get("min_exclusive") else col >= rule["min"]
                checks.append(col.is_null() | cmp)
            if "max" in rule:
                cmp = col < rule["max"] if rule.get("max_exclusive") else col <= rule["max"]
                checks.append(col.is_null() | cmp)
        elif kind == "allowed_values":
            allowed = [v.lower() for v in rule["values"]]
            checks.append(col.is_null() | col.str.strip_chars().str.to_lowercase().is_in(allowed))
        elif kind == "pattern":
            checks.append(col.is_null() | col.str.contains(rule["pattern"]))
        elif kind == "date_range":
            low, high = earliest_allowed(rule), latest_allowed(rule)
            if low:
                checks.append(col.is_null() | (col >= low))
            if high:
                checks.append(col.is_null() | (col <= high))
    valid = pl.all_horizontal(checks).fill_null(False) if checks else pl.lit(True)
    raw_frame = frame.with_row_index("_row")
    keep = [pl.col("_row")] + [pl.col(s) for s in mapping]
    checked = (
        raw_frame.select(keep)
        .with_columns(exprs)
        .with_columns(valid.alias("_valid"))
        .select(["_row", "_valid"] + [c.name for c in contract.columns])
        .collect(engine="streaming")
    )
    silver = (
        checked.filter(pl.col("_valid"))
        .sort("_row")
        .unique(subset=contract.primary_key, keep="last")
        .drop("_row", "_valid")
        .with_columns(pl.col(contract.event_time).dt.date().alias("dt"))
    )
    (out / "silver").mkdir(parents=True)
    silver.write_parquet(out / "silver", partition_by="dt", compression="zstd")
    frame.sink_parquet(out / "bronze.parquet", compression="zstd")
    rejected = checked.filter(~pl.col("_valid"))
    rejected.drop("_valid").write_parquet(out / "quarantine.parquet", compression="zstd")
    return report("polars", checked.height, silver.height, rejected.height, options)


# ---------------------------------------------------------------------------------------------
# pyarrow

INTEGER_TEXT = r"^\s*[+-]?\d{1,18}\s*$"
DECIMAL_TEXT = r"^\s*[+-]?\d{1,15}(\.\d{0,%d})?\s*$"
NUMBER_TEXT = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def bound(value, arrow_type):
    """A rule's bound as a scalar comparable with a column of `arrow_type` without a cast."""
    import decimal

    import pyarrow as pa

    if pa.types.is_decimal(arrow_type):
        return pa.scalar(decimal.Decimal(str(value)), arrow_type)
    return pa.scalar(value, arrow_type)


def pyarrow_ingest(contract: Contract, source: Path, out: Path) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if is_json_lines(source):
        from pyarrow import json as pj

        table = pj.read_json(source)
        options = "json.read_json (types inferred), columns cast to text, regex-guarded casts"
    else:
        from pyarrow import csv as pcsv

        with open(source, "rb") as handle:
            header = handle.readline().decode("utf-8-sig").rstrip("\r\n").split(",")
        table = pcsv.read_csv(
            source,
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=True
            ),
            parse_options=pcsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
        )
        options = "read_csv all columns string, invalid rows skipped, regex-guarded casts"
    pq.write_table(table, out / "bronze.parquet", compression="zstd")
    mapping = contract.mapping(table.column_names)
    reverse = {target: src for src, target in mapping.items()}
    n = table.num_rows
    columns = {}
    valid = pa.array([True] * n)

    def both(a, b):
        return pc.and_kleene(a, b)

    for column in contract.columns:
        src = reverse.get(column.name)
        if src is None:
            columns[column.name] = pa.nulls(n)
            if column.required:
                valid = pa.array([False] * n)
            continue
        raw = pc.cast(table[src], pa.string())
        raw = pc.if_else(pc.equal(pc.utf8_trim_whitespace(raw), ""), None, raw)
        if column.type == "string":
            typed = raw
        elif column.type in ("integer", "decimal", "number"):
            pattern = {
                "integer": INTEGER_TEXT,
                "decimal": DECIMAL_TEXT % (column.scale or 0),
                "number": NUMBER_TEXT,
            }[column.type]
            ok = pc.match_substring_regex(raw, pattern)
            guarded = pc.utf8_trim_whitespace(pc.if_else(ok, raw, None))
            target = {
                "integer": pa.int64(),
                "decimal": pa.decimal128(18, column.scale or 0),
                "number": pa.float64(),
            }[column.type]
            typed = pc.cast(guarded, target)
        elif column.type == "timestamp":
            tries = []
            for f in contract.timestamp_formats(column.name):
                if f == "rfc3339":
                    f = "%Y-%m-%dT%H:%M:%S%z"
                if f.startswith("epoch") or "%.f" in f:
                    continue
                tries.append(pc.strptime(raw, format=f, unit="us", error_is_null=True))
            typed = pc.coalesce(*[pc.cast(t, pa.timestamp("us")) for t in tries])
        else:
            typed = pc.cast(raw, pa.bool_())
        columns[column.name] = typed
        if column.required:
            valid = both(valid, pc.is_valid(typed))
        if column.type != "string":
            valid = both(valid, pc.or_kleene(pc.is_null(raw), pc.is_valid(typed)))
    for rule in contract.rules:
        if rule["column"] not in reverse:
            continue
        col = columns[rule["column"]]
        kind = rule["kind"]
        if kind == "range":
            if "min" in rule:
                f = pc.greater if rule.get("min_exclusive") else pc.greater_equal
                valid = both(valid, pc.or_kleene(pc.is_null(col), f(col, bound(rule["min"], col.type))))
            if "max" in rule:
                f = pc.less if rule.get("max_exclusive") else pc.less_equal
                valid = both(valid, pc.or_kleene(pc.is_null(col), f(col, bound(rule["max"], col.type))))
        elif kind == "allowed_values":
            allowed = pa.array([v.lower() for v in rule["values"]])
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(col))
            valid = both(valid, pc.or_kleene(pc.is_null(col), pc.is_in(lowered, value_set=allowed)))
        elif kind == "pattern":
            valid = both(valid, pc.or_kleene(pc.is_null(col), pc.match_substring_regex(col, rule["pattern"])))
        elif kind == "date_range":
            low, high = earliest_allowed(rule), latest_allowed(rule)
            if low:
                valid = both(valid, pc.or_kleene(pc.is_null(col), pc.greater_equal(col, pa.scalar(low, pa.timestamp("us")))))
            if high:
                valid = both(valid, pc.or_kleene(pc.is_null(col), pc.less_equal(col, pa.scalar(high, pa.timestamp("us")))))
    valid = pc.fill_null(valid, False)
    typed_table = pa.table(columns).append_column("_row", pa.array(range(n), pa.int64()))
    good = typed_table.filter(valid)
    last = good.group_by(contract.primary_key).aggregate([("_row", "max")])
    keep = pc.is_in(good["_row"], value_set=last["_row_max"])
    silver = good.filter(keep).drop_columns(["_row"])
    silver = silver.append_column("dt", pc.cast(silver[contract.event_time], pa.date32()))
    ds.write_dataset(
        silver,
        out / "silver",
        format="parquet",
        partitioning=["dt"],
        partitioning_flavor="hive",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        existing_data_behavior="overwrite_or_ignore",
    )
    rejected = typed_table.filter(pc.invert(valid))
    pq.write_table(rejected, out / "quarantine.parquet", compression="zstd")
    return report("pyarrow", n, silver.num_rows, rejected.num_rows, options)


# ---------------------------------------------------------------------------------------------
# pandas


def pandas_read(source: Path):
    import pandas as pd

    if is_json_lines(source):
        return pd.read_json(source, lines=True, dtype=False), "read_json(lines=True, dtype=False)"
    return (
        pd.read_csv(source, dtype=str, keep_default_na=False, on_bad_lines="skip"),
        "read_csv(dtype=str, on_bad_lines='skip')",
    )


def pandas_timestamp(raw, formats: list[str]):
    import pandas as pd

    result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    for f in formats:
        missing = result.isna()
        if not missing.any():
            break
        part = raw[missing]
        if f == "rfc3339":
            parsed = pd.to_datetime(part, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        elif f.startswith("epoch"):
            unit = "s" if f == "epoch_seconds" else "ms"
            parsed = pd.to_datetime(pd.to_numeric(part, errors="coerce"), unit=unit, errors="coerce")
        else:
            parsed = pd.to_datetime(part, format=f.replace("%.f", ".%f"), errors="coerce")
        result[missing] = parsed.astype("datetime64[us]")
    return result


def pandas_ingest(contract: Contract, source: Path, out: Path) -> dict:
    import numpy as np
    import pandas as pd

    frame, options = pandas_read(source)
    frame.to_parquet(out / "bronze.parquet", compression="zstd")
    mapping = contract.mapping(list(frame.columns))
    frame = frame[list(mapping)].rename(columns=mapping)
    valid = pd.Series(True, index=frame.index)
    for column in contract.columns:
        if column.name not in frame:
            frame[column.name] = None
            if column.required:
                valid &= False
            continue
        raw = frame[column.name].astype("string").str.strip().replace("", pd.NA)
        if column.type == "string":
            typed = frame[column.name].replace("", pd.NA)
        elif column.type in ("integer", "number", "decimal"):
            typed = pd.to_numeric(raw, errors="coerce")
            if column.type == "decimal":
                typed = typed.round(column.scale or 0)
        elif column.type == "timestamp":
            typed = pandas_timestamp(raw, contract.timestamp_formats(column.name))
        elif column.type == "date":
            typed = pd.to_datetime(raw, errors="coerce").dt.date
        else:
            typed = raw.str.lower().map({"true": True, "false": False})
        frame[column.name] = typed
        if column.required:
            valid &= typed.notna()
        if column.type != "string":
            valid &= raw.isna() | typed.notna()
    for rule in contract.rules:
        col = frame[rule["column"]]
        kind = rule["kind"]
        if kind == "range":
            if "min" in rule:
                ok = col > rule["min"] if rule.get("min_exclusive") else col >= rule["min"]
                valid &= col.isna() | ok
            if "max" in rule:
                ok = col < rule["max"] if rule.get("max_exclusive") else col <= rule["max"]
                valid &= col.isna() | ok
        elif kind == "allowed_values":
            allowed = {v.lower() for v in rule["values"]}
            valid &= col.isna() | col.astype("string").str.strip().str.lower().isin(allowed)
        elif kind == "pattern":
            valid &= col.isna() | col.astype("string").str.contains(rule["pattern"], regex=True).fillna(False)
        elif kind == "date_range":
            low, high = earliest_allowed(rule), latest_allowed(rule)
            if low:
                valid &= col.isna() | (col >= np.datetime64(low))
            if high:
                valid &= col.isna() | (col <= np.datetime64(high))
    valid = valid.fillna(False).astype(bool)
    silver = frame[valid].drop_duplicates(subset=contract.primary_key, keep="last").copy()
    silver["dt"] = silver[contract.event_time].dt.date.astype("string")
    silver.to_parquet(out / "silver", partition_cols=["dt"], compression="zstd")
    rejected = frame[~valid]
    rejected.astype("string").to_parquet(out / "quarantine.parquet", compression="zstd")
    return report("pandas", len(frame), len(silver), len(rejected), options)


def course_ingest(contract: Contract, source: Path, out: Path) -> dict:
    """The course's transformer Lambda (seeds), generalised to the contract's names.

    Its steps, in its order: drop exact duplicate rows, drop rows missing a required id, parse
    the event time, make amounts numbers, derive year / month / day, check amounts and
    quantities, write one Parquet file. As written it stops at the first defect (`astype(float)`
    raises on a bad amount, `assert` on a negative one), so it gets what a user would change:
    `errors="coerce"` and filters in place of the asserts.
    """
    import pandas as pd

    frame = pd.read_csv(source) if not is_json_lines(source) else pd.read_json(source, lines=True)
    rows_in = len(frame)
    frame = frame.rename(columns=contract.mapping(list(frame.columns)))
    frame = frame.drop_duplicates()
    ids = [c.name for c in contract.columns if c.required and c.type == "string" and c.name in frame]
    frame = frame.dropna(subset=ids)
    event = contract.event_time
    frame[event] = pd.to_datetime(frame[event], errors="coerce", format="mixed")
    for column in contract.columns:
        if column.type in ("decimal", "number", "integer") and column.name in frame:
            frame[column.name] = pd.to_numeric(frame[column.name], errors="coerce")
    frame["year"] = frame[event].dt.year
    frame["month"] = frame[event].dt.month
    frame["day"] = frame[event].dt.day
    for rule in contract.rules:
        if rule["kind"] == "range" and rule["column"] in frame and "min" in rule:
            col = frame[rule["column"]]
            frame = frame[col > rule["min"]] if rule.get("min_exclusive") else frame[col >= rule["min"]]
    frame.to_parquet(out / "processed.parquet")
    return report("course", rows_in, len(frame), rows_in - len(frame),
           "errors='coerce' in place of astype(float), filters in place of the asserts")


# ---------------------------------------------------------------------------------------------
# Python deltalake: MERGE a file into an existing table


def deltalake_merge(contract: Contract, source: Path, table_dir: Path) -> dict:
    """MERGE the valid rows of `source` into the Delta table at `table_dir` on the business key.

    The rows are typed and checked with pyarrow as in `pyarrow_ingest`; the MERGE is delta-rs's
    own, through its Python package: matched rows updated, new rows inserted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    scratch = table_dir.parent / "_peer_scratch"
    scratch.mkdir(exist_ok=True)
    # Reuse the pyarrow peer's typing and checks, then read its silver back as one table.
    pyarrow_ingest(contract, source, scratch)
    import pyarrow.dataset as ds

    rows = ds.dataset(scratch / "silver", format="parquet", partitioning="hive").to_table()
    target = DeltaTable(str(table_dir))
    schema = pa.schema(target.schema().to_arrow())
    rows = rows.select([f.name for f in schema if f.name in rows.column_names])
    missing = [f for f in schema if f.name not in rows.column_names]
    for f in missing:
        rows = rows.append_column(f.name, pa.nulls(rows.num_rows, f.type))
    rows = rows.select(schema.names).cast(schema)
    predicate = " AND ".join(f"t.{k} = s.{k}" for k in contract.primary_key)
    dates = sorted({str(d) for d in pc.unique(rows["dt"]).to_pylist()}) if "dt" in rows.column_names else []
    if dates:
        predicate += " AND t.dt IN (" + ", ".join(f"'{d}'" for d in dates) + ")"
    metrics = (
        target.merge(rows, predicate=predicate, source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return report(
        "deltalake",
        rows.num_rows,
        metrics.get("num_target_rows_inserted", 0) + metrics.get("num_target_rows_updated", 0),
        0,
        "pyarrow typing and checks as the pyarrow peer, then DeltaTable.merge on the key, pruned to the file's days",
    )


# ---------------------------------------------------------------------------------------------
# DuckDB: the gold build's own SQL on the same silver tables

# The masking functions ShopFlow's SQL engine has built in (`Mask::apply` in the contract
# module): an email keeps its first character and its domain, a name becomes its initials.
DUCKDB_MASKS = [
    r"""CREATE MACRO mask_email(v) AS CASE
         WHEN v IS NULL THEN NULL
         WHEN strpos(trim(v), '@') > 1 THEN left(trim(v), 1) || '***' || substr(trim(v), strpos(trim(v), '@'))
         ELSE '***' END""",
    r"""CREATE MACRO mask_initials(v) AS CASE
         WHEN v IS NULL THEN NULL
         ELSE nullif(upper(array_to_string(list_transform(
             list_filter(regexp_split_to_array(v, '[\s.\-]+'), lambda w: regexp_matches(w, '[\p{L}\p{N}]')),
             lambda w: regexp_extract(w, '[\p{L}\p{N}]')), '')), '') END""",
]


def duckdb_gold(plan_path: Path, lake: Path, out: Path) -> dict:
    """Runs every statement of a gold build plan in DuckDB and writes each table as Parquet.

    Silver is read as ShopFlow's engine reads it: the data files of each Delta table's current
    snapshot (listed by Python `deltalake`), `dt` from the partition path, the facts and events
    limited to the plan's days. Each statement becomes a table the next ones can read; each
    table is written with zstd, partitioned by `dt` when ShopFlow partitions it. `dim_date`,
    which ShopFlow makes in code, is one more statement over the facts' days.
    """
    import duckdb
    from deltalake import DeltaTable

    plan = json.loads(plan_path.read_text())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 2")
    for macro in DUCKDB_MASKS:
        con.execute(macro)
    for source in plan["sources"]:
        name = quote(source["dataset"])
        path = lake / source["table"]
        if not (path / "_delta_log").exists():
            # No rows of the dataset yet: an empty table of the contract's columns.
            columns = ", ".join(f"CAST(NULL AS {t}) AS {quote(c)}" for c, t in source["columns"])
            con.execute(f"CREATE VIEW {name} AS SELECT {columns} WHERE FALSE")
            continue
        files = DeltaTable(str(path)).file_uris()
        listed = ", ".join(sql_text(f) for f in files)
        where = ""
        if source["days"] is not None:
            where = " WHERE dt IN (" + ", ".join(f"DATE '{d}'" for d in source["days"]) + ")"
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], "
            f"hive_partitioning = true, hive_types = {{'dt': DATE}}, union_by_name = true){where}"
        )
    rows = {}
    statements = [(s["table"], s["sql"], s["days"] is not None) for s in plan["statements"]]
    statements.append((
        "dim_date",
        "SELECT CAST(strftime(d, '%Y%m%d') AS INT) AS date_key, CAST(d AS DATE) AS calendar_date, "
        "year(d) AS year, quarter(d) AS quarter, month(d) AS month, monthname(d) AS month_name, "
        "day(d) AS day_of_month, isodow(d) AS iso_weekday, dayname(d) AS weekday_name, "
        "weekofyear(d) AS iso_week, isodow(d) >= 6 AS is_weekend "
        "FROM (SELECT unnest(generate_series(MIN(dt), MAX(dt), INTERVAL 1 DAY)) AS d FROM fact_sales)",
        False,
    ))
    for table, sql, partitioned in statements:
        con.execute(f"CREATE TABLE {quote(table)} AS {sql}")
        rows[table] = con.execute(f"SELECT COUNT(*) FROM {quote(table)}").fetchone()[0]
        target = out / table
        options = "FORMAT parquet, COMPRESSION zstd"
        if partitioned:
            options += ", PARTITION_BY (dt)"
        else:
            target.mkdir(parents=True, exist_ok=True)
            target = target / "part-0.parquet"
        con.execute(f"COPY {quote(table)} TO {sql_text(str(target))} ({options})")
    revenue = con.execute("SELECT CAST(SUM(revenue) AS DOUBLE) FROM agg_daily_sales").fetchone()[0]
    sales = con.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
    outcome = report(
        "duckdb",
        sales,
        rows["fact_sales"],
        0,
        "the gold build's SQL as `shopflow report --print-sql` prints it, mask functions as DuckDB "
        "macros, silver read from each Delta snapshot's files, every table written as zstd Parquet",
    )
    outcome["tables"] = rows
    outcome["revenue"] = revenue
    return outcome


INGEST = {
    "duckdb": duckdb_ingest,
    "polars": polars_ingest,
    "pyarrow": pyarrow_ingest,
    "pandas": pandas_ingest,
    "course": course_ingest,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(INGEST) + ["deltalake"])
    parser.add_argument("stage", choices=["ingest", "merge", "gold"])
    parser.add_argument("--contract", type=Path, help="the dataset's contract (ingest, merge)")
    parser.add_argument("--input", type=Path, help="the file to read (ingest, merge)")
    parser.add_argument("--out", type=Path, help="output directory (ingest, gold)")
    parser.add_argument("--table", type=Path, help="the Delta table to merge into (merge)")
    parser.add_argument("--plan", type=Path, help="`shopflow report --print-sql` output (gold)")
    parser.add_argument("--lake", type=Path, help="the lake whose silver gold reads (gold)")
    args = parser.parse_args()
    if args.stage == "gold":
        if args.tool != "duckdb":
            parser.error("the gold stage's peer is duckdb")
        args.out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(duckdb_gold(args.plan, args.lake, args.out)))
        return 0
    if args.contract is None or args.input is None:
        parser.error("--contract and --input are required for ingest and merge")
    contract = Contract.load(args.contract)
    if args.stage == "merge":
        outcome = deltalake_merge(contract, args.input, args.table)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        outcome = INGEST[args.tool](contract, args.input, args.out)
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
