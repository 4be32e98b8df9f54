//! The data-quality report computed during upload and stored with each version.
//!
//! Checks (definitions also in `docs/quality.md`):
//!
//! | check | passes when | component score |
//! |---|---|---|
//! | `missing_values` | no column has more than 5% missing cells | 1 − missing cells / all cells |
//! | `duplicate_rows` | at most 1% of the rows repeat an earlier row | 1 − duplicate rows / rows |
//! | `constant_columns` | no column has exactly one distinct non-missing value (checked from 2 rows on) | 1 − constant columns / columns |
//! | `empty_columns` | no column is entirely missing | 1 − empty columns / columns |
//! | `mixed_types` | no text column has at least half its values fitting one non-text type | 1 − values that do not fit / all cells |
//! | `high_cardinality` | no text column has more than 50 distinct values making up at least half its values | 1 − such columns / columns |
//! | `outliers` | no numeric column has more than 5% of its values outside the Tukey fences | 1 − outliers / numeric values |
//!
//! `overall_score` = 100 × the weighted sum of the components ([`WEIGHTS`]), rounded to one
//! decimal: 100 for a clean table.

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;

use crate::domain::inference::MixedColumn;
use crate::domain::row_hash::{DistinctEstimate, fold_cells};

/// Largest share of missing cells in any column for `missing_values` to pass.
pub const MAX_MISSING_FRACTION: f64 = 0.05;
/// Largest share of duplicate rows for `duplicate_rows` to pass.
pub const MAX_DUPLICATE_FRACTION: f64 = 0.01;
/// Largest share of outliers in a numeric column for `outliers` to pass.
pub const MAX_OUTLIER_FRACTION: f64 = 0.05;
/// A text column with more distinct values than this (and mostly distinct) is high-cardinality.
pub const HIGH_CARDINALITY_DISTINCT: u64 = 50;
/// Weights of the component scores in `overall_score` (they add up to 1).
pub const WEIGHTS: Weights =
    Weights { missing: 0.3, duplicates: 0.2, constant: 0.1, empty: 0.1, mixed: 0.1, cardinality: 0.1, outliers: 0.1 };

#[derive(Debug, Clone, Copy)]
pub struct Weights {
    pub missing: f64,
    pub duplicates: f64,
    pub constant: f64,
    pub empty: f64,
    pub mixed: f64,
    pub cardinality: f64,
    pub outliers: f64,
}

/// One named check of the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityCheck {
    pub name: String,
    pub passed: bool,
    pub details: String,
}

/// The stored report: a score from 0 to 100 and its checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityReport {
    pub overall_score: f64,
    pub checks: Vec<QualityCheck>,
    /// The `duplicate_rows` count behind its check, kept so that `/analyze` need not count
    /// again (absent from reports stored before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_rows: Option<u64>,
}

impl QualityReport {
    /// The checks that failed: the upload response's `issues`.
    pub fn issues(&self) -> Vec<QualityCheck> {
        self.checks.iter().filter(|c| !c.passed).cloned().collect()
    }
}

/// Outliers of one numeric column, counted by the reader (it needs the column's quartiles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOutliers {
    pub name: String,
    pub outliers: u64,
    /// Finite values of the column.
    pub values: u64,
}

/// What the reader knows beyond the batches: text columns that mix types (CSV only) and the
/// outliers of numeric columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityExtras {
    pub mixed: Vec<MixedColumn>,
    pub outliers: Vec<ColumnOutliers>,
}

#[derive(Clone, Default)]
struct ColumnTally {
    name: String,
    missing: u64,
    first_value: Option<u64>,
    varies: bool,
    /// Distinct values of text columns.
    distinct: Option<DistinctEstimate>,
}

/// Counts rows equal to an earlier row, by 64-bit row hashes (see `row_hash`).
///
/// The hashes are collected in a vector, which is sorted and deduplicated (each hash removed is
/// one more duplicate) whenever it is full (from [`SETTLE_FROM`] hashes on), and once at the
/// end: appending a hash costs far less than a hash-set insert. A sort sorts the hashes added
/// since the last one and merges them into the sorted ones, holding them apart meanwhile; after
/// it the vector is given room for a quarter as many hashes again as it keeps (or for the batch
/// being added, if more). So its memory is at most about one and a quarter hashes per distinct
/// row plus one batch, one and a half while it sorts, or [`SETTLE_FROM`] hashes when there are
/// fewer rows. (Room for as many again, as a growing vector gives, held up to four hashes a
/// row: a third of an upload's memory; sorting every hash again at each sort took twice the
/// time.)
#[derive(Default)]
pub struct DuplicateRows {
    /// Row hashes; the first `settled` are sorted and distinct.
    hashes: Vec<u64>,
    settled: usize,
    duplicates: u64,
}

/// Row hashes collected before the first sort.
pub const SETTLE_FROM: usize = 1 << 19;

impl DuplicateRows {
    /// Adds the rows whose hashes are given.
    pub fn observe_hashes(&mut self, row_hashes: &[u64]) {
        let full = self.hashes.len() + row_hashes.len() > self.hashes.capacity();
        if full && self.hashes.len() >= SETTLE_FROM {
            self.settle();
            self.hashes.reserve_exact((self.settled / 4).max(row_hashes.len()));
        }
        self.hashes.extend_from_slice(row_hashes);
    }

    /// Adds every row of `batch`.
    pub fn observe(&mut self, batch: &RecordBatch) {
        let mut row_hashes = vec![0u64; batch.num_rows()];
        for column in batch.columns() {
            fold_cells(column, &mut row_hashes, |_| {});
        }
        self.observe_hashes(&row_hashes);
    }

    /// Sorts and deduplicates the hashes, counting the duplicates removed: the hashes added
    /// since the last sort are sorted alone and merged into the sorted ones (at the first
    /// sort, all of them, in place).
    pub fn settle(&mut self) {
        if self.settled == self.hashes.len() {
            return;
        }
        if self.settled == 0 {
            self.duplicates += sort_distinct(&mut self.hashes);
            self.settled = self.hashes.len();
            return;
        }
        let mut added = self.hashes.split_off(self.settled);
        self.duplicates += sort_distinct(&mut added);
        self.absorb(&added);
    }

    /// Rows equal to an earlier row.
    pub fn count(mut self) -> u64 {
        self.settle();
        self.duplicates
    }

    /// Adds the rows `other` saw, as if they came after this one's: a row of `other` equal to
    /// a row seen here is one more duplicate.
    pub fn merge(&mut self, mut other: DuplicateRows) {
        self.settle();
        other.settle();
        self.duplicates += other.duplicates;
        if self.hashes.is_empty() {
            self.hashes = other.hashes;
            self.settled = self.hashes.len();
            return;
        }
        self.absorb(&other.hashes);
    }

    /// Merges `theirs` (sorted, distinct) into the settled hashes (every hash is settled), a
    /// hash of `theirs` already here counting as one more duplicate.
    fn absorb(&mut self, theirs: &[u64]) {
        debug_assert_eq!(self.settled, self.hashes.len());
        // Merged in place, from the largest hash down, into room made after this one's: no
        // third vector beside the two.
        let mine = &mut self.hashes;
        let (mut a, mut b) = (mine.len(), theirs.len());
        mine.resize(a + b, 0);
        let mut at = a + b;
        while b > 0 {
            at -= 1;
            if a > 0 && mine[a - 1] > theirs[b - 1] {
                mine[at] = mine[a - 1];
                a -= 1;
            } else {
                if a > 0 && mine[a - 1] == theirs[b - 1] {
                    self.duplicates += 1;
                    a -= 1;
                }
                mine[at] = theirs[b - 1];
                b -= 1;
            }
        }
        // What is left of this one's is in place below `a`; the gap the duplicates left
        // (from `a` to `at`) is closed.
        mine.copy_within(at.., a);
        mine.truncate(mine.len() - (at - a));
        self.settled = mine.len();
    }
}

/// Sorts `hashes` and removes the repeats; how many were removed.
fn sort_distinct(hashes: &mut Vec<u64>) -> u64 {
    hashes.sort_unstable();
    let before = hashes.len();
    hashes.dedup();
    (before - hashes.len()) as u64
}

/// Accumulates the quality checks over the record batches of a table, in one pass. Memory is
/// at most about one and a half 64-bit hashes per distinct row (for the duplicate count; see
/// [`DuplicateRows`]) plus 4 KiB per text column.
pub struct QualityAccumulator {
    columns: Vec<ColumnTally>,
    rows: u64,
    duplicates: DuplicateRows,
    /// The row hashes of the batch being observed (reused).
    row_hashes: Vec<u64>,
}

impl QualityAccumulator {
    /// `columns`: each column's name and canonical Arrow type, in batch order.
    pub fn new(columns: impl IntoIterator<Item = (String, DataType)>) -> Self {
        Self {
            columns: columns
                .into_iter()
                .map(|(name, t)| ColumnTally {
                    name,
                    distinct: (t == DataType::Utf8).then(DistinctEstimate::default),
                    ..Default::default()
                })
                .collect(),
            rows: 0,
            duplicates: DuplicateRows::default(),
            row_hashes: Vec::new(),
        }
    }

    /// Adds one batch whose columns are in the order given to [`QualityAccumulator::new`].
    pub fn observe(&mut self, batch: &RecordBatch) {
        let n = batch.num_rows();
        self.row_hashes.clear();
        self.row_hashes.resize(n, 0);
        for (tally, column) in self.columns.iter_mut().zip(batch.columns()) {
            tally.missing += column.logical_null_count() as u64;
            let (first, varies, distinct) = (&mut tally.first_value, &mut tally.varies, &mut tally.distinct);
            fold_cells(column, &mut self.row_hashes, |h| {
                match *first {
                    None => *first = Some(h),
                    Some(f) => *varies |= h != f,
                }
                if let Some(d) = distinct.as_mut() {
                    d.add(h);
                }
            });
        }
        self.duplicates.observe_hashes(&self.row_hashes);
        self.rows += n as u64;
    }

    /// Sorts what the duplicate count collected so far (see [`DuplicateRows`]); call it where
    /// a core is free (each conversion worker does, before its accumulator is merged).
    pub fn settle(&mut self) {
        self.duplicates.settle();
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds what `other` saw of the rows that follow this one's (same columns): the result
    /// is what one accumulator over all the rows would hold.
    pub fn merge(&mut self, other: QualityAccumulator) {
        for (mine, theirs) in self.columns.iter_mut().zip(other.columns) {
            mine.missing += theirs.missing;
            mine.varies |= theirs.varies;
            match (mine.first_value, theirs.first_value) {
                (None, first) => mine.first_value = first,
                (Some(a), Some(b)) => mine.varies |= a != b,
                (Some(_), None) => {}
            }
            if let (Some(d), Some(o)) = (mine.distinct.as_mut(), theirs.distinct.as_ref()) {
                d.merge(o);
            }
        }
        self.duplicates.merge(other.duplicates);
        self.rows += other.rows;
    }

    pub fn finish(self, extras: QualityExtras) -> QualityReport {
        let rows = self.rows;
        let n_cols = self.columns.len() as u64;
        let cells = rows * n_cols;
        let fraction = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };

        let missing_cells: u64 = self.columns.iter().map(|c| c.missing).sum();
        let worst = self.columns.iter().fold(None::<&ColumnTally>, |best, c| match best {
            Some(b) if b.missing >= c.missing => Some(b),
            _ => Some(c),
        });
        let worst_fraction = worst.map_or(0.0, |c| fraction(c.missing, rows));
        let missing_details = match worst {
            Some(c) if c.missing > 0 => format!("Max {} missing (column '{}')", percent(worst_fraction), c.name),
            _ => "No missing values".to_string(),
        };

        let duplicate_rows = self.duplicates.count();
        let duplicate_fraction = fraction(duplicate_rows, rows);
        let empty: Vec<&str> =
            self.columns.iter().filter(|c| rows > 0 && c.missing == rows).map(|c| c.name.as_str()).collect();
        let constant: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| rows >= 2 && c.first_value.is_some() && !c.varies)
            .map(|c| c.name.as_str())
            .collect();

        let non_fitting: u64 = extras.mixed.iter().map(|m| m.non_fitting).sum();
        let mixed_details = match extras.mixed.as_slice() {
            [] => "No column mixes types".to_string(),
            mixed => {
                let listed: Vec<String> = mixed
                    .iter()
                    .take(10)
                    .map(|m| {
                        format!(
                            "{} ({} of {} values are not {})",
                            m.name,
                            m.non_fitting,
                            m.non_missing,
                            m.mostly.as_str()
                        )
                    })
                    .collect();
                format!("{} mixing types: {}", columns_word(mixed.len()), listed.join(", "))
            }
        };

        let high_cardinality: Vec<(&str, u64)> = self
            .columns
            .iter()
            .filter_map(|c| {
                let distinct = c.distinct.as_ref()?.estimate();
                let non_missing = rows - c.missing;
                (distinct > HIGH_CARDINALITY_DISTINCT && distinct * 2 >= non_missing)
                    .then_some((c.name.as_str(), distinct))
            })
            .collect();
        let cardinality_details = match high_cardinality.as_slice() {
            [] => "No high-cardinality text column".to_string(),
            found => {
                let listed: Vec<String> = found.iter().take(10).map(|(n, d)| format!("{n} (~{d} distinct)")).collect();
                format!("{} of mostly distinct text: {}", columns_word(found.len()), listed.join(", "))
            }
        };

        let heavy: Vec<&ColumnOutliers> =
            extras.outliers.iter().filter(|o| fraction(o.outliers, o.values) > MAX_OUTLIER_FRACTION).collect();
        let outlier_values: u64 = extras.outliers.iter().map(|o| o.outliers).sum();
        let numeric_values: u64 = extras.outliers.iter().map(|o| o.values).sum();
        let outlier_details = match heavy.as_slice() {
            [] => format!("No column has more than {} outliers", percent(MAX_OUTLIER_FRACTION)),
            found => {
                let listed: Vec<String> = found
                    .iter()
                    .take(10)
                    .map(|o| format!("{} ({})", o.name, percent(fraction(o.outliers, o.values))))
                    .collect();
                format!(
                    "{} with over {} outliers: {}",
                    columns_word(found.len()),
                    percent(MAX_OUTLIER_FRACTION),
                    listed.join(", ")
                )
            }
        };

        let checks = vec![
            QualityCheck {
                name: "missing_values".into(),
                passed: worst_fraction <= MAX_MISSING_FRACTION,
                details: missing_details,
            },
            QualityCheck {
                name: "duplicate_rows".into(),
                passed: duplicate_fraction <= MAX_DUPLICATE_FRACTION,
                details: format!(
                    "{} duplicate{} ({})",
                    duplicate_rows,
                    if duplicate_rows == 1 { "" } else { "s" },
                    percent(duplicate_fraction)
                ),
            },
            QualityCheck {
                name: "constant_columns".into(),
                passed: constant.is_empty(),
                details: column_list("constant", &constant),
            },
            QualityCheck {
                name: "empty_columns".into(),
                passed: empty.is_empty(),
                details: column_list("empty", &empty),
            },
            QualityCheck { name: "mixed_types".into(), passed: extras.mixed.is_empty(), details: mixed_details },
            QualityCheck {
                name: "high_cardinality".into(),
                passed: high_cardinality.is_empty(),
                details: cardinality_details,
            },
            QualityCheck { name: "outliers".into(), passed: heavy.is_empty(), details: outlier_details },
        ];
        let score = 100.0
            * (WEIGHTS.missing * (1.0 - fraction(missing_cells, cells))
                + WEIGHTS.duplicates * (1.0 - duplicate_fraction)
                + WEIGHTS.constant * (1.0 - fraction(constant.len() as u64, n_cols))
                + WEIGHTS.empty * (1.0 - fraction(empty.len() as u64, n_cols))
                + WEIGHTS.mixed * (1.0 - fraction(non_fitting, cells))
                + WEIGHTS.cardinality * (1.0 - fraction(high_cardinality.len() as u64, n_cols))
                + WEIGHTS.outliers * (1.0 - fraction(outlier_values, numeric_values)));
        QualityReport { overall_score: (score * 10.0).round() / 10.0, checks, duplicate_rows: Some(duplicate_rows) }
    }
}

fn columns_word(n: usize) -> String {
    format!("{n} column{}", if n == 1 { "" } else { "s" })
}

/// A fraction as a percentage with two decimals: 0.0009 → "0.09%".
fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

fn column_list(kind: &str, names: &[&str]) -> String {
    const SHOWN: usize = 10;
    match names.len() {
        0 => format!("No {kind} columns"),
        n => {
            let listed: Vec<&str> = names.iter().take(SHOWN).copied().collect();
            let more = if n > SHOWN { format!(" and {} more", n - SHOWN) } else { String::new() };
            format!("{n} {kind} column{}: {}{more}", if n == 1 { "" } else { "s" }, listed.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(ids: Vec<Option<i64>>, names: Vec<Option<&str>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn report(batches: &[RecordBatch]) -> QualityReport {
        let mut acc =
            QualityAccumulator::new([("id".to_string(), DataType::Int64), ("name".to_string(), DataType::Utf8)]);
        batches.iter().for_each(|b| acc.observe(b));
        acc.finish(QualityExtras::default())
    }

    fn check<'a>(r: &'a QualityReport, name: &str) -> &'a QualityCheck {
        r.checks.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn a_complete_varied_table_scores_100_with_no_issues() {
        let r = report(&[batch(vec![Some(1), Some(2)], vec![Some("a"), Some("b")])]);
        assert_eq!(r.overall_score, 100.0);
        assert!(r.issues().is_empty());
    }

    #[test]
    fn duplicates_are_counted_across_batches() {
        let r = report(&[
            batch(vec![Some(1), Some(2)], vec![Some("a"), Some("b")]),
            batch(vec![Some(1), Some(3), Some(1)], vec![Some("a"), Some("c"), Some("a")]),
        ]);
        let c = check(&r, "duplicate_rows");
        assert_eq!(c.details, "2 duplicates (40.00%)");
        assert!(!c.passed);
        // Score by the documented formula: every component 1 but duplicates, 1 − 2/5.
        let expected = 100.0 * (0.3 + 0.2 * (1.0 - 2.0 / 5.0) + 0.1 + 0.1 + 0.1 + 0.1 + 0.1);
        assert_eq!(r.overall_score, (expected * 10.0_f64).round() / 10.0);
    }

    #[test]
    fn merging_accumulators_of_consecutive_parts_equals_one_accumulator_over_all_rows() {
        let parts = [
            batch(vec![Some(1), Some(2), None], vec![Some("a"), Some("b"), None]),
            batch(vec![Some(1), Some(3)], vec![Some("a"), Some("c")]),
            batch(vec![None, Some(2)], vec![None, Some("b")]),
        ];
        let whole = report(&parts);
        let new =
            || QualityAccumulator::new([("id".to_string(), DataType::Int64), ("name".to_string(), DataType::Utf8)]);
        for split in 0..=parts.len() {
            let (mut left, mut right) = (new(), new());
            parts[..split].iter().for_each(|b| left.observe(b));
            parts[split..].iter().for_each(|b| right.observe(b));
            left.merge(right);
            assert_eq!(left.rows(), 7);
            assert_eq!(left.finish(QualityExtras::default()), whole, "split at {split}");
        }
        assert_eq!(check(&whole, "duplicate_rows").details, "3 duplicates (42.86%)");
    }

    #[test]
    fn constant_parts_that_differ_from_each_other_make_a_varying_column() {
        let new =
            || QualityAccumulator::new([("id".to_string(), DataType::Int64), ("name".to_string(), DataType::Utf8)]);
        let (mut left, mut right) = (new(), new());
        left.observe(&batch(vec![Some(1), Some(1)], vec![Some("a"), Some("a")]));
        right.observe(&batch(vec![Some(2), Some(2)], vec![Some("a"), Some("a")]));
        left.merge(right);
        let r = left.finish(QualityExtras::default());
        assert!(check(&r, "constant_columns").details.contains("name"), "{:?}", check(&r, "constant_columns"));
        assert!(!check(&r, "constant_columns").details.contains("id"), "{:?}", check(&r, "constant_columns"));
    }

    /// Counts by a hash set, independently of [`DuplicateRows`]' sorting.
    fn duplicates_by_set(hashes: &[u64]) -> u64 {
        let mut seen = std::collections::HashSet::new();
        hashes.iter().filter(|h| !seen.insert(**h)).count() as u64
    }

    #[test]
    fn duplicate_counts_by_sorting_equal_counts_by_a_hash_set_across_settles_and_merges() {
        // A few million hashes drawn from a range that makes about a third of them repeats, so
        // the vector is sorted several times on the way (from SETTLE_FROM on).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let hashes: Vec<u64> = (0..3 * SETTLE_FROM + 12_345)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % (2 * SETTLE_FROM as u64)
            })
            .collect();
        let expected = duplicates_by_set(&hashes);
        assert!(expected > SETTLE_FROM as u64 / 2, "the data must repeat: {expected}");

        let mut one = DuplicateRows::default();
        hashes.chunks(10_000).for_each(|c| one.observe_hashes(c));
        assert_eq!(one.count(), expected);

        // Split into parts observed separately and merged in order, as the workers' are.
        for parts in [2, 3, 7] {
            let size = hashes.len().div_ceil(parts);
            let mut merged = DuplicateRows::default();
            for part in hashes.chunks(size) {
                let mut d = DuplicateRows::default();
                part.chunks(4_096).for_each(|c| d.observe_hashes(c));
                if parts == 3 {
                    d.settle();
                }
                merged.merge(d);
            }
            assert_eq!(merged.count(), expected, "{parts} parts");
        }
    }

    #[test]
    fn the_hash_vector_holds_at_most_about_one_and_a_quarter_hashes_per_distinct_row() {
        let batch = 4_096;
        let distinct = 5 * SETTLE_FROM + 1_000;
        let mut d = DuplicateRows::default();
        // Every row twice (a batch, then the same batch again): duplicates do not count.
        for start in (0..distinct).step_by(batch) {
            let rows: Vec<u64> = (start..(start + batch).min(distinct))
                .map(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect();
            d.observe_hashes(&rows);
            d.observe_hashes(&rows);
            assert!(d.hashes.capacity() <= (start + batch) * 5 / 4 + batch || d.hashes.capacity() <= 2 * SETTLE_FROM);
        }
        assert!(d.hashes.capacity() <= distinct * 5 / 4 + batch, "{} for {distinct}", d.hashes.capacity());
        assert_eq!(d.count(), distinct as u64);
    }

    #[test]
    fn duplicate_counts_of_small_inputs_equal_counts_by_a_hash_set() {
        let cases: [&[u64]; 6] = [&[], &[5], &[5, 5], &[1, 2, 1, 2, 1], &[0, u64::MAX, 0, u64::MAX], &[3, 2, 1]];
        for hashes in cases {
            let mut d = DuplicateRows::default();
            d.observe_hashes(hashes);
            assert_eq!(d.count(), duplicates_by_set(hashes), "{hashes:?}");
            for split in 0..=hashes.len() {
                let (mut left, mut right) = (DuplicateRows::default(), DuplicateRows::default());
                left.observe_hashes(&hashes[..split]);
                right.observe_hashes(&hashes[split..]);
                left.merge(right);
                assert_eq!(left.count(), duplicates_by_set(hashes), "{hashes:?} split at {split}");
            }
        }
    }

    #[test]
    fn rows_differing_only_in_a_missing_cell_are_not_duplicates() {
        let r = report(&[batch(vec![Some(1), Some(1)], vec![Some("a"), None])]);
        assert_eq!(check(&r, "duplicate_rows").details, "0 duplicates (0.00%)");
    }

    #[test]
    fn missing_values_report_the_worst_column() {
        let ids = (0..20).map(|i| (i != 0).then_some(i)).collect();
        let names = (0..20).map(|i| Some(if i % 2 == 0 { "x" } else { "y" })).collect();
        let r = report(&[batch(ids, names)]);
        let c = check(&r, "missing_values");
        assert_eq!(c.details, "Max 5.00% missing (column 'id')");
        assert!(c.passed, "5% is the largest share that passes");
    }

    #[test]
    fn empty_and_constant_columns_fail_their_checks() {
        let r = report(&[batch(vec![None, None, None], vec![Some("k"), Some("k"), None])]);
        assert_eq!(check(&r, "empty_columns").details, "1 empty column: id");
        assert_eq!(check(&r, "constant_columns").details, "1 constant column: name");
        let names: Vec<String> = r.issues().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["missing_values", "duplicate_rows", "constant_columns", "empty_columns"].map(String::from));
    }

    #[test]
    fn a_single_row_has_no_constant_columns() {
        let r = report(&[batch(vec![Some(1)], vec![Some("a")])]);
        assert!(check(&r, "constant_columns").passed);
    }

    #[test]
    fn mixed_columns_and_heavy_outliers_fail_their_checks() {
        let mut acc = QualityAccumulator::new([("a".to_string(), DataType::Int64)]);
        acc.observe(&batch(vec![Some(1), Some(2)], vec![Some("x"), Some("y")]).project(&[0]).unwrap());
        let extras = QualityExtras {
            mixed: vec![MixedColumn {
                name: "a".into(),
                mostly: crate::domain::dtype::DType::Float64,
                non_fitting: 1,
                non_missing: 2,
            }],
            outliers: vec![ColumnOutliers { name: "a".into(), outliers: 1, values: 10 }],
        };
        let r = acc.finish(extras);
        assert_eq!(check(&r, "mixed_types").details, "1 column mixing types: a (1 of 2 values are not float64)");
        assert!(!check(&r, "mixed_types").passed);
        assert_eq!(check(&r, "outliers").details, "1 column with over 5.00% outliers: a (10.00%)");
        let expected = 100.0 * (0.3 + 0.2 + 0.1 + 0.1 + 0.1 * (1.0 - 1.0 / 2.0) + 0.1 + 0.1 * (1.0 - 1.0 / 10.0));
        assert_eq!(r.overall_score, (expected * 10.0_f64).round() / 10.0);
    }

    #[test]
    fn mostly_distinct_text_is_high_cardinality() {
        let ids: Vec<Option<i64>> = (0..200).map(Some).collect();
        let names: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
        let mut acc =
            QualityAccumulator::new([("id".to_string(), DataType::Int64), ("name".to_string(), DataType::Utf8)]);
        acc.observe(&batch(ids, names.iter().map(|s| Some(s.as_str())).collect()));
        let r = acc.finish(QualityExtras::default());
        let c = check(&r, "high_cardinality");
        assert!(!c.passed);
        assert!(c.details.starts_with("1 column of mostly distinct text: name (~"), "{}", c.details);
    }
}
