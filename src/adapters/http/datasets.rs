//! The dataset endpoints of the spec: upload, list, detail, columns, quality, delete. Versions
//! are in `versions`, downloads in `download`.

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::Tagged;
use super::errors::ApiError;
use super::idempotency::KeyHeader;
use super::limits::HttpLimits;
use super::ordered_map::OrderedMap;
use super::time::UtcTime;
use super::upload::{ReceivedForm, UploadAnswer, UploadDatasetForm};
use super::version_param::VersionParam;
use crate::app::App;
use crate::app::datasets::ListDatasets;
use crate::domain::aliases::dataset_etag;
use crate::domain::dtype::ColumnSchema;
use crate::domain::ids::{DatasetId, ProjectId};
use crate::domain::quality::{QualityCheck, QualityReport};
use crate::domain::records::{DatasetListItem, DatasetQuery, DatasetSort, Page, SortDirection};
use crate::domain::version_ref::VersionRef;

/// One check of a quality report.
#[derive(Object, Debug, Clone)]
pub struct QualityCheckDto {
    /// `missing_values`, `duplicate_rows`, `constant_columns`, `empty_columns`, `mixed_types`,
    /// `high_cardinality` or `outliers` (definitions in docs/quality.md).
    pub name: String,
    pub passed: bool,
    pub details: String,
}

impl From<QualityCheck> for QualityCheckDto {
    fn from(c: QualityCheck) -> Self {
        Self { name: c.name, passed: c.passed, details: c.details }
    }
}

/// The quality summary of an upload: the score and the checks that failed.
#[derive(Object, Debug)]
pub struct UploadQuality {
    /// 0–100 (formula in docs/quality.md).
    pub overall_score: f64,
    /// The failed checks; empty when every check passed.
    pub issues: Vec<QualityCheckDto>,
}

impl From<&QualityReport> for UploadQuality {
    fn from(q: &QualityReport) -> Self {
        Self { overall_score: q.overall_score, issues: q.issues().into_iter().map(Into::into).collect() }
    }
}

#[derive(Object, Debug)]
pub struct UploadResult {
    /// The dataset id (same as `dataset_id`).
    pub id: Uuid,
    pub dataset_id: Uuid,
    pub dataset_version_id: Uuid,
    /// The stored original file.
    pub artifact_id: Uuid,
    pub quality: UploadQuality,
    /// Hex SHA-256 of the uploaded bytes.
    pub sha256: String,
    /// `sha256:` and the SHA-256 of the normalized table's canonical serialization
    /// (docs/content-hash.md).
    pub content_hash: String,
}

#[derive(Object, Debug)]
pub struct DatasetItem {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub project_id: Uuid,
    pub project_name: String,
    /// The latest version.
    pub dataset_version_id: Uuid,
    /// Rows of the latest version.
    pub rows: u64,
    /// Columns of the latest version.
    pub columns: u64,
    pub created_at: UtcTime,
}

impl From<DatasetListItem> for DatasetItem {
    fn from(i: DatasetListItem) -> Self {
        let d = i.dataset;
        Self {
            id: d.id.0,
            name: d.name,
            description: d.description,
            project_id: d.project_id.0,
            project_name: i.project_name,
            dataset_version_id: d.latest_version_id.0,
            rows: d.rows,
            columns: d.columns,
            created_at: d.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
pub struct DatasetPage {
    pub items: Vec<DatasetItem>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Object, Debug)]
pub struct DatasetSummary {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub project_id: Uuid,
    pub rows: u64,
    pub columns: u64,
    /// The latest version's id and number.
    pub dataset_version_id: Uuid,
    pub version: i64,
    /// The latest version's stored original file.
    pub artifact_id: Uuid,
    pub created_at: UtcTime,
    /// The version's hex SHA-256 of its uploaded bytes.
    pub sha256: String,
    /// The version's content hash (docs/content-hash.md).
    pub content_hash: String,
}

#[derive(Object, Debug)]
pub struct DatasetDetail {
    pub dataset: DatasetSummary,
    /// The first 20 rows of the latest version: column name → typed value (number, string,
    /// boolean or null; datetimes as ISO-8601 strings).
    pub preview: Vec<OrderedMap<serde_json::Value>>,
    /// Always null: the preview is computed at upload and stored with the version, so it
    /// cannot be missing when the dataset is found (kept for the shape of the contract).
    #[oai(nullable)]
    pub preview_error: Option<String>,
}

#[derive(Object, Debug, Clone)]
pub struct ColumnDto {
    pub name: String,
    /// `int64`, `float64`, `object`, `bool`, `datetime64` or `category`.
    pub dtype: String,
}

impl From<&ColumnSchema> for ColumnDto {
    fn from(c: &ColumnSchema) -> Self {
        Self { name: c.name.clone(), dtype: c.dtype.as_str().to_string() }
    }
}

#[derive(Object, Debug)]
pub struct ColumnList {
    pub columns: Vec<ListedColumn>,
}

/// A column of the schema, with the evidence for its type when asked (`evidence=true`).
#[derive(Object, Debug, Clone)]
pub struct ListedColumn {
    pub name: String,
    /// `int64`, `float64`, `object`, `bool`, `datetime64` or `category`.
    pub dtype: String,
    /// Only with `evidence=true`, and only for versions uploaded since evidence is recorded.
    #[oai(skip_serializing_if_is_none)]
    pub evidence: Option<super::evidence::TypeEvidenceDto>,
}

#[derive(Object, Debug)]
pub struct QualityReportDto {
    pub overall_score: f64,
    pub checks: Vec<QualityCheckDto>,
}

#[derive(Object, Debug)]
pub struct QualityResponse {
    pub quality: QualityReportDto,
    /// How the version fared against its dataset's contract at upload (absent when the
    /// dataset had none).
    #[oai(skip_serializing_if_is_none)]
    pub contract: Option<super::contracts::ContractResultDto>,
}

#[derive(Object, Debug)]
pub struct DeleteResult {
    pub ok: bool,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SortField {
    CreatedAt,
    Name,
    Rows,
    Columns,
    ProjectName,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum SortDirectionDto {
    Asc,
    Desc,
}

fn default_list_limit() -> u64 {
    50
}
fn default_offset() -> u64 {
    0
}
fn default_sort_field() -> SortField {
    SortField::CreatedAt
}
fn default_sort_direction() -> SortDirectionDto {
    SortDirectionDto::Desc
}

pub struct DatasetsApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl DatasetsApi {
    /// Upload a dataset
    ///
    /// Uploads a CSV or Parquet file (`multipart/form-data`) as version 0 of a new dataset in
    /// `project_id`. The format is decided by content; CSV delimiter, encoding and header row
    /// are detected; every column gets a dtype. The file is streamed to disk and refused with
    /// 413 past `MAX_DATASET_UPLOAD_BYTES`. Unreadable files answer 422 with the reason.
    #[oai(path = "/api/datasets/upload", method = "post", operation_id = "upload_dataset")]
    async fn upload(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        limits: Data<&HttpLimits>,
        form: UploadDatasetForm,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<UploadAnswer<UploadResult>, ApiError> {
        let upload = async |form: ReceivedForm| {
            let project = form.required("project_id")?;
            let project = Uuid::parse_str(project.trim())
                .map_err(|_| ApiError::bad_request("the form field `project_id` must be a UUID"))?;
            let name = form.required("name")?.to_string();
            let description = form.field("description").map(str::to_string);
            Ok(app.upload_dataset(&auth.0, ProjectId(project), &name, description.as_deref(), form.file).await?)
        };
        UploadAnswer::receive(form.0, &app, &limits, upload, |u| UploadResult {
            id: u.dataset_id.0,
            dataset_id: u.dataset_id.0,
            dataset_version_id: u.version_id.0,
            artifact_id: u.original_artifact_id.0,
            quality: UploadQuality::from(&u.quality),
            sha256: u.sha256.clone(),
            content_hash: u.content_hash.clone(),
        })
        .await
    }

    /// List datasets
    ///
    /// Datasets of one project, or of every project the caller can see, with the row and
    /// column counts of their latest versions. `search` matches name or description,
    /// case-insensitively.
    #[oai(path = "/api/datasets", method = "get", operation_id = "list_datasets")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        /// Only this project's datasets.
        project_id: Query<Option<Uuid>>,
        /// Max items (1–500).
        #[oai(default = "default_list_limit", validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<u64>,
        /// Pagination offset.
        #[oai(default = "default_offset", validator(minimum(value = "0")))]
        offset: Query<u64>,
        /// Text to find in the name or the description (case-insensitive).
        search: Query<Option<String>>,
        #[oai(default = "default_sort_field")] sort_field: Query<SortField>,
        #[oai(default = "default_sort_direction")] sort_direction: Query<SortDirectionDto>,
    ) -> Result<Json<DatasetPage>, ApiError> {
        let sort = match sort_field.0 {
            SortField::CreatedAt => DatasetSort::CreatedAt,
            SortField::Name => DatasetSort::Name,
            SortField::Rows => DatasetSort::Rows,
            SortField::Columns => DatasetSort::Columns,
            SortField::ProjectName => DatasetSort::ProjectName,
        };
        let direction = match sort_direction.0 {
            SortDirectionDto::Asc => SortDirection::Asc,
            SortDirectionDto::Desc => SortDirection::Desc,
        };
        let page = Page { limit: limit.0, offset: offset.0 };
        let request = ListDatasets {
            project: project_id.0.map(ProjectId),
            query: DatasetQuery { projects: None, search: search.0, sort, direction, page },
        };
        let (items, total) = app.list_datasets(&auth.0, request).await?;
        Ok(Json(DatasetPage {
            items: items.into_iter().map(Into::into).collect(),
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get a dataset
    ///
    /// The dataset's metadata and a preview of the first 20 rows of a version: the latest, or
    /// the one `version` names (then `rows`, `columns`, `dataset_version_id`, `version` and
    /// `artifact_id` are that version's). An unknown version answers 404.
    #[oai(path = "/api/datasets/:dataset_id", method = "get", operation_id = "get_dataset")]
    async fn detail(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<DatasetDetail>, ApiError> {
        let (d, v) = app.dataset_version(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        let dataset_tag = (version.0.0 == VersionRef::Latest).then(|| dataset_etag(d.id, d.revision));
        let detail = DatasetDetail {
            dataset: DatasetSummary {
                id: d.id.0,
                name: d.name,
                description: d.description,
                project_id: d.project_id.0,
                rows: v.summary.row_count,
                columns: v.summary.column_count,
                dataset_version_id: v.summary.id.0,
                version: v.summary.version,
                artifact_id: v.original.id.0,
                created_at: d.created_at.into(),
                sha256: v.original.sha256.clone(),
                content_hash: v.summary.content_hash.clone().unwrap_or_default(),
            },
            preview: v.preview.into_iter().map(|row| OrderedMap(row.into_iter().collect())).collect(),
            preview_error: None,
        };
        // The latest version's detail carries the dataset's tag (the one `If-Match` takes);
        // a named version's, a tag of its content.
        Ok(match dataset_tag {
            Some(tag) => Tagged::with_tag(detail, tag, if_none_match.0.as_deref()),
            None => Tagged::by_content(detail, if_none_match.0.as_deref()),
        })
    }

    /// Get the column schema
    ///
    /// Column names and dtypes of a version (the latest by default), in file order.
    #[oai(path = "/api/datasets/:dataset_id/columns", method = "get", operation_id = "get_dataset_columns")]
    async fn columns(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// `true`: each column gains `evidence`, why it has its type (docs/type-inference.md,
        /// "Evidence").
        #[oai(default)]
        evidence: Query<bool>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<ColumnList>, ApiError> {
        let (_, v) = app.dataset_version(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        let recorded = v.type_evidence.as_deref().filter(|e| evidence.0 && e.len() == v.columns.len());
        let columns = v
            .columns
            .iter()
            .enumerate()
            .map(|(k, c)| ListedColumn {
                name: c.name.clone(),
                dtype: c.dtype.as_str().to_string(),
                evidence: recorded.map(|e| (&e[k]).into()),
            })
            .collect();
        Ok(Tagged::by_content(ColumnList { columns }, if_none_match.0.as_deref()))
    }

    /// Get the quality report
    ///
    /// The data-quality report computed at upload for a version (the latest by default).
    #[oai(path = "/api/datasets/:dataset_id/quality", method = "get", operation_id = "get_dataset_quality")]
    async fn quality(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<QualityResponse>, ApiError> {
        let (_, v) = app.dataset_version(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        let quality = QualityResponse {
            quality: QualityReportDto {
                overall_score: v.quality.overall_score,
                checks: v.quality.checks.into_iter().map(Into::into).collect(),
            },
            contract: v.contract.map(Into::into),
        };
        Ok(Tagged::by_content(quality, if_none_match.0.as_deref()))
    }

    /// Delete a dataset
    ///
    /// Permanently deletes the dataset, all its versions and their artifact files.
    #[oai(path = "/api/datasets/:dataset_id", method = "delete", operation_id = "delete_dataset")]
    async fn delete(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// Delete only if the dataset still has this `ETag` (of `GET /api/datasets/{id}`):
        /// otherwise `412 precondition_failed` and nothing is deleted.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<Json<DeleteResult>, ApiError> {
        app.delete_dataset(&auth.0, DatasetId(dataset_id.0), if_match.0.as_deref()).await?;
        Ok(Json(DeleteResult { ok: true }))
    }
}
