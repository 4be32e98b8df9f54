//! An index on artifacts(dataset_id): deleting a dataset finds its artifacts through it, so
//! that the deletion locks only those rows (a full scan made InnoDB lock every row and
//! deadlock with concurrent uploads).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    DatasetId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_artifacts_dataset")
                    .table(Artifacts::Table)
                    .col(Artifacts::DatasetId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
