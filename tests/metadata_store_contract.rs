//! The [`MetadataStore`] port's contract (see `src/ports/metadata.rs`), checked through
//! `Arc<dyn MetadataStore>` on the SeaORM adapter, without HTTP.
//!
//! Each test opens its own store: on SQLite (the default) a fresh temporary file, or the
//! database named by `TEST_DATABASE_URL`, shared by every test. The tests never assume an empty
//! table: every record has fresh ids (and fresh names where a listing filters by name), and
//! listings are checked only for the test's own rows. Migrations run one test at a time
//! (`MIGRATE_LOCK`). The one global fact, "the oldest admin", is checked by inserting admins
//! older than any already recorded (named `admin`, like the one the server bootstraps).
//!
//! Run:
//! - SQLite:     `cargo test --test metadata_store_contract`
//! - PostgreSQL: `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/datasets_api_ci
//!   cargo test --test metadata_store_contract`
//! - MariaDB:    `TEST_DATABASE_URL=mysql://root@127.0.0.1:3306/datasets_api_ci
//!   cargo test --test metadata_store_contract`
//!
//! `scripts/test-databases.sh` creates the database `datasets_api_ci` on PostgreSQL and MariaDB
//! and runs this suite (after the API suite) on each.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use datasets_api::adapters::sea_orm::{SeaOrmStore, is_transient};
use datasets_api::domain::access::{Principal, Role, key_hash};
use datasets_api::domain::aliases::{AliasChange, AliasName};
use datasets_api::domain::contracts::check::{Example, Violation};
use datasets_api::domain::contracts::{AllowedValue, ColumnDraft, ContractDraft, ContractResult, StoredContract};
use datasets_api::domain::dtype::{ColumnSchema, DType};
use datasets_api::domain::idempotency::{IdempotencyKey, KeyClaim, KeyOwner, KeyState, StoredAnswer};
use datasets_api::domain::ids::{ApiKeyId, ArtifactId, DatasetId, DeploymentId, ProjectId, VersionId, WebhookId};
use datasets_api::domain::inference::{Candidates, RejectedBy, TypeEvidence};
use datasets_api::domain::lineage::{Deployment, Experiment, ExperimentStatus, LineageFilter, Model};
use datasets_api::domain::preview::PreviewRow;
use datasets_api::domain::quality::{QualityCheck, QualityReport};
use datasets_api::domain::read_hints::ReadHints;
use datasets_api::domain::records::{
    ApiKeyRecord, Artifact, ArtifactKind, Dataset, DatasetQuery, DatasetSort, Membership, NewDataset, NewVersion, Page,
    Project, SortDirection, SourceFormat, User, artifact_key,
};
use datasets_api::domain::statistics::{
    ColumnStats, DatasetStatistics, Histogram, NumericStats, Percentiles, Scalar, TemporalStats, TimeHistogram,
};
use datasets_api::domain::webhooks::EventType;
use datasets_api::domain::webhooks::events::{self, Subject, VersionFacts};
use datasets_api::domain::webhooks::records::{
    AttemptOutcome, ClaimedDelivery, DeliveryStatus, DriftCheck as DriftCheckRecord, Redelivered, Webhook,
};
use datasets_api::domain::webhooks::signature::Secret;
use datasets_api::ports::StoreError;
use datasets_api::ports::metadata::MetadataStore;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    IsolationLevel, TransactionTrait,
};
use uuid::Uuid;

/// Migrations of a shared test database run one test at a time.
static MIGRATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A migrated store, and the folder of its SQLite file (kept until the test ends).
struct TestDb {
    store: Arc<dyn MetadataStore>,
    url: String,
    _dir: tempfile::TempDir,
}

fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display()),
    }
}

async fn connect(url: &str) -> Arc<dyn MetadataStore> {
    let store = SeaOrmStore::connect(url).await.unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    Arc::new(store)
}

async fn migrate(store: &dyn MetadataStore) -> Result<(), StoreError> {
    let _guard = MIGRATE_LOCK.lock().await;
    store.migrate().await
}

async fn open() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(dir.path());
    let store = connect(&url).await;
    migrate(store.as_ref()).await.unwrap_or_else(|e| panic!("migrating {url}: {e}"));
    TestDb { store, url, _dir: dir }
}

fn new_id<T: From<Uuid>>() -> T {
    Uuid::new_v4().into()
}

/// A unique token for names and descriptions.
fn token() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Now, to the microsecond (what every backend keeps).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

fn user_record(name: &str, is_admin: bool, created_at: DateTime<Utc>) -> User {
    User {
        id: new_id(),
        name: name.to_string(),
        email: Some(format!("{}@example.test", token())),
        is_admin,
        created_at,
    }
}

async fn a_user(store: &dyn MetadataStore, name: &str) -> User {
    let user = user_record(name, false, now());
    store.insert_user(&user).await.unwrap();
    user
}

fn project_record(name: &str, created_at: DateTime<Utc>) -> Project {
    Project { id: new_id(), name: name.to_string(), description: Some(format!("about {name}")), created_at }
}

fn membership(project: &Project, user: &User, role: Role) -> Membership {
    Membership { project_id: project.id, user_id: user.id, role, created_at: now() }
}

/// A project with `owner` as its owner.
async fn a_project(store: &dyn MetadataStore, owner: &User, name: &str, created_at: DateTime<Utc>) -> Project {
    let project = project_record(name, created_at);
    store.insert_project(&project, Some(&membership(&project, owner, Role::Owner))).await.unwrap();
    project
}

fn artifact(dataset: DatasetId, version: VersionId, kind: ArtifactKind, size: u64, at: DateTime<Utc>) -> Artifact {
    Artifact {
        id: new_id::<ArtifactId>(),
        kind,
        storage_key: artifact_key(dataset, version, kind, SourceFormat::CSV),
        size_bytes: size,
        sha256: format!("{:0>64}", format!("{:x}", size)),
        created_at: at,
    }
}

/// A version of `dataset` with `columns` columns and `rows` rows, creating the dataset when
/// `new_dataset` is given.
fn version_record(
    dataset: DatasetId,
    new_dataset: Option<NewDataset>,
    created_by: &User,
    rows: u64,
    columns: usize,
    at: DateTime<Utc>,
) -> NewVersion {
    let version_id: VersionId = new_id();
    let columns: Vec<ColumnSchema> = (0..columns)
        .map(|i| ColumnSchema {
            name: format!("col_{i}"),
            dtype: [DType::Int64, DType::Object, DType::Float64, DType::Bool, DType::Datetime64, DType::Category]
                [i % 6],
        })
        .collect();
    // Keys deliberately out of alphabetical order: the preview keeps the columns' order.
    let mut row = PreviewRow::new();
    row.insert("zeta".into(), serde_json::json!(1));
    row.insert("alpha".into(), serde_json::json!("ä \"quoted\""));
    row.insert("mid".into(), serde_json::Value::Null);
    NewVersion {
        new_dataset,
        dataset_id: dataset,
        version_id,
        description: Some(format!("version made at {at}")),
        created_by: created_by.id,
        created_at: at,
        source_format: SourceFormat::CSV,
        row_count: rows,
        columns,
        quality: QualityReport {
            overall_score: 87.5,
            checks: vec![
                QualityCheck { name: "missing_values".into(), passed: true, details: "none".into() },
                QualityCheck { name: "duplicate_rows".into(), passed: false, details: "3 of 10".into() },
            ],
            duplicate_rows: Some(3),
        },
        preview: vec![row.clone(), row],
        original_file_name: Some(format!("données {rows}.csv")),
        content_hash: format!("sha256:{:064x}", rows),
        original: artifact(dataset, version_id, ArtifactKind::Original, rows * 10 + 1, at),
        normalized: artifact(dataset, version_id, ArtifactKind::Normalized, rows * 10 + 2, at),
        if_revision: None,
        contract: None,
        read_hints: ReadHints::default(),
        type_evidence: Vec::new(),
    }
}

fn new_dataset(project: &Project, name: &str, description: Option<String>) -> Option<NewDataset> {
    Some(NewDataset { project_id: project.id, name: name.to_string(), description })
}

/// A new dataset (version 0) in `project`; returns its id and the recorded version.
async fn a_dataset(store: &dyn MetadataStore, project: &Project, user: &User) -> (DatasetId, NewVersion) {
    let dataset: DatasetId = new_id();
    let v = version_record(dataset, new_dataset(project, &format!("ds-{}", token()), None), user, 5, 2, now());
    assert_eq!(store.insert_version(&v).await.unwrap(), 0);
    (dataset, v)
}

fn keys_of(v: &NewVersion) -> [String; 2] {
    [v.original.storage_key.clone(), v.normalized.storage_key.clone()]
}

/// The ids of `items` that are among `mine`, in the listing's order.
fn only<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>, mine: &[T]) -> Vec<T> {
    items.into_iter().filter(|i| mine.contains(i)).collect()
}

fn statistics(seed: f64) -> DatasetStatistics {
    DatasetStatistics {
        columns: vec![
            ColumnStats {
                name: "amount".into(),
                dtype: DType::Float64,
                unique: 7,
                missing: 1,
                missing_percent: 1.0 / 3.0,
                numeric: Some(NumericStats {
                    min: Some(Scalar::Float(-0.1 * seed)),
                    max: Some(Scalar::Int(i64::MAX)),
                    mean: Some(seed / 7.0),
                    std: None,
                    percentiles: Some(Percentiles { p25: 0.1, p50: 0.2 + seed, p75: 1e-300 }),
                    skewness: Some(-1.234_567_890_123_456_7),
                    kurtosis: None,
                    iqr: Some(2.5),
                    outlier_count: Some(2),
                    histogram: Some(Histogram { counts: vec![1, 0, 3], bin_edges: vec![0.0, 0.5, 1.0, 1.5] }),
                    infinite_count: 1,
                }),
                top_values: None,
                temporal: None,
            },
            ColumnStats {
                name: "när".into(),
                dtype: DType::Category,
                unique: 2,
                missing: 0,
                missing_percent: 0.0,
                numeric: None,
                top_values: Some(vec![("b".into(), 3), ("a \"z\" \\ \u{1F600}".into(), 3)]),
                temporal: None,
            },
            ColumnStats {
                name: "when".into(),
                dtype: DType::Datetime64,
                unique: 3,
                missing: 0,
                missing_percent: 0.0,
                numeric: None,
                top_values: None,
                temporal: Some(TemporalStats {
                    min: "2024-01-01T00:00:00Z".into(),
                    max: "2024-12-31T23:59:59.999999Z".into(),
                    histogram: TimeHistogram {
                        counts: vec![2, 1],
                        bin_edges: vec!["a".into(), "b".into(), "c".into()],
                    },
                }),
            },
        ],
        row_count: 3,
        duplicate_rows: 0,
        memory_usage: 0.000_123,
        correlations: vec![("amount".into(), vec![("amount".into(), Some(1.0)), ("other".into(), None)])],
        error: Some(format!("seed {seed}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Schema and connection

#[tokio::test]
async fn migrate_is_idempotent_and_the_schema_works_after_running_it_twice_more() {
    let db = open().await;
    migrate(db.store.as_ref()).await.expect("a second migration succeeds");
    migrate(db.store.as_ref()).await.expect("a third migration succeeds");
    let user = a_user(db.store.as_ref(), "after-migrations").await;
    assert_eq!(db.store.find_user(user.id).await.unwrap(), Some(user));
}

#[tokio::test]
async fn a_second_connection_migrates_an_already_migrated_database() {
    let db = open().await;
    let other = connect(&db.url).await;
    migrate(other.as_ref()).await.expect("migrating again from a new connection succeeds");
}

#[tokio::test]
async fn ping_answers_when_the_database_is_reachable() {
    let db = open().await;
    db.store.ping().await.expect("ping answers");
}

// ---------------------------------------------------------------------------------------------
// Users and API keys

#[tokio::test]
async fn an_inserted_user_is_found_by_id_with_every_field() {
    let db = open().await;
    let mut user = user_record("Ada Lövelace", false, now());
    user.email = None;
    db.store.insert_user(&user).await.unwrap();
    assert_eq!(db.store.find_user(user.id).await.unwrap(), Some(user.clone()));
    let other = user_record("Grace", true, now() - Duration::microseconds(1));
    db.store.insert_user(&other).await.unwrap();
    assert_eq!(db.store.find_user(other.id).await.unwrap(), Some(other));
}

#[tokio::test]
async fn an_api_key_hash_finds_the_principal_of_its_user() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "key-holder").await;
    let hash = key_hash(&format!("key-{}", Uuid::new_v4()));
    let record = ApiKeyRecord { id: new_id::<ApiKeyId>(), user_id: user.id, key_hash: hash.clone(), created_at: now() };
    db.store.insert_api_key(&record).await.unwrap();
    assert_eq!(
        db.store.find_principal_by_key_hash(&hash).await.unwrap(),
        Some(Principal { user_id: user.id, name: "key-holder".into(), is_admin: false })
    );
    // A second key of the same user finds the same principal.
    let second = key_hash(&format!("key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: user.id, key_hash: second.clone(), created_at: now() })
        .await
        .unwrap();
    assert_eq!(db.store.find_principal_by_key_hash(&second).await.unwrap().map(|p| p.user_id), Some(user.id));
}

#[tokio::test]
async fn an_admin_key_gives_an_admin_principal() {
    let db = open().await;
    // Not older than the existing admins: this test does not change which admin is oldest.
    let admin = user_record("admin", true, now());
    db.store.insert_user(&admin).await.unwrap();
    let hash = key_hash(&format!("admin-key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: admin.id, key_hash: hash.clone(), created_at: now() })
        .await
        .unwrap();
    let principal = db.store.find_principal_by_key_hash(&hash).await.unwrap().expect("the admin's principal");
    assert!(principal.is_admin);
    assert_eq!(principal.user_id, admin.id);
}

#[tokio::test]
async fn a_duplicate_key_hash_is_a_conflict_and_the_first_key_keeps_its_user() {
    let db = open().await;
    let first = a_user(db.store.as_ref(), "first").await;
    let second = a_user(db.store.as_ref(), "second").await;
    let hash = key_hash(&format!("key-{}", Uuid::new_v4()));
    db.store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: first.id, key_hash: hash.clone(), created_at: now() })
        .await
        .unwrap();
    let again = db
        .store
        .insert_api_key(&ApiKeyRecord { id: new_id(), user_id: second.id, key_hash: hash.clone(), created_at: now() })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "expected a conflict, got {again:?}");
    assert_eq!(db.store.find_principal_by_key_hash(&hash).await.unwrap().map(|p| p.user_id), Some(first.id));
}

#[tokio::test]
async fn an_unknown_key_hash_finds_no_principal() {
    let db = open().await;
    let unknown = key_hash(&format!("never-stored-{}", Uuid::new_v4()));
    assert_eq!(db.store.find_principal_by_key_hash(&unknown).await.unwrap(), None);
}

#[tokio::test]
async fn find_admin_returns_the_oldest_admin_and_ignores_older_non_admins() {
    let db = open().await;
    // Older than every admin already recorded (a shared database may hold some).
    let oldest_so_far = db.store.find_admin().await.unwrap().map(|a| a.created_at).unwrap_or_else(now);
    let base = DateTime::from_timestamp_micros((oldest_so_far - Duration::days(1)).timestamp_micros()).unwrap();
    let newer = user_record("admin", true, base);
    let older = user_record("admin", true, base - Duration::milliseconds(1500));
    let non_admin_older_still = user_record("not-admin", false, base - Duration::days(1));
    // Inserted newest first, so that insertion order cannot pass for age order.
    db.store.insert_user(&newer).await.unwrap();
    db.store.insert_user(&older).await.unwrap();
    db.store.insert_user(&non_admin_older_still).await.unwrap();
    let found = db.store.find_admin().await.unwrap().expect("an admin");
    if found.id == older.id {
        assert_eq!(found, older);
    } else {
        // Only another process inserting an even older admin meanwhile may explain this.
        assert!(found.is_admin && found.created_at < older.created_at, "{found:?} is not the oldest admin ({older:?})");
    }
}

// ---------------------------------------------------------------------------------------------
// Projects and memberships

#[tokio::test]
async fn an_inserted_project_is_found_and_its_owner_has_the_owner_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let stranger = a_user(db.store.as_ref(), "stranger").await;
    let project = a_project(db.store.as_ref(), &owner, &format!("p-{}", token()), now()).await;
    assert_eq!(db.store.find_project(project.id).await.unwrap(), Some(project.clone()));
    assert_eq!(db.store.role_of(owner.id, project.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(db.store.role_of(stranger.id, project.id).await.unwrap(), None);
}

#[tokio::test]
async fn a_project_inserted_without_an_owner_has_no_members() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "someone").await;
    let mut project = project_record(&format!("p-{}", token()), now());
    project.description = None;
    db.store.insert_project(&project, None).await.unwrap();
    assert_eq!(db.store.find_project(project.id).await.unwrap(), Some(project.clone()));
    assert_eq!(db.store.role_of(user.id, project.id).await.unwrap(), None);
    assert!(db.store.list_projects(Some(user.id)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_project_whose_owner_cannot_be_recorded_is_not_recorded_either() {
    let db = open().await;
    let project = project_record(&format!("p-{}", token()), now());
    let ghost = user_record("never inserted", false, now());
    let result = db.store.insert_project(&project, Some(&membership(&project, &ghost, Role::Owner))).await;
    assert!(result.is_err(), "a membership of a missing user was recorded: {result:?}");
    assert_eq!(db.store.find_project(project.id).await.unwrap(), None, "insert_project is not atomic");
}

#[tokio::test]
async fn list_projects_is_ordered_oldest_first() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let t = now();
    // Inserted in an order that is neither age order nor its reverse.
    let middle = a_project(db.store.as_ref(), &owner, "b-middle", t + Duration::milliseconds(1)).await;
    let newest = a_project(db.store.as_ref(), &owner, "a-newest", t + Duration::seconds(2)).await;
    let oldest = a_project(db.store.as_ref(), &owner, "c-oldest", t).await;
    let mine = [oldest.id, middle.id, newest.id];
    let all = db.store.list_projects(None).await.unwrap();
    assert_eq!(only(all.iter().map(|p| p.id), &mine), mine.to_vec());
    assert_eq!(db.store.list_projects(Some(owner.id)).await.unwrap(), vec![oldest, middle, newest]);
}

#[tokio::test]
async fn list_projects_of_a_member_holds_exactly_the_projects_where_they_have_a_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let member = a_user(db.store.as_ref(), "member").await;
    let t = now();
    let p0 = a_project(db.store.as_ref(), &owner, "p0", t).await;
    let p1 = a_project(db.store.as_ref(), &owner, "p1", t + Duration::seconds(1)).await;
    let p2 = a_project(db.store.as_ref(), &member, "p2", t + Duration::seconds(2)).await;
    db.store.upsert_membership(&membership(&p0, &member, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.list_projects(Some(member.id)).await.unwrap(), vec![p0.clone(), p2.clone()]);
    assert_eq!(db.store.list_projects(Some(owner.id)).await.unwrap(), vec![p0.clone(), p1.clone()]);
    let all = db.store.list_projects(None).await.unwrap();
    assert_eq!(only(all.iter().map(|p| p.id), &[p0.id, p1.id, p2.id]), vec![p0.id, p1.id, p2.id]);
}

#[tokio::test]
async fn upsert_membership_adds_a_member_and_then_changes_their_role() {
    let db = open().await;
    let owner = a_user(db.store.as_ref(), "owner").await;
    let member = a_user(db.store.as_ref(), "member").await;
    let project = a_project(db.store.as_ref(), &owner, "shared", now()).await;
    let other = a_project(db.store.as_ref(), &owner, "other", now()).await;
    db.store.upsert_membership(&membership(&project, &member, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Viewer));
    db.store.upsert_membership(&membership(&project, &member, Role::Editor)).await.unwrap();
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Editor));
    db.store.upsert_membership(&membership(&project, &owner, Role::Viewer)).await.unwrap();
    assert_eq!(db.store.role_of(owner.id, project.id).await.unwrap(), Some(Role::Viewer));
    // Nothing else changed.
    assert_eq!(db.store.role_of(member.id, project.id).await.unwrap(), Some(Role::Editor));
    assert_eq!(db.store.role_of(owner.id, other.id).await.unwrap(), Some(Role::Owner));
    assert_eq!(db.store.role_of(member.id, other.id).await.unwrap(), None);
    assert_eq!(
        db.store.list_projects(Some(member.id)).await.unwrap().into_iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![project.id]
    );
}

// ---------------------------------------------------------------------------------------------
// Datasets and versions

#[tokio::test]
async fn versions_of_a_dataset_are_numbered_0_then_1_then_2() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let t = now();
    let v0 = version_record(dataset, new_dataset(&project, "numbers", Some("d".into())), &user, 5, 2, t);
    let v1 = version_record(dataset, None, &user, 6, 3, t + Duration::seconds(1));
    let v2 = version_record(dataset, None, &user, 7, 4, t + Duration::seconds(2));
    assert_eq!(db.store.insert_version(&v0).await.unwrap(), 0);
    assert_eq!(db.store.insert_version(&v1).await.unwrap(), 1);
    assert_eq!(db.store.insert_version(&v2).await.unwrap(), 2);
    // Another dataset starts at 0 again.
    let (_, other) = a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(db.store.find_version(other.version_id).await.unwrap().unwrap().summary.version, 0);
    let (items, total) = db.store.list_versions(dataset, Page { limit: 100, offset: 0 }).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        items.iter().map(|v| (v.version, v.id)).collect::<Vec<_>>(),
        vec![(0, v0.version_id), (1, v1.version_id), (2, v2.version_id)]
    );
}

#[tokio::test]
async fn the_dataset_records_its_creation_and_follows_its_latest_version() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let t = now();
    let v0 = version_record(dataset, new_dataset(&project, "Sales 2024", Some("monthly".into())), &user, 5, 2, t);
    db.store.insert_version(&v0).await.unwrap();
    let expected = Dataset {
        id: dataset,
        project_id: project.id,
        name: "Sales 2024".into(),
        description: Some("monthly".into()),
        created_at: t,
        latest_version_id: v0.version_id,
        latest_version: 0,
        rows: 5,
        columns: 2,
        revision: 0,
    };
    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), Some(expected.clone()));
    let v1 = version_record(dataset, None, &user, 11, 4, t + Duration::seconds(5));
    db.store.insert_version(&v1).await.unwrap();
    assert_eq!(
        db.store.find_dataset(dataset).await.unwrap(),
        Some(Dataset {
            latest_version_id: v1.version_id,
            latest_version: 1,
            rows: 11,
            columns: 4,
            revision: 1,
            ..expected
        })
    );
}

#[tokio::test]
async fn a_change_given_a_stale_revision_fails_and_changes_nothing() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut stale = version_record(dataset, None, &user, 3, 1, now());
    stale.if_revision = Some(5);
    assert!(matches!(db.store.insert_version(&stale).await, Err(StoreError::Stale { expected: 5 })));
    let mut current = version_record(dataset, None, &user, 3, 1, now());
    current.if_revision = Some(0);
    assert_eq!(db.store.insert_version(&current).await.unwrap(), 1);
    let found = db.store.find_dataset(dataset).await.unwrap().unwrap();
    assert_eq!((found.latest_version, found.revision), (1, 1));
    assert!(matches!(db.store.delete_dataset(dataset, Some(0)).await, Err(StoreError::Stale { .. })));
    assert!(db.store.find_dataset(dataset).await.unwrap().is_some(), "not deleted");
    assert_eq!(db.store.delete_dataset(dataset, Some(1)).await.unwrap().len(), 4);
}

fn alias(name: &str) -> AliasName {
    AliasName::parse(name).unwrap()
}

#[tokio::test]
async fn aliases_move_with_their_history_and_each_change_bumps_the_revision() {
    let db = open().await;
    let (alice, bob) = (a_user(db.store.as_ref(), "alice").await, a_user(db.store.as_ref(), "bob").await);
    let project = a_project(db.store.as_ref(), &alice, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &alice).await;
    let v1 = version_record(dataset, None, &alice, 3, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let change = |target: Option<(VersionId, i64)>, by: &User, if_revision: Option<i64>| AliasChange {
        dataset_id: dataset,
        name: alias("production"),
        target,
        by: by.id,
        at: now(),
        if_revision,
    };
    let set = db.store.change_alias(&change(Some((v0.version_id, 0)), &alice, Some(1))).await.unwrap().unwrap();
    assert_eq!((set.version, set.version_id, set.updated_by_name.as_str()), (0, v0.version_id, "alice"));
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 2);
    let same = db.store.change_alias(&change(Some((v0.version_id, 0)), &bob, None)).await.unwrap().unwrap();
    assert_eq!(same.updated_by_name, "alice", "setting it where it is changes nothing");
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 2);
    assert!(matches!(
        db.store.change_alias(&change(Some((v1.version_id, 1)), &bob, Some(1))).await,
        Err(StoreError::Stale { .. })
    ));
    let moved = db.store.change_alias(&change(Some((v1.version_id, 1)), &bob, Some(2))).await.unwrap().unwrap();
    assert_eq!((moved.version, moved.updated_by_name.as_str()), (1, "bob"));
    assert_eq!(db.store.find_alias(dataset, &alias("production")).await.unwrap(), Some(moved.clone()));
    let staging = AliasChange { name: alias("staging"), ..change(Some((v0.version_id, 0)), &alice, None) };
    db.store.change_alias(&staging).await.unwrap();
    let listed = db.store.list_aliases(dataset).await.unwrap();
    assert_eq!(listed.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["production", "staging"]);
    assert_eq!(db.store.change_alias(&change(None, &alice, None)).await.unwrap(), None);
    assert!(matches!(db.store.change_alias(&change(None, &alice, None)).await, Err(StoreError::NotFound)));
    assert_eq!(db.store.find_alias(dataset, &alias("production")).await.unwrap(), None);

    let history = db.store.alias_history(dataset, &alias("production")).await.unwrap();
    let moves: Vec<_> = history.iter().map(|m| (m.from_version, m.to_version, m.moved_by_name.as_str())).collect();
    assert_eq!(moves, [(None, Some(0), "alice"), (Some(0), Some(1), "bob"), (Some(1), None, "alice")]);
    assert_eq!(history[1].to_version_id, Some(v1.version_id));
    assert_eq!(db.store.find_dataset(dataset).await.unwrap().unwrap().revision, 5);
    assert_eq!(db.store.alias_history(dataset, &alias("never")).await.unwrap(), []);

    db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(db.store.list_aliases(dataset).await.unwrap(), []);
    assert_eq!(db.store.alias_history(dataset, &alias("production")).await.unwrap(), []);
    let gone = AliasChange { name: alias("again"), ..change(Some((v0.version_id, 0)), &alice, None) };
    assert!(matches!(db.store.change_alias(&gone).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn find_version_and_find_version_by_number_return_everything_recorded() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "Uploader Name").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut v1 = version_record(dataset, None, &user, 42, 6, now() + Duration::milliseconds(3));
    v1.description = None;
    v1.source_format = SourceFormat::PARQUET;
    v1.original.storage_key = artifact_key(dataset, v1.version_id, ArtifactKind::Original, SourceFormat::PARQUET);
    db.store.insert_version(&v1).await.unwrap();
    for (number, v) in [(0, &v0), (1, &v1)] {
        let found = db.store.find_version(v.version_id).await.unwrap().expect("the version");
        assert_eq!(found.summary.id, v.version_id);
        assert_eq!(found.summary.dataset_id, dataset);
        assert_eq!(found.summary.version, number);
        assert_eq!(found.summary.row_count, v.row_count);
        assert_eq!(found.summary.column_count, v.columns.len() as u64);
        assert_eq!(found.summary.description, v.description);
        assert_eq!(found.summary.created_by, user.id);
        assert_eq!(found.summary.created_by_name, "Uploader Name");
        assert_eq!(found.summary.created_at, v.created_at);
        assert_eq!(found.source_format, v.source_format);
        assert_eq!(found.columns, v.columns);
        assert_eq!(found.quality, v.quality);
        // Compared as maps here (key order is checked by `preview_rows_keep_their_column_order`).
        assert_eq!(found.preview, v.preview);
        assert_eq!(found.original_file_name, v.original_file_name);
        assert_eq!(found.summary.content_hash.as_deref(), Some(v.content_hash.as_str()));
        assert_eq!(found.summary.sha256.as_deref(), Some(v.original.sha256.as_str()));
        assert_eq!(found.original, v.original);
        assert_eq!(found.normalized, v.normalized);
        assert_eq!(db.store.find_version_by_number(dataset, number).await.unwrap(), Some(found));
    }
}

#[tokio::test]
async fn preview_rows_keep_their_column_order() {
    // A preview row is an ordered map (serde_json's `preserve_order`): its keys are the
    // columns in table order, and the API shows them in that order.
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let recorded: Vec<&String> = v0.preview[0].keys().collect();
    assert_eq!(recorded, ["zeta", "alpha", "mid"]);
    let found = db.store.find_version(v0.version_id).await.unwrap().expect("the version");
    for row in &found.preview {
        assert_eq!(row.keys().collect::<Vec<_>>(), recorded, "the preview's columns came back in another order");
    }
}

#[tokio::test]
async fn text_holding_a_nul_character_is_recorded_and_read_back() {
    // NUL is a valid character of a string (a Parquet upload may hold one in any text cell):
    // a version's preview and a version's statistics must store it like any other.
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let mut v0 = version_record(dataset, new_dataset(&project, "nul", None), &user, 1, 1, now());
    v0.preview[0].insert("alpha".into(), serde_json::json!("a\u{0}b"));
    let inserted = db.store.insert_version(&v0).await;
    assert_eq!(inserted.expect("a preview cell holding NUL could not be recorded"), 0);
    let found = db.store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.preview, v0.preview);

    let mut stats = statistics(1.0);
    stats.columns[1].top_values = Some(vec![("a\u{0}z".into(), 3)]);
    let saved = db.store.save_statistics(v0.version_id, &stats, now()).await;
    saved.expect("statistics holding NUL could not be recorded");
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(stats));
}

#[tokio::test]
async fn list_versions_pages_in_version_order_with_the_total_and_creator_names() {
    let db = open().await;
    let alice = a_user(db.store.as_ref(), "alice").await;
    let bob = a_user(db.store.as_ref(), "bob").await;
    let project = a_project(db.store.as_ref(), &alice, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &alice).await;
    let mut ids = vec![v0.version_id];
    // Created-at times deliberately decreasing: the order is the version number's.
    for n in 1..5u64 {
        let by = if n % 2 == 1 { &bob } else { &alice };
        let v = version_record(dataset, None, by, n * 100, 1, now() - Duration::seconds(n as i64));
        assert_eq!(db.store.insert_version(&v).await.unwrap(), n as i64);
        ids.push(v.version_id);
    }
    let page = |limit, offset| db.store.list_versions(dataset, Page { limit, offset });
    let (first, total) = page(2, 0).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(first.iter().map(|v| v.version).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(first.iter().map(|v| v.created_by_name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
    let (second, total) = page(2, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(second.iter().map(|v| (v.version, v.id)).collect::<Vec<_>>(), [(2, ids[2]), (3, ids[3])]);
    assert_eq!(second[1].row_count, 300);
    assert_eq!(second[1].created_by, bob.id);
    let (last, total) = page(2, 4).await.unwrap();
    assert_eq!((last.iter().map(|v| v.version).collect::<Vec<_>>(), total), (vec![4], 5));
    let (beyond, total) = page(10, 5).await.unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 5);
    let (all, _) = page(100, 0).await.unwrap();
    assert_eq!(all.iter().map(|v| v.id).collect::<Vec<_>>(), ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn sixteen_concurrent_inserts_into_one_dataset_get_the_next_sixteen_numbers_each_once() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    concurrent_inserts(&[db.store.clone()], dataset, &user, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_inserts_through_two_separate_connections_get_unique_contiguous_numbers() {
    // Two stores, two connection pools: what two server processes would do.
    let db = open().await;
    let second = connect(&db.url).await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, _) = a_dataset(db.store.as_ref(), &project, &user).await;
    concurrent_inserts(&[db.store.clone(), second], dataset, &user, 16).await;
}

/// Inserts `count` versions of `dataset` (which has version 0 only) at once, spread over
/// `stores`, and checks they got 1..=count, each once, and that the dataset agrees.
async fn concurrent_inserts(stores: &[Arc<dyn MetadataStore>], dataset: DatasetId, user: &User, count: usize) {
    let barrier = Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for i in 0..count {
        let store = stores[i % stores.len()].clone();
        let v = version_record(dataset, None, user, i as u64 + 1, 1, now());
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let number = store.insert_version(&v).await;
            (v.version_id, number)
        }));
    }
    let mut numbers = Vec::new();
    let mut by_id = std::collections::HashMap::new();
    for task in tasks {
        let (id, number) = task.await.unwrap();
        let number = number.unwrap_or_else(|e| panic!("a concurrent insert failed: {e}"));
        numbers.push(number);
        by_id.insert(id, number);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=count as i64).collect::<Vec<_>>(), "numbers not unique and contiguous");
    let store = &stores[0];
    let (listed, total) = store.list_versions(dataset, Page { limit: 1000, offset: 0 }).await.unwrap();
    assert_eq!(total, count as u64 + 1);
    assert_eq!(listed.iter().map(|v| v.version).collect::<Vec<_>>(), (0..=count as i64).collect::<Vec<_>>());
    for v in listed.iter().skip(1) {
        assert_eq!(by_id.get(&v.id), Some(&v.version), "the stored number differs from the returned one");
    }
    let found = store.find_dataset(dataset).await.unwrap().unwrap();
    assert_eq!(found.latest_version, count as i64);
    let latest = listed.last().unwrap();
    assert_eq!(found.latest_version_id, latest.id, "the dataset's latest version id is not its newest version");
    assert_eq!(found.rows, latest.row_count, "the dataset's row count is not its newest version's");
}

#[tokio::test]
async fn a_version_that_cannot_be_recorded_changes_nothing() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let before = db.store.find_dataset(dataset).await.unwrap();

    // A next version whose artifact key is already recorded (storage keys are unique).
    let mut clash = version_record(dataset, None, &user, 99, 9, now());
    clash.normalized.storage_key = v0.normalized.storage_key.clone();
    let result = db.store.insert_version(&clash).await;
    assert!(result.is_err(), "a duplicate storage key was recorded: {result:?}");
    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), before, "the dataset changed");
    assert_eq!(db.store.find_version(clash.version_id).await.unwrap(), None);
    assert_eq!(db.store.list_versions(dataset, Page { limit: 10, offset: 0 }).await.unwrap().1, 1);
    assert!(db.store.known_storage_keys(&keys_of(&clash)[..1]).await.unwrap().is_empty());

    // A new dataset whose first version cannot be recorded is not created.
    let fresh: DatasetId = new_id();
    let mut clash = version_record(fresh, new_dataset(&project, "never", None), &user, 1, 1, now());
    clash.original.storage_key = v0.original.storage_key.clone();
    let result = db.store.insert_version(&clash).await;
    assert!(result.is_err(), "a duplicate storage key was recorded: {result:?}");
    assert_eq!(db.store.find_dataset(fresh).await.unwrap(), None, "the dataset was created anyway");
    assert_eq!(db.store.find_version(clash.version_id).await.unwrap(), None);

    // And the next good version still gets number 1.
    let next = version_record(dataset, None, &user, 3, 1, now());
    assert_eq!(db.store.insert_version(&next).await.unwrap(), 1);
}

#[tokio::test]
async fn list_datasets_filters_sorts_pages_and_counts() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let tag = token();
    let t = now();
    let pa = a_project(db.store.as_ref(), &user, &format!("Pa-{tag}"), t).await;
    let pb = a_project(db.store.as_ref(), &user, &format!("pB-{tag}"), t).await;
    // (project, name, description, rows, columns, created-at offset in seconds)
    let specs: [(&Project, &str, Option<String>, u64, usize, i64); 6] = [
        (&pa, "Charlie", Some(format!("{tag} third")), 30, 1, 2),
        (&pa, "alpha", None, 10, 3, 0),
        (&pa, "bravo", Some(format!("{tag} Contains the WORD Needle")), 20, 2, 1),
        (&pa, "delta_x", Some(format!("{tag} fourth")), 50, 4, 3),
        (&pa, "echo%", Some(format!("{tag} fifth")), 40, 5, 4),
        (&pb, "foxtrot", Some(format!("{tag} other project")), 5, 6, 5),
    ];
    let mut ids = Vec::new();
    for (project, name, description, rows, columns, offset) in specs.iter().cloned() {
        let id: DatasetId = new_id();
        let v = version_record(
            id,
            new_dataset(project, name, description),
            &user,
            rows,
            columns,
            t + Duration::seconds(offset),
        );
        db.store.insert_version(&v).await.unwrap();
        ids.push(id);
    }
    let [charlie, alpha, bravo, delta, echo, foxtrot] = ids[..] else { unreachable!() };
    let query = |projects: Option<Vec<ProjectId>>, search: Option<&str>, sort, direction, limit, offset| DatasetQuery {
        projects,
        search: search.map(str::to_string),
        sort,
        direction,
        page: Page { limit, offset },
    };
    let list = |q: DatasetQuery| {
        let store = db.store.clone();
        async move {
            let (items, total) = store.list_datasets(&q).await.unwrap();
            (items.into_iter().map(|i| i.dataset.id).collect::<Vec<_>>(), total)
        }
    };
    use DatasetSort::*;
    use SortDirection::*;
    let a = || Some(vec![pa.id]);

    // Paging by name, with the total of every matching dataset on each page.
    assert_eq!(list(query(a(), None, Name, Asc, 2, 0)).await, (vec![alpha, bravo], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 2)).await, (vec![charlie, delta], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 4)).await, (vec![echo], 5));
    assert_eq!(list(query(a(), None, Name, Asc, 2, 10)).await, (vec![], 5));
    assert_eq!(list(query(a(), None, Name, Desc, 10, 0)).await, (vec![echo, delta, charlie, bravo, alpha], 5));
    // The other sort keys.
    assert_eq!(list(query(a(), None, CreatedAt, Asc, 10, 0)).await.0, vec![alpha, bravo, charlie, delta, echo]);
    assert_eq!(list(query(a(), None, CreatedAt, Desc, 10, 0)).await.0, vec![echo, delta, charlie, bravo, alpha]);
    assert_eq!(list(query(a(), None, Rows, Desc, 10, 0)).await.0, vec![delta, echo, charlie, bravo, alpha]);
    assert_eq!(list(query(a(), None, Columns, Asc, 10, 0)).await.0, vec![charlie, bravo, alpha, delta, echo]);
    let both = || Some(vec![pb.id, pa.id]);
    let (by_project, total) = list(query(both(), None, ProjectName, Asc, 10, 0)).await;
    assert_eq!(total, 6);
    assert_eq!(
        &by_project[..5].iter().copied().collect::<HashSet<_>>(),
        &HashSet::from([alpha, bravo, charlie, delta, echo])
    );
    assert_eq!(by_project[5], foxtrot);
    assert_eq!(list(query(both(), None, ProjectName, Desc, 1, 0)).await, (vec![foxtrot], 6));

    // Search: a case-insensitive substring of the name or the description.
    assert_eq!(list(query(a(), Some("ALPHA"), Name, Asc, 10, 0)).await, (vec![alpha], 1));
    assert_eq!(list(query(a(), Some("word needle"), Name, Asc, 10, 0)).await, (vec![bravo], 1));
    assert_eq!(list(query(a(), Some("%"), Name, Asc, 10, 0)).await, (vec![echo], 1), "% is not a wildcard");
    assert_eq!(list(query(a(), Some("_"), Name, Asc, 10, 0)).await, (vec![delta], 1), "_ is not a wildcard");
    assert_eq!(list(query(a(), Some("nothing-like-this"), Name, Asc, 10, 0)).await, (vec![], 0));
    // Every project, narrowed by the test's own tag (in every description but alpha's).
    assert_eq!(
        list(query(None, Some(&tag.to_uppercase()), CreatedAt, Asc, 10, 0)).await,
        (vec![bravo, charlie, delta, echo, foxtrot], 5)
    );
    // No projects: nothing.
    assert_eq!(list(query(Some(vec![]), None, Name, Asc, 10, 0)).await, (vec![], 0));

    // Each item carries the dataset as recorded and its project's name.
    let (items, _) = db.store.list_datasets(&query(both(), None, Name, Asc, 10, 0)).await.unwrap();
    for item in items {
        assert_eq!(Some(&item.dataset), db.store.find_dataset(item.dataset.id).await.unwrap().as_ref());
        let expected = if item.dataset.project_id == pa.id { &pa.name } else { &pb.name };
        assert_eq!(&item.project_name, expected);
    }
}

/// The ids of `project`'s datasets matching `search`, by name.
async fn search_by_name(store: &dyn MetadataStore, project: ProjectId, search: Option<&str>) -> Vec<DatasetId> {
    let query = DatasetQuery {
        projects: Some(vec![project]),
        search: search.map(str::to_string),
        sort: DatasetSort::Name,
        direction: SortDirection::Asc,
        page: Page { limit: 100, offset: 0 },
    };
    store.list_datasets(&query).await.unwrap().0.into_iter().map(|i| i.dataset.id).collect()
}

#[tokio::test]
async fn search_ignores_case_in_every_script_but_not_accents_and_names_sort_by_their_lower_case() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "scripts", now()).await;
    let mut ids = Vec::new();
    for (name, description) in [
        ("ÉCOLE Données", None),
        ("Школа", Some("УЧЕНИКИ и классы")),
        ("ΣΧΟΛΕΊΟ", None),
        ("ecole primaire", None),
        ("Zebra", Some("Relevé des ÉLÈVES")),
    ] {
        let id: DatasetId = new_id();
        let v = version_record(id, new_dataset(&project, name, description.map(str::to_string)), &user, 1, 1, now());
        store.insert_version(&v).await.unwrap();
        ids.push(id);
    }
    let [ecole, shkola, scholeio, primaire, zebra] = ids[..] else { unreachable!() };
    let search = |needle: &'static str| search_by_name(store, project.id, Some(needle));

    assert_eq!(search("école").await, [ecole]);
    assert_eq!(search("DONNÉES").await, [ecole]);
    assert_eq!(search("ecole").await, [primaire], "an accent counts");
    assert_eq!(search("школа").await, [shkola]);
    assert_eq!(search("ученики").await, [shkola], "descriptions are searched the same way");
    assert_eq!(search("σχολείο").await, [scholeio]);
    assert_eq!(search("élèves").await, [zebra]);
    assert_eq!(search("eleves").await, []);
    assert_eq!(
        search_by_name(store, project.id, None).await,
        [primaire, zebra, ecole, scholeio, shkola],
        "by lower-case name, code point by code point"
    );
}

/// A new, empty database: a SQLite file, or a database of its own on the server of
/// `TEST_DATABASE_URL`, removed by [`FreshDatabase::remove`].
struct FreshDatabase {
    url: String,
    server: Option<(DatabaseConnection, String)>,
    _dir: tempfile::TempDir,
}

impl FreshDatabase {
    async fn create() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = database_url(dir.path());
        if shared.starts_with("sqlite:") {
            return FreshDatabase { url: shared, server: None, _dir: dir };
        }
        let name = format!("fresh_{}", token());
        let server = Database::connect(&shared).await.expect("connecting to the test server");
        server.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("creating a database");
        let (base, _) = shared.rsplit_once('/').expect("a database name in TEST_DATABASE_URL");
        FreshDatabase { url: format!("{base}/{name}"), server: Some((server, name)), _dir: dir }
    }

    async fn remove(self) {
        if let Some((server, name)) = self.server {
            // PostgreSQL 13 or later: the stores' pools may still hold connections.
            let force = if server.get_database_backend() == DbBackend::Postgres { " WITH (FORCE)" } else { "" };
            server.execute_unprepared(&format!("DROP DATABASE {name}{force}")).await.expect("dropping the database");
        }
    }
}

#[tokio::test]
async fn datasets_recorded_before_search_text_was_folded_are_found_after_the_migration() {
    let fresh = FreshDatabase::create().await;
    let db = Database::connect(&fresh.url).await.expect("connecting");
    // The schema as it was before the folded copies: the first five migrations.
    Migrator::up(&db, Some(5)).await.expect("the first migrations");
    let (project, dataset) = (Uuid::new_v4(), Uuid::new_v4());
    let projects = Query::insert()
        .into_table(Alias::new("projects"))
        .columns(["id", "name", "description", "created_at"].map(Alias::new))
        .values_panic([project.into(), "old".into(), None::<String>.into(), now().into()])
        .to_owned();
    db.execute(&projects).await.expect("a project recorded before the migration");
    let columns = [
        "id",
        "project_id",
        "name",
        "description",
        "created_at",
        "latest_version_id",
        "latest_version",
        "row_count",
        "column_count",
    ];
    let datasets = Query::insert()
        .into_table(Alias::new("datasets"))
        .columns(columns.map(Alias::new))
        .values_panic([
            dataset.into(),
            project.into(),
            "ÉCOLE Données".into(),
            Some("Relevé des ÉLÈVES").into(),
            now().into(),
            Uuid::new_v4().into(),
            0i64.into(),
            1i64.into(),
            1i64.into(),
        ])
        .to_owned();
    db.execute(&datasets).await.expect("a dataset recorded before the migration");

    Migrator::up(&db, None).await.expect("the remaining migrations");
    let store = connect(&fresh.url).await;
    let project = ProjectId(project);
    assert_eq!(search_by_name(store.as_ref(), project, Some("école")).await, [DatasetId(dataset)]);
    assert_eq!(search_by_name(store.as_ref(), project, Some("élèves")).await, [DatasetId(dataset)]);
    assert_eq!(search_by_name(store.as_ref(), project, Some("ecole")).await, []);
    db.close().await.expect("closing the connection");
    fresh.remove().await;
}

#[tokio::test]
async fn versions_recorded_before_their_hashes_get_the_original_s_sha256_and_await_a_content_hash() {
    let fresh = FreshDatabase::create().await;
    let store = connect(&fresh.url).await;
    migrate(store.as_ref()).await.expect("migrating");
    let user = a_user(store.as_ref(), "uploader").await;
    let project = a_project(store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(store.as_ref(), &project, &user).await;
    let (_, other) = a_dataset(store.as_ref(), &project, &user).await;
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), []);

    // Back to the schema before version identity (the 8th migration), and forward again.
    let db = Database::connect(&fresh.url).await.expect("connecting");
    let after_identity = Migrator::get_migration_files().len() as u32 - 8;
    Migrator::down(&db, Some(after_identity + 1)).await.expect("undoing the version identity migration");
    Migrator::up(&db, None).await.expect("the version identity migration");
    let found = store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.summary.sha256.as_deref(), Some(v0.original.sha256.as_str()), "the original's sha256");
    assert_eq!(found.summary.content_hash, None);
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), [v0.version_id, other.version_id]);
    assert_eq!(store.versions_without_content_hash(1).await.unwrap(), [v0.version_id], "oldest first");

    let revision = |d: Option<datasets_api::domain::records::Dataset>| d.expect("the dataset").revision;
    let before = revision(store.find_dataset(dataset).await.unwrap());
    store.set_content_hash(v0.version_id, "sha256:first").await.unwrap();
    let recorded = revision(store.find_dataset(dataset).await.unwrap());
    assert_eq!(recorded, before + 1, "the dataset's detail changed: a new revision");
    store.set_content_hash(v0.version_id, "sha256:second").await.unwrap();
    let found = store.find_version(v0.version_id).await.unwrap().expect("the version");
    assert_eq!(found.summary.content_hash.as_deref(), Some("sha256:first"), "a recorded hash is kept");
    assert_eq!(revision(store.find_dataset(dataset).await.unwrap()), recorded, "nothing changed");
    assert_eq!(store.versions_without_content_hash(10).await.unwrap(), [other.version_id]);
    db.close().await.expect("closing the connection");
    fresh.remove().await;
}

#[tokio::test]
async fn delete_dataset_returns_its_storage_keys_and_leaves_no_trace_of_it_or_its_versions() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let (survivor, survivor_v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut versions = vec![v0];
    for _ in 0..2 {
        let v = version_record(dataset, None, &user, 3, 2, now());
        db.store.insert_version(&v).await.unwrap();
        versions.push(v);
    }
    db.store.save_statistics(versions[1].version_id, &statistics(1.0), now()).await.unwrap();
    let experiment = Experiment {
        id: new_id(),
        project_id: project.id,
        name: "used it".into(),
        dataset_id: dataset,
        dataset_version_id: Some(versions[1].version_id),
        dataset_alias: None,
        target_column: None,
        problem_type: None,
        status: ExperimentStatus::Succeeded,
        created_at: now(),
    };
    db.store.insert_experiment(&experiment).await.unwrap();
    let recorded: HashSet<String> = versions.iter().flat_map(keys_of).collect();
    assert_eq!(recorded.len(), 6);

    let returned = db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(returned.len(), 6, "keys returned: {returned:?}");
    assert_eq!(returned.into_iter().collect::<HashSet<_>>(), recorded);

    assert_eq!(db.store.find_dataset(dataset).await.unwrap(), None);
    for (number, v) in versions.iter().enumerate() {
        assert_eq!(db.store.find_version(v.version_id).await.unwrap(), None);
        assert_eq!(db.store.find_version_by_number(dataset, number as i64).await.unwrap(), None);
        assert_eq!(db.store.find_statistics(v.version_id).await.unwrap(), None);
    }
    assert_eq!(db.store.list_versions(dataset, Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    let keys: Vec<String> = recorded.iter().cloned().collect();
    assert!(db.store.known_storage_keys(&keys).await.unwrap().is_empty());
    let query = DatasetQuery {
        projects: Some(vec![project.id]),
        search: None,
        sort: DatasetSort::CreatedAt,
        direction: SortDirection::Asc,
        page: Page { limit: 10, offset: 0 },
    };
    let (items, total) = db.store.list_datasets(&query).await.unwrap();
    assert_eq!((items.iter().map(|i| i.dataset.id).collect::<Vec<_>>(), total), (vec![survivor], 1));

    // The other dataset of the project is untouched; lineage keeps the deleted dataset's id.
    assert!(db.store.find_version(survivor_v0.version_id).await.unwrap().is_some());
    assert_eq!(db.store.known_storage_keys(&keys_of(&survivor_v0)).await.unwrap().len(), 2);
    assert_eq!(db.store.find_experiment(experiment.id).await.unwrap(), Some(experiment));
}

#[tokio::test]
async fn known_storage_keys_returns_exactly_the_recorded_keys_among_a_mix() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 1, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let recorded: Vec<String> = [keys_of(&v0), keys_of(&v1)].concat();

    // 1,200 keys (more than one batch of any sensible size), the recorded ones spread out, one
    // of them twice, the rest unknown keys that look like real ones.
    let mut mix: Vec<String> =
        (0..1200).map(|_| artifact_key(dataset, new_id(), ArtifactKind::Normalized, SourceFormat::CSV)).collect();
    for (i, at) in [0, 499, 500, 1199].into_iter().enumerate() {
        mix[at] = recorded[i].clone();
    }
    mix.push(recorded[2].clone());
    mix.push(format!("{}x", recorded[0]));
    mix.push(recorded[0].to_uppercase());
    let known = db.store.known_storage_keys(&mix).await.unwrap();
    assert_eq!(known, recorded.into_iter().collect::<HashSet<_>>());
    assert!(db.store.known_storage_keys(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn lookups_of_missing_ids_are_none_not_errors() {
    let db = open().await;
    let store = db.store.as_ref();
    assert_eq!(store.find_user(new_id()).await.unwrap(), None);
    assert_eq!(store.find_project(new_id()).await.unwrap(), None);
    assert_eq!(store.role_of(new_id(), new_id()).await.unwrap(), None);
    assert_eq!(store.find_dataset(new_id()).await.unwrap(), None);
    assert_eq!(store.find_version(new_id()).await.unwrap(), None);
    assert_eq!(store.find_version_by_number(new_id(), 0).await.unwrap(), None);
    assert_eq!(store.find_statistics(new_id()).await.unwrap(), None);
    assert_eq!(store.find_experiment(new_id()).await.unwrap(), None);
    assert_eq!(store.find_model(new_id()).await.unwrap(), None);
    assert_eq!(store.list_versions(new_id(), Page { limit: 10, offset: 0 }).await.unwrap(), (vec![], 0));
    assert!(store.list_projects(Some(new_id())).await.unwrap().is_empty());
    // Missing numbers of an existing dataset, and a member of one project asked about another.
    let user = a_user(store, "someone").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    assert_eq!(store.find_version_by_number(dataset, 1).await.unwrap(), None);
    assert_eq!(store.find_version_by_number(dataset, -1).await.unwrap(), None);
    assert_eq!(store.role_of(user.id, new_id()).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Statistics

#[tokio::test]
async fn statistics_are_none_before_a_save_and_read_back_equal_after_it() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), None);
    let stats = statistics(3.0);
    db.store.save_statistics(v0.version_id, &stats, now()).await.unwrap();
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(stats));
}

/// Ordinary doubles whose shortest decimal form is 16-17 digits long, and the extremes. Each
/// must come back with the same bits.
const AWKWARD_FLOATS: [f64; 8] = [
    0.985_690_694_632_869_5,
    434.291_987_228_963_65,
    378_614.580_324_866_75,
    120_920_986.698_752_73,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
];

/// The floats that came back different, as (sent, received).
fn float_differences(sent: &[f64], received: &[f64]) -> Vec<(f64, f64)> {
    assert_eq!(sent.len(), received.len());
    sent.iter().zip(received).filter(|(a, b)| a.to_bits() != b.to_bits()).map(|(a, b)| (*a, *b)).collect()
}

#[tokio::test]
async fn floats_in_statistics_read_back_bit_for_bit() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (_, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let mut stats = statistics(1.0);
    stats.columns[0].numeric.as_mut().unwrap().histogram =
        Some(Histogram { counts: vec![1; AWKWARD_FLOATS.len() - 1], bin_edges: AWKWARD_FLOATS.to_vec() });
    db.store.save_statistics(v0.version_id, &stats, now()).await.unwrap();
    let found = db.store.find_statistics(v0.version_id).await;
    let found = found.unwrap_or_else(|e| panic!("the saved statistics cannot be read back: {e}")).unwrap();
    let edges = found.columns[0].numeric.as_ref().unwrap().histogram.as_ref().unwrap().bin_edges.clone();
    assert_eq!(float_differences(&AWKWARD_FLOATS, &edges), vec![], "(saved, read back)");
    assert_eq!(found, stats);
}

#[tokio::test]
async fn floats_in_preview_cells_read_back_bit_for_bit() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let dataset: DatasetId = new_id();
    let mut v0 = version_record(dataset, new_dataset(&project, "floats", None), &user, 1, 1, now());
    v0.preview = AWKWARD_FLOATS
        .iter()
        .map(|f| {
            let mut row = PreviewRow::new();
            row.insert("x".into(), serde_json::json!(f));
            row
        })
        .collect();
    db.store.insert_version(&v0).await.unwrap();
    let found = db.store.find_version(v0.version_id).await;
    let found = found.unwrap_or_else(|e| panic!("the version cannot be read back: {e}")).unwrap();
    let cells: Vec<f64> = found.preview.iter().map(|row| row["x"].as_f64().expect("a number")).collect();
    assert_eq!(float_differences(&AWKWARD_FLOATS, &cells), vec![], "(recorded, read back)");
}

#[tokio::test]
async fn a_second_save_of_statistics_is_a_no_op_and_the_first_is_kept() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "uploader").await;
    let project = a_project(db.store.as_ref(), &user, "p", now()).await;
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 1, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    let first = statistics(1.0);
    let second = statistics(2.0);
    assert_ne!(first, second);
    db.store.save_statistics(v0.version_id, &first, now()).await.unwrap();
    db.store.save_statistics(v0.version_id, &second, now()).await.expect("a second save is not an error");
    assert_eq!(db.store.find_statistics(v0.version_id).await.unwrap(), Some(first));
    // Statistics belong to one version only.
    assert_eq!(db.store.find_statistics(v1.version_id).await.unwrap(), None);
    db.store.save_statistics(v1.version_id, &second, now()).await.unwrap();
    assert_eq!(db.store.find_statistics(v1.version_id).await.unwrap(), Some(second));
}

// ---------------------------------------------------------------------------------------------
// Lineage

fn experiment(project: &Project, dataset: DatasetId, name: &str, at: DateTime<Utc>) -> Experiment {
    Experiment {
        id: new_id(),
        project_id: project.id,
        name: name.into(),
        dataset_id: dataset,
        dataset_version_id: None,
        dataset_alias: None,
        target_column: Some("target".into()),
        problem_type: Some("classification".into()),
        status: ExperimentStatus::Running,
        created_at: at,
    }
}

fn model(project: &Project, experiment: &Experiment, name: &str, at: DateTime<Utc>) -> Model {
    Model {
        id: new_id(),
        project_id: project.id,
        experiment_id: experiment.id,
        name: name.into(),
        algorithm: "xgboost".into(),
        created_at: at,
    }
}

fn deployment(project: &Project, model: &Model, name: &str, at: DateTime<Utc>) -> Deployment {
    Deployment {
        id: new_id::<DeploymentId>(),
        project_id: project.id,
        model_id: model.id,
        name: name.into(),
        stage: "production".into(),
        is_active: name.ends_with('0'),
        created_at: at,
    }
}

#[tokio::test]
async fn lineage_records_are_found_by_id_and_listed_by_filter_oldest_first() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "scientist").await;
    let p = a_project(store, &user, "p", now()).await;
    let q = a_project(store, &user, "q", now()).await;
    // Lineage may name datasets that are gone (or never were): no dataset rows needed.
    let d: DatasetId = new_id();
    let d2: DatasetId = new_id();
    let t = now();
    let at = |ms: i64| t + Duration::milliseconds(ms);

    // Inserted out of age order.
    let e1 = experiment(&p, d, "e1", at(2000));
    let mut e0 = experiment(&p, d, "e0", at(0));
    e0.dataset_version_id = Some(new_id());
    e0.status = ExperimentStatus::Cancelled;
    let mut e2 = experiment(&p, d2, "e2", at(1000));
    e2.target_column = None;
    e2.problem_type = None;
    let eq = experiment(&q, d, "eq", at(3000));
    for e in [&e1, &e0, &e2, &eq] {
        store.insert_experiment(e).await.unwrap();
    }
    let ma = model(&p, &e0, "ma", at(5000));
    let mb = model(&p, &e0, "mb", at(4000));
    let mc = model(&p, &e1, "mc", at(6000));
    let mq = model(&q, &eq, "mq", at(7000));
    for m in [&ma, &mb, &mc, &mq] {
        store.insert_model(m).await.unwrap();
    }
    let dep1 = deployment(&p, &mb, "dep1", at(9000));
    let dep0 = deployment(&p, &mb, "dep0", at(8000));
    let dep2 = deployment(&p, &mc, "dep2", at(10_000));
    let depq = deployment(&q, &mq, "depq", at(11_000));
    for dep in [&dep1, &dep0, &dep2, &depq] {
        store.insert_deployment(dep).await.unwrap();
    }

    for e in [&e0, &e1, &e2, &eq] {
        assert_eq!(store.find_experiment(e.id).await.unwrap().as_ref(), Some(e));
    }
    for m in [&ma, &mb, &mc, &mq] {
        assert_eq!(store.find_model(m.id).await.unwrap().as_ref(), Some(m));
    }

    let filter = |projects: Option<Vec<ProjectId>>| LineageFilter { projects, ..LineageFilter::default() };
    let experiments = |f: LineageFilter| async move {
        store
            .list_experiments(&f)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.experiment.name, s.model_count))
            .collect::<Vec<_>>()
    };
    let named = |items: &[(&str, u64)]| items.iter().map(|(n, c)| (n.to_string(), *c)).collect::<Vec<_>>();
    assert_eq!(
        experiments(LineageFilter { dataset: Some(d), ..filter(Some(vec![p.id])) }).await,
        named(&[("e0", 2), ("e1", 1)])
    );
    assert_eq!(experiments(filter(Some(vec![p.id]))).await, named(&[("e0", 2), ("e2", 0), ("e1", 1)]));
    assert_eq!(
        experiments(LineageFilter { dataset: Some(d), ..filter(None) }).await,
        named(&[("e0", 2), ("e1", 1), ("eq", 1)])
    );
    assert_eq!(experiments(LineageFilter { dataset: Some(d), ..filter(Some(vec![])) }).await, named(&[]));
    let listed = store.list_experiments(&LineageFilter { dataset: Some(d2), ..filter(None) }).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].experiment, e2);
    let everything = store.list_experiments(&filter(None)).await.unwrap();
    let mine = [e0.id, e2.id, e1.id, eq.id];
    assert_eq!(only(everything.iter().map(|s| s.experiment.id), &mine), mine.to_vec());

    let models = |f: LineageFilter| async move {
        store.list_models(&f).await.unwrap().into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    assert_eq!(models(LineageFilter { experiments: Some(vec![e0.id]), ..filter(None) }).await, ["mb", "ma"]);
    assert_eq!(models(filter(Some(vec![p.id]))).await, ["mb", "ma", "mc"]);
    assert_eq!(models(LineageFilter { experiments: Some(vec![e0.id]), ..filter(Some(vec![q.id])) }).await, [""; 0]);
    assert_eq!(
        models(LineageFilter { experiments: Some(vec![eq.id, e0.id]), ..filter(None) }).await,
        ["mb", "ma", "mq"]
    );
    assert_eq!(models(LineageFilter { experiments: Some(vec![]), ..filter(None) }).await, [""; 0]);
    assert_eq!(store.list_models(&filter(Some(vec![q.id]))).await.unwrap(), vec![mq.clone()]);

    let deployments = |f: LineageFilter| async move {
        store.list_deployments(&f).await.unwrap().into_iter().map(|d| d.name).collect::<Vec<_>>()
    };
    assert_eq!(deployments(LineageFilter { models: Some(vec![mb.id]), ..filter(None) }).await, ["dep0", "dep1"]);
    assert_eq!(deployments(filter(Some(vec![p.id]))).await, ["dep0", "dep1", "dep2"]);
    assert_eq!(
        deployments(LineageFilter { models: Some(vec![mb.id, mq.id]), ..filter(Some(vec![q.id])) }).await,
        ["depq"]
    );
    assert_eq!(deployments(filter(Some(vec![]))).await, [""; 0]);
    assert_eq!(store.list_deployments(&filter(Some(vec![q.id]))).await.unwrap(), vec![depq]);
    assert_eq!(
        store.list_deployments(&LineageFilter { models: Some(vec![mb.id]), ..filter(None) }).await.unwrap(),
        vec![dep0, dep1]
    );
}

// ---------------------------------------------------------------------------------------------
// Transient errors: which database errors the SeaORM adapter retries
//
// Not a contract of the port but of this adapter's retries (`is_transient`), checked here on
// errors that real lock conflicts raise, because sqlx's drivers do not let their errors be built
// by hand: on SQLite in `cargo test`, on PostgreSQL and MariaDB with `TEST_DATABASE_URL` (as
// `scripts/test-databases.sh` runs this suite). The unit tests of `src/adapters/sea_orm/errors.rs`
// check every code.

/// Two connection pools of their own on the test's database, sharing a table of two rows
/// (`id` 1 and 2, `n` 0) that [`Scratch::drop_table`] removes.
struct Scratch {
    a: DatabaseConnection,
    b: DatabaseConnection,
    table: String,
    _db: TestDb,
}

impl Scratch {
    /// `b` waits for no lock on SQLite (its busy timeout is 0).
    async fn open() -> Self {
        let db = open().await;
        let pool = |busy_timeout: std::time::Duration| {
            let mut options = ConnectOptions::new(db.url.clone());
            options.sqlx_logging(false).map_sqlx_sqlite_opts(move |o| o.busy_timeout(busy_timeout));
            Database::connect(options)
        };
        let a = pool(std::time::Duration::from_secs(5)).await.expect("connection a");
        let b = pool(std::time::Duration::ZERO).await.expect("connection b");
        let table = format!("lock_probe_{}", token());
        a.execute_unprepared(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
            .await
            .expect("creating the scratch table");
        a.execute_unprepared(&format!("INSERT INTO {table} (id, n) VALUES (1, 0), (2, 0)")).await.expect("rows");
        Scratch { a, b, table, _db: db }
    }

    fn backend(&self) -> DbBackend {
        self.a.get_database_backend()
    }

    fn bump(&self, id: i32) -> String {
        format!("UPDATE {} SET n = n + 1 WHERE id = {id}", self.table)
    }

    async fn drop_table(self) {
        self.a.execute_unprepared(&format!("DROP TABLE {}", self.table)).await.expect("dropping the scratch table");
    }
}

/// Runs `sql` in `txn`, then ends the transaction (a PostgreSQL transaction keeps its locks
/// after a failed statement until it ends).
async fn run_then_roll_back(txn: DatabaseTransaction, sql: String) -> Result<(), DbErr> {
    let result = txn.execute_unprepared(&sql).await.map(|_| ());
    txn.rollback().await.expect("rolling back");
    result
}

#[tokio::test]
async fn a_lock_held_by_another_transaction_is_a_transient_error() {
    let s = Scratch::open().await;
    let holder = s.a.begin().await.unwrap();
    holder.execute_unprepared(&s.bump(1)).await.unwrap();
    let refused = match s.backend() {
        // The whole file is locked for writing: SQLITE_BUSY at once, without a busy timeout.
        DbBackend::Sqlite => s.b.execute_unprepared(&s.bump(2)).await.map(|_| ()),
        // lock_not_available (55P03).
        DbBackend::Postgres => {
            let sql = format!("SELECT n FROM {} WHERE id = 1 FOR UPDATE NOWAIT", s.table);
            s.b.execute_unprepared(&sql).await.map(|_| ())
        }
        // ER_LOCK_WAIT_TIMEOUT (1205) after a second.
        _ => {
            let waiter = s.b.begin().await.unwrap();
            waiter.execute_unprepared("SET SESSION innodb_lock_wait_timeout = 1").await.unwrap();
            run_then_roll_back(waiter, s.bump(1)).await
        }
    };
    holder.rollback().await.unwrap();
    let error = refused.expect_err("the lock was taken twice");
    assert!(is_transient(&error), "not transient: {error}");
    s.drop_table().await;
}

#[tokio::test]
async fn a_deadlock_is_a_transient_error() {
    let s = Scratch::open().await;
    if s.backend() == DbBackend::Sqlite {
        println!("SKIPPED: SQLite locks the whole file for one writer at a time, so it cannot deadlock");
        return s.drop_table().await;
    }
    // Two transactions lock rows 1 and 2, then each the other's row: the database aborts one.
    let (first, second) = (s.a.begin().await.unwrap(), s.b.begin().await.unwrap());
    first.execute_unprepared(&s.bump(1)).await.unwrap();
    second.execute_unprepared(&s.bump(2)).await.unwrap();
    let results = tokio::join!(run_then_roll_back(first, s.bump(2)), run_then_roll_back(second, s.bump(1)));
    let errors: Vec<DbErr> = [results.0, results.1].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "exactly one transaction is aborted: {errors:?}");
    assert!(is_transient(&errors[0]), "not transient: {}", errors[0]);
    s.drop_table().await;
}

#[tokio::test]
async fn a_serialization_failure_is_a_transient_error() {
    let s = Scratch::open().await;
    if s.backend() != DbBackend::Postgres {
        println!("SKIPPED: only PostgreSQL refuses to update a row changed since its snapshot");
        return s.drop_table().await;
    }
    let reader = s.a.begin_with_config(Some(IsolationLevel::RepeatableRead), None).await.unwrap();
    reader.execute_unprepared(&format!("SELECT n FROM {} WHERE id = 1", s.table)).await.unwrap();
    s.b.execute_unprepared(&s.bump(1)).await.unwrap();
    // serialization_failure (40001): the row changed after the reader's snapshot.
    let error = run_then_roll_back(reader, s.bump(1)).await.expect_err("a lost update was allowed");
    assert!(is_transient(&error), "not transient: {error}");
    s.drop_table().await;
}

#[tokio::test]
async fn a_duplicate_key_is_not_a_transient_error() {
    let s = Scratch::open().await;
    let sql = format!("INSERT INTO {} (id, n) VALUES (1, 0)", s.table);
    let error = s.b.execute_unprepared(&sql).await.expect_err("a duplicate key was recorded");
    assert!(!is_transient(&error), "transient: {error}");
    s.drop_table().await;
}

// Idempotency keys

fn key_owner(user: &User, key: &str) -> KeyOwner {
    KeyOwner { user: user.id, key: IdempotencyKey::parse(key.as_bytes()).expect("a valid key") }
}

fn key_claim(owner: &KeyOwner, at: DateTime<Utc>, lease_seconds: i64) -> KeyClaim {
    KeyClaim {
        owner: owner.clone(),
        token: Uuid::new_v4(),
        now: at,
        lease_until: at + Duration::seconds(lease_seconds),
        expires_at: at + Duration::hours(24),
    }
}

fn an_answer(fingerprint: &str) -> StoredAnswer {
    StoredAnswer {
        fingerprint: fingerprint.into(),
        status: 201,
        content_type: Some("application/json; charset=utf-8".into()),
        body: format!("{{\"id\": \"{}\", \"text\": \"é ✓\"}}", "x".repeat(70_000)),
    }
}

#[tokio::test]
async fn a_claimed_key_is_running_until_its_answer_is_recorded_then_replayed() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("key-{}", token()));
    let first = key_claim(&owner, now(), 60);
    assert_eq!(db.store.claim_idempotency_key(&first).await.unwrap(), KeyState::Claimed);
    let second = key_claim(&owner, now(), 60);
    assert_eq!(
        db.store.claim_idempotency_key(&second).await.unwrap(),
        KeyState::Running { lease_until: first.lease_until }
    );
    assert!(!db.store.renew_idempotency_lease(&owner, second.token, now()).await.unwrap(), "not the holder");
    let later = first.lease_until + Duration::seconds(30);
    assert!(db.store.renew_idempotency_lease(&owner, first.token, later).await.unwrap());
    assert!(!db.store.complete_idempotency_key(&owner, second.token, &an_answer("f")).await.unwrap());
    // An answer longer than 64 KiB (MySQL's TEXT) with non-ASCII text is kept whole.
    let answer = an_answer("f");
    assert!(db.store.complete_idempotency_key(&owner, first.token, &answer).await.unwrap());
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Done(answer));
}

#[tokio::test]
async fn keys_are_per_user_and_case_sensitive() {
    let db = open().await;
    let (alice, bob) = (a_user(db.store.as_ref(), "alice").await, a_user(db.store.as_ref(), "bob").await);
    let key = format!("Key-{}", token());
    for owner in [key_owner(&alice, &key), key_owner(&bob, &key), key_owner(&alice, &key.to_lowercase())] {
        assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Claimed);
    }
}

#[tokio::test]
async fn a_released_key_an_expired_key_and_a_lapsed_lease_are_free_again() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("key-{}", token()));
    let first = key_claim(&owner, now(), 60);
    db.store.claim_idempotency_key(&first).await.unwrap();
    db.store.release_idempotency_key(&owner, first.token).await.unwrap();
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&owner, now(), 60)).await.unwrap(), KeyState::Claimed);

    // The holder died: its lease lapses and the next attempt takes the key over.
    let dead = key_claim(&key_owner(&user, &format!("lapsed-{}", token())), now() - Duration::seconds(120), 60);
    db.store.claim_idempotency_key(&dead).await.unwrap();
    let next = key_claim(&dead.owner, now(), 60);
    assert_eq!(db.store.claim_idempotency_key(&next).await.unwrap(), KeyState::Claimed);
    assert!(!db.store.complete_idempotency_key(&dead.owner, dead.token, &an_answer("late")).await.unwrap());
    assert!(db.store.complete_idempotency_key(&dead.owner, next.token, &an_answer("on time")).await.unwrap());

    // An answered key past its expiry is forgotten: by a claim, or by the sweep.
    let mut old = key_claim(&key_owner(&user, &format!("old-{}", token())), now() - Duration::hours(25), 60);
    old.expires_at = now() - Duration::hours(1);
    db.store.claim_idempotency_key(&old).await.unwrap();
    db.store.complete_idempotency_key(&old.owner, old.token, &an_answer("old")).await.unwrap();
    assert_eq!(db.store.claim_idempotency_key(&key_claim(&old.owner, now(), 60)).await.unwrap(), KeyState::Claimed);
    let mut swept = key_claim(&key_owner(&user, &format!("swept-{}", token())), now() - Duration::hours(25), 60);
    swept.expires_at = now() - Duration::hours(1);
    db.store.claim_idempotency_key(&swept).await.unwrap();
    assert!(db.store.delete_expired_idempotency_keys(now()).await.unwrap() >= 1);
    assert!(!db.store.renew_idempotency_lease(&swept.owner, swept.token, now()).await.unwrap(), "forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_sixteen_claims_at_once_through_two_connections_exactly_one_holds_the_key() {
    let db = open().await;
    let second = connect(&db.url).await;
    let user = a_user(db.store.as_ref(), "client").await;
    let owner = key_owner(&user, &format!("race-{}", token()));
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 { db.store.clone() } else { second.clone() };
            let (claim, barrier) = (key_claim(&owner, now(), 60), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_idempotency_key(&claim).await
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.unwrap().unwrap_or_else(|e| panic!("a concurrent claim failed: {e}")) {
            KeyState::Claimed => claimed += 1,
            KeyState::Running { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1);
}

#[tokio::test]
async fn a_contract_is_set_replaced_read_and_removed_with_its_dataset() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "owner").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    assert_eq!(store.find_contract(dataset).await.unwrap(), None);
    let column = ColumnDraft {
        dtype: Some("category".into()),
        allowed_values: Some(vec![
            AllowedValue::Text("EUR".into()),
            AllowedValue::Number(1.5),
            AllowedValue::Bool(true),
        ]),
        pattern: Some("^[A-Z]{3}$".into()),
        mostly: Some(0.95),
        ..Default::default()
    };
    let first = StoredContract {
        dataset,
        document: ContractDraft {
            mode: Some("warn".into()),
            row_count_min: Some(1),
            columns: vec![("currency".into(), column), ("ünïcode, name".into(), ColumnDraft::default())],
            ..Default::default()
        },
        updated_at: now(),
        updated_by: user.id,
    };
    store.put_contract(&first).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), Some(first.clone()), "the document reads back as written");
    let second = StoredContract {
        document: ContractDraft { mode: Some("enforce".into()), ..Default::default() },
        ..first.clone()
    };
    store.put_contract(&second).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), Some(second), "replaced, not added");
    assert!(store.delete_contract(dataset).await.unwrap());
    assert!(!store.delete_contract(dataset).await.unwrap());
    store.put_contract(&first).await.unwrap();
    store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(store.find_contract(dataset).await.unwrap(), None, "deleting the dataset removes its contract");
}

#[tokio::test]
async fn a_version_keeps_how_it_fared_against_the_contract() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, _) = a_dataset(store, &project, &user).await;
    let mut next = version_record(dataset, None, &user, 4, 2, now());
    let violation = Violation {
        column: Some("amount".into()),
        check: "min".into(),
        failing_count: 2,
        failing_fraction: 0.5,
        examples: vec![
            Example { row: 3, value: serde_json::json!(-1.5) },
            Example { row: 4, value: serde_json::Value::Null },
        ],
    };
    next.contract = Some(ContractResult::of(vec![violation]));
    store.insert_version(&next).await.unwrap();
    let found = store.find_version(next.version_id).await.unwrap().expect("the version");
    assert_eq!(found.contract, next.contract);
    assert_eq!(found.contract.as_ref().map(|c| c.passed), Some(false));
}

#[tokio::test]
async fn a_version_keeps_the_hints_and_type_evidence_it_was_read_with() {
    let db = open().await;
    let store = db.store.as_ref();
    let user = a_user(store, "uploader").await;
    let project = a_project(store, &user, "p", now()).await;
    let (dataset, first) = a_dataset(store, &project, &user).await;
    let found = store.find_version(first.version_id).await.unwrap().expect("the version");
    assert!(found.read_hints.is_empty());
    let mut next = version_record(dataset, None, &user, 4, 2, now());
    next.read_hints = ReadHints {
        dtypes: [("zip".to_string(), DType::Object)].into_iter().collect(),
        na_values: Some(vec!["-".into(), "n/d".into()]),
        keep_default_na: Some(false),
        delimiter: Some(';'),
        encoding: Some("latin1".into()),
        header: Some(true),
        sheet: Some("Données".into()),
    };
    next.type_evidence = vec![TypeEvidence {
        non_missing: 3,
        missing: 1,
        candidates: Some(Candidates { int64: 2, float64: 2, bool: 0, datetime64: 0 }),
        rejected_by: vec![(DType::Int64, RejectedBy { row: 3, value: "é1.5".into() })],
        datetime_format: None,
        rule: "object: …".into(),
    }];
    store.insert_version(&next).await.unwrap();
    let found = store.find_version(next.version_id).await.unwrap().expect("the version");
    assert_eq!(found.read_hints, next.read_hints);
    assert_eq!(found.type_evidence, Some(next.type_evidence));
}

// ---- Webhooks: subscriptions, events recorded with their changes, deliveries under leases.

fn webhook_record(project: &Project, by: &User, events: &[EventType]) -> Webhook {
    Webhook {
        id: new_id(),
        project_id: project.id,
        url: format!("https://hooks.example.test/{}", token()),
        events: events.to_vec(),
        description: "ci".into(),
        secret: Secret::from_bytes([7; 32]),
        created_at: now(),
        created_by: by.id,
    }
}

async fn delivered_types(store: &dyn MetadataStore, webhook: &Webhook) -> Vec<EventType> {
    let (deliveries, total) = store.list_deliveries(webhook.id, Page { limit: 100, offset: 0 }).await.unwrap();
    assert_eq!(total as usize, deliveries.len());
    let mut types: Vec<EventType> = deliveries.iter().map(|d| d.event_type).collect();
    types.sort();
    types
}

#[tokio::test]
async fn a_webhook_is_stored_listed_rotated_and_deleted_with_its_deliveries() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "hooks", now()).await;
    let first = webhook_record(&project, &user, &[EventType::DatasetCreated, EventType::VersionCreated]);
    let second = webhook_record(&project, &user, &[EventType::DatasetDeleted]);
    db.store.insert_webhook(&first).await.unwrap();
    db.store.insert_webhook(&second).await.unwrap();
    assert_eq!(db.store.find_webhook(first.id).await.unwrap(), Some(first.clone()));
    let listed: Vec<WebhookId> = db.store.list_webhooks(project.id).await.unwrap().iter().map(|w| w.id).collect();
    assert!(listed.contains(&first.id) && listed.contains(&second.id), "{listed:?}");
    let rotated = Secret::from_bytes([9; 32]);
    assert!(db.store.set_webhook_secret(first.id, &rotated).await.unwrap());
    assert_eq!(db.store.find_webhook(first.id).await.unwrap().unwrap().secret, rotated);
    a_dataset(db.store.as_ref(), &project, &user).await;
    assert_eq!(delivered_types(db.store.as_ref(), &first).await.len(), 2);
    assert!(db.store.delete_webhook(first.id).await.unwrap());
    assert_eq!(db.store.find_webhook(first.id).await.unwrap(), None);
    assert!(delivered_types(db.store.as_ref(), &first).await.is_empty(), "its deliveries went with it");
    assert!(!db.store.delete_webhook(first.id).await.unwrap());
    assert!(!db.store.set_webhook_secret(first.id, &rotated).await.unwrap());
}

#[tokio::test]
async fn each_change_records_its_events_for_the_webhooks_of_its_project_that_want_them() {
    let db = open().await;
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "events", now()).await;
    let elsewhere = a_project(db.store.as_ref(), &user, "elsewhere", now()).await;
    let versions = webhook_record(&project, &user, &[EventType::VersionCreated, EventType::DatasetCreated]);
    let removals = webhook_record(&project, &user, &[EventType::DatasetDeleted, EventType::AliasMoved]);
    let other = webhook_record(&elsewhere, &user, &EventType::ALL);
    for hook in [&versions, &removals, &other] {
        db.store.insert_webhook(hook).await.unwrap();
    }
    let (dataset, v0) = a_dataset(db.store.as_ref(), &project, &user).await;
    let v1 = version_record(dataset, None, &user, 3, 1, now());
    db.store.insert_version(&v1).await.unwrap();
    assert_eq!(
        delivered_types(db.store.as_ref(), &versions).await,
        [EventType::DatasetCreated, EventType::VersionCreated, EventType::VersionCreated]
    );
    let change = AliasChange {
        dataset_id: dataset,
        name: alias("production"),
        target: Some((v0.version_id, 0)),
        by: user.id,
        at: now(),
        if_revision: None,
    };
    db.store.change_alias(&change).await.unwrap();
    // Setting it where it already is changes nothing, and records nothing.
    db.store.change_alias(&change).await.unwrap();
    db.store.delete_dataset(dataset, None).await.unwrap();
    assert_eq!(delivered_types(db.store.as_ref(), &removals).await, [EventType::DatasetDeleted, EventType::AliasMoved]);
    assert!(delivered_types(db.store.as_ref(), &other).await.is_empty(), "another project's webhook");
    let (deliveries, _) = db.store.list_deliveries(versions.id, Page { limit: 1, offset: 0 }).await.unwrap();
    assert_eq!(deliveries.len(), 1, "paged");
    let newest = &deliveries[0];
    assert_eq!(newest.webhook_id, versions.id);
    assert!(newest.next_attempt_at.is_some() && newest.last_error.is_none());
}

/// A dataset whose version 0 is recorded at `at`, in a project with one webhook wanting
/// `version.created`: its delivery is due at `at` (a time no other test uses, so that claims
/// at that time find only this test's deliveries on a shared database).
async fn a_due_delivery(db: &TestDb, at: DateTime<Utc>) -> Webhook {
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "claims", now()).await;
    let hook = webhook_record(&project, &user, &[EventType::VersionCreated]);
    db.store.insert_webhook(&hook).await.unwrap();
    let v = version_record(new_id(), new_dataset(&project, &format!("ds-{}", token()), None), &user, 5, 2, at);
    db.store.insert_version(&v).await.unwrap();
    hook
}

/// A moment long past, distinct per test run and caller (after 1970: MySQL's TIMESTAMP columns
/// start there).
fn long_ago(years: i64) -> DateTime<Utc> {
    now() - Duration::days(365 * years) - Duration::seconds(rand_seconds())
}

fn rand_seconds() -> i64 {
    (Uuid::new_v4().as_u128() % 1_000_000) as i64
}

/// Claims due deliveries at `at` until `hook`'s is among them (or none is left): on a shared
/// database, earlier deliveries of other tests and runs may be due first.
async fn claim_ours(db: &TestDb, hook: &Webhook, at: DateTime<Utc>, lease: Duration) -> Option<ClaimedDelivery> {
    for _ in 0..1000 {
        let claimed = db.store.claim_deliveries(at, lease, 50).await.unwrap();
        if let Some(ours) = claimed.iter().find(|c| c.webhook_id == hook.id) {
            return Some(ours.clone());
        }
        if claimed.is_empty() {
            return None;
        }
    }
    panic!("more than 50,000 deliveries due on the test database");
}

#[tokio::test]
async fn a_due_delivery_is_claimed_once_and_its_outcome_recorded_only_under_its_lease() {
    let db = open().await;
    let t = long_ago(20);
    let hook = a_due_delivery(&db, t).await;
    // Other tests' deliveries count too (on a shared database): at least this one, created at t.
    let (pending, oldest) = db.store.pending_deliveries().await.unwrap();
    assert!(pending >= 1 && oldest.is_some_and(|at| at <= t), "{pending} {oldest:?}");
    let lease = Duration::seconds(60);
    assert_eq!(claim_ours(&db, &hook, t - Duration::seconds(1), lease).await, None, "not due yet");
    let first = claim_ours(&db, &hook, t, lease).await.expect("claimed");
    assert_eq!((first.attempt, first.url.as_str(), &first.secret), (1, hook.url.as_str(), &hook.secret));
    let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "version.created");
    assert_eq!(claim_ours(&db, &hook, t + Duration::seconds(59), lease).await, None, "leased");
    let retry = AttemptOutcome::Failed {
        status_code: Some(500),
        error: "HTTP 500".into(),
        retry_at: Some(t + Duration::seconds(5)),
    };
    assert!(!db.store.finish_attempt(first.id, Uuid::new_v4(), &retry, t).await.unwrap(), "another lease");
    assert!(db.store.finish_attempt(first.id, first.lease_token, &retry, t).await.unwrap());
    assert!(!db.store.finish_attempt(first.id, first.lease_token, &retry, t).await.unwrap(), "the lease is spent");
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(
        (listed[0].status, listed[0].attempts, listed[0].last_status_code),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert_eq!(listed[0].next_attempt_at, Some(t + Duration::seconds(5)));
    // Due again at its retry time: the second attempt carries the same event.
    let second = claim_ours(&db, &hook, t + Duration::seconds(5), lease).await.expect("claimed again");
    assert_eq!((second.attempt, second.event_id, &second.body), (2, first.event_id, &first.body));
    // A lease that runs out (the instance died mid-attempt) makes it due again.
    let third =
        claim_ours(&db, &hook, t + Duration::seconds(66), lease).await.expect("claimed after the lease ran out");
    assert_eq!(third.attempt, 3);
    assert!(!db.store.finish_attempt(second.id, second.lease_token, &retry, t).await.unwrap(), "its lease ran out");
    let done = AttemptOutcome::Delivered { status_code: 204 };
    assert!(db.store.finish_attempt(third.id, third.lease_token, &done, t + Duration::seconds(67)).await.unwrap());
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((listed[0].status, listed[0].attempts, listed[0].next_attempt_at), (DeliveryStatus::Delivered, 3, None));
    assert_eq!(claim_ours(&db, &hook, t + Duration::seconds(999), lease).await, None, "delivered");
    // Redelivered: pending again, due at once, attempts kept.
    let at = t + Duration::seconds(1000);
    assert_eq!(db.store.redeliver(hook.id, listed[0].id, at).await.unwrap(), Redelivered::Due);
    assert_eq!(db.store.redeliver(new_id(), listed[0].id, t).await.unwrap(), Redelivered::NotFound);
    let claim = claim_ours(&db, &hook, t + Duration::seconds(1000), lease).await.expect("redelivered");
    assert_eq!(claim.attempt, 4);
    // While an attempt holds the lease, a redelivery changes nothing.
    assert_eq!(db.store.redeliver(hook.id, listed[0].id, at).await.unwrap(), Redelivered::AttemptUnderWay);
    let failed = AttemptOutcome::Failed { status_code: None, error: "connection refused".into(), retry_at: None };
    assert!(db.store.finish_attempt(claim.id, claim.lease_token, &failed, t).await.unwrap());
    let (listed, _) = db.store.list_deliveries(hook.id, Page { limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(
        (listed[0].status, listed[0].last_error.as_deref()),
        (DeliveryStatus::Failed, Some("connection refused"))
    );
}

#[tokio::test]
async fn two_stores_claiming_at_once_never_hold_the_same_attempt() {
    let db = open().await;
    let t = long_ago(40);
    let mut hooks = HashSet::new();
    for _ in 0..12 {
        hooks.insert(a_due_delivery(&db, t).await.id);
    }
    let second = connect(&db.url).await;
    let stores = [Arc::clone(&db.store), second];
    let claims = futures_util::future::join_all((0..8).map(|i| {
        let store = Arc::clone(&stores[i % 2]);
        async move { store.claim_deliveries(t, Duration::seconds(60), 3).await.unwrap() }
    }))
    .await;
    let ours: Vec<WebhookId> =
        claims.into_iter().flatten().map(|c| c.webhook_id).filter(|w| hooks.contains(w)).collect();
    let distinct: HashSet<WebhookId> = ours.iter().copied().collect();
    assert_eq!(ours.len(), distinct.len(), "a delivery claimed twice: {ours:?}");
    assert!(!ours.is_empty());
}

/// Claims due drift checks at `at` until `dataset`'s is claimed (or none is left), as
/// [`claim_ours`] does for deliveries.
async fn claim_drift_of(
    db: &TestDb,
    dataset: DatasetId,
    at: DateTime<Utc>,
    lease: Duration,
) -> Option<DriftCheckRecord> {
    for _ in 0..10_000 {
        match db.store.claim_drift_check(at, lease).await.unwrap() {
            Some(check) if check.dataset_id == dataset => return Some(check),
            Some(_) => continue,
            None => return None,
        }
    }
    panic!("more than 10,000 drift checks due on the test database");
}

#[tokio::test]
async fn a_version_after_the_first_queues_a_drift_check_that_is_claimed_once_and_ends_with_its_event() {
    let db = open().await;
    let t = long_ago(30);
    let user = a_user(db.store.as_ref(), "owner").await;
    let project = a_project(db.store.as_ref(), &user, "drift", now()).await;
    let hook = webhook_record(&project, &user, &[EventType::DriftDetected]);
    db.store.insert_webhook(&hook).await.unwrap();
    let dataset: DatasetId = new_id();
    let v0 = version_record(dataset, new_dataset(&project, &format!("ds-{}", token()), None), &user, 5, 2, t);
    db.store.insert_version(&v0).await.unwrap();
    let lease = Duration::seconds(600);
    assert_eq!(claim_drift_of(&db, dataset, t, lease).await, None, "nothing to compare the first version with");
    let v1 = version_record(dataset, None, &user, 6, 2, t);
    db.store.insert_version(&v1).await.unwrap();
    let check = claim_drift_of(&db, dataset, t, lease).await.expect("queued with the version");
    assert_eq!((check.version, check.version_id, check.attempt, check.project_id), (1, v1.version_id, 1, project.id));
    assert_eq!(claim_drift_of(&db, dataset, t + Duration::seconds(599), lease).await, None, "leased");
    let subject = Subject { project_id: project.id, dataset_id: dataset, dataset_name: "d" };
    let facts = VersionFacts { number: 1, id: v1.version_id, row_count: 6, column_count: 2 };
    let event = events::drift_detected(t, &subject, &facts, &["amount".to_string()], 0.5);
    let stale = DriftCheckRecord { lease_token: Uuid::new_v4(), ..check.clone() };
    assert!(!db.store.finish_drift_check(&stale, Some(&event), t).await.unwrap(), "another lease");
    assert!(db.store.finish_drift_check(&check, Some(&event), t).await.unwrap());
    assert!(!db.store.finish_drift_check(&check, Some(&event), t).await.unwrap(), "done once");
    assert_eq!(delivered_types(db.store.as_ref(), &hook).await, [EventType::DriftDetected]);
    assert_eq!(claim_drift_of(&db, dataset, t + Duration::seconds(10_000), lease).await, None, "removed");
}

#[tokio::test]
async fn deliveries_that_ended_long_ago_are_forgotten_with_their_events_and_pending_ones_are_kept() {
    let db = open().await;
    let t = long_ago(25);
    let ended = a_due_delivery(&db, t).await;
    let waiting = a_due_delivery(&db, t).await;
    let lease = Duration::seconds(60);
    let claim = claim_ours(&db, &ended, t, lease).await.expect("claimed");
    let done = AttemptOutcome::Delivered { status_code: 200 };
    assert!(db.store.finish_attempt(claim.id, claim.lease_token, &done, t).await.unwrap());
    db.store.delete_finished_deliveries(t - Duration::seconds(1)).await.unwrap();
    assert_eq!(delivered_types(db.store.as_ref(), &ended).await.len(), 1, "ended after the cut: kept");
    assert!(db.store.delete_finished_deliveries(t + Duration::seconds(1)).await.unwrap() >= 1);
    assert!(delivered_types(db.store.as_ref(), &ended).await.is_empty(), "forgotten");
    assert_eq!(delivered_types(db.store.as_ref(), &waiting).await, [EventType::VersionCreated], "pending: kept");
    // The pending delivery still carries its event.
    // (It may have been claimed with the first one: its lease ends at t + 60 s.)
    let again =
        claim_ours(&db, &waiting, t + Duration::seconds(61), lease).await.expect("still claimable with its event");
    assert!(again.body.contains("version.created"));
}
