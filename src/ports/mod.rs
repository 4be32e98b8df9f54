//! The traits the core needs from the outside world. Each documents its contract; every
//! adapter must honour it (the contract suites in `tests/` check this).

pub mod artifacts;
pub mod metadata;
pub mod queries;
pub mod system;
pub mod tables;
pub mod webhooks;

use thiserror::Error;

/// Any library's error, kept as the cause of one of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The small set of failure kinds every port reports. Adapters translate their library's
/// errors into these in exactly one place.
///
/// `Other` says what failed and keeps the error that made it fail as its
/// [`source`](std::error::Error::source); its `Display` is the context alone, so print the
/// whole chain (`app::errors::ErrorChain`) to see the cause.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The record changed since the revision the caller named (`If-Match`): nothing was done.
    #[error("the dataset changed since revision {expected}")]
    Stale { expected: i64 },
    #[error("{context}")]
    Other {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// `Other` with no underlying error: `context` says everything (a broken invariant).
    pub fn other(context: impl Into<String>) -> Self {
        StoreError::Other { context: context.into(), source: None }
    }

    /// `Other`: `context` says what failed, `source` why.
    pub fn other_caused_by(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Other { context: context.into(), source: Some(source.into()) }
    }
}
