//! The schema of datasets-api, one migration set for SQLite, PostgreSQL and MySQL/MariaDB.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261128_000001_init;
mod m20261128_000002_statistics;
mod m20261128_000003_lineage;
mod m20261128_000004_artifact_index;
mod m20261128_000005_json_as_text;
mod m20261128_000006_folded_search_text;
mod m20261205_000007_original_file_name;
mod m20261205_000008_version_identity;
mod m20261205_000009_idempotency_keys;
mod m20261205_000010_aliases_and_revisions;
mod m20261205_000011_contracts;
mod m20261205_000012_read_hints_and_type_evidence;
mod m20261205_000013_webhooks;
mod m20261205_000014_drift_checks;
mod search_fold;

pub use search_fold::fold_for_search;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_init::Migration),
            Box::new(m20261128_000002_statistics::Migration),
            Box::new(m20261128_000003_lineage::Migration),
            Box::new(m20261128_000004_artifact_index::Migration),
            Box::new(m20261128_000005_json_as_text::Migration),
            Box::new(m20261128_000006_folded_search_text::Migration),
            Box::new(m20261205_000007_original_file_name::Migration),
            Box::new(m20261205_000008_version_identity::Migration),
            Box::new(m20261205_000009_idempotency_keys::Migration),
            Box::new(m20261205_000010_aliases_and_revisions::Migration),
            Box::new(m20261205_000011_contracts::Migration),
            Box::new(m20261205_000012_read_hints_and_type_evidence::Migration),
            Box::new(m20261205_000013_webhooks::Migration),
            Box::new(m20261205_000014_drift_checks::Migration),
        ]
    }
}
