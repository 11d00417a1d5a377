//! The lake's Delta tables through the whole ingestion: exactly once on the contract's key
//! across files, re-drops and replays as table operations, concurrent writers, compaction and
//! time travel.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::NaiveDate;
use shopflow_core::adapters::local::{FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::contract::ContractSet;
use shopflow_core::engine::Engine;
use shopflow_core::gold::{self, GoldOptions};
use shopflow_core::ingest::{IngestOptions, Ingestor};
use shopflow_core::ports::{ObjectStore, SilverWrite};
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
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(tables.clone()),
        Arc::new(FsLedger::new(dir.path().join("_state/ledger")).unwrap()),
        Arc::new(LogMetrics),
        Arc::new(contracts),
        IngestOptions {
            work_dir: Some(dir.path().join(".tmp")),
            ..IngestOptions::default()
        },
    );
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
    let engine = Engine::new();
    gold::build(
        &lake.tables,
        &engine,
        lake.ingestor.contracts(),
        day,
        GoldOptions::default(),
    )
    .await
    .unwrap();
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
    let engine = Engine::new();
    gold::build(
        &lake.tables,
        &engine,
        lake.ingestor.contracts(),
        day,
        GoldOptions::default(),
    )
    .await
    .unwrap();
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

/// Stages 25 lines of writer `w` at `path` and commits them to `silver/lines` through
/// `tables`, as one transformer run of `landing/lines/w{w}.csv` does.
async fn commit_lines_part(
    tables: &DeltaLake,
    contract: &shopflow_core::contract::Contract,
    path: std::path::PathBuf,
    w: usize,
    run_id: &str,
) -> shopflow_core::ports::SilverCommit {
    use shopflow_core::ports::LakeTables;
    write_lines_part(&path, w, 25);
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
    use arrow::array::{
        ArrayRef, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lines.toml"), LINES).unwrap();
    let contracts = ContractSet::load_dir(dir.path()).unwrap();
    // The staged silver file: typed rows, lineage and the `dt` partition (the table's schema).
    let schema = shopflow_core::tables::silver_table_schema(contracts.get("lines").unwrap());
    let ids: Vec<String> = (0..n).map(|i| format!("O{w}-{i}")).collect();
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
    let lake = lines_lake();
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
