//! Filesystem adapters: the lake is a directory, keys are relative paths, writes are atomic
//! (a temporary file in `<root>/.tmp/`, then a rename), the ledger is one JSON file per object
//! under `<root>/_state/ledger/`, notifications are files under `<root>/_notifications/`.

use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::hex;

use crate::adapters::liveness::ProcessId;
use crate::ports::{
    Claim, ClaimRequest, Ledger, LedgerEntry, LedgerError, LedgerState, MetricSet, Metrics,
    Notification, Notifier, NotifyError, ObjectMeta, ObjectStore, StoreError, check_key,
};

/// Staged files are named `shopflow-stage-{pid}-{start}-…` after the process writing them.
const STAGE_PREFIX: &str = "shopflow-stage-";

/// The lake as a directory.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    root: PathBuf,
}

impl FsObjectStore {
    /// A store rooted at `root` (created if missing). Files a dead process was staging in
    /// `<root>/.tmp/` (a copy killed mid-way: as large as the file) are removed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let tmp = root.join(".tmp");
        fs::create_dir_all(&tmp).map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;
        crate::adapters::liveness::sweep_dead(&tmp, STAGE_PREFIX);
        Ok(Self { root })
    }

    /// The lake's directory: a key is a file path relative to it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding `key`: the key as a path under the root, once [`check_key`]
    /// accepts it (the file need not exist).
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A temp file in `<root>/.tmp/`, named after this process ([`STAGE_PREFIX`]) so that, if
    /// the process dies before the rename, the next store opened on the lake removes it.
    fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = self.root.join(".tmp");
        fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        tempfile::Builder::new()
            .prefix(&crate::adapters::liveness::owned_prefix(STAGE_PREFIX))
            .tempfile_in(&dir)
            .map_err(Self::io(&dir))
    }

    fn meta(&self, key: &str, path: &Path, etag: Option<String>) -> Result<ObjectMeta, StoreError> {
        let md = fs::metadata(path).map_err(Self::io(path))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: md.len(),
            etag,
            last_modified: md.modified().ok().map(DateTime::<Utc>::from),
        })
    }

    /// Copies `src` into a temp file while hashing it; returns the temp file and the hash.
    fn stage(&self, src: impl Read) -> Result<(tempfile::NamedTempFile, String), StoreError> {
        let mut tmp = self.temp_file()?;
        let path = tmp.path().to_path_buf();
        let etag = copy_hashing(src, tmp.as_file_mut(), &path)?;
        tmp.as_file().sync_data().map_err(Self::io(&path))?;
        Ok((tmp, etag))
    }

    fn commit(&self, tmp: tempfile::NamedTempFile, key: &str) -> Result<PathBuf, StoreError> {
        let dest = self.path_of(key)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(Self::io(parent))?;
        }
        tmp.persist(&dest).map_err(|e| StoreError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(dest)
    }

    /// The files under `prefix` (and, with `after`, only those whose key sorts after it),
    /// sorted by key. Keys are compared before a file is stat-ed, so listing a table's log
    /// from its last checkpoint costs one directory read and a stat per newer commit, not a
    /// stat of every commit the log has kept.
    fn walk(&self, prefix: &str, after: Option<&str>) -> Result<Vec<ObjectMeta>, StoreError> {
        // Walk from the deepest directory the prefix names completely.
        let dir_part = match prefix.rfind('/') {
            Some(pos) => &prefix[..pos],
            None => "",
        };
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            check_key(dir_part)?;
            self.root.join(dir_part)
        };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(StoreError::Io {
                        path: dir,
                        source: e,
                    });
                }
            };
            for entry in entries {
                let entry = entry.map_err(Self::io(&dir))?;
                let path = entry.path();
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                let ft = entry.file_type().map_err(Self::io(&path))?;
                if ft.is_dir() {
                    stack.push(path);
                } else if ft.is_file() {
                    let rel = path.strip_prefix(&self.root).unwrap_or(&path);
                    let key = rel
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a) {
                        out.push(self.meta(&key, &path, None)?);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The etag this store gives a file with these contents.
    pub fn file_etag(path: &Path) -> Result<String, StoreError> {
        let mut f = fs::File::open(path).map_err(Self::io(path))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut f, &mut hasher).map_err(Self::io(path))?;
        Ok(hex(&hasher.finalize()[..16]))
    }
}

/// Copies `src` to `dst`, returning the content etag (16 bytes of SHA-256, hex).
fn copy_hashing(
    mut src: impl Read,
    dst: &mut impl Write,
    path: &Path,
) -> Result<String, StoreError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src.read(&mut buf).map_err(FsObjectStore::io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(FsObjectStore::io(path))?;
    }
    dst.flush().map_err(FsObjectStore::io(path))?;
    Ok(hex(&hasher.finalize()[..16]))
}

fn not_found(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::NotFound {
        key: format!("{key} ({e})"),
    }
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key)?;
        fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound {
                key: key.to_string(),
            },
            _ => StoreError::Io { path, source: e },
        })
    }

    async fn download(&self, key: &str, dest: &Path) -> Result<ObjectMeta, StoreError> {
        let path = self.path_of(key)?;
        let src = fs::File::open(&path).map_err(not_found(key))?;
        // Copy straight to the destination (which may be on another filesystem), hashing on
        // the way so the etag describes exactly the bytes handed over.
        let mut out = fs::File::create(dest).map_err(Self::io(dest))?;
        let etag = copy_hashing(src, &mut out, dest)?;
        self.meta(key, &path, Some(etag))
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let (tmp, etag) = self.stage(body.as_slice())?;
        let dest = self.commit(tmp, key)?;
        self.meta(key, &dest, Some(etag))
    }

    async fn upload(&self, key: &str, src: &Path) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let file = fs::File::open(src).map_err(Self::io(src))?;
        let (tmp, etag) = self.stage(file)?;
        let dest = self.commit(tmp, key)?;
        self.meta(key, &dest, Some(etag))
    }

    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        let dest = self.path_of(key)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(Self::io(parent))?;
        }
        let (tmp, _) = self.stage(body.as_slice())?;
        // A hard link never replaces an existing file: atomic create-if-absent.
        match fs::hard_link(tmp.path(), &dest) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(StoreError::Io {
                path: dest,
                source: e,
            }),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        if !path.is_file() {
            return Ok(None);
        }
        let etag = Self::file_etag(&path)?;
        self.meta(key, &path, Some(etag)).map(Some)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.walk(prefix, None)
    }

    async fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.walk(prefix, Some(after))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        use std::io::{Seek, SeekFrom};
        let path = self.path_of(key)?;
        let mut file = fs::File::open(&path).map_err(not_found(key))?;
        let size = file.metadata().map_err(Self::io(&path))?.len();
        let start = range.start.min(size);
        let end = range.end.clamp(start, size);
        file.seek(SeekFrom::Start(start)).map_err(Self::io(&path))?;
        let mut buf = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact(&mut buf).map_err(Self::io(&path))?;
        Ok(buf)
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        if !path.is_file() {
            return Ok(None);
        }
        self.meta(key, &path, None).map(Some)
    }
}

/// The idempotency ledger as one JSON file per object under a directory.
///
/// Every read-decide-write (claim, complete, release) runs under an exclusive lock on
/// `{dir}/.lock` (an OS file lock, released when the process dies), so two processes that both
/// find an expired claim cannot both take it over. Each claim records the claiming process
/// ([`ProcessId`]); a claim whose process is no longer running on this machine is taken over at
/// once instead of blocking retries until its lease expires.
#[derive(Debug, Clone)]
pub struct FsLedger {
    dir: PathBuf,
}

/// A ledger file: the entry and, while in progress, which process holds it.
#[derive(Debug, Serialize, Deserialize)]
struct FsRecord {
    #[serde(flatten)]
    entry: LedgerEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<ProcessId>,
}

impl FsLedger {
    /// A ledger in `dir` (created if missing). The usual place is `<lake>/_state/ledger`.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, LedgerError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| LedgerError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    fn path(&self, object_id: &str) -> PathBuf {
        self.dir.join(format!("{object_id}.json"))
    }

    /// Holds the ledger's lock until the returned file is dropped.
    fn lock(&self) -> Result<fs::File, LedgerError> {
        let path = self.dir.join(".lock");
        let io = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    fn read(&self, object_id: &str) -> Result<Option<FsRecord>, LedgerError> {
        let path = self.path(object_id);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| LedgerError::Corrupt {
                        object_id: object_id.to_string(),
                        source: Box::new(e),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }

    /// Writes an entry (atomically: a temporary file renamed over the old one).
    fn write(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let path = self.path(&entry.object_id);
        let io = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        let record = FsRecord {
            entry: entry.clone(),
            holder: matches!(entry.state, LedgerState::InProgress { .. }).then(ProcessId::current),
        };
        let body = serde_json::to_vec_pretty(&record).map_err(|e| LedgerError::Corrupt {
            object_id: entry.object_id.clone(),
            source: Box::new(e),
        })?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(&body).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn held(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        match self.read(&entry.object_id)? {
            Some(FsRecord { entry: current, .. })
                if current.run_id == entry.run_id
                    && matches!(current.state, LedgerState::InProgress { .. }) =>
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
impl Ledger for FsLedger {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, LedgerError> {
        let _lock = self.lock()?;
        let Some(FsRecord {
            entry: mut existing,
            holder,
        }) = self.read(&request.object_id)?
        else {
            let fresh = request.new_entry();
            self.write(&fresh)?;
            return Ok(Claim::Acquired(fresh));
        };
        if let LedgerState::InProgress { lease_until } = &mut existing.state
            && *lease_until > request.now
            && holder.and_then(|h| h.alive()) == Some(false)
        {
            tracing::warn!(
                object_id = %existing.object_id,
                run_id = %existing.run_id,
                "the process holding this claim is gone; taking the claim over before its lease ends"
            );
            *lease_until = request.now;
        }
        let decision = request.decide(existing);
        if let Claim::Acquired(entry) = &decision {
            self.write(entry)?;
        }
        Ok(decision)
    }

    async fn complete(&self, entry: &LedgerEntry, manifest_key: &str) -> Result<(), LedgerError> {
        let _lock = self.lock()?;
        self.held(entry)?;
        let done = LedgerEntry {
            state: LedgerState::Completed {
                manifest_key: manifest_key.to_string(),
            },
            ..entry.clone()
        };
        self.write(&done)
    }

    async fn release(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let _lock = self.lock()?;
        self.held(entry)?;
        let path = self.path(&entry.object_id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }

    async fn forget(&self, object_id: &str) -> Result<(), LedgerError> {
        let _lock = self.lock()?;
        let path = self.path(object_id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LedgerError::Io { path, source }),
        }
    }
}

/// Metrics as structured log lines (`tracing` at info level).
#[derive(Debug, Clone, Default)]
pub struct LogMetrics;

impl Metrics for LogMetrics {
    fn emit(&self, set: &MetricSet) {
        let dims = set
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        for (name, value, unit) in &set.values {
            tracing::info!(metric = %name, value = *value, unit = ?unit, dimensions = %dims, "metric");
        }
    }
}

/// Notifications as JSON files in a directory (one file per message), also logged. A file is
/// named `{UTC time to the millisecond}-{sequence}-{kind}.json`, so the names sort in the order
/// the messages were published, also when several are published within one millisecond.
#[derive(Debug)]
pub struct FileNotifier {
    dir: PathBuf,
    sequence: std::sync::atomic::AtomicU64,
}

impl FileNotifier {
    /// Writes messages into `dir` (created on the first message).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            sequence: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Notifier for FileNotifier {
    async fn publish(&self, message: &Notification) -> Result<(), NotifyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NotifyError::Io { path, source }
        };
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let seq = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self
            .dir
            .join(format!("{stamp}-{seq:04}-{}.json", message.kind));
        let body = serde_json::to_vec_pretty(message).map_err(|e| NotifyError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        fs::write(&path, body).map_err(io(&path))?;
        tracing::info!(kind = %message.kind, subject = %message.subject, file = %path.display(), "notification");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_reads_lists_and_deletes_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        store.put("a/b/c.txt", b"hello".to_vec()).await.unwrap();
        store.put("a/d.txt", b"x".to_vec()).await.unwrap();
        assert_eq!(store.get("a/b/c.txt").await.unwrap(), b"hello");
        let keys: Vec<_> = store
            .list("a/")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["a/b/c.txt", "a/d.txt"]);
        let keys: Vec<_> = store
            .list("a/b")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["a/b/c.txt"]);
        let head = store.head("a/b/c.txt").await.unwrap().unwrap();
        assert_eq!(head.size, 5);
        assert!(head.etag.is_some());
        store.delete("a/b/c.txt").await.unwrap();
        assert!(store.head("a/b/c.txt").await.unwrap().is_none());
        assert!(matches!(
            store.get("a/b/c.txt").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn same_content_gives_same_etag() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        let a = store.put("x", b"same".to_vec()).await.unwrap();
        let b = store.put("y", b"same".to_vec()).await.unwrap();
        let c = store.put("z", b"other".to_vec()).await.unwrap();
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, c.etag);
        assert_eq!(store.head("x").await.unwrap().unwrap().etag, a.etag);
    }

    #[tokio::test]
    async fn refuses_keys_that_escape_the_lake() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        for key in ["../x", "/etc/passwd", "a//b", "a/./b", "", ".tmp/x", "a\\b"] {
            assert!(
                matches!(
                    store.put(key, vec![]).await,
                    Err(StoreError::InvalidKey { .. })
                ),
                "{key}"
            );
        }
    }

    #[tokio::test]
    async fn put_if_absent_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        assert!(store.put_if_absent("k", b"1".to_vec()).await.unwrap());
        assert!(!store.put_if_absent("k", b"2".to_vec()).await.unwrap());
        assert_eq!(store.get("k").await.unwrap(), b"1");
    }

    #[tokio::test]
    async fn listing_after_a_key_returns_only_the_later_keys_under_the_prefix_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        for key in [
            "t/_delta_log/00000000000000000009.json",
            "t/_delta_log/00000000000000000010.checkpoint.parquet",
            "t/_delta_log/00000000000000000011.json",
            "t/_delta_log/00000000000000000010.json",
            "t/_delta_log/_last_checkpoint",
            "t/dt=2026-01-01/part.parquet",
            "u/_delta_log/00000000000000000012.json",
        ] {
            store.put(key, b"x".to_vec()).await.unwrap();
        }
        let keys: Vec<_> = store
            .list_after("t/_delta_log/", "t/_delta_log/00000000000000000010")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            keys,
            [
                "t/_delta_log/00000000000000000010.checkpoint.parquet",
                "t/_delta_log/00000000000000000010.json",
                "t/_delta_log/00000000000000000011.json",
                "t/_delta_log/_last_checkpoint",
            ]
        );
    }

    #[tokio::test]
    async fn listing_skips_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path()).unwrap();
        fs::write(dir.path().join(".tmp").join("partial"), b"x").unwrap();
        store.put("k", b"1".to_vec()).await.unwrap();
        let keys: Vec<_> = store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["k"]);
    }

    fn request(run: &str, now: DateTime<Utc>) -> ClaimRequest {
        ClaimRequest {
            object_id: "obj".into(),
            key: "landing/t/x.csv".into(),
            etag: "e".into(),
            run_id: run.into(),
            now,
            lease: chrono::Duration::minutes(15),
            force: false,
            sequencer: None,
        }
    }

    #[tokio::test]
    async fn ledger_refuses_a_concurrent_claim_and_skips_a_completed_object() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FsLedger::new(dir.path()).unwrap();
        let now = Utc::now();
        let Claim::Acquired(entry) = ledger.claim(&request("r1", now)).await.unwrap() else {
            panic!("first claim must succeed")
        };
        assert!(matches!(
            ledger.claim(&request("r2", now)).await.unwrap(),
            Claim::Busy(_)
        ));
        ledger.complete(&entry, "manifests/x.json").await.unwrap();
        assert!(matches!(
            ledger.claim(&request("r3", now)).await.unwrap(),
            Claim::Completed(_)
        ));
    }

    #[tokio::test]
    async fn ledger_lets_a_crashed_claim_be_taken_over_after_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FsLedger::new(dir.path()).unwrap();
        let now = Utc::now();
        let Claim::Acquired(first) = ledger.claim(&request("r1", now)).await.unwrap() else {
            panic!()
        };
        let later = now + chrono::Duration::minutes(16);
        let Claim::Acquired(second) = ledger.claim(&request("r2", later)).await.unwrap() else {
            panic!("expired claim must be taken over")
        };
        assert_eq!(second.attempts, 2);
        assert_eq!(second.ingest_date, first.ingest_date);
        // The crashed run can no longer complete.
        assert!(matches!(
            ledger.complete(&first, "m").await,
            Err(LedgerError::NotHeld { .. })
        ));
        ledger.complete(&second, "m").await.unwrap();
    }

    #[test]
    fn opening_a_store_removes_what_a_dead_process_was_staging_and_nothing_else() {
        // A copy into landing killed mid-way leaves its staged file in `.tmp/`, as large as
        // the file; the next store opened on the lake removes it, but never a live process's
        // staged file or anything it did not name.
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".tmp");
        fs::create_dir_all(&tmp).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = ProcessId {
            pid: child.id(),
            start: 1,
        };
        child.wait().unwrap();
        let dead_file = tmp.join(format!("{STAGE_PREFIX}{}-abc", dead.token()));
        let live_file = tmp.join(format!(
            "{STAGE_PREFIX}{}-def",
            ProcessId::current().token()
        ));
        let other = tmp.join(".tmpXYZ");
        for f in [&dead_file, &live_file, &other] {
            fs::write(f, b"staged bytes").unwrap();
        }
        let store = FsObjectStore::new(dir.path()).unwrap();
        assert!(!dead_file.exists(), "the dead run's staged file is removed");
        assert!(live_file.exists() && other.exists());
        // And what this store stages is named after this process.
        let (staged, _) = store.stage(&b"x"[..]).unwrap();
        let name = staged
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("{STAGE_PREFIX}{}-", ProcessId::current().token())),
            "{name}"
        );
    }

    #[test]
    fn sixteen_concurrent_takeovers_of_an_expired_claim_give_it_to_exactly_one() {
        // Sixteen replays of an object whose claim expired, each with its own ledger handle
        // (as sixteen processes would have), all at once: one takes the claim over, the
        // others are told it is busy, and only the winner can complete it.
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
        };
        let Claim::Acquired(first) = runtime()
            .block_on(
                FsLedger::new(dir.path())
                    .unwrap()
                    .claim(&request("r0", now)),
            )
            .unwrap()
        else {
            panic!()
        };
        let later = now + chrono::Duration::minutes(16);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
        let racers: Vec<_> = (1..=16)
            .map(|i| {
                let (dir, barrier) = (dir.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    let ledger = FsLedger::new(&dir).unwrap();
                    let rt = runtime();
                    barrier.wait();
                    rt.block_on(ledger.claim(&request(&format!("r{i}"), later)))
                        .unwrap()
                })
            })
            .collect();
        let claims: Vec<Claim> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<&LedgerEntry> = claims
            .iter()
            .filter_map(|c| match c {
                Claim::Acquired(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "{claims:?}");
        assert_eq!(
            claims
                .iter()
                .filter(|c| matches!(c, Claim::Busy(_)))
                .count(),
            15
        );
        let ledger = FsLedger::new(dir.path()).unwrap();
        let rt = runtime();
        assert!(matches!(
            rt.block_on(ledger.complete(&first, "m")),
            Err(LedgerError::NotHeld { .. })
        ));
        rt.block_on(ledger.complete(winners[0], "m")).unwrap();
    }

    #[tokio::test]
    async fn released_claims_can_be_retried_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FsLedger::new(dir.path()).unwrap();
        let now = Utc::now();
        let Claim::Acquired(e) = ledger.claim(&request("r1", now)).await.unwrap() else {
            panic!()
        };
        ledger.release(&e).await.unwrap();
        assert!(matches!(
            ledger.claim(&request("r2", now)).await.unwrap(),
            Claim::Acquired(_)
        ));
    }
}
