//! The AWS actions each function's code calls, as IAM names them: each function's
//! `Config::ACTIONS` lists them beside the variables it reads, the deployment manifest
//! (`infrastructure/functions.json`) carries them, and `tests/infra/consistency.py` checks that
//! the function's Terraform role grants exactly these in its `Code*` statements.
//!
//! The list is kept true by the function's own tests: they run the handler against a moto
//! server through `shopflow_testkit::Role` clients that grant only this list (any other call
//! fails, as AWS would answer `AccessDenied`), and one test per function checks that every
//! [`Need::Always`] action was called.

use serde::Serialize;

/// One IAM action a function's code calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Action {
    /// The IAM action, `service:Operation` (`s3:GetObject` also covers `HeadObject`,
    /// `s3:PutObject` the multipart upload's parts, `s3:ListBucket` `ListObjectsV2`).
    pub name: &'static str,
    /// What the code calls it for, and on which resource.
    pub about: &'static str,
    /// When the code calls it.
    pub need: Need,
}

/// When a function calls an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "when")]
pub enum Need {
    /// On the ordinary path: the function's tests must call it.
    Always,
    /// Only on the path named here (a failed multipart upload, a repeated delivery, a table log
    /// past its retention); the policy grants it all the same, the tests need not reach it.
    When(&'static str),
}

impl Action {
    /// An action every ordinary run of the function calls.
    pub const fn always(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            about,
            need: Need::Always,
        }
    }

    /// An action only the named path calls.
    pub const fn when(name: &'static str, about: &'static str, when: &'static str) -> Self {
        Self {
            name,
            about,
            need: Need::When(when),
        }
    }
}

/// The S3 object store's clean-up of a failed multipart upload (files over the store's
/// multipart threshold, `adapters::aws::s3`): declared by every function that writes large
/// files to the lake.
pub const ABORT_MULTIPART_UPLOAD: Action = Action::when(
    "s3:AbortMultipartUpload",
    "abandons a failed multipart upload of a large file in LAKE_BUCKET",
    "a multipart upload fails",
);

/// The names of `actions`, for a policy or a test role.
pub fn names(actions: &[Action]) -> Vec<&'static str> {
    actions.iter().map(|a| a.name).collect()
}

/// The names of the actions of `actions` the ordinary path calls ([`Need::Always`]).
pub fn always(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .filter(|a| a.need == Need::Always)
        .map(|a| a.name)
        .collect()
}
