//! Webhooks and deliveries as stored.

use chrono::{DateTime, Utc};

use super::EventType;
use super::signature::Secret;
use crate::domain::ids::{DeliveryId, EventId, ProjectId, UserId, WebhookId};

/// A project's subscription: these events, delivered to this URL, signed with this secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub project_id: ProjectId,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: String,
    pub secret: Secret,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due at `next_attempt_at` (or is under way).
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed for one attempt: what to send, where, and the lease that proves the
/// claim when its outcome is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub lease_token: uuid::Uuid,
    /// Attempts made, this one included.
    pub attempt: u32,
    pub webhook_id: WebhookId,
    pub url: String,
    pub secret: Secret,
    pub event_id: EventId,
    pub body: String,
}

/// A version to compare with the one before it, for `drift.detected`, claimed for one check.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftCheck {
    pub version_id: crate::domain::ids::VersionId,
    pub project_id: ProjectId,
    pub dataset_id: crate::domain::ids::DatasetId,
    pub version: i64,
    /// Checks made, this one included.
    pub attempt: u32,
    pub lease_token: uuid::Uuid,
}

/// What asking for a redelivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivered {
    /// The delivery is pending and due.
    Due,
    /// The webhook has no such delivery.
    NotFound,
    /// An attempt holds the delivery's lease: nothing was changed.
    AttemptUnderWay,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered { status_code: u16 },
    /// Another answer, or none (`status_code` absent: the error says why), and when to try
    /// again (`None`: no attempt is left, the delivery has failed).
    Failed { status_code: Option<u16>, error: String, retry_at: Option<DateTime<Utc>> },
}
