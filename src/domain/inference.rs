//! Type inference for text cells (CSV). These rules are the documented contract of
//! `docs/type-inference.md`; every rule has a test below.
//!
//! A column's type is decided over **every** value of the column, never a sample:
//!
//! 1. Cells are trimmed of ASCII white space for the checks below (text keeps its raw value).
//! 2. A cell equal to one of [`MISSING_TOKENS`] is missing; missing cells never decide a type.
//! 3. The first rule that every non-missing value satisfies wins, in this order:
//!    `int64` ([`parse_int`]), `float64` ([`parse_float`]), `bool` ([`parse_bool`]),
//!    `datetime64` ([`parse_datetime`], one format family for the whole column), otherwise text.
//! 4. Text is `category` when [`is_category`] holds, else `object`.
//! 5. A column whose values are all missing is `object`.

use crate::domain::dtype::{DType, TemporalKind};

/// Cells (after trimming) that mean "no value".
pub const MISSING_TOKENS: &[&str] =
    &["", "NA", "N/A", "n/a", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "NONE", "#N/A", "<NA>"];

/// At most this many distinct values for a text column to be `category`.
pub const CATEGORY_MAX_DISTINCT: usize = 50;

/// True when a trimmed cell is one of [`MISSING_TOKENS`].
pub fn is_missing(cell: &str) -> bool {
    // The tokens by length (every token is at most 4 bytes long); a test checks this against
    // MISSING_TOKENS.
    match trim(cell).as_bytes() {
        b"" | b"NA" => true,
        b"N/A" | b"n/a" | b"NaN" | b"nan" | b"NAN" => true,
        b"null" | b"NULL" | b"Null" | b"None" | b"none" | b"NONE" | b"#N/A" | b"<NA>" => true,
        _ => false,
    }
}

/// Trims ASCII white space (space, tab, CR, LF, form feed) from both ends.
pub fn trim(cell: &str) -> &str {
    let bytes = cell.as_bytes();
    match (bytes.first(), bytes.last()) {
        // The common case: nothing to trim.
        (Some(first), Some(last)) if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() => cell,
        _ => cell.trim_matches(|c: char| c.is_ascii_whitespace()),
    }
}

/// The `category` rule: text with at most [`CATEGORY_MAX_DISTINCT`] distinct values, and at most
/// half as many distinct values as non-missing values (so that a column of unique labels is not
/// a category).
pub fn is_category(distinct: usize, non_missing: u64) -> bool {
    distinct >= 1 && distinct <= CATEGORY_MAX_DISTINCT && (distinct as u64) * 2 <= non_missing
}

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

/// A datetime format family. A `datetime64` column has exactly one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateFamily {
    /// `YYYY-MM-DD`
    IsoDate,
    /// `YYYY-MM-DD` then `T` or a space, `HH:MM`, optional `:SS`, optional fraction of 1–9 digits.
    IsoDateTime,
    /// As [`DateFamily::IsoDateTime`] followed by `Z`, `±HH:MM`, `±HHMM` or `±HH` (optionally after a space).
    IsoDateTimeZoned,
    /// `YYYY/MM/DD`
    SlashDate,
    /// `YYYY/MM/DD HH:MM`, optional `:SS`, optional fraction.
    SlashDateTime,
}

impl DateFamily {
    /// How a column of this family is stored.
    pub fn temporal_kind(self) -> TemporalKind {
        match self {
            DateFamily::IsoDate | DateFamily::SlashDate => TemporalKind::Date,
            DateFamily::IsoDateTime | DateFamily::SlashDateTime => TemporalKind::Naive,
            DateFamily::IsoDateTimeZoned => TemporalKind::Utc,
        }
    }
}

/// A parsed date or time, as the value stored for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporal {
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00 (no zone for naive values; UTC for zoned ones).
    Micros(i64),
}

/// Reads a date or datetime in one of the [`DateFamily`] formats, years 0001–9999. Values with
/// precision finer than a microsecond are refused (they could not be stored exactly). Zoned
/// values are converted to the UTC instant they denote.
pub fn parse_datetime(cell: &str) -> Option<(DateFamily, Temporal)> {
    let s = trim(cell).as_bytes();
    if s.len() < 10 {
        return None;
    }
    let sep = s[4];
    if (sep != b'-' && sep != b'/') || s[7] != sep {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let days = days_since_epoch(year, month, day)?;
    let rest = &s[10..];
    if rest.is_empty() {
        let family = if sep == b'-' { DateFamily::IsoDate } else { DateFamily::SlashDate };
        return Some((family, Temporal::Date(i32::try_from(days).ok()?)));
    }
    let t_sep = rest[0];
    if !(t_sep == b' ' || (t_sep == b'T' && sep == b'-')) {
        return None;
    }
    let (micros_of_day, tail) = parse_time(&rest[1..])?;
    let micros_naive = days * MICROS_PER_DAY + micros_of_day;
    if tail.is_empty() {
        let family = if sep == b'-' { DateFamily::IsoDateTime } else { DateFamily::SlashDateTime };
        return Some((family, Temporal::Micros(micros_naive)));
    }
    if sep != b'-' {
        return None;
    }
    let offset_seconds = parse_offset(tail)?;
    let micros_utc = micros_naive.checked_sub(i64::from(offset_seconds) * 1_000_000)?;
    Some((DateFamily::IsoDateTimeZoned, Temporal::Micros(micros_utc)))
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day` (year 1–9999), or
/// `None` when there is no such date. (Howard Hinnant's `days_from_civil`; a test compares it
/// with chrono for every day of every year and every impossible day number.)
fn days_since_epoch(year: u32, month: u32, day: u32) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=9999).contains(&year) || day == 0 || day > month_days {
        return None;
    }
    // Years counted from March, so that the leap day ends the year.
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let march_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * march_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')))
}

/// `HH:MM[:SS[.f{1,9}]]` (hours below 24, minutes and seconds below 60); returns the
/// microseconds since midnight and the unread tail.
fn parse_time(s: &[u8]) -> Option<(i64, &[u8])> {
    if s.len() < 5 || s[2] != b':' {
        return None;
    }
    let hour = digits(&s[0..2])?;
    let minute = digits(&s[3..5])?;
    let mut rest = &s[5..];
    let mut second = 0;
    let mut nanos = 0;
    if rest.first() == Some(&b':') {
        second = digits(rest.get(1..3)?)?;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let frac_len = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if frac_len == 0 || frac_len > 9 {
                return None;
            }
            let frac = digits(&rest[1..1 + frac_len])?;
            nanos = frac * 10u32.pow(9 - frac_len as u32);
            if nanos % 1_000 != 0 {
                return None;
            }
            rest = &rest[1 + frac_len..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = i64::from(hour * 3600 + minute * 60 + second);
    Some((seconds * 1_000_000 + i64::from(nanos / 1_000), rest))
}

/// `Z`, `±HH:MM`, `±HHMM` or `±HH`, optionally after one space; returns seconds east of UTC.
fn parse_offset(s: &[u8]) -> Option<i32> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    if s == b"Z" {
        return Some(0);
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let (h, m) = match body.len() {
        2 => (digits(body)?, 0),
        4 => (digits(&body[0..2])?, digits(&body[2..4])?),
        5 if body[2] == b':' => (digits(&body[0..2])?, digits(&body[3..5])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// True when `cell` is text by its first byte alone: a letter that begins no missing token,
/// boolean or infinity (`n`, `N`, `t`, `f`, `y`, `i` in either case), or a non-ASCII byte.
/// Numbers and dates begin with a digit, a sign or a point, and white space is trimmed first,
/// so such a cell fits no other type (a test checks this against every parser).
fn plainly_text(cell: &str) -> bool {
    match cell.as_bytes().first() {
        Some(&b) if b >= 0x80 => true,
        Some(&b) => b.is_ascii_alphabetic() && !matches!(b.to_ascii_lowercase(), b'n' | b't' | b'f' | b'y' | b'i'),
        None => false,
    }
}

/// Distinct values of a text column, tracked until there are more than
/// [`CATEGORY_MAX_DISTINCT`] (then only "too many" is known). Values are compared by 64-bit
/// hash: two different values would have to collide (probability below 10⁻¹⁶) to be counted
/// as one. The hashes sit in a small open-addressing table (at most 51 of [`SLOTS`] slots
/// used), so a value costs one hash and about one probe.
#[derive(Debug, Clone)]
pub struct DistinctValues {
    /// Hashes by slot; 0 marks an empty slot (a value hashing to 0 is stored as 1).
    slots: Box<[u64; SLOTS]>,
    count: usize,
    overflow: bool,
}

const SLOTS: usize = 128;

impl Default for DistinctValues {
    fn default() -> Self {
        Self { slots: Box::new([0; SLOTS]), count: 0, overflow: false }
    }
}

impl DistinctValues {
    pub fn observe(&mut self, value: &str) {
        if !self.overflow {
            self.insert(xxhash_rust::xxh3::xxh3_64(value.as_bytes()).max(1));
        }
    }

    fn insert(&mut self, h: u64) {
        let mut at = (h as usize) % SLOTS;
        loop {
            match self.slots[at] {
                0 => break,
                seen if seen == h => return,
                _ => at = (at + 1) % SLOTS,
            }
        }
        if self.count == CATEGORY_MAX_DISTINCT {
            self.overflow = true;
            self.count = 0;
        } else {
            self.slots[at] = h;
            self.count += 1;
        }
    }

    /// Adds the values `other` saw (the union of both sets of values).
    pub fn merge(&mut self, other: &DistinctValues) {
        if other.overflow {
            self.overflow = true;
        }
        for &h in other.slots.iter().filter(|&&h| h != 0) {
            if self.overflow {
                break;
            }
            self.insert(h);
        }
    }

    /// The number of distinct values, or `None` when there are more than the category limit.
    pub fn count(&self) -> Option<usize> {
        (!self.overflow).then_some(self.count)
    }

    /// The text type for a column with `non_missing` values: `category` or `object`.
    pub fn text_dtype(&self, non_missing: u64) -> DType {
        match self.count() {
            Some(distinct) if is_category(distinct, non_missing) => DType::Category,
            _ => DType::Object,
        }
    }
}

/// Watches every value of one text column and decides its type at the end.
#[derive(Debug, Clone)]
pub struct ColumnInference {
    non_missing: u64,
    missing: u64,
    could_be_int: bool,
    could_be_float: bool,
    could_be_bool: bool,
    could_be_datetime: bool,
    date_family: Option<DateFamily>,
    /// Distinct non-missing raw values.
    distinct: DistinctValues,
    /// How many non-missing values each non-text type would accept (for the `mixed_types`
    /// quality check).
    fits: TypeFits,
}

/// Counts of non-missing values that parse as each non-text type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeFits {
    pub int: u64,
    /// Integers count here too.
    pub float: u64,
    pub bool: u64,
    pub datetime: u64,
}

/// A text column whose values mostly fit one non-text type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedColumn {
    pub name: String,
    /// The type most values fit (`int64`, `float64`, `bool` or `datetime64`).
    pub mostly: DType,
    /// Non-missing values that do not fit it.
    pub non_fitting: u64,
    pub non_missing: u64,
}

impl Default for ColumnInference {
    fn default() -> Self {
        Self {
            non_missing: 0,
            missing: 0,
            could_be_int: true,
            could_be_float: true,
            could_be_bool: true,
            could_be_datetime: true,
            date_family: None,
            distinct: DistinctValues::default(),
            fits: TypeFits::default(),
        }
    }
}

/// A column's decided type and how to store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferredType {
    pub dtype: DType,
    /// For `datetime64` columns, the storage of the column's single format family.
    pub temporal: Option<TemporalKind>,
}

/// What [`ColumnInference::observe`] read a cell as: the value of the first non-text type it
/// fits (types are tried in the order int, float, bool, datetime), so a converter need not
/// parse it again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed {
    Missing,
    Int(i64),
    /// An integer outside `i64` (only text can hold it exactly).
    BigInt,
    /// A float by [`parse_float`]'s grammar, and its value.
    Float(f64),
    Bool(bool),
    Datetime(Temporal),
    Text,
}

impl ColumnInference {
    /// Counts one cell and says what it was read as.
    pub fn observe(&mut self, cell: &str) -> Observed {
        let observed = if plainly_text(cell) {
            self.keep_only(DType::Object);
            Observed::Text
        } else if is_missing(cell) {
            self.missing += 1;
            return Observed::Missing;
        } else {
            self.observe_value(cell)
        };
        self.non_missing += 1;
        self.distinct.observe(cell);
        observed
    }

    /// The type of a non-missing cell that may be a number, boolean or date.
    fn observe_value(&mut self, cell: &str) -> Observed {
        // The non-text types are exclusive (no value parses as two of them), so each value is
        // tried against them in order and parsed at most once per type; the first it fits is
        // counted for the `mixed_types` check.
        match parse_int(cell) {
            IntLiteral::Value(v) => {
                self.fits.int += 1;
                self.fits.float += 1;
                self.keep_only(DType::Int64);
                Observed::Int(v)
            }
            IntLiteral::OutOfRange => {
                // Text, so that no digit is lost to float rounding.
                self.fits.float += 1;
                self.keep_only(DType::Object);
                Observed::BigInt
            }
            IntLiteral::NotAnInteger => match parse_float(cell) {
                Some(v) => {
                    self.fits.float += 1;
                    self.keep_only(DType::Float64);
                    Observed::Float(v)
                }
                None => self.observe_other(cell),
            },
        }
    }

    /// The rest of [`observe`](Self::observe) for a non-missing cell that is not a number.
    fn observe_other(&mut self, cell: &str) -> Observed {
        if let Some(b) = parse_bool(cell) {
            self.fits.bool += 1;
            self.keep_only(DType::Bool);
            return Observed::Bool(b);
        }
        match parse_datetime(cell) {
            Some((family, value)) => {
                self.fits.datetime += 1;
                self.keep_only(DType::Datetime64);
                if self.date_family.is_some_and(|f| f != family) {
                    self.could_be_datetime = false;
                }
                self.date_family.get_or_insert(family);
                Observed::Datetime(value)
            }
            None => {
                self.keep_only(DType::Object);
                Observed::Text
            }
        }
    }

    /// [`observe`](Self::observe) for a pass that converts the column to `guess`, a type
    /// inferred from cells that the same pass also observes (in this inference or one merged
    /// with it). A cell that is a value of the guessed type is counted without trying the
    /// types before it (they are ruled out by the cells the guess came from) and, for
    /// non-text guesses, without tracking distinct values; any other cell is observed in
    /// full. The result decides exactly like [`observe`](Self::observe) would whenever it
    /// decides `guess`'s type, and decides some other type otherwise (then the caller must
    /// read the column again with the decided type as its guess).
    pub fn observe_as(&mut self, cell: &str, guess: &InferredType) -> Observed {
        let fast = match guess.dtype {
            DType::Int64 => match parse_int(cell) {
                IntLiteral::Value(v) => {
                    self.fits.int += 1;
                    self.fits.float += 1;
                    Some(Observed::Int(v))
                }
                _ => None,
            },
            // A long run of digits may be an integer beyond int64, which only text holds exactly:
            // such cells take the full path.
            DType::Float64 if trim(cell).len() < 19 => parse_float(cell).map(|v| {
                self.fits.float += 1;
                Observed::Float(v)
            }),
            DType::Float64 => None,
            DType::Bool => parse_bool(cell).map(|b| {
                self.fits.bool += 1;
                Observed::Bool(b)
            }),
            DType::Datetime64 => match parse_datetime(cell) {
                Some((family, value)) if self.date_family.is_none_or(|known| known == family) => {
                    self.date_family = Some(family);
                    self.fits.datetime += 1;
                    Some(Observed::Datetime(value))
                }
                _ => None,
            },
            DType::Object | DType::Category => None,
        };
        match fast {
            Some(observed) => {
                self.non_missing += 1;
                self.keep_only(guess.dtype);
                observed
            }
            None => self.observe(cell),
        }
    }

    /// Counts a value of type `dtype` against the types: every non-text type it is not a value
    /// of becomes impossible (an integer is also a float; text rules out all of them).
    fn keep_only(&mut self, dtype: DType) {
        self.could_be_int &= dtype == DType::Int64;
        self.could_be_float &= matches!(dtype, DType::Int64 | DType::Float64);
        self.could_be_bool &= dtype == DType::Bool;
        self.could_be_datetime &= dtype == DType::Datetime64;
    }

    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// Adds what `other` saw of another part of the same column: the result is what one
    /// inference over both parts' values (in any order) would have seen.
    pub fn merge(&mut self, other: &ColumnInference) {
        self.non_missing += other.non_missing;
        self.missing += other.missing;
        self.could_be_int &= other.could_be_int;
        self.could_be_float &= other.could_be_float;
        self.could_be_bool &= other.could_be_bool;
        self.could_be_datetime &= other.could_be_datetime;
        match (self.date_family, other.date_family) {
            (Some(a), Some(b)) if a != b => self.could_be_datetime = false,
            (None, Some(b)) => self.date_family = Some(b),
            _ => {}
        }
        self.distinct.merge(&other.distinct);
        self.fits.int += other.fits.int;
        self.fits.float += other.fits.float;
        self.fits.bool += other.fits.bool;
        self.fits.datetime += other.fits.datetime;
    }

    /// When the column is text but at least half of its non-missing values fit one non-text
    /// type: that type and how many values do not fit it.
    pub fn mixed(&self, name: &str) -> Option<MixedColumn> {
        if !self.decide().dtype.is_text() || self.non_missing == 0 {
            return None;
        }
        let f = self.fits;
        let (mostly, fitting) =
            [(DType::Int64, f.int), (DType::Float64, f.float), (DType::Bool, f.bool), (DType::Datetime64, f.datetime)]
                .into_iter()
                .max_by_key(|&(d, n)| (n, d == DType::Int64))?;
        (fitting * 2 >= self.non_missing).then(|| MixedColumn {
            name: name.to_string(),
            mostly,
            non_fitting: self.non_missing - fitting,
            non_missing: self.non_missing,
        })
    }

    pub fn decide(&self) -> InferredType {
        let plain = |dtype| InferredType { dtype, temporal: None };
        if self.non_missing == 0 {
            return plain(DType::Object);
        }
        if self.could_be_int {
            return plain(DType::Int64);
        }
        if self.could_be_float {
            return plain(DType::Float64);
        }
        if self.could_be_bool {
            return plain(DType::Bool);
        }
        if self.could_be_datetime {
            let temporal = self.date_family.map(DateFamily::temporal_kind);
            return InferredType { dtype: DType::Datetime64, temporal };
        }
        plain(self.distinct.text_dtype(self.non_missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> InferredType {
        let mut c = ColumnInference::default();
        values.iter().for_each(|v| {
            c.observe(v);
        });
        c.decide()
    }

    fn dtype(values: &[&str]) -> DType {
        infer(values).dtype
    }

    #[test]
    fn merging_the_inferences_of_two_parts_equals_inferring_the_whole_column() {
        let columns: [&[&str]; 7] = [
            &["1", "2", "NA", "3", "x"],
            &["1", "2.5", "", "7"],
            &["2024-01-01", "2024-01-02", "2024-01-03T10:00"],
            &["2024-01-01", "", "2024/01/02"],
            &["yes", "no", "TRUE", "maybe"],
            &["a", "b", "a", "b", "a", "c"],
            &["a", "b", "c", "d"],
        ];
        let many: Vec<String> = (0..120).map(|i| format!("v{}", i % 60)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        for values in columns.iter().copied().chain([many.as_slice()]) {
            let mut whole = ColumnInference::default();
            values.iter().for_each(|v| {
                whole.observe(v);
            });
            for split in 0..=values.len() {
                let (mut left, mut right) = (ColumnInference::default(), ColumnInference::default());
                values[..split].iter().for_each(|v| {
                    left.observe(v);
                });
                values[split..].iter().for_each(|v| {
                    right.observe(v);
                });
                left.merge(&right);
                assert_eq!(left.decide(), whole.decide(), "{values:?} split at {split}");
                assert_eq!(left.mixed("c"), whole.mixed("c"), "{values:?} split at {split}");
                assert_eq!(left.missing(), whole.missing());
            }
        }
    }

    #[test]
    fn missing_tokens_are_recognised_exactly_among_all_short_strings() {
        let alphabet: Vec<char> = "NAn/auLlOoeE#<>x 0".chars().collect();
        let mut strings = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> =
                strings.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
            strings.extend(longer.into_iter().filter(|s| s.len() <= 4));
            strings.sort();
            strings.dedup();
        }
        assert!(strings.len() > 50_000);
        for s in &strings {
            assert_eq!(is_missing(s), MISSING_TOKENS.contains(&trim(s)), "{s:?}");
        }
    }

    #[test]
    fn booleans_are_read_in_any_letter_case_and_nothing_else_is() {
        for (text, value) in [("true", true), ("TRUE", true), ("Yes", true), ("no", false), ("fAlSe", false)] {
            assert_eq!(parse_bool(&format!(" {text} ")), Some(value), "{text}");
        }
        for text in ["", "t", "n", "yes!", "truee", "0", "1", "falsy", "nO "] {
            assert_eq!(parse_bool(text), if text == "nO " { Some(false) } else { None }, "{text:?}");
        }
    }

    /// Cells of one kind (integers, huge integers, floats, booleans, dates in two families,
    /// datetimes, missing tokens, words, codes with leading zeros).
    fn cells_of_kind(kind: usize) -> proptest::strategy::BoxedStrategy<String> {
        use proptest::strategy::Strategy;
        let patterns = [
            "-?[1-9][0-9]{0,3}",
            "[1-9][0-9]{18,20}",
            "-?[0-9]{1,2}\\.[0-9]{1,3}",
            "(true|FALSE|yes|No)",
            "20[0-9]{2}-0[1-9]-1[0-9]",
            "20[0-9]{2}/0[1-9]/1[0-9]",
            "2024-01-01T10:00:00(Z)?",
            "(NA|| null |N/A)",
            "[a-c]{1,2}",
            "0[0-9]{3}",
        ];
        proptest::string::string_regex(patterns[kind % patterns.len()]).unwrap().boxed()
    }

    /// A column mostly of one kind of cell with about one cell in eight of another kind.
    fn column() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::strategy::Strategy;
        (0usize..10, 0usize..10).prop_flat_map(|(main, other)| {
            proptest::collection::vec((cells_of_kind(main), cells_of_kind(other), 0u8..8), 1..60)
                .prop_map(|cells| cells.into_iter().map(|(a, b, pick)| if pick == 0 { b } else { a }).collect())
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn observing_as_a_guess_from_a_prefix_decides_like_observing_every_value(
            column in column(),
            prefix in 0usize..60,
        ) {
            let mut guessed = ColumnInference::default();
            column[..prefix.min(column.len())].iter().for_each(|v| {
                guessed.observe(v);
            });
            let guess = guessed.decide();
            let (mut full, mut fast) = (ColumnInference::default(), ColumnInference::default());
            for v in &column {
                full.observe(v);
                fast.observe_as(v, &guess);
            }
            let (full_type, fast_type) = (full.decide(), fast.decide());
            proptest::prop_assert_eq!(fast.missing(), full.missing());
            if fast_type == guess || guess.dtype.is_text() {
                // Confirmed guesses (and text guesses, observed in full) are exact.
                let both_text = full_type.dtype.is_text() && fast_type.dtype.is_text();
                proptest::prop_assert!(fast_type == full_type || both_text, "{:?} vs {:?}", fast_type, full_type);
                if guess.dtype.is_text() {
                    proptest::prop_assert_eq!(fast_type, full_type);
                    proptest::prop_assert_eq!(fast.mixed("c"), full.mixed("c"));
                }
            } else {
                // Otherwise the decision differs from the guess, so the caller reads again.
                proptest::prop_assert!(full_type != guess);
            }
        }
    }

    #[test]
    fn every_missing_token_is_missing_after_trimming() {
        for token in MISSING_TOKENS {
            assert!(is_missing(&format!("  {token} ")), "{token:?}");
        }
        assert!(!is_missing("0"));
        assert!(!is_missing("none of these"));
    }

    #[test]
    fn missing_tokens_are_at_most_four_bytes_as_is_missing_assumes() {
        assert!(MISSING_TOKENS.iter().all(|t| t.len() <= 4));
    }

    #[test]
    fn integers_with_missing_values_stay_int64() {
        assert_eq!(dtype(&["1", "", "-3", "NA", "+7"]), DType::Int64);
    }

    #[test]
    fn codes_with_leading_zeros_stay_text() {
        assert_eq!(parse_int("02134"), IntLiteral::NotAnInteger);
        assert_eq!(parse_float("02134"), None);
        assert_eq!(dtype(&["02134", "10001", "94105", "02139", "60601"]), DType::Object);
    }

    #[test]
    fn zero_is_an_integer() {
        assert_eq!(parse_int("0"), IntLiteral::Value(0));
        assert_eq!(parse_int("-0"), IntLiteral::Value(0));
    }

    #[test]
    fn int64_extremes_are_exact_and_beyond_them_the_column_is_text() {
        assert_eq!(parse_int("9223372036854775807"), IntLiteral::Value(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), IntLiteral::Value(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), IntLiteral::OutOfRange);
        assert_eq!(dtype(&["1", "9223372036854775808"]), DType::Object);
        assert_eq!(dtype(&["1.5", "9223372036854775808"]), DType::Object);
    }

    #[test]
    fn thousands_separators_are_not_numbers() {
        assert_eq!(parse_int("1,000"), IntLiteral::NotAnInteger);
        assert_eq!(parse_float("1,000.5"), None);
    }

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

    #[test]
    fn integers_and_floats_together_are_float64() {
        assert_eq!(dtype(&["1", "2.5", "", "3"]), DType::Float64);
    }

    #[test]
    fn booleans_accept_true_false_yes_no_in_any_case() {
        assert_eq!(dtype(&["true", "FALSE", "Yes", "no", "NA"]), DType::Bool);
        assert_eq!(dtype(&["true", "1"]), DType::Object);
        assert_eq!(dtype(&["0", "1", "1"]), DType::Int64);
    }

    #[test]
    fn iso_dates_and_datetimes_are_datetime64() {
        assert_eq!(
            infer(&["2025-01-02", "2024-02-29"]),
            InferredType { dtype: DType::Datetime64, temporal: Some(TemporalKind::Date) }
        );
        assert_eq!(infer(&["2025-01-02T10:00:00", "2025-01-02 11:30"]).temporal, Some(TemporalKind::Naive));
        assert_eq!(infer(&["2025-01-02T10:00:00Z", "2025-01-02T10:00:00+02:00"]).temporal, Some(TemporalKind::Utc));
        assert_eq!(infer(&["2025/01/02", "2025/12/31"]).temporal, Some(TemporalKind::Date));
    }

    #[test]
    fn zoned_values_become_the_utc_instant_they_denote() {
        let (_, plus_two) = parse_datetime("2025-01-02T12:00:00+02:00").unwrap();
        let (_, utc) = parse_datetime("2025-01-02T10:00:00Z").unwrap();
        assert_eq!(plus_two, utc);
        let (_, compact) = parse_datetime("2025-01-02T05:30:00-0430").unwrap();
        assert_eq!(compact, utc);
    }

    #[test]
    fn datetimes_keep_microseconds_and_refuse_finer_precision() {
        let (_, t) = parse_datetime("1970-01-01T00:00:00.000123").unwrap();
        assert_eq!(t, Temporal::Micros(123));
        assert!(parse_datetime("1970-01-01T00:00:00.000000001").is_none());
        let (_, t) = parse_datetime("1970-01-01T00:00:00.123456000").unwrap();
        assert_eq!(t, Temporal::Micros(123_456));
    }

    #[test]
    fn cells_taken_as_text_by_their_first_byte_fit_no_other_type() {
        let tails = [
            "", "a", "1", "A", "/A", "a/a", "aN", "ULL", "ull", "one", "rue", "alse", "es", "o", "nf", "nfinity",
            "-01-01", "23",
        ];
        let firsts: Vec<String> =
            (0u8..128).map(|b| (b as char).to_string()).chain(["é", "ß", "\u{feff}"].map(String::from)).collect();
        let mut shortcut = 0;
        for first in &firsts {
            for tail in tails {
                let cell = format!("{first}{tail}");
                if plainly_text(&cell) {
                    shortcut += 1;
                    assert!(!is_missing(&cell), "{cell:?}");
                    assert_eq!(parse_int(&cell), IntLiteral::NotAnInteger, "{cell:?}");
                    assert_eq!(parse_float(&cell), None, "{cell:?}");
                    assert_eq!(parse_bool(&cell), None, "{cell:?}");
                    assert_eq!(parse_datetime(&cell), None, "{cell:?}");
                }
            }
        }
        assert!(shortcut > 500, "most letters take the shortcut: {shortcut}");
        // Every token that another type accepts begins with a byte the shortcut leaves alone.
        for token in MISSING_TOKENS.iter().chain(&["true", "FALSE", "Yes", "no", "inf", "-Infinity", "Infinity"]) {
            assert!(!plainly_text(token), "{token}");
        }
    }

    #[test]
    fn day_numbers_equal_chronos_for_every_day_of_every_year_and_refuse_impossible_days() {
        use chrono::NaiveDate;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for year in 0..=10_000u32 {
            for month in 0..=13u32 {
                for day in 0..=32u32 {
                    let expected = (1..=9999).contains(&year).then_some(()).and_then(|()| {
                        NaiveDate::from_ymd_opt(year as i32, month, day)
                            .map(|d| d.signed_duration_since(epoch).num_days())
                    });
                    assert_eq!(days_since_epoch(year, month, day), expected, "{year}-{month}-{day}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn datetimes_equal_chronos_reading_of_the_same_text(
            year in 1i32..=9999, month in 1u32..=12, day in 1u32..=31,
            hour in 0u32..=24, minute in 0u32..=60, second in 0u32..=60, micros in 0u32..1_000_000,
            offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32),
        ) {
            use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
            let naive_text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{micros:06}");
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let zoned_text = format!("{naive_text}{sign}{:02}:{:02}", offset_minutes.abs() / 60, offset_minutes.abs() % 60);
            let expected = NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|d| d.and_hms_micro_opt(hour, minute, second, micros))
                .filter(|_| second < 60);
            let naive = parse_datetime(&naive_text).map(|(_, t)| t);
            proptest::prop_assert_eq!(naive, expected.map(|n: NaiveDateTime| Temporal::Micros(n.and_utc().timestamp_micros())));
            let zoned = parse_datetime(&zoned_text).map(|(_, t)| t);
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let expected_zoned = expected.and_then(|n| offset.from_local_datetime(&n).single()).map(|z| Temporal::Micros(z.timestamp_micros()));
            proptest::prop_assert_eq!(zoned, expected_zoned, "{}", zoned_text);
        }
    }

    #[test]
    fn dates_count_days_from_the_unix_epoch() {
        assert_eq!(parse_datetime("1970-01-02").unwrap().1, Temporal::Date(1));
        assert_eq!(parse_datetime("1969-12-31").unwrap().1, Temporal::Date(-1));
        assert_eq!(parse_datetime("0001-01-01").unwrap().1, Temporal::Date(-719_162));
    }

    #[test]
    fn mixed_formats_or_a_non_date_make_the_column_text() {
        assert_eq!(dtype(&["2025-01-02", "2025-01-02T10:00:00"]), DType::Object);
        assert_eq!(dtype(&["2025-01-02", "2025/01/03"]), DType::Object);
        assert_eq!(dtype(&["2025-01-02T10:00:00", "2025-01-02T10:00:00Z"]), DType::Object);
        assert_eq!(dtype(&["2025-01-02", "2025-01-03", "soon"]), DType::Object);
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_not_dates() {
        for bad in ["2025-02-30", "2025-13-01", "0000-01-01", "01/02/2025", "2025-01-02T25:00", "2025/01/02T10:00"] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn low_cardinality_text_is_category() {
        let values: Vec<&str> = ["red", "green", "blue"].iter().cycle().take(30).copied().collect();
        assert_eq!(dtype(&values), DType::Category);
    }

    #[test]
    fn text_with_many_or_mostly_unique_values_is_object() {
        assert_eq!(dtype(&["a", "b", "c"]), DType::Object);
        let many: Vec<String> = (0..200).map(|i| format!("v{}", i % 51)).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(dtype(&refs), DType::Object);
        let fifty: Vec<String> = (0..200).map(|i| format!("v{}", i % 50)).collect();
        let refs: Vec<&str> = fifty.iter().map(String::as_str).collect();
        assert_eq!(dtype(&refs), DType::Category);
    }

    #[test]
    fn category_rule_needs_half_as_many_distinct_values_as_values() {
        assert!(is_category(2, 4));
        assert!(!is_category(3, 5));
        assert!(!is_category(51, 1000));
        assert!(!is_category(0, 0));
    }

    #[test]
    fn a_text_column_of_mostly_numbers_is_reported_as_mixed() {
        let mut c = ColumnInference::default();
        ["1", "2", "3", "n/a?", "4.5"].iter().for_each(|v| {
            c.observe(v);
        });
        assert_eq!(c.decide().dtype, DType::Object);
        let mixed = c.mixed("amount").unwrap();
        assert_eq!((mixed.mostly, mixed.non_fitting, mixed.non_missing), (DType::Float64, 1, 5));
        let mut words = ColumnInference::default();
        ["a", "b", "1"].iter().for_each(|v| {
            words.observe(v);
        });
        assert_eq!(words.mixed("w"), None, "only a third are numbers");
        let mut clean = ColumnInference::default();
        ["1", "2"].iter().for_each(|v| {
            clean.observe(v);
        });
        assert_eq!(clean.mixed("n"), None, "an int64 column is not mixed");
    }

    #[test]
    fn an_all_missing_column_is_object() {
        assert_eq!(dtype(&["", "NA", "null"]), DType::Object);
    }

    #[test]
    fn surrounding_white_space_does_not_change_the_type() {
        assert_eq!(dtype(&[" 1", "2 ", "\t3"]), DType::Int64);
    }
}
