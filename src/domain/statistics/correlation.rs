//! Pairwise-complete Pearson correlations of the numeric columns, over whole rows.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use super::finite;

/// Pearson co-moments of one pair of columns: the count, means, sums of squared deviations
/// and the sum of cross deviations. Each batch's are computed by the corrected two-pass
/// algorithm (means first, then deviations from them, minus the rounding left in their sum)
/// and batches are combined with Chan et al.'s pairwise update, so no sum of raw squares is
/// ever formed (values near 10⁹ with a tiny spread keep their digits).
#[derive(Debug, Clone, Copy, Default)]
struct CoMoment {
    n: u64,
    mean_x: f64,
    mean_y: f64,
    m2_x: f64,
    m2_y: f64,
    c_xy: f64,
}

impl CoMoment {
    /// The co-moments of the rows where both `xs` and `ys` hold a value (not NaN).
    fn of(xs: &[f64], ys: &[f64]) -> Self {
        let both = |x: f64, y: f64| !(x.is_nan() || y.is_nan());
        let (mut n, mut sum_x, mut sum_y) = (0u64, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(ys) {
            if both(x, y) {
                n += 1;
                sum_x += x;
                sum_y += y;
            }
        }
        if n == 0 {
            return Self::default();
        }
        let nf = n as f64;
        let (guess_x, guess_y) = (sum_x / nf, sum_y / nf);
        let (mut dx_sum, mut dy_sum, mut m2_x, mut m2_y, mut c_xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(ys) {
            if both(x, y) {
                let (dx, dy) = (x - guess_x, y - guess_y);
                dx_sum += dx;
                dy_sum += dy;
                m2_x += dx * dx;
                m2_y += dy * dy;
                c_xy += dx * dy;
            }
        }
        Self {
            n,
            mean_x: guess_x + dx_sum / nf,
            mean_y: guess_y + dy_sum / nf,
            m2_x: m2_x - dx_sum * dx_sum / nf,
            m2_y: m2_y - dy_sum * dy_sum / nf,
            c_xy: c_xy - dx_sum * dy_sum / nf,
        }
    }

    /// Adds the rows `other` covers.
    fn merge(&mut self, other: &CoMoment) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (a, b) = (self.n as f64, other.n as f64);
        let n = a + b;
        let (dx, dy) = (other.mean_x - self.mean_x, other.mean_y - self.mean_y);
        let weight = a * b / n;
        self.m2_x += other.m2_x + dx * dx * weight;
        self.m2_y += other.m2_y + dy * dy * weight;
        self.c_xy += other.c_xy + dx * dy * weight;
        self.mean_x += dx * b / n;
        self.mean_y += dy * b / n;
        self.n += other.n;
    }

    fn r(&self) -> Option<f64> {
        if self.n < 2 || self.m2_x <= 0.0 || self.m2_y <= 0.0 {
            return None;
        }
        finite((self.c_xy / (self.m2_x.sqrt() * self.m2_y.sqrt())).clamp(-1.0, 1.0))
    }
}

/// Pairwise-complete Pearson correlations of numeric columns, fed batch by batch.
pub struct Correlations {
    names: Vec<String>,
    /// Upper triangle including the diagonal, row-major.
    pairs: Vec<CoMoment>,
    /// Per column, the first finite value seen: values are taken relative to it (r does not
    /// change under a shift), so the means being combined are small numbers whose rounding
    /// is negligible beside the spread even when the values are near 10⁹.
    shifts: Vec<Option<f64>>,
}

impl Correlations {
    pub fn new(names: Vec<String>) -> Self {
        let k = names.len();
        Self { names, pairs: vec![CoMoment::default(); k * (k + 1) / 2], shifts: vec![None; k] }
    }

    fn index(&self, i: usize, j: usize) -> usize {
        let k = self.names.len();
        i * k - i * (i + 1) / 2 + j
    }

    /// `columns` are this batch's numeric columns (Int64 or Float64) in the order of `names`.
    pub fn observe(&mut self, columns: &[ArrayRef]) {
        let mut values: Vec<Vec<f64>> = columns.iter().map(finite_or_nan).collect();
        for (column, shift) in values.iter_mut().zip(&mut self.shifts) {
            if shift.is_none() {
                *shift = column.iter().copied().find(|x| !x.is_nan());
            }
            if let Some(shift) = *shift {
                column.iter_mut().for_each(|x| *x -= shift);
            }
        }
        let k = self.names.len();
        for i in 0..k {
            for j in i..k {
                let at = self.index(i, j);
                self.pairs[at].merge(&CoMoment::of(&values[i], &values[j]));
            }
        }
    }

    pub fn finish(self) -> Vec<(String, Vec<(String, Option<f64>)>)> {
        let k = self.names.len();
        (0..k)
            .map(|i| {
                let row = (0..k)
                    .map(|j| {
                        let (a, b) = if i <= j { (i, j) } else { (j, i) };
                        let r = self.pairs[self.index(a, b)].r();
                        // A column with itself: exactly 1 when defined (rounding could
                        // give 0.9999999999999999).
                        (self.names[j].clone(), if i == j { r.map(|_| 1.0) } else { r })
                    })
                    .collect();
                (self.names[i].clone(), row)
            })
            .collect()
    }
}

/// Finite values as f64; missing and infinite values (and NaN) as NaN.
fn finite_or_nan(column: &ArrayRef) -> Vec<f64> {
    let finite_only = |x: f64| if x.is_finite() { x } else { f64::NAN };
    match column.data_type() {
        DataType::Int64 => {
            column.as_primitive::<Int64Type>().iter().map(|v| v.map_or(f64::NAN, |x| x as f64)).collect()
        }
        DataType::Float64 => {
            column.as_primitive::<Float64Type>().iter().map(|v| v.map_or(f64::NAN, finite_only)).collect()
        }
        _ => vec![f64::NAN; column.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::statistics::{close, float_stats};

    #[test]
    fn anscombe_quartet_has_its_published_summary() {
        let x = [10.0, 8.0, 13.0, 9.0, 11.0, 14.0, 6.0, 4.0, 12.0, 7.0, 5.0];
        let y1 = [8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68];
        let (sx, _) = float_stats(x.to_vec());
        assert!(close(sx.mean.unwrap(), 9.0));
        assert!(close(sx.std.unwrap().powi(2), 11.0), "sample variance of x is 11");
        let (sy, _) = float_stats(y1.to_vec());
        assert!((sy.mean.unwrap() - 7.50).abs() < 0.005);
        assert!((sy.std.unwrap().powi(2) - 4.127).abs() < 0.003);
        let mut c = Correlations::new(vec!["x".into(), "y".into()]);
        let xs: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(x.to_vec()));
        let ys: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(y1.to_vec()));
        c.observe(&[xs, ys]);
        let m = c.finish();
        assert!((m[0].1[1].1.unwrap() - 0.816).abs() < 0.0005);
        assert_eq!(m[1].1[0].1, m[0].1[1].1, "the matrix is symmetric");
        assert_eq!(m[0].1[0].1, Some(1.0));
    }

    #[test]
    fn correlation_with_a_constant_column_is_null() {
        let mut c = Correlations::new(vec!["x".into(), "k".into()]);
        let xs: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0, 3.0]));
        let ks: ArrayRef = std::sync::Arc::new(arrow::array::Int64Array::from(vec![7, 7, 7]));
        c.observe(&[xs, ks]);
        let m = c.finish();
        assert_eq!(m[0].1[1].1, None);
        assert_eq!(m[1].1[1].1, None);
    }

    /// Pearson's r by the textbook formula, over the pairs given.
    fn textbook_r(pairs: &[(f64, f64)]) -> f64 {
        let n = pairs.len() as f64;
        let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let syy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
        sxy / (sxx * syy).sqrt()
    }

    #[test]
    fn correlations_fed_in_batches_of_any_size_equal_the_textbook_value() {
        // Values near 10⁹ with a spread below 1: the textbook formula on the offsets (which
        // are exact in floating point) is the reference.
        let offsets: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                let t = i as f64 / 10_000.0;
                (t, (t * 7.0).sin() * 0.25 + t * 0.5)
            })
            .collect();
        let expected = textbook_r(&offsets);
        let xs: Vec<f64> = offsets.iter().map(|p| 1e9 + p.0).collect();
        let ys: Vec<f64> = offsets.iter().map(|p| 1e9 + p.1).collect();
        let shifted: Vec<(f64, f64)> = xs.iter().map(|x| x - 1e9).zip(ys.iter().map(|y| y - 1e9)).collect();
        let reference = textbook_r(&shifted);
        assert!((expected - reference).abs() < 1e-6, "the offsets survive the shift: {expected} vs {reference}");
        for batch in [1, 7, 64, 4_096, 10_000] {
            let mut c = Correlations::new(vec!["x".into(), "y".into()]);
            for (x, y) in xs.chunks(batch).zip(ys.chunks(batch)) {
                let x: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(x.to_vec()));
                let y: ArrayRef = std::sync::Arc::new(arrow::array::Float64Array::from(y.to_vec()));
                c.observe(&[x, y]);
            }
            let r = c.finish()[0].1[1].1.unwrap();
            assert!((r - reference).abs() < 1e-9, "batches of {batch}: {r} vs {reference}");
        }
    }

    #[test]
    fn correlations_use_pairwise_complete_rows() {
        let mut c = Correlations::new(vec!["x".into(), "y".into()]);
        let xs: ArrayRef =
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![Some(1.0), Some(2.0), None, Some(4.0)]));
        let ys: ArrayRef =
            std::sync::Arc::new(arrow::array::Float64Array::from(vec![Some(2.0), Some(4.0), Some(100.0), Some(8.0)]));
        c.observe(&[xs, ys]);
        assert!(close(c.finish()[0].1[1].1.unwrap(), 1.0));
    }
}
