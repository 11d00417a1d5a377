//! The interpreter: [`execute`] walks a [`StateMachine`] from `StartAt`, one state at a time,
//! and records what each visited state did.
//!
//! Data flow per state, as in Step Functions: `InputPath` → `Parameters` (or `ItemSelector`) →
//! the work → `ResultSelector` → `ResultPath` (into the state's raw input) → `OutputPath`. An
//! error is matched against `Retry` (first retrier whose `ErrorEquals` matches; each retrier
//! counts its own attempts) and then `Catch` (the catcher puts `{"Error", "Cause"}` at its
//! `ResultPath` in the raw input and moves on to its `Next`). `States.Runtime` errors (a path
//! that is not in the input, a bad intrinsic call) end the execution: nothing retries or
//! catches them.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::asl::{
    Catcher, ChoiceState, Comparison, Condition, FailState, Kind, MapState, Operand, PassState,
    Retrier, State, StateMachine, SucceedState, TaskState,
};
use super::path::{expression, lookup, place, resolve, select, template};
use super::{
    Execution, ExecutionStatus, Iteration, Outcome, TaskFailure, TaskRunner, TraceEntry,
    WorkflowError,
};

/// Settings of an execution.
#[derive(Debug, Clone)]
pub struct Options {
    /// The state machine's name (for `$$.StateMachine` and the execution id).
    pub state_machine: String,
    /// The execution's name (for `$$.Execution.Name` and `$$.Execution.Id`).
    pub execution: String,
    /// Transitions after which the execution is stopped (a loop guard; Step Functions allows
    /// 25,000 history events).
    pub max_transitions: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            state_machine: "local".into(),
            execution: "local".into(),
            max_transitions: 25_000,
        }
    }
}

/// Runs `machine` on `input`, dispatching Tasks to `runner`.
pub async fn execute(
    machine: &StateMachine,
    input: Value,
    runner: &dyn TaskRunner,
    options: &Options,
) -> Result<Execution, WorkflowError> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let context = json!({
        "Execution": {
            "Id": format!("arn:aws:states:local:000000000000:execution:{}:{}", options.state_machine, options.execution),
            "Name": options.execution,
            "Input": input,
            "StartTime": now,
        },
        "StateMachine": {
            "Id": format!("arn:aws:states:local:000000000000:stateMachine:{}", options.state_machine),
            "Name": options.state_machine,
        },
    });
    let mut engine = Engine {
        runner,
        transitions: 0,
        limit: options.max_transitions,
    };
    let mut trace = Vec::new();
    let result = engine
        .run_scope(
            &machine.start_at,
            &machine.states,
            input,
            &context,
            &mut trace,
        )
        .await?;
    Ok(match result {
        Ok(output) => Execution {
            status: ExecutionStatus::Succeeded,
            output: Some(output),
            trace,
        },
        Err(failure) => Execution {
            status: ExecutionStatus::Failed(failure),
            output: None,
            trace,
        },
    })
}

/// Where a state leads.
enum Flow {
    Next(String, Value),
    End(Value),
    Fail(TaskFailure),
}

struct Engine<'r> {
    runner: &'r dyn TaskRunner,
    transitions: usize,
    limit: usize,
}

type ScopeResult = Result<Result<Value, TaskFailure>, WorkflowError>;

fn entry(name: &str, state: &State) -> TraceEntry {
    TraceEntry {
        state: name.to_string(),
        state_type: state.type_name().to_string(),
        outcome: Outcome::Succeeded,
        attempts: 0,
        retried: Vec::new(),
        next: None,
        note: None,
        iterations: Vec::new(),
    }
}

fn transition(next: &Option<String>, output: Value) -> Flow {
    match next {
        Some(n) => Flow::Next(n.clone(), output),
        None => Flow::End(output),
    }
}

fn failed(f: &TaskFailure) -> Outcome {
    Outcome::Failed {
        error: f.error.clone(),
        cause: f.cause.clone(),
    }
}

/// The first retrier whose `ErrorEquals` matches.
fn retrier_for(retry: &[Retrier], failure: &TaskFailure) -> Option<usize> {
    retry.iter().position(|r| failure.matches(&r.error_equals))
}

/// After a failed attempt: the first retrier whose `ErrorEquals` matches `failure`, if it has
/// attempts left (`used` counts each retrier's retries so far), counts the retry and notes it in
/// the trace with its delay, and the state tries again; otherwise the failure comes back.
fn retry_or_give_up(
    retry: &[Retrier],
    used: &mut [u32],
    failure: TaskFailure,
    e: &mut TraceEntry,
) -> Result<(), TaskFailure> {
    match retrier_for(retry, &failure) {
        Some(i) if used[i] < retry[i].max_attempts() => {
            e.retried
                .push((failure.error, retry[i].delay_seconds(used[i])));
            used[i] += 1;
            Ok(())
        }
        _ => Err(failure),
    }
}

/// After a failure that no retry handles: the first matching catcher, or the failure.
fn catch_or_fail(
    catch: &[Catcher],
    failure: TaskFailure,
    raw_input: Value,
    e: &mut TraceEntry,
) -> Flow {
    match catch.iter().find(|c| failure.matches(&c.error_equals)) {
        Some(c) => match place(&c.result_path, raw_input, failure.to_value()) {
            Ok(output) => {
                e.outcome = Outcome::Caught {
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                };
                e.next = Some(c.next.clone());
                Flow::Next(c.next.clone(), output)
            }
            Err(f) => {
                e.outcome = failed(&f);
                Flow::Fail(f)
            }
        },
        None => {
            e.outcome = failed(&failure);
            Flow::Fail(failure)
        }
    }
}

/// `ResultSelector` → `ResultPath` → `OutputPath`.
fn finish(
    result: Value,
    selector: &Option<Value>,
    result_path: &Option<Option<String>>,
    output_path: &Option<Option<String>>,
    raw_input: Value,
    context: &Value,
) -> Result<Value, TaskFailure> {
    let result = match selector {
        Some(t) => template(t, &result, context)?,
        None => result,
    };
    let combined = place(result_path, raw_input, result)?;
    select(output_path, combined)
}

impl Engine<'_> {
    fn run_scope<'a>(
        &'a mut self,
        start_at: &'a str,
        states: &'a BTreeMap<String, State>,
        input: Value,
        context: &'a Value,
        trace: &'a mut Vec<TraceEntry>,
    ) -> Pin<Box<dyn Future<Output = ScopeResult> + Send + 'a>> {
        Box::pin(async move {
            let mut name = start_at.to_string();
            let mut data = input;
            loop {
                self.transitions += 1;
                if self.transitions > self.limit {
                    return Err(WorkflowError::TooManyTransitions { limit: self.limit });
                }
                let state = states
                    .get(&name)
                    .ok_or_else(|| WorkflowError::UnknownState {
                        from: "a transition".into(),
                        field: "Next".into(),
                        target: name.clone(),
                    })?;
                let mut e = entry(&name, state);
                let mut ctx = context.clone();
                ctx["State"] = json!({
                    "Name": name,
                    "EnteredTime": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                    "RetryCount": 0,
                });
                let flow = match state {
                    State::Pass(s) => pass(s, data, &ctx, &mut e),
                    State::Task(s) => self.task(s, data, &mut ctx, &mut e).await,
                    State::Map(s) => self.map(s, data, &ctx, &mut e).await?,
                    State::Choice(s) => choice(s, data, &ctx, &mut e),
                    State::Succeed(s) => succeed(s, data),
                    State::Fail(s) => fail(s, &data, &ctx),
                };
                match &flow {
                    Flow::Next(n, _) => e.next = Some(n.clone()),
                    Flow::Fail(f) => {
                        if !matches!(e.outcome, Outcome::Failed { .. }) {
                            e.outcome = failed(f);
                        }
                    }
                    Flow::End(_) => {}
                }
                trace.push(e);
                match flow {
                    Flow::Next(n, v) => {
                        name = n;
                        data = v;
                    }
                    Flow::End(v) => return Ok(Ok(v)),
                    Flow::Fail(f) => return Ok(Err(f)),
                }
            }
        })
    }

    async fn task(
        &mut self,
        s: &TaskState,
        data: Value,
        ctx: &mut Value,
        e: &mut TraceEntry,
    ) -> Flow {
        let params =
            select(&s.input_path, data.clone()).and_then(|effective| match &s.parameters {
                Some(t) => template(t, &effective, ctx),
                None => Ok(effective),
            });
        let params = match params {
            Ok(p) => p,
            Err(f) => return Flow::Fail(f),
        };
        let mut used = vec![0u32; s.retry.len()];
        let result = loop {
            e.attempts += 1;
            let failure = match self.runner.run(&s.resource, params.clone()).await {
                Ok(v) => break Ok(v),
                Err(f) => f,
            };
            if let Err(f) = retry_or_give_up(&s.retry, &mut used, failure, e) {
                break Err(f);
            }
            ctx["State"]["RetryCount"] = json!(e.attempts);
        };
        let output = result.and_then(|r| {
            finish(
                r,
                &s.result_selector,
                &s.result_path,
                &s.output_path,
                data.clone(),
                ctx,
            )
        });
        match output {
            Ok(v) => transition(&s.next, v),
            Err(f) => catch_or_fail(&s.catch, f, data, e),
        }
    }

    async fn map(
        &mut self,
        s: &MapState,
        data: Value,
        ctx: &Value,
        e: &mut TraceEntry,
    ) -> Result<Flow, WorkflowError> {
        let prepared = select(&s.input_path, data.clone()).and_then(|effective| {
            let items = match (&s.items, s.items_path.as_deref()) {
                (Some(items), _) => items.clone(),
                (None, path) => match resolve(path.unwrap_or("$"), &effective, ctx)? {
                    Value::Array(items) => items,
                    other => {
                        return Err(TaskFailure::runtime(format!(
                            "the items of Map {} are not an array: {}",
                            e.state,
                            super::path::abbreviate(&other)
                        )));
                    }
                },
            };
            let number = |literal: Option<f64>, path: &Option<String>| match path {
                Some(p) => resolve(p, &effective, ctx)?
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| {
                        TaskFailure::runtime(format!("{p} is not a number in Map {}", e.state))
                    }),
                None => Ok(literal),
            };
            let pct = number(
                s.tolerated_failure_percentage,
                &s.tolerated_failure_percentage_path,
            )?;
            let count = number(
                s.tolerated_failure_count.map(|c| c as f64),
                &s.tolerated_failure_count_path,
            )?;
            Ok((effective, items, pct, count))
        });
        let (effective, items, pct, count) = match prepared {
            Ok(p) => p,
            Err(f) => return Ok(Flow::Fail(f)),
        };
        let Some(processor) = s.processor() else {
            return Err(WorkflowError::Invalid(format!(
                "Map state {} has no \"ItemProcessor\"",
                e.state
            )));
        };
        let selector = s.item_selector.as_ref().or(s.parameters.as_ref());
        let mut used = vec![0u32; s.retry.len()];
        let result = loop {
            e.attempts += 1;
            let total = items.len();
            let mut results = Vec::with_capacity(total);
            let mut failures = 0usize;
            let mut first_failure: Option<TaskFailure> = None;
            let mut exceeded = false;
            e.iterations.clear();
            for (index, item) in items.iter().enumerate() {
                let mut item_ctx = ctx.clone();
                item_ctx["Map"] = json!({ "Item": { "Index": index, "Value": item } });
                let input = match selector {
                    Some(t) => template(t, &effective, &item_ctx),
                    None => Ok(item.clone()),
                };
                let mut child = Vec::new();
                let outcome = match &input {
                    Ok(i) => {
                        self.run_scope(
                            &processor.start_at,
                            &processor.states,
                            i.clone(),
                            ctx,
                            &mut child,
                        )
                        .await?
                    }
                    Err(f) => Err(f.clone()),
                };
                let failure = outcome.as_ref().err().cloned();
                match outcome {
                    Ok(v) => results.push(v),
                    Err(f) => {
                        failures += 1;
                        results.push(f.to_value());
                        first_failure.get_or_insert(f);
                    }
                }
                e.iterations.push(Iteration {
                    index,
                    input: input.unwrap_or(Value::Null),
                    trace: child,
                    failure,
                });
                exceeded = failures > 0
                    && if s.has_tolerance() {
                        count.is_some_and(|c| failures as f64 > c)
                            || pct.is_some_and(|p| failures as f64 * 100.0 > p * total as f64)
                    } else {
                        true
                    };
                if exceeded {
                    break;
                }
            }
            e.note = Some(format!(
                "{total} item(s): {} succeeded, {failures} failed{}",
                results.len() - failures,
                if exceeded && results.len() < total {
                    format!(", {} not started", total - results.len())
                } else {
                    String::new()
                }
            ));
            let attempt = match first_failure {
                Some(f) if exceeded => Err(if s.is_distributed() {
                    TaskFailure::new(
                        "States.ExceedToleratedFailureThreshold",
                        format!(
                            "{failures} of {total} item(s) failed, more than tolerated; first failure: {}: {}",
                            f.error, f.cause
                        ),
                    )
                } else {
                    f
                }),
                _ => Ok(Value::Array(results)),
            };
            let failure = match attempt {
                Ok(v) => break Ok(v),
                Err(f) => f,
            };
            if let Err(f) = retry_or_give_up(&s.retry, &mut used, failure, e) {
                break Err(f);
            }
        };
        let output = result.and_then(|r| {
            finish(
                r,
                &s.result_selector,
                &s.result_path,
                &s.output_path,
                data.clone(),
                ctx,
            )
        });
        Ok(match output {
            Ok(v) => transition(&s.next, v),
            Err(f) => catch_or_fail(&s.catch, f, data, e),
        })
    }
}

fn pass(s: &PassState, data: Value, ctx: &Value, e: &mut TraceEntry) -> Flow {
    let output = select(&s.input_path, data.clone()).and_then(|effective| {
        let result = match (&s.result, &s.parameters) {
            (Some(r), _) => r.clone(),
            (None, Some(t)) => template(t, &effective, ctx)?,
            (None, None) => effective,
        };
        select(&s.output_path, place(&s.result_path, data, result)?)
    });
    match output {
        Ok(v) => transition(&s.next, v),
        Err(f) => {
            e.outcome = failed(&f);
            Flow::Fail(f)
        }
    }
}

fn succeed(s: &SucceedState, data: Value) -> Flow {
    match select(&s.input_path, data).and_then(|v| select(&s.output_path, v)) {
        Ok(v) => Flow::End(v),
        Err(f) => Flow::Fail(f),
    }
}

fn fail(s: &FailState, data: &Value, ctx: &Value) -> Flow {
    let text = |literal: &Option<String>, path: &Option<String>| -> Result<String, TaskFailure> {
        match (literal, path) {
            (Some(l), _) => Ok(l.clone()),
            (None, Some(p)) => match expression(p, data, ctx)? {
                Value::String(s) => Ok(s),
                other => Ok(other.to_string()),
            },
            (None, None) => Ok(String::new()),
        }
    };
    match (text(&s.error, &s.error_path), text(&s.cause, &s.cause_path)) {
        (Ok(error), Ok(cause)) => Flow::Fail(TaskFailure::new(error, cause)),
        (Err(f), _) | (_, Err(f)) => Flow::Fail(f),
    }
}

fn choice(s: &ChoiceState, data: Value, ctx: &Value, e: &mut TraceEntry) -> Flow {
    let effective = match select(&s.input_path, data) {
        Ok(v) => v,
        Err(f) => return Flow::Fail(f),
    };
    let mut chosen = None;
    for (i, rule) in s.choices.iter().enumerate() {
        match holds(&rule.condition, &effective, ctx) {
            Ok(true) => {
                chosen = Some((format!("rule {} matched", i + 1), rule.next.clone()));
                break;
            }
            Ok(false) => {}
            Err(f) => return Flow::Fail(f),
        }
    }
    let (note, next) = match (chosen, &s.default) {
        (Some(c), _) => c,
        (None, Some(d)) => ("no rule matched: Default".to_string(), d.clone()),
        (None, None) => {
            return Flow::Fail(TaskFailure::new(
                "States.NoChoiceMatched",
                format!(
                    "no Choice rule of {} matched and it has no Default",
                    e.state
                ),
            ));
        }
    };
    e.note = Some(note);
    match select(&s.output_path, effective) {
        Ok(v) => Flow::Next(next, v),
        Err(f) => Flow::Fail(f),
    }
}

fn timestamp(v: &Value) -> Option<DateTime<chrono::FixedOffset>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
}

/// `*` matches any run of characters; `\*` is a literal star.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut tokens: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // matched[j]: the tokens so far match text[..j].
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for token in tokens {
        match token {
            None => {
                for j in 1..=text.len() {
                    matched[j] = matched[j] || matched[j - 1];
                }
            }
            Some(c) => {
                for j in (1..=text.len()).rev() {
                    matched[j] = matched[j - 1] && text[j - 1] == c;
                }
                matched[0] = false;
            }
        }
    }
    matched[text.len()]
}

/// Whether a condition holds over the effective input.
pub fn holds(condition: &Condition, input: &Value, ctx: &Value) -> Result<bool, TaskFailure> {
    match condition {
        Condition::And(all) => {
            for c in all {
                if !holds(c, input, ctx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Condition::Or(any) => {
            for c in any {
                if holds(c, input, ctx)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Condition::Not(c) => Ok(!holds(c, input, ctx)?),
        Condition::Compare {
            variable,
            op,
            operand,
        } => {
            let value = lookup(variable, input, ctx)?;
            if *op == Comparison::IsPresent {
                return Ok(value.is_some() == (operand == &Operand::Literal(Value::Bool(true))));
            }
            let value = value.ok_or_else(|| {
                TaskFailure::runtime(format!(
                    "the Choice variable {variable} could not be found in the input {}",
                    super::path::abbreviate(input)
                ))
            })?;
            let other = match operand {
                Operand::Literal(v) => v.clone(),
                Operand::Path(p) => resolve(p, input, ctx)?,
            };
            let expect = other.as_bool() == Some(true);
            Ok(match op {
                Comparison::IsNull => value.is_null() == expect,
                Comparison::IsNumeric => value.is_number() == expect,
                Comparison::IsString => value.is_string() == expect,
                Comparison::IsBoolean => value.is_boolean() == expect,
                Comparison::IsTimestamp => timestamp(value).is_some() == expect,
                Comparison::IsPresent => true,
                Comparison::Matches => match (value.as_str(), other.as_str()) {
                    (Some(text), Some(pattern)) => wildcard(pattern, text),
                    _ => false,
                },
                Comparison::Equals(kind)
                | Comparison::LessThan(kind)
                | Comparison::GreaterThan(kind)
                | Comparison::LessThanEquals(kind)
                | Comparison::GreaterThanEquals(kind) => {
                    let ordering = match kind {
                        Kind::Numeric => match (value.as_f64(), other.as_f64()) {
                            (Some(a), Some(b)) => a.partial_cmp(&b),
                            _ => None,
                        },
                        Kind::String => match (value.as_str(), other.as_str()) {
                            (Some(a), Some(b)) => Some(a.cmp(b)),
                            _ => None,
                        },
                        Kind::Boolean => match (value.as_bool(), other.as_bool()) {
                            (Some(a), Some(b)) => Some(a.cmp(&b)),
                            _ => None,
                        },
                        Kind::Timestamp => match (timestamp(value), timestamp(&other)) {
                            (Some(a), Some(b)) => Some(a.cmp(&b)),
                            _ => None,
                        },
                    };
                    let Some(ordering) = ordering else {
                        // A value of another type never matches.
                        return Ok(false);
                    };
                    match op {
                        Comparison::Equals(_) => ordering.is_eq(),
                        Comparison::LessThan(_) => ordering.is_lt(),
                        Comparison::GreaterThan(_) => ordering.is_gt(),
                        Comparison::LessThanEquals(_) => ordering.is_le(),
                        _ => ordering.is_ge(),
                    }
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LAMBDA_INVOKE, Target, lambda_result};
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Answers each function from a script: a list of results per function name, used in
    /// order (the last one repeats), and records every call.
    #[derive(Default)]
    struct Script {
        answers: HashMap<String, Vec<Result<Value, TaskFailure>>>,
        calls: Mutex<Vec<(String, Value)>>,
    }

    impl Script {
        fn answer(mut self, function: &str, results: Vec<Result<Value, TaskFailure>>) -> Self {
            self.answers.insert(function.to_string(), results);
            self
        }
        fn calls(&self) -> Vec<(String, Value)> {
            self.calls.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl TaskRunner for Script {
        async fn run(&self, resource: &str, parameters: Value) -> Result<Value, TaskFailure> {
            let (function, payload, optimized) = match Target::of(resource, &parameters)? {
                Target::Lambda {
                    function,
                    payload,
                    optimized,
                } => (function.to_string(), payload.clone(), optimized),
                Target::SnsPublish { topic, .. } => (topic.to_string(), parameters.clone(), true),
                Target::Other => (resource.to_string(), parameters.clone(), false),
            };
            let n = {
                let mut calls = self.calls.lock().unwrap();
                let n = calls.iter().filter(|(f, _)| f == &function).count();
                calls.push((function.clone(), payload.clone()));
                n
            };
            let script = self
                .answers
                .get(&function)
                .unwrap_or_else(|| panic!("no answer for {function}"));
            let answer = script[n.min(script.len() - 1)].clone();
            answer.map(|v| lambda_result(v, optimized))
        }
    }

    fn machine(text: &str) -> StateMachine {
        StateMachine::parse(text).unwrap()
    }

    async fn run(m: &StateMachine, input: Value, script: &Script) -> Execution {
        execute(m, input, script, &Options::default())
            .await
            .unwrap()
    }

    fn fail(error: &str) -> Result<Value, TaskFailure> {
        Err(TaskFailure::new(error, format!("{error} happened")))
    }

    const GATE: &str = r#"{"StartAt": "Defaults", "States": {
        "Defaults": {"Type": "Pass", "Result": {"max": 5}, "ResultPath": "$.defaults", "Next": "Merge"},
        "Merge": {"Type": "Pass", "Parameters": {"args.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
                  "OutputPath": "$.args", "Next": "Gate"},
        "Gate": {"Type": "Choice", "Choices": [
            {"Variable": "$.pct", "NumericGreaterThanPath": "$.max", "Next": "TooBad"},
            {"And": [{"Variable": "$.mode", "IsPresent": true}, {"Variable": "$.mode", "StringEquals": "dry"}], "Next": "Dry"},
            {"Not": {"Variable": "$.ok", "BooleanEquals": true}, "Next": "NotOk"}
          ], "Default": "Good"},
        "TooBad": {"Type": "Fail", "Error": "TooBad", "Cause": "over the threshold"},
        "Dry": {"Type": "Succeed"},
        "NotOk": {"Type": "Fail", "ErrorPath": "$.why", "Cause": "not ok"},
        "Good": {"Type": "Succeed"}}}"#;

    #[tokio::test]
    async fn a_choice_takes_the_first_rule_that_holds_and_otherwise_its_default() {
        let m = machine(GATE);
        let s = Script::default();
        let over = run(&m, json!({"pct": 7.5, "ok": true}), &s).await;
        assert_eq!(over.visited(), ["Defaults", "Merge", "Gate", "TooBad"]);
        assert_eq!(
            over.status,
            ExecutionStatus::Failed(TaskFailure::new("TooBad", "over the threshold"))
        );
        // The threshold carried in the input wins over the default.
        let raised = run(&m, json!({"pct": 7.5, "max": 10, "ok": true}), &s).await;
        assert_eq!(raised.visited(), ["Defaults", "Merge", "Gate", "Good"]);
        assert!(raised.succeeded());
        assert_eq!(
            raised.trace[2].note.as_deref(),
            Some("no rule matched: Default")
        );
        let dry = run(&m, json!({"pct": 1, "mode": "dry", "ok": true}), &s).await;
        assert_eq!(dry.visited().last(), Some(&"Dry"));
        let not_ok = run(&m, json!({"pct": 1, "ok": false, "why": "Broken"}), &s).await;
        assert_eq!(not_ok.visited().last(), Some(&"NotOk"));
        assert_eq!(
            not_ok.status,
            ExecutionStatus::Failed(TaskFailure::new("Broken", "not ok"))
        );
    }

    #[tokio::test]
    async fn a_choice_over_a_missing_variable_is_a_runtime_failure() {
        let m = machine(GATE);
        let out = run(&m, json!({"ok": true}), &Script::default()).await;
        let ExecutionStatus::Failed(f) = out.status else {
            panic!()
        };
        assert_eq!(f.error, "States.Runtime");
        assert!(f.cause.contains("$.pct"), "{}", f.cause);
    }

    #[test]
    fn comparisons_of_other_types_never_match_and_wildcards_match_runs() {
        let c = |op, operand| Condition::Compare {
            variable: "$.v".into(),
            op,
            operand: Operand::Literal(operand),
        };
        let ctx = Value::Null;
        let gt = c(Comparison::GreaterThan(Kind::Numeric), json!(1));
        assert!(holds(&gt, &json!({"v": 2}), &ctx).unwrap());
        assert!(!holds(&gt, &json!({"v": "2"}), &ctx).unwrap());
        let le = c(Comparison::LessThanEquals(Kind::Numeric), json!(2));
        assert!(holds(&le, &json!({"v": 2}), &ctx).unwrap());
        let m = c(Comparison::Matches, json!("landing/*.csv"));
        assert!(holds(&m, &json!({"v": "landing/t/x.csv"}), &ctx).unwrap());
        assert!(!holds(&m, &json!({"v": "landing/t/x.json"}), &ctx).unwrap());
        let ts = c(
            Comparison::LessThan(Kind::Timestamp),
            json!("2026-11-21T00:00:00Z"),
        );
        assert!(holds(&ts, &json!({"v": "2026-11-20T23:59:59+00:00"}), &ctx).unwrap());
        let null = c(Comparison::IsNull, json!(true));
        assert!(holds(&null, &json!({"v": null}), &ctx).unwrap());
        let present = c(Comparison::IsPresent, json!(false));
        assert!(holds(&present, &json!({}), &ctx).unwrap());
    }

    const TASK: &str = r#"{"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "${f_arn}", "Payload": {"date.$": "$.date"}},
          "ResultSelector": {"n.$": "$.Payload.n"}, "ResultPath": "$.result",
          "Retry": [
            {"ErrorEquals": ["ShopFlow.InvalidInput"], "MaxAttempts": 0},
            {"ErrorEquals": ["Lambda.ServiceException", "ShopFlow.Retryable"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2}
          ],
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
          "Next": "Done"},
        "Recover": {"Type": "Pass", "End": true},
        "Done": {"Type": "Succeed"}}}"#;

    #[tokio::test]
    async fn a_retryable_error_is_retried_until_the_call_succeeds() {
        let m = machine(TASK);
        let s = Script::default().answer(
            "${f_arn}",
            vec![
                fail("ShopFlow.Retryable"),
                fail("Lambda.ServiceException"),
                Ok(json!({"n": 3})),
            ],
        );
        let out = run(&m, json!({"date": "2026-11-20"}), &s).await;
        assert!(out.succeeded(), "{out:?}");
        assert_eq!(out.visited(), ["Call", "Done"]);
        assert_eq!(out.trace[0].attempts, 3);
        assert_eq!(
            out.trace[0].retried,
            [
                ("ShopFlow.Retryable".to_string(), 2.0),
                ("Lambda.ServiceException".to_string(), 4.0)
            ]
        );
        assert_eq!(
            out.output,
            Some(json!({"date": "2026-11-20", "result": {"n": 3}}))
        );
        assert_eq!(s.calls()[0].1, json!({"date": "2026-11-20"}));
    }

    #[tokio::test]
    async fn invalid_input_is_never_retried_and_the_catch_routes_with_error_and_cause() {
        let m = machine(TASK);
        let s = Script::default().answer("${f_arn}", vec![fail("ShopFlow.InvalidInput")]);
        let out = run(&m, json!({"date": "x"}), &s).await;
        assert_eq!(out.visited(), ["Call", "Recover"]);
        assert_eq!(out.trace[0].attempts, 1);
        assert_eq!(
            out.trace[0].outcome,
            Outcome::Caught {
                error: "ShopFlow.InvalidInput".into(),
                cause: "ShopFlow.InvalidInput happened".into()
            }
        );
        assert_eq!(
            out.output,
            Some(json!({"date": "x", "error": {
                "Error": "ShopFlow.InvalidInput",
                "Cause": "ShopFlow.InvalidInput happened"
            }}))
        );
    }

    #[tokio::test]
    async fn retries_stop_at_max_attempts_then_the_catch_takes_over() {
        let m = machine(TASK);
        let s = Script::default().answer("${f_arn}", vec![fail("ShopFlow.Retryable")]);
        let out = run(&m, json!({"date": "d"}), &s).await;
        assert_eq!(out.trace[0].attempts, 3, "one call and two retries");
        assert_eq!(out.visited(), ["Call", "Recover"]);
    }

    #[tokio::test]
    async fn an_uncaught_error_fails_the_execution_and_runtime_errors_are_never_caught() {
        let m = machine(
            r#"{"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "f", "Payload.$": "$.missing"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}], "End": true},
            "Recover": {"Type": "Pass", "End": true}}}"#,
        );
        let out = run(&m, json!({}), &Script::default()).await;
        assert_eq!(out.visited(), ["Call"]);
        let ExecutionStatus::Failed(f) = &out.status else {
            panic!()
        };
        assert_eq!(f.error, "States.Runtime");
        assert!(matches!(out.trace[0].outcome, Outcome::Failed { .. }));

        let m = machine(
            r#"{"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "f"},
              "Catch": [{"ErrorEquals": ["ShopFlow.Retryable"], "Next": "Recover"}], "End": true},
            "Recover": {"Type": "Pass", "End": true}}}"#,
        );
        let s = Script::default().answer("f", vec![fail("ShopFlow.Internal")]);
        let out = run(&m, json!({}), &s).await;
        assert_eq!(
            out.status,
            ExecutionStatus::Failed(TaskFailure::new(
                "ShopFlow.Internal",
                "ShopFlow.Internal happened"
            ))
        );
    }

    const MAP: &str = r#"{"StartAt": "All", "States": {
        "All": {"Type": "Map", "ItemsPath": "$.keys", "ItemSelector": {"key.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
          "ToleratedFailurePercentage": 34, "MaxConcurrency": 2,
          "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "One", "States": {
              "One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "t", "Payload": {"key.$": "$.key"}},
                "ResultSelector": {"ok.$": "$.Payload.ok"}, "End": true}}},
          "ResultPath": "$.results",
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
          "Next": "Done"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "Done": {"Type": "Succeed"}}}"#;

    #[tokio::test]
    async fn a_map_runs_every_item_and_tolerates_failures_up_to_its_share() {
        let m = machine(MAP);
        let s = Script::default().answer(
            "t",
            vec![
                Ok(json!({"ok": 1})),
                fail("ShopFlow.Internal"),
                Ok(json!({"ok": 3})),
            ],
        );
        let out = run(&m, json!({"keys": ["a", "b", "c"]}), &s).await;
        assert!(out.succeeded(), "{out:?}");
        assert_eq!(out.visited(), ["All", "Done"]);
        let calls: Vec<Value> = s.calls().into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            calls,
            [
                json!({"key": "a"}),
                json!({"key": "b"}),
                json!({"key": "c"})
            ]
        );
        let map = &out.trace[0];
        assert_eq!(
            map.note.as_deref(),
            Some("3 item(s): 2 succeeded, 1 failed")
        );
        assert_eq!(map.iterations[1].input, json!({"key": "b", "i": 1}));
        assert_eq!(map.iterations[1].trace[0].state, "One");
        assert_eq!(
            out.output.unwrap()["results"],
            json!([{"ok": 1}, {"Error": "ShopFlow.Internal", "Cause": "ShopFlow.Internal happened"}, {"ok": 3}])
        );
    }

    #[tokio::test]
    async fn a_map_fails_when_more_items_fail_than_tolerated() {
        let m = machine(MAP);
        let s = Script::default().answer("t", vec![fail("ShopFlow.Internal"), fail("Oops")]);
        let out = run(&m, json!({"keys": ["a", "b", "c"]}), &s).await;
        assert_eq!(out.visited(), ["All", "Failed"]);
        let ExecutionStatus::Failed(f) = &out.status else {
            panic!()
        };
        assert_eq!(f.error, "States.ExceedToleratedFailureThreshold");
        assert!(f.cause.contains("2 of 3"), "{}", f.cause);
        assert_eq!(
            out.trace[0].note.as_deref(),
            Some("3 item(s): 0 succeeded, 2 failed, 1 not started")
        );
    }

    #[tokio::test]
    async fn an_inline_map_without_tolerance_fails_with_the_items_error() {
        let m = machine(
            r#"{"StartAt": "All", "States": {
            "All": {"Type": "Map", "Items": [1, 2],
              "ItemProcessor": {"StartAt": "One", "States": {
                "One": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:t", "End": true}}},
              "End": true}}}"#,
        );
        let s = Script::default().answer(
            "arn:aws:lambda:us-east-1:1:function:t",
            vec![Ok(json!(1)), fail("ShopFlow.Internal")],
        );
        let out = run(&m, json!({}), &s).await;
        let ExecutionStatus::Failed(f) = &out.status else {
            panic!()
        };
        assert_eq!(f.error, "ShopFlow.Internal");
        let s =
            Script::default().answer("arn:aws:lambda:us-east-1:1:function:t", vec![Ok(json!(7))]);
        let out = run(&m, json!({}), &s).await;
        assert_eq!(out.output, Some(json!([7, 7])));
    }

    #[tokio::test]
    async fn an_empty_item_list_succeeds_without_calls() {
        let m = machine(MAP);
        let s = Script::default();
        let out = run(&m, json!({"keys": []}), &s).await;
        assert!(out.succeeded());
        assert!(s.calls().is_empty());
    }

    #[tokio::test]
    async fn a_loop_is_stopped_at_the_transition_limit() {
        let m = machine(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}"#);
        let err = execute(
            &m,
            json!({}),
            &Script::default(),
            &Options {
                max_transitions: 50,
                ..Options::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(
            err,
            WorkflowError::TooManyTransitions { limit: 50 }
        ));
    }

    #[tokio::test]
    async fn the_pipeline_definition_runs_its_happy_path_in_order() {
        let text = include_str!("../../../statemachine/pipeline.asl.json");
        let m = StateMachine::parse(text).unwrap();
        let happy =
            || {
                Script::default()
                .answer(
                    "${transformer_arn}",
                    vec![
                        Ok(json!({"date": "2026-11-20", "keys": ["landing/t/a.csv"], "count": 1})),
                        Ok(json!({"objects": [{"key": "landing/t/a.csv", "status": "processed"}]})),
                        Ok(json!({"files": 1, "files_pending": 0, "files_quarantined": 0,
                                  "rows_in": 100, "rows_rejected": 2, "rejected_pct": 2.0})),
                    ],
                )
                .answer(
                    "${report_generator_arn}",
                    vec![
                        Ok(json!({"report_key": "r.json", "html_key": "r.html", "anomalies": 0})),
                        Ok(json!({"tables": 13, "files_before": 40, "files_after": 13,
                                  "files_deleted": 0, "bytes_deleted": 0})),
                    ],
                )
                .answer("${topic_arn}", vec![Ok(json!({"MessageId": "1"}))])
            };
        let s = happy();
        let out = run(&m, json!({}), &s).await;
        assert!(out.succeeded(), "{out:#?}");
        assert_eq!(out.visited(), m.main_path());
        let calls = s.calls();
        assert_eq!(calls[0].1, json!({"list_pending": {"date": null}}));
        assert_eq!(
            calls[1].1,
            json!({"bucket": "${lake_bucket}", "key": "landing/t/a.csv"})
        );
        assert_eq!(calls[2].1, json!({"summarize": {"date": "2026-11-20"}}));
        assert_eq!(calls[3].1, json!({"date": "2026-11-20"}));
        assert_eq!(calls[4].1, json!({"maintain": {"retention_hours": 168}}));
        let message = calls[5].1["Message"].as_str().unwrap();
        assert!(
            message.contains("2026-11-20") && message.contains("r.html"),
            "{message}"
        );
        assert_eq!(
            calls[5].1["MessageAttributes"]["kind"]["StringValue"],
            "summary"
        );
        // The quality gate trips on the same counts with a lower threshold.
        let out = run(&m, json!({"max_rejected_pct": 1}), &happy()).await;
        assert_eq!(
            out.visited()[out.visited().len() - 3..],
            ["QualityGate", "NotifyQualityFailure", "QualityGateFailed"]
        );
        // A failure anywhere is announced with its error and cause.
        let s = Script::default()
            .answer("${transformer_arn}", vec![fail("ShopFlow.InvalidInput")])
            .answer("${topic_arn}", vec![Ok(json!({"MessageId": "1"}))]);
        let out = run(&m, json!({"date": "bad"}), &s).await;
        assert_eq!(
            out.visited(),
            [
                "SetDefaults",
                "ApplyDefaults",
                "ListPending",
                "NotifyFailure",
                "PipelineFailed"
            ]
        );
        let message = s.calls()[1].1["Message"].as_str().unwrap().to_string();
        assert!(
            message.contains("ShopFlow.InvalidInput happened"),
            "{message}"
        );
        assert_eq!(
            out.status,
            ExecutionStatus::Failed(TaskFailure::new(
                "ShopFlow.InvalidInput",
                "ShopFlow.InvalidInput happened"
            ))
        );
    }

    #[test]
    fn lambda_targets_are_read_from_function_name_and_payload() {
        let params = json!({"FunctionName": "${x}", "Payload": {"a": 1}});
        assert_eq!(
            Target::of(LAMBDA_INVOKE, &params).unwrap(),
            Target::Lambda {
                function: "${x}",
                payload: &json!({"a": 1}),
                optimized: true
            }
        );
        let sns = json!({"TopicArn": "${t}", "Message": {"a": 1}, "Subject": "s",
            "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "alert"}}});
        assert_eq!(
            Target::of(crate::SNS_PUBLISH, &sns).unwrap(),
            Target::SnsPublish {
                topic: "${t}",
                subject: Some("s"),
                message: "{\"a\":1}".into(),
                kind: Some("alert")
            }
        );
    }
}
