//! The metadata store: users, keys, projects, memberships, datasets and versions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

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

/// Persistent metadata.
///
/// Contract:
/// - Every method is atomic: it changes everything it names or nothing.
/// - `insert_version` gives the new version the next number of its dataset (0 for a new
///   dataset, then 1, 2, …): unique and contiguous even when several processes insert versions
///   of one dataset at the same time. It creates the dataset first when `new_dataset` is set.
/// - A dataset's `revision` is 0 with its first version and grows by one with each change:
///   a new version, an alias set, moved or removed. A change given an expected revision
///   (`if_revision`, from `If-Match`) happens only when the dataset is still at it, checked
///   and changed atomically; otherwise it fails with `Stale` and changes nothing.
/// - `delete_dataset` removes the dataset with every version, artifact row and alias (with
///   their history), and returns the storage keys of the artifacts that were recorded, for
///   the caller to delete.
/// - Webhook events are recorded with the change they describe, in its transaction: a new
///   version records `version.created` (and `dataset.created` for a new dataset, and
///   `contract.failed` when it failed its contract); `delete_dataset` records
///   `dataset.deleted`; `change_alias` records `alias.moved` when the alias changed. Each
///   event gets one pending delivery per webhook of the project that subscribes to it, due at
///   the change's time; nothing is recorded for an event no webhook wants.
/// - A delivery is held by at most one attempt at a time: `claim_deliveries` leases it, and
///   `finish_attempt` records the outcome only under that lease.
/// - Lookups of a missing id return `Ok(None)`, not an error.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Creates the schema or brings it up to date.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Answers when the database is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The oldest admin user, if any.
    async fn find_admin(&self) -> Result<Option<User>, StoreError>;
    /// Fails with `Conflict` when the hash is already recorded.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// The user holding the key whose SHA-256 (lower-case hex) is `key_hash`.
    async fn find_principal_by_key_hash(&self, key_hash: &str) -> Result<Option<Principal>, StoreError>;

    /// Records the project and, when given, its first member, together.
    async fn insert_project(&self, project: &Project, owner: Option<&Membership>) -> Result<(), StoreError>;
    async fn find_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;
    /// Projects ordered by creation time (oldest first); only those where `member` has a role
    /// when given, else all.
    async fn list_projects(&self, member: Option<UserId>) -> Result<Vec<Project>, StoreError>;
    async fn role_of(&self, user: UserId, project: ProjectId) -> Result<Option<Role>, StoreError>;
    /// Adds the member or changes their role.
    async fn upsert_membership(&self, membership: &Membership) -> Result<(), StoreError>;

    /// Returns the number given to the version.
    async fn insert_version(&self, version: &NewVersion) -> Result<i64, StoreError>;
    async fn find_dataset(&self, id: DatasetId) -> Result<Option<Dataset>, StoreError>;
    /// One page of the listing and the total number of matching datasets. `search` matches a
    /// substring of the name or the description in Unicode lower case, so case is ignored in
    /// every script while accents count (`école` finds `ÉCOLE`, `ecole` does not); the name
    /// order is that of the lower-case names by code point. Both are the same on every backend.
    async fn list_datasets(&self, query: &DatasetQuery) -> Result<(Vec<DatasetListItem>, u64), StoreError>;
    /// One page of a dataset's versions in version order, and their total number.
    async fn list_versions(&self, dataset: DatasetId, page: Page) -> Result<(Vec<VersionSummary>, u64), StoreError>;
    async fn find_version(&self, id: VersionId) -> Result<Option<Version>, StoreError>;
    async fn find_version_by_number(&self, dataset: DatasetId, number: i64) -> Result<Option<Version>, StoreError>;
    async fn delete_dataset(&self, id: DatasetId, if_revision: Option<i64>) -> Result<Vec<String>, StoreError>;

    /// Sets, moves or removes an alias (`change.target`), records the change in its history
    /// and bumps the dataset's revision, together. Setting an alias to the version it already
    /// names changes nothing. Returns the alias as it is now (`None` once removed); removing
    /// an alias that does not exist fails with `NotFound`, as does a missing dataset.
    async fn change_alias(&self, change: &AliasChange) -> Result<Option<Alias>, StoreError>;
    async fn find_alias(&self, dataset: DatasetId, name: &AliasName) -> Result<Option<Alias>, StoreError>;
    /// The dataset's aliases by name.
    async fn list_aliases(&self, dataset: DatasetId) -> Result<Vec<Alias>, StoreError>;
    /// Every change of the alias, oldest first (empty for an alias that never existed).
    async fn alias_history(&self, dataset: DatasetId, name: &AliasName) -> Result<Vec<AliasMove>, StoreError>;
    /// The dataset's contract; none when it has none.
    async fn find_contract(&self, dataset: DatasetId) -> Result<Option<StoredContract>, StoreError>;
    /// Sets the dataset's contract, replacing the one it had.
    async fn put_contract(&self, contract: &StoredContract) -> Result<(), StoreError>;
    /// Removes the dataset's contract; whether it had one. (Deleting a dataset removes its
    /// contract too.)
    async fn delete_contract(&self, dataset: DatasetId) -> Result<bool, StoreError>;
    /// Records the content hash of a version that has none (a version uploaded before content
    /// hashes were recorded), and then gives its dataset a new revision (the dataset's detail
    /// changed); a version that has one keeps it and nothing changes.
    async fn set_content_hash(&self, version: VersionId, content_hash: &str) -> Result<(), StoreError>;
    /// Up to `limit` versions that have no content hash yet, oldest first.
    async fn versions_without_content_hash(&self, limit: u64) -> Result<Vec<VersionId>, StoreError>;
    /// Which of `keys` are storage keys of recorded artifacts.
    async fn known_storage_keys(&self, keys: &[String]) -> Result<std::collections::HashSet<String>, StoreError>;

    /// Holds `claim.owner`'s key for the attempt `claim.token` when it is free: never used,
    /// expired (`expires_at` passed; it is forgotten first), or held by an attempt whose lease
    /// ran out. Otherwise says who holds it or returns the recorded answer. Atomic: of several
    /// attempts at once (on any number of processes), exactly one is `Claimed`.
    async fn claim_idempotency_key(&self, claim: &KeyClaim) -> Result<KeyState, StoreError>;
    /// Extends the hold of attempt `token` to `lease_until`; `false` when it no longer holds
    /// the key.
    async fn renew_idempotency_lease(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records the answer of attempt `token` for replay; `false` (and nothing recorded) when it
    /// no longer holds the key.
    async fn complete_idempotency_key(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        answer: &StoredAnswer,
    ) -> Result<bool, StoreError>;
    /// Forgets the key if attempt `token` holds it (its answer is not to be replayed).
    async fn release_idempotency_key(&self, owner: &KeyOwner, token: uuid::Uuid) -> Result<(), StoreError>;
    /// Forgets every key whose `expires_at` is before `now`; returns how many.
    async fn delete_expired_idempotency_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    async fn insert_experiment(&self, experiment: &Experiment) -> Result<(), StoreError>;
    async fn find_experiment(&self, id: ExperimentId) -> Result<Option<Experiment>, StoreError>;
    async fn insert_model(&self, model: &Model) -> Result<(), StoreError>;
    async fn find_model(&self, id: ModelId) -> Result<Option<Model>, StoreError>;
    async fn insert_deployment(&self, deployment: &Deployment) -> Result<(), StoreError>;
    /// Experiments matching the filter's projects and dataset, oldest first, with their
    /// model counts.
    async fn list_experiments(&self, filter: &LineageFilter) -> Result<Vec<ExperimentSummary>, StoreError>;
    /// Models matching the filter's projects and experiments, oldest first.
    async fn list_models(&self, filter: &LineageFilter) -> Result<Vec<Model>, StoreError>;
    /// Deployments matching the filter's projects and models, oldest first.
    async fn list_deployments(&self, filter: &LineageFilter) -> Result<Vec<Deployment>, StoreError>;

    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;
    /// A project's webhooks, oldest first.
    async fn list_webhooks(&self, project: ProjectId) -> Result<Vec<Webhook>, StoreError>;
    async fn find_webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError>;
    /// Deletes the webhook with its deliveries (a pending one is not attempted again);
    /// whether it existed. A delivery recorded by a change committing meanwhile is dropped
    /// when it is claimed.
    async fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError>;
    /// Replaces the webhook's secret; whether it exists.
    async fn set_webhook_secret(&self, id: WebhookId, secret: &Secret) -> Result<bool, StoreError>;
    /// A page of the webhook's deliveries, newest first, and their total.
    async fn list_deliveries(&self, webhook: WebhookId, page: Page) -> Result<(Vec<Delivery>, u64), StoreError>;
    /// Makes a delivery of the webhook pending again, due at `now` (attempts kept), unless an
    /// attempt holds its lease (a pending delivery with a lease token, not yet due).
    async fn redeliver(
        &self,
        webhook: WebhookId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Redelivered, StoreError>;
    /// Claims up to `limit` pending deliveries due at `now`, each for one attempt, leased until
    /// `now + lease` (counted as an attempt). A lease that runs out makes the delivery due
    /// again. Two callers never claim the same attempt.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records the outcome of the attempt holding `lease_token`; false (nothing recorded)
    /// when the delivery is no longer held by it.
    async fn finish_attempt(
        &self,
        delivery: DeliveryId,
        lease_token: uuid::Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// How many deliveries are pending, and when the oldest of them was created.
    async fn pending_deliveries(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError>;
    /// Forgets deliveries that ended (`delivered` or `failed`) before `before`, then events
    /// older than `before` that no delivery names; returns how many deliveries.
    async fn delete_finished_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Claims one due drift check (queued with a version after the first, in its transaction,
    /// when a webhook of the project wants `drift.detected`), leased until `now + lease`
    /// (counted as an attempt); a lease that runs out makes it due again.
    async fn claim_drift_check(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<DriftCheck>, StoreError>;
    /// Ends a claimed check: records `event` (if any) and removes the check together, while
    /// the check is still held by its lease; false (nothing done) when it is not.
    async fn finish_drift_check(
        &self,
        check: &DriftCheck,
        event: Option<&EventBody>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The statistics recorded for a version, if any.
    async fn find_statistics(&self, version: VersionId) -> Result<Option<DatasetStatistics>, StoreError>;
    /// Records a version's statistics once; a second save of the same version is a no-op.
    async fn save_statistics(
        &self,
        version: VersionId,
        statistics: &DatasetStatistics,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
