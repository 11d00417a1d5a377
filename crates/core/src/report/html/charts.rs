//! The dashboard's inline SVG charts: the revenue trend, the top-products and category bars,
//! the weekday-by-hour heatmap, the conversion funnel and monthly revenue.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use crate::report::model::{
    CategorySales, FunnelStep, HeatCell, MonthRevenue, ProductSales, TrendPoint,
};

use super::empty_state;
use super::format::{
    compact, count, esc, fin, long_date, money, nice_axis, pct, short_date, truncate,
};

fn svg_open(out: &mut String, name: &str, class: &str, w: f64, h: f64, label: &str) {
    put!(
        out,
        "<svg class=\"chart {class}\" data-chart=\"{name}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         role=\"img\" aria-label=\"{}\">\n",
        esc(label)
    );
}

pub(super) fn trend_summary(points: &[TrendPoint]) -> String {
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

pub(super) fn trend_chart(out: &mut String, points: &[TrendPoint]) {
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

pub(super) fn top_products_chart(out: &mut String, products: &[ProductSales]) {
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

pub(super) fn category_chart(out: &mut String, cats: &[CategorySales]) {
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

pub(super) fn heatmap_chart(out: &mut String, cells: &[HeatCell]) {
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

pub(super) fn funnel_chart(out: &mut String, steps: &[FunnelStep]) {
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

pub(super) fn monthly_chart(out: &mut String, months: &[MonthRevenue]) {
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
