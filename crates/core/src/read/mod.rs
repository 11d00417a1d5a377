//! Readers: CSV, JSON array, JSON object wrapping an array, and JSON lines, each optionally
//! gzip-compressed, streamed into bounded Arrow batches of raw text.
//!
//! Every reader maps source field names onto the contract's canonical columns through the
//! column aliases ([`ColumnMapper`]), drops `secret` fields on the spot, keeps unknown fields as
//! a JSON object in `_extra`, and never holds more than one batch of records in memory
//! (plus, for JSON, the record being parsed).
//!
//! The output batches have the [`raw_schema`]: one nullable UTF-8 column per kept contract
//! column, then `_extra` (unknown fields as JSON), `_row_number` (1-based position in the file)
//! and `_read_error` (why a single record could not be read; such rows are quarantined by the
//! validator under `{dataset}.row.malformed`).
//!
//! A file that cannot be read at all (not the format, a required column missing, invalid UTF-8,
//! a corrupt gzip stream, empty) ends the read with [`ReadFailure::Unreadable`]: the caller
//! quarantines it whole.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserializer, Serialize};
use serde_json::Value;

use crate::contract::{Classification, Contract, ReadLimits, looks_secret, normalize_name};

/// Default number of records per batch.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

mod delimited;
mod guard;

pub use guard::LimitExceeded;

/// Name of the unknown-fields column.
pub const EXTRA_COLUMN: &str = "_extra";
/// Name of the row-number column.
pub const ROW_NUMBER_COLUMN: &str = "_row_number";
/// Name of the per-record read error column.
pub const READ_ERROR_COLUMN: &str = "_read_error";

/// The text layout of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text with a header row.
    Csv,
    /// A JSON array of objects, an object wrapping such an array, or a single object.
    Json,
    /// One JSON object per line.
    JsonLines,
}

/// The compression of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain.
    None,
    /// gzip (one or more members).
    Gzip,
}

/// Why a whole file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// The file is empty (no header, no record).
    #[error("the file is empty")]
    Empty,
    /// The file is not in the format its name or content says.
    #[error("not valid {format:?}: {detail}")]
    NotFormat {
        /// The format tried.
        format: Format,
        /// The parser's complaint, with position.
        detail: String,
    },
    /// A required column is missing from the file.
    #[error("required column {column:?} is missing (accepted names: {accepted})")]
    MissingRequiredColumn {
        /// The canonical column.
        column: String,
        /// The names that would have been accepted.
        accepted: String,
    },
    /// The bytes are not UTF-8 text.
    #[error("not UTF-8 text ({detail})")]
    BadEncoding {
        /// Where.
        detail: String,
    },
    /// The bytes could not be read (a corrupt gzip stream, a truncated file).
    #[error("cannot read the bytes")]
    Io(#[source] std::io::Error),
    /// The file overran one of the contract's read limits.
    #[error(transparent)]
    Limit(LimitExceeded),
    /// The content is compressed again (gzip in gzip) or in a format ShopFlow does not read.
    #[error("the content is {kind}: unpack it before dropping it in landing")]
    Compressed {
        /// What the content is.
        kind: &'static str,
    },
}

/// How a read ended early.
#[derive(Debug)]
pub enum ReadFailure<E> {
    /// The file cannot be read; quarantine it whole.
    Unreadable(Unreadable),
    /// The batch sink failed; propagate.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ReadFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(u) => write!(f, "unreadable file: {u}"),
            Self::Sink(e) => write!(f, "{e}"),
        }
    }
}

impl<E> From<Unreadable> for ReadFailure<E> {
    fn from(u: Unreadable) -> Self {
        Self::Unreadable(u)
    }
}

/// What a completed read saw: format, how source fields mapped, schema drift.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadReport {
    /// Detected format.
    pub format: Option<Format>,
    /// Detected compression.
    pub compression: Option<Compression>,
    /// Records read (including malformed ones).
    pub records: u64,
    /// Source field → canonical column.
    pub mapping: BTreeMap<String, String>,
    /// Source fields the contract does not know (kept in `_extra` in bronze): schema drift.
    pub unknown_fields: BTreeSet<String>,
    /// Source fields dropped because they are secret.
    pub secret_fields_dropped: BTreeSet<String>,
    /// Optional contract columns no record carried.
    pub missing_optional: BTreeSet<String>,
    /// Bytes of text read (after decompression).
    pub decoded_bytes: u64,
}

/// The schema of raw batches for a contract.
pub fn raw_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = contract
        .kept_columns()
        .map(|c| Field::new(&c.name, DataType::Utf8, true))
        .collect();
    fields.push(Field::new(EXTRA_COLUMN, DataType::Utf8, true));
    fields.push(Field::new(ROW_NUMBER_COLUMN, DataType::Int64, false));
    fields.push(Field::new(READ_ERROR_COLUMN, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Where a source field goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Kept column index and alias priority (lower wins when two fields map to one column).
    Column(usize, usize),
    /// Dropped as secret.
    Secret,
    /// Unknown: kept in `_extra`.
    Unknown,
}

/// Maps source field names to a contract's columns.
#[derive(Debug, Clone)]
pub struct ColumnMapper {
    by_name: HashMap<String, Slot>,
    kept: Vec<String>,
    required: Vec<(usize, String, String)>,
    record_fields: Vec<String>,
    redactor: Option<regex::Regex>,
}

/// A JSON `"key": value` pair with a scalar value, for redacting secrets in text that does not
/// parse as a whole.
const KEY_VALUE_PATTERN: &str =
    r#""((?:[^"\\]|\\.){1,200})"\s*:\s*("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)"#;

impl ColumnMapper {
    /// Replaces the values of secret-looking keys in JSON-ish text with `"[redacted]"`. When
    /// the redactor is unavailable the whole text is withheld.
    pub fn redact(&self, text: &str) -> String {
        let Some(re) = &self.redactor else {
            return "[withheld]".to_string();
        };
        re.replace_all(text, |caps: &regex::Captures<'_>| {
            let key = &caps[1];
            if self.slot(key) == Slot::Secret {
                format!("\"{key}\":\"[redacted]\"")
            } else {
                caps[0].to_string()
            }
        })
        .into_owned()
    }

    /// Builds the mapper for a contract.
    pub fn new(contract: &Contract) -> Self {
        let mut by_name = HashMap::new();
        let mut kept = Vec::new();
        let mut required = Vec::new();
        for column in &contract.columns {
            let names = std::iter::once(&column.name).chain(column.aliases.iter());
            if column.classification == Classification::Secret {
                for name in names {
                    by_name.insert(normalize_name(name), Slot::Secret);
                }
                continue;
            }
            let idx = kept.len();
            kept.push(column.name.clone());
            for (priority, name) in names.enumerate() {
                by_name
                    .entry(normalize_name(name))
                    .or_insert(Slot::Column(idx, priority));
            }
            if column.required {
                let accepted = std::iter::once(&column.name)
                    .chain(column.aliases.iter())
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ");
                required.push((idx, column.name.clone(), accepted));
            }
        }
        Self {
            by_name,
            kept,
            required,
            record_fields: contract
                .record_fields
                .iter()
                .map(|f| normalize_name(f))
                .collect(),
            redactor: regex::Regex::new(KEY_VALUE_PATTERN).ok(),
        }
    }

    fn slot(&self, source: &str) -> Slot {
        let norm = normalize_name(source);
        if let Some(slot) = self.by_name.get(&norm) {
            return *slot;
        }
        if looks_secret(source) || source.rsplit('.').next().is_some_and(looks_secret) {
            Slot::Secret
        } else {
            Slot::Unknown
        }
    }

    /// Number of kept columns.
    pub fn width(&self) -> usize {
        self.kept.len()
    }
}

/// Accumulates records into raw batches and hands full ones to the sink.
struct BatchBuilder<'a, E> {
    schema: SchemaRef,
    columns: Vec<StringBuilder>,
    extra: StringBuilder,
    row_number: Int64Builder,
    read_error: StringBuilder,
    len: usize,
    batch_rows: usize,
    sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), E>,
    seen_columns: Vec<bool>,
}

impl<'a, E> BatchBuilder<'a, E> {
    fn new(
        schema: SchemaRef,
        width: usize,
        batch_rows: usize,
        sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Self {
        Self {
            schema,
            columns: (0..width).map(|_| StringBuilder::new()).collect(),
            extra: StringBuilder::new(),
            row_number: Int64Builder::new(),
            read_error: StringBuilder::new(),
            len: 0,
            batch_rows: batch_rows.max(1),
            sink,
            seen_columns: vec![false; width],
        }
    }

    fn push(
        &mut self,
        row_number: u64,
        values: &mut [Option<String>],
        extra: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), ReadFailure<E>> {
        for (i, (builder, value)) in self.columns.iter_mut().zip(values.iter_mut()).enumerate() {
            match value.take() {
                Some(v) => {
                    self.seen_columns[i] = true;
                    builder.append_value(v);
                }
                None => builder.append_null(),
            }
        }
        self.extra.append_option(extra);
        self.row_number
            .append_value(i64::try_from(row_number).unwrap_or(i64::MAX));
        self.read_error.append_option(error);
        self.len += 1;
        if self.len >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ReadFailure<E>> {
        if self.len == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(self.extra.finish()));
        arrays.push(Arc::new(self.row_number.finish()));
        arrays.push(Arc::new(self.read_error.finish()));
        self.len = 0;
        // The arrays are built to the schema above: a mismatch is a programming error, reported
        // as a format failure rather than a panic.
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| {
            ReadFailure::Unreadable(Unreadable::NotFormat {
                format: Format::Csv,
                detail: format!("internal batch error: {e}"),
            })
        })?;
        (self.sink)(batch).map_err(ReadFailure::Sink)
    }
}

/// Picks the format from the object name, falling back to the first significant byte.
fn detect_format(name: &str, first_byte: Option<u8>) -> Format {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
        .unwrap_or(&lower);
    if base.ends_with(".jsonl") || base.ends_with(".ndjson") {
        Format::JsonLines
    } else if base.ends_with(".json") {
        Format::Json
    } else if base.ends_with(".csv") || base.ends_with(".tsv") || base.ends_with(".txt") {
        Format::Csv
    } else {
        match first_byte {
            Some(b'[') | Some(b'{') => Format::Json,
            _ => Format::Csv,
        }
    }
}

fn io_unreadable(e: std::io::Error) -> Unreadable {
    if let Some(limit) = guard::exceeded(&e) {
        return Unreadable::Limit(limit);
    }
    if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("UTF-8") {
        Unreadable::BadEncoding {
            detail: e.to_string(),
        }
    } else {
        Unreadable::Io(e)
    }
}

/// Reads `input` (the object named `name`) as records of `contract`, handing batches of at most
/// `batch_rows` raw records to `sink`.
pub fn read_records<E>(
    input: impl Read,
    name: &str,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
) -> Result<ReadReport, ReadFailure<E>> {
    let limits = contract.file.limits();
    let meter = std::rc::Rc::new(guard::Meter::default());
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        guard::Compressed {
            inner: input,
            meter: meter.clone(),
        },
    );
    let head = buffered.fill_buf().map_err(io_unreadable)?;
    if let Some(kind) = archive_kind(head) {
        return Err(Unreadable::Compressed { kind }.into());
    }
    let compression = if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else {
        Compression::None
    };
    let decoded: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
        Compression::None => Box::new(buffered),
    };
    let mut text = BufReader::with_capacity(
        256 * 1024,
        guard::Decoded {
            inner: decoded,
            meter: meter.clone(),
            limits,
            compressed: compression != Compression::None,
        },
    );
    if compression != Compression::None {
        let inner = text.fill_buf().map_err(io_unreadable)?;
        if inner.starts_with(&GZIP_MAGIC) {
            return Err(Unreadable::Compressed {
                kind: "gzip inside gzip",
            }
            .into());
        }
        if let Some(kind) = archive_kind(inner) {
            return Err(Unreadable::Compressed { kind }.into());
        }
    }
    skip_bom(&mut text)?;
    let first = first_significant_byte(&mut text)?;
    let Some(first) = first else {
        return Err(Unreadable::Empty.into());
    };
    let format = detect_format(name, Some(first));
    let mapper = ColumnMapper::new(contract);
    let mut report = ReadReport {
        format: Some(format),
        compression: Some(compression),
        ..ReadReport::default()
    };
    let schema = raw_schema(contract);
    let mut builder = BatchBuilder::new(schema, mapper.width(), batch_rows, sink);
    match format {
        Format::Csv => read_csv(text, &mapper, &limits, &mut builder, &mut report)?,
        Format::JsonLines => read_json_lines(text, &mapper, &limits, &mut builder, &mut report)?,
        Format::Json => {
            meter.limit_records(limits.max_record_bytes);
            read_json(text, &mapper, &meter, &mut builder, &mut report)?
        }
    }
    report.decoded_bytes = meter.decoded();
    builder.flush()?;
    if report.records == 0 && format == Format::Csv {
        // A header and nothing else is a valid, empty extract.
    }
    for (idx, name) in mapper.kept.iter().enumerate() {
        if !builder.seen_columns[idx] && !report.mapping.values().any(|v| v == name) {
            report.missing_optional.insert(name.clone());
        }
    }
    if report.records > 0 && matches!(format, Format::Json | Format::JsonLines) {
        // JSON has no header: a required column that no record carries means the file is of
        // another shape altogether.
        for (idx, column, accepted) in &mapper.required {
            if !builder.seen_columns[*idx] {
                return Err(Unreadable::MissingRequiredColumn {
                    column: column.clone(),
                    accepted: accepted.clone(),
                }
                .into());
            }
        }
    }
    for (_, column, _) in &mapper.required {
        report.missing_optional.remove(column);
    }
    Ok(report)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Containers and compressions ShopFlow does not unpack, by their magic bytes.
fn archive_kind(head: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 6] = [
        (b"PK\x03\x04", "a zip archive"),
        (b"BZh", "bzip2-compressed"),
        (b"\xfd7zXZ\x00", "xz-compressed"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (
            b"PAR1",
            "a Parquet file (drop CSV or JSON; Parquet goes straight to a table)",
        ),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, kind)| *kind)
}

fn skip_bom(reader: &mut impl BufRead) -> Result<(), Unreadable> {
    let head = reader.fill_buf().map_err(io_unreadable)?;
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        reader.consume(3);
    }
    Ok(())
}

fn first_significant_byte(reader: &mut impl BufRead) -> Result<Option<u8>, Unreadable> {
    loop {
        let buf = reader.fill_buf().map_err(io_unreadable)?;
        if buf.is_empty() {
            return Ok(None);
        }
        if let Some(pos) = buf.iter().position(|b| !b.is_ascii_whitespace()) {
            return Ok(Some(buf[pos]));
        }
        let n = buf.len();
        reader.consume(n);
    }
}

fn sniff_delimiter(reader: &mut impl BufRead) -> Result<u8, Unreadable> {
    let buf = reader.fill_buf().map_err(io_unreadable)?;
    let line_end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
    let line = &buf[..line_end];
    let count = |d: u8| line.iter().filter(|b| **b == d).count();
    let candidates = [b',', b';', b'\t', b'|'];
    Ok(candidates
        .into_iter()
        .max_by_key(|d| (count(*d), *d == b','))
        .unwrap_or(b','))
}

fn read_csv<E>(
    mut text: impl BufRead,
    mapper: &ColumnMapper,
    limits: &ReadLimits,
    builder: &mut BatchBuilder<'_, E>,
    report: &mut ReadReport,
) -> Result<(), ReadFailure<E>> {
    let delimiter = sniff_delimiter(&mut text)?;
    let mut scanner = delimited::Scanner::new(text, delimiter, limits.max_record_bytes);
    let header_names = {
        match scanner.next(None).map_err(io_unreadable)? {
            None => return Err(Unreadable::Empty.into()),
            Some(delimited::Scanned::Malformed { line, reason, .. }) => {
                return Err(Unreadable::NotFormat {
                    format: Format::Csv,
                    detail: format!("header (line {line}): {reason}"),
                }
                .into());
            }
            Some(delimited::Scanned::Record { .. }) => {
                let fields = scanner.fields();
                if fields.len() > limits.max_columns {
                    return Err(Unreadable::NotFormat {
                        format: Format::Csv,
                        detail: format!(
                            "the header has {} fields, more than the contract's max_columns ({})",
                            fields.len(),
                            limits.max_columns
                        ),
                    }
                    .into());
                }
                let mut names = Vec::with_capacity(fields.len());
                for (i, h) in fields.iter().enumerate() {
                    let name = std::str::from_utf8(h).map_err(|e| Unreadable::BadEncoding {
                        detail: format!("header field {}: {e}", i + 1),
                    })?;
                    names.push(name.trim().to_string());
                }
                names
            }
        }
    };
    if header_names.iter().all(String::is_empty) {
        return Err(Unreadable::Empty.into());
    }
    // Resolve each header to a slot; when two headers map to one column the higher-priority
    // alias wins and the other is kept as an unknown field.
    let mut slots: Vec<Slot> = header_names.iter().map(|h| mapper.slot(h)).collect();
    let mut best: HashMap<usize, (usize, usize)> = HashMap::new();
    for (pos, slot) in slots.iter().enumerate() {
        if let Slot::Column(idx, priority) = slot {
            let entry = best.entry(*idx).or_insert((pos, *priority));
            if *priority < entry.1 {
                *entry = (pos, *priority);
            }
        }
    }
    for (pos, slot) in slots.iter_mut().enumerate() {
        if let Slot::Column(idx, _) = *slot
            && best.get(&idx).map(|b| b.0) != Some(pos)
        {
            *slot = Slot::Unknown;
        }
    }
    for (name, slot) in header_names.iter().zip(&slots) {
        match slot {
            Slot::Column(idx, _) => {
                report
                    .mapping
                    .insert(name.clone(), mapper.kept[*idx].clone());
            }
            Slot::Secret => {
                report.secret_fields_dropped.insert(name.clone());
            }
            Slot::Unknown => {
                report.unknown_fields.insert(name.clone());
            }
        }
    }
    for (idx, column, accepted) in &mapper.required {
        if !best.contains_key(idx) {
            return Err(Unreadable::MissingRequiredColumn {
                column: column.clone(),
                accepted: accepted.clone(),
            }
            .into());
        }
    }
    let has_unknown = slots.contains(&Slot::Unknown);
    let has_secret = slots.contains(&Slot::Secret);
    let mut values: Vec<Option<String>> = vec![None; mapper.width()];
    let mut row: u64 = 0;
    while let Some(scanned) = scanner.next(Some(slots.len())).map_err(io_unreadable)? {
        row += 1;
        report.records += 1;
        match scanned {
            delimited::Scanned::Malformed {
                line,
                reason,
                excerpt,
            } => {
                // The line's text is evidence unless the file has secret columns, where any
                // part of a broken line could be one.
                let raw = if has_secret || excerpt.is_empty() {
                    serde_json::json!({ "line": line, "withheld": "the line cannot be split into the header's fields" })
                } else {
                    serde_json::json!({ "line": line, "text": excerpt })
                }
                .to_string();
                builder.push(
                    row,
                    &mut values,
                    Some(&raw),
                    Some(&format!("line {line}: {reason}")),
                )?;
                continue;
            }
            delimited::Scanned::Record { .. } => {}
        }
        let record = scanner.fields();
        let mut fields: Vec<&str> = Vec::with_capacity(slots.len());
        let mut bad_encoding = None;
        for (i, f) in record.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(s),
                Err(e) => {
                    bad_encoding = Some(format!("field {}: not UTF-8 text ({e})", i + 1));
                    break;
                }
            }
        }
        if let Some(error) = bad_encoding {
            // One mis-encoded row costs that row; a file of them is quarantined whole by the
            // contract's max_reject_share.
            let raw = serde_json::json!({ "withheld": "the record is not UTF-8 text" }).to_string();
            builder.push(row, &mut values, Some(&raw), Some(&error))?;
            continue;
        }
        if fields.len() != slots.len() {
            // Fields cannot be aligned with the header: where the file has secret columns a
            // shifted row could carry a secret under any name, so its values are withheld.
            let raw = if has_secret {
                serde_json::json!({ "withheld": "the row cannot be aligned with the header and the file has secret columns" })
            } else {
                serde_json::json!({ "fields": fields })
            }
            .to_string();
            let error = format!(
                "record has {} fields, the header has {}",
                fields.len(),
                slots.len()
            );
            builder.push(row, &mut values, Some(&raw), Some(&error))?;
            continue;
        }
        let mut extra = has_unknown.then(serde_json::Map::new);
        for ((field, slot), name) in fields.iter().zip(&slots).zip(&header_names) {
            match slot {
                Slot::Column(idx, _) => {
                    if !field.is_empty() {
                        values[*idx] = Some((*field).to_string());
                    }
                }
                Slot::Unknown => {
                    if let Some(extra) = extra.as_mut()
                        && !field.is_empty()
                    {
                        extra.insert(name.clone(), Value::String((*field).to_string()));
                    }
                }
                Slot::Secret => {}
            }
        }
        let extra_text = extra
            .filter(|m| !m.is_empty())
            .map(|m| Value::Object(m).to_string());
        builder.push(row, &mut values, extra_text.as_deref(), None)?;
    }
    Ok(())
}

/// Field paths whose slot a reader remembers (past it, a slot is worked out per field): a file
/// whose every record has fields of its own cannot grow the memory without bound.
const MAX_REMEMBERED_PATHS: usize = 4096;

/// Flattens JSON records into the kept columns and `_extra`, one record at a time. Each field
/// path's slot (kept column, secret, unknown) is worked out once per file and remembered with
/// whether the report has recorded it, so a record of known fields costs one hash lookup per
/// field and no allocation but its values (which move out of the parsed record).
struct Placer {
    /// The current record's value per kept column.
    values: Vec<Option<String>>,
    /// The alias priority that set each value (lower wins).
    priorities: Vec<usize>,
    /// Slot, and whether the report has it, per field path seen.
    paths: HashMap<String, (Slot, bool)>,
    /// The path of the field being placed (`a.b` for `b` inside `a`).
    path: String,
}

impl Placer {
    fn new(width: usize) -> Self {
        Self {
            values: vec![None; width],
            priorities: vec![usize::MAX; width],
            paths: HashMap::new(),
            path: String::new(),
        }
    }

    /// The slot of the current path and whether the report has recorded the path.
    fn slot(&mut self, mapper: &ColumnMapper) -> (Slot, bool) {
        if let Some(&known) = self.paths.get(self.path.as_str()) {
            return known;
        }
        let slot = mapper.slot(&self.path);
        if self.paths.len() < MAX_REMEMBERED_PATHS {
            self.paths.insert(self.path.clone(), (slot, false));
        }
        (slot, false)
    }

    fn mark_recorded(&mut self) {
        if let Some(entry) = self.paths.get_mut(self.path.as_str()) {
            entry.1 = true;
        }
    }

    /// Places `record`'s fields (nested objects flattened to dotted paths, in order) and
    /// returns the `_extra` text of its unknown fields, if any.
    fn place_record(
        &mut self,
        record: serde_json::Map<String, Value>,
        mapper: &ColumnMapper,
        report: &mut ReadReport,
    ) -> Option<String> {
        self.priorities.fill(usize::MAX);
        self.path.clear();
        let mut extra = serde_json::Map::new();
        self.place_fields(record, mapper, report, &mut extra);
        (!extra.is_empty()).then(|| Value::Object(extra).to_string())
    }

    fn place_fields(
        &mut self,
        fields: serde_json::Map<String, Value>,
        mapper: &ColumnMapper,
        report: &mut ReadReport,
        extra: &mut serde_json::Map<String, Value>,
    ) {
        for (key, value) in fields {
            let len = self.path.len();
            if len > 0 {
                self.path.push('.');
            }
            self.path.push_str(&key);
            self.place(value, mapper, report, extra);
            self.path.truncate(len);
        }
    }

    fn place(
        &mut self,
        value: Value,
        mapper: &ColumnMapper,
        report: &mut ReadReport,
        extra: &mut serde_json::Map<String, Value>,
    ) {
        let (slot, recorded) = self.slot(mapper);
        match (slot, value) {
            (Slot::Secret, _) => {
                if !recorded {
                    report.secret_fields_dropped.insert(self.path.clone());
                    self.mark_recorded();
                }
            }
            (Slot::Column(idx, priority), v) if !v.is_object() => {
                if priority < self.priorities[idx] {
                    self.priorities[idx] = priority;
                    self.values[idx] = match v {
                        Value::Array(_) => json_text(&scrub(&self.path, &v, mapper, report)),
                        v => owned_json_text(v),
                    };
                    if !recorded {
                        report
                            .mapping
                            .entry(self.path.clone())
                            .or_insert_with(|| mapper.kept[idx].clone());
                        self.mark_recorded();
                    }
                }
            }
            (_, Value::Object(fields)) => self.place_fields(fields, mapper, report, extra),
            (_, v) => {
                if !v.is_null() {
                    let kept = scrub(&self.path, &v, mapper, report);
                    extra.insert(self.path.clone(), kept);
                }
                if !recorded {
                    report.unknown_fields.insert(self.path.clone());
                    self.mark_recorded();
                }
            }
        }
    }
}

/// A copy of `value` without its secret fields, at any depth: objects inside arrays inside
/// objects (`cards: [{"cardNumber": …}]`, `accounts: [{"iban": …}]`) are walked like the top
/// level, and every field the contract declares secret, or whose name looks secret, is dropped
/// and recorded (array elements as `path[]`).
fn scrub(path: &str, value: &Value, mapper: &ColumnMapper, report: &mut ReadReport) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| {
                    let child = format!("{path}.{k}");
                    if mapper.slot(&child) == Slot::Secret || mapper.slot(k) == Slot::Secret {
                        report.secret_fields_dropped.insert(child);
                        None
                    } else {
                        Some((k.clone(), scrub(&child, v, mapper, report)))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => {
            let element = format!("{path}[]");
            Value::Array(
                items
                    .iter()
                    .map(|v| scrub(&element, v, mapper, report))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// [`json_text`] of a value the caller owns: a string moves instead of being copied.
fn owned_json_text(value: Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s),
        other => json_text(&other),
    }
}

fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn push_json_value<E>(
    value: Value,
    row: u64,
    mapper: &ColumnMapper,
    builder: &mut BatchBuilder<'_, E>,
    report: &mut ReadReport,
    placer: &mut Placer,
) -> Result<(), ReadFailure<E>> {
    report.records += 1;
    match value {
        Value::Object(map) => {
            let extra = placer.place_record(map, mapper, report);
            builder.push(row, &mut placer.values, extra.as_deref(), None)
        }
        other => {
            let raw = mapper.redact(&serde_json::json!({ "value": other }).to_string());
            builder.push(
                row,
                &mut placer.values,
                Some(&raw),
                Some("record is not a JSON object"),
            )
        }
    }
}

fn read_json_lines<E>(
    mut text: impl BufRead,
    mapper: &ColumnMapper,
    limits: &ReadLimits,
    builder: &mut BatchBuilder<'_, E>,
    report: &mut ReadReport,
) -> Result<(), ReadFailure<E>> {
    let mut placer = Placer::new(mapper.width());
    let mut line = Vec::new();
    let mut row: u64 = 0;
    let mut parsed_any = false;
    let mut failed_lines = 0u64;
    let max = limits.max_record_bytes;
    loop {
        line.clear();
        let n = (&mut text)
            .take(max as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_unreadable)?;
        if n == 0 {
            break;
        }
        let too_long = line.len() > max && !line.ends_with(b"\n");
        if too_long {
            // Skip the rest of the over-long line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let m = (&mut text)
                    .take(max as u64)
                    .read_until(b'\n', &mut sink)
                    .map_err(io_unreadable)?;
                if m == 0 || sink.ends_with(b"\n") {
                    break;
                }
            }
        }
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        row += 1;
        if too_long {
            // Cut at the limit, possibly inside a character: never decoded, never kept.
            report.records += 1;
            failed_lines += 1;
            builder.push(
                row,
                &mut placer.values,
                None,
                Some(&format!(
                    "line longer than the contract's max_record_bytes ({max} bytes)"
                )),
            )?;
            continue;
        }
        let text_line = match std::str::from_utf8(trimmed) {
            Ok(t) => t,
            Err(e) => {
                report.records += 1;
                failed_lines += 1;
                builder.push(
                    row,
                    &mut placer.values,
                    None,
                    Some(&format!("line {row}: not UTF-8 text ({e})")),
                )?;
                if !parsed_any && failed_lines >= 10 {
                    return Err(Unreadable::BadEncoding {
                        detail: format!("the first {failed_lines} lines are not UTF-8 text"),
                    }
                    .into());
                }
                continue;
            }
        };
        match serde_json::from_str::<Value>(text_line) {
            Ok(value) => {
                parsed_any = true;
                push_json_value(value, row, mapper, builder, report, &mut placer)?;
            }
            Err(e) => {
                report.records += 1;
                failed_lines += 1;
                let raw = serde_json::json!({ "line": mapper.redact(text_line) }).to_string();
                builder.push(
                    row,
                    &mut placer.values,
                    Some(&raw),
                    Some(&format!("not a JSON value: {e}")),
                )?;
            }
        }
        if !parsed_any && failed_lines >= 10 {
            return Err(Unreadable::NotFormat {
                format: Format::JsonLines,
                detail: format!("the first {failed_lines} lines are not JSON"),
            }
            .into());
        }
    }
    if !parsed_any && failed_lines > 0 {
        return Err(Unreadable::NotFormat {
            format: Format::JsonLines,
            detail: "no line is JSON".into(),
        }
        .into());
    }
    Ok(())
}

/// State shared by the streaming JSON visitors.
struct JsonState<'m, 'b, 'r, 's, E> {
    mapper: &'m ColumnMapper,
    meter: &'m guard::Meter,
    builder: &'b mut BatchBuilder<'s, E>,
    report: &'r mut ReadReport,
    placer: Placer,
    row: u64,
    failure: Option<ReadFailure<E>>,
    found_records: bool,
}

impl<E> JsonState<'_, '_, '_, '_, E> {
    fn push(&mut self, value: Value) -> bool {
        self.meter.mark();
        self.row += 1;
        let row = self.row;
        match push_json_value(
            value,
            row,
            self.mapper,
            self.builder,
            self.report,
            &mut self.placer,
        ) {
            Ok(()) => true,
            Err(f) => {
                self.failure = Some(f);
                false
            }
        }
    }
}

const SINK_FAILED: &str = "\u{0}shopflow: sink failed";

/// Streams the elements of an array into the state, one at a time.
struct RecordsSeq<'a, 'm, 'b, 'r, 's, E>(&'a mut JsonState<'m, 'b, 'r, 's, E>);

impl<'de, E> Visitor<'de> for RecordsSeq<'_, '_, '_, '_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.found_records = true;
        while let Some(value) = seq.next_element::<Value>()? {
            if !self.0.push(value) {
                return Err(serde::de::Error::custom(SINK_FAILED));
            }
        }
        Ok(())
    }
}

/// A field of a wrapping object: an array of records is streamed, anything else kept.
struct FieldSeed<'a, 'm, 'b, 'r, 's, E> {
    state: &'a mut JsonState<'m, 'b, 'r, 's, E>,
}

impl<'de, E> DeserializeSeed<'de> for FieldSeed<'_, '_, '_, '_, '_, E> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(FieldVisitor { state: self.state })
    }
}

struct FieldVisitor<'a, 'm, 'b, 'r, 's, E> {
    state: &'a mut JsonState<'m, 'b, 'r, 's, E>,
}

impl<'de, E> Visitor<'de> for FieldVisitor<'_, '_, '_, '_, '_, E> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        RecordsSeq(self.state).visit_seq(seq)?;
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        let value =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(value))
    }
    fn visit_bool<X: serde::de::Error>(self, v: bool) -> Result<Option<Value>, X> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<X: serde::de::Error>(self, v: i64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_u64<X: serde::de::Error>(self, v: u64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_f64<X: serde::de::Error>(self, v: f64) -> Result<Option<Value>, X> {
        Ok(Some(Value::from(v)))
    }
    fn visit_str<X: serde::de::Error>(self, v: &str) -> Result<Option<Value>, X> {
        Ok(Some(Value::String(v.to_string())))
    }
    fn visit_string<X: serde::de::Error>(self, v: String) -> Result<Option<Value>, X> {
        Ok(Some(Value::String(v)))
    }
    fn visit_unit<X: serde::de::Error>(self) -> Result<Option<Value>, X> {
        Ok(Some(Value::Null))
    }
    fn visit_none<X: serde::de::Error>(self) -> Result<Option<Value>, X> {
        Ok(Some(Value::Null))
    }
}

/// The top-level JSON value: an array of records, or an object that wraps one (or is one).
struct TopVisitor<'a, 'm, 'b, 'r, 's, E>(&'a mut JsonState<'m, 'b, 'r, 's, E>);

impl<'de, E> Visitor<'de> for TopVisitor<'_, '_, '_, '_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of records or an object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        RecordsSeq(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Fields other than the record array (`total`, `skip`, ...): kept in case the object is
        // itself the record.
        let mut others = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // Every record field is streamed: an export may repeat the key or carry two
            // record arrays (`items` and `data`), and none is dropped.
            let is_record_field = self.0.mapper.record_fields.contains(&normalize_name(&key));
            if is_record_field {
                if let Some(value) = map.next_value_seed(FieldSeed { state: self.0 })? {
                    others.insert(key, value);
                }
            } else {
                let value: Value = map.next_value()?;
                others.insert(key, value);
            }
        }
        if !self.0.found_records && !others.is_empty() {
            // A single record written as one object.
            self.0.push(Value::Object(others));
            if self.0.failure.is_some() {
                return Err(serde::de::Error::custom(SINK_FAILED));
            }
        }
        Ok(())
    }
}

fn read_json<E>(
    text: impl BufRead,
    mapper: &ColumnMapper,
    meter: &guard::Meter,
    builder: &mut BatchBuilder<'_, E>,
    report: &mut ReadReport,
) -> Result<(), ReadFailure<E>> {
    let mut state = JsonState {
        mapper,
        meter,
        builder,
        report,
        placer: Placer::new(mapper.width()),
        row: 0,
        failure: None,
        found_records: false,
    };
    let mut de = serde_json::Deserializer::from_reader(text);
    let result = (&mut de).deserialize_any(TopVisitor(&mut state));
    if let Some(failure) = state.failure.take() {
        return Err(failure);
    }
    match result.and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(ReadFailure::Unreadable(io_unreadable(e.into()))),
        Err(e) => Err(Unreadable::NotFormat {
            format: Format::Json,
            detail: e.to_string(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ContractSet;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use std::io::Write;

    fn read(
        dataset: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(Vec<RecordBatch>, ReadReport), Unreadable> {
        let set = ContractSet::defaults().unwrap();
        read_rows(set.get(dataset).unwrap(), name, bytes, 2)
    }

    fn read_rows(
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

    fn column(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
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

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    const SEED_A: &str = "transaction_id,customer_id,product_id,quantity,amount,transaction_date\nT001,C123,P456,2,199.98,2024-03-15 10:30:00\nT002,C124,P457,1,99.99,2024-03-15 11:45:00\n";
    const SEED_B: &str = "id,customer_id,product_id,quantity,timestamp,payment_method\n1,C1,P1,3,2024-01-02T03:04:05Z,paypal\n";

    #[test]
    fn reads_both_seed_transaction_headers() {
        let (b, r) = read("transactions", "t.csv", SEED_A.as_bytes()).unwrap();
        assert_eq!(
            column(&b, "transaction_id"),
            [Some("T001".into()), Some("T002".into())]
        );
        assert_eq!(column(&b, "amount")[1].as_deref(), Some("99.99"));
        assert_eq!(r.records, 2);
        let (b, r) = read("transactions", "t.csv", SEED_B.as_bytes()).unwrap();
        assert_eq!(column(&b, "transaction_id"), [Some("1".into())]);
        assert_eq!(
            column(&b, "transaction_date"),
            [Some("2024-01-02T03:04:05Z".into())]
        );
        assert_eq!(r.mapping["id"], "transaction_id");
        assert!(r.missing_optional.contains("amount"));
    }

    #[test]
    fn reads_csv_columns_in_any_order() {
        let csv =
            "quantity,transaction_date,product_id,customer_id,transaction_id\n2,2024-01-01,P,C,T\n";
        let (b, _) = read("transactions", "x.csv", csv.as_bytes()).unwrap();
        assert_eq!(column(&b, "quantity"), [Some("2".into())]);
        assert_eq!(column(&b, "transaction_id"), [Some("T".into())]);
    }

    #[test]
    fn reads_quoted_fields_with_commas_and_newlines() {
        let csv = "id,title,category,price,description\n1,\"Mouse, wireless\",electronics,9.99,\"line one\nline two\"\n";
        let (b, r) = read("products", "products.csv", csv.as_bytes()).unwrap();
        assert_eq!(r.records, 1);
        assert_eq!(column(&b, "name"), [Some("Mouse, wireless".into())]);
        assert_eq!(
            column(&b, "description"),
            [Some("line one\nline two".into())]
        );
    }

    #[test]
    fn reads_crlf_line_endings_and_a_utf8_bom() {
        let csv = "\u{feff}transaction_id,customer_id,product_id,quantity,transaction_date\r\nT1,C1,P1,1,2024-01-01\r\nT2,C2,P2,2,2024-01-02\r\n";
        let (b, r) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            r.mapping.get("transaction_id").map(String::as_str),
            Some("transaction_id")
        );
        assert_eq!(
            column(&b, "transaction_date")[1].as_deref(),
            Some("2024-01-02")
        );
    }

    #[test]
    fn reads_semicolon_delimited_csv() {
        let csv = "transaction_id;customer_id;product_id;quantity;transaction_date\nT1;C1;P1;1;2024-01-01\n";
        let (b, _) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(column(&b, "customer_id"), [Some("C1".into())]);
    }

    #[test]
    fn reads_gzip_compressed_input() {
        let (b, r) = read("transactions", "t.csv.gz", &gzip(SEED_A.as_bytes())).unwrap();
        assert_eq!(r.compression, Some(Compression::Gzip));
        assert_eq!(column(&b, "transaction_id").len(), 2);
    }

    #[test]
    fn emits_bounded_batches() {
        let mut csv =
            String::from("transaction_id,customer_id,product_id,quantity,transaction_date\n");
        for i in 0..5 {
            csv.push_str(&format!("T{i},C,P,1,2024-01-01\n"));
        }
        let (b, _) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            b.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let rows: Vec<i64> = b
            .iter()
            .flat_map(|b| {
                b.column_by_name(ROW_NUMBER_COLUMN)
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(rows, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn flags_a_csv_row_with_the_wrong_field_count() {
        let csv = "transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1\nT2,C2,P2,2,2024-01-02\n";
        let (b, _) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        let errors = column(&b, READ_ERROR_COLUMN);
        assert!(errors[0].as_deref().unwrap().contains("4 fields"));
        assert_eq!(errors[1], None);
    }

    #[test]
    fn reads_a_dummyjson_product_page() {
        let page = r#"{"products":[{"id":1,"title":"Essence Mascara","description":"d","category":"beauty","price":9.99,"discountPercentage":7.17,"rating":4.94,"stock":5,"tags":["beauty","mascara"],"brand":"Essence","sku":"RCH45Q1A","dimensions":{"width":23.17},"meta":{"createdAt":"2024-05-23T08:56:21.618Z","updatedAt":"2024-05-23T08:56:21.618Z"}}],"total":194,"skip":0,"limit":1}"#;
        let (b, r) = read("products", "products-page-1.json", page.as_bytes()).unwrap();
        assert_eq!(column(&b, "product_id"), [Some("1".into())]);
        assert_eq!(column(&b, "name"), [Some("Essence Mascara".into())]);
        assert_eq!(column(&b, "price"), [Some("9.99".into())]);
        assert_eq!(
            column(&b, "updated_at"),
            [Some("2024-05-23T08:56:21.618Z".into())]
        );
        assert!(r.unknown_fields.contains("tags"));
        assert!(r.unknown_fields.contains("dimensions.width"));
        let extra = column(&b, EXTRA_COLUMN)[0].clone().unwrap();
        assert!(extra.contains("mascara"), "{extra}");
    }

    #[test]
    fn reads_fakestore_products_as_a_plain_array() {
        let body = r#"[{"id":1,"title":"Fjallraven Backpack","price":109.95,"description":"x","category":"men's clothing","image":"https://i","rating":{"rate":3.9,"count":120}}]"#;
        let (b, r) = read("products", "fakestore.json", body.as_bytes()).unwrap();
        assert_eq!(column(&b, "rating"), [Some("3.9".into())]);
        assert_eq!(column(&b, "category"), [Some("men's clothing".into())]);
        assert!(r.unknown_fields.contains("rating.count"));
    }

    #[test]
    fn reads_a_single_json_object_as_one_record() {
        let body = r#"{ "product_id": "P456", "name": "Wireless Mouse", "category": "Electronics", "price": 99.99, "stock": 150 }"#;
        let (b, _) = read("products", "product.json", body.as_bytes()).unwrap();
        assert_eq!(column(&b, "product_id"), [Some("P456".into())]);
    }

    #[test]
    fn drops_secret_fields_of_dummyjson_users() {
        let body = r#"{"users":[{"id":1,"firstName":"Emily","lastName":"Johnson","email":"emily.johnson@x.dummyjson.com","phone":"+81 965-431-3024","password":"emilyspass","birthDate":"1996-5-30","address":{"city":"Phoenix","country":"United States"},"bank":{"cardNumber":"9289760655481815","iban":"YPUXISOBI7TTHPK2BR3HAIXL","currency":"CNY"},"ssn":"900-590-289","crypto":{"wallet":"0xb9fc2fe63b2a6c003f1c324c3bfa53259162181a"}}],"total":208,"skip":0,"limit":1}"#;
        let (b, r) = read("customers", "users.json", body.as_bytes()).unwrap();
        assert_eq!(column(&b, "first_name"), [Some("Emily".into())]);
        assert_eq!(column(&b, "city"), [Some("Phoenix".into())]);
        assert_eq!(column(&b, "country"), [Some("United States".into())]);
        for secret in [
            "password",
            "bank.cardNumber",
            "bank.iban",
            "ssn",
            "crypto.wallet",
        ] {
            assert!(
                r.secret_fields_dropped.contains(secret),
                "{secret} not dropped"
            );
        }
        let everything = format!("{:?}", b);
        for value in [
            "emilyspass",
            "9289760655481815",
            "YPUXISOBI7TTHPK2BR3HAIXL",
            "900-590-289",
            "0xb9fc2fe6",
        ] {
            assert!(!everything.contains(value), "{value} leaked");
        }
        assert!(
            column(&b, EXTRA_COLUMN)[0]
                .as_deref()
                .unwrap()
                .contains("CNY")
        );
    }

    #[test]
    fn reads_json_lines_and_flags_a_bad_line() {
        let body = "{\"event_id\":\"E1\",\"session_id\":\"S\",\"event_type\":\"page_view\",\"timestamp\":\"2024-01-01T00:00:00Z\"}\n\n{not json}\n[1]\n";
        let (b, r) = read("clickstream", "clickstream.jsonl", body.as_bytes()).unwrap();
        assert_eq!(r.records, 3);
        let errors = column(&b, READ_ERROR_COLUMN);
        assert_eq!(errors[0], None);
        assert!(errors[1].as_deref().unwrap().contains("not a JSON value"));
        assert!(errors[2].as_deref().unwrap().contains("not a JSON object"));
    }

    #[test]
    fn records_each_with_fields_of_their_own_are_placed_alike_past_the_remembered_paths() {
        // More distinct paths than the reader remembers: the later ones are worked out per
        // field and still land where the earlier ones did (kept column, `_extra`, dropped).
        let n = MAX_REMEMBERED_PATHS + 500;
        let mut body = String::new();
        for i in 0..n {
            body.push_str(&format!(
                "{{\"event_id\":\"E{i}\",\"ctx\":{{\"f{i}\":{i}}},\"cred{i}\":{{\"password\":\"s{i}\"}},\"session_id\":\"S{i}\",\"event_type\":\"view\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"apiKey\":\"t{i}\"}}\n"
            ));
        }
        let (b, r) = read("clickstream", "clickstream.jsonl", body.as_bytes()).unwrap();
        assert_eq!(r.records, n as u64);
        let ids = column(&b, "event_id");
        let extra = column(&b, EXTRA_COLUMN);
        for i in [0, n / 2, n - 1] {
            assert_eq!(ids[i].as_deref(), Some(format!("E{i}").as_str()));
            let e = extra[i].as_deref().unwrap_or_default();
            assert!(e.contains(&format!("\"ctx.f{i}\":{i}")), "{e}");
            assert!(
                !e.contains(&format!("s{i}\"")) && !e.contains(&format!("t{i}\"")),
                "{e}"
            );
        }
        assert!(r.unknown_fields.contains(&format!("ctx.f{}", n - 1)));
        assert!(
            r.secret_fields_dropped
                .contains(&format!("cred{}.password", n - 1))
        );
        assert!(r.secret_fields_dropped.contains("apiKey"));
        assert_eq!(r.unknown_fields.len(), n, "one unknown path per record");
        assert_eq!(r.secret_fields_dropped.len(), n + 1);
    }

    #[test]
    fn drops_secrets_nested_in_arrays_at_any_depth() {
        let body = r#"[{"id": "C1", "email": "a@b.co",
            "cards": [{"cardNumber": "4111111111111111", "holder": "Ana"}],
            "accounts": [{"iban": "DE89370400440532013000", "bank": {"name": "B", "pin": {"password": "hunter2"}}}],
            "orders": [[{"apiKey": "k-123", "sku": "S1"}]]}]"#;
        let (b, report) = read("customers", "customers.json", body.as_bytes()).unwrap();
        let extra = column(&b, EXTRA_COLUMN)[0].clone().unwrap();
        for secret in [
            "4111111111111111",
            "DE89370400440532013000",
            "hunter2",
            "k-123",
        ] {
            assert!(!extra.contains(secret), "{secret} kept in {extra}");
        }
        // What is not secret stays, so nothing else is lost.
        assert!(extra.contains("Ana") && extra.contains("S1"), "{extra}");
        assert!(
            report.secret_fields_dropped.contains("cards[].cardNumber"),
            "{:?}",
            report.secret_fields_dropped
        );
        assert!(report.secret_fields_dropped.contains("accounts[].iban"));
    }

    #[test]
    fn redacts_secrets_in_records_that_cannot_be_parsed() {
        let body = "{\"id\":0,\"email\":\"z@b.co\"}\n{\"id\":1,\"email\":\"a@b.co\",\"password\":\"hunter22\",\"bank\":{\"cardNumber\":\"4111111111111111\"}\n";
        let (b, _) = read("customers", "users.jsonl", body.as_bytes()).unwrap();
        let extra = column(&b, EXTRA_COLUMN)[1].clone().unwrap();
        assert!(
            !extra.contains("hunter22") && !extra.contains("4111111111111111"),
            "{extra}"
        );
        assert!(
            extra.contains("a@b.co") && extra.contains("[redacted]"),
            "{extra}"
        );
        let csv = "customer_id,email,password\nC1,a@b.co,pw1,shifted\n";
        let (b, _) = read("customers", "customers.csv", csv.as_bytes()).unwrap();
        let extra = column(&b, EXTRA_COLUMN)[0].clone().unwrap();
        assert!(!extra.contains("pw1"), "{extra}");
    }

    #[test]
    fn quarantines_json_that_is_not_json() {
        let err = read("products", "products.json", b"id,title\n1,x\n").unwrap_err();
        assert!(
            matches!(
                err,
                Unreadable::NotFormat {
                    format: Format::Json,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn quarantines_truncated_json() {
        let err = read(
            "products",
            "products.json",
            br#"{"products":[{"id":1,"title":"a""#,
        )
        .unwrap_err();
        assert!(matches!(err, Unreadable::NotFormat { .. }), "{err:?}");
    }

    #[test]
    fn quarantines_csv_missing_a_required_column() {
        let err = read(
            "transactions",
            "t.csv",
            b"transaction_id,customer_id,quantity,transaction_date\nT,C,1,2024-01-01\n",
        )
        .unwrap_err();
        match err {
            Unreadable::MissingRequiredColumn { column, accepted } => {
                assert_eq!(column, "product_id");
                assert!(accepted.contains("productId"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quarantines_json_whose_records_lack_a_required_column() {
        let err = read("products", "products.json", br#"[{"foo":1},{"bar":2}]"#).unwrap_err();
        assert!(
            matches!(err, Unreadable::MissingRequiredColumn { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_row_that_is_not_utf8_is_one_malformed_row_and_a_bad_header_refuses_the_file() {
        let mut bytes =
            b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",P,1,2024-01-01\nT2,C2,P,1,2024-01-01\n");
        let (batches, report) = read("transactions", "t.csv", &bytes).unwrap();
        assert_eq!(report.records, 2);
        let errors: Vec<_> = column(&batches, READ_ERROR_COLUMN)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("not UTF-8"), "{}", errors[0]);
        assert_eq!(column(&batches, "transaction_id")[1].as_deref(), Some("T2"));
        let err = read("transactions", "t.csv", b"transaction_id,\xff\n").unwrap_err();
        assert!(matches!(err, Unreadable::BadEncoding { .. }), "{err:?}");
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
    fn higher_priority_alias_wins_when_two_headers_map_to_one_column() {
        let csv = "id,transaction_id,customer_id,product_id,quantity,transaction_date\nX,T1,C,P,1,2024-01-01\n";
        let (b, r) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(column(&b, "transaction_id"), [Some("T1".into())]);
        assert!(r.unknown_fields.contains("id"));
    }

    fn read_with(
        contract: &Contract,
        name: &str,
        input: impl Read,
    ) -> Result<(Vec<RecordBatch>, ReadReport), Unreadable> {
        read_rows(contract, name, input, 4096)
    }

    fn limited(dataset: &str, edit: impl FnOnce(&mut FilePolicy)) -> Contract {
        let set = ContractSet::defaults().unwrap();
        let mut contract = set.get(dataset).unwrap().clone();
        edit(&mut contract.file);
        contract
    }

    use crate::contract::FilePolicy;

    #[test]
    fn an_unclosed_quote_early_in_a_csv_costs_one_row_and_the_ten_thousand_after_it_are_read() {
        let mut csv = String::from(
            "transaction_id,customer_id,product_id,quantity,amount,transaction_date\n",
        );
        csv.push_str("T0,C0,\"P0,1,9.99,2024-03-15 10:00:00\n");
        for i in 1..=10_000 {
            csv.push_str(&format!("T{i},C{i},P{i},1,9.99,2024-03-15 10:00:00\n"));
        }
        let (batches, report) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(report.records, 10_001);
        let errors: Vec<_> = column(&batches, READ_ERROR_COLUMN)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("line 2") && errors[0].contains("unclosed quote"),
            "{}",
            errors[0]
        );
        let ids = column(&batches, "transaction_id");
        assert_eq!(ids.iter().flatten().count(), 10_000);
        assert_eq!(ids[1].as_deref(), Some("T1"));
        assert_eq!(ids[10_000].as_deref(), Some("T10000"));
    }

    #[test]
    fn a_json_line_cut_at_the_limit_inside_a_character_is_one_malformed_row() {
        let contract = limited("clickstream", |f| f.max_record_bytes = Some(4096));
        // 4095 ASCII bytes then "é" (2 bytes): the cut at 4096 falls inside the character.
        let mut long = String::from("{\"event_id\":\"");
        while long.len() < 4095 {
            long.push('x');
        }
        long.push_str("é\"}");
        let good = r#"{"event_id":"e2","session_id":"s","event_type":"page_view","event_time":"2024-03-15T10:00:00Z"}"#;
        let text = format!("{good}\n{long}\n{good}\n");
        let (batches, report) = read_with(&contract, "c.jsonl", text.as_bytes()).unwrap();
        assert_eq!(report.records, 3);
        let errors: Vec<_> = column(&batches, READ_ERROR_COLUMN)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("max_record_bytes"), "{}", errors[0]);
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
        let mut csv = String::from(
            "transaction_id,customer_id,product_id,quantity,amount,transaction_date\n",
        );
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

    #[test]
    fn a_csv_of_zeros_without_a_newline_is_refused_in_bounded_memory() {
        let contract = limited("transactions", |f| f.max_record_bytes = Some(64 * 1024));
        let zeros = std::io::repeat(0).take(50 * 1024 * 1024);
        let err = read_with(&contract, "t.csv", zeros).unwrap_err();
        assert!(matches!(err, Unreadable::NotFormat { .. }), "{err:?}");
        assert!(err.to_string().contains("max_record_bytes"), "{err}");
    }

    #[test]
    fn a_header_wider_than_max_columns_is_refused() {
        let contract = limited("transactions", |f| f.max_columns = Some(8));
        let header: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let err = read_with(
            &contract,
            "t.csv",
            format!("{}\n", header.join(",")).as_bytes(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("max_columns"), "{err}");
    }

    #[test]
    fn a_json_array_element_over_the_record_limit_ends_the_read() {
        let contract = limited("products", |f| f.max_record_bytes = Some(1024));
        let huge = "d".repeat(2 * 1024 * 1024);
        let body =
            format!(r#"[{{"id":1,"title":"a","price":1}},{{"id":2,"title":"{huge}","price":1}}]"#);
        let err = read_with(&contract, "p.json", body.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Unreadable::Limit(LimitExceeded::Record { limit: 1024 })
            ),
            "{err:?}"
        );
    }
}
