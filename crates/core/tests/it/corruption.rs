//! A corruption sweep: seeded mutations (bit flips, truncations, zeroed and duplicated ranges,
//! inserted quotes and newlines) of a valid CSV, JSON array, JSON lines file and gzip stream,
//! each checked against its contract. Zero panics; every run either reads the file (and its
//! counts reconcile: every record is valid, rejected or a duplicate) or refuses it whole with a
//! reason. `SHOPFLOW_SWEEP_MUTATIONS` raises the count for a long run (default 1,000 in all).

use std::io::Write;

use shopflow_core::contract::ContractSet;
use shopflow_core::transform::check_file;
use shopflow_core::validate::ReferenceSets;

/// xorshift64*: small, seeded, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> (Vec<u8>, &'static str) {
    let mut b = input.to_vec();
    let n = b.len().max(1);
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(n);
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
            (b, "bit flips")
        }
        1 => {
            b.truncate(rng.below(n));
            (b, "truncation")
        }
        2 => {
            let start = rng.below(n);
            let end = (start + 1 + rng.below(256)).min(b.len());
            for x in &mut b[start.min(end)..end] {
                *x = 0;
            }
            (b, "zeroed range")
        }
        3 => {
            let start = rng.below(n);
            let end = (start + 1 + rng.below(512)).min(b.len());
            let range = b[start.min(end)..end].to_vec();
            let at = rng.below(n);
            b.splice(at.min(b.len())..at.min(b.len()), range);
            (b, "duplicated range")
        }
        4 => {
            let at = rng.below(n).min(b.len());
            b.insert(at, b'"');
            (b, "stray quote")
        }
        5 => {
            let at = rng.below(n).min(b.len());
            b.insert(at, b'\n');
            (b, "stray newline")
        }
        _ => {
            let at = rng.below(n).min(b.len());
            let junk: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
            b.splice(at..at, junk);
            (b, "random bytes")
        }
    }
}

fn valid_inputs() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut csv = String::from(
        "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date,status\n",
    );
    for i in 0..200 {
        csv.push_str(&format!(
            "T{i},C{},P{},{},{}.99,2026-11-{:02}T10:{:02}:00Z,\"{}\"\n",
            i % 17,
            i % 5,
            1 + i % 3,
            i % 40,
            1 + i % 28,
            i % 60,
            if i % 9 == 0 { "canceled" } else { "completed" }
        ));
    }
    let products: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            serde_json::json!({
                "id": i, "title": format!("Product \"{i}\", large"), "category": "home",
                "price": 1.5 + f64::from(i), "tags": ["a", "b"], "meta": {"createdAt": "2024-05-23T08:56:21.618Z"}
            })
        })
        .collect();
    let json = serde_json::to_vec(&serde_json::json!({ "products": products })).unwrap();
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!(
            "{{\"event_id\":\"e{i}\",\"session_id\":\"s{}\",\"event_type\":\"page_view\",\"event_time\":\"2026-11-20T10:00:{:02}Z\",\"page\":\"/p/{i}\"}}\n",
            i % 13,
            i % 60
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let gzip = gz.finish().unwrap();
    vec![
        ("transactions", "transactions.csv", csv.into_bytes()),
        ("products", "products.json", json),
        ("clickstream", "clickstream.jsonl", lines.into_bytes()),
        ("transactions", "transactions.csv.gz", gzip),
    ]
}

#[test]
fn a_thousand_seeded_mutations_never_panic_and_always_end_in_a_reasoned_outcome() {
    let contracts = ContractSet::defaults().unwrap();
    let total: usize = std::env::var("SHOPFLOW_SWEEP_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let inputs = valid_inputs();
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let (mut read, mut refused) = (0u64, 0u64);
    for run in 0..total {
        let (dataset, name, bytes) = &inputs[run % inputs.len()];
        let (mutated, how) = mutate(&mut rng, bytes);
        let contract = contracts.get(dataset).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            check_file(
                mutated.as_slice(),
                name,
                contract,
                ReferenceSets::default(),
                1,
            )
        });
        let report = match outcome {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => panic!("run {run} ({name}, {how}): internal error {e}"),
            Err(_) => panic!("run {run} ({name}, {how}): panicked"),
        };
        match (&report.read, &report.unreadable) {
            (Some(_), None) => {
                read += 1;
                let c = &report.counts;
                assert_eq!(
                    c.rows_in,
                    c.rows_valid + c.rows_rejected + c.duplicates_removed,
                    "run {run} ({name}, {how}): counts do not reconcile"
                );
            }
            (None, Some(reason)) => {
                refused += 1;
                assert!(
                    !reason.trim().is_empty(),
                    "run {run}: a refusal without a reason"
                );
            }
            other => panic!("run {run} ({name}, {how}): neither read nor refused: {other:?}"),
        }
    }
    eprintln!(
        "{total} mutations: {read} read (rows reconciled), {refused} refused whole with a reason"
    );
    assert_eq!(read + refused, total as u64);
}
