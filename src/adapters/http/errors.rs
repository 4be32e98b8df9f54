//! The one mapping from use-case errors to HTTP: every error answer is
//! `{"error": {"code": "...", "message": "..."}}` with a stable machine-readable `code`.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::app::AppError;

/// The body of every error answer.
#[derive(Object, Debug, Clone)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: `code` is stable and machine-readable; `message` is for people.
#[derive(Object, Debug, Clone)]
pub struct ErrorDetail {
    /// One of `bad_request`, `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `conflict`, `payload_too_large`, `unsupported_media_type`, `unprocessable_file`,
    /// `not_exportable`, `busy`,
    /// `service_unavailable`, `internal_error`.
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code: code.to_string(), message: message.into() } }
    }
}

/// Every error status an operation can answer.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// A parameter or form field is missing or invalid.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The bearer key is missing or unknown.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller may see the resource but not do this (e.g. a viewer writing).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such resource, or one the caller may not see.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The upload exceeds `MAX_DATASET_UPLOAD_BYTES`.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not of the documented media type (e.g. JSON sent to an upload).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The file is not a table that can be read (the message says why, with a line number
    /// where there is one), or the data cannot be exported in the requested format.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// An unexpected error; details are in the server log, not here.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A backing store is unreachable, or the server is at its limit of concurrent ingests;
    /// retry later (after `Retry-After` seconds when given).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<String>),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(Json(ErrorBody::new("bad_request", message)))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(Json(ErrorBody::new("not_found", message)))
    }

    pub fn unauthorized() -> Self {
        ApiError::Unauthorized(
            Json(ErrorBody::new("unauthorized", "a valid API key is required: Authorization: Bearer KEY")),
            "Bearer".to_string(),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let json = |code: &str, message: String| Json(ErrorBody::new(code, message));
        match e {
            AppError::NotFound(what) => ApiError::NotFound(json("not_found", format!("{what} not found"))),
            AppError::Forbidden(m) => ApiError::Forbidden(json("forbidden", m)),
            AppError::Invalid(m) => ApiError::BadRequest(json("bad_request", m)),
            AppError::InvalidText(t) => ApiError::BadRequest(json("bad_request", t.to_string())),
            AppError::PayloadTooLarge { limit } => ApiError::PayloadTooLarge(json(
                "payload_too_large",
                format!("the upload exceeds the limit of {limit} bytes (MAX_DATASET_UPLOAD_BYTES)"),
            )),
            AppError::Unreadable(i) => ApiError::Unprocessable(json("unprocessable_file", i.to_string())),
            AppError::Conflict(m) => ApiError::Conflict(json("conflict", m)),
            AppError::NotExportable(m) => ApiError::Unprocessable(json("not_exportable", m)),
            AppError::Unavailable(m) => {
                tracing::warn!(error = %m, "a backing store is unavailable");
                ApiError::Unavailable(
                    json("service_unavailable", "a backing store is unavailable; retry later".into()),
                    None,
                )
            }
            AppError::Busy { retry_after_seconds } => ApiError::Unavailable(
                json(
                    "busy",
                    format!(
                        "the server is ingesting as many files as it may at once; retry in {retry_after_seconds} s"
                    ),
                ),
                Some(retry_after_seconds.to_string()),
            ),
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::Internal(json("internal_error", "an unexpected error occurred; it has been logged".into()))
            }
        }
    }
}

/// Turns errors raised outside the operations (routing, parameter parsing, authentication)
/// into the same JSON shape.
pub async fn catch_all(err: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
    };
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let code = if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        return ApiError::unauthorized().into_response();
    } else if err.is::<poem::error::NotFoundError>() || status == StatusCode::NOT_FOUND {
        "not_found"
    } else if err.is::<poem::error::MethodNotAllowedError>() || status == StatusCode::METHOD_NOT_ALLOWED {
        "method_not_allowed"
    } else if err.is::<ContentTypeError>() || status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        "unsupported_media_type"
    } else if err.is::<ParseParamError>() || err.is::<ParsePathError>() || err.is::<ParseRequestPayloadError>() {
        "bad_request"
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        "payload_too_large"
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        "service_unavailable"
    } else if status.is_server_error() {
        tracing::error!(error = %err, "unhandled server error");
        return poem::Response::builder()
            .status(status)
            .content_type("application/json")
            .body(error_json("internal_error", "an unexpected error occurred; it has been logged"));
    } else {
        "bad_request"
    };
    poem::Response::builder().status(status).content_type("application/json").body(error_json(code, &err.to_string()))
}

fn error_json(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}
