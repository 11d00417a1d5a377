//! What every ShopFlow Lambda binary shares: JSON logs through `tracing`, and
//! [`HandlerError`], which reports a [`FunctionError`] to the runtime with its stable error type
//! (`ShopFlow.Retryable`, `ShopFlow.InvalidInput`, `ShopFlow.Internal`) so a state machine's
//! `Retry` and `Catch` can match on it.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use shopflow_core::functions::FunctionError;
use shopflow_core::functions::config::RUST_LOG;

/// Process set-up every function's `main` runs first: the allocator's bound on freed memory
/// ([`shopflow_core::memory::bound_heap_retention`]), then JSON logs on standard error, level
/// from [`RUST_LOG`] (default `info`, with [`shopflow_core::QUIET_DEPENDENCY_LOGS`]).
pub fn init() {
    let retention = shopflow_core::memory::bound_heap_retention();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(RUST_LOG.name).unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(shopflow_core::default_log_filter("info"))
            }),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
    tracing::debug!(?retention, "allocator retention");
}

/// The run id of an invocation: `lambda-{request id}`, so one invocation is one run (and a
/// retried invocation, which has a new request id, another).
pub fn run_id(context: &lambda_runtime::Context) -> String {
    format!("lambda-{}", context.request_id)
}

/// One invocation of a function: `handler` (a `shopflow_core::functions::*::handle`) gets the
/// event's payload, the invocation's [`run_id`] and the function's dependencies; its error is
/// reported with its stable error type. Every function's `main.rs` serves this, and the
/// functions' tests call it as the runtime does.
pub async fn invoke<D>(
    event: LambdaEvent<Value>,
    deps: &D,
    handler: impl AsyncFnOnce(Value, &str, &D) -> Result<Value, FunctionError>,
) -> Result<Value, HandlerError> {
    let run_id = run_id(&event.context);
    Ok(handler(event.payload, &run_id, deps).await?)
}

/// A function error as the runtime reports it: its [`Diagnostic`] carries the error's
/// stable type (`ShopFlow.Retryable`, ...), which the state machine's `Retry` and `Catch`
/// match, and its message.
#[derive(Debug)]
pub struct HandlerError(pub FunctionError);

impl From<FunctionError> for HandlerError {
    fn from(e: FunctionError) -> Self {
        tracing::error!(error_type = e.error_type(), error = %e.message, "invocation failed");
        Self(e)
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.0.error_type().to_string(),
            error_message: e.0.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopflow_core::functions::ErrorKind;

    #[test]
    fn reports_the_stable_error_type() {
        let d: Diagnostic = HandlerError(FunctionError::new(ErrorKind::Retryable, "busy")).into();
        assert_eq!(d.error_type, "ShopFlow.Retryable");
        assert_eq!(d.error_message, "busy");
    }
}
