//! `spawn_app()`: a fresh server (in process, through the whole HTTP stack) on SQLite and a
//! temporary folder, or on the database named by `TEST_DATABASE_URL` and the artifact store
//! named by `TEST_STORAGE_URL` (e.g. `s3://datasets-ci`, with the store's credentials in its
//! standard variables; each app gets its own prefix in the bucket).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use datasets_api::adapters::http::routes;
use datasets_api::app::App;
use datasets_api::config::{Settings, StorageTarget, parse_storage};
use datasets_api::server::build_app;
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderMap, StatusCode};
use poem::test::{TestClient, TestForm, TestFormField, TestRequestBuilder};
use poem::{EndpointExt, Response};
use serde_json::Value;
use uuid::Uuid;

/// Migrations of a shared test database run one app at a time.
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static, Response>>,
    pub admin_key: String,
    pub app: App,
    pub dir: tempfile::TempDir,
    /// The app's settings (its database, its artifact store).
    pub settings: Settings,
}

/// A response read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    /// Asserts the status and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        if self.body.is_empty() { Value::Null } else { self.json() }
    }

    /// Asserts an error answer: the status, the JSON error shape and its code.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        let body = self.expect(status);
        assert_eq!(body["error"]["code"], code, "{body}");
        body["error"]["message"].as_str().expect("an error message").to_string()
    }
}

pub fn uuid_of(v: &Value) -> Uuid {
    Uuid::parse_str(v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))).expect("a UUID")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(500_000_000).await
}

pub async fn spawn_app_with(max_upload_bytes: u64) -> TestApp {
    spawn_app_configured(|s| s.max_upload_bytes = max_upload_bytes).await
}

/// A fresh app whose settings `configure` may change.
pub async fn spawn_app_configured(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let admin_key = format!("test-admin-{}", Uuid::new_v4());
    let mut settings = Settings::for_tests(dir.path(), &admin_key);
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        settings.database_url = url;
    }
    settings.storage = test_storage(dir.path());
    settings.max_upload_bytes = 500_000_000;
    configure(&mut settings);
    let (app, _) = {
        let _guard = BUILD_LOCK.lock().await;
        build_app(&settings).await.expect("the app starts")
    };
    let client = TestClient::new(routes(app.clone()).boxed());
    TestApp { client, admin_key, app, dir, settings }
}

/// The local folder `dir/artifacts`, or a fresh prefix of the store named by `TEST_STORAGE_URL`.
fn test_storage(dir: &Path) -> StorageTarget {
    match std::env::var("TEST_STORAGE_URL") {
        Ok(url) if !url.is_empty() => {
            let url = format!("{}/api-test-{}", url.trim_end_matches('/'), Uuid::new_v4());
            parse_storage(&url, &|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()))
                .unwrap_or_else(|e| panic!("TEST_STORAGE_URL: {e}"))
        }
        _ => StorageTarget::Filesystem(dir.join("artifacts")),
    }
}

async fn read(resp: poem::test::TestResponse) -> Reply {
    let response = resp.0;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().into_bytes().await.expect("body");
    Reply { status, headers, body }
}

pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

impl TestApp {
    /// Another instance of the server on the same database and artifact store (its own
    /// connection pool, ingest slots and caches: what a second process behind a load
    /// balancer would be).
    pub async fn second_instance(&self) -> TestClient<BoxEndpoint<'static, Response>> {
        let (app, _) = {
            let _guard = BUILD_LOCK.lock().await;
            build_app(&self.settings).await.expect("the second instance starts")
        };
        TestClient::new(routes(app).boxed())
    }

    /// Every stored artifact: the files of the local folder (except the staging folder), or
    /// every object under the app's prefix of an object store.
    pub async fn stored_artifacts(&self) -> Vec<String> {
        let folder = self.dir.path().join("artifacts");
        if folder.exists() {
            return files_under(&folder).into_iter().map(|p| p.display().to_string()).collect();
        }
        let mut keys = self.app.artifacts.list("").await.expect("listing the artifact store");
        keys.retain(|k| !k.starts_with("probe/"));
        keys
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub async fn send(&self, req: TestRequestBuilder<'_, BoxEndpoint<'static, Response>>) -> Reply {
        read(req.send().await).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Reply {
        self.send(self.client.get(path).header("Authorization", bearer(key))).await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Reply {
        self.send(self.client.delete(path).header("Authorization", bearer(key))).await
    }

    pub async fn post_json(&self, key: &str, path: &str, body: Value) -> Reply {
        self.send(self.client.post(path).header("Authorization", bearer(key)).body_json(&body)).await
    }

    pub async fn post_form(&self, key: &str, path: &str, form: TestForm) -> Reply {
        self.send(self.client.post(path).header("Authorization", bearer(key)).multipart(form)).await
    }

    pub async fn create_project(&self, key: &str, name: &str) -> Uuid {
        let body = self.post_json(key, "/api/projects", serde_json::json!({"name": name})).await.expect(201);
        uuid_of(&body["id"])
    }

    /// A new non-admin user and a key for them.
    pub async fn create_user(&self, name: &str) -> (Uuid, String) {
        let user = self.post_json(&self.admin_key, "/api/users", serde_json::json!({"name": name})).await.expect(201);
        let id = uuid_of(&user["id"]);
        let key = self.post_json(&self.admin_key, &format!("/api/users/{id}/api-keys"), Value::Null).await;
        let key = key.expect(201)["key"].as_str().unwrap().to_string();
        (id, key)
    }

    pub async fn add_member(&self, project: Uuid, user: Uuid, role: &str) {
        let body = serde_json::json!({"user_id": user, "role": role});
        self.post_json(&self.admin_key, &format!("/api/projects/{project}/members"), body).await.expect(201);
    }

    pub async fn upload(&self, key: &str, project: Uuid, name: &str, file_name: &str, bytes: &[u8]) -> Reply {
        let form = TestForm::new()
            .text("project_id", project.to_string())
            .text("name", name)
            .field(TestFormField::bytes(bytes.to_vec()).name("file").filename(file_name));
        self.post_form(key, "/api/datasets/upload", form).await
    }

    /// Uploads as the admin into a new project; returns the upload response body.
    pub async fn upload_ok(&self, name: &str, bytes: &[u8]) -> Value {
        let project = self.create_project(&self.admin_key, &format!("{name} project")).await;
        self.upload(&self.admin_key, project, name, "data.csv", bytes).await.expect(201)
    }

    pub async fn new_version(&self, key: &str, dataset: Uuid, description: &str, bytes: &[u8]) -> Reply {
        let form = TestForm::new()
            .text("description", description)
            .field(TestFormField::bytes(bytes.to_vec()).name("file").filename("v.csv"));
        self.post_form(key, &format!("/api/datasets/{dataset}/versions"), form).await
    }
}

/// `(name, dtype)` of each column of a `/columns` answer.
pub fn dtypes(columns: &Value) -> Vec<(String, String)> {
    columns["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["dtype"].as_str().unwrap().to_string()))
        .collect()
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Every file under `root`, except the store's staging folder.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".staging") {
                    stack.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out
}
