//! `Idempotency-Key` on the operations that create something.

use std::sync::Arc;

use datasets_api::app::idempotency::Admission;
use datasets_api::domain::idempotency::{IdempotencyKey, KeyClaim, KeyOwner, KeyState};
use datasets_api::domain::ids::UserId;
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Reply, TestApp, bearer, spawn_app, spawn_app_configured, uuid_of};

/// A multipart upload form written out by hand, with the given boundary (clients pick a new
/// one for each attempt).
fn upload_body(boundary: &str, project: Uuid, name: &str, csv: &str) -> Vec<u8> {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"project_id\"\r\n\r\n{project}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    )
    .into_bytes()
}

async fn keyed_upload(
    client: &TestClient<BoxEndpoint<'static, Response>>,
    app: &TestApp,
    key: &str,
    boundary: &str,
    body: Vec<u8>,
) -> Reply {
    let request = client
        .post("/api/datasets/upload")
        .header("Authorization", bearer(&app.admin_key))
        .header("Idempotency-Key", key)
        .content_type(format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    app.send(request).await
}

async fn keyed_json(app: &TestApp, user_key: &str, path: &str, key: &str, body: &Value) -> Reply {
    let request =
        app.client.post(path).header("Authorization", bearer(user_key)).header("Idempotency-Key", key).body_json(body);
    app.send(request).await
}

fn replayed(reply: &Reply) -> Option<&str> {
    reply.headers.get("Idempotent-Replayed").map(|v| v.to_str().unwrap())
}

async fn dataset_count(app: &TestApp, project: Uuid) -> u64 {
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    list["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_retried_upload_replays_the_first_answer_whatever_its_boundary_and_stores_nothing() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Retries").await;
    let csv = "id,label\n1,a\n2,b\n";
    let first =
        keyed_upload(&app.client, &app, "upload-1", "AaB03x", upload_body("AaB03x", project, "Sales", csv)).await;
    let created = first.expect(201);
    assert_eq!(replayed(&first), None);
    let stored = app.stored_artifacts().await;

    let retry = keyed_upload(&app.client, &app, "upload-1", "q9-zz", upload_body("q9-zz", project, "Sales", csv)).await;
    assert_eq!(retry.expect(201), created, "the same status and body");
    assert_eq!(retry.body, first.body, "byte for byte");
    assert_eq!(replayed(&retry), Some("true"));
    assert_eq!(dataset_count(&app, project).await, 1);
    assert_eq!(app.stored_artifacts().await.len(), stored.len(), "nothing stored again");

    let other_file = upload_body("AaB03x", project, "Sales", "id,label\n1,a\n2,c\n");
    let reused = keyed_upload(&app.client, &app, "upload-1", "AaB03x", other_file.clone()).await;
    assert!(reused.expect_error(422, "idempotency_key_reused").contains("different request"));
    assert_eq!(dataset_count(&app, project).await, 1);

    let fresh = keyed_upload(&app.client, &app, "upload-2", "AaB03x", other_file).await;
    assert_eq!(fresh.status, 201, "a new key is a new request");
    assert_eq!(dataset_count(&app, project).await, 2);
}

#[tokio::test]
async fn every_creating_json_operation_replays_its_first_answer() {
    let app = spawn_app().await;
    let project = json!({"name": "Keyed project"});
    let first = keyed_json(&app, &app.admin_key, "/api/projects", "p-1", &project).await;
    let created = first.expect(201);
    let again = keyed_json(&app, &app.admin_key, "/api/projects", "p-1", &project).await;
    assert_eq!((again.expect(201), replayed(&again)), (created.clone(), Some("true")));
    let projects = app.get(&app.admin_key, "/api/projects").await;
    assert_eq!(projects.text().matches("\"Keyed project\"").count(), 1, "one project: {}", projects.text());

    let project_id = uuid_of(&created["id"]);
    let up = app.upload(&app.admin_key, project_id, "D", "d.csv", b"a\n1\n").await.expect(201);
    let experiment = json!({"project_id": project_id, "name": "run", "dataset_id": up["dataset_id"]});
    let e1 = keyed_json(&app, &app.admin_key, "/api/experiments", "e-1", &experiment).await.expect(201);
    let e2 = keyed_json(&app, &app.admin_key, "/api/experiments", "e-1", &experiment).await;
    assert_eq!((e2.expect(201), replayed(&e2)), (e1.clone(), Some("true")));
    let model = json!({"experiment_id": e1["id"], "name": "m", "algorithm": "xgboost"});
    let m1 = keyed_json(&app, &app.admin_key, "/api/models", "m-1", &model).await.expect(201);
    let m2 = keyed_json(&app, &app.admin_key, "/api/models", "m-1", &model).await;
    assert_eq!((m2.expect(201), replayed(&m2)), (m1.clone(), Some("true")));
    let deployment = json!({"model_id": m1["id"], "name": "api", "stage": "production", "is_active": true});
    let d1 = keyed_json(&app, &app.admin_key, "/api/deployments", "d-1", &deployment).await.expect(201);
    let d2 = keyed_json(&app, &app.admin_key, "/api/deployments", "d-1", &deployment).await;
    assert_eq!((d2.expect(201), replayed(&d2)), (d1, Some("true")));
    let experiments = app.get(&app.admin_key, &format!("/api/experiments?project_id={project_id}")).await.expect(200);
    assert_eq!(experiments["items"].as_array().unwrap().len(), 1);

    // The same key on another path is another request.
    let elsewhere = keyed_json(&app, &app.admin_key, "/api/models", "e-1", &model).await;
    elsewhere.expect_error(422, "idempotency_key_reused");
}

#[tokio::test]
async fn a_new_version_with_a_key_is_created_once() {
    let app = spawn_app().await;
    let up = app.upload_ok("Versions", b"a\n1\n").await;
    let dataset = uuid_of(&up["dataset_id"]);
    let send = |boundary: &'static str| {
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nmore rows\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.csv\"\r\n\r\na\n1\n2\n\r\n\
             --{boundary}--\r\n"
        );
        let request = app
            .client
            .post(format!("/api/datasets/{dataset}/versions"))
            .header("Authorization", bearer(&app.admin_key))
            .header("Idempotency-Key", "v-1")
            .content_type(format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        app.send(request)
    };
    let first = send("one").await.expect(201);
    let again = send("two").await;
    assert_eq!((again.expect(201), replayed(&again)), (first, Some("true")));
    let versions = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/versions")).await.expect(200);
    assert_eq!(versions["total"], 2);
}

#[tokio::test]
async fn keys_belong_to_users_and_must_be_visible_ascii() {
    let app = spawn_app().await;
    let (_, alice) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let a = keyed_json(&app, &alice, "/api/projects", "shared", &json!({"name": "A"})).await.expect(201);
    let b = keyed_json(&app, &bob, "/api/projects", "shared", &json!({"name": "B"})).await;
    assert_eq!(replayed(&b), None, "another user's key is another key");
    assert_ne!(b.expect(201)["id"], a["id"]);

    for bad in ["has space", &"k".repeat(256), "tab\tkey"] {
        let reply = keyed_json(&app, &alice, "/api/projects", bad, &json!({"name": "C"})).await;
        assert!(reply.expect_error(400, "bad_request").contains("Idempotency-Key"), "{bad:?}");
    }
    assert!(keyed_json(&app, &alice, "/api/projects", &"k".repeat(255), &json!({"name": "D"})).await.status == 201);
    let unknown = keyed_json(&app, "not-a-key", "/api/projects", "k", &json!({"name": "E"})).await;
    unknown.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn an_error_answer_is_replayed_and_a_server_error_is_not_recorded() {
    let app = spawn_app().await;
    let invalid = json!({"name": "   "});
    let first = keyed_json(&app, &app.admin_key, "/api/projects", "bad-1", &invalid).await;
    first.expect_error(400, "bad_request");
    let again = keyed_json(&app, &app.admin_key, "/api/projects", "bad-1", &invalid).await;
    assert_eq!((again.status.as_u16(), replayed(&again)), (400, Some("true")));
    assert_eq!(again.body, first.body);
}

#[tokio::test]
async fn a_request_finding_its_key_held_gets_409_with_retry_after_then_runs_once_it_is_free() {
    let app = spawn_app().await;
    let admin = app.app.authenticate(&app.admin_key).await.unwrap().expect("the admin");
    let owner = KeyOwner { user: admin.user_id, key: IdempotencyKey::parse(b"held").unwrap() };
    let Admission::Run(hold) = app.app.admit_keyed(owner).await.expect("a claim") else { panic!("not claimed") };

    let body = json!({"name": "Held"});
    let busy = keyed_json(&app, &app.admin_key, "/api/projects", "held", &body).await;
    busy.expect_error(409, "conflict");
    let retry_after: u64 = busy.headers.get("Retry-After").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=15).contains(&retry_after), "{retry_after}");

    hold.finish(None).await.expect("letting the key go");
    let runs = keyed_json(&app, &app.admin_key, "/api/projects", "held", &body).await;
    assert_eq!((runs.status.as_u16(), replayed(&runs)), (201, None));
}

#[tokio::test]
async fn a_key_whose_holder_died_is_taken_over_and_an_expired_key_is_new_again() {
    let app = spawn_app_configured(|s| s.idempotency_ttl_seconds = 1).await;
    let admin = app.app.authenticate(&app.admin_key).await.unwrap().expect("the admin");
    let now = chrono::Utc::now();
    let dead = KeyClaim {
        owner: KeyOwner { user: UserId(admin.user_id.0), key: IdempotencyKey::parse(b"orphan").unwrap() },
        token: Uuid::new_v4(),
        now: now - chrono::Duration::seconds(120),
        lease_until: now - chrono::Duration::seconds(60),
        expires_at: now + chrono::Duration::hours(1),
    };
    assert_eq!(app.app.metadata.claim_idempotency_key(&dead).await.unwrap(), KeyState::Claimed);
    let body = json!({"name": "Orphan"});
    let taken = keyed_json(&app, &app.admin_key, "/api/projects", "orphan", &body).await;
    assert_eq!((taken.status.as_u16(), replayed(&taken)), (201, None));

    let first = keyed_json(&app, &app.admin_key, "/api/projects", "short-lived", &json!({"name": "One"})).await;
    let first = first.expect(201);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after_ttl = keyed_json(&app, &app.admin_key, "/api/projects", "short-lived", &json!({"name": "One"})).await;
    assert_eq!(replayed(&after_ttl), None, "the key expired");
    assert_ne!(after_ttl.expect(201)["id"], first["id"]);
}

/// 16 clients send one upload with one key at once, half through each of two instances on
/// one database: one version, and every other answer a 409 or a replay of the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_sending_one_keyed_upload_through_two_instances_create_one_version() {
    let app = Arc::new(spawn_app().await);
    let second = Arc::new(app.second_instance().await);
    let project = app.create_project(&app.admin_key, "Race").await;
    let csv: String =
        std::iter::once("id,value\n".to_string()).chain((0..2000).map(|i| format!("{i},{}\n", i * 3))).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (app, second, barrier) = (Arc::clone(&app), Arc::clone(&second), Arc::clone(&barrier));
            let boundary = format!("client-{i}");
            let body = upload_body(&boundary, project, "Raced", &csv);
            tokio::spawn(async move {
                barrier.wait().await;
                let client = if i % 2 == 0 { &app.client } else { second.as_ref() };
                keyed_upload(client, &app, "race-key", &boundary, body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let created: Vec<&Reply> = answers.iter().filter(|r| r.status == 201 && replayed(r).is_none()).collect();
    assert_eq!(created.len(), 1, "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    let first = created[0];
    for reply in &answers {
        match (reply.status.as_u16(), replayed(reply)) {
            (201, None) => {}
            (201, Some("true")) => assert_eq!(reply.body, first.body, "a replay is the first answer"),
            (409, None) => assert!(reply.headers.contains_key("Retry-After")),
            other => panic!("unexpected answer {other:?}: {}", String::from_utf8_lossy(&reply.body)),
        }
    }
    assert_eq!(dataset_count(&app, project).await, 1);
    let after = keyed_upload(&app.client, &app, "race-key", "late", upload_body("late", project, "Raced", &csv)).await;
    assert_eq!((after.status.as_u16(), replayed(&after)), (201, Some("true")));
    assert_eq!(after.body, first.body);
}
