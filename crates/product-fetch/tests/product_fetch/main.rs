//! product-fetch against a real moto server and a local product API that misbehaves on
//! chosen pages: raw pages in S3, products in DynamoDB, and `batchItemFailures` naming exactly
//! the records whose pages failed for good.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shopflow_core::adapters::aws::dynamodb::DynamoProductStore;
use shopflow_core::adapters::aws::http::ReqwestHttp;
use shopflow_core::adapters::aws::s3::S3ObjectStore;
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::product_fetch::{Config, Deps};
use shopflow_core::functions::{iam, product_fetch};
use shopflow_core::ports::FetchTask;
use shopflow_lambda::HandlerError;
use shopflow_testkit::{Behaviour, Moto, ProductApiStub, Role};

/// One invocation, as the runtime makes it (what the function's `main.rs` serves).
async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, HandlerError> {
    shopflow_lambda::invoke(event, deps, async |e, _, d| {
        product_fetch::handle(e, d).await
    })
    .await
}

fn sample() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/product-fetch/kinesis-fetch-tasks.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A Kinesis event shaped like the sample, carrying `tasks`; sequence numbers `seq-{page}`.
fn kinesis_event(tasks: &[FetchTask]) -> Value {
    let sample = sample();
    let template = sample["Records"][0].clone();
    let records: Vec<Value> = tasks
        .iter()
        .map(|t| {
            let mut r = template.clone();
            r["kinesis"]["data"] = json!(
                base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(t).unwrap())
            );
            r["kinesis"]["partitionKey"] = json!(t.partition_key());
            r["kinesis"]["sequenceNumber"] = json!(format!("seq-{}", t.page));
            r
        })
        .collect();
    json!({ "Records": records })
}

fn task(page: u32) -> FetchTask {
    FetchTask {
        run_id: "run-1".into(),
        source: "dummyjson".into(),
        page,
        page_size: 30,
        skip: (page - 1) * 30,
    }
}

/// The function's role on `moto`: exactly the actions it declares.
fn role(moto: &Moto) -> Role {
    moto.role(iam::names(Config::ACTIONS))
}

/// The bucket, the products table and the handler's dependencies on them and on `api`, under
/// `role`.
async fn deps(moto: &Moto, role: &Role, api: &ProductApiStub) -> Deps {
    moto.create_bucket("lake").await;
    moto.create_table("products", "product_id").await;
    let env: BTreeMap<String, String> = BTreeMap::from([
        (
            "PRODUCT_SOURCES".to_string(),
            format!("dummyjson={}", api.base_url()),
        ),
        ("HTTP_TIMEOUT_MS".to_string(), "700".to_string()),
        ("MAX_ATTEMPTS".to_string(), "3".to_string()),
        ("BASE_BACKOFF_MS".to_string(), "50".to_string()),
        ("MAX_BACKOFF_MS".to_string(), "2000".to_string()),
        ("LAKE_BUCKET".to_string(), "lake".to_string()),
        ("PRODUCTS_TABLE".to_string(), "products".to_string()),
    ]);
    let config = Config::from_env(&env).unwrap();
    Deps {
        http: Arc::new(ReqwestHttp::new(config.timeout).unwrap()),
        store: Arc::new(S3ObjectStore::new(role.s3(), &config.bucket)),
        products: Arc::new(DynamoProductStore::new(
            role.dynamodb(),
            &config.products_table,
        )),
        contracts: Arc::new(ContractSet::defaults().unwrap()),
        config,
    }
}

async fn call(deps: &Deps, payload: Value) -> Value {
    handle(LambdaEvent::new(payload, Context::default()), deps)
        .await
        .map_err(|e| e.0.message)
        .unwrap()
}

fn failures(out: &Value) -> Vec<String> {
    let mut v: Vec<String> = out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn reports_exactly_the_pages_that_failed_for_good() {
    let moto = Moto::start();
    let role = role(&moto);
    let api = ProductApiStub::start(150).await;
    let deps = deps(&moto, &role, &api).await;
    api.fail(
        30,
        Behaviour::TooManyRequests {
            times: 1,
            retry_after_secs: 1,
        },
    );
    api.fail(60, Behaviour::ServerError { times: usize::MAX });
    api.fail(90, Behaviour::Slow(Duration::from_secs(3)));
    api.fail(120, Behaviour::Malformed);
    let tasks: Vec<FetchTask> = (1..=5).map(task).collect();
    let out = call(&deps, kinesis_event(&tasks)).await;
    assert_eq!(failures(&out), ["seq-3", "seq-4", "seq-5"], "{out}");
    assert_eq!(api.requests(30), 2, "429 retried once after Retry-After");
    assert_eq!(api.requests(60), 3, "500 retried up to MAX_ATTEMPTS");
    assert_eq!(api.requests(120), 1, "malformed JSON is not retried");

    let keys = moto.list_keys("lake", "landing/products/").await;
    assert_eq!(
        keys,
        [
            "landing/products/run=run-1/dummyjson-page-0001.json",
            "landing/products/run=run-1/dummyjson-page-0002.json"
        ]
    );
    let page: Value = serde_json::from_slice(&moto.get_object("lake", &keys[0]).await).unwrap();
    assert_eq!(page["products"].as_array().unwrap().len(), 30);
    assert_eq!(moto.scan_table("products").await.len(), 60);

    // A retry of the same tasks overwrites the same keys and writes no unchanged product.
    api.clear(60);
    let out = call(&deps, kinesis_event(&tasks[..3])).await;
    assert!(failures(&out).is_empty(), "{out}");
    let pages = out["pages"].as_array().unwrap();
    assert_eq!(pages[0]["unchanged"], 30);
    assert_eq!(pages[2]["inserted"], 30);
    assert_eq!(moto.list_keys("lake", "landing/products/").await.len(), 3);
}

#[tokio::test]
async fn a_price_change_updates_the_product_and_keeps_the_previous_price() {
    let moto = Moto::start();
    let role = role(&moto);
    let api = ProductApiStub::start(30).await;
    let deps = deps(&moto, &role, &api).await;
    let old_price = api.product(1)["price"].as_f64().unwrap();
    call(&deps, kinesis_event(&[task(1)])).await;
    api.set_price(1, 123.45);
    let out = call(&deps, kinesis_event(&[task(1)])).await;
    assert_eq!(out["pages"][0]["updated"], 1, "{out}");
    assert_eq!(out["pages"][0]["unchanged"], 29);
    let items = moto.scan_table("products").await;
    let item = items
        .iter()
        .find(|i| i["product_id"].as_s().unwrap() == "1")
        .unwrap();
    assert_eq!(item["price_cents"].as_n().unwrap(), "12345");
    assert_eq!(
        item["previous_price_cents"].as_n().unwrap(),
        &format!("{}", (old_price * 100.0).round() as i64)
    );
    // The ordinary path called every action the function declares as such (and, the role
    // refusing the rest, nothing it does not declare).
    role.assert_called(iam::always(Config::ACTIONS));
}

#[test]
fn the_sample_event_deserialises_and_carries_fetch_tasks() {
    let event: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_value(sample()).unwrap();
    assert_eq!(event.records.len(), 3);
    for r in &event.records {
        let t: FetchTask = serde_json::from_slice(&r.kinesis.data.0).unwrap();
        assert_eq!(r.kinesis.partition_key, t.partition_key());
    }
}

/// `kinesis_event`, with the records at `poisoned` (0-based) carrying bytes that are not a
/// fetch task.
fn poisoned_event(tasks: &[FetchTask], poisoned: &[usize]) -> Value {
    let mut event = kinesis_event(tasks);
    for &i in poisoned {
        event["Records"][i]["kinesis"]["data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(b"{\"page\": \"not a task"));
    }
    event
}

#[tokio::test]
async fn a_hundred_records_with_three_poisoned_report_exactly_those_and_redelivery_changes_nothing()
{
    let moto = Moto::start();
    let role = role(&moto);
    let api = ProductApiStub::start(90).await;
    let deps = deps(&moto, &role, &api).await;
    let tasks: Vec<FetchTask> = (1..=100).map(task).collect();
    let poisoned = [16, 59, 98]; // records 17, 60 and 99
    let out = call(&deps, poisoned_event(&tasks, &poisoned)).await;
    assert_eq!(failures(&out), ["seq-17", "seq-60", "seq-99"], "{out}");
    assert_eq!(out["pages"].as_array().unwrap().len(), 97);
    let keys = moto.list_keys("lake", "landing/products/").await;
    let products = moto.scan_table("products").await.len();
    assert_eq!(products, 90);

    // What Lambda does next on a stream: everything from the lowest failure (17) comes again.
    let again = call(&deps, poisoned_event(&tasks[16..], &[0, 43, 82])).await;
    assert_eq!(failures(&again), ["seq-17", "seq-60", "seq-99"], "{again}");
    assert_eq!(moto.list_keys("lake", "landing/products/").await, keys);
    assert_eq!(moto.scan_table("products").await.len(), products);
    assert_no_product_written(&again);
}

/// Asserts that every page of a product-fetch response inserted and updated nothing (what a
/// redelivered page must do).
fn assert_no_product_written(out: &Value) {
    let pages = out["pages"].as_array().expect("a response lists its pages");
    assert!(
        pages
            .iter()
            .all(|p| p["inserted"] == 0 && p["updated"] == 0),
        "a redelivered page writes no product: {out}"
    );
}

#[tokio::test]
async fn a_batch_that_fails_whole_or_lacks_a_sequence_number_is_an_error_not_a_partial_response() {
    let moto = Moto::start();
    let role = role(&moto);
    let api = ProductApiStub::start(30).await;
    let deps = deps(&moto, &role, &api).await;
    let tasks: Vec<FetchTask> = (1..=3).map(task).collect();
    let all = handle(
        LambdaEvent::new(poisoned_event(&tasks, &[0, 1, 2]), Context::default()),
        &deps,
    )
    .await;
    assert!(all.is_err(), "all poisoned: the invocation fails");
    let mut event = kinesis_event(&tasks);
    event["Records"][1]["kinesis"]["sequenceNumber"] = json!("");
    let empty = handle(LambdaEvent::new(event, Context::default()), &deps).await;
    assert!(empty.is_err(), "an empty identifier is never reported");
    assert!(
        moto.list_keys("lake", "landing/products/").await.is_empty(),
        "nothing written"
    );
}

/// Records in the load test: `SHOPFLOW_LOAD_RECORDS` (the test command: 1,000; the note's run:
/// 10,000, one event at Lambda's largest Kinesis batch).
fn load_records() -> usize {
    std::env::var("SHOPFLOW_LOAD_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Lambda's largest batch for a Kinesis event source, and what one `GetRecords` call on a shard
/// returns at most.
const KINESIS_MAX_BATCH: usize = 10_000;

#[tokio::test]
async fn a_stream_of_fetch_tasks_at_the_shard_batch_limit_is_fetched_once_each_and_redelivery_changes_nothing()
 {
    use shopflow_core::adapters::aws::kinesis::KinesisTaskQueue;
    use shopflow_core::ports::TaskQueue;

    let n = load_records();
    let moto = Moto::start();
    let role = role(&moto);
    let api = ProductApiStub::start(2 * n).await;
    let deps = deps(&moto, &role, &api).await;
    moto.create_stream("tasks", 1).await;
    let tasks: Vec<FetchTask> = (1..=n as u32)
        .map(|page| FetchTask {
            page_size: 2,
            skip: (page - 1) * 2,
            ..task(page)
        })
        .collect();

    // The producer side: the ingest-trigger's queue, 500 entries per PutRecords call.
    let queue = KinesisTaskQueue::new(moto.kinesis(), "tasks", 3);
    let started = std::time::Instant::now();
    queue.publish(&tasks).await.unwrap();
    let put = started.elapsed();
    let records = moto.read_stream("tasks").await;
    assert_eq!(records.len(), n, "every task on the stream once");
    let mut pages: Vec<u32> = records
        .iter()
        .map(|(_, _, data)| serde_json::from_slice::<FetchTask>(data).unwrap().page)
        .collect();
    pages.sort_unstable();
    pages.dedup();
    assert_eq!(pages.len(), n, "no task twice");

    // The consumer side: events of up to 10,000 records with the stream's own sequence numbers.
    let template = sample()["Records"][0].clone();
    let events: Vec<Value> = records
        .chunks(KINESIS_MAX_BATCH)
        .map(|chunk| {
            let records: Vec<Value> = chunk
                .iter()
                .map(|(partition_key, sequence, data)| {
                    let mut r = template.clone();
                    r["kinesis"]["data"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(data));
                    r["kinesis"]["partitionKey"] = json!(partition_key);
                    r["kinesis"]["sequenceNumber"] = json!(sequence);
                    r
                })
                .collect();
            json!({ "Records": records })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut inserted = 0;
    for event in &events {
        let out = call(&deps, event.clone()).await;
        assert!(failures(&out).is_empty(), "{out}");
        inserted += out["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["inserted"].as_u64().unwrap())
            .sum::<u64>();
    }
    let fetched = started.elapsed();
    assert_eq!(inserted, 2 * n as u64, "every product inserted once");
    let keys = moto.list_keys("lake", "landing/products/").await;
    assert_eq!(keys.len(), n, "one raw page per task");
    assert_eq!(moto.scan_table("products").await.len(), 2 * n);

    // The whole first batch again (a retried invocation): the same keys, no product written.
    let again = call(&deps, events[0].clone()).await;
    assert!(failures(&again).is_empty(), "{again}");
    assert_no_product_written(&again);
    assert_eq!(moto.list_keys("lake", "landing/products/").await, keys);
    eprintln!(
        "load: {n} fetch tasks; PutRecords {:.0} records/s ({:.1} s); product-fetch {:.0} records/s ({:.1} s, {} event(s) of up to {KINESIS_MAX_BATCH}, {} products)",
        n as f64 / put.as_secs_f64(),
        put.as_secs_f64(),
        n as f64 / fetched.as_secs_f64(),
        fetched.as_secs_f64(),
        events.len(),
        2 * n
    );
}
