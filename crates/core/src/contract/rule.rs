//! `[[rules]]` entries: the flat table a contract file writes, and the check it compiles into.
//!
//! A file writes each rule as one table: `id`, `column`, `kind`, `severity`, an optional
//! `description`, and the fields of its kind. The loader compiles each entry into a [`Rule`]
//! whose [`Check`] carries exactly what its kind needs, so nothing downstream meets a `range`
//! without bounds or a `pattern` without a regex. A field of another kind, a missing field, an
//! empty `values` list or a range no number can pass is a load error
//! ([`ContractError::Rule`]; [`ContractError::Pattern`] for a regex that does not compile)
//! naming the dataset and the rule: a rule that silently checked nothing would let bad rows
//! into silver with nobody told.

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

    /// The end of a [`RuleProblem::ForeignField`] message: the fields this kind does take.
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
        /// The first such field the rule writes.
        field: &'static str,
        /// The `kind` the rule is written with, whose fields the message lists.
        kind: RuleKind,
    },
    /// A field the kind cannot check without.
    #[error("a `{kind}` rule needs {needs}")]
    Missing {
        /// The `kind` the rule is written with.
        kind: RuleKind,
        /// What the kind needs, in words: `` `min` or `max` ``, `` `dataset` and `target` ``.
        needs: &'static str,
    },
    /// `values = []`: every value would be refused.
    #[error("`values` is empty, so every value would be refused")]
    EmptyValues,
    /// `min_exclusive` without `min` (or `max_exclusive` without `max`).
    #[error("`{flag}` qualifies `{bound}`, which the rule does not have")]
    FlagWithoutBound {
        /// `min_exclusive` or `max_exclusive`, as written.
        flag: &'static str,
        /// `min` or `max`: the bound the flag would make exclusive, absent.
        bound: &'static str,
    },
    /// A bound written as `nan` or `inf`: every comparison with `nan` is false, so the rule
    /// would pass every value.
    #[error("`{bound}` is {value}, not a finite number")]
    NotFinite {
        /// `min` or `max`.
        bound: &'static str,
        /// `NaN` or an infinity.
        value: f64,
    },
    /// `min` above `max`, or equal to it with either bound exclusive.
    #[error("no number is {} and {}", .min.as_min(), .max.as_max())]
    EmptyRange {
        /// `min` and `min_exclusive`, as written.
        min: Bound,
        /// `max` and `max_exclusive`, as written.
        max: Bound,
    },
    /// The rule's `column` is not a non-secret column of the contract (secret columns are
    /// dropped as the file is read, so there is nothing to check).
    #[error("column {column:?} is not a (non-secret) column of the contract")]
    UnknownColumn {
        /// The rule's `column`, as written.
        column: String,
    },
    /// A `range` on a column that is not a number, or a `date_range` on one that is not a date
    /// or a timestamp.
    #[error("a `{kind}` rule needs {needs} column, {column:?} is not")]
    ColumnType {
        /// `range` or `date_range`.
        kind: RuleKind,
        /// The rule's `column`, whose declared type does not fit.
        column: String,
        /// The types the kind takes, in words: `a numeric`, `a date or timestamp`.
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
        /// The rule's `dataset`, as written.
        dataset: String,
        /// The datasets the set has contracts for, comma-separated, sorted.
        known: String,
    },
    /// A `references` rule's `target` is not a non-secret column of the referenced contract.
    #[error("`target` {column:?} is not a (non-secret) column of the {dataset} contract")]
    UnknownTarget {
        /// The rule's `dataset`, which has a contract.
        dataset: String,
        /// The rule's `target`, as written.
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
    /// What the rule checks, with everything the check needs and nothing it ignores.
    pub check: Check,
}

impl Rule {
    /// The `kind` the rule is written with, from its check.
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
        /// `^(?:pattern)$`, compiled: its `as_str()` is what a failure's reason quotes.
        regex: Regex,
    },
    /// Fails when the number (of an integer, decimal or float column) lies outside the bounds.
    /// At least one bound is present, both are finite, and some number passes both.
    Range {
        /// From `min` and `min_exclusive`; `None`: no number is too small.
        min: Option<Bound>,
        /// From `max` and `max_exclusive`; `None`: no number is too large.
        max: Option<Bound>,
    },
    /// Fails when the trimmed text is none of a non-empty list.
    AllowedValues(AllowedValues),
    /// Fails when the trimmed text is not among the silver values of another dataset's column
    /// (the file's `dataset` and `target`; the contract set declares both). Not evaluated
    /// while that dataset has no silver data.
    References {
        /// The dataset whose silver values are looked in (`dataset` in the file).
        dataset: String,
        /// Its column holding them (`target` in the file).
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
    /// The `kind` a contract file writes for this check.
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
    /// A finite number, compared with a decimal column's value as an `f64`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, ContractSet};

    /// A contract with a number, a text, a date and a secret column, for one rule to be added.
    const BASE: &str = r#"
dataset = "shop"
version = 1
[[columns]]
name = "qty"
type = "integer"
[[columns]]
name = "code"
type = "string"
[[columns]]
name = "day"
type = "date"
formats = ["%Y-%m-%d"]
[[columns]]
name = "pin"
type = "string"
classification = "secret"
"#;

    fn with_rule(fields: &str) -> String {
        format!("{BASE}[[rules]]\nid = \"shop.x.rule\"\nseverity = \"reject\"\n{fields}")
    }

    /// The problem the rule `fields` describe, after checking that the error names the dataset
    /// and the rule, in its fields and in its message.
    fn refused(fields: &str) -> RuleProblem {
        let err = Contract::from_toml(&with_rule(fields), "t").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("contract shop: rule shop.x.rule: "),
            "{message}"
        );
        match err {
            ContractError::Rule {
                dataset,
                rule,
                problem,
            } => {
                assert_eq!((dataset.as_str(), rule.as_str()), ("shop", "shop.x.rule"));
                problem
            }
            other => panic!("not a rule error: {other}"),
        }
    }

    #[test]
    fn a_pattern_on_a_range_rule_is_refused_naming_the_field_and_the_rule() {
        let fields = "column = \"qty\"\nkind = \"range\"\nmin = 0\npattern = \"[0-9]+\"\n";
        assert_eq!(
            refused(fields),
            RuleProblem::ForeignField {
                field: "pattern",
                kind: RuleKind::Range
            }
        );
        let message = Contract::from_toml(&with_rule(fields), "t")
            .unwrap_err()
            .to_string();
        assert!(
            message.ends_with(
                "`pattern` does not belong to a `range` rule, which takes `min`, `max`, `min_exclusive`, `max_exclusive`"
            ),
            "{message}"
        );
    }

    #[test]
    fn values_on_a_not_null_rule_are_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"not_null\"\nvalues = [\"a\"]\n"),
            RuleProblem::ForeignField {
                field: "values",
                kind: RuleKind::NotNull
            }
        );
    }

    #[test]
    fn a_flag_of_another_kind_is_refused_even_when_it_is_false() {
        assert_eq!(
            refused(
                "column = \"code\"\nkind = \"pattern\"\npattern = \"[A-Z]+\"\ncase_insensitive = false\n"
            ),
            RuleProblem::ForeignField {
                field: "case_insensitive",
                kind: RuleKind::Pattern
            }
        );
    }

    #[test]
    fn a_pattern_rule_without_a_pattern_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"pattern\"\n"),
            RuleProblem::Missing {
                kind: RuleKind::Pattern,
                needs: "`pattern`"
            }
        );
    }

    #[test]
    fn a_range_rule_without_bounds_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"qty\"\nkind = \"range\"\n"),
            RuleProblem::Missing {
                kind: RuleKind::Range,
                needs: "`min` or `max`"
            }
        );
    }

    #[test]
    fn an_exclusive_flag_without_its_bound_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"qty\"\nkind = \"range\"\nmax = 5\nmin_exclusive = true\n"),
            RuleProblem::FlagWithoutBound {
                flag: "min_exclusive",
                bound: "min"
            }
        );
    }

    #[test]
    fn a_range_rule_whose_min_is_above_its_max_is_refused_naming_the_rule() {
        let problem = refused("column = \"qty\"\nkind = \"range\"\nmin = 5\nmax = 1\n");
        assert_eq!(problem.to_string(), "no number is >= 5 and <= 1");
    }

    #[test]
    fn a_range_whose_equal_bounds_exclude_themselves_is_refused_and_one_that_includes_them_loads() {
        let problem =
            refused("column = \"qty\"\nkind = \"range\"\nmin = 1\nmax = 1\nmax_exclusive = true\n");
        assert_eq!(problem.to_string(), "no number is >= 1 and < 1");
        let exactly_one = with_rule("column = \"qty\"\nkind = \"range\"\nmin = 1\nmax = 1\n");
        Contract::from_toml(&exactly_one, "t").unwrap();
    }

    #[test]
    fn a_range_bound_that_is_not_a_finite_number_is_refused_naming_the_rule() {
        assert!(matches!(
            refused("column = \"qty\"\nkind = \"range\"\nmin = nan\n"),
            RuleProblem::NotFinite { bound: "min", .. }
        ));
        assert!(matches!(
            refused("column = \"qty\"\nkind = \"range\"\nmin = 0\nmax = inf\n"),
            RuleProblem::NotFinite { bound: "max", .. }
        ));
    }

    #[test]
    fn an_allowed_values_rule_with_an_empty_list_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"allowed_values\"\nvalues = []\n"),
            RuleProblem::EmptyValues
        );
    }

    #[test]
    fn an_allowed_values_rule_without_values_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"allowed_values\"\ncase_insensitive = true\n"),
            RuleProblem::Missing {
                kind: RuleKind::AllowedValues,
                needs: "`values`"
            }
        );
    }

    #[test]
    fn a_references_rule_without_a_target_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"references\"\ndataset = \"products\"\n"),
            RuleProblem::Missing {
                kind: RuleKind::References,
                needs: "`dataset` and `target`"
            }
        );
    }

    #[test]
    fn a_date_range_rule_with_neither_earliest_nor_max_days_ahead_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"day\"\nkind = \"date_range\"\n"),
            RuleProblem::Missing {
                kind: RuleKind::DateRange,
                needs: "`earliest` or `max_days_ahead`"
            }
        );
    }

    #[test]
    fn a_date_range_rule_on_a_number_column_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"qty\"\nkind = \"date_range\"\nmax_days_ahead = 2\n"),
            RuleProblem::ColumnType {
                kind: RuleKind::DateRange,
                column: "qty".into(),
                needs: "a date or timestamp"
            }
        );
    }

    #[test]
    fn a_range_rule_on_a_text_column_is_refused_naming_the_rule() {
        assert_eq!(
            refused("column = \"code\"\nkind = \"range\"\nmin = 0\n"),
            RuleProblem::ColumnType {
                kind: RuleKind::Range,
                column: "code".into(),
                needs: "a numeric"
            }
        );
    }

    #[test]
    fn a_rule_on_a_secret_or_undeclared_column_is_refused_naming_the_rule() {
        for column in ["pin", "nope"] {
            assert_eq!(
                refused(&format!("column = \"{column}\"\nkind = \"not_null\"\n")),
                RuleProblem::UnknownColumn {
                    column: column.into()
                }
            );
        }
    }

    #[test]
    fn a_rule_id_used_twice_is_refused_naming_the_rule() {
        let rule = "[[rules]]\nid = \"shop.x.rule\"\ncolumn = \"code\"\nkind = \"not_null\"\nseverity = \"warn\"\n";
        let err = Contract::from_toml(&format!("{BASE}{rule}{rule}"), "t").unwrap_err();
        assert!(
            matches!(&err, ContractError::Rule { rule, problem: RuleProblem::DuplicateId, .. } if rule == "shop.x.rule"),
            "{err}"
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_refused_naming_the_rule() {
        let err = Contract::from_toml(
            &with_rule("column = \"code\"\nkind = \"pattern\"\npattern = \"(\"\n"),
            "t",
        )
        .unwrap_err();
        assert!(
            matches!(&err, ContractError::Pattern { dataset, rule, .. } if dataset == "shop" && rule == "shop.x.rule"),
            "{err}"
        );
    }

    /// Writes `files` into a directory and loads it over the built-in contracts.
    fn load_dir(files: &[(&str, &str)]) -> Result<ContractSet, ContractError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        ContractSet::load_dir(dir.path())
    }

    #[test]
    fn a_references_rule_to_a_dataset_without_a_contract_is_refused_naming_the_rule() {
        let text = with_rule(
            "column = \"code\"\nkind = \"references\"\ndataset = \"vouchers\"\ntarget = \"code\"\n",
        );
        let err = load_dir(&[("shop.toml", &text)]).unwrap_err();
        match err {
            ContractError::Rule {
                dataset,
                rule,
                problem: RuleProblem::UnknownDataset { dataset: to, known },
            } => {
                assert_eq!((dataset.as_str(), rule.as_str()), ("shop", "shop.x.rule"));
                assert_eq!(to, "vouchers");
                assert!(known.contains("products"), "{known}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_references_rule_to_a_column_the_referenced_contract_does_not_keep_is_refused_naming_the_rule()
     {
        for target in ["sku", "pin"] {
            let text = with_rule(&format!(
                "column = \"code\"\nkind = \"references\"\ndataset = \"shop\"\ntarget = \"{target}\"\n"
            ));
            let err = load_dir(&[("shop.toml", &text)]).unwrap_err();
            assert!(
                matches!(&err, ContractError::Rule { rule, problem: RuleProblem::UnknownTarget { dataset, column }, .. }
                    if rule == "shop.x.rule" && dataset == "shop" && column == target),
                "{err}"
            );
        }
        let to_products = with_rule(
            "column = \"code\"\nkind = \"references\"\ndataset = \"products\"\ntarget = \"product_id\"\n",
        );
        let set = load_dir(&[("shop.toml", &to_products)]).unwrap();
        assert_eq!(
            set.get("shop").unwrap().reference_to("products"),
            Some(("code", "product_id"))
        );
    }

    #[test]
    fn a_contract_that_replaces_a_referenced_one_must_keep_the_referenced_column() {
        let customers = include_str!("../../contracts/customers.toml")
            .replace("name = \"customer_id\"", "name = \"client_id\"")
            .replace("\"customer_id\"", "\"client_id\"")
            .replace("customers.customer_id.", "customers.client_id.");
        let err = load_dir(&[("customers.toml", &customers)]).unwrap_err();
        assert!(
            matches!(&err, ContractError::Rule { problem: RuleProblem::UnknownTarget { dataset, column }, .. }
                if dataset == "customers" && column == "customer_id"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_rules_compile_into_the_checks_their_files_describe() {
        let set = ContractSet::defaults().unwrap();
        let rule = |dataset: &str, id: &str| {
            set.get(dataset)
                .unwrap()
                .rules
                .iter()
                .find(|r| r.id == id)
                .unwrap_or_else(|| panic!("{id}"))
                .clone()
        };
        let positive = rule("transactions", "transactions.quantity.positive");
        assert_eq!(
            (positive.column.as_str(), positive.severity),
            ("quantity", Severity::Reject)
        );
        assert!(matches!(
            positive.check,
            Check::Range {
                min: Some(Bound {
                    value: 0.0,
                    exclusive: true
                }),
                max: None
            }
        ));
        assert!(matches!(
            rule("products", "products.rating.range").check,
            Check::Range {
                min: Some(Bound {
                    value: 0.0,
                    exclusive: false
                }),
                max: Some(Bound {
                    value: 5.0,
                    exclusive: false
                })
            }
        ));
        let Check::AllowedValues(payment) =
            rule("transactions", "transactions.payment_method.allowed").check
        else {
            panic!("not allowed_values");
        };
        assert!(payment.case_insensitive());
        assert_eq!(payment.values().len(), 8);
        assert_eq!(payment.position("PayPal"), Some(2));
        let Check::Pattern { regex } = rule("transactions", "transactions.currency.iso_code").check
        else {
            panic!("not a pattern");
        };
        assert_eq!(regex.as_str(), "^(?:^[A-Z]{3}$)$");
        assert!(matches!(
            rule("transactions", "transactions.customer_id.references").check,
            Check::References { dataset, column } if dataset == "customers" && column == "customer_id"
        ));
        let plausible = rule("transactions", "transactions.transaction_date.plausible");
        assert_eq!(plausible.kind(), RuleKind::DateRange);
        assert!(matches!(
            plausible.check,
            Check::DateRange { earliest: Some(e), max_days_ahead: Some(2) } if e.to_string() == "2000-01-01"
        ));
        assert!(plausible.description.is_some());
    }
}
