//! The Amazon States Language as ShopFlow's interpreter reads it: the definition types (serde,
//! unknown fields refused so nothing is silently ignored) and the checks made when a definition
//! is loaded (every transition names an existing state, `Next` xor `End`, `States.ALL` alone
//! and last, tolerated failures only on a distributed Map).
//!
//! Supported: the JSONPath query language with the `Task`, `Map` (inline items through
//! `ItemsPath` or a literal `Items` array), `Choice`, `Pass`, `Succeed` and `Fail` states. Not
//! supported (refused when loading): JSONata, `Wait`, `Parallel`, variables (`Assign`), and a
//! Map's `ItemReader` / `ItemBatcher` / `ResultWriter`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::WorkflowError;

/// `Option<Option<String>>` from a field that may be absent (`None`), `null` (`Some(None)`)
/// or a string: ASL gives an absent path and a `null` path different meanings.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A state machine (or a Map's item processor): where to start and the states by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StateMachine {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// `StartAt`: the name of the state the execution begins with (one of `states`).
    pub start_at: String,
    /// `States`: every state, by the name that `StartAt`, `Next` and `Default` use.
    pub states: BTreeMap<String, State>,
    /// The execution's time limit (not enforced locally).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// `Version` of the ASL the definition is written in (`1.0`): read, not checked.
    #[serde(default)]
    pub version: Option<String>,
    /// `JSONPath` (the default); `JSONata` is refused.
    #[serde(default)]
    pub query_language: Option<String>,
}

/// A Map's item processor: a nested state machine and how it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Processor {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// `INLINE` (default) or `DISTRIBUTED`, and the child execution type.
    #[serde(default)]
    pub processor_config: Option<ProcessorConfig>,
    /// The first state of an iteration.
    pub start_at: String,
    /// The states of an iteration.
    pub states: BTreeMap<String, State>,
}

/// How a Map runs its iterations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProcessorConfig {
    /// `INLINE` or `DISTRIBUTED`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `STANDARD` or `EXPRESS` (distributed mode only).
    #[serde(default)]
    pub execution_type: Option<String>,
}

/// One state.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    /// Calls a resource through a [`TaskRunner`](super::TaskRunner).
    Task(TaskState),
    /// Runs a nested state machine once per item.
    Map(Box<MapState>),
    /// Picks the next state from rules over the input.
    Choice(ChoiceState),
    /// Passes its input on, optionally reshaped or replaced.
    Pass(PassState),
    /// Ends the execution successfully.
    Succeed(SucceedState),
    /// Ends the execution with an error.
    Fail(FailState),
}

impl State {
    /// The ASL type name (`Task`, `Map`, ...): what a [`TraceEntry`](crate::TraceEntry)
    /// records as its `state_type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Task(_) => "Task",
            Self::Map(_) => "Map",
            Self::Choice(_) => "Choice",
            Self::Pass(_) => "Pass",
            Self::Succeed(_) => "Succeed",
            Self::Fail(_) => "Fail",
        }
    }
}

/// A `Task` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TaskState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// What to call (`arn:aws:states:::lambda:invoke`, `arn:aws:states:::sns:publish`, …).
    pub resource: String,
    /// The payload template of the call.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Reshapes the call's result.
    #[serde(default)]
    pub result_selector: Option<Value>,
    /// Selects the effective input (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    /// Where the result goes in the input (`null`: discarded).
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
    /// Selects the output (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
    /// Time limit of one attempt (not enforced locally).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Heartbeat limit (not enforced locally).
    #[serde(default)]
    pub heartbeat_seconds: Option<u64>,
    /// Retry policies, first match wins.
    #[serde(default)]
    pub retry: Vec<Retrier>,
    /// Fallbacks, first match wins.
    #[serde(default)]
    pub catch: Vec<Catcher>,
    /// `Next`: the state to go to; a state has it or `End: true`, never both.
    #[serde(default)]
    pub next: Option<String>,
    /// Whether the state ends its state machine.
    #[serde(default)]
    pub end: Option<bool>,
}

/// A `Map` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MapState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// Where the item array is in the effective input (default `$`).
    #[serde(default)]
    pub items_path: Option<String>,
    /// A literal item array (instead of `ItemsPath`).
    #[serde(default)]
    pub items: Option<Vec<Value>>,
    /// The template of each iteration's input (`$$.Map.Item.Value`, `$$.Map.Item.Index`).
    #[serde(default)]
    pub item_selector: Option<Value>,
    /// The older name of `ItemSelector`.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// What each iteration runs.
    #[serde(default)]
    pub item_processor: Option<Processor>,
    /// The older name of `ItemProcessor`.
    #[serde(default)]
    pub iterator: Option<Processor>,
    /// Iterations at once (locally: one at a time).
    #[serde(default)]
    pub max_concurrency: Option<u64>,
    /// Share of failed iterations that still lets the Map succeed (distributed mode).
    #[serde(default)]
    pub tolerated_failure_percentage: Option<f64>,
    /// Number of failed iterations that still lets the Map succeed (distributed mode).
    #[serde(default)]
    pub tolerated_failure_count: Option<u64>,
    /// `ToleratedFailurePercentage` read from the input.
    #[serde(default)]
    pub tolerated_failure_percentage_path: Option<String>,
    /// `ToleratedFailureCount` read from the input.
    #[serde(default)]
    pub tolerated_failure_count_path: Option<String>,
    /// Names the child executions (distributed mode).
    #[serde(default)]
    pub label: Option<String>,
    /// Reshapes the array of results.
    #[serde(default)]
    pub result_selector: Option<Value>,
    /// Selects the effective input (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    /// Where the results go in the input (`null`: discarded).
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
    /// Selects the output (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
    /// Retry policies for the whole Map.
    #[serde(default)]
    pub retry: Vec<Retrier>,
    /// Fallbacks for the whole Map.
    #[serde(default)]
    pub catch: Vec<Catcher>,
    /// `Next`: the state to go to; a state has it or `End: true`, never both.
    #[serde(default)]
    pub next: Option<String>,
    /// Whether the state ends its state machine.
    #[serde(default)]
    pub end: Option<bool>,
}

impl MapState {
    /// The item processor (`ItemProcessor`, or the older `Iterator`).
    pub fn processor(&self) -> Option<&Processor> {
        self.item_processor.as_ref().or(self.iterator.as_ref())
    }

    /// Whether the Map runs in distributed mode.
    pub fn is_distributed(&self) -> bool {
        self.processor()
            .and_then(|p| p.processor_config.as_ref())
            .and_then(|c| c.mode.as_deref())
            == Some("DISTRIBUTED")
    }

    /// Whether any tolerated-failure field is set.
    pub fn has_tolerance(&self) -> bool {
        self.tolerated_failure_percentage.is_some()
            || self.tolerated_failure_count.is_some()
            || self.tolerated_failure_percentage_path.is_some()
            || self.tolerated_failure_count_path.is_some()
    }
}

/// A `Choice` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChoiceState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// The rules, in order.
    pub choices: Vec<ChoiceRule>,
    /// Where to go when no rule matches.
    #[serde(default)]
    pub default: Option<String>,
    /// Selects the effective input (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    /// Selects the output (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
}

/// A `Pass` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PassState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// A fixed result (replaces the effective input).
    #[serde(default)]
    pub result: Option<Value>,
    /// A payload template over the effective input.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Selects the effective input (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    /// Where the result goes in the input (`null`: discarded).
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
    /// Selects the output (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
    /// `Next`: the state to go to; a state has it or `End: true`, never both.
    #[serde(default)]
    pub next: Option<String>,
    /// Whether the state ends its state machine.
    #[serde(default)]
    pub end: Option<bool>,
}

/// A `Succeed` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SucceedState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// Selects the effective input (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    /// Selects the output (`null`: `{}`).
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
}

/// A `Fail` state.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FailState {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// `Error`: the name of the failure the state raises; it wins over `ErrorPath` (neither:
    /// an empty name).
    #[serde(default)]
    pub error: Option<String>,
    /// The error name, read from the input.
    #[serde(default)]
    pub error_path: Option<String>,
    /// `Cause`: the failure's description; it wins over `CausePath` (neither: empty).
    #[serde(default)]
    pub cause: Option<String>,
    /// The cause, read from the input.
    #[serde(default)]
    pub cause_path: Option<String>,
}

/// A retry policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retrier {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// The errors it applies to.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    #[serde(default)]
    pub interval_seconds: Option<u64>,
    /// Retries at most (default 3; 0 means never).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Multiplier of the interval per retry (default 2).
    #[serde(default)]
    pub backoff_rate: Option<f64>,
    /// Upper bound of the interval.
    #[serde(default)]
    pub max_delay_seconds: Option<u64>,
    /// `FULL` or `NONE`.
    #[serde(default)]
    pub jitter_strategy: Option<String>,
}

impl Retrier {
    /// Retries allowed.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(3)
    }

    /// The nominal wait before retry number `retry` (0-based), in seconds, before jitter.
    pub fn delay_seconds(&self, retry: u32) -> f64 {
        let interval = self.interval_seconds.unwrap_or(1) as f64;
        let rate = self.backoff_rate.unwrap_or(2.0);
        let delay = interval * rate.powi(i32::try_from(retry).unwrap_or(i32::MAX));
        match self.max_delay_seconds {
            Some(max) => delay.min(max as f64),
            None => delay,
        }
    }
}

/// A fallback.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Catcher {
    /// `Comment`: free text, which the interpreter ignores.
    #[serde(default)]
    pub comment: Option<String>,
    /// The errors it applies to.
    pub error_equals: Vec<String>,
    /// The state to go to.
    pub next: String,
    /// Where `{"Error", "Cause"}` goes in the state's input (`null`: discarded).
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
}

/// A top-level rule of a `Choice` state: a condition and where to go when it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Value")]
pub struct ChoiceRule {
    /// The rule's condition: a comparison, or `And` / `Or` / `Not` over nested ones (which
    /// have no `Next` of their own).
    pub condition: Condition,
    /// The state to go to.
    pub next: String,
}

/// A condition of a `Choice` rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All hold.
    And(Vec<Condition>),
    /// One holds.
    Or(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// A comparison of the value at `variable`.
    Compare {
        /// The path of the value compared.
        variable: String,
        /// The operator, read from the rule's key: `NumericGreaterThanEquals` is
        /// `GreaterThanEquals(Numeric)`; with a `Path` suffix, `operand` is a path.
        op: Comparison,
        /// What it is compared with.
        operand: Operand,
    },
}

/// What a comparison compares the variable with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal.
    Literal(Value),
    /// The value at a path of the input (the `…Path` operators).
    Path(String),
}

/// The value kind a comparison works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings.
    String,
    /// Numbers.
    Numeric,
    /// Booleans.
    Boolean,
    /// RFC 3339 timestamps.
    Timestamp,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `…Equals`.
    Equals(Kind),
    /// `…LessThan`.
    LessThan(Kind),
    /// `…GreaterThan`.
    GreaterThan(Kind),
    /// `…LessThanEquals`.
    LessThanEquals(Kind),
    /// `…GreaterThanEquals`.
    GreaterThanEquals(Kind),
    /// `StringMatches` (`*` wildcards).
    Matches,
    /// `IsPresent`.
    IsPresent,
    /// `IsNull`.
    IsNull,
    /// `IsNumeric`.
    IsNumeric,
    /// `IsString`.
    IsString,
    /// `IsBoolean`.
    IsBoolean,
    /// `IsTimestamp`.
    IsTimestamp,
}

impl Comparison {
    /// The operator named `name` (without a `Path` suffix).
    fn parse(name: &str) -> Option<Self> {
        let kinds = [
            ("String", Kind::String),
            ("Numeric", Kind::Numeric),
            ("Boolean", Kind::Boolean),
            ("Timestamp", Kind::Timestamp),
        ];
        match name {
            "StringMatches" => return Some(Self::Matches),
            "IsPresent" => return Some(Self::IsPresent),
            "IsNull" => return Some(Self::IsNull),
            "IsNumeric" => return Some(Self::IsNumeric),
            "IsString" => return Some(Self::IsString),
            "IsBoolean" => return Some(Self::IsBoolean),
            "IsTimestamp" => return Some(Self::IsTimestamp),
            _ => {}
        }
        for (prefix, kind) in kinds {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            return match (rest, kind) {
                ("Equals", _) => Some(Self::Equals(kind)),
                (_, Kind::Boolean) => None,
                ("LessThan", _) => Some(Self::LessThan(kind)),
                ("GreaterThan", _) => Some(Self::GreaterThan(kind)),
                ("LessThanEquals", _) => Some(Self::LessThanEquals(kind)),
                ("GreaterThanEquals", _) => Some(Self::GreaterThanEquals(kind)),
                _ => None,
            };
        }
        None
    }

    /// Whether the operator is a type test (`Is…`), whose operand is a boolean literal.
    pub fn is_test(self) -> bool {
        matches!(
            self,
            Self::IsPresent
                | Self::IsNull
                | Self::IsNumeric
                | Self::IsString
                | Self::IsBoolean
                | Self::IsTimestamp
        )
    }
}

impl TryFrom<Value> for ChoiceRule {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        let next = value
            .get("Next")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a Choice rule needs a \"Next\" state name: {value}"))?
            .to_string();
        Ok(Self {
            condition: parse_condition(&value, true)?,
            next,
        })
    }
}

fn parse_condition(value: &Value, top: bool) -> Result<Condition, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("a Choice rule must be an object: {value}"))?;
    if !top && obj.contains_key("Next") {
        return Err(format!(
            "a nested Choice rule may not have \"Next\": {value}"
        ));
    }
    let mut variable = None;
    let mut operator = None;
    for (k, v) in obj {
        match k.as_str() {
            "Next" | "Comment" => {}
            "Variable" => {
                variable = Some(
                    v.as_str()
                        .ok_or_else(|| format!("\"Variable\" must be a path string: {value}"))?
                        .to_string(),
                );
            }
            _ => {
                if operator.replace((k.as_str(), v)).is_some() {
                    return Err(format!("a Choice rule has more than one operator: {value}"));
                }
            }
        }
    }
    let (name, operand) =
        operator.ok_or_else(|| format!("a Choice rule has no operator: {value}"))?;
    let list = |v: &Value| -> Result<Vec<Condition>, String> {
        v.as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("\"{name}\" takes a non-empty array of rules: {value}"))?
            .iter()
            .map(|r| parse_condition(r, false))
            .collect()
    };
    let boolean = match name {
        "And" => Some(Condition::And(list(operand)?)),
        "Or" => Some(Condition::Or(list(operand)?)),
        "Not" => Some(Condition::Not(Box::new(parse_condition(operand, false)?))),
        _ => None,
    };
    if let Some(c) = boolean {
        if variable.is_some() {
            return Err(format!(
                "\"{name}\" rules take no \"Variable\" of their own: {value}"
            ));
        }
        return Ok(c);
    }
    let variable =
        variable.ok_or_else(|| format!("the \"{name}\" rule needs a \"Variable\": {value}"))?;
    let (base, by_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let op = Comparison::parse(base)
        .ok_or_else(|| format!("unknown Choice operator \"{name}\" in {value}"))?;
    if by_path && (op.is_test() || op == Comparison::Matches) {
        return Err(format!("unknown Choice operator \"{name}\" in {value}"));
    }
    let operand = if by_path {
        Operand::Path(
            operand
                .as_str()
                .ok_or_else(|| format!("\"{name}\" takes a path string: {value}"))?
                .to_string(),
        )
    } else {
        let ok = match op {
            _ if op.is_test() => operand.is_boolean(),
            Comparison::Matches => operand.is_string(),
            Comparison::Equals(Kind::Numeric)
            | Comparison::LessThan(Kind::Numeric)
            | Comparison::GreaterThan(Kind::Numeric)
            | Comparison::LessThanEquals(Kind::Numeric)
            | Comparison::GreaterThanEquals(Kind::Numeric) => operand.is_number(),
            Comparison::Equals(Kind::Boolean) => operand.is_boolean(),
            _ => operand.is_string(),
        };
        if !ok {
            return Err(format!(
                "\"{name}\" has an operand of the wrong type: {value}"
            ));
        }
        Operand::Literal(operand.clone())
    };
    Ok(Condition::Compare {
        variable,
        op,
        operand,
    })
}

impl StateMachine {
    /// Parses and checks a definition.
    pub fn parse(text: &str) -> Result<Self, WorkflowError> {
        let machine: Self = serde_json::from_str(text).map_err(WorkflowError::Parse)?;
        machine.check()?;
        Ok(machine)
    }

    /// Checks what serde cannot: transitions, `Next` xor `End`, error lists, modes.
    pub fn check(&self) -> Result<(), WorkflowError> {
        if let Some(lang) = &self.query_language
            && lang != "JSONPath"
        {
            return Err(WorkflowError::Invalid(format!(
                "QueryLanguage {lang} is not supported (only JSONPath)"
            )));
        }
        check_scope("the state machine", &self.start_at, &self.states)
    }

    /// The states in the order a run visits them when every Task succeeds and every Choice
    /// takes its `Default`: from `StartAt`, following `Next` / `Default`.
    pub fn main_path(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut current = Some(self.start_at.clone());
        while let Some(name) = current {
            if out.contains(&name) {
                break;
            }
            current = match self.states.get(&name) {
                Some(State::Task(s)) => s.next.clone(),
                Some(State::Map(s)) => s.next.clone(),
                Some(State::Pass(s)) => s.next.clone(),
                Some(State::Choice(s)) => s.default.clone(),
                Some(State::Succeed(_) | State::Fail(_)) | None => None,
            };
            out.push(name);
        }
        out
    }
}

fn unknown(from: &str, field: &str, target: &str) -> WorkflowError {
    WorkflowError::UnknownState {
        from: from.to_string(),
        field: field.to_string(),
        target: target.to_string(),
    }
}

fn check_transition(
    name: &str,
    next: &Option<String>,
    end: Option<bool>,
    states: &BTreeMap<String, State>,
) -> Result<(), WorkflowError> {
    match (next, end.unwrap_or(false)) {
        (Some(_), true) => Err(WorkflowError::Invalid(format!(
            "state {name} has both \"Next\" and \"End\""
        ))),
        (None, false) => Err(WorkflowError::Invalid(format!(
            "state {name} has neither \"Next\" nor \"End\": true"
        ))),
        (Some(target), false) if !states.contains_key(target) => Err(unknown(name, "Next", target)),
        _ => Ok(()),
    }
}

fn check_errors(name: &str, field: &str, lists: &[&Vec<String>]) -> Result<(), WorkflowError> {
    for (i, list) in lists.iter().enumerate() {
        if list.is_empty() {
            return Err(WorkflowError::Invalid(format!(
                "state {name}: a {field} has an empty \"ErrorEquals\""
            )));
        }
        if list.iter().any(|e| e == "States.ALL") && (list.len() > 1 || i + 1 < lists.len()) {
            return Err(WorkflowError::Invalid(format!(
                "state {name}: States.ALL must be alone in the last {field}"
            )));
        }
    }
    Ok(())
}

fn check_retry_catch(
    name: &str,
    retry: &[Retrier],
    catch: &[Catcher],
    states: &BTreeMap<String, State>,
) -> Result<(), WorkflowError> {
    let retry_lists: Vec<&Vec<String>> = retry.iter().map(|r| &r.error_equals).collect();
    check_errors(name, "Retry", &retry_lists)?;
    let catch_lists: Vec<&Vec<String>> = catch.iter().map(|c| &c.error_equals).collect();
    check_errors(name, "Catch", &catch_lists)?;
    for c in catch {
        if !states.contains_key(&c.next) {
            return Err(unknown(name, "Catch Next", &c.next));
        }
    }
    Ok(())
}

fn check_scope(
    scope: &str,
    start_at: &str,
    states: &BTreeMap<String, State>,
) -> Result<(), WorkflowError> {
    if !states.contains_key(start_at) {
        return Err(unknown(scope, "StartAt", start_at));
    }
    for (name, state) in states {
        match state {
            State::Task(s) => {
                check_transition(name, &s.next, s.end, states)?;
                check_retry_catch(name, &s.retry, &s.catch, states)?;
            }
            State::Pass(s) => check_transition(name, &s.next, s.end, states)?,
            State::Map(s) => {
                check_transition(name, &s.next, s.end, states)?;
                check_retry_catch(name, &s.retry, &s.catch, states)?;
                let processor = s.processor().ok_or_else(|| {
                    WorkflowError::Invalid(format!("Map state {name} has no \"ItemProcessor\""))
                })?;
                if s.items.is_some() && s.items_path.is_some() {
                    return Err(WorkflowError::Invalid(format!(
                        "Map state {name} has both \"Items\" and \"ItemsPath\""
                    )));
                }
                if s.has_tolerance() && !s.is_distributed() {
                    return Err(WorkflowError::Invalid(format!(
                        "Map state {name}: tolerated failures need \"ProcessorConfig\": {{\"Mode\": \"DISTRIBUTED\"}}"
                    )));
                }
                check_scope(
                    &format!("the item processor of {name}"),
                    &processor.start_at,
                    &processor.states,
                )?;
            }
            State::Choice(s) => {
                if s.choices.is_empty() {
                    return Err(WorkflowError::Invalid(format!(
                        "Choice state {name} has no rules"
                    )));
                }
                for rule in &s.choices {
                    if !states.contains_key(&rule.next) {
                        return Err(unknown(name, "Choice rule Next", &rule.next));
                    }
                }
                if let Some(d) = &s.default
                    && !states.contains_key(d)
                {
                    return Err(unknown(name, "Default", d));
                }
            }
            State::Fail(s) => {
                if s.error.is_some() && s.error_path.is_some()
                    || s.cause.is_some() && s.cause_path.is_some()
                {
                    return Err(WorkflowError::Invalid(format!(
                        "Fail state {name} has both a literal and a path for its error or cause"
                    )));
                }
            }
            State::Succeed(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_naming_a_state_that_does_not_exist_is_refused_with_its_name() {
        let text = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"}
        }}"#;
        let err = StateMachine::parse(text).unwrap_err();
        assert!(
            matches!(&err, WorkflowError::UnknownState { from, target, .. } if from == "A" && target == "Nowhere"),
            "{err}"
        );
        assert!(err.to_string().contains("Nowhere"), "{err}");
    }

    #[test]
    fn a_start_at_or_catch_target_that_does_not_exist_is_refused() {
        let start = r#"{"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}}"#;
        assert!(matches!(
            StateMachine::parse(start),
            Err(WorkflowError::UnknownState { .. })
        ));
        let catch = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone"}]}}}"#;
        let err = StateMachine::parse(catch).unwrap_err();
        assert!(err.to_string().contains("Gone"), "{err}");
    }

    #[test]
    fn unknown_fields_and_unsupported_state_types_are_refused() {
        let field =
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Nxt": "B"}}}"#;
        assert!(matches!(
            StateMachine::parse(field),
            Err(WorkflowError::Parse(_))
        ));
        let wait =
            r#"{"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": true}}}"#;
        assert!(matches!(
            StateMachine::parse(wait),
            Err(WorkflowError::Parse(_))
        ));
    }

    #[test]
    fn states_all_must_come_alone_and_last() {
        let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}"#;
        assert!(matches!(
            StateMachine::parse(text),
            Err(WorkflowError::Invalid(_))
        ));
    }

    #[test]
    fn tolerated_failures_need_a_distributed_map() {
        let text = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ToleratedFailurePercentage": 10,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}"#;
        let err = StateMachine::parse(text).unwrap_err();
        assert!(err.to_string().contains("DISTRIBUTED"), "{err}");
    }

    #[test]
    fn choice_rules_parse_operators_paths_and_boolean_combinations() {
        let text = r#"{"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "D", "Choices": [
                {"Variable": "$.n", "NumericGreaterThanPath": "$.limit", "Next": "D"},
                {"And": [{"Variable": "$.s", "StringEquals": "x"},
                         {"Not": {"Variable": "$.b", "BooleanEquals": true}}], "Next": "D"}
            ]},
            "D": {"Type": "Succeed"}}}"#;
        let m = StateMachine::parse(text).unwrap();
        let State::Choice(c) = &m.states["C"] else {
            panic!()
        };
        assert_eq!(
            c.choices[0].condition,
            Condition::Compare {
                variable: "$.n".into(),
                op: Comparison::GreaterThan(Kind::Numeric),
                operand: Operand::Path("$.limit".into())
            }
        );
        assert!(matches!(&c.choices[1].condition, Condition::And(v) if v.len() == 2));
    }

    #[test]
    fn a_choice_operator_that_does_not_exist_or_has_the_wrong_operand_is_refused() {
        for rule in [
            r#"{"Variable": "$.n", "NumericBiggerThan": 1, "Next": "D"}"#,
            r#"{"Variable": "$.n", "NumericGreaterThan": "1", "Next": "D"}"#,
            r#"{"Variable": "$.n", "IsPresentPath": "$.x", "Next": "D"}"#,
            r#"{"Variable": "$.n", "NumericEquals": 1}"#,
        ] {
            let text = format!(
                r#"{{"StartAt": "C", "States": {{"C": {{"Type": "Choice", "Choices": [{rule}]}}, "D": {{"Type": "Succeed"}}}}}}"#
            );
            assert!(StateMachine::parse(&text).is_err(), "{rule}");
        }
    }

    #[test]
    fn backoff_grows_by_the_rate_and_stops_at_the_cap() {
        let r: Retrier = serde_json::from_str(
            r#"{"ErrorEquals": ["X"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxDelaySeconds": 10}"#,
        )
        .unwrap();
        assert_eq!(r.delay_seconds(0), 2.0);
        assert_eq!(r.delay_seconds(1), 6.0);
        assert_eq!(r.delay_seconds(2), 10.0);
        assert_eq!(r.max_attempts(), 3);
    }

    #[test]
    fn the_main_path_follows_next_and_choice_defaults_from_start_at() {
        let text = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Default": "B", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "F"}]},
            "B": {"Type": "Succeed"},
            "F": {"Type": "Fail"}}}"#;
        assert_eq!(
            StateMachine::parse(text).unwrap().main_path(),
            ["A", "C", "B"]
        );
    }
}
