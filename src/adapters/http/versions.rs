//! A dataset's versions: the list, a new version, one version.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::datasets::{ColumnDto, UploadQuality};
use super::errors::ApiError;
use super::limits::HttpLimits;
use super::time::UtcTime;
use super::upload::{ReceivedForm, UploadAnswer, UploadVersionForm};
use crate::app::App;
use crate::domain::ids::{DatasetId, VersionId};
use crate::domain::records::{Page, VersionSummary};

#[derive(Object, Debug)]
pub struct NewVersionResult {
    pub dataset_version_id: Uuid,
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    pub quality: UploadQuality,
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

fn default_version_limit() -> u64 {
    50
}

fn default_offset() -> u64 {
    0
}

pub struct VersionsApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl VersionsApi {
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
    ) -> Result<UploadAnswer<NewVersionResult>, ApiError> {
        let upload = async |form: ReceivedForm| {
            let description = form.field("description").map(str::to_string);
            Ok(app.upload_version(&auth.0, DatasetId(dataset_id.0), description.as_deref(), form.file).await?)
        };
        UploadAnswer::receive(form.0, &app, &limits, upload, |u| NewVersionResult {
            dataset_version_id: u.version_id.0,
            version: u.version,
            row_count: u.row_count,
            column_count: u.column_count,
            quality: UploadQuality::from(&u.quality),
        })
        .await
    }

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
