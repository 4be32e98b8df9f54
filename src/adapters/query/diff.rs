//! `/diff`: the rows added, removed and changed between two versions, matched by a key.
//!
//! DataFusion sorts each version by its key (an external sort: it spills past its share of
//! the query memory); the two sorted streams are then merged here, once, row by row:
//! - keys are compared by their arrow row encoding (ascending, missing values first — the
//!   order of `ORDER BY … ASC NULLS FIRST`), so any key type and several key columns work;
//! - a key equal to the previous one of the same version is a repeated key (counted to the
//!   end, then refused as `KeyNotUnique`, with the first repeated key);
//! - the first `limit` rows of each kind met are the samples, already in key order;
//! - two rows of one key are compared column by column on the encodings of their values, so
//!   equal means the same value of the same type, missing equals missing.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SendableRecordBatchStream;
use futures_util::StreamExt;

use super::rows::quoted;
use super::{Engine, query_error};
use crate::ports::queries::{ChangedRows, ComparedColumn, Comparison, DiffRequest, QueryError, QueryTable, RowDiff};

const V1: &str = "__datasets_api_v1";
const V2: &str = "__datasets_api_v2";
/// Prefixes of the compared forms of the key and of the values (names no version uses).
const KEY: &str = "__datasets_api_key";
const VALUE: &str = "__datasets_api_value";

pub(super) async fn diff(
    engine: &Engine,
    v1: &QueryTable,
    v2: &QueryTable,
    request: &DiffRequest,
) -> Result<RowDiff, QueryError> {
    let ctx = engine.sort_session();
    engine.register(&ctx, &QueryTable { name: V1.into(), ..v1.clone() }).await.map_err(query_error)?;
    engine.register(&ctx, &QueryTable { name: V2.into(), ..v2.clone() }).await.map_err(query_error)?;
    let first = engine.start_in(&ctx, &sorted_sql(V1, request)).await?;
    let second = engine.start_in(&ctx, &sorted_sql(V2, request)).await?;
    let mut old = Side::new(first, request, &request.labels[0])?;
    let mut new = Side::new(second, request, &request.labels[1])?;
    old.load().await?;
    new.load().await?;
    old.note_repeat();
    new.note_repeat();
    let mut tally = Tally::new(request, &old, &new)?;
    loop {
        let order = match (old.key(), new.key()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => a.cmp(b),
        };
        match order {
            std::cmp::Ordering::Less => {
                tally.removed(&old)?;
                old.advance().await?;
            }
            std::cmp::Ordering::Greater => {
                tally.added(&new)?;
                new.advance().await?;
            }
            std::cmp::Ordering::Equal => {
                tally.pair(&old, &new)?;
                old.advance().await?;
                new.advance().await?;
            }
        }
    }
    for side in [&old, &new] {
        if let Some(error) = side.repeated_keys(request) {
            return Err(error);
        }
    }
    tally.finish()
}

/// A column as its comparison reads it.
fn compared(column: &ComparedColumn) -> String {
    let at = quoted(&column.name);
    match column.comparison {
        Comparison::AsIs => at,
        Comparison::AsNumbers => format!("CAST({at} AS DOUBLE)"),
        Comparison::AsText => format!("CAST({at} AS VARCHAR)"),
    }
}

/// `[key as compared…, compared columns as compared…, every column…]`, sorted by key.
fn sorted_sql(table: &str, request: &DiffRequest) -> String {
    let keys: Vec<String> =
        request.key.iter().enumerate().map(|(i, k)| format!("{} AS {KEY}{i}", compared(k))).collect();
    let values: Vec<String> =
        request.compared.iter().enumerate().map(|(i, c)| format!("{} AS {VALUE}{i}", compared(c))).collect();
    let order: Vec<String> = (0..request.key.len()).map(|i| format!("{KEY}{i} ASC NULLS FIRST")).collect();
    let mut select = keys;
    select.extend(values);
    select.push(format!("{}.*", quoted(table)));
    format!("SELECT {} FROM {} ORDER BY {}", select.join(", "), quoted(table), order.join(", "))
}

fn encoding(e: ArrowError) -> QueryError {
    QueryError::Engine(format!("encoding values to compare them: {e}"))
}

/// One version's sorted rows, read batch by batch, with the encodings of the current batch's
/// keys and compared values.
struct Side {
    stream: SendableRecordBatchStream,
    keys: usize,
    compared: usize,
    label: String,
    key_encoder: RowConverter,
    value_encoders: Vec<RowConverter>,
    batch: Option<RecordBatch>,
    key_rows: Option<Rows>,
    value_rows: Vec<Rows>,
    row: usize,
    /// The version's own key columns (positions in the batch), for messages.
    key_columns: Vec<usize>,
    /// The previous row's key (when there was one), to find repeated keys.
    previous: Vec<u8>,
    has_previous: bool,
    /// Distinct key values met more than once, the first of them and how many rows it names.
    repeated: u64,
    first_repeated: Option<(String, u64)>,
    in_repeat: bool,
}

impl Side {
    fn new(stream: SendableRecordBatchStream, request: &DiffRequest, label: &str) -> Result<Self, QueryError> {
        let schema = stream.schema();
        let (keys, compared) = (request.key.len(), request.compared.len());
        let field = |i: usize| SortField::new(schema.field(i).data_type().clone());
        let own = keys + compared;
        let key_columns = request
            .key
            .iter()
            .map(|k| {
                schema.fields()[own..]
                    .iter()
                    .position(|f| f.name() == &k.name)
                    .map(|at| own + at)
                    .ok_or_else(|| QueryError::Invalid(format!("unknown column `{}`", k.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            key_columns,
            key_encoder: RowConverter::new((0..keys).map(field).collect()).map_err(encoding)?,
            value_encoders: (keys..keys + compared)
                .map(|i| RowConverter::new(vec![field(i)]))
                .collect::<Result<_, _>>()
                .map_err(encoding)?,
            stream,
            keys,
            compared,
            label: label.to_string(),
            batch: None,
            key_rows: None,
            value_rows: Vec::new(),
            row: 0,
            previous: Vec::new(),
            has_previous: false,
            repeated: 0,
            first_repeated: None,
            in_repeat: false,
        })
    }

    /// The next non-empty batch, encoded (none at the end).
    async fn load(&mut self) -> Result<(), QueryError> {
        self.batch = None;
        self.key_rows = None;
        while let Some(batch) = self.stream.next().await {
            let batch = batch.map_err(query_error)?;
            if batch.num_rows() == 0 {
                continue;
            }
            self.key_rows = Some(self.key_encoder.convert_columns(&batch.columns()[..self.keys]).map_err(encoding)?);
            self.value_rows = self
                .value_encoders
                .iter()
                .enumerate()
                .map(|(i, encoder)| encoder.convert_columns(&[Arc::clone(batch.column(self.keys + i))]))
                .collect::<Result<_, _>>()
                .map_err(encoding)?;
            self.batch = Some(batch);
            self.row = 0;
            break;
        }
        Ok(())
    }

    fn key(&self) -> Option<&[u8]> {
        self.key_rows.as_ref().map(|rows| rows.row(self.row).data())
    }

    fn value(&self, column: usize) -> &[u8] {
        self.value_rows[column].row(self.row).data()
    }

    fn batch(&self) -> &RecordBatch {
        self.batch.as_ref().expect("a current row")
    }

    /// The current row's cells of the batch columns `columns`, each a one-row array.
    fn cells(&self, columns: std::ops::Range<usize>) -> Vec<ArrayRef> {
        columns.map(|i| self.batch().column(i).slice(self.row, 1)).collect()
    }

    /// Offset of the version's own columns in the batch.
    fn own(&self) -> usize {
        self.keys + self.compared
    }

    /// Moves to the next row.
    async fn advance(&mut self) -> Result<(), QueryError> {
        self.row += 1;
        if self.key_rows.as_ref().is_some_and(|rows| self.row >= rows.num_rows()) {
            self.load().await?;
        }
        self.note_repeat();
        Ok(())
    }

    /// Notes whether the current row repeats the key of the row before it.
    fn note_repeat(&mut self) {
        let Some(key) = self.key_rows.as_ref().map(|rows| rows.row(self.row)) else { return };
        let same = self.has_previous && key.data() == self.previous.as_slice();
        if same && !self.in_repeat {
            self.repeated += 1;
            self.in_repeat = true;
            if self.repeated == 1 {
                self.first_repeated = Some((self.describe_key(), 2));
            }
        } else if same && self.repeated == 1 {
            if let Some((_, rows)) = self.first_repeated.as_mut() {
                *rows += 1;
            }
        } else if !same {
            self.in_repeat = false;
        }
        self.previous.clear();
        self.previous.extend_from_slice(key.data());
        self.has_previous = true;
    }

    /// `name = value, …` of the current row's key.
    fn describe_key(&self) -> String {
        let options = FormatOptions::default().with_null("null");
        let batch = self.batch();
        let schema = batch.schema();
        self.key_columns
            .iter()
            .map(|&i| {
                let value = ArrayFormatter::try_new(batch.column(i).as_ref(), &options)
                    .map(|f| f.value(self.row).to_string())
                    .unwrap_or_default();
                format!("{} = {value}", schema.field(i).name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn repeated_keys(&self, request: &DiffRequest) -> Option<QueryError> {
        let (example, rows) = self.first_repeated.clone()?;
        let names = request.key.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ");
        Some(QueryError::KeyNotUnique(format!(
            "the key ({names}) is not unique in {}: {} key value{} name more than one row, e.g. {example} ({rows} rows)",
            self.label,
            self.repeated,
            if self.repeated == 1 { "" } else { "s" },
        )))
    }
}

/// The counts and the first rows of each kind.
struct Tally {
    limit: usize,
    added: u64,
    removed: u64,
    changed: u64,
    unchanged: u64,
    changed_by_column: Vec<u64>,
    added_rows: Vec<RecordBatch>,
    removed_rows: Vec<RecordBatch>,
    changed_rows: Vec<RecordBatch>,
    changed_flags: Vec<Vec<bool>>,
    added_schema: SchemaRef,
    removed_schema: SchemaRef,
    changed_schema: SchemaRef,
    keys: usize,
    compared: usize,
    /// Where each compared column and each key column is among a version's own columns.
    compared_old: Vec<usize>,
    compared_new: Vec<usize>,
    key_old: Vec<usize>,
}

impl Tally {
    fn new(request: &DiffRequest, old: &Side, new: &Side) -> Result<Self, QueryError> {
        let own = |side: &Side| -> SchemaRef {
            let schema = side.stream.schema();
            let fields: Vec<Field> =
                schema.fields().iter().skip(side.own()).map(|f| f.as_ref().clone().with_nullable(true)).collect();
            Arc::new(Schema::new(fields))
        };
        let (old_schema, new_schema) = (own(old), own(new));
        let position = |schema: &Schema, name: &str| {
            schema.index_of(name).map_err(|_| QueryError::Invalid(format!("unknown column `{name}`")))
        };
        let positions = |schema: &Schema, columns: &[ComparedColumn]| {
            columns.iter().map(|c| position(schema, &c.name)).collect::<Result<Vec<_>, _>>()
        };
        let key_old = positions(&old_schema, &request.key)?;
        let compared_old = positions(&old_schema, &request.compared)?;
        let compared_new = positions(&new_schema, &request.compared)?;
        let mut changed_fields: Vec<Field> = key_old.iter().map(|&i| old_schema.field(i).clone()).collect();
        changed_fields.extend(compared_old.iter().map(|&i| old_schema.field(i).clone()));
        changed_fields.extend(compared_new.iter().map(|&i| new_schema.field(i).clone()));
        Ok(Self {
            limit: request.limit,
            added: 0,
            removed: 0,
            changed: 0,
            unchanged: 0,
            changed_by_column: vec![0; request.compared.len()],
            added_rows: Vec::new(),
            removed_rows: Vec::new(),
            changed_rows: Vec::new(),
            changed_flags: Vec::new(),
            added_schema: new_schema,
            removed_schema: old_schema,
            changed_schema: Arc::new(Schema::new(changed_fields)),
            keys: request.key.len(),
            compared: request.compared.len(),
            compared_old,
            compared_new,
            key_old,
        })
    }

    fn one_row(schema: &SchemaRef, cells: Vec<ArrayRef>) -> Result<RecordBatch, QueryError> {
        RecordBatch::try_new(Arc::clone(schema), cells).map_err(|e| QueryError::Engine(format!("a sample row: {e}")))
    }

    fn added(&mut self, new: &Side) -> Result<(), QueryError> {
        self.added += 1;
        if self.added_rows.len() < self.limit {
            let width = self.added_schema.fields().len();
            let row = Self::one_row(&self.added_schema, new.cells(new.own()..new.own() + width))?;
            self.added_rows.push(row);
        }
        Ok(())
    }

    fn removed(&mut self, old: &Side) -> Result<(), QueryError> {
        self.removed += 1;
        if self.removed_rows.len() < self.limit {
            let width = self.removed_schema.fields().len();
            let row = Self::one_row(&self.removed_schema, old.cells(old.own()..old.own() + width))?;
            self.removed_rows.push(row);
        }
        Ok(())
    }

    fn pair(&mut self, old: &Side, new: &Side) -> Result<(), QueryError> {
        let differs: Vec<bool> = (0..self.compared).map(|c| old.value(c) != new.value(c)).collect();
        if !differs.contains(&true) {
            self.unchanged += 1;
            return Ok(());
        }
        self.changed += 1;
        for (count, _) in self.changed_by_column.iter_mut().zip(&differs).filter(|(_, d)| **d) {
            *count += 1;
        }
        if self.changed_rows.len() < self.limit {
            let (o, n) = (old.own(), new.own());
            let mut cells: Vec<ArrayRef> = self.key_old.iter().flat_map(|&i| old.cells(o + i..o + i + 1)).collect();
            cells.extend(self.compared_old.iter().flat_map(|&i| old.cells(o + i..o + i + 1)));
            cells.extend(self.compared_new.iter().flat_map(|&i| new.cells(n + i..n + i + 1)));
            self.changed_rows.push(Self::one_row(&self.changed_schema, cells)?);
            self.changed_flags.push(differs);
        }
        Ok(())
    }

    fn finish(self) -> Result<RowDiff, QueryError> {
        let concat = |schema: &SchemaRef, rows: &[RecordBatch]| {
            concat_batches(schema, rows).map_err(|e| QueryError::Engine(format!("the sample rows: {e}")))
        };
        let changed = concat(&self.changed_schema, &self.changed_rows)?;
        let (keys, compared) = (self.keys, self.compared);
        let part = |from: usize, to: usize| {
            changed
                .project(&(from..to).collect::<Vec<_>>())
                .map_err(|e| QueryError::Engine(format!("the changed rows: {e}")))
        };
        Ok(RowDiff {
            added: self.added,
            removed: self.removed,
            changed: self.changed,
            unchanged: self.unchanged,
            changed_by_column: self.changed_by_column,
            added_rows: concat(&self.added_schema, &self.added_rows)?,
            removed_rows: concat(&self.removed_schema, &self.removed_rows)?,
            changed_rows: ChangedRows {
                keys: part(0, keys)?,
                before: part(keys, keys + compared)?,
                after: part(keys + compared, keys + 2 * compared)?,
                changed: self.changed_flags,
            },
        })
    }
}
