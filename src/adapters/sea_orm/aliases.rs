//! Aliases of versions and their history (`domain::aliases`). Every change bumps the
//! dataset's revision in the same transaction (see `datasets::bump_revision`).

use std::collections::{HashMap, HashSet};

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};

use super::datasets::{Stale, bump_revision};
use super::entities::{alias, alias_move, dataset, user};
use super::errors::{corrupt, is_transient, store_error, with_retries};
use super::webhooks;
use crate::domain::aliases::{Alias, AliasChange, AliasMove, AliasName};
use crate::domain::ids::{DatasetId, ProjectId, UserId, VersionId};
use crate::domain::webhooks::events::{self, Subject};
use crate::ports::StoreError;

async fn try_change_alias(db: &DatabaseConnection, change: &AliasChange) -> Result<Result<(), Stale>, DbErr> {
    let txn = db.begin().await?;
    let (dataset_id, name) = (change.dataset_id.0, change.name.as_str().to_string());
    // The revision bump comes first: it locks the dataset row, so changes of one dataset's
    // aliases run one after the other and read each other's results.
    let target = change.target.map(|(id, _)| id.0);
    if let Err(stale) = bump_revision(&txn, dataset_id, change.if_revision, dataset::Entity::update_many()).await? {
        return Ok(Err(stale));
    }
    let current = alias::Entity::find_by_id((dataset_id, name.clone())).one(&txn).await?;
    if current.as_ref().map(|a| a.version_id) == target {
        if target.is_none() {
            return Err(DbErr::RecordNotFound("alias".into()));
        }
        // Already there: nothing changes (the transaction, and its bump, are rolled back).
        return Ok(Ok(()));
    }
    let dataset_row = dataset::Entity::find_by_id(dataset_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("dataset".into()))?;
    let revision = dataset_row.revision;
    let from = current.as_ref().map(|a| a.version);
    match change.target {
        Some((version_id, version)) => {
            let row = alias::ActiveModel {
                dataset_id: Set(dataset_id),
                alias: Set(name.clone()),
                version_id: Set(version_id.0),
                version: Set(version),
                updated_at: Set(change.at),
                updated_by: Set(change.by.0),
            };
            if current.is_some() {
                alias::Entity::update(row).exec(&txn).await?;
            } else {
                alias::Entity::insert(row).exec_without_returning(&txn).await?;
            }
        }
        None => {
            alias::Entity::delete_by_id((dataset_id, name.clone())).exec(&txn).await?;
        }
    }
    alias_move::Entity::insert(alias_move::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        dataset_id: Set(dataset_id),
        alias: Set(name),
        revision: Set(revision),
        from_version: Set(from),
        to_version: Set(change.target.map(|(_, n)| n)),
        to_version_id: Set(target),
        moved_at: Set(change.at),
        moved_by: Set(change.by.0),
    })
    .exec_without_returning(&txn)
    .await?;
    let subject = Subject {
        project_id: ProjectId(dataset_row.project_id),
        dataset_id: change.dataset_id,
        dataset_name: &dataset_row.name,
    };
    let moved = events::alias_moved(change.at, &subject, change.name.as_str(), from, change.target);
    webhooks::record_events(&txn, subject.project_id, &[moved], change.at).await?;
    txn.commit().await?;
    Ok(Ok(()))
}

pub(super) async fn change_alias(db: &DatabaseConnection, change: &AliasChange) -> Result<Option<Alias>, StoreError> {
    match with_retries("an alias change", is_transient, || try_change_alias(db, change)).await {
        Ok(Ok(())) => find_alias(db, change.dataset_id, &change.name).await,
        Ok(Err(Stale)) => Err(StoreError::Stale { expected: change.if_revision.unwrap_or_default() }),
        Err(e) => Err(store_error(e)),
    }
}

fn alias_from(m: alias::Model, updated_by_name: &str) -> Result<Alias, StoreError> {
    Ok(Alias {
        dataset_id: DatasetId(m.dataset_id),
        name: AliasName::parse(&m.alias).map_err(|_| corrupt("alias name"))?,
        version_id: VersionId(m.version_id),
        version: m.version,
        updated_at: m.updated_at,
        updated_by: UserId(m.updated_by),
        updated_by_name: updated_by_name.to_string(),
    })
}

/// The names of `users`, by id.
async fn user_names(
    db: &DatabaseConnection,
    users: impl IntoIterator<Item = uuid::Uuid>,
) -> Result<HashMap<uuid::Uuid, String>, StoreError> {
    let ids: HashSet<uuid::Uuid> = users.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = user::Entity::find().filter(user::Column::Id.is_in(ids)).all(db).await.map_err(store_error)?;
    Ok(found.into_iter().map(|u| (u.id, u.name)).collect())
}

pub(super) async fn find_alias(
    db: &DatabaseConnection,
    dataset: DatasetId,
    name: &AliasName,
) -> Result<Option<Alias>, StoreError> {
    let found = alias::Entity::find_by_id((dataset.0, name.as_str().to_string())).one(db).await.map_err(store_error)?;
    let Some(found) = found else { return Ok(None) };
    let names = user_names(db, [found.updated_by]).await?;
    let by = names.get(&found.updated_by).cloned().unwrap_or_default();
    alias_from(found, &by).map(Some)
}

pub(super) async fn list_aliases(db: &DatabaseConnection, dataset: DatasetId) -> Result<Vec<Alias>, StoreError> {
    let found = alias::Entity::find()
        .filter(alias::Column::DatasetId.eq(dataset.0))
        .order_by_asc(alias::Column::Alias)
        .all(db)
        .await
        .map_err(store_error)?;
    let names = user_names(db, found.iter().map(|a| a.updated_by)).await?;
    found
        .into_iter()
        .map(|a| {
            let by = names.get(&a.updated_by).cloned().unwrap_or_default();
            alias_from(a, &by)
        })
        .collect()
}

pub(super) async fn alias_history(
    db: &DatabaseConnection,
    dataset: DatasetId,
    name: &AliasName,
) -> Result<Vec<AliasMove>, StoreError> {
    let found = alias_move::Entity::find()
        .filter(alias_move::Column::DatasetId.eq(dataset.0))
        .filter(alias_move::Column::Alias.eq(name.as_str()))
        .order_by_asc(alias_move::Column::Revision)
        .all(db)
        .await
        .map_err(store_error)?;
    let names = user_names(db, found.iter().map(|m| m.moved_by)).await?;
    Ok(found
        .into_iter()
        .map(|m| AliasMove {
            from_version: m.from_version,
            to_version: m.to_version,
            to_version_id: m.to_version_id.map(VersionId),
            moved_at: m.moved_at,
            moved_by: UserId(m.moved_by),
            moved_by_name: names.get(&m.moved_by).cloned().unwrap_or_default(),
        })
        .collect())
}
