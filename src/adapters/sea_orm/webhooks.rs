//! Webhooks, the outbox of their events and the deliveries (migration 013).
//!
//! Events are recorded by [`record_events`] inside the transaction of the change they describe:
//! one `webhook_events` row per event that some webhook of the project subscribes to, and one
//! pending `webhook_deliveries` row per such webhook, due at once. Nothing is recorded for an
//! event no webhook wants.
//!
//! A delivery is claimed for an attempt by one conditional update that moves `next_attempt_at`
//! past the attempt (the lease), sets a new `lease_token` and counts the attempt, on the
//! condition that the row is still pending, due, and holds the `lease_token` that was read: of
//! several instances claiming at once, one wins. The outcome is recorded only while the lease token is
//! still the row's; an instance that dies mid-attempt leaves the lease to run out, and the
//! delivery is attempted again (at least once).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entities::{drift_check, webhook, webhook_delivery, webhook_event};
use super::errors::{is_transient, store_error};
use crate::domain::ids::{DatasetId, DeliveryId, EventId, ProjectId, UserId, VersionId, WebhookId};
use crate::domain::records::Page;
use crate::domain::webhooks::EventType;
use crate::domain::webhooks::events::EventBody;
use crate::domain::webhooks::records::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryStatus, DriftCheck, Redelivered, Webhook,
};
use crate::domain::webhooks::signature::Secret;
use crate::ports::StoreError;

/// Longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 1_000;

/// The `events` column: each name between commas, so that a webhook wants `event` when its
/// column contains [`event_needle`]`(event)`.
fn events_column(events: &[EventType]) -> String {
    let mut text = String::from(",");
    for event in events {
        text.push_str(event.as_str());
        text.push(',');
    }
    text
}

fn event_needle(event: EventType) -> String {
    format!(",{},", event.as_str())
}

/// Whether a conditional claim won its row. A claimer racing for the same row may be told of
/// a deadlock (InnoDB): the row is then someone else's.
fn won(update: Result<sea_orm::UpdateResult, DbErr>) -> Result<bool, StoreError> {
    match update {
        Ok(done) => Ok(done.rows_affected == 1),
        Err(e) if is_transient(&e) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

fn webhook_from(row: webhook::Model) -> Result<Webhook, StoreError> {
    let events = row
        .events
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| EventType::parse(name).ok_or_else(|| StoreError::other(format!("stored event name {name:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let secret = Secret::parse(&row.secret).map_err(|e| StoreError::other_caused_by("stored webhook secret", e))?;
    Ok(Webhook {
        id: WebhookId(row.id),
        project_id: ProjectId(row.project_id),
        url: row.url,
        events,
        description: row.description,
        secret,
        created_at: row.created_at,
        created_by: UserId(row.created_by),
    })
}

pub(super) async fn insert_webhook(db: &DatabaseConnection, w: &Webhook) -> Result<(), StoreError> {
    let row = webhook::ActiveModel {
        id: Set(w.id.0),
        project_id: Set(w.project_id.0),
        url: Set(w.url.clone()),
        events: Set(events_column(&w.events)),
        description: Set(w.description.clone()),
        secret: Set(w.secret.to_whsec()),
        created_at: Set(w.created_at),
        created_by: Set(w.created_by.0),
    };
    webhook::Entity::insert(row).exec_without_returning(db).await.map(|_| ()).map_err(store_error)
}

pub(super) async fn list_webhooks(db: &DatabaseConnection, project: ProjectId) -> Result<Vec<Webhook>, StoreError> {
    let rows = webhook::Entity::find()
        .filter(webhook::Column::ProjectId.eq(project.0))
        .order_by(webhook::Column::CreatedAt, Order::Asc)
        .order_by(webhook::Column::Id, Order::Asc)
        .all(db)
        .await
        .map_err(store_error)?;
    rows.into_iter().map(webhook_from).collect()
}

pub(super) async fn find_webhook(db: &DatabaseConnection, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
    webhook::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(webhook_from).transpose()
}

/// Deletes the webhook and its deliveries together: a pending one is never attempted again.
pub(super) async fn delete_webhook(db: &DatabaseConnection, id: WebhookId) -> Result<bool, StoreError> {
    let txn = db.begin().await.map_err(store_error)?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(store_error)?;
    let deleted = webhook::Entity::delete_by_id(id.0).exec(&txn).await.map_err(store_error)?.rows_affected;
    txn.commit().await.map_err(store_error)?;
    Ok(deleted > 0)
}

pub(super) async fn set_webhook_secret(
    db: &DatabaseConnection,
    id: WebhookId,
    secret: &Secret,
) -> Result<bool, StoreError> {
    let updated = webhook::Entity::update_many()
        .col_expr(webhook::Column::Secret, Expr::value(secret.to_whsec()))
        .filter(webhook::Column::Id.eq(id.0))
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(updated.rows_affected > 0)
}

fn delivery_from(row: webhook_delivery::Model, event_type: EventType) -> Result<Delivery, StoreError> {
    let status = DeliveryStatus::parse(&row.status)
        .ok_or_else(|| StoreError::other(format!("stored delivery status {:?}", row.status)))?;
    Ok(Delivery {
        id: DeliveryId(row.id),
        webhook_id: WebhookId(row.webhook_id),
        event_id: EventId(row.event_id),
        event_type,
        status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
        created_at: row.created_at,
    })
}

/// A webhook's deliveries, newest first.
pub(super) async fn list_deliveries(
    db: &DatabaseConnection,
    webhook: WebhookId,
    page: Page,
) -> Result<(Vec<Delivery>, u64), StoreError> {
    let query = webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook.0));
    let total = query.clone().count(db).await.map_err(store_error)?;
    let rows = query
        .order_by(webhook_delivery::Column::CreatedAt, Order::Desc)
        .order_by(webhook_delivery::Column::Id, Order::Desc)
        .limit(std::cmp::Ord::min(page.limit, i64::MAX as u64))
        .offset(std::cmp::Ord::min(page.offset, i64::MAX as u64))
        .all(db)
        .await
        .map_err(store_error)?;
    let event_ids: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
    let types: std::collections::HashMap<Uuid, String> = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(event_ids))
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|e| (e.id, e.event_type))
        .collect();
    let deliveries = rows
        .into_iter()
        .map(|row| {
            let event_type = types
                .get(&row.event_id)
                .and_then(|t| EventType::parse(t))
                .ok_or_else(|| StoreError::other(format!("the event of delivery {} is missing", row.id)))?;
            delivery_from(row, event_type)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((deliveries, total))
}

/// Makes a delivery of `webhook` pending again and due at `now` (its attempts are kept),
/// unless an attempt holds its lease.
pub(super) async fn redeliver(
    db: &DatabaseConnection,
    webhook: WebhookId,
    delivery: DeliveryId,
    now: DateTime<Utc>,
) -> Result<Redelivered, StoreError> {
    let leased = Condition::all()
        .add(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .add(webhook_delivery::Column::LeaseToken.is_not_null())
        .add(webhook_delivery::Column::NextAttemptAt.gt(now));
    let updated = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(DeliveryStatus::Pending.as_str()))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::LeaseToken, Expr::value(Option::<Uuid>::None))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(delivery.0))
        .filter(webhook_delivery::Column::WebhookId.eq(webhook.0))
        .filter(leased.not())
        .exec(db)
        .await
        .map_err(store_error)?;
    if updated.rows_affected > 0 {
        return Ok(Redelivered::Due);
    }
    let exists = webhook_delivery::Entity::find_by_id(delivery.0)
        .filter(webhook_delivery::Column::WebhookId.eq(webhook.0))
        .one(db)
        .await
        .map_err(store_error)?
        .is_some();
    Ok(if exists { Redelivered::AttemptUnderWay } else { Redelivered::NotFound })
}

/// Claims up to `limit` due deliveries for one attempt each, leased until `now + lease`.
pub(super) async fn claim_deliveries(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .order_by(webhook_delivery::Column::NextAttemptAt, Order::Asc)
        .limit(limit)
        .all(db)
        .await
        .map_err(store_error)?;
    let mut claimed = Vec::new();
    for row in due {
        let token = Uuid::now_v7();
        let claim = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now + lease))
            .col_expr(webhook_delivery::Column::LeaseToken, Expr::value(Some(token)))
            .col_expr(webhook_delivery::Column::Attempts, Expr::col(webhook_delivery::Column::Attempts).add(1))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(row.id))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .filter(match row.lease_token {
                Some(read) => webhook_delivery::Column::LeaseToken.eq(read),
                None => webhook_delivery::Column::LeaseToken.is_null(),
            })
            .exec(db)
            .await;
        if !won(claim)? {
            continue;
        }
        let hook = webhook::Entity::find_by_id(row.webhook_id).one(db).await.map_err(store_error)?;
        let event = webhook_event::Entity::find_by_id(row.event_id).one(db).await.map_err(store_error)?;
        let (Some(hook), Some(event)) = (hook, event) else {
            // A delivery recorded by a change that committed as its webhook was being deleted:
            // nothing to send, ever.
            webhook_delivery::Entity::delete_by_id(row.id).exec(db).await.map_err(store_error)?;
            continue;
        };
        let hook = match webhook_from(hook) {
            Ok(hook) => hook,
            Err(e) => {
                // A stored webhook that cannot be read fails its delivery, not the batch.
                let failed = AttemptOutcome::Failed { status_code: None, error: e.to_string(), retry_at: None };
                finish_attempt(db, DeliveryId(row.id), token, &failed, now).await?;
                continue;
            }
        };
        claimed.push(ClaimedDelivery {
            id: DeliveryId(row.id),
            lease_token: token,
            attempt: u32::try_from(row.attempts).unwrap_or(0) + 1,
            webhook_id: hook.id,
            url: hook.url,
            secret: hook.secret,
            event_id: EventId(event.id),
            body: event.body,
        });
    }
    Ok(claimed)
}

/// Records an attempt's outcome while the lease is still `lease_token`'s; false when it is
/// not (the lease ran out and another attempt was claimed, or the delivery was redelivered or
/// deleted): that attempt's outcome is then left unrecorded.
pub(super) async fn finish_attempt(
    db: &DatabaseConnection,
    id: DeliveryId,
    lease_token: Uuid,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let update = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseToken, Expr::value(Option::<Uuid>::None))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now));
    let update = match outcome {
        AttemptOutcome::Delivered { status_code } => update
            .col_expr(webhook_delivery::Column::Status, Expr::value(DeliveryStatus::Delivered.as_str()))
            .col_expr(webhook_delivery::Column::LastStatusCode, Expr::value(Some(i32::from(*status_code))))
            .col_expr(webhook_delivery::Column::LastError, Expr::value(Option::<String>::None)),
        AttemptOutcome::Failed { status_code, error, retry_at } => {
            let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
            let update = update
                .col_expr(webhook_delivery::Column::LastStatusCode, Expr::value(status_code.map(i32::from)))
                .col_expr(webhook_delivery::Column::LastError, Expr::value(Some(error)));
            match retry_at {
                Some(at) => update.col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(*at)),
                None => update.col_expr(webhook_delivery::Column::Status, Expr::value(DeliveryStatus::Failed.as_str())),
            }
        }
    };
    let updated = update
        .filter(webhook_delivery::Column::Id.eq(id.0))
        .filter(webhook_delivery::Column::LeaseToken.eq(lease_token))
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(updated.rows_affected == 1)
}

/// Pending deliveries, and when the oldest of them was created.
pub(super) async fn pending_deliveries(db: &DatabaseConnection) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let pending =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()));
    let count = pending.clone().count(db).await.map_err(store_error)?;
    let oldest = pending
        .order_by(webhook_delivery::Column::CreatedAt, Order::Asc)
        .one(db)
        .await
        .map_err(store_error)?
        .map(|row| row.created_at);
    Ok((count, oldest))
}

/// Forgets deliveries that ended before `before`, then the events older than `before` that no
/// delivery names any more.
pub(super) async fn delete_finished_deliveries(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let ended = [DeliveryStatus::Delivered.as_str(), DeliveryStatus::Failed.as_str()];
    let deleted = webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Status.is_in(ended))
        .filter(webhook_delivery::Column::UpdatedAt.lt(before))
        .exec(db)
        .await
        .map_err(store_error)?
        .rows_affected;
    let named = sea_orm::sea_query::Query::select()
        .column(webhook_delivery::Column::EventId)
        .from(webhook_delivery::Entity)
        .to_owned();
    webhook_event::Entity::delete_many()
        .filter(webhook_event::Column::CreatedAt.lt(before))
        .filter(webhook_event::Column::Id.not_in_subquery(named))
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(deleted)
}

/// Records `events` of `project` for the webhooks that subscribe to them, in the caller's
/// transaction (see the module's documentation).
pub(super) async fn record_events<C: ConnectionTrait>(
    txn: &C,
    project: ProjectId,
    events: &[EventBody],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let hooks = webhook::Entity::find().filter(webhook::Column::ProjectId.eq(project.0)).all(txn).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    for event in events {
        let needle = event_needle(event.event_type);
        let subscribers: Vec<&webhook::Model> = hooks.iter().filter(|h| h.events.contains(&needle)).collect();
        if subscribers.is_empty() {
            continue;
        }
        let event_id = Uuid::now_v7();
        let row = webhook_event::ActiveModel {
            id: Set(event_id),
            project_id: Set(project.0),
            event_type: Set(event.event_type.as_str().to_string()),
            body: Set(event.body.clone()),
            created_at: Set(at),
        };
        webhook_event::Entity::insert(row).exec_without_returning(txn).await?;
        let deliveries = subscribers.iter().map(|hook| webhook_delivery::ActiveModel {
            id: Set(Uuid::now_v7()),
            webhook_id: Set(hook.id),
            event_id: Set(event_id),
            status: Set(DeliveryStatus::Pending.as_str().to_string()),
            attempts: Set(0),
            next_attempt_at: Set(at),
            lease_token: Set(None),
            last_status_code: Set(None),
            last_error: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        });
        webhook_delivery::Entity::insert_many(deliveries).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Queues the drift check of version `number` (after the first) when a webhook of the project
/// wants `drift.detected`, in the caller's transaction.
pub(super) async fn queue_drift_check<C: ConnectionTrait>(
    txn: &C,
    project: ProjectId,
    dataset: DatasetId,
    version: VersionId,
    number: i64,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if number == 0 {
        return Ok(());
    }
    let needle = event_needle(EventType::DriftDetected);
    let wanted = webhook::Entity::find()
        .filter(webhook::Column::ProjectId.eq(project.0))
        .filter(webhook::Column::Events.contains(&needle))
        .one(txn)
        .await?
        .is_some();
    if !wanted {
        return Ok(());
    }
    let row = drift_check::ActiveModel {
        version_id: Set(version.0),
        project_id: Set(project.0),
        dataset_id: Set(dataset.0),
        version: Set(number),
        attempts: Set(0),
        next_attempt_at: Set(at),
        lease_token: Set(None),
        created_at: Set(at),
    };
    drift_check::Entity::insert(row).exec_without_returning(txn).await.map(|_| ())
}

/// Claims one due drift check, leased until `now + lease`.
pub(super) async fn claim_drift_check(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<DriftCheck>, StoreError> {
    let due = drift_check::Entity::find()
        .filter(drift_check::Column::NextAttemptAt.lte(now))
        .order_by(drift_check::Column::NextAttemptAt, Order::Asc)
        .limit(4)
        .all(db)
        .await
        .map_err(store_error)?;
    for row in due {
        let token = Uuid::now_v7();
        let claim = drift_check::Entity::update_many()
            .col_expr(drift_check::Column::NextAttemptAt, Expr::value(now + lease))
            .col_expr(drift_check::Column::LeaseToken, Expr::value(Some(token)))
            .col_expr(drift_check::Column::Attempts, Expr::col(drift_check::Column::Attempts).add(1))
            .filter(drift_check::Column::VersionId.eq(row.version_id))
            .filter(drift_check::Column::NextAttemptAt.lte(now))
            .filter(match row.lease_token {
                Some(read) => drift_check::Column::LeaseToken.eq(read),
                None => drift_check::Column::LeaseToken.is_null(),
            })
            .exec(db)
            .await;
        if won(claim)? {
            return Ok(Some(DriftCheck {
                version_id: VersionId(row.version_id),
                project_id: ProjectId(row.project_id),
                dataset_id: DatasetId(row.dataset_id),
                version: row.version,
                attempt: u32::try_from(row.attempts).unwrap_or(0) + 1,
                lease_token: token,
            }));
        }
    }
    Ok(None)
}

/// Ends a claimed drift check: records `event` (when the version drifted) and removes the
/// check, together, while the lease is still `lease_token`'s; false when it is not.
pub(super) async fn finish_drift_check(
    db: &DatabaseConnection,
    check: &DriftCheck,
    event: Option<&EventBody>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let txn = db.begin().await.map_err(store_error)?;
    let removed = drift_check::Entity::delete_many()
        .filter(drift_check::Column::VersionId.eq(check.version_id.0))
        .filter(drift_check::Column::LeaseToken.eq(check.lease_token))
        .exec(&txn)
        .await
        .map_err(store_error)?
        .rows_affected;
    if removed != 1 {
        return Ok(false);
    }
    if let Some(event) = event {
        record_events(&txn, check.project_id, std::slice::from_ref(event), now).await.map_err(store_error)?;
    }
    txn.commit().await.map_err(store_error)?;
    Ok(true)
}
