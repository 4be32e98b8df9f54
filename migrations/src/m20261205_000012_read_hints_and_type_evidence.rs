//! What an upload was read with and why its columns have their types:
//! `dataset_versions.read_hints` (the uploader's `dtypes`, `na_values`, `keep_default_na`,
//! `delimiter`, `encoding`, `header` and `sheet`, as JSON; null when none was given), so that
//! a next upload can reuse them, and `dataset_versions.type_evidence` (JSON, one entry per
//! column; null for versions uploaded before it was recorded).

use crate::columns::long_text;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    ReadHints,
    TypeEvidence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        for column in [DatasetVersions::ReadHints, DatasetVersions::TypeEvidence] {
            let column = long_text(db, column);
            manager.alter_table(Table::alter().table(DatasetVersions::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [DatasetVersions::ReadHints, DatasetVersions::TypeEvidence] {
            let versions = Table::alter().table(DatasetVersions::Table).drop_column(column).to_owned();
            manager.alter_table(versions).await?;
        }
        Ok(())
    }
}
