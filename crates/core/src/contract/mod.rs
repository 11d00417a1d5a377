//! Data contracts: declarative files (TOML) that say what a dataset's records look like.
//!
//! A contract lists the dataset's columns (type, required, accepted aliases, accepted timestamp
//! formats, data class), its primary key, the column that gives each row its event time, and
//! rules with severities. The defaults for the four datasets ship inside the binary
//! ([`ContractSet::defaults`]); a user can point at a directory of their own files
//! ([`ContractSet::load_dir`]) without recompiling.
//!
//! Rule ids are stable and appear in quarantine rows, manifests and metrics:
//! - `{dataset}.{column}.not_null` — implied by `required = true`;
//! - `{dataset}.{column}.type` — implied by the column type (a value that does not parse);
//! - `{dataset}.{key}.unique` — implied by `primary_key` (same key, different content);
//! - `{dataset}.row.malformed` — a record that cannot be read (CSV field count, bad JSON line);
//! - and every `[[rules]]` entry's own `id`.
//!
//! Each `[[rules]]` entry is compiled when its contract loads into a [`Rule`] whose [`Check`]
//! holds exactly what its kind needs (`rule.rs`); a malformed entry is a load error naming the
//! dataset and the rule.

mod rule;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use rule::RuleSpec;
pub use rule::{AllowedValues, Bound, Check, Rule, RuleKind, RuleProblem};

/// Errors raised while loading or checking contract files.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The contract file could not be read.
    #[error("cannot read contract file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The contract file is not valid TOML or does not match the contract schema.
    #[error("contract {origin} is not a valid contract")]
    Parse {
        /// Where the contract came from (a path or `builtin:NAME`).
        origin: String,
        /// The parse error, with line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// The contract parsed but is inconsistent (unknown column in a rule, bad regex, ...).
    #[error("contract {dataset}: {problem}")]
    Invalid {
        /// The dataset the contract describes.
        dataset: String,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// A pattern rule's regular expression does not compile.
    #[error("contract {dataset}: rule {rule} has an invalid pattern")]
    Pattern {
        /// The dataset.
        dataset: String,
        /// The rule id.
        rule: String,
        /// The regex error.
        #[source]
        source: Box<regex::Error>,
    },
    /// A `[[rules]]` entry that cannot be checked as written: a field of another kind, a
    /// missing or empty one, bounds no number passes, a column the contract does not declare,
    /// a reference to something the contract set does not have.
    #[error("contract {dataset}: rule {rule}: {problem}")]
    Rule {
        /// The dataset whose contract holds the rule.
        dataset: String,
        /// The rule's `id`, as written.
        rule: String,
        /// What is wrong, naming the field.
        problem: RuleProblem,
    },
    /// No contract is known for the dataset.
    #[error("no contract for dataset {dataset:?} (known: {known})")]
    Unknown {
        /// The dataset asked for.
        dataset: String,
        /// The datasets that have contracts.
        known: String,
    },
}

/// The logical type of a column in silver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// A 64-bit signed integer.
    Integer,
    /// An exact decimal with `scale` digits after the point (money).
    Decimal,
    /// A 64-bit float.
    Float,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Boolean,
    /// A calendar date.
    Date,
    /// An instant, normalised to UTC.
    Timestamp,
}

/// How sensitive a column's values are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Ordinary business data.
    #[default]
    Public,
    /// Personal data: kept in silver, masked or hashed in gold.
    Pii,
    /// Never written anywhere: dropped as the file is read.
    Secret,
}

/// How a `pii` column reaches gold. Silver keeps personal data as received (access to silver is
/// restricted); every gold table applies the column's method, so no personal value is ever in
/// clear where analysts read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mask {
    /// Not carried into gold at all (the default for a `pii` column that names no method).
    #[default]
    Omit,
    /// An e-mail address as its first character, `***` and the domain: `a***@example.com`
    /// (`***` when the value has no `@` after its first character). Gold column `{name}_masked`.
    Email,
    /// A name as the upper-cased first letter of each word: `Ana María López` → `AML`.
    /// Gold column `{name}_initials`.
    Initials,
}

impl Mask {
    /// The gold column a masked `pii` column becomes, or `None` when it is omitted.
    pub fn gold_column(self, column: &str) -> Option<String> {
        match self {
            Self::Omit => None,
            Self::Email => Some(format!("{column}_masked")),
            Self::Initials => Some(format!("{column}_initials")),
        }
    }

    /// Applies the method to one value (`None` for [`Mask::Omit`]).
    pub fn apply(self, value: &str) -> Option<String> {
        match self {
            Self::Omit => None,
            Self::Email => {
                let value = value.trim();
                let mut chars = value.char_indices();
                match (chars.next(), value.find('@')) {
                    (Some((_, first)), Some(at)) if at > 0 => {
                        Some(format!("{first}***{}", &value[at..]))
                    }
                    _ => Some("***".into()),
                }
            }
            Self::Initials => {
                let initials: String = value
                    .split(|c: char| c.is_whitespace() || c == '-' || c == '.')
                    .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
                    .flat_map(char::to_uppercase)
                    .collect();
                (!initials.is_empty()).then_some(initials)
            }
        }
    }
}

/// Whether `value` has the shape of an email address (`local@domain.tld`, no spaces): what
/// [`mask_stray_email`] looks for in columns the contract does not classify as `pii`.
pub fn is_email_shaped(value: &str) -> bool {
    let v = value.trim();
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-*'".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

/// Email addresses found where the contract does not expect personal data (a customer id that
/// is an address, or a surrogate key built from one: `bob@example.com:1`), each masked like an
/// `email` column (`b***@example.com`) plus a short hash of the address, so two addresses stay
/// two identifiers and joins on the column still match. `None` when the value holds no address
/// in clear; an address already masked is left as it is, so applying this twice changes
/// nothing.
pub fn mask_stray_email(value: &str) -> Option<String> {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-*'".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    for (at, _) in value.match_indices('@') {
        if at < copied {
            continue;
        }
        let start = value[copied..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local_char(*c))
            .last()
            .map_or(at, |(i, _)| copied + i);
        let rest = &value[at + 1..];
        let mut end = at + 1 + rest.find(|c: char| !domain_char(c)).unwrap_or(rest.len());
        while value[..end].ends_with(['.', '-']) {
            end -= 1;
        }
        let address = &value[start..end];
        if !is_email_shaped(address) || value[start..at].contains("***") {
            continue;
        }
        let Some(masked) = Mask::Email.apply(address) else {
            continue;
        };
        let tag = crate::ids::sha256_hex(address.as_bytes(), 4);
        out.push_str(&value[copied..start]);
        out.push_str(&masked);
        out.push('~');
        out.push_str(&tag);
        copied = end;
        changed = true;
    }
    if !changed {
        return None;
    }
    out.push_str(&value[copied..]);
    Some(out)
}

/// What a status value means for the business figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// The order was cancelled before it was fulfilled.
    Cancelled,
    /// The money was given back.
    Refunded,
    /// The goods came back.
    Returned,
}

impl StatusClass {
    /// Every class, in a stable order.
    pub const ALL: [StatusClass; 3] = [Self::Cancelled, Self::Refunded, Self::Returned];
}

fn default_cancelled() -> Vec<String> {
    vec!["cancelled".into(), "canceled".into()]
}

fn default_refunded() -> Vec<String> {
    vec!["refunded".into()]
}

fn default_returned() -> Vec<String> {
    vec!["returned".into()]
}

/// `[status]`: which values of which column mean that a row is not (or no longer) a sale.
/// Values are compared ignoring case and surrounding spaces. A row whose status is in none of
/// the lists (or has no status) counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSemantics {
    /// The status column (a non-secret string column of the contract).
    pub column: String,
    /// Values meaning cancelled (default `cancelled`, `canceled`).
    #[serde(default = "default_cancelled")]
    pub cancelled: Vec<String>,
    /// Values meaning refunded (default `refunded`).
    #[serde(default = "default_refunded")]
    pub refunded: Vec<String>,
    /// Values meaning returned (default `returned`).
    #[serde(default = "default_returned")]
    pub returned: Vec<String>,
}

impl StatusSemantics {
    /// The values of one class, as written.
    pub fn values(&self, class: StatusClass) -> &[String] {
        match class {
            StatusClass::Cancelled => &self.cancelled,
            StatusClass::Refunded => &self.refunded,
            StatusClass::Returned => &self.returned,
        }
    }

    /// Every value that excludes a row from the sales, normalised (trimmed, lower case), sorted.
    pub fn excluded(&self) -> Vec<String> {
        let mut all: Vec<String> = StatusClass::ALL
            .iter()
            .flat_map(|c| self.values(*c))
            .map(|v| v.trim().to_lowercase())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The class of a value, if it has one.
    pub fn classify(&self, value: &str) -> Option<StatusClass> {
        let v = value.trim().to_lowercase();
        StatusClass::ALL
            .into_iter()
            .find(|c| self.values(*c).iter().any(|s| s.trim().to_lowercase() == v))
    }
}

/// What happens to a row (or file) when a rule fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Counted, row kept.
    Warn,
    /// Row goes to quarantine.
    Reject,
    /// The whole file goes to quarantine.
    FailFile,
}

/// One column of a contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Canonical name, used in bronze, silver and gold.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// A row without a value here is rejected (`{dataset}.{name}.not_null`); a file without the
    /// column at all is quarantined whole.
    #[serde(default)]
    pub required: bool,
    /// Source names accepted for this column (compared ignoring case and punctuation; dotted
    /// paths such as `address.city` reach into nested JSON objects).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Accepted formats for date and timestamp columns: chrono `strftime` patterns, or the
    /// keywords `rfc3339`, `epoch_seconds`, `epoch_millis`.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Digits after the decimal point, for decimal columns (default 2).
    #[serde(default)]
    pub scale: Option<i8>,
    /// Data class.
    #[serde(default)]
    pub classification: Classification,
    /// For `pii` columns: how gold shows the value (`email`, `initials`, or `omit`, the
    /// default). A load error on any other class.
    #[serde(default)]
    pub mask: Option<Mask>,
}

impl Column {
    /// How this column reaches gold: `None` when it is not personal data (carried as is, or,
    /// for secrets, never written at all), else its masking method.
    pub fn pii_mask(&self) -> Option<Mask> {
        (self.classification == Classification::Pii).then(|| self.mask.unwrap_or_default())
    }

    /// The decimal scale (default 2).
    pub fn decimal_scale(&self) -> i8 {
        self.scale.unwrap_or(2)
    }
}

/// File-level policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    /// Quarantine the whole file when more than this share of its rows is rejected.
    #[serde(default)]
    pub max_reject_share: Option<f64>,
    /// Longest record accepted, in bytes: one CSV record (all its physical lines), one JSON
    /// line, one element of a JSON array. A longer CSV line or JSON line is a malformed row; an
    /// unclosed CSV quote is given up after this many bytes and the reader resumes at the next
    /// line. Default [`ReadLimits::DEFAULT_MAX_RECORD_BYTES`].
    #[serde(default)]
    pub max_record_bytes: Option<usize>,
    /// Most fields a CSV header may have. Default [`ReadLimits::DEFAULT_MAX_COLUMNS`].
    #[serde(default)]
    pub max_columns: Option<usize>,
    /// Most bytes a file may decompress to (or hold, uncompressed). Default
    /// [`ReadLimits::DEFAULT_MAX_DECOMPRESSED_BYTES`].
    #[serde(default)]
    pub max_decompressed_bytes: Option<u64>,
    /// Largest decompressed/compressed ratio accepted once a gzip file has produced
    /// [`ReadLimits::RATIO_GRACE_BYTES`]: a higher one is a decompression bomb. Default
    /// [`ReadLimits::DEFAULT_MAX_EXPANSION_RATIO`].
    #[serde(default)]
    pub max_expansion_ratio: Option<u64>,
}

/// The resource limits a reader enforces on one file, from the contract's `[file]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Longest record, bytes.
    pub max_record_bytes: usize,
    /// Most CSV header fields.
    pub max_columns: usize,
    /// Most decompressed bytes.
    pub max_decompressed_bytes: u64,
    /// Largest expansion ratio of a compressed file.
    pub max_expansion_ratio: u64,
}

impl ReadLimits {
    /// 8 MiB: far above any real record, small enough to hold twice in a Lambda.
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
    /// 2,048 header fields.
    pub const DEFAULT_MAX_COLUMNS: usize = 2048;
    /// 16 GiB decompressed: a day of a large shop's exports, and a bound on time.
    pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 16 * 1024 * 1024 * 1024;
    /// 100 to 1: CSV and JSON exports compress 3 to 15 times; a bomb expands by a thousand.
    pub const DEFAULT_MAX_EXPANSION_RATIO: u64 = 100;
    /// The ratio is only judged after this many decompressed bytes (64 MiB), so that small,
    /// very regular files pass.
    pub const RATIO_GRACE_BYTES: u64 = 64 * 1024 * 1024;
}

impl Default for ReadLimits {
    fn default() -> Self {
        FilePolicy::default().limits()
    }
}

impl FilePolicy {
    /// The read limits this policy sets, defaults filled in.
    pub fn limits(&self) -> ReadLimits {
        ReadLimits {
            max_record_bytes: self
                .max_record_bytes
                .unwrap_or(ReadLimits::DEFAULT_MAX_RECORD_BYTES),
            max_columns: self.max_columns.unwrap_or(ReadLimits::DEFAULT_MAX_COLUMNS),
            max_decompressed_bytes: self
                .max_decompressed_bytes
                .unwrap_or(ReadLimits::DEFAULT_MAX_DECOMPRESSED_BYTES),
            max_expansion_ratio: self
                .max_expansion_ratio
                .unwrap_or(ReadLimits::DEFAULT_MAX_EXPANSION_RATIO),
        }
    }
}

/// A dataset's contract: its file's fields as written, apart from the rules, which are compiled
/// into their checks. Make one with [`Contract::from_toml`], which compiles the rules and checks
/// the whole; deserializing a `Contract` directly checks nothing and leaves `rules` empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Dataset name (`transactions`, `products`, ...): the lake prefix.
    pub dataset: String,
    /// Contract version, recorded in manifests.
    pub version: u32,
    /// What one row is.
    #[serde(default)]
    pub description: Option<String>,
    /// Business key columns: rows with the same key are duplicates (composite keys allowed:
    /// `["order_id", "line_number"]`). Silver, gold's de-duplication and the fact grain use it.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// The columns that identify an order when a row is one line of it (a subset of
    /// `primary_key`; default: the whole key, one row = one order). Order counts and the
    /// average order value count distinct values of these columns.
    #[serde(default)]
    pub order_key: Vec<String>,
    /// A column whose greater value marks the later version of a row (an `updated_at`): when
    /// two landing objects hold the same key, silver keeps the row with the greater value, and
    /// the later landing object only on a tie (or when neither has one). Absent: the later
    /// landing object wins (S3 event `sequencer`, else ingestion order).
    #[serde(default)]
    pub version_column: Option<String>,
    /// Silver keeps every version of a key instead of the latest only: one row per key and
    /// `version_column` value (per key and landing object when the row has none). For
    /// snapshots (a catalog, a customer list) that gold's SCD type 2 dimensions are built
    /// from. The same version in two files is still one row.
    #[serde(default)]
    pub keep_versions: bool,
    /// Which status values mean cancelled, refunded or returned (rows gold leaves out of the
    /// sales); absent = every row counts.
    #[serde(default)]
    pub status: Option<StatusSemantics>,
    /// Column whose value decides the silver partition; absent = partition by ingest date.
    #[serde(default)]
    pub event_time: Option<String>,
    /// Time zone for timestamps written without one: `UTC` or a fixed offset like `+02:00`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// For JSON objects that wrap the records: the field names that may hold them.
    #[serde(default)]
    pub record_fields: Vec<String>,
    /// File-name prefixes (any case) that route a dropped file to this dataset.
    #[serde(default)]
    pub file_patterns: Vec<String>,
    /// File-level policy.
    #[serde(default)]
    pub file: FilePolicy,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rules beyond those implied by the columns, in file order.
    #[serde(skip)]
    pub rules: Vec<Rule>,
    /// The `[[rules]]` entries as written: [`Contract::from_toml`] compiles them into `rules`
    /// and leaves this empty.
    #[serde(default, rename = "rules")]
    written_rules: Vec<RuleSpec>,
}

/// Normalises a column name for alias matching: lower case, only letters, digits and dots.
pub fn normalize_name(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '.')
        .flat_map(char::to_lowercase)
        .collect()
}

const BUILTIN: [(&str, &str); 4] = [
    (
        "transactions",
        include_str!("../../contracts/transactions.toml"),
    ),
    ("products", include_str!("../../contracts/products.toml")),
    ("customers", include_str!("../../contracts/customers.toml")),
    (
        "clickstream",
        include_str!("../../contracts/clickstream.toml"),
    ),
];

/// Words that make a field secret even when no contract column declares it: an unknown field
/// whose name contains one of these as a word (`user_password`, `bankIban`) is dropped, never
/// kept in bronze. Names are split into words at `_`, `.`, `-`, spaces and lower→upper case
/// changes, so `business_name` is not mistaken for an `ssn`.
pub const SECRET_WORDS: [&str; 17] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "passcode",
    "passphrase",
    "pin",
    "otp",
    "ssn",
    "iban",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "cvn",
    "secret",
    "wallet",
];

/// Pairs of adjacent words that make a field secret (`cardNumber`, `card_no`, `cc_num`,
/// `accountNumber`, `securityCode`, `api_key`, `accessToken`); also matched written as one word
/// (`ccnum`, `accountnumber`).
pub const SECRET_WORD_PAIRS: [(&str, &str); 21] = [
    ("card", "number"),
    ("card", "no"),
    ("card", "num"),
    ("cc", "number"),
    ("cc", "no"),
    ("cc", "num"),
    ("credit", "card"),
    ("account", "number"),
    ("account", "no"),
    ("account", "num"),
    ("acct", "number"),
    ("acct", "no"),
    ("acct", "num"),
    ("routing", "number"),
    ("security", "code"),
    ("api", "key"),
    ("access", "token"),
    ("refresh", "token"),
    ("auth", "token"),
    ("session", "token"),
    ("private", "key"),
];

/// Splits a field name into lower-case words.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a field name (not declared by the contract) looks secret.
pub fn looks_secret(name: &str) -> bool {
    let words = name_words(name);
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| SECRET_WORD_PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
        || words.iter().any(|w| {
            SECRET_WORD_PAIRS
                .iter()
                .any(|(a, b)| *w == format!("{a}{b}"))
        })
}

impl Contract {
    /// Parses a contract from TOML text. `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ContractError> {
        let mut contract: Contract = toml::from_str(text).map_err(|e| ContractError::Parse {
            origin: origin.to_string(),
            source: Box::new(e),
        })?;
        contract.rules = std::mem::take(&mut contract.written_rules)
            .into_iter()
            .map(|spec| spec.compile(&contract.dataset))
            .collect::<Result<_, _>>()?;
        contract.check()?;
        Ok(contract)
    }

    fn invalid(&self, problem: String) -> ContractError {
        ContractError::Invalid {
            dataset: self.dataset.clone(),
            problem,
        }
    }

    /// Checks the contract's internal consistency.
    pub fn check(&self) -> Result<(), ContractError> {
        if self.dataset.is_empty()
            || !self
                .dataset
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(self.invalid(format!(
                "field `dataset` must be lower-case letters, digits and `_`, got {:?}",
                self.dataset
            )));
        }
        let mut seen = HashMap::new();
        for column in &self.columns {
            if seen.insert(column.name.as_str(), ()).is_some() {
                return Err(self.invalid(format!("column {:?} is declared twice", column.name)));
            }
            if column.name.starts_with('_') {
                return Err(self.invalid(format!(
                    "column {:?}: names starting with `_` are reserved for lineage",
                    column.name
                )));
            }
            if matches!(column.column_type, ColumnType::Date | ColumnType::Timestamp)
                && column.formats.is_empty()
            {
                return Err(self.invalid(format!(
                    "column {:?}: date/timestamp columns need `formats`",
                    column.name
                )));
            }
            if let Some(scale) = column.scale
                && !(0..=9).contains(&scale)
            {
                return Err(
                    self.invalid(format!("column {:?}: `scale` must be 0..=9", column.name))
                );
            }
            if column.classification == Classification::Secret && column.required {
                return Err(self.invalid(format!(
                    "column {:?}: a secret column cannot be required",
                    column.name
                )));
            }
        }
        let public = |name: &str| {
            self.column(name)
                .is_some_and(|c| c.classification != Classification::Secret)
        };
        for key in &self.primary_key {
            if !public(key) {
                return Err(self.invalid(format!(
                    "`primary_key` names {key:?}, which is not a (non-secret) column"
                )));
            }
        }
        if let Some(event_time) = &self.event_time {
            match self.column(event_time) {
                Some(c)
                    if c.required
                        && matches!(c.column_type, ColumnType::Date | ColumnType::Timestamp) => {}
                _ => {
                    return Err(self.invalid(format!(
                        "`event_time` names {event_time:?}, which must be a required date or timestamp column"
                    )));
                }
            }
        }
        parse_timezone(self.timezone.as_deref()).map_err(|p| self.invalid(p))?;
        for key in &self.primary_key {
            if !self.column(key).is_some_and(|c| c.required) {
                return Err(self.invalid(format!(
                    "`primary_key` column {key:?} must be `required = true`"
                )));
            }
        }
        if let Some(v) = &self.version_column {
            match self.column(v) {
                Some(c)
                    if matches!(
                        c.column_type,
                        ColumnType::Date
                            | ColumnType::Timestamp
                            | ColumnType::Integer
                            | ColumnType::Decimal
                    ) && c.classification != Classification::Secret => {}
                _ => {
                    return Err(self.invalid(format!(
                        "`version_column` names {v:?}, which must be a declared date, timestamp, integer or decimal column"
                    )));
                }
            }
            if self.primary_key.contains(v) {
                return Err(self.invalid(format!(
                    "`version_column` {v:?} is part of `primary_key`; name it in one of the two"
                )));
            }
        }
        for key in &self.order_key {
            if !self.primary_key.contains(key) {
                return Err(self.invalid(format!(
                    "`order_key` names {key:?}, which is not part of `primary_key` {:?}",
                    self.primary_key
                )));
            }
        }
        for column in &self.columns {
            if column.mask.is_some() && column.classification != Classification::Pii {
                return Err(self.invalid(format!(
                    "column {:?}: `mask` applies to `classification = \"pii\"` columns only",
                    column.name
                )));
            }
            if let Some(out) = column.pii_mask().and_then(|m| m.gold_column(&column.name))
                && self.column(&out).is_some()
            {
                return Err(self.invalid(format!(
                    "column {:?}: its masked gold column {out:?} collides with a declared column",
                    column.name
                )));
            }
        }
        if let Some(status) = &self.status {
            self.check_status(status)?;
        }
        let mut rule_ids = std::collections::HashSet::new();
        for rule in &self.rules {
            let fail = |problem| ContractError::Rule {
                dataset: self.dataset.clone(),
                rule: rule.id.clone(),
                problem,
            };
            if !rule_ids.insert(rule.id.as_str()) {
                return Err(fail(RuleProblem::DuplicateId));
            }
            let Some(column) = self
                .column(&rule.column)
                .filter(|c| c.classification != Classification::Secret)
            else {
                return Err(fail(RuleProblem::UnknownColumn {
                    column: rule.column.clone(),
                }));
            };
            let t = column.column_type;
            let needs = match &rule.check {
                Check::Range { .. }
                    if !matches!(
                        t,
                        ColumnType::Integer | ColumnType::Decimal | ColumnType::Float
                    ) =>
                {
                    Some("a numeric")
                }
                Check::DateRange { .. }
                    if !matches!(t, ColumnType::Date | ColumnType::Timestamp) =>
                {
                    Some("a date or timestamp")
                }
                _ => None,
            };
            if let Some(needs) = needs {
                return Err(fail(RuleProblem::ColumnType {
                    kind: rule.kind(),
                    column: rule.column.clone(),
                    needs,
                }));
            }
        }
        if let Some(share) = self.file.max_reject_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(self.invalid("`file.max_reject_share` must be within 0..=1".into()));
        }
        let limits = self.file.limits();
        if limits.max_record_bytes < 1024
            || limits.max_columns == 0
            || limits.max_decompressed_bytes == 0
            || limits.max_expansion_ratio < 2
        {
            return Err(self.invalid(
                "`file` limits: max_record_bytes >= 1024, max_columns and max_decompressed_bytes > 0, max_expansion_ratio >= 2"
                    .into(),
            ));
        }
        Ok(())
    }

    /// `[status]` must name a non-secret string column, and every value it gives a meaning
    /// must pass that column's `allowed_values` rules: a rule rejecting `canceled` while the
    /// semantics count it as cancelled would quarantine the very rows the semantics describe.
    fn check_status(&self, status: &StatusSemantics) -> Result<(), ContractError> {
        match self.column(&status.column) {
            Some(c)
                if c.column_type == ColumnType::String
                    && c.classification != Classification::Secret => {}
            _ => {
                return Err(self.invalid(format!(
                    "`status.column` names {:?}, which must be a non-secret string column",
                    status.column
                )));
            }
        }
        let mut seen: BTreeMap<String, StatusClass> = BTreeMap::new();
        for class in StatusClass::ALL {
            for value in status.values(class) {
                let norm = value.trim().to_lowercase();
                if norm.is_empty() {
                    return Err(self.invalid(format!("`status`: an empty {class:?} value")));
                }
                if let Some(other) = seen.insert(norm, class)
                    && other != class
                {
                    return Err(self.invalid(format!(
                        "`status`: {value:?} is declared both {other:?} and {class:?}"
                    )));
                }
            }
        }
        for rule in self.rules.iter().filter(|r| {
            r.column == status.column && matches!(r.severity, Severity::Reject | Severity::FailFile)
        }) {
            let Check::AllowedValues(allowed) = &rule.check else {
                continue;
            };
            for (value, class) in &seen {
                // Some spelling of the value passes the rule (a case-sensitive rule may list
                // `Canceled`; the semantics then meet exactly that spelling).
                let accepted = allowed
                    .values()
                    .iter()
                    .any(|a| a.trim().to_lowercase() == *value);
                if !accepted {
                    return Err(self.invalid(format!(
                        "rule {} rejects {value:?}, which `status` declares {class:?}: add it to the rule's `values` or remove it from `status`",
                        rule.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// The columns that identify an order (`order_key`, else `primary_key`).
    pub fn order_columns(&self) -> &[String] {
        if self.order_key.is_empty() {
            &self.primary_key
        } else {
            &self.order_key
        }
    }

    /// The column named by a `references` rule pointing at `dataset`, with the referenced
    /// column: the foreign key gold joins on.
    pub fn reference_to(&self, dataset: &str) -> Option<(&str, &str)> {
        self.rules.iter().find_map(|r| match &r.check {
            Check::References {
                dataset: d,
                column: target,
            } if d == dataset => Some((r.column.as_str(), target.as_str())),
            _ => None,
        })
    }

    /// The column with this canonical name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns that are written (everything but `secret`), in contract order.
    pub fn kept_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.classification != Classification::Secret)
    }

    /// The implied rule id for a missing required value.
    pub fn not_null_rule(&self, column: &str) -> String {
        format!("{}.{column}.not_null", self.dataset)
    }

    /// The implied rule id for a value that does not parse as its type.
    pub fn type_rule(&self, column: &str) -> String {
        format!("{}.{column}.type", self.dataset)
    }

    /// The implied rule id for a business-key conflict.
    pub fn unique_rule(&self) -> String {
        format!("{}.{}.unique", self.dataset, self.primary_key.join("+"))
    }

    /// The implied rule id for a record that cannot be read on its own (a CSV row with the wrong
    /// number of fields, a JSON line that is not an object).
    pub fn malformed_rule(&self) -> String {
        format!("{}.row.malformed", self.dataset)
    }

    /// The implied rule id for a file that cannot be read at all.
    pub fn unreadable_rule(&self) -> String {
        format!("{}.file.unreadable", self.dataset)
    }

    /// The implied rule id for a file whose rejected share exceeds `file.max_reject_share`.
    pub fn max_reject_share_rule(&self) -> String {
        format!("{}.file.max_reject_share", self.dataset)
    }

    /// Every rule id this contract can report, implied ones included, with its severity.
    pub fn rule_ids(&self) -> BTreeMap<String, Severity> {
        let mut ids = BTreeMap::new();
        for column in self.kept_columns() {
            if column.required {
                ids.insert(self.not_null_rule(&column.name), Severity::Reject);
            }
            if column.column_type != ColumnType::String {
                ids.insert(self.type_rule(&column.name), Severity::Reject);
            }
        }
        if !self.primary_key.is_empty() {
            ids.insert(self.unique_rule(), Severity::Reject);
        }
        ids.insert(self.malformed_rule(), Severity::Reject);
        ids.insert(self.unreadable_rule(), Severity::FailFile);
        if self.file.max_reject_share.is_some() {
            ids.insert(self.max_reject_share_rule(), Severity::FailFile);
        }
        for rule in &self.rules {
            ids.insert(rule.id.clone(), rule.severity);
        }
        ids
    }

    /// Whether a file name (not the full key) starts with the dataset name or one of its
    /// `file_patterns` (ignoring case).
    pub fn matches_file_name(&self, file_name: &str) -> bool {
        let lower = file_name.to_lowercase();
        lower.starts_with(&self.dataset)
            || self
                .file_patterns
                .iter()
                .any(|p| lower.starts_with(&p.to_lowercase()))
    }
}

/// Parses a contract time zone: `UTC`/`Z` or a fixed offset `+HH:MM`.
pub fn parse_timezone(tz: Option<&str>) -> Result<chrono::FixedOffset, String> {
    let utc = chrono::FixedOffset::east_opt(0).ok_or("zero offset")?;
    let Some(tz) = tz else { return Ok(utc) };
    let tz = tz.trim();
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return Ok(utc);
    }
    let bad = || format!("`timezone` must be UTC or an offset like +02:00, got {tz:?}");
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// The contracts in force: one per dataset.
#[derive(Debug, Clone)]
pub struct ContractSet {
    contracts: BTreeMap<String, Contract>,
}

impl ContractSet {
    /// The contracts that ship with ShopFlow (`contracts/*.toml`, embedded at build time).
    pub fn defaults() -> Result<Self, ContractError> {
        let mut contracts = BTreeMap::new();
        for (name, text) in BUILTIN {
            let contract = Contract::from_toml(text, &format!("builtin:{name}"))?;
            contracts.insert(contract.dataset.clone(), contract);
        }
        let set = Self { contracts };
        set.check_references()?;
        Ok(set)
    }

    /// The defaults, with every `*.toml` file in `dir` added or replacing the default of the
    /// same dataset.
    pub fn load_dir(dir: &Path) -> Result<Self, ContractError> {
        let mut set = Self::defaults()?;
        let io = |source| ContractError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| ContractError::Io {
                path: path.clone(),
                source,
            })?;
            let contract = Contract::from_toml(&text, &path.display().to_string())?;
            set.contracts.insert(contract.dataset.clone(), contract);
        }
        set.check_references()?;
        Ok(set)
    }

    /// Every `references` rule must point at a non-secret column of a contract in the set: a
    /// dataset without a contract never has silver data, so the rule would be skipped on every
    /// file, and a column the referenced contract does not keep would fail every row.
    fn check_references(&self) -> Result<(), ContractError> {
        for contract in self.contracts.values() {
            for rule in &contract.rules {
                let Check::References { dataset, column } = &rule.check else {
                    continue;
                };
                let fail = |problem| ContractError::Rule {
                    dataset: contract.dataset.clone(),
                    rule: rule.id.clone(),
                    problem,
                };
                let Some(referenced) = self.contracts.get(dataset) else {
                    return Err(fail(RuleProblem::UnknownDataset {
                        dataset: dataset.clone(),
                        known: self.names().collect::<Vec<_>>().join(", "),
                    }));
                };
                if !referenced
                    .column(column)
                    .is_some_and(|c| c.classification != Classification::Secret)
                {
                    return Err(fail(RuleProblem::UnknownTarget {
                        dataset: dataset.clone(),
                        column: column.clone(),
                    }));
                }
            }
        }
        Ok(())
    }

    /// The contract of a dataset.
    pub fn get(&self, dataset: &str) -> Result<&Contract, ContractError> {
        self.contracts
            .get(dataset)
            .ok_or_else(|| ContractError::Unknown {
                dataset: dataset.to_string(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })
    }

    /// Dataset names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.contracts.keys().map(String::as_str)
    }

    /// All contracts, sorted by dataset.
    pub fn iter(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values()
    }

    /// The dataset a dropped file belongs to, from its file name.
    pub fn dataset_for_file(&self, file_name: &str) -> Option<&str> {
        self.contracts
            .values()
            .find(|c| c.matches_file_name(file_name))
            .map(|c| c.dataset.as_str())
    }

    /// The order datasets should be processed in so that referenced datasets come first.
    pub fn dependency_order(&self) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        let mut pending: Vec<&Contract> = self.contracts.values().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|c| {
                let ready = c.rules.iter().all(|r| match &r.check {
                    Check::References { dataset: d, .. } => {
                        *d == c.dataset || order.iter().any(|o| o == d)
                    }
                    _ => true,
                });
                if ready {
                    order.push(c.dataset.clone());
                }
                !ready
            });
            if pending.len() == before {
                // A reference cycle: keep the remaining ones in name order.
                order.extend(pending.drain(..).map(|c| c.dataset.clone()));
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_contracts_load_and_check() {
        let set = ContractSet::defaults().unwrap();
        let names: Vec<_> = set.names().collect();
        assert_eq!(
            names,
            ["clickstream", "customers", "products", "transactions"]
        );
    }

    #[test]
    fn referenced_datasets_are_processed_first() {
        let order = ContractSet::defaults().unwrap().dependency_order();
        let pos = |d: &str| order.iter().position(|o| o == d).unwrap();
        assert!(pos("customers") < pos("transactions"));
        assert!(pos("products") < pos("transactions"));
        assert!(pos("customers") < pos("clickstream"));
    }

    #[test]
    fn normalises_names_ignoring_case_and_punctuation() {
        assert_eq!(normalize_name("Transaction ID"), "transactionid");
        assert_eq!(normalize_name("transaction_id"), "transactionid");
        assert_eq!(normalize_name("\u{feff}firstName"), "firstname");
        assert_eq!(normalize_name("address.city"), "address.city");
    }

    #[test]
    fn rejects_rule_on_unknown_column() {
        let text = r#"
dataset = "x"
version = 1
[[columns]]
name = "a"
type = "string"
[[rules]]
id = "x.b.allowed"
column = "b"
kind = "allowed_values"
values = ["1"]
severity = "reject"
"#;
        let err = Contract::from_toml(text, "test").unwrap_err();
        assert!(err.to_string().contains("column \"b\""), "{err}");
    }

    #[test]
    fn rejects_unknown_field_naming_it() {
        let text = "dataset = \"x\"\nversion = 1\ncolumnz = []\ncolumns = []\n";
        let err = Contract::from_toml(text, "test").unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("columnz"), "{chain}");
    }

    #[test]
    fn rejects_event_time_that_is_not_a_required_timestamp() {
        let text = r#"
dataset = "x"
version = 1
event_time = "a"
[[columns]]
name = "a"
type = "string"
"#;
        assert!(Contract::from_toml(text, "test").is_err());
    }

    #[test]
    fn recognises_secret_field_names_by_word() {
        for name in [
            "password",
            "user_password",
            "bank.cardNumber",
            "bankIban",
            "ssn",
            "crypto.wallet",
            "api_key",
            "accessToken",
            "CVV",
            "pass",
            "pin",
            "cvv2",
            "card_no",
            "cc_num",
            "accountNumber",
            "securityCode",
            "cards[].cardNumber",
            "accounts[].iban",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "business_name",
            "shipping",
            "passport_country",
            "discount",
            "description",
            "tokens_used",
            "shipping_method",
            "compass_heading",
            "spinner",
            "account_type",
            "card_type",
            "postcode",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }

    #[test]
    fn rejects_a_bad_regex_at_load() {
        let text = "dataset = \"x\"\nversion = 1\n[[columns]]\nname = \"a\"\ntype = \"string\"\n[[rules]]\nid = \"x.a.p\"\ncolumn = \"a\"\nkind = \"pattern\"\npattern = \"(\"\nseverity = \"reject\"\n";
        assert!(matches!(
            Contract::from_toml(text, "t"),
            Err(ContractError::Pattern { .. })
        ));
    }

    #[test]
    fn rejects_a_range_on_a_text_column_and_duplicate_rule_ids() {
        let base = "dataset = \"x\"\nversion = 1\n[[columns]]\nname = \"a\"\ntype = \"string\"\n";
        let range = format!(
            "{base}[[rules]]\nid = \"x.a.r\"\ncolumn = \"a\"\nkind = \"range\"\nmin = 0\nseverity = \"reject\"\n"
        );
        assert!(
            Contract::from_toml(&range, "t")
                .unwrap_err()
                .to_string()
                .contains("numeric")
        );
        let rule =
            "[[rules]]\nid = \"x.a.n\"\ncolumn = \"a\"\nkind = \"not_null\"\nseverity = \"warn\"\n";
        let dup = format!("{base}{rule}{rule}");
        assert!(
            Contract::from_toml(&dup, "t")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn rejects_an_optional_primary_key() {
        let text = "dataset = \"x\"\nversion = 1\nprimary_key = [\"a\"]\n[[columns]]\nname = \"a\"\ntype = \"string\"\n";
        assert!(
            Contract::from_toml(text, "t")
                .unwrap_err()
                .to_string()
                .contains("required")
        );
    }

    #[test]
    fn parses_fixed_offset_time_zones() {
        assert_eq!(
            parse_timezone(Some("+02:00")).unwrap().local_minus_utc(),
            7200
        );
        assert_eq!(parse_timezone(Some("UTC")).unwrap().local_minus_utc(), 0);
        assert!(parse_timezone(Some("Europe/Paris")).is_err());
    }

    #[test]
    fn routes_files_to_datasets_by_name() {
        let set = ContractSet::defaults().unwrap();
        assert_eq!(
            set.dataset_for_file("transactions_2024.csv.gz"),
            Some("transactions")
        );
        assert_eq!(set.dataset_for_file("users.json"), Some("customers"));
        assert_eq!(
            set.dataset_for_file("catalog-page-1.json"),
            Some("products")
        );
        assert_eq!(set.dataset_for_file("random.csv"), None);
    }

    const STATUS_BASE: &str = r#"
dataset = "orders"
version = 1
primary_key = ["order_id", "line"]
order_key = ["order_id"]
[[columns]]
name = "order_id"
type = "string"
required = true
[[columns]]
name = "line"
type = "integer"
required = true
[[columns]]
name = "state"
type = "string"
"#;

    #[test]
    fn status_semantics_default_to_both_spellings_of_cancelled() {
        let text = format!("{STATUS_BASE}[status]\ncolumn = \"state\"\n");
        let c = Contract::from_toml(&text, "t").unwrap();
        let s = c.status.as_ref().unwrap();
        assert_eq!(s.classify(" CANCELED "), Some(StatusClass::Cancelled));
        assert_eq!(s.classify("Cancelled"), Some(StatusClass::Cancelled));
        assert_eq!(s.classify("returned"), Some(StatusClass::Returned));
        assert_eq!(s.classify("REFUNDED"), Some(StatusClass::Refunded));
        assert_eq!(s.classify("delivered"), None);
        assert_eq!(
            s.excluded(),
            ["canceled", "cancelled", "refunded", "returned"]
        );
        assert_eq!(c.order_columns(), ["order_id"]);
    }

    #[test]
    fn an_allowed_values_rule_that_rejects_a_declared_status_is_a_load_error() {
        let text = format!(
            "{STATUS_BASE}[status]\ncolumn = \"state\"\n[[rules]]\nid = \"orders.state.allowed\"\ncolumn = \"state\"\nkind = \"allowed_values\"\nvalues = [\"delivered\", \"cancelled\", \"refunded\", \"returned\"]\ncase_insensitive = true\nseverity = \"reject\"\n"
        );
        let err = Contract::from_toml(&text, "t").unwrap_err().to_string();
        assert!(
            err.contains("orders.state.allowed") && err.contains("\"canceled\""),
            "{err}"
        );
        let fixed = text.replace("\"delivered\", ", "\"delivered\", \"Canceled\", ");
        Contract::from_toml(&fixed, "t").unwrap();
    }

    #[test]
    fn a_value_in_two_status_classes_or_a_status_on_a_missing_column_is_a_load_error() {
        let both = format!(
            "{STATUS_BASE}[status]\ncolumn = \"state\"\nrefunded = [\"refunded\", \"CANCELED\"]\n"
        );
        assert!(
            Contract::from_toml(&both, "t")
                .unwrap_err()
                .to_string()
                .contains("both")
        );
        let missing = format!("{STATUS_BASE}[status]\ncolumn = \"status\"\n");
        assert!(Contract::from_toml(&missing, "t").is_err());
    }

    #[test]
    fn an_order_key_outside_the_primary_key_is_a_load_error() {
        let text = STATUS_BASE.replace("order_key = [\"order_id\"]", "order_key = [\"state\"]");
        let err = Contract::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("order_key"), "{err}");
    }

    #[test]
    fn a_mask_on_a_column_that_is_not_pii_is_a_load_error() {
        let text = format!("{STATUS_BASE}mask = \"email\"\n");
        let err = Contract::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("mask"), "{err}");
        let pii = format!("{STATUS_BASE}classification = \"pii\"\nmask = \"initials\"\n");
        let c = Contract::from_toml(&pii, "t").unwrap();
        assert_eq!(c.column("state").unwrap().pii_mask(), Some(Mask::Initials));
    }

    #[test]
    fn an_email_in_a_column_that_is_not_pii_is_masked_with_a_tag_that_keeps_ids_apart() {
        let a = mask_stray_email("bob@shop.example.org").unwrap();
        let b = mask_stray_email("bea@shop.example.org").unwrap();
        assert!(a.starts_with("b***@shop.example.org~"), "{a}");
        assert_ne!(a, b, "two addresses stay two identifiers");
        let sk = mask_stray_email("bob@shop.example.org:1").unwrap();
        assert_eq!(sk, format!("{a}:1"), "an address inside a surrogate key");
        assert_eq!(
            mask_stray_email("to bob@shop.example.org, cc x@y.io.").unwrap(),
            format!("to {a}, cc {}.", mask_stray_email("x@y.io").unwrap())
        );
        assert_eq!(
            mask_stray_email(&a),
            None,
            "a masked value is not masked again"
        );
        assert_eq!(mask_stray_email("a***@example.com"), None);
        for not_email in [
            "C123",
            "Shirt @ 50% off",
            "a@b",
            "@example.com",
            "x@y.c0m",
            "",
        ] {
            assert_eq!(mask_stray_email(not_email), None, "{not_email}");
        }
        assert!(is_email_shaped("o'brien+tag@mail.co.uk"));
    }

    #[test]
    fn masks_emails_to_first_letter_and_domain_and_names_to_initials() {
        assert_eq!(
            Mask::Email.apply("ana.lopez@example.com").as_deref(),
            Some("a***@example.com")
        );
        assert_eq!(
            Mask::Email.apply("Émile@x.fr").as_deref(),
            Some("É***@x.fr")
        );
        assert_eq!(Mask::Email.apply("no-at-sign").as_deref(), Some("***"));
        assert_eq!(Mask::Email.apply("@x.fr").as_deref(), Some("***"));
        assert_eq!(
            Mask::Initials.apply("Ana María López").as_deref(),
            Some("AML")
        );
        assert_eq!(
            Mask::Initials.apply("  jean-luc  picard ").as_deref(),
            Some("JLP")
        );
        assert_eq!(Mask::Initials.apply("   "), None);
        assert_eq!(Mask::Omit.apply("x"), None);
        assert_eq!(
            Mask::Email.gold_column("email").as_deref(),
            Some("email_masked")
        );
        assert_eq!(Mask::Omit.gold_column("phone"), None);
    }

    #[test]
    fn every_pii_column_of_the_builtin_contracts_has_a_gold_treatment() {
        let set = ContractSet::defaults().unwrap();
        let c = set.get("customers").unwrap();
        assert_eq!(c.column("email").unwrap().pii_mask(), Some(Mask::Email));
        assert_eq!(c.column("name").unwrap().pii_mask(), Some(Mask::Initials));
        assert_eq!(c.column("phone").unwrap().pii_mask(), Some(Mask::Omit));
        assert_eq!(c.column("country").unwrap().pii_mask(), None);
        let t = set.get("transactions").unwrap();
        assert_eq!(t.order_columns(), ["transaction_id"]);
        assert_eq!(t.status.as_ref().unwrap().column, "status");
        assert_eq!(
            t.reference_to("products"),
            Some(("product_id", "product_id"))
        );
    }

    #[test]
    fn lists_implied_rule_ids() {
        let set = ContractSet::defaults().unwrap();
        let ids = set.get("transactions").unwrap().rule_ids();
        assert!(ids.contains_key("transactions.customer_id.not_null"));
        assert!(ids.contains_key("transactions.transaction_date.type"));
        assert!(ids.contains_key("transactions.transaction_id.unique"));
        assert_eq!(ids["transactions.customer_id.references"], Severity::Warn);
    }
}
