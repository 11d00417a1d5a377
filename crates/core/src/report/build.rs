//! Computing the report: SQL over the gold tables on the same [`Engine`] that built them, then
//! the JSON, CSV and HTML renderings written under `reports/daily/date=D/`.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::kpi::{self, KPIS, KpiSpec, Trailing, Unit};
use super::model::*;
use super::{ReportError, html, load_manifests};
use crate::contract::ContractSet;
use crate::gold::{self, GoldBuild, GoldOptions};
use crate::ingest::Manifest;
use crate::layer::keys;
use crate::sql::Engine;
use crate::tables::DeltaLake;
use crate::validate::parse;

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

/// One query result whose columns are looked up by name once, cast to the type the report
/// reads. A column the query does not return, or one that does not cast, is a
/// [`ReportError::Column`] naming the query and the column: a mistyped name never reads as 0.
struct Rows {
    context: String,
    batch: RecordBatch,
}

impl Rows {
    async fn query(engine: &Engine, context: &str, sql: &str) -> Result<Self, ReportError> {
        let r = engine.query(context, sql).await?;
        let batch = r.concat().map_err(|source| ReportError::Arrow {
            context: context.to_string(),
            source,
        })?;
        Ok(Self {
            context: context.to_string(),
            batch,
        })
    }

    fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn column(&self, name: &str, to: &DataType) -> Result<ArrayRef, ReportError> {
        let error = |reason: String| ReportError::Column {
            context: self.context.clone(),
            column: name.to_string(),
            reason,
        };
        let c = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| error("the query does not return it".into()))?;
        if c.data_type() == to {
            Ok(c.clone())
        } else {
            cast(c, to).map_err(|e| error(format!("{} does not cast to {to}: {e}", c.data_type())))
        }
    }

    fn texts(&self, name: &str) -> Result<Texts, ReportError> {
        self.column(name, &DataType::Utf8).map(Texts)
    }

    /// A text column that exists only under some contracts (e.g. a masked email): `None` when
    /// the query does not return it.
    fn optional_texts(&self, name: &str) -> Result<Option<Texts>, ReportError> {
        if self.batch.column_by_name(name).is_none() {
            return Ok(None);
        }
        self.texts(name).map(Some)
    }

    fn ints(&self, name: &str) -> Result<Ints, ReportError> {
        self.column(name, &DataType::Int64).map(Ints)
    }

    fn floats(&self, name: &str) -> Result<Floats, ReportError> {
        self.column(name, &DataType::Float64).map(Floats)
    }

    fn dates(&self, name: &str) -> Result<Dates, ReportError> {
        self.column(name, &DataType::Date32).map(Dates)
    }

    fn times(&self, name: &str) -> Result<Times, ReportError> {
        self.column(
            name,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map(Times)
    }
}

/// Per-cell reads, for the small results (tens of rows) most report queries return.
impl Rows {
    fn text(&self, name: &str, i: usize) -> Result<Option<String>, ReportError> {
        Ok(self.texts(name)?.get(i))
    }

    fn int(&self, name: &str, i: usize) -> Result<Option<i64>, ReportError> {
        Ok(self.ints(name)?.get(i))
    }

    fn count(&self, name: &str, i: usize) -> Result<u64, ReportError> {
        Ok(self.ints(name)?.count(i))
    }

    fn float(&self, name: &str, i: usize) -> Result<Option<f64>, ReportError> {
        Ok(self.floats(name)?.get(i))
    }

    fn money(&self, name: &str, i: usize) -> Result<f64, ReportError> {
        Ok(self.floats(name)?.money(i))
    }

    fn time(&self, name: &str, i: usize) -> Result<Option<DateTime<Utc>>, ReportError> {
        Ok(self.times(name)?.get(i))
    }
}

/// A text column (cast to `Utf8`).
struct Texts(ArrayRef);

impl Texts {
    fn get(&self, i: usize) -> Option<String> {
        let c = self.0.as_string::<i32>();
        c.is_valid(i).then(|| c.value(i).to_string())
    }
}

/// A whole-number column (cast to `Int64`).
struct Ints(ArrayRef);

impl Ints {
    fn get(&self, i: usize) -> Option<i64> {
        let c = self.0.as_primitive::<Int64Type>();
        c.is_valid(i).then(|| c.value(i))
    }

    /// The value as a count: null and negative values are 0.
    fn count(&self, i: usize) -> u64 {
        self.get(i).map_or(0, |v| u64::try_from(v).unwrap_or(0))
    }
}

/// A number column (cast to `Float64`).
struct Floats(ArrayRef);

impl Floats {
    fn get(&self, i: usize) -> Option<f64> {
        let c = self.0.as_primitive::<Float64Type>();
        c.is_valid(i).then(|| c.value(i))
    }

    /// The value rounded to the cent; null is 0.
    fn money(&self, i: usize) -> f64 {
        self.get(i).map_or(0.0, round2)
    }
}

/// A date column (cast to `Date32`).
struct Dates(ArrayRef);

impl Dates {
    fn get(&self, i: usize) -> Option<NaiveDate> {
        let c = self.0.as_primitive::<arrow::datatypes::Date32Type>();
        c.is_valid(i).then(|| parse::date_from_days(c.value(i)))
    }
}

/// A UTC timestamp column (cast to microseconds).
struct Times(ArrayRef);

impl Times {
    fn get(&self, i: usize) -> Option<DateTime<Utc>> {
        let c = self.0.as_primitive::<TimestampMicrosecondType>();
        c.is_valid(i)
            .then(|| DateTime::from_timestamp_micros(c.value(i)))
            .flatten()
    }
}

/// The value of one KPI in row `i`, as its unit reads it.
fn kpi_value(r: &Rows, spec: &KpiSpec, i: usize) -> Result<f64, ReportError> {
    Ok(match spec.unit {
        Unit::Money => r.floats(spec.name)?.money(i),
        Unit::Count => r.ints(spec.name)?.get(i).unwrap_or(0) as f64,
    })
}

fn between(first: NaiveDate, last: NaiveDate) -> String {
    format!("dt BETWEEN DATE '{first}' AND DATE '{last}'")
}

async fn kpis(engine: &Engine, first: NaiveDate, last: NaiveDate) -> Result<Kpis, ReportError> {
    let r = Rows::query(
        engine,
        "period KPIs",
        &format!(
            "SELECT {} FROM fact_sales WHERE {}",
            kpi::select_list(KPIS),
            between(first, last)
        ),
    )
    .await?;
    let mut out = BTreeMap::new();
    for spec in KPIS {
        out.insert(spec.name.to_string(), kpi_value(&r, spec, 0)?);
    }
    Ok(Kpis(out))
}

async fn period(
    engine: &Engine,
    start: NaiveDate,
    end: NaiveDate,
    previous_start: NaiveDate,
    previous_end: NaiveDate,
) -> Result<PeriodKpis, ReportError> {
    let current = kpis(engine, start, end).await?;
    let previous = kpis(engine, previous_start, previous_end).await?;
    let change_pct = KpiChanges(
        kpi::compared()
            .map(|k| {
                let change = pct_change(current.get(k.name), previous.get(k.name));
                (k.name.to_string(), change)
            })
            .collect(),
    );
    Ok(PeriodKpis {
        start,
        end,
        current,
        previous_start,
        previous_end,
        previous,
        change_pct,
    })
}

/// The same day of the previous month, clamped to its last day.
fn month_before(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 1 {
        (d.year() - 1, 12)
    } else {
        (d.year(), d.month() - 1)
    };
    (1..=d.day())
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(y, m, day))
        .unwrap_or(d)
}

async fn periods(engine: &Engine, date: NaiveDate) -> Result<Periods, ReportError> {
    let day_before = date - Duration::days(1);
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    let first_of_month = date.with_day(1).unwrap_or(date);
    let prev_month_end = month_before(date);
    let prev_month_start = prev_month_end.with_day(1).unwrap_or(prev_month_end);
    Ok(Periods {
        day: period(engine, date, date, day_before, day_before).await?,
        week_to_date: period(
            engine,
            monday,
            date,
            monday - Duration::days(7),
            date - Duration::days(7),
        )
        .await?,
        month_to_date: period(
            engine,
            first_of_month,
            date,
            prev_month_start,
            prev_month_end,
        )
        .await?,
    })
}

/// One day's compared KPIs by name, for the trend and the anomaly check.
pub type DayFigures = BTreeMap<String, f64>;

/// The compared KPIs of each day `first..=last` with sales (days without sales are absent),
/// from `fact_sales` with the same SQL as the period figures.
async fn daily(
    engine: &Engine,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<BTreeMap<NaiveDate, DayFigures>, ReportError> {
    let r = Rows::query(
        engine,
        "daily KPIs",
        &format!(
            "SELECT dt, {} FROM fact_sales WHERE {} GROUP BY dt ORDER BY dt",
            kpi::select_list(kpi::compared()),
            between(first, last)
        ),
    )
    .await?;
    let days = r.dates("dt")?;
    let mut out = BTreeMap::new();
    for i in 0..r.len() {
        if let Some(d) = days.get(i) {
            let mut figures = DayFigures::new();
            for spec in kpi::compared() {
                figures.insert(spec.name.to_string(), kpi_value(&r, spec, i)?);
            }
            out.insert(d, figures);
        }
    }
    Ok(out)
}

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

async fn first_sale_day(engine: &Engine) -> Result<Option<NaiveDate>, ReportError> {
    let r = Rows::query(
        engine,
        "first sale day",
        "SELECT MIN(dt) AS d FROM agg_daily_sales",
    )
    .await?;
    Ok(if r.len() == 1 {
        r.dates("d")?.get(0)
    } else {
        None
    })
}

async fn top_products(engine: &Engine, date: NaiveDate) -> Result<Vec<ProductSales>, ReportError> {
    let r = Rows::query(
        engine,
        "top products",
        &format!(
            "SELECT product_id, product_name, category, units, revenue FROM agg_product_daily
             WHERE dt = DATE '{date}' ORDER BY revenue DESC, units DESC, product_id LIMIT 10"
        ),
    )
    .await?;
    (0..r.len())
        .map(|i| {
            Ok(ProductSales {
                product_id: r.text("product_id", i)?.unwrap_or_default(),
                name: r.text("product_name", i)?,
                category: r.text("category", i)?,
                units: r.int("units", i)?.unwrap_or(0),
                revenue: r.money("revenue", i)?,
            })
        })
        .collect()
}

async fn categories(
    engine: &Engine,
    date: NaiveDate,
    day_revenue: f64,
) -> Result<Vec<CategorySales>, ReportError> {
    let r = Rows::query(
        engine,
        "sales by category",
        &format!(
            "SELECT category, revenue, transactions, units FROM agg_category_daily
             WHERE dt = DATE '{date}' ORDER BY revenue DESC, category"
        ),
    )
    .await?;
    (0..r.len())
        .map(|i| {
            let revenue = r.money("revenue", i)?;
            Ok(CategorySales {
                category: r.text("category", i)?.unwrap_or_else(|| "unknown".into()),
                revenue,
                transactions: r.count("transactions", i)?,
                units: r.int("units", i)?.unwrap_or(0),
                revenue_share_pct: if day_revenue == 0.0 {
                    0.0
                } else {
                    round2(revenue * 100.0 / day_revenue)
                },
            })
        })
        .collect()
}

async fn best_sellers(
    engine: &Engine,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<CategoryBestSeller>, ReportError> {
    let r = Rows::query(
        engine,
        "best sellers by category",
        &format!(
            "WITH p AS (
               SELECT COALESCE(category, 'unknown') AS category, product_id,
                      MAX(product_name) AS name, SUM(units) AS units, SUM(revenue) AS revenue
               FROM agg_product_daily WHERE {}
               GROUP BY COALESCE(category, 'unknown'), product_id
             ), ranked AS (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY category
                                            ORDER BY units DESC, revenue DESC, product_id) AS rn
               FROM p
             )
             SELECT category, product_id, name, units, revenue FROM ranked WHERE rn = 1
             ORDER BY revenue DESC, category",
            between(first, last)
        ),
    )
    .await?;
    (0..r.len())
        .map(|i| {
            Ok(CategoryBestSeller {
                category: r.text("category", i)?.unwrap_or_default(),
                product_id: r.text("product_id", i)?.unwrap_or_default(),
                name: r.text("name", i)?,
                units: r.int("units", i)?.unwrap_or(0),
                revenue: r.money("revenue", i)?,
            })
        })
        .collect()
}

async fn monthly(engine: &Engine, date: NaiveDate) -> Result<Vec<MonthRevenue>, ReportError> {
    let r = Rows::query(
        engine,
        "monthly revenue",
        &format!(
            "SELECT CAST(date_part('year', dt) AS BIGINT) AS y, CAST(date_part('month', dt) AS BIGINT) AS m,
                    SUM(revenue) AS revenue, SUM(transactions) AS transactions
             FROM agg_daily_sales WHERE dt <= DATE '{date}'
             GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    )
    .await?;
    (0..r.len())
        .map(|i| {
            Ok(MonthRevenue {
                month: format!(
                    "{:04}-{:02}",
                    r.int("y", i)?.unwrap_or(0),
                    r.int("m", i)?.unwrap_or(0)
                ),
                revenue: r.money("revenue", i)?,
                transactions: r.count("transactions", i)?,
            })
        })
        .collect()
}

async fn aov_by_country(
    engine: &Engine,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<CountryAov>, ReportError> {
    let r = Rows::query(
        engine,
        "average order value by country",
        &format!(
            "SELECT COALESCE(c.country, 'unknown') AS country,
                    COUNT(DISTINCT f.order_key) AS transactions,
                    CAST(SUM(f.revenue) AS DECIMAL(18, 2)) AS revenue,
                    CAST(SUM(f.revenue) AS DOUBLE) / CAST(COUNT(DISTINCT f.order_key) AS DOUBLE) AS aov
             FROM fact_sales f LEFT JOIN dim_customer c ON c.customer_sk = f.customer_sk
             WHERE f.{} AND f.revenue IS NOT NULL
             GROUP BY COALESCE(c.country, 'unknown')
             ORDER BY aov DESC, country",
            between(first, last)
        ),
    )
    .await?;
    (0..r.len())
        .map(|i| {
            let revenue = r.money("revenue", i)?;
            let transactions = r.count("transactions", i)?;
            Ok(CountryAov {
                country: r.text("country", i)?.unwrap_or_default(),
                transactions,
                revenue,
                average_order_value: if transactions == 0 {
                    0.0
                } else {
                    round2(revenue / transactions as f64)
                },
            })
        })
        .collect()
}

async fn heatmap(
    engine: &Engine,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<HeatCell>, ReportError> {
    let r = Rows::query(
        engine,
        "sales heatmap",
        &format!(
            "SELECT weekday, hour, COUNT(DISTINCT order_key) AS transactions,
                    CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2)) AS revenue
             FROM fact_sales WHERE {} GROUP BY weekday, hour",
            between(first, last)
        ),
    )
    .await?;
    let mut cells: HashMap<(i64, i64), (u64, f64)> = HashMap::new();
    for i in 0..r.len() {
        if let (Some(w), Some(h)) = (r.int("weekday", i)?, r.int("hour", i)?) {
            cells.insert(
                (w, h),
                (r.count("transactions", i)?, r.money("revenue", i)?),
            );
        }
    }
    Ok((1..=7u32)
        .flat_map(|w| (0..24u32).map(move |h| (w, h)))
        .map(|(weekday, hour)| {
            let (transactions, revenue) = cells
                .get(&(i64::from(weekday), i64::from(hour)))
                .copied()
                .unwrap_or((0, 0.0));
            HeatCell {
                weekday,
                hour,
                transactions,
                revenue,
            }
        })
        .collect())
}

async fn funnel(engine: &Engine, date: NaiveDate) -> Result<Vec<FunnelStep>, ReportError> {
    let r = Rows::query(
        engine,
        "funnel",
        &format!(
            "SELECT sessions, product_view_sessions, add_to_cart_sessions, checkout_sessions,
                    purchase_sessions
             FROM funnel_daily WHERE dt = DATE '{date}'"
        ),
    )
    .await?;
    if r.len() == 0 {
        return Ok(Vec::new());
    }
    let counts = [
        ("sessions", r.count("sessions", 0)?),
        ("product_view", r.count("product_view_sessions", 0)?),
        ("add_to_cart", r.count("add_to_cart_sessions", 0)?),
        ("checkout", r.count("checkout_sessions", 0)?),
        ("purchase", r.count("purchase_sessions", 0)?),
    ];
    let total = counts[0].1;
    let share = |n: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            round2(n as f64 * 100.0 / of as f64)
        }
    };
    Ok(counts
        .iter()
        .enumerate()
        .map(|(i, (step, n))| FunnelStep {
            step: (*step).into(),
            sessions: *n,
            pct_of_sessions: share(*n, total),
            pct_of_previous: if i == 0 {
                100.0
            } else {
                share(*n, counts[i - 1].1)
            },
        })
        .collect())
}

async fn customers(
    engine: &Engine,
) -> Result<(Vec<CustomerSpend>, Vec<SegmentSummary>), ReportError> {
    let r = Rows::query(
        engine,
        "top customers",
        // `*`: which masked columns exist follows the customers contract.
        "SELECT * FROM customer_ltv ORDER BY revenue DESC, customer_id LIMIT 10",
    )
    .await?;
    let last_purchase = r.dates("last_purchase")?;
    // Present when the customers contract has the column (masked as it classifies it).
    let email_masked = r.optional_texts("email_masked")?;
    let country = r.optional_texts("country")?;
    let top = (0..r.len())
        .map(|i| {
            Ok(CustomerSpend {
                customer_id: r.text("customer_id", i)?.unwrap_or_default(),
                email_masked: email_masked.as_ref().and_then(|c| c.get(i)),
                country: country.as_ref().and_then(|c| c.get(i)),
                orders: r.count("orders", i)?,
                revenue: r.money("revenue", i)?,
                last_purchase: last_purchase.get(i).unwrap_or_default(),
                segment: r.text("segment", i)?.unwrap_or_default(),
            })
        })
        .collect::<Result<_, ReportError>>()?;
    let r = Rows::query(
        engine,
        "customer segments",
        "SELECT segment, COUNT(*) AS customers, SUM(revenue) AS revenue
         FROM customer_ltv GROUP BY segment ORDER BY revenue DESC, segment",
    )
    .await?;
    let segments = (0..r.len())
        .map(|i| {
            Ok(SegmentSummary {
                segment: r.text("segment", i)?.unwrap_or_default(),
                customers: r.count("customers", i)?,
                revenue: r.money("revenue", i)?,
            })
        })
        .collect::<Result<_, ReportError>>()?;
    Ok((top, segments))
}

async fn prices(
    engine: &Engine,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(Vec<ProductPrice>, Vec<PriceChange>), ReportError> {
    let r = Rows::query(
        engine,
        "cheapest products",
        "SELECT product_id, name, category, price FROM dim_product
         WHERE is_current AND price IS NOT NULL ORDER BY price, product_id LIMIT 10",
    )
    .await?;
    let cheapest = (0..r.len())
        .map(|i| {
            Ok(ProductPrice {
                product_id: r.text("product_id", i)?.unwrap_or_default(),
                name: r.text("name", i)?.unwrap_or_default(),
                category: r.text("category", i)?.unwrap_or_default(),
                price: r.money("price", i)?,
            })
        })
        .collect::<Result<_, ReportError>>()?;
    let r = Rows::query(
        engine,
        "price changes",
        &format!(
            "SELECT v.product_id, v.name, v.valid_from, o.price AS old_price, v.price AS new_price
             FROM dim_product v
             JOIN dim_product o ON o.product_id = v.product_id AND o.version = v.version - 1
             WHERE v.version > 1 AND (v.price IS DISTINCT FROM o.price)
               AND CAST(v.valid_from AS DATE) BETWEEN DATE '{first}' AND DATE '{last}'
             ORDER BY v.valid_from DESC, v.product_id"
        ),
    )
    .await?;
    let mut changes = Vec::new();
    for i in 0..r.len() {
        let (Some(product_id), Some(changed_at)) =
            (r.text("product_id", i)?, r.time("valid_from", i)?)
        else {
            continue;
        };
        let old_price = r.money("old_price", i)?;
        let new_price = r.money("new_price", i)?;
        changes.push(PriceChange {
            product_id,
            name: r.text("name", i)?.unwrap_or_default(),
            changed_at,
            old_price,
            new_price,
            change_pct: pct_change(new_price, old_price).unwrap_or(0.0),
        });
    }
    Ok((cheapest, changes))
}

async fn last_transactions(
    engine: &Engine,
    date: NaiveDate,
) -> Result<Vec<RecentTransaction>, ReportError> {
    let r = Rows::query(
        engine,
        "last transactions",
        &format!(
            "SELECT f.order_key, f.sold_at, f.customer_id, f.product_id, p.name, f.quantity, f.revenue
             FROM fact_sales f LEFT JOIN dim_product p ON p.product_sk = f.product_sk
             WHERE f.dt = DATE '{date}'
             ORDER BY f.sold_at DESC, f.order_key DESC, f.product_id DESC LIMIT 10"
        ),
    )
    .await?;
    let mut out = Vec::new();
    for i in 0..r.len() {
        let (Some(transaction_id), Some(sold_at)) =
            (r.text("order_key", i)?, r.time("sold_at", i)?)
        else {
            continue;
        };
        out.push(RecentTransaction {
            transaction_id,
            sold_at,
            customer_id: r.text("customer_id", i)?.unwrap_or_default(),
            product_id: r.text("product_id", i)?.unwrap_or_default(),
            product_name: r.text("name", i)?,
            quantity: r.int("quantity", i)?.unwrap_or(0),
            revenue: r.float("revenue", i)?.map(round2),
        });
    }
    Ok(out)
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

/// A CSV table with a header row, also when there are no rows (the header then comes from a
/// default row, which is not written). Every cell is [neutralized](crate::cells::neutralize):
/// product names and customer text never run as spreadsheet formulas.
fn csv_of<T: Serialize + Default>(key: &str, rows: &[T]) -> Result<Vec<u8>, ReportError> {
    let csv_error = |source| ReportError::Csv {
        key: key.to_string(),
        source,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let header_only = [T::default()];
    let written = if rows.is_empty() {
        &header_only[..]
    } else {
        rows
    };
    for r in written {
        w.serialize(r).map_err(csv_error)?;
    }
    let mut bytes = w
        .into_inner()
        .map_err(|e| csv_error(csv::Error::from(e.into_error())))?;
    if rows.is_empty() {
        let end = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    crate::cells::neutralize_csv(&bytes).map_err(csv_error)
}

/// `kpis.csv`: one row per period (`day`, `week_to_date`, `month_to_date`) with its `start`
/// and `end`, every KPI of the period, then each compared KPI's `previous_{name}` and
/// `{name}_change_pct`; columns follow [`KPIS`].
fn kpis_csv(periods: &Periods) -> Result<Vec<u8>, ReportError> {
    const KEY: &str = "kpis.csv";
    let csv_error = |source| ReportError::Csv {
        key: KEY.to_string(),
        source,
    };
    let value = |name: &str, v: f64| match kpi::spec(name).map(|k| k.unit) {
        Some(Unit::Count) => (v as i64).to_string(),
        _ => v.to_string(),
    };
    let mut header = vec!["period".to_string(), "start".into(), "end".into()];
    header.extend(KPIS.iter().map(|k| k.name.to_string()));
    header.extend(kpi::compared().map(|k| format!("previous_{}", k.name)));
    header.extend(kpi::compared().map(|k| format!("{}_change_pct", k.name)));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(csv_error)?;
    for (period, p) in [
        ("day", &periods.day),
        ("week_to_date", &periods.week_to_date),
        ("month_to_date", &periods.month_to_date),
    ] {
        let mut row = vec![period.to_string(), p.start.to_string(), p.end.to_string()];
        row.extend(KPIS.iter().map(|k| value(k.name, p.current.get(k.name))));
        row.extend(kpi::compared().map(|k| value(k.name, p.previous.get(k.name))));
        row.extend(kpi::compared().map(|k| {
            p.change_pct
                .get(k.name)
                .map_or(String::new(), |c| c.to_string())
        }));
        w.write_record(&row).map_err(csv_error)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv_error(csv::Error::from(e.into_error())))?;
    crate::cells::neutralize_csv(&bytes).map_err(csv_error)
}

/// One row of `data_quality_rules.csv`.
#[derive(Serialize, Default)]
struct RuleRow<'a> {
    rule: &'a str,
    severity: &'a str,
    rows: u64,
}

/// The report's tables as CSV files: `(file name, bytes)`.
pub fn csv_tables(report: &DailyReport) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    let dq = &report.data_quality;
    let rules: Vec<RuleRow> = dq
        .rejected_by_rule
        .iter()
        .map(|(rule, rows)| RuleRow {
            rule,
            severity: "rejected",
            rows: *rows,
        })
        .chain(dq.warnings_by_rule.iter().map(|(rule, rows)| RuleRow {
            rule,
            severity: "warning",
            rows: *rows,
        }))
        .collect();
    let mut out = Vec::new();
    macro_rules! table {
        ($name:literal, $rows:expr) => {
            out.push(($name.to_string(), csv_of($name, $rows)?));
        };
    }
    out.push(("kpis.csv".to_string(), kpis_csv(&report.periods)?));
    table!("revenue_trend.csv", &report.revenue_trend);
    table!("top_products.csv", &report.top_products);
    table!("sales_by_category.csv", &report.sales_by_category);
    table!(
        "best_sellers_by_category.csv",
        &report.best_sellers_by_category
    );
    table!("monthly_revenue.csv", &report.monthly_revenue);
    table!("aov_by_country.csv", &report.aov_by_country);
    table!("heatmap.csv", &report.heatmap);
    table!("funnel.csv", &report.funnel);
    table!("top_customers.csv", &report.top_customers);
    table!("segments.csv", &report.segments);
    table!("cheapest_products.csv", &report.cheapest_products);
    table!("price_changes.csv", &report.price_changes);
    table!("last_transactions.csv", &report.last_transactions);
    table!("data_quality_rules.csv", &rules);
    table!("data_quality_datasets.csv", &dq.datasets);
    table!("quarantined_files.csv", &dq.quarantined_files);
    table!("anomalies.csv", &report.anomalies);
    Ok(out)
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

    #[test]
    fn compares_month_to_date_with_the_same_days_of_the_month_before() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        assert_eq!(
            month_before(d),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        let d = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        assert_eq!(
            month_before(d),
            NaiveDate::from_ymd_opt(2025, 12, 15).unwrap()
        );
    }

    #[test]
    fn writes_every_table_as_csv_with_a_header() {
        let report: DailyReport = serde_json::from_value(serde_json::json!({
            "date": "2026-01-05", "generated_at": "2026-01-06T00:00:00Z",
            "kpis": Kpis::default(), "periods": Periods::default(),
            "revenue_trend": [], "top_products": [{"product_id": "P1", "name": "Lamp, \"big\"", "category": null, "units": 2, "revenue": 20.5}],
            "sales_by_category": [], "best_sellers_by_category": [], "monthly_revenue": [],
            "aov_by_country": [], "heatmap": [], "funnel": [], "top_customers": [], "segments": [],
            "cheapest_products": [], "price_changes": [], "last_transactions": [],
            "data_quality": DataQuality::default(), "anomalies": []
        }))
        .unwrap();
        let tables = csv_tables(&report).unwrap();
        let top = tables
            .iter()
            .find(|(n, _)| n == "top_products.csv")
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&top.1),
            "product_id,name,category,units,revenue\nP1,\"Lamp, \"\"big\"\"\",,2,20.5\n"
        );
        let none = tables.iter().find(|(n, _)| n == "anomalies.csv").unwrap();
        assert_eq!(
            String::from_utf8_lossy(&none.1),
            "kpi,value,trailing_average,change_pct,threshold_pct\n"
        );
        let kpis = tables.iter().find(|(n, _)| n == "kpis.csv").unwrap();
        assert_eq!(String::from_utf8_lossy(&kpis.1).lines().count(), 4);
    }
}
