//! A real `moto` server (AWS emulator) on a free loopback port, with clients and resource helpers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;

/// The command that installs the emulator; the README's test command runs it first.
pub const MOTO_INSTALL_COMMAND: &str = "python3 -m pip install 'moto[server]'";

/// One Kinesis record as read back by [`Moto::read_stream`]:
/// `(partition_key, sequence_number, data)`.
pub type StreamRecord = (String, String, Vec<u8>);

const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "testing";
const SECRET_KEY: &str = "testing";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const RESOURCE_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable naming the Python interpreter to run moto with (default `python3`).
const PYTHON_ENV: &str = "SHOPFLOW_MOTO_PYTHON";

/// Runs moto's own entry point (`moto.server.main`, what `python3 -m moto.server` runs), plus a
/// watchdog thread that exits the server when its stdin closes — that is, when the test process
/// that started it is gone, even if it was killed before `Drop` could run.
const LAUNCHER: &str = "\
import os, sys, threading
def _watchdog():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)
threading.Thread(target=_watchdog, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
";

/// A `moto` server (Python package `moto[server]`) running on `127.0.0.1` on a free port,
/// started by [`Moto::start`] and killed when dropped.
///
/// Every AWS service the pipeline uses is served on the one endpoint ([`Moto::endpoint`]); the
/// region is `us-east-1` and the credentials are `testing`/`testing`. Each `Moto` is a separate
/// server with its own empty state, so tests that each start one are isolated from each other.
///
/// Prefer passing [`Moto::sdk_config`] (or the ready clients) to the code under test. For code
/// that can only read the standard environment, and for child processes, use [`Moto::env_vars`]
/// / [`Moto::apply_env`].
pub struct Moto {
    child: Child,
    /// Held open for the server's watchdog: the server exits when this is closed.
    stdin: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("endpoint", &self.endpoint())
            .field("pid", &self.child.id())
            .field("log", &self.log_path())
            .finish()
    }
}

impl Moto {
    /// Starts a moto server on a free loopback port and waits (up to 30 s) until it answers.
    ///
    /// # Panics
    ///
    /// If `moto` is not importable (the message names the install command,
    /// [`MOTO_INSTALL_COMMAND`]), or if the server does not come up; the message then includes
    /// the end of the server's log. Tests never skip for want of the emulator.
    pub fn start() -> Moto {
        let python = python();
        ensure_moto_installed(&python);

        let mut last_failure = String::new();
        // The port is free when picked but released before moto binds it; another process can
        // take it in between, so a server that dies at startup is retried on a new port.
        for _attempt in 0..3 {
            let port = free_port();
            let dir = unique_dir(port);
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot create moto log dir {}: {e}", dir.display()));
            let log_path = dir.join("moto.log");
            let log = File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let log_err = log
                .try_clone()
                .expect("cannot clone the moto log file handle");
            let mut child = Command::new(&python)
                .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_PORT", port.to_string())
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log_err))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run `{python}` to start moto: {e}"));
            let stdin = child.stdin.take();
            let mut moto = Moto {
                child,
                stdin,
                port,
                dir,
            };
            match moto.wait_ready() {
                Ok(()) => return moto,
                Err(why) => {
                    last_failure = format!(
                        "{why}\n--- moto log ({}) ---\n{}",
                        moto.log_path().display(),
                        moto.log_tail()
                    );
                    // Dropping kills and reaps the child and removes its directory.
                    drop(moto);
                }
            }
        }
        panic!("moto server did not start: {last_failure}");
    }

    /// The server's base URL, `http://127.0.0.1:PORT`, for every service.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file (stdout and stderr), useful when a test fails.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("moto.log")
    }

    /// An SDK configuration loaded with `aws_config`'s standard loader, overridden to talk to
    /// this server: region `us-east-1`, static credentials `testing`/`testing`, endpoint URL
    /// [`Moto::endpoint`]. For S3, also set `force_path_style(true)` on the service config
    /// (the emulator is not reachable through virtual-hosted bucket names), as [`Moto::s3`] does.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(credentials())
            .load()
            .await
    }

    /// The environment that points code reading the standard AWS environment at this server:
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, and `SHOPFLOW_S3_FORCE_PATH_STYLE=true`.
    ///
    /// This crate cannot set them on the test process itself: in edition 2024
    /// `std::env::set_var` is `unsafe` (it races with other threads reading the environment,
    /// which the AWS SDK and tokio's worker threads do), and the workspace forbids unsafe code.
    /// Pass them to child processes with [`Moto::apply_env`], or have the code under test read
    /// its configuration through a lookup function that a test can feed from this list.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_DEFAULT_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("SHOPFLOW_S3_FORCE_PATH_STYLE", "true".to_string()),
        ]
    }

    /// Sets [`Moto::env_vars`] on a child process command (for example `cargo lambda watch`),
    /// and removes variables that would override them (`AWS_PROFILE`, `AWS_SESSION_TOKEN`,
    /// service-specific `AWS_ENDPOINT_URL_*`).
    pub fn apply_env<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        for name in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_KINESIS",
            "AWS_ENDPOINT_URL_SNS",
            "AWS_ENDPOINT_URL_SQS",
        ] {
            command.env_remove(name);
        }
        command.envs(self.env_vars())
    }

    /// An S3 client for this server, with path-style addressing.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(s3_config(&self.endpoint()).build())
    }

    /// A DynamoDB client for this server.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(dynamodb_config(&self.endpoint()).build())
    }

    /// A Kinesis client for this server.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::from_conf(kinesis_config(&self.endpoint()).build())
    }

    /// An SNS client for this server.
    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(sns_config(&self.endpoint()).build())
    }

    /// An SQS client for this server.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(sqs_config(&self.endpoint()).build())
    }

    /// Creates an S3 bucket (in `us-east-1`, so without a location constraint).
    ///
    /// # Panics
    ///
    /// If the emulator refuses (for example an invalid bucket name).
    pub async fn create_bucket(&self, name: &str) {
        self.s3()
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("create bucket {name}"), e));
    }

    /// Creates a Kinesis data stream with `shards` shards and waits until it is `ACTIVE`.
    ///
    /// # Panics
    ///
    /// If the emulator refuses, or the stream is not active within 30 s.
    pub async fn create_stream(&self, name: &str, shards: u32) {
        let kinesis = self.kinesis();
        let shard_count = i32::try_from(shards).expect("shard count fits in i32");
        kinesis
            .create_stream()
            .stream_name(name)
            .shard_count(shard_count)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("create stream {name}"), e));
        let deadline = Instant::now() + RESOURCE_TIMEOUT;
        loop {
            let summary = kinesis
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("describe stream {name}"), e));
            let status = summary
                .stream_description_summary()
                .map(|s| s.stream_status().clone());
            if status == Some(StreamStatus::Active) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stream {name} not ACTIVE after {RESOURCE_TIMEOUT:?} (status {status:?})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates a DynamoDB table with a string hash key `hash_key`, on-demand billing, and waits
    /// until it is `ACTIVE`.
    ///
    /// # Panics
    ///
    /// If the emulator refuses, or the table is not active within 30 s.
    pub async fn create_table(&self, name: &str, hash_key: &str) {
        let dynamodb = self.dynamodb();
        dynamodb
            .create_table()
            .table_name(name)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(hash_key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition is complete"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(hash_key)
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key schema element is complete"),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("create table {name}"), e));
        let deadline = Instant::now() + RESOURCE_TIMEOUT;
        loop {
            let described = dynamodb
                .describe_table()
                .table_name(name)
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("describe table {name}"), e));
            let status = described.table().and_then(|t| t.table_status().cloned());
            if status == Some(TableStatus::Active) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "table {name} not ACTIVE after {RESOURCE_TIMEOUT:?} (status {status:?})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates an SNS topic and an SQS queue subscribed to it, with raw message delivery off,
    /// so each message published to the topic arrives in the queue as an SNS envelope (JSON
    /// with `Type`, `MessageId`, `TopicArn`, `Subject`, `Message`, `Timestamp`, …).
    ///
    /// Returns `(topic_arn, queue_url)`.
    ///
    /// # Panics
    ///
    /// If the emulator refuses any of the calls.
    pub async fn create_topic_with_queue(
        &self,
        topic_name: &str,
        queue_name: &str,
    ) -> (String, String) {
        let sqs = self.sqs();
        let sns = self.sns();
        let queue_url = sqs
            .create_queue()
            .queue_name(queue_name)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("create queue {queue_name}"), e))
            .queue_url()
            .expect("CreateQueue answered without a queue URL")
            .to_string();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("get attributes of queue {queue_name}"), e));
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("GetQueueAttributes answered without QueueArn")
            .clone();
        let topic_arn = sns
            .create_topic()
            .name(topic_name)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("create topic {topic_name}"), e))
            .topic_arn()
            .expect("CreateTopic answered without a topic ARN")
            .to_string();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "false")
            .return_subscription_arn(true)
            .send()
            .await
            .unwrap_or_else(|e| {
                sdk_fail(&format!("subscribe queue {queue_name} to {topic_name}"), e)
            });
        (topic_arn, queue_url)
    }

    /// Drains a queue: receives with short polls until a poll comes back empty, deletes what it
    /// received, and returns each message body parsed as JSON (a body that is not JSON is
    /// returned as a JSON string). Messages from an SNS subscription made by
    /// [`Moto::create_topic_with_queue`] are SNS envelopes: read `["Subject"]` and `["Message"]`.
    ///
    /// # Panics
    ///
    /// If the emulator refuses a call.
    pub async fn receive_all(&self, queue_url: &str) -> Vec<serde_json::Value> {
        let sqs = self.sqs();
        let mut out = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .visibility_timeout(60)
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("receive from {queue_url}"), e));
            let messages = received.messages();
            if messages.is_empty() {
                return out;
            }
            for message in messages {
                let body = message.body().unwrap_or_default();
                out.push(
                    serde_json::from_str(body)
                        .unwrap_or_else(|_| serde_json::Value::String(body.to_string())),
                );
                if let Some(handle) = message.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap_or_else(|e| sdk_fail(&format!("delete from {queue_url}"), e));
                }
            }
        }
    }

    /// Reads every record in a stream, shard by shard (in the order `ListShards` gives), each
    /// from `TRIM_HORIZON` until a read returns no more records.
    ///
    /// # Panics
    ///
    /// If the emulator refuses a call.
    pub async fn read_stream(&self, stream: &str) -> Vec<StreamRecord> {
        let kinesis = self.kinesis();
        let mut shard_ids = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let request = match &next_token {
                Some(token) => kinesis.list_shards().next_token(token),
                None => kinesis.list_shards().stream_name(stream),
            };
            let listed = request
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("list shards of {stream}"), e));
            shard_ids.extend(listed.shards().iter().map(|s| s.shard_id().to_string()));
            next_token = listed.next_token().map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        for shard_id in shard_ids {
            let mut iterator = kinesis
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("shard iterator {stream}/{shard_id}"), e))
                .shard_iterator()
                .map(str::to_string);
            while let Some(current) = iterator {
                let page = kinesis
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .unwrap_or_else(|e| sdk_fail(&format!("get records {stream}/{shard_id}"), e));
                if page.records().is_empty() {
                    break;
                }
                out.extend(page.records().iter().map(|r| {
                    (
                        r.partition_key().into_owned_string(),
                        r.sequence_number().to_string(),
                        r.data().as_ref().to_vec(),
                    )
                }));
                iterator = page.next_shard_iterator().map(str::to_string);
            }
        }
        out
    }

    /// Every item of a DynamoDB table (a full scan, following pagination).
    ///
    /// # Panics
    ///
    /// If the emulator refuses a call.
    pub async fn scan_table(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        let dynamodb = self.dynamodb();
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("scan {table}"), e));
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return out,
            }
        }
    }

    /// The keys of every object in `bucket` under `prefix`, in S3's (lexicographic) order,
    /// following pagination.
    ///
    /// # Panics
    ///
    /// If the emulator refuses a call (for example the bucket does not exist).
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let s3 = self.s3();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .unwrap_or_else(|e| sdk_fail(&format!("list s3://{bucket}/{prefix}"), e));
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return out,
            }
        }
    }

    /// The bytes of an object.
    ///
    /// # Panics
    ///
    /// If the object does not exist or the emulator refuses.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let object = self
            .s3()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("get s3://{bucket}/{key}"), e));
        object
            .body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("read body of s3://{bucket}/{key}: {e}"))
            .into_bytes()
            .to_vec()
    }

    /// Writes an object.
    ///
    /// # Panics
    ///
    /// If the emulator refuses (for example the bucket does not exist).
    pub async fn put_object(&self, bucket: &str, key: &str, bytes: impl Into<Vec<u8>>) {
        self.s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.into()))
            .send()
            .await
            .unwrap_or_else(|e| sdk_fail(&format!("put s3://{bucket}/{key}"), e));
    }

    /// Polls the server with a plain HTTP GET until it answers, the child exits, or the
    /// timeout passes.
    fn wait_ready(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| format!("cannot check the moto process: {e}"))?
            {
                return Err(format!(
                    "the moto process exited ({status}) before answering on port {}",
                    self.port
                ));
            }
            if http_answers(addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "moto did not answer on {} within {READY_TIMEOUT:?}",
                    self.endpoint()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin alone would stop the server (watchdog); kill to be prompt, then reap.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Owned text from a field the SDK returns as `&str` or, in newer releases, `Option<&str>`
/// (Kinesis' `Record::partition_key` changed between minor versions).
trait IntoOwnedString {
    fn into_owned_string(self) -> String;
}

impl IntoOwnedString for &str {
    fn into_owned_string(self) -> String {
        self.to_string()
    }
}

impl IntoOwnedString for Option<&str> {
    fn into_owned_string(self) -> String {
        self.unwrap_or_default().to_string()
    }
}

fn credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "shopflow-testkit")
}

fn sdk_fail<E: std::error::Error>(what: &str, error: E) -> ! {
    panic!("moto: {what} failed: {}", DisplayErrorContext(error))
}

fn python() -> String {
    std::env::var(PYTHON_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// Checks once per process that `moto.server` imports, and panics with the install command if not.
fn ensure_moto_installed(python: &str) {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(message) = CHECK.get_or_init(|| check_moto(python)) {
        panic!("{message}");
    }
}

/// `Err` with the message to fail with when `python` cannot import `moto.server`.
fn check_moto(python: &str) -> Result<(), String> {
    let why = match Command::new(python)
        .args(["-c", "import moto.server"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => return Ok(()),
        Ok(output) => format!(
            "`{python} -c \"import moto.server\"` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => format!("cannot run `{python}`: {e}"),
    };
    Err(format!(
        "the AWS emulator moto is not installed, and these tests need it (they never skip): \
         {why}\ninstall it with:\n    {MOTO_INSTALL_COMMAND}\n(the README's test command \
         installs it before running the tests; set {PYTHON_ENV} to use another interpreter)"
    ))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener
        .local_addr()
        .expect("bound listener has no address")
        .port()
}

fn unique_dir(port: u16) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("shopflow-moto-{}-{port}-{n}", std::process::id()))
}

/// Whether something answers an HTTP GET on `addr` with an HTTP status line.
fn http_answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    head[..read].starts_with(b"HTTP/1.")
}

/// The S3 service configuration for a server at `endpoint` (region, test credentials,
/// path-style addressing), left open for a caller to add to (a [`Role`](crate::Role)'s
/// recorder).
pub(crate) fn s3_config(endpoint: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .force_path_style(true)
}

/// The DynamoDB service configuration for a server at `endpoint` (region, test credentials),
/// left open for a caller to add to (a [`Role`](crate::Role)'s recorder).
pub(crate) fn dynamodb_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
}

/// The Kinesis service configuration for a server at `endpoint` (region, test credentials),
/// left open for a caller to add to (a [`Role`](crate::Role)'s recorder).
pub(crate) fn kinesis_config(endpoint: &str) -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .region(aws_sdk_kinesis::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
}

/// The SNS service configuration for a server at `endpoint` (region, test credentials),
/// left open for a caller to add to (a [`Role`](crate::Role)'s recorder).
pub(crate) fn sns_config(endpoint: &str) -> aws_sdk_sns::config::Builder {
    aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
}

/// The SQS service configuration for a server at `endpoint` (region, test credentials),
/// left open for a caller to add to (a [`Role`](crate::Role)'s recorder).
pub(crate) fn sqs_config(endpoint: &str) -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_moto_names_the_install_command() {
        let message = check_moto("/nonexistent/python3-for-shopflow-testkit").unwrap_err();
        assert!(message.contains(MOTO_INSTALL_COMMAND), "{message}");
        assert!(message.contains("README"), "{message}");
        assert!(message.contains("never skip"), "{message}");
        let message = check_moto("false").unwrap_err();
        assert!(
            message.contains("python3 -m pip install 'moto[server]'"),
            "{message}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moto_serves_every_resource_the_pipeline_uses() {
        let moto = Moto::start();
        let endpoint = moto.endpoint();
        assert_eq!(endpoint, format!("http://127.0.0.1:{}", moto.port()));
        assert!(moto.log_path().exists());
        let env: HashMap<_, _> = moto.env_vars().into_iter().collect();
        assert_eq!(env["AWS_ENDPOINT_URL"], endpoint);
        assert_eq!(env["SHOPFLOW_S3_FORCE_PATH_STYLE"], "true");

        // S3, through the ready client and through a client built from `sdk_config`.
        moto.create_bucket("shopflow-lake").await;
        moto.put_object("shopflow-lake", "landing/products/b.json", b"{}".to_vec())
            .await;
        moto.put_object("shopflow-lake", "landing/products/a b+c.json", "[1]")
            .await;
        moto.put_object("shopflow-lake", "bronze/x", Vec::new())
            .await;
        assert_eq!(
            moto.list_keys("shopflow-lake", "landing/").await,
            ["landing/products/a b+c.json", "landing/products/b.json"]
        );
        assert_eq!(
            moto.get_object("shopflow-lake", "landing/products/a b+c.json")
                .await,
            b"[1]"
        );
        let sdk_config = moto.sdk_config().await;
        assert_eq!(sdk_config.region().map(|r| r.as_ref()), Some("us-east-1"));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .force_path_style(true)
                .build(),
        );
        let buckets = s3.list_buckets().send().await.unwrap();
        assert_eq!(buckets.buckets().len(), 1);
        assert_eq!(buckets.buckets()[0].name(), Some("shopflow-lake"));

        // DynamoDB.
        moto.create_table("shopflow-products", "product_id").await;
        moto.dynamodb()
            .put_item()
            .table_name("shopflow-products")
            .item("product_id", AttributeValue::S("1".into()))
            .item("price", AttributeValue::N("9.99".into()))
            .send()
            .await
            .unwrap();
        let items = moto.scan_table("shopflow-products").await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["price"], AttributeValue::N("9.99".into()));

        // Kinesis: records from both shards come back with their keys and sequence numbers.
        moto.create_stream("shopflow-tasks", 2).await;
        let kinesis = moto.kinesis();
        let mut sequence_numbers = Vec::new();
        for i in 0..6 {
            let put = kinesis
                .put_record()
                .stream_name("shopflow-tasks")
                .partition_key(format!("run-1/page-{i}"))
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("task {i}")))
                .send()
                .await
                .unwrap();
            sequence_numbers.push(put.sequence_number().to_string());
        }
        let mut records = moto.read_stream("shopflow-tasks").await;
        assert_eq!(records.len(), 6);
        records.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (key, sequence_number, data)) in records.iter().enumerate() {
            assert_eq!(key, &format!("run-1/page-{i}"));
            assert_eq!(sequence_number, &sequence_numbers[i]);
            assert_eq!(data, format!("task {i}").as_bytes());
        }

        // SNS → SQS: a published message arrives as an SNS envelope.
        let (topic_arn, queue_url) = moto
            .create_topic_with_queue("shopflow-reports", "shopflow-reports-inbox")
            .await;
        assert!(
            topic_arn.starts_with("arn:aws:sns:us-east-1:"),
            "{topic_arn}"
        );
        assert!(moto.receive_all(&queue_url).await.is_empty());
        moto.sns()
            .publish()
            .topic_arn(&topic_arn)
            .subject("ShopFlow daily report 2024-05-23")
            .message(r#"{"revenue":12.5}"#)
            .send()
            .await
            .unwrap();
        let messages = moto.receive_all(&queue_url).await;
        assert_eq!(messages.len(), 1, "{messages:?}");
        let envelope = &messages[0];
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["TopicArn"], topic_arn.as_str());
        assert_eq!(envelope["Subject"], "ShopFlow daily report 2024-05-23");
        assert_eq!(envelope["Message"], r#"{"revenue":12.5}"#);
        // Drained: received messages were deleted.
        assert!(moto.receive_all(&queue_url).await.is_empty());

        // Drop kills the server.
        let port = moto.port();
        let log = moto.log_path();
        drop(moto);
        assert!(!http_answers(SocketAddr::from(([127, 0, 0, 1], port))));
        assert!(!log.exists());
    }

    #[test]
    fn each_moto_is_a_separate_server() {
        let a = Moto::start();
        let b = Moto::start();
        assert_ne!(a.endpoint(), b.endpoint());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            a.create_bucket("only-in-a").await;
            let in_b = b.s3().list_buckets().send().await.unwrap();
            assert!(in_b.buckets().is_empty());
        });
    }
}
