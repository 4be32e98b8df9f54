//! Rows ↔ domain records: the table rows of [`entities`](super::entities) read into the
//! domain's types and back, the JSON documents stored as text, and the counts the databases
//! keep as signed integers.

use migration::fold_for_search;
use sea_orm::ActiveValue::Set;

use super::entities::{artifact, dataset, deployment, experiment, model, project, user, version};
use super::errors::{corrupt, corrupt_json};
use crate::domain::dtype::{ColumnSchema, DType};
use crate::domain::ids::{ArtifactId, DatasetId, DeploymentId, ExperimentId, ModelId, ProjectId, UserId, VersionId};
use crate::domain::lineage::{Deployment, Experiment, ExperimentStatus, Model};
use crate::domain::preview::PreviewRow;
use crate::domain::quality::QualityReport;
use crate::domain::records::{
    Artifact, ArtifactKind, Dataset, NewDataset, NewVersion, Project, SourceFormat, User, Version, VersionSummary,
};
use crate::ports::StoreError;

/// A count as the databases store it (BIGINT); counts beyond `i64::MAX` cannot occur.
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count; a negative one (never written) reads as 0.
pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn user_from(m: user::Model) -> User {
    User { id: UserId(m.id), name: m.name, email: m.email, is_admin: m.is_admin, created_at: m.created_at }
}

pub(super) fn project_from(m: project::Model) -> Project {
    Project { id: ProjectId(m.id), name: m.name, description: m.description, created_at: m.created_at }
}

pub(super) fn dataset_from(m: dataset::Model) -> Dataset {
    Dataset {
        id: DatasetId(m.id),
        project_id: ProjectId(m.project_id),
        name: m.name,
        description: m.description,
        created_at: m.created_at,
        latest_version_id: VersionId(m.latest_version_id),
        latest_version: m.latest_version,
        rows: to_u64(m.row_count),
        columns: to_u64(m.column_count),
        revision: m.revision,
    }
}

/// The row of a new dataset whose first version is `v`, its searchable text folded.
pub(super) fn dataset_row(new: &NewDataset, v: &NewVersion) -> dataset::ActiveModel {
    dataset::ActiveModel {
        id: Set(v.dataset_id.0),
        project_id: Set(new.project_id.0),
        name: Set(new.name.clone()),
        description: Set(new.description.clone()),
        created_at: Set(v.created_at),
        latest_version_id: Set(v.version_id.0),
        latest_version: Set(0),
        row_count: Set(to_i64(v.row_count)),
        column_count: Set(v.columns.len() as i64),
        folded_name: Set(fold_for_search(&new.name)),
        folded_description: Set(new.description.as_deref().map(fold_for_search)),
        revision: Set(0),
    }
}

pub(super) fn summary_from(m: &version::Model, creator: Option<user::Model>) -> VersionSummary {
    VersionSummary {
        id: VersionId(m.id),
        dataset_id: DatasetId(m.dataset_id),
        version: m.version,
        row_count: to_u64(m.row_count),
        column_count: to_u64(m.column_count),
        description: m.description.clone(),
        created_by: UserId(m.created_by),
        created_by_name: creator.map(|u| u.name).unwrap_or_default(),
        created_at: m.created_at,
        sha256: m.sha256.clone(),
        content_hash: m.content_hash.clone(),
    }
}

pub(super) fn experiment_from(m: experiment::Model) -> Result<Experiment, StoreError> {
    Ok(Experiment {
        id: ExperimentId(m.id),
        project_id: ProjectId(m.project_id),
        name: m.name,
        dataset_id: DatasetId(m.dataset_id),
        dataset_version_id: m.dataset_version_id.map(VersionId),
        dataset_alias: m.dataset_alias,
        target_column: m.target_column,
        problem_type: m.problem_type,
        status: ExperimentStatus::parse(&m.status).ok_or_else(|| corrupt("experiment status"))?,
        created_at: m.created_at,
    })
}

pub(super) fn model_from(m: model::Model) -> Model {
    Model {
        id: ModelId(m.id),
        project_id: ProjectId(m.project_id),
        experiment_id: ExperimentId(m.experiment_id),
        name: m.name,
        algorithm: m.algorithm,
        created_at: m.created_at,
    }
}

pub(super) fn deployment_from(m: deployment::Model) -> Deployment {
    Deployment {
        id: DeploymentId(m.id),
        project_id: ProjectId(m.project_id),
        model_id: ModelId(m.model_id),
        name: m.name,
        stage: m.stage,
        is_active: m.is_active,
        created_at: m.created_at,
    }
}

pub(super) fn artifact_from(m: artifact::Model) -> Result<Artifact, StoreError> {
    Ok(Artifact {
        id: ArtifactId(m.id),
        kind: ArtifactKind::parse(&m.kind).ok_or_else(|| corrupt("artifact kind"))?,
        storage_key: m.storage_key,
        size_bytes: to_u64(m.size_bytes),
        sha256: m.sha256,
        created_at: m.created_at,
    })
}

pub(super) fn artifact_row(a: &Artifact, version: VersionId, dataset: DatasetId) -> artifact::ActiveModel {
    artifact::ActiveModel {
        id: Set(a.id.0),
        version_id: Set(version.0),
        dataset_id: Set(dataset.0),
        kind: Set(a.kind.as_str().to_string()),
        storage_key: Set(a.storage_key.clone()),
        size_bytes: Set(to_i64(a.size_bytes)),
        sha256: Set(a.sha256.clone()),
        created_at: Set(a.created_at),
    }
}

/// A version's schema as stored: `[{"name": …, "dtype": …}, …]`.
fn columns_json(columns: &[ColumnSchema]) -> serde_json::Value {
    serde_json::Value::Array(
        columns.iter().map(|c| serde_json::json!({"name": c.name, "dtype": c.dtype.as_str()})).collect(),
    )
}

fn columns_from(value: &serde_json::Value) -> Result<Vec<ColumnSchema>, StoreError> {
    let items = value.as_array().ok_or_else(|| corrupt("schema"))?;
    items
        .iter()
        .map(|item| {
            let name = item.get("name").and_then(|v| v.as_str()).ok_or_else(|| corrupt("column name"))?;
            let dtype =
                item.get("dtype").and_then(|v| v.as_str()).and_then(DType::parse).ok_or_else(|| corrupt("dtype"))?;
            Ok(ColumnSchema { name: name.to_string(), dtype })
        })
        .collect()
}

/// A version's JSON documents, as stored (text).
pub(super) struct VersionDocuments {
    columns: String,
    quality: String,
    preview: String,
    contract: Option<String>,
    read_hints: Option<String>,
    type_evidence: String,
}

pub(super) fn version_documents(v: &NewVersion) -> Result<VersionDocuments, StoreError> {
    Ok(VersionDocuments {
        columns: columns_json(&v.columns).to_string(),
        quality: serde_json::to_string(&v.quality)
            .map_err(|e| StoreError::other_caused_by("encoding the quality report", e))?,
        preview: serde_json::Value::Array(v.preview.iter().cloned().map(serde_json::Value::Object).collect())
            .to_string(),
        contract: v
            .contract
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::other_caused_by("encoding the contract result", e))?,
        read_hints: match v.read_hints.is_empty() {
            true => None,
            false => Some(
                serde_json::to_string(&v.read_hints)
                    .map_err(|e| StoreError::other_caused_by("encoding the read hints", e))?,
            ),
        },
        type_evidence: serde_json::to_string(&v.type_evidence)
            .map_err(|e| StoreError::other_caused_by("encoding the type evidence", e))?,
    })
}

/// The version row of `v`, numbered `number`.
pub(super) fn version_row(v: &NewVersion, number: i64, documents: &VersionDocuments) -> version::ActiveModel {
    version::ActiveModel {
        id: Set(v.version_id.0),
        dataset_id: Set(v.dataset_id.0),
        version: Set(number),
        description: Set(v.description.clone()),
        created_by: Set(v.created_by.0),
        row_count: Set(to_i64(v.row_count)),
        column_count: Set(v.columns.len() as i64),
        source_format: Set(v.source_format.name()),
        columns: Set(documents.columns.clone()),
        quality: Set(documents.quality.clone()),
        preview: Set(documents.preview.clone()),
        created_at: Set(v.created_at),
        original_file_name: Set(v.original_file_name.clone()),
        sha256: Set(Some(v.original.sha256.clone())),
        content_hash: Set(Some(v.content_hash.clone())),
        contract_result: Set(documents.contract.clone()),
        read_hints: Set(documents.read_hints.clone()),
        type_evidence: Set(Some(documents.type_evidence.clone())),
    }
}

/// The version of row `m`, created by `creator`, with its `artifacts` (the original and the
/// normalized file).
pub(super) fn version_from(
    m: &version::Model,
    creator: Option<user::Model>,
    artifacts: &[Artifact],
) -> Result<Version, StoreError> {
    let pick = |kind| artifacts.iter().find(|a| a.kind == kind).cloned().ok_or_else(|| corrupt("artifact list"));
    let preview: Vec<PreviewRow> = match serde_json::from_str(&m.preview).map_err(|e| corrupt_json("preview", e))? {
        serde_json::Value::Array(rows) => rows.iter().filter_map(|r| r.as_object().cloned()).collect(),
        _ => return Err(corrupt("preview")),
    };
    Ok(Version {
        summary: summary_from(m, creator),
        source_format: SourceFormat::parse(&m.source_format).ok_or_else(|| corrupt("source format"))?,
        columns: columns_from(&serde_json::from_str(&m.columns).map_err(|e| corrupt_json("schema", e))?)?,
        quality: serde_json::from_str::<QualityReport>(&m.quality).map_err(|e| corrupt_json("quality report", e))?,
        preview,
        original_file_name: m.original_file_name.clone(),
        original: pick(ArtifactKind::Original)?,
        normalized: pick(ArtifactKind::Normalized)?,
        contract: m
            .contract_result
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt_json("contract result", e))?,
        read_hints: m
            .read_hints
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt_json("read hints", e))?
            .unwrap_or_default(),
        type_evidence: m
            .type_evidence
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt_json("type evidence", e))?,
    })
}
