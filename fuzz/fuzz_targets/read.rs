//! Any bytes, read as a landing file of any built-in dataset and format (CSV, JSON, JSON lines,
//! gzip of each): the reader and the validator never panic, and an internal error (not a
//! quarantine with a reason) is a finding. The first byte picks the dataset and the file name's suffix.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shopflow_core::contract::ContractSet;
use shopflow_core::transform::check_file;
use shopflow_core::validate::ReferenceSets;

/// The datasets and the file suffixes a landing file may have; the first byte of the input
/// picks one of each (`pick % 4`, `pick / 4 % 6`).
const DATASETS: [&str; 4] = ["transactions", "clickstream", "customers", "products"];
const SUFFIXES: [&str; 6] = ["csv", "json", "jsonl", "csv.gz", "json.gz", "jsonl.gz"];

fn contracts() -> &'static ContractSet {
    static SET: OnceLock<ContractSet> = OnceLock::new();
    SET.get_or_init(|| ContractSet::defaults().expect("the built-in contracts load"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let dataset = DATASETS[usize::from(pick) % DATASETS.len()];
    let suffix = SUFFIXES[usize::from(pick) / DATASETS.len() % SUFFIXES.len()];
    let name = format!("{dataset}.{suffix}");
    let Ok(contract) = contracts().get(dataset) else {
        return;
    };
    if let Err(e) = check_file(body, &name, contract, ReferenceSets::default(), 1) {
        panic!("{name}: internal error {e}");
    }
});
