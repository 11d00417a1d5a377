//! Computing the report: SQL over the gold tables on the same [`Engine`] that built them, then
//! the JSON, CSV and HTML renderings written under `reports/daily/date=D/`.
//!
//! This module holds the settings, the anomaly check, the data-quality figures, [`compute`] and
//! [`build_daily`]; `rows` reads query results by column, `queries` runs the SQL of each section
//! and `csv` writes the CSV tables.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};

use super::kpi::{self, Trailing};
use super::model::*;
use super::{ReportError, html, load_manifests};
use crate::contract::ContractSet;
use crate::gold::{self, GoldBuild, GoldOptions};
use crate::ingest::Manifest;
use crate::layer::keys;
use crate::sql::Engine;
use crate::tables::DeltaLake;

mod csv;
mod queries;
mod rows;

pub use self::csv::csv_tables;
use queries::{
    aov_by_country, best_sellers, categories, customers, daily, first_sale_day, funnel, heatmap,
    last_transactions, monthly, periods, prices, top_products,
};

/// Report settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// How gold is rebuilt.
    pub gold: GoldOptions,
    /// Flag a KPI that moves more than this percentage against its trailing 7-day average.
    pub anomaly_threshold_pct: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            gold: GoldOptions::default(),
            anomaly_threshold_pct: 50.0,
        }
    }
}

/// What a report build wrote.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// The report.
    pub report: DailyReport,
    /// `report.json`.
    pub report_key: String,
    /// `report.html`, the dashboard.
    pub html_key: String,
    /// The CSV tables.
    pub csv_keys: Vec<String>,
    /// What the gold build did.
    pub gold: GoldBuild,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn pct_change(now: f64, before: f64) -> Option<f64> {
    (before != 0.0).then(|| round2((now - before) * 100.0 / before))
}

/// One day's compared KPIs by name, for the trend and the anomaly check.
pub type DayFigures = BTreeMap<String, f64>;

/// Flags each compared KPI of `date` that moved more than `threshold_pct` against its average
/// over the 7 days before it (days before the first sale do not count; fewer than 3 such days:
/// no check). A KPI averaged over [selling days](Trailing::SellingDays) leaves out the days
/// without transactions.
pub fn anomalies(day: &Kpis, trailing: &[DayFigures], threshold_pct: f64) -> Vec<Anomaly> {
    if trailing.len() < 3 {
        return Vec::new();
    }
    let value = |d: &DayFigures, name: &str| d.get(name).copied().unwrap_or(0.0);
    kpi::compared()
        .filter_map(|spec| {
            let days: Vec<f64> = trailing
                .iter()
                .filter(|d| match spec.compared {
                    Some(Trailing::SellingDays) => value(d, kpi::TRANSACTIONS) > 0.0,
                    _ => true,
                })
                .map(|d| value(d, spec.name))
                .collect();
            let average = if days.is_empty() {
                0.0
            } else {
                days.iter().sum::<f64>() / days.len() as f64
            };
            let now = day.get(spec.name);
            let change = pct_change(now, average)?;
            (change.abs() > threshold_pct).then(|| Anomaly {
                kpi: spec.name.into(),
                value: now,
                trailing_average: round2(average),
                change_pct: change,
                threshold_pct,
            })
        })
        .collect()
}

/// `rejected` as a percentage of `rows_in`, to the hundredth; 0 when nothing was read.
fn rejected_pct(rejected: u64, rows_in: u64) -> f64 {
    if rows_in == 0 {
        0.0
    } else {
        round2(rejected as f64 * 100.0 / rows_in as f64)
    }
}

/// Data quality of the report date's ingestion (or the latest ingest day when nothing was
/// ingested on the date: a backfill or a demo reports on past sales ingested today).
///
/// `datasets` lists every dataset that has a contract (built-in or the user's), with zeros for
/// one that received nothing that day, and any dataset a manifest names without a contract.
pub fn data_quality(
    date: NaiveDate,
    manifests: &[Manifest],
    contracts: &ContractSet,
) -> DataQuality {
    let quality_day = if manifests.iter().any(|m| m.ingest_date == date) {
        Some(date)
    } else {
        manifests.iter().map(|m| m.ingest_date).max()
    };
    let mut dq = DataQuality {
        ingest_date: quality_day,
        ..DataQuality::default()
    };
    let mut day: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| Some(m.ingest_date) == quality_day)
        .collect();
    day.sort_by(|a, b| a.source_key.cmp(&b.source_key));
    let mut datasets: BTreeMap<String, DatasetQuality> = contracts
        .names()
        .map(|d| {
            (
                d.to_string(),
                DatasetQuality {
                    dataset: d.to_string(),
                    ..DatasetQuality::default()
                },
            )
        })
        .collect();
    for m in day {
        let ds = datasets
            .entry(m.dataset.clone())
            .or_insert_with(|| DatasetQuality {
                dataset: m.dataset.clone(),
                ..DatasetQuality::default()
            });
        ds.files_processed += 1;
        ds.files_quarantined += m.files_quarantined;
        ds.rows_in += m.rows_in;
        ds.rows_accepted += m.rows_silver;
        ds.rows_rejected += m.rows_quarantined;
        ds.duplicates_removed += m.duplicates_removed;
        for (r, n) in &m.rejected_by_rule {
            *dq.rejected_by_rule.entry(r.clone()).or_default() += n;
        }
        for (r, n) in &m.warnings_by_rule {
            *dq.warnings_by_rule.entry(r.clone()).or_default() += n;
        }
        if m.files_quarantined > 0 {
            dq.quarantined_files.push(QuarantinedFile {
                dataset: m.dataset.clone(),
                source_key: m.source_key.clone(),
                reason: m
                    .file_quarantine_reason
                    .clone()
                    .unwrap_or_else(|| "quarantined".into()),
            });
        }
    }
    // The day's totals are the sums of the datasets' counts.
    for d in datasets.values_mut() {
        d.rejected_pct = rejected_pct(d.rows_rejected, d.rows_in);
        dq.files_processed += d.files_processed;
        dq.files_quarantined += d.files_quarantined;
        dq.rows_in += d.rows_in;
        dq.rows_accepted += d.rows_accepted;
        dq.rows_rejected += d.rows_rejected;
        dq.duplicates_removed += d.duplicates_removed;
    }
    dq.rejected_pct = rejected_pct(dq.rows_rejected, dq.rows_in);
    dq.datasets = datasets.into_values().collect();
    dq
}

/// Computes the report for `date` from the gold tables registered in `engine`.
pub async fn compute(
    engine: &Engine,
    date: NaiveDate,
    manifests: &[Manifest],
    contracts: &ContractSet,
    options: &ReportOptions,
) -> Result<DailyReport, ReportError> {
    let periods = periods(engine, date).await?;
    let month_start = date - Duration::days(29);
    let days = daily(engine, month_start - Duration::days(7), date).await?;
    let revenue_trend = month_start
        .iter_days()
        .take_while(|d| *d <= date)
        .map(|d| {
            let value = |name| days.get(&d).and_then(|f| f.get(name)).copied();
            TrendPoint {
                date: d,
                revenue: value(kpi::REVENUE).unwrap_or(0.0),
                transactions: value(kpi::TRANSACTIONS).unwrap_or(0.0) as u64,
            }
        })
        .collect();
    let first_sale = first_sale_day(engine).await?;
    let trailing: Vec<DayFigures> = (1..=7)
        .map(|back| date - Duration::days(back))
        .filter(|d| first_sale.is_some_and(|f| *d >= f))
        .map(|d| days.get(&d).cloned().unwrap_or_default())
        .collect();
    let kpis = periods.day.current.clone();
    let anomalies = anomalies(&kpis, &trailing, options.anomaly_threshold_pct);
    let (top_customers, segments) = customers(engine).await?;
    let (cheapest_products, price_changes) = prices(engine, month_start, date).await?;
    Ok(DailyReport {
        date,
        generated_at: Utc::now(),
        top_products: top_products(engine, date).await?,
        sales_by_category: categories(engine, date, kpis.get(kpi::REVENUE)).await?,
        best_sellers_by_category: best_sellers(engine, month_start, date).await?,
        monthly_revenue: monthly(engine, date).await?,
        aov_by_country: aov_by_country(engine, month_start, date).await?,
        heatmap: heatmap(engine, month_start, date).await?,
        funnel: funnel(engine, date).await?,
        top_customers,
        segments,
        cheapest_products,
        price_changes,
        last_transactions: last_transactions(engine, date).await?,
        data_quality: data_quality(date, manifests, contracts),
        anomalies,
        kpis,
        periods,
        revenue_trend,
        table_versions: BTreeMap::new(),
    })
}

/// Builds gold for `date` (default: the latest day silver has sales for), computes the report
/// and writes it as JSON, CSV and HTML under `reports/daily/date=D/`.
pub async fn build_daily(
    lake: &DeltaLake,
    date: Option<NaiveDate>,
    contracts: &ContractSet,
    options: &ReportOptions,
) -> Result<ReportOutput, ReportError> {
    let store = lake.store().as_ref();
    let date = match date {
        Some(d) => d,
        None => gold::latest_sale_day(lake)
            .await?
            .ok_or(ReportError::NoSales)?,
    };
    let engine = Engine::new();
    let gold = gold::build(lake, &engine, contracts, date, options.gold).await?;
    let manifests = load_manifests(store).await?;
    let mut report = compute(&engine, date, &manifests, contracts, options).await?;
    report.table_versions = gold.silver_versions.clone();
    for (table, v) in &gold.versions {
        report
            .table_versions
            .insert(crate::tables::gold_table(table), *v);
    }

    let report_key = keys::report(date, "report.json");
    let body = serde_json::to_vec_pretty(&report).map_err(|source| ReportError::Json {
        key: report_key.clone(),
        source,
    })?;
    store.put(&report_key, body).await?;
    let mut csv_keys = Vec::new();
    for (name, bytes) in csv_tables(&report)? {
        let key = keys::report(date, &name);
        store.put(&key, bytes).await?;
        csv_keys.push(key);
    }
    let html_key = keys::report(date, "report.html");
    store
        .put(&html_key, html::render_html(&report).into_bytes())
        .await?;
    tracing::info!(
        %date,
        kpis = ?report.kpis.0,
        anomalies = report.anomalies.len(),
        gold_tables = gold.versions.len(),
        "daily report written"
    );
    Ok(ReportOutput {
        report,
        report_key,
        html_key,
        csv_keys,
        gold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(revenue: f64, transactions: u64) -> DayFigures {
        kpis(revenue, transactions).0
    }

    fn kpis(revenue: f64, transactions: u64) -> Kpis {
        let aov = if transactions == 0 {
            0.0
        } else {
            revenue / transactions as f64
        };
        Kpis(BTreeMap::from([
            (kpi::REVENUE.to_string(), revenue),
            (kpi::TRANSACTIONS.to_string(), transactions as f64),
            ("average_order_value".to_string(), aov),
            ("unique_customers".to_string(), transactions as f64),
        ]))
    }

    #[test]
    fn days_without_sales_do_not_drag_the_order_value_average() {
        let mut trailing = vec![day(1000.0, 10); 3];
        trailing.push(day(0.0, 0));
        let flags = anomalies(&kpis(1000.0, 10), &trailing, 20.0);
        assert!(
            flags.iter().all(|f| f.kpi != "average_order_value"),
            "{flags:?}"
        );
    }

    #[test]
    fn flags_a_revenue_drop_beyond_the_threshold() {
        let trailing = vec![day(1000.0, 10); 7];
        let flags = anomalies(&kpis(400.0, 10), &trailing, 50.0);
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert_eq!(flags[0].kpi, "revenue");
        assert_eq!(flags[0].change_pct, -60.0);
        assert_eq!(flags[0].trailing_average, 1000.0);
        assert_eq!(flags[1].kpi, "average_order_value");
    }

    #[test]
    fn stays_quiet_within_the_threshold() {
        let trailing = vec![day(1000.0, 10), day(1200.0, 12), day(800.0, 8)];
        assert!(anomalies(&kpis(1300.0, 13), &trailing, 50.0).is_empty());
    }

    #[test]
    fn needs_three_days_of_history() {
        let trailing = vec![day(1000.0, 10); 2];
        assert!(anomalies(&kpis(10.0, 1), &trailing, 50.0).is_empty());
    }
}
