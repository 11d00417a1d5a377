//! `[[rules]]` entries: the flat table a contract file writes, and the check it compiles into.
//!
//! A file writes each rule as one table: `id`, `column`, `kind`, `severity`, an optional
//! `description`, and the fields of its kind. The loader compiles each entry into a [`Rule`]
//! whose [`Check`] carries exactly what its kind needs, so nothing downstream meets a `range`
//! without bounds or a `pattern` without a regex. A field of another kind, a missing field, an
//! empty `values` list or a range no number can pass is a load error
//! ([`ContractError::Rule`]) naming the dataset and the rule: a rule that silently checked
//! nothing would let bad rows into silver with nobody told.

use std::fmt;

use chrono::NaiveDate;
use regex::Regex;
use serde::Deserialize;

use super::{ContractError, Severity};

/// The `kind` a rule is written with. Only the file format and messages name kinds; what a
/// rule checks is its [`Check`], and [`Check::kind`] gives the kind back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// `not_null`: see [`Check::NotNull`].
    NotNull,
    /// `pattern`: see [`Check::Pattern`].
    Pattern,
    /// `range`: see [`Check::Range`].
    Range,
    /// `allowed_values`: see [`Check::AllowedValues`].
    AllowedValues,
    /// `references`: see [`Check::References`].
    References,
    /// `date_range`: see [`Check::DateRange`].
    DateRange,
}

impl RuleKind {
    /// The name written in a contract's `kind` field.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotNull => "not_null",
            Self::Pattern => "pattern",
            Self::Range => "range",
            Self::AllowedValues => "allowed_values",
            Self::References => "references",
            Self::DateRange => "date_range",
        }
    }

    /// The fields a rule of this kind may have besides `id`, `column`, `kind`, `severity` and
    /// `description`, which every rule has.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::NotNull => &[],
            Self::Pattern => &["pattern"],
            Self::Range => &["min", "max", "min_exclusive", "max_exclusive"],
            Self::AllowedValues => &["values", "case_insensitive"],
            Self::References => &["dataset", "target"],
            Self::DateRange => &["earliest", "max_days_ahead"],
        }
    }

    /// `which takes `a`, `b`` or `which takes no other field`, for messages.
    fn takes(self) -> String {
        match self.fields() {
            [] => "which takes no other field".into(),
            fields => format!(
                "which takes {}",
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a `[[rules]]` entry ([`ContractError::Rule`] names the dataset and the
/// rule).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleProblem {
    /// A field that only another kind reads: the rule would ignore it, and its writer
    /// probably meant another kind or another rule.
    #[error("`{field}` does not belong to a `{kind}` rule, {}", .kind.takes())]
    ForeignField {
        /// The field written.
        field: &'static str,
        /// The rule's kind.
        kind: RuleKind,
    },
    /// A field the kind cannot check without.
    #[error("a `{kind}` rule needs {needs}")]
    Missing {
        /// The rule's kind.
        kind: RuleKind,
        /// The field or fields, in words (`` `min` or `max` ``).
        needs: &'static str,
    },
    /// `values = []`: every value would be refused.
    #[error("`values` is empty, so every value would be refused")]
    EmptyValues,
    /// `min_exclusive` without `min` (or `max_exclusive` without `max`).
    #[error("`{flag}` qualifies `{bound}`, which the rule does not have")]
    FlagWithoutBound {
        /// `min_exclusive` or `max_exclusive`.
        flag: &'static str,
        /// `min` or `max`.
        bound: &'static str,
    },
    /// A bound written as `nan` or `inf`: every comparison with `nan` is false, so the rule
    /// would pass every value.
    #[error("`{bound}` is {value}, not a finite number")]
    NotFinite {
        /// `min` or `max`.
        bound: &'static str,
        /// The value written.
        value: f64,
    },
    /// `min` above `max`, or equal to it with either bound exclusive.
    #[error("no number is {} and {}", .min.as_min(), .max.as_max())]
    EmptyRange {
        /// The lower bound.
        min: Bound,
        /// The upper bound.
        max: Bound,
    },
    /// The rule's `column` is not a non-secret column of the contract (secret columns are
    /// dropped as the file is read, so there is nothing to check).
    #[error("column {column:?} is not a (non-secret) column of the contract")]
    UnknownColumn {
        /// The column named.
        column: String,
    },
    /// A `range` on a column that is not a number, or a `date_range` on one that is not a date
    /// or a timestamp.
    #[error("a `{kind}` rule needs {needs} column, {column:?} is not")]
    ColumnType {
        /// The rule's kind.
        kind: RuleKind,
        /// The column named.
        column: String,
        /// What the kind needs, in words (`a numeric`).
        needs: &'static str,
    },
    /// Two rules of the contract have the same id: quarantine rows and metrics could not tell
    /// them apart.
    #[error("the id is used twice")]
    DuplicateId,
    /// A `references` rule's `dataset` has no contract in the set, so it has no silver data
    /// to look values up in.
    #[error("`dataset` {dataset:?} has no contract (known: {known})")]
    UnknownDataset {
        /// The dataset named.
        dataset: String,
        /// The datasets that have contracts.
        known: String,
    },
    /// A `references` rule's `target` is not a non-secret column of the referenced contract.
    #[error("`target` {column:?} is not a (non-secret) column of the {dataset} contract")]
    UnknownTarget {
        /// The referenced dataset.
        dataset: String,
        /// The column named.
        column: String,
    },
}

/// One `[[rules]]` entry, compiled: what the validator evaluates.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id (`transactions.quantity.positive`), reported in quarantine rows, manifests
    /// and metrics.
    pub id: String,
    /// The non-secret column whose value is checked.
    pub column: String,
    /// What a failure does to the row or the file.
    pub severity: Severity,
    /// Why the rule exists, as the file says (documentation only).
    pub description: Option<String>,
    /// The check, with everything it needs.
    pub check: Check,
}

impl Rule {
    /// The kind the rule was written with.
    pub fn kind(&self) -> RuleKind {
        self.check.kind()
    }
}

/// What a rule checks. A missing value fails [`Check::NotNull`] and passes every other check.
#[derive(Debug, Clone)]
pub enum Check {
    /// Fails when the value is missing (absent, null, empty or blank).
    NotNull,
    /// Fails when the trimmed text does not match `regex`: the file's `pattern` compiled as
    /// `^(?:pattern)$`, so it must match the whole text.
    Pattern {
        /// The anchored regular expression.
        regex: Regex,
    },
    /// Fails when the number (of an integer, decimal or float column) lies outside the bounds.
    /// At least one bound is present, both are finite, and some number passes both.
    Range {
        /// The lower bound (`min`, `min_exclusive`).
        min: Option<Bound>,
        /// The upper bound (`max`, `max_exclusive`).
        max: Option<Bound>,
    },
    /// Fails when the trimmed text is none of a non-empty list.
    AllowedValues(AllowedValues),
    /// Fails when the trimmed text is not among the silver values of another dataset's column
    /// (the file's `dataset` and `target`; the contract set declares both). Not evaluated
    /// while that dataset has no silver data.
    References {
        /// The referenced dataset.
        dataset: String,
        /// The referenced column (`target` in the file).
        column: String,
    },
    /// Fails when the day (UTC) of a date or timestamp is before `earliest`, or more than
    /// `max_days_ahead` days after the day the file is validated. At least one is present.
    DateRange {
        /// The earliest plausible day, inclusive.
        earliest: Option<NaiveDate>,
        /// How many days past the validation day a value may lie (time zones, clock skew,
        /// pre-orders).
        max_days_ahead: Option<u32>,
    },
}

impl Check {
    /// The kind this check is written as.
    pub fn kind(&self) -> RuleKind {
        match self {
            Self::NotNull => RuleKind::NotNull,
            Self::Pattern { .. } => RuleKind::Pattern,
            Self::Range { .. } => RuleKind::Range,
            Self::AllowedValues(_) => RuleKind::AllowedValues,
            Self::References { .. } => RuleKind::References,
            Self::DateRange { .. } => RuleKind::DateRange,
        }
    }
}

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// A finite number.
    pub value: f64,
    /// Whether `value` itself fails.
    pub exclusive: bool,
}

impl Bound {
    /// Whether `v` fails this bound taken as the minimum.
    pub fn rejects_as_min(self, v: f64) -> bool {
        if self.exclusive {
            v <= self.value
        } else {
            v < self.value
        }
    }

    /// The bound as the minimum, for messages: `>= 0`, `> 0`.
    pub fn as_min(self) -> String {
        format!("{} {}", if self.exclusive { ">" } else { ">=" }, self.value)
    }

    /// The bound as the maximum, for messages: `<= 5`, `< 5`.
    pub fn as_max(self) -> String {
        format!("{} {}", if self.exclusive { "<" } else { "<=" }, self.value)
    }

    /// Whether `v` fails this bound taken as the maximum.
    pub fn rejects_as_max(self, v: f64) -> bool {
        if self.exclusive {
            v >= self.value
        } else {
            v > self.value
        }
    }
}

/// An `allowed_values` list: never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedValues {
    /// As written: the spelling silver stores for a case-insensitive match, and the list a
    /// failure's reason quotes.
    values: Vec<String>,
    /// `values` trimmed, and lower-cased when `case_insensitive`: what text is compared with.
    normalised: Vec<String>,
    case_insensitive: bool,
}

impl AllowedValues {
    /// `None` for an empty list.
    fn new(values: Vec<String>, case_insensitive: bool) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let normalised = values
            .iter()
            .map(|v| {
                if case_insensitive {
                    v.trim().to_lowercase()
                } else {
                    v.trim().to_string()
                }
            })
            .collect();
        Some(Self {
            values,
            normalised,
            case_insensitive,
        })
    }

    /// The values as the contract writes them.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether text is compared ignoring case (Unicode lower case).
    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// The position in [`values`](Self::values) of the value `text` matches, if any. ASCII
    /// text, the usual case, is compared without allocating.
    pub fn position(&self, text: &str) -> Option<usize> {
        if !self.case_insensitive {
            return self.normalised.iter().position(|a| a == text);
        }
        if text.is_ascii() {
            // `normalised` holds lower-cased values: an ASCII text lower-cases to one of them
            // exactly when it equals it ignoring ASCII case.
            return self
                .normalised
                .iter()
                .position(|a| a.eq_ignore_ascii_case(text));
        }
        let lower = text.to_lowercase();
        self.normalised.iter().position(|a| *a == lower)
    }
}

/// A `[[rules]]` entry as the file writes it: the fields of every kind, each optional, so that
/// [`RuleSpec::compile`] can name a field that does not belong instead of ignoring it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleSpec {
    id: String,
    column: String,
    kind: RuleKind,
    severity: Severity,
    pattern: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    min_exclusive: Option<bool>,
    max_exclusive: Option<bool>,
    values: Option<Vec<String>>,
    case_insensitive: Option<bool>,
    dataset: Option<String>,
    target: Option<String>,
    /// A TOML local date (`2000-01-01`) or a string.
    #[serde(default, deserialize_with = "toml_date")]
    earliest: Option<NaiveDate>,
    max_days_ahead: Option<u32>,
    description: Option<String>,
}

impl RuleSpec {
    /// The kind-specific fields written, by name, in [`RuleKind::fields`] order.
    fn written_fields(&self) -> Vec<&'static str> {
        [
            ("pattern", self.pattern.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("min_exclusive", self.min_exclusive.is_some()),
            ("max_exclusive", self.max_exclusive.is_some()),
            ("values", self.values.is_some()),
            ("case_insensitive", self.case_insensitive.is_some()),
            ("dataset", self.dataset.is_some()),
            ("target", self.target.is_some()),
            ("earliest", self.earliest.is_some()),
            ("max_days_ahead", self.max_days_ahead.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, written)| written.then_some(name))
        .collect()
    }

    /// The entry's check, or what is wrong with it. Only the entry itself is looked at: the
    /// contract checks the column ([`super::Contract::check`]) and the set checks what a
    /// reference points at.
    pub(super) fn compile(self, dataset: &str) -> Result<Rule, ContractError> {
        let fail = |problem| ContractError::Rule {
            dataset: dataset.to_string(),
            rule: self.id.clone(),
            problem,
        };
        let kind = self.kind;
        if let Some(field) = self
            .written_fields()
            .into_iter()
            .find(|f| !kind.fields().contains(f))
        {
            return Err(fail(RuleProblem::ForeignField { field, kind }));
        }
        let missing = |needs| fail(RuleProblem::Missing { kind, needs });
        let check = match kind {
            RuleKind::NotNull => Check::NotNull,
            RuleKind::Pattern => {
                let pattern = self
                    .pattern
                    .as_deref()
                    .ok_or_else(|| missing("`pattern`"))?;
                let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                    ContractError::Pattern {
                        dataset: dataset.to_string(),
                        rule: self.id.clone(),
                        source: Box::new(e),
                    }
                })?;
                Check::Pattern { regex }
            }
            RuleKind::Range => {
                let min =
                    bound("min", self.min, "min_exclusive", self.min_exclusive).map_err(fail)?;
                let max =
                    bound("max", self.max, "max_exclusive", self.max_exclusive).map_err(fail)?;
                match (min, max) {
                    (None, None) => return Err(missing("`min` or `max`")),
                    (Some(lo), Some(hi))
                        if lo.value > hi.value
                            || (lo.value == hi.value && (lo.exclusive || hi.exclusive)) =>
                    {
                        return Err(fail(RuleProblem::EmptyRange { min: lo, max: hi }));
                    }
                    _ => {}
                }
                Check::Range { min, max }
            }
            RuleKind::AllowedValues => {
                let values = self.values.ok_or_else(|| missing("`values`"))?;
                let allowed = AllowedValues::new(values, self.case_insensitive.unwrap_or(false))
                    .ok_or_else(|| fail(RuleProblem::EmptyValues))?;
                Check::AllowedValues(allowed)
            }
            RuleKind::References => match (self.dataset, self.target) {
                (Some(dataset), Some(column)) => Check::References { dataset, column },
                _ => return Err(missing("`dataset` and `target`")),
            },
            RuleKind::DateRange => {
                if self.earliest.is_none() && self.max_days_ahead.is_none() {
                    return Err(missing("`earliest` or `max_days_ahead`"));
                }
                Check::DateRange {
                    earliest: self.earliest,
                    max_days_ahead: self.max_days_ahead,
                }
            }
        };
        Ok(Rule {
            id: self.id,
            column: self.column,
            severity: self.severity,
            description: self.description,
            check,
        })
    }
}

/// One end of a `range` rule: `value` (written as `name`) and the `flag` that makes it
/// exclusive.
fn bound(
    name: &'static str,
    value: Option<f64>,
    flag: &'static str,
    exclusive: Option<bool>,
) -> Result<Option<Bound>, RuleProblem> {
    match (value, exclusive) {
        (None, Some(_)) => Err(RuleProblem::FlagWithoutBound { flag, bound: name }),
        (Some(v), _) if !v.is_finite() => Err(RuleProblem::NotFinite {
            bound: name,
            value: v,
        }),
        (value, exclusive) => Ok(value.map(|value| Bound {
            value,
            exclusive: exclusive.unwrap_or(false),
        })),
    }
}

/// A date written as a TOML local date (`2000-01-01`) or as a string.
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Option::<Written>::deserialize(d)? {
        None => return Ok(None),
        Some(Written::Text(t)) => t,
        Some(Written::Toml(t)) => t.to_string(),
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|e| {
            serde::de::Error::custom(format!("expected a date YYYY-MM-DD, got {text:?}: {e}"))
        })
}
