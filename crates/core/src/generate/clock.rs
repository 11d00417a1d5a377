//! Generated time: [`Clock`] counts seconds from 00:00 UTC of the activity window's first day
//! and writes them as dates and times without going through a calendar library per value.

use chrono::{Days, NaiveDate};

use super::format::push_two;
use super::{GenerateConfig, GenerateError};

/// Seconds in a (UTC) day: the generator has no leap seconds and no time zones.
pub(super) const SECONDS_PER_DAY: i64 = 86_400;

/// Times are seconds since the start of the activity window (UTC midnight of its first day).
pub(super) struct Clock {
    /// `YYYY-MM-DD` for window days -1 ..= days (index `day + 1`).
    days: Vec<String>,
    /// The window's first day.
    pub(super) start: NaiveDate,
    /// The window's length in seconds (`days × 86,400`): every generated time is below it.
    pub(super) window_secs: i64,
}

impl Clock {
    /// The clock of `config`'s window; fails when the calendar cannot hold it.
    pub(super) fn new(config: &GenerateConfig) -> Result<Self, GenerateError> {
        let invalid = || GenerateError::InvalidConfig {
            field: "end_date",
            reason: format!("{} is too close to the calendar's limits", config.end_date),
        };
        let start = config.start_date().ok_or_else(invalid)?;
        let first = start.checked_sub_days(Days::new(1)).ok_or_else(invalid)?;
        let days = first
            .iter_days()
            .take(config.days as usize + 2)
            .map(|d| d.to_string())
            .collect();
        Ok(Self {
            days,
            start,
            window_secs: i64::from(config.days) * SECONDS_PER_DAY,
        })
    }

    /// Appends `YYYY-MM-DD{sep}HH:MM:SS`.
    pub(super) fn push(&self, buf: &mut Vec<u8>, t: i64, sep: u8) {
        let day = t.div_euclid(SECONDS_PER_DAY) + 1;
        let secs = t.rem_euclid(SECONDS_PER_DAY) as u64;
        let index = day.clamp(0, self.days.len() as i64 - 1) as usize;
        buf.extend_from_slice(self.days[index].as_bytes());
        buf.push(sep);
        push_two(buf, secs / 3600);
        buf.push(b':');
        push_two(buf, secs / 60 % 60);
        buf.push(b':');
        push_two(buf, secs % 60);
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC).
    pub(super) fn rfc3339(&self, t: i64) -> String {
        let mut buf = Vec::with_capacity(20);
        self.push(&mut buf, t, b'T');
        buf.push(b'Z');
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Base rows' `updated_at`: 00:00 UTC of the day before the window.
    pub(super) fn before_window(&self) -> String {
        self.rfc3339(-SECONDS_PER_DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::CUSTOMERS_FILE;
    use crate::generate::tests::{config, midnight, read_csv, read_products, run, utc};

    #[test]
    fn base_rows_carry_updated_at_before_the_window() {
        let (dir, report) = run(&config());
        // The window starts on 2025-11-03; base rows are from the day before, 00:00 UTC.
        let before = "2025-11-02T00:00:00Z";
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        assert!(customers.iter().all(|c| c[7] == before));
        let products = read_products(dir.path());
        assert!(
            products["products"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["meta"]["updatedAt"] == before)
        );
        // Every later version is later: in time order whatever the ingestion order.
        let first_sale = midnight(NaiveDate::from_ymd_opt(2025, 11, 3).unwrap());
        assert!(utc(before) < first_sale);
        assert!(
            report
                .price_changes
                .iter()
                .map(|c| &c.updated_at)
                .chain(report.customer_moves.iter().map(|m| &m.updated_at))
                .all(|t| utc(t) > utc(before))
        );
    }
}
