//! Webhooks (`domain::webhooks`): the subscriptions (`webhooks`), the transactional outbox of
//! events (`webhook_events`, each row's `body` the exact JSON that is signed and sent), and one
//! delivery per event and subscribed webhook (`webhook_deliveries`), inserted in the transaction
//! that commits the change the event describes.
//!
//! A delivery is claimed by moving its `next_attempt_at` past the attempt (a lease) and setting
//! a new `lease_token`, in one update conditional on the token read: several instances never
//! hold the same attempt.

use crate::columns::{long_text, utc_time};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    ProjectId,
    Url,
    /// The subscribed event names, each between commas (`,dataset.created,version.created,`).
    Events,
    Description,
    Secret,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    ProjectId,
    EventType,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    /// `pending`, `delivered` or `failed`.
    Status,
    Attempts,
    NextAttemptAt,
    LeaseToken,
    LastStatusCode,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .if_not_exists()
                    .col(pk_uuid(Webhooks::Id))
                    .col(uuid(Webhooks::ProjectId))
                    .col(text(Webhooks::Url))
                    .col(text(Webhooks::Events))
                    .col(text(Webhooks::Description))
                    .col(string_len(Webhooks::Secret, 64))
                    .col(utc_time(db, Webhooks::CreatedAt))
                    .col(uuid(Webhooks::CreatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhooks_project_id")
                    .table(Webhooks::Table)
                    .col(Webhooks::ProjectId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(WebhookEvents::Id))
                    .col(uuid(WebhookEvents::ProjectId))
                    .col(string_len(WebhookEvents::EventType, 64))
                    .col(long_text(db, WebhookEvents::Body).not_null().take())
                    .col(utc_time(db, WebhookEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(pk_uuid(WebhookDeliveries::Id))
                    .col(uuid(WebhookDeliveries::WebhookId))
                    .col(uuid(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(utc_time(db, WebhookDeliveries::NextAttemptAt))
                    .col(uuid_null(WebhookDeliveries::LeaseToken))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(utc_time(db, WebhookDeliveries::CreatedAt))
                    .col(utc_time(db, WebhookDeliveries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("ix_webhook_deliveries_due", vec![WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt]),
            ("ix_webhook_deliveries_webhook", vec![WebhookDeliveries::WebhookId, WebhookDeliveries::CreatedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(WebhookDeliveries::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [WebhookDeliveries::Table.into_iden(), WebhookEvents::Table.into_iden(), Webhooks::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
