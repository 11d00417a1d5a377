//! SNS as the [`Notifier`]: summaries and alerts on one topic.

use async_trait::async_trait;
use aws_sdk_sns::Client;

use super::is_retryable;
use crate::ports::{Notification, Notifier, NotifyError};

/// SNS subjects are limited to 100 characters.
const MAX_SUBJECT: usize = 100;

/// Publishes to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    /// A notifier for `topic_arn`.
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// Shortens a subject to SNS's limit on a character boundary, without newlines.
pub fn subject_for_sns(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX_SUBJECT {
        one_line
    } else {
        let mut s: String = one_line.chars().take(MAX_SUBJECT - 1).collect();
        s.push('…');
        s
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, message: &Notification) -> Result<(), NotifyError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject_for_sns(&message.subject))
            .message(&message.body)
            .message_attributes(
                "kind",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(&message.kind)
                    .build()
                    .map_err(|e| NotifyError::Backend {
                        retryable: false,
                        source: Box::new(e),
                    })?,
            )
            .send()
            .await
            .map_err(|e| NotifyError::Backend {
                retryable: is_retryable(&e),
                source: Box::new(e),
            })?;
        Ok(())
    }
}
