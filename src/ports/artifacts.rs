//! The store of artifact files (original uploads and normalized Parquet copies).

use std::ops::Range;
use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::ports::StoreError;

/// A stream of bytes read from a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>;

/// An object store of immutable files under string keys (`a/b/c.parquet`).
///
/// Contract:
/// - `put_file` is atomic: a reader sees either no object or the whole object, never a part,
///   even if the process dies during the write. It streams the file (bounded memory).
/// - Keys are written once; writing an existing key replaces it.
/// - `delete` is idempotent: deleting a missing key succeeds.
/// - Reads of a missing key fail with [`StoreError::NotFound`].
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Copies the local file at `source` to `key`; returns the number of bytes stored.
    async fn put_file(&self, key: &str, source: &Path) -> Result<u64, StoreError>;

    /// The size of the object in bytes.
    async fn size(&self, key: &str) -> Result<u64, StoreError>;

    /// The bytes of `range` (end exclusive, within the object).
    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError>;

    /// The whole object as a stream of chunks (bounded memory).
    async fn read_stream(&self, key: &str) -> Result<ByteStream, StoreError>;

    /// The bytes of `range` (end exclusive, within the object) as a stream of chunks (bounded
    /// memory, whatever the range's length).
    async fn read_range_stream(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StoreError>;

    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Every object key under `prefix` (recursively), in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// When the object was last written, if the store knows.
    async fn modified_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Writes, reads back and deletes a small probe object: proves the store is usable.
    async fn probe(&self) -> Result<(), StoreError>;
}
