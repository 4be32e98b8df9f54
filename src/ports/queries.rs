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

/// How `/diff` compares one column of the two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// As they are (the same type in both versions).
    AsIs,
    /// As 64-bit floats (an integer column that became a float column, or back).
    AsNumbers,
    /// As text (any other change of type).
    AsText,
}

/// A column both versions have, and how its values are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparedColumn {
    pub name: String,
    pub comparison: Comparison,
}

/// What `/diff` asks: rows of `v1` and `v2` matched by `key` (values equal as `comparison`
/// says, missing equals missing), then compared on `compared`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffRequest {
    pub key: Vec<ComparedColumn>,
    /// The other columns both versions have, in v2's order.
    pub compared: Vec<ComparedColumn>,
    /// Samples of each kind to return at most.
    pub limit: usize,
    /// How messages name the two versions (`version 3`).
    pub labels: [String; 2],
}

/// The rows that changed between two versions. Counts are exact; samples are the first
/// `limit` rows of each kind in key order (ascending, missing first).
#[derive(Debug, Clone)]
pub struct RowDiff {
    /// Keys only v2 has.
    pub added: u64,
    /// Keys only v1 has.
    pub removed: u64,
    /// Keys both have, with a difference in at least one compared column.
    pub changed: u64,
    pub unchanged: u64,
    /// Rows changed in each compared column (the request's order).
    pub changed_by_column: Vec<u64>,
    /// Added rows, with v2's columns.
    pub added_rows: RecordBatch,
    /// Removed rows, with v1's columns.
    pub removed_rows: RecordBatch,
    pub changed_rows: ChangedRows,
}

/// Samples of changed rows: their key, the compared columns before and after, and which of
/// them differ.
#[derive(Debug, Clone)]
pub struct ChangedRows {
    /// The key columns (v1's values).
    pub keys: RecordBatch,
    /// The compared columns in v1.
    pub before: RecordBatch,
    /// The compared columns in v2.
    pub after: RecordBatch,
    /// `changed[row][column]`.
    pub changed: Vec<Vec<bool>>,
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
    /// A `/diff` key that does not name one row per value in a version.
    #[error("{0}")]
    KeyNotUnique(String),
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

    /// The rows added, removed and changed from `v1` to `v2`, matched by `request.key`.
    /// `KeyNotUnique` (naming the version, the number of repeated keys and one of them) when
    /// a key value names more than one row of a version. Memory stays within the query limits
    /// whatever the tables' sizes (the join spills).
    async fn diff(&self, v1: &QueryTable, v2: &QueryTable, request: &DiffRequest) -> Result<RowDiff, QueryError>;
}
