//! The data plane for one landing file, on local files only: read → bronze → validate →
//! silver (split by event date) and quarantine, staged as Parquet files in a work directory.
//!
//! No store, no network: the caller ([`crate::ingest`]) downloads the object first and uploads
//! what this stage staged. Bronze is encoded on a thread of its own, fed through a bounded
//! channel, so reading and validating on one core overlaps bronze's encoding on the other. Memory stays bounded by the batch size (plus the set of business
//! keys seen, to catch duplicates within the file), and the number of open files by three
//! writers (bronze, silver, quarantine) whatever the number of event days: silver is one file
//! with the event date in its `dt` column, which the table commit partitions by.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use arrow::array::{Date32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use serde::Serialize;

use crate::contract::Contract;
use crate::layer::{
    EncodeError, Lineage, PARTITION_COLUMN, ParquetFile, bronze_batch, quarantine_batch,
    quarantine_schema, with_lineage,
};
use crate::read::{ReadFailure, ReadReport, raw_schema, read_records};
use crate::validate::{ReferenceSets, ValidateError, ValidationCounts, Validator, parse};

/// Errors of the transform stage (not about the data: bad data is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The staged input could not be opened.
    #[error("cannot open the staged input {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Validation failed for a reason other than the data.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// Encoding an output failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A staged output file.
#[derive(Debug, Clone, Serialize)]
pub struct StagedPart {
    /// Local path of the Parquet file.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
}

/// What the stage produced.
#[derive(Debug)]
pub enum TransformOutput {
    /// The file was read and validated.
    Processed {
        /// Every record as text, with lineage.
        bronze: Option<StagedPart>,
        /// Valid rows, their event date in the `dt` column (`None`: no valid row).
        silver: Option<StagedPart>,
        /// Rejected rows.
        quarantine: Option<StagedPart>,
        /// Counts.
        counts: ValidationCounts,
        /// Format, mapping, schema drift.
        read: ReadReport,
    },
    /// The whole file goes to quarantine.
    FileQuarantined {
        /// The rule, when a rule decided it.
        rule_id: Option<String>,
        /// Why.
        reason: String,
        /// Rows read before the decision (0 when the file is unreadable).
        rows_read: u64,
        /// What the reader saw, when it got that far.
        read: Option<ReadReport>,
    },
}

/// Settings of the stage.
#[derive(Debug, Clone)]
pub struct TransformSettings {
    /// Records per batch.
    pub batch_rows: usize,
    /// Partition date for datasets without an event time.
    pub ingest_date: NaiveDate,
    /// How much of the file's key set stays in memory, and where the rest spills.
    pub key_budget: crate::validate::keys::KeyBudget,
}

enum SinkError {
    Validate(ValidateError),
    Encode(EncodeError),
}

impl From<EncodeError> for SinkError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<arrow::error::ArrowError> for SinkError {
    fn from(e: arrow::error::ArrowError) -> Self {
        Self::Encode(EncodeError::Arrow(e))
    }
}

/// Runs the stage on `input` (the landing object `name`, already on local disk), staging
/// outputs in `staging`.
pub fn transform_file(
    input: &Path,
    name: &str,
    contract: &Contract,
    references: ReferenceSets,
    lineage: &Lineage,
    settings: &TransformSettings,
    staging: &Path,
) -> Result<TransformOutput, TransformError> {
    let file = File::open(input).map_err(|source| TransformError::Open {
        path: input.to_path_buf(),
        source,
    })?;
    let mut validator =
        Validator::new(contract, references)?.with_key_budget(settings.key_budget.clone());
    let typed_schema = validator.schema();
    let bronze_path = staging.join("bronze.parquet");
    let quarantine_path = staging.join("quarantine.parquet");
    let mut quarantine: Option<ParquetFile> = None;
    let silver_path = staging.join("silver.parquet");
    let mut silver: Option<ParquetFile> = None;
    let default_day = parse::days_since_epoch(settings.ingest_date);
    let raw_lineage_schema =
        with_lineage(&RecordBatch::new_empty(raw_schema(contract)), lineage).map(|b| b.schema());
    let silver_schema =
        with_lineage(&RecordBatch::new_empty(typed_schema), lineage).map(|b| b.schema());
    let (raw_lineage_schema, silver_schema) = match (raw_lineage_schema, silver_schema) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Err(EncodeError::Arrow(e).into()),
    };
    let silver_schema = {
        let mut fields: Vec<Field> = silver_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, false));
        Arc::new(Schema::new(fields))
    };

    // Bronze is encoded on a thread of its own (the second core): it needs nothing from
    // validation, and its all-text columns are the largest to encode. A bounded channel keeps
    // at most `BRONZE_QUEUE` batches between the two.
    let (bronze_tx, bronze_rx) = std::sync::mpsc::sync_channel::<RecordBatch>(BRONZE_QUEUE);
    let bronze_encoder = {
        let (path, schema, lineage) = (
            bronze_path.clone(),
            raw_lineage_schema.clone(),
            lineage.clone(),
        );
        std::thread::Builder::new()
            .name("bronze-encoder".into())
            .spawn(move || encode_bronze(bronze_rx, &path, schema, &lineage))
            .map_err(|e| TransformError::Encode(EncodeError::Spawn(e)))?
    };
    let mut sink = |raw: RecordBatch| -> Result<(), SinkError> {
        // A send fails only when the encoder stopped on an error, which its join reports.
        bronze_tx
            .send(raw.clone())
            .map_err(|_| SinkError::Encode(EncodeError::Stopped("bronze encoder")))?;
        let out = validator.validate(&raw).map_err(SinkError::Validate)?;
        if !out.rejected.is_empty() {
            let q = quarantine_batch(&out.rejected, lineage)?;
            if quarantine.is_none() {
                quarantine = Some(ParquetFile::create_staged(
                    &quarantine_path,
                    quarantine_schema(),
                )?);
            }
            if let Some(w) = quarantine.as_mut() {
                w.write(&q)?;
            }
        }
        if out.valid.num_rows() == 0 {
            return Ok(());
        }
        let n = out.valid.num_rows();
        let days = match &out.event_days {
            Some(days) => days.clone(),
            None => vec![default_day; n],
        };
        let part = with_lineage(&out.valid, lineage)?;
        let mut columns = part.columns().to_vec();
        columns.push(Arc::new(Date32Array::from(days)));
        let part = RecordBatch::try_new(silver_schema.clone(), columns)?;
        if silver.is_none() {
            silver = Some(ParquetFile::create_staged(
                &silver_path,
                silver_schema.clone(),
            )?);
        }
        if let Some(w) = silver.as_mut() {
            w.write(&part)?;
        }
        Ok(())
    };

    let read = read_records(file, name, contract, settings.batch_rows, &mut sink);
    drop(bronze_tx);
    let bronze = bronze_encoder
        .join()
        .unwrap_or_else(|_| Err(EncodeError::Stopped("bronze encoder panicked")));
    let read = match (read, bronze) {
        // The encoder's own error explains a sink that could not hand it a batch.
        (Err(ReadFailure::Sink(SinkError::Encode(EncodeError::Stopped(_)))), Err(e)) => {
            return Err(e.into());
        }
        (read, Ok(bronze)) => (read, bronze),
        (Ok(_), Err(e)) | (Err(ReadFailure::Sink(_)), Err(e)) => return Err(e.into()),
        (Err(ReadFailure::Unreadable(u)), Err(_)) => (Err(ReadFailure::Unreadable(u)), None),
    };
    let (read, bronze) = read;
    let read = match read {
        Ok(report) => report,
        Err(ReadFailure::Unreadable(u)) => {
            return Ok(TransformOutput::FileQuarantined {
                rule_id: None,
                reason: format!("unreadable: {}", error_chain(&u)),
                rows_read: 0,
                read: None,
            });
        }
        Err(ReadFailure::Sink(SinkError::Validate(e))) => return Err(e.into()),
        Err(ReadFailure::Sink(SinkError::Encode(e))) => return Err(e.into()),
    };
    let counts = validator.counts().clone();
    if let Some(failure) = validator.file_failure() {
        return Ok(TransformOutput::FileQuarantined {
            rule_id: Some(failure.rule_id.clone()),
            reason: failure.reason.clone(),
            rows_read: counts.rows_in,
            read: Some(read),
        });
    }
    if let Some(max) = contract.file.max_reject_share
        && counts.rows_in > 0
    {
        let share = counts.rows_rejected as f64 / counts.rows_in as f64;
        if share > max {
            return Ok(TransformOutput::FileQuarantined {
                rule_id: Some(contract.max_reject_share_rule()),
                reason: format!(
                    "{} of {} rows ({:.1}%) were rejected, above the contract's limit of {:.1}%; top rules: {}",
                    counts.rows_rejected,
                    counts.rows_in,
                    share * 100.0,
                    max * 100.0,
                    top_rules(&counts.rejected_by_rule)
                ),
                rows_read: counts.rows_in,
                read: Some(read),
            });
        }
    }
    let finish = |w: Option<ParquetFile>, path: &Path| -> Result<Option<StagedPart>, EncodeError> {
        match w {
            Some(w) => Ok(Some(StagedPart {
                rows: w.finish()?,
                path: path.to_path_buf(),
            })),
            None => Ok(None),
        }
    };
    let bronze = bronze.map(|(path, rows)| StagedPart { path, rows });
    let quarantine = finish(quarantine, &quarantine_path)?;
    let silver = finish(silver, &silver_path)?;
    Ok(TransformOutput::Processed {
        bronze,
        silver,
        quarantine,
        counts,
        read,
    })
}

/// Raw batches queued between the reader and the bronze encoder thread.
const BRONZE_QUEUE: usize = 4;

/// The bronze encoder thread: every raw batch with lineage into `path`, created at the first
/// batch. Returns the file and its rows (`None`: no batch came).
fn encode_bronze(
    batches: std::sync::mpsc::Receiver<RecordBatch>,
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    lineage: &Lineage,
) -> Result<Option<(PathBuf, u64)>, EncodeError> {
    let mut file: Option<ParquetFile> = None;
    for raw in batches {
        let b = bronze_batch(&raw, lineage)?;
        match file.as_mut() {
            Some(w) => w.write(&b)?,
            None => {
                let mut w = ParquetFile::create(path, schema.clone())?;
                w.write(&b)?;
                file = Some(w);
            }
        }
    }
    match file {
        Some(w) => Ok(Some((path.to_path_buf(), w.finish()?))),
        None => Ok(None),
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn top_rules(by_rule: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<_> = by_rule.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .take(3)
        .map(|(r, n)| format!("{r} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A data-quality check of one file against its contract, with nothing written.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    /// The file checked.
    pub file: String,
    /// The dataset.
    pub dataset: String,
    /// Format, mapping, schema drift (absent when the file is unreadable).
    pub read: Option<ReadReport>,
    /// Why the file cannot be read, if it cannot.
    pub unreadable: Option<String>,
    /// Counts.
    pub counts: ValidationCounts,
    /// Up to `examples_per_rule` rejected rows per rule.
    pub examples: BTreeMap<String, Vec<crate::validate::RejectedRow>>,
    /// The whole-file verdict, if a file-level rule fires.
    pub file_verdict: Option<String>,
}

/// Checks `input` against `contract` without writing anything.
pub fn check_file(
    input: impl std::io::Read,
    name: &str,
    contract: &Contract,
    references: ReferenceSets,
    examples_per_rule: usize,
) -> Result<QualityReport, TransformError> {
    let mut validator = Validator::new(contract, references)?;
    let mut examples: BTreeMap<String, Vec<crate::validate::RejectedRow>> = BTreeMap::new();
    let mut sink = |raw: RecordBatch| -> Result<(), ValidateError> {
        let out = validator.validate(&raw)?;
        for r in out.rejected {
            let list = examples.entry(r.rule_id.clone()).or_default();
            if list.len() < examples_per_rule {
                list.push(r);
            }
        }
        Ok(())
    };
    let result = read_records(
        input,
        name,
        contract,
        crate::read::DEFAULT_BATCH_ROWS,
        &mut sink,
    );
    let (read, unreadable) = match result {
        Ok(r) => (Some(r), None),
        Err(ReadFailure::Unreadable(u)) => (None, Some(u.to_string())),
        Err(ReadFailure::Sink(e)) => return Err(e.into()),
    };
    let counts = validator.counts().clone();
    let mut file_verdict = validator
        .file_failure()
        .map(|f| format!("{}: {}", f.rule_id, f.reason));
    if file_verdict.is_none()
        && let Some(max) = contract.file.max_reject_share
        && counts.rows_in > 0
        && counts.rows_rejected as f64 / counts.rows_in as f64 > max
    {
        file_verdict = Some(format!(
            "{}.file.max_reject_share: {} of {} rows rejected (limit {:.1}%)",
            contract.dataset,
            counts.rows_rejected,
            counts.rows_in,
            max * 100.0
        ));
    }
    Ok(QualityReport {
        file: name.to_string(),
        dataset: contract.dataset.clone(),
        read,
        unreadable,
        counts,
        examples,
        file_verdict,
    })
}
