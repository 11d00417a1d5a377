//! JSON records onto the contract's columns, for the JSON and JSON lines readers: nested objects
//! are flattened to dotted paths (`meta.updatedAt`), each path's slot worked out once per file,
//! scalar values taken as text, secret fields dropped at any depth (inside arrays too), and
//! unknown fields kept as one JSON object for `_extra`.

use std::collections::HashMap;

use serde_json::Value;

use super::batch::BatchBuilder;
use super::mapping::Slot;
use super::{ColumnMapper, ReadFailure, ReadReport};

/// Field paths whose slot a reader remembers (past it, a slot is worked out per field): a file
/// whose every record has fields of its own cannot grow the memory without bound.
const MAX_REMEMBERED_PATHS: usize = 4096;

/// Flattens JSON records into the kept columns and `_extra`, one record at a time. Each field
/// path's slot (kept column, secret, unknown) is worked out once per file and remembered with
/// whether the report has recorded it, so a record of known fields costs one hash lookup per
/// field and no allocation but its values (which move out of the parsed record).
pub(super) struct Placer {
    /// The current record's value per kept column.
    pub(super) values: Vec<Option<String>>,
    /// The alias priority that set each value (lower wins).
    priorities: Vec<usize>,
    /// Slot, and whether the report has it, per field path seen.
    paths: HashMap<String, (Slot, bool)>,
    /// The path of the field being placed (`a.b` for `b` inside `a`).
    path: String,
}

impl Placer {
    /// A placer for records of `width` kept columns.
    pub(super) fn new(width: usize) -> Self {
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

/// A JSON value as a column's raw text: strings as they are, other scalars as written, arrays
/// and objects as JSON; `None` for null and the empty string.
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

/// Adds one parsed JSON value as a record: an object is placed field by field, anything else
/// is a malformed record (its text kept, secrets redacted).
pub(super) fn push_json_value<E>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::EXTRA_COLUMN;
    use crate::read::tests::{column, read};

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
}
