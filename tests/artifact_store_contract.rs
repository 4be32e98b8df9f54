//! The [`ArtifactStore`] port's contract, checked on every adapter: the local filesystem in
//! every `cargo test`; S3, GCS and Azure Blob on the stores (emulators or real ones) named by
//! `TEST_S3_URL`, `TEST_GCS_URL` and `TEST_AZBLOB_URL`, with their credentials in the standard
//! variables (`scripts/emulators.sh env` prints them). The object-store cases are `#[ignore]`d,
//! so that a plain `cargo test` neither runs nor passes them; `scripts/test-backends.sh` runs
//! them with `--include-ignored`, and there a missing variable fails the case. Calls an
//! emulator lacks are skipped by name in that script, which says why (never passed here).
//!
//! Run alone: `scripts/emulators.sh start && eval "$(scripts/emulators.sh env)" &&
//! cargo test --test artifact_store_contract -- --include-ignored`

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datasets_api::adapters::opendal::OpendalStore;
use datasets_api::config::parse_storage;
use datasets_api::ports::StoreError;
use datasets_api::ports::artifacts::ArtifactStore;
use futures_util::TryStreamExt;

/// A store under a fresh prefix; the object stores' URLs come from `TEST_<BACKEND>_URL`.
fn store(backend: &str) -> (Arc<OpendalStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let unique = uuid::Uuid::new_v4();
    let url = if backend == "fs" {
        dir.path().join("store").display().to_string()
    } else {
        let var = format!("TEST_{}_URL", backend.to_ascii_uppercase());
        match std::env::var(&var) {
            Ok(url) if !url.is_empty() => format!("{}/contract-{unique}", url.trim_end_matches('/')),
            _ => panic!("{var} is not set: start the emulators (scripts/emulators.sh) or name a real store"),
        }
    };
    let target = parse_storage(&url, &|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let store = OpendalStore::open(&target).unwrap_or_else(|e| panic!("{url}: {e}"));
    (Arc::new(store), dir)
}

/// Bytes that differ at every offset, so that a misplaced range shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed)).collect()
}

fn write_local(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn read_all(store: &dyn ArtifactStore, key: &str) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = store.read_stream(key).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

async fn a_stored_file_reads_back_whole_by_stream_and_by_range(store: &dyn ArtifactStore, dir: &Path) {
    // Larger than two write chunks (8 MiB): the object store's multipart path is used.
    let bytes = pattern(17 * 1024 * 1024 + 123, 7);
    let source = write_local(dir, "big.bin", &bytes);
    let stored = store.put_file("datasets/a/v1/big.bin", &source).await.unwrap();
    assert_eq!(stored, bytes.len() as u64);
    assert_eq!(store.size("datasets/a/v1/big.bin").await.unwrap(), bytes.len() as u64);
    assert!(read_all(store, "datasets/a/v1/big.bin").await == bytes, "the streamed bytes differ");
    let start = 8 * 1024 * 1024 - 5;
    let range = store.read_range("datasets/a/v1/big.bin", start as u64..(start + 1000) as u64).await.unwrap();
    assert_eq!(&range[..], &bytes[start..start + 1000]);
    let tail = store.read_range("datasets/a/v1/big.bin", (bytes.len() - 8) as u64..bytes.len() as u64).await.unwrap();
    assert_eq!(&tail[..], &bytes[bytes.len() - 8..]);
    // A long range as a stream: across write chunks, in several read chunks.
    let (from, to) = (1_000_001u64, 16_000_123u64);
    let streamed: Vec<bytes::Bytes> =
        store.read_range_stream("datasets/a/v1/big.bin", from..to).await.unwrap().try_collect().await.unwrap();
    assert!(streamed.concat() == bytes[from as usize..to as usize], "the streamed range differs");
}

async fn an_empty_file_is_stored_and_read_as_empty(store: &dyn ArtifactStore, dir: &Path) {
    let source = write_local(dir, "empty.bin", b"");
    let stored = store.put_file("datasets/e/empty.bin", &source).await.unwrap();
    assert_eq!(stored, 0);
    assert_eq!(store.size("datasets/e/empty.bin").await.unwrap(), 0);
    assert!(read_all(store, "datasets/e/empty.bin").await.is_empty());
}

async fn writing_a_key_again_replaces_the_object(store: &dyn ArtifactStore, dir: &Path) {
    let first = write_local(dir, "one.bin", &pattern(1000, 1));
    let second = write_local(dir, "two.bin", &pattern(500, 2));
    store.put_file("datasets/r/x.bin", &first).await.unwrap();
    store.put_file("datasets/r/x.bin", &second).await.unwrap();
    assert_eq!(read_all(store, "datasets/r/x.bin").await, pattern(500, 2));
}

async fn reads_of_a_missing_key_are_not_found(store: &dyn ArtifactStore) {
    let key = "datasets/missing/nothing.bin";
    assert!(matches!(store.size(key).await, Err(StoreError::NotFound)), "size");
    assert!(matches!(store.read_range(key, 0..10).await, Err(StoreError::NotFound)), "read_range");
    let stream = store.read_stream(key).await;
    assert!(matches!(stream, Err(StoreError::NotFound)), "read_stream");
    let range = store.read_range_stream(key, 0..10).await;
    assert!(matches!(range, Err(StoreError::NotFound)), "read_range_stream");
    assert!(matches!(store.modified_at(key).await, Err(StoreError::NotFound)), "modified_at");
}

async fn delete_removes_the_object_and_is_idempotent(store: &dyn ArtifactStore, dir: &Path) {
    let source = write_local(dir, "d.bin", b"delete me");
    store.put_file("datasets/d/d.bin", &source).await.unwrap();
    store.delete("datasets/d/d.bin").await.unwrap();
    assert!(matches!(store.size("datasets/d/d.bin").await, Err(StoreError::NotFound)));
    store.delete("datasets/d/d.bin").await.unwrap();
    store.delete("datasets/never/was.bin").await.unwrap();
}

async fn list_returns_every_key_under_the_prefix_and_nothing_else(store: &dyn ArtifactStore, dir: &Path) {
    let source = write_local(dir, "l.bin", b"x");
    let keys = ["datasets/l1/v1/a.csv", "datasets/l1/v2/b.parquet", "datasets/l2/v1/c.csv", "probe-like/other.bin"];
    for key in keys {
        store.put_file(key, &source).await.unwrap();
    }
    let mut listed = store.list("datasets/l1/").await.unwrap();
    listed.sort();
    assert_eq!(listed, vec!["datasets/l1/v1/a.csv", "datasets/l1/v2/b.parquet"]);
    let all = store.list("datasets/").await.unwrap();
    for key in &keys[..3] {
        assert!(all.iter().any(|k| k == key), "{key} missing from {all:?}");
    }
    assert!(!all.iter().any(|k| k.starts_with("probe-like")), "{all:?}");
    assert!(store.list("datasets/none-here/").await.unwrap().is_empty());
}

async fn modified_at_is_known_and_recent(store: &dyn ArtifactStore, dir: &Path) {
    // The orphan sweeper judges an unreferenced object's age by it: every adapter must know it.
    let source = write_local(dir, "m.bin", b"when");
    let before = chrono::Utc::now() - chrono::Duration::seconds(120);
    store.put_file("datasets/m/m.bin", &source).await.unwrap();
    let modified = store.modified_at("datasets/m/m.bin").await.unwrap().expect("a modification time");
    let after = chrono::Utc::now() + chrono::Duration::seconds(120);
    assert!(modified > before && modified < after, "{modified} not near now");
}

async fn a_failed_put_leaves_no_object(store: &dyn ArtifactStore, dir: &Path) {
    let missing = dir.join("does-not-exist.bin");
    assert!(store.put_file("datasets/f/f.bin", &missing).await.is_err());
    assert!(matches!(store.size("datasets/f/f.bin").await, Err(StoreError::NotFound)));
}

async fn a_reader_never_sees_a_partial_object(store: Arc<dyn ArtifactStore>, dir: &Path) {
    let bytes = pattern(24 * 1024 * 1024, 9);
    let source = write_local(dir, "atomic.bin", &bytes);
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.put_file("datasets/atomic/x.bin", &source).await })
    };
    let mut observations = 0;
    while !writer.is_finished() {
        match store.size("datasets/atomic/x.bin").await {
            Err(StoreError::NotFound) => {}
            Ok(size) => assert_eq!(size, bytes.len() as u64, "a partial object was visible"),
            Err(e) => panic!("{e}"),
        }
        observations += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.size("datasets/atomic/x.bin").await.unwrap(), bytes.len() as u64);
    eprintln!("looked {observations} times during the write");
}

async fn the_probe_succeeds_and_leaves_nothing(store: &dyn ArtifactStore) {
    store.probe().await.unwrap();
    assert!(store.list("probe/").await.unwrap().is_empty());
}

async fn cleanup(store: &dyn ArtifactStore) {
    for prefix in ["datasets/", "probe-like/"] {
        for key in store.list(prefix).await.unwrap_or_default() {
            let _ = store.delete(&key).await;
        }
    }
}

macro_rules! contract {
    ($backend:ident $(, #[$attr:meta])?) => {
        mod $backend {
            use super::*;

            async fn run<F, Fut>(check: F)
            where
                F: FnOnce(Arc<OpendalStore>, std::path::PathBuf) -> Fut,
                Fut: std::future::Future<Output = ()>,
            {
                let (store, dir) = store(stringify!($backend));
                check(Arc::clone(&store), dir.path().to_path_buf()).await;
                cleanup(store.as_ref()).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn a_stored_file_reads_back_whole_by_stream_and_by_range() {
                run(|s, d| async move { super::a_stored_file_reads_back_whole_by_stream_and_by_range(&*s, &d).await })
                    .await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn an_empty_file_is_stored_and_read_as_empty() {
                run(|s, d| async move { super::an_empty_file_is_stored_and_read_as_empty(&*s, &d).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn writing_a_key_again_replaces_the_object() {
                run(|s, d| async move { super::writing_a_key_again_replaces_the_object(&*s, &d).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn reads_of_a_missing_key_are_not_found() {
                run(|s, _| async move { super::reads_of_a_missing_key_are_not_found(&*s).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn delete_removes_the_object_and_is_idempotent() {
                run(|s, d| async move { super::delete_removes_the_object_and_is_idempotent(&*s, &d).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn list_returns_every_key_under_the_prefix_and_nothing_else() {
                run(|s, d| async move { super::list_returns_every_key_under_the_prefix_and_nothing_else(&*s, &d).await })
                    .await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn modified_at_is_known_and_recent() {
                run(|s, d| async move { super::modified_at_is_known_and_recent(&*s, &d).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn a_failed_put_leaves_no_object() {
                run(|s, d| async move { super::a_failed_put_leaves_no_object(&*s, &d).await }).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn a_reader_never_sees_a_partial_object() {
                run(|s, d| async move { super::a_reader_never_sees_a_partial_object(s, &d).await }).await;
            }

            #[tokio::test]
            $(#[$attr])?
            async fn the_probe_succeeds_and_leaves_nothing() {
                run(|s, _| async move { super::the_probe_succeeds_and_leaves_nothing(&*s).await }).await;
            }
        }
    };
}

contract!(fs);
contract!(s3, #[ignore = "needs an S3 store named by TEST_S3_URL: scripts/test-backends.sh runs it"]);
contract!(gcs, #[ignore = "needs a GCS store named by TEST_GCS_URL: scripts/test-backends.sh runs it"]);
contract!(azblob, #[ignore = "needs an Azure Blob container named by TEST_AZBLOB_URL: scripts/test-backends.sh runs it"]);
