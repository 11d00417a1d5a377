//! report-generator: `{"date": "YYYY-MM-DD"}` (default: yesterday, UTC) from the state
//! machine → gold and the daily report for that date (reusing [`crate::report`]) → a summary on
//! the notifier (SNS), and an alert whose subject names the problem when the day's rejected
//! share of rows is above the configured threshold or a KPI moved abnormally against its
//! trailing 7-day average.
//!
//! `{"maintain": {"retention_hours": H}}` (default and minimum
//! [`MIN_RETENTION_HOURS`](crate::tables::MIN_RETENTION_HOURS)) compacts every lake table and
//! vacuums files older than the retention ([`DeltaLake::maintain_all`]); the figures are EMF
//! metrics and the answer `{"tables", "files_before", "files_after", "files_deleted",
//! "bytes_deleted"}`.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{self, ConfigError, Env, Var};
use super::daily::DayRequest;
use super::iam::{self, Action};
use super::{ErrorKind, FunctionError};
use crate::contract::ContractSet;
use crate::gold::GoldOptions;
use crate::ports::{Metrics, Notification, Notifier};
use crate::report::{self, DailyReport, ReportOptions, kpi};
use crate::tables::{DeltaLake, MIN_RETENTION_HOURS};

/// Settings read at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Alert when more than this percentage of the day's rows was rejected.
    pub alert_rejected_pct: f64,
    /// The lake bucket.
    pub bucket: String,
    /// Gold rebuild and anomaly settings.
    pub report: ReportOptions,
    /// The SNS topic of summaries and alerts.
    pub topic_arn: String,
    /// The CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// Path-style S3 addressing (emulators).
    pub force_path_style: bool,
}

/// The alert threshold.
const ALERT_REJECTED_PCT: Var = Var::optional(
    "ALERT_REJECTED_PCT",
    "alert when more than this percentage of the day's rows was rejected (default 5)",
);
/// The anomaly threshold.
const ANOMALY_THRESHOLD_PCT: Var = Var::optional(
    "ANOMALY_THRESHOLD_PCT",
    "flag a KPI that moves more than this percentage against its trailing 7-day average (default 50)",
);
/// Gold's look-back.
const LOOKBACK_DAYS: Var = Var::optional(
    "LOOKBACK_DAYS",
    "days before the report date whose gold partitions are rebuilt (default 3)",
);
/// The topic of summaries and alerts (locally: the notifications directory).
pub const TOPIC_ARN: Var = Var::required("TOPIC_ARN", "the SNS topic of summaries and alerts");

impl Config {
    /// Every AWS action the handler calls (see [`iam`](super::iam)).
    pub const ACTIONS: &[Action] = &[
        Action::always(
            "s3:GetObject",
            "reads silver, gold and the manifests (GetObject, HeadObject) in LAKE_BUCKET",
        ),
        Action::always(
            "s3:ListBucket",
            "lists the Delta logs and manifests/ in LAKE_BUCKET",
        ),
        Action::always(
            "s3:PutObject",
            "writes gold tables, the report and its dashboard in LAKE_BUCKET",
        ),
        iam::ABORT_MULTIPART_UPLOAD,
        Action::when(
            "s3:DeleteObject",
            "vacuums files the tables no longer reference ({maintain}) in LAKE_BUCKET",
            "maintenance finds files unreferenced for longer than the retention",
        ),
        Action::always("sns:Publish", "the daily summary and alerts to TOPIC_ARN"),
    ];

    /// Every variable [`from_env`](Self::from_env) reads.
    pub const VARIABLES: &[Var] = &[
        config::LAKE_BUCKET,
        ALERT_REJECTED_PCT,
        ANOMALY_THRESHOLD_PCT,
        LOOKBACK_DAYS,
        TOPIC_ARN,
        config::METRICS_NAMESPACE,
        config::S3_FORCE_PATH_STYLE,
    ];

    /// Reads [`VARIABLES`](Self::VARIABLES); a missing or invalid one fails naming it.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: config::LAKE_BUCKET.read(env)?,
            alert_rejected_pct: ALERT_REJECTED_PCT.parse(env, 5.0)?,
            report: ReportOptions {
                gold: GoldOptions {
                    lookback_days: LOOKBACK_DAYS.parse(env, 3)?,
                },
                anomaly_threshold_pct: ANOMALY_THRESHOLD_PCT.parse(env, 50.0)?,
            },
            topic_arn: TOPIC_ARN.read(env)?,
            metrics_namespace: config::metrics_namespace(env)?,
            force_path_style: config::S3_FORCE_PATH_STYLE.flag(env),
        })
    }
}

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The lake's tables (Delta tables on S3; reports and manifests in its store).
    pub lake: DeltaLake,
    /// Where maintenance figures go (CloudWatch EMF).
    pub metrics: Arc<dyn Metrics>,
    /// Summaries and alerts (SNS).
    pub notifier: Arc<dyn Notifier>,
    /// The contracts in force: gold's keys, status semantics and masking, and the datasets the
    /// report's data quality lists.
    pub contracts: Arc<ContractSet>,
    /// Settings.
    pub config: Config,
    /// How messages name the lake's root: `s3://{bucket}` in AWS, the lake directory locally.
    pub lake_url: String,
}

/// A request to the report generator, typed once for Lambda and the local run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `{"date": "YYYY-MM-DD"}`, `{}` or `null` (yesterday, UTC): gold and the day's report.
    Report(DayRequest),
    /// `{"maintain": {"retention_hours"}}`: compaction and VACUUM of every lake table.
    Maintain(MaintainRequest),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum MaintainCall {
    Maintain(MaintainRequest),
}

impl Request {
    /// Reads an event: an object whose one key is `maintain` asks for maintenance; anything
    /// else must be a day request. A malformed one is [`ErrorKind::InvalidInput`].
    pub fn parse(event: Value) -> Result<Self, FunctionError> {
        if event.is_null() {
            return Ok(Self::Report(DayRequest::default()));
        }
        if event
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("maintain"))
        {
            let MaintainCall::Maintain(m) = MaintainCall::deserialize(&event).map_err(|e| {
                FunctionError::invalid_request(
                    "{\"maintain\": {\"retention_hours\": H}}",
                    &event,
                    e,
                )
            })?;
            return Ok(Self::Maintain(m));
        }
        DayRequest::deserialize(&event)
            .map(Self::Report)
            .map_err(|e| {
                FunctionError::invalid_request("{\"date\": \"YYYY-MM-DD\" | null}", &event, e)
            })
    }
}

/// The answer to a report request: where the report went and what the state machine's next
/// states read (the KPIs, the anomaly count, the alerts sent).
#[derive(Debug, Clone, Serialize)]
pub struct ReportResponse {
    /// The day reported on.
    pub date: NaiveDate,
    /// The report's JSON object.
    pub report_key: String,
    /// The dashboard's HTML object.
    pub html_key: String,
    /// How many KPIs moved abnormally.
    pub anomalies: usize,
    /// The day's KPIs.
    pub kpis: crate::report::Kpis,
    /// The day's rejected share of rows, percent.
    pub rejected_pct: f64,
    /// The subjects of the alerts published.
    pub alerts: Vec<String>,
}

/// The summary message of a report: every KPI of the [table](crate::report::kpi::KPIS) with
/// its label, the top products and the day's data quality.
pub fn summary(report: &DailyReport, lake: &str, report_key: &str) -> Notification {
    let k = &report.kpis;
    let top = report
        .top_products
        .iter()
        .take(3)
        .map(|p| {
            format!(
                "{} ({:.2})",
                p.name.clone().unwrap_or_else(|| p.product_id.clone()),
                p.revenue
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let figures: String = kpi::KPIS
        .iter()
        .map(|spec| {
            let v = k.get(spec.name);
            match spec.unit {
                kpi::Unit::Money => format!("{}: {v:.2}\n", spec.label),
                kpi::Unit::Count => format!("{}: {}\n", spec.label, v as i64),
            }
        })
        .collect();
    Notification {
        subject: format!(
            "ShopFlow daily report {}: revenue {:.2}, {} transactions",
            report.date,
            k.get(kpi::REVENUE),
            k.get(kpi::TRANSACTIONS) as i64
        ),
        body: format!(
            "Daily report for {date}\n{flags}\n{figures}Top products: {top}\n\nData quality (ingested {ingest}): {acc} rows accepted, {rej} rejected ({pct:.2}%), {files} files quarantined.\n\nReport: {lake}/{report_key}\n",
            date = report.date,
            flags = anomaly_lines(report),
            ingest = report
                .data_quality
                .ingest_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            acc = report.data_quality.rows_accepted,
            rej = report.data_quality.rows_rejected,
            pct = report.data_quality.rejected_pct,
            files = report.data_quality.files_quarantined,
        ),
        kind: "summary".into(),
    }
}

/// One line per anomaly flag (empty when there is none), for the summary and the alert.
fn anomaly_lines(report: &DailyReport) -> String {
    report
        .anomalies
        .iter()
        .map(|a| {
            format!(
                "ANOMALY: {} is {:.2}, {:+.1}% against its trailing 7-day average of {:.2} (threshold {:.0}%)\n",
                a.kpi, a.value, a.change_pct, a.trailing_average, a.threshold_pct
            )
        })
        .collect()
}

/// The anomaly alert for a report: one message naming every KPI that moved abnormally.
pub fn anomaly_alert(report: &DailyReport, lake: &str, report_key: &str) -> Option<Notification> {
    let first = report.anomalies.first()?;
    let subject = if report.anomalies.len() == 1 {
        format!(
            "ShopFlow ALERT {}: {} {:+.1}% against its 7-day average",
            report.date, first.kpi, first.change_pct
        )
    } else {
        format!(
            "ShopFlow ALERT {}: {} KPIs moved abnormally ({} {:+.1}%, …)",
            report.date,
            report.anomalies.len(),
            first.kpi,
            first.change_pct
        )
    };
    Some(Notification {
        subject,
        body: format!(
            "KPIs of {date} that moved more than the threshold against their trailing 7-day average:\n\n{lines}\nWhat to check: the day's data quality ({lake}/manifests/<dataset>/ingest_date={date}/), whether all landing files arrived, and the dashboard: {lake}/{html}\n",
            date = report.date,
            lines = anomaly_lines(report),
            html = report_key.replace("report.json", "report.html"),
        ),
        kind: "alert".into(),
    })
}

/// The data-quality alert for a report, if its rejected share is above `threshold_pct`.
pub fn quality_alert(
    report: &DailyReport,
    threshold_pct: f64,
    lake: &str,
    bucket: &str,
) -> Option<Notification> {
    let dq = &report.data_quality;
    if dq.rejected_pct <= threshold_pct && dq.files_quarantined == 0 {
        return None;
    }
    let day = dq.ingest_date.unwrap_or(report.date);
    let rules = dq
        .rejected_by_rule
        .iter()
        .map(|(r, n)| format!("  {r}: {n}"))
        .collect::<Vec<_>>()
        .join("\n");
    let subject = if dq.rejected_pct > threshold_pct {
        format!(
            "ShopFlow ALERT {day}: {:.2}% of rows rejected (threshold {threshold_pct:.2}%)",
            dq.rejected_pct
        )
    } else {
        format!(
            "ShopFlow ALERT {day}: {} file(s) quarantined whole",
            dq.files_quarantined
        )
    };
    Some(Notification {
        subject,
        body: format!(
            "What failed: {rej} of {rows} rows ingested on {day} were rejected; {files} file(s) were quarantined whole.\n\nBy rule:\n{rules}\n\nWhere the bad data went: {lake}/quarantine/<dataset>/ingest_date={day}/ (rows: <object_id>.parquet; whole files: files/<object_id>/ with reason.json).\nManifests: {lake}/manifests/<dataset>/ingest_date={day}/\n\nHow to replay once the source or the contract is fixed: invoke the transformer with {{\"bucket\": \"{bucket}\", \"key\": \"landing/<dataset>/<file>\", \"replay\": true}} (see docs/runbook.md).\n",
            rej = dq.rows_rejected,
            rows = dq.rows_in,
            files = dq.files_quarantined,
        ),
        kind: "alert".into(),
    })
}

/// The state machine's maintenance request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintainRequest {
    /// Keep the files a version from the last this many hours still references.
    #[serde(default = "default_retention_hours")]
    pub retention_hours: u32,
}

fn default_retention_hours() -> u32 {
    MIN_RETENTION_HOURS
}

/// Compacts and vacuums every lake table.
pub async fn maintain(request: MaintainRequest, deps: &Deps) -> Result<Value, FunctionError> {
    if request.retention_hours < MIN_RETENTION_HOURS {
        return Err(FunctionError::new(
            ErrorKind::InvalidInput,
            format!(
                "retention_hours {} is below {MIN_RETENTION_HOURS}: files a running query or a time-travel read still needs could be deleted",
                request.retention_hours
            ),
        ));
    }
    let retention = Duration::hours(i64::from(request.retention_hours));
    let reports = deps
        .lake
        .maintain_all(None, retention, deps.metrics.as_ref())
        .await?;
    Ok(crate::tables::maintain_totals(&reports))
}

/// Handles the state machine's request.
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, FunctionError> {
    let request = match Request::parse(event)? {
        Request::Maintain(m) => return maintain(m, deps).await,
        Request::Report(r) => r,
    };
    let date = request.date_or_yesterday(Utc::now());
    let out =
        report::build_daily(&deps.lake, Some(date), &deps.contracts, &deps.config.report).await?;
    let lake = &deps.lake_url;
    deps.notifier
        .publish(&summary(&out.report, lake, &out.report_key))
        .await?;
    let mut alerts = Vec::new();
    if let Some(alert) = quality_alert(
        &out.report,
        deps.config.alert_rejected_pct,
        lake,
        &deps.config.bucket,
    ) {
        deps.notifier.publish(&alert).await?;
        alerts.push(alert.subject);
    }
    if let Some(alert) = anomaly_alert(&out.report, lake, &out.report_key) {
        deps.notifier.publish(&alert).await?;
        alerts.push(alert.subject);
    }
    let response = ReportResponse {
        date,
        anomalies: out.report.anomalies.len(),
        kpis: out.report.kpis.clone(),
        rejected_pct: out.report.data_quality.rejected_pct,
        report_key: out.report_key,
        html_key: out.html_key,
        alerts,
    };
    serde_json::to_value(response).map_err(|e| FunctionError::wrap(ErrorKind::Internal, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_reads_exactly_the_variables_it_lists() {
        let c = super::config::read_exactly(
            Config::VARIABLES,
            &[
                ("LAKE_BUCKET", "lake"),
                ("ALERT_REJECTED_PCT", "2.5"),
                ("ANOMALY_THRESHOLD_PCT", "40"),
                ("LOOKBACK_DAYS", "2"),
                ("TOPIC_ARN", "arn:aws:sns:eu-west-1:000000000000:reports"),
                ("METRICS_NAMESPACE", "ShopFlow/test"),
                ("SHOPFLOW_S3_FORCE_PATH_STYLE", "0"),
            ],
            Config::from_env,
        );
        assert_eq!(c.report.gold.lookback_days, 2);
        assert!(!c.force_path_style);
    }
}
