//! The dashboard's HTML tables: best sellers, price changes, top customers, segments, order
//! value by country, cheapest products, last transactions, and the data-quality card.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::model::{DailyReport, DataQuality};

use super::format::{count, esc, fixed, money, pct};
use super::{card, empty_state};

/// A table inside a horizontally scrolling wrapper. `cols` are (heading, numeric); cells are
/// HTML already escaped.
fn table(out: &mut String, label: &str, cols: &[(&str, bool)], rows: &[Vec<String>]) {
    put!(
        out,
        "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-label=\"{}\">\n<table>\n<thead><tr>",
        esc(label)
    );
    for (head, num) in cols {
        put!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            if *num { " class=\"n\"" } else { "" },
            esc(head)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = match cols.get(i) {
                Some((_, true)) => " class=\"n\"",
                _ => "",
            };
            put!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// A table card, or the empty state when there are no rows.
fn table_card(
    out: &mut String,
    span: &str,
    id: &str,
    title: &str,
    note: &str,
    cols: &[(&str, bool)],
    rows: &[Vec<String>],
) {
    card(out, span, id, title, note, |o| {
        if rows.is_empty() {
            empty_state(o, "");
        } else {
            table(o, title, cols, rows);
        }
    });
}

fn opt_text(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => esc(s).to_string(),
        _ => "<span class=\"muted\">—</span>".to_string(),
    }
}

/// A long text cell that may wrap.
fn wrap_cell(s: &str) -> String {
    format!("<span class=\"wrap-t\">{}</span>", esc(s))
}

pub(super) fn tables(out: &mut String, r: &DailyReport) {
    best_sellers_table(out, r);
    price_changes_table(out, r);
    top_customers_table(out, r);
    segments_table(out, r);
    aov_by_country_table(out, r);
    cheapest_table(out, r);
    last_transactions_table(out, r);
}

fn best_sellers_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .best_sellers_by_category
        .iter()
        .map(|b| {
            vec![
                esc(&b.category).to_string(),
                wrap_cell(b.name.as_deref().unwrap_or(&b.product_id)),
                count(b.units),
                money(b.revenue),
            ]
        })
        .collect();
    table_card(
        out,
        "s6",
        "best-sellers",
        "Best sellers by category",
        "Most units sold, trailing 30 days",
        &[
            ("Category", false),
            ("Product", false),
            ("Units", true),
            ("Revenue", true),
        ],
        &rows,
    );
}

fn price_changes_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .price_changes
        .iter()
        .map(|p| {
            vec![
                wrap_cell(&p.name),
                p.changed_at.format("%Y-%m-%d").to_string(),
                format!(
                    "{} <span class=\"muted\">→</span> <strong>{}</strong>",
                    money(p.old_price),
                    money(p.new_price)
                ),
                price_change(p.change_pct),
            ]
        })
        .collect();
    table_card(
        out,
        "s6",
        "price-changes",
        "Recent price changes",
        "Last 30 days, latest first",
        &[
            ("Product", false),
            ("Changed", false),
            ("Old → new", true),
            ("Change", true),
        ],
        &rows,
    );
}

fn top_customers_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .top_customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                count(i as i128 + 1),
                format!(
                    "{}<span class=\"sub\">{}</span>",
                    opt_text(c.email_masked.as_deref()),
                    esc(&c.customer_id)
                ),
                opt_text(c.country.as_deref()),
                count(c.orders),
                money(c.revenue),
                c.last_purchase.to_string(),
                format!("<span class=\"tag\">{}</span>", esc(&c.segment)),
            ]
        })
        .collect();
    table_card(
        out,
        "s8",
        "top-customers",
        "Top 10 customers",
        "By lifetime spend; emails masked",
        &[
            ("#", true),
            ("Customer", false),
            ("Country", false),
            ("Orders", true),
            ("Spend", true),
            ("Last order", false),
            ("Segment", false),
        ],
        &rows,
    );
}

fn segments_table(out: &mut String, r: &DailyReport) {
    let total_customers: u64 = r.segments.iter().map(|s| s.customers).sum();
    let rows: Vec<Vec<String>> = r
        .segments
        .iter()
        .map(|s| {
            let share = if total_customers == 0 {
                0.0
            } else {
                s.customers as f64 * 100.0 / total_customers as f64
            };
            vec![
                format!(
                    "<span class=\"tag\">{}</span><span class=\"sub\">{} {} · {}</span>",
                    esc(&s.segment),
                    count(s.customers),
                    if s.customers == 1 {
                        "customer"
                    } else {
                        "customers"
                    },
                    pct(share, 1)
                ),
                money(s.revenue),
            ]
        })
        .collect();
    table_card(
        out,
        "s4",
        "segments",
        "Customer segments",
        "RFM segments: customers, share and lifetime revenue",
        &[("Segment", false), ("Revenue", true)],
        &rows,
    );
}

fn aov_by_country_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .aov_by_country
        .iter()
        .map(|c| {
            vec![
                esc(&c.country).to_string(),
                count(c.transactions),
                money(c.revenue),
                format!("<strong>{}</strong>", money(c.average_order_value)),
            ]
        })
        .collect();
    table_card(
        out,
        "s6",
        "aov-country",
        "Average order value by country",
        "Customers' country, trailing 30 days",
        &[
            ("Country", false),
            ("Transactions", true),
            ("Revenue", true),
            ("AOV", true),
        ],
        &rows,
    );
}

fn cheapest_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .cheapest_products
        .iter()
        .map(|p| {
            vec![
                wrap_cell(&p.name),
                esc(&p.category).to_string(),
                format!("<strong>{}</strong>", money(p.price)),
            ]
        })
        .collect();
    table_card(
        out,
        "s6",
        "cheapest",
        "Cheapest products",
        "Current catalog prices",
        &[("Product", false), ("Category", false), ("Price", true)],
        &rows,
    );
}

fn last_transactions_table(out: &mut String, r: &DailyReport) {
    let rows: Vec<Vec<String>> = r
        .last_transactions
        .iter()
        .map(|t| {
            vec![
                t.sold_at.format("%H:%M:%S").to_string(),
                wrap_cell(t.product_name.as_deref().unwrap_or(&t.product_id)),
                count(t.quantity),
                t.revenue
                    .map(money)
                    .unwrap_or_else(|| "<span class=\"muted\">—</span>".to_string()),
                esc(&t.customer_id).to_string(),
                esc(&t.transaction_id).to_string(),
            ]
        })
        .collect();
    table_card(
        out,
        "s12",
        "last-transactions",
        "Latest transactions",
        "The day's 10 latest sales, UTC",
        &[
            ("Time", false),
            ("Product", false),
            ("Qty", true),
            ("Revenue", true),
            ("Customer", false),
            ("Transaction", false),
        ],
        &rows,
    );
}

/// A price change, signed, neutral colour (a rise is not good or bad in itself).
fn price_change(c: f64) -> String {
    if !c.is_finite() {
        return "—".to_string();
    }
    let shown = fixed(c.abs(), 1);
    let (arrow, sign) = if shown == "0.0" {
        ("", "")
    } else if c > 0.0 {
        ("▲ ", "+")
    } else {
        ("▼ ", "−")
    };
    format!("<span class=\"pc\">{arrow}{sign}{shown}%</span>")
}

pub(super) fn data_quality(out: &mut String, dq: &DataQuality) {
    let note = match dq.ingest_date {
        Some(d) => format!(
            "Ingest day {d} · {} {} processed",
            count(dq.files_processed),
            if dq.files_processed == 1 {
                "file"
            } else {
                "files"
            }
        ),
        None => "No file ingested yet".to_string(),
    };
    card(out, "s12", "data-quality", "Data quality", &note, |o| {
        let share = |n: u64| {
            if dq.rows_in == 0 {
                0.0
            } else {
                n as f64 * 100.0 / dq.rows_in as f64
            }
        };
        o.push_str("<div class=\"stats\">\n");
        let tiles: [(&str, String, String, &str); 5] = [
            ("Rows in", count(dq.rows_in), String::new(), ""),
            (
                "Accepted",
                count(dq.rows_accepted),
                pct(share(dq.rows_accepted), 2),
                "good",
            ),
            (
                "Rejected",
                count(dq.rows_rejected),
                pct(dq.rejected_pct, 2),
                if dq.rows_rejected > 0 { "bad" } else { "" },
            ),
            (
                "Duplicates removed",
                count(dq.duplicates_removed),
                pct(share(dq.duplicates_removed), 2),
                "",
            ),
            (
                "Files quarantined",
                count(dq.files_quarantined),
                format!("of {}", count(dq.files_processed)),
                if dq.files_quarantined > 0 { "bad" } else { "" },
            ),
        ];
        for (label, value, sub, class) in tiles {
            put!(
                o,
                "<div class=\"stat {class}\"><span class=\"stat-l\">{label}</span>\
                 <span class=\"stat-v\">{value}</span><span class=\"stat-s\">{}</span></div>\n",
                if sub.is_empty() {
                    "&#160;".to_string()
                } else {
                    sub
                }
            );
        }
        o.push_str("</div>\n");
        if dq.rows_in > 0 {
            let parts = [
                ("acc", dq.rows_accepted, "accepted"),
                ("rej", dq.rows_rejected, "rejected"),
                ("dup", dq.duplicates_removed, "duplicates"),
            ];
            o.push_str("<div class=\"stack\" aria-hidden=\"true\">");
            for (class, n, _) in parts {
                if n > 0 {
                    put!(
                        o,
                        "<span class=\"{class}\" style=\"width:{:.3}%\"></span>",
                        share(n)
                    );
                }
            }
            o.push_str("</div>\n<p class=\"legend\">");
            for (class, n, label) in parts {
                put!(
                    o,
                    "<span><i class=\"sw {class}\"></i>{label} {}</span>",
                    pct(share(n), 2)
                );
            }
            o.push_str("</p>\n");
        }
        if !dq.datasets.is_empty() {
            o.push_str("<h3>By dataset</h3>\n");
            let rows: Vec<Vec<String>> = dq
                .datasets
                .iter()
                .map(|d| {
                    vec![
                        format!("<code>{}</code>", esc(&d.dataset)),
                        count(d.files_processed),
                        count(d.rows_in),
                        count(d.rows_accepted),
                        count(d.rows_rejected),
                        pct(d.rejected_pct, 2),
                        count(d.duplicates_removed),
                        count(d.files_quarantined),
                    ]
                })
                .collect();
            table(
                o,
                "Data quality by dataset",
                &[
                    ("Dataset", false),
                    ("Files", true),
                    ("Rows in", true),
                    ("Accepted", true),
                    ("Rejected", true),
                    ("Rejected %", true),
                    ("Duplicates", true),
                    ("Files quarantined", true),
                ],
                &rows,
            );
        }
        o.push_str("<div class=\"dq-grid\">\n<div>\n<h3>Rejected rows by rule</h3>\n");
        if dq.rejected_by_rule.is_empty() {
            empty_state(o, "No row was rejected.");
        } else {
            let rows: Vec<Vec<String>> = by_count(&dq.rejected_by_rule)
                .into_iter()
                .map(|(rule, n)| {
                    let of = if dq.rows_rejected == 0 {
                        0.0
                    } else {
                        n as f64 * 100.0 / dq.rows_rejected as f64
                    };
                    vec![rule_code(rule), count(n), pct(of, 1)]
                })
                .collect();
            table(
                o,
                "Rejected rows by rule",
                &[("Rule", false), ("Rows", true), ("Of rejected", true)],
                &rows,
            );
        }
        o.push_str("</div>\n<div>\n<h3>Warnings by rule</h3>\n");
        if dq.warnings_by_rule.is_empty() {
            empty_state(o, "No row was kept with a warning.");
        } else {
            let rows: Vec<Vec<String>> = by_count(&dq.warnings_by_rule)
                .into_iter()
                .map(|(rule, n)| vec![rule_code(rule), count(n)])
                .collect();
            table(
                o,
                "Warnings by rule",
                &[("Rule", false), ("Rows kept", true)],
                &rows,
            );
        }
        o.push_str("</div>\n<div class=\"dq-files\">\n<h3>Files quarantined whole</h3>\n");
        if dq.quarantined_files.is_empty() {
            empty_state(o, "No file was quarantined.");
        } else {
            o.push_str("<ul class=\"qfiles\">\n");
            for f in &dq.quarantined_files {
                put!(
                    o,
                    "<li><div class=\"qf-h\"><span class=\"tag\">{}</span><code>{}</code></div>\
                     <p>{}</p></li>\n",
                    esc(&f.dataset),
                    breakable(&f.source_key, &['/', '-', '_', '.']),
                    esc(&f.reason)
                );
            }
            o.push_str("</ul>\n");
        }
        o.push_str("</div>\n</div>\n");
    });
}

/// Rule counts, largest first (then by rule id).
fn by_count(m: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = m.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// A rule id as code that may break after its dots on a narrow screen.
fn rule_code(rule: &str) -> String {
    format!("<code>{}</code>", breakable(rule, &['.']))
}

/// `s` escaped, with a line-break opportunity (`<wbr>`) after each of `after`.
fn breakable(s: &str, after: &[char]) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if after.contains(&c) {
            let end = i + c.len_utf8();
            put!(out, "{}<wbr>", esc(&s[start..end]));
            start = end;
        }
    }
    put!(out, "{}", esc(&s[start..]));
    out
}
