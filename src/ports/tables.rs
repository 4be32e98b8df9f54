//! Reading uploads into the canonical typed table, and writing tables out.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use thiserror::Error;

use crate::domain::dtype::ColumnSchema;
use crate::domain::inference::TypeEvidence;
use crate::domain::preview::PreviewRow;
use crate::domain::quality::QualityReport;
use crate::domain::read_hints::ReadHints;
use crate::domain::records::SourceFormat;
use crate::ports::StoreError;
use crate::ports::artifacts::ByteStream;

/// Bounds on what one upload may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    pub max_columns: usize,
    /// Longest single cell, in bytes.
    pub max_cell_bytes: usize,
    /// Longest CSV row, in bytes of its text. A row longer than this, or of more than twice
    /// `max_columns` fields, is refused while it is read, before it is held whole.
    pub max_row_bytes: usize,
    /// Largest decompressed size of a compressed upload, in bytes.
    pub max_decompressed_bytes: u64,
    /// Most times a compressed upload may expand (checked past its first megabytes).
    pub max_expansion_ratio: u64,
}

/// The default of `MAX_DECOMPRESSION_RATIO`: text compresses 3 to 20 times, rarely 100;
/// a compression bomb over 1000.
pub const DEFAULT_MAX_EXPANSION_RATIO: u64 = 200;

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_columns: 10_000,
            max_cell_bytes: 1024 * 1024,
            max_row_bytes: 64 << 20,
            max_decompressed_bytes: 4 * 500_000_000,
            max_expansion_ratio: DEFAULT_MAX_EXPANSION_RATIO,
        }
    }
}

/// Why an upload could not be read as a table. Every variant but `Io` is the uploader's to fix.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IngestError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header but no data rows")]
    NoRows,
    #[error("line {line}: {reason}")]
    InvalidAt { line: u64, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the file has {found} columns; at most {max} are accepted")]
    TooManyColumns { found: usize, max: usize },
    /// Past a size limit while reading (a compressed upload that expands too much): the
    /// message names the limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("i/o error while reading the upload: {0}")]
    Io(String),
}

/// A table read from an upload, with everything recorded about it.
#[derive(Debug, Clone)]
pub struct IngestedTable {
    pub format: SourceFormat,
    pub columns: Vec<ColumnSchema>,
    pub row_count: u64,
    /// Hex SHA-256 of the normalized file written.
    pub normalized_sha256: String,
    /// `sha256:` and the hex SHA-256 of the table's canonical serialization
    /// (`domain::content_hash`).
    pub content_hash: String,
    pub quality: QualityReport,
    pub preview: Vec<PreviewRow>,
    /// Why each column has its type (in column order).
    pub evidence: Vec<TypeEvidence>,
}

/// Turns an uploaded file into the normalized Parquet copy.
///
/// Contract: decides the format by content (CSV, JSON, Parquet, Arrow IPC, spreadsheets;
/// compressed or not), reads it as the uploader's `hints` say (a text hint on a typed file, such
/// as a delimiter on a Parquet file, is ignored; `dtypes` on a typed file, or a hint naming
/// what the file lacks, such as a column or a sheet, is an [`IngestError::Invalid`]), reads every row in bounded memory, writes the canonical typed
/// Parquet file to `normalized`, and computes the schema, the quality report and the preview
/// on the way. CPU-bound and blocking: call it from a blocking thread. On
/// error, `normalized` may hold a partial file that the caller deletes.
pub trait TableIngestor: Send + Sync {
    fn ingest(
        &self,
        upload: &Path,
        normalized: &Path,
        limits: &IngestLimits,
        hints: &ReadHints,
    ) -> Result<IngestedTable, IngestError>;

    /// The value checks of `contract` on the normalized file `normalized` just written:
    /// reads only the columns `columns` (positions in the file's schema, ascending, named
    /// `names`), every row in order, in bounded memory. Blocking, like [`Self::ingest`].
    fn check_values(
        &self,
        normalized: &Path,
        contract: &crate::domain::contracts::Contract,
        columns: &[usize],
        names: &[String],
    ) -> Result<Vec<crate::domain::contracts::check::Violation>, IngestError>;
}

/// Options of the CSV download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// Prefix text cells that begin with `=`, `+`, `-`, `@`, tab or CR with `'` (OWASP CSV
    /// injection); off by default so that the file stays faithful to the data.
    pub escape_formulas: bool,
}

/// Why a table cannot be written in a format.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The table does not fit the format (e.g. Excel's row, column or cell-length limits).
    #[error("{0}")]
    DoesNotFit(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The formats a table is streamed in (downloads and query answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// RFC 4180 CSV, UTF-8, with a header row.
    Csv(CsvOptions),
    /// JSON Lines: one object a row, cells typed as in the preview.
    Jsonl,
    /// A Parquet file.
    Parquet,
    /// The Arrow IPC stream format.
    ArrowIpc,
}

/// Writes tables out in download formats.
///
/// Contract: streams in bounded memory; the stream ends with an error item if reading fails
/// midway.
#[async_trait]
pub trait TableExporter: Send + Sync {
    /// The normalized Parquet artifact at `key`, encoded in `format`.
    async fn export(&self, key: &str, format: TableFormat) -> Result<ByteStream, StoreError>;

    /// `batches` (of any schema: a query's answer) encoded in `format`.
    fn encode(&self, schema: SchemaRef, batches: BatchStream, format: TableFormat) -> ByteStream;

    /// An Excel workbook with one sheet: a bold header row, then the rows with numbers as
    /// numbers, dates and timestamps as Excel dates, booleans as booleans and text as text
    /// (never formulas). Written in constant memory to a local file in `work_dir`, then
    /// streamed; fails with `DoesNotFit` before any byte is sent when a value cannot be held.
    /// The workbook says it was created at `created` (seconds since the epoch): the same
    /// table and time give the same bytes.
    async fn xlsx(&self, key: &str, work_dir: &Path, created: i64) -> Result<ByteStream, ExportError>;
}

/// Record batches of a stored table.
pub type BatchStream = BoxStream<'static, Result<RecordBatch, StoreError>>;

/// Reads stored normalized tables.
///
/// Contract: streams the canonical record batches of the Parquet artifact at `key` in row
/// order, in bounded memory; with `columns`, only those columns (indices into the version's
/// schema, in that order of the schema).
#[async_trait]
pub trait TableSource: Send + Sync {
    async fn batches(&self, key: &str, columns: Option<Vec<usize>>) -> Result<BatchStream, StoreError>;

    /// As [`batches`](Self::batches), except that a text column stored dictionary-encoded may
    /// come as a `Dictionary(Int32, Utf8)` array of the same values: a reader that counts
    /// values then sees each distinct value once per batch instead of once per row.
    async fn batches_with_dictionaries(
        &self,
        key: &str,
        columns: Option<Vec<usize>>,
    ) -> Result<BatchStream, StoreError> {
        self.batches(key, columns).await
    }

    /// Every column's content digest (`domain::content_hash`), in column order, read from the
    /// stored table (for a version whose content hash was not recorded at upload).
    async fn content_digests(&self, key: &str) -> Result<Vec<[u8; 32]>, StoreError>;
}
