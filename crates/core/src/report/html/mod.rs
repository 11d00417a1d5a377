//! The daily report as one self-contained HTML5 dashboard.
//!
//! [`render_html`] is a pure function of the [`DailyReport`]: no clock, no I/O, no randomness,
//! so the same report always renders to the same bytes. The page loads nothing: no script, no
//! stylesheet, font or image, and no URL of any kind appears in it, so it opens offline, from a
//! mail attachment or an S3 download alike. Styles are one inline `<style>` block (from `dashboard.css` beside this file); charts are
//! inline SVG drawn here.
//!
//! Every chart is an `<svg data-chart="NAME">` — `revenue-trend`, `top-products`,
//! `sales-by-category`, `heatmap`, `funnel`, `monthly-revenue` — holding exactly one
//! `data-mark` element per item of its list (a point per trend day, a bar per product,
//! category, funnel step or month, a cell per heatmap entry), with an SVG `<title>` as the hover
//! tooltip. A chart or table whose list is empty is replaced by "No data for this period".
//!
//! Every text taken from the report is HTML-escaped; money is shown with thousands separators
//! and two decimals. Customers appear only as the report gives them: id, masked email,
//! country and their figures.
//!
//! The layout is a 12-column CSS grid of cards (KPI cards four to a row) that collapses to one
//! column on a phone; SVG text is enlarged there so the scaled-down charts stay legible, and
//! tables scroll inside their card instead of widening the page.

use std::fmt::Write as _;

use super::kpi::{self, KpiSpec};
use super::model::{Anomaly, DailyReport, PeriodKpis};

use charts::{
    category_chart, funnel_chart, heatmap_chart, monthly_chart, top_products_chart, trend_chart,
    trend_summary,
};
use format::{
    change_badge, count, esc, fin, kpi_label, kpi_value, long_date, pct, range_label, short_date,
    timestamp,
};
use tables::{data_quality, tables};

/// `write!` into a `String`, which cannot fail. Defined before the `mod` items below, so the
/// submodules can use it too; a module that uses it imports `std::fmt::Write`.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod charts;
mod format;
mod tables;
#[cfg(test)]
mod tests;

/// What an empty chart or table shows instead.
const EMPTY: &str = "No data for this period";

/// Renders `report` as a complete, self-contained HTML5 page (see the module docs for what it
/// shows and the guarantees it keeps: no network fetch, every text escaped, one `data-mark`
/// per chart item).
pub fn render_html(report: &DailyReport) -> String {
    let mut out = String::with_capacity(96 * 1024);
    put!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n\
         <title>ShopFlow daily report — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <div class=\"wrap\">\n",
        report.date
    );
    header(&mut out, report);
    out.push_str("<main class=\"grid\">\n");
    kpi_cards(&mut out, report);

    let trend_note = trend_summary(&report.revenue_trend);
    card(
        &mut out,
        "s8",
        "trend",
        "Revenue, last 30 days",
        &trend_note,
        |o| trend_chart(o, &report.revenue_trend),
    );
    card(
        &mut out,
        "s4",
        "monthly",
        "Monthly revenue",
        "By calendar month; the last one is month to date",
        |o| monthly_chart(o, &report.monthly_revenue),
    );
    card(
        &mut out,
        "s6",
        "products",
        "Top 10 products",
        "The day's revenue by product",
        |o| top_products_chart(o, &report.top_products),
    );
    card(
        &mut out,
        "s6",
        "categories",
        "Sales by category",
        "The day's revenue and share by category",
        |o| category_chart(o, &report.sales_by_category),
    );
    card(
        &mut out,
        "s8",
        "heatmap",
        "Sales by weekday and hour",
        "Revenue, trailing 30 days, UTC hours; darker is more",
        |o| heatmap_chart(o, &report.heatmap),
    );
    card(
        &mut out,
        "s4",
        "funnel",
        "Conversion funnel",
        "The day's sessions reaching each step",
        |o| funnel_chart(o, &report.funnel),
    );
    tables(&mut out, report);
    data_quality(&mut out, &report.data_quality);
    out.push_str("</main>\n");
    put!(
        out,
        "<footer class=\"foot\">ShopFlow daily report for {} · generated {} · \
         this page is self-contained and loads nothing from the network</footer>\n\
         </div>\n</body>\n</html>\n",
        report.date,
        timestamp(report.generated_at)
    );
    out
}

fn empty_state(out: &mut String, hint: &str) {
    put!(out, "<div class=\"empty\"><p>{EMPTY}</p>");
    if !hint.is_empty() {
        put!(out, "<p class=\"hint\">{}</p>", esc(hint));
    }
    out.push_str("</div>\n");
}

/// A card of the grid: `span` is its width class, `id` its anchor, then its title, a note under
/// the title and its body.
fn card(
    out: &mut String,
    span: &str,
    id: &str,
    title: &str,
    note: &str,
    body: impl FnOnce(&mut String),
) {
    put!(
        out,
        "<section class=\"card {span}\" id=\"{id}\" aria-labelledby=\"{id}-h\">\n\
         <div class=\"card-h\"><h2 id=\"{id}-h\">{}</h2>",
        esc(title)
    );
    if !note.is_empty() {
        put!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    out.push_str("</div>\n");
    body(out);
    out.push_str("</section>\n");
}

fn header(out: &mut String, r: &DailyReport) {
    let dq = &r.data_quality;
    put!(
        out,
        "<header class=\"top\">\n<div class=\"top-main\">\n\
         <p class=\"brand\"><span class=\"logo\" aria-hidden=\"true\"></span>ShopFlow · daily report</p>\n\
         <h1>{}</h1>\n<p class=\"meta\">Generated {}",
        long_date(r.date),
        timestamp(r.generated_at)
    );
    match dq.ingest_date {
        Some(d) => put!(out, " · data quality of ingest day {d}"),
        None => out.push_str(" · no ingestion recorded"),
    }
    out.push_str("</p>\n</div>\n<div class=\"pills\">");
    if r.anomalies.is_empty() {
        out.push_str("<span class=\"pill ok\">No anomalies</span>");
    } else {
        let n = r.anomalies.len();
        put!(
            out,
            "<a class=\"pill bad\" href=\"#anomalies\">{n} {}</a>",
            if n == 1 { "anomaly" } else { "anomalies" }
        );
    }
    let dq_class = if dq.rows_rejected > 0 || dq.files_quarantined > 0 {
        "warn"
    } else {
        "ok"
    };
    put!(
        out,
        "<a class=\"pill {dq_class}\" href=\"#data-quality\">{} rejected",
        pct(dq.rejected_pct, 2)
    );
    if dq.files_quarantined > 0 {
        put!(
            out,
            " · {} {} quarantined",
            count(dq.files_quarantined),
            if dq.files_quarantined == 1 {
                "file"
            } else {
                "files"
            }
        );
    }
    out.push_str("</a></div>\n</header>\n");
    if !r.anomalies.is_empty() {
        anomalies(out, &r.anomalies);
    }
}

fn anomalies(out: &mut String, list: &[Anomaly]) {
    put!(
        out,
        "<section class=\"alerts\" id=\"anomalies\" role=\"alert\" aria-labelledby=\"anomalies-h\">\n\
         <h2 id=\"anomalies-h\"><span aria-hidden=\"true\">⚠</span> {} moved abnormally against the 7-day average</h2>\n<ul>\n",
        if list.len() == 1 {
            "1 KPI".to_string()
        } else {
            format!("{} KPIs", list.len())
        }
    );
    for a in list {
        let (label, unit) = kpi_label(&a.kpi);
        put!(
            out,
            "<li><span class=\"a-kpi\">{}</span> <span class=\"a-val\">{}</span> {} \
             <span class=\"a-ctx\">vs 7-day average {} · threshold ±{}</span></li>\n",
            esc(label),
            kpi_value(unit, a.value),
            change_badge(Some(a.change_pct)),
            kpi_value(unit, a.trailing_average),
            pct(
                a.threshold_pct,
                if fin(a.threshold_pct).fract() == 0.0 {
                    0
                } else {
                    1
                }
            )
        );
    }
    out.push_str("</ul>\n</section>\n");
}

/// The KPI cards: one per compared KPI of the [table](kpi::KPIS), with the day against the
/// day before, the week and month to date, and the notes of the KPIs shown under it.
fn kpi_cards(out: &mut String, r: &DailyReport) {
    let p = &r.periods;
    for (i, d) in kpi::compared().enumerate() {
        let day = &p.day;
        put!(
            out,
            "<section class=\"card s3 kpi\" aria-labelledby=\"kpi{i}-h\">\n\
             <h2 id=\"kpi{i}-h\">{}</h2>\n\
             <div class=\"kpi-main\"><span class=\"kpi-value\">{}</span>{}</div>\n\
             <p class=\"kpi-cmp\">vs {} on {}</p>\n<dl class=\"kpi-periods\">\n",
            d.label,
            kpi_value(d.unit, day.current.get(d.name)),
            change_badge(day.change_pct.get(d.name)),
            kpi_value(d.unit, day.previous.get(d.name)),
            short_date(day.previous_start),
        );
        for (name, period) in [
            ("Week to date", &p.week_to_date),
            ("Month to date", &p.month_to_date),
        ] {
            kpi_period_row(out, name, period, d);
        }
        out.push_str("</dl>\n");
        for noted in kpi::KPIS {
            let Some(note) = noted.note.filter(|n| n.under == d.name) else {
                continue;
            };
            // The report's headline figures (`kpis`) are the day's.
            let value = r.kpis.get(noted.name);
            if let Some(text) = (note.text)(value as i64, &kpi_value(noted.unit, value)) {
                put!(out, "<p class=\"kpi-foot\">{}</p>\n", esc(&text));
            }
        }
        out.push_str("</section>\n");
    }
}

fn kpi_period_row(out: &mut String, name: &str, period: &PeriodKpis, d: &KpiSpec) {
    put!(
        out,
        "<div title=\"{name} {} vs {}: {}\"><dt>{name}</dt><dd><span class=\"pv\">{}</span>{}</dd></div>\n",
        range_label(period.start, period.end),
        range_label(period.previous_start, period.previous_end),
        kpi_value(d.unit, period.previous.get(d.name)),
        kpi_value(d.unit, period.current.get(d.name)),
        change_badge(period.change_pct.get(d.name)),
    );
}

/// The page's only stylesheet. System fonts, a light calm palette, a 12-column grid that
/// collapses on narrow screens. SVG text sizes are in viewBox units; on a phone the wide charts
/// (`.big`, 720 units) and bar charts (`.bars`, 560 units) enlarge them to stay legible, and
/// drop every other axis label (`.minor`).
const CSS: &str = include_str!("dashboard.css");
