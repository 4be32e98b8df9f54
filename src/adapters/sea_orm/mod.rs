//! The [`MetadataStore`] on SQLite, PostgreSQL or MySQL/MariaDB through SeaORM. Library errors
//! are translated into [`StoreError`] in one place ([`store_error`]).

mod entities;

use std::time::Duration;

use async_trait::async_trait;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectOptions, Database, DatabaseConnection, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use self::entities::{
    api_key, artifact, dataset, deployment, experiment, member, model, project, statistics, user, version,
};
use crate::domain::access::{Principal, Role};
use crate::domain::dtype::{ColumnSchema, DType};
use crate::domain::ids::{ArtifactId, DatasetId, DeploymentId, ExperimentId, ModelId, ProjectId, UserId, VersionId};
use crate::domain::lineage::{Deployment, Experiment, ExperimentStatus, ExperimentSummary, LineageFilter, Model};
use crate::domain::preview::PreviewRow;
use crate::domain::quality::QualityReport;
use crate::domain::records::{
    ApiKeyRecord, Artifact, ArtifactKind, Dataset, DatasetListItem, DatasetQuery, DatasetSort, Membership, NewVersion,
    Page, Project, SortDirection, SourceFormat, User, Version, VersionSummary,
};
use crate::domain::statistics::DatasetStatistics;
use crate::ports::StoreError;
use crate::ports::metadata::MetadataStore;

/// Attempts at allocating a version number before giving up (only concurrent inserts that
/// collide on the unique index are retried).
const VERSION_ATTEMPTS: usize = 8;

/// Translates every SeaORM error of this adapter.
fn store_error(e: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
        return StoreError::Conflict(m);
    }
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Other(other.to_string()),
    }
}

/// Deadlocks (MySQL 1213, PostgreSQL 40P01) and serialization failures (40001): the
/// transaction was rolled back and may simply be run again.
fn is_transient(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("deadlock")
        || text.contains("could not serialize")
        || text.contains("40001")
        || text.contains("40p01")
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is not readable"))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    /// Connects to `url` (`sqlite://path`, `postgres://…`, `mysql://…`). A SQLite file and its
    /// folder are created when missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut url = url.to_string();
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or_default();
            if !file.is_empty() && file != ":memory:" {
                if let Some(parent) = std::path::Path::new(file).parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
                }
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let mut options = ConnectOptions::new(url.clone());
        options.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
        if url.starts_with("sqlite:") {
            // One connection: SQLite serializes writers anyway, and a single connection avoids
            // lock upgrades failing between concurrent transactions.
            options.max_connections(1).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30))
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
            });
        } else {
            options.max_connections(16);
        }
        let db = Database::connect(options).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { db })
    }
}

fn user_from(m: user::Model) -> User {
    User { id: UserId(m.id), name: m.name, email: m.email, is_admin: m.is_admin, created_at: m.created_at }
}

fn project_from(m: project::Model) -> Project {
    Project { id: ProjectId(m.id), name: m.name, description: m.description, created_at: m.created_at }
}

fn dataset_from(m: dataset::Model) -> Dataset {
    Dataset {
        id: DatasetId(m.id),
        project_id: ProjectId(m.project_id),
        name: m.name,
        description: m.description,
        created_at: m.created_at,
        latest_version_id: VersionId(m.latest_version_id),
        latest_version: m.latest_version,
        rows: to_u64(m.row_count),
        columns: to_u64(m.column_count),
    }
}

fn summary_from(m: &version::Model, creator: Option<user::Model>) -> VersionSummary {
    VersionSummary {
        id: VersionId(m.id),
        dataset_id: DatasetId(m.dataset_id),
        version: m.version,
        row_count: to_u64(m.row_count),
        column_count: to_u64(m.column_count),
        description: m.description.clone(),
        created_by: UserId(m.created_by),
        created_by_name: creator.map(|u| u.name).unwrap_or_default(),
        created_at: m.created_at,
    }
}

fn experiment_from(m: experiment::Model) -> Result<Experiment, StoreError> {
    Ok(Experiment {
        id: ExperimentId(m.id),
        project_id: ProjectId(m.project_id),
        name: m.name,
        dataset_id: DatasetId(m.dataset_id),
        dataset_version_id: m.dataset_version_id.map(VersionId),
        target_column: m.target_column,
        problem_type: m.problem_type,
        status: ExperimentStatus::parse(&m.status).ok_or_else(|| corrupt("experiment status"))?,
        created_at: m.created_at,
    })
}

fn model_from(m: model::Model) -> Model {
    Model {
        id: ModelId(m.id),
        project_id: ProjectId(m.project_id),
        experiment_id: ExperimentId(m.experiment_id),
        name: m.name,
        algorithm: m.algorithm,
        created_at: m.created_at,
    }
}

fn deployment_from(m: deployment::Model) -> Deployment {
    Deployment {
        id: DeploymentId(m.id),
        project_id: ProjectId(m.project_id),
        model_id: ModelId(m.model_id),
        name: m.name,
        stage: m.stage,
        is_active: m.is_active,
        created_at: m.created_at,
    }
}

fn artifact_from(m: artifact::Model) -> Result<Artifact, StoreError> {
    Ok(Artifact {
        id: ArtifactId(m.id),
        kind: ArtifactKind::parse(&m.kind).ok_or_else(|| corrupt("artifact kind"))?,
        storage_key: m.storage_key,
        size_bytes: to_u64(m.size_bytes),
        sha256: m.sha256,
        created_at: m.created_at,
    })
}

fn columns_json(columns: &[ColumnSchema]) -> serde_json::Value {
    serde_json::Value::Array(
        columns.iter().map(|c| serde_json::json!({"name": c.name, "dtype": c.dtype.as_str()})).collect(),
    )
}

fn columns_from(value: &serde_json::Value) -> Result<Vec<ColumnSchema>, StoreError> {
    let items = value.as_array().ok_or_else(|| corrupt("schema"))?;
    items
        .iter()
        .map(|item| {
            let name = item.get("name").and_then(|v| v.as_str()).ok_or_else(|| corrupt("column name"))?;
            let dtype =
                item.get("dtype").and_then(|v| v.as_str()).and_then(DType::parse).ok_or_else(|| corrupt("dtype"))?;
            Ok(ColumnSchema { name: name.to_string(), dtype })
        })
        .collect()
}

fn artifact_row(a: &Artifact, version: VersionId, dataset: DatasetId) -> artifact::ActiveModel {
    artifact::ActiveModel {
        id: Set(a.id.0),
        version_id: Set(version.0),
        dataset_id: Set(dataset.0),
        kind: Set(a.kind.as_str().to_string()),
        storage_key: Set(a.storage_key.clone()),
        size_bytes: Set(to_i64(a.size_bytes)),
        sha256: Set(a.sha256.clone()),
        created_at: Set(a.created_at),
    }
}

/// `%text%` for a case-insensitive LIKE, with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> LikeExpr {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

impl SeaOrmStore {
    async fn try_insert_version(&self, v: &NewVersion) -> Result<i64, DbErr> {
        let txn = self.db.begin().await?;
        let number = if let Some(new) = &v.new_dataset {
            dataset::Entity::insert(dataset::ActiveModel {
                id: Set(v.dataset_id.0),
                project_id: Set(new.project_id.0),
                name: Set(new.name.clone()),
                description: Set(new.description.clone()),
                created_at: Set(v.created_at),
                latest_version_id: Set(v.version_id.0),
                latest_version: Set(0),
                row_count: Set(to_i64(v.row_count)),
                column_count: Set(v.columns.len() as i64),
            })
            .exec_without_returning(&txn)
            .await?;
            0
        } else {
            // Taking the dataset row's lock first serializes version allocation per dataset.
            let bumped = dataset::Entity::update_many()
                .col_expr(dataset::Column::LatestVersion, Expr::col(dataset::Column::LatestVersion).add(1))
                .col_expr(dataset::Column::LatestVersionId, Expr::value(v.version_id.0))
                .col_expr(dataset::Column::RowCount, Expr::value(to_i64(v.row_count)))
                .col_expr(dataset::Column::ColumnCount, Expr::value(v.columns.len() as i64))
                .filter(dataset::Column::Id.eq(v.dataset_id.0))
                .exec(&txn)
                .await?;
            if bumped.rows_affected == 0 {
                return Err(DbErr::RecordNotFound("dataset".into()));
            }
            dataset::Entity::find_by_id(v.dataset_id.0)
                .one(&txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("dataset".into()))?
                .latest_version
        };
        version::Entity::insert(version::ActiveModel {
            id: Set(v.version_id.0),
            dataset_id: Set(v.dataset_id.0),
            version: Set(number),
            description: Set(v.description.clone()),
            created_by: Set(v.created_by.0),
            row_count: Set(to_i64(v.row_count)),
            column_count: Set(v.columns.len() as i64),
            source_format: Set(v.source_format.as_str().to_string()),
            columns: Set(columns_json(&v.columns).to_string()),
            quality: Set(serde_json::to_string(&v.quality).map_err(|e| DbErr::Custom(e.to_string()))?),
            preview: Set(serde_json::Value::Array(v.preview.iter().cloned().map(serde_json::Value::Object).collect())
                .to_string()),
            created_at: Set(v.created_at),
        })
        .exec_without_returning(&txn)
        .await?;
        artifact::Entity::insert_many([
            artifact_row(&v.original, v.version_id, v.dataset_id),
            artifact_row(&v.normalized, v.version_id, v.dataset_id),
        ])
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(number)
    }

    /// The version with its artifacts; `None` when the version was deleted while it was read
    /// (its rows are read by separate statements).
    async fn load_version(&self, m: version::Model) -> Result<Option<Version>, StoreError> {
        let creator = user::Entity::find_by_id(m.created_by).one(&self.db).await.map_err(store_error)?;
        let artifacts = artifact::Entity::find()
            .filter(artifact::Column::VersionId.eq(m.id))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(artifact_from)
            .collect::<Result<Vec<_>, _>>()?;
        if artifacts.len() < 2 {
            let still_there = version::Entity::find_by_id(m.id).one(&self.db).await.map_err(store_error)?;
            if still_there.is_none() {
                return Ok(None);
            }
        }
        let pick = |kind| artifacts.iter().find(|a| a.kind == kind).cloned().ok_or_else(|| corrupt("artifact list"));
        let preview: Vec<PreviewRow> = match serde_json::from_str(&m.preview) {
            Ok(serde_json::Value::Array(rows)) => rows.iter().filter_map(|r| r.as_object().cloned()).collect(),
            _ => return Err(corrupt("preview")),
        };
        Ok(Some(Version {
            summary: summary_from(&m, creator),
            source_format: SourceFormat::parse(&m.source_format).ok_or_else(|| corrupt("source format"))?,
            columns: columns_from(&serde_json::from_str(&m.columns).map_err(|_| corrupt("schema"))?)?,
            quality: serde_json::from_str::<QualityReport>(&m.quality).map_err(|_| corrupt("quality report"))?,
            preview,
            original: pick(ArtifactKind::Original)?,
            normalized: pick(ArtifactKind::Normalized)?,
        }))
    }
}

impl SeaOrmStore {
    async fn try_delete_dataset(&self, id: DatasetId) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let keys: Vec<String> = artifact::Entity::find()
            .filter(artifact::Column::DatasetId.eq(id.0))
            .all(&txn)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|a| a.storage_key)
            .collect();
        artifact::Entity::delete_many()
            .filter(artifact::Column::DatasetId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        version::Entity::delete_many()
            .filter(version::Column::DatasetId.eq(id.0))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let deleted = dataset::Entity::delete_by_id(id.0).exec(&txn).await.map_err(store_error)?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        txn.commit().await.map_err(store_error)?;
        Ok(keys)
    }
}

#[async_trait]
impl MetadataStore for SeaOrmStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(store_error)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        user::Entity::insert(user::ActiveModel {
            id: Set(u.id.0),
            name: Set(u.name.clone()),
            email: Set(u.email.clone()),
            is_admin: Set(u.is_admin),
            created_at: Set(u.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)?.map(user_from))
    }

    async fn find_admin(&self) -> Result<Option<User>, StoreError> {
        let found = user::Entity::find()
            .filter(user::Column::IsAdmin.eq(true))
            .order_by_asc(user::Column::CreatedAt)
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(found.map(user_from))
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        api_key::Entity::insert(api_key::ActiveModel {
            id: Set(key.id.0),
            user_id: Set(key.user_id.0),
            key_hash: Set(key.key_hash.clone()),
            created_at: Set(key.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn find_principal_by_key_hash(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        let Some(key) = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let found = user::Entity::find_by_id(key.user_id).one(&self.db).await.map_err(store_error)?;
        Ok(found.map(|u| Principal { user_id: UserId(u.id), name: u.name, is_admin: u.is_admin }))
    }

    async fn insert_project(&self, p: &Project, owner: Option<&Membership>) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        project::Entity::insert(project::ActiveModel {
            id: Set(p.id.0),
            name: Set(p.name.clone()),
            description: Set(p.description.clone()),
            created_at: Set(p.created_at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        if let Some(m) = owner {
            member::Entity::insert(member::ActiveModel {
                project_id: Set(m.project_id.0),
                user_id: Set(m.user_id.0),
                role: Set(m.role.as_str().to_string()),
                created_at: Set(m.created_at),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)
    }

    async fn find_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        Ok(project::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)?.map(project_from))
    }

    async fn list_projects(&self, member_id: Option<UserId>) -> Result<Vec<Project>, StoreError> {
        let mut query = project::Entity::find();
        if let Some(user_id) = member_id {
            let ids: Vec<Uuid> = member::Entity::find()
                .filter(member::Column::UserId.eq(user_id.0))
                .all(&self.db)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|m| m.project_id)
                .collect();
            query = query.filter(project::Column::Id.is_in(ids));
        }
        let rows = query
            .order_by_asc(project::Column::CreatedAt)
            .order_by_asc(project::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(project_from).collect())
    }

    async fn role_of(&self, user_id: UserId, project_id: ProjectId) -> Result<Option<Role>, StoreError> {
        let found = member::Entity::find_by_id((project_id.0, user_id.0)).one(&self.db).await.map_err(store_error)?;
        found.map(|m| Role::parse(&m.role).ok_or_else(|| corrupt("role"))).transpose()
    }

    async fn upsert_membership(&self, m: &Membership) -> Result<(), StoreError> {
        // One statement (INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE): a delete-then-insert
        // took InnoDB gap locks that deadlocked with concurrent inserts of other members.
        let mut last = None;
        for _ in 0..VERSION_ATTEMPTS {
            let upsert = member::Entity::insert(member::ActiveModel {
                project_id: Set(m.project_id.0),
                user_id: Set(m.user_id.0),
                role: Set(m.role.as_str().to_string()),
                created_at: Set(m.created_at),
            })
            .on_conflict(
                OnConflict::columns([member::Column::ProjectId, member::Column::UserId])
                    .update_column(member::Column::Role)
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await;
            match upsert {
                Ok(_) => return Ok(()),
                Err(e) if is_transient(&e) => last = Some(store_error(e)),
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Other("membership not recorded".into())))
    }

    async fn insert_version(&self, v: &NewVersion) -> Result<i64, StoreError> {
        let mut last = None;
        for _ in 0..VERSION_ATTEMPTS {
            match self.try_insert_version(v).await {
                Ok(number) => return Ok(number),
                Err(DbErr::RecordNotFound(_)) => return Err(StoreError::NotFound),
                Err(e) if is_transient(&e) => {
                    tracing::info!(error = %e, "retrying a version insert after a transient database error");
                    last = Some(store_error(e));
                }
                Err(e) => match store_error(e) {
                    StoreError::Conflict(m) if v.new_dataset.is_none() => last = Some(StoreError::Conflict(m)),
                    other => return Err(other),
                },
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Other("version allocation failed".into())))
    }

    async fn find_dataset(&self, id: DatasetId) -> Result<Option<Dataset>, StoreError> {
        Ok(dataset::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)?.map(dataset_from))
    }

    async fn list_datasets(&self, q: &DatasetQuery) -> Result<(Vec<DatasetListItem>, u64), StoreError> {
        let mut condition = Condition::all();
        if let Some(projects) = &q.projects {
            if projects.is_empty() {
                return Ok((Vec::new(), 0));
            }
            condition = condition.add(dataset::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
        }
        if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
            let name = Func::lower(Expr::col((dataset::Entity, dataset::Column::Name)));
            let description = Func::lower(Expr::col((dataset::Entity, dataset::Column::Description)));
            condition = condition
                .add(Condition::any().add(name.like(like_pattern(search))).add(description.like(like_pattern(search))));
        }
        let total = dataset::Entity::find().filter(condition.clone()).count(&self.db).await.map_err(store_error)?;
        let order = match q.direction {
            SortDirection::Asc => Order::Asc,
            SortDirection::Desc => Order::Desc,
        };
        let key: Expr = match q.sort {
            DatasetSort::CreatedAt => Expr::col((dataset::Entity, dataset::Column::CreatedAt)),
            DatasetSort::Name => Func::lower(Expr::col((dataset::Entity, dataset::Column::Name))).into(),
            DatasetSort::Rows => Expr::col((dataset::Entity, dataset::Column::RowCount)),
            DatasetSort::Columns => Expr::col((dataset::Entity, dataset::Column::ColumnCount)),
            DatasetSort::ProjectName => Func::lower(Expr::col((project::Entity, project::Column::Name))).into(),
        };
        let rows = dataset::Entity::find()
            .find_also_related(project::Entity)
            .filter(condition)
            .order_by(key, order.clone())
            .order_by(Expr::col((dataset::Entity, dataset::Column::Id)), order)
            .limit(q.page.limit)
            .offset(q.page.offset)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let items = rows
            .into_iter()
            .map(|(d, p)| DatasetListItem {
                project_name: p.map(|p| p.name).unwrap_or_default(),
                dataset: dataset_from(d),
            })
            .collect();
        Ok((items, total))
    }

    async fn list_versions(&self, id: DatasetId, page: Page) -> Result<(Vec<VersionSummary>, u64), StoreError> {
        let filter = version::Column::DatasetId.eq(id.0);
        let total = version::Entity::find().filter(filter.clone()).count(&self.db).await.map_err(store_error)?;
        let rows = version::Entity::find()
            .find_also_related(user::Entity)
            .filter(filter)
            .order_by_asc(version::Column::Version)
            .limit(page.limit)
            .offset(page.offset)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok((rows.into_iter().map(|(v, u)| summary_from(&v, u)).collect(), total))
    }

    async fn find_version(&self, id: VersionId) -> Result<Option<Version>, StoreError> {
        match version::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)? {
            Some(m) => self.load_version(m).await,
            None => Ok(None),
        }
    }

    async fn find_version_by_number(&self, id: DatasetId, number: i64) -> Result<Option<Version>, StoreError> {
        let found = version::Entity::find()
            .filter(version::Column::DatasetId.eq(id.0))
            .filter(version::Column::Version.eq(number))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        match found {
            Some(m) => self.load_version(m).await,
            None => Ok(None),
        }
    }

    async fn delete_dataset(&self, id: DatasetId) -> Result<Vec<String>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_delete_dataset(id).await {
                Err(StoreError::Other(m))
                    if attempt < VERSION_ATTEMPTS && m.to_ascii_lowercase().contains("deadlock") =>
                {
                    tracing::info!(error = %m, "retrying a dataset deletion after a deadlock");
                }
                result => return result,
            }
        }
    }

    async fn find_statistics(&self, version_id: VersionId) -> Result<Option<DatasetStatistics>, StoreError> {
        let found = statistics::Entity::find_by_id(version_id.0).one(&self.db).await.map_err(store_error)?;
        found.map(|m| serde_json::from_str(&m.statistics).map_err(|_| corrupt("statistics"))).transpose()
    }

    async fn save_statistics(
        &self,
        version_id: VersionId,
        stats: &DatasetStatistics,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_string(stats).map_err(|e| StoreError::Other(e.to_string()))?;
        let inserted = statistics::Entity::insert(statistics::ActiveModel {
            version_id: Set(version_id.0),
            statistics: Set(value),
            created_at: Set(at),
        })
        .exec_without_returning(&self.db)
        .await;
        match inserted.map_err(store_error) {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn insert_experiment(&self, e: &Experiment) -> Result<(), StoreError> {
        experiment::Entity::insert(experiment::ActiveModel {
            id: Set(e.id.0),
            project_id: Set(e.project_id.0),
            name: Set(e.name.clone()),
            dataset_id: Set(e.dataset_id.0),
            dataset_version_id: Set(e.dataset_version_id.map(|v| v.0)),
            target_column: Set(e.target_column.clone()),
            problem_type: Set(e.problem_type.clone()),
            status: Set(e.status.as_str().to_string()),
            created_at: Set(e.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn find_experiment(&self, id: ExperimentId) -> Result<Option<Experiment>, StoreError> {
        experiment::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)?.map(experiment_from).transpose()
    }

    async fn insert_model(&self, m: &Model) -> Result<(), StoreError> {
        model::Entity::insert(model::ActiveModel {
            id: Set(m.id.0),
            project_id: Set(m.project_id.0),
            experiment_id: Set(m.experiment_id.0),
            name: Set(m.name.clone()),
            algorithm: Set(m.algorithm.clone()),
            created_at: Set(m.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn find_model(&self, id: ModelId) -> Result<Option<Model>, StoreError> {
        Ok(model::Entity::find_by_id(id.0).one(&self.db).await.map_err(store_error)?.map(model_from))
    }

    async fn insert_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        deployment::Entity::insert(deployment::ActiveModel {
            id: Set(d.id.0),
            project_id: Set(d.project_id.0),
            model_id: Set(d.model_id.0),
            name: Set(d.name.clone()),
            stage: Set(d.stage.clone()),
            is_active: Set(d.is_active),
            created_at: Set(d.created_at),
        })
        .exec_without_returning(&self.db)
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn list_experiments(&self, f: &LineageFilter) -> Result<Vec<ExperimentSummary>, StoreError> {
        let mut query = experiment::Entity::find();
        if let Some(projects) = &f.projects {
            query = query.filter(experiment::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
        }
        if let Some(dataset) = f.dataset {
            query = query.filter(experiment::Column::DatasetId.eq(dataset.0));
        }
        let rows = query
            .order_by_asc(experiment::Column::CreatedAt)
            .order_by_asc(experiment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        let mut counts: std::collections::HashMap<Uuid, u64> = std::collections::HashMap::new();
        if !ids.is_empty() {
            for m in model::Entity::find()
                .filter(model::Column::ExperimentId.is_in(ids))
                .all(&self.db)
                .await
                .map_err(store_error)?
            {
                *counts.entry(m.experiment_id).or_default() += 1;
            }
        }
        rows.into_iter()
            .map(|e| {
                let model_count = counts.get(&e.id).copied().unwrap_or(0);
                Ok(ExperimentSummary { experiment: experiment_from(e)?, model_count })
            })
            .collect()
    }

    async fn list_models(&self, f: &LineageFilter) -> Result<Vec<Model>, StoreError> {
        let mut query = model::Entity::find();
        if let Some(projects) = &f.projects {
            query = query.filter(model::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
        }
        if let Some(experiments) = &f.experiments {
            query = query.filter(model::Column::ExperimentId.is_in(experiments.iter().map(|e| e.0)));
        }
        let rows = query
            .order_by_asc(model::Column::CreatedAt)
            .order_by_asc(model::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(model_from).collect())
    }

    async fn list_deployments(&self, f: &LineageFilter) -> Result<Vec<Deployment>, StoreError> {
        let mut query = deployment::Entity::find();
        if let Some(projects) = &f.projects {
            query = query.filter(deployment::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
        }
        if let Some(models) = &f.models {
            query = query.filter(deployment::Column::ModelId.is_in(models.iter().map(|m| m.0)));
        }
        let rows = query
            .order_by_asc(deployment::Column::CreatedAt)
            .order_by_asc(deployment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(deployment_from).collect())
    }

    async fn known_storage_keys(&self, keys: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut known = std::collections::HashSet::new();
        for chunk in keys.chunks(500) {
            let rows = artifact::Entity::find()
                .filter(artifact::Column::StorageKey.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await
                .map_err(store_error)?;
            known.extend(rows.into_iter().map(|a| a.storage_key));
        }
        Ok(known)
    }
}
