//! Gold: the star schema and the aggregates, built from silver with SQL on the [`Engine`].
//!
//! Tables (Parquet under `gold/`; `dt` is the Hive partition `date=YYYY-MM-DD`):
//!
//! | table | grain | partitioned |
//! |---|---|---|
//! | `dim_product` | one row per product version (SCD type 2: price, name, category, brand) | no |
//! | `dim_customer` | one row per customer version (SCD type 2: country, city); PII masked | no |
//! | `dim_date` | one row per calendar day the facts span | no |
//! | `fact_sales` | one row per sale (de-duplicated on `transaction_id`), with the dimension versions valid at the sale time | by sale date |
//! | `agg_daily_sales` | one row per day | by day |
//! | `agg_category_daily` | one row per day and category | by day |
//! | `agg_product_daily` | one row per day and product | by day |
//! | `funnel_daily` | one row per day: sessions reaching each funnel step | by day |
//! | `customer_ltv` | one row per customer: lifetime value and RFM segment, as of the build date | no |
//!
//! A build for date `D` rebuilds the partitions of `D` and the `lookback_days` before it (so
//! late-arriving rows are picked up by the next run), plus any day silver has and gold does
//! not yet have (a first run, a backfill). Dimensions, `dim_date` and `customer_ltv` are
//! rewritten whole. Every query orders its output, so rebuilding a date writes the same bytes.
//!
//! What counts as a sale: the latest ingestion of each `transaction_id` (latest `_ingested_at`,
//! then source key, then row number), unless its status is `refunded` or `cancelled`. Revenue
//! is `amount`, else `quantity × unit_price`, else `quantity ×` the price of the product
//! version valid at the sale time; it is null (and the sale counted in
//! `transactions_without_revenue`) when none is known. A sale before a product's or customer's
//! first known version joins that first version.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use chrono::{Datelike, Duration, NaiveDate};

use crate::contract::{ContractError, ContractSet};
use crate::engine::{Engine, EngineError, PARTITION_COLUMN, Partitions, QueryResult};
use crate::layer::{self, EncodeError, keys};
use crate::ports::{ObjectStore, StoreError};
use crate::validate::{self, parse};

/// Errors while building gold.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SQL engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Encoding a gold table failed.
    #[error("gold table {table} cannot be encoded")]
    Encode {
        /// The table.
        table: String,
        /// The error.
        #[source]
        source: EncodeError,
    },
    /// Splitting a result by day failed.
    #[error("gold table {table} cannot be split by day")]
    Split {
        /// The table.
        table: String,
        /// The error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The built-in contracts (for the silver schemas) failed to load.
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// Build settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoldOptions {
    /// Days before the build date whose partitions are rebuilt too (late-arriving rows).
    pub lookback_days: u32,
}

impl Default for GoldOptions {
    fn default() -> Self {
        Self { lookback_days: 3 }
    }
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldBuild {
    /// The build date.
    pub date: Option<NaiveDate>,
    /// Sale days whose partitions were rebuilt.
    pub sale_days: Vec<NaiveDate>,
    /// Clickstream days whose funnel partitions were rebuilt.
    pub funnel_days: Vec<NaiveDate>,
    /// Objects written.
    pub written: Vec<String>,
    /// Stale partitions removed (a rebuilt day that no longer has rows).
    pub removed: Vec<String>,
    /// Rows written per table.
    pub rows: BTreeMap<String, usize>,
}

/// `gold/{table}/part-0.parquet`: the key of an unpartitioned gold table.
pub fn table_key(table: &str) -> String {
    format!("gold/{table}/part-0.parquet")
}

/// The partition days present under a prefix.
async fn days_under(
    store: &dyn ObjectStore,
    prefix: &str,
) -> Result<BTreeSet<NaiveDate>, StoreError> {
    let objects = store.list(prefix).await?;
    Ok(
        layer::partition_dates(objects.iter().map(|o| o.key.as_str()), "date")
            .into_iter()
            .collect(),
    )
}

/// The latest day silver has sales for.
pub async fn latest_sale_day(store: &dyn ObjectStore) -> Result<Option<NaiveDate>, StoreError> {
    Ok(days_under(store, "silver/transactions/").await?.pop_last())
}

/// The silver schema of a dataset (typed columns + lineage + `dt`), for tables with no files
/// yet and for columns older files lack.
fn silver_schema(contracts: &ContractSet, dataset: &str) -> Result<SchemaRef, ContractError> {
    let typed = validate::typed_schema(contracts.get(dataset)?);
    let mut fields: Vec<Field> = typed.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(layer::lineage_fields());
    Ok(Arc::new(Schema::new(fields)))
}

fn date_list(days: &BTreeSet<NaiveDate>) -> String {
    if days.is_empty() {
        return "DATE '1970-01-01'".into();
    }
    days.iter()
        .map(|d| format!("DATE '{d}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SCD type 2 from snapshots: one version per change of the tracked attributes, ordered by
/// each snapshot row's effective time (`updated_at`, else when it was ingested).
fn scd2_sql(
    source: &str,
    key: &str,
    sk: &str,
    tracked: &[&str],
    carried: &[&str],
    extra_select: &str,
) -> String {
    let cols: Vec<&str> = tracked.iter().chain(carried).copied().collect();
    let lags = tracked
        .iter()
        .map(|c| format!("LAG({c}) OVER (PARTITION BY {key} ORDER BY effective_at) AS prev_{c}"))
        .collect::<Vec<_>>()
        .join(",\n       ");
    let changed = tracked
        .iter()
        .map(|c| format!("({c} IS DISTINCT FROM prev_{c})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "WITH snap AS (
  SELECT {key}, {cols}, COALESCE(updated_at, _ingested_at) AS effective_at,
         ROW_NUMBER() OVER (PARTITION BY {key}, COALESCE(updated_at, _ingested_at)
                            ORDER BY _ingested_at DESC, _source_key DESC, _row_number DESC) AS rn
  FROM {source}
), ordered AS (
  SELECT *, {lags},
       ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY effective_at) AS seq
  FROM snap WHERE rn = 1
), versions AS (
  SELECT * FROM ordered WHERE seq = 1 OR {changed}
), numbered AS (
  SELECT *,
         ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY effective_at) AS version,
         LEAD(effective_at) OVER (PARTITION BY {key} ORDER BY effective_at) AS valid_to
  FROM versions
)
SELECT concat({key}, ':', CAST(version AS VARCHAR)) AS {sk}, {key}, CAST(version AS INT) AS version,
       {cols}{extra_select},
       effective_at AS valid_from, valid_to, valid_to IS NULL AS is_current
FROM numbered
ORDER BY {key}, version",
        cols = cols.join(", "),
    )
}

fn dim_product_sql() -> String {
    scd2_sql(
        "products",
        "product_id",
        "product_sk",
        &["price", "name", "category", "brand"],
        &["sku", "stock"],
        "",
    )
}

/// Customers: PII never reaches gold in clear — the email is masked (`e***@example.com`), the
/// name reduced to initials; phone and birth date are dropped.
fn dim_customer_sql() -> String {
    let inner = scd2_sql(
        "customers_masked",
        "customer_id",
        "customer_sk",
        &["country", "city"],
        &["email_masked", "name_initials", "signup_date"],
        "",
    );
    format!(
        "WITH customers_masked AS (
  SELECT customer_id, country, city, signup_date, updated_at, _ingested_at, _source_key, _row_number,
         CASE WHEN email IS NULL THEN NULL
              WHEN strpos(email, '@') > 1 THEN concat(substr(email, 1, 1), '***', substr(email, strpos(email, '@')))
              ELSE '***' END AS email_masked,
         NULLIF(concat(
           upper(substr(COALESCE(first_name, split_part(name, ' ', 1)), 1, 1)),
           upper(substr(COALESCE(last_name, CASE WHEN strpos(name, ' ') > 0 THEN substr(name, strpos(name, ' ') + 1) END), 1, 1))
         ), '') AS name_initials
  FROM customers
)
SELECT * FROM ({inner}) AS d
ORDER BY customer_id, version"
    )
}

fn fact_sales_sql() -> &'static str {
    "WITH ranked AS (
  SELECT t.*, ROW_NUMBER() OVER (PARTITION BY transaction_id
                                 ORDER BY _ingested_at DESC, _source_key DESC, _row_number DESC) AS rn
  FROM transactions t
), latest AS (
  SELECT * FROM ranked
  WHERE rn = 1 AND (status IS NULL OR lower(status) NOT IN ('refunded', 'cancelled'))
)
SELECT l.transaction_id,
       l.transaction_date AS sold_at,
       l.customer_id,
       c.customer_sk,
       l.product_id,
       p.product_sk,
       l.quantity,
       COALESCE(l.unit_price, p.price) AS unit_price,
       l.amount,
       CAST(COALESCE(l.amount,
                     CAST(l.quantity AS DECIMAL(18, 2)) * l.unit_price,
                     CAST(l.quantity AS DECIMAL(18, 2)) * p.price) AS DECIMAL(18, 2)) AS revenue,
       CASE WHEN l.amount IS NOT NULL THEN 'amount'
            WHEN l.unit_price IS NOT NULL THEN 'unit_price'
            WHEN p.price IS NOT NULL THEN 'catalog' END AS revenue_source,
       l.currency,
       l.payment_method,
       l.status,
       CAST((CAST(date_part('dow', l.transaction_date) AS INT) + 6) % 7 + 1 AS INT) AS weekday,
       CAST(date_part('hour', l.transaction_date) AS INT) AS hour,
       l._source_key AS source_key,
       l._run_id AS run_id,
       l.dt
FROM latest l
LEFT JOIN dim_product p
  ON p.product_id = l.product_id
 AND (p.version = 1 OR l.transaction_date >= p.valid_from)
 AND (p.valid_to IS NULL OR l.transaction_date < p.valid_to)
LEFT JOIN dim_customer c
  ON c.customer_id = l.customer_id
 AND (c.version = 1 OR l.transaction_date >= c.valid_from)
 AND (c.valid_to IS NULL OR l.transaction_date < c.valid_to)
ORDER BY l.dt, l.transaction_date, l.transaction_id"
}

fn agg_daily_sales_sql(days: &str) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2)) AS revenue,
       COUNT(*) AS transactions,
       COUNT(revenue) AS priced_transactions,
       SUM(quantity) AS units,
       COUNT(DISTINCT customer_id) AS unique_customers,
       CAST(SUM(revenue) / NULLIF(COUNT(revenue), 0) AS DECIMAL(18, 2)) AS average_order_value,
       dt
FROM fact_sales WHERE dt IN ({days})
GROUP BY dt ORDER BY dt"
    )
}

fn agg_category_daily_sql(days: &str) -> String {
    format!(
        "SELECT COALESCE(p.category, 'unknown') AS category,
       CAST(COALESCE(SUM(f.revenue), 0) AS DECIMAL(18, 2)) AS revenue,
       COUNT(*) AS transactions,
       SUM(f.quantity) AS units,
       f.dt
FROM fact_sales f LEFT JOIN dim_product p ON p.product_sk = f.product_sk
WHERE f.dt IN ({days})
GROUP BY f.dt, COALESCE(p.category, 'unknown') ORDER BY f.dt, category"
    )
}

fn agg_product_daily_sql(days: &str) -> String {
    format!(
        "SELECT f.product_id,
       MAX(p.name) AS product_name,
       MAX(p.category) AS category,
       CAST(COALESCE(SUM(f.revenue), 0) AS DECIMAL(18, 2)) AS revenue,
       COUNT(*) AS transactions,
       SUM(f.quantity) AS units,
       f.dt
FROM fact_sales f LEFT JOIN dim_product p ON p.product_sk = f.product_sk
WHERE f.dt IN ({days})
GROUP BY f.dt, f.product_id ORDER BY f.dt, f.product_id"
    )
}

/// Sessions reaching each step, in order: a session reaches a step when it reached the step
/// before and has an event of the step (on that day).
fn funnel_daily_sql() -> &'static str {
    "WITH events AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id
                               ORDER BY _ingested_at DESC, _source_key DESC, _row_number DESC) AS rn
  FROM clickstream
), sessions AS (
  SELECT dt, session_id,
         MAX(CASE WHEN event_type = 'product_view' THEN 1 ELSE 0 END) AS viewed,
         MAX(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) AS carted,
         MAX(CASE WHEN event_type = 'checkout' THEN 1 ELSE 0 END) AS checked_out,
         MAX(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchased
  FROM events WHERE rn = 1
  GROUP BY dt, session_id
), steps AS (
  SELECT dt,
         COUNT(*) AS sessions,
         SUM(viewed) AS product_view_sessions,
         SUM(viewed * carted) AS add_to_cart_sessions,
         SUM(viewed * carted * checked_out) AS checkout_sessions,
         SUM(viewed * carted * checked_out * purchased) AS purchase_sessions
  FROM sessions GROUP BY dt
)
SELECT sessions, product_view_sessions, add_to_cart_sessions, checkout_sessions, purchase_sessions,
       CAST(purchase_sessions AS DOUBLE) / CAST(sessions AS DOUBLE) AS conversion_rate,
       dt
FROM steps ORDER BY dt"
}

fn customer_ltv_sql(date: NaiveDate) -> String {
    format!(
        "WITH c AS (
  SELECT customer_id,
         COUNT(*) AS orders,
         COUNT(revenue) AS priced_orders,
         CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2)) AS revenue,
         MIN(dt) AS first_purchase,
         MAX(dt) AS last_purchase
  FROM fact_sales WHERE dt <= DATE '{date}'
  GROUP BY customer_id
), scored AS (
  SELECT c.*,
         CAST(NTILE(5) OVER (ORDER BY last_purchase, customer_id) AS INT) AS r_score,
         CAST(NTILE(5) OVER (ORDER BY orders, customer_id) AS INT) AS f_score,
         CAST(NTILE(5) OVER (ORDER BY revenue, customer_id) AS INT) AS m_score
  FROM c
)
SELECT s.customer_id, d.customer_sk, d.email_masked, d.country,
       s.first_purchase, s.last_purchase,
       CAST(date_part('day', CAST(DATE '{date}' AS TIMESTAMP) - CAST(s.last_purchase AS TIMESTAMP)) AS INT) AS recency_days,
       s.orders, s.revenue,
       CAST(s.revenue / NULLIF(s.priced_orders, 0) AS DECIMAL(18, 2)) AS average_order_value,
       s.r_score, s.f_score, s.m_score,
       CASE WHEN s.r_score >= 4 AND s.f_score >= 4 AND s.m_score >= 4 THEN 'Champions'
            WHEN s.r_score >= 3 AND s.f_score >= 4 THEN 'Loyal'
            WHEN s.r_score >= 4 AND s.f_score <= 2 THEN 'New'
            WHEN s.r_score >= 3 AND s.m_score >= 4 THEN 'Big spenders'
            WHEN s.r_score <= 2 AND s.f_score >= 3 THEN 'At risk'
            WHEN s.r_score <= 2 THEN 'Hibernating'
            ELSE 'Needs attention' END AS segment,
       DATE '{date}' AS as_of
FROM scored s
LEFT JOIN dim_customer d ON d.customer_id = s.customer_id AND d.is_current
ORDER BY s.revenue DESC, s.customer_id"
    )
}

/// `dim_date` for every day from `first` to `last`: ISO weekday (1 = Monday) and week.
pub fn dim_date(
    first: NaiveDate,
    last: NaiveDate,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let ints = |f: &dyn Fn(&NaiveDate) -> i32| -> ArrayRef {
        Arc::new(Int32Array::from(days.iter().map(f).collect::<Vec<_>>()))
    };
    let texts = |f: &dyn Fn(&NaiveDate) -> String| -> ArrayRef {
        Arc::new(StringArray::from(days.iter().map(f).collect::<Vec<_>>()))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("date_key", DataType::Int32, false),
        Field::new("calendar_date", DataType::Date32, false),
        Field::new("year", DataType::Int32, false),
        Field::new("quarter", DataType::Int32, false),
        Field::new("month", DataType::Int32, false),
        Field::new("month_name", DataType::Utf8, false),
        Field::new("day_of_month", DataType::Int32, false),
        Field::new("iso_weekday", DataType::Int32, false),
        Field::new("weekday_name", DataType::Utf8, false),
        Field::new("iso_week", DataType::Int32, false),
        Field::new("is_weekend", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        ints(&|d| d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32),
        Arc::new(Date32Array::from(
            days.iter()
                .map(|d| parse::days_since_epoch(*d))
                .collect::<Vec<_>>(),
        )),
        ints(&|d| d.year()),
        ints(&|d| d.month0() as i32 / 3 + 1),
        ints(&|d| d.month() as i32),
        texts(&|d| d.format("%B").to_string()),
        ints(&|d| d.day() as i32),
        ints(&|d| d.weekday().number_from_monday() as i32),
        texts(&|d| d.format("%A").to_string()),
        ints(&|d| d.iso_week().week() as i32),
        Arc::new(BooleanArray::from(
            days.iter()
                .map(|d| d.weekday().number_from_monday() >= 6)
                .collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, columns)
}

/// The engine may produce string views (`Utf8View`); gold stores plain `Utf8`, the type every
/// reader (Athena, pyarrow, older Arrow) knows.
fn plain_strings(result: QueryResult) -> Result<QueryResult, arrow::error::ArrowError> {
    let is_view = |t: &DataType| matches!(t, DataType::Utf8View | DataType::LargeUtf8);
    if !result
        .schema
        .fields()
        .iter()
        .any(|f| is_view(f.data_type()))
    {
        return Ok(result);
    }
    let schema: SchemaRef = Arc::new(Schema::new(
        result
            .schema
            .fields()
            .iter()
            .map(|f| {
                let t = if is_view(f.data_type()) {
                    DataType::Utf8
                } else {
                    f.data_type().clone()
                };
                f.as_ref().clone().with_data_type(t)
            })
            .collect::<Vec<_>>(),
    ));
    let batches = result
        .batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QueryResult { schema, batches })
}

/// One gold object's Parquet bytes.
fn encode(table: &str, schema: &SchemaRef, batch: &RecordBatch) -> Result<Vec<u8>, GoldError> {
    layer::encode_parquet(schema.clone(), std::slice::from_ref(batch)).map_err(|source| {
        GoldError::Encode {
            table: table.into(),
            source,
        }
    })
}

/// Writes gold tables and keeps the engine's view of them current.
struct Writer<'a> {
    store: &'a dyn ObjectStore,
    engine: &'a Engine,
    build: GoldBuild,
}

impl Writer<'_> {
    /// Writes an unpartitioned table whole and registers it.
    async fn whole(&mut self, table: &str, result: QueryResult) -> Result<(), GoldError> {
        let result = plain_strings(result).map_err(|source| GoldError::Split {
            table: table.into(),
            source,
        })?;
        let key = table_key(table);
        // One batch: the engine's batch boundaries vary from run to run, and the bytes must not.
        let all = result.concat().map_err(|source| GoldError::Split {
            table: table.into(),
            source,
        })?;
        let body = encode(table, &result.schema, &all)?;
        self.store.put(&key, body).await?;
        self.build.written.push(key);
        self.build.rows.insert(table.into(), result.rows());
        self.engine.register(table, result.schema, result.batches)?;
        Ok(())
    }

    /// Writes one partition per day of `days` from a result carrying `dt` (the column is not
    /// stored: it is the partition), removes the partitions of `days` left without rows, and
    /// registers the whole table from the lake.
    async fn partitioned(
        &mut self,
        table: &str,
        result: QueryResult,
        days: &BTreeSet<NaiveDate>,
    ) -> Result<(), GoldError> {
        let split_error = |source| GoldError::Split {
            table: table.into(),
            source,
        };
        let result = plain_strings(result).map_err(split_error)?;
        let all = result.concat().map_err(split_error)?;
        let dt_index = result
            .schema
            .index_of(PARTITION_COLUMN)
            .map_err(split_error)?;
        let stored: Vec<usize> = (0..result.schema.fields().len())
            .filter(|i| *i != dt_index)
            .collect();
        let stored_schema = Arc::new(result.schema.project(&stored).map_err(split_error)?);
        let dts = all.column(dt_index).as_primitive::<Date32Type>().clone();
        let mut rows = 0;
        for day in days {
            let key = keys::gold(table, *day);
            let want = parse::days_since_epoch(*day);
            let mask: BooleanArray = dts.iter().map(|v| Some(v == Some(want))).collect();
            let part = filter_record_batch(&all, &mask)
                .and_then(|b| b.project(&stored))
                .map_err(split_error)?;
            if part.num_rows() == 0 {
                if self.store.list(&key).await?.iter().any(|o| o.key == key) {
                    self.store.delete(&key).await?;
                    self.build.removed.push(key);
                }
                continue;
            }
            rows += part.num_rows();
            let body = encode(table, &stored_schema, &part)?;
            self.store.put(&key, body).await?;
            self.build.written.push(key);
        }
        self.build.rows.insert(table.into(), rows);
        self.engine
            .register_prefix(
                self.store,
                table,
                &format!("gold/{table}/"),
                Partitions::All,
                Some(stored_schema),
            )
            .await?;
        Ok(())
    }
}

/// Builds gold for `date` (see the module docs for what is rebuilt) and leaves every silver and
/// gold table the build read or wrote registered in `engine`, for the report.
pub async fn build(
    store: &dyn ObjectStore,
    engine: &Engine,
    date: NaiveDate,
    options: GoldOptions,
) -> Result<GoldBuild, GoldError> {
    let contracts = ContractSet::defaults()?;
    let window: BTreeSet<NaiveDate> = (0..=i64::from(options.lookback_days))
        .map(|back| date - Duration::days(back))
        .collect();
    let missing = |silver: BTreeSet<NaiveDate>, gold: BTreeSet<NaiveDate>| -> BTreeSet<NaiveDate> {
        silver
            .difference(&gold)
            .copied()
            .chain(window.iter().copied())
            .collect()
    };
    let sale_days = missing(
        days_under(store, "silver/transactions/").await?,
        days_under(store, "gold/fact_sales/").await?,
    );
    let funnel_days = missing(
        days_under(store, "silver/clickstream/").await?,
        days_under(store, "gold/funnel_daily/").await?,
    );

    for (table, partitions) in [
        ("transactions", Partitions::Dates(&sale_days)),
        ("clickstream", Partitions::Dates(&funnel_days)),
        ("products", Partitions::All),
        ("customers", Partitions::All),
    ] {
        engine
            .register_prefix(
                store,
                table,
                &format!("silver/{table}/"),
                partitions,
                Some(silver_schema(&contracts, table)?),
            )
            .await?;
    }

    let mut w = Writer {
        store,
        engine,
        build: GoldBuild {
            date: Some(date),
            sale_days: sale_days.iter().copied().collect(),
            funnel_days: funnel_days.iter().copied().collect(),
            ..GoldBuild::default()
        },
    };
    let r = engine.query("dim_product", &dim_product_sql()).await?;
    w.whole("dim_product", r).await?;
    let r = engine.query("dim_customer", &dim_customer_sql()).await?;
    w.whole("dim_customer", r).await?;

    let r = engine.query("fact_sales", fact_sales_sql()).await?;
    w.partitioned("fact_sales", r, &sale_days).await?;
    let days = date_list(&sale_days);
    for (table, sql) in [
        ("agg_daily_sales", agg_daily_sales_sql(&days)),
        ("agg_category_daily", agg_category_daily_sql(&days)),
        ("agg_product_daily", agg_product_daily_sql(&days)),
    ] {
        let r = engine.query(table, &sql).await?;
        w.partitioned(table, r, &sale_days).await?;
    }
    let r = engine.query("funnel_daily", funnel_daily_sql()).await?;
    w.partitioned("funnel_daily", r, &funnel_days).await?;

    let span = engine
        .query(
            "fact_sales span",
            "SELECT MIN(dt) AS first, MAX(dt) AS last FROM fact_sales",
        )
        .await?
        .concat()
        .map_err(|source| GoldError::Split {
            table: "dim_date".into(),
            source,
        })?;
    let day_at = |i: usize| {
        span.column(i)
            .as_primitive_opt::<Date32Type>()
            .filter(|c| c.len() == 1 && c.is_valid(0))
            .map(|c| parse::date_from_days(c.value(0)))
    };
    // Every day the facts span, and the build date: queries join dim_date to any fact.
    let first = day_at(0).unwrap_or(date).min(date);
    let last = day_at(1).unwrap_or(date).max(date);
    let dates = dim_date(first, last).map_err(|source| GoldError::Split {
        table: "dim_date".into(),
        source,
    })?;
    let schema = dates.schema();
    w.whole(
        "dim_date",
        QueryResult {
            schema,
            batches: vec![dates],
        },
    )
    .await?;

    let r = engine
        .query("customer_ltv", &customer_ltv_sql(date))
        .await?;
    w.whole("customer_ltv", r).await?;
    Ok(w.build)
}

#[cfg(test)]
mod tests;
