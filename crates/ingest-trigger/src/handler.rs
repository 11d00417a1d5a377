//! The Lambda handler: a plain async function over injected ports, callable from tests.

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopflow_core::functions::ingest_trigger;
pub use shopflow_lambda::{HandlerError, init};

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<Value>,
    deps: &ingest_trigger::Deps,
) -> Result<Value, HandlerError> {
    Ok(ingest_trigger::handle(event.payload, deps).await?)
}
