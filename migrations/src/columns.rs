//! Column definitions shared by the migrations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone;
use sea_orm_migration::sea_orm::DbBackend;

/// A UTC timestamp with microseconds on every backend (MySQL's TIMESTAMP keeps whole seconds
/// and ends in 2038, so DATETIME(6) holding UTC is used there).
pub fn utc_time<T: IntoIden>(backend: DbBackend, col: T) -> ColumnDef {
    if backend == DbBackend::MySql {
        ColumnDef::new(col).custom(Alias::new("DATETIME(6)")).not_null().take()
    } else {
        timestamp_with_time_zone(col)
    }
}
