//! Data shapes the generator never makes (`tests/fixtures/real_shapes`, written by hand): an
//! order export with several lines per order, a unit price and no amount, statuses in several
//! spellings and cases, an exact duplicate line and a later correction file; customers with
//! three-word names, a personal column the built-in contract lacks and secrets nested in
//! arrays and objects; a dataset the user adds (`returns`). The user's contracts
//! (`tests/fixtures/real_shapes/contracts`) give every meaning: the composite key, the order
//! key, what the statuses mean, the masks. An independent pyarrow reader
//! (`tests/python/check_real_shapes.py`) recomputes every figure from the fixture files and
//! compares it with the lake.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{manifests, ok, workspace_root};

/// The fixture's last day of sales: the report date.
const DAY: &str = "2026-03-04";

fn fixture() -> PathBuf {
    workspace_root().join("tests/fixtures/real_shapes")
}

/// Runs `shopflow --contracts <the fixture's contracts> ARGS`, which must succeed.
fn with_contracts(args: &[&str]) -> String {
    let contracts = fixture().join("contracts");
    let mut all = vec!["--contracts", contracts.to_str().unwrap()];
    all.extend_from_slice(args);
    ok(&all)
}

/// Copies the fixture's landing files into `dir`, as files a user drops.
fn drop_fixture(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(fixture().join("landing")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn an_export_with_several_lines_per_order_reaches_gold_and_the_report_with_every_meaning_its_contract_gives()
 {
    // In the scratch directory cargo gives integration tests, so that a failing run leaves the
    // lake to look at.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-shapes");
    if root.exists() {
        std::fs::remove_dir_all(&root).unwrap();
    }
    let drop = root.join("drop");
    drop_fixture(&drop);
    let lake = root.join("lake");
    let lake_s = lake.to_str().unwrap();
    let file = |name: &str| drop.join(name).to_str().unwrap().to_string();

    // The correction in a second command: it is ingested later, so its version of the line wins.
    for name in [
        "orders_export.csv",
        "orders_export_correction.csv",
        "customers.json",
        "products.csv",
        "returns.csv",
    ] {
        let out = with_contracts(&["ingest", "--lake", lake_s, &file(name)]);
        assert!(
            out.contains(name),
            "ingest of {name} does not name it:\n{out}"
        );
    }

    // Every fixture row is valid: nothing is quarantined, the one exact duplicate is removed.
    let ms = manifests(&lake);
    let by_file = |name: &str| -> &Value {
        ms.iter()
            .find(|m| {
                m["source_key"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{name}"))
            })
            .unwrap_or_else(|| panic!("no manifest for {name}"))
    };
    for (name, dataset, rows_in, duplicates) in [
        ("orders_export.csv", "transactions", 48, 1),
        ("orders_export_correction.csv", "transactions", 1, 0),
        ("customers.json", "customers", 8, 0),
        ("products.csv", "products", 10, 0),
        ("returns.csv", "returns", 5, 0),
    ] {
        let m = by_file(name);
        assert_eq!(m["dataset"], dataset, "{m}");
        assert_eq!(m["status"], "processed", "{m}");
        assert_eq!(m["rows_in"], rows_in, "{m}");
        assert_eq!(m["rows_quarantined"], 0, "{m}");
        assert_eq!(m["duplicates_removed"], duplicates, "{m}");
        assert_eq!(m["rows_silver"], rows_in - duplicates, "{m}");
    }

    // The build's SQL, printed before it runs (nothing is built), for DuckDB to run below.
    let plan = with_contracts(&["report", "--print-sql", "--lake", lake_s, "--date", DAY]);
    let parsed: Value = serde_json::from_str(&plan).unwrap_or_else(|e| panic!("{e}: {plan}"));
    assert_eq!(parsed["date"], DAY, "{plan}");
    assert!(!lake.join("gold").exists(), "--print-sql built something");
    let plan_file = root.join("gold-plan.json");
    std::fs::write(&plan_file, &plan).unwrap();

    let report = with_contracts(&["report", "--lake", lake_s, "--date", DAY]);
    assert!(
        report.contains(&format!("daily report for {DAY}")),
        "{report}"
    );

    // The user-added dataset is a table for analysts too.
    let out = with_contracts(&[
        "query",
        "--lake",
        lake_s,
        "--format",
        "json",
        "SELECT COUNT(*) AS n FROM returns",
    ]);
    let rows: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let n = match &rows[0]["n"] {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("COUNT(*) is not a number: {other} in {out}"),
    };
    assert_eq!(n, 5, "{out}");

    // Another engine runs the same SQL on the same silver and gets the same gold, table by table.
    let script = workspace_root().join("tests/python/check_gold_sql.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&lake)
        .arg(&plan_file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): install Python 3, duckdb and deltalake \
                 (`python3 -m pip install -r tests/python/requirements.txt`; the README's test command does)"
            )
        });
    assert!(
        out.status.success(),
        "DuckDB running the printed gold SQL disagrees with {} (exit {:?}; if duckdb is missing, \
         install it with `python3 -m pip install -r tests/python/requirements.txt`, the README's \
         test command does):\n{}\n{}",
        lake.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let compared = String::from_utf8_lossy(&out.stdout);
    assert_eq!(compared.matches("ok   ").count(), 9, "{compared}");

    // Every figure recomputed from the fixture files by an independent reader.
    let script = workspace_root().join("tests/python/check_real_shapes.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&lake)
        .arg(fixture())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): install Python 3 and pyarrow \
                 (`python3 -m pip install pyarrow`; the README's test command does)"
            )
        });
    assert!(
        out.status.success(),
        "the pyarrow check of {} failed (exit {:?}; if pyarrow is missing, install it with \
         `python3 -m pip install pyarrow`, the README's test command does):\n{}\n{}",
        lake.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
