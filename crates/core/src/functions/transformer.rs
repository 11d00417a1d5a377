//! transformer: S3 `ObjectCreated` notifications for `landing/` (keys URL-decoded, the
//! `s3:TestEvent` ignored, several records per event) and direct invocations
//! `{"bucket", "key"}` from the state machine (add `"replay": true` to process an object again
//! although the ledger says it is done, as an operator's replay) → the core data plane through the
//! [`Ingestor`](crate::ingest::Ingestor) (ledger claim, bronze, silver, quarantine, manifest).
//!
//! The daily state machine also asks it, for a date (absent or `null`: yesterday, UTC):
//!
//! - `{"list_pending": {"date"}}` → `{"date", "keys", "count", "landed", "ignored"}`: the
//!   day's landing objects that are not processed yet ([`daily::list_pending`]);
//! - `{"summarize": {"date"}}` → `{"date", "files", "files_processed", "files_pending",
//!   "files_quarantined", "rows_in", "rows_silver", "rows_rejected", "duplicates_removed",
//!   "rejected_pct"}`: the day's counts from the manifests ([`daily::summarize`]).

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{self, ConfigError, Env, Var};
use super::daily::{self, DayRequest, ObjectResult};
use super::iam::{self, Action};
use super::{ErrorKind, FunctionError, decode_s3_key};
use crate::ingest::{EventVersion, Ingestor};
use crate::ports::ObjectStore;

/// The transformer's settings, read at cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The lake bucket.
    pub bucket: String,
    /// The DynamoDB table of the idempotency ledger.
    pub ledger_table: String,
    /// The CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// Rows per Arrow batch while reading a landing object.
    pub batch_rows: usize,
    /// How long a claim on an object is held before another run may take it over.
    pub lease: chrono::Duration,
    /// Path-style S3 addressing (emulators).
    pub force_path_style: bool,
}

/// The ledger table.
const LEDGER_TABLE: Var = Var::required("LEDGER_TABLE", "the DynamoDB idempotency ledger");
/// Rows per batch.
const BATCH_ROWS: Var = Var::optional(
    "BATCH_ROWS",
    "rows per Arrow batch while reading (default read::DEFAULT_BATCH_ROWS, 8192)",
);
/// The claim's lease.
const LEASE_MINUTES: Var = Var::optional(
    "LEASE_MINUTES",
    "minutes a claim is held before another run may take it over (default 15)",
);

impl Config {
    /// Every AWS action the handler calls (see [`iam`](super::iam)).
    pub const ACTIONS: &[Action] = &[
        Action::always(
            "s3:GetObject",
            "reads landing objects, the Delta logs and the day's manifests in LAKE_BUCKET",
        ),
        Action::always(
            "s3:ListBucket",
            "lists landing/ for pending objects, the Delta logs and manifests/ in LAKE_BUCKET",
        ),
        Action::always(
            "s3:PutObject",
            "writes bronze copies, Delta data files and commits, manifests in LAKE_BUCKET",
        ),
        iam::ABORT_MULTIPART_UPLOAD,
        Action::when(
            "s3:DeleteObject",
            "removes Delta log files past the table's log retention in LAKE_BUCKET",
            "a checkpoint finds expired log files",
        ),
        Action::always("dynamodb:PutItem", "claims an object in LEDGER_TABLE"),
        Action::when(
            "dynamodb:GetItem",
            "reads an object's ledger entry in LEDGER_TABLE, to answer a repeated delivery",
            "the object's claim is already taken (a repeated or concurrent delivery)",
        ),
        Action::when(
            "dynamodb:DeleteItem",
            "releases an object's claim in LEDGER_TABLE so that a retry can take it",
            "processing a claimed object fails",
        ),
    ];

    /// Every variable [`from_env`](Self::from_env) reads.
    pub const VARIABLES: &[Var] = &[
        config::LAKE_BUCKET,
        LEDGER_TABLE,
        config::METRICS_NAMESPACE,
        BATCH_ROWS,
        LEASE_MINUTES,
        config::S3_FORCE_PATH_STYLE,
    ];

    /// Reads [`VARIABLES`](Self::VARIABLES); a missing or invalid one fails naming it.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: config::LAKE_BUCKET.read(env)?,
            ledger_table: LEDGER_TABLE.read(env)?,
            metrics_namespace: config::metrics_namespace(env)?,
            batch_rows: BATCH_ROWS.parse(env, crate::read::DEFAULT_BATCH_ROWS)?,
            lease: chrono::Duration::minutes(LEASE_MINUTES.parse(env, 15)?),
            force_path_style: config::S3_FORCE_PATH_STYLE.flag(env),
        })
    }
}

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The ingestor over the lake's store and ledger (S3 and DynamoDB in Lambda, a directory
    /// locally).
    pub ingestor: Ingestor,
    /// The lake (the store the ingestor writes to), for the state machine's listing and summary.
    pub store: Arc<dyn ObjectStore>,
    /// The name of the bucket the store is bound to: a request for another bucket is refused.
    pub bucket: String,
}

/// One object to ingest: a direct invocation `{"bucket", "key"[, "replay"]}`, or one record of
/// an S3 notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRequest {
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

/// A request to the transformer, typed once for Lambda and the local run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The `s3:TestEvent` S3 sends when a notification is configured: nothing to do.
    TestEvent,
    /// Objects to ingest: the `ObjectCreated` records of an S3 notification (other records are
    /// ignored), or one direct invocation.
    Objects(Vec<ObjectRequest>),
    /// `{"list_pending": {"date"}}`: the day's landing objects that are not processed yet.
    ListPending(DayRequest),
    /// `{"summarize": {"date"}}`: the day's counts from the manifests.
    Summarize(DayRequest),
}

/// The part of an S3 event notification (`Records[].s3`) the transformer reads; the rest of
/// the record (region, principal, request ids, size) is ignored.
#[derive(Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Bucket {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: Option<String>,
    sequencer: Option<String>,
    e_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum DayCall {
    ListPending(DayRequest),
    Summarize(DayRequest),
}

impl Request {
    /// Reads an event: the S3 test event (`{"Event": "s3:TestEvent"}`), an S3 notification
    /// (`{"Records": […]}`, keys URL-decoded), a day call (an object whose one key is
    /// `list_pending` or `summarize`), or else a direct `{"bucket", "key"[, "replay"]}`.
    /// Anything else is [`ErrorKind::InvalidInput`] naming what was expected.
    pub fn parse(event: Value) -> Result<Self, FunctionError> {
        let Some(fields) = event.as_object() else {
            return Err(FunctionError::invalid_request(
                "a JSON object",
                &event,
                "not an object",
            ));
        };
        if fields.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            return Ok(Self::TestEvent);
        }
        if fields.contains_key("Records") {
            let n = S3Notification::deserialize(&event).map_err(|e| {
                FunctionError::invalid_request("an S3 event notification", &event, e)
            })?;
            return Ok(Self::Objects(objects_of_notification(n)?));
        }
        if fields.len() == 1
            && (fields.contains_key("list_pending") || fields.contains_key("summarize"))
        {
            let call = DayCall::deserialize(&event).map_err(|e| {
                FunctionError::invalid_request(
                    "{\"list_pending\" | \"summarize\": {\"date\": \"YYYY-MM-DD\" | null}}",
                    &event,
                    e,
                )
            })?;
            return Ok(match call {
                DayCall::ListPending(r) => Self::ListPending(r),
                DayCall::Summarize(r) => Self::Summarize(r),
            });
        }
        let direct = ObjectRequest::deserialize(&event).map_err(|e| {
            FunctionError::invalid_request(
                "an S3 notification, {\"list_pending\"}, {\"summarize\"} or {\"bucket\", \"key\"}",
                &event,
                e,
            )
        })?;
        Ok(Self::Objects(vec![direct]))
    }
}

fn objects_of_notification(n: S3Notification) -> Result<Vec<ObjectRequest>, FunctionError> {
    let mut out = Vec::new();
    for r in n.records {
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
        out.push(ObjectRequest {
            bucket,
            key: decode_s3_key(&key)?,
            replay: false,
            sequencer: r.s3.object.sequencer,
            etag: r.s3.object.e_tag,
        });
    }
    Ok(out)
}

/// The answer to a request for objects: one result per object processed (objects outside
/// `landing/` are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectsResponse {
    /// The results, in the request's order.
    pub objects: Vec<ObjectResult>,
}

fn encode(v: impl Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(v).map_err(|e| FunctionError::wrap(ErrorKind::Internal, e))
}

/// Handles the event; every object is attempted, then the first error (if any) is returned.
pub async fn handle(event: Value, run_id: &str, deps: &Deps) -> Result<Value, FunctionError> {
    let objects = match Request::parse(event)? {
        Request::TestEvent => return encode(ObjectsResponse { objects: vec![] }),
        Request::ListPending(r) => {
            let date = r.date_or_yesterday(Utc::now());
            let contracts = deps.ingestor.contracts();
            return encode(daily::list_pending(deps.store.as_ref(), contracts, date).await?);
        }
        Request::Summarize(r) => {
            let date = r.date_or_yesterday(Utc::now());
            let contracts = deps.ingestor.contracts();
            return encode(daily::summarize(deps.store.as_ref(), contracts, date).await?);
        }
        Request::Objects(objects) => objects,
    };
    let mut results = Vec::new();
    let mut first_error: Option<FunctionError> = None;
    for ObjectRequest {
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
            let version = EventVersion {
                sequencer: sequencer.as_deref(),
                etag: etag.as_deref(),
            };
            deps.ingestor.ingest_event(&key, run_id, version).await
        };
        match outcome {
            Ok(outcome) => results.push(daily::object_result(outcome)),
            Err(e) => {
                tracing::error!(key, error = %crate::transform::error_chain(&e), "ingestion failed");
                first_error.get_or_insert(FunctionError::from(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => encode(ObjectsResponse { objects: results }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_config_reads_exactly_the_variables_it_lists() {
        let c = super::config::read_exactly(
            Config::VARIABLES,
            &[
                ("LAKE_BUCKET", "lake"),
                ("LEDGER_TABLE", "ledger"),
                ("METRICS_NAMESPACE", "ShopFlow/test"),
                ("BATCH_ROWS", "100"),
                ("LEASE_MINUTES", "5"),
                ("SHOPFLOW_S3_FORCE_PATH_STYLE", "true"),
            ],
            Config::from_env,
        );
        assert_eq!(c.lease, chrono::Duration::minutes(5));
        assert!(c.force_path_style);
        let missing = BTreeMap::from([("LAKE_BUCKET".to_string(), "lake".to_string())]);
        let err = Config::from_env(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LEDGER_TABLE is not set"
        );
    }
}
