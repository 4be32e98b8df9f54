//! Per-column statistics of a version (`GET /api/datasets/{id}/analyze`), computed over every
//! row (no sampling); definitions are here and in `docs/statistics.md`. Values are told apart
//! exactly, except text values in `unique` and `top_values`, which are told apart by a 64-bit
//! hash (bound below), and whole rows in `duplicate_rows` (row hashes, see `quality`).
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
//! - `histogram`: numpy's `histogram(x, bins=10)`, edges and counts. With first = min and
//!   last = max as float64 (min − 0.5 and max + 0.5 for a constant column) and
//!   step = (last − first)/10, the edges are eᵢ = i·step + first for i < 10 (rounded after the
//!   product, then after the sum, as numpy's `linspace` computes them) and e₁₀ = last; a value
//!   x is in bin i when eᵢ ≤ x < eᵢ₊₁, the last bin closed (max is counted in bin 10); counts
//!   sum to n. A value that is an edge in exact arithmetic lies on the side the rounded edge
//!   leaves it on, as in numpy. int64 values are taken as float64 (numpy's histogram of them
//!   as float64 where numpy's int64 path fails with an IndexError: values beyond 2⁵³ whose
//!   rounding widens the range). Where numpy has no histogram (it raises because its edges are
//!   not strictly increasing: last − first overflows, or the edges round onto each other in a
//!   range only a few doubles wide, such as a constant column beyond about 5.6·10¹⁴), the
//!   edges are eᵢ = first + i·(last/10 − first/10) (at most last), e₁₀ = last, and a constant
//!   column has its values in bin 6.
//! - `unique`: distinct non-missing values (−0.0 equals 0.0; +∞ and −∞ count as values).
//!   Exact for int64, float64, bool and datetime columns. Text (`object`, `category`) values
//!   are compared by their 64-bit hash ([`crate::domain::row_hash::text_hash`]): with n
//!   distinct values, the probability that two of them share a hash is about n²/2⁶⁵ (3·10⁻⁷
//!   for 3.5 million), and each pair that does makes `unique` one lower.
//! - `missing_percent` = missing / rows, a fraction from 0 to 1.
//! - `top_values` (text, category, bool): the 10 most frequent values with their counts,
//!   ties broken by the value in ascending byte order. Exact for bool columns; text values are
//!   counted by the same 64-bit hashes as `unique`: two values that share one (probability
//!   about n²/2⁶⁵) are counted as one value, their counts added up, under the text of one of
//!   them.
//! - datetime columns: `min`, `max` and the `histogram` above of the microseconds since the
//!   epoch taken as float64, edges rounded to the microsecond and written as ISO-8601
//!   timestamps.
//! - `correlations`: Pearson's r over the rows where both columns hold finite values
//!   (pairwise-complete), for int64 and float64 columns; null when fewer than 2 such rows or
//!   either column is constant on them.
//! - `duplicate_rows`: rows equal to an earlier row (see `quality`).
//! - `memory_usage`: MB (10⁶ bytes) of the columns in Arrow's in-memory layout: per column a
//!   validity bitmap of ⌈rows/8⌉ bytes, plus 8 bytes per row (int64, float64, timestamps),
//!   4 bytes per row (dates), ⌈rows/8⌉ bytes (bool), or 4·(rows + 1) offset bytes plus the UTF-8
//!   bytes of the values (text).
//!
//! Where things are: `numeric.rs` (moments, percentiles, outliers), `histogram.rs`,
//! `temporal.rs` (datetime columns), `top_values.rs` (text counted by value hash and the
//! naming of its most frequent values), `correlation.rs`, `layout.rs` (`memory_usage`),
//! `text_chunk.rs` (plain or dictionary-encoded text chunks) and `values.rs` ([`ColumnValues`],
//! which collects one column's chunks and finishes its [`ColumnStats`]). The sorts are in
//! [`crate::domain::sort`].

mod correlation;
mod histogram;
mod layout;
mod numeric;
mod temporal;
mod text_chunk;
mod top_values;
mod values;

pub use correlation::Correlations;
pub use histogram::histogram;
pub use layout::{layout_bytes, memory_usage_mb};
pub use numeric::{float_stats, int_stats, outlier_count};
pub use temporal::temporal_stats;
pub(crate) use text_chunk::{for_each_text, is_text};
pub use top_values::{HashCounts, HashTally, SmallestValues, TopValueRecovery, top_values};
pub use values::ColumnValues;

use serde::{Deserialize, Serialize};

use crate::domain::dtype::DType;

/// Bins of every histogram.
pub const HISTOGRAM_BINS: usize = 10;
/// Entries of `top_values`.
pub const TOP_VALUES: usize = 10;
/// Correlations are computed for at most this many numeric columns (a larger matrix is
/// skipped and said so in `error`).
pub const MAX_CORRELATION_COLUMNS: usize = 100;

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

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Equal within 10⁻⁹, relatively (absolutely below 1): for figures computed two ways.
#[cfg(test)]
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
