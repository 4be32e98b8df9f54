//! Property: ingesting a CSV text cut into many small blocks on several workers, with types
//! guessed from any prefix of it, gives exactly what one sequential pass with the types of the
//! whole text gives: the same schema, rows, quality report, preview and normalized values, or
//! the same error with the same line number. The same holds for a text parsed while it is
//! being written (a decompressed upload).

use std::path::Path;

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;

use super::csv_ingest::{Parallelism, ingest_csv_with, ingest_utf8_text_with};
use super::digest_relay::HOLD_BYTES;
use super::encoding::Utf8Text;
use super::growing::{Growth, TextFile};
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

fn ingest(text: &[u8], parallelism: Parallelism) -> (Result<IngestedTable, IngestError>, Vec<RecordBatch>) {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload.csv");
    std::fs::write(&upload, text).unwrap();
    let normalized = dir.path().join("normalized.parquet");
    let result =
        ingest_csv_with(&upload, &normalized, &IngestLimits::default(), dir.path(), parallelism, &Default::default());
    let batches = if result.is_ok() { read_back(&normalized) } else { Vec::new() };
    (result, batches)
}

fn read_back(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    // Row groups differ with the blocks: compare one concatenated batch.
    match batches.first() {
        Some(first) => vec![arrow::compute::concat_batches(&first.schema(), &batches).unwrap()],
        None => Vec::new(),
    }
}

/// Ingests `text` while a thread writes it `chunk` bytes at a time.
fn ingest_while_written(
    text: &[u8],
    chunk: usize,
    parallelism: Parallelism,
) -> (Result<IngestedTable, IngestError>, Vec<RecordBatch>) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decompressed.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    let normalized = dir.path().join("normalized.parquet");
    let growth = std::sync::Arc::new(Growth::new());
    let utf8 = Utf8Text::being_written(TextFile::growing(&path, std::sync::Arc::clone(&growth)), false);
    let result = std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            ingest_utf8_text_with(&utf8, &normalized, &IngestLimits::default(), parallelism, &Default::default())
        });
        let mut written = 0;
        for piece in text.chunks(chunk.max(1)) {
            out.write_all(piece).unwrap();
            written += piece.len() as u64;
            growth.grew(written);
        }
        growth.finish(Ok(written));
        reading.join().unwrap()
    });
    let batches = if result.is_ok() { read_back(&normalized) } else { Vec::new() };
    (result, batches)
}

const SEQUENTIAL: Parallelism =
    Parallelism { block_bytes: u64::MAX, workers: 1, guess_bytes: u64::MAX, hold_bytes: HOLD_BYTES };

/// Bytes the digest relay may hold: none (a later block's worker waits for its turn before
/// each batch), some, or the server's limit.
fn hold_bytes() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0), 1usize..4096, Just(HOLD_BYTES)]
}

fn assert_same(text: &[u8], parallel: Parallelism) {
    let (expected, expected_batches) = ingest(text, SEQUENTIAL);
    assert_same_as(&expected, &expected_batches, ingest(text, parallel));
}

fn assert_same_as(
    expected: &Result<IngestedTable, IngestError>,
    expected_batches: &[RecordBatch],
    (got, got_batches): (Result<IngestedTable, IngestError>, Vec<RecordBatch>),
) {
    match (expected, &got) {
        (Ok(e), Ok(g)) => {
            assert_eq!(g.columns, e.columns);
            assert_eq!(g.row_count, e.row_count);
            assert_eq!(g.content_hash, e.content_hash);
            assert_eq!(g.quality, e.quality);
            assert_eq!(g.preview, e.preview);
            assert_eq!(got_batches, expected_batches);
        }
        (Err(e), Err(g)) => assert_eq!(g.to_string(), e.to_string()),
        _ => panic!("sequential: {expected:?}\nparallel: {got:?}"),
    }
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{1,4}",
        2 => "-?[0-9]{1,3}\\.[0-9]{1,2}",
        2 => "[a-c]{1,3}",
        1 => Just(String::new()),
        1 => Just("NA".to_string()),
        1 => "(true|false)",
        1 => "2024-0[1-9]-1[0-9]",
        // Quoted text with delimiters, quotes and line breaks inside.
        2 => "\"[a-z,\n\r ]{0,6}(\"\"[a-z]{0,2})?\"",
    ]
}

fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    (1usize..5, 0usize..40, any::<bool>(), any::<bool>()).prop_flat_map(|(width, rows, crlf, ragged)| {
        let row = prop::collection::vec(field(), width);
        (prop::collection::vec(row, rows), Just(width), Just(crlf), Just(ragged), 0usize..40, 0usize..3).prop_map(
            |(rows, width, crlf, ragged, at, blank)| {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = (0..width).map(|i| format!("h{i}")).collect::<Vec<_>>().join(",") + eol;
                for (i, row) in rows.iter().enumerate() {
                    let mut cells = row.clone();
                    if ragged && i == at {
                        cells.push("extra".into());
                    }
                    text += &cells.join(",");
                    text += eol;
                    if i % 7 == 3 {
                        text += &eol.repeat(blank);
                    }
                }
                text.into_bytes()
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_text_read_while_it_is_being_written_reads_as_one_sequential_pass_of_the_finished_text(
        text in csv_text(),
        chunk in 1usize..64,
        block_bytes in 1u64..48,
        workers in 1usize..4,
        guess_bytes in 0u64..64,
        hold_bytes in hold_bytes(),
    ) {
        let (expected, expected_batches) = ingest(&text, SEQUENTIAL);
        let parallel = Parallelism { block_bytes, workers, guess_bytes, hold_bytes };
        assert_same_as(&expected, &expected_batches, ingest_while_written(&text, chunk, parallel));
    }

    #[test]
    fn a_text_read_in_small_blocks_on_several_workers_reads_as_one_sequential_pass(
        text in csv_text(),
        block_bytes in 1u64..48,
        workers in 1usize..4,
        guess_bytes in 0u64..64,
        hold_bytes in hold_bytes(),
    ) {
        assert_same(&text, Parallelism { block_bytes, workers, guess_bytes, hold_bytes });
    }
}

#[test]
fn a_boundary_inside_a_quoted_line_break_falls_back_to_one_pass_with_the_same_result() {
    let mut text = String::from("id,note\n");
    for i in 0..200 {
        text += &format!("{i},\"line one\nline two, {i}\"\n");
    }
    for block_bytes in [5, 13, 64, 100] {
        assert_same(text.as_bytes(), Parallelism { block_bytes, workers: 2, guess_bytes: 16, hold_bytes: HOLD_BYTES });
    }
}

#[test]
fn a_ragged_row_in_a_late_block_is_reported_at_its_line_in_the_file() {
    let mut text = String::from("a,b\r\n");
    for i in 0..300 {
        text += &format!("{i},\"x\ny\"\r\n");
    }
    text += "1,2,3\r\n4,5\r\n";
    let (result, _) =
        ingest(text.as_bytes(), Parallelism { block_bytes: 64, workers: 3, guess_bytes: 64, hold_bytes: HOLD_BYTES });
    let Err(IngestError::InvalidAt { line, reason }) = result else { panic!("{result:?}") };
    // The header is line 1 and every data row spans two lines.
    assert_eq!(line, 2 + 300 * 2, "{reason}");
    assert_same(text.as_bytes(), Parallelism { block_bytes: 64, workers: 3, guess_bytes: 64, hold_bytes: HOLD_BYTES });
}

#[test]
fn many_blocks_of_plain_rows_read_as_one_pass() {
    let mut text = String::from("id,amount,flag,when,label\n");
    for i in 0..5_000 {
        let amount = if i % 17 == 0 { String::new() } else { format!("{}.{}", i % 89, i % 10) };
        text += &format!("{i},{amount},{},2024-01-{:02},l{}\n", i % 2 == 0, i % 28 + 1, i % 5);
    }
    for (workers, hold_bytes) in [(2, HOLD_BYTES), (3, HOLD_BYTES), (2, 0), (3, 0)] {
        assert_same(text.as_bytes(), Parallelism { block_bytes: 4096, workers, guess_bytes: 4096, hold_bytes });
    }
}

#[test]
fn a_float_after_the_guessed_rows_makes_the_column_float64_with_every_value_exact() {
    let mut text = String::from("n,empty_at_first,code\n");
    for i in 0..2_000 {
        let late = if i < 1_500 { String::new() } else { format!("{i}") };
        text += &format!("{i},{late},c{}\n", i % 3);
    }
    text += "0.5,7,c1\n-0,8,c2\n";
    for (workers, hold_bytes) in [(1, HOLD_BYTES), (2, HOLD_BYTES), (2, 0)] {
        let parallelism = Parallelism { block_bytes: 2048, workers, guess_bytes: 100, hold_bytes };
        let (result, batches) = ingest(text.as_bytes(), parallelism);
        let table = result.unwrap();
        let types: Vec<_> = table.columns.iter().map(|c| c.dtype).collect();
        use crate::domain::dtype::DType;
        assert_eq!(types, [DType::Float64, DType::Int64, DType::Category]);
        let n = batches[0].column(0).as_any().downcast_ref::<arrow::array::Float64Array>().unwrap();
        assert_eq!(n.len(), 2_002);
        assert_eq!(n.value(1_234), 1234.0);
        assert_eq!(n.value(2_000), 0.5);
        assert!(n.value(2_001) == 0.0 && n.value(2_001).is_sign_negative(), "-0 stays -0.0");
        assert_same(text.as_bytes(), parallelism);
    }
}

#[test]
fn a_cell_that_does_not_fit_while_later_blocks_wait_for_their_digests_converts_again_without_waiting_forever() {
    // A float in the second of many blocks, after integers: the pass stops converting while
    // the later blocks' workers wait for their digest turn (no room at all), and is run again.
    let mut text = String::from("n,code\n");
    for i in 0..3_000 {
        let n = if i == 150 { "2.5".to_string() } else { i.to_string() };
        text += &format!("{n},c{}\n", i % 4);
    }
    for workers in [2, 3] {
        let parallelism = Parallelism { block_bytes: 512, workers, guess_bytes: 64, hold_bytes: 0 };
        let (done, finished) = std::sync::mpsc::channel();
        let sent = text.clone();
        std::thread::spawn(move || done.send(ingest(sent.as_bytes(), parallelism)).unwrap());
        let (result, batches) = finished
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{workers} workers: the ingest did not end"));
        let table = result.unwrap();
        assert_eq!(table.columns[0].dtype, crate::domain::dtype::DType::Float64);
        let (expected, expected_batches) = ingest(text.as_bytes(), SEQUENTIAL);
        assert_same_as(&expected, &expected_batches, (Ok(table), batches));
    }
}
