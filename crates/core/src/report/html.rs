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

use std::collections::BTreeMap;
use std::fmt::{self, Display, Write as _};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::kpi::{self, KpiSpec, Unit};
use super::model::{
    Anomaly, CategorySales, DailyReport, DataQuality, FunnelStep, HeatCell, MonthRevenue,
    PeriodKpis, ProductSales, TrendPoint,
};

/// `write!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

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

// ---------------------------------------------------------------------------------------------
// Text and number formatting
// ---------------------------------------------------------------------------------------------

/// HTML-escapes a text for element content and quoted attribute values; control characters
/// (invalid in HTML) become U+FFFD.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut last = 0;
        for (i, c) in s.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                '\t' | '\n' | '\r' => continue,
                c if c.is_control() => "\u{FFFD}",
                _ => continue,
            };
            f.write_str(&s[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&s[last..])
    }
}

fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.truncate(t.trim_end().len());
        t.push('…');
        t
    }
}

/// Inserts thousands separators into a run of ASCII digits.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with `decimals` decimals and thousands separators; "—" when not finite; never "-0.00".
fn fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s.as_str(), None),
    };
    let negative = x < 0.0 && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&group_digits(int));
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Money: thousands separators and two decimals.
fn money(x: f64) -> String {
    fixed(x, 2)
}

/// A count with thousands separators.
fn count(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let g = group_digits(&n.unsigned_abs().to_string());
    if n < 0 { format!("−{g}") } else { g }
}

/// A percentage with `decimals` decimals.
fn pct(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{}%", fixed(x, decimals))
    } else {
        "—".to_string()
    }
}

/// A short axis label: 950, 1.2k, 12k, 3.4M.
fn compact(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let a = x.abs();
    let (v, suffix) = if a >= 1e9 {
        (x / 1e9, "B")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let decimals = if v.abs() >= 100.0 || suffix.is_empty() && v.fract() == 0.0 {
        0
    } else if suffix.is_empty() {
        2
    } else {
        1
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.truncate(s.trim_end_matches('0').trim_end_matches('.').len());
    }
    format!("{s}{suffix}")
}

/// A finite number, 0 otherwise (chart geometry must never print NaN).
fn fin(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A round axis maximum and tick step covering `max` in about four steps.
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 2.5 {
            2.5
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    ((max / step).ceil() * step, step)
}

fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

fn short_date(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "Fri 20 Nov", "16–20 Nov" or "28 Oct – 2 Nov".
fn range_label(a: NaiveDate, b: NaiveDate) -> String {
    if a == b {
        short_date(a)
    } else if a.year() == b.year() && a.month() == b.month() {
        format!("{}–{}", a.day(), b.format("%-d %b"))
    } else {
        format!("{} – {}", a.format("%-d %b"), b.format("%-d %b"))
    }
}

fn kpi_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Money => money(v),
        Unit::Count if fin(v).fract() == 0.0 => fixed(v, 0),
        Unit::Count => fixed(v, 1),
    }
}

/// A change badge: ▲ green, ▼ red, "—" when there is no comparison.
fn change_badge(change: Option<f64>) -> String {
    match change.filter(|c| c.is_finite()) {
        None => "<span class=\"chg none\" title=\"No comparison: the previous period was zero\">—</span>"
            .to_string(),
        Some(c) => {
            let shown = fixed(c.abs(), 1);
            if shown == "0.0" {
                "<span class=\"chg flat\">0.0%</span>".to_string()
            } else if c > 0.0 {
                format!(
                    "<span class=\"chg up\"><span aria-hidden=\"true\">▲</span> +{shown}%</span>"
                )
            } else {
                format!(
                    "<span class=\"chg down\"><span aria-hidden=\"true\">▼</span> −{shown}%</span>"
                )
            }
        }
    }
}

/// A KPI's label and unit from the KPI table; a name the table does not have (a report written
/// by another version) is shown as it is, as money.
fn kpi_label(kpi: &str) -> (&str, Unit) {
    match kpi::spec(kpi) {
        Some(k) => (k.label, k.unit),
        None => (kpi, Unit::Money),
    }
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

// ---------------------------------------------------------------------------------------------
// Header and KPI cards
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

fn svg_open(out: &mut String, name: &str, class: &str, w: f64, h: f64, label: &str) {
    put!(
        out,
        "<svg class=\"chart {class}\" data-chart=\"{name}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         role=\"img\" aria-label=\"{}\">\n",
        esc(label)
    );
}

fn trend_summary(points: &[TrendPoint]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let total: f64 = points.iter().map(|p| fin(p.revenue)).sum();
    let mut best = &points[0];
    for p in points {
        if fin(p.revenue) > fin(best.revenue) {
            best = p;
        }
    }
    format!(
        "Total {} · daily average {} · best day {} ({})",
        money(total),
        money(total / points.len() as f64),
        short_date(best.date),
        money(best.revenue)
    )
}

fn trend_chart(out: &mut String, points: &[TrendPoint]) {
    if points.is_empty() {
        empty_state(out, "No sales in the 30 days up to this date.");
        return;
    }
    let (w, h) = (720.0, 270.0);
    let (ml, mr, mt, mb) = (64.0, 24.0, 14.0, 38.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let max = points.iter().map(|p| fin(p.revenue)).fold(0.0, f64::max);
    let (top, step) = nice_axis(max);
    let n = points.len();
    let x = |i: usize| {
        if n > 1 {
            ml + pw * i as f64 / (n - 1) as f64
        } else {
            ml + pw / 2.0
        }
    };
    let y = |v: f64| mt + ph - (fin(v).clamp(0.0, top) / top) * ph;
    svg_open(
        out,
        "revenue-trend",
        "big",
        w,
        h,
        "Daily revenue over the last 30 days",
    );
    // Grid lines and y labels.
    let ticks = (top / step).round() as usize;
    for t in 0..=ticks {
        let v = step * t as f64;
        let yy = y(v);
        put!(
            out,
            "<line class=\"grid-l\" x1=\"{ml:.1}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{yy:.1}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>\n",
            w - mr,
            ml - 10.0,
            compact(v)
        );
    }
    // X labels: the report date and every k-th day before it.
    let k = n.div_ceil(6).max(1);
    for i in (0..n).rev().step_by(k) {
        let nth = (n - 1 - i) / k;
        let anchor = if i == n - 1 && n > 1 { "end" } else { "middle" };
        let minor = if nth % 2 == 1 { " minor" } else { "" };
        put!(
            out,
            "<text class=\"ax{minor}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>\n",
            x(i) + if anchor == "end" { 6.0 } else { 0.0 },
            h - 10.0,
            points[i].date.format("%-d %b")
        );
    }
    // Area and line.
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        put!(
            line,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            x(i),
            y(p.revenue)
        );
    }
    put!(
        out,
        "<path class=\"area\" d=\"{line} L{:.1},{:.1} L{:.1},{:.1} Z\"/>\n\
         <path class=\"line\" d=\"{line}\"/>\n",
        x(n - 1),
        mt + ph,
        x(0),
        mt + ph
    );
    // Points, each with a full-height hover band.
    let band = if n > 1 { pw / (n - 1) as f64 } else { pw };
    for (i, p) in points.iter().enumerate() {
        let last = i == n - 1;
        put!(
            out,
            "<g class=\"pt{}\"><title>{} — revenue {} · {} transactions</title>\
             <rect class=\"hit\" x=\"{:.1}\" y=\"{mt:.1}\" width=\"{band:.1}\" height=\"{ph:.1}\"/>\
             <circle data-mark=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\"/></g>\n",
            if last { " last" } else { "" },
            long_date(p.date),
            money(p.revenue),
            count(p.transactions),
            x(i) - band / 2.0,
            x(i),
            y(p.revenue),
            if last { "5" } else { "3.5" }
        );
    }
    out.push_str("</svg>\n");
}

/// One row of a horizontal bar chart.
struct BarRow {
    label: String,
    value_text: String,
    value: f64,
    tooltip: String,
}

/// Horizontal bars, each under its label and value: reads well at any width.
fn hbar_chart(out: &mut String, name: &str, aria: &str, colour: &str, rows: &[BarRow]) {
    let w = 560.0;
    let row_h = 50.0;
    let h = rows.len() as f64 * row_h;
    let max = rows.iter().map(|r| fin(r.value)).fold(0.0, f64::max);
    svg_open(out, name, "bars", w, h, aria);
    for (i, r) in rows.iter().enumerate() {
        let y0 = 2.0 + i as f64 * row_h;
        let bw = if max > 0.0 {
            (fin(r.value).max(0.0) / max * w).max(if r.value > 0.0 { 3.0 } else { 0.0 })
        } else {
            0.0
        };
        put!(
            out,
            "<g class=\"bar-row\"><title>{}</title>\
             <text class=\"lbl\" x=\"0\" y=\"{:.1}\">{}</text>\
             <text class=\"val\" x=\"{w:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"track\" x=\"0\" y=\"{:.1}\" width=\"{w:.0}\" height=\"12\" rx=\"6\"/>\
             <rect class=\"bar\" data-mark=\"bar\" x=\"0\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"12\" rx=\"6\" fill=\"{colour}\"/></g>\n",
            esc(&r.tooltip),
            y0 + 17.0,
            esc(&r.label),
            y0 + 17.0,
            esc(&r.value_text),
            y0 + 27.0,
            y0 + 27.0,
        );
    }
    out.push_str("</svg>\n");
}

fn product_label(p: &ProductSales) -> &str {
    p.name.as_deref().unwrap_or(&p.product_id)
}

fn top_products_chart(out: &mut String, products: &[ProductSales]) {
    if products.is_empty() {
        empty_state(out, "No product sold on this day.");
        return;
    }
    let rows: Vec<BarRow> = products
        .iter()
        .enumerate()
        .map(|(i, p)| BarRow {
            label: format!("{}. {}", i + 1, truncate(product_label(p), 32)),
            value_text: money(p.revenue),
            value: p.revenue,
            tooltip: format!(
                "{} ({}{}) — revenue {} · {} units",
                product_label(p),
                p.product_id,
                p.category
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default(),
                money(p.revenue),
                count(p.units)
            ),
        })
        .collect();
    hbar_chart(
        out,
        "top-products",
        "The day's top products by revenue",
        "#3d74c4",
        &rows,
    );
}

fn category_chart(out: &mut String, cats: &[CategorySales]) {
    if cats.is_empty() {
        empty_state(out, "No sales on this day.");
        return;
    }
    let rows: Vec<BarRow> = cats
        .iter()
        .map(|c| BarRow {
            label: truncate(&c.category, 28),
            value_text: format!("{} · {}", money(c.revenue), pct(c.revenue_share_pct, 1)),
            value: c.revenue,
            tooltip: format!(
                "{} — revenue {} ({} of the day) · {} transactions · {} units",
                c.category,
                money(c.revenue),
                pct(c.revenue_share_pct, 1),
                count(c.transactions),
                count(c.units)
            ),
        })
        .collect();
    hbar_chart(
        out,
        "sales-by-category",
        "The day's revenue by category",
        "#2a9187",
        &rows,
    );
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Heatmap colour for a share `t` of the largest cell: light for nothing, deep blue for the most.
fn heat_colour(t: f64) -> String {
    if t.is_nan() || t <= 0.0 {
        return "#f0f3f7".to_string();
    }
    mix([0xdc, 0xe8, 0xf6], [0x1b, 0x4a, 0x84], t.min(1.0).sqrt())
}

/// The colour `t` (0–1) of the way from `a` to `b`, as `#rrggbb`.
fn mix(a: [u8; 3], b: [u8; 3], t: f64) -> String {
    let t = fin(t).clamp(0.0, 1.0);
    let c = |i: usize| {
        let (a, b) = (f64::from(a[i]), f64::from(b[i]));
        (a + (b - a) * t).round().clamp(0.0, 255.0) as u8
    };
    format!("#{:02x}{:02x}{:02x}", c(0), c(1), c(2))
}

fn heatmap_chart(out: &mut String, cells: &[HeatCell]) {
    if cells.is_empty() {
        empty_state(out, "No sales in the trailing 30 days.");
        return;
    }
    let (w, ml, mt) = (720.0, 56.0, 30.0);
    let cw = (w - ml - 8.0) / 24.0;
    let ch = 30.0;
    let h = mt + 7.0 * ch + 46.0;
    let max = cells.iter().map(|c| fin(c.revenue)).fold(0.0, f64::max);
    svg_open(
        out,
        "heatmap",
        "big",
        w,
        h,
        "Revenue by weekday and hour, trailing 30 days",
    );
    for hour in 0..24 {
        put!(
            out,
            "<text class=\"ax{}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{hour}</text>\n",
            if hour % 3 == 0 { "" } else { " minor" },
            ml + cw * (f64::from(hour) + 0.5),
            mt - 10.0
        );
    }
    for (d, name) in WEEKDAYS.iter().enumerate() {
        put!(
            out,
            "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>\n",
            ml - 10.0,
            mt + ch * (d as f64 + 0.5),
            &name[..3]
        );
    }
    for c in cells {
        let (row, col) = (
            f64::from(c.weekday.clamp(1, 7) - 1),
            f64::from(c.hour.min(23)),
        );
        let weekday = WEEKDAYS[(c.weekday.clamp(1, 7) - 1) as usize];
        let t = if max > 0.0 { fin(c.revenue) / max } else { 0.0 };
        put!(
            out,
            "<rect class=\"cell\" data-mark=\"cell\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{}\">\
             <title>{weekday} {:02}:00–{:02}:59 UTC — revenue {} · {} transactions</title></rect>\n",
            ml + col * cw + 1.0,
            mt + row * ch + 1.0,
            cw - 2.0,
            ch - 2.0,
            heat_colour(t),
            c.hour,
            c.hour,
            money(c.revenue),
            count(c.transactions)
        );
    }
    // Legend.
    let ly = mt + 7.0 * ch + 14.0;
    put!(
        out,
        "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\" text-anchor=\"end\">Less</text>\n",
        ml - 10.0,
        ly + 8.0
    );
    for (i, t) in [0.0, 0.1, 0.3, 0.6, 1.0].iter().enumerate() {
        put!(
            out,
            "<rect x=\"{:.1}\" y=\"{ly:.1}\" width=\"{:.1}\" height=\"16\" rx=\"3\" fill=\"{}\"/>\n",
            ml + 1.0 + i as f64 * cw,
            cw - 2.0,
            heat_colour(*t)
        );
    }
    put!(
        out,
        "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\">More</text>\n\
         <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\" text-anchor=\"end\">busiest hour {}</text>\n",
        ml + 5.0 * cw + 8.0,
        ly + 8.0,
        w - 8.0,
        ly + 8.0,
        compact(max)
    );
    out.push_str("</svg>\n");
}

fn step_label(step: &str) -> String {
    match step {
        "sessions" => "Sessions".to_string(),
        "product_view" => "Viewed a product".to_string(),
        "add_to_cart" => "Added to cart".to_string(),
        "checkout" => "Started checkout".to_string(),
        "purchase" => "Purchased".to_string(),
        other => {
            let s = other.replace('_', " ");
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => s,
            }
        }
    }
}

fn funnel_chart(out: &mut String, steps: &[FunnelStep]) {
    if steps.is_empty() {
        empty_state(out, "No clickstream sessions on this day.");
        return;
    }
    let w = 360.0;
    let row_h = 62.0;
    let h = steps.len() as f64 * row_h;
    let max = steps.iter().map(|s| s.sessions).max().unwrap_or(0) as f64;
    svg_open(
        out,
        "funnel",
        "",
        w,
        h,
        "Sessions reaching each funnel step",
    );
    let n = steps.len().max(2) - 1;
    for (i, s) in steps.iter().enumerate() {
        let y0 = i as f64 * row_h;
        let bw = if max > 0.0 {
            (s.sessions as f64 / max * w).max(if s.sessions > 0 { 3.0 } else { 0.0 })
        } else {
            0.0
        };
        let label = step_label(&s.step);
        // Blue, darkening down the funnel.
        let t = i as f64 / n as f64;
        let colour = mix([0x7f, 0xa9, 0xe0], [0x23, 0x5a, 0xa8], t);
        put!(
            out,
            "<g class=\"bar-row\"><title>{} — {} sessions · {} of sessions · {} of the previous step</title>\
             <text class=\"lbl strong\" x=\"0\" y=\"{:.1}\">{}</text>\
             <text class=\"val\" x=\"{w:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"track\" x=\"0\" y=\"{:.1}\" width=\"{w:.0}\" height=\"14\" rx=\"7\"/>\
             <rect class=\"bar\" data-mark=\"bar\" x=\"0\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"14\" rx=\"7\" fill=\"{colour}\"/>\
             <text class=\"ax\" x=\"0\" y=\"{:.1}\">{} of sessions · {} of previous step</text></g>\n",
            esc(&label),
            count(s.sessions),
            pct(s.pct_of_sessions, 1),
            pct(s.pct_of_previous, 1),
            y0 + 14.0,
            esc(&label),
            y0 + 14.0,
            count(s.sessions),
            y0 + 22.0,
            y0 + 22.0,
            y0 + 52.0,
            pct(s.pct_of_sessions, 1),
            pct(s.pct_of_previous, 1),
        );
    }
    out.push_str("</svg>\n");
}

/// "Nov" and "2026" from "2026-11"; the text itself when it is not a month.
fn month_parts(m: &str) -> (String, Option<String>, bool) {
    let parsed = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok();
    match parsed {
        Some(d) => (
            d.format("%b").to_string(),
            Some(d.format("%Y").to_string()),
            d.month() == 1,
        ),
        None => (m.to_string(), None, false),
    }
}

fn monthly_chart(out: &mut String, months: &[MonthRevenue]) {
    if months.is_empty() {
        empty_state(out, "No sales recorded yet.");
        return;
    }
    let (w, h) = (360.0, 240.0);
    let (ml, mr, mt, mb) = (46.0, 6.0, 20.0, 42.0);
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let max = months.iter().map(|m| fin(m.revenue)).fold(0.0, f64::max);
    let (top, step) = nice_axis(max);
    let n = months.len();
    let band = pw / n as f64;
    let bw = (band * 0.68).min(40.0);
    let y = |v: f64| mt + ph - (fin(v).clamp(0.0, top) / top) * ph;
    svg_open(
        out,
        "monthly-revenue",
        "",
        w,
        h,
        "Revenue by calendar month",
    );
    let ticks = (top / step).round() as usize;
    for t in 0..=ticks {
        let v = step * t as f64;
        put!(
            out,
            "<line class=\"grid-l\" x1=\"{ml:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
             <text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>\n",
            y(v),
            w - mr,
            y(v),
            ml - 8.0,
            y(v),
            compact(v)
        );
    }
    let every = n.div_ceil(12).max(1);
    let first_labelled = (n - 1) % every;
    let small = if n > 8 { " sm" } else { "" };
    for (i, m) in months.iter().enumerate() {
        let cx = ml + band * (i as f64 + 0.5);
        let last = i == n - 1;
        let (mon, year, january) = month_parts(&m.month);
        let title_month = NaiveDate::parse_from_str(&format!("{}-01", m.month), "%Y-%m-%d")
            .map(|d| d.format("%B %Y").to_string())
            .unwrap_or_else(|_| m.month.clone());
        put!(
            out,
            "<g class=\"col{}\"><title>{}{} — revenue {} · {} transactions</title>\
             <rect data-mark=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" rx=\"3\"/></g>\n",
            if last { " cur" } else { "" },
            esc(&title_month),
            if last { " (month to date)" } else { "" },
            money(m.revenue),
            count(m.transactions),
            cx - bw / 2.0,
            y(m.revenue),
            mt + ph - y(m.revenue),
        );
        if (n - 1 - i).is_multiple_of(every) {
            put!(
                out,
                "<text class=\"ax{small}\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                h - mb + 16.0,
                esc(&truncate(&mon, 8))
            );
            // The year under January, and under the first label unless January is next to it.
            let next_is_january =
                every == 1 && months.get(i + 1).is_some_and(|m| month_parts(&m.month).2);
            if let Some(year) =
                year.filter(|_| january || (i == first_labelled && !next_is_january))
            {
                put!(
                    out,
                    "<text class=\"ax yr\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{year}</text>\n",
                    h - mb + 32.0
                );
            }
        }
        if n <= 6 {
            put!(
                out,
                "<text class=\"val small\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                y(m.revenue) - 6.0,
                compact(m.revenue)
            );
        }
    }
    out.push_str("</svg>\n");
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

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

fn tables(out: &mut String, r: &DailyReport) {
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

// ---------------------------------------------------------------------------------------------
// Data quality
// ---------------------------------------------------------------------------------------------

fn data_quality(out: &mut String, dq: &DataQuality) {
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

// ---------------------------------------------------------------------------------------------
// Style
// ---------------------------------------------------------------------------------------------

/// The page's only stylesheet. System fonts, a light calm palette, a 12-column grid that
/// collapses on narrow screens. SVG text sizes are in viewBox units; on a phone the wide charts
/// (`.big`, 720 units) and bar charts (`.bars`, 560 units) enlarge them to stay legible, and
/// drop every other axis label (`.minor`).
const CSS: &str = include_str!("dashboard.css");

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::super::model::{
        CategoryBestSeller, CountryAov, CustomerSpend, DatasetQuality, PriceChange, ProductPrice,
        QuarantinedFile, RecentTransaction, SegmentSummary,
    };
    use super::super::model::{KpiChanges, Kpis, PeriodKpis, Periods};
    use super::*;

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
                html.matches(&format!("<{tag} ")).count()
                    + html.matches(&format!("<{tag}>")).count(),
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
                "http:", "https:", "//", "<script", "<link", "<img", "@import", "url(", "src=",
                "xmlns",
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
    fn formats_numbers_with_thousands_separators() {
        assert_eq!(money(1_234_567.891), "1,234,567.89");
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(999.995), "1,000.00");
        assert_eq!(money(-1234.5), "−1,234.50");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(money(f64::NAN), "—");
        assert_eq!(count(1_000_000u64), "1,000,000");
        assert_eq!(count(-12_345i64), "−12,345");
        assert_eq!(count(7u64), "7");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(2_000_000.0), "2M");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(nice_axis(11_200.0), (15_000.0, 5_000.0));
        assert_eq!(nice_axis(9_000.0), (10_000.0, 2_500.0));
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
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
}
