//! ingest-trigger: `POST /ingestions` (API Gateway HTTP API, payload v2) and the daily
//! EventBridge schedule → one fetch task per product API page, published to the task queue.
//!
//! The request body (all fields optional): `{"source": "dummyjson", "page_size": 30,
//! "max_items": 194}`. A bad body gets `400 {"error": …, "field": …}`; other paths get 404,
//! other methods on `/ingestions` 405. An `Idempotency-Key` header makes a retried request
//! answer with the first request's run id without publishing again (a retry of a request whose
//! publication failed publishes the same tasks again; product-fetch is idempotent). The answer
//! is `202 {"run_id", "tasks"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::{self, ConfigError, Env, Var};
use super::iam::Action;
use super::{ErrorKind, FunctionError};
use crate::ports::{FetchTask, RunRecord, RunRegistry, TaskQueue};

/// Settings read at cold start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Product API sources by name.
    pub sources: BTreeMap<String, String>,
    /// Source used when the request names none (and by the schedule).
    pub default_source: String,
    /// Records per page by default.
    pub default_page_size: u32,
    /// Records to fetch by default.
    pub default_max_items: u32,
    /// The Kinesis stream fetch tasks go to.
    pub stream: String,
    /// The DynamoDB table of ingestion runs (idempotency keys).
    pub runs_table: String,
    /// Attempts of a `PutRecords` call whose records were throttled (first try included).
    pub put_attempts: u32,
}

/// The default source.
const DEFAULT_SOURCE: Var = Var::optional(
    "DEFAULT_SOURCE",
    "the source used when a request names none, one of PRODUCT_SOURCES (default dummyjson)",
);
/// The default page size.
const DEFAULT_PAGE_SIZE: Var = Var::optional(
    "DEFAULT_PAGE_SIZE",
    "records per page by default (default 30)",
);
/// The default item count.
const DEFAULT_MAX_ITEMS: Var = Var::optional(
    "DEFAULT_MAX_ITEMS",
    "records to fetch by default (default 194)",
);
/// The stream.
const STREAM_NAME: Var = Var::required("STREAM_NAME", "the Kinesis stream of fetch tasks");
/// The runs table.
const RUNS_TABLE: Var = Var::required("RUNS_TABLE", "the DynamoDB table of ingestion runs");
/// PutRecords attempts.
const PUT_ATTEMPTS: Var = Var::optional(
    "PUT_ATTEMPTS",
    "attempts of a PutRecords call with throttled records, first try included (default 5)",
);

impl Config {
    /// Every AWS action the handler calls (see [`iam`](super::iam)).
    pub const ACTIONS: &[Action] = &[
        Action::always(
            "kinesis:PutRecords",
            "fetch tasks onto the stream STREAM_NAME",
        ),
        Action::always(
            "dynamodb:PutItem",
            "claims a run's idempotency key in RUNS_TABLE",
        ),
        Action::always(
            "dynamodb:GetItem",
            "reads a claimed run back (a repeated request answers the first run) in RUNS_TABLE",
        ),
        Action::always(
            "dynamodb:UpdateItem",
            "records the run's queued task count in RUNS_TABLE",
        ),
    ];

    /// Every variable [`from_env`](Self::from_env) reads.
    pub const VARIABLES: &[Var] = &[
        config::PRODUCT_SOURCES,
        DEFAULT_SOURCE,
        DEFAULT_PAGE_SIZE,
        DEFAULT_MAX_ITEMS,
        STREAM_NAME,
        RUNS_TABLE,
        PUT_ATTEMPTS,
    ];

    /// Reads [`VARIABLES`](Self::VARIABLES); a missing or invalid one fails naming it.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let sources = config::product_sources(env)?;
        let default_source = DEFAULT_SOURCE.parse(env, "dummyjson".to_string())?;
        if !sources.contains_key(&default_source) {
            return Err(ConfigError::Invalid {
                name: DEFAULT_SOURCE.name,
                value: default_source,
                reason: "not one of PRODUCT_SOURCES".into(),
            });
        }
        Ok(Self {
            sources,
            default_source,
            default_page_size: DEFAULT_PAGE_SIZE.parse(env, 30)?,
            default_max_items: DEFAULT_MAX_ITEMS.parse(env, 194)?,
            stream: STREAM_NAME.read(env)?,
            runs_table: RUNS_TABLE.read(env)?,
            put_attempts: PUT_ATTEMPTS.parse(env, 5)?,
        })
    }
}

/// What the handler needs.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Where fetch tasks go (Kinesis).
    pub queue: Arc<dyn TaskQueue>,
    /// Idempotency keys (DynamoDB).
    pub runs: Arc<dyn RunRegistry>,
    /// Settings.
    pub config: Config,
}

/// The largest request body accepted (a request is three small fields): a larger one is `413`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The most pages (fetch tasks) one request may start: `400` above, naming `max_items`.
pub const MAX_PAGES: u32 = 1_000;

/// The body of `POST /ingestions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionRequest {
    /// Product API name.
    pub source: Option<String>,
    /// Records per page (1..=100).
    pub page_size: Option<u32>,
    /// Records to fetch (1..=10000).
    pub max_items: Option<u32>,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Source name.
    pub source: String,
    /// Records per page.
    pub page_size: u32,
    /// Pages (tasks).
    pub pages: u32,
}

/// A request the function refuses: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// What is wrong.
    pub error: String,
    /// The offending field, if one.
    pub field: Option<String>,
}

impl Rejection {
    fn bad(field: &str, error: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: error.into(),
            field: Some(field.to_string()),
        }
    }
}

/// Validates a request against the configuration and plans its pages.
pub fn plan(request: &IngestionRequest, config: &Config) -> Result<Plan, Rejection> {
    let source = request
        .source
        .clone()
        .unwrap_or_else(|| config.default_source.clone());
    if !config.sources.contains_key(&source) {
        let known = config
            .sources
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Rejection::bad(
            "source",
            format!("unknown source {source:?} (known: {known})"),
        ));
    }
    let page_size = request.page_size.unwrap_or(config.default_page_size);
    if !(1..=100).contains(&page_size) {
        return Err(Rejection::bad(
            "page_size",
            format!("page_size must be 1..=100, got {page_size}"),
        ));
    }
    let max_items = request.max_items.unwrap_or(config.default_max_items);
    if !(1..=10_000).contains(&max_items) {
        return Err(Rejection::bad(
            "max_items",
            format!("max_items must be 1..=10000, got {max_items}"),
        ));
    }
    let pages = if config::is_unpaginated(&source) {
        1
    } else {
        max_items.div_ceil(page_size)
    };
    if pages > MAX_PAGES {
        return Err(Rejection::bad(
            "max_items",
            format!(
                "max_items {max_items} at page_size {page_size} is {pages} pages, more than {MAX_PAGES}; raise page_size"
            ),
        ));
    }
    Ok(Plan {
        source,
        page_size,
        pages,
    })
}

/// The tasks of a planned run.
pub fn tasks(run_id: &str, plan: &Plan) -> Vec<FetchTask> {
    (1..=plan.pages)
        .map(|page| FetchTask {
            run_id: run_id.to_string(),
            source: plan.source.clone(),
            page,
            page_size: plan.page_size,
            skip: (page - 1) * plan.page_size,
        })
        .collect()
}

fn parse_body(text: &str) -> Result<IngestionRequest, Rejection> {
    if text.trim().is_empty() {
        return Ok(IngestionRequest::default());
    }
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        // serde names unknown and mistyped fields in its message (`unknown field `x``).
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("unknown field") || msg.contains("invalid type"))
            .map_or_else(|| "body".to_string(), str::to_string);
        Rejection {
            status: 400,
            error: format!("invalid request body: {msg}"),
            field: Some(field),
        }
    })
}

fn http(status: u16, body: Value, extra_headers: &[(&str, &str)]) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), json!("application/json"));
    for (k, v) in extra_headers {
        headers.insert((*k).to_string(), json!(v));
    }
    json!({
        "statusCode": status,
        "headers": headers,
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

fn rejection_response(r: &Rejection) -> Value {
    http(r.status, json!({ "error": r.error, "field": r.field }), &[])
}

/// Starts (or, for a known idempotency key, recalls) a run; returns `(run_id, tasks, replayed)`.
pub async fn start_run(
    plan: &Plan,
    idempotency_key: Option<&str>,
    deps: &Deps,
) -> Result<(String, u32, bool), FunctionError> {
    let fresh = RunRecord {
        run_id: crate::ingest::new_run_id(),
        tasks: plan.pages,
        created_at: Utc::now(),
        published: false,
    };
    let (run, registered) = match idempotency_key {
        Some(key) => deps
            .runs
            .register(key, &fresh)
            .await
            .map_err(|e| FunctionError::wrap(ErrorKind::Retryable, e))?,
        None => (fresh, true),
    };
    if !registered && run.published {
        tracing::info!(run_id = %run.run_id, "idempotent replay: nothing published");
        return Ok((run.run_id, run.tasks, true));
    }
    let tasks = tasks(&run.run_id, plan);
    deps.queue.publish(&tasks).await.map_err(|e| {
        let retryable = !matches!(e, crate::ports::QueueError::Encode(_));
        FunctionError::wrap(
            if retryable {
                ErrorKind::Retryable
            } else {
                ErrorKind::Internal
            },
            e,
        )
    })?;
    if let Some(key) = idempotency_key {
        deps.runs
            .mark_published(key)
            .await
            .map_err(|e| FunctionError::wrap(ErrorKind::Retryable, e))?;
    }
    tracing::info!(run_id = %run.run_id, tasks = tasks.len(), source = %plan.source, "run started");
    Ok((run.run_id, run.tasks, !registered))
}

/// Handles an API Gateway v2 request or a scheduled event (told apart by their shape).
pub async fn handle(event: Value, deps: &Deps) -> Result<Value, FunctionError> {
    if event.get("requestContext").is_some() {
        return handle_http(event, deps).await;
    }
    let is_schedule = event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        || matches!(
            event.get("source").and_then(Value::as_str),
            Some("aws.events" | "aws.scheduler")
        );
    if !is_schedule {
        return Err(FunctionError::new(
            ErrorKind::InvalidInput,
            "expected an API Gateway HTTP API request or an EventBridge scheduled event",
        ));
    }
    let plan = plan(&IngestionRequest::default(), &deps.config).map_err(|r| {
        FunctionError::new(
            ErrorKind::Internal,
            format!("default request is invalid: {}", r.error),
        )
    })?;
    // EventBridge may deliver an event twice; its id keeps the run single.
    let key = event
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("schedule:{id}"));
    let (run_id, tasks, replayed) = start_run(&plan, key.as_deref(), deps).await?;
    Ok(json!({ "run_id": run_id, "tasks": tasks, "replayed": replayed }))
}

async fn handle_http(event: Value, deps: &Deps) -> Result<Value, FunctionError> {
    let request: aws_lambda_events::event::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event)
            .map_err(|e| FunctionError::wrap(ErrorKind::InvalidInput, e))?;
    let path = request.raw_path.as_deref().unwrap_or_default();
    if path.trim_end_matches('/') != "/ingestions" {
        return Ok(http(
            404,
            json!({ "error": format!("no route for {path}") }),
            &[],
        ));
    }
    if request.request_context.http.method != aws_lambda_events::http::Method::POST {
        return Ok(http(
            405,
            json!({ "error": format!("{} is not allowed on /ingestions; use POST", request.request_context.http.method) }),
            &[("allow", "POST")],
        ));
    }
    let raw_len = request.body.as_deref().map_or(0, str::len);
    let decoded_len = if request.is_base64_encoded {
        raw_len / 4 * 3
    } else {
        raw_len
    };
    if decoded_len > MAX_BODY_BYTES {
        return Ok(rejection_response(&Rejection {
            status: 413,
            error: format!("the body is {decoded_len} bytes; at most {MAX_BODY_BYTES}"),
            field: Some("body".into()),
        }));
    }
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let is_json = |t: &str| {
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    };
    if raw_len > 0 && !content_type.as_deref().is_some_and(is_json) {
        return Ok(rejection_response(&Rejection {
            status: 415,
            error: format!(
                "the body must be JSON (Content-Type: application/json), got {}",
                content_type.as_deref().unwrap_or("no Content-Type")
            ),
            field: Some("Content-Type".into()),
        }));
    }
    let body = match (&request.body, request.is_base64_encoded) {
        (None, _) => String::new(),
        (Some(b), false) => b.clone(),
        (Some(b), true) => match base64::engine::general_purpose::STANDARD
            .decode(b)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        {
            Some(text) => text,
            None => {
                return Ok(rejection_response(&Rejection::bad(
                    "body",
                    "body is not valid base64 UTF-8",
                )));
            }
        },
    };
    let parsed = match parse_body(&body) {
        Ok(p) => p,
        Err(r) => return Ok(rejection_response(&r)),
    };
    let plan = match plan(&parsed, &deps.config) {
        Ok(p) => p,
        Err(r) => return Ok(rejection_response(&r)),
    };
    let key = request
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    if let Some(k) = &key
        && k.len() > 255
    {
        return Ok(rejection_response(&Rejection::bad(
            "Idempotency-Key",
            "at most 255 characters",
        )));
    }
    match start_run(&plan, key.as_deref(), deps).await {
        Ok((run_id, tasks, replayed)) => Ok(http(
            202,
            json!({ "run_id": run_id, "tasks": tasks, "source": plan.source, "replayed": replayed }),
            &[],
        )),
        Err(e) if e.kind == ErrorKind::Retryable => {
            tracing::warn!(error = %e.message, "could not start the run; asking the client to retry");
            Ok(http(
                503,
                json!({ "error": "temporarily unavailable; retry with the same Idempotency-Key" }),
                &[("retry-after", "5")],
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryRunRegistry, MemoryTaskQueue};

    fn config() -> Config {
        let env = BTreeMap::from([
            ("STREAM_NAME".to_string(), "tasks".to_string()),
            ("RUNS_TABLE".to_string(), "runs".to_string()),
        ]);
        Config::from_env(&env).unwrap()
    }

    #[test]
    fn the_config_reads_exactly_the_variables_it_lists() {
        let c = super::config::read_exactly(
            Config::VARIABLES,
            &[
                (
                    "PRODUCT_SOURCES",
                    "dummyjson=https://dummyjson.com/products",
                ),
                ("DEFAULT_SOURCE", "dummyjson"),
                ("DEFAULT_PAGE_SIZE", "50"),
                ("DEFAULT_MAX_ITEMS", "100"),
                ("STREAM_NAME", "tasks"),
                ("RUNS_TABLE", "runs"),
                ("PUT_ATTEMPTS", "3"),
            ],
            Config::from_env,
        );
        assert_eq!(c.put_attempts, 3);
    }

    #[test]
    fn plans_one_task_per_page() {
        let p = plan(
            &IngestionRequest {
                source: None,
                page_size: Some(30),
                max_items: Some(194),
            },
            &config(),
        )
        .unwrap();
        assert_eq!(p.pages, 7);
        let t = tasks("r", &p);
        assert_eq!(t.last().unwrap().skip, 180);
        assert_eq!(t[0].partition_key(), "r/1");
    }

    #[test]
    fn fakestore_is_one_page() {
        let p = plan(
            &IngestionRequest {
                source: Some("fakestore".into()),
                ..Default::default()
            },
            &config(),
        )
        .unwrap();
        assert_eq!(p.pages, 1);
    }

    #[test]
    fn rejects_bad_requests_naming_the_field() {
        let c = config();
        let r = plan(
            &IngestionRequest {
                page_size: Some(0),
                ..Default::default()
            },
            &c,
        )
        .unwrap_err();
        assert_eq!(r.field.as_deref(), Some("page_size"));
        let r = plan(
            &IngestionRequest {
                source: Some("amazon".into()),
                ..Default::default()
            },
            &c,
        )
        .unwrap_err();
        assert_eq!(r.field.as_deref(), Some("source"));
        let r = parse_body(r#"{"sauce": "x"}"#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("sauce"));
        let r = parse_body(r#"{"page_size": "ten"}"#).unwrap_err();
        assert_eq!(r.status, 400);
        let r = parse_body(r#"{"source": "#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("body"));
    }

    fn post(body: &str, content_type: Option<&str>) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/ingest-trigger/api-post-ingestions.json");
        let mut event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        event["body"] = json!(body);
        let headers = event["headers"].as_object_mut().unwrap();
        headers.insert("content-length".into(), json!(body.len().to_string()));
        match content_type {
            Some(t) => {
                headers.insert("content-type".into(), json!(t));
            }
            None => {
                headers.remove("content-type");
            }
        }
        event
    }

    #[tokio::test]
    async fn hostile_requests_get_a_4xx_that_names_the_problem_and_publish_nothing() {
        let queue = Arc::new(MemoryTaskQueue::new());
        let deps = Deps {
            queue: queue.clone(),
            runs: Arc::new(MemoryRunRegistry::new()),
            config: config(),
        };
        let huge = format!(
            r#"{{"source": "dummyjson", "pad": "{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        let cases = [
            (post(&huge, Some("application/json")), 413, "body"),
            (
                post(r#"{"max_items": 5}"#, Some("text/plain")),
                415,
                "Content-Type",
            ),
            (post(r#"{"max_items": 5}"#, None), 415, "Content-Type"),
            (
                post(r#"{"max_items": 5, "extra": 1}"#, Some("application/json")),
                400,
                "extra",
            ),
            (
                post(
                    r#"{"max_items": 10000, "page_size": 1}"#,
                    Some("application/json"),
                ),
                400,
                "max_items",
            ),
            (
                post(r#"{"max_items": 4294967295}"#, Some("application/json")),
                400,
                "max_items",
            ),
            (
                post(r#"{"page_size": -1}"#, Some("application/json")),
                400,
                "body",
            ),
        ];
        for (event, status, field) in cases {
            let out = handle(event, &deps).await.unwrap();
            assert_eq!(out["statusCode"], status, "{out}");
            let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["field"], field, "{body}");
            assert!(!body["error"].as_str().unwrap().is_empty());
        }
        assert!(queue.drain().is_empty(), "nothing was published");
        let ok = handle(
            post(
                r#"{"max_items": 60}"#,
                Some("application/json; charset=utf-8"),
            ),
            &deps,
        )
        .await
        .unwrap();
        assert_eq!(ok["statusCode"], 202, "{ok}");
        assert_eq!(queue.drain().len(), 2);
    }

    #[tokio::test]
    async fn a_schedule_event_starts_the_default_run_once() {
        let queue = Arc::new(MemoryTaskQueue::new());
        let deps = Deps {
            queue: queue.clone(),
            runs: Arc::new(MemoryRunRegistry::new()),
            config: config(),
        };
        let event = json!({"id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        let out = handle(event.clone(), &deps).await.unwrap();
        assert_eq!(out["tasks"], 7);
        assert_eq!(queue.drain().len(), 7);
        let again = handle(event, &deps).await.unwrap();
        assert_eq!(again["run_id"], out["run_id"]);
        assert!(queue.drain().is_empty());
    }
}
