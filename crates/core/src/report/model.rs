//! The daily report's data: every figure the JSON, CSV and HTML renderings show.
//!
//! Money is in currency units rounded to the cent (the gold tables hold exact decimals; the
//! report rounds once, at the end). Percentages are percent (12.5 = 12.5 %), rounded to two
//! decimals. Weekdays are ISO (1 = Monday … 7 = Sunday); hours are 0–23 UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The headline figures of a period: one value per [KPI](super::kpi::KPIS), by name. Written
/// as a JSON object whose counts are integers and whose money is in currency units.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Kpis(pub BTreeMap<String, f64>);

impl Kpis {
    /// The value of the KPI named `name` (0 when the period has none).
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }
}

impl Serialize for Kpis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            match super::kpi::spec(name).map(|k| k.unit) {
                Some(super::kpi::Unit::Count) => map.serialize_entry(name, &(*value as i64))?,
                _ => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

/// Change of each compared KPI against the previous period, percent, by name; `None` when the
/// previous period's figure is zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KpiChanges(pub BTreeMap<String, Option<f64>>);

impl KpiChanges {
    /// The change of the KPI named `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied().flatten()
    }
}

/// A period's figures beside the previous period of the same length.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeriodKpis {
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period (the report date).
    pub end: NaiveDate,
    /// The period's figures.
    pub current: Kpis,
    /// First day of the comparison period.
    pub previous_start: NaiveDate,
    /// Last day of the comparison period.
    pub previous_end: NaiveDate,
    /// The comparison period's figures.
    pub previous: Kpis,
    /// Change against the comparison period.
    pub change_pct: KpiChanges,
}

/// The KPI cards: the day (against the day before), week to date (Monday to the date, against
/// the same weekdays of the week before) and month to date (against the same days of the
/// previous month).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Periods {
    /// The report day.
    pub day: PeriodKpis,
    /// Week to date.
    pub week_to_date: PeriodKpis,
    /// Month to date.
    pub month_to_date: PeriodKpis,
}

/// One day of the revenue trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// The day.
    pub date: NaiveDate,
    /// Revenue (0 on a day without sales).
    pub revenue: f64,
    /// Transactions.
    pub transactions: u64,
}

/// A product's sales.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductSales {
    /// Product id.
    pub product_id: String,
    /// Name, from the product dimension.
    pub name: Option<String>,
    /// Category, from the product dimension.
    pub category: Option<String>,
    /// Units sold.
    pub units: i64,
    /// Revenue.
    pub revenue: f64,
}

/// A category's sales on the day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// The best-selling product of a category over the trailing 30 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoryBestSeller {
    /// Category.
    pub category: String,
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: Option<String>,
    /// Units sold in the 30 days.
    pub units: i64,
    /// Revenue in the 30 days.
    pub revenue: f64,
}

/// A calendar month's revenue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthRevenue {
    /// `YYYY-MM`.
    pub month: String,
    /// Revenue.
    pub revenue: f64,
    /// Transactions.
    pub transactions: u64,
}

/// Average order value of a country's customers over the trailing 30 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountryAov {
    /// Country (`unknown` when the customer is not known).
    pub country: String,
    /// Transactions with a known revenue.
    pub transactions: u64,
    /// Revenue.
    pub revenue: f64,
    /// Average order value.
    pub average_order_value: f64,
}

/// One cell of the weekday × hour heatmap (trailing 30 days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeatCell {
    /// ISO weekday, 1 = Monday.
    pub weekday: u32,
    /// Hour of the day, UTC.
    pub hour: u32,
    /// Transactions.
    pub transactions: u64,
    /// Revenue.
    pub revenue: f64,
}

/// One step of the clickstream funnel: sessions that reached it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// `sessions`, `product_view`, `add_to_cart`, `checkout` or `purchase`.
    pub step: String,
    /// Sessions that reached the step.
    pub sessions: u64,
    /// Share of all sessions, percent.
    pub pct_of_sessions: f64,
    /// Share of the previous step's sessions, percent (100 for the first step).
    pub pct_of_previous: f64,
}

/// A customer's lifetime figures (emails masked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerSpend {
    /// Customer id.
    pub customer_id: String,
    /// Masked email (`e***@example.com`).
    pub email_masked: Option<String>,
    /// Current country.
    pub country: Option<String>,
    /// Transactions.
    pub orders: u64,
    /// Lifetime revenue.
    pub revenue: f64,
    /// Last purchase day.
    pub last_purchase: NaiveDate,
    /// RFM segment.
    pub segment: String,
}

/// How many customers fall in an RFM segment, and their revenue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentSummary {
    /// Segment name.
    pub segment: String,
    /// Customers.
    pub customers: u64,
    /// Their lifetime revenue.
    pub revenue: f64,
}

/// A product's current catalog price.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductPrice {
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: String,
    /// Category.
    pub category: String,
    /// Current price.
    pub price: f64,
}

/// A price change: a new version of a product in `dim_product`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceChange {
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: String,
    /// When the new price took effect.
    pub changed_at: DateTime<Utc>,
    /// Price before.
    pub old_price: f64,
    /// Price after.
    pub new_price: f64,
    /// Change, percent.
    pub change_pct: f64,
}

/// One of the day's latest transactions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentTransaction {
    /// Transaction id.
    pub transaction_id: String,
    /// When.
    pub sold_at: DateTime<Utc>,
    /// Buyer id.
    pub customer_id: String,
    /// Product id.
    pub product_id: String,
    /// Product name.
    pub product_name: Option<String>,
    /// Units.
    pub quantity: i64,
    /// Revenue, if known.
    pub revenue: Option<f64>,
}

/// A file quarantined whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuarantinedFile {
    /// Dataset.
    pub dataset: String,
    /// The landing object.
    pub source_key: String,
    /// Why.
    pub reason: String,
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
    /// The files quarantined whole, with their reasons.
    pub quarantined_files: Vec<QuarantinedFile>,
    /// The same counts per dataset: every dataset with a contract, built-in or the user's.
    #[serde(default)]
    pub datasets: Vec<DatasetQuality>,
}

/// One dataset's share of a day's data quality.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetQuality {
    /// The dataset (its contract's name).
    pub dataset: String,
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
}

/// A KPI that moved more than the configured share against its trailing 7-day average.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `revenue`, `transactions`, `average_order_value` or `unique_customers`.
    pub kpi: String,
    /// The day's value.
    pub value: f64,
    /// Average of the 7 days before.
    pub trailing_average: f64,
    /// Change against the average, percent (negative: a drop).
    pub change_pct: f64,
    /// The threshold it crossed, percent.
    pub threshold_pct: f64,
}

/// The daily report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyReport {
    /// The day reported on.
    pub date: NaiveDate,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The day's headline figures (same as `periods.day.current`).
    pub kpis: Kpis,
    /// Day, week to date and month to date, each against its previous period.
    pub periods: Periods,
    /// Revenue per day for the 30 days ending on the date (every day present).
    pub revenue_trend: Vec<TrendPoint>,
    /// The day's top 10 products by revenue.
    pub top_products: Vec<ProductSales>,
    /// The day's revenue by category, largest first.
    pub sales_by_category: Vec<CategorySales>,
    /// The best-selling product (by units) of each category over the trailing 30 days.
    pub best_sellers_by_category: Vec<CategoryBestSeller>,
    /// Revenue by calendar month, up to the date's month.
    pub monthly_revenue: Vec<MonthRevenue>,
    /// Average order value by customer country, trailing 30 days.
    pub aov_by_country: Vec<CountryAov>,
    /// Weekday × hour: all 168 cells, trailing 30 days.
    pub heatmap: Vec<HeatCell>,
    /// The day's clickstream funnel.
    pub funnel: Vec<FunnelStep>,
    /// Top 10 customers by lifetime spend, emails masked.
    pub top_customers: Vec<CustomerSpend>,
    /// Customers per RFM segment.
    pub segments: Vec<SegmentSummary>,
    /// The 10 cheapest products in the current catalog.
    pub cheapest_products: Vec<ProductPrice>,
    /// Price changes that took effect in the 30 days up to the date, latest first.
    pub price_changes: Vec<PriceChange>,
    /// The day's 10 latest transactions.
    pub last_transactions: Vec<RecentTransaction>,
    /// Data quality of the day's ingestion.
    pub data_quality: DataQuality,
    /// KPIs that moved abnormally against their trailing 7-day average.
    pub anomalies: Vec<Anomaly>,
    /// The version of every lake table the report read (`silver/transactions`,
    /// `gold/fact_sales`, ...): `shopflow query --as-of` reads the same state again.
    #[serde(default)]
    pub table_versions: BTreeMap<String, u64>,
}
