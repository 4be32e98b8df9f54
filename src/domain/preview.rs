//! Typed JSON rendering of table cells: dataset previews, `/rows`, JSON Lines downloads and
//! `/query` answers all write cells by this one rule.
//!
//! | Arrow type | JSON |
//! |---|---|
//! | Int64 (and the other integer types a query can produce) | number (exact) |
//! | Float64 (and Float32, Float16) | number; NaN and ±infinity (not representable in JSON) become `null` |
//! | Decimal | number, written exactly (its decimal text) |
//! | Boolean | `true` / `false` |
//! | Utf8 (and LargeUtf8, Utf8View) | string; in a preview cut to [`MAX_PREVIEW_CELL_CHARS`] characters (a cut string ends in `…`) |
//! | Date32, Date64 | `"YYYY-MM-DD"` |
//! | Timestamp (any unit) | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` (microseconds), with a trailing `Z` for a column with a time zone |
//! | missing | `null` |
//! | anything else (lists, structs, intervals, …) | string: Arrow's display text |

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
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

/// The typed JSON value of one cell of a preview: text cut to [`MAX_PREVIEW_CELL_CHARS`].
pub fn cell_json(column: &ArrayRef, row: usize) -> Value {
    typed_cell(column, row, Some(MAX_PREVIEW_CELL_CHARS))
}

/// The typed JSON value of one cell, whole (see the module table).
pub fn cell_value(column: &ArrayRef, row: usize) -> Value {
    typed_cell(column, row, None)
}

fn typed_cell(column: &ArrayRef, row: usize, max_chars: Option<usize>) -> Value {
    if column.is_null(row) {
        return Value::Null;
    }
    let text = |t: &str| Value::String(max_chars.map_or_else(|| t.to_string(), |max| cut_to(t, max)));
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    match column.data_type() {
        DataType::Int64 => Value::from(column.as_primitive::<Int64Type>().value(row)),
        DataType::Int32 => Value::from(column.as_primitive::<Int32Type>().value(row)),
        DataType::Int16 => Value::from(column.as_primitive::<Int16Type>().value(row)),
        DataType::Int8 => Value::from(column.as_primitive::<Int8Type>().value(row)),
        DataType::UInt64 => Value::from(column.as_primitive::<UInt64Type>().value(row)),
        DataType::UInt32 => Value::from(column.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt16 => Value::from(column.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt8 => Value::from(column.as_primitive::<UInt8Type>().value(row)),
        DataType::Float64 => float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => float(f64::from(column.as_primitive::<Float32Type>().value(row))),
        DataType::Float16 => float(f64::from(column.as_primitive::<Float16Type>().value(row))),
        DataType::Boolean => Value::Bool(column.as_boolean().value(row)),
        DataType::Utf8 => text(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => text(column.as_string::<i64>().value(row)),
        DataType::Utf8View => text(column.as_string_view().value(row)),
        DataType::Date32 => Value::String(format_date(column.as_primitive::<Date32Type>().value(row))),
        DataType::Date64 => {
            let millis = column.as_primitive::<Date64Type>().value(row);
            Value::String(format_date(millis.div_euclid(86_400_000) as i32))
        }
        DataType::Timestamp(unit, tz) => match timestamp_micros(column, row, *unit) {
            Some(micros) => Value::String(format_timestamp(micros, tz.is_some())),
            None => display(column, row).map_or(Value::Null, |t| text(&t)),
        },
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            // The decimal's own text is a JSON number, exactly.
            display(column, row).and_then(|t| t.parse::<serde_json::Number>().ok()).map_or(Value::Null, Value::Number)
        }
        _ => display(column, row).map_or(Value::Null, |t| text(&t)),
    }
}

/// A timestamp cell in microseconds since the epoch (`None` when it does not fit).
fn timestamp_micros(column: &ArrayRef, row: usize, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Microsecond => Some(column.as_primitive::<TimestampMicrosecondType>().value(row)),
        TimeUnit::Millisecond => column.as_primitive::<TimestampMillisecondType>().value(row).checked_mul(1_000),
        TimeUnit::Second => column.as_primitive::<TimestampSecondType>().value(row).checked_mul(1_000_000),
        TimeUnit::Nanosecond => Some(column.as_primitive::<TimestampNanosecondType>().value(row).div_euclid(1_000)),
    }
}

/// Arrow's display text of a cell.
fn display(column: &ArrayRef, row: usize) -> Option<String> {
    ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()).ok().map(|f| f.value(row).to_string())
}

fn cut_to(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let mut out = Vec::with_capacity(10);
    write_date(&mut out, days);
    String::from_utf8(out).unwrap_or_default()
}

/// Microseconds since the epoch as ISO-8601, with `Z` when `utc`; fractions only when non-zero.
pub fn format_timestamp(micros: i64, utc: bool) -> String {
    let mut out = Vec::with_capacity(27);
    write_timestamp(&mut out, micros, utc);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_date`]'s text. Years 1–9999 are written by arithmetic (Howard Hinnant's
/// `civil_from_days`); other years as chrono writes them (a test compares both on every day).
pub fn write_date(out: &mut Vec<u8>, days: i32) {
    match civil_from_days(i64::from(days)) {
        Some((year, month, day)) => {
            push_digits(out, year, 4);
            out.push(b'-');
            push_digits(out, month, 2);
            out.push(b'-');
            push_digits(out, day, 2);
        }
        None => out.extend_from_slice(chrono_date(days).as_bytes()),
    }
}

/// Appends [`format_timestamp`]'s text (see [`write_date`] for how dates are written).
pub fn write_timestamp(out: &mut Vec<u8>, micros: i64, utc: bool) {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let Some(days) = i32::try_from(days).ok().filter(|&d| civil_from_days(i64::from(d)).is_some()) else {
        out.extend_from_slice(chrono_timestamp(micros, utc).as_bytes());
        return;
    };
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let (seconds, fraction) = (of_day / 1_000_000, of_day % 1_000_000);
    write_date(out, days);
    out.push(b'T');
    push_digits(out, (seconds / 3600) as u32, 2);
    out.push(b':');
    push_digits(out, (seconds / 60 % 60) as u32, 2);
    out.push(b':');
    push_digits(out, (seconds % 60) as u32, 2);
    if fraction != 0 {
        out.push(b'.');
        push_digits(out, fraction as u32, 6);
    }
    if utc {
        out.push(b'Z');
    }
}

/// `(year, month, day)` of a day count from 1970-01-01, for years 1–9999.
fn civil_from_days(days: i64) -> Option<(u32, u32, u32)> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 { march_month + 3 } else { march_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (1..=9999).contains(&year).then_some((year as u32, month as u32, day as u32))
}

/// `value` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut v = value;
    let mut at = digits.len();
    while v > 0 {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    at = at.min(digits.len() - width);
    out.extend_from_slice(&digits[at..]);
}

fn chrono_date(days: i32) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(i64::from(days))))
        .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn chrono_timestamp(micros: i64, utc: bool) -> String {
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
        let cutted = cut_to(&long, MAX_PREVIEW_CELL_CHARS);
        assert_eq!(cutted.chars().count(), MAX_PREVIEW_CELL_CHARS + 1);
        assert!(cutted.ends_with('…'));
    }

    #[test]
    fn whole_cells_are_not_cut_and_query_types_are_typed() {
        let long = "x".repeat(MAX_PREVIEW_CELL_CHARS + 5);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![long.as_str()])),
            Arc::new(arrow::array::Int32Array::from(vec![-7])),
            Arc::new(arrow::array::UInt64Array::from(vec![u64::MAX])),
            Arc::new(arrow::array::Float32Array::from(vec![0.5])),
            Arc::new(arrow::array::StringViewArray::from(vec!["view"])),
            Arc::new(arrow::array::TimestampMillisecondArray::from(vec![1_500])),
            Arc::new(arrow::array::Date64Array::from(vec![86_400_000])),
            Arc::new(arrow::array::Decimal128Array::from(vec![12345]).with_precision_and_scale(10, 2).unwrap()),
        ];
        let values: Vec<Value> = columns.iter().map(|c| cell_value(c, 0)).collect();
        assert_eq!(values[0].as_str().map(str::len), Some(long.len()));
        assert_eq!(
            values[1..],
            [
                json!(-7),
                json!(u64::MAX),
                json!(0.5),
                json!("view"),
                json!("1970-01-01T00:00:01.500000"),
                json!("1970-01-02"),
                json!(123.45)
            ]
        );
        assert!(cell_json(&columns[0], 0).as_str().is_some_and(|t| t.ends_with('…')));
    }

    #[test]
    fn dates_and_times_are_written_as_chrono_writes_them_for_every_day() {
        // Every day from year 0 to year 10000, and some beyond chrono's range.
        for days in -719_600..2_933_000 {
            assert_eq!(format_date(days), chrono_date(days), "day {days}");
        }
        for days in [i32::MIN, i32::MAX, -100_000_000, 100_000_000] {
            assert_eq!(format_date(days), chrono_date(days), "day {days}");
        }
        let day = 86_400_000_000i64;
        for micros in [0, 1, 999_999, 1_000_000, -1, -1_000_000, day - 1, 253_402_300_799_999_999, i64::MIN, i64::MAX] {
            for utc in [false, true] {
                assert_eq!(format_timestamp(micros, utc), chrono_timestamp(micros, utc), "{micros}");
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let micros = (state % (400 * 366 * day as u64)) as i64 - 200 * 366 * day + 1_700_000_000_000_000;
            assert_eq!(format_timestamp(micros, true), chrono_timestamp(micros, true), "{micros}");
        }
    }

    #[test]
    fn dates_before_the_epoch_format_correctly() {
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_timestamp(-1, false), "1969-12-31T23:59:59.999999");
    }
}
