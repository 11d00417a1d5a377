//! report-generator against a real moto server: report objects in S3, the summary delivered
//! to an SQS queue subscribed to the SNS topic, and an alert when too many rows were rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shopflow_core::adapters::aws::s3::S3ObjectStore;
use shopflow_core::adapters::aws::sns::SnsNotifier;
use shopflow_core::adapters::local::LogMetrics;
use shopflow_core::adapters::memory::MemoryLedger;
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::report_generator::{Config, Deps};
use shopflow_core::functions::{iam, report_generator};
use shopflow_core::generate::{self, GenerateConfig};
use shopflow_core::ingest::{IngestOptions, Ingestor};
use shopflow_core::report::ReportOptions;
use shopflow_core::tables::DeltaLake;
use shopflow_lambda::HandlerError;
use shopflow_testkit::{Moto, Role};

/// One invocation, as the runtime makes it (what the function's `main.rs` serves).
async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, HandlerError> {
    shopflow_lambda::invoke(event, deps, async |e, _, d| {
        report_generator::handle(e, d).await
    })
    .await
}

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/report-generator")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The report generator's role on `moto`: exactly the actions it declares.
fn role(moto: &Moto) -> Role {
    moto.role(iam::names(Config::ACTIONS))
}

/// A lake in moto S3 with a generated day 2026-11-21 ingested (about 2% defective rows), as the
/// transformer leaves it (written with the emulator's unrestricted client, not the report
/// generator's role).
async fn lake(moto: &Moto) {
    moto.create_bucket("lake").await;
    let store = S3ObjectStore::new(moto.s3(), "lake");
    let dir = tempfile::tempdir().unwrap();
    let mut config = GenerateConfig::new(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
    config.transactions = 1500;
    config.customers = 300;
    config.products = 100;
    config.days = 30;
    generate::generate(&config, dir.path()).unwrap();
    let ingestor = Ingestor::new(
        Arc::new(store.clone()),
        Arc::new(DeltaLake::new(Arc::new(store.clone()))),
        Arc::new(MemoryLedger::new()),
        Arc::new(LogMetrics),
        Arc::new(ContractSet::defaults().unwrap()),
        IngestOptions::default(),
    );
    for (ds, f) in [
        ("customers", "customers.csv"),
        ("products", "products.json"),
        ("transactions", "transactions.csv"),
    ] {
        let key = format!("landing/{ds}/{f}");
        moto.put_object("lake", &key, std::fs::read(dir.path().join(f)).unwrap())
            .await;
        ingestor.ingest_object(&key, "seed-run").await.unwrap();
    }
}

#[tokio::test]
async fn writes_the_report_and_delivers_the_summary_and_a_quality_alert() {
    let moto = Moto::start();
    lake(&moto).await;
    let role = role(&moto);
    let store = S3ObjectStore::new(role.s3(), "lake");
    let (topic, queue) = moto
        .create_topic_with_queue("reports", "reports-inbox")
        .await;
    let deps_with = |threshold: f64, anomaly_pct: f64| Deps {
        lake: DeltaLake::new(Arc::new(store.clone())),
        metrics: Arc::new(LogMetrics),
        notifier: Arc::new(SnsNotifier::new(role.sns(), topic.clone())),
        contracts: Arc::new(ContractSet::defaults().unwrap()),
        config: Config {
            alert_rejected_pct: threshold,
            bucket: "lake".into(),
            report: ReportOptions {
                anomaly_threshold_pct: anomaly_pct,
                ..ReportOptions::default()
            },
            topic_arn: topic.clone(),
            metrics_namespace: "ShopFlow/test".into(),
            force_path_style: true,
        },
        lake_url: "s3://lake".into(),
    };
    let deps = |threshold: f64| deps_with(threshold, 1000.0);

    // A tolerant threshold: the summary only.
    let out = handle(
        LambdaEvent::new(sample("step-functions-date.json"), Context::default()),
        &deps(50.0),
    )
    .await
    .map_err(|e| e.0.message)
    .unwrap();
    assert_eq!(out["date"], "2026-11-21");
    assert!(out["kpis"]["transactions"].as_u64().unwrap() > 0, "{out}");
    let report: Value = serde_json::from_slice(
        &moto
            .get_object("lake", "reports/daily/date=2026-11-21/report.json")
            .await,
    )
    .unwrap();
    assert_eq!(report["kpis"], out["kpis"]);
    for prefix in [
        "gold/fact_sales/_delta_log/",
        "gold/fact_sales/dt=2026-11-21/",
        "gold/dim_product/_delta_log/",
        "gold/customer_ltv/_delta_log/",
    ] {
        assert!(!moto.list_keys("lake", prefix).await.is_empty(), "{prefix}");
    }
    // The report records the version of every table it read, as committed on S3.
    for table in ["silver/transactions", "silver/products", "gold/fact_sales"] {
        assert!(
            report["table_versions"][table].is_u64(),
            "{table}: {}",
            report["table_versions"]
        );
    }
    let html = moto
        .get_object("lake", "reports/daily/date=2026-11-21/report.html")
        .await;
    assert!(String::from_utf8_lossy(&html).contains("data-chart=\"revenue-trend\""));
    assert!(
        !moto
            .list_keys("lake", "reports/daily/date=2026-11-21/top_products.csv")
            .await
            .is_empty()
    );
    let messages = moto.receive_all(&queue).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("ShopFlow daily report 2026-11-21"),
        "{:?}",
        messages[0]
    );
    assert!(
        messages[0]["Message"]
            .as_str()
            .unwrap()
            .contains("s3://lake/reports/daily/date=2026-11-21/report.json")
    );

    // A strict threshold: the day's ~2% rejected rows raise an alert naming the problem.
    let out = handle(
        LambdaEvent::new(sample("step-functions-date.json"), Context::default()),
        &deps(0.5),
    )
    .await
    .map_err(|e| e.0.message)
    .unwrap();
    assert_eq!(out["alerts"].as_array().unwrap().len(), 1, "{out}");
    let messages = moto.receive_all(&queue).await;
    let subjects: Vec<&str> = messages
        .iter()
        .map(|m| m["Subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let alert = messages
        .iter()
        .find(|m| m["Subject"].as_str().unwrap().starts_with("ShopFlow ALERT"))
        .unwrap();
    assert!(
        alert["Subject"]
            .as_str()
            .unwrap()
            .contains("% of rows rejected"),
        "{alert}"
    );
    let body = alert["Message"].as_str().unwrap();
    assert!(
        body.contains("quarantine/") && body.contains("transactions.quantity.positive"),
        "{body}"
    );

    // A hair-trigger anomaly threshold: every KPI that moved against its 7-day average is
    // flagged, in the summary and in an alert of its own.
    let out = handle(
        LambdaEvent::new(sample("step-functions-date.json"), Context::default()),
        &deps_with(50.0, 0.01),
    )
    .await
    .map_err(|e| e.0.message)
    .unwrap();
    assert!(out["anomalies"].as_u64().unwrap() >= 1, "{out}");
    let messages = moto.receive_all(&queue).await;
    let summary = messages
        .iter()
        .find(|m| {
            m["Subject"]
                .as_str()
                .unwrap()
                .starts_with("ShopFlow daily report")
        })
        .unwrap();
    assert!(
        summary["Message"].as_str().unwrap().contains("ANOMALY: "),
        "{summary}"
    );
    let alert = messages
        .iter()
        .find(|m| m["Subject"].as_str().unwrap().starts_with("ShopFlow ALERT"))
        .unwrap();
    let subject = alert["Subject"].as_str().unwrap();
    assert!(
        subject.contains("7-day average") || subject.contains("moved abnormally"),
        "{subject}"
    );
    // The report's ordinary path called every action the function declares as such (and, the
    // role refusing the rest, nothing it does not declare).
    role.assert_called(iam::always(Config::ACTIONS));
}

#[tokio::test]
async fn defaults_to_yesterday_and_refuses_bad_input() {
    let moto = Moto::start();
    let role = role(&moto);
    moto.create_bucket("lake").await;
    let (topic, _) = moto.create_topic_with_queue("reports", "inbox").await;
    let deps = Deps {
        lake: DeltaLake::new(Arc::new(S3ObjectStore::new(role.s3(), "lake"))),
        metrics: Arc::new(LogMetrics),
        notifier: Arc::new(SnsNotifier::new(role.sns(), topic)),
        contracts: Arc::new(ContractSet::defaults().unwrap()),
        config: Config {
            alert_rejected_pct: 5.0,
            bucket: "lake".into(),
            report: ReportOptions::default(),
            topic_arn: "unused".into(),
            metrics_namespace: "ShopFlow/test".into(),
            force_path_style: true,
        },
        lake_url: "s3://lake".into(),
    };
    let out = handle(
        LambdaEvent::new(sample("step-functions-default.json"), Context::default()),
        &deps,
    )
    .await
    .map_err(|e| e.0.message)
    .unwrap();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    assert_eq!(out["date"], yesterday.as_str());
    let err = handle(
        LambdaEvent::new(serde_json::json!({"date": "yesterday"}), Context::default()),
        &deps,
    )
    .await
    .unwrap_err();
    assert_eq!(err.0.error_type(), "ShopFlow.InvalidInput");
    // Maintenance below the 7-day retention is refused; at it, every table on S3 is maintained.
    let err = handle(
        LambdaEvent::new(
            serde_json::json!({"maintain": {"retention_hours": 1}}),
            Context::default(),
        ),
        &deps,
    )
    .await
    .unwrap_err();
    assert_eq!(err.0.error_type(), "ShopFlow.InvalidInput");
    let out = handle(
        LambdaEvent::new(serde_json::json!({"maintain": {}}), Context::default()),
        &deps,
    )
    .await
    .map_err(|e| e.0.message)
    .unwrap();
    assert!(
        out["tables"].as_u64().unwrap() >= 9,
        "every gold table at least: {out}"
    );
    assert!(
        out["files_after"].as_u64().unwrap() <= out["files_before"].as_u64().unwrap(),
        "{out}"
    );
}
