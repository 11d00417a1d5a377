//! Text and number formatting for the dashboard: HTML escaping, money, counts, percentages,
//! axis labels, dates, and the KPI labels, values and change badges.

use std::fmt::{self, Display};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::report::kpi::{self, Unit};

/// HTML-escapes a text for element content and quoted attribute values; control characters
/// (invalid in HTML) become U+FFFD.
pub(super) struct Esc<'a>(&'a str);

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

pub(super) fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub(super) fn truncate(s: &str, max: usize) -> String {
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
pub(super) fn fixed(x: f64, decimals: usize) -> String {
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
pub(super) fn money(x: f64) -> String {
    fixed(x, 2)
}

/// A count with thousands separators.
pub(super) fn count(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let g = group_digits(&n.unsigned_abs().to_string());
    if n < 0 { format!("−{g}") } else { g }
}

/// A percentage with `decimals` decimals.
pub(super) fn pct(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{}%", fixed(x, decimals))
    } else {
        "—".to_string()
    }
}

/// A short axis label: 950, 1.2k, 12k, 3.4M.
pub(super) fn compact(x: f64) -> String {
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
pub(super) fn fin(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// A round axis maximum and tick step covering `max` in about four steps.
pub(super) fn nice_axis(max: f64) -> (f64, f64) {
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

pub(super) fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

pub(super) fn short_date(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

pub(super) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "Fri 20 Nov", "16–20 Nov" or "28 Oct – 2 Nov".
pub(super) fn range_label(a: NaiveDate, b: NaiveDate) -> String {
    if a == b {
        short_date(a)
    } else if a.year() == b.year() && a.month() == b.month() {
        format!("{}–{}", a.day(), b.format("%-d %b"))
    } else {
        format!("{} – {}", a.format("%-d %b"), b.format("%-d %b"))
    }
}

pub(super) fn kpi_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Money => money(v),
        Unit::Count if fin(v).fract() == 0.0 => fixed(v, 0),
        Unit::Count => fixed(v, 1),
    }
}

/// A change badge: ▲ green, ▼ red, "—" when there is no comparison.
pub(super) fn change_badge(change: Option<f64>) -> String {
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
pub(super) fn kpi_label(kpi: &str) -> (&str, Unit) {
    match kpi::spec(kpi) {
        Some(k) => (k.label, k.unit),
        None => (kpi, Unit::Money),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
