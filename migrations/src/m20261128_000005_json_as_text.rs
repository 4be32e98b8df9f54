//! The JSON documents (a version's schema, quality report and preview; a version's statistics)
//! are stored as text, exactly as the server wrote them. PostgreSQL's drivers bind JSON as
//! `jsonb`, which re-sorts object keys (a preview row lost its column order), refuses the NUL
//! character in text and rewrites numbers; MySQL's `JSON` type also re-sorts keys. SQLite stores
//! text already.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str); 4] = [
    ("dataset_versions", "columns"),
    ("dataset_versions", "quality"),
    ("dataset_versions", "preview"),
    ("version_statistics", "statistics"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, column) in COLUMNS {
            let sql = match manager.get_database_backend() {
                DbBackend::Postgres => {
                    format!(r#"ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE text USING "{column}"::text"#)
                }
                DbBackend::MySql => format!("ALTER TABLE `{table}` MODIFY `{column}` LONGTEXT NOT NULL"),
                _ => continue,
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
