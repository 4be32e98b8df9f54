//! Idempotency keys (`Idempotency-Key` on the requests that create something): one row per
//! user and key, holding the running request's lease, then the first answer for replay, until
//! the key expires (`domain::idempotency`).

use crate::columns::{exact_ascii, long_text, utc_time};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    UserId,
    IdemKey,
    /// Which request holds the key (a fresh UUID per attempt).
    Token,
    /// `running` or `done`.
    State,
    LeaseUntil,
    ExpiresAt,
    CreatedAt,
    Fingerprint,
    StatusCode,
    ContentType,
    ResponseBody,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(uuid(IdempotencyKeys::UserId))
                    .col(exact_ascii(db, IdempotencyKeys::IdemKey, 255))
                    .col(uuid(IdempotencyKeys::Token))
                    .col(string_len(IdempotencyKeys::State, 16))
                    .col(utc_time(db, IdempotencyKeys::LeaseUntil))
                    .col(utc_time(db, IdempotencyKeys::ExpiresAt))
                    .col(utc_time(db, IdempotencyKeys::CreatedAt))
                    .col(string_len_null(IdempotencyKeys::Fingerprint, 64))
                    .col(integer_null(IdempotencyKeys::StatusCode))
                    .col(string_len_null(IdempotencyKeys::ContentType, 255))
                    .col(long_text(db, IdempotencyKeys::ResponseBody))
                    .primary_key(Index::create().col(IdempotencyKeys::UserId).col(IdempotencyKeys::IdemKey))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotencyKeys::Table).if_exists().to_owned()).await
    }
}
