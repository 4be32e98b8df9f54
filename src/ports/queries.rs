//! Reading stored versions by query: pages of rows (filtered, sorted, searched) and read-only
//! SQL over a dataset's versions.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use thiserror::Error;

use futures_util::stream::BoxStream;

/// A version's normalized table as a query sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTable {
    /// The name SQL uses for it (`data`, `v0`, `v1`, …).
    pub name: String,
    /// The storage key of its normalized Parquet file.
    pub key: String,
    /// The file's size in bytes (from its artifact row).
    pub size: u64,
}

/// What `/rows` asks of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowsRequest {
    /// Rows to skip (after filtering and sorting).
    pub offset: u64,
    /// Rows to return at most.
    pub limit: usize,
    /// The columns to return, in this order; all when `None`.
    pub columns: Option<Vec<String>>,
    /// A boolean SQL expression over the columns; only rows where it is true.
    pub filter: Option<String>,
    /// `col [ASC|DESC] [NULLS FIRST|LAST], …`; file order when `None`.
    pub order_by: Option<String>,
    /// Text to find, case-insensitively, in any text column.
    pub search: Option<String>,
}

/// One page of rows and the number of rows that match in all.
#[derive(Debug, Clone)]
pub struct RowsPage {
    /// The returned columns.
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Rows matching the request (filter and search) in the whole table, exactly.
    pub total: u64,
}

/// Record batches of a query's answer.
pub type QueryBatches = BoxStream<'static, Result<RecordBatch, QueryError>>;

/// A query's answer: its columns, and its rows as a stream of batches.
pub struct QueryAnswer {
    pub schema: SchemaRef,
    pub batches: QueryBatches,
}

/// Why a query could not be answered.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The request is not a valid query: a syntax error (with its position), an unknown
    /// column or table, a type error. The caller's to fix.
    #[error("{0}")]
    Invalid(String),
    /// The SQL is valid but not allowed: anything but one read-only statement.
    #[error("{0}")]
    NotAllowed(String),
    /// The query needs more memory (or temporary disk) than the server gives one query.
    #[error("{0}")]
    TooLarge(String),
    /// Reading the stored files failed.
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
    /// Anything unexpected in the engine.
    #[error("{0}")]
    Engine(String),
}

/// Limits on one query, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Memory that sorts, joins and aggregations of all running queries may hold together;
    /// past it they spill to the spool folder, and fail when they cannot.
    pub memory_bytes: usize,
}

/// The query engine.
///
/// Contract:
/// - Reads only: no statement can write, delete or list artifacts, read a file or a URL, or
///   change a setting; only the tables handed to a call are visible to it.
/// - Answers are exact over the whole tables (no sampling).
/// - CPU-heavy work runs off the request threads, so a long query never stalls other requests;
///   dropping an answer's stream cancels its query.
#[async_trait]
pub trait TableQueries: Send + Sync {
    /// The names of the tables `sql` refers to, or why it is not one read-only statement.
    fn tables_in(&self, sql: &str) -> Result<Vec<String>, QueryError>;

    /// Runs one read-only SQL statement over `tables`.
    async fn sql(&self, tables: &[QueryTable], sql: &str) -> Result<QueryAnswer, QueryError>;

    /// A page of rows of `table`.
    async fn rows(&self, table: &QueryTable, request: &RowsRequest) -> Result<RowsPage, QueryError>;
}
