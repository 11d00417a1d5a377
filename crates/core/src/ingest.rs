//! Ingestion of landing objects through the ports: claim in the ledger, download, run the
//! [transform stage](crate::transform), upload bronze / silver / quarantine, write the
//! manifest, mark the ledger complete, emit metrics.
//!
//! The same [`Ingestor`] serves the `shopflow` command (filesystem store and ledger) and the
//! transformer Lambda (S3 and DynamoDB).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::{ContractError, ContractSet};
use crate::layer::{self, Lineage, keys};
use crate::ports::{
    Claim, ClaimRequest, LakeTables, Ledger, LedgerEntry, LedgerError, MetricSet, Metrics,
    ObjectStore, QuarantineWrite, SilverWrite, StoreError, TableError, Unit,
};
use crate::transform::{TransformError, TransformOutput, TransformSettings, transform_file};
use crate::validate::ReferenceSets;
use crate::validate::keys::KeyBudget;

/// Errors of ingestion. Bad data is never one of these: it is counted and quarantined.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The key is not `landing/{dataset}/…`.
    #[error("{key:?} is not a landing key (expected landing/{{dataset}}/{{file}})")]
    NotLanding {
        /// The key as given, which has no `landing/{dataset}/` prefix or no file name.
        key: String,
    },
    /// No contract for the dataset, or the contract is broken.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The landing object does not exist.
    #[error("landing object {key} does not exist")]
    NotFound {
        /// The landing key asked for: the store has no object there.
        key: String,
    },
    /// Another run holds a live claim on the object.
    #[error("{key} is being processed by run {run_id}; claim held until {lease_until}")]
    Busy {
        /// The landing key of the claimed object.
        key: String,
        /// The run whose claim is live.
        run_id: String,
        /// When the claim's lease ends (RFC 3339): a retry after it may take it over.
        lease_until: String,
    },
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ledger failure.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The transform stage failed (not the data).
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// The work directory could not be made.
    #[error("cannot create a work directory")]
    WorkDir(#[source] std::io::Error),
    /// A manifest could not be encoded or decoded.
    #[error("manifest {key} cannot be encoded or decoded")]
    Manifest {
        /// The key the document was for: the manifest (`manifests/...`) or a whole-file
        /// quarantine's `reason.json`.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A lake table could not be read or written.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The object was replaced between the claim and the download: nothing was written; a
    /// retry processes the current version.
    #[error("{key} changed while being claimed (claimed version {claimed}, delivered {delivered})")]
    Changed {
        /// The landing key whose object changed.
        key: String,
        /// The ETag the ledger entry was claimed for.
        claimed: String,
        /// The ETag of the bytes the download delivered.
        delivered: String,
    },
}

impl IngestError {
    /// Whether trying again may succeed (a state machine's Retry matches on this).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Busy { .. } | Self::WorkDir(_) | Self::Changed { .. } => true,
            Self::Store(e) => e.is_retryable(),
            Self::Ledger(LedgerError::Backend { retryable, .. }) => *retryable,
            Self::Ledger(LedgerError::Io { .. }) => true,
            Self::Table(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// What happened to the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    /// Read and validated; rows went to silver and quarantine.
    Processed,
    /// The whole file went to quarantine.
    FileQuarantined,
}

/// Source fields mapped, unknown, dropped: schema drift as seen in this file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaReport {
    /// Detected format (`csv`, `json`, `json_lines`), told by the reader.
    pub format: Option<String>,
    /// Detected compression (`none`, `gzip`), told by the file's first bytes.
    pub compression: Option<String>,
    /// Source field → canonical column.
    pub mapping: BTreeMap<String, String>,
    /// Fields the contract does not know (kept in bronze `_extra`).
    pub unknown_fields: BTreeSet<String>,
    /// Secret fields dropped on read (names only).
    pub secret_fields_dropped: BTreeSet<String>,
    /// Optional columns the file did not carry.
    pub missing_optional: BTreeSet<String>,
}

/// What this file was written to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    /// Bronze objects (one per landing object version).
    pub bronze: Vec<String>,
    /// The silver table committed to (`silver/{dataset}`).
    pub silver: Vec<String>,
    /// The quarantine table committed to, or the quarantined file and its reason.
    pub quarantine: Vec<String>,
    /// The version each table committed to is at after this file's commit.
    #[serde(default)]
    pub table_versions: BTreeMap<String, u64>,
}

/// The record of one landing object's processing: every count, every output.
///
/// Invariant: `rows_in = rows_silver + rows_quarantined + duplicates_removed`. Of the
/// `rows_silver` valid rows, `rows_replaced` replaced the table's row for their key (another
/// file's, or this key's earlier version's) and `rows_superseded` were not applied because the
/// table holds a newer version of their key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The run that processed the object (the ledger claim's run).
    pub run_id: String,
    /// The dataset: the `{dataset}` of the landing key, naming the contract applied.
    pub dataset: String,
    /// The applied contract's `version`.
    pub contract_version: u32,
    /// Landing key (`landing/{dataset}/{file}`).
    pub source_key: String,
    /// Landing object version: its ETag (`size-{bytes}` when the store gives none).
    pub source_etag: String,
    /// Landing object size, in bytes.
    pub source_bytes: u64,
    /// Deterministic id of (key, ETag) ([`layer::object_id`]): it names the bronze
    /// object, the manifest and the quarantined file.
    pub object_id: String,
    /// Ingest date (partition of bronze and quarantine).
    pub ingest_date: NaiveDate,
    /// First ingestion time of the object version (kept by replays), in UTC.
    pub ingested_at: DateTime<Utc>,
    /// Processing time of this attempt, milliseconds.
    pub duration_ms: u64,
    /// `processed` (rows went to silver and quarantine) or `file_quarantined`.
    pub status: ManifestStatus,
    /// Why the file was quarantined whole.
    pub file_quarantine_reason: Option<String>,
    /// The rule that quarantined the file, if one did.
    pub file_quarantine_rule: Option<String>,
    /// Records the reader produced from the file: for a file quarantined whole, those read
    /// before the decision (0 when it is unreadable).
    pub rows_in: u64,
    /// Rows written to silver.
    pub rows_silver: u64,
    /// Rows written to quarantine (all rows when the file is quarantined whole).
    pub rows_quarantined: u64,
    /// Exact duplicates removed.
    pub duplicates_removed: u64,
    /// Valid rows that replaced the silver row of an existing key.
    #[serde(default)]
    pub rows_replaced: u64,
    /// Valid rows not applied: silver holds a newer version of their key.
    #[serde(default)]
    pub rows_superseded: u64,
    /// Silver rows an earlier version of this landing key contributed that this version no
    /// longer has: removed by this file's commit.
    #[serde(default)]
    pub rows_retracted: u64,
    /// Files quarantined whole (0 or 1).
    pub files_quarantined: u64,
    /// Rejected rows by rule.
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// Kept rows with warnings, by rule.
    pub warnings_by_rule: BTreeMap<String, u64>,
    /// Reference rules not evaluated (referenced dataset absent).
    pub skipped_rules: Vec<String>,
    /// How the file's fields met the contract: format, mapping, unknown and dropped fields
    /// (empty when the file was unreadable).
    pub schema: SchemaReport,
    /// The bronze object, the table commits, or the quarantined file and its reason.
    pub outputs: Outputs,
    /// Bytes handed to the lake: bronze and quarantined objects, and the Parquet staged for
    /// the silver and quarantine commits.
    pub bytes_written: u64,
}

impl Manifest {
    /// Whether the counts reconcile.
    pub fn reconciles(&self) -> bool {
        self.rows_in == self.rows_silver + self.rows_quarantined + self.duplicates_removed
    }
}

/// What happened to one landing object.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Processed now.
    Processed(Box<Manifest>),
    /// Already processed earlier: nothing written.
    Skipped {
        /// The landing key, which the ledger records as completed.
        key: String,
        /// Key of the manifest of the run that completed the object.
        manifest_key: String,
    },
    /// The event names a version of the key that has since been replaced: nothing written;
    /// the newer version's own event processes it.
    Superseded {
        /// The landing key, which now holds `current_etag`.
        key: String,
        /// The version the event named.
        event_etag: String,
        /// The version the key holds now.
        current_etag: String,
    },
}

/// What an S3 event says about the object version it announces.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventVersion<'a> {
    /// The event's `sequencer`: orders the versions of one key.
    pub sequencer: Option<&'a str>,
    /// The event's `eTag`: the version to process.
    pub etag: Option<&'a str>,
}

/// Settings of an [`Ingestor`].
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Records per batch handed from the reader to validation (default
    /// [`crate::read::DEFAULT_BATCH_ROWS`], 8,192).
    pub batch_rows: usize,
    /// How long a claim is protected against takeover (default 15 minutes).
    pub lease: chrono::Duration,
    /// Where to stage files (default: the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Business keys of one file held in memory before the rest spill to run files in the
    /// file's work directory ([`crate::validate::keys`]; default 450,000, about 13 MiB).
    pub key_memory_entries: usize,
    /// Bytes the spilled keys' filters may hold in memory (default 16 MiB): past it they keep
    /// that size and a file with more keys reads more blocks from its run files instead.
    pub key_filter_bytes: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            batch_rows: crate::read::DEFAULT_BATCH_ROWS,
            lease: chrono::Duration::minutes(15),
            work_dir: None,
            key_memory_entries: KeyBudget::default().memory_entries,
            key_filter_bytes: KeyBudget::default().filter_bytes,
        }
    }
}

/// Ingests landing objects through the ports.
#[derive(Debug, Clone)]
pub struct Ingestor {
    store: Arc<dyn ObjectStore>,
    tables: Arc<dyn LakeTables>,
    ledger: Arc<dyn Ledger>,
    metrics: Arc<dyn Metrics>,
    contracts: Arc<ContractSet>,
    options: IngestOptions,
    swept: Arc<std::sync::OnceLock<u64>>,
}

/// Work directories are named `shopflow-work-{pid}-{start}-…` after the process that made them.
const WORK_DIR_PREFIX: &str = "shopflow-work-";

/// Removes the work directories under `parent` that processes no longer running left behind
/// (a run killed mid-file leaves its staged input and Parquet, hundreds of MB). Returns how
/// many were removed. Directories of live processes, and anything not named like a work
/// directory, are left alone.
pub fn sweep_stale_work_dirs(parent: &std::path::Path) -> u64 {
    crate::adapters::liveness::sweep_dead(parent, WORK_DIR_PREFIX)
}

impl Ingestor {
    /// An ingestor over the given ports: landing, bronze and manifests in `store`, silver and
    /// quarantine in `tables`.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        tables: Arc<dyn LakeTables>,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<dyn Metrics>,
        contracts: Arc<ContractSet>,
        options: IngestOptions,
    ) -> Self {
        Self {
            store,
            tables,
            ledger,
            metrics,
            contracts,
            options,
            swept: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// A fresh work directory for one file, named after this process; the first call also
    /// sweeps away the work directories of dead runs.
    fn work_dir(&self) -> Result<tempfile::TempDir, IngestError> {
        let parent = self
            .options
            .work_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&parent).map_err(IngestError::WorkDir)?;
        self.swept.get_or_init(|| sweep_stale_work_dirs(&parent));
        tempfile::Builder::new()
            .prefix(&crate::adapters::liveness::owned_prefix(WORK_DIR_PREFIX))
            .tempdir_in(&parent)
            .map_err(IngestError::WorkDir)
    }

    /// The contracts the ingestor was made with: the one named by a landing key's
    /// `{dataset}` is applied to it.
    pub fn contracts(&self) -> &ContractSet {
        &self.contracts
    }

    /// Ingests one landing object, unless the ledger says it was already processed.
    pub async fn ingest_object(
        &self,
        key: &str,
        run_id: &str,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(key, run_id, false, EventVersion::default())
            .await
    }

    /// Ingests one landing object named by an S3 event. The event's `sequencer` (when it
    /// carried one) orders this version among the key's versions; its `eTag` pins the version:
    /// when the key already holds another one, this event is [superseded](IngestOutcome::Superseded).
    pub async fn ingest_event(
        &self,
        key: &str,
        run_id: &str,
        event: EventVersion<'_>,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(key, run_id, false, event).await
    }

    /// Processes a landing object again even though the ledger says it was done (an operator's
    /// replay). The first ingestion's date and sequence are kept, so the bronze object and the
    /// manifest are overwritten and the table commits replace this object's rows with the same
    /// rows; a live claim of another run is still refused.
    pub async fn replay_object(
        &self,
        key: &str,
        run_id: &str,
    ) -> Result<IngestOutcome, IngestError> {
        self.ingest(key, run_id, true, EventVersion::default())
            .await
    }

    #[tracing::instrument(skip(self), fields(dataset))]
    async fn ingest(
        &self,
        key: &str,
        run_id: &str,
        force: bool,
        event: EventVersion<'_>,
    ) -> Result<IngestOutcome, IngestError> {
        let (dataset, _) = keys::parse_landing(key).ok_or_else(|| IngestError::NotLanding {
            key: key.to_string(),
        })?;
        tracing::Span::current().record("dataset", dataset);
        self.contracts.get(dataset)?;
        let meta = self
            .store
            .head(key)
            .await?
            .ok_or_else(|| IngestError::NotFound {
                key: key.to_string(),
            })?;
        let etag = meta
            .etag
            .clone()
            .unwrap_or_else(|| format!("size-{}", meta.size));
        if let Some(wanted) = event.etag.map(|e| e.trim_matches('"'))
            && meta.etag.is_some()
            && wanted != etag
        {
            tracing::info!(key, event_etag = wanted, current_etag = %etag, "the event's version was replaced; its successor's event processes the key");
            return Ok(IngestOutcome::Superseded {
                key: key.to_string(),
                event_etag: wanted.to_string(),
                current_etag: etag,
            });
        }
        let sequencer = event.sequencer;
        let request = ClaimRequest {
            object_id: layer::object_id(key, &etag),
            key: key.to_string(),
            etag,
            run_id: run_id.to_string(),
            now: Utc::now(),
            lease: self.options.lease,
            force,
            sequencer: sequencer.map(str::to_string),
        };
        let entry = match self.ledger.claim(&request).await? {
            Claim::Acquired(entry) => entry,
            Claim::Completed(entry) => {
                let manifest_key = match entry.state {
                    crate::ports::LedgerState::Completed { manifest_key } => manifest_key,
                    crate::ports::LedgerState::InProgress { .. } => String::new(),
                };
                tracing::info!(key, manifest_key, "already processed; skipped");
                return Ok(IngestOutcome::Skipped {
                    key: key.to_string(),
                    manifest_key,
                });
            }
            Claim::Busy(entry) => {
                let lease_until = match entry.state {
                    crate::ports::LedgerState::InProgress { lease_until } => {
                        lease_until.to_rfc3339()
                    }
                    crate::ports::LedgerState::Completed { .. } => String::new(),
                };
                return Err(IngestError::Busy {
                    key: key.to_string(),
                    run_id: entry.run_id,
                    lease_until,
                });
            }
        };
        match self.process(&entry, meta.size).await {
            Ok(manifest) => {
                let manifest_key =
                    keys::manifest(&manifest.dataset, manifest.ingest_date, &manifest.object_id);
                self.ledger.complete(&entry, &manifest_key).await?;
                Ok(IngestOutcome::Processed(Box::new(manifest)))
            }
            Err(e) => {
                if let Err(release) = self.ledger.release(&entry).await {
                    tracing::warn!(error = %release, key, "could not release the ledger claim; it expires with its lease");
                }
                Err(e)
            }
        }
    }

    async fn process(&self, entry: &LedgerEntry, size: u64) -> Result<Manifest, IngestError> {
        let started = Instant::now();
        let key = entry.key.as_str();
        let (dataset, file_name) =
            keys::parse_landing(key).ok_or_else(|| IngestError::NotLanding {
                key: key.to_string(),
            })?;
        let contract = self.contracts.get(dataset)?.clone();
        let work = self.work_dir()?;
        let input = work.path().join("input");
        let delivered = self.store.download(key, &input).await?;
        // The bytes must be the version claimed: a re-drop between the claim and the download
        // would otherwise be processed (and recorded) under the other version's etag.
        if let Some(got) = delivered.etag
            && got != entry.etag
        {
            return Err(IngestError::Changed {
                key: key.to_string(),
                claimed: entry.etag.clone(),
                delivered: got,
            });
        }
        let references = self.load_references(&contract).await?;
        let lineage = Lineage {
            source_key: key.to_string(),
            source_etag: entry.etag.clone(),
            ingested_at: entry.ingested_at,
            run_id: entry.run_id.clone(),
            sequence: layer::sequence_of(entry.sequencer.as_deref(), entry.ingested_at),
        };
        let settings = TransformSettings {
            batch_rows: self.options.batch_rows,
            ingest_date: entry.ingest_date,
            key_budget: KeyBudget {
                memory_entries: self.options.key_memory_entries,
                spill_dir: Some(work.path().join("keys")),
                filter_bytes: self.options.key_filter_bytes,
            },
        };
        let output = transform_file(
            &input,
            file_name,
            &contract,
            references,
            &lineage,
            &settings,
            work.path(),
        )?;
        let d = entry.ingest_date;
        let id = &entry.object_id;
        let mut outputs = Outputs::default();
        let mut bytes_written = 0u64;
        let mut manifest = Manifest {
            run_id: entry.run_id.clone(),
            dataset: dataset.to_string(),
            contract_version: contract.version,
            source_key: key.to_string(),
            source_etag: entry.etag.clone(),
            source_bytes: size,
            object_id: id.clone(),
            ingest_date: d,
            ingested_at: entry.ingested_at,
            duration_ms: 0,
            status: ManifestStatus::Processed,
            file_quarantine_reason: None,
            file_quarantine_rule: None,
            rows_in: 0,
            rows_silver: 0,
            rows_quarantined: 0,
            duplicates_removed: 0,
            rows_replaced: 0,
            rows_superseded: 0,
            rows_retracted: 0,
            files_quarantined: 0,
            rejected_by_rule: BTreeMap::new(),
            warnings_by_rule: BTreeMap::new(),
            skipped_rules: Vec::new(),
            schema: SchemaReport::default(),
            outputs: Outputs::default(),
            bytes_written: 0,
        };
        match output {
            TransformOutput::Processed {
                bronze,
                silver,
                quarantine,
                counts,
                read,
            } => {
                if let Some(part) = bronze {
                    let k = keys::bronze(dataset, d, id);
                    bytes_written += self.store.upload(&k, &part.path).await?.size;
                    outputs.bronze.push(k);
                }
                let staged_size =
                    |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                if let Some(part) = &silver {
                    manifest.rows_silver += part.rows;
                    bytes_written += staged_size(&part.path);
                }
                let commit = self
                    .tables
                    .write_silver(SilverWrite {
                        contract: &contract,
                        source_key: key,
                        sequence: &lineage.sequence,
                        run_id: &entry.run_id,
                        parts: silver.iter().map(|part| part.path.clone()).collect(),
                    })
                    .await?;
                manifest.rows_replaced = commit.rows_replaced;
                manifest.rows_superseded = commit.rows_superseded;
                manifest.rows_retracted = commit.rows_retracted;
                let silver_table = format!("silver/{dataset}");
                if let Some(v) = commit.version {
                    outputs.table_versions.insert(silver_table.clone(), v);
                    outputs.silver.push(silver_table);
                }
                if let Some(part) = &quarantine {
                    manifest.rows_quarantined += part.rows;
                    bytes_written += staged_size(&part.path);
                }
                let q = self
                    .tables
                    .write_quarantine(QuarantineWrite {
                        dataset,
                        source_key: key,
                        source_etag: &entry.etag,
                        run_id: &entry.run_id,
                        ingest_date: d,
                        part: quarantine.as_ref().map(|p| p.path.clone()),
                    })
                    .await?;
                if let Some(v) = q.version {
                    outputs.table_versions.insert(q.table.clone(), v);
                    outputs.quarantine.push(q.table);
                }
                let compacted = commit.files_compacted + q.files_compacted;
                if compacted > 0 {
                    self.metrics.emit(&MetricSet {
                        dimensions: vec![("Dataset".to_string(), dataset.to_string())],
                        values: vec![("FilesCompacted".into(), compacted as f64, Unit::Count)],
                    });
                }
                manifest.rows_in = counts.rows_in;
                manifest.duplicates_removed = counts.duplicates_removed;
                manifest.rejected_by_rule = counts.rejected_by_rule;
                manifest.warnings_by_rule = counts.warnings_by_rule;
                manifest.skipped_rules = counts.skipped_rules;
                manifest.schema = schema_report(&read);
            }
            TransformOutput::FileQuarantined {
                rule_id,
                reason,
                rows_read,
                read,
            } => {
                tracing::warn!(key, reason = %reason, "file quarantined whole");
                let file_key = keys::quarantine_file(dataset, d, id, file_name);
                bytes_written += self.store.upload(&file_key, &input).await?.size;
                let reason_key = keys::quarantine_reason(dataset, d, id);
                let reason_doc = serde_json::json!({
                    "source_key": key,
                    "source_etag": entry.etag,
                    "rule_id": rule_id,
                    "reason": reason,
                    "rows_read": rows_read,
                    "run_id": entry.run_id,
                    "quarantined_file": file_key,
                    "replay": format!("shopflow replay --lake <LAKE> {key}"),
                });
                let body = serde_json::to_vec_pretty(&reason_doc).map_err(|source| {
                    IngestError::Manifest {
                        key: reason_key.clone(),
                        source,
                    }
                })?;
                bytes_written += self.store.put(&reason_key, body).await?.size;
                outputs.quarantine.push(file_key);
                outputs.quarantine.push(reason_key);
                manifest.status = ManifestStatus::FileQuarantined;
                manifest.file_quarantine_reason = Some(reason);
                manifest.file_quarantine_rule = rule_id;
                manifest.files_quarantined = 1;
                manifest.rows_in = rows_read;
                manifest.rows_quarantined = rows_read;
                manifest.rejected_by_rule.insert(
                    manifest
                        .file_quarantine_rule
                        .clone()
                        .unwrap_or_else(|| contract.unreadable_rule()),
                    rows_read,
                );
                if let Some(read) = read {
                    manifest.schema = schema_report(&read);
                }
            }
        }
        // Outputs of an earlier attempt that this one did not produce (never for the same
        // input, kept for safety against contract changes between attempts) are left alone:
        // the manifest lists exactly what belongs to this object.
        manifest.outputs = outputs;
        manifest.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        manifest.bytes_written = bytes_written;
        let manifest_key = keys::manifest(dataset, d, id);
        let body =
            serde_json::to_vec_pretty(&manifest).map_err(|source| IngestError::Manifest {
                key: manifest_key.clone(),
                source,
            })?;
        self.store.put(&manifest_key, body).await?;
        self.emit_metrics(&manifest);
        tracing::info!(
            key,
            rows_in = manifest.rows_in,
            rows_silver = manifest.rows_silver,
            rows_quarantined = manifest.rows_quarantined,
            duplicates_removed = manifest.duplicates_removed,
            files_quarantined = manifest.files_quarantined,
            duration_ms = manifest.duration_ms,
            "object ingested"
        );
        Ok(manifest)
    }

    fn emit_metrics(&self, m: &Manifest) {
        let dims = vec![("Dataset".to_string(), m.dataset.clone())];
        self.metrics.emit(&MetricSet {
            dimensions: dims.clone(),
            values: vec![
                MetricSet::value("RowsIn", m.rows_in, Unit::Count),
                MetricSet::value("RowsValid", m.rows_silver, Unit::Count),
                MetricSet::value("RowsRejected", m.rows_quarantined, Unit::Count),
                MetricSet::value("DuplicatesRemoved", m.duplicates_removed, Unit::Count),
                MetricSet::value("FilesQuarantined", m.files_quarantined, Unit::Count),
                MetricSet::value("BytesIn", m.source_bytes, Unit::Bytes),
                MetricSet::value("BytesWritten", m.bytes_written, Unit::Bytes),
                MetricSet::value("DurationMs", m.duration_ms, Unit::Milliseconds),
                (
                    "RejectedPercent".into(),
                    if m.rows_in == 0 {
                        0.0
                    } else {
                        m.rows_quarantined as f64 * 100.0 / m.rows_in as f64
                    },
                    Unit::Percent,
                ),
            ],
        });
        for (rule, n) in &m.rejected_by_rule {
            self.metrics.emit(&MetricSet {
                dimensions: vec![
                    ("Dataset".to_string(), m.dataset.clone()),
                    ("Rule".to_string(), rule.clone()),
                ],
                values: vec![("RowsRejectedByRule".into(), *n as f64, Unit::Count)],
            });
        }
    }

    /// Loads the values referenced by the contract's `references` rules from the referenced
    /// datasets' silver tables (their current snapshots).
    pub async fn load_references(
        &self,
        contract: &crate::contract::Contract,
    ) -> Result<ReferenceSets, IngestError> {
        let mut refs = ReferenceSets::default();
        for (dataset, column) in ReferenceSets::needed(contract) {
            if let Some(values) = self.tables.column_values(&dataset, &column).await? {
                refs.insert(&dataset, &column, values);
            }
        }
        Ok(refs)
    }
}

fn schema_report(read: &crate::read::ReadReport) -> SchemaReport {
    let name = |v: serde_json::Result<serde_json::Value>| {
        v.ok().and_then(|v| v.as_str().map(str::to_string))
    };
    SchemaReport {
        format: read.format.map(serde_json::to_value).and_then(name),
        compression: read.compression.map(serde_json::to_value).and_then(name),
        mapping: read.mapping.clone(),
        unknown_fields: read.unknown_fields.clone(),
        secret_fields_dropped: read.secret_fields_dropped.clone(),
        missing_optional: read.missing_optional.clone(),
    }
}

/// A new run id: UTC time plus random bits, sortable.
pub fn new_run_id() -> String {
    format!(
        "{}-{:08x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand_bits()
    )
}

fn rand_bits() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    h.finish() as u32
}
