//! `GET /api/datasets/{dataset_id}/analyze`.

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{MaybeUndefined, ParseError, ParseFromJSON, ParseResult, ToJSON};
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::Tagged;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use super::version_param::VersionParam;
use crate::app::App;
use crate::domain::ids::DatasetId;
use crate::domain::statistics::{ColumnStats, DatasetStatistics, Scalar};

#[derive(Object, Debug, Clone, PartialEq)]
pub struct PercentilesDto {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

/// A value of a column's own kind: a number (an integer for int64 columns) for numeric
/// columns; for datetime columns an ISO-8601 string — a date-time (`2024-01-31T08:00:00Z`),
/// or a date (`2024-01-31`) for the `min` and `max` of a column of dates.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberOrTime(Value);

impl NumberOrTime {
    fn number(value: Scalar) -> Option<Self> {
        match value {
            Scalar::Int(i) => Some(Self(Value::from(i))),
            Scalar::Float(f) => serde_json::Number::from_f64(f).map(|n| Self(Value::Number(n))),
        }
    }

    fn time(text: String) -> Self {
        Self(Value::String(text))
    }
}

value_type!(
    NumberOrTime,
    "number_or_time",
    MetaSchema {
        any_of: vec![
            MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("number", "double"))),
            // No `format: date-time`: a column without a time zone is written without an offset,
            // which RFC 3339's date-time requires.
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                description: Some(
                    "ISO-8601: a date `YYYY-MM-DD`, or a date-time `YYYY-MM-DDTHH:MM:SS[.ffffff]`, \
                 ending in `Z` when the column has a time zone",
                ),
                ..MetaSchema::new("string")
            })),
        ],
        ..MetaSchema::ANY
    }
);

impl ToJSON for NumberOrTime {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

impl ParseFromJSON for NumberOrTime {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            v @ (Value::Number(_) | Value::String(_)) => Ok(Self(v)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

/// Counts per bin and the bins' edges (one more edge than counts): numbers for numeric
/// columns, ISO-8601 date-times for datetime columns.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct HistogramDto {
    pub counts: Vec<u64>,
    pub bin_edges: Vec<NumberOrTime>,
}

/// Statistics of one column (definitions in docs/statistics.md). Numeric columns carry the
/// numeric figures (null where undefined), text, category and bool columns `top_values`,
/// datetime columns `min`, `max` and `histogram`.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ColumnStatsDto {
    /// The column's dtype.
    #[oai(rename = "type")]
    pub dtype: String,
    /// Distinct non-missing values (text values are compared by 64-bit hash: with n distinct
    /// values, about n²/2⁶⁵ chance that two share one; see docs/statistics.md).
    pub unique: u64,
    pub missing: u64,
    /// missing / rows, a fraction from 0 to 1.
    pub missing_percent: f64,
    /// The smallest value: a number for numeric columns, an ISO-8601 string for datetime
    /// columns.
    #[oai(nullable)]
    pub min: MaybeUndefined<NumberOrTime>,
    /// The largest value, typed as `min`.
    #[oai(nullable)]
    pub max: MaybeUndefined<NumberOrTime>,
    #[oai(nullable)]
    pub mean: MaybeUndefined<f64>,
    /// Sample standard deviation (n − 1).
    #[oai(nullable)]
    pub std: MaybeUndefined<f64>,
    #[oai(nullable)]
    pub percentiles: MaybeUndefined<PercentilesDto>,
    /// Adjusted Fisher–Pearson G1.
    #[oai(nullable)]
    pub skewness: MaybeUndefined<f64>,
    /// Excess kurtosis, bias-corrected G2.
    #[oai(nullable)]
    pub kurtosis: MaybeUndefined<f64>,
    #[oai(nullable)]
    pub iqr: MaybeUndefined<f64>,
    /// Values outside [p25 − 1.5·iqr, p75 + 1.5·iqr].
    #[oai(nullable)]
    pub outlier_count: MaybeUndefined<u64>,
    #[oai(nullable)]
    pub histogram: MaybeUndefined<HistogramDto>,
    /// ±infinite values (float64), excluded from the other numeric figures.
    #[oai(nullable)]
    pub infinite_count: MaybeUndefined<u64>,
    /// The 10 most frequent values and their counts, most frequent first.
    #[oai(nullable)]
    pub top_values: MaybeUndefined<OrderedMap<u64>>,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct StatisticsDto {
    /// Column name → statistics, in column order.
    pub columns: OrderedMap<ColumnStatsDto>,
    pub row_count: u64,
    /// Rows equal to an earlier row.
    pub duplicate_rows: u64,
    /// MB (10^6 bytes) of the columns in Arrow's in-memory layout.
    pub memory_usage: f64,
    /// Pearson's r between numeric columns over pairwise-complete rows (null where undefined).
    pub correlations: OrderedMap<OrderedMap<Option<f64>>>,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct AnalyzeResponse {
    pub statistics: StatisticsDto,
    /// What could not be computed, or null.
    #[oai(nullable)]
    pub error: Option<String>,
}

fn defined<T>(value: Option<T>) -> MaybeUndefined<T> {
    match value {
        Some(v) => MaybeUndefined::Value(v),
        None => MaybeUndefined::Null,
    }
}

fn scalar(value: Option<Scalar>) -> MaybeUndefined<NumberOrTime> {
    defined(value.and_then(NumberOrTime::number))
}

fn column_dto(c: ColumnStats) -> ColumnStatsDto {
    let u = MaybeUndefined::Undefined;
    let mut dto = ColumnStatsDto {
        dtype: c.dtype.as_str().to_string(),
        unique: c.unique,
        missing: c.missing,
        missing_percent: c.missing_percent,
        min: u.clone(),
        max: u.clone(),
        mean: MaybeUndefined::Undefined,
        std: MaybeUndefined::Undefined,
        percentiles: MaybeUndefined::Undefined,
        skewness: MaybeUndefined::Undefined,
        kurtosis: MaybeUndefined::Undefined,
        iqr: MaybeUndefined::Undefined,
        outlier_count: MaybeUndefined::Undefined,
        histogram: MaybeUndefined::Undefined,
        infinite_count: MaybeUndefined::Undefined,
        top_values: MaybeUndefined::Undefined,
    };
    if let Some(n) = c.numeric {
        dto.min = scalar(n.min);
        dto.max = scalar(n.max);
        dto.mean = defined(n.mean);
        dto.std = defined(n.std);
        dto.percentiles = defined(n.percentiles.map(|p| PercentilesDto { p25: p.p25, p50: p.p50, p75: p.p75 }));
        dto.skewness = defined(n.skewness);
        dto.kurtosis = defined(n.kurtosis);
        dto.iqr = defined(n.iqr);
        dto.outlier_count = defined(n.outlier_count);
        // Edges are finite by the histogram's definition; a histogram with an edge JSON cannot
        // hold is answered as null rather than with edges missing.
        dto.histogram = defined(n.histogram.and_then(|h| {
            let edges: Option<Vec<_>> =
                h.bin_edges.into_iter().map(|e| NumberOrTime::number(Scalar::Float(e))).collect();
            edges.map(|bin_edges| HistogramDto { counts: h.counts, bin_edges })
        }));
        if c.dtype == crate::domain::dtype::DType::Float64 {
            dto.infinite_count = MaybeUndefined::Value(n.infinite_count);
        }
    }
    if let Some(top) = c.top_values {
        dto.top_values = MaybeUndefined::Value(OrderedMap(top));
    }
    if c.dtype == crate::domain::dtype::DType::Datetime64 {
        dto.min = defined(c.temporal.as_ref().map(|t| NumberOrTime::time(t.min.clone())));
        dto.max = defined(c.temporal.as_ref().map(|t| NumberOrTime::time(t.max.clone())));
        dto.histogram = defined(c.temporal.map(|t| HistogramDto {
            counts: t.histogram.counts,
            bin_edges: t.histogram.bin_edges.into_iter().map(NumberOrTime::time).collect(),
        }));
    }
    dto
}

pub fn analyze_dto(s: DatasetStatistics) -> AnalyzeResponse {
    AnalyzeResponse {
        statistics: StatisticsDto {
            columns: OrderedMap(s.columns.into_iter().map(|c| (c.name.clone(), column_dto(c))).collect()),
            row_count: s.row_count,
            duplicate_rows: s.duplicate_rows,
            memory_usage: s.memory_usage,
            correlations: OrderedMap(s.correlations.into_iter().map(|(name, row)| (name, OrderedMap(row))).collect()),
        },
        error: s.error,
    }
}

pub struct AnalysisApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl AnalysisApi {
    /// Statistical analysis
    ///
    /// Per-column statistics of a version (the latest by default) over every row: missing values, distinct
    /// values, and for numeric columns min, max, mean, std, percentiles, skewness, kurtosis,
    /// IQR, outliers and a histogram; top values for text and bool columns; range and
    /// histogram for datetime columns. Also duplicate rows, memory usage and the Pearson
    /// correlation matrix of the numeric columns. Computed once per version, then cached.
    #[oai(path = "/api/datasets/:dataset_id/analyze", method = "get", operation_id = "analyze_dataset")]
    async fn analyze(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, or `latest` (default).
        #[oai(default)]
        version: Query<VersionParam>,
        /// Tags of copies the client holds: the current one answers `304`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tagged<AnalyzeResponse>, ApiError> {
        let stats = app.analyze(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        Ok(Tagged::by_content(analyze_dto(stats), if_none_match.0.as_deref()))
    }
}
