//! Property: one random typed table written as CSV, gzip CSV, zstd CSV, JSON Lines, XLSX,
//! Arrow IPC and Parquet is read back as the same table (the same dtypes and values: the same
//! content hash) from every format. The table is made by reading a random CSV; its normalized
//! batches are then written in each other format by the server's own writers (and Arrow's).
//! Values stay within what Excel holds: integers within ±2⁵³, finite floats that are not all
//! whole (Excel has one number type, so whole floats read back as integers, as in pandas), and
//! dates from 1900-03-01.

use std::io::Write;

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;

use super::FileIngestor;
use super::{csv_export, stream_export, xlsx_export};
use crate::domain::preview::format_date;
use crate::ports::tables::{CsvOptions, IngestLimits, IngestedTable, TableIngestor};

#[derive(Debug, Clone)]
enum Column {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
}

fn cells<T: std::fmt::Debug + Clone + 'static>(
    s: BoxedStrategy<T>,
    rows: usize,
) -> impl Strategy<Value = Vec<Option<T>>> {
    prop::collection::vec(prop::option::weighted(0.85, s), rows)
}

fn column(rows: usize) -> impl Strategy<Value = Column> {
    const EXACT: i64 = 1 << 53;
    prop_oneof![
        cells((-EXACT..EXACT).boxed(), rows).prop_map(Column::Int),
        cells((-1e12f64..1e12).boxed(), rows).prop_map(Column::Float),
        cells(any::<bool>().boxed(), rows).prop_map(Column::Bool),
        cells((-25_508i32..2_932_896).boxed(), rows).prop_map(Column::Date),
        cells("t_[a-z ,\"]{0,8}".boxed(), rows).prop_map(Column::Text),
    ]
}

fn cell(c: &Column, row: usize) -> String {
    match c {
        Column::Int(v) => v[row].map(|x| x.to_string()),
        Column::Float(v) => v[row].map(|x| format!("{x:?}")),
        Column::Bool(v) => v[row].map(|x| x.to_string()),
        Column::Date(v) => v[row].map(format_date),
        Column::Text(v) => v[row].clone(),
    }
    .unwrap_or_default()
}

/// Every column has a value, and float columns one that is not whole.
fn representable(c: &Column) -> bool {
    match c {
        Column::Int(v) => v.iter().any(Option::is_some),
        Column::Float(v) => v.iter().flatten().any(|x| x.fract() != 0.0),
        Column::Bool(v) => v.iter().any(Option::is_some),
        Column::Date(v) => v.iter().any(Option::is_some),
        Column::Text(v) => v.iter().any(Option::is_some),
    }
}

fn rows_of(c: &Column) -> usize {
    match c {
        Column::Int(v) => v.len(),
        Column::Float(v) => v.len(),
        Column::Bool(v) => v.len(),
        Column::Date(v) => v.len(),
        Column::Text(v) => v.len(),
    }
}

fn table() -> impl Strategy<Value = Vec<Column>> {
    (1usize..30).prop_flat_map(|rows| prop::collection::vec(column(rows), 1..5))
}

fn ingest(dir: &std::path::Path, name: &str, bytes: &[u8]) -> (IngestedTable, Vec<RecordBatch>) {
    let upload = dir.join(name);
    std::fs::write(&upload, bytes).unwrap();
    let normalized = dir.join(format!("{name}.parquet"));
    let table = FileIngestor::new(dir.to_path_buf())
        .ingest(&upload, &normalized, &IngestLimits::default(), &Default::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let file = std::fs::File::open(&normalized).unwrap();
    let batches =
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect();
    (table, batches)
}

/// The normalized batches written in each format: (name, bytes).
fn every_format(csv: &[u8], batches: &[RecordBatch], dir: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    let schema = batches[0].schema();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(csv).unwrap();
    let jsonl: Vec<u8> = batches.iter().flat_map(|b| stream_export::jsonl_batch(b).unwrap().to_vec()).collect();
    let mut ipc = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema).unwrap();
    let mut parquet = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), None).unwrap();
    let mut xlsx = xlsx_export::XlsxWriter::new(dir, 0).unwrap();
    let mut exported_csv = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        ipc.write(batch).unwrap();
        parquet.write(batch).unwrap();
        xlsx.write_batch(batch).unwrap();
        let options = CsvOptions { escape_formulas: false };
        exported_csv.extend_from_slice(&csv_export::encode_batch(batch, i == 0, options).unwrap());
    }
    let xlsx_path = dir.join("export.xlsx");
    xlsx.save(&xlsx_path).unwrap();
    vec![
        ("exported.csv", exported_csv),
        ("table.csv.gz", gzip.finish().unwrap()),
        ("table.csv.zst", zstd::stream::encode_all(csv, 3).unwrap()),
        ("table.jsonl", jsonl),
        ("table.xlsx", std::fs::read(&xlsx_path).unwrap()),
        ("table.arrows", ipc.into_inner().unwrap()),
        ("table.parquet", parquet.into_inner().unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_table_reads_back_the_same_from_every_input_format(columns in table()) {
        prop_assume!(columns.iter().all(representable));
        let rows = rows_of(&columns[0]);
        let mut csv = (0..columns.len()).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",") + "\n";
        for row in 0..rows {
            let cells: Vec<String> = columns.iter().map(|c| cell(c, row)).collect();
            // A row of only empty cells would be a blank line, which CSV readers skip.
            prop_assume!(cells.iter().any(|c| !c.is_empty()));
            let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
            writer.write_record(&cells).unwrap();
            csv.push_str(std::str::from_utf8(&writer.into_inner().unwrap()).unwrap());
        }
        let dir = tempfile::tempdir().unwrap();
        let (reference, batches) = ingest(dir.path(), "table.csv", csv.as_bytes());
        for (name, bytes) in every_format(csv.as_bytes(), &batches, dir.path()) {
            let (table, _) = ingest(dir.path(), name, &bytes);
            prop_assert_eq!(&table.columns, &reference.columns, "{}", name);
            prop_assert_eq!(table.row_count, reference.row_count, "{}", name);
            prop_assert_eq!(&table.content_hash, &reference.content_hash, "{}: the same values", name);
        }
    }
}
