//! The column data types of the API (the spec's dtype names) and their canonical Arrow types
//! in the normalized Parquet copy of every version.

use arrow::datatypes::{DataType, TimeUnit};

/// A column's type as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 64-bit signed integers, nullable (a missing value does not turn the column into floats).
    Int64,
    /// 64-bit IEEE floats.
    Float64,
    /// Text, or values of mixed types.
    Object,
    /// Booleans.
    Bool,
    /// Dates or timestamps.
    Datetime64,
    /// Low-cardinality text (see [`crate::domain::inference::is_category`]).
    Category,
}

impl DType {
    pub fn as_str(self) -> &'static str {
        match self {
            DType::Int64 => "int64",
            DType::Float64 => "float64",
            DType::Object => "object",
            DType::Bool => "bool",
            DType::Datetime64 => "datetime64",
            DType::Category => "category",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [DType::Int64, DType::Float64, DType::Object, DType::Bool, DType::Datetime64, DType::Category]
            .into_iter()
            .find(|d| d.as_str() == raw)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, DType::Int64 | DType::Float64)
    }

    pub fn is_text(self) -> bool {
        matches!(self, DType::Object | DType::Category)
    }
}

/// The dtype name of a column a query computed: one of the dtypes for the types they are
/// stored as (integers `int64`, floats `float64`, text `object`, booleans `bool`, dates and
/// timestamps `datetime64`), otherwise Arrow's own name of the type in lower case (for
/// example `decimal128(38, 10)`, `list(int64)`).
pub fn dtype_name_of(data_type: &DataType) -> String {
    let dtype = match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Some(DType::Int64),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Some(DType::Int64),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(DType::Float64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(DType::Object),
        DataType::Dictionary(_, values) if matches!(**values, DataType::Utf8 | DataType::LargeUtf8) => {
            Some(DType::Category)
        }
        DataType::Boolean => Some(DType::Bool),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => Some(DType::Datetime64),
        _ => None,
    };
    dtype.map_or_else(|| data_type.to_string().to_lowercase(), |d| d.as_str().to_string())
}

/// How a `datetime64` column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemporalKind {
    /// Calendar dates without a time: Arrow `Date32`.
    Date,
    /// Date and time without a zone: Arrow `Timestamp(µs, None)`.
    Naive,
    /// Instants that carried a zone or offset, stored in UTC: Arrow `Timestamp(µs, "UTC")`.
    Utc,
}

impl TemporalKind {
    pub fn arrow_type(self) -> DataType {
        match self {
            TemporalKind::Date => DataType::Date32,
            TemporalKind::Naive => DataType::Timestamp(TimeUnit::Microsecond, None),
            TemporalKind::Utc => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

/// One column of a version's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnSchema {
    pub name: String,
    pub dtype: DType,
}
