//! The transactions dataset: `transactions.csv`, sale lines in time order with weekly
//! seasonality, a gentle trend and an hour-of-day profile, sold to clean customers at the
//! price of the moment, with a few rows carrying one defect each (a missing customer, a bad
//! quantity, date or payment method, an unknown customer or product) and a few duplicates.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::Datelike;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clock::{Clock, SECONDS_PER_DAY};
use super::customers::CustomerPlan;
use super::data::{BAD_DATES, BAD_PAYMENT_METHODS, HOUR_WEIGHTS, PAYMENT_METHODS, WEEKDAY_WEIGHTS};
use super::error::{csv_error, io_error};
use super::format::{
    CUSTOMER_ID_WIDTH, PRODUCT_ID_WIDTH, TRANSACTION_ID_WIDTH, push_cents, push_id, push_int,
};
use super::products::ProductPlan;
use super::random::{Stream, Weighted, apportion, defect_counts, mark_random, rng_for, shrink_to};
use super::{DefectKind, GenerateConfig, GenerateError};

/// Transaction defect kinds in the order their row codes (index + 1) use; the first six change
/// a row in place, the last two add a row.
const TX_DEFECTS: [DefectKind; 8] = [
    DefectKind::MissingRequired,
    DefectKind::NonPositiveQuantity,
    DefectKind::UnparseableDate,
    DefectKind::UnknownPaymentMethod,
    DefectKind::OrphanCustomer,
    DefectKind::OrphanProduct,
    DefectKind::ExactDuplicate,
    DefectKind::KeyDuplicate,
];
const TX_DEFECT_WEIGHTS: [f64; 8] = [14.0, 14.0, 14.0, 14.0, 10.0, 10.0, 14.0, 10.0];
const TX_IN_PLACE: usize = 6;

/// A row without a defect (duplicates' source rows are clean too).
pub(super) const TX_CLEAN: u8 = 0;
const TX_MISSING_CUSTOMER: u8 = 1;
const TX_BAD_QUANTITY: u8 = 2;
const TX_BAD_DATE: u8 = 3;
const TX_BAD_PAYMENT: u8 = 4;
const TX_ORPHAN_CUSTOMER: u8 = 5;
const TX_ORPHAN_PRODUCT: u8 = 6;
const TX_EXACT_SOURCE: u8 = 7;
const TX_KEY_SOURCE: u8 = 8;

/// One sale line as planned; written by [`write_transaction`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TxRow {
    /// Seconds since the window start.
    pub(super) t: u32,
    /// Transaction number (the id's digits).
    id: u32,
    /// Customer number (1-based; an unknown number for orphans).
    pub(super) customer: u32,
    /// Product number (1-based; an unknown number for orphans).
    pub(super) product: u32,
    price_cents: u32,
    quantity: i16,
    /// Index into the allowed (or, for bad payments, the bad) payment methods.
    payment: u8,
    /// `TX_CLEAN` or one of the in-place defect codes.
    pub(super) kind: u8,
    /// Which bad date to write.
    variant: u8,
}

/// Every sale line, planned before anything is written: the clickstream follows the same rows.
pub(super) struct TxPlan {
    /// Base rows in time order.
    pub(super) rows: Vec<TxRow>,
    /// Added duplicate rows, each written right after the base row at its index.
    duplicates: Vec<(u32, TxRow)>,
    /// Rows injected per defect kind.
    pub(super) defects: Vec<(DefectKind, u64)>,
}

/// How many units one sale line sells, by the unit price.
fn quantity_for(rng: &mut ChaCha8Rng, price_cents: i64) -> i16 {
    // Cheap items sell by the handful, expensive ones almost always alone.
    let thresholds: &[f64] = if price_cents < 2_000 {
        &[0.40, 0.65, 0.80, 0.92]
    } else if price_cents < 10_000 {
        &[0.70, 0.92]
    } else if price_cents < 50_000 {
        &[0.88]
    } else {
        &[0.96]
    };
    let u: f64 = rng.random();
    thresholds.partition_point(|&c| c <= u) as i16 + 1
}

/// Plans the sale lines: when (weekly seasonality, a gentle trend, an hour-of-day profile), who
/// buys what at the price of the moment, and which rows carry a defect or are duplicated.
pub(super) fn plan_transactions(
    config: &GenerateConfig,
    customers: &CustomerPlan,
    products: &ProductPlan,
    clock: &Clock,
) -> TxPlan {
    let n = config.transactions;
    let mut rng = rng_for(config.seed, Stream::Transactions, 0);

    // When: daily volume with weekly seasonality, a gentle upward trend and some noise; within
    // a day, an hour-of-day profile.
    let first_weekday = clock.start.weekday().num_days_from_monday() as usize;
    let days = config.days as usize;
    let day_weights: Vec<f64> = (0..days)
        .map(|d| {
            let weekday = WEEKDAY_WEIGHTS[(first_weekday + d) % 7];
            let trend = 1.0 + 0.3 * d as f64 / days as f64;
            let noise = 0.92 + 0.16 * rng.random::<f64>();
            weekday * trend * noise
        })
        .collect();
    let per_day = apportion(n as u64, &day_weights);
    let hours = Weighted::from_weights(&HOUR_WEIGHTS);
    let mut times: Vec<u32> = Vec::with_capacity(n);
    for (day, &count) in per_day.iter().enumerate() {
        let day_start = day as u32 * SECONDS_PER_DAY as u32;
        for _ in 0..count {
            let hour = hours.sample(&mut rng);
            times.push(day_start + hour * 3600 + rng.random_range(0..3600));
        }
    }
    times.sort_unstable();

    // Which rows carry which defect.
    let mut counts = defect_counts(n, config.defect_rate, &TX_DEFECT_WEIGHTS);
    shrink_to(&mut counts[..TX_IN_PLACE], (n / 2) as u64);
    let in_place: u64 = counts[..TX_IN_PLACE].iter().sum();
    shrink_to(&mut counts[TX_IN_PLACE..], (n as u64 - in_place) / 2);
    let mut kinds = vec![TX_CLEAN; n];
    let mut injected = Vec::with_capacity(TX_DEFECTS.len());
    for (k, (&kind, &count)) in TX_DEFECTS.iter().zip(&counts).enumerate() {
        injected.push((kind, mark_random(&mut rng, &mut kinds, count, k as u8 + 1)));
    }

    let payments = Weighted::from_table(PAYMENT_METHODS);
    let clean_row = |rng: &mut ChaCha8Rng, index: usize| {
        let product = products.table.sample_index(rng);
        // After a price change, the sale is at the new price.
        let price = products.price_at(product, times[index]);
        TxRow {
            t: times[index],
            id: index as u32 + 1,
            customer: customers.table.sample(rng),
            product: product as u32 + 1,
            price_cents: price as u32,
            quantity: quantity_for(rng, price),
            payment: payments.sample(rng) as u8,
            kind: TX_CLEAN,
            variant: 0,
        }
    };
    let orphan_customer_base = (config.customers as u32 + 1).max(900_000);
    let orphan_product_base = (config.products as u32 + 1).max(90_000);

    let mut rows = Vec::with_capacity(n);
    let mut duplicates = Vec::new();
    for (index, &kind) in kinds.iter().enumerate() {
        let mut row = clean_row(&mut rng, index);
        match kind {
            TX_BAD_QUANTITY => row.quantity = -rng.random_range(0..=2),
            TX_BAD_DATE => row.variant = rng.random_range(0..BAD_DATES.len()) as u8,
            TX_BAD_PAYMENT => row.payment = rng.random_range(0..BAD_PAYMENT_METHODS.len()) as u8,
            TX_ORPHAN_CUSTOMER => {
                row.customer = orphan_customer_base + rng.random_range(0..100_000);
            }
            TX_ORPHAN_PRODUCT => {
                row.product = orphan_product_base + rng.random_range(0..10_000);
            }
            TX_EXACT_SOURCE | TX_KEY_SOURCE => {
                let after = (index + rng.random_range(1..=12)).min(n - 1) as u32;
                let duplicate = if kind == TX_EXACT_SOURCE {
                    row
                } else {
                    let mut other = clean_row(&mut rng, index);
                    other.id = row.id;
                    if (other.customer, other.product, other.quantity, other.payment)
                        == (row.customer, row.product, row.quantity, row.payment)
                    {
                        other.payment = (other.payment + 1) % PAYMENT_METHODS.len() as u8;
                    }
                    other
                };
                duplicates.push((after, duplicate));
            }
            _ => {}
        }
        row.kind = if kind >= TX_EXACT_SOURCE {
            TX_CLEAN
        } else {
            kind
        };
        rows.push(row);
    }
    duplicates.sort_by_key(|(after, _)| *after);
    TxPlan {
        rows,
        duplicates,
        defects: injected,
    }
}

/// Reusable field buffers for one transaction line.
#[derive(Default)]
struct TxFields {
    id: Vec<u8>,
    customer: Vec<u8>,
    product: Vec<u8>,
    quantity: Vec<u8>,
    amount: Vec<u8>,
    date: Vec<u8>,
}

/// Writes one sale line.
fn write_transaction<W: Write>(
    out: &mut csv::Writer<W>,
    fields: &mut TxFields,
    row: &TxRow,
    clock: &Clock,
) -> csv::Result<()> {
    fields.id.clear();
    push_id(
        &mut fields.id,
        b'T',
        u64::from(row.id),
        TRANSACTION_ID_WIDTH,
    );
    fields.customer.clear();
    if row.kind != TX_MISSING_CUSTOMER {
        push_id(
            &mut fields.customer,
            b'C',
            u64::from(row.customer),
            CUSTOMER_ID_WIDTH,
        );
    }
    fields.product.clear();
    push_id(
        &mut fields.product,
        b'P',
        u64::from(row.product),
        PRODUCT_ID_WIDTH,
    );
    fields.quantity.clear();
    push_int(&mut fields.quantity, i64::from(row.quantity));
    fields.amount.clear();
    push_cents(
        &mut fields.amount,
        i64::from(row.quantity) * i64::from(row.price_cents),
    );
    let payment = if row.kind == TX_BAD_PAYMENT {
        BAD_PAYMENT_METHODS[usize::from(row.payment)]
    } else {
        PAYMENT_METHODS[usize::from(row.payment)].0
    };
    fields.date.clear();
    if row.kind == TX_BAD_DATE {
        fields
            .date
            .extend_from_slice(BAD_DATES[usize::from(row.variant)].as_bytes());
    } else {
        clock.push(&mut fields.date, i64::from(row.t), b' ');
    }
    out.write_record([
        fields.id.as_slice(),
        fields.customer.as_slice(),
        fields.product.as_slice(),
        fields.quantity.as_slice(),
        fields.amount.as_slice(),
        payment.as_bytes(),
        fields.date.as_slice(),
    ])
}

/// Writes `transactions.csv`, each duplicate right after the row it follows; returns the lines
/// written.
pub(super) fn write_transactions(
    plan: &TxPlan,
    clock: &Clock,
    path: &Path,
) -> Result<u64, GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
    out.write_record([
        "transaction_id",
        "customer_id",
        "product_id",
        "quantity",
        "amount",
        "payment_method",
        "transaction_date",
    ])
    .map_err(csv_error(path))?;
    let mut fields = TxFields::default();
    let mut duplicates = plan.duplicates.iter().peekable();
    let mut written = 0u64;
    for (index, row) in plan.rows.iter().enumerate() {
        write_transaction(&mut out, &mut fields, row, clock).map_err(csv_error(path))?;
        written += 1;
        while let Some((_, duplicate)) = duplicates.next_if(|(after, _)| *after as usize == index) {
            write_transaction(&mut out, &mut fields, duplicate, clock).map_err(csv_error(path))?;
            written += 1;
        }
    }
    out.flush().map_err(io_error(path))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{NaiveDate, NaiveDateTime, Timelike};

    use super::*;
    use crate::generate::tests::{
        cents_of, check, config, end_date, read_csv, read_page, read_products, run, utc,
    };
    use crate::generate::{CUSTOMERS_FILE, PRODUCT_UPDATES_FILE, TRANSACTIONS_FILE};

    #[test]
    fn amount_is_quantity_times_the_price_at_the_time_of_sale() {
        let (dir, _) = run(&config());
        let prices: BTreeMap<String, i64> = read_products(dir.path())["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap().to_string(), cents_of(&p["price"])))
            .collect();
        let changes: BTreeMap<String, (chrono::DateTime<chrono::Utc>, i64)> =
            read_page(dir.path(), PRODUCT_UPDATES_FILE)["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let at = utc(p["meta"]["updatedAt"].as_str().unwrap());
                    (
                        p["id"].as_str().unwrap().to_string(),
                        (at, cents_of(&p["price"])),
                    )
                })
                .collect();
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let (mut checked, mut at_new_price, mut at_old_price_of_changed) = (0, 0, 0);
        for row in rows {
            let quantity: i64 = row[3].parse().unwrap();
            let (units, cents) = row[4].trim_start_matches('-').split_once('.').unwrap();
            assert_eq!(cents.len(), 2, "{}", row[4]);
            let sign = if row[4].starts_with('-') { -1 } else { 1 };
            let amount =
                sign * (units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap());
            let sold_at = NaiveDateTime::parse_from_str(&row[6], "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc());
            if let Some(&price) = prices.get(&row[2]) {
                match (changes.get(&row[2]), sold_at) {
                    (Some(&(at, new_price)), Some(t)) if t >= at => {
                        assert_eq!(amount, quantity * new_price, "{row:?}");
                        at_new_price += 1;
                    }
                    (Some(_), Some(_)) => {
                        assert_eq!(amount, quantity * price, "{row:?}");
                        at_old_price_of_changed += 1;
                    }
                    // A date no format parses: the time is unknown, either price fits.
                    (Some(&(_, new_price)), None) => assert!(
                        amount == quantity * price || amount == quantity * new_price,
                        "{row:?}"
                    ),
                    (None, _) => assert_eq!(amount, quantity * price, "{row:?}"),
                }
                checked += 1;
            } else {
                // An orphan product: the amount is still a multiple of the quantity.
                assert!(quantity > 0 && amount % quantity == 0, "{row:?}");
            }
        }
        assert!(checked > 4_900);
        // Popular products are likelier to be repriced: the change shows in sales.
        assert!(at_new_price > 0, "no sale after a price change");
        assert!(at_old_price_of_changed > 0);
    }

    #[test]
    fn transactions_reference_only_clean_customers_and_products_unless_orphaned() {
        let (dir, report) = run(&config());
        let accepted = check(dir.path()).accepted;
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let (orphan_customers, orphan_products) = rows.iter().fold((0, 0), |(c, p), row| {
            let bad_customer = !row[1].is_empty() && !accepted.customers.contains(&row[1]);
            let bad_product = !accepted.products.contains(&row[2]);
            assert!(!(bad_customer && bad_product), "{row:?} has two defects");
            (c + u64::from(bad_customer), p + u64::from(bad_product))
        });
        let expected = report.expected_by_rule();
        assert_eq!(
            orphan_customers,
            expected["transactions.customer_id.references"]
        );
        assert_eq!(
            orphan_products,
            expected["transactions.product_id.references"]
        );
        // Orphans are unknown ids, not defective known ones.
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let all_customers: BTreeSet<&str> = customers.iter().map(|c| c[0].as_str()).collect();
        for row in &rows {
            if !row[1].is_empty() && !accepted.customers.contains(&row[1]) {
                assert!(!all_customers.contains(row[1].as_str()), "{row:?}");
            }
        }
    }

    #[test]
    fn activity_looks_like_a_shop() {
        let (dir, _) = run(&GenerateConfig {
            transactions: 20_000,
            ..config()
        });
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let times: Vec<NaiveDateTime> = rows
            .iter()
            .filter_map(|r| NaiveDateTime::parse_from_str(&r[6], "%Y-%m-%d %H:%M:%S").ok())
            .collect();
        // Within the window and (apart from duplicates placed a few rows later) in time order.
        let start = NaiveDate::from_ymd_opt(2025, 11, 3).unwrap();
        assert!(
            times
                .iter()
                .all(|t| t.date() >= start && t.date() <= end_date())
        );
        let out_of_order = times.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(out_of_order <= rows.len() / 100, "{out_of_order}");
        // Weekends are busier than weekdays, per day.
        let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        for t in &times {
            *per_day.entry(t.date()).or_default() += 1;
        }
        let average = |weekend: bool| {
            let days: Vec<u64> = per_day
                .iter()
                .filter(|(d, _)| (d.weekday().number_from_monday() >= 6) == weekend)
                .map(|(_, c)| *c)
                .collect();
            days.iter().sum::<u64>() as f64 / days.len() as f64
        };
        assert!(average(true) > 1.15 * average(false));
        // Nights are quiet, evenings busy.
        let night = times.iter().filter(|t| (2..5).contains(&t.hour())).count();
        let evening = times
            .iter()
            .filter(|t| (19..22).contains(&t.hour()))
            .count();
        assert!(evening > 5 * night, "{evening} vs {night}");
        // A tenth of the customers make well over a third of the purchases.
        let mut per_customer: BTreeMap<&str, u64> = BTreeMap::new();
        for row in &rows {
            *per_customer.entry(row[1].as_str()).or_default() += 1;
        }
        let mut counts: Vec<u64> = per_customer.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: u64 = counts.iter().take(100).sum();
        assert!(top * 3 > rows.len() as u64, "top 100 customers: {top}");
        // Cheap items sell in bigger quantities than expensive ones.
        let mean_quantity = |cheap: bool| {
            let picked: Vec<f64> = rows
                .iter()
                .filter_map(|r| {
                    let q: f64 = r[3].parse().ok()?;
                    let unit = r[4].parse::<f64>().ok()? / q;
                    (q > 0.0 && (unit < 20.0) == cheap).then_some(q)
                })
                .collect();
            picked.iter().sum::<f64>() / picked.len() as f64
        };
        assert!(mean_quantity(true) > 1.5 * mean_quantity(false));
    }
}
