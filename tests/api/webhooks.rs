//! Webhooks: registration and its checks, signed deliveries to a receiver on 127.0.0.1,
//! retries with the same `webhook-id`, deletion, redelivery, rotation, drift. The dispatcher is
//! run step by step (`dispatch_due_deliveries`) rather than in the background.
//!
//! A dispatcher claims every due delivery of its database, so the tests that run one need a
//! database of their own: they run on SQLite (a file per test) and are skipped when the suite
//! runs on a shared database (`TEST_DATABASE_URL`). The store's claims and leases are checked
//! on PostgreSQL and MariaDB by the metadata contract suite, and deliveries by two instances on
//! PostgreSQL by `scripts/test-webhooks.sh`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datasets_api::domain::webhooks::retry::RetrySchedule;
use datasets_api::domain::webhooks::signature::Secret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_configured, uuid_of};

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP receiver on 127.0.0.1 answering the scripted status codes in turn (the last one
/// from then on) and recording every request.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(answers: Vec<u16>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let endpoint = poem::endpoint::make(move |req: poem::Request| {
        let recorded = Arc::clone(&recorded);
        let answers = answers.clone();
        async move {
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let body = req.into_body().into_string().await.unwrap_or_default();
            let n = {
                let mut seen = recorded.lock().unwrap();
                seen.push(Received { headers, body });
                seen.len()
            };
            let status = answers[(n - 1).min(answers.len() - 1)];
            poem::Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap()).body("ok")
        }
    });
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    Receiver { url: format!("http://127.0.0.1:{port}/hook"), seen }
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }
}

/// Whether this test has a database of its own (see the module's documentation); prints why
/// it is skipped when not.
fn own_database() -> bool {
    let shared = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    if shared {
        eprintln!("skipped on a shared database: a dispatcher would claim other tests' deliveries");
    }
    !shared
}

/// An app that may deliver to 127.0.0.1, retrying after 1 s then 1 s.
async fn local_app() -> TestApp {
    spawn_app_configured(|s| {
        s.webhook_allow_private_targets = true;
        s.webhook_retry_schedule = RetrySchedule::parse("1,1").unwrap();
    })
    .await
}

async fn register(app: &TestApp, project: uuid::Uuid, url: &str, events: &[&str]) -> Value {
    let body = json!({"url": url, "events": events, "description": "test"});
    app.post_json(&app.admin_key, &format!("/api/projects/{project}/webhooks"), body).await.expect(201)
}

async fn dispatch(app: &TestApp) -> usize {
    app.app.dispatch_due_deliveries().await.expect("dispatch")
}

/// The receiver's request verified as a Standard Webhooks receiver verifies it.
fn verify(secret: &str, got: &Received) -> Value {
    let id = &got.headers["webhook-id"];
    let timestamp: i64 = got.headers["webhook-timestamp"].parse().unwrap();
    let expected = Secret::parse(secret).unwrap().sign(id, timestamp, got.body.as_bytes());
    assert!(got.headers["webhook-signature"].split(' ').any(|s| s == expected), "{got:?}");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(got.headers["content-type"], "application/json");
    serde_json::from_str(&got.body).unwrap()
}

#[tokio::test]
async fn a_delivery_is_signed_and_retried_with_the_same_webhook_id_until_it_succeeds() {
    if !own_database() {
        return;
    }
    let app = local_app().await;
    let hook_server = receiver(vec![500, 500, 200]).await;
    let project = app.create_project(&app.admin_key, "Hooked").await;
    let hook = register(&app, project, &hook_server.url, &["version.created"]).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{hook}");
    assert_eq!(hook["events"], json!(["version.created"]));
    let up = app.upload(&app.admin_key, project, "Sales", "s.csv", b"a,b\n1,x\n").await.expect(201);
    assert_eq!(dispatch(&app).await, 1);
    assert_eq!(dispatch(&app).await, 0, "the retry waits its turn");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(dispatch(&app).await, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(dispatch(&app).await, 1);
    let got = hook_server.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<&String> = got.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event, one id: {ids:?}");
    for request in &got {
        let body = verify(&secret, request);
        assert_eq!(body["type"], "version.created");
        assert_eq!(body["data"]["dataset_id"], up["dataset_id"]);
        assert_eq!(body["data"]["dataset_version_id"], up["dataset_version_id"]);
        assert_eq!(body["data"]["project_id"], json!(project));
        assert_eq!(body["data"]["version"], 0);
    }
    let id = uuid_of(&hook["id"]);
    let deliveries = app.get(&app.admin_key, &format!("/api/webhooks/{id}/deliveries")).await.expect(200);
    let delivery = &deliveries["items"][0];
    assert_eq!(deliveries["total"], 1);
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_status_code"], 200);
    assert_eq!(delivery["type"], "version.created");
    assert_eq!(delivery["event_id"].as_str(), Some(ids[0].as_str()));
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    let metrics = app.client.get("/metrics").send().await.0.into_body().into_string().await.unwrap();
    assert!(metrics.contains(r#"datasets_api_webhook_attempts_total{outcome="retry"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"datasets_api_webhook_attempts_total{outcome="delivered"} 1"#), "{metrics}");
}

#[tokio::test]
async fn after_the_last_retry_a_delivery_has_failed_and_redeliver_sends_it_again() {
    if !own_database() {
        return;
    }
    let app = spawn_app_configured(|s| {
        s.webhook_allow_private_targets = true;
        s.webhook_retry_schedule = RetrySchedule::parse("").unwrap();
    })
    .await;
    let hook_server = receiver(vec![503, 204]).await;
    let project = app.create_project(&app.admin_key, "Failing").await;
    let hook = register(&app, project, &hook_server.url, &["dataset.created", "version.created"]).await;
    let id = uuid_of(&hook["id"]);
    app.upload(&app.admin_key, project, "One", "s.csv", b"a\n1\n").await.expect(201);
    assert_eq!(dispatch(&app).await, 2, "dataset.created and version.created");
    let deliveries = app.get(&app.admin_key, &format!("/api/webhooks/{id}/deliveries")).await.expect(200);
    let items = deliveries["items"].as_array().unwrap();
    let failed: Vec<&Value> = items.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{deliveries}");
    assert_eq!(failed[0]["last_status_code"], 503);
    assert_eq!(failed[0]["last_error"], "HTTP 503");
    let delivery = failed[0]["id"].as_str().unwrap();
    let path = format!("/api/webhooks/{id}/deliveries/{delivery}/redeliver");
    let again = app.post_json(&app.admin_key, &path, json!({})).await;
    assert_eq!(again.status.as_u16(), 202);
    assert_eq!(dispatch(&app).await, 1);
    let got = hook_server.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].headers["webhook-id"], failed[0]["event_id"].as_str().unwrap(), "the same event again");
    let deliveries = app.get(&app.admin_key, &format!("/api/webhooks/{id}/deliveries")).await.expect(200);
    assert!(deliveries["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered"), "{deliveries}");
    let missing = format!("/api/webhooks/{id}/deliveries/{}/redeliver", uuid::Uuid::new_v4());
    app.post_json(&app.admin_key, &missing, json!({})).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_deleted_webhook_gets_nothing_more_and_a_rotated_secret_signs_what_follows() {
    if !own_database() {
        return;
    }
    let app = local_app().await;
    let hook_server = receiver(vec![500]).await;
    let project = app.create_project(&app.admin_key, "Deleting").await;
    let hook = register(&app, project, &hook_server.url, &["version.created"]).await;
    let id = uuid_of(&hook["id"]);
    let rotated = app.post_json(&app.admin_key, &format!("/api/webhooks/{id}/rotate-secret"), json!({})).await;
    let rotated = rotated.expect(200);
    assert_ne!(rotated["secret"], hook["secret"]);
    let up = app.upload(&app.admin_key, project, "D", "s.csv", b"a\n1\n").await.expect(201);
    assert_eq!(dispatch(&app).await, 1);
    verify(rotated["secret"].as_str().unwrap(), &hook_server.received()[0]);
    let listed = app.get(&app.admin_key, &format!("/api/projects/{project}/webhooks")).await.expect(200);
    assert_eq!(listed["items"][0]["id"], hook["id"]);
    assert!(listed["items"][0].get("secret").is_none(), "a listing never shows the secret");
    let deleted = app.delete(&app.admin_key, &format!("/api/webhooks/{id}")).await;
    assert_eq!(deleted.status.as_u16(), 204);
    let dataset = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, dataset, "v1", b"a\n2\n").await.expect(201);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(dispatch(&app).await, 0);
    assert_eq!(hook_server.received().len(), 1, "no retry and no new event after the deletion");
    app.get(&app.admin_key, &format!("/api/webhooks/{id}/deliveries")).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn targets_inside_the_network_and_malformed_webhooks_are_refused_with_400() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Guarded").await;
    let path = format!("/api/projects/{project}/webhooks");
    for (url, events, says) in [
        ("http://127.0.0.1:9000/hook", json!(["version.created"]), "loopback"),
        ("http://localhost:9000/hook", json!(["version.created"]), "loopback"),
        ("http://169.254.169.254/latest/meta-data", json!(["version.created"]), "metadata"),
        ("http://10.1.2.3/", json!(["version.created"]), "private"),
        ("http://[::ffff:192.168.0.1]/", json!(["version.created"]), "private"),
        ("ftp://example.com/", json!(["version.created"]), "scheme"),
        ("https://user:pw@example.com/", json!(["version.created"]), "password"),
        ("https://93.184.216.34/", json!(["version.made"]), "unknown event"),
        ("https://93.184.216.34/", json!([]), "at least one event"),
    ] {
        let reply = app.post_json(&app.admin_key, &path, json!({"url": url, "events": events})).await;
        let message = reply.expect_error(400, "bad_request");
        assert!(message.contains(says), "{url}: {message}");
    }
    // Owners only: an editor of the project may not register one.
    let (editor_id, editor) = app.create_user("Editor").await;
    app.add_member(project, editor_id, "editor").await;
    let body = json!({"url": "https://93.184.216.34/", "events": ["version.created"]});
    app.post_json(&editor, &path, body).await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_version_that_drifted_from_the_one_before_is_announced_and_one_that_did_not_is_not() {
    if !own_database() {
        return;
    }
    let app = local_app().await;
    let hook_server = receiver(vec![204]).await;
    let project = app.create_project(&app.admin_key, "Drifting").await;
    let hook = register(&app, project, &hook_server.url, &["drift.detected"]).await;
    let csv = |shift: i64| {
        let mut text = String::from("amount,city\n");
        for i in 0..200 {
            text.push_str(&format!("{},{}\n", i + shift, ["Paris", "Lyon"][(i % 2) as usize]));
        }
        text.into_bytes()
    };
    let up = app.upload(&app.admin_key, project, "Sales", "s.csv", &csv(0)).await.expect(201);
    let dataset = uuid_of(&up["dataset_id"]);
    assert!(!app.app.check_pending_drift().await.unwrap(), "the first version has nothing to drift from");
    app.new_version(&app.admin_key, dataset, "same", &csv(0)).await.expect(201);
    assert!(app.app.check_pending_drift().await.unwrap());
    let shifted = app.new_version(&app.admin_key, dataset, "shifted", &csv(1_000)).await.expect(201);
    assert!(app.app.check_pending_drift().await.unwrap());
    assert!(!app.app.check_pending_drift().await.unwrap(), "every check is made once");
    assert_eq!(dispatch(&app).await, 1, "one version drifted");
    let got = hook_server.received();
    let body = verify(hook["secret"].as_str().unwrap(), &got[0]);
    assert_eq!(body["type"], "drift.detected");
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(body["data"]["compared_with_version"], 1);
    assert_eq!(body["data"]["dataset_version_id"], shifted["dataset_version_id"]);
    assert_eq!(body["data"]["drifted_columns"], json!(["amount"]));
    assert_eq!(body["data"]["drift_share"], 0.5);
}
