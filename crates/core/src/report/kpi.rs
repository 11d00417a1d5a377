//! The report's headline figures, each written once: [`KPIS`] gives every KPI's name (its key in
//! `report.json`, `kpis.csv` and the anomaly flags), its label, its unit, the SQL aggregate that
//! computes it over `fact_sales` rows, whether it is compared (a dashboard card, its change
//! against the previous period and the anomaly check) and where a figure that is not compared
//! is shown as a note. The period query, the daily figures, the anomaly check, the dashboard's
//! cards, the CLI's table and the report generator's summary all read this table: adding a KPI
//! is one entry here.

/// How a figure is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Currency units, two decimals.
    Money,
    /// A whole number (written as a JSON integer).
    Count,
}

/// Which days a compared KPI's trailing 7-day average (the anomaly check) is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trailing {
    /// Every day since the first sale; a day without sales counts as 0.
    AllDays,
    /// Only days with sales: a ratio (such as the order value) has no value on a day without
    /// any, and a 0 there would drag the average down.
    SellingDays,
}

/// A figure shown under another KPI's card rather than as a card of its own.
#[derive(Debug, Clone, Copy)]
pub struct Note {
    /// The card it is shown under (a compared KPI's name).
    pub under: &'static str,
    /// The note's text from the figure's value and that value formatted for display; `None`
    /// hides the note (e.g. a count of problems that is zero).
    pub text: fn(value: i64, shown: &str) -> Option<String>,
}

/// One KPI.
#[derive(Debug, Clone, Copy)]
pub struct KpiSpec {
    /// Its key in `report.json` (`kpis`, `periods.*.change_pct`), `kpis.csv` and the anomaly
    /// flags; also the column name of the SQL that computes it.
    pub name: &'static str,
    /// What people read on the dashboard, in the CLI and in the summary message.
    pub label: &'static str,
    /// How it is written.
    pub unit: Unit,
    /// An aggregate over `fact_sales` rows (of a period, or of one day when grouped by `dt`):
    /// a SQL expression the engine evaluates as `SELECT {sql} AS {name} FROM fact_sales …`.
    pub sql: &'static str,
    /// `Some` for a compared KPI: a dashboard card, the change against the previous period,
    /// and the anomaly check against the trailing average taken over these days.
    pub compared: Option<Trailing>,
    /// For a figure that is not compared: the note under a card that shows it.
    pub note: Option<Note>,
}

/// Revenue's name: the trend chart and the category shares read it.
pub const REVENUE: &str = "revenue";
/// The transaction count's name: the trend chart reads it.
pub const TRANSACTIONS: &str = "transactions";

/// Every KPI, in the order the dashboard's cards and the tables show them.
pub const KPIS: &[KpiSpec] = &[
    KpiSpec {
        name: REVENUE,
        label: "Revenue",
        unit: Unit::Money,
        sql: "CAST(COALESCE(SUM(revenue), 0) AS DECIMAL(18, 2))",
        compared: Some(Trailing::AllDays),
        note: None,
    },
    KpiSpec {
        name: TRANSACTIONS,
        label: "Transactions",
        unit: Unit::Count,
        // Distinct orders: an order of three lines is one transaction.
        sql: "COUNT(DISTINCT order_key)",
        compared: Some(Trailing::AllDays),
        note: None,
    },
    KpiSpec {
        name: "average_order_value",
        label: "Average order value",
        unit: Unit::Money,
        // Over the orders whose revenue is known, exact to the cent (half up).
        sql: "CAST(SUM(revenue) / NULLIF(COUNT(DISTINCT CASE WHEN revenue IS NOT NULL THEN order_key END), 0) AS DECIMAL(18, 2))",
        compared: Some(Trailing::SellingDays),
        note: None,
    },
    KpiSpec {
        name: "unique_customers",
        label: "Unique customers",
        unit: Unit::Count,
        sql: "COUNT(DISTINCT customer_id)",
        compared: Some(Trailing::AllDays),
        note: None,
    },
    KpiSpec {
        name: "transactions_without_revenue",
        label: "Sales without a known price",
        unit: Unit::Count,
        // Orders with no amount, no unit price and no catalog price: not in revenue or AOV.
        sql: "COUNT(DISTINCT order_key) - COUNT(DISTINCT CASE WHEN revenue IS NOT NULL THEN order_key END)",
        compared: None,
        note: Some(Note {
            under: REVENUE,
            text: |n, shown| {
                (n > 0).then(|| {
                    let noun = if n == 1 { "sale" } else { "sales" };
                    format!("{shown} {noun} without a known price, not in revenue or AOV")
                })
            },
        }),
    },
    KpiSpec {
        name: "units",
        label: "Units sold",
        unit: Unit::Count,
        sql: "COALESCE(SUM(quantity), 0)",
        compared: None,
        note: Some(Note {
            under: TRANSACTIONS,
            text: |_, shown| Some(format!("{shown} units sold")),
        }),
    },
];

/// The spec of the KPI named `name`.
pub fn spec(name: &str) -> Option<&'static KpiSpec> {
    KPIS.iter().find(|k| k.name == name)
}

/// The compared KPIs: the dashboard's cards, the period changes and the anomaly check.
pub fn compared() -> impl Iterator<Item = &'static KpiSpec> {
    KPIS.iter().filter(|k| k.compared.is_some())
}

/// The select list computing `kpis` over `fact_sales` rows: `{sql} AS {name}, …`.
pub fn select_list<'a>(kpis: impl IntoIterator<Item = &'a KpiSpec>) -> String {
    kpis.into_iter()
        .map(|k| format!("{} AS {}", k.sql, k.name))
        .collect::<Vec<_>>()
        .join(",\n       ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_usable_as_sql_columns() {
        let names: BTreeSet<_> = KPIS.iter().map(|k| k.name).collect();
        assert_eq!(names.len(), KPIS.len());
        for k in KPIS {
            assert!(
                k.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                k.name
            );
        }
    }

    #[test]
    fn a_kpi_is_either_compared_or_a_note_under_a_compared_card() {
        for k in KPIS {
            match (k.compared, k.note) {
                (Some(_), None) => {}
                (None, Some(note)) => assert!(
                    spec(note.under).is_some_and(|c| c.compared.is_some()),
                    "{} is noted under {}, which is not a card",
                    k.name,
                    note.under
                ),
                _ => panic!("{} must be compared or a note, not both or neither", k.name),
            }
        }
    }

    #[test]
    fn the_select_list_names_every_kpi_by_its_name() {
        let list = select_list(KPIS);
        for k in KPIS {
            assert!(list.contains(&format!("{} AS {}", k.sql, k.name)), "{list}");
        }
    }
}
