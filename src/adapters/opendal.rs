//! The [`ArtifactStore`] on OpenDAL: a local folder, Amazon S3 (or an S3-compatible server),
//! Google Cloud Storage or Azure Blob Storage, chosen by `STORAGE_URL`.
//!
//! Errors: every OpenDAL error is read once, by [`diagnose`], into the port's kind of failure
//! and a reason a deployer can act on. An operation fails with that kind ([`store_error`]);
//! opening the store and the start-up probe fail with `Unavailable` (the store cannot be used at
//! all), worded with that reason ([`unusable`]). Local files (the file being stored, and the
//! filesystem backend's own folder) fail with `std::io::Error`s, which are not the store's
//! answers and have no kind to decide: [`local_error`] keeps each as the cause of `Other`.
//!
//! Object stores make a written object visible only when its upload completes (S3 multipart,
//! GCS resumable, Azure block list), so no reader ever sees a partial artifact; large files are
//! written in [`CHUNK`]-sized parts, so memory does not grow with the file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator};
use tokio::io::AsyncReadExt;

use crate::config::{AzblobTarget, AzureCredentials, GcsTarget, S3Target, StorageTarget};
use crate::ports::StoreError;
use crate::ports::artifacts::{ArtifactStore, ByteStream};

/// Size of the chunks written to and read from the store.
const CHUNK: usize = 8 << 20;
const READ_CHUNK: usize = 1 << 20;
/// Longest wait for one object-store call that moves no body (stat, delete, list page).
const OP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest wait for one body transfer (an 8 MiB part written, a range read).
const IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// Artifacts are stored as plain bytes; an explicit type keeps every store's answer the same.
const CONTENT_TYPE: &str = "application/octet-stream";

/// What an OpenDAL error means.
struct Diagnosis {
    kind: Kind,
    /// For a deployer: what went wrong, in words they can act on.
    why: &'static str,
}

/// The port's kinds of failure ([`StoreError`]'s variants).
enum Kind {
    NotFound,
    Conflict,
    Unavailable,
    Other,
}

/// The one reading of an OpenDAL error: by its kind, whether it may pass if retried, and the
/// store's own error code when the store sent one. (After the retry layer gave up, an error is
/// no longer "temporary".)
fn diagnose(e: &opendal::Error) -> Diagnosis {
    let kind = match e.kind() {
        ErrorKind::NotFound => Kind::NotFound,
        ErrorKind::AlreadyExists | ErrorKind::ConditionNotMatch => Kind::Conflict,
        _ if e.is_temporary() => Kind::Unavailable,
        ErrorKind::PermissionDenied | ErrorKind::ConfigInvalid => Kind::Unavailable,
        _ => Kind::Other,
    };
    let text = e.to_string();
    let missing = ["NoSuchBucket", "ContainerNotFound", "BucketNotFound"].iter().any(|code| text.contains(code));
    let why = if missing || e.kind() == ErrorKind::NotFound {
        "the bucket or container does not exist"
    } else if e.kind() == ErrorKind::PermissionDenied {
        "access denied: check the credentials and their permissions"
    } else if text.contains("error sending request") {
        "unreachable: no answer from the store's endpoint"
    } else if e.is_temporary() {
        "the store is not answering"
    } else if e.kind() == ErrorKind::ConfigInvalid {
        "invalid configuration"
    } else {
        "failed"
    };
    Diagnosis { kind, why }
}

/// An operation's error, of the kind [`diagnose`] decides.
fn store_error(e: opendal::Error) -> StoreError {
    match diagnose(&e).kind {
        Kind::NotFound => StoreError::NotFound,
        Kind::Conflict => StoreError::Conflict(e.to_string()),
        Kind::Unavailable => StoreError::Unavailable(e.to_string()),
        Kind::Other => StoreError::other_caused_by("artifact store error", e),
    }
}

/// An error of a read stream: OpenDAL's, carried inside an `io::Error`.
fn stream_error(e: std::io::Error) -> StoreError {
    match e.downcast::<opendal::Error>() {
        Ok(e) => store_error(e),
        Err(other) => StoreError::other_caused_by("reading an artifact", other),
    }
}

/// The store cannot be used at all (opening it, the start-up probe): `Unavailable`, saying at
/// which `step`, why ([`diagnose`]), and the store's own error code and message when it sent
/// one (never a credential: OpenDAL's errors carry the request's address and the response, not
/// its signature).
fn unusable(step: &str, e: &opendal::Error) -> StoreError {
    let text = e.to_string();
    // OpenDAL's message ends with the source: the service's error (code and message) or the
    // transport's; the full context (headers, request ids) goes to the debug log only.
    let detail = text.rsplit(" => ").next().unwrap_or(&text);
    let detail = if detail.len() > 300 {
        format!("{}…", &detail[..detail.floor_char_boundary(300)])
    } else {
        detail.to_string()
    };
    tracing::debug!(error = %text, step, "the artifact store is not usable");
    unusable_saying(step, e, &detail)
}

/// As [`unusable`], naming only the error's kind: OpenDAL's message about a connection string
/// may quote the string, secret included.
fn unusable_unquoted(step: &str, e: &opendal::Error) -> StoreError {
    unusable_saying(step, e, &e.kind().to_string())
}

fn unusable_saying(step: &str, e: &opendal::Error, detail: &str) -> StoreError {
    StoreError::Unavailable(format!("{step}: {} ({detail})", diagnose(e).why))
}

/// A local file's failure: `context` says which file and what was done to it.
fn local_error(context: impl Into<String>, e: std::io::Error) -> StoreError {
    StoreError::other_caused_by(context, e)
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
        std::fs::create_dir_all(root).map_err(|e| local_error(root.display().to_string(), e))?;
        let root: PathBuf = root.canonicalize().map_err(|e| local_error(root.display().to_string(), e))?;
        let staging = root.join(".staging");
        let builder =
            opendal::services::Fs::default().root(&root.to_string_lossy()).atomic_write_dir(&staging.to_string_lossy());
        let op = Operator::new(builder).map_err(|e| unusable("opening the store", &e))?;
        std::fs::create_dir_all(&staging).map_err(|e| local_error(staging.display().to_string(), e))?;
        Ok(Self { op, name: format!("fs:{}", root.display()), local: Some((root, staging)) })
    }

    /// The store named by `target`. Object stores are not contacted here; [`ArtifactStore::probe`]
    /// checks that they answer.
    pub fn open(target: &StorageTarget) -> Result<Self, StoreError> {
        let op = match target {
            StorageTarget::Filesystem(path) => return Self::filesystem(path),
            StorageTarget::S3(t) => Operator::new(s3_builder(t)),
            StorageTarget::Gcs(t) => Operator::new(gcs_builder(t)),
            StorageTarget::Azblob(t) => Operator::new(azblob_builder(t)?),
        }
        .map_err(|e| unusable("opening the store", &e))?;
        // A request that hangs fails after the timeout (each 8 MiB part or read must move within
        // IO_TIMEOUT, i.e. at ~70 KB/s or faster); a failed or timed-out request that can be
        // retried is, up to 3 times with jittered backoff.
        let op = op
            .layer(TimeoutLayer::new().with_timeout(OP_TIMEOUT).with_io_timeout(IO_TIMEOUT))
            .layer(RetryLayer::new().with_max_times(3).with_jitter());
        Ok(Self { op, name: target.describe(), local: None })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

fn s3_builder(t: &S3Target) -> opendal::services::S3 {
    let mut b = opendal::services::S3::default().bucket(&t.bucket).root(&format!("/{}", t.prefix));
    if let Some(endpoint) = &t.endpoint {
        b = b.endpoint(endpoint);
    }
    // AWS needs the bucket's region; an S3-compatible server at an endpoint usually accepts
    // the default one.
    match (&t.region, &t.endpoint) {
        (Some(region), _) => b = b.region(region),
        (None, Some(_)) => b = b.region("us-east-1"),
        (None, None) => {}
    }
    if let (Some(id), Some(secret)) = (&t.access_key_id, &t.secret_access_key) {
        b = b.access_key_id(id).secret_access_key(secret.expose());
    }
    if let Some(token) = &t.session_token {
        b = b.session_token(token.expose());
    }
    b
}

fn gcs_builder(t: &GcsTarget) -> opendal::services::Gcs {
    let mut b = opendal::services::Gcs::default().bucket(&t.bucket).root(&format!("/{}", t.prefix));
    if let Some(path) = &t.credential_path {
        b = b.credential_path(path);
    }
    if let Some(host) = &t.emulator_host {
        let endpoint = if host.contains("://") { host.clone() } else { format!("http://{host}") };
        b = b.endpoint(&endpoint).skip_signature().disable_vm_metadata().disable_config_load();
    }
    b
}

fn azblob_builder(t: &AzblobTarget) -> Result<opendal::services::Azblob, StoreError> {
    let b = match &t.credentials {
        AzureCredentials::ConnectionString(conn) => opendal::services::Azblob::from_connection_string(conn.expose())
            .map_err(|e| unusable_unquoted("reading AZURE_STORAGE_CONNECTION_STRING", &e))?,
        AzureCredentials::AccountKey { account, key, endpoint } => {
            opendal::services::Azblob::default().account_name(account).account_key(key.expose()).endpoint(endpoint)
        }
    };
    Ok(b.container(&t.container).root(&format!("/{}", t.prefix)))
}

impl OpendalStore {
    /// On the filesystem backend, hard-links `source` to a staging name and renames it to
    /// `key`: atomic, and no byte is copied. `None` when not possible (another backend, another
    /// filesystem), so that the caller copies instead.
    fn link_into_place(&self, key: &str, source: &Path) -> Result<Option<u64>, StoreError> {
        let Some((root, staging)) = &self.local else { return Ok(None) };
        let target = root.join(key);
        if key.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(StoreError::other(format!("invalid artifact key {key:?}")));
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
                Err(local_error(format!("placing {key}"), e))
            }
        }
    }
}

impl OpendalStore {
    async fn stream_range(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StoreError> {
        let reader = self.op.reader_with(key).chunk(READ_CHUNK).await.map_err(store_error)?;
        let stream = reader.into_bytes_stream(range).await.map_err(store_error)?;
        Ok(stream.map_err(stream_error).boxed())
    }
}

#[async_trait]
impl ArtifactStore for OpendalStore {
    async fn put_file(&self, key: &str, source: &Path) -> Result<u64, StoreError> {
        if let Some(size) = self.link_into_place(key, source)? {
            return Ok(size);
        }
        let mut file = tokio::fs::File::open(source).await.map_err(|e| local_error("local file", e))?;
        let mut writer = self.op.writer_with(key).chunk(CHUNK).content_type(CONTENT_TYPE).await.map_err(store_error)?;
        let mut total = 0u64;
        let result: Result<(), StoreError> = async {
            loop {
                let mut buf = Vec::with_capacity(CHUNK);
                let n = (&mut file)
                    .take(CHUNK as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(|e| local_error("local file", e))?;
                if n == 0 {
                    return Ok(());
                }
                total += n as u64;
                writer.write(Bytes::from(buf)).await.map_err(store_error)?;
            }
        }
        .await;
        match result {
            Ok(()) => match writer.close().await {
                Ok(_) => Ok(total),
                Err(e) => {
                    // An unfinished multipart upload would keep its parts (billed, unlisted).
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(key, error = %abort, "could not abort an artifact write whose completion failed");
                    }
                    Err(store_error(e))
                }
            },
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
        self.stream_range(key, 0..size).await
    }

    async fn read_range_stream(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StoreError> {
        // Asked first, so that a missing object fails here rather than in the stream.
        self.size(key).await?;
        self.stream_range(key, range).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.op.delete(key).await.map_err(store_error)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let entries = match self.op.list_with(prefix).recursive(true).await.map_err(store_error) {
            Ok(entries) => entries,
            Err(StoreError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(e),
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
        self.op
            .write_with(&key, body.clone())
            .content_type(CONTENT_TYPE)
            .await
            .map_err(|e| unusable("write of a probe object", &e))?;
        let read = self.op.read(&key).await.map_err(|e| unusable("read of a probe object", &e))?.to_bytes();
        self.op.delete(&key).await.map_err(|e| unusable("delete of a probe object", &e))?;
        if read != body {
            return Err(StoreError::other("the probe object read back differently"));
        }
        Ok(())
    }
}
