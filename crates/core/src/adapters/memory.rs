//! In-memory adapters for tests and embedding: an object store, a ledger and a notifier that
//! keep everything in maps behind a mutex.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::local::hex;
use crate::ports::{
    Claim, ClaimRequest, Ledger, LedgerEntry, LedgerError, LedgerState, Notification, Notifier,
    NotifyError, ObjectMeta, ObjectStore, StoreError,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn etag(body: &[u8]) -> String {
    hex(&Sha256::digest(body)[..16])
}

/// Objects in a map.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryObjectStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn meta(key: &str, body: &[u8]) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size: body.len() as u64,
            etag: Some(etag(body)),
            last_modified: Some(Utc::now()),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        lock(&self.objects)
            .get(key)
            .cloned()
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
        Ok(Self::meta(key, &body))
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        super::local::check_key(key)?;
        let meta = Self::meta(key, &body);
        lock(&self.objects).insert(key.to_string(), body);
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
        super::local::check_key(key)?;
        let mut objects = lock(&self.objects);
        if objects.contains_key(key) {
            return Ok(false);
        }
        objects.insert(key.to_string(), body);
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
}

/// The ledger in a map.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<BTreeMap<String, LedgerEntry>>,
}

impl MemoryLedger {
    /// An empty ledger.
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

    /// Messages published so far.
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
