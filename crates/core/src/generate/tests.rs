//! Tests of the generator as a whole (determinism, defect budgets checked by the pipeline's own
//! reader and validator, update files, errors) and the helpers every module's tests share:
//! running the generator into a temporary directory, reading its files back, and [`check`],
//! which validates every generated file with the shipped contracts the way ingestion does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use chrono::NaiveDate;
use serde_json::Value;

use super::format::{push_cents, push_id};
use super::random::{apportion, defect_counts, shrink_to};
use super::*;
use crate::contract::ContractSet;
use crate::read::{DEFAULT_BATCH_ROWS, ReadReport, read_records};
use crate::validate::{ReferenceSets, ValidateError, ValidationCounts, Validator};

/// The last day of the tests' activity window (the window starts on 2025-11-03).
pub(super) fn end_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
}

/// The default settings, ending on [`end_date`].
pub(super) fn config() -> GenerateConfig {
    GenerateConfig::new(end_date())
}

/// Generates into a fresh temporary directory (removed when the handle drops).
pub(super) fn run(config: &GenerateConfig) -> (tempfile::TempDir, GenerationReport) {
    let dir = tempfile::tempdir().unwrap();
    let report = generate(config, dir.path()).unwrap();
    (dir, report)
}

/// A CSV file's header and rows, as text.
pub(super) fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The catalogue page, `products.json`.
pub(super) fn read_products(dir: &Path) -> Value {
    read_page(dir, PRODUCTS_FILE)
}

/// A product page (`products.json` or `products_updates.json`).
pub(super) fn read_page(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

/// A JSON price in whole cents.
pub(super) fn cents_of(price: &Value) -> i64 {
    (price.as_f64().unwrap() * 100.0).round() as i64
}

/// An RFC 3339 time, in UTC.
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

/// Every clickstream event, in file order.
pub(super) fn read_clicks(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join(CLICKSTREAM_FILE))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The ids of customers and products the validator kept: what a later dataset's `references`
/// rules check against, as ingestion loads them from silver.
pub(super) struct Accepted {
    pub(super) customers: BTreeSet<String>,
    pub(super) products: BTreeSet<String>,
}

/// What the pipeline's own reader and validator made of one generated file.
pub(super) struct Validated {
    /// How the reader mapped the file's fields onto the contract's columns.
    pub(super) read: ReadReport,
    /// Rows in, kept and rejected; rejected and flagged rows per rule id; exact duplicates.
    pub(super) counts: ValidationCounts,
    /// Primary-key values of the rows kept (rows with warnings included).
    pub(super) kept: BTreeSet<String>,
    /// The rule each rejected row failed, by the row's 1-based position in the file.
    pub(super) rejected: BTreeMap<i64, String>,
}

/// Reads and validates one generated file with its dataset's shipped contract, the
/// referenced datasets' ids taken from `accepted`.
pub(super) fn validate_file(
    dir: &Path,
    dataset: &str,
    file: &str,
    accepted: &Accepted,
) -> Validated {
    let contracts = ContractSet::defaults().unwrap();
    let contract = contracts.get(dataset).unwrap();
    let mut references = ReferenceSets::default();
    for (referenced, column) in ReferenceSets::needed(contract) {
        let ids = match referenced.as_str() {
            CUSTOMERS => &accepted.customers,
            PRODUCTS => &accepted.products,
            other => panic!("{dataset} references {other}, which the generator does not write"),
        };
        references.insert(&referenced, &column, ids.iter().cloned().collect());
    }
    let mut validator = Validator::new(contract, references).unwrap();
    let [key] = contract.primary_key.as_slice() else {
        panic!("{dataset}: the generated datasets have one-column keys");
    };
    let mut kept = BTreeSet::new();
    let mut rejected = BTreeMap::new();
    let mut sink = |raw: RecordBatch| -> Result<(), ValidateError> {
        let out = validator.validate(&raw)?;
        let keys = out.valid.column_by_name(key).unwrap().as_string::<i32>();
        kept.extend(keys.iter().flatten().map(str::to_string));
        rejected.extend(out.rejected.into_iter().map(|r| (r.row_number, r.rule_id)));
        Ok(())
    };
    let input = std::fs::File::open(dir.join(file)).unwrap();
    let read = read_records(input, file, contract, DEFAULT_BATCH_ROWS, &mut sink)
        .unwrap_or_else(|failure| panic!("{file}: {failure}"));
    let counts = validator.counts().clone();
    assert!(
        counts.skipped_rules.is_empty(),
        "{file}: referenced datasets are checked first: {:?}",
        counts.skipped_rules
    );
    Validated {
        read,
        counts,
        kept,
        rejected,
    }
}

/// What [`check`] found over every generated file.
pub(super) struct Checked {
    /// Rows rejected (or, for warnings, flagged) per rule id.
    pub(super) hits: BTreeMap<String, u64>,
    /// Exact duplicates removed, per dataset.
    pub(super) duplicates: BTreeMap<String, u64>,
    /// The customers and products kept, base and update files together.
    pub(super) accepted: Accepted,
    /// Each file's own result, by file name (update files only when they were written).
    pub(super) files: BTreeMap<&'static str, Validated>,
}

/// Runs the pipeline's reader and validator over every generated file in the order ingestion
/// takes them (referenced datasets first), each file's `references` rules checked against the
/// ids kept from the files before it. An empty file holds no rows and is left out (ingestion
/// would quarantine it whole as unreadable): the clickstream of a data set without sales.
pub(super) fn check(dir: &Path) -> Checked {
    let mut checked = Checked {
        hits: BTreeMap::new(),
        duplicates: BTreeMap::new(),
        accepted: Accepted {
            customers: BTreeSet::new(),
            products: BTreeSet::new(),
        },
        files: BTreeMap::new(),
    };
    for (dataset, file) in [
        (CUSTOMERS, CUSTOMERS_FILE),
        (CUSTOMERS, CUSTOMER_UPDATES_FILE),
        (PRODUCTS, PRODUCTS_FILE),
        (PRODUCTS, PRODUCT_UPDATES_FILE),
        (TRANSACTIONS, TRANSACTIONS_FILE),
        (CLICKSTREAM, CLICKSTREAM_FILE),
    ] {
        let updates = file == CUSTOMER_UPDATES_FILE || file == PRODUCT_UPDATES_FILE;
        if updates && !dir.join(file).exists() {
            continue;
        }
        if std::fs::metadata(dir.join(file)).unwrap().len() == 0 {
            continue;
        }
        let validated = validate_file(dir, dataset, file, &checked.accepted);
        let counts = &validated.counts;
        for (rule, n) in counts
            .rejected_by_rule
            .iter()
            .chain(&counts.warnings_by_rule)
        {
            *checked.hits.entry(rule.clone()).or_default() += n;
        }
        *checked.duplicates.entry(dataset.to_string()).or_default() += counts.duplicates_removed;
        match dataset {
            CUSTOMERS => checked
                .accepted
                .customers
                .extend(validated.kept.iter().cloned()),
            PRODUCTS => checked
                .accepted
                .products
                .extend(validated.kept.iter().cloned()),
            _ => {}
        }
        checked.files.insert(file, validated);
    }
    checked
}

/// What no contract rule checks but the product pages promise: each page's envelope counts
/// its records, and every price has at most two decimals.
pub(super) fn assert_pages_well_formed(dir: &Path) {
    for file in [PRODUCTS_FILE, PRODUCT_UPDATES_FILE] {
        if file == PRODUCT_UPDATES_FILE && !dir.join(file).exists() {
            continue;
        }
        let page = read_page(dir, file);
        let records = page["products"].as_array().unwrap();
        assert_eq!(page["total"], records.len(), "{file}");
        assert_eq!(page["skip"], 0, "{file}");
        assert_eq!(page["limit"], records.len(), "{file}");
        for product in records {
            let price = product["price"].as_f64().unwrap();
            let cents = price * 100.0;
            assert!(
                (cents - cents.round()).abs() < 1e-6,
                "{price} has two decimals"
            );
        }
    }
}

/// The validator rejects and flags exactly the rows the report says were made defective, and
/// removes exactly the duplicates it says were added.
pub(super) fn assert_checker_agrees(dir: &Path, report: &GenerationReport) {
    let checked = check(dir);
    assert_eq!(checked.hits, report.expected_by_rule());
    for dataset in [CUSTOMERS, PRODUCTS, TRANSACTIONS, CLICKSTREAM] {
        assert_eq!(
            checked.duplicates.get(dataset).copied().unwrap_or(0),
            report.expected_duplicates(dataset),
            "{dataset} duplicates"
        );
    }
    assert_pages_well_formed(dir);
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
    let checked = check(dir.path());
    assert!(checked.hits.is_empty(), "{:?}", checked.hits);
    assert!(
        checked.duplicates.values().all(|&n| n == 0),
        "{:?}",
        checked.duplicates
    );
    assert_eq!(checked.accepted.customers.len(), 1_000);
    assert_eq!(checked.accepted.products.len(), 500);
    assert_pages_well_formed(dir.path());
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

/// The generator's writers are one per dataset (each dataset's semantics are its own), but what
/// a file *is* comes from the contract set: every generated file's name routes, by the
/// built-in contracts' `file_patterns`, to the dataset the generator reports it as, and the
/// generator writes every built-in dataset. A renamed file or a new built-in contract without a
/// writer fails here.
#[test]
fn every_generated_file_is_the_dataset_the_contract_set_routes_it_to() {
    let contracts = ContractSet::defaults().unwrap();
    let mut config = config();
    config.customers = 50;
    config.products = 20;
    config.transactions = 200;
    let (_dir, report) = run(&config);
    for file in &report.files {
        assert_eq!(
            contracts.dataset_for_file(&file.file_name),
            Some(file.dataset.as_str()),
            "{}",
            file.file_name
        );
    }
    let generated: BTreeSet<&str> = report.files.iter().map(|f| f.dataset.as_str()).collect();
    let built_in: BTreeSet<&str> = contracts.names().collect();
    assert_eq!(generated, built_in);
}
