//! `/diff`: the rows added, removed and changed between two versions of a dataset, matched by
//! a key (the engine's `diff`; definitions in docs/compare.md).

use crate::app::queries::{from_query, table};
use crate::app::{App, AppError};
use crate::domain::access::Principal;
use crate::domain::dtype::DType;
use crate::domain::ids::DatasetId;
use crate::domain::records::Version;
use crate::domain::version_ref::VersionRef;
use crate::ports::queries::{ComparedColumn, Comparison, DiffRequest, RowDiff};

/// Samples of each kind when none is asked.
pub const DEFAULT_SAMPLES: usize = 20;
/// Most samples of each kind.
pub const MAX_SAMPLES: usize = 1000;

/// A diff and what it compared.
#[derive(Debug, Clone)]
pub struct VersionDiff {
    pub v1: i64,
    pub v2: i64,
    pub key: Vec<String>,
    /// The other columns of both versions, in v2's order (the ones compared row by row).
    pub compared: Vec<String>,
    /// Columns only v2 has, and only v1 has: reported once, not as a change of every row.
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub rows: RowDiff,
}

/// How the values of a column with dtype `a` in v1 and `b` in v2 are compared: as they are
/// when both are stored alike, as numbers across int64/float64, as text otherwise.
pub fn comparison(a: DType, b: DType) -> Comparison {
    let text = |d: DType| matches!(d, DType::Object | DType::Category);
    match (a, b) {
        _ if a == b => Comparison::AsIs,
        _ if text(a) && text(b) => Comparison::AsIs,
        (DType::Int64 | DType::Float64, DType::Int64 | DType::Float64) => Comparison::AsNumbers,
        _ => Comparison::AsText,
    }
}

impl App {
    /// The row-level difference from `v1` to `v2`, rows matched by `key` (column names);
    /// at most `limit` samples of each kind.
    pub async fn diff(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        (v1, v2): (&VersionRef, &VersionRef),
        key: &[String],
        limit: usize,
    ) -> Result<VersionDiff, AppError> {
        if key.is_empty() {
            return Err(AppError::Invalid("`key` names no column".into()));
        }
        if let Some(repeated) = key.iter().enumerate().find(|(i, k)| key[..*i].contains(k)).map(|(_, k)| k) {
            return Err(AppError::Invalid(format!("`key` names the column `{repeated}` twice")));
        }
        if limit > MAX_SAMPLES {
            return Err(AppError::Invalid(format!("`limit` is at most {MAX_SAMPLES}")));
        }
        let (_, first) = self.dataset_version(principal, dataset, v1).await?;
        let (_, second) = self.dataset_version(principal, dataset, v2).await?;
        let dtype = |v: &Version, name: &str| v.columns.iter().find(|c| c.name == name).map(|c| c.dtype);
        let mut key_columns = Vec::new();
        for name in key {
            let (Some(a), Some(b)) = (dtype(&first, name), dtype(&second, name)) else {
                let missing = if dtype(&first, name).is_none() { &first } else { &second };
                return Err(AppError::Invalid(format!(
                    "the key column `{name}` is not a column of version {}",
                    missing.summary.version
                )));
            };
            key_columns.push(ComparedColumn { name: name.clone(), comparison: comparison(a, b) });
        }
        let compared: Vec<ComparedColumn> = second
            .columns
            .iter()
            .filter(|c| !key.contains(&c.name))
            .filter_map(|c| {
                dtype(&first, &c.name)
                    .map(|a| ComparedColumn { name: c.name.clone(), comparison: comparison(a, c.dtype) })
            })
            .collect();
        let request = DiffRequest {
            key: key_columns,
            compared: compared.clone(),
            limit,
            labels: [format!("version {}", first.summary.version), format!("version {}", second.summary.version)],
        };
        let rows =
            self.queries.diff(&table("v1", &first), &table("v2", &second), &request).await.map_err(from_query)?;
        let only = |of: &Version, other: &Version| {
            of.columns.iter().filter(|c| dtype(other, &c.name).is_none()).map(|c| c.name.clone()).collect()
        };
        Ok(VersionDiff {
            v1: first.summary.version,
            v2: second.summary.version,
            key: key.to_vec(),
            compared: compared.into_iter().map(|c| c.name).collect(),
            columns_added: only(&second, &first),
            columns_removed: only(&first, &second),
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_compare_as_they_are_as_numbers_or_as_text() {
        assert_eq!(comparison(DType::Int64, DType::Int64), Comparison::AsIs);
        assert_eq!(comparison(DType::Category, DType::Object), Comparison::AsIs);
        assert_eq!(comparison(DType::Int64, DType::Float64), Comparison::AsNumbers);
        assert_eq!(comparison(DType::Int64, DType::Object), Comparison::AsText);
        assert_eq!(comparison(DType::Bool, DType::Datetime64), Comparison::AsText);
    }
}
