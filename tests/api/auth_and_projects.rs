use serde_json::json;

use crate::helpers::{spawn_app, uuid_of};

#[tokio::test]
async fn health_answers_without_a_key() {
    let app = spawn_app().await;
    let reply = app.send(app.client.get("/health")).await;
    assert_eq!(reply.expect(200), json!({"status": "ok"}));
}

#[tokio::test]
async fn api_routes_refuse_a_missing_or_unknown_key_with_401_json() {
    let app = spawn_app().await;
    let missing = app.send(app.client.get("/api/projects")).await;
    missing.expect_error(401, "unauthorized");
    assert_eq!(missing.headers.get("www-authenticate").unwrap(), "Bearer");
    app.get("not-a-key", "/api/datasets").await.expect_error(401, "unauthorized");
    let wrong_scheme = app.send(app.client.get("/api/projects").header("Authorization", "Basic abc")).await;
    wrong_scheme.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn creating_a_project_returns_it_and_lists_it() {
    let app = spawn_app().await;
    let created = app
        .post_json(&app.admin_key, "/api/projects", json!({"name": " Fraud Detection v2 ", "description": "cards"}))
        .await
        .expect(201);
    assert_eq!(created["name"], "Fraud Detection v2");
    assert_eq!(created["description"], "cards");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'), "UTC timestamps end in Z");
    let id = uuid_of(&created["id"]);
    let list = app.get(&app.admin_key, "/api/projects").await.expect(200);
    assert!(list["items"].as_array().unwrap().iter().any(|p| uuid_of(&p["id"]) == id));
}

#[tokio::test]
async fn a_project_needs_a_name() {
    let app = spawn_app().await;
    app.post_json(&app.admin_key, "/api/projects", json!({"name": "  "})).await.expect_error(400, "bad_request");
    app.post_json(&app.admin_key, "/api/projects", json!({})).await.expect_error(400, "bad_request");
}

#[tokio::test]
async fn only_the_admin_creates_users_and_issues_keys() {
    let app = spawn_app().await;
    let (alice, alice_key) = app.create_user("Alice Chen").await;
    app.post_json(&alice_key, "/api/users", json!({"name": "Mallory"})).await.expect_error(403, "forbidden");
    app.post_json(&alice_key, &format!("/api/users/{alice}/api-keys"), json!(null))
        .await
        .expect_error(403, "forbidden");
    let missing = uuid::Uuid::new_v4();
    app.post_json(&app.admin_key, &format!("/api/users/{missing}/api-keys"), json!(null))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn an_issued_key_authenticates_its_user_and_is_stored_only_as_a_hash() {
    let app = spawn_app().await;
    let (_, key) = app.create_user("Bob").await;
    app.get(&key, "/api/projects").await.expect(200);
    let stored = app.app.metadata.find_principal_by_key_hash(&key).await.unwrap();
    assert!(stored.is_none(), "the plaintext key must not be a stored hash");
    let hashed = datasets_api::domain::access::key_hash(&key);
    assert_eq!(app.app.metadata.find_principal_by_key_hash(&hashed).await.unwrap().unwrap().name, "Bob");
}

#[tokio::test]
async fn users_see_only_projects_they_are_members_of() {
    let app = spawn_app().await;
    let (bob, bob_key) = app.create_user("Bob").await;
    let own = app.create_project(&bob_key, "Bob's").await;
    let other = app.create_project(&app.admin_key, "Admin's").await;
    let listed: Vec<_> = app.get(&bob_key, "/api/projects").await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| uuid_of(&p["id"]))
        .collect();
    assert!(listed.contains(&own));
    assert!(!listed.contains(&other));
    app.add_member(other, bob, "viewer").await;
    let listed = app.get(&bob_key, "/api/projects").await.expect(200);
    assert!(listed["items"].as_array().unwrap().iter().any(|p| uuid_of(&p["id"]) == other));
}

#[tokio::test]
async fn members_are_added_by_owners_with_a_known_role() {
    let app = spawn_app().await;
    let (owner, owner_key) = app.create_user("Owner").await;
    let (viewer, viewer_key) = app.create_user("Viewer").await;
    let project = app.create_project(&owner_key, "P").await;
    let path = format!("/api/projects/{project}/members");
    let added = app.post_json(&owner_key, &path, json!({"user_id": viewer, "role": "viewer"})).await.expect(201);
    assert_eq!(added["role"], "viewer");
    app.post_json(&viewer_key, &path, json!({"user_id": owner, "role": "viewer"})).await.expect_error(403, "forbidden");
    app.post_json(&owner_key, &path, json!({"user_id": viewer, "role": "admin"}))
        .await
        .expect_error(400, "bad_request");
    let nobody = uuid::Uuid::new_v4();
    app.post_json(&owner_key, &path, json!({"user_id": nobody, "role": "editor"})).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn ready_checks_both_stores_without_a_key() {
    let app = spawn_app().await;
    let reply = app.send(app.client.get("/ready")).await;
    assert_eq!(reply.expect(200), json!({"status": "ready", "database": "ok", "artifact_store": "ok"}));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let reply = app.send(app.client.get("/health")).await;
    let id = reply.headers.get("x-request-id").expect("a request id").to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let echoed = app.send(app.client.get("/api/projects").header("X-Request-Id", "client-123")).await;
    assert_eq!(echoed.headers["x-request-id"], "client-123", "a client's id is kept, errors included");
    let refused = app.send(app.client.get("/health").header("X-Request-Id", "bad id\twith spaces")).await;
    assert_ne!(refused.headers["x-request-id"], "bad id\twith spaces");
}

#[tokio::test]
async fn metrics_count_requests_uploads_and_analyze_cache_hits() {
    let app = spawn_app().await;
    let csv = b"a,b\n1,x\n2,y\n3,z\n";
    let up = app.upload_ok("Measured", csv).await;
    let id = up["dataset_id"].as_str().unwrap().to_string();
    app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    let reply = app.send(app.client.get("/metrics")).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert!(reply.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = reply.text();
    let bytes = format!("datasets_api_upload_bytes_total {}", csv.len());
    for expected in [
        r#"datasets_api_http_requests_total{method="POST",operation="upload_dataset",status="201"} 1"#,
        r#"datasets_api_http_requests_total{method="GET",operation="analyze_dataset",status="200"} 2"#,
        bytes.as_str(),
        "datasets_api_rows_ingested_total 3",
        "datasets_api_ingest_duration_seconds_count 1",
        r#"datasets_api_analyze_total{result="computed"} 1"#,
        r#"datasets_api_http_request_duration_seconds_count{method="GET",operation="analyze_dataset"} 2"#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.contains(r#"datasets_api_analyze_total{result="hit"}"#), "{text}");
}
