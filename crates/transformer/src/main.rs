//! transformer Lambda: S3 notifications on `landing/` (and direct `{bucket, key}` calls from
//! the state machine) → bronze, and the silver and quarantine Delta tables. Wiring only; the logic is
//! `shopflow_core::functions::transformer` over the core data plane.

use std::sync::Arc;

use shopflow_core::adapters::aws::{self, dynamodb::DynamoLedger, s3::S3ObjectStore};
use shopflow_core::adapters::emf::EmfMetrics;
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::config::ProcessEnv;
use shopflow_core::functions::transformer::{self, Config, Deps};
use shopflow_core::ingest::{IngestOptions, Ingestor};
use shopflow_core::tables::DeltaLake;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shopflow_lambda::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = aws::sdk_config().await;
    let store = Arc::new(S3ObjectStore::new(
        aws::s3_client(&sdk, config.force_path_style),
        config.bucket.clone(),
    ));
    let ingestor = Ingestor::new(
        store.clone(),
        Arc::new(DeltaLake::new(store.clone())),
        Arc::new(DynamoLedger::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.ledger_table,
        )),
        Arc::new(EmfMetrics::stdout(config.metrics_namespace)),
        Arc::new(ContractSet::defaults()?),
        IngestOptions {
            batch_rows: config.batch_rows,
            lease: config.lease,
            work_dir: None,
            ..IngestOptions::default()
        },
    );
    let deps = Deps {
        ingestor,
        store,
        bucket: config.bucket,
    };
    shopflow_lambda::serve(deps, async |e, id, d| transformer::handle(e, id, d).await)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
