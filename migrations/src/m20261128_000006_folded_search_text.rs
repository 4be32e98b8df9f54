//! Folded copies of each dataset's name and description ([`fold_for_search`]), which search
//! matches with `LIKE` and the listing sorts by. Their collation compares code points on every
//! backend (PostgreSQL's "C", MySQL's `utf8mb4_bin`, SQLite's default `BINARY`), so that the
//! results and their order are the same everywhere: MySQL's default collations would treat `é`
//! as `e`, and a PostgreSQL database's locale would order accented letters its own way.
//! Existing rows are folded here, in Rust.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::search_fold::fold_for_search;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Datasets {
    Table,
    Id,
    Name,
    Description,
    FoldedName,
    FoldedDescription,
}

/// `sql_type` compared by code point on `backend`.
fn code_point_ordered(backend: DbBackend, sql_type: &str) -> String {
    match backend {
        DbBackend::Postgres => format!(r#"{sql_type} COLLATE "C""#),
        DbBackend::MySql => format!("{sql_type} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        _ => sql_type.to_string(),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        // A name has at most 200 characters; lower case writes some characters as two or three.
        let name = ColumnDef::new(Datasets::FoldedName)
            .custom(Alias::new(code_point_ordered(backend, "VARCHAR(600)")))
            .not_null()
            .default("")
            .take();
        let description =
            ColumnDef::new(Datasets::FoldedDescription).custom(Alias::new(code_point_ordered(backend, "TEXT"))).take();
        // One column per statement: SQLite alters one thing at a time.
        for column in [name, description] {
            manager.alter_table(Table::alter().table(Datasets::Table).add_column(column).to_owned()).await?;
        }
        fold_existing_rows(manager.get_connection()).await
    }
}

async fn fold_existing_rows(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let rows = db
        .query_all(
            &Query::select()
                .columns([Datasets::Id, Datasets::Name, Datasets::Description])
                .from(Datasets::Table)
                .to_owned(),
        )
        .await?;
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        let name: String = row.try_get("", "name")?;
        let description: Option<String> = row.try_get("", "description")?;
        let folded_description = description.as_deref().map(fold_for_search);
        db.execute(
            &Query::update()
                .table(Datasets::Table)
                .value(Datasets::FoldedName, fold_for_search(&name))
                .value(Datasets::FoldedDescription, folded_description)
                .and_where(Expr::col(Datasets::Id).eq(id))
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}
