//! The walk over two sorted samples that the KS statistic and the Wasserstein distance share,
//! and what one walk gives them both ([`ecdf_gap`]).

/// The gap between two empirical distribution functions `F₁` (of `a`) and `F₂` (of `b`), where
/// `Fᵢ(x)` is the share of sample i that is ≤ x: what the KS statistic and the Wasserstein
/// distance are made of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcdfGap {
    /// The largest `F₁(x) − F₂(x)` over the distinct values x of both samples.
    pub highest: f64,
    /// The smallest `F₁(x) − F₂(x)` over the same values.
    pub lowest: f64,
    /// `∫ |F₁(x) − F₂(x)| dx`: between two consecutive distinct values both functions are flat
    /// at their values at the first of them.
    pub area: f64,
}

/// [`EcdfGap`] of two samples (each sorted ascending, finite, not empty) in one walk: the KS
/// statistic and the Wasserstein distance of the same pair cost one walk, not two (each term
/// is computed as the separate walks computed it, in the same order, so the results are
/// bit for bit those of walking twice).
pub fn ecdf_gap(a: &[f64], b: &[f64]) -> EcdfGap {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut highest, mut lowest, mut area) = (f64::NEG_INFINITY, f64::INFINITY, 0.0);
    // The previous distinct value and the difference of the functions there.
    let mut previous: Option<(f64, f64)> = None;
    for_each_distinct(a, b, |x, i, j| {
        let difference = i as f64 / n1 - j as f64 / n2;
        highest = highest.max(difference);
        lowest = lowest.min(difference);
        if let Some((p, gap)) = previous {
            area += gap.abs() * (x - p);
        }
        previous = Some((x, difference));
    });
    EcdfGap { highest, lowest, area }
}

/// Calls `each(x, i, j)` for every distinct value `x` of the two samples (both sorted
/// ascending, finite), in ascending order, with `i` and `j` the numbers of values ≤ `x` in `a`
/// and in `b`.
///
/// One merge step per value, written without a branch on which sample's value comes next
/// (a select), so that randomly interleaved samples do not pay a mispredicted branch per
/// value: measured 2–3 times faster than the branchy merge on 3.6 million values each.
#[inline]
fn for_each_distinct(a: &[f64], b: &[f64], mut each: impl FnMut(f64, usize, usize)) {
    let at = |s: &[f64], k: usize| if k < s.len() { s[k] } else { f64::INFINITY };
    let (mut i, mut j) = (0usize, 0usize);
    let (mut x, mut y) = (at(a, 0), at(b, 0));
    for _ in 0..a.len() + b.len() {
        let take_a = x <= y;
        let value = if take_a { x } else { y };
        i += usize::from(take_a);
        j += usize::from(!take_a);
        x = at(a, i);
        y = at(b, j);
        // The last of the values equal to `value` (the sentinel +∞ ends the walk).
        if x.min(y) > value {
            each(value, i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn every_distinct_value_comes_once_with_the_counts_at_or_below_it(
            mut a in proptest::collection::vec(-5i32..5, 0..60),
            mut b in proptest::collection::vec(-5i32..5, 0..60),
        ) {
            a.sort_unstable();
            b.sort_unstable();
            let (a, b): (Vec<f64>, Vec<f64>) = (a.iter().map(|&v| f64::from(v)).collect(), b.iter().map(|&v| f64::from(v)).collect());
            let mut expected: Vec<f64> = a.iter().chain(&b).copied().collect();
            expected.sort_by(f64::total_cmp);
            expected.dedup();
            let mut seen = Vec::new();
            for_each_distinct(&a, &b, |x, i, j| seen.push((x, i, j)));
            let counts = |s: &[f64], x: f64| s.partition_point(|&v| v <= x);
            let want: Vec<(f64, usize, usize)> = expected.iter().map(|&x| (x, counts(&a, x), counts(&b, x))).collect();
            proptest::prop_assert_eq!(seen, want);
        }

        #[test]
        fn one_walk_gives_what_a_walk_for_each_measure_gives_bit_for_bit(
            mut a in proptest::collection::vec(-50.0f64..50.0, 1..80),
            mut b in proptest::collection::vec(-50.0f64..50.0, 1..80),
            rounded in proptest::bool::ANY,
        ) {
            if rounded {
                a.iter_mut().chain(b.iter_mut()).for_each(|v| *v = v.round());
            }
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let (n1, n2) = (a.len() as f64, b.len() as f64);
            // The KS extremes, walked alone.
            let (mut highest, mut lowest) = (f64::NEG_INFINITY, f64::INFINITY);
            for_each_distinct(&a, &b, |_, i, j| {
                highest = highest.max(i as f64 / n1 - j as f64 / n2);
                lowest = lowest.min(i as f64 / n1 - j as f64 / n2);
            });
            // The area, walked alone.
            let mut area = 0.0;
            let mut previous: Option<(f64, usize, usize)> = None;
            for_each_distinct(&a, &b, |x, i, j| {
                if let Some((p, pi, pj)) = previous {
                    area += (pi as f64 / n1 - pj as f64 / n2).abs() * (x - p);
                }
                previous = Some((x, i, j));
            });
            let gap = ecdf_gap(&a, &b);
            proptest::prop_assert_eq!(gap.highest.to_bits(), highest.to_bits());
            proptest::prop_assert_eq!(gap.lowest.to_bits(), lowest.to_bits());
            proptest::prop_assert_eq!(gap.area.to_bits(), area.to_bits());
        }
    }
}
