//! Idempotency keys (`domain::idempotency`): claims, leases, recorded answers, expiry.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entities::idempotency_key as row;
use super::errors::{corrupt, is_transient, store_error, with_retries};
use crate::domain::idempotency::{KeyClaim, KeyOwner, KeyState, StoredAnswer};
use crate::ports::StoreError;

const RUNNING: &str = "running";
const DONE: &str = "done";

/// The row of `owner`'s key.
fn of(owner: &KeyOwner) -> sea_orm::Condition {
    sea_orm::Condition::all().add(row::Column::UserId.eq(owner.user.0)).add(row::Column::IdemKey.eq(owner.key.as_str()))
}

/// What one pass of a claim found.
enum Pass {
    Decided(KeyState),
    Done(row::Model),
    /// The row changed under the pass (deleted, or taken over): try again.
    Changed,
}

async fn try_claim(db: &DatabaseConnection, claim: &KeyClaim) -> Result<Pass, DbErr> {
    // An expired key is forgotten before it is used again.
    row::Entity::delete_many().filter(of(&claim.owner)).filter(row::Column::ExpiresAt.lte(claim.now)).exec(db).await?;
    let new = row::ActiveModel {
        user_id: Set(claim.owner.user.0),
        idem_key: Set(claim.owner.key.as_str().to_string()),
        token: Set(claim.token),
        state: Set(RUNNING.into()),
        lease_until: Set(claim.lease_until),
        expires_at: Set(claim.expires_at),
        created_at: Set(claim.now),
        fingerprint: Set(None),
        status_code: Set(None),
        content_type: Set(None),
        response_body: Set(None),
    };
    match row::Entity::insert(new).exec_without_returning(db).await {
        Ok(_) => return Ok(Pass::Decided(KeyState::Claimed)),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {}
        Err(e) => return Err(e),
    }
    let Some(found) = row::Entity::find().filter(of(&claim.owner)).one(db).await? else {
        return Ok(Pass::Changed); // deleted since (expired, or released)
    };
    if found.state == DONE {
        return Ok(Pass::Done(found));
    }
    if found.lease_until > claim.now {
        return Ok(Pass::Decided(KeyState::Running { lease_until: found.lease_until }));
    }
    // The holder's lease ran out (its process died): take the key over, unless another
    // attempt did first.
    let taken = row::Entity::update_many()
        .col_expr(row::Column::Token, Expr::value(claim.token))
        .col_expr(row::Column::LeaseUntil, Expr::value(claim.lease_until))
        .filter(of(&claim.owner))
        .filter(row::Column::Token.eq(found.token))
        .filter(row::Column::State.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(if taken.rows_affected == 1 { Pass::Decided(KeyState::Claimed) } else { Pass::Changed })
}

fn answer_of(found: row::Model) -> Result<StoredAnswer, StoreError> {
    let bad = || corrupt("an idempotency key's recorded answer");
    Ok(StoredAnswer {
        fingerprint: found.fingerprint.ok_or_else(bad)?,
        status: found.status_code.and_then(|s| u16::try_from(s).ok()).ok_or_else(bad)?,
        content_type: found.content_type,
        body: found.response_body.unwrap_or_default(),
    })
}

pub(super) async fn claim(db: &DatabaseConnection, claim: &KeyClaim) -> Result<KeyState, StoreError> {
    // Each pass either decides or saw the row change (a deletion or a takeover in between);
    // a few passes settle any race.
    for _ in 0..8 {
        let pass = with_retries("an idempotency key claim", is_transient, || try_claim(db, claim));
        match pass.await.map_err(store_error)? {
            Pass::Decided(state) => return Ok(state),
            Pass::Done(found) => return Ok(KeyState::Done(answer_of(found)?)),
            Pass::Changed => {}
        }
    }
    Err(StoreError::Unavailable("an idempotency key kept changing during its claim".into()))
}

pub(super) async fn renew(
    db: &DatabaseConnection,
    owner: &KeyOwner,
    token: uuid::Uuid,
    lease_until: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let update = || {
        row::Entity::update_many()
            .col_expr(row::Column::LeaseUntil, Expr::value(lease_until))
            .filter(of(owner))
            .filter(row::Column::Token.eq(token))
            .filter(row::Column::State.eq(RUNNING))
            .exec(db)
    };
    let done = with_retries("an idempotency lease renewal", is_transient, update).await.map_err(store_error)?;
    Ok(done.rows_affected == 1)
}

pub(super) async fn complete(
    db: &DatabaseConnection,
    owner: &KeyOwner,
    token: uuid::Uuid,
    answer: &StoredAnswer,
) -> Result<bool, StoreError> {
    let update = || {
        row::Entity::update_many()
            .col_expr(row::Column::State, Expr::value(DONE))
            .col_expr(row::Column::Fingerprint, Expr::value(answer.fingerprint.clone()))
            .col_expr(row::Column::StatusCode, Expr::value(i32::from(answer.status)))
            .col_expr(row::Column::ContentType, Expr::value(answer.content_type.clone()))
            .col_expr(row::Column::ResponseBody, Expr::value(answer.body.clone()))
            .filter(of(owner))
            .filter(row::Column::Token.eq(token))
            .filter(row::Column::State.eq(RUNNING))
            .exec(db)
    };
    let done = with_retries("recording an idempotent answer", is_transient, update).await.map_err(store_error)?;
    Ok(done.rows_affected == 1)
}

pub(super) async fn release(db: &DatabaseConnection, owner: &KeyOwner, token: uuid::Uuid) -> Result<(), StoreError> {
    let delete = || {
        row::Entity::delete_many()
            .filter(of(owner))
            .filter(row::Column::Token.eq(token))
            .filter(row::Column::State.eq(RUNNING))
            .exec(db)
    };
    with_retries("releasing an idempotency key", is_transient, delete).await.map(|_| ()).map_err(store_error)
}

pub(super) async fn delete_expired(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    let delete = || row::Entity::delete_many().filter(row::Column::ExpiresAt.lte(now)).exec(db);
    let done = with_retries("deleting expired idempotency keys", is_transient, delete).await.map_err(store_error)?;
    Ok(done.rows_affected)
}
