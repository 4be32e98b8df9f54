//! The content digests of a table converted block by block on several threads, computed
//! while the blocks are converted.
//!
//! A column's digest (see `domain::content_hash`) is a SHA-256 over its cells in row order, so
//! it cannot be split between threads: the batches of block k must be hashed after every batch
//! of the blocks before it. A [`DigestRelay`] takes each worker's batches as they are made
//! ([`add`](DigestRelay::add), [`end`](DigestRelay::end)) and one thread of its own
//! ([`run`](DigestRelay::run)) hashes them in block order: the batches of the block in turn as
//! they come, a later block's batches once every block before it ended and was hashed. No
//! worker hashes, so no worker falls behind another by hashing for it.
//!
//! Memory: a later block's batches are held (their arrays) until their turn, at most
//! [`HOLD_BYTES`] in all. A worker whose batch would pass the limit waits for room; the worker
//! of the block in turn never waits (its batches are never held for long: the hashing thread
//! takes them as they come), so every wait ends. The digests never depend on how the work was
//! timed: a relay gives either the digests of every block's batches in block order or nothing
//! (after [`abandon`](DigestRelay::abandon): the pass was given up, a block failed, or the
//! hashing thread met a batch it cannot hash — then the caller reads the digests back from the
//! written file, as for a relay that never ran).

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use crate::domain::content_hash::TableDigests;

/// Most bytes of arrays held by a relay for blocks whose turn has not come (a block of 16 MiB
/// of CSV text makes about 20 MB of arrays on the benchmark). Two workers that start together
/// settle half a block apart after a first wait, so that about half a block waits at a time;
/// 32 MiB was no faster and peaked 10–20 MiB higher (BENCHMARKS.md, session 17).
pub const HOLD_BYTES: usize = 16 << 20;

/// Hashes the batches of numbered blocks in block order, whichever thread makes them.
pub struct DigestRelay {
    state: Mutex<State>,
    /// Wakes the hashing thread: a batch or end of the block in turn, a close, an abandon.
    work: Condvar,
    /// Wakes the workers waiting for room: bytes hashed, the turn moved, an abandon.
    room: Condvar,
    hold_bytes: usize,
}

#[derive(Default)]
struct State {
    /// The block whose batches are hashed next.
    turn: usize,
    /// The batches not hashed yet, by block.
    waiting: BTreeMap<usize, Waiting>,
    /// Bytes of arrays in `waiting` and being hashed.
    held: usize,
    /// The number of blocks, once every block was added and ended.
    closed: Option<usize>,
    /// Nothing more is kept or hashed; [`DigestRelay::run`] gives nothing.
    abandoned: bool,
    /// The most bytes held at once, and how long workers waited for room (for the log).
    most_held: usize,
    waited: Duration,
}

#[derive(Default)]
struct Waiting {
    batches: Vec<RecordBatch>,
    ended: bool,
}

impl DigestRelay {
    /// A relay holding at most `hold_bytes` of later blocks' batches (0: a block's batches
    /// wait for its turn before they are added).
    pub fn with_limit(hold_bytes: usize) -> Self {
        Self { state: Mutex::new(State::default()), work: Condvar::new(), room: Condvar::new(), hold_bytes }
    }

    /// Adds the next batch of block `block` (batches of one block come from one thread, in
    /// order); waits while the batch would pass the limit and the block is not in turn.
    pub fn add(&self, block: usize, batch: RecordBatch) {
        let bytes = batch.get_array_memory_size();
        let mut state = self.lock();
        let must_wait = |state: &State| !state.abandoned && block != state.turn && state.held + bytes > self.hold_bytes;
        if must_wait(&state) {
            let waiting_since = Instant::now();
            while must_wait(&state) {
                state = self.room.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.waited += waiting_since.elapsed();
        }
        if state.abandoned {
            return;
        }
        state.held += bytes;
        state.most_held = state.most_held.max(state.held);
        state.waiting.entry(block).or_default().batches.push(batch);
        if block == state.turn {
            self.work.notify_one();
        }
    }

    /// Block `block` has no more batches.
    pub fn end(&self, block: usize) {
        let mut state = self.lock();
        if state.abandoned {
            return;
        }
        state.waiting.entry(block).or_default().ended = true;
        if block == state.turn {
            self.work.notify_one();
        }
    }

    /// Every block `0..blocks` was added and ended: [`run`](Self::run) returns once they are
    /// hashed.
    pub fn close(&self, blocks: usize) {
        self.lock().closed = Some(blocks);
        self.work.notify_one();
    }

    /// Gives up: drops what is held, wakes every waiting thread; [`run`](Self::run) gives
    /// nothing.
    pub fn abandon(&self) {
        let mut state = self.lock();
        state.abandoned = true;
        state.waiting.clear();
        state.held = 0;
        drop(state);
        self.work.notify_all();
        self.room.notify_all();
    }

    /// A guard that abandons the relay when dropped unless the relay was closed: the thread
    /// that closes it holds one, so that no worker waits for a relay nobody will close.
    pub fn abandon_on_drop(&self) -> AbandonUnlessClosed<'_> {
        AbandonUnlessClosed(self)
    }

    /// Hashes the blocks in turn, on the calling thread, until the relay is closed and every
    /// block hashed (then gives every column's digest, for tables of `schema`: canonical
    /// column types) or abandoned (then gives `None`). A relay whose hashing thread unwinds is
    /// abandoned, so no worker waits for it.
    pub fn run(&self, schema: &Schema) -> Option<Vec<[u8; 32]>> {
        let _abandon_on_unwind = self.abandon_on_drop();
        let digests = run_in_turn(self, schema);
        if digests.is_none() {
            self.abandon();
        }
        let state = self.lock();
        tracing::debug!(
            digested = digests.is_some(),
            most_held_mib = state.most_held >> 20,
            waited_for_room_ms = state.waited.as_millis() as u64,
            "content digests while converting"
        );
        digests
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Abandons its relay when dropped, unless the relay was closed.
pub struct AbandonUnlessClosed<'a>(&'a DigestRelay);

impl Drop for AbandonUnlessClosed<'_> {
    fn drop(&mut self) {
        if self.0.lock().closed.is_none() {
            self.0.abandon();
        }
    }
}

fn run_in_turn(relay: &DigestRelay, schema: &Schema) -> Option<Vec<[u8; 32]>> {
    let mut digests = TableDigests::new(schema).ok()?;
    let mut state = relay.lock();
    loop {
        if state.abandoned {
            return None;
        }
        if state.closed == Some(state.turn) {
            return Some(digests.finish());
        }
        let turn = state.turn;
        match state.waiting.get_mut(&turn) {
            Some(waiting) if !waiting.batches.is_empty() => {
                let batches = std::mem::take(&mut waiting.batches);
                drop(state);
                let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                let hashed = batches.iter().try_for_each(|batch| digests.update(batch));
                drop(batches);
                state = relay.lock();
                // A batch of another type than the schema's: no digest can be right.
                hashed.ok()?;
                // An abandoned relay counts nothing any more.
                state.held = state.held.saturating_sub(bytes);
                relay.room.notify_all();
            }
            Some(waiting) if waiting.ended => {
                state.waiting.remove(&turn);
                state.turn += 1;
                relay.room.notify_all();
            }
            _ => state = relay.work.wait(state).unwrap_or_else(|p| p.into_inner()),
        }
    }
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
        let mut digests = TableDigests::new(&schema()).unwrap();
        batches.iter().for_each(|batch| digests.update(batch).unwrap());
        digests.finish()
    }

    /// `blocks[k]`: the batches of block k (some blocks have none).
    fn blocks() -> Vec<Vec<RecordBatch>> {
        (0..7i64).map(|k| (0..k % 3).map(|b| batch(k * 100 + b * 10, 10)).collect()).collect()
    }

    /// Runs a relay of `hold_bytes` with its hashing thread while `feed` adds and ends the
    /// blocks, then closes it after `blocks` blocks.
    fn relayed(hold_bytes: usize, blocks: usize, feed: impl FnOnce(&DigestRelay)) -> Option<Vec<[u8; 32]>> {
        let relay = DigestRelay::with_limit(hold_bytes);
        std::thread::scope(|scope| {
            let hashing = scope.spawn(|| relay.run(&schema()));
            feed(&relay);
            relay.close(blocks);
            hashing.join().unwrap()
        })
    }

    #[test]
    fn blocks_added_in_any_order_give_the_digests_of_their_batches_in_block_order() {
        let blocks = blocks();
        let all: Vec<RecordBatch> = blocks.iter().flatten().cloned().collect();
        // Later blocks first, and each block's end before or after another block's batches.
        for order in [vec![6, 5, 4, 3, 2, 1, 0], vec![1, 0, 3, 2, 5, 4, 6], vec![0, 1, 2, 3, 4, 5, 6]] {
            let digests = relayed(HOLD_BYTES, blocks.len(), |relay| {
                for &k in &order {
                    for b in &blocks[k] {
                        relay.add(k, b.clone());
                    }
                    relay.end(k);
                }
            });
            assert_eq!(digests, Some(sequential(&all)), "order {order:?}");
        }
    }

    #[test]
    fn blocks_made_on_several_threads_give_the_sequential_digests_whatever_the_limit() {
        let blocks = blocks();
        let all: Vec<RecordBatch> = blocks.iter().flatten().cloned().collect();
        let one = batch(0, 10).get_array_memory_size();
        // No room (a later block waits for its turn), room for one batch, room for all.
        for hold_bytes in [0, one, HOLD_BYTES] {
            let digests = relayed(hold_bytes, blocks.len(), |relay| {
                std::thread::scope(|scope| {
                    for w in 0..3 {
                        let blocks = &blocks;
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
            });
            assert_eq!(digests, Some(sequential(&all)), "hold {hold_bytes}");
        }
    }

    #[test]
    fn a_later_block_waits_for_room_until_the_block_in_turn_is_hashed() {
        let one = batch(0, 100).get_array_memory_size();
        let relay = DigestRelay::with_limit(one);
        let added = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let hashing = scope.spawn(|| relay.run(&schema()));
            let later = scope.spawn(|| {
                // Block 1's first batch fits the limit; the second waits for block 0.
                for b in 0..2 {
                    relay.add(1, batch(100 + b * 100, 100));
                    added.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                relay.end(1);
            });
            while added.load(std::sync::atomic::Ordering::SeqCst) < 1 {
                std::thread::yield_now();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(added.load(std::sync::atomic::Ordering::SeqCst), 1, "the second batch waits for room");
            relay.add(0, batch(0, 100));
            relay.end(0);
            later.join().unwrap();
            relay.close(2);
            let all: Vec<RecordBatch> = (0..3).map(|b| batch(b * 100, 100)).collect();
            assert_eq!(hashing.join().unwrap(), Some(sequential(&all)));
        });
    }

    #[test]
    fn an_abandoned_relay_gives_nothing_and_frees_the_waiting_workers() {
        let relay = DigestRelay::with_limit(0);
        std::thread::scope(|scope| {
            let hashing = scope.spawn(|| relay.run(&schema()));
            // Block 1 waits for its turn, which never comes: block 0 failed.
            let later = scope.spawn(|| relay.add(1, batch(0, 10)));
            relay.add(0, batch(0, 10));
            relay.abandon();
            later.join().unwrap();
            assert_eq!(hashing.join().unwrap(), None);
        });
    }

    #[test]
    fn a_batch_that_does_not_match_the_schema_abandons_the_relay() {
        let relay = DigestRelay::with_limit(HOLD_BYTES);
        let other = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        std::thread::scope(|scope| {
            let hashing = scope.spawn(|| relay.run(&schema()));
            relay.add(0, RecordBatch::try_new(other, vec![text]).unwrap());
            relay.end(0);
            relay.close(1);
            assert_eq!(hashing.join().unwrap(), None);
        });
        // Later batches are dropped, not held.
        relay.add(1, batch(0, 10));
        assert_eq!(relay.lock().held, 0);
    }
}
