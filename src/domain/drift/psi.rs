//! The population stability index of two versions' distributions.
//!
//! **PSI** (population stability index) = Σᵢ (qᵢ − pᵢ)·ln(qᵢ/pᵢ), where pᵢ and qᵢ are the
//! shares of v1's and v2's values in bin i, each share first raised to at least
//! [`PSI_EPSILON`] so that an empty bin never makes PSI infinite.
//!
//! - Numeric columns: 10 bins cut at v1's deciles d₁…d₉ (the 10%…90% percentiles by linear
//!   interpolation); the outer bins are open-ended: (−∞, d₁), [d₁, d₂), …, [d₉, +∞). A value x
//!   falls in the bin whose index is the number of deciles ≤ x. Only finite non-missing values
//!   count. Bins between equal deciles are empty in both versions and add nothing.
//! - Categorical, text and bool columns: one bin per distinct non-missing value seen in either
//!   version.
//!
//! `shift_level`: `low` when PSI < 0.1, `moderate` when 0.1 ≤ PSI ≤ 0.25, `high` when PSI > 0.25.

/// The smallest share a bin is given in the PSI sum.
pub const PSI_EPSILON: f64 = 1e-4;
/// Bins of the numeric PSI.
pub const PSI_BINS: usize = 10;

/// How much a distribution moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftLevel {
    Low,
    Moderate,
    High,
}

impl ShiftLevel {
    pub fn of(psi: f64) -> Self {
        if psi < 0.1 {
            ShiftLevel::Low
        } else if psi <= 0.25 {
            ShiftLevel::Moderate
        } else {
            ShiftLevel::High
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShiftLevel::Low => "low",
            ShiftLevel::Moderate => "moderate",
            ShiftLevel::High => "high",
        }
    }
}

/// PSI of two histograms over the same bins; `None` when either side is empty.
pub fn psi(v1_counts: &[u64], v2_counts: &[u64]) -> Option<f64> {
    let (n1, n2) = (v1_counts.iter().sum::<u64>(), v2_counts.iter().sum::<u64>());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let value = v1_counts
        .iter()
        .zip(v2_counts)
        .map(|(&a, &b)| {
            let p = (a as f64 / n1 as f64).max(PSI_EPSILON);
            let q = (b as f64 / n2 as f64).max(PSI_EPSILON);
            (q - p) * (q / p).ln()
        })
        .sum::<f64>();
    Some(value.max(0.0))
}

/// The nine inner cut points of the numeric PSI: v1's deciles (v1 sorted, finite, non-empty).
pub fn decile_edges(v1_sorted: &[f64]) -> Vec<f64> {
    (1..PSI_BINS)
        .map(|i| {
            let h = (v1_sorted.len() - 1) as f64 * (i as f64 / PSI_BINS as f64);
            let lo = h.floor() as usize;
            let frac = h - lo as f64;
            match v1_sorted.get(lo + 1) {
                Some(&next) if frac > 0.0 => v1_sorted[lo] + frac * (next - v1_sorted[lo]),
                _ => v1_sorted[lo],
            }
        })
        .collect()
}

/// [`bin_counts`] of finite values sorted ascending, by a binary search per edge.
pub fn sorted_bin_counts(edges: &[f64], sorted: &[f64]) -> Vec<u64> {
    if !edges.is_sorted() {
        return bin_counts(edges, sorted.iter().copied());
    }
    // With edges ascending, a value's bin (the number of edges ≤ it) is k exactly when
    // e[k−1] ≤ x < e[k]: the values below e[k] less those below e[k−1].
    let below: Vec<usize> = edges.iter().map(|&e| sorted.partition_point(|&x| x < e)).collect();
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut previous = 0;
    for p in below.into_iter().chain([sorted.len()]) {
        counts.push((p - previous) as u64);
        previous = p;
    }
    counts
}

/// Counts of finite `values` in the bins cut at `edges`.
pub fn bin_counts(edges: &[f64], values: impl IntoIterator<Item = f64>) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for x in values.into_iter().filter(|x| x.is_finite()) {
        counts[edges.partition_point(|&e| e <= x)] += 1;
    }
    counts
}

/// PSI of a numeric column: `v1` and `v2` are the non-missing values (any order).
pub fn numeric_psi(mut v1: Vec<f64>, v2: &[f64]) -> Option<f64> {
    v1.retain(|x| x.is_finite());
    crate::domain::sort::sort_floats(&mut v1);
    if v1.is_empty() {
        return None;
    }
    let edges = decile_edges(&v1);
    psi(&sorted_bin_counts(&edges, &v1), &bin_counts(&edges, v2.iter().copied()))
}

/// [`numeric_psi`] of `v1` and `v2` both already sorted ascending and finite.
pub fn sorted_numeric_psi(v1_sorted: &[f64], v2_sorted: &[f64]) -> Option<f64> {
    if v1_sorted.is_empty() {
        return None;
    }
    let edges = decile_edges(v1_sorted);
    psi(&sorted_bin_counts(&edges, v1_sorted), &sorted_bin_counts(&edges, v2_sorted))
}

/// One category's share in each version.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryChange {
    pub value: String,
    /// Share of v1's non-missing values (0–1).
    pub v1_freq: f64,
    pub v2_freq: f64,
}

/// Drift of a categorical column.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalDrift {
    /// Values present only in v2, most frequent first (ties by value), at most `limit`.
    pub added: Vec<String>,
    pub added_count: u64,
    /// Values present only in v1, most frequent first (ties by value), at most `limit`.
    pub removed: Vec<String>,
    pub removed_count: u64,
    /// The categories whose share changed most (by |v2_freq − v1_freq|, ties by value).
    pub top_changes: Vec<CategoryChange>,
    pub psi: Option<f64>,
}

/// (v2 − v1) / |v1| × 100; `None` when v1 is 0 or either mean is undefined.
pub fn mean_shift_pct(v1_mean: Option<f64>, v2_mean: Option<f64>) -> Option<f64> {
    let (a, b) = (v1_mean?, v2_mean?);
    (a != 0.0).then(|| (b - a) / a.abs() * 100.0).filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textbook_psi(p: &[f64], q: &[f64]) -> f64 {
        p.iter()
            .zip(q)
            .map(|(&p, &q)| {
                let (p, q) = (p.max(PSI_EPSILON), q.max(PSI_EPSILON));
                (q - p) * (q / p).ln()
            })
            .sum()
    }

    #[test]
    fn identical_distributions_have_zero_psi() {
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(numeric_psi(v.clone(), &v), Some(0.0));
    }

    #[test]
    fn psi_matches_the_textbook_sum() {
        let p = [0.1, 0.2, 0.3, 0.4];
        let q = [0.25, 0.25, 0.25, 0.25];
        let got = psi(&[10, 20, 30, 40], &[25, 25, 25, 25]).unwrap();
        assert!((got - textbook_psi(&p, &q)).abs() < 1e-12);
    }

    #[test]
    fn an_empty_bin_keeps_psi_finite() {
        let got = psi(&[50, 50, 0], &[0, 50, 50]).unwrap();
        assert!(got.is_finite() && got > 0.25);
        assert!((got - textbook_psi(&[0.5, 0.5, 0.0], &[0.0, 0.5, 0.5])).abs() < 1e-12);
    }

    #[test]
    fn deciles_cut_v1_into_ten_equal_bins() {
        let v1: Vec<f64> = (0..100).map(f64::from).collect();
        let edges = decile_edges(&v1);
        assert_eq!(edges.len(), 9);
        assert!((edges[0] - 9.9).abs() < 1e-12);
        let counts = bin_counts(&edges, v1.iter().copied());
        assert_eq!(counts, vec![10; 10]);
        // Outer bins are open-ended.
        assert_eq!(bin_counts(&edges, [-1e9, 1e9]), vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn a_shifted_distribution_is_high_drift_and_a_resample_is_low() {
        let v1: Vec<f64> = (0..10_000).map(|i| f64::from(i % 1000)).collect();
        let shifted: Vec<f64> = v1.iter().map(|x| x + 500.0).collect();
        let same: Vec<f64> = (0..5_000).map(|i| f64::from((i * 7) % 1000)).collect();
        assert_eq!(ShiftLevel::of(numeric_psi(v1.clone(), &shifted).unwrap()), ShiftLevel::High);
        assert_eq!(ShiftLevel::of(numeric_psi(v1, &same).unwrap()), ShiftLevel::Low);
    }

    #[test]
    fn shift_levels_follow_the_documented_thresholds() {
        assert_eq!(ShiftLevel::of(0.099), ShiftLevel::Low);
        assert_eq!(ShiftLevel::of(0.1), ShiftLevel::Moderate);
        assert_eq!(ShiftLevel::of(0.25), ShiftLevel::Moderate);
        assert_eq!(ShiftLevel::of(0.2501), ShiftLevel::High);
    }

    #[test]
    fn mean_shift_is_relative_to_the_first_mean() {
        assert_eq!(mean_shift_pct(Some(80.0), Some(100.0)), Some(25.0));
        assert_eq!(mean_shift_pct(Some(-80.0), Some(-100.0)), Some(-25.0));
        assert_eq!(mean_shift_pct(Some(0.0), Some(1.0)), None);
        assert_eq!(mean_shift_pct(None, Some(1.0)), None);
    }
}
