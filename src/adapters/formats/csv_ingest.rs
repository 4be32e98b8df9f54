//! CSV → canonical typed table, in two streaming passes over the (UTF-8) text: the first
//! validates the shape and infers every column's type over all its values; the second converts
//! the cells and feeds the [`CanonicalSink`]. Memory is bounded by one record batch plus the
//! inference state (a few words per column, and at most 51 distinct values per text column).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::encoding::{Utf8Text, to_utf8};
use super::sink::{CanonicalSink, batch_rows};
use super::sniff::{Dialect, column_names, detect};
use crate::domain::dtype::{ColumnSchema, DType, TemporalKind};
use crate::domain::inference::MixedColumn;
use crate::domain::inference::{
    ColumnInference, InferredType, IntLiteral, Temporal, is_missing, parse_bool, parse_datetime, parse_float, parse_int,
};
use crate::domain::records::SourceFormat;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// A long ingest logs its progress at most this often.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Logs rows parsed and bytes read at a bounded rate (every [`PROGRESS_INTERVAL`] at most;
/// the clock is read once every 65,536 rows).
struct Progress {
    phase: &'static str,
    last: std::time::Instant,
}

impl Progress {
    fn new(phase: &'static str) -> Self {
        Self { phase, last: std::time::Instant::now() }
    }

    fn tick(&mut self, rows: u64, record: &csv::ByteRecord) {
        if rows % 65_536 == 0 && self.last.elapsed() >= PROGRESS_INTERVAL {
            self.last = std::time::Instant::now();
            let bytes_read = record.position().map_or(0, |p| p.byte());
            tracing::info!(phase = self.phase, rows, bytes_read, "ingest progress");
        }
    }
}

/// Bytes of text the dialect is detected from.
const SAMPLE_BYTES: usize = 64 * 1024;
const READ_BUFFER: usize = 1 << 20;

fn io(e: std::io::Error) -> IngestError {
    IngestError::Io(e.to_string())
}

pub fn ingest_csv(
    upload: &Path,
    normalized: &Path,
    limits: &IngestLimits,
    spool_dir: &Path,
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
    let shape = infer_pass(&text, &dialect, limits)?;
    let inferred = started.elapsed();
    let columns: Vec<ColumnSchema> = shape
        .names
        .iter()
        .zip(&shape.types)
        .map(|(name, t)| ColumnSchema { name: name.clone(), dtype: t.dtype })
        .collect();
    let schema = canonical_schema(&shape.names, &shape.types);
    let mut sink = CanonicalSink::create(normalized, Arc::clone(&schema))?;
    convert_pass(&text, &dialect, &shape, &schema, &mut sink)?;
    let converted = started.elapsed();
    let summary = sink.finish(shape.mixed.clone())?;
    tracing::debug!(
        encoding_ms = decoded.as_millis() as u64,
        infer_ms = (inferred - decoded).as_millis() as u64,
        convert_ms = (converted - inferred).as_millis() as u64,
        quality_ms = (started.elapsed() - converted).as_millis() as u64,
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

fn open_text(text: &Utf8Text) -> Result<BufReader<File>, IngestError> {
    let mut file = File::open(&text.path).map_err(io)?;
    file.seek(SeekFrom::Start(text.skip)).map_err(io)?;
    Ok(BufReader::with_capacity(READ_BUFFER, file))
}

fn read_sample(text: &Utf8Text) -> Result<(Vec<u8>, bool), IngestError> {
    let mut reader = open_text(text)?.take(SAMPLE_BYTES as u64 + 1);
    let mut sample = Vec::with_capacity(SAMPLE_BYTES + 1);
    reader.read_to_end(&mut sample).map_err(io)?;
    let truncated = sample.len() > SAMPLE_BYTES;
    sample.truncate(SAMPLE_BYTES);
    Ok((sample, truncated))
}

fn csv_reader(text: &Utf8Text, dialect: &Dialect) -> Result<csv::Reader<BufReader<File>>, IngestError> {
    Ok(csv::ReaderBuilder::new()
        .delimiter(dialect.delimiter)
        .has_headers(false)
        .flexible(true)
        .double_quote(true)
        .buffer_capacity(READ_BUFFER)
        .from_reader(open_text(text)?))
}

/// What the first pass learned.
struct Shape {
    names: Vec<String>,
    types: Vec<InferredType>,
    /// Text columns whose values mostly fit a non-text type.
    mixed: Vec<MixedColumn>,
}

fn csv_error(e: csv::Error) -> IngestError {
    let line = e.position().map(|p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::Io(io) => return IngestError::Io(io.to_string()),
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match line {
        Some(line) => IngestError::InvalidAt { line, reason },
        None => IngestError::Invalid(reason),
    }
}

fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

fn check_record(record: &csv::ByteRecord, width: usize, limits: &IngestLimits) -> Result<(), IngestError> {
    let line = line_of(record);
    if record.len() != width {
        return Err(IngestError::InvalidAt {
            line,
            reason: format!("this row has {} fields but the header has {width}", record.len()),
        });
    }
    if memchr::memchr(0, record.as_slice()).is_some() {
        return Err(IngestError::InvalidAt { line, reason: "the row contains a NUL byte".into() });
    }
    if let Some(big) = record.iter().map(<[u8]>::len).max().filter(|&len| len > limits.max_cell_bytes) {
        return Err(IngestError::InvalidAt {
            line,
            reason: format!("a cell of {big} bytes exceeds the limit of {} bytes", limits.max_cell_bytes),
        });
    }
    Ok(())
}

fn field_str(record: &csv::ByteRecord, i: usize) -> Result<&str, IngestError> {
    std::str::from_utf8(&record[i])
        .map_err(|_| IngestError::InvalidAt { line: line_of(record), reason: "the text is not valid UTF-8".into() })
}

fn infer_pass(text: &Utf8Text, dialect: &Dialect, limits: &IngestLimits) -> Result<Shape, IngestError> {
    let mut reader = csv_reader(text, dialect)?;
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(IngestError::Empty);
    }
    let width = record.len();
    if width > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: width, max: limits.max_columns });
    }
    check_record(&record, width, limits)?;
    let mut inferences = vec![ColumnInference::default(); width];
    let names = if dialect.has_header {
        let header: Vec<String> =
            (0..width).map(|i| field_str(&record, i).map(str::to_string)).collect::<Result<_, _>>()?;
        column_names(Some(&header), width)
    } else {
        observe(&record, &mut inferences)?;
        column_names(None, width)
    };
    let mut rows = u64::from(!dialect.has_header);
    let mut progress = Progress::new("typing");
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        check_record(&record, width, limits)?;
        observe(&record, &mut inferences)?;
        rows += 1;
        progress.tick(rows, &record);
    }
    if rows == 0 {
        return Err(IngestError::NoRows);
    }
    let mixed = names.iter().zip(&inferences).filter_map(|(name, i)| i.mixed(name)).collect();
    Ok(Shape { types: inferences.iter().map(ColumnInference::decide).collect(), names, mixed })
}

fn observe(record: &csv::ByteRecord, inferences: &mut [ColumnInference]) -> Result<(), IngestError> {
    for (i, inference) in inferences.iter_mut().enumerate() {
        inference.observe(field_str(record, i)?);
    }
    Ok(())
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
    fn append(&mut self, cell: &str, line: u64) -> Result<(), IngestError> {
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
        let changed = || IngestError::InvalidAt { line, reason: "the file changed while it was being read".into() };
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

fn convert_pass(
    text: &Utf8Text,
    dialect: &Dialect,
    shape: &Shape,
    schema: &SchemaRef,
    sink: &mut CanonicalSink,
) -> Result<(), IngestError> {
    // Parsing runs on this thread while the sink (quality checks, Parquet encoding) runs on
    // another; two batches in flight bound the memory.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<(), IngestError> {
            for batch in receiver {
                sink.write(&batch)?;
            }
            Ok(())
        });
        let parsed = parse_batches(text, dialect, shape, schema, |batch| sender.send(batch).is_ok());
        drop(sender);
        let written = writer.join().unwrap_or_else(|_| Err(IngestError::Io("the Parquet writer thread failed".into())));
        // A writer error stops the parser (its sends fail), so report the writer's error first.
        written.and(parsed)
    })
}

/// Parses the records into batches and hands each to `emit`, which answers false to stop.
fn parse_batches(
    text: &Utf8Text,
    dialect: &Dialect,
    shape: &Shape,
    schema: &SchemaRef,
    mut emit: impl FnMut(RecordBatch) -> bool,
) -> Result<(), IngestError> {
    let mut reader = csv_reader(text, dialect)?;
    let mut record = csv::ByteRecord::new();
    if dialect.has_header {
        reader.read_byte_record(&mut record).map_err(csv_error)?;
    }
    let per_batch = batch_rows(shape.names.len());
    let mut builders: Vec<ColumnBuilder> = shape.types.iter().map(|t| ColumnBuilder::new(t, per_batch)).collect();
    let mut pending = 0usize;
    let mut rows = 0u64;
    let mut progress = Progress::new("converting");
    let flush = |builders: &mut Vec<ColumnBuilder>| -> Result<RecordBatch, IngestError> {
        let columns: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
        RecordBatch::try_new(Arc::clone(schema), columns)
            .map_err(|e| IngestError::Io(format!("building a record batch: {e}")))
    };
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = line_of(&record);
        if record.len() != builders.len() {
            return Err(IngestError::InvalidAt { line, reason: "the file changed while it was being read".into() });
        }
        for (i, builder) in builders.iter_mut().enumerate() {
            builder.append(field_str(&record, i)?, line)?;
        }
        pending += 1;
        rows += 1;
        progress.tick(rows, &record);
        if pending == per_batch {
            if !emit(flush(&mut builders)?) {
                return Ok(());
            }
            pending = 0;
        }
    }
    if pending > 0 {
        emit(flush(&mut builders)?);
    }
    Ok(())
}
