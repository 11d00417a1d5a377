//! What to generate: [`GenerateConfig`] (sizes, seed, defect share, activity window, price
//! changes and customer moves), its defaults and its range checks.

use chrono::{Days, NaiveDate};

use super::GenerateError;

/// Upper bound for each row count, so ids and offsets fit comfortably in `u32`.
const MAX_ROWS: usize = 1 << 30;
/// Upper bound for the activity window (a century), so times fit in `u32` seconds.
const MAX_DAYS: u32 = 36_500;
/// Customers sign up within this many days before `end_date`.
pub(super) const SIGNUP_SPAN_DAYS: u64 = 730;

/// What to generate: sizes, seed, defect share and the activity window.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Number of customer profiles (default 1,000).
    pub customers: usize,
    /// Number of catalogue products (default 500).
    pub products: usize,
    /// Number of sale lines before duplicates are added (default 5,000).
    pub transactions: usize,
    /// Seed of every random choice (default 42).
    pub seed: u64,
    /// Share of rows that get one defect (default 0.02); 0 gives perfectly clean data. Must be
    /// within `0..=0.5`.
    pub defect_rate: f64,
    /// Last day of generated activity (inclusive).
    pub end_date: NaiveDate,
    /// Length of the activity window in days (default 90): transactions span
    /// `end_date - (days - 1) ..= end_date`.
    pub days: u32,
    /// Products repriced during the window's last 14 days (default 12), listed in
    /// `products_updates.json`; 0 writes no such file. At most the number of clean products
    /// change, popular ones more likely.
    pub price_changes: usize,
    /// Customers who move to another country during the window (default 8), listed in
    /// `customers_updates.csv`; 0 writes no such file. At most the number of clean customers
    /// move, frequent buyers more likely.
    pub customer_moves: usize,
}

impl GenerateConfig {
    /// The defaults, ending on `end_date`.
    pub fn new(end_date: NaiveDate) -> Self {
        Self {
            customers: 1_000,
            products: 500,
            transactions: 5_000,
            seed: 42,
            defect_rate: 0.02,
            end_date,
            days: 90,
            price_changes: 12,
            customer_moves: 8,
        }
    }

    /// First day of generated activity (`end_date - (days - 1)`), if the calendar has it.
    pub fn start_date(&self) -> Option<NaiveDate> {
        self.end_date
            .checked_sub_days(Days::new(u64::from(self.days.saturating_sub(1))))
    }

    /// Checks every setting; the error names the field.
    pub fn validate(&self) -> Result<(), GenerateError> {
        let invalid = |field: &'static str, reason: String| {
            Err(GenerateError::InvalidConfig { field, reason })
        };
        if !(0.0..=0.5).contains(&self.defect_rate) {
            return invalid(
                "defect_rate",
                format!("must be within 0 and 0.5, got {}", self.defect_rate),
            );
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return invalid(
                "days",
                format!("must be within 1 and {MAX_DAYS}, got {}", self.days),
            );
        }
        for (field, value) in [("customers", self.customers), ("products", self.products)] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        for (field, value) in [
            ("customers", self.customers),
            ("products", self.products),
            ("transactions", self.transactions),
            ("price_changes", self.price_changes),
            ("customer_moves", self.customer_moves),
        ] {
            if value > MAX_ROWS {
                return invalid(field, format!("must be at most {MAX_ROWS}, got {value}"));
            }
        }
        let calendar_ok = self
            .start_date()
            .and_then(|start| start.checked_sub_days(Days::new(1)))
            .is_some()
            && self.end_date.checked_add_days(Days::new(1)).is_some()
            && self
                .end_date
                .checked_sub_days(Days::new(SIGNUP_SPAN_DAYS))
                .is_some();
        if !calendar_ok {
            return invalid(
                "end_date",
                format!("{} is too close to the calendar's limits", self.end_date),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::generate::tests::config;

    #[test]
    fn rejects_out_of_range_defect_rate() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [-0.01, 0.51, 1.0, f64::NAN, f64::INFINITY] {
            let error = generate(
                &GenerateConfig {
                    defect_rate: rate,
                    ..config()
                },
                dir.path(),
            )
            .unwrap_err();
            assert!(
                matches!(
                    error,
                    GenerateError::InvalidConfig {
                        field: "defect_rate",
                        ..
                    }
                ),
                "{error:?}"
            );
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        for (bad, field) in [
            (
                GenerateConfig {
                    days: 0,
                    ..config()
                },
                "days",
            ),
            (
                GenerateConfig {
                    customers: 0,
                    ..config()
                },
                "customers",
            ),
            (
                GenerateConfig {
                    products: 0,
                    ..config()
                },
                "products",
            ),
            (
                GenerateConfig {
                    end_date: NaiveDate::MIN,
                    ..config()
                },
                "end_date",
            ),
            (
                GenerateConfig {
                    price_changes: MAX_ROWS + 1,
                    ..config()
                },
                "price_changes",
            ),
            (
                GenerateConfig {
                    customer_moves: MAX_ROWS + 1,
                    ..config()
                },
                "customer_moves",
            ),
        ] {
            let error = generate(&bad, dir.path()).unwrap_err();
            assert!(
                matches!(error, GenerateError::InvalidConfig { field: f, .. } if f == field),
                "{error:?}"
            );
        }
    }
}
