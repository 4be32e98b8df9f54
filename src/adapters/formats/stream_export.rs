//! Record batches → JSON Lines, Parquet or an Arrow IPC stream, streamed in bounded memory:
//! what `download?format=jsonl` and `/query`'s `parquet` and `arrow` answers are written with.
//!
//! - JSON Lines: one object a line (`\n`), keys in column order, cells typed by the one rule
//!   of `domain::preview` (whole, not cut).
//! - Parquet: zstd-compressed row groups of at most [`PARQUET_GROUP_ROWS`] rows, each flushed
//!   to the stream as soon as it is full.
//! - Arrow IPC stream format (`application/vnd.apache.arrow.stream`): the schema, then one
//!   message per batch.
//!
//! The binary writers run on a blocking thread and hand their bytes over a bounded channel,
//! so a slow reader holds back the writer instead of letting bytes pile up in memory.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::writer::StreamWriter;
use bytes::Bytes;
use futures_util::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tokio::sync::mpsc;

use crate::domain::preview::cell_value;
use crate::ports::StoreError;
use crate::ports::artifacts::ByteStream;
use crate::ports::tables::BatchStream;

/// Rows of a Parquet row group written for a query answer.
pub const PARQUET_GROUP_ROWS: usize = 128 * 1024;
/// Chunks in flight between a binary writer and the response.
const CHANNEL_CHUNKS: usize = 4;

/// JSON Lines: each batch becomes the lines of its rows.
pub fn jsonl(batches: BatchStream) -> ByteStream {
    batches.map(|batch| jsonl_batch(&batch?)).boxed()
}

/// The JSON Lines of one batch's rows.
pub fn jsonl_batch(batch: &RecordBatch) -> Result<Bytes, StoreError> {
    let schema = batch.schema();
    let keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| serde_json::to_string(f.name()).unwrap_or_else(|_| "\"\"".to_string()))
        .collect();
    let mut out = Vec::with_capacity(batch.get_array_memory_size());
    for row in 0..batch.num_rows() {
        out.push(b'{');
        for (i, (key, column)) in keys.iter().zip(batch.columns()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key.as_bytes());
            out.push(b':');
            serde_json::to_writer(&mut out, &cell_value(column, row))
                .map_err(|e| StoreError::other_caused_by("writing JSON Lines", e))?;
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(Bytes::from(out))
}

/// A Parquet file of the batches.
pub fn parquet(schema: SchemaRef, batches: BatchStream) -> ByteStream {
    blocking_writer(batches, move |out| {
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(PARQUET_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(out, schema, Some(properties))
            .map_err(|e| StoreError::other_caused_by("starting a Parquet answer", e))?;
        Ok(Box::new(ParquetSink(writer)))
    })
}

/// An Arrow IPC stream of the batches.
pub fn arrow_ipc(schema: SchemaRef, batches: BatchStream) -> ByteStream {
    blocking_writer(batches, move |out| {
        let writer = StreamWriter::try_new(out, &schema)
            .map_err(|e| StoreError::other_caused_by("starting an Arrow answer", e))?;
        Ok(Box::new(IpcSink(writer)))
    })
}

/// A writer of batches into a [`ChunkSender`].
trait BatchSink: Send {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError>;
    fn finish(self: Box<Self>) -> Result<(), StoreError>;
}

struct ParquetSink(ArrowWriter<ChunkSender>);

impl BatchSink for ParquetSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.0.write(batch).map_err(|e| StoreError::other_caused_by("writing a Parquet answer", e))
    }

    fn finish(self: Box<Self>) -> Result<(), StoreError> {
        self.0.close().map(|_| ()).map_err(|e| StoreError::other_caused_by("finishing a Parquet answer", e))
    }
}

struct IpcSink(StreamWriter<ChunkSender>);

impl BatchSink for IpcSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        self.0.write(batch).map_err(|e| StoreError::other_caused_by("writing an Arrow answer", e))?;
        self.0.flush().map_err(|e| StoreError::other_caused_by("writing an Arrow answer", e))
    }

    fn finish(mut self: Box<Self>) -> Result<(), StoreError> {
        self.0.finish().map_err(|e| StoreError::other_caused_by("finishing an Arrow answer", e))?;
        self.0.get_mut().flush().map_err(|e| StoreError::other_caused_by("finishing an Arrow answer", e))
    }
}

/// Bytes written by a blocking writer, sent on in chunks of about 1 MiB.
struct ChunkSender {
    buffer: Vec<u8>,
    out: mpsc::Sender<Result<Bytes, StoreError>>,
}

const CHUNK_BYTES: usize = 1 << 20;

impl ChunkSender {
    fn send_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.out.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other("the reader went away"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buffer()
    }
}

/// Runs a [`BatchSink`] made by `start` on a blocking thread over `batches`; its bytes come
/// out of the returned stream. An error (reading a batch, writing) ends the stream with it.
fn blocking_writer(
    mut batches: BatchStream,
    start: impl FnOnce(ChunkSender) -> Result<Box<dyn BatchSink>, StoreError> + Send + 'static,
) -> ByteStream {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let handle = tokio::runtime::Handle::current();
    let errors = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = (|| {
            let mut sink = start(ChunkSender { buffer: Vec::new(), out: tx })?;
            while let Some(batch) = handle.block_on(batches.next()) {
                sink.write(&batch?)?;
            }
            sink.finish()
        })();
        if let Err(e) = result {
            let _ = errors.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) }).boxed()
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use futures_util::TryStreamExt;

    use super::*;
    use std::sync::Arc;

    fn sample() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
            Field::new("name \"q\"", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(Float64Array::from(vec![Some(2.5), Some(f64::NAN)])),
            Arc::new(StringArray::from(vec![Some("a\nb"), Some("é")])),
        ];
        (Arc::clone(&schema), vec![RecordBatch::try_new(schema, columns).unwrap()])
    }

    fn stream_of(batches: Vec<RecordBatch>) -> BatchStream {
        futures_util::stream::iter(batches.into_iter().map(Ok)).boxed()
    }

    async fn bytes_of(stream: ByteStream) -> Vec<u8> {
        stream.try_collect::<Vec<Bytes>>().await.unwrap().concat()
    }

    #[tokio::test]
    async fn json_lines_are_one_typed_object_a_row() {
        let (_, batches) = sample();
        let text = String::from_utf8(bytes_of(jsonl(stream_of(batches))).await).unwrap();
        assert_eq!(
            text,
            "{\"id\":1,\"amount\":2.5,\"name \\\"q\\\"\":\"a\\nb\"}\n{\"id\":null,\"amount\":null,\"name \\\"q\\\"\":\"é\"}\n"
        );
    }

    #[tokio::test]
    async fn parquet_and_arrow_answers_read_back_as_the_same_batches() {
        let (schema, batches) = sample();
        let file = bytes_of(parquet(Arc::clone(&schema), stream_of(batches.clone()))).await;
        let read: Vec<RecordBatch> =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file))
                .unwrap()
                .build()
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(read, batches);
        let ipc = bytes_of(arrow_ipc(Arc::clone(&schema), stream_of(batches.clone()))).await;
        let read: Vec<RecordBatch> = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, batches);
    }

    #[tokio::test]
    async fn a_failed_batch_ends_the_binary_stream_with_the_error() {
        let (schema, batches) = sample();
        let failing = futures_util::stream::iter(vec![Ok(batches[0].clone()), Err(StoreError::other("gone"))]).boxed();
        let items: Vec<Result<Bytes, StoreError>> = arrow_ipc(schema, failing).collect().await;
        assert!(items.last().is_some_and(|last| last.is_err()), "the stream ends with the error");
    }
}
