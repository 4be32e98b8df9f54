//! A dataset's aliases: set or move, remove, list, history.

use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::Tagged;
use super::errors::ApiError;
use super::text::{AliasRule, RuledText};
use super::time::UtcTime;
use crate::app::App;
use crate::domain::aliases::{Alias, AliasMove, dataset_etag};
use crate::domain::ids::DatasetId;

/// Where an alias points.
#[derive(Object, Debug)]
pub struct AliasDto {
    pub alias: String,
    /// The version number it names.
    pub version: i64,
    pub dataset_version_id: Uuid,
    /// When it was last set or moved.
    pub updated_at: UtcTime,
    /// Who last set or moved it.
    pub updated_by: Uuid,
    /// Their name.
    pub updated_by_name: String,
}

impl From<Alias> for AliasDto {
    fn from(a: Alias) -> Self {
        Self {
            alias: a.name.as_str().to_string(),
            version: a.version,
            dataset_version_id: a.version_id.0,
            updated_at: a.updated_at.into(),
            updated_by: a.updated_by.0,
            updated_by_name: a.updated_by_name,
        }
    }
}

/// The version an alias is to name.
#[derive(Object, Debug)]
pub struct SetAlias {
    /// A version number of the dataset.
    #[oai(validator(minimum(value = "0")))]
    pub version: i64,
}

#[derive(Object, Debug)]
pub struct AliasList {
    /// By name.
    pub items: Vec<AliasDto>,
}

/// One change of an alias.
#[derive(Object, Debug)]
pub struct AliasMoveDto {
    /// The version it named before (null when it was set for the first time, or set again
    /// after a removal).
    #[oai(nullable)]
    pub from_version: Option<i64>,
    /// The version it named after (null when it was removed).
    #[oai(nullable)]
    pub to_version: Option<i64>,
    #[oai(nullable)]
    pub to_dataset_version_id: Option<Uuid>,
    pub moved_at: UtcTime,
    pub moved_by: Uuid,
    pub moved_by_name: String,
}

impl From<AliasMove> for AliasMoveDto {
    fn from(m: AliasMove) -> Self {
        Self {
            from_version: m.from_version,
            to_version: m.to_version,
            to_dataset_version_id: m.to_version_id.map(|v| v.0),
            moved_at: m.moved_at.into(),
            moved_by: m.moved_by.0,
            moved_by_name: m.moved_by_name,
        }
    }
}

#[derive(Object, Debug)]
pub struct AliasHistory {
    pub alias: String,
    /// Every change, oldest first.
    pub items: Vec<AliasMoveDto>,
}

/// The answer of an alias change: the dataset's new `ETag` (for a next `If-Match`).
#[derive(ApiResponse)]
pub enum AliasSet {
    /// The alias names the version.
    #[oai(status = 200)]
    Set(Json<AliasDto>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum AliasRemoved {
    /// The alias is removed (its history stays).
    #[oai(status = 204)]
    Removed(#[oai(header = "ETag")] String),
}

pub struct AliasesApi;

/// The dataset's tag now (after a change).
async fn current_tag(app: &App, auth: &BearerAuth, dataset: DatasetId) -> Result<String, ApiError> {
    let (found, _) = app.list_aliases(&auth.0, dataset).await?;
    Ok(dataset_etag(found.id, found.revision))
}

#[OpenApi(tag = "ApiTags::Datasets")]
impl AliasesApi {
    /// Set or move an alias
    ///
    /// Points the alias at a version of the dataset (creating it, or moving it). Names are
    /// `[a-z][a-z0-9_-]{0,62}`; `latest` is reserved (it always names the newest version) and
    /// a name that reads as a number is refused. Every change is kept in the alias's history
    /// and changes the dataset's `ETag` (answered here). Wherever a `version` parameter is
    /// taken, the alias names the version it points at. Editors and owners of the project.
    #[oai(path = "/api/datasets/:dataset_id/aliases/:alias", method = "put", operation_id = "set_dataset_alias")]
    async fn set(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        alias: Path<RuledText<AliasRule>>,
        body: Json<SetAlias>,
        /// Change the alias only if the dataset still has this `ETag` (of
        /// `GET /api/datasets/{id}`): otherwise `412 precondition_failed` and nothing changes.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<AliasSet, ApiError> {
        let dataset = DatasetId(dataset_id.0);
        let set = app.set_alias(&auth.0, dataset, &alias.0[..], body.version, if_match.0.as_deref()).await?;
        Ok(AliasSet::Set(Json(set.into()), current_tag(&app, &auth, dataset).await?))
    }

    /// Remove an alias
    ///
    /// Removes the alias; its history stays (`GET …/aliases/{alias}/history`). Changes the
    /// dataset's `ETag` (answered here). Editors and owners of the project.
    #[oai(path = "/api/datasets/:dataset_id/aliases/:alias", method = "delete", operation_id = "delete_dataset_alias")]
    async fn remove(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        alias: Path<RuledText<AliasRule>>,
        /// Remove the alias only if the dataset still has this `ETag`: otherwise
        /// `412 precondition_failed` and nothing changes.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<AliasRemoved, ApiError> {
        let dataset = DatasetId(dataset_id.0);
        app.remove_alias(&auth.0, dataset, &alias.0[..], if_match.0.as_deref()).await?;
        Ok(AliasRemoved::Removed(current_tag(&app, &auth, dataset).await?))
    }

    /// List aliases
    ///
    /// The dataset's aliases by name, with the versions they name. The `ETag` is the
    /// dataset's.
    #[oai(path = "/api/datasets/:dataset_id/aliases", method = "get", operation_id = "list_dataset_aliases")]
    async fn list(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<AliasList>, ApiError> {
        let (found, aliases) = app.list_aliases(&auth.0, DatasetId(dataset_id.0)).await?;
        let list = AliasList { items: aliases.into_iter().map(Into::into).collect() };
        Ok(Tagged::with_tag(list, dataset_etag(found.id, found.revision), if_none_match.0.as_deref()))
    }

    /// Alias history
    ///
    /// Every change of the alias, oldest first: from which version to which, who, when
    /// (`to_version` null when it was removed). `404` for an alias that never existed.
    #[oai(
        path = "/api/datasets/:dataset_id/aliases/:alias/history",
        method = "get",
        operation_id = "get_dataset_alias_history"
    )]
    async fn history(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        alias: Path<RuledText<AliasRule>>,
    ) -> Result<Json<AliasHistory>, ApiError> {
        let moves = app.alias_history(&auth.0, DatasetId(dataset_id.0), &alias.0[..]).await?;
        Ok(Json(AliasHistory { alias: alias.0.into_string(), items: moves.into_iter().map(Into::into).collect() }))
    }
}
