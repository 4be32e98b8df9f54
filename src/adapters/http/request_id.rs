//! Every request gets an id: the client's `X-Request-Id` when it sends a sane one, else a new
//! UUID. The id is returned as `X-Request-Id` and appears on the request's log line; the
//! request is counted in the metrics under the operation it reached.

use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use poem_openapi::OperationId;

use crate::ports::system::Telemetry;

const HEADER: &str = "x-request-id";

fn client_id(req: &Request) -> Option<String> {
    let value = req.headers().get(HEADER)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| value.to_string())
}

/// Middleware (used with `EndpointExt::around`), recording into `telemetry`.
pub async fn track<E: Endpoint>(next: E, req: Request, telemetry: Arc<dyn Telemetry>) -> Result<Response> {
    let id = client_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let mut response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    let operation = response.data::<OperationId>().map_or("unmatched", |o| o.0);
    telemetry.request(method.as_str(), operation, status, seconds);
    let ms = seconds * 1e3;
    tracing::info!(request_id = %id, %method, path = %path, status, ms = format!("{ms:.1}"), "request");
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}
