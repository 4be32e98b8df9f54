//! The traits the core needs from the outside world. Each documents its contract; every
//! adapter must honour it (the contract suites in `tests/` check this).

pub mod artifacts;
pub mod metadata;
pub mod system;
pub mod tables;

use thiserror::Error;

/// The small set of failure kinds every port reports. Adapters translate their library's
/// errors into these in exactly one place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}
