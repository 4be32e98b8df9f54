//! A dataset's data contract: `PUT`/`GET`/`DELETE /api/datasets/{id}/contract`,
//! `POST …/contract/check` and `GET …/contract/suggest` (docs/contracts.md).

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use super::queries::Cell;
use super::text::Text;
use super::time::UtcTime;
use super::version_param::VersionParam;
use crate::app::App;
use crate::domain::contracts::check::{Example, Violation};
use crate::domain::contracts::{AllowedValue, ColumnDraft, ContractDraft, ContractResult, StoredContract};
use crate::domain::ids::DatasetId;

/// The bounds of the row count.
#[derive(Object, Debug, Clone, PartialEq, Default)]
pub struct RowCountDto {
    /// Fewest rows.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub min: Option<u64>,
    /// Most rows.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub max: Option<u64>,
}

/// What a column must be. Value checks (`min`, `max`, `allowed_values`, `pattern`, `unique`)
/// pass when at least `mostly` of the non-missing values pass them.
#[derive(Object, Debug, Clone, PartialEq, Default)]
pub struct ColumnRuleDto {
    /// `int64`, `float64`, `bool`, `datetime64`, `category` or `object`.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub dtype: Option<Text>,
    /// Whether the column must be present (default true).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub required: Option<bool>,
    /// The largest share of missing cells (0–1).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub max_missing_fraction: Option<f64>,
    /// Smallest value (int64 and float64 columns).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub min: Option<f64>,
    /// Largest value (int64 and float64 columns).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub max: Option<f64>,
    /// The values allowed: strings for text (and dates, in ISO-8601), numbers, booleans.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub allowed_values: Option<Vec<Cell>>,
    /// A regular expression each text value must contain a match of (anchor it with `^…$`
    /// to match whole values).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub pattern: Option<Text>,
    /// Whether the values must all differ (default false).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub unique: Option<bool>,
    /// The share of non-missing values each value check needs to pass (0–1, default 1).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub mostly: Option<f64>,
}

/// What a violation does to a new version.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ContractMode {
    /// The version is refused (`422 contract_violation`); nothing is stored.
    Enforce,
    /// The version is stored, with its violations recorded.
    Warn,
}

impl ContractMode {
    fn of(text: Option<&str>) -> Self {
        if text == Some("warn") { Self::Warn } else { Self::Enforce }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Warn => "warn",
        }
    }
}

/// A data contract: what every new version must satisfy.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(example)]
pub struct ContractDto {
    /// `enforce` (default: a violating version is refused) or `warn` (stored, with its
    /// violations recorded).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub mode: Option<ContractMode>,
    #[oai(nullable, skip_serializing_if_is_none)]
    pub row_count: Option<RowCountDto>,
    /// Whether columns the contract does not name are allowed (default true).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub allow_extra_columns: Option<bool>,
    /// Column name → its rules (none when absent or null).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub columns: Option<OrderedMap<ColumnRuleDto>>,
}

impl poem_openapi::types::Example for ContractDto {
    fn example() -> Self {
        let text = |t: &str| Text(t.to_string());
        let amount = ColumnRuleDto {
            dtype: Some(text("float64")),
            max_missing_fraction: Some(0.05),
            min: Some(0.0),
            max: Some(10_000.0),
            mostly: Some(0.99),
            ..Default::default()
        };
        let currency = ColumnRuleDto {
            allowed_values: Some(["EUR", "USD", "GBP"].map(|c| Cell(Value::String(c.into()))).to_vec()),
            pattern: Some(text("^[A-Z]{3}$")),
            ..Default::default()
        };
        let id = ColumnRuleDto { dtype: Some(text("int64")), unique: Some(true), ..Default::default() };
        Self {
            mode: Some(ContractMode::Enforce),
            row_count: Some(RowCountDto { min: Some(1000), max: None }),
            allow_extra_columns: Some(true),
            columns: Some(OrderedMap(vec![
                ("amount".into(), amount),
                ("currency".into(), currency),
                ("id".into(), id),
            ])),
        }
    }
}

/// The dataset's contract, as stored.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct StoredContractDto {
    pub mode: ContractMode,
    pub row_count: RowCountDto,
    pub allow_extra_columns: bool,
    pub columns: OrderedMap<ColumnRuleDto>,
    pub updated_at: UtcTime,
    pub updated_by: Uuid,
}

/// A failing row.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ExampleDto {
    /// The 1-based data row of the file (the header is not a data row).
    pub row: u64,
    /// The value (null when missing).
    pub value: Cell,
}

/// A violated check.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ViolationDto {
    /// The column (null for `row_count`).
    #[oai(nullable)]
    pub column: Option<String>,
    /// `row_count`, `required`, `dtype`, `extra_columns`, `max_missing_fraction`, `min`,
    /// `max`, `allowed_values`, `pattern` or `unique`.
    pub check: String,
    pub failing_count: u64,
    /// Of the non-missing values for value checks, of all rows otherwise.
    pub failing_fraction: f64,
    /// The first failing rows (at most 20).
    pub examples: Vec<ExampleDto>,
}

impl From<Violation> for ViolationDto {
    fn from(v: Violation) -> Self {
        Self {
            column: v.column,
            check: v.check,
            failing_count: v.failing_count,
            failing_fraction: v.failing_fraction,
            examples: v
                .examples
                .into_iter()
                .map(|Example { row, value }| ExampleDto { row, value: Cell(value) })
                .collect(),
        }
    }
}

/// How a version fared against its dataset's contract.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ContractResultDto {
    pub passed: bool,
    pub violations: Vec<ViolationDto>,
}

impl From<ContractResult> for ContractResultDto {
    fn from(r: ContractResult) -> Self {
        Self { passed: r.passed, violations: r.violations.into_iter().map(Into::into).collect() }
    }
}

/// A stored version checked against the contract.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ContractCheckDto {
    pub version: i64,
    pub dataset_version_id: Uuid,
    /// The contract's mode (what a new version with these violations would have met).
    pub mode: ContractMode,
    pub passed: bool,
    pub violations: Vec<ViolationDto>,
}

/// A contract proposed from a version.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct SuggestedContractDto {
    pub version: i64,
    pub contract: ContractDto,
}

/// `check (column)` of the first few violations, for a message.
pub fn summary(violations: &[Violation]) -> String {
    let mut parts: Vec<String> = violations
        .iter()
        .take(5)
        .map(|v| match &v.column {
            Some(column) => format!("{} ({column}, {} rows)", v.check, v.failing_count),
            None => format!("{} ({} rows)", v.check, v.failing_count),
        })
        .collect();
    if violations.len() > 5 {
        parts.push(format!("and {} more", violations.len() - 5));
    }
    parts.join(", ")
}

fn allowed(cell: Cell) -> Result<AllowedValue, ApiError> {
    match cell.0 {
        Value::String(s) => Ok(AllowedValue::Text(s)),
        Value::Bool(b) => Ok(AllowedValue::Bool(b)),
        Value::Number(n) => n
            .as_f64()
            .map(AllowedValue::Number)
            .ok_or_else(|| ApiError::bad_request("`allowed_values` holds a number out of range")),
        _ => Err(ApiError::bad_request("`allowed_values` holds strings, numbers and booleans, not null")),
    }
}

fn cell(value: AllowedValue) -> Cell {
    Cell(match value {
        AllowedValue::Text(s) => Value::String(s),
        AllowedValue::Bool(b) => Value::Bool(b),
        AllowedValue::Number(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
    })
}

fn draft(dto: ContractDto) -> Result<ContractDraft, ApiError> {
    let row_count = dto.row_count.unwrap_or_default();
    let given = dto.columns.unwrap_or_default();
    let mut columns = Vec::with_capacity(given.0.len());
    for (name, c) in given.0 {
        let allowed_values = c.allowed_values.map(|v| v.into_iter().map(allowed).collect()).transpose()?;
        columns.push((
            name,
            ColumnDraft {
                dtype: c.dtype.map(Text::into_string),
                required: c.required,
                max_missing_fraction: c.max_missing_fraction,
                min: c.min,
                max: c.max,
                allowed_values,
                pattern: c.pattern.map(Text::into_string),
                unique: c.unique,
                mostly: c.mostly,
            },
        ));
    }
    Ok(ContractDraft {
        mode: dto.mode.map(|m| m.as_str().to_string()),
        row_count_min: row_count.min,
        row_count_max: row_count.max,
        allow_extra_columns: dto.allow_extra_columns,
        columns,
    })
}

fn rules(d: ContractDraft) -> (RowCountDto, OrderedMap<ColumnRuleDto>) {
    let columns = d
        .columns
        .into_iter()
        .map(|(name, c)| {
            let rule = ColumnRuleDto {
                dtype: c.dtype.map(Text),
                required: c.required,
                max_missing_fraction: c.max_missing_fraction,
                min: c.min,
                max: c.max,
                allowed_values: c.allowed_values.map(|v| v.into_iter().map(cell).collect()),
                pattern: c.pattern.map(Text),
                unique: c.unique,
                mostly: c.mostly,
            };
            (name, rule)
        })
        .collect();
    (RowCountDto { min: d.row_count_min, max: d.row_count_max }, OrderedMap(columns))
}

fn stored_dto(s: StoredContract) -> StoredContractDto {
    let mode = ContractMode::of(s.document.mode.as_deref());
    let allow_extra_columns = s.document.allow_extra_columns.unwrap_or(true);
    let (row_count, columns) = rules(s.document);
    StoredContractDto {
        mode,
        row_count,
        allow_extra_columns,
        columns,
        updated_at: s.updated_at.into(),
        updated_by: s.updated_by.0,
    }
}

#[derive(ApiResponse)]
pub enum ContractRemoved {
    /// The contract is removed: new versions are no longer checked.
    #[oai(status = 204)]
    Removed,
}

pub struct ContractsApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl ContractsApi {
    /// Set the data contract
    ///
    /// Sets (or replaces) what every new version of the dataset must satisfy: a row count
    /// range, whether unnamed columns are allowed, and per column its dtype, presence, share
    /// of missing cells and value checks (`min`, `max`, `allowed_values`, `pattern`,
    /// `unique`, each passing when `mostly` of the values pass). Every new version is then
    /// checked on every row while it is ingested: with `mode` `enforce` a violating version
    /// is refused (`422 contract_violation`, nothing stored), with `warn` it is stored with
    /// its violations. An invalid contract (an unknown dtype, min above max, a bad pattern)
    /// answers `400`. Editors and owners of the project.
    #[oai(path = "/api/datasets/:dataset_id/contract", method = "put", operation_id = "set_dataset_contract")]
    async fn set(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        body: Json<ContractDto>,
    ) -> Result<Json<StoredContractDto>, ApiError> {
        let draft = draft(body.0)?;
        let stored = app.set_contract(&auth.0, DatasetId(dataset_id.0), &draft).await?;
        Ok(Json(stored_dto(stored)))
    }

    /// Get the data contract
    ///
    /// The dataset's contract with every default written out; `404` when it has none.
    #[oai(path = "/api/datasets/:dataset_id/contract", method = "get", operation_id = "get_dataset_contract")]
    async fn get(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<Json<StoredContractDto>, ApiError> {
        Ok(Json(stored_dto(app.contract(&auth.0, DatasetId(dataset_id.0)).await?)))
    }

    /// Remove the data contract
    ///
    /// New versions are no longer checked; versions keep the results they recorded. Editors
    /// and owners of the project.
    #[oai(path = "/api/datasets/:dataset_id/contract", method = "delete", operation_id = "delete_dataset_contract")]
    async fn delete(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
    ) -> Result<ContractRemoved, ApiError> {
        app.remove_contract(&auth.0, DatasetId(dataset_id.0)).await?;
        Ok(ContractRemoved::Removed)
    }

    /// Check a version against the contract
    ///
    /// Checks a stored version (the latest by default) against the dataset's contract, on
    /// every row: the violations a new version with this table would meet.
    #[oai(path = "/api/datasets/:dataset_id/contract/check", method = "post", operation_id = "check_dataset_contract")]
    async fn check(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, `latest` (default) or an alias.
        #[oai(default)]
        version: Query<VersionParam>,
    ) -> Result<Json<ContractCheckDto>, ApiError> {
        let checked = app.check_contract(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        Ok(Json(ContractCheckDto {
            version: checked.version.summary.version,
            dataset_version_id: checked.version.summary.id.0,
            mode: ContractMode::of(Some(checked.contract.mode.as_str())),
            passed: checked.result.passed,
            violations: checked.result.violations.into_iter().map(Into::into).collect(),
        }))
    }

    /// Suggest a contract from a version
    ///
    /// A contract describing a version (the latest by default): each column's dtype, its
    /// observed share of missing cells, the observed `min` and `max` of numbers, the values of
    /// category columns of at most 50 values, `unique` where every value differs. A starting
    /// point to edit and `PUT`.
    #[oai(
        path = "/api/datasets/:dataset_id/contract/suggest",
        method = "get",
        operation_id = "suggest_dataset_contract"
    )]
    async fn suggest(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The version: a number, `latest` (default) or an alias.
        #[oai(default)]
        version: Query<VersionParam>,
    ) -> Result<Json<SuggestedContractDto>, ApiError> {
        let (version, draft) = app.suggest_contract(&auth.0, DatasetId(dataset_id.0), &version.0.0).await?;
        let mode = Some(ContractMode::of(draft.mode.as_deref()));
        let allow_extra_columns = draft.allow_extra_columns;
        let (row_count, columns) = rules(draft);
        let row_count = (row_count.min.is_some() || row_count.max.is_some()).then_some(row_count);
        Ok(Json(SuggestedContractDto {
            version: version.summary.version,
            contract: ContractDto { mode, row_count, allow_extra_columns, columns: Some(columns) },
        }))
    }
}
