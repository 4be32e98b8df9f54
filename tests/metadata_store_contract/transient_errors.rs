//! Transient errors: which database errors the SeaORM adapter retries.
//!
//! Not a contract of the port but of this adapter's retries (`is_transient`), checked here on
//! errors that real lock conflicts raise, because sqlx's drivers do not let their errors be built
//! by hand: on SQLite in `cargo test`, on PostgreSQL and MariaDB with `TEST_DATABASE_URL` (as
//! `scripts/test-databases.sh` runs this suite). The unit tests of `src/adapters/sea_orm/errors.rs`
//! check every code.

use super::*;

/// Two connection pools of their own on the test's database, sharing a table of two rows
/// (`id` 1 and 2, `n` 0) that [`Scratch::drop_table`] removes.
struct Scratch {
    a: DatabaseConnection,
    b: DatabaseConnection,
    table: String,
    _db: TestDb,
}

impl Scratch {
    /// `b` waits for no lock on SQLite (its busy timeout is 0).
    async fn open() -> Self {
        let db = open().await;
        let pool = |busy_timeout: std::time::Duration| {
            let mut options = ConnectOptions::new(db.url.clone());
            options.sqlx_logging(false).map_sqlx_sqlite_opts(move |o| o.busy_timeout(busy_timeout));
            Database::connect(options)
        };
        let a = pool(std::time::Duration::from_secs(5)).await.expect("connection a");
        let b = pool(std::time::Duration::ZERO).await.expect("connection b");
        let table = format!("lock_probe_{}", token());
        a.execute_unprepared(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
            .await
            .expect("creating the scratch table");
        a.execute_unprepared(&format!("INSERT INTO {table} (id, n) VALUES (1, 0), (2, 0)")).await.expect("rows");
        Scratch { a, b, table, _db: db }
    }

    fn backend(&self) -> DbBackend {
        self.a.get_database_backend()
    }

    fn bump(&self, id: i32) -> String {
        format!("UPDATE {} SET n = n + 1 WHERE id = {id}", self.table)
    }

    async fn drop_table(self) {
        self.a.execute_unprepared(&format!("DROP TABLE {}", self.table)).await.expect("dropping the scratch table");
    }
}

/// Runs `sql` in `txn`, then ends the transaction (a PostgreSQL transaction keeps its locks
/// after a failed statement until it ends).
async fn run_then_roll_back(txn: DatabaseTransaction, sql: String) -> Result<(), DbErr> {
    let result = txn.execute_unprepared(&sql).await.map(|_| ());
    txn.rollback().await.expect("rolling back");
    result
}

#[tokio::test]
async fn a_lock_held_by_another_transaction_is_a_transient_error() {
    let s = Scratch::open().await;
    let holder = s.a.begin().await.unwrap();
    holder.execute_unprepared(&s.bump(1)).await.unwrap();
    let refused = match s.backend() {
        // The whole file is locked for writing: SQLITE_BUSY at once, without a busy timeout.
        DbBackend::Sqlite => s.b.execute_unprepared(&s.bump(2)).await.map(|_| ()),
        // lock_not_available (55P03).
        DbBackend::Postgres => {
            let sql = format!("SELECT n FROM {} WHERE id = 1 FOR UPDATE NOWAIT", s.table);
            s.b.execute_unprepared(&sql).await.map(|_| ())
        }
        // ER_LOCK_WAIT_TIMEOUT (1205) after a second.
        _ => {
            let waiter = s.b.begin().await.unwrap();
            waiter.execute_unprepared("SET SESSION innodb_lock_wait_timeout = 1").await.unwrap();
            run_then_roll_back(waiter, s.bump(1)).await
        }
    };
    holder.rollback().await.unwrap();
    let error = refused.expect_err("the lock was taken twice");
    assert!(is_transient(&error), "not transient: {error}");
    s.drop_table().await;
}

#[tokio::test]
async fn a_deadlock_is_a_transient_error() {
    let s = Scratch::open().await;
    if s.backend() == DbBackend::Sqlite {
        println!("SKIPPED: SQLite locks the whole file for one writer at a time, so it cannot deadlock");
        return s.drop_table().await;
    }
    // Two transactions lock rows 1 and 2, then each the other's row: the database aborts one.
    let (first, second) = (s.a.begin().await.unwrap(), s.b.begin().await.unwrap());
    first.execute_unprepared(&s.bump(1)).await.unwrap();
    second.execute_unprepared(&s.bump(2)).await.unwrap();
    let results = tokio::join!(run_then_roll_back(first, s.bump(2)), run_then_roll_back(second, s.bump(1)));
    let errors: Vec<DbErr> = [results.0, results.1].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "exactly one transaction is aborted: {errors:?}");
    assert!(is_transient(&errors[0]), "not transient: {}", errors[0]);
    s.drop_table().await;
}

#[tokio::test]
async fn a_serialization_failure_is_a_transient_error() {
    let s = Scratch::open().await;
    if s.backend() != DbBackend::Postgres {
        println!("SKIPPED: only PostgreSQL refuses to update a row changed since its snapshot");
        return s.drop_table().await;
    }
    let reader = s.a.begin_with_config(Some(IsolationLevel::RepeatableRead), None).await.unwrap();
    reader.execute_unprepared(&format!("SELECT n FROM {} WHERE id = 1", s.table)).await.unwrap();
    s.b.execute_unprepared(&s.bump(1)).await.unwrap();
    // serialization_failure (40001): the row changed after the reader's snapshot.
    let error = run_then_roll_back(reader, s.bump(1)).await.expect_err("a lost update was allowed");
    assert!(is_transient(&error), "not transient: {error}");
    s.drop_table().await;
}

#[tokio::test]
async fn a_duplicate_key_is_not_a_transient_error() {
    let s = Scratch::open().await;
    let sql = format!("INSERT INTO {} (id, n) VALUES (1, 0)", s.table);
    let error = s.b.execute_unprepared(&sql).await.expect_err("a duplicate key was recorded");
    assert!(!is_transient(&error), "transient: {error}");
    s.drop_table().await;
}
