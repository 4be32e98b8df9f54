//! `GET /api/datasets/{dataset_id}/analyze`.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use crate::app::App;
use crate::domain::ids::DatasetId;
use crate::domain::statistics::{ColumnStats, DatasetStatistics, Scalar};

#[derive(Object, Debug, Clone, PartialEq)]
pub struct PercentilesDto {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

/// Counts per bin and the bins' edges (one more edge than counts): numbers for numeric
/// columns, ISO-8601 timestamps for datetime columns.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct HistogramDto {
    pub counts: Vec<u64>,
    pub bin_edges: Vec<Value>,
}

/// Statistics of one column (definitions in docs/statistics.md). Numeric columns carry the
/// numeric figures (null where undefined), text, category and bool columns `top_values`,
/// datetime columns `min`, `max` and `histogram`.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ColumnStatsDto {
    /// The column's dtype.
    #[oai(rename = "type")]
    pub dtype: String,
    /// Distinct non-missing values.
    pub unique: u64,
    pub missing: u64,
    /// missing / rows, a fraction from 0 to 1.
    pub missing_percent: f64,
    #[oai(nullable)]
    pub min: MaybeUndefined<Value>,
    #[oai(nullable)]
    pub max: MaybeUndefined<Value>,
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

fn scalar(value: Option<Scalar>) -> MaybeUndefined<Value> {
    match value {
        Some(Scalar::Int(i)) => MaybeUndefined::Value(Value::from(i)),
        Some(Scalar::Float(f)) => {
            serde_json::Number::from_f64(f).map_or(MaybeUndefined::Null, |n| MaybeUndefined::Value(Value::Number(n)))
        }
        None => MaybeUndefined::Null,
    }
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
        dto.histogram =
            defined(n.histogram.map(|h| HistogramDto {
                counts: h.counts,
                bin_edges: h.bin_edges.into_iter().map(Value::from).collect(),
            }));
        if c.dtype == crate::domain::dtype::DType::Float64 {
            dto.infinite_count = MaybeUndefined::Value(n.infinite_count);
        }
    }
    if let Some(top) = c.top_values {
        dto.top_values = MaybeUndefined::Value(OrderedMap(top));
    }
    if c.dtype == crate::domain::dtype::DType::Datetime64 {
        dto.min = defined(c.temporal.as_ref().map(|t| Value::String(t.min.clone())));
        dto.max = defined(c.temporal.as_ref().map(|t| Value::String(t.max.clone())));
        dto.histogram = defined(c.temporal.map(|t| HistogramDto {
            counts: t.histogram.counts,
            bin_edges: t.histogram.bin_edges.into_iter().map(Value::String).collect(),
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
    /// Per-column statistics of the latest version over every row: missing values, distinct
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
    ) -> Result<Json<AnalyzeResponse>, ApiError> {
        let stats = app.analyze(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(Json(analyze_dto(stats)))
    }
}
