//! Adapters behind the [ports](crate::ports): local ones (filesystem, in-memory, log lines)
//! used by the `shopflow` command and the tests, and the CloudWatch Embedded Metric Format
//! writer used by the Lambda functions.

#[cfg(feature = "aws")]
pub mod aws;
pub mod emf;
pub mod liveness;
pub mod local;
pub mod memory;
