//! DynamoDB adapters: the idempotency [`Ledger`] (conditional writes with an in-progress
//! lease), the [`ProductStore`] (write only when a field changed, keeping the previous price)
//! and the [`RunRegistry`] (idempotency keys of ingestion requests). Items are converted to and
//! from the port types here, never in pipeline code.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};

use super::{OperationError, classify};
use crate::ports::{
    Claim, ClaimRequest, Ledger, LedgerEntry, LedgerError, LedgerState, ProductRecord,
    ProductStore, ProductStoreError, RegistryError, RunRecord, RunRegistry, UpsertOutcome,
};

type Item = HashMap<String, AttributeValue>;
type SdkErr<E> = aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse().ok())
}

fn conditional_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// `GetItem` of the item whose key attribute `key_name` is `key`, strongly consistent: each
/// read here follows a conditional write that may have just lost to another writer's, and
/// must see that write.
async fn get_consistent(
    client: &Client,
    table: &str,
    key_name: &str,
    key: &str,
) -> Result<GetItemOutput, SdkErr<GetItemError>> {
    client
        .get_item()
        .table_name(table)
        .key(key_name, s(key))
        .consistent_read(true)
        .send()
        .await
}

/// `PutItem` of `item` on the condition that no item with its key (attribute `key_name`)
/// exists yet: `false` when one did and nothing was written.
async fn put_new(
    client: &Client,
    table: &str,
    item: Item,
    key_name: &str,
) -> Result<bool, SdkErr<PutItemError>> {
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(format!("attribute_not_exists({key_name})"))
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e) if conditional_failed(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// How long a completed ledger entry is kept (DynamoDB TTL attribute `expires_at`).
pub const LEDGER_RETENTION_DAYS: i64 = 400;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

fn ledger_item(e: &LedgerEntry) -> Item {
    let mut item = Item::new();
    item.insert("object_id".into(), s(&e.object_id));
    item.insert("object_key".into(), s(&e.key));
    item.insert("etag".into(), s(&e.etag));
    item.insert("run_id".into(), s(&e.run_id));
    item.insert("ingest_date".into(), s(e.ingest_date.to_string()));
    item.insert("ingested_at".into(), s(e.ingested_at.to_rfc3339()));
    item.insert("attempts".into(), n(e.attempts));
    if let Some(seq) = &e.sequencer {
        item.insert("sequencer".into(), s(seq));
    }
    item.insert(
        "expires_at".into(),
        n((e.ingested_at + chrono::Duration::days(LEDGER_RETENTION_DAYS)).timestamp()),
    );
    match &e.state {
        LedgerState::InProgress { lease_until } => {
            item.insert("state".into(), s("in_progress"));
            item.insert("lease_until".into(), n(lease_until.timestamp_millis()));
        }
        LedgerState::Completed { manifest_key } => {
            item.insert("state".into(), s("completed"));
            item.insert("manifest_key".into(), s(manifest_key));
        }
    }
    item
}

impl TryFrom<&Item> for LedgerEntry {
    type Error = String;
    fn try_from(item: &Item) -> Result<Self, String> {
        let need = |name: &str| get_s(item, name).ok_or_else(|| format!("missing {name}"));
        let state = match need("state")?.as_str() {
            "in_progress" => LedgerState::InProgress {
                lease_until: get_n::<i64>(item, "lease_until")
                    .and_then(DateTime::from_timestamp_millis)
                    .ok_or("missing lease_until")?,
            },
            "completed" => LedgerState::Completed {
                manifest_key: need("manifest_key")?,
            },
            other => return Err(format!("unknown state {other:?}")),
        };
        Ok(LedgerEntry {
            object_id: need("object_id")?,
            key: need("object_key")?,
            etag: need("etag")?,
            run_id: need("run_id")?,
            ingest_date: NaiveDate::parse_from_str(&need("ingest_date")?, "%Y-%m-%d")
                .map_err(|e| e.to_string())?,
            ingested_at: DateTime::parse_from_rfc3339(&need("ingested_at")?)
                .map_err(|e| e.to_string())?
                .with_timezone(&Utc),
            attempts: get_n(item, "attempts").ok_or("missing attempts")?,
            sequencer: get_s(item, "sequencer"),
            state,
        })
    }
}

/// The idempotency ledger in a DynamoDB table keyed by `object_id` (string).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    /// A ledger in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn backend<E: OperationError>(operation: &'static str, e: SdkErr<E>) -> LedgerError {
        let (retryable, source) = classify(e);
        LedgerError::Backend {
            operation,
            retryable,
            source,
        }
    }

    async fn read(&self, object_id: &str) -> Result<Option<LedgerEntry>, LedgerError> {
        let out = get_consistent(&self.client, &self.table, "object_id", object_id)
            .await
            .map_err(|e| Self::backend("GetItem", e))?;
        out.item()
            .map(|item| {
                LedgerEntry::try_from(item).map_err(|problem| LedgerError::Corrupt {
                    object_id: object_id.to_string(),
                    source: problem.into(),
                })
            })
            .transpose()
    }

    /// Replaces the entry if it is still held by `expected` (same run, same state).
    async fn replace_if(
        &self,
        entry: &LedgerEntry,
        expected: &LedgerEntry,
    ) -> Result<bool, LedgerError> {
        let expected_state = match expected.state {
            LedgerState::InProgress { .. } => "in_progress",
            LedgerState::Completed { .. } => "completed",
        };
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(ledger_item(entry)))
            .condition_expression("run_id = :run AND #st = :state")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":run", s(&expected.run_id))
            .expression_attribute_values(":state", s(expected_state))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(Self::backend("PutItem", e)),
        }
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, LedgerError> {
        let fresh = request.new_entry();
        let put = put_new(&self.client, &self.table, ledger_item(&fresh), "object_id");
        if put.await.map_err(|e| Self::backend("PutItem", e))? {
            return Ok(Claim::Acquired(fresh));
        }
        let Some(existing) = self.read(&request.object_id).await? else {
            return Ok(Claim::Busy(fresh));
        };
        // Our own claim: the SDK retried a put whose first attempt had succeeded (its answer
        // lost on a dropped connection). A run id is one invocation's, so nobody else has it.
        if existing.run_id == request.run_id
            && matches!(existing.state, LedgerState::InProgress { .. })
        {
            return Ok(Claim::Acquired(existing));
        }
        match request.decide(existing.clone()) {
            Claim::Acquired(entry) => {
                if self.replace_if(&entry, &existing).await? {
                    Ok(Claim::Acquired(entry))
                } else {
                    // Someone else took it over first.
                    Ok(Claim::Busy(existing))
                }
            }
            other => Ok(other),
        }
    }

    async fn complete(&self, entry: &LedgerEntry, manifest_key: &str) -> Result<(), LedgerError> {
        let done = LedgerEntry {
            state: LedgerState::Completed {
                manifest_key: manifest_key.to_string(),
            },
            ..entry.clone()
        };
        if self.replace_if(&done, entry).await? {
            return Ok(());
        }
        // Already completed by this run: a retried request whose first attempt succeeded.
        match self.read(&entry.object_id).await? {
            Some(current) if current.run_id == entry.run_id && current.state == done.state => {
                Ok(())
            }
            _ => Err(LedgerError::NotHeld {
                object_id: entry.object_id.clone(),
                run_id: entry.run_id.clone(),
            }),
        }
    }

    async fn release(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("object_id", s(&entry.object_id))
            .condition_expression("run_id = :run AND #st = :state")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":run", s(&entry.run_id))
            .expression_attribute_values(":state", s("in_progress"))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => match self.read(&entry.object_id).await? {
                // Gone already: a retried delete whose first attempt succeeded.
                None => Ok(()),
                Some(_) => Err(LedgerError::NotHeld {
                    object_id: entry.object_id.clone(),
                    run_id: entry.run_id.clone(),
                }),
            },
            Err(e) => Err(Self::backend("DeleteItem", e)),
        }
    }

    async fn forget(&self, object_id: &str) -> Result<(), LedgerError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("object_id", s(object_id))
            .send()
            .await
            .map_err(|e| Self::backend("DeleteItem", e))?;
        Ok(())
    }
}

fn product_item(
    p: &ProductRecord,
    previous_price_cents: Option<i64>,
    seen_at: DateTime<Utc>,
    first_seen: &str,
) -> Item {
    let mut item = Item::new();
    item.insert("product_id".into(), s(&p.product_id));
    let mut opt_s = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            item.insert(name.into(), s(v));
        }
    };
    opt_s("name", &p.name);
    opt_s("category", &p.category);
    opt_s("brand", &p.brand);
    opt_s("sku", &p.sku);
    if let Some(v) = p.price_cents {
        item.insert("price_cents".into(), n(v));
    }
    if let Some(v) = p.stock {
        item.insert("stock".into(), n(v));
    }
    if let Some(v) = previous_price_cents {
        item.insert("previous_price_cents".into(), n(v));
    }
    item.insert("fingerprint".into(), s(p.fingerprint()));
    item.insert("updated_at".into(), s(seen_at.to_rfc3339()));
    item.insert("first_seen_at".into(), s(first_seen));
    item
}

impl TryFrom<&Item> for ProductRecord {
    type Error = String;
    fn try_from(item: &Item) -> Result<Self, String> {
        Ok(ProductRecord {
            product_id: get_s(item, "product_id").ok_or("missing product_id")?,
            name: get_s(item, "name"),
            category: get_s(item, "category"),
            price_cents: get_n(item, "price_cents"),
            stock: get_n(item, "stock"),
            brand: get_s(item, "brand"),
            sku: get_s(item, "sku"),
        })
    }
}

/// The products table, keyed by `product_id` (string).
#[derive(Debug, Clone)]
pub struct DynamoProductStore {
    client: Client,
    table: String,
}

impl DynamoProductStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn backend<E: OperationError>(operation: &'static str, e: SdkErr<E>) -> ProductStoreError {
        let (retryable, source) = classify(e);
        ProductStoreError::Backend {
            operation,
            retryable,
            source,
        }
    }
}

#[async_trait]
impl ProductStore for DynamoProductStore {
    async fn upsert_if_changed(
        &self,
        product: &ProductRecord,
        seen_at: DateTime<Utc>,
    ) -> Result<UpsertOutcome, ProductStoreError> {
        // Optimistic concurrency on the stored fingerprint; a lost race is retried.
        for _ in 0..5 {
            let current =
                get_consistent(&self.client, &self.table, "product_id", &product.product_id)
                    .await
                    .map_err(|e| Self::backend("GetItem", e))?;
            let Some(item) = current.item() else {
                let fresh = product_item(product, None, seen_at, &seen_at.to_rfc3339());
                let put = put_new(&self.client, &self.table, fresh, "product_id");
                if put.await.map_err(|e| Self::backend("PutItem", e))? {
                    return Ok(UpsertOutcome::Inserted);
                }
                continue;
            };
            let fingerprint = get_s(item, "fingerprint").unwrap_or_default();
            if fingerprint == product.fingerprint() {
                return Ok(UpsertOutcome::Unchanged);
            }
            let stored =
                ProductRecord::try_from(item).map_err(|problem| ProductStoreError::Corrupt {
                    product_id: product.product_id.clone(),
                    problem,
                })?;
            let previous_price_cents = if stored.price_cents != product.price_cents {
                stored.price_cents
            } else {
                get_n(item, "previous_price_cents")
            };
            let first_seen = get_s(item, "first_seen_at").unwrap_or_else(|| seen_at.to_rfc3339());
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(product_item(
                    product,
                    previous_price_cents,
                    seen_at,
                    &first_seen,
                )))
                .condition_expression("fingerprint = :fp")
                .expression_attribute_values(":fp", s(fingerprint))
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(UpsertOutcome::Updated {
                        previous_price_cents,
                    });
                }
                Err(e) if conditional_failed(&e) => continue,
                Err(e) => return Err(Self::backend("PutItem", e)),
            }
        }
        Err(ProductStoreError::Backend {
            operation: "PutItem",
            retryable: true,
            source: format!(
                "product {} kept changing under concurrent writers",
                product.product_id
            )
            .into(),
        })
    }
}

/// Idempotency keys of ingestion requests in a table keyed by `idempotency_key` (string),
/// remembered for [`IDEMPOTENCY_RETENTION_HOURS`] (TTL attribute `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoRunRegistry {
    client: Client,
    table: String,
}

impl DynamoRunRegistry {
    /// A registry on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn backend<E: OperationError>(operation: &'static str, e: SdkErr<E>) -> RegistryError {
        let (retryable, source) = classify(e);
        RegistryError::Backend {
            operation,
            retryable,
            source,
        }
    }
}

#[async_trait]
impl RunRegistry for DynamoRunRegistry {
    async fn register(
        &self,
        key: &str,
        run: &RunRecord,
    ) -> Result<(RunRecord, bool), RegistryError> {
        let mut item = Item::new();
        item.insert("idempotency_key".into(), s(key));
        item.insert("run_id".into(), s(&run.run_id));
        item.insert("tasks".into(), n(run.tasks));
        item.insert("created_at".into(), s(run.created_at.to_rfc3339()));
        item.insert("published".into(), AttributeValue::Bool(run.published));
        item.insert(
            "expires_at".into(),
            n((run.created_at + chrono::Duration::hours(IDEMPOTENCY_RETENTION_HOURS)).timestamp()),
        );
        let put = put_new(&self.client, &self.table, item, "idempotency_key");
        if put.await.map_err(|e| Self::backend("PutItem", e))? {
            return Ok((run.clone(), true));
        }
        let out = get_consistent(&self.client, &self.table, "idempotency_key", key)
            .await
            .map_err(|e| Self::backend("GetItem", e))?;
        let corrupt = |problem: &str| RegistryError::Corrupt {
            key: key.to_string(),
            problem: problem.to_string(),
        };
        let item = out
            .item()
            .ok_or_else(|| corrupt("vanished after a conditional failure"))?;
        Ok((
            RunRecord {
                run_id: get_s(item, "run_id").ok_or_else(|| corrupt("missing run_id"))?,
                tasks: get_n(item, "tasks").ok_or_else(|| corrupt("missing tasks"))?,
                created_at: get_s(item, "created_at")
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| corrupt("missing created_at"))?,
                published: item
                    .get("published")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            },
            false,
        ))
    }

    async fn mark_published(&self, key: &str) -> Result<(), RegistryError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("idempotency_key", s(key))
            .update_expression("SET published = :t")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| Self::backend("UpdateItem", e))?;
        Ok(())
    }
}
