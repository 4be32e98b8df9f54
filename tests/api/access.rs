//! Access rules: outsiders get 404 exactly like a missing id; viewers read but cannot write.

use poem::test::{TestForm, TestFormField};

use crate::helpers::{Reply, TestApp, spawn_app, uuid_of};

struct World {
    app: TestApp,
    project: uuid::Uuid,
    dataset: uuid::Uuid,
    version: String,
    outsider: String,
    viewer: String,
    editor: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let (_, outsider) = app.create_user("Outsider").await;
    let (viewer_id, viewer) = app.create_user("Viewer").await;
    let (editor_id, editor) = app.create_user("Editor").await;
    let project = app.create_project(&app.admin_key, "Private").await;
    app.add_member(project, viewer_id, "viewer").await;
    app.add_member(project, editor_id, "editor").await;
    let up = app.upload(&app.admin_key, project, "Secret", "s.csv", b"a,b\n1,2\n").await.expect(201);
    let dataset = uuid_of(&up["dataset_id"]);
    let version = up["dataset_version_id"].as_str().unwrap().to_string();
    World { app, project, dataset, version, outsider, viewer, editor }
}

/// Every read of the dataset, as `key`.
async fn reads(w: &World, key: &str) -> Vec<Reply> {
    let d = w.dataset;
    let mut out = Vec::new();
    for path in [
        format!("/api/datasets/{d}"),
        format!("/api/datasets/{d}/columns"),
        format!("/api/datasets/{d}/download"),
        format!("/api/datasets/{d}/quality"),
        format!("/api/datasets/{d}/versions"),
        format!("/api/dataset-versions/{}", w.version),
        format!("/api/datasets?project_id={}", w.project),
    ] {
        out.push(w.app.get(key, &path).await);
    }
    out
}

async fn upload_into_project(w: &World, key: &str) -> Reply {
    w.app.upload(key, w.project, "New", "n.csv", b"a\n1\n").await
}

async fn new_version(w: &World, key: &str) -> Reply {
    w.app.new_version(key, w.dataset, "change", b"a\n1\n").await
}

#[tokio::test]
async fn outsiders_get_404_exactly_like_for_a_missing_dataset() {
    let w = world().await;
    let missing_dataset = uuid::Uuid::new_v4();
    let missing = w.app.get(&w.outsider, &format!("/api/datasets/{missing_dataset}")).await;
    let missing_message = missing.expect_error(404, "not_found");
    for reply in reads(&w, &w.outsider).await {
        reply.expect_error(404, "not_found");
    }
    let hidden = w.app.get(&w.outsider, &format!("/api/datasets/{}", w.dataset)).await;
    assert_eq!(hidden.expect_error(404, "not_found"), missing_message);
    upload_into_project(&w, &w.outsider).await.expect_error(404, "not_found");
    new_version(&w, &w.outsider).await.expect_error(404, "not_found");
    w.app.delete(&w.outsider, &format!("/api/datasets/{}", w.dataset)).await.expect_error(404, "not_found");
    let list = w.app.get(&w.outsider, "/api/datasets").await.expect(200);
    assert_eq!(list["total"], 0, "outsiders list nothing of the project");
}

#[tokio::test]
async fn viewers_read_everything_but_get_403_on_writes() {
    let w = world().await;
    for reply in reads(&w, &w.viewer).await {
        assert_eq!(reply.status.as_u16(), 200, "{}", String::from_utf8_lossy(&reply.body));
    }
    upload_into_project(&w, &w.viewer).await.expect_error(403, "forbidden");
    new_version(&w, &w.viewer).await.expect_error(403, "forbidden");
    w.app.delete(&w.viewer, &format!("/api/datasets/{}", w.dataset)).await.expect_error(403, "forbidden");
    let members = format!("/api/projects/{}/members", w.project);
    let body = serde_json::json!({"user_id": uuid::Uuid::new_v4(), "role": "viewer"});
    w.app.post_json(&w.viewer, &members, body).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn editors_upload_version_and_delete() {
    let w = world().await;
    upload_into_project(&w, &w.editor).await.expect(201);
    new_version(&w, &w.editor).await.expect(201);
    w.app.delete(&w.editor, &format!("/api/datasets/{}", w.dataset)).await.expect(200);
}

#[tokio::test]
async fn uploading_to_an_unknown_project_answers_404() {
    let w = world().await;
    let form = TestForm::new()
        .text("project_id", uuid::Uuid::new_v4().to_string())
        .text("name", "x")
        .field(TestFormField::bytes(b"a\n1\n".to_vec()).name("file").filename("x.csv"));
    w.app.post_form(&w.app.admin_key, "/api/datasets/upload", form).await.expect_error(404, "not_found");
}
