//! Data contracts: what every new version of a dataset must satisfy (docs/contracts.md).
//!
//! A contract names, for the table, a range of row counts and whether columns it does not
//! name are allowed, and for each column it names: its dtype, whether it must be present, the
//! largest share of missing cells, and value checks — a range (`min`, `max`), a set of
//! `allowed_values`, a regular expression (`pattern`, searched in the text, as Python's
//! `re.search`), `unique` values — each passing when at least `mostly` of the column's
//! non-missing values pass it (default 1: all of them).
//!
//! [`Contract::validate`] turns a draft (as a client sent it) into a contract or says what is
//! wrong with it; [`check`] checks a table's columns against it, value by value.

pub mod check;
pub mod suggest;

use regex::Regex;
use thiserror::Error;

use crate::domain::dtype::DType;

/// Most columns a contract names, values an `allowed_values` lists, bytes of a `pattern`.
pub const MAX_COLUMNS: usize = 10_000;
pub const MAX_ALLOWED_VALUES: usize = 10_000;
pub const MAX_PATTERN_BYTES: usize = 1_000;
/// Compiled size limit of a pattern (the `regex` crate's automata; matching stays linear).
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// What a violation of an enforced contract does to a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The version is refused (`422 contract_violation`); nothing is stored.
    Enforce,
    /// The version is stored, with the violations recorded.
    Warn,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
        }
    }
}

/// A value of `allowed_values`, as a client wrote it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AllowedValue {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// A contract as a client sent it, not yet checked (and as it is stored: a contract's
/// [`Contract::to_draft`], in JSON).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ContractDraft {
    pub mode: Option<String>,
    pub row_count_min: Option<u64>,
    pub row_count_max: Option<u64>,
    pub allow_extra_columns: Option<bool>,
    pub columns: Vec<(String, ColumnDraft)>,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ColumnDraft {
    pub dtype: Option<String>,
    pub required: Option<bool>,
    pub max_missing_fraction: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub allowed_values: Option<Vec<AllowedValue>>,
    pub pattern: Option<String>,
    pub unique: Option<bool>,
    pub mostly: Option<f64>,
}

/// A valid contract.
#[derive(Debug, Clone)]
pub struct Contract {
    pub mode: Mode,
    pub row_count_min: Option<u64>,
    pub row_count_max: Option<u64>,
    /// Whether a version may have columns the contract does not name (default true).
    pub allow_extra_columns: bool,
    pub columns: Vec<ColumnContract>,
}

#[derive(Debug, Clone)]
pub struct ColumnContract {
    pub name: String,
    pub dtype: Option<DType>,
    /// Whether the column must be present (default true).
    pub required: bool,
    pub max_missing_fraction: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub allowed_values: Option<Vec<AllowedValue>>,
    pub pattern: Option<Regex>,
    pub unique: bool,
    /// The share of non-missing values each value check needs to pass (0–1, default 1).
    pub mostly: f64,
}

/// A dataset's contract as stored: its document, and who set it when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContract {
    pub dataset: crate::domain::ids::DatasetId,
    pub document: ContractDraft,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: crate::domain::ids::UserId,
}

/// The outcome of checking a version against its dataset's contract.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContractResult {
    pub passed: bool,
    pub violations: Vec<check::Violation>,
}

impl ContractResult {
    pub fn of(violations: Vec<check::Violation>) -> Self {
        Self { passed: violations.is_empty(), violations }
    }
}

/// Why a draft is not a contract.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct ContractError(pub String);

fn fraction(value: f64, what: &str) -> Result<f64, ContractError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(ContractError(format!("{what} must be between 0 and 1, not {value}")))
    }
}

impl ColumnContract {
    /// Whether checking the column needs its values (anything beyond its presence and dtype).
    pub fn checks_values(&self) -> bool {
        self.max_missing_fraction.is_some()
            || self.min.is_some()
            || self.max.is_some()
            || self.allowed_values.is_some()
            || self.pattern.is_some()
            || self.unique
    }
}

impl Contract {
    /// Checks every part of `draft`; the first problem found is the error.
    pub fn validate(draft: &ContractDraft) -> Result<Self, ContractError> {
        let mode = match draft.mode.as_deref() {
            None | Some("enforce") => Mode::Enforce,
            Some("warn") => Mode::Warn,
            Some(other) => return Err(ContractError(format!("`mode` is `enforce` or `warn`, not {other:?}"))),
        };
        if let (Some(min), Some(max)) = (draft.row_count_min, draft.row_count_max) {
            if min > max {
                return Err(ContractError(format!("`row_count`: min {min} is above max {max}")));
            }
        }
        if draft.columns.len() > MAX_COLUMNS {
            return Err(ContractError(format!("a contract names at most {MAX_COLUMNS} columns")));
        }
        let mut columns = Vec::with_capacity(draft.columns.len());
        for (name, column) in &draft.columns {
            if name.is_empty() {
                return Err(ContractError("a column of the contract has an empty name".into()));
            }
            columns.push(Self::column(name, column)?);
        }
        Ok(Self {
            mode,
            row_count_min: draft.row_count_min,
            row_count_max: draft.row_count_max,
            allow_extra_columns: draft.allow_extra_columns.unwrap_or(true),
            columns,
        })
    }

    fn column(name: &str, c: &ColumnDraft) -> Result<ColumnContract, ContractError> {
        let at = |what: &str| format!("column `{name}`: {what}");
        let dtype = match c.dtype.as_deref() {
            None => None,
            Some(raw) => Some(DType::parse(raw).ok_or_else(|| {
                ContractError(at(&format!(
                    "unknown dtype {raw:?} (int64, float64, bool, datetime64, category or object)"
                )))
            })?),
        };
        let max_missing_fraction =
            c.max_missing_fraction.map(|f| fraction(f, &at("`max_missing_fraction`"))).transpose()?;
        let mostly = fraction(c.mostly.unwrap_or(1.0), &at("`mostly`"))?;
        for (bound, value) in [("min", c.min), ("max", c.max)] {
            if value.is_some_and(|v| !v.is_finite()) {
                return Err(ContractError(at(&format!("`{bound}` must be a finite number"))));
            }
        }
        if let (Some(min), Some(max)) = (c.min, c.max) {
            if min > max {
                return Err(ContractError(at(&format!("`min` {min} is above `max` {max}"))));
            }
        }
        if (c.min.is_some() || c.max.is_some()) && dtype.is_some_and(|d| !d.is_numeric()) {
            return Err(ContractError(at("`min` and `max` apply to int64 and float64 columns")));
        }
        if let Some(values) = &c.allowed_values {
            if values.len() > MAX_ALLOWED_VALUES {
                return Err(ContractError(at(&format!("`allowed_values` lists at most {MAX_ALLOWED_VALUES} values"))));
            }
            if values.iter().any(|v| matches!(v, AllowedValue::Number(n) if !n.is_finite())) {
                return Err(ContractError(at("`allowed_values` holds a number that is not finite")));
            }
        }
        let pattern = match &c.pattern {
            None => None,
            Some(p) if p.len() > MAX_PATTERN_BYTES => {
                return Err(ContractError(at(&format!("`pattern` is longer than {MAX_PATTERN_BYTES} bytes"))));
            }
            Some(p) => Some(
                regex::RegexBuilder::new(p)
                    .size_limit(PATTERN_SIZE_LIMIT)
                    .build()
                    .map_err(|e| ContractError(at(&format!("`pattern` is not a valid regular expression: {e}"))))?,
            ),
        };
        if pattern.is_some() && dtype.is_some_and(|d| !d.is_text()) {
            return Err(ContractError(at("`pattern` applies to object and category columns")));
        }
        Ok(ColumnContract {
            name: name.to_string(),
            dtype,
            required: c.required.unwrap_or(true),
            max_missing_fraction,
            min: c.min,
            max: c.max,
            allowed_values: c.allowed_values.clone(),
            pattern,
            unique: c.unique.unwrap_or(false),
            mostly,
        })
    }

    /// The contract as a draft again (what `GET …/contract` shows: every default written out).
    pub fn to_draft(&self) -> ContractDraft {
        ContractDraft {
            mode: Some(self.mode.as_str().to_string()),
            row_count_min: self.row_count_min,
            row_count_max: self.row_count_max,
            allow_extra_columns: Some(self.allow_extra_columns),
            columns: self
                .columns
                .iter()
                .map(|c| {
                    let draft = ColumnDraft {
                        dtype: c.dtype.map(|d| d.as_str().to_string()),
                        required: Some(c.required),
                        max_missing_fraction: c.max_missing_fraction,
                        min: c.min,
                        max: c.max,
                        allowed_values: c.allowed_values.clone(),
                        pattern: c.pattern.as_ref().map(|p| p.as_str().to_string()),
                        unique: Some(c.unique),
                        mostly: Some(c.mostly),
                    };
                    (c.name.clone(), draft)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(draft: ColumnDraft) -> Result<Contract, ContractError> {
        Contract::validate(&ContractDraft { columns: vec![("amount".into(), draft)], ..Default::default() })
    }

    #[test]
    fn defaults_are_enforce_required_mostly_one_and_extra_columns_allowed() {
        let contract = column(ColumnDraft::default()).unwrap();
        assert_eq!(contract.mode, Mode::Enforce);
        assert!(contract.allow_extra_columns);
        let c = &contract.columns[0];
        assert!(c.required && !c.unique);
        assert_eq!(c.mostly, 1.0);
        let again = Contract::validate(&contract.to_draft()).unwrap().to_draft();
        assert_eq!(again, contract.to_draft(), "a stored contract reads back as itself");
    }

    #[test]
    fn invalid_contracts_say_what_is_wrong() {
        let cases = [
            (ColumnDraft { dtype: Some("float".into()), ..Default::default() }, "unknown dtype"),
            (ColumnDraft { min: Some(5.0), max: Some(1.0), ..Default::default() }, "above `max`"),
            (ColumnDraft { pattern: Some("([a-z]".into()), ..Default::default() }, "not a valid regular expression"),
            (ColumnDraft { mostly: Some(1.5), ..Default::default() }, "`mostly`"),
            (ColumnDraft { max_missing_fraction: Some(-0.1), ..Default::default() }, "max_missing_fraction"),
            (ColumnDraft { dtype: Some("object".into()), min: Some(0.0), ..Default::default() }, "int64 and float64"),
            (
                ColumnDraft { dtype: Some("int64".into()), pattern: Some("x".into()), ..Default::default() },
                "object and category",
            ),
        ];
        for (draft, expected) in cases {
            let error = column(draft).unwrap_err().0;
            assert!(error.contains(expected) && error.contains("amount"), "{error}");
        }
        let mode = ContractDraft { mode: Some("strict".into()), ..Default::default() };
        assert!(Contract::validate(&mode).unwrap_err().0.contains("`mode`"));
        let rows = ContractDraft { row_count_min: Some(10), row_count_max: Some(1), ..Default::default() };
        assert!(Contract::validate(&rows).unwrap_err().0.contains("row_count"));
    }

    #[test]
    fn a_pattern_too_large_to_compile_is_refused_not_run() {
        let huge = ColumnDraft { pattern: Some("[a-z]{1000}{1000}".into()), ..Default::default() };
        assert!(column(huge).unwrap_err().0.contains("regular expression"));
    }
}
