//! Data contracts. A dataset may have one contract (`dataset_contracts`, its JSON document as
//! text); a version records how it fared against its dataset's contract at upload
//! (`dataset_versions.contract_result`, JSON, null when the dataset had none).

use crate::columns::{long_text, utc_time};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DatasetContracts {
    Table,
    DatasetId,
    Contract,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    ContractResult,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(DatasetContracts::Table)
                    .if_not_exists()
                    .col(pk_uuid(DatasetContracts::DatasetId))
                    .col(long_text(db, DatasetContracts::Contract))
                    .col(utc_time(db, DatasetContracts::UpdatedAt))
                    .col(uuid(DatasetContracts::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        let result = long_text(db, DatasetVersions::ContractResult);
        manager.alter_table(Table::alter().table(DatasetVersions::Table).add_column(result).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let versions =
            Table::alter().table(DatasetVersions::Table).drop_column(DatasetVersions::ContractResult).to_owned();
        manager.alter_table(versions).await?;
        manager.drop_table(Table::drop().table(DatasetContracts::Table).if_exists().to_owned()).await
    }
}
