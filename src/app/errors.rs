//! The errors of the use cases. The HTTP adapter maps each variant to one status and code.

use std::error::Error as StdError;
use std::fmt;

use thiserror::Error;

use crate::domain::names::TextError;
use crate::ports::tables::IngestError;
use crate::ports::{BoxError, StoreError};

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
    /// A compressed upload expands past a limit (the message names it).
    #[error("{0}")]
    ExpandsTooMuch(String),
    /// The upload is not a table we can read.
    #[error(transparent)]
    Unreadable(IngestError),
    #[error("{0}")]
    Conflict(String),
    /// The caller's `If-Match` names a state of the resource that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The data cannot be written in the requested format (e.g. beyond Excel's limits).
    #[error("{0}")]
    NotExportable(String),
    /// A query needs more memory (or spill space) than the server gives queries.
    #[error("{0}")]
    QueryTooLarge(String),
    /// A `/diff` key names more than one row of a version.
    #[error("{0}")]
    KeyNotUnique(String),
    /// A new version breaks the dataset's enforced contract; nothing was stored.
    #[error("the version breaks the dataset's contract ({} violation(s))", .0.len())]
    ContractViolation(Vec<crate::domain::contracts::check::Violation>),
    /// Every ingest slot stayed taken for the whole wait; the request may succeed later.
    #[error("busy: retry in {retry_after_seconds} s")]
    Busy { retry_after_seconds: u64 },
    /// A backing store is unreachable; the request may succeed later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected: what failed, and the error that made it fail when there is one
    /// (its [`source`](StdError::source)). Logged with its whole chain, never sent to the client.
    #[error("internal error: {context}")]
    Internal {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl AppError {
    /// `Internal` with no underlying error: `context` says everything (a broken invariant).
    pub fn internal(context: impl Into<String>) -> Self {
        AppError::Internal { context: context.into(), source: None }
    }

    /// `Internal`: `context` says what failed, `source` why.
    pub fn internal_caused_by(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        AppError::Internal { context: context.into(), source: Some(source.into()) }
    }
}

/// An error followed by each of its causes, `: `-separated (`internal error: an adapter
/// failed: local file: No such file or directory`), for logs and start-up messages. A cause
/// that its error's message already ends with (some libraries print their source too) is not
/// repeated.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !shown.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            cause = e.source();
        }
        Ok(())
    }
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
            StoreError::Stale { .. } => AppError::PreconditionFailed(
                "the dataset changed since the ETag given in If-Match; nothing was done: read it again".into(),
            ),
            other @ StoreError::Other { .. } => AppError::internal_caused_by("an adapter failed", other),
        }
    }
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            io @ IngestError::Io(_) => AppError::internal_caused_by("reading an upload failed", io),
            IngestError::TooLarge(message) => AppError::ExpandsTooMuch(message),
            other => AppError::Unreadable(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_from_a_store_error_from_an_io_error_keeps_all_three_in_its_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "the disk said no");
        let internal = AppError::from(StoreError::other_caused_by("local file", io));

        let mut chain = Vec::new();
        let mut next: Option<&(dyn StdError + 'static)> = Some(&internal);
        while let Some(e) = next {
            chain.push(e);
            next = e.source();
        }
        assert_eq!(chain.len(), 3, "{}", ErrorChain(&internal));
        assert!(matches!(chain[0].downcast_ref::<AppError>(), Some(AppError::Internal { .. })));
        assert!(matches!(chain[1].downcast_ref::<StoreError>(), Some(StoreError::Other { .. })));
        let root = chain[2].downcast_ref::<std::io::Error>().expect("the I/O error at the root");
        assert_eq!(root.kind(), std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            ErrorChain(&internal).to_string(),
            "internal error: an adapter failed: local file: the disk said no"
        );
    }

    #[test]
    fn an_error_without_a_cause_is_its_own_chain() {
        let internal = AppError::internal("the ingest slots were closed");
        assert!(StdError::source(&internal).is_none());
        assert_eq!(ErrorChain(&internal).to_string(), "internal error: the ingest slots were closed");
    }

    #[derive(Debug, Error)]
    #[error("wrapping: {0}")]
    struct PrintsItsSource(#[source] std::io::Error);

    #[test]
    fn a_cause_already_printed_by_its_error_is_not_repeated() {
        let internal = AppError::internal_caused_by("reading", PrintsItsSource(std::io::Error::other("disk")));
        assert_eq!(ErrorChain(&internal).to_string(), "internal error: reading: wrapping: disk");
    }
}
