//! Drift tests of categories (text, category and bool columns, and numbers with few distinct
//! values), on the counts of each value in the reference version (v1) and the current one
//! (v2), over the union of the values seen in either. Missing values are not counted.
//!
//! - **chi-squared** goodness of fit of v2's counts against v1's proportions (SciPy's
//!   `scipy.stats.chisquare(f_obs, f_exp)`): `f_expᵢ = n₂ · c₁ᵢ / n₁`,
//!   `χ² = Σ (c₂ᵢ − f_expᵢ)² / f_expᵢ`, p-value `P(χ²_{k−1} ≥ χ²)` for `k` categories. A value
//!   that v1 never had makes `χ²` infinite and the p-value 0. With a single category in both
//!   versions there is nothing to test (SciPy answers NaN): statistic 0, p-value 1.
//! - **two-proportion Z-test** (pooled), for exactly two categories: with `p₁`, `p₂` the
//!   shares of the first category (in byte order of the values) in v1 and v2 and
//!   `p = (n₁p₁ + n₂p₂)/(n₁ + n₂)`, `z = (p₁ − p₂) / √(p(1 − p)(1/n₁ + 1/n₂))`, p-value
//!   `2·P(Z ≥ |z|)`. When `p(1 − p) = 0` both versions hold one same value: `z = 0`, p-value 1.
//! - **Jensen–Shannon distance** of the two frequency vectors (SciPy's
//!   `scipy.spatial.distance.jensenshannon(p, q)`, natural logarithm): `√((KL(p‖m) + KL(q‖m))/2)`
//!   with `m = (p + q)/2`; between 0 and √ln 2.

use super::Outcome;
use super::special::{chi_squared_sf, normal_sf};

/// Counts of the same categories (in the same order) in v1 and v2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PairedCounts {
    pub v1: Vec<u64>,
    pub v2: Vec<u64>,
}

impl PairedCounts {
    /// Pairs counts by value: `v1` and `v2` list `(value, count)` (any order, each value once);
    /// categories come out in byte order of their values, with 0 where a version lacks one.
    pub fn pair<K: Ord + Clone>(v1: &[(K, u64)], v2: &[(K, u64)]) -> Self {
        let mut all: Vec<(K, u64, u64)> = Vec::with_capacity(v1.len() + v2.len());
        all.extend(v1.iter().map(|(k, c)| (k.clone(), *c, 0)));
        all.extend(v2.iter().map(|(k, c)| (k.clone(), 0, *c)));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = PairedCounts::default();
        let mut previous: Option<K> = None;
        for (key, a, b) in all {
            if previous.as_ref() == Some(&key) {
                *out.v1.last_mut().expect("a previous category") += a;
                *out.v2.last_mut().expect("a previous category") += b;
            } else {
                out.v1.push(a);
                out.v2.push(b);
                previous = Some(key);
            }
        }
        // A category neither version counts is no category.
        let keep: Vec<bool> = out.v1.iter().zip(&out.v2).map(|(a, b)| a + b > 0).collect();
        let filter = |counts: Vec<u64>| counts.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
        PairedCounts { v1: filter(out.v1), v2: filter(out.v2) }
    }

    pub fn categories(&self) -> usize {
        self.v1.len()
    }

    fn totals(&self) -> (f64, f64) {
        (self.v1.iter().sum::<u64>() as f64, self.v2.iter().sum::<u64>() as f64)
    }
}

/// Chi-squared goodness of fit of v2 against v1; `None` when either version has no value.
pub fn chi_squared(counts: &PairedCounts) -> Option<Outcome> {
    let (n1, n2) = counts.totals();
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    if counts.categories() < 2 {
        return Some(Outcome { statistic: 0.0, p_value: Some(1.0) });
    }
    let statistic: f64 = counts
        .v1
        .iter()
        .zip(&counts.v2)
        .map(|(&reference, &current)| {
            let expected = reference as f64 * n2 / n1;
            let difference = current as f64 - expected;
            difference * difference / expected
        })
        .sum();
    let p_value =
        if statistic.is_infinite() { 0.0 } else { chi_squared_sf(statistic, (counts.categories() - 1) as f64) };
    Some(Outcome { statistic, p_value: Some(p_value) })
}

/// Two-proportion Z-test; `None` with more than two categories or when either version has
/// no value. With a single category (both versions hold one same value): `z = 0`, p-value 1.
pub fn z_test(counts: &PairedCounts) -> Option<Outcome> {
    let (n1, n2) = counts.totals();
    if counts.categories() > 2 || n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    let (p1, p2) = (counts.v1[0] as f64 / n1, counts.v2[0] as f64 / n2);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if variance <= 0.0 {
        return Some(Outcome { statistic: 0.0, p_value: Some(1.0) });
    }
    let z = (p1 - p2) / variance.sqrt();
    Some(Outcome { statistic: z, p_value: Some((2.0 * normal_sf(z.abs())).min(1.0)) })
}

/// Jensen–Shannon distance of the two frequency vectors; `None` when either version has no
/// value.
pub fn jensen_shannon(counts: &PairedCounts) -> Option<Outcome> {
    let (n1, n2) = counts.totals();
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    let shares = |c: &[u64], n: f64| c.iter().map(|&x| x as f64 / n).collect::<Vec<_>>();
    Some(Outcome { statistic: js_distance(&shares(&counts.v1, n1), &shares(&counts.v2, n2)), p_value: None })
}

/// `√((KL(p‖m) + KL(q‖m))/2)`, `m = (p + q)/2`, for two probability vectors.
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let relative_entropy = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let (mut left, mut right) = (0.0, 0.0);
    for (&a, &b) in p.iter().zip(q) {
        let m = (a + b) / 2.0;
        left += relative_entropy(a, m);
        right += relative_entropy(b, m);
    }
    ((left + right) / 2.0).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(v1: &[u64], v2: &[u64]) -> PairedCounts {
        PairedCounts { v1: v1.to_vec(), v2: v2.to_vec() }
    }

    #[test]
    fn categories_pair_by_value_in_byte_order() {
        let paired = PairedCounts::pair(&[("b", 2), ("a", 1)], &[("c", 5), ("a", 3)]);
        assert_eq!(paired, counts(&[1, 2, 0], &[3, 0, 5]));
    }

    #[test]
    fn the_same_shares_are_no_drift_for_any_test() {
        let same = counts(&[10, 20, 30], &[20, 40, 60]);
        assert_eq!(chi_squared(&same), Some(Outcome { statistic: 0.0, p_value: Some(1.0) }));
        assert_eq!(jensen_shannon(&same).unwrap().statistic, 0.0);
        let two = counts(&[30, 70], &[3, 7]);
        assert_eq!(z_test(&two).unwrap().statistic, 0.0);
    }

    #[test]
    fn a_value_v1_never_had_is_infinite_chi_squared() {
        let outcome = chi_squared(&counts(&[10, 0], &[10, 1])).unwrap();
        assert!(outcome.statistic.is_infinite());
        assert_eq!(outcome.p_value, Some(0.0));
    }

    #[test]
    fn one_category_or_an_empty_version_is_handled() {
        assert_eq!(chi_squared(&counts(&[5], &[9])), Some(Outcome { statistic: 0.0, p_value: Some(1.0) }));
        assert_eq!(chi_squared(&counts(&[0, 0], &[1, 2])), None);
        let one_value = z_test(&counts(&[5, 0], &[9, 0]));
        assert_eq!(one_value, Some(Outcome { statistic: 0.0, p_value: Some(1.0) }), "both hold one same value");
        assert_eq!(z_test(&counts(&[1, 2, 3], &[1, 2, 3])), None);
        assert_eq!(z_test(&counts(&[4], &[7])), Some(Outcome { statistic: 0.0, p_value: Some(1.0) }));
    }

    #[test]
    fn disjoint_distributions_are_at_the_largest_distance() {
        let d = jensen_shannon(&counts(&[5, 0], &[0, 5])).unwrap().statistic;
        assert!((d - std::f64::consts::LN_2.sqrt()).abs() < 1e-15);
    }
}
