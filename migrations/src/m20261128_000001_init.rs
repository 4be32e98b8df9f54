//! Users and API keys, projects and members, datasets, versions and artifacts.

use crate::columns::utc_time;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    Email,
    IsAdmin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    KeyHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    CreatedAt,
    LatestVersionId,
    LatestVersion,
    RowCount,
    ColumnCount,
}

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    Id,
    DatasetId,
    Version,
    Description,
    CreatedBy,
    RowCount,
    ColumnCount,
    SourceFormat,
    Columns,
    Quality,
    Preview,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    Id,
    VersionId,
    DatasetId,
    Kind,
    StorageKey,
    SizeBytes,
    Sha256,
    CreatedAt,
}

fn cascade(
    name: &str,
    from: (impl IntoTableRef, impl IntoIden),
    to: (impl IntoTableRef, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Name, 200))
                    .col(string_len_null(Users::Email, 320))
                    .col(boolean(Users::IsAdmin))
                    .col(utc_time(db, Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiKeys::Id))
                    .col(uuid(ApiKeys::UserId))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(utc_time(db, ApiKeys::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_api_keys_user",
                        (ApiKeys::Table, ApiKeys::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .if_not_exists()
                    .col(pk_uuid(Projects::Id))
                    .col(string_len(Projects::Name, 200))
                    .col(text_null(Projects::Description))
                    .col(utc_time(db, Projects::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .if_not_exists()
                    .col(uuid(ProjectMembers::ProjectId))
                    .col(uuid(ProjectMembers::UserId))
                    .col(string_len(ProjectMembers::Role, 16))
                    .col(utc_time(db, ProjectMembers::CreatedAt))
                    .primary_key(Index::create().col(ProjectMembers::ProjectId).col(ProjectMembers::UserId))
                    .foreign_key(&mut cascade(
                        "fk_members_project",
                        (ProjectMembers::Table, ProjectMembers::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_members_user",
                        (ProjectMembers::Table, ProjectMembers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Datasets::Table)
                    .if_not_exists()
                    .col(pk_uuid(Datasets::Id))
                    .col(uuid(Datasets::ProjectId))
                    .col(string_len(Datasets::Name, 200))
                    .col(text_null(Datasets::Description))
                    .col(utc_time(db, Datasets::CreatedAt))
                    .col(uuid(Datasets::LatestVersionId))
                    .col(big_integer(Datasets::LatestVersion))
                    .col(big_integer(Datasets::RowCount))
                    .col(big_integer(Datasets::ColumnCount))
                    .foreign_key(&mut cascade(
                        "fk_datasets_project",
                        (Datasets::Table, Datasets::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_datasets_project_created")
                    .table(Datasets::Table)
                    .col(Datasets::ProjectId)
                    .col(Datasets::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetVersions::Table)
                    .if_not_exists()
                    .col(pk_uuid(DatasetVersions::Id))
                    .col(uuid(DatasetVersions::DatasetId))
                    .col(big_integer(DatasetVersions::Version))
                    .col(text_null(DatasetVersions::Description))
                    .col(uuid(DatasetVersions::CreatedBy))
                    .col(big_integer(DatasetVersions::RowCount))
                    .col(big_integer(DatasetVersions::ColumnCount))
                    .col(string_len(DatasetVersions::SourceFormat, 16))
                    .col(json(DatasetVersions::Columns))
                    .col(json(DatasetVersions::Quality))
                    .col(json(DatasetVersions::Preview))
                    .col(utc_time(db, DatasetVersions::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_versions_dataset",
                        (DatasetVersions::Table, DatasetVersions::DatasetId),
                        (Datasets::Table, Datasets::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_versions_user")
                            .from(DatasetVersions::Table, DatasetVersions::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_versions_dataset_version")
                    .table(DatasetVersions::Table)
                    .col(DatasetVersions::DatasetId)
                    .col(DatasetVersions::Version)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Artifacts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Artifacts::Id))
                    .col(uuid(Artifacts::VersionId))
                    .col(uuid(Artifacts::DatasetId))
                    .col(string_len(Artifacts::Kind, 16))
                    .col(string_len_uniq(Artifacts::StorageKey, 400))
                    .col(big_integer(Artifacts::SizeBytes))
                    .col(string_len(Artifacts::Sha256, 64))
                    .col(utc_time(db, Artifacts::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_artifacts_version",
                        (Artifacts::Table, Artifacts::VersionId),
                        (DatasetVersions::Table, DatasetVersions::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
