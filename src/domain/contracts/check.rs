//! Checking a table against a contract: the table's shape ([`check_shape`]: row count,
//! required and extra columns, dtypes) and each named column's values ([`ColumnCheck`], fed
//! the column's arrays in row order).
//!
//! A value check counts the non-missing values that fail it; it is violated when more than
//! `1 − mostly` of the non-missing values fail (`mostly` = 1: when any fails). The missing
//! check is violated when the share of missing cells is above `max_missing_fraction`. Each
//! violation keeps the first [`MAX_EXAMPLES`] failing rows (1-based data rows) with their
//! values. `unique` counts the values met before (so `[a, a, a]` has two failing rows); text
//! values are told apart by a 64-bit hash of their bytes (two different values sharing one —
//! odds about n²/2⁶⁵ — would count as a repeat).

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use serde_json::Value;

use super::{AllowedValue, ColumnContract, Contract};
use crate::domain::dtype::DType;
use crate::domain::preview::cell_value;

/// Failing rows kept per violation.
pub const MAX_EXAMPLES: usize = 20;

/// A failing row: its 1-based data row and its value (null when missing).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    pub row: u64,
    pub value: Value,
}

/// One violated check.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// The column (none for the table's row count).
    pub column: Option<String>,
    /// `row_count`, `required`, `dtype`, `extra_columns`, `max_missing_fraction`, `min`,
    /// `max`, `allowed_values`, `pattern` or `unique`.
    pub check: String,
    pub failing_count: u64,
    /// Of the non-missing values for value checks, of all rows otherwise.
    pub failing_fraction: f64,
    pub examples: Vec<Example>,
}

/// The checks of the table's shape: `columns` are the version's names and dtypes.
pub fn check_shape(contract: &Contract, columns: &[(String, DType)], rows: u64) -> Vec<Violation> {
    let mut out = Vec::new();
    let whole = |column: Option<String>, check: &'static str, failing_count: u64| Violation {
        column,
        check: check.to_string(),
        failing_count,
        failing_fraction: if rows == 0 { 0.0 } else { failing_count as f64 / rows as f64 },
        examples: Vec::new(),
    };
    let below = contract.row_count_min.is_some_and(|min| rows < min);
    let above = contract.row_count_max.is_some_and(|max| rows > max);
    if below || above {
        out.push(Violation { failing_fraction: 1.0, ..whole(None, "row_count", rows) });
    }
    for rule in &contract.columns {
        match columns.iter().find(|(name, _)| *name == rule.name) {
            None if rule.required => {
                out.push(Violation { failing_fraction: 1.0, ..whole(Some(rule.name.clone()), "required", rows) })
            }
            Some((_, dtype)) if rule.dtype.is_some_and(|d| d != *dtype) => {
                out.push(Violation { failing_fraction: 1.0, ..whole(Some(rule.name.clone()), "dtype", rows) });
            }
            _ => {}
        }
    }
    if !contract.allow_extra_columns {
        for (name, _) in columns.iter().filter(|(name, _)| !contract.columns.iter().any(|c| c.name == *name)) {
            out.push(Violation { failing_fraction: 1.0, ..whole(Some(name.clone()), "extra_columns", rows) });
        }
    }
    out
}

/// The value checks of every column a contract names, fed record batches of those columns.
pub struct TableCheck<'a> {
    /// A check per batch column (none for a column the contract does not name).
    checks: Vec<Option<ColumnCheck<'a>>>,
}

impl<'a> TableCheck<'a> {
    /// For batches whose columns are named `columns`, in order.
    pub fn new(contract: &'a Contract, columns: &[String]) -> Self {
        let checks = columns
            .iter()
            .map(|name| contract.columns.iter().find(|c| c.name == *name).map(ColumnCheck::new))
            .collect();
        Self { checks }
    }

    /// Checks the next rows (every column of `batch`, in the order given to [`Self::new`]).
    pub fn observe(&mut self, batch: &arrow::array::RecordBatch) {
        for (check, column) in self.checks.iter_mut().zip(batch.columns()) {
            if let Some(check) = check {
                check.observe(column);
            }
        }
    }

    pub fn finish(self) -> Vec<Violation> {
        self.checks.into_iter().flatten().flat_map(ColumnCheck::finish).collect()
    }
}

/// The positions, among `columns`, of the columns `contract` names value checks for (the
/// columns a check must read).
pub fn checked_columns(contract: &Contract, columns: &[String]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, name)| contract.columns.iter().any(|c| c.name == **name && c.checks_values()))
        .map(|(i, _)| i)
        .collect()
}

/// Counts of one check of one column.
#[derive(Debug, Default)]
struct Tally {
    failing: u64,
    examples: Vec<Example>,
}

impl Tally {
    fn fail(&mut self, array: &ArrayRef, index: usize, row: u64) {
        self.failing += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Example { row, value: cell_value(array, index) });
        }
    }
}

/// One column's value checks, fed its arrays in row order.
pub struct ColumnCheck<'a> {
    rule: &'a ColumnContract,
    rows: u64,
    missing: Tally,
    min: Tally,
    max: Tally,
    allowed: Tally,
    pattern: Tally,
    unique: Tally,
    /// Identities met (xxh3 hashing: SipHash would dominate the check of a unique column).
    seen: HashSet<u64, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
}

/// A value's identity for `unique`: its bits (numbers, booleans, dates) or a hash of its text.
fn identity(array: &ArrayRef, index: usize) -> u64 {
    match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(index) as u64,
        DataType::Float64 => array.as_primitive::<Float64Type>().value(index).to_bits(),
        DataType::Boolean => u64::from(array.as_boolean().value(index)),
        DataType::Utf8 => xxhash_rust::xxh3::xxh3_64(array.as_string::<i32>().value(index).as_bytes()),
        DataType::LargeUtf8 => xxhash_rust::xxh3::xxh3_64(array.as_string::<i64>().value(index).as_bytes()),
        DataType::Utf8View => xxhash_rust::xxh3::xxh3_64(array.as_string_view().value(index).as_bytes()),
        _ => xxhash_rust::xxh3::xxh3_64(cell_value(array, index).to_string().as_bytes()),
    }
}

/// A value as a number, when it is one.
fn number(array: &ArrayRef, index: usize) -> Option<f64> {
    match array.data_type() {
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(index) as f64),
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(index)),
        _ => None,
    }
}

/// A value as text: text as it is, anything else as its JSON form (dates in ISO-8601).
fn text(array: &ArrayRef, index: usize) -> std::borrow::Cow<'_, str> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(index).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(index).into(),
        DataType::Utf8View => array.as_string_view().value(index).into(),
        _ => match cell_value(array, index) {
            Value::String(s) => s.into(),
            other => other.to_string().into(),
        },
    }
}

/// Whether a value is one of `allowed`: text with strings, numbers with numbers (by value),
/// booleans with booleans; dates and timestamps with strings of their ISO-8601 form.
fn is_allowed(array: &ArrayRef, index: usize, allowed: &[AllowedValue]) -> bool {
    match array.data_type() {
        DataType::Boolean => {
            let value = array.as_boolean().value(index);
            allowed.iter().any(|a| *a == AllowedValue::Bool(value))
        }
        DataType::Int64 | DataType::Float64 => {
            let value = number(array, index).unwrap_or(f64::NAN);
            allowed.iter().any(|a| matches!(a, AllowedValue::Number(n) if *n == value))
        }
        _ => {
            let value = text(array, index);
            allowed.iter().any(|a| matches!(a, AllowedValue::Text(t) if *t == value))
        }
    }
}

impl<'a> ColumnCheck<'a> {
    pub fn new(rule: &'a ColumnContract) -> Self {
        Self {
            rule,
            rows: 0,
            missing: Tally::default(),
            min: Tally::default(),
            max: Tally::default(),
            allowed: Tally::default(),
            pattern: Tally::default(),
            unique: Tally::default(),
            seen: HashSet::default(),
        }
    }

    /// Checks the next `array.len()` rows of the column.
    pub fn observe(&mut self, array: &ArrayRef) {
        let rule = self.rule;
        for index in 0..array.len() {
            let row = self.rows + index as u64 + 1;
            if array.is_null(index) {
                self.missing.fail(array, index, row);
                continue;
            }
            if rule.min.is_some() || rule.max.is_some() {
                // A value that is not a number is out of any range.
                let value = number(array, index);
                if rule.min.is_some_and(|min| !value.is_some_and(|v| v >= min)) {
                    self.min.fail(array, index, row);
                }
                if rule.max.is_some_and(|max| !value.is_some_and(|v| v <= max)) {
                    self.max.fail(array, index, row);
                }
            }
            if let Some(allowed) = &rule.allowed_values {
                if !is_allowed(array, index, allowed) {
                    self.allowed.fail(array, index, row);
                }
            }
            if let Some(pattern) = &rule.pattern {
                if !pattern.is_match(&text(array, index)) {
                    self.pattern.fail(array, index, row);
                }
            }
            if rule.unique && !self.seen.insert(identity(array, index)) {
                self.unique.fail(array, index, row);
            }
        }
        self.rows += array.len() as u64;
    }

    /// The violated checks of the column.
    pub fn finish(self) -> Vec<Violation> {
        let rule = self.rule;
        let column = Some(rule.name.clone());
        let present = self.rows - self.missing.failing;
        let mut out = Vec::new();
        if let Some(limit) = rule.max_missing_fraction {
            let share = if self.rows == 0 { 0.0 } else { self.missing.failing as f64 / self.rows as f64 };
            if share > limit {
                out.push(Violation {
                    column: column.clone(),
                    check: "max_missing_fraction".into(),
                    failing_count: self.missing.failing,
                    failing_fraction: share,
                    examples: self.missing.examples,
                });
            }
        }
        let checks = [
            ("min", rule.min.is_some(), self.min),
            ("max", rule.max.is_some(), self.max),
            ("allowed_values", rule.allowed_values.is_some(), self.allowed),
            ("pattern", rule.pattern.is_some(), self.pattern),
            ("unique", rule.unique, self.unique),
        ];
        for (check, asked, tally) in checks {
            if !asked || tally.failing == 0 {
                continue;
            }
            let share = tally.failing as f64 / present.max(1) as f64;
            // Violated when fewer than `mostly` of the values pass: failing > (1 − mostly)·n.
            if tally.failing as f64 > (1.0 - rule.mostly) * present as f64 + 1e-9 {
                out.push(Violation {
                    column: column.clone(),
                    check: check.into(),
                    failing_count: tally.failing,
                    failing_fraction: share,
                    examples: tally.examples,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};

    use super::*;
    use crate::domain::contracts::{ColumnDraft, ContractDraft};

    fn contract(column: ColumnDraft) -> Contract {
        Contract::validate(&ContractDraft { columns: vec![("c".into(), column)], ..Default::default() }).unwrap()
    }

    fn run(contract: &Contract, arrays: &[ArrayRef]) -> Vec<Violation> {
        let mut check = ColumnCheck::new(&contract.columns[0]);
        for array in arrays {
            check.observe(array);
        }
        check.finish()
    }

    #[test]
    fn a_range_reports_every_failing_value_with_its_row_across_batches() {
        let c = contract(ColumnDraft { min: Some(0.0), max: Some(100.0), ..Default::default() });
        let first: ArrayRef = Arc::new(Float64Array::from(vec![Some(5.0), Some(-1.0), None]));
        let second: ArrayRef = Arc::new(Float64Array::from(vec![Some(150.0), Some(100.0), Some(-2.5)]));
        let violations = run(&c, &[first, second]);
        assert_eq!(violations.len(), 2);
        let min = &violations[0];
        assert_eq!((min.check.as_str(), min.failing_count), ("min", 2));
        assert_eq!(min.examples, [Example { row: 2, value: json(-1.0) }, Example { row: 6, value: json(-2.5) }]);
        assert!((min.failing_fraction - 2.0 / 5.0).abs() < 1e-12, "of the 5 non-missing values");
        assert_eq!((violations[1].check.as_str(), violations[1].examples[0].row), ("max", 4));
    }

    fn json(x: f64) -> Value {
        serde_json::json!(x)
    }

    #[test]
    fn mostly_tolerates_a_share_of_failing_values() {
        let values: ArrayRef = Arc::new(Int64Array::from((1..=10).collect::<Vec<i64>>()));
        let strict = contract(ColumnDraft { max: Some(8.0), ..Default::default() });
        assert_eq!(run(&strict, &[Arc::clone(&values)])[0].failing_count, 2);
        let eighty = contract(ColumnDraft { max: Some(8.0), mostly: Some(0.8), ..Default::default() });
        assert!(run(&eighty, &[Arc::clone(&values)]).is_empty(), "8 of 10 pass: exactly 80%");
        let ninety = contract(ColumnDraft { max: Some(8.0), mostly: Some(0.9), ..Default::default() });
        assert_eq!(run(&ninety, &[values]).len(), 1);
    }

    #[test]
    fn allowed_values_pattern_and_unique_check_text() {
        let c = contract(ColumnDraft {
            allowed_values: Some(vec![AllowedValue::Text("EUR".into()), AllowedValue::Text("USD".into())]),
            pattern: Some("^[A-Z]{3}$".into()),
            unique: Some(true),
            ..Default::default()
        });
        let values: ArrayRef =
            Arc::new(StringArray::from(vec![Some("EUR"), Some("usd"), None, Some("EUR"), Some("GBPX")]));
        let violations = run(&c, &[values]);
        let found: Vec<(&str, u64)> = violations.iter().map(|v| (v.check.as_str(), v.failing_count)).collect();
        assert_eq!(found, [("allowed_values", 2), ("pattern", 2), ("unique", 1)]);
        assert_eq!(violations[2].examples, [Example { row: 4, value: Value::String("EUR".into()) }]);
    }

    #[test]
    fn allowed_values_compare_numbers_by_value_and_booleans_as_booleans() {
        let numbers =
            contract(ColumnDraft { allowed_values: Some(vec![AllowedValue::Number(1.0)]), ..Default::default() });
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2]));
        assert_eq!(run(&numbers, &[ints])[0].failing_count, 1);
        let flags =
            contract(ColumnDraft { allowed_values: Some(vec![AllowedValue::Bool(true)]), ..Default::default() });
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(run(&flags, &[bools])[0].examples, [Example { row: 2, value: Value::Bool(false) }]);
    }

    #[test]
    fn missing_cells_are_checked_against_their_largest_share() {
        let c = contract(ColumnDraft { max_missing_fraction: Some(0.25), ..Default::default() });
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, None, Some(4)]));
        let violations = run(&c, &[values]);
        assert_eq!(
            (violations[0].check.as_str(), violations[0].failing_count, violations[0].failing_fraction),
            ("max_missing_fraction", 2, 0.5)
        );
        assert_eq!(violations[0].examples[0], Example { row: 2, value: Value::Null });
        let all_missing: ArrayRef = Arc::new(Int64Array::from(vec![None, None]));
        let range = contract(ColumnDraft { min: Some(0.0), ..Default::default() });
        assert!(run(&range, &[all_missing]).is_empty(), "no value fails a value check");
    }

    #[test]
    fn the_shape_checks_rows_required_dtypes_and_extra_columns() {
        let draft = ContractDraft {
            row_count_min: Some(5),
            allow_extra_columns: Some(false),
            columns: vec![
                ("id".into(), ColumnDraft { dtype: Some("int64".into()), ..Default::default() }),
                ("gone".into(), ColumnDraft::default()),
                ("optional".into(), ColumnDraft { required: Some(false), ..Default::default() }),
            ],
            ..Default::default()
        };
        let c = Contract::validate(&draft).unwrap();
        let columns = [("id".to_string(), DType::Float64), ("extra".to_string(), DType::Object)];
        let found: Vec<(Option<String>, String)> =
            check_shape(&c, &columns, 3).into_iter().map(|v| (v.column, v.check)).collect();
        let found: Vec<(Option<String>, &str)> = found.iter().map(|(c, k)| (c.clone(), k.as_str())).collect();
        assert_eq!(
            found,
            [
                (None, "row_count"),
                (Some("id".into()), "dtype"),
                (Some("gone".into()), "required"),
                (Some("extra".into()), "extra_columns")
            ]
        );
    }
}
