//! Reading versions by query: `/rows` (a page of one version, filtered, sorted, searched) and
//! `/query` (read-only SQL over a dataset's versions: `data` is the chosen version, `v0`,
//! `v1`, … every version).

use crate::app::{App, AppError};
use crate::domain::access::Principal;
use crate::domain::ids::DatasetId;
use crate::domain::records::Version;
use crate::domain::version_ref::VersionRef;
use crate::ports::queries::{QueryAnswer, QueryError, QueryTable, RowsPage, RowsRequest};

/// The table name of the version a query chose (`version`, default latest).
pub const CHOSEN_TABLE: &str = "data";

/// A version's normalized table under `name`.
pub(crate) fn table(name: &str, version: &Version) -> QueryTable {
    QueryTable {
        name: name.to_string(),
        key: version.normalized.storage_key.clone(),
        size: version.normalized.size_bytes,
    }
}

/// The version number a table name such as `v12` stands for.
fn version_table_number(name: &str) -> Option<i64> {
    let digits = name.strip_prefix('v')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

impl App {
    /// A page of the rows of the version `which` names.
    pub async fn rows(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        which: &VersionRef,
        request: &RowsRequest,
    ) -> Result<(Version, RowsPage), AppError> {
        let (_, version) = self.dataset_version(principal, dataset, which).await?;
        let page = self.queries.rows(&table(CHOSEN_TABLE, &version), request).await.map_err(from_query)?;
        Ok((version, page))
    }

    /// Runs read-only `sql` over the dataset's versions: `data` is the version `which`
    /// names, `vN` version N. Only the versions the statement names are opened.
    pub async fn query(
        &self,
        principal: &Principal,
        dataset: DatasetId,
        which: &VersionRef,
        sql: &str,
    ) -> Result<QueryAnswer, AppError> {
        let (_, chosen) = self.dataset_version(principal, dataset, which).await?;
        let mut tables = Vec::new();
        for name in self.queries.tables_in(sql).map_err(from_query)? {
            if name == CHOSEN_TABLE {
                tables.push(table(CHOSEN_TABLE, &chosen));
            } else if let Some(number) = version_table_number(&name) {
                let version =
                    self.metadata.find_version_by_number(dataset, number).await?.ok_or_else(|| {
                        AppError::Invalid(format!("table `{name}`: the dataset has no version {number}"))
                    })?;
                tables.push(table(&name, &version));
            }
            // Any other name is not a table here: the engine answers that it does not exist.
        }
        self.queries.sql(&tables, sql).await.map_err(from_query)
    }
}

/// A failed query as the use cases say it.
pub fn from_query(e: QueryError) -> AppError {
    match e {
        QueryError::Invalid(m) | QueryError::NotAllowed(m) => AppError::Invalid(m),
        QueryError::TooLarge(m) => AppError::QueryTooLarge(m),
        QueryError::KeyNotUnique(m) => AppError::KeyNotUnique(m),
        QueryError::Store(e) => e.into(),
        QueryError::Engine(m) => AppError::internal(format!("the query engine failed: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tables_are_v_and_a_number() {
        assert_eq!(version_table_number("v0"), Some(0));
        assert_eq!(version_table_number("v12"), Some(12));
        for other in ["v", "data", "v-1", "v1a", "V1x", "x1"] {
            assert_eq!(version_table_number(other), None, "{other}");
        }
    }
}
