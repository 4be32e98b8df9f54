//! `GET /api/datasets/{dataset_id}/compare?v1=&v2=`.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{MaybeUndefined, ParseError, ParseFromParameter, ParseResult, ToJSON};
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use crate::app::App;
use crate::app::compare::{ColumnDiff, Comparison};
use crate::domain::drift::ShiftLevel;
use crate::domain::ids::DatasetId;
use crate::domain::version_ref::VersionRef;

/// A column whose dtype differs between the versions.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct TypeChangeDto {
    pub name: String,
    pub from: String,
    pub to: String,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct CompareSummary {
    pub v1: i64,
    pub v2: i64,
    pub v1_rows: u64,
    pub v2_rows: u64,
    /// v2_rows − v1_rows.
    pub rows_diff: i64,
    pub v1_columns: u64,
    pub v2_columns: u64,
    /// Columns in v2 but not in v1.
    pub columns_added: Vec<String>,
    /// Columns in v1 but not in v2.
    pub columns_removed: Vec<String>,
    pub columns_type_changed: Vec<TypeChangeDto>,
}

/// One category's share of the non-missing values in each version.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct CategoryChangeDto {
    pub value: String,
    pub v1_freq: f64,
    pub v2_freq: f64,
}

/// Drift of one column present in both versions. `type` is `numeric` (both int64/float64),
/// `categorical` (both text/category, or both bool), `datetime`, or `type_changed` (the column
/// moved between those families; no distribution is compared). Fields not of the column's
/// kind are absent; figures that are undefined are null.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ColumnDiffDto {
    #[oai(rename = "type")]
    pub kind: String,
    #[oai(nullable)]
    pub v1_mean: MaybeUndefined<f64>,
    #[oai(nullable)]
    pub v2_mean: MaybeUndefined<f64>,
    #[oai(nullable)]
    pub v1_std: MaybeUndefined<f64>,
    #[oai(nullable)]
    pub v2_std: MaybeUndefined<f64>,
    /// Share of missing cells in v1 (0–1).
    pub missing_v1: f64,
    /// Share of missing cells in v2 (0–1).
    pub missing_v2: f64,
    /// (v2_mean − v1_mean) / |v1_mean| × 100; null when v1_mean is 0.
    #[oai(nullable)]
    pub mean_shift_pct: MaybeUndefined<f64>,
    /// Population stability index (docs/compare.md).
    #[oai(nullable)]
    pub psi: MaybeUndefined<f64>,
    /// `low` (PSI < 0.1), `moderate` (0.1–0.25) or `high` (> 0.25).
    #[oai(nullable)]
    pub shift_level: MaybeUndefined<String>,
    /// Values only in v2, most frequent first (at most 20).
    #[oai(nullable)]
    pub categories_added: MaybeUndefined<Vec<String>>,
    #[oai(nullable)]
    pub categories_added_count: MaybeUndefined<u64>,
    /// Values only in v1, most frequent first (at most 20).
    #[oai(nullable)]
    pub categories_removed: MaybeUndefined<Vec<String>>,
    #[oai(nullable)]
    pub categories_removed_count: MaybeUndefined<u64>,
    /// The categories whose share changed most (at most 20).
    #[oai(nullable)]
    pub top_changes: MaybeUndefined<Vec<CategoryChangeDto>>,
    #[oai(nullable)]
    pub v1_min: MaybeUndefined<String>,
    #[oai(nullable)]
    pub v1_max: MaybeUndefined<String>,
    #[oai(nullable)]
    pub v2_min: MaybeUndefined<String>,
    #[oai(nullable)]
    pub v2_max: MaybeUndefined<String>,
    #[oai(nullable)]
    pub from: MaybeUndefined<String>,
    #[oai(nullable)]
    pub to: MaybeUndefined<String>,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct CompareResponse {
    pub summary: CompareSummary,
    /// Column name → drift, for every column present in both versions (v2's order).
    pub column_diffs: OrderedMap<ColumnDiffDto>,
}

fn opt<T>(value: Option<T>) -> MaybeUndefined<T> {
    value.map_or(MaybeUndefined::Null, MaybeUndefined::Value)
}

fn level(psi: Option<f64>) -> MaybeUndefined<String> {
    opt(psi.map(|p| ShiftLevel::of(p).as_str().to_string()))
}

fn empty(kind: &str, missing_v1: f64, missing_v2: f64) -> ColumnDiffDto {
    use MaybeUndefined::Undefined as U;
    ColumnDiffDto {
        kind: kind.to_string(),
        v1_mean: U,
        v2_mean: U,
        v1_std: U,
        v2_std: U,
        missing_v1,
        missing_v2,
        mean_shift_pct: U,
        psi: U,
        shift_level: U,
        categories_added: U,
        categories_added_count: U,
        categories_removed: U,
        categories_removed_count: U,
        top_changes: U,
        v1_min: U,
        v1_max: U,
        v2_min: U,
        v2_max: U,
        from: U,
        to: U,
    }
}

fn diff_dto(diff: ColumnDiff) -> ColumnDiffDto {
    match diff {
        ColumnDiff::Numeric { v1_mean, v2_mean, v1_std, v2_std, missing_v1, missing_v2, mean_shift_pct, psi } => {
            ColumnDiffDto {
                v1_mean: opt(v1_mean),
                v2_mean: opt(v2_mean),
                v1_std: opt(v1_std),
                v2_std: opt(v2_std),
                mean_shift_pct: opt(mean_shift_pct),
                psi: opt(psi),
                shift_level: level(psi),
                ..empty("numeric", missing_v1, missing_v2)
            }
        }
        ColumnDiff::Categorical {
            missing_v1,
            missing_v2,
            categories_added,
            categories_added_count,
            categories_removed,
            categories_removed_count,
            top_changes,
            psi,
        } => ColumnDiffDto {
            categories_added: MaybeUndefined::Value(categories_added),
            categories_added_count: MaybeUndefined::Value(categories_added_count),
            categories_removed: MaybeUndefined::Value(categories_removed),
            categories_removed_count: MaybeUndefined::Value(categories_removed_count),
            top_changes: MaybeUndefined::Value(
                top_changes
                    .into_iter()
                    .map(|c| CategoryChangeDto { value: c.value, v1_freq: c.v1_freq, v2_freq: c.v2_freq })
                    .collect(),
            ),
            psi: opt(psi),
            shift_level: level(psi),
            ..empty("categorical", missing_v1, missing_v2)
        },
        ColumnDiff::Datetime { v1_min, v1_max, v2_min, v2_max, missing_v1, missing_v2 } => ColumnDiffDto {
            v1_min: opt(v1_min),
            v1_max: opt(v1_max),
            v2_min: opt(v2_min),
            v2_max: opt(v2_max),
            ..empty("datetime", missing_v1, missing_v2)
        },
        ColumnDiff::TypeChanged { from, to, missing_v1, missing_v2 } => ColumnDiffDto {
            from: MaybeUndefined::Value(from.as_str().to_string()),
            to: MaybeUndefined::Value(to.as_str().to_string()),
            ..empty("type_changed", missing_v1, missing_v2)
        },
    }
}

fn compare_dto(c: Comparison) -> CompareResponse {
    CompareResponse {
        summary: CompareSummary {
            v1: c.v1,
            v2: c.v2,
            v1_rows: c.v1_rows,
            v2_rows: c.v2_rows,
            rows_diff: c.v2_rows as i64 - c.v1_rows as i64,
            v1_columns: c.v1_columns,
            v2_columns: c.v2_columns,
            columns_added: c.columns_added,
            columns_removed: c.columns_removed,
            columns_type_changed: c
                .columns_type_changed
                .into_iter()
                .map(|t| TypeChangeDto { name: t.name, from: t.from.as_str().into(), to: t.to.as_str().into() })
                .collect(),
        },
        column_diffs: OrderedMap(c.column_diffs.into_iter().map(|(name, d)| (name, diff_dto(d))).collect()),
    }
}

pub struct CompareApi;

/// `v1` and `v2`: what `version` takes elsewhere ([`VersionRef::parse`]), and, as before
/// aliases were taken, a negative integer, which names no version (`404`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparedVersion(pub VersionRef);

value_type!(
    ComparedVersion,
    "compared_version",
    MetaSchema {
        description: Some("A version number (0, 1, 2, …), `latest` or an alias."),
        example: Some(serde_json::Value::String("0".into())),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for ComparedVersion {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.trim().parse::<i64>() {
            Ok(n) if n < 0 => Ok(Self(VersionRef::Number(n))),
            _ => VersionRef::parse(value).map(Self).map_err(|e| ParseError::custom(e.to_string())),
        }
    }
}

impl ToJSON for ComparedVersion {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.to_string()))
    }
}

#[OpenApi(tag = "ApiTags::Datasets")]
impl CompareApi {
    /// Compare versions
    ///
    /// Schema differences (added, removed and retyped columns) and drift of every column
    /// present in both versions: mean, std and PSI over v1's deciles for numeric columns,
    /// added/removed categories, largest frequency changes and PSI for categorical columns,
    /// range changes for datetime columns.
    #[oai(path = "/api/datasets/:dataset_id/compare", method = "get", operation_id = "compare_dataset_versions")]
    async fn compare(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// First version: a number, `latest` or an alias.
        v1: Query<ComparedVersion>,
        /// Second version: a number, `latest` or an alias.
        v2: Query<ComparedVersion>,
    ) -> Result<Json<CompareResponse>, ApiError> {
        let c = app.compare(&auth.0, DatasetId(dataset_id.0), &v1.0.0, &v2.0.0).await?;
        Ok(Json(compare_dto(c)))
    }
}
