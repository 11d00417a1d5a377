//! The Lambda handler: a plain async function over injected ports, callable from tests.

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopflow_core::functions::transformer;
pub use shopflow_lambda::{HandlerError, init};

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<Value>,
    deps: &transformer::Deps,
) -> Result<Value, HandlerError> {
    // The Lambda request id names the run: one invocation, one run.
    let run_id = format!("lambda-{}", event.context.request_id);
    Ok(transformer::handle(event.payload, &run_id, deps).await?)
}
