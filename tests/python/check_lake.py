"""Reads a ShopFlow lake with pyarrow, independently of the Rust code, and prints JSON facts.

Usage: python3 tests/python/check_lake.py LAKE_DIR REPORT_DATE

Prints: rows per layer/dataset as pyarrow reads them, and the report date's KPIs recomputed
from silver transactions and products (de-duplicated on the business key, latest ingestion
wins; revenue = amount, else quantity x unit_price, else quantity x catalog price).
"""

import json
import pathlib
import sys
from decimal import Decimal

try:
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "pyarrow is missing: install it with `python3 -m pip install pyarrow` "
        "(the README's test command does this)\n"
    )
    sys.exit(3)


def rows(paths):
    return sum(pq.read_metadata(p).num_rows for p in paths)


def main():
    lake = pathlib.Path(sys.argv[1])
    date = sys.argv[2]
    facts = {"rows": {}}
    for layer in ("bronze", "silver", "quarantine"):
        for ds_dir in sorted((lake / layer).glob("*")):
            files = sorted(ds_dir.rglob("*.parquet"))
            # read every file fully, not just its footer: proves the pages decode
            for f in files:
                pq.read_table(f)
            facts["rows"][f"{layer}/{ds_dir.name}"] = rows(files)

    products = {}
    for f in sorted((lake / "silver" / "products").rglob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            prev = products.get(r["product_id"])
            if prev is None or r["_ingested_at"] >= prev["_ingested_at"]:
                products[r["product_id"]] = r
    sales = {}
    for f in sorted((lake / "silver" / "transactions").rglob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            prev = sales.get(r["transaction_id"])
            if prev is None or r["_ingested_at"] >= prev["_ingested_at"]:
                sales[r["transaction_id"]] = r
    day = [r for r in sales.values() if r["transaction_date"].date().isoformat() == date]
    revenue = Decimal("0")
    by_product = {}
    by_category = {}
    for r in day:
        if r.get("amount") is not None:
            value = r["amount"]
        elif r.get("unit_price") is not None:
            value = r["unit_price"] * r["quantity"]
        else:
            value = products[r["product_id"]]["price"] * r["quantity"]
        revenue += value
        by_product[r["product_id"]] = by_product.get(r["product_id"], Decimal("0")) + value
        cat = (products.get(r["product_id"]) or {}).get("category") or "unknown"
        by_category[cat] = by_category.get(cat, Decimal("0")) + value
    top = sorted(by_product.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    facts["kpis"] = {
        "revenue": str(revenue),
        "transactions": len(day),
        "unique_customers": len({r["customer_id"] for r in day}),
        "units": sum(r["quantity"] for r in day),
    }
    facts["top_products"] = [[p, str(v)] for p, v in top]
    facts["sales_by_category"] = {k: str(v) for k, v in by_category.items()}
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
