//! Ports: the small traits the pipeline talks to, so the same code runs on a laptop (local
//! adapters: filesystem, in-memory) and in AWS (S3, DynamoDB, Kinesis, SNS, CloudWatch EMF).
//!
//! Each trait has one capability. Conversions to and from a backend's own types happen inside
//! its adapter, never in pipeline code.

use std::fmt::Debug;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's full key from the store's root (a listing gives full keys, not keys
    /// relative to its prefix).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// A content fingerprint (S3 ETag; content hash for local stores). Listings of stores that
    /// cannot give it cheaply leave it empty.
    pub etag: Option<String>,
    /// Last modification time, if known.
    pub last_modified: Option<DateTime<Utc>>,
}

/// Errors from an object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object at that key.
    #[error("object {key} not found")]
    NotFound {
        /// The key that was asked for: no object has it.
        key: String,
    },
    /// The key is not acceptable (empty segment, `..`, absolute, ...).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The refused key, as the caller gave it.
        key: String,
        /// Which of [`check_key`]'s rules it breaks (`empty path segment`, ...).
        reason: &'static str,
    },
    /// Local I/O failed.
    #[error("I/O error on {path}")]
    Io {
        /// The local file or directory the operation failed on (the directory store's file,
        /// its `.tmp/` staging directory, or a download's destination).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The backend (S3, ...) failed.
    #[error("{operation} {key} failed")]
    Backend {
        /// The operation (`GetObject`, ...).
        operation: &'static str,
        /// The object key the operation was on.
        key: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Backend { retryable, .. } => *retryable,
            Self::Io { .. } => true,
            Self::NotFound { .. } | Self::InvalidKey { .. } => false,
        }
    }
}

/// Checks that a key is one every store writes: non-empty `/`-separated segments, none of them
/// `.`, `..` or starting with `.`, no backslash, no leading `/` (on a directory, a safe relative
/// path). Every [`ObjectStore`] refuses to write any other key with [`StoreError::InvalidKey`];
/// the directory store refuses to read one too.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.starts_with('/') || key.contains('\\') {
        return bad("keys are relative and use `/`");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return bad("empty path segment");
        }
        if segment.starts_with('.') {
            return bad("segments may not start with `.`");
        }
    }
    Ok(())
}

/// Objects by key: the lake (S3 in AWS, a directory locally).
#[async_trait]
pub trait ObjectStore: Send + Sync + Debug {
    /// The whole object in memory (manifests, small tables).
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    /// Streams the object to a local file; memory stays bounded whatever its size.
    async fn download(&self, key: &str, dest: &Path) -> Result<ObjectMeta, StoreError>;
    /// Writes an object from memory (atomically: readers see the old or the new object).
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError>;
    /// Writes an object from a local file, streaming (multipart in S3).
    async fn upload(&self, key: &str, src: &Path) -> Result<ObjectMeta, StoreError>;
    /// Writes the object only if no object has that key; `false` when one already exists.
    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError>;
    /// The object's metadata, or `None`.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;
    /// Every object whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;
    /// The objects of [`ObjectStore::list`] whose key sorts after `after` (not equal to it),
    /// sorted by key: how a table's log is read from its last checkpoint on, without listing
    /// every commit since the first. Stores that can start a listing at a key (S3's
    /// `StartAfter`) override it; the default filters the whole listing.
    async fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut listed = self.list(prefix).await?;
        listed.retain(|m| m.key.as_str() > after);
        Ok(listed)
    }
    /// Deletes the object (no error when absent).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Bytes `range` (start inclusive, end exclusive; an end past the object's end is cut to
    /// it) of the object: what table readers fetch (a Parquet footer, one column chunk)
    /// without reading the whole object.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError>;
    /// The object's size and modification time, or `None`. Unlike [`ObjectStore::head`] the
    /// fingerprint may be missing: stores where it costs a read of the object leave it out.
    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;
}

/// One landing object's valid rows for its dataset's silver table, staged on local disk.
#[derive(Debug, Clone)]
pub struct SilverWrite<'a> {
    /// The dataset's contract: its `primary_key` is the upsert key, its `version_column` (if
    /// any) decides which version of a key wins before the landing order does.
    pub contract: &'a crate::contract::Contract,
    /// The landing key the rows came from. Rows an earlier version of this key contributed
    /// that the new version no longer has are removed by the same commit.
    pub source_key: &'a str,
    /// The landing object's place in the order of versions (the `_sequence` of its rows): a
    /// row replaces the table's row for its key only when its sequence is not older.
    pub sequence: &'a str,
    /// The run, recorded in the commit.
    pub run_id: &'a str,
    /// Staged Parquet files of typed rows with lineage and each row's event date in the `dt`
    /// partition column (the silver table's schema).
    pub parts: Vec<PathBuf>,
}

/// What one silver commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilverCommit {
    /// The table version committed (`None` when there was nothing to commit).
    pub version: Option<u64>,
    /// Rows whose key the table did not hold.
    pub rows_inserted: u64,
    /// Rows that replaced the table's row for their key (another object's, or this object's
    /// earlier version's).
    pub rows_replaced: u64,
    /// Rows not applied because the table holds a newer version of their key.
    pub rows_superseded: u64,
    /// Rows an earlier version of this landing key contributed that this version no longer
    /// has: removed.
    pub rows_retracted: u64,
    /// Commit attempts (more than 1 when concurrent writers conflicted).
    pub attempts: u32,
    /// Small data files that auto-compaction re-packed after the write (partitions the write
    /// touched that had grown past the table's file bound), in a commit of its own.
    pub files_compacted: u64,
}

/// One landing object's rejected rows for its dataset's quarantine table.
#[derive(Debug, Clone)]
pub struct QuarantineWrite<'a> {
    /// The dataset: the commit goes to `quarantine/{dataset}`.
    pub dataset: &'a str,
    /// The landing key the rows came from; with `source_etag`, it names the rows the
    /// commit replaces.
    pub source_key: &'a str,
    /// The landing object version: quarantine rows are keyed by (key, version, row), so a
    /// replay replaces them instead of adding them again.
    pub source_etag: &'a str,
    /// The run, recorded in the commit.
    pub run_id: &'a str,
    /// The ingest date (the table's partition).
    pub ingest_date: NaiveDate,
    /// The staged Parquet file of quarantine rows (`None`: the object has none now).
    pub part: Option<PathBuf>,
}

/// What a commit to a table did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCommit {
    /// The table's key prefix (`quarantine/transactions`, `gold/fact_sales`, ...).
    pub table: String,
    /// The table version committed (`None` when there was nothing to commit).
    pub version: Option<u64>,
    /// Rows written.
    pub rows: u64,
    /// Commit attempts (more than 1 when concurrent writers conflicted).
    pub attempts: u32,
    /// Small data files that auto-compaction re-packed after the write.
    #[serde(default)]
    pub files_compacted: u64,
}

/// Errors from the lake's tables.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Concurrent writers kept winning: the commit was retried `attempts` times.
    #[error("table {table}: commit still conflicting after {attempts} attempts")]
    Conflict {
        /// The table's key prefix (`silver/transactions`, `gold/fact_sales`, ...).
        table: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A staged file could not be read.
    #[error("cannot read the staged file {path}")]
    Staged {
        /// The staged Parquet file on local disk that could not be opened or decoded.
        path: PathBuf,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The table format library or the storage under it failed.
    #[error("table {table}: {operation} failed")]
    Backend {
        /// The operation (`merge`, `write`, `load`, ...).
        operation: &'static str,
        /// The table's key prefix (`silver/transactions`, `gold/fact_sales`, ...), or the
        /// layer's (`silver/`) when listing the tables failed.
        table: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl TableError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict { .. } => true,
            Self::Backend { retryable, .. } => *retryable,
            Self::Staged { .. } => false,
        }
    }
}

/// The lake's tables as the ingestion writes them: silver upserts and quarantine rows, each
/// one atomic commit; reference values read from the current snapshot.
#[async_trait]
pub trait LakeTables: Send + Sync + Debug {
    /// Upserts a landing object's valid rows into `silver/{dataset}` on the contract's
    /// primary key, and removes the rows an earlier version of the same landing key
    /// contributed that this one no longer has: one commit.
    async fn write_silver(&self, write: SilverWrite<'_>) -> Result<SilverCommit, TableError>;
    /// Replaces a landing object's rows in `quarantine/{dataset}`: one commit.
    async fn write_quarantine(&self, write: QuarantineWrite<'_>)
    -> Result<TableCommit, TableError>;
    /// The distinct non-null values of `column` in `silver/{dataset}`, as text; `None` when
    /// the table does not exist yet.
    async fn column_values(
        &self,
        dataset: &str,
        column: &str,
    ) -> Result<Option<std::collections::HashSet<String>>, TableError>;
}

/// The state of a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LedgerState {
    /// Being processed; another claim before `lease_until` is refused.
    InProgress {
        /// When a crashed run's claim may be taken over.
        lease_until: DateTime<Utc>,
    },
    /// Done; the manifest says what was written.
    Completed {
        /// Key of the manifest the completing run wrote (`manifests/...`): where a
        /// skipped duplicate points.
        manifest_key: String,
    },
}

/// One object's processing record in the idempotency ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Deterministic id of (key, etag): also names every output of the object.
    pub object_id: String,
    /// The landing key of the object (`landing/{dataset}/...`).
    pub key: String,
    /// The object version processed: the ETag the claim was made for.
    pub etag: String,
    /// The run that claimed it.
    pub run_id: String,
    /// The ingest date of the first claim: replays write to the same partitions.
    pub ingest_date: NaiveDate,
    /// When the first claim happened.
    pub ingested_at: DateTime<Utc>,
    /// Claims so far (1 for the first).
    pub attempts: u32,
    /// The S3 event `sequencer` of the object version, when an event carried one: it orders
    /// this version among the key's versions (see [`crate::layer::sequence_of`]); kept for
    /// replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// In progress (with its lease) or completed (with its manifest): flattened into the
    /// entry's JSON as a `state` tag.
    #[serde(flatten)]
    pub state: LedgerState,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller owns the object now (a new claim, or a takeover of an expired one).
    Acquired(LedgerEntry),
    /// Already processed: skip it.
    Completed(LedgerEntry),
    /// Another run holds a live claim: refuse.
    Busy(LedgerEntry),
}

/// Errors from a ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Local I/O failed.
    #[error("ledger I/O error on {path}")]
    Io {
        /// The ledger file (`{object_id}.json`), its `.lock` file or the ledger directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored entry could not be decoded.
    #[error("ledger entry {object_id} is corrupt")]
    Corrupt {
        /// The [`LedgerEntry::object_id`] of the entry whose JSON could not be decoded.
        object_id: String,
        /// The decoding error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend (DynamoDB, ...) failed.
    #[error("ledger {operation} failed")]
    Backend {
        /// The backend call that failed (DynamoDB's `GetItem`, `PutItem`, `DeleteItem`).
        operation: &'static str,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `complete`/`release` by a run that does not hold the claim.
    #[error("ledger entry {object_id} is not held by run {run_id}")]
    NotHeld {
        /// The [`LedgerEntry::object_id`] the run tried to complete or release.
        object_id: String,
        /// The run that asked; the entry is not in progress under it (another run took it
        /// over, or it is completed or gone).
        run_id: String,
    },
}

/// A claim request: which object, by whom, for how long.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Deterministic id of (key, etag) ([`crate::layer::object_id`]): the ledger
    /// entry's key.
    pub object_id: String,
    /// The landing key of the object (`landing/{dataset}/...`).
    pub key: String,
    /// The object version to process: the ETag the store reports for it.
    pub etag: String,
    /// The run that will hold the claim (an id from [`crate::ingest::new_run_id`]).
    pub run_id: String,
    /// The claim's clock: the ingest date and time of a fresh entry, and the start of its
    /// lease; an in-progress entry whose lease ends after it is busy.
    pub now: DateTime<Utc>,
    /// How long the claim is protected if the run crashes.
    pub lease: chrono::Duration,
    /// Take over a completed entry too (a replay), keeping its ingest date.
    pub force: bool,
    /// The S3 event `sequencer`, when the claim comes from an event that carried one.
    pub sequencer: Option<String>,
}

/// The idempotency ledger: at most one run processes an object version, a completed one is
/// never processed again, a crashed run's claim expires.
#[async_trait]
pub trait Ledger: Send + Sync + Debug {
    /// Claims an object (conditional write).
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, LedgerError>;
    /// Marks a held claim completed.
    async fn complete(&self, entry: &LedgerEntry, manifest_key: &str) -> Result<(), LedgerError>;
    /// Gives up a held claim so the object can be retried at once.
    async fn release(&self, entry: &LedgerEntry) -> Result<(), LedgerError>;
    /// Forgets an entry whatever its state (for an operator's replay).
    async fn forget(&self, object_id: &str) -> Result<(), LedgerError>;
}

impl ClaimRequest {
    /// The entry a fresh claim creates.
    pub fn new_entry(&self) -> LedgerEntry {
        LedgerEntry {
            object_id: self.object_id.clone(),
            key: self.key.clone(),
            etag: self.etag.clone(),
            run_id: self.run_id.clone(),
            ingest_date: self.now.date_naive(),
            ingested_at: self.now,
            attempts: 1,
            sequencer: self.sequencer.clone(),
            state: LedgerState::InProgress {
                lease_until: self.now + self.lease,
            },
        }
    }

    /// Decides a claim against an existing entry: the shared rule every ledger applies.
    pub fn decide(&self, existing: LedgerEntry) -> Claim {
        match &existing.state {
            LedgerState::Completed { .. } if !self.force => Claim::Completed(existing),
            LedgerState::InProgress { lease_until } if *lease_until > self.now => {
                Claim::Busy(existing)
            }
            LedgerState::Completed { .. } | LedgerState::InProgress { .. } => {
                Claim::Acquired(LedgerEntry {
                    run_id: self.run_id.clone(),
                    attempts: existing.attempts + 1,
                    sequencer: existing
                        .sequencer
                        .clone()
                        .or_else(|| self.sequencer.clone()),
                    state: LedgerState::InProgress {
                        lease_until: self.now + self.lease,
                    },
                    ..existing
                })
            }
        }
    }
}

/// A metric's unit (CloudWatch names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// A number of things (`Count`): rows, files.
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Milliseconds,
    /// A percentage, 0 to 100 (`Percent`).
    Percent,
}

/// A set of metric values sharing dimensions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSet {
    /// Dimension name/value pairs (e.g. `Dataset=transactions`).
    pub dimensions: Vec<(String, String)>,
    /// Metric name, value, unit.
    pub values: Vec<(String, f64, Unit)>,
}

impl MetricSet {
    /// One of [`MetricSet::values`] from a whole number (a count, bytes, milliseconds), which
    /// the metric keeps as a float, as CloudWatch does.
    pub fn value(name: &str, value: u64, unit: Unit) -> (String, f64, Unit) {
        (name.to_string(), value as f64, unit)
    }
}

/// Where counts and durations go.
pub trait Metrics: Send + Sync + Debug {
    /// Records a set of values. Never fails: a metric that cannot be recorded is lost,
    /// not an error of the caller.
    fn emit(&self, set: &MetricSet);
}

/// Errors from a notifier.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Local I/O failed.
    #[error("notification I/O error on {path}")]
    Io {
        /// The message's JSON file in the notifier's directory, or that directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The backend (SNS) failed.
    #[error("publishing the notification failed")]
    Backend {
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A message for people: a run summary or an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// One line saying what happened (an e-mail subject).
    pub subject: String,
    /// The text of the message: plain text, one fact per line, with the lake keys to look
    /// at (an e-mail body).
    pub body: String,
    /// `summary` or `alert`.
    pub kind: String,
}

/// Publishes summaries and alerts.
#[async_trait]
pub trait Notifier: Send + Sync + Debug {
    /// Publishes one message.
    async fn publish(&self, message: &Notification) -> Result<(), NotifyError>;
}

/// A unit of product-fetch work: one page of one source, for one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchTask {
    /// The ingestion run the page belongs to: with `page`, the task's partition key.
    pub run_id: String,
    /// The product API (`dummyjson`, `fakestore`).
    pub source: String,
    /// 1-based page number.
    pub page: u32,
    /// Records per page.
    pub page_size: u32,
    /// Records skipped before this page (`(page - 1) × page_size`).
    pub skip: u32,
}

impl FetchTask {
    /// The stream partition key: spreads a run's pages over shards, stable for retries.
    pub fn partition_key(&self) -> String {
        format!("{}/{}", self.run_id, self.page)
    }
}

/// Errors from a task queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend (Kinesis) failed for the whole call.
    #[error("publishing tasks failed")]
    Backend {
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Some tasks were still refused after every retry.
    #[error(
        "{failed} of {total} tasks could not be published after {attempts} attempts (last error: {last_error})"
    )]
    Partial {
        /// Tasks refused.
        failed: usize,
        /// Tasks sent.
        total: usize,
        /// Attempts made.
        attempts: u32,
        /// The last per-entry error code.
        last_error: String,
    },
    /// A task could not be encoded.
    #[error("encoding a task failed")]
    Encode(#[source] serde_json::Error),
}

/// Publishes fetch tasks (Kinesis in AWS, a list in-process locally).
#[async_trait]
pub trait TaskQueue: Send + Sync + Debug {
    /// Publishes all tasks, retrying only the entries the backend refused.
    async fn publish(&self, tasks: &[FetchTask]) -> Result<(), QueueError>;
}

/// A product as the product API describes it, in the shape the products table keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// Product id (as text).
    pub product_id: String,
    /// The products contract's `name` column (a source's `title`, `product_name`, ...).
    pub name: Option<String>,
    /// The products contract's `category` column.
    pub category: Option<String>,
    /// Price in cents.
    pub price_cents: Option<i64>,
    /// Units in stock.
    pub stock: Option<i64>,
    /// The products contract's `brand` column (a source's `manufacturer`).
    pub brand: Option<String>,
    /// Stock-keeping unit: the products contract's `sku` column.
    pub sku: Option<String>,
}

impl ProductRecord {
    /// A fingerprint of every field: equal fingerprints mean nothing changed.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        crate::ids::sha256_hex(text.as_bytes(), 16)
    }
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new product.
    Inserted,
    /// A field changed; the previous price is kept as `previous_price_cents`.
    Updated {
        /// The price before this change.
        previous_price_cents: Option<i64>,
    },
    /// Nothing changed: nothing written.
    Unchanged,
}

/// Errors from a product store.
#[derive(Debug, thiserror::Error)]
pub enum ProductStoreError {
    /// The backend (DynamoDB) failed.
    #[error("product store {operation} failed")]
    Backend {
        /// The DynamoDB call that failed (`GetItem`, `PutItem`).
        operation: &'static str,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item could not be decoded.
    #[error("stored product {product_id} is malformed: {problem}")]
    Corrupt {
        /// The `product_id` of the stored item.
        product_id: String,
        /// What is wrong.
        problem: String,
    },
}

impl ProductStoreError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                retryable: true,
                ..
            }
        )
    }
}

/// The products table: the latest state of each product, with its previous price.
#[async_trait]
pub trait ProductStore: Send + Sync + Debug {
    /// Writes the product only when a field changed (conditional on the stored version).
    async fn upsert_if_changed(
        &self,
        product: &ProductRecord,
        seen_at: DateTime<Utc>,
    ) -> Result<UpsertOutcome, ProductStoreError>;
}

/// An ingestion run as registered under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run that owns the key (an id from [`crate::ingest::new_run_id`]).
    pub run_id: String,
    /// Fetch tasks planned for it: one per page of the request.
    pub tasks: u32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Whether its tasks were published (a retry republishes an unpublished run).
    pub published: bool,
}

/// Errors from a run registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The backend (DynamoDB) failed.
    #[error("run registry {operation} failed")]
    Backend {
        /// The DynamoDB call that failed (`GetItem`, `PutItem`, `UpdateItem`).
        operation: &'static str,
        /// Whether trying again may succeed.
        retryable: bool,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record could not be decoded.
    #[error("run record {key} is malformed: {problem}")]
    Corrupt {
        /// The idempotency key.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// Idempotency keys of ingestion requests → the run they started.
#[async_trait]
pub trait RunRegistry: Send + Sync + Debug {
    /// Registers `run` under `key` unless the key exists; returns the run that owns the key.
    /// `Ok((run, true))` when this call registered it.
    async fn register(
        &self,
        key: &str,
        run: &RunRecord,
    ) -> Result<(RunRecord, bool), RegistryError>;
    /// Records that the run's tasks were published.
    async fn mark_published(&self, key: &str) -> Result<(), RegistryError>;
}

/// One HTTP response, as the product fetcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code: any status comes back as a response; the caller judges it.
    pub status: u16,
    /// `Retry-After`, in seconds, when the server sent one.
    pub retry_after_secs: Option<u64>,
    /// The whole response body, read into memory, whatever the status.
    pub body: Vec<u8>,
}

/// A transport failure (no response).
#[derive(Debug, thiserror::Error)]
#[error("GET {url} failed{}", if *.timed_out { " (timed out)" } else { "" })]
pub struct TransportError {
    /// The URL of the GET.
    pub url: String,
    /// Whether it was a timeout.
    pub timed_out: bool,
    /// The client's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// An HTTP GET with a timeout.
#[async_trait]
pub trait HttpGet: Send + Sync + Debug {
    /// Fetches `url`. A response of any status is `Ok`; `Err` only when none arrived.
    async fn get(&self, url: &str) -> Result<HttpResponse, TransportError>;
}
