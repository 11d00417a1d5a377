//! Kinesis as the [`TaskQueue`]: `PutRecords` in batches of 500, retrying only the entries the
//! stream refused, with backoff.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::is_retryable;
use crate::ports::{FetchTask, QueueError, TaskQueue};

/// Records per `PutRecords` call (the API's limit).
pub const BATCH: usize = 500;

/// The entries whose result carries an error, in order (`PutRecords` answers one result per
/// entry, in the order sent). A missing result counts as refused.
pub fn refused<T: Clone>(sent: &[T], results: &[Option<String>]) -> Vec<T> {
    sent.iter()
        .enumerate()
        .filter(|(i, _)| results.get(*i).is_none_or(Option::is_some))
        .map(|(_, e)| e.clone())
        .collect()
}

/// Publishes fetch tasks to one stream.
#[derive(Debug, Clone)]
pub struct KinesisTaskQueue {
    client: Client,
    stream_name: String,
    max_attempts: u32,
    backoff: Duration,
}

impl KinesisTaskQueue {
    /// A queue on `stream_name`, trying each entry up to `max_attempts` times.
    pub fn new(client: Client, stream_name: impl Into<String>, max_attempts: u32) -> Self {
        Self {
            client,
            stream_name: stream_name.into(),
            max_attempts: max_attempts.max(1),
            backoff: Duration::from_millis(100),
        }
    }
}

#[async_trait]
impl TaskQueue for KinesisTaskQueue {
    async fn publish(&self, tasks: &[FetchTask]) -> Result<(), QueueError> {
        for chunk in tasks.chunks(BATCH) {
            let mut pending: Vec<PutRecordsRequestEntry> = Vec::with_capacity(chunk.len());
            for t in chunk {
                let data = serde_json::to_vec(t).map_err(QueueError::Encode)?;
                pending.push(
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(data))
                        .partition_key(t.partition_key())
                        .build()
                        .map_err(|e| QueueError::Backend {
                            retryable: false,
                            source: Box::new(e),
                        })?,
                );
            }
            let mut attempt = 0;
            let mut last_error = String::new();
            while !pending.is_empty() {
                attempt += 1;
                if attempt > self.max_attempts {
                    return Err(QueueError::Partial {
                        failed: pending.len(),
                        total: tasks.len(),
                        attempts: self.max_attempts,
                        last_error,
                    });
                }
                let out = self
                    .client
                    .put_records()
                    .stream_name(&self.stream_name)
                    .set_records(Some(pending.clone()))
                    .send()
                    .await;
                let out = match out {
                    Ok(o) => o,
                    Err(e) if is_retryable(&e) && attempt < self.max_attempts => {
                        last_error = e.to_string();
                        tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                        continue;
                    }
                    Err(e) => {
                        return Err(QueueError::Backend {
                            retryable: is_retryable(&e),
                            source: Box::new(e),
                        });
                    }
                };
                if out.failed_record_count().unwrap_or(0) == 0 {
                    pending.clear();
                    break;
                }
                // Keep only the refused entries, in order.
                let results: Vec<Option<String>> = out
                    .records()
                    .iter()
                    .map(|r| {
                        r.error_code()
                            .map(|c| format!("{c}: {}", r.error_message().unwrap_or_default()))
                    })
                    .collect();
                if let Some(e) = results.iter().flatten().last() {
                    last_error.clone_from(e);
                }
                let retry = refused(&pending, &results);
                tracing::warn!(
                    refused = retry.len(),
                    attempt,
                    "PutRecords refused some entries; retrying only those"
                );
                pending = retry;
                tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_the_refused_entries_in_order() {
        let sent = ["a", "b", "c", "d"];
        let results = [
            None,
            Some("ProvisionedThroughputExceededException: slow down".to_string()),
            None,
            Some("InternalFailure: oops".to_string()),
        ];
        assert_eq!(refused(&sent, &results), ["b", "d"]);
        assert!(refused(&sent, &[None, None, None, None]).is_empty());
        assert_eq!(
            refused(&sent, &[None, None]),
            ["c", "d"],
            "missing results are retried"
        );
    }
}
