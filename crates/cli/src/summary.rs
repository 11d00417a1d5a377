//! What the commands print: short, aligned tables for people.

use std::collections::BTreeMap;
use std::path::Path;

use shopflow_core::generate::GenerationReport;
use shopflow_core::ingest::{IngestOutcome, ManifestStatus};
use shopflow_core::report::{DailyReport, kpi};
use shopflow_core::tables::MaintainReport;
use shopflow_core::transform::QualityReport;

fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let numeric = i > 0
                    && c.chars()
                        .next()
                        .is_some_and(|ch| ch.is_ascii_digit() || ch == '-');
                if numeric {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("  {}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}

fn money(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let units = cents / 100;
    let mut s = units.to_string();
    let mut i = s.len() as i64 - 3;
    while i > 0 {
        s.insert(i as usize, ',');
        i -= 3;
    }
    format!("{sign}{s}.{:02}", cents % 100)
}

/// After `generate`.
pub fn print_generation(out: &Path, report: &GenerationReport) {
    println!("generated into {}", out.display());
    let rows: Vec<Vec<String>> = report
        .files
        .iter()
        .map(|f| {
            vec![
                f.file_name.clone(),
                f.dataset.clone(),
                f.rows.to_string(),
                f.bytes.to_string(),
            ]
        })
        .collect();
    table(&["file", "dataset", "rows", "bytes"], &rows);
    println!();
    println!("injected defects (expected outcome):");
    let rows: Vec<Vec<String>> = report
        .defects
        .iter()
        .filter(|d| d.count > 0)
        .map(|d| {
            vec![
                d.dataset.clone(),
                format!("{:?}", d.kind),
                d.rule_id
                    .clone()
                    .unwrap_or_else(|| "(duplicate removed)".into()),
                d.count.to_string(),
            ]
        })
        .collect();
    table(&["dataset", "defect", "caught by", "rows"], &rows);
}

/// After `ingest` / `replay`.
pub fn print_ingest(outcomes: &[IngestOutcome]) {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| match o {
            IngestOutcome::Processed(m) => vec![
                m.source_key.clone(),
                match m.status {
                    ManifestStatus::Processed => "processed".into(),
                    ManifestStatus::FileQuarantined => "FILE QUARANTINED".into(),
                },
                m.rows_in.to_string(),
                m.rows_silver.to_string(),
                m.rows_quarantined.to_string(),
                m.duplicates_removed.to_string(),
                m.rows_replaced.to_string(),
            ],
            IngestOutcome::Superseded { key, .. } => vec![
                key.clone(),
                "superseded (a newer version landed)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
            IngestOutcome::Skipped { key, .. } => vec![
                key.clone(),
                "skipped (already processed)".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    table(
        &[
            "object",
            "status",
            "rows in",
            "silver",
            "quarantined",
            "duplicates",
            "replaced",
        ],
        &rows,
    );
    for o in outcomes {
        if let IngestOutcome::Processed(m) = o
            && let Some(reason) = &m.file_quarantine_reason
        {
            println!("  {}: {reason}", m.source_key);
        }
    }
}

/// After `maintain`: files before and after compaction, files and bytes VACUUM deleted, expired
/// log files deleted.
pub fn print_maintain(reports: &[MaintainReport], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.table.clone(),
                r.files_before.to_string(),
                r.files_after.to_string(),
                r.files_deleted.to_string(),
                r.bytes_deleted.to_string(),
                r.log_files_deleted.to_string(),
                r.version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "table",
            "files before",
            "files after",
            "files deleted",
            "bytes deleted",
            "log files deleted",
            "version",
        ],
        &rows,
    );
    Ok(())
}

/// After `report`.
pub fn print_report(r: &DailyReport) {
    println!("daily report for {}", r.date);
    let labels: Vec<String> = kpi::KPIS.iter().map(|k| k.label.to_lowercase()).collect();
    let values: Vec<String> = kpi::KPIS
        .iter()
        .map(|k| match k.unit {
            kpi::Unit::Money => money(r.kpis.get(k.name)),
            kpi::Unit::Count => (r.kpis.get(k.name) as i64).to_string(),
        })
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    table(&labels, &[values]);
    println!();
    println!("top products:");
    let rows: Vec<Vec<String>> = r
        .top_products
        .iter()
        .map(|p| {
            vec![
                p.product_id.clone(),
                p.name.clone().unwrap_or_default(),
                p.category.clone().unwrap_or_default(),
                p.units.to_string(),
                money(p.revenue),
            ]
        })
        .collect();
    table(&["product", "name", "category", "units", "revenue"], &rows);
    println!();
    println!("sales by category:");
    let rows: Vec<Vec<String>> = r
        .sales_by_category
        .iter()
        .map(|c| {
            vec![
                c.category.clone(),
                money(c.revenue),
                c.transactions.to_string(),
                format!("{:.1}%", c.revenue_share_pct),
            ]
        })
        .collect();
    table(&["category", "revenue", "transactions", "share"], &rows);
}

/// After `demo`.
pub fn print_demo(
    generation: &GenerationReport,
    outcomes: &[IngestOutcome],
    layers: &BTreeMap<String, (u64, u64)>,
    report: &DailyReport,
) {
    println!(
        "ShopFlow demo: {} generated files ingested",
        generation.files.len()
    );
    println!();
    print_ingest(outcomes);
    println!();
    println!("lake layers:");
    let rows: Vec<Vec<String>> = layers
        .iter()
        .map(|(l, (n, b))| {
            vec![
                format!("{l}/"),
                n.to_string(),
                format!("{:.1} KiB", *b as f64 / 1024.0),
            ]
        })
        .collect();
    table(&["layer", "objects", "size"], &rows);
    println!();
    let mut by_rule: BTreeMap<String, (u64, &str)> = BTreeMap::new();
    let mut dups = 0;
    for o in outcomes {
        if let IngestOutcome::Processed(m) = o {
            for (r, n) in &m.rejected_by_rule {
                by_rule.entry(r.clone()).or_insert((0, "rejected")).0 += n;
            }
            for (r, n) in &m.warnings_by_rule {
                by_rule.entry(r.clone()).or_insert((0, "warning")).0 += n;
            }
            dups += m.duplicates_removed;
        }
    }
    println!("data quality (every rejected row is in quarantine/, with its rule and reason):");
    let mut rows: Vec<Vec<String>> = by_rule
        .iter()
        .map(|(r, (n, kind))| vec![r.clone(), (*kind).to_string(), n.to_string()])
        .collect();
    rows.push(vec![
        "exact duplicates".into(),
        "removed".into(),
        dups.to_string(),
    ]);
    table(&["rule", "outcome", "rows"], &rows);
    println!();
    print_report(report);
}

/// After `validate`.
pub fn print_quality(q: &QualityReport) {
    println!("{} against contract {}", q.file, q.dataset);
    if let Some(u) = &q.unreadable {
        println!("  UNREADABLE: {u} (the whole file would be quarantined)");
        return;
    }
    if let Some(read) = &q.read {
        println!(
            "  format: {:?}, compression: {:?}, records: {}",
            read.format, read.compression, read.records
        );
        if !read.unknown_fields.is_empty() {
            println!(
                "  unknown fields (schema drift, kept in bronze): {}",
                read.unknown_fields
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !read.secret_fields_dropped.is_empty() {
            println!(
                "  secret fields dropped: {}",
                read.secret_fields_dropped
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !read.missing_optional.is_empty() {
            println!(
                "  optional columns absent: {}",
                read.missing_optional
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let c = &q.counts;
    println!(
        "  rows: {} in, {} valid, {} rejected, {} exact duplicates",
        c.rows_in, c.rows_valid, c.rows_rejected, c.duplicates_removed
    );
    if let Some(v) = &q.file_verdict {
        println!("  FILE WOULD BE QUARANTINED: {v}");
    }
    let mut rows = Vec::new();
    for (rule, n) in &c.rejected_by_rule {
        let example = q
            .examples
            .get(rule)
            .and_then(|e| e.first())
            .map(|e| format!("row {}: {}", e.row_number, e.reason))
            .unwrap_or_default();
        rows.push(vec![rule.clone(), "reject".into(), n.to_string(), example]);
    }
    for (rule, n) in &c.warnings_by_rule {
        rows.push(vec![
            rule.clone(),
            "warn".into(),
            n.to_string(),
            String::new(),
        ]);
    }
    if !rows.is_empty() {
        table(&["rule", "severity", "rows", "first example"], &rows);
    }
    if !c.skipped_rules.is_empty() {
        println!(
            "  not checked (referenced dataset absent; pass --lake): {}",
            c.skipped_rules.join(", ")
        );
    }
}
