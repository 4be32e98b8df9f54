//! Date and datetime literals: the format families, days since the epoch, times of day and
//! UTC offsets.

use crate::domain::dtype::TemporalKind;
use crate::domain::inference::trim;

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
    /// `D/M/YYYY` or `M/D/YYYY` (day and month of one or two digits): which one, the column's
    /// values decide ([`DayMonthOrder`]).
    DayMonthDate,
    /// As [`DateFamily::DayMonthDate`] then a space and a time as in
    /// [`DateFamily::SlashDateTime`].
    DayMonthDateTime,
}

impl DateFamily {
    /// How a column of this family is stored.
    pub fn temporal_kind(self) -> TemporalKind {
        match self {
            DateFamily::IsoDate | DateFamily::SlashDate | DateFamily::DayMonthDate => TemporalKind::Date,
            DateFamily::IsoDateTime | DateFamily::SlashDateTime | DateFamily::DayMonthDateTime => TemporalKind::Naive,
            DateFamily::IsoDateTimeZoned => TemporalKind::Utc,
        }
    }

    /// The format's pattern, as the type evidence shows it (`order` for the day/month
    /// families).
    pub fn pattern(self, order: Option<DayMonthOrder>) -> &'static str {
        use DayMonthOrder::{DayFirst, MonthFirst};
        match (self, order) {
            (DateFamily::IsoDate, _) => "YYYY-MM-DD",
            (DateFamily::IsoDateTime, _) => "YYYY-MM-DD HH:MM:SS",
            (DateFamily::IsoDateTimeZoned, _) => "YYYY-MM-DD HH:MM:SS±HH:MM",
            (DateFamily::SlashDate, _) => "YYYY/MM/DD",
            (DateFamily::SlashDateTime, _) => "YYYY/MM/DD HH:MM:SS",
            (DateFamily::DayMonthDate, Some(DayFirst)) => "DD/MM/YYYY",
            (DateFamily::DayMonthDate, Some(MonthFirst)) => "MM/DD/YYYY",
            (DateFamily::DayMonthDate, None) => "DD/MM/YYYY or MM/DD/YYYY",
            (DateFamily::DayMonthDateTime, Some(DayFirst)) => "DD/MM/YYYY HH:MM:SS",
            (DateFamily::DayMonthDateTime, Some(MonthFirst)) => "MM/DD/YYYY HH:MM:SS",
            (DateFamily::DayMonthDateTime, None) => "DD/MM/YYYY or MM/DD/YYYY HH:MM:SS",
        }
    }
}

/// Which of a `NN/NN/YYYY` date's first two numbers is the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayMonthOrder {
    /// `DD/MM/YYYY`, as in most of the world.
    DayFirst,
    /// `MM/DD/YYYY`, as in the United States.
    MonthFirst,
}

/// A `D/M/YYYY`-shaped value: what it is under each order in which it is a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayMonthDate {
    pub day_first: Option<Temporal>,
    pub month_first: Option<Temporal>,
    pub family: DateFamily,
}

impl DayMonthDate {
    pub fn value(&self, order: DayMonthOrder) -> Option<Temporal> {
        match order {
            DayMonthOrder::DayFirst => self.day_first,
            DayMonthOrder::MonthFirst => self.month_first,
        }
    }

    /// The value when the order does not matter: the only one, or the same under both
    /// (`05/05/2020`).
    pub fn unambiguous(&self) -> Option<Temporal> {
        match (self.day_first, self.month_first) {
            (Some(v), None) | (None, Some(v)) => Some(v),
            (Some(a), Some(b)) if a == b => Some(a),
            _ => None,
        }
    }
}

/// Reads `A/B/YYYY`, optionally followed by a space and `HH:MM[:SS[.fraction]]`, where `A` and
/// `B` are numbers of one or two digits: the value when `A` is the day and `B` the month, and
/// when `B` is the day and `A` the month (`None` for an order that gives no date). `None` when
/// the text has another shape or is a date under neither order.
pub fn parse_day_month(cell: &str) -> Option<DayMonthDate> {
    let s = trim(cell).as_bytes();
    let first = s.iter().take(3).position(|&b| b == b'/')?;
    let second = first + 1 + s[first + 1..].iter().take(3).position(|&b| b == b'/')?;
    let (a, b) = (&s[..first], &s[first + 1..second]);
    if !(1..=2).contains(&a.len()) || !(1..=2).contains(&b.len()) || s.len() < second + 5 {
        return None;
    }
    let year = digits(&s[second + 1..second + 5])?;
    let (a, b) = (digits(a)?, digits(b)?);
    let rest = &s[second + 5..];
    let time = match rest.split_first() {
        None => None,
        Some((b' ', time)) => match parse_time(time)? {
            (micros, []) => Some(micros),
            _ => return None,
        },
        Some(_) => return None,
    };
    let at = |day: u32, month: u32| {
        let days = days_since_epoch(year, month, day)?;
        match time {
            None => i32::try_from(days).ok().map(Temporal::Date),
            Some(micros) => Some(Temporal::Micros(days * MICROS_PER_DAY + micros)),
        }
    };
    let family = if time.is_some() { DateFamily::DayMonthDateTime } else { DateFamily::DayMonthDate };
    let date = DayMonthDate { day_first: at(a, b), month_first: at(b, a), family };
    (date.day_first.is_some() || date.month_first.is_some()).then_some(date)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn day_month_dates_are_read_under_each_order_that_gives_a_date() {
        use DayMonthOrder::{DayFirst, MonthFirst};
        let day = |y, m, d| Temporal::Date(i32::try_from(days_since_epoch(y, m, d).unwrap()).unwrap());
        let both = parse_day_month("01/02/2020").unwrap();
        assert_eq!((both.value(DayFirst), both.value(MonthFirst)), (Some(day(2020, 2, 1)), Some(day(2020, 1, 2))));
        assert_eq!(both.unambiguous(), None);
        let day_first = parse_day_month("13/01/2020").unwrap();
        assert_eq!((day_first.day_first, day_first.month_first), (Some(day(2020, 1, 13)), None));
        assert_eq!(day_first.unambiguous(), Some(day(2020, 1, 13)));
        let month_first = parse_day_month("1/13/2020").unwrap();
        assert_eq!((month_first.day_first, month_first.month_first), (None, Some(day(2020, 1, 13))));
        assert_eq!(parse_day_month("5/5/2020").unwrap().unambiguous(), Some(day(2020, 5, 5)));
        let timed = parse_day_month("31/12/1999 23:59:30").unwrap();
        assert_eq!(timed.family, DateFamily::DayMonthDateTime);
        let micros = days_since_epoch(1999, 12, 31).unwrap() * MICROS_PER_DAY + (23 * 3600 + 59 * 60 + 30) * 1_000_000;
        assert_eq!(timed.day_first, Some(Temporal::Micros(micros)));
        for bad in [
            "13/13/2020",
            "32/01/2020",
            "001/02/2020",
            "1/2/20",
            "1/2/2020T10:00",
            "1/2/2020 25:00",
            "1-2-2020",
            "2020/01/02",
        ] {
            assert_eq!(parse_day_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_not_dates() {
        for bad in ["2025-02-30", "2025-13-01", "0000-01-01", "01/02/2025", "2025-01-02T25:00", "2025/01/02T10:00"] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
    }
}
