//! ingest-trigger Lambda: API Gateway `POST /ingestions` and the daily EventBridge schedule →
//! fetch tasks on Kinesis. Wiring only; the logic is `shopflow_core::functions::ingest_trigger`.

use std::sync::Arc;

use shopflow_core::adapters::aws::{self, dynamodb::DynamoRunRegistry, kinesis::KinesisTaskQueue};
use shopflow_core::functions::config::ProcessEnv;
use shopflow_core::functions::ingest_trigger::{self, Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shopflow_lambda::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = aws::sdk_config().await;
    let deps = Deps {
        queue: Arc::new(KinesisTaskQueue::new(
            aws_sdk_kinesis::Client::new(&sdk),
            &config.stream,
            config.put_attempts,
        )),
        runs: Arc::new(DynamoRunRegistry::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &config.runs_table,
        )),
        config,
    };
    shopflow_lambda::serve(deps, async |e, _, d| ingest_trigger::handle(e, d).await)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
