//! Canonical record batches → RFC 4180 CSV (UTF-8, CRLF line ends, a header row, fields quoted
//! only when needed). Cells are written so that uploading the file again gives the same
//! dtypes and values:
//!
//! | dtype | written as |
//! |---|---|
//! | int64 | decimal digits |
//! | float64 | the shortest text that reads back as the same float (`1.0`, `0.1`, `1e-7`, `inf`) |
//! | bool | `true` / `false` |
//! | datetime64 | `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.ffffff]` with `Z` for zoned columns |
//! | text | as stored |
//! | missing | an empty field |

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::domain::preview::{format_date, format_timestamp};
use crate::ports::StoreError;
use crate::ports::artifacts::ByteStream;
use crate::ports::tables::CsvOptions;

/// Encodes the batches; the header comes from the first batch's schema.
pub fn encode(batches: BoxStream<'static, Result<RecordBatch, StoreError>>, options: CsvOptions) -> ByteStream {
    let mut first = true;
    batches
        .map(move |batch| {
            let batch = batch?;
            let bytes = encode_batch(&batch, first, options)?;
            first = false;
            Ok(bytes)
        })
        .boxed()
}

fn encode_batch(batch: &RecordBatch, header: bool, options: CsvOptions) -> Result<Bytes, StoreError> {
    let fail = |e: csv::Error| StoreError::other_caused_by("encoding CSV", e);
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(batch.get_array_memory_size()));
    if header {
        let schema = batch.schema();
        writer.write_record(schema.fields().iter().map(|f| neutralised(f.name(), options))).map_err(fail)?;
    }
    let mut row_cells: Vec<String> = vec![String::new(); batch.num_columns()];
    for row in 0..batch.num_rows() {
        for (cell, column) in row_cells.iter_mut().zip(batch.columns()) {
            cell.clear();
            write_cell(cell, column, row);
            if options.escape_formulas && column.data_type() == &DataType::Utf8 && starts_like_formula(cell) {
                cell.insert(0, '\'');
            }
        }
        writer.write_record(&row_cells).map_err(fail)?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| StoreError::other_caused_by("encoding CSV", e.into_error()))
}

/// A column name as written in the header: like a text cell, prefixed with `'` when formulas
/// are escaped and it looks like one.
fn neutralised(name: &str, options: CsvOptions) -> std::borrow::Cow<'_, [u8]> {
    if options.escape_formulas && starts_like_formula(name) {
        format!("'{name}").into_bytes().into()
    } else {
        name.as_bytes().into()
    }
}

/// Text that a spreadsheet could run as a formula (OWASP's list).
fn starts_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The CSV text of one cell (see the module table); empty for a missing cell.
fn write_cell(out: &mut String, column: &ArrayRef, row: usize) {
    use std::fmt::Write;
    if column.is_null(row) {
        return;
    }
    let _ = match column.data_type() {
        DataType::Int64 => write!(out, "{}", column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => write!(out, "{:?}", column.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => write!(out, "{}", column.as_boolean().value(row)),
        DataType::Utf8 => write!(out, "{}", column.as_string::<i32>().value(row)),
        DataType::Date32 => write!(out, "{}", format_date(column.as_primitive::<Date32Type>().value(row))),
        DataType::Timestamp(_, tz) => {
            let micros = column.as_primitive::<TimestampMicrosecondType>().value(row);
            write!(out, "{}", format_timestamp(micros, tz.is_some()))
        }
        _ => match ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()) {
            Ok(f) => write!(out, "{}", f.value(row)),
            Err(_) => Ok(()),
        },
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn cells_are_written_so_that_they_read_back_as_the_same_values() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(i64::MIN), None])),
            Arc::new(Float64Array::from(vec![Some(1.0), Some(1e-7)])),
            Arc::new(BooleanArray::from(vec![Some(false), None])),
            Arc::new(StringArray::from(vec![Some("a,\"b\"\nc"), Some("x")])),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let text = String::from_utf8(encode_batch(&batch, true, CsvOptions::default()).unwrap().to_vec()).unwrap();
        assert_eq!(text, "i,f,b,s\r\n-9223372036854775808,1.0,false,\"a,\"\"b\"\"\nc\"\r\n,1e-7,,x\r\n");
    }

    #[test]
    fn formula_escaping_prefixes_only_text_cells_that_look_like_formulas() {
        let schema =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true), Field::new("s", DataType::Utf8, true)]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![-1, -2, -3, -4, -5, -6, -7])),
            Arc::new(StringArray::from(vec!["=SUM(A1)", "+1", "-2", "@x", "\tx", "plain", "a=b"])),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let escaped = encode_batch(&batch, false, CsvOptions { escape_formulas: true }).unwrap();
        let text = String::from_utf8(escaped.to_vec()).unwrap();
        assert_eq!(text, "-1,'=SUM(A1)\r\n-2,'+1\r\n-3,'-2\r\n-4,'@x\r\n-5,'\tx\r\n-6,plain\r\n-7,a=b\r\n");
        let plain = encode_batch(&batch, false, CsvOptions::default()).unwrap();
        assert!(String::from_utf8(plain.to_vec()).unwrap().starts_with("-1,=SUM(A1)\r\n"));
    }

    #[test]
    fn formula_escaping_neutralises_header_cells_too() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("=HEADER()", DataType::Int64, true),
            Field::new("@who", DataType::Utf8, true),
            Field::new("plain", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(StringArray::from(vec!["x"])),
            Arc::new(StringArray::from(vec!["y"])),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let escaped = encode_batch(&batch, true, CsvOptions { escape_formulas: true }).unwrap();
        assert_eq!(String::from_utf8(escaped.to_vec()).unwrap(), "'=HEADER(),'@who,plain\r\n1,x,y\r\n");
        let plain = encode_batch(&batch, true, CsvOptions::default()).unwrap();
        assert!(String::from_utf8(plain.to_vec()).unwrap().starts_with("=HEADER(),@who,plain\r\n"));
    }
}
