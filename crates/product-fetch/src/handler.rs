//! The Lambda handler: a plain async function over injected ports, callable from tests.

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shopflow_core::functions::product_fetch;
pub use shopflow_lambda::{HandlerError, init};

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<Value>,
    deps: &product_fetch::Deps,
) -> Result<Value, HandlerError> {
    Ok(product_fetch::handle(event.payload, deps).await?)
}
