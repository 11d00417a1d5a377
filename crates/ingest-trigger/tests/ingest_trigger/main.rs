//! ingest-trigger against a real moto server: API events → Kinesis records; idempotency;
//! bad requests; routes and methods; the schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use shopflow_core::adapters::aws::dynamodb::DynamoRunRegistry;
use shopflow_core::adapters::aws::kinesis::KinesisTaskQueue;
use shopflow_core::functions::ingest_trigger::{Config, Deps};
use shopflow_core::functions::{iam, ingest_trigger};
use shopflow_core::ports::FetchTask;
use shopflow_lambda::HandlerError;
use shopflow_testkit::{Moto, Role};

/// One invocation, as the runtime makes it (what the function's `main.rs` serves).
async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, HandlerError> {
    shopflow_lambda::invoke(event, deps, async |e, _, d| {
        ingest_trigger::handle(e, d).await
    })
    .await
}

fn event(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/ingest-trigger")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The function's role on `moto`: exactly the actions it declares.
fn role(moto: &Moto) -> Role {
    moto.role(iam::names(Config::ACTIONS))
}

/// The stream, the runs table and the handler's dependencies on them, under `role`.
async fn deps(moto: &Moto, role: &Role) -> Deps {
    moto.create_stream("fetch-tasks", 2).await;
    moto.create_table("runs", "idempotency_key").await;
    let env: BTreeMap<String, String> = BTreeMap::from([
        ("STREAM_NAME".to_string(), "fetch-tasks".to_string()),
        ("RUNS_TABLE".to_string(), "runs".to_string()),
    ]);
    let config = Config::from_env(&env).unwrap();
    Deps {
        queue: Arc::new(KinesisTaskQueue::new(
            role.kinesis(),
            &config.stream,
            config.put_attempts,
        )),
        runs: Arc::new(DynamoRunRegistry::new(role.dynamodb(), &config.runs_table)),
        config,
    }
}

async fn call(deps: &Deps, payload: Value) -> Value {
    handle(LambdaEvent::new(payload, Context::default()), deps)
        .await
        .map_err(|e| e.0.message)
        .unwrap()
}

fn body(resp: &Value) -> Value {
    serde_json::from_str(resp["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn api_requests_publish_tasks_once_per_idempotency_key_and_refuse_bad_input() {
    let moto = Moto::start();
    let role = role(&moto);
    let deps = deps(&moto, &role).await;

    let resp = call(&deps, event("api-post-ingestions-idempotent.json")).await;
    assert_eq!(resp["statusCode"], 202, "{resp}");
    let first = body(&resp);
    assert_eq!(first["tasks"], 7);
    let run_id = first["run_id"].as_str().unwrap().to_string();

    let records = moto.read_stream("fetch-tasks").await;
    assert_eq!(records.len(), 7);
    let mut pages: Vec<FetchTask> = records
        .iter()
        .map(|(_, _, data)| serde_json::from_slice(data).unwrap())
        .collect();
    pages.sort_by_key(|t| t.page);
    assert_eq!(
        pages.iter().map(|t| t.page).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert!(
        pages
            .iter()
            .all(|t| t.run_id == run_id && t.page_size == 30 && t.skip == (t.page - 1) * 30)
    );
    assert!(records.iter().all(|(pk, _, _)| pk.starts_with(&run_id)));

    // The same key again: the same run, nothing new in the stream.
    let again = body(&call(&deps, event("api-post-ingestions-idempotent.json")).await);
    assert_eq!(again["run_id"], run_id.as_str());
    assert_eq!(again["replayed"], true);
    assert_eq!(moto.read_stream("fetch-tasks").await.len(), 7);

    // Bad requests: 400 naming the field, nothing published.
    let bad = call(&deps, event("api-post-ingestions-bad-body.json")).await;
    assert_eq!(bad["statusCode"], 400);
    assert_eq!(body(&bad)["field"], "page_size");
    let malformed = call(&deps, event("api-post-ingestions-malformed-json.json")).await;
    assert_eq!(malformed["statusCode"], 400);
    assert_eq!(body(&malformed)["field"], "body");
    assert_eq!(
        call(&deps, event("api-get-ingestions.json")).await["statusCode"],
        405
    );
    assert_eq!(
        call(&deps, event("api-post-unknown-route.json")).await["statusCode"],
        404
    );
    assert_eq!(moto.read_stream("fetch-tasks").await.len(), 7);

    // Without a key every request is a new run; base64 bodies are decoded.
    let b64 = body(&call(&deps, event("api-post-ingestions-base64.json")).await);
    assert_eq!(b64["tasks"], 1);
    assert_eq!(moto.read_stream("fetch-tasks").await.len(), 8);
    // The ordinary path called every action the function declares as such (and, the role
    // refusing the rest, nothing it does not declare).
    role.assert_called(iam::always(Config::ACTIONS));
}

#[tokio::test]
async fn the_schedule_starts_the_default_run() {
    let moto = Moto::start();
    let role = role(&moto);
    let deps = deps(&moto, &role).await;
    let out = call(&deps, event("scheduled-event.json")).await;
    assert_eq!(out["tasks"], 7, "{out}");
    assert_eq!(moto.read_stream("fetch-tasks").await.len(), 7);
    // EventBridge redelivers the same event: no second run.
    let again = call(&deps, event("scheduled-event.json")).await;
    assert_eq!(again["run_id"], out["run_id"]);
    assert_eq!(moto.read_stream("fetch-tasks").await.len(), 7);
}

#[test]
fn every_sample_event_deserialises_into_its_aws_type() {
    use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/ingest-trigger");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("api-")
        {
            let req: ApiGatewayV2httpRequest =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(req.raw_path.is_some());
        } else {
            let _: EventBridgeEvent =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        n += 1;
    }
    assert!(n >= 7);
}

#[tokio::test]
async fn a_missing_variable_is_named() {
    let env: BTreeMap<String, String> =
        BTreeMap::from([("DEFAULT_SOURCE".to_string(), "nope".to_string())]);
    let err = Config::from_env(&env).unwrap_err();
    assert!(err.to_string().contains("DEFAULT_SOURCE"), "{err}");
}
