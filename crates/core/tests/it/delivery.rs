//! At-least-once, out-of-order delivery: duplicate events, concurrent duplicates, versions of
//! one key arriving newest first, and a file replaced between its claim and its download.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::AsArray;
use async_trait::async_trait;
use shopflow_core::adapters::local::{FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::contract::ContractSet;
use shopflow_core::ingest::{EventVersion, IngestError, IngestOptions, IngestOutcome, Ingestor};
use shopflow_core::ports::{
    Claim, ClaimRequest, Ledger, LedgerEntry, LedgerError, ObjectStore, StoreError,
};
use shopflow_core::tables::DeltaLake;

use crate::support::{Call, HookedStore, StoreHook, fs_ingestor, lake_ingestor, table_rows};

const HEADER: &str = "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n";

fn file(object: usize, version: usize) -> String {
    let mut body = String::from(HEADER);
    for r in 0..4 {
        body.push_str(&format!(
            "O{object}-{r},C1,P1,{},2.50,2026-11-20T10:00:00Z\n",
            1 + version
        ));
    }
    body
}

/// Silver's rows as sorted `id:quantity` strings: what a reader of the table sees.
async fn silver(store: Arc<dyn ObjectStore>) -> Vec<String> {
    let mut rows = Vec::new();
    for b in table_rows(store, "silver/transactions", None).await {
        let ids = b.column_by_name("transaction_id").unwrap();
        let ids = arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).unwrap();
        let q = b.column_by_name("quantity").unwrap();
        let q = arrow::compute::cast(q, &arrow::datatypes::DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            rows.push(format!(
                "{}:{}",
                ids.as_string::<i32>().value(i),
                q.as_string::<i32>().value(i)
            ));
        }
    }
    rows.sort();
    rows
}

async fn land(store: &dyn ObjectStore, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for o in 0..n {
        let key = format!("landing/transactions/part-{o:03}.csv");
        let meta = store.put(&key, file(o, 0).into_bytes()).await.unwrap();
        out.push((key, meta.etag.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_objects_delivered_three_times_and_in_concurrent_pairs_are_processed_fifty_times() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ingestor) = fs_ingestor(dir.path());
    let objects = land(store.as_ref(), 50).await;
    let (mut processed, mut repeats, mut busy) = (0, 0, 0);
    // Ten events delivered twice at the same moment, first: one run processes, the other is
    // told the object is busy (Lambda retries it and then skips) or that it is done.
    let mut pairs = Vec::new();
    for (i, (key, etag)) in objects.iter().take(10).enumerate() {
        for _ in 0..2 {
            let (ingestor, key, etag) = (ingestor.clone(), key.clone(), etag.clone());
            pairs.push(tokio::spawn(async move {
                let sequencer = format!("{:016X}", 1000 + i);
                let event = EventVersion {
                    sequencer: Some(&sequencer),
                    etag: Some(&etag),
                };
                ingestor.ingest_event(&key, "pair", event).await
            }));
        }
    }
    for p in pairs {
        match p.await.unwrap() {
            Ok(IngestOutcome::Processed(_)) => processed += 1,
            Ok(IngestOutcome::Skipped { .. }) => repeats += 1,
            Ok(IngestOutcome::Superseded { key, .. }) => panic!("{key} superseded"),
            Err(IngestError::Busy { .. }) => busy += 1,
            Err(e) => panic!("{e}"),
        }
    }
    // Then every event three times in a row, with its sequencer and etag, as S3 may deliver
    // it (the first ten objects are done by now: each of their deliveries is skipped).
    for (i, (key, etag)) in objects.iter().enumerate() {
        let sequencer = format!("{:016X}", 1000 + i);
        for _ in 0..3 {
            let event = EventVersion {
                sequencer: Some(&sequencer),
                etag: Some(etag),
            };
            match ingestor.ingest_event(key, "dup", event).await.unwrap() {
                IngestOutcome::Processed(_) => processed += 1,
                IngestOutcome::Skipped { .. } => repeats += 1,
                IngestOutcome::Superseded { key, .. } => panic!("{key} superseded"),
            }
        }
    }
    assert_eq!(processed, 50, "business logic ran once per object");
    assert_eq!(repeats + busy, 10 + 50 * 3 - 40);
    let manifests = store.list("manifests/").await.unwrap();
    assert_eq!(manifests.len(), 50, "one set of outputs per object");
    assert_eq!(store.list("bronze/").await.unwrap().len(), 50);

    // The tables equal a single delivery of each object.
    let single = tempfile::tempdir().unwrap();
    let (single_store, single_ingestor) = fs_ingestor(single.path());
    for (key, _) in land(single_store.as_ref(), 50).await {
        single_ingestor.ingest_object(&key, "once").await.unwrap();
    }
    let got = silver(store.clone()).await;
    assert_eq!(got.len(), 200);
    assert_eq!(got, silver(single_store.clone()).await);
}

#[tokio::test]
async fn three_versions_delivered_newest_first_leave_the_newest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ingestor) = fs_ingestor(dir.path());
    let key = "landing/transactions/orders.csv";
    // v1, v2 and v3 landed in that order (sequencers rising); the key now holds v3, and the
    // events arrive v3, v2, v1.
    let mut etags = Vec::new();
    for v in 0..3 {
        etags.push(
            store
                .put(key, file(7, v).into_bytes())
                .await
                .unwrap()
                .etag
                .unwrap(),
        );
    }
    let seq = |v: usize| format!("{:016X}", 0x1000 + v);
    let deliver = |v: usize| {
        let (ingestor, etag, sequencer) = (ingestor.clone(), etags[v].clone(), seq(v));
        async move {
            let event = EventVersion {
                sequencer: Some(&sequencer),
                etag: Some(&etag),
            };
            ingestor
                .ingest_event(key, &format!("v{v}"), event)
                .await
                .unwrap()
        }
    };
    assert!(matches!(deliver(2).await, IngestOutcome::Processed(_)));
    for v in [1, 0] {
        match deliver(v).await {
            IngestOutcome::Superseded {
                event_etag,
                current_etag,
                ..
            } => {
                assert_eq!(event_etag, etags[v]);
                assert_eq!(current_etag, etags[2]);
            }
            other => panic!("v{v}: {other:?}"),
        }
    }
    let rows = silver(store.clone()).await;
    assert_eq!(
        rows,
        ["O7-0:3", "O7-1:3", "O7-2:3", "O7-3:3"],
        "the newest version's rows"
    );

    // An event without a sequencer or etag (a replay tool, an old notification format) is
    // handled: the ledger already holds this version, so nothing is done twice.
    let plain = ingestor
        .ingest_event(key, "plain", EventVersion::default())
        .await
        .unwrap();
    assert!(matches!(plain, IngestOutcome::Skipped { .. }), "{plain:?}");
}

/// Replaces a landing object with other bytes once, right before its download: a re-drop
/// that lands between the claim and the read.
#[derive(Debug)]
struct RedropOnDownload {
    redrop: AtomicBool,
    body: Vec<u8>,
}

#[async_trait]
impl StoreHook for RedropOnDownload {
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError> {
        if call.operation == "download"
            && call.key.starts_with("landing/")
            && self.redrop.swap(false, Ordering::SeqCst)
        {
            call.inner.put(call.key, self.body.clone()).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn bytes_replaced_between_claim_and_download_are_never_recorded_under_the_claimed_version() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let store = Arc::new(HookedStore {
        inner: inner.clone(),
        hook: RedropOnDownload {
            redrop: AtomicBool::new(true),
            body: file(9, 1).into_bytes(),
        },
    });
    let tables = DeltaLake::new(store.clone());
    let contracts = ContractSet::defaults().unwrap();
    let ingestor = lake_ingestor(dir.path(), store.clone(), &tables, contracts);
    let key = "landing/transactions/orders.csv";
    let first = inner
        .put(key, file(9, 0).into_bytes())
        .await
        .unwrap()
        .etag
        .unwrap();
    let err = ingestor.ingest_object(key, "race").await.unwrap_err();
    match &err {
        IngestError::Changed {
            claimed, delivered, ..
        } => {
            assert_eq!(claimed, &first);
            assert_ne!(delivered, &first);
        }
        other => panic!("{other}"),
    }
    assert!(err.is_retryable());
    assert!(
        inner.list("manifests/").await.unwrap().is_empty(),
        "nothing recorded"
    );
    assert!(
        !DeltaLake::new(inner.clone())
            .exists("silver/transactions")
            .await
            .unwrap()
    );
    // The retry claims and processes the version that is there now.
    let again = ingestor.ingest_object(key, "retry").await.unwrap();
    let IngestOutcome::Processed(m) = again else {
        panic!("{again:?}")
    };
    assert_ne!(m.source_etag, first);
    let rows: BTreeSet<String> = silver(inner.clone()).await.into_iter().collect();
    assert!(rows.iter().all(|r| r.ends_with(":2")), "{rows:?}");
}

/// A ledger whose holder dies right before it records the outcome: `complete` and `release`
/// never return, as a process killed after writing the tables and the manifest.
#[derive(Debug)]
struct DiesBeforeCompleting {
    inner: FsLedger,
    reached: Arc<AtomicBool>,
}

#[async_trait]
impl Ledger for DiesBeforeCompleting {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, LedgerError> {
        self.inner.claim(request).await
    }
    async fn complete(&self, _: &LedgerEntry, _: &str) -> Result<(), LedgerError> {
        self.reached.store(true, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn release(&self, _: &LedgerEntry) -> Result<(), LedgerError> {
        self.reached.store(true, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn forget(&self, object_id: &str) -> Result<(), LedgerError> {
        self.inner.forget(object_id).await
    }
}

#[tokio::test]
async fn a_run_killed_between_its_table_commits_and_the_ledger_is_redone_with_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsObjectStore::new(dir.path()).unwrap());
    let ledger_dir = dir.path().join("_state/ledger");
    let options = IngestOptions {
        work_dir: Some(dir.path().join(".tmp")),
        lease: chrono::Duration::seconds(8),
        ..IngestOptions::default()
    };
    let ingestor = |ledger: Arc<dyn Ledger>| {
        Ingestor::new(
            store.clone(),
            Arc::new(DeltaLake::new(store.clone())),
            ledger,
            Arc::new(LogMetrics),
            Arc::new(ContractSet::defaults().unwrap()),
            options.clone(),
        )
    };
    let key = "landing/transactions/orders.csv";
    store.put(key, file(3, 0).into_bytes()).await.unwrap();

    // The first run writes bronze, silver, quarantine and the manifest, then dies.
    let reached = Arc::new(AtomicBool::new(false));
    let dying = ingestor(Arc::new(DiesBeforeCompleting {
        inner: FsLedger::new(&ledger_dir).unwrap(),
        reached: reached.clone(),
    }));
    let run = tokio::spawn(async move { dying.ingest_object(key, "killed").await });
    while !reached.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    assert_eq!(
        silver(store.clone()).await.len(),
        4,
        "the tables were written"
    );
    assert_eq!(store.list("manifests/").await.unwrap().len(), 1);

    // A retry within the lease is refused (the claim still looks alive: this process is)...
    let retry = ingestor(Arc::new(FsLedger::new(&ledger_dir).unwrap()));
    assert!(matches!(
        retry.ingest_object(key, "early").await,
        Err(IngestError::Busy { .. })
    ));
    // ...and once it has expired, takes it over and redoes the object: every row once.
    tokio::time::sleep(std::time::Duration::from_millis(8100)).await;
    let again = retry.ingest_object(key, "retry").await.unwrap();
    let IngestOutcome::Processed(m) = again else {
        panic!("{again:?}")
    };
    assert_eq!((m.rows_in, m.rows_silver), (4, 4));
    let rows = silver(store.clone()).await;
    assert_eq!(rows, ["O3-0:1", "O3-1:1", "O3-2:1", "O3-3:1"]);
    assert_eq!(store.list("manifests/").await.unwrap().len(), 1);
    assert_eq!(store.list("bronze/").await.unwrap().len(), 1);
    // Now it is done: a further delivery is skipped.
    assert!(matches!(
        retry.ingest_object(key, "later").await.unwrap(),
        IngestOutcome::Skipped { .. }
    ));
}
