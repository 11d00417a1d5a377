//! `shopflow run`: the daily workflow on a local lake, executed from the state machine
//! definition Step Functions runs (`statemachine/pipeline.asl.json`, built into the binary;
//! `--definition FILE` runs another) by the core's ASL interpreter, so the local run follows
//! the deployed sequence of steps.
//!
//! Each Task goes to a local adapter, chosen by what the definition calls:
//!
//! - `lambda:invoke` of `${transformer_arn}` (or a function ARN naming the transformer):
//!   `{"list_pending": {"date"}}` and `{"summarize": {"date"}}` →
//!   [`steps::list_pending`] / [`steps::summarize`]; `{"bucket", "key"[, "replay"]}` → the
//!   [`Ingestor`] over the lake's [`FsObjectStore`] and [`FsLedger`] (the bucket is the lake);
//! - `lambda:invoke` of `${report_generator_arn}`: `{"date"}` → gold and the daily report
//!   ([`report::build_daily`]);
//! - `sns:publish` to any topic: a JSON file in `<lake>/_notifications/` ([`FileNotifier`]).
//!
//! Errors carry the functions' error types (`ShopFlow.Retryable`, `ShopFlow.InvalidInput`,
//! `ShopFlow.Internal`) so the definition's `Retry` and `Catch` apply as in AWS; retries do not
//! wait locally.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use shopflow_core::adapters::local::{FileNotifier, FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::contract::ContractSet;
use shopflow_core::ingest::{Ingestor, new_run_id};
use shopflow_core::ports::{Notification, Notifier};
use shopflow_core::report::{self, ReportOptions};
use shopflow_core::tables::{DeltaLake, MIN_RETENTION_HOURS};
use shopflow_core::workflow::steps::{self, DayRequest};
use shopflow_core::workflow::{
    self, Execution, ExecutionStatus, Options, Outcome, StateMachine, Target, TaskFailure,
    TaskRunner, TraceEntry, async_trait, lambda_failure, lambda_result,
};

/// The daily state machine, as deployed.
pub const PIPELINE: &str = include_str!("../../../statemachine/pipeline.asl.json");

/// What `shopflow run` was asked.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// The day (`None`: the definition's default, yesterday UTC).
    pub date: Option<NaiveDate>,
    /// The quality gate's threshold, percent (`None`: the definition's default).
    pub max_rejected_pct: Option<f64>,
    /// Another definition to run.
    pub definition: Option<PathBuf>,
    /// How the report step builds gold and the report.
    pub report: ReportOptions,
}

/// The functions the definition may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Transformer,
    ReportGenerator,
}

fn function_of(name: &str) -> Option<Function> {
    match name {
        "${transformer_arn}" => Some(Function::Transformer),
        "${report_generator_arn}" => Some(Function::ReportGenerator),
        // A rendered definition: recognise the function by its name.
        n if n.contains("report-generator") || n.contains("report_generator") => {
            Some(Function::ReportGenerator)
        }
        n if n.contains("transformer") => Some(Function::Transformer),
        _ => None,
    }
}

fn invalid(message: impl std::fmt::Display) -> TaskFailure {
    lambda_failure(steps::INVALID_INPUT, &message.to_string())
}

/// The Tasks' local adapters.
struct LocalRunner {
    store: Arc<FsObjectStore>,
    tables: DeltaLake,
    ingestor: Ingestor,
    notifier: FileNotifier,
    report: ReportOptions,
    run_id: String,
    sent: Mutex<Vec<Notification>>,
}

impl LocalRunner {
    async fn transformer(&self, payload: &Value) -> Result<Value, TaskFailure> {
        let single = payload.as_object().filter(|o| o.len() == 1);
        let day = |name: &str| single.and_then(|o| o.get(name));
        if let Some(request) = day("list_pending").or_else(|| day("summarize")) {
            let request: DayRequest = serde_json::from_value(request.clone())
                .map_err(|e| invalid(format!("{payload} is not a valid request: {e}")))?;
            let date = request.date_or_yesterday(Utc::now());
            let contracts = self.ingestor.contracts();
            let store = self.store.as_ref();
            let out = if day("list_pending").is_some() {
                steps::list_pending(store, contracts, date)
                    .await
                    .map(serde_json::to_value)
            } else {
                steps::summarize(store, contracts, date)
                    .await
                    .map(serde_json::to_value)
            };
            return match out {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(lambda_failure(steps::INTERNAL, &e.to_string())),
                Err(e) => Err(lambda_failure(
                    e.error_type(),
                    &shopflow_core::transform::error_chain(&e),
                )),
            };
        }
        let key = payload.get("key").and_then(Value::as_str).ok_or_else(|| {
            invalid(format!(
                "expected {{\"list_pending\" | \"summarize\": {{\"date\"}}}} or {{\"bucket\", \"key\"}}, got {payload}"
            ))
        })?;
        if !key.starts_with("landing/") {
            tracing::info!(key, "not under landing/; ignored");
            return Ok(json!({ "objects": [] }));
        }
        let replay = payload
            .get("replay")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let outcome = if replay {
            self.ingestor.replay_object(key, &self.run_id).await
        } else {
            self.ingestor.ingest_object(key, &self.run_id).await
        };
        match outcome {
            Ok(o) => Ok(json!({ "objects": [steps::object_result(o)] })),
            Err(e) => Err(lambda_failure(
                steps::ingest_error_type(&e),
                &shopflow_core::transform::error_chain(&e),
            )),
        }
    }

    async fn report_generator(&self, payload: &Value) -> Result<Value, TaskFailure> {
        if let Some(m) = payload
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("maintain"))
        {
            return self.maintain(m).await;
        }
        let request: DayRequest = if payload.is_null() {
            DayRequest::default()
        } else {
            serde_json::from_value(payload.clone())
                .map_err(|e| invalid(format!("{payload} is not a valid request: {e}")))?
        };
        let date = request.date_or_yesterday(Utc::now());
        let out = report::build_daily(
            &self.tables,
            Some(date),
            self.ingestor.contracts(),
            &self.report,
        )
        .await
        .map_err(|e| {
            let kind = if e.is_retryable() {
                steps::RETRYABLE
            } else {
                steps::INTERNAL
            };
            lambda_failure(kind, &shopflow_core::transform::error_chain(&e))
        })?;
        Ok(json!({
            "date": date,
            "report_key": out.report_key,
            "html_key": out.html_key,
            "anomalies": out.report.anomalies.len(),
            "kpis": out.report.kpis,
            "rejected_pct": out.report.data_quality.rejected_pct,
            "alerts": [],
        }))
    }

    /// `{"maintain": {"retention_hours"}}`: the deployed report generator's maintenance, on the
    /// local lake's tables.
    async fn maintain(&self, request: &Value) -> Result<Value, TaskFailure> {
        let hours = match request.get("retention_hours") {
            None => MIN_RETENTION_HOURS,
            Some(v) => v
                .as_u64()
                .and_then(|h| u32::try_from(h).ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "retention_hours must be a whole number of hours, got {v}"
                    ))
                })?,
        };
        if hours < MIN_RETENTION_HOURS {
            return Err(invalid(format!(
                "retention_hours {hours} is below {MIN_RETENTION_HOURS}"
            )));
        }
        let reports = self
            .tables
            .maintain_all(None, chrono::Duration::hours(i64::from(hours)), &LogMetrics)
            .await
            .map_err(|e| {
                let kind = if e.is_retryable() {
                    steps::RETRYABLE
                } else {
                    steps::INTERNAL
                };
                lambda_failure(kind, &shopflow_core::transform::error_chain(&e))
            })?;
        Ok(shopflow_core::tables::maintain_totals(&reports))
    }

    async fn publish(
        &self,
        subject: Option<&str>,
        message: String,
        kind: Option<&str>,
    ) -> Result<Value, TaskFailure> {
        let note = Notification {
            subject: subject.unwrap_or("ShopFlow").to_string(),
            body: message,
            kind: kind.unwrap_or("summary").to_string(),
        };
        self.notifier.publish(&note).await.map_err(|e| {
            TaskFailure::new(
                "SNS.InternalErrorException",
                shopflow_core::transform::error_chain(&e),
            )
        })?;
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        sent.push(note);
        Ok(json!({ "MessageId": format!("{}-{}", self.run_id, sent.len()) }))
    }
}

#[async_trait]
impl TaskRunner for LocalRunner {
    async fn run(&self, resource: &str, parameters: Value) -> Result<Value, TaskFailure> {
        match Target::of(resource, &parameters)? {
            Target::Lambda {
                function,
                payload,
                optimized,
            } => {
                let out = match function_of(function) {
                    Some(Function::Transformer) => self.transformer(payload).await,
                    Some(Function::ReportGenerator) => self.report_generator(payload).await,
                    None => Err(TaskFailure::new(
                        "Lambda.ResourceNotFoundException",
                        format!("the local run has no function {function}"),
                    )),
                }?;
                Ok(lambda_result(out, optimized))
            }
            Target::SnsPublish {
                subject,
                message,
                kind,
                ..
            } => self.publish(subject, message, kind).await,
            Target::Other => Err(TaskFailure::new(
                "States.TaskFailed",
                format!("the local run has no adapter for the resource {resource}"),
            )),
        }
    }
}

fn outcome_text(e: &TraceEntry) -> String {
    let mut text = match &e.outcome {
        Outcome::Succeeded => "succeeded".to_string(),
        Outcome::Caught { error, .. } => format!("caught {error}"),
        Outcome::Failed { error, .. } => format!("failed {error}"),
    };
    if e.attempts > 1 {
        text.push_str(&format!(" after {} attempts", e.attempts));
    }
    if let Some(note) = &e.note {
        text.push_str(&format!(" ({note})"));
    }
    if let (Some(next), Outcome::Caught { .. }) = (&e.next, &e.outcome) {
        text.push_str(&format!(" → {next}"));
    }
    text
}

fn print_trace(execution: &Execution) {
    let width = execution
        .trace
        .iter()
        .map(|e| e.state.chars().count())
        .max()
        .unwrap_or(0);
    for (i, e) in execution.trace.iter().enumerate() {
        println!(
            "{:>3}  {:<width$}  {:<7}  {}",
            i + 1,
            e.state,
            e.state_type,
            outcome_text(e)
        );
        for it in &e.iterations {
            let item = it
                .input
                .get("key")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| it.input.to_string());
            let steps: Vec<String> = it
                .trace
                .iter()
                .map(|t| format!("{} {}", t.state, outcome_text(t)))
                .collect();
            println!("       item {}: {item}: {}", it.index, steps.join(", "));
        }
    }
}

/// Loads the definition: the built-in one, or `path`.
pub fn load_definition(path: Option<&Path>) -> anyhow::Result<(StateMachine, String)> {
    match path {
        None => Ok((
            StateMachine::parse(PIPELINE).context("the built-in statemachine/pipeline.asl.json")?,
            "statemachine/pipeline.asl.json (built in)".to_string(),
        )),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let machine = StateMachine::parse(&text)
                .with_context(|| format!("loading the state machine {}", p.display()))?;
            Ok((machine, p.display().to_string()))
        }
    }
}

/// `shopflow run`.
pub async fn run(
    root: &Path,
    contracts: ContractSet,
    args: &RunArgs,
    limits: &crate::Limits,
) -> anyhow::Result<ExitCode> {
    let (machine, label) = load_definition(args.definition.as_deref())?;
    let store = Arc::new(
        FsObjectStore::new(root)
            .with_context(|| format!("opening the lake at {}", root.display()))?,
    );
    let ledger =
        Arc::new(FsLedger::new(root.join("_state").join("ledger")).context("opening the ledger")?);
    let tables = DeltaLake::with_options(store.clone(), limits.table_options());
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(tables.clone()),
        ledger,
        Arc::new(LogMetrics),
        Arc::new(contracts),
        limits.ingest_options(root.join(".tmp")),
    );
    let run_id = new_run_id();
    let notifications = root.join("_notifications");
    let runner = LocalRunner {
        store,
        tables,
        ingestor,
        notifier: FileNotifier::new(&notifications),
        report: args.report,
        run_id: run_id.clone(),
        sent: Mutex::new(Vec::new()),
    };
    let mut input = serde_json::Map::new();
    if let Some(d) = args.date {
        input.insert("date".into(), json!(d));
    }
    if let Some(p) = args.max_rejected_pct {
        input.insert("max_rejected_pct".into(), json!(p));
    }
    let input = Value::Object(input);
    println!("state machine: {label}");
    println!("input:         {input}");
    println!("lake:          {}", root.display());
    println!();
    let execution = workflow::execute(
        &machine,
        input,
        &runner,
        &Options {
            state_machine: "shopflow-pipeline".into(),
            execution: run_id,
            ..Options::default()
        },
    )
    .await
    .context("running the state machine")?;
    print_trace(&execution);
    println!();
    let sent = runner
        .sent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for n in &sent {
        println!("notification ({}): {}", n.kind, n.subject);
    }
    if !sent.is_empty() {
        println!("notifications: {}", notifications.display());
    }
    match &execution.status {
        ExecutionStatus::Succeeded => {
            if let Some(out) = &execution.output {
                if let Some(s) = out.get("summary") {
                    println!(
                        "day {}: {} file(s) landed, {} still pending, {} rows read, {}% rejected",
                        out.pointer("/pending/date")
                            .and_then(Value::as_str)
                            .unwrap_or("?"),
                        s["files"],
                        s["files_pending"],
                        s["rows_in"],
                        s["rejected_pct"]
                    );
                }
                for (what, key) in [("report", "report_key"), ("dashboard", "html_key")] {
                    if let Some(k) = out
                        .get("report")
                        .and_then(|r| r.get(key))
                        .and_then(Value::as_str)
                    {
                        println!(
                            "{what}:{:pad$}{}",
                            "",
                            root.join(k).display(),
                            pad = 11 - what.len()
                        );
                    }
                }
            }
            println!("outcome: succeeded");
            Ok(ExitCode::SUCCESS)
        }
        ExecutionStatus::Failed(f) => {
            println!("outcome: failed ({})", f.error);
            eprintln!("error: the workflow ended in {}: {}", f.error, f.cause);
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_definition_loads() {
        let (machine, _) = load_definition(None).unwrap();
        assert_eq!(machine.start_at, "SetDefaults");
    }

    #[test]
    fn functions_are_recognised_by_placeholder_or_by_name() {
        assert_eq!(
            function_of("${transformer_arn}"),
            Some(Function::Transformer)
        );
        assert_eq!(
            function_of("arn:aws:lambda:eu-west-1:1:function:shopflow-dev-report-generator"),
            Some(Function::ReportGenerator)
        );
        assert_eq!(
            function_of("arn:aws:lambda:eu-west-1:1:function:shopflow-dev-transformer"),
            Some(Function::Transformer)
        );
        assert_eq!(function_of("${other_arn}"), None);
    }
}
