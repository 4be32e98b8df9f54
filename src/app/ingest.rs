//! Uploads: a new dataset, or a new version of one.
//!
//! Order of effects (see docs/architecture.md, "An upload, step by step"): the upload is already
//! spooled to a local file; it is read and normalized on a blocking thread; both artifacts are
//! stored; then one metadata transaction records everything. A failure at any step removes what
//! earlier steps stored, so nothing of a failed upload stays visible.

use std::path::Path;
use std::sync::Arc;

use tempfile::TempPath;

use crate::app::datasets::required_revision;
use crate::app::errors::ErrorChain;
use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::contracts::{ContractResult, Mode};
use crate::domain::ids::{ArtifactId, DatasetId, ProjectId, VersionId};
use crate::domain::names::{DatasetName, Description};
use crate::domain::quality::QualityReport;
use crate::domain::read_hints::ReadHints;
use crate::domain::records::{Artifact, ArtifactKind, NewDataset, NewVersion, artifact_key};
use crate::ports::tables::IngestedTable;

/// An upload already written to a local file (deleted when this value is dropped).
#[derive(Debug)]
pub struct SpooledUpload {
    pub path: TempPath,
    pub size: u64,
    /// Lower-case hex SHA-256 of the uploaded bytes.
    pub sha256: String,
    /// The name the client gave the file (the multipart field's file name), if any.
    pub file_name: Option<String>,
    /// How the uploader says the file is to be read.
    pub hints: ReadHints,
}

/// What an upload created (or, when it was `unchanged`, the latest version it matched).
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub dataset_id: DatasetId,
    pub version_id: VersionId,
    pub version: i64,
    pub original_artifact_id: ArtifactId,
    pub row_count: u64,
    pub column_count: u64,
    pub quality: QualityReport,
    /// Lower-case hex SHA-256 of the version's uploaded bytes.
    pub sha256: String,
    /// The hash of the version's normalized table (`domain::content_hash`).
    pub content_hash: String,
    /// Nothing was stored: the file's table equals the latest version's (`skip_if_unchanged`).
    pub unchanged: bool,
    /// How the table fared against the dataset's contract (none without one).
    pub contract: Option<ContractResult>,
    /// How long each phase took.
    pub timings: UploadTimings,
}

/// How a new version is to be recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionOptions {
    /// Store nothing when the file's table equals the latest version's (same content hash).
    pub skip_if_unchanged: bool,
    /// The `If-Match` header: store the version only if the dataset still has this tag.
    pub if_match: Option<String>,
    /// Read the file with the latest version's hints (those given with it replace them).
    pub reuse_hints: bool,
}

/// The conditions of a next version.
#[derive(Debug, Clone, Copy, Default)]
struct NextVersion {
    /// Record nothing when the table equals this version's, and answer with it.
    unless_unchanged: Option<VersionId>,
    /// Record it only while the dataset is at this revision (`If-Match`).
    if_revision: Option<i64>,
}

/// Durations of an upload's phases after the body was received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UploadTimings {
    /// Waiting for an ingest slot, reading, typing, normalizing and checking the file.
    pub normalize: std::time::Duration,
    /// Storing the artifacts and recording the version.
    pub store: std::time::Duration,
}

impl App {
    /// Creates a dataset in `project` from the uploaded file (version 0).
    pub async fn upload_dataset(
        &self,
        principal: &Principal,
        project: ProjectId,
        name: &str,
        description: Option<&str>,
        file: SpooledUpload,
    ) -> Result<Uploaded, AppError> {
        let name = DatasetName::parse(name)?;
        let description = Description::parse_optional(description)?.map(Description::into_string);
        self.authorize(principal, project, Action::Write).await?;
        let new_dataset =
            NewDataset { project_id: project, name: name.into_string(), description: description.clone() };
        let dataset_id = DatasetId(self.ids.new_id());
        self.store_version(principal, dataset_id, Some(new_dataset), description, file, NextVersion::default()).await
    }

    /// Adds the next version to an existing dataset. `description` is required.
    pub async fn upload_version(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        description: Option<&str>,
        mut file: SpooledUpload,
        options: &VersionOptions,
    ) -> Result<Uploaded, AppError> {
        let description = Description::parse_optional(description)?
            .ok_or_else(|| AppError::Invalid("description is required: say what changed in this version".into()))?;
        let found = self.visible_dataset(principal, dataset, Action::Write).await?;
        if options.reuse_hints {
            let latest =
                self.metadata.find_version(found.latest_version_id).await?.ok_or(AppError::NotFound("dataset"))?;
            file.hints = std::mem::take(&mut file.hints).reusing(latest.read_hints);
        }
        let if_revision = required_revision(&found, options.if_match.as_deref())?;
        let unless_unchanged = options.skip_if_unchanged.then_some(found.latest_version_id);
        let next = NextVersion { unless_unchanged, if_revision };
        self.store_version(principal, found.id, None, Some(description.into_string()), file, next).await
    }

    /// The latest version, as an upload's answer, when its table is `content_hash`.
    async fn unchanged(&self, latest: VersionId, content_hash: &str) -> Result<Option<Uploaded>, AppError> {
        let Some(version) = self.metadata.find_version(latest).await? else { return Ok(None) };
        let version = self.with_content_hash(version).await?;
        if version.summary.content_hash.as_deref() != Some(content_hash) {
            return Ok(None);
        }
        let s = &version.summary;
        Ok(Some(Uploaded {
            dataset_id: s.dataset_id,
            version_id: s.id,
            version: s.version,
            original_artifact_id: version.original.id,
            row_count: s.row_count,
            column_count: s.column_count,
            quality: version.quality.clone(),
            sha256: version.original.sha256.clone(),
            content_hash: content_hash.to_string(),
            unchanged: true,
            contract: version.contract.clone(),
            timings: UploadTimings { normalize: std::time::Duration::ZERO, store: std::time::Duration::ZERO },
        }))
    }

    /// Normalizes `file` and records it as the next version of `dataset_id` (creating the
    /// dataset with `new_dataset`), under the conditions of `next`.
    async fn store_version(
        &self,
        principal: &Principal,
        dataset_id: DatasetId,
        new_dataset: Option<NewDataset>,
        description: Option<String>,
        file: SpooledUpload,
        next: NextVersion,
    ) -> Result<Uploaded, AppError> {
        let normalized = tempfile::Builder::new()
            .prefix("normalized-")
            .suffix(".parquet")
            .tempfile_in(&self.settings.spool_dir)
            .map_err(|e| AppError::internal_caused_by("cannot create a spool file", e))?
            .into_temp_path();
        // A new version is checked against its dataset's contract (a new dataset has none).
        let contract = match new_dataset {
            None => self.contract_for_upload(dataset_id).await?,
            Some(_) => None,
        };
        let started = std::time::Instant::now();
        let (table, normalized_sha256) = self.normalize(&file.path, &normalized, &file.hints).await?;
        let normalized_at = started.elapsed();
        if let Some(latest) = next.unless_unchanged
            && let Some(mut same) = self.unchanged(latest, &table.content_hash).await?
        {
            same.timings = UploadTimings { normalize: normalized_at, store: started.elapsed() - normalized_at };
            return Ok(same);
        }
        let contract_result = match contract {
            None => None,
            Some(contract) => {
                let mode = contract.mode;
                let result = self.check_ingested(contract, &table, &normalized).await?;
                if mode == Mode::Enforce && !result.passed {
                    return Err(AppError::ContractViolation(result.violations));
                }
                Some(result)
            }
        };

        let version_id = VersionId(self.ids.new_id());
        let now = self.clock.now();
        let original = Artifact {
            id: ArtifactId(self.ids.new_id()),
            kind: ArtifactKind::Original,
            storage_key: artifact_key(dataset_id, version_id, ArtifactKind::Original, table.format),
            size_bytes: file.size,
            sha256: file.sha256.clone(),
            created_at: now,
        };
        let mut normalized_artifact = Artifact {
            id: ArtifactId(self.ids.new_id()),
            kind: ArtifactKind::Normalized,
            storage_key: artifact_key(dataset_id, version_id, ArtifactKind::Normalized, table.format),
            size_bytes: 0,
            sha256: normalized_sha256,
            created_at: now,
        };
        let stored = async {
            self.artifacts.put_file(&original.storage_key, &file.path).await?;
            normalized_artifact.size_bytes =
                self.artifacts.put_file(&normalized_artifact.storage_key, &normalized).await?;
            let record = NewVersion {
                contract: contract_result.clone(),
                new_dataset,
                dataset_id,
                version_id,
                description,
                created_by: principal.user_id,
                created_at: now,
                source_format: table.format,
                row_count: table.row_count,
                columns: table.columns.clone(),
                quality: table.quality.clone(),
                preview: table.preview.clone(),
                original_file_name: file.file_name.clone(),
                content_hash: table.content_hash.clone(),
                original: original.clone(),
                normalized: normalized_artifact.clone(),
                if_revision: next.if_revision,
                read_hints: file.hints.clone(),
                type_evidence: table.evidence.clone(),
            };
            self.metadata.insert_version(&record).await
        }
        .await;
        self.telemetry.ingested(file.size, table.row_count, normalized_at.as_secs_f64());
        tracing::debug!(
            normalize_ms = normalized_at.as_millis() as u64,
            store_ms = (started.elapsed() - normalized_at).as_millis() as u64,
            rows = table.row_count,
            "upload phases"
        );
        let number = match stored {
            Ok(number) => number,
            // A commit can fail on the way back while the database did commit: then the
            // version exists and its files must stay.
            Err(e) if let Ok(Some(v)) = self.metadata.find_version(version_id).await => {
                tracing::warn!(error = %ErrorChain(&e), %version_id, "the metadata commit reported an error but the version exists");
                v.summary.version
            }
            Err(e) => {
                self.delete_artifacts(&[original.storage_key.clone(), normalized_artifact.storage_key.clone()]).await;
                return Err(e.into());
            }
        };
        if self.settings.precompute_statistics {
            self.precompute_statistics(version_id);
        }
        Ok(Uploaded {
            dataset_id,
            version_id,
            version: number,
            original_artifact_id: original.id,
            row_count: table.row_count,
            column_count: table.columns.len() as u64,
            quality: table.quality,
            sha256: file.sha256.clone(),
            content_hash: table.content_hash,
            unchanged: false,
            contract: contract_result,
            timings: UploadTimings { normalize: normalized_at, store: started.elapsed() - normalized_at },
        })
    }

    /// Reads the upload into the normalized Parquet file; returns the table and the SHA-256 of
    /// the normalized file.
    async fn normalize(
        &self,
        upload: &Path,
        normalized: &Path,
        hints: &ReadHints,
    ) -> Result<(IngestedTable, String), AppError> {
        let wait = self.settings.ingest_wait;
        let permit = match tokio::time::timeout(wait, Arc::clone(&self.ingest_slots).acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(AppError::internal_caused_by("the ingest slots were closed", closed)),
            Err(_) => return Err(AppError::Busy { retry_after_seconds: wait.as_secs().max(1) }),
        };
        let ingestor = self.ingestor.clone();
        let limits = self.settings.ingest_limits;
        let (upload, normalized, hints) = (upload.to_path_buf(), normalized.to_path_buf(), hints.clone());
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            let table = ingestor.ingest(&upload, &normalized, &limits, &hints)?;
            let sha = table.normalized_sha256.clone();
            Ok::<_, AppError>((table, sha))
        })
        .await
        .map_err(|e| AppError::internal_caused_by("the ingest task failed", e))?
    }

    /// Best-effort removal; what fails here is left to the orphan sweeper and logged.
    pub(crate) async fn delete_artifacts(&self, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.artifacts.delete(key).await {
                tracing::warn!(key = %key, error = %ErrorChain(&e), "could not delete an artifact; it is now an orphan");
            }
        }
    }
}
