//! The normed Wasserstein distance of two numeric samples.
//!
//! `W₁(u, v) = ∫ |F_u(x) − F_v(x)| dx`, the area between the two empirical distribution
//! functions (SciPy's `scipy.stats.wasserstein_distance(u, v)`), divided by the reference's
//! population standard deviation `σ₁ = √(Σ(uᵢ − ū)²/n)` floored at [`STD_FLOOR`] (Evidently's
//! normalization), so that one threshold serves columns of any scale.

use super::sorted_merge::ecdf_gap;

/// The smallest divisor of the normed distance.
pub const STD_FLOOR: f64 = 0.001;

/// `W₁` of two samples sorted ascending (finite values); `None` when either is empty.
pub fn wasserstein(u: &[f64], v: &[f64]) -> Option<f64> {
    if u.is_empty() || v.is_empty() {
        return None;
    }
    Some(ecdf_gap(u, v).area)
}

/// The population standard deviation (two passes: the mean, then the squared deviations).
pub fn population_std(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    Some((values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt())
}

/// A distance `W₁(u, v)` ([`wasserstein`], or the area of the walk KS shares) with `u` the
/// reference, normed: `W₁ / max(σ_u, 0.001)`; `None` when `u` is empty.
pub fn normed(distance: f64, u: &[f64]) -> Option<f64> {
    Some(distance / population_std(u)?.max(STD_FLOOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_moves_every_value_by_its_size() {
        let u: Vec<f64> = (0..100).map(f64::from).collect();
        let v: Vec<f64> = u.iter().map(|x| x + 2.5).collect();
        assert!((wasserstein(&u, &v).unwrap() - 2.5).abs() < 1e-12);
        assert_eq!(wasserstein(&u, &u), Some(0.0));
    }

    #[test]
    fn point_masses_are_their_distance_apart() {
        assert_eq!(wasserstein(&[1.0, 1.0], &[4.0]), Some(3.0));
        // A constant reference divides by the floor.
        assert!((normed(wasserstein(&[1.0, 1.0], &[1.5]).unwrap(), &[1.0, 1.0]).unwrap() - 500.0).abs() < 1e-9);
        assert_eq!(wasserstein(&[], &[1.0]), None);
        assert_eq!(normed(0.5, &[]), None);
    }
}
