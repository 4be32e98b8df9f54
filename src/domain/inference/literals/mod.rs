//! The literals a text cell may be read as: integers ([`parse_int`]), floats
//! ([`parse_float`]), booleans ([`parse_bool`]) and dates and times ([`parse_datetime`],
//! [`parse_day_month`]).
//! Each parser trims the cell first; each accepts exactly the grammar its doc comment states.

mod datetime;
mod float;
mod int;

pub use datetime::{DateFamily, DayMonthDate, DayMonthOrder, Temporal, parse_datetime, parse_day_month};
pub use float::parse_float;
pub use int::{IntLiteral, parse_int};

use crate::domain::inference::trim;

/// A boolean: `true`/`false` or `yes`/`no`, in any letter case.
pub fn parse_bool(cell: &str) -> Option<bool> {
    let s = trim(cell).as_bytes();
    match s.len() {
        2 if s.eq_ignore_ascii_case(b"no") => Some(false),
        3 if s.eq_ignore_ascii_case(b"yes") => Some(true),
        4 if s.eq_ignore_ascii_case(b"true") => Some(true),
        5 if s.eq_ignore_ascii_case(b"false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_read_in_any_letter_case_and_nothing_else_is() {
        for (text, value) in [("true", true), ("TRUE", true), ("Yes", true), ("no", false), ("fAlSe", false)] {
            assert_eq!(parse_bool(&format!(" {text} ")), Some(value), "{text}");
        }
        for text in ["", "t", "n", "yes!", "truee", "0", "1", "falsy", "nO "] {
            assert_eq!(parse_bool(text), if text == "nO " { Some(false) } else { None }, "{text:?}");
        }
    }

    #[test]
    fn thousands_separators_are_not_numbers() {
        assert_eq!(parse_int("1,000"), IntLiteral::NotAnInteger);
        assert_eq!(parse_float("1,000.5"), None);
    }
}
