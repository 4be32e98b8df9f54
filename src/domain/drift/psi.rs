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

use std::collections::HashMap;

use super::categorical::PairedCounts;

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
    sorted_numeric_psi(&v1, v2)
}

/// [`numeric_psi`] of a `v1` already sorted ascending and finite.
pub fn sorted_numeric_psi(v1_sorted: &[f64], v2: &[f64]) -> Option<f64> {
    if v1_sorted.is_empty() {
        return None;
    }
    let edges = decile_edges(v1_sorted);
    psi(&bin_counts(&edges, v1_sorted.iter().copied()), &bin_counts(&edges, v2.iter().copied()))
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

/// Compares category counts of two versions; lists are cut to `limit` entries. Also answers
/// the counts paired by category, for the drift tests (see the order below).
pub fn categorical_drift(
    v1: &HashMap<String, u64>,
    v2: &HashMap<String, u64>,
    limit: usize,
) -> (CategoricalDrift, PairedCounts) {
    let by_count = |map: &HashMap<String, u64>, keep: &dyn Fn(&String) -> bool| {
        let mut values: Vec<(&String, u64)> = map.iter().filter(|(k, _)| keep(k)).map(|(k, &c)| (k, c)).collect();
        let count = values.len() as u64;
        let order = |a: &(&String, u64), b: &(&String, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
        first_in_order(&mut values, limit, order);
        (values.into_iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), count)
    };
    let (added, added_count) = by_count(v2, &|k| !v1.contains_key(k));
    let (removed, removed_count) = by_count(v1, &|k| !v2.contains_key(k));
    // Categories in byte order of their values when there are few (the Z-test's first
    // category is the first in byte order); otherwise in the order of a 64-bit hash of the
    // value, then the value: a fixed order (sums are always added the same way) that sorts
    // millions of distinct values by integer key rather than by comparing text.
    let categories: Vec<&String> = {
        let mut all: Vec<&String> = v1.keys().chain(v2.keys().filter(|k| !v1.contains_key(*k))).collect();
        if all.len() <= 2 {
            all.sort_unstable();
        } else {
            let mut keyed: Vec<(u64, &String)> =
                all.into_iter().map(|k| (xxhash_rust::xxh3::xxh3_64(k.as_bytes()), k)).collect();
            keyed.sort_unstable();
            all = keyed.into_iter().map(|(_, k)| k).collect();
        }
        all
    };
    let counts = |map: &HashMap<String, u64>| -> Vec<u64> {
        categories.iter().map(|k| map.get(*k).copied().unwrap_or(0)).collect()
    };
    let (c1, c2) = (counts(v1), counts(v2));
    let (n1, n2) = (c1.iter().sum::<u64>().max(1) as f64, c2.iter().sum::<u64>().max(1) as f64);
    // The largest changes first (ties by value); only those kept are copied.
    let shift = |i: usize| (c2[i] as f64 / n2 - c1[i] as f64 / n1).abs();
    let mut order: Vec<usize> = (0..categories.len()).collect();
    first_in_order(&mut order, limit, |&a, &b| {
        shift(b).total_cmp(&shift(a)).then_with(|| categories[a].cmp(categories[b]))
    });
    let top_changes = order
        .into_iter()
        .map(|i| CategoryChange {
            value: categories[i].clone(),
            v1_freq: c1[i] as f64 / n1,
            v2_freq: c2[i] as f64 / n2,
        })
        .collect();
    let psi = psi(&c1, &c2);
    let drift = CategoricalDrift { added, added_count, removed, removed_count, top_changes, psi };
    (drift, PairedCounts { v1: c1, v2: c2 })
}

/// Keeps the first `limit` items of `items` in `order`, sorted (a selection, then a sort of
/// what is kept: linear in the items, not `n log n`).
fn first_in_order<T>(items: &mut Vec<T>, limit: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if items.len() > limit && limit > 0 {
        items.select_nth_unstable_by(limit - 1, &order);
    }
    items.truncate(limit);
    items.sort_by(&order);
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
    fn categories_added_removed_and_changed_are_reported() {
        let v1: HashMap<String, u64> =
            [("a", 50), ("b", 30), ("c", 20)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let v2: HashMap<String, u64> =
            [("a", 20), ("b", 30), ("d", 50)].iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let (d, paired) = categorical_drift(&v1, &v2, 10);
        let mut pairs: Vec<(u64, u64)> = paired.v1.iter().copied().zip(paired.v2.iter().copied()).collect();
        pairs.sort_unstable();
        assert_eq!(pairs, [(0, 50), (20, 0), (30, 30), (50, 20)], "each category's counts, paired");
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["c"]);
        assert_eq!((d.added_count, d.removed_count), (1, 1));
        assert_eq!(d.top_changes[0].value, "d");
        assert!((d.top_changes[0].v2_freq - 0.5).abs() < 1e-12);
        let expected = textbook_psi(&[0.5, 0.3, 0.2, 0.0], &[0.2, 0.3, 0.0, 0.5]);
        assert!((d.psi.unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn mean_shift_is_relative_to_the_first_mean() {
        assert_eq!(mean_shift_pct(Some(80.0), Some(100.0)), Some(25.0));
        assert_eq!(mean_shift_pct(Some(-80.0), Some(-100.0)), Some(-25.0));
        assert_eq!(mean_shift_pct(Some(0.0), Some(1.0)), None);
        assert_eq!(mean_shift_pct(None, Some(1.0)), None);
    }
}
