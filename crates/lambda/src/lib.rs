//! What every ShopFlow Lambda binary shares: logs through `tracing` as Lambda's logging controls
//! ask ([`LogSettings`]), serving the runtime ([`serve`], each event through [`invoke`]), and
//! [`HandlerError`], which reports a [`FunctionError`] to the runtime with its stable error type
//! (`ShopFlow.Retryable`, `ShopFlow.InvalidInput`, `ShopFlow.Internal`) so a state machine's
//! `Retry` and `Catch` can match on it.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use shopflow_core::functions::FunctionError;
use shopflow_core::functions::config::{
    AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, Env, ProcessEnv, RUST_LOG,
};

/// Process set-up every function's `main` runs first: the allocator's bound on freed memory
/// ([`shopflow_core::memory::bound_heap_retention`]), then logs on standard error as
/// [`LogSettings::from_env`] reads them from the process environment.
pub fn init() {
    let retention = shopflow_core::memory::bound_heap_retention();
    let settings = LogSettings::from_env(&ProcessEnv);
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(shopflow_core::default_log_filter("info"))
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time();
    if settings.json {
        logs.json().with_current_span(false).init();
    } else {
        logs.init();
    }
    tracing::debug!(?retention, filter = %settings.filter, "allocator retention and log filter");
}

/// How a function logs. Lambda's advanced logging controls (the function's `logging_config`)
/// reach the process as [`AWS_LAMBDA_LOG_FORMAT`] and [`AWS_LAMBDA_LOG_LEVEL`], which are
/// honoured as the runtime's own `init_default_subscriber` honours them (the level before
/// [`RUST_LOG`], `INFO` without either); unlike it, a bare level keeps the dependencies'
/// noisy targets quieter ([`shopflow_core::QUIET_DEPENDENCY_LOGS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON lines (what CloudWatch Logs Insights and Lambda's level filtering read), unless
    /// [`AWS_LAMBDA_LOG_FORMAT`] is `Text`.
    pub json: bool,
    /// The `tracing` filter, in `EnvFilter` syntax: [`AWS_LAMBDA_LOG_LEVEL`] (`FATAL` being
    /// `error`, an unknown level `info`) with the quiet dependencies; else [`RUST_LOG`] as
    /// written; else `info` with the quiet dependencies.
    pub filter: String,
}

impl LogSettings {
    /// The settings `env` gives.
    pub fn from_env(env: &dyn Env) -> Self {
        let json = !env
            .var(AWS_LAMBDA_LOG_FORMAT.name)
            .is_some_and(|f| f.trim().eq_ignore_ascii_case("text"));
        let filter = match env.var(AWS_LAMBDA_LOG_LEVEL.name) {
            Some(level) => {
                let level = match level.trim().to_ascii_lowercase().as_str() {
                    "fatal" => "error".to_string(),
                    l @ ("trace" | "debug" | "info" | "warn" | "error") => l.to_string(),
                    _ => "info".to_string(),
                };
                shopflow_core::default_log_filter(&level)
            }
            None => env
                .var(RUST_LOG.name)
                .unwrap_or_else(|| shopflow_core::default_log_filter("info")),
        };
        Self { json, filter }
    }
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

/// Serves `handler` over `deps` to the Lambda runtime (each event through [`invoke`]) until the
/// runtime stops: what every function's `main` ends with, once its dependencies are built.
pub async fn serve<D>(
    deps: D,
    handler: impl AsyncFn(Value, &str, &D) -> Result<Value, FunctionError>,
) -> Result<(), lambda_runtime::Error> {
    let deps = &deps;
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        invoke(event, deps, async |e, id, d| handler(e, id, d).await)
    }))
    .await
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
    use std::collections::BTreeMap;

    use super::*;
    use shopflow_core::functions::ErrorKind;

    #[test]
    fn reports_the_stable_error_type() {
        let d: Diagnostic = HandlerError(FunctionError::new(ErrorKind::Retryable, "busy")).into();
        assert_eq!(d.error_type, "ShopFlow.Retryable");
        assert_eq!(d.error_message, "busy");
    }

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        let env: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogSettings::from_env(&env)
    }

    #[test]
    fn without_any_setting_logs_are_json_at_info_with_the_dependencies_quieter() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                json: true,
                filter: shopflow_core::default_log_filter("info"),
            }
        );
    }

    #[test]
    fn lambdas_log_level_wins_over_rust_log_and_keeps_the_dependencies_quieter() {
        let s = settings(&[
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]);
        assert!(s.json);
        assert_eq!(s.filter, shopflow_core::default_log_filter("debug"));
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter,
            shopflow_core::default_log_filter("error")
        );
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]).filter,
            shopflow_core::default_log_filter("info")
        );
    }

    #[test]
    fn rust_log_is_used_as_written_when_lambda_sets_no_level() {
        let s = settings(&[("RUST_LOG", "warn,shopflow_core=debug")]);
        assert_eq!(s.filter, "warn,shopflow_core=debug");
    }

    #[test]
    fn the_text_format_of_lambdas_logging_controls_turns_json_off() {
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", " text ")]).json);
    }
}
