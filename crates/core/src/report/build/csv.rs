//! The report's tables as CSV files, every cell neutralized against spreadsheet formulas.

use serde::Serialize;

use crate::report::ReportError;
use crate::report::kpi::{self, KPIS, Unit};
use crate::report::model::{DailyReport, Periods};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{DataQuality, Kpis};

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
