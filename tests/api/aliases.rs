//! Aliases: `PUT`/`DELETE /api/datasets/{id}/aliases/{alias}`, the list, the history, and an
//! alias wherever a `version` parameter is taken.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Reply, TestApp, bearer, spawn_app, uuid_of};

/// A dataset with versions 0 (2 rows), 1 (3 rows) and 2 (1 row), in its own project.
async fn three_versions(app: &TestApp) -> (Uuid, Uuid, Vec<Value>) {
    let project = app.create_project(&app.admin_key, "Aliases").await;
    let v0 = app.upload(&app.admin_key, project, "Scores", "s.csv", b"id,score\n1,10\n2,20\n").await.expect(201);
    let id = uuid_of(&v0["dataset_id"]);
    let v1 = app.new_version(&app.admin_key, id, "more", b"id,score\n1,10\n2,20\n3,30\n").await.expect(201);
    let v2 = app.new_version(&app.admin_key, id, "fewer", b"id,score\n9,90\n").await.expect(201);
    (project, id, vec![v0, v1, v2])
}

async fn put_alias(app: &TestApp, key: &str, id: Uuid, alias: &str, version: i64) -> Reply {
    let path = format!("/api/datasets/{id}/aliases/{alias}");
    app.send(app.client.put(path).header("Authorization", bearer(key)).body_json(&json!({"version": version}))).await
}

#[tokio::test]
async fn an_alias_is_set_moved_listed_and_removed_and_its_history_keeps_every_change() {
    let app = spawn_app().await;
    let (_, id, versions) = three_versions(&app).await;

    let set = put_alias(&app, &app.admin_key, id, "production", 0).await;
    let body = set.expect(200);
    assert_eq!(body["alias"], "production");
    assert_eq!(body["version"], 0);
    assert_eq!(body["dataset_version_id"], versions[0]["dataset_version_id"]);
    assert_eq!(body["updated_by_name"], "admin");
    assert!(body["updated_at"].is_string() && body["updated_by"].is_string(), "{body}");
    assert!(set.headers.get("etag").is_some(), "an alias change answers the dataset's new ETag");

    let moved = put_alias(&app, &app.admin_key, id, "production", 1).await.expect(200);
    assert_eq!(moved["version"], 1);
    put_alias(&app, &app.admin_key, id, "staging", 2).await.expect(200);

    let list = app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases")).await.expect(200);
    let names: Vec<(&str, i64)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["alias"].as_str().unwrap(), a["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(names, [("production", 1), ("staging", 2)]);

    let removed = app.delete(&app.admin_key, &format!("/api/datasets/{id}/aliases/production")).await;
    assert_eq!(removed.status, 204);
    assert!(removed.body.is_empty());
    app.delete(&app.admin_key, &format!("/api/datasets/{id}/aliases/production")).await.expect_error(404, "not_found");
    put_alias(&app, &app.admin_key, id, "production", 2).await.expect(200);

    let history = app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases/production/history")).await.expect(200);
    assert_eq!(history["alias"], "production");
    let moves: Vec<(Value, Value)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from_version"].clone(), m["to_version"].clone()))
        .collect();
    assert_eq!(
        moves,
        [(Value::Null, json!(0)), (json!(0), json!(1)), (json!(1), Value::Null), (Value::Null, json!(2))],
        "every change, oldest first"
    );
    assert!(
        history["items"].as_array().unwrap().iter().all(|m| m["moved_by_name"] == "admin" && m["moved_at"].is_string())
    );
    assert_eq!(history["items"][3]["to_dataset_version_id"], versions[2]["dataset_version_id"]);
    app.get(&app.admin_key, &format!("/api/datasets/{id}/aliases/never/history")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn latest_numbers_and_malformed_names_cannot_be_aliases() {
    let app = spawn_app().await;
    let (_, id, _) = three_versions(&app).await;
    for refused in ["latest", "7", "1e3", "inf", "nan", "Production", "-x", "9lives", "a.b", &"a".repeat(64)] {
        let path = format!("/api/datasets/{id}/aliases/{refused}");
        let reply = app
            .send(
                app.client.put(path).header("Authorization", bearer(&app.admin_key)).body_json(&json!({"version": 0})),
            )
            .await;
        assert_eq!(reply.status, 400, "{refused}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "bad_request", "{refused}");
    }
    let longest = "a".repeat(63);
    put_alias(&app, &app.admin_key, id, &longest, 0).await.expect(200);
    put_alias(&app, &app.admin_key, id, "v_1-rc", 0).await.expect(200);
    let message = put_alias(&app, &app.admin_key, id, "gold", 3).await.expect_error(400, "bad_request");
    assert!(message.contains("no version 3"), "{message}");
    put_alias(&app, &app.admin_key, id, "gold", -1).await.expect_error(400, "bad_request");
    put_alias(&app, &app.admin_key, Uuid::new_v4(), "gold", 0).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn editors_move_aliases_and_viewers_only_read_them() {
    let app = spawn_app().await;
    let (project, id, _) = three_versions(&app).await;
    let (editor, editor_key) = app.create_user("Eddie Editor").await;
    let (viewer, viewer_key) = app.create_user("Vera Viewer").await;
    let (_, stranger_key) = app.create_user("Stan Stranger").await;
    app.add_member(project, editor, "editor").await;
    app.add_member(project, viewer, "viewer").await;

    let set = put_alias(&app, &editor_key, id, "production", 1).await.expect(200);
    assert_eq!(set["updated_by_name"], "Eddie Editor");
    put_alias(&app, &viewer_key, id, "production", 2).await.expect_error(403, "forbidden");
    app.delete(&viewer_key, &format!("/api/datasets/{id}/aliases/production")).await.expect_error(403, "forbidden");
    let list = app.get(&viewer_key, &format!("/api/datasets/{id}/aliases")).await.expect(200);
    assert_eq!(list["items"][0]["version"], 1, "the viewer's attempts changed nothing");
    app.get(&viewer_key, &format!("/api/datasets/{id}/aliases/production/history")).await.expect(200);
    app.get(&stranger_key, &format!("/api/datasets/{id}/aliases")).await.expect_error(404, "not_found");
    put_alias(&app, &stranger_key, id, "production", 2).await.expect_error(404, "not_found");
    let anonymous = app.send(app.client.get(format!("/api/datasets/{id}/aliases"))).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_alias_names_its_version_wherever_a_version_is_taken() {
    let app = spawn_app().await;
    let (_, id, versions) = three_versions(&app).await;
    put_alias(&app, &app.admin_key, id, "gold", 1).await.expect(200);
    let key = &app.admin_key;

    let detail = app.get(key, &format!("/api/datasets/{id}?version=gold")).await.expect(200);
    assert_eq!(detail["dataset"]["dataset_version_id"], versions[1]["dataset_version_id"]);
    assert_eq!(detail["dataset"]["rows"], 3);
    let by_number = app.get(key, &format!("/api/datasets/{id}/columns?version=1")).await.expect(200);
    assert_eq!(app.get(key, &format!("/api/datasets/{id}/columns?version=gold")).await.expect(200), by_number);
    let csv = app.get(key, &format!("/api/datasets/{id}/download?version=gold")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text(), "id,score\r\n1,10\r\n2,20\r\n3,30\r\n");
    let analyze = app.get(key, &format!("/api/datasets/{id}/analyze?version=gold")).await.expect(200);
    assert_eq!(analyze, app.get(key, &format!("/api/datasets/{id}/analyze?version=1")).await.expect(200));
    let quality = app.get(key, &format!("/api/datasets/{id}/quality?version=gold")).await.expect(200);
    assert_eq!(quality, app.get(key, &format!("/api/datasets/{id}/quality?version=1")).await.expect(200));
    let rows = app.get(key, &format!("/api/datasets/{id}/rows?version=gold")).await.expect(200);
    assert_eq!(rows["version"], 1);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3);
    let query = json!({"sql": "SELECT count(*) AS n FROM data", "version": "gold"});
    let counted = app.post_json(key, &format!("/api/datasets/{id}/query"), query).await.expect(200);
    assert_eq!(counted["rows"], json!([{"n": 3}]));
    let compared = app.get(key, &format!("/api/datasets/{id}/compare?v1=0&v2=gold")).await.expect(200);
    assert_eq!((compared["summary"]["v1"].clone(), compared["summary"]["v2"].clone()), (json!(0), json!(1)));
    assert_eq!(compared["summary"]["rows_diff"], 1);

    // Moving the alias moves every read that names it.
    put_alias(&app, key, id, "gold", 2).await.expect(200);
    let csv = app.get(key, &format!("/api/datasets/{id}/download?version=gold")).await;
    assert_eq!(csv.text(), "id,score\r\n9,90\r\n");
    // An alias that does not exist is a version that does not exist.
    app.get(key, &format!("/api/datasets/{id}?version=silver")).await.expect_error(404, "not_found");
    app.get(key, &format!("/api/datasets/{id}/compare?v1=silver&v2=0")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn an_experiment_may_name_an_alias_and_records_the_version_it_named_then() {
    let app = spawn_app().await;
    let (project, id, versions) = three_versions(&app).await;
    put_alias(&app, &app.admin_key, id, "training", 1).await.expect(200);
    let body = json!({"project_id": project, "name": "Run", "dataset_id": id, "dataset_alias": "training"});
    let experiment = app.post_json(&app.admin_key, "/api/experiments", body).await.expect(201);
    assert_eq!(experiment["dataset_alias"], "training");
    assert_eq!(experiment["dataset_version_id"], versions[1]["dataset_version_id"]);

    put_alias(&app, &app.admin_key, id, "training", 2).await.expect(200);
    let listed = app.get(&app.admin_key, &format!("/api/experiments?project_id={project}")).await.expect(200);
    assert_eq!(
        listed["items"][0]["dataset_version_id"], versions[1]["dataset_version_id"],
        "recorded, not re-resolved"
    );

    let both = json!({"project_id": project, "name": "Both", "dataset_id": id, "dataset_alias": "training",
                      "dataset_version_id": versions[0]["dataset_version_id"]});
    app.post_json(&app.admin_key, "/api/experiments", both).await.expect_error(400, "bad_request");
    let unknown = json!({"project_id": project, "name": "Unknown", "dataset_id": id, "dataset_alias": "nope"});
    let message = app.post_json(&app.admin_key, "/api/experiments", unknown).await.expect_error(400, "bad_request");
    assert!(message.contains("nope"), "{message}");
}
