//! `shopflow run`: the daily workflow on a local lake, executed from the state machine
//! definition Step Functions runs (`statemachine/pipeline.asl.json`, built into the binary;
//! `--definition FILE` runs another) by the ASL interpreter (`shopflow-workflow`), so the local
//! run follows the deployed sequence of steps.
//!
//! Each Task calls what the deployed Task calls, with local adapters:
//!
//! - `lambda:invoke` of `${transformer_arn}` (or a function ARN naming the transformer): the
//!   transformer's own handler ([`transformer::handle`]) over the lake's [`FsObjectStore`] and
//!   [`FsLedger`];
//! - `lambda:invoke` of `${report_generator_arn}`: the report generator's own handler
//!   ([`report_generator::handle`]): gold, the daily report, its summary and alerts, or table
//!   maintenance;
//! - `sns:publish` to any topic: a JSON file in `<lake>/_notifications/` ([`FileNotifier`]),
//!   where the report generator's messages go too.
//!
//! The definition's `${lake_bucket}` is the lake directory (Terraform renders it with the
//! bucket's name): the transformer is asked for objects of that "bucket", and the messages'
//! `s3://${lake_bucket}/…` paths name files in the lake. Errors keep the handlers' error types
//! (`ShopFlow.Retryable`, `ShopFlow.InvalidInput`, `ShopFlow.Internal`), so the definition's
//! `Retry` and `Catch` apply as in AWS; retries do not wait locally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use chrono::NaiveDate;
use serde_json::{Value, json};

use shopflow_core::adapters::local::{FileNotifier, FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::{FunctionError, config, report_generator, transformer};
use shopflow_core::ingest::{Ingestor, new_run_id};
use shopflow_core::ports::{Notification, Notifier, NotifyError};
use shopflow_core::report::ReportOptions;
use shopflow_core::tables::DeltaLake;
use shopflow_workflow::{
    self as workflow, Execution, ExecutionStatus, Options, Outcome, StateMachine, Target,
    TaskFailure, TaskRunner, TraceEntry, async_trait, lambda_failure, lambda_result,
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
    /// An ASL definition file to run instead of [`PIPELINE`] (`None`: the built-in one);
    /// its `${lake_bucket}` is replaced with the lake directory, as for the built-in one.
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

/// A handler's error as the Lambda integration reports it to the state machine.
fn task_failure(e: FunctionError) -> TaskFailure {
    lambda_failure(e.error_type(), &e.message)
}

/// The notifier of the local run: every message goes to `<lake>/_notifications/` and is kept,
/// so the run can list what it sent.
#[derive(Debug)]
struct Outbox {
    files: FileNotifier,
    sent: Mutex<Vec<Notification>>,
}

#[async_trait]
impl Notifier for Outbox {
    async fn publish(&self, message: &Notification) -> Result<(), NotifyError> {
        self.files.publish(message).await?;
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}

/// The Tasks' local adapters: the functions' handlers with their local dependencies.
struct LocalRunner {
    transformer: transformer::Deps,
    report_generator: report_generator::Deps,
    outbox: Arc<Outbox>,
    run_id: String,
}

impl LocalRunner {
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
        self.outbox.publish(&note).await.map_err(|e| {
            TaskFailure::new(
                "SNS.InternalErrorException",
                shopflow_core::transform::error_chain(&e),
            )
        })?;
        let sent = self
            .outbox
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        Ok(json!({ "MessageId": format!("{}-{sent}", self.run_id) }))
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
                let event = payload.clone();
                let out = match function_of(function) {
                    Some(Function::Transformer) => {
                        transformer::handle(event, &self.run_id, &self.transformer).await
                    }
                    Some(Function::ReportGenerator) => {
                        report_generator::handle(event, &self.report_generator).await
                    }
                    None => {
                        return Err(TaskFailure::new(
                            "Lambda.ResourceNotFoundException",
                            format!("the local run has no function {function}"),
                        ));
                    }
                }
                .map_err(task_failure)?;
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

/// The definition's text with `${lake_bucket}` rendered for the local lake: `s3://${lake_bucket}`
/// (a path in a message) and `${lake_bucket}` alone (the bucket the transformer is asked for)
/// both become the lake directory. The function and topic placeholders stay: the runner
/// recognises them.
fn render(text: &str, lake: &str) -> String {
    // The value goes inside JSON strings.
    let quoted = serde_json::to_string(lake).unwrap_or_default();
    let escaped = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default();
    text.replace("s3://${lake_bucket}", escaped)
        .replace("${lake_bucket}", escaped)
}

/// Loads the definition (the built-in one, or `path`), rendered for the lake named `lake`.
pub fn load_definition(path: Option<&Path>, lake: &str) -> anyhow::Result<(StateMachine, String)> {
    match path {
        None => Ok((
            StateMachine::parse(&render(PIPELINE, lake))
                .context("the built-in statemachine/pipeline.asl.json")?,
            "statemachine/pipeline.asl.json (built in)".to_string(),
        )),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let machine = StateMachine::parse(&render(&text, lake))
                .with_context(|| format!("loading the state machine {}", p.display()))?;
            Ok((machine, p.display().to_string()))
        }
    }
}

/// `shopflow run`: runs the definition on the lake at `root`, with the transformer and
/// the report generator called in-process and notifications written to
/// `<lake>/_notifications/`.
pub async fn run(
    root: &Path,
    contracts: ContractSet,
    args: &RunArgs,
    limits: &crate::Limits,
) -> anyhow::Result<ExitCode> {
    let lake = root.display().to_string();
    let (machine, label) = load_definition(args.definition.as_deref(), &lake)?;
    let store = Arc::new(
        FsObjectStore::new(root)
            .with_context(|| format!("opening the lake at {}", root.display()))?,
    );
    let ledger =
        Arc::new(FsLedger::new(root.join("_state").join("ledger")).context("opening the ledger")?);
    let tables = DeltaLake::with_options(store.clone(), limits.table_options());
    let contracts = Arc::new(contracts);
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(tables.clone()),
        ledger,
        Arc::new(LogMetrics),
        contracts.clone(),
        limits.ingest_options(root.join(".tmp")),
    );
    let run_id = new_run_id();
    let notifications = root.join("_notifications");
    let outbox = Arc::new(Outbox {
        files: FileNotifier::new(&notifications),
        sent: Mutex::new(Vec::new()),
    });
    // The report generator's settings as the deployed function reads them from its
    // environment: the lake is its bucket, the notifications directory its topic, and the
    // command's report options replace the defaults.
    let env = BTreeMap::from([
        (config::LAKE_BUCKET.name.to_string(), lake.clone()),
        (
            report_generator::TOPIC_ARN.name.to_string(),
            notifications.display().to_string(),
        ),
    ]);
    let mut config = report_generator::Config::from_env(&env)?;
    config.report = args.report;
    let runner = LocalRunner {
        transformer: transformer::Deps {
            ingestor,
            store,
            bucket: lake.clone(),
        },
        report_generator: report_generator::Deps {
            lake: tables,
            metrics: Arc::new(LogMetrics),
            notifier: outbox.clone(),
            contracts,
            config,
            lake_url: lake,
        },
        outbox,
        run_id: run_id.clone(),
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
        .outbox
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
        let (machine, _) = load_definition(None, "/tmp/lake").unwrap();
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

    #[test]
    fn the_lake_bucket_is_rendered_as_the_lake_directory_inside_json_strings() {
        let text = r#"{"a": "s3://${lake_bucket}/x", "b": "${lake_bucket}"}"#;
        let lake = r#"C:\lake "q""#;
        let v: Value = serde_json::from_str(&render(text, lake)).unwrap();
        assert_eq!(v["a"], format!("{lake}/x"));
        assert_eq!(v["b"], lake);
    }
}
