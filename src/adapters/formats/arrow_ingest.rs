//! Arrow IPC (file, stream, and Feather v2, which is the file format) → canonical typed table,
//! converted as [`arrow_table`](super::arrow_table) says.
//!
//! Arrow's reader trusts the lengths a file declares: it allocates a message's whole body,
//! and each compressed buffer's declared uncompressed size, before reading them. So the
//! messages are walked first ([`check_messages`]) and every declared length is checked against
//! the file: metadata and bodies must lie inside it, the uncompressed sizes declared by all
//! compressed buffers together may add up to at most `MAX_DECOMPRESSED_BYTES` and, past 16 MiB,
//! `MAX_DECOMPRESSION_RATIO` times the file, and the record batches together may claim no more
//! rows than [`plausible_rows`](super::arrow_table::plausible_rows) of the file's size with its
//! compressed buffers counted at their declared size. Then the stream is read with
//! Arrow's reader (which validates every array). An IPC file is its stream between a magic (padded to
//! 8 or 64 bytes) and a footer; it is read as that stream, so the footer's own offsets are
//! never followed.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arrow::ipc::reader::StreamReader;

use super::arrow_table::{self, TypedInput};
use crate::domain::records::{SourceFormat, TableFormat};
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// An Arrow IPC file begins with `ARROW1` and zero padding to the writer's alignment (8 bytes
/// in the format's description; arrow-rs pads to 64) before its stream.
const FILE_MAGIC: &[u8; 6] = b"ARROW1";
const MAX_FILE_HEADER: u64 = 64;
/// A message (since Arrow 0.15) begins with this marker and its metadata's length.
const CONTINUATION: [u8; 4] = [0xFF; 4];
/// Feather v1 (before Arrow 0.17) begins with these bytes.
const FEATHER_V1_MAGIC: &[u8; 4] = b"FEA1";
/// Longest metadata of one message: a schema of the column limit's fields fits many times.
const MAX_METADATA_BYTES: usize = 64 << 20;
/// Uncompressed bytes allowed before the ratio guard applies (as for compressed uploads).
const RATIO_GRACE_BYTES: u64 = 16 << 20;

fn input(format: TableFormat) -> TypedInput {
    let label = if format == TableFormat::ArrowFile { "Arrow IPC" } else { "Arrow IPC stream" };
    TypedInput { label, format: SourceFormat { table: format, compression: None } }
}

/// The Arrow format whose first bytes are `head`: a file by its magic, a stream by a first
/// message marker and a plausible metadata length, whose metadata (when `head` holds it
/// whole) is a schema. (A larger schema is checked when the messages are walked.)
pub fn detect(head: &[u8]) -> Option<TableFormat> {
    if head.starts_with(FILE_MAGIC) {
        return Some(TableFormat::ArrowFile);
    }
    let rest = head.strip_prefix(&CONTINUATION)?;
    let length = usize::try_from(i32::from_le_bytes(rest.get(..4)?.try_into().ok()?)).ok()?;
    if length == 0 || length > MAX_METADATA_BYTES {
        return None;
    }
    match rest.get(4..4 + length) {
        Some(metadata) => {
            arrow::ipc::root_as_message(metadata).ok()?.header_as_schema().map(|_| TableFormat::ArrowStream)
        }
        None => Some(TableFormat::ArrowStream),
    }
}

/// True for a Feather v1 file, which this server does not read.
pub fn is_feather_v1(head: &[u8]) -> bool {
    head.starts_with(FEATHER_V1_MAGIC)
}

pub fn ingest_arrow(
    upload: &Path,
    format: TableFormat,
    normalized: &Path,
    limits: &IngestLimits,
) -> Result<IngestedTable, IngestError> {
    let input = input(format);
    let io = |e: std::io::Error| IngestError::Io(e.to_string());
    let mut file = File::open(upload).map_err(io)?;
    let file_size = file.metadata().map_err(io)?.len();
    let start = match format {
        TableFormat::ArrowFile => {
            if !ends_with_magic(&mut file, file_size).map_err(io)? {
                return Err(input.invalid("the file does not end with its magic bytes: it is truncated"));
            }
            stream_start(&mut file).map_err(io)?.ok_or_else(|| input.invalid("no stream follows the magic bytes"))?
        }
        _ => 0,
    };
    check_messages(&mut file, start, file_size, limits).map_err(|e| match e {
        Checked::Invalid(reason) => input.invalid(reason),
        Checked::TooLarge(reason) => IngestError::TooLarge(reason),
        Checked::Io(e) => io(e),
    })?;
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let reader = StreamReader::try_new(BufReader::new(file), None).map_err(|e| input.invalid(e))?;
    let schema = reader.schema();
    if schema.fields().len() > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: schema.fields().len(), max: limits.max_columns });
    }
    if schema.fields().is_empty() {
        return Err(IngestError::Empty);
    }
    let batches = reader.map(|batch| batch.map_err(|e| e.to_string()));
    arrow_table::ingest_batches(&schema, batches, normalized, input)
}

/// Why [`check_messages`] refused a file.
#[derive(Debug)]
enum Checked {
    Invalid(String),
    TooLarge(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Checked {
    fn from(e: std::io::Error) -> Self {
        Checked::Io(e)
    }
}

/// Walks the messages of the stream that begins at `start`, up to its end marker (a file that
/// ends before it is truncated: refused, rather than read in part), and checks every length
/// they declare against the file (see the module's documentation).
fn check_messages(file: &mut File, start: u64, file_size: u64, limits: &IngestLimits) -> Result<(), Checked> {
    let invalid = |reason: &str| Checked::Invalid(reason.to_string());
    let mut budget = Budget {
        file_size,
        rows: 0,
        declared: 0,
        // As for compressed uploads: the size limit, and the ratio past the first 16 MiB.
        max_declared: limits
            .max_decompressed_bytes
            .min(file_size.saturating_mul(limits.max_expansion_ratio).max(RATIO_GRACE_BYTES)),
    };
    let mut at = start;
    let mut metadata = Vec::new();
    let truncated = || invalid("the file ends before the stream's end marker: it is truncated");
    loop {
        let word = read_word(file, at, file_size)?.ok_or_else(truncated)?;
        at += 4;
        let length = if word == CONTINUATION {
            let length = read_word(file, at, file_size)?.ok_or_else(truncated)?;
            at += 4;
            i32::from_le_bytes(length)
        } else {
            // Streams written before Arrow 0.15 have no marker.
            i32::from_le_bytes(word)
        };
        if length == 0 {
            return Ok(());
        }
        let length = usize::try_from(length).map_err(|_| invalid("a message has a negative length"))?;
        if length > MAX_METADATA_BYTES || at + length as u64 > file_size {
            return Err(invalid("a message's metadata lies outside the file"));
        }
        metadata.resize(length, 0);
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut metadata)?;
        at += length as u64;
        let message = arrow::ipc::root_as_message(&metadata)
            .map_err(|e| Checked::Invalid(format!("a message's metadata cannot be read: {e}")))?;
        let body = u64::try_from(message.bodyLength()).map_err(|_| invalid("a message has a negative body"))?;
        if at.checked_add(body).is_none_or(|end| end > file_size) {
            return Err(invalid("a message's body lies outside the file"));
        }
        if let Some(batch) = message.header_as_record_batch() {
            check_batch(file, &batch, at, body, &mut budget, true)?;
        } else if let Some(batch) = message.header_as_dictionary_batch().and_then(|d| d.data()) {
            check_batch(file, &batch, at, body, &mut budget, false)?;
        }
        at += body;
    }
}

/// What a file's batches have claimed so far: the rows of its record batches, and the
/// uncompressed bytes its compressed buffers declare.
struct Budget {
    file_size: u64,
    rows: u64,
    declared: u64,
    max_declared: u64,
}

impl Budget {
    /// The most rows the file may hold: as for a Parquet file of its size, its compressed
    /// buffers counted at their declared uncompressed size.
    fn max_rows(&self) -> u64 {
        arrow_table::plausible_rows(self.file_size.saturating_add(self.declared))
    }
}

/// Checks one record (or dictionary) batch whose body of `body` bytes begins at
/// `body_start`, and adds what it claims to `budget`.
fn check_batch(
    file: &mut File,
    batch: &arrow::ipc::RecordBatch<'_>,
    body_start: u64,
    body: u64,
    budget: &mut Budget,
    record: bool,
) -> Result<(), Checked> {
    let buffers: Vec<(u64, u64)> = batch
        .buffers()
        .into_iter()
        .flat_map(|buffers| buffers.iter())
        .map(|b| Some((u64::try_from(b.offset()).ok()?, u64::try_from(b.length()).ok()?)))
        .collect::<Option<_>>()
        .ok_or_else(|| Checked::Invalid("a buffer has a negative offset or length".into()))?;
    if buffers.iter().any(|&(offset, length)| offset.checked_add(length).is_none_or(|end| end > body)) {
        return Err(Checked::Invalid("a buffer lies outside its message's body".into()));
    }
    if batch.compression().is_some() {
        // A compressed buffer begins with its uncompressed length (-1: stored uncompressed).
        for &(offset, length) in &buffers {
            if length < 8 {
                continue;
            }
            let mut prefix = [0u8; 8];
            file.seek(SeekFrom::Start(body_start + offset))?;
            file.read_exact(&mut prefix)?;
            let size = i64::from_le_bytes(prefix);
            if size < -1 {
                return Err(Checked::Invalid("a compressed buffer declares a negative length".into()));
            }
            budget.declared = budget.declared.saturating_add(size.max(0) as u64);
            if budget.declared > budget.max_declared {
                return Err(Checked::TooLarge(
                    "the Arrow file's compressed buffers declare more bytes uncompressed than MAX_DECOMPRESSED_BYTES, or than MAX_DECOMPRESSION_RATIO times its size".into(),
                ));
            }
        }
    }
    let implausible = || Checked::Invalid("the batches claim more rows than a file of this size can hold".into());
    let max_rows = budget.max_rows();
    let rows = u64::try_from(batch.length()).map_err(|_| implausible())?;
    let nodes = batch.nodes().into_iter().flat_map(|nodes| nodes.iter());
    if rows > max_rows || nodes.map(|n| n.length()).any(|n| n < 0 || n as u64 > max_rows) {
        return Err(implausible());
    }
    if record {
        budget.rows = budget.rows.saturating_add(rows);
        if budget.rows > max_rows {
            return Err(implausible());
        }
    }
    Ok(())
}

/// Where the stream of an Arrow IPC file begins: the first message marker after the magic
/// and its zero padding, at a multiple of 8 bytes up to [`MAX_FILE_HEADER`].
fn stream_start(file: &mut File) -> std::io::Result<Option<u64>> {
    let mut head = Vec::with_capacity(MAX_FILE_HEADER as usize + 4);
    file.seek(SeekFrom::Start(0))?;
    file.take(MAX_FILE_HEADER + 4).read_to_end(&mut head)?;
    let magic = FILE_MAGIC.len();
    for at in (8..=MAX_FILE_HEADER as usize).step_by(8) {
        let Some(padding) = head.get(magic..at) else { return Ok(None) };
        if padding.iter().any(|&b| b != 0) {
            return Ok(None);
        }
        if head.get(at..at + 4) == Some(&CONTINUATION[..]) {
            return Ok(Some(at as u64));
        }
    }
    Ok(None)
}

/// True when the file ends with [`FILE_MAGIC`], as a whole Arrow IPC file does.
fn ends_with_magic(file: &mut File, file_size: u64) -> std::io::Result<bool> {
    if file_size < 8 + FILE_MAGIC.len() as u64 {
        return Ok(false);
    }
    let mut tail = [0u8; 6];
    file.seek(SeekFrom::End(-(FILE_MAGIC.len() as i64)))?;
    file.read_exact(&mut tail)?;
    Ok(&tail == FILE_MAGIC)
}

/// The four bytes at `at`, or `None` at the end of the file.
fn read_word(file: &mut File, at: u64, file_size: u64) -> Result<Option<[u8; 4]>, Checked> {
    if at + 4 > file_size {
        return Ok(None);
    }
    let mut word = [0u8; 4];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut word)?;
    Ok(Some(word))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, Int32Array, RecordBatch, StringArray,
        TimestampNanosecondArray,
    };
    use arrow::datatypes::{Int8Type, Schema};
    use arrow::ipc::CompressionType;
    use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};

    use super::*;
    use crate::domain::dtype::DType;

    fn table() -> RecordBatch {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
            ("score", Arc::new(Float32Array::from(vec![Some(0.5), None, Some(f32::NAN), Some(2.0)]))),
            ("ok", Arc::new(BooleanArray::from(vec![true, false, true, true]))),
            ("day", Arc::new(Date32Array::from(vec![0, 1, 2, 19_000]))),
            (
                "at",
                Arc::new(TimestampNanosecondArray::from(vec![0, 1_000, 2_000_000, 3]).with_timezone("Europe/Paris")),
            ),
            (
                "city",
                Arc::new(
                    vec![Some("Paris"), Some("Paris"), None, Some("Paris")]
                        .into_iter()
                        .collect::<DictionaryArray<Int8Type>>(),
                ),
            ),
            ("note", Arc::new(StringArray::from(vec!["a", "b", "c", "d"]))),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn options(compression: Option<CompressionType>) -> IpcWriteOptions {
        IpcWriteOptions::default().try_with_compression(compression).unwrap()
    }

    fn file_bytes(compression: Option<CompressionType>) -> Vec<u8> {
        let batch = table();
        let mut writer = FileWriter::try_new_with_options(Vec::new(), &batch.schema(), options(compression)).unwrap();
        writer.write(&batch).unwrap();
        writer.write(&batch).unwrap();
        writer.into_inner().unwrap()
    }

    fn stream_bytes(compression: Option<CompressionType>) -> Vec<u8> {
        let batch = table();
        let mut writer = StreamWriter::try_new_with_options(Vec::new(), &batch.schema(), options(compression)).unwrap();
        writer.write(&batch).unwrap();
        writer.into_inner().unwrap()
    }

    fn ingest(bytes: &[u8], limits: &IngestLimits) -> Result<IngestedTable, IngestError> {
        ingest_with_nulls(bytes, limits).map(|(table, _)| table)
    }

    /// The table, and the missing values of each column of its normalized file.
    fn ingest_with_nulls(bytes: &[u8], limits: &IngestLimits) -> Result<(IngestedTable, Vec<usize>), IngestError> {
        let dir = tempfile::tempdir().unwrap();
        let upload = dir.path().join("upload");
        std::fs::write(&upload, bytes).unwrap();
        let format = detect(bytes).expect("an Arrow file or stream");
        let normalized = dir.path().join("normalized.parquet");
        let table = ingest_arrow(&upload, format, &normalized, limits)?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            std::fs::File::open(&normalized).unwrap(),
            1024,
        )
        .unwrap();
        let mut nulls = vec![0; table.columns.len()];
        for batch in reader {
            for (n, column) in nulls.iter_mut().zip(batch.unwrap().columns()) {
                *n += column.null_count();
            }
        }
        Ok((table, nulls))
    }

    /// Where each record batch message of a stream that begins at `start` begins, where its
    /// body begins, and its buffers (offset, length).
    fn batch_messages(bytes: &[u8], start: usize) -> Vec<(usize, usize, Vec<(usize, usize)>)> {
        let mut at = start;
        let mut found = Vec::new();
        loop {
            assert_eq!(bytes[at..at + 4], CONTINUATION);
            let length = i32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            if length == 0 {
                return found;
            }
            let message = arrow::ipc::root_as_message(&bytes[at + 8..at + 8 + length]).unwrap();
            let body_start = at + 8 + length;
            if let Some(batch) = message.header_as_record_batch() {
                let buffers =
                    batch.buffers().unwrap().iter().map(|b| (b.offset() as usize, b.length() as usize)).collect();
                found.push((at, body_start, buffers));
            }
            at = body_start + message.bodyLength() as usize;
        }
    }

    #[test]
    fn files_and_streams_are_told_apart_and_from_text() {
        assert_eq!(detect(&file_bytes(None)), Some(TableFormat::ArrowFile));
        assert_eq!(detect(&stream_bytes(None)), Some(TableFormat::ArrowStream));
        assert_eq!(detect(b"a,b\n1,2\n"), None);
        assert_eq!(detect(&[0xFF, 0xFF, 0xFF, 0xFF, 4, 0, 0, 0, 1, 2, 3, 4]), None, "not a schema message");
        assert!(is_feather_v1(b"FEA1\0\0\0\0"));
    }

    #[test]
    fn arrow_types_map_like_parquet_types_in_files_and_streams_compressed_or_not() {
        for compression in [None, Some(CompressionType::LZ4_FRAME), Some(CompressionType::ZSTD)] {
            for (bytes, rows) in [(file_bytes(compression), 8), (stream_bytes(compression), 4)] {
                let (table, nulls) = ingest_with_nulls(&bytes, &IngestLimits::default()).unwrap();
                let dtypes: Vec<(&str, DType)> = table.columns.iter().map(|c| (c.name.as_str(), c.dtype)).collect();
                assert_eq!(
                    dtypes,
                    [
                        ("id", DType::Int64),
                        ("score", DType::Float64),
                        ("ok", DType::Bool),
                        ("day", DType::Datetime64),
                        ("at", DType::Datetime64),
                        ("city", DType::Category),
                        // Four distinct notes: a category in the file's 8 rows, not in 4.
                        ("note", if rows == 8 { DType::Category } else { DType::Object }),
                    ],
                    "{compression:?}"
                );
                assert_eq!(table.row_count, rows);
                // NaN is missing, as in Parquet input.
                assert_eq!(nulls, [0, rows as usize / 2, 0, 0, 0, rows as usize / 4, 0], "{compression:?}");
            }
        }
    }

    #[test]
    fn a_file_and_a_stream_of_the_same_batches_hold_the_same_table() {
        let batch = table();
        let mut writer = FileWriter::try_new(Vec::new(), &batch.schema()).unwrap();
        writer.write(&batch).unwrap();
        let file = ingest(&writer.into_inner().unwrap(), &IngestLimits::default()).unwrap();
        let stream = ingest(&stream_bytes(None), &IngestLimits::default()).unwrap();
        assert_eq!(file.content_hash, stream.content_hash);
    }

    #[test]
    fn a_body_that_lies_outside_the_file_is_refused_before_it_is_allocated() {
        let bytes = stream_bytes(None);
        let (_, body, _) = batch_messages(&bytes, 0)[0].clone();
        let err = ingest(&bytes[..body + 8], &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("body lies outside the file")), "{err:?}");
    }

    #[test]
    fn a_stream_or_file_cut_between_messages_is_refused_not_read_in_part() {
        let bytes = stream_bytes(None);
        let (batch_message, _, _) = batch_messages(&bytes, 0)[0].clone();
        // The schema message alone: cut just before the batch's message.
        let err = ingest(&bytes[..batch_message], &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("truncated")), "{err:?}");
        let file = file_bytes(None);
        let err = ingest(&file[..file.len() - 1], &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("truncated")), "{err:?}");
    }

    #[test]
    fn a_compressed_buffer_declaring_a_huge_size_is_refused_as_too_large() {
        let mut bytes = stream_bytes(Some(CompressionType::LZ4_FRAME));
        let (_, body, buffers) = batch_messages(&bytes, 0)[0].clone();
        let (offset, _) = *buffers.iter().find(|(_, length)| *length >= 8).unwrap();
        bytes[body + offset..body + offset + 8].copy_from_slice(&(1i64 << 40).to_le_bytes());
        let err = ingest(&bytes, &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::TooLarge(m) if m.contains("MAX_DECOMPRESSED_BYTES")), "{err:?}");
    }

    #[test]
    fn rows_claimed_by_all_batches_together_are_bounded_by_the_file_size() {
        // Many batches of a column of nulls (no buffers): each plausible, together not.
        let schema =
            Arc::new(Schema::new(vec![arrow::datatypes::Field::new("n", arrow::datatypes::DataType::Null, true)]));
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(arrow::array::NullArray::new(1 << 20))]).unwrap();
        let mut writer = StreamWriter::try_new(Vec::new(), &schema).unwrap();
        for _ in 0..64 {
            writer.write(&batch).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        assert!(arrow_table::plausible_rows(bytes.len() as u64) < 64 << 20, "the file is small: {} bytes", bytes.len());
        let err = ingest(&bytes, &IngestLimits::default()).unwrap_err();
        assert!(matches!(&err, IngestError::Invalid(m) if m.contains("more rows")), "{err:?}");
    }

    #[test]
    fn a_highly_compressed_file_may_hold_more_rows_than_its_size_alone_allows() {
        // 10 M booleans in 1 M-row batches, zstd: a few kilobytes on disk.
        let schema =
            Arc::new(Schema::new(vec![arrow::datatypes::Field::new("b", arrow::datatypes::DataType::Boolean, false)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(BooleanArray::from(vec![false; 1 << 20]))])
            .unwrap();
        let mut writer =
            StreamWriter::try_new_with_options(Vec::new(), &schema, options(Some(CompressionType::ZSTD))).unwrap();
        for _ in 0..10 {
            writer.write(&batch).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        assert!(arrow_table::plausible_rows(bytes.len() as u64) < 10 << 20, "the file is small: {} bytes", bytes.len());
        assert_eq!(ingest(&bytes, &IngestLimits::default()).unwrap().row_count, 10 << 20);
    }

    #[test]
    fn a_stream_whose_schema_is_larger_than_the_first_bytes_read_is_still_an_arrow_stream() {
        let fields: Vec<arrow::datatypes::Field> = (0..400)
            .map(|i| {
                arrow::datatypes::Field::new(
                    format!("a_rather_long_column_name_{i}"),
                    arrow::datatypes::DataType::Int64,
                    true,
                )
            })
            .collect();
        let schema = Schema::new(fields);
        let bytes = StreamWriter::try_new(Vec::new(), &schema).unwrap().into_inner().unwrap();
        assert!(bytes.len() > 8 * 1024);
        assert_eq!(detect(&bytes[..8 * 1024]), Some(TableFormat::ArrowStream));
    }

    #[test]
    fn too_many_columns_and_a_schema_without_columns_are_refused() {
        let limits = IngestLimits { max_columns: 3, ..IngestLimits::default() };
        assert!(matches!(ingest(&stream_bytes(None), &limits), Err(IngestError::TooManyColumns { found: 7, max: 3 })));
        let empty = StreamWriter::try_new(Vec::new(), &Schema::empty()).unwrap().into_inner().unwrap();
        assert!(matches!(ingest(&empty, &IngestLimits::default()), Err(IngestError::Empty)));
    }
}
