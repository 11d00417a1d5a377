//! Landing objects through the Ingestor: reconciliation, defects, idempotency, quarantine.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDate;
use shopflow_core::generate::{self, GenerateConfig};
use shopflow_core::ingest::{IngestError, IngestOutcome, ManifestStatus};
use shopflow_core::layer;
use shopflow_core::ports::{ClaimRequest, Ledger, ObjectStore};

use crate::support::*;

const ORDER: [(&str, &str); 4] = [
    ("customers", "customers.csv"),
    ("products", "products.json"),
    ("transactions", "transactions.csv"),
    ("clickstream", "clickstream.jsonl"),
];

#[tokio::test]
async fn every_injected_defect_is_caught_by_its_rule_and_counts_reconcile() {
    let dir = tempfile::tempdir().unwrap();
    let config = GenerateConfig::new(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    let report = generate::generate(&config, dir.path()).unwrap();
    let (store, _, ingestor) = memory_ingestor();
    let mut seen_by_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut duplicates: BTreeMap<String, u64> = BTreeMap::new();
    // Every file the generator wrote, update files included, in the order written (referenced
    // datasets first).
    let files: Vec<(&str, &str, u64)> = report
        .files
        .iter()
        .map(|f| (f.dataset.as_str(), f.file_name.as_str(), f.rows))
        .collect();
    assert_eq!(files.len(), 6, "{files:?}");
    for &(dataset, file, rows) in &files {
        let key = format!("landing/{dataset}/{file}");
        store
            .put(&key, std::fs::read(dir.path().join(file)).unwrap())
            .await
            .unwrap();
        let m = processed(ingestor.ingest_object(&key, "run-1").await.unwrap());
        assert_eq!(
            m.status,
            ManifestStatus::Processed,
            "{key}: {:?}",
            m.file_quarantine_reason
        );
        assert!(
            m.reconciles(),
            "{key}: {} != {} + {} + {}",
            m.rows_in,
            m.rows_silver,
            m.rows_quarantined,
            m.duplicates_removed
        );
        assert_eq!(m.rows_in, rows, "{key}: every generated row is read");
        if file.contains("_updates") {
            // Price changes and moves are clean: every row reaches silver.
            assert_eq!(m.rows_silver, rows, "{key}: {:?}", m.rejected_by_rule);
            assert!(
                m.warnings_by_rule.is_empty(),
                "{key}: {:?}",
                m.warnings_by_rule
            );
        }
        if dataset == "customers" || dataset == "products" {
            // `updated_at` (CSV column or DummyJSON `meta.updatedAt`) reaches silver, typed.
            let mut with_time = 0;
            let filter = format!("_source_key = {}", sql_text(&key));
            for b in table_rows(store.clone(), &format!("silver/{dataset}"), Some(&filter)).await {
                {
                    let column = b.column_by_name("updated_at").unwrap();
                    assert!(
                        column
                            .as_any()
                            .is::<arrow::array::TimestampMicrosecondArray>(),
                        "{key}: {:?}",
                        column.data_type()
                    );
                    with_time += b.num_rows() - column.null_count();
                }
            }
            // Rows of a version another file already held replace that file's row (one row
            // per key and version): this file now holds the rest.
            assert_eq!(
                with_time as u64,
                m.rows_silver - m.rows_superseded,
                "{key}: every row has updated_at"
            );
        }
        assert!(
            m.skipped_rules.is_empty(),
            "{key}: referenced datasets were ingested first: {:?}",
            m.skipped_rules
        );
        for (rule, n) in m.rejected_by_rule.iter().chain(&m.warnings_by_rule) {
            *seen_by_rule.entry(rule.clone()).or_default() += n;
        }
        *duplicates.entry(dataset.to_string()).or_default() += m.duplicates_removed;
    }
    assert_eq!(
        seen_by_rule,
        report.expected_by_rule(),
        "rule counts must match the generator's record exactly"
    );
    for (dataset, _) in ORDER {
        assert_eq!(
            duplicates[dataset],
            report.expected_duplicates(dataset),
            "{dataset} duplicates"
        );
    }
    // Every defect kind the generator knows was injected at the default rate.
    assert!(
        report.defects.iter().all(|d| d.count > 0),
        "{:?}",
        report.defects
    );
}

#[tokio::test]
async fn silver_rows_equal_the_manifest_and_quarantine_holds_each_rejected_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = GenerateConfig::new(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    config.transactions = 2_000;
    generate::generate(&config, dir.path()).unwrap();
    let (store, _, ingestor) = memory_ingestor();
    let key = "landing/transactions/transactions.csv";
    store
        .put(
            key,
            std::fs::read(dir.path().join("transactions.csv")).unwrap(),
        )
        .await
        .unwrap();
    let m = processed(ingestor.ingest_object(key, "run-1").await.unwrap());
    let mut silver_rows = 0;
    for b in &table_rows(store.clone(), "silver/transactions", None).await {
        silver_rows += b.num_rows() as u64;
        let ts = b.column_by_name("transaction_date").unwrap();
        let ts = ts
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .unwrap();
        let dt = b.column_by_name("dt").unwrap();
        let dt = dt
            .as_any()
            .downcast_ref::<arrow::array::Date32Array>()
            .unwrap();
        for i in 0..b.num_rows() {
            let d = chrono::DateTime::from_timestamp_micros(ts.value(i))
                .unwrap()
                .date_naive();
            assert_eq!(
                Some(d),
                dt.value_as_date(i),
                "rows sit in their event-date partition"
            );
        }
    }
    assert_eq!(silver_rows, m.rows_silver);
    assert_eq!(m.rows_replaced + m.rows_superseded + m.rows_retracted, 0);
    let q = table_rows(store.clone(), "quarantine/transactions", None).await;
    let q_rows: usize = q.iter().map(|b| b.num_rows()).sum();
    assert_eq!(q_rows as u64, m.rows_quarantined);
    assert_eq!(m.outputs.quarantine, ["quarantine/transactions"]);
    let bronze = layer::decode_parquet(store.get(&m.outputs.bronze[0]).await.unwrap()).unwrap();
    let bronze_rows: usize = bronze.iter().map(|b| b.num_rows()).sum();
    assert_eq!(
        bronze_rows as u64, m.rows_in,
        "bronze keeps every record as it arrived"
    );
    for col in [
        "_source_key",
        "_source_etag",
        "_row_number",
        "_ingested_at",
        "_run_id",
    ] {
        assert!(
            bronze[0].column_by_name(col).is_some(),
            "bronze lineage column {col}"
        );
    }
}

#[tokio::test]
async fn ingesting_the_same_file_twice_leaves_the_lake_unchanged() {
    let lake = tempfile::tempdir().unwrap();
    let (store, ingestor) = fs_ingestor(lake.path());
    let key = "landing/transactions/t.csv";
    store
        .put(key, b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1,2024-01-01 10:00:00\nT2,C1,P1,0,2024-01-02 10:00:00\n".to_vec())
        .await
        .unwrap();
    processed(ingestor.ingest_object(key, "run-1").await.unwrap());
    let before = snapshot(lake.path());
    let again = ingestor.ingest_object(key, "run-2").await.unwrap();
    assert!(matches!(again, IngestOutcome::Skipped { .. }));
    assert_eq!(snapshot(lake.path()), before);
}

#[tokio::test]
async fn replaying_an_object_commits_the_same_rows_again() {
    let (store, ledger, ingestor) = memory_ingestor();
    let key = "landing/transactions/t.csv";
    store
        .put(key, b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1,2024-01-01 10:00:00\n".to_vec())
        .await
        .unwrap();
    let first = processed(ingestor.ingest_object(key, "run-1").await.unwrap());
    let objects = |keys: Vec<shopflow_core::ports::ObjectMeta>| -> Vec<String> {
        keys.into_iter()
            .map(|o| o.key)
            .filter(|k| !k.starts_with("silver/") && !k.starts_with("quarantine/"))
            .collect()
    };
    let keys_before = objects(store.list("").await.unwrap());
    let rows_before = table_rows(store.clone(), "silver/transactions", None).await;
    let second = processed(ingestor.replay_object(key, "run-2").await.unwrap());
    assert_eq!(
        second.ingest_date, first.ingest_date,
        "a replay keeps the first ingest date"
    );
    let rows_after_replay = table_rows(store.clone(), "silver/transactions", None).await;
    ledger.forget(&first.object_id).await.unwrap();
    let third = processed(ingestor.ingest_object(key, "run-3").await.unwrap());
    assert_eq!(third.outputs.bronze, first.outputs.bronze);
    assert_eq!(third.outputs.silver, first.outputs.silver);
    let keys_after = objects(store.list("").await.unwrap());
    assert_eq!(
        keys_before, keys_after,
        "no new bronze object or manifest: they are named by the input"
    );
    let lineage = |batches: &[arrow::array::RecordBatch], skip: &[&str]| -> Vec<String> {
        let text = arrow::util::pretty::pretty_format_batches(
            &batches
                .iter()
                .map(|b| {
                    b.project(
                        &(0..b.num_columns())
                            .filter(|i| !skip.contains(&b.schema().field(*i).name().as_str()))
                            .collect::<Vec<_>>(),
                    )
                    .unwrap()
                })
                .collect::<Vec<_>>(),
        )
        .unwrap()
        .to_string();
        text.lines().map(str::to_string).collect()
    };
    assert_eq!(
        lineage(&rows_before, &["_run_id"]),
        lineage(&rows_after_replay, &["_run_id"]),
        "a replay leaves the same rows (only the run id differs)"
    );
    // After the ledger forgot the object, it is a new ingestion (a new time, so a later
    // sequence): its rows replace the earlier ones, one row per key still.
    assert_eq!(
        lineage(&rows_before, &["_run_id", "_ingested_at", "_sequence"]),
        lineage(
            &table_rows(store.clone(), "silver/transactions", None).await,
            &["_run_id", "_ingested_at", "_sequence"]
        ),
    );
    let v = |m: &shopflow_core::ingest::Manifest| m.outputs.table_versions["silver/transactions"];
    assert!(
        v(&first) < v(&second) && v(&second) < v(&third),
        "each replay is a new version"
    );
    assert_eq!(
        second.rows_replaced, first.rows_silver,
        "a replay replaces its own rows"
    );
    assert_eq!(first.rows_silver, second.rows_silver);
}

#[tokio::test]
async fn a_concurrent_duplicate_is_refused_and_an_expired_claim_is_taken_over() {
    let (store, ledger, ingestor) = memory_ingestor();
    let key = "landing/transactions/t.csv";
    let meta = store
        .put(key, b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1,2024-01-01\n".to_vec())
        .await
        .unwrap();
    let etag = meta.etag.unwrap();
    let claim = |now, run: &str| ClaimRequest {
        object_id: layer::object_id(key, &etag),
        key: key.into(),
        etag: etag.clone(),
        run_id: run.into(),
        now,
        lease: chrono::Duration::minutes(15),
        force: false,
        sequencer: None,
    };
    // Another run holds a live claim.
    ledger
        .claim(&claim(chrono::Utc::now(), "other"))
        .await
        .unwrap();
    let err = ingestor.ingest_object(key, "run-1").await.unwrap_err();
    assert!(matches!(err, IngestError::Busy { .. }), "{err}");
    assert!(err.is_retryable());
    // A crashed run's claim, long expired.
    ledger.forget(&layer::object_id(key, &etag)).await.unwrap();
    ledger
        .claim(&claim(
            chrono::Utc::now() - chrono::Duration::hours(1),
            "crashed",
        ))
        .await
        .unwrap();
    let m = processed(ingestor.ingest_object(key, "run-2").await.unwrap());
    assert_eq!(m.rows_silver, 1);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn unreadable_files_are_quarantined_whole_with_the_reason() {
    let mut corrupt = gzip(
        b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1,2024-01-01\n",
    );
    corrupt.truncate(corrupt.len() / 2);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("landing/products/not-json.json", b"id,title\n1,a\n".to_vec(), "not valid"),
        ("landing/transactions/missing.csv", b"transaction_id,customer_id,quantity,transaction_date\nT,C,1,2024-01-01\n".to_vec(), "required column \"product_id\""),
        // Latin-1: each record that is not UTF-8 is one malformed row, and a file of them is
        // quarantined whole by the contract's max_reject_share.
        ("landing/transactions/latin1.csv", b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,Jos\xe9,P,1,2024-01-01\n".to_vec(), "transactions.row.malformed"),
        ("landing/transactions/empty.csv", Vec::new(), "empty"),
        ("landing/transactions/corrupt.csv.gz", corrupt, "unreadable"),
    ];
    for (key, body, reason) in cases {
        let (store, _, ingestor) = memory_ingestor();
        store.put(key, body.clone()).await.unwrap();
        let m = processed(ingestor.ingest_object(key, "run-1").await.unwrap());
        assert_eq!(m.status, ManifestStatus::FileQuarantined, "{key}");
        assert_eq!(m.files_quarantined, 1);
        let why = m.file_quarantine_reason.clone().unwrap();
        assert!(why.contains(reason), "{key}: {why}");
        assert!(
            m.outputs.bronze.is_empty() && m.outputs.silver.is_empty(),
            "{key}"
        );
        assert!(m.reconciles());
        let file_key = &m.outputs.quarantine[0];
        assert_eq!(
            store.get(file_key).await.unwrap(),
            body,
            "{key}: the file is kept as it arrived"
        );
        let reason_doc: serde_json::Value =
            serde_json::from_slice(&store.get(&m.outputs.quarantine[1]).await.unwrap()).unwrap();
        assert_eq!(reason_doc["source_key"], key);
        assert!(reason_doc["replay"].as_str().unwrap().contains(key));
    }
}

#[tokio::test]
async fn a_file_with_mostly_bad_rows_is_quarantined_whole() {
    let (store, _, ingestor) = memory_ingestor();
    let key = "landing/transactions/wrong.csv";
    store
        .put(key, b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C,P,x,2024-01-01\nT2,C,P,y,2024-01-01\nT3,C,P,1,2024-01-01\n".to_vec())
        .await
        .unwrap();
    let m = processed(ingestor.ingest_object(key, "run-1").await.unwrap());
    assert_eq!(m.status, ManifestStatus::FileQuarantined);
    assert_eq!(
        m.file_quarantine_rule.as_deref(),
        Some("transactions.file.max_reject_share")
    );
    assert!(
        m.file_quarantine_reason
            .unwrap()
            .contains("transactions.quantity.type (2)")
    );
    assert!(store.list("silver/").await.unwrap().is_empty());
}

#[tokio::test]
async fn secret_columns_are_never_written_anywhere() {
    let (store, _, ingestor) = memory_ingestor();
    let key = "landing/customers/users.json";
    let body = r#"{"users":[{"id":1,"firstName":"Emily","lastName":"Johnson","email":"emily.johnson@x.dummyjson.com","password":"emilyspass","bank":{"cardNumber":"9289760655481815","iban":"YPUXISOBI7TTHPK2BR3HAIXL"},"ssn":"900-590-289"},{"id":2,"email":"broken","password":"hunter2secret"}],"total":2,"skip":0,"limit":2}"#;
    store.put(key, body.as_bytes().to_vec()).await.unwrap();
    let m = processed(ingestor.ingest_object(key, "run-1").await.unwrap());
    assert_eq!(m.rows_silver, 1);
    assert_eq!(m.rows_quarantined, 1);
    assert!(m.schema.secret_fields_dropped.contains("password"));
    for (k, bytes) in all_bytes(store.as_ref()).await {
        if k == key {
            continue; // landing is never modified
        }
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            "emilyspass",
            "9289760655481815",
            "YPUXISOBI7TTHPK2BR3HAIXL",
            "900-590-289",
            "hunter2secret",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into {k}");
        }
    }
}

#[tokio::test]
async fn keys_outside_landing_and_unknown_datasets_are_bad_requests() {
    let (store, _, ingestor) = memory_ingestor();
    store.put("bronze/x/y.csv", b"a".to_vec()).await.unwrap();
    assert!(matches!(
        ingestor.ingest_object("bronze/x/y.csv", "r").await,
        Err(IngestError::NotLanding { .. })
    ));
    let err = ingestor
        .ingest_object("landing/returns/r.csv", "r")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no contract for dataset \"returns\""),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(matches!(
        ingestor
            .ingest_object("landing/transactions/nope.csv", "r")
            .await,
        Err(IngestError::NotFound { .. })
    ));
}

#[tokio::test]
async fn reads_gzip_inputs_and_both_seed_shapes_end_to_end() {
    let (store, _, ingestor) = memory_ingestor();
    let a = b"transaction_id,customer_id,product_id,quantity,amount,transaction_date\nT001,C123,P456,2,199.98,2024-03-15 10:30:00\nT002,C124,P457,1,99.99,2024-03-15 11:45:00\n";
    let b = b"id,customer_id,product_id,quantity,timestamp,payment_method\n1,C1,P1,3,2024-01-02T03:04:05Z,credit_card\n";
    store
        .put("landing/transactions/a.csv.gz", gzip(a))
        .await
        .unwrap();
    store
        .put("landing/transactions/b.csv", b.to_vec())
        .await
        .unwrap();
    let ma = processed(
        ingestor
            .ingest_object("landing/transactions/a.csv.gz", "r")
            .await
            .unwrap(),
    );
    let mb = processed(
        ingestor
            .ingest_object("landing/transactions/b.csv", "r")
            .await
            .unwrap(),
    );
    assert_eq!((ma.rows_silver, mb.rows_silver), (2, 1));
    assert_eq!(ma.schema.compression.as_deref(), Some("gzip"));
    assert!(mb.schema.missing_optional.contains("amount"));
    assert_eq!(mb.outputs.silver, ["silver/transactions"]);
    let days = table_rows(
        store.clone(),
        "silver/transactions",
        Some("_source_key = 'landing/transactions/b.csv' AND dt = DATE '2024-01-02'"),
    )
    .await;
    assert_eq!(days.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
}
