//! Gold, the `sql/` analytics, `shopflow query` and the report's outputs on a demo lake.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use super::{cents, money_cents, ok, shopflow, workspace_root};

const END: &str = "2026-03-31";

/// One demo lake shared by the tests of this module (built once: the demo takes seconds), in
/// the scratch directory cargo gives integration tests.
fn demo_lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| {
        let lake = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analytics-demo-lake");
        if lake.exists() {
            std::fs::remove_dir_all(&lake).unwrap();
        }
        ok(&[
            "demo",
            "--lake",
            lake.to_str().unwrap(),
            "--end-date",
            END,
            "--seed",
            "11",
        ]);
        lake
    })
}

fn query_json(sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let out = ok(&[
        "query",
        "--lake",
        demo_lake().to_str().unwrap(),
        "--format",
        "json",
        sql,
    ]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

fn num(row: &serde_json::Map<String, Value>, col: &str) -> f64 {
    match &row[col] {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("{col}: {s}")),
        other => panic!("{col} is not a number: {other}"),
    }
}

/// The `-- Columns: a, b, …` comment of a `.sql` file (may continue on following `--` lines).
fn documented_columns(text: &str) -> Vec<String> {
    let mut cols = String::new();
    let mut inside = false;
    for line in text.lines() {
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        if let Some(rest) = comment.strip_prefix("Columns:") {
            inside = true;
            cols.push_str(rest);
        } else if inside && !comment.contains(':') {
            cols.push(' ');
            cols.push_str(comment);
        } else {
            inside = false;
        }
    }
    cols.trim_end_matches('.')
        .split(',')
        .map(|c| c.split('(').next().unwrap().trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn every_sql_file_runs_and_returns_its_documented_columns() {
    let dir = workspace_root().join("sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let expected = documented_columns(&text);
        assert!(!expected.is_empty(), "{} documents no columns", f.display());
        let rows = query_json(&format!("@{}", f.display()));
        assert!(!rows.is_empty(), "{} returned no rows", f.display());
        for r in &rows {
            let got: Vec<&String> = r.keys().collect();
            for c in &expected {
                // JSON output omits null values; every documented column must appear in some row.
                assert!(
                    rows.iter().any(|r| r.contains_key(c)),
                    "{}: column {c} missing (row: {got:?})",
                    f.display()
                );
            }
            for k in r.keys() {
                assert!(
                    expected.contains(k),
                    "{}: undocumented column {k}",
                    f.display()
                );
            }
        }
    }
}

fn sql_file(name: &str) -> Vec<serde_json::Map<String, Value>> {
    query_json(&format!(
        "@{}",
        workspace_root().join("sql").join(name).display()
    ))
}

#[test]
fn top_lists_are_ten_rows_in_descending_order() {
    for (file, col) in [
        ("top_10_customers_by_spend.sql", "total_spend"),
        ("top_10_products.sql", "revenue"),
    ] {
        let rows = sql_file(file);
        assert_eq!(rows.len(), 10, "{file}");
        let values: Vec<f64> = rows.iter().map(|r| num(r, col)).collect();
        assert!(
            values.windows(2).all(|w| w[0] >= w[1]),
            "{file}: {values:?}"
        );
        assert!(values.iter().all(|v| *v > 0.0), "{file}");
    }
    for r in sql_file("top_10_customers_by_spend.sql") {
        let email = r["email_masked"].as_str().unwrap();
        assert!(email.contains("***@"), "unmasked email {email}");
    }
}

#[test]
fn analytics_agree_with_each_other_and_with_the_report() {
    let lake = demo_lake();
    let report: Value = serde_json::from_slice(
        &std::fs::read(lake.join(format!("reports/daily/date={END}/report.json"))).unwrap(),
    )
    .unwrap();
    // Daily sales report: the latest day is the report's day.
    let daily = sql_file("daily_sales_last_30_days.sql");
    assert!(daily.len() <= 30 && daily.len() >= 25, "{}", daily.len());
    assert_eq!(daily[0]["dt"], END);
    assert_eq!(
        (num(&daily[0], "revenue") * 100.0).round() as i64,
        money_cents(&report["kpis"]["revenue"])
    );
    // Monthly trend: months ascending, and their sum is all the revenue there is.
    let monthly = sql_file("monthly_revenue_trend.sql");
    assert!(monthly.len() >= 3);
    let total: f64 = monthly.iter().map(|r| num(r, "revenue")).sum();
    let all = query_json("SELECT SUM(revenue) AS r, COUNT(*) AS n FROM fact_sales");
    assert!((total - num(&all[0], "r")).abs() < 0.005);
    // CLV segments cover every customer who bought something.
    let clv = sql_file("customer_lifetime_value.sql");
    let customers: f64 = clv.iter().map(|r| num(r, "customers")).sum();
    let buyers = query_json("SELECT COUNT(DISTINCT customer_id) AS n FROM fact_sales");
    assert_eq!(customers, num(&buyers[0], "n"));
    let share: f64 = clv.iter().map(|r| num(r, "share_of_customers_pct")).sum();
    assert!((share - 100.0).abs() < 0.1, "{share}");
    // AOV by country: orders add up to the priced sales.
    let by_country = sql_file("average_order_value_by_country.sql");
    let orders: f64 = by_country.iter().map(|r| num(r, "orders")).sum();
    let priced = query_json("SELECT COUNT(revenue) AS n FROM fact_sales");
    assert_eq!(orders, num(&priced[0], "n"));
    // Best sellers: at most three per category, ranks 1.. in order.
    let best = sql_file("best_selling_products_by_category.sql");
    assert!(
        best.iter()
            .all(|r| (1.0..=3.0).contains(&num(r, "rank_in_category")))
    );
    // Funnel: each step is reached by no more sessions than the one before.
    let funnel = sql_file("conversion_funnel.sql");
    let steps: Vec<f64> = [
        "sessions",
        "product_view_sessions",
        "add_to_cart_sessions",
        "checkout_sessions",
        "purchase_sessions",
    ]
    .iter()
    .map(|c| num(&funnel[0], c))
    .collect();
    assert!(steps[0] > 0.0 && steps[4] > 0.0, "{steps:?}");
    assert!(steps.windows(2).all(|w| w[0] >= w[1]), "{steps:?}");
    let conversion = num(&funnel[0], "conversion_rate_pct");
    assert!(conversion > 0.0 && conversion < 100.0);
}

#[test]
fn the_report_matches_an_independent_reader_for_every_period() {
    let lake = demo_lake();
    let report: Value = serde_json::from_slice(
        &std::fs::read(lake.join(format!("reports/daily/date={END}/report.json"))).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("python3")
        .arg(workspace_root().join("tests/python/check_lake.py"))
        .args([lake.to_str().unwrap(), END])
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "pyarrow check failed (install it with `python3 -m pip install pyarrow`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let k = &facts["kpis"];
    let p = &report["periods"];
    assert_eq!(
        money_cents(&report["kpis"]["average_order_value"]),
        cents(k["average_order_value"].as_str().unwrap()),
        "AOV"
    );
    assert_eq!(
        money_cents(&p["week_to_date"]["current"]["revenue"]),
        cents(k["week_to_date_revenue"].as_str().unwrap()),
        "week to date"
    );
    assert_eq!(
        money_cents(&p["month_to_date"]["current"]["revenue"]),
        cents(k["month_to_date_revenue"].as_str().unwrap()),
        "month to date"
    );
    assert_eq!(report["kpis"], p["day"]["current"]);
    // Every gold table was read back by pyarrow.
    for t in [
        "dim_customer",
        "dim_product",
        "dim_date",
        "fact_sales",
        "agg_daily_sales",
        "agg_category_daily",
        "agg_product_daily",
        "funnel_daily",
        "customer_ltv",
    ] {
        assert!(
            facts["rows"][format!("gold/{t}")].as_u64().unwrap() > 0,
            "gold/{t}: {}",
            facts["rows"]
        );
    }
}

#[test]
fn the_report_is_written_as_json_csv_and_a_self_contained_dashboard() {
    let dir = demo_lake().join(format!("reports/daily/date={END}"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert_eq!(html.matches("data-chart=\"heatmap\"").count(), 1);
    let top = std::fs::read_to_string(dir.join("top_products.csv")).unwrap();
    assert!(
        top.starts_with("product_id,name,category,units,revenue\n"),
        "{top}"
    );
    assert_eq!(top.lines().count(), 11);
    let heat = std::fs::read_to_string(dir.join("heatmap.csv")).unwrap();
    assert_eq!(heat.lines().count(), 1 + 168);
    for f in [
        "kpis.csv",
        "revenue_trend.csv",
        "funnel.csv",
        "data_quality_rules.csv",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
}

#[test]
fn query_prints_tables_and_csv_and_names_the_tables_on_a_bad_query() {
    let lake = demo_lake().to_str().unwrap().to_string();
    let table = ok(&[
        "query",
        "--lake",
        &lake,
        "SELECT dt, revenue FROM agg_daily_sales ORDER BY dt DESC LIMIT 2",
    ]);
    assert!(table.contains("| dt "), "{table}");
    assert!(table.contains("(2 rows)"), "{table}");
    let csv = ok(&[
        "query",
        "--lake",
        &lake,
        "--format",
        "csv",
        "SELECT product_id, version FROM dim_product ORDER BY product_id LIMIT 3",
    ]);
    assert_eq!(csv.lines().next(), Some("product_id,version"));
    assert_eq!(csv.lines().count(), 4);
    let out = shopflow(&["query", "--lake", &lake, "SELECT * FROM nowhere"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fact_sales") && err.contains("transactions"),
        "{err}"
    );
}

#[test]
fn scd2_versions_match_the_changes_the_generator_recorded() {
    let lake = demo_lake();
    let generation: Value =
        serde_json::from_slice(&std::fs::read(lake.join("_demo/generation_report.json")).unwrap())
            .unwrap();
    let report: Value = serde_json::from_slice(
        &std::fs::read(lake.join(format!("reports/daily/date={END}/report.json"))).unwrap(),
    )
    .unwrap();
    // Every recorded price change (all within the last 14 days) is a new product version, and
    // the report lists exactly those, with the old and new prices.
    let changes = |v: &Value| -> Vec<(String, i64, i64)> {
        let mut out: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["product_id"].as_str().unwrap().to_string(),
                    money_cents(&c["old_price"]),
                    money_cents(&c["new_price"]),
                )
            })
            .collect();
        out.sort();
        out
    };
    let expected = changes(&generation["price_changes"]);
    assert!(expected.len() >= 2);
    assert_eq!(changes(&report["price_changes"]), expected);
    // Every recorded move is a second customer version, current, in the new country; sales
    // before the move keep the old country.
    for m in generation["customer_moves"].as_array().unwrap() {
        let id = m["customer_id"].as_str().unwrap();
        let versions = query_json(&format!(
            "SELECT version, country, is_current FROM dim_customer WHERE customer_id = '{id}' ORDER BY version"
        ));
        assert_eq!(versions.len(), 2, "{id}: {versions:?}");
        assert_eq!(versions[0]["country"], m["old_country"]);
        assert_eq!(versions[1]["country"], m["new_country"]);
        assert_eq!(versions[1]["is_current"], true);
        let at = m["updated_at"].as_str().unwrap();
        let wrong = query_json(&format!(
            "SELECT COUNT(*) AS n FROM fact_sales f JOIN dim_customer c ON c.customer_sk = f.customer_sk
             WHERE f.customer_id = '{id}'
               AND ((f.sold_at < TIMESTAMP '{at}' AND c.version <> 1)
                 OR (f.sold_at >= TIMESTAMP '{at}' AND c.version <> 2))"
        ));
        assert_eq!(num(&wrong[0], "n"), 0.0, "{id}");
    }
}
