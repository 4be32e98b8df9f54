//! Upload hints (`dtypes`, `na_values`, `keep_default_na`, `delimiter`, `encoding`, `header`,
//! `sheet`): they change how the file is read, are shown on the version, and can be reused.

use poem::test::{TestForm, TestFormField};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, dtypes, pairs, spawn_app, uuid_of};

/// Uploads `bytes` as a new dataset in `project` with the form fields `fields`.
async fn upload_with(app: &TestApp, project: Uuid, bytes: &[u8], fields: &[(&str, &str)]) -> crate::helpers::Reply {
    let mut form = TestForm::new().text("project_id", project.to_string()).text("name", "Hinted");
    for (name, value) in fields {
        form = form.text(*name, *value);
    }
    let form = form.field(TestFormField::bytes(bytes.to_vec()).name("file").filename("data.csv"));
    app.post_form(&app.admin_key, "/api/datasets/upload", form).await
}

async fn columns(app: &TestApp, up: &Value) -> Value {
    app.get(&app.admin_key, &format!("/api/datasets/{}/columns", uuid_of(&up["dataset_id"]))).await.expect(200)
}

async fn csv_of(app: &TestApp, up: &Value) -> String {
    let reply =
        app.get(&app.admin_key, &format!("/api/datasets/{}/download?format=csv", uuid_of(&up["dataset_id"]))).await;
    reply.text().replace("\r\n", "\n")
}

const ZIPS: &[u8] = b"zip,score\n10001,1.5\n94105,2\n";

#[tokio::test]
async fn dtypes_give_a_column_its_type() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    let plain = upload_with(&app, project, ZIPS, &[]).await.expect(201);
    assert_eq!(dtypes(&columns(&app, &plain).await), pairs(&[("zip", "int64"), ("score", "float64")]));
    let hinted = upload_with(&app, project, ZIPS, &[("dtypes", r#"{"zip": "object"}"#)]).await.expect(201);
    assert_eq!(dtypes(&columns(&app, &hinted).await), pairs(&[("zip", "object"), ("score", "float64")]));
    assert_eq!(csv_of(&app, &hinted).await, "zip,score\n10001,1.5\n94105,2.0\n");
}

#[tokio::test]
async fn a_value_that_is_not_of_its_given_type_is_refused_naming_column_line_row_and_value() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    let reply = upload_with(&app, project, b"id,score\n1,2\n2,abc\n", &[("dtypes", r#"{"score": "float64"}"#)]).await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert_eq!(message, "line 3: column \"score\" is given as float64 but data row 2 holds \"abc\"");
    // A JSON Lines upload is read through a CSV text of its own: its data row is named, not a
    // line of that text.
    let json = b"{\"id\": 1, \"score\": 2}\n{\"id\": 2, \"score\": \"abc\"}\n";
    let reply = upload_with(&app, project, json, &[("dtypes", r#"{"score": "float64"}"#)]).await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert_eq!(message, "column \"score\" is given as float64 but data row 2 holds \"abc\"");
    assert!(app.stored_artifacts().await.is_empty());
    let reply = upload_with(&app, project, b"id,score\n1,2\n", &[("dtypes", r#"{"scores": "float64"}"#)]).await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert!(message.contains("\"scores\"") && message.contains("id, score"), "{message}");
}

#[tokio::test]
async fn malformed_hints_are_refused_before_the_file_is_read() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    for (field, value, says) in [
        ("dtypes", "{\"zip\": \"string\"}", "no dtype"),
        ("dtypes", "[]", "JSON object"),
        ("na_values", "\"-\"", "JSON array"),
        ("delimiter", ";;", "one character"),
        ("encoding", "klingon", "no known encoding"),
        ("header", "maybe", "true or false"),
        ("keep_default_na", "yes please", "true or false"),
    ] {
        let message = upload_with(&app, project, ZIPS, &[(field, value)]).await.expect_error(400, "bad_request");
        assert!(message.contains(field) && message.contains(says), "{field}: {message}");
    }
}

#[tokio::test]
async fn empty_hint_fields_are_hints_not_given() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    let fields =
        ["dtypes", "na_values", "keep_default_na", "delimiter", "encoding", "header", "sheet"].map(|f| (f, ""));
    let up = upload_with(&app, project, ZIPS, &fields).await.expect(201);
    assert_eq!(dtypes(&columns(&app, &up).await), pairs(&[("zip", "int64"), ("score", "float64")]));
}

#[tokio::test]
async fn na_values_add_markers_and_keep_default_na_false_keeps_na_as_a_country_code() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    let countries = b"country,amount\nNA,-\nFR,3\nNA,4\n";
    let default = upload_with(&app, project, countries, &[]).await.expect(201);
    assert_eq!(csv_of(&app, &default).await, "country,amount\n,-\nFR,3\n,4\n");
    let hinted = upload_with(&app, project, countries, &[("na_values", r#"["-"]"#), ("keep_default_na", "false")])
        .await
        .expect(201);
    assert_eq!(dtypes(&columns(&app, &hinted).await), pairs(&[("country", "object"), ("amount", "int64")]));
    assert_eq!(csv_of(&app, &hinted).await, "country,amount\nNA,\nFR,3\nNA,4\n");
}

#[tokio::test]
async fn delimiter_header_and_encoding_hints_replace_detection() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    // Without hints the first row is taken for a header (it repeats no value and is text).
    let rows = b"Paris;1\nLyon;2\n";
    let hinted = upload_with(&app, project, rows, &[("delimiter", ";"), ("header", "false")]).await.expect(201);
    assert_eq!(dtypes(&columns(&app, &hinted).await), pairs(&[("column_1", "object"), ("column_2", "int64")]));
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&hinted["dataset_id"]))).await;
    assert_eq!(detail.expect(200)["dataset"]["rows"], 2);
    let latin1 = b"name,n\ncaf\xe9,1\nna\xefve,2\n";
    let read = upload_with(&app, project, latin1, &[("encoding", "latin1")]).await.expect(201);
    assert_eq!(csv_of(&app, &read).await, "name,n\ncafé,1\nnaïve,2\n");
}

#[tokio::test]
async fn hints_are_shown_on_the_version_and_reused_by_the_next_upload() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Hints").await;
    let first =
        upload_with(&app, project, ZIPS, &[("dtypes", r#"{"zip": "object"}"#), ("delimiter", ",")]).await.expect(201);
    let version = app
        .get(&app.admin_key, &format!("/api/dataset-versions/{}", uuid_of(&first["dataset_version_id"])))
        .await
        .expect(200);
    assert_eq!(version["hints"], serde_json::json!({"dtypes": {"zip": "object"}, "delimiter": ","}));
    let dataset = uuid_of(&first["dataset_id"]);
    let next = b"zip,score\n00001,3\n";
    let form = TestForm::new()
        .text("description", "reuses the hints")
        .text("reuse_hints", "true")
        .field(TestFormField::bytes(next.to_vec()).name("file").filename("v.csv"));
    let reused = app.post_form(&app.admin_key, &format!("/api/datasets/{dataset}/versions"), form).await.expect(201);
    let version = app
        .get(&app.admin_key, &format!("/api/dataset-versions/{}", uuid_of(&reused["dataset_version_id"])))
        .await
        .expect(200);
    assert_eq!(version["hints"]["dtypes"], serde_json::json!({"zip": "object"}));
    assert_eq!(
        dtypes(&app.get(&app.admin_key, &format!("/api/datasets/{dataset}/columns")).await.expect(200))[0].1,
        "object"
    );
    // Without reuse_hints, a next version is read as detected, and shows no hints.
    let plain = app.new_version(&app.admin_key, dataset, "no hints", next).await.expect(201);
    let version = app
        .get(&app.admin_key, &format!("/api/dataset-versions/{}", uuid_of(&plain["dataset_version_id"])))
        .await
        .expect(200);
    assert_eq!(version["hints"], serde_json::json!({}));
}

#[tokio::test]
async fn dtypes_do_not_apply_to_a_typed_file() {
    let app = spawn_app().await;
    let plain = app.upload_ok("Plain", ZIPS).await;
    let parquet = app
        .get(&app.admin_key, &format!("/api/datasets/{}/download?format=parquet", uuid_of(&plain["dataset_id"])))
        .await;
    let project = app.create_project(&app.admin_key, "Typed").await;
    let message = upload_with(&app, project, &parquet.body, &[("dtypes", r#"{"zip": "object"}"#)])
        .await
        .expect_error(422, "unprocessable_file");
    assert!(message.contains("Parquet"), "{message}");
}
