//! The [`ArtifactStore`] on OpenDAL. Only the local filesystem is wired so far; object stores
//! are the subject of the backends issue. OpenDAL errors are translated in [`store_error`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use opendal::{ErrorKind, Operator};
use tokio::io::AsyncReadExt;

use crate::ports::StoreError;
use crate::ports::artifacts::{ArtifactStore, ByteStream};

/// Size of the chunks written to and read from the store.
const CHUNK: usize = 8 << 20;
const READ_CHUNK: usize = 1 << 20;

fn store_error(e: opendal::Error) -> StoreError {
    match e.kind() {
        ErrorKind::NotFound => StoreError::NotFound,
        ErrorKind::AlreadyExists | ErrorKind::ConditionNotMatch => StoreError::Conflict(e.to_string()),
        _ if e.is_temporary() => StoreError::Unavailable(e.to_string()),
        ErrorKind::PermissionDenied | ErrorKind::ConfigInvalid => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Other(format!("local file: {e}"))
}

pub struct OpendalStore {
    op: Operator,
    /// A human-readable name of the backend for messages (`fs:/path`).
    name: String,
    /// For the filesystem backend: its root and staging folder, so that a local file on the
    /// same filesystem can be linked into place instead of copied.
    local: Option<(PathBuf, PathBuf)>,
}

impl OpendalStore {
    /// A store in the local folder `root` (created when missing). Writes go to a temporary
    /// folder inside it first and are renamed into place, so no reader sees a partial file.
    pub fn filesystem(root: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::Unavailable(format!("{}: {e}", root.display())))?;
        let root: PathBuf =
            root.canonicalize().map_err(|e| StoreError::Unavailable(format!("{}: {e}", root.display())))?;
        let staging = root.join(".staging");
        let builder =
            opendal::services::Fs::default().root(&root.to_string_lossy()).atomic_write_dir(&staging.to_string_lossy());
        let op = Operator::new(builder).map_err(store_error)?;
        std::fs::create_dir_all(&staging)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", staging.display())))?;
        Ok(Self { op, name: format!("fs:{}", root.display()), local: Some((root, staging)) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl OpendalStore {
    /// On the filesystem backend, hard-links `source` to a staging name and renames it to
    /// `key`: atomic, and no byte is copied. `None` when not possible (another backend, another
    /// filesystem), so that the caller copies instead.
    fn link_into_place(&self, key: &str, source: &Path) -> Result<Option<u64>, StoreError> {
        let Some((root, staging)) = &self.local else { return Ok(None) };
        let target = root.join(key);
        if key.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(StoreError::Other(format!("invalid artifact key {key:?}")));
        }
        let temp = staging.join(uuid::Uuid::new_v4().to_string());
        if std::fs::hard_link(source, &temp).is_err() {
            return Ok(None);
        }
        // A link keeps the source's modification time; the sweeper judges an unreferenced
        // file's age by it, so the placed file must be as new as its placing.
        let placed = std::fs::File::options()
            .write(true)
            .open(&temp)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .and_then(|()| target.parent().map_or(Ok(()), std::fs::create_dir_all))
            .and_then(|()| std::fs::rename(&temp, &target))
            .and_then(|()| std::fs::metadata(&target).map(|m| m.len()));
        match placed {
            Ok(size) => Ok(Some(size)),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(StoreError::Other(format!("placing {key}: {e}")))
            }
        }
    }
}

#[async_trait]
impl ArtifactStore for OpendalStore {
    async fn put_file(&self, key: &str, source: &Path) -> Result<u64, StoreError> {
        if let Some(size) = self.link_into_place(key, source)? {
            return Ok(size);
        }
        let mut file = tokio::fs::File::open(source).await.map_err(io_error)?;
        let mut writer = self.op.writer_with(key).chunk(CHUNK).await.map_err(store_error)?;
        let mut total = 0u64;
        let result: Result<(), StoreError> = async {
            loop {
                let mut buf = Vec::with_capacity(CHUNK);
                let n = (&mut file).take(CHUNK as u64).read_to_end(&mut buf).await.map_err(io_error)?;
                if n == 0 {
                    return Ok(());
                }
                total += n as u64;
                writer.write(Bytes::from(buf)).await.map_err(store_error)?;
            }
        }
        .await;
        match result {
            Ok(()) => {
                writer.close().await.map_err(store_error)?;
                Ok(total)
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(key, error = %abort, "could not abort a failed artifact write");
                }
                Err(e)
            }
        }
    }

    async fn size(&self, key: &str) -> Result<u64, StoreError> {
        Ok(self.op.stat(key).await.map_err(store_error)?.content_length())
    }

    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        Ok(self.op.read_with(key).range(range).await.map_err(store_error)?.to_bytes())
    }

    async fn read_stream(&self, key: &str) -> Result<ByteStream, StoreError> {
        let size = self.size(key).await?;
        let reader = self.op.reader_with(key).chunk(READ_CHUNK).await.map_err(store_error)?;
        let stream = reader.into_bytes_stream(0..size).await.map_err(store_error)?;
        Ok(stream.map_err(|e| StoreError::Other(e.to_string())).boxed())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.op.delete(key).await.map_err(store_error)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let entries = match self.op.list_with(prefix).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(store_error(e)),
        };
        Ok(entries.into_iter().filter(|e| e.metadata().is_file()).map(|e| e.path().to_string()).collect())
    }

    async fn modified_at(&self, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let meta = self.op.stat(key).await.map_err(store_error)?;
        Ok(meta.last_modified().map(|t| chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::from(t))))
    }

    async fn probe(&self) -> Result<(), StoreError> {
        let key = format!("probe/{}", uuid::Uuid::new_v4());
        let body = Bytes::from_static(b"datasets-api probe");
        self.op.write(&key, body.clone()).await.map_err(store_error)?;
        let read = self.op.read(&key).await.map_err(store_error)?.to_bytes();
        self.op.delete(&key).await.map_err(store_error)?;
        if read != body {
            return Err(StoreError::Other("the probe object read back differently".into()));
        }
        Ok(())
    }
}
