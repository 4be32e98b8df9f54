//! Every route of the OpenAPI document has an access rule here, and every rule is checked:
//! a new route without a rule fails `every_route_in_the_document_has_an_access_rule`.

use std::collections::BTreeSet;

use poem::test::{TestForm, TestFormField};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, bearer, spawn_app, uuid_of};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// No key needed.
    Public,
    /// Any user with a key.
    AnyUser,
    /// Any user with a key; the answer lists only what the caller may see.
    Listing,
    /// The admin only: other users get 403.
    AdminOnly,
    /// Reads in a project: non-members get 404 (as for a missing id), viewers succeed.
    ProjectRead,
    /// Writes in a project: non-members get 404, viewers get 403.
    ProjectWrite,
    /// Owners of the project only: non-members get 404, viewers (and editors) get 403.
    ProjectOwner,
}

use Rule::*;

const ROUTES: &[(&str, &str, Rule)] = &[
    ("get", "/health", Public),
    ("get", "/ready", Public),
    ("post", "/api/projects", AnyUser),
    ("get", "/api/projects", Listing),
    ("post", "/api/projects/{project_id}/members", ProjectWrite),
    ("post", "/api/users", AdminOnly),
    ("post", "/api/users/{user_id}/api-keys", AdminOnly),
    ("post", "/api/datasets/upload", ProjectWrite),
    ("get", "/api/datasets", Listing),
    ("get", "/api/datasets/{dataset_id}", ProjectRead),
    ("delete", "/api/datasets/{dataset_id}", ProjectWrite),
    ("get", "/api/datasets/{dataset_id}/columns", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/download", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/rows", ProjectRead),
    ("post", "/api/datasets/{dataset_id}/query", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/quality", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/analyze", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/compare", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/diff", ProjectRead),
    ("put", "/api/datasets/{dataset_id}/contract", ProjectWrite),
    ("get", "/api/datasets/{dataset_id}/contract", ProjectRead),
    ("delete", "/api/datasets/{dataset_id}/contract", ProjectWrite),
    ("post", "/api/datasets/{dataset_id}/contract/check", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/contract/suggest", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/lineage", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/versions", ProjectRead),
    ("post", "/api/datasets/{dataset_id}/versions", ProjectWrite),
    ("get", "/api/dataset-versions/{dataset_version_id}", ProjectRead),
    ("get", "/api/datasets/{dataset_id}/aliases", ProjectRead),
    ("put", "/api/datasets/{dataset_id}/aliases/{alias}", ProjectWrite),
    ("delete", "/api/datasets/{dataset_id}/aliases/{alias}", ProjectWrite),
    ("get", "/api/datasets/{dataset_id}/aliases/{alias}/history", ProjectRead),
    ("post", "/api/experiments", ProjectWrite),
    ("get", "/api/experiments", Listing),
    ("post", "/api/models", ProjectWrite),
    ("get", "/api/models", Listing),
    ("post", "/api/deployments", ProjectWrite),
    ("get", "/api/deployments", Listing),
    ("post", "/api/projects/{project_id}/webhooks", ProjectOwner),
    ("get", "/api/projects/{project_id}/webhooks", ProjectOwner),
    ("delete", "/api/webhooks/{webhook_id}", ProjectOwner),
    ("post", "/api/webhooks/{webhook_id}/rotate-secret", ProjectOwner),
    ("get", "/api/webhooks/{webhook_id}/deliveries", ProjectOwner),
    ("post", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", ProjectOwner),
];

#[test]
fn every_route_in_the_document_has_an_access_rule() {
    let spec: Value = serde_json::from_str(&datasets_api::adapters::http::openapi_json()).unwrap();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let ruled: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, ruled, "add the new route to ROUTES with its access rule");
    // `/metrics`, `/openapi.json`, `/docs` and the web UI (`/`, `/ui`: static files only, see
    // tests/api/ui.rs) are served outside the document, without a key.
}

/// A project with a dataset of two versions, an experiment, a model and a deployment, a
/// viewer of the project and an outsider.
struct World {
    app: TestApp,
    project: String,
    dataset: String,
    version: String,
    experiment: String,
    model: String,
    viewer_id: String,
    viewer: String,
    outsider: String,
    webhook: String,
    delivery: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let (viewer_id, viewer) = app.create_user("Viewer").await;
    let (_, outsider) = app.create_user("Outsider").await;
    let project = app.create_project(&app.admin_key, "Guarded").await;
    app.add_member(project, viewer_id, "viewer").await;
    // A webhook (to a public address: nothing is sent, no dispatcher runs in these tests),
    // registered first so that the upload gives it a delivery.
    let hook = app
        .post_json(
            &app.admin_key,
            &format!("/api/projects/{project}/webhooks"),
            json!({"url": "https://93.184.216.34/hook", "events": ["version.created"]}),
        )
        .await
        .expect(201);
    let webhook = hook["id"].as_str().unwrap().to_string();
    let up = app.upload(&app.admin_key, project, "Secret", "s.csv", b"a,b\n1,x\n2,y\n").await.expect(201);
    let dataset = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, dataset, "v1", b"a,b\n3,z\n").await.expect(201);
    let alias = app.client.put(format!("/api/datasets/{dataset}/aliases/production"));
    let alias = alias.header("Authorization", bearer(&app.admin_key)).body_json(&json!({"version": 0}));
    app.send(alias).await.expect(200);
    let contract = app.client.put(format!("/api/datasets/{dataset}/contract"));
    let contract = contract.header("Authorization", bearer(&app.admin_key)).body_json(&json!({"columns": {"a": {}}}));
    app.send(contract).await.expect(200);
    let experiment = app
        .post_json(
            &app.admin_key,
            "/api/experiments",
            json!({"project_id": project, "name": "E", "dataset_id": dataset}),
        )
        .await
        .expect(201);
    let model = app
        .post_json(
            &app.admin_key,
            "/api/models",
            json!({"name": "M", "algorithm": "GBM", "experiment_id": experiment["id"]}),
        )
        .await
        .expect(201);
    app.post_json(
        &app.admin_key,
        "/api/deployments",
        json!({"name": "D", "model_id": model["id"], "stage": "prod", "is_active": true}),
    )
    .await
    .expect(201);
    let deliveries = app.get(&app.admin_key, &format!("/api/webhooks/{webhook}/deliveries")).await.expect(200);
    let delivery = deliveries["items"][0]["id"].as_str().expect("a delivery of the upload").to_string();
    World {
        webhook,
        delivery,
        project: project.to_string(),
        dataset: dataset.to_string(),
        version: up["dataset_version_id"].as_str().unwrap().to_string(),
        experiment: experiment["id"].as_str().unwrap().to_string(),
        model: model["id"].as_str().unwrap().to_string(),
        viewer_id: viewer_id.to_string(),
        app,
        viewer,
        outsider,
    }
}

/// Calls the route as `key` (none: no Authorization header) with real ids and a valid body.
async fn call(w: &World, method: &str, template: &str, key: Option<&str>) -> Reply {
    let path = template
        .replace("{project_id}", &w.project)
        .replace("{dataset_id}", &w.dataset)
        .replace("{dataset_version_id}", &w.version)
        .replace("{user_id}", &w.viewer_id)
        .replace("{webhook_id}", &w.webhook)
        .replace("{delivery_id}", &w.delivery)
        .replace("{alias}", "production");
    let path = match template {
        t if t.ends_with("/compare") => format!("{path}?v1=0&v2=1"),
        t if t.ends_with("/diff") => format!("{path}?v1=0&v2=1&key=a"),
        _ => path,
    };
    let client = &w.app.client;
    let mut request = match method {
        "get" => client.get(&path),
        "post" => client.post(&path),
        "delete" => client.delete(&path),
        "put" => client.put(&path),
        other => panic!("no request builder for {other}"),
    };
    if let Some(key) = key {
        request = request.header("Authorization", bearer(key));
    }
    let file = || TestFormField::bytes(b"a,b\n9,q\n".to_vec()).name("file").filename("f.csv");
    let request = match (method, template) {
        ("post", "/api/datasets/upload") => {
            request.multipart(TestForm::new().text("project_id", w.project.clone()).text("name", "N").field(file()))
        }
        ("post", "/api/datasets/{dataset_id}/versions") => {
            request.multipart(TestForm::new().text("description", "D").field(file()))
        }
        ("post", "/api/projects") | ("post", "/api/users") => request.body_json(&json!({"name": "N"})),
        ("post", "/api/projects/{project_id}/members") => {
            request.body_json(&json!({"user_id": w.viewer_id, "role": "editor"}))
        }
        ("post", "/api/experiments") => {
            request.body_json(&json!({"project_id": w.project, "name": "E2", "dataset_id": w.dataset}))
        }
        ("post", "/api/models") => {
            request.body_json(&json!({"name": "M2", "algorithm": "GLM", "experiment_id": w.experiment}))
        }
        ("post", "/api/datasets/{dataset_id}/query") => {
            request.body_json(&json!({"sql": "SELECT a, count(*) FROM data GROUP BY a"}))
        }
        ("put", "/api/datasets/{dataset_id}/aliases/{alias}") => request.body_json(&json!({"version": 1})),
        ("put", "/api/datasets/{dataset_id}/contract") => request.body_json(&json!({"columns": {"a": {}}})),
        ("post", "/api/projects/{project_id}/webhooks") => {
            request.body_json(&json!({"url": "https://93.184.216.34/other", "events": ["dataset.deleted"]}))
        }
        ("post", "/api/deployments") => {
            request.body_json(&json!({"name": "D2", "model_id": w.model, "stage": "dev", "is_active": false}))
        }
        _ => request,
    };
    w.app.send(request).await
}

#[tokio::test]
async fn every_route_follows_its_access_rule() {
    let w = world().await;
    let secrets = [&w.project, &w.dataset, &w.version, &w.experiment, &w.model];
    for &(method, path, rule) in ROUTES {
        let what = format!("{} {path}", method.to_uppercase());
        if rule == Public {
            assert_eq!(call(&w, method, path, None).await.status.as_u16(), 200, "{what}");
            continue;
        }
        let anonymous = call(&w, method, path, None).await;
        anonymous.expect_error(401, "unauthorized");
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer", "{what}");
        let outsider = call(&w, method, path, Some(&w.outsider)).await;
        match rule {
            AnyUser => assert_eq!(outsider.status.as_u16(), 201, "{what}"),
            Listing => {
                assert_eq!(outsider.status.as_u16(), 200, "{what}");
                let body = String::from_utf8_lossy(&outsider.body).to_string();
                assert!(
                    secrets.iter().all(|s| !body.contains(s.as_str())),
                    "{what} shows an outsider the project: {body}"
                );
            }
            AdminOnly => {
                outsider.expect_error(403, "forbidden");
                call(&w, method, path, Some(&w.viewer)).await.expect_error(403, "forbidden");
            }
            ProjectRead => {
                outsider.expect_error(404, "not_found");
                let viewer = call(&w, method, path, Some(&w.viewer)).await;
                assert!(viewer.status.is_success(), "{what} as a viewer: {}", viewer.status);
            }
            ProjectWrite | ProjectOwner => {
                outsider.expect_error(404, "not_found");
                call(&w, method, path, Some(&w.viewer)).await.expect_error(403, "forbidden");
            }
            Public => unreachable!(),
        }
    }
}
