//! Identity of versions: the SHA-256 of the uploaded bytes and the content hash of the
//! normalized table (docs/content-hash.md), and `skip_if_unchanged`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use poem::test::{TestForm, TestFormField};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, uuid_of};

const ROWS: usize = 20;
const CITIES: [&str; 3] = ["Zürich", "Paris", "Oslo"];

fn amount(row: usize) -> Option<f64> {
    (row != 3).then_some(row as f64 * 1.25)
}

/// One table as CSV with the given delimiter and line ending.
fn csv(delimiter: char, newline: &str) -> String {
    let d = delimiter;
    let mut out = format!("id{d}amount{d}city{d}flag{d}seen_at{newline}");
    for row in 0..ROWS {
        let amount = amount(row).map(|a| a.to_string()).unwrap_or_default();
        let (city, flag) = (CITIES[row % 3], row % 2 == 0);
        out += &format!("{}{d}{amount}{d}{city}{d}{flag}{d}2025-01-{:02}T10:00:00Z{newline}", row + 1, row + 1);
    }
    out
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// The same table as Parquet, in row groups of at most `rows_per_group` rows.
fn parquet(rows_per_group: usize, compression: Compression) -> Vec<u8> {
    let at = Field::new("seen_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        at,
    ]));
    let day = |row: usize| (1_735_689_600 + row as i64 * 86_400 + 36_000) * 1_000_000;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values((0..ROWS).map(|r| r as i64 + 1))),
        Arc::new(Float64Array::from_iter((0..ROWS).map(amount))),
        Arc::new(StringArray::from_iter_values((0..ROWS).map(|r| CITIES[r % 3]))),
        Arc::new(BooleanArray::from_iter((0..ROWS).map(|r| Some(r % 2 == 0)))),
        Arc::new(arrow::array::TimestampMicrosecondArray::from_iter_values((0..ROWS).map(day)).with_timezone("UTC")),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .set_compression(compression)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn upload(app: &TestApp, project: Uuid, name: &str, file_name: &str, bytes: &[u8]) -> Value {
    app.upload(&app.admin_key, project, name, file_name, bytes).await.expect(201)
}

async fn new_version_form(
    app: &TestApp,
    dataset: Uuid,
    file_name: &str,
    bytes: &[u8],
    skip: Option<&str>,
) -> crate::helpers::Reply {
    let mut form = TestForm::new()
        .text("description", "again")
        .field(TestFormField::bytes(bytes.to_vec()).name("file").filename(file_name));
    if let Some(skip) = skip {
        form = form.text("skip_if_unchanged", skip);
    }
    app.post_form(&app.admin_key, &format!("/api/datasets/{dataset}/versions"), form).await
}

#[tokio::test]
async fn the_sha256_of_an_upload_of_many_chunks_is_that_of_its_bytes_in_order() {
    // Over a megabyte: the upload is received and hashed in several chunks of 256 KiB, each
    // hashed while the next is read; rows differ so that chunks out of order would hash apart.
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Identity").await;
    let mut bytes = b"id,text\n".to_vec();
    for i in 0..40_000 {
        bytes.extend_from_slice(format!("{i},row number {i} of many\n").as_bytes());
    }
    assert!(bytes.len() > 4 * 256 * 1024, "{}", bytes.len());
    let up = upload(&app, project, "Chunks", "chunks.csv", &bytes).await;
    assert_eq!(up["sha256"], hex_sha256(&bytes));
}

#[tokio::test]
async fn the_same_table_has_one_content_hash_whatever_file_it_came_from() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Identity").await;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("comma.csv", csv(',', "\n").into_bytes()),
        ("semicolon.csv", csv(';', "\n").into_bytes()),
        ("crlf.csv", csv(',', "\r\n").into_bytes()),
        ("utf16.csv", utf16le_with_bom(&csv(',', "\r\n"))),
        ("one-group.parquet", parquet(ROWS, Compression::UNCOMPRESSED)),
        ("seven-groups.parquet", parquet(3, Compression::ZSTD(ZstdLevel::default()))),
    ];
    let seven = parquet::file::reader::SerializedFileReader::new(Bytes::from(files[5].1.clone())).unwrap();
    assert_eq!(parquet::file::reader::FileReader::metadata(&seven).num_row_groups(), 7);

    let mut hashes = Vec::new();
    for (name, bytes) in &files {
        let up = upload(&app, project, name, name, bytes).await;
        assert_eq!(up["sha256"], hex_sha256(bytes), "{name}: sha256 is of the uploaded bytes");
        let hash = up["content_hash"].as_str().unwrap().to_string();
        assert!(hash.starts_with("sha256:") && hash.len() == 71, "{hash}");
        hashes.push((name, hash));
    }
    for (name, hash) in &hashes {
        assert_eq!(hash, &hashes[0].1, "{name} and {} hold one table", hashes[0].0);
    }
}

#[tokio::test]
async fn every_view_of_a_version_shows_its_hashes() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Views").await;
    let bytes = csv(',', "\n").into_bytes();
    let up = upload(&app, project, "Views", "v.csv", &bytes).await;
    let (dataset, version) = (uuid_of(&up["dataset_id"]), uuid_of(&up["dataset_version_id"]));
    let (sha, hash) = (up["sha256"].clone(), up["content_hash"].clone());

    let detail = app.get(&app.admin_key, &format!("/api/datasets/{dataset}")).await.expect(200);
    assert_eq!((&detail["dataset"]["sha256"], &detail["dataset"]["content_hash"]), (&sha, &hash));
    let one = app.get(&app.admin_key, &format!("/api/dataset-versions/{version}")).await.expect(200);
    assert_eq!((&one["sha256"], &one["content_hash"]), (&sha, &hash));
    let list = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/versions")).await.expect(200);
    assert_eq!((&list["items"][0]["sha256"], &list["items"][0]["content_hash"]), (&sha, &hash));
    let original = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/download?format=original")).await;
    assert_eq!(Value::String(hex_sha256(&original.body)), sha);
}

#[tokio::test]
async fn changing_one_cell_a_name_or_the_row_order_changes_the_content_hash() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Changes").await;
    let base = csv(',', "\n");
    let hash = |v: Value| v["content_hash"].as_str().unwrap().to_string();
    let first = hash(upload(&app, project, "base", "b.csv", base.as_bytes()).await);

    let one_cell = base.replacen("Paris", "Lyon", 1);
    let renamed = base.replacen("amount", "total", 1);
    let mut lines: Vec<&str> = base.lines().collect();
    lines.swap(1, 2);
    let reordered = lines.join("\n") + "\n";
    for (what, file) in [("one cell", one_cell), ("a column name", renamed), ("the row order", reordered)] {
        let other = hash(upload(&app, project, what, "c.csv", file.as_bytes()).await);
        assert_ne!(other, first, "{what}");
    }
}

#[tokio::test]
async fn skip_if_unchanged_answers_200_with_the_latest_version_and_stores_nothing() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Skip").await;
    let up = upload(&app, project, "Skip", "v0.csv", csv(',', "\n").as_bytes()).await;
    let dataset = uuid_of(&up["dataset_id"]);
    let stored = app.stored_artifacts().await.len();

    let same_table = utf16le_with_bom(&csv(';', "\r\n"));
    let reply = new_version_form(&app, dataset, "same.csv", &same_table, Some("true")).await;
    let same = reply.expect(200);
    assert_eq!(same["unchanged"], true);
    assert_eq!(same["dataset_version_id"], up["dataset_version_id"]);
    assert_eq!(same["version"], 0);
    assert_eq!(same["content_hash"], up["content_hash"]);
    assert_eq!(same["sha256"], up["sha256"], "the latest version's fields, not the new file's");
    assert_eq!(app.stored_artifacts().await.len(), stored, "nothing was stored");
    let versions = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/versions")).await.expect(200);
    assert_eq!(versions["total"], 1);

    let changed = csv(',', "\n").replacen("Oslo", "Bergen", 1);
    let created = new_version_form(&app, dataset, "v1.csv", changed.as_bytes(), Some("true")).await.expect(201);
    assert_eq!((created["version"].clone(), created["unchanged"].clone()), (1.into(), false.into()));

    let without_flag = new_version_form(&app, dataset, "v2.csv", changed.as_bytes(), None).await.expect(201);
    assert_eq!(without_flag["version"], 2, "without the flag an equal table is a new version");
    assert_eq!(without_flag["content_hash"], created["content_hash"]);
    let explicit_false = new_version_form(&app, dataset, "v3.csv", changed.as_bytes(), Some("false")).await;
    assert_eq!(explicit_false.expect(201)["version"], 3);

    let message = new_version_form(&app, dataset, "v.csv", changed.as_bytes(), Some("yes")).await;
    assert!(message.expect_error(400, "bad_request").contains("skip_if_unchanged"));
}

/// The recipe of docs/content-hash.md, written again from the document (not from the server's
/// code): the parquet download and the dtypes of `/columns` give the hash of the upload answer.
#[tokio::test]
async fn the_documented_recipe_recomputes_the_server_s_content_hash() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Recipe").await;
    let mut text = csv(',', "\n");
    text = text.replacen("Zürich", "", 1).replacen(",true,", ",,", 1);
    text += "21,-0.0,Oslo,false,\n";
    let up = upload(&app, project, "Recipe", "r.csv", text.as_bytes()).await;
    let dataset = uuid_of(&up["dataset_id"]);
    let columns = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/columns")).await.expect(200);
    let parquet_file = app.get(&app.admin_key, &format!("/api/datasets/{dataset}/download?format=parquet")).await;
    assert_eq!(parquet_file.status, 200);

    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(parquet_file.body.clone())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let dtypes: Vec<(String, String)> = columns["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["dtype"].as_str().unwrap().to_string()))
        .collect();

    let mut table = b"datasets-api/table/v1\n".to_vec();
    table.extend((rows as u64).to_le_bytes());
    table.extend((dtypes.len() as u64).to_le_bytes());
    for (index, (name, dtype)) in dtypes.iter().enumerate() {
        let mut cells = Vec::new();
        let data_type = batches[0].column(index).data_type().clone();
        cells.push(match &data_type {
            DataType::Int64 => 1u8,
            DataType::Float64 => 2,
            DataType::Boolean => 3,
            DataType::Date32 => 4,
            DataType::Timestamp(TimeUnit::Microsecond, None) => 5,
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => 6,
            DataType::Utf8 => 7,
            other => panic!("the recipe has no tag for {other}"),
        });
        for batch in &batches {
            let column = batch.column(index);
            for row in 0..column.len() {
                let present = column.is_valid(row);
                cells.push(u8::from(present));
                match &data_type {
                    DataType::Int64 => {
                        let v = column.as_primitive::<arrow::datatypes::Int64Type>().value(row);
                        cells.extend(if present { v } else { 0 }.to_le_bytes());
                    }
                    DataType::Timestamp(..) => {
                        let v = column.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().value(row);
                        cells.extend(if present { v } else { 0 }.to_le_bytes());
                    }
                    DataType::Float64 => {
                        let v = column.as_primitive::<arrow::datatypes::Float64Type>().value(row);
                        cells.extend(if present { v.to_bits() } else { 0 }.to_le_bytes());
                    }
                    DataType::Boolean => cells.push(u8::from(present && column.as_boolean().value(row))),
                    DataType::Date32 => {
                        let v = column.as_primitive::<arrow::datatypes::Date32Type>().value(row);
                        cells.extend(if present { v } else { 0 }.to_le_bytes());
                    }
                    _ if present => {
                        let v = column.as_string::<i32>().value(row).as_bytes();
                        cells.extend((v.len() as u64).to_le_bytes());
                        cells.extend(v);
                    }
                    _ => {}
                }
            }
        }
        table.extend((name.len() as u64).to_le_bytes());
        table.extend(name.as_bytes());
        table.extend((dtype.len() as u64).to_le_bytes());
        table.extend(dtype.as_bytes());
        table.extend(Sha256::digest(&cells));
    }
    assert_eq!(up["content_hash"], format!("sha256:{}", hex_sha256(&table)));
}

#[tokio::test]
async fn versions_without_a_recorded_content_hash_get_the_one_of_their_stored_table() {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    use sea_orm::{ConnectionTrait, Database};

    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Backfill").await;
    let up = upload(&app, project, "Backfill", "b.csv", csv(';', "\r\n").as_bytes()).await;
    let dataset = uuid_of(&up["dataset_id"]);
    let parquet_file = parquet(3, Compression::SNAPPY);
    let v1 = new_version_form(&app, dataset, "b.parquet", &parquet_file, None).await.expect(201);
    let other = upload(&app, project, "Other", "o.csv", b"a\n1\n").await;

    // As a version uploaded before hashes were recorded: no content hash.
    let db = Database::connect(&app.settings.database_url).await.expect("connecting to the app's database");
    let forget = Query::update()
        .table(Alias::new("dataset_versions"))
        .value(Alias::new("content_hash"), Option::<String>::None)
        .and_where(Expr::col(Alias::new("dataset_id")).eq(dataset))
        .to_owned();
    db.execute(&forget).await.expect("forgetting the content hashes");
    db.close().await.expect("closing");
    let path = format!("/api/datasets/{dataset}/versions");
    let before = app.get(&app.admin_key, &path).await.expect(200);
    assert_eq!(
        (&before["items"][0]["content_hash"], &before["items"][1]["content_hash"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(before["items"][1]["sha256"], hex_sha256(&parquet_file), "the sha256 stays");

    assert_eq!(app.app.backfill_content_hashes(1).await.expect("the backfill"), 2);
    let after = app.get(&app.admin_key, &path).await.expect(200);
    assert_eq!(after["items"][0]["content_hash"], up["content_hash"], "the hash of the stored table is the upload's");
    assert_eq!(after["items"][1]["content_hash"], v1["content_hash"]);
    assert_eq!(after["items"][0]["content_hash"], after["items"][1]["content_hash"]);
    assert_eq!(app.app.backfill_content_hashes(1).await.expect("a second backfill"), 0);
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&other["dataset_id"]))).await;
    assert_eq!(detail.expect(200)["dataset"]["content_hash"], other["content_hash"]);
}
