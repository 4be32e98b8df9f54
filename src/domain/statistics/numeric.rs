//! Moments, percentiles and outliers of numeric columns (definitions in the module doc of
//! [`super`]).

use super::histogram::histogram;
use super::{NumericStats, Percentiles, Scalar, finite};
use crate::domain::sort::sort_floats;

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
pub(super) fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    let direct = a + t * (b - a);
    if direct.is_finite() { direct } else { a * (1.0 - t) + b * t }
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
    values.sort_unstable();
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

/// The number of distinct values of sorted values.
pub(super) fn count_distinct<T: PartialEq>(sorted: &[T]) -> u64 {
    match sorted.first() {
        None => 0,
        Some(_) => 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::close;

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
    fn int64_extremes_keep_exact_min_and_max() {
        let (s, unique) = int_stats(vec![i64::MAX, i64::MIN, 0]);
        assert_eq!(unique, 3);
        assert_eq!(s.min, Some(Scalar::Int(i64::MIN)));
        assert_eq!(s.max, Some(Scalar::Int(i64::MAX)));
        assert!(s.mean.unwrap().is_finite());
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
}
