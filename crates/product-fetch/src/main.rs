//! product-fetch Lambda: Kinesis fetch tasks → product API pages → `landing/products/` and the
//! products table. Wiring only; the logic is `shopflow_core::functions::product_fetch`.

use std::sync::Arc;

use shopflow_core::adapters::aws::{
    self, dynamodb::DynamoProductStore, http::ReqwestHttp, s3::S3ObjectStore,
};
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::config::ProcessEnv;
use shopflow_core::functions::product_fetch::{self, Config, Deps};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shopflow_lambda::init();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = aws::sdk_config().await;
    let deps = Deps {
        http: Arc::new(ReqwestHttp::new(config.timeout)?),
        store: Arc::new(S3ObjectStore::new(
            aws::s3_client(&sdk, config.force_path_style),
            &config.bucket,
        )),
        products: Arc::new(DynamoProductStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &config.products_table,
        )),
        contracts: Arc::new(ContractSet::defaults()?),
        config,
    };
    shopflow_lambda::serve(deps, async |e, _, d| product_fetch::handle(e, d).await)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
