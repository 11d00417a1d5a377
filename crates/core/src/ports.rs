//! Ports: the small traits the pipeline talks to, so the same code runs on a laptop (local
//! adapters: filesystem, in-memory) and in AWS (S3, DynamoDB, Kinesis, SNS, CloudWatch EMF).
//!
//! Each trait has one capability. Conversions to and from a backend's own types happen inside
//! its adapter, never in pipeline code.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's key.
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
        /// The key.
        key: String,
    },
    /// The key is not acceptable (empty segment, `..`, absolute, ...).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Local I/O failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file.
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
        /// The key.
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
    /// Deletes the object (no error when absent).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
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
        /// The manifest's key.
        manifest_key: String,
    },
}

/// One object's processing record in the idempotency ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Deterministic id of (key, etag): also names every output of the object.
    pub object_id: String,
    /// The object's key.
    pub key: String,
    /// The object version processed.
    pub etag: String,
    /// The run that claimed it.
    pub run_id: String,
    /// The ingest date of the first claim: replays write to the same partitions.
    pub ingest_date: NaiveDate,
    /// When the first claim happened.
    pub ingested_at: DateTime<Utc>,
    /// Claims so far (1 for the first).
    pub attempts: u32,
    /// Current state.
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
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A stored entry could not be decoded.
    #[error("ledger entry {object_id} is corrupt")]
    Corrupt {
        /// The entry.
        object_id: String,
        /// The decoding error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend (DynamoDB, ...) failed.
    #[error("ledger {operation} failed")]
    Backend {
        /// The operation.
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
        /// The entry.
        object_id: String,
        /// The run.
        run_id: String,
    },
}

/// A claim request: which object, by whom, for how long.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Deterministic id of (key, etag).
    pub object_id: String,
    /// The object's key.
    pub key: String,
    /// Its version.
    pub etag: String,
    /// The claiming run.
    pub run_id: String,
    /// Now.
    pub now: DateTime<Utc>,
    /// How long the claim is protected if the run crashes.
    pub lease: chrono::Duration,
    /// Take over a completed entry too (a replay), keeping its ingest date.
    pub force: bool,
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
    /// A count.
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Milliseconds,
    /// A percentage.
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

/// Where counts and durations go.
pub trait Metrics: Send + Sync + Debug {
    /// Records a set of values.
    fn emit(&self, set: &MetricSet);
}

/// Errors from a notifier.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Local I/O failed.
    #[error("notification I/O error on {path}")]
    Io {
        /// The file.
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
    /// The message.
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
