//! The one place both readers (CSV, Parquet) send their canonical record batches: the
//! normalized Parquet file, the quality checks and the preview are all fed from here.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::domain::inference::MixedColumn;
use crate::domain::preview::{PREVIEW_ROWS, PreviewRow, extend_preview};
use crate::domain::quality::{ColumnOutliers, QualityAccumulator, QualityExtras, QualityReport};
use crate::domain::statistics::outlier_count;
use crate::ports::tables::IngestError;

/// Rows per Parquet row group: bounds the writer's buffer.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Record batches of roughly this many cells keep memory bounded for wide tables.
const CELLS_PER_BATCH: usize = 1 << 20;

/// Rows per batch for a table of `columns` columns.
pub fn batch_rows(columns: usize) -> usize {
    (CELLS_PER_BATCH / columns.max(1)).clamp(16, 64 * 1024)
}

pub struct CanonicalSink {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    quality: QualityAccumulator,
    preview: Vec<PreviewRow>,
    rows: u64,
}

/// What the sink saw.
pub struct SinkSummary {
    pub rows: u64,
    pub quality: QualityReport,
    pub preview: Vec<PreviewRow>,
}

fn parquet_err(e: parquet::errors::ParquetError) -> IngestError {
    IngestError::Io(format!("writing the normalized Parquet file: {e}"))
}

impl CanonicalSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, IngestError> {
        let file = File::create(path).map_err(|e| IngestError::Io(e.to_string()))?;
        let rows_per_group = ROW_GROUP_ROWS.min(batch_rows(schema.fields().len()) * 8);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(rows_per_group))
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_err)?;
        let columns = schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone()));
        let quality = QualityAccumulator::new(columns);
        Ok(Self { path: path.to_path_buf(), schema, writer, quality, preview: Vec::new(), rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        self.quality.observe(batch);
        extend_preview(&mut self.preview, batch, PREVIEW_ROWS);
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(parquet_err)
    }

    /// Closes the file and completes the quality report with the reader's `mixed` columns
    /// and the outliers of each numeric column (read back from the file one column at a time,
    /// since the Tukey fences need the column's quartiles).
    pub fn finish(self, mixed: Vec<MixedColumn>) -> Result<SinkSummary, IngestError> {
        self.writer.close().map_err(parquet_err)?;
        let numeric: Vec<usize> = (0..self.schema.fields().len())
            .filter(|&i| matches!(self.schema.field(i).data_type(), DataType::Int64 | DataType::Float64))
            .collect();
        // Read back a group of columns at a time, at most about READ_BACK_CELLS values.
        let per_group = (READ_BACK_CELLS / self.rows.max(1)).clamp(1, numeric.len().max(1) as u64) as usize;
        let mut outliers = Vec::with_capacity(numeric.len());
        for group in numeric.chunks(per_group) {
            for (&i, values) in group.iter().zip(read_floats(&self.path, group)?) {
                let count = values.iter().filter(|v| v.is_finite()).count() as u64;
                let name = self.schema.field(i).name().clone();
                outliers.push(ColumnOutliers { name, outliers: outlier_count(values), values: count });
            }
        }
        let quality = self.quality.finish(QualityExtras { mixed, outliers });
        Ok(SinkSummary { rows: self.rows, quality, preview: self.preview })
    }
}

/// Values read back at once to count outliers.
const READ_BACK_CELLS: u64 = 4 << 20;

/// The non-missing values of the numeric columns `indices` (ascending) of a Parquet file, as
/// floats, one vector per column.
fn read_floats(path: &Path, indices: &[usize]) -> Result<Vec<Vec<f64>>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::Io(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(parquet_err)?;
    let mut out = vec![Vec::new(); indices.len()];
    for batch in reader {
        let batch = batch.map_err(|e| IngestError::Io(format!("reading the normalized file back: {e}")))?;
        for (values, column) in out.iter_mut().zip(batch.columns()) {
            match column.data_type() {
                DataType::Int64 => values.extend(column.as_primitive::<Int64Type>().iter().flatten().map(|v| v as f64)),
                _ => values.extend(column.as_primitive::<Float64Type>().iter().flatten()),
            }
        }
    }
    Ok(out)
}
