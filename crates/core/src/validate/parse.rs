//! Typed parsing of raw text values: integers, exact decimals, floats, booleans, dates and
//! timestamps (normalised to UTC). Each parser returns `None` when the text is not a value of
//! the type; the caller turns that into a `{dataset}.{column}.type` rejection.

use chrono::format::{Item, Parsed, StrftimeItems};
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

/// A `strftime` pattern parsed once into chrono's items; `None` when the pattern itself is
/// invalid (such a format never matches, as `parse_from_str` with it never succeeds).
fn compile_items(format: &str) -> Option<Vec<Item<'static>>> {
    StrftimeItems::new(format).parse_to_owned().ok()
}

/// The fixed-width layouts the fast path reads byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `%Y-%m-%d` followed by this separator and `%H:%M:%S` (19 bytes).
    DateTime(u8),
    /// `%Y-%m-%d` (10 bytes).
    Date,
}

impl Layout {
    fn of(format: &str) -> Option<Self> {
        match format {
            "%Y-%m-%d %H:%M:%S" => Some(Self::DateTime(b' ')),
            "%Y-%m-%dT%H:%M:%S" => Some(Self::DateTime(b'T')),
            "%Y-%m-%d" => Some(Self::Date),
            _ => None,
        }
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` at the start of `b`, when it is exactly that shape and a real day.
fn fixed_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `YYYY-MM-DD?HH:MM:SS` (`?` = `sep`) at the start of `b`, when it is exactly that shape and
/// a real instant (no leap second: chrono's general parser decides those).
fn fixed_date_time(b: &[u8], sep: u8) -> Option<NaiveDateTime> {
    if b.len() < 19 || b[10] != sep || b[13] != b':' || b[16] != b':' {
        return None;
    }
    fixed_date(b)?.and_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )
}

/// One accepted format, compiled.
#[derive(Debug, Clone)]
enum TimeFormat {
    /// RFC 3339, or the same with a space for the `T` (with `%:z` or `%#z` offsets).
    Rfc3339 {
        colon: Option<Vec<Item<'static>>>,
        permissive: Option<Vec<Item<'static>>>,
    },
    EpochSeconds,
    EpochMillis,
    /// A pattern with a time of day.
    DateTime {
        items: Option<Vec<Item<'static>>>,
        layout: Option<Layout>,
    },
    /// A pattern with a date only.
    Date {
        items: Option<Vec<Item<'static>>>,
        layout: Option<Layout>,
    },
}

/// A date or timestamp column's accepted formats, compiled once per file.
///
/// The contract lists formats as text (`rfc3339`, `epoch_seconds`, `epoch_millis` or chrono
/// `strftime` patterns), tried in order, the first that fits wins. Parsing a pattern anew for
/// every value cost about a tenth of a CSV ingest (issue 13's profile): here each pattern is
/// parsed once into chrono's items, and the common fixed-width shapes (`2026-09-07 07:26:08`,
/// `2026-09-07T07:26:08Z`, `2026-09-07`) are read byte by byte first. The fast path only ever
/// accepts text that chrono's own parser reads to the same value; anything else (unpadded
/// fields, five-digit years, fractions, offsets, leap seconds) goes to chrono's parser, so the
/// values accepted and their meaning are exactly those of `parse_from_str`.
#[derive(Debug, Clone)]
pub struct TimeFormats {
    formats: Vec<TimeFormat>,
    tz: FixedOffset,
}

impl TimeFormats {
    /// Compiles `formats`; text without an offset is read in `tz`.
    pub fn compile(formats: &[String], tz: FixedOffset) -> Self {
        let formats = formats
            .iter()
            .map(|f| match f.as_str() {
                "rfc3339" => TimeFormat::Rfc3339 {
                    colon: compile_items("%Y-%m-%d %H:%M:%S%.f%:z"),
                    permissive: compile_items("%Y-%m-%d %H:%M:%S%.f%#z"),
                },
                "epoch_seconds" => TimeFormat::EpochSeconds,
                "epoch_millis" => TimeFormat::EpochMillis,
                f if has_time(f) => TimeFormat::DateTime {
                    items: compile_items(f),
                    layout: Layout::of(f),
                },
                f => TimeFormat::Date {
                    items: compile_items(f),
                    layout: Layout::of(f),
                },
            })
            .collect();
        Self { formats, tz }
    }

    fn local(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&naive)
            .single()
            .map(|d| d.with_timezone(&Utc))
    }

    fn rfc3339(
        t: &str,
        colon: Option<&[Item<'static>]>,
        permissive: Option<&[Item<'static>]>,
    ) -> Option<DateTime<Utc>> {
        let b = t.as_bytes();
        // Every form below ends in an offset: `Z`, or a sign after the date. Without one,
        // none can match; saying so early spares three failing parses per naive value.
        let has_offset = b.last().is_some_and(|&c| c == b'Z' || c == b'z')
            || b.get(10..)
                .is_some_and(|rest| rest.iter().any(|&c| c == b'+' || c == b'-'));
        if !has_offset {
            return None;
        }
        if b.len() == 20
            && b[19] == b'Z'
            && let Some(naive) = fixed_date_time(b, b'T')
        {
            return Some(naive.and_utc());
        }
        DateTime::parse_from_rfc3339(t)
            .ok()
            .or_else(|| Self::fields(t, colon)?.to_datetime().ok())
            .or_else(|| Self::fields(t, permissive)?.to_datetime().ok())
            .map(|d| d.with_timezone(&Utc))
    }

    /// The fields `t` gives under a compiled pattern (`None` for an invalid pattern).
    fn fields(t: &str, items: Option<&[Item<'static>]>) -> Option<Parsed> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, t, items?.iter()).ok()?;
        Some(parsed)
    }

    fn read_date(
        t: &str,
        items: Option<&[Item<'static>]>,
        layout: Option<Layout>,
    ) -> Option<NaiveDate> {
        match layout {
            Some(Layout::Date) if t.len() == 10 => fixed_date(t.as_bytes()),
            _ => None,
        }
        .or_else(|| Self::fields(t, items)?.to_naive_date().ok())
    }

    fn read_date_time(
        t: &str,
        items: Option<&[Item<'static>]>,
        layout: Option<Layout>,
    ) -> Option<NaiveDateTime> {
        match layout {
            Some(Layout::DateTime(sep)) if t.len() == 19 => fixed_date_time(t.as_bytes(), sep),
            _ => None,
        }
        .or_else(|| {
            Self::fields(t, items)?
                .to_naive_datetime_with_offset(0)
                .ok()
        })
    }

    fn instant(&self, format: &TimeFormat, t: &str) -> Option<DateTime<Utc>> {
        match format {
            TimeFormat::Rfc3339 { colon, permissive } => {
                Self::rfc3339(t, colon.as_deref(), permissive.as_deref())
            }
            TimeFormat::EpochSeconds => from_epoch(t, false).filter(|_| t.len() <= 10),
            TimeFormat::EpochMillis => from_epoch(t, true).filter(|_| t.len() >= 11),
            TimeFormat::DateTime { items, layout } => {
                self.local(Self::read_date_time(t, items.as_deref(), *layout)?)
            }
            TimeFormat::Date { items, layout } => {
                self.local(Self::read_date(t, items.as_deref(), *layout)?.and_hms_opt(0, 0, 0)?)
            }
        }
    }

    /// The first format that fits `text`, as microseconds since the Unix epoch (UTC).
    pub fn timestamp(&self, text: &str) -> Option<i64> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        self.formats
            .iter()
            .find_map(|f| self.instant(f, t))
            .map(|d| d.timestamp_micros())
    }

    /// The first format that fits `text`, as days since the Unix epoch: a timestamp's UTC
    /// date, or a date format's date as written.
    pub fn date(&self, text: &str) -> Option<i32> {
        let t = text.trim();
        self.formats
            .iter()
            .find_map(|f| match f {
                TimeFormat::Date { items, layout } => Self::read_date(t, items.as_deref(), *layout),
                // Through the stored microseconds, so a leap second's date is the day its
                // value falls on (23:59:60 is stored as the next midnight).
                other => self
                    .instant(other, t)
                    .and_then(|d| DateTime::from_timestamp_micros(d.timestamp_micros()))
                    .map(|d| d.date_naive()),
            })
            .map(days_since_epoch)
    }
}

/// Parses a timestamp with the first of `formats` that fits, normalised to UTC. Text without an
/// offset is read in `tz`. Returns microseconds since the Unix epoch. Compiles the formats on
/// every call: a column of values uses [`TimeFormats`] once instead.
pub fn parse_timestamp(text: &str, formats: &[String], tz: FixedOffset) -> Option<i64> {
    TimeFormats::compile(formats, tz).timestamp(text)
}

/// Parses a date with the first of `formats` that fits; timestamp formats give the UTC date.
/// Returns days since the Unix epoch. Compiles the formats on every call, as
/// [`parse_timestamp`].
pub fn parse_date(text: &str, formats: &[String], tz: FixedOffset) -> Option<i32> {
    TimeFormats::compile(formats, tz).date(text)
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

    /// The parser before compilation, kept as the oracle: every pattern parsed anew per value.
    fn reference_timestamp(text: &str, formats: &[String], tz: FixedOffset) -> Option<i64> {
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

    fn reference_date(text: &str, formats: &[String], tz: FixedOffset) -> Option<i32> {
        let t = text.trim();
        for format in formats {
            let date = match format.as_str() {
                f if f == "rfc3339" || f.starts_with("epoch") || has_time(f) => {
                    reference_timestamp(t, std::slice::from_ref(format), tz)
                        .and_then(DateTime::from_timestamp_micros)
                        .map(|d| d.date_naive())
                }
                f => NaiveDate::parse_from_str(t, f).ok(),
            };
            if let Some(d) = date {
                return Some(days_since_epoch(d));
            }
        }
        None
    }

    #[test]
    fn compiled_formats_read_every_text_exactly_as_parsing_each_pattern_anew() {
        // The shipped contracts' own formats first, then lists no contract has.
        let contracts = crate::contract::ContractSet::defaults().unwrap();
        let shipped = contracts
            .get("transactions")
            .unwrap()
            .column("transaction_date")
            .unwrap()
            .formats
            .clone();
        let format_lists = [
            shipped,
            fmts(&["%Y-%m-%d", "%d/%m/%Y", "rfc3339"]),
            fmts(&["%Y-%m-%dT%H:%M:%S", "rfc3339", "%m/%d/%Y %I:%M %p"]),
            fmts(&["%Y-%m-%d %H:%M:%S", "%Q not a pattern %"]),
        ];
        let seeds = [
            "2026-09-07 07:26:08",
            "2026-09-07T07:26:08",
            "2026-09-07T07:26:08Z",
            "2026-09-07t07:26:08z",
            "2026-09-07T07:26:08.123456Z",
            "2026-09-07T07:26:08+02:00",
            "2026-09-07 07:26:08-05:30",
            "2026-09-07 07:26:08+0200",
            "2026-09-07 07:26:08.5",
            "2026-9-7 7:26:08",
            "2026-09-07",
            "2026-9-07",
            "07/09/2026 07:26:08",
            "2026/09/07 07:26:08",
            "2026-09-07 07:26",
            "2026-06-30 23:59:60",
            "2026-02-30 10:00:00",
            "2026-02-29",
            "2024-02-29T00:00:00Z",
            "9999-12-31 23:59:59",
            "0000-01-01 00:00:00",
            "+200000-01-01T00:00:00Z",
            "1710498600",
            "1710498600000",
            "-86400",
            "09/07/2026 07:26 PM",
            "",
            "   ",
            "not a date",
        ];
        let alphabet = b"0123456789-: TtZz+./AP";
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
        for _ in 0..6_000 {
            let base = seeds[next() as usize % seeds.len()].as_bytes().to_vec();
            let mut bytes = base.clone();
            for _ in 0..1 + next() % 3 {
                match next() % 3 {
                    0 if !bytes.is_empty() => {
                        let at = next() as usize % bytes.len();
                        bytes[at] = alphabet[next() as usize % alphabet.len()];
                    }
                    1 if !bytes.is_empty() => {
                        bytes.remove(next() as usize % bytes.len());
                    }
                    _ => {
                        let at = next() as usize % (bytes.len() + 1);
                        bytes.insert(at, alphabet[next() as usize % alphabet.len()]);
                    }
                }
            }
            texts.push(String::from_utf8(bytes).unwrap());
        }
        let zones = [0, 7_200, -19_800].map(|s| FixedOffset::east_opt(s).unwrap());
        let mut agreed_on_a_value = 0;
        for formats in &format_lists {
            for tz in zones {
                let compiled = TimeFormats::compile(formats, tz);
                for t in &texts {
                    let expected = reference_timestamp(t, formats, tz);
                    assert_eq!(
                        compiled.timestamp(t),
                        expected,
                        "{t:?} under {formats:?} in {tz}"
                    );
                    assert_eq!(
                        compiled.date(t),
                        reference_date(t, formats, tz),
                        "date of {t:?} under {formats:?} in {tz}"
                    );
                    agreed_on_a_value += usize::from(expected.is_some());
                }
            }
        }
        // The corpus must exercise acceptance, not only rejection.
        assert!(agreed_on_a_value > 3_000, "{agreed_on_a_value}");
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
