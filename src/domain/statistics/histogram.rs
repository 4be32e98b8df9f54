//! The histogram of a numeric or datetime column: numpy's `numpy.histogram(values, bins=10)`,
//! edges bit for bit and counts exactly (the definition is in the module doc of [`super`]).
//!
//! numpy (`lib/_histograms_impl.py`, `_core/function_base.py`, numpy 2.x) takes
//! `first, last = min, max` (`min − 0.5, max + 0.5` when they are equal), computes the edges
//! with `linspace(first, last, 11)` and puts each value in the bin of its edges, the last bin
//! closed. It raises ("Too many bins for data range") where those edges are not strictly
//! increasing; there this module has a fallback of its own.

use super::numeric::interpolate;
use super::{HISTOGRAM_BINS, Histogram};

/// The histogram of sorted finite values (n ≥ 1; `None` for no values): numpy's, or the
/// fallback where numpy has none.
pub fn histogram(sorted: &[f64]) -> Option<Histogram> {
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
    let Some(edges) = numpy_edges(first, last) else { return Some(fallback(sorted, first, last)) };
    Some(Histogram { counts: counts_by_edges(sorted, &edges), bin_edges: edges.to_vec() })
}

/// numpy's `linspace(first, last, 11)`: with step = (last − first)/10, edge i is i·step + first
/// (rounded after the multiplication, then after the addition) and the last edge is `last`.
/// When step underflows to 0, numpy computes (i/10)·(last − first) + first instead (its
/// `step == 0` branch). `None` where numpy raises for its edges: edges that are not strictly
/// increasing, which also covers a range whose width overflows (its edges are NaN and +∞).
fn numpy_edges(first: f64, last: f64) -> Option<[f64; HISTOGRAM_BINS + 1]> {
    let bins = HISTOGRAM_BINS as f64;
    let delta = last - first;
    let step = delta / bins;
    let mut edges = [last; HISTOGRAM_BINS + 1];
    for (i, edge) in edges.iter_mut().take(HISTOGRAM_BINS).enumerate() {
        let i = i as f64;
        *edge = if step == 0.0 { i / bins * delta + first } else { i * step + first };
    }
    edges.windows(2).all(|pair| pair[0] < pair[1]).then_some(edges)
}

/// Counts of sorted values between the first and the last edge, by bin: bin i holds the
/// values with eᵢ ≤ x < eᵢ₊₁, the last bin also those equal to its upper edge.
fn counts_by_edges(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let at_least = |edge: f64| sorted.len() - sorted.partition_point(|&x| x < edge);
    (0..HISTOGRAM_BINS)
        .map(|i| {
            let to = if i + 1 == HISTOGRAM_BINS { 0 } else { at_least(edges[i + 1]) };
            (at_least(edges[i]) - to) as u64
        })
        .collect()
}

/// The histogram where numpy has none (its edges would not be strictly increasing): edges
/// eᵢ = first + i·(last/10 − first/10), which cannot overflow (an edge that still does is
/// interpolated), at most `last`, and e₁₀ = last, so that they never decrease. A constant
/// column has every value in the middle bin (bin 6 of 10); other values are counted by these
/// edges.
fn fallback(sorted: &[f64], first: f64, last: f64) -> Histogram {
    let bins = HISTOGRAM_BINS as f64;
    let width = last / bins - first / bins;
    let mut edges: Vec<f64> = (0..=HISTOGRAM_BINS)
        .map(|i| {
            let edge = first + i as f64 * width;
            let edge = if edge.is_finite() { edge } else { interpolate(first, last, i as f64 / bins) };
            // The rounded width can put e₉ past `last` (for a constant near −2·10¹⁵, say).
            edge.min(last)
        })
        .collect();
    edges[HISTOGRAM_BINS] = last;
    let counts = if sorted.first() == sorted.last() {
        let mut counts = vec![0; HISTOGRAM_BINS];
        counts[HISTOGRAM_BINS / 2] = sorted.len() as u64;
        counts
    } else {
        counts_by_edges(sorted, &edges)
    };
    Histogram { counts, bin_edges: edges }
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
    fn a_constant_column_has_numpys_edges_half_a_unit_around_it_and_is_counted_by_them() {
        let h = histogram(&[-3.3; 3]).unwrap();
        assert_eq!(h.bin_edges[0], -3.8);
        assert_eq!(h.bin_edges[10], -2.8);
        assert_eq!(h.counts, vec![0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
        // numpy's sixth edge for 0.001 is 5·0.1 + (0.001 − 0.5) = 0.0010000000000000009, just
        // above the value, which is therefore in bin 5 of 10 (numpy says the same).
        let h = histogram(&[0.001; 4]).unwrap();
        assert_eq!(h.bin_edges[5], 0.0010000000000000009);
        assert_eq!(h.counts, vec![0, 0, 0, 0, 4, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_constant_column_too_large_for_half_a_unit_has_every_value_in_the_middle_bin() {
        // 1e17 ± 0.5 is 1e17 (numpy's edges are all equal); at 1e15, doubles are 0.125 apart
        // and numpy's edges 0.1 apart round onto each other. numpy raises for all of these.
        for v in [1e17, 1e15, -4e16, -1957239718277201.3] {
            let h = histogram(&[v; 4]).unwrap();
            assert_eq!(h.counts, vec![0, 0, 0, 0, 0, 4, 0, 0, 0, 0], "{v}");
            assert!(h.bin_edges.windows(2).all(|w| w[0] <= w[1]), "{v}: {:?}", h.bin_edges);
            assert!(h.bin_edges.contains(&v), "{v}: {:?}", h.bin_edges);
        }
    }

    #[test]
    fn a_range_whose_width_overflows_has_finite_fallback_edges_and_counts_every_value() {
        let h = float_stats(vec![-1.7e308, 1.7e308, 0.0, 1e308]).0.histogram.unwrap();
        assert!(h.bin_edges.iter().all(|e| e.is_finite()), "{:?}", h.bin_edges);
        assert_eq!((h.bin_edges[0], h.bin_edges[10]), (-1.7e308, 1.7e308));
        // Edges −1.7e308 + i·3.4e307: 0 is the sixth edge, 1e308 lies between the eighth
        // (6.8e307) and the ninth (1.02e308).
        assert_eq!(h.counts, vec![1, 0, 0, 0, 0, 1, 0, 1, 0, 1]);
    }

    /// numpy's `histogram(values, bins=10)` for finite values, written out from numpy's
    /// source independently of the module: `_get_outer_edges`, `linspace` (with its
    /// `step == 0` branch), the check that raises, then each value's bin by the uniform-bins
    /// branch of `histogram`: an index from (x − first)/(last − first)·10, moved by one where
    /// it disagrees with the edges. `width` is numpy's `_unsigned_subtract(last, first)`
    /// (for int64 columns, the exact integer difference). `None` where numpy raises (a
    /// ValueError for edges that are not strictly increasing, an IndexError for an index past
    /// the edges).
    fn numpy_reference(values: &[f64], first: f64, last: f64, width: f64) -> Option<(Vec<f64>, Vec<u64>)> {
        let delta = last - first;
        let step = delta / 10.0;
        let mut edges: Vec<f64> = (0..11)
            .map(|i| if step == 0.0 { (f64::from(i) / 10.0) * delta + first } else { f64::from(i) * step + first })
            .collect();
        edges[10] = last;
        if edges.windows(2).any(|w| w[0] >= w[1]) {
            return None;
        }
        let mut counts = vec![0u64; 10];
        for &x in values {
            let mut index = ((x - first) / width * 10.0) as usize;
            if index == 10 {
                index -= 1;
            }
            if index > 10 {
                // numpy raises an IndexError: int64 values beyond 2⁵³ whose rounding widens
                // the range past the exact `width`.
                return None;
            }
            if x < edges[index] {
                index -= 1;
            }
            if x >= edges[index + 1] && index != 9 {
                index += 1;
            }
            counts[index] += 1;
        }
        Some((edges, counts))
    }

    /// numpy's edges for `first`..`last` as the reference computes them.
    fn reference_edges(first: f64, last: f64) -> Vec<f64> {
        numpy_reference(&[], first, last, last - first).map(|(edges, _)| edges).unwrap_or_default()
    }

    /// Finite doubles of every magnitude and sign.
    fn finite() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
    }

    /// A min and a max: everyday ranges, any two doubles, or a constant.
    fn float_range() -> impl proptest::strategy::Strategy<Value = (f64, f64)> {
        use proptest::prelude::*;
        prop_oneof![
            (-1e6..1e6f64, 1e-9..1e6f64).prop_map(|(low, width)| (low, low + width)),
            (finite(), finite()).prop_map(|(a, b)| (a.min(b), a.max(b))),
            finite().prop_map(|a| (a, a)),
        ]
    }

    /// `min`, `max`, numpy's edges for them and their neighbours one ulp either side (those
    /// of `keep` that lie in the range), and values at the fractions `at` of the range.
    fn float_values(min: f64, max: f64, keep: &[bool], at: &[f64]) -> Vec<f64> {
        let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
        let on_edges = reference_edges(first, last).into_iter().flat_map(|e| [e.next_down(), e, e.next_up()]);
        let inside = at.iter().map(|&t| (min * (1.0 - t) + max * t).clamp(min, max));
        let mut values: Vec<f64> = on_edges.zip(keep.iter().cycle()).filter(|&(_, &k)| k).map(|(v, _)| v).collect();
        values.retain(|v| (min..=max).contains(v));
        values.extend(inside.chain([min, max]));
        values
    }

    /// `h` against numpy's `reference` for `n` values: the same edges, bit for bit, and the
    /// same counts; where numpy raises, finite edges that never decrease and every value counted.
    fn agrees_with_numpy(
        h: &Histogram,
        reference: Option<(Vec<f64>, Vec<u64>)>,
        n: usize,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        match reference {
            Some((edges, counts)) => {
                let bits = |v: &[f64]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
                proptest::prop_assert_eq!(bits(&h.bin_edges), bits(&edges), "{:?} vs {:?}", h.bin_edges, edges);
                proptest::prop_assert_eq!(&h.counts, &counts);
            }
            None => {
                proptest::prop_assert!(h.bin_edges.windows(2).all(|w| w[0] <= w[1]), "{:?}", h.bin_edges);
                proptest::prop_assert!(h.bin_edges.iter().all(|e| e.is_finite()), "{:?}", h.bin_edges);
                proptest::prop_assert_eq!(h.counts.iter().sum::<u64>(), n as u64);
            }
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

        #[test]
        fn float_histograms_equal_numpys_for_values_on_and_beside_its_edges(
            (min, max) in float_range(),
            keep in proptest::collection::vec(proptest::bool::ANY, 33),
            at in proptest::collection::vec(0.0..=1.0f64, 0..20),
        ) {
            let mut values = float_values(min, max, &keep, &at);
            values.sort_by(f64::total_cmp);
            let h = histogram(&values).unwrap();
            let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
            agrees_with_numpy(&h, numpy_reference(&values, first, last, last - first), values.len())?;
        }

        #[test]
        fn int_histograms_equal_numpys_for_values_on_and_beside_its_edges(
            min in proptest::prop_oneof![-1_000_000i64..1_000_000, proptest::num::i64::ANY],
            width in proptest::prop_oneof![0u64..1_000, 0u64..u64::MAX],
            nudges in proptest::collection::vec((0usize..11, -2i64..=2), 0..40),
            at in proptest::collection::vec(0.0..=1.0f64, 0..20),
        ) {
            let max = min.saturating_add_unsigned(width);
            let (first, last) = if min == max {
                (min as f64 - 0.5, max as f64 + 0.5)
            } else {
                (min as f64, max as f64)
            };
            let edges = reference_edges(first, last);
            let mut values: Vec<i64> = vec![min, max];
            for &(edge, nudge) in nudges.iter().filter(|_| !edges.is_empty()) {
                let near = (edges[edge].floor() as i64).saturating_add(nudge);
                values.push(near.clamp(min, max));
            }
            values.extend(at.iter().map(|&t| min.saturating_add_unsigned((max.abs_diff(min) as f64 * t) as u64).min(max)));
            let (stats, _) = crate::domain::statistics::int_stats(values.clone());
            let h = stats.histogram.unwrap();
            // numpy's _unsigned_subtract: the exact difference of the int64 min and max, as
            // float64; for a constant column, first and last are already floats.
            let width = if min == max { last - first } else { max.abs_diff(min) as f64 };
            let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            agrees_with_numpy(&h, numpy_reference(&floats, first, last, width), values.len())?;
        }
    }
}

/// The histograms numpy recorded (`tests/fixtures/make_histogram_fixtures.py`).
#[cfg(test)]
mod numpy_fixtures {
    use serde::Deserialize;

    use crate::domain::preview::format_timestamp;
    use crate::domain::statistics::{float_stats, int_stats, temporal_stats};

    /// `tests/fixtures/histograms.json`, written by `make_histogram_fixtures.py` beside it.
    #[derive(Deserialize)]
    struct Fixture {
        numpy: String,
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        dtype: String,
        values: serde_json::Value,
        bin_edges: Option<Vec<f64>>,
        counts: Option<Vec<u64>>,
        /// What numpy raised, for values it gives no histogram of.
        numpy_error: Option<String>,
    }

    fn fixture() -> Fixture {
        serde_json::from_str(include_str!("../../../tests/fixtures/histograms.json")).expect("the fixture is valid")
    }

    fn bits(edges: &[f64]) -> Vec<u64> {
        edges.iter().map(|e| e.to_bits()).collect()
    }

    #[test]
    fn histograms_equal_the_ones_numpy_recorded_edges_bit_for_bit() {
        let fixture = fixture();
        let mut compared = 0;
        for case in fixture.cases.iter() {
            let (Some(edges), Some(counts)) = (&case.bin_edges, &case.counts) else { continue };
            let context = format!("{} (numpy {})", case.name, fixture.numpy);
            match case.dtype.as_str() {
                "float64" => {
                    let values: Vec<f64> = serde_json::from_value(case.values.clone()).unwrap();
                    let h = float_stats(values).0.histogram.unwrap();
                    assert_eq!(bits(&h.bin_edges), bits(edges), "{context}: {:?} vs {edges:?}", h.bin_edges);
                    assert_eq!(&h.counts, counts, "{context}");
                }
                "int64" => {
                    let values: Vec<i64> = serde_json::from_value(case.values.clone()).unwrap();
                    let h = int_stats(values).0.histogram.unwrap();
                    assert_eq!(bits(&h.bin_edges), bits(edges), "{context}: {:?} vs {edges:?}", h.bin_edges);
                    assert_eq!(&h.counts, counts, "{context}");
                }
                "datetime" => {
                    let micros: Vec<i64> = serde_json::from_value(case.values.clone()).unwrap();
                    let h = temporal_stats(micros, false, true).0.unwrap().histogram;
                    let shown: Vec<String> = edges.iter().map(|&e| format_timestamp(e.round() as i64, true)).collect();
                    assert_eq!(h.bin_edges, shown, "{context}");
                    assert_eq!(&h.counts, counts, "{context}");
                }
                other => panic!("{context}: unknown dtype {other}"),
            }
            compared += 1;
        }
        assert!(compared >= 20, "the fixture holds the cases: {compared}");
    }

    #[test]
    fn where_numpy_raises_the_fallback_counts_every_value_between_finite_edges() {
        let fixture = fixture();
        let mut checked = 0;
        for case in fixture.cases.iter().filter(|case| case.numpy_error.is_some()) {
            let mut values: Vec<f64> = serde_json::from_value(case.values.clone()).unwrap();
            values.sort_by(f64::total_cmp);
            let (min, max) = (values[0], values[values.len() - 1]);
            let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
            assert_eq!(
                super::numpy_edges(first, last),
                None,
                "{}: numpy raised, so there are no numpy edges",
                case.name
            );
            let h = super::histogram(&values).unwrap();
            assert!(h.bin_edges.iter().all(|e| e.is_finite()), "{}: {:?}", case.name, h.bin_edges);
            assert!(h.bin_edges.windows(2).all(|w| w[0] <= w[1]), "{}: {:?}", case.name, h.bin_edges);
            assert_eq!(h.counts.iter().sum::<u64>(), values.len() as u64, "{}", case.name);
            checked += 1;
        }
        assert!(checked >= 4, "the fixture holds the cases numpy raises for: {checked}");
    }
}
