//! # shopflow-core
//!
//! Everything in ShopFlow that is not wiring: data contracts, streaming readers, validation,
//! the lake's layers, the ports (storage, ledger, metrics, notifier) with their local adapters,
//! gold tables, the daily report and the synthetic data generator. The `shopflow` command and
//! the Lambda functions are thin shells over this crate.
//!
//! # Layout
//!
//! - [`cells`] — CSV cells a spreadsheet cannot execute (formula injection), for every CSV written.
//! - [`contract`] — contract files (TOML) → typed [`contract::Contract`]; rule ids.
//! - [`read`] — CSV / JSON / JSON lines (+gzip) → bounded Arrow batches of raw text.
//! - [`validate`] — contract × raw batch → typed valid rows, rejected rows with rule and reason.
//! - [`transform`] — the data plane for one file: bronze, silver by event date, quarantine.
//! - [`layer`] — lake key layout, lineage columns, Parquet encoding.
//! - [`ids`] — the hex encoding and truncated SHA-256 behind object ids, etags and fingerprints.
//! - [`ingest`] — one landing object through the ports: ledger claim, transform, upload,
//!   manifest, metrics.
//! - `tables` (feature `tables`) — silver, quarantine and gold as Delta Lake tables (delta-rs
//!   through the storage port): upserts on the contract's key, replaces, compaction, time travel.
//! - `sql` (feature `analytics`) — the SQL engine (DataFusion) over the lake's tables.
//! - `catalog` (feature `analytics`) — every silver and gold table with its Glue columns, derived
//!   from the contracts (the source of `infrastructure/modules/catalog/tables.json`).
//! - `gold` (feature `analytics`) — the star schema and aggregates, built from silver with SQL.
//! - [`report`] — the daily report: its model, the HTML dashboard and (feature `analytics`)
//!   its computation.
//! - [`generate`] — realistic synthetic data with recorded defect injection.
//! - [`memory`] — the allocator setting that keeps freed memory from piling up (every binary).
//! - [`ports`] — the small traits the pipeline talks to.
//! - [`adapters`] — local (filesystem, in-memory, log) adapters, the CloudWatch EMF writer and,
//!   with the `aws` feature, the S3 / DynamoDB / Kinesis / SNS adapters and the HTTP client.
//! - [`functions`] — the Lambda functions' handlers over the ports, their requests, answers
//!   and error classes; the transformer and (feature `analytics`) the report generator are
//!   what `shopflow run` calls too; the API and Kinesis handlers need feature `lambda`.

pub mod adapters;
#[cfg(feature = "analytics")]
pub mod catalog;
pub mod cells;
pub mod contract;
pub mod functions;
pub mod generate;
#[cfg(feature = "analytics")]
pub mod gold;
pub mod ids;
pub mod ingest;
pub mod layer;
pub mod memory;
pub mod ports;
pub mod read;
pub mod report;
#[cfg(feature = "analytics")]
pub mod sql;
#[cfg(feature = "tables")]
pub mod tables;
pub mod transform;
pub mod validate;

/// Log directives every binary appends to its default level, unless the user sets the filter:
/// delta-rs 1.1.3 logs a warning on every MERGE whose scan reports no pruned-file metric
/// ("Missing target skipped-file metric"), which ours never do, so a 1 GB file's 180 MERGE
/// commits printed 180 warnings that say nothing about the data. Its errors still show.
pub const QUIET_DEPENDENCY_LOGS: &str = "deltalake_core::operations::merge=error";

/// The tracing filter a binary starts with when the user has set none: `level` for everything,
/// with [`QUIET_DEPENDENCY_LOGS`] added.
pub fn default_log_filter(level: &str) -> String {
    format!("{level},{QUIET_DEPENDENCY_LOGS}")
}
