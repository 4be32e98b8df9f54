//! Per-column statistics of a version (`GET /api/datasets/{id}/analyze`). Every figure is
//! exact over every row; definitions are here and in `docs/statistics.md`.
//!
//! Notation: for a numeric column, x₁…xₙ are its non-missing **finite** values (missing cells
//! and ±infinity are excluded from every figure below except `unique`, `missing` and
//! `infinite_count`), x̄ their mean, and mₖ = Σ(xᵢ − x̄)ᵏ / n the k-th central moment.
//!
//! - `mean` = Σxᵢ / n (compensated summation); null when n = 0.
//! - `std` = √(Σ(xᵢ − x̄)² / (n − 1)) (sample); null when n < 2.
//! - `percentiles` pₚ for p ∈ {0.25, 0.5, 0.75}: with the values sorted, h = (n − 1)·p,
//!   pₚ = x₍⌊h⌋₎ + (h − ⌊h⌋)·(x₍⌊h⌋+1₎ − x₍⌊h⌋₎) (linear interpolation between closest ranks,
//!   numpy's default); null when n = 0.
//! - `skewness` = G₁ = g₁·√(n(n − 1))/(n − 2) with g₁ = m₃/m₂^{3/2} (adjusted Fisher–Pearson);
//!   null when n < 3 or m₂ = 0.
//! - `kurtosis` = G₂ = ((n + 1)·g₂ + 6)·(n − 1)/((n − 2)(n − 3)) with g₂ = m₄/m₂² − 3 (excess,
//!   bias-corrected); null when n < 4 or m₂ = 0.
//! - `iqr` = p75 − p25; `outlier_count` = #{xᵢ < p25 − 1.5·iqr or xᵢ > p75 + 1.5·iqr}.
//! - `histogram`: 10 bins with edges eᵢ = min + i·(max − min)/10 (e₁₀ = max); a value falls in
//!   the last bin i with eᵢ ≤ x (the last bin is closed, so max is counted in bin 10); counts
//!   sum to n. A constant column uses edges from min − 0.5 to min + 0.5.
//! - `unique`: distinct non-missing values (−0.0 equals 0.0; +∞ and −∞ count as values).
//! - `missing_percent` = missing / rows, a fraction from 0 to 1.
//! - `top_values` (text, category, bool): the 10 most frequent values with their counts,
//!   ties broken by the value in ascending byte order.
//! - datetime columns: `min`, `max` and a 10-bin histogram over microseconds since the epoch,
//!   edges written as ISO-8601 timestamps.
//! - `correlations`: Pearson's r over the rows where both columns hold finite values
//!   (pairwise-complete), for int64 and float64 columns; null when fewer than 2 such rows or
//!   either column is constant on them.
//! - `duplicate_rows`: rows equal to an earlier row (see `quality`).
//! - `memory_usage`: MB (10⁶ bytes) of the columns in Arrow's in-memory layout: per column a
//!   validity bitmap of ⌈rows/8⌉ bytes, plus 8 bytes per row (int64, float64, timestamps),
//!   4 bytes per row (dates), ⌈rows/8⌉ bytes (bool), or 4·(rows + 1) offset bytes plus the UTF-8
//!   bytes of the values (text).

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

use crate::domain::dtype::DType;
use crate::domain::preview::{format_date, format_timestamp};
use crate::domain::row_hash::{PreHashedState, text_hash};

/// Bins of every histogram.
pub const HISTOGRAM_BINS: usize = 10;
/// Entries of `top_values`.
pub const TOP_VALUES: usize = 10;
/// Correlations are computed for at most this many numeric columns (a larger matrix is
/// skipped and said so in `error`).
pub const MAX_CORRELATION_COLUMNS: usize = 100;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// An exact number: integers stay integers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub counts: Vec<u64>,
    pub bin_edges: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NumericStats {
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub percentiles: Option<Percentiles>,
    pub skewness: Option<f64>,
    pub kurtosis: Option<f64>,
    pub iqr: Option<f64>,
    pub outlier_count: Option<u64>,
    pub histogram: Option<Histogram>,
    /// Values equal to +∞ or −∞ (float64 only).
    pub infinite_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeHistogram {
    pub counts: Vec<u64>,
    pub bin_edges: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemporalStats {
    pub min: String,
    pub max: String,
    pub histogram: TimeHistogram,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    pub name: String,
    pub dtype: DType,
    pub unique: u64,
    pub missing: u64,
    pub missing_percent: f64,
    pub numeric: Option<NumericStats>,
    pub top_values: Option<Vec<(String, u64)>>,
    pub temporal: Option<TemporalStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatistics {
    pub columns: Vec<ColumnStats>,
    pub row_count: u64,
    pub duplicate_rows: u64,
    pub memory_usage: f64,
    /// Row name → (column name → r), in column order.
    pub correlations: Vec<(String, Vec<(String, Option<f64>)>)>,
    /// Why something could not be computed, when something could not.
    pub error: Option<String>,
}

/// Neumaier's compensated sum.
#[derive(Default, Clone, Copy)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(self) -> f64 {
        self.sum + self.compensation
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The linear-interpolation percentile of sorted values (n ≥ 1).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    match sorted.get(lo + 1) {
        Some(&next) if frac > 0.0 => interpolate(sorted[lo], next, frac),
        _ => sorted[lo],
    }
}

/// a + t·(b − a), without overflow when b − a exceeds the largest double.
fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    let direct = a + t * (b - a);
    if direct.is_finite() { direct } else { a * (1.0 - t) + b * t }
}

/// Histogram of sorted values by the module's rule.
pub fn histogram(sorted: &[f64]) -> Option<Histogram> {
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let (lo, hi) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
    // (hi − lo) overflows for values near ±f64::MAX; hi/10 − lo/10 cannot (edges that still
    // overflow are interpolated).
    let width = hi / HISTOGRAM_BINS as f64 - lo / HISTOGRAM_BINS as f64;
    let mut edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| {
            let edge = lo + i as f64 * width;
            if edge.is_finite() { edge } else { interpolate(lo, hi, i as f64 / HISTOGRAM_BINS as f64) }
        })
        .collect();
    edges[HISTOGRAM_BINS] = hi;
    if min == max {
        // By definition every value of a constant column is in the middle bin (bin 6), even
        // where rounding would move the edges (tiny or huge values).
        let mut counts = vec![0; HISTOGRAM_BINS];
        counts[HISTOGRAM_BINS / 2] = sorted.len() as u64;
        return Some(Histogram { counts, bin_edges: edges });
    }
    let at_least = |edge: f64| sorted.len() - sorted.partition_point(|&x| x < edge);
    let counts = (0..HISTOGRAM_BINS)
        .map(|i| {
            let from = at_least(edges[i]);
            let to = if i + 1 == HISTOGRAM_BINS { 0 } else { at_least(edges[i + 1]) };
            (from - to) as u64
        })
        .collect();
    Some(Histogram { counts, bin_edges: edges })
}

/// The power of two at or below `magnitude` (its exponent with a mantissa of 1), at least the
/// smallest normal double; 1 for zero or non-finite input.
fn power_of_two_scale(magnitude: f64) -> f64 {
    if magnitude == 0.0 || !magnitude.is_finite() {
        return 1.0;
    }
    f64::from_bits(magnitude.to_bits() & 0x7ff0_0000_0000_0000).max(f64::MIN_POSITIVE)
}

/// Values outside [p25 − 1.5·IQR, p75 + 1.5·IQR] of sorted values.
fn tukey_outliers(sorted: &[f64], p: &Percentiles) -> usize {
    let iqr = p.p75 - p.p25;
    let (low, high) = (p.p25 - 1.5 * iqr, p.p75 + 1.5 * iqr);
    sorted.partition_point(|&x| x < low) + (sorted.len() - sorted.partition_point(|&x| x <= high))
}

/// The `outlier_count` of a column's finite values (any order); 0 for no values. The quartiles
/// are found by selection in place (O(n), no second buffer), with the same definition as
/// [`percentile`] of the sorted values.
pub fn outlier_count(mut values: Vec<f64>) -> u64 {
    values.retain(|x| x.is_finite());
    if values.is_empty() {
        return 0;
    }
    let p = Percentiles {
        p25: selected_percentile(&mut values, 0.25),
        p50: 0.0,
        p75: selected_percentile(&mut values, 0.75),
    };
    let iqr = p.p75 - p.p25;
    let (low, high) = (p.p25 - 1.5 * iqr, p.p75 + 1.5 * iqr);
    values.iter().filter(|&&x| x < low || x > high).count() as u64
}

/// [`percentile`] without sorting: the ⌊h⌋-th value by selection, and the next one as the
/// smallest value after it.
fn selected_percentile(values: &mut [f64], p: f64) -> f64 {
    let h = (values.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let (_, &mut at, after) = values.select_nth_unstable_by(lo, f64::total_cmp);
    match after.iter().copied().min_by(f64::total_cmp) {
        Some(next) if frac > 0.0 => interpolate(at, next, frac),
        _ => at,
    }
}

/// Statistics of sorted finite values; `exact` gives min and max in the column's own type.
fn summarize(sorted: &[f64], exact_min_max: Option<(Scalar, Scalar)>, infinite_count: u64) -> NumericStats {
    let n = sorted.len();
    if n == 0 {
        return NumericStats { infinite_count, ..Default::default() };
    }
    let nf = n as f64;
    // Sums run on values divided by a power of two near their magnitude (an exact division),
    // so that neither huge values (near 1e308) overflow nor subnormal ones underflow.
    let scale = power_of_two_scale(sorted[0].abs().max(sorted[n - 1].abs()));
    let mut total = Sum::default();
    sorted.iter().for_each(|&x| total.add(x / scale));
    let mean = total.value() / nf * scale;
    let dev_scale = power_of_two_scale((sorted[0] - mean).abs().max((sorted[n - 1] - mean).abs()).min(f64::MAX));
    let (mut s1, mut s2, mut s3, mut s4) = (Sum::default(), Sum::default(), Sum::default(), Sum::default());
    for &x in sorted {
        let d = (x - mean) / dev_scale;
        let d2 = d * d;
        s1.add(d);
        s2.add(d2);
        s3.add(d2 * d);
        s4.add(d2 * d2);
    }
    // Corrected two-pass: Σd is zero in exact arithmetic; subtracting (Σd)²/n removes the
    // error of the rounded mean from the sum of squares. Moments here are of the scaled
    // deviations: std is scaled back; skewness and kurtosis do not depend on the scale.
    let squares = (s2.value() - s1.value() * s1.value() / nf).max(0.0);
    let (m2, m3, m4) = (squares / nf, s3.value() / nf, s4.value() / nf);
    let std = (n >= 2).then(|| (squares / (nf - 1.0)).sqrt() * dev_scale);
    let skewness = (n >= 3 && m2 > 0.0)
        .then(|| {
            let g1 = m3 / m2.powf(1.5);
            g1 * (nf * (nf - 1.0)).sqrt() / (nf - 2.0)
        })
        .and_then(finite);
    let kurtosis = (n >= 4 && m2 > 0.0)
        .then(|| {
            let g2 = m4 / (m2 * m2) - 3.0;
            ((nf + 1.0) * g2 + 6.0) * (nf - 1.0) / ((nf - 2.0) * (nf - 3.0))
        })
        .and_then(finite);
    let p = Percentiles { p25: percentile(sorted, 0.25), p50: percentile(sorted, 0.5), p75: percentile(sorted, 0.75) };
    let iqr = p.p75 - p.p25;
    let outliers = tukey_outliers(sorted, &p);
    let (min, max) = exact_min_max.unwrap_or((Scalar::Float(sorted[0]), Scalar::Float(sorted[n - 1])));
    NumericStats {
        min: Some(min),
        max: Some(max),
        mean: finite(mean),
        std: std.and_then(finite),
        percentiles: Some(p),
        skewness,
        kurtosis,
        iqr: finite(iqr),
        outlier_count: Some(outliers as u64),
        histogram: histogram(sorted),
        infinite_count,
    }
}

/// Statistics of an int64 column's non-missing values (any order).
pub fn int_stats(mut values: Vec<i64>) -> (NumericStats, u64) {
    sort_ints(&mut values);
    let unique = count_distinct(&values);
    let exact = values.first().zip(values.last()).map(|(&a, &b)| (Scalar::Int(a), Scalar::Int(b)));
    // Converted in place (the standard library reuses the allocation): a large column is not
    // held twice.
    let floats: Vec<f64> = values.into_iter().map(|v| v as f64).collect();
    (summarize(&floats, exact, 0), unique)
}

/// Statistics of a float64 column's non-missing values (any order, infinities included).
pub fn float_stats(mut values: Vec<f64>) -> (NumericStats, u64) {
    values.iter_mut().filter(|v| **v == 0.0).for_each(|v| *v = 0.0);
    sort_floats(&mut values);
    let unique = count_distinct(&values);
    let finite_from = values.partition_point(|&x| x == f64::NEG_INFINITY);
    let finite_to = values.partition_point(|&x| x < f64::INFINITY);
    let infinite = (finite_from + values.len() - finite_to) as u64;
    (summarize(&values[finite_from..finite_to], None, infinite), unique)
}

/// Sorts floats in the order of [`f64::total_cmp`] (−∞ < … < −0.0 < 0.0 < … < +∞, NaNs by
/// sign at the ends); the values are replaced by their sorted order.
///
/// Each float's bits are mapped in place to an unsigned key that orders as `total_cmp` does
/// (the sign bit set for non-negative values, every bit flipped for negative ones), the keys
/// are sorted as integers ([`sort_hashes`]) and mapped back.
pub fn sort_floats(values: &mut [f64]) {
    let keys: &mut [u64] = bytemuck::cast_slice_mut(values);
    for k in keys.iter_mut() {
        *k = if *k >> 63 == 1 { !*k } else { *k | (1 << 63) };
    }
    sort_hashes(keys);
    for k in keys.iter_mut() {
        *k = if *k >> 63 == 1 { *k & !(1 << 63) } else { !*k };
    }
}

/// Sorts with voracious sort, a radix sort (O(n), several times faster than a comparison sort
/// on millions of values, and near-instant on sorted or nearly sorted columns such as ids and
/// timestamps). Not strictly in place: for 64-bit keys it runs LSD passes that take a buffer
/// as large as the values (whole, for `u64`; per part, for `i64`).
fn sort_ints(values: &mut [i64]) {
    use voracious_radix_sort::RadixSort;
    values.voracious_sort();
}

/// Sorts as [`sort_ints`] does (voracious sort's LSD sort for `u64`, with a buffer as large as
/// the values).
pub(crate) fn sort_hashes(values: &mut [u64]) {
    use voracious_radix_sort::RadixSort;
    values.voracious_sort();
}

fn count_distinct<T: PartialEq>(sorted: &[T]) -> u64 {
    match sorted.first() {
        None => 0,
        Some(_) => 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count() as u64,
    }
}

/// The [`TOP_VALUES`] most frequent values, ties by value ascending.
pub fn top_values(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    ranked(counts.into_iter().collect(), std::iter::empty(), 0)
}

/// The [`TOP_VALUES`] first of `above` (values with their counts) by count, descending, ties
/// by value ascending, followed by the values `tied` (ascending) at count `boundary`.
fn ranked(mut above: Vec<(String, u64)>, tied: impl IntoIterator<Item = String>, boundary: u64) -> Vec<(String, u64)> {
    above.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    above.extend(tied.into_iter().map(|v| (v, boundary)));
    above.truncate(TOP_VALUES);
    above
}

/// Min, max and histogram of times in microseconds since the epoch (any order).
pub fn temporal_stats(mut micros: Vec<i64>, dates: bool, utc: bool) -> (Option<TemporalStats>, u64) {
    sort_ints(&mut micros);
    let unique = count_distinct(&micros);
    let (Some(&min), Some(&max)) = (micros.first(), micros.last()) else { return (None, unique) };
    let show = |m: i64| {
        if dates { format_date((m / MICROS_PER_DAY) as i32) } else { format_timestamp(m, utc) }
    };
    // Converted in place, as in `int_stats`.
    let floats: Vec<f64> = micros.into_iter().map(|m| m as f64).collect();
    let histogram = histogram(&floats).map(|h| TimeHistogram {
        counts: h.counts,
        bin_edges: h.bin_edges.iter().map(|&e| format_timestamp(e.round() as i64, utc)).collect(),
    });
    let stats = histogram.map(|histogram| TemporalStats { min: show(min), max: show(max), histogram });
    (stats, unique)
}

/// Collects one column's non-missing values across batches.
pub enum ColumnValues {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool {
        trues: u64,
        falses: u64,
    },
    /// Exact counts by value (used to compare versions).
    Text(HashMap<String, u64>),
    /// Counts by 64-bit value hash, whatever the values' length; `top_values` then needs a
    /// second pass ([`TopValueRecovery`]).
    TextHashes(HashTally),
    Time {
        micros: Vec<i64>,
        dates: bool,
        utc: bool,
    },
}

impl ColumnValues {
    /// A collector for the column type; text is counted by value hash when `hashed_text`.
    pub fn for_type_hashed(data_type: &DataType, hashed_text: bool) -> Self {
        match (data_type, hashed_text) {
            (DataType::Utf8, true) => Self::TextHashes(HashTally::default()),
            (DataType::Dictionary(_, values), true) if **values == DataType::Utf8 => {
                Self::TextHashes(HashTally::default())
            }
            _ => Self::for_type(data_type),
        }
    }

    pub fn for_type(data_type: &DataType) -> Self {
        match data_type {
            DataType::Int64 => Self::Int(Vec::new()),
            DataType::Float64 => Self::Float(Vec::new()),
            DataType::Boolean => Self::Bool { trues: 0, falses: 0 },
            DataType::Date32 => Self::Time { micros: Vec::new(), dates: true, utc: false },
            DataType::Timestamp(_, tz) => Self::Time { micros: Vec::new(), dates: false, utc: tz.is_some() },
            _ => Self::Text(HashMap::new()),
        }
    }

    /// Makes room for `values` more values at once (a collector told the column's length
    /// holds it without the slack and copies of growing step by step).
    pub fn reserve_exact(&mut self, values: usize) {
        match self {
            Self::Int(v) => v.reserve_exact(values),
            Self::Float(v) => v.reserve_exact(values),
            Self::Time { micros, .. } => micros.reserve_exact(values),
            Self::Bool { .. } | Self::Text(_) | Self::TextHashes(_) => {}
        }
    }

    /// Adds a column chunk; returns its number of missing cells.
    pub fn observe(&mut self, column: &ArrayRef) -> u64 {
        let valid = |i: usize| column.is_valid(i);
        let n = column.len();
        match self {
            Self::Int(v) => {
                let a = column.as_primitive::<Int64Type>();
                v.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
            }
            Self::Float(v) => {
                let a = column.as_primitive::<Float64Type>();
                v.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
            }
            Self::Bool { trues, falses } => {
                let a = column.as_boolean();
                for i in (0..n).filter(|&i| valid(i)) {
                    if a.value(i) { *trues += 1 } else { *falses += 1 }
                }
            }
            Self::Text(counts) => for_each_text(column, |value, rows| match counts.get_mut(value) {
                Some(c) => *c += rows,
                None => {
                    counts.insert(value.to_string(), rows);
                }
            }),
            Self::TextHashes(tally) => for_each_text(column, |value, rows| tally.add_text_times(value, rows)),
            Self::Time { micros, dates, .. } => {
                if *dates {
                    let a = column.as_primitive::<Date32Type>();
                    micros.extend(
                        (0..n).filter(|&i| valid(i)).map(|i| i64::from(a.value(i)).saturating_mul(MICROS_PER_DAY)),
                    );
                } else {
                    let a = column.as_primitive::<TimestampMicrosecondType>();
                    micros.extend((0..n).filter(|&i| valid(i)).map(|i| a.value(i)));
                }
            }
        }
        column.null_count() as u64
    }

    /// The column's statistics.
    pub fn finish(self, name: String, dtype: DType, rows: u64, missing: u64) -> ColumnStats {
        let missing_percent = if rows == 0 { 0.0 } else { missing as f64 / rows as f64 };
        let mut stats = ColumnStats {
            name,
            dtype,
            unique: 0,
            missing,
            missing_percent,
            numeric: None,
            top_values: None,
            temporal: None,
        };
        match self {
            Self::Int(v) => {
                let (numeric, unique) = int_stats(v);
                stats.numeric = Some(numeric);
                stats.unique = unique;
            }
            Self::Float(v) => {
                let (numeric, unique) = float_stats(v);
                stats.numeric = Some(numeric);
                stats.unique = unique;
            }
            Self::Bool { trues, falses } => {
                let mut counts = HashMap::new();
                if trues > 0 {
                    counts.insert("true".to_string(), trues);
                }
                if falses > 0 {
                    counts.insert("false".to_string(), falses);
                }
                stats.unique = counts.len() as u64;
                stats.top_values = Some(top_values(counts));
            }
            Self::Text(counts) => {
                stats.unique = counts.len() as u64;
                stats.top_values = Some(top_values(counts));
            }
            Self::TextHashes(tally) => {
                stats.unique = tally.into_counts().distinct();
                stats.top_values = Some(Vec::new());
            }
            Self::Time { micros, dates, utc } => {
                let (temporal, unique) = temporal_stats(micros, dates, utc);
                stats.temporal = temporal;
                stats.unique = unique;
            }
        }
        stats
    }
}

/// At most this many hashes tied at the 10th count are kept in a set for quick lookups.
const AT_BOUNDARY_SET_LIMIT: usize = 1 << 16;

/// Distinct hashes tracked in a map before the tally switches to a list of every hash.
const TALLY_MAP_LIMIT: usize = 4096;

/// Counts of 64-bit value hashes. Few distinct values are counted in a map; past
/// [`TALLY_MAP_LIMIT`] distinct values, every hash is appended to a list that is radix-sorted
/// at the end (8 bytes per value, sequential memory access: faster than a map of millions of
/// entries, and smaller).
#[derive(Default)]
pub struct HashTally {
    map: HashMap<u64, u64, PreHashedState>,
    list: Option<Vec<u64>>,
    memo: TextMemo,
}

impl HashTally {
    /// Counts a text value (and remembers its text when the memo has room).
    pub fn add_text(&mut self, value: &str) {
        self.add_text_times(value, 1);
    }

    /// Counts `times` occurrences of a text value at once.
    pub fn add_text_times(&mut self, value: &str, times: u64) {
        if times == 0 {
            return;
        }
        let hash = text_hash(value);
        // A value counted before was offered to the memo then: offering it again changes
        // nothing, and skipping it saves a lookup per value of low-cardinality columns.
        if self.add(hash) {
            self.memo.observe(hash, value);
        }
        let rest = times - 1;
        if rest > 0 {
            // `add` left the hash in the map, or in the list it switched to.
            match self.list.as_mut() {
                Some(list) => list.extend(std::iter::repeat_n(hash, rest as usize)),
                None => *self.map.entry(hash).or_default() += rest,
            }
        }
    }

    /// Counts a hash; false when it is known to have been counted before (true when it is
    /// new, or when the tally keeps a list and cannot tell).
    pub fn add(&mut self, hash: u64) -> bool {
        if let Some(list) = self.list.as_mut() {
            list.push(hash);
            return true;
        }
        let count = self.map.entry(hash).or_default();
        *count += 1;
        let new = *count == 1;
        if self.map.len() > TALLY_MAP_LIMIT {
            let mut list = Vec::with_capacity(1 << 16);
            for (&h, &count) in &self.map {
                list.extend(std::iter::repeat_n(h, count as usize));
            }
            self.map = HashMap::default();
            self.list = Some(list);
        }
        new
    }

    /// The count of every distinct hash. The sorted list is deduplicated in place, so a
    /// column of n distinct values holds n hashes and n counts, not more.
    pub fn into_counts(self) -> HashCounts {
        match self.list {
            Some(mut hashes) => {
                sort_hashes(&mut hashes);
                let distinct = hashes.chunk_by(|a, b| a == b).count();
                let mut counts = Vec::with_capacity(distinct);
                let mut kept = 0;
                for i in 0..hashes.len() {
                    if kept > 0 && hashes[kept - 1] == hashes[i] {
                        if let Some(last) = counts.last_mut() {
                            *last += 1;
                        }
                    } else {
                        hashes[kept] = hashes[i];
                        kept += 1;
                        counts.push(1u64);
                    }
                }
                hashes.truncate(kept);
                hashes.shrink_to_fit();
                HashCounts { hashes, counts, memo: self.memo }
            }
            None => {
                let mut pairs: Vec<(u64, u64)> = self.map.into_iter().collect();
                pairs.sort_unstable_by_key(|&(h, _)| h);
                let (hashes, counts) = pairs.into_iter().unzip();
                HashCounts { hashes, counts, memo: self.memo }
            }
        }
    }
}

/// Bytes of text a [`TextMemo`] keeps by hash (about 48 bytes of overhead counted per value).
const TEXT_MEMO_BYTES: usize = 8 << 20;
/// The smallest distinct values a [`TextMemo`] keeps.
const SMALLEST_KEPT: usize = 32;
/// Longest value the smallest-values list keeps (a longer one that would enter it ends it).
const SMALLEST_MAX_LEN: usize = 4096;

/// Texts remembered while a column is counted by hash, so that its most frequent values can
/// usually be named without reading the column again: the text of every distinct value
/// until [`TEXT_MEMO_BYTES`] are used (frequent values tend to appear early), and the
/// [`SMALLEST_KEPT`] smallest distinct values (byte order), which name the values tied at
/// the tenth count when the ties are too many to remember (e.g. a column of unique ids).
#[derive(Default)]
struct TextMemo {
    texts: HashMap<u64, Box<str>, PreHashedState>,
    bytes: usize,
    full: bool,
    /// Ascending: always the smallest distinct values seen, unless `smallest_lost`.
    smallest: std::collections::BTreeSet<Box<str>>,
    smallest_lost: bool,
}

impl TextMemo {
    fn observe(&mut self, hash: u64, value: &str) {
        if !self.full {
            match self.texts.entry(hash) {
                // Seen before: it was offered to `smallest` then (if it did not enter, or
                // left, smaller values hold the places, as they still do).
                std::collections::hash_map::Entry::Occupied(_) => return,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let cost = value.len() + 48;
                    if self.bytes + cost > TEXT_MEMO_BYTES {
                        self.full = true;
                    } else {
                        self.bytes += cost;
                        slot.insert(value.into());
                    }
                }
            }
        }
        if self.smallest_lost {
            return;
        }
        let enters = self.smallest.len() < SMALLEST_KEPT || self.smallest.last().is_some_and(|last| value < &**last);
        if enters && !self.smallest.contains(value) {
            if value.len() > SMALLEST_MAX_LEN {
                self.smallest_lost = true;
                self.smallest.clear();
                return;
            }
            self.smallest.insert(value.into());
            if self.smallest.len() > SMALLEST_KEPT {
                self.smallest.pop_last();
            }
        }
    }
}

/// Distinct value hashes ascending, with their counts (and the texts remembered while
/// counting).
pub struct HashCounts {
    hashes: Vec<u64>,
    counts: Vec<u64>,
    memo: TextMemo,
}

impl HashCounts {
    /// The 10th largest count (the smallest count when there are fewer values): values
    /// counted more often are all among the top values, values counted exactly this often
    /// compete for the remaining places by value.
    fn boundary(&self) -> u64 {
        let mut by_count: Vec<u64> = self.counts.clone();
        if by_count.len() > TOP_VALUES {
            let (_, &mut tenth, _) = by_count.select_nth_unstable_by(TOP_VALUES - 1, |a, b| b.cmp(a));
            tenth
        } else {
            by_count.iter().copied().min().unwrap_or(0)
        }
    }

    /// The top values (as [`top_values`] defines them) named from the texts remembered
    /// while counting, or `None` when those do not name them all and the column must be read
    /// again ([`TopValueRecovery`]).
    pub fn known_top_values(&self) -> Option<Vec<(String, u64)>> {
        let boundary = self.boundary();
        let memo = &self.memo;
        let smallest: HashMap<u64, &str, PreHashedState> = memo.smallest.iter().map(|v| (text_hash(v), &**v)).collect();
        let text_of = |h: u64| memo.texts.get(&h).map(|t| &**t).or_else(|| smallest.get(&h).copied());
        let mut above: Vec<(String, u64)> = Vec::with_capacity(TOP_VALUES);
        for (h, count) in self.pairs().filter(|&(_, c)| c > boundary) {
            above.push((text_of(h)?.to_string(), count));
        }
        let wanted = TOP_VALUES.saturating_sub(above.len());
        let mut tied: Vec<String> = Vec::new();
        if wanted > 0 {
            let all: Option<Vec<&str>> =
                self.pairs().filter(|&(_, c)| c == boundary).map(|(h, _)| text_of(h)).collect();
            tied = match all {
                Some(mut all) => {
                    all.sort_unstable();
                    all.into_iter().take(wanted).map(str::to_string).collect()
                }
                // The smallest values are a prefix of the column's values in byte order, so
                // the first ones tied at the boundary in it are the first ones in the column.
                None if !memo.smallest_lost => {
                    let first: Vec<String> = memo
                        .smallest
                        .iter()
                        .filter(|v| self.count(text_hash(v)) == boundary)
                        .take(wanted)
                        .map(|v| v.to_string())
                        .collect();
                    if first.len() < wanted {
                        return None;
                    }
                    first
                }
                None => return None,
            };
        }
        Some(ranked(above, tied, boundary))
    }

    pub fn distinct(&self) -> u64 {
        self.hashes.len() as u64
    }

    fn count(&self, hash: u64) -> u64 {
        self.hashes.binary_search(&hash).map_or(0, |i| self.counts[i])
    }

    fn pairs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.hashes.iter().copied().zip(self.counts.iter().copied())
    }
}

/// Recovers the text of the [`TOP_VALUES`] most frequent values from hash counts, in a
/// second pass over the column: keeps the values whose count is above the 10th count, and the
/// smallest of the values tied at it (ties are broken by value, ascending). A value's count is
/// looked up only when it could enter the result.
pub struct TopValueRecovery {
    counts: HashCounts,
    boundary: u64,
    above: HashMap<u64, Option<String>, PreHashedState>,
    /// The hashes counted exactly `boundary` times, when there are few of them (else each
    /// candidate's count is looked up in `counts`).
    at_boundary: Option<std::collections::HashSet<u64, PreHashedState>>,
    tied_wanted: usize,
    tied: std::collections::BTreeSet<String>,
}

impl TopValueRecovery {
    pub fn new(counts: HashCounts) -> Self {
        let boundary = counts.boundary();
        let above: HashMap<u64, Option<String>, PreHashedState> =
            counts.pairs().filter(|&(_, c)| c > boundary).map(|(h, _)| (h, None)).collect();
        let tied_wanted = TOP_VALUES.saturating_sub(above.len());
        let tied_count = counts.counts.iter().filter(|&&c| c == boundary).count();
        let at_boundary = (tied_count <= AT_BOUNDARY_SET_LIMIT)
            .then(|| counts.pairs().filter(|&(_, c)| c == boundary).map(|(h, _)| h).collect());
        Self { counts, boundary, above, at_boundary, tied_wanted, tied: Default::default() }
    }

    pub fn observe(&mut self, column: &ArrayRef) {
        for value in column.as_string::<i32>().iter().flatten() {
            let h = text_hash(value);
            if let Some(slot) = self.above.get_mut(&h) {
                if slot.is_none() {
                    *slot = Some(value.to_string());
                }
                continue;
            }
            if self.tied_wanted == 0 {
                continue;
            }
            let worth_keeping =
                self.tied.len() < self.tied_wanted || self.tied.last().is_some_and(|last| value < last.as_str());
            let at_boundary = || match &self.at_boundary {
                Some(set) => set.contains(&h),
                None => self.counts.count(h) == self.boundary,
            };
            if worth_keeping && !self.tied.contains(value) && at_boundary() {
                self.tied.insert(value.to_string());
                if self.tied.len() > self.tied_wanted {
                    self.tied.pop_last();
                }
            }
        }
    }

    pub fn finish(self) -> Vec<(String, u64)> {
        let counts = &self.counts;
        let above = self.above.into_iter().filter_map(|(h, value)| value.map(|v| (v, counts.count(h)))).collect();
        ranked(above, self.tied, self.boundary)
    }
}

/// Pearson co-moments of one pair of columns: the count, means, sums of squared deviations
/// and the sum of cross deviations. Each batch's are computed by the corrected two-pass
/// algorithm (means first, then deviations from them, minus the rounding left in their sum)
/// and batches are combined with Chan et al.'s pairwise update, so no sum of raw squares is
/// ever formed (values near 10⁹ with a tiny spread keep their digits).
#[derive(Debug, Clone, Copy, Default)]
struct CoMoment {
    n: u64,
    mean_x: f64,
    mean_y: f64,
    m2_x: f64,
    m2_y: f64,
    c_xy: f64,
}

impl CoMoment {
    /// The co-moments of the rows where both `xs` and `ys` hold a value (not NaN).
    fn of(xs: &[f64], ys: &[f64]) -> Self {
        let both = |x: f64, y: f64| !(x.is_nan() || y.is_nan());
        let (mut n, mut sum_x, mut sum_y) = (0u64, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(ys) {
            if both(x, y) {
                n += 1;
                sum_x += x;
                sum_y += y;
            }
        }
        if n == 0 {
            return Self::default();
        }
        let nf = n as f64;
        let (guess_x, guess_y) = (sum_x / nf, sum_y / nf);
        let (mut dx_sum, mut dy_sum, mut m2_x, mut m2_y, mut c_xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(ys) {
            if both(x, y) {
                let (dx, dy) = (x - guess_x, y - guess_y);
                dx_sum += dx;
                dy_sum += dy;
                m2_x += dx * dx;
                m2_y += dy * dy;
                c_xy += dx * dy;
            }
        }
        Self {
            n,
            mean_x: guess_x + dx_sum / nf,
            mean_y: guess_y + dy_sum / nf,
            m2_x: m2_x - dx_sum * dx_sum / nf,
            m2_y: m2_y - dy_sum * dy_sum / nf,
            c_xy: c_xy - dx_sum * dy_sum / nf,
        }
    }

    /// Adds the rows `other` covers.
    fn merge(&mut self, other: &CoMoment) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (a, b) = (self.n as f64, other.n as f64);
        let n = a + b;
        let (dx, dy) = (other.mean_x - self.mean_x, other.mean_y - self.mean_y);
        let weight = a * b / n;
        self.m2_x += other.m2_x + dx * dx * weight;
        self.m2_y += other.m2_y + dy * dy * weight;
        self.c_xy += other.c_xy + dx * dy * weight;
        self.mean_x += dx * b / n;
        self.mean_y += dy * b / n;
        self.n += other.n;
    }

    fn r(&self) -> Option<f64> {
        if self.n < 2 || self.m2_x <= 0.0 || self.m2_y <= 0.0 {
            return None;
        }
        finite((self.c_xy / (self.m2_x.sqrt() * self.m2_y.sqrt())).clamp(-1.0, 1.0))
    }
}

/// Pairwise-complete Pearson correlations of numeric columns, fed batch by batch.
pub struct Correlations {
    names: Vec<String>,
    /// Upper triangle including the diagonal, row-major.
    pairs: Vec<CoMoment>,
    /// Per column, the first finite value seen: values are taken relative to it (r does not
    /// change under a shift), so the means being combined are small numbers whose rounding
    /// is negligible beside the spread even when the values are near 10⁹.
    shifts: Vec<Option<f64>>,
}

impl Correlations {
    pub fn new(names: Vec<String>) -> Self {
        let k = names.len();
        Self { names, pairs: vec![CoMoment::default(); k * (k + 1) / 2], shifts: vec![None; k] }
    }

    fn index(&self, i: usize, j: usize) -> usize {
        let k = self.names.len();
        i * k - i * (i + 1) / 2 + j
    }

    /// `columns` are this batch's numeric columns (Int64 or Float64) in the order of `names`.
    pub fn observe(&mut self, columns: &[ArrayRef]) {
        let mut values: Vec<Vec<f64>> = columns.iter().map(finite_or_nan).collect();
        for (column, shift) in values.iter_mut().zip(&mut self.shifts) {
            if shift.is_none() {
                *shift = column.iter().copied().find(|x| !x.is_nan());
            }
            if let Some(shift) = *shift {
                column.iter_mut().for_each(|x| *x -= shift);
            }
        }
        let k = self.names.len();
        for i in 0..k {
            for j in i..k {
                let at = self.index(i, j);
                self.pairs[at].merge(&CoMoment::of(&values[i], &values[j]));
            }
        }
    }

    pub fn finish(self) -> Vec<(String, Vec<(String, Option<f64>)>)> {
        let k = self.names.len();
        (0..k)
            .map(|i| {
                let row = (0..k)
                    .map(|j| {
                        let (a, b) = if i <= j { (i, j) } else { (j, i) };
                        let r = self.pairs[self.index(a, b)].r();
                        // A column with itself: exactly 1 when defined (rounding could
                        // give 0.9999999999999999).
                        (self.names[j].clone(), if i == j { r.map(|_| 1.0) } else { r })
                    })
                    .collect();
                (self.names[i].clone(), row)
            })
            .collect()
    }
}

/// Finite values as f64; missing and infinite values (and NaN) as NaN.
fn finite_or_nan(column: &ArrayRef) -> Vec<f64> {
    let finite_only = |x: f64| if x.is_finite() { x } else { f64::NAN };
    match column.data_type() {
        DataType::Int64 => {
            column.as_primitive::<Int64Type>().iter().map(|v| v.map_or(f64::NAN, |x| x as f64)).collect()
        }
        DataType::Float64 => {
            column.as_primitive::<Float64Type>().iter().map(|v| v.map_or(f64::NAN, finite_only)).collect()
        }
        _ => vec![f64::NAN; column.len()],
    }
}

/// Bytes of one column chunk in the documented in-memory layout (without the per-column
/// validity bitmap, which [`memory_usage_mb`] adds once).
pub fn layout_bytes(column: &ArrayRef) -> u64 {
    let n = column.len() as u64;
    match column.data_type() {
        DataType::Int64 | DataType::Float64 | DataType::Timestamp(_, _) => 8 * n,
        DataType::Date32 => 4 * n,
        DataType::Boolean => n.div_ceil(8),
        // Text read dictionary-encoded counts as the same text column would.
        _ if is_text(column) => {
            let mut text = 0;
            for_each_text(column, |value, rows| text += rows * value.len() as u64);
            4 * n + text
        }
        _ => 8 * n,
    }
}

fn is_text(column: &ArrayRef) -> bool {
    column.data_type() == &DataType::Utf8 || text_dictionary(column).is_some()
}

/// Calls `each` with every non-missing text of a `Utf8` or `Dictionary(Int32, Utf8)` chunk and
/// the number of rows it stands for: once per row for plain text; for a dictionary, once per
/// distinct value of the chunk, with its number of rows (no row's text is read).
fn for_each_text(column: &ArrayRef, mut each: impl FnMut(&str, u64)) {
    match text_dictionary(column) {
        Some((keys, values)) => {
            for (k, rows) in key_counts(keys, values.len()).into_iter().enumerate() {
                if rows > 0 && values.is_valid(k) {
                    each(values.value(k), rows);
                }
            }
        }
        None => column.as_string::<i32>().iter().flatten().for_each(|value| each(value, 1)),
    }
}

/// The keys and values of a `Dictionary(Int32, Utf8)` column.
fn text_dictionary(column: &ArrayRef) -> Option<(&PrimitiveArray<Int32Type>, &StringArray)> {
    let dictionary = column.as_dictionary_opt::<Int32Type>()?;
    Some((dictionary.keys(), dictionary.values().as_string_opt::<i32>()?))
}

/// How many non-missing rows hold each of the `values` dictionary keys.
fn key_counts(keys: &PrimitiveArray<Int32Type>, values: usize) -> Vec<u64> {
    let mut counts = vec![0u64; values];
    for k in keys.iter().flatten() {
        if let Some(count) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
            *count += 1;
        }
    }
    counts
}

/// Total MB (10⁶ bytes, exact to the byte) of `columns` columns of `rows` rows whose value bytes are
/// `value_bytes`: adds each column's validity bitmap and the extra text offset.
pub fn memory_usage_mb(value_bytes: u64, rows: u64, columns: u64, text_columns: u64) -> f64 {
    let total = value_bytes + columns * rows.div_ceil(8) + text_columns * 4;
    total as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook formulas, written out independently of the implementation.
    fn naive(xs: &[f64]) -> (f64, f64, f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let m = |k: i32| xs.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let g1 = m(3) / m(2).powf(1.5);
        let skew = g1 * (n * (n - 1.0)).sqrt() / (n - 2.0);
        let g2 = m(4) / m(2).powi(2) - 3.0;
        let kurt = (n - 1.0) / ((n - 2.0) * (n - 3.0)) * ((n + 1.0) * g2 + 6.0);
        (mean, var.sqrt(), skew, kurt)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn sorted_floats_are_in_total_cmp_order() {
        let mut xs = vec![
            f64::INFINITY,
            -0.0,
            0.0,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 4.0,
            -f64::MIN_POSITIVE / 4.0,
            f64::MAX,
            f64::MIN,
            1.5,
            -1.5,
            1e-300,
            -1e300,
            f64::NAN,
            -f64::NAN,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            xs.push(f64::from_bits(state));
        }
        let mut expected = xs.clone();
        expected.sort_by(f64::total_cmp);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        sort_floats(&mut xs);
        assert_eq!(bits(&xs), bits(&expected));
    }

    #[test]
    fn radix_sorts_order_like_the_standard_sorts_for_every_shape_and_size() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        // Around the sort's own thresholds (small slices, 30,000 values) and beyond.
        for n in [0usize, 1, 2, 3, 31, 32, 33, 255, 256, 1_000, 29_999, 30_000, 30_001, 100_000] {
            let random: Vec<u64> = (0..n).map(|_| next()).collect();
            let shapes: Vec<Vec<u64>> = vec![
                random.clone(),
                random.iter().map(|r| r % 7).collect(),
                random.iter().map(|r| r >> 40 << 40).collect(),
                (0..n as u64).collect(),
                (0..n as u64).rev().collect(),
                (0..n as u64).map(|i| if i % 100 == 0 { i.wrapping_mul(31) } else { i }).collect(),
                vec![42; n],
            ];
            for shape in shapes {
                let mut expected = shape.clone();
                expected.sort_unstable();
                let mut hashes = shape.clone();
                sort_hashes(&mut hashes);
                assert_eq!(hashes, expected, "u64, {n} values");

                let ints: Vec<i64> = shape.iter().map(|&v| v as i64).collect();
                let mut expected = ints.clone();
                expected.sort_unstable();
                let mut sorted = ints;
                sort_ints(&mut sorted);
                assert_eq!(sorted, expected, "i64, {n} values");

                let floats: Vec<f64> = shape.iter().map(|&v| f64::from_bits(v)).collect();
                let mut expected = floats.clone();
                expected.sort_by(f64::total_cmp);
                let mut sorted = floats;
                sort_floats(&mut sorted);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&sorted), bits(&expected), "f64, {n} values");
            }
        }
    }

    #[test]
    fn text_read_as_a_dictionary_has_the_statistics_and_layout_of_the_same_text() {
        use arrow::array::{DictionaryArray, Int32Array};
        use std::sync::Arc;
        let values = Arc::new(StringArray::from(vec![Some("b"), Some("a"), Some("unused"), Some("ccc")]));
        let batches_of_keys =
            [vec![Some(0), Some(1), None, Some(0), Some(3), Some(0)], vec![Some(1), Some(1), Some(3), None], vec![]];
        let (mut from_text, mut from_dictionary) = (
            ColumnValues::for_type_hashed(&DataType::Utf8, true),
            ColumnValues::for_type_hashed(
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            ),
        );
        let (mut missing, mut layout) = ((0, 0), (0, 0));
        for keys in batches_of_keys {
            let dictionary: ArrayRef = Arc::new(
                DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys.clone()), values.clone()).unwrap(),
            );
            let text: ArrayRef = Arc::new(StringArray::from(
                keys.iter().map(|k| k.map(|k| values.value(k as usize).to_string())).collect::<Vec<_>>(),
            ));
            missing.0 += from_text.observe(&text);
            missing.1 += from_dictionary.observe(&dictionary);
            layout.0 += layout_bytes(&text);
            layout.1 += layout_bytes(&dictionary);
        }
        assert_eq!(missing, (2, 2));
        assert_eq!(layout.0, layout.1);
        assert_eq!(layout.0, 4 * 10 + (1 + 1 + 1 + 3 + 1) + (1 + 1 + 3));
        let counts = |values: ColumnValues| match values {
            ColumnValues::TextHashes(tally) => {
                let counts = tally.into_counts();
                (counts.distinct(), counts.known_top_values())
            }
            _ => panic!("text is counted by hash"),
        };
        let (text, dictionary) = (counts(from_text), counts(from_dictionary));
        assert_eq!(text, dictionary);
        assert_eq!(text.0, 3);
        let top = text.1.expect("the memo names every value");
        assert_eq!(top, vec![("a".to_string(), 3), ("b".to_string(), 3), ("ccc".to_string(), 2)]);
    }

    #[test]
    fn moments_match_the_textbook_formulas() {
        let xs = vec![2.0, 8.0, 0.0, 4.0, 1.0, 9.0, 9.0, 0.0, 3.5, -7.25];
        let (mean, std, skew, kurt) = naive(&xs);
        let (s, unique) = float_stats(xs);
        assert_eq!(unique, 8);
        assert!(close(s.mean.unwrap(), mean));
        assert!(close(s.std.unwrap(), std));
        assert!(close(s.skewness.unwrap(), skew));
        assert!(close(s.kurtosis.unwrap(), kurt));
    }

    #[test]
    fn anscombe_quartet_has_its_published_summary() {
        let x = [10.0, 8.0, 13.0, 9.0, 11.0, 14.0, 6.0, 4.0, 12.0, 7.0, 5.0];
        let y1 = [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68];
        let (sx, _) = float_stats(x.to_vec());
        assert!(close(sx.mean.unwrap(), 9.0));
        assert!(close(sx.std.unwrap().powi(2), 11.0), "sample variance of x is 11");
        let (sy, _) = float_stats(y1.to_vec());
        assert!((sy.mean.unwrap() - 7.50).abs() < 0.005);
        assert!((sy.std.unwrap().powi(2) - 4.127).abs() < 0.003);
        let mut c = Correlations::new(vec!["x".into(), "y".into()]);
        let xs: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(x.to_vec()));
        let ys: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(y1.to_vec()));
        c.observe(&[xs, ys]);
        let m = c.finish();
        assert!((m[0].1[1].1.unwrap() - 0.816).abs() < 0.0005);
        assert_eq!(m[1].1[0].1, m[0].1[1].1, "the matrix is symmetric");
        assert_eq!(m[0].1[0].1, Some(1.0));
    }

    #[test]
    fn percentiles_interpolate_between_closest_ranks() {
        let (s, _) = float_stats(vec![4.0, 1.0, 3.0, 2.0]);
        let p = s.percentiles.unwrap();
        // h = 3p: p25 → 0.75 between 1 and 2; p50 → 1.5; p75 → 2.25.
        assert_eq!((p.p25, p.p50, p.p75), (1.75, 2.5, 3.25));
        assert_eq!(s.iqr, Some(1.5));
    }

    #[test]
    fn outliers_are_outside_one_and_a_half_iqr() {
        let mut xs: Vec<f64> = (1..=8).map(f64::from).collect();
        xs.push(100.0);
        xs.push(-50.0);
        let (s, _) = float_stats(xs.clone());
        let p = s.percentiles.clone().unwrap();
        let iqr = p.p75 - p.p25;
        let expected = xs.iter().filter(|&&x| x < p.p25 - 1.5 * iqr || x > p.p75 + 1.5 * iqr).count() as u64;
        assert_eq!(s.outlier_count, Some(expected));
        assert_eq!(expected, 2);
    }

    #[test]
    fn the_histogram_has_ten_equal_bins_and_a_closed_last_bin() {
        let xs: Vec<f64> = (0..=100).map(f64::from).collect();
        let h = histogram(&xs).unwrap();
        assert_eq!(h.bin_edges.len(), 11);
        assert_eq!(h.bin_edges[0], 0.0);
        assert_eq!(h.bin_edges[10], 100.0);
        assert_eq!(h.counts, vec![10, 10, 10, 10, 10, 10, 10, 10, 10, 11]);
        assert_eq!(h.counts.iter().sum::<u64>(), 101);
    }

    #[test]
    fn a_constant_column_has_null_shape_statistics_and_a_centred_histogram() {
        let (s, unique) = float_stats(vec![3.0; 5]);
        assert_eq!(unique, 1);
        assert_eq!(s.std, Some(0.0));
        assert_eq!(s.skewness, None);
        assert_eq!(s.kurtosis, None);
        let h = s.histogram.unwrap();
        assert_eq!(h.bin_edges[0], 2.5);
        assert_eq!(h.bin_edges[10], 3.5);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert_eq!(h.counts[5], 5);
    }

    #[test]
    fn one_value_has_a_mean_but_no_spread() {
        let (s, _) = float_stats(vec![42.0]);
        assert_eq!(s.mean, Some(42.0));
        assert_eq!(s.std, None);
        assert_eq!(s.skewness, None);
        assert_eq!(s.percentiles.unwrap().p50, 42.0);
    }

    #[test]
    fn no_values_give_no_numbers() {
        let (s, unique) = float_stats(vec![]);
        assert_eq!(unique, 0);
        assert_eq!(s, NumericStats::default());
    }

    #[test]
    fn large_values_with_tiny_variance_keep_an_exact_std() {
        let xs: Vec<f64> = (0..1000).map(|i| 1e9 + f64::from(i % 2) * 0.001).collect();
        let (s, _) = float_stats(xs);
        // Half the values are a = 1e9, half b = the double nearest 1e9 + 0.001; d = b − a is
        // exact, and the sample std is (d/2)·√(1000/999).
        let d = (1e9 + 0.001) - 1e9;
        let expected = d / 2.0 * (1000.0f64 / 999.0).sqrt();
        assert!((s.std.unwrap() - expected).abs() < 1e-12, "{:?} vs {expected}", s.std);
        assert!((s.mean.unwrap() - (1e9 + d / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn infinities_are_counted_and_kept_out_of_the_moments() {
        let (s, unique) = float_stats(vec![1.0, f64::INFINITY, 3.0, f64::NEG_INFINITY, f64::INFINITY]);
        assert_eq!(s.infinite_count, 3);
        assert_eq!(unique, 4);
        assert_eq!(s.mean, Some(2.0));
        assert_eq!(s.max, Some(Scalar::Float(3.0)));
    }

    #[test]
    fn huge_and_tiny_floats_keep_finite_statistics() {
        let (s, _) = float_stats(vec![1e300, -1e300, 1e-300, 0.0, 5e-324]);
        assert_eq!(s.min, Some(Scalar::Float(-1e300)));
        assert_eq!(s.max, Some(Scalar::Float(1e300)));
        assert!(s.mean.unwrap().abs() < 1e285, "the huge values cancel: {:?}", s.mean);
        // Sample std of {1e300, -1e300, ~0, ~0, ~0}: √(2·1e600 / 4) = 1e300/√2.
        assert!(close(s.std.unwrap(), 1e300 / 2f64.sqrt()), "{:?}", s.std);
        let h = s.histogram.unwrap();
        assert!(h.bin_edges.iter().all(|e| e.is_finite()), "{:?}", h.bin_edges);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        let (t, _) = float_stats(vec![1e-310, 2e-310, 3e-310, 4e-310]);
        assert!((t.mean.unwrap() - 2.5e-310).abs() < 1e-320, "{:?}", t.mean);
        // Sample std of {1, 2, 3, 4}·1e-310 is √(5/3)·1e-310.
        assert!((t.std.unwrap() - (5.0f64 / 3.0).sqrt() * 1e-310).abs() < 1e-320, "{:?}", t.std);
    }

    #[test]
    fn values_near_the_largest_double_keep_finite_percentiles_and_edges() {
        let (s, _) = float_stats(vec![-1.7e308, 1.7e308, 0.0]);
        let p = s.percentiles.clone().unwrap();
        assert!(p.p25.is_finite() && p.p75.is_finite(), "{p:?}");
        assert!((p.p25 - (-0.85e308)).abs() < 1e293);
        let h = s.histogram.clone().unwrap();
        assert!(h.bin_edges.iter().all(|e| e.is_finite()), "{:?}", h.bin_edges);
        assert!(h.bin_edges.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(h.counts[9], 1, "the max is in the last bin");
        let stored = serde_json::to_value(&s).unwrap();
        assert!(serde_json::from_value::<NumericStats>(stored).is_ok(), "the statistics can be stored and read back");
    }

    #[test]
    fn a_constant_column_of_huge_or_odd_values_is_in_the_middle_bin() {
        for v in [0.001, 1e17, -3.3] {
            let (s, _) = float_stats(vec![v; 4]);
            assert_eq!(s.histogram.unwrap().counts[5], 4, "{v}");
        }
    }

    #[test]
    fn int64_extremes_keep_exact_min_and_max() {
        let (s, unique) = int_stats(vec![i64::MAX, i64::MIN, 0]);
        assert_eq!(unique, 3);
        assert_eq!(s.min, Some(Scalar::Int(i64::MIN)));
        assert_eq!(s.max, Some(Scalar::Int(i64::MAX)));
        assert!(s.mean.unwrap().is_finite());
    }

    #[test]
    fn top_values_break_ties_by_value() {
        let counts: HashMap<String, u64> =
            [("b", 2), ("a", 2), ("c", 5), ("d", 1)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(top_values(counts), vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2), ("d".into(), 1)]);
        let many: HashMap<String, u64> = (0..30).map(|i| (format!("v{i:02}"), 1)).collect();
        assert_eq!(top_values(many).len(), TOP_VALUES);
    }

    #[test]
    fn top_values_recovered_from_hashes_equal_the_exact_ones() {
        let values: Vec<String> =
            (0..500).map(|i| format!("v{}", (i * 7919) % 37)).chain((0..40).map(|i| format!("u{i}"))).collect();
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.clone()));
        let mut exact = ColumnValues::for_type(&DataType::Utf8);
        exact.observe(&column);
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8, true);
        hashed.observe(&column);
        let (ColumnValues::Text(counts), ColumnValues::TextHashes(hash_counts)) = (exact, hashed) else {
            unreachable!()
        };
        let hash_counts = hash_counts.into_counts();
        assert_eq!(counts.len() as u64, hash_counts.distinct());
        let mut recovery = TopValueRecovery::new(hash_counts);
        recovery.observe(&column);
        assert_eq!(recovery.finish(), top_values(counts));
        // All-distinct values: every count ties, so the smallest values win.
        let unique: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(
            (0..100).rev().map(|i| format!("id{i:03}")).collect::<Vec<_>>(),
        ));
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8, true);
        hashed.observe(&unique);
        let ColumnValues::TextHashes(h) = hashed else { unreachable!() };
        let mut recovery = TopValueRecovery::new(h.into_counts());
        recovery.observe(&unique);
        let top = recovery.finish();
        assert_eq!(top.len(), 10);
        assert_eq!(top[0], ("id000".to_string(), 1));
        assert_eq!(top[9], ("id009".to_string(), 1));
    }

    /// Top values by exact counting, by the texts remembered while counting hashes (when they
    /// name them), and by the second pass.
    fn top_values_three_ways(
        values: &[String],
    ) -> (Vec<(String, u64)>, Option<Vec<(String, u64)>>, Vec<(String, u64)>) {
        let mut exact: HashMap<String, u64> = HashMap::new();
        values.iter().for_each(|v| *exact.entry(v.clone()).or_default() += 1);
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.to_vec()));
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8, true);
        for chunk in 0..values.len().div_ceil(1000) {
            let end = ((chunk + 1) * 1000).min(values.len());
            hashed.observe(&column.slice(chunk * 1000, end - chunk * 1000));
        }
        let ColumnValues::TextHashes(tally) = hashed else { unreachable!() };
        let counts = tally.into_counts();
        let known = counts.known_top_values();
        let mut recovery = TopValueRecovery::new(counts);
        recovery.observe(&column);
        (top_values(exact), known, recovery.finish())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

        #[test]
        fn top_values_named_while_counting_equal_exact_counting(
            values in proptest::collection::vec("[a-d]{0,3}", 0..300),
        ) {
            let (exact, known, recovered) = top_values_three_ways(&values);
            proptest::prop_assert_eq!(known.as_ref(), Some(&exact), "a small column is named in full");
            proptest::prop_assert_eq!(recovered, exact);
        }
    }

    #[test]
    fn unique_ids_beyond_the_memo_are_named_by_the_smallest_values_kept() {
        // 200,000 distinct ids (about 11 MB of memo: more than it keeps), in descending order,
        // so that the smallest ones come last.
        let values: Vec<String> = (0..200_000).rev().map(|i| format!("id{i:07}")).collect();
        let (exact, known, recovered) = top_values_three_ways(&values);
        assert_eq!(exact[0], ("id0000000".to_string(), 1));
        assert_eq!(known, Some(exact.clone()));
        assert_eq!(recovered, exact);
    }

    #[test]
    fn frequent_values_first_seen_after_the_memo_is_full_are_recovered_by_a_second_pass() {
        // The memo fills with 200,000 distinct values seen twice each; then twelve values seen
        // three times each, not remembered, make the top.
        let mut values: Vec<String> = (0..200_000).map(|i| format!("v{i:07}")).collect();
        values.extend(values.clone());
        for _ in 0..3 {
            values.extend((0..12).map(|i| format!("zz{i:02}")));
        }
        let (exact, known, recovered) = top_values_three_ways(&values);
        assert_eq!(exact[0], ("zz00".to_string(), 3));
        assert_eq!(known, None, "the memo cannot name them");
        assert_eq!(recovered, exact);
    }

    #[test]
    fn outliers_counted_by_selection_equal_those_of_the_sorted_values() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in [1usize, 2, 3, 4, 5, 10, 101, 1000] {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let x = (state % 1000) as f64 / 10.0;
                    if i % 97 == 5 { x * 50.0 } else { x }
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let p = Percentiles { p25: percentile(&sorted, 0.25), p50: 0.0, p75: percentile(&sorted, 0.75) };
            assert_eq!(outlier_count(values), tukey_outliers(&sorted, &p) as u64, "n = {n}");
        }
    }

    #[test]
    fn a_tally_past_the_map_limit_counts_the_same_as_exact_counting() {
        // More distinct values than the map holds, with repeats before and after the switch.
        let values: Vec<String> = (0..3 * TALLY_MAP_LIMIT)
            .map(|i| format!("k{}", (i * 31) % (TALLY_MAP_LIMIT + 500)))
            .chain((0..50).map(|i| format!("hot{}", i % 3)))
            .collect();
        let column: ArrayRef = std::sync::Arc::new(arrow::array::StringArray::from(values.clone()));
        let mut exact: HashMap<String, u64> = HashMap::new();
        values.iter().for_each(|v| *exact.entry(v.clone()).or_default() += 1);
        let mut hashed = ColumnValues::for_type_hashed(&DataType::Utf8, true);
        hashed.observe(&column);
        let ColumnValues::TextHashes(tally) = hashed else { unreachable!() };
        assert!(tally.list.is_some(), "the tally switched to its list");
        let counts = tally.into_counts();
        assert_eq!(counts.distinct(), exact.len() as u64);
        let mut recovery = TopValueRecovery::new(counts);
        recovery.observe(&column);
        assert_eq!(recovery.finish(), top_values(exact));
    }

    #[test]
    fn correlation_with_a_constant_column_is_null() {
        let mut c = Correlations::new(vec!["x".into(), "k".into()]);
        let xs: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0, 3.0]));
        let ks: ArrayRef = std::sync::Arc::new(arrow::array::Int64Array::from(vec![7, 7, 7]));
        c.observe(&[xs, ks]);
        let m = c.finish();
        assert_eq!(m[0].1[1].1, None);
        assert_eq!(m[1].1[1].1, None);
    }

    /// Pearson's r by the textbook formula, over the pairs given.
    fn textbook_r(pairs: &[(f64, f64)]) -> f64 {
        let n = pairs.len() as f64;
        let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let syy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt()
    }

    #[test]
    fn correlations_fed_in_batches_of_any_size_equal_the_textbook_value() {
        // Values near 10⁹ with a spread below 1: the textbook formula on the offsets (which
        // are exact in floating point) is the reference.
        let offsets: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                let t = i as f64 / 10_000.0;
                (t, (t * 7.0).sin() * 0.25 + t * 0.5)
            })
            .collect();
        let expected = textbook_r(&offsets);
        let xs: Vec<f64> = offsets.iter().map(|p| 1e9 + p.0).collect();
        let ys: Vec<f64> = offsets.iter().map(|p| 1e9 + p.1).collect();
        let shifted: Vec<(f64, f64)> = xs.iter().map(|x| x - 1e9).zip(ys.iter().map(|y| y - 1e9)).collect();
        let reference = textbook_r(&shifted);
        assert!((expected - reference).abs() < 1e-6, "the offsets survive the shift: {expected} vs {reference}");
        for batch in [1, 7, 64, 4_096, 10_000] {
            let mut c = Correlations::new(vec!["x".into(), "y".into()]);
            for (x, y) in xs.chunks(batch).zip(ys.chunks(batch)) {
                let x: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(x.to_vec()));
                let y: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(y.to_vec()));
                c.observe(&[x, y]);
            }
            let r = c.finish()[0].1[1].1.unwrap();
            assert!((r - reference).abs() < 1e-9, "batches of {batch}: {r} vs {reference}");
        }
    }

    #[test]
    fn correlations_use_pairwise_complete_rows() {
        let mut c = Correlations::new(vec!["x".into(), "y".into()]);
        let xs: ArrayRef =
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![Some(1.0), Some(2.0), None, Some(4.0)]));
        let ys: ArrayRef =
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![Some(2.0), Some(4.0), Some(100.0), Some(8.0)]));
        c.observe(&[xs, ys]);
        assert!(close(c.finish()[0].1[1].1.unwrap(), 1.0));
    }

    #[test]
    fn datetime_columns_report_range_and_histogram() {
        let day = MICROS_PER_DAY;
        let (t, unique) = temporal_stats(vec![0, 10 * day, 5 * day, 5 * day], true, false);
        let t = t.unwrap();
        assert_eq!(unique, 3);
        assert_eq!(t.min, "1970-01-01");
        assert_eq!(t.max, "1970-01-11");
        assert_eq!(t.histogram.bin_edges[1], "1970-01-02T00:00:00");
        assert_eq!(t.histogram.counts, vec![1, 0, 0, 0, 0, 2, 0, 0, 0, 1]);
    }
}
