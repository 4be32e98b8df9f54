//! The committed OpenAPI document is the generated one; the server serves it and Swagger UI.

use crate::helpers::spawn_app;

const COMMITTED: &str = "openapi/openapi.json";

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = datasets_api::adapters::http::openapi_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "{COMMITTED} differs from the code: run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[test]
fn every_operation_has_an_id_a_summary_and_a_description() {
    let spec: serde_json::Value = serde_json::from_str(&datasets_api::adapters::http::openapi_json()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
            assert!(op["description"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no description");
            if path.starts_with("/api") {
                assert!(op["security"].is_array(), "{method} {path} is not secured");
            }
        }
    }
}

#[tokio::test]
async fn the_document_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc = app.send(app.client.get("/openapi.json")).await;
    assert_eq!(doc.expect(200)["info"]["title"], "datasets-api");
    let ui = app.send(app.client.get("/docs")).await;
    assert_eq!(ui.status.as_u16(), 200);
    assert!(ui.text().contains("swagger"), "Swagger UI page");
}
