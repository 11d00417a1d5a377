//! report-generator Lambda: `{date}` from the state machine → gold, the daily report, an SNS
//! summary and data-quality alerts; `{maintain}` → compaction and VACUUM of every lake table. Wiring only; the logic is
//! `shopflow_core::functions::report_generator`.

use std::sync::Arc;

use shopflow_core::tables::DeltaLake;

use shopflow_core::adapters::aws::{self, s3::S3ObjectStore, sns::SnsNotifier};
use shopflow_core::adapters::emf::EmfMetrics;
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::config::ProcessEnv;
use shopflow_core::functions::report_generator::{self, Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shopflow_lambda::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = aws::sdk_config().await;
    let deps = Deps {
        lake: DeltaLake::new(Arc::new(S3ObjectStore::new(
            aws::s3_client(&sdk, config.force_path_style),
            config.bucket.clone(),
        ))),
        metrics: Arc::new(EmfMetrics::stdout(config.metrics_namespace.clone())),
        notifier: Arc::new(SnsNotifier::new(
            aws_sdk_sns::Client::new(&sdk),
            config.topic_arn.clone(),
        )),
        contracts: Arc::new(ContractSet::defaults()?),
        lake_url: format!("s3://{}", config.bucket),
        config,
    };
    shopflow_lambda::serve(deps, async |e, _, d| report_generator::handle(e, d).await)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
