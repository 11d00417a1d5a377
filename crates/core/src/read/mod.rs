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
//!
//! Where things are: [`read_records`] sniffs compression and format and hands the text
//! to the reader for its format (`csv`, `json`, `json_lines`); `mapping` resolves field names
//! to columns ([`ColumnMapper`]), `flatten` places JSON records on them, `batch` builds the raw
//! batches ([`raw_schema`]), `outcome` holds what a read ends with ([`ReadReport`],
//! [`Unreadable`]), `guard` the byte budgets and `delimited` the recovering CSV scanner.

mod batch;
mod csv;
mod delimited;
mod flatten;
mod guard;
mod json;
mod json_lines;
mod mapping;
mod outcome;
#[cfg(test)]
mod tests;

use std::io::{BufRead, BufReader, Read};

use arrow::array::RecordBatch;

use self::batch::BatchBuilder;
use self::csv::read_csv;
use self::json::read_json;
use self::json_lines::read_json_lines;
use crate::contract::Contract;

pub use batch::raw_schema;
pub use guard::LimitExceeded;
pub use mapping::ColumnMapper;
pub use outcome::{Compression, Format, ReadFailure, ReadReport, Unreadable};

/// Records per batch unless the caller sets another size (`IngestOptions::batch_rows`, the
/// transformer's `BATCH_ROWS`): bounds the memory one file takes while it is read, validated
/// and written.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// Raw batches' column of the fields the contract does not know, one JSON object per record
/// (null when the record has none): schema drift, kept in bronze. For a record that could not
/// be read, what can be shown of its text instead (secrets withheld or redacted).
pub const EXTRA_COLUMN: &str = "_extra";
/// Raw batches' column of each record's 1-based position in the file (never null).
pub const ROW_NUMBER_COLUMN: &str = "_row_number";
/// Raw batches' column of why a record could not be read on its own (null for a readable
/// record); the validator rejects such rows under `{dataset}.row.malformed`.
pub const READ_ERROR_COLUMN: &str = "_read_error";

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

/// An I/O error while reading as the reason the file is unreadable: a spent read limit, text
/// that is not UTF-8, or the bytes themselves (a corrupt gzip stream).
pub(super) fn io_unreadable(e: std::io::Error) -> Unreadable {
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

/// The first two bytes of every gzip member.
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

/// Skips a UTF-8 byte order mark at the start of the text.
fn skip_bom(reader: &mut impl BufRead) -> Result<(), Unreadable> {
    let head = reader.fill_buf().map_err(io_unreadable)?;
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        reader.consume(3);
    }
    Ok(())
}

/// The first byte that is not ASCII white space (consuming the white space); `None` for an
/// empty or blank file.
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
