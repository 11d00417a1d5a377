//! Tests of the whole page: structure, escaping, one mark per chart item, empty states, no
//! network URLs, and what each section shows.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone, Utc};

use crate::report::model::{
    Anomaly, CategoryBestSeller, CategorySales, CountryAov, CustomerSpend, DailyReport,
    DataQuality, DatasetQuality, FunnelStep, HeatCell, KpiChanges, Kpis, MonthRevenue, PeriodKpis,
    Periods, PriceChange, ProductPrice, ProductSales, QuarantinedFile, RecentTransaction,
    SegmentSummary, TrendPoint,
};

use super::{EMPTY, render_html};

fn kpis(revenue: f64, transactions: u64, customers: u64) -> Kpis {
    Kpis(BTreeMap::from([
        ("revenue".to_string(), revenue),
        ("transactions".to_string(), transactions as f64),
        (
            "average_order_value".to_string(),
            revenue / transactions as f64,
        ),
        ("transactions_without_revenue".to_string(), 3.0),
        ("unique_customers".to_string(), customers as f64),
        ("units".to_string(), transactions as f64 * 2.0),
    ]))
}

fn period(start: NaiveDate, end: NaiveDate, days_back: i64, k: Kpis, prev: Kpis) -> PeriodKpis {
    PeriodKpis {
        start,
        end,
        current: k,
        previous_start: start - Duration::days(days_back),
        previous_end: end - Duration::days(days_back),
        previous: prev,
        change_pct: KpiChanges(BTreeMap::from([
            ("revenue".to_string(), Some(12.34)),
            ("transactions".to_string(), Some(-4.5)),
            ("average_order_value".to_string(), None),
            ("unique_customers".to_string(), Some(0.0)),
        ])),
    }
}

/// A realistic report: every list full, a product name that needs escaping.
fn sample() -> DailyReport {
    let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let day = kpis(12_345.67, 321, 280);
    let periods = Periods {
        day: period(date, date, 1, day.clone(), kpis(11_000.0, 300, 260)),
        week_to_date: period(
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            date,
            7,
            kpis(70_000.5, 1800, 1500),
            kpis(65_000.0, 1700, 1400),
        ),
        month_to_date: period(
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            date,
            31,
            kpis(250_000.0, 6000, 4000),
            kpis(240_000.0, 5900, 3900),
        ),
    };
    let names = [
        "Mug <b>\"Best\" & Co's</b>",
        "Wireless Noise-Cancelling Headphones with a Very Long Marketing Name",
        "Ceramic Vase",
        "Slim 5G Phone",
        "Rustic Lamp",
        "Portable Speaker",
        "Handmade Rug",
        "Smart Watch",
        "Vintage Clock",
        "Compact Charger",
    ];
    DailyReport {
        date,
        generated_at: Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap(),
        kpis: day,
        periods,
        revenue_trend: (0..30)
            .map(|i| TrendPoint {
                date: date - Duration::days(29 - i),
                revenue: 8_000.0 + (i as f64 * 0.7).sin() * 3_000.0 + i as f64 * 50.0,
                transactions: 200 + i as u64,
            })
            .collect(),
        top_products: names
            .iter()
            .enumerate()
            .map(|(i, n)| ProductSales {
                product_id: format!("P{:04}", i + 1),
                name: if i == 9 { None } else { Some(n.to_string()) },
                category: Some("home-decoration".into()),
                units: 20 - i as i64,
                revenue: 2_000.0 - i as f64 * 150.0,
            })
            .collect(),
        sales_by_category: ["smartphones", "electronics", "home-decoration", "unknown"]
            .iter()
            .enumerate()
            .map(|(i, c)| CategorySales {
                category: c.to_string(),
                revenue: 5_000.0 / (i + 1) as f64,
                transactions: 100 / (i as u64 + 1),
                units: 120 / (i as i64 + 1),
                revenue_share_pct: 48.0 / (i + 1) as f64,
            })
            .collect(),
        best_sellers_by_category: vec![CategoryBestSeller {
            category: "electronics".into(),
            product_id: "P0002".into(),
            name: Some(names[1].into()),
            units: 340,
            revenue: 45_000.0,
        }],
        monthly_revenue: (1..=11)
            .map(|m| MonthRevenue {
                month: format!("2026-{m:02}"),
                revenue: 200_000.0 + m as f64 * 10_000.0,
                transactions: 5_000,
            })
            .collect(),
        aov_by_country: vec![CountryAov {
            country: "DE".into(),
            transactions: 900,
            revenue: 40_000.0,
            average_order_value: 44.44,
        }],
        heatmap: (1..=7)
            .flat_map(|d| {
                (0..24).map(move |h| HeatCell {
                    weekday: d,
                    hour: h,
                    transactions: u64::from(h),
                    revenue: if h < 6 { 0.0 } else { f64::from(h * d) * 10.0 },
                })
            })
            .collect(),
        funnel: [
            ("sessions", 5000, 100.0, 100.0),
            ("product_view", 3500, 70.0, 70.0),
            ("add_to_cart", 900, 18.0, 25.71),
            ("checkout", 450, 9.0, 50.0),
            ("purchase", 321, 6.42, 71.33),
        ]
        .iter()
        .map(|(s, n, a, b)| FunnelStep {
            step: s.to_string(),
            sessions: *n,
            pct_of_sessions: *a,
            pct_of_previous: *b,
        })
        .collect(),
        top_customers: vec![CustomerSpend {
            customer_id: "C000123".into(),
            email_masked: Some("e***@example.com".into()),
            country: Some("FR".into()),
            orders: 42,
            revenue: 9_876.54,
            last_purchase: date,
            segment: "Champions".into(),
        }],
        segments: vec![SegmentSummary {
            segment: "Champions".into(),
            customers: 120,
            revenue: 300_000.0,
        }],
        cheapest_products: vec![ProductPrice {
            product_id: "P0100".into(),
            name: "Sticker".into(),
            category: "misc".into(),
            price: 0.99,
        }],
        price_changes: vec![PriceChange {
            product_id: "P0003".into(),
            name: "Ceramic Vase".into(),
            changed_at: Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap(),
            old_price: 1_200.0,
            new_price: 1_080.0,
            change_pct: -10.0,
        }],
        last_transactions: vec![RecentTransaction {
            transaction_id: "T-998877".into(),
            sold_at: Utc.with_ymd_and_hms(2026, 11, 21, 23, 58, 1).unwrap(),
            customer_id: "C000123".into(),
            product_id: "P0001".into(),
            product_name: Some(names[0].into()),
            quantity: 2,
            revenue: None,
        }],
        data_quality: DataQuality {
            ingest_date: Some(date),
            files_processed: 4,
            files_quarantined: 1,
            rows_in: 52_000,
            rows_accepted: 51_000,
            rows_rejected: 700,
            duplicates_removed: 300,
            rejected_pct: 1.35,
            rejected_by_rule: BTreeMap::from([("transactions.amount.range".into(), 700)]),
            warnings_by_rule: BTreeMap::from([("transactions.product_id.ref".into(), 12)]),
            quarantined_files: vec![QuarantinedFile {
                dataset: "products".into(),
                source_key: "landing/products/catalog-<2>.json".into(),
                reason: "unreadable: expected value at line 1".into(),
            }],
            datasets: vec![DatasetQuality {
                dataset: "returns<x>".into(),
                files_processed: 1,
                rows_in: 12,
                rows_accepted: 12,
                ..DatasetQuality::default()
            }],
        },
        anomalies: vec![Anomaly {
            kpi: "revenue".into(),
            value: 12_345.67,
            trailing_average: 21_000.0,
            change_pct: -41.21,
            threshold_pct: 30.0,
        }],
        table_versions: [("silver/transactions".to_string(), 3)].into(),
    }
}

/// A report with every list empty.
fn empty() -> DailyReport {
    let mut r = sample();
    r.revenue_trend.clear();
    r.top_products.clear();
    r.sales_by_category.clear();
    r.best_sellers_by_category.clear();
    r.monthly_revenue.clear();
    r.aov_by_country.clear();
    r.heatmap.clear();
    r.funnel.clear();
    r.top_customers.clear();
    r.segments.clear();
    r.cheapest_products.clear();
    r.price_changes.clear();
    r.last_transactions.clear();
    r.anomalies.clear();
    r.data_quality = DataQuality::default();
    r
}

/// The `data-mark` count inside `<svg data-chart="name">`, or `None` if the chart is absent.
fn marks(html: &str, name: &str) -> Option<usize> {
    let start = html.find(&format!("data-chart=\"{name}\""))?;
    let end = start + html[start..].find("</svg>")?;
    Some(html[start..end].matches("data-mark=").count())
}

#[test]
fn renders_a_complete_html5_document() {
    let html = render_html(&sample());
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    for tag in ["svg", "section", "table", "div", "g"] {
        assert_eq!(
            html.matches(&format!("<{tag} ")).count() + html.matches(&format!("<{tag}>")).count(),
            html.matches(&format!("</{tag}>")).count(),
            "unbalanced <{tag}>"
        );
    }
    assert!(!html.contains("NaN") && !html.contains("inf"));
}

#[test]
fn escapes_product_names() {
    let html = render_html(&sample());
    assert!(!html.contains("<b>"));
    assert!(!html.contains("\"Best\""));
    assert!(html.contains("Mug &lt;b&gt;&quot;Best&quot; &amp; Co&#39;s&lt;/b&gt;"));
    assert!(html.contains("catalog-<wbr>&lt;2&gt;.<wbr>json"));
}

#[test]
fn counts_one_mark_per_heatmap_cell() {
    assert_eq!(marks(&render_html(&sample()), "heatmap"), Some(168));
}

#[test]
fn counts_one_mark_per_item_of_every_chart() {
    let r = sample();
    let html = render_html(&r);
    for (name, n) in [
        ("revenue-trend", r.revenue_trend.len()),
        ("top-products", r.top_products.len()),
        ("sales-by-category", r.sales_by_category.len()),
        ("heatmap", r.heatmap.len()),
        ("funnel", r.funnel.len()),
        ("monthly-revenue", r.monthly_revenue.len()),
    ] {
        assert_eq!(html.matches(&format!("data-chart=\"{name}\"")).count(), 1);
        assert_eq!(marks(&html, name), Some(n), "{name}");
    }
    assert_eq!(
        html.matches("data-mark=").count(),
        30 + 10 + 4 + 168 + 5 + 11
    );
}

#[test]
fn renders_empty_lists_without_charts() {
    let html = render_html(&empty());
    assert!(!html.contains("data-chart="));
    assert!(!html.contains("data-mark="));
    // Six charts, seven tables and three data-quality lists.
    assert_eq!(html.matches(EMPTY).count(), 16);
    assert!(html.contains("No anomalies"));
    assert!(!html.contains("NaN"));
}

#[test]
fn contains_no_network_urls() {
    for r in [sample(), empty()] {
        let html = render_html(&r).to_ascii_lowercase();
        for needle in [
            "http:", "https:", "//", "<script", "<link", "<img", "@import", "url(", "src=", "xmlns",
        ] {
            assert!(!html.contains(needle), "found {needle}");
        }
    }
}

#[test]
fn shows_every_kpi_for_day_week_and_month_with_change_arrows() {
    let html = render_html(&sample());
    for label in [
        "Revenue",
        "Transactions",
        "Average order value",
        "Unique customers",
    ] {
        assert!(html.contains(&format!("{label}</h2>")), "{label}");
    }
    assert_eq!(html.matches("<dt>Week to date</dt>").count(), 4);
    assert_eq!(html.matches("<dt>Month to date</dt>").count(), 4);
    assert!(html.contains("12,345.67"));
    assert!(html.contains("70,000.50"));
    assert!(html.contains("class=\"chg up\"><span aria-hidden=\"true\">▲</span> +12.3%"));
    assert!(html.contains("class=\"chg down\"><span aria-hidden=\"true\">▼</span> −4.5%"));
    assert!(html.contains("class=\"chg none\""));
    assert!(html.contains(">—</span>"));
}

#[test]
fn shows_anomalies_prominently_in_the_header() {
    let html = render_html(&sample());
    let alerts = &html[html.find("id=\"anomalies\"").unwrap()..];
    let alerts = &alerts[..alerts.find("</section>").unwrap()];
    assert!(alerts.contains("Revenue"));
    assert!(alerts.contains("12,345.67"));
    assert!(alerts.contains("21,000.00"));
    assert!(alerts.contains("−41.2%"));
    // Before the KPI cards.
    assert!(html.find("id=\"anomalies\"") < html.find("class=\"card s3 kpi\""));
}

#[test]
fn shows_masked_emails_only() {
    let html = render_html(&sample());
    assert!(html.contains("e***@example.com"));
    let mut r = sample();
    r.top_customers[0].email_masked = None;
    assert!(!render_html(&r).contains("@example.com"));
}

#[test]
fn shows_price_changes_and_data_quality() {
    let html = render_html(&sample());
    assert!(html.contains("1,200.00 <span class=\"muted\">→</span> <strong>1,080.00</strong>"));
    assert!(html.contains("▼ −10.0%"));
    assert!(html.contains("<code>transactions.<wbr>amount.<wbr>range</code>"));
    assert!(html.contains("<code>transactions.<wbr>product_id.<wbr>ref</code>"));
    assert!(html.contains("unreadable: expected value at line 1"));
    assert!(html.contains("1.35%"));
    assert!(html.contains("52,000"));
    // Every dataset has a row, user datasets included, escaped like any value.
    assert!(html.contains(
        "<td><code>returns&lt;x&gt;</code></td><td class=\"n\">1</td><td class=\"n\">12</td>"
    ));
}

#[test]
fn survives_non_finite_and_out_of_range_values() {
    let mut r = sample();
    r.revenue_trend[3].revenue = f64::NAN;
    r.top_products[0].revenue = f64::INFINITY;
    r.heatmap[0].weekday = 9;
    r.heatmap[1].hour = 40;
    r.monthly_revenue[0].month = "not a month".into();
    let html = render_html(&r);
    assert!(!html.contains("NaN") && !html.contains("inf\""));
    assert_eq!(marks(&html, "heatmap"), Some(168));
    assert!(html.contains("not a month"));
}
