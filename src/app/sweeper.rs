//! Removing orphan artifacts: files in the artifact store that no metadata row references.
//! They appear when the process dies between storing an upload's files and committing its
//! row, or when deleting a dataset's files failed. Files younger than the grace period are
//! left alone, since an upload in progress stores its files before it records them.
//!
//! The same sweep empties the spool folder of files older than the grace period: a process
//! killed in the middle of an upload or an export leaves its temporary files there (they are
//! deleted only when the request runs to its end).

use std::time::Duration;

use crate::app::errors::ErrorChain;
use crate::app::{App, AppError};

/// Default age below which an unreferenced file is presumed to belong to an upload in progress
/// (`SWEEP_GRACE_SECONDS`).
pub const SWEEP_GRACE: Duration = Duration::from_secs(3600);
/// Default time between two sweeps of a running server (`SWEEP_INTERVAL_SECONDS`).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// What a sweep found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Files looked at.
    pub checked: u64,
    /// Orphans older than the grace period, deleted.
    pub deleted: u64,
    /// Orphans younger than the grace period, left for a later sweep.
    pub young: u64,
}

impl App {
    /// Deletes every artifact file under `datasets/` that no row references and that is
    /// older than `grace`.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<SweepReport, AppError> {
        let keys = self.artifacts.list("datasets/").await?;
        let known = self.metadata.known_storage_keys(&keys).await?;
        let cutoff = self.clock.now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
        let mut report = SweepReport { checked: keys.len() as u64, ..Default::default() };
        for key in keys.iter().filter(|k| !known.contains(*k)) {
            let modified = self.artifacts.modified_at(key).await?;
            if modified.is_some_and(|m| m > cutoff) {
                report.young += 1;
                continue;
            }
            self.artifacts.delete(key).await?;
            report.deleted += 1;
            tracing::info!(key = %key, "deleted an orphan artifact");
        }
        Ok(report)
    }

    /// Deletes the files of the spool folder last modified more than `grace` ago; returns how
    /// many. A request in progress keeps its files younger than that: an upload writes its
    /// spool file as the body arrives, and reads it within `INGEST_WAIT_SECONDS` plus the
    /// ingest's duration. (On Unix a file still open, e.g. an export being downloaded, stays
    /// readable after its deletion.)
    pub async fn sweep_spool(&self, grace: Duration) -> Result<u64, AppError> {
        let dir = &self.settings.spool_dir;
        let io =
            |e: std::io::Error| AppError::internal_caused_by(format!("sweeping the spool folder {}", dir.display()), e);
        let cutoff = std::time::SystemTime::now().checked_sub(grace).unwrap_or(std::time::UNIX_EPOCH);
        let mut entries = tokio::fs::read_dir(dir).await.map_err(io)?;
        let mut deleted = 0;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let Ok(meta) = entry.metadata().await else { continue };
            if !meta.is_file() || meta.modified().is_ok_and(|m| m > cutoff) {
                continue;
            }
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => {
                    deleted += 1;
                    tracing::info!(path = %entry.path().display(), "deleted a stale spool file");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(deleted)
    }

    /// Sweeps now and then every `interval`, for the life of the process, deleting orphans
    /// older than `grace`; each pass also forgets expired idempotency keys and records the
    /// content hash of versions that have none.
    pub fn start_sweeper(&self, grace: Duration, interval: Duration) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                match app.sweep_orphans(grace).await {
                    Ok(r) if r.deleted > 0 => {
                        tracing::info!(deleted = r.deleted, checked = r.checked, young = r.young, "orphan sweep")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "orphan sweep failed; it will run again"),
                }
                match app.sweep_idempotency_keys().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "forgot expired idempotency keys"),
                    Err(e) => {
                        tracing::warn!(error = %ErrorChain(&e), "idempotency key sweep failed; it will run again")
                    }
                }
                match app.sweep_webhook_history().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "forgot webhook deliveries that ended 30 days ago"),
                    Err(e) => {
                        tracing::warn!(error = %ErrorChain(&e), "webhook history sweep failed; it will run again")
                    }
                }
                match app.backfill_content_hashes(100).await {
                    Ok(0) => {}
                    Ok(recorded) => tracing::info!(recorded, "recorded the content hash of older versions"),
                    Err(e) => {
                        tracing::warn!(error = %ErrorChain(&e), "content hash backfill failed; it will run again")
                    }
                }
                match app.sweep_spool(grace).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "spool sweep: deleted files left by interrupted requests"),
                    Err(e) => tracing::warn!(error = %ErrorChain(&e), "spool sweep failed; it will run again"),
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
}
