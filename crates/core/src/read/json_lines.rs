//! JSON lines (one JSON object per line) into raw records, each line bounded by the contract's
//! `max_record_bytes`: a bad line costs that line, and a file whose first lines are all bad is
//! refused as not JSON lines.

use std::io::{BufRead, Read};

use serde_json::Value;

use super::batch::BatchBuilder;
use super::flatten::{Placer, push_json_value};
use super::{ColumnMapper, Format, ReadFailure, ReadReport, Unreadable, io_unreadable};
use crate::contract::ReadLimits;

/// Reads one JSON value per line: blank lines are skipped; a line that is too long, not UTF-8
/// or not JSON is one malformed record; a file whose first lines are all bad is not JSON
/// lines at all.
pub(super) fn read_json_lines<E>(
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
            failed_lines += 1;
            let reason = format!("line longer than the contract's max_record_bytes ({max} bytes)");
            push_malformed(builder, &mut placer, report, row, None, &reason)?;
            continue;
        }
        let text_line = match std::str::from_utf8(trimmed) {
            Ok(t) => t,
            Err(e) => {
                failed_lines += 1;
                let reason = format!("line {row}: not UTF-8 text ({e})");
                push_malformed(builder, &mut placer, report, row, None, &reason)?;
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
                failed_lines += 1;
                let raw = serde_json::json!({ "line": mapper.redact(text_line) }).to_string();
                let reason = format!("not a JSON value: {e}");
                push_malformed(builder, &mut placer, report, row, Some(&raw), &reason)?;
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

/// Pushes line `row`, which holds no JSON value, as one malformed record: its raw text in the
/// extra column when there is any to keep (`raw`), and `reason` as its read error.
fn push_malformed<E>(
    builder: &mut BatchBuilder<'_, E>,
    placer: &mut Placer,
    report: &mut ReadReport,
    row: u64,
    raw: Option<&str>,
    reason: &str,
) -> Result<(), ReadFailure<E>> {
    report.records += 1;
    builder.push(row, &mut placer.values, raw, Some(reason))
}

#[cfg(test)]
mod tests {
    use crate::read::READ_ERROR_COLUMN;
    use crate::read::tests::{column, limited, read, read_errors, read_with};

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
        let errors = read_errors(&batches);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("max_record_bytes"), "{}", errors[0]);
    }
}
