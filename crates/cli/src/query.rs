//! `shopflow query`: SQL over the lake's silver and gold tables, printed as a table, CSV or
//! JSON.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use shopflow_core::contract::ContractSet;
use shopflow_core::sql::Engine;
use shopflow_core::tables::{AsOf, DeltaLake};

/// How a result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Reads `@file.sql` arguments from the file; anything else is the SQL itself.
fn statement(arg: &str) -> anyhow::Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        None => Ok(arg.to_string()),
    }
}

/// Registers the lake's tables (their current snapshots, or their state at `as_of`), runs
/// `sql` and prints the result on standard output.
pub async fn run(
    lake: &DeltaLake,
    contracts: &ContractSet,
    sql: &str,
    format: Format,
    as_of: Option<AsOf>,
) -> anyhow::Result<ExitCode> {
    let sql = statement(sql)?;
    let engine = Engine::new();
    let registered = engine
        .register_lake(lake, contracts, as_of)
        .await
        .context("registering the lake's tables")?;
    if let Some(at) = as_of {
        let versions: Vec<String> = registered
            .iter()
            .filter_map(|(t, v)| v.map(|v| format!("{t}@{v}")))
            .collect();
        eprintln!("as of {at:?}: {}", versions.join(", "));
    }
    let tables: Vec<String> = registered.keys().cloned().collect();
    let result = match engine.query("your query", &sql).await {
        Ok(r) => r,
        Err(e) => {
            let known = if tables.is_empty() {
                "none (run `shopflow demo` or `shopflow ingest` and `shopflow report` first)".into()
            } else {
                tables.join(", ")
            };
            eprintln!("tables in this lake: {known}");
            return Err(e.into());
        }
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let empty = [arrow::array::RecordBatch::new_empty(result.schema.clone())];
            let batches = if result.rows() == 0 {
                &empty[..]
            } else {
                &result.batches[..]
            };
            let text = arrow::util::pretty::pretty_format_batches(batches)
                .context("formatting the result")?;
            writeln!(out, "{text}")?;
            let n = result.rows();
            writeln!(out, "({n} {})", if n == 1 { "row" } else { "rows" })?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if result.batches.is_empty() {
                w.write(&arrow::array::RecordBatch::new_empty(result.schema.clone()))?;
            }
            for b in &result.batches {
                // Text cells are neutralized: a value starting with `=` is never a formula.
                let safe = shopflow_core::cells::neutralize_batch(b).context("writing CSV")?;
                w.write(&safe).context("writing CSV")?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut out);
            for b in &result.batches {
                w.write(b).context("writing JSON")?;
            }
            w.finish().context("writing JSON")?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
