"""Reads a ShopFlow lake with pyarrow and the Python `deltalake` package, independently of the
Rust code, and prints JSON facts.

Usage: python3 tests/python/check_lake.py LAKE_DIR REPORT_DATE

Bronze is plain Parquet (read with pyarrow); silver, quarantine and gold are Delta tables (read
with `deltalake`, which applies the commit log: only the files of the current version count).

Prints: rows per layer/dataset (gold tables too), the Delta protocol of every table, and the report date's
KPIs recomputed from silver transactions and products, without any of the Rust code's SQL:
sales de-duplicated on the business key (latest ingestion wins), refunded and cancelled ones
left out; revenue = amount, else quantity x unit_price, else quantity x the price of the product
snapshot in effect at the sale time (effective time = updated_at, else ingestion time; a sale
before the first snapshot uses the first). Also the week-to-date and month-to-date revenue.
"""

import datetime
import json
import pathlib
import sys
from decimal import ROUND_HALF_UP, Decimal

try:
    import pyarrow.parquet as pq
    from deltalake import DeltaTable
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "pyarrow or deltalake is missing: install them with "
        "`python3 -m pip install -r tests/python/requirements.txt` "
        "(the README's test command does this)\n"
    )
    sys.exit(3)


def rows(paths):
    return sum(pq.read_metadata(p).num_rows for p in paths)


def table(path):
    """The current version of the Delta table at `path` as a pyarrow table (None: no table)."""
    if not (path / "_delta_log").is_dir():
        return None
    return DeltaTable(str(path)).to_pyarrow_table()


def table_rows(lake, layer, dataset):
    t = table(lake / layer / dataset)
    return [] if t is None else t.to_pylist()


def main():
    lake = pathlib.Path(sys.argv[1])
    date = sys.argv[2]
    facts = {"rows": {}, "protocol": {}, "columns": {}}
    for ds_dir in sorted((lake / "bronze").glob("*")):
        files = sorted(ds_dir.rglob("*.parquet"))
        # read every file fully, not just its footer: proves the pages decode
        for f in files:
            pq.read_table(f)
        facts["rows"][f"bronze/{ds_dir.name}"] = rows(files)
    for layer in ("silver", "quarantine", "gold"):
        for ds_dir in sorted((lake / layer).glob("*")):
            name = f"{layer}/{ds_dir.name}"
            t = table(ds_dir)
            facts["rows"][name] = 0 if t is None else t.num_rows
            if t is not None:
                p = DeltaTable(str(ds_dir)).protocol()
                facts["protocol"][name] = [p.min_reader_version, p.min_writer_version]
                facts["columns"][name] = t.schema.names

    snapshots = {}
    for r in table_rows(lake, "silver", "products"):
        effective = r.get("updated_at") or r["_ingested_at"]
        snapshots.setdefault(r["product_id"], []).append((effective, r["_ingested_at"], r))
    for versions in snapshots.values():
        versions.sort(key=lambda v: (v[0], v[1]))

    def product_at(product_id, when):
        versions = snapshots.get(product_id)
        if not versions:
            return {}
        chosen = versions[0][2]
        for effective, _, r in versions:
            if effective <= when:
                chosen = r
        return chosen

    sales = {}
    for r in table_rows(lake, "silver", "transactions"):
        prev = sales.get(r["transaction_id"])
        if prev is None or r["_ingested_at"] >= prev["_ingested_at"]:
            sales[r["transaction_id"]] = r
    sales = {
        k: r
        for k, r in sales.items()
        if (r.get("status") or "").lower() not in ("refunded", "cancelled")
    }

    def revenue_of(r):
        if r.get("amount") is not None:
            return r["amount"]
        if r.get("unit_price") is not None:
            return r["unit_price"] * r["quantity"]
        price = product_at(r["product_id"], r["transaction_date"]).get("price")
        return None if price is None else price * r["quantity"]

    report_day = datetime.date.fromisoformat(date)

    def revenue_between(first, last):
        total = Decimal("0")
        for r in sales.values():
            if first <= r["transaction_date"].date() <= last:
                total += revenue_of(r) or Decimal("0")
        return str(total)

    day = [r for r in sales.values() if r["transaction_date"].date() == report_day]
    revenue = Decimal("0")
    priced = 0
    by_product = {}
    by_category = {}
    for r in day:
        value = revenue_of(r)
        if value is None:
            continue
        priced += 1
        revenue += value
        by_product[r["product_id"]] = by_product.get(r["product_id"], Decimal("0")) + value
        cat = product_at(r["product_id"], r["transaction_date"]).get("category") or "unknown"
        by_category[cat] = by_category.get(cat, Decimal("0")) + value
    top = sorted(by_product.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    monday = report_day - datetime.timedelta(days=report_day.weekday())
    facts["kpis"] = {
        "revenue": str(revenue),
        "transactions": len(day),
        "average_order_value": str((revenue / priced).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if priced else "0",
        "unique_customers": len({r["customer_id"] for r in day}),
        "units": sum(r["quantity"] for r in day),
        "week_to_date_revenue": revenue_between(monday, report_day),
        "month_to_date_revenue": revenue_between(report_day.replace(day=1), report_day),
    }
    facts["top_products"] = [[p, str(v)] for p, v in top]
    facts["sales_by_category"] = {k: str(v) for k, v in by_category.items()}
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    from checker_exit import run

    run(main)
