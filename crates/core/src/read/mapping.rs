//! Source field names onto a contract's columns: [`ColumnMapper`] resolves a CSV header or a
//! dotted JSON path to a kept column through the aliases, to dropped when the contract or the
//! name says it is secret, or to unknown (kept in `_extra`), and redacts secret-looking values
//! in text that cannot be parsed.

use std::collections::{BTreeSet, HashMap};

use crate::contract::{Classification, Contract, looks_secret, normalize_name};

/// Where a source field goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
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
    /// Every normalised column name and alias (secret columns' too), with its slot.
    by_name: HashMap<String, Slot>,
    /// The kept columns' canonical names, in contract order (a slot's index points here).
    pub(super) kept: Vec<String>,
    /// The required columns: kept index, canonical name, and the names accepted for it.
    pub(super) required: Vec<(usize, String, String)>,
    /// Normalised names of the fields that may hold a JSON object's records.
    pub(super) record_fields: Vec<String>,
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

    /// The mapper of a contract's columns: each column's name, then its aliases, normalised, to
    /// its kept column (the earlier one wins when two source fields name one column), and
    /// secret columns' names to being dropped.
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

    /// Where a source field (a header, or a dotted JSON path) goes: a contract column by name
    /// or alias, else dropped if its name looks secret, else unknown.
    pub(super) fn slot(&self, source: &str) -> Slot {
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

    /// Number of kept (not secret) columns: how many values one record has.
    pub fn width(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use crate::read::EXTRA_COLUMN;
    use crate::read::tests::{column, read};

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
}
