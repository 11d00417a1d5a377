//! Tests of the generator as a whole (determinism, defect budgets, update files) and the
//! helpers every module's tests share: running the generator into a temporary directory,
//! reading its files back, and checking them against the contracts' rules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;
use serde_json::Value;

use super::format::{push_cents, push_id};
use super::random::{apportion, defect_counts, shrink_to};
use super::*;

pub(super) const EMAIL_PATTERN: &str =
    r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$";
pub(super) const PAYMENTS: [&str; 8] = [
    "credit_card",
    "debit_card",
    "paypal",
    "apple_pay",
    "google_pay",
    "bank_transfer",
    "gift_card",
    "cash_on_delivery",
];
pub(super) const EVENT_TYPES: [&str; 7] = [
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "search",
];

pub(super) fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
}

pub(super) fn config() -> GenerateConfig {
    GenerateConfig::new(end_date())
}

pub(super) fn run(config: &GenerateConfig) -> (tempfile::TempDir, GenerationReport) {
    let dir = tempfile::tempdir().unwrap();
    let report = generate(config, dir.path()).unwrap();
    (dir, report)
}

pub(super) fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

pub(super) fn read_products(dir: &Path) -> Value {
    read_page(dir, PRODUCTS_FILE)
}

pub(super) fn read_page(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

pub(super) fn cents_of(price: &Value) -> i64 {
    (price.as_f64().unwrap() * 100.0).round() as i64
}

pub(super) fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// 00:00 UTC of a day.
pub(super) fn midnight(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// The moment the default window ends (00:00 UTC after `end_date`).
pub(super) fn window_end() -> chrono::DateTime<chrono::Utc> {
    midnight(end_date().succ_opt().unwrap())
}

pub(super) fn read_clicks(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(CLICKSTREAM_FILE))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Whether any of the transactions contract's timestamp formats parses `value`.
pub(super) fn parses_as_transaction_time(value: &str) -> bool {
    const FORMATS: [&str; 7] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%d/%m/%Y %H:%M:%S",
    ];
    FORMATS
        .iter()
        .any(|f| NaiveDateTime::parse_from_str(value, f).is_ok())
        || NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(value).is_ok()
        || value.parse::<i64>().is_ok()
}

pub(super) fn positive_decimal(value: &str) -> bool {
    value.parse::<f64>().is_ok_and(|v| v > 0.0)
}

/// The ids of customers and products a validator would accept.
pub(super) struct Accepted {
    pub(super) customers: BTreeSet<String>,
    pub(super) products: BTreeSet<String>,
}

/// A small, independent re-implementation of the contracts' rules: counts, per rule id,
/// the rows each rule would reject (first failing rule in column order) or flag (warnings
/// on kept rows), and the exact duplicates removed.
pub(super) fn check(dir: &Path) -> (BTreeMap<String, u64>, u64, Accepted) {
    let mut hits: BTreeMap<String, u64> = BTreeMap::new();
    let mut hit = |rule: &str| *hits.entry(rule.to_string()).or_insert(0) += 1;
    let email = Regex::new(EMAIL_PATTERN).unwrap();

    let mut accepted = Accepted {
        customers: BTreeSet::new(),
        products: BTreeSet::new(),
    };
    // Base files, then update files (checked alike: uniqueness is per file).
    for file in [CUSTOMERS_FILE, CUSTOMER_UPDATES_FILE] {
        if file == CUSTOMER_UPDATES_FILE && !dir.join(file).exists() {
            continue;
        }
        let (_, customers) = read_csv(&dir.join(file));
        let mut customer_ids = BTreeSet::new();
        for row in &customers {
            assert!(
                customer_ids.insert(row[0].clone()),
                "customer ids are unique"
            );
            if row[0].is_empty() {
                hit("customers.customer_id.not_null");
            } else if row[2].is_empty() {
                hit("customers.email.not_null");
            } else if NaiveDate::parse_from_str(&row[6], "%Y-%m-%d").is_err() {
                hit("customers.signup_date.type");
            } else if chrono::DateTime::parse_from_rfc3339(&row[7]).is_err() {
                hit("customers.updated_at.type");
            } else if !email.is_match(&row[2]) {
                hit("customers.email.pattern");
            } else {
                accepted.customers.insert(row[0].clone());
            }
        }
    }

    let mut products = Vec::new();
    for file in [PRODUCTS_FILE, PRODUCT_UPDATES_FILE] {
        if file == PRODUCT_UPDATES_FILE && !dir.join(file).exists() {
            continue;
        }
        let page = read_page(dir, file);
        let records = page["products"].as_array().unwrap().clone();
        assert_eq!(page["total"], records.len());
        assert_eq!(page["skip"], 0);
        assert_eq!(page["limit"], records.len());
        let ids: BTreeSet<&str> = records.iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), records.len(), "product ids are unique in {file}");
        products.extend(records);
    }
    for product in &products {
        let id = product["id"].as_str().unwrap();
        let price = product["price"].as_f64().unwrap();
        assert!(!product["title"].as_str().unwrap().is_empty());
        assert!(!product["category"].as_str().unwrap().is_empty());
        let cents = price * 100.0;
        assert!(
            (cents - cents.round()).abs() < 1e-6,
            "{price} has two decimals"
        );
        if price <= 0.0 {
            hit("products.price.positive");
        } else if chrono::DateTime::parse_from_rfc3339(
            product["meta"]["updatedAt"].as_str().unwrap(),
        )
        .is_err()
        {
            hit("products.updated_at.type");
        } else if product["stock"].as_i64().unwrap() < 0 {
            hit("products.stock.non_negative");
        } else {
            let rating = product["rating"].as_f64().unwrap();
            if !(0.0..=5.0).contains(&rating) {
                hit("products.rating.range");
            }
            accepted.products.insert(id.to_string());
        }
    }

    let (_, transactions) = read_csv(&dir.join(TRANSACTIONS_FILE));
    let mut seen_rows = BTreeSet::new();
    let mut seen_ids = BTreeSet::new();
    let mut duplicates = 0;
    for row in &transactions {
        if !seen_rows.insert(row.clone()) {
            duplicates += 1;
            continue;
        }
        if !seen_ids.insert(row[0].clone()) {
            hit("transactions.transaction_id.unique");
            continue;
        }
        let quantity = row[3].parse::<i64>();
        if row[1].is_empty() {
            hit("transactions.customer_id.not_null");
        } else if row[2].is_empty() {
            hit("transactions.product_id.not_null");
        } else if quantity.is_err() {
            hit("transactions.quantity.type");
        } else if quantity.as_ref().is_ok_and(|q| *q <= 0) {
            hit("transactions.quantity.positive");
        } else if !positive_decimal(&row[4]) {
            hit("transactions.amount.positive");
        } else if !PAYMENTS.contains(&row[5].to_ascii_lowercase().as_str()) {
            hit("transactions.payment_method.allowed");
        } else if !parses_as_transaction_time(&row[6]) {
            hit("transactions.transaction_date.type");
        } else {
            if !accepted.customers.contains(&row[1]) {
                hit("transactions.customer_id.references");
            }
            if !accepted.products.contains(&row[2]) {
                hit("transactions.product_id.references");
            }
        }
    }

    let mut event_ids = BTreeSet::new();
    for event in read_clicks(dir) {
        let id = event["event_id"].as_str().unwrap().to_string();
        if !event_ids.insert(id) {
            hit("clickstream.event_id.unique");
            continue;
        }
        let timestamp = event["timestamp"].as_str().unwrap();
        if chrono::DateTime::parse_from_rfc3339(timestamp).is_err() {
            hit("clickstream.event_time.type");
        } else if !EVENT_TYPES.contains(&event["event_type"].as_str().unwrap()) {
            hit("clickstream.event_type.allowed");
        } else {
            let device = event["device"].as_str().unwrap();
            if !["desktop", "mobile", "tablet"].contains(&device) {
                hit("clickstream.device.allowed");
            }
            if let Some(customer) = event["customer_id"].as_str()
                && !accepted.customers.contains(customer)
            {
                hit("clickstream.customer_id.references");
            }
            if let Some(product) = event["product_id"].as_str()
                && !accepted.products.contains(product)
            {
                hit("clickstream.product_id.references");
            }
        }
    }
    (hits, duplicates, accepted)
}

pub(super) fn assert_checker_agrees(dir: &Path, report: &GenerationReport) {
    let (hits, duplicates, _) = check(dir);
    assert_eq!(hits, report.expected_by_rule());
    assert_eq!(duplicates, report.expected_duplicates(TRANSACTIONS));
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    [
        CUSTOMERS_FILE,
        PRODUCTS_FILE,
        TRANSACTIONS_FILE,
        CLICKSTREAM_FILE,
        CUSTOMER_UPDATES_FILE,
        PRODUCT_UPDATES_FILE,
        REPORT_FILE,
    ]
    .iter()
    .map(|name| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
    .collect()
}

#[test]
fn same_seed_gives_identical_files() {
    let (first, first_report) = run(&config());
    let (second, second_report) = run(&config());
    assert_eq!(first_report, second_report);
    for ((name, a), (_, b)) in read_all(first.path()).iter().zip(read_all(second.path())) {
        assert!(*a == b, "{name} differs between runs");
    }
}

#[test]
fn different_seeds_differ() {
    let (first, _) = run(&config());
    let (second, _) = run(&GenerateConfig {
        seed: 7,
        ..config()
    });
    for ((name, a), (_, b)) in read_all(first.path())
        .iter()
        .zip(read_all(second.path()))
        .take(6)
    {
        assert!(*a != b, "{name} is the same for different seeds");
    }
}

#[test]
fn zero_defect_rate_injects_nothing() {
    let (dir, report) = run(&GenerateConfig {
        defect_rate: 0.0,
        ..config()
    });
    assert!(report.defects.is_empty());
    assert!(report.expected_by_rule().is_empty());
    assert_eq!(report.expected_duplicates(TRANSACTIONS), 0);
    assert_eq!(report.file(TRANSACTIONS).unwrap().rows, 5_000);
    let (hits, duplicates, accepted) = check(dir.path());
    assert!(hits.is_empty(), "{hits:?}");
    assert_eq!(duplicates, 0);
    assert_eq!(accepted.customers.len(), 1_000);
    assert_eq!(accepted.products.len(), 500);
}

#[test]
fn every_defect_kind_is_injected_at_the_default_rate() {
    let (dir, report) = run(&config());
    let found: BTreeMap<(&str, DefectKind), u64> = report
        .defects
        .iter()
        .map(|d| ((d.dataset.as_str(), d.kind), d.count))
        .collect();
    use DefectKind as K;
    let expected = [
        (CUSTOMERS, K::MalformedEmail),
        (CUSTOMERS, K::MissingRequired),
        (PRODUCTS, K::NonPositivePrice),
        (TRANSACTIONS, K::MissingRequired),
        (TRANSACTIONS, K::NonPositiveQuantity),
        (TRANSACTIONS, K::UnparseableDate),
        (TRANSACTIONS, K::UnknownPaymentMethod),
        (TRANSACTIONS, K::KeyDuplicate),
        (TRANSACTIONS, K::ExactDuplicate),
        (TRANSACTIONS, K::OrphanCustomer),
        (TRANSACTIONS, K::OrphanProduct),
        (CLICKSTREAM, K::UnknownEventType),
    ];
    for key in expected {
        assert!(found.get(&key).is_some_and(|&c| c > 0), "{key:?} missing");
    }
    assert_eq!(found.len(), expected.len());
    // Budgets are round(rows × rate).
    assert_eq!(
        found[&(CUSTOMERS, K::MalformedEmail)] + found[&(CUSTOMERS, K::MissingRequired)],
        20
    );
    assert_eq!(found[&(PRODUCTS, K::NonPositivePrice)], 10);
    let transaction_defects: u64 = report
        .defects
        .iter()
        .filter(|d| d.dataset == TRANSACTIONS)
        .map(|d| d.count)
        .sum();
    assert_eq!(transaction_defects, 100);
    let added = found[&(TRANSACTIONS, K::KeyDuplicate)] + found[&(TRANSACTIONS, K::ExactDuplicate)];
    assert_eq!(report.file(TRANSACTIONS).unwrap().rows, 5_000 + added);
    assert_checker_agrees(dir.path(), &report);
}

#[test]
fn a_contract_checker_finds_exactly_the_expected_violations_at_a_high_rate() {
    let (dir, report) = run(&GenerateConfig {
        defect_rate: 0.5,
        transactions: 2_000,
        seed: 3,
        ..config()
    });
    assert_checker_agrees(dir.path(), &report);
}

#[test]
fn small_budgets_still_inject_every_kind() {
    let (dir, report) = run(&GenerateConfig {
        customers: 50,
        products: 20,
        transactions: 40,
        defect_rate: 0.01,
        ..config()
    });
    assert_eq!(report.defects.len(), 12, "{:?}", report.defects);
    assert!(report.defects.iter().all(|d| d.count >= 1));
    assert_checker_agrees(dir.path(), &report);
}

#[test]
fn tiny_data_sets_keep_clean_rows_to_reference() {
    for transactions in [0, 1, 3] {
        let (dir, report) = run(&GenerateConfig {
            customers: 1,
            products: 1,
            transactions,
            defect_rate: 0.5,
            days: 1,
            ..config()
        });
        assert_checker_agrees(dir.path(), &report);
    }
}

#[test]
fn headers_are_exactly_as_documented() {
    let (dir, _) = run(&config());
    for file in [CUSTOMERS_FILE, CUSTOMER_UPDATES_FILE] {
        let (customers, _) = read_csv(&dir.path().join(file));
        assert_eq!(
            customers.join(","),
            "customer_id,name,email,phone,country,city,signup_date,updated_at"
        );
    }
    let (transactions, _) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
    assert_eq!(
        transactions.join(","),
        "transaction_id,customer_id,product_id,quantity,amount,payment_method,transaction_date"
    );
    let product = &read_products(dir.path())["products"][0];
    let keys: Vec<&str> = product
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "title",
        "description",
        "category",
        "price",
        "discountPercentage",
        "rating",
        "stock",
        "brand",
        "sku",
        "supplier",
        "meta",
    ] {
        assert!(keys.contains(&key), "product lacks {key}");
    }
    assert!(product["meta"]["updatedAt"].is_string());
    let event = &read_clicks(dir.path())[0];
    let keys: BTreeSet<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "event_id",
        "session_id",
        "customer_id",
        "event_type",
        "product_id",
        "page",
        "device",
        "referrer",
        "timestamp",
    ]
    .into();
    assert_eq!(keys, expected);
}

#[test]
fn zero_changes_write_no_update_files() {
    let still = GenerateConfig {
        price_changes: 0,
        customer_moves: 0,
        ..config()
    };
    let (dir, report) = run(&still);
    assert!(!dir.path().join(PRODUCT_UPDATES_FILE).exists());
    assert!(!dir.path().join(CUSTOMER_UPDATES_FILE).exists());
    assert!(report.price_changes.is_empty() && report.customer_moves.is_empty());
    let names: Vec<&str> = report.files.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            CUSTOMERS_FILE,
            PRODUCTS_FILE,
            TRANSACTIONS_FILE,
            CLICKSTREAM_FILE
        ]
    );
    assert_checker_agrees(dir.path(), &report);
    // The base profiles and catalogue do not depend on how many rows change.
    let (changing, _) = run(&config());
    for file in [CUSTOMERS_FILE, PRODUCTS_FILE] {
        assert!(
            std::fs::read(dir.path().join(file)).unwrap()
                == std::fs::read(changing.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn changes_are_capped_by_the_clean_rows() {
    let (dir, report) = run(&GenerateConfig {
        customers: 1,
        products: 1,
        transactions: 10,
        days: 1,
        ..config()
    });
    assert_eq!(report.price_changes.len(), 1);
    assert_eq!(report.customer_moves.len(), 1);
    assert_checker_agrees(dir.path(), &report);
    // A one-day window: the change is within it.
    let at = utc(&report.price_changes[0].updated_at);
    assert!(at >= midnight(end_date()) && at < window_end());
}

#[test]
fn helpers_format_and_apportion_exactly() {
    let mut buf = Vec::new();
    push_cents(&mut buf, -1);
    buf.push(b' ');
    push_cents(&mut buf, 120_050);
    buf.push(b' ');
    push_id(&mut buf, b'T', 12, 7);
    buf.push(b' ');
    push_id(&mut buf, b'C', 12_345_678, 6);
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "-0.01 1200.50 T0000012 C12345678"
    );
    assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
    assert_eq!(apportion(0, &[1.0, 2.0]), vec![0, 0]);
    let mut counts = vec![3, 1, 3];
    shrink_to(&mut counts, 4);
    assert_eq!(counts, vec![2, 1, 1]);
    assert_eq!(defect_counts(100, 0.01, &[3.0, 1.0]), vec![1, 1]);
}
