//! Parquet → canonical typed table. The footer is validated against the file size before any
//! data is decoded; then row groups are read in batches and each column is converted to its
//! canonical type (docs/type-inference.md, "Parquet input"):
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

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::StringBuilder;
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::nested_json;
use super::parquet_guard;
use super::sink::{CanonicalSink, batch_rows};
use super::sniff::unique_names;
use crate::domain::content_hash::content_hash;
use crate::domain::dtype::{ColumnSchema, DType, TemporalKind};
use crate::domain::inference::DistinctValues;
use crate::domain::records::SourceFormat;
use crate::ports::tables::{IngestError, IngestLimits, IngestedTable};

/// A file may claim at most this many rows per byte (plus a fixed allowance): a guard against
/// footers that claim billions of rows in a few bytes.
const MAX_ROWS_PER_BYTE: u64 = 256;
const ROW_ALLOWANCE: u64 = 1 << 20;

/// Dates and timestamps are accepted for the years 0001–9999, as in CSV: days and
/// microseconds since 1970-01-01 of 0001-01-01 and of the end of 9999-12-31.
const FIRST_DAY: i32 = -719_162;
const LAST_DAY: i32 = 2_932_896;
const FIRST_MICROS: i64 = -62_135_596_800_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

fn invalid(reason: impl Into<String>) -> IngestError {
    IngestError::Invalid(format!("invalid Parquet file: {}", reason.into()))
}

pub fn ingest_parquet(upload: &Path, normalized: &Path, limits: &IngestLimits) -> Result<IngestedTable, IngestError> {
    let file = File::open(upload).map_err(|e| IngestError::Io(e.to_string()))?;
    let file_size = file.metadata().map_err(|e| IngestError::Io(e.to_string()))?.len();
    parquet_guard::check_raw_footer(&file, file_size, limits)?;
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file).map_err(|e| invalid(e.to_string()))?;
    validate_footer(&metadata, file_size, limits)?;
    parquet_guard::check_pages(&file, &metadata)?;
    let arrow_meta = ArrowReaderMetadata::try_new(Arc::new(metadata), ArrowReaderOptions::new())
        .map_err(|e| invalid(e.to_string()))?;
    let source_schema = Arc::clone(arrow_meta.schema());
    if source_schema.fields().len() > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: source_schema.fields().len(), max: limits.max_columns });
    }
    if source_schema.fields().is_empty() {
        return Err(IngestError::Empty);
    }
    let plans: Vec<ColumnPlan> = source_schema.fields().iter().map(|f| ColumnPlan::for_type(f.data_type())).collect();
    let names = unique_names(source_schema.fields().iter().map(|f| f.name().clone()).collect());
    let schema: SchemaRef = Arc::new(Schema::new(
        names.iter().zip(&plans).map(|(n, p)| Field::new(n, p.target.clone(), true)).collect::<Vec<_>>(),
    ));
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow_meta)
        .with_batch_size(batch_rows(plans.len()))
        .build()
        .map_err(|e| invalid(e.to_string()))?;

    let mut sink = CanonicalSink::create(normalized, Arc::clone(&schema))?;
    let mut distinct: Vec<DistinctValues> = vec![DistinctValues::default(); plans.len()];
    let mut non_missing = vec![0u64; plans.len()];
    for batch in reader {
        let batch = batch.map_err(|e| invalid(e.to_string()))?;
        let mut columns = Vec::with_capacity(plans.len());
        for (i, (plan, column)) in plans.iter().zip(batch.columns()).enumerate() {
            let converted = plan.convert(column)?;
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
    Ok(IngestedTable {
        format: SourceFormat::PARQUET,
        content_hash: content_hash(summary.rows, &columns, &summary.column_digests),
        columns,
        row_count: summary.rows,
        normalized_sha256: summary.sha256,
        quality: summary.quality,
        preview: summary.preview,
    })
}

/// Checks the footer's claims against the file before any page is decoded.
fn validate_footer(metadata: &ParquetMetaData, file_size: u64, limits: &IngestLimits) -> Result<(), IngestError> {
    let leaves = metadata.file_metadata().schema_descr().num_columns();
    if leaves > limits.max_columns {
        return Err(IngestError::TooManyColumns { found: leaves, max: limits.max_columns });
    }
    let claimed = metadata.file_metadata().num_rows();
    let mut total: i64 = 0;
    for group in metadata.row_groups() {
        if group.num_rows() < 0 {
            return Err(invalid("a row group has a negative row count"));
        }
        total = total.checked_add(group.num_rows()).ok_or_else(|| invalid("row counts overflow"))?;
        if group.num_columns() != leaves {
            return Err(invalid("a row group's column count differs from the schema's"));
        }
        for chunk in group.columns() {
            let start = chunk.dictionary_page_offset().unwrap_or(chunk.data_page_offset());
            let size = chunk.compressed_size();
            let end = start.checked_add(size);
            if start < 0 || size < 0 || end.is_none_or(|end| end as u64 > file_size) {
                return Err(invalid("a column chunk lies outside the file"));
            }
        }
    }
    if total != claimed || claimed < 0 {
        return Err(invalid(format!("the footer claims {claimed} rows but its row groups hold {total}")));
    }
    if claimed as u64 > ROW_ALLOWANCE + file_size.saturating_mul(MAX_ROWS_PER_BYTE) {
        return Err(invalid(format!("the footer claims {claimed} rows, implausible for a file of {file_size} bytes")));
    }
    Ok(())
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

    fn convert(&self, column: &ArrayRef) -> Result<ArrayRef, IngestError> {
        let strict = CastOptions { safe: false, ..Default::default() };
        let cast = |target: &DataType| {
            cast_with_options(column, target, &strict).map_err(|e| invalid(format!("cannot convert a value: {e}")))
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
                    return Err(invalid("a date lies outside the years 0001–9999"));
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
                    return Err(invalid("a timestamp lies outside the years 0001–9999"));
                }
                let relabelled: TimestampMicrosecondArray =
                    if utc { values.with_timezone("UTC") } else { values.with_timezone_opt(None::<String>) };
                Ok(Arc::new(relabelled))
            }
            Conversion::Json => {
                let render = nested_json::JsonRender::new(column.as_ref())
                    .map_err(|e| invalid(format!("cannot render a nested value: {e}")))?;
                let mut builder = StringBuilder::with_capacity(column.len(), column.len() * 16);
                for i in 0..column.len() {
                    if column.is_null(i) {
                        builder.append_null();
                    } else {
                        builder.append_value(render.value(i).to_string());
                    }
                    // Arrow's string offsets are 32-bit: refuse before they could overflow.
                    if builder.values_slice().len() > MAX_NESTED_TEXT_PER_BATCH {
                        return Err(invalid(format!(
                            "a nested column's values take more than {} MiB as text in {} rows",
                            MAX_NESTED_TEXT_PER_BATCH >> 20,
                            column.len()
                        )));
                    }
                }
                Ok(Arc::new(builder.finish()))
            }
            Conversion::Display => {
                let options = FormatOptions::default();
                let formatter = ArrayFormatter::try_new(column.as_ref(), &options)
                    .map_err(|e| invalid(format!("cannot display a value: {e}")))?;
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
