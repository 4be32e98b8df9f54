//! Lineage.

use super::*;

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
