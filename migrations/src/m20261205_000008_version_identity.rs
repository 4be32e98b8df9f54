//! Each version's identity on its row: `sha256`, the hex SHA-256 of the uploaded bytes (also on
//! the original's artifact row, copied here for the versions list), and `content_hash`, the
//! hash of the normalized table (`domain::content_hash`). Versions uploaded before this
//! migration get their `sha256` here; their `content_hash` is computed from their normalized
//! file by the server (in the background after start-up, or when first read one at a time)
//! and stays null until then.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DatasetVersions {
    Table,
    Id,
    Sha256,
    ContentHash,
}

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    VersionId,
    Kind,
    Sha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [DatasetVersions::Sha256, DatasetVersions::ContentHash] {
            let column = ColumnDef::new(column).string_len(80).null().take();
            manager.alter_table(Table::alter().table(DatasetVersions::Table).add_column(column).to_owned()).await?;
        }
        let original_sha = Query::select()
            .column(Artifacts::Sha256)
            .from(Artifacts::Table)
            .and_where(
                Expr::col((Artifacts::Table, Artifacts::VersionId))
                    .equals((DatasetVersions::Table, DatasetVersions::Id)),
            )
            .and_where(Expr::col((Artifacts::Table, Artifacts::Kind)).eq("original"))
            .to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(DatasetVersions::Table)
                    .value(
                        DatasetVersions::Sha256,
                        SimpleExpr::SubQuery(None, Box::new(original_sha.into_sub_query_statement())),
                    )
                    .to_owned(),
            )
            .await
    }

    /// Drops both columns (the hashes are recomputed by `up` and the server).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [DatasetVersions::ContentHash, DatasetVersions::Sha256] {
            manager.alter_table(Table::alter().table(DatasetVersions::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
