//! Statistics of a version (`/analyze`): computed once per version (versions are immutable),
//! in the background after upload or on first request, then served from the metadata store.
//! Concurrent first requests in one process share one computation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use futures_util::{StreamExt, TryStreamExt};

use crate::app::errors::ErrorChain;
use crate::app::{App, AppError};
use crate::domain::access::Principal;
use crate::domain::dtype::DType;
use crate::domain::ids::{DatasetId, VersionId};
use crate::domain::quality::DuplicateRows;
use crate::domain::records::Version;
use crate::domain::statistics::{
    ColumnStats, ColumnValues, Correlations, DatasetStatistics, MAX_CORRELATION_COLUMNS, TopValueRecovery,
    layout_bytes, memory_usage_mb,
};
use crate::domain::version_ref::VersionRef;
use crate::ports::tables::BatchStream;

/// Values held in memory by one pass of the per-column statistics.
const CELLS_PER_PASS: u64 = 4 << 20;

/// Per-version locks of computations in progress.
#[derive(Default)]
pub struct Inflight {
    locks: Mutex<HashMap<VersionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Inflight {
    fn lock_for(&self, version: VersionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(locks.entry(version).or_default())
    }

    fn release(&self, version: VersionId) {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if locks.get(&version).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(&version);
        }
    }
}

impl App {
    /// The statistics of the version `which` names.
    pub async fn analyze(
        &self,
        principal: &Principal,
        id: DatasetId,
        which: &VersionRef,
    ) -> Result<DatasetStatistics, AppError> {
        let (_, version) = self.dataset_version(principal, id, which).await?;
        match self.statistics_of(&version).await {
            // Reading the files failed: if the dataset was deleted meanwhile, say so.
            Err(e) if !matches!(e, AppError::NotFound(_)) && self.metadata.find_dataset(id).await?.is_none() => {
                tracing::debug!(error = %ErrorChain(&e), "statistics of a dataset deleted meanwhile");
                Err(AppError::NotFound("dataset"))
            }
            other => other,
        }
    }

    /// Cached statistics, or computes and records them (once per version per process).
    pub async fn statistics_of(&self, version: &Version) -> Result<DatasetStatistics, AppError> {
        let id = version.summary.id;
        if let Some(found) = self.metadata.find_statistics(id).await? {
            self.telemetry.analyzed(true);
            return Ok(found);
        }
        let lock = self.inflight.lock_for(id);
        let result = async {
            let _guard = lock.lock().await;
            if let Some(found) = self.metadata.find_statistics(id).await? {
                return Ok(found);
            }
            let stats = self.compute_statistics(version).await?;
            self.telemetry.analyzed(false);
            self.metadata.save_statistics(id, &stats, self.clock.now()).await?;
            Ok(stats)
        }
        .await;
        drop(lock);
        self.inflight.release(id);
        result
    }

    /// Starts computing a new version's statistics in the background.
    pub(crate) fn precompute_statistics(&self, version: VersionId) {
        let app = self.clone();
        tokio::spawn(async move {
            let found = match app.metadata.find_version(version).await {
                Ok(Some(v)) => v,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(%version, error = %ErrorChain(&e), "cannot load a version to precompute its statistics");
                    return;
                }
            };
            if let Err(e) = app.statistics_of(&found).await {
                tracing::warn!(%version, error = %ErrorChain(&e), "precomputing statistics failed; they will be computed on request");
            }
        });
    }

    /// Computes a version's statistics from its stored file, without the cache (what
    /// [`statistics_of`](Self::statistics_of) does on a miss).
    pub async fn compute_statistics(&self, version: &Version) -> Result<DatasetStatistics, AppError> {
        let key = &version.normalized.storage_key;
        let columns = &version.columns;
        let rows = version.summary.row_count;

        // Correlations (Pearson) of the numeric columns, over whole rows.
        let numeric: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].dtype.is_numeric()).collect();
        let mut error = None;
        let correlations = if numeric.len() <= MAX_CORRELATION_COLUMNS {
            Some(Correlations::new(numeric.iter().map(|&i| columns[i].name.clone()).collect()))
        } else {
            error = Some(format!(
                "correlations were not computed: the dataset has {} numeric columns, more than {MAX_CORRELATION_COLUMNS}",
                numeric.len()
            ));
            None
        };
        // The duplicate count is the quality report's when it recorded it (same definition);
        // then the pass over whole rows reads only the numeric columns, for the correlations.
        // (Collecting the numeric columns' values in that read too, so that they are read
        // once, made /analyze ~0.1 s faster on the 500 MB benchmark but held every numeric
        // column at once: ~100 MB more at the peak, too close to the large-upload test's
        // bound. Not done.)
        let known_duplicates = version.quality.duplicate_rows;
        let projection = known_duplicates.map(|_| numeric.clone());
        let row_numeric = if projection.is_some() { (0..numeric.len()).collect() } else { numeric.clone() };
        let first = WholeTable {
            duplicates: known_duplicates.is_none().then(DuplicateRows::default),
            correlations,
            numeric: row_numeric,
        };
        let needs_row_pass = known_duplicates.is_none() || (first.correlations.is_some() && !numeric.is_empty());
        let text_columns = columns.iter().filter(|c| c.dtype.is_text()).count() as u64;

        // The pass over whole rows runs beside the per-column passes, which take a few columns
        // at a time (one for long tables) so that each holds at most about CELLS_PER_PASS
        // values; as many column passes run at once as there are cores.
        let started = std::time::Instant::now();
        let whole_table = async {
            if !needs_row_pass {
                return Ok(first);
            }
            let done = drain(self.tables.batches(key, projection).await?, first, WholeTable::observe).await;
            tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "statistics: the pass over whole rows");
            done
        };
        let per_pass = (CELLS_PER_PASS / rows.max(1)).clamp(1, columns.len().max(1) as u64) as usize;
        let indices: Vec<usize> = (0..columns.len()).collect();
        let parallel = crate::ports::system::worker_threads();
        // The costliest groups start first (free text needs a second pass), so that no long
        // group is left to run alone at the end; results are put back in column order.
        let mut groups: Vec<Vec<usize>> = indices.chunks(per_pass).map(<[usize]>::to_vec).collect();
        let cost = |group: &Vec<usize>| -> u32 {
            group
                .iter()
                .map(|&i| match columns[i].dtype {
                    DType::Object => 4,
                    DType::Category => 2,
                    DType::Bool => 0,
                    _ => 1,
                })
                .sum()
        };
        groups.sort_by_key(|g| std::cmp::Reverse(cost(g)));
        let jobs: Vec<_> = groups.iter().map(|group| self.group_statistics(version, group.clone())).collect();
        let per_column = futures_util::stream::iter(jobs).buffered(parallel).try_collect::<Vec<_>>();
        let (first, results) = futures_util::try_join!(whole_table, per_column)?;
        // Every column's statistics are put back in column order by its own index.
        let mut by_column: Vec<(usize, (ColumnStats, u64))> = Vec::with_capacity(columns.len());
        for (group, stats) in groups.iter().zip(results) {
            by_column.extend(group.iter().copied().zip(stats));
        }
        by_column.sort_by_key(|&(column, _)| column);
        let (column_stats, layouts): (Vec<ColumnStats>, Vec<u64>) = by_column.into_iter().map(|(_, s)| s).unzip();
        let value_bytes = layouts.iter().sum::<u64>();
        Ok(DatasetStatistics {
            columns: column_stats,
            row_count: rows,
            duplicate_rows: first.duplicates.map_or(known_duplicates.unwrap_or(0), |d| d.count()),
            memory_usage: memory_usage_mb(value_bytes, rows, columns.len() as u64, text_columns),
            correlations: first.correlations.map(Correlations::finish).unwrap_or_default(),
            error,
        })
    }
}

impl App {
    /// The statistics of the columns `group` of a version, in one pass over them (and a
    /// second over each text column, to recover the text of its most frequent values).
    /// Each column's statistics comes with its size in Arrow's layout (for `memory_usage`).
    async fn group_statistics(
        &self,
        version: &Version,
        group: Vec<usize>,
    ) -> Result<Vec<(ColumnStats, u64)>, AppError> {
        let key = &version.normalized.storage_key;
        let started = std::time::Instant::now();
        let stream = self.tables.batches_with_dictionaries(key, Some(group.clone())).await?;
        let collected =
            drain(stream, ColumnGroup::new(group.len(), version.summary.row_count), ColumnGroup::observe).await?;
        let read_ms = started.elapsed().as_millis() as u64;
        // The columns of a group are finished (sorted, summarized) as many at a time as there
        // are cores, in column order.
        let parallel = crate::ports::system::worker_threads();
        let finishing: Vec<_> =
            group.iter().zip(collected.columns).map(|(&i, one)| self.finish_column(version, i, one)).collect();
        let column_stats: Vec<(ColumnStats, u64)> =
            futures_util::stream::iter(finishing).buffered(parallel).try_collect().await?;
        tracing::debug!(
            ?group,
            read_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "statistics: a group of columns"
        );
        Ok(column_stats)
    }
}

impl App {
    /// One column's statistics from what its read collected, with its layout size.
    async fn finish_column(&self, version: &Version, i: usize, one: OneColumn) -> Result<(ColumnStats, u64), AppError> {
        let key = &version.normalized.storage_key;
        let (columns, rows) = (&version.columns, version.summary.row_count);
        let (name, dtype) = (columns[i].name.clone(), columns[i].dtype);
        let stats = match one.values {
            Some(ColumnValues::TextHashes(tally)) => {
                let t = std::time::Instant::now();
                let counts = run_blocking(move || tally.into_counts()).await?;
                let counted_ms = t.elapsed().as_millis() as u64;
                let unique = counts.distinct();
                // Text is counted by hash. The texts remembered while counting usually name
                // the top values; else a second pass over the column recovers them.
                let (top, reread) = match counts.known_top_values() {
                    Some(top) => (top, false),
                    None => {
                        let stream = self.tables.batches(key, Some(vec![i])).await?;
                        let recovery =
                            drain(stream, TopValueRecovery::new(counts), |r, b| r.observe(b.column(0))).await?;
                        (recovery.finish(), true)
                    }
                };
                tracing::debug!(
                    column = i,
                    counted_ms,
                    reread,
                    named_ms = t.elapsed().as_millis() as u64 - counted_ms,
                    "statistics: top values by hash"
                );
                let mut stats = ColumnValues::Text(Default::default()).finish(name, dtype, rows, one.missing);
                stats.unique = unique;
                stats.top_values = Some(top);
                stats
            }
            Some(values) => run_blocking(move || values.finish(name, dtype, rows, one.missing)).await?,
            None => ColumnValues::for_type(&DataType::Utf8).finish(name, dtype, rows, one.missing),
        };
        Ok((stats, one.layout_bytes))
    }
}

/// What the pass over whole rows accumulates.
struct WholeTable {
    /// `None` when the count is already known.
    duplicates: Option<DuplicateRows>,
    correlations: Option<Correlations>,
    /// Positions of the numeric columns in the batches read.
    numeric: Vec<usize>,
}

impl WholeTable {
    fn observe(&mut self, batch: &RecordBatch) {
        if let Some(d) = self.duplicates.as_mut() {
            d.observe(batch);
        }
        if let Some(c) = self.correlations.as_mut() {
            let numeric: Vec<_> = self.numeric.iter().map(|&i| Arc::clone(batch.column(i))).collect();
            c.observe(&numeric);
        }
    }
}

impl App {
    /// Every non-missing value of column `index` of a stored table, and its missing count.
    pub(crate) async fn read_column(&self, key: &str, index: usize) -> Result<(Option<ColumnValues>, u64), AppError> {
        let stream = self.tables.batches(key, Some(vec![index])).await?;
        let one = drain(stream, OneColumn::default(), OneColumn::observe).await?;
        Ok((one.values, one.missing))
    }
}

/// What a pass over a group of columns accumulates, one entry per column.
struct ColumnGroup {
    columns: Vec<OneColumn>,
    /// The table's row count: value vectors are sized for it at once.
    rows: usize,
}

impl ColumnGroup {
    /// For `columns` columns of `rows` rows.
    fn new(columns: usize, rows: u64) -> Self {
        Self { columns: (0..columns).map(|_| OneColumn::default()).collect(), rows: rows as usize }
    }

    fn observe(&mut self, batch: &RecordBatch) {
        let rows = self.rows;
        for (k, one) in self.columns.iter_mut().enumerate() {
            let chunk = batch.column(k);
            let values = one.values.get_or_insert_with(|| {
                let mut values = ColumnValues::for_type_hashed(chunk.data_type());
                values.reserve_exact(rows);
                values
            });
            one.missing += values.observe(chunk);
            one.layout_bytes += layout_bytes(chunk);
        }
    }
}

/// What the pass over one column accumulates.
#[derive(Default)]
struct OneColumn {
    values: Option<ColumnValues>,
    missing: u64,
    layout_bytes: u64,
}

impl OneColumn {
    fn observe(&mut self, batch: &RecordBatch) {
        let chunk = batch.column(0);
        let values = self.values.get_or_insert_with(|| ColumnValues::for_type(chunk.data_type()));
        self.missing += values.observe(chunk);
    }
}

/// Runs a CPU-bound computation on a blocking thread.
pub(crate) async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| AppError::internal_caused_by("a statistics task failed", e))
}

/// Feeds every batch of `stream` to `observe` on a blocking thread (the work is CPU-bound)
/// and returns the final state.
pub(crate) async fn drain<S: Send + 'static>(
    mut stream: BatchStream,
    mut state: S,
    observe: fn(&mut S, &RecordBatch),
) -> Result<S, AppError> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        while let Some(batch) = handle.block_on(stream.next()) {
            observe(&mut state, &batch?);
        }
        Ok(state)
    })
    .await
    .map_err(|e| AppError::internal_caused_by("a statistics task failed", e))?
}
