//! Lineage: which experiments used a dataset, which models they trained, and which
//! deployments serve those models. Each record belongs to the project of its experiment, and
//! follows that project's access rules. Deleting a dataset leaves these records in place: an
//! experiment keeps the id of the dataset (and version) it used, which then no longer resolves.

use chrono::{DateTime, Utc};

use crate::domain::ids::{DatasetId, DeploymentId, ExperimentId, ModelId, ProjectId, VersionId};

/// Where an experiment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl ExperimentStatus {
    pub const ALL: [ExperimentStatus; 5] =
        [Self::Pending, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: ExperimentId,
    pub project_id: ProjectId,
    pub name: String,
    pub dataset_id: DatasetId,
    pub dataset_version_id: Option<VersionId>,
    /// The alias the experiment named, resolved to `dataset_version_id` when it was recorded.
    pub dataset_alias: Option<String>,
    pub target_column: Option<String>,
    pub problem_type: Option<String>,
    pub status: ExperimentStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: ModelId,
    pub project_id: ProjectId,
    pub experiment_id: ExperimentId,
    pub name: String,
    pub algorithm: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: DeploymentId,
    pub project_id: ProjectId,
    pub model_id: ModelId,
    pub name: String,
    pub stage: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

/// An experiment with the number of models it trained.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSummary {
    pub experiment: Experiment,
    pub model_count: u64,
}

/// The lineage of one dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lineage {
    pub experiments: Vec<ExperimentSummary>,
    pub models: Vec<Model>,
    pub deployments: Vec<Deployment>,
}

/// Which lineage records to list.
#[derive(Debug, Clone, Default)]
pub struct LineageFilter {
    /// Only records of these projects; `None` means every project.
    pub projects: Option<Vec<ProjectId>>,
    pub dataset: Option<DatasetId>,
    /// Only models of these experiments.
    pub experiments: Option<Vec<ExperimentId>>,
    /// Only deployments of these models.
    pub models: Option<Vec<ModelId>>,
}

#[cfg(test)]
mod tests {
    use super::ExperimentStatus;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in ExperimentStatus::ALL {
            assert_eq!(ExperimentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ExperimentStatus::parse("done"), None);
    }
}
