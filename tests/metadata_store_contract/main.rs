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

fn alias(name: &str) -> AliasName {
    AliasName::parse(name).unwrap()
}

mod contracts;
mod idempotency;
mod lineage;
mod listing;
mod projects;
mod schema;
mod statistics;
mod transient_errors;
mod users;
mod versions;
mod webhooks;
