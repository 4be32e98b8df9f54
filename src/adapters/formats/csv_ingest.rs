//! CSV → canonical typed table, in two passes over the (UTF-8) text: the first validates the
//! shape and infers every column's type over all its values; the second converts the cells,
//! checks quality and encodes the normalized Parquet file.
//!
//! Both passes run on every core: the text is cut into blocks of about [`BLOCK_BYTES`] at line
//! feeds (see [`csv_blocks`](super::csv_blocks) for why the cut is exact or not used), each
//! block is parsed by one worker, and the results are merged in block order. Memory is bounded
//! per worker by one block's encoded row group and one record batch, plus the inference state
//! (a few words per column, and at most 51 distinct values per text column) and the quality
//! state (one hash per distinct row).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::csv_blocks::{self, Block, BlockEnd, crossing, line_at, reader_at};
use super::encoding::{Utf8Text, to_utf8};
use super::sink::{
    EncodedRowGroup, ParquetAssembler, RowGroupEncoder, SinkSummary, batch_rows, finish_quality, group_rows,
};
use super::sniff::{Dialect, column_names, detect};
use crate::domain::dtype::{ColumnSchema, DType, TemporalKind};
use crate::domain::inference::MixedColumn;
use crate::domain::inference::{
    ColumnInference, InferredType, IntLiteral, Temporal, is_missing, parse_bool, parse_datetime, parse_float, parse_int,
};
use crate::domain::preview::{PREVIEW_ROWS, PreviewRow, extend_preview};
use crate::domain::quality::QualityAccumulator;
use crate::domain::records::SourceFormat;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// Bytes of text the dialect is detected from.
const SAMPLE_BYTES: usize = 64 * 1024;
/// Bytes of text per block (one block is one unit of parallel work and at least one Parquet
/// row group).
pub const BLOCK_BYTES: u64 = 16 << 20;

fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

/// How the passes are cut and run; [`ingest_csv`] uses [`BLOCK_BYTES`] and every core.
#[derive(Debug, Clone, Copy)]
pub struct Parallelism {
    pub block_bytes: u64,
    pub workers: usize,
}

impl Parallelism {
    fn of_machine() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        Self { block_bytes: BLOCK_BYTES, workers }
    }
}

pub fn ingest_csv(
    upload: &Path,
    normalized: &Path,
    limits: &IngestLimits,
    spool_dir: &Path,
) -> Result<IngestedTable, IngestError> {
    ingest_csv_with(upload, normalized, limits, spool_dir, Parallelism::of_machine())
}

pub fn ingest_csv_with(
    upload: &Path,
    normalized: &Path,
    limits: &IngestLimits,
    spool_dir: &Path,
    parallelism: Parallelism,
) -> Result<IngestedTable, IngestError> {
    let started = std::time::Instant::now();
    let text = to_utf8(upload, spool_dir)?;
    let decoded = started.elapsed();
    let (sample, truncated) = read_sample(&text)?;
    if sample.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty);
    }
    let dialect = detect(&sample, truncated);
    tracing::debug!(encoding = text.source_encoding.name(), delimiter = %(dialect.delimiter as char), header = dialect.has_header, "CSV dialect");
    let head = read_head(&text, &dialect, limits)?;
    let text_end = std::fs::metadata(&text.path).map_err(io)?.len();
    let job = Job { text: &text, dialect: &dialect, limits, width: head.names.len() };
    let blocks = csv_blocks::split(&text.path, head.data_start, text_end, parallelism.block_bytes).map_err(io)?;
    let (shape, blocks) = infer_pass(&job, head.names, blocks, parallelism.workers)?;
    let inferred = started.elapsed();
    let columns: Vec<ColumnSchema> = shape
        .names
        .iter()
        .zip(&shape.types)
        .map(|(name, t)| ColumnSchema { name: name.clone(), dtype: t.dtype })
        .collect();
    let schema = canonical_schema(&shape.names, &shape.types);
    let summary = convert_pass(&job, &shape, &schema, &blocks, normalized, parallelism.workers)?;
    tracing::debug!(
        encoding_ms = decoded.as_millis() as u64,
        infer_ms = (inferred - decoded).as_millis() as u64,
        convert_ms = (started.elapsed() - inferred).as_millis() as u64,
        blocks = blocks.len(),
        workers = parallelism.workers,
        "CSV ingest phases"
    );
    Ok(IngestedTable {
        format: SourceFormat::Csv,
        columns,
        row_count: summary.rows,
        quality: summary.quality,
        preview: summary.preview,
    })
}

/// What every block's parse needs.
struct Job<'a> {
    text: &'a Utf8Text,
    dialect: &'a Dialect,
    limits: &'a IngestLimits,
    width: usize,
}

impl Job<'_> {
    fn reader_at(&self, offset: u64) -> Result<csv::Reader<BufReader<File>>, IngestError> {
        reader_at(&self.text.path, offset, self.dialect).map_err(io)
    }

    fn locate(&self, error: ReadError, reader_start: u64) -> IngestError {
        locate(self.text, error, reader_start)
    }
}

/// Why reading records stopped: a refused record, located by where it begins (bytes from the
/// reader's start), or another error.
#[derive(Debug)]
enum ReadError {
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
        ReadError::Record { byte, reason } => match line_at(&text.path, text.skip, reader_start + byte) {
            Ok(line) => IngestError::InvalidAt { line, reason },
            Err(e) => io(e),
        },
    }
}

fn at_record(record: &csv::StringRecord, reason: String) -> ReadError {
    ReadError::Record { byte: record.position().map_or(0, |p| p.byte()), reason }
}

fn read_sample(text: &Utf8Text) -> Result<(Vec<u8>, bool), IngestError> {
    let mut file = File::open(&text.path).map_err(io)?;
    file.seek(SeekFrom::Start(text.skip)).map_err(io)?;
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
    let mut reader = reader_at(&text.path, text.skip, dialect).map_err(io)?;
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).map_err(csv_error)? {
        return Err(IngestError::Empty.into());
    }
    let width = record.len();
    if width > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: width, max: limits.max_columns }.into());
    }
    check_record(&record, width, limits)?;
    if dialect.has_header {
        let header: Vec<String> = record.iter().map(str::to_string).collect();
        let data_start = text.skip + reader.position().byte();
        Ok(Head { names: column_names(Some(&header), width), data_start })
    } else {
        Ok(Head { names: column_names(None, width), data_start: text.skip })
    }
}

/// What the first pass learned.
struct Shape {
    names: Vec<String>,
    types: Vec<InferredType>,
    /// Text columns whose values mostly fit a non-text type.
    mixed: Vec<MixedColumn>,
}

fn csv_error(e: csv::Error) -> ReadError {
    let byte = e.position().map(|p| p.byte());
    let reason = match e.kind() {
        csv::ErrorKind::Io(io) => return IngestError::Io(io.to_string()).into(),
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match byte {
        Some(byte) => ReadError::Record { byte, reason },
        None => IngestError::Invalid(reason).into(),
    }
}

/// Refuses a record whose width differs from the header's, or that holds a NUL byte or a cell
/// over the size limit. (The reader already refused text that is not UTF-8.)
fn check_record(record: &csv::StringRecord, width: usize, limits: &IngestLimits) -> Result<(), ReadError> {
    if record.len() != width {
        return Err(at_record(record, format!("this row has {} fields but the header has {width}", record.len())));
    }
    if memchr::memchr(0, record.as_byte_record().as_slice()).is_some() {
        return Err(at_record(record, "the row contains a NUL byte".into()));
    }
    if let Some(big) = record.iter().map(str::len).max().filter(|&len| len > limits.max_cell_bytes) {
        return Err(at_record(
            record,
            format!("a cell of {big} bytes exceeds the limit of {} bytes", limits.max_cell_bytes),
        ));
    }
    Ok(())
}

/// Reads the records of `block` (absolute offsets), handing each to `each`, and says how the
/// block ended. Refused records are located from the block's start.
fn for_each_record(
    job: &Job<'_>,
    block: &Block,
    text_end: u64,
    mut each: impl FnMut(&csv::StringRecord) -> Result<(), ReadError>,
) -> Result<BlockEnd, ReadError> {
    let mut reader = job.reader_at(block.start)?;
    let mut record = csv::StringRecord::new();
    let last = block.is_last(text_end);
    while reader.read_record(&mut record).map_err(csv_error)? {
        if !last {
            let start = block.start + record.position().map_or(0, |p| p.byte());
            if let Some(end) = crossing(block, start) {
                return Ok(end);
            }
        }
        each(&record)?;
    }
    Ok(if last { BlockEnd::Proven } else { BlockEnd::Unproven })
}

/// One block's share of the first pass.
struct BlockInference {
    columns: Vec<ColumnInference>,
    rows: u64,
}

fn infer_block(job: &Job<'_>, block: &Block, text_end: u64) -> Result<(BlockInference, BlockEnd), ReadError> {
    let mut out = BlockInference { columns: vec![ColumnInference::default(); job.width], rows: 0 };
    let end = for_each_record(job, block, text_end, |record| {
        check_record(record, job.width, job.limits)?;
        for (inference, cell) in out.columns.iter_mut().zip(record.iter()) {
            inference.observe(cell);
        }
        out.rows += 1;
        Ok(())
    })?;
    Ok((out, end))
}

/// Runs `work` on every block with `workers` threads taking blocks in order; returns the
/// results in block order. After a block fails, blocks after it are not started.
fn run_blocks<T: Send, E: Send>(
    blocks: &[Block],
    workers: usize,
    work: impl Fn(&Block) -> Result<T, E> + Sync,
) -> Vec<Option<Result<T, E>>> {
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let results: Vec<std::sync::Mutex<Option<Result<T, E>>>> =
        blocks.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, blocks.len().max(1)) {
            // A worker that cannot be started leaves its blocks to the others (or, with none,
            // unread: reported as an error).
            let _ = std::thread::Builder::new().name("ingest-typing".into()).spawn_scoped(scope, || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= blocks.len() || k > first_failure.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = work(&blocks[k]);
                    if result.is_err() {
                        first_failure.fetch_min(k, Ordering::Relaxed);
                    }
                    *results[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    results.into_iter().map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner())).collect()
}

/// The first pass over every block; returns the shape and the blocks the second pass may use
/// (the same blocks when every boundary was proven, else one block for the whole text).
fn infer_pass(
    job: &Job<'_>,
    names: Vec<String>,
    blocks: Vec<Block>,
    workers: usize,
) -> Result<(Shape, Vec<Block>), IngestError> {
    let text_end = blocks.last().map_or(0, |b| b.end);
    let results = run_blocks(&blocks, workers, |block| infer_block(job, block, text_end));
    let mut total = BlockInference { columns: vec![ColumnInference::default(); job.width], rows: 0 };
    for (block, result) in blocks.iter().zip(results) {
        match result {
            Some(Ok((part, end))) => {
                total.rows += part.rows;
                total.columns.iter_mut().zip(&part.columns).for_each(|(t, p)| t.merge(p));
                if end == BlockEnd::Unproven {
                    return sequential_infer(job, names, text_end, blocks[0].start);
                }
            }
            // Every block before this one ended where the next began: the error is real.
            Some(Err(e)) => return Err(job.locate(e, block.start)),
            None => return Err(IngestError::Io("a block of the first pass was not read".into())),
        }
    }
    if total.rows == 0 {
        return Err(IngestError::NoRows);
    }
    Ok((shape_of(names, &total.columns), blocks))
}

/// The first pass as one block (when a guessed boundary fell inside a quoted field).
fn sequential_infer(
    job: &Job<'_>,
    names: Vec<String>,
    text_end: u64,
    data_start: u64,
) -> Result<(Shape, Vec<Block>), IngestError> {
    tracing::debug!("a block boundary fell inside a quoted field: reading the text in one block");
    let whole = Block { start: data_start, end: text_end, next_from: text_end };
    let (total, _) = infer_block(job, &whole, text_end).map_err(|e| job.locate(e, whole.start))?;
    if total.rows == 0 {
        return Err(IngestError::NoRows);
    }
    Ok((shape_of(names, &total.columns), vec![whole]))
}

fn shape_of(names: Vec<String>, inferences: &[ColumnInference]) -> Shape {
    let mixed = names.iter().zip(inferences).filter_map(|(name, i)| i.mixed(name)).collect();
    Shape { types: inferences.iter().map(ColumnInference::decide).collect(), names, mixed }
}

/// The canonical Arrow schema for the inferred types (every column nullable).
fn canonical_schema(names: &[String], types: &[InferredType]) -> SchemaRef {
    let fields: Vec<Field> = names.iter().zip(types).map(|(name, t)| Field::new(name, arrow_type(t), true)).collect();
    Arc::new(Schema::new(fields))
}

fn arrow_type(t: &InferredType) -> DataType {
    match t.dtype {
        DType::Int64 => DataType::Int64,
        DType::Float64 => DataType::Float64,
        DType::Bool => DataType::Boolean,
        DType::Datetime64 => t.temporal.unwrap_or(TemporalKind::Naive).arrow_type(),
        DType::Object | DType::Category => DataType::Utf8,
    }
}

enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
}

impl ColumnBuilder {
    fn new(t: &InferredType, capacity: usize) -> Self {
        match (t.dtype, t.temporal) {
            (DType::Int64, _) => Self::Int(Int64Builder::with_capacity(capacity)),
            (DType::Float64, _) => Self::Float(Float64Builder::with_capacity(capacity)),
            (DType::Bool, _) => Self::Bool(BooleanBuilder::with_capacity(capacity)),
            (DType::Datetime64, Some(TemporalKind::Date)) => Self::Date(Date32Builder::with_capacity(capacity)),
            (DType::Datetime64, kind) => {
                let builder = TimestampMicrosecondBuilder::with_capacity(capacity);
                Self::Timestamp(if kind == Some(TemporalKind::Utc) { builder.with_timezone("UTC") } else { builder })
            }
            (DType::Object | DType::Category, _) => Self::Text(StringBuilder::with_capacity(capacity, capacity * 8)),
        }
    }

    /// Appends one cell; the first pass guarantees that every non-missing cell parses.
    fn append(&mut self, cell: &str, record: &csv::StringRecord) -> Result<(), ReadError> {
        if is_missing(cell) {
            match self {
                Self::Int(b) => b.append_null(),
                Self::Float(b) => b.append_null(),
                Self::Bool(b) => b.append_null(),
                Self::Date(b) => b.append_null(),
                Self::Timestamp(b) => b.append_null(),
                Self::Text(b) => b.append_null(),
            }
            return Ok(());
        }
        let changed = || at_record(record, "the file changed while it was being read".into());
        match self {
            Self::Int(b) => match parse_int(cell) {
                IntLiteral::Value(v) => b.append_value(v),
                _ => return Err(changed()),
            },
            Self::Float(b) => b.append_value(parse_float(cell).ok_or_else(changed)?),
            Self::Bool(b) => b.append_value(parse_bool(cell).ok_or_else(changed)?),
            Self::Date(b) => match parse_datetime(cell) {
                Some((_, Temporal::Date(d))) => b.append_value(d),
                _ => return Err(changed()),
            },
            Self::Timestamp(b) => match parse_datetime(cell) {
                Some((_, Temporal::Micros(t))) => b.append_value(t),
                _ => return Err(changed()),
            },
            Self::Text(b) => b.append_value(cell),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int(b) => Arc::new(b.finish()),
            Self::Float(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
        }
    }
}

/// What one worker of the second pass keeps across its blocks.
struct ConvertWorker<'a> {
    job: &'a Job<'a>,
    shape: &'a Shape,
    schema: &'a SchemaRef,
    quality: QualityAccumulator,
}

/// One block converted: its encoded row groups and its first rows (for the preview).
type ConvertedBlock = (Vec<EncodedRowGroup>, Vec<PreviewRow>);

impl ConvertWorker<'_> {
    /// Converts one block into its encoded row groups.
    fn block(
        &mut self,
        encoder: &RowGroupEncoder,
        block: &Block,
        text_end: u64,
    ) -> Result<ConvertedBlock, IngestError> {
        let per_batch = batch_rows(self.shape.names.len());
        let rows_per_group = group_rows(self.shape.names.len());
        let mut builders: Vec<ColumnBuilder> =
            self.shape.types.iter().map(|t| ColumnBuilder::new(t, per_batch)).collect();
        let mut groups = Vec::new();
        let mut group = encoder.row_group()?;
        let mut pending = 0usize;
        let schema = self.schema;
        let flush = |builders: &mut Vec<ColumnBuilder>| -> Result<RecordBatch, IngestError> {
            let columns: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
            RecordBatch::try_new(Arc::clone(schema), columns)
                .map_err(|e| IngestError::Io(format!("building a record batch: {e}")))
        };
        let quality = &mut self.quality;
        let mut preview = Vec::new();
        let mut emit = |batch: RecordBatch, group: &mut super::sink::RowGroupWriter| -> Result<(), IngestError> {
            quality.observe(&batch);
            extend_preview(&mut preview, &batch, PREVIEW_ROWS);
            group.write(&batch)
        };
        for_each_record(self.job, block, text_end, |record| {
            if record.len() != builders.len() {
                return Err(at_record(record, "the file changed while it was being read".into()));
            }
            for (builder, cell) in builders.iter_mut().zip(record.iter()) {
                builder.append(cell, record)?;
            }
            pending += 1;
            if pending == per_batch {
                emit(flush(&mut builders)?, &mut group)?;
                pending = 0;
                if group.rows() >= rows_per_group {
                    groups.push(std::mem::replace(&mut group, encoder.row_group()?).finish()?);
                }
            }
            Ok(())
        })
        .map_err(|e| self.job.locate(e, block.start))?;
        if pending > 0 {
            emit(flush(&mut builders)?, &mut group)?;
        }
        if group.rows() > 0 {
            groups.push(group.finish()?);
        }
        Ok((groups, preview))
    }
}

/// The second pass: `workers` threads convert and encode the blocks (block k on worker
/// k mod workers) while this thread writes their row groups to `normalized` in block order.
fn convert_pass(
    job: &Job<'_>,
    shape: &Shape,
    schema: &SchemaRef,
    blocks: &[Block],
    normalized: &Path,
    workers: usize,
) -> Result<SinkSummary, IngestError> {
    let workers = workers.clamp(1, blocks.len().max(1));
    let text_end = blocks.last().map_or(0, |b| b.end);
    let dictionary: Vec<String> = shape
        .names
        .iter()
        .zip(&shape.types)
        .filter(|(_, t)| t.dtype == DType::Category)
        .map(|(name, _)| name.clone())
        .collect();
    let mut assembler = ParquetAssembler::create(normalized, Arc::clone(schema), &dictionary)?;
    let encoder = assembler.encoder();
    let columns = || schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone()));
    let (parts, written) = std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<ConvertedBlock, IngestError>>(1);
            receivers.push(receiver);
            let encoder = &encoder;
            let mut worker = ConvertWorker { job, shape, schema, quality: QualityAccumulator::new(columns()) };
            let spawned = std::thread::Builder::new().name("ingest-convert".into()).spawn_scoped(scope, move || {
                let (mut busy, mut waiting) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
                for k in (w..blocks.len()).step_by(workers) {
                    let t = std::time::Instant::now();
                    let result = worker.block(encoder, &blocks[k], text_end);
                    busy += t.elapsed();
                    let failed = result.is_err();
                    let t = std::time::Instant::now();
                    let sent = sender.send(result);
                    waiting += t.elapsed();
                    if sent.is_err() || failed {
                        break;
                    }
                }
                tracing::debug!(
                    worker = w,
                    busy_ms = busy.as_millis() as u64,
                    waiting_ms = waiting.as_millis() as u64,
                    "conversion worker"
                );
                worker.quality
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => return (Vec::new(), Err(IngestError::Io(format!("cannot start a conversion worker: {e}")))),
            }
        }
        let written = (|| {
            let mut preview: Vec<PreviewRow> = Vec::with_capacity(PREVIEW_ROWS);
            for k in 0..blocks.len() {
                let (groups, first_rows) = receivers[k % workers]
                    .recv()
                    .map_err(|_| IngestError::Io("a conversion worker stopped".into()))??;
                for group in groups {
                    assembler.append(group)?;
                }
                let wanted = PREVIEW_ROWS - preview.len();
                preview.extend(first_rows.into_iter().take(wanted));
            }
            Ok::<_, IngestError>(preview)
        })();
        // Dropping the receivers stops workers still sending after a failure.
        drop(receivers);
        let parts: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        (parts, written)
    });
    let preview = written?;
    let encoded_at = std::time::Instant::now();
    let mut quality = QualityAccumulator::new(columns());
    for part in parts {
        quality.merge(part.map_err(|_| IngestError::Io("a conversion worker failed".into()))?);
    }
    assembler.close()?;
    let rows = quality.rows();
    let merged_at = std::time::Instant::now();
    let quality = finish_quality(normalized, schema, quality, shape.mixed.clone(), workers)?;
    tracing::debug!(
        merge_ms = (merged_at - encoded_at).as_millis() as u64,
        outliers_ms = merged_at.elapsed().as_millis() as u64,
        "CSV conversion phases"
    );
    Ok(SinkSummary { rows, quality, preview })
}
