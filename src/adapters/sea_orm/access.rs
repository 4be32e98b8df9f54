//! Who may do what: users and their API keys, projects and their members.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use uuid::Uuid;

use super::conversions::{project_from, user_from};
use super::entities::{api_key, member, project, user};
use super::errors::{corrupt, is_transient, store_error, with_retries};
use crate::domain::access::{Principal, Role};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::records::{ApiKeyRecord, Membership, Project, User};
use crate::ports::StoreError;

pub(super) async fn insert_user(db: &DatabaseConnection, u: &User) -> Result<(), StoreError> {
    user::Entity::insert(user::ActiveModel {
        id: Set(u.id.0),
        name: Set(u.name.clone()),
        email: Set(u.email.clone()),
        is_admin: Set(u.is_admin),
        created_at: Set(u.created_at),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(store_error)
}

pub(super) async fn find_user(db: &DatabaseConnection, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(user_from))
}

pub(super) async fn find_admin(db: &DatabaseConnection) -> Result<Option<User>, StoreError> {
    let found = user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .order_by_asc(user::Column::CreatedAt)
        .one(db)
        .await
        .map_err(store_error)?;
    Ok(found.map(user_from))
}

pub(super) async fn insert_api_key(db: &DatabaseConnection, key: &ApiKeyRecord) -> Result<(), StoreError> {
    api_key::Entity::insert(api_key::ActiveModel {
        id: Set(key.id.0),
        user_id: Set(key.user_id.0),
        key_hash: Set(key.key_hash.clone()),
        created_at: Set(key.created_at),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(store_error)
}

pub(super) async fn find_principal_by_key_hash(
    db: &DatabaseConnection,
    key_hash: &str,
) -> Result<Option<Principal>, StoreError> {
    let Some(key) =
        api_key::Entity::find().filter(api_key::Column::KeyHash.eq(key_hash)).one(db).await.map_err(store_error)?
    else {
        return Ok(None);
    };
    let found = user::Entity::find_by_id(key.user_id).one(db).await.map_err(store_error)?;
    Ok(found.map(|u| Principal { user_id: UserId(u.id), name: u.name, is_admin: u.is_admin }))
}

fn member_row(m: &Membership) -> member::ActiveModel {
    member::ActiveModel {
        project_id: Set(m.project_id.0),
        user_id: Set(m.user_id.0),
        role: Set(m.role.as_str().to_string()),
        created_at: Set(m.created_at),
    }
}

pub(super) async fn insert_project(
    db: &DatabaseConnection,
    p: &Project,
    owner: Option<&Membership>,
) -> Result<(), StoreError> {
    let txn = db.begin().await.map_err(store_error)?;
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
        member::Entity::insert(member_row(m)).exec_without_returning(&txn).await.map_err(store_error)?;
    }
    txn.commit().await.map_err(store_error)
}

pub(super) async fn find_project(db: &DatabaseConnection, id: ProjectId) -> Result<Option<Project>, StoreError> {
    Ok(project::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(project_from))
}

pub(super) async fn list_projects(
    db: &DatabaseConnection,
    member_id: Option<UserId>,
) -> Result<Vec<Project>, StoreError> {
    let mut query = project::Entity::find();
    if let Some(user_id) = member_id {
        let ids: Vec<Uuid> = member::Entity::find()
            .filter(member::Column::UserId.eq(user_id.0))
            .all(db)
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
        .all(db)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(project_from).collect())
}

pub(super) async fn role_of(
    db: &DatabaseConnection,
    user_id: UserId,
    project_id: ProjectId,
) -> Result<Option<Role>, StoreError> {
    let found = member::Entity::find_by_id((project_id.0, user_id.0)).one(db).await.map_err(store_error)?;
    found.map(|m| Role::parse(&m.role).ok_or_else(|| corrupt("role"))).transpose()
}

pub(super) async fn upsert_membership(db: &DatabaseConnection, m: &Membership) -> Result<(), StoreError> {
    // One statement (INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE): a delete-then-insert
    // took InnoDB gap locks that deadlocked with concurrent inserts of other members.
    let upsert = || {
        member::Entity::insert(member_row(m))
            .on_conflict(
                OnConflict::columns([member::Column::ProjectId, member::Column::UserId])
                    .update_column(member::Column::Role)
                    .to_owned(),
            )
            .exec_without_returning(db)
    };
    with_retries("a membership upsert", is_transient, upsert).await.map(|_| ()).map_err(store_error)
}
