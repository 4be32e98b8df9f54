//! Comparing two versions of a dataset: schema changes and drift (definitions in
//! `domain::drift` and docs/compare.md).

use std::collections::HashMap;

use arrow::array::RecordBatch;
use futures_util::StreamExt;

use crate::app::analysis::{drain, run_blocking};
use crate::app::{App, AppError};
use crate::domain::access::Principal;
use crate::domain::drift::hashed_categories::{HashedCategories, Side};
use crate::domain::drift::rule::{ColumnDrift, DriftOptions, Sample, column_drift, paired_column_drift};
use crate::domain::drift::{CategoricalDrift, CategoryChange, ShiftLevel, mean_shift_pct, sorted_numeric_psi};
use crate::domain::dtype::DType;
use crate::domain::ids::DatasetId;
use crate::domain::records::Version;
use crate::domain::schema_changes::{SchemaChange, schema_changes};
use crate::domain::statistics::{ColumnStats, ColumnValues, HashCounts, HashTally};
use crate::domain::version_ref::VersionRef;

/// Entries of the category lists and of `top_changes`.
pub const CATEGORY_LIST_LIMIT: usize = 20;

/// The default `drift_share`: the dataset drifted when half its compared columns did.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// What a comparison is asked to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    pub drift: DriftOptions,
    /// The share of drifted columns at and above which the dataset drifted (0–1).
    pub drift_share: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self { drift: DriftOptions::default(), drift_share: DEFAULT_DRIFT_SHARE }
    }
}

/// The dataset's verdict: which columns drifted, out of how many with a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetDrift {
    /// Names of the drifted columns, in v2's order.
    pub drifted_columns: Vec<String>,
    /// Columns with a verdict (present in both versions, comparable, with values in both).
    pub compared_columns: u64,
    /// drifted / compared (0 when none was compared).
    pub drift_share: f64,
    /// `drift_share ≥` the asked share (false when no column was compared).
    pub dataset_drift: bool,
}

impl DatasetDrift {
    fn of(columns: &[(String, ColumnDiff, ColumnDrift)], threshold: f64) -> Self {
        let decided: Vec<(&String, bool)> =
            columns.iter().filter_map(|(name, _, d)| d.verdict.map(|v| (name, v.drift_detected))).collect();
        let drifted_columns: Vec<String> = decided.iter().filter(|(_, d)| *d).map(|(n, _)| (*n).clone()).collect();
        let compared_columns = decided.len() as u64;
        let drift_share =
            if compared_columns == 0 { 0.0 } else { drifted_columns.len() as f64 / compared_columns as f64 };
        Self {
            drifted_columns,
            compared_columns,
            drift_share,
            dataset_drift: compared_columns > 0 && drift_share >= threshold,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeChange {
    pub name: String,
    pub from: DType,
    pub to: DType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnDiff {
    Numeric {
        v1_mean: Option<f64>,
        v2_mean: Option<f64>,
        v1_std: Option<f64>,
        v2_std: Option<f64>,
        missing_v1: f64,
        missing_v2: f64,
        mean_shift_pct: Option<f64>,
        psi: Option<f64>,
    },
    Categorical {
        missing_v1: f64,
        missing_v2: f64,
        categories_added: Vec<String>,
        categories_added_count: u64,
        categories_removed: Vec<String>,
        categories_removed_count: u64,
        top_changes: Vec<CategoryChange>,
        psi: Option<f64>,
    },
    Datetime {
        v1_min: Option<String>,
        v1_max: Option<String>,
        v2_min: Option<String>,
        v2_max: Option<String>,
        missing_v1: f64,
        missing_v2: f64,
    },
    /// The column changed between type families (e.g. int64 → object): no distribution is
    /// compared.
    TypeChanged { from: DType, to: DType, missing_v1: f64, missing_v2: f64 },
}

impl ColumnDiff {
    pub fn shift_level(psi: Option<f64>) -> Option<ShiftLevel> {
        psi.map(ShiftLevel::of)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub v1: i64,
    pub v2: i64,
    pub v1_rows: u64,
    pub v2_rows: u64,
    pub v1_columns: u64,
    pub v2_columns: u64,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub columns_type_changed: Vec<TypeChange>,
    /// Every change of the schema (docs/compare.md).
    pub schema_changes: Vec<SchemaChange>,
    /// Every column present in both versions, in v2's column order, with its drift.
    pub column_diffs: Vec<(String, ColumnDiff, ColumnDrift)>,
    pub dataset_drift: DatasetDrift,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Numeric,
    Text,
    Bool,
    Datetime,
}

fn family(d: DType) -> Family {
    match d {
        DType::Int64 | DType::Float64 => Family::Numeric,
        DType::Datetime64 => Family::Datetime,
        DType::Object | DType::Category => Family::Text,
        DType::Bool => Family::Bool,
    }
}

/// The working memory that the columns compared at once may be estimated to hold together.
/// A column estimated above it runs with only [small](SMALL_COLUMN_BYTES) columns beside it.
/// With the benchmark's two 500 MB versions, this lets a numeric column run beside `device_id`
/// (3.6 million distinct values a version, estimated 218 MiB): a fresh server's `/compare`
/// peaks at 361–395 MiB (BENCHMARKS.md, session 13), where 256 MiB kept the other core on
/// small columns only, then idle, for part of `device_id`'s second.
const COMPARE_MEMORY_BUDGET: u64 = 384 << 20;

/// A column estimated at most this much runs beside any other.
const SMALL_COLUMN_BYTES: u64 = 16 << 20;

/// A column's estimated working memory in `/compare` (a scheduling estimate, not a bound):
/// numbers and datetimes hold both versions' non-missing values as `f64` while they are read
/// and sorted (about 16 bytes a value); text and bool hold, per distinct value of each version,
/// its hash and count in the sorted list and its share of the paired counts (about 32 bytes a
/// distinct value); a type change reads nothing.
fn working_memory(a: &ColumnStats, b: &ColumnStats, rows: (u64, u64)) -> u64 {
    let values = |s: &ColumnStats, rows: u64| rows.saturating_sub(s.missing);
    match (family(a.dtype), family(b.dtype)) {
        (Family::Numeric, Family::Numeric) | (Family::Datetime, Family::Datetime) => {
            (values(a, rows.0) + values(b, rows.1)).saturating_mul(16)
        }
        (Family::Text, Family::Text) | (Family::Bool, Family::Bool) => (a.unique + b.unique).saturating_mul(32),
        _ => 0,
    }
}

/// Which columns to start now: from `pending` (heaviest first), those that fit beside the
/// `running` ones — while fewer than `workers` run, a column starts when its estimate fits in
/// what the running ones leave of `budget`, or is small, or nothing runs (so every column
/// runs, a large one alone with small ones). Returns the indices into `pending` to start.
fn columns_to_start(pending: &[u64], running: &[u64], workers: usize, budget: u64) -> Vec<usize> {
    let mut in_use: u64 = running.iter().sum();
    let mut count = running.len();
    let mut start = Vec::new();
    for (k, &cost) in pending.iter().enumerate() {
        if count >= workers {
            break;
        }
        if count == 0 || cost <= SMALL_COLUMN_BYTES || in_use.saturating_add(cost) <= budget {
            start.push(k);
            in_use = in_use.saturating_add(cost);
            count += 1;
        }
    }
    start
}

/// Numbers, or timestamps as their microseconds (the drift tests compare them as numbers).
fn floats(values: Option<ColumnValues>) -> Vec<f64> {
    match values {
        Some(ColumnValues::Int(v)) => v.into_iter().map(|x| x as f64).collect(),
        Some(ColumnValues::Float(v)) => v,
        Some(ColumnValues::Time { micros, .. }) => micros.into_iter().map(|x| x as f64).collect(),
        _ => Vec::new(),
    }
}

fn schema_of(v: &Version) -> Vec<(&str, DType)> {
    v.columns.iter().map(|c| (c.name.as_str(), c.dtype)).collect()
}

impl App {
    pub async fn compare(
        &self,
        principal: &Principal,
        id: DatasetId,
        v1: &VersionRef,
        v2: &VersionRef,
        options: &CompareOptions,
    ) -> Result<Comparison, AppError> {
        let (_, first) = self.dataset_version(principal, id, v1).await?;
        let (_, second) = self.dataset_version(principal, id, v2).await?;
        self.compare_versions(&first, &second, options).await
    }

    /// [`Self::compare`] of two versions already found (and their reader allowed).
    pub(crate) async fn compare_versions(
        &self,
        first: &Version,
        second: &Version,
        options: &CompareOptions,
    ) -> Result<Comparison, AppError> {
        let (v1, v2) = (first.summary.version, second.summary.version);
        let (s1, s2) = (self.statistics_of(&first).await?, self.statistics_of(&second).await?);
        let stats1: HashMap<&str, &ColumnStats> = s1.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let stats2: HashMap<&str, &ColumnStats> = s2.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let index1: HashMap<&str, usize> =
            first.columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();

        let columns_added =
            second.columns.iter().filter(|c| !index1.contains_key(c.name.as_str())).map(|c| c.name.clone()).collect();
        let names2: std::collections::HashSet<&str> = second.columns.iter().map(|c| c.name.as_str()).collect();
        let columns_removed =
            first.columns.iter().filter(|c| !names2.contains(c.name.as_str())).map(|c| c.name.clone()).collect();
        let mut columns_type_changed = Vec::new();
        let mut compared = Vec::new();
        for (j, column) in second.columns.iter().enumerate() {
            let Some(&i) = index1.get(column.name.as_str()) else { continue };
            let (from, to) = (first.columns[i].dtype, column.dtype);
            if from != to {
                columns_type_changed.push(TypeChange { name: column.name.clone(), from, to });
            }
            let (Some(&a), Some(&b)) = (stats1.get(column.name.as_str()), stats2.get(column.name.as_str())) else {
                return Err(AppError::internal(format!("statistics lack column {}", column.name)));
            };
            compared.push((column.name.as_str(), (i, j), (a, b)));
        }
        // Columns are compared as many at a time as there are cores (each column's reads and
        // tests run on blocking threads), heaviest first, and only as many as fit in the memory
        // budget by their estimates (`columns_to_start`); results are kept in v2's column order.
        let rows = (first.summary.row_count, second.summary.row_count);
        let costs: Vec<u64> = compared.iter().map(|(_, _, (a, b))| working_memory(a, b, rows)).collect();
        let mut pending: Vec<usize> = (0..compared.len()).collect();
        pending.sort_by_key(|&k| std::cmp::Reverse(costs[k]));
        let workers = crate::ports::system::worker_threads();
        let mut running = futures_util::stream::FuturesUnordered::new();
        let mut running_costs: Vec<(usize, u64)> = Vec::new();
        let mut done: Vec<Option<(String, ColumnDiff, ColumnDrift)>> = (0..compared.len()).map(|_| None).collect();
        loop {
            let pending_costs: Vec<u64> = pending.iter().map(|&k| costs[k]).collect();
            let now_running: Vec<u64> = running_costs.iter().map(|&(_, c)| c).collect();
            for at in columns_to_start(&pending_costs, &now_running, workers, COMPARE_MEMORY_BUDGET).into_iter().rev() {
                let k = pending.remove(at);
                running_costs.push((k, costs[k]));
                let (name, positions, stats) = compared[k];
                let drift = &options.drift;
                running.push(async move {
                    (k, self.named_column_diff(name, (&first, &second), positions, stats, drift).await)
                });
            }
            let Some((k, result)) = running.next().await else { break };
            running_costs.retain(|&(r, _)| r != k);
            done[k] = Some(result?);
        }
        let column_diffs: Vec<(String, ColumnDiff, ColumnDrift)> = done.into_iter().flatten().collect();
        let schema_changes = schema_changes(&schema_of(&first), &schema_of(&second));
        let dataset_drift = DatasetDrift::of(&column_diffs, options.drift_share);
        Ok(Comparison {
            v1,
            v2,
            v1_rows: first.summary.row_count,
            v2_rows: second.summary.row_count,
            v1_columns: first.summary.column_count,
            v2_columns: second.summary.column_count,
            columns_added,
            columns_removed,
            columns_type_changed,
            schema_changes,
            column_diffs,
            dataset_drift,
        })
    }

    /// [`Self::column_diff`] with the column's name, timed in the debug log.
    async fn named_column_diff(
        &self,
        name: &str,
        (first, second): (&Version, &Version),
        at: (usize, usize),
        stats: (&ColumnStats, &ColumnStats),
        drift: &DriftOptions,
    ) -> Result<(String, ColumnDiff, ColumnDrift), AppError> {
        let started = std::time::Instant::now();
        let (diff, drift) = self.column_diff(first, second, at, stats, drift).await?;
        tracing::debug!(column = %name, ms = started.elapsed().as_millis() as u64, "compare: a column");
        Ok((name.to_string(), diff, drift))
    }

    async fn column_diff(
        &self,
        first: &Version,
        second: &Version,
        (i, j): (usize, usize),
        (a, b): (&ColumnStats, &ColumnStats),
        drift: &DriftOptions,
    ) -> Result<(ColumnDiff, ColumnDrift), AppError> {
        let (missing_v1, missing_v2) = (a.missing_percent, b.missing_percent);
        let (k1, k2) = (&first.normalized.storage_key, &second.normalized.storage_key);
        let no_verdict = || column_drift(&Sample::Numbers(Vec::new()), &Sample::Numbers(Vec::new()), drift);
        let drift = drift.clone();
        Ok(match (family(a.dtype), family(b.dtype)) {
            (Family::Numeric, Family::Numeric) => {
                let (n1, n2) = (a.numeric.clone().unwrap_or_default(), b.numeric.clone().unwrap_or_default());
                let (x, y) = futures_util::try_join!(self.read_column(k1, i), self.read_column(k2, j))?;
                let (psi, drift) = run_blocking(move || {
                    let (s1, s2) = (Sample::numbers(floats(x.0)), Sample::numbers(floats(y.0)));
                    let psi = match (&s1, &s2) {
                        (Sample::Numbers(x), Sample::Numbers(y)) => sorted_numeric_psi(x, y),
                        _ => None,
                    };
                    (psi, column_drift(&s1, &s2, &drift))
                })
                .await?;
                let diff = ColumnDiff::Numeric {
                    v1_mean: n1.mean,
                    v2_mean: n2.mean,
                    v1_std: n1.std,
                    v2_std: n2.std,
                    missing_v1,
                    missing_v2,
                    mean_shift_pct: mean_shift_pct(n1.mean, n2.mean),
                    psi,
                };
                (diff, drift)
            }
            (Family::Text, Family::Text) | (Family::Bool, Family::Bool) => {
                let (d, drift) = self.categorical_diff((k1, i), (k2, j), drift).await?;
                let diff = ColumnDiff::Categorical {
                    missing_v1,
                    missing_v2,
                    categories_added: d.added,
                    categories_added_count: d.added_count,
                    categories_removed: d.removed,
                    categories_removed_count: d.removed_count,
                    top_changes: d.top_changes,
                    psi: d.psi,
                };
                (diff, drift)
            }
            (Family::Datetime, Family::Datetime) => {
                let (x, y) = futures_util::try_join!(self.read_column(k1, i), self.read_column(k2, j))?;
                let drift = run_blocking(move || {
                    column_drift(&Sample::numbers(floats(x.0)), &Sample::numbers(floats(y.0)), &drift)
                })
                .await?;
                let diff = ColumnDiff::Datetime {
                    v1_min: a.temporal.as_ref().map(|t| t.min.clone()),
                    v1_max: a.temporal.as_ref().map(|t| t.max.clone()),
                    v2_min: b.temporal.as_ref().map(|t| t.min.clone()),
                    v2_max: b.temporal.as_ref().map(|t| t.max.clone()),
                    missing_v1,
                    missing_v2,
                };
                (diff, drift)
            }
            _ => (ColumnDiff::TypeChanged { from: a.dtype, to: b.dtype, missing_v1, missing_v2 }, no_verdict()),
        })
    }

    /// The category changes and drift of a text or bool column: both versions counted by
    /// value hash, then read again only where the values the lists name were not remembered
    /// (`domain::drift::hashed_categories`).
    async fn categorical_diff(
        &self,
        (k1, i): (&str, usize),
        (k2, j): (&str, usize),
        drift: DriftOptions,
    ) -> Result<(CategoricalDrift, ColumnDrift), AppError> {
        let started = std::time::Instant::now();
        let (c1, c2) = futures_util::try_join!(self.hash_counts(k1, i), self.hash_counts(k2, j))?;
        let counted_ms = started.elapsed().as_millis() as u64;
        let mut pair = run_blocking(move || HashedCategories::new(c1, c2, CATEGORY_LIST_LIMIT)).await?;
        let paired_ms = started.elapsed().as_millis() as u64;
        let mut reread = Vec::new();
        for (side, key, index) in [(Side::V1, k1, i), (Side::V2, k2, j)] {
            if pair.needs_reading(side) {
                let stream = self.tables.batches_with_dictionaries(key, Some(vec![index])).await?;
                let read = drain(stream, NameRead { pair, side }, NameRead::observe).await?;
                pair = read.pair;
                pair.read_finished(side);
                reread.push(side);
            }
        }
        tracing::debug!(
            counted_ms,
            paired_ms,
            ?reread,
            named_ms = started.elapsed().as_millis() as u64,
            "compare: categories by hash"
        );
        run_blocking(move || {
            let (d, paired) = pair.finish().map_err(|e| AppError::internal_caused_by("compare: category lists", e))?;
            Ok((d, paired_column_drift(paired, &drift)))
        })
        .await?
    }

    /// A text or bool column's counts by value hash.
    async fn hash_counts(&self, key: &str, index: usize) -> Result<HashCounts, AppError> {
        let stream = self.tables.batches_with_dictionaries(key, Some(vec![index])).await?;
        let tally = drain(stream, HashTallyRead::default(), HashTallyRead::observe).await?;
        let counts = run_blocking(move || tally.values.and_then(ColumnValues::into_hash_counts)).await?;
        Ok(counts.unwrap_or_else(|| HashTally::default().into_counts()))
    }
}

/// The pass that counts a text or bool column by value hash.
#[derive(Default)]
struct HashTallyRead {
    values: Option<ColumnValues>,
}

impl HashTallyRead {
    fn observe(&mut self, batch: &RecordBatch) {
        let chunk = batch.column(0);
        self.values.get_or_insert_with(|| ColumnValues::for_type_hashed(chunk.data_type())).observe(chunk);
    }
}

/// The second read of a column, naming the values of its category lists.
struct NameRead {
    pair: HashedCategories,
    side: Side,
}

impl NameRead {
    fn observe(&mut self, batch: &RecordBatch) {
        self.pair.observe_column(self.side, batch.column(0));
    }
}

#[cfg(test)]
mod tests {
    use super::{SMALL_COLUMN_BYTES as SMALL, columns_to_start};

    const MIB: u64 = 1 << 20;
    const BUDGET: u64 = 256 * MIB;

    #[test]
    fn a_column_over_the_budget_runs_with_small_columns_only() {
        // Heaviest first: 460 MiB (over the budget), 110, 110, 5, 1.
        let pending = [460 * MIB, 110 * MIB, 110 * MIB, 5 * MIB, MIB];
        assert_eq!(columns_to_start(&pending, &[], 2, BUDGET), vec![0, 3]);
        assert_eq!(columns_to_start(&pending[1..], &[460 * MIB], 2, BUDGET), vec![2], "only a small one beside it");
    }

    #[test]
    fn columns_that_fit_together_run_together_up_to_the_workers() {
        let pending = [110 * MIB, 110 * MIB, 50 * MIB];
        assert_eq!(columns_to_start(&pending, &[], 2, BUDGET), vec![0, 1]);
        assert_eq!(columns_to_start(&pending, &[], 3, BUDGET), vec![0, 1], "the third would pass the budget");
        assert!(columns_to_start(&pending[2..], &[110 * MIB, 110 * MIB], 3, BUDGET).is_empty());
        assert_eq!(columns_to_start(&pending[2..], &[110 * MIB], 3, BUDGET), vec![0], "once one has finished");
    }

    #[test]
    fn nothing_starts_while_every_worker_is_busy_and_something_always_starts_on_idle() {
        assert!(columns_to_start(&[MIB], &[MIB, MIB], 2, BUDGET).is_empty());
        assert_eq!(columns_to_start(&[u64::MAX], &[], 2, BUDGET), vec![0]);
        assert_eq!(columns_to_start(&[SMALL, SMALL], &[u64::MAX], 2, BUDGET), vec![0]);
    }
}
