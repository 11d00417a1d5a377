//! Gold: the star schema and the aggregates, built from silver with SQL on the [`Engine`].
//!
//! Tables (Delta tables under `gold/`; `dt` is the partition column, `dt=YYYY-MM-DD/`):
//!
//! | table | grain | partitioned |
//! |---|---|---|
//! | `dim_product` | one row per product version (SCD type 2: price, name, category, brand) | no |
//! | `dim_customer` | one row per customer version (SCD type 2: country, city); PII masked | no |
//! | `dim_date` | one row per calendar day the facts span | no |
//! | `fact_sales` | one row per sale line at the transactions contract's `primary_key` (composite keys included), with the dimension versions valid at the sale time | by sale date |
//! | `agg_daily_sales` | one row per day | by day |
//! | `agg_category_daily` | one row per day and category | by day |
//! | `agg_product_daily` | one row per day and product | by day |
//! | `funnel_daily` | one row per day: sessions reaching each funnel step | by day |
//! | `customer_ltv` | one row per customer: lifetime value and RFM segment, as of the build date | no |
//!
//! A build for date `D` rebuilds the partitions of `D` and the `lookback_days` before it (so
//! late-arriving rows are picked up by the next run), plus any day silver has and gold does
//! not yet have (a first run, a backfill): one commit per table replaces exactly those days, so
//! a reader sees the old days or the new ones, never half a day. Dimensions, `dim_date` and
//! `customer_ltv` are rewritten whole, one commit each. Every query orders its output, so
//! rebuilding a date writes the same rows.
//!
//! Every meaning comes from the contracts in force ([`ContractSet`], built-in or the user's):
//! de-duplication and the fact grain use each dataset's `primary_key`; joins use the
//! transactions contract's `references` rules; order counts ("transactions") and the average
//! order value count distinct `order_key` values; the `[status]` declaration says which lines
//! are cancelled, refunded or returned; `pii` columns reach gold only through their `mask`.
//!
//! What counts as a sale: the latest ingestion of each key (latest `_ingested_at`, then source
//! key, then row number), unless its status is one the contract declares cancelled, refunded or
//! returned (ignoring case). Revenue is `amount`, else `quantity × unit_price`, else
//! `quantity ×` the price of the product version valid at the sale time; it is null (and the
//! sale counted in `transactions_without_revenue`) when none is known. A sale before a
//! product's or customer's first known version joins that first version.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema};
use chrono::{Datelike, Duration, NaiveDate};

use crate::contract::{
    Classification, ColumnType, Contract, ContractError, ContractSet, mask_stray_email,
};
use crate::ports::{StoreError, TableError};
use crate::sql::{Engine, EngineError, QueryResult, mask_function};
use crate::tables::{self, DeltaLake};
use crate::validate::parse;

/// Errors while building gold.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SQL engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A gold table could not be written.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Splitting a result by day failed.
    #[error("gold table {table} cannot be split by day")]
    Split {
        /// The gold table whose query result it was (`dim_date` for the date dimension).
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
    /// The date [`build`] was called for: its partitions and the `lookback_days` before it
    /// were rebuilt (`None` only in a default value).
    pub date: Option<NaiveDate>,
    /// Sale days whose partitions were rebuilt.
    pub sale_days: Vec<NaiveDate>,
    /// Clickstream days whose funnel partitions were rebuilt.
    pub funnel_days: Vec<NaiveDate>,
    /// The version each gold table is at after its commit.
    pub versions: BTreeMap<String, u64>,
    /// The version of each silver table the build read (`silver/{dataset}` → version).
    pub silver_versions: BTreeMap<String, u64>,
    /// Rows written per table.
    pub rows: BTreeMap<String, usize>,
    /// Tables left as their last build wrote them: the silver version they are made from and
    /// their SQL have not changed since ([`GoldStatement::reads_only`]).
    pub kept: Vec<String>,
}

/// One gold table: its name, whether it is partitioned by day (`gold/{name}/dt=D/…`, else
/// rewritten whole), and what one row is. The catalog and the docs read
/// this list; the build writes exactly these tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoldTable {
    /// Table name (the prefix under `gold/`, the SQL name).
    pub name: &'static str,
    /// Partitioned by day (`dt`).
    pub partitioned: bool,
    /// What one row is.
    pub description: &'static str,
}

/// Every gold table, in build order.
pub const TABLES: [GoldTable; 9] = [
    GoldTable {
        name: "dim_product",
        partitioned: false,
        description: "Product dimension, SCD type 2 on price, name, category, brand.",
    },
    GoldTable {
        name: "dim_customer",
        partitioned: false,
        description: "Customer dimension, SCD type 2 on country, city; pii columns only as their contract masks them.",
    },
    GoldTable {
        name: "fact_sales",
        partitioned: true,
        description: "One row per sale line at the transactions contract's primary key, joined to the dimension versions valid at sold_at; dt = UTC day of the sale.",
    },
    GoldTable {
        name: "agg_daily_sales",
        partitioned: true,
        description: "One row per day with sales; transactions = distinct orders (order_key).",
    },
    GoldTable {
        name: "agg_category_daily",
        partitioned: true,
        description: "One row per day and product category.",
    },
    GoldTable {
        name: "agg_product_daily",
        partitioned: true,
        description: "One row per day and product_id.",
    },
    GoldTable {
        name: "funnel_daily",
        partitioned: true,
        description: "Clickstream funnel: one row per day with events.",
    },
    GoldTable {
        name: "customer_ltv",
        partitioned: false,
        description: "Customer lifetime value and RFM segment as of the last build date.",
    },
    GoldTable {
        name: "dim_date",
        partitioned: false,
        description: "Calendar dimension over the build's date range.",
    },
];

/// The latest day silver has sales for.
pub async fn latest_sale_day(lake: &DeltaLake) -> Result<Option<NaiveDate>, TableError> {
    Ok(lake
        .partition_days(&tables::silver_table("transactions"))
        .await?
        .pop_last())
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

/// A SQL identifier, quoted (contract column names are checked words, but quoting keeps a
/// name like `order` or `date` from meaning SQL).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `a.x, a.y` for a list of columns.
fn column_list(alias: &str, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row key rendered as text (`CAST(k AS VARCHAR)`, or the parts joined by `|`).
fn key_text(alias: &str, columns: &[String]) -> String {
    match columns {
        [one] => format!("CAST({alias}{} AS VARCHAR)", ident(one)),
        many => format!(
            "concat_ws('|', {})",
            many.iter()
                .map(|c| format!("CAST({alias}{} AS VARCHAR)", ident(c)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What gold reads from one dataset's contract: which columns it may carry as they are
/// (public ones), which it must mask, and the keys.
struct Source<'a> {
    contract: &'a Contract,
}

impl<'a> Source<'a> {
    fn new(contracts: &'a ContractSet, dataset: &str) -> Result<Self, ContractError> {
        let contract = contracts.get(dataset)?;
        if contract.primary_key.is_empty() {
            return Err(ContractError::Invalid {
                dataset: dataset.into(),
                problem: "gold needs a `primary_key` (de-duplication and the table grain)".into(),
            });
        }
        Ok(Self { contract })
    }

    /// Whether `column` may reach gold in clear: declared and `public`.
    fn public(&self, column: &str) -> bool {
        self.contract
            .column(column)
            .is_some_and(|c| c.classification == Classification::Public)
    }

    /// The columns of `wanted` that may reach gold in clear.
    fn public_of(&self, wanted: &[&str]) -> Vec<String> {
        wanted
            .iter()
            .filter(|c| self.public(c))
            .map(|c| (*c).to_string())
            .collect()
    }

    /// `expr AS out` for every `pii` column with a masking method, in contract order: the
    /// only way personal data reaches gold. Omitted columns are simply absent.
    fn masked(&self, alias: &str) -> Vec<(String, String)> {
        self.contract
            .kept_columns()
            .filter_map(|c| {
                let mask = c.pii_mask()?;
                let out = mask.gold_column(&c.name)?;
                let function = mask_function(mask)?;
                Some((format!("{function}({alias}{})", ident(&c.name)), out))
            })
            .collect()
    }

    /// The public column `name` as `{alias}name`, or a typed null when the contract does not
    /// declare it (or classifies it as personal): gold's schema stays the same either way.
    fn or_null(&self, alias: &str, name: &str, sql_type: &str) -> String {
        if self.public(name) {
            format!("{alias}{}", ident(name))
        } else {
            format!("CAST(NULL AS {sql_type})")
        }
    }

    /// When a snapshot row took effect: its `updated_at` when the contract declares that
    /// timestamp, else when it was ingested.
    fn effective_at(&self) -> String {
        match self.contract.column("updated_at") {
            Some(c) if c.column_type == ColumnType::Timestamp && self.public("updated_at") => {
                "COALESCE(updated_at, _ingested_at)".into()
            }
            _ => "_ingested_at".into(),
        }
    }

    fn key(&self) -> &[String] {
        &self.contract.primary_key
    }

    /// A query of the dataset's current rows: one per `primary_key`, the latest ingestion.
    ///
    /// Silver already holds one row per key unless the contract keeps versions: every silver
    /// write merges on the key (or appends keys the table lacks, conflicting with a racing
    /// writer of the same keys), so the table itself is the answer and no window runs. A
    /// `ROW_NUMBER()` over a million single-row key partitions was most of gold's time
    /// (issue 13: DataFusion keeps state per partition; 6.3 s of a 12.7 s report). A contract
    /// that keeps versions is ranked: the latest ingestion of each key, then the later source
    /// key and row.
    fn current_rows(&self) -> String {
        let source = ident(&self.contract.dataset);
        if !self.contract.keep_versions {
            return format!("SELECT * FROM {source}");
        }
        format!(
            "SELECT * EXCLUDE (rn) FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY {keys}
                                 ORDER BY _ingested_at DESC, _source_key DESC, _row_number DESC) AS rn
    FROM {source}
  ) ranked WHERE rn = 1",
            keys = column_list("", self.key()),
        )
    }
}

/// SCD type 2 from snapshots: one version per change of the tracked attributes, ordered by
/// each snapshot row's effective time, keyed on the dataset's primary key. Personal columns
/// are masked before versioning (a masked value that did not change is not a new version).
fn dim_sql(source: &Source<'_>, sk: &str, tracked: &[&str], carried: &[&str]) -> String {
    let key = source.key();
    let keys = column_list("", key);
    let tracked = source.public_of(tracked);
    let mut carried = source.public_of(carried);
    let masked = source.masked("");
    let mut projection: Vec<String> = tracked.iter().chain(&carried).map(|c| ident(c)).collect();
    for (expr, out) in &masked {
        projection.push(format!("{expr} AS {}", ident(out)));
        carried.push(out.clone());
    }
    let cols: Vec<String> = tracked.iter().chain(&carried).map(|c| ident(c)).collect();
    let cols_sql = if cols.is_empty() {
        String::new()
    } else {
        format!(", {}", cols.join(", "))
    };
    let projection_sql = if projection.is_empty() {
        String::new()
    } else {
        format!(", {}", projection.join(", "))
    };
    let lags = tracked
        .iter()
        .map(|c| {
            format!(
                ", LAG({c}) OVER (PARTITION BY {keys} ORDER BY effective_at) AS {prev}",
                c = ident(c),
                prev = ident(&format!("prev_{c}"))
            )
        })
        .collect::<String>();
    let changed = if tracked.is_empty() {
        "FALSE".to_string()
    } else {
        tracked
            .iter()
            .map(|c| {
                format!(
                    "({} IS DISTINCT FROM {})",
                    ident(c),
                    ident(&format!("prev_{c}"))
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let sk_expr = format!(
        "concat_ws(':', {}, CAST(version AS VARCHAR))",
        key.iter()
            .map(|c| format!("CAST({} AS VARCHAR)", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let source_table = ident(&source.contract.dataset);
    let effective = source.effective_at();
    format!(
        "WITH src AS (
  SELECT {keys}{projection_sql}, {effective} AS effective_at, _ingested_at, _source_key, _row_number
  FROM {source_table}
), snap AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY {keys}, effective_at
                               ORDER BY _ingested_at DESC, _source_key DESC, _row_number DESC) AS rn
  FROM src
), ordered AS (
  SELECT *{lags},
       ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY effective_at) AS seq
  FROM snap WHERE rn = 1
), versions AS (
  SELECT * FROM ordered WHERE seq = 1 OR {changed}
), numbered AS (
  SELECT *,
         ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY effective_at) AS version,
         LEAD(effective_at) OVER (PARTITION BY {keys} ORDER BY effective_at) AS valid_to
  FROM versions
)
SELECT {sk_expr} AS {sk}, {keys}, CAST(version AS INT) AS version{cols_sql},
       effective_at AS valid_from, valid_to, valid_to IS NULL AS is_current
FROM numbered
ORDER BY {keys}, version",
        sk = ident(sk),
    )
}

fn dim_product_sql(products: &Source<'_>) -> String {
    dim_sql(
        products,
        "product_sk",
        &["price", "name", "category", "brand"],
        &["sku", "stock"],
    )
}

/// Customers: `pii` columns reach gold only through their contract `mask` (the built-in
/// contract masks `email` to `email_masked` and names to initials, and omits phone and birth
/// date); a `pii` column a user adds is handled the same way, with no code change.
fn dim_customer_sql(customers: &Source<'_>) -> String {
    dim_sql(
        customers,
        "customer_sk",
        &["country", "city"],
        &["signup_date"],
    )
}

/// A dimension join: the fact's foreign key (from the contract's `references` rule) to the
/// dimension version valid at the sale time. A sale before the first known version joins that
/// first version.
struct DimJoin {
    fk: Option<String>,
    target: String,
}

impl DimJoin {
    fn new(facts: &Source<'_>, dim: &Source<'_>) -> Self {
        let dataset = &dim.contract.dataset;
        let fk = facts
            .contract
            .reference_to(dataset)
            .filter(|(_, target)| dim.key() == [target.to_string()])
            .map(|(fk, _)| fk.to_string());
        Self {
            fk,
            target: dim.key()[0].clone(),
        }
    }

    fn on(&self, alias: &str, at: &str) -> String {
        match &self.fk {
            Some(fk) => format!(
                "{alias}.{target} = l.{fk}
 AND ({alias}.version = 1 OR {at} >= {alias}.valid_from)
 AND ({alias}.valid_to IS NULL OR {at} < {alias}.valid_to)",
                target = ident(&self.target),
                fk = ident(fk),
            ),
            None => "FALSE".into(),
        }
    }

    fn fk_or_null(&self) -> String {
        match &self.fk {
            Some(fk) => format!("CAST(l.{} AS VARCHAR)", ident(fk)),
            None => "CAST(NULL AS VARCHAR)".into(),
        }
    }
}

/// The name of the fact column that identifies the order a line belongs to.
pub const ORDER_KEY_COLUMN: &str = "order_key";

/// One row per sale line at the contract's grain (its `primary_key`, composite keys
/// included): the latest ingestion of each key, unless the contract's `[status]` says the line
/// was cancelled, refunded or returned. The fact carries the key columns, `order_key` (the
/// contract's `order_key` as text: what order counts count) and masked `pii` columns.
fn fact_sales_sql(
    tx: &Source<'_>,
    products: &Source<'_>,
    customers: &Source<'_>,
) -> Result<String, ContractError> {
    let contract = tx.contract;
    let event_time = contract
        .event_time
        .as_deref()
        .filter(|e| {
            contract
                .column(e)
                .is_some_and(|c| c.column_type == ColumnType::Timestamp)
        })
        .ok_or_else(|| ContractError::Invalid {
            dataset: contract.dataset.clone(),
            problem: "gold's fact_sales needs `event_time` naming a timestamp column".into(),
        })?;
    if contract.primary_key.iter().any(|k| k == ORDER_KEY_COLUMN) {
        return Err(ContractError::Invalid {
            dataset: contract.dataset.clone(),
            problem: format!("a key column cannot be named {ORDER_KEY_COLUMN:?}, gold derives it"),
        });
    }
    let current = tx.current_rows();
    let key_out = column_list("l.", tx.key());
    let order_key = key_text("l.", contract.order_columns());
    let status_col = contract.status.as_ref().map(|s| s.column.as_str());
    let excluded = match &contract.status {
        Some(s) if !s.excluded().is_empty() => format!(
            " AND ({col} IS NULL OR lower(trim({col})) NOT IN ({values}))",
            col = ident(&s.column),
            values = s
                .excluded()
                .iter()
                .map(|v| literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    };
    let status = match status_col {
        Some(c) if tx.public(c) => format!("l.{}", ident(c)),
        _ => tx.or_null("l.", "status", "VARCHAR"),
    };
    let at = format!("l.{}", ident(event_time));
    let product = DimJoin::new(tx, products);
    let customer = DimJoin::new(tx, customers);
    let quantity = tx.or_null("l.", "quantity", "BIGINT");
    let unit_price = tx.or_null("l.", "unit_price", "DECIMAL(18, 2)");
    let amount = tx.or_null("l.", "amount", "DECIMAL(18, 2)");
    let masked: String = tx
        .masked("l.")
        .iter()
        .map(|(expr, out)| format!("       {expr} AS {},\n", ident(out)))
        .collect();
    Ok(format!(
        "WITH latest AS (
  SELECT * FROM ({current}) t
  WHERE TRUE{excluded}
)
SELECT {key_out},
       {order_key} AS {order_key_column},
       {at} AS sold_at,
       {customer_fk} AS customer_id,
       c.customer_sk,
       {product_fk} AS product_id,
       p.product_sk,
       {quantity} AS quantity,
       COALESCE({unit_price}, p.price) AS unit_price,
       {amount} AS amount,
       CAST(COALESCE({amount},
                     CAST({quantity} AS DECIMAL(18, 2)) * {unit_price},
                     CAST({quantity} AS DECIMAL(18, 2)) * p.price) AS DECIMAL(18, 2)) AS revenue,
       CASE WHEN {amount} IS NOT NULL THEN 'amount'
            WHEN {unit_price} IS NOT NULL THEN 'unit_price'
            WHEN p.price IS NOT NULL THEN 'catalog' END AS revenue_source,
       {currency} AS currency,
       {payment} AS payment_method,
       {status} AS status,
{masked}       CAST((CAST(date_part('dow', {at}) AS INT) + 6) % 7 + 1 AS INT) AS weekday,
       CAST(date_part('hour', {at}) AS INT) AS hour,
       l._source_key AS source_key,
       l._run_id AS run_id,
       l.dt
FROM latest l
LEFT JOIN dim_product p
  ON {product_on}
LEFT JOIN dim_customer c
  ON {customer_on}
ORDER BY l.dt, {at}, {key_out}",
        order_key_column = ORDER_KEY_COLUMN,
        customer_fk = customer.fk_or_null(),
        product_fk = product.fk_or_null(),
        currency = tx.or_null("l.", "currency", "VARCHAR"),
        payment = tx.or_null("l.", "payment_method", "VARCHAR"),
        product_on = product.on("p", &at),
        customer_on = customer.on("c", &at),
    ))
}

/// Order counts: distinct `order_key` values (an order of three lines is one transaction), and
/// distinct orders with a known revenue (the average order value's denominator).
const ORDER_COUNTS: &str = "COUNT(DISTINCT order_key) AS transactions,
       COUNT(DISTINCT CASE WHEN revenue IS NOT NULL THEN order_key END) AS priced_transactions,
       COUNT(*) AS sale_lines";

fn agg_daily_sales_sql(days: &str) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2)) AS revenue,
       {ORDER_COUNTS},
       SUM(quantity) AS units,
       COUNT(DISTINCT customer_id) AS unique_customers,
       CAST(SUM(revenue) / NULLIF(COUNT(DISTINCT CASE WHEN revenue IS NOT NULL THEN order_key END), 0) AS DECIMAL(18, 2)) AS average_order_value,
       dt
FROM fact_sales WHERE dt IN ({days})
GROUP BY dt ORDER BY dt"
    )
}

fn agg_category_daily_sql(days: &str) -> String {
    let category = "COALESCE(p.category, 'unknown')";
    daily_product_sales_sql(
        &format!("{category} AS category"),
        category,
        "category",
        days,
    )
}

fn agg_product_daily_sql(days: &str) -> String {
    daily_product_sales_sql(
        "f.product_id,
       MAX(p.name) AS product_name,
       MAX(p.category) AS category",
        "f.product_id",
        "f.product_id",
        days,
    )
}

/// Each of the `days`' sales per group of products: the `keys` columns (SQL select items over
/// `fact_sales f` and its product `dim_product p`), revenue, transactions (distinct orders),
/// units and the day, grouped on `group` within each day, ordered by day and then `order`.
fn daily_product_sales_sql(keys: &str, group: &str, order: &str, days: &str) -> String {
    format!(
        "SELECT {keys},
       CAST(COALESCE(SUM(f.revenue), 0) AS DECIMAL(18, 2)) AS revenue,
       COUNT(DISTINCT f.order_key) AS transactions,
       SUM(f.quantity) AS units,
       f.dt
FROM fact_sales f LEFT JOIN dim_product p ON p.product_sk = f.product_sk
WHERE f.dt IN ({days})
GROUP BY f.dt, {group} ORDER BY f.dt, {order}"
    )
}

/// Sessions reaching each step, in order: a session reaches a step when it reached the step
/// before and has an event of the step (on that day). Events are de-duplicated on the
/// clickstream contract's primary key.
fn funnel_daily_sql(clicks: &Source<'_>) -> String {
    format!(
        "WITH events AS (
  {current}
), sessions AS (
  SELECT dt, session_id,
         MAX(CASE WHEN event_type = 'product_view' THEN 1 ELSE 0 END) AS viewed,
         MAX(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) AS carted,
         MAX(CASE WHEN event_type = 'checkout' THEN 1 ELSE 0 END) AS checked_out,
         MAX(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchased
  FROM events
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
FROM steps ORDER BY dt",
        current = clicks.current_rows(),
    )
}

/// Lifetime value per customer: orders are distinct `order_key` values; the customer's
/// current masked columns (whatever the contract masks) and country come from `dim_customer`.
/// Each customer's orders, revenue and RFM scores as of `date`. Orders are counted in two
/// grouping steps (per customer and order, then per customer) rather than with
/// `COUNT(DISTINCT order_key)`: DataFusion keeps a hash set of its own per group for a distinct
/// count, which took 16 s and about 8 GB for 98,000 customers of 1M sale lines (issue 13); the
/// two steps give the same counts (a null `order_key` is one group whose revenue is summed and
/// which no count includes, as `COUNT(DISTINCT …)` skips nulls).
fn customer_ltv_sql(date: NaiveDate, customers: &Source<'_>) -> String {
    let carried: String = customers
        .masked("")
        .into_iter()
        .map(|(_, out)| format!("d.{}, ", ident(&out)))
        .collect();
    let country = if customers.public("country") {
        "d.country"
    } else {
        "CAST(NULL AS VARCHAR) AS country"
    };
    format!(
        "WITH o AS (
  SELECT customer_id, order_key,
         SUM(revenue) AS revenue,
         COUNT(revenue) AS priced_lines,
         MIN(dt) AS first_day,
         MAX(dt) AS last_day
  FROM fact_sales WHERE dt <= DATE '{date}'
  GROUP BY customer_id, order_key
), c AS (
  SELECT customer_id,
         COUNT(order_key) AS orders,
         COUNT(CASE WHEN priced_lines > 0 THEN order_key END) AS priced_orders,
         CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2)) AS revenue,
         MIN(first_day) AS first_purchase,
         MAX(last_day) AS last_purchase
  FROM o
  GROUP BY customer_id
), scored AS (
  SELECT c.*,
         CAST(NTILE(5) OVER (ORDER BY last_purchase, customer_id) AS INT) AS r_score,
         CAST(NTILE(5) OVER (ORDER BY orders, customer_id) AS INT) AS f_score,
         CAST(NTILE(5) OVER (ORDER BY revenue, customer_id) AS INT) AS m_score
  FROM c
)
SELECT s.customer_id, d.customer_sk, {carried}{country},
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
LEFT JOIN dim_customer d ON d.{key} = s.customer_id AND d.is_current
ORDER BY s.revenue DESC, s.customer_id",
        key = ident(&customers.key()[0]),
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

/// `result` with every email-shaped text value masked ([`mask_stray_email`]): personal data
/// the contract did not classify (a customer id that is an address) never reaches gold, nor
/// the reports built from it. Each column where this happened is logged with its count, so the
/// contract can be fixed.
fn mask_stray_emails(table: &str, result: QueryResult) -> Result<QueryResult, GoldError> {
    let split = |source| GoldError::Split {
        table: table.to_string(),
        source,
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut batches = Vec::with_capacity(result.batches.len());
    for batch in &result.batches {
        let mut columns = batch.columns().to_vec();
        for (i, field) in batch.schema().fields().iter().enumerate() {
            if field.data_type() != &DataType::Utf8 {
                continue;
            }
            let strings = columns[i].as_string::<i32>();
            let hits = strings
                .iter()
                .filter(|v| v.is_some_and(|v| v.contains('@') && mask_stray_email(v).is_some()))
                .count();
            if hits == 0 {
                continue;
            }
            *counts.entry(field.name().clone()).or_default() += hits as u64;
            let masked: StringArray = strings
                .iter()
                .map(|v| v.map(|v| mask_stray_email(v).unwrap_or_else(|| v.to_string())))
                .collect();
            columns[i] = Arc::new(masked);
        }
        batches.push(RecordBatch::try_new(batch.schema(), columns).map_err(split)?);
    }
    for (column, values) in &counts {
        tracing::warn!(
            table,
            column,
            values,
            "email addresses in a column no contract classifies as pii were masked in gold"
        );
    }
    Ok(QueryResult {
        schema: result.schema,
        batches,
    })
}

/// Writes gold tables and keeps the engine's view of them current.
struct Writer<'a> {
    lake: &'a DeltaLake,
    engine: &'a Engine,
    label: String,
    build: GoldBuild,
    /// When the previous table was written (or the build started): a table's time is its
    /// query and its commit.
    since: std::time::Instant,
}

impl Writer<'_> {
    /// Replaces a table (whole, or the rows of `days`) in one commit and registers its new
    /// snapshot in the engine.
    async fn replace(
        &mut self,
        table: &str,
        result: QueryResult,
        days: Option<&BTreeSet<NaiveDate>>,
        inputs: Option<&str>,
    ) -> Result<(), GoldError> {
        let rows = result.rows();
        let result = mask_stray_emails(table, result)?;
        let commit = self
            .lake
            .replace_gold(
                table,
                result.schema,
                result.batches,
                days,
                &self.label,
                inputs,
            )
            .await?;
        if let Some(v) = commit.version {
            self.build.versions.insert(table.into(), v);
        }
        self.build.rows.insert(table.into(), rows);
        tracing::debug!(
            table,
            rows,
            ms = self.since.elapsed().as_millis() as u64,
            "gold table built"
        );
        self.since = std::time::Instant::now();
        self.register(table).await?;
        Ok(())
    }

    /// Registers gold table `table`'s current snapshot in the engine, for the statements after
    /// it; returns the version registered.
    async fn register(&self, table: &str) -> Result<Option<u64>, GoldError> {
        Ok(self
            .engine
            .register_lake_table(
                self.lake,
                table,
                &tables::gold_table(table),
                None,
                None,
                None,
            )
            .await?)
    }

    /// Leaves a table as its last build wrote it (its inputs have not changed) and registers
    /// it in the engine for the statements after it.
    async fn kept(&mut self, table: &str) -> Result<(), GoldError> {
        if let Some(v) = self.register(table).await? {
            self.build.versions.insert(table.into(), v);
        }
        self.build.kept.push(table.to_string());
        tracing::debug!(
            table,
            ms = self.since.elapsed().as_millis() as u64,
            "gold table kept: its inputs are those of its last build"
        );
        self.since = std::time::Instant::now();
        Ok(())
    }
}

/// One SQL statement of a gold build: the table it writes and the `dt` days it replaces
/// (`None`: the table is rewritten whole).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GoldStatement {
    /// The gold table it writes: one of [`TABLES`], the prefix under `gold/`.
    pub table: &'static str,
    /// The query whose rows the table (or its days) becomes. It reads the silver datasets by
    /// name (`transactions`, `products`, …) and the gold tables written before it.
    pub sql: String,
    /// The days replaced in a partitioned table.
    pub days: Option<BTreeSet<NaiveDate>>,
    /// The one silver dataset the statement reads, when it reads no other table: the build
    /// then leaves the table as it is when that dataset's version and the SQL are those of the
    /// table's last build ([`inputs_fingerprint`]).
    pub reads_only: Option<String>,
}

/// What a table built by `sql` from the silver table `source` at `version` was made from:
/// recorded with its commit, and compared before the next build. A new silver version, or SQL
/// that changed (a contract that masks another column, a new release), gives another value.
pub fn inputs_fingerprint(source: &str, version: Option<u64>, sql: &str) -> String {
    let hex = crate::ids::sha256_hex(sql.as_bytes(), 8);
    let version = version.map_or_else(|| "none".to_string(), |v| v.to_string());
    format!("{source}@{version};sql={hex}")
}

/// A silver table a gold build reads: registered under its dataset's name, only the rows of
/// `days` when given, with the contract's schema when the table does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GoldSource {
    /// The SQL name (the dataset).
    pub dataset: String,
    /// The lake table (`silver/{dataset}`).
    pub table: String,
    /// The `dt` days visible (`None`: every row).
    pub days: Option<BTreeSet<NaiveDate>>,
    /// The table's columns and their SQL types (as the Glue catalog types them): what an empty
    /// table has when silver has no rows of the dataset yet.
    pub columns: Vec<[String; 2]>,
}

/// What a build for a date will do: the days it rebuilds and its SQL statements in order.
/// [`build`] runs exactly these; `shopflow report --print-sql` prints them, so another engine
/// can run the same SQL on the same tables (the benchmark's DuckDB peer). `dim_date` is made
/// in code after the statements, over the days the facts span.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GoldPlan {
    /// The date the plan is for: its partitions and the `lookback_days` before it are
    /// rebuilt.
    pub date: NaiveDate,
    /// Sale days whose partitions are rebuilt: the date and its look-back, and every day
    /// silver has that gold does not.
    pub sale_days: BTreeSet<NaiveDate>,
    /// Clickstream days whose funnel partitions are rebuilt (the same rule).
    pub funnel_days: BTreeSet<NaiveDate>,
    /// The silver tables the statements read.
    pub sources: Vec<GoldSource>,
    /// The statements, in the order they run.
    pub statements: Vec<GoldStatement>,
}

/// The plan of a build for `date` on the lake as it is now (see the module docs for what is
/// rebuilt).
pub async fn plan(
    lake: &DeltaLake,
    contracts: &ContractSet,
    date: NaiveDate,
    options: GoldOptions,
) -> Result<GoldPlan, GoldError> {
    let tx = Source::new(contracts, "transactions")?;
    let products = Source::new(contracts, "products")?;
    let customers = Source::new(contracts, "customers")?;
    let clicks = Source::new(contracts, "clickstream")?;
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
    let days_of = |table: String| async move { lake.partition_days(&table).await };
    let sale_days = missing(
        days_of(tables::silver_table("transactions")).await?,
        days_of(tables::gold_table("fact_sales")).await?,
    );
    let funnel_days = missing(
        days_of(tables::silver_table("clickstream")).await?,
        days_of(tables::gold_table("funnel_daily")).await?,
    );
    let days = date_list(&sale_days);
    let whole = |table, sql| GoldStatement {
        table,
        sql,
        days: None,
        reads_only: None,
    };
    let by_day = |table, sql, days: &BTreeSet<NaiveDate>| GoldStatement {
        table,
        sql,
        days: Some(days.clone()),
        reads_only: None,
    };
    let dimension = |table, sql, source: &Source<'_>| GoldStatement {
        table,
        sql,
        days: None,
        reads_only: Some(source.contract.dataset.clone()),
    };
    let statements = vec![
        dimension("dim_product", dim_product_sql(&products), &products),
        dimension("dim_customer", dim_customer_sql(&customers), &customers),
        by_day(
            "fact_sales",
            fact_sales_sql(&tx, &products, &customers)?,
            &sale_days,
        ),
        by_day("agg_daily_sales", agg_daily_sales_sql(&days), &sale_days),
        by_day(
            "agg_category_daily",
            agg_category_daily_sql(&days),
            &sale_days,
        ),
        by_day(
            "agg_product_daily",
            agg_product_daily_sql(&days),
            &sale_days,
        ),
        by_day("funnel_daily", funnel_daily_sql(&clicks), &funnel_days),
        whole("customer_ltv", customer_ltv_sql(date, &customers)),
    ];
    let mut sources = Vec::new();
    for (dataset, days) in [
        ("transactions", Some(&sale_days)),
        ("clickstream", Some(&funnel_days)),
        ("products", None),
        ("customers", None),
    ] {
        let schema = tables::silver_table_schema(contracts.get(dataset)?);
        sources.push(GoldSource {
            dataset: dataset.to_string(),
            table: tables::silver_table(dataset),
            days: days.cloned(),
            columns: schema
                .fields()
                .iter()
                .map(|f| {
                    let sql_type = crate::catalog::glue_type(f.data_type())
                        .unwrap_or_else(|| f.data_type().to_string());
                    [f.name().clone(), sql_type]
                })
                .collect(),
        });
    }
    Ok(GoldPlan {
        date,
        sale_days,
        funnel_days,
        sources,
        statements,
    })
}

/// Builds gold for `date` (see the module docs for what is rebuilt) and leaves every silver and
/// gold table the build read or wrote registered in `engine`, for the report.
pub async fn build(
    lake: &DeltaLake,
    engine: &Engine,
    contracts: &ContractSet,
    date: NaiveDate,
    options: GoldOptions,
) -> Result<GoldBuild, GoldError> {
    let plan = plan(lake, contracts, date, options).await?;
    let mut silver_versions = BTreeMap::new();
    for source in &plan.sources {
        let v = engine
            .register_lake_table(
                lake,
                &source.dataset,
                &source.table,
                None,
                source.days.as_ref(),
                Some(tables::silver_table_schema(contracts.get(&source.dataset)?)),
            )
            .await?;
        if let Some(v) = v {
            silver_versions.insert(source.table.clone(), v);
        }
    }

    let mut w = Writer {
        lake,
        engine,
        label: format!("gold build {date}"),
        build: GoldBuild {
            date: Some(date),
            sale_days: plan.sale_days.iter().copied().collect(),
            funnel_days: plan.funnel_days.iter().copied().collect(),
            silver_versions,
            ..GoldBuild::default()
        },
        since: std::time::Instant::now(),
    };
    for statement in &plan.statements {
        let inputs = statement.reads_only.as_ref().map(|dataset| {
            let source = tables::silver_table(dataset);
            let version = w.build.silver_versions.get(&source).copied();
            inputs_fingerprint(&source, version, &statement.sql)
        });
        if let Some(inputs) = &inputs
            && lake.gold_inputs(statement.table).await?.as_deref() == Some(inputs.as_str())
        {
            w.kept(statement.table).await?;
            continue;
        }
        let r = engine.query(statement.table, &statement.sql).await?;
        w.replace(
            statement.table,
            r,
            statement.days.as_ref(),
            inputs.as_deref(),
        )
        .await?;
    }

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
    w.replace(
        "dim_date",
        QueryResult {
            schema,
            batches: vec![dates],
        },
        None,
        None,
    )
    .await?;
    Ok(w.build)
}

#[cfg(test)]
mod tests;
