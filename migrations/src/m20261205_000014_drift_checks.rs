//! Pending drift checks for the `drift.detected` webhook event: a row per new version (after
//! the first) of a project with a webhook subscribed to it, inserted in the version's
//! transaction and deleted in the transaction that records the event (when the version
//! drifted from the one before it). A check is claimed under a lease token, as deliveries are.

use crate::columns::utc_time;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDriftChecks {
    Table,
    VersionId,
    ProjectId,
    DatasetId,
    Version,
    Attempts,
    NextAttemptAt,
    LeaseToken,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(WebhookDriftChecks::Table)
                    .if_not_exists()
                    .col(pk_uuid(WebhookDriftChecks::VersionId))
                    .col(uuid(WebhookDriftChecks::ProjectId))
                    .col(uuid(WebhookDriftChecks::DatasetId))
                    .col(big_integer(WebhookDriftChecks::Version))
                    .col(integer(WebhookDriftChecks::Attempts))
                    .col(utc_time(db, WebhookDriftChecks::NextAttemptAt))
                    .col(uuid_null(WebhookDriftChecks::LeaseToken))
                    .col(utc_time(db, WebhookDriftChecks::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebhookDriftChecks::Table).if_exists().to_owned()).await
    }
}
