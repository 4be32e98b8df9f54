//! The distribution of the two-sided one-sample Kolmogorov–Smirnov statistic `Dₙ`:
//! [`two_sided_sf`]`(n, x) = P(Dₙ ≥ x)`, the asymptotic p-value of the two-sample test.
//!
//! Which method serves which `(n, x)` follows Simard & L'Ecuyer, "Computing the Two-Sided
//! Kolmogorov-Smirnov Distribution" (J. Stat. Software 39(11), 2011), with the cut-offs SciPy's
//! `kstwo.sf` uses, so that the two agree to far better than 1e-6:
//!
//! - the Ruben–Gambino closed forms near `x = 1/(2n)` and `x = 1 − 1/n`;
//! - twice the one-sided tail ([`one_sided_sf`], Birnbaum–Tingey's exact sum) for `x ≥ 0.5`,
//!   and for the far tail (`n·x² ≥ 2.2` when `n > 140`, `n·x² > 4` when `n ≤ 140`);
//! - Durbin's matrix (Marsaglia–Tsang–Wang) for small `n·x²`;
//! - Pomeranz's recursion for `n ≤ 140` in between;
//! - Pelz–Good's asymptotic series for large `n` in between.

use super::special::ln_gamma;

/// Scaling of the matrix and recursion methods: values are kept within 2^±128.
const SCALE_EXPONENT: i32 = 128;
const SQRT_2PI: f64 = 2.506_628_274_631_000_7;
const PI_SQUARED: f64 = std::f64::consts::PI * std::f64::consts::PI;

/// `P(Dₙ ≥ x)` for the two-sided statistic of `n ≥ 1` observations.
pub fn two_sided_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: P(Dₙ ≤ x) = n!/nⁿ (2t − 1)ⁿ for 1/(2n) ≤ x ≤ 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 / nf) * (2.0 * t - 1.0))
        } else {
            (ln_factorial_over_power(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        // Ruben–Gambino: P(Dₙ ≥ x) = 2(1 − x)ⁿ for x ≥ 1 − 1/n.
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * one_sided_sf(n, x));
    }
    let n_x_squared = t * x;
    if n <= 140 {
        if n_x_squared <= 0.754693 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        if n_x_squared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        return clip(2.0 * one_sided_sf(n, x));
    }
    if n_x_squared >= 370.0 {
        return 0.0;
    }
    if n_x_squared >= 2.2 {
        return clip(2.0 * one_sided_sf(n, x));
    }
    if n <= 100_000 && nf * x.powf(1.5) <= 1.4 { clip(1.0 - durbin_cdf(n, x)) } else { clip(pelz_good_sf(n, x)) }
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `ln(n! / nⁿ)` by Stirling's series (with `n ln n` taken out first, so nothing cancels).
fn ln_factorial_over_power(n: f64) -> f64 {
    // Bernoulli terms B₂ⱼ / (2j(2j − 1)) for j = 8, …, 1, highest first (Horner in 1/n²).
    const STIRLING: [f64; 8] = [
        -2.955_065_359_477_124e-2,
        6.410_256_410_256_410e-3,
        -1.917_526_917_526_917_5e-3,
        8.417_508_417_508_417e-4,
        -5.952_380_952_380_952e-4,
        7.936_507_936_507_937e-4,
        -2.777_777_777_777_777_8e-3,
        8.333_333_333_333_333e-2,
    ];
    let r = 1.0 / n;
    let series = STIRLING.iter().fold(0.0, |acc, c| acc * (r * r) + c);
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + r * series
}

/// `P(Dₙ⁺ ≥ d)` of the one-sided statistic, by the exact sum of Smirnov and Birnbaum–Tingey:
/// `d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (d + j/n)^(j−1) (1 − d − j/n)^(n−j)`, each term computed in
/// logarithms.
pub fn one_sided_sf(n: u64, d: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let last = (nf * (1.0 - d)).floor() as u64;
    let ln_n_factorial = ln_gamma(nf + 1.0);
    let mut sum = 0.0;
    for j in 0..=last.min(n) {
        let jf = j as f64;
        let low = d + jf / nf;
        let high = 1.0 - low;
        let ln_choose = ln_n_factorial - ln_gamma(jf + 1.0) - ln_gamma(nf - jf + 1.0);
        let ln_high = if j == n {
            0.0
        } else if high <= 0.0 {
            continue;
        } else {
            (nf - jf) * high.ln()
        };
        sum += (ln_choose + (jf - 1.0) * low.ln() + ln_high + d.ln()).exp();
    }
    clip(sum)
}

/// `P(Dₙ ≤ d)` by Durbin's matrix method as Marsaglia, Tsang and Wang (2003) compute it:
/// with `d = (k − h)/n`, `k` a positive integer and `0 ≤ h < 1`, the probability is
/// `n!/nⁿ · (Hⁿ)ₖₖ` for an `m × m` matrix `H`, `m = 2k − 1`; powers by squaring, rescaled
/// by 2^128 as they grow.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nd = n as f64 * d;
    if d >= 1.0 {
        return 1.0;
    }
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    // v[j] = (1 − h^(j+1)) / (j+1)!, but its last entry (1 − 2hᵐ + max(2h − 1, 0)ᵐ) / m!;
    // w[j] = 1 / j!.
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut factorial_inverse = 1.0;
    for j in 1..=m {
        w[j - 1] = factorial_inverse;
        factorial_inverse /= j as f64;
        v[j - 1] = (1.0 - h.powi(j as i32)) * factorial_inverse;
    }
    let corner = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + corner) * factorial_inverse;

    // H: 1/(i − j + 1)! on and below the superdiagonal (j ≤ i + 1), v down the first column
    // and reversed along the last row.
    let mut matrix = vec![0.0; m * m];
    for column in 1..m {
        for row in (column - 1)..m {
            matrix[row * m + column] = w[row + 1 - column];
        }
    }
    for row in 0..m {
        matrix[row * m] = v[row];
    }
    for column in 0..m {
        matrix[(m - 1) * m + column] = v[m - 1 - column];
    }

    let mut power = identity(m);
    let mut power_exponent = 0i64;
    let mut matrix_exponent = 0i64;
    let mut remaining = n;
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = multiply(&power, &matrix, m);
            power_exponent += matrix_exponent;
        }
        matrix = multiply(&matrix, &matrix, m);
        matrix_exponent *= 2;
        if matrix[(k - 1) * m + (k - 1)].abs() > 2f64.powi(SCALE_EXPONENT) {
            let scale = 2f64.powi(-SCALE_EXPONENT);
            matrix.iter_mut().for_each(|x| *x *= scale);
            matrix_exponent += i64::from(SCALE_EXPONENT);
        }
        remaining /= 2;
    }

    let mut p = power[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 2f64.powi(-SCALE_EXPONENT) {
            p *= 2f64.powi(SCALE_EXPONENT);
            power_exponent -= i64::from(SCALE_EXPONENT);
        }
    }
    clip(scale_by_power_of_two(p, power_exponent))
}

fn identity(m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    (0..m).for_each(|i| out[i * m + i] = 1.0);
    out
}

fn multiply(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for l in 0..m {
            let x = a[i * m + l];
            if x == 0.0 {
                continue;
            }
            let (row, from) = (&mut out[i * m..(i + 1) * m], &b[l * m..(l + 1) * m]);
            row.iter_mut().zip(from).for_each(|(o, y)| *o += x * y);
        }
    }
    out
}

/// `x · 2^exponent`, in steps that neither overflow nor underflow early.
fn scale_by_power_of_two(mut x: f64, mut exponent: i64) -> f64 {
    while exponent > 0 {
        let step = exponent.min(1000);
        x *= 2f64.powi(step as i32);
        exponent -= step;
    }
    while exponent < 0 {
        let step = exponent.max(-1000);
        x *= 2f64.powi(step as i32);
        exponent -= step;
    }
    x
}

/// The interval of row `i` of Pomeranz's recursion: its first and last non-zero column.
fn pomeranz_bounds(i: usize, n: i64, whole: i64, ceil_f: i64, round_f: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-whole - ceil_f - 1, whole + ceil_f - 1)
    } else {
        let (half, odd) = (((i + 1) / 2) as i64, (i + 1) % 2);
        if odd == 0 {
            if half == n + 1 {
                (n - whole - ceil_f - 1, n + whole + ceil_f - 1)
            } else {
                (half - 1 - whole - round_f - 1, half + whole - 1 + ceil_f - 1)
            }
        } else {
            (half - 1 - whole - 1, half + whole + round_f - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `P(Dₙ ≤ x)` by Pomeranz's recursion (1974): `2n + 2` rows, each the previous one convolved
/// with (unnormalized) Poisson probabilities of `g/n`, `2g/n` or `(1 − 2g)/n`, where `g` is the
/// distance of `n·x` to the nearest integer; the answer is `n!` times the last entry.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    let whole = t.floor() as i64;
    let fraction = t - whole as f64;
    let g = fraction.min(1.0 - fraction);
    let ceil_f = i64::from(fraction > 0.0);
    let round_f = i64::from(fraction > 0.5);
    let powers = (2 * (whole + 1)) as usize;
    let series = |rate: f64| {
        let mut out = vec![1.0; powers];
        for m in 1..powers {
            out[m] = out[m - 1] * rate / m as f64;
        }
        out
    };
    let (g_powers, two_g_powers, rest_powers) = (series(g / nf), series(2.0 * g / nf), series((1.0 - 2.0 * g) / nf));

    let ni = n as i64;
    let mut previous = vec![0.0; powers];
    let mut current = vec![0.0; powers];
    current[0] = 1.0;
    let (mut previous_start, mut current_start) = (0i64, 0i64);
    let mut exponent = 0i64;
    let (mut j1, _) = pomeranz_bounds(0, ni, whole, ceil_f, round_f);
    for i in 1..(2 * n as usize + 2) {
        let k1 = j1;
        std::mem::swap(&mut previous, &mut current);
        std::mem::swap(&mut previous_start, &mut current_start);
        current.iter_mut().for_each(|c| *c = 0.0);
        let (new_j1, j2) = pomeranz_bounds(i, ni, whole, ceil_f, round_f);
        j1 = new_j1;
        let weights = if i == 1 || i == 2 * n as usize + 1 {
            &g_powers
        } else if i % 2 == 1 {
            &two_g_powers
        } else {
            &rest_powers
        };
        let length = j2 - k1 + 1;
        if length > 0 {
            let length = length as usize;
            let offset = (k1 - previous_start) as usize;
            let source = &previous[offset.min(powers)..(offset + length).min(powers)];
            let weights = &weights[..length.min(powers)];
            let first = (j1 - k1) as usize;
            let count = (j2 - j1 + 1).max(0) as usize;
            // Entries first..first+count of the full convolution of source and weights.
            for (out, index) in current.iter_mut().take(count).zip(first..) {
                let lowest = (index + 1).saturating_sub(weights.len());
                *out = (lowest..=index.min(source.len().saturating_sub(1)))
                    .filter(|&s| s < source.len())
                    .map(|s| source[s] * weights[index - s])
                    .sum();
            }
            let largest = current.iter().copied().fold(0.0, f64::max);
            if largest > 0.0 && largest < 2f64.powi(-SCALE_EXPONENT) {
                current.iter_mut().for_each(|c| *c *= 2f64.powi(SCALE_EXPONENT));
                exponent -= i64::from(SCALE_EXPONENT);
            }
            current_start = previous_start + j1 - k1;
        }
    }
    let mut answer = current[(ni - current_start) as usize];
    for m in 1..=n {
        if answer.abs() > 2f64.powi(SCALE_EXPONENT) {
            answer *= 2f64.powi(-SCALE_EXPONENT);
            exponent += i64::from(SCALE_EXPONENT);
        }
        answer *= m as f64;
    }
    clip(scale_by_power_of_two(answer, exponent))
}

/// `P(Dₙ ≥ x)` by Pelz and Good's (1976) series: Li-Chien and Korolyuk's expansion
/// `K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^1.5` in `z = x√n`, each term rewritten by Jacobi's
/// theta transformation for small `z`.
fn pelz_good_sf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z * z * z, z.powi(4), z.powi(6));
    let q_log = -PI_SQUARED / 8.0 / z2;
    if q_log < -708.0 {
        return 1.0;
    }
    let q = q_log.exp();
    let (pi4, pi6) = (PI_SQUARED * PI_SQUARED, PI_SQUARED.powi(3));
    let (k1a, k1b) = (-z2, PI_SQUARED / 4.0);
    let (k2a, k2b, k2c) =
        (6.0 * z6 + 2.0 * z4, (2.0 * z4 - 5.0 * z2) * PI_SQUARED / 4.0, pi4 * (1.0 - 2.0 * z2) / 16.0);
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = PI_SQUARED * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);

    // Σ over odd m = 2k − 1 of cᵢ(m) q^(m²), by Horner's scheme in q^(8k).
    let mut terms = [0.0f64; 4];
    let largest_k = (16.0 * z / std::f64::consts::PI).ceil() as i64;
    for k in (1..=largest_k).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let q_power = q.powf(8.0 * k as f64);
        let coefficients = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
        for (term, c) in terms.iter_mut().zip(coefficients) {
            *term = *term * q_power + c;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (term, divisor) in terms.iter_mut().zip(divisors) {
        *term = *term * q * SQRT_2PI / divisor;
    }
    // The sums over all integers k of K₂'s (π²k²) q'^(k²) and K₃'s (3π²k²z² − π⁴k⁴) q'^(k²).
    let q_all = (-PI_SQUARED / 2.0 / z2).exp();
    let sqrt3_z = 3f64.sqrt() * z;
    let (mut k2_extra, mut k3_extra) = (0.0, 0.0);
    for k in (1..=largest_k).rev() {
        let kf = k as f64;
        let k_pi = std::f64::consts::PI * kf;
        let weight = kf * kf * q_all.powf(kf * kf);
        k2_extra += weight;
        k3_extra += (sqrt3_z + k_pi) * (sqrt3_z - k_pi) * weight;
    }
    terms[2] += k2_extra * PI_SQUARED * SQRT_2PI / (-36.0 * z3);
    terms[3] += k3_extra * PI_SQUARED * SQRT_2PI / (216.0 * z6);
    for (i, term) in terms.iter_mut().enumerate() {
        *term /= nf.powf(i as f64 / 2.0);
    }
    // The survival function: 1 − K₀ − K₁/√n − …
    1.0 - terms.iter().sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_observation_has_the_uniform_tail() {
        // D₁ = max(U, 1 − U): P(D₁ ≥ x) = 2(1 − x) for x ≥ 1/2.
        for x in [0.5, 0.6, 0.75, 0.9, 0.99] {
            assert!((two_sided_sf(1, x) - 2.0 * (1.0 - x)).abs() < 1e-12, "{x}");
        }
        assert_eq!(two_sided_sf(1, 0.4), 1.0);
    }

    #[test]
    fn the_methods_agree_where_their_domains_meet() {
        // Durbin's matrix is exact everywhere: the other methods must agree with it.
        for (n, x) in [(20, 0.2), (100, 0.15), (140, 0.1), (50, 0.25), (300, 0.05), (1000, 0.03), (2000, 0.03)] {
            let exact = 1.0 - durbin_cdf(n, x);
            assert!((pomeranz_cdf(n, x) - durbin_cdf(n, x)).abs() < 1e-10 || n > 140, "pomeranz {n} {x}");
            assert!((two_sided_sf(n, x) - exact).abs() < 1e-6, "{n} {x}: {} vs {exact}", two_sided_sf(n, x));
        }
        // Pelz–Good is an approximation, good to about 1e-5 where it is used.
        let (n, x) = (2_000u64, 0.03);
        let reference = 1.0 - durbin_cdf(n, x);
        assert!((pelz_good_sf(n, x) - reference).abs() < 1e-5, "{} vs {reference}", pelz_good_sf(n, x));
    }

    #[test]
    fn the_one_sided_tail_is_half_the_two_sided_one_far_out() {
        for (n, x) in [(10u64, 0.6), (500, 0.1), (5000, 0.03)] {
            let two = two_sided_sf(n, x);
            let one = one_sided_sf(n, x);
            assert!((two - 2.0 * one).abs() < 1e-9 * two.max(1e-300) + 1e-15, "{n} {x}: {two} {one}");
        }
    }
}
