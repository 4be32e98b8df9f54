//! Aliases and dataset revisions. `datasets.revision` counts the changes of a dataset (a new
//! version, an alias set or removed): its entity tag, which `If-Match` compares. An alias names
//! one version of its dataset (`dataset_aliases`); every move is kept in
//! `dataset_alias_history`. Experiments record the alias they named (`dataset_alias`).

use crate::columns::utc_time;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Revision,
}

#[derive(DeriveIden)]
enum DatasetAliases {
    Table,
    DatasetId,
    Alias,
    VersionId,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum DatasetAliasHistory {
    Table,
    Id,
    DatasetId,
    Alias,
    Revision,
    FromVersion,
    ToVersion,
    ToVersionId,
    MovedAt,
    MovedBy,
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    DatasetAlias,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let revision = ColumnDef::new(Datasets::Revision).big_integer().not_null().default(0).take();
        manager.alter_table(Table::alter().table(Datasets::Table).add_column(revision).to_owned()).await?;
        let alias = ColumnDef::new(Experiments::DatasetAlias).string_len(63).null().take();
        manager.alter_table(Table::alter().table(Experiments::Table).add_column(alias).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetAliases::Table)
                    .if_not_exists()
                    .col(uuid(DatasetAliases::DatasetId))
                    .col(string_len(DatasetAliases::Alias, 63))
                    .col(uuid(DatasetAliases::VersionId))
                    .col(big_integer(DatasetAliases::Version))
                    .col(utc_time(db, DatasetAliases::UpdatedAt))
                    .col(uuid(DatasetAliases::UpdatedBy))
                    .primary_key(Index::create().col(DatasetAliases::DatasetId).col(DatasetAliases::Alias))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetAliasHistory::Table)
                    .if_not_exists()
                    .col(pk_uuid(DatasetAliasHistory::Id))
                    .col(uuid(DatasetAliasHistory::DatasetId))
                    .col(string_len(DatasetAliasHistory::Alias, 63))
                    .col(big_integer(DatasetAliasHistory::Revision))
                    .col(big_integer_null(DatasetAliasHistory::FromVersion))
                    .col(big_integer_null(DatasetAliasHistory::ToVersion))
                    .col(uuid_null(DatasetAliasHistory::ToVersionId))
                    .col(utc_time(db, DatasetAliasHistory::MovedAt))
                    .col(uuid(DatasetAliasHistory::MovedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_dataset_alias_history_alias")
                    .table(DatasetAliasHistory::Table)
                    .col(DatasetAliasHistory::DatasetId)
                    .col(DatasetAliasHistory::Alias)
                    .col(DatasetAliasHistory::Revision)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(DatasetAliasHistory::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(DatasetAliases::Table).if_exists().to_owned()).await?;
        let experiments = Table::alter().table(Experiments::Table).drop_column(Experiments::DatasetAlias).to_owned();
        manager.alter_table(experiments).await?;
        manager.alter_table(Table::alter().table(Datasets::Table).drop_column(Datasets::Revision).to_owned()).await
    }
}
