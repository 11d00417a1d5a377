//! delta-rs reads and writes through `object_store::ObjectStore`; ShopFlow's storage is the
//! [`ObjectStore`](crate::ports::ObjectStore) port. [`PortStore`] adapts the port, so the
//! tables live on whatever the port is backed by (a lake directory, memory, S3 through the
//! AWS SDK adapter) with one implementation, and no second S3 client is compiled.
//!
//! What delta-rs needs from storage, and how the port gives it:
//!
//! | delta-rs needs | the port |
//! |---|---|
//! | atomic commit of `_delta_log/N.json` (put if absent) | [`put_if_absent`](crate::ports::ObjectStore::put_if_absent): a hard link locally, `If-None-Match: *` on S3 |
//! | ranged reads (Parquet footers, column chunks) | [`get_range`](crate::ports::ObjectStore::get_range) |
//! | sizes and modification times (scans, VACUUM) | [`stat`](crate::ports::ObjectStore::stat), [`list`](crate::ports::ObjectStore::list) |
//! | streaming writes of large files | parts spooled to a local temporary file, then [`upload`](crate::ports::ObjectStore::upload) (multipart on S3) |

use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyMode, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, UploadPart,
};

use crate::ports::{self, StoreError};

const STORE: &str = "ShopFlow lake";

/// The port as an `object_store::ObjectStore` rooted at the lake's root.
#[derive(Clone)]
pub struct PortStore {
    store: Arc<dyn ports::ObjectStore>,
}

impl fmt::Debug for PortStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortStore")
            .field("store", &self.store)
            .finish()
    }
}

impl fmt::Display for PortStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortStore({:?})", self.store)
    }
}

impl PortStore {
    /// Wraps `store`: an `object_store` path is used as the port key of the same text, and
    /// a listed key comes back as the path of the same text.
    pub fn new(store: Arc<dyn ports::ObjectStore>) -> Self {
        Self { store }
    }

    /// The objects under `prefix` (a directory), after the key `after` when one is given, as
    /// `object_store` streams them.
    fn listing(
        &self,
        prefix: Option<&Path>,
        after: Option<String>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let store = self.store.clone();
        let prefix = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        stream::once(async move {
            let listed = match after {
                Some(after) => store.list_after(&prefix, &after).await,
                None => store.list(&prefix).await,
            }
            .map_err(|e| to_os_error(e, &Path::from(prefix.as_str())))?;
            Ok::<_, object_store::Error>(stream::iter(listed.into_iter().map(meta_of)))
        })
        .map(|r| match r {
            Ok(s) => s.boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }
}

fn to_os_error(e: StoreError, path: &Path) -> object_store::Error {
    match e {
        StoreError::NotFound { .. } => object_store::Error::NotFound {
            path: path.to_string(),
            source: Box::new(e),
        },
        other => object_store::Error::Generic {
            store: STORE,
            source: Box::new(other),
        },
    }
}

fn meta_of(m: ports::ObjectMeta) -> Result<ObjectMeta, object_store::Error> {
    let location =
        Path::parse(&m.key).map_err(|source| object_store::Error::InvalidPath { source })?;
    Ok(ObjectMeta {
        location,
        last_modified: m.last_modified.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        size: m.size,
        e_tag: m.etag,
        version: None,
    })
}

/// The byte range a request asks for, in an object of `size` bytes.
fn resolve(
    range: Option<&GetRange>,
    size: u64,
    path: &Path,
) -> Result<Range<u64>, object_store::Error> {
    let invalid = |reason: String| object_store::Error::Generic {
        store: STORE,
        source: reason.into(),
    };
    match range {
        None => Ok(0..size),
        Some(GetRange::Bounded(r)) => {
            if r.start >= r.end || (r.start >= size && size > 0) {
                return Err(invalid(format!(
                    "range {r:?} is empty or past the end of {path} ({size} bytes)"
                )));
            }
            Ok(r.start..r.end.min(size))
        }
        Some(GetRange::Offset(o)) => {
            if *o > size {
                return Err(invalid(format!(
                    "offset {o} is past the end of {path} ({size} bytes)"
                )));
            }
            Ok(*o..size)
        }
        Some(GetRange::Suffix(n)) => Ok(size.saturating_sub(*n)..size),
    }
}

#[async_trait]
impl object_store::ObjectStore for PortStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let key = location.as_ref();
        let body: Vec<u8> = Bytes::from(payload).to_vec();
        match opts.mode {
            PutMode::Overwrite => {
                let meta = self
                    .store
                    .put(key, body)
                    .await
                    .map_err(|e| to_os_error(e, location))?;
                Ok(PutResult {
                    e_tag: meta.etag,
                    version: None,
                })
            }
            PutMode::Create => {
                if self
                    .store
                    .put_if_absent(key, body)
                    .await
                    .map_err(|e| to_os_error(e, location))?
                {
                    Ok(PutResult {
                        e_tag: None,
                        version: None,
                    })
                } else {
                    Err(object_store::Error::AlreadyExists {
                        path: key.to_string(),
                        source: "an object already exists at this key".into(),
                    })
                }
            }
            PutMode::Update(_) => Err(object_store::Error::NotImplemented {
                operation: "put with PutMode::Update".into(),
                implementer: STORE.into(),
            }),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let spool = tempfile::NamedTempFile::new().map_err(|e| object_store::Error::Generic {
            store: STORE,
            source: Box::new(e),
        })?;
        Ok(Box::new(SpooledUpload {
            store: self.store.clone(),
            location: location.clone(),
            spool: Some(spool),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let key = location.as_ref();
        let meta = self
            .store
            .stat(key)
            .await
            .map_err(|e| to_os_error(e, location))?
            .ok_or_else(|| object_store::Error::NotFound {
                path: key.to_string(),
                source: "no object at this key".into(),
            })?;
        let meta = meta_of(meta)?;
        let range = resolve(options.range.as_ref(), meta.size, location)?;
        let attributes = Attributes::default();
        if options.head {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range,
                attributes,
            });
        }
        let bytes = if range.start == 0 && range.end == meta.size {
            self.store.get(key).await
        } else {
            self.store.get_range(key, range.clone()).await
        }
        .map_err(|e| to_os_error(e, location))?;
        let bytes = Bytes::from(bytes);
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let store = self.store.clone();
        locations
            .then(move |location| {
                let store = store.clone();
                async move {
                    let location = location?;
                    store
                        .delete(location.as_ref())
                        .await
                        .map_err(|e| to_os_error(e, &location))?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.listing(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        // delta-rs lists a table's log from its last checkpoint: without this the default
        // lists every commit since version 0 and filters here, O(commits) per table load.
        self.listing(prefix, Some(offset.to_string()))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let base = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        let listed = self
            .store
            .list(&base)
            .await
            .map_err(|e| to_os_error(e, &Path::from(base.as_str())))?;
        let mut common_prefixes: Vec<Path> = Vec::new();
        let mut objects = Vec::new();
        for m in listed {
            let rest = &m.key[base.len()..];
            match rest.split_once('/') {
                Some((dir, _)) => {
                    let p = Path::from(format!("{base}{dir}"));
                    if common_prefixes.last() != Some(&p) {
                        common_prefixes.push(p);
                    }
                }
                None => objects.push(meta_of(m)?),
            }
        }
        common_prefixes.dedup();
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let body = self
            .store
            .get(from.as_ref())
            .await
            .map_err(|e| to_os_error(e, from))?;
        match options.mode {
            CopyMode::Overwrite => {
                self.store
                    .put(to.as_ref(), body)
                    .await
                    .map_err(|e| to_os_error(e, to))?;
                Ok(())
            }
            CopyMode::Create => {
                if self
                    .store
                    .put_if_absent(to.as_ref(), body)
                    .await
                    .map_err(|e| to_os_error(e, to))?
                {
                    Ok(())
                } else {
                    Err(object_store::Error::AlreadyExists {
                        path: to.to_string(),
                        source: "an object already exists at this key".into(),
                    })
                }
            }
        }
    }
}

/// A multipart upload spooled to a local file (parts arrive in order; memory stays bounded),
/// handed to the port's streaming [`upload`](crate::ports::ObjectStore::upload) on completion.
struct SpooledUpload {
    store: Arc<dyn ports::ObjectStore>,
    location: Path,
    spool: Option<tempfile::NamedTempFile>,
}

impl fmt::Debug for SpooledUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpooledUpload")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn spool_error(e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(e),
    }
}

#[async_trait]
impl MultipartUpload for SpooledUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let result = match self.spool.as_mut() {
            Some(spool) => data
                .iter()
                .try_for_each(|chunk| spool.as_file_mut().write_all(chunk))
                .map_err(spool_error),
            None => Err(object_store::Error::Generic {
                store: STORE,
                source: "part after the upload was completed or aborted".into(),
            }),
        };
        Box::pin(async move { result })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let spool = self
            .spool
            .take()
            .ok_or_else(|| object_store::Error::Generic {
                store: STORE,
                source: "the upload was already completed or aborted".into(),
            })?;
        spool.as_file().sync_data().map_err(spool_error)?;
        let meta = self
            .store
            .upload(self.location.as_ref(), spool.path())
            .await
            .map_err(|e| to_os_error(e, &self.location))?;
        Ok(PutResult {
            e_tag: meta.etag,
            version: None,
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.spool = None;
        Ok(())
    }
}
