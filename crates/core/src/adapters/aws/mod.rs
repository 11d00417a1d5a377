//! AWS adapters (feature `aws`): S3 for the [`ObjectStore`](crate::ports::ObjectStore),
//! DynamoDB for the [`Ledger`](crate::ports::Ledger), [`ProductStore`](crate::ports::ProductStore)
//! and [`RunRegistry`](crate::ports::RunRegistry), Kinesis for the
//! [`TaskQueue`](crate::ports::TaskQueue), SNS for the [`Notifier`](crate::ports::Notifier), and
//! an HTTP client for the product API.
//!
//! Clients are configured from the standard AWS environment ([`sdk_config`]), so
//! `AWS_ENDPOINT_URL` points every client at an emulator; `SHOPFLOW_S3_FORCE_PATH_STYLE=true`
//! switches S3 to path-style addressing, which emulators need.

pub mod dynamodb;
pub mod http;
pub mod kinesis;
pub mod s3;
pub mod sns;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The shared SDK configuration from the environment (region, credentials, endpoint).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// An S3 client from the shared configuration.
pub fn s3_client(config: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Whether an SDK error may pass on a retry: timeouts, connection failures, unreadable
/// responses, 5xx, 429 and throttling codes.
pub fn is_retryable<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status >= 500
                || status == 429
                || ctx.err().code().is_some_and(|c| {
                    c.contains("Throttl")
                        || matches!(
                            c,
                            "SlowDown"
                                | "RequestLimitExceeded"
                                | "ProvisionedThroughputExceededException"
                                | "LimitExceededException"
                                | "InternalFailure"
                                | "ServiceUnavailable"
                        )
                })
        }
        _ => false,
    }
}

/// The error type of one AWS operation (`GetItemError`, `PutObjectError`, ...) inside an
/// [`SdkError`], with the bounds [`classify`] needs to keep it as a port error's source. Every
/// SDK operation error has them, so every one is an `OperationError` (blanket implementation).
pub trait OperationError: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> OperationError for E {}

/// An SDK error as the two things every port's `Backend` error variant keeps: whether a retry
/// may pass, and the error itself as its source.
pub fn classify<E: OperationError>(
    e: SdkError<E, HttpResponse>,
) -> (bool, Box<dyn std::error::Error + Send + Sync>) {
    (is_retryable(&e), Box::new(e))
}

/// The HTTP status of a service error, if the error is one.
pub fn service_status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    match e {
        SdkError::ServiceError(ctx) => Some(ctx.raw().status().as_u16()),
        _ => None,
    }
}
