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

/// Text of any length: MySQL's TEXT holds 64 KiB, so LONGTEXT there.
pub fn long_text<T: IntoIden>(backend: DbBackend, col: T) -> ColumnDef {
    if backend == DbBackend::MySql {
        ColumnDef::new(col).custom(Alias::new("LONGTEXT")).null().take()
    } else {
        ColumnDef::new(col).text().null().take()
    }
}

/// Case-sensitive ASCII of at most `len` characters (MySQL compares text without case by
/// default, so a binary collation there).
pub fn exact_ascii<T: IntoIden>(backend: DbBackend, col: T, len: u32) -> ColumnDef {
    if backend == DbBackend::MySql {
        ColumnDef::new(col)
            .custom(Alias::new(format!("VARCHAR({len}) CHARACTER SET ascii COLLATE ascii_bin")))
            .not_null()
            .take()
    } else {
        ColumnDef::new(col).string_len(len).not_null().take()
    }
}
