//! Typed parsing of raw text values: integers, exact decimals, floats, booleans, dates and
//! timestamps (normalised to UTC). Each parser returns `None` when the text is not a value of
//! the type; the caller turns that into a `{dataset}.{column}.type` rejection.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses an integer; `"3.0"` is accepted as 3, `"3.5"` is not.
pub fn parse_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (int, frac) = t.split_once('.')?;
    if !frac.is_empty() && frac.bytes().all(|b| b == b'0') {
        int.parse::<i64>().ok()
    } else {
        None
    }
}

/// Parses an exact decimal to an integer scaled by `10^scale`, rounding half away from zero
/// beyond `scale` digits. Accepts an optional sign, a leading currency symbol (`$ € £ ¥`) and
/// `,` thousands separators when grouped in threes.
pub fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
    let mut t = text.trim();
    let negative = if let Some(rest) = t.strip_prefix('-') {
        t = rest;
        true
    } else {
        if let Some(rest) = t.strip_prefix('+') {
            t = rest;
        }
        false
    };
    for symbol in ['$', '€', '£', '¥'] {
        if let Some(rest) = t.strip_prefix(symbol) {
            t = rest.trim_start();
        }
    }
    let (int_part, frac_part) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let int_digits: String = if int_part.contains(',') {
        let groups: Vec<&str> = int_part.split(',').collect();
        let ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !ok {
            return None;
        }
        groups.concat()
    } else {
        int_part.to_string()
    };
    if !int_digits.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = usize::try_from(scale).ok()?;
    let mut value: i128 = 0;
    for b in int_digits.bytes() {
        value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let frac = frac_part.as_bytes();
    for i in 0..scale {
        let digit = frac.get(i).map_or(0, |b| i128::from(b - b'0'));
        value = value.checked_mul(10)?.checked_add(digit)?;
    }
    if frac.get(scale).is_some_and(|b| *b >= b'5') {
        value = value.checked_add(1)?;
    }
    // 18 significant digits fit Decimal128(18, s) and every engine that reads it.
    if value >= 10i128.pow(18) {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Parses a finite float.
pub fn parse_float(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses a boolean: true/false, yes/no, y/n, 1/0 (any case).
pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn has_time(format: &str) -> bool {
    ["%H", "%I", "%M", "%S", "%T", "%R", "%s"]
        .iter()
        .any(|f| format.contains(f))
}

fn from_epoch(text: &str, millis: bool) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if !t.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let v: i64 = t.parse().ok()?;
    if millis {
        DateTime::from_timestamp_millis(v)
    } else {
        DateTime::from_timestamp(v, 0)
    }
}

/// Parses a timestamp with the first of `formats` that fits, normalised to UTC. Text without an
/// offset is read in `tz`. Returns microseconds since the Unix epoch.
pub fn parse_timestamp(text: &str, formats: &[String], tz: FixedOffset) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    for format in formats {
        let parsed: Option<DateTime<Utc>> = match format.as_str() {
            "rfc3339" => DateTime::parse_from_rfc3339(t)
                .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z"))
                .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z"))
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            "epoch_seconds" => from_epoch(t, false).filter(|_| t.len() <= 10),
            "epoch_millis" => from_epoch(t, true).filter(|_| t.len() >= 11),
            f if has_time(f) => NaiveDateTime::parse_from_str(t, f)
                .ok()
                .and_then(|n| tz.from_local_datetime(&n).single())
                .map(|d| d.with_timezone(&Utc)),
            f => NaiveDate::parse_from_str(t, f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|n| tz.from_local_datetime(&n).single())
                .map(|d| d.with_timezone(&Utc)),
        };
        if let Some(dt) = parsed {
            return Some(dt.timestamp_micros());
        }
    }
    None
}

/// Parses a date with the first of `formats` that fits; timestamp formats give the UTC date.
/// Returns days since the Unix epoch.
pub fn parse_date(text: &str, formats: &[String], tz: FixedOffset) -> Option<i32> {
    let t = text.trim();
    for format in formats {
        let date = match format.as_str() {
            "rfc3339" | "epoch_seconds" | "epoch_millis" => {
                parse_timestamp(t, std::slice::from_ref(format), tz)
                    .and_then(DateTime::from_timestamp_micros)
                    .map(|d| d.date_naive())
            }
            f if has_time(f) => parse_timestamp(t, std::slice::from_ref(format), tz)
                .and_then(DateTime::from_timestamp_micros)
                .map(|d| d.date_naive()),
            f => NaiveDate::parse_from_str(t, f).ok(),
        };
        if let Some(d) = date {
            return Some(days_since_epoch(d));
        }
    }
    None
}

/// Days since 1970-01-01 (Arrow `Date32`).
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The date of an Arrow `Date32` value.
pub fn date_from_days(days: i32) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    epoch
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
        .unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    fn fmts(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_integers_and_whole_floats() {
        assert_eq!(parse_integer(" 42 "), Some(42));
        assert_eq!(parse_integer("-3"), Some(-3));
        assert_eq!(parse_integer("2.0"), Some(2));
        assert_eq!(parse_integer("2.5"), None);
        assert_eq!(parse_integer("two"), None);
    }

    #[test]
    fn parses_decimals_exactly_to_the_cent() {
        assert_eq!(parse_decimal("199.98", 2), Some(19998));
        assert_eq!(parse_decimal("0.1", 2), Some(10));
        assert_eq!(parse_decimal("12", 2), Some(1200));
        assert_eq!(parse_decimal("-5.5", 2), Some(-550));
        assert_eq!(parse_decimal("$1,299.00", 2), Some(129900));
        assert_eq!(parse_decimal("9.995", 2), Some(1000));
        assert_eq!(parse_decimal("9.994", 2), Some(999));
        assert_eq!(parse_decimal("1,29.00", 2), None);
        assert_eq!(parse_decimal("abc", 2), None);
        assert_eq!(parse_decimal("", 2), None);
        assert_eq!(parse_decimal(".", 2), None);
    }

    #[test]
    fn parses_timestamps_in_many_formats_to_utc() {
        let f = fmts(&[
            "rfc3339",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d",
            "epoch_seconds",
            "epoch_millis",
        ]);
        let expect = DateTime::parse_from_rfc3339("2024-03-15T10:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(
            parse_timestamp("2024-03-15 10:30:00", &f, utc()),
            Some(expect)
        );
        assert_eq!(
            parse_timestamp("2024-03-15T12:30:00+02:00", &f, utc()),
            Some(expect)
        );
        assert_eq!(
            parse_timestamp("2024-03-15 12:30:00+02:00", &f, utc()),
            Some(expect)
        );
        assert_eq!(parse_timestamp("1710498600", &f, utc()), Some(expect));
        assert_eq!(parse_timestamp("1710498600000", &f, utc()), Some(expect));
        assert!(parse_timestamp("2024-03-15", &f, utc()).is_some());
        assert_eq!(parse_timestamp("2026-13-45 25:61:00", &f, utc()), None);
        assert_eq!(parse_timestamp("not a date", &f, utc()), None);
    }

    #[test]
    fn reads_naive_timestamps_in_the_contract_time_zone() {
        let f = fmts(&["%Y-%m-%d %H:%M:%S"]);
        let plus2 = FixedOffset::east_opt(7200).unwrap();
        let expect = DateTime::parse_from_rfc3339("2024-03-15T08:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(
            parse_timestamp("2024-03-15 10:30:00", &f, plus2),
            Some(expect)
        );
    }

    #[test]
    fn parses_dates_including_unpadded_and_timestamps() {
        let f = fmts(&["%Y-%m-%d", "rfc3339"]);
        let d = days_since_epoch(NaiveDate::from_ymd_opt(1996, 5, 30).unwrap());
        assert_eq!(parse_date("1996-5-30", &f, utc()), Some(d));
        assert_eq!(parse_date("1996-05-30T23:00:00Z", &f, utc()), Some(d));
        assert_eq!(parse_date("30/05/1996", &f, utc()), None);
        assert_eq!(
            date_from_days(d),
            NaiveDate::from_ymd_opt(1996, 5, 30).unwrap()
        );
    }

    #[test]
    fn parses_booleans_and_floats() {
        assert_eq!(parse_boolean("Yes"), Some(true));
        assert_eq!(parse_boolean("0"), Some(false));
        assert_eq!(parse_boolean("maybe"), None);
        assert_eq!(parse_float("4.5"), Some(4.5));
        assert_eq!(parse_float("NaN"), None);
    }
}
