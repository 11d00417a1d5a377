//! transformer: S3 `ObjectCreated` notifications for `landing/` (keys URL-decoded, the
//! `s3:TestEvent` ignored, several records per event) and direct invocations
//! `{"bucket", "key"}` from the state machine (add `"replay": true` to process an object again
//! although the ledger says it is done, as an operator's replay) → the core data plane through the
//! [`Ingestor`](crate::ingest::Ingestor) (ledger claim, bronze, silver, quarantine, manifest).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ErrorKind, FunctionError, decode_s3_key};
use crate::ingest::{IngestOutcome, Ingestor};

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The ingestor over S3 and the DynamoDB ledger.
    pub ingestor: Ingestor,
    /// The lake bucket the store is bound to.
    pub bucket: String,
}

/// A direct invocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectRequest {
    /// Bucket (must be the lake bucket).
    pub bucket: String,
    /// Object key (not URL-encoded).
    pub key: String,
    /// Process again even if the ledger says the object is done (keeps its first ingest date).
    #[serde(default)]
    pub replay: bool,
}

/// One object's result.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectResult {
    /// The key.
    pub key: String,
    /// `processed`, `file_quarantined` or `skipped`.
    pub status: String,
    /// Rows read.
    pub rows_in: u64,
    /// Rows to silver.
    pub rows_silver: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Duplicates removed.
    pub duplicates_removed: u64,
    /// The manifest.
    pub manifest_key: String,
}

fn result_of(outcome: IngestOutcome) -> ObjectResult {
    match outcome {
        IngestOutcome::Processed(m) => ObjectResult {
            status: match m.status {
                crate::ingest::ManifestStatus::Processed => "processed".into(),
                crate::ingest::ManifestStatus::FileQuarantined => "file_quarantined".into(),
            },
            manifest_key: crate::layer::keys::manifest(&m.dataset, m.ingest_date, &m.object_id),
            key: m.source_key,
            rows_in: m.rows_in,
            rows_silver: m.rows_silver,
            rows_quarantined: m.rows_quarantined,
            duplicates_removed: m.duplicates_removed,
        },
        IngestOutcome::Skipped { key, manifest_key } => ObjectResult {
            key,
            status: "skipped".into(),
            rows_in: 0,
            rows_silver: 0,
            rows_quarantined: 0,
            duplicates_removed: 0,
            manifest_key,
        },
    }
}

/// The `(bucket, key)` pairs an event asks for; empty for the S3 test event.
pub fn objects_of(event: &Value) -> Result<Vec<(String, String)>, FunctionError> {
    Ok(requests_of(event)?
        .into_iter()
        .map(|r| (r.bucket, r.key))
        .collect())
}

/// The objects an event asks for, with the replay flag of a direct invocation.
pub fn requests_of(event: &Value) -> Result<Vec<DirectRequest>, FunctionError> {
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    if event.get("Records").is_some() {
        let parsed: aws_lambda_events::event::s3::S3Event =
            serde_json::from_value(event.clone())
                .map_err(|e| FunctionError::wrap(ErrorKind::InvalidInput, e))?;
        let mut out = Vec::new();
        for r in parsed.records {
            if !r
                .event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("ObjectCreated"))
            {
                tracing::info!(event_name = ?r.event_name, "not an ObjectCreated record; ignored");
                continue;
            }
            let bucket = r.s3.bucket.name.ok_or_else(|| {
                FunctionError::new(ErrorKind::InvalidInput, "S3 record without a bucket name")
            })?;
            let key = r.s3.object.key.ok_or_else(|| {
                FunctionError::new(ErrorKind::InvalidInput, "S3 record without an object key")
            })?;
            out.push(DirectRequest {
                bucket,
                key: decode_s3_key(&key)?,
                replay: false,
            });
        }
        return Ok(out);
    }
    let direct: DirectRequest = serde_json::from_value(event.clone()).map_err(|e| {
        FunctionError::new(
            ErrorKind::InvalidInput,
            format!("expected an S3 notification or {{\"bucket\", \"key\"}}: {e}"),
        )
    })?;
    Ok(vec![direct])
}

/// Handles the event; every object is attempted, then the first error (if any) is returned.
pub async fn handle(event: Value, run_id: &str, deps: &Deps) -> Result<Value, FunctionError> {
    let objects = requests_of(&event)?;
    if objects.is_empty() {
        return Ok(
            json!({ "objects": [], "note": "nothing to do (test event or no ObjectCreated record)" }),
        );
    }
    let mut results = Vec::new();
    let mut first_error: Option<FunctionError> = None;
    for DirectRequest {
        bucket,
        key,
        replay,
    } in objects
    {
        if bucket != deps.bucket {
            let e = FunctionError::new(
                ErrorKind::InvalidInput,
                format!(
                    "object s3://{bucket}/{key} is not in the lake bucket {}",
                    deps.bucket
                ),
            );
            first_error.get_or_insert(e);
            continue;
        }
        if !key.starts_with("landing/") {
            tracing::info!(key, "not under landing/; ignored");
            continue;
        }
        let outcome = if replay {
            deps.ingestor.replay_object(&key, run_id).await
        } else {
            deps.ingestor.ingest_object(&key, run_id).await
        };
        match outcome {
            Ok(outcome) => results.push(result_of(outcome)),
            Err(e) => {
                tracing::error!(key, error = %crate::transform::error_chain(&e), "ingestion failed");
                first_error.get_or_insert(FunctionError::from(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(json!({ "objects": results })),
    }
}
