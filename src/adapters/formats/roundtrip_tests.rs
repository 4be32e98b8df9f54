//! Property: random typed tables written as CSV and ingested come back with the same dtypes
//! and the same values (read from the normalized Parquet file).

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;

use super::FileIngestor;
use crate::domain::dtype::DType;
use crate::domain::inference::is_category;
use crate::domain::preview::format_date;
use crate::ports::tables::{IngestLimits, TableIngestor};

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
    prop_oneof![
        self::cells(any::<i64>().boxed(), rows).prop_map(Column::Int),
        self::cells(
            prop_oneof![any::<f64>().prop_filter("finite", |x| x.is_finite()), Just(f64::INFINITY)].boxed(),
            rows
        )
        .prop_map(Column::Float),
        self::cells(any::<bool>().boxed(), rows).prop_map(Column::Bool),
        self::cells((-200_000i32..2_900_000).boxed(), rows).prop_map(Column::Date),
        self::cells("t_[a-z ,\"]{0,8}".boxed(), rows).prop_map(Column::Text),
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

fn has_value(c: &Column) -> bool {
    match c {
        Column::Int(v) => v.iter().any(Option::is_some),
        Column::Float(v) => v.iter().any(Option::is_some),
        Column::Bool(v) => v.iter().any(Option::is_some),
        Column::Date(v) => v.iter().any(Option::is_some),
        Column::Text(v) => v.iter().any(Option::is_some),
    }
}

fn expected_dtype(c: &Column) -> DType {
    match c {
        Column::Int(_) => DType::Int64,
        Column::Float(v) => {
            // A float column whose every value prints as an integer literal would be int64, but
            // `{:?}` always prints a fraction or an exponent, so floats stay floats.
            let _ = v;
            DType::Float64
        }
        Column::Bool(_) => DType::Bool,
        Column::Date(_) => DType::Datetime64,
        Column::Text(v) => {
            let values: Vec<&String> = v.iter().flatten().collect();
            let distinct = values.iter().collect::<std::collections::HashSet<_>>().len();
            if is_category(distinct, values.len() as u64) { DType::Category } else { DType::Object }
        }
    }
}

fn read_back(path: &std::path::Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
}

fn table() -> impl Strategy<Value = Vec<Column>> {
    (1usize..40).prop_flat_map(|rows| prop::collection::vec(column(rows), 1..6))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_typed_tables_survive_csv_ingest(columns in table()) {
        prop_assume!(columns.iter().all(has_value));
        let rows = match &columns[0] {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Date(v) => v.len(),
            Column::Text(v) => v.len(),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut writer = csv::WriterBuilder::new().from_path(dir.path().join("t.csv")).unwrap();
        writer.write_record((0..columns.len()).map(|i| format!("c{i}"))).unwrap();
        for row in 0..rows {
            // A row of only empty cells would be a blank line, which CSV readers skip.
            let cells: Vec<String> = columns.iter().map(|c| cell(c, row)).collect();
            prop_assume!(cells.iter().any(|c| !c.is_empty()));
            writer.write_record(&cells).unwrap();
        }
        writer.flush().unwrap();
        drop(writer);

        let normalized = dir.path().join("n.parquet");
        let table = FileIngestor::new(dir.path().to_path_buf())
            .ingest(&dir.path().join("t.csv"), &normalized, &IngestLimits::default(), &Default::default())
            .unwrap();
        prop_assert_eq!(table.row_count as usize, rows);
        let dtypes: Vec<DType> = table.columns.iter().map(|c| c.dtype).collect();
        let expected: Vec<DType> = columns.iter().map(expected_dtype).collect();
        prop_assert_eq!(dtypes, expected);

        let batches = read_back(&normalized);
        let batch = arrow::compute::concat_batches(&Arc::clone(batches[0].schema_ref()), &batches).unwrap();
        for (i, c) in columns.iter().enumerate() {
            let got = batch.column(i);
            for row in 0..rows {
                let present = got.is_valid(row);
                match c {
                    Column::Int(v) => prop_assert_eq!(present.then(|| got.as_primitive::<Int64Type>().value(row)), v[row]),
                    Column::Float(v) => prop_assert_eq!(
                        present.then(|| got.as_primitive::<Float64Type>().value(row).to_bits()),
                        v[row].map(f64::to_bits)
                    ),
                    Column::Bool(v) => prop_assert_eq!(present.then(|| got.as_boolean().value(row)), v[row]),
                    Column::Date(v) => prop_assert_eq!(present.then(|| got.as_primitive::<Date32Type>().value(row)), v[row]),
                    Column::Text(v) => {
                        let want = v[row].clone().filter(|s| !crate::domain::inference::is_missing(s));
                        prop_assert_eq!(present.then(|| got.as_string::<i32>().value(row).to_string()), want)
                    }
                }
            }
        }
    }
}

#[test]
fn normalized_files_delta_encode_integers_and_timestamps_and_compress_the_rest_with_snappy() {
    use parquet::basic::{Compression, Encoding};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,at,day,amount,name,kind\n");
    for i in 0..5_000 {
        csv.push_str(&format!(
            "{},2025-01-01T00:{:02}:{:02}Z,2025-02-{:02},{}.25,name {i},{}\n",
            i as i64 * 3 - 7_000,
            (i / 60) % 60,
            i % 60,
            1 + i % 28,
            i % 97,
            ["a", "b"][i % 2]
        ));
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let normalized = dir.path().join("t.parquet");
    FileIngestor::new(dir.path().to_path_buf())
        .ingest(&dir.path().join("t.csv"), &normalized, &IngestLimits::default(), &Default::default())
        .unwrap();

    let reader = SerializedFileReader::new(std::fs::File::open(&normalized).unwrap()).unwrap();
    let group = reader.metadata().row_group(0);
    for (i, (delta, compression)) in [
        (true, Compression::UNCOMPRESSED),
        (true, Compression::UNCOMPRESSED),
        (true, Compression::UNCOMPRESSED),
        (false, Compression::SNAPPY),
        (false, Compression::SNAPPY),
        (false, Compression::SNAPPY),
    ]
    .into_iter()
    .enumerate()
    {
        let chunk = group.column(i);
        assert_eq!(chunk.compression(), compression, "column {i}");
        assert_eq!(
            chunk.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED),
            delta,
            "column {i}: {:?}",
            chunk.encodings().collect::<Vec<_>>()
        );
    }
    // The values read back are the ones written (the delta-encoded columns included).
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&normalized).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<i64> =
        batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(ids, (0..5_000).map(|i| i * 3 - 7_000).collect::<Vec<i64>>());
    let days: Vec<i32> =
        batches.iter().flat_map(|b| b.column(2).as_primitive::<Date32Type>().values().to_vec()).collect();
    assert_eq!(days[27], 20_147, "2025-02-28 is day 20,147 of the Unix epoch");
}

#[test]
fn a_wide_file_delta_encodes_only_its_first_64_integer_columns_and_reads_back_whole() {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    let columns = 100;
    let mut csv = (0..columns).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",") + "\n";
    for row in 0..50 {
        csv.push_str(&(0..columns).map(|c| (row * columns + c).to_string()).collect::<Vec<_>>().join(","));
        csv.push('\n');
    }
    std::fs::write(dir.path().join("w.csv"), csv).unwrap();
    let normalized = dir.path().join("w.parquet");
    FileIngestor::new(dir.path().to_path_buf())
        .ingest(&dir.path().join("w.csv"), &normalized, &IngestLimits::default(), &Default::default())
        .unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&normalized).unwrap()).unwrap();
    let group = reader.metadata().row_group(0);
    let delta: Vec<bool> =
        (0..columns).map(|c| group.column(c).encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED)).collect();
    assert_eq!(delta, (0..columns).map(|c| c < 64).collect::<Vec<_>>());
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&normalized).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let last: Vec<i64> =
        batches.iter().flat_map(|b| b.column(99).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(last, (0..50).map(|row| row * 100 + 99).collect::<Vec<i64>>());
}
