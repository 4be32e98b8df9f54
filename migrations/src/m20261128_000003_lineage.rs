//! Experiments, models and deployments: what used a dataset. No foreign key points at
//! datasets, so deleting a dataset leaves its lineage in place.

use crate::columns::utc_time;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    ProjectId,
    Name,
    DatasetId,
    DatasetVersionId,
    TargetColumn,
    ProblemType,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Models {
    Table,
    Id,
    ProjectId,
    ExperimentId,
    Name,
    Algorithm,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    ProjectId,
    ModelId,
    Name,
    Stage,
    IsActive,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Experiments::Table)
                    .if_not_exists()
                    .col(pk_uuid(Experiments::Id))
                    .col(uuid(Experiments::ProjectId))
                    .col(string_len(Experiments::Name, 200))
                    .col(uuid(Experiments::DatasetId))
                    .col(uuid_null(Experiments::DatasetVersionId))
                    .col(string_len_null(Experiments::TargetColumn, 400))
                    .col(string_len_null(Experiments::ProblemType, 64))
                    .col(string_len(Experiments::Status, 16))
                    .col(utc_time(db, Experiments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_experiments_project")
                            .from(Experiments::Table, Experiments::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_experiments_dataset")
                    .table(Experiments::Table)
                    .col(Experiments::DatasetId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Models::Table)
                    .if_not_exists()
                    .col(pk_uuid(Models::Id))
                    .col(uuid(Models::ProjectId))
                    .col(uuid(Models::ExperimentId))
                    .col(string_len(Models::Name, 200))
                    .col(string_len(Models::Algorithm, 200))
                    .col(utc_time(db, Models::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_models_experiment")
                            .from(Models::Table, Models::ExperimentId)
                            .to(Experiments::Table, Experiments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deployments::Table)
                    .if_not_exists()
                    .col(pk_uuid(Deployments::Id))
                    .col(uuid(Deployments::ProjectId))
                    .col(uuid(Deployments::ModelId))
                    .col(string_len(Deployments::Name, 200))
                    .col(string_len(Deployments::Stage, 64))
                    .col(boolean(Deployments::IsActive))
                    .col(utc_time(db, Deployments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deployments_model")
                            .from(Deployments::Table, Deployments::ModelId)
                            .to(Models::Table, Models::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
