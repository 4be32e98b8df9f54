//! Parquet → canonical typed table. The footer is validated against the file size before any
//! data is decoded; then row groups are read in batches and each column is converted to its
//! canonical type as [`arrow_table`](super::arrow_table) says.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::arrow_table::{self, TypedInput};
use super::parquet_guard;
use super::sink::batch_rows;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

fn invalid(reason: impl Into<String>) -> IngestError {
    TypedInput::PARQUET.invalid(reason.into())
}

pub fn ingest_parquet(upload: &Path, normalized: &Path, limits: &IngestLimits) -> Result<IngestedTable, IngestError> {
    let file = File::open(upload).map_err(|e| IngestError::Io(e.to_string()))?;
    let file_size = file.metadata().map_err(|e| IngestError::Io(e.to_string()))?.len();
    parquet_guard::check_raw_footer(&file, file_size, limits)?;
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| invalid(e.to_string()))?;
    validate_footer(&metadata, file_size, limits)?;
    parquet_guard::check_pages(&file, &metadata)?;
    let arrow_meta = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(|e| invalid(e.to_string()))?;
    let source_schema = Arc::clone(arrow_meta.schema());
    if source_schema.fields().len() > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: source_schema.fields().len(), max: limits.max_columns });
    }
    if source_schema.fields().is_empty() {
        return Err(IngestError::Empty);
    }
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow_meta)
        .with_batch_size(batch_rows(source_schema.fields().len()))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let batches = reader.map(|batch| batch.map_err(|e| e.to_string()));
    arrow_table::ingest_batches(&source_schema, batches, normalized, TypedInput::PARQUET)
}

/// Checks the footer's claims against the file before any page is decoded.
fn validate_footer(metadata: &ParquetMetaData, file_size: u64, limits: &IngestLimits) -> Result<(), IngestError> {
    let leaves = metadata.file_metadata().schema_descr().num_columns();
    if leaves > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: leaves, max: limits.max_columns });
    }
    let claimed = metadata.file_metadata().num_rows();
    let mut total: i64 = 0;
    for group in metadata.row_groups() {
        if group.num_rows() < 0 {
            return Err(invalid("a row group has a negative row count"));
        }
        total = total.checked_add(group.num_rows()).ok_or_else(|| invalid("row counts overflow"))?;
        if group.num_columns() != leaves {
            return Err(invalid("a row group's column count differs from the schema's"));
        }
        for chunk in group.columns() {
            let start = chunk.dictionary_page_offset().unwrap_or(chunk.data_page_offset());
            let size = chunk.compressed_size();
            let end = start.checked_add(size);
            if start < 0 || size < 0 || end.is_none_or(|end| end as u64 > file_size) {
                return Err(invalid("a column chunk lies outside the file"));
            }
        }
    }
    if total != claimed || claimed < 0 {
        return Err(invalid(format!("the footer claims {claimed} rows but its row groups hold {total}")));
    }
    if claimed as u64 > arrow_table::plausible_rows(file_size) {
        return Err(invalid(format!("the footer claims {claimed} rows, implausible for a file of {file_size} bytes")));
    }
    Ok(())
}
