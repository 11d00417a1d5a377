//! ingest-trigger Lambda: API Gateway `POST /ingestions` and the daily EventBridge schedule →
//! fetch tasks on Kinesis. Wiring only; the logic is `shopflow_core::functions::ingest_trigger`.

use ingest_trigger::handler;

use std::sync::Arc;

use lambda_runtime::{run, service_fn};
use shopflow_core::adapters::aws::{self, dynamodb::DynamoRunRegistry, kinesis::KinesisTaskQueue};
use shopflow_core::functions::config::ProcessEnv;
use shopflow_core::functions::ingest_trigger::{Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handler::init();
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
    let deps = &deps;
    run(service_fn(move |event| handler::handle(event, deps)))
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
