//! The report-generator Lambda function's handler, as a library so tests call it directly with events from
//! `events/report-generator/`. The function's logic lives in `shopflow_core::functions::report_generator`; this crate
//! only adapts the Lambda runtime's types and reports errors with their stable error types.

pub mod handler;
