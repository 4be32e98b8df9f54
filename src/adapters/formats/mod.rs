//! File formats: reading uploads (CSV, JSON Lines, JSON, Parquet, Arrow IPC, Excel; gzip, zstd,
//! bzip2 or xz compressed or not) into the canonical typed table, and writing stored tables out.

mod arrow_ingest;
mod arrow_table;
mod compressed;
#[cfg(test)]
mod compressed_ingest_tests;
#[cfg(test)]
mod cross_format_tests;
mod csv_blocks;
mod csv_columns;
mod csv_export;
mod csv_ingest;
mod csv_pass;
mod csv_reading;
mod csv_records;
mod digest_relay;
mod encoding;
mod excel_ingest;
#[cfg(test)]
mod excel_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod given_types_tests;
mod growing;
mod json_ingest;
mod nested_json;
mod ods_guard;
#[cfg(test)]
mod ods_tests;
#[cfg(test)]
mod parallel_tests;
mod parquet_guard;
mod parquet_ingest;
pub mod parquet_source;
#[cfg(test)]
mod roundtrip_tests;
mod sink;
mod sniff;
mod stream_export;
mod xls_guard;
mod xls_records;
#[cfg(test)]
mod xls_tests;
mod xls_writer;
mod xlsx_export;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::domain::contracts::Contract;
use crate::domain::contracts::check::{TableCheck, Violation};
use crate::domain::read_hints::ReadHints;
use crate::domain::records::{Compression, SourceFormat};
use crate::ports::StoreError;
use crate::ports::artifacts::{ArtifactStore, ByteStream};
use crate::ports::tables::{
    BatchStream, ExportError, IngestError, IngestLimits, IngestedTable, TableExporter, TableFormat, TableIngestor,
    TableSource,
};

/// Parquet files begin (and end) with these four bytes.
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// Bytes looked at to tell text from binary.
const BINARY_PROBE: usize = 8 * 1024;

/// The [`TableIngestor`] for every upload format.
pub struct FileIngestor {
    spool_dir: PathBuf,
}

impl FileIngestor {
    /// `spool_dir` receives temporary transcoded copies of non-UTF-8 uploads.
    pub fn new(spool_dir: PathBuf) -> Self {
        Self { spool_dir }
    }

    /// A new file in the spool, deleted when dropped.
    fn spool_file(&self) -> Result<tempfile::NamedTempFile, IngestError> {
        tempfile::NamedTempFile::new_in(&self.spool_dir).map_err(|e| IngestError::Io(e.to_string()))
    }

    /// Reads an uncompressed upload whose first bytes are `head`.
    fn ingest_table(
        &self,
        upload: &Path,
        head: &[u8],
        normalized: &Path,
        limits: &IngestLimits,
        hints: &ReadHints,
    ) -> Result<IngestedTable, IngestError> {
        let mut reading = csv_ingest::CsvReading::from_hints(hints);
        match kind_of(head, hints, &reading)? {
            Kind::Parquet => parquet_ingest::ingest_parquet(upload, normalized, limits),
            Kind::Arrow(format) => arrow_ingest::ingest_arrow(upload, format, normalized, limits),
            Kind::Container => {
                let Some(format) = excel_ingest::detect(head, upload)? else {
                    return Err(IngestError::Io("a zip archive or compound file was not recognized".into()));
                };
                // Checked, then its sheet transcoded to CSV in the spool and read with the types
                // of its cells (and the hints' `dtypes` and missing markers).
                // A legacy `.xls` is rewritten in the spool first, holding its chosen sheet only.
                let mut rewritten = None;
                let (book, sheet) = if format == crate::domain::records::TableFormat::Xls {
                    let copy = rewritten.insert(self.spool_file()?);
                    let done = xls_guard::rewrite(upload, hints.sheet.as_deref(), copy.as_file_mut(), limits)?;
                    tracing::debug!(sheet = done.sheet, footprint = ?done.footprint, "xls rewritten");
                    (copy.path().to_path_buf(), None)
                } else {
                    excel_ingest::check_container(upload, format, limits)?;
                    (upload.to_path_buf(), hints.sheet.as_deref())
                };
                let mut spooled = self.spool_file()?;
                let header = hints.header != Some(false);
                let markers = reading.markers.as_ref();
                let sheet_reading = excel_ingest::transcode_to_csv(
                    &book,
                    format,
                    sheet,
                    header,
                    markers,
                    spooled.as_file_mut(),
                    limits,
                )?;
                drop(rewritten);
                let reading =
                    csv_ingest::CsvReading { dtypes: reading.dtypes, markers: reading.markers, ..sheet_reading };
                let mut table = csv_ingest::ingest_csv(spooled.path(), normalized, limits, &self.spool_dir, &reading)
                    .map_err(of_transcoded)?;
                table.format = SourceFormat { table: format, compression: None };
                Ok(table)
            }
            Kind::Json(format) => {
                // Transcoded to CSV in the spool (deleted when done), then read with that dialect.
                let mut spooled = self.spool_file()?;
                json_ingest::transcode_to_csv(upload, format, spooled.as_file_mut(), limits)?;
                reading.dialect = Some(sniff::Dialect { delimiter: b',', has_header: true, row_names: false });
                reading.encoding = None;
                let mut table = csv_ingest::ingest_csv(spooled.path(), normalized, limits, &self.spool_dir, &reading)
                    .map_err(of_transcoded)?;
                table.format = SourceFormat { table: format, compression: None };
                Ok(table)
            }
            Kind::Text => csv_ingest::ingest_csv(upload, normalized, limits, &self.spool_dir, &reading),
        }
    }

    /// Reads a compressed upload. Its decompression into the spool runs on a thread of its
    /// own; a CSV text in UTF-8 is parsed while it is being written (see
    /// [`growing`](growing)), anything else once it is whole. The decompression's errors come
    /// first (a damaged or too large file is refused as such, whatever the parse saw), and a
    /// text that turns out not to be UTF-8 is read again whole, its encoding detected.
    fn ingest_compressed(
        &self,
        upload: &Path,
        compression: Compression,
        normalized: &Path,
        limits: &IngestLimits,
        hints: &ReadHints,
    ) -> Result<IngestedTable, IngestError> {
        let started = std::time::Instant::now();
        let spooled = self.spool_file()?;
        let out = spooled.reopen().map_err(|e| IngestError::Io(e.to_string()))?;
        let decompression = compressed::Decompression::start(upload, compression, out, limits)?;
        let text = growing::TextFile::growing(spooled.path(), decompression.growth());
        let inner = match read_text_head(&text) {
            Ok(inner) => inner,
            Err(e) => return Err(decompression.finish().err().unwrap_or(e)),
        };
        let reading = csv_ingest::CsvReading::from_hints(hints);
        let streamed = if Compression::detect(&inner).is_none()
            && matches!(kind_of(&inner, hints, &reading), Ok(Kind::Text))
            && reading.encoding.is_none_or(|e| e == encoding_rs::UTF_8)
        {
            let utf8 = encoding::Utf8Text::being_written(text, inner.starts_with(UTF8_BOM));
            Some(csv_ingest::ingest_utf8_text(&utf8, normalized, limits, &reading))
        } else {
            None
        };
        let done = decompression.finish()?;
        tracing::debug!(
            compression = compression.name(),
            bytes = done.bytes,
            utf8 = done.utf8,
            streamed = streamed.is_some(),
            ms = started.elapsed().as_millis() as u64,
            "decompressed an upload"
        );
        if Compression::detect(&inner).is_some() {
            return Err(IngestError::Invalid(format!(
                "the {}-compressed file holds another compressed file: decompress it once before uploading",
                compression.name()
            )));
        }
        let table = match streamed {
            Some(result) if done.utf8 => result,
            // Not parsed while written, or not UTF-8 after all: read whole, as any upload.
            _ => self.ingest_table(spooled.path(), &inner, normalized, limits, hints),
        };
        let mut table = table?;
        table.format.compression = Some(compression);
        Ok(table)
    }
}

/// An error of the CSV text a JSON or spreadsheet upload was transcoded to: a line of that text
/// is not one of the upload, so only the reason is kept (a refused cell's names its data row).
fn of_transcoded(e: IngestError) -> IngestError {
    match e {
        IngestError::InvalidAt { reason, .. } => IngestError::Invalid(reason),
        e => e,
    }
}

/// A UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// What an uncompressed upload is, from its first bytes.
enum Kind {
    Parquet,
    Arrow(crate::domain::records::TableFormat),
    /// A zip archive or an Office compound file: a spreadsheet, or refused as not one.
    Container,
    Json(crate::domain::records::TableFormat),
    /// CSV text (in any encoding).
    Text,
}

/// What the upload whose first bytes are `head` is, or why it is refused from them alone.
fn kind_of(head: &[u8], hints: &ReadHints, reading: &csv_ingest::CsvReading) -> Result<Kind, IngestError> {
    let typed = if head.starts_with(PARQUET_MAGIC) {
        Some("a Parquet")
    } else {
        arrow_ingest::detect(head).map(|_| "an Arrow")
    };
    if let Some(typed) = typed
        && !hints.dtypes.is_empty()
    {
        return Err(IngestError::Invalid(format!(
            "dtypes applies to text files (CSV, JSON, spreadsheets): the columns of {typed} file keep their types"
        )));
    }
    if head.starts_with(PARQUET_MAGIC) {
        return Ok(Kind::Parquet);
    }
    if let Some(format) = arrow_ingest::detect(head) {
        return Ok(Kind::Arrow(format));
    }
    if arrow_ingest::is_feather_v1(head) {
        return Err(IngestError::Invalid(
            "the file is Feather version 1, which is not read: write it again as Feather version 2 (pyarrow's default) or Arrow IPC".into(),
        ));
    }
    if excel_ingest::is_container(head) {
        return Ok(Kind::Container);
    }
    if let Some(format) = json_ingest::detect(head) {
        return Ok(Kind::Json(format));
    }
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    if utf16 {
        // JSON in UTF-16 would otherwise be read as CSV text after transcoding.
        let encoding = if head.starts_with(&[0xFF, 0xFE]) { encoding_rs::UTF_16LE } else { encoding_rs::UTF_16BE };
        let (text, _) = encoding.decode_with_bom_removal(head);
        if json_ingest::detect(text.as_bytes()).is_some() {
            return Err(IngestError::Invalid(
                "the file is JSON in UTF-16: JSON is read in UTF-8 only; convert it to UTF-8".into(),
            ));
        }
    }
    // Text in UTF-16 holds NUL bytes; the `encoding` hint may say so when no mark does.
    let wide = utf16 || reading.encoding.is_some_and(|e| e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE);
    if !wide && memchr::memchr(0, head).is_some() {
        return Err(IngestError::Invalid(
            "the file is binary (it contains NUL bytes): upload CSV, JSON Lines or JSON text, a Parquet, Arrow IPC (Feather) or Excel file, compressed with gzip, zstd, bzip2 or xz or not".into(),
        ));
    }
    Ok(Kind::Text)
}

/// The first [`BINARY_PROBE`] bytes of a file, complete or still being written (an empty file
/// is [`IngestError::Empty`]).
fn read_text_head(text: &growing::TextFile) -> Result<Vec<u8>, IngestError> {
    let mut head = Vec::with_capacity(BINARY_PROBE);
    text.open_at(0)
        .and_then(|r| r.take(BINARY_PROBE as u64).read_to_end(&mut head))
        .map_err(|e| IngestError::Io(e.to_string()))?;
    if head.is_empty() {
        return Err(IngestError::Empty);
    }
    Ok(head)
}

impl TableIngestor for FileIngestor {
    fn ingest(
        &self,
        upload: &Path,
        normalized: &Path,
        limits: &IngestLimits,
        hints: &ReadHints,
    ) -> Result<IngestedTable, IngestError> {
        let head = read_text_head(&growing::TextFile::complete(upload))?;
        match Compression::detect(&head) {
            None => self.ingest_table(upload, &head, normalized, limits, hints),
            Some(compression) => self.ingest_compressed(upload, compression, normalized, limits, hints),
        }
    }

    fn check_values(
        &self,
        normalized: &Path,
        contract: &Contract,
        columns: &[usize],
        names: &[String],
    ) -> Result<Vec<Violation>, IngestError> {
        // Each column is checked on its own (its own reader, projected to it), on up to the
        // worker threads at once; the violations come back in column order.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let found: Vec<std::sync::Mutex<Option<Result<Vec<Violation>, IngestError>>>> =
            columns.iter().map(|_| std::sync::Mutex::new(None)).collect();
        let workers = crate::ports::system::worker_threads().clamp(1, columns.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                // A worker that cannot start leaves its columns to the others (or, with none,
                // unchecked: reported as an error below).
                let _ = std::thread::Builder::new().name("contract-check".into()).spawn_scoped(scope, || {
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let (Some(&column), Some(name)) = (columns.get(k), names.get(k)) else { return };
                        let result = check_column(normalized, contract, column, name);
                        *found[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                    }
                });
            }
        });
        let mut violations = Vec::new();
        for slot in found {
            let result = slot.into_inner().unwrap_or_else(|p| p.into_inner());
            violations.extend(result.unwrap_or_else(|| Err(IngestError::Io("a column was not checked".into())))?);
        }
        Ok(violations)
    }
}

/// The [`TableSource`] and [`TableExporter`] over the artifact store.
pub struct StoredTables {
    store: Arc<dyn ArtifactStore>,
}

impl StoredTables {
    pub fn new(store: Arc<dyn ArtifactStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl TableExporter for StoredTables {
    async fn export(&self, key: &str, format: TableFormat) -> Result<ByteStream, StoreError> {
        let store = Arc::clone(&self.store);
        match format {
            // Text formats: row groups encoded in parallel, in order.
            TableFormat::Csv(options) => {
                parquet_source::encode_row_groups(store, key, move |batch, first| {
                    csv_export::encode_batch(batch, first, options)
                })
                .await
            }
            TableFormat::Jsonl => {
                parquet_source::encode_row_groups(store, key, |batch, _| stream_export::jsonl_batch(batch)).await
            }
            TableFormat::Parquet | TableFormat::ArrowIpc => {
                let (schema, batches) = parquet_source::read_columns(store, key, None, false).await?;
                Ok(self.encode(schema, batches, format))
            }
        }
    }

    fn encode(&self, schema: SchemaRef, batches: BatchStream, format: TableFormat) -> ByteStream {
        match format {
            TableFormat::Csv(options) => csv_export::encode(batches, options),
            TableFormat::Jsonl => stream_export::jsonl(batches),
            TableFormat::Parquet => stream_export::parquet(schema, batches),
            TableFormat::ArrowIpc => stream_export::arrow_ipc(schema, batches),
        }
    }

    async fn xlsx(&self, key: &str, work_dir: &Path, created: i64) -> Result<ByteStream, ExportError> {
        use futures_util::StreamExt;
        let mut batches = parquet_source::read_batches(Arc::clone(&self.store), key, None, false).await?;
        let file = tempfile::Builder::new()
            .prefix("export-")
            .suffix(".xlsx")
            .tempfile_in(work_dir)
            .map_err(|e| StoreError::other_caused_by("cannot create an export file", e))?
            .into_temp_path();
        let (path, dir) = (file.to_path_buf(), work_dir.to_path_buf());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut writer = xlsx_export::XlsxWriter::new(&dir, created)?;
            while let Some(batch) = handle.block_on(batches.next()) {
                writer.write_batch(&batch?)?;
            }
            writer.save(&path)
        })
        .await
        .map_err(|e| StoreError::other_caused_by("the export task failed", e))??;
        let opened = tokio::fs::File::open(&file)
            .await
            .map_err(|e| StoreError::other_caused_by("cannot read the export file", e))?;
        // The stream owns the temporary file, which is deleted when the download ends.
        let stream = tokio_util::io::ReaderStream::new(opened).map(move |chunk| {
            let _keep = &file;
            chunk.map_err(|e| StoreError::other_caused_by("reading the export file", e))
        });
        Ok(stream.boxed())
    }
}

#[async_trait]
impl TableSource for StoredTables {
    async fn batches(&self, key: &str, columns: Option<Vec<usize>>) -> Result<BatchStream, StoreError> {
        parquet_source::read_batches(Arc::clone(&self.store), key, columns, false).await
    }

    async fn batches_with_dictionaries(
        &self,
        key: &str,
        columns: Option<Vec<usize>>,
    ) -> Result<BatchStream, StoreError> {
        parquet_source::read_batches(Arc::clone(&self.store), key, columns, true).await
    }

    async fn content_digests(&self, key: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        use futures_util::StreamExt;
        let (schema, mut batches) = parquet_source::read_columns(Arc::clone(&self.store), key, None, false).await?;
        let unhashable =
            |e: crate::domain::content_hash::UnhashableType| StoreError::other_caused_by("hashing a stored table", e);
        let mut digests = crate::domain::content_hash::TableDigests::new(&schema).map_err(unhashable)?;
        while let Some(batch) = batches.next().await {
            digests.update(&batch?).map_err(unhashable)?;
        }
        Ok(digests.finish())
    }
}

/// The contract's value checks of one column of a normalized file.
fn check_column(path: &Path, contract: &Contract, column: usize, name: &str) -> Result<Vec<Violation>, IngestError> {
    let reading = |e: &dyn std::fmt::Display| IngestError::Io(format!("reading the normalized file: {e}"));
    let file = std::fs::File::open(path).map_err(|e| IngestError::Io(e.to_string()))?;
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| reading(&e))?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [column]);
    let reader = builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(|e| reading(&e))?;
    let mut check = TableCheck::new(contract, &[name.to_string()]);
    for batch in reader {
        check.observe(&batch.map_err(|e| reading(&e))?);
    }
    Ok(check.finish())
}
