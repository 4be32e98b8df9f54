//! Webhook deliveries over HTTP with reqwest (`ports::webhooks`).

use std::net::IpAddr;

use async_trait::async_trait;

use crate::ports::webhooks::{
    DELIVERY_TIMEOUT, MAX_ADDRESSES_TRIED, MAX_ANSWER_BYTES, SendError, WebhookRequest, WebhookSender,
};

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
        let mut failure = SendError("no address to connect to".into());
        for address in request.addresses.iter().take(MAX_ADDRESSES_TRIED) {
            match post_to(request, *address).await {
                Err(Failure::Connect(e)) => failure = e,
                Err(Failure::Other(e)) => return Err(e),
                Ok(status) => return Ok(status),
            }
        }
        Err(failure)
    }
}

/// Why a POST to one address got no answer: it could not connect (the next address may be
/// tried), or something else.
enum Failure {
    Connect(SendError),
    Other(SendError),
}

async fn post_to(request: &WebhookRequest, address: std::net::SocketAddr) -> Result<u16, Failure> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DELIVERY_TIMEOUT)
        .no_proxy()
        .user_agent(concat!("datasets-api/", env!("CARGO_PKG_VERSION")));
    if let Some(host) = request.url.host_str() {
        builder = builder.resolve(host, address);
    }
    let client = builder.build().map_err(|e| Failure::Other(SendError(chain(&e))))?;
    let mut post = client.post(request.url.clone()).body(request.body.clone());
    for (name, value) in &request.headers {
        post = post.header(*name, value);
    }
    let mut answer = post.send().await.map_err(|e| {
        let error = SendError(format!("{address}: {}", chain(&e)));
        if e.is_connect() { Failure::Connect(error) } else { Failure::Other(error) }
    })?;
    let status = answer.status().as_u16();
    // The answer is read (up to the limit) so that the connection ends cleanly; its content
    // is not used.
    let mut read = 0usize;
    while read < MAX_ANSWER_BYTES {
        match answer.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A receiver on 127.0.0.1 answering 204 to every request; its port.
    async fn receiver() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
            }
        });
        port
    }

    fn request(port: u16, addresses: &[&str]) -> WebhookRequest {
        WebhookRequest {
            url: url::Url::parse(&format!("http://receiver.test:{port}/hook")).unwrap(),
            addresses: addresses.iter().map(|a| format!("{a}:{port}").parse().unwrap()).collect(),
            headers: vec![("content-type", "application/json".into())],
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn an_address_that_refuses_the_connection_hands_over_to_the_next_checked_one() {
        let port = receiver().await;
        // Nothing listens on 127.0.0.2 (the receiver is bound to 127.0.0.1 only).
        assert_eq!(HttpWebhookSender.post(&request(port, &["127.0.0.2", "127.0.0.1"])).await, Ok(204));
        let refused = HttpWebhookSender.post(&request(port, &["127.0.0.2"])).await.unwrap_err();
        assert!(refused.0.contains("127.0.0.2"), "{refused}");
        // Only the addresses given are ever connected to: the URL's name is not resolved.
        assert!(HttpWebhookSender.post(&request(port, &[])).await.is_err());
    }
}
