//! The name the original file was uploaded under (the multipart field's file name), offered
//! again when the original is downloaded. Null for versions uploaded before it was recorded,
//! or uploaded without a file name.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    OriginalFileName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Names are cut to 255 characters before they are stored.
        let column = ColumnDef::new(DatasetVersions::OriginalFileName).string_len(1020).null().take();
        manager.alter_table(Table::alter().table(DatasetVersions::Table).add_column(column).to_owned()).await
    }
}
