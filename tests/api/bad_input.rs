//! Bad uploads and bad forms: each gets a clear 4xx JSON error and nothing is stored.

use poem::test::{TestForm, TestFormField};

use crate::helpers::{TestApp, files_under, spawn_app};

async fn refused(app: &TestApp, file_name: &str, bytes: &[u8]) -> String {
    let project = app.create_project(&app.admin_key, "Bad").await;
    let message =
        app.upload(&app.admin_key, project, "Bad", file_name, bytes).await.expect_error(422, "unprocessable_file");
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
    assert!(app.stored_artifacts().await.is_empty());
    message
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    let app = spawn_app().await;
    assert!(refused(&app, "e.csv", b"").await.contains("empty"));
    assert!(refused(&app, "e.csv", b"\n\n  \n").await.contains("empty"));
}

#[tokio::test]
async fn a_header_without_rows_is_refused() {
    let app = spawn_app().await;
    assert!(refused(&app, "h.csv", b"a,b,c\n").await.contains("no data rows"));
}

#[tokio::test]
async fn ragged_rows_are_refused_with_their_line() {
    let app = spawn_app().await;
    let message = refused(&app, "r.csv", b"a,b\n1,2\n3,4\n5,6,7\n").await;
    assert!(message.contains("line 4") && message.contains("3 fields"), "{message}");
}

#[tokio::test]
async fn nul_bytes_are_refused() {
    let app = spawn_app().await;
    let message = refused(&app, "n.csv", b"a,b\n1,2\n3,\x004\n").await;
    assert!(message.contains("NUL"), "{message}");
    // Past the first 8 KiB (where a NUL byte says the file is binary), the cell is named.
    let mut csv = b"a,b\n".to_vec();
    csv.extend(b"1,2\n".repeat(5000));
    csv.extend_from_slice(b"3,\x004\n");
    let message = refused(&app, "late-nul.csv", &csv).await;
    assert_eq!(message, "line 5002: the cell in column 2 holds a NUL character");
}

#[tokio::test]
async fn a_png_named_csv_is_refused() {
    let app = spawn_app().await;
    let png =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
    assert!(refused(&app, "image.csv", png).await.contains("binary"));
}

#[tokio::test]
async fn truncated_or_corrupt_parquet_is_refused() {
    let app = spawn_app().await;
    assert!(refused(&app, "t.parquet", b"PAR1\x00\x01\x02").await.contains("Parquet"));
    let mut fake = b"PAR1".to_vec();
    fake.extend_from_slice(&[0xAB; 64]);
    fake.extend_from_slice(&1000u32.to_le_bytes());
    fake.extend_from_slice(b"PAR1");
    assert!(refused(&app, "f.parquet", &fake).await.contains("Parquet"));
}

#[tokio::test]
async fn a_csv_named_parquet_is_read_as_csv() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    app.upload(&app.admin_key, project, "Misnamed", "data.parquet", b"a,b\n1,2\n").await.expect(201);
}

#[tokio::test]
async fn missing_form_fields_answer_400() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let file = || TestFormField::bytes(b"a\n1\n".to_vec()).name("file").filename("x.csv");
    let no_name = TestForm::new().text("project_id", project.to_string()).field(file());
    let m = app.post_form(&app.admin_key, "/api/datasets/upload", no_name).await.expect_error(400, "bad_request");
    assert!(m.contains("`name`"), "{m}");
    let no_project = TestForm::new().text("name", "x").field(file());
    app.post_form(&app.admin_key, "/api/datasets/upload", no_project).await.expect_error(400, "bad_request");
    let no_file = TestForm::new().text("project_id", project.to_string()).text("name", "x");
    let m = app.post_form(&app.admin_key, "/api/datasets/upload", no_file).await.expect_error(400, "bad_request");
    assert!(m.contains("`file`"), "{m}");
    let bad_project = TestForm::new().text("project_id", "42").text("name", "x").field(file());
    app.post_form(&app.admin_key, "/api/datasets/upload", bad_project).await.expect_error(400, "bad_request");
    assert!(files_under(&app.spool_dir()).is_empty());
}

#[tokio::test]
async fn a_malformed_multipart_body_answers_400() {
    let app = spawn_app().await;
    let reply = app
        .send(
            app.client
                .post("/api/datasets/upload")
                .header("Authorization", format!("Bearer {}", app.admin_key))
                .content_type("multipart/form-data; boundary=XYZ")
                .body("--XYZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nunterminated"),
        )
        .await;
    reply.expect_error(400, "bad_request");
}

#[tokio::test]
async fn a_json_body_on_the_upload_answers_415() {
    let app = spawn_app().await;
    let reply = app.post_json(&app.admin_key, "/api/datasets/upload", serde_json::json!({"name": "x"})).await;
    reply.expect_error(415, "unsupported_media_type");
}

#[tokio::test]
async fn a_ragged_row_far_into_the_file_is_reported_with_its_line() {
    let app = spawn_app().await;
    let mut csv = String::from("a,b\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},{i}\n"));
    }
    csv.push_str("1,2,3\n");
    let message = refused(&app, "far.csv", csv.as_bytes()).await;
    assert!(message.contains("line 20002"), "{message}");
}

#[tokio::test]
async fn a_parquet_date_beyond_year_9999_is_refused() {
    use std::sync::Arc;
    let app = spawn_app().await;
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
        "day",
        arrow::datatypes::DataType::Date32,
        true,
    )]));
    let column: arrow::array::ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![0, i32::MAX]));
    let batch = arrow::array::RecordBatch::try_new(Arc::clone(&schema), vec![column]).unwrap();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    assert!(refused(&app, "far.parquet", &bytes).await.contains("0001–9999"));
}

#[tokio::test]
async fn a_ten_megabyte_cell_is_refused() {
    let app = spawn_app().await;
    let mut csv = b"a,b\n1,".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    csv.extend_from_slice(b"\n2,y\n");
    let message = refused(&app, "big-cell.csv", &csv).await;
    assert_eq!(message, "line 2: the cell in column 2 is 10485760 bytes long, over the limit of 1048576 bytes a cell");
}

#[tokio::test]
async fn ten_thousand_and_one_columns_are_refused() {
    let app = spawn_app().await;
    let header: Vec<String> = (0..10_001).map(|i| format!("c{i}")).collect();
    let csv = format!("{}\n{}\n", header.join(","), vec!["1"; 10_001].join(","));
    let message = refused(&app, "wide.csv", csv.as_bytes()).await;
    assert!(message.contains("10001 columns"), "{message}");
}

#[tokio::test]
async fn a_row_of_more_than_twice_the_column_limit_of_fields_is_refused_with_its_line() {
    let app = spawn_app().await;
    let csv = format!("a,b\n1,2\n{}\n", ",".repeat(30_000));
    let message = refused(&app, "commas.csv", csv.as_bytes()).await;
    assert!(message.contains("line 3") && message.contains("more than 20000 fields"), "{message}");
}

#[tokio::test]
async fn a_header_of_more_than_twice_the_column_limit_is_refused() {
    let app = spawn_app().await;
    let csv = format!("{}\n1\n", ",".repeat(25_000));
    let message = refused(&app, "wide-header.csv", csv.as_bytes()).await;
    assert!(message.contains("line 1") && message.contains("more than 20000 fields"), "{message}");
}

#[tokio::test]
async fn a_row_longer_than_64_mib_is_refused_before_it_is_read_whole() {
    let app = spawn_app().await;
    let mut csv = b"a,b\n1,2\n".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 65 * 1024 * 1024));
    csv.extend_from_slice(b"\n");
    let message = refused(&app, "long-row.csv", &csv).await;
    assert!(message.contains("line 3") && message.contains("longer than 64 MiB"), "{message}");
}
