//! Reading, listing, exporting and deleting datasets and their versions.

use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::aliases::{dataset_etag, if_match as if_match_header};
use crate::domain::content_hash::content_hash;
use crate::domain::downloads::{DownloadFormat, download_file_name};
use crate::domain::ids::{DatasetId, ProjectId, VersionId};
use crate::domain::records::{Dataset, DatasetListItem, DatasetQuery, Page, SourceFormat, Version, VersionSummary};
use crate::domain::version_ref::VersionRef;
use crate::ports::StoreError;
use crate::ports::artifacts::ByteStream;
use crate::ports::tables::{CsvOptions, ExportError, TableFormat};

/// A dataset listing request before access filtering.
#[derive(Debug, Clone)]
pub struct ListDatasets {
    pub project: Option<ProjectId>,
    pub query: DatasetQuery,
}

impl App {
    /// The dataset, when the caller may do `action` on it; otherwise not found (or forbidden
    /// for a visible dataset the caller may not change).
    pub(crate) async fn visible_dataset(
        &self,
        principal: &Principal,
        id: DatasetId,
        action: Action,
    ) -> Result<Dataset, AppError> {
        let dataset = self.metadata.find_dataset(id).await?.ok_or(AppError::NotFound("dataset"))?;
        match self.authorize(principal, dataset.project_id, action).await {
            Ok(_) => Ok(dataset),
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("dataset")),
            Err(e) => Err(e),
        }
    }

    pub async fn list_datasets(
        &self,
        principal: &Principal,
        request: ListDatasets,
    ) -> Result<(Vec<DatasetListItem>, u64), AppError> {
        let mut query = request.query;
        query.projects = match request.project {
            Some(project) => {
                self.authorize(principal, project, Action::Read).await?;
                Some(vec![project])
            }
            None if principal.is_admin => None,
            None => {
                Some(self.metadata.list_projects(Some(principal.user_id)).await?.into_iter().map(|p| p.id).collect())
            }
        };
        Ok(self.metadata.list_datasets(&query).await?)
    }

    /// The dataset and the version `which` names, when the caller may read the dataset.
    /// Every read of a version (detail, columns, quality, statistics, downloads, rows,
    /// queries) resolves it here.
    pub async fn dataset_version(
        &self,
        principal: &Principal,
        id: DatasetId,
        which: &VersionRef,
    ) -> Result<(Dataset, Version), AppError> {
        let dataset = self.visible_dataset(principal, id, Action::Read).await?;
        let found = match which {
            VersionRef::Latest => self.metadata.find_version(dataset.latest_version_id).await?,
            VersionRef::Number(n) => self.metadata.find_version_by_number(id, *n).await?,
            VersionRef::Alias(name) => match self.metadata.find_alias(id, name).await? {
                Some(alias) => self.metadata.find_version(alias.version_id).await?,
                None => None,
            },
        };
        match found {
            Some(version) => Ok((dataset, self.with_content_hash(version).await?)),
            // The latest version is gone only when the dataset was deleted since it was read.
            None if *which == VersionRef::Latest => Err(AppError::NotFound("dataset")),
            None => Err(AppError::VersionNotFound(which.clone())),
        }
    }

    pub async fn list_versions(
        &self,
        principal: &Principal,
        id: DatasetId,
        page: Page,
    ) -> Result<(Vec<VersionSummary>, u64), AppError> {
        self.visible_dataset(principal, id, Action::Read).await?;
        Ok(self.metadata.list_versions(id, page).await?)
    }

    pub async fn get_version(&self, principal: &Principal, id: VersionId) -> Result<Version, AppError> {
        let version = self.metadata.find_version(id).await?.ok_or(AppError::NotFound("dataset version"))?;
        match self.visible_dataset(principal, version.summary.dataset_id, Action::Read).await {
            Ok(_) => self.with_content_hash(version).await,
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("dataset version")),
            Err(e) => Err(e),
        }
    }

    /// A download of the version `which` names in `format`, described before any byte is
    /// read (so that a conditional request can be answered without reading). Versions with
    /// more rows than `max_xlsx_rows` (or than Excel holds) are refused as XLSX with a hint
    /// to use CSV.
    pub async fn prepare_download(
        &self,
        principal: &Principal,
        id: DatasetId,
        which: &VersionRef,
        format: DownloadFormat,
    ) -> Result<PreparedDownload, AppError> {
        let (dataset, version) = self.dataset_version(principal, id, which).await?;
        if format == DownloadFormat::Xlsx && version.summary.row_count > self.settings.max_xlsx_rows {
            return Err(AppError::NotExportable(format!(
                "the dataset has {} rows; XLSX export is limited to {} rows: download it as CSV (format=csv)",
                version.summary.row_count, self.settings.max_xlsx_rows
            )));
        }
        let number = version.summary.version;
        let source_extension = version.source_format.name();
        let offered = download_file_name(&dataset.name, number, format, &source_extension);
        let file_name = match format {
            DownloadFormat::Original => version.original_file_name.clone().unwrap_or(offered.clone()),
            _ => offered.clone(),
        };
        let stored = match format {
            DownloadFormat::Original => Some(&version.original),
            DownloadFormat::Parquet => Some(&version.normalized),
            _ => None,
        };
        Ok(PreparedDownload {
            format,
            file_name,
            ascii_file_name: offered,
            etag: format.etag(&version.normalized.sha256, &version.original.sha256),
            last_modified: version.summary.created_at,
            stored: stored.map(|a| StoredFile {
                key: a.storage_key.clone(),
                length: a.size_bytes,
                sha256: a.sha256.clone(),
            }),
            source_format: version.source_format,
            normalized_key: version.normalized.storage_key.clone(),
        })
    }

    /// The bytes of a prepared download: all of them, or (for a stored file) `range`, which
    /// the caller has checked against its length.
    pub async fn download_bytes(
        &self,
        download: &PreparedDownload,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, AppError> {
        let gone = |e: StoreError| match e {
            // The dataset was deleted since the download was prepared.
            StoreError::NotFound => AppError::NotFound("dataset"),
            other => other.into(),
        };
        let key = &download.normalized_key;
        match (download.format, &download.stored) {
            (_, Some(file)) => match range {
                Some(range) => self.artifacts.read_range_stream(&file.key, range).await.map_err(gone),
                None => self.artifacts.read_stream(&file.key).await.map_err(gone),
            },
            (DownloadFormat::Csv { escape_formulas }, None) => {
                self.exporter.export(key, TableFormat::Csv(CsvOptions { escape_formulas })).await.map_err(gone)
            }
            (DownloadFormat::Jsonl, None) => self.exporter.export(key, TableFormat::Jsonl).await.map_err(gone),
            (DownloadFormat::Xlsx, None) => {
                let created = download.last_modified.timestamp();
                self.exporter.xlsx(key, &self.settings.spool_dir, created).await.map_err(|e| match e {
                    ExportError::DoesNotFit(m) => {
                        AppError::NotExportable(format!("{m}: download it as CSV (format=csv)"))
                    }
                    ExportError::Store(e) => gone(e),
                })
            }
            (DownloadFormat::Parquet | DownloadFormat::Original, None) => {
                Err(AppError::internal("a stored-file download without its file"))
            }
        }
    }

    /// The version with its content hash: computed from its normalized file, and recorded,
    /// for a version uploaded before content hashes were recorded at upload.
    pub(crate) async fn with_content_hash(&self, mut version: Version) -> Result<Version, AppError> {
        if version.summary.content_hash.is_some() {
            return Ok(version);
        }
        let digests = self.tables.content_digests(&version.normalized.storage_key).await.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("dataset"),
            other => other.into(),
        })?;
        let hash = content_hash(version.summary.row_count, &version.columns, &digests);
        self.metadata.set_content_hash(version.summary.id, &hash).await?;
        version.summary.content_hash = Some(hash);
        Ok(version)
    }

    /// Computes and records the content hash of every version that has none (versions
    /// uploaded before content hashes were recorded), `batch` versions at a time, oldest
    /// first; returns how many it recorded. A version deleted meanwhile, or whose normalized
    /// file is missing (logged), is skipped.
    pub async fn backfill_content_hashes(&self, batch: u64) -> Result<u64, AppError> {
        let (mut recorded, mut skipped) = (0, std::collections::HashSet::new());
        loop {
            let ids = self.metadata.versions_without_content_hash(batch + skipped.len() as u64).await?;
            let ids: Vec<VersionId> = ids.into_iter().filter(|id| !skipped.contains(id)).collect();
            if ids.is_empty() {
                return Ok(recorded);
            }
            for id in ids {
                let Some(version) = self.metadata.find_version(id).await? else {
                    skipped.insert(id);
                    continue;
                };
                match self.with_content_hash(version).await {
                    Ok(_) => recorded += 1,
                    Err(AppError::NotFound(_)) => {
                        tracing::warn!(version_id = %id.0, "no content hash: the version's normalized file is missing");
                        skipped.insert(id);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Deletes the dataset, all its versions and all their artifact files.
    /// `if_match`: the `If-Match` header, when sent (`precondition_failed` unless it names
    /// the dataset's current tag).
    pub async fn delete_dataset(
        &self,
        principal: &Principal,
        id: DatasetId,
        if_match: Option<&str>,
    ) -> Result<(), AppError> {
        let dataset = self.visible_dataset(principal, id, Action::Write).await?;
        let if_revision = required_revision(&dataset, if_match)?;
        let keys = self.metadata.delete_dataset(id, if_revision).await?;
        self.delete_artifacts(&keys).await;
        Ok(())
    }
}

/// What `If-Match` (when sent) requires of a change of `dataset`: `Ok(None)` with no header or
/// `*`, `Ok(Some(revision))` when the header names the dataset's current tag (the change is
/// then made only if the dataset is still at that revision), `precondition_failed` otherwise.
pub(crate) fn required_revision(dataset: &Dataset, if_match: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(header) = if_match else { return Ok(None) };
    if header.trim() == "*" {
        return Ok(None);
    }
    let current = dataset_etag(dataset.id, dataset.revision);
    if if_match_header(header, &current) {
        Ok(Some(dataset.revision))
    } else {
        Err(AppError::PreconditionFailed(format!(
            "the dataset changed: its ETag is now {current}, not {}; nothing was done",
            header.trim()
        )))
    }
}

/// A download of a version, described before any byte is read.
#[derive(Debug, Clone)]
pub struct PreparedDownload {
    pub format: DownloadFormat,
    /// The name to offer: the uploaded file's name for `original` when it was recorded,
    /// otherwise `NAME-vN.EXT`.
    pub file_name: String,
    /// `NAME-vN.EXT` in ASCII (for clients that read only `filename=`).
    pub ascii_file_name: String,
    /// The strong entity tag, quoted.
    pub etag: String,
    /// When the version was created (its bytes never change after).
    pub last_modified: DateTime<Utc>,
    /// For `parquet` and `original`: the stored file served as is.
    pub stored: Option<StoredFile>,
    /// The format the version was uploaded in (what `original` is).
    pub source_format: SourceFormat,
    normalized_key: String,
}

/// A stored file a download serves as is.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub key: String,
    pub length: u64,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
}
