//! The SQL of each report section over the gold tables: the period KPIs and their
//! comparisons, the daily figures, and one query function per chart or table.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDate};

use super::rows::Rows;
use super::{DayFigures, pct_change, round2};
use crate::report::ReportError;
use crate::report::kpi::{self, KPIS, KpiSpec, Unit};
use crate::report::model::*;
use crate::sql::Engine;

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

pub(super) async fn periods(engine: &Engine, date: NaiveDate) -> Result<Periods, ReportError> {
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

/// The compared KPIs of each day `first..=last` with sales (days without sales are absent),
/// from `fact_sales` with the same SQL as the period figures.
pub(super) async fn daily(
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

pub(super) async fn first_sale_day(engine: &Engine) -> Result<Option<NaiveDate>, ReportError> {
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

pub(super) async fn top_products(
    engine: &Engine,
    date: NaiveDate,
) -> Result<Vec<ProductSales>, ReportError> {
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

pub(super) async fn categories(
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

pub(super) async fn best_sellers(
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

pub(super) async fn monthly(
    engine: &Engine,
    date: NaiveDate,
) -> Result<Vec<MonthRevenue>, ReportError> {
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

pub(super) async fn aov_by_country(
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

pub(super) async fn heatmap(
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

pub(super) async fn funnel(
    engine: &Engine,
    date: NaiveDate,
) -> Result<Vec<FunnelStep>, ReportError> {
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

pub(super) async fn customers(
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

pub(super) async fn prices(
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

pub(super) async fn last_transactions(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
