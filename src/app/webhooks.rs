//! Webhooks (rules in `domain::webhooks`, docs in README "Webhooks"): a project's owners (and
//! the admin) register, list, delete and re-key its webhooks and see their deliveries; the
//! dispatcher of every instance sends the deliveries that are due.
//!
//! A target is checked when the webhook is registered and again before every attempt (its name
//! resolved again: against DNS rebinding); the attempt connects only to addresses that were
//! checked.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;

use crate::app::compare::CompareOptions;
use crate::app::errors::ErrorChain;
use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::ids::{DeliveryId, ProjectId, WebhookId};
use crate::domain::records::Page;
use crate::domain::webhooks::events::{self, EventBody, Subject, VersionFacts};
use crate::domain::webhooks::records::{AttemptOutcome, ClaimedDelivery, Delivery, DriftCheck, Redelivered, Webhook};
use crate::domain::webhooks::retry::RetrySchedule;
use crate::domain::webhooks::targets::{Target, TargetError, TargetHost};
use crate::domain::webhooks::{check_description, parse_events};
use crate::ports::webhooks::WebhookRequest;

/// How webhooks behave (`WEBHOOK_*` settings).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether targets may be loopback, private, link-local or other internal addresses.
    pub allow_private_targets: bool,
    pub retry: RetrySchedule,
    /// Time between two looks for due deliveries.
    pub poll_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { allow_private_targets: false, retry: RetrySchedule::default(), poll_interval: Duration::from_secs(1) }
    }
}

/// A webhook as its creator sends it.
#[derive(Debug, Clone)]
pub struct WebhookDraft {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Deliveries claimed per look, all attempted at once: every attempt of a batch starts when
/// it is claimed, so that each ends (within 5 s to resolve and 10 s to answer) well inside
/// its lease.
const CLAIM_BATCH: usize = 8;
/// How long a claimed attempt is held before another instance may try it: past the longest
/// attempt (5 s to resolve, 10 s to answer), and the wait before an attempt cut short by a
/// crash is made again.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// How long a claimed drift check is held (a comparison of two large versions takes seconds),
/// and how many times a failing one is made.
const DRIFT_CHECK_LEASE: chrono::Duration = chrono::Duration::minutes(10);
pub const DRIFT_CHECK_ATTEMPTS: u32 = 3;
/// How long a delivery that ended (delivered or failed) is kept for the deliveries listing.
pub const DELIVERY_HISTORY: chrono::Duration = chrono::Duration::days(30);

fn target_error(e: TargetError) -> AppError {
    AppError::Invalid(e.to_string())
}

impl App {
    /// Registers a webhook; the answer holds its secret, shown only here.
    pub async fn create_webhook(
        &self,
        principal: &Principal,
        project: ProjectId,
        draft: &WebhookDraft,
    ) -> Result<Webhook, AppError> {
        self.authorize(principal, project, Action::ManageWebhooks).await?;
        let events = parse_events(&draft.events).map_err(|e| AppError::Invalid(e.to_string()))?;
        let description = draft.description.clone().unwrap_or_default();
        check_description(&description).map_err(|e| AppError::Invalid(e.to_string()))?;
        let target =
            Target::parse(draft.url.trim(), self.settings.webhooks.allow_private_targets).map_err(target_error)?;
        // A name is resolved now too: a target inside the network is refused at once.
        self.checked_addresses(&target).await.map_err(|e| AppError::Invalid(e.0))?;
        let webhook = Webhook {
            id: WebhookId(self.ids.new_id()),
            project_id: project,
            url: target.url().to_string(),
            events,
            description,
            secret: self.secrets.new_webhook_secret(),
            created_at: self.clock.now(),
            created_by: principal.user_id,
        };
        self.metadata.insert_webhook(&webhook).await?;
        Ok(webhook)
    }

    /// The project's webhooks, oldest first.
    pub async fn list_webhooks(&self, principal: &Principal, project: ProjectId) -> Result<Vec<Webhook>, AppError> {
        self.authorize(principal, project, Action::ManageWebhooks).await?;
        Ok(self.metadata.list_webhooks(project).await?)
    }

    /// The webhook, when the caller manages its project (a webhook of a project the caller
    /// may not see is reported as missing).
    async fn managed_webhook(&self, principal: &Principal, id: WebhookId) -> Result<Webhook, AppError> {
        let webhook = self.metadata.find_webhook(id).await?.ok_or(AppError::NotFound("webhook"))?;
        match self.authorize(principal, webhook.project_id, Action::ManageWebhooks).await {
            Ok(_) => Ok(webhook),
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("webhook")),
            Err(e) => Err(e),
        }
    }

    /// Deletes the webhook; its pending deliveries are not attempted again.
    pub async fn delete_webhook(&self, principal: &Principal, id: WebhookId) -> Result<(), AppError> {
        self.managed_webhook(principal, id).await?;
        if self.metadata.delete_webhook(id).await? { Ok(()) } else { Err(AppError::NotFound("webhook")) }
    }

    /// Gives the webhook a new secret (answered, shown only here); attempts that start from
    /// now on are signed with it.
    pub async fn rotate_webhook_secret(&self, principal: &Principal, id: WebhookId) -> Result<Webhook, AppError> {
        let mut webhook = self.managed_webhook(principal, id).await?;
        webhook.secret = self.secrets.new_webhook_secret();
        if !self.metadata.set_webhook_secret(id, &webhook.secret).await? {
            return Err(AppError::NotFound("webhook"));
        }
        Ok(webhook)
    }

    /// A page of the webhook's deliveries, newest first, and their total.
    pub async fn webhook_deliveries(
        &self,
        principal: &Principal,
        id: WebhookId,
        page: Page,
    ) -> Result<(Vec<Delivery>, u64), AppError> {
        self.managed_webhook(principal, id).await?;
        Ok(self.metadata.list_deliveries(id, page).await?)
    }

    /// Sends a delivery again (now), whatever became of it; `409` while an attempt of it is
    /// under way.
    pub async fn redeliver(&self, principal: &Principal, id: WebhookId, delivery: DeliveryId) -> Result<(), AppError> {
        self.managed_webhook(principal, id).await?;
        match self.metadata.redeliver(id, delivery, self.clock.now()).await? {
            Redelivered::Due => Ok(()),
            Redelivered::NotFound => Err(AppError::NotFound("delivery")),
            Redelivered::AttemptUnderWay => Err(AppError::Conflict(
                "an attempt of this delivery is under way: ask again once it has ended (at most 30 s)".into(),
            )),
        }
    }

    /// The addresses an attempt may connect to, in turn: the URL's address, or those its name
    /// resolves to; every one must be allowed (unless private targets are).
    async fn checked_addresses(&self, target: &Target) -> Result<Vec<SocketAddr>, crate::ports::webhooks::SendError> {
        use crate::ports::webhooks::SendError;
        let allow = self.settings.webhooks.allow_private_targets;
        let addresses: Vec<IpAddr> = match target.host().map_err(|e| SendError(e.to_string()))? {
            TargetHost::Address(ip) => vec![ip],
            TargetHost::Name(name) => self.webhooks.resolve(&name, target.port()).await?,
        };
        if !allow {
            target.check_resolved(&addresses).map_err(|e| SendError(e.to_string()))?;
        }
        if addresses.is_empty() {
            return Err(SendError("the host resolves to no address".into()));
        }
        Ok(addresses.into_iter().map(|ip| SocketAddr::new(ip, target.port())).collect())
    }

    /// Claims the deliveries due now and attempts each once (several at a time); returns how
    /// many were attempted.
    pub async fn dispatch_due_deliveries(&self) -> Result<usize, AppError> {
        let claimed = self.metadata.claim_deliveries(self.clock.now(), LEASE, CLAIM_BATCH as u64).await?;
        let count = claimed.len();
        let attempts = futures_util::stream::iter(claimed)
            .map(|delivery| async move { self.attempt(delivery).await })
            .buffer_unordered(CLAIM_BATCH);
        let results: Vec<Result<(), AppError>> = attempts.collect().await;
        for result in results {
            result?;
        }
        Ok(count)
    }

    /// One attempt of a claimed delivery, its outcome recorded under its lease.
    async fn attempt(&self, delivery: ClaimedDelivery) -> Result<(), AppError> {
        let sent = self.send(&delivery).await;
        let now = self.clock.now();
        let retry_at = || {
            let delay = self.settings.webhooks.retry.delay_after(delivery.attempt)?;
            Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::days(7)))
        };
        let outcome = match sent {
            Ok(code) if (200..300).contains(&code) => AttemptOutcome::Delivered { status_code: code },
            Ok(code) => {
                AttemptOutcome::Failed { status_code: Some(code), error: format!("HTTP {code}"), retry_at: retry_at() }
            }
            Err(error) => AttemptOutcome::Failed { status_code: None, error, retry_at: retry_at() },
        };
        let label = match &outcome {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Failed { retry_at: Some(_), .. } => "retry",
            AttemptOutcome::Failed { retry_at: None, .. } => "failed",
        };
        self.telemetry.webhook_attempt(label);
        tracing::debug!(delivery = %delivery.id, attempt = delivery.attempt, outcome = label, "webhook attempt");
        if !self.metadata.finish_attempt(delivery.id, delivery.lease_token, &outcome, now).await? {
            tracing::info!(delivery = %delivery.id, "webhook attempt finished after its lease: not recorded");
        }
        Ok(())
    }

    /// Sends one attempt: the status code, or why there was none.
    async fn send(&self, delivery: &ClaimedDelivery) -> Result<u16, String> {
        let allow = self.settings.webhooks.allow_private_targets;
        let target = Target::parse(&delivery.url, allow).map_err(|e| e.to_string())?;
        let addresses = self.checked_addresses(&target).await.map_err(|e| e.0)?;
        let timestamp = self.clock.now().timestamp();
        let id = delivery.event_id.0.to_string();
        let signature = delivery.secret.sign(&id, timestamp, delivery.body.as_bytes());
        let request = WebhookRequest {
            url: target.url().clone(),
            addresses,
            headers: vec![
                ("content-type", "application/json".into()),
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ],
            body: delivery.body.clone(),
        };
        self.webhooks.post(&request).await.map_err(|e| e.0)
    }

    /// Makes one due drift check, if any: compares the version with the one before it as
    /// `/compare` does by default, and records `drift.detected` when the dataset drifted.
    /// Returns whether a check was made. A check that fails is tried again when its lease runs
    /// out, at most [`DRIFT_CHECK_ATTEMPTS`] times.
    pub async fn check_pending_drift(&self) -> Result<bool, AppError> {
        let Some(check) = self.metadata.claim_drift_check(self.clock.now(), DRIFT_CHECK_LEASE).await? else {
            return Ok(false);
        };
        let event = match self.drift_event(&check).await {
            Ok(event) => event,
            Err(e) if check.attempt < DRIFT_CHECK_ATTEMPTS => {
                tracing::warn!(version = %check.version_id, attempt = check.attempt, error = %ErrorChain(&e),
                    "drift check failed; it will be made again");
                return Ok(true);
            }
            Err(e) => {
                tracing::warn!(version = %check.version_id, error = %ErrorChain(&e), "drift check failed; given up");
                None
            }
        };
        self.metadata.finish_drift_check(&check, event.as_ref(), self.clock.now()).await?;
        Ok(true)
    }

    /// The `drift.detected` event of a check, when the version drifted from the one before.
    async fn drift_event(&self, check: &DriftCheck) -> Result<Option<EventBody>, AppError> {
        let Some(dataset) = self.metadata.find_dataset(check.dataset_id).await? else { return Ok(None) };
        let (Some(before), Some(after)) = (
            self.metadata.find_version_by_number(check.dataset_id, check.version - 1).await?,
            self.metadata.find_version_by_number(check.dataset_id, check.version).await?,
        ) else {
            return Ok(None);
        };
        let comparison = self.compare_versions(&before, &after, &CompareOptions::default()).await?;
        let drift = &comparison.dataset_drift;
        if !drift.dataset_drift {
            return Ok(None);
        }
        let subject =
            Subject { project_id: check.project_id, dataset_id: check.dataset_id, dataset_name: &dataset.name };
        let facts = VersionFacts {
            number: check.version,
            id: check.version_id,
            row_count: after.summary.row_count,
            column_count: after.columns.len(),
        };
        Ok(Some(events::drift_detected(self.clock.now(), &subject, &facts, &drift.drifted_columns, drift.drift_share)))
    }

    /// Forgets deliveries that ended more than [`DELIVERY_HISTORY`] ago, and their events.
    pub async fn sweep_webhook_history(&self) -> Result<u64, AppError> {
        let before = self.clock.now() - DELIVERY_HISTORY;
        Ok(self.metadata.delete_finished_deliveries(before).await?)
    }

    /// Updates the queue figures of `/metrics`.
    async fn observe_delivery_queue(&self) -> Result<(), AppError> {
        let (pending, oldest) = self.metadata.pending_deliveries().await?;
        let age = oldest.map_or(0.0, |at| (self.clock.now() - at).num_milliseconds().max(0) as f64 / 1000.0);
        self.telemetry.webhook_queue(pending, age);
        Ok(())
    }

    /// Runs the dispatcher of this instance until the process ends: due deliveries are looked
    /// for every `poll_interval` (at once again after a full batch), and, in a task of their
    /// own (a comparison can take seconds), due drift checks. Each round runs as its own task,
    /// so that a panic in one is logged and the next round still runs.
    pub fn start_webhook_dispatcher(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                let round = tokio::spawn({
                    let app = app.clone();
                    async move {
                        let attempted = match app.dispatch_due_deliveries().await {
                            Ok(n) => n,
                            Err(e) => {
                                tracing::warn!(error = %ErrorChain(&e), "webhook dispatch failed; it will run again");
                                0
                            }
                        };
                        if let Err(e) = app.observe_delivery_queue().await {
                            tracing::warn!(error = %ErrorChain(&e), "webhook queue figures could not be read");
                        }
                        attempted
                    }
                });
                let attempted = round.await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "webhook dispatch round ended abnormally; the next one runs");
                    0
                });
                if attempted < CLAIM_BATCH {
                    tokio::time::sleep(app.settings.webhooks.poll_interval).await;
                }
            }
        });
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                let round = tokio::spawn({
                    let app = app.clone();
                    async move { app.check_pending_drift().await }
                });
                let checked = match round.await {
                    Ok(Ok(checked)) => checked,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %ErrorChain(&e), "drift check could not be claimed or recorded");
                        false
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "drift check ended abnormally; the next one runs");
                        false
                    }
                };
                if !checked {
                    tokio::time::sleep(app.settings.webhooks.poll_interval).await;
                }
            }
        });
    }
}
