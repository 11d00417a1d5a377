//! Integration tests of shopflow-core: the whole data plane through the ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts;
mod corruption;
mod ingest;
mod support;
mod tables;
