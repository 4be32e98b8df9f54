//! The [`MetadataStore`] on SQLite, PostgreSQL or MySQL/MariaDB through SeaORM.
//!
//! One file per concern, each a set of functions over the connection:
//! - [`access`]: users, API keys, projects and members;
//! - [`datasets`]: datasets, versions, artifact rows (storage keys) and statistics;
//! - [`lineage`]: experiments, models and deployments;
//! - [`conversions`]: table rows to domain records and back, JSON documents stored as text;
//! - [`errors`]: the one translation of SeaORM's errors into [`StoreError`] ([`store_error`]),
//!   and which errors are retried.
//!
//! Search and the name order use copies of each dataset's name and description folded by
//! `migration::fold_for_search`, so that they are the same on the three databases (see the
//! migration that adds them).
//!
//! The trait cannot be implemented across files, so `impl MetadataStore for SeaOrmStore` below
//! only hands each method to its concern's function of the same name.

mod access;
mod aliases;
mod contracts;
mod conversions;
mod datasets;
mod entities;
mod errors;
mod idempotency;
mod lineage;
mod webhooks;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

pub use self::errors::is_transient;
use self::errors::store_error;
use crate::domain::access::{Principal, Role};
use crate::domain::aliases::{Alias, AliasChange, AliasMove, AliasName};
use crate::domain::contracts::StoredContract;
use crate::domain::idempotency::{KeyClaim, KeyOwner, KeyState, StoredAnswer};
use crate::domain::ids::{DatasetId, ExperimentId, ModelId, ProjectId, UserId, VersionId};
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::domain::lineage::{Deployment, Experiment, ExperimentSummary, LineageFilter, Model};
use crate::domain::records::{
    ApiKeyRecord, Dataset, DatasetListItem, DatasetQuery, Membership, NewVersion, Page, Project, User, Version,
    VersionSummary,
};
use crate::domain::statistics::DatasetStatistics;
use crate::domain::webhooks::events::EventBody;
use crate::domain::webhooks::records::{AttemptOutcome, ClaimedDelivery, Delivery, DriftCheck, Redelivered, Webhook};
use crate::domain::webhooks::signature::Secret;
use crate::ports::StoreError;
use crate::ports::metadata::MetadataStore;

/// The metadata store on one connection pool (one connection on SQLite).
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    /// Connects to `url` (`sqlite://path`, `postgres://…`, `mysql://…`). A SQLite file and its
    /// folder are created when missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut url = url.to_string();
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or_default();
            if !file.is_empty() && file != ":memory:" {
                if let Some(parent) = std::path::Path::new(file).parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
                }
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let mut options = ConnectOptions::new(url.clone());
        options.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
        if url.starts_with("sqlite:") {
            // One connection: SQLite serializes writers anyway, and a single connection avoids
            // lock upgrades failing between concurrent transactions.
            options.max_connections(1).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(30))
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
            });
        } else {
            options.max_connections(16);
        }
        let db = Database::connect(options).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { db })
    }
}

#[async_trait]
impl MetadataStore for SeaOrmStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(store_error)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        access::insert_user(&self.db, user).await
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        access::find_user(&self.db, id).await
    }

    async fn find_admin(&self) -> Result<Option<User>, StoreError> {
        access::find_admin(&self.db).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        access::insert_api_key(&self.db, key).await
    }

    async fn find_principal_by_key_hash(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        access::find_principal_by_key_hash(&self.db, key_hash).await
    }

    async fn insert_project(&self, project: &Project, owner: Option<&Membership>) -> Result<(), StoreError> {
        access::insert_project(&self.db, project, owner).await
    }

    async fn find_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        access::find_project(&self.db, id).await
    }

    async fn list_projects(&self, member: Option<UserId>) -> Result<Vec<Project>, StoreError> {
        access::list_projects(&self.db, member).await
    }

    async fn role_of(&self, user: UserId, project: ProjectId) -> Result<Option<Role>, StoreError> {
        access::role_of(&self.db, user, project).await
    }

    async fn upsert_membership(&self, membership: &Membership) -> Result<(), StoreError> {
        access::upsert_membership(&self.db, membership).await
    }

    async fn insert_version(&self, version: &NewVersion) -> Result<i64, StoreError> {
        datasets::insert_version(&self.db, version).await
    }

    async fn find_dataset(&self, id: DatasetId) -> Result<Option<Dataset>, StoreError> {
        datasets::find_dataset(&self.db, id).await
    }

    async fn list_datasets(&self, query: &DatasetQuery) -> Result<(Vec<DatasetListItem>, u64), StoreError> {
        datasets::list_datasets(&self.db, query).await
    }

    async fn list_versions(&self, dataset: DatasetId, page: Page) -> Result<(Vec<VersionSummary>, u64), StoreError> {
        datasets::list_versions(&self.db, dataset, page).await
    }

    async fn find_version(&self, id: VersionId) -> Result<Option<Version>, StoreError> {
        datasets::find_version(&self.db, id).await
    }

    async fn find_version_by_number(&self, dataset: DatasetId, number: i64) -> Result<Option<Version>, StoreError> {
        datasets::find_version_by_number(&self.db, dataset, number).await
    }

    async fn delete_dataset(&self, id: DatasetId, if_revision: Option<i64>) -> Result<Vec<String>, StoreError> {
        datasets::delete_dataset(&self.db, id, if_revision).await
    }

    async fn change_alias(&self, change: &AliasChange) -> Result<Option<Alias>, StoreError> {
        aliases::change_alias(&self.db, change).await
    }

    async fn find_alias(&self, dataset: DatasetId, name: &AliasName) -> Result<Option<Alias>, StoreError> {
        aliases::find_alias(&self.db, dataset, name).await
    }

    async fn list_aliases(&self, dataset: DatasetId) -> Result<Vec<Alias>, StoreError> {
        aliases::list_aliases(&self.db, dataset).await
    }

    async fn alias_history(&self, dataset: DatasetId, name: &AliasName) -> Result<Vec<AliasMove>, StoreError> {
        aliases::alias_history(&self.db, dataset, name).await
    }

    async fn find_contract(&self, dataset: DatasetId) -> Result<Option<StoredContract>, StoreError> {
        contracts::find_contract(&self.db, dataset).await
    }

    async fn put_contract(&self, contract: &StoredContract) -> Result<(), StoreError> {
        contracts::put_contract(&self.db, contract).await
    }

    async fn delete_contract(&self, dataset: DatasetId) -> Result<bool, StoreError> {
        contracts::delete_contract(&self.db, dataset).await
    }

    async fn set_content_hash(&self, version: VersionId, content_hash: &str) -> Result<(), StoreError> {
        datasets::set_content_hash(&self.db, version, content_hash).await
    }

    async fn versions_without_content_hash(&self, limit: u64) -> Result<Vec<VersionId>, StoreError> {
        datasets::versions_without_content_hash(&self.db, limit).await
    }

    async fn known_storage_keys(&self, keys: &[String]) -> Result<HashSet<String>, StoreError> {
        datasets::known_storage_keys(&self.db, keys).await
    }

    async fn claim_idempotency_key(&self, claim: &KeyClaim) -> Result<KeyState, StoreError> {
        idempotency::claim(&self.db, claim).await
    }

    async fn renew_idempotency_lease(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        idempotency::renew(&self.db, owner, token, lease_until).await
    }

    async fn complete_idempotency_key(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        answer: &StoredAnswer,
    ) -> Result<bool, StoreError> {
        idempotency::complete(&self.db, owner, token, answer).await
    }

    async fn release_idempotency_key(&self, owner: &KeyOwner, token: uuid::Uuid) -> Result<(), StoreError> {
        idempotency::release(&self.db, owner, token).await
    }

    async fn delete_expired_idempotency_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        idempotency::delete_expired(&self.db, now).await
    }

    async fn insert_experiment(&self, experiment: &Experiment) -> Result<(), StoreError> {
        lineage::insert_experiment(&self.db, experiment).await
    }

    async fn find_experiment(&self, id: ExperimentId) -> Result<Option<Experiment>, StoreError> {
        lineage::find_experiment(&self.db, id).await
    }

    async fn insert_model(&self, model: &Model) -> Result<(), StoreError> {
        lineage::insert_model(&self.db, model).await
    }

    async fn find_model(&self, id: ModelId) -> Result<Option<Model>, StoreError> {
        lineage::find_model(&self.db, id).await
    }

    async fn insert_deployment(&self, deployment: &Deployment) -> Result<(), StoreError> {
        lineage::insert_deployment(&self.db, deployment).await
    }

    async fn list_experiments(&self, filter: &LineageFilter) -> Result<Vec<ExperimentSummary>, StoreError> {
        lineage::list_experiments(&self.db, filter).await
    }

    async fn list_models(&self, filter: &LineageFilter) -> Result<Vec<Model>, StoreError> {
        lineage::list_models(&self.db, filter).await
    }

    async fn list_deployments(&self, filter: &LineageFilter) -> Result<Vec<Deployment>, StoreError> {
        lineage::list_deployments(&self.db, filter).await
    }

    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        webhooks::insert_webhook(&self.db, webhook).await
    }

    async fn list_webhooks(&self, project: ProjectId) -> Result<Vec<Webhook>, StoreError> {
        webhooks::list_webhooks(&self.db, project).await
    }

    async fn find_webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        webhooks::find_webhook(&self.db, id).await
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError> {
        webhooks::delete_webhook(&self.db, id).await
    }

    async fn set_webhook_secret(&self, id: WebhookId, secret: &Secret) -> Result<bool, StoreError> {
        webhooks::set_webhook_secret(&self.db, id, secret).await
    }

    async fn list_deliveries(&self, webhook: WebhookId, page: Page) -> Result<(Vec<Delivery>, u64), StoreError> {
        webhooks::list_deliveries(&self.db, webhook, page).await
    }

    async fn redeliver(
        &self,
        webhook: WebhookId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Redelivered, StoreError> {
        webhooks::redeliver(&self.db, webhook, delivery, now).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        webhooks::claim_deliveries(&self.db, now, lease, limit).await
    }

    async fn finish_attempt(
        &self,
        delivery: DeliveryId,
        lease_token: uuid::Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        webhooks::finish_attempt(&self.db, delivery, lease_token, outcome, now).await
    }

    async fn pending_deliveries(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        webhooks::pending_deliveries(&self.db).await
    }

    async fn delete_finished_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        webhooks::delete_finished_deliveries(&self.db, before).await
    }

    async fn claim_drift_check(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<DriftCheck>, StoreError> {
        webhooks::claim_drift_check(&self.db, now, lease).await
    }

    async fn finish_drift_check(
        &self,
        check: &DriftCheck,
        event: Option<&EventBody>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        webhooks::finish_drift_check(&self.db, check, event, now).await
    }

    async fn find_statistics(&self, version: VersionId) -> Result<Option<DatasetStatistics>, StoreError> {
        datasets::find_statistics(&self.db, version).await
    }

    async fn save_statistics(
        &self,
        version: VersionId,
        statistics: &DatasetStatistics,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        datasets::save_statistics(&self.db, version, statistics, at).await
    }
}
