//! The content digests of a table converted block by block on several threads, computed
//! while the blocks are converted.
//!
//! A column's digest (see `domain::content_hash`) is a SHA-256 over its cells in row order, so
//! it cannot be split between threads: the batches of block k must be hashed after every batch
//! of the blocks before it. A [`DigestRelay`] takes each worker's batches as they are made and
//! hashes them in order on whichever worker holds the turn: the worker of the block being
//! hashed hashes its batches as it makes them; a later block's batches wait in the relay until
//! every block before it ended and its batches were hashed (then the thread that made that
//! happen hashes them). No worker ever waits for another.
//!
//! Memory: waiting batches are held (their arrays), at most [`HOLD_BYTES`] in all. A relay
//! that would hold more gives up ([`DigestRelay::finish`] then gives nothing and the caller
//! reads the digests back from the written file, as it did before this relay existed): the
//! digests never depend on how the work was timed, only whether they are computed here.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use crate::domain::content_hash::{ColumnDigest, UnhashableType};

/// Most bytes of arrays held by a relay for blocks whose turn has not come. With two workers
/// it holds at most about one block's arrays (16 MiB of CSV text: about 20 MB on the
/// benchmark); with many workers it may give up.
pub const HOLD_BYTES: usize = 48 << 20;

/// Hashes the batches of numbered blocks in block order, whichever thread makes them.
pub struct DigestRelay {
    state: Mutex<State>,
    hold_bytes: usize,
}

struct State {
    /// The block whose batches are hashed next.
    turn: usize,
    /// The digests, or `None` while a thread hashes (or after a thread hashing panicked).
    digests: Option<Vec<ColumnDigest>>,
    /// The batches not hashed yet, by block.
    waiting: BTreeMap<usize, Waiting>,
    /// Bytes of arrays in `waiting`.
    held: usize,
    /// Set when `held` would pass the limit: nothing more is kept or hashed.
    given_up: bool,
}

#[derive(Default)]
struct Waiting {
    batches: Vec<RecordBatch>,
    ended: bool,
}

impl DigestRelay {
    /// A relay for tables of `schema` (canonical column types) holding at most [`HOLD_BYTES`].
    #[cfg(test)]
    pub fn new(schema: &Schema) -> Result<Self, UnhashableType> {
        Self::with_limit(schema, HOLD_BYTES)
    }

    /// A relay for tables of `schema` (canonical column types) holding at most `hold_bytes`.
    pub fn with_limit(schema: &Schema, hold_bytes: usize) -> Result<Self, UnhashableType> {
        let digests = schema.fields().iter().map(|f| ColumnDigest::new(f.data_type())).collect::<Result<_, _>>()?;
        let state = State { turn: 0, digests: Some(digests), waiting: BTreeMap::new(), held: 0, given_up: false };
        Ok(Self { state: Mutex::new(state), hold_bytes })
    }

    /// Adds the next batch of block `block` (batches of one block come from one thread, in
    /// order).
    pub fn add(&self, block: usize, batch: RecordBatch) {
        let mut state = self.lock();
        if state.given_up {
            return;
        }
        state.held += batch.get_array_memory_size();
        state.waiting.entry(block).or_default().batches.push(batch);
        self.hash_in_turn(state);
    }

    /// Block `block` has no more batches.
    pub fn end(&self, block: usize) {
        let mut state = self.lock();
        if state.given_up {
            return;
        }
        state.waiting.entry(block).or_default().ended = true;
        self.hash_in_turn(state);
    }

    /// Every column's digest when blocks `0..blocks` were all added and ended, and no batch
    /// was dropped; `None` otherwise (the relay gave up, a block did not end, a thread
    /// hashing panicked).
    pub fn finish(self, blocks: usize) -> Option<Vec<[u8; 32]>> {
        let state = self.state.into_inner().ok()?;
        if state.given_up || state.turn != blocks || !state.waiting.is_empty() {
            return None;
        }
        Some(state.digests?.into_iter().map(ColumnDigest::finish).collect())
    }

    /// Whether the relay gave up (it held too much).
    #[cfg(test)]
    pub fn gave_up(&self) -> bool {
        self.lock().given_up
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hashes what is waiting of the block in turn, and of the blocks after it as each ends,
    /// unless another thread is hashing (it will find what was added); then gives up if the
    /// relay holds more than its limit.
    fn hash_in_turn<'a>(&'a self, mut state: MutexGuard<'a, State>) {
        while state.digests.is_some() {
            let turn = state.turn;
            let Some(waiting) = state.waiting.get_mut(&turn) else { break };
            if waiting.batches.is_empty() {
                if !waiting.ended {
                    break;
                }
                state.waiting.remove(&turn);
                state.turn += 1;
                continue;
            }
            let batches = std::mem::take(&mut waiting.batches);
            let Some(mut digests) = state.digests.take() else { break };
            drop(state);
            let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
            let hashed = hash(&mut digests, &batches);
            drop(batches);
            state = self.lock();
            // A relay that gave up meanwhile holds nothing (and counts nothing) any more.
            if !state.given_up {
                state.held -= bytes;
            }
            if hashed.is_err() {
                // A batch of another type than the schema's: no digest can be right.
                state.given_up = true;
            }
            state.digests = Some(digests);
        }
        if state.held > self.hold_bytes {
            tracing::debug!(held = state.held, "the digests are left to the read-back: too many batches wait");
            state.given_up = true;
        }
        if state.given_up {
            state.waiting.clear();
            state.held = 0;
        }
    }
}

fn hash(digests: &mut [ColumnDigest], batches: &[RecordBatch]) -> Result<(), UnhashableType> {
    for batch in batches {
        for (digest, column) in digests.iter_mut().zip(batch.columns()) {
            digest.update(column)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true), Field::new("s", DataType::Utf8, true)]))
    }

    fn batch(from: i64, rows: i64) -> RecordBatch {
        let n: ArrayRef = Arc::new(Int64Array::from((from..from + rows).collect::<Vec<_>>()));
        let s: ArrayRef = Arc::new(StringArray::from((from..from + rows).map(|i| format!("v{i}")).collect::<Vec<_>>()));
        RecordBatch::try_new(schema(), vec![n, s]).unwrap()
    }

    /// The digests of the batches hashed one after the other on one thread.
    fn sequential(batches: &[RecordBatch]) -> Vec<[u8; 32]> {
        let mut digests: Vec<ColumnDigest> =
            schema().fields().iter().map(|f| ColumnDigest::new(f.data_type()).unwrap()).collect();
        hash(&mut digests, batches).unwrap();
        digests.into_iter().map(ColumnDigest::finish).collect()
    }

    /// `blocks[k]`: the batches of block k.
    fn blocks() -> Vec<Vec<RecordBatch>> {
        (0..7i64).map(|k| (0..k % 3).map(|b| batch(k * 100 + b * 10, 10)).collect()).collect()
    }

    #[test]
    fn blocks_added_in_any_order_give_the_digests_of_their_batches_in_block_order() {
        let blocks = blocks();
        let all: Vec<RecordBatch> = blocks.iter().flatten().cloned().collect();
        // Later blocks first, and each block's end before or after another block's batches.
        for order in [vec![6, 5, 4, 3, 2, 1, 0], vec![1, 0, 3, 2, 5, 4, 6], vec![0, 1, 2, 3, 4, 5, 6]] {
            let relay = DigestRelay::new(&schema()).unwrap();
            for &k in &order {
                for b in &blocks[k] {
                    relay.add(k, b.clone());
                }
                relay.end(k);
            }
            assert_eq!(relay.finish(blocks.len()), Some(sequential(&all)), "order {order:?}");
        }
    }

    #[test]
    fn blocks_made_on_several_threads_give_the_sequential_digests() {
        let blocks = blocks();
        let all: Vec<RecordBatch> = blocks.iter().flatten().cloned().collect();
        let relay = DigestRelay::new(&schema()).unwrap();
        std::thread::scope(|scope| {
            for w in 0..3 {
                let (relay, blocks) = (&relay, &blocks);
                scope.spawn(move || {
                    for k in (w..blocks.len()).step_by(3) {
                        for b in &blocks[k] {
                            relay.add(k, b.clone());
                        }
                        relay.end(k);
                    }
                });
            }
        });
        assert_eq!(relay.finish(blocks.len()), Some(sequential(&all)));
    }

    #[test]
    fn a_block_that_did_not_end_or_was_not_added_gives_no_digests() {
        let relay = DigestRelay::new(&schema()).unwrap();
        relay.add(0, batch(0, 5));
        relay.end(0);
        relay.add(1, batch(5, 5));
        assert_eq!(relay.finish(2), None, "block 1 did not end");
        let relay = DigestRelay::new(&schema()).unwrap();
        relay.end(0);
        relay.end(2);
        assert_eq!(relay.finish(3), None, "block 1 is missing");
    }

    #[test]
    fn a_relay_that_would_hold_more_than_its_limit_gives_up() {
        let one = batch(0, 100).get_array_memory_size();
        let relay = DigestRelay::with_limit(&schema(), one * 2).unwrap();
        // Blocks 1 to 3 wait for block 0: the third batch held is one too many.
        relay.add(1, batch(0, 100));
        relay.add(2, batch(0, 100));
        assert!(!relay.gave_up());
        relay.add(3, batch(0, 100));
        assert!(relay.gave_up());
        for k in 0..4 {
            relay.end(k);
        }
        assert_eq!(relay.finish(4), None);
        // Batches of the block in turn are hashed at once and never held.
        let relay = DigestRelay::with_limit(&schema(), one / 2).unwrap();
        for b in 0..10 {
            relay.add(0, batch(b * 100, 100));
        }
        relay.end(0);
        assert!(relay.finish(1).is_some());
    }
}
