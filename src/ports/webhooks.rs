//! Sending webhook deliveries: name resolution and the HTTP request.

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use thiserror::Error;

/// Largest part of a receiver's answer that is read (the rest is dropped unread).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Most addresses of a host tried, each only when the one before could not be connected to (a
/// host with IPv6 and IPv4 addresses, seen from a machine without an IPv6 route).
pub const MAX_ADDRESSES_TRIED: usize = 2;
/// Longest wait for a receiver's answer, connecting included.
pub const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One POST of a delivery.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub url: url::Url,
    /// The addresses to connect to, in turn (at most [`MAX_ADDRESSES_TRIED`]): the URL's host
    /// is not resolved again (the caller resolved it and checked every address).
    pub addresses: Vec<SocketAddr>,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Why a delivery got no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Contract:
/// - `resolve` answers every address the host name has (A and AAAA), or why it has none.
/// - `post` connects only to `request.addresses`, the next one only when the one before could
///   not be connected to (TLS still checks the URL's host name), sends
///   the body with the headers, follows no redirect (a 3xx is an answer), reads at most
///   [`MAX_ANSWER_BYTES`] of the answer and gives up after [`DELIVERY_TIMEOUT`]; it answers
///   the status code, or why there was none. A slow receiver delays only its own delivery.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, SendError>;
    async fn post(&self, request: &WebhookRequest) -> Result<u16, SendError>;
}
