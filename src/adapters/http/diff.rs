//! `GET /api/datasets/{dataset_id}/diff?v1=&v2=&key=&limit=`: the rows added, removed and
//! changed between two versions, matched by a key.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::auth::BearerAuth;
use super::compare::ComparedVersion;
use super::errors::ApiError;
use super::ordered_map::OrderedMap;
use super::queries::{Cell, column_list, json_rows};
use crate::app::App;
use crate::app::row_diff::{DEFAULT_SAMPLES, VersionDiff};
use crate::domain::ids::DatasetId;
use crate::domain::preview::cell_value;
use crate::ports::queries::ChangedRows;

/// A value before and after.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ValueChange {
    pub from: Cell,
    pub to: Cell,
}

/// A changed row: its key and its changed columns.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct ChangedRow {
    /// Key column → value.
    pub key: OrderedMap<Cell>,
    /// Changed column → its value in v1 (`from`) and in v2 (`to`); unchanged columns are
    /// left out.
    pub changes: OrderedMap<ValueChange>,
}

/// Rows of each kind, the first `limit` in key order.
#[derive(Object, Debug, Clone, PartialEq)]
pub struct DiffSamples {
    /// Rows only v2 has, with v2's columns.
    pub added: Vec<OrderedMap<Cell>>,
    /// Rows only v1 has, with v1's columns.
    pub removed: Vec<OrderedMap<Cell>>,
    pub changed: Vec<ChangedRow>,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct DiffAnswer {
    pub v1: i64,
    pub v2: i64,
    /// The key columns.
    pub key: Vec<String>,
    /// Keys only v2 has.
    pub added: u64,
    /// Keys only v1 has.
    pub removed: u64,
    /// Keys both versions have, with a different value in at least one compared column.
    pub changed: u64,
    /// Keys both versions have, with every compared column equal.
    pub unchanged: u64,
    /// Compared column (every column of both versions but the key, in v2's order) → rows in
    /// which it changed.
    pub changed_by_column: OrderedMap<u64>,
    /// Columns only v2 has: reported here once, not as a change of every row.
    pub columns_added: Vec<String>,
    /// Columns only v1 has.
    pub columns_removed: Vec<String>,
    pub samples: DiffSamples,
}

fn changed_rows(rows: &ChangedRows) -> Vec<ChangedRow> {
    let cells = |batch: &arrow::array::RecordBatch, row: usize| -> Vec<(String, Cell)> {
        let schema = batch.schema();
        schema.fields().iter().zip(batch.columns()).map(|(f, c)| (f.name().clone(), Cell(cell_value(c, row)))).collect()
    };
    (0..rows.keys.num_rows())
        .map(|row| {
            let before = cells(&rows.before, row);
            let after = cells(&rows.after, row);
            let changes = before
                .into_iter()
                .zip(after)
                .zip(&rows.changed[row])
                .filter(|(_, changed)| **changed)
                .map(|(((name, from), (_, to)), _)| (name, ValueChange { from, to }))
                .collect();
            ChangedRow { key: OrderedMap(cells(&rows.keys, row)), changes: OrderedMap(changes) }
        })
        .collect()
}

fn diff_answer(d: VersionDiff) -> DiffAnswer {
    let rows = d.rows;
    DiffAnswer {
        v1: d.v1,
        v2: d.v2,
        key: d.key,
        added: rows.added,
        removed: rows.removed,
        changed: rows.changed,
        unchanged: rows.unchanged,
        changed_by_column: OrderedMap(d.compared.into_iter().zip(rows.changed_by_column).collect()),
        columns_added: d.columns_added,
        columns_removed: d.columns_removed,
        samples: DiffSamples {
            added: json_rows(std::slice::from_ref(&rows.added_rows)),
            removed: json_rows(std::slice::from_ref(&rows.removed_rows)),
            changed: changed_rows(&rows.changed_rows),
        },
    }
}

fn default_samples() -> u64 {
    DEFAULT_SAMPLES as u64
}

pub struct DiffApi;

#[OpenApi(tag = "ApiTags::Datasets")]
impl DiffApi {
    /// Diff rows of two versions
    ///
    /// Matches the rows of `v1` and `v2` by `key` and counts, exactly over both versions, the
    /// rows added (key only in v2), removed (key only in v1), changed (a different value in
    /// any column both versions have; missing equals missing) and unchanged, with the changes
    /// per column and the first `limit` rows of each kind in key order (ascending, missing
    /// first). A key that names more than one row of a version: `422 key_not_unique` with the
    /// number of repeated keys and one of them. Columns added or removed are listed once.
    /// Memory stays bounded whatever the versions' sizes (the join spills to disk).
    #[oai(path = "/api/datasets/:dataset_id/diff", method = "get", operation_id = "diff_dataset_versions")]
    async fn diff(
        &self,
        auth: BearerAuth,
        app: Data<&App>,
        dataset_id: Path<Uuid>,
        /// The earlier version: a number, `latest` or an alias.
        v1: Query<ComparedVersion>,
        /// The later version: a number, `latest` or an alias.
        v2: Query<ComparedVersion>,
        /// The key columns, separated by commas (a name with a comma or a quote in double
        /// quotes, quotes doubled).
        key: Query<String>,
        /// Samples of each kind, at most (0–1000).
        #[oai(default = "default_samples", validator(maximum(value = "1000")))]
        limit: Query<u64>,
    ) -> Result<Json<DiffAnswer>, ApiError> {
        let key = column_list("key", &key.0)?;
        let limit = usize::try_from(limit.0).unwrap_or(usize::MAX);
        let d = app.diff(&auth.0, DatasetId(dataset_id.0), (&v1.0.0, &v2.0.0), &key, limit).await?;
        Ok(Json(diff_answer(d)))
    }
}
