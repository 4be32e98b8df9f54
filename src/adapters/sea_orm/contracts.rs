//! A dataset's contract: one row per dataset, its document as JSON text.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::entities::contract;
use super::errors::{corrupt_json, is_transient, store_error, with_retries};
use crate::domain::contracts::StoredContract;
use crate::domain::ids::{DatasetId, UserId};
use crate::ports::StoreError;

pub(super) async fn find_contract(
    db: &DatabaseConnection,
    dataset: DatasetId,
) -> Result<Option<StoredContract>, StoreError> {
    let Some(row) = contract::Entity::find_by_id(dataset.0).one(db).await.map_err(store_error)? else {
        return Ok(None);
    };
    let text = row.contract.unwrap_or_default();
    let document = serde_json::from_str(&text).map_err(|e| corrupt_json("contract", e))?;
    Ok(Some(StoredContract { dataset, document, updated_at: row.updated_at, updated_by: UserId(row.updated_by) }))
}

pub(super) async fn put_contract(db: &DatabaseConnection, stored: &StoredContract) -> Result<(), StoreError> {
    let document =
        serde_json::to_string(&stored.document).map_err(|e| StoreError::other_caused_by("encoding the contract", e))?;
    let row = contract::ActiveModel {
        dataset_id: Set(stored.dataset.0),
        contract: Set(Some(document)),
        updated_at: Set(stored.updated_at),
        updated_by: Set(stored.updated_by.0),
    };
    let upsert = || async {
        contract::Entity::insert(row.clone())
            .on_conflict(
                OnConflict::column(contract::Column::DatasetId)
                    .update_columns([
                        contract::Column::Contract,
                        contract::Column::UpdatedAt,
                        contract::Column::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
    };
    with_retries("a contract upsert", is_transient, upsert).await.map(|_| ()).map_err(store_error)
}

pub(super) async fn delete_contract(db: &DatabaseConnection, dataset: DatasetId) -> Result<bool, StoreError> {
    let deleted = contract::Entity::delete_by_id(dataset.0).exec(db).await.map_err(store_error)?;
    Ok(deleted.rows_affected > 0)
}
