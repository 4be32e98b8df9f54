//! Time limits of the HTTP layer.
//!
//! - Every request but an upload must be answered within [`HttpLimits::request_timeout`]
//!   (`REQUEST_TIMEOUT_SECONDS`): past it the work is dropped and the answer is
//!   `503 timeout`. The limit runs until the response starts; a download's body then streams
//!   for as long as the client reads it.
//! - An upload (its body may be 500 MB on a slow link) has no overall limit; instead its body
//!   must keep arriving: when no byte arrives for [`HttpLimits::upload_idle_timeout`]
//!   (`UPLOAD_IDLE_TIMEOUT_SECONDS`), the upload is answered `408 request_timeout` and its
//!   spooled part is deleted. After the body is in, waiting for an ingest slot is bounded by
//!   `INGEST_WAIT_SECONDS`, and reading the file by the file's size.

use std::time::Duration;

use poem::http::Method;
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use super::errors::ApiError;

/// The time limits (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest time to answer a request that is not an upload.
    pub request_timeout: Duration,
    /// Longest wait for the next bytes of an upload's body.
    pub upload_idle_timeout: Duration,
}

/// `REQUEST_TIMEOUT_SECONDS`' default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// `UPLOAD_IDLE_TIMEOUT_SECONDS`' default.
pub const DEFAULT_UPLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for HttpLimits {
    fn default() -> Self {
        Self { request_timeout: DEFAULT_REQUEST_TIMEOUT, upload_idle_timeout: DEFAULT_UPLOAD_IDLE_TIMEOUT }
    }
}

/// True for the two upload operations (`POST /api/datasets/upload`,
/// `POST /api/datasets/{dataset_id}/versions`), which the request time limit leaves alone.
pub fn is_upload(method: &Method, path: &str) -> bool {
    if *method != Method::POST {
        return false;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["", "api", "datasets", "upload"] => true,
        ["", "api", "datasets", id, "versions"] => !id.is_empty(),
        _ => false,
    }
}

/// Middleware (used with `EndpointExt::around`): answers `503 timeout` when a request that is
/// not an upload takes longer than `limit`.
pub async fn limit_time<E: Endpoint>(next: E, req: Request, limit: Duration) -> Result<Response> {
    if is_upload(req.method(), req.uri().path()) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(answer) => answer.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(%method, path = %path, limit_s = limit.as_secs_f64(), "request timed out");
            Ok(ApiError::timeout(limit).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;
    use poem::{EndpointExt, Route, get, handler, post};

    use super::*;

    #[handler]
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(1)).await;
        "late"
    }

    #[handler]
    async fn quick() -> &'static str {
        "ok"
    }

    fn app(limit: Duration) -> impl Endpoint<Output = Response> {
        Route::new()
            .at("/slow", get(slow))
            .at("/quick", get(quick))
            .at("/api/datasets/upload", post(slow))
            .around(move |next, req| limit_time(next, req, limit))
    }

    #[test]
    fn only_the_two_upload_operations_are_uploads() {
        assert!(is_upload(&Method::POST, "/api/datasets/upload"));
        assert!(is_upload(&Method::POST, "/api/datasets/0190d1a4-0000-7000-8000-000000000000/versions"));
        assert!(!is_upload(&Method::GET, "/api/datasets/0190d1a4-0000-7000-8000-000000000000/versions"));
        assert!(!is_upload(&Method::POST, "/api/datasets//versions"));
        assert!(!is_upload(&Method::POST, "/api/projects"));
        assert!(!is_upload(&Method::POST, "/api/datasets/upload/more"));
    }

    #[tokio::test]
    async fn a_request_past_the_limit_is_answered_503_timeout() {
        let client = TestClient::new(app(Duration::from_millis(200)));
        let resp = client.get("/slow").send().await;
        resp.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = serde_json::from_str(&resp.0.into_body().into_string().await.unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("REQUEST_TIMEOUT_SECONDS"), "{body}");
    }

    #[tokio::test]
    async fn a_request_within_the_limit_is_untouched() {
        let client = TestClient::new(app(Duration::from_millis(200)));
        client.get("/quick").send().await.assert_text("ok").await;
    }

    #[tokio::test]
    async fn uploads_have_no_overall_limit() {
        let client = TestClient::new(app(Duration::from_millis(200)));
        client.post("/api/datasets/upload").send().await.assert_text("late").await;
    }
}
