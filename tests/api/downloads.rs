//! Every version downloads in every format, with strong entity tags, `304` for a current
//! copy, and byte ranges of stored files.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::helpers::{Reply, TestApp, bearer, spawn_app, uuid_of};

const V0: &[u8] =
    b"id,amount,city,when\n1,10.5,Paris,2024-01-02\n2,,Lyon,2024-01-03\n3,7.25,\"Saint-\xc3\x89tienne\",\n";
const V1: &[u8] = b"id,amount\n1,1.0\n";

async fn dataset(app: &TestApp) -> uuid::Uuid {
    let project = app.create_project(&app.admin_key, "Downloads").await;
    let up = app.upload(&app.admin_key, project, "Sales 2024", "sales (Q1) 2024.csv", V0).await.expect(201);
    let id = uuid_of(&up["dataset_id"]);
    app.new_version(&app.admin_key, id, "second", V1).await.expect(201);
    id
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = app.client.get(path).header("Authorization", bearer(&app.admin_key));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request).await
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

fn read_parquet(bytes: Bytes) -> Vec<arrow::array::RecordBatch> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn the_original_downloads_byte_for_byte_under_its_uploaded_name_with_its_digest() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let reply = get(&app, &format!("/api/datasets/{id}/download?version=0&format=original"), &[]).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(&reply.body[..], V0);
    let sha = hex::encode(Sha256::digest(V0));
    assert_eq!(header(&reply, "x-content-sha256"), sha);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(V0));
    assert_eq!(header(&reply, "repr-digest"), format!("sha-256=:{b64}:"));
    let disposition = header(&reply, "content-disposition");
    assert!(disposition.contains("filename=\"Sales_2024-v0.csv\""), "{disposition}");
    assert!(disposition.ends_with("; filename*=UTF-8''sales%20%28Q1%29%202024%2Ecsv"), "{disposition}");
    assert_eq!(header(&reply, "etag"), format!("\"sha256-{sha}\""));
    assert_eq!(header(&reply, "accept-ranges"), "bytes");
    assert_eq!(header(&reply, "content-length"), V0.len().to_string());
}

#[tokio::test]
async fn the_parquet_download_is_the_typed_table_of_the_version() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let reply = get(&app, &format!("/api/datasets/{id}/download?version=0&format=parquet"), &[]).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(header(&reply, "content-type"), "application/vnd.apache.parquet");
    let batches = read_parquet(reply.body.clone());
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "amount", "city", "when"]);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    assert_eq!(schema.field(1).data_type(), &arrow::datatypes::DataType::Float64);
    assert_eq!(schema.field(3).data_type(), &arrow::datatypes::DataType::Date32);
    let latest = get(&app, &format!("/api/datasets/{id}/download?format=parquet"), &[]).await;
    assert_eq!(read_parquet(latest.body.clone())[0].num_columns(), 2, "the default is the latest version");
}

#[tokio::test]
async fn json_lines_are_typed_like_the_preview() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let reply = get(&app, &format!("/api/datasets/{id}/download?version=0&format=jsonl"), &[]).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(header(&reply, "content-type"), "application/x-ndjson");
    let lines: Vec<serde_json::Value> = reply.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"id": 1, "amount": 10.5, "city": "Paris", "when": "2024-01-02"}),
            serde_json::json!({"id": 2, "amount": null, "city": "Lyon", "when": "2024-01-03"}),
            serde_json::json!({"id": 3, "amount": 7.25, "city": "Saint-Étienne", "when": null}),
        ]
    );
}

#[tokio::test]
async fn every_format_has_a_stable_strong_tag_and_a_current_copy_is_not_sent_again() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let mut tags = Vec::new();
    for format in ["csv", "xlsx", "parquet", "original", "jsonl", "csv&escape_formulas=true"] {
        let path = format!("/api/datasets/{id}/download?version=0&format={format}");
        let first = get(&app, &path, &[]).await;
        let second = get(&app, &path, &[]).await;
        assert_eq!(first.status.as_u16(), 200, "{format}");
        let tag = header(&first, "etag").to_string();
        assert!(tag.starts_with('"') && !tag.starts_with("W/"), "{format}: a strong tag, {tag}");
        assert_eq!(header(&second, "etag"), tag, "{format}");
        assert_eq!(first.body, second.body, "{format}: the same tag means the same bytes");
        assert!(header(&first, "last-modified").ends_with(" GMT"), "{format}");
        let cached = get(&app, &path, &[("If-None-Match", &tag)]).await;
        assert_eq!(cached.status.as_u16(), 304, "{format}");
        assert!(cached.body.is_empty(), "{format}: a 304 has no body");
        assert_eq!(header(&cached, "etag"), tag);
        let stale = get(&app, &path, &[("If-None-Match", "\"something-else\"")]).await;
        assert_eq!(stale.status.as_u16(), 200, "{format}");
        tags.push(tag);
    }
    let distinct: std::collections::HashSet<&String> = tags.iter().collect();
    assert_eq!(distinct.len(), tags.len(), "each format has its own tag: {tags:?}");
    let other = get(&app, &format!("/api/datasets/{id}/download?version=1&format=csv"), &[]).await;
    assert_ne!(header(&other, "etag"), tags[0], "another version, another tag");
}

#[tokio::test]
async fn stored_files_serve_single_byte_ranges() {
    let app = spawn_app().await;
    let id = dataset(&app).await;
    let path = format!("/api/datasets/{id}/download?version=0&format=original");
    let part = get(&app, &path, &[("Range", "bytes=3-9")]).await;
    assert_eq!(part.status.as_u16(), 206);
    assert_eq!(&part.body[..], &V0[3..10]);
    assert_eq!(header(&part, "content-range"), format!("bytes 3-9/{}", V0.len()));
    assert_eq!(header(&part, "content-length"), "7");
    let tail = get(&app, &path, &[("Range", "bytes=-5")]).await;
    assert_eq!(&tail.body[..], &V0[V0.len() - 5..]);
    let parquet = get(&app, &format!("/api/datasets/{id}/download?version=0&format=parquet"), &[]).await;
    let footer =
        get(&app, &format!("/api/datasets/{id}/download?version=0&format=parquet"), &[("Range", "bytes=-8")]).await;
    assert_eq!(footer.status.as_u16(), 206);
    assert_eq!(&footer.body[..], &parquet.body[parquet.body.len() - 8..]);
    assert_eq!(&footer.body[4..], b"PAR1");

    let past = get(&app, &path, &[("Range", &format!("bytes={}-", V0.len()))]).await;
    past.expect_error(416, "range_not_satisfiable");
    assert_eq!(header(&past, "content-range"), format!("bytes */{}", V0.len()));
    let changed = get(&app, &path, &[("Range", "bytes=0-1"), ("If-Range", "\"an-old-tag\"")]).await;
    assert_eq!(changed.status.as_u16(), 200, "If-Range with another tag: the whole file");
    assert_eq!(&changed.body[..], V0);
    let several = get(&app, &path, &[("Range", "bytes=0-1,4-5")]).await;
    assert_eq!(several.status.as_u16(), 200, "several ranges are not served: the whole file");
    let csv = get(&app, &format!("/api/datasets/{id}/download?version=0"), &[("Range", "bytes=0-1")]).await;
    assert_eq!(csv.status.as_u16(), 200, "encoded formats are whole");
    assert_eq!(header(&csv, "accept-ranges"), "none");
}
