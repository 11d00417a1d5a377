//! Integration tests of shopflow-core: the whole data plane through the ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contracts;
mod corruption;
mod delivery;
mod docs;
mod drift;
mod ingest;
mod malformed;
mod support;
mod tables;
