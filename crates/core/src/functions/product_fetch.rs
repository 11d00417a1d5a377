//! product-fetch: Kinesis fetch tasks → one product API page each → the raw page at a
//! deterministic key under `landing/products/` (which the transformer then turns into silver)
//! and the products table, written only when a product changed (keeping the previous price).
//!
//! Each record is handled on its own: a page that fails for good (after retries with
//! exponential backoff and full jitter on 429, 5xx and transport errors, honouring
//! `Retry-After`) is reported in `batchItemFailures` by its sequence number, so one bad page
//! never blocks the shard or repeats the good ones. The handler returns an error only when
//! nothing per-record applies (the event itself is malformed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::Utc;
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::config::{self, ConfigError, Env, Var};
use super::iam::Action;
use super::{ErrorKind, FunctionError};
use crate::contract::ContractSet;
use crate::ports::{FetchTask, HttpGet, ObjectStore, ProductRecord, ProductStore, UpsertOutcome};
use crate::read::{ReadFailure, read_records};
use crate::validate::parse;

/// Settings read at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Product API base URLs by source name.
    pub sources: BTreeMap<String, String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per page (first try included).
    pub max_attempts: u32,
    /// First backoff.
    pub base_backoff: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// The lake bucket raw pages go to.
    pub bucket: String,
    /// The DynamoDB table of current products.
    pub products_table: String,
    /// Path-style S3 addressing (emulators).
    pub force_path_style: bool,
}

/// The HTTP timeout.
const HTTP_TIMEOUT_MS: Var = Var::optional(
    "HTTP_TIMEOUT_MS",
    "per-request timeout, milliseconds (default 3000)",
);
/// Attempts per page.
const MAX_ATTEMPTS: Var = Var::optional(
    "MAX_ATTEMPTS",
    "attempts per page, first try included (default 4)",
);
/// The first backoff.
const BASE_BACKOFF_MS: Var = Var::optional(
    "BASE_BACKOFF_MS",
    "first wait between attempts, milliseconds (default 200)",
);
/// The longest backoff.
const MAX_BACKOFF_MS: Var = Var::optional(
    "MAX_BACKOFF_MS",
    "longest wait between attempts, also the cap of Retry-After, milliseconds (default 5000)",
);
/// The products table.
const PRODUCTS_TABLE: Var =
    Var::required("PRODUCTS_TABLE", "the DynamoDB table of current products");

impl Config {
    /// Every AWS action the handler calls (see [`iam`](super::iam)).
    pub const ACTIONS: &[Action] = &[
        Action::always(
            "s3:PutObject",
            "writes each fetched page under landing/products/ in LAKE_BUCKET",
        ),
        Action::always(
            "dynamodb:GetItem",
            "reads a product's stored version in PRODUCTS_TABLE (unchanged products are skipped)",
        ),
        Action::always(
            "dynamodb:PutItem",
            "upserts changed products in PRODUCTS_TABLE",
        ),
    ];

    /// Every variable [`from_env`](Self::from_env) reads.
    pub const VARIABLES: &[Var] = &[
        config::PRODUCT_SOURCES,
        HTTP_TIMEOUT_MS,
        MAX_ATTEMPTS,
        BASE_BACKOFF_MS,
        MAX_BACKOFF_MS,
        config::LAKE_BUCKET,
        PRODUCTS_TABLE,
        config::S3_FORCE_PATH_STYLE,
    ];

    /// Reads [`VARIABLES`](Self::VARIABLES); a missing or invalid one fails naming it.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            sources: config::product_sources(env)?,
            timeout: Duration::from_millis(HTTP_TIMEOUT_MS.parse(env, 3000)?),
            max_attempts: MAX_ATTEMPTS.parse(env, 4)?,
            base_backoff: Duration::from_millis(BASE_BACKOFF_MS.parse(env, 200)?),
            max_backoff: Duration::from_millis(MAX_BACKOFF_MS.parse(env, 5000)?),
            bucket: config::LAKE_BUCKET.read(env)?,
            products_table: PRODUCTS_TABLE.read(env)?,
            force_path_style: config::S3_FORCE_PATH_STYLE.flag(env),
        })
    }
}

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The HTTP client (with its timeout).
    pub http: Arc<dyn HttpGet>,
    /// The lake (S3).
    pub store: Arc<dyn ObjectStore>,
    /// The products table (DynamoDB).
    pub products: Arc<dyn ProductStore>,
    /// Contracts (the products contract reads the pages).
    pub contracts: Arc<ContractSet>,
    /// Settings.
    pub config: Config,
}

/// Why a page failed for good.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The task names a source the function does not know.
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// The API kept failing.
    #[error("{url}: gave up after {attempts} attempts; last: {last}")]
    Exhausted {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The API refused the request (4xx other than 429).
    #[error("{url}: HTTP {status}")]
    Refused {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The page is not JSON.
    #[error("{url}: the page is not valid JSON: {source}")]
    Malformed {
        /// The URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the page or the products failed.
    #[error("storing the page failed: {0}")]
    Store(String),
}

/// The URL of a task's page.
pub fn page_url(base: &str, task: &FetchTask) -> String {
    if config::is_unpaginated(&task.source) {
        base.to_string()
    } else {
        format!("{base}?limit={}&skip={}", task.page_size, task.skip)
    }
}

/// The landing key of a task's raw page: the same for every retry of the task.
pub fn page_key(task: &FetchTask) -> String {
    format!(
        "landing/products/run={}/{}-page-{:04}.json",
        task.run_id, task.source, task.page
    )
}

/// The wait before attempt `attempt + 1` (full jitter), at least `Retry-After`.
pub fn backoff(
    config: &Config,
    attempt: u32,
    retry_after_secs: Option<u64>,
    rng: &mut impl Rng,
) -> Duration {
    let exp = config
        .base_backoff
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(config.max_backoff);
    let jittered = Duration::from_millis(rng.random_range(0..=exp.as_millis() as u64));
    match retry_after_secs {
        Some(s) => Duration::from_secs(s).min(config.max_backoff).max(jittered),
        None => jittered,
    }
}

/// Fetches a page, retrying what may pass on a retry.
pub async fn fetch_page(
    http: &dyn HttpGet,
    config: &Config,
    url: &str,
) -> Result<Value, FetchError> {
    let mut rng = seeded_rng();
    let mut last = String::new();
    for attempt in 1..=config.max_attempts.max(1) {
        let retry_after = match http.get(url).await {
            Ok(resp) if resp.status == 200 => {
                return serde_json::from_slice(&resp.body).map_err(|source| {
                    FetchError::Malformed {
                        url: url.to_string(),
                        source,
                    }
                });
            }
            Ok(resp) if resp.status == 429 || resp.status >= 500 => {
                last = format!("HTTP {}", resp.status);
                resp.retry_after_secs
            }
            Ok(resp) => {
                return Err(FetchError::Refused {
                    url: url.to_string(),
                    status: resp.status,
                });
            }
            Err(e) => {
                last = crate::transform::error_chain(&e);
                None
            }
        };
        if attempt < config.max_attempts {
            let wait = backoff(config, attempt, retry_after, &mut rng);
            tracing::info!(url, attempt, wait_ms = wait.as_millis() as u64, last = %last, "retrying page");
            tokio::time::sleep(wait).await;
        }
    }
    Err(FetchError::Exhausted {
        url: url.to_string(),
        attempts: config.max_attempts.max(1),
        last,
    })
}

/// Extracts product records from a page with the products contract's reader (so every shape
/// the contract accepts works: DummyJSON pages, FakeStore arrays).
pub fn products_of(page: &[u8], contracts: &ContractSet) -> Result<Vec<ProductRecord>, String> {
    let contract = contracts.get("products").map_err(|e| e.to_string())?;
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut sink = |b: RecordBatch| -> Result<(), std::convert::Infallible> {
        batches.push(b);
        Ok(())
    };
    match read_records(page, "page.json", contract, 1024, &mut sink) {
        Ok(_) => {}
        Err(ReadFailure::Unreadable(u)) => return Err(u.to_string()),
        Err(ReadFailure::Sink(e)) => match e {},
    }
    let mut out = Vec::new();
    for b in &batches {
        let col = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .cloned()
        };
        let (Some(ids), names, cats, prices, stocks, brands, skus) = (
            col("product_id"),
            col("name"),
            col("category"),
            col("price"),
            col("stock"),
            col("brand"),
            col("sku"),
        ) else {
            continue;
        };
        let get = |a: &Option<arrow::array::StringArray>, i: usize| {
            a.as_ref()
                .filter(|a| a.is_valid(i))
                .map(|a| a.value(i).to_string())
        };
        for i in 0..b.num_rows() {
            if !ids.is_valid(i) {
                continue;
            }
            out.push(ProductRecord {
                product_id: ids.value(i).to_string(),
                name: get(&names, i),
                category: get(&cats, i),
                price_cents: get(&prices, i)
                    .and_then(|p| parse::parse_decimal(&p, 2))
                    .and_then(|c| i64::try_from(c).ok()),
                stock: get(&stocks, i).and_then(|s| parse::parse_integer(&s)),
                brand: get(&brands, i),
                sku: get(&skus, i),
            });
        }
    }
    Ok(out)
}

/// Counts of one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageOutcome {
    /// Landing key written.
    pub key: String,
    /// Products on the page.
    pub products: usize,
    /// New products.
    pub inserted: usize,
    /// Changed products.
    pub updated: usize,
    /// Unchanged products (nothing written).
    pub unchanged: usize,
}

/// Fetches, stores and upserts one task's page.
pub async fn process_task(task: &FetchTask, deps: &Deps) -> Result<PageOutcome, FetchError> {
    let base = deps
        .config
        .sources
        .get(&task.source)
        .ok_or_else(|| FetchError::UnknownSource(task.source.clone()))?;
    let url = page_url(base, task);
    let page = fetch_page(deps.http.as_ref(), &deps.config, &url).await?;
    let body = serde_json::to_vec_pretty(&page).map_err(|e| FetchError::Store(e.to_string()))?;
    let key = page_key(task);
    deps.store
        .put(&key, body.clone())
        .await
        .map_err(|e| FetchError::Store(crate::transform::error_chain(&e)))?;
    let products = products_of(&body, &deps.contracts).map_err(FetchError::Store)?;
    let mut outcome = PageOutcome {
        key,
        products: products.len(),
        ..PageOutcome::default()
    };
    let now = Utc::now();
    for p in &products {
        match deps
            .products
            .upsert_if_changed(p, now)
            .await
            .map_err(|e| FetchError::Store(crate::transform::error_chain(&e)))?
        {
            UpsertOutcome::Inserted => outcome.inserted += 1,
            UpsertOutcome::Updated { .. } => outcome.updated += 1,
            UpsertOutcome::Unchanged => outcome.unchanged += 1,
        }
    }
    Ok(outcome)
}

/// Handles a Kinesis event; returns `{"batchItemFailures": [{"itemIdentifier": seq}, …]}`.
///
/// Partial batch responses on a stream: Lambda restarts the shard from the *lowest* sequence
/// number reported, so every record after it is delivered again, including ones that
/// succeeded; processing a page twice is harmless (the raw page is overwritten under the same
/// key, unchanged products are not written). Two cases are not partial failures and fail the
/// whole invocation, so that Lambda retries the batch as a whole: a record without a sequence
/// number (an empty identifier would be read as "the whole batch failed" anyway, silently), and
/// a batch in which every record failed (nothing progressed; an error is what alarms count).
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, FunctionError> {
    let event: aws_lambda_events::event::kinesis::KinesisEvent = serde_json::from_value(event)
        .map_err(|e| FunctionError::wrap(ErrorKind::InvalidInput, e))?;
    if let Some(i) = event
        .records
        .iter()
        .position(|r| r.kinesis.sequence_number.trim().is_empty())
    {
        return Err(FunctionError::new(
            ErrorKind::InvalidInput,
            format!(
                "record {i} of the batch has no sequence number: it cannot be reported as a partial failure, so the whole batch fails"
            ),
        ));
    }
    let mut failures = Vec::new();
    let mut pages = Vec::new();
    for record in &event.records {
        let seq = record.kinesis.sequence_number.clone();
        let task: FetchTask = match serde_json::from_slice(&record.kinesis.data.0) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(sequence_number = %seq, error = %e, "record is not a fetch task");
                failures.push(json!({ "itemIdentifier": seq }));
                continue;
            }
        };
        match process_task(&task, deps).await {
            Ok(outcome) => {
                tracing::info!(run_id = %task.run_id, page = task.page, products = outcome.products, inserted = outcome.inserted, updated = outcome.updated, "page stored");
                pages.push(outcome);
            }
            Err(e) => {
                tracing::error!(run_id = %task.run_id, page = task.page, sequence_number = %seq, error = %e, "page failed");
                failures.push(json!({ "itemIdentifier": seq }));
            }
        }
    }
    if !event.records.is_empty() && failures.len() == event.records.len() {
        return Err(FunctionError::new(
            ErrorKind::Retryable,
            format!("all {} records of the batch failed", failures.len()),
        ));
    }
    Ok(json!({ "batchItemFailures": failures, "pages": pages }))
}

/// Jitter only needs to differ between concurrent invocations, not to be unpredictable.
fn seeded_rng() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    rand_chacha::ChaCha8Rng::seed_from_u64(nanos ^ u64::from(std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cfg() -> Config {
        Config {
            sources: BTreeMap::new(),
            timeout: Duration::from_secs(1),
            max_attempts: 4,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            bucket: "lake".into(),
            products_table: "products".into(),
            force_path_style: false,
        }
    }

    #[test]
    fn the_config_reads_exactly_the_variables_it_lists() {
        let c = super::config::read_exactly(
            Config::VARIABLES,
            &[
                (
                    "PRODUCT_SOURCES",
                    "dummyjson=https://dummyjson.com/products",
                ),
                ("HTTP_TIMEOUT_MS", "700"),
                ("MAX_ATTEMPTS", "3"),
                ("BASE_BACKOFF_MS", "50"),
                ("MAX_BACKOFF_MS", "2000"),
                ("LAKE_BUCKET", "lake"),
                ("PRODUCTS_TABLE", "products"),
                ("SHOPFLOW_S3_FORCE_PATH_STYLE", "yes"),
            ],
            Config::from_env,
        );
        assert!(c.force_path_style);
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for attempt in 1..10 {
            let d = backoff(&cfg(), attempt, None, &mut rng);
            assert!(d <= Duration::from_secs(2));
        }
        assert!(backoff(&cfg(), 1, Some(1), &mut rng) >= Duration::from_secs(1));
        assert_eq!(
            backoff(&cfg(), 1, Some(60), &mut rng),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn page_keys_are_deterministic() {
        let t = FetchTask {
            run_id: "r1".into(),
            source: "dummyjson".into(),
            page: 3,
            page_size: 30,
            skip: 60,
        };
        assert_eq!(
            page_key(&t),
            "landing/products/run=r1/dummyjson-page-0003.json"
        );
        assert_eq!(
            page_url("http://x/products", &t),
            "http://x/products?limit=30&skip=60"
        );
    }

    #[test]
    fn extracts_products_from_dummyjson_and_fakestore_pages() {
        let set = ContractSet::defaults().unwrap();
        let dj = br#"{"products":[{"id":1,"title":"A","category":"beauty","price":9.99,"stock":5,"brand":"B","sku":"S"}],"total":1,"skip":0,"limit":1}"#;
        let p = products_of(dj, &set).unwrap();
        assert_eq!(p[0].price_cents, Some(999));
        assert_eq!(p[0].product_id, "1");
        let fs = br#"[{"id":2,"title":"C","price":109.95,"category":"men's clothing","rating":{"rate":3.9,"count":120}}]"#;
        assert_eq!(products_of(fs, &set).unwrap()[0].price_cents, Some(10995));
    }
}
