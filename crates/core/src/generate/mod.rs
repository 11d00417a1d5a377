//! Synthetic, deterministic e-commerce data with deliberately injected defects.
//!
//! [`generate`] writes input files for the four datasets into a directory, in the shapes the
//! pipeline's contracts accept:
//!
//! - `customers.csv` — customer profiles
//!   (`customer_id,name,email,phone,country,city,signup_date,updated_at`);
//! - `customers_updates.csv` — the same columns for the customers who moved during the window:
//!   a new `country` and `city`, and `updated_at` when they moved (see
//!   [`GenerateConfig::customer_moves`]);
//! - `products.json` — one DummyJSON-style page `{"products":[…],"total":N,"skip":0,"limit":N}`;
//!   each product carries `meta.updatedAt`;
//! - `products_updates.json` — a page of the same shape with the repriced products only: full
//!   records, the new `price`, and `meta.updatedAt` within the window's last 14 days (see
//!   [`GenerateConfig::price_changes`]);
//! - `transactions.csv` — sale lines sorted by time, with weekly seasonality, a gentle trend, an
//!   hour-of-day profile, heavy-tailed customers and popular products;
//! - `clickstream.jsonl` — browsing and purchase sessions consistent with the transactions;
//!
//! plus `generation_report.json`, a [`GenerationReport`] that lists every injected defect with
//! the contract rule id that must catch it, so a pipeline run can be checked to the row
//! ([`GenerationReport::expected_by_rule`], [`GenerationReport::expected_duplicates`]), and
//! every price change and customer move.
//!
//! Times for slowly changing dimensions: every base customer and product row is `updated_at`
//! 00:00 UTC of the day before the window's first day, so every later version (the update files)
//! has a later effective time however the files are ingested. Sales after a price change are
//! priced at the new price.
//!
//! Guarantees:
//! - the same [`GenerateConfig`] gives byte-identical files (seeded ChaCha streams, no hash-map
//!   iteration, no wall clock);
//! - every defective row carries exactly one defect, caught by exactly the rule id reported;
//! - clean rows trip no rule: they reference only clean customers and products, anonymous
//!   clickstream events carry a JSON `null` customer, and every value is within the contracts'
//!   allowed values and ranges;
//! - with `defect_rate` 0 every row is clean;
//! - the update files are always clean: they repeat clean base rows with only the changed
//!   values (and `updated_at`) different.
//!
//! Where things are: [`GenerateConfig`] in `config`, [`GenerateError`] in `error`, the report
//! types in `report`; one module per dataset (`customers`, `products`, `transactions`,
//! `clickstream`), each planning its rows and writing its files; and what they share: `clock`
//! (generated time), `random` (seeded streams, weighted choice, defect budgets), `format` (ids
//! and amounts as text) and `data` (word lists and weights). [`generate`] runs them in
//! order: customers and products first, since sales and sessions reference them.

mod clickstream;
mod clock;
mod config;
mod customers;
mod data;
mod error;
mod format;
mod products;
mod random;
mod report;
#[cfg(test)]
mod tests;
mod transactions;

use std::path::Path;

use clickstream::{ClickContext, plan_clickstream, write_clickstream};
use clock::Clock;
use customers::{write_customer_updates, write_customers};
use products::write_products;
use report::{generated_file, push_defects};
use transactions::{plan_transactions, write_transactions};

pub use config::GenerateConfig;
pub use error::GenerateError;
pub use report::{
    ConfigEcho, CustomerMove, DefectKind, GeneratedFile, GenerationReport, InjectedDefect,
    PriceChange,
};

/// File name of the generated customer profiles.
pub const CUSTOMERS_FILE: &str = "customers.csv";
/// File name of the generated customer moves (same columns as [`CUSTOMERS_FILE`]).
pub const CUSTOMER_UPDATES_FILE: &str = "customers_updates.csv";
/// File name of the generated product catalogue page.
pub const PRODUCTS_FILE: &str = "products.json";
/// File name of the generated price changes (same shape as [`PRODUCTS_FILE`]).
pub const PRODUCT_UPDATES_FILE: &str = "products_updates.json";
/// File name of the generated sales transactions.
pub const TRANSACTIONS_FILE: &str = "transactions.csv";
/// File name of the generated clickstream events.
pub const CLICKSTREAM_FILE: &str = "clickstream.jsonl";
/// File name of the generation report written next to the data.
pub const REPORT_FILE: &str = "generation_report.json";

// Dataset names, as the contracts, the landing prefixes and the report spell them.
const CUSTOMERS: &str = "customers";
const PRODUCTS: &str = "products";
const TRANSACTIONS: &str = "transactions";
const CLICKSTREAM: &str = "clickstream";

/// Generates the data set described by `config` into `out_dir` (created if needed) and returns
/// (and writes, as `generation_report.json`) the report of what was written and injected.
pub fn generate(
    config: &GenerateConfig,
    out_dir: &Path,
) -> Result<GenerationReport, GenerateError> {
    config.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| GenerateError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let clock = Clock::new(config)?;
    let mut defects = Vec::new();

    let mut files = Vec::with_capacity(6);

    let customers_path = out_dir.join(CUSTOMERS_FILE);
    let customers = write_customers(config, &clock, &customers_path)?;
    push_defects(&mut defects, CUSTOMERS, &customers.defects);
    files.push(generated_file(
        CUSTOMERS,
        &customers_path,
        config.customers as u64,
    )?);
    if !customers.moves.is_empty() {
        let path = out_dir.join(CUSTOMER_UPDATES_FILE);
        write_customer_updates(&customers.moves, &path)?;
        files.push(generated_file(
            CUSTOMERS,
            &path,
            customers.moves.len() as u64,
        )?);
    }

    let products_path = out_dir.join(PRODUCTS_FILE);
    let updates_path = out_dir.join(PRODUCT_UPDATES_FILE);
    let products = write_products(config, &clock, &products_path, &updates_path)?;
    push_defects(&mut defects, PRODUCTS, &products.defects);
    files.push(generated_file(
        PRODUCTS,
        &products_path,
        config.products as u64,
    )?);
    if !products.changes.is_empty() {
        files.push(generated_file(
            PRODUCTS,
            &updates_path,
            products.changes.len() as u64,
        )?);
    }

    let transactions = plan_transactions(config, &customers, &products, &clock);
    push_defects(&mut defects, TRANSACTIONS, &transactions.defects);
    let clicks = plan_clickstream(config, &transactions);
    push_defects(
        &mut defects,
        CLICKSTREAM,
        &[(DefectKind::UnknownEventType, clicks.defects)],
    );

    let transactions_path = out_dir.join(TRANSACTIONS_FILE);
    let clickstream_path = out_dir.join(CLICKSTREAM_FILE);
    let click_ctx = ClickContext {
        seed: config.seed,
        customers: &customers.table,
        products: &products,
        clock: &clock,
    };
    // The two big files are independent: write them side by side.
    let (transaction_rows, click_result) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_transactions(&transactions, &clock, &transactions_path));
        let clicks_written =
            write_clickstream(&click_ctx, &transactions, &clicks, &clickstream_path);
        let transactions_written = match writer.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (transactions_written, clicks_written)
    });
    let transaction_rows = transaction_rows?;
    let click_rows = click_result?;

    files.push(generated_file(
        TRANSACTIONS,
        &transactions_path,
        transaction_rows,
    )?);
    files.push(generated_file(CLICKSTREAM, &clickstream_path, click_rows)?);
    let price_changes = products.reported_changes(&clock);
    let customer_moves = customers.reported_moves();
    let report = GenerationReport {
        config: ConfigEcho {
            seed: config.seed,
            customers: config.customers,
            products: config.products,
            transactions: config.transactions,
            defect_rate: config.defect_rate,
            end_date: config.end_date.to_string(),
            days: config.days,
            price_changes: config.price_changes,
            customer_moves: config.customer_moves,
        },
        files,
        defects,
        price_changes,
        customer_moves,
    };
    let report_path = out_dir.join(REPORT_FILE);
    let mut json = serde_json::to_vec_pretty(&report).map_err(|source| GenerateError::Json {
        path: report_path.clone(),
        source,
    })?;
    json.push(b'\n');
    std::fs::write(&report_path, json).map_err(|source| GenerateError::Io {
        path: report_path.clone(),
        source,
    })?;
    tracing::info!(
        dir = %out_dir.display(),
        customers = config.customers,
        products = config.products,
        transactions = transaction_rows,
        clickstream_events = click_rows,
        price_changes = report.price_changes.len(),
        customer_moves = report.customer_moves.len(),
        defects = report.defects.iter().map(|d| d.count).sum::<u64>(),
        "generated data set"
    );
    Ok(report)
}
