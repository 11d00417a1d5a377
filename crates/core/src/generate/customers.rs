//! The customers dataset: `customers.csv` (profiles with realistic names, e-mail addresses,
//! phones and places, a few e-mails malformed or missing) and `customers_updates.csv` (the
//! clean customers who moved to another country during the window), and the heavy-tailed
//! purchase propensity the transactions draw customers by.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use chrono::Days;
use rand::Rng;

use super::clock::Clock;
use super::config::SIGNUP_SPAN_DAYS;
use super::data::{COUNTRIES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES};
use super::error::{csv_error, io_error};
use super::format::{CUSTOMER_ID_WIDTH, format_id};
use super::random::{Stream, TopK, Weighted, defect_counts, mark_random, pick, rng_for, shrink_to};
use super::{CustomerMove, DefectKind, GenerateConfig, GenerateError};

/// What the later datasets need from the customers written: whom to sell to, what was
/// injected, who moved.
pub(super) struct CustomerPlan {
    /// Heavy-tailed choice over clean customers; yields 1-based customer numbers.
    pub(super) table: Weighted,
    /// Rows injected per defect kind.
    pub(super) defects: Vec<(DefectKind, u64)>,
    /// The moved customers' new rows, by customer id.
    pub(super) moves: Vec<MovedCustomer>,
}

impl CustomerPlan {
    /// The moves as the generation report lists them, by customer id.
    pub(super) fn reported_moves(&self) -> Vec<CustomerMove> {
        self.moves
            .iter()
            .map(|m| CustomerMove {
                customer_id: m.row.id.clone(),
                old_country: m.old_country.to_string(),
                new_country: m.row.country.to_string(),
                updated_at: m.row.updated_at.clone(),
            })
            .collect()
    }
}

/// One row of `customers.csv` / `customers_updates.csv`.
#[derive(Clone)]
struct CustomerRow {
    id: String,
    name: String,
    email: String,
    phone: String,
    country: &'static str,
    city: &'static str,
    signup: String,
    updated_at: String,
}

impl CustomerRow {
    fn fields(&self) -> [&str; 8] {
        [
            &self.id,
            &self.name,
            &self.email,
            &self.phone,
            self.country,
            self.city,
            &self.signup,
            &self.updated_at,
        ]
    }
}

const CUSTOMER_HEADER: [&str; 8] = [
    "customer_id",
    "name",
    "email",
    "phone",
    "country",
    "city",
    "signup_date",
    "updated_at",
];

/// A customer who moved: the new row and where they lived before.
pub(super) struct MovedCustomer {
    row: CustomerRow,
    old_country: &'static str,
}

const CUSTOMER_CLEAN: u8 = 0;
const CUSTOMER_MALFORMED: u8 = 1;
const CUSTOMER_MISSING_EMAIL: u8 = 2;

/// Writes `customers.csv` (every row `updated_at` just before the window, a few with a bad or
/// missing e-mail) and plans who buys how often and who moves.
pub(super) fn write_customers(
    config: &GenerateConfig,
    clock: &Clock,
    path: &Path,
) -> Result<CustomerPlan, GenerateError> {
    let n = config.customers;
    let mut rng = rng_for(config.seed, Stream::Customers, 0);
    // Who moves: a separate stream, so the base file does not depend on the number of moves.
    let mut move_rng = rng_for(config.seed, Stream::CustomerMoves, 0);
    let mut movers: TopK<(CustomerRow, usize)> = TopK::new(config.customer_moves);
    let base_updated_at = clock.before_window();

    let mut counts = defect_counts(n, config.defect_rate, &[60.0, 40.0]);
    shrink_to(&mut counts, (n / 2) as u64);
    let mut kinds = vec![CUSTOMER_CLEAN; n];
    let malformed = mark_random(&mut rng, &mut kinds, counts[0], CUSTOMER_MALFORMED);
    let missing = mark_random(&mut rng, &mut kinds, counts[1], CUSTOMER_MISSING_EMAIL);

    let countries = Weighted::new(
        COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c.weight)),
    );
    let domains = Weighted::from_table(EMAIL_DOMAINS);
    let signup_first = config
        .end_date
        .checked_sub_days(Days::new(SIGNUP_SPAN_DAYS))
        .unwrap_or(config.end_date);

    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
    out.write_record(CUSTOMER_HEADER).map_err(csv_error(path))?;

    let mut weights = Vec::with_capacity(n);
    let mut local = String::new();
    for (i, &kind) in kinds.iter().enumerate() {
        let number = i as u64 + 1;
        let first = *pick(&mut rng, FIRST_NAMES);
        let last = *pick(&mut rng, LAST_NAMES);
        let name = format!("{first} {last}");

        local.clear();
        let first_l = first.to_ascii_lowercase();
        let last_l: String = last
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match rng.random_range(0..4) {
            0 => {
                local.push_str(&first_l);
                local.push('.');
                local.push_str(&last_l);
            }
            1 => {
                local.push_str(&first_l);
                local.push_str(&last_l);
            }
            2 => {
                local.push_str(&first_l[..1]);
                local.push_str(&last_l);
            }
            _ => {
                local.push_str(&first_l);
                local.push('.');
                local.push_str(&last_l[..1]);
            }
        }
        local.push_str(&rng.random_range(1..1000).to_string());
        let domain = EMAIL_DOMAINS[domains.sample_index(&mut rng)].0;
        let email = match kind {
            CUSTOMER_MALFORMED => match rng.random_range(0..4) {
                0 => format!("{local}@"),
                1 => format!("{local}@@{domain}"),
                2 => format!("{local}.{domain}"),
                _ => format!("{local}@localhost"),
            },
            CUSTOMER_MISSING_EMAIL => String::new(),
            _ => format!("{local}@{domain}"),
        };

        let country_index = countries.sample_index(&mut rng);
        let country = &COUNTRIES[country_index];
        let city = *pick(&mut rng, country.cities);
        let phone = format!(
            "+{}-{}-{:04}",
            country.dial_code,
            rng.random_range(200..1000),
            rng.random_range(0..10_000)
        );
        let signup = signup_first
            .checked_add_days(Days::new(rng.random_range(0..=SIGNUP_SPAN_DAYS)))
            .unwrap_or(config.end_date);
        // Pareto-like purchase propensity: most customers buy rarely, a few buy a lot.
        let u: f64 = rng.random();
        let weight = (1.0 - u).powf(-1.0 / 1.3).min(60.0);
        weights.push(weight);

        let row = CustomerRow {
            id: format_id(b'C', number, CUSTOMER_ID_WIDTH),
            name,
            email,
            phone,
            country: country.name,
            city,
            signup: signup.to_string(),
            updated_at: base_updated_at.clone(),
        };
        out.write_record(row.fields()).map_err(csv_error(path))?;
        // Only clean customers move (their update row must pass the contract too); frequent
        // buyers more likely, so the move shows in their sales.
        if kind == CUSTOMER_CLEAN
            && let Some(key) = movers.draw(&mut move_rng, weight)
        {
            movers.push(key, i as u32, (row, country_index));
        }
    }
    out.flush().map_err(io_error(path))?;

    let moves = movers
        .into_sorted()
        .into_iter()
        .map(|(_, (mut row, old))| {
            // Anywhere else, as likely as where customers live; a city of the new country.
            let elsewhere = Weighted::new(
                COUNTRIES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != old)
                    .map(|(i, c)| (i as u32, c.weight)),
            );
            let country = &COUNTRIES[elsewhere.sample_index(&mut move_rng)];
            row.country = country.name;
            row.city = *pick(&mut move_rng, country.cities);
            row.updated_at = clock.rfc3339(move_rng.random_range(0..clock.window_secs));
            MovedCustomer {
                row,
                old_country: COUNTRIES[old].name,
            }
        })
        .collect();

    let table = Weighted::new(
        kinds
            .iter()
            .zip(&weights)
            .enumerate()
            .filter(|(_, (kind, _))| **kind == CUSTOMER_CLEAN)
            .map(|(i, (_, &w))| (i as u32 + 1, w)),
    );
    Ok(CustomerPlan {
        table,
        defects: vec![
            (DefectKind::MalformedEmail, malformed),
            (DefectKind::MissingRequired, missing),
        ],
        moves,
    })
}

/// Writes `customers_updates.csv`: the moved customers' rows with their new country and city.
pub(super) fn write_customer_updates(
    moves: &[MovedCustomer],
    path: &Path,
) -> Result<(), GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::new(file));
    out.write_record(CUSTOMER_HEADER).map_err(csv_error(path))?;
    for moved in moves {
        out.write_record(moved.row.fields())
            .map_err(csv_error(path))?;
    }
    out.flush().map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDate;

    use super::*;
    use crate::generate::tests::{check, config, midnight, read_csv, run, utc, window_end};
    use crate::generate::{CUSTOMER_UPDATES_FILE, CUSTOMERS_FILE};

    #[test]
    fn emails_are_valid_unless_malformed() {
        let (dir, report) = run(&config());
        let checked = check(dir.path());
        let validated = &checked.files[CUSTOMERS_FILE];
        let rejected_under =
            |rule: &str| validated.rejected.values().filter(|r| *r == rule).count() as u64;
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let malformed = rejected_under("customers.email.pattern");
        let missing = rejected_under("customers.email.not_null");
        assert_eq!(validated.rejected.len() as u64, malformed + missing);
        let expected = report.expected_by_rule();
        assert_eq!(malformed, expected["customers.email.pattern"]);
        assert_eq!(missing, expected["customers.email.not_null"]);
        let valid = customers.len() as u64 - malformed - missing;
        assert!(valid >= 980);
        // Realistic shape: derived from the name, with a number, at a known domain.
        for customer in customers.iter().filter(|c| validated.kept.contains(&c[0])) {
            let (local, domain) = customer[2].split_once('@').unwrap();
            let first = customer[1].split(' ').next().unwrap().to_ascii_lowercase();
            assert!(local.starts_with(&first[..1]), "{customer:?}");
            assert!(
                local.ends_with(|c: char| c.is_ascii_digit()),
                "{customer:?}"
            );
            assert!(EMAIL_DOMAINS.iter().any(|(d, _)| *d == domain));
        }
    }

    #[test]
    fn customer_moves_change_country() {
        let (dir, report) = run(&config());
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let base: BTreeMap<&str, &Vec<String>> =
            customers.iter().map(|c| (c[0].as_str(), c)).collect();
        let (_, moves) = read_csv(&dir.path().join(CUSTOMER_UPDATES_FILE));
        assert_eq!(moves.len(), 8);
        assert_eq!(report.customer_moves.len(), 8);
        let clean = check(dir.path()).files[CUSTOMERS_FILE].kept.clone();
        let window_start = midnight(NaiveDate::from_ymd_opt(2025, 11, 3).unwrap());
        let mut previous = "";
        for (row, moved) in moves.iter().zip(&report.customer_moves) {
            assert!(row[0].as_str() > previous, "ordered by id");
            previous = &row[0];
            let old = base[row[0].as_str()];
            assert!(clean.contains(&old[0]), "only clean customers move");
            assert_eq!(moved.customer_id, row[0]);
            assert_eq!(moved.old_country, old[4]);
            assert_eq!(moved.new_country, row[4]);
            assert_ne!(row[4], old[4]);
            let country = COUNTRIES.iter().find(|c| c.name == row[4]).unwrap();
            assert!(country.cities.contains(&row[5].as_str()), "{row:?}");
            // The rest of the profile is unchanged.
            for i in [0, 1, 2, 3, 6] {
                assert_eq!(row[i], old[i]);
            }
            assert_eq!(row[7], moved.updated_at);
            let at = utc(&row[7]);
            assert!(at >= window_start && at < window_end(), "{at}");
        }
    }
}
