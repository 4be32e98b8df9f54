//! Arrow record batches → canonical typed table: how each column of a typed input (Parquet,
//! Arrow IPC / Feather) becomes a canonical one (docs/type-inference.md, "Parquet and Arrow
//! input"):
//!
//! | Parquet / Arrow type | dtype | stored as |
//! |---|---|---|
//! | signed and unsigned integers | `int64` | Int64 (a UInt64 value above the int64 range is refused) |
//! | floats, decimals | `float64` | Float64 (NaN is stored as missing) |
//! | boolean | `bool` | Boolean |
//! | date32/date64 | `datetime64` | Date32 (years 0001–9999, else the file is refused) |
//! | timestamps | `datetime64` | Timestamp(µs), UTC when the column has a zone (finer units truncated to µs; years 0001–9999) |
//! | strings, dictionaries of strings | `category` or `object` by the category rule | Utf8 |
//! | lists, structs, maps | `object` | Utf8, JSON text (`nested_json`) |
//! | anything else (times, binary) | `object` | Utf8, Arrow's display form |

use std::path::Path;
use std::sync::Arc;

use arrow::array::StringBuilder;
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::nested_json;
use super::sink::{CanonicalSink, batch_rows};
use super::sniff::unique_names;
use crate::domain::content_hash::content_hash;
use crate::domain::dtype::{ColumnSchema, DType, TemporalKind};
use crate::domain::inference::{DistinctValues, TypeEvidence};
use crate::domain::records::SourceFormat;
use crate::ports::tables::{IngestError, IngestedTable};

/// Dates and timestamps are accepted for the years 0001–9999, as in CSV: days and
/// microseconds since 1970-01-01 of 0001-01-01 and of the end of 9999-12-31.
const FIRST_DAY: i32 = -719_162;
const LAST_DAY: i32 = 2_932_896;
const FIRST_MICROS: i64 = -62_135_596_800_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

/// A file may claim at most this many rows per byte (plus a fixed allowance): a guard against
/// metadata that claims billions of rows in a few bytes.
const MAX_ROWS_PER_BYTE: u64 = 256;
const ROW_ALLOWANCE: u64 = 1 << 20;

/// The most rows a typed file of `file_size` bytes may claim to hold.
pub(super) fn plausible_rows(file_size: u64) -> u64 {
    ROW_ALLOWANCE + file_size.saturating_mul(MAX_ROWS_PER_BYTE)
}

/// A typed input: what its errors call it, and the format recorded for its versions.
#[derive(Debug, Clone, Copy)]
pub(super) struct TypedInput {
    pub label: &'static str,
    pub format: SourceFormat,
}

impl TypedInput {
    pub const PARQUET: TypedInput = TypedInput { label: "Parquet", format: SourceFormat::PARQUET };

    pub fn invalid(self, reason: impl std::fmt::Display) -> IngestError {
        IngestError::Invalid(format!("invalid {} file: {reason}", self.label))
    }
}

/// Converts every batch of a typed input with `source_schema` (already checked against the
/// column limit) to the canonical types and writes the normalized file. A batch longer than
/// [`batch_rows`] is converted a slice at a time, so the converted copy stays small.
pub(super) fn ingest_batches(
    source_schema: &Schema,
    batches: impl Iterator<Item = Result<RecordBatch, String>>,
    normalized: &Path,
    input: TypedInput,
) -> Result<IngestedTable, IngestError> {
    let plans: Vec<ColumnPlan> = source_schema.fields().iter().map(|f| ColumnPlan::for_type(f.data_type())).collect();
    let names = unique_names(source_schema.fields().iter().map(|f| f.name().clone()).collect());
    let schema: SchemaRef = Arc::new(Schema::new(
        names.iter().zip(&plans).map(|(n, p)| Field::new(n, p.target.clone(), true)).collect::<Vec<_>>(),
    ));
    let slice_rows = batch_rows(plans.len()).max(1);
    let mut sink = CanonicalSink::create(normalized, Arc::clone(&schema))?;
    let mut distinct: Vec<DistinctValues> = vec![DistinctValues::default(); plans.len()];
    let mut non_missing = vec![0u64; plans.len()];
    for batch in batches {
        let batch = batch.map_err(|e| input.invalid(e))?;
        if batch.num_columns() != plans.len() {
            return Err(input.invalid("a record batch's columns differ from the schema's"));
        }
        for start in (0..batch.num_rows()).step_by(slice_rows) {
            let slice = batch.slice(start, slice_rows.min(batch.num_rows() - start));
            let mut columns = Vec::with_capacity(plans.len());
            for (i, (plan, column)) in plans.iter().zip(slice.columns()).enumerate() {
                let converted = plan.convert(column).map_err(|e| input.invalid(e))?;
                non_missing[i] += (converted.len() - converted.null_count()) as u64;
                if plan.dtype.is_text() {
                    let strings = converted.as_string::<i32>();
                    strings.iter().flatten().for_each(|v| distinct[i].observe(v));
                }
                columns.push(converted);
            }
            let canonical = RecordBatch::try_new(Arc::clone(&schema), columns)
                .map_err(|e| IngestError::Io(format!("building a record batch: {e}")))?;
            sink.write(&canonical)?;
        }
    }
    let summary = sink.finish(Vec::new())?;
    if summary.rows == 0 {
        return Err(IngestError::NoRows);
    }
    let columns: Vec<ColumnSchema> = names
        .into_iter()
        .zip(&plans)
        .enumerate()
        .map(|(i, (name, plan))| {
            let dtype = if plan.dtype.is_text() { distinct[i].text_dtype(non_missing[i]) } else { plan.dtype };
            ColumnSchema { name, dtype }
        })
        .collect();
    let evidence = (source_schema.fields().iter().zip(&plans).zip(&columns).enumerate())
        .map(|(i, ((field, plan), column))| {
            let text = plan.dtype.is_text().then_some(&distinct[i]);
            TypeEvidence::of_typed_column(
                &field.data_type().to_string(),
                column.dtype,
                non_missing[i],
                summary.rows,
                text,
            )
        })
        .collect();
    Ok(IngestedTable {
        format: input.format,
        content_hash: content_hash(summary.rows, &columns, &summary.column_digests),
        columns,
        row_count: summary.rows,
        normalized_sha256: summary.sha256,
        quality: summary.quality,
        preview: summary.preview,
        evidence,
    })
}

/// Most bytes of JSON text one batch of a nested column may render to.
const MAX_NESTED_TEXT_PER_BATCH: usize = 256 << 20;

/// How one source column becomes a canonical one.
struct ColumnPlan {
    dtype: DType,
    target: DataType,
    how: Conversion,
}

enum Conversion {
    Cast,
    FloatNanToNull,
    TimestampToMicros {
        utc: bool,
    },
    Display,
    /// Lists, structs and maps: JSON text (see `nested_json`).
    Json,
}

impl ColumnPlan {
    fn for_type(source: &DataType) -> Self {
        use DataType as D;
        let plan = |dtype, target, how| Self { dtype, target, how };
        match source {
            D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
                plan(DType::Int64, D::Int64, Conversion::Cast)
            }
            D::Float16
            | D::Float32
            | D::Float64
            | D::Decimal32(..)
            | D::Decimal64(..)
            | D::Decimal128(..)
            | D::Decimal256(..) => plan(DType::Float64, D::Float64, Conversion::FloatNanToNull),
            D::Boolean => plan(DType::Bool, D::Boolean, Conversion::Cast),
            D::Date32 | D::Date64 => plan(DType::Datetime64, D::Date32, Conversion::Cast),
            D::Timestamp(_, tz) => {
                let kind = if tz.is_some() { TemporalKind::Utc } else { TemporalKind::Naive };
                plan(DType::Datetime64, kind.arrow_type(), Conversion::TimestampToMicros { utc: tz.is_some() })
            }
            D::Utf8 | D::LargeUtf8 | D::Utf8View => plan(DType::Object, D::Utf8, Conversion::Cast),
            D::Dictionary(_, value) if matches!(**value, D::Utf8 | D::LargeUtf8 | D::Utf8View) => {
                plan(DType::Object, D::Utf8, Conversion::Cast)
            }
            t if nested_json::is_nested(t) => plan(DType::Object, D::Utf8, Conversion::Json),
            _ => plan(DType::Object, D::Utf8, Conversion::Display),
        }
    }

    fn convert(&self, column: &ArrayRef) -> Result<ArrayRef, String> {
        let strict = CastOptions { safe: false, ..Default::default() };
        let cast = |target: &DataType| {
            cast_with_options(column, target, &strict).map_err(|e| format!("cannot convert a value: {e}"))
        };
        match self.how {
            Conversion::Cast if self.target == DataType::Date32 => {
                let days = cast(&DataType::Date32)?;
                let out_of_range = days
                    .as_primitive::<arrow::datatypes::Date32Type>()
                    .iter()
                    .flatten()
                    .any(|d| !(FIRST_DAY..=LAST_DAY).contains(&d));
                if out_of_range {
                    return Err("a date lies outside the years 0001–9999".into());
                }
                Ok(days)
            }
            Conversion::Cast => cast(&self.target),
            Conversion::FloatNanToNull => {
                let floats = cast(&DataType::Float64)?;
                let floats = floats.as_primitive::<arrow::datatypes::Float64Type>();
                let cleaned: Float64Array = floats.iter().map(|v| v.filter(|x| !x.is_nan())).collect();
                Ok(Arc::new(cleaned))
            }
            Conversion::TimestampToMicros { utc } => {
                let DataType::Timestamp(_, tz) = column.data_type() else { return cast(&self.target) };
                let micros = cast(&DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))?;
                let values = micros.as_primitive::<arrow::datatypes::TimestampMicrosecondType>().clone();
                if values.iter().flatten().any(|t| !(FIRST_MICROS..=LAST_MICROS).contains(&t)) {
                    return Err("a timestamp lies outside the years 0001–9999".into());
                }
                let relabelled: TimestampMicrosecondArray =
                    if utc { values.with_timezone("UTC") } else { values.with_timezone_opt(None::<String>) };
                Ok(Arc::new(relabelled))
            }
            Conversion::Json => {
                let render = nested_json::JsonRender::new(column.as_ref())
                    .map_err(|e| format!("cannot render a nested value: {e}"))?;
                let mut builder = StringBuilder::with_capacity(column.len(), column.len() * 16);
                for i in 0..column.len() {
                    if column.is_null(i) {
                        builder.append_null();
                    } else {
                        builder.append_value(render.value(i).to_string());
                    }
                    // Arrow's string offsets are 32-bit: refuse before they could overflow.
                    if builder.values_slice().len() > MAX_NESTED_TEXT_PER_BATCH {
                        return Err(format!(
                            "a nested column's values take more than {} MiB as text in {} rows",
                            MAX_NESTED_TEXT_PER_BATCH >> 20,
                            column.len()
                        ));
                    }
                }
                Ok(Arc::new(builder.finish()))
            }
            Conversion::Display => {
                let options = FormatOptions::default();
                let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                    .map_err(|e| format!("cannot display a value: {e}"))?;
                let mut builder = StringBuilder::with_capacity(column.len(), column.len() * 8);
                for i in 0..column.len() {
                    if column.is_null(i) {
                        builder.append_null();
                    } else {
                        builder.append_value(formatter.value(i).to_string());
                    }
                }
                Ok(Arc::new(builder.finish()))
            }
        }
    }
}
