//! Float literals, with Clinger's exact fast path for short decimals.

use crate::domain::inference::trim;

/// A float: an optional sign, then digits with an optional `.` and fraction (`1.5`, `1.`, `.5`),
/// then an optional exponent (`e`/`E`, optional sign, digits); or `inf`/`infinity` in any case
/// with an optional sign. The integer part has no leading zero unless it is exactly `0`. The
/// value is the correctly rounded nearest `f64`.
pub fn parse_float(cell: &str) -> Option<f64> {
    let s = trim(cell);
    match float_literal(s.as_bytes())? {
        FloatLiteral::Infinity { negative } => Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY }),
        FloatLiteral::Digits { exact: Some(v) } => Some(v),
        // Every string of the grammar is one Rust's parser reads (overflow gives ±infinity).
        FloatLiteral::Digits { exact: None } => s.parse::<f64>().ok(),
    }
}

enum FloatLiteral {
    Infinity {
        negative: bool,
    },
    /// Digits; `exact` is their value when the scan could compute it exactly (see
    /// [`clinger_fast_path`]), else the literal is left to Rust's parser.
    Digits {
        exact: Option<f64>,
    },
}

/// The powers of ten that are exact `f64` values.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The value `±mantissa × 10^exponent` when it can be computed with one correctly rounded
/// operation (Clinger's fast path): a mantissa of at most 15 digits is an exact `f64` (below
/// 2^53), and so is 10^k for k ≤ 22; IEEE multiplication and division round correctly, so the
/// result is the nearest `f64`, as Rust's parser gives. `None` otherwise.
fn clinger_fast_path(negative: bool, mantissa: u64, digits: usize, exponent: i64) -> Option<f64> {
    if digits > 15 || !(-22..=22).contains(&exponent) {
        return None;
    }
    let m = mantissa as f64;
    let power = EXACT_POWERS_OF_TEN[exponent.unsigned_abs() as usize];
    let v = if exponent < 0 { m / power } else { m * power };
    Some(if negative { -v } else { v })
}

/// Checks [`parse_float`]'s grammar in one pass over the bytes, computing the value on the
/// way when that is exact.
fn float_literal(s: &[u8]) -> Option<FloatLiteral> {
    let (negative, unsigned) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if unsigned.first().is_some_and(|b| b.is_ascii_alphabetic()) {
        let infinite = unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity");
        return infinite.then_some(FloatLiteral::Infinity { negative });
    }
    // The digits' value, exact while there are at most 19 of them (below 2^64).
    let mut mantissa: u64 = 0;
    let mut digits_of = |run: &[u8]| {
        let mut count = 0;
        for &b in run {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            if count < 19 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            }
            count += 1;
        }
        count
    };
    let mut i = 0;
    let int_digits = digits_of(unsigned);
    if int_digits > 1 && unsigned[0] == b'0' {
        return None;
    }
    i += int_digits;
    let mut frac_digits = 0;
    if unsigned.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = digits_of(&unsigned[i..]);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mut exponent: i64 = 0;
    if matches!(unsigned.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exponent_negative = unsigned.get(i) == Some(&b'-');
        if matches!(unsigned.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = unsigned[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        // Saturated far beyond any exponent the fast path takes.
        for &b in &unsigned[i..i + exp_digits] {
            exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 20);
        }
        if exponent_negative {
            exponent = -exponent;
        }
        i += exp_digits;
    }
    if i != unsigned.len() {
        return None;
    }
    let digits = int_digits + frac_digits;
    let exact = clinger_fast_path(negative, mantissa, digits, exponent - frac_digits as i64);
    Some(FloatLiteral::Digits { exact })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_accept_decimal_exponent_and_infinity_forms() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("-.5"), Some(-0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("2.5E-3"), Some(0.0025));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), Some(f64::INFINITY));
        for bad in [".", "e5", "1e", "1.2.3", "0x10", "1_000", "00.5", "abc"] {
            assert_eq!(parse_float(bad), None, "{bad}");
        }
    }

    #[test]
    fn float_values_are_rusts_correctly_rounded_ones_at_the_edges_of_the_fast_path() {
        for literal in [
            "-0",
            "-0.0",
            "0e5",
            "-0e-5",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "0.1",
            "0.3",
            "2.675",
            "1e22",
            "1e23",
            "123456789012345e22",
            "1e-22",
            "1e-23",
            "4.35",
            "0.000000000000001",
            "1.7976931348623157e308",
            "1e400",
            "-1e400",
            "5e-324",
            "2.5e-330",
            "79.99",
            "1.",
            ".5",
        ] {
            let parsed = parse_float(literal).map(f64::to_bits);
            assert_eq!(parsed, literal.parse::<f64>().ok().map(f64::to_bits), "{literal}");
        }
    }

    proptest::proptest! {
        #[test]
        fn float_values_equal_rusts_correctly_rounded_parse(
            negative in proptest::bool::ANY,
            int_part in "(0|[1-9][0-9]{0,19})?",
            fraction in proptest::option::of("[0-9]{0,20}"),
            exponent in proptest::option::of(-40i32..40),
        ) {
            let mut literal = format!("{}{int_part}", if negative { "-" } else { "" });
            if let Some(f) = &fraction {
                literal.push('.');
                literal.push_str(f);
            }
            if let Some(e) = exponent {
                literal.push_str(&format!("e{e}"));
            }
            let ours = parse_float(&literal);
            let has_digits = !int_part.is_empty() || fraction.as_deref().is_some_and(|f| !f.is_empty());
            proptest::prop_assert_eq!(ours.is_some(), has_digits, "{}", literal);
            if let Some(v) = ours {
                proptest::prop_assert_eq!(v.to_bits(), literal.parse::<f64>().unwrap().to_bits(), "{}", literal);
            }
        }
    }
}
