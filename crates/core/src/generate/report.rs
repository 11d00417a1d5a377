//! The generation report: [`GenerationReport`] and its parts (files written, injected defects
//! with the contract rule that catches each, price changes, customer moves), and the mapping
//! from a [`DefectKind`] to its rule id.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CLICKSTREAM, CUSTOMERS, GenerateError, PRODUCTS, TRANSACTIONS};

/// The kinds of defect the generator injects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// A required value is empty (customers: email; transactions: customer id).
    MissingRequired,
    /// An e-mail address that does not match the contract's pattern.
    MalformedEmail,
    /// A product price of zero or below.
    NonPositivePrice,
    /// A sale quantity of zero or below (its amount follows).
    NonPositiveQuantity,
    /// A transaction date no accepted format parses.
    UnparseableDate,
    /// An exact copy of an earlier clean row, removed as a duplicate.
    ExactDuplicate,
    /// A later row reusing an earlier clean row's key with different content.
    KeyDuplicate,
    /// A transaction for a customer id that does not exist (a warning: the row is kept).
    OrphanCustomer,
    /// A transaction for a product id that does not exist (a warning: the row is kept).
    OrphanProduct,
    /// A payment method outside the contract's list.
    UnknownPaymentMethod,
    /// A clickstream event type outside the contract's list.
    UnknownEventType,
}

/// The settings a data set was generated with (a serialisable echo of
/// [`GenerateConfig`](super::GenerateConfig)).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigEcho {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of customer profiles: the rows of `customers.csv`.
    pub customers: usize,
    /// Number of catalogue products: the records of `products.json`.
    pub products: usize,
    /// Number of sale lines before duplicates were added.
    pub transactions: usize,
    /// Share of rows that got a defect.
    pub defect_rate: f64,
    /// Last day of activity, `YYYY-MM-DD`.
    pub end_date: String,
    /// Length of the activity window in days.
    pub days: u32,
    /// Products asked to be repriced.
    #[serde(default)]
    pub price_changes: usize,
    /// Customers asked to move.
    #[serde(default)]
    pub customer_moves: usize,
}

/// One file the generator wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeneratedFile {
    /// The dataset the file belongs to (`customers`, `products`, `transactions`, `clickstream`).
    pub dataset: String,
    /// The file's name inside the output directory.
    pub file_name: String,
    /// Records written, defective rows and duplicates included.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// One kind of defect injected into one dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InjectedDefect {
    /// The dataset whose rows carry the defect (`customers`, `products`, `transactions`,
    /// `clickstream`).
    pub dataset: String,
    /// What was injected.
    pub kind: DefectKind,
    /// The contract rule that catches it; `None` for exact duplicates, which are removed by
    /// de-duplication rather than by a rule.
    pub rule_id: Option<String>,
    /// How many rows carry it.
    pub count: u64,
}

/// One product whose price changed during the window (a row of `products_updates.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceChange {
    /// The product's id, e.g. `P00042`.
    pub product_id: String,
    /// The price in `products.json`.
    pub old_price: f64,
    /// The price in `products_updates.json`, from `updated_at` on.
    pub new_price: f64,
    /// When the new price took effect (RFC 3339, UTC): within the window's last 14 days.
    pub updated_at: String,
}

/// One customer who moved to another country during the window (a row of
/// `customers_updates.csv`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomerMove {
    /// The customer's id, e.g. `C000042`.
    pub customer_id: String,
    /// The country in `customers.csv`.
    pub old_country: String,
    /// The country in `customers_updates.csv` (its `city` is one of this country's).
    pub new_country: String,
    /// When the customer moved (RFC 3339, UTC): within the window.
    pub updated_at: String,
}

/// What [`generate`](super::generate) wrote and which defects it injected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerationReport {
    /// The settings the files were generated with: the same settings give the same bytes.
    pub config: ConfigEcho,
    /// The data files, in the order they were written.
    pub files: Vec<GeneratedFile>,
    /// The injected defects (only kinds with a count above zero).
    pub defects: Vec<InjectedDefect>,
    /// The repriced products, by product id (empty when no update file was written).
    #[serde(default)]
    pub price_changes: Vec<PriceChange>,
    /// The customers who moved, by customer id (empty when no update file was written).
    #[serde(default)]
    pub customer_moves: Vec<CustomerMove>,
}

impl GenerationReport {
    /// Expected quarantined (or, for warnings, flagged) rows per rule id: the sum of the
    /// injected defects with that rule id.
    pub fn expected_by_rule(&self) -> BTreeMap<String, u64> {
        let mut expected = BTreeMap::new();
        for defect in &self.defects {
            if let Some(rule) = &defect.rule_id {
                *expected.entry(rule.clone()).or_insert(0) += defect.count;
            }
        }
        expected
    }

    /// Expected exact duplicates removed from a dataset.
    pub fn expected_duplicates(&self, dataset: &str) -> u64 {
        self.defects
            .iter()
            .filter(|d| d.dataset == dataset && d.kind == DefectKind::ExactDuplicate)
            .map(|d| d.count)
            .sum()
    }

    /// The first file written for a dataset: its base file (`customers.csv`, `products.json`,
    /// …), not the update file.
    pub fn file(&self, dataset: &str) -> Option<&GeneratedFile> {
        self.files.iter().find(|f| f.dataset == dataset)
    }

    /// The file written under a name (e.g. [`PRODUCT_UPDATES_FILE`](super::PRODUCT_UPDATES_FILE)).
    pub fn file_named(&self, file_name: &str) -> Option<&GeneratedFile> {
        self.files.iter().find(|f| f.file_name == file_name)
    }
}

/// The contract rule id that catches a defect kind in a dataset (`None`: removed as a
/// duplicate).
fn rule_for(dataset: &str, kind: DefectKind) -> Option<&'static str> {
    use DefectKind as K;
    match (dataset, kind) {
        (CUSTOMERS, K::MalformedEmail) => Some("customers.email.pattern"),
        (CUSTOMERS, K::MissingRequired) => Some("customers.email.not_null"),
        (PRODUCTS, K::NonPositivePrice) => Some("products.price.positive"),
        (TRANSACTIONS, K::MissingRequired) => Some("transactions.customer_id.not_null"),
        (TRANSACTIONS, K::NonPositiveQuantity) => Some("transactions.quantity.positive"),
        (TRANSACTIONS, K::UnparseableDate) => Some("transactions.transaction_date.type"),
        (TRANSACTIONS, K::UnknownPaymentMethod) => Some("transactions.payment_method.allowed"),
        (TRANSACTIONS, K::KeyDuplicate) => Some("transactions.transaction_id.unique"),
        (TRANSACTIONS, K::OrphanCustomer) => Some("transactions.customer_id.references"),
        (TRANSACTIONS, K::OrphanProduct) => Some("transactions.product_id.references"),
        (CLICKSTREAM, K::UnknownEventType) => Some("clickstream.event_type.allowed"),
        _ => None,
    }
}

/// Adds the kinds of `counts` that were injected at least once to the report's defects, each
/// with the rule id that catches it.
pub(super) fn push_defects(
    out: &mut Vec<InjectedDefect>,
    dataset: &str,
    counts: &[(DefectKind, u64)],
) {
    for &(kind, count) in counts {
        if count > 0 {
            out.push(InjectedDefect {
                dataset: dataset.to_string(),
                kind,
                rule_id: rule_for(dataset, kind).map(str::to_string),
                count,
            });
        }
    }
}

/// The report's entry for a file just written: its name, `rows` and its size on disk.
pub(super) fn generated_file(
    dataset: &str,
    path: &Path,
    rows: u64,
) -> Result<GeneratedFile, GenerateError> {
    let bytes = std::fs::metadata(path)
        .map_err(|source| GenerateError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok(GeneratedFile {
        dataset: dataset.to_string(),
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::contract::ContractSet;
    use crate::generate::tests::{
        check, config, read_clicks, read_csv, read_page, read_products, run,
    };
    use crate::generate::{
        CLICKSTREAM_FILE, CUSTOMER_UPDATES_FILE, CUSTOMERS_FILE, PRODUCT_UPDATES_FILE,
        PRODUCTS_FILE, REPORT_FILE, TRANSACTIONS_FILE,
    };

    #[test]
    fn rows_in_the_report_match_the_files() {
        let (dir, report) = run(&config());
        let (_, customers) = read_csv(&dir.path().join(CUSTOMERS_FILE));
        let (_, moves) = read_csv(&dir.path().join(CUSTOMER_UPDATES_FILE));
        let (_, transactions) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        let products = read_products(dir.path())["products"]
            .as_array()
            .unwrap()
            .len();
        let price_updates = read_page(dir.path(), PRODUCT_UPDATES_FILE)["products"]
            .as_array()
            .unwrap()
            .len();
        let clicks = read_clicks(dir.path()).len();
        let files: Vec<(&str, &str, u64)> = report
            .files
            .iter()
            .map(|f| (f.dataset.as_str(), f.file_name.as_str(), f.rows))
            .collect();
        assert_eq!(
            files,
            vec![
                (CUSTOMERS, CUSTOMERS_FILE, customers.len() as u64),
                (CUSTOMERS, CUSTOMER_UPDATES_FILE, moves.len() as u64),
                (PRODUCTS, PRODUCTS_FILE, products as u64),
                (PRODUCTS, PRODUCT_UPDATES_FILE, price_updates as u64),
                (TRANSACTIONS, TRANSACTIONS_FILE, transactions.len() as u64),
                (CLICKSTREAM, CLICKSTREAM_FILE, clicks as u64),
            ]
        );
        assert_eq!(moves.len(), 8);
        assert_eq!(price_updates, 12);
        assert_eq!(report.file(PRODUCTS).unwrap().file_name, PRODUCTS_FILE);
        assert_eq!(report.file_named(PRODUCT_UPDATES_FILE).unwrap().rows, 12);
        for file in &report.files {
            let bytes = std::fs::metadata(dir.path().join(&file.file_name))
                .unwrap()
                .len();
            assert_eq!(file.bytes, bytes);
        }
        let saved: GenerationReport =
            serde_json::from_slice(&std::fs::read(dir.path().join(REPORT_FILE)).unwrap()).unwrap();
        assert_eq!(saved, report);
    }

    /// Every rule id the generator reports is one the shipped contracts can report (explicit
    /// or implied: [`Contract::rule_ids`](crate::contract::Contract::rule_ids)); every field
    /// of every generated file maps onto a contract column (nested JSON fields by their dotted
    /// paths, `meta.updatedAt`), so the reader finds no unknown field.
    #[test]
    fn reported_rule_ids_and_columns_exist_in_the_contracts() {
        let contracts = ContractSet::defaults().unwrap();
        let rule_ids: BTreeSet<String> = contracts
            .iter()
            .flat_map(|c| c.rule_ids().into_keys())
            .collect();
        let (dir, report) = run(&config());
        for defect in &report.defects {
            if let Some(rule) = &defect.rule_id {
                assert!(rule_ids.contains(rule), "{rule} is not a contract rule");
            }
        }
        let checked = check(dir.path());
        assert_eq!(checked.files.len(), report.files.len());
        for (file, validated) in &checked.files {
            assert!(
                validated.read.unknown_fields.is_empty(),
                "{file}: {:?} unknown",
                validated.read.unknown_fields
            );
        }
        for file in [PRODUCTS_FILE, PRODUCT_UPDATES_FILE] {
            let mapping = &checked.files[file].read.mapping;
            assert_eq!(mapping["meta.updatedAt"], "updated_at", "{file}");
        }
    }
}
