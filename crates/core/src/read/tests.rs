//! Tests of [`read_records`] as a whole (empty files, gzip, the byte budgets, archives) and
//! the helpers every reader's tests share: reading bytes with a built-in contract into batches
//! and picking a column's values out of them.

use std::io::Write;

use arrow::array::{Array, AsArray};

use super::*;
use crate::contract::{ContractSet, FilePolicy};

pub(super) fn read(
    dataset: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(Vec<RecordBatch>, ReadReport), Unreadable> {
    let set = ContractSet::defaults().unwrap();
    read_rows(set.get(dataset).unwrap(), name, bytes, 2)
}

pub(super) fn read_rows(
    contract: &Contract,
    name: &str,
    input: impl Read,
    batch_rows: usize,
) -> Result<(Vec<RecordBatch>, ReadReport), Unreadable> {
    let mut batches = Vec::new();
    let mut sink = |b: RecordBatch| -> Result<(), std::convert::Infallible> {
        batches.push(b);
        Ok(())
    };
    match read_records(input, name, contract, batch_rows, &mut sink) {
        Ok(report) => Ok((batches, report)),
        Err(ReadFailure::Unreadable(u)) => Err(u),
        Err(ReadFailure::Sink(e)) => match e {},
    }
}

pub(super) fn column(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(name).unwrap().as_string::<i32>().clone();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The read errors of the malformed rows in `batches` (the rows without one left out).
pub(super) fn read_errors(batches: &[RecordBatch]) -> Vec<String> {
    column(batches, READ_ERROR_COLUMN)
        .into_iter()
        .flatten()
        .collect()
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub(super) const SEED_A: &str = "transaction_id,customer_id,product_id,quantity,amount,transaction_date\nT001,C123,P456,2,199.98,2024-03-15 10:30:00\nT002,C124,P457,1,99.99,2024-03-15 11:45:00\n";
pub(super) const SEED_B: &str = "id,customer_id,product_id,quantity,timestamp,payment_method\n1,C1,P1,3,2024-01-02T03:04:05Z,paypal\n";

pub(super) fn read_with(
    contract: &Contract,
    name: &str,
    input: impl Read,
) -> Result<(Vec<RecordBatch>, ReadReport), Unreadable> {
    read_rows(contract, name, input, 4096)
}

pub(super) fn limited(dataset: &str, edit: impl FnOnce(&mut FilePolicy)) -> Contract {
    let set = ContractSet::defaults().unwrap();
    let mut contract = set.get(dataset).unwrap().clone();
    edit(&mut contract.file);
    contract
}

#[test]
fn quarantines_an_empty_file() {
    assert!(matches!(
        read("transactions", "t.csv", b"").unwrap_err(),
        Unreadable::Empty
    ));
    assert!(matches!(
        read("transactions", "t.csv", b"  \n").unwrap_err(),
        Unreadable::Empty
    ));
}

#[test]
fn reads_gzip_compressed_input() {
    let (b, r) = read("transactions", "t.csv.gz", &gzip(SEED_A.as_bytes())).unwrap();
    assert_eq!(r.compression, Some(Compression::Gzip));
    assert_eq!(column(&b, "transaction_id").len(), 2);
}

#[test]
fn quarantines_a_corrupt_gzip_stream() {
    let mut bytes = gzip(SEED_A.as_bytes());
    let n = bytes.len();
    bytes.truncate(n / 2);
    let err = read("transactions", "t.csv.gz", &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Unreadable::Io(_) | Unreadable::NotFormat { .. } | Unreadable::BadEncoding { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn a_gzip_bomb_of_zeros_is_refused_within_the_ratio_budget() {
    // 512 MiB of zeros compress to about 0.5 MiB: refused once 64 MiB have come out.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..512 {
        gz.write_all(&chunk).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let err = read("transactions", "t.csv.gz", &bomb).unwrap_err();
    match err {
        Unreadable::Limit(LimitExceeded::Ratio { decoded, .. }) => {
            assert!(decoded < 80 * 1024 * 1024, "stopped early: {decoded}")
        }
        other => panic!("expected a ratio limit, got {other:?}"),
    }
}

#[test]
fn a_gzip_of_one_row_repeated_for_eleven_gigabytes_is_refused_after_a_bounded_read() {
    // The filed case: valid rows, not zeros, so the CSV reader is busy the whole time and
    // no record limit trips. One MiB of the same sale compresses to a small gzip member;
    // 11,264 copies of the member are one valid multi-member stream of 11 GiB.
    let row = "T1,C1,P1,1,9.99,card,2024-03-15 10:00:00\n";
    let mut plain = String::from(
        "transaction_id,customer_id,product_id,quantity,amount,payment_method,transaction_date\n",
    );
    while plain.len() < 1 << 20 {
        plain.push_str(row);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(plain.as_bytes()).unwrap();
    let member = enc.finish().unwrap();
    let copies = 11 * 1024;
    let mut bomb = Vec::with_capacity(member.len() * copies);
    for _ in 0..copies {
        bomb.extend_from_slice(&member);
    }
    let set = ContractSet::defaults().unwrap();
    let started = std::time::Instant::now();
    let err = read_with(
        set.get("transactions").unwrap(),
        "t.csv.gz",
        bomb.as_slice(),
    )
    .unwrap_err();
    match err {
        Unreadable::Limit(LimitExceeded::Ratio { decoded, .. }) => assert!(
            decoded < 80 * 1024 * 1024,
            "refused once the grace is spent, not at the end: {decoded}"
        ),
        other => panic!("expected a ratio limit, got {other:?}"),
    }
    eprintln!(
        "{} MiB of gzip ({} GiB of rows) refused in {:?}",
        bomb.len() >> 20,
        (plain.len() * copies) >> 30,
        started.elapsed()
    );
}

#[test]
fn a_file_decompressing_past_the_limit_is_refused() {
    let contract = limited("transactions", |f| f.max_decompressed_bytes = Some(10_000));
    let mut csv =
        String::from("transaction_id,customer_id,product_id,quantity,amount,transaction_date\n");
    for i in 0..1000 {
        csv.push_str(&format!("T{i},C{i},P{i},1,9.99,2024-03-15 10:00:00\n"));
    }
    let err = read_with(&contract, "t.csv", csv.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            Unreadable::Limit(LimitExceeded::Decompressed { limit: 10_000 })
        ),
        "{err:?}"
    );
}

#[test]
fn gzip_inside_gzip_and_zip_archives_are_refused_by_name() {
    let inner = gzip(b"a,b\n1,2\n");
    let err = read("transactions", "t.csv.gz", &gzip(&inner)).unwrap_err();
    assert!(
        matches!(
            err,
            Unreadable::Compressed {
                kind: "gzip inside gzip"
            }
        ),
        "{err:?}"
    );
    let err = read("transactions", "t.zip", b"PK\x03\x04rest").unwrap_err();
    assert!(
        matches!(
            err,
            Unreadable::Compressed {
                kind: "a zip archive"
            }
        ),
        "{err:?}"
    );
}
