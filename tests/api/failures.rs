//! Failures injected through the ports: an upload whose artifact store or metadata store
//! fails leaves no dataset and no file; a failed file deletion leaves an orphan for the sweeper.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use datasets_api::adapters::http::routes;
use datasets_api::domain::access::{Principal, Role};
use datasets_api::domain::aliases::{Alias, AliasChange, AliasMove, AliasName};
use datasets_api::domain::contracts::StoredContract;
use datasets_api::domain::idempotency::{KeyClaim, KeyOwner, KeyState, StoredAnswer};
use datasets_api::domain::ids::{
    DatasetId, DeliveryId, ExperimentId, ModelId, ProjectId, UserId, VersionId, WebhookId,
};
use datasets_api::domain::lineage::{Deployment, Experiment, ExperimentSummary, LineageFilter, Model};
use datasets_api::domain::records::{
    ApiKeyRecord, Dataset, DatasetListItem, DatasetQuery, Membership, NewVersion, Page, Project, User, Version,
    VersionSummary,
};
use datasets_api::domain::statistics::DatasetStatistics;
use datasets_api::domain::webhooks::events::EventBody;
use datasets_api::domain::webhooks::records::{
    AttemptOutcome, ClaimedDelivery, Delivery, DriftCheck, Redelivered, Webhook,
};
use datasets_api::domain::webhooks::signature::Secret;
use datasets_api::ports::StoreError;
use datasets_api::ports::artifacts::{ArtifactStore, ByteStream};
use datasets_api::ports::metadata::MetadataStore;
use poem::EndpointExt;
use poem::test::TestClient;

use crate::helpers::{TestApp, files_under, spawn_app, uuid_of};

/// The real artifact store, failing writes of keys containing `fail_put` and deletes of keys
/// containing `fail_delete`; ranged reads of keys containing `vanish_read` find nothing, as
/// when a file is deleted after its size was read.
struct FailingArtifacts {
    inner: Arc<dyn ArtifactStore>,
    fail_put: &'static str,
    fail_delete: &'static str,
    vanish_read: &'static str,
}

#[async_trait]
impl ArtifactStore for FailingArtifacts {
    async fn put_file(&self, key: &str, source: &Path) -> Result<u64, StoreError> {
        if !self.fail_put.is_empty() && key.contains(self.fail_put) {
            return Err(StoreError::Unavailable("injected: the artifact store failed".into()));
        }
        self.inner.put_file(key, source).await
    }
    async fn size(&self, key: &str) -> Result<u64, StoreError> {
        self.inner.size(key).await
    }
    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        if !self.vanish_read.is_empty() && key.contains(self.vanish_read) {
            return Err(StoreError::NotFound);
        }
        self.inner.read_range(key, range).await
    }
    async fn read_stream(&self, key: &str) -> Result<ByteStream, StoreError> {
        self.inner.read_stream(key).await
    }
    async fn read_range_stream(&self, key: &str, range: Range<u64>) -> Result<ByteStream, StoreError> {
        if !self.vanish_read.is_empty() && key.contains(self.vanish_read) {
            return Err(StoreError::NotFound);
        }
        self.inner.read_range_stream(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !self.fail_delete.is_empty() && key.contains(self.fail_delete) {
            return Err(StoreError::Unavailable("injected: deleting failed".into()));
        }
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn modified_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.modified_at(key).await
    }
    async fn probe(&self) -> Result<(), StoreError> {
        self.inner.probe().await
    }
}

impl FailingArtifacts {
    /// The real store with nothing failing (set the fields to inject failures).
    fn over(inner: Arc<dyn ArtifactStore>) -> Self {
        Self { inner, fail_put: "", fail_delete: "", vanish_read: "" }
    }

    /// Puts this store under every port of `app` that reads artifacts (the store itself, and
    /// the table reader and exporter built on it, as at start-up).
    fn install(self, app: &mut datasets_api::app::App) {
        let store: Arc<dyn ArtifactStore> = Arc::new(self);
        let tables = Arc::new(datasets_api::adapters::formats::StoredTables::new(Arc::clone(&store)));
        app.artifacts = store;
        app.exporter = Arc::clone(&tables) as _;
        app.tables = tables;
    }
}

/// The real metadata store whose `insert_version` always fails.
struct FailingMetadata {
    inner: Arc<dyn MetadataStore>,
}

#[async_trait]
impl MetadataStore for FailingMetadata {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.inner.insert_user(user).await
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.find_user(id).await
    }

    async fn find_admin(&self) -> Result<Option<User>, StoreError> {
        self.inner.find_admin().await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.insert_api_key(key).await
    }

    async fn find_principal_by_key_hash(&self, key_hash: &str) -> Result<Option<Principal>, StoreError> {
        self.inner.find_principal_by_key_hash(key_hash).await
    }

    async fn insert_project(&self, project: &Project, owner: Option<&Membership>) -> Result<(), StoreError> {
        self.inner.insert_project(project, owner).await
    }

    async fn find_project(&self, id: ProjectId) -> Result<Option<Project>, StoreError> {
        self.inner.find_project(id).await
    }

    async fn list_projects(&self, member: Option<UserId>) -> Result<Vec<Project>, StoreError> {
        self.inner.list_projects(member).await
    }

    async fn role_of(&self, user: UserId, project: ProjectId) -> Result<Option<Role>, StoreError> {
        self.inner.role_of(user, project).await
    }

    async fn upsert_membership(&self, membership: &Membership) -> Result<(), StoreError> {
        self.inner.upsert_membership(membership).await
    }

    async fn insert_version(&self, _version: &NewVersion) -> Result<i64, StoreError> {
        Err(StoreError::other("injected: the metadata store failed"))
    }

    async fn find_dataset(&self, id: DatasetId) -> Result<Option<Dataset>, StoreError> {
        self.inner.find_dataset(id).await
    }

    async fn list_datasets(&self, query: &DatasetQuery) -> Result<(Vec<DatasetListItem>, u64), StoreError> {
        self.inner.list_datasets(query).await
    }

    async fn list_versions(&self, dataset: DatasetId, page: Page) -> Result<(Vec<VersionSummary>, u64), StoreError> {
        self.inner.list_versions(dataset, page).await
    }

    async fn find_version(&self, id: VersionId) -> Result<Option<Version>, StoreError> {
        self.inner.find_version(id).await
    }

    async fn find_version_by_number(&self, dataset: DatasetId, number: i64) -> Result<Option<Version>, StoreError> {
        self.inner.find_version_by_number(dataset, number).await
    }

    async fn delete_dataset(&self, id: DatasetId, if_revision: Option<i64>) -> Result<Vec<String>, StoreError> {
        self.inner.delete_dataset(id, if_revision).await
    }

    async fn set_content_hash(&self, version: VersionId, content_hash: &str) -> Result<(), StoreError> {
        self.inner.set_content_hash(version, content_hash).await
    }

    async fn versions_without_content_hash(&self, limit: u64) -> Result<Vec<VersionId>, StoreError> {
        self.inner.versions_without_content_hash(limit).await
    }

    async fn known_storage_keys(&self, keys: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
        self.inner.known_storage_keys(keys).await
    }

    async fn change_alias(&self, change: &AliasChange) -> Result<Option<Alias>, StoreError> {
        self.inner.change_alias(change).await
    }

    async fn find_contract(&self, dataset: DatasetId) -> Result<Option<StoredContract>, StoreError> {
        self.inner.find_contract(dataset).await
    }

    async fn put_contract(&self, contract: &StoredContract) -> Result<(), StoreError> {
        self.inner.put_contract(contract).await
    }

    async fn delete_contract(&self, dataset: DatasetId) -> Result<bool, StoreError> {
        self.inner.delete_contract(dataset).await
    }

    async fn find_alias(&self, dataset: DatasetId, name: &AliasName) -> Result<Option<Alias>, StoreError> {
        self.inner.find_alias(dataset, name).await
    }

    async fn list_aliases(&self, dataset: DatasetId) -> Result<Vec<Alias>, StoreError> {
        self.inner.list_aliases(dataset).await
    }

    async fn alias_history(&self, dataset: DatasetId, name: &AliasName) -> Result<Vec<AliasMove>, StoreError> {
        self.inner.alias_history(dataset, name).await
    }

    async fn claim_idempotency_key(&self, claim: &KeyClaim) -> Result<KeyState, StoreError> {
        self.inner.claim_idempotency_key(claim).await
    }

    async fn renew_idempotency_lease(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.renew_idempotency_lease(owner, token, lease_until).await
    }

    async fn complete_idempotency_key(
        &self,
        owner: &KeyOwner,
        token: uuid::Uuid,
        answer: &StoredAnswer,
    ) -> Result<bool, StoreError> {
        self.inner.complete_idempotency_key(owner, token, answer).await
    }

    async fn release_idempotency_key(&self, owner: &KeyOwner, token: uuid::Uuid) -> Result<(), StoreError> {
        self.inner.release_idempotency_key(owner, token).await
    }

    async fn delete_expired_idempotency_keys(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.delete_expired_idempotency_keys(now).await
    }

    async fn insert_experiment(&self, experiment: &Experiment) -> Result<(), StoreError> {
        self.inner.insert_experiment(experiment).await
    }

    async fn find_experiment(&self, id: ExperimentId) -> Result<Option<Experiment>, StoreError> {
        self.inner.find_experiment(id).await
    }

    async fn insert_model(&self, model: &Model) -> Result<(), StoreError> {
        self.inner.insert_model(model).await
    }

    async fn find_model(&self, id: ModelId) -> Result<Option<Model>, StoreError> {
        self.inner.find_model(id).await
    }

    async fn insert_deployment(&self, deployment: &Deployment) -> Result<(), StoreError> {
        self.inner.insert_deployment(deployment).await
    }

    async fn list_experiments(&self, filter: &LineageFilter) -> Result<Vec<ExperimentSummary>, StoreError> {
        self.inner.list_experiments(filter).await
    }

    async fn list_models(&self, filter: &LineageFilter) -> Result<Vec<Model>, StoreError> {
        self.inner.list_models(filter).await
    }

    async fn list_deployments(&self, filter: &LineageFilter) -> Result<Vec<Deployment>, StoreError> {
        self.inner.list_deployments(filter).await
    }

    async fn find_statistics(&self, version: VersionId) -> Result<Option<DatasetStatistics>, StoreError> {
        self.inner.find_statistics(version).await
    }

    async fn save_statistics(
        &self,
        version: VersionId,
        statistics: &DatasetStatistics,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.save_statistics(version, statistics, at).await
    }

    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError> {
        self.inner.insert_webhook(webhook).await
    }

    async fn list_webhooks(&self, project: ProjectId) -> Result<Vec<Webhook>, StoreError> {
        self.inner.list_webhooks(project).await
    }

    async fn find_webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        self.inner.find_webhook(id).await
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError> {
        self.inner.delete_webhook(id).await
    }

    async fn set_webhook_secret(&self, id: WebhookId, secret: &Secret) -> Result<bool, StoreError> {
        self.inner.set_webhook_secret(id, secret).await
    }

    async fn list_deliveries(&self, webhook: WebhookId, page: Page) -> Result<(Vec<Delivery>, u64), StoreError> {
        self.inner.list_deliveries(webhook, page).await
    }

    async fn redeliver(
        &self,
        webhook: WebhookId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Redelivered, StoreError> {
        self.inner.redeliver(webhook, delivery, now).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.inner.claim_deliveries(now, lease, limit).await
    }

    async fn finish_attempt(
        &self,
        delivery: DeliveryId,
        lease_token: uuid::Uuid,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.finish_attempt(delivery, lease_token, outcome, now).await
    }

    async fn pending_deliveries(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        self.inner.pending_deliveries().await
    }

    async fn delete_finished_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.delete_finished_deliveries(before).await
    }

    async fn claim_drift_check(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Option<DriftCheck>, StoreError> {
        self.inner.claim_drift_check(now, lease).await
    }

    async fn finish_drift_check(
        &self,
        check: &DriftCheck,
        event: Option<&EventBody>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.finish_drift_check(check, event, now).await
    }
}

/// A client over the same app with some ports replaced.
fn client_with(
    app: &TestApp,
    change: impl FnOnce(&mut datasets_api::app::App),
) -> TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>> {
    let mut changed = app.app.clone();
    change(&mut changed);
    TestClient::new(routes(changed).boxed())
}

async fn upload_through(
    app: &TestApp,
    client: &TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>,
    project: uuid::Uuid,
) -> u16 {
    let form = poem::test::TestForm::new()
        .text("project_id", project.to_string())
        .text("name", "Doomed")
        .field(poem::test::TestFormField::bytes(b"a,b\n1,2\n".to_vec()).name("file").filename("d.csv"));
    let resp = client
        .post("/api/datasets/upload")
        .header("Authorization", format!("Bearer {}", app.admin_key))
        .multipart(form)
        .send()
        .await;
    resp.0.status().as_u16()
}

async fn nothing_stored(app: &TestApp, project: uuid::Uuid) {
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
    assert!(app.stored_artifacts().await.is_empty(), "{:?}", app.stored_artifacts().await);
    assert!(files_under(&app.spool_dir()).is_empty());
}

#[tokio::test]
async fn an_artifact_store_failure_leaves_no_dataset_and_no_file() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let client = client_with(&app, |a| {
        FailingArtifacts { fail_put: "data.parquet", ..FailingArtifacts::over(Arc::clone(&a.artifacts)) }.install(a)
    });
    assert_eq!(upload_through(&app, &client, project).await, 503);
    nothing_stored(&app, project).await;
}

#[tokio::test]
async fn a_metadata_failure_leaves_no_dataset_and_no_file() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let client = client_with(&app, |a| a.metadata = Arc::new(FailingMetadata { inner: Arc::clone(&a.metadata) }));
    assert_eq!(upload_through(&app, &client, project).await, 500);
    nothing_stored(&app, project).await;
}

#[tokio::test]
async fn a_failed_file_deletion_leaves_an_orphan_that_the_sweeper_removes() {
    let app = spawn_app().await;
    let up = app.upload_ok("Stubborn", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let client = client_with(&app, |a| {
        FailingArtifacts { fail_delete: "data.parquet", ..FailingArtifacts::over(Arc::clone(&a.artifacts)) }.install(a)
    });
    let resp = client
        .delete(format!("/api/datasets/{id}"))
        .header("Authorization", format!("Bearer {}", app.admin_key))
        .send()
        .await;
    assert_eq!(resp.0.status().as_u16(), 200, "the dataset is gone even if a file could not be deleted");
    app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect_error(404, "not_found");
    assert_eq!(app.stored_artifacts().await.len(), 1, "the normalized file is left as an orphan");
    let swept = app.app.sweep_orphans(std::time::Duration::ZERO).await.unwrap();
    assert_eq!(swept.deleted, 1);
    assert!(app.stored_artifacts().await.is_empty());
}

#[tokio::test]
async fn a_file_deleted_after_its_size_was_read_answers_404_not_500() {
    let app = spawn_app().await;
    let up = app.upload_ok("Vanishing", b"a\n1\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let client = client_with(&app, |a| {
        FailingArtifacts { vanish_read: "data.parquet", ..FailingArtifacts::over(Arc::clone(&a.artifacts)) }.install(a)
    });
    for format in ["csv", "xlsx"] {
        let resp = client
            .get(format!("/api/datasets/{id}/download?format={format}"))
            .header("Authorization", format!("Bearer {}", app.admin_key))
            .send()
            .await;
        assert_eq!(resp.0.status().as_u16(), 404, "{format}");
    }
}
