//! A compressed CSV is parsed while it is being decompressed: whatever the text holds, the
//! result (or the error) is the one its uncompressed upload gives, and a damaged file is
//! refused as damaged even when the parse had begun.

use std::io::Write;

use super::FileIngestor;
use crate::domain::read_hints::ReadHints;
use crate::domain::records::Compression;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable, TableIngestor};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The upload of `bytes`, and the bytes of the normalized file it wrote.
fn ingest(bytes: &[u8], hints: &ReadHints) -> (Result<IngestedTable, IngestError>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload");
    std::fs::write(&upload, bytes).unwrap();
    let normalized = dir.path().join("normalized.parquet");
    let result =
        FileIngestor::new(dir.path().to_path_buf()).ingest(&upload, &normalized, &IngestLimits::default(), hints);
    let written = if result.is_ok() { std::fs::read(&normalized).unwrap() } else { Vec::new() };
    (result, written)
}

/// Uploading the gzip of `text` gives what uploading `text` gives.
fn assert_same_as_uncompressed(text: &[u8], hints: &ReadHints) -> Result<IngestedTable, IngestError> {
    let (plain, plain_file) = ingest(text, hints);
    let (compressed, compressed_file) = ingest(&gzip(text), hints);
    match (&plain, &compressed) {
        (Ok(p), Ok(c)) => {
            assert_eq!(c.format.compression, Some(Compression::Gzip));
            assert_eq!((&c.columns, c.row_count, &c.content_hash), (&p.columns, p.row_count, &p.content_hash));
            assert_eq!((&c.quality, &c.preview), (&p.quality, &p.preview));
            assert_eq!(compressed_file, plain_file, "the same normalized file");
        }
        (Err(p), Err(c)) => assert_eq!(c.to_string(), p.to_string()),
        _ => panic!("uncompressed: {plain:?}\ngzip: {compressed:?}"),
    }
    compressed
}

/// A CSV text of about `rows` × 40 bytes.
fn rows(rows: usize) -> String {
    let mut text = String::from("id,amount,city,when\n");
    for i in 0..rows {
        text += &format!("{i},{}.{},\"city {}, {}\",2024-03-{:02}\n", i % 997, i % 100, i % 13, i % 7, i % 28 + 1);
    }
    text
}

#[test]
fn a_gzip_csv_larger_than_a_block_reads_as_its_text() {
    // Over 16 MiB: the text is cut into two blocks or more while it is being written.
    let table = assert_same_as_uncompressed(rows(600_000).as_bytes(), &ReadHints::default()).unwrap();
    assert_eq!(table.row_count, 600_000);
}

#[test]
fn a_gzip_csv_not_in_utf8_is_read_whole_with_its_encoding_detected() {
    let text = rows(20_000).replacen("\n", "\n-1,1.5,\"Zürich, Besançon\",2024-03-01\n", 1);
    let latin = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
    let table = assert_same_as_uncompressed(&latin, &ReadHints::default()).unwrap();
    assert!(format!("{:?}", table.preview).contains("Zürich, Besançon"), "{:?}", table.preview.first());
    // With a byte-order mark, and with the encoding given.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    assert_same_as_uncompressed(&bom, &ReadHints::default()).unwrap();
    let given = ReadHints { encoding: Some("windows-1252".into()), ..ReadHints::default() };
    assert_same_as_uncompressed(&latin, &given).unwrap();
}

#[test]
fn an_error_early_in_a_text_that_is_not_utf8_later_is_the_error_of_its_upload() {
    // The ragged row's error is found while the text is being written, but the text turns out
    // not to be UTF-8: it is read again as Windows-1252, as its upload would be.
    let mut text = rows(5).replace("3,3.3,", "3,3.3,extra,");
    text += &rows(50_000)[20..];
    let mut latin = encoding_rs::WINDOWS_1252.encode(&text).0.into_owned();
    latin.extend_from_slice(b"9,1.0,Z\xfcrich,2024-03-01\n");
    let err = assert_same_as_uncompressed(&latin, &ReadHints::default()).unwrap_err();
    assert!(matches!(&err, IngestError::InvalidAt { line: 5, .. }), "{err:?}");
}

#[test]
fn a_truncated_gzip_csv_is_refused_as_damaged_though_its_parse_had_begun() {
    let bytes = gzip(rows(200_000).as_bytes());
    let (result, _) = ingest(&bytes[..bytes.len() * 3 / 4], &ReadHints::default());
    let err = result.unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("cannot be decompressed")), "{err:?}");
}

#[test]
fn a_gzip_file_of_nothing_but_blank_lines_and_one_holding_a_gzip_file_are_refused_as_before() {
    let err = assert_same_as_uncompressed(b"\n\n\r\n", &ReadHints::default()).unwrap_err();
    assert_eq!(err, IngestError::Empty);
    let (result, _) = ingest(&gzip(&gzip(b"a,b\n1,2\n")), &ReadHints::default());
    assert!(
        matches!(&result, Err(IngestError::Invalid(m)) if m.contains("holds another compressed file")),
        "{result:?}"
    );
}
