//! The lake's tables: silver, quarantine and every gold table are Delta Lake tables, written
//! with delta-rs through the [`ObjectStore`] port ([`store::PortStore`]), so the same code
//! runs on a lake directory, in memory and on S3 (`docs/adr/0007-delta-lake-tables.md`).
//!
//! | table | key prefix | partitioned by | written by |
//! |---|---|---|---|
//! | silver | `silver/{dataset}` | `dt` (event date) | per landing object: an append of new files when the table holds none of its keys ([`append`]), otherwise MERGEs on the contract's `primary_key` |
//! | quarantine | `quarantine/{dataset}` | `ingest_date` | one replace of the landing object's rows |
//! | gold | `gold/{table}` | `dt`, or none | one replace of the rebuilt days (or the whole table) |
//!
//! Every write is one commit. A commit that loses a race with a concurrent writer is retried
//! by delta-rs when the two do not conflict (two appends), and otherwise redone from the new
//! snapshot here, up to [`TableOptions::max_attempts`] times: no commit is lost. Commits
//! carry `shopflow.*` metadata (run, landing key, sequence) in their `commitInfo`.
//!
//! Which version of a key wins in silver: the row from the same landing key with a sequence
//! not older (a replay, a corrected re-drop); otherwise, when the contract names a
//! `version_column`, the greater value (nulls lose), then the later landing sequence.

mod append;
pub mod chunks;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext, lit};
use datafusion::scalar::ScalarValue;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake_core::kernel::transaction::{CommitProperties, TransactionError};
use deltalake_core::kernel::{StructField, StructType};
use deltalake_core::operations::vacuum::VacuumMode;
use deltalake_core::operations::write::SchemaMode;
use deltalake_core::protocol::SaveMode;
use deltalake_core::{DeltaTable, DeltaTableBuilder, DeltaTableError, TableProperty};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::contract::Contract;
use crate::layer::{self, INGEST_PARTITION_COLUMN, PARTITION_COLUMN, SEQUENCE_COLUMN};
use crate::ports::{
    LakeTables, MetricSet, Metrics, ObjectStore, QuarantineWrite, SilverCommit, SilverWrite,
    TableCommit, TableError, Unit,
};
use crate::validate::parse;

/// Settings of the lake's tables.
#[derive(Debug, Clone)]
pub struct TableOptions {
    /// Times a write is redone from a fresh snapshot when concurrent commits conflict.
    pub max_attempts: u32,
    /// The first pause between two attempts (doubled each time, with jitter, up to 2 s).
    pub retry_base: StdDuration,
    /// The data file size a compaction writes, in bytes (default 128 MiB): `maintain`
    /// rewrites a partition holding two or more files under half of it.
    pub target_file_size: NonZeroU64,
    /// How large one silver MERGE may be: a landing object with more event days or rows is
    /// committed in several MERGEs ([`chunks`]), which bounds memory whatever the file.
    pub commit_bounds: chunks::CommitBounds,
    /// Auto-compaction: a partition that a silver or quarantine write touched is compacted
    /// (OPTIMIZE on that partition alone, in its own commit) once it holds more than this many
    /// data files, so a burst of small landing objects leaves a bounded number of files per day
    /// between two `maintain` runs. Every load, MERGE and checkpoint costs in proportion to the
    /// table's live files (docs/adr/0013-auto-compaction.md). `0` turns it off.
    pub compact_files: usize,
    /// Times an auto-compaction is redone when a concurrent commit conflicts with it, before
    /// it is left to the next write of that partition.
    pub compact_attempts: u32,
    /// Event days whose data files a silver append writes at once (each an open Parquet
    /// writer holding its row group); a file with more days is written in windows of this
    /// many and still committed once (`docs/adr/0015-silver-append-path.md`).
    pub append_window_days: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            max_attempts: 40,
            retry_base: StdDuration::from_millis(20),
            target_file_size: NonZeroU64::new(128 * 1024 * 1024).unwrap_or(NonZeroU64::MIN),
            // Each event day a MERGE writes is an open Parquet writer holding its row group's
            // pages and dictionaries, and the MERGE's hash join holds its rows: 32 days and
            // 500,000 rows peaked at a 280 MiB heap on a 2M-row file, 8 and 250,000 at 120 MiB
            // (heaptrack); 4 and 125,000 keep a 1 GB file within 256 MiB of RSS in the release
            // build (docs/adr/0011-bounded-merge-memory.md).
            commit_bounds: chunks::CommitBounds {
                max_partitions: 4,
                max_rows: 125_000,
            },
            compact_files: 16,
            compact_attempts: 3,
            append_window_days: 4,
        }
    }
}

/// A past state of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The table at this version.
    Version(u64),
    /// The table as it was at this time (the last version committed at or before it).
    Timestamp(DateTime<Utc>),
}

impl std::str::FromStr for AsOf {
    type Err = String;

    /// A version number, an RFC 3339 time, or a date (`YYYY-MM-DD`, its end in UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(v) = s.parse::<u64>() {
            return Ok(Self::Version(v));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::Timestamp(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            && let Some(t) = d.and_hms_micro_opt(23, 59, 59, 999_999)
        {
            return Ok(Self::Timestamp(t.and_utc()));
        }
        Err(format!(
            "{s:?} is not a table version, an RFC 3339 time or a date (YYYY-MM-DD)"
        ))
    }
}

/// What `maintain` did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintainReport {
    /// The table's key prefix.
    pub table: String,
    /// Data files in the current snapshot before compaction.
    pub files_before: u64,
    /// Data files in the current snapshot after compaction.
    pub files_after: u64,
    /// Files VACUUM deleted (no longer referenced and older than the retention).
    pub files_deleted: u64,
    /// Bytes those files held.
    pub bytes_deleted: u64,
    /// Log files (commits and checkpoints) older than the table's log retention (30 days by
    /// default) and behind a checkpoint, deleted: commits do not clean the log themselves.
    #[serde(default)]
    pub log_files_deleted: u64,
    /// The table version after maintenance.
    pub version: Option<u64>,
}

/// The lake's tables on delta-rs.
#[derive(Clone)]
pub struct DeltaLake {
    store: Arc<dyn ObjectStore>,
    root: Arc<store::PortStore>,
    host: String,
    options: TableOptions,
    /// The last snapshot loaded of each table, brought up to date by the next load instead of
    /// read again from its checkpoint (shared by the clones of this lake).
    snapshots: Arc<Mutex<HashMap<String, Cached>>>,
}

/// A table's snapshot as last loaded, with what identifies the table it was read from: the
/// fingerprint of one of its commit files. A table deleted and created again under the same
/// key has other commit files, so its old snapshot is never updated with the new log.
#[derive(Clone)]
struct Cached {
    table: DeltaTable,
    commit: String,
    fingerprint: (u64, Option<DateTime<Utc>>, Option<String>),
}

impl std::fmt::Debug for DeltaLake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaLake")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

static LAKES: AtomicU64 = AtomicU64::new(0);

fn backend(operation: &'static str, table: &str, e: DeltaTableError) -> TableError {
    let retryable = matches!(
        e,
        DeltaTableError::ObjectStore { .. } | DeltaTableError::VersionAlreadyExists(_)
    );
    TableError::Backend {
        operation,
        table: table.to_string(),
        retryable,
        source: Box::new(e),
    }
}

fn df_error(
    operation: &'static str,
    table: &str,
    e: datafusion::error::DataFusionError,
) -> TableError {
    TableError::Backend {
        operation,
        table: table.to_string(),
        retryable: false,
        source: Box::new(e),
    }
}

/// Whether a failed commit lost a race that a fresh attempt can win.
fn is_conflict(e: &DeltaTableError) -> bool {
    match e {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::Transaction { source } => matches!(
            source,
            TransactionError::CommitConflict(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::VersionAlreadyExists(_)
        ),
        _ => false,
    }
}

/// A SQL string literal.
fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A quoted SQL identifier.
fn sql_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The silver table's schema: the silver columns (all nullable: a contract may relax a
/// column later) and the `dt` partition.
pub fn silver_table_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = layer::silver_schema(contract)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, true));
    Arc::new(Schema::new(fields))
}

/// The quarantine table's schema: the quarantine columns and the `ingest_date` partition.
pub fn quarantine_table_schema() -> SchemaRef {
    let mut fields: Vec<Field> = layer::quarantine_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(INGEST_PARTITION_COLUMN, DataType::Date32, true));
    Arc::new(Schema::new(fields))
}

/// The key prefix of a dataset's silver table.
pub fn silver_table(dataset: &str) -> String {
    format!("silver/{dataset}")
}

/// The key prefix of a dataset's quarantine table.
pub fn quarantine_table(dataset: &str) -> String {
    format!("quarantine/{dataset}")
}

/// The key prefix of a gold table.
pub fn gold_table(table: &str) -> String {
    format!("gold/{table}")
}

impl DeltaLake {
    /// The tables of the lake behind `store`, with default settings.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self::with_options(store, TableOptions::default())
    }

    /// The tables of the lake behind `store`, with `options`. Each lake has a host name
    /// of its own in delta-rs's table URLs, so two lakes in one process never share a table.
    pub fn with_options(store: Arc<dyn ObjectStore>, options: TableOptions) -> Self {
        // A host name of its own per instance: delta-rs registers each table's storage in a
        // query session under a URL derived from the table's, so two lakes in one process
        // must not share table URLs.
        let n = LAKES.fetch_add(1, Ordering::Relaxed);
        Self {
            root: Arc::new(store::PortStore::new(store.clone())),
            store,
            host: format!("lake{}-{n}", std::process::id()),
            options,
            snapshots: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The object store the tables read and write through: the whole lake, so callers
    /// also reach the objects that are not tables (manifests, bronze, reports).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn builder(&self, table: &str) -> Result<DeltaTableBuilder, TableError> {
        let url = Url::parse(&format!("memory://{}/{table}/", self.host)).map_err(|e| {
            TableError::Backend {
                operation: "url",
                table: table.to_string(),
                retryable: false,
                source: Box::new(e),
            }
        })?;
        let root: Arc<dyn object_store::ObjectStore> = self.root.clone();
        Ok(DeltaTableBuilder::from_url(url.clone())
            .map_err(|e| backend("open", table, e))?
            .with_storage_backend(root, url))
    }

    /// Whether `table` (a key prefix such as `silver/transactions`) has a commit log.
    ///
    /// Every table load asks, so it costs O(1) requests, not a listing of the whole log: a
    /// table has its checkpoint hint once it has been checkpointed, and its first commit until
    /// then (delta-rs removes old commits only behind a checkpoint). Only when neither exists
    /// (no table, or a log cleaned without a hint) is the log listed.
    pub async fn exists(&self, table: &str) -> Result<bool, TableError> {
        let log = format!("{table}/_delta_log/");
        let failed = |e: crate::ports::StoreError| TableError::Backend {
            operation: "list log",
            table: table.to_string(),
            retryable: e.is_retryable(),
            source: Box::new(e),
        };
        for marker in ["_last_checkpoint", "00000000000000000000.json"] {
            if self
                .store
                .stat(&format!("{log}{marker}"))
                .await
                .map_err(failed)?
                .is_some()
            {
                return Ok(true);
            }
        }
        let listed = self.store.list(&log).await.map_err(failed)?;
        Ok(listed.iter().any(|o| o.key.ends_with(".json")))
    }

    /// The table's current snapshot, or `None` when it does not exist yet.
    ///
    /// A table loaded before by this lake is brought up to date from the snapshot kept then:
    /// one stat of the commit file that identifies it, a listing of the log after its version
    /// and the new commits, instead of its checkpoint and every commit since. Anything
    /// unexpected (the commit file gone or changed, an update that fails) falls back to a
    /// full load.
    pub async fn load(&self, table: &str) -> Result<Option<DeltaTable>, TableError> {
        if let Some(t) = self.update_cached(table).await {
            return Ok(Some(t));
        }
        if !self.exists(table).await? {
            return Ok(None);
        }
        let t = self
            .builder(table)?
            .load()
            .await
            .map_err(|e| backend("load", table, e))?;
        self.remember(table, &t).await;
        Ok(Some(t))
    }

    /// The cached snapshot of `table` brought up to date, or `None` when there is none or it
    /// cannot be trusted (then it is forgotten).
    async fn update_cached(&self, table: &str) -> Option<DeltaTable> {
        let cached = self.snapshots.lock().ok()?.get(table).cloned()?;
        let same = match self.store.stat(&cached.commit).await {
            Ok(Some(m)) => (m.size, m.last_modified, m.etag) == cached.fingerprint,
            Ok(None) | Err(_) => false,
        };
        let mut t = cached.table;
        let updated = same && t.update_state().await.is_ok();
        let mut snapshots = self.snapshots.lock().ok()?;
        if !updated {
            tracing::debug!(table, "cached snapshot not usable; loading the table again");
            snapshots.remove(table);
            return None;
        }
        if let Some(c) = snapshots.get_mut(table)
            && c.commit == cached.commit
            && c.table.version() <= t.version()
        {
            c.table = t.clone();
        }
        Some(t)
    }

    /// Keeps `t` as the snapshot of `table` to update next time, identified by the fingerprint
    /// of its current commit file.
    async fn remember(&self, table: &str, t: &DeltaTable) {
        let Some(version) = t.version() else {
            return;
        };
        let commit = format!("{table}/_delta_log/{version:020}.json");
        let Ok(Some(m)) = self.store.stat(&commit).await else {
            return;
        };
        if let Ok(mut snapshots) = self.snapshots.lock() {
            snapshots.insert(
                table.to_string(),
                Cached {
                    table: t.clone(),
                    commit,
                    fingerprint: (m.size, m.last_modified, m.etag),
                },
            );
        }
    }

    /// The table as it was at `as_of`, or `None` when it did not exist then.
    pub async fn load_as_of(
        &self,
        table: &str,
        as_of: AsOf,
    ) -> Result<Option<DeltaTable>, TableError> {
        if !self.exists(table).await? {
            return Ok(None);
        }
        let builder = self.builder(table)?;
        let builder = match as_of {
            AsOf::Version(v) => builder.with_version(v),
            AsOf::Timestamp(t) => builder.with_timestamp(t),
        };
        match builder.load().await {
            Ok(t) => Ok(Some(t)),
            Err(DeltaTableError::InvalidVersion(_)) => Ok(None),
            Err(e) if e.to_string().contains("before") || e.to_string().contains("not found") => {
                Ok(None)
            }
            Err(e) => Err(backend("load as of", table, e)),
        }
    }

    /// Every table of the lake: the key prefixes under `silver/`, `quarantine/` and `gold/`
    /// that hold a commit log, sorted.
    pub async fn tables(&self) -> Result<Vec<String>, TableError> {
        let mut found = BTreeSet::new();
        for layer in ["silver/", "quarantine/", "gold/"] {
            let listed = self
                .store
                .list(layer)
                .await
                .map_err(|e| TableError::Backend {
                    operation: "list tables",
                    table: layer.to_string(),
                    retryable: e.is_retryable(),
                    source: Box::new(e),
                })?;
            for o in listed {
                if let Some((table, _)) = o.key.split_once("/_delta_log/") {
                    found.insert(table.to_string());
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// The rows of the table's current snapshot that match `filter` (a SQL condition over its
    /// columns; `None`: every row), in the order `order_by` gives (SQL, `None`: any order).
    /// Strings come back as plain `Utf8`. An absent table has no rows.
    pub async fn read(
        &self,
        table: &str,
        filter: Option<&str>,
        order_by: Option<&str>,
    ) -> Result<Vec<RecordBatch>, TableError> {
        let Some(t) = self.load(table).await? else {
            return Ok(Vec::new());
        };
        let ctx = Self::scan_session(&t, table).await?;
        let mut sql = "SELECT * FROM t".to_string();
        if let Some(f) = filter {
            sql.push_str(&format!(" WHERE {f}"));
        }
        if let Some(o) = order_by {
            sql.push_str(&format!(" ORDER BY {o}"));
        }
        let batches = ctx
            .sql(&sql)
            .await
            .map_err(|e| df_error("scan", table, e))?
            .collect()
            .await
            .map_err(|e| df_error("scan", table, e))?;
        batches
            .iter()
            .map(|b| {
                layer::map_columns(b, |c| match c.data_type() {
                    DataType::Utf8View | DataType::LargeUtf8 => {
                        arrow::compute::cast(c, &DataType::Utf8)
                    }
                    _ => Ok(c.clone()),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| df_error("scan", table, e.into()))
    }

    /// The data files of the table's current snapshot, as the log lists them (none when the
    /// table does not exist).
    async fn active_files(
        &self,
        table: &str,
    ) -> Result<Vec<deltalake_core::kernel::LogicalFileView>, TableError> {
        use futures::TryStreamExt;
        let Some(t) = self.load(table).await? else {
            return Ok(Vec::new());
        };
        t.get_active_add_actions_by_partitions(&[])
            .try_collect()
            .await
            .map_err(|e| backend("files", table, e))
    }

    /// The `dt` days the table's current snapshot has data files for (from the commit log:
    /// no data file is read).
    pub async fn partition_days(&self, table: &str) -> Result<BTreeSet<NaiveDate>, TableError> {
        let files = self.active_files(table).await?;
        Ok(files
            .iter()
            .filter_map(|f| f.partition_values_map().remove(PARTITION_COLUMN).flatten())
            .filter_map(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
            .collect())
    }

    /// The data files of the table's current snapshot: (key, size), sorted.
    pub async fn data_files(&self, table: &str) -> Result<Vec<(String, u64)>, TableError> {
        let files = self.active_files(table).await?;
        let mut out: Vec<(String, u64)> = files
            .iter()
            .map(|f| {
                (
                    format!("{table}/{}", f.path()),
                    u64::try_from(f.size()).unwrap_or(0),
                )
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Loads the table, creating it empty (with `schema`, partitioned by `partition`) when it
    /// does not exist yet. Two writers creating it at once both end with the same table.
    async fn load_or_create(
        &self,
        table: &str,
        schema: &Schema,
        partition: &str,
    ) -> Result<DeltaTable, TableError> {
        if let Some(t) = self.load(table).await? {
            return Ok(t);
        }
        let st: StructType = schema
            .try_into_kernel()
            .map_err(|e| backend("schema", table, e.into()))?;
        let fields: Vec<StructField> = st.fields().cloned().collect();
        let fresh = self
            .builder(table)?
            .build()
            .map_err(|e| backend("create", table, e))?;
        match fresh
            .create()
            .with_columns(fields)
            .with_partition_columns([partition])
            .with_configuration_property(
                TableProperty::CheckpointInterval,
                Some(CHECKPOINT_INTERVAL.to_string()),
            )
            .with_table_name(table.replace('/', "_"))
            .with_save_mode(SaveMode::Ignore)
            .await
        {
            Ok(t) => Ok(t),
            Err(e) if is_conflict(&e) => self
                .load(table)
                .await?
                .ok_or_else(|| backend("create", table, e)),
            Err(e) => Err(backend("create", table, e)),
        }
    }

    /// The properties of every commit: `shopflow.*` metadata, and no log cleanup. delta-rs
    /// otherwise cleans expired log files after every commit, which lists the whole
    /// `_delta_log/` each time (O(commits) requests per commit: 12 LIST pages per commit at
    /// 11,000 log files on S3); `maintain` cleans the log once instead.
    fn commit_properties(&self, meta: &[(&str, &str)]) -> CommitProperties {
        CommitProperties::default()
            .with_cleanup_expired_logs(Some(false))
            .with_metadata(meta.iter().map(|(k, v)| {
                (
                    format!("shopflow.{k}"),
                    serde_json::Value::String((*v).to_string()),
                )
            }))
    }

    /// Waits before attempt `attempt` (2, 3, ...): exponential with jitter, at most 2 s.
    async fn backoff(&self, attempt: u32) {
        let base = self.options.retry_base.as_millis() as u64;
        let exp = base.saturating_mul(1u64 << attempt.min(10)).min(2_000);
        let jitter = u64::from(rand::random::<u16>()) % exp.max(1);
        tokio::time::sleep(StdDuration::from_millis(exp / 2 + jitter / 2)).await;
    }

    /// Runs `op` until it commits, redoing it from a fresh snapshot when it loses a race.
    async fn with_retries<T, F, Fut>(&self, table: &str, op: F) -> Result<(T, u32), TableError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DeltaTableError>>,
    {
        self.with_attempts(table, self.options.max_attempts, op)
            .await
    }

    /// Runs `op` until it commits, at most `max_attempts` times.
    async fn with_attempts<T, F, Fut>(
        &self,
        table: &str,
        max_attempts: u32,
        mut op: F,
    ) -> Result<(T, u32), TableError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DeltaTableError>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok((v, attempt)),
                Err(e) if is_conflict(&e) => {
                    if attempt >= max_attempts.max(1) {
                        return Err(TableError::Conflict {
                            table: table.to_string(),
                            attempts: attempt,
                        });
                    }
                    tracing::debug!(table, attempt, error = %e, "commit conflicted; retrying");
                    attempt += 1;
                    self.backoff(attempt).await;
                }
                Err(e) => return Err(backend("commit", table, e)),
            }
        }
    }

    /// Deletes the silver rows matching `predicate` (one commit): what earlier versions of a
    /// landing key contributed that the write of its new version did not replace.
    async fn retract_silver(
        &self,
        write: &SilverWrite<'_>,
        predicate: &str,
    ) -> Result<(Option<u64>, u64, u32), TableError> {
        let table = silver_table(&write.contract.dataset);
        let schema = silver_table_schema(write.contract);
        let ((t, deleted), attempts) = self
            .with_retries(&table, || {
                let (table, schema, predicate) =
                    (table.clone(), schema.clone(), predicate.to_string());
                async move {
                    let target = self
                        .load_or_create(&table, &schema, PARTITION_COLUMN)
                        .await
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    let props = self.commit_properties(&[
                        ("run_id", write.run_id),
                        ("source_key", write.source_key),
                        ("sequence", write.sequence),
                        ("chunk", "retract"),
                    ]);
                    let (t, m) = target
                        .delete()
                        .with_predicate(predicate)
                        .with_writer_properties(layer::writer_properties())
                        .with_commit_properties(props)
                        .await?;
                    Ok((t, m.num_deleted_rows.unwrap_or(0) as u64))
                }
            })
            .await?;
        Ok((t.version(), deleted, attempts))
    }

    /// Where the table holds what a silver write touches: the (staged day, table day) pairs
    /// of staged keys whose current row is on another day, and the days holding rows of this
    /// landing key. Two scans of a few columns of the table; nothing when it does not exist.
    async fn located_days(
        &self,
        table: &str,
        write: &SilverWrite<'_>,
    ) -> Result<LocatedDays, TableError> {
        if write.parts.is_empty() {
            return Ok(LocatedDays::default());
        }
        let Some(t) = self.load(table).await? else {
            return Ok(LocatedDays::default());
        };
        let ctx = Self::scan_session(&t, table).await?;
        let keys = &write.contract.primary_key;
        let dt = sql_ident(PARTITION_COLUMN);
        let mut staged = Vec::new();
        for (i, path) in write.parts.iter().enumerate() {
            let name = format!("s{i}");
            ctx.register_parquet(
                &name,
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await
            .map_err(|e| TableError::Staged {
                path: path.clone(),
                source: Box::new(e),
            })?;
            let cols: Vec<String> = keys
                .iter()
                .map(|k| format!("CAST({0} AS VARCHAR) AS {0}", sql_ident(k)))
                .collect();
            staged.push(format!("SELECT {}, {dt} FROM {name}", cols.join(", ")));
        }
        let join: Vec<String> = keys
            .iter()
            .map(|k| format!("CAST(t.{0} AS VARCHAR) = s.{0}", sql_ident(k)))
            .collect();
        // Only the table's files whose first key column can hold a staged key: the range of
        // the staged keys is a literal condition that delta-rs prunes files by (their min/max
        // statistics), so a file of new, ordered keys reads none of the table's files.
        let range = match keys.first() {
            Some(first) => key_range(&ctx, first, write.parts.len()).await?,
            None => None,
        };
        tracing::debug!(
            table,
            // Whether, not what: key values may be personal data (an address as an id).
            by_key_range = range.is_some(),
            "locating staged keys"
        );
        // Every (staged day, table day) pair of a staged key the table holds: those on two
        // different days locate moved rows, and none at all means the write only adds keys.
        let matched_sql = format!(
            "SELECT DISTINCT s.{dt} AS sdt, t.{dt} AS tdt FROM t JOIN ({}) s ON {}{}",
            staged.join(" UNION ALL "),
            join.join(" AND "),
            range
                .as_ref()
                .map(|r| format!(" WHERE {}", r.condition("t.")))
                .unwrap_or_default()
        );
        let own_sql = format!(
            "SELECT DISTINCT {dt} AS tdt FROM t WHERE {} = {}",
            sql_ident("_source_key"),
            sql_literal(write.source_key)
        );
        let day = |a: &dyn Array, i: usize| {
            if a.is_null(i) {
                i32::MIN
            } else {
                a.as_primitive::<arrow::datatypes::Date32Type>().value(i)
            }
        };
        let mut out = LocatedDays {
            range: range.clone(),
            ..LocatedDays::default()
        };
        for b in ctx
            .sql(&matched_sql)
            .await
            .map_err(|e| df_error("scan", table, e))?
            .collect()
            .await
            .map_err(|e| df_error("scan", table, e))?
        {
            let (sdt, tdt) = (b.column(0), b.column(1));
            for i in 0..b.num_rows() {
                out.matched = true;
                let (s, t) = (day(sdt.as_ref(), i), day(tdt.as_ref(), i));
                if s != t {
                    out.moved.push((s, t));
                }
            }
        }
        for b in ctx
            .sql(&own_sql)
            .await
            .map_err(|e| df_error("scan", table, e))?
            .collect()
            .await
            .map_err(|e| df_error("scan", table, e))?
        {
            for i in 0..b.num_rows() {
                out.own.insert(day(b.column(0).as_ref(), i));
            }
        }
        out.read = Some(t);
        Ok(out)
    }

    /// One silver MERGE of `source` on the contract's key, reading only the table's
    /// `target_days`: newer rows replace the table's, new keys are inserted. It has no "not
    /// matched by source" clause, so delta-rs prunes the target by the source's days and key
    /// range. `chunk` (`i` of `n`) is recorded in the commit.
    async fn merge_silver(
        &self,
        write: &SilverWrite<'_>,
        source: SilverSource<'_>,
        target_days: &BTreeSet<i32>,
        chunk: Option<(usize, usize)>,
    ) -> Result<SilverCommit, TableError> {
        let contract = write.contract;
        let table = silver_table(&contract.dataset);
        let schema = silver_table_schema(contract);
        let on = format!(
            "{} AND {}",
            merge_on(contract),
            days_filter("target.", target_days)
        );
        let wins = source_wins(contract);
        let chunk = chunk.map(|(i, n)| format!("{i}/{n}"));
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let source = &source;
        let ((t, metrics), attempts) = self
            .with_retries(&table, || {
                let (on, wins, columns, schema, table, chunk) = (
                    on.clone(),
                    wins.clone(),
                    columns.clone(),
                    schema.clone(),
                    table.clone(),
                    chunk.clone(),
                );
                async move {
                    let target = self
                        .load_or_create(&table, &schema, PARTITION_COLUMN)
                        .await
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    let ctx = session();
                    let source = silver_source(&ctx, source, &schema, &table)
                        .await
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    let mut meta = vec![
                        ("run_id", write.run_id),
                        ("source_key", write.source_key),
                        ("sequence", write.sequence),
                    ];
                    if let Some(c) = chunk.as_deref() {
                        meta.push(("chunk", c));
                    }
                    let props = self.commit_properties(&meta);
                    let merge = target
                        .merge(source, on.as_str())
                        .with_source_alias("source")
                        .with_target_alias("target")
                        .with_writer_properties(layer::writer_properties())
                        .with_commit_properties(props)
                        .with_merge_schema(true)
                        .when_matched_update(|mut u| {
                            u = u.predicate(wins.as_str());
                            for c in &columns {
                                u = u.update(sql_ident(c), format!("source.{}", sql_ident(c)));
                            }
                            u
                        })?
                        .when_not_matched_insert(|mut i| {
                            for c in &columns {
                                i = i.set(sql_ident(c), format!("source.{}", sql_ident(c)));
                            }
                            i
                        })?;
                    let (t, m) = merge.await?;
                    Ok((t, m))
                }
            })
            .await?;
        let inserted = metrics.num_target_rows_inserted as u64;
        let replaced = metrics.num_target_rows_updated as u64;
        tracing::debug!(
            table,
            chunk = chunk.as_deref().unwrap_or("1/1"),
            files_scanned = metrics.num_target_files_scanned,
            files_skipped = metrics.num_target_files_skipped_during_scan,
            files_added = metrics.num_target_files_added,
            files_removed = metrics.num_target_files_removed,
            rows_copied = metrics.num_target_rows_copied,
            execution_ms = metrics.execution_time_ms,
            "silver merge"
        );
        Ok(SilverCommit {
            version: t.version(),
            rows_inserted: inserted,
            rows_replaced: replaced,
            rows_superseded: (metrics.num_source_rows as u64).saturating_sub(inserted + replaced),
            rows_retracted: 0,
            attempts,
            files_compacted: 0,
        })
    }

    /// Replaces the rows of `days` (partition `dt`) of a gold table with `batches`, or the
    /// whole table when `days` is `None`: one commit. Days without rows end empty. `inputs`,
    /// when given, is recorded in the commit (`shopflow.inputs`) for [`DeltaLake::gold_inputs`]
    /// to read back: what the rows were made from.
    pub async fn replace_gold(
        &self,
        table: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        days: Option<&BTreeSet<NaiveDate>>,
        run_id: &str,
        inputs: Option<&str>,
    ) -> Result<TableCommit, TableError> {
        let name = gold_table(table);
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        let batches = if batches.is_empty() {
            vec![RecordBatch::new_empty(schema.clone())]
        } else {
            batches
        };
        let predicate = days.map(|days| {
            if days.is_empty() {
                "FALSE".to_string()
            } else {
                let list: Vec<String> = days.iter().map(|d| format!("DATE '{d}'")).collect();
                format!("{} IN ({})", sql_ident(PARTITION_COLUMN), list.join(", "))
            }
        });
        let mut meta = vec![("run_id", run_id)];
        if let Some(inputs) = inputs {
            meta.push(("inputs", inputs));
        }
        let ((t, _), attempts) = self
            .with_retries(&name, || {
                let batches = batches.clone();
                let predicate = predicate.clone();
                let name = name.clone();
                let meta = meta.clone();
                async move {
                    let table = match self.load(&name).await {
                        Ok(Some(t)) => t,
                        Ok(None) => self
                            .builder(&name)
                            .and_then(|b| b.build().map_err(|e| backend("create", &name, e)))
                            .map_err(|e| DeltaTableError::generic(e.to_string()))?,
                        Err(e) => return Err(DeltaTableError::generic(e.to_string())),
                    };
                    let mut write = table
                        .write(batches)
                        .with_save_mode(SaveMode::Overwrite)
                        .with_schema_mode(SchemaMode::Merge)
                        .with_writer_properties(layer::writer_properties())
                        .with_commit_properties(self.commit_properties(&meta))
                        .with_table_name(name.replace('/', "_"));
                    if let Some(p) = predicate {
                        write = write
                            .with_partition_columns([PARTITION_COLUMN])
                            .with_replace_where(p);
                    }
                    let t = write.await?;
                    Ok((t, ()))
                }
            })
            .await?;
        Ok(TableCommit {
            table: name,
            version: t.version(),
            rows,
            attempts,
            files_compacted: 0,
        })
    }

    /// The `inputs` the latest commit of gold table `table` recorded ([`DeltaLake::replace_gold`]),
    /// or `None` when the table does not exist or its latest commit recorded none.
    pub async fn gold_inputs(&self, table: &str) -> Result<Option<String>, TableError> {
        use futures::TryStreamExt as _;
        let name = gold_table(table);
        let Some(t) = self.load(&name).await? else {
            return Ok(None);
        };
        let infos: Vec<_> = t
            .history(Some(1))
            .try_collect()
            .await
            .map_err(|e| backend("history", &name, e))?;
        Ok(infos.into_iter().next().and_then(|info| {
            info.info
                .get("shopflow.inputs")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        }))
    }

    /// Auto-compaction of the partitions a write touched: each of `days` (values of the
    /// partition column `column`, days since the epoch) that holds more than
    /// [`TableOptions::compact_files`] data files, and no more than the target file size in
    /// all, is rewritten into one file ([`DeltaLake::rewrite_partitions`]). Returns the files
    /// removed.
    ///
    /// Best effort: the write it follows is committed already, so a compaction that keeps
    /// losing to concurrent writers, or fails, is logged and left: the next write to the
    /// partition finds it still crowded and tries again. It never fails the write.
    async fn compact_partitions(
        &self,
        table: &str,
        column: &str,
        days: &BTreeSet<i32>,
        source_key: &str,
    ) -> u64 {
        match self.try_compact(table, column, days, source_key).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(table, error = %e, "auto-compaction left for a later write");
                0
            }
        }
    }

    async fn try_compact(
        &self,
        table: &str,
        column: &str,
        days: &BTreeSet<i32>,
        source_key: &str,
    ) -> Result<u64, TableError> {
        let limit = self.options.compact_files;
        if limit == 0 || days.is_empty() {
            return Ok(0);
        }
        let Some(t) = self.load(table).await? else {
            return Ok(0);
        };
        // A partition value as the log writes it; rows without a day (the null partition)
        // are left to `maintain`.
        let values: BTreeSet<String> = days
            .iter()
            .filter(|d| **d != i32::MIN)
            .map(|d| parse::date_from_days(*d).to_string())
            .collect();
        let target = self.options.target_file_size.get();
        let crowded: Vec<Option<String>> = partition_files(&t, table, column)
            .await?
            .into_iter()
            .filter(|(value, files)| {
                value.as_ref().is_some_and(|v| values.contains(v))
                    && files.len() > limit
                    && files.iter().map(|(_, size)| size).sum::<u64>() <= target
            })
            .map(|(value, _)| value)
            .collect();
        if crowded.is_empty() {
            return Ok(0);
        }
        let (removed, added, attempts) = self
            .rewrite_partitions(
                table,
                Some(column),
                &crowded,
                &[("operation", "auto-compact"), ("source_key", source_key)],
                self.options.compact_attempts,
            )
            .await?;
        tracing::info!(
            table,
            partitions = crowded.len(),
            files_removed = removed,
            files_added = added,
            attempts,
            "auto-compaction"
        );
        Ok(removed)
    }

    /// Rewrites the rows of the partitions `values` of `column` (the whole table when `column`
    /// is `None`) as they are, in one commit: compaction that concurrent writers cannot race.
    ///
    /// delta-rs's OPTIMIZE marks the files it removes `dataChange = false`, and its conflict
    /// checker (1.1.3) ignores such removals: a MERGE that rewrote a file OPTIMIZE compacted at
    /// the same time commits without a conflict, and both the compacted copy and the MERGE's
    /// new version of those rows stay in the table (the load test saw 1,505,441 rows for
    /// 299,414 keys when two compactions of one day overlapped). A rewrite through a
    /// `replaceWhere` overwrite removes its files with `dataChange = true`, so a writer that
    /// read or removed one of them conflicts and is redone, and so is the rewrite when a
    /// writer got there first. Returns (files removed, files added, attempts).
    async fn rewrite_partitions(
        &self,
        table: &str,
        column: Option<&str>,
        values: &[Option<String>],
        meta: &[(&str, &str)],
        max_attempts: u32,
    ) -> Result<(u64, u64, u32), TableError> {
        let ((removed, added, t), attempts) = self
            .with_attempts(table, max_attempts, || {
                async move {
                    let t = self
                        .load(table)
                        .await
                        .and_then(|t| t.ok_or_else(|| TableError::Backend {
                            operation: "compact",
                            table: table.to_string(),
                            retryable: false,
                            source: "the table is gone".into(),
                        }))
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    // A partition another writer compacted meanwhile is left as it is.
                    let still: Vec<Option<String>> = match column {
                        Some(c) => {
                            let files = partition_files(&t, table, c)
                                .await
                                .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                            values
                                .iter()
                                .filter(|v| files.get(*v).is_some_and(|f| f.len() >= 2))
                                .cloned()
                                .collect()
                        }
                        None => Vec::new(),
                    };
                    if column.is_some() && still.is_empty() {
                        return Ok((0, 0, t));
                    }
                    let predicate = column.map(|c| partition_predicate(c, &still));
                    let before = t.version();
                    let files = |t: &DeltaTable| t.get_file_uris().map(|f| f.collect::<HashSet<_>>());
                    let old = files(&t)?;
                    let ctx = Self::scan_session(&t, table)
                        .await
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    let sql = match &predicate {
                        Some(p) => format!("SELECT * FROM t WHERE {p}"),
                        None => "SELECT * FROM t".to_string(),
                    };
                    let frame = ctx.sql(&sql).await?;
                    let partition_columns = t.snapshot()?.metadata().partition_columns().to_vec();
                    let mut write = t
                        .clone()
                        .write(Vec::new())
                        .with_input_plan(frame.into_unoptimized_plan())
                        .with_save_mode(SaveMode::Overwrite)
                        .with_partition_columns(partition_columns)
                        .with_target_file_size(Some(self.options.target_file_size))
                        .with_writer_properties(layer::writer_properties())
                        .with_commit_properties(self.commit_properties(meta));
                    if let Some(p) = predicate {
                        write = write.with_replace_where(p);
                    }
                    let written = write.await?;
                    let new = files(&written)?;
                    let removed = old.difference(&new).count() as u64;
                    let added = new.difference(&old).count() as u64;
                    tracing::debug!(table, ?before, after = ?written.version(), "partitions rewritten");
                    Ok((removed, added, written))
                }
            })
            .await?;
        self.remember(table, &t).await;
        Ok((removed, added, attempts))
    }

    /// Compacts the table's small files (OPTIMIZE) and deletes files no version within
    /// `retention` references (VACUUM, full mode: also files of writes that never committed).
    pub async fn maintain(
        &self,
        table: &str,
        retention: chrono::Duration,
    ) -> Result<MaintainReport, TableError> {
        let Some(t) = self.load(table).await? else {
            return Ok(MaintainReport {
                table: table.to_string(),
                ..MaintainReport::default()
            });
        };
        let count = |t: &DeltaTable| -> Result<u64, TableError> {
            Ok(t.get_file_uris()
                .map_err(|e| backend("files", table, e))?
                .count() as u64)
        };
        let files_before = count(&t)?;
        // Every partition with two or more files under half the target size, rewritten a few
        // partitions per commit (each is an open writer): the same conflict-safe rewrite as
        // auto-compaction ([`DeltaLake::rewrite_partitions`]), not delta-rs's OPTIMIZE.
        let half = self.options.target_file_size.get() / 2;
        let column = t
            .snapshot()
            .map_err(|e| backend("metadata", table, e))?
            .metadata()
            .partition_columns()
            .first()
            .cloned();
        let small = |files: &[(String, u64)]| files.iter().filter(|(_, s)| *s < half).count();
        match &column {
            Some(c) => {
                let crowded: Vec<Option<String>> = partition_files(&t, table, c)
                    .await?
                    .into_iter()
                    .filter(|(_, files)| small(files) >= 2)
                    .map(|(value, _)| value)
                    .collect();
                let per_commit = self.options.commit_bounds.max_partitions.max(1);
                for values in crowded.chunks(per_commit) {
                    self.rewrite_partitions(
                        table,
                        Some(c),
                        values,
                        &[("operation", "maintain")],
                        self.options.max_attempts,
                    )
                    .await?;
                }
            }
            None => {
                let files: Vec<(String, u64)> = self.data_files(table).await?;
                if small(&files) >= 2 {
                    self.rewrite_partitions(
                        table,
                        None,
                        &[],
                        &[("operation", "maintain")],
                        self.options.max_attempts,
                    )
                    .await?;
                }
            }
        }
        let t = self.load(table).await?.ok_or_else(|| TableError::Backend {
            operation: "maintain",
            table: table.to_string(),
            retryable: false,
            source: "the table is gone".into(),
        })?;
        let files_after = count(&t)?;
        let std_retention = retention.to_std().unwrap_or_default();
        let enforce = std_retention >= StdDuration::from_secs(7 * 24 * 3600);
        let (t, dry) = t
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(retention)
            .with_enforce_retention_duration(enforce)
            .with_dry_run(true)
            .await
            .map_err(|e| backend("vacuum (dry run)", table, e))?;
        let mut bytes_deleted = 0;
        for f in &dry.files_deleted {
            let key = format!("{table}/{}", f.trim_start_matches('/'));
            let key = key
                .split_once(&format!("{}/", self.host))
                .map(|(_, k)| k.to_string())
                .unwrap_or(key);
            if let Ok(Some(m)) = self.store.stat(&key).await {
                bytes_deleted += m.size;
            }
        }
        let (t, done) = t
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(retention)
            .with_enforce_retention_duration(enforce)
            .with_commit_properties(self.commit_properties(&[("operation", "maintain")]))
            .await
            .map_err(|e| backend("vacuum", table, e))?;
        // The log's expired commits and checkpoints: the one listing of the whole log.
        let log_files_deleted = deltalake_core::checkpoints::cleanup_metadata(&t, None)
            .await
            .map_err(|e| backend("log cleanup", table, e))? as u64;
        Ok(MaintainReport {
            table: table.to_string(),
            files_before,
            files_after,
            files_deleted: done.files_deleted.len() as u64,
            bytes_deleted,
            log_files_deleted,
            version: t.version(),
        })
    }

    /// A query session in which the table `t` (named `table` in errors) is registered as `t`.
    async fn scan_session(t: &DeltaTable, table: &str) -> Result<SessionContext, TableError> {
        let ctx = session();
        let provider = t
            .table_provider()
            .build()
            .await
            .map_err(|e| df_error("scan", table, e))?;
        t.update_datafusion_session(&ctx.state())
            .map_err(|e| backend("scan", table, e))?;
        ctx.register_table("t", Arc::new(provider))
            .map_err(|e| df_error("scan", table, e))?;
        Ok(ctx)
    }
}

/// A new DataFusion session as every query over the lake's tables needs one: the tables' scans
/// here and the SQL engine (`sql::Engine`, feature `analytics`). Parquet strings read
/// as plain `Utf8` (the tables' type), not as the string views DataFusion prefers, so query
/// results have the types the tables declare.
pub(crate) fn session() -> SessionContext {
    let mut config = SessionConfig::new();
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    SessionContext::new_with_config(config)
}

/// Where a silver MERGE's rows come from.
enum SilverSource<'p> {
    /// The staged Parquet files, whole.
    Staged(&'p [std::path::PathBuf]),
    /// One chunk of them, spilled as Arrow IPC files ([`chunks::spill`]).
    Spilled(&'p [std::path::PathBuf]),
}

/// The source of a silver MERGE: the staged or spilled files (each row's event date in `dt`),
/// the table's columns in its order.
async fn silver_source(
    ctx: &SessionContext,
    source: &SilverSource<'_>,
    schema: &SchemaRef,
    table: &str,
) -> Result<datafusion::dataframe::DataFrame, TableError> {
    use datafusion::datasource::file_format::options::ArrowReadOptions;
    let mut frames = Vec::new();
    let paths = match source {
        SilverSource::Staged(p) | SilverSource::Spilled(p) => *p,
    };
    for path in paths {
        let path_text = path.to_string_lossy().to_string();
        let frame = match source {
            SilverSource::Staged(_) => {
                ctx.read_parquet(path_text, ParquetReadOptions::default())
                    .await
            }
            SilverSource::Spilled(_) => {
                ctx.read_arrow(path_text, ArrowReadOptions::default()).await
            }
        }
        .map_err(|e| TableError::Staged {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let columns = table_columns(&frame, schema, &[]);
        frames.push(
            frame
                .select(columns)
                .map_err(|e| df_error("source", table, e))?,
        );
    }
    let mut frames = frames.into_iter();
    let Some(first) = frames.next() else {
        return ctx
            .read_batch(RecordBatch::new_empty(schema.clone()))
            .map_err(|e| df_error("source", table, e));
    };
    frames.try_fold(first, |acc, f| {
        acc.union(f).map_err(|e| df_error("source", table, e))
    })
}

/// Where the table holds what a silver write touches ([`DeltaLake::located_days`]); days
/// since the epoch, `i32::MIN` for the null partition.
#[derive(Default)]
struct LocatedDays {
    /// (staged day, table day) of staged keys whose current row is on another day.
    moved: Vec<(i32, i32)>,
    /// Whether the table holds any staged key at all (on any day).
    matched: bool,
    /// Days holding rows of the landing key being written.
    own: BTreeSet<i32>,
    /// The range of the staged rows' first key column, when it can prune by statistics.
    range: Option<KeyRange>,
    /// The snapshot the scans read (`None`: the table did not exist, or nothing was staged).
    read: Option<DeltaTable>,
}

/// The smallest and largest staged value of the first key column, as SQL literals.
#[derive(Debug, Clone)]
struct KeyRange {
    /// The column, quoted.
    column: String,
    /// The smallest value.
    lo: String,
    /// The largest value.
    hi: String,
}

impl KeyRange {
    /// `{qualifier}{column} BETWEEN lo AND hi`: a condition delta-rs prunes files by.
    fn condition(&self, qualifier: &str) -> String {
        format!(
            "{qualifier}{} BETWEEN {} AND {}",
            self.column, self.lo, self.hi
        )
    }
}

/// The range of `key` over the staged parts `s0..s{parts}` registered in `ctx`, when the key
/// is text, or an integer, both staged and in the table `t` (otherwise, or when the staged
/// parts hold no key, `None`: no range to prune by).
async fn key_range(
    ctx: &SessionContext,
    key: &str,
    parts: usize,
) -> Result<Option<KeyRange>, TableError> {
    let k = sql_ident(key);
    let table_type = match ctx.table("t").await {
        Ok(t) => t
            .schema()
            .field_with_unqualified_name(key)
            .ok()
            .map(|f| f.data_type().clone()),
        Err(_) => None,
    };
    let union: Vec<String> = (0..parts)
        .map(|i| format!("SELECT {k} FROM s{i}"))
        .collect();
    let sql = format!(
        "SELECT MIN({k}) AS lo, MAX({k}) AS hi FROM ({})",
        union.join(" UNION ALL ")
    );
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(|e| df_error("scan", "staged", e))?
        .collect()
        .await
        .map_err(|e| df_error("scan", "staged", e))?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    // Text is text whatever its Arrow layout (the table's scan reads `Utf8View`).
    let class = |t: &DataType| match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some("text"),
        DataType::Int32 | DataType::Int64 => Some("integer"),
        _ => None,
    };
    let staged_class = class(b.column(0).data_type());
    if staged_class.is_none() || table_type.as_ref().and_then(class) != staged_class {
        tracing::debug!(key, table = ?table_type, staged = ?b.column(0).data_type(), "no key range to prune by");
        return Ok(None);
    }
    let literal = |c: usize| -> Option<String> {
        match ScalarValue::try_from_array(b.column(c), 0).ok()? {
            ScalarValue::Utf8(Some(v))
            | ScalarValue::LargeUtf8(Some(v))
            | ScalarValue::Utf8View(Some(v)) => Some(sql_literal(&v)),
            ScalarValue::Int64(Some(v)) => Some(v.to_string()),
            ScalarValue::Int32(Some(v)) => Some(v.to_string()),
            _ => None,
        }
    };
    Ok(match (literal(0), literal(1)) {
        (Some(lo), Some(hi)) => Some(KeyRange { column: k, lo, hi }),
        _ => None,
    })
}

/// A condition on the partition column (`qualifier` is `target.` in a MERGE) that lets
/// delta-rs prune every file of a day not in `days`.
fn days_filter(qualifier: &str, days: &BTreeSet<i32>) -> String {
    let dt = format!("{qualifier}{}", sql_ident(PARTITION_COLUMN));
    let dates: Vec<String> = days
        .iter()
        .filter(|d| **d != i32::MIN)
        .map(|d| format!("DATE '{}'", parse::date_from_days(*d)))
        .collect();
    let null = days.contains(&i32::MIN);
    match (dates.is_empty(), null) {
        (true, true) => format!("{dt} IS NULL"),
        (true, false) => "FALSE".to_string(),
        (false, false) => format!("{dt} IN ({})", dates.join(", ")),
        (false, true) => format!("({dt} IN ({}) OR {dt} IS NULL)", dates.join(", ")),
    }
}

/// The MERGE's match condition: the same primary key and, for a contract that keeps versions,
/// the same version (the same `version_column` value; the same landing sequence when neither
/// row has one).
fn merge_on(contract: &Contract) -> String {
    let mut on: Vec<String> = contract
        .primary_key
        .iter()
        .map(|k| format!("target.{0} = source.{0}", sql_ident(k)))
        .collect();
    if contract.keep_versions {
        let seq = sql_ident(SEQUENCE_COLUMN);
        match contract.version_column.as_deref() {
            Some(v) => {
                let v = sql_ident(v);
                on.push(format!(
                    "(target.{v} = source.{v} OR (target.{v} IS NULL AND source.{v} IS NULL AND target.{seq} = source.{seq}))"
                ));
            }
            None => on.push(format!("target.{seq} = source.{seq}")),
        }
    }
    on.join(" AND ")
}

/// The condition under which a source row replaces the table's row for the same key.
fn source_wins(contract: &Contract) -> String {
    let seq = sql_ident(SEQUENCE_COLUMN);
    let source_key = sql_ident("_source_key");
    let newer = format!("source.{seq} >= target.{seq}");
    let same_object = format!("(target.{source_key} = source.{source_key} AND {newer})");
    match contract.version_column.as_deref() {
        None => format!("{same_object} OR {newer}"),
        Some(v) => {
            let v = sql_ident(v);
            format!(
                "{same_object} OR (source.{v} > target.{v}) OR (target.{v} IS NULL AND source.{v} IS NOT NULL) \
                 OR ((source.{v} = target.{v} OR (source.{v} IS NULL AND target.{v} IS NULL)) AND {newer})"
            )
        }
    }
}

#[async_trait]
impl LakeTables for DeltaLake {
    async fn write_silver(&self, write: SilverWrite<'_>) -> Result<SilverCommit, TableError> {
        let table = silver_table(&write.contract.dataset);
        if write.parts.is_empty() && !self.exists(&table).await? {
            return Ok(SilverCommit {
                attempts: 1,
                ..SilverCommit::default()
            });
        }
        let seq = sql_ident(SEQUENCE_COLUMN);
        let days = chunks::staged_days(&write.parts)?;
        let plan = chunks::ChunkPlan::new(&days, self.options.commit_bounds);
        // Which of the table's days a MERGE must read: the days it writes and the days where
        // its keys' current rows are (an event date that changed moves the row). Every other
        // day's files are pruned, and within those days the files whose key range misses the
        // MERGE's keys, so a MERGE costs what it touches, not the table's size.
        let mut located = self.located_days(&table, &write).await?;
        // Append commits that lost a race before the write fell back to MERGEs: counted in
        // the write's attempts.
        let mut append_conflicts = 0;
        if !write.parts.is_empty() && !located.matched && located.own.is_empty() {
            // No staged key is in the table and no row of an earlier version of this landing
            // key: the rows are new files, one commit, no MERGE.
            match self.append_silver(&table, &write, &days, located).await? {
                append::Appended::Committed(commit) => {
                    let touched: BTreeSet<i32> = days.keys().copied().collect();
                    let mut total = commit;
                    total.files_compacted = self
                        .compact_partitions(&table, PARTITION_COLUMN, &touched, write.source_key)
                        .await;
                    return Ok(total);
                }
                append::Appended::Merge(l, conflicted) => {
                    located = l;
                    append_conflicts = conflicted;
                }
            }
        }
        let target_days = |chunk_days: &BTreeSet<i32>| {
            let mut d: BTreeSet<i32> = chunk_days.clone();
            for (source_day, table_day) in &located.moved {
                if chunk_days.contains(source_day) {
                    d.insert(*table_day);
                }
            }
            d
        };
        let mut total = SilverCommit::default();
        if plan.chunks <= 1 {
            // One MERGE. It carries no "not matched by source" clause: delta-rs scans the whole
            // table for one (it cannot tell which target rows such a clause needs), while
            // without it the MERGE reads only the files of its days whose key range overlaps
            // the file's keys. What an earlier version of this landing key contributed that
            // this one lacks is removed by the DELETE below, on the days that hold it; a new
            // landing key (the usual case) has none, and its write is one commit.
            let all: BTreeSet<i32> = days.keys().copied().collect();
            total = self
                .merge_silver(
                    &write,
                    SilverSource::Staged(&write.parts),
                    &target_days(&all),
                    None,
                )
                .await?;
        } else {
            // Several MERGEs, the chunks in date order, then the DELETE. A crash in between
            // leaves a prefix that the retry's MERGEs redo in place
            // (docs/adr/0009-bounded-silver-commits.md).
            let dir = write
                .parts
                .first()
                .and_then(|p| p.parent())
                .map(|p| p.join("silver-chunks"))
                .unwrap_or_else(|| std::env::temp_dir().join("shopflow-silver-chunks"));
            let spilled = chunks::spill(&write.parts, &plan, &dir)?;
            let n = spilled.len();
            tracing::info!(
                table,
                chunks = n,
                days = days.len(),
                rows = days.values().sum::<u64>(),
                "silver write over the commit bounds: merging in chunks"
            );
            for (i, files) in spilled.iter().enumerate() {
                let chunk_days = plan.days_of(i);
                let c = self
                    .merge_silver(
                        &write,
                        SilverSource::Spilled(files),
                        &target_days(&chunk_days),
                        Some((i + 1, n)),
                    )
                    .await?;
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
                total.version = c.version.or(total.version);
                total.rows_inserted += c.rows_inserted;
                total.rows_replaced += c.rows_replaced;
                total.rows_superseded += c.rows_superseded;
                total.attempts = total.attempts.max(c.attempts);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        // The rows of earlier versions of this landing key that the MERGEs did not replace
        // (those still carry an older sequence), deleted on the days that held them only.
        // The DELETE rewrites every file it removes rows from, so it too is bounded: at most
        // `max_partitions` days per commit.
        let own: Vec<i32> = located.own.iter().copied().collect();
        for days in own.chunks(self.options.commit_bounds.max_partitions.max(1)) {
            let days: BTreeSet<i32> = days.iter().copied().collect();
            let predicate = format!(
                "{} AND {} = {} AND {seq} < {}",
                days_filter("", &days),
                sql_ident("_source_key"),
                sql_literal(write.source_key),
                sql_literal(write.sequence)
            );
            let (version, deleted, attempts) = self.retract_silver(&write, &predicate).await?;
            total.version = version.or(total.version);
            total.rows_retracted += deleted;
            total.attempts = total.attempts.max(attempts);
        }
        total.attempts += append_conflicts;
        if total.version.is_some() {
            let mut touched: BTreeSet<i32> = days.keys().copied().collect();
            touched.extend(located.own.iter().copied());
            touched.extend(located.moved.iter().map(|(_, table_day)| *table_day));
            total.files_compacted = self
                .compact_partitions(&table, PARTITION_COLUMN, &touched, write.source_key)
                .await;
        }
        Ok(total)
    }

    async fn write_quarantine(
        &self,
        write: QuarantineWrite<'_>,
    ) -> Result<TableCommit, TableError> {
        let table = quarantine_table(write.dataset);
        let schema = quarantine_table_schema();
        let predicate = format!(
            "{} = {} AND {} = {}",
            sql_ident("_source_key"),
            sql_literal(write.source_key),
            sql_ident("_source_etag"),
            sql_literal(write.source_etag)
        );
        // The staged rows are streamed into the commit, never collected: a file whose rows are
        // mostly bad quarantines as many rows as it has (32M sales with 1.3 % rejected peaked
        // 180 MiB higher in this commit when its 422,400 rows were read into memory first).
        let rows = match &write.part {
            Some(path) => staged_rows(path)?,
            None => 0,
        };
        if rows == 0 && !self.exists(&table).await? {
            return Ok(TableCommit {
                table,
                attempts: 1,
                ..TableCommit::default()
            });
        }
        let ((t, _), attempts) = self
            .with_retries(&table, || {
                let (predicate, schema, table) = (predicate.clone(), schema.clone(), table.clone());
                let part = write.part.clone().filter(|_| rows > 0);
                async move {
                    let target = self
                        .load_or_create(&table, &schema, INGEST_PARTITION_COLUMN)
                        .await
                        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                    let props = self.commit_properties(&[
                        ("run_id", write.run_id),
                        ("source_key", write.source_key),
                    ]);
                    let t = if let Some(part) = part {
                        let ctx = session();
                        let source =
                            quarantine_source(&ctx, &part, &schema, write.ingest_date, &table)
                                .await
                                .map_err(|e| DeltaTableError::generic(e.to_string()))?;
                        target
                            .write(Vec::new())
                            .with_input_plan(source.into_unoptimized_plan())
                            .with_save_mode(SaveMode::Overwrite)
                            .with_replace_where(predicate)
                            .with_writer_properties(layer::writer_properties())
                            .with_commit_properties(props)
                            .await?
                    } else {
                        let (t, _) = target
                            .delete()
                            .with_predicate(predicate)
                            .with_writer_properties(layer::writer_properties())
                            .with_commit_properties(props)
                            .await?;
                        t
                    };
                    Ok((t, ()))
                }
            })
            .await?;
        let files_compacted = if rows > 0 {
            let day = BTreeSet::from([parse::days_since_epoch(write.ingest_date)]);
            self.compact_partitions(&table, INGEST_PARTITION_COLUMN, &day, write.source_key)
                .await
        } else {
            0
        };
        Ok(TableCommit {
            table,
            version: t.version(),
            rows,
            attempts,
            files_compacted,
        })
    }

    async fn column_values(
        &self,
        dataset: &str,
        column: &str,
    ) -> Result<Option<HashSet<String>>, TableError> {
        let table = silver_table(dataset);
        let Some(t) = self.load(&table).await? else {
            return Ok(None);
        };
        let ctx = Self::scan_session(&t, &table).await?;
        let c = sql_ident(column);
        let batches = ctx
            .sql(&format!(
                "SELECT DISTINCT CAST({c} AS VARCHAR) AS v FROM t WHERE {c} IS NOT NULL"
            ))
            .await
            .map_err(|e| df_error("scan", &table, e))?
            .collect()
            .await
            .map_err(|e| df_error("scan", &table, e))?;
        let mut values = HashSet::new();
        for b in batches {
            let col = arrow::compute::cast(b.column(0), &DataType::Utf8)
                .map_err(|e| df_error("scan", &table, e.into()))?;
            let strings = col.as_string::<i32>();
            for i in 0..strings.len() {
                if strings.is_valid(i) {
                    values.insert(strings.value(i).to_string());
                }
            }
        }
        Ok(Some(values))
    }
}

/// The data files of each partition of `column` in `t`'s snapshot: (value, [(path, size)]),
/// the null partition under `None`.
async fn partition_files(
    t: &DeltaTable,
    table: &str,
    column: &str,
) -> Result<BTreeMap<Option<String>, Vec<(String, u64)>>, TableError> {
    use futures::TryStreamExt;
    let files: Vec<deltalake_core::kernel::LogicalFileView> = t
        .get_active_add_actions_by_partitions(&[])
        .try_collect()
        .await
        .map_err(|e| backend("files", table, e))?;
    let mut out: BTreeMap<Option<String>, Vec<(String, u64)>> = BTreeMap::new();
    for f in &files {
        let value = f.partition_values_map().remove(column).flatten();
        out.entry(value)
            .or_default()
            .push((f.path().to_string(), u64::try_from(f.size()).unwrap_or(0)));
    }
    Ok(out)
}

/// The SQL condition selecting the partitions `values` of the date column `column` (`None`:
/// the null partition).
fn partition_predicate(column: &str, values: &[Option<String>]) -> String {
    let c = sql_ident(column);
    let dates: Vec<String> = values
        .iter()
        .flatten()
        .map(|v| format!("DATE {}", sql_literal(v)))
        .collect();
    let mut parts = Vec::new();
    if !dates.is_empty() {
        parts.push(format!("{c} IN ({})", dates.join(", ")));
    }
    if values.iter().any(Option::is_none) {
        parts.push(format!("{c} IS NULL"));
    }
    if parts.is_empty() {
        "FALSE".to_string()
    } else {
        parts.join(" OR ")
    }
}

/// The projection of `frame` onto `schema`'s columns in its order: a column in `fixed` as its
/// value, one the frame has cast to the table's type, one it lacks as nulls of that type.
fn table_columns(
    frame: &datafusion::dataframe::DataFrame,
    schema: &SchemaRef,
    fixed: &[(&str, ScalarValue)],
) -> Vec<datafusion::prelude::Expr> {
    use datafusion::prelude::{cast, col};
    schema
        .fields()
        .iter()
        .map(|f| {
            if let Some((_, value)) = fixed.iter().find(|(name, _)| name == f.name()) {
                lit(value.clone()).alias(f.name())
            } else if frame.schema().has_column_with_unqualified_name(f.name()) {
                cast(col(sql_ident(f.name())), f.data_type().clone()).alias(f.name())
            } else {
                cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name())
            }
        })
        .collect()
}

/// Rows in a staged Parquet file, from its footer.
fn staged_rows(path: &std::path::Path) -> Result<u64, TableError> {
    let staged = |source: Box<dyn std::error::Error + Send + Sync>| TableError::Staged {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| staged(Box::new(e)))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| staged(Box::new(e)))?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// The staged quarantine rows as the quarantine table's columns in its order, read as they
/// stream: `ingest_date` in the ingest partition column, a column the staging lacks as nulls.
async fn quarantine_source(
    ctx: &SessionContext,
    path: &std::path::Path,
    schema: &SchemaRef,
    ingest_date: NaiveDate,
    table: &str,
) -> Result<datafusion::dataframe::DataFrame, TableError> {
    let frame = ctx
        .read_parquet(
            path.to_string_lossy().to_string(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(|e| TableError::Staged {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    let day = parse::days_since_epoch(ingest_date);
    let columns = table_columns(
        &frame,
        schema,
        &[(INGEST_PARTITION_COLUMN, ScalarValue::Date32(Some(day)))],
    );
    frame
        .select(columns)
        .map_err(|e| df_error("source", table, e))
}

/// Commits between two checkpoints of a table's log (delta-rs's default is 100). Every
/// transformer run loads its silver table: with a checkpoint every 10 commits it reads one
/// Parquet checkpoint and at most 9 JSON commits, instead of up to 99 JSON objects from S3.
/// Measured on moto: the transformer's tests (50 landing objects committed in turn among them)
/// went from 385 s to 249 s.
pub const CHECKPOINT_INTERVAL: u32 = 10;

/// The shortest VACUUM retention the daily workflow accepts: 7 days, delta-rs's default, and
/// longer than any query or time-travel read the report and analysts run.
pub const MIN_RETENTION_HOURS: u32 = 168;

impl DeltaLake {
    /// Maintains `tables` in turn (every table of the lake when `None`), emitting each one's
    /// figures as metrics.
    pub async fn maintain_all(
        &self,
        tables: Option<Vec<String>>,
        retention: chrono::Duration,
        metrics: &dyn Metrics,
    ) -> Result<Vec<MaintainReport>, TableError> {
        let tables = match tables {
            Some(t) => t,
            None => self.tables().await?,
        };
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            let r = self.maintain(&t, retention).await?;
            tracing::info!(
                table = %r.table,
                files_before = r.files_before,
                files_after = r.files_after,
                files_deleted = r.files_deleted,
                bytes_deleted = r.bytes_deleted,
                "table maintained"
            );
            emit_maintain_metrics(metrics, &r);
            out.push(r);
        }
        Ok(out)
    }
}

/// The totals of a maintenance run over several tables, as the workflow's `Maintain` state
/// reads them: `{"tables", "files_before", "files_after", "files_deleted", "bytes_deleted"}`.
pub fn maintain_totals(reports: &[MaintainReport]) -> serde_json::Value {
    let sum = |f: fn(&MaintainReport) -> u64| reports.iter().map(f).sum::<u64>();
    serde_json::json!({
        "tables": reports.len(),
        "files_before": sum(|r| r.files_before),
        "files_after": sum(|r| r.files_after),
        "files_deleted": sum(|r| r.files_deleted),
        "bytes_deleted": sum(|r| r.bytes_deleted),
        "log_files_deleted": sum(|r| r.log_files_deleted),
    })
}

/// Emits a table's maintenance figures as metrics (`Table` dimension): data files before and
/// after compaction, files and bytes VACUUM deleted, expired log files deleted.
pub fn emit_maintain_metrics(metrics: &dyn Metrics, r: &MaintainReport) {
    metrics.emit(&MetricSet {
        dimensions: vec![("Table".to_string(), r.table.clone())],
        values: vec![
            MetricSet::value("FilesBefore", r.files_before, Unit::Count),
            MetricSet::value("FilesAfter", r.files_after, Unit::Count),
            MetricSet::value("FilesDeleted", r.files_deleted, Unit::Count),
            MetricSet::value("BytesDeleted", r.bytes_deleted, Unit::Bytes),
            MetricSet::value("LogFilesDeleted", r.log_files_deleted, Unit::Count),
        ],
    });
}
