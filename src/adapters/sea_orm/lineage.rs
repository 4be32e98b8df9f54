//! What used a dataset: experiments, the models they produced and the deployments of those.

use std::collections::HashMap;

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::conversions::{deployment_from, experiment_from, model_from};
use super::entities::{deployment, experiment, model};
use super::errors::store_error;
use crate::domain::ids::{ExperimentId, ModelId};
use crate::domain::lineage::{Deployment, Experiment, ExperimentSummary, LineageFilter, Model};
use crate::ports::StoreError;

pub(super) async fn insert_experiment(db: &DatabaseConnection, e: &Experiment) -> Result<(), StoreError> {
    experiment::Entity::insert(experiment::ActiveModel {
        id: Set(e.id.0),
        project_id: Set(e.project_id.0),
        name: Set(e.name.clone()),
        dataset_id: Set(e.dataset_id.0),
        dataset_version_id: Set(e.dataset_version_id.map(|v| v.0)),
        target_column: Set(e.target_column.clone()),
        problem_type: Set(e.problem_type.clone()),
        status: Set(e.status.as_str().to_string()),
        created_at: Set(e.created_at),
        dataset_alias: Set(e.dataset_alias.clone()),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(store_error)
}

pub(super) async fn find_experiment(
    db: &DatabaseConnection,
    id: ExperimentId,
) -> Result<Option<Experiment>, StoreError> {
    experiment::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(experiment_from).transpose()
}

pub(super) async fn insert_model(db: &DatabaseConnection, m: &Model) -> Result<(), StoreError> {
    model::Entity::insert(model::ActiveModel {
        id: Set(m.id.0),
        project_id: Set(m.project_id.0),
        experiment_id: Set(m.experiment_id.0),
        name: Set(m.name.clone()),
        algorithm: Set(m.algorithm.clone()),
        created_at: Set(m.created_at),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(store_error)
}

pub(super) async fn find_model(db: &DatabaseConnection, id: ModelId) -> Result<Option<Model>, StoreError> {
    Ok(model::Entity::find_by_id(id.0).one(db).await.map_err(store_error)?.map(model_from))
}

pub(super) async fn insert_deployment(db: &DatabaseConnection, d: &Deployment) -> Result<(), StoreError> {
    deployment::Entity::insert(deployment::ActiveModel {
        id: Set(d.id.0),
        project_id: Set(d.project_id.0),
        model_id: Set(d.model_id.0),
        name: Set(d.name.clone()),
        stage: Set(d.stage.clone()),
        is_active: Set(d.is_active),
        created_at: Set(d.created_at),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
    .map_err(store_error)
}

pub(super) async fn list_experiments(
    db: &DatabaseConnection,
    f: &LineageFilter,
) -> Result<Vec<ExperimentSummary>, StoreError> {
    let mut query = experiment::Entity::find();
    if let Some(projects) = &f.projects {
        query = query.filter(experiment::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
    }
    if let Some(dataset) = f.dataset {
        query = query.filter(experiment::Column::DatasetId.eq(dataset.0));
    }
    let rows = query
        .order_by_asc(experiment::Column::CreatedAt)
        .order_by_asc(experiment::Column::Id)
        .all(db)
        .await
        .map_err(store_error)?;
    let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
    let mut counts: HashMap<Uuid, u64> = HashMap::new();
    if !ids.is_empty() {
        for m in
            model::Entity::find().filter(model::Column::ExperimentId.is_in(ids)).all(db).await.map_err(store_error)?
        {
            *counts.entry(m.experiment_id).or_default() += 1;
        }
    }
    rows.into_iter()
        .map(|e| {
            let model_count = counts.get(&e.id).copied().unwrap_or(0);
            Ok(ExperimentSummary { experiment: experiment_from(e)?, model_count })
        })
        .collect()
}

pub(super) async fn list_models(db: &DatabaseConnection, f: &LineageFilter) -> Result<Vec<Model>, StoreError> {
    let mut query = model::Entity::find();
    if let Some(projects) = &f.projects {
        query = query.filter(model::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
    }
    if let Some(experiments) = &f.experiments {
        query = query.filter(model::Column::ExperimentId.is_in(experiments.iter().map(|e| e.0)));
    }
    let rows = query
        .order_by_asc(model::Column::CreatedAt)
        .order_by_asc(model::Column::Id)
        .all(db)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(model_from).collect())
}

pub(super) async fn list_deployments(
    db: &DatabaseConnection,
    f: &LineageFilter,
) -> Result<Vec<Deployment>, StoreError> {
    let mut query = deployment::Entity::find();
    if let Some(projects) = &f.projects {
        query = query.filter(deployment::Column::ProjectId.is_in(projects.iter().map(|p| p.0)));
    }
    if let Some(models) = &f.models {
        query = query.filter(deployment::Column::ModelId.is_in(models.iter().map(|m| m.0)));
    }
    let rows = query
        .order_by_asc(deployment::Column::CreatedAt)
        .order_by_asc(deployment::Column::Id)
        .all(db)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(deployment_from).collect())
}
