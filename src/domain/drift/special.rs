//! The special functions the drift tests need: the survival functions of the chi-squared and
//! the standard normal distributions, and `ln Γ`.
//!
//! `erfc` and `lgamma` are musl's (the `libm` crate, accurate to about one ulp); the
//! regularized upper incomplete gamma function is computed here, by its power series below
//! `x < a + 1` and by its continued fraction (modified Lentz) above, both to a relative
//! precision of 1e-15 — the method of Numerical Recipes §6.2 and of Cephes' `igamc`.

/// `ln Γ(x)` for `x > 0`.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// `P(Z > z)` for a standard normal `Z`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// `P(X > x)` for `X` chi-squared with `dof` degrees of freedom (`dof > 0`): `Q(dof/2, x/2)`.
/// NaN for `dof ≤ 0`, as SciPy's `chi2.sf`.
pub fn chi_squared_sf(x: f64, dof: f64) -> f64 {
    if dof <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    regularized_upper_gamma(dof / 2.0, x / 2.0)
}

const EPSILON: f64 = 1e-15;
const MAX_ITERATIONS: usize = 100_000;

/// `Q(a, x) = Γ(a, x) / Γ(a)` for `a > 0`, `x > 0`.
pub fn regularized_upper_gamma(a: f64, x: f64) -> f64 {
    // The common factor x^a e^(−x) / Γ(a), in logarithms (it under- or overflows otherwise).
    let log_factor = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = x^a e^(−x) / Γ(a + 1) · Σₙ xⁿ / ((a+1)…(a+n)); Q = 1 − P.
        let (mut term, mut sum, mut denominator) = (1.0 / a, 1.0 / a, a);
        for _ in 0..MAX_ITERATIONS {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * EPSILON {
                break;
            }
        }
        return (1.0 - sum * log_factor.exp()).clamp(0.0, 1.0);
    }
    // Q(a, x) = x^a e^(−x) / Γ(a) · 1 / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …))).
    let tiny = f64::MIN_POSITIVE / EPSILON;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut fraction = d;
    for i in 1..MAX_ITERATIONS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    (log_factor.exp() * fraction).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, expected: f64, tolerance: f64) -> bool {
        (got - expected).abs() <= tolerance * expected.abs().max(1e-300)
    }

    #[test]
    fn the_chi_squared_survival_function_has_its_closed_forms() {
        // dof 2: e^(−x/2); dof 1: erfc(√(x/2)).
        for x in [0.01, 0.5, 1.0, 3.84, 10.0, 50.0, 200.0] {
            assert!(close(chi_squared_sf(x, 2.0), (-x / 2.0).exp(), 1e-13), "{x}");
            assert!(close(chi_squared_sf(x, 1.0), libm::erfc((x / 2.0).sqrt()), 1e-12), "{x}");
        }
        assert_eq!(chi_squared_sf(0.0, 3.0), 1.0);
        assert_eq!(chi_squared_sf(f64::INFINITY, 3.0), 0.0);
        assert!(chi_squared_sf(1.0, 0.0).is_nan());
    }

    #[test]
    fn the_normal_survival_function_is_symmetric_and_known_at_its_quantiles() {
        assert!(close(normal_sf(0.0), 0.5, 1e-15));
        assert!(close(normal_sf(1.959963984540054), 0.025, 1e-12));
        assert!(close(normal_sf(-1.959963984540054), 0.975, 1e-12));
        assert!(close(normal_sf(8.0), 6.220960574271785e-16, 1e-10));
    }
}
