//! transformer: S3 `ObjectCreated` notifications for `landing/` (keys URL-decoded, the
//! `s3:TestEvent` ignored, several records per event) and direct invocations
//! `{"bucket", "key"}` from the state machine (add `"replay": true` to process an object again
//! although the ledger says it is done, as an operator's replay) → the core data plane through the
//! [`Ingestor`](crate::ingest::Ingestor) (ledger claim, bronze, silver, quarantine, manifest).
//!
//! The daily state machine also asks it, for a date (absent or `null`: yesterday, UTC):
//!
//! - `{"list_pending": {"date"}}` → `{"date", "keys", "count", "landed", "ignored"}`: the
//!   day's landing objects that are not processed yet ([`steps::list_pending`]);
//! - `{"summarize": {"date"}}` → `{"date", "files", "files_processed", "files_pending",
//!   "files_quarantined", "rows_in", "rows_silver", "rows_rejected", "duplicates_removed",
//!   "rejected_pct"}`: the day's counts from the manifests ([`steps::summarize`]).

use std::sync::Arc;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ErrorKind, FunctionError, decode_s3_key};
use crate::ingest::Ingestor;
use crate::ports::ObjectStore;
use crate::workflow::steps::{self, DayRequest, StepError};

pub use crate::workflow::steps::ObjectResult;

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The ingestor over S3 and the DynamoDB ledger.
    pub ingestor: Ingestor,
    /// The lake (the store the ingestor writes to), for the state machine's listing and summary.
    pub store: Arc<dyn ObjectStore>,
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
    /// The S3 event's `sequencer` for this object version (from a notification only): orders
    /// the versions of one key when they arrive out of order.
    #[serde(default, skip_deserializing)]
    pub sequencer: Option<String>,
    /// The S3 event's `eTag` (from a notification only): the version to process; an event
    /// whose version was already replaced is superseded, not processed under the new bytes.
    #[serde(default, skip_deserializing)]
    pub etag: Option<String>,
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
                sequencer: r.s3.object.sequencer,
                etag: r.s3.object.e_tag,
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

/// A request of the daily state machine other than transforming an object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DayCall {
    /// The day's landing objects that are not processed yet.
    ListPending(DayRequest),
    /// The day's counts from the manifests.
    Summarize(DayRequest),
}

impl DayCall {
    /// The call an event asks for, if it is one: an object with the single key `list_pending`
    /// or `summarize`.
    pub fn of(event: &Value) -> Result<Option<Self>, FunctionError> {
        let is_call = event.as_object().is_some_and(|o| {
            o.len() == 1 && (o.contains_key("list_pending") || o.contains_key("summarize"))
        });
        if !is_call {
            return Ok(None);
        }
        serde_json::from_value(event.clone())
            .map(Some)
            .map_err(|e| {
                FunctionError::new(
                    ErrorKind::InvalidInput,
                    format!("expected {{\"list_pending\" | \"summarize\": {{\"date\": \"YYYY-MM-DD\" | null}}}}: {e}"),
                )
            })
    }
}

fn step_error(e: StepError) -> FunctionError {
    let kind = match e.error_type() {
        steps::RETRYABLE => ErrorKind::Retryable,
        steps::INVALID_INPUT => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    };
    FunctionError::wrap(kind, e)
}

async fn day_call(call: DayCall, deps: &Deps) -> Result<Value, FunctionError> {
    let contracts = deps.ingestor.contracts();
    let store = deps.store.as_ref();
    let encode = |v: Result<Value, serde_json::Error>| {
        v.map_err(|e| FunctionError::wrap(ErrorKind::Internal, e))
    };
    match call {
        DayCall::ListPending(r) => {
            let date = r.date_or_yesterday(Utc::now());
            let list = steps::list_pending(store, contracts, date)
                .await
                .map_err(step_error)?;
            encode(serde_json::to_value(list))
        }
        DayCall::Summarize(r) => {
            let date = r.date_or_yesterday(Utc::now());
            let summary = steps::summarize(store, contracts, date)
                .await
                .map_err(step_error)?;
            encode(serde_json::to_value(summary))
        }
    }
}

/// Handles the event; every object is attempted, then the first error (if any) is returned.
pub async fn handle(event: Value, run_id: &str, deps: &Deps) -> Result<Value, FunctionError> {
    if let Some(call) = DayCall::of(&event)? {
        return day_call(call, deps).await;
    }
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
        sequencer,
        etag,
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
            deps.ingestor
                .ingest_event(
                    &key,
                    run_id,
                    crate::ingest::EventVersion {
                        sequencer: sequencer.as_deref(),
                        etag: etag.as_deref(),
                    },
                )
                .await
        };
        match outcome {
            Ok(outcome) => results.push(steps::object_result(outcome)),
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
