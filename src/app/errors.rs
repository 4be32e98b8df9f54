//! The errors of the use cases. The HTTP adapter maps each variant to one status and code.

use thiserror::Error;

use crate::domain::names::TextError;
use crate::ports::StoreError;
use crate::ports::tables::IngestError;

#[derive(Debug, Error)]
pub enum AppError {
    /// The resource does not exist, or the caller may not see it (indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The dataset exists (and the caller may see it) but has no such version.
    #[error("version {0} of the dataset not found")]
    VersionNotFound(crate::domain::version_ref::VersionRef),
    /// The caller sees the resource but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// A request field is invalid.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    InvalidText(#[from] TextError),
    /// The upload is larger than the configured limit.
    #[error("the upload exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// The upload is not a table we can read.
    #[error(transparent)]
    Unreadable(IngestError),
    #[error("{0}")]
    Conflict(String),
    /// The data cannot be written in the requested format (e.g. beyond Excel's limits).
    #[error("{0}")]
    NotExportable(String),
    /// Every ingest slot stayed taken for the whole wait; the request may succeed later.
    #[error("busy: retry in {retry_after_seconds} s")]
    Busy { retry_after_seconds: u64 },
    /// A backing store is unreachable; the request may succeed later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected. The message is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("resource"),
            StoreError::Conflict(m) => {
                tracing::info!(detail = %m, "conflict in a store");
                AppError::Conflict("the request conflicts with data already stored".into())
            }
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Other(m) => AppError::Internal(m),
        }
    }
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Io(m) => AppError::Internal(m),
            other => AppError::Unreadable(other),
        }
    }
}
