//! Webhooks: `POST`/`GET /api/projects/{project_id}/webhooks`, `DELETE /api/webhooks/{id}`,
//! `POST /api/webhooks/{id}/rotate-secret`, `GET /api/webhooks/{id}/deliveries` and
//! `POST /api/webhooks/{id}/deliveries/{delivery_id}/redeliver` (README, "Webhooks").

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::idempotency::{Created, KeyHeader};
use super::text::Text;
use super::time::UtcTime;
use crate::app::App;
use crate::app::webhooks::WebhookDraft;
use crate::domain::ids::{DeliveryId, ProjectId, WebhookId};
use crate::domain::records::Page;
use crate::domain::webhooks::records::{Delivery, Webhook};

/// A webhook to register.
#[derive(Object, Debug)]
#[oai(example)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `http` or `https`, never to a loopback, private,
    /// link-local or metadata address unless the server allows it
    /// (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
    pub url: Text,
    /// The events to deliver: `dataset.created`, `version.created`, `dataset.deleted`,
    /// `alias.moved`, `contract.failed`, `drift.detected`.
    pub events: Vec<Text>,
    #[oai(nullable, skip_serializing_if_is_none)]
    pub description: Option<Text>,
}

impl poem_openapi::types::Example for CreateWebhook {
    fn example() -> Self {
        Self {
            url: Text("https://ci.example.com/hooks/datasets".into()),
            events: vec![Text("version.created".into()), Text("contract.failed".into())],
            description: Some(Text("retrain on new data".into())),
        }
    }
}

/// A registered webhook (its secret is shown only when it is created or rotated).
#[derive(Object, Debug, Clone, PartialEq)]
pub struct WebhookDto {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub created_at: UtcTime,
    pub created_by: Uuid,
}

/// A webhook with its signing secret: `whsec_` + base64 of 32 bytes, the key of the
/// `webhook-signature` header (Standard Webhooks). Shown only in this answer.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct WebhookWithSecret {
    pub id: Uuid,
    pub project_id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret: String,
    pub created_at: UtcTime,
    pub created_by: Uuid,
}

fn dto(w: &Webhook) -> WebhookDto {
    WebhookDto {
        id: w.id.0,
        project_id: w.project_id.0,
        url: w.url.clone(),
        events: w.events.iter().map(|e| e.as_str().to_string()).collect(),
        description: w.description.clone(),
        created_at: w.created_at.into(),
        created_by: w.created_by.0,
    }
}

fn with_secret(w: &Webhook) -> WebhookWithSecret {
    let d = dto(w);
    WebhookWithSecret {
        id: d.id,
        project_id: d.project_id,
        url: d.url,
        events: d.events,
        description: d.description,
        secret: w.secret.to_whsec(),
        created_at: d.created_at,
        created_by: d.created_by,
    }
}

#[derive(Object, Debug)]
pub struct WebhookList {
    pub items: Vec<WebhookDto>,
}

/// One event's delivery to the webhook.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DeliveryDto {
    pub id: Uuid,
    /// The event's id: the `webhook-id` header of every attempt.
    pub event_id: Uuid,
    /// The event's type (`version.created`, …).
    #[oai(rename = "type")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (every attempt of the retry schedule failed).
    pub status: String,
    pub attempts: u32,
    /// The status code of the last answer; null when there was none.
    #[oai(nullable)]
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed; null after a success.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    #[oai(nullable)]
    pub next_attempt_at: Option<UtcTime>,
    pub created_at: UtcTime,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.0,
            event_id: d.event_id.0,
            event_type: d.event_type.as_str().to_string(),
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at.map(Into::into),
            created_at: d.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryDto>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

#[derive(ApiResponse)]
pub enum WebhookDeleted {
    /// Deleted: its pending deliveries are not attempted again.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum Redelivery {
    /// The delivery is pending again and due now (its attempts are kept).
    #[oai(status = 202)]
    Accepted,
}

fn default_limit() -> u64 {
    20
}

fn default_offset() -> u64 {
    0
}

pub struct WebhooksApi;

#[OpenApi(tag = "ApiTags::Projects")]
impl WebhooksApi {
    /// Register a webhook
    ///
    /// Events of the project's datasets are POSTed to `url` as JSON
    /// (`{"type", "timestamp", "data": {"project_id", "dataset_id", "version",
    /// "dataset_version_id", …}}`), signed as the Standard Webhooks specification says
    /// (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once: an event is
    /// recorded with the change it describes, and a failed delivery is tried again on the
    /// schedule `WEBHOOK_RETRY_SCHEDULE`. The answer holds the signing secret, shown only here
    /// (and replayed to a retry with the same `Idempotency-Key`).
    /// A URL that is not `http`/`https`, or whose host is (or resolves to) a loopback,
    /// private, link-local or metadata address, answers `400` unless the server allows it.
    /// Owners of the project, and the admin.
    #[oai(path = "/api/projects/:project_id/webhooks", method = "post", operation_id = "create_webhook")]
    async fn create(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        project_id: Path<Uuid>,
        body: Json<CreateWebhook>,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<Created<WebhookWithSecret>, ApiError> {
        let b = body.0;
        let draft = WebhookDraft {
            url: b.url.into_string(),
            events: b.events.into_iter().map(Text::into_string).collect(),
            description: b.description.map(Text::into_string),
        };
        let webhook = app.create_webhook(&auth.0, ProjectId(project_id.0), &draft).await?;
        Ok(Created::new(with_secret(&webhook)))
    }

    /// List a project's webhooks
    ///
    /// Oldest first, without their secrets. Owners of the project, and the admin.
    #[oai(path = "/api/projects/:project_id/webhooks", method = "get", operation_id = "list_webhooks")]
    async fn list(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        project_id: Path<Uuid>,
    ) -> Result<Json<WebhookList>, ApiError> {
        let hooks = app.list_webhooks(&auth.0, ProjectId(project_id.0)).await?;
        Ok(Json(WebhookList { items: hooks.iter().map(dto).collect() }))
    }

    /// Delete a webhook
    ///
    /// Its pending deliveries are not attempted again (an attempt already under way ends).
    /// Owners of the project, and the admin.
    #[oai(path = "/api/webhooks/:webhook_id", method = "delete", operation_id = "delete_webhook")]
    async fn delete(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        webhook_id: Path<Uuid>,
    ) -> Result<WebhookDeleted, ApiError> {
        app.delete_webhook(&auth.0, WebhookId(webhook_id.0)).await?;
        Ok(WebhookDeleted::Deleted)
    }

    /// Rotate a webhook's secret
    ///
    /// A new signing secret, shown only in this answer; attempts that start from now on are
    /// signed with it (one already under way keeps the old one). Owners of the project, and
    /// the admin.
    #[oai(path = "/api/webhooks/:webhook_id/rotate-secret", method = "post", operation_id = "rotate_webhook_secret")]
    async fn rotate(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        webhook_id: Path<Uuid>,
    ) -> Result<Json<WebhookWithSecret>, ApiError> {
        let webhook = app.rotate_webhook_secret(&auth.0, WebhookId(webhook_id.0)).await?;
        Ok(Json(with_secret(&webhook)))
    }

    /// List a webhook's deliveries
    ///
    /// Newest first: each event's delivery with its status, attempts, last answer or error and
    /// the time of its next attempt. Owners of the project, and the admin.
    #[oai(path = "/api/webhooks/:webhook_id/deliveries", method = "get", operation_id = "list_webhook_deliveries")]
    async fn deliveries(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        webhook_id: Path<Uuid>,
        /// Max items (1–100).
        #[oai(default = "default_limit", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<u64>,
        /// Pagination offset.
        #[oai(default = "default_offset", validator(minimum(value = "0")))]
        offset: Query<u64>,
    ) -> Result<Json<DeliveryPage>, ApiError> {
        let page = Page { limit: limit.0, offset: offset.0 };
        let (items, total) = app.webhook_deliveries(&auth.0, WebhookId(webhook_id.0), page).await?;
        Ok(Json(DeliveryPage {
            items: items.into_iter().map(Into::into).collect(),
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Redeliver
    ///
    /// Makes a delivery pending again, due now, whatever became of it (the same event, with
    /// the same `webhook-id`); `409` while an attempt of it is under way. Owners of the
    /// project, and the admin.
    #[oai(
        path = "/api/webhooks/:webhook_id/deliveries/:delivery_id/redeliver",
        method = "post",
        operation_id = "redeliver_webhook_delivery"
    )]
    async fn redeliver(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        webhook_id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> Result<Redelivery, ApiError> {
        app.redeliver(&auth.0, WebhookId(webhook_id.0), DeliveryId(delivery_id.0)).await?;
        Ok(Redelivery::Accepted)
    }
}
