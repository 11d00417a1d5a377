//! A Lambda function's IAM role as a test can hold it to: SDK clients for a [`Moto`] server that
//! record the IAM action of every call they make and refuse, as AWS answers `AccessDenied`, any
//! action the role does not grant.
//!
//! A function's tests build its adapters from a [`Role`] granting exactly the actions the
//! function declares (`Config::ACTIONS` in `shopflow_core::functions`), so a call the
//! declaration misses fails the test that makes it, and [`Role::called`] shows which declared
//! actions the tests reached.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::Moto;

/// The IAM action an SDK operation needs: `service:Operation`, except where IAM names it
/// otherwise (S3's `HeadObject` is `s3:GetObject`, `ListObjectsV2` is `s3:ListBucket`, and the
/// parts of a multipart upload are `s3:PutObject`).
pub fn iam_action(service: &str, operation: &str) -> String {
    let service = service.to_ascii_lowercase();
    let action = match (service.as_str(), operation) {
        ("s3", "HeadObject") => "GetObject",
        ("s3", "ListObjectsV2") => "ListBucket",
        ("s3", "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload") => "PutObject",
        (_, operation) => operation,
    };
    format!("{service}:{action}")
}

#[derive(Debug, Default)]
struct Log {
    called: BTreeSet<String>,
    denied: BTreeSet<String>,
}

/// SDK clients for one function's role on a [`Moto`] server (see the module docs). Made by
/// [`Moto::role`].
///
/// # Panics
///
/// When dropped, if any call was refused (unless the thread is already panicking): a refused
/// call may have been retried or turned into a function error that the test did not look at,
/// and an action the code needs but the declaration misses must never pass unnoticed.
#[derive(Debug)]
pub struct Role {
    moto_endpoint: String,
    granted: Arc<BTreeSet<String>>,
    log: Arc<Mutex<Log>>,
}

#[derive(Debug)]
struct Recorder {
    granted: Arc<BTreeSet<String>>,
    log: Arc<Mutex<Log>>,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "shopflow-testkit-role"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's
    // own configuration (which holds its name) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg
            .load::<Metadata>()
            .ok_or("the SDK gave no operation metadata to the role's recorder")?;
        let action = iam_action(metadata.service(), metadata.name());
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if self.granted.contains(&action) {
            log.called.insert(action);
            Ok(())
        } else {
            log.denied.insert(action.clone());
            Err(format!(
                "AccessDenied (test role): {action} ({} {}) is not among the granted actions {:?}",
                metadata.service(),
                metadata.name(),
                self.granted
            )
            .into())
        }
    }
}

impl Moto {
    /// A [`Role`] granting exactly `actions` (IAM names, `s3:GetObject`).
    pub fn role<'a>(&self, actions: impl IntoIterator<Item = &'a str>) -> Role {
        Role {
            moto_endpoint: self.endpoint(),
            granted: Arc::new(actions.into_iter().map(str::to_string).collect()),
            log: Arc::default(),
        }
    }
}

impl Role {
    fn recorder(&self) -> Recorder {
        Recorder {
            granted: self.granted.clone(),
            log: self.log.clone(),
        }
    }

    /// An S3 client (path-style) under this role.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            crate::moto::s3_config(&self.moto_endpoint)
                .interceptor(self.recorder())
                .build(),
        )
    }

    /// A DynamoDB client under this role.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            crate::moto::dynamodb_config(&self.moto_endpoint)
                .interceptor(self.recorder())
                .build(),
        )
    }

    /// A Kinesis client under this role.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::from_conf(
            crate::moto::kinesis_config(&self.moto_endpoint)
                .interceptor(self.recorder())
                .build(),
        )
    }

    /// An SNS client under this role.
    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            crate::moto::sns_config(&self.moto_endpoint)
                .interceptor(self.recorder())
                .build(),
        )
    }

    /// The granted actions the clients have called so far.
    pub fn called(&self) -> BTreeSet<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .called
            .clone()
    }

    /// Panics naming the actions of `expected` the clients have not called: a function's
    /// tests hold its declared ordinary-path actions to this, so a grant the code no longer
    /// needs does not stay in its policy.
    pub fn assert_called<'a>(&self, expected: impl IntoIterator<Item = &'a str>) {
        let called = self.called();
        let missing: Vec<&str> = expected
            .into_iter()
            .filter(|a| !called.contains(*a))
            .collect();
        assert!(
            missing.is_empty(),
            "declared actions the code never called: {missing:?} (called: {called:?}); if the \
             ordinary path no longer calls them, remove them from Config::ACTIONS and Terraform, \
             or declare them `when` the path that calls them is taken"
        );
    }

    /// The actions the clients were refused so far (each once).
    pub fn denied(&self) -> BTreeSet<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .denied
            .clone()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let denied = self.denied();
        if !denied.is_empty() && !std::thread::panicking() {
            panic!(
                "the code called actions its role does not grant: {denied:?}; declare them in the \
                 function's Config::ACTIONS (and grant them in Terraform) or stop calling them"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_names_the_s3_reads_lists_and_multipart_parts_by_their_permission() {
        assert_eq!(iam_action("S3", "HeadObject"), "s3:GetObject");
        assert_eq!(iam_action("S3", "GetObject"), "s3:GetObject");
        assert_eq!(iam_action("S3", "ListObjectsV2"), "s3:ListBucket");
        assert_eq!(iam_action("S3", "UploadPart"), "s3:PutObject");
        assert_eq!(
            iam_action("S3", "AbortMultipartUpload"),
            "s3:AbortMultipartUpload"
        );
        assert_eq!(iam_action("DynamoDB", "GetItem"), "dynamodb:GetItem");
        assert_eq!(iam_action("Kinesis", "PutRecords"), "kinesis:PutRecords");
        assert_eq!(iam_action("SNS", "Publish"), "sns:Publish");
    }
}
