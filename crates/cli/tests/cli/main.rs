//! End-to-end tests of the `shopflow` binary, as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod analytics;
mod hostile;
mod real_shapes;
mod workflow;

fn shopflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopflow"))
        .args(args)
        .env_remove("SHOPFLOW_CONTRACTS")
        .output()
        .expect("running shopflow")
}

fn ok(args: &[&str]) -> String {
    let out = shopflow(args);
    assert!(
        out.status.success(),
        "shopflow {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() == ".tmp" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn manifests(lake: &Path) -> Vec<serde_json::Value> {
    snapshot(&lake.join("manifests"))
        .into_values()
        .map(|b| serde_json::from_slice(&b).unwrap())
        .collect()
}

fn cents(text: &str) -> i64 {
    let (i, f) = text.split_once('.').unwrap_or((text, "0"));
    let f = format!("{f:0<2}");
    i.parse::<i64>().unwrap() * 100 + f[..2].parse::<i64>().unwrap()
}

fn money_cents(v: &serde_json::Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

#[test]
fn demo_builds_every_layer_and_the_report_matches_an_independent_reader() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let stdout = ok(&[
        "demo",
        "--lake",
        lake_s,
        "--end-date",
        "2026-03-31",
        "--seed",
        "7",
    ]);
    for expected in [
        "lake layers:",
        "data quality",
        "transactions.quantity.positive",
        "daily report for 2026-03-31",
        "report:",
    ] {
        assert!(
            stdout.contains(expected),
            "summary lacks {expected:?}:\n{stdout}"
        );
    }
    let report_path = lake.join("reports/daily/date=2026-03-31/report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();

    // Reconciliation on the demo data.
    // One manifest per landing file: the four datasets plus the generator's price changes
    // (`products_updates.json`) and customer moves (`customers_updates.csv`).
    let ms = manifests(&lake);
    assert_eq!(ms.len(), 6);
    for m in &ms {
        let n = |k: &str| m[k].as_u64().unwrap();
        assert_eq!(
            n("rows_in"),
            n("rows_silver") + n("rows_quarantined") + n("duplicates_removed"),
            "{m}"
        );
    }

    // Read the lake with pyarrow and recompute the KPIs independently.
    let out = Command::new("python3")
        .arg(workspace_root().join("tests/python/check_lake.py"))
        .args([lake_s, "2026-03-31"])
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "pyarrow check failed (install it with `python3 -m pip install pyarrow`, the README's test command does):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Rows per dataset: the sum over its files' manifests.
    let mut per_dataset: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for m in &ms {
        let counts = per_dataset
            .entry(m["dataset"].as_str().unwrap().to_string())
            .or_default();
        for (i, k) in ["rows_silver", "rows_in", "rows_quarantined"]
            .iter()
            .enumerate()
        {
            counts[i] += m[k].as_u64().unwrap();
        }
    }
    assert_eq!(per_dataset.len(), 4);
    // Silver holds one row per key (per key and version for snapshots): a file's rows that
    // replaced another's, or that a newer version superseded, are not new rows.
    let mut silver_rows: BTreeMap<String, u64> = BTreeMap::new();
    for m in &ms {
        let n = |k: &str| m[k].as_u64().unwrap();
        *silver_rows
            .entry(m["dataset"].as_str().unwrap().to_string())
            .or_default() +=
            n("rows_silver") - n("rows_replaced") - n("rows_superseded") - n("rows_retracted");
    }
    for (ds, [_, bronze, quarantine]) in &per_dataset {
        let silver = &silver_rows[ds];
        assert_eq!(
            facts["rows"][format!("silver/{ds}")].as_u64().unwrap(),
            *silver,
            "{ds}"
        );
        assert_eq!(
            facts["rows"][format!("bronze/{ds}")].as_u64().unwrap(),
            *bronze,
            "{ds}"
        );
        assert_eq!(
            facts["rows"][format!("quarantine/{ds}")].as_u64().unwrap(),
            *quarantine,
            "{ds}"
        );
    }
    let k = &report["kpis"];
    assert_eq!(
        money_cents(&k["revenue"]),
        cents(facts["kpis"]["revenue"].as_str().unwrap()),
        "revenue to the cent"
    );
    assert_eq!(k["transactions"], facts["kpis"]["transactions"]);
    assert_eq!(k["unique_customers"], facts["kpis"]["unique_customers"]);
    assert_eq!(k["units"], facts["kpis"]["units"]);
    let top: Vec<(String, i64)> = report["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["product_id"].as_str().unwrap().to_string(),
                money_cents(&p["revenue"]),
            )
        })
        .collect();
    let expected_top: Vec<(String, i64)> = facts["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                cents(p[1].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(top, expected_top);
    for c in report["sales_by_category"].as_array().unwrap() {
        let name = c["category"].as_str().unwrap();
        assert_eq!(
            money_cents(&c["revenue"]),
            cents(facts["sales_by_category"][name].as_str().unwrap()),
            "{name}"
        );
    }
    let dq = &report["data_quality"];
    assert!(
        dq["rows_rejected"].as_u64().unwrap() > 0,
        "the demo injects defects: {dq}"
    );

    // Every table is a Delta table the Python `deltalake` package reads: protocol 1/2 (no
    // table feature a reader must know), with the columns the docs state.
    for (table, protocol) in facts["protocol"].as_object().unwrap() {
        assert_eq!(protocol, &serde_json::json!([1, 2]), "{table}");
    }
    let columns = |t: &str| -> Vec<String> {
        facts["columns"][t]
            .as_array()
            .unwrap_or_else(|| panic!("{t}: {}", facts["columns"]))
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    let tx = columns("silver/transactions");
    for c in ["transaction_id", "amount", "_source_key", "_sequence", "dt"] {
        assert!(
            tx.contains(&c.to_string()),
            "silver/transactions lacks {c}: {tx:?}"
        );
    }
    let fact = columns("gold/fact_sales");
    assert!(
        fact.contains(&"order_key".to_string()) && fact.contains(&"dt".to_string()),
        "{fact:?}"
    );

    // The demo again on the same lake: the same files are skipped; bronze, silver and
    // quarantine are unchanged, gold commits its rebuilt days again.
    let before = snapshot(&lake);
    let stdout = ok(&[
        "demo",
        "--lake",
        lake_s,
        "--end-date",
        "2026-03-31",
        "--seed",
        "7",
    ]);
    assert!(stdout.contains("skipped (already processed)"), "{stdout}");
    let after = snapshot(&lake);
    let changed: Vec<_> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed
            .iter()
            .all(|k| k.starts_with("reports/") || k.starts_with("gold/")),
        "{changed:?}"
    );
}

#[test]
fn ingesting_the_same_file_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let input = dir.path().join("transactions_2024-01-02.csv");
    std::fs::write(&input, "transaction_id,customer_id,product_id,quantity,amount,transaction_date\nT001,C123,P456,2,199.98,2024-03-15 10:30:00\nT002,C124,P457,0,99.99,2024-03-15 11:45:00\n").unwrap();
    let args = [
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let first = ok(&args);
    assert!(first.contains("processed"), "{first}");
    let before = snapshot(&lake);
    let second = ok(&args);
    assert!(second.contains("skipped (already processed)"), "{second}");
    assert_eq!(snapshot(&lake), before);
}

#[test]
fn validate_reports_rules_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("customers.csv");
    std::fs::write(
        &input,
        "customer_id,name,email\nC1,Ann,ann@example.com\nC2,Bob,bob@\n",
    )
    .unwrap();
    let stdout = ok(&[
        "validate",
        "--contract",
        "customers",
        input.to_str().unwrap(),
    ]);
    assert!(stdout.contains("customers.email.pattern"), "{stdout}");
    assert!(stdout.contains("2 in, 1 valid, 1 rejected"), "{stdout}");
    let strict = shopflow(&[
        "validate",
        "--strict",
        "--contract",
        "customers",
        input.to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );
}

#[test]
fn failures_exit_non_zero_with_one_line_reason() {
    let out = shopflow(&["validate", "--contract", "returns", "/nonexistent.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no contract for dataset \"returns\""), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let out = shopflow(&[
        "ingest",
        "--lake",
        dir.path().to_str().unwrap(),
        "/nonexistent/file.csv",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    let out = shopflow(&["demo", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn generate_is_deterministic_with_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for out in [&a, &b] {
        ok(&[
            "generate",
            "--out",
            out.to_str().unwrap(),
            "--transactions",
            "500",
            "--seed",
            "3",
            "--end-date",
            "2026-01-31",
        ]);
    }
    assert_eq!(snapshot(&a), snapshot(&b));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("generation_report.json")).unwrap()).unwrap();
    assert_eq!(report["config"]["seed"], 3);
}

#[test]
fn the_glue_catalog_terraform_reads_is_the_one_the_contracts_derive() {
    let committed_path = workspace_root().join("infrastructure/modules/catalog/tables.json");
    let committed = std::fs::read_to_string(&committed_path).unwrap();
    let derived = ok(&["catalog"]);
    assert!(
        committed == derived,
        "{} is stale: a contract or the gold SQL changed. Regenerate it with\n  \
         cargo run -p shopflow -- catalog --out infrastructure/modules/catalog/tables.json",
        committed_path.display()
    );
    let catalog: serde_json::Value = serde_json::from_str(&derived).unwrap();
    // Every contract column, in Glue types, and the lineage columns.
    let columns = |table: &str| -> Vec<(String, String)> {
        catalog["tables"][table]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().to_string(),
                    c[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let tx = columns("transactions");
    assert!(tx.contains(&("amount".into(), "decimal(18,2)".into())));
    assert!(tx.contains(&("_ingested_at".into(), "timestamp".into())));
    assert!(!tx.iter().any(|(n, _)| n == "card_number"));
}

#[test]
fn a_dataset_added_with_contracts_gets_a_glue_table() {
    let contracts = workspace_root().join("tests/fixtures/real_shapes/contracts");
    let derived = ok(&["--contracts", contracts.to_str().unwrap(), "catalog"]);
    let catalog: serde_json::Value = serde_json::from_str(&derived).unwrap();
    let returns = &catalog["tables"]["returns"];
    assert_eq!(returns["layer"], "silver");
    assert!(
        returns["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c[0] == "return_id"),
        "{returns}"
    );
    // The user's composite key and masked pii column reach the gold tables' columns.
    let fact: Vec<&str> = catalog["tables"]["fact_sales"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_str().unwrap())
        .collect();
    assert!(
        fact.contains(&"line_number") && fact.contains(&"buyer_email_masked"),
        "{fact:?}"
    );
    assert!(
        !fact.contains(&"buyer_email") && !fact.contains(&"shipping_phone"),
        "{fact:?}"
    );
}

/// Eight `shopflow ingest` processes at once on one lake, each with its own file of the same
/// dataset: every commit lands (the local log store creates each commit file atomically and a
/// loser retries), every row is in silver once. Then `shopflow maintain` compacts the table and
/// `shopflow query --as-of` reads the state before a correction.
#[test]
fn concurrent_ingest_processes_maintenance_and_time_travel_on_one_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let header = "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n";
    for w in 0..8 {
        let file = dir.path().join(format!("transactions_part{w}.csv"));
        let mut body = header.to_string();
        for i in 0..10 {
            body.push_str(&format!("W{w}-{i},C1,P1,1,2.50,2026-11-20T10:00:00Z\n"));
        }
        std::fs::write(&file, body).unwrap();
    }
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let lake = lake.clone();
            let file = dir.path().join(format!("transactions_part{w}.csv"));
            std::thread::spawn(move || {
                Command::new(env!("CARGO_BIN_EXE_shopflow"))
                    .args(["ingest", "--lake"])
                    .arg(&lake)
                    .arg(&file)
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = |extra: &[&str]| -> String {
        let mut args = vec!["query", "--lake", lake_s, "--format", "csv"];
        args.extend_from_slice(extra);
        args.push("SELECT COUNT(*) AS n, COUNT(DISTINCT transaction_id) AS d FROM transactions");
        ok(&args)
    };
    assert_eq!(count(&[]).trim(), "n,d\n80,80");

    let tables = format!("{lake_s}/silver/transactions");
    let data_files = || {
        std::fs::read_dir(format!("{tables}/dt=2026-11-20"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert!(
        data_files() >= 8,
        "one file per ingestion before compaction"
    );
    let refused = shopflow(&["maintain", "--lake", lake_s, "--retention-hours", "0"]);
    assert!(
        !refused.status.success(),
        "a retention below 7 days needs --force"
    );
    let out = ok(&[
        "maintain",
        "--lake",
        lake_s,
        "--dataset",
        "transactions",
        "--retention-hours",
        "0",
        "--force",
        "--json",
    ]);
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    let silver = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == "silver/transactions")
        .unwrap();
    assert_eq!(silver["files_after"], 1, "{silver}");
    assert_eq!(data_files(), 1, "VACUUM deleted the compacted files");
    assert_eq!(count(&[]).trim(), "n,d\n80,80", "the same rows");

    // A correction of one file, then the state before it.
    let version: u64 = std::fs::read_dir(format!("{tables}/_delta_log"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json")
                .and_then(|n| n.parse::<u64>().ok())
        })
        .max()
        .unwrap();
    let file = dir.path().join("transactions_part0.csv");
    std::fs::write(
        &file,
        format!("{header}W0-0,C1,P1,1,2.50,2026-11-20T10:00:00Z\n"),
    )
    .unwrap();
    ok(&["ingest", "--lake", lake_s, file.to_str().unwrap()]);
    assert_eq!(
        count(&[]).trim(),
        "n,d\n71,71",
        "the corrected file keeps one of its 10 rows"
    );
    assert_eq!(
        count(&["--as-of", &version.to_string()]).trim(),
        "n,d\n80,80",
        "--as-of reads the table before the correction"
    );
}

#[test]
fn the_merge_bounds_given_on_the_command_line_commit_a_file_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut body =
        String::from("transaction_id,customer_id,product_id,quantity,amount,transaction_date\n");
    for i in 0..30 {
        body.push_str(&format!(
            "T{i:03},C1,P1,1,9.99,2024-03-{:02} 10:30:00\n",
            10 + i % 4
        ));
    }
    let input = dir.path().join("transactions_2024-03-16.csv");
    std::fs::write(&input, &body).unwrap();
    let silver_commits = |lake: &Path| {
        std::fs::read_dir(lake.join("silver/transactions/_delta_log"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.ends_with(".json").then_some(name)
            })
            .count()
    };
    let rows = |lake: &Path| {
        ok(&[
            "query",
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "csv",
            "SELECT count(*) AS n, count(DISTINCT dt) AS days FROM transactions",
        ])
    };

    // An earlier file already holds T000, so the file updates a key and is MERGEd (a file of
    // keys the table lacks is one append commit whatever the bounds, ADR 0015).
    let earlier = dir.path().join("transactions_2024-03-15.csv");
    std::fs::write(
        &earlier,
        "transaction_id,customer_id,product_id,quantity,amount,transaction_date\n\
         T000,C1,P1,1,1.00,2024-03-10 10:30:00\n",
    )
    .unwrap();
    let ingest = |lake: &Path, options: &[&str]| {
        for file in [&earlier, &input] {
            let mut args = vec!["ingest", "--lake", lake.to_str().unwrap()];
            args.extend_from_slice(options);
            args.push(file.to_str().unwrap());
            ok(&args);
        }
    };

    let default = dir.path().join("default");
    ingest(&default, &[]);
    assert_eq!(
        silver_commits(&default),
        3,
        "the table's creation, the earlier file's append and one MERGE"
    );

    let bounded = dir.path().join("bounded");
    ingest(
        &bounded,
        &[
            "--merge-max-days",
            "2",
            "--merge-max-rows",
            "8",
            "--key-memory-entries",
            "4",
        ],
    );
    // 4 days of 7 or 8 rows: chunks of at most 2 days and 8 rows are one day each.
    assert_eq!(silver_commits(&bounded), 2 + 4);
    assert_eq!(rows(&bounded), rows(&default));
    assert!(rows(&bounded).contains("30,4"), "{}", rows(&bounded));

    // The file alone appends: one commit, written one event day at a time.
    let windows = dir.path().join("windows");
    ok(&[
        "ingest",
        "--lake",
        windows.to_str().unwrap(),
        "--append-window-days",
        "1",
        input.to_str().unwrap(),
    ]);
    assert_eq!(
        silver_commits(&windows),
        2,
        "the table's creation and one append"
    );
    assert_eq!(rows(&windows), rows(&default));
}
