//! The Lambda handler: a plain async function over injected ports, callable from tests.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use shopflow_core::functions::{FunctionError, transformer};

/// JSON logs on standard error, level from `RUST_LOG` (default info).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
}

/// A function error as the runtime reports it: the stable error type and the message.
#[derive(Debug)]
pub struct HandlerError(pub FunctionError);

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.0.error_type().to_string(),
            error_message: e.0.message.clone(),
        }
    }
}

/// Handles one invocation.
pub async fn handle(
    event: LambdaEvent<Value>,
    deps: &transformer::Deps,
) -> Result<Value, HandlerError> {
    // The Lambda request id names the run: one invocation, one run.
    let run_id = format!("lambda-{}", event.context.request_id);
    transformer::handle(event.payload, &run_id, deps)
        .await
        .map_err(|e| {
            tracing::error!(error_type = e.error_type(), error = %e.message, "invocation failed");
            HandlerError(e)
        })
}
