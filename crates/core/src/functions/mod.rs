//! The four Lambda functions' logic and their protocol, as plain async functions over injected
//! ports. Each function crate's `main.rs` only builds the ports from the environment and calls
//! these; `shopflow run` calls the same handlers with local adapters, so the local run and the
//! deployed one execute the same code.
//!
//! - [`transformer`] — S3 notifications, `{bucket, key}`, `{list_pending}` and `{summarize}`
//!   → bronze, silver, quarantine and the day's lists and counts ([`daily`]).
//! - `report_generator` (feature `analytics`) — `{date}` and `{maintain}` → gold, the daily
//!   report, SNS summary and alerts; table maintenance.
//! - `ingest_trigger` (feature `lambda`) — API Gateway `POST /ingestions` and the daily
//!   schedule → fetch tasks.
//! - `product_fetch` (feature `lambda`) — Kinesis fetch tasks → raw pages in
//!   `landing/products/`, products table.
//! - [`config`] — typed configuration from the environment.
//! - [`iam`] — the AWS actions each function's code calls.
//!
//! Errors carry a stable [`ErrorKind`] whose name (`ShopFlow.Retryable`, `ShopFlow.InvalidInput`,
//! `ShopFlow.Internal`) is the Lambda error type a state machine's `Retry`/`Catch` match on.
//! Each area's error is classified once, by a `From` impl into [`FunctionError`].

pub mod config;
pub mod daily;
pub mod iam;
#[cfg(feature = "lambda")]
pub mod ingest_trigger;
#[cfg(feature = "lambda")]
pub mod product_fetch;
#[cfg(feature = "analytics")]
pub mod report_generator;
pub mod transformer;

use serde::Serialize;

/// Where the deployment manifest is kept, from the repository root.
pub const MANIFEST_PATH: &str = "infrastructure/functions.json";

/// The deployment manifest: for every Lambda function (by crate name), the environment
/// variables its `Config::from_env` reads and the AWS actions its code calls
/// (`Config::ACTIONS`), and the variables every function's shared set-up reads (its logs);
/// each variable says who sets it in AWS (`set_by`).
/// `tests/infra/consistency.py` reads it (as `infrastructure/functions.json`) and checks that
/// Terraform sets exactly these variables and grants exactly these actions; a unit test keeps
/// the committed file equal to this.
#[cfg(all(feature = "lambda", feature = "analytics"))]
pub fn manifest() -> serde_json::Value {
    serde_json::json!({
        "about": "Generated from the functions' Config::VARIABLES and Config::ACTIONS (crates/core/src/functions): do not edit. Regenerate with SHOPFLOW_UPDATE_MANIFEST=1 cargo test --workspace --lib -- the_committed_deployment_manifest_is_current",
        "shared_environment": [
            config::RUST_LOG,
            config::AWS_LAMBDA_LOG_FORMAT,
            config::AWS_LAMBDA_LOG_LEVEL,
        ],
        "functions": {
            "ingest-trigger": {
                "environment": ingest_trigger::Config::VARIABLES,
                "actions": ingest_trigger::Config::ACTIONS,
            },
            "product-fetch": {
                "environment": product_fetch::Config::VARIABLES,
                "actions": product_fetch::Config::ACTIONS,
            },
            "report-generator": {
                "environment": report_generator::Config::VARIABLES,
                "actions": report_generator::Config::ACTIONS,
            },
            "transformer": {
                "environment": transformer::Config::VARIABLES,
                "actions": transformer::Config::ACTIONS,
            },
        },
    })
}

/// The class of a function error, stable across releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// Trying again later may succeed (throttling, a busy claim, a backend outage).
    Retryable,
    /// The input can never succeed; do not retry.
    InvalidInput,
    /// A bug or a misconfiguration; retrying is unlikely to help.
    Internal,
}

impl ErrorKind {
    /// The Lambda error type reported to the runtime (what `ErrorEquals` matches).
    pub fn error_type(self) -> &'static str {
        match self {
            Self::Retryable => "ShopFlow.Retryable",
            Self::InvalidInput => "ShopFlow.InvalidInput",
            Self::Internal => "ShopFlow.Internal",
        }
    }

    /// [`Retryable`](Self::Retryable) when trying again may succeed, else
    /// [`Internal`](Self::Internal): how a failure of the lake or a backend (not of the
    /// request) is classified.
    pub fn retryable_or_internal(retryable: bool) -> Self {
        if retryable {
            Self::Retryable
        } else {
            Self::Internal
        }
    }

    /// Every error type a function can emit.
    pub const ALL: [ErrorKind; 3] = [Self::Retryable, Self::InvalidInput, Self::Internal];
}

/// An error returned by a function handler.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FunctionError {
    /// Its class.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl FunctionError {
    /// An error of `kind` with a message and no source.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` wrapping `source`; the message is the source's chain.
    pub fn wrap(kind: ErrorKind, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            kind,
            message: crate::transform::error_chain(&source),
            source: Some(Box::new(source)),
        }
    }

    /// A request that is not what a handler reads: [`ErrorKind::InvalidInput`], saying what
    /// was expected, why the event is not it, and the event itself (its first 200 characters:
    /// requests are small references such as dates and keys).
    pub fn invalid_request(
        expected: &str,
        event: &serde_json::Value,
        why: impl std::fmt::Display,
    ) -> Self {
        let mut got = event.to_string();
        if let Some((cut, _)) = got.char_indices().nth(200) {
            got.truncate(cut);
            got.push('…');
        }
        Self::new(
            ErrorKind::InvalidInput,
            format!("expected {expected}: {why}; got {got}"),
        )
    }

    /// The Lambda error type.
    pub fn error_type(&self) -> &'static str {
        self.kind.error_type()
    }
}

impl From<crate::ingest::IngestError> for FunctionError {
    fn from(e: crate::ingest::IngestError) -> Self {
        use crate::ingest::IngestError as E;
        let kind = if e.is_retryable() {
            ErrorKind::Retryable
        } else {
            match &e {
                E::NotLanding { .. } | E::Contract(_) | E::NotFound { .. } => {
                    ErrorKind::InvalidInput
                }
                _ => ErrorKind::Internal,
            }
        };
        Self::wrap(kind, e)
    }
}

impl From<crate::report::ReportError> for FunctionError {
    fn from(e: crate::report::ReportError) -> Self {
        Self::wrap(ErrorKind::retryable_or_internal(e.is_retryable()), e)
    }
}

impl From<crate::ports::TableError> for FunctionError {
    fn from(e: crate::ports::TableError) -> Self {
        Self::wrap(ErrorKind::retryable_or_internal(e.is_retryable()), e)
    }
}

impl From<crate::ports::NotifyError> for FunctionError {
    fn from(e: crate::ports::NotifyError) -> Self {
        let retryable = matches!(
            e,
            crate::ports::NotifyError::Backend {
                retryable: true,
                ..
            }
        );
        Self::wrap(ErrorKind::retryable_or_internal(retryable), e)
    }
}

/// Decodes an S3 notification key: `+` is a space, `%XX` a byte.
pub fn decode_s3_key(key: &str) -> Result<String, FunctionError> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => out.push(b),
                    None => {
                        return Err(FunctionError::new(
                            ErrorKind::InvalidInput,
                            format!("object key {key:?} has a bad %-escape at byte {i}"),
                        ));
                    }
                }
                i += 2;
            }
            b'%' => {
                return Err(FunctionError::new(
                    ErrorKind::InvalidInput,
                    format!("object key {key:?} ends in an incomplete %-escape"),
                ));
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| FunctionError::wrap(ErrorKind::InvalidInput, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_s3_keys_as_s3_encodes_them() {
        assert_eq!(
            decode_s3_key("landing/customers/customers+export%2Bfinal+2026.csv").unwrap(),
            "landing/customers/customers export+final 2026.csv"
        );
        assert_eq!(
            decode_s3_key("landing/a/caf%C3%A9.csv").unwrap(),
            "landing/a/café.csv"
        );
        assert!(decode_s3_key("landing/a/b%2").is_err());
        assert!(decode_s3_key("landing/a/b%zz").is_err());
    }

    #[test]
    fn each_ingestion_error_has_one_class() {
        use crate::ingest::IngestError;
        use crate::ports::{LedgerError, StoreError};
        let backend = |retryable| StoreError::Backend {
            operation: "GetObject",
            key: "k".into(),
            retryable,
            source: "boom".into(),
        };
        let cases = [
            (
                IngestError::NotLanding { key: "x".into() },
                ErrorKind::InvalidInput,
            ),
            (
                IngestError::NotFound { key: "x".into() },
                ErrorKind::InvalidInput,
            ),
            (
                IngestError::Contract(
                    crate::contract::ContractSet::defaults()
                        .unwrap()
                        .get("nope")
                        .unwrap_err(),
                ),
                ErrorKind::InvalidInput,
            ),
            (
                IngestError::Busy {
                    key: "k".into(),
                    run_id: "r".into(),
                    lease_until: String::new(),
                },
                ErrorKind::Retryable,
            ),
            (IngestError::Store(backend(true)), ErrorKind::Retryable),
            (IngestError::Store(backend(false)), ErrorKind::Internal),
            (
                IngestError::Ledger(LedgerError::NotHeld {
                    object_id: "o".into(),
                    run_id: "r".into(),
                }),
                ErrorKind::Internal,
            ),
            (
                IngestError::WorkDir(std::io::Error::other("disk")),
                ErrorKind::Retryable,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            assert_eq!(FunctionError::from(error).kind, kind, "{text}");
        }
    }

    #[cfg(all(feature = "lambda", feature = "analytics"))]
    #[test]
    fn the_committed_deployment_manifest_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(MANIFEST_PATH);
        let mut expected = serde_json::to_string_pretty(&manifest()).unwrap();
        expected.push('\n');
        if std::env::var_os("SHOPFLOW_UPDATE_MANIFEST").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == expected,
            "{MANIFEST_PATH} is not what the functions read: regenerate it with \
             SHOPFLOW_UPDATE_MANIFEST=1 cargo test --workspace --lib -- the_committed_deployment_manifest_is_current"
        );
    }

    #[test]
    fn error_types_are_stable() {
        let names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.error_type()).collect();
        assert_eq!(
            names,
            [
                "ShopFlow.Retryable",
                "ShopFlow.InvalidInput",
                "ShopFlow.Internal"
            ]
        );
    }
}
