//! The one translation of SeaORM's errors into [`StoreError`], and the one retry of operations
//! that the database gave up on because of concurrent transactions.

use std::future::Future;

use sea_orm::sqlx::error::DatabaseError;
use sea_orm::{DbErr, RuntimeErr, SqlErr, SqlxError, SqlxMySqlError, SqlxSqliteError};

use crate::ports::StoreError;

/// How many times in all [`with_retries`] runs an operation whose failures are retryable.
const ATTEMPTS: usize = 8;

/// Translates every SeaORM error of this adapter.
pub(super) fn store_error(e: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
        return StoreError::Conflict(m);
    }
    match e {
        DbErr::RecordNotFound(_) => StoreError::NotFound,
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Unavailable(e.to_string()),
        other => StoreError::other_caused_by("database error", other),
    }
}

/// A stored value that this adapter cannot read back.
pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::other(format!("stored {what} is not readable"))
}

/// A stored JSON document that this adapter cannot read back, and why.
pub(super) fn corrupt_json(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::other_caused_by(format!("stored {what} is not readable"), e)
}

/// Runs `op` (a whole transaction or a single statement) until it succeeds, fails with an
/// error that `retryable` refuses, or has run [`ATTEMPTS`] times; returns its last result.
/// `what` names the operation in the log line of each retry.
pub(super) async fn with_retries<T, F, Fut>(
    what: &str,
    retryable: impl Fn(&DbErr) -> bool,
    mut op: F,
) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::info!(error = %e, attempt, "retrying {what} after a transient database error");
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether the database refused `e`'s statement because of concurrent transactions, so that
/// running the whole transaction again may succeed: a deadlock, a serialization failure, a
/// lock that could not be taken (at once or within the lock timeout), or SQLite's file lock.
/// Decided by the driver's error code, never by the message. Public so that the metadata
/// contract suite can check it on errors that real lock conflicts raise.
pub fn is_transient(e: &DbErr) -> bool {
    database_error(e).and_then(driver_code).is_some_and(|code| code.is_transient())
}

/// The database's own error inside `e`, if the database answered one.
fn database_error(e: &DbErr) -> Option<&dyn DatabaseError> {
    match e {
        DbErr::Conn(RuntimeErr::SqlxError(sqlx))
        | DbErr::Exec(RuntimeErr::SqlxError(sqlx))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => match sqlx.as_ref() {
            SqlxError::Database(db) => Some(db.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// An error code as each database reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DriverCode {
    /// PostgreSQL's SQLSTATE (any driver that reports only a SQLSTATE lands here).
    SqlState(String),
    /// MySQL's or MariaDB's error number, with its SQLSTATE when it sent one.
    MySql { number: u16, sql_state: Option<String> },
    /// SQLite's extended result code: the primary code in its low byte.
    Sqlite { extended: i32 },
}

// SQLSTATEs: PostgreSQL appendix A, and the SQL standard's class 40 that MySQL also uses.
const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";
const LOCK_NOT_AVAILABLE: &str = "55P03";
// MySQL/MariaDB server error numbers.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;
// SQLite primary result codes.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

fn driver_code(db: &dyn DatabaseError) -> Option<DriverCode> {
    if let Some(mysql) = db.try_downcast_ref::<SqlxMySqlError>() {
        return Some(DriverCode::MySql { number: mysql.number(), sql_state: mysql.code().map(str::to_string) });
    }
    if db.try_downcast_ref::<SqlxSqliteError>().is_some() {
        return db.code()?.parse().ok().map(|extended| DriverCode::Sqlite { extended });
    }
    db.code().map(|code| DriverCode::SqlState(code.into_owned()))
}

impl DriverCode {
    fn is_transient(&self) -> bool {
        match self {
            DriverCode::SqlState(state) => {
                [SERIALIZATION_FAILURE, DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE].contains(&state.as_str())
            }
            DriverCode::MySql { number, sql_state } => {
                [ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT].contains(number)
                    || sql_state.as_deref() == Some(SERIALIZATION_FAILURE)
            }
            DriverCode::Sqlite { extended } => [SQLITE_BUSY, SQLITE_LOCKED].contains(&(extended & 0xff)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! sqlx's drivers do not let their errors be built outside sqlx, so the codes are checked
    //! here on [`DriverCode`], and the way to them through [`DbErr`] with a database error of a
    //! test's own that reports a SQLSTATE. `tests/metadata_store_contract/` checks
    //! [`is_transient`] on errors that real deadlocks and lock timeouts raise on SQLite,
    //! PostgreSQL and MariaDB (`scripts/test-databases.sh` runs it on the latter two).

    use std::borrow::Cow;
    use std::sync::Arc;

    use sea_orm::sqlx::error::ErrorKind;

    use super::*;

    #[derive(Debug)]
    struct ReportedState(&'static str);

    impl std::fmt::Display for ReportedState {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for ReportedState {}

    impl DatabaseError for ReportedState {
        fn message(&self) -> &str {
            "reported by a test"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn reported(state: &'static str) -> RuntimeErr {
        RuntimeErr::SqlxError(Arc::new(SqlxError::Database(Box::new(ReportedState(state)))))
    }

    fn mysql(number: u16, sql_state: &str) -> DriverCode {
        DriverCode::MySql { number, sql_state: Some(sql_state.to_string()) }
    }

    #[test]
    fn postgres_serialization_failures_deadlocks_and_unavailable_locks_are_transient() {
        for state in ["40001", "40P01", "55P03"] {
            assert!(DriverCode::SqlState(state.into()).is_transient(), "{state}");
        }
    }

    #[test]
    fn other_sqlstates_are_not_transient() {
        // unique_violation, foreign_key_violation, undefined_table, query_canceled
        for state in ["23505", "23503", "42P01", "57014"] {
            assert!(!DriverCode::SqlState(state.into()).is_transient(), "{state}");
        }
    }

    #[test]
    fn mysql_deadlocks_lock_wait_timeouts_and_serialization_failures_are_transient() {
        assert!(mysql(1213, "40001").is_transient());
        assert!(mysql(1205, "HY000").is_transient());
        assert!(DriverCode::MySql { number: 1205, sql_state: None }.is_transient());
        assert!(mysql(1614, "40001").is_transient(), "any error the server files under 40001");
    }

    #[test]
    fn other_mysql_errors_are_not_transient() {
        // duplicate entry, foreign key, unknown table, server gone
        for number in [1062, 1452, 1146, 2006] {
            assert!(!mysql(number, "23000").is_transient(), "{number}");
        }
    }

    #[test]
    fn sqlite_busy_and_locked_are_transient_whatever_their_extended_code() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; SQLITE_LOCKED, _SHAREDCACHE, _VTAB
        for extended in [5, 261, 517, 773, 6, 262, 518] {
            assert!(DriverCode::Sqlite { extended }.is_transient(), "{extended}");
        }
    }

    #[test]
    fn other_sqlite_codes_are_not_transient() {
        // SQLITE_ERROR, SQLITE_READONLY, SQLITE_CONSTRAINT_UNIQUE, _FOREIGNKEY, SQLITE_FULL
        for extended in [1, 8, 2067, 787, 13] {
            assert!(!DriverCode::Sqlite { extended }.is_transient(), "{extended}");
        }
    }

    #[test]
    fn a_database_error_is_reached_through_exec_query_and_connection_errors() {
        for wrap in [DbErr::Exec, DbErr::Query, DbErr::Conn] {
            assert!(is_transient(&wrap(reported("40P01"))));
            assert!(!is_transient(&wrap(reported("23505"))));
        }
    }

    #[test]
    fn errors_without_a_database_code_are_not_transient() {
        let io = SqlxError::Io(std::io::Error::other("connection reset"));
        for e in [
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(io))),
            DbErr::Exec(RuntimeErr::Internal("deadlock detected (40P01)".into())),
            DbErr::Custom("deadlock".into()),
            DbErr::RecordNotFound("dataset".into()),
        ] {
            assert!(!is_transient(&e), "{e}");
        }
    }

    /// Runs `with_retries` over operations that fail with `failures` in turn, then succeed;
    /// returns its result and how many times the operation ran.
    async fn run(failures: Vec<DbErr>, retryable: fn(&DbErr) -> bool) -> (Result<&'static str, DbErr>, usize) {
        let mut left = failures.into_iter();
        let mut runs = 0;
        let result = with_retries("a test operation", retryable, || {
            runs += 1;
            let next = left.next();
            async move { next.map_or(Ok("done"), Err) }
        })
        .await;
        (result, runs)
    }

    fn deadlock() -> DbErr {
        DbErr::Exec(reported("40P01"))
    }

    #[tokio::test]
    async fn a_transient_failure_is_run_again_until_the_operation_succeeds() {
        let (result, runs) = run(vec![deadlock(), deadlock()], is_transient).await;
        assert_eq!(result, Ok("done"));
        assert_eq!(runs, 3);
    }

    #[tokio::test]
    async fn an_operation_runs_eight_times_at_most_and_its_last_error_is_returned() {
        let mut failures: Vec<DbErr> = (0..ATTEMPTS - 1).map(|_| deadlock()).collect();
        failures.push(DbErr::Exec(reported("40001")));
        failures.push(deadlock());
        let (result, runs) = run(failures, is_transient).await;
        assert_eq!(runs, ATTEMPTS);
        assert_eq!(result, Err(DbErr::Exec(reported("40001"))));
    }

    #[tokio::test]
    async fn a_failure_that_is_not_retryable_is_returned_at_once() {
        let (result, runs) = run(vec![DbErr::RecordNotFound("dataset".into()), deadlock()], is_transient).await;
        assert_eq!(result, Err(DbErr::RecordNotFound("dataset".into())));
        assert_eq!(runs, 1);
    }
}
