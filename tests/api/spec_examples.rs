//! The spec's own examples (docs/spec/datasets-api.rst, a copy of the contract), replayed
//! through the HTTP layer: the requests as the curl and Python examples send them, and every
//! response compared with the example response's shape (every documented field present, with
//! the documented JSON type).

use std::collections::HashMap;

use chrono::Utc;
use datasets_api::domain::ids::ProjectId;
use datasets_api::domain::records::Project;
use poem::test::{TestForm, TestFormField};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, uuid_of};

const SPEC: &str = include_str!("../../docs/spec/datasets-api.rst");
const EXAMPLE_PROJECT: &str = "d4e5f6a7-b8c9-0123-def4-567890123456";

/// The first JSON code block after each section's "**Response**" line, by section title.
fn example_responses() -> HashMap<String, Value> {
    let lines: Vec<&str> = SPEC.lines().collect();
    let mut out = HashMap::new();
    let mut section = String::new();
    let mut after_response = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if i + 1 < lines.len()
            && !line.is_empty()
            && lines[i + 1].chars().all(|c| c == '-')
            && lines[i + 1].len() == line.len()
        {
            section = line.to_string();
            after_response = false;
        }
        if line.starts_with("**Response**") {
            after_response = true;
        }
        if after_response && line.trim() == ".. code-block:: json" {
            let mut block = String::new();
            i += 1;
            while i < lines.len() && (lines[i].is_empty() || lines[i].starts_with("   ")) {
                block.push_str(lines[i]);
                block.push('\n');
                i += 1;
            }
            let value: Value = serde_json::from_str(&block).unwrap_or_else(|e| panic!("{section}: {e}"));
            out.insert(section.clone(), value);
            after_response = false;
            continue;
        }
        i += 1;
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `example` is in `actual` with the same JSON type (a null example allows any
/// type; array items are compared with the first example item; `preview` rows are data).
fn assert_shape(path: &str, actual: &Value, example: &Value) {
    match (example, actual) {
        (Value::Null, _) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let child = format!("{path}.{key}");
                let got = a.get(key).unwrap_or_else(|| panic!("{child} is missing from {actual}"));
                if key == "preview" {
                    assert!(got.is_array(), "{child} must be an array");
                    continue;
                }
                assert_shape(&child, got, value);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(first), Some(got)) = (e.first(), a.first()) {
                assert_shape(&format!("{path}[0]"), got, first);
            }
        }
        (e, a) => assert_eq!(kind(a), kind(e), "{path}: {a} should be like {e}"),
    }
}

async fn example_project(app: &TestApp) {
    let id = ProjectId(uuid::Uuid::parse_str(EXAMPLE_PROJECT).unwrap());
    if app.app.metadata.find_project(id).await.unwrap().is_some() {
        return;
    }
    let project = Project { id, name: "Fraud Detection v2".into(), description: None, created_at: Utc::now() };
    // A shared test database may already hold it from a concurrent test.
    let _ = app.app.metadata.insert_project(&project, None).await;
}

const TRANSACTIONS: &str = "amount,merchant,is_fraud\n29.99,ACME Corp,0\n1250.00,Luxury Ltd,1\n12.50,ACME Corp,0\n8.75,Corner Shop,0\n19.99,ACME Corp,0\n";

#[tokio::test]
async fn every_implemented_example_works_as_written() {
    let examples = example_responses();
    let app = spawn_app().await;
    example_project(&app).await;

    // curl -X POST "$BASE_URL/api/datasets/upload" -F project_id=… -F name=… -F description=… -F file=@transactions.csv
    let curl_form = TestForm::new()
        .text("project_id", EXAMPLE_PROJECT)
        .text("name", "Transactions Q4")
        .text("description", "Credit card transactions from Q4 2025")
        .field(TestFormField::bytes(TRANSACTIONS.as_bytes().to_vec()).name("file").filename("transactions.csv"));
    let uploaded = app.post_form(&app.admin_key, "/api/datasets/upload", curl_form).await.expect(201);
    assert_shape("upload", &uploaded, &examples["Upload Dataset"]);

    // Python: requests.post(…, data={…}, files={"file": ("transactions.csv", f, "text/csv")})
    let python_form = TestForm::new()
        .text("project_id", EXAMPLE_PROJECT)
        .text("name", "Transactions Q4")
        .text("description", "Credit card transactions from Q4 2025")
        .field(
            TestFormField::bytes(TRANSACTIONS.as_bytes().to_vec())
                .name("file")
                .filename("transactions.csv")
                .content_type("text/csv"),
        );
    let data = app.post_form(&app.admin_key, "/api/datasets/upload", python_form).await.expect(201);
    assert!(data["dataset_id"].is_string() && data["dataset_version_id"].is_string());
    let id = uuid_of(&uploaded["dataset_id"]);

    // curl "$BASE_URL/api/datasets?project_id=…&limit=20"
    let list =
        app.get(&app.admin_key, &format!("/api/datasets?project_id={EXAMPLE_PROJECT}&limit=20")).await.expect(200);
    assert_shape("list", &list, &examples["List Datasets"]);
    assert_eq!(list["limit"], 20);
    for ds in list["items"].as_array().unwrap() {
        assert!(ds["name"].is_string() && ds["rows"].is_u64());
    }

    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_shape("detail", &detail, &examples["Get Dataset Detail"]);
    assert_eq!(detail["preview"][1], serde_json::json!({"amount": 1250.0, "merchant": "Luxury Ltd", "is_fraud": 1}));

    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_shape("columns", &columns, &examples["Get Column Schema"]);
    assert_eq!(columns["columns"][0], serde_json::json!({"name": "amount", "dtype": "float64"}));
    assert_eq!(columns["columns"][2], serde_json::json!({"name": "is_fraud", "dtype": "int64"}));

    // curl -o dataset.csv "$BASE_URL/api/datasets/{id}/download"
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await;
    assert_eq!(csv.status.as_u16(), 200);
    assert!(csv.text().starts_with("amount,merchant,is_fraud\r\n29.99,ACME Corp,0\r\n"));

    // requests.get(f"{BASE_URL}/api/datasets/{id}/analyze"); stats = resp.json()["statistics"]
    let analysis = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    assert_shape("analyze", &analysis, &examples["Statistical Analysis"]);
    for (_, info) in analysis["statistics"]["columns"].as_object().unwrap() {
        assert!(info["type"].is_string() && info["missing"].is_u64());
    }

    let quality = app.get(&app.admin_key, &format!("/api/datasets/{id}/quality")).await.expect(200);
    assert_shape("quality", &quality, &examples["Data Quality Report"]);

    // curl -X POST "$BASE_URL/api/datasets/{id}/versions" -F "description=Added January transactions" -F "file=@transactions_v2.csv"
    let v2 = TestForm::new().text("description", "Added January transactions").field(
        TestFormField::bytes(format!("{TRANSACTIONS}99.00,New Shop,0\n").into_bytes())
            .name("file")
            .filename("transactions_v2.csv"),
    );
    let version = app.post_form(&app.admin_key, &format!("/api/datasets/{id}/versions"), v2).await.expect(201);
    assert_shape("new version", &version, &examples["Upload New Version"]);
    assert_eq!(version["version"], 1);

    // curl "$BASE_URL/api/datasets/{id}/compare?v1=0&v2=1"; Python: summary["rows_diff"]
    let compare = app.get(&app.admin_key, &format!("/api/datasets/{id}/compare?v1=0&v2=1")).await.expect(200);
    assert_shape("compare", &compare, &examples["Compare Versions"]);
    assert_eq!(compare["summary"]["rows_diff"], 1);

    let versions = app.get(&app.admin_key, &format!("/api/datasets/{id}/versions")).await.expect(200);
    assert_shape("versions", &versions, &examples["List Versions"]);

    let vid = uploaded["dataset_version_id"].as_str().unwrap();
    let one = app.get(&app.admin_key, &format!("/api/dataset-versions/{vid}")).await.expect(200);
    assert_shape("version", &one, &examples["Get Dataset Version"]);

    // curl "$BASE_URL/api/datasets/{id}/lineage", after recording what used the dataset
    let experiment = app
        .post_json(
            &app.admin_key,
            "/api/experiments",
            serde_json::json!({"project_id": EXAMPLE_PROJECT, "name": "AutoML Run 1", "dataset_id": id,
                               "target_column": "is_fraud", "problem_type": "classification", "status": "succeeded"}),
        )
        .await
        .expect(201);
    let model = app
        .post_json(
            &app.admin_key,
            "/api/models",
            serde_json::json!({"name": "GBM_1_AutoML", "algorithm": "GBM", "experiment_id": experiment["id"]}),
        )
        .await
        .expect(201);
    app.post_json(
        &app.admin_key,
        "/api/deployments",
        serde_json::json!({"name": "GBM_1_AutoML", "model_id": model["id"], "stage": "production", "is_active": true}),
    )
    .await
    .expect(201);
    let lineage = app.get(&app.admin_key, &format!("/api/datasets/{id}/lineage")).await.expect(200);
    assert_shape("lineage", &lineage, &examples["Dataset Lineage"]);

    // curl -X DELETE "$BASE_URL/api/datasets/{id}"
    let deleted = app.delete(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_shape("delete", &deleted, &examples["Delete Dataset"]);
    assert_eq!(deleted, examples["Delete Dataset"]);
}

#[test]
fn the_spec_copy_has_an_example_response_for_every_endpoint() {
    let examples = example_responses();
    for section in [
        "Upload Dataset",
        "List Datasets",
        "Get Dataset Detail",
        "Get Column Schema",
        "Statistical Analysis",
        "Data Quality Report",
        "Dataset Lineage",
        "Delete Dataset",
        "List Versions",
        "Upload New Version",
        "Compare Versions",
        "Get Dataset Version",
    ] {
        assert!(examples.contains_key(section), "{section}");
    }
}
