//! How a dataset's schema changed between two versions, and whether a reader of the first
//! can read the second.
//!
//! - an **added** column is `compatible` (a reader of v1 ignores it);
//! - a **removed** column is `breaking`;
//! - a **type change** is `widening` when every value of the old type is a value of the new
//!   one — `int64 → float64` and `category → object` — and `breaking` otherwise.
//!
//! Changes are listed in v2's column order (added and retyped columns), then the removed
//! columns in v1's order.

use std::collections::HashMap;

use crate::domain::dtype::DType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    TypeChanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::TypeChanged => "type_changed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    Widening,
    Breaking,
    Compatible,
}

impl Compatibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::Widening => "widening",
            Compatibility::Breaking => "breaking",
            Compatibility::Compatible => "compatible",
        }
    }

    /// Of a type change from `from` to `to` (`from ≠ to`).
    pub fn of_type_change(from: DType, to: DType) -> Self {
        match (from, to) {
            (DType::Int64, DType::Float64) | (DType::Category, DType::Object) => Compatibility::Widening,
            _ => Compatibility::Breaking,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub column: String,
    pub change: Change,
    /// The dtype in v1 (none for an added column).
    pub from: Option<DType>,
    /// The dtype in v2 (none for a removed column).
    pub to: Option<DType>,
    pub compatibility: Compatibility,
}

/// The changes from the columns `v1` to the columns `v2` (names and dtypes, in order).
pub fn schema_changes(v1: &[(&str, DType)], v2: &[(&str, DType)]) -> Vec<SchemaChange> {
    let before: HashMap<&str, DType> = v1.iter().copied().collect();
    let after: HashMap<&str, DType> = v2.iter().copied().collect();
    let mut out = Vec::new();
    for &(name, to) in v2 {
        match before.get(name) {
            None => out.push(SchemaChange {
                column: name.to_string(),
                change: Change::Added,
                from: None,
                to: Some(to),
                compatibility: Compatibility::Compatible,
            }),
            Some(&from) if from != to => out.push(SchemaChange {
                column: name.to_string(),
                change: Change::TypeChanged,
                from: Some(from),
                to: Some(to),
                compatibility: Compatibility::of_type_change(from, to),
            }),
            Some(_) => {}
        }
    }
    for &(name, from) in v1 {
        if !after.contains_key(name) {
            out.push(SchemaChange {
                column: name.to_string(),
                change: Change::Removed,
                from: Some(from),
                to: None,
                compatibility: Compatibility::Breaking,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_removed_and_retyped_columns_are_classified() {
        let v1 = [
            ("id", DType::Int64),
            ("amount", DType::Int64),
            ("city", DType::Category),
            ("old", DType::Bool),
            ("day", DType::Datetime64),
        ];
        let v2 = [
            ("id", DType::Int64),
            ("new", DType::Object),
            ("amount", DType::Float64),
            ("city", DType::Object),
            ("day", DType::Object),
        ];
        let found = schema_changes(&v1, &v2);
        let changes: Vec<(&str, &str, &str)> =
            found.iter().map(|c| (c.column.as_str(), c.change.as_str(), c.compatibility.as_str())).collect();
        assert_eq!(
            changes,
            [
                ("new", "added", "compatible"),
                ("amount", "type_changed", "widening"),
                ("city", "type_changed", "widening"),
                ("day", "type_changed", "breaking"),
                ("old", "removed", "breaking"),
            ]
        );
    }

    #[test]
    fn narrowing_is_breaking() {
        assert_eq!(Compatibility::of_type_change(DType::Float64, DType::Int64), Compatibility::Breaking);
        assert_eq!(Compatibility::of_type_change(DType::Object, DType::Category), Compatibility::Breaking);
        assert!(schema_changes(&[("a", DType::Bool)], &[("a", DType::Bool)]).is_empty());
    }
}
