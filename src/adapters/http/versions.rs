//! A dataset's versions: the list, a new version, one version.

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::Tagged;
use super::contracts::ContractResultDto;
use super::datasets::{ColumnDto, UploadQuality};
use super::errors::ApiError;
use super::idempotency::KeyHeader;
use super::limits::HttpLimits;
use super::time::UtcTime;
use super::upload::{ReceivedForm, UploadAnswer, UploadVersionForm};
use crate::app::App;
use crate::app::ingest::VersionOptions;
use crate::domain::ids::{DatasetId, VersionId};
use crate::domain::read_hints::ReadHints;
use crate::domain::records::{Page, VersionSummary};

#[derive(Object, Debug)]
pub struct NewVersionResult {
    pub dataset_version_id: Uuid,
    pub version: i64,
    pub row_count: u64,
    pub column_count: u64,
    pub quality: UploadQuality,
    /// Hex SHA-256 of the uploaded bytes (recompute it on the original download).
    pub sha256: String,
    /// `sha256:` and the SHA-256 of the normalized table's canonical serialization: the same
    /// table gives the same hash whatever file it came from (docs/content-hash.md).
    pub content_hash: String,
    /// `true` when `skip_if_unchanged` found the latest version equal: nothing was stored, and
    /// the fields above are the latest version's.
    pub unchanged: bool,
    /// How the version fared against the dataset's contract (absent without one; a
    /// violation of an enforced contract answers `422 contract_violation` instead).
    #[oai(skip_serializing_if_is_none)]
    pub contract: Option<ContractResultDto>,
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
    /// Hex SHA-256 of the uploaded bytes (recompute it on the original download).
    #[oai(nullable)]
    pub sha256: Option<String>,
    /// `sha256:` and the SHA-256 of the normalized table's canonical serialization: the same
    /// table gives the same hash whatever file it came from (docs/content-hash.md). Null for
    /// a version uploaded before content hashes were recorded, until the server computed it
    /// (at start-up, or when the version is first read on its own).
    #[oai(nullable)]
    pub content_hash: Option<String>,
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
            sha256: v.sha256,
            content_hash: v.content_hash,
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
    /// Hex SHA-256 of the uploaded bytes.
    pub sha256: String,
    /// `sha256:` and the SHA-256 of the normalized table's canonical serialization
    /// (docs/content-hash.md).
    pub content_hash: String,
    /// How the version fared against its dataset's contract at upload (null when the dataset
    /// had none).
    #[oai(nullable)]
    pub contract: Option<ContractResultDto>,
    /// The hints the upload was read with (its form's `dtypes`, `na_values`,
    /// `keep_default_na`, `delimiter`, `encoding`, `header`, `sheet`); `{}` when none was
    /// given. `reuse_hints=true` on the next upload reads it with these.
    pub hints: ReadHintsDto,
}

/// An upload's read hints; a hint not given is absent.
#[derive(Object, Debug, Default)]
pub struct ReadHintsDto {
    /// Column name → dtype.
    #[oai(skip_serializing_if_is_none)]
    pub dtypes: Option<std::collections::BTreeMap<String, String>>,
    #[oai(skip_serializing_if_is_none)]
    pub na_values: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub keep_default_na: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub delimiter: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub encoding: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub header: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub sheet: Option<String>,
}

impl From<ReadHints> for ReadHintsDto {
    fn from(h: ReadHints) -> Self {
        Self {
            dtypes: (!h.dtypes.is_empty())
                .then(|| h.dtypes.into_iter().map(|(name, dtype)| (name, dtype.as_str().to_string())).collect()),
            na_values: h.na_values,
            keep_default_na: h.keep_default_na,
            delimiter: h.delimiter.map(String::from),
            encoding: h.encoding,
            header: h.header,
            sheet: h.sheet,
        }
    }
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
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<VersionPage>, ApiError> {
        let page = Page { limit: limit.0, offset: offset.0 };
        let (items, total) = app.list_versions(&auth.0, DatasetId(dataset_id.0), page).await?;
        let page =
            VersionPage { items: items.into_iter().map(Into::into).collect(), total, limit: limit.0, offset: offset.0 };
        Ok(Tagged::by_content(page, if_none_match.0.as_deref()))
    }

    /// Upload a new version
    ///
    /// Uploads a file (`multipart/form-data`) as the next version of the dataset: CSV, JSON
    /// Lines, JSON, Parquet, Arrow IPC (Feather) or a spreadsheet, compressed or not; read as
    /// its hints say (`reuse_hints=true`: those of the latest version). Versions are numbered
    /// 0, 1, 2, … per dataset.
    #[oai(path = "/api/datasets/:dataset_id/versions", method = "post", operation_id = "upload_dataset_version")]
    async fn new_version(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        limits: Data<&HttpLimits>,
        form: UploadVersionForm,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
        /// Create the version only if the dataset still has this `ETag` (of
        /// `GET /api/datasets/{id}`), e.g. "version N+1 only if N is still the latest":
        /// otherwise `412 precondition_failed` and nothing is stored.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<UploadAnswer<NewVersionResult>, ApiError> {
        let upload = async |form: ReceivedForm| {
            let description = form.field("description").map(str::to_string);
            let options = VersionOptions {
                skip_if_unchanged: form.flag("skip_if_unchanged")?,
                if_match: if_match.0.clone(),
                reuse_hints: form.flag("reuse_hints")?,
            };
            Ok(app
                .upload_version(&auth.0, DatasetId(dataset_id.0), description.as_deref(), form.file, &options)
                .await?)
        };
        UploadAnswer::receive(form.0, &app, &limits, upload, |u| NewVersionResult {
            dataset_version_id: u.version_id.0,
            version: u.version,
            row_count: u.row_count,
            column_count: u.column_count,
            quality: UploadQuality::from(&u.quality),
            sha256: u.sha256.clone(),
            content_hash: u.content_hash.clone(),
            unchanged: u.unchanged,
            contract: u.contract.clone().map(Into::into),
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
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<VersionDetail>, ApiError> {
        let v = app.get_version(&auth.0, VersionId(dataset_version_id.0)).await?;
        let s = v.summary;
        let detail = VersionDetail {
            id: s.id.0,
            dataset_id: s.dataset_id.0,
            version: s.version,
            row_count: s.row_count,
            column_count: s.column_count,
            description: s.description,
            created_by_name: s.created_by_name,
            columns: v.columns.iter().map(Into::into).collect(),
            created_at: s.created_at.into(),
            sha256: v.original.sha256.clone(),
            content_hash: s.content_hash.unwrap_or_default(),
            contract: v.contract.map(Into::into),
            hints: v.read_hints.into(),
        };
        Ok(Tagged::by_content(detail, if_none_match.0.as_deref()))
    }
}
