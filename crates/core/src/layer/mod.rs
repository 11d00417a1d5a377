//! The lake's layers: key layout, lineage columns, and Parquet encoding.
//!
//! Keys (the same on S3 and in a local lake directory):
//!
//! | layer | key |
//! |---|---|
//! | landing | `landing/{dataset}/{file}` — never modified |
//! | bronze | `bronze/{dataset}/ingest_date={D}/{object_id}.parquet` (plain Parquet, one object per landing object version) |
//! | silver | the Delta table `silver/{dataset}/` (`_delta_log/`, data files under `dt={D}/`) |
//! | quarantine rows | the Delta table `quarantine/{dataset}/` (data files under `ingest_date={D}/`) |
//! | quarantined file | `quarantine/{dataset}/_files/ingest_date={D}/{object_id}/{file}` + `…/{object_id}/reason.json` (a `_` folder: no table operation touches it) |
//! | manifest | `manifests/{dataset}/ingest_date={D}/{object_id}.json` |
//! | gold | the Delta table `gold/{table}/` (data files under `dt={D}/` when partitioned) |
//! | report | `reports/daily/date={D}/report.json` |
//!
//! `object_id` is derived from the landing key and the object's content fingerprint, so the
//! same input always yields the same object names: processing it again overwrites, never
//! duplicates. Tables are written by [`crate::tables`], one commit per landing object.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::ids::hex;
use crate::read::READ_ERROR_COLUMN;
use crate::validate::RejectedRow;

/// The event-date partition column of silver and partitioned gold tables (`dt=YYYY-MM-DD`),
/// named as Athena's tables name it, so queries read the same locally and on Athena.
pub const PARTITION_COLUMN: &str = "dt";

/// The partition column of bronze and quarantine: the day the object was first ingested.
pub const INGEST_PARTITION_COLUMN: &str = "ingest_date";

/// The lineage column ordering the versions of a key across landing objects: the landing
/// object's S3 event `sequencer` when it has one, else its ingestion order (see
/// [`Lineage::sequence`]).
pub const SEQUENCE_COLUMN: &str = "_sequence";

/// The deterministic id of an object version: 16 hex digits of SHA-256 over key and etag.
pub fn object_id(key: &str, etag: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(etag.as_bytes());
    hex(&h.finalize()[..8])
}

/// Key builders for every layer.
pub mod keys {
    use chrono::NaiveDate;

    /// `landing/{dataset}/{file}`.
    pub fn landing(dataset: &str, file: &str) -> String {
        format!("landing/{dataset}/{file}")
    }
    /// `bronze/{dataset}/ingest_date={D}/{object_id}.parquet`.
    pub fn bronze(dataset: &str, ingest_date: NaiveDate, object_id: &str) -> String {
        format!("bronze/{dataset}/ingest_date={ingest_date}/{object_id}.parquet")
    }
    /// `quarantine/{dataset}/_files/ingest_date={D}/{object_id}/{file}`.
    pub fn quarantine_file(
        dataset: &str,
        ingest_date: NaiveDate,
        object_id: &str,
        file: &str,
    ) -> String {
        format!("quarantine/{dataset}/_files/ingest_date={ingest_date}/{object_id}/{file}")
    }
    /// `quarantine/{dataset}/_files/ingest_date={D}/{object_id}/reason.json`.
    pub fn quarantine_reason(dataset: &str, ingest_date: NaiveDate, object_id: &str) -> String {
        format!("quarantine/{dataset}/_files/ingest_date={ingest_date}/{object_id}/reason.json")
    }
    /// `manifests/{dataset}/ingest_date={D}/{object_id}.json`.
    pub fn manifest(dataset: &str, ingest_date: NaiveDate, object_id: &str) -> String {
        format!("manifests/{dataset}/ingest_date={ingest_date}/{object_id}.json")
    }
    /// `reports/daily/date={D}/{file}`.
    pub fn report(date: NaiveDate, file: &str) -> String {
        format!("reports/daily/date={date}/{file}")
    }

    /// Splits `landing/{dataset}/{rest}` into dataset and file name (the last segment).
    pub fn parse_landing(key: &str) -> Option<(&str, &str)> {
        let rest = key.strip_prefix("landing/")?;
        let (dataset, tail) = rest.split_once('/')?;
        let file = tail.rsplit('/').next()?;
        (!dataset.is_empty() && !file.is_empty()).then_some((dataset, file))
    }

    /// The value of a `name=value` partition segment in a key.
    pub fn partition_value<'a>(key: &'a str, name: &str) -> Option<&'a str> {
        key.split('/')
            .find_map(|seg| seg.strip_prefix(name)?.strip_prefix('='))
    }
}

/// Where a batch of rows came from.
#[derive(Debug, Clone)]
pub struct Lineage {
    /// The landing key (`landing/{dataset}/{file}`): the rows' `_source_key` column.
    pub source_key: String,
    /// The landing object version, its ETag: the rows' `_source_etag` column.
    pub source_etag: String,
    /// When the object was first ingested (kept by replays): the rows' `_ingested_at`
    /// column, in microseconds, UTC.
    pub ingested_at: DateTime<Utc>,
    /// The run that processed it: the rows' `_run_id` column.
    pub run_id: String,
    /// The object's place in the order of landing objects ([`SEQUENCE_COLUMN`]): fixed-width
    /// text that compares in that order ([`sequence_of`]).
    pub sequence: String,
}

/// The sequence text of a landing object: the S3 event `sequencer` when the event carried one
/// (a hexadecimal number; of two events on one key, the greater is the later), else the first
/// ingestion time in microseconds. Either is written as 32 lower-case hexadecimal digits after
/// a letter naming its kind (`s`, `t`), so text order is numeric order within a kind.
pub fn sequence_of(sequencer: Option<&str>, ingested_at: DateTime<Utc>) -> String {
    match sequencer
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Some(s) => format!("s{:0>32}", s.to_ascii_lowercase()),
        None => format!("t{:032x}", ingested_at.timestamp_micros().max(0)),
    }
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The lineage columns every bronze and silver row carries.
pub fn lineage_fields() -> [Field; 5] {
    [
        Field::new("_source_key", DataType::Utf8, false),
        Field::new("_source_etag", DataType::Utf8, false),
        Field::new("_ingested_at", ts_type(), false),
        Field::new("_run_id", DataType::Utf8, false),
        Field::new(SEQUENCE_COLUMN, DataType::Utf8, false),
    ]
}

/// The silver schema of a dataset: its typed, non-secret columns in contract order,
/// `_row_number`, then the lineage columns (`dt` is the partition, not a stored column). Tables
/// with no files yet, and files written before a column was added, read with this schema.
pub fn silver_schema(contract: &crate::contract::Contract) -> SchemaRef {
    let typed = crate::validate::typed_schema(contract);
    let mut fields: Vec<Field> = typed.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
}

fn lineage_arrays(lineage: &Lineage, n: usize) -> [ArrayRef; 5] {
    [
        Arc::new(StringArray::from(vec![lineage.source_key.as_str(); n])),
        Arc::new(StringArray::from(vec![lineage.source_etag.as_str(); n])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![lineage.ingested_at.timestamp_micros(); n])
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![lineage.run_id.as_str(); n])),
        Arc::new(StringArray::from(vec![lineage.sequence.as_str(); n])),
    ]
}

/// Appends the lineage columns to a batch (bronze from raw, silver from typed).
pub fn with_lineage(
    batch: &RecordBatch,
    lineage: &Lineage,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(lineage_fields());
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    arrays.extend(lineage_arrays(lineage, batch.num_rows()));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

/// `batch` with each column replaced by what `convert` makes of it: each field keeps its name
/// and nullability and takes its new column's type (the schema's metadata is dropped).
pub fn map_columns(
    batch: &RecordBatch,
    convert: impl FnMut(&ArrayRef) -> Result<ArrayRef, arrow::error::ArrowError>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .map(convert)
        .collect::<Result<Vec<_>, _>>()?;
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Bronze: the raw batch (all text, `_extra`, `_row_number`, `_read_error`) plus lineage.
pub fn bronze_batch(
    raw: &RecordBatch,
    lineage: &Lineage,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    debug_assert!(raw.column_by_name(READ_ERROR_COLUMN).is_some());
    with_lineage(raw, lineage)
}

/// The schema of a quarantine table's rows: where the row came from (key, version, row
/// number), the rule with its severity and reason, the raw record as JSON, and the run's
/// lineage. The table adds the `ingest_date` partition column to it.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("_source_key", DataType::Utf8, false),
        Field::new("_source_etag", DataType::Utf8, false),
        Field::new("_row_number", DataType::Int64, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw_record", DataType::Utf8, false),
        Field::new("_ingested_at", ts_type(), false),
        Field::new("_run_id", DataType::Utf8, false),
    ]))
}

/// Rejected rows as a quarantine batch.
pub fn quarantine_batch(
    rows: &[RejectedRow],
    lineage: &Lineage,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let severity: Vec<String> = rows
        .iter()
        .map(|r| {
            serde_json::to_value(r.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![lineage.source_key.as_str(); n])),
        Arc::new(StringArray::from(vec![lineage.source_etag.as_str(); n])),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.row_number),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.rule_id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(severity.iter())),
        Arc::new(
            rows.iter()
                .map(|r| r.column.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.raw_record.as_str()),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(vec![lineage.ingested_at.timestamp_micros(); n])
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![lineage.run_id.as_str(); n])),
    ];
    RecordBatch::try_new(quarantine_schema(), arrays)
}

/// The Parquet settings for every layer: zstd, bounded row groups, a fixed `created_by` so
/// the same rows always encode to the same bytes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(65_536))
        .set_created_by(format!("shopflow {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The Parquet settings for files staged in a run's work directory and read back by the same
/// run (the silver and quarantine parts a MERGE or an append then re-encodes with
/// [`writer_properties`]): zstd at its fastest level and no dictionaries. A profile of a
/// 1M-row CSV ingest (issue 13) put a quarter of the run in encoding these parts with the
/// layers' settings, mostly interning every string value into a dictionary the next step
/// decodes again. They stay compressed, because a Lambda's `/tmp` bounds them.
pub fn staging_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(65_536))
        .set_created_by(format!("shopflow {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Errors while encoding Parquet.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Creating the file failed.
    #[error("cannot create {path}")]
    Io {
        /// The local file that could not be created.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("Parquet encoding failed")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building a batch failed.
    #[error("building an Arrow batch failed")]
    Arrow(#[from] arrow::error::ArrowError),
    /// An encoder thread stopped before its input ended (its own error is reported instead
    /// when it has one).
    #[error("the {0} stopped")]
    Stopped(&'static str),
    /// An encoder thread could not be started.
    #[error("cannot start an encoder thread")]
    Spawn(#[source] std::io::Error),
}

/// A Parquet file being written batch by batch to local disk.
pub struct ParquetFile {
    writer: ArrowWriter<File>,
    rows: u64,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ParquetFile {
    /// Creates `path` for batches of `schema`, a file that is a layer's output as it is
    /// (bronze): the layers' [`writer_properties`].
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, EncodeError> {
        Self::with_properties(path, schema, writer_properties())
    }

    /// Creates `path` for batches of `schema`, a part staged for a later step of the same run
    /// to re-encode: [`staging_properties`].
    pub fn create_staged(path: &Path, schema: SchemaRef) -> Result<Self, EncodeError> {
        Self::with_properties(path, schema, staging_properties())
    }

    fn with_properties(
        path: &Path,
        schema: SchemaRef,
        properties: WriterProperties,
    ) -> Result<Self, EncodeError> {
        let file = File::create(path).map_err(|source| EncodeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let writer = ArrowWriter::try_new(file, schema, Some(properties))?;
        Ok(Self { writer, rows: 0 })
    }

    /// Appends a batch of the file's schema; the file is only readable once
    /// [`ParquetFile::finish`] has written its footer.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), EncodeError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer and closes the file; returns the rows written.
    pub fn finish(self) -> Result<u64, EncodeError> {
        self.writer.close()?;
        Ok(self.rows)
    }
}

/// Encodes batches to Parquet bytes in memory (for small tables: gold aggregates).
pub fn encode_parquet(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, Some(writer_properties()))?;
    for b in batches {
        writer.write(b)?;
    }
    writer.close()?;
    Ok(buf)
}

/// Decodes Parquet bytes into batches.
pub fn decode_parquet(bytes: Vec<u8>) -> Result<Vec<RecordBatch>, EncodeError> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )?
    .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// The dates named by `date=` partitions under a prefix's keys.
pub fn partition_dates<'a>(keys: impl Iterator<Item = &'a str>, name: &str) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = keys
        .filter_map(|k| keys::partition_value(k, name))
        .filter_map(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .collect();
    dates.sort();
    dates.dedup();
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_deterministic_and_distinct() {
        assert_eq!(
            object_id("landing/t/a.csv", "e1"),
            object_id("landing/t/a.csv", "e1")
        );
        assert_ne!(
            object_id("landing/t/a.csv", "e1"),
            object_id("landing/t/a.csv", "e2")
        );
        assert_ne!(
            object_id("landing/t/a.csv", "e1"),
            object_id("landing/t/b.csv", "e1")
        );
        assert_eq!(object_id("k", "e").len(), 16);
    }

    #[test]
    fn sequences_compare_as_the_events_they_come_from_happened() {
        let t = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // S3 sequencers are hexadecimal numbers: "0A" follows "9" although it sorts before it
        // as text, so both are padded to one width.
        let earlier = sequence_of(Some("9"), t);
        let later = sequence_of(Some("0A"), t);
        assert!(earlier < later, "{earlier} < {later}");
        assert_eq!(sequence_of(Some("005AED"), t), sequence_of(Some("5aed"), t));
        // Without a sequencer, the ingestion time orders them.
        let then = sequence_of(None, t);
        let after = sequence_of(None, t + chrono::Duration::microseconds(1));
        assert!(then < after);
        assert_eq!(
            sequence_of(Some("not hex!"), t),
            then,
            "a malformed sequencer is ignored"
        );
        assert_eq!(then.len(), later.len());
    }

    #[test]
    fn parses_landing_keys() {
        assert_eq!(
            keys::parse_landing("landing/transactions/2024/01/t.csv"),
            Some(("transactions", "t.csv"))
        );
        assert_eq!(keys::parse_landing("landing/x"), None);
        assert_eq!(keys::parse_landing("bronze/x/y"), None);
    }

    #[test]
    fn reads_partition_values() {
        assert_eq!(
            keys::partition_value("silver/t/date=2024-01-02/x.parquet", "date"),
            Some("2024-01-02")
        );
        let keys = [
            "silver/t/date=2024-01-02/a",
            "silver/t/date=2024-01-01/b",
            "silver/t/date=2024-01-02/c",
        ];
        let dates = partition_dates(keys.iter().copied(), "date");
        assert_eq!(dates.len(), 2);
    }

    #[test]
    fn same_rows_encode_to_the_same_bytes() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        let a = encode_parquet(schema.clone(), std::slice::from_ref(&batch)).unwrap();
        let b = encode_parquet(schema, std::slice::from_ref(&batch)).unwrap();
        assert_eq!(a, b);
        let back = decode_parquet(a).unwrap();
        assert_eq!(back[0], batch);
    }
}
