//! The Lambda handler: a plain async function over injected ports, callable from tests.

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopflow_core::functions::report_generator;
pub use shopflow_lambda::{HandlerError, init};

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<Value>,
    deps: &report_generator::Deps,
) -> Result<Value, HandlerError> {
    Ok(report_generator::handle(event.payload, deps).await?)
}
