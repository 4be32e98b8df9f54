//! Webhook deliveries over HTTP with reqwest (`ports::webhooks`).

use std::net::IpAddr;

use async_trait::async_trait;

use crate::ports::webhooks::{DELIVERY_TIMEOUT, MAX_ANSWER_BYTES, SendError, WebhookRequest, WebhookSender};

/// Longest wait for a name to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves with the system resolver; sends each delivery on a client pinned to the checked
/// address.
pub struct HttpWebhookSender;

/// The error and its causes on one line (reqwest's own message omits the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, SendError> {
        let lookup = tokio::net::lookup_host((host, port));
        let addresses = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| SendError(format!("the host {host} did not resolve within {} s", RESOLVE_TIMEOUT.as_secs())))?
            .map_err(|e| SendError(format!("the host {host} cannot be resolved: {e}")))?;
        Ok(addresses.map(|a| a.ip()).collect())
    }

    async fn post(&self, request: &WebhookRequest) -> Result<u16, SendError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("datasets-api/", env!("CARGO_PKG_VERSION")));
        if let Some(host) = request.url.host_str() {
            builder = builder.resolve(host, request.address);
        }
        let client = builder.build().map_err(|e| SendError(chain(&e)))?;
        let mut post = client.post(request.url.clone()).body(request.body.clone());
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        let mut answer = post.send().await.map_err(|e| SendError(chain(&e)))?;
        let status = answer.status().as_u16();
        // The answer is read (up to the limit) so that the connection ends cleanly; its
        // content is not used.
        let mut read = 0usize;
        while read < MAX_ANSWER_BYTES {
            match answer.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
    }
}
