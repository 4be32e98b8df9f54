//! One conversion pass over a CSV text's blocks (see [`csv_ingest`](super::csv_ingest), which
//! decides the types and runs the passes): one worker per core reads the blocks (block k on
//! worker k mod workers), inferring over every value and converting the cells to the pass's
//! types; the calling thread merges their inferences and writes their row groups to the
//! normalized file in block order; a thread of its own digests the columns in block order
//! ([`digest_relay`](super::digest_relay)).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::datatypes::SchemaRef;

use super::csv_blocks::{Block, BlockEnd, BlockList};
use super::csv_columns::{BlockEncoding, canonical_schema};
use super::csv_ingest::{Job, Parallelism, at_record, check_record, for_each_record, io};
use super::digest_relay::DigestRelay;
use super::sink::{EncodedRowGroup, ParquetAssembler, RowGroupEncoder, SinkSummary, read_back};
use crate::domain::dtype::DType;
use crate::domain::inference::{ColumnInference, InferredType, MixedColumn, Observed};
use crate::domain::preview::{PREVIEW_ROWS, PreviewRow};
use crate::domain::quality::QualityAccumulator;
use crate::ports::tables::IngestError;

/// Why a block could not be read. A cell that is not a value of its column's given type is
/// named by its data row, which only the merging thread knows (it receives the blocks in order
/// and counts the rows of those before): the worker gives the row within its block.
enum BlockFailure {
    NotOfGivenType { line: u64, refusal: GivenTypeRefusal },
    Other(IngestError),
}

impl From<IngestError> for BlockFailure {
    fn from(e: IngestError) -> Self {
        BlockFailure::Other(e)
    }
}

impl BlockFailure {
    /// The error of a block that follows `rows_before` data rows.
    fn after_rows(self, rows_before: u64) -> IngestError {
        match self {
            BlockFailure::NotOfGivenType { line, refusal } => {
                IngestError::InvalidAt { line, reason: refusal.message(rows_before + refusal.row_in_block) }
            }
            BlockFailure::Other(e) => e,
        }
    }
}

/// A cell that is not a value of its column's given type.
struct GivenTypeRefusal {
    /// 1-based, among the data rows of its block.
    row_in_block: u64,
    column: String,
    given: DType,
    cell: String,
    read: Observed,
}

impl GivenTypeRefusal {
    /// The refusal of the cell in data row `row` (1-based) of the file.
    fn message(&self, row: u64) -> String {
        let why = match self.read {
            Observed::AmbiguousDate => ", a date whose day/month order no value of the column decides",
            _ => "",
        };
        let (column, given, cell) = (&self.column, self.given.as_str(), &self.cell);
        format!("column {column:?} is given as {given} but data row {row} holds {cell:?}{why}")
    }
}

/// What one worker of the pass keeps across its blocks.
struct ConvertWorker<'a> {
    job: &'a Job<'a>,
    /// Refuse a value not of its column's given type (else only stop converting).
    strict: bool,
    types: &'a [InferredType],
    schema: &'a SchemaRef,
    quality: QualityAccumulator,
    relay: &'a DigestRelay,
}

/// One block read: what inference saw in it and, unless a cell did not fit its column's
/// guessed type (or another block's did first), its encoded row groups and first rows.
struct ConvertedBlock {
    inference: Vec<ColumnInference>,
    rows: u64,
    end: BlockEnd,
    encoded: Option<(Vec<EncodedRowGroup>, Vec<PreviewRow>)>,
}

impl ConvertWorker<'_> {
    /// Reads block number `k`: infers over every cell and, while `encoding` holds and every
    /// cell fits its guessed type, converts and encodes them (and hands them to the relay). A
    /// cell that does not fit clears `encoding` for every worker (the pass will be run again).
    fn block(
        &mut self,
        encoder: &RowGroupEncoder,
        block: &Block,
        k: usize,
        encoding: &AtomicBool,
    ) -> Result<ConvertedBlock, BlockFailure> {
        let (job, schema, types, strict, relay) = (self.job, self.schema, self.types, self.strict, self.relay);
        let mut inference = job.inferences();
        let mut rows = 0u64;
        let mut out = match encoding.load(Ordering::Relaxed) {
            true => Some(BlockEncoding::new(types, encoder, relay, k)?),
            false => None,
        };
        let quality = &mut self.quality;
        let mut refused = None;
        let read = for_each_record(job, block, |record| {
            check_record(record, job.width(), job.limits)?;
            rows += 1;
            match &mut out {
                Some(encoding_block) => {
                    let mut fits = true;
                    for (k, (((inference, builder), cell), guess)) in
                        inference.iter_mut().zip(&mut encoding_block.builders).zip(record.iter()).zip(types).enumerate()
                    {
                        let observed = inference.observe_as(cell, guess);
                        if !builder.append(cell, observed) {
                            if strict && job.forced[k].is_some() {
                                refused = Some(GivenTypeRefusal {
                                    row_in_block: rows,
                                    column: job.names[k].clone(),
                                    given: guess.dtype,
                                    cell: cell.to_string(),
                                    read: observed,
                                });
                                // Located here; its message is made once its data row is known.
                                return Err(at_record(record, String::new()));
                            }
                            fits = false;
                        }
                    }
                    if !fits {
                        encoding.store(false, Ordering::Relaxed);
                        // This block will not end in the relay: no later block may wait for it.
                        relay.abandon();
                        out = None;
                        return Ok(());
                    }
                    encoding_block.pending += 1;
                    if encoding_block.pending == encoding_block.per_batch {
                        let per_batch = encoding_block.per_batch;
                        encoding_block.flush(schema, quality, per_batch)?;
                    }
                }
                // A cell not of its column's given type is refused by the pass that is run again
                // (converting, with the same given types).
                None => {
                    for ((inference, cell), guess) in inference.iter_mut().zip(record.iter()).zip(types) {
                        inference.observe_as(cell, guess);
                    }
                }
            }
            Ok(())
        });
        let end = match (read.map_err(|e| job.locate(e, block.start)), refused) {
            (Ok(end), _) => end,
            (Err(IngestError::InvalidAt { line, .. }), Some(refusal)) => {
                return Err(BlockFailure::NotOfGivenType { line, refusal });
            }
            (Err(e), _) => return Err(e.into()),
        };
        let encoded = match out {
            Some(block_encoding) if encoding.load(Ordering::Relaxed) => Some(block_encoding.finish(schema, quality)?),
            _ => None,
        };
        Ok(ConvertedBlock { inference, rows, end, encoded })
    }
}

/// How a pass ended.
pub(super) enum Pass {
    Converted(Converted),
    /// A block boundary fell inside a quoted field: the pass must read the text as one block.
    Unproven,
}

/// A pass over every block.
pub(super) struct Converted {
    /// Every column's inference over all its values.
    pub(super) inference: Vec<ColumnInference>,
    pub(super) rows: u64,
    /// The row groups, preview and quality state when every cell fitted the pass's types.
    pub(super) encoded: Option<Encoded>,
}

pub(super) struct Encoded {
    /// The schema the file was written with.
    schema: SchemaRef,
    assembler: ParquetAssembler,
    quality: QualityAccumulator,
    preview: Vec<PreviewRow>,
    /// Every column's digest, unless the relay was abandoned (then they are read back).
    digests: Option<Vec<[u8; 32]>>,
}

/// One pass: `workers` threads read the blocks (block k on worker k mod workers), inferring
/// over every value and converting to `types` (the columns digested on the way, in block
/// order, by a [`DigestRelay`]), while this thread merges their inferences and writes their
/// row groups to `normalized` in block order.
pub(super) fn convert_pass(
    job: &Job<'_>,
    names: &[String],
    types: &[InferredType],
    blocks: &BlockList,
    normalized: &Path,
    parallelism: Parallelism,
    strict: bool,
) -> Result<Pass, IngestError> {
    let workers = parallelism.workers.clamp(1, blocks.known_len().unwrap_or(usize::MAX).max(1));
    let schema = canonical_schema(names, types);
    let dictionary: Vec<String> =
        names.iter().zip(types).filter(|(_, t)| t.dtype == DType::Category).map(|(name, _)| name.clone()).collect();
    let mut assembler = ParquetAssembler::create(normalized, Arc::clone(&schema), &dictionary)?;
    let encoder = assembler.encoder();
    let relay = DigestRelay::with_limit(parallelism.hold_bytes);
    let encoding = AtomicBool::new(true);
    let columns = || schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone()));
    let (parts, merged, digests) = std::thread::scope(|scope| {
        // However this scope ends, no worker waits for the relay after it.
        let _abandon = relay.abandon_on_drop();
        let (relay, schema_ref) = (&relay, &schema);
        let hashing =
            std::thread::Builder::new().name("ingest-digest".into()).spawn_scoped(scope, move || relay.run(schema_ref));
        if hashing.is_err() {
            // No thread to hash in order: the digests are read back from the written file.
            relay.abandon();
        }
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<ConvertedBlock, BlockFailure>>(1);
            receivers.push(receiver);
            let (encoder, encoding, schema) = (&encoder, &encoding, &schema);
            let quality = QualityAccumulator::new(columns());
            let mut worker = ConvertWorker { job, strict, types, schema, quality, relay };
            let spawned = std::thread::Builder::new().name("ingest-convert".into()).spawn_scoped(scope, move || {
                let (mut busy, mut waiting, mut starved) =
                    (std::time::Duration::ZERO, std::time::Duration::ZERO, std::time::Duration::ZERO);
                for k in (w..).step_by(workers) {
                    // Waiting for the text to reach the block (while it is being written).
                    let t = std::time::Instant::now();
                    let block = blocks.get(k);
                    starved += t.elapsed();
                    let t = std::time::Instant::now();
                    let result = match block {
                        Ok(Some(block)) => worker.block(encoder, &block, k, encoding),
                        Ok(None) => break,
                        Err(e) => Err(io(e).into()),
                    };
                    busy += t.elapsed();
                    let failed = result.is_err();
                    let t = std::time::Instant::now();
                    let sent = sender.send(result);
                    waiting += t.elapsed();
                    if sent.is_err() || failed {
                        break;
                    }
                }
                let t = std::time::Instant::now();
                // A pass that will be run again needs no quality state.
                if encoding.load(Ordering::Relaxed) {
                    worker.quality.settle();
                }
                tracing::debug!(
                    worker = w,
                    busy_ms = busy.as_millis() as u64,
                    starved_ms = starved.as_millis() as u64,
                    waiting_ms = waiting.as_millis() as u64,
                    settle_ms = t.elapsed().as_millis() as u64,
                    "conversion worker"
                );
                worker.quality
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    return (Vec::new(), Err(IngestError::Io(format!("cannot start a conversion worker: {e}"))), None);
                }
            }
        }
        let merged = (|| {
            let mut inference = vec![ColumnInference::default(); job.width()];
            let mut rows = 0u64;
            let mut preview: Vec<PreviewRow> = Vec::with_capacity(PREVIEW_ROWS);
            let mut count = 0;
            for k in 0.. {
                let Some(block) = blocks.get(k).map_err(io)? else { break };
                count = k + 1;
                let part = receivers[k % workers]
                    .recv()
                    .map_err(|_| IngestError::Io("a conversion worker stopped".into()))?
                    .map_err(|failure| failure.after_rows(rows))?;
                inference.iter_mut().zip(&part.inference).for_each(|(t, p)| t.merge(p));
                rows += part.rows;
                match part.encoded {
                    Some((groups, first_rows)) if encoding.load(Ordering::Relaxed) => {
                        for group in groups {
                            assembler.append(group)?;
                        }
                        let wanted = PREVIEW_ROWS - preview.len();
                        preview.extend(first_rows.into_iter().take(wanted));
                    }
                    _ => {
                        encoding.store(false, Ordering::Relaxed);
                        relay.abandon();
                    }
                }
                // Every block before this one ended where the next began, so its errors were
                // real; after an unproven end, the next block's records may not be.
                if part.end == BlockEnd::Unproven && !block.last {
                    return Ok(None);
                }
            }
            Ok::<_, IngestError>(Some((inference, rows, preview, count, encoding.load(Ordering::Relaxed))))
        })();
        match &merged {
            Ok(Some((.., count, true))) => relay.close(*count),
            _ => relay.abandon(),
        }
        // Dropping the receivers stops workers still sending after a failure or an early end.
        drop(receivers);
        encoding.store(false, Ordering::Relaxed);
        let parts: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        let digests = hashing.ok().and_then(|h| h.join().ok()).flatten();
        (parts, merged, digests)
    });
    let Some((inference, rows, preview, _, complete)) = merged? else {
        return Ok(Pass::Unproven);
    };
    let mut quality = QualityAccumulator::new(columns());
    for part in parts {
        let part = part.map_err(|_| IngestError::Io("a conversion worker failed".into()))?;
        // A pass that will be run again needs no quality state.
        if complete {
            quality.merge(part);
        }
    }
    debug_assert!(!complete || quality.rows() == rows, "every row was observed for quality");
    let encoded = complete.then_some(Encoded { schema: Arc::clone(&schema), assembler, quality, preview, digests });
    Ok(Pass::Converted(Converted { inference, rows, encoded }))
}

/// Closes the normalized file of a pass whose types were final and finishes the quality report.
pub(super) fn finish_conversion(
    converted: Converted,
    mixed: Vec<MixedColumn>,
    normalized: &Path,
    workers: usize,
) -> Result<SinkSummary, IngestError> {
    let Encoded { schema, assembler, quality, preview, digests } =
        converted.encoded.ok_or_else(|| IngestError::Io("the file changed while it was being read".into()))?;
    let sha256 = assembler.close()?;
    let closed = std::time::Instant::now();
    let rows = quality.rows();
    let digested = digests.is_some();
    let read = read_back(normalized, &schema, quality, mixed, workers, digests)?;
    tracing::debug!(read_back_ms = closed.elapsed().as_millis() as u64, digested, "CSV quality and content digests");
    Ok(SinkSummary { rows, sha256, quality: read.quality, column_digests: read.digests, preview })
}
