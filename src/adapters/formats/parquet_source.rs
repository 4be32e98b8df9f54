//! Reads a stored normalized Parquet file from the [`ArtifactStore`] with ranged reads, as a
//! stream of record batches (parquet's `AsyncFileReader` over the store port).

use std::ops::Range;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::basic::Encoding;
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::sink::batch_rows;
use crate::ports::StoreError;
use crate::ports::artifacts::ArtifactStore;

/// Footer bytes fetched in the first request (most footers fit).
const FOOTER_PREFETCH: usize = 64 * 1024;

struct StoredParquet {
    store: Arc<dyn ArtifactStore>,
    key: String,
    size: u64,
}

fn external(e: StoreError) -> ParquetError {
    ParquetError::External(Box::new(e))
}

/// The store's own error when the Parquet reader failed because the store did (so a file
/// deleted between two reads is `NotFound`, not an internal error); otherwise `Other`.
fn store_error(e: ParquetError) -> StoreError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => StoreError::other_caused_by("reading stored Parquet", other),
        },
        other => StoreError::other_caused_by("reading stored Parquet", other),
    }
}

impl AsyncFileReader for StoredParquet {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ParquetResult<Bytes>> {
        async move { self.store.read_range(&self.key, range).await.map_err(external) }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ParquetResult<Arc<ParquetMetaData>>> {
        let size = self.size;
        async move {
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Batches of the stored Parquet file at `key`, in row order.
/// With `columns`, only those columns (indices of the flat canonical schema). With
/// `dictionaries`, text columns whose every data page is dictionary-encoded are read as
/// `Dictionary(Int32, Utf8)` arrays (the same values, without copying each row's text).
pub async fn read_batches(
    store: Arc<dyn ArtifactStore>,
    key: &str,
    columns: Option<Vec<usize>>,
    dictionaries: bool,
) -> Result<BoxStream<'static, Result<RecordBatch, StoreError>>, StoreError> {
    let size = store.size(key).await?;
    let mut source = StoredParquet { store, key: key.to_string(), size };
    let mut metadata =
        ArrowReaderMetadata::load_async(&mut source, ArrowReaderOptions::new()).await.map_err(store_error)?;
    if dictionaries && let Some(schema) = with_text_dictionaries(&metadata) {
        let options = ArrowReaderOptions::new().with_schema(schema);
        metadata = ArrowReaderMetadata::try_new(Arc::clone(metadata.metadata()), options).map_err(store_error)?;
    }
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(source, metadata);
    let mut width = builder.schema().fields().len();
    if let Some(columns) = columns {
        if columns.iter().any(|&c| c >= width) {
            return Err(StoreError::other("a requested column is not in the stored table"));
        }
        width = columns.len();
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
        builder = builder.with_projection(mask);
    }
    let stream = builder.with_batch_size(batch_rows(width)).build().map_err(store_error)?;
    Ok(stream.map(move |batch| batch.map_err(store_error)).boxed())
}

/// The file's Arrow schema with its dictionary-encoded text columns as `Dictionary(Int32,
/// Utf8)`; `None` when there is none, or when the schema is not flat (one Parquet column per
/// field).
fn with_text_dictionaries(metadata: &ArrowReaderMetadata) -> Option<SchemaRef> {
    let schema = metadata.schema();
    let parquet = metadata.metadata();
    if parquet.file_metadata().schema_descr().num_columns() != schema.fields().len() || parquet.num_row_groups() == 0 {
        return None;
    }
    // Every data page of every chunk dictionary-encoded (a chunk whose dictionary overflowed
    // has plain pages too, which the reader would have to turn into dictionaries).
    let dictionary_encoded = |i: usize| {
        parquet.row_groups().iter().all(|group| {
            let chunk = group.column(i);
            chunk.dictionary_page_offset().is_some()
                && chunk.page_encoding_stats_mask().is_some_and(|mask| {
                    mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
                })
        })
    };
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            if field.data_type() == &DataType::Utf8 && dictionary_encoded(i) {
                changed = true;
                let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                field.as_ref().clone().with_data_type(dictionary)
            } else {
                field.as_ref().clone()
            }
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}
