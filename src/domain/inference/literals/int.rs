//! Integer literals.

use crate::domain::inference::trim;

/// The result of reading an integer literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntLiteral {
    Value(i64),
    /// A well-formed integer literal outside the int64 range. Such a column becomes text, so
    /// that no digit is lost to float rounding.
    OutOfRange,
    NotAnInteger,
}

/// An integer: an optional `+`/`-` sign and ASCII digits, with no leading zero unless the digits
/// are exactly `0` (so codes like `02134` stay text). No thousands separators.
pub fn parse_int(cell: &str) -> IntLiteral {
    let s = trim(cell).as_bytes();
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return IntLiteral::NotAnInteger;
    }
    // Accumulated as a negative number, whose range includes i64::MIN.
    let mut value: i64 = 0;
    let mut in_range = true;
    for &b in digits {
        if !b.is_ascii_digit() {
            return IntLiteral::NotAnInteger;
        }
        if in_range {
            match value.checked_mul(10).and_then(|v| v.checked_sub(i64::from(b - b'0'))) {
                Some(v) => value = v,
                None => in_range = false,
            }
        }
    }
    match (in_range, negative) {
        (false, _) => IntLiteral::OutOfRange,
        (true, true) => IntLiteral::Value(value),
        (true, false) => value.checked_neg().map_or(IntLiteral::OutOfRange, IntLiteral::Value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_an_integer() {
        assert_eq!(parse_int("0"), IntLiteral::Value(0));
        assert_eq!(parse_int("-0"), IntLiteral::Value(0));
    }
}
