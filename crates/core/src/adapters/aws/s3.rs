//! S3 as the lake's [`ObjectStore`]: streaming downloads, multipart uploads for large files,
//! conditional create (`If-None-Match: *`) for put-if-absent.

use std::io::{Read, Write};
use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};

use super::{OperationError, is_retryable, service_status};
use crate::ports::{ObjectMeta, ObjectStore, StoreError, check_key};

/// Files larger than this are uploaded in parts of this size.
pub const PART_SIZE: usize = 16 * 1024 * 1024;

/// The lake in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

fn backend<E: OperationError>(
    operation: &'static str,
    key: &str,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError {
    StoreError::Backend {
        operation,
        key: key.to_string(),
        retryable: is_retryable(&e),
        source: Box::new(e),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn etag(raw: Option<&str>) -> Option<String> {
    raw.map(|e| e.trim_matches('"').to_string())
}

fn time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// An object's metadata as S3 answers a listing, a `GetObject` or a `HeadObject`: a size S3
/// did not give (or gave negative) is 0, the ETag loses its quotes.
fn answered_meta(
    key: &str,
    size: Option<i64>,
    e_tag: Option<&str>,
    last_modified: Option<&aws_sdk_s3::primitives::DateTime>,
) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size: size.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
        etag: etag(e_tag),
        last_modified: time(last_modified),
    }
}

/// The metadata of an object this store has just written (`size` bytes): S3's answer to a
/// write carries no modification time, so it is now.
fn written_meta(key: &str, size: u64, e_tag: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size,
        etag: etag(e_tag),
        last_modified: Some(Utc::now()),
    }
}

/// A failure while reading a response's body, which is always worth another try (the
/// connection dropped or stalled mid-stream).
fn body_failed<E>(operation: &'static str, key: &str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Backend {
        operation,
        key: key.to_string(),
        retryable: true,
        source: Box::new(e),
    }
}

impl S3ObjectStore {
    /// The lake in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `ListObjectsV2` over every page: the keys under `prefix` (after `start_after`, which S3
    /// skips on its side), sorted.
    async fn list_pages(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_string))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| backend("ListObjectsV2", prefix, e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(answered_meta(key, o.size(), o.e_tag(), o.last_modified()));
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// `GetObject` of the whole object, or of `range` (an HTTP `Range` value), with a missing
    /// key as [`StoreError::NotFound`] and any other failure named `operation`.
    async fn get_object(
        &self,
        operation: &'static str,
        key: &str,
        range: Option<String>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StoreError> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    StoreError::NotFound {
                        key: key.to_string(),
                    }
                } else {
                    // A range that starts at or after the end is answered 416, which
                    // `is_retryable` counts as final, as it is.
                    backend(operation, key, e)
                }
            })
    }

    async fn multipart(&self, key: &str, src: &Path, size: u64) -> Result<ObjectMeta, StoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| backend("CreateMultipartUpload", key, e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let result = self.upload_parts(key, src, &upload_id).await;
        match result {
            Ok(parts) => {
                let done = self
                    .client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| backend("CompleteMultipartUpload", key, e))?;
                Ok(written_meta(key, size, done.e_tag()))
            }
            Err(e) => {
                if let Err(abort) = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(key, error = %abort, "could not abort a failed multipart upload; the lifecycle rule will");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &str,
        src: &Path,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut file = std::fs::File::open(src).map_err(io(src))?;
        let mut parts = Vec::new();
        let mut number = 1;
        loop {
            let mut buf = Vec::with_capacity(PART_SIZE);
            (&mut file)
                .take(PART_SIZE as u64)
                .read_to_end(&mut buf)
                .map_err(io(src))?;
            if buf.is_empty() {
                break;
            }
            let last = buf.len() < PART_SIZE;
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| backend("UploadPart", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            number += 1;
            if last {
                break;
            }
        }
        Ok(parts)
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out = self.get_object("GetObject", key, None).await?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(body_failed("GetObject(body)", key))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn download(&self, key: &str, dest: &Path) -> Result<ObjectMeta, StoreError> {
        let out = self.get_object("GetObject", key, None).await?;
        let meta = answered_meta(key, out.content_length(), out.e_tag(), out.last_modified());
        let mut file = std::fs::File::create(dest).map_err(io(dest))?;
        let mut body = out.body;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(body_failed("GetObject(body)", key))?
        {
            file.write_all(&chunk).map_err(io(dest))?;
        }
        file.flush().map_err(io(dest))?;
        Ok(meta)
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let size = body.len() as u64;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| backend("PutObject", key, e))?;
        Ok(written_meta(key, size, out.e_tag()))
    }

    async fn upload(&self, key: &str, src: &Path) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let size = std::fs::metadata(src).map_err(io(src))?.len();
        if size > PART_SIZE as u64 {
            return self.multipart(key, src, size).await;
        }
        let body = std::fs::read(src).map_err(io(src))?;
        self.put(key, body).await
    }

    async fn put_if_absent(&self, key: &str, body: Vec<u8>) -> Result<bool, StoreError> {
        check_key(key)?;
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if matches!(service_status(&e), Some(412 | 409)) => Ok(false),
            Err(e) => Err(backend("PutObject(If-None-Match)", key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(answered_meta(
                key,
                out.content_length(),
                out.e_tag(),
                out.last_modified(),
            ))),
            Err(e)
                if e.as_service_error().is_some_and(|s| s.is_not_found())
                    || service_status(&e) == Some(404) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend("HeadObject", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.list_pages(prefix, None).await
    }

    async fn list_after(&self, prefix: &str, after: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.list_pages(prefix, Some(after)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| backend("DeleteObject", key, e))?;
        Ok(())
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        if range.end <= range.start {
            return Ok(Vec::new());
        }
        let range = format!("bytes={}-{}", range.start, range.end - 1);
        let out = self
            .get_object("GetObject(range)", key, Some(range))
            .await?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(body_failed("GetObject(range body)", key))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.head(key).await
    }
}
