//! Test harness for ShopFlow's AWS-facing code.
//!
//! Two pieces, both started by the test itself and stopped when dropped:
//!
//! - [`Moto`]: a real [`moto`](https://docs.getmoto.org) server (the Python AWS emulator, in
//!   server mode) on a free loopback port, with ready-made AWS SDK clients pointed at it and
//!   helpers that create and read back the resources the pipeline uses (S3 buckets, a Kinesis
//!   stream, DynamoDB tables, an SNS topic with an SQS queue subscribed to it).
//! - [`Role`]: SDK clients for that server under one function's IAM role: they record the IAM
//!   action of every call and refuse the actions the role does not grant.
//! - [`ProductApiStub`]: a small HTTP/1.1 server serving a deterministic, DummyJSON-shaped
//!   product catalog (and a FakeStore-shaped one), whose pages can be told to fail in chosen
//!   ways ([`Behaviour`]): 429 with `Retry-After`, 500, slow answers, malformed JSON, dropped
//!   connections.
//!
//! The harness never skips: if `moto` is not installed, [`Moto::start`] panics with the command
//! that installs it.
//!
//! ```no_run
//! # async fn demo() {
//! let moto = shopflow_testkit::Moto::start();
//! moto.create_bucket("lake").await;
//! moto.put_object("lake", "landing/x.csv", b"a,b\n1,2\n".to_vec()).await;
//! assert_eq!(moto.list_keys("lake", "landing/").await, vec!["landing/x.csv"]);
//!
//! let api = shopflow_testkit::ProductApiStub::start(100).await;
//! api.fail(30, shopflow_testkit::Behaviour::ServerError { times: 2 });
//! // point the code under test at api.base_url() …
//! # }
//! ```

// Panicking with a clear message is how a test harness reports a broken environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod moto;
mod product_api;
mod role;

pub use moto::{MOTO_INSTALL_COMMAND, Moto, StreamRecord};
pub use product_api::{Behaviour, CATEGORIES, ProductApiStub};
pub use role::{Role, iam_action};
