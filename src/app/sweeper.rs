//! Removing orphan artifacts: files in the artifact store that no metadata row references.
//! They appear when the process dies between storing an upload's files and committing its
//! row, or when deleting a dataset's files failed. Files younger than the grace period are
//! left alone, since an upload in progress stores its files before it records them.

use std::time::Duration;

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

    /// Sweeps now and then every `interval`, for the life of the process, deleting orphans
    /// older than `grace`.
    pub fn start_sweeper(&self, grace: Duration, interval: Duration) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                match app.sweep_orphans(grace).await {
                    Ok(r) if r.deleted > 0 => {
                        tracing::info!(deleted = r.deleted, checked = r.checked, young = r.young, "orphan sweep")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "orphan sweep failed; it will run again"),
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
}
