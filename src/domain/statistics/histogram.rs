//! The histogram of a numeric or datetime column (definition in the module doc of [`super`]).

use super::numeric::interpolate;
use super::{HISTOGRAM_BINS, Histogram};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::float_stats;

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
    fn a_constant_column_of_huge_or_odd_values_is_in_the_middle_bin() {
        for v in [0.001, 1e17, -3.3] {
            let (s, _) = float_stats(vec![v; 4]);
            assert_eq!(s.histogram.unwrap().counts[5], 4, "{v}");
        }
    }
}
