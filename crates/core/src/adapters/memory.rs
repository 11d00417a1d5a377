//! In-memory adapters for tests and embedding: an object store, a ledger and a notifier that
//! keep everything in maps behind a mutex.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::ids::hex;
use crate::ports::{
    Claim, ClaimRequest, FetchTask, Ledger, LedgerEntry, LedgerError, LedgerState, Notification,
    Notifier, NotifyError, ObjectMeta, ObjectStore, ProductRecord, ProductStore, ProductStoreError,
    QueueError, RegistryError, RunRecord, RunRegistry, StoreError, TaskQueue, UpsertOutcome,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn etag(body: &[u8]) -> String {
    hex(&Sha256::digest(body)[..16])
}

/// One stored object: its bytes and when they were written.
#[derive(Debug, Clone)]
struct Stored {
    body: Vec<u8>,
    modified: DateTime<Utc>,
}

impl Stored {
    fn new(body: Vec<u8>) -> Self {
        Self {
            body,
            modified: Utc::now(),
        }
    }
}

/// Objects in a map.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Stored>>,
}

impl MemoryObjectStore {
    /// An empty store. Nothing touches the disk: the objects go when it is dropped.
    pub fn new() -> Self {
        Self::default()
    }

    fn meta(key: &str, stored: &Stored) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size: stored.body.len() as u64,
            etag: Some(etag(&stored.body)),
            last_modified: Some(stored.modified),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        lock(&self.objects)
            .get(key)
            .map(|s| s.body.clone())
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })
    }

    async fn download(&self, key: &str, dest: &Path) -> Result<ObjectMeta, StoreError> {
        let body = self.get(key).await?;
        std::fs::write(dest, &body).map_err(|source| StoreError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(Self::meta(key, &Stored::new(body)))
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        crate::ports::check_key(key)?;
        let stored = Stored::new(body);
        let meta = Self::meta(key, &stored);
        lock(&self.objects).insert(key.to_string(), stored);
        Ok(meta)
    }

    async fn upload(&self, key: &str, src: &Path) -> Result<ObjectMeta, StoreError> {
        let body = std::fs::read(src).map_err(|source| StoreError::Io {
            path: src.to_path_buf(),
            source,
        })?;
        self.put(key, body).await
    }

    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        crate::ports::check_key(key)?;
        let mut objects = lock(&self.objects);
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_string(), Stored::new(body));
        Ok(true)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(lock(&self.objects).get(key).map(|b| Self::meta(key, b)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        Ok(lock(&self.objects)
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, b)| Self::meta(k, b))
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.objects).remove(key);
        Ok(())
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let objects = lock(&self.objects);
        let stored = objects.get(key).ok_or_else(|| StoreError::NotFound {
            key: key.to_string(),
        })?;
        let len = stored.body.len();
        let start = usize::try_from(range.start).unwrap_or(len).min(len);
        let end = usize::try_from(range.end).unwrap_or(len).clamp(start, len);
        Ok(stored.body[start..end].to_vec())
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(lock(&self.objects).get(key).map(|s| ObjectMeta {
            key: key.to_string(),
            size: s.body.len() as u64,
            etag: None,
            last_modified: Some(s.modified),
        }))
    }
}

/// The ledger in a map.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<BTreeMap<String, LedgerEntry>>,
}

impl MemoryLedger {
    /// An empty ledger. Nothing touches the disk: the entries go when it is dropped.
    pub fn new() -> Self {
        Self::default()
    }

    fn check_held(
        &self,
        entries: &BTreeMap<String, LedgerEntry>,
        entry: &LedgerEntry,
    ) -> Result<(), LedgerError> {
        match entries.get(&entry.object_id) {
            Some(c)
                if c.run_id == entry.run_id
                    && matches!(c.state, LedgerState::InProgress { .. }) =>
            {
                Ok(())
            }
            _ => Err(LedgerError::NotHeld {
                object_id: entry.object_id.clone(),
                run_id: entry.run_id.clone(),
            }),
        }
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, LedgerError> {
        let mut entries = lock(&self.entries);
        let decision = match entries.get(&request.object_id) {
            None => Claim::Acquired(request.new_entry()),
            Some(existing) => request.decide(existing.clone()),
        };
        if let Claim::Acquired(entry) = &decision {
            entries.insert(entry.object_id.clone(), entry.clone());
        }
        Ok(decision)
    }

    async fn complete(&self, entry: &LedgerEntry, manifest_key: &str) -> Result<(), LedgerError> {
        let mut entries = lock(&self.entries);
        self.check_held(&entries, entry)?;
        entries.insert(
            entry.object_id.clone(),
            LedgerEntry {
                state: LedgerState::Completed {
                    manifest_key: manifest_key.to_string(),
                },
                ..entry.clone()
            },
        );
        Ok(())
    }

    async fn release(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let mut entries = lock(&self.entries);
        self.check_held(&entries, entry)?;
        entries.remove(&entry.object_id);
        Ok(())
    }

    async fn forget(&self, object_id: &str) -> Result<(), LedgerError> {
        lock(&self.entries).remove(object_id);
        Ok(())
    }
}

/// Notifications kept in a list (tests read them back).
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Notification>>,
}

impl MemoryNotifier {
    /// An empty notifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies of the messages published so far, oldest first.
    pub fn sent(&self) -> Vec<Notification> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn publish(&self, message: &Notification) -> Result<(), NotifyError> {
        lock(&self.sent).push(message.clone());
        Ok(())
    }
}

/// Fetch tasks kept in a list: the in-process queue.
#[derive(Debug, Default)]
pub struct MemoryTaskQueue {
    tasks: Mutex<Vec<FetchTask>>,
}

impl MemoryTaskQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes every queued task, oldest first.
    pub fn drain(&self) -> Vec<FetchTask> {
        std::mem::take(&mut *lock(&self.tasks))
    }
}

#[async_trait]
impl TaskQueue for MemoryTaskQueue {
    async fn publish(&self, tasks: &[FetchTask]) -> Result<(), QueueError> {
        lock(&self.tasks).extend_from_slice(tasks);
        Ok(())
    }
}

/// The products table in a map: current record and previous price per product.
#[derive(Debug, Default)]
pub struct MemoryProductStore {
    products: Mutex<BTreeMap<String, (ProductRecord, Option<i64>)>>,
}

impl MemoryProductStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored product and its previous price (`None` until a price changed), or
    /// `None` for a product never stored.
    pub fn get(&self, product_id: &str) -> Option<(ProductRecord, Option<i64>)> {
        lock(&self.products).get(product_id).cloned()
    }
}

#[async_trait]
impl ProductStore for MemoryProductStore {
    async fn upsert_if_changed(
        &self,
        product: &ProductRecord,
        _seen_at: chrono::DateTime<Utc>,
    ) -> Result<UpsertOutcome, ProductStoreError> {
        let mut products = lock(&self.products);
        match products.get(&product.product_id) {
            Some((current, _)) if current == product => Ok(UpsertOutcome::Unchanged),
            Some((current, previous)) => {
                let previous_price_cents = if current.price_cents != product.price_cents {
                    current.price_cents
                } else {
                    *previous
                };
                products.insert(
                    product.product_id.clone(),
                    (product.clone(), previous_price_cents),
                );
                Ok(UpsertOutcome::Updated {
                    previous_price_cents,
                })
            }
            None => {
                products.insert(product.product_id.clone(), (product.clone(), None));
                Ok(UpsertOutcome::Inserted)
            }
        }
    }
}

/// Idempotency keys in a map.
#[derive(Debug, Default)]
pub struct MemoryRunRegistry {
    runs: Mutex<BTreeMap<String, RunRecord>>,
}

impl MemoryRunRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RunRegistry for MemoryRunRegistry {
    async fn register(
        &self,
        key: &str,
        run: &RunRecord,
    ) -> Result<(RunRecord, bool), RegistryError> {
        let mut runs = lock(&self.runs);
        match runs.get(key) {
            Some(existing) => Ok((existing.clone(), false)),
            None => {
                runs.insert(key.to_string(), run.clone());
                Ok((run.clone(), true))
            }
        }
    }

    async fn mark_published(&self, key: &str) -> Result<(), RegistryError> {
        if let Some(run) = lock(&self.runs).get_mut(key) {
            run.published = true;
        }
        Ok(())
    }
}
