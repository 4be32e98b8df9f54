//! A contract proposed from a version (`GET …/contract/suggest`): what the version is, as
//! checks a next version must pass.
//!
//! For every column: its dtype, `required`, `max_missing_fraction` = the observed share of
//! missing cells; for int64 and float64 columns the observed `min` and `max`; for category
//! columns of at most [`MAX_SUGGESTED_VALUES`] distinct values, those values as
//! `allowed_values`; `unique` when every non-missing value is distinct (and there are at
//! least two). The row count is not bounded and extra columns are allowed: a next version may
//! grow.

use super::{AllowedValue, ColumnDraft, ContractDraft};
use crate::domain::dtype::DType;

/// Category columns with at most this many distinct values get `allowed_values`.
pub const MAX_SUGGESTED_VALUES: usize = 50;

/// What a version shows of a column.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedColumn {
    pub name: String,
    pub dtype: DType,
    pub rows: u64,
    pub missing: u64,
    /// Distinct non-missing values.
    pub distinct: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The distinct values of a category column (when at most [`MAX_SUGGESTED_VALUES`]).
    pub values: Option<Vec<String>>,
}

pub fn suggest(columns: &[ObservedColumn]) -> ContractDraft {
    ContractDraft {
        mode: Some("enforce".into()),
        row_count_min: None,
        row_count_max: None,
        allow_extra_columns: Some(true),
        columns: columns.iter().map(|c| (c.name.clone(), column(c))).collect(),
    }
}

fn column(c: &ObservedColumn) -> ColumnDraft {
    let numeric = c.dtype.is_numeric();
    let present = c.rows - c.missing;
    let allowed_values = match &c.values {
        Some(values) if c.dtype == DType::Category && values.len() <= MAX_SUGGESTED_VALUES => {
            let mut sorted = values.clone();
            sorted.sort();
            Some(sorted.into_iter().map(AllowedValue::Text).collect())
        }
        _ => None,
    };
    ColumnDraft {
        dtype: Some(c.dtype.as_str().to_string()),
        required: Some(true),
        max_missing_fraction: Some(if c.rows == 0 { 0.0 } else { c.missing as f64 / c.rows as f64 }),
        min: if numeric { c.min } else { None },
        max: if numeric { c.max } else { None },
        allowed_values,
        pattern: None,
        unique: Some(present >= 2 && c.distinct == present),
        mostly: Some(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contracts::Contract;

    fn observed(name: &str, dtype: DType) -> ObservedColumn {
        ObservedColumn {
            name: name.into(),
            dtype,
            rows: 10,
            missing: 0,
            distinct: 10,
            min: None,
            max: None,
            values: None,
        }
    }

    #[test]
    fn a_suggestion_describes_the_version_and_is_a_valid_contract() {
        let columns = [
            ObservedColumn { min: Some(1.0), max: Some(10.0), ..observed("id", DType::Int64) },
            ObservedColumn {
                missing: 2,
                distinct: 2,
                values: Some(vec!["USD".into(), "EUR".into()]),
                ..observed("currency", DType::Category)
            },
            ObservedColumn { distinct: 7, min: Some(0.0), ..observed("note", DType::Object) },
        ];
        let draft = suggest(&columns);
        let (_, id) = &draft.columns[0];
        assert_eq!((id.min, id.max, id.unique), (Some(1.0), Some(10.0), Some(true)));
        let (_, currency) = &draft.columns[1];
        assert_eq!(currency.max_missing_fraction, Some(0.2));
        assert_eq!(
            currency.allowed_values,
            Some(vec![AllowedValue::Text("EUR".into()), AllowedValue::Text("USD".into())])
        );
        assert_eq!(currency.unique, Some(false));
        let (_, note) = &draft.columns[2];
        assert_eq!((note.min, note.allowed_values.clone(), note.unique), (None, None, Some(false)));
        assert!(Contract::validate(&draft).is_ok());
    }
}
