//! Validation: a contract applied to raw batches.
//!
//! [`Validator::validate`] takes one raw batch (see [`crate::read::raw_schema`]) and returns the
//! rows that passed as a typed Arrow batch (the silver columns, in contract order, plus
//! `_row_number`), each valid row's event date, and every rejected row with the rule that
//! failed and a human reason. Nothing is dropped silently: every input row ends up valid,
//! rejected, or counted as an exact duplicate of an earlier valid row.
//!
//! Rules are evaluated column by column in contract order; within a column: not-null, type,
//! then the column's `[[rules]]` in file order. The first failing `reject` rule decides the
//! row's quarantine rule; `warn` rules are counted for rows that are kept; a failing
//! `fail_file` rule marks the whole file for quarantine.
//!
//! Business-key handling (the `primary_key`): the first valid row with a key is kept; a later
//! row with the same key and identical content is an exact duplicate (removed and counted); a
//! later row with the same key and different content is rejected under `{dataset}.{key}.unique`.

pub mod keys;
pub mod parse;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::contract::{
    AllowedValues, Check, Column, ColumnType, Contract, ContractError, Rule, Severity,
    parse_timezone,
};
use crate::read::{EXTRA_COLUMN, READ_ERROR_COLUMN, ROW_NUMBER_COLUMN};

/// Errors of the validation stage (never about the data itself: bad data is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The contract cannot be compiled.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// A raw batch does not have the raw schema of the contract.
    #[error("raw batch is missing column {0:?}")]
    MissingRawColumn(String),
    /// Building an Arrow batch failed.
    #[error("building the typed batch")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The in-file key set could not spill to, or read from, its run files.
    #[error("spilling the file's key set to disk")]
    KeySpill(#[source] std::io::Error),
}

/// The Arrow type of a contract column in silver.
pub fn arrow_type(column: &Column) -> DataType {
    match column.column_type {
        ColumnType::String => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Decimal => DataType::Decimal128(18, column.decimal_scale()),
        ColumnType::Float => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// The schema of typed batches (silver without the lineage constants).
pub fn typed_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = contract
        .kept_columns()
        .map(|c| Field::new(&c.name, arrow_type(c), !c.required))
        .collect();
    fields.push(Field::new(ROW_NUMBER_COLUMN, DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// Values of referenced datasets, for `references` rules.
#[derive(Debug, Default, Clone)]
pub struct ReferenceSets {
    sets: HashMap<(String, String), HashSet<String>>,
}

impl ReferenceSets {
    /// Adds the known values of `dataset.column`.
    pub fn insert(&mut self, dataset: &str, column: &str, values: HashSet<String>) {
        self.sets
            .entry((dataset.to_string(), column.to_string()))
            .or_default()
            .extend(values);
    }

    /// The known values of `dataset.column`, if that dataset is present.
    pub fn get(&self, dataset: &str, column: &str) -> Option<&HashSet<String>> {
        self.sets.get(&(dataset.to_string(), column.to_string()))
    }

    /// The `(dataset, column)` pairs a contract's reference rules need.
    pub fn needed(contract: &Contract) -> Vec<(String, String)> {
        contract
            .rules
            .iter()
            .filter_map(|r| match &r.check {
                Check::References { dataset, column } => Some((dataset.clone(), column.clone())),
                _ => None,
            })
            .collect()
    }
}

/// A row sent to quarantine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedRow {
    /// 1-based position in the source file.
    pub row_number: i64,
    /// The id of the rule that failed (`transactions.quantity.positive`), including the
    /// built-in ones (`{dataset}.row.malformed`, `{dataset}.{column}.not_null`, ...).
    pub rule_id: String,
    /// `reject`, or `fail_file` for a row a `fail_file` rule fired on; never `warn` (a
    /// warning keeps the row).
    pub severity: Severity,
    /// The column checked, if the rule is about one.
    pub column: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// The raw record as read (secrets already removed), as a JSON object.
    pub raw_record: String,
}

/// A `fail_file` rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileFailure {
    /// The id of the `fail_file` rule (the first one that fired in the file).
    pub rule_id: String,
    /// Why, naming the first offending row.
    pub reason: String,
}

/// Counts accumulated over all batches of one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValidationCounts {
    /// Records read: `rows_valid + rows_rejected + duplicates_removed`.
    pub rows_in: u64,
    /// Rows kept for silver (warnings included, duplicates not).
    pub rows_valid: u64,
    /// Rows rejected (quarantined).
    pub rows_rejected: u64,
    /// Exact duplicates of earlier valid rows, removed.
    pub duplicates_removed: u64,
    /// Rejected rows by rule id.
    pub rejected_by_rule: BTreeMap<String, u64>,
    /// Kept rows with warnings, by rule id.
    pub warnings_by_rule: BTreeMap<String, u64>,
    /// Reference rules not evaluated because the referenced dataset is absent.
    pub skipped_rules: Vec<String>,
}

/// The result of validating one raw batch.
#[derive(Debug)]
pub struct ValidatedBatch {
    /// Valid rows, typed ([`typed_schema`]).
    pub valid: RecordBatch,
    /// Each valid row's event date (days since epoch), when the contract has an event time.
    pub event_days: Option<Vec<i32>>,
    /// The batch's rejected rows, one per row: the first rule it failed.
    pub rejected: Vec<RejectedRow>,
}

enum Values {
    /// A string column is its raw array: a value is its text trimmed, empty text is missing.
    Str(StringArray),
    Int(Vec<Option<i64>>),
    Dec(Vec<Option<i128>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Ts(Vec<Option<i64>>),
}

impl Values {
    fn is_some(&self, i: usize) -> bool {
        match self {
            Values::Str(v) => v.is_valid(i) && !v.value(i).trim().is_empty(),
            Values::Int(v) => v[i].is_some(),
            Values::Dec(v) => v[i].is_some(),
            Values::Float(v) => v[i].is_some(),
            Values::Bool(v) => v[i].is_some(),
            Values::Date(v) => v[i].is_some(),
            Values::Ts(v) => v[i].is_some(),
        }
    }

    /// The day (since the epoch, UTC) of a date or timestamp value.
    fn day(&self, i: usize) -> Option<i32> {
        match self {
            Values::Date(v) => v[i],
            Values::Ts(v) => v[i].and_then(|us| i32::try_from(us.div_euclid(86_400_000_000)).ok()),
            _ => None,
        }
    }

    fn number(&self, i: usize, scale: i8) -> Option<f64> {
        match self {
            Values::Int(v) => v[i].map(|x| x as f64),
            Values::Dec(v) => v[i].map(|x| x as f64 / 10f64.powi(i32::from(scale))),
            Values::Float(v) => v[i],
            _ => None,
        }
    }
}

/// Validates raw batches of one file against a contract.
#[derive(Debug)]
pub struct Validator {
    contract: Contract,
    /// Each kept column's `[[rules]]`, in file order, without the `references` rules whose
    /// dataset has no values to look in.
    rules_by_column: Vec<Vec<Rule>>,
    /// The day (since the epoch, UTC) the validator was built: `date_range` rules count
    /// `max_days_ahead` from it, one day for the whole file.
    today: i32,
    tz: FixedOffset,
    references: ReferenceSets,
    seen_keys: keys::KeySet,
    counts: ValidationCounts,
    file_failure: Option<FileFailure>,
    schema: SchemaRef,
    kept: Vec<Column>,
    pk_indices: Vec<usize>,
    event_index: Option<usize>,
    /// Each kept column's date or timestamp formats, compiled once (`None` for other types).
    time_formats: Vec<Option<parse::TimeFormats>>,
}

impl Validator {
    /// Builds a validator for one file.
    pub fn new(contract: &Contract, references: ReferenceSets) -> Result<Self, ValidateError> {
        let kept: Vec<Column> = contract.kept_columns().cloned().collect();
        let mut rules_by_column = vec![Vec::new(); kept.len()];
        let mut skipped = Vec::new();
        for rule in &contract.rules {
            let Some(idx) = kept.iter().position(|c| c.name == rule.column) else {
                continue;
            };
            if let Check::References { dataset, column } = &rule.check
                && references.get(dataset, column).is_none()
            {
                skipped.push(rule.id.clone());
                continue;
            }
            rules_by_column[idx].push(rule.clone());
        }
        let tz = parse_timezone(contract.timezone.as_deref()).map_err(|problem| {
            ContractError::Invalid {
                dataset: contract.dataset.clone(),
                problem,
            }
        })?;
        // The key that must be unique within a file: the primary key, and the version for a
        // contract whose silver keeps every version of a key.
        let version = contract
            .version_column
            .iter()
            .filter(|_| contract.keep_versions);
        let pk_indices = contract
            .primary_key
            .iter()
            .chain(version)
            .filter_map(|k| kept.iter().position(|c| &c.name == k))
            .collect();
        let event_index = contract
            .event_time
            .as_ref()
            .and_then(|e| kept.iter().position(|c| &c.name == e));
        let time_formats = kept
            .iter()
            .map(|c| {
                matches!(c.column_type, ColumnType::Date | ColumnType::Timestamp)
                    .then(|| parse::TimeFormats::compile(&c.formats, tz))
            })
            .collect();
        Ok(Self {
            contract: contract.clone(),
            rules_by_column,
            today: parse::days_since_epoch(chrono::Utc::now().date_naive()),
            tz,
            references,
            seen_keys: keys::KeySet::new(keys::KeyBudget::default()),
            counts: ValidationCounts {
                skipped_rules: skipped,
                ..ValidationCounts::default()
            },
            file_failure: None,
            schema: typed_schema(contract),
            kept,
            pk_indices,
            event_index,
            time_formats,
        })
    }

    /// Holds the file's key set within `budget` (the default: 450,000 keys in memory, the
    /// rest spilled to the system's temporary directory).
    pub fn with_key_budget(mut self, budget: keys::KeyBudget) -> Self {
        self.seen_keys = keys::KeySet::new(budget);
        self
    }

    /// Counts over every batch validated so far (the whole file once the last one is in).
    pub fn counts(&self) -> &ValidationCounts {
        &self.counts
    }

    /// The first `fail_file` rule that fired, if any.
    pub fn file_failure(&self) -> Option<&FileFailure> {
        self.file_failure.as_ref()
    }

    /// The typed schema produced.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn parse_column(
        &self,
        column: &Column,
        formats: Option<&parse::TimeFormats>,
        raw: &StringArray,
    ) -> (Values, Vec<bool>) {
        let n = raw.len();
        let mut failed = vec![false; n];
        let text = |i: usize| -> Option<&str> {
            if raw.is_null(i) {
                return None;
            }
            let t = raw.value(i).trim();
            (!t.is_empty()).then_some(t)
        };
        // Compiled in `new` for every date and timestamp column; compiled here only for a
        // column the validator was not built with.
        let own;
        let compiled = match formats {
            Some(f) => f,
            None => {
                own = parse::TimeFormats::compile(&column.formats, self.tz);
                &own
            }
        };
        macro_rules! parse_all {
            ($variant:ident, $f:expr) => {{
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    match text(i) {
                        None => out.push(None),
                        Some(t) => {
                            let v = $f(t);
                            if v.is_none() {
                                failed[i] = true;
                            }
                            out.push(v);
                        }
                    }
                }
                Values::$variant(out)
            }};
        }
        let values = match column.column_type {
            ColumnType::String => Values::Str(raw.clone()),
            ColumnType::Integer => parse_all!(Int, parse::parse_integer),
            ColumnType::Decimal => {
                let scale = column.decimal_scale();
                parse_all!(Dec, |t| parse::parse_decimal(t, scale))
            }
            ColumnType::Float => parse_all!(Float, parse::parse_float),
            ColumnType::Boolean => parse_all!(Bool, parse::parse_boolean),
            ColumnType::Date => parse_all!(Date, |t| compiled.date(t)),
            ColumnType::Timestamp => parse_all!(Ts, |t| compiled.timestamp(t)),
        };
        (values, failed)
    }

    /// Validates one raw batch, of the contract's raw schema (else
    /// [`ValidateError::MissingRawColumn`]); a row's primary key is compared with those of the
    /// file's earlier rows, in this batch and the ones before.
    pub fn validate(&mut self, raw: &RecordBatch) -> Result<ValidatedBatch, ValidateError> {
        let n = raw.num_rows();
        let get = |name: &str| {
            raw.column_by_name(name)
                .ok_or_else(|| ValidateError::MissingRawColumn(name.to_string()))
        };
        let row_numbers = get(ROW_NUMBER_COLUMN)?.as_primitive::<Int64Type>().clone();
        let read_errors = get(READ_ERROR_COLUMN)?.as_string::<i32>().clone();
        let extra = get(EXTRA_COLUMN)?.as_string::<i32>().clone();
        let mut raws: Vec<StringArray> = Vec::with_capacity(self.kept.len());
        for column in &self.kept {
            raws.push(get(&column.name)?.as_string::<i32>().clone());
        }
        let parsed: Vec<(Values, Vec<bool>)> = self
            .kept
            .iter()
            .zip(&raws)
            .zip(&self.time_formats)
            .map(|((c, r), f)| self.parse_column(c, f.as_ref(), r))
            .collect();

        let mut keep = vec![false; n];
        let mut rejected = Vec::new();
        self.counts.rows_in += n as u64;
        for i in 0..n {
            let row_number = row_numbers.value(i);
            let reject_as = |severity: Severity,
                             rule_id: String,
                             column: Option<&str>,
                             reason: String| RejectedRow {
                row_number,
                rule_id,
                severity,
                column: column.map(str::to_string),
                reason,
                raw_record: raw_record_json(&self.kept, &raws, &extra, &read_errors, i),
            };
            let reject = |rule_id: String, column: Option<&str>, reason: String| {
                reject_as(Severity::Reject, rule_id, column, reason)
            };
            if read_errors.is_valid(i) {
                rejected.push(reject(
                    self.contract.malformed_rule(),
                    None,
                    read_errors.value(i).to_string(),
                ));
                continue;
            }
            let mut verdict: Option<RejectedRow> = None;
            let mut warnings: Vec<&str> = Vec::new();
            'columns: for (idx, column) in self.kept.iter().enumerate() {
                let raw_text = (raws[idx].is_valid(i))
                    .then(|| raws[idx].value(i).trim())
                    .filter(|t| !t.is_empty());
                let (values, failed) = &parsed[idx];
                if column.required && raw_text.is_none() {
                    verdict = Some(reject(
                        self.contract.not_null_rule(&column.name),
                        Some(&column.name),
                        format!("{} is missing", column.name),
                    ));
                    break 'columns;
                }
                if failed[i] {
                    let value = raw_text.unwrap_or_default();
                    let accepted = if column.formats.is_empty() {
                        String::new()
                    } else {
                        format!(" (accepted formats: {})", column.formats.join(", "))
                    };
                    verdict = Some(reject(
                        self.contract.type_rule(&column.name),
                        Some(&column.name),
                        format!(
                            "{} {value:?} is not a valid {:?}{accepted}",
                            column.name, column.column_type
                        ),
                    ));
                    break 'columns;
                }
                for rule in &self.rules_by_column[idx] {
                    let failure = check_rule(
                        rule,
                        column,
                        values,
                        raw_text,
                        i,
                        &self.references,
                        self.today,
                    );
                    let Some(reason) = failure else { continue };
                    match rule.severity {
                        Severity::Warn => warnings.push(&rule.id),
                        Severity::Reject => {
                            verdict = Some(reject(rule.id.clone(), Some(&column.name), reason));
                            break 'columns;
                        }
                        Severity::FailFile => {
                            if self.file_failure.is_none() {
                                self.file_failure = Some(FileFailure {
                                    rule_id: rule.id.clone(),
                                    reason: format!("row {row_number}: {reason}"),
                                });
                            }
                            verdict = Some(reject_as(
                                Severity::FailFile,
                                rule.id.clone(),
                                Some(&column.name),
                                reason,
                            ));
                            break 'columns;
                        }
                    }
                }
            }
            if verdict.is_none() && !self.pk_indices.is_empty() {
                let key = self
                    .seen_keys
                    .hasher()
                    .hash(self.pk_indices.iter().map(|&k| raws[k].value(i).trim()));
                let content = row_hash(&raws, &extra, i);
                match self.seen_keys.get(key).map_err(ValidateError::KeySpill)? {
                    None => {
                        self.seen_keys
                            .insert(key, content)
                            .map_err(ValidateError::KeySpill)?;
                    }
                    Some(earlier) if earlier == content => {
                        self.counts.duplicates_removed += 1;
                        continue;
                    }
                    Some(_) => {
                        verdict = Some(reject(
                            self.contract.unique_rule(),
                            self.contract.primary_key.first().map(String::as_str),
                            format!(
                                "{} {:?} was already seen in this file with different values",
                                self.contract.primary_key.join("+"),
                                self.pk_indices
                                    .iter()
                                    .map(|&k| raws[k].value(i).trim())
                                    .collect::<Vec<_>>()
                                    .join("+")
                            ),
                        ));
                    }
                }
            }
            match verdict {
                Some(row) => rejected.push(row),
                None => {
                    keep[i] = true;
                    for w in warnings {
                        *self
                            .counts
                            .warnings_by_rule
                            .entry(w.to_string())
                            .or_default() += 1;
                    }
                }
            }
        }
        for row in &rejected {
            self.counts.rows_rejected += 1;
            *self
                .counts
                .rejected_by_rule
                .entry(row.rule_id.clone())
                .or_default() += 1;
        }
        let kept_rows = keep.iter().filter(|k| **k).count();
        self.counts.rows_valid += kept_rows as u64;

        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.kept.len() + 1);
        for ((column, (values, _)), rules) in
            self.kept.iter().zip(parsed).zip(&self.rules_by_column)
        {
            // Case-insensitive allowed values are written in the contract's spelling.
            let canonical: Vec<&AllowedValues> = rules
                .iter()
                .filter_map(|r| match &r.check {
                    Check::AllowedValues(allowed) if allowed.case_insensitive() => Some(allowed),
                    _ => None,
                })
                .collect();
            arrays.push(build_array(column, values, &keep, &canonical)?);
        }
        let kept_row_numbers: Int64Array = (0..n)
            .filter(|i| keep[*i])
            .map(|i| Some(row_numbers.value(i)))
            .collect();
        arrays.push(Arc::new(kept_row_numbers));
        let valid = RecordBatch::try_new(self.schema.clone(), arrays)?;
        let event_days = self.event_index.map(|idx| event_days(valid.column(idx)));
        Ok(ValidatedBatch {
            valid,
            event_days,
            rejected,
        })
    }
}

fn event_days(array: &ArrayRef) -> Vec<i32> {
    if let Some(ts) = array.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        ts.iter()
            .map(|v| {
                v.and_then(DateTime::from_timestamp_micros)
                    .map(|d| parse::days_since_epoch(d.date_naive()))
                    .unwrap_or_default()
            })
            .collect()
    } else if let Some(d) = array.as_any().downcast_ref::<Date32Array>() {
        d.iter().map(Option::unwrap_or_default).collect()
    } else {
        vec![0; array.len()]
    }
}

/// Why `rule` fails on row `i` of `column`, or `None` when it passes. Only `not_null` looks at a
/// missing value; every other check passes it.
fn check_rule(
    rule: &Rule,
    column: &Column,
    values: &Values,
    raw_text: Option<&str>,
    i: usize,
    references: &ReferenceSets,
    today: i32,
) -> Option<String> {
    let name = &column.name;
    if matches!(rule.check, Check::NotNull) {
        return (!values.is_some(i)).then(|| format!("{name} is missing"));
    }
    let text = raw_text?;
    match &rule.check {
        Check::NotNull => None,
        Check::Pattern { regex } => (!regex.is_match(text)).then(|| {
            format!(
                "{name} {text:?} does not match the expected pattern {}",
                regex.as_str()
            )
        }),
        Check::Range { min, max } => {
            let v = values.number(i, column.decimal_scale())?;
            let below = min.is_some_and(|b| b.rejects_as_min(v));
            let above = max.is_some_and(|b| b.rejects_as_max(v));
            (below || above).then(|| {
                let bounds: Vec<String> = min
                    .map(|b| b.as_min())
                    .into_iter()
                    .chain(max.map(|b| b.as_max()))
                    .collect();
                format!(
                    "{name} {text} is out of range (must be {})",
                    bounds.join(" and ")
                )
            })
        }
        Check::DateRange {
            earliest,
            max_days_ahead,
        } => {
            let day = values.day(i)?;
            match earliest {
                Some(e) if day < parse::days_since_epoch(*e) => Some(format!(
                    "{name} {text} is before the earliest plausible date {e}"
                )),
                _ => max_days_ahead.and_then(|ahead| {
                    // In i64: `max_days_ahead` may reach past the last day an i32 counts.
                    let latest = i64::from(today) + i64::from(ahead);
                    (i64::from(day) > latest).then(|| {
                        // `latest` is below `day`, so it fits in an i32.
                        let last = parse::date_from_days(i32::try_from(latest).unwrap_or(i32::MAX));
                        format!(
                            "{name} {text} is more than {ahead} days in the future (after {last})"
                        )
                    })
                }),
            }
        }
        Check::AllowedValues(allowed) => allowed.position(text).is_none().then(|| {
            format!(
                "{name} {text:?} is not one of: {}",
                allowed.values().join(", ")
            )
        }),
        Check::References {
            dataset,
            column: target,
        } => {
            let set = references.get(dataset, target)?;
            (!set.contains(text))
                .then(|| format!("{name} {text:?} is not a known {dataset}.{target}"))
        }
    }
}

fn row_hash(raws: &[StringArray], extra: &StringArray, i: usize) -> u64 {
    let mut h = DefaultHasher::new();
    for r in raws {
        if r.is_valid(i) {
            r.value(i).trim().hash(&mut h);
        } else {
            0u8.hash(&mut h);
        }
    }
    if extra.is_valid(i) {
        extra.value(i).hash(&mut h);
    }
    h.finish()
}

fn raw_record_json(
    kept: &[Column],
    raws: &[StringArray],
    extra: &StringArray,
    read_errors: &StringArray,
    i: usize,
) -> String {
    let mut map = serde_json::Map::new();
    for (column, raw) in kept.iter().zip(raws) {
        if raw.is_valid(i) {
            map.insert(
                column.name.clone(),
                serde_json::Value::String(raw.value(i).to_string()),
            );
        }
    }
    if extra.is_valid(i) {
        let value = serde_json::from_str(extra.value(i))
            .unwrap_or_else(|_| serde_json::Value::String(extra.value(i).to_string()));
        map.insert(EXTRA_COLUMN.to_string(), value);
    }
    if read_errors.is_valid(i) {
        map.insert(
            READ_ERROR_COLUMN.to_string(),
            serde_json::Value::String(read_errors.value(i).to_string()),
        );
    }
    serde_json::Value::Object(map).to_string()
}

/// The kept rows of a string column: each value trimmed (empty → null) and, for each of the
/// column's case-insensitive `canonical` lists in turn, replaced by the contract's spelling of
/// the allowed value it matches. A column that needs neither is filtered as it is, without copying a value.
fn build_strings(raw: &StringArray, keep: &[bool], canonical: &[&AllowedValues]) -> ArrayRef {
    let untouched = canonical.is_empty()
        && (0..raw.len()).all(|i| {
            raw.is_null(i) || {
                let v = raw.value(i);
                !v.is_empty() && v.trim().len() == v.len()
            }
        });
    if untouched {
        let mask = BooleanArray::from(keep.to_vec());
        if let Ok(array) = arrow::compute::filter(raw, &mask) {
            return array;
        }
    }
    let kept = keep.iter().filter(|k| **k).count();
    let mut builder = StringBuilder::with_capacity(kept, raw.value_data().len());
    for i in (0..raw.len()).filter(|&i| keep[i]) {
        let text = raw
            .is_valid(i)
            .then(|| raw.value(i).trim())
            .filter(|t| !t.is_empty());
        let Some(mut value) = text else {
            builder.append_null();
            continue;
        };
        for allowed in canonical {
            if let Some(pos) = allowed.position(value) {
                value = &allowed.values()[pos];
            }
        }
        builder.append_value(value);
    }
    Arc::new(builder.finish())
}

fn build_array(
    column: &Column,
    values: Values,
    keep: &[bool],
    canonical: &[&AllowedValues],
) -> Result<ArrayRef, ValidateError> {
    fn pick<T>(v: Vec<Option<T>>, keep: &[bool]) -> impl Iterator<Item = Option<T>> {
        v.into_iter().zip(keep).filter(|(_, k)| **k).map(|(v, _)| v)
    }
    Ok(match values {
        Values::Str(raw) => build_strings(&raw, keep, canonical),
        Values::Int(v) => Arc::new(pick(v, keep).collect::<Int64Array>()),
        Values::Dec(v) => Arc::new(
            pick(v, keep)
                .collect::<Decimal128Array>()
                .with_precision_and_scale(18, column.decimal_scale())?,
        ),
        Values::Float(v) => Arc::new(pick(v, keep).collect::<Float64Array>()),
        Values::Bool(v) => Arc::new(pick(v, keep).collect::<BooleanArray>()),
        Values::Date(v) => Arc::new(pick(v, keep).collect::<Date32Array>()),
        Values::Ts(v) => Arc::new(
            pick(v, keep)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
    })
}

#[cfg(test)]
mod tests;
