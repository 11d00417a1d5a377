//! The product API's HTTP client: `reqwest` with a per-request timeout.

use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{HttpGet, HttpResponse, TransportError};

/// GETs with a timeout.
#[derive(Debug, Clone)]
pub struct ReqwestHttp {
    client: reqwest::Client,
}

impl ReqwestHttp {
    /// A client whose every request times out after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("shopflow/", env!("CARGO_PKG_VERSION")))
                .build()?,
        })
    }
}

#[async_trait]
impl HttpGet for ReqwestHttp {
    async fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        let transport = |e: reqwest::Error| TransportError {
            url: url.to_string(),
            timed_out: e.is_timeout(),
            source: Box::new(e),
        };
        let resp = self.client.get(url).send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after_secs = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        Ok(HttpResponse {
            status,
            retry_after_secs,
            body,
        })
    }
}
