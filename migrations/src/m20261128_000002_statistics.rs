//! The statistics of each version, computed once (versions are immutable).

use crate::columns::utc_time;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

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
        let created_at = utc_time(manager.get_database_backend(), VersionStatistics::CreatedAt);
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
