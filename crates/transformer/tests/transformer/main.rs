//! transformer against a real moto server: landing objects → S3 event → bronze, silver and
//! quarantine in S3 reconciling with the manifest; the same event again rewrites nothing; a
//! concurrent duplicate is refused with a retryable error; the state machine's `list_pending`
//! and `summarize` calls over the day's landing objects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shopflow_core::adapters::aws::dynamodb::DynamoLedger;
use shopflow_core::adapters::aws::s3::S3ObjectStore;
use shopflow_core::adapters::local::LogMetrics;
use shopflow_core::contract::ContractSet;
use shopflow_core::functions::transformer::Deps;
use shopflow_core::functions::{iam, transformer};
use shopflow_core::generate::{self, GenerateConfig};
use shopflow_core::ingest::{IngestOptions, Ingestor};
use shopflow_core::layer;
use shopflow_core::ports::{ClaimRequest, Ledger, ObjectStore};
use shopflow_core::tables::DeltaLake;
use shopflow_lambda::HandlerError;
use shopflow_testkit::{Moto, Role};

/// One invocation, as the runtime makes it (what the function's `main.rs` serves).
async fn handle(event: LambdaEvent<Value>, deps: &Deps) -> Result<Value, HandlerError> {
    shopflow_lambda::invoke(event, deps, async |e, id, d| {
        transformer::handle(e, id, d).await
    })
    .await
}

fn sample(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/transformer")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// An S3 event shaped like the sample with one record per (encoded) key. The sample's `eTag`,
/// `versionId` and `sequencer` describe another object, so they are left out (an event that
/// carries them: [`s3_event_for`]).
fn s3_event(encoded_keys: &[&str]) -> Value {
    let template = sample("s3-put.json")["Records"][0].clone();
    let records: Vec<Value> = encoded_keys
        .iter()
        .map(|k| {
            let mut r = template.clone();
            r["s3"]["bucket"]["name"] = json!("lake");
            r["s3"]["bucket"]["arn"] = json!("arn:aws:s3:::lake");
            r["s3"]["object"]["key"] = json!(k);
            for field in ["eTag", "versionId", "sequencer"] {
                r["s3"]["object"].as_object_mut().unwrap().remove(field);
            }
            r
        })
        .collect();
    json!({ "Records": records })
}

/// An S3 event for one object version, with its `eTag` and `sequencer` as S3 sends them.
fn s3_event_for(key: &str, etag: &str, sequencer: &str) -> Value {
    let mut event = s3_event(&[key]);
    event["Records"][0]["s3"]["object"]["eTag"] = json!(etag);
    event["Records"][0]["s3"]["object"]["sequencer"] = json!(sequencer);
    event
}

/// The transformer's role on `moto`: exactly the actions it declares.
fn role(moto: &Moto) -> Role {
    moto.role(iam::names(transformer::Config::ACTIONS))
}

/// The bucket, the ledger table and the function's dependencies on them, under its role (held
/// by the caller for the test's length: see [`Role`]).
async fn setup(moto: &Moto, role: &Role) -> (Deps, DynamoLedger, S3ObjectStore) {
    moto.create_bucket("lake").await;
    moto.create_table("ledger", "object_id").await;
    let store = S3ObjectStore::new(role.s3(), "lake");
    let ledger = DynamoLedger::new(role.dynamodb(), "ledger");
    let ingestor = Ingestor::new(
        Arc::new(store.clone()),
        Arc::new(DeltaLake::new(Arc::new(store.clone()))),
        Arc::new(ledger.clone()),
        Arc::new(LogMetrics),
        Arc::new(ContractSet::defaults().unwrap()),
        IngestOptions {
            batch_rows: 2000,
            ..IngestOptions::default()
        },
    );
    (
        Deps {
            ingestor,
            store: Arc::new(store.clone()),
            bucket: "lake".into(),
        },
        ledger,
        store,
    )
}

async fn call(
    deps: &Deps,
    payload: Value,
    request_id: &str,
) -> Result<Value, shopflow_core::functions::FunctionError> {
    let mut ctx = Context::default();
    ctx.request_id = request_id.to_string();
    handle(LambdaEvent::new(payload, ctx), deps)
        .await
        .map_err(|e| e.0)
}

#[tokio::test]
async fn landing_objects_become_bronze_silver_and_quarantine_exactly_once() {
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, _, store) = setup(&moto, &role).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = GenerateConfig::new(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
    config.transactions = 1500;
    config.customers = 300;
    config.products = 100;
    generate::generate(&config, dir.path()).unwrap();
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    // A key with a space and a plus, which S3 sends encoded.
    moto.put_object(
        "lake",
        "landing/customers/customers export+final 2026.csv",
        read("customers.csv"),
    )
    .await;
    moto.put_object(
        "lake",
        "landing/products/products.json",
        read("products.json"),
    )
    .await;
    moto.put_object(
        "lake",
        "landing/transactions/transactions.csv",
        read("transactions.csv"),
    )
    .await;

    let event = s3_event(&[
        "landing/customers/customers+export%2Bfinal+2026.csv",
        "landing/products/products.json",
        "landing/transactions/transactions.csv",
    ]);
    let out = call(&deps, event.clone(), "req-1").await.unwrap();
    let objects = out["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 3, "{out}");
    for o in objects {
        assert_eq!(o["status"], "processed", "{o}");
        let n = |k: &str| o[k].as_u64().unwrap();
        assert_eq!(
            n("rows_in"),
            n("rows_silver") + n("rows_quarantined") + n("duplicates_removed"),
            "{o}"
        );
        // The manifest in S3 says the same, and silver holds exactly its rows.
        let manifest: Value = serde_json::from_slice(
            &moto
                .get_object("lake", o["manifest_key"].as_str().unwrap())
                .await,
        )
        .unwrap();
        assert_eq!(manifest["rows_silver"], o["rows_silver"]);
        let mut silver_rows = 0u64;
        let tables = DeltaLake::new(Arc::new(store.clone()));
        let filter = format!(
            "_source_key = '{}'",
            o["key"].as_str().unwrap().replace('\'', "''")
        );
        for table in manifest["outputs"]["silver"].as_array().unwrap() {
            silver_rows += tables
                .read(table.as_str().unwrap(), Some(&filter), None)
                .await
                .unwrap()
                .iter()
                .map(|b| b.num_rows() as u64)
                .sum::<u64>();
        }
        assert_eq!(silver_rows, n("rows_silver"));
    }
    assert_eq!(
        objects[0]["key"],
        "landing/customers/customers export+final 2026.csv"
    );
    for layer_prefix in [
        "bronze/transactions/",
        "silver/transactions/",
        "quarantine/transactions/",
        "manifests/",
    ] {
        assert!(
            !moto.list_keys("lake", layer_prefix).await.is_empty(),
            "{layer_prefix}"
        );
    }

    // The same event again: everything skipped, nothing rewritten.
    let before = store.list("").await.unwrap();
    let again = call(&deps, event, "req-2").await.unwrap();
    assert!(
        again["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "skipped"),
        "{again}"
    );
    let after = store.list("").await.unwrap();
    assert_eq!(before, after, "no object was written again");

    // An operator's replay of one object rewrites its bronze object and manifest (no new
    // object outside the tables) and commits the same rows to its tables again.
    let tables = DeltaLake::new(Arc::new(store.clone()));
    let silver_before = tables
        .read("silver/transactions", None, Some("transaction_id"))
        .await
        .unwrap();
    let replay =
        json!({ "bucket": "lake", "key": "landing/transactions/transactions.csv", "replay": true });
    let out = call(&deps, replay, "req-replay").await.unwrap();
    assert_eq!(out["objects"][0]["status"], "processed", "{out}");
    let outside_tables = |objects: Vec<shopflow_core::ports::ObjectMeta>| -> Vec<String> {
        objects
            .into_iter()
            .map(|o| o.key)
            .filter(|k| !k.starts_with("silver/") && !k.starts_with("quarantine/"))
            .collect()
    };
    assert_eq!(
        outside_tables(store.list("").await.unwrap()),
        outside_tables(before),
        "a replay adds no object outside the tables"
    );
    let silver_after = tables
        .read("silver/transactions", None, Some("transaction_id"))
        .await
        .unwrap();
    let without_run = |batches: &[arrow::array::RecordBatch]| -> Vec<arrow::array::RecordBatch> {
        batches
            .iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|i| b.schema().field(*i).name() != "_run_id")
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect()
    };
    assert_eq!(
        arrow::compute::concat_batches(
            &without_run(&silver_before)[0].schema(),
            &without_run(&silver_before)
        )
        .unwrap(),
        arrow::compute::concat_batches(
            &without_run(&silver_after)[0].schema(),
            &without_run(&silver_after)
        )
        .unwrap(),
        "the same silver rows, one new version"
    );
}

#[tokio::test]
async fn a_concurrent_duplicate_is_refused_as_retryable_and_test_events_are_ignored() {
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, ledger, store) = setup(&moto, &role).await;
    let key = "landing/transactions/transactions_2026-11-21.csv";
    moto.put_object("lake", key, b"transaction_id,customer_id,product_id,quantity,transaction_date\nT1,C1,P1,1,2026-11-21 10:00:00\n".to_vec()).await;
    let etag = store.head(key).await.unwrap().unwrap().etag.unwrap();
    // Another invocation holds a live claim.
    ledger
        .claim(&ClaimRequest {
            object_id: layer::object_id(key, &etag),
            key: key.into(),
            etag,
            run_id: "other-invocation".into(),
            now: chrono::Utc::now(),
            lease: chrono::Duration::minutes(15),
            force: false,
            sequencer: None,
        })
        .await
        .unwrap();
    // The state machine's direct call, aimed at this test's bucket.
    let mut direct = sample("direct-invocation.json");
    direct["bucket"] = json!("lake");
    let err = call(&deps, direct, "req-3").await.unwrap_err();
    assert_eq!(err.error_type(), "ShopFlow.Retryable", "{}", err.message);
    assert!(err.message.contains("other-invocation"), "{}", err.message);
    assert!(moto.list_keys("lake", "silver/").await.is_empty());

    let out = call(&deps, sample("s3-test-event.json"), "req-4")
        .await
        .unwrap();
    assert!(out["objects"].as_array().unwrap().is_empty());

    let wrong_bucket = json!({ "bucket": "someone-elses", "key": key });
    let err = call(&deps, wrong_bucket, "req-5").await.unwrap_err();
    assert_eq!(err.error_type(), "ShopFlow.InvalidInput");
}

#[test]
fn every_sample_event_is_understood() {
    use shopflow_core::functions::daily::DayRequest;
    use shopflow_core::functions::transformer::Request;
    let objects = |name: &str| match Request::parse(sample(name)).unwrap() {
        Request::Objects(o) => o,
        other => panic!("{name}: {other:?}"),
    };
    let multi = objects("s3-put-multiple.json");
    assert_eq!(multi.len(), 3);
    assert!(
        multi
            .iter()
            .any(|o| o.key == "landing/customers/customers export+final 2026.csv"),
        "{multi:?}"
    );
    let put = objects("s3-put.json");
    assert_eq!(put.len(), 1);
    assert!(
        put[0].etag.is_some() && put[0].sequencer.is_some(),
        "{put:?}"
    );
    assert_eq!(
        Request::parse(sample("s3-test-event.json")).unwrap(),
        Request::TestEvent
    );
    let direct = objects("direct-invocation.json");
    assert_eq!(
        direct[0].key,
        "landing/transactions/transactions_2026-11-21.csv"
    );
    assert_eq!(direct[0].etag, None);
    assert!(matches!(
        Request::parse(sample("step-functions-list-pending.json")).unwrap(),
        Request::ListPending(DayRequest { date: Some(_) })
    ));
    assert_eq!(
        Request::parse(sample("step-functions-list-pending-default.json")).unwrap(),
        Request::ListPending(DayRequest { date: None })
    );
    assert!(matches!(
        Request::parse(sample("step-functions-summarize.json")).unwrap(),
        Request::Summarize(_)
    ));
}

#[test]
fn a_malformed_request_is_refused_naming_what_was_expected() {
    use shopflow_core::functions::transformer::Request;
    for event in [
        json!([1, 2]),
        json!({ "list_pending": { "date": "21/11/2026" } }),
        json!({ "summarize": {}, "extra": 1 }),
        json!({ "bucket": "b" }),
        json!({ "Records": [{ "eventName": "ObjectCreated:Put" }] }),
    ] {
        let err = Request::parse(event.clone()).unwrap_err();
        assert_eq!(err.error_type(), "ShopFlow.InvalidInput", "{event}");
        assert!(
            err.message.starts_with("expected"),
            "{event}: {}",
            err.message
        );
    }
}

#[tokio::test]
async fn the_state_machine_lists_the_days_pending_objects_and_summarizes_their_manifests() {
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, _, _) = setup(&moto, &role).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = GenerateConfig::new(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
    config.transactions = 600;
    config.customers = 120;
    config.products = 40;
    generate::generate(&config, dir.path()).unwrap();
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    moto.put_object(
        "lake",
        "landing/transactions/transactions.csv",
        read("transactions.csv"),
    )
    .await;
    moto.put_object(
        "lake",
        "landing/products/products.json",
        read("products.json"),
    )
    .await;
    moto.put_object(
        "lake",
        "landing/customers/customers.csv",
        read("customers.csv"),
    )
    .await;
    // No contract covers it: not part of the day's work.
    moto.put_object("lake", "landing/unknown/notes.txt", b"x".to_vec())
        .await;
    // moto stamps objects with the current time: they landed today (UTC).
    let today = chrono::Utc::now().date_naive().to_string();

    let mut list = sample("step-functions-list-pending.json");
    list["list_pending"]["date"] = json!(today);
    let pending = call(&deps, list.clone(), "req-list-1").await.unwrap();
    assert_eq!(pending["date"], json!(today));
    assert_eq!(pending["count"], 3, "{pending}");
    assert_eq!(pending["ignored"], 1, "{pending}");
    let keys: Vec<&str> = pending["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    // Referenced datasets first, so reference checks see their values.
    assert_eq!(
        keys,
        [
            "landing/customers/customers.csv",
            "landing/products/products.json",
            "landing/transactions/transactions.csv"
        ]
    );

    // The Map's call for the first key, then the listing again.
    let first = call(
        &deps,
        json!({ "bucket": "lake", "key": keys[0] }),
        "req-item-0",
    )
    .await
    .unwrap();
    assert_eq!(first["objects"][0]["status"], "processed", "{first}");
    let pending = call(&deps, list.clone(), "req-list-2").await.unwrap();
    assert_eq!(pending["count"], 2, "{pending}");
    assert_eq!(pending["landed"], 3, "{pending}");

    let mut summarize = sample("step-functions-summarize.json");
    summarize["summarize"]["date"] = json!(today);
    let partial = call(&deps, summarize.clone(), "req-sum-1").await.unwrap();
    assert_eq!(partial["files"], 3, "{partial}");
    assert_eq!(partial["files_pending"], 2, "{partial}");
    assert_eq!(
        partial["rows_in"], first["objects"][0]["rows_in"],
        "{partial}"
    );

    let mut rows = (0u64, 0u64);
    for (i, key) in keys[1..].iter().enumerate() {
        let out = call(
            &deps,
            json!({ "bucket": "lake", "key": key }),
            &format!("req-item-{}", i + 1),
        )
        .await
        .unwrap();
        let o = &out["objects"][0];
        rows.0 += o["rows_in"].as_u64().unwrap();
        rows.1 += o["rows_quarantined"].as_u64().unwrap();
    }
    rows.0 += first["objects"][0]["rows_in"].as_u64().unwrap();
    rows.1 += first["objects"][0]["rows_quarantined"].as_u64().unwrap();
    let empty = call(&deps, list, "req-list-3").await.unwrap();
    assert_eq!(empty["count"], 0, "{empty}");
    assert_eq!(empty["keys"], json!([]));

    let full = call(&deps, summarize, "req-sum-2").await.unwrap();
    assert_eq!(full["files_processed"], 3, "{full}");
    assert_eq!(full["files_pending"], 0, "{full}");
    assert_eq!(full["rows_in"], rows.0, "{full}");
    assert_eq!(full["rows_rejected"], rows.1, "{full}");
    assert!(rows.1 > 0, "the generator injects defects");
    let pct = full["rejected_pct"].as_f64().unwrap();
    assert!(
        (pct - rows.1 as f64 * 100.0 / rows.0 as f64).abs() < 0.01,
        "{full}"
    );

    // The sample's own date (nothing landed then) and the default (yesterday): nothing.
    let out = call(
        &deps,
        sample("step-functions-list-pending.json"),
        "req-list-4",
    )
    .await
    .unwrap();
    assert_eq!(out["date"], "2026-11-21");
    assert_eq!(out["count"], 0, "{out}");
    let out = call(
        &deps,
        sample("step-functions-list-pending-default.json"),
        "req-list-5",
    )
    .await
    .unwrap();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive();
    assert_eq!(out["date"], json!(yesterday.to_string()));
    // Its ordinary path called every action it declares as such (and, the role refusing the
    // rest, nothing it does not declare).
    role.assert_called(iam::always(transformer::Config::ACTIONS));
}

#[tokio::test]
async fn a_bad_date_or_an_unknown_field_is_invalid_input_and_never_retried() {
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, _, _) = setup(&moto, &role).await;
    for event in [
        json!({ "list_pending": { "date": "21/11/2026" } }),
        json!({ "summarize": { "day": "2026-11-21" } }),
        json!({ "summarize": "2026-11-21" }),
    ] {
        let err = call(&deps, event.clone(), "req-bad").await.unwrap_err();
        assert_eq!(err.error_type(), "ShopFlow.InvalidInput", "{event}");
    }
}

/// Eight transformer invocations at once (each with its own clients and table handles, as
/// eight Lambda sandboxes have), each on its own landing file of one dataset: every commit to
/// the silver table lands (S3 conditional writes on moto; losers retry), every row is there once.
#[tokio::test]
async fn eight_concurrent_invocations_commit_to_one_silver_table_on_s3() {
    let moto = Moto::start();
    let role = role(&moto);
    let (_, _, store) = setup(&moto, &role).await;
    let header = "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n";
    let mut keys = Vec::new();
    for w in 0..8 {
        let mut body = header.to_string();
        for i in 0..20 {
            body.push_str(&format!(
                "W{w}-{i},C{i},P{i},1,2.50,2026-11-2{}T10:00:00Z\n",
                w % 3
            ));
        }
        let key = format!("landing/transactions/part-{w}.csv");
        moto.put_object("lake", &key, body.into_bytes()).await;
        keys.push(key);
    }
    let mut handles = Vec::new();
    for (w, key) in keys.into_iter().enumerate() {
        let store = S3ObjectStore::new(role.s3(), "lake");
        let ledger = DynamoLedger::new(role.dynamodb(), "ledger");
        let ingestor = Ingestor::new(
            Arc::new(store.clone()),
            Arc::new(DeltaLake::new(Arc::new(store.clone()))),
            Arc::new(ledger),
            Arc::new(LogMetrics),
            Arc::new(ContractSet::defaults().unwrap()),
            IngestOptions::default(),
        );
        let deps = Deps {
            ingestor,
            store: Arc::new(store),
            bucket: "lake".into(),
        };
        handles.push(tokio::spawn(async move {
            let event = s3_event(&[key.as_str()]);
            call(&deps, event, &format!("req-{w}")).await.unwrap()
        }));
    }
    for h in handles {
        let out = h.await.unwrap();
        assert_eq!(out["objects"][0]["status"], "processed", "{out}");
        assert_eq!(out["objects"][0]["rows_silver"], 20, "{out}");
    }
    let tables = DeltaLake::new(Arc::new(store.clone()));
    let rows = tables
        .read("silver/transactions", None, Some("transaction_id"))
        .await
        .unwrap();
    let ids: Vec<String> = rows
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("transaction_id").unwrap();
            let c = arrow::array::AsArray::as_string::<i32>(c.as_ref());
            (0..arrow::array::Array::len(c))
                .map(|i| c.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 160, "every row");
    assert_eq!(distinct.len(), 160, "exactly once");
    let commits: Vec<String> = moto
        .list_keys("lake", "silver/transactions/_delta_log/")
        .await
        .into_iter()
        .filter(|k| k.ends_with(".json"))
        .collect();
    // Every invocation's commit is in the log, once: one silver write per landing object,
    // carrying its key (an append, as the keys are new: ADR 0015; writers that created the
    // table at once may add a second CREATE TABLE commit).
    let mut merged = std::collections::BTreeMap::<String, usize>::new();
    for k in &commits {
        let body = moto.get_object("lake", k).await;
        for line in String::from_utf8(body).unwrap().lines() {
            let action: Value = serde_json::from_str(line).unwrap();
            let info = &action["commitInfo"];
            if info["operation"] == "WRITE" || info["operation"] == "MERGE" {
                *merged
                    .entry(info["shopflow.source_key"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    assert_eq!(merged.len(), 8, "{merged:?}");
    assert!(merged.values().all(|n| *n == 1), "{merged:?}");
    let quarantine: Vec<String> = moto
        .list_keys("lake", "quarantine/transactions/_delta_log/")
        .await;
    assert!(
        quarantine.is_empty(),
        "no rejected rows, no quarantine commit: {quarantine:?}"
    );
}

#[tokio::test]
async fn fifty_objects_delivered_three_times_and_in_concurrent_pairs_run_fifty_times_on_s3() {
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, _, store) = setup(&moto, &role).await;
    let deps = Arc::new(deps);
    let header = "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n";
    let mut objects = Vec::new();
    for o in 0..50 {
        let key = format!("landing/transactions/part-{o:03}.csv");
        let body = format!(
            "{header}O{o}-1,C1,P1,1,2.50,2026-11-20T10:00:00Z\nO{o}-2,C1,P1,2,2.50,2026-11-21T10:00:00Z\n"
        );
        moto.put_object("lake", &key, body.into_bytes()).await;
        let etag = store.head(&key).await.unwrap().unwrap().etag.unwrap();
        objects.push((key, etag, format!("{:018X}", 0x1000 + o)));
    }
    let status = |out: &Value| {
        out["objects"][0]["status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // Ten events delivered twice at the same moment, first.
    let mut processed = 0;
    let mut pairs = Vec::new();
    for (key, etag, seq) in objects.iter().take(10) {
        for p in 0..2 {
            let (deps, key, etag, seq) = (deps.clone(), key.clone(), etag.clone(), seq.clone());
            pairs.push(tokio::spawn(async move {
                call(&deps, s3_event_for(&key, &etag, &seq), &format!("pair-{p}")).await
            }));
        }
    }
    for p in pairs {
        match p.await.unwrap() {
            Ok(out) if status(&out) == "processed" => processed += 1,
            Ok(out) => assert_eq!(status(&out), "skipped", "{out}"),
            Err(e) => assert_eq!(e.error_type(), "ShopFlow.Retryable", "{}", e.message),
        }
    }
    // Then every event three times in a row (the first ten objects are done by now).
    for (key, etag, seq) in &objects {
        for attempt in 0..3 {
            let out = call(&deps, s3_event_for(key, etag, seq), &format!("r-{attempt}"))
                .await
                .unwrap();
            match status(&out).as_str() {
                "processed" => processed += 1,
                "skipped" => {}
                other => panic!("{other}: {out}"),
            }
        }
    }
    assert_eq!(processed, 50, "business logic ran once per object");
    let manifests = moto.list_keys("lake", "manifests/").await;
    assert_eq!(manifests.len(), 50);
    let rows = DeltaLake::new(Arc::new(store.clone()))
        .read("silver/transactions", None, None)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        100,
        "every row once"
    );
    let mut keys = std::collections::BTreeSet::new();
    for b in &rows {
        let ids = b.column_by_name("transaction_id").unwrap();
        let ids = arrow::compute::cast(ids, &arrow::datatypes::DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            keys.insert(
                arrow::array::AsArray::as_string::<i32>(ids.as_ref())
                    .value(i)
                    .to_string(),
            );
        }
    }
    let expected: std::collections::BTreeSet<String> = (0..50)
        .flat_map(|o| [format!("O{o}-1"), format!("O{o}-2")])
        .collect();
    assert_eq!(
        keys, expected,
        "the rows of a single delivery of each object"
    );

    // Three versions of one key, delivered newest first: only the newest reaches the table.
    let key = "landing/transactions/orders.csv";
    let mut versions = Vec::new();
    for v in 1..=3 {
        let body = format!("{header}V-1,C1,P1,{v},2.50,2026-11-20T10:00:00Z\n");
        moto.put_object("lake", key, body.into_bytes()).await;
        versions.push(store.head(key).await.unwrap().unwrap().etag.unwrap());
    }
    let out = call(
        &deps,
        s3_event_for(key, &versions[2], "00000000000000F003"),
        "v3",
    )
    .await
    .unwrap();
    assert_eq!(status(&out), "processed", "{out}");
    for (v, seq) in [(1, "00000000000000F002"), (0, "00000000000000F001")] {
        let out = call(&deps, s3_event_for(key, &versions[v], seq), "old")
            .await
            .unwrap();
        assert_eq!(status(&out), "superseded", "{out}");
    }
    let q = DeltaLake::new(Arc::new(store.clone()))
        .read("silver/transactions", Some("transaction_id = 'V-1'"), None)
        .await
        .unwrap();
    let quantity = q[0].column_by_name("quantity").unwrap();
    let quantity = arrow::compute::cast(quantity, &arrow::datatypes::DataType::Utf8).unwrap();
    assert_eq!(
        arrow::array::AsArray::as_string::<i32>(quantity.as_ref()).value(0),
        "3"
    );
}

/// Landing objects in the load test: `SHOPFLOW_LOAD_OBJECTS` (the test command: 120; the
/// note's run: 10,000).
fn load_objects() -> usize {
    std::env::var("SHOPFLOW_LOAD_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120)
}

/// A landing object of the load test: its key, bytes and rows.
struct LoadObject {
    key: String,
    body: Vec<u8>,
    rows: u64,
    transactions: bool,
}

/// Object `o` of the load test, sized from a seeded draw: most are a few rows, some hundreds,
/// one in twenty thousands; sales as CSV (every third gzip-compressed), clicks as JSON lines.
fn load_object(o: usize, draw: u64) -> LoadObject {
    use std::io::Write as _;
    let rows = match draw % 100 {
        0..=69 => 1 + draw / 100 % 20,
        70..=94 => 20 + draw / 100 % 480,
        _ => 500 + draw / 100 % 4_500,
    };
    // Each object's rows fall on one or two days of November 2026.
    let day = 1 + o % 28;
    let transactions = o % 3 != 2;
    let mut body = Vec::new();
    if transactions {
        body.extend_from_slice(
            b"transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n",
        );
        for r in 0..rows {
            let d = day + (r % 2) as usize;
            writeln!(
                body,
                "L{o:05}-{r:05},C{},P{},{},{}.{:02},2026-11-{d:02}T{:02}:00:00Z",
                r % 97,
                r % 31,
                1 + r % 4,
                1 + r % 50,
                r % 100,
                r % 24
            )
            .unwrap();
        }
    } else {
        for r in 0..rows {
            let d = day + (r % 2) as usize;
            writeln!(
                body,
                r#"{{"event_id":"L{o:05}-{r:05}","session_id":"S{o}","event_type":"page_view","page":"/p/{r}","event_time":"2026-11-{d:02}T{:02}:30:00Z"}}"#,
                r % 24
            )
            .unwrap();
        }
    }
    let (key, body) = if transactions && o % 3 == 1 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).unwrap();
        (
            format!("landing/transactions/load-{o:05}.csv.gz"),
            gz.finish().unwrap(),
        )
    } else if transactions {
        (format!("landing/transactions/load-{o:05}.csv"), body)
    } else {
        (format!("landing/clickstream/load-{o:05}.jsonl"), body)
    };
    LoadObject {
        key,
        body,
        rows,
        transactions,
    }
}

#[tokio::test]
async fn a_load_of_landing_objects_of_mixed_sizes_is_processed_once_each_with_every_row_once() {
    let n = load_objects();
    let workers = 4;
    let moto = Moto::start();
    let role = role(&moto);
    let (deps, _, store) = setup(&moto, &role).await;
    let deps = Arc::new(deps);
    let mut draw = 0x9e37_79b9_7f4a_7c15u64;
    let mut objects = Vec::with_capacity(n);
    let started = std::time::Instant::now();
    for o in 0..n {
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        let object = load_object(o, draw);
        moto.put_object("lake", &object.key, object.body.clone())
            .await;
        let etag = store
            .head(&object.key)
            .await
            .unwrap()
            .unwrap()
            .etag
            .unwrap();
        objects.push((object, etag));
    }
    let uploaded = started.elapsed();
    let bytes: usize = objects.iter().map(|(o, _)| o.body.len()).sum();
    let rows_of = |transactions: bool| {
        objects
            .iter()
            .filter(|(o, _)| o.transactions == transactions)
            .map(|(o, _)| o.rows)
            .sum::<u64>()
    };
    let (sales_rows, click_rows) = (rows_of(true), rows_of(false));

    // `workers` invocations at a time, as Lambda scales out on a burst of notifications; one
    // object in ten is delivered twice (S3 delivers at least once). A retryable error (a busy
    // claim, commits that kept conflicting) is retried, as Lambda retries an async invocation.
    let queue: Vec<(String, String, String)> = objects
        .iter()
        .enumerate()
        .flat_map(|(o, (object, etag))| {
            let copies = if o % 10 == 0 { 2 } else { 1 };
            std::iter::repeat_n(
                (
                    object.key.clone(),
                    etag.clone(),
                    format!("{:018X}", 0x10_0000 + o),
                ),
                copies,
            )
        })
        .collect();
    let deliveries = queue.len();
    let queue = Arc::new(std::sync::Mutex::new(queue.into_iter()));
    let started = std::time::Instant::now();
    // Progress of a long run: the rate over each stretch of 500 objects.
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut pool = Vec::new();
    for w in 0..workers {
        let (deps, queue, done) = (deps.clone(), queue.clone(), done.clone());
        pool.push(tokio::spawn(async move {
            let (mut processed, mut skipped, mut retries) = (0u64, 0u64, 0u64);
            loop {
                let Some((key, etag, seq)) = queue.lock().unwrap().next() else {
                    break;
                };
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match call(
                        &deps,
                        s3_event_for(&key, &etag, &seq),
                        &format!("w{w}-{attempt}"),
                    )
                    .await
                    {
                        Ok(out) => {
                            match out["objects"][0]["status"].as_str().unwrap_or("") {
                                "processed" => {
                                    processed += 1;
                                    let d =
                                        1 + done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    if d % 500 == 0 {
                                        eprintln!(
                                            "load: {d} objects processed after {:.0} s",
                                            started.elapsed().as_secs_f64()
                                        );
                                    }
                                }
                                "skipped" => skipped += 1,
                                other => panic!("{key}: {other}: {out}"),
                            }
                            break;
                        }
                        // Lambda waits a minute before its first retry; half a second is enough
                        // here, for up to two minutes.
                        Err(e) if e.error_type() == "ShopFlow.Retryable" && attempt < 240 => {
                            retries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        }
                        Err(e) => panic!("{key}: {} {}", e.error_type(), e.message),
                    }
                }
            }
            (processed, skipped, retries)
        }));
    }
    let (mut processed, mut skipped, mut retries) = (0, 0, 0);
    for p in pool {
        let (p, s, r) = p.await.unwrap();
        processed += p;
        skipped += s;
        retries += r;
    }
    let elapsed = started.elapsed();
    assert_eq!(processed, n as u64, "business logic ran once per object");
    assert_eq!(
        skipped as usize,
        deliveries - n,
        "every second delivery skipped"
    );
    assert_eq!(moto.list_keys("lake", "manifests/").await.len(), n);

    // Every row once: counts and distinct keys in both tables, read back from S3.
    let tables = DeltaLake::new(Arc::new(store.clone()));
    for (table, key, expected) in [
        ("silver/transactions", "transaction_id", sales_rows),
        ("silver/clickstream", "event_id", click_rows),
    ] {
        let batches = tables.read(table, None, None).await.unwrap();
        let mut keys = std::collections::HashSet::new();
        let mut rows = 0u64;
        for b in &batches {
            let column = b.column_by_name(key).unwrap();
            let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).unwrap();
            let column = arrow::array::AsArray::as_string::<i32>(column.as_ref());
            for i in 0..b.num_rows() {
                keys.insert(column.value(i).to_string());
            }
            rows += b.num_rows() as u64;
        }
        assert_eq!(rows, expected, "{table}: every row");
        assert_eq!(keys.len() as u64, expected, "{table}: no row twice");
    }
    let rows = sales_rows + click_rows;
    let mut files = Vec::new();
    for table in ["silver/transactions", "silver/clickstream"] {
        files.push(format!(
            "{table} {}",
            tables.data_files(table).await.unwrap().len()
        ));
    }
    eprintln!(
        "load: {n} objects ({deliveries} deliveries, {workers} concurrent), {rows} rows, {:.1} MB; \
         upload {:.1} s; processed in {:.1} s: {:.1} objects/s, {:.0} records/s; {retries} retried invocations; \
         live data files: {}",
        bytes as f64 / 1e6,
        uploaded.as_secs_f64(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        files.join(", "),
    );
}

/// The SDK retries a request whose answer was lost (a dropped keep-alive connection on a busy
/// emulator did it in a CI run: a completed claim reported "not held" to the run that held it).
/// Each ledger request repeated after it succeeded must report what the first one did, while a
/// different run still cannot take or finish another's claim.
#[tokio::test]
async fn a_ledger_request_repeated_after_it_succeeded_reports_what_the_first_did() {
    use shopflow_core::ports::{Claim, LedgerError, LedgerState};
    let moto = Moto::start();
    let role = role(&moto);
    moto.create_table("ledger", "object_id").await;
    let ledger = DynamoLedger::new(role.dynamodb(), "ledger");
    let request = |run: &str| ClaimRequest {
        object_id: layer::object_id("landing/transactions/a.csv", "e1"),
        key: "landing/transactions/a.csv".into(),
        etag: "e1".into(),
        run_id: run.into(),
        now: chrono::Utc::now(),
        lease: chrono::Duration::minutes(15),
        force: false,
        sequencer: None,
    };
    let Claim::Acquired(entry) = ledger.claim(&request("run-a")).await.unwrap() else {
        panic!("a fresh claim is acquired");
    };
    // The same run's claim again: still its own.
    let Claim::Acquired(again) = ledger.claim(&request("run-a")).await.unwrap() else {
        panic!("a repeated claim of the same run is its own claim");
    };
    assert_eq!(again.run_id, "run-a");
    // Another run is refused.
    assert!(matches!(
        ledger.claim(&request("run-b")).await.unwrap(),
        Claim::Busy(_)
    ));
    ledger.complete(&entry, "manifests/a.json").await.unwrap();
    ledger.complete(&entry, "manifests/a.json").await.unwrap();
    // Completing with another manifest, or as another run, is not the same request.
    assert!(matches!(
        ledger.complete(&entry, "manifests/other.json").await,
        Err(LedgerError::NotHeld { .. })
    ));
    let foreign = shopflow_core::ports::LedgerEntry {
        run_id: "run-b".into(),
        ..entry.clone()
    };
    assert!(matches!(
        ledger.complete(&foreign, "manifests/a.json").await,
        Err(LedgerError::NotHeld { .. })
    ));
    // A completed entry is not released; a deleted one releases as done.
    assert!(matches!(
        ledger.release(&entry).await,
        Err(LedgerError::NotHeld { .. })
    ));
    let Claim::Completed(done) = ledger.claim(&request("run-c")).await.unwrap() else {
        panic!("the completed entry stays completed");
    };
    assert!(matches!(done.state, LedgerState::Completed { .. }));
    ledger.forget(&entry.object_id).await.unwrap();
    ledger.release(&entry).await.unwrap();
}

/// The S3 store refuses to write the keys every store refuses (`ports::check_key`), as the
/// directory and memory stores do, and writes nothing for them; a valid key still goes through.
#[tokio::test]
async fn the_s3_store_refuses_to_write_a_key_no_store_writes() {
    use shopflow_core::ports::StoreError;
    let moto = Moto::start();
    let role = role(&moto);
    moto.create_bucket("lake").await;
    let store = S3ObjectStore::new(role.s3(), "lake");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"x").unwrap();
    for key in [
        "",
        "/landing/a.csv",
        "landing//a.csv",
        "landing/.hidden.csv",
        "landing/../bronze/a.csv",
        "landing\\a.csv",
    ] {
        let refused = |r: Result<(), StoreError>| {
            assert!(
                matches!(r, Err(StoreError::InvalidKey { .. })),
                "{key:?}: {r:?}"
            )
        };
        refused(store.put(key, b"x".to_vec()).await.map(|_| ()));
        refused(store.upload(key, file.path()).await.map(|_| ()));
        refused(store.put_if_absent(key, b"x".to_vec()).await.map(|_| ()));
    }
    assert!(moto.list_keys("lake", "").await.is_empty());
    store.put("landing/a.csv", b"x".to_vec()).await.unwrap();
    assert_eq!(moto.list_keys("lake", "").await, ["landing/a.csv"]);
}
