//! The one place both readers (CSV, Parquet) send their canonical record batches: the
//! normalized Parquet file, the quality checks and the preview are all fed from here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::array::{Array, AsArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Float64Type, Int64Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::domain::content_hash::{ColumnDigest, TableDigests, UnhashableType};
use crate::domain::inference::MixedColumn;
use crate::domain::preview::{PREVIEW_ROWS, PreviewRow, extend_preview};
use crate::domain::quality::{ColumnOutliers, QualityAccumulator, QualityExtras, QualityReport};
use crate::domain::statistics::outlier_count;
use crate::ports::tables::IngestError;

/// Rows per Parquet row group: bounds the writer's buffer.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Record batches of roughly this many cells keep memory bounded for wide tables.
const CELLS_PER_BATCH: usize = 1 << 20;

/// Rows per Parquet row group for a table of `columns` columns: wide tables get shorter row
/// groups, which bounds the encoders' buffers.
pub fn group_rows(columns: usize) -> usize {
    ROW_GROUP_ROWS.min(batch_rows(columns) * 8)
}

/// Rows per batch for a table of `columns` columns.
pub fn batch_rows(columns: usize) -> usize {
    (CELLS_PER_BATCH / columns.max(1)).clamp(16, 64 * 1024)
}

/// The normalized file, with the SHA-256 of every byte written to it computed on the way
/// (so the file is not read again to checksum it).
pub struct HashingFile {
    file: File,
    hasher: Sha256,
}

impl HashingFile {
    fn create(path: &Path) -> Result<Self, IngestError> {
        let file = File::create(path).map_err(|e| IngestError::Io(e.to_string()))?;
        Ok(Self { file, hasher: Sha256::new() })
    }

    /// Flushes the file; returns the hex SHA-256 of its content.
    fn finish(mut self) -> Result<String, IngestError> {
        self.file.flush().map_err(|e| IngestError::Io(format!("writing the normalized Parquet file: {e}")))?;
        Ok(hex::encode(self.hasher.finalize()))
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

pub struct CanonicalSink {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<BufWriter<HashingFile>>,
    quality: QualityAccumulator,
    /// Every column's digest, fed the batches as they are written (in order).
    digests: TableDigests,
    preview: Vec<PreviewRow>,
    rows: u64,
}

/// What the sink saw.
pub struct SinkSummary {
    pub rows: u64,
    /// Hex SHA-256 of the normalized file.
    pub sha256: String,
    pub quality: QualityReport,
    /// Every column's content digest (see `domain::content_hash`).
    pub column_digests: Vec<[u8; 32]>,
    pub preview: Vec<PreviewRow>,
}

fn parquet_err(e: parquet::errors::ParquetError) -> IngestError {
    IngestError::Io(format!("writing the normalized Parquet file: {e}"))
}

fn hash_error(e: UnhashableType) -> IngestError {
    IngestError::Io(format!("hashing the normalized table: {e}"))
}

impl CanonicalSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, IngestError> {
        let file = BufWriter::with_capacity(1 << 20, HashingFile::create(path)?);
        let rows_per_group = group_rows(schema.fields().len());
        let props =
            writer_properties(&schema, None).into_builder().set_max_row_group_row_count(Some(rows_per_group)).build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
        let columns = schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone()));
        let quality = QualityAccumulator::new(columns);
        let digests = TableDigests::new(&schema).map_err(hash_error)?;
        Ok(Self { path: path.to_path_buf(), schema, writer, quality, digests, preview: Vec::new(), rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        self.digests.update(batch).map_err(hash_error)?;
        self.quality.observe(batch);
        extend_preview(&mut self.preview, batch, PREVIEW_ROWS);
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(parquet_err)
    }

    /// Closes the file and completes the quality report (see [`read_back`]).
    pub fn finish(self, mixed: Vec<MixedColumn>) -> Result<SinkSummary, IngestError> {
        let sha256 = finish_file(self.writer.into_inner().map_err(parquet_err)?)?;
        let workers = crate::ports::system::worker_threads();
        let read = read_back(&self.path, &self.schema, self.quality, mixed, workers, Some(self.digests.finish()))?;
        Ok(SinkSummary {
            rows: self.rows,
            sha256,
            quality: read.quality,
            column_digests: read.digests,
            preview: self.preview,
        })
    }
}

/// Flushes a finished normalized file; returns its hex SHA-256.
fn finish_file(buffered: BufWriter<HashingFile>) -> Result<String, IngestError> {
    let file =
        buffered.into_inner().map_err(|e| IngestError::Io(format!("writing the normalized Parquet file: {e}")))?;
    file.finish()
}

/// Most columns of one file written delta-encoded (see [`writer_properties`]).
const MAX_DELTA_COLUMNS: usize = 64;

/// How normalized files are written: no min/max statistics; integer, date and timestamp
/// columns delta-encoded (DELTA_BINARY_PACKED) and not compressed; every other column in
/// Snappy pages, dictionary-encoded, or (when `dictionary` is given) only those columns
/// dictionary-encoded: dictionaries of high-cardinality columns cost time and are then
/// abandoned.
///
/// The files are only read whole (or by column) by this server, which never prunes by
/// statistics; computing the min and max of every text page was 5–6% of the CSV upload's
/// CPU time on the benchmark (byte-wise comparisons of every value). Delta encoding stores
/// ids and timestamps in a few bits per value (sorted ids in almost none), where Snappy over
/// plain values left 4–5 bytes per value on the benchmark and cost CPU time; the bit-packed
/// deltas do not compress further.
///
/// At most [`MAX_DELTA_COLUMNS`] columns are delta-encoded (the first ones); the others of
/// those types are written like the rest. parquet 59's delta encoder reserves 1 MiB per column
/// when a row group starts: on a file of 9,000 integer columns that was 9 GiB of address
/// space per row group being encoded.
fn writer_properties(schema: &Schema, dictionary: Option<&[String]>) -> WriterProperties {
    let builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::None);
    let builder = match dictionary {
        None => builder,
        Some(columns) => columns.iter().fold(builder.set_dictionary_enabled(false), |b, name| {
            b.set_column_dictionary_enabled(ColumnPath::from(name.as_str()), true)
        }),
    };
    schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Int64 | DataType::Date32 | DataType::Timestamp(_, _)))
        .take(MAX_DELTA_COLUMNS)
        .fold(builder, |b, f| {
            let path = ColumnPath::from(f.name().as_str());
            b.set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(path, Compression::UNCOMPRESSED)
        })
        .build()
}

/// What reading one group of columns back gives, per column in the group: its content digest
/// (when asked for) and, for a numeric column, its outliers and finite values counted.
struct GroupRead {
    digests: Option<Vec<[u8; 32]>>,
    /// `(outliers, finite values)` of each numeric column.
    outliers: Vec<Option<(u64, u64)>>,
}

/// Reads the columns `indices` (ascending) of the Parquet file of `rows` rows back: their
/// content digests (when `digest`), and the outliers of the numeric ones, counted here so that
/// a worker holds the values of its own group only (a column's values as floats, sized for the
/// rows at once).
fn read_group(
    path: &Path,
    schema: &SchemaRef,
    indices: &[usize],
    rows: usize,
    digest: bool,
) -> Result<GroupRead, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::Io(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(parquet_err)?;
    let mut digests = indices
        .iter()
        .map(|&i| digest.then(|| ColumnDigest::new(schema.field(i).data_type())).transpose())
        .collect::<Result<Vec<_>, _>>()
        .map_err(hash_error)?;
    let mut floats: Vec<Option<Vec<f64>>> =
        indices.iter().map(|&i| is_numeric(schema.field(i).data_type()).then(|| Vec::with_capacity(rows))).collect();
    for batch in reader {
        let batch = batch.map_err(|e| IngestError::Io(format!("reading the normalized file back: {e}")))?;
        for ((digest, values), column) in digests.iter_mut().zip(&mut floats).zip(batch.columns()) {
            if let Some(digest) = digest {
                digest.update(column).map_err(hash_error)?;
            }
            let Some(values) = values else { continue };
            let nulls = column.logical_nulls().filter(|n| n.null_count() > 0);
            match column.data_type() {
                DataType::Int64 => {
                    extend_valid(values, column.as_primitive::<Int64Type>().values(), nulls, |v| v as f64)
                }
                _ => extend_valid(values, column.as_primitive::<Float64Type>().values(), nulls, |v| v),
            }
        }
    }
    let outliers = floats
        .into_iter()
        .map(|values| {
            values.map(|values| {
                let finite = values.iter().filter(|v| v.is_finite()).count() as u64;
                (outlier_count(values), finite)
            })
        })
        .collect();
    let digests = digest.then(|| digests.into_iter().flatten().map(ColumnDigest::finish).collect());
    Ok(GroupRead { digests, outliers })
}

fn is_numeric(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Int64 | DataType::Float64)
}

/// Appends `f` of the valid values to `out`: without missing cells, of every value in order;
/// with them, of the values at the valid positions only.
fn extend_valid<T: Copy>(out: &mut Vec<f64>, values: &[T], nulls: Option<NullBuffer>, f: impl Fn(T) -> f64) {
    match nulls {
        None => out.extend(values.iter().map(|&v| f(v))),
        Some(n) => out.extend(n.valid_indices().map(|i| f(values[i]))),
    }
}

/// The normalized Parquet file written from row groups encoded elsewhere (on worker threads),
/// appended in order.
pub struct ParquetAssembler {
    writer: SerializedFileWriter<BufWriter<HashingFile>>,
    encoder: RowGroupEncoder,
}

/// Makes the column writers of one row group; shared by the workers that encode row groups.
#[derive(Clone)]
pub struct RowGroupEncoder {
    factory: Arc<ArrowRowGroupWriterFactory>,
    schema: SchemaRef,
}

/// One row group being encoded.
pub struct RowGroupWriter {
    schema: SchemaRef,
    writers: Vec<ArrowColumnWriter>,
    rows: usize,
}

/// An encoded row group, ready to be appended to the file.
pub struct EncodedRowGroup {
    chunks: Vec<ArrowColumnChunk>,
}

impl ParquetAssembler {
    /// `dictionary`: the columns to dictionary-encode (low-cardinality text).
    pub fn create(path: &Path, schema: SchemaRef, dictionary: &[String]) -> Result<Self, IngestError> {
        let file = BufWriter::with_capacity(1 << 20, HashingFile::create(path)?);
        let props = writer_properties(&schema, Some(dictionary));
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
        let (writer, factory) = writer.into_serialized_writer().map_err(parquet_err)?;
        Ok(Self { writer, encoder: RowGroupEncoder { factory: Arc::new(factory), schema } })
    }

    pub fn encoder(&self) -> RowGroupEncoder {
        self.encoder.clone()
    }

    pub fn append(&mut self, group: EncodedRowGroup) -> Result<(), IngestError> {
        let mut row_group = self.writer.next_row_group().map_err(parquet_err)?;
        for chunk in group.chunks {
            chunk.append_to_row_group(&mut row_group).map_err(parquet_err)?;
        }
        row_group.close().map_err(parquet_err)?;
        Ok(())
    }

    /// Writes the footer and flushes the file; returns its hex SHA-256.
    pub fn close(self) -> Result<String, IngestError> {
        finish_file(self.writer.into_inner().map_err(parquet_err)?)
    }
}

impl RowGroupEncoder {
    pub fn row_group(&self) -> Result<RowGroupWriter, IngestError> {
        let writers = self.factory.create_column_writers(0).map_err(parquet_err)?;
        Ok(RowGroupWriter { schema: Arc::clone(&self.schema), writers, rows: 0 })
    }
}

impl RowGroupWriter {
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        let mut writers = self.writers.iter_mut();
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, column).map_err(parquet_err)? {
                let writer = writers.next().ok_or_else(|| IngestError::Io("a column has no Parquet writer".into()))?;
                writer.write(&leaf).map_err(parquet_err)?;
            }
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn finish(self) -> Result<EncodedRowGroup, IngestError> {
        let chunks = self.writers.into_iter().map(|w| w.close()).collect::<Result<Vec<_>, _>>().map_err(parquet_err)?;
        Ok(EncodedRowGroup { chunks })
    }
}

/// What reading a normalized file back gives.
pub struct ReadBack {
    pub quality: QualityReport,
    /// Every column's content digest, in column order (see `domain::content_hash`).
    pub digests: Vec<[u8; 32]>,
}

/// Reads a normalized file back, a group of columns at a time (at most about
/// [`READ_BACK_CELLS`] values per read, so one read for a short table however wide) on up to
/// `workers` threads: the outliers of each numeric column (the Tukey fences need each column's
/// quartiles), which complete the quality report with the reader's `mixed` columns, and every
/// column's content digest unless the writer computed them (`digests`: then only the numeric
/// columns are read). Memory: each worker holds one group's values at a time. (Holding every
/// numeric column's values until all were read made the peak of a large upload: 3.6 million
/// rows × 5 numeric columns × 8 bytes, 143 MB.)
pub fn read_back(
    path: &Path,
    schema: &SchemaRef,
    quality: QualityAccumulator,
    mixed: Vec<MixedColumn>,
    workers: usize,
    digests: Option<Vec<[u8; 32]>>,
) -> Result<ReadBack, IngestError> {
    let digest = digests.is_none();
    let columns: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| digest || is_numeric(schema.field(i).data_type())).collect();
    let per_group = (READ_BACK_CELLS / quality.rows().max(1)).clamp(1, columns.len().max(1) as u64) as usize;
    let groups: Vec<&[usize]> = columns.chunks(per_group).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found: Vec<std::sync::Mutex<Option<Result<GroupRead, IngestError>>>> =
        groups.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let rows = quality.rows() as usize;
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, groups.len().max(1)) {
            // A worker that cannot be started leaves its columns to the others (or, with none,
            // unread: reported as an error).
            let _ = std::thread::Builder::new().name("ingest-read-back".into()).spawn_scoped(scope, || {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(group) = groups.get(k) else { return };
                    let result = read_group(path, schema, group, rows, digest);
                    *found[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut outliers = Vec::new();
    let mut read_digests = Vec::with_capacity(columns.len());
    for (slot, group) in found.into_iter().zip(&groups) {
        let result = slot.into_inner().unwrap_or_else(|p| p.into_inner());
        let read = result.unwrap_or_else(|| Err(IngestError::Io("a column was not read back".into())))?;
        read_digests.extend(read.digests.into_iter().flatten());
        for (&i, counted) in group.iter().zip(read.outliers) {
            let Some((count, values)) = counted else { continue };
            let name = schema.field(i).name().clone();
            outliers.push(ColumnOutliers { name, outliers: count, values });
        }
    }
    let digests = digests.unwrap_or(read_digests);
    Ok(ReadBack { quality: quality.finish(QualityExtras { mixed, outliers }), digests })
}

/// Values read back at once to count outliers.
const READ_BACK_CELLS: u64 = 4 << 20;
