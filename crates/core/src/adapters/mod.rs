//! Adapters behind the [ports](crate::ports): local ones (filesystem, in-memory, log lines)
//! used by the `shopflow` command and the tests, and the CloudWatch Embedded Metric Format
//! writer used by the Lambda functions.

pub mod emf;
pub mod local;
pub mod memory;
