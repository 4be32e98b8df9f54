//! `Idempotency-Key` on the operations that create something (rules in
//! `domain::idempotency`): a retried request replays the first answer instead of creating
//! a second thing.
//!
//! The middleware sits around the API: for a keyed `POST` to one of [`keyed_operation`]'s
//! paths by a known user, it claims the key, lets the operation run while it fingerprints the
//! body as the operation reads it, then records the answer (or lets the key go). A request
//! finding the key answered reads the body only to fingerprint it, and gets the recorded
//! answer with `Idempotent-Replayed: true`, or `422 idempotency_key_reused` when it is a
//! different request. A request finding the key held by a running request gets
//! `409 conflict` with `Retry-After`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use poem::http::{StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

use super::errors::{ApiError, ErrorBody, ErrorCode, error_response};
use crate::app::App;
use crate::app::errors::ErrorChain;
use crate::app::idempotency::Admission;
use crate::domain::idempotency::{Fingerprint, IdempotencyKey, KeyOwner, StoredAnswer};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The header of a replayed answer.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
/// The largest answer recorded for replay (the answers of keyed operations are small JSON
/// documents; a larger one is sent but not recorded, and the key is let go).
const MAX_RECORDED_ANSWER: usize = 16 << 20;

/// The `Idempotency-Key` parameter of a keyed operation, as documented (the middleware reads it
/// before the operation runs).
pub type KeyHeader = poem_openapi::param::Header<Option<super::text::RuledText<super::text::IdempotencyKeyRule>>>;

/// The answer of an operation that creates something and takes `Idempotency-Key`.
#[derive(poem_openapi::ApiResponse)]
pub enum Created<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> {
    /// Created. With `Idempotent-Replayed: true`, this is the recorded answer of an earlier
    /// request with the same `Idempotency-Key`, and nothing new was created.
    #[oai(status = 201)]
    Created(poem_openapi::payload::Json<T>, #[oai(header = "Idempotent-Replayed")] Option<String>),
}

impl<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> Created<T> {
    pub fn new(body: T) -> Self {
        Created::Created(poem_openapi::payload::Json(body), None)
    }
}

/// Whether `POST path` is an operation that takes `Idempotency-Key`.
pub fn keyed_operation(path: &str) -> bool {
    match path.trim_end_matches('/') {
        "/api/datasets/upload" | "/api/projects" | "/api/experiments" | "/api/models" | "/api/deployments" => true,
        other => {
            let under = |prefix: &str, suffix: &str| {
                other
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|id| !id.is_empty() && !id.contains('/'))
            };
            under("/api/datasets/", "/versions") || under("/api/projects/", "/webhooks")
        }
    }
}

/// The middleware (see the module doc).
pub async fn guard<E: Endpoint>(next: E, mut req: Request, app: App) -> poem::Result<Response> {
    if req.method() != poem::http::Method::POST || !keyed_operation(req.uri().path()) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let Some(raw) = req.headers().get(IDEMPOTENCY_KEY) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let key = match IdempotencyKey::parse(raw.as_bytes()) {
        Ok(key) => key,
        Err(e) => return Ok(ApiError::bad_request(e.to_string()).into_response()),
    };
    // Keys belong to users: an unknown caller is the operation's to refuse (401).
    let token = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
    let principal = match token {
        Some(token) => app.authenticate(token).await,
        None => Ok(None),
    };
    let principal = match principal {
        Ok(Some(principal)) => principal,
        Ok(None) => return next.call(req).await.map(IntoResponse::into_response),
        Err(e) => return Ok(ApiError::from(e).into_response()),
    };
    let tap = BodyTap::start(&req);
    let owner = KeyOwner { user: principal.user_id, key };
    match app.admit_keyed(owner).await {
        Err(e) => Ok(ApiError::from(e).into_response()),
        Ok(Admission::Running { retry_after }) => Ok(still_running(retry_after)),
        Ok(Admission::Answered(answer)) => {
            let body = req.take_body();
            let fingerprint = tap.drain(body).await?;
            Ok(if fingerprint == answer.fingerprint { replay(answer) } else { reused() })
        }
        Ok(Admission::Run(hold)) => {
            let body = req.take_body();
            req.set_body(tap.wrap(body));
            let response = match next.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => e.into_response(),
            };
            let Some(fingerprint) = tap.finished() else {
                // The operation did not read the whole body: the request is not known, so
                // the answer is not one to replay.
                if let Err(e) = hold.finish(None).await {
                    tracing::warn!(error = %ErrorChain(&e), "letting an idempotency key go failed; its lease will run out");
                }
                return Ok(response);
            };
            let (answer, response) = recorded(response, fingerprint).await;
            // The operation ran: its answer goes to the client even if it cannot be recorded
            // (then the key is free again once its lease runs out, and a retry runs again).
            if let Err(e) = hold.finish(answer).await {
                tracing::error!(error = %ErrorChain(&e), "recording the answer of a keyed request failed");
            }
            Ok(response)
        }
    }
}

fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The answer, read whole to be recorded (with the same status, headers and body), unless it
/// is too large or not text.
async fn recorded(response: Response, fingerprint: String) -> (Option<StoredAnswer>, Response) {
    let (parts, body) = response.into_parts();
    let bytes = match body.into_bytes_limit(MAX_RECORDED_ANSWER).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "an answer to a keyed request could not be read");
            let failed = error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "an unexpected error occurred; it has been logged",
            );
            return (None, failed);
        }
    };
    let answer = String::from_utf8(bytes.to_vec()).ok().map(|body| StoredAnswer {
        fingerprint,
        status: parts.status.as_u16(),
        content_type: parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string),
        body,
    });
    (answer, Response::from_parts(parts, Body::from(bytes)))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut builder = Response::builder().status(status).header(IDEMPOTENT_REPLAYED, "true");
    if let Some(content_type) = answer.content_type {
        builder = builder.content_type(content_type);
    }
    builder.body(answer.body)
}

fn reused() -> Response {
    let body = ErrorBody::new(
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was used with a different request (method, path or body); use a new key",
    );
    ApiError::Unprocessable(poem_openapi::payload::Json(body)).into_response()
}

fn still_running(retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_secs().max(1);
    let body = ErrorBody::new(
        ErrorCode::Conflict,
        format!("a request with this Idempotency-Key is still running; retry in {seconds} s"),
    );
    ApiError::Conflict(poem_openapi::payload::Json(body), Some(seconds.to_string())).into_response()
}

/// The fingerprint of a request's body as it is read, and whether it was read whole.
#[derive(Clone)]
struct BodyTap(Arc<Mutex<TapState>>);

struct TapState {
    fingerprint: Option<Fingerprint>,
    /// `Content-Length`, when sent.
    length: Option<u64>,
    seen: u64,
    ended: bool,
}

impl BodyTap {
    fn start(req: &Request) -> Self {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let path = req.uri().path_and_query().map_or(req.uri().path(), |p| p.as_str());
        let fingerprint = Fingerprint::new(req.method().as_str(), path, content_type);
        let length = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        Self(Arc::new(Mutex::new(TapState { fingerprint: Some(fingerprint), length, seen: 0, ended: false })))
    }

    fn wrap(&self, body: Body) -> Body {
        Body::from_bytes_stream(Tapped { inner: Box::pin(body.into_bytes_stream()), tap: self.clone() })
    }

    /// Reads the whole body; its fingerprint.
    async fn drain(&self, body: Body) -> poem::Result<String> {
        let mut stream = Tapped { inner: Box::pin(body.into_bytes_stream()), tap: self.clone() };
        while let Some(chunk) = stream.next().await {
            chunk.map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
            if self.finished_reading() {
                break;
            }
        }
        self.finished().ok_or_else(|| poem::Error::from_string("the body ended early", StatusCode::BAD_REQUEST))
    }

    /// Whether the body was read whole: to its end, to its `Content-Length`, or (multipart)
    /// to its closing boundary.
    fn finished_reading(&self) -> bool {
        let state = self.0.lock().expect("the tap's lock");
        state.ended
            || state.length.is_some_and(|l| state.seen >= l)
            || state.fingerprint.as_ref().is_some_and(Fingerprint::is_closed)
    }

    /// The fingerprint, when the body was read whole.
    fn finished(&self) -> Option<String> {
        if !self.finished_reading() {
            return None;
        }
        self.0.lock().expect("the tap's lock").fingerprint.take().map(Fingerprint::finish)
    }
}

struct Tapped {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    tap: BodyTap,
}

impl Stream for Tapped {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(item) = &next {
            let mut state = self.tap.0.lock().expect("the tap's lock");
            match item {
                Some(Ok(chunk)) => {
                    state.seen += chunk.len() as u64;
                    if let Some(f) = state.fingerprint.as_mut() {
                        f.update(chunk);
                    }
                }
                Some(Err(_)) => {}
                None => state.ended = true,
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_creating_operations_take_a_key() {
        for path in [
            "/api/datasets/upload",
            "/api/datasets/5f0c6c57-0000-4000-8000-000000000000/versions",
            "/api/projects",
            "/api/experiments",
            "/api/models",
            "/api/deployments",
            "/api/projects/",
        ] {
            assert!(keyed_operation(path), "{path}");
        }
        for path in ["/api/datasets", "/api/datasets//versions", "/api/datasets/a/b/versions", "/api/users", "/health"]
        {
            assert!(!keyed_operation(path), "{path}");
        }
    }

    #[test]
    fn bearer_tokens_are_read_whatever_the_scheme_s_case() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
