//! The one mapping from use-case errors to HTTP: every error answer is
//! `{"error": {"code": "...", "message": "..."}}` with a stable machine-readable `code`.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};

use crate::app::AppError;
use crate::app::errors::ErrorChain;

/// The body of every error answer.
#[derive(Object, Debug, Clone)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: `code` is stable and machine-readable; `message` is for people.
#[derive(Object, Debug, Clone)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// With `contract_violation`: every violated check of the dataset's contract.
    #[oai(skip_serializing_if_is_none)]
    pub violations: Option<Vec<super::contracts::ViolationDto>>,
}

/// The stable, machine-readable error codes. Each goes with one status: `bad_request` 400,
/// `unauthorized` 401, `forbidden` 403, `not_found` 404, `method_not_allowed` 405,
/// `request_timeout` 408 (an upload body stopped arriving), `conflict` 409,
/// `precondition_failed` 412, `payload_too_large` 413, `unsupported_media_type` 415,
/// `range_not_satisfiable` 416, `unprocessable_file`, `not_exportable`, `query_too_large`,
/// `idempotency_key_reused`, `key_not_unique` and `contract_violation` 422, `internal_error` 500, `service_unavailable`, `busy` and
/// `timeout` 503.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    UnprocessableFile,
    NotExportable,
    QueryTooLarge,
    IdempotencyKeyReused,
    KeyNotUnique,
    ContractViolation,
    InternalError,
    ServiceUnavailable,
    Busy,
    Timeout,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::UnprocessableFile => "unprocessable_file",
            ErrorCode::NotExportable => "not_exportable",
            ErrorCode::QueryTooLarge => "query_too_large",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::KeyNotUnique => "key_not_unique",
            ErrorCode::ContractViolation => "contract_violation",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::Timeout => "timeout",
        }
    }
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code, message: message.into(), violations: None } }
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
    /// The request conflicts with the current state (e.g. a name or membership that exists),
    /// or a request with the same `Idempotency-Key` is still running (retry after
    /// `Retry-After` seconds).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<String>),
    /// `If-Match` names a state of the dataset that is no longer current: nothing was done.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorBody>),
    /// The upload exceeds `MAX_DATASET_UPLOAD_BYTES`.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not of the documented media type (e.g. JSON sent to an upload).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The file is not a table that can be read (the message says why, with a line number
    /// where there is one), the data cannot be exported in the requested format, or a query
    /// needs more memory than the server gives queries, or an `Idempotency-Key` was used
    /// before with a different request (`idempotency_key_reused`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// An unexpected error; details are in the server log, not here.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A backing store is unreachable (`service_unavailable`), the server is at its limit of
    /// concurrent ingests (`busy`), or the request took longer than the server's time limit
    /// (`timeout`); retry later (after `Retry-After` seconds when given).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] Option<String>),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(Json(ErrorBody::new(ErrorCode::BadRequest, message)))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(Json(ErrorBody::new(ErrorCode::NotFound, message)))
    }

    pub fn unauthorized() -> Self {
        ApiError::Unauthorized(
            Json(ErrorBody::new(ErrorCode::Unauthorized, "a valid API key is required: Authorization: Bearer KEY")),
            "Bearer".to_string(),
        )
    }

    /// The request took longer than the server's limit (`REQUEST_TIMEOUT_SECONDS`).
    pub fn timeout(limit: std::time::Duration) -> Self {
        ApiError::Unavailable(
            Json(ErrorBody::new(
                ErrorCode::Timeout,
                format!(
                    "the request took longer than the limit of {} s (REQUEST_TIMEOUT_SECONDS); retry later",
                    limit.as_secs_f64()
                ),
            )),
            None,
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use ErrorCode as C;
        let json = |code: ErrorCode, message: String| Json(ErrorBody::new(code, message));
        match e {
            e @ (AppError::NotFound(_) | AppError::VersionNotFound(_)) => {
                ApiError::NotFound(json(C::NotFound, e.to_string()))
            }
            AppError::Forbidden(m) => ApiError::Forbidden(json(C::Forbidden, m)),
            AppError::Invalid(m) => ApiError::BadRequest(json(C::BadRequest, m)),
            AppError::InvalidText(t) => ApiError::BadRequest(json(C::BadRequest, t.to_string())),
            AppError::PayloadTooLarge { limit } => ApiError::PayloadTooLarge(json(
                C::PayloadTooLarge,
                format!("the upload exceeds the limit of {limit} bytes (MAX_DATASET_UPLOAD_BYTES)"),
            )),
            AppError::ExpandsTooMuch(m) => ApiError::PayloadTooLarge(json(C::PayloadTooLarge, m)),
            AppError::Unreadable(i) => ApiError::Unprocessable(json(C::UnprocessableFile, i.to_string())),
            AppError::Conflict(m) => ApiError::Conflict(json(C::Conflict, m), None),
            AppError::PreconditionFailed(m) => ApiError::PreconditionFailed(json(C::PreconditionFailed, m)),
            AppError::NotExportable(m) => ApiError::Unprocessable(json(C::NotExportable, m)),
            AppError::QueryTooLarge(m) => ApiError::Unprocessable(json(C::QueryTooLarge, m)),
            AppError::KeyNotUnique(m) => ApiError::Unprocessable(json(C::KeyNotUnique, m)),
            AppError::ContractViolation(violations) => {
                let message = format!(
                    "the version breaks the dataset's contract: {}; nothing was stored",
                    super::contracts::summary(&violations)
                );
                let mut body = ErrorBody::new(C::ContractViolation, message);
                body.error.violations = Some(violations.into_iter().map(Into::into).collect());
                ApiError::Unprocessable(Json(body))
            }
            AppError::Unavailable(m) => {
                tracing::warn!(error = %m, "a backing store is unavailable");
                ApiError::Unavailable(
                    json(C::ServiceUnavailable, "a backing store is unavailable; retry later".into()),
                    None,
                )
            }
            AppError::Busy { retry_after_seconds } => ApiError::Unavailable(
                json(
                    C::Busy,
                    format!(
                        "the server is ingesting as many files as it may at once; retry in {retry_after_seconds} s"
                    ),
                ),
                Some(retry_after_seconds.to_string()),
            ),
            internal @ AppError::Internal { .. } => {
                tracing::error!(error = %ErrorChain(&internal), "internal error");
                ApiError::Internal(json(C::InternalError, "an unexpected error occurred; it has been logged".into()))
            }
        }
    }
}

/// The code of an error answered with `status` when nothing more specific is known.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        409 => ErrorCode::Conflict,
        412 => ErrorCode::PreconditionFailed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        416 => ErrorCode::RangeNotSatisfiable,
        422 => ErrorCode::UnprocessableFile,
        503 => ErrorCode::ServiceUnavailable,
        s if s >= 500 => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    }
}

/// Turns errors raised outside the operations (routing, parameter parsing, authentication)
/// into the same JSON shape.
pub async fn catch_all(err: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    use poem_openapi::error::AuthorizationError;
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        return ApiError::unauthorized().into_response();
    }
    let code = code_for_status(status);
    if code == ErrorCode::InternalError {
        tracing::error!(error = %err, "unhandled server error");
        return error_response(status, code, "an unexpected error occurred; it has been logged");
    }
    error_response(status, code, &err.to_string())
}

/// An error answer in the common JSON shape, for code outside the operations.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> poem::Response {
    let body = serde_json::json!({"error": {"code": code.as_str(), "message": message}}).to_string();
    poem::Response::builder().status(status).content_type("application/json; charset=utf-8").body(body)
}
