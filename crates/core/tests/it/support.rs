//! Shared helpers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shopflow_core::adapters::local::{FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::adapters::memory::{MemoryLedger, MemoryObjectStore};
use shopflow_core::contract::ContractSet;
use shopflow_core::ingest::{IngestOptions, IngestOutcome, Ingestor, Manifest};
use shopflow_core::ports::{Ledger, ObjectMeta, ObjectStore, StoreError};
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

/// An ingestor of `contracts` writing through `store` to `tables`, with its ledger and work
/// directory inside the lake directory `root` (where `shopflow` keeps them) and the default
/// batch size.
pub fn lake_ingestor(
    root: &Path,
    store: Arc<dyn ObjectStore>,
    tables: &DeltaLake,
    contracts: ContractSet,
) -> Ingestor {
    Ingestor::new(
        store,
        Arc::new(tables.clone()),
        Arc::new(FsLedger::new(root.join("_state/ledger")).unwrap()),
        Arc::new(LogMetrics),
        Arc::new(contracts),
        IngestOptions {
            work_dir: Some(root.join(".tmp")),
            ..IngestOptions::default()
        },
    )
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

/// A call a [`HookedStore`] is about to pass on.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The port method's name: `"download"`, `"put_if_absent"`, `"list"`, ...
    pub operation: &'static str,
    /// The call's key (a listing's prefix).
    pub key: &'a str,
    /// The directory store the call goes to.
    pub inner: &'a FsObjectStore,
}

/// What a [`HookedStore`] does before it passes a call on to the directory store under it.
#[async_trait::async_trait]
pub trait StoreHook: Send + Sync + std::fmt::Debug + 'static {
    /// Runs before `call` reaches its store; it may act on that store first, and an error
    /// fails the call.
    async fn before(&self, call: Call<'_>) -> Result<(), StoreError>;
}

/// A directory store that runs `hook` before every call: how a test makes something happen
/// (another writer, a re-drop, a count) between two of the pipeline's own calls.
#[derive(Debug)]
pub struct HookedStore<H> {
    /// The store every call is passed on to.
    pub inner: Arc<FsObjectStore>,
    /// What runs before each call.
    pub hook: H,
}

impl<H> HookedStore<H> {
    /// The call `operation` on `key`, as the hook sees it.
    fn call<'a>(&'a self, operation: &'static str, key: &'a str) -> Call<'a> {
        Call {
            operation,
            key,
            inner: &self.inner,
        }
    }
}

#[async_trait::async_trait]
impl<H: StoreHook> ObjectStore for HookedStore<H> {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.hook.before(self.call("get", key)).await?;
        self.inner.get(key).await
    }
    async fn download(&self, key: &str, dest: &Path) -> Result<ObjectMeta, StoreError> {
        self.hook.before(self.call("download", key)).await?;
        self.inner.download(key, dest).await
    }
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        self.hook.before(self.call("put", key)).await?;
        self.inner.put(key, body).await
    }
    async fn upload(&self, key: &str, src: &Path) -> Result<ObjectMeta, StoreError> {
        self.hook.before(self.call("upload", key)).await?;
        self.inner.upload(key, src).await
    }
    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        self.hook.before(self.call("put_if_absent", key)).await?;
        self.inner.put_if_absent(key, body).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.hook.before(self.call("head", key)).await?;
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.hook.before(self.call("list", prefix)).await?;
        self.inner.list(prefix).await
    }
    async fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.hook.before(self.call("list_after", prefix)).await?;
        self.inner.list_after(prefix, after).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.hook.before(self.call("delete", key)).await?;
        self.inner.delete(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>, StoreError> {
        self.hook.before(self.call("get_range", key)).await?;
        self.inner.get_range(key, range).await
    }
    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.hook.before(self.call("stat", key)).await?;
        self.inner.stat(key).await
    }
}
