//! The data plane for one landing file, on local files only: read → bronze → validate →
//! silver (split by event date) and quarantine, staged as Parquet files in a work directory.
//!
//! No store, no network: the caller ([`crate::ingest`]) downloads the object first and uploads
//! what this stage staged. The outputs are encoded on a thread of their own, fed in order
//! through a bounded channel, so reading and validating on one core overlaps the Parquet
//! encoding of bronze, staged silver and quarantine on the other. Memory stays bounded by the batch size (plus the set of business
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
        /// The local copy of the landing object that was to be read.
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
        /// Rejected rows in the [`crate::layer::quarantine_schema`] (`None`: no row rejected).
        quarantine: Option<StagedPart>,
        /// Rows read, valid, rejected and removed as duplicates, with the tallies by rule.
        counts: ValidationCounts,
        /// Format, mapping, schema drift.
        read: ReadReport,
    },
    /// The whole file goes to quarantine.
    FileQuarantined {
        /// The rule, when a rule decided it.
        rule_id: Option<String>,
        /// Why, for people: `unreadable: ` and the reader's error chain, the file rule's
        /// reason, or the rejected share against the contract's `max_reject_share`.
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
    /// Records per batch handed from the reader to validation.
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
    let paths = OutputPaths {
        bronze: staging.join("bronze.parquet"),
        silver: staging.join("silver.parquet"),
        quarantine: staging.join("quarantine.parquet"),
    };
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

    // The three outputs are encoded on a thread of their own (the second core), fed in order
    // through a bounded channel of at most `ENCODE_QUEUE` batches: the reading and validating
    // thread only builds batches.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Staged>(ENCODE_QUEUE);
    let encoder = {
        let (paths, bronze_schema, silver_schema, lineage) = (
            paths.clone(),
            raw_lineage_schema.clone(),
            silver_schema.clone(),
            lineage.clone(),
        );
        std::thread::Builder::new()
            .name("stage-encoder".into())
            .spawn(move || encode_outputs(rx, &paths, bronze_schema, silver_schema, &lineage))
            .map_err(|e| TransformError::Encode(EncodeError::Spawn(e)))?
    };
    // A send fails only when the encoder stopped on an error, which its join reports.
    let send = |batch: Staged| -> Result<(), SinkError> {
        tx.send(batch)
            .map_err(|_| SinkError::Encode(EncodeError::Stopped("stage encoder")))
    };
    let mut sink = |raw: RecordBatch| -> Result<(), SinkError> {
        send(Staged::Bronze(raw.clone()))?;
        let out = validator.validate(&raw).map_err(SinkError::Validate)?;
        if !out.rejected.is_empty() {
            send(Staged::Quarantine(quarantine_batch(
                &out.rejected,
                lineage,
            )?))?;
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
        send(Staged::Silver(RecordBatch::try_new(
            silver_schema.clone(),
            columns,
        )?))
    };

    let read = read_records(file, name, contract, settings.batch_rows, &mut sink);
    drop(tx);
    let encoded = encoder
        .join()
        .unwrap_or_else(|_| Err(EncodeError::Stopped("stage encoder panicked")));
    let read = match (read, encoded) {
        // The encoder's own error explains a sink that could not hand it a batch.
        (Err(ReadFailure::Sink(SinkError::Encode(EncodeError::Stopped(_)))), Err(e)) => {
            return Err(e.into());
        }
        (read, Ok(encoded)) => (read, encoded),
        (Ok(_), Err(e)) | (Err(ReadFailure::Sink(_)), Err(e)) => return Err(e.into()),
        (Err(ReadFailure::Unreadable(u)), Err(_)) => {
            (Err(ReadFailure::Unreadable(u)), Encoded::default())
        }
    };
    let (read, encoded) = read;
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
    Ok(TransformOutput::Processed {
        bronze: encoded.bronze,
        silver: encoded.silver,
        quarantine: encoded.quarantine,
        counts,
        read,
    })
}

/// Batches queued between the reading thread and the encoder thread.
const ENCODE_QUEUE: usize = 6;

/// A batch for one of the stage's outputs, in the order the reader made it.
enum Staged {
    /// Raw records (lineage is added by the encoder).
    Bronze(RecordBatch),
    /// Valid typed rows with lineage and `dt`.
    Silver(RecordBatch),
    /// Rejected rows.
    Quarantine(RecordBatch),
}

/// Where the stage's outputs go.
#[derive(Debug, Clone)]
struct OutputPaths {
    bronze: PathBuf,
    silver: PathBuf,
    quarantine: PathBuf,
}

/// The outputs the encoder finished (`None`: no batch came for it).
#[derive(Debug, Default)]
struct Encoded {
    bronze: Option<StagedPart>,
    silver: Option<StagedPart>,
    quarantine: Option<StagedPart>,
}

/// The encoder thread: each batch into its output, created at its first batch (bronze with the
/// layers' settings, the staged silver and quarantine parts with [`crate::layer::staging_properties`]).
fn encode_outputs(
    batches: std::sync::mpsc::Receiver<Staged>,
    paths: &OutputPaths,
    bronze_schema: arrow::datatypes::SchemaRef,
    silver_schema: arrow::datatypes::SchemaRef,
    lineage: &Lineage,
) -> Result<Encoded, EncodeError> {
    let (mut bronze, mut silver, mut quarantine) = (None, None, None);
    let write = |file: &mut Option<ParquetFile>,
                 create: &dyn Fn() -> Result<ParquetFile, EncodeError>,
                 batch: &RecordBatch|
     -> Result<(), EncodeError> {
        if file.is_none() {
            *file = Some(create()?);
        }
        match file.as_mut() {
            Some(w) => w.write(batch),
            None => Ok(()),
        }
    };
    for batch in batches {
        match batch {
            Staged::Bronze(raw) => write(
                &mut bronze,
                &|| ParquetFile::create(&paths.bronze, bronze_schema.clone()),
                &bronze_batch(&raw, lineage)?,
            )?,
            Staged::Silver(b) => write(
                &mut silver,
                &|| ParquetFile::create_staged(&paths.silver, silver_schema.clone()),
                &b,
            )?,
            Staged::Quarantine(b) => write(
                &mut quarantine,
                &|| ParquetFile::create_staged(&paths.quarantine, quarantine_schema()),
                &b,
            )?,
        }
    }
    let finish =
        |file: Option<ParquetFile>, path: &Path| -> Result<Option<StagedPart>, EncodeError> {
            file.map(|w| {
                Ok(StagedPart {
                    rows: w.finish()?,
                    path: path.to_path_buf(),
                })
            })
            .transpose()
        };
    Ok(Encoded {
        bronze: finish(bronze, &paths.bronze)?,
        silver: finish(silver, &paths.silver)?,
        quarantine: finish(quarantine, &paths.quarantine)?,
    })
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
    /// The name the file was checked under (the command line passes the file's name).
    pub file: String,
    /// The dataset of the contract the file was checked against.
    pub dataset: String,
    /// Format, mapping, schema drift (absent when the file is unreadable).
    pub read: Option<ReadReport>,
    /// Why the file cannot be read, if it cannot.
    pub unreadable: Option<String>,
    /// Rows read, valid, rejected and removed as duplicates, with the tallies by rule.
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
