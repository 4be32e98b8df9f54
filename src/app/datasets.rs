//! Reading, listing, exporting and deleting datasets and their versions.

use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::ids::{DatasetId, ProjectId, VersionId};
use crate::domain::records::{Dataset, DatasetListItem, DatasetQuery, Page, Version, VersionSummary};
use crate::domain::version_ref::VersionRef;
use crate::ports::StoreError;
use crate::ports::artifacts::ByteStream;
use crate::ports::tables::{CsvOptions, ExportError};

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
        };
        match found {
            Some(version) => Ok((dataset, version)),
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
            Ok(_) => Ok(version),
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("dataset version")),
            Err(e) => Err(e),
        }
    }

    /// A version's data as CSV, and the file name to offer.
    pub async fn download_csv(
        &self,
        principal: &Principal,
        id: DatasetId,
        which: &VersionRef,
        options: CsvOptions,
    ) -> Result<(ByteStream, String), AppError> {
        let (dataset, version) = self.dataset_version(principal, id, which).await?;
        let stream = self.exporter.csv(&version.normalized.storage_key, options).await.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("dataset"),
            other => other.into(),
        })?;
        Ok((stream, download_file_name(&dataset.name, version.summary.version, "csv")))
    }

    /// A version as an Excel workbook, and the file name to offer. Versions with more rows
    /// than `max_xlsx_rows` (or than Excel holds) are refused with a hint to use CSV.
    pub async fn download_xlsx(
        &self,
        principal: &Principal,
        id: DatasetId,
        which: &VersionRef,
    ) -> Result<(ByteStream, String), AppError> {
        let (dataset, version) = self.dataset_version(principal, id, which).await?;
        let rows = version.summary.row_count;
        if rows > self.settings.max_xlsx_rows {
            return Err(AppError::NotExportable(format!(
                "the dataset has {rows} rows; XLSX export is limited to {} rows: download it as CSV (format=csv)",
                self.settings.max_xlsx_rows
            )));
        }
        let stream = self.exporter.xlsx(&version.normalized.storage_key, &self.settings.spool_dir).await.map_err(
            |e| match e {
                ExportError::DoesNotFit(m) => AppError::NotExportable(format!("{m}: download it as CSV (format=csv)")),
                ExportError::Store(StoreError::NotFound) => AppError::NotFound("dataset"),
                ExportError::Store(e) => e.into(),
            },
        )?;
        Ok((stream, download_file_name(&dataset.name, version.summary.version, "xlsx")))
    }

    /// Deletes the dataset, all its versions and all their artifact files.
    pub async fn delete_dataset(&self, principal: &Principal, id: DatasetId) -> Result<(), AppError> {
        self.visible_dataset(principal, id, Action::Write).await?;
        let keys = self.metadata.delete_dataset(id).await?;
        self.delete_artifacts(&keys).await;
        Ok(())
    }
}

/// `Transactions Q4` version 2 → `Transactions_Q4-v2.csv`: ASCII letters, digits, `-`, `_`
/// and `.` only, so the name is safe in a `Content-Disposition` header on every platform.
pub fn download_file_name(name: &str, version: i64, extension: &str) -> String {
    let mut safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    safe.truncate(100);
    let safe = safe.trim_matches(['_', '.']);
    let safe = if safe.is_empty() { "dataset" } else { safe };
    format!("{safe}-v{version}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::download_file_name;

    #[test]
    fn download_names_are_header_safe() {
        assert_eq!(download_file_name("Transactions Q4", 2, "csv"), "Transactions_Q4-v2.csv");
        assert_eq!(download_file_name("\"; rm -rf /", 0, "csv"), "rm_-rf-v0.csv");
        assert_eq!(download_file_name("日本", 1, "csv"), "dataset-v1.csv");
    }
}
