//! The one translation of SeaORM's errors into [`StoreError`], and what may be retried.

use sea_orm::{DbErr, SqlErr};

use crate::ports::StoreError;

/// Attempts at allocating a version number before giving up (only concurrent inserts that
/// collide on the unique index are retried).
pub(super) const VERSION_ATTEMPTS: usize = 8;

/// Translates every SeaORM error of this adapter.
pub(super) fn store_error(e: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
        return StoreError::Conflict(m);
    }
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

/// Deadlocks (MySQL 1213, PostgreSQL 40P01) and serialization failures (40001): the
/// transaction was rolled back and may simply be run again.
pub(super) fn is_transient(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("deadlock")
        || text.contains("could not serialize")
        || text.contains("40001")
        || text.contains("40p01")
}

/// A stored value that this adapter cannot read back.
pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is not readable"))
}
