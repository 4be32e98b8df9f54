use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt8Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use poem::test::{TestForm, TestFormField};
use serde_json::json;

use crate::helpers::{dtypes, files_under, pairs, spawn_app, spawn_app_with, uuid_of};

#[tokio::test]
async fn an_upload_creates_a_dataset_with_typed_columns() {
    let app = spawn_app().await;
    let csv = "id,amount,merchant,is_fraud,seen_at,zip\n\
               1,29.99,ACME Corp,false,2025-01-02T10:00:00Z,02134\n\
               2,,Luxury Ltd,true,2025-01-03T11:30:00+01:00,10001\n\
               3,5.5,ACME Corp,false,2025-01-04T00:00:00Z,94105\n\
               4,7,ACME Corp,false,2025-01-05T00:00:00Z,60601\n";
    let up = app.upload_ok("Typed", csv.as_bytes()).await;
    assert_eq!(up["id"], up["dataset_id"]);
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(
        dtypes(&columns),
        pairs(&[
            ("id", "int64"),
            ("amount", "float64"),
            ("merchant", "category"),
            ("is_fraud", "bool"),
            ("seen_at", "datetime64"),
            ("zip", "object"),
        ])
    );
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(
        detail["preview"][1],
        json!({"id": 2, "amount": null, "merchant": "Luxury Ltd", "is_fraud": true,
               "seen_at": "2025-01-03T10:30:00Z", "zip": "10001"})
    );
}

#[tokio::test]
async fn semicolon_latin1_files_with_crlf_and_quoted_newlines_are_read() {
    let app = spawn_app().await;
    let text = "name;city;note\r\nJosé;Zürich;\"line one\r\nline two; still the note\"\r\nFrançois;Besançon;plain\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let up = app.upload_ok("Latin", &bytes).await;
    let id = uuid_of(&up["dataset_id"]);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["preview"][0]["name"], "José");
    assert_eq!(detail["preview"][0]["note"], "line one\r\nline two; still the note");
    assert_eq!(detail["preview"][1]["city"], "Besançon");
}

#[tokio::test]
async fn a_file_without_a_header_gets_numbered_column_names() {
    let app = spawn_app().await;
    let up = app.upload_ok("NoHeader", b"1,2.5,true\n2,3.5,false\n").await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&columns), pairs(&[("column_1", "int64"), ("column_2", "float64"), ("column_3", "bool")]));
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["dataset"]["rows"], 2, "the first row is data");
}

#[tokio::test]
async fn form_fields_may_come_after_the_file() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let form = TestForm::new()
        .field(TestFormField::bytes(b"a,b\n1,2\n".to_vec()).name("file").filename("x.csv"))
        .text("name", "Late fields")
        .text("project_id", project.to_string());
    app.post_form(&app.admin_key, "/api/datasets/upload", form).await.expect(201);
}

fn parquet_bytes() -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("small", DataType::Int32, true),
        Field::new("unsigned", DataType::UInt8, false),
        Field::new("ratio", DataType::Float32, true),
        Field::new("label", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into())), true),
        Field::new("day", DataType::Date32, true),
    ]));
    let n = 6;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![Some(1), None, Some(3), Some(4), Some(5), Some(-6)])),
        Arc::new(UInt8Array::from(vec![255u8; n])),
        Arc::new(Float32Array::from(vec![Some(0.5), Some(1.5), None, Some(f32::NAN), Some(2.0), Some(3.0)])),
        Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("a"), Some("b"), None, Some("a")])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(true), Some(false)])),
        Arc::new(
            TimestampNanosecondArray::from(vec![
                Some(1_000_000_000i64),
                None,
                Some(2_000_000_000),
                Some(0),
                Some(0),
                Some(0),
            ])
            .with_timezone("+00:00"),
        ),
        Arc::new(Date32Array::from(vec![Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)])),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

#[tokio::test]
async fn parquet_uploads_keep_their_column_types() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let up = app.upload(&app.admin_key, project, "Parquet", "data.parquet", &parquet_bytes()).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(
        dtypes(&columns),
        pairs(&[
            ("small", "int64"),
            ("unsigned", "int64"),
            ("ratio", "float64"),
            ("label", "category"),
            ("flag", "bool"),
            ("at", "datetime64"),
            ("day", "datetime64"),
        ])
    );
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(
        detail["preview"][0],
        json!({"small": 1, "unsigned": 255, "ratio": 0.5, "label": "a", "flag": true,
               "at": "1970-01-01T00:00:01Z", "day": "1970-01-01"})
    );
    assert_eq!(detail["preview"][3]["ratio"], json!(null), "NaN is stored as missing");
}

#[tokio::test]
async fn nested_parquet_columns_are_objects_shown_as_json_text_in_previews_and_downloads() {
    use arrow::array::{ListArray, StructArray};
    use arrow::datatypes::Int32Type;
    let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), None]),
        None,
        Some(vec![]),
    ]));
    let place: ArrayRef = Arc::new(StructArray::from(vec![
        (
            Arc::new(Field::new("city", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["Oslo", "Lima", "Pune"])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("zip", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![Some(150), None, Some(411)])) as ArrayRef,
        ),
    ]));
    let schema = Arc::new(Schema::new(vec![
        Field::new("tags", tags.data_type().clone(), true),
        Field::new("place", place.data_type().clone(), false),
    ]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![tags, place]).unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let up = app.upload(&app.admin_key, project, "Nested", "nested.parquet", &bytes).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&columns), pairs(&[("tags", "object"), ("place", "object")]));
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["preview"][0], json!({"tags": "[1,null]", "place": r#"{"city":"Oslo","zip":150}"#}));
    assert_eq!(detail["preview"][1], json!({"tags": null, "place": r#"{"city":"Lima","zip":null}"#}));
    let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download")).await.text();
    assert_eq!(
        csv,
        "tags,place\r\n\"[1,null]\",\"{\"\"city\"\":\"\"Oslo\"\",\"\"zip\"\":150}\"\r\n,\"{\"\"city\"\":\"\"Lima\"\",\"\"zip\"\":null}\"\r\n[],\"{\"\"city\"\":\"\"Pune\"\",\"\"zip\"\":411}\"\r\n"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_answers_413_and_stores_nothing() {
    let app = spawn_app_with(1_000).await;
    let project = app.create_project(&app.admin_key, "P").await;
    let big = "a,b\n".to_string() + &"1,2\n".repeat(1_000);
    let reply = app.upload(&app.admin_key, project, "Too big", "big.csv", big.as_bytes()).await;
    reply.expect_error(413, "payload_too_large");
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
    assert!(app.stored_artifacts().await.is_empty());
    assert!(files_under(&app.spool_dir()).is_empty());
    app.upload(&app.admin_key, project, "Small", "small.csv", b"a,b\n1,2\n").await.expect(201);
}

#[tokio::test]
async fn a_failed_upload_leaves_no_dataset_and_no_file() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let reply = app.upload(&app.admin_key, project, "Ragged", "r.csv", b"a,b\n1,2\n3\n").await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert!(message.contains("line 3"), "{message}");
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
    assert!(app.stored_artifacts().await.is_empty());
    assert!(files_under(&app.spool_dir()).is_empty());
}

#[tokio::test]
async fn the_original_and_the_normalized_copy_are_stored_with_their_checksums() {
    let app = spawn_app().await;
    let bytes = b"a,b\n1,x\n2,y\n";
    let up = app.upload_ok("Stored", bytes).await;
    let version = app.app.metadata.find_version(uuid_of(&up["dataset_version_id"]).into()).await.unwrap().unwrap();
    assert_eq!(version.original.id.0, uuid_of(&up["artifact_id"]));
    let original = app.app.artifacts.read_range(&version.original.storage_key, 0..bytes.len() as u64).await.unwrap();
    assert_eq!(&original[..], bytes);
    use sha2::Digest;
    assert_eq!(version.original.sha256, hex::encode(sha2::Sha256::digest(bytes)));
    let parquet_head = app.app.artifacts.read_range(&version.normalized.storage_key, 0..4).await.unwrap();
    assert_eq!(&parquet_head[..], b"PAR1");
    assert_eq!(app.stored_artifacts().await.len(), 2);
    // The normalized checksums (computed while writing) are those of the stored bytes, for a
    // CSV and for a Parquet upload.
    let from_parquet = app.upload_ok("Stored again", &parquet_bytes()).await;
    for up in [&up, &from_parquet] {
        let id = uuid_of(&up["dataset_version_id"]).into();
        let version = app.app.metadata.find_version(id).await.unwrap().unwrap();
        let key = &version.normalized.storage_key;
        let size = app.app.artifacts.size(key).await.unwrap();
        let stored = app.app.artifacts.read_range(key, 0..size).await.unwrap();
        assert_eq!(version.normalized.sha256, hex::encode(sha2::Sha256::digest(&stored)));
    }
}

#[tokio::test]
async fn uploads_beyond_the_ingest_limit_wait_then_get_503_with_retry_after() {
    let app = crate::helpers::spawn_app_configured(|s| {
        s.max_concurrent_ingests = 1;
        s.ingest_wait_seconds = 1;
    })
    .await;
    let project = app.create_project(&app.admin_key, "P").await;
    let slot = std::sync::Arc::clone(&app.app.ingest_slots).acquire_owned().await.unwrap();
    let reply = app.upload(&app.admin_key, project, "Waits", "w.csv", b"a\n1\n").await;
    reply.expect_error(503, "busy");
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(app.stored_artifacts().await.is_empty());
    drop(slot);
    app.upload(&app.admin_key, project, "Goes", "g.csv", b"a\n1\n").await.expect(201);
}

#[tokio::test]
async fn the_sweeper_deletes_old_orphan_files_and_keeps_recorded_and_young_ones() {
    let app = spawn_app().await;
    app.upload_ok("Kept", b"a\n1\n").await;
    let orphan = app.dir.path().join("orphan.bin");
    std::fs::write(&orphan, b"left behind by a crash").unwrap();
    app.app.artifacts.put_file("datasets/lost/version/data.parquet", &orphan).await.unwrap();
    assert_eq!(app.stored_artifacts().await.len(), 3);

    let young = app.app.sweep_orphans(std::time::Duration::from_secs(3600)).await.unwrap();
    assert_eq!((young.checked, young.deleted, young.young), (3, 0, 1), "a fresh orphan may be an upload in progress");
    let swept = app.app.sweep_orphans(std::time::Duration::ZERO).await.unwrap();
    assert_eq!((swept.checked, swept.deleted), (3, 1));
    assert_eq!(app.stored_artifacts().await.len(), 2);
    assert!(app.app.artifacts.size("datasets/lost/version/data.parquet").await.is_err());
}

#[tokio::test]
async fn the_sweeper_empties_the_spool_of_files_left_by_a_killed_process() {
    let app = spawn_app().await;
    let left = app.spool_dir().join("upload-left-by-a-kill");
    std::fs::write(&left, b"a,b\n1,2\n").unwrap();

    assert_eq!(
        app.app.sweep_spool(std::time::Duration::from_secs(3600)).await.unwrap(),
        0,
        "a young file may be in use"
    );
    assert!(left.exists());
    assert_eq!(app.app.sweep_spool(std::time::Duration::ZERO).await.unwrap(), 1);
    assert!(!left.exists());
    app.upload_ok("After", b"a\n1\n").await;
}

#[tokio::test]
async fn upload_responses_report_their_phase_timings() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "P").await;
    let reply = app.upload(&app.admin_key, project, "Timed", "t.csv", b"a\n1\n").await;
    assert_eq!(reply.status.as_u16(), 201);
    let timing = reply.headers["server-timing"].to_str().unwrap().to_string();
    assert!(timing.starts_with("normalize;dur=") && timing.contains(", store;dur="), "{timing}");
    let id = uuid_of(&reply.json()["dataset_id"]);
    let version = app.new_version(&app.admin_key, id, "again", b"a\n2\n").await;
    assert!(version.headers.contains_key("server-timing"));
}

#[tokio::test]
async fn r_row_names_become_a_row_name_column_and_an_empty_first_header_cell_stays_a_header() {
    let app = spawn_app().await;
    // statsmodels' dietox.csv: the header one field short of the rows.
    let dietox = "\"Pig\",\"Evit\",\"Cu\",\"Litter\",\"Start\",\"Weight\",\"Feed\"\n\
                  \"1\",4601,\"Evit000\",\"Cu000\",1,26.5,26.5,NA\n\
                  \"2\",4601,\"Evit000\",\"Cu000\",1,26.5,27.59999,5.200005\n\
                  \"3\",4601,\"Evit000\",\"Cu000\",1,26.5,36.5,17.6\n";
    let up = app.upload_ok("Dietox", dietox.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    let names: Vec<String> = dtypes(&columns).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["row_name", "Pig", "Evit", "Cu", "Litter", "Start", "Weight", "Feed"]);
    assert_eq!(
        app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&up["dataset_id"]))).await.expect(200)["dataset"]
            ["rows"],
        3
    );
    // R's write.csv: `"",x,y` over rows of three fields.
    let write_csv = "\"\",\"x\",\"y\"\n\"1\",10,a\n\"2\",20,b\n";
    let up = app.upload_ok("R write.csv", write_csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&columns), pairs(&[("column_1", "int64"), ("x", "int64"), ("y", "object")]));
    assert_eq!(
        app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&up["dataset_id"]))).await.expect(200)["dataset"]
            ["rows"],
        2
    );
}

#[tokio::test]
async fn none_is_a_value_and_pandas_markers_are_missing() {
    let app = spawn_app().await;
    // DAAG::kiwishade's `shade`: "none" means no shading, a real category.
    let csv = "plot,shade,note\n1,none,NA\n2,Aug2Dec,\n3,Dec2Feb,n/a\n4,none,#N/A N/A\n5,none,NULL\n6,Feb2May,ok\n";
    let up = app.upload_ok("Kiwi shade", csv.as_bytes()).await;
    let id = uuid_of(&up["dataset_id"]);
    let stats = app.get(&app.admin_key, &format!("/api/datasets/{id}/analyze")).await.expect(200);
    let column = |name: &str| stats["statistics"]["columns"][name].clone();
    assert_eq!(column("shade")["missing"], 0);
    assert_eq!(column("shade")["unique"], 4, "none is one of the four shades");
    assert_eq!(column("note")["missing"], 5);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    assert_eq!(detail["preview"][0]["shade"], "none");
    let notes: Vec<&serde_json::Value> = detail["preview"].as_array().unwrap().iter().map(|r| &r["note"]).collect();
    assert_eq!(notes.iter().filter(|n| n.is_null()).count(), 5, "NA, empty, n/a, #N/A N/A and NULL are missing");
}
