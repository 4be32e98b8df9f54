//! Arrow IPC files (and Feather v2), Arrow IPC streams: recognized by content, typed like
//! Parquet, kept as uploaded.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int16Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use serde_json::json;

use crate::helpers::{dtypes, pairs, spawn_app, uuid_of};

/// A Feather v2 file as pyarrow writes it by default: the Arrow IPC file format, LZ4-compressed.
fn feather() -> Vec<u8> {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int16Array::from(vec![1, 2, 3]))),
        ("amount", Arc::new(Float64Array::from(vec![Some(10.5), None, Some(7.25)]))),
        ("city", Arc::new(StringArray::from(vec!["Paris", "Lyon", "Paris"]))),
        ("at", Arc::new(TimestampMillisecondArray::from(vec![0, 86_400_000, 172_800_000]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME)).unwrap();
    let mut writer = FileWriter::try_new_with_options(Vec::new(), &batch.schema(), options).unwrap();
    writer.write(&batch).unwrap();
    writer.into_inner().unwrap()
}

#[tokio::test]
async fn a_feather_file_is_read_with_its_types_and_kept_as_uploaded() {
    let app = spawn_app().await;
    let bytes = feather();
    let up = app.upload_ok("Feather", &bytes).await;
    let id = uuid_of(&up["dataset_id"]);
    assert_eq!(app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200)["dataset"]["rows"], 3);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(
        dtypes(&columns),
        pairs(&[("id", "int64"), ("amount", "float64"), ("city", "object"), ("at", "datetime64")])
    );
    let original = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=original")).await;
    assert_eq!(original.status.as_u16(), 200);
    assert_eq!(&original.body[..], &bytes[..]);
    assert_eq!(original.headers["content-type"], "application/vnd.apache.arrow.file");
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=csv")).await;
    assert_eq!(
        csv.text().replace("\r\n", "\n"),
        "id,amount,city,at\n1,10.5,Paris,1970-01-01T00:00:00\n2,,Lyon,1970-01-02T00:00:00\n3,7.25,Paris,1970-01-03T00:00:00\n"
    );
}

#[tokio::test]
async fn a_query_answered_as_an_arrow_stream_uploads_back_as_the_same_table() {
    let app = spawn_app().await;
    let csv = b"id,amount,city,day\n1,10.5,Paris,2024-01-02\n2,,Lyon,2024-01-03\n3,7.25,Nice,\n";
    let plain = app.upload_ok("Plain", csv).await;
    let id = uuid_of(&plain["dataset_id"]);
    let answer = app
        .post_json(
            &app.admin_key,
            &format!("/api/datasets/{id}/query"),
            json!({"sql": "SELECT * FROM data", "format": "arrow"}),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.headers["content-type"], "application/vnd.apache.arrow.stream");
    let again = app.upload_ok("From the stream", &answer.body).await;
    assert_eq!(again["content_hash"], plain["content_hash"], "the same table: {again}");
    let original = app
        .get(&app.admin_key, &format!("/api/datasets/{}/download?format=original", uuid_of(&again["dataset_id"])))
        .await;
    assert_eq!(original.headers["content-type"], "application/vnd.apache.arrow.stream");
}

#[tokio::test]
async fn a_truncated_arrow_file_and_a_feather_v1_file_are_refused_with_what_is_wrong() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Broken arrow").await;
    let bytes = feather();
    let cut = app.upload(&app.admin_key, project, "Cut", "data.feather", &bytes[..bytes.len() / 2]).await;
    let message = cut.expect_error(422, "unprocessable_file");
    assert!(message.contains("Arrow IPC"), "{message}");
    let v1 = app.upload(&app.admin_key, project, "Old", "data.feather", b"FEA1\0\0\0\0\x01\x02").await;
    let message = v1.expect_error(422, "unprocessable_file");
    assert!(message.contains("Feather version 1"), "{message}");
}
