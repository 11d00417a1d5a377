//! The malformed-input corpus (issue 12, item 5): every file of `tests/fixtures/malformed`, and
//! the binary or very large ones [`GENERATED`] here, lands at `landing/{dataset}/{file}` of a
//! lake of its own, goes through [`Ingestor::ingest_object`](shopflow_core::ingest::Ingestor)
//! and must end as `expected.json` says: no panic, no ingestion error, the whole file quarantined
//! with its reason, or every row counted once (silver, quarantine with a rule and a reason, or a
//! removed duplicate) and the tables holding exactly the rows the manifest counts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch};
use futures::FutureExt;
use serde_json::Value;
use shopflow_core::contract::{ContractSet, ReadLimits};
use shopflow_core::ingest::{IngestOutcome, Manifest, ManifestStatus};
use shopflow_core::layer;
use shopflow_core::ports::ObjectStore;
use shopflow_core::transform::error_chain;

use crate::support::{fs_ingestor, table_rows};

const DATASETS: [&str; 4] = ["transactions", "products", "customers", "clickstream"];

/// Files of the corpus directory that are not corpus files.
const NOT_CORPUS: [&str; 2] = ["expected.json", "README.md"];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/malformed")
}

// ------------------------------------------------------------------------------------------
// Expectations

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    FileQuarantined {
        reason_contains: String,
        rule: Option<String>,
        rows_in: Option<u64>,
    },
    Processed {
        rows_in: u64,
        rows_silver: u64,
        rows_quarantined: u64,
        duplicates_removed: u64,
        rules: BTreeMap<String, u64>,
        warnings: BTreeMap<String, u64>,
    },
}

#[derive(Debug, Clone)]
struct Expectation {
    outcome: Outcome,
    secrets_absent: Vec<String>,
    why: String,
}

fn counts(v: Option<&Value>, key: &str) -> Result<BTreeMap<String, u64>, String> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let map = v
        .as_object()
        .ok_or_else(|| format!("{key} is not an object"))?;
    map.iter()
        .map(|(rule, n)| {
            n.as_u64()
                .map(|n| (rule.clone(), n))
                .ok_or_else(|| format!("{key}.{rule} is not a count"))
        })
        .collect()
}

fn parse_expectation(v: &Value) -> Result<Expectation, String> {
    let obj = v.as_object().ok_or("not an object")?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let number = |k: &str| obj.get(k).and_then(Value::as_u64);
    let need = |k: &str| number(k).ok_or_else(|| format!("{k} is missing or not a count"));
    let (outcome, allowed): (Outcome, &[&str]) = match text("outcome").as_deref() {
        Some("file_quarantined") => (
            Outcome::FileQuarantined {
                reason_contains: text("reason_contains")
                    .filter(|r| !r.is_empty())
                    .ok_or("reason_contains is missing")?,
                rule: text("rule"),
                rows_in: number("rows_in"),
            },
            &["reason_contains", "rule", "rows_in"],
        ),
        Some("processed") => (
            Outcome::Processed {
                rows_in: need("rows_in")?,
                rows_silver: need("rows_silver")?,
                rows_quarantined: need("rows_quarantined")?,
                duplicates_removed: need("duplicates_removed")?,
                rules: counts(obj.get("rules"), "rules")?,
                warnings: counts(obj.get("warnings"), "warnings")?,
            },
            &[
                "rows_in",
                "rows_silver",
                "rows_quarantined",
                "duplicates_removed",
                "rules",
                "warnings",
            ],
        ),
        other => return Err(format!("unknown outcome {other:?}")),
    };
    for key in obj.keys() {
        let common = ["outcome", "why", "secrets_absent"].contains(&key.as_str());
        if !common && !allowed.contains(&key.as_str()) {
            return Err(format!("unknown field {key:?}"));
        }
    }
    let secrets_absent = match obj.get("secrets_absent") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .and_then(|l| l.iter().map(|s| s.as_str().map(str::to_string)).collect())
            .ok_or("secrets_absent is not a list of strings")?,
    };
    let why = text("why")
        .filter(|w| !w.is_empty())
        .ok_or("why is missing")?;
    Ok(Expectation {
        outcome,
        secrets_absent,
        why,
    })
}

/// Every entry of `expected.json`, parsed (or why it does not parse).
fn expectations() -> BTreeMap<String, Result<Expectation, String>> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc.as_object()
        .expect("expected.json maps file names to outcomes")
        .iter()
        .map(|(name, v)| (name.clone(), parse_expectation(v)))
        .collect()
}

// ------------------------------------------------------------------------------------------
// The corpus: stored files and generated ones

type Generator = fn() -> Vec<u8>;

/// Files too binary or too large to store, made at run time.
const GENERATED: &[(&str, Generator)] = &[
    (
        "transactions__invalid_utf8_in_one_row.csv",
        invalid_utf8_in_one_row,
    ),
    ("transactions__gzip_truncated.csv.gz", gzip_truncated),
    (
        "transactions__gzip_of_zeros_bomb.csv.gz",
        gzip_of_zeros_bomb,
    ),
    ("transactions__gzip_inside_gzip.csv.gz", gzip_inside_gzip),
    ("transactions__zip_archive.zip", zip_archive),
    (
        "transactions__gzip_trailing_garbage.csv.gz",
        gzip_trailing_garbage,
    ),
    ("transactions__gzip_multi_member.csv.gz", gzip_multi_member),
    (
        "transactions__gzip_of_empty_file.csv.gz",
        gzip_of_empty_file,
    ),
    ("transactions__control_characters.csv", control_characters),
    ("transactions__very_long_field.csv", very_long_field),
    (
        "transactions__unclosed_quote_then_line_over_limit.csv",
        unclosed_quote_then_line_over_limit,
    ),
    (
        "transactions__header_wider_than_max_columns.csv",
        header_wider_than_max_columns,
    ),
    ("products__latin1_encoded.json", products_latin1_json),
    ("products__utf16_with_bom.csv", products_utf16_with_bom),
    ("products__zstd_compressed.csv.zst", zstd_magic),
    (
        "products__parquet_dropped_in_landing.parquet",
        parquet_magic,
    ),
    (
        "products__array_element_over_record_limit.json",
        array_element_over_record_limit,
    ),
    (
        "products__long_description_under_limit.csv",
        long_description_under_limit,
    ),
    ("products__deeply_nested.json", products_deeply_nested),
    ("customers__latin1_encoded.csv", customers_latin1_csv),
    ("customers__bzip2_compressed.csv.bz2", bzip2_magic),
    (
        "clickstream__bad_utf8_line.jsonl",
        clickstream_bad_utf8_line,
    ),
    (
        "clickstream__first_ten_lines_not_utf8.jsonl",
        clickstream_first_ten_lines_not_utf8,
    ),
    (
        "clickstream__line_over_record_limit.jsonl",
        clickstream_line_over_record_limit,
    ),
    (
        "clickstream__line_cut_inside_utf8_char.jsonl",
        clickstream_line_cut_inside_utf8_char,
    ),
    ("clickstream__nested_gzip.jsonl.gz", clickstream_nested_gzip),
    ("clickstream__gzip_of_zip.jsonl.gz", clickstream_gzip_of_zip),
    (
        "clickstream__deeply_nested_line.jsonl",
        clickstream_deeply_nested_line,
    ),
    (
        "clickstream__gzip_without_gz_suffix.jsonl",
        clickstream_gzip_without_gz_suffix,
    ),
];

#[derive(Debug, Clone, Copy)]
enum Source {
    Stored,
    Generated(Generator),
}

impl Source {
    fn bytes(self, name: &str) -> Vec<u8> {
        match self {
            Source::Stored => std::fs::read(corpus_dir().join(name)).unwrap(),
            Source::Generated(make) => make(),
        }
    }
}

/// The names of the files stored in the corpus directory.
fn stored_names() -> BTreeSet<String> {
    std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !NOT_CORPUS.contains(&n.as_str()))
        .collect()
}

/// Every corpus file, stored or generated.
fn corpus() -> BTreeMap<String, Source> {
    let mut all: BTreeMap<String, Source> = stored_names()
        .into_iter()
        .map(|n| (n, Source::Stored))
        .collect();
    for (name, make) in GENERATED {
        let before = all.insert(name.to_string(), Source::Generated(*make));
        assert!(
            before.is_none(),
            "{name} is both stored and generated, or generated twice"
        );
    }
    all
}

fn dataset_of(name: &str) -> &str {
    name.split_once("__").map_or("", |(dataset, _)| dataset)
}

fn is_good(name: &str) -> bool {
    name.contains("__good_")
}

const TX_HEADER: &str = "transaction_id,customer_id,product_id,quantity,amount,transaction_date";

fn tx_row(i: usize) -> String {
    format!("T{i},C{i},P{i},1,9.99,2024-03-15 10:00:00")
}

fn tx_csv(rows: impl IntoIterator<Item = usize>) -> String {
    let mut csv = format!("{TX_HEADER}\n");
    for i in rows {
        csv.push_str(&tx_row(i));
        csv.push('\n');
    }
    csv
}

fn event(i: usize) -> String {
    format!(
        r#"{{"event_id":"E{i}","session_id":"S1","event_type":"page_view","page":"/p/{i}","device":"mobile","event_time":"2024-03-15T10:{i:02}:00Z"}}"#
    )
}

fn events(rows: impl IntoIterator<Item = usize>) -> String {
    rows.into_iter().map(|i| event(i) + "\n").collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Longer than the contracts' `max_record_bytes` (8 MiB).
const OVER_LIMIT: usize = ReadLimits::DEFAULT_MAX_RECORD_BYTES + 1024 * 1024;

const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00\x10\x00\x00\x00transactions.csv\x8b\x8e\x05\x00";

fn invalid_utf8_in_one_row() -> Vec<u8> {
    let mut b = format!("{TX_HEADER}\n{}\n", tx_row(1)).into_bytes();
    b.extend_from_slice(b"T2,C\xff\xfe2,P2,1,9.99,2024-03-15 10:00:00\n");
    b.extend_from_slice(format!("{}\n", tx_row(3)).as_bytes());
    b
}

fn gzip_truncated() -> Vec<u8> {
    let mut gz = gzip(tx_csv(1..=2000).as_bytes());
    gz.truncate(gz.len() / 2);
    gz
}

fn gzip_of_zeros_bomb() -> Vec<u8> {
    // 80 members of 1 MiB of zeros, each about 1 KB at the best level: a 1,000-to-1 bomb (at the
    // fast level zeros expand only about 100 times, the contract's limit itself).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 1 << 20]).unwrap();
    gz.finish().unwrap().repeat(80)
}

fn gzip_inside_gzip() -> Vec<u8> {
    gzip(&gzip(tx_csv(1..=3).as_bytes()))
}

fn zip_archive() -> Vec<u8> {
    ZIP.to_vec()
}

fn gzip_trailing_garbage() -> Vec<u8> {
    let mut b = gzip(tx_csv(1..=3).as_bytes());
    b.extend_from_slice(b"trailing garbage after the gzip member\n");
    b
}

fn gzip_multi_member() -> Vec<u8> {
    let mut b = gzip(tx_csv(1..=2).as_bytes());
    b.extend(gzip(format!("{}\n{}\n", tx_row(3), tx_row(4)).as_bytes()));
    b
}

fn gzip_of_empty_file() -> Vec<u8> {
    gzip(b"")
}

fn control_characters() -> Vec<u8> {
    let mut b = format!("{TX_HEADER}\n").into_bytes();
    for row in [
        &b"T1,C1\x01\x02,P1,1,9.99,2024-03-15 10:00:00\n"[..],
        b"T2,C2\x1b[31m,P2,1,9.99,2024-03-15 10:00:00\n",
        b"T3,C3\x00,P3,1,9.99,2024-03-15 10:00:00\n",
        b"T4,C4\rX,P4\x0b\x0c,1,9.99,2024-03-15 10:00:00\n",
        b"T5,C5\x7f,P5,1,9.99,2024-03-15 10:00:00\n",
    ] {
        b.extend_from_slice(row);
    }
    b
}

fn very_long_field() -> Vec<u8> {
    let long = "x".repeat(OVER_LIMIT);
    format!(
        "{TX_HEADER}\n{}\nT2,C{long},P2,1,9.99,2024-03-15 10:00:00\n{}\n{}\n",
        tx_row(1),
        tx_row(3),
        tx_row(4)
    )
    .into_bytes()
}

fn unclosed_quote_then_line_over_limit() -> Vec<u8> {
    let long = "x".repeat(OVER_LIMIT);
    format!(
        "{TX_HEADER}\n{}\nT2,C2,\"P2,1,9.99,2024-03-15 10:00:00\n{}\nT4,C{long},P4,1,9.99,2024-03-15 10:00:00\n{}\n{}\n",
        tx_row(1),
        tx_row(3),
        tx_row(5),
        tx_row(6)
    )
    .into_bytes()
}

fn header_wider_than_max_columns() -> Vec<u8> {
    let header: Vec<String> = (0..3000).map(|i| format!("c{i}")).collect();
    format!("{}\n1,2\n", header.join(",")).into_bytes()
}

fn products_latin1_json() -> Vec<u8> {
    b"[{\"id\":\"P1\",\"title\":\"Caf\xe9 cr\xe8me\",\"category\":\"food\",\"price\":4.5}]\n"
        .to_vec()
}

fn products_utf16_with_bom() -> Vec<u8> {
    "\u{feff}product_id,name,category,price\nP1,Mouse,electronics,9.99\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn zstd_magic() -> Vec<u8> {
    b"\x28\xb5\x2f\xfd\x24\x1d\xe9\x00\x00product_id,name\n".to_vec()
}

fn parquet_magic() -> Vec<u8> {
    b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00PAR1".to_vec()
}

fn array_element_over_record_limit() -> Vec<u8> {
    format!(
        r#"[{{"id":"P1","title":"a","category":"c","price":1}},{{"id":"P2","title":"{}","category":"c","price":1}}]"#,
        "d".repeat(OVER_LIMIT)
    )
    .into_bytes()
}

fn long_description_under_limit() -> Vec<u8> {
    format!(
        "product_id,name,category,price,description\nP1,Lamp,home,24.50,{}\nP2,Chair,home,80.00,short\nP3,Desk,home,150.00,short\n",
        "d".repeat(2 * 1024 * 1024)
    )
    .into_bytes()
}

fn deep(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

fn products_deeply_nested() -> Vec<u8> {
    format!(
        r#"[{{"id":"P1","title":"a","category":"c","price":1,"tags":{}}}]"#,
        deep(10_000)
    )
    .into_bytes()
}

fn customers_latin1_csv() -> Vec<u8> {
    let mut b = b"customer_id,name,email,city,country,signup_date\n".to_vec();
    for row in [
        &b"C1,Jos\xe9 Mart\xednez,jose@example.com,M\xe1laga,Espa\xf1a,2023-01-15\n"[..],
        b"C2,Fran\xe7ois M\xfcller,francois@example.com,K\xf6ln,Deutschland,2023-01-15\n",
        b"C3,In\xeas Concei\xe7\xe3o,ines@example.com,Set\xfabal,Portugal,2023-01-15\n",
    ] {
        b.extend_from_slice(row);
    }
    b
}

fn bzip2_magic() -> Vec<u8> {
    b"BZh91AY&SY\x94\x1b\x8e\x1c\x00\x00\x02\x41\x80\x00".to_vec()
}

fn clickstream_bad_utf8_line() -> Vec<u8> {
    let mut b = events(1..=2).into_bytes();
    b.extend_from_slice(
        b"{\"event_id\":\"E3\",\"session_id\":\"S1\",\"event_type\":\"page_view\",\"page\":\"/caf\xff\",\"event_time\":\"2024-03-15T10:03:00Z\"}\n",
    );
    b.extend_from_slice(events(4..=4).as_bytes());
    b
}

fn clickstream_first_ten_lines_not_utf8() -> Vec<u8> {
    let mut b = Vec::new();
    for i in 1..=12 {
        b.extend_from_slice(
            format!("{{\"event_id\":\"E{i}\",\"session_id\":\"S1\",\"event_type\":\"search\",\"page\":\"/caf").as_bytes(),
        );
        b.extend_from_slice(b"\xe9\",\"event_time\":\"2024-03-15T10:00:00Z\"}\n");
    }
    b
}

fn clickstream_line_over_record_limit() -> Vec<u8> {
    format!(
        "{}{{\"event_id\":\"E2\",\"page\":\"{}\"}}\n{}",
        events(1..=1),
        "x".repeat(OVER_LIMIT),
        events(3..=4)
    )
    .into_bytes()
}

fn clickstream_line_cut_inside_utf8_char() -> Vec<u8> {
    // The reader takes max_record_bytes + 1 bytes of an over-long line: make that cut fall
    // inside a two-byte "é".
    let mut line = String::from("{\"event_id\":\"E2\",\"page\":\"");
    if (ReadLimits::DEFAULT_MAX_RECORD_BYTES + 1 - line.len()).is_multiple_of(2) {
        line.push('x');
    }
    line.push_str(&"é".repeat(OVER_LIMIT / 2));
    line.push_str("\"}\n");
    format!("{}{line}{}", events(1..=1), events(3..=4)).into_bytes()
}

fn clickstream_nested_gzip() -> Vec<u8> {
    gzip(&gzip(events(1..=3).as_bytes()))
}

fn clickstream_gzip_of_zip() -> Vec<u8> {
    gzip(ZIP)
}

fn clickstream_deeply_nested_line() -> Vec<u8> {
    format!(
        "{}{{\"event_id\":\"E9\",\"data\":{}}}\n",
        events(1..=3),
        deep(10_000)
    )
    .into_bytes()
}

fn clickstream_gzip_without_gz_suffix() -> Vec<u8> {
    gzip(events(1..=3).as_bytes())
}

// ------------------------------------------------------------------------------------------
// One file through the ingestion

/// What one corpus file did, and what differs from its expectation.
struct CaseReport {
    name: String,
    actual: String,
    problems: Vec<String>,
}

fn summary(m: &Manifest) -> String {
    match m.status {
        ManifestStatus::FileQuarantined => format!(
            "file_quarantined ({}): {}",
            m.file_quarantine_rule.as_deref().unwrap_or("unreadable"),
            m.file_quarantine_reason.as_deref().unwrap_or_default()
        ),
        ManifestStatus::Processed => format!(
            "processed in={} silver={} quarantined={} duplicates={} rules={:?} warnings={:?}",
            m.rows_in,
            m.rows_silver,
            m.rows_quarantined,
            m.duplicates_removed,
            m.rejected_by_rule,
            m.warnings_by_rule
        ),
    }
}

fn rows(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

/// Every string value of the batches, one per line.
fn strings(batches: &[RecordBatch]) -> String {
    let mut text = String::new();
    for b in batches {
        for c in b.columns() {
            let values: Vec<Option<&str>> = if let Some(s) = c.as_string_opt::<i32>() {
                s.iter().collect()
            } else if let Some(s) = c.as_string_view_opt() {
                s.iter().collect()
            } else {
                Vec::new()
            };
            for v in values.into_iter().flatten() {
                text.push_str(v);
                text.push('\n');
            }
        }
    }
    text
}

/// Where any of `secrets` appears in the lake, outside `landing/` and the verbatim copies of
/// files quarantined whole (documented to keep the bytes as received).
async fn leaks(store: &dyn ObjectStore, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for object in store.list("").await.unwrap() {
        let key = object.key;
        let verbatim_copy = key.contains("/_files/") && !key.ends_with("/reason.json");
        if key.starts_with("landing/") || verbatim_copy {
            continue;
        }
        let bytes = store.get(&key).await.unwrap();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if key.ends_with(".parquet") {
            match layer::decode_parquet(bytes) {
                Ok(batches) => text.push_str(&strings(&batches)),
                Err(e) => found.push(format!("{key} cannot be decoded to look for secrets: {e}")),
            }
        }
        for secret in secrets {
            if text.contains(secret.as_str()) {
                found.push(format!("secret {secret:?} is in {key}"));
            }
        }
    }
    found
}

async fn run_case(name: String, source: Source, expected: Expectation) -> CaseReport {
    let mut problems = Vec::new();
    let dataset = dataset_of(&name).to_string();
    let bytes = source.bytes(&name);
    let dir = tempfile::tempdir().unwrap();
    let (store, ingestor) = fs_ingestor(dir.path());
    let key = format!("landing/{dataset}/{name}");
    store.put(&key, bytes.clone()).await.unwrap();
    let m = match ingestor.ingest_object(&key, "malformed-corpus").await {
        Ok(IngestOutcome::Processed(m)) => *m,
        Ok(other) => {
            return CaseReport {
                name,
                actual: format!("not processed: {other:?}"),
                problems: vec!["the first delivery was not processed".into()],
            };
        }
        Err(e) => {
            return CaseReport {
                name,
                actual: format!("ingestion error: {}", error_chain(&e)),
                problems: vec!["bad input must be an outcome, never an ingestion error".into()],
            };
        }
    };
    let actual = summary(&m);
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    check(
        m.reconciles(),
        format!(
            "counts do not reconcile: rows_in {} != silver {} + quarantined {} + duplicates {}",
            m.rows_in, m.rows_silver, m.rows_quarantined, m.duplicates_removed
        ),
    );
    match &expected.outcome {
        Outcome::FileQuarantined {
            reason_contains,
            rule,
            rows_in,
        } => {
            let reason = m.file_quarantine_reason.clone().unwrap_or_default();
            check(
                m.status == ManifestStatus::FileQuarantined,
                "expected the whole file quarantined".into(),
            );
            check(
                reason.contains(reason_contains.as_str()),
                format!("the reason does not contain {reason_contains:?}"),
            );
            if let Some(rule) = rule {
                check(
                    m.file_quarantine_rule.as_deref() == Some(rule.as_str()),
                    format!("expected the file quarantined by rule {rule}"),
                );
            }
            if let Some(n) = rows_in {
                check(m.rows_in == *n, format!("expected rows_in {n}"));
            }
            check(
                m.files_quarantined == 1 && m.rows_silver == 0,
                "a file quarantined whole counts one file and no silver row".into(),
            );
            check(
                m.outputs.bronze.is_empty() && m.outputs.silver.is_empty(),
                format!("a quarantined file writes no table: {:?}", m.outputs),
            );
            if m.status == ManifestStatus::FileQuarantined {
                let copy = m.outputs.quarantine.first().cloned().unwrap_or_default();
                let kept = store.get(&copy).await.ok();
                check(
                    kept.as_deref() == Some(bytes.as_slice()),
                    format!("the quarantined copy {copy:?} is not the file as it arrived"),
                );
                let mut doc: Option<Value> = None;
                if let Some(k) = m.outputs.quarantine.get(1)
                    && let Ok(body) = store.get(k).await
                {
                    doc = serde_json::from_slice(&body).ok();
                }
                check(
                    doc.as_ref().and_then(|d| d["reason"].as_str()) == Some(reason.as_str()),
                    "reason.json does not carry the manifest's reason".into(),
                );
            }
        }
        Outcome::Processed {
            rows_in,
            rows_silver,
            rows_quarantined,
            duplicates_removed,
            rules,
            warnings,
        } => {
            if m.status != ManifestStatus::Processed {
                check(false, "expected the file processed".into());
            } else {
                let want = (
                    *rows_in,
                    *rows_silver,
                    *rows_quarantined,
                    *duplicates_removed,
                );
                let got = (
                    m.rows_in,
                    m.rows_silver,
                    m.rows_quarantined,
                    m.duplicates_removed,
                );
                check(
                    got == want,
                    format!(
                        "expected in={} silver={} quarantined={} duplicates={}",
                        want.0, want.1, want.2, want.3
                    ),
                );
                check(
                    &m.rejected_by_rule == rules,
                    format!("expected rejections {rules:?}"),
                );
                check(
                    &m.warnings_by_rule == warnings,
                    format!("expected warnings {warnings:?}"),
                );
                // The tables hold exactly what the manifest counts.
                let silver = table_rows(store.clone(), &format!("silver/{dataset}"), None).await;
                check(
                    rows(&silver) == m.rows_silver,
                    format!("silver holds {} rows", rows(&silver)),
                );
                let quarantine =
                    table_rows(store.clone(), &format!("quarantine/{dataset}"), None).await;
                check(
                    rows(&quarantine) == m.rows_quarantined,
                    format!("the quarantine table holds {} rows", rows(&quarantine)),
                );
                let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
                let mut without_reason = 0;
                for b in &quarantine {
                    let rule = b.column_by_name("rule_id").unwrap().as_string::<i32>();
                    let reason = b.column_by_name("reason").unwrap().as_string::<i32>();
                    for i in 0..b.num_rows() {
                        *by_rule.entry(rule.value(i).to_string()).or_default() += 1;
                        if reason.is_null(i) || reason.value(i).trim().is_empty() {
                            without_reason += 1;
                        }
                    }
                }
                check(
                    by_rule == m.rejected_by_rule,
                    format!("the quarantine table's rules are {by_rule:?}"),
                );
                check(
                    without_reason == 0,
                    format!("{without_reason} quarantined rows have no reason"),
                );
                let bronze_rows = match m.outputs.bronze.first() {
                    Some(k) => rows(&layer::decode_parquet(store.get(k).await.unwrap()).unwrap()),
                    None => 0,
                };
                check(
                    bronze_rows == m.rows_in,
                    format!("bronze holds {bronze_rows} rows, not every row read"),
                );
            }
        }
    }
    if !expected.secrets_absent.is_empty() {
        problems.extend(leaks(store.as_ref(), &expected.secrets_absent).await);
    }
    CaseReport {
        name,
        actual,
        problems,
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_file_ends_as_its_expectation_says() {
    let started = std::time::Instant::now();
    let expected = expectations();
    let mut cases: Vec<(String, Source, Expectation)> = Vec::new();
    for (name, source) in corpus() {
        // A file without a (valid) expectation fails the meta-test; here it is skipped.
        if let Some(Ok(e)) = expected.get(&name) {
            cases.push((name, source, e.clone()));
        }
    }
    assert!(!cases.is_empty(), "no corpus file has an expectation");
    const LANES: usize = 3;
    let mut lanes: Vec<Vec<(String, Source, Expectation)>> = vec![Vec::new(); LANES];
    for (i, case) in cases.iter().enumerate() {
        lanes[i % LANES].push(case.clone());
    }
    let handles: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            tokio::spawn(async move {
                let mut reports = Vec::new();
                for (name, source, expectation) in lane {
                    let run = AssertUnwindSafe(run_case(name.clone(), source, expectation));
                    reports.push(match run.catch_unwind().await {
                        Ok(report) => report,
                        Err(payload) => CaseReport {
                            actual: format!("panicked: {}", panic_text(payload.as_ref())),
                            problems: vec!["bad input must never panic".into()],
                            name,
                        },
                    });
                }
                reports
            })
        })
        .collect();
    let mut reports: BTreeMap<String, CaseReport> = BTreeMap::new();
    for handle in handles {
        for report in handle.await.unwrap() {
            reports.insert(report.name.clone(), report);
        }
    }
    let mut failures = Vec::new();
    for (name, report) in &reports {
        let verdict = if report.problems.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!("{verdict} {name}: {}", report.actual);
        if !report.problems.is_empty() {
            let (_, _, e) = cases.iter().find(|(n, _, _)| n == name).unwrap();
            failures.push(format!(
                "{name}\n    expected: {:?}\n    why:      {}\n    actual:   {}\n    problems: {}",
                e.outcome,
                e.why,
                report.actual,
                report.problems.join("; ")
            ));
        }
    }
    println!(
        "{} corpus files in {:.1} s",
        reports.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(reports.len(), cases.len(), "every case reported");
    assert!(
        failures.is_empty(),
        "{} of {} corpus files did not end as expected:\n{}",
        failures.len(),
        reports.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// The meta-test

/// The records of a clean file, counted without the readers under test.
fn independent_count(name: &str, bytes: &[u8]) -> usize {
    let text = std::str::from_utf8(bytes).unwrap();
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    if name.ends_with(".jsonl") {
        lines
    } else if name.ends_with(".json") {
        match serde_json::from_str::<Value>(text).unwrap() {
            Value::Array(records) => records.len(),
            Value::Object(map) => map
                .values()
                .find_map(|v| v.as_array().map(Vec::len))
                .unwrap_or(1),
            _ => 0,
        }
    } else {
        lines.saturating_sub(1)
    }
}

#[test]
fn every_corpus_file_has_an_expected_outcome() {
    let expected = expectations();
    let corpus = corpus();
    let files: BTreeSet<&String> = corpus.keys().collect();
    let named: BTreeSet<&String> = expected.keys().collect();
    let mut problems = Vec::new();
    for name in files.difference(&named) {
        problems.push(format!("{name}: a corpus file with no expected outcome"));
    }
    for name in named.difference(&files) {
        problems.push(format!(
            "{name}: an expectation for a file that is neither stored nor generated"
        ));
    }
    let contracts = ContractSet::defaults().unwrap();
    let mut good: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bad: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, e) in &expected {
        let dataset = dataset_of(name);
        if !DATASETS.contains(&dataset) {
            problems.push(format!("{name}: not named {{dataset}}__{{defect}}"));
            continue;
        }
        if contracts.dataset_for_file(name) != Some(dataset) {
            problems.push(format!(
                "{name}: the contracts route it to {:?}",
                contracts.dataset_for_file(name)
            ));
        }
        let e = match e {
            Ok(e) => e,
            Err(why) => {
                problems.push(format!("{name}: {why}"));
                continue;
            }
        };
        if is_good(name) {
            *good.entry(dataset).or_default() += 1;
            match (&e.outcome, corpus.get(name)) {
                (
                    Outcome::Processed {
                        rows_in,
                        rows_silver,
                        rules,
                        ..
                    },
                    Some(source),
                ) => {
                    if rows_in != rows_silver || !rules.is_empty() {
                        problems.push(format!("{name}: a good file's rows all reach silver"));
                    }
                    let n = independent_count(name, &source.bytes(name)) as u64;
                    if n != *rows_in {
                        problems.push(format!("{name}: holds {n} records, expected {rows_in}"));
                    }
                }
                (Outcome::Processed { .. }, None) => {}
                (Outcome::FileQuarantined { .. }, _) => {
                    problems.push(format!("{name}: a good file is processed"));
                }
            }
        } else {
            *bad.entry(dataset).or_default() += 1;
        }
        if let Outcome::Processed {
            rows_in,
            rows_silver,
            rows_quarantined,
            duplicates_removed,
            rules,
            ..
        } = &e.outcome
            && (*rows_in != rows_silver + rows_quarantined + duplicates_removed
                || rules.values().sum::<u64>() != *rows_quarantined)
        {
            problems.push(format!("{name}: the expected counts do not reconcile"));
        }
    }
    for dataset in DATASETS {
        if !good.contains_key(dataset) || !bad.contains_key(dataset) {
            problems.push(format!("{dataset}: needs good and bad files"));
        }
    }
    let (n_good, n_bad): (usize, usize) = (good.values().sum(), bad.values().sum());
    if n_good < 10 || n_bad < 60 {
        problems.push(format!(
            "the corpus has {n_good} good and {n_bad} bad files; at least 10 and 60 are needed"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
