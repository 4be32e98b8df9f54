//! The artifact store seen as an `object_store::ObjectStore`, the interface DataFusion reads
//! files through. Read-only: DataFusion only stats and range-reads the normalized Parquet
//! files of the versions a query names; every write, copy, delete and listing is refused
//! (`NotSupported`), so a query cannot change or enumerate the store.
//!
//! Sizes are known from the metadata (the artifact rows) or asked once per key and kept: an
//! artifact is written once and never changes.
//!
//! Reads run on the server's own runtime (`io`), not on the query threads: a store's I/O may
//! use blocking threads, and the query runtime's threads carry large stacks (see
//! `QUERY_THREAD_STACK`), which would multiply its address space.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::ports::StoreError;
use crate::ports::artifacts::ArtifactStore;

/// The name DataFusion knows this store by, in table URLs (`artifacts://store/KEY`).
pub const SCHEME: &str = "artifacts";

/// A read-only view of the artifact store.
pub struct ArtifactObjects {
    store: Arc<dyn ArtifactStore>,
    /// Object sizes already known, by key.
    sizes: Mutex<HashMap<String, u64>>,
    /// The runtime reads run on.
    io: tokio::runtime::Handle,
}

impl ArtifactObjects {
    /// Reads will run on `io`.
    pub fn new(store: Arc<dyn ArtifactStore>, io: tokio::runtime::Handle) -> Self {
        Self { store, sizes: Mutex::default(), io }
    }

    /// `read(store)` on the I/O runtime.
    async fn on_io<T, F>(
        &self,
        key: &str,
        read: impl FnOnce(Arc<dyn ArtifactStore>, String) -> F,
    ) -> object_store::Result<T>
    where
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let task = self.io.spawn(read(Arc::clone(&self.store), key.to_string()));
        match task.await {
            Ok(result) => result.map_err(|e| read_error(key, e)),
            Err(e) => Err(object_store::Error::Generic { store: SCHEME, source: Box::new(e) }),
        }
    }

    /// Records the size of `key` (from its artifact row), so that reading it asks nothing more.
    pub fn know_size(&self, key: &str, size: u64) {
        self.sizes.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_string(), size);
    }

    async fn size(&self, key: &str) -> object_store::Result<u64> {
        if let Some(&size) = self.sizes.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Ok(size);
        }
        let size = self.on_io(key, |store, key| async move { store.size(&key).await }).await?;
        self.know_size(key, size);
        Ok(size)
    }
}

impl fmt::Display for ArtifactObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the artifact store (read-only)")
    }
}

impl fmt::Debug for ArtifactObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArtifactObjects")
    }
}

fn read_error(key: &str, e: StoreError) -> object_store::Error {
    match e {
        StoreError::NotFound => object_store::Error::NotFound { path: key.to_string(), source: Box::new(e) },
        other => object_store::Error::Generic { store: SCHEME, source: Box::new(other) },
    }
}

fn refused(what: &str) -> object_store::Error {
    object_store::Error::NotSupported { source: format!("{what} is not allowed: artifacts are read-only here").into() }
}

/// Artifacts carry no modification time here: none is needed to read them (they never change).
fn meta(location: &Path, size: u64) -> ObjectMeta {
    ObjectMeta {
        location: location.clone(),
        last_modified: DateTime::<Utc>::UNIX_EPOCH,
        size,
        e_tag: None,
        version: None,
    }
}

#[async_trait]
impl ObjectStore for ArtifactObjects {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> object_store::Result<PutResult> {
        Err(refused("writing"))
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(refused("writing"))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let key = location.as_ref();
        let size = self.size(key).await?;
        let range = match &options.range {
            Some(r) => {
                r.as_range(size).map_err(|e| object_store::Error::Generic { store: SCHEME, source: Box::new(e) })?
            }
            None => 0..size,
        };
        let payload = if options.head || range.is_empty() {
            stream::empty().boxed()
        } else {
            let part = range.clone();
            let bytes = self.on_io(key, |store, key| async move { store.read_range(&key, part).await }).await?;
            stream::once(async move { Ok(bytes) }).boxed()
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta: meta(location, size),
            range,
            attributes: Default::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        let key = location.as_ref();
        let reads = ranges.iter().map(|r| async move {
            if r.is_empty() {
                return Ok(Bytes::new());
            }
            let part = r.clone();
            self.on_io(key, |store, key| async move { store.read_range(&key, part).await }).await
        });
        futures_util::future::try_join_all(reads).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(refused("deleting"))).boxed()
    }

    fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        stream::once(async { Err(refused("listing")) }).boxed()
    }

    async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
        Err(refused("listing"))
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(refused("copying"))
    }
}
