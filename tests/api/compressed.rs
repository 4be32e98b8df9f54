//! Compressed uploads (gzip, zstd, bzip2, xz): recognized by content, read as the file they
//! hold, kept as uploaded, and refused past their limits with nothing stored.

use std::io::Write;

use crate::helpers::{files_under, spawn_app, spawn_app_configured, uuid_of};

const CSV: &[u8] = b"id,amount,city,day\n1,10.5,Paris,2024-01-02\n2,,Lyon,2024-01-03\n3,7.25,Nice,\n";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn each_compression(bytes: &[u8]) -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let bz = {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let xz = {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    vec![
        ("gzip", "application/gzip", gzip(bytes)),
        ("zstd", "application/zstd", zstd::stream::encode_all(bytes, 3).unwrap()),
        ("bzip2", "application/x-bzip2", bz),
        ("xz", "application/x-xz", xz),
    ]
}

#[tokio::test]
async fn each_compressed_csv_reads_as_the_csv_it_holds_and_keeps_its_original_bytes() {
    let app = spawn_app().await;
    let plain = app.upload_ok("Plain", CSV).await;
    let plain_columns =
        app.get(&app.admin_key, &format!("/api/datasets/{}/columns", uuid_of(&plain["dataset_id"]))).await.expect(200);
    let project = app.create_project(&app.admin_key, "Compressed").await;
    for (name, media_type, bytes) in each_compression(CSV) {
        // The name says nothing: the content decides.
        let up = app.upload(&app.admin_key, project, name, "export.dat", &bytes).await.expect(201);
        assert_eq!(
            app.get(&app.admin_key, &format!("/api/datasets/{}", uuid_of(&up["dataset_id"]))).await.expect(200)["dataset"]
                ["rows"],
            3,
            "{name}"
        );
        assert_eq!(up["content_hash"], plain["content_hash"], "{name}: the same table");
        let id = uuid_of(&up["dataset_id"]);
        let columns = app.get(&app.admin_key, &format!("/api/datasets/{id}/columns")).await.expect(200);
        assert_eq!(columns["columns"], plain_columns["columns"], "{name}");
        let original = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=original")).await;
        assert_eq!(original.status.as_u16(), 200);
        assert_eq!(&original.body[..], &bytes[..], "{name}: kept as uploaded");
        assert_eq!(original.headers["content-type"], media_type, "{name}");
        let csv = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=csv")).await;
        assert_eq!(csv.status.as_u16(), 200);
        assert!(
            csv.text().replace("\r\n", "\n").starts_with("id,amount,city,day\n1,10.5,Paris,2024-01-02"),
            "{name}: {}",
            csv.text()
        );
    }
}

#[tokio::test]
async fn a_compressed_parquet_file_is_read_as_parquet() {
    let app = spawn_app().await;
    let plain = app.upload_ok("Plain", CSV).await;
    let id = uuid_of(&plain["dataset_id"]);
    let parquet = app.get(&app.admin_key, &format!("/api/datasets/{id}/download?format=parquet")).await;
    assert_eq!(parquet.status.as_u16(), 200);
    let up = app.upload_ok("Zipped parquet", &zstd::stream::encode_all(&parquet.body[..], 3).unwrap()).await;
    assert_eq!(up["content_hash"], plain["content_hash"]);
}

#[tokio::test]
async fn a_file_expanding_past_the_limit_answers_413_naming_it_and_stores_nothing() {
    let app = spawn_app_configured(|s| s.max_decompressed_bytes = 100_000).await;
    let project = app.create_project(&app.admin_key, "Bombs").await;
    let big = b"a,b\n".iter().copied().chain(b"1,2\n".repeat(50_000)).collect::<Vec<u8>>();
    let reply = app.upload(&app.admin_key, project, "Bomb", "bomb.csv.gz", &gzip(&big)).await;
    let message = reply.expect_error(413, "payload_too_large");
    assert!(message.contains("MAX_DECOMPRESSED_BYTES") && message.contains("100000"), "{message}");
    assert!(app.stored_artifacts().await.is_empty());
    assert!(files_under(&app.spool_dir()).is_empty(), "the decompressed copy is deleted");
    let list = app.get(&app.admin_key, &format!("/api/datasets?project_id={project}")).await.expect(200);
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn a_compressed_file_inside_a_compressed_file_and_a_truncated_one_are_refused() {
    let app = spawn_app().await;
    let project = app.create_project(&app.admin_key, "Odd").await;
    let twice = gzip(&gzip(CSV));
    let message =
        app.upload(&app.admin_key, project, "Twice", "t.gz", &twice).await.expect_error(422, "unprocessable_file");
    assert!(message.contains("another compressed file"), "{message}");
    let whole = gzip(&CSV.repeat(200));
    let message = app
        .upload(&app.admin_key, project, "Cut", "c.gz", &whole[..whole.len() / 2])
        .await
        .expect_error(422, "unprocessable_file");
    assert!(message.contains("gzip") && message.contains("cannot be decompressed"), "{message}");
    assert!(app.stored_artifacts().await.is_empty());
}
