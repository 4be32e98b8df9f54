//! `GET /api/datasets/{dataset_id}/compare?v1=&v2=&tests=&threshold=&drift_share=`.

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
use crate::app::compare::{ColumnDiff, CompareOptions, Comparison, DEFAULT_DRIFT_SHARE};
use crate::domain::drift::ShiftLevel;
use crate::domain::drift::rule::{ColumnDrift, DriftOptions, parse_tests};
use crate::domain::ids::DatasetId;
use crate::domain::schema_changes::SchemaChange;
use crate::domain::version_ref::VersionRef;

/// A column whose dtype differs between the versions.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct TypeChangeDto {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// One change of the schema from v1 to v2.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct SchemaChangeDto {
    pub column: String,
    /// `added`, `removed` or `type_changed`.
    pub change: String,
    /// The dtype in v1 (null for an added column).
    #[oai(nullable)]
    pub from: Option<String>,
    /// The dtype in v2 (null for a removed column).
    #[oai(nullable)]
    pub to: Option<String>,
    /// `widening` (int64 → float64, category → object), `compatible` (an added column) or
    /// `breaking` (a removed column, any other type change).
    pub compatibility: String,
}

impl From<SchemaChange> for SchemaChangeDto {
    fn from(c: SchemaChange) -> Self {
        Self {
            column: c.column,
            change: c.change.as_str().to_string(),
            from: c.from.map(|d| d.as_str().to_string()),
            to: c.to.map(|d| d.as_str().to_string()),
            compatibility: c.compatibility.as_str().to_string(),
        }
    }
}

/// The verdict on a column: the deciding test, its figures, and whether it drifted.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DriftDto {
    /// `ks`, `chi2`, `ztest`, `psi`, `jensenshannon` or `wasserstein` (docs/compare.md).
    pub test: String,
    /// The test's statistic or distance (null when it is infinite: a chi-squared test with a
    /// value v1 never had).
    #[oai(nullable)]
    pub statistic: Option<f64>,
    /// The p-value (null for distances).
    #[oai(nullable)]
    pub p_value: Option<f64>,
    /// Drift when the p-value is below it, or the distance at or above it.
    pub threshold: f64,
    pub drift_detected: bool,
    /// Non-missing values compared in v1.
    pub values_v1: u64,
    /// Non-missing values compared in v2.
    pub values_v2: u64,
}

/// One asked test's figures.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DriftTestDto {
    /// Null when infinite.
    #[oai(nullable)]
    pub statistic: Option<f64>,
    /// Null for distances.
    #[oai(nullable)]
    pub p_value: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn drift_dto(d: &ColumnDrift) -> Option<DriftDto> {
    let v = d.verdict?;
    Some(DriftDto {
        test: v.test.name().to_string(),
        statistic: finite(v.outcome.statistic),
        p_value: v.outcome.p_value,
        threshold: v.threshold,
        drift_detected: v.drift_detected,
        values_v1: d.values_v1,
        values_v2: d.values_v2,
    })
}

fn tests_dto(d: &ColumnDrift) -> OrderedMap<Option<DriftTestDto>> {
    OrderedMap(
        d.tests
            .iter()
            .map(|(test, outcome)| {
                let figures = outcome.map(|o| DriftTestDto { statistic: finite(o.statistic), p_value: o.p_value });
                (test.name().to_string(), figures)
            })
            .collect(),
    )
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
    /// Every schema change with its compatibility: v2's added and retyped columns in its
    /// order, then v1's removed columns.
    pub schema_changes: Vec<SchemaChangeDto>,
    /// Columns whose verdict is drift, in v2's order.
    pub drifted_columns: Vec<String>,
    /// Columns with a verdict: present in both versions, of one kind, with values in both.
    pub compared_columns: u64,
    /// drifted / compared columns (0 when none was compared).
    pub drift_share: f64,
    /// Whether `drift_share` reached the `drift_share` asked (default 0.5).
    pub dataset_drift: bool,
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
    /// The verdict (docs/compare.md): by the default rule, or by the first test of `tests=`
    /// that applies. Null when the column changed kind, or a version has no value in it.
    #[oai(nullable)]
    pub drift: Option<DriftDto>,
    /// Each test of `tests=` (absent without it): null where it does not apply (`ks` and
    /// `wasserstein` to categories, `ztest` to more than two categories).
    #[oai(skip_serializing_if_is_none)]
    pub tests: Option<OrderedMap<Option<DriftTestDto>>>,
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
        drift: None,
        tests: None,
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

fn compare_dto(c: Comparison, with_tests: bool) -> CompareResponse {
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
            schema_changes: c.schema_changes.into_iter().map(Into::into).collect(),
            drifted_columns: c.dataset_drift.drifted_columns,
            compared_columns: c.dataset_drift.compared_columns,
            drift_share: c.dataset_drift.drift_share,
            dataset_drift: c.dataset_drift.dataset_drift,
        },
        column_diffs: OrderedMap(
            c.column_diffs
                .into_iter()
                .map(|(name, d, drift)| {
                    let dto = ColumnDiffDto {
                        drift: drift_dto(&drift),
                        tests: with_tests.then(|| tests_dto(&drift)),
                        ..diff_dto(d)
                    };
                    (name, dto)
                })
                .collect(),
        ),
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
    /// Schema differences (added, removed and retyped columns, with their compatibility) and
    /// drift of every column present in both versions: mean, std and PSI over v1's deciles
    /// for numeric columns, added/removed categories, largest frequency changes and PSI for
    /// categorical columns, range changes for datetime columns — and a verdict per column by
    /// a statistical test on every value of both versions (`drift`: Kolmogorov–Smirnov,
    /// chi-squared or Z-test for a reference of at most 1000 values, normed Wasserstein or
    /// Jensen–Shannon distance above; docs/compare.md), and for the dataset (`summary`:
    /// `drifted_columns`, `drift_share`, `dataset_drift`).
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
        /// Tests to run on every column, separated by commas: `ks`, `chi2`, `ztest`, `psi`,
        /// `jensenshannon`, `wasserstein`. Each column reports them under `tests`; the first
        /// that applies decides its `drift` (the default rule decides otherwise).
        tests: Query<Option<String>>,
        /// Replaces the threshold of the deciding tests (p-value below it, or distance at or
        /// above it, is drift). Defaults: 0.05 for p-values, 0.1 for distances and PSI.
        #[oai(validator(minimum(value = "0", exclusive)))]
        threshold: Query<Option<f64>>,
        /// The share of drifted columns at and above which `dataset_drift` is true (0–1;
        /// default 0.5).
        #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
        drift_share: Query<Option<f64>>,
    ) -> Result<Json<CompareResponse>, ApiError> {
        let asked = match tests.0.as_deref() {
            Some(text) => parse_tests(text).map_err(ApiError::bad_request)?,
            None => Vec::new(),
        };
        if threshold.0.is_some_and(|t| !t.is_finite()) {
            return Err(ApiError::bad_request("`threshold` must be a finite number above 0"));
        }
        let with_tests = !asked.is_empty();
        let options = CompareOptions {
            drift: DriftOptions { tests: asked, threshold: threshold.0 },
            drift_share: drift_share.0.unwrap_or(DEFAULT_DRIFT_SHARE),
        };
        let c = app.compare(&auth.0, DatasetId(dataset_id.0), &v1.0.0, &v2.0.0, &options).await?;
        Ok(Json(compare_dto(c, with_tests)))
    }
}
