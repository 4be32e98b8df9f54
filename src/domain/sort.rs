//! The sort of floats shared by the statistics and drift ([`sort_floats`]). Integers and
//! value hashes are sorted with the standard library's `sort_unstable` (ipnsort: linear on
//! sorted or reversed runs, in place), as the floats' keys are.
//!
//! Measured on this project's machine (2 cores, AMD EPYC) on 3.6 million values, against the
//! radix sort used before (voracious sort 1.2, whose LSD passes take a buffer as large as the
//! values): random hashes 66–69 ms against 74–93 ms, latitudes (floats as keys) 73 against
//! 122–133 ms, amounts with many repeats 52 against 78–100 ms, 200,000 distinct ids 63
//! against 91–122 ms, a sorted timestamp column 4 against 5 ms, one with 1% of values out of
//! place 71 against 86 ms — faster on every shape, and with no buffer (BENCHMARKS.md, session 13).

/// Sorts floats in the order of [`f64::total_cmp`] (−∞ < … < −0.0 < 0.0 < … < +∞, NaNs by
/// sign at the ends); the values are replaced by their sorted order.
///
/// Each float's bits are mapped in place to an unsigned key that orders as `total_cmp` does
/// (the sign bit set for non-negative values, every bit flipped for negative ones), the keys
/// are sorted as integers (comparing integers is cheaper than `total_cmp`) and mapped back.
pub fn sort_floats(values: &mut [f64]) {
    let keys: &mut [u64] = bytemuck::cast_slice_mut(values);
    for k in keys.iter_mut() {
        *k = if *k >> 63 == 1 { !*k } else { *k | (1 << 63) };
    }
    keys.sort_unstable();
    for k in keys.iter_mut() {
        *k = if *k >> 63 == 1 { *k & !(1 << 63) } else { !*k };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_floats_are_in_total_cmp_order() {
        let mut xs = vec![
            f64::INFINITY,
            -0.0,
            0.0,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 4.0,
            -f64::MIN_POSITIVE / 4.0,
            f64::MAX,
            f64::MIN,
            1.5,
            -1.5,
            1e-300,
            -1e300,
            f64::NAN,
            -f64::NAN,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            xs.push(f64::from_bits(state));
        }
        let mut expected = xs.clone();
        expected.sort_by(f64::total_cmp);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        sort_floats(&mut xs);
        assert_eq!(bits(&xs), bits(&expected));
    }

    #[test]
    fn sorted_floats_order_like_total_cmp_for_every_shape_and_size() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        // Small slices and large ones, of every shape of keys.
        for n in [0usize, 1, 2, 3, 31, 32, 33, 255, 256, 1_000, 29_999, 30_000, 30_001, 100_000] {
            let random: Vec<u64> = (0..n).map(|_| next()).collect();
            let shapes: Vec<Vec<u64>> = vec![
                random.clone(),
                random.iter().map(|r| r % 7).collect(),
                random.iter().map(|r| r >> 40 << 40).collect(),
                (0..n as u64).collect(),
                (0..n as u64).rev().collect(),
                (0..n as u64).map(|i| if i % 100 == 0 { i.wrapping_mul(31) } else { i }).collect(),
                vec![42; n],
            ];
            for shape in shapes {
                let floats: Vec<f64> = shape.iter().map(|&v| f64::from_bits(v)).collect();
                let mut expected = floats.clone();
                expected.sort_by(f64::total_cmp);
                let mut sorted = floats;
                sort_floats(&mut sorted);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&sorted), bits(&expected), "f64, {n} values");
            }
        }
    }
}
