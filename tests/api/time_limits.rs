//! Time limits and method answers: an upload whose body stops arriving is answered
//! `408 request_timeout` and leaves nothing behind; a slow but steady upload is not cut off;
//! any other request past `REQUEST_TIMEOUT_SECONDS` is answered `503 timeout`; a 405 names the
//! allowed methods in `Allow`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use datasets_api::adapters::http::limits::HttpLimits;
use datasets_api::adapters::http::routes_with;
use datasets_api::ports::StoreError;
use datasets_api::ports::tables::{BatchStream, TableSource};
use futures_util::StreamExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestForm, TestFormField};
use poem::{Body, EndpointExt, Response};

use crate::helpers::{Reply, TestApp, files_under, spawn_app, uuid_of};

type Client = TestClient<BoxEndpoint<'static, Response>>;

fn limited(app: &TestApp, limits: HttpLimits) -> Client {
    TestClient::new(routes_with(app.app.clone(), limits).boxed())
}

async fn read(resp: poem::test::TestResponse) -> Reply {
    let response = resp.0;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().into_bytes().await.expect("body");
    Reply { status, headers, body }
}

const BOUNDARY: &str = "XyZbOuNdArY";

fn form_head(project: uuid::Uuid) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"project_id\"\r\n\r\n{project}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nSlow\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n\
         Content-Type: text/csv\r\n\r\na,b\n"
    )
}

fn form_tail() -> String {
    format!("\r\n--{BOUNDARY}--\r\n")
}

async fn post_upload(client: &Client, key: &str, body: Body) -> Reply {
    let req = client
        .post("/api/datasets/upload")
        .header("Authorization", format!("Bearer {key}"))
        .content_type(format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    read(req.send().await).await
}

#[tokio::test]
async fn an_upload_whose_body_stops_arriving_is_answered_408_and_leaves_nothing() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Stalls").await;
    let limits = HttpLimits { upload_idle_timeout: Duration::from_millis(300), ..HttpLimits::default() };
    let client = limited(&app, limits);
    // Part of the file, then nothing, ever.
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(form_head(project) + "1,2\n"))]);
    let body = Body::from_bytes_stream(head.chain(futures_util::stream::pending()));
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(20), post_upload(&client, &app.admin_key, body))
        .await
        .expect("the server answers instead of waiting forever");
    let message = reply.expect_error(408, "request_timeout");
    assert!(message.contains("UPLOAD_IDLE_TIMEOUT_SECONDS"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
    assert!(files_under(&app.spool_dir()).is_empty(), "the spooled part is deleted");
    assert!(app.stored_artifacts().await.is_empty());
}

#[tokio::test]
async fn a_new_version_whose_body_stops_arriving_is_answered_408() {
    let app = spawn_app().await;
    let dataset = uuid_of(&app.upload_ok("Versioned", b"a,b\n1,2\n").await["dataset_id"]);
    let limits = HttpLimits { upload_idle_timeout: Duration::from_millis(300), ..HttpLimits::default() };
    let client = limited(&app, limits);
    // The body stalls inside a text field this time.
    let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nhalf a desc");
    let body = Body::from_bytes_stream(
        futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(head))]).chain(futures_util::stream::pending()),
    );
    let req = client
        .post(format!("/api/datasets/{dataset}/versions"))
        .header("Authorization", format!("Bearer {}", app.admin_key))
        .content_type(format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body);
    let reply = tokio::time::timeout(Duration::from_secs(20), async { read(req.send().await).await })
        .await
        .expect("the server answers instead of waiting forever");
    reply.expect_error(408, "request_timeout");
    let versions = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/versions")).await.expect(200);
    assert_eq!(versions["total"], 1);
}

#[tokio::test]
async fn a_slow_but_steady_upload_is_not_cut_off() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Steady").await;
    // Each chunk comes well within the idle limit; the whole body takes longer than it, and
    // longer than the request time limit, which does not apply to uploads.
    let limits =
        HttpLimits { upload_idle_timeout: Duration::from_millis(400), request_timeout: Duration::from_millis(300) };
    let client = limited(&app, limits);
    let mut chunks: Vec<String> = vec![form_head(project)];
    chunks.extend((0..8).map(|i| format!("{i},{}\n", i * 2)));
    chunks.push(form_tail());
    let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    let started = Instant::now();
    let body = post_upload(&client, &app.admin_key, Body::from_bytes_stream(stream)).await.expect(201);
    assert!(started.elapsed() >= Duration::from_millis(900), "the body really was slow: {:?}", started.elapsed());
    let dataset = uuid_of(&body["dataset_id"]);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{dataset}")).await.expect(200);
    assert_eq!(detail["dataset"]["rows"], 8);
}

/// The real tables, each read starting only after `delay`.
struct SlowTables {
    inner: Arc<dyn TableSource>,
    delay: Duration,
}

#[async_trait]
impl TableSource for SlowTables {
    async fn batches(&self, key: &str, columns: Option<Vec<usize>>) -> Result<BatchStream, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.batches(key, columns).await
    }

    async fn content_digests(&self, key: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.content_digests(key).await
    }
}

#[tokio::test]
async fn a_request_past_the_time_limit_is_answered_503_timeout() {
    let app = spawn_app().await;
    let mut slow = app.app.clone();
    slow.tables = Arc::new(SlowTables { inner: Arc::clone(&app.app.tables), delay: Duration::from_secs(30) });
    slow.settings.precompute_statistics = false;
    let limits = HttpLimits { request_timeout: Duration::from_millis(500), ..HttpLimits::default() };
    let client = TestClient::new(routes_with(slow, limits).boxed());
    // Uploaded through the slow app, so that no statistics are computed in the background.
    let project = app.create_project(&app.admin_key, "Slow").await;
    let form = TestForm::new()
        .text("project_id", project.to_string())
        .text("name", "Slow stats")
        .field(TestFormField::bytes(b"a,b\n1,2\n3,4\n".to_vec()).name("file").filename("s.csv"));
    let upload = client.post("/api/datasets/upload").header("Authorization", format!("Bearer {}", app.admin_key));
    let dataset = uuid_of(&read(upload.multipart(form).send().await).await.expect(201)["dataset_id"]);
    let started = Instant::now();
    let reply = read(
        client
            .get(format!("/api/datasets/{dataset}/analyze"))
            .header("Authorization", format!("Bearer {}", app.admin_key))
            .send()
            .await,
    )
    .await;
    let message = reply.expect_error(503, "timeout");
    assert!(message.contains("REQUEST_TIMEOUT_SECONDS"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    // Quick requests through the same limits are untouched.
    let ok =
        client.get(format!("/api/datasets/{dataset}")).header("Authorization", format!("Bearer {}", app.admin_key));
    read(ok.send().await).await.expect(200);
}

#[tokio::test]
async fn a_405_answer_names_the_allowed_methods() {
    let app = spawn_app().await;
    let auth = format!("Bearer {}", app.admin_key);
    let cases = [
        (app.client.put("/api/projects"), "GET, HEAD, POST"),
        (app.client.patch(format!("/api/datasets/{}", uuid::Uuid::nil())), "DELETE, GET, HEAD"),
        (app.client.get("/api/datasets/upload"), "POST"),
        (app.client.delete("/health"), "GET, HEAD"),
        (app.client.post("/metrics"), "GET, HEAD"),
    ];
    for (req, allowed) in cases {
        let reply = app.send(req.header("Authorization", &auth)).await;
        reply.expect_error(405, "method_not_allowed");
        assert_eq!(reply.headers.get("allow").and_then(|v| v.to_str().ok()), Some(allowed));
    }
}
