//! # shopflow-workflow
//!
//! A small Amazon States Language interpreter, so the `shopflow` command runs the daily workflow
//! from the same definition Step Functions runs (`statemachine/pipeline.asl.json`). It knows
//! nothing of ShopFlow's data: every `Task` goes to a [`TaskRunner`], which the `shopflow run`
//! command implements with the Lambda functions' own handlers over local adapters.
//!
//! - [`asl`] — the definition: serde types, load-time checks.
//! - [`path`] — JSONPath subset, payload templates, `InputPath` / `ResultPath` / `OutputPath`.
//! - [`intrinsics`] — `States.Format`, `States.JsonMerge`, `States.JsonToString`, ….
//! - [`engine`] — [`execute`]: walks the states from `StartAt`, dispatching every `Task` to a
//!   [`TaskRunner`], with `Retry` (no sleeping locally), `Catch`, `Map` with tolerated failures
//!   and `Choice`, and returns the output with a [trace](TraceEntry) of the visited states.
//!
//! Locally, `TimeoutSeconds` / `HeartbeatSeconds` are not enforced, retries do not wait (the
//! nominal backoff is computed and recorded), and a Map runs its iterations one at a time.

pub mod asl;
pub mod engine;
pub mod intrinsics;
pub mod path;

use serde::Serialize;
use serde_json::{Value, json};

pub use asl::StateMachine;
pub use engine::{Options, execute};

/// The attribute macro that implements [`TaskRunner`] with an `async fn`, re-exported so an
/// implementor needs no dependency of its own.
pub use async_trait::async_trait;

/// The ARN of the optimised Lambda integration.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// The ARN of the optimised SNS integration.
pub const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";

/// Errors that stop the interpreter itself (the execution's own failures are an
/// [`ExecutionStatus::Failed`], not one of these).
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The definition is not JSON, or not ASL this interpreter reads.
    #[error("the state machine definition cannot be read")]
    Parse(#[source] serde_json::Error),
    /// The definition is inconsistent.
    #[error("invalid state machine definition: {0}")]
    Invalid(String),
    /// A transition names a state that does not exist.
    #[error("{from} names {target:?} as its {field}, but there is no state {target:?}")]
    UnknownState {
        /// The state (or scope) naming it.
        from: String,
        /// `Next`, `Default`, `StartAt`, ….
        field: String,
        /// The missing name.
        target: String,
    },
    /// The execution did not end within the transition limit (a loop).
    #[error("the execution did not end within {limit} state transitions")]
    TooManyTransitions {
        /// The limit that was passed: [`Options::max_transitions`] (default 25,000).
        limit: usize,
    },
}

/// An error as Step Functions reports it: a name (what `ErrorEquals` matches) and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    /// The error name (`ShopFlow.Retryable`, `Lambda.ServiceException`, `States.Runtime`, …).
    pub error: String,
    /// What happened, for people (`Cause`); `ErrorEquals` never looks at it.
    pub cause: String,
}

impl TaskFailure {
    /// A failure named `error`.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A `States.Runtime` failure (bad path, bad intrinsic call): never retried or caught.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new("States.Runtime", cause)
    }

    /// `{"Error", "Cause"}`, what a `Catch` puts at its `ResultPath`.
    pub fn to_value(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }

    /// Whether no `Retry` or `Catch` may handle it.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.error.as_str(),
            "States.Runtime" | "States.DataLimitExceeded"
        )
    }

    /// Whether an `ErrorEquals` list applies to this failure.
    pub fn matches(&self, error_equals: &[String]) -> bool {
        if self.is_terminal() {
            return false;
        }
        error_equals.iter().any(|e| {
            e == &self.error
                || e == "States.ALL"
                || (e == "States.TaskFailed" && self.error != "States.Timeout")
        })
    }
}

/// Runs a `Task` state's resource.
#[async_trait]
pub trait TaskRunner: Send + Sync {
    /// Calls `resource` with the evaluated `Parameters`; see [`Target`] to tell the calls
    /// apart. The result is what the integration returns (for `lambda:invoke`, the
    /// `{"Payload", "StatusCode", …}` envelope: see [`lambda_result`]).
    async fn run(&self, resource: &str, parameters: Value) -> Result<Value, TaskFailure>;
}

/// What a `Task` calls, read from its resource and parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Target<'a> {
    /// A Lambda function.
    Lambda {
        /// `FunctionName` (as written in the definition, e.g. `${transformer_arn}`) or the
        /// function ARN of a plain Lambda resource.
        function: &'a str,
        /// The event the function gets: an optimised call's `Payload` (`null` when absent),
        /// else the whole `Parameters`.
        payload: &'a Value,
        /// Through `arn:aws:states:::lambda:invoke` (the result is wrapped in `Payload`).
        optimized: bool,
    },
    /// `sns:publish`.
    SnsPublish {
        /// `TopicArn`.
        topic: &'a str,
        /// `Subject`.
        subject: Option<&'a str>,
        /// `Message` (an object is sent as its JSON text).
        message: String,
        /// The `kind` message attribute (`summary`, `alert`), if any.
        kind: Option<&'a str>,
    },
    /// Anything else.
    Other,
}

impl<'a> Target<'a> {
    /// Reads the target of a call.
    pub fn of(resource: &'a str, parameters: &'a Value) -> Result<Self, TaskFailure> {
        let text = |field: &str| parameters.get(field).and_then(Value::as_str);
        if resource == LAMBDA_INVOKE {
            let function = text("FunctionName").ok_or_else(|| {
                TaskFailure::runtime("lambda:invoke needs a \"FunctionName\" string")
            })?;
            return Ok(Self::Lambda {
                function,
                payload: parameters.get("Payload").unwrap_or(&Value::Null),
                optimized: true,
            });
        }
        if resource.starts_with("arn:aws:lambda:") || resource.starts_with("${") {
            return Ok(Self::Lambda {
                function: resource,
                payload: parameters,
                optimized: false,
            });
        }
        if resource == SNS_PUBLISH {
            let topic = text("TopicArn").ok_or_else(|| {
                TaskFailure::new(
                    "SNS.InvalidParameterException",
                    "sns:publish needs a \"TopicArn\"",
                )
            })?;
            let message = match parameters.get("Message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => {
                    return Err(TaskFailure::new(
                        "SNS.InvalidParameterException",
                        "sns:publish needs a \"Message\"",
                    ));
                }
            };
            return Ok(Self::SnsPublish {
                topic,
                subject: text("Subject"),
                message,
                kind: parameters
                    .pointer("/MessageAttributes/kind/StringValue")
                    .and_then(Value::as_str),
            });
        }
        Ok(Self::Other)
    }
}

/// What a Lambda call returns to the state machine: the optimised integration wraps the
/// function's result in `{"Payload", "StatusCode", "ExecutedVersion"}`.
pub fn lambda_result(payload: Value, optimized: bool) -> Value {
    if optimized {
        json!({ "ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200 })
    } else {
        payload
    }
}

/// A function error as the Lambda integration reports it: the error type, and a cause that is
/// the JSON of the function's error response.
pub fn lambda_failure(error_type: &str, message: &str) -> TaskFailure {
    TaskFailure::new(
        error_type,
        json!({ "errorType": error_type, "errorMessage": message }).to_string(),
    )
}

/// How a visited state ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// It completed (for a `Choice`: it chose).
    Succeeded,
    /// It failed and a `Catch` sent the execution on.
    Caught {
        /// The name of the failure the `Catch` matched.
        error: String,
        /// The failure's `Cause`, which the `Catch` put at its `ResultPath` with the name.
        cause: String,
    },
    /// It failed, ending its state machine (or it is a `Fail` state).
    Failed {
        /// The name of the failure that ended the state.
        error: String,
        /// The failure's `Cause`: what the task or the interpreter reported, or a `Fail` state's
        /// `Cause`.
        cause: String,
    },
}

/// One visited state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEntry {
    /// The state's name.
    pub state: String,
    /// Its type (`Task`, `Map`, …).
    pub state_type: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Calls made (Tasks, and Map runs), retries included.
    pub attempts: u32,
    /// The errors that were retried, with the nominal backoff in seconds (not slept locally).
    pub retried: Vec<(String, f64)>,
    /// The state it led to.
    pub next: Option<String>,
    /// What happened, in a few words (a Map's counts, the Choice rule that matched).
    pub note: Option<String>,
    /// A Map's iterations.
    pub iterations: Vec<Iteration>,
}

/// One iteration of a Map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Iteration {
    /// The item's position in the Map's item array, from 0 (`$$.Map.Item.Index`).
    pub index: usize,
    /// The item's input (after `ItemSelector`).
    pub input: Value,
    /// The states it visited.
    pub trace: Vec<TraceEntry>,
    /// Its failure, if it failed.
    pub failure: Option<TaskFailure>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// At a `Succeed` state or a state with `End`.
    Succeeded,
    /// At a `Fail` state, or with an error nothing caught.
    Failed(TaskFailure),
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Execution {
    /// How it ended.
    pub status: ExecutionStatus,
    /// The output (`None` when it failed).
    pub output: Option<Value>,
    /// The visited states, in order.
    pub trace: Vec<TraceEntry>,
}

impl Execution {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// The names of the visited top-level states, in order.
    pub fn visited(&self) -> Vec<&str> {
        self.trace.iter().map(|e| e.state.as_str()).collect()
    }
}
