//! CSV → canonical typed table, usually in one pass over the (UTF-8) text.
//!
//! The column types are first guessed from the text's first [`GUESS_BYTES`]; then one pass
//! validates every record, infers every column's type over all its values *and* converts the
//! cells to the guessed types (a cell of the guessed type is parsed once, for both; see
//! [`ColumnInference::observe_as`]), checks quality and encodes the normalized Parquet file. When
//! the types inferred over every value differ from the guess (a float after a million integers,
//! a column empty at the start), the pass is run again with the inferred types, which are then
//! final: the result is always what inference over every value decides, and a file whose
//! types the first rows show is read once. (`object` and `category` are both stored as text,
//! so a guess that confuses them does not need a second pass.)
//!
//! The pass runs on one worker per core, at most `ports::system::MAX_WORKER_THREADS` (8): the
//! text is cut into blocks of about [`BLOCK_BYTES`] at line feeds (see
//! [`csv_blocks`](super::csv_blocks) for why the cut is exact or not used), each block is
//! parsed by one worker, and the results are merged in block order
//! ([`csv_pass`](super::csv_pass)); the columns' content
//! digests are computed in block order on a thread of their own
//! ([`digest_relay`](super::digest_relay)). Memory is bounded per worker by one block's
//! encoded row group and one record batch, plus the batches of later blocks waiting for their
//! digests (at most [`HOLD_BYTES`](super::digest_relay::HOLD_BYTES) in all), the inference
//! state (a few words per column, and at most 51 distinct values per text column) and the
//! quality state (at most about one and a half hashes per distinct row; see `DuplicateRows`).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use super::csv_blocks::{Block, BlockEnd, BlockList, crossing, line_at};
use super::csv_columns::arrow_type;
use super::csv_pass::{Pass, convert_pass, finish_conversion};
pub use super::csv_reading::CsvReading;
use super::csv_reading::{forced_types, refuse_mixed_given_dates};
use super::csv_records::{Record, RecordError, RecordLimits, Records};
use super::encoding::{Utf8Text, to_utf8_from};
use super::sniff::{Dialect, ROW_NAMES_COLUMN, column_names, detect_with};
use crate::domain::content_hash::content_hash;
use crate::domain::dtype::ColumnSchema;
use crate::domain::inference::{
    ColumnInference, ForcedType, GivenBy, InferredType, MissingMarkers, MixedColumn, TypeEvidence,
};
use crate::domain::records::SourceFormat;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// Bytes of text the dialect is detected from.
const SAMPLE_BYTES: usize = 64 * 1024;
/// Bytes of text the column types are guessed from before the pass.
const GUESS_BYTES: u64 = 4 << 20;
/// Bytes of text per block (one block is one unit of parallel work and at least one Parquet
/// row group).
pub const BLOCK_BYTES: u64 = 16 << 20;

pub(super) fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

/// How the passes are cut and run; [`ingest_csv`] uses [`BLOCK_BYTES`] and
/// [`worker_threads`](crate::ports::system::worker_threads) workers.
#[derive(Debug, Clone, Copy)]
pub struct Parallelism {
    pub block_bytes: u64,
    pub workers: usize,
    /// Bytes of text the types are guessed from ([`GUESS_BYTES`]).
    pub guess_bytes: u64,
    /// Bytes of later blocks' batches the digests may hold while earlier blocks are hashed
    /// ([`HOLD_BYTES`](super::digest_relay::HOLD_BYTES)); past them a worker waits for room.
    pub hold_bytes: usize,
}

impl Parallelism {
    fn of_machine() -> Self {
        let workers = crate::ports::system::worker_threads();
        Self {
            block_bytes: BLOCK_BYTES,
            workers,
            guess_bytes: GUESS_BYTES,
            hold_bytes: super::digest_relay::HOLD_BYTES,
        }
    }
}

pub fn ingest_csv(
    upload: &Path,
    normalized: &Path,
    limits: &IngestLimits,
    spool_dir: &Path,
    reading: &CsvReading,
) -> Result<IngestedTable, IngestError> {
    ingest_csv_with(upload, normalized, limits, spool_dir, Parallelism::of_machine(), reading)
}

pub fn ingest_csv_with(
    upload: &Path,
    normalized: &Path,
    limits: &IngestLimits,
    spool_dir: &Path,
    parallelism: Parallelism,
    reading: &CsvReading,
) -> Result<IngestedTable, IngestError> {
    let started = std::time::Instant::now();
    let text = to_utf8_from(upload, spool_dir, reading.encoding)?;
    ingest_text(&text, normalized, limits, parallelism, reading, started)
}

/// Reads a UTF-8 text that may still be being written (a decompressed upload: see
/// [`growing`](super::growing)); what it gives stands only if the text, once finished, is
/// UTF-8 throughout (the caller checks).
pub fn ingest_utf8_text(
    text: &Utf8Text,
    normalized: &Path,
    limits: &IngestLimits,
    reading: &CsvReading,
) -> Result<IngestedTable, IngestError> {
    ingest_utf8_text_with(text, normalized, limits, Parallelism::of_machine(), reading)
}

pub fn ingest_utf8_text_with(
    text: &Utf8Text,
    normalized: &Path,
    limits: &IngestLimits,
    parallelism: Parallelism,
    reading: &CsvReading,
) -> Result<IngestedTable, IngestError> {
    ingest_text(text, normalized, limits, parallelism, reading, std::time::Instant::now())
}

fn ingest_text(
    text: &Utf8Text,
    normalized: &Path,
    limits: &IngestLimits,
    parallelism: Parallelism,
    reading: &CsvReading,
    started: std::time::Instant,
) -> Result<IngestedTable, IngestError> {
    let decoded = started.elapsed();
    let (sample, truncated) = read_sample(text)?;
    if sample.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty);
    }
    let dialect = match &reading.dialect {
        Some(known) => known.clone(),
        None => detect_with(&sample, truncated, reading.delimiter, reading.header),
    };
    tracing::debug!(encoding = text.source_encoding.name(), delimiter = %(dialect.delimiter as char), header = dialect.has_header, "CSV dialect");
    let head = read_head(text, &dialect, limits)?;
    let forced = forced_types(&head.names, &reading.column_types, &reading.dtypes)?;
    let job =
        Job { text, dialect: &dialect, limits, names: &head.names, forced: &forced, markers: reading.markers.clone() };
    let mut blocks = BlockList::cut(&text.file, head.data_start, parallelism.block_bytes).map_err(io)?;
    let first = blocks.get(0).map_err(io)?.ok_or_else(|| IngestError::Io("the text has no first block".into()))?;
    let mut types = guess_types(&job, &first, parallelism.guess_bytes)?;
    let guessed = started.elapsed();
    let (mut passes, mut retyped) = (0, false);
    let (converted, shape) = loop {
        passes += 1;
        // A pass run again with the types the one before inferred is strict: a value not of
        // its column's given type is then refused (before, it may only need other storage).
        let strict = retyped;
        let converted = match convert_pass(&job, &head.names, &types, &blocks, normalized, parallelism, strict)? {
            Pass::Converted(converted) => converted,
            Pass::Unproven => {
                tracing::debug!("a block boundary fell inside a quoted field: reading the text in one block");
                let end = text.file.len().map_err(io)?;
                blocks = BlockList::single(Block { start: head.data_start, end, next_from: end, last: true });
                continue;
            }
        };
        if converted.rows == 0 {
            return Err(IngestError::NoRows);
        }
        let shape = shape_of(&job, &converted.inference);
        if same_storage(&types, &shape.types) && converted.encoded.is_some() {
            break (converted, shape);
        }
        if retyped {
            // This pass converted to the types inferred by the one before: the text differs.
            return Err(IngestError::Io("the file changed while it was being read".into()));
        }
        tracing::debug!("the types inferred over every value differ from the guess: converting again");
        (types, retyped) = (shape.types, true);
    };
    refuse_mixed_given_dates(job.names, job.forced, &converted.inference)?;
    let columns: Vec<ColumnSchema> = head
        .names
        .iter()
        .zip(&shape.types)
        .map(|(name, t)| ColumnSchema { name: name.clone(), dtype: t.dtype })
        .collect();
    let converted_at = started.elapsed();
    let summary = finish_conversion(converted, shape.mixed, normalized, parallelism.workers)?;
    tracing::debug!(
        encoding_ms = decoded.as_millis() as u64,
        guess_ms = (guessed - decoded).as_millis() as u64,
        convert_ms = (converted_at - guessed).as_millis() as u64,
        passes,
        blocks = blocks.known_len(),
        workers = parallelism.workers,
        "CSV ingest phases"
    );
    Ok(IngestedTable {
        format: SourceFormat::CSV,
        content_hash: content_hash(summary.rows, &columns, &summary.column_digests),
        columns,
        row_count: summary.rows,
        normalized_sha256: summary.sha256,
        quality: summary.quality,
        preview: summary.preview,
        evidence: shape.evidence,
    })
}

/// What every block's parse needs.
pub(super) struct Job<'a> {
    text: &'a Utf8Text,
    dialect: &'a Dialect,
    pub(super) limits: &'a IngestLimits,
    pub(super) names: &'a [String],
    /// Each column's given type, if any, and who gave it.
    pub(super) forced: &'a [Option<(ForcedType, GivenBy)>],
    markers: Option<Arc<MissingMarkers>>,
}

impl Job<'_> {
    pub(super) fn width(&self) -> usize {
        self.names.len()
    }

    /// A new inference for each column, reading the upload's missing markers.
    pub(super) fn inferences(&self) -> Vec<ColumnInference> {
        vec![ColumnInference::with_markers(self.markers.clone()); self.width()]
    }

    /// A column's type: the given one, or what its values infer.
    fn column_type(&self, column: usize, inference: &ColumnInference) -> InferredType {
        match self.forced[column] {
            Some((forced, _)) => inference.forced(forced),
            None => inference.decide(),
        }
    }

    fn records_at(&self, offset: u64) -> Result<Records, IngestError> {
        Records::of_text(&self.text.file, offset, self.dialect.delimiter, record_limits(self.limits)).map_err(io)
    }

    pub(super) fn locate(&self, error: ReadError, reader_start: u64) -> IngestError {
        locate(self.text, error, reader_start)
    }
}

/// Why reading records stopped: a refused record, located by where it begins (bytes from the
/// reader's start), or another error.
#[derive(Debug)]
pub(super) enum ReadError {
    Record { byte: u64, reason: String },
    Other(IngestError),
}

impl From<IngestError> for ReadError {
    fn from(e: IngestError) -> Self {
        ReadError::Other(e)
    }
}

/// The [`IngestError`] for a read error of a reader started at `reader_start`: a refused
/// record gets the line of the file where its text begins.
fn locate(text: &Utf8Text, error: ReadError, reader_start: u64) -> IngestError {
    match error {
        ReadError::Other(e) => e,
        ReadError::Record { byte, reason } => match line_at(&text.file, text.skip, reader_start + byte) {
            Ok(line) => IngestError::InvalidAt { line, reason },
            Err(e) => io(e),
        },
    }
}

pub(super) fn at_record(record: &Record<'_>, reason: String) -> ReadError {
    ReadError::Record { byte: record.position(), reason }
}

/// What a record may hold while it is read (see [`IngestLimits::max_row_bytes`]); a header of
/// more columns than the limit but not twice as many is refused with its exact count.
fn record_limits(limits: &IngestLimits) -> RecordLimits {
    RecordLimits { max_fields: limits.max_columns.saturating_mul(2), max_bytes: limits.max_row_bytes }
}

fn record_error(e: RecordError) -> ReadError {
    let record = |byte, reason: String| ReadError::Record { byte, reason };
    match e {
        RecordError::NotUtf8 { byte } => record(byte, "the text is not valid UTF-8".into()),
        RecordError::TooManyFields { byte, max } => record(byte, format!("this row has more than {max} fields")),
        RecordError::TooLong { byte, max } => record(byte, format!("this row is longer than {} MiB", max >> 20)),
        RecordError::Io(e) => IngestError::Io(e.to_string()).into(),
    }
}

fn read_sample(text: &Utf8Text) -> Result<(Vec<u8>, bool), IngestError> {
    let file = text.file.open_at(text.skip).map_err(io)?;
    let mut sample = Vec::with_capacity(SAMPLE_BYTES + 1);
    file.take(SAMPLE_BYTES as u64 + 1).read_to_end(&mut sample).map_err(io)?;
    let truncated = sample.len() > SAMPLE_BYTES;
    sample.truncate(SAMPLE_BYTES);
    Ok((sample, truncated))
}

/// The first record: the column names, and where the data rows begin.
struct Head {
    names: Vec<String>,
    /// Offset of the first data row's record (the header's end, or the text's start).
    data_start: u64,
}

fn read_head(text: &Utf8Text, dialect: &Dialect, limits: &IngestLimits) -> Result<Head, IngestError> {
    read_head_records(text, dialect, limits).map_err(|e| locate(text, e, text.skip))
}

fn read_head_records(text: &Utf8Text, dialect: &Dialect, limits: &IngestLimits) -> Result<Head, ReadError> {
    let mut records = Records::of_text(&text.file, text.skip, dialect.delimiter, record_limits(limits)).map_err(io)?;
    let Some(record) = records.next_record().map_err(record_error)? else {
        return Err(IngestError::Empty.into());
    };
    let width = record.len();
    if width > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: width, max: limits.max_columns }.into());
    }
    check_record(&record, width, limits)?;
    if dialect.has_header {
        let mut header: Vec<String> = record.iter().map(str::to_string).collect();
        if dialect.row_names {
            header.insert(0, ROW_NAMES_COLUMN.to_string());
        }
        let data_start = text.skip + records.consumed();
        Ok(Head { names: column_names(Some(&header), header.len()), data_start })
    } else {
        Ok(Head { names: column_names(None, width), data_start: text.skip })
    }
}

/// What inference over every value decided.
struct Shape {
    types: Vec<InferredType>,
    /// Why each column has its type.
    evidence: Vec<TypeEvidence>,
    /// Text columns whose values mostly fit a non-text type.
    mixed: Vec<MixedColumn>,
}

/// Refuses a record whose width differs from the header's, or with a cell [`refused_cell`]
/// refuses (named by its column's number). (The reader already refused text that is not UTF-8.)
pub(super) fn check_record(record: &Record<'_>, width: usize, limits: &IngestLimits) -> Result<(), ReadError> {
    if record.len() != width {
        return Err(at_record(record, format!("this row has {} fields but the header has {width}", record.len())));
    }
    // The whole record is searched at once (one search for a NUL, not one a cell); the cells
    // are looked at one by one only when it holds something refused.
    let suspect =
        memchr::memchr(0, record.as_bytes()).is_some() || record.iter().any(|cell| cell.len() > limits.max_cell_bytes);
    if suspect
        && let Some((k, reason)) = record.iter().enumerate().find_map(|(k, c)| Some((k, refused_cell(c, limits)?)))
    {
        return Err(at_record(record, format!("the cell in column {} {reason}", k + 1)));
    }
    Ok(())
}

/// Why a cell cannot be stored (`None` when it can): it holds a NUL character, or it is longer
/// than [`IngestLimits::max_cell_bytes`]. The one rule for cells of every text upload:
/// [`check_record`] applies it to a CSV record; the JSON and spreadsheet transcoders to each
/// cell, where they know the cell's place in the upload.
pub(super) fn refused_cell(cell: &str, limits: &IngestLimits) -> Option<String> {
    if memchr::memchr(0, cell.as_bytes()).is_some() {
        return Some("holds a NUL character".into());
    }
    (cell.len() > limits.max_cell_bytes)
        .then(|| format!("is {} bytes long, over the limit of {} bytes a cell", cell.len(), limits.max_cell_bytes))
}

/// Reads the records of `block` (absolute offsets), handing each to `each`, and says how the
/// block ended. Refused records are located from the block's start.
pub(super) fn for_each_record(
    job: &Job<'_>,
    block: &Block,
    mut each: impl FnMut(&Record<'_>) -> Result<(), ReadError>,
) -> Result<BlockEnd, ReadError> {
    let mut records = job.records_at(block.start)?;
    let last = block.last;
    while let Some(record) = records.next_record().map_err(record_error)? {
        if !last && let Some(end) = crossing(block, block.start + record.position()) {
            return Ok(end);
        }
        each(&record)?;
    }
    Ok(if last { BlockEnd::Proven } else { BlockEnd::Unproven })
}

/// The types of the columns over the first `bytes` of the first block (whose start is exact,
/// so a record it refuses is refused for good).
fn guess_types(job: &Job<'_>, first: &Block, bytes: u64) -> Result<Vec<InferredType>, IngestError> {
    let end = first.end.min(first.start.saturating_add(bytes));
    let head = if end == first.end { *first } else { Block { start: first.start, end, next_from: end, last: false } };
    let mut columns = job.inferences();
    for_each_record(job, &head, |record| {
        check_record(record, job.width(), job.limits)?;
        for (inference, cell) in columns.iter_mut().zip(record.iter()) {
            inference.observe(cell);
        }
        Ok(())
    })
    .map_err(|e| job.locate(e, head.start))?;
    Ok(columns.iter().enumerate().map(|(k, inference)| job.column_type(k, inference)).collect())
}

/// Whether columns of types `a` and `b` are stored alike (the same Arrow types: `object` and
/// `category` are both text; day/month dates read in the same order).
fn same_storage(a: &[InferredType], b: &[InferredType]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| arrow_type(a) == arrow_type(b) && a.order == b.order)
}

/// The columns' types over every value, and the text columns of mostly other values (a
/// column given as text is not reported: the uploader said what it is).
fn shape_of(job: &Job<'_>, inferences: &[ColumnInference]) -> Shape {
    let mixed = (job.names.iter().zip(inferences).zip(job.forced))
        .filter(|(_, forced)| forced.is_none())
        .filter_map(|((name, i), _)| i.mixed(name))
        .collect();
    let types: Vec<InferredType> = inferences.iter().enumerate().map(|(k, i)| job.column_type(k, i)).collect();
    let evidence =
        (inferences.iter().zip(&types).zip(job.forced)).map(|((i, t), given)| i.evidence(t, *given)).collect();
    Shape { types, evidence, mixed }
}
