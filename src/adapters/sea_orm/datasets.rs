//! Datasets and their versions: version numbering, the listing with its search and sort keys,
//! the artifact rows that hold the storage keys, deletion, and the cached statistics.

use std::collections::HashSet;

use migration::fold_for_search;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};

use super::conversions::{
    VersionDocuments, artifact_from, artifact_row, dataset_from, dataset_row, summary_from, to_i64, version_documents,
    version_from, version_row,
};
use super::entities::{
    alias, alias_move, artifact, contract, dataset, drift_check, project, statistics, user, version,
};
use super::errors::{corrupt_json, is_transient, store_error, with_retries};
use super::webhooks;
use crate::domain::ids::{DatasetId, ProjectId, VersionId};
use crate::domain::records::{
    Dataset, DatasetListItem, DatasetQuery, DatasetSort, NewVersion, Page, SortDirection, Version, VersionSummary,
};
use crate::domain::statistics::DatasetStatistics;
use crate::domain::webhooks::events::{self, Subject, VersionFacts};
use crate::ports::StoreError;

/// `%text%` folded like the stored copies it is matched with, LIKE's wildcards escaped.
fn like_pattern(text: &str) -> LikeExpr {
    let escaped = fold_for_search(text).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

/// A row count or offset as the databases take it: they hold signed 64-bit integers (SQLite's
/// driver panics on a larger one), and no table has more rows than that anyway.
fn sql_count(n: u64) -> u64 {
    std::cmp::Ord::min(n, i64::MAX as u64)
}

/// A change of a dataset guarded by `If-Match` found it at another revision.
pub(super) struct Stale;

/// Bumps the dataset's revision, when it is at `if_revision` if given: `Ok(Err(Stale))` when it
/// is not, `RecordNotFound` when the dataset does not exist. Run first in a transaction, it
/// takes the dataset row's lock, which serializes the dataset's changes.
pub(super) async fn bump_revision(
    txn: &sea_orm::DatabaseTransaction,
    dataset_id: uuid::Uuid,
    if_revision: Option<i64>,
    update: sea_orm::UpdateMany<dataset::Entity>,
) -> Result<Result<(), Stale>, DbErr> {
    let mut update = update
        .col_expr(dataset::Column::Revision, Expr::col(dataset::Column::Revision).add(1))
        .filter(dataset::Column::Id.eq(dataset_id));
    if let Some(expected) = if_revision {
        update = update.filter(dataset::Column::Revision.eq(expected));
    }
    if update.exec(txn).await?.rows_affected == 1 {
        return Ok(Ok(()));
    }
    match dataset::Entity::find_by_id(dataset_id).one(txn).await? {
        Some(_) => Ok(Err(Stale)),
        None => Err(DbErr::RecordNotFound("dataset".into())),
    }
}

async fn try_insert_version(
    db: &DatabaseConnection,
    v: &NewVersion,
    documents: &VersionDocuments,
) -> Result<Result<i64, Stale>, DbErr> {
    let txn = db.begin().await?;
    let (number, project_id, name) = if let Some(new) = &v.new_dataset {
        dataset::Entity::insert(dataset_row(new, v)).exec_without_returning(&txn).await?;
        (0, new.project_id, new.name.clone())
    } else {
        // Taking the dataset row's lock first serializes version allocation per dataset.
        let update = dataset::Entity::update_many()
            .col_expr(dataset::Column::LatestVersion, Expr::col(dataset::Column::LatestVersion).add(1))
            .col_expr(dataset::Column::LatestVersionId, Expr::value(v.version_id.0))
            .col_expr(dataset::Column::RowCount, Expr::value(to_i64(v.row_count)))
            .col_expr(dataset::Column::ColumnCount, Expr::value(v.columns.len() as i64));
        if let Err(stale) = bump_revision(&txn, v.dataset_id.0, v.if_revision, update).await? {
            return Ok(Err(stale));
        }
        let row = dataset::Entity::find_by_id(v.dataset_id.0)
            .one(&txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("dataset".into()))?;
        (row.latest_version, ProjectId(row.project_id), row.name)
    };
    version::Entity::insert(version_row(v, number, documents)).exec_without_returning(&txn).await?;
    artifact::Entity::insert_many([
        artifact_row(&v.original, v.version_id, v.dataset_id),
        artifact_row(&v.normalized, v.version_id, v.dataset_id),
    ])
    .exec_without_returning(&txn)
    .await?;
    let subject = Subject { project_id, dataset_id: v.dataset_id, dataset_name: &name };
    let facts = VersionFacts { number, id: v.version_id, row_count: v.row_count, column_count: v.columns.len() };
    let mut events = Vec::new();
    if v.new_dataset.is_some() {
        events.push(events::dataset_created(v.created_at, &subject, &facts));
    }
    events.push(events::version_created(v.created_at, &subject, &facts));
    if let Some(result) = v.contract.as_ref().filter(|r| !r.passed) {
        events.push(events::contract_failed(v.created_at, &subject, &facts, result.violations.len()));
    }
    webhooks::record_events(&txn, project_id, &events, v.created_at).await?;
    webhooks::queue_drift_check(&txn, project_id, v.dataset_id, v.version_id, number, v.created_at).await?;
    txn.commit().await?;
    Ok(Ok(number))
}

pub(super) async fn insert_version(db: &DatabaseConnection, v: &NewVersion) -> Result<i64, StoreError> {
    // A next version of an existing dataset that collides with a concurrent one on the unique
    // (dataset, version) index is numbered again.
    let retryable = |e: &DbErr| {
        is_transient(e)
            || (v.new_dataset.is_none() && matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))))
    };
    let documents = version_documents(v)?;
    match with_retries("a version insert", retryable, || try_insert_version(db, v, &documents)).await {
        Ok(Ok(number)) => Ok(number),
        Ok(Err(Stale)) => Err(StoreError::Stale { expected: v.if_revision.unwrap_or_default() }),
        Err(e) => Err(store_error(e)),
    }
}

pub(super) async fn find_dataset(db: &DatabaseConnection, id: DatasetId) -> Result<Option<Dataset>, StoreError> {
    Ok(dataset::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(dataset_from))
}

pub(super) async fn list_datasets(
    db: &DatabaseConnection,
    q: &DatasetQuery,
) -> Result<(Vec<DatasetListItem>, u64), StoreError> {
    let mut condition = Condition::all();
    if let Some(projects) = &q.projects {
        if projects.is_empty() {
            return Ok((Vec::new(), 0));
        }
        condition = condition.add(dataset::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
    }
    if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
        // The folded copies compare by code point on every backend (see the migration that
        // adds them), so a match is the same on each.
        let name = Expr::col((dataset::Entity, dataset::Column::FoldedName));
        let description = Expr::col((dataset::Entity, dataset::Column::FoldedDescription));
        condition = condition
            .add(Condition::any().add(name.like(like_pattern(search))).add(description.like(like_pattern(search))));
    }
    let total = dataset::Entity::find().filter(condition.clone()).count(db).await.map_err(store_error)?;
    let order = match q.direction {
        SortDirection::Asc => Order::Asc,
        SortDirection::Desc => Order::Desc,
    };
    let key: Expr = match q.sort {
        DatasetSort::CreatedAt => Expr::col((dataset::Entity, dataset::Column::CreatedAt)),
        DatasetSort::Name => Expr::col((dataset::Entity, dataset::Column::FoldedName)),
        DatasetSort::Rows => Expr::col((dataset::Entity, dataset::Column::RowCount)),
        DatasetSort::Columns => Expr::col((dataset::Entity, dataset::Column::ColumnCount)),
        DatasetSort::ProjectName => Func::lower(Expr::col((project::Entity, project::Column::Name))).into(),
    };
    let rows = dataset::Entity::find()
        .find_also_related(project::Entity)
        .filter(condition)
        .order_by(key, order.clone())
        .order_by(Expr::col((dataset::Entity, dataset::Column::Id)), order)
        .limit(sql_count(q.page.limit))
        .offset(sql_count(q.page.offset))
        .all(db)
        .await
        .map_err(store_error)?;
    let items = rows
        .into_iter()
        .map(|(d, p)| DatasetListItem { project_name: p.map(|p| p.name).unwrap_or_default(), dataset: dataset_from(d) })
        .collect();
    Ok((items, total))
}

pub(super) async fn list_versions(
    db: &DatabaseConnection,
    id: DatasetId,
    page: Page,
) -> Result<(Vec<VersionSummary>, u64), StoreError> {
    let filter = version::Column::DatasetId.eq(id.0);
    let total = version::Entity::find().filter(filter.clone()).count(db).await.map_err(store_error)?;
    let rows = version::Entity::find()
        .find_also_related(user::Entity)
        .filter(filter)
        .order_by_asc(version::Column::Version)
        .limit(sql_count(page.limit))
        .offset(sql_count(page.offset))
        .all(db)
        .await
        .map_err(store_error)?;
    Ok((rows.into_iter().map(|(v, u)| summary_from(&v, u)).collect(), total))
}

/// The version with its artifacts; `None` when the version was deleted while it was read
/// (its rows are read by separate statements).
async fn load_version(db: &DatabaseConnection, m: version::Model) -> Result<Option<Version>, StoreError> {
    let creator = user::Entity::find_by_id(m.created_by).one(db).await.map_err(store_error)?;
    let artifacts = artifact::Entity::find()
        .filter(artifact::Column::VersionId.eq(m.id))
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(artifact_from)
        .collect::<Result<Vec<_>, _>>()?;
    if artifacts.len() < 2 {
        let still_there = version::Entity::find_by_id(m.id).one(db).await.map_err(store_error)?;
        if still_there.is_none() {
            return Ok(None);
        }
    }
    version_from(&m, creator, &artifacts).map(Some)
}

pub(super) async fn find_version(db: &DatabaseConnection, id: VersionId) -> Result<Option<Version>, StoreError> {
    match version::Entity::find_by_id(id.0).one(db).await.map_err(store_error)? {
        Some(m) => load_version(db, m).await,
        None => Ok(None),
    }
}

pub(super) async fn find_version_by_number(
    db: &DatabaseConnection,
    id: DatasetId,
    number: i64,
) -> Result<Option<Version>, StoreError> {
    let found = version::Entity::find()
        .filter(version::Column::DatasetId.eq(id.0))
        .filter(version::Column::Version.eq(number))
        .one(db)
        .await
        .map_err(store_error)?;
    match found {
        Some(m) => load_version(db, m).await,
        None => Ok(None),
    }
}

pub(super) async fn set_content_hash(
    db: &DatabaseConnection,
    id: VersionId,
    content_hash: &str,
) -> Result<(), StoreError> {
    with_retries("recording a content hash", is_transient, || async {
        let txn = db.begin().await?;
        let recorded = version::Entity::update_many()
            .col_expr(version::Column::ContentHash, Expr::value(content_hash))
            .filter(version::Column::Id.eq(id.0))
            .filter(version::Column::ContentHash.is_null())
            .exec(&txn)
            .await?;
        if recorded.rows_affected == 1 {
            // The dataset's representation changed (its detail shows the hash): a new revision,
            // so that a client's `If-None-Match` does not keep the copy without it.
            let owner = version::Entity::find_by_id(id.0)
                .select_only()
                .column(version::Column::DatasetId)
                .into_tuple::<uuid::Uuid>()
                .one(&txn)
                .await?;
            if let Some(dataset_id) = owner {
                dataset::Entity::update_many()
                    .col_expr(dataset::Column::Revision, Expr::col(dataset::Column::Revision).add(1))
                    .filter(dataset::Column::Id.eq(dataset_id))
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await
    })
    .await
    .map_err(store_error)
}

pub(super) async fn versions_without_content_hash(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<VersionId>, StoreError> {
    version::Entity::find()
        .select_only()
        .column(version::Column::Id)
        .filter(version::Column::ContentHash.is_null())
        .order_by_asc(version::Column::CreatedAt)
        .order_by_asc(version::Column::Id)
        .limit(sql_count(limit))
        .into_tuple::<uuid::Uuid>()
        .all(db)
        .await
        .map(|ids| ids.into_iter().map(VersionId).collect())
        .map_err(store_error)
}

async fn try_delete_dataset(
    db: &DatabaseConnection,
    id: DatasetId,
    if_revision: Option<i64>,
) -> Result<Result<Vec<String>, Stale>, DbErr> {
    let txn = db.begin().await?;
    if let Err(stale) = bump_revision(&txn, id.0, if_revision, dataset::Entity::update_many()).await? {
        return Ok(Err(stale));
    }
    let row =
        dataset::Entity::find_by_id(id.0).one(&txn).await?.ok_or_else(|| DbErr::RecordNotFound("dataset".into()))?;
    let at = chrono::Utc::now();
    let subject = Subject { project_id: ProjectId(row.project_id), dataset_id: id, dataset_name: &row.name };
    webhooks::record_events(&txn, subject.project_id, &[events::dataset_deleted(at, &subject)], at).await?;
    let keys: Vec<String> = artifact::Entity::find()
        .filter(artifact::Column::DatasetId.eq(id.0))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| a.storage_key)
        .collect();
    artifact::Entity::delete_many().filter(artifact::Column::DatasetId.eq(id.0)).exec(&txn).await?;
    version::Entity::delete_many().filter(version::Column::DatasetId.eq(id.0)).exec(&txn).await?;
    alias::Entity::delete_many().filter(alias::Column::DatasetId.eq(id.0)).exec(&txn).await?;
    alias_move::Entity::delete_many().filter(alias_move::Column::DatasetId.eq(id.0)).exec(&txn).await?;
    contract::Entity::delete_by_id(id.0).exec(&txn).await?;
    drift_check::Entity::delete_many().filter(drift_check::Column::DatasetId.eq(id.0)).exec(&txn).await?;
    let deleted = dataset::Entity::delete_by_id(id.0).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(DbErr::RecordNotFound("dataset".into()));
    }
    txn.commit().await?;
    Ok(Ok(keys))
}

pub(super) async fn delete_dataset(
    db: &DatabaseConnection,
    id: DatasetId,
    if_revision: Option<i64>,
) -> Result<Vec<String>, StoreError> {
    match with_retries("a dataset deletion", is_transient, || try_delete_dataset(db, id, if_revision)).await {
        Ok(Ok(keys)) => Ok(keys),
        Ok(Err(Stale)) => Err(StoreError::Stale { expected: if_revision.unwrap_or_default() }),
        Err(e) => Err(store_error(e)),
    }
}

pub(super) async fn known_storage_keys(
    db: &DatabaseConnection,
    keys: &[String],
) -> Result<HashSet<String>, StoreError> {
    let mut known = HashSet::new();
    for chunk in keys.chunks(500) {
        let rows = artifact::Entity::find()
            .filter(artifact::Column::StorageKey.is_in(chunk.iter().cloned()))
            .all(db)
            .await
            .map_err(store_error)?;
        known.extend(rows.into_iter().map(|a| a.storage_key));
    }
    Ok(known)
}

pub(super) async fn find_statistics(
    db: &DatabaseConnection,
    version_id: VersionId,
) -> Result<Option<DatasetStatistics>, StoreError> {
    let found = statistics::Entity::find_by_id(version_id.0).one(db).await.map_err(store_error)?;
    found.map(|m| serde_json::from_str(&m.statistics).map_err(|e| corrupt_json("statistics", e))).transpose()
}

pub(super) async fn save_statistics(
    db: &DatabaseConnection,
    version_id: VersionId,
    stats: &DatasetStatistics,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let value = serde_json::to_string(stats).map_err(|e| StoreError::other_caused_by("encoding the statistics", e))?;
    let inserted = statistics::Entity::insert(statistics::ActiveModel {
        version_id: Set(version_id.0),
        statistics: Set(value),
        created_at: Set(at),
    })
    .exec_without_returning(db)
    .await;
    match inserted.map_err(store_error) {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
