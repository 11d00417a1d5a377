"""Checks a lake built from tests/fixtures/real_shapes against the fixture files, with pyarrow.

Usage: python3 tests/python/check_real_shapes.py LAKE_DIR FIXTURE_DIR

Every expected figure is recomputed here from the FIXTURE FILES (the order export and its
correction, the customers, the returns), never from silver, and compared with what the Rust code
wrote to the lake:

- silver `transactions`: the distinct (order_id, order_item_id) lines of the export, the exact
  duplicate removed, the latest ingestion holding the corrected price;
- gold `fact_sales`: one row per line whose latest version's status is not cancelled / canceled /
  refunded / returned (any case), with `transaction_id` and `line_number`;
- gold `agg_daily_sales` per day: revenue = sum of quantity x unit price (exact decimals),
  transactions = distinct orders, sale_lines = lines, average_order_value = revenue / orders;
- `reports/daily/date=D/report.json` (D = the fixture's last day): the day's KPIs, the revenue
  trend, and `data_quality.datasets` (rows read per dataset, the user-added `returns` included);
- masking: `dim_customer.email_masked` / `name_initials` / `nickname_initials`,
  `fact_sales.buyer_email_masked`; no clear personal value or personal column in gold;
- secrets (card numbers, IBANs, passwords nested in the customer records): in no string of
  bronze, silver, quarantine rows, gold, manifests or reports, at any nesting depth;
- silver `returns`: the user-added dataset's rows.

Prints each comparison; exits 1 with the list of mismatches if any, 3 if pyarrow is missing.
"""

import csv
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
        "`python3 -m pip install -r tests/python/requirements.txt` (the README's test command does this)\n"
    )
    sys.exit(3)

ORDER_FILES = ["orders_export.csv", "orders_export_correction.csv"]  # in ingestion order
NOT_A_SALE = {"cancelled", "canceled", "refunded", "returned"}
CENT = Decimal("0.01")

failures = []


def check(what, actual, expected):
    if actual == expected:
        shown = f"{len(expected)} values" if isinstance(expected, list) else expected
        print(f"ok   {what}: {shown}")
        return
    if isinstance(actual, list) and isinstance(expected, list):
        missing = [v for v in expected if v not in actual]
        extra = [v for v in actual if v not in expected]
        message = (f"{what}: lake has {len(actual)} values, expected {len(expected)}; "
                   f"missing {missing}, unexpected {extra}")
    else:
        message = f"{what}: lake has {actual!r}, expected {expected!r}"
    print(f"FAIL {message}")
    failures.append(message)


def fail(what):
    print(f"FAIL {what}")
    failures.append(what)


def passed(since, what):
    """Prints `what` as passed when no check failed since `since` (a count of failures)."""
    if len(failures) == since:
        print(f"ok   {what}")


def has_columns(table, rows, columns):
    if not rows:
        return
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        fail(f"gold {table} has no column {missing} (columns: {sorted(rows[0])})")


def cents(value):
    """A money value of the lake (Decimal) or of the report (float) as Decimal to the cent."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def ordered(keys):
    """Keys sorted the same way whatever their types (a missing column reads as None)."""
    return sorted(keys, key=lambda k: tuple(str(p) for p in k))


def mask_email(email):
    email = email.strip()
    at = email.find("@")
    return f"{email[0]}***{email[at:]}" if at > 0 else "***"


def initials(text):
    return "".join(w[0].upper() for w in text.split()) or None


# ---------------------------------------------------------------- the fixture, read directly


def read_fixture(fixture):
    landing = fixture / "landing"
    versions = {}  # (order_id, item) -> [row of each file that carries it, in ingestion order]
    rows_read = 0
    for file_no, name in enumerate(ORDER_FILES):
        with open(landing / name, newline="", encoding="utf-8") as f:
            for row_no, r in enumerate(csv.DictReader(f), start=1):
                rows_read += 1
                r["_file"] = name
                r["_order"] = (file_no, row_no)
                versions.setdefault((r["order_id"], int(r["order_item_id"])), []).append(r)
    latest = {k: v[-1] for k, v in versions.items()}
    sales = {
        k: r for k, r in latest.items() if r["order_status"].strip().lower() not in NOT_A_SALE
    }
    with open(landing / "customers.json", encoding="utf-8") as f:
        customers = json.load(f)
    with open(landing / "returns.csv", newline="", encoding="utf-8") as f:
        returns = list(csv.DictReader(f))
    with open(landing / "products.csv", newline="", encoding="utf-8") as f:
        products = list(csv.DictReader(f))
    return versions, latest, sales, customers, returns, products, rows_read


def day_of(r):
    return datetime.datetime.strptime(r["order_purchase_timestamp"], "%Y-%m-%d %H:%M:%S").date()


def revenue_of(r):
    return Decimal(r["price"]) * int(r["quantity"])


def secrets_in(value, out):
    """Every card number, IBAN and password anywhere in a customer record."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.lower() in ("cardnumber", "card_number", "iban", "password") and isinstance(v, str):
                out.add(v)
            else:
                secrets_in(v, out)
    elif isinstance(value, list):
        for v in value:
            secrets_in(v, out)
    return out


# ---------------------------------------------------------------- the lake


def parquet_files(root):
    return sorted(root.rglob("*.parquet")) if root.exists() else []


def table_rows(lake, layer, table):
    """The rows of a table: silver, quarantine and gold are Delta tables, read with the Python
    `deltalake` package at their current version (only the files the log references); bronze
    is plain Parquet objects."""
    root = lake / layer / table
    if (root / "_delta_log").is_dir():
        return DeltaTable(str(root)).to_pyarrow_table().to_pylist()
    out = []
    for p in parquet_files(root):
        out.extend(pq.read_table(p).to_pylist())
    return out


def log_files(root):
    return sorted(root.rglob("_delta_log/*.json")) if root.exists() else []


def strings(value):
    """Every string at any depth of a value read by pyarrow (lists, structs, maps)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def scan(label, paths, needles):
    """Fails for every needle found inside any string cell of the Parquet files."""
    found = {}
    cells = 0
    for p in paths:
        for row in pq.read_table(p).to_pylist():
            for col, value in row.items():
                for s in strings(value):
                    cells += 1
                    for n in needles:
                        if n in s:
                            found.setdefault(n, f"{p}: column {col}")
    for n, where in sorted(found.items()):
        fail(f"{label}: {n!r} in clear in {where}")
    if not found:
        print(f"ok   {label}: {len(paths)} files, {cells} strings scanned")


def scan_text(label, paths, needles):
    found = False
    for p in paths:
        text = p.read_text(encoding="utf-8", errors="replace")
        for n in needles:
            if n in text or json.dumps(n)[1:-1] in text:
                fail(f"{label}: {n!r} in clear in {p}")
                found = True
    if not found:
        print(f"ok   {label}: {len(paths)} files scanned")


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    lake = pathlib.Path(sys.argv[1])
    fixture = pathlib.Path(sys.argv[2])
    versions, latest, sales, customers, returns, products, rows_read = read_fixture(fixture)
    days = sorted({day_of(r) for r in latest.values()})
    report_day = days[-1]

    expected = {}
    for d in days:
        lines = [r for r in sales.values() if day_of(r) == d]
        revenue = sum((revenue_of(r) for r in lines), Decimal("0")).quantize(CENT)
        orders = len({r["order_id"] for r in lines})
        expected[d] = {
            "lines": len(lines),
            "orders": orders,
            "revenue": revenue,
            "average_order_value": (revenue / orders).quantize(CENT, rounding=ROUND_HALF_UP)
            if orders
            else None,
            "units": sum(int(r["quantity"]) for r in lines),
            "unique_customers": len({r["customer_id"] for r in lines}),
        }
    print(f"fixture: {rows_read} order rows read, {len(latest)} distinct lines, "
          f"{len({k[0] for k in latest})} orders, {len(sales)} sale lines; report day {report_day}")
    for d in days:
        e = expected[d]
        print(f"  expected {d}: {e['lines']} lines, {e['orders']} orders, revenue {e['revenue']}, "
              f"average order value {e['average_order_value']}")

    # ---- silver transactions: one row per distinct line (per file that carries it)
    silver = table_rows(lake, "silver", "transactions")
    since = len(failures)
    by_key = {}
    for r in silver:
        by_key.setdefault((r.get("transaction_id"), r.get("line_number")), []).append(r)
    check("silver transactions: distinct (order_id, order_item_id)", ordered(by_key), ordered(latest))
    for key, rs in by_key.items():
        sources = [r["_source_key"] for r in rs]
        if len(sources) != len(set(sources)):
            fail(f"silver transactions: {key} written {len(rs)} times from one file ({sources})")
        carried_by = len({v["_file"] for v in versions.get(key, [])})
        if len(rs) > max(carried_by, 1):
            fail(f"silver transactions: {key} has {len(rs)} rows, the fixture has it in {carried_by} file(s)")
        newest = max(rs, key=lambda r: (r["_ingested_at"], r["_source_key"], r["_row_number"]))
        want = latest.get(key)
        if want is None:
            continue
        # the status compared ignoring case: silver may store the allowed list's spelling
        got = (cents(newest.get("unit_price")), newest.get("quantity"), (newest.get("status") or "").lower(),
               newest["dt"])
        exp = (cents(want["price"]), int(want["quantity"]), want["order_status"].lower(), day_of(want))
        if got != exp:
            fail(f"silver transactions: latest row of {key} is {got}, the fixture's latest is {exp}")
    passed(since, f"silver transactions: {len(silver)} rows for {len(by_key)} lines, the latest "
                  f"of each as in the fixture (a line sent in two files may keep one row per file)")

    # ---- gold fact_sales: one row per sale line
    facts = table_rows(lake, "gold", "fact_sales")
    has_columns("fact_sales", facts, ["transaction_id", "line_number", "buyer_email_masked"])
    fact_keys = [(r.get("transaction_id"), r.get("line_number")) for r in facts]
    check("gold fact_sales rows", len(facts), len(sales))
    check("gold fact_sales (transaction_id, line_number)", ordered(fact_keys), ordered(sales))
    since = len(failures)
    compared = 0
    for r in facts:
        key = (r.get("transaction_id"), r.get("line_number"))
        want = sales.get(key)
        if want is None:
            continue
        compared += 1
        if r["dt"] != day_of(want):
            fail(f"fact_sales {key} is in date={r['dt']}, sold on {day_of(want)}")
        if "revenue" in r and cents(r["revenue"]) != revenue_of(want):
            fail(f"fact_sales {key} revenue {r['revenue']}, expected {revenue_of(want)}")
        masked = mask_email(want["buyer_email"]) if want["buyer_email"].strip() else None
        if "buyer_email_masked" in r and r["buyer_email_masked"] != masked:
            fail(f"fact_sales {key} buyer_email_masked {r['buyer_email_masked']!r}, expected {masked!r}")
    passed(since, f"gold fact_sales: day, revenue and buyer_email_masked of the {compared} rows "
                  f"that are sale lines of the fixture")

    # ---- gold agg_daily_sales per day
    agg = {r["dt"]: r for r in table_rows(lake, "gold", "agg_daily_sales")}
    check("gold agg_daily_sales days", sorted(agg), days)
    for d in days:
        a, e = agg.get(d, {}), expected[d]
        check(f"agg_daily_sales {d} revenue", cents(a.get("revenue")), e["revenue"])
        check(f"agg_daily_sales {d} transactions (distinct orders)", a.get("transactions"), e["orders"])
        check(f"agg_daily_sales {d} sale_lines", a.get("sale_lines"), e["lines"])
        check(f"agg_daily_sales {d} average_order_value", cents(a.get("average_order_value")),
              e["average_order_value"])
        check(f"agg_daily_sales {d} units", a.get("units"), e["units"])

    # ---- the report of the last day
    report_path = lake / "reports" / "daily" / f"date={report_day}" / "report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"cannot read {report_path}: {e}")
        report = {}
    k, e = report.get("kpis", {}), expected[report_day]
    check(f"report {report_day} kpis.revenue", cents(k.get("revenue")), e["revenue"])
    check(f"report {report_day} kpis.transactions (distinct orders)", k.get("transactions"), e["orders"])
    check(f"report {report_day} kpis.average_order_value", cents(k.get("average_order_value")),
          e["average_order_value"])
    check(f"report {report_day} kpis.unique_customers", k.get("unique_customers"), e["unique_customers"])
    trend = {p.get("date"): p for p in report.get("revenue_trend", [])}
    for d in days:
        p = trend.get(d.isoformat(), {})
        check(f"report revenue_trend {d} revenue", cents(p.get("revenue")), expected[d]["revenue"])
        check(f"report revenue_trend {d} transactions", p.get("transactions"), expected[d]["orders"])
    others = [p for day, p in trend.items() if day not in {d.isoformat() for d in days}]
    if any(cents(p.get("revenue")) != Decimal("0.00") for p in others):
        fail(f"report revenue_trend has revenue on days without sales: {others}")
    quality = report.get("data_quality", {})
    datasets = {d.get("dataset"): d for d in quality.get("datasets", []) if isinstance(d, dict)}
    expected_rows_in = {
        "transactions": rows_read,
        "customers": len(customers),
        "products": len(products),
        "returns": len(returns),
    }
    for ds, n in expected_rows_in.items():
        check(f"report data_quality.datasets[{ds}].rows_in", datasets.get(ds, {}).get("rows_in"), n)

    # ---- the user-added dataset in silver
    silver_returns = table_rows(lake, "silver", "returns")
    check("silver returns return_id", sorted(r.get("return_id") for r in silver_returns),
          sorted(r["return_id"] for r in returns))

    # ---- masking in gold
    gold_files = parquet_files(lake / "gold")
    dim = table_rows(lake, "gold", "dim_customer")
    has_columns("dim_customer", dim, ["email_masked", "name_initials", "nickname_initials"])
    since = len(failures)
    dim_by_id = {}
    for r in dim:
        dim_by_id.setdefault(r["customer_id"], []).append(r)
    check("gold dim_customer customers", sorted(dim_by_id), sorted(c["customer_id"] for c in customers))
    for c in customers:
        want = {
            "email_masked": mask_email(c["email"]),
            "name_initials": initials(c["full_name"]),
            "nickname_initials": initials(c["nickname"]) if c.get("nickname") else None,
        }
        for r in dim_by_id.get(c["customer_id"], []):
            got = {col: r.get(col, "<no such column>") for col in want}
            if got != want:
                fail(f"dim_customer {c['customer_id']} version {r.get('version')}: {got}, expected {want}")
    passed(since, f"gold dim_customer: email_masked, name_initials, nickname_initials of "
                  f"{len(customers)} customers")
    personal_columns = {"email", "phone", "nickname", "buyer_email", "shipping_phone", "full_name",
                        "first_name", "last_name", "birth_date"}
    clean = True
    for p in gold_files:
        names = set(pq.read_schema(p).names)
        table = p.relative_to(lake / "gold").parts[0]
        bad = names & personal_columns
        # `name` is personal in customers only: dim_product's `name` is the product's name.
        if "name" in names and table != "dim_product":
            bad.add("name")
        bad |= {n for n in names if n.startswith("shipping_phone")}
        if bad:
            clean = False
            fail(f"gold {table} ({p.relative_to(lake)}) has personal columns in clear: {sorted(bad)}")
    if clean:
        print(f"ok   no personal column in the {len(gold_files)} gold files")
    clear = set()
    for c in customers:
        for col in ("email", "full_name", "phone", "nickname"):
            if c.get(col):
                clear.add(c[col])
    for r in latest.values():
        for col in ("buyer_email", "shipping_phone"):
            if r[col].strip():
                clear.add(r[col])
    scan("gold: no clear personal value", gold_files, clear)
    # Delta commit files carry column statistics (min/max values): no clear value there either.
    scan_text("gold commit logs: no clear personal value", log_files(lake / "gold"), clear)
    report_files = sorted(p for p in (lake / "reports").rglob("*") if p.is_file())
    scan_text("reports: no clear personal value", report_files, clear)

    # ---- secrets nowhere
    secrets = secrets_in(customers, set())
    print(f"fixture: {len(secrets)} secrets (card numbers, IBANs, passwords) nested in customers.json")
    for layer in ("bronze", "silver", "gold"):
        scan(f"{layer}: no secret", parquet_files(lake / layer), secrets)
        scan_text(f"{layer} commit logs: no secret", log_files(lake / layer), secrets)
    quarantine_rows = [p for p in parquet_files(lake / "quarantine") if "_files" not in p.parts]
    scan("quarantine rows: no secret", quarantine_rows, secrets)
    scan_text("manifests and reports: no secret",
              sorted((lake / "manifests").rglob("*.json")) + report_files, secrets)

    if failures:
        sys.stderr.write(f"\n{len(failures)} mismatch(es) between the lake and the fixture:\n")
        for f in failures:
            sys.stderr.write(f"  - {f}\n")
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    from checker_exit import run

    run(main)
