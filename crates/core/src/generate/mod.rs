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

mod data;

use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use chrono::{Datelike, Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use data::{
    BAD_DATES, BAD_EVENT_TYPES, BAD_PAYMENT_METHODS, CATEGORIES, COUNTRIES, DEVICES, EMAIL_DOMAINS,
    FIRST_NAMES, HOUR_WEIGHTS, LANDING_PAGES, LAST_NAMES, PAYMENT_METHODS, PURCHASE_DEVICES,
    REFERRERS, WEEKDAY_WEIGHTS,
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

const CUSTOMERS: &str = "customers";
const PRODUCTS: &str = "products";
const TRANSACTIONS: &str = "transactions";
const CLICKSTREAM: &str = "clickstream";

const SECONDS_PER_DAY: i64 = 86_400;
/// Upper bound for each row count, so ids and offsets fit comfortably in `u32`.
const MAX_ROWS: usize = 1 << 30;
/// Upper bound for the activity window (a century), so times fit in `u32` seconds.
const MAX_DAYS: u32 = 36_500;
/// Customers sign up within this many days before `end_date`.
const SIGNUP_SPAN_DAYS: u64 = 730;
/// Transactions per clickstream work unit (fixed, so output never depends on scheduling).
const CLICK_CHUNK_ROWS: usize = 4_096;
/// At most this many unknown-type events are injected into one browsing session.
const MAX_DEFECTS_PER_SESSION: u8 = 15;
/// Price changes happen within this many last days of the window.
const PRICE_CHANGE_DAYS: i64 = 14;

/// What to generate: sizes, seed, defect share and the activity window.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Number of customer profiles (default 1,000).
    pub customers: usize,
    /// Number of catalogue products (default 500).
    pub products: usize,
    /// Number of sale lines before duplicates are added (default 5,000).
    pub transactions: usize,
    /// Seed of every random choice (default 42).
    pub seed: u64,
    /// Share of rows that get one defect (default 0.02); 0 gives perfectly clean data. Must be
    /// within `0..=0.5`.
    pub defect_rate: f64,
    /// Last day of generated activity (inclusive).
    pub end_date: NaiveDate,
    /// Length of the activity window in days (default 90): transactions span
    /// `end_date - (days - 1) ..= end_date`.
    pub days: u32,
    /// Products repriced during the window's last 14 days (default 12), listed in
    /// `products_updates.json`; 0 writes no such file. At most the number of clean products
    /// change, popular ones more likely.
    pub price_changes: usize,
    /// Customers who move to another country during the window (default 8), listed in
    /// `customers_updates.csv`; 0 writes no such file. At most the number of clean customers
    /// move, frequent buyers more likely.
    pub customer_moves: usize,
}

impl GenerateConfig {
    /// The defaults, ending on `end_date`.
    pub fn new(end_date: NaiveDate) -> Self {
        Self {
            customers: 1_000,
            products: 500,
            transactions: 5_000,
            seed: 42,
            defect_rate: 0.02,
            end_date,
            days: 90,
            price_changes: 12,
            customer_moves: 8,
        }
    }

    /// First day of generated activity (`end_date - (days - 1)`), if the calendar has it.
    pub fn start_date(&self) -> Option<NaiveDate> {
        self.end_date
            .checked_sub_days(Days::new(u64::from(self.days.saturating_sub(1))))
    }

    /// Checks every setting; the error names the field.
    pub fn validate(&self) -> Result<(), GenerateError> {
        let invalid = |field: &'static str, reason: String| {
            Err(GenerateError::InvalidConfig { field, reason })
        };
        if !(0.0..=0.5).contains(&self.defect_rate) {
            return invalid(
                "defect_rate",
                format!("must be within 0 and 0.5, got {}", self.defect_rate),
            );
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return invalid(
                "days",
                format!("must be within 1 and {MAX_DAYS}, got {}", self.days),
            );
        }
        for (field, value) in [("customers", self.customers), ("products", self.products)] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        for (field, value) in [
            ("customers", self.customers),
            ("products", self.products),
            ("transactions", self.transactions),
            ("price_changes", self.price_changes),
            ("customer_moves", self.customer_moves),
        ] {
            if value > MAX_ROWS {
                return invalid(field, format!("must be at most {MAX_ROWS}, got {value}"));
            }
        }
        let calendar_ok = self
            .start_date()
            .and_then(|start| start.checked_sub_days(Days::new(1)))
            .is_some()
            && self.end_date.checked_add_days(Days::new(1)).is_some()
            && self
                .end_date
                .checked_sub_days(Days::new(SIGNUP_SPAN_DAYS))
                .is_some();
        if !calendar_ok {
            return invalid(
                "end_date",
                format!("{} is too close to the calendar's limits", self.end_date),
            );
        }
        Ok(())
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A setting is out of range.
    #[error("invalid generator setting `{field}`: {reason}")]
    InvalidConfig {
        /// The setting, as named in [`GenerateConfig`].
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file or directory could not be created or written.
    #[error("cannot write {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be written.
    #[error("cannot write CSV file {path}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A JSON file could not be written.
    #[error("cannot write JSON file {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// The kinds of defect the generator injects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// A required value is empty (customers: email; transactions: customer id).
    MissingRequired,
    /// An e-mail address that does not match the contract's pattern.
    MalformedEmail,
    /// A product price of zero or below.
    NonPositivePrice,
    /// A sale quantity of zero or below (its amount follows).
    NonPositiveQuantity,
    /// A transaction date no accepted format parses.
    UnparseableDate,
    /// An exact copy of an earlier clean row, removed as a duplicate.
    ExactDuplicate,
    /// A later row reusing an earlier clean row's key with different content.
    KeyDuplicate,
    /// A transaction for a customer id that does not exist (a warning: the row is kept).
    OrphanCustomer,
    /// A transaction for a product id that does not exist (a warning: the row is kept).
    OrphanProduct,
    /// A payment method outside the contract's list.
    UnknownPaymentMethod,
    /// A clickstream event type outside the contract's list.
    UnknownEventType,
}

/// The settings a data set was generated with (a serialisable echo of [`GenerateConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigEcho {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of customer profiles.
    pub customers: usize,
    /// Number of catalogue products.
    pub products: usize,
    /// Number of sale lines before duplicates were added.
    pub transactions: usize,
    /// Share of rows that got a defect.
    pub defect_rate: f64,
    /// Last day of activity, `YYYY-MM-DD`.
    pub end_date: String,
    /// Length of the activity window in days.
    pub days: u32,
    /// Products asked to be repriced.
    #[serde(default)]
    pub price_changes: usize,
    /// Customers asked to move.
    #[serde(default)]
    pub customer_moves: usize,
}

/// One file the generator wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratedFile {
    /// The dataset the file belongs to (`customers`, `products`, `transactions`, `clickstream`).
    pub dataset: String,
    /// The file's name inside the output directory.
    pub file_name: String,
    /// Records written, defective rows and duplicates included.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// One kind of defect injected into one dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InjectedDefect {
    /// The dataset.
    pub dataset: String,
    /// What was injected.
    pub kind: DefectKind,
    /// The contract rule that catches it; `None` for exact duplicates, which are removed by
    /// de-duplication rather than by a rule.
    pub rule_id: Option<String>,
    /// How many rows carry it.
    pub count: u64,
}

/// One product whose price changed during the window (a row of `products_updates.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceChange {
    /// The product's id, e.g. `P00042`.
    pub product_id: String,
    /// The price in `products.json`.
    pub old_price: f64,
    /// The price in `products_updates.json`, from `updated_at` on.
    pub new_price: f64,
    /// When the new price took effect (RFC 3339, UTC): within the window's last 14 days.
    pub updated_at: String,
}

/// One customer who moved to another country during the window (a row of
/// `customers_updates.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomerMove {
    /// The customer's id, e.g. `C000042`.
    pub customer_id: String,
    /// The country in `customers.csv`.
    pub old_country: String,
    /// The country in `customers_updates.csv` (its `city` is one of this country's).
    pub new_country: String,
    /// When the customer moved (RFC 3339, UTC): within the window.
    pub updated_at: String,
}

/// What [`generate`] wrote and which defects it injected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerationReport {
    /// The settings used.
    pub config: ConfigEcho,
    /// The data files, in the order they were written.
    pub files: Vec<GeneratedFile>,
    /// The injected defects (only kinds with a count above zero).
    pub defects: Vec<InjectedDefect>,
    /// The repriced products, by product id (empty when no update file was written).
    #[serde(default)]
    pub price_changes: Vec<PriceChange>,
    /// The customers who moved, by customer id (empty when no update file was written).
    #[serde(default)]
    pub customer_moves: Vec<CustomerMove>,
}

impl GenerationReport {
    /// Expected quarantined (or, for warnings, flagged) rows per rule id: the sum of the
    /// injected defects with that rule id.
    pub fn expected_by_rule(&self) -> BTreeMap<String, u64> {
        let mut expected = BTreeMap::new();
        for defect in &self.defects {
            if let Some(rule) = &defect.rule_id {
                *expected.entry(rule.clone()).or_insert(0) += defect.count;
            }
        }
        expected
    }

    /// Expected exact duplicates removed from a dataset.
    pub fn expected_duplicates(&self, dataset: &str) -> u64 {
        self.defects
            .iter()
            .filter(|d| d.dataset == dataset && d.kind == DefectKind::ExactDuplicate)
            .map(|d| d.count)
            .sum()
    }

    /// The first file written for a dataset: its base file (`customers.csv`, `products.json`,
    /// …), not the update file.
    pub fn file(&self, dataset: &str) -> Option<&GeneratedFile> {
        self.files.iter().find(|f| f.dataset == dataset)
    }

    /// The file written under a name (e.g. [`PRODUCT_UPDATES_FILE`]).
    pub fn file_named(&self, file_name: &str) -> Option<&GeneratedFile> {
        self.files.iter().find(|f| f.file_name == file_name)
    }
}

/// The contract rule id that catches a defect kind in a dataset (`None`: removed as a
/// duplicate).
fn rule_for(dataset: &str, kind: DefectKind) -> Option<&'static str> {
    use DefectKind as K;
    match (dataset, kind) {
        (CUSTOMERS, K::MalformedEmail) => Some("customers.email.pattern"),
        (CUSTOMERS, K::MissingRequired) => Some("customers.email.not_null"),
        (PRODUCTS, K::NonPositivePrice) => Some("products.price.positive"),
        (TRANSACTIONS, K::MissingRequired) => Some("transactions.customer_id.not_null"),
        (TRANSACTIONS, K::NonPositiveQuantity) => Some("transactions.quantity.positive"),
        (TRANSACTIONS, K::UnparseableDate) => Some("transactions.transaction_date.type"),
        (TRANSACTIONS, K::UnknownPaymentMethod) => Some("transactions.payment_method.allowed"),
        (TRANSACTIONS, K::KeyDuplicate) => Some("transactions.transaction_id.unique"),
        (TRANSACTIONS, K::OrphanCustomer) => Some("transactions.customer_id.references"),
        (TRANSACTIONS, K::OrphanProduct) => Some("transactions.product_id.references"),
        (CLICKSTREAM, K::UnknownEventType) => Some("clickstream.event_type.allowed"),
        _ => None,
    }
}

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
    let price_changes = products
        .changes
        .iter()
        .map(|c| PriceChange {
            product_id: format_id(b'P', u64::from(c.index) + 1, PRODUCT_ID_WIDTH),
            old_price: cents_to_f64(products.price_cents[c.index as usize]),
            new_price: cents_to_f64(c.new_cents),
            updated_at: clock.rfc3339(i64::from(c.t)),
        })
        .collect();
    let customer_moves = customers
        .moves
        .iter()
        .map(|m| CustomerMove {
            customer_id: m.row.id.clone(),
            old_country: m.old_country.to_string(),
            new_country: m.row.country.to_string(),
            updated_at: m.row.updated_at.clone(),
        })
        .collect();
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

fn push_defects(out: &mut Vec<InjectedDefect>, dataset: &str, counts: &[(DefectKind, u64)]) {
    for &(kind, count) in counts {
        if count > 0 {
            out.push(InjectedDefect {
                dataset: dataset.to_string(),
                kind,
                rule_id: rule_for(dataset, kind).map(str::to_string),
                count,
            });
        }
    }
}

fn generated_file(dataset: &str, path: &Path, rows: u64) -> Result<GeneratedFile, GenerateError> {
    let bytes = std::fs::metadata(path)
        .map_err(|source| GenerateError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok(GeneratedFile {
        dataset: dataset.to_string(),
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
        bytes,
    })
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn csv_error(path: &Path) -> impl FnOnce(csv::Error) -> GenerateError + '_ {
    move |source| GenerateError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness and small helpers
// ---------------------------------------------------------------------------------------------

/// Independent random streams, one per purpose, derived from the seed.
#[derive(Clone, Copy)]
enum Stream {
    Customers = 1,
    Products = 2,
    Transactions = 3,
    ClickPlan = 4,
    ClickChunk = 5,
    PriceChanges = 6,
    CustomerMoves = 7,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rng_for(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let key = splitmix64(splitmix64(seed) ^ ((stream as u64) << 48) ^ index);
    ChaCha8Rng::seed_from_u64(key)
}

/// Weighted choice by cumulative weights and binary search.
struct Weighted {
    items: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(pairs: impl IntoIterator<Item = (u32, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            total += weight.max(0.0);
            items.push(item);
            cumulative.push(total);
        }
        Self { items, cumulative }
    }

    fn from_weights(weights: &[f64]) -> Self {
        Self::new(weights.iter().enumerate().map(|(i, &w)| (i as u32, w)))
    }

    fn from_table<T>(table: &[(T, f64)]) -> Self {
        Self::new(table.iter().enumerate().map(|(i, (_, w))| (i as u32, *w)))
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= u);
        let last = self.items.len().saturating_sub(1);
        self.items.get(i.min(last)).copied().unwrap_or(0)
    }

    fn sample_index(&self, rng: &mut ChaCha8Rng) -> usize {
        self.sample(rng) as usize
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Splits `total` over `weights` by largest remainder (deterministic, sums exactly).
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if total == 0 || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut counts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(assigned) as usize) {
        counts[i] += 1;
    }
    counts
}

/// The defect budget `round(rows × rate)` split over kinds by weight, each kind at least one
/// when the rate is above zero.
fn defect_counts(rows: usize, rate: f64, weights: &[f64]) -> Vec<u64> {
    if rows == 0 || rate <= 0.0 {
        return vec![0; weights.len()];
    }
    let budget = (rows as f64 * rate).round() as u64;
    let mut counts = apportion(budget, weights);
    for count in &mut counts {
        *count = (*count).max(1);
    }
    counts
}

/// Lowers the largest counts until they sum to at most `cap` (only binds for tiny data sets).
fn shrink_to(counts: &mut [u64], cap: u64) {
    while counts.iter().sum::<u64>() > cap {
        let mut largest = 0;
        for (i, &c) in counts.iter().enumerate() {
            if c >= counts[largest] {
                largest = i;
            }
        }
        counts[largest] -= 1;
    }
}

/// Marks `count` random unmarked cells with `code`; returns how many it marked (fewer only if
/// too few cells were free).
fn mark_random(rng: &mut ChaCha8Rng, marks: &mut [u8], count: u64, code: u8) -> u64 {
    let free = marks.iter().filter(|&&m| m == 0).count() as u64;
    let count = count.min(free);
    let mut placed = 0;
    while placed < count {
        let i = rng.random_range(0..marks.len());
        if marks[i] == 0 {
            marks[i] = code;
            placed += 1;
        }
    }
    placed
}

/// Weighted sampling without replacement in one pass (Efraimidis and Spirakis): every offered
/// item gets the key `ln(u) / weight` and the `k` largest keys win. Holds at most `k` items.
struct TopK<T> {
    k: usize,
    /// A min-heap on the key: the root is the weakest item kept.
    heap: BinaryHeap<Keyed<T>>,
}

struct Keyed<T> {
    key: f64,
    index: u32,
    item: T,
}

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl<T> Eq for Keyed<T> {}

impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Keyed<T> {
    /// Reversed, so that [`BinaryHeap`] keeps the smallest key (then the largest index) on top.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.index.cmp(&other.index))
    }
}

impl<T> TopK<T> {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Draws the key of an item of `weight` (above zero); `Some(key)` if it would be kept.
    fn draw(&self, rng: &mut ChaCha8Rng, weight: f64) -> Option<f64> {
        if self.k == 0 {
            return None;
        }
        let u: f64 = rng.random();
        let key = (1.0 - u).ln() / weight;
        match self.heap.peek() {
            Some(weakest) if self.heap.len() >= self.k && key <= weakest.key => None,
            _ => Some(key),
        }
    }

    /// Keeps an item whose key [`TopK::draw`] accepted.
    fn push(&mut self, key: f64, index: u32, item: T) {
        self.heap.push(Keyed { key, index, item });
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The kept items in index order.
    fn into_sorted(self) -> Vec<(u32, T)> {
        let mut kept: Vec<(u32, T)> = self
            .heap
            .into_vec()
            .into_iter()
            .map(|k| (k.index, k.item))
            .collect();
        kept.sort_by_key(|(index, _)| *index);
        kept
    }
}

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
fn push_padded(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let digits = n
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1)
        .max(width);
    let start = buf.len();
    buf.resize(start + digits, b'0');
    for slot in buf[start..].iter_mut().rev() {
        if n == 0 {
            break;
        }
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends a number below 100 as two digits.
fn push_two(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

fn push_int(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_padded(buf, n.unsigned_abs(), 1);
}

/// Appends an amount in cents as a decimal with two places (`-12.5` cents never occur).
fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_padded(buf, abs / 100, 1);
    buf.push(b'.');
    push_padded(buf, abs % 100, 2);
}

fn push_id(buf: &mut Vec<u8>, prefix: u8, n: u64, width: usize) {
    buf.push(prefix);
    push_padded(buf, n, width);
}

fn cents_to_f64(cents: i64) -> f64 {
    cents as f64 / 100.0
}

fn format_id(prefix: u8, n: u64, width: usize) -> String {
    let mut buf = Vec::with_capacity(width + 1);
    push_id(&mut buf, prefix, n, width);
    String::from_utf8_lossy(&buf).into_owned()
}

const CUSTOMER_ID_WIDTH: usize = 6;
const PRODUCT_ID_WIDTH: usize = 5;
const TRANSACTION_ID_WIDTH: usize = 7;
const SESSION_ID_WIDTH: usize = 8;
const EVENT_ID_WIDTH: usize = 9;

/// Times are seconds since the start of the activity window (UTC midnight of its first day).
struct Clock {
    /// `YYYY-MM-DD` for window days -1 ..= days (index `day + 1`).
    days: Vec<String>,
    start: NaiveDate,
    window_secs: i64,
}

impl Clock {
    fn new(config: &GenerateConfig) -> Result<Self, GenerateError> {
        let invalid = || GenerateError::InvalidConfig {
            field: "end_date",
            reason: format!("{} is too close to the calendar's limits", config.end_date),
        };
        let start = config.start_date().ok_or_else(invalid)?;
        let first = start.checked_sub_days(Days::new(1)).ok_or_else(invalid)?;
        let days = first
            .iter_days()
            .take(config.days as usize + 2)
            .map(|d| d.to_string())
            .collect();
        Ok(Self {
            days,
            start,
            window_secs: i64::from(config.days) * SECONDS_PER_DAY,
        })
    }

    /// Appends `YYYY-MM-DD{sep}HH:MM:SS`.
    fn push(&self, buf: &mut Vec<u8>, t: i64, sep: u8) {
        let day = t.div_euclid(SECONDS_PER_DAY) + 1;
        let secs = t.rem_euclid(SECONDS_PER_DAY) as u64;
        let index = day.clamp(0, self.days.len() as i64 - 1) as usize;
        buf.extend_from_slice(self.days[index].as_bytes());
        buf.push(sep);
        push_two(buf, secs / 3600);
        buf.push(b':');
        push_two(buf, secs / 60 % 60);
        buf.push(b':');
        push_two(buf, secs % 60);
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
    fn rfc3339(&self, t: i64) -> String {
        let mut buf = Vec::with_capacity(20);
        self.push(&mut buf, t, b'T');
        buf.push(b'Z');
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Base rows' `updated_at`: 00:00 UTC of the day before the window.
    fn before_window(&self) -> String {
        self.rfc3339(-SECONDS_PER_DAY)
    }
}

// ---------------------------------------------------------------------------------------------
// Customers
// ---------------------------------------------------------------------------------------------

struct CustomerPlan {
    /// Heavy-tailed choice over clean customers; yields 1-based customer numbers.
    table: Weighted,
    defects: Vec<(DefectKind, u64)>,
    /// The moved customers' new rows, by customer id.
    moves: Vec<MovedCustomer>,
}

/// One row of `customers.csv` / `customers_updates.csv`.
#[derive(Clone)]
struct CustomerRow {
    id: String,
    name: String,
    email: String,
    phone: String,
    country: &'static str,
    city: &'static str,
    signup: String,
    updated_at: String,
}

impl CustomerRow {
    fn fields(&self) -> [&str; 8] {
        [
            &self.id,
            &self.name,
            &self.email,
            &self.phone,
            self.country,
            self.city,
            &self.signup,
            &self.updated_at,
        ]
    }
}

const CUSTOMER_HEADER: [&str; 8] = [
    "customer_id",
    "name",
    "email",
    "phone",
    "country",
    "city",
    "signup_date",
    "updated_at",
];

/// A customer who moved: the new row and where they lived before.
struct MovedCustomer {
    row: CustomerRow,
    old_country: &'static str,
}

const CUSTOMER_CLEAN: u8 = 0;
const CUSTOMER_MALFORMED: u8 = 1;
const CUSTOMER_MISSING_EMAIL: u8 = 2;

fn write_customers(
    config: &GenerateConfig,
    clock: &Clock,
    path: &Path,
) -> Result<CustomerPlan, GenerateError> {
    let n = config.customers;
    let mut rng = rng_for(config.seed, Stream::Customers, 0);
    // Who moves: a separate stream, so the base file does not depend on the number of moves.
    let mut move_rng = rng_for(config.seed, Stream::CustomerMoves, 0);
    let mut movers: TopK<(CustomerRow, usize)> = TopK::new(config.customer_moves);
    let base_updated_at = clock.before_window();

    let mut counts = defect_counts(n, config.defect_rate, &[60.0, 40.0]);
    shrink_to(&mut counts, (n / 2) as u64);
    let mut kinds = vec![CUSTOMER_CLEAN; n];
    let malformed = mark_random(&mut rng, &mut kinds, counts[0], CUSTOMER_MALFORMED);
    let missing = mark_random(&mut rng, &mut kinds, counts[1], CUSTOMER_MISSING_EMAIL);

    let countries = Weighted::new(
        COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c.weight)),
    );
    let domains = Weighted::from_table(EMAIL_DOMAINS);
    let signup_first = config
        .end_date
        .checked_sub_days(Days::new(SIGNUP_SPAN_DAYS))
        .unwrap_or(config.end_date);

    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
    out.write_record(CUSTOMER_HEADER).map_err(csv_error(path))?;

    let mut weights = Vec::with_capacity(n);
    let mut local = String::new();
    for (i, &kind) in kinds.iter().enumerate() {
        let number = i as u64 + 1;
        let first = *pick(&mut rng, FIRST_NAMES);
        let last = *pick(&mut rng, LAST_NAMES);
        let name = format!("{first} {last}");

        local.clear();
        let first_l = first.to_ascii_lowercase();
        let last_l: String = last
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match rng.random_range(0..4) {
            0 => {
                local.push_str(&first_l);
                local.push('.');
                local.push_str(&last_l);
            }
            1 => {
                local.push_str(&first_l);
                local.push_str(&last_l);
            }
            2 => {
                local.push_str(&first_l[..1]);
                local.push_str(&last_l);
            }
            _ => {
                local.push_str(&first_l);
                local.push('.');
                local.push_str(&last_l[..1]);
            }
        }
        local.push_str(&rng.random_range(1..1000).to_string());
        let domain = EMAIL_DOMAINS[domains.sample_index(&mut rng)].0;
        let email = match kind {
            CUSTOMER_MALFORMED => match rng.random_range(0..4) {
                0 => format!("{local}@"),
                1 => format!("{local}@@{domain}"),
                2 => format!("{local}.{domain}"),
                _ => format!("{local}@localhost"),
            },
            CUSTOMER_MISSING_EMAIL => String::new(),
            _ => format!("{local}@{domain}"),
        };

        let country_index = countries.sample_index(&mut rng);
        let country = &COUNTRIES[country_index];
        let city = *pick(&mut rng, country.cities);
        let phone = format!(
            "+{}-{}-{:04}",
            country.dial_code,
            rng.random_range(200..1000),
            rng.random_range(0..10_000)
        );
        let signup = signup_first
            .checked_add_days(Days::new(rng.random_range(0..=SIGNUP_SPAN_DAYS)))
            .unwrap_or(config.end_date);
        // Pareto-like purchase propensity: most customers buy rarely, a few buy a lot.
        let u: f64 = rng.random();
        let weight = (1.0 - u).powf(-1.0 / 1.3).min(60.0);
        weights.push(weight);

        let row = CustomerRow {
            id: format_id(b'C', number, CUSTOMER_ID_WIDTH),
            name,
            email,
            phone,
            country: country.name,
            city,
            signup: signup.to_string(),
            updated_at: base_updated_at.clone(),
        };
        out.write_record(row.fields()).map_err(csv_error(path))?;
        // Only clean customers move (their update row must pass the contract too); frequent
        // buyers more likely, so the move shows in their sales.
        if kind == CUSTOMER_CLEAN
            && let Some(key) = movers.draw(&mut move_rng, weight)
        {
            movers.push(key, i as u32, (row, country_index));
        }
    }
    out.flush().map_err(io_error(path))?;

    let moves = movers
        .into_sorted()
        .into_iter()
        .map(|(_, (mut row, old))| {
            // Anywhere else, as likely as where customers live; a city of the new country.
            let elsewhere = Weighted::new(
                COUNTRIES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != old)
                    .map(|(i, c)| (i as u32, c.weight)),
            );
            let country = &COUNTRIES[elsewhere.sample_index(&mut move_rng)];
            row.country = country.name;
            row.city = *pick(&mut move_rng, country.cities);
            row.updated_at = clock.rfc3339(move_rng.random_range(0..clock.window_secs));
            MovedCustomer {
                row,
                old_country: COUNTRIES[old].name,
            }
        })
        .collect();

    let table = Weighted::new(
        kinds
            .iter()
            .zip(&weights)
            .enumerate()
            .filter(|(_, (kind, _))| **kind == CUSTOMER_CLEAN)
            .map(|(i, (_, &w))| (i as u32 + 1, w)),
    );
    Ok(CustomerPlan {
        table,
        defects: vec![
            (DefectKind::MalformedEmail, malformed),
            (DefectKind::MissingRequired, missing),
        ],
        moves,
    })
}

fn write_customer_updates(moves: &[MovedCustomer], path: &Path) -> Result<(), GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::new(file));
    out.write_record(CUSTOMER_HEADER).map_err(csv_error(path))?;
    for moved in moves {
        out.write_record(moved.row.fields())
            .map_err(csv_error(path))?;
    }
    out.flush().map_err(io_error(path))
}

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

struct ProductPlan {
    /// List price in cents by product index (clean products only are ever referenced).
    price_cents: Vec<i64>,
    /// Category index by product index.
    category: Vec<u8>,
    /// Popularity-weighted choice over clean products; yields product indices.
    table: Weighted,
    defects: Vec<(DefectKind, u64)>,
    /// Price changes, by product index.
    changes: Vec<PlannedPriceChange>,
}

/// A product's new price from a time on.
#[derive(Clone, Copy, Debug, PartialEq)]
struct PlannedPriceChange {
    /// Product index (0-based).
    index: u32,
    /// Seconds since the window start when the new price takes effect.
    t: u32,
    new_cents: i64,
}

impl ProductPlan {
    /// The price of product `index` at time `t` (seconds since the window start).
    fn price_at(&self, index: usize, t: u32) -> i64 {
        if !self.changes.is_empty()
            && let Ok(at) = self
                .changes
                .binary_search_by_key(&(index as u32), |c| c.index)
            && t >= self.changes[at].t
        {
            return self.changes[at].new_cents;
        }
        self.price_cents[index]
    }
}

#[derive(Serialize, Clone)]
struct ProductMeta {
    #[serde(rename = "updatedAt")]
    updated_at: String,
}

#[derive(Serialize, Clone)]
struct ProductRecord {
    id: String,
    title: String,
    description: String,
    category: &'static str,
    price: f64,
    #[serde(rename = "discountPercentage")]
    discount_percentage: f64,
    rating: f64,
    stock: u32,
    brand: &'static str,
    sku: String,
    supplier: &'static str,
    /// DummyJSON keeps `createdAt` / `updatedAt` here; the contract maps `meta.updatedAt`.
    meta: ProductMeta,
}

#[derive(Serialize)]
struct ProductPage<'a> {
    products: &'a [ProductRecord],
    total: usize,
    skip: usize,
    limit: usize,
}

fn list_price(rng: &mut ChaCha8Rng, min_cents: i64, max_cents: i64) -> i64 {
    let (lo, hi) = ((min_cents as f64).ln(), (max_cents as f64).ln());
    let raw = (lo + rng.random::<f64>() * (hi - lo)).exp() as i64;
    let price = if raw >= 1_000 {
        // Whole units ending .99 (mostly), .49 or .00.
        let ending = match rng.random_range(0..10) {
            0..=6 => 99,
            7 | 8 => 49,
            _ => 0,
        };
        raw / 100 * 100 + ending
    } else {
        raw / 10 * 10 + 9
    };
    price.clamp(1, max_cents.max(1))
}

/// Whether a price in cents is rounded the way [`list_price`] rounds: whole units ending in
/// .99, .49 or .00 from 10.00 on, else ending in 9 cents.
fn catalog_rounded(cents: i64) -> bool {
    if cents >= 1_000 {
        matches!(cents % 100, 0 | 49 | 99)
    } else {
        cents > 0 && cents % 10 == 9
    }
}

/// A new list price for a product listed at `old` cents: up 3–25 % or down 5–30 %, rounded
/// the way [`list_price`] rounds (keeping the old ending from 10.00 on), never equal to `old`,
/// in the direction asked and within 70–125 % of `old`.
fn changed_price(rng: &mut ChaCha8Rng, old: i64, up: bool) -> i64 {
    let percent = if up {
        rng.random_range(3..=25)
    } else {
        -rng.random_range(5..=30)
    };
    let raw = old * (100 + percent) / 100;
    let candidate = if raw >= 1_000 {
        let ending = match old % 100 {
            e @ (0 | 49 | 99) if old >= 1_000 => e,
            _ => 99,
        };
        raw / 100 * 100 + ending
    } else {
        raw / 10 * 10 + 9
    };
    let acceptable = |p: i64| {
        p != old
            && (p > old) == up
            && p * 100 >= old * 70
            && p * 100 <= old * 125
            && catalog_rounded(p)
    };
    // Rounding can overshoot a bound or undo a small change: then the acceptable price nearest
    // the candidate (one always exists within a unit of `old`).
    (0..=old)
        .flat_map(|d| [candidate - d, candidate + d])
        .find(|&p| acceptable(p))
        .unwrap_or(if up { old + 1 } else { old - 1 })
}

fn write_products(
    config: &GenerateConfig,
    clock: &Clock,
    path: &Path,
    updates_path: &Path,
) -> Result<ProductPlan, GenerateError> {
    let n = config.products;
    let mut rng = rng_for(config.seed, Stream::Products, 0);
    let meta = ProductMeta {
        updated_at: clock.before_window(),
    };

    let mut counts = defect_counts(n, config.defect_rate, &[1.0]);
    shrink_to(&mut counts, (n / 2) as u64);
    let mut defective = vec![0u8; n];
    let bad_prices = mark_random(&mut rng, &mut defective, counts[0], 1);

    let categories = Weighted::new(
        CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c.weight)),
    );
    let mut records = Vec::with_capacity(n);
    let mut price_cents = Vec::with_capacity(n);
    let mut category = Vec::with_capacity(n);
    for (i, &bad) in defective.iter().enumerate() {
        let number = i as u64 + 1;
        let cat_index = categories.sample_index(&mut rng);
        let cat = &CATEGORIES[cat_index];
        let adjective = *pick(&mut rng, cat.adjectives);
        let noun = *pick(&mut rng, cat.nouns);
        let brand = *pick(&mut rng, cat.brands);
        let supplier = *pick(&mut rng, cat.suppliers);
        let title = format!("{adjective} {noun}");
        let price = list_price(&mut rng, cat.min_cents, cat.max_cents);
        let listed = if bad == 0 {
            price
        } else {
            match rng.random_range(0..3) {
                0 => 0,
                1 => -price,
                _ => -1,
            }
        };
        let discount = f64::from(rng.random_range(50..=2_500u32)) / 100.0;
        let u: f64 = rng.random();
        let rating = (500.0 - 250.0 * u * u).round() / 100.0;
        let stock = if rng.random_bool(0.05) {
            0
        } else {
            rng.random_range(1..=300)
        };
        let brand_code: String = brand
            .chars()
            .filter(char::is_ascii_alphabetic)
            .take(3)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let id = format_id(b'P', number, PRODUCT_ID_WIDTH);
        records.push(ProductRecord {
            sku: format!("SKU-{}-{brand_code}-{}", cat.code, &id[1..]),
            id,
            description: format!("{title} by {brand}. {}", cat.blurb),
            title,
            category: cat.slug,
            price: listed as f64 / 100.0,
            discount_percentage: discount,
            rating,
            stock,
            brand,
            supplier,
            meta: meta.clone(),
        });
        price_cents.push(price);
        category.push(cat_index as u8);
    }

    write_product_page(&records, path)?;

    // Popularity: Zipf over a random ranking, nudged towards cheaper products.
    let mut ranks: Vec<u32> = (0..n as u32).collect();
    for i in (1..ranks.len()).rev() {
        let j = rng.random_range(0..=i);
        ranks.swap(i, j);
    }
    let popularity = |i: usize| {
        let zipf = 1.0 / (f64::from(ranks[i]) + 1.0).powf(0.85);
        let cheapness = (5_000.0 / (price_cents[i] as f64 + 5_000.0)).powf(0.35);
        zipf * cheapness
    };
    let table = Weighted::new(
        (0..n)
            .filter(|&i| defective[i] == 0)
            .map(|i| (i as u32, popularity(i))),
    );

    // Price changes: clean products only (the update rows must pass the contract), popular
    // ones more likely, from a separate stream.
    let mut change_rng = rng_for(config.seed, Stream::PriceChanges, 0);
    let mut repriced: TopK<()> = TopK::new(config.price_changes);
    for i in (0..n).filter(|&i| defective[i] == 0) {
        if let Some(key) = repriced.draw(&mut change_rng, popularity(i)) {
            repriced.push(key, i as u32, ());
        }
    }
    let chosen = repriced.into_sorted();
    let mut ups: Vec<bool> = chosen.iter().map(|_| change_rng.random_bool(0.5)).collect();
    if ups.len() >= 2 && ups.iter().all(|&up| up == ups[0]) {
        let last = ups.len() - 1;
        ups[last] = !ups[last];
    }
    let window = clock.window_secs;
    let first_change = (window - PRICE_CHANGE_DAYS * SECONDS_PER_DAY).max(0);
    let mut changes = Vec::with_capacity(chosen.len());
    let mut updates = Vec::with_capacity(chosen.len());
    for (&(index, ()), &up) in chosen.iter().zip(&ups) {
        let i = index as usize;
        let new_cents = changed_price(&mut change_rng, price_cents[i], up);
        let t = change_rng.random_range(first_change..window);
        let mut record = records[i].clone();
        record.price = cents_to_f64(new_cents);
        record.meta.updated_at = clock.rfc3339(t);
        updates.push(record);
        changes.push(PlannedPriceChange {
            index,
            t: t as u32,
            new_cents,
        });
    }
    if !updates.is_empty() {
        write_product_page(&updates, updates_path)?;
    }
    Ok(ProductPlan {
        price_cents,
        category,
        table,
        defects: vec![(DefectKind::NonPositivePrice, bad_prices)],
        changes,
    })
}

/// Writes one DummyJSON-style page holding every record.
fn write_product_page(records: &[ProductRecord], path: &Path) -> Result<(), GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::new(file);
    let page = ProductPage {
        products: records,
        total: records.len(),
        skip: 0,
        limit: records.len(),
    };
    serde_json::to_writer_pretty(&mut out, &page).map_err(|source| GenerateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    out.write_all(b"\n").map_err(io_error(path))?;
    out.flush().map_err(io_error(path))
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

/// Transaction defect kinds in the order their row codes (index + 1) use; the first six change
/// a row in place, the last two add a row.
const TX_DEFECTS: [DefectKind; 8] = [
    DefectKind::MissingRequired,
    DefectKind::NonPositiveQuantity,
    DefectKind::UnparseableDate,
    DefectKind::UnknownPaymentMethod,
    DefectKind::OrphanCustomer,
    DefectKind::OrphanProduct,
    DefectKind::ExactDuplicate,
    DefectKind::KeyDuplicate,
];
const TX_DEFECT_WEIGHTS: [f64; 8] = [14.0, 14.0, 14.0, 14.0, 10.0, 10.0, 14.0, 10.0];
const TX_IN_PLACE: usize = 6;

const TX_CLEAN: u8 = 0;
const TX_MISSING_CUSTOMER: u8 = 1;
const TX_BAD_QUANTITY: u8 = 2;
const TX_BAD_DATE: u8 = 3;
const TX_BAD_PAYMENT: u8 = 4;
const TX_ORPHAN_CUSTOMER: u8 = 5;
const TX_ORPHAN_PRODUCT: u8 = 6;
const TX_EXACT_SOURCE: u8 = 7;
const TX_KEY_SOURCE: u8 = 8;

/// One sale line as planned; written by [`write_transaction`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct TxRow {
    /// Seconds since the window start.
    t: u32,
    /// Transaction number (the id's digits).
    id: u32,
    /// Customer number (1-based; an unknown number for orphans).
    customer: u32,
    /// Product number (1-based; an unknown number for orphans).
    product: u32,
    price_cents: u32,
    quantity: i16,
    /// Index into the allowed (or, for bad payments, the bad) payment methods.
    payment: u8,
    /// `TX_CLEAN` or one of the in-place defect codes.
    kind: u8,
    /// Which bad date to write.
    variant: u8,
}

struct TxPlan {
    /// Base rows in time order.
    rows: Vec<TxRow>,
    /// Added duplicate rows, each written right after the base row at its index.
    duplicates: Vec<(u32, TxRow)>,
    defects: Vec<(DefectKind, u64)>,
}

fn quantity_for(rng: &mut ChaCha8Rng, price_cents: i64) -> i16 {
    // Cheap items sell by the handful, expensive ones almost always alone.
    let thresholds: &[f64] = if price_cents < 2_000 {
        &[0.40, 0.65, 0.80, 0.92]
    } else if price_cents < 10_000 {
        &[0.70, 0.92]
    } else if price_cents < 50_000 {
        &[0.88]
    } else {
        &[0.96]
    };
    let u: f64 = rng.random();
    thresholds.partition_point(|&c| c <= u) as i16 + 1
}

fn plan_transactions(
    config: &GenerateConfig,
    customers: &CustomerPlan,
    products: &ProductPlan,
    clock: &Clock,
) -> TxPlan {
    let n = config.transactions;
    let mut rng = rng_for(config.seed, Stream::Transactions, 0);

    // When: daily volume with weekly seasonality, a gentle upward trend and some noise; within
    // a day, an hour-of-day profile.
    let first_weekday = clock.start.weekday().num_days_from_monday() as usize;
    let days = config.days as usize;
    let day_weights: Vec<f64> = (0..days)
        .map(|d| {
            let weekday = WEEKDAY_WEIGHTS[(first_weekday + d) % 7];
            let trend = 1.0 + 0.3 * d as f64 / days as f64;
            let noise = 0.92 + 0.16 * rng.random::<f64>();
            weekday * trend * noise
        })
        .collect();
    let per_day = apportion(n as u64, &day_weights);
    let hours = Weighted::from_weights(&HOUR_WEIGHTS);
    let mut times: Vec<u32> = Vec::with_capacity(n);
    for (day, &count) in per_day.iter().enumerate() {
        let day_start = day as u32 * SECONDS_PER_DAY as u32;
        for _ in 0..count {
            let hour = hours.sample(&mut rng);
            times.push(day_start + hour * 3600 + rng.random_range(0..3600));
        }
    }
    times.sort_unstable();

    // Which rows carry which defect.
    let mut counts = defect_counts(n, config.defect_rate, &TX_DEFECT_WEIGHTS);
    shrink_to(&mut counts[..TX_IN_PLACE], (n / 2) as u64);
    let in_place: u64 = counts[..TX_IN_PLACE].iter().sum();
    shrink_to(&mut counts[TX_IN_PLACE..], (n as u64 - in_place) / 2);
    let mut kinds = vec![TX_CLEAN; n];
    let mut injected = Vec::with_capacity(TX_DEFECTS.len());
    for (k, (&kind, &count)) in TX_DEFECTS.iter().zip(&counts).enumerate() {
        injected.push((kind, mark_random(&mut rng, &mut kinds, count, k as u8 + 1)));
    }

    let payments = Weighted::from_table(PAYMENT_METHODS);
    let clean_row = |rng: &mut ChaCha8Rng, index: usize| {
        let product = products.table.sample_index(rng);
        // After a price change, the sale is at the new price.
        let price = products.price_at(product, times[index]);
        TxRow {
            t: times[index],
            id: index as u32 + 1,
            customer: customers.table.sample(rng),
            product: product as u32 + 1,
            price_cents: price as u32,
            quantity: quantity_for(rng, price),
            payment: payments.sample(rng) as u8,
            kind: TX_CLEAN,
            variant: 0,
        }
    };
    let orphan_customer_base = (config.customers as u32 + 1).max(900_000);
    let orphan_product_base = (config.products as u32 + 1).max(90_000);

    let mut rows = Vec::with_capacity(n);
    let mut duplicates = Vec::new();
    for (index, &kind) in kinds.iter().enumerate() {
        let mut row = clean_row(&mut rng, index);
        match kind {
            TX_BAD_QUANTITY => row.quantity = -rng.random_range(0..=2),
            TX_BAD_DATE => row.variant = rng.random_range(0..BAD_DATES.len()) as u8,
            TX_BAD_PAYMENT => row.payment = rng.random_range(0..BAD_PAYMENT_METHODS.len()) as u8,
            TX_ORPHAN_CUSTOMER => {
                row.customer = orphan_customer_base + rng.random_range(0..100_000);
            }
            TX_ORPHAN_PRODUCT => {
                row.product = orphan_product_base + rng.random_range(0..10_000);
            }
            TX_EXACT_SOURCE | TX_KEY_SOURCE => {
                let after = (index + rng.random_range(1..=12)).min(n - 1) as u32;
                let duplicate = if kind == TX_EXACT_SOURCE {
                    row
                } else {
                    let mut other = clean_row(&mut rng, index);
                    other.id = row.id;
                    if (other.customer, other.product, other.quantity, other.payment)
                        == (row.customer, row.product, row.quantity, row.payment)
                    {
                        other.payment = (other.payment + 1) % PAYMENT_METHODS.len() as u8;
                    }
                    other
                };
                duplicates.push((after, duplicate));
            }
            _ => {}
        }
        row.kind = if kind >= TX_EXACT_SOURCE {
            TX_CLEAN
        } else {
            kind
        };
        rows.push(row);
    }
    duplicates.sort_by_key(|(after, _)| *after);
    TxPlan {
        rows,
        duplicates,
        defects: injected,
    }
}

/// Reusable field buffers for one transaction line.
#[derive(Default)]
struct TxFields {
    id: Vec<u8>,
    customer: Vec<u8>,
    product: Vec<u8>,
    quantity: Vec<u8>,
    amount: Vec<u8>,
    date: Vec<u8>,
}

fn write_transaction<W: Write>(
    out: &mut csv::Writer<W>,
    fields: &mut TxFields,
    row: &TxRow,
    clock: &Clock,
) -> csv::Result<()> {
    fields.id.clear();
    push_id(
        &mut fields.id,
        b'T',
        u64::from(row.id),
        TRANSACTION_ID_WIDTH,
    );
    fields.customer.clear();
    if row.kind != TX_MISSING_CUSTOMER {
        push_id(
            &mut fields.customer,
            b'C',
            u64::from(row.customer),
            CUSTOMER_ID_WIDTH,
        );
    }
    fields.product.clear();
    push_id(
        &mut fields.product,
        b'P',
        u64::from(row.product),
        PRODUCT_ID_WIDTH,
    );
    fields.quantity.clear();
    push_int(&mut fields.quantity, i64::from(row.quantity));
    fields.amount.clear();
    push_cents(
        &mut fields.amount,
        i64::from(row.quantity) * i64::from(row.price_cents),
    );
    let payment = if row.kind == TX_BAD_PAYMENT {
        BAD_PAYMENT_METHODS[usize::from(row.payment)]
    } else {
        PAYMENT_METHODS[usize::from(row.payment)].0
    };
    fields.date.clear();
    if row.kind == TX_BAD_DATE {
        fields
            .date
            .extend_from_slice(BAD_DATES[usize::from(row.variant)].as_bytes());
    } else {
        clock.push(&mut fields.date, i64::from(row.t), b' ');
    }
    out.write_record([
        fields.id.as_slice(),
        fields.customer.as_slice(),
        fields.product.as_slice(),
        fields.quantity.as_slice(),
        fields.amount.as_slice(),
        payment.as_bytes(),
        fields.date.as_slice(),
    ])
}

fn write_transactions(plan: &TxPlan, clock: &Clock, path: &Path) -> Result<u64, GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
    out.write_record([
        "transaction_id",
        "customer_id",
        "product_id",
        "quantity",
        "amount",
        "payment_method",
        "transaction_date",
    ])
    .map_err(csv_error(path))?;
    let mut fields = TxFields::default();
    let mut duplicates = plan.duplicates.iter().peekable();
    let mut written = 0u64;
    for (index, row) in plan.rows.iter().enumerate() {
        write_transaction(&mut out, &mut fields, row, clock).map_err(csv_error(path))?;
        written += 1;
        while let Some((_, duplicate)) = duplicates.next_if(|(after, _)| *after as usize == index) {
            write_transaction(&mut out, &mut fields, duplicate, clock).map_err(csv_error(path))?;
            written += 1;
        }
    }
    out.flush().map_err(io_error(path))?;
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// Clickstream
// ---------------------------------------------------------------------------------------------

/// Browsing-session shape, one byte: bits 0-1 funnel depth - 1 (page view, product view, add to
/// cart, checkout), bit 2 a search event, bit 3 a remove-from-cart event, bits 4-7 the number
/// of unknown-type events injected.
type Shape = u8;

const SHAPE_SEARCH: u8 = 1 << 2;
const SHAPE_REMOVE: u8 = 1 << 3;
const SHAPE_DEFECT_UNIT: u8 = 1 << 4;
/// Events in a purchase session: page view, product view, add to cart, checkout, purchase.
const PURCHASE_EVENTS: u64 = 5;

fn shape_events(shape: Shape) -> u64 {
    u64::from(shape & 3)
        + 1
        + u64::from((shape & SHAPE_SEARCH) >> 2)
        + u64::from((shape & SHAPE_REMOVE) >> 3)
        + u64::from(shape >> 4)
}

struct ClickPlan {
    /// Browsing sessions per base transaction row.
    browse_counts: Vec<u8>,
    /// Shapes of all browsing sessions, in row order.
    shapes: Vec<Shape>,
    /// Where each chunk of [`CLICK_CHUNK_ROWS`] rows starts: (session number, event number,
    /// shape index), all 0-based.
    chunk_starts: Vec<(u64, u64, usize)>,
    total_events: u64,
    defects: u64,
}

fn plan_clickstream(config: &GenerateConfig, tx: &TxPlan) -> ClickPlan {
    let mut rng = rng_for(config.seed, Stream::ClickPlan, 0);
    let n = tx.rows.len();
    let mut browse_counts = Vec::with_capacity(n);
    let mut shapes = Vec::with_capacity(n * 2);
    for _ in 0..n {
        // About two browsing sessions per transaction.
        let count = match rng.random::<f64>() {
            u if u < 0.10 => 0,
            u if u < 0.35 => 1,
            u if u < 0.65 => 2,
            u if u < 0.85 => 3,
            _ => 4,
        };
        browse_counts.push(count);
        for _ in 0..count {
            // Funnel drop-off: 55% view a product, 30% of those add to cart, 40% of those
            // start checkout; browsing sessions never purchase.
            let mut depth = 0u8;
            if rng.random_bool(0.55) {
                depth = 1;
                if rng.random_bool(0.30) {
                    depth = 2;
                    if rng.random_bool(0.40) {
                        depth = 3;
                    }
                }
            }
            let mut shape = depth;
            if rng.random_bool(0.25) {
                shape |= SHAPE_SEARCH;
            }
            if depth >= 2 && rng.random_bool(0.15) {
                shape |= SHAPE_REMOVE;
            }
            shapes.push(shape);
        }
    }

    let clean_rows = tx.rows.iter().filter(|r| r.kind == TX_CLEAN).count() as u64;
    let clean_events =
        PURCHASE_EVENTS * clean_rows + shapes.iter().map(|&s| shape_events(s)).sum::<u64>();
    let mut defects = 0u64;
    if !shapes.is_empty() {
        let budget = defect_counts(clean_events as usize, config.defect_rate, &[1.0])[0]
            .min(u64::from(MAX_DEFECTS_PER_SESSION) * shapes.len() as u64);
        while defects < budget {
            let i = rng.random_range(0..shapes.len());
            if shapes[i] >> 4 < MAX_DEFECTS_PER_SESSION {
                shapes[i] += SHAPE_DEFECT_UNIT;
                defects += 1;
            }
        }
    }

    let mut chunk_starts = Vec::with_capacity(n / CLICK_CHUNK_ROWS + 1);
    let (mut sessions, mut events, mut shape_index) = (0u64, 0u64, 0usize);
    for (index, (row, &count)) in tx.rows.iter().zip(&browse_counts).enumerate() {
        if index % CLICK_CHUNK_ROWS == 0 {
            chunk_starts.push((sessions, events, shape_index));
        }
        if row.kind == TX_CLEAN {
            sessions += 1;
            events += PURCHASE_EVENTS;
        }
        let count = usize::from(count);
        sessions += count as u64;
        events += shapes[shape_index..shape_index + count]
            .iter()
            .map(|&s| shape_events(s))
            .sum::<u64>();
        shape_index += count;
    }
    ClickPlan {
        browse_counts,
        shapes,
        chunk_starts,
        total_events: events,
        defects,
    }
}

struct ClickContext<'a> {
    seed: u64,
    customers: &'a Weighted,
    products: &'a ProductPlan,
    clock: &'a Clock,
}

#[derive(Clone, Copy)]
enum Page {
    Fixed(&'static str),
    Category(u8),
    Search(u8),
    Product(u32),
}

#[derive(Clone, Copy)]
struct Event {
    event_type: &'static str,
    page: Page,
    product: Option<u32>,
    t: i64,
}

/// Per-chunk generator state: random stream, counters, reusable buffers.
struct ChunkWriter<'a> {
    ctx: &'a ClickContext<'a>,
    tables: &'a ClickTables,
    rng: ChaCha8Rng,
    session: u64,
    event: u64,
    events: Vec<Event>,
    /// `","session_id":"S…","customer_id":…,"event_type":"` for the current session.
    session_part: Vec<u8>,
    /// `","device":"…","referrer":"…","timestamp":"` for the current session.
    device_part: Vec<u8>,
}

/// Weighted tables shared by all chunks.
struct ClickTables {
    devices: Weighted,
    purchase_devices: Weighted,
    referrers: Weighted,
}

impl ChunkWriter<'_> {
    fn landing(&mut self, product: u32) -> Page {
        if self.rng.random_bool(0.4) {
            Page::Category(self.ctx.products.category[product as usize - 1])
        } else {
            let page = *pick(&mut self.rng, LANDING_PAGES);
            Page::Fixed(page)
        }
    }

    fn purchase_session(&mut self, out: &mut Vec<u8>, row: &TxRow) {
        let t = i64::from(row.t);
        let checkout = t - self.rng.random_range(20..=240);
        let cart = checkout - self.rng.random_range(15..=300);
        let view = cart - self.rng.random_range(10..=400);
        let landing_t = view - self.rng.random_range(5..=120);
        let product = row.product;
        let landing = self.landing(product);
        let p = Page::Product(product);
        self.events.clear();
        self.events.extend_from_slice(&[
            Event {
                event_type: "page_view",
                page: landing,
                product: None,
                t: landing_t,
            },
            Event {
                event_type: "product_view",
                page: p,
                product: Some(product),
                t: view,
            },
            Event {
                event_type: "add_to_cart",
                page: p,
                product: Some(product),
                t: cart,
            },
            Event {
                event_type: "checkout",
                page: Page::Fixed("/checkout"),
                product: Some(product),
                t: checkout,
            },
            Event {
                event_type: "purchase",
                page: Page::Fixed("/checkout/confirmation"),
                product: Some(product),
                t,
            },
        ]);
        let device = PURCHASE_DEVICES[self.tables.purchase_devices.sample_index(&mut self.rng)].0;
        let referrer = REFERRERS[self.tables.referrers.sample_index(&mut self.rng)].0;
        self.emit(out, Some(row.customer), device, referrer);
    }

    fn browsing_session(&mut self, out: &mut Vec<u8>, row: &TxRow, shape: Shape) {
        let window = self.ctx.clock.window_secs;
        let start = (i64::from(row.t) + self.rng.random_range(-14_400..=14_400))
            .clamp(0, (window - 3_600).max(0));
        let customer = if self.rng.random_bool(0.4) {
            None
        } else {
            Some(self.ctx.customers.sample(&mut self.rng))
        };
        let product = self.ctx.products.table.sample(&mut self.rng) + 1;
        let category = self.ctx.products.category[product as usize - 1];
        let landing = self.landing(product);
        let depth = shape & 3;
        let p = Page::Product(product);
        self.events.clear();
        let mut push = |event_type, page, product| {
            self.events.push(Event {
                event_type,
                page,
                product,
                t: 0,
            });
        };
        push("page_view", landing, None);
        if shape & SHAPE_SEARCH != 0 {
            push("search", Page::Search(category), None);
        }
        if depth >= 1 {
            push("product_view", p, Some(product));
        }
        if depth >= 2 {
            push("add_to_cart", p, Some(product));
            if shape & SHAPE_REMOVE != 0 {
                push("remove_from_cart", Page::Fixed("/cart"), Some(product));
            }
        }
        if depth >= 3 {
            push("checkout", Page::Fixed("/checkout"), Some(product));
        }
        for _ in 0..shape >> 4 {
            // A tracking bug: an unknown event type on the page the visitor is on.
            let at = self.rng.random_range(1..=self.events.len());
            let before = self.events[at - 1];
            let event_type = *pick(&mut self.rng, BAD_EVENT_TYPES);
            self.events.insert(
                at,
                Event {
                    event_type,
                    ..before
                },
            );
        }
        let mut t = start;
        for event in &mut self.events {
            event.t = t;
            t += self.rng.random_range(5..=150);
        }
        let device = DEVICES[self.tables.devices.sample_index(&mut self.rng)].0;
        let referrer = REFERRERS[self.tables.referrers.sample_index(&mut self.rng)].0;
        self.emit(out, customer, device, referrer);
    }

    /// Writes the buffered events as one session, one JSON object per line. Every value is
    /// built from ids, digits and the fixed lists in `data`, none of which needs escaping.
    fn emit(&mut self, out: &mut Vec<u8>, customer: Option<u32>, device: &str, referrer: &str) {
        self.session += 1;
        let part = &mut self.session_part;
        part.clear();
        part.extend_from_slice(b"\",\"session_id\":\"");
        push_id(part, b'S', self.session, SESSION_ID_WIDTH);
        part.extend_from_slice(b"\",\"customer_id\":");
        match customer {
            Some(c) => {
                part.push(b'"');
                push_id(part, b'C', u64::from(c), CUSTOMER_ID_WIDTH);
                part.push(b'"');
            }
            None => part.extend_from_slice(b"null"),
        }
        part.extend_from_slice(b",\"event_type\":\"");
        let part = &mut self.device_part;
        part.clear();
        part.extend_from_slice(b"\",\"device\":\"");
        part.extend_from_slice(device.as_bytes());
        part.extend_from_slice(b"\",\"referrer\":\"");
        part.extend_from_slice(referrer.as_bytes());
        part.extend_from_slice(b"\",\"timestamp\":\"");

        for event in &self.events {
            self.event += 1;
            out.extend_from_slice(b"{\"event_id\":\"");
            push_id(out, b'E', self.event, EVENT_ID_WIDTH);
            out.extend_from_slice(&self.session_part);
            out.extend_from_slice(event.event_type.as_bytes());
            out.extend_from_slice(b"\",\"product_id\":");
            match event.product {
                Some(p) => {
                    out.push(b'"');
                    push_id(out, b'P', u64::from(p), PRODUCT_ID_WIDTH);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"page\":\"");
            match event.page {
                Page::Fixed(path) => out.extend_from_slice(path.as_bytes()),
                Page::Category(c) => {
                    out.extend_from_slice(b"/category/");
                    out.extend_from_slice(CATEGORIES[usize::from(c)].slug.as_bytes());
                }
                Page::Search(c) => {
                    out.extend_from_slice(b"/search?q=");
                    out.extend_from_slice(CATEGORIES[usize::from(c)].slug.as_bytes());
                }
                Page::Product(p) => {
                    out.extend_from_slice(b"/product/");
                    push_id(out, b'P', u64::from(p), PRODUCT_ID_WIDTH);
                }
            }
            out.extend_from_slice(&self.device_part);
            self.ctx.clock.push(out, event.t, b'T');
            out.extend_from_slice(b"Z\"}\n");
        }
    }
}

/// Appends chunk `chunk` of the clickstream (sessions for rows `chunk × CLICK_CHUNK_ROWS ..`)
/// to `out`. Chunks depend only on the seed and the plan, never on which thread builds them.
fn fill_click_chunk(
    ctx: &ClickContext<'_>,
    tables: &ClickTables,
    tx: &TxPlan,
    plan: &ClickPlan,
    chunk: usize,
    out: &mut Vec<u8>,
) {
    let Some(&(session, event, shape_start)) = plan.chunk_starts.get(chunk) else {
        return;
    };
    let first = chunk * CLICK_CHUNK_ROWS;
    let last = (first + CLICK_CHUNK_ROWS).min(tx.rows.len());
    let mut writer = ChunkWriter {
        ctx,
        tables,
        rng: rng_for(ctx.seed, Stream::ClickChunk, chunk as u64),
        session,
        event,
        events: Vec::with_capacity(32),
        session_part: Vec::with_capacity(64),
        device_part: Vec::with_capacity(64),
    };
    let mut shape_index = shape_start;
    for (row, &count) in tx.rows[first..last]
        .iter()
        .zip(&plan.browse_counts[first..last])
    {
        if row.kind == TX_CLEAN {
            writer.purchase_session(out, row);
        }
        for &shape in &plan.shapes[shape_index..shape_index + usize::from(count)] {
            writer.browsing_session(out, row, shape);
        }
        shape_index += usize::from(count);
    }
}

/// Builds the clickstream's chunks on worker threads and writes them in order.
fn write_clickstream(
    ctx: &ClickContext<'_>,
    tx: &TxPlan,
    plan: &ClickPlan,
    path: &Path,
) -> Result<u64, GenerateError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    let tables = ClickTables {
        devices: Weighted::from_table(DEVICES),
        purchase_devices: Weighted::from_table(PURCHASE_DEVICES),
        referrers: Weighted::from_table(REFERRERS),
    };
    let chunks = plan.chunk_starts.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
        .min(chunks.max(1));
    let next_chunk = AtomicUsize::new(0);
    // Buffers go round: workers fill them, this thread writes them out and hands them back.
    let spare_buffers: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
        for _ in 0..workers {
            let sender = sender.clone();
            let (tables, next_chunk, spare_buffers) = (&tables, &next_chunk, &spare_buffers);
            scope.spawn(move || {
                loop {
                    let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if chunk >= chunks {
                        break;
                    }
                    let mut buffer = spare_buffers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .pop()
                        .unwrap_or_default();
                    buffer.clear();
                    fill_click_chunk(ctx, tables, tx, plan, chunk, &mut buffer);
                    if sender.send((chunk, buffer)).is_err() {
                        break; // the writer stopped on an error
                    }
                }
            });
        }
        drop(sender);
        // Dropping `receiver` on an early return makes the workers stop.
        let mut waiting = BTreeMap::new();
        let mut next_to_write = 0;
        for (chunk, buffer) in receiver {
            waiting.insert(chunk, buffer);
            while let Some(buffer) = waiting.remove(&next_to_write) {
                file.write_all(&buffer).map_err(io_error(path))?;
                spare_buffers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(buffer);
                next_to_write += 1;
            }
        }
        Ok::<(), GenerateError>(())
    })?;
    file.flush().map_err(io_error(path))?;
    Ok(plan.total_events)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{NaiveDate, NaiveDateTime, Timelike};
    use regex::Regex;
    use serde_json::Value;

    use super::*;

    const EMAIL_PATTERN: &str =
        r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$";
    const PAYMENTS: [&str; 8] = [
        "credit_card",
        "debit_card",
        "paypal",
        "apple_pay",
        "google_pay",
        "bank_transfer",
        "gift_card",
        "cash_on_delivery",
    ];
    const EVENT_TYPES: [&str; 7] = [
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "purchase",
        "search",
    ];

    fn end_date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
    }

    fn config() -> GenerateConfig {
        GenerateConfig::new(end_date())
    }

    fn run(config: &GenerateConfig) -> (tempfile::TempDir, GenerationReport) {
        let dir = tempfile::tempdir().unwrap();
        let report = generate(config, dir.path()).unwrap();
        (dir, report)
    }

    fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header = reader.headers().unwrap().iter().map(String::from).collect();
        let rows = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    }

    fn read_products(dir: &Path) -> Value {
        read_page(dir, PRODUCTS_FILE)
    }

    fn read_page(dir: &Path, file: &str) -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
    }

    fn cents_of(price: &Value) -> i64 {
        (price.as_f64().unwrap() * 100.0).round() as i64
    }

    fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    /// 00:00 UTC of a day.
    fn midnight(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
        day.and_hms_opt(0, 0, 0).unwrap().and_utc()
    }

    /// The moment the default window ends (00:00 UTC after `end_date`).
    fn window_end() -> chrono::DateTime<chrono::Utc> {
        midnight(end_date().succ_opt().unwrap())
    }

    fn read_clicks(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join(CLICKSTREAM_FILE))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Whether any of the transactions contract's timestamp formats parses `value`.
    fn parses_as_transaction_time(value: &str) -> bool {
        const FORMATS: [&str; 7] = [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y/%m/%d %H:%M:%S",
            "%d/%m/%Y %H:%M:%S",
        ];
        FORMATS
            .iter()
            .any(|f| NaiveDateTime::parse_from_str(value, f).is_ok())
            || NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
            || chrono::DateTime::parse_from_rfc3339(value).is_ok()
            || value.parse::<i64>().is_ok()
    }

    fn positive_decimal(value: &str) -> bool {
        value.parse::<f64>().is_ok_and(|v| v > 0.0)
    }

    /// The ids of customers and products a validator would accept.
    struct Accepted {
        customers: BTreeSet<String>,
        products: BTreeSet<String>,
    }

    /// A small, independent re-implementation of the contracts' rules: counts, per rule id,
    /// the rows each rule would reject (first failing rule in column order) or flag (warnings
    /// on kept rows), and the exact duplicates removed.
    fn check(dir: &Path) -> (BTreeMap<String, u64>, u64, Accepted) {
        let mut hits: BTreeMap<String, u64> = BTreeMap::new();
        let mut hit = |rule: &str| *hits.entry(rule.to_string()).or_insert(0) += 1;
        let email = Regex::new(EMAIL_PATTERN).unwrap();

        let mut accepted = Accepted {
            customers: BTreeSet::new(),
            products: BTreeSet::new(),
        };
        // Base files, then update files (checked alike: uniqueness is per file).
        for file in [CUSTOMERS_FILE, CUSTOMER_UPDATES_FILE] {
            if file == CUSTOMER_UPDATES_FILE && !dir.join(file).exists() {
                continue;
            }
            let (_, customers) = read_csv(&dir.join(file));
            let mut customer_ids = BTreeSet::new();
            for row in &customers {
                assert!(
                    customer_ids.insert(row[0].clone()),
                    "customer ids are unique"
                );
                if row[0].is_empty() {
                    hit("customers.customer_id.not_null");
                } else if row[2].is_empty() {
                    hit("customers.email.not_null");
                } else if NaiveDate::parse_from_str(&row[6], "%Y-%m-%d").is_err() {
                    hit("customers.signup_date.type");
                } else if chrono::DateTime::parse_from_rfc3339(&row[7]).is_err() {
                    hit("customers.updated_at.type");
                } else if !email.is_match(&row[2]) {
                    hit("customers.email.pattern");
                } else {
                    accepted.customers.insert(row[0].clone());
                }
            }
        }

        let mut products = Vec::new();
        for file in [PRODUCTS_FILE, PRODUCT_UPDATES_FILE] {
            if file == PRODUCT_UPDATES_FILE && !dir.join(file).exists() {
                continue;
            }
            let page = read_page(dir, file);
            let records = page["products"].as_array().unwrap().clone();
            assert_eq!(page["total"], records.len());
            assert_eq!(page["skip"], 0);
            assert_eq!(page["limit"], records.len());
            let ids: BTreeSet<&str> = records.iter().map(|p| p["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), records.len(), "product ids are unique in {file}");
            products.extend(records);
        }
        for product in &products {
            let id = product["id"].as_str().unwrap();
            let price = product["price"].as_f64().unwrap();
            assert!(!product["title"].as_str().unwrap().is_empty());
            assert!(!product["category"].as_str().unwrap().is_empty());
            let cents = price * 100.0;
            assert!(
                (cents - cents.round()).abs() < 1e-6,
                "{price} has two decimals"
            );
            if price <= 0.0 {
                hit("products.price.positive");
            } else if chrono::DateTime::parse_from_rfc3339(
                product["meta"]["updatedAt"].as_str().unwrap(),
            )
            .is_err()
            {
                hit("products.updated_at.type");
            } else if product["stock"].as_i64().unwrap() < 0 {
                hit("products.stock.non_negative");
            } else {
                let rating = product["rating"].as_f64().unwrap();
                if !(0.0..=5.0).contains(&rating) {
                    hit("products.rating.range");
                }
                accepted.products.insert(id.to_string());
            }
        }

        let (_, transactions) = read_csv(&dir.join(TRANSACTIONS_FILE));
        let mut seen_rows = BTreeSet::new();
        let mut seen_ids = BTreeSet::new();
        let mut duplicates = 0;
        for row in &transactions {
            if !seen_rows.insert(row.clone()) {
                duplicates += 1;
                continue;
            }
            if !seen_ids.insert(row[0].clone()) {
                hit("transactions.transaction_id.unique");
                continue;
            }
            let quantity = row[3].parse::<i64>();
            if row[1].is_empty() {
                hit("transactions.customer_id.not_null");
            } else if row[2].is_empty() {
                hit("transactions.product_id.not_null");
            } else if quantity.is_err() {
                hit("transactions.quantity.type");
            } else if quantity.as_ref().is_ok_and(|q| *q <= 0) {
                hit("transactions.quantity.positive");
            } else if !positive_decimal(&row[4]) {
                hit("transactions.amount.positive");
            } else if !PAYMENTS.contains(&row[5].to_ascii_lowercase().as_str()) {
                hit("transactions.payment_method.allowed");
            } else if !parses_as_transaction_time(&row[6]) {
                hit("transactions.transaction_date.type");
            } else {
                if !accepted.customers.contains(&row[1]) {
                    hit("transactions.customer_id.references");
                }
                if !accepted.products.contains(&row[2]) {
                    hit("transactions.product_id.references");
                }
            }
        }

        let mut event_ids = BTreeSet::new();
        for event in read_clicks(dir) {
            let id = event["event_id"].as_str().unwrap().to_string();
            if !event_ids.insert(id) {
                hit("clickstream.event_id.unique");
                continue;
            }
            let timestamp = event["timestamp"].as_str().unwrap();
            if chrono::DateTime::parse_from_rfc3339(timestamp).is_err() {
                hit("clickstream.event_time.type");
            } else if !EVENT_TYPES.contains(&event["event_type"].as_str().unwrap()) {
                hit("clickstream.event_type.allowed");
            } else {
                let device = event["device"].as_str().unwrap();
                if !["desktop", "mobile", "tablet"].contains(&device) {
                    hit("clickstream.device.allowed");
                }
                if let Some(customer) = event["customer_id"].as_str()
                    && !accepted.customers.contains(customer)
                {
                    hit("clickstream.customer_id.references");
                }
                if let Some(product) = event["product_id"].as_str()
                    && !accepted.products.contains(product)
                {
                    hit("clickstream.product_id.references");
                }
            }
        }
        (hits, duplicates, accepted)
    }

    fn assert_checker_agrees(dir: &Path, report: &GenerationReport) {
        let (hits, duplicates, _) = check(dir);
        assert_eq!(hits, report.expected_by_rule());
        assert_eq!(duplicates, report.expected_duplicates(TRANSACTIONS));
    }

    fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
        [
            CUSTOMERS_FILE,
            PRODUCTS_FILE,
            TRANSACTIONS_FILE,
            CLICKSTREAM_FILE,
            CUSTOMER_UPDATES_FILE,
            PRODUCT_UPDATES_FILE,
            REPORT_FILE,
        ]
        .iter()
        .map(|name| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
        .collect()
    }

    #[test]
    fn same_seed_gives_identical_files() {
        let (first, first_report) = run(&config());
        let (second, second_report) = run(&config());
        assert_eq!(first_report, second_report);
        for ((name, a), (_, b)) in read_all(first.path()).iter().zip(read_all(second.path())) {
            assert!(*a == b, "{name} differs between runs");
        }
    }

    #[test]
    fn different_seeds_differ() {
        let (first, _) = run(&config());
        let (second, _) = run(&GenerateConfig {
            seed: 7,
            ..config()
        });
        for ((name, a), (_, b)) in read_all(first.path())
            .iter()
            .zip(read_all(second.path()))
            .take(6)
        {
            assert!(*a != b, "{name} is the same for different seeds");
        }
    }

    #[test]
    fn zero_defect_rate_injects_nothing() {
        let (dir, report) = run(&GenerateConfig {
            defect_rate: 0.0,
            ..config()
        });
        assert!(report.defects.is_empty());
        assert!(report.expected_by_rule().is_empty());
        assert_eq!(report.expected_duplicates(TRANSACTIONS), 0);
        assert_eq!(report.file(TRANSACTIONS).unwrap().rows, 5_000);
        let (hits, duplicates, accepted) = check(dir.path());
        assert!(hits.is_empty(), "{hits:?}");
        assert_eq!(duplicates, 0);
        assert_eq!(accepted.customers.len(), 1_000);
        assert_eq!(accepted.products.len(), 500);
    }

    #[test]
    fn every_defect_kind_is_injected_at_the_default_rate() {
        let (dir, report) = run(&config());
        let found: BTreeMap<(&str, DefectKind), u64> = report
            .defects
            .iter()
            .map(|d| ((d.dataset.as_str(), d.kind), d.count))
            .collect();
        use DefectKind as K;
        let expected = [
            (CUSTOMERS, K::MalformedEmail),
            (CUSTOMERS, K::MissingRequired),
            (PRODUCTS, K::NonPositivePrice),
            (TRANSACTIONS, K::MissingRequired),
            (TRANSACTIONS, K::NonPositiveQuantity),
            (TRANSACTIONS, K::UnparseableDate),
            (TRANSACTIONS, K::UnknownPaymentMethod),
            (TRANSACTIONS, K::KeyDuplicate),
            (TRANSACTIONS, K::ExactDuplicate),
            (TRANSACTIONS, K::OrphanCustomer),
            (TRANSACTIONS, K::OrphanProduct),
            (CLICKSTREAM, K::UnknownEventType),
        ];
        for key in expected {
            assert!(found.get(&key).is_some_and(|&c| c > 0), "{key:?} missing");
        }
        assert_eq!(found.len(), expected.len());
        // Budgets are round(rows × rate).
        assert_eq!(
            found[&(CUSTOMERS, K::MalformedEmail)] + found[&(CUSTOMERS, K::MissingRequired)],
            20
        );
        assert_eq!(found[&(PRODUCTS, K::NonPositivePrice)], 10);
        let transaction_defects: u64 = report
            .defects
            .iter()
            .filter(|d| d.dataset == TRANSACTIONS)
            .map(|d| d.count)
            .sum();
        assert_eq!(transaction_defects, 100);
        let added =
            found[&(TRANSACTIONS, K::KeyDuplicate)] + found[&(TRANSACTIONS, K::ExactDuplicate)];
        assert_eq!(report.file(TRANSACTIONS).unwrap().rows, 5_000 + added);
        assert_checker_agrees(dir.path(), &report);
    }

    #[test]
    fn a_contract_checker_finds_exactly_the_expected_violations_at_a_high_rate() {
        let (dir, report) = run(&GenerateConfig {
            defect_rate: 0.5,
            transactions: 2_000,
            seed: 3,
            ..config()
        });
        assert_checker_agrees(dir.path(), &report);
    }

    #[test]
    fn small_budgets_still_inject_every_kind() {
        let (dir, report) = run(&GenerateConfig {
            customers: 50,
            products: 20,
            transactions: 40,
            defect_rate: 0.01,
            ..config()
        });
        assert_eq!(report.defects.len(), 12, "{:?}", report.defects);
        assert!(report.defects.iter().all(|d| d.count >= 1));
        assert_checker_agrees(dir.path(), &report);
    }

    #[test]
    fn tiny_data_sets_keep_clean_rows_to_reference() {
        for transactions in [0, 1, 3] {
            let (dir, report) = run(&GenerateConfig {
                customers: 1,
                products: 1,
                transactions,
                defect_rate: 0.5,
                days: 1,
                ..config()
            });
            assert_checker_agrees(dir.path(), &report);
        }
    }

    #[test]
    fn rows_in_the_report_match_the_files() {
        let (dir, report) = run(&config());
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let (_, moves) = read_csv(&dir.path().join(CUSTOMER_UPDATES_FILE));
        let (_, transactions) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let products = read_products(dir.path())["products"]
            .as_array()
            .unwrap()
            .len();
        let price_updates = read_page(dir.path(), PRODUCT_UPDATES_FILE)["products"]
            .as_array()
            .unwrap()
            .len();
        let clicks = read_clicks(dir.path()).len();
        let files: Vec<(&str, &str, u64)> = report
            .files
            .iter()
            .map(|f| (f.dataset.as_str(), f.file_name.as_str(), f.rows))
            .collect();
        assert_eq!(
            files,
            vec![
                (CUSTOMERS, CUSTOMERS_FILE, customers.len() as u64),
                (CUSTOMERS, CUSTOMER_UPDATES_FILE, moves.len() as u64),
                (PRODUCTS, PRODUCTS_FILE, products as u64),
                (PRODUCTS, PRODUCT_UPDATES_FILE, price_updates as u64),
                (TRANSACTIONS, TRANSACTIONS_FILE, transactions.len() as u64),
                (CLICKSTREAM, CLICKSTREAM_FILE, clicks as u64),
            ]
        );
        assert_eq!(moves.len(), 8);
        assert_eq!(price_updates, 12);
        assert_eq!(report.file(PRODUCTS).unwrap().file_name, PRODUCTS_FILE);
        assert_eq!(report.file_named(PRODUCT_UPDATES_FILE).unwrap().rows, 12);
        for file in &report.files {
            let bytes = std::fs::metadata(dir.path().join(&file.file_name))
                .unwrap()
                .len();
            assert_eq!(file.bytes, bytes);
        }
        let saved: GenerationReport =
            serde_json::from_slice(&std::fs::read(dir.path().join(REPORT_FILE)).unwrap()).unwrap();
        assert_eq!(saved, report);
    }

    #[test]
    fn headers_are_exactly_as_documented() {
        let (dir, _) = run(&config());
        for file in [CUSTOMERS_FILE, CUSTOMER_UPDATES_FILE] {
            let (customers, _) = read_csv(&dir.path().join(file));
            assert_eq!(
                customers.join(","),
                "customer_id,name,email,phone,country,city,signup_date,updated_at"
            );
        }
        let (transactions, _) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        assert_eq!(
            transactions.join(","),
            "transaction_id,customer_id,product_id,quantity,amount,payment_method,transaction_date"
        );
        let product = &read_products(dir.path())["products"][0];
        let keys: Vec<&str> = product
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "id",
            "title",
            "description",
            "category",
            "price",
            "discountPercentage",
            "rating",
            "stock",
            "brand",
            "sku",
            "supplier",
            "meta",
        ] {
            assert!(keys.contains(&key), "product lacks {key}");
        }
        assert!(product["meta"]["updatedAt"].is_string());
        let event = &read_clicks(dir.path())[0];
        let keys: BTreeSet<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: BTreeSet<&str> = [
            "event_id",
            "session_id",
            "customer_id",
            "event_type",
            "product_id",
            "page",
            "device",
            "referrer",
            "timestamp",
        ]
        .into();
        assert_eq!(keys, expected);
    }

    /// Every rule id the generator reports exists in the shipped contracts, explicitly or as
    /// an implied rule (`not_null` for required columns, `type` for typed columns, `unique`
    /// for the primary key); every generated column is a contract column or alias.
    #[test]
    fn reported_rule_ids_and_columns_exist_in_the_contracts() {
        let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts");
        let mut rule_ids = BTreeSet::new();
        let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for dataset in [CUSTOMERS, PRODUCTS, TRANSACTIONS, CLICKSTREAM] {
            let text = std::fs::read_to_string(contracts.join(format!("{dataset}.toml"))).unwrap();
            let contract: toml::Value = toml::from_str(&text).unwrap();
            for rule in contract["rules"].as_array().unwrap() {
                rule_ids.insert(rule["id"].as_str().unwrap().to_string());
            }
            let names = columns.entry(dataset.to_string()).or_default();
            for column in contract["columns"].as_array().unwrap() {
                let name = column["name"].as_str().unwrap();
                names.insert(name.to_string());
                for alias in column
                    .get("aliases")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                {
                    names.insert(alias.as_str().unwrap().to_string());
                }
                if column.get("required").and_then(|r| r.as_bool()) == Some(true) {
                    rule_ids.insert(format!("{dataset}.{name}.not_null"));
                }
                if column["type"].as_str() != Some("string") {
                    rule_ids.insert(format!("{dataset}.{name}.type"));
                }
            }
            let key: Vec<&str> = contract["primary_key"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            rule_ids.insert(format!("{dataset}.{}.unique", key.join("+")));
        }

        let (dir, report) = run(&config());
        for defect in &report.defects {
            if let Some(rule) = &defect.rule_id {
                assert!(rule_ids.contains(rule), "{rule} is not a contract rule");
            }
        }
        let (mut customers, _) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        customers.extend(read_csv(&dir.path().join(CUSTOMER_UPDATES_FILE)).0);
        let (transactions, _) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let event = read_clicks(dir.path())[0].clone();
        // Nested JSON fields are reached by dotted paths (`meta.updatedAt`).
        let mut product_keys = Vec::new();
        for file in [PRODUCTS_FILE, PRODUCT_UPDATES_FILE] {
            let product = read_page(dir.path(), file)["products"][0].clone();
            let mut stack: Vec<(String, Value)> = product
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            while let Some((path, value)) = stack.pop() {
                match value {
                    Value::Object(map) => {
                        stack.extend(map.into_iter().map(|(k, v)| (format!("{path}.{k}"), v)));
                    }
                    _ => product_keys.push(path),
                }
            }
        }
        assert!(product_keys.iter().any(|k| k == "meta.updatedAt"));
        let event_keys = event
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        for (dataset, keys) in [
            (CUSTOMERS, customers),
            (TRANSACTIONS, transactions),
            (PRODUCTS, product_keys),
            (CLICKSTREAM, event_keys),
        ] {
            for key in keys {
                assert!(
                    columns[dataset].contains(&key),
                    "{dataset} column {key} unknown"
                );
            }
        }
    }

    #[test]
    fn amount_is_quantity_times_the_price_at_the_time_of_sale() {
        let (dir, _) = run(&config());
        let prices: BTreeMap<String, i64> = read_products(dir.path())["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap().to_string(), cents_of(&p["price"])))
            .collect();
        let changes: BTreeMap<String, (chrono::DateTime<chrono::Utc>, i64)> =
            read_page(dir.path(), PRODUCT_UPDATES_FILE)["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let at = utc(p["meta"]["updatedAt"].as_str().unwrap());
                    (
                        p["id"].as_str().unwrap().to_string(),
                        (at, cents_of(&p["price"])),
                    )
                })
                .collect();
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let (mut checked, mut at_new_price, mut at_old_price_of_changed) = (0, 0, 0);
        for row in rows {
            let quantity: i64 = row[3].parse().unwrap();
            let (units, cents) = row[4].trim_start_matches('-').split_once('.').unwrap();
            assert_eq!(cents.len(), 2, "{}", row[4]);
            let sign = if row[4].starts_with('-') { -1 } else { 1 };
            let amount =
                sign * (units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap());
            let sold_at = NaiveDateTime::parse_from_str(&row[6], "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc());
            if let Some(&price) = prices.get(&row[2]) {
                match (changes.get(&row[2]), sold_at) {
                    (Some(&(at, new_price)), Some(t)) if t >= at => {
                        assert_eq!(amount, quantity * new_price, "{row:?}");
                        at_new_price += 1;
                    }
                    (Some(_), Some(_)) => {
                        assert_eq!(amount, quantity * price, "{row:?}");
                        at_old_price_of_changed += 1;
                    }
                    // A date no format parses: the time is unknown, either price fits.
                    (Some(&(_, new_price)), None) => assert!(
                        amount == quantity * price || amount == quantity * new_price,
                        "{row:?}"
                    ),
                    (None, _) => assert_eq!(amount, quantity * price, "{row:?}"),
                }
                checked += 1;
            } else {
                // An orphan product: the amount is still a multiple of the quantity.
                assert!(quantity > 0 && amount % quantity == 0, "{row:?}");
            }
        }
        assert!(checked > 4_900);
        // Popular products are likelier to be repriced: the change shows in sales.
        assert!(at_new_price > 0, "no sale after a price change");
        assert!(at_old_price_of_changed > 0);
    }

    #[test]
    fn transactions_reference_only_clean_customers_and_products_unless_orphaned() {
        let (dir, report) = run(&config());
        let (_, _, accepted) = check(dir.path());
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let (orphan_customers, orphan_products) = rows.iter().fold((0, 0), |(c, p), row| {
            let bad_customer = !row[1].is_empty() && !accepted.customers.contains(&row[1]);
            let bad_product = !accepted.products.contains(&row[2]);
            assert!(!(bad_customer && bad_product), "{row:?} has two defects");
            (c + u64::from(bad_customer), p + u64::from(bad_product))
        });
        let expected = report.expected_by_rule();
        assert_eq!(
            orphan_customers,
            expected["transactions.customer_id.references"]
        );
        assert_eq!(
            orphan_products,
            expected["transactions.product_id.references"]
        );
        // Orphans are unknown ids, not defective known ones.
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let all_customers: BTreeSet<&str> = customers.iter().map(|c| c[0].as_str()).collect();
        for row in &rows {
            if !row[1].is_empty() && !accepted.customers.contains(&row[1]) {
                assert!(!all_customers.contains(row[1].as_str()), "{row:?}");
            }
        }
    }

    #[test]
    fn emails_are_valid_unless_malformed() {
        let (dir, report) = run(&config());
        let pattern = Regex::new(EMAIL_PATTERN).unwrap();
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let malformed = customers
            .iter()
            .filter(|c| !c[2].is_empty() && !pattern.is_match(&c[2]))
            .count() as u64;
        let missing = customers.iter().filter(|c| c[2].is_empty()).count() as u64;
        let expected = report.expected_by_rule();
        assert_eq!(malformed, expected["customers.email.pattern"]);
        assert_eq!(missing, expected["customers.email.not_null"]);
        let valid = customers.len() as u64 - malformed - missing;
        assert!(valid >= 980);
        // Realistic shape: derived from the name, with a number, at a known domain.
        for customer in customers.iter().filter(|c| pattern.is_match(&c[2])) {
            let (local, domain) = customer[2].split_once('@').unwrap();
            let first = customer[1].split(' ').next().unwrap().to_ascii_lowercase();
            assert!(local.starts_with(&first[..1]), "{customer:?}");
            assert!(
                local.ends_with(|c: char| c.is_ascii_digit()),
                "{customer:?}"
            );
            assert!(EMAIL_DOMAINS.iter().any(|(d, _)| *d == domain));
        }
    }

    #[test]
    fn purchase_sessions_match_transactions() {
        let (dir, _) = run(&config());
        let (_, _, accepted) = check(dir.path());
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        // Clean transactions: first occurrence of the id, no defect, known customer and product.
        let mut expected: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for row in &rows {
            let clean = ids.insert(row[0].clone())
                && accepted.customers.contains(&row[1])
                && accepted.products.contains(&row[2])
                && row[3].parse::<i64>().unwrap() > 0
                && PAYMENTS.contains(&row[5].as_str())
                && NaiveDateTime::parse_from_str(&row[6], "%Y-%m-%d %H:%M:%S").is_ok();
            if clean {
                let time = format!("{}Z", row[6].replace(' ', "T"));
                *expected
                    .entry((row[1].clone(), row[2].clone(), time))
                    .or_default() += 1;
            }
        }
        assert!(expected.values().sum::<u64>() > 4_800);

        let mut sessions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for event in read_clicks(dir.path()) {
            let session = event["session_id"].as_str().unwrap().to_string();
            sessions.entry(session).or_default().push(event);
        }
        let mut purchases: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for events in sessions.values() {
            let types: Vec<&str> = events
                .iter()
                .map(|e| e["event_type"].as_str().unwrap())
                .collect();
            if !types.contains(&"purchase") {
                continue;
            }
            assert_eq!(
                types,
                [
                    "page_view",
                    "product_view",
                    "add_to_cart",
                    "checkout",
                    "purchase"
                ]
            );
            let customer = events[0]["customer_id"].as_str().unwrap();
            let product = events[1]["product_id"].as_str().unwrap();
            for event in events {
                assert_eq!(event["customer_id"], customer);
            }
            for event in &events[1..] {
                assert_eq!(event["product_id"], product);
            }
            let times: Vec<&str> = events
                .iter()
                .map(|e| e["timestamp"].as_str().unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
            *purchases
                .entry((
                    customer.to_string(),
                    product.to_string(),
                    times[4].to_string(),
                ))
                .or_default() += 1;
        }
        assert_eq!(purchases, expected);
    }

    #[test]
    fn clickstream_has_unique_ids_anonymous_nulls_and_a_funnel() {
        let (dir, report) = run(&config());
        let events = read_clicks(dir.path());
        assert_eq!(events.len() as u64, report.file(CLICKSTREAM).unwrap().rows);
        let ids: BTreeSet<&str> = events
            .iter()
            .map(|e| e["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), events.len());
        let anonymous = events.iter().filter(|e| e["customer_id"].is_null()).count();
        assert!(anonymous > events.len() / 10, "{anonymous}");
        assert!(
            events
                .iter()
                .all(|e| e["customer_id"].is_null() || e["customer_id"].is_string())
        );
        let count = |t: &str| events.iter().filter(|e| e["event_type"] == t).count();
        let (views, products, carts, checkouts, purchases) = (
            count("page_view"),
            count("product_view"),
            count("add_to_cart"),
            count("checkout"),
            count("purchase"),
        );
        assert!(views > products && products > carts && carts > checkouts && checkouts > purchases);
        assert!(count("search") > 0 && count("remove_from_cart") > 0);
        // Unknown event types only in sessions without a purchase.
        let mut purchase_sessions = BTreeSet::new();
        for event in &events {
            if event["event_type"] == "purchase" {
                purchase_sessions.insert(event["session_id"].as_str().unwrap());
            }
        }
        for event in &events {
            if !EVENT_TYPES.contains(&event["event_type"].as_str().unwrap()) {
                assert!(!purchase_sessions.contains(event["session_id"].as_str().unwrap()));
            }
        }
        let first = NaiveDate::from_ymd_opt(2025, 11, 2).unwrap();
        for event in &events {
            let t = chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap())
                .unwrap()
                .date_naive();
            assert!(t >= first && t <= end_date(), "{event}");
        }
    }

    #[test]
    fn activity_looks_like_a_shop() {
        let (dir, _) = run(&GenerateConfig {
            transactions: 20_000,
            ..config()
        });
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let times: Vec<NaiveDateTime> = rows
            .iter()
            .filter_map(|r| NaiveDateTime::parse_from_str(&r[6], "%Y-%m-%d %H:%M:%S").ok())
            .collect();
        // Within the window and (apart from duplicates placed a few rows later) in time order.
        let start = NaiveDate::from_ymd_opt(2025, 11, 3).unwrap();
        assert!(
            times
                .iter()
                .all(|t| t.date() >= start && t.date() <= end_date())
        );
        let out_of_order = times.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(out_of_order <= rows.len() / 100, "{out_of_order}");
        // Weekends are busier than weekdays, per day.
        let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        for t in &times {
            *per_day.entry(t.date()).or_default() += 1;
        }
        let average = |weekend: bool| {
            let days: Vec<u64> = per_day
                .iter()
                .filter(|(d, _)| (d.weekday().number_from_monday() >= 6) == weekend)
                .map(|(_, c)| *c)
                .collect();
            days.iter().sum::<u64>() as f64 / days.len() as f64
        };
        assert!(average(true) > 1.15 * average(false));
        // Nights are quiet, evenings busy.
        let night = times.iter().filter(|t| (2..5).contains(&t.hour())).count();
        let evening = times
            .iter()
            .filter(|t| (19..22).contains(&t.hour()))
            .count();
        assert!(evening > 5 * night, "{evening} vs {night}");
        // A tenth of the customers make well over a third of the purchases.
        let mut per_customer: BTreeMap<&str, u64> = BTreeMap::new();
        for row in &rows {
            *per_customer.entry(row[1].as_str()).or_default() += 1;
        }
        let mut counts: Vec<u64> = per_customer.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: u64 = counts.iter().take(100).sum();
        assert!(top * 3 > rows.len() as u64, "top 100 customers: {top}");
        // Cheap items sell in bigger quantities than expensive ones.
        let mean_quantity = |cheap: bool| {
            let picked: Vec<f64> = rows
                .iter()
                .filter_map(|r| {
                    let q: f64 = r[3].parse().ok()?;
                    let unit = r[4].parse::<f64>().ok()? / q;
                    (q > 0.0 && (unit < 20.0) == cheap).then_some(q)
                })
                .collect();
            picked.iter().sum::<f64>() / picked.len() as f64
        };
        assert!(mean_quantity(true) > 1.5 * mean_quantity(false));
    }

    #[test]
    fn price_updates_change_every_listed_price() {
        let (dir, report) = run(&config());
        let base_page = read_products(dir.path());
        let base: BTreeMap<&str, &Value> = base_page["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p))
            .collect();
        let page = read_page(dir.path(), PRODUCT_UPDATES_FILE);
        let updates = page["products"].as_array().unwrap();
        assert_eq!(updates.len(), 12);
        assert_eq!(page["total"], 12);
        assert_eq!(report.price_changes.len(), 12);
        let last_days = window_end() - chrono::Duration::days(PRICE_CHANGE_DAYS);
        let (mut ups, mut downs) = (0, 0);
        let mut previous = "";
        for (product, change) in updates.iter().zip(&report.price_changes) {
            let id = product["id"].as_str().unwrap();
            assert!(id > previous, "ordered by id");
            previous = id;
            assert_eq!(id, change.product_id);
            let old = base[id];
            let (old_cents, new_cents) = (cents_of(&old["price"]), cents_of(&product["price"]));
            assert!(old_cents > 0, "only clean products are repriced");
            assert_eq!(old_cents, cents_of(&serde_json::json!(change.old_price)));
            assert_eq!(new_cents, cents_of(&serde_json::json!(change.new_price)));
            assert_ne!(new_cents, old_cents);
            assert!(
                new_cents * 100 >= old_cents * 70 && new_cents * 100 <= old_cents * 125,
                "{old_cents} -> {new_cents}"
            );
            assert!(catalog_rounded(new_cents), "{new_cents}");
            if new_cents > old_cents {
                ups += 1;
            } else {
                downs += 1;
            }
            let at = product["meta"]["updatedAt"].as_str().unwrap();
            assert_eq!(at, change.updated_at);
            assert!(utc(at) >= last_days && utc(at) < window_end(), "{at}");
            // A full record: everything else as in the catalogue.
            let mut same = product.clone();
            same["price"] = old["price"].clone();
            same["meta"] = old["meta"].clone();
            assert_eq!(&same, old);
        }
        assert!(ups > 0 && downs > 0, "{ups} up, {downs} down");
    }

    #[test]
    fn changed_prices_are_realistic_for_every_kind_of_list_price() {
        let mut rng = rng_for(1, Stream::PriceChanges, 99);
        let mut olds: Vec<i64> = vec![99, 109, 989, 999, 1_000, 1_049, 1_099, 1_399, 249_900];
        for _ in 0..2_000 {
            let category = pick(&mut rng, CATEGORIES);
            olds.push(list_price(&mut rng, category.min_cents, category.max_cents));
        }
        for old in olds {
            assert!(catalog_rounded(old), "{old}");
            for up in [true, false] {
                for _ in 0..20 {
                    let new = changed_price(&mut rng, old, up);
                    assert_eq!(new > old, up, "{old} -> {new}");
                    assert!(
                        new != old && new * 100 >= old * 70 && new * 100 <= old * 125,
                        "{old} -> {new}"
                    );
                    assert!(catalog_rounded(new), "{old} -> {new}");
                }
            }
        }
    }

    #[test]
    fn two_or_more_price_changes_go_both_ways() {
        for seed in 0..20 {
            let (_, report) = run(&GenerateConfig {
                seed,
                price_changes: 2,
                customer_moves: 0,
                transactions: 0,
                customers: 10,
                ..config()
            });
            let ups = report
                .price_changes
                .iter()
                .filter(|c| c.new_price > c.old_price)
                .count();
            assert_eq!(report.price_changes.len(), 2);
            assert_eq!(ups, 1, "seed {seed}: {:?}", report.price_changes);
        }
    }

    #[test]
    fn customer_moves_change_country() {
        let (dir, report) = run(&config());
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let base: BTreeMap<&str, &Vec<String>> =
            customers.iter().map(|c| (c[0].as_str(), c)).collect();
        let (_, moves) = read_csv(&dir.path().join(CUSTOMER_UPDATES_FILE));
        assert_eq!(moves.len(), 8);
        assert_eq!(report.customer_moves.len(), 8);
        let pattern = Regex::new(EMAIL_PATTERN).unwrap();
        let window_start = midnight(NaiveDate::from_ymd_opt(2025, 11, 3).unwrap());
        let mut previous = "";
        for (row, moved) in moves.iter().zip(&report.customer_moves) {
            assert!(row[0].as_str() > previous, "ordered by id");
            previous = &row[0];
            let old = base[row[0].as_str()];
            assert!(pattern.is_match(&old[2]), "only clean customers move");
            assert_eq!(moved.customer_id, row[0]);
            assert_eq!(moved.old_country, old[4]);
            assert_eq!(moved.new_country, row[4]);
            assert_ne!(row[4], old[4]);
            let country = COUNTRIES.iter().find(|c| c.name == row[4]).unwrap();
            assert!(country.cities.contains(&row[5].as_str()), "{row:?}");
            // The rest of the profile is unchanged.
            for i in [0, 1, 2, 3, 6] {
                assert_eq!(row[i], old[i]);
            }
            assert_eq!(row[7], moved.updated_at);
            let at = utc(&row[7]);
            assert!(at >= window_start && at < window_end(), "{at}");
        }
    }

    #[test]
    fn base_rows_carry_updated_at_before_the_window() {
        let (dir, report) = run(&config());
        // The window starts on 2025-11-03; base rows are from the day before, 00:00 UTC.
        let before = "2025-11-02T00:00:00Z";
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        assert!(customers.iter().all(|c| c[7] == before));
        let products = read_products(dir.path());
        assert!(
            products["products"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["meta"]["updatedAt"] == before)
        );
        // Every later version is later: in time order whatever the ingestion order.
        let first_sale = midnight(NaiveDate::from_ymd_opt(2025, 11, 3).unwrap());
        assert!(utc(before) < first_sale);
        assert!(
            report
                .price_changes
                .iter()
                .map(|c| &c.updated_at)
                .chain(report.customer_moves.iter().map(|m| &m.updated_at))
                .all(|t| utc(t) > utc(before))
        );
    }

    #[test]
    fn zero_changes_write_no_update_files() {
        let still = GenerateConfig {
            price_changes: 0,
            customer_moves: 0,
            ..config()
        };
        let (dir, report) = run(&still);
        assert!(!dir.path().join(PRODUCT_UPDATES_FILE).exists());
        assert!(!dir.path().join(CUSTOMER_UPDATES_FILE).exists());
        assert!(report.price_changes.is_empty() && report.customer_moves.is_empty());
        let names: Vec<&str> = report.files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                CUSTOMERS_FILE,
                PRODUCTS_FILE,
                TRANSACTIONS_FILE,
                CLICKSTREAM_FILE
            ]
        );
        assert_checker_agrees(dir.path(), &report);
        // The base profiles and catalogue do not depend on how many rows change.
        let (changing, _) = run(&config());
        for file in [CUSTOMERS_FILE, PRODUCTS_FILE] {
            assert!(
                std::fs::read(dir.path().join(file)).unwrap()
                    == std::fs::read(changing.path().join(file)).unwrap(),
                "{file}"
            );
        }
    }

    #[test]
    fn changes_are_capped_by_the_clean_rows() {
        let (dir, report) = run(&GenerateConfig {
            customers: 1,
            products: 1,
            transactions: 10,
            days: 1,
            ..config()
        });
        assert_eq!(report.price_changes.len(), 1);
        assert_eq!(report.customer_moves.len(), 1);
        assert_checker_agrees(dir.path(), &report);
        // A one-day window: the change is within it.
        let at = utc(&report.price_changes[0].updated_at);
        assert!(at >= midnight(end_date()) && at < window_end());
    }

    #[test]
    fn rejects_out_of_range_defect_rate() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [-0.01, 0.51, 1.0, f64::NAN, f64::INFINITY] {
            let error = generate(
                &GenerateConfig {
                    defect_rate: rate,
                    ..config()
                },
                dir.path(),
            )
            .unwrap_err();
            assert!(
                matches!(
                    error,
                    GenerateError::InvalidConfig {
                        field: "defect_rate",
                        ..
                    }
                ),
                "{error:?}"
            );
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        for (bad, field) in [
            (
                GenerateConfig {
                    days: 0,
                    ..config()
                },
                "days",
            ),
            (
                GenerateConfig {
                    customers: 0,
                    ..config()
                },
                "customers",
            ),
            (
                GenerateConfig {
                    products: 0,
                    ..config()
                },
                "products",
            ),
            (
                GenerateConfig {
                    end_date: NaiveDate::MIN,
                    ..config()
                },
                "end_date",
            ),
            (
                GenerateConfig {
                    price_changes: MAX_ROWS + 1,
                    ..config()
                },
                "price_changes",
            ),
            (
                GenerateConfig {
                    customer_moves: MAX_ROWS + 1,
                    ..config()
                },
                "customer_moves",
            ),
        ] {
            let error = generate(&bad, dir.path()).unwrap_err();
            assert!(
                matches!(error, GenerateError::InvalidConfig { field: f, .. } if f == field),
                "{error:?}"
            );
        }
    }

    #[test]
    fn unwritable_output_reports_the_path_and_keeps_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let error = generate(&config(), &blocker.join("out")).unwrap_err();
        match &error {
            GenerateError::Io { path, .. } => assert!(path.starts_with(&blocker)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn helpers_format_and_apportion_exactly() {
        let mut buf = Vec::new();
        push_cents(&mut buf, -1);
        buf.push(b' ');
        push_cents(&mut buf, 120_050);
        buf.push(b' ');
        push_id(&mut buf, b'T', 12, 7);
        buf.push(b' ');
        push_id(&mut buf, b'C', 12_345_678, 6);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "-0.01 1200.50 T0000012 C12345678"
        );
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(0, &[1.0, 2.0]), vec![0, 0]);
        let mut counts = vec![3, 1, 3];
        shrink_to(&mut counts, 4);
        assert_eq!(counts, vec![2, 1, 1]);
        assert_eq!(defect_counts(100, 0.01, &[3.0, 1.0]), vec![1, 1]);
    }
}
