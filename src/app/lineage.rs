//! Recording and tracing what used a dataset: experiments, models, deployments. Every record
//! lives in the project of its experiment and follows that project's access rules.

use crate::app::{App, AppError};
use crate::domain::access::{Action, Principal};
use crate::domain::aliases::AliasName;
use crate::domain::ids::{DatasetId, DeploymentId, ExperimentId, ModelId, ProjectId, VersionId};
use crate::domain::lineage::{
    Deployment, Experiment, ExperimentStatus, ExperimentSummary, Lineage, LineageFilter, Model,
};
use crate::domain::names::{
    NAME_RULE, PROBLEM_TYPE_RULE, ResourceName, STAGE_RULE, TARGET_COLUMN_RULE, TextError, optional_label,
};

/// What a caller records about an experiment.
#[derive(Debug, Clone)]
pub struct NewExperiment {
    pub project_id: ProjectId,
    pub name: String,
    pub dataset_id: DatasetId,
    pub dataset_version_id: Option<VersionId>,
    /// An alias of the dataset instead of `dataset_version_id`: resolved to the version it
    /// points at now, and both are recorded.
    pub dataset_alias: Option<String>,
    pub target_column: Option<String>,
    pub problem_type: Option<String>,
    /// `None` records the experiment as pending.
    pub status: Option<ExperimentStatus>,
}

fn required_label(field: &'static str, raw: &str, max: usize) -> Result<String, AppError> {
    optional_label(field, Some(raw), max)?.ok_or(AppError::InvalidText(TextError::Empty { field }))
}

impl App {
    /// The projects whose records `principal` may list (`None`: all of them), narrowed to
    /// `project` when given.
    async fn listable_projects(
        &self,
        principal: &Principal,
        project: Option<ProjectId>,
    ) -> Result<Option<Vec<ProjectId>>, AppError> {
        if let Some(project) = project {
            self.authorize(principal, project, Action::Read).await?;
            return Ok(Some(vec![project]));
        }
        if principal.is_admin {
            return Ok(None);
        }
        Ok(Some(self.metadata.list_projects(Some(principal.user_id)).await?.into_iter().map(|p| p.id).collect()))
    }

    async fn visible_experiment(
        &self,
        p: &Principal,
        id: ExperimentId,
        action: Action,
    ) -> Result<Experiment, AppError> {
        let found = self.metadata.find_experiment(id).await?.ok_or(AppError::NotFound("experiment"))?;
        match self.authorize(p, found.project_id, action).await {
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("experiment")),
            Err(e) => Err(e),
            Ok(_) => Ok(found),
        }
    }

    async fn visible_model(&self, p: &Principal, id: ModelId, action: Action) -> Result<Model, AppError> {
        let found = self.metadata.find_model(id).await?.ok_or(AppError::NotFound("model"))?;
        match self.authorize(p, found.project_id, action).await {
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("model")),
            Err(e) => Err(e),
            Ok(_) => Ok(found),
        }
    }

    pub async fn record_experiment(&self, p: &Principal, new: NewExperiment) -> Result<Experiment, AppError> {
        let name = ResourceName::parse(&new.name)?.into_string();
        let target_column =
            optional_label("target_column", new.target_column.as_deref(), TARGET_COLUMN_RULE.max_chars)?;
        let problem_type = optional_label("problem_type", new.problem_type.as_deref(), PROBLEM_TYPE_RULE.max_chars)?;
        let status = new.status.unwrap_or(ExperimentStatus::Pending);
        self.authorize(p, new.project_id, Action::Write).await?;
        let dataset = self.visible_dataset(p, new.dataset_id, Action::Read).await?;
        if dataset.project_id != new.project_id {
            return Err(AppError::Invalid("the dataset belongs to another project".into()));
        }
        if let Some(version) = new.dataset_version_id {
            let found = self.metadata.find_version(version).await?;
            if found.is_none_or(|v| v.summary.dataset_id != dataset.id) {
                return Err(AppError::Invalid("dataset_version_id is not a version of dataset_id".into()));
            }
        }
        let (dataset_version_id, dataset_alias) = match (new.dataset_version_id, new.dataset_alias.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(AppError::Invalid("give dataset_version_id or dataset_alias, not both".into()));
            }
            (_, Some(alias)) => {
                let name =
                    AliasName::parse(alias.trim()).map_err(|e| AppError::Invalid(format!("dataset_alias: {e}")))?;
                let found = self.metadata.find_alias(dataset.id, &name).await?;
                let found = found.ok_or_else(|| AppError::Invalid(format!("the dataset has no alias `{name}`")))?;
                (Some(found.version_id), Some(name.as_str().to_string()))
            }
            (version, None) => (version, None),
        };
        let experiment = Experiment {
            id: ExperimentId(self.ids.new_id()),
            project_id: new.project_id,
            name,
            dataset_id: dataset.id,
            dataset_version_id,
            dataset_alias,
            target_column,
            problem_type,
            status,
            created_at: self.clock.now(),
        };
        self.metadata.insert_experiment(&experiment).await?;
        Ok(experiment)
    }

    pub async fn list_experiments(
        &self,
        p: &Principal,
        project: Option<ProjectId>,
        dataset: Option<DatasetId>,
    ) -> Result<Vec<ExperimentSummary>, AppError> {
        let projects = self.listable_projects(p, project).await?;
        let filter = LineageFilter { projects, dataset, ..Default::default() };
        Ok(self.metadata.list_experiments(&filter).await?)
    }

    pub async fn record_model(
        &self,
        p: &Principal,
        experiment: ExperimentId,
        name: &str,
        algorithm: &str,
    ) -> Result<Model, AppError> {
        let name = ResourceName::parse(name)?.into_string();
        let algorithm = required_label("algorithm", algorithm, NAME_RULE.max_chars)?;
        let experiment = self.visible_experiment(p, experiment, Action::Write).await?;
        let model = Model {
            id: ModelId(self.ids.new_id()),
            project_id: experiment.project_id,
            experiment_id: experiment.id,
            name,
            algorithm,
            created_at: self.clock.now(),
        };
        self.metadata.insert_model(&model).await?;
        Ok(model)
    }

    pub async fn list_models(&self, p: &Principal, experiment: Option<ExperimentId>) -> Result<Vec<Model>, AppError> {
        let mut filter = LineageFilter { projects: self.listable_projects(p, None).await?, ..Default::default() };
        if let Some(id) = experiment {
            self.visible_experiment(p, id, Action::Read).await?;
            filter.experiments = Some(vec![id]);
        }
        Ok(self.metadata.list_models(&filter).await?)
    }

    pub async fn record_deployment(
        &self,
        p: &Principal,
        model: ModelId,
        name: &str,
        stage: &str,
        is_active: bool,
    ) -> Result<Deployment, AppError> {
        let name = ResourceName::parse(name)?.into_string();
        let stage = required_label("stage", stage, STAGE_RULE.max_chars)?;
        let model = self.visible_model(p, model, Action::Write).await?;
        let deployment = Deployment {
            id: DeploymentId(self.ids.new_id()),
            project_id: model.project_id,
            model_id: model.id,
            name,
            stage,
            is_active,
            created_at: self.clock.now(),
        };
        self.metadata.insert_deployment(&deployment).await?;
        Ok(deployment)
    }

    pub async fn list_deployments(&self, p: &Principal, model: Option<ModelId>) -> Result<Vec<Deployment>, AppError> {
        let mut filter = LineageFilter { projects: self.listable_projects(p, None).await?, ..Default::default() };
        if let Some(id) = model {
            self.visible_model(p, id, Action::Read).await?;
            filter.models = Some(vec![id]);
        }
        Ok(self.metadata.list_deployments(&filter).await?)
    }

    /// Experiments that used the dataset, the models they trained and the deployments
    /// serving those models.
    pub async fn lineage(&self, p: &Principal, dataset: DatasetId) -> Result<Lineage, AppError> {
        let found = self.visible_dataset(p, dataset, Action::Read).await?;
        let projects = Some(vec![found.project_id]);
        let experiments = self
            .metadata
            .list_experiments(&LineageFilter {
                projects: projects.clone(),
                dataset: Some(dataset),
                ..Default::default()
            })
            .await?;
        let experiment_ids = experiments.iter().map(|e| e.experiment.id).collect();
        let models = self
            .metadata
            .list_models(&LineageFilter {
                projects: projects.clone(),
                experiments: Some(experiment_ids),
                ..Default::default()
            })
            .await?;
        let model_ids = models.iter().map(|m| m.id).collect();
        let deployments = self
            .metadata
            .list_deployments(&LineageFilter { projects, models: Some(model_ids), ..Default::default() })
            .await?;
        Ok(Lineage { experiments, models, deployments })
    }
}
