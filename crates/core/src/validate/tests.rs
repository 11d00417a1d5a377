//! One test per rule kind: accepts good values, rejects bad ones under the right rule id.

use std::collections::HashSet;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, TimestampMicrosecondType};

use super::*;
use crate::contract::{Contract, ContractSet};
use crate::read::{ReadFailure, read_records};

fn contract(name: &str) -> Contract {
    ContractSet::defaults().unwrap().get(name).unwrap().clone()
}

fn raw(contract: &Contract, csv: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut sink = |b: RecordBatch| -> Result<(), std::convert::Infallible> {
        out.push(b);
        Ok(())
    };
    match read_records(csv.as_bytes(), "x.csv", contract, 1024, &mut sink) {
        Ok(_) => {}
        Err(ReadFailure::Unreadable(u)) => panic!("{u}"),
        Err(ReadFailure::Sink(e)) => match e {},
    }
    out
}

struct Outcome {
    valid: Vec<RecordBatch>,
    rejected: Vec<RejectedRow>,
    counts: ValidationCounts,
    file_failure: Option<FileFailure>,
}

fn run(contract: &Contract, refs: ReferenceSets, csv: &str) -> Outcome {
    let mut v = Validator::new(contract, refs).unwrap();
    let mut valid = Vec::new();
    let mut rejected = Vec::new();
    for b in raw(contract, csv) {
        let out = v.validate(&b).unwrap();
        valid.push(out.valid);
        rejected.extend(out.rejected);
    }
    let counts = v.counts().clone();
    assert_eq!(
        counts.rows_in,
        counts.rows_valid + counts.rows_rejected + counts.duplicates_removed
    );
    Outcome {
        valid,
        rejected,
        counts,
        file_failure: v.file_failure().cloned(),
    }
}

const TX_HEADER: &str =
    "transaction_id,customer_id,product_id,quantity,amount,payment_method,transaction_date\n";

fn tx(rows: &[&str]) -> String {
    let mut s = TX_HEADER.to_string();
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn only_rule(o: &Outcome) -> &str {
    assert_eq!(o.rejected.len(), 1, "{:?}", o.rejected);
    &o.rejected[0].rule_id
}

#[test]
fn accepts_a_clean_row_and_types_it() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,2,199.98,paypal,2024-03-15 10:30:00"]),
    );
    assert!(o.rejected.is_empty());
    let b = &o.valid[0];
    let amount = b
        .column_by_name("amount")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(amount.value(0), 19998);
    let ts = b
        .column_by_name("transaction_date")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(ts.value(0), 1_710_498_600_000_000);
}

#[test]
fn rejects_missing_required_value() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,,P1,2,1.00,paypal,2024-03-15 10:30:00"]),
    );
    assert_eq!(only_rule(&o), "transactions.customer_id.not_null");
    assert_eq!(o.rejected[0].column.as_deref(), Some("customer_id"));
}

#[test]
fn rejects_negative_quantity() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,-2,1.00,paypal,2024-03-15 10:30:00"]),
    );
    assert_eq!(only_rule(&o), "transactions.quantity.positive");
    assert!(
        o.rejected[0].reason.contains("> 0"),
        "{}",
        o.rejected[0].reason
    );
}

#[test]
fn rejects_zero_quantity_but_accepts_one() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&[
            "T1,C1,P1,0,1.00,paypal,2024-03-15 10:30:00",
            "T2,C1,P1,1,1.00,paypal,2024-03-15 10:30:00",
        ]),
    );
    assert_eq!(only_rule(&o), "transactions.quantity.positive");
    assert_eq!(o.counts.rows_valid, 1);
}

#[test]
fn rejects_non_positive_price() {
    let c = contract("products");
    let csv = "id,title,category,price\n1,A,x,0\n2,B,x,-1.5\n3,C,x,0.01\n";
    let o = run(&c, ReferenceSets::default(), csv);
    assert_eq!(o.counts.rejected_by_rule["products.price.positive"], 2);
    assert_eq!(o.counts.rows_valid, 1);
}

#[test]
fn rejects_unparseable_dates_naming_the_accepted_formats() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,1,1.00,paypal,2026-13-45 25:61:00"]),
    );
    assert_eq!(only_rule(&o), "transactions.transaction_date.type");
    assert!(o.rejected[0].reason.contains("accepted formats"));
}

#[test]
fn rejects_a_number_that_does_not_parse() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,two,1.00,paypal,2024-01-01"]),
    );
    assert_eq!(only_rule(&o), "transactions.quantity.type");
}

#[test]
fn rejects_malformed_email_and_accepts_valid_ones() {
    let c = contract("customers");
    let csv = "customer_id,email\nC1,alice@example.com\nC2,john.smith@\nC3,jane@@mail.com\nC4,bob@localhost\nC5,o'brien+tag@mail.co.uk\n";
    let o = run(&c, ReferenceSets::default(), csv);
    assert_eq!(o.counts.rejected_by_rule["customers.email.pattern"], 3);
    assert_eq!(o.counts.rows_valid, 2);
}

#[test]
fn rejects_values_outside_the_allowed_list_and_normalises_case() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&[
            "T1,C1,P1,1,1.00,bitcoin,2024-01-01",
            "T2,C1,P1,1,1.00,PayPal,2024-01-01",
        ]),
    );
    assert_eq!(only_rule(&o), "transactions.payment_method.allowed");
    let pm = o.valid[0]
        .column_by_name("payment_method")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(pm.value(0), "paypal");
}

#[test]
fn a_date_range_rejects_days_before_earliest_and_after_max_days_ahead_from_today() {
    let c = contract("transactions");
    let today = chrono::Utc::now().date_naive();
    let day = |ahead: u64| (today + chrono::Days::new(ahead)).to_string();
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&[
            "T1,C1,P1,1,1.00,paypal,1999-12-31",
            "T2,C1,P1,1,1.00,paypal,2000-01-01",
            &format!("T3,C1,P1,1,1.00,paypal,{}", day(2)),
            &format!("T4,C1,P1,1,1.00,paypal,{}", day(3)),
        ]),
    );
    let reasons: Vec<(&str, &str)> = o
        .rejected
        .iter()
        .map(|r| (r.rule_id.as_str(), r.reason.as_str()))
        .collect();
    let late = format!(
        "transaction_date {} is more than 2 days in the future (after {})",
        day(3),
        day(2)
    );
    assert_eq!(
        reasons,
        [
            (
                "transactions.transaction_date.plausible",
                "transaction_date 1999-12-31 is before the earliest plausible date 2000-01-01"
            ),
            ("transactions.transaction_date.plausible", late.as_str()),
        ]
    );

    // Days ahead past what an i32 day count holds: no date is too late.
    let far = r#"
dataset = "events"
version = 1
[[columns]]
name = "at"
type = "date"
formats = ["%Y-%m-%d"]
[[rules]]
id = "events.at.plausible"
column = "at"
kind = "date_range"
max_days_ahead = 4294967295
severity = "reject"
"#;
    let c = Contract::from_toml(far, "test").unwrap();
    let o = run(&c, ReferenceSets::default(), "at\n9999-12-31\n");
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
}

#[test]
fn a_user_contract_with_shapes_the_shipped_ones_lack_loads_and_validates() {
    // A case-insensitive list written in mixed case, a range whose upper bound is exclusive
    // and whose lower bound is not, and a date_range with only `earliest`, written as a string.
    let text = r#"
dataset = "loyalty"
version = 1
[[columns]]
name = "member_id"
type = "string"
required = true
[[columns]]
name = "tier"
type = "string"
[[columns]]
name = "discount"
type = "decimal"
[[columns]]
name = "joined"
type = "date"
formats = ["%Y-%m-%d"]
[[rules]]
id = "loyalty.tier.allowed"
column = "tier"
kind = "allowed_values"
values = ["Gold", "Silver", "Bronze"]
case_insensitive = true
severity = "reject"
[[rules]]
id = "loyalty.discount.below_one"
column = "discount"
kind = "range"
min = 0
max = 1
max_exclusive = true
severity = "reject"
[[rules]]
id = "loyalty.joined.since_opening"
column = "joined"
kind = "date_range"
earliest = "2010-01-01"
severity = "warn"
"#;
    let c = Contract::from_toml(text, "test").unwrap();
    let csv = "member_id,tier,discount,joined\n\
               M1,gold,0.00,2015-01-01\n\
               M2,SILVER,0.99,2020-05-05\n\
               M3,Gold,1.00,2020-01-01\n\
               M4,platinum,0.10,2020-01-01\n\
               M5,bronze,-0.01,2020-01-01\n\
               M6,,0.50,2009-12-31\n";
    let o = run(&c, ReferenceSets::default(), csv);
    let rejected: Vec<(i64, &str, &str)> = o
        .rejected
        .iter()
        .map(|r| (r.row_number, r.rule_id.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (
                3,
                "loyalty.discount.below_one",
                "discount 1.00 is out of range (must be >= 0 and < 1)"
            ),
            (
                4,
                "loyalty.tier.allowed",
                "tier \"platinum\" is not one of: Gold, Silver, Bronze"
            ),
            (
                5,
                "loyalty.discount.below_one",
                "discount -0.01 is out of range (must be >= 0 and < 1)"
            ),
        ]
    );
    assert_eq!(o.counts.rows_valid, 3);
    assert_eq!(
        o.counts.warnings_by_rule["loyalty.joined.since_opening"], 1,
        "M6 joined before 2010 and is kept"
    );
    let tiers = o.valid[0]
        .column_by_name("tier")
        .unwrap()
        .as_string::<i32>();
    let stored: Vec<Option<&str>> = tiers.iter().collect();
    assert_eq!(
        stored,
        [Some("Gold"), Some("Silver"), None],
        "the list's spelling"
    );
}

#[test]
fn warns_on_orphan_references_when_the_referenced_dataset_is_present() {
    let c = contract("transactions");
    let mut refs = ReferenceSets::default();
    refs.insert(
        "customers",
        "customer_id",
        HashSet::from(["C1".to_string()]),
    );
    refs.insert("products", "product_id", HashSet::from(["P1".to_string()]));
    let o = run(
        &c,
        refs,
        &tx(&[
            "T1,C1,P1,1,1.00,paypal,2024-01-01",
            "T2,C9,P1,1,1.00,paypal,2024-01-01",
            "T3,C1,P9,1,1.00,paypal,2024-01-01",
        ]),
    );
    assert!(
        o.rejected.is_empty(),
        "references are warnings: rows are kept"
    );
    assert_eq!(o.counts.rows_valid, 3);
    assert_eq!(
        o.counts.warnings_by_rule["transactions.customer_id.references"],
        1
    );
    assert_eq!(
        o.counts.warnings_by_rule["transactions.product_id.references"],
        1
    );
}

#[test]
fn skips_reference_checks_when_the_referenced_dataset_is_absent() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T2,C9,P1,1,1.00,paypal,2024-01-01"]),
    );
    assert!(o.counts.warnings_by_rule.is_empty());
    assert!(
        o.counts
            .skipped_rules
            .contains(&"transactions.customer_id.references".to_string())
    );
}

#[test]
fn removes_exact_duplicates_and_rejects_key_conflicts() {
    let c = contract("transactions");
    let a = "T1,C1,P1,1,1.00,paypal,2024-01-01";
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&[
            a,
            a,
            "T1,C2,P1,1,1.00,paypal,2024-01-01",
            "T2,C1,P1,1,1.00,paypal,2024-01-01",
        ]),
    );
    assert_eq!(o.counts.duplicates_removed, 1);
    assert_eq!(only_rule(&o), "transactions.transaction_id.unique");
    assert_eq!(o.rejected[0].row_number, 3);
    assert_eq!(o.counts.rows_valid, 2);
}

#[test]
fn rejects_a_malformed_row_under_the_malformed_rule() {
    let c = contract("transactions");
    let o = run(&c, ReferenceSets::default(), &tx(&["T1,C1,P1,1"]));
    assert_eq!(only_rule(&o), "transactions.row.malformed");
}

#[test]
fn first_failing_column_in_contract_order_decides_the_rule() {
    let c = contract("transactions");
    // Both quantity and payment method are bad: quantity comes first in the contract.
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,0,1.00,bitcoin,2024-01-01"]),
    );
    assert_eq!(only_rule(&o), "transactions.quantity.positive");
}

#[test]
fn keeps_the_raw_record_in_the_rejection() {
    let c = contract("transactions");
    let o = run(
        &c,
        ReferenceSets::default(),
        &tx(&["T1,C1,P1,-1,1.00,paypal,2024-01-01"]),
    );
    let raw: serde_json::Value = serde_json::from_str(&o.rejected[0].raw_record).unwrap();
    assert_eq!(raw["quantity"], "-1");
    assert_eq!(raw["transaction_id"], "T1");
}

#[test]
fn fail_file_severity_marks_the_whole_file() {
    let text = r#"
dataset = "ledger_lines"
version = 1
[[columns]]
name = "currency"
type = "string"
required = true
[[rules]]
id = "ledger_lines.currency.eur_only"
column = "currency"
kind = "allowed_values"
values = ["EUR"]
severity = "fail_file"
"#;
    let c = Contract::from_toml(text, "test").unwrap();
    let o = run(&c, ReferenceSets::default(), "currency\nEUR\nUSD\n");
    let f = o.file_failure.expect("file failure");
    assert_eq!(f.rule_id, "ledger_lines.currency.eur_only");
    assert!(f.reason.contains("row 2"), "{}", f.reason);
}

#[test]
fn warn_severity_keeps_the_row() {
    let c = contract("products");
    let csv = "id,title,category,price,rating\n1,A,x,1.00,7\n";
    let o = run(&c, ReferenceSets::default(), csv);
    assert_eq!(o.counts.rows_valid, 1);
    assert_eq!(o.counts.warnings_by_rule["products.rating.range"], 1);
}

#[test]
fn partitions_by_event_date_in_utc() {
    let c = contract("transactions");
    let mut v = Validator::new(&c, ReferenceSets::default()).unwrap();
    let b = &raw(
        &c,
        &tx(&["T1,C1,P1,1,1.00,paypal,2024-01-01T23:30:00-02:00"]),
    )[0];
    let out = v.validate(b).unwrap();
    let day = out.event_days.unwrap()[0];
    assert_eq!(parse::date_from_days(day).to_string(), "2024-01-02");
    assert_eq!(out.valid.column_by_name("_row_number").unwrap().len(), 1);
}

#[test]
fn a_key_set_spilled_to_disk_decides_every_row_as_the_one_in_memory() {
    // A composite key (several lines per order), which the generator never makes; the budget
    // of 40 keys spills the set to disk a hundred times over 5,000 lines.
    let text = r#"
dataset = "order_lines"
version = 1
primary_key = ["order_id", "line"]
[[columns]]
name = "order_id"
type = "string"
required = true
[[columns]]
name = "line"
type = "string"
required = true
[[columns]]
name = "qty"
type = "integer"
required = true
"#;
    let c = Contract::from_toml(text, "test").unwrap();
    let mut csv = String::from("order_id,line,qty\n");
    for o in 0..2_500 {
        for line in 1..=2 {
            csv.push_str(&format!("O{o},{line},{}\n", o % 7 + 1));
        }
    }
    // Late repeats of keys seen thousands of rows earlier: an exact copy, a changed quantity,
    // and two keys whose parts join to the same text.
    csv.push_str("O1,1,2\nO7,2,9\nO9,912,1\nO99,12,1\nO2499,2,5\n");

    let spill = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    for budget in [
        keys::KeyBudget::default(),
        keys::KeyBudget {
            memory_entries: 40,
            spill_dir: Some(spill.path().to_path_buf()),
            // Smaller than the spills' own filters: the merged run's filter is one block.
            filter_bytes: 256,
        },
    ] {
        let mut v = Validator::new(&c, ReferenceSets::default())
            .unwrap()
            .with_key_budget(budget);
        let mut rejected = Vec::new();
        for b in raw(&c, &csv) {
            rejected.extend(v.validate(&b).unwrap().rejected);
        }
        let counts = v.counts().clone();
        outcomes.push((
            counts.rows_valid,
            counts.duplicates_removed,
            rejected
                .iter()
                .map(|r| (r.row_number, r.rule_id.clone(), r.reason.clone()))
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(outcomes[0], outcomes[1], "in memory vs spilled");
    let (valid, duplicates, rejected) = &outcomes[1];
    assert_eq!(
        *valid, 5_002,
        "5,000 lines and the two new keys O9+912, O99+12"
    );
    assert_eq!(*duplicates, 1, "O1+1 repeated exactly");
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(rejected[0].0, 5_002, "O7+2 with another quantity");
    assert_eq!(rejected[0].1, "order_lines.order_id+line.unique");
    assert!(rejected[0].2.contains("\"O7+2\""), "{}", rejected[0].2);
    assert_eq!(rejected[1].0, 5_005, "O2499+2 with another quantity");
}
