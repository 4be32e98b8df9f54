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

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::domain::preview::{write_date, write_timestamp};
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

/// One column's cells, with the writer chosen once per batch (not per cell).
enum Cells<'a> {
    Int(&'a PrimitiveArray<Int64Type>),
    Float(&'a PrimitiveArray<Float64Type>),
    Bool(&'a BooleanArray),
    Text(&'a StringArray),
    Date(&'a PrimitiveArray<Date32Type>),
    Timestamp(&'a PrimitiveArray<TimestampMicrosecondType>, bool),
    /// Any other type (not in normalized tables; query answers): Arrow's display text.
    Other(ArrayFormatter<'a>),
}

impl<'a> Cells<'a> {
    fn of(column: &'a ArrayRef, options: &'a FormatOptions<'a>) -> Result<Self, StoreError> {
        Ok(match column.data_type() {
            DataType::Int64 => Cells::Int(column.as_primitive()),
            DataType::Float64 => Cells::Float(column.as_primitive()),
            DataType::Boolean => Cells::Bool(column.as_boolean()),
            DataType::Utf8 => Cells::Text(column.as_string()),
            DataType::Date32 => Cells::Date(column.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Cells::Timestamp(column.as_primitive(), tz.is_some()),
            _ => Cells::Other(
                ArrayFormatter::try_new(column.as_ref(), options)
                    .map_err(|e| StoreError::other_caused_by("encoding CSV", e))?,
            ),
        })
    }
}

/// One batch as CSV lines, after the header row when `header`.
pub fn encode_batch(batch: &RecordBatch, header: bool, options: CsvOptions) -> Result<Bytes, StoreError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + batch.num_rows() * 2);
    let single = batch.num_columns() == 1;
    if header {
        for (i, field) in batch.schema().fields().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_text(&mut out, field.name(), options, single);
        }
        out.extend_from_slice(b"\r\n");
    }
    let format = FormatOptions::default();
    let cells = batch.columns().iter().map(|c| Cells::of(c, &format)).collect::<Result<Vec<_>, _>>()?;
    let mut int_buffer = itoa::Buffer::new();
    for row in 0..batch.num_rows() {
        for (i, (column, cell)) in batch.columns().iter().zip(&cells).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if column.is_null(row) {
                if single {
                    // A row of one missing cell: `""`, so that the line is not empty.
                    out.extend_from_slice(b"\"\"");
                }
                continue;
            }
            match cell {
                Cells::Int(a) => out.extend_from_slice(int_buffer.format(a.value(row)).as_bytes()),
                Cells::Float(a) => write_float(&mut out, a.value(row)),
                Cells::Bool(a) => out.extend_from_slice(if a.value(row) { b"true" } else { b"false" }),
                Cells::Text(a) => write_text(&mut out, a.value(row), options, single),
                Cells::Date(a) => write_date(&mut out, a.value(row)),
                Cells::Timestamp(a, utc) => write_timestamp(&mut out, a.value(row), *utc),
                Cells::Other(f) => {
                    use std::io::Write;
                    let mut text = Vec::new();
                    let _ = write!(text, "{}", f.value(row));
                    write_text(&mut out, &String::from_utf8_lossy(&text), options, single);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    Ok(Bytes::from(out))
}

/// The shortest text that reads back as the same float, in the notation of Rust's `{:?}`
/// (`1.0`, `0.1`, `1e-7`, `inf`): ryu's digits, which are Rust's except between 1e-5 and 1e-4,
/// where Rust writes an exponent and ryu does not (those few go through `{:?}`), and except
/// where two texts of the shortest length read back as the same float: ryu and Rust may then
/// pick different last digits (`2112113691690586.2` and `.3`), both exact.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() && !(1e-5..1e-4).contains(&value.abs()) {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    } else {
        use std::io::Write;
        let _ = write!(out, "{value:?}");
    }
}

/// A text field: prefixed with `'` when formulas are escaped and it looks like one, quoted
/// when it holds a comma, a quote, a line feed or a carriage return (quotes doubled), or when
/// it is empty and alone on its line (as the csv crate writes fields).
fn write_text(out: &mut Vec<u8>, text: &str, options: CsvOptions, alone: bool) {
    let prefix: &[u8] = if options.escape_formulas && starts_like_formula(text) { b"'" } else { b"" };
    let bytes = text.as_bytes();
    let special = memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some();
    if !special && !(alone && bytes.is_empty() && prefix.is_empty()) {
        out.extend_from_slice(prefix);
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    out.extend_from_slice(prefix);
    for part in bytes.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// Text that a spreadsheet could run as a formula (OWASP's list).
fn starts_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
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

    fn csv_crate_line(fields: &[&str]) -> String {
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        writer.write_record(fields).unwrap();
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    proptest::proptest! {
        /// Text fields are quoted exactly where the csv crate (RFC 4180) quotes them.
        #[test]
        fn text_is_quoted_as_the_csv_crate_quotes_it(
            fields in proptest::collection::vec("[a,\"\r\n =é\t-]{0,6}", 1..4),
        ) {
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let schema = Arc::new(Schema::new(
                (0..refs.len()).map(|i| Field::new(format!("c{i}"), DataType::Utf8, true)).collect::<Vec<_>>(),
            ));
            let columns: Vec<ArrayRef> =
                refs.iter().map(|f| Arc::new(StringArray::from(vec![*f])) as ArrayRef).collect();
            let batch = RecordBatch::try_new(schema, columns).unwrap();
            let ours = String::from_utf8(encode_batch(&batch, false, CsvOptions::default()).unwrap().to_vec()).unwrap();
            proptest::prop_assert_eq!(ours, csv_crate_line(&refs));
        }

        /// Floats are written as the shortest text that reads back as the same float, as
        /// Rust's `{:?}` writes them — but for the last digit where two shortest texts read back
        /// as the float.
        #[test]
        fn floats_are_written_as_the_shortest_text_that_reads_back(bits in proptest::prelude::any::<u64>()) {
            let value = f64::from_bits(bits);
            let mut out = Vec::new();
            write_float(&mut out, value);
            let (text, rust) = (String::from_utf8(out).unwrap(), format!("{value:?}"));
            if value.is_nan() {
                proptest::prop_assert_eq!(text, rust);
            } else {
                proptest::prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), bits, "{} reads back", text);
                proptest::prop_assert_eq!(text.len(), rust.len(), "{} is as short as {}", text, rust);
                proptest::prop_assert_eq!(&text[..text.len() - 1], &rust[..rust.len() - 1]);
            }
        }
    }

    #[test]
    fn a_float_with_two_shortest_texts_is_written_with_one_of_them() {
        let value = f64::from_bits(4836307255307934057);
        let mut out = Vec::new();
        write_float(&mut out, value);
        let text = String::from_utf8(out).unwrap();
        assert!(text == "2112113691690586.2" || text == "2112113691690586.3", "{text}");
        assert_eq!(text.parse::<f64>().unwrap(), value);
        assert_eq!("2112113691690586.2".parse::<f64>().unwrap(), "2112113691690586.3".parse::<f64>().unwrap());
    }

    #[test]
    fn floats_near_the_notation_boundaries_are_written_as_rust_writes_them() {
        for value in [1e-5, 1.5e-5, 9.99e-5, 1e-4, 0.000123, 1e15, 1e16, 9.999e15, -1e-5, 0.0, -0.0, 5e-324, f64::MAX] {
            let mut out = Vec::new();
            write_float(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{value:?}"));
        }
    }
}
