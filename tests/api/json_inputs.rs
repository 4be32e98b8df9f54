//! JSON Lines and JSON arrays of objects: read as tables, never as CSV.

use std::io::Write;

use crate::helpers::{dtypes, pairs, spawn_app, uuid_of};

#[tokio::test]
async fn json_lines_are_read_as_objects_with_the_union_of_their_keys() {
    let app = spawn_app().await;
    let jsonl = "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\",\"when\":\"2024-01-02\"}\n{\"a\":3,\"b\":\"x\",\"tags\":[1,2],\"ok\":true}\n{\"a\":4,\"b\":\"x\",\"ok\":false,\"when\":null}\n";
    let up = app.upload_ok("Lines", jsonl.as_bytes()).await;
    assert_eq!(
        app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&up["dataset_id"]))).await.expect(200)["dataset"]
            ["rows"],
        4
    );
    let id = uuid_of(&up["dataset_id"]);
    let got = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(
        dtypes(&got),
        pairs(&[("a", "int64"), ("b", "category"), ("when", "datetime64"), ("tags", "object"), ("ok", "bool")])
    );
    let detail = app.get(&app.admin_key, &format!("/api/datasets/{id}")).await.expect(200);
    let rows = detail["preview"].as_array().unwrap();
    assert_eq!(rows[2]["tags"], "[1,2]", "nested values are kept as JSON text");
    assert_eq!(rows[0]["when"], serde_json::Value::Null, "a missing key is a missing cell");
    let original = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=original")).await;
    assert_eq!(original.text(), jsonl);
    assert_eq!(original.headers["content-type"], "application/x-ndjson");
}

#[tokio::test]
async fn a_json_array_of_objects_and_a_gzip_of_it_give_the_same_table() {
    let app = spawn_app().await;
    let json = br#"[{"id": 1, "score": 0.5, "name": "ann"}, {"id": 2, "score": null, "name": "bob"}]"#;
    let plain = app.upload_ok("Array", json).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json).unwrap();
    let zipped = app.upload_ok("Array gz", &gz.finish().unwrap()).await;
    assert_eq!(
        app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&plain["dataset_id"]))).await.expect(200)["dataset"]
            ["rows"],
        2
    );
    assert_eq!(plain["content_hash"], zipped["content_hash"]);
    let id = uuid_of(&plain["dataset_id"]);
    let got = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
    assert_eq!(dtypes(&got), pairs(&[("id", "int64"), ("score", "float64"), ("name", "object")]));
}

#[tokio::test]
async fn a_file_that_looks_like_json_but_is_not_is_refused_not_read_as_csv() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Bad JSON").await;
    let reply = app.upload(&app.admin_key, project, "Broken", "b.jsonl", b"{\"a\":1}\n{\"a\":2,\n").await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert!(message.contains("line 2"), "{message}");
    let reply = app.upload(&app.admin_key, project, "Scalars", "s.jsonl", b"{\"a\":1}\n42\n").await;
    let message = reply.expect_error(422, "unprocessable_file");
    assert!(message.contains("line 2") && message.contains("not an object"), "{message}");
    // A value no cell may hold is refused with the line it is on (not one of the CSV text the
    // objects are read through).
    let nul = b"{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":\"y\\u0000z\"}\n";
    let message =
        app.upload(&app.admin_key, project, "Nul", "n.jsonl", nul).await.expect_error(422, "unprocessable_file");
    assert_eq!(message, "line 2: the value of \"b\" holds a NUL character");
    assert!(app.stored_artifacts().await.is_empty());
    // JSON in UTF-16 is refused rather than read as CSV text.
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain("{\"a\":1}\n{\"a\":2}\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let message =
        app.upload(&app.admin_key, project, "Wide", "w.jsonl", &utf16).await.expect_error(422, "unprocessable_file");
    assert!(message.contains("UTF-16"), "{message}");
}
