//! CSV (or `;`, tab, `|` delimited) text with a header row into raw records: the delimiter
//! sniffed from the header, header names resolved to columns (the higher-priority alias wins
//! when two name one column), and a row that cannot be aligned with the header or is not
//! UTF-8 kept as one malformed record rather than ending the read.

use std::collections::HashMap;
use std::io::BufRead;

use serde_json::Value;

use super::batch::BatchBuilder;
use super::mapping::Slot;
use super::{ColumnMapper, Format, ReadFailure, ReadReport, Unreadable, delimited, io_unreadable};
use crate::contract::ReadLimits;

/// The delimiter of the header line: whichever of `,` `;` tab `|` it holds most of (`,` on a
/// tie).
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

/// Reads delimited text with a header row: resolves the header through the mapper (the file is
/// unreadable when a required column is missing), then scans records with the recovering
/// [`delimited::Scanner`], one malformed row per defect.
pub(super) fn read_csv<E>(
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::read::READ_ERROR_COLUMN;
    use crate::read::tests::{SEED_A, SEED_B, column, limited, read, read_errors, read_with};

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
    fn flags_a_csv_row_with_the_wrong_field_count() {
        let csv = "transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1\nT2,C2,P2,2,2024-01-02\n";
        let (b, _) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        let errors = column(&b, READ_ERROR_COLUMN);
        assert!(errors[0].as_deref().unwrap().contains("4 fields"));
        assert_eq!(errors[1], None);
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
    fn a_row_that_is_not_utf8_is_one_malformed_row_and_a_bad_header_refuses_the_file() {
        let mut bytes =
            b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",P,1,2024-01-01\nT2,C2,P,1,2024-01-01\n");
        let (batches, report) = read("transactions", "t.csv", &bytes).unwrap();
        assert_eq!(report.records, 2);
        let errors = read_errors(&batches);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("not UTF-8"), "{}", errors[0]);
        assert_eq!(column(&batches, "transaction_id")[1].as_deref(), Some("T2"));
        let err = read("transactions", "t.csv", b"transaction_id,\xff\n").unwrap_err();
        assert!(matches!(err, Unreadable::BadEncoding { .. }), "{err:?}");
    }

    #[test]
    fn higher_priority_alias_wins_when_two_headers_map_to_one_column() {
        let csv = "id,transaction_id,customer_id,product_id,quantity,transaction_date\nX,T1,C,P,1,2024-01-01\n";
        let (b, r) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(column(&b, "transaction_id"), [Some("T1".into())]);
        assert!(r.unknown_fields.contains("id"));
    }

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
        let errors = read_errors(&batches);
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
}
