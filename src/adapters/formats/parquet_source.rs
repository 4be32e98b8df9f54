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
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::sink::batch_rows;
use crate::ports::StoreError;
use crate::ports::artifacts::{ArtifactStore, ByteStream};

/// Footer bytes fetched in the first request (most footers fit).
const FOOTER_PREFETCH: usize = 64 * 1024;

#[derive(Clone)]
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
    Ok(read_columns(store, key, columns, dictionaries).await?.1)
}

/// [`read_batches`] with the schema of the batches (which an empty table has too).
pub async fn read_columns(
    store: Arc<dyn ArtifactStore>,
    key: &str,
    columns: Option<Vec<usize>>,
    dictionaries: bool,
) -> Result<(SchemaRef, BoxStream<'static, Result<RecordBatch, StoreError>>), StoreError> {
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
    let schema = Arc::clone(stream.schema());
    Ok((schema, stream.map(move |batch| batch.map_err(store_error)).boxed()))
}

/// Chunks in flight from one encoding worker to the reader.
const ENCODED_IN_FLIGHT: usize = 2;
/// Rows of the batches an encoding worker decodes at once (each becomes one chunk of text).
const ENCODED_BATCH_ROWS: usize = 32 * 1024;

/// What an encoding worker sends: the bytes of a batch of its row group, or the end of it.
enum Encoded {
    Chunk(Bytes),
    GroupEnd,
}

/// The stored Parquet file at `key`, every batch encoded by `encode` (told whether it is the
/// first batch of the file, which carries a header when the format has one), in row order.
/// Row groups are decoded and encoded on [`worker_threads`] blocking threads at once, each
/// worker at most one row group ahead of the reader, so memory holds a few row groups' text.
///
/// [`worker_threads`]: crate::ports::system::worker_threads
pub async fn encode_row_groups<E>(store: Arc<dyn ArtifactStore>, key: &str, encode: E) -> Result<ByteStream, StoreError>
where
    E: Fn(&RecordBatch, bool) -> Result<Bytes, StoreError> + Clone + Send + Sync + 'static,
{
    let size = store.size(key).await?;
    let mut source = StoredParquet { store, key: key.to_string(), size };
    let metadata =
        ArrowReaderMetadata::load_async(&mut source, ArrowReaderOptions::new()).await.map_err(store_error)?;
    let groups = metadata.metadata().num_row_groups();
    let width = metadata.schema().fields().len();
    if groups == 0 || metadata.metadata().file_metadata().num_rows() == 0 {
        // No row: the header alone.
        let empty = RecordBatch::new_empty(Arc::clone(metadata.schema()));
        return Ok(futures_util::stream::once(async move { encode(&empty, true) }).boxed());
    }
    let workers = crate::ports::system::worker_threads().min(groups);
    let handle = tokio::runtime::Handle::current();
    let mut receivers = Vec::with_capacity(workers);
    for worker in 0..workers {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Encoded, StoreError>>(ENCODED_IN_FLIGHT);
        receivers.push(rx);
        let (source, metadata, encode, handle) = (source.clone(), metadata.clone(), encode.clone(), handle.clone());
        tokio::task::spawn_blocking(move || {
            for group in (worker..groups).step_by(workers) {
                let sent = (|| {
                    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(source.clone(), metadata.clone())
                        .with_row_groups(vec![group])
                        .with_batch_size(batch_rows(width).min(ENCODED_BATCH_ROWS));
                    let mut batches = builder.build().map_err(store_error)?;
                    let mut first = group == 0;
                    while let Some(batch) = handle.block_on(batches.next()) {
                        let bytes = encode(&batch.map_err(store_error)?, first)?;
                        first = false;
                        if tx.blocking_send(Ok(Encoded::Chunk(bytes))).is_err() {
                            return Ok(false);
                        }
                    }
                    Ok(tx.blocking_send(Ok(Encoded::GroupEnd)).is_ok())
                })();
                match sent {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
    }
    // Group g comes from worker g % workers; the stream drains one group at a time, in order.
    let stream = futures_util::stream::unfold((receivers, 0usize), move |(mut receivers, mut group)| async move {
        while group < groups {
            let worker = group % receivers.len();
            match receivers[worker].recv().await {
                Some(Ok(Encoded::Chunk(bytes))) => return Some((Ok(bytes), (receivers, group))),
                Some(Ok(Encoded::GroupEnd)) => group += 1,
                Some(Err(e)) => return Some((Err(e), (receivers, groups))),
                None => {
                    let stopped = StoreError::other("an encoding worker stopped before its row group ended");
                    return Some((Err(stopped), (receivers, groups)));
                }
            }
        }
        None
    });
    Ok(stream.boxed())
}

/// One page of a stored Parquet file in row order: rows `offset..offset + limit` of the
/// `columns` named (all when `None`), with the file's row count. Only the row groups that
/// hold the page are read, and within the first of them the reader skips to the offset with
/// the page index when the file has one, so a page deep in a large file costs about one row
/// group's decoding.
pub async fn read_page(
    store: Arc<dyn ArtifactStore>,
    key: &str,
    size: u64,
    columns: Option<&[String]>,
    offset: u64,
    limit: usize,
) -> Result<Page, PageError> {
    let mut source = StoredParquet { store, key: key.to_string(), size };
    // The offset index (page locations) lets the reader skip to the offset without decoding
    // the pages before it; files without one are read from the row group's start.
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let metadata = ArrowReaderMetadata::load_async(&mut source, options).await.map_err(store_error)?;
    let total = u64::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
    let schema = Arc::clone(metadata.schema());
    let indices = match columns {
        None => (0..schema.fields().len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| schema.index_of(name).map_err(|_| PageError::UnknownColumn(name.clone())))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(source, metadata);
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.clone());
    // Row groups overlapping the page, and where the page starts in the first of them.
    let (mut groups, mut first_row, mut skip) = (Vec::new(), 0u64, None);
    for (i, group) in builder.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows()).unwrap_or(0);
        let end = first_row + rows;
        if end > offset && first_row < offset.saturating_add(limit as u64) {
            skip.get_or_insert(offset.saturating_sub(first_row));
            groups.push(i);
        }
        first_row = end;
    }
    let page_schema = Arc::new(schema.project(&indices).map_err(|e| store_error(e.into()))?);
    let Some(skip) = skip.filter(|_| limit > 0) else {
        return Ok(Page { schema: page_schema, batches: Vec::new(), total });
    };
    builder = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_offset(usize::try_from(skip).unwrap_or(usize::MAX))
        .with_limit(limit)
        .with_batch_size(batch_rows(indices.len()));
    let stream = builder.build().map_err(store_error)?;
    let batches: Vec<RecordBatch> = stream
        .map(|batch| batch.map_err(store_error))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(Page { schema: page_schema, batches, total })
}

/// A page of a stored table (see [`read_page`]).
#[derive(Debug)]
pub struct Page {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Rows of the whole file.
    pub total: u64,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("unknown column `{0}`")]
    UnknownColumn(String),
    #[error(transparent)]
    Store(#[from] StoreError),
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

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use futures_util::TryStreamExt;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::adapters::opendal::OpendalStore;

    /// A stored table of `rows` rows in row groups of `group_rows`.
    async fn stored(rows: i64, group_rows: usize) -> (Arc<dyn ArtifactStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("label", DataType::Utf8, false),
        ]));
        let path = dir.path().join("t.parquet");
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(group_rows)).build();
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema.clone(), Some(properties)).unwrap();
        let ids: Vec<i64> = (0..rows).collect();
        let labels: Vec<String> = ids.iter().map(|i| format!("row {i}")).collect();
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(labels))];
        writer.write(&RecordBatch::try_new(schema, columns).unwrap()).unwrap();
        writer.close().unwrap();
        let store: Arc<dyn ArtifactStore> = Arc::new(OpendalStore::filesystem(&dir.path().join("store")).unwrap());
        store.put_file("t.parquet", &path).await.unwrap();
        (store, dir)
    }

    fn csv(batch: &RecordBatch, first: bool) -> Result<Bytes, StoreError> {
        super::super::csv_export::encode_batch(batch, first, Default::default())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn row_groups_encoded_in_parallel_come_out_in_row_order_with_one_header() {
        let (store, _dir) = stored(1_000, 7).await;
        let stream = encode_row_groups(store, "t.parquet", csv).await.unwrap();
        let text = String::from_utf8(stream.try_collect::<Vec<Bytes>>().await.unwrap().concat()).unwrap();
        let expected: String =
            std::iter::once("id,label\r\n".to_string()).chain((0..1_000).map(|i| format!("{i},row {i}\r\n"))).collect();
        assert_eq!(text, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_without_rows_encodes_its_header() {
        let (store, _dir) = stored(0, 7).await;
        let stream = encode_row_groups(store, "t.parquet", csv).await.unwrap();
        let text = String::from_utf8(stream.try_collect::<Vec<Bytes>>().await.unwrap().concat()).unwrap();
        assert_eq!(text, "id,label\r\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_deep_in_the_file_reads_only_its_rows() {
        let (store, _dir) = stored(1_000, 64).await;
        let names = ["label".to_string()];
        let page =
            read_page(Arc::clone(&store), "t.parquet", store.size("t.parquet").await.unwrap(), Some(&names), 990, 20)
                .await
                .unwrap();
        assert_eq!(page.total, 1_000);
        let labels: Vec<String> = page
            .batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(labels, (990..1_000).map(|i| format!("row {i}")).collect::<Vec<_>>());
        let size = store.size("t.parquet").await.unwrap();
        let missing = read_page(store, "t.parquet", size, Some(&["nope".to_string()]), 0, 1).await;
        assert!(matches!(missing, Err(PageError::UnknownColumn(name)) if name == "nope"));
    }
}
