//! The two-sample Kolmogorov–Smirnov test, two-sided, as SciPy's
//! `scipy.stats.ks_2samp(a, b, method="auto")` defines it.
//!
//! **Statistic** `D = max over every value x of |F₁(x) − F₂(x)|`, where `Fᵢ(x)` is the share of
//! sample i that is ≤ x (ties are counted on both sides at once).
//!
//! **p-value** `P(D' ≥ D)` for two samples of the same continuous distribution:
//! - exact when neither sample has more than [`EXACT_LIMIT`] values: `D` is first rounded to
//!   the lattice of `1/lcm(n₁, n₂)` on which it lives, then the share of the lattice paths
//!   from `(0, 0)` to `(n₁, n₂)` that leave the band `|x/n₁ − y/n₂| < D` is counted — by
//!   Hodges' alternating sum when `n₁ = n₂`, by the "inside" recursion otherwise (Hodges
//!   1958, in the form of Viehmann 2021 that computes the p-value directly);
//! - otherwise asymptotically, as `P(Dₑ ≥ D)` of the one-sample statistic for
//!   `e = round(n₁n₂/(n₁ + n₂))` observations ([`super::kolmogorov::two_sided_sf`]).

use super::kolmogorov::two_sided_sf;
use super::sorted_merge::{EcdfGap, ecdf_gap};

/// Largest sample for which the p-value is exact.
pub const EXACT_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// The test of two samples, each sorted ascending, without NaN; `None` when either is empty.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> Option<KsResult> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(ks_from_gap(a.len(), b.len(), &ecdf_gap(a, b)))
}

/// The test of two samples of `n1` and `n2` values (both at least one) from the gap between
/// their distribution functions ([`ecdf_gap`]).
pub(super) fn ks_from_gap(n1: usize, n2: usize, gap: &EcdfGap) -> KsResult {
    let mut d = statistic(gap);
    if n1.max(n2) <= EXACT_LIMIT {
        let g = gcd(n1, n2);
        let lcm = (n1 / g) as f64 * n2 as f64;
        let h = (d * lcm).round_ties_even();
        d = h / lcm;
        if h == 0.0 {
            return KsResult { statistic: d, p_value: 1.0 };
        }
        let h = h as u64;
        let p = if n1 == n2 { outside_square(n1 as u64, h) } else { outside_band(n1 as u64, n2 as u64, g as u64, h) };
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            return KsResult { statistic: d, p_value: p };
        }
    }
    let (large, small) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let effective = (large * small / (large + small)).round_ties_even() as u64;
    KsResult { statistic: d, p_value: two_sided_sf(effective, d) }
}

/// `max |F₁ − F₂|` over the values of both samples.
fn statistic(gap: &EcdfGap) -> f64 {
    let below = (-gap.lowest).clamp(0.0, 1.0);
    if below > gap.highest { below } else { gap.highest }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `P(D ≥ h/n)` for two samples of `n`: `2 Σₖ (−1)^(k+1) C(2n, n − kh) / C(2n, n)`, summed
/// from the innermost term outwards as `2A₁(1 − A₂(1 − A₃(…)))` (the alternating sum loses
/// every digit to cancellation otherwise).
fn outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut ratio = 1.0;
        let mut j = 0.0;
        while j < h {
            ratio = (n - k * h - j) * ratio / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = ratio * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// The share of lattice paths from `(0, 0)` to `(m, n)` that leave the band
/// `|x·n/g − y·m/g| < h` (`g = gcd(m, n)`), computed one column at a time as the complement
/// of the share that stays inside, so that a tiny p-value keeps its digits.
fn outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng, h) = ((m / g) as i64, (n / g) as i64, h as i64);
    let (m, n) = (m as i64, n as i64);
    let ceil_div = |a: i64, b: i64| (a + b - 1).div_euclid(b);
    // column[j − low] holds the value at height j of the current column.
    let mut column = vec![1.0f64; (n + 1) as usize];
    let mut low = 0i64;
    let mut high = ceil_div(h, mg).min(n + 1);
    column[..high as usize].iter_mut().for_each(|c| *c = 0.0);
    let mut length = high - low;
    for i in 1..=m {
        let (previous_low, previous_length) = (low, length);
        low = ((ng * i - h).div_euclid(mg) + 1).clamp(0, n);
        high = ceil_div(ng * i + h, mg).min(n + 1);
        if high <= low {
            return 1.0;
        }
        let mut value = if low == 0 { 0.0 } else { 1.0 };
        let fi = i as f64;
        for offset in 0..(high - low) {
            let j = (offset + low) as f64;
            let left = column[(offset + low - previous_low) as usize];
            value = (left * fi + value * j) / (fi + j);
            column[offset as usize] = value;
        }
        length = high - low;
        if previous_length > length {
            column[length as usize..previous_length as usize].iter_mut().for_each(|c| *c = 1.0);
        }
    }
    column[(high - low - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_no_distance_and_p_one() {
        let a: Vec<f64> = (0..50).map(f64::from).collect();
        let r = ks_two_sample(&a, &a).unwrap();
        assert_eq!(r, KsResult { statistic: 0.0, p_value: 1.0 });
    }

    #[test]
    fn disjoint_samples_are_at_distance_one() {
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (100..110).map(f64::from).collect();
        let r = ks_two_sample(&a, &b).unwrap();
        assert_eq!(r.statistic, 1.0);
        // Two of the C(20, 10) orderings put one sample wholly before the other.
        assert!((r.p_value - 2.0 / 184_756.0).abs() < 1e-15, "{}", r.p_value);
    }

    #[test]
    fn ties_across_samples_count_on_both_sides_at_once() {
        let r = ks_two_sample(&[1.0, 2.0, 2.0, 3.0], &[2.0, 2.0, 2.0, 2.0]).unwrap();
        assert_eq!(r.statistic, 0.25);
        assert!(ks_two_sample(&[], &[1.0]).is_none());
    }
}
