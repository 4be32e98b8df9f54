//! Lineage: experiments, models and deployments recorded against datasets.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, uuid_of};

async fn setup(app: &TestApp) -> (uuid::Uuid, uuid::Uuid, String) {
    let project = app.create_project(&app.admin_key, "Fraud").await;
    let up = app
        .upload(&app.admin_key, project, "Transactions", "t.csv", b"amount,is_fraud\n1.5,0\n2.5,1\n")
        .await
        .expect(201);
    (project, uuid_of(&up["dataset_id"]), up["dataset_version_id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_lineage_traces_experiments_models_and_deployments() {
    let app = spawn_app().await;
    let (project, dataset, version) = setup(&app).await;
    let experiment = app
        .post_json(
            &app.admin_key,
            "/api/experiments",
            json!({"project_id": project, "name": "AutoML Run 1", "dataset_id": dataset, "dataset_version_id": version,
                   "target_column": "is_fraud", "problem_type": "classification", "status": "succeeded"}),
        )
        .await
        .expect(201);
    assert_eq!(experiment["status"], "succeeded");
    assert_eq!(experiment["model_count"], 0);
    let eid = experiment["id"].clone();
    let gbm = app
        .post_json(
            &app.admin_key,
            "/api/models",
            json!({"name": "GBM_1_AutoML", "algorithm": "GBM", "experiment_id": eid}),
        )
        .await
        .expect(201);
    app.post_json(&app.admin_key, "/api/models", json!({"name": "GLM_1", "algorithm": "GLM", "experiment_id": eid}))
        .await
        .expect(201);
    let deployment = app
        .post_json(
            &app.admin_key,
            "/api/deployments",
            json!({"name": "GBM_1_AutoML", "model_id": gbm["id"], "stage": "production", "is_active": true}),
        )
        .await
        .expect(201);
    assert_eq!(deployment["stage"], "production");

    let lineage = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/lineage")).await.expect(200);
    assert_eq!(lineage["experiments"].as_array().unwrap().len(), 1);
    let e = &lineage["experiments"][0];
    assert_eq!((e["id"].clone(), e["name"].clone(), e["model_count"].clone()), (eid, json!("AutoML Run 1"), json!(2)));
    assert_eq!(e["target_column"], "is_fraud");
    assert_eq!(e["problem_type"], "classification");
    assert_eq!(lineage["models"].as_array().unwrap().len(), 2);
    assert_eq!(lineage["models"][0]["algorithm"], "GBM");
    assert_eq!(lineage["deployments"], json!([deployment]));

    let listed =
        app.get(&app.admin_key, &format!("/api/models?experiment_id={}", e["id"].as_str().unwrap())).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let listed = app
        .get(&app.admin_key, &format!("/api/deployments?model_id={}", gbm["id"].as_str().unwrap()))
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_dataset_without_experiments_has_an_empty_lineage() {
    let app = spawn_app().await;
    let (_, dataset, _) = setup(&app).await;
    let lineage = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/lineage")).await.expect(200);
    assert_eq!(lineage, json!({"experiments": [], "models": [], "deployments": []}));
}

#[tokio::test]
async fn experiments_are_checked_against_their_project_and_dataset() {
    let app = spawn_app().await;
    let (project, dataset, _) = setup(&app).await;
    let (_, other_dataset, other_version) = setup(&app).await;
    let body = |d: serde_json::Value, extra: serde_json::Value| {
        let mut b = json!({"project_id": project, "name": "E", "dataset_id": d});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    app.post_json(&app.admin_key, "/api/experiments", body(json!(other_dataset), json!({})))
        .await
        .expect_error(400, "bad_request");
    app.post_json(
        &app.admin_key,
        "/api/experiments",
        body(json!(dataset), json!({"dataset_version_id": other_version})),
    )
    .await
    .expect_error(400, "bad_request");
    app.post_json(&app.admin_key, "/api/experiments", body(json!(uuid::Uuid::new_v4()), json!({})))
        .await
        .expect_error(404, "not_found");
    app.post_json(&app.admin_key, "/api/experiments", body(json!(dataset), json!({"status": "done"})))
        .await
        .expect_error(400, "bad_request");
    app.post_json(
        &app.admin_key,
        "/api/models",
        json!({"name": "M", "algorithm": "GBM", "experiment_id": uuid::Uuid::new_v4()}),
    )
    .await
    .expect_error(404, "not_found");
    app.post_json(
        &app.admin_key,
        "/api/deployments",
        json!({"name": "D", "model_id": uuid::Uuid::new_v4(), "stage": "prod", "is_active": true}),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn lineage_follows_the_project_access_rules() {
    let app = spawn_app().await;
    let (project, dataset, _) = setup(&app).await;
    let (_, outsider) = app.create_user("Outsider").await;
    let (viewer_id, viewer) = app.create_user("Viewer").await;
    app.add_member(project, viewer_id, "viewer").await;
    let e = app
        .post_json(
            &app.admin_key,
            "/api/experiments",
            json!({"project_id": project, "name": "E", "dataset_id": dataset}),
        )
        .await
        .expect(201);
    assert_eq!(e["status"], "pending");

    app.get(&outsider, &format!("/api/datasets/{dataset}/lineage")).await.expect_error(404, "not_found");
    assert_eq!(app.get(&outsider, "/api/experiments").await.expect(200)["items"], json!([]));
    app.post_json(&outsider, "/api/models", json!({"name": "M", "algorithm": "GBM", "experiment_id": e["id"]}))
        .await
        .expect_error(404, "not_found");

    app.get(&viewer, &format!("/api/datasets/{dataset}/lineage")).await.expect(200);
    assert_eq!(app.get(&viewer, "/api/experiments").await.expect(200)["items"].as_array().unwrap().len(), 1);
    app.post_json(&viewer, "/api/experiments", json!({"project_id": project, "name": "E2", "dataset_id": dataset}))
        .await
        .expect_error(403, "forbidden");
    app.post_json(&viewer, "/api/models", json!({"name": "M", "algorithm": "GBM", "experiment_id": e["id"]}))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn deleting_a_dataset_leaves_its_experiments_in_place() {
    let app = spawn_app().await;
    let (project, dataset, _) = setup(&app).await;
    let e = app
        .post_json(
            &app.admin_key,
            "/api/experiments",
            json!({"project_id": project, "name": "E", "dataset_id": dataset}),
        )
        .await
        .expect(201);
    app.post_json(&app.admin_key, "/api/models", json!({"name": "M", "algorithm": "GBM", "experiment_id": e["id"]}))
        .await
        .expect(201);
    app.delete(&app.admin_key, &format!("/api/datasets/{dataset}")).await.expect(200);
    app.get(&app.admin_key, &format!("/api/datasets/{dataset}/lineage")).await.expect_error(404, "not_found");
    let left = app.get(&app.admin_key, &format!("/api/experiments?project_id={project}")).await.expect(200);
    assert_eq!(left["items"][0]["dataset_id"], json!(dataset), "the experiment keeps the deleted dataset's id");
    assert_eq!(left["items"][0]["model_count"], 1);
}
