//! Lineage: registering experiments, models and deployments, and tracing a dataset's lineage.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::idempotency::{Created, KeyHeader};
use super::text::{AliasRule, NameRule, ProblemTypeRule, RuledText, StageRule, TargetColumnRule};
use super::time::UtcTime;
use crate::app::App;
use crate::app::lineage::NewExperiment;
use crate::domain::ids::{DatasetId, ExperimentId, ModelId, ProjectId, VersionId};
use crate::domain::lineage::{Deployment, Experiment, ExperimentStatus, ExperimentSummary, Model};

/// Where an experiment is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum StatusDto {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl StatusDto {
    fn from_status(s: ExperimentStatus) -> Self {
        match s {
            ExperimentStatus::Pending => Self::Pending,
            ExperimentStatus::Running => Self::Running,
            ExperimentStatus::Succeeded => Self::Succeeded,
            ExperimentStatus::Failed => Self::Failed,
            ExperimentStatus::Cancelled => Self::Cancelled,
        }
    }

    fn into_status(self) -> ExperimentStatus {
        match self {
            Self::Pending => ExperimentStatus::Pending,
            Self::Running => ExperimentStatus::Running,
            Self::Succeeded => ExperimentStatus::Succeeded,
            Self::Failed => ExperimentStatus::Failed,
            Self::Cancelled => ExperimentStatus::Cancelled,
        }
    }
}

#[derive(Object, Debug)]
pub struct CreateExperiment {
    pub project_id: Uuid,
    pub name: RuledText<NameRule>,
    /// The dataset the experiment trained on (in the same project).
    pub dataset_id: Uuid,
    /// The exact version used, when known.
    #[oai(nullable)]
    pub dataset_version_id: Option<Uuid>,
    /// An alias of the dataset instead of `dataset_version_id` (not both): resolved to the
    /// version it names now, and both are recorded.
    #[oai(nullable)]
    pub dataset_alias: Option<RuledText<AliasRule>>,
    /// At most 400 characters.
    #[oai(nullable)]
    pub target_column: Option<RuledText<TargetColumnRule>>,
    /// e.g. `classification`, `regression`; at most 64 characters.
    #[oai(nullable)]
    pub problem_type: Option<RuledText<ProblemTypeRule>>,
    /// Defaults to `pending`.
    #[oai(nullable)]
    pub status: Option<StatusDto>,
}

#[derive(Object, Debug)]
pub struct ExperimentDto {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub dataset_id: Uuid,
    #[oai(nullable)]
    pub dataset_version_id: Option<Uuid>,
    /// The alias the experiment named when it was recorded (`dataset_version_id` is the
    /// version it named then).
    #[oai(nullable)]
    pub dataset_alias: Option<String>,
    #[oai(nullable)]
    pub target_column: Option<String>,
    #[oai(nullable)]
    pub problem_type: Option<String>,
    pub status: StatusDto,
    /// Models recorded for this experiment.
    pub model_count: u64,
    pub created_at: UtcTime,
}

fn experiment_dto(e: Experiment, model_count: u64) -> ExperimentDto {
    ExperimentDto {
        id: e.id.0,
        project_id: e.project_id.0,
        name: e.name,
        dataset_id: e.dataset_id.0,
        dataset_version_id: e.dataset_version_id.map(|v| v.0),
        dataset_alias: e.dataset_alias,
        target_column: e.target_column,
        problem_type: e.problem_type,
        status: StatusDto::from_status(e.status),
        model_count,
        created_at: e.created_at.into(),
    }
}

#[derive(Object, Debug)]
pub struct CreateModel {
    pub name: RuledText<NameRule>,
    /// e.g. `GBM`, `XGBoost`, `GLM`.
    pub algorithm: RuledText<NameRule>,
    pub experiment_id: Uuid,
}

#[derive(Object, Debug)]
pub struct ModelDto {
    pub id: Uuid,
    pub name: String,
    pub algorithm: String,
    pub experiment_id: Uuid,
    pub project_id: Uuid,
    pub created_at: UtcTime,
}

impl From<Model> for ModelDto {
    fn from(m: Model) -> Self {
        Self {
            id: m.id.0,
            name: m.name,
            algorithm: m.algorithm,
            experiment_id: m.experiment_id.0,
            project_id: m.project_id.0,
            created_at: m.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
pub struct CreateDeployment {
    pub name: RuledText<NameRule>,
    pub model_id: Uuid,
    /// e.g. `staging`, `production`.
    pub stage: RuledText<StageRule>,
    pub is_active: bool,
}

#[derive(Object, Debug)]
pub struct DeploymentDto {
    pub id: Uuid,
    pub name: String,
    pub model_id: Uuid,
    pub stage: String,
    pub is_active: bool,
    pub project_id: Uuid,
    pub created_at: UtcTime,
}

impl From<Deployment> for DeploymentDto {
    fn from(d: Deployment) -> Self {
        Self {
            id: d.id.0,
            name: d.name,
            model_id: d.model_id.0,
            stage: d.stage,
            is_active: d.is_active,
            project_id: d.project_id.0,
            created_at: d.created_at.into(),
        }
    }
}

#[derive(Object, Debug)]
pub struct ExperimentList {
    pub items: Vec<ExperimentDto>,
}

#[derive(Object, Debug)]
pub struct ModelList {
    pub items: Vec<ModelDto>,
}

#[derive(Object, Debug)]
pub struct DeploymentList {
    pub items: Vec<DeploymentDto>,
}

#[derive(Object, Debug)]
pub struct LineageDto {
    /// Experiments that used the dataset, oldest first.
    pub experiments: Vec<ExperimentDto>,
    /// Models trained by those experiments.
    pub models: Vec<ModelDto>,
    /// Deployments serving those models.
    pub deployments: Vec<DeploymentDto>,
}

fn summaries(items: Vec<ExperimentSummary>) -> Vec<ExperimentDto> {
    items.into_iter().map(|s| experiment_dto(s.experiment, s.model_count)).collect()
}

pub struct LineageApi;

#[OpenApi(tag = "ApiTags::Lineage")]
impl LineageApi {
    /// Record an experiment
    ///
    /// Records that an experiment used a dataset (and optionally one of its versions). Editors
    /// and owners of the project, and the admin.
    #[oai(path = "/api/experiments", method = "post", operation_id = "create_experiment")]
    async fn create_experiment(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        body: Json<CreateExperiment>,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<Created<ExperimentDto>, ApiError> {
        let b = body.0;
        let new = NewExperiment {
            project_id: ProjectId(b.project_id),
            name: b.name.into_string(),
            dataset_id: DatasetId(b.dataset_id),
            dataset_version_id: b.dataset_version_id.map(VersionId),
            dataset_alias: b.dataset_alias.map(RuledText::into_string),
            target_column: b.target_column.map(RuledText::into_string),
            problem_type: b.problem_type.map(RuledText::into_string),
            status: b.status.map(StatusDto::into_status),
        };
        let e = app.record_experiment(&auth.0, new).await?;
        Ok(Created::new(experiment_dto(e, 0)))
    }

    /// List experiments
    ///
    /// Experiments the caller can see, oldest first; filter by project or dataset.
    #[oai(path = "/api/experiments", method = "get", operation_id = "list_experiments")]
    async fn list_experiments(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        project_id: Query<Option<Uuid>>,
        dataset_id: Query<Option<Uuid>>,
    ) -> Result<Json<ExperimentList>, ApiError> {
        let items = app.list_experiments(&auth.0, project_id.0.map(ProjectId), dataset_id.0.map(DatasetId)).await?;
        Ok(Json(ExperimentList { items: summaries(items) }))
    }

    /// Record a model
    ///
    /// Records a model trained by an experiment.
    #[oai(path = "/api/models", method = "post", operation_id = "create_model")]
    async fn create_model(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        body: Json<CreateModel>,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<Created<ModelDto>, ApiError> {
        let m = app.record_model(&auth.0, ExperimentId(body.experiment_id), &body.name, &body.algorithm).await?;
        Ok(Created::new(m.into()))
    }

    /// List models
    ///
    /// Models the caller can see, oldest first; filter by experiment.
    #[oai(path = "/api/models", method = "get", operation_id = "list_models")]
    async fn list_models(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        experiment_id: Query<Option<Uuid>>,
    ) -> Result<Json<ModelList>, ApiError> {
        let items = app.list_models(&auth.0, experiment_id.0.map(ExperimentId)).await?;
        Ok(Json(ModelList { items: items.into_iter().map(Into::into).collect() }))
    }

    /// Record a deployment
    ///
    /// Records a deployment serving a model.
    #[oai(path = "/api/deployments", method = "post", operation_id = "create_deployment")]
    async fn create_deployment(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        body: Json<CreateDeployment>,
        /// Makes the request safe to retry: the same key with the same request within
        /// `IDEMPOTENCY_TTL_SECONDS` replays the first answer (`Idempotent-Replayed: true`)
        /// and creates nothing; with another request, `422 idempotency_key_reused`; while the
        /// first still runs, `409` with `Retry-After`. 1–255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: KeyHeader,
    ) -> Result<Created<DeploymentDto>, ApiError> {
        let d = app.record_deployment(&auth.0, ModelId(body.model_id), &body.name, &body.stage, body.is_active).await?;
        Ok(Created::new(d.into()))
    }

    /// List deployments
    ///
    /// Deployments the caller can see, oldest first; filter by model.
    #[oai(path = "/api/deployments", method = "get", operation_id = "list_deployments")]
    async fn list_deployments(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        model_id: Query<Option<Uuid>>,
    ) -> Result<Json<DeploymentList>, ApiError> {
        let items = app.list_deployments(&auth.0, model_id.0.map(ModelId)).await?;
        Ok(Json(DeploymentList { items: items.into_iter().map(Into::into).collect() }))
    }

    /// Dataset lineage
    ///
    /// The full lineage of a dataset: which experiments used it (with their model counts),
    /// which models were trained from those experiments, and which deployments serve them.
    #[oai(path = "/api/datasets/:dataset_id/lineage", method = "get", operation_id = "get_dataset_lineage")]
    async fn lineage(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<Json<LineageDto>, ApiError> {
        let l = app.lineage(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(LineageDto {
            experiments: summaries(l.experiments),
            models: l.models.into_iter().map(Into::into).collect(),
            deployments: l.deployments.into_iter().map(Into::into).collect(),
        }))
    }
}
