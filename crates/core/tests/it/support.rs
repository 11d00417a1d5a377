//! Shared helpers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shopflow_core::adapters::local::{FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::adapters::memory::{MemoryLedger, MemoryObjectStore};
use shopflow_core::contract::ContractSet;
use shopflow_core::ingest::{IngestOptions, IngestOutcome, Ingestor, Manifest};
use shopflow_core::ports::{Ledger, ObjectStore};
use shopflow_core::tables::DeltaLake;

pub fn memory_ingestor() -> (Arc<MemoryObjectStore>, Arc<MemoryLedger>, Ingestor) {
    let store = Arc::new(MemoryObjectStore::new());
    let ledger = Arc::new(MemoryLedger::new());
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(DeltaLake::new(store.clone())),
        ledger.clone() as Arc<dyn Ledger>,
        Arc::new(LogMetrics),
        Arc::new(ContractSet::defaults().unwrap()),
        IngestOptions {
            batch_rows: 1000,
            ..IngestOptions::default()
        },
    );
    (store, ledger, ingestor)
}

pub fn fs_ingestor(root: &Path) -> (Arc<FsObjectStore>, Ingestor) {
    let store = Arc::new(FsObjectStore::new(root).unwrap());
    let ledger = Arc::new(FsLedger::new(root.join("_state/ledger")).unwrap());
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(DeltaLake::new(store.clone())),
        ledger,
        Arc::new(LogMetrics),
        Arc::new(ContractSet::defaults().unwrap()),
        IngestOptions {
            batch_rows: 1000,
            work_dir: Some(root.join(".tmp")),
            ..IngestOptions::default()
        },
    );
    (store, ingestor)
}

/// The rows of a lake table's current snapshot (optionally only some), through delta-rs.
pub async fn table_rows(
    store: Arc<dyn ObjectStore>,
    table: &str,
    filter: Option<&str>,
) -> Vec<arrow::array::RecordBatch> {
    DeltaLake::new(store)
        .read(table, filter, None)
        .await
        .unwrap()
}

/// `'text'` as a SQL literal.
pub fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn processed(outcome: IngestOutcome) -> Manifest {
    match outcome {
        IngestOutcome::Processed(m) => *m,
        IngestOutcome::Skipped { key, .. } => panic!("{key} was skipped"),
        IngestOutcome::Superseded { key, .. } => panic!("{key} was superseded"),
    }
}

/// Every file under `root` (except the ephemeral `.tmp`) with its bytes.
pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
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

pub async fn all_bytes(store: &dyn ObjectStore) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for o in store.list("").await.unwrap() {
        out.push((o.key.clone(), store.get(&o.key).await.unwrap()));
    }
    out
}
