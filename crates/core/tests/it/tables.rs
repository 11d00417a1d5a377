//! The lake's Delta tables through the whole ingestion: exactly once on the contract's key
//! across files, re-drops and replays as table operations, concurrent writers, compaction and
//! time travel.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::NaiveDate;
use shopflow_core::adapters::local::FsObjectStore;
use shopflow_core::contract::ContractSet;
use shopflow_core::gold::{self, GoldOptions};
use shopflow_core::ingest::Ingestor;
use shopflow_core::ports::{ObjectStore, SilverWrite, StoreError};
use shopflow_core::sql::Engine;
use shopflow_core::tables::chunks::CommitBounds;
use shopflow_core::tables::{AsOf, DeltaLake, TableOptions};

use crate::support::*;

const HEADER: &str =
    "transaction_id,customer_id,product_id,quantity,unit_price,status,transaction_date\n";

/// An order-lines contract of the shape real exports have: a composite key, several lines per
/// order, a version column.
const LINES: &str = r#"
dataset = "lines"
version = 1
primary_key = ["order_id", "line_number"]
order_key = ["order_id"]
event_time = "transaction_date"
version_column = "updated_at"

[[columns]]
name = "order_id"
type = "string"
required = true

[[columns]]
name = "line_number"
type = "integer"
required = true

[[columns]]
name = "sku"
type = "string"

[[columns]]
name = "amount"
type = "decimal"
scale = 2

[[columns]]
name = "updated_at"
type = "timestamp"
formats = ["rfc3339"]

[[columns]]
name = "transaction_date"
type = "timestamp"
required = true
formats = ["rfc3339"]
"#;

struct Lake {
    _dir: tempfile::TempDir,
    store: Arc<FsObjectStore>,
    tables: DeltaLake,
    ingestor: Ingestor,
}

fn lake_with(contracts: ContractSet) -> Lake {
    lake_with_options(contracts, TableOptions::default())
}

fn lake_with_options(contracts: ContractSet, options: TableOptions) -> Lake {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let tables = DeltaLake::with_options(store.clone(), options);
    let ingestor = lake_ingestor(dir.path(), store.clone(), &tables, contracts);
    Lake {
        _dir: dir,
        store,
        tables,
        ingestor,
    }
}

fn lines_contracts() -> ContractSet {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lines.toml"), LINES).unwrap();
    ContractSet::load_dir(dir.path()).unwrap()
}

fn lines_lake() -> Lake {
    lake_with(lines_contracts())
}

impl Lake {
    async fn drop_file(
        &self,
        dataset: &str,
        name: &str,
        body: &str,
    ) -> shopflow_core::ingest::Manifest {
        let key = format!("landing/{dataset}/{name}");
        self.store
            .put(&key, body.as_bytes().to_vec())
            .await
            .unwrap();
        processed(self.ingestor.ingest_object(&key, "run").await.unwrap())
    }

    /// `(key columns…, value column)` of every silver row, sorted.
    async fn silver(&self, dataset: &str, columns: &[&str]) -> Vec<Vec<String>> {
        let batches = self
            .tables
            .read(&format!("silver/{dataset}"), None, None)
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in &batches {
            for i in 0..b.num_rows() {
                out.push(columns.iter().map(|c| cell(b, c, i)).collect());
            }
        }
        out.sort();
        out
    }

    /// An SQL engine holding the gold tables of `day`, built from silver as it is now.
    async fn gold(&self, day: NaiveDate) -> Engine {
        let engine = Engine::new();
        let contracts = self.ingestor.contracts();
        gold::build(
            &self.tables,
            &engine,
            contracts,
            day,
            GoldOptions::default(),
        )
        .await
        .unwrap();
        engine
    }
}

fn cell(b: &RecordBatch, column: &str, i: usize) -> String {
    let c = b
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let text = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap();
    let text = text.as_string::<i32>();
    if text.is_valid(i) {
        text.value(i).to_string()
    } else {
        "∅".into()
    }
}

fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn the_same_composite_key_in_two_files_is_one_silver_row_and_the_later_file_wins() {
    let lake = lines_lake();
    let a = "order_id,line_number,sku,amount,transaction_date\n\
             O1,1,A,10.00,2026-01-05T10:00:00Z\nO1,2,B,5.00,2026-01-05T10:00:00Z\nO2,1,A,7.00,2026-01-05T11:00:00Z\n";
    let b = "order_id,line_number,sku,amount,transaction_date\n\
             O1,2,B,6.00,2026-01-05T10:00:00Z\nO3,1,C,1.00,2026-01-06T09:00:00Z\n";
    let ma = lake.drop_file("lines", "a.csv", a).await;
    let mb = lake.drop_file("lines", "b.csv", b).await;
    assert_eq!((ma.rows_silver, ma.rows_replaced), (3, 0));
    assert_eq!(
        (mb.rows_silver, mb.rows_replaced, mb.rows_superseded),
        (2, 1, 0)
    );
    assert!(mb.reconciles());
    assert_eq!(
        lake.silver(
            "lines",
            &["order_id", "line_number", "amount", "_source_key"]
        )
        .await,
        rows(&[
            &["O1", "1", "10.00", "landing/lines/a.csv"],
            &["O1", "2", "6.00", "landing/lines/b.csv"],
            &["O2", "1", "7.00", "landing/lines/a.csv"],
            &["O3", "1", "1.00", "landing/lines/b.csv"],
        ])
    );
}

#[tokio::test]
async fn a_file_over_the_commit_bounds_merges_in_chunks_to_the_same_table_as_one_commit() {
    // Tiny bounds: two days or three rows per MERGE. The same drops go to a lake with the
    // default bounds (one MERGE per file); the tables must end identical.
    let chunked = lake_with_options(
        lines_contracts(),
        TableOptions {
            commit_bounds: CommitBounds {
                max_partitions: 2,
                max_rows: 3,
            },
            ..TableOptions::default()
        },
    );
    let whole = lines_lake();
    let header = "order_id,line_number,sku,amount,transaction_date\n";
    // Seven days, several lines per order, one day (the 5th) larger than a chunk.
    let mut v1 = header.to_string();
    for (order, day, lines) in [
        ("O1", 1, 2),
        ("O2", 2, 1),
        ("O3", 3, 3),
        ("O4", 4, 1),
        ("O5", 5, 4),
        ("O6", 5, 3),
        ("O7", 6, 1),
        ("O8", 7, 2),
    ] {
        for l in 1..=lines {
            v1.push_str(&format!(
                "{order},{l},S{l},{l}.00,2026-01-{day:02}T10:00:00Z\n"
            ));
        }
    }
    // Another file corrects O3's lines to another day (the rows move partitions) and adds O9.
    let moved = format!(
        "{header}O3,1,S1,1.50,2026-01-09T10:00:00Z\nO3,2,S2,2.50,2026-01-09T10:00:00Z\nO9,1,S1,9.00,2026-01-08T10:00:00Z\n"
    );
    // The corrected export drops O5 and O8 and changes O1's amounts.
    let v2: String = v1
        .lines()
        .filter(|l| !l.starts_with("O5,") && !l.starts_with("O8,"))
        .map(|l| format!("{}\n", l.replace("O1,1,S1,1.00", "O1,1,S1,11.00")))
        .collect();
    let columns = ["order_id", "line_number", "amount", "dt", "_source_key"];
    let mut manifests = Vec::new();
    let mut after_fix = Vec::new();
    for lake in [&chunked, &whole] {
        let a = lake.drop_file("lines", "export.csv", &v1).await;
        let b = lake.drop_file("lines", "fix.csv", &moved).await;
        after_fix.push(lake.silver("lines", &columns).await);
        let c = lake.drop_file("lines", "export.csv", &v2).await;
        for m in [&a, &b, &c] {
            assert!(m.reconciles(), "{m:?}");
        }
        manifests.push([a, b, c].map(|m| {
            (
                m.rows_silver,
                m.rows_replaced,
                m.rows_superseded,
                m.rows_retracted,
            )
        }));
    }
    assert_eq!(
        manifests[0], manifests[1],
        "the same counts, chunked or not"
    );
    assert_eq!(
        manifests[0],
        [(17, 0, 0, 0), (3, 2, 0, 0), (11, 11, 0, 6)],
        "v2 (11 rows) replaces every key it has; O5's 4 lines and O8's 2 are retracted"
    );
    assert_eq!(after_fix[0], after_fix[1]);
    let o3 = |t: &[Vec<String>]| -> Vec<String> {
        t.iter()
            .filter(|r| r[0] == "O3")
            .map(|r| format!("{}@{}", r[1], r[3]))
            .collect()
    };
    assert_eq!(
        o3(&after_fix[0]),
        ["1@2026-01-09", "2@2026-01-09", "3@2026-01-03"],
        "the corrected lines moved day, once each"
    );
    let table = chunked.silver("lines", &columns).await;
    assert_eq!(table, whole.silver("lines", &columns).await);
    assert_eq!(
        o3(&table),
        ["1@2026-01-03", "2@2026-01-03", "3@2026-01-03"],
        "the later landing (the re-drop) wins and moves them back"
    );
    assert_eq!(table.len(), 12, "{table:?}");
    assert!(!table.iter().any(|r| r[0] == "O5" || r[0] == "O8"));
    // The chunked lake took many commits, the other one per file.
    let mut versions = Vec::new();
    for lake in [&chunked, &whole] {
        let t = lake.tables.load("silver/lines").await.unwrap().unwrap();
        versions.push(t.version().unwrap_or(0));
    }
    assert!(versions[0] > versions[1] + 3, "{versions:?}");
}

#[tokio::test]
async fn the_greater_version_column_wins_whatever_the_arrival_order() {
    let lake = lines_lake();
    let newer = "order_id,line_number,amount,updated_at,transaction_date\n\
                 O1,1,12.00,2026-01-07T00:00:00Z,2026-01-05T10:00:00Z\n";
    let older = "order_id,line_number,amount,updated_at,transaction_date\n\
                 O1,1,10.00,2026-01-06T00:00:00Z,2026-01-05T10:00:00Z\n";
    lake.drop_file("lines", "newer.csv", newer).await;
    let m = lake.drop_file("lines", "older.csv", older).await;
    assert_eq!(
        (m.rows_silver, m.rows_replaced, m.rows_superseded),
        (1, 0, 1)
    );
    assert_eq!(
        lake.silver("lines", &["order_id", "amount"]).await,
        rows(&[&["O1", "12.00"]])
    );
}

#[tokio::test]
async fn a_changed_redrop_leaves_only_the_new_versions_rows_in_silver_and_gold() {
    let lake = lake_with(ContractSet::defaults().unwrap());
    let v1 = format!(
        "{HEADER}T1,C1,P1,2,10.00,completed,2026-01-05T10:00:00Z\nT2,C1,P2,1,5.00,completed,2026-01-05T10:00:00Z\nT3,C2,P1,1,10.00,completed,2026-01-05T11:00:00Z\n"
    );
    // The corrected file drops T2 and changes T3's quantity.
    let v2 = format!(
        "{HEADER}T1,C1,P1,2,10.00,completed,2026-01-05T10:00:00Z\nT3,C2,P1,3,10.00,completed,2026-01-05T11:00:00Z\n"
    );
    lake.drop_file("transactions", "sales.csv", &v1).await;
    let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let revenue = |engine: Engine| async move {
        let r = engine
            .query(
                "revenue",
                "SELECT CAST(SUM(revenue) AS DOUBLE) AS r, COUNT(*) AS n FROM fact_sales",
            )
            .await
            .unwrap()
            .concat()
            .unwrap();
        (cell(&r, "r", 0), cell(&r, "n", 0))
    };
    let engine = lake.gold(day).await;
    assert_eq!(revenue(engine).await, ("35.0".to_string(), "3".to_string()));

    let m = lake.drop_file("transactions", "sales.csv", &v2).await;
    assert_eq!(
        (m.rows_silver, m.rows_replaced, m.rows_retracted),
        (2, 2, 1)
    );
    assert_eq!(
        lake.silver("transactions", &["transaction_id", "quantity"])
            .await,
        rows(&[&["T1", "2"], &["T3", "3"]]),
        "T2 is gone, T3 is the new version"
    );
    let engine = lake.gold(day).await;
    assert_eq!(
        revenue(engine).await,
        ("50.0".to_string(), "2".to_string()),
        "gold follows the current data: 2×10 + 3×10"
    );
}

#[tokio::test]
async fn eight_concurrent_writers_on_one_table_each_commit_exactly_once() {
    let lake = lines_lake();
    let contract = lake.ingestor.contracts().get("lines").unwrap().clone();
    let contract = Arc::new(contract);
    let staging = tempfile::tempdir().unwrap();
    let mut handles = Vec::new();
    for w in 0..8 {
        // Each writer stages its own file of 25 distinct keys, as one transformer run does.
        let path = staging.path().join(format!("w{w}.parquet"));
        // A lake handle of its own per writer: no state is shared but the store.
        let tables = DeltaLake::new(lake.store.clone());
        let contract = contract.clone();
        handles.push(tokio::spawn(async move {
            commit_lines_part(&tables, &contract, path, w, "concurrent").await
        }));
    }
    let mut attempts = 0;
    for h in handles {
        let commit = h.await.unwrap();
        assert_eq!(commit.rows_inserted, 25);
        attempts += commit.attempts;
    }
    let silver = lake.silver("lines", &["order_id", "line_number"]).await;
    assert_eq!(silver.len(), 200, "every row exactly once");
    let distinct: BTreeSet<_> = silver.iter().collect();
    assert_eq!(distinct.len(), 200);
    let log = lake.store.list("silver/lines/_delta_log/").await.unwrap();
    let commits = log.iter().filter(|o| o.key.ends_with(".json")).count();
    assert_eq!(
        commits,
        1 + 8,
        "the table's creation and one commit per writer"
    );
    eprintln!("8 writers: {attempts} attempts in all");
}

#[tokio::test]
async fn six_writers_appending_the_same_new_keys_at_once_leave_each_key_once_and_the_newest_wins() {
    // Every writer finds the table without any of its keys, so each takes the append path;
    // only the read predicate of the append's commit (its days and key range) stops a second
    // append of the same keys. Each writer stages the same 25 order lines under its own
    // landing key and sequence, and its store holds its first table commit until all six have
    // written their files and reached theirs: the race happens on every run.
    let lake = lines_lake();
    let contract = Arc::new(lake.ingestor.contracts().get("lines").unwrap().clone());
    let staging = tempfile::tempdir().unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(6));
    let mut handles = Vec::new();
    for w in 0..6 {
        let path = staging.path().join(format!("w{w}.parquet"));
        let store = watched_lines_log(lake.store.clone(), Some(barrier.clone()));
        let tables = DeltaLake::new(store);
        let contract = contract.clone();
        handles.push(tokio::spawn(async move {
            write_lines_part_of(&path, w, 0, 25);
            stage_commit(&tables, &contract, path, w, "race").await
        }));
    }
    let mut attempts = 0;
    let mut appended = 0;
    for h in handles {
        let c = h.await.unwrap();
        attempts += c.attempts;
        appended += usize::from(c.rows_inserted == 25);
        assert_eq!(
            c.rows_inserted + c.rows_replaced + c.rows_superseded,
            25,
            "{c:?}"
        );
    }
    let silver = lake
        .silver("lines", &["order_id", "line_number", "_source_key"])
        .await;
    assert_eq!(silver.len(), 25, "each key once: {silver:?}");
    assert!(
        silver.iter().all(|r| r[2] == "landing/lines/w5.csv"),
        "the greatest sequence wins: {silver:?}"
    );
    assert_eq!(
        appended, 1,
        "one append lands, the other five find its keys"
    );
    assert!(
        attempts >= 6 + 5,
        "the five others conflicted: {attempts} attempts"
    );
}

#[tokio::test]
async fn a_file_of_new_keys_over_many_days_is_one_commit_written_in_windows_of_days() {
    // A window of two event days: seven days are written in four windows, and committed once.
    let windowed = lake_with_options(
        lines_contracts(),
        TableOptions {
            append_window_days: 2,
            ..TableOptions::default()
        },
    );
    let header = "order_id,line_number,sku,amount,transaction_date\n";
    let mut body = header.to_string();
    for order in 1..=20 {
        let day = order % 7 + 1;
        for l in 1..=(order % 3 + 1) {
            body.push_str(&format!(
                "O{order},{l},S{l},{l}.{order:02},2026-01-{day:02}T10:00:00Z\n"
            ));
        }
    }
    let m = windowed.drop_file("lines", "export.csv", &body).await;
    assert!(m.reconciles(), "{m:?}");
    assert_eq!(m.rows_silver, 41);
    let t = windowed.tables.load("silver/lines").await.unwrap().unwrap();
    assert_eq!(
        t.version(),
        Some(1),
        "the table's creation, then one commit"
    );
    let log = windowed
        .store
        .get("silver/lines/_delta_log/00000000000000000001.json")
        .await
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.contains(r#""operation":"WRITE""#), "{log}");
    let adds = log.lines().filter(|l| l.starts_with(r#"{"add""#)).count();
    assert_eq!(adds, 7, "one file per day: {log}");
    let days: BTreeSet<String> = windowed
        .silver("lines", &["dt"])
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(days.len(), 7);
    // A second file with one key already in the table goes through the MERGE: the table ends
    // as a lake that only ever MERGEd would (the new line inserted, the known one replaced).
    let fix =
        format!("{header}O1,1,S1,9.99,2026-01-02T10:00:00Z\nO21,1,S1,1.00,2026-01-05T10:00:00Z\n");
    let m = windowed.drop_file("lines", "fix.csv", &fix).await;
    assert_eq!((m.rows_silver, m.rows_replaced), (2, 1), "{m:?}");
    let log = windowed
        .store
        .get("silver/lines/_delta_log/00000000000000000002.json")
        .await
        .unwrap();
    assert!(
        String::from_utf8(log)
            .unwrap()
            .contains(r#""operation":"MERGE""#)
    );
    let silver = windowed
        .silver("lines", &["order_id", "line_number", "amount"])
        .await;
    assert_eq!(silver.len(), 42);
    assert!(silver.contains(&vec!["O1".into(), "1".into(), "9.99".into()]));
}

/// Stages 25 lines of writer `w` at `path` and commits them to `silver/lines` through
/// `tables`, as one transformer run of `landing/lines/w{w}.csv` does.
async fn commit_lines_part(
    tables: &DeltaLake,
    contract: &shopflow_core::contract::Contract,
    path: std::path::PathBuf,
    w: usize,
    run_id: &str,
) -> shopflow_core::ports::SilverCommit {
    write_lines_part(&path, w, 25);
    stage_commit(tables, contract, path, w, run_id).await
}

/// Commits the staged file at `path` to `silver/lines` as writer `w`'s landing object.
async fn stage_commit(
    tables: &DeltaLake,
    contract: &shopflow_core::contract::Contract,
    path: std::path::PathBuf,
    w: usize,
    run_id: &str,
) -> shopflow_core::ports::SilverCommit {
    use shopflow_core::ports::LakeTables;
    let source = format!("landing/lines/w{w}.csv");
    let sequence = format!("t{w:032x}");
    tables
        .write_silver(SilverWrite {
            contract,
            source_key: &source,
            sequence: &sequence,
            run_id,
            parts: vec![path],
        })
        .await
        .unwrap()
}

/// A staged silver file of `n` lines of order `O{w}-{i}`, with lineage, as the transform
/// stage writes them.
fn write_lines_part(path: &std::path::Path, w: usize, n: usize) {
    write_lines_part_of(path, w, w, n)
}

/// A staged silver file of writer `w` (its landing key and sequence) holding `n` lines of
/// order `O{owner}-{i}`.
fn write_lines_part_of(path: &std::path::Path, w: usize, owner: usize, n: usize) {
    use arrow::array::{
        ArrayRef, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lines.toml"), LINES).unwrap();
    let contracts = ContractSet::load_dir(dir.path()).unwrap();
    // The staged silver file: typed rows, lineage and the `dt` partition (the table's schema).
    let schema = shopflow_core::tables::silver_table_schema(contracts.get("lines").unwrap());
    let ids: Vec<String> = (0..n).map(|i| format!("O{owner}-{i}")).collect();
    let ts = 1_767_607_200_000_000i64;
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.name().as_str() {
                "order_id" => Arc::new(StringArray::from(ids.clone())),
                "line_number" | "_row_number" => {
                    Arc::new(Int64Array::from_iter_values(1..=n as i64))
                }
                "sku" => Arc::new(StringArray::from(vec!["A"; n])),
                "amount" => Arc::new(
                    Decimal128Array::from(vec![1000i128; n])
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                "updated_at" => Arc::new(
                    TimestampMicrosecondArray::from(vec![None::<i64>; n]).with_timezone("UTC"),
                ),
                "transaction_date" | "_ingested_at" => {
                    Arc::new(TimestampMicrosecondArray::from(vec![ts; n]).with_timezone("UTC"))
                }
                "_source_key" => Arc::new(StringArray::from(vec![
                    format!("landing/lines/w{w}.csv");
                    n
                ])),
                "_sequence" => Arc::new(StringArray::from(vec![format!("t{w:032x}"); n])),
                "dt" => Arc::new(arrow::array::Date32Array::from(vec![20_458; n])),
                other => Arc::new(StringArray::from(vec![format!("{other}-{w}"); n])),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut file = shopflow_core::layer::ParquetFile::create(path, schema).unwrap();
    file.write(&batch).unwrap();
    file.finish().unwrap();
}

#[tokio::test]
async fn maintenance_compacts_two_hundred_small_files_and_time_travel_reads_the_past() {
    // Auto-compaction off: the 200 files stay until `maintain`.
    let lake = lake_with_options(
        lines_contracts(),
        TableOptions {
            compact_files: 0,
            ..TableOptions::default()
        },
    );
    for i in 0..200 {
        let body = format!(
            "order_id,line_number,amount,transaction_date\nO{i},1,{i}.00,2026-01-0{}T10:00:00Z\n",
            1 + i % 3
        );
        lake.drop_file("lines", &format!("f{i:03}.csv"), &body)
            .await;
    }
    let before = lake.tables.data_files("silver/lines").await.unwrap();
    assert_eq!(before.len(), 200);
    let rows_before = lake.silver("lines", &["order_id", "amount"]).await;

    let report = lake
        .tables
        .maintain("silver/lines", chrono::Duration::zero())
        .await
        .unwrap();
    let after = lake.tables.data_files("silver/lines").await.unwrap();
    assert_eq!(report.files_before, 200);
    assert_eq!(report.files_after, after.len() as u64);
    assert!(
        after.len() * 10 <= before.len(),
        "{} files after",
        after.len()
    );
    assert_eq!(
        report.files_deleted, 200,
        "the compacted files, with retention 0"
    );
    assert!(report.bytes_deleted > 0);
    let on_disk = lake.store.list("silver/lines/").await.unwrap();
    assert_eq!(
        on_disk
            .iter()
            .filter(|o| o.key.ends_with(".parquet") && !o.key.contains("/_delta_log/"))
            .count(),
        after.len(),
        "only the current data files remain"
    );
    assert_eq!(
        lake.silver("lines", &["order_id", "amount"]).await,
        rows_before
    );

    // A change, then the state before it.
    let version_before = lake
        .tables
        .load("silver/lines")
        .await
        .unwrap()
        .unwrap()
        .version()
        .unwrap();
    lake.drop_file(
        "lines",
        "f000.csv",
        "order_id,line_number,amount,transaction_date\nO0,1,99.00,2026-01-01T10:00:00Z\n",
    )
    .await;
    let engine = &Engine::new();
    let tables = &lake.tables;
    let version = version_before;
    let past = |as_of| async move {
        engine
            .register_lake_table(tables, "t", "silver/lines", as_of, None, None)
            .await
            .unwrap();
        let r = engine
            .query(
                "amount",
                "SELECT CAST(amount AS VARCHAR) AS a FROM t WHERE order_id = 'O0'",
            )
            .await
            .unwrap()
            .concat()
            .unwrap();
        cell(&r, "a", 0)
    };
    assert_eq!(past(None).await, "99.00");
    assert_eq!(past(Some(AsOf::Version(version))).await, "0.00");
}

#[tokio::test]
async fn a_lake_handle_sees_other_writers_commits_and_a_table_created_again_under_its_key() {
    let lake = lines_lake();
    let contract = lake.ingestor.contracts().get("lines").unwrap().clone();
    for i in 0..3 {
        let body = format!(
            "order_id,line_number,amount,transaction_date\nO{i},1,{i}.00,2026-01-01T10:00:00Z\n"
        );
        lake.drop_file("lines", &format!("f{i}.csv"), &body).await;
    }
    assert_eq!(lake.silver("lines", &["order_id"]).await.len(), 3);
    let staging = tempfile::tempdir().unwrap();
    let write = |tables: DeltaLake, w: usize| {
        let path = staging.path().join(format!("w{w}.parquet"));
        let contract = contract.clone();
        async move { commit_lines_part(&tables, &contract, path, w, "other").await }
    };

    // Another process's commit: the snapshot this handle loaded before is brought up to date.
    write(DeltaLake::new(lake.store.clone()), 7).await;
    assert_eq!(lake.silver("lines", &["order_id"]).await.len(), 28);

    // The table deleted and created again, to a version beyond the one this handle knows:
    // its log is not applied on top of the old snapshot.
    let known = lake.tables.load("silver/lines").await.unwrap().unwrap();
    let known = known.version().unwrap();
    std::fs::remove_dir_all(lake._dir.path().join("silver/lines")).unwrap();
    let other = DeltaLake::new(lake.store.clone());
    for w in 10..10 + known as usize + 2 {
        write(other.clone(), w).await;
    }
    let again = other.load("silver/lines").await.unwrap().unwrap();
    assert!(again.version().unwrap() > known);
    let silver = lake.silver("lines", &["order_id"]).await;
    assert_eq!(silver.len(), 25 * (known as usize + 2));
    assert!(
        silver
            .iter()
            .all(|r| !r[0].starts_with("O7-") && r[0].len() > 2),
        "only the new table's rows: {:?}",
        &silver[..3]
    );
}

#[tokio::test]
async fn a_burst_of_small_files_keeps_each_day_within_the_file_bound_and_every_row_once() {
    // Auto-compaction past 4 files per day; 30 files of order lines (a composite key, several
    // lines per order) over two days, then a corrected re-drop of a file whose rows are in a
    // compacted file by then.
    let lake = lake_with_options(
        lines_contracts(),
        TableOptions {
            compact_files: 4,
            ..TableOptions::default()
        },
    );
    let file = |i: usize, amount: &str| {
        format!(
            "order_id,line_number,sku,amount,transaction_date\n\
             O{i},1,A,{amount},2026-01-0{d}T10:00:00Z\n\
             O{i},2,B,{amount},2026-01-0{d}T10:00:00Z\n",
            d = 5 + i % 2
        )
    };
    let mut versions = Vec::new();
    for i in 0..30 {
        let m = lake
            .drop_file("lines", &format!("burst-{i:02}.csv"), &file(i, "1.00"))
            .await;
        assert!(m.reconciles(), "{m:?}");
        let t = lake.tables.load("silver/lines").await.unwrap().unwrap();
        versions.push(t.version().unwrap());
        for day in ["2026-01-05", "2026-01-06"] {
            let files = lake
                .tables
                .data_files("silver/lines")
                .await
                .unwrap()
                .into_iter()
                .filter(|(f, _)| f.contains(&format!("dt={day}")))
                .count();
            assert!(files <= 5, "{day}: {files} files after file {i}");
        }
    }
    let rows = lake.silver("lines", &["order_id", "line_number"]).await;
    assert_eq!(rows.len(), 60, "every line once");
    assert_eq!(rows.iter().collect::<BTreeSet<_>>().len(), 60);

    // The log says which commits compacted: rewrites of whole days whose removals count as
    // data changes, so that a concurrent writer of those files conflicts with them.
    let log = lake.store.list("silver/lines/_delta_log/").await.unwrap();
    let mut compactions = 0;
    for o in log.iter().filter(|o| o.key.ends_with(".json")) {
        let body = String::from_utf8(lake.store.get(&o.key).await.unwrap()).unwrap();
        if body.contains("\"shopflow.operation\":\"auto-compact\"") {
            compactions += 1;
            assert!(body.contains("\"operation\":\"WRITE\""), "{}", o.key);
            for line in body.lines().filter(|l| l.starts_with("{\"remove\"")) {
                assert!(line.contains("\"dataChange\":true"), "{line}");
            }
        }
    }
    assert!(compactions >= 4, "{compactions} auto-compactions");

    // A corrected re-drop of an early file: its lines now live in a compacted file.
    let m = lake
        .drop_file("lines", "burst-00.csv", &file(0, "7.00"))
        .await;
    assert_eq!((m.rows_silver, m.rows_replaced), (2, 2), "{m:?}");
    let amounts = lake.silver("lines", &["order_id", "amount"]).await;
    assert_eq!(amounts.len(), 60);
    assert_eq!(
        amounts
            .iter()
            .filter(|r| r[0] == "O0")
            .map(|r| r[1].as_str())
            .collect::<Vec<_>>(),
        ["7.00", "7.00"]
    );
    assert!(
        amounts
            .iter()
            .filter(|r| r[0] != "O0")
            .all(|r| r[1] == "1.00")
    );

    // Time travel across compactions: the table after file 10 holds the first 11 files' lines.
    let engine = Engine::new();
    engine
        .register_lake_table(
            &lake.tables,
            "t",
            "silver/lines",
            Some(AsOf::Version(versions[10])),
            None,
            None,
        )
        .await
        .unwrap();
    let r = engine
        .query("count", "SELECT CAST(COUNT(*) AS VARCHAR) AS n FROM t")
        .await
        .unwrap()
        .concat()
        .unwrap();
    assert_eq!(cell(&r, "n", 0), "22");
}

/// Watches a table log prefix: counts the whole listings of it and, with `hold`, holds its
/// first commit there past the table's creation until every store sharing the barrier has
/// reached its own.
#[derive(Debug)]
struct Watch {
    watched: String,
    whole: std::sync::atomic::AtomicUsize,
    hold: Option<(Arc<tokio::sync::Barrier>, std::sync::atomic::AtomicBool)>,
}

/// A store over `inner` that watches the log of `silver/lines`, holding its first commit at
/// the barrier of `hold` when there is one.
fn watched_lines_log(
    inner: Arc<FsObjectStore>,
    hold: Option<Arc<tokio::sync::Barrier>>,
) -> Arc<HookedStore<Watch>> {
    Arc::new(HookedStore {
        inner,
        hook: Watch {
            watched: "silver/lines/_delta_log/".to_string(),
            whole: std::sync::atomic::AtomicUsize::new(0),
            hold: hold.map(|b| (b, std::sync::atomic::AtomicBool::new(false))),
        },
    })
}

#[async_trait::async_trait]
impl StoreHook for Watch {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        match call.operation {
            "put_if_absent" => {
                let commit = call
                    .key
                    .strip_prefix(&self.watched)
                    .is_some_and(|f| f.ends_with(".json") && f != "00000000000000000000.json");
                if let Some((barrier, held)) = &self.hold
                    && commit
                    && !held.swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    let wait = barrier.wait();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), wait).await;
                }
            }
            "list" if call.key == self.watched => {
                self.whole.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            _ => {}
        }
        Ok(())
    }
}

#[tokio::test]
async fn commits_never_list_the_whole_log_and_maintenance_cleans_it() {
    // delta-rs cleans expired log files after every commit unless told not to, which lists the
    // whole log each time: O(commits) requests per commit on S3.
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let store = watched_lines_log(inner.clone(), None);
    let tables = DeltaLake::new(store.clone());
    let ingestor = lake_ingestor(dir.path(), store.clone(), &tables, lines_contracts());
    for i in 0..25 {
        let key = format!("landing/lines/l{i:02}.csv");
        let body = format!(
            "order_id,line_number,amount,transaction_date\nO{i},1,1.00,2026-01-05T10:00:00Z\n\
             O{i},2,2.00,2026-01-05T10:00:00Z\n"
        );
        store.put(&key, body.into_bytes()).await.unwrap();
        processed(ingestor.ingest_object(&key, "run").await.unwrap());
        if i == 0 {
            // Creating the table looks for a log once.
            store
                .hook
                .whole
                .store(0, std::sync::atomic::Ordering::SeqCst);
        }
    }
    assert_eq!(
        store.hook.whole.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "whole listings of the log during 24 commits and 2 checkpoints"
    );
    let log = inner.list("silver/lines/_delta_log/").await.unwrap();
    assert!(log.iter().any(|o| o.key.ends_with(".checkpoint.parquet")));
    // Maintenance is where the log is cleaned (nothing has expired yet: 30 days).
    let report = tables
        .maintain("silver/lines", chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(report.log_files_deleted, 0);
    assert!(store.hook.whole.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(lake_rows(&tables).await, 50);
}

async fn lake_rows(tables: &DeltaLake) -> usize {
    tables
        .read("silver/lines", None, None)
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

/// Runs `maintain` on the table through another lake handle right before the next commit of
/// `table` lands, once armed: compaction racing a writer that has already read the table.
#[derive(Debug)]
struct CompactBeforeCommit {
    other: DeltaLake,
    table: String,
    armed: std::sync::atomic::AtomicBool,
    fired: std::sync::atomic::AtomicUsize,
}

/// A store over `inner` that compacts `silver/lines` right before its next commit once armed.
fn compacting_lines(inner: Arc<FsObjectStore>) -> Arc<HookedStore<CompactBeforeCommit>> {
    Arc::new(HookedStore {
        inner: inner.clone(),
        hook: CompactBeforeCommit {
            other: DeltaLake::new(inner),
            table: "silver/lines".to_string(),
            armed: std::sync::atomic::AtomicBool::new(false),
            fired: std::sync::atomic::AtomicUsize::new(0),
        },
    })
}

#[async_trait::async_trait]
impl StoreHook for CompactBeforeCommit {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        let commit = call.operation == "put_if_absent"
            && call.key.starts_with(&format!("{}/_delta_log/", self.table))
            && call.key.ends_with(".json");
        if commit && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let r = self
                .other
                .maintain(&self.table, chrono::Duration::days(7))
                .await
                .unwrap();
            assert!(r.files_after < r.files_before, "{r:?}");
            self.fired.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_compaction_that_lands_while_a_merge_rewrites_its_files_never_duplicates_a_row() {
    // delta-rs's OPTIMIZE removes files with dataChange = false and its conflict checker lets
    // a MERGE that read those files commit after it: the compacted copy and the MERGE's new
    // version of the rows would both stay. ShopFlow's compaction must make that MERGE retry.
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let store = compacting_lines(inner.clone());
    let tables = DeltaLake::new(store.clone());
    let ingestor = lake_ingestor(dir.path(), store.clone(), &tables, lines_contracts());
    let body = |i: usize, amount: &str| {
        format!(
            "order_id,line_number,amount,transaction_date\n\
             O{i},1,{amount},2026-01-05T10:00:00Z\nO{i},2,{amount},2026-01-05T11:00:00Z\n"
        )
    };
    let drop = |i: usize, amount: &'static str| {
        let (store, ingestor) = (store.clone(), ingestor.clone());
        async move {
            let key = format!("landing/lines/o{i}.csv");
            store.put(&key, body(i, amount).into_bytes()).await.unwrap();
            processed(ingestor.ingest_object(&key, "run").await.unwrap())
        }
    };
    for i in 0..3 {
        drop(i, "1.00").await;
    }
    // The corrected re-drop of o0 rewrites the file holding O0's lines; the other handle
    // compacts the day between the MERGE's read and its commit.
    store
        .hook
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let m = drop(0, "2.00").await;
    assert_eq!(
        store.hook.fired.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!((m.rows_silver, m.rows_replaced), (2, 2), "{m:?}");
    let rows = lines_amounts(&tables).await;
    assert_eq!(
        rows,
        [
            ("O0", "2.00"),
            ("O0", "2.00"),
            ("O1", "1.00"),
            ("O1", "1.00"),
            ("O2", "1.00"),
            ("O2", "1.00")
        ]
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .to_vec(),
        "each line once, O0's at its new amount"
    );
}

#[tokio::test]
async fn two_compactions_of_one_day_at_once_never_duplicate_a_row() {
    // Two `maintain` runs (or two auto-compactions after two writes to one day) that read the
    // same files: with delta-rs's OPTIMIZE both commit, and the day holds every row twice.
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let store = compacting_lines(inner.clone());
    let lake = lake_with_options(
        lines_contracts(),
        TableOptions {
            compact_files: 0,
            ..TableOptions::default()
        },
    );
    for i in 0..3 {
        lake.drop_file(
            "lines",
            &format!("o{i}.csv"),
            &format!(
                "order_id,line_number,amount,transaction_date\n\
                 O{i},1,1.00,2026-01-05T10:00:00Z\nO{i},2,1.00,2026-01-05T11:00:00Z\n"
            ),
        )
        .await;
    }
    // The lake's files, seen through the racing store.
    for o in lake.store.list("").await.unwrap() {
        if o.key.starts_with("silver/") {
            inner
                .put(&o.key, lake.store.get(&o.key).await.unwrap())
                .await
                .unwrap();
        }
    }
    let tables = DeltaLake::new(store.clone());
    assert_eq!(lines_amounts(&tables).await.len(), 6);
    store
        .hook
        .armed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    tables
        .maintain("silver/lines", chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(
        store.hook.fired.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let rows = lines_amounts(&tables).await;
    assert_eq!(rows.len(), 6, "each line once: {rows:?}");
    assert_eq!(tables.data_files("silver/lines").await.unwrap().len(), 1);
}

async fn lines_amounts(tables: &DeltaLake) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for b in tables.read("silver/lines", None, None).await.unwrap() {
        for i in 0..b.num_rows() {
            out.push((cell(&b, "order_id", i), cell(&b, "amount", i)));
        }
    }
    out.sort();
    out
}
