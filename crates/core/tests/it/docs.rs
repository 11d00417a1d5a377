//! The docs' per-dataset tables against the built-in contract set they describe: the silver
//! schema of every dataset (section 2.2 of `docs/data-layers-and-contracts.md`) and every rule id
//! with its severity (section 5) are computed here from the contracts, so a column, type, rule
//! or severity changed in a contract fails this until the docs say the same. (The routing table
//! is checked by `tests/infra/test_docs.py`.)

use std::collections::BTreeMap;

use arrow::datatypes::DataType;
use shopflow_core::contract::{Classification, ContractSet, Severity};

fn doc() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/data-layers-and-contracts.md"
    );
    std::fs::read_to_string(path).unwrap()
}

/// The rows of each table that follows a heading starting with `heading_prefix` + a dataset
/// name, as cells without backticks, by dataset.
fn tables(text: &str, heading_prefix: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(heading_prefix) {
            current = rest.split_whitespace().next().map(String::from);
            continue;
        }
        if line.starts_with('#') {
            current = None;
            continue;
        }
        let Some(dataset) = &current else { continue };
        if !line.starts_with('|') || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        if cells[0] == "column" || cells[0] == "rule id" {
            continue;
        }
        out.entry(dataset.clone()).or_default().push(cells);
    }
    out
}

/// A type as the docs spell it.
fn spelled(t: &DataType) -> String {
    match t {
        DataType::Decimal128(p, s) => format!("Decimal128({p}, {s})"),
        DataType::Timestamp(unit, Some(tz)) => format!("Timestamp({unit:?}, \"{tz}\")"),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_docs_silver_tables_are_the_built_in_contracts_columns() {
    let contracts = ContractSet::defaults().unwrap();
    let documented = tables(&doc(), "#### ");
    for contract in contracts.iter() {
        let schema = shopflow_core::validate::typed_schema(contract);
        let expected: Vec<Vec<String>> = contract
            .columns
            .iter()
            .map(|c| {
                let class = match c.classification {
                    Classification::Public => "public",
                    Classification::Pii => "pii",
                    Classification::Secret => "secret",
                };
                match schema.field_with_name(&c.name) {
                    Ok(field) => vec![
                        c.name.clone(),
                        spelled(field.data_type()),
                        if field.is_nullable() { "yes" } else { "no" }.to_string(),
                        class.to_string(),
                    ],
                    Err(_) => vec![
                        c.name.clone(),
                        "not written".into(),
                        "-".into(),
                        class.to_string(),
                    ],
                }
            })
            .collect();
        assert_eq!(
            documented.get(&contract.dataset),
            Some(&expected),
            "docs/data-layers-and-contracts.md, silver table of {}",
            contract.dataset
        );
    }
}

#[test]
fn the_docs_list_every_rule_id_of_the_built_in_contracts_with_its_severity() {
    let contracts = ContractSet::defaults().unwrap();
    let documented = tables(&doc(), "### ");
    for contract in contracts.iter() {
        let expected: BTreeMap<String, &str> = contract
            .rule_ids()
            .into_iter()
            .map(|(id, severity)| {
                let s = match severity {
                    Severity::Warn => "warn",
                    Severity::Reject => "reject",
                    Severity::FailFile => "fail_file",
                };
                (id, s)
            })
            .collect();
        let listed: BTreeMap<String, &str> = documented
            .get(&contract.dataset)
            .unwrap_or_else(|| panic!("no rule table for {}", contract.dataset))
            .iter()
            .map(|row| {
                let severity = row[1].split_whitespace().next().unwrap_or("");
                (row[0].clone(), severity)
            })
            .collect();
        assert_eq!(
            listed, expected,
            "docs/data-layers-and-contracts.md, rule ids of {}",
            contract.dataset
        );
    }
}
