//! Columns given a type (the `dtypes` hint, a spreadsheet's cells): refused only for a value
//! that is not of the type, wherever the types are guessed from and however the text is cut.

use super::csv_ingest::{CsvReading, Parallelism, ingest_csv_with};
use super::digest_relay::HOLD_BYTES;
use crate::domain::dtype::DType;
use crate::domain::inference::ForcedType;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// Types guessed from the first few bytes only, the text cut into small blocks.
const SMALL: Parallelism = Parallelism { block_bytes: 64, workers: 3, guess_bytes: 16, hold_bytes: HOLD_BYTES };

fn ingest_given(text: &str, column: &str, dtype: DType) -> Result<IngestedTable, IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload.csv");
    std::fs::write(&upload, text).unwrap();
    let reading = CsvReading { dtypes: vec![(column.to_string(), ForcedType::Dtype(dtype))], ..CsvReading::default() };
    let normalized = dir.path().join("normalized.parquet");
    ingest_csv_with(&upload, &normalized, &IngestLimits::default(), dir.path(), SMALL, &reading)
}

#[test]
fn a_given_datetime_column_empty_where_types_are_guessed_takes_the_storage_of_its_dates() {
    let mut text = String::from("id,d\n");
    for i in 0..20 {
        text.push_str(&format!("{i},\n"));
    }
    text.push_str("20,2023-05-01\n21,2023-05-02\n");
    let table = ingest_given(&text, "d", DType::Datetime64).unwrap();
    assert_eq!(table.columns[1].dtype, DType::Datetime64);
    assert_eq!(table.row_count, 22);
}

#[test]
fn a_given_datetime_column_whose_order_is_decided_after_the_guess_is_read_in_that_order() {
    let mut text = String::from("d\n");
    for _ in 0..20 {
        text.push_str("01/02/2020\n");
    }
    text.push_str("13/02/2020\n");
    let table = ingest_given(&text, "d", DType::Datetime64).unwrap();
    assert_eq!(table.columns[0].dtype, DType::Datetime64);
}

#[test]
fn a_given_datetime_column_that_mixes_formats_is_refused_naming_the_first_other_one() {
    let text = "at\n2024-01-01T10:00:00+02:00\n2024-01-01T11:00:00+02:00\n2024-01-02 10:00:00\n";
    let err = ingest_given(text, "at", DType::Datetime64).unwrap_err();
    assert!(
        matches!(&err, IngestError::Invalid(m) if m.contains("data row 3") && m.contains("2024-01-02 10:00:00")),
        "{err:?}"
    );
}

#[test]
fn a_given_datetime_column_whose_order_stays_ambiguous_is_refused_at_its_first_ambiguous_date() {
    let err = ingest_given("d\n05/05/2020\n01/02/2020\n", "d", DType::Datetime64).unwrap_err();
    assert!(
        matches!(&err, IngestError::InvalidAt { line: 3, reason }
            if reason.contains("data row 2 holds \"01/02/2020\"") && reason.contains("day/month order")),
        "{err:?}"
    );
}

#[test]
fn a_value_not_of_the_given_type_is_refused_with_its_line_and_data_row_even_far_from_the_guess() {
    let mut text = String::from("n\n");
    for i in 0..40 {
        text.push_str(&format!("{i}\n"));
    }
    text.push_str("4x\n");
    let err = ingest_given(&text, "n", DType::Int64).unwrap_err();
    assert!(
        matches!(&err, IngestError::InvalidAt { line: 42, reason }
            if reason == "column \"n\" is given as int64 but data row 41 holds \"4x\""),
        "{err:?}"
    );
}

#[test]
fn a_refused_value_after_rows_of_several_lines_names_its_line_and_its_data_row_apart() {
    let mut text = String::from("n,note\n");
    for i in 0..30 {
        text.push_str(&format!("{i},\"two\nlines\"\n"));
    }
    text.push_str("x,one line\n7,\"a\nb\"\n");
    let err = ingest_given(&text, "n", DType::Int64).unwrap_err();
    // The header is line 1 and each of the 30 rows before takes two.
    assert!(
        matches!(&err, IngestError::InvalidAt { line: 62, reason } if reason.contains("data row 31 holds \"x\"")),
        "{err:?}"
    );
}

#[test]
fn a_given_datetime_column_whose_dates_need_both_orders_is_refused() {
    let err = ingest_given("d\n13/02/2020\n02/13/2020\n", "d", DType::Datetime64).unwrap_err();
    assert!(matches!(&err, IngestError::Invalid(m) if m.contains("both orders")), "{err:?}");
}
