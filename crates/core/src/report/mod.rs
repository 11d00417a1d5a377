//! The daily report: the day's KPIs, top products, sales by category and data quality,
//! computed from gold's sale lines and the day's manifests, written as
//! `reports/daily/date=D/report.json`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::gold::{self, GoldError, SaleLine, aov, money};
use crate::ingest::Manifest;
use crate::layer::keys;
use crate::ports::ObjectStore;

/// Errors while building the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Gold failed.
    #[error(transparent)]
    Gold(#[from] GoldError),
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
    /// There are no sales at all to report on.
    #[error("no sales in silver: ingest transactions first")]
    NoSales,
    /// A manifest or the report could not be encoded or decoded.
    #[error("JSON of {key} cannot be encoded or decoded")]
    Json {
        /// The object.
        key: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

/// The headline figures of a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// Revenue (currency units, exact to the cent).
    pub revenue: f64,
    /// Sale lines.
    pub transactions: u64,
    /// Revenue per transaction whose revenue is known.
    pub average_order_value: f64,
    /// Transactions with no amount, no unit price and no catalog price (not in revenue or AOV).
    pub transactions_without_revenue: u64,
    /// Distinct buyers.
    pub unique_customers: u64,
    /// Units sold.
    pub units: i64,
}

/// A product's sales on the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSales {
    /// Product id.
    pub product_id: String,
    /// Name, from the catalog.
    pub name: Option<String>,
    /// Category, from the catalog.
    pub category: Option<String>,
    /// Units sold.
    pub units: i64,
    /// Revenue.
    pub revenue: f64,
}

/// A category's sales on the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySales {
    /// Category (`unknown` when the product is not in the catalog).
    pub category: String,
    /// Revenue.
    pub revenue: f64,
    /// Sale lines.
    pub transactions: u64,
    /// Units.
    pub units: i64,
    /// Share of the day's revenue, percent.
    pub revenue_share_pct: f64,
}

/// Data quality of one ingest day, from the manifests of the objects ingested that day: the
/// report date when anything was ingested on it, else the latest ingest day (a backfill or a
/// demo reports on past sales ingested today).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// The ingest day described.
    pub ingest_date: Option<NaiveDate>,
    /// Landing objects processed.
    pub files_processed: u64,
    /// Files quarantined whole.
    pub files_quarantined: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows accepted into silver.
    pub rows_accepted: u64,
    /// Rows quarantined.
    pub rows_rejected: u64,
    /// Exact duplicates removed.
    pub duplicates_removed: u64,
    /// Rejected share of rows read, percent.
    pub rejected_pct: f64,
    /// Rejected rows by rule.
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// Rows kept with warnings, by rule.
    pub warnings_by_rule: BTreeMap<String, u64>,
}

/// The daily report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyReport {
    /// The day reported on.
    pub date: NaiveDate,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// Headline figures.
    pub kpis: Kpis,
    /// Top 10 products by revenue.
    pub top_products: Vec<ProductSales>,
    /// Revenue by category, largest first.
    pub sales_by_category: Vec<CategorySales>,
    /// Data quality of the day's ingestion.
    pub data_quality: DataQuality,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Computes the report for `date` from sale lines and manifests.
pub fn compute_report(date: NaiveDate, lines: &[SaleLine], manifests: &[Manifest]) -> DailyReport {
    let day: Vec<&SaleLine> = lines.iter().filter(|l| l.at.date_naive() == date).collect();
    let revenue: i128 = day.iter().filter_map(|l| l.revenue_cents).sum();
    let priced = day.iter().filter(|l| l.revenue_cents.is_some()).count() as u64;
    let customers: HashSet<&str> = day.iter().map(|l| l.customer_id.as_str()).collect();
    let units: i64 = day.iter().map(|l| l.quantity).sum();
    let kpis = Kpis {
        revenue: money(revenue),
        transactions: day.len() as u64,
        average_order_value: aov(revenue, priced),
        transactions_without_revenue: day.len() as u64 - priced,
        unique_customers: customers.len() as u64,
        units,
    };
    let mut products: HashMap<&str, (i64, i128, &SaleLine)> = HashMap::new();
    for l in &day {
        let e = products.entry(&l.product_id).or_insert((0, 0, l));
        e.0 += l.quantity;
        e.1 += l.revenue_cents.unwrap_or(0);
    }
    let mut top: Vec<_> = products.into_iter().collect();
    top.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(b.1.0.cmp(&a.1.0)).then(a.0.cmp(b.0)));
    let top_products = top
        .into_iter()
        .take(10)
        .map(|(id, (u, r, l))| ProductSales {
            product_id: id.to_string(),
            name: l.product_name.clone(),
            category: l.category.clone(),
            units: u,
            revenue: money(r),
        })
        .collect();
    let mut cats: BTreeMap<String, (i128, u64, i64)> = BTreeMap::new();
    for l in &day {
        let e = cats
            .entry(l.category.clone().unwrap_or_else(|| "unknown".into()))
            .or_default();
        e.0 += l.revenue_cents.unwrap_or(0);
        e.1 += 1;
        e.2 += l.quantity;
    }
    let mut sales_by_category: Vec<CategorySales> = cats
        .into_iter()
        .map(|(category, (r, t, u))| CategorySales {
            category,
            revenue: money(r),
            transactions: t,
            units: u,
            revenue_share_pct: if revenue == 0 {
                0.0
            } else {
                round2(r as f64 * 100.0 / revenue as f64)
            },
        })
        .collect();
    sales_by_category.sort_by(|a, b| {
        b.revenue
            .total_cmp(&a.revenue)
            .then(a.category.cmp(&b.category))
    });
    let quality_day = if manifests.iter().any(|m| m.ingest_date == date) {
        Some(date)
    } else {
        manifests.iter().map(|m| m.ingest_date).max()
    };
    let mut dq = DataQuality {
        ingest_date: quality_day,
        ..DataQuality::default()
    };
    for m in manifests
        .iter()
        .filter(|m| Some(m.ingest_date) == quality_day)
    {
        dq.files_processed += 1;
        dq.files_quarantined += m.files_quarantined;
        dq.rows_in += m.rows_in;
        dq.rows_accepted += m.rows_silver;
        dq.rows_rejected += m.rows_quarantined;
        dq.duplicates_removed += m.duplicates_removed;
        for (r, n) in &m.rejected_by_rule {
            *dq.rejected_by_rule.entry(r.clone()).or_default() += n;
        }
        for (r, n) in &m.warnings_by_rule {
            *dq.warnings_by_rule.entry(r.clone()).or_default() += n;
        }
    }
    dq.rejected_pct = if dq.rows_in == 0 {
        0.0
    } else {
        round2(dq.rows_rejected as f64 * 100.0 / dq.rows_in as f64)
    };
    DailyReport {
        date,
        generated_at: Utc::now(),
        kpis,
        top_products,
        sales_by_category,
        data_quality: dq,
    }
}

/// Every manifest in the lake.
pub async fn load_manifests(store: &dyn ObjectStore) -> Result<Vec<Manifest>, ReportError> {
    let mut out = Vec::new();
    for o in store.list("manifests/").await? {
        if !o.key.ends_with(".json") {
            continue;
        }
        let bytes = store.get(&o.key).await?;
        out.push(
            serde_json::from_slice(&bytes).map_err(|source| ReportError::Json {
                key: o.key.clone(),
                source,
            })?,
        );
    }
    Ok(out)
}

/// What a report build wrote.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// The report.
    pub report: DailyReport,
    /// Its key.
    pub report_key: String,
    /// Gold keys written.
    pub gold_keys: Vec<String>,
}

/// Builds gold (daily sales) and the report for `date` (default: the latest day with sales).
pub async fn build_daily(
    store: &dyn ObjectStore,
    date: Option<NaiveDate>,
) -> Result<ReportOutput, ReportError> {
    let lines = gold::load_sale_lines(store).await?;
    let days = gold::daily_sales(&lines);
    let date = match date {
        Some(d) => d,
        None => days.last().map(|d| d.date).ok_or(ReportError::NoSales)?,
    };
    let gold_keys = gold::write_daily_sales(store, &days).await?;
    let manifests = load_manifests(store).await?;
    let report = compute_report(date, &lines, &manifests);
    let report_key = keys::report(date, "report.json");
    let body = serde_json::to_vec_pretty(&report).map_err(|source| ReportError::Json {
        key: report_key.clone(),
        source,
    })?;
    store.put(&report_key, body).await?;
    Ok(ReportOutput {
        report,
        report_key,
        gold_keys,
    })
}
