//! The statistics of each version, computed once (versions are immutable).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VersionStatistics {
    Table,
    VersionId,
    Statistics,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let created_at = if manager.get_database_backend() == DbBackend::MySql {
            ColumnDef::new(VersionStatistics::CreatedAt).custom(Alias::new("DATETIME(6)")).not_null().take()
        } else {
            timestamp_with_time_zone(VersionStatistics::CreatedAt)
        };
        manager
            .create_table(
                Table::create()
                    .table(VersionStatistics::Table)
                    .if_not_exists()
                    .col(pk_uuid(VersionStatistics::VersionId))
                    .col(json(VersionStatistics::Statistics))
                    .col(created_at)
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_statistics_version")
                            .from(VersionStatistics::Table, VersionStatistics::VersionId)
                            .to(DatasetVersions::Table, DatasetVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
