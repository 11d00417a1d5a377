//! The ingest-trigger Lambda function's handler, as a library so tests call it directly with events from
//! `events/ingest-trigger/`. The function's logic lives in `shopflow_core::functions::ingest_trigger`; this crate
//! only adapts the Lambda runtime's types and reports errors with their stable error types.

pub mod handler;
