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

/// Every `maxLength`, `minLength` and `pattern` of the document, with where it stands.
fn text_limits(value: &serde_json::Value, at: &str, found: &mut Vec<(String, &'static str, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) => {
            for key in ["maxLength", "minLength", "pattern"] {
                if let Some(v) = map.get(key).filter(|_| map.get("type").and_then(|t| t.as_str()) == Some("string")) {
                    found.push((at.to_string(), key, v.clone()));
                }
            }
            for (k, v) in map {
                text_limits(v, &format!("{at}/{k}"), found);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                text_limits(v, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_documented_text_limit_is_one_of_the_domains_rules() {
    use datasets_api::domain::names::ALL_RULES;
    let spec: serde_json::Value = serde_json::from_str(&datasets_api::adapters::http::openapi_json()).unwrap();
    let mut found = Vec::new();
    text_limits(&spec, "", &mut found);
    assert!(found.len() >= 20, "the document's text fields are documented with limits: {found:?}");
    for (at, key, value) in found {
        let known = match key {
            "maxLength" => ALL_RULES.iter().any(|r| value == r.max_chars),
            "minLength" => ALL_RULES.iter().any(|r| value == r.min_chars),
            _ => ALL_RULES.iter().any(|r| value == r.pattern),
        };
        assert!(known, "{key} {value} at {at} is not one of the domain's text rules (domain::names)");
    }
}

#[test]
fn statistics_values_are_typed_as_numbers_or_iso_strings_not_as_anything() {
    let spec: serde_json::Value = serde_json::from_str(&datasets_api::adapters::http::openapi_json()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let branches = |schema: &serde_json::Value| -> Vec<String> {
        let any_of = schema["anyOf"].as_array().unwrap_or_else(|| panic!("not a typed union: {schema}"));
        any_of.iter().map(|b| b["type"].as_str().unwrap_or("?").to_string()).collect()
    };
    for field in ["min", "max"] {
        assert_eq!(branches(&schemas["ColumnStatsDto"]["properties"][field]), ["number", "string"], "{field}");
    }
    assert_eq!(branches(&schemas["HistogramDto"]["properties"]["bin_edges"]["items"]), ["number", "string"]);
}
