//! Every dataset endpoint of the spec.

use super::time::UtcTime;
use poem::Body;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::{ApiError, ErrorBody};
use super::limits::HttpLimits;
use super::ordered_map::OrderedMap;
use super::upload::{FormError, UploadDatasetForm, UploadVersionForm, read_form};
use crate::app::App;
use crate::app::datasets::ListDatasets;
use crate::app::ingest::Uploaded;
use crate::domain::dtype::ColumnSchema;
use crate::domain::ids::{DatasetId, ProjectId, VersionId};
use crate::domain::quality::{QualityCheck, QualityReport};
use crate::domain::records::{DatasetListItem, DatasetQuery, DatasetSort, Page, SortDirection, VersionSummary};
use crate::ports::tables::CsvOptions;

/// One check of a quality report.
#[derive(Object, Debug, Clone)]
pub struct QualityCheckDto {
    /// `missing_values`, `duplicate_rows`, `constant_columns` or `empty_columns`.
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
}

#[derive(Object, Debug)]
pub struct NewVersionResult {
    pub dataset_version_id: Uuid,
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    pub quality: UploadQuality,
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
}

#[derive(Object, Debug)]
pub struct DatasetDetail {
    pub dataset: DatasetSummary,
    /// The first 20 rows of the latest version: column name → typed value (number, string,
    /// boolean or null; datetimes as ISO-8601 strings).
    pub preview: Vec<OrderedMap<serde_json::Value>>,
    /// Why the preview is missing, when it is.
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
    pub columns: Vec<ColumnDto>,
}

#[derive(Object, Debug)]
pub struct QualityReportDto {
    pub overall_score: f64,
    pub checks: Vec<QualityCheckDto>,
}

#[derive(Object, Debug)]
pub struct QualityResponse {
    pub quality: QualityReportDto,
}

#[derive(Object, Debug)]
pub struct DeleteResult {
    pub ok: bool,
}

#[derive(Object, Debug)]
pub struct VersionItem {
    pub id: Uuid,
    pub dataset_id: Uuid,
    /// 0 for the first upload, then 1, 2, …
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    #[oai(nullable)]
    pub description: Option<String>,
    /// The name of the user who uploaded the version.
    pub created_by_name: String,
    pub created_at: UtcTime,
}

impl From<VersionSummary> for VersionItem {
    fn from(v: VersionSummary) -> Self {
        Self {
            id: v.id.0,
            dataset_id: v.dataset_id.0,
            version: v.version,
            row_count: v.row_count,
            column_count: v.column_count,
            description: v.description,
            created_by_name: v.created_by_name,
            created_at: v.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
pub struct VersionPage {
    pub items: Vec<VersionItem>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Object, Debug)]
pub struct VersionDetail {
    pub id: Uuid,
    pub dataset_id: Uuid,
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    #[oai(nullable)]
    pub description: Option<String>,
    pub created_by_name: String,
    pub columns: Vec<ColumnDto>,
    pub created_at: UtcTime,
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

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum DownloadFormat {
    Csv,
    Xlsx,
}

/// `Server-Timing` of an upload: the normalize phase (waiting for a slot, reading, typing,
/// normalizing, checking) and the store phase (artifacts and metadata), in milliseconds.
fn server_timing(u: &Uploaded) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    format!("normalize;dur={:.1}, store;dur={:.1}", ms(u.timings.normalize), ms(u.timings.store))
}

#[derive(ApiResponse)]
pub enum UploadCreated {
    /// Created. `Server-Timing` says how long each phase took.
    #[oai(status = 201)]
    Created(Json<UploadResult>, #[oai(header = "Server-Timing")] String),
    /// The body stopped arriving: no byte came for `UPLOAD_IDLE_TIMEOUT_SECONDS`
    /// (`request_timeout`). Nothing was stored.
    #[oai(status = 408)]
    Stalled(Json<ErrorBody>),
}

#[derive(ApiResponse)]
pub enum VersionCreated {
    /// Created. `Server-Timing` says how long each phase took.
    #[oai(status = 201)]
    Created(Json<NewVersionResult>, #[oai(header = "Server-Timing")] String),
    /// The body stopped arriving: no byte came for `UPLOAD_IDLE_TIMEOUT_SECONDS`
    /// (`request_timeout`). Nothing was stored.
    #[oai(status = 408)]
    Stalled(Json<ErrorBody>),
}

/// A download: the file, streamed, documented with both of its media types (a derived
/// `ApiResponse` documents one media type per status).
pub struct Download {
    body: Body,
    content_type: &'static str,
    file_name: String,
}

impl poem::IntoResponse for Download {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(self.content_type)
            .header(poem::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", self.file_name))
            .body(self.body)
    }
}

impl poem_openapi::ApiResponse for Download {
    fn meta() -> MetaResponses {
        let binary = || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The file, streamed: CSV (`text/csv; charset=utf-8`) or XLSX\n\
                              (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType { content_type: CSV_TYPE, schema: binary() },
                    MetaMediaType { content_type: XLSX_TYPE, schema: binary() },
                ],
                headers: vec![MetaHeader {
                    name: "CONTENT-DISPOSITION".to_string(),
                    description: Some("`attachment; filename=\"NAME-vN.csv\"` (or `.xlsx`).".to_string()),
                    required: true,
                    deprecated: false,
                    schema: <String as poem_openapi::types::Type>::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn default_list_limit() -> u64 {
    50
}
fn default_version_limit() -> u64 {
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
fn default_format() -> DownloadFormat {
    DownloadFormat::Csv
}

fn upload_quality(u: &Uploaded) -> UploadQuality {
    UploadQuality::from(&u.quality)
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
    ) -> Result<UploadCreated, ApiError> {
        let form =
            match read_form(form.0, &app.settings.spool_dir, app.settings.max_upload_bytes, limits.upload_idle_timeout)
                .await
            {
                Ok(form) => form,
                Err(FormError::Stalled(body)) => return Ok(UploadCreated::Stalled(Json(body))),
                Err(FormError::Api(e)) => return Err(e),
            };
        let project = form.required("project_id")?;
        let project = Uuid::parse_str(project.trim())
            .map_err(|_| ApiError::bad_request("the form field `project_id` must be a UUID"))?;
        let name = form.required("name")?.to_string();
        let description = form.field("description").map(str::to_string);
        let uploaded =
            app.upload_dataset(&auth.0, ProjectId(project), &name, description.as_deref(), form.file).await?;
        Ok(UploadCreated::Created(
            Json(UploadResult {
                id: uploaded.dataset_id.0,
                dataset_id: uploaded.dataset_id.0,
                dataset_version_id: uploaded.version_id.0,
                artifact_id: uploaded.original_artifact_id.0,
                quality: upload_quality(&uploaded),
            }),
            server_timing(&uploaded),
        ))
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
    /// The dataset's metadata and a preview of the first 20 rows of its latest version.
    #[oai(path = "/api/datasets/:dataset_id", method = "get", operation_id = "get_dataset")]
    async fn detail(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<Json<DatasetDetail>, ApiError> {
        let (d, v) = app.dataset_detail(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(DatasetDetail {
            dataset: DatasetSummary {
                id: d.id.0,
                name: d.name,
                description: d.description,
                project_id: d.project_id.0,
                rows: d.rows,
                columns: d.columns,
                dataset_version_id: v.summary.id.0,
                version: v.summary.version,
                artifact_id: v.original.id.0,
                created_at: d.created_at.into(),
            },
            preview: v.preview.into_iter().map(|row| OrderedMap(row.into_iter().collect())).collect(),
            preview_error: None,
        }))
    }

    /// Get the column schema
    ///
    /// Column names and dtypes of the latest version, in file order.
    #[oai(path = "/api/datasets/:dataset_id/columns", method = "get", operation_id = "get_dataset_columns")]
    async fn columns(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<Json<ColumnList>, ApiError> {
        let (_, v) = app.dataset_detail(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(ColumnList { columns: v.columns.iter().map(Into::into).collect() }))
    }

    /// Download a dataset
    ///
    /// The latest version as a file. `format=csv` (default) streams RFC 4180 CSV in UTF-8;
    /// `escape_formulas=true` prefixes text cells that begin with `=`, `+`, `-`, `@`, tab or CR
    /// with `'` (CSV-injection protection; off by default to stay faithful to the data).
    /// `format=xlsx` returns an Excel workbook (numbers, dates, booleans and text as typed
    /// cells, a bold header row); a dataset beyond Excel's limits or `MAX_XLSX_ROWS` answers
    /// 422 `not_exportable`, suggesting CSV.
    #[oai(path = "/api/datasets/:dataset_id/download", method = "get", operation_id = "download_dataset")]
    async fn download(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// `csv` or `xlsx`.
        #[oai(default = "default_format")]
        format: Query<DownloadFormat>,
        /// CSV only: escape text cells that a spreadsheet could run as formulas.
        #[oai(default)]
        escape_formulas: Query<bool>,
    ) -> Result<Download, ApiError> {
        let id = DatasetId(dataset_id.0);
        let (stream, file_name, content_type) = match format.0 {
            DownloadFormat::Csv => {
                let options = CsvOptions { escape_formulas: escape_formulas.0 };
                let (stream, name) = app.download_csv(&auth.0, id, options).await?;
                (stream, name, CSV_TYPE)
            }
            DownloadFormat::Xlsx => {
                let (stream, name) = app.download_xlsx(&auth.0, id).await?;
                (stream, name, XLSX_TYPE)
            }
        };
        let body = Body::from_bytes_stream(futures_util::StreamExt::map(stream, |chunk| {
            chunk.map_err(|e| {
                tracing::error!(error = %e, "download stream failed");
                std::io::Error::other(e.to_string())
            })
        }));
        Ok(Download { body, content_type, file_name })
    }

    /// Get the quality report
    ///
    /// The data-quality report computed at upload for the latest version.
    #[oai(path = "/api/datasets/:dataset_id/quality", method = "get", operation_id = "get_dataset_quality")]
    async fn quality(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<Json<QualityResponse>, ApiError> {
        let (_, v) = app.dataset_detail(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(QualityResponse {
            quality: QualityReportDto {
                overall_score: v.quality.overall_score,
                checks: v.quality.checks.into_iter().map(Into::into).collect(),
            },
        }))
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
    ) -> Result<Json<DeleteResult>, ApiError> {
        app.delete_dataset(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(DeleteResult { ok: true }))
    }

    /// List versions
    ///
    /// The dataset's versions ordered by version number.
    #[oai(path = "/api/datasets/:dataset_id/versions", method = "get", operation_id = "list_dataset_versions")]
    async fn versions(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// Max items (1–100).
        #[oai(default = "default_version_limit", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<u64>,
        /// Pagination offset.
        #[oai(default = "default_offset", validator(minimum(value = "0")))]
        offset: Query<u64>,
    ) -> Result<Json<VersionPage>, ApiError> {
        let page = Page { limit: limit.0, offset: offset.0 };
        let (items, total) = app.list_versions(&auth.0, DatasetId(dataset_id.0), page).await?;
        Ok(Json(VersionPage {
            items: items.into_iter().map(Into::into).collect(),
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Upload a new version
    ///
    /// Uploads a CSV or Parquet file (`multipart/form-data`) as the next version of the
    /// dataset. Versions are numbered 0, 1, 2, … per dataset.
    #[oai(path = "/api/datasets/:dataset_id/versions", method = "post", operation_id = "upload_dataset_version")]
    async fn new_version(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        limits: Data<&HttpLimits>,
        form: UploadVersionForm,
    ) -> Result<VersionCreated, ApiError> {
        let form =
            match read_form(form.0, &app.settings.spool_dir, app.settings.max_upload_bytes, limits.upload_idle_timeout)
                .await
            {
                Ok(form) => form,
                Err(FormError::Stalled(body)) => return Ok(VersionCreated::Stalled(Json(body))),
                Err(FormError::Api(e)) => return Err(e),
            };
        let description = form.field("description").map(str::to_string);
        let uploaded = app.upload_version(&auth.0, DatasetId(dataset_id.0), description.as_deref(), form.file).await?;
        Ok(VersionCreated::Created(
            Json(NewVersionResult {
                dataset_version_id: uploaded.version_id.0,
                version: uploaded.version,
                row_count: uploaded.row_count,
                column_count: uploaded.column_count,
                quality: upload_quality(&uploaded),
            }),
            server_timing(&uploaded),
        ))
    }
}

pub struct VersionsApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl VersionsApi {
    /// Get a dataset version
    ///
    /// One version's metadata with its column schema.
    #[oai(path = "/api/dataset-versions/:dataset_version_id", method = "get", operation_id = "get_dataset_version")]
    async fn get(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_version_id: Path<Uuid>,
    ) -> Result<Json<VersionDetail>, ApiError> {
        let v = app.get_version(&auth.0, VersionId(dataset_version_id.0)).await?;
        let s = v.summary;
        Ok(Json(VersionDetail {
            id: s.id.0,
            dataset_id: s.dataset_id.0,
            version: s.version,
            row_count: s.row_count,
            column_count: s.column_count,
            description: s.description,
            created_by_name: s.created_by_name,
            columns: v.columns.iter().map(Into::into).collect(),
            created_at: s.created_at.into(),
        }))
    }
}
