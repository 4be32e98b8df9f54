//! The one place both readers (CSV, Parquet) send their canonical record batches: the
//! normalized Parquet file, the quality checks and the preview are all fed from here.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::domain::preview::{PREVIEW_ROWS, PreviewRow, extend_preview};
use crate::domain::quality::{QualityAccumulator, QualityReport};
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
        let names = schema.fields().iter().map(|f| f.name().clone());
        Ok(Self { writer, quality: QualityAccumulator::new(names), preview: Vec::new(), rows: 0 })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        self.quality.observe(batch);
        extend_preview(&mut self.preview, batch, PREVIEW_ROWS);
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(parquet_err)
    }

    pub fn finish(self) -> Result<SinkSummary, IngestError> {
        self.writer.close().map_err(parquet_err)?;
        Ok(SinkSummary { rows: self.rows, quality: self.quality.finish(), preview: self.preview })
    }
}
