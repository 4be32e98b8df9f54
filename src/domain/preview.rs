//! Typed JSON rendering of table cells, for dataset previews.
//!
//! | Arrow type (canonical) | JSON |
//! |---|---|
//! | Int64 | number (exact) |
//! | Float64 | number; NaN and ±infinity (not representable in JSON) become `null` |
//! | Boolean | `true` / `false` |
//! | Utf8 | string, cut to [`MAX_PREVIEW_CELL_CHARS`] characters (a cut string ends in `…`) |
//! | Date32 | `"YYYY-MM-DD"` |
//! | Timestamp(µs) | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"`, with a trailing `Z` for UTC columns |
//! | missing | `null` |

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

/// Rows shown in a dataset's detail.
pub const PREVIEW_ROWS: usize = 20;
/// Longest text cell in a preview, in characters.
pub const MAX_PREVIEW_CELL_CHARS: usize = 1_000;

/// One preview row: column name → typed value, in column order.
pub type PreviewRow = Map<String, Value>;

/// Appends up to `limit - rows.len()` rows of `batch` to `rows`.
pub fn extend_preview(rows: &mut Vec<PreviewRow>, batch: &RecordBatch, limit: usize) {
    let take = limit.saturating_sub(rows.len()).min(batch.num_rows());
    let schema = batch.schema();
    for row in 0..take {
        let mut out = Map::with_capacity(batch.num_columns());
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            out.insert(field.name().clone(), cell_json(column, row));
        }
        rows.push(out);
    }
}

/// The typed JSON value of one cell (see the module table).
pub fn cell_json(column: &ArrayRef, row: usize) -> Value {
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Int64 => Value::from(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => serde_json::Number::from_f64(column.as_primitive::<Float64Type>().value(row))
            .map_or(Value::Null, Value::Number),
        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
        DataType::Utf8 => Value::String(cut(column.as_string::<i32>().value(row))),
        DataType::Date32 => Value::String(format_date(column.as_primitive::<Date32Type>().value(row))),
        DataType::Timestamp(_, tz) => {
            let micros = column.as_primitive::<TimestampMicrosecondType>().value(row);
            Value::String(format_timestamp(micros, tz.is_some()))
        }
        _ => {
            let options = FormatOptions::default();
            match ArrayFormatter::try_new(column.as_ref(), &options) {
                Ok(f) => Value::String(cut(&f.value(row).to_string())),
                Err(_) => Value::Null,
            }
        }
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_PREVIEW_CELL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(i64::from(days))))
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// Microseconds since the epoch as ISO-8601, with `Z` when `utc`; fractions only when non-zero.
pub fn format_timestamp(micros: i64, utc: bool) -> String {
    let Some(t) = DateTime::from_timestamp_micros(micros) else { return micros.to_string() };
    let naive = t.naive_utc();
    let base = if micros.rem_euclid(1_000_000) == 0 {
        naive.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        naive.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    };
    if utc { format!("{base}Z") } else { base }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use serde_json::json;

    use super::*;

    #[test]
    fn cells_render_as_typed_json_in_column_order() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("amount", DataType::Float64, true),
            Field::new("merchant", DataType::Utf8, true),
            Field::new("is_fraud", DataType::Int64, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("day", DataType::Date32, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![Some(29.99), Some(f64::NAN)])),
            Arc::new(StringArray::from(vec![Some("ACME Corp"), None])),
            Arc::new(Int64Array::from(vec![Some(0), Some(i64::MAX)])),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Arc::new(Date32Array::from(vec![Some(1), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1_500_000), Some(0)]).with_timezone("UTC")),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let mut rows = Vec::new();
        extend_preview(&mut rows, &batch, 20);
        assert_eq!(
            serde_json::to_string(&rows[0]).unwrap(),
            r#"{"amount":29.99,"merchant":"ACME Corp","is_fraud":0,"ok":true,"day":"1970-01-02","at":"1970-01-01T00:00:01.500000Z"}"#
        );
        assert_eq!(
            Value::Object(rows[1].clone()),
            json!({"amount": null, "merchant": null, "is_fraud": i64::MAX, "ok": null, "day": null, "at": "1970-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn preview_stops_at_the_limit_across_batches() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from((0..15).collect::<Vec<i64>>()))]).unwrap();
        let mut rows = Vec::new();
        extend_preview(&mut rows, &batch, 20);
        extend_preview(&mut rows, &batch, 20);
        assert_eq!(rows.len(), 20);
        assert_eq!(rows[19]["x"], json!(4));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "é".repeat(MAX_PREVIEW_CELL_CHARS + 5);
        let cutted = cut(&long);
        assert_eq!(cutted.chars().count(), MAX_PREVIEW_CELL_CHARS + 1);
        assert!(cutted.ends_with('…'));
    }

    #[test]
    fn dates_before_the_epoch_format_correctly() {
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_timestamp(-1, false), "1969-12-31T23:59:59.999999");
    }
}
