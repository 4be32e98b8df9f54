//! Statistics of datetime columns: range and histogram over microseconds since the epoch.

use super::histogram::histogram;
use super::numeric::count_distinct;
use super::{TemporalStats, TimeHistogram};
use crate::domain::preview::{format_date, format_timestamp};

/// Microseconds in a day (dates are stored as days since the epoch).
pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Min, max and histogram of times in microseconds since the epoch (any order).
pub fn temporal_stats(mut micros: Vec<i64>, dates: bool, utc: bool) -> (Option<TemporalStats>, u64) {
    micros.sort_unstable();
    let unique = count_distinct(&micros);
    let (Some(&min), Some(&max)) = (micros.first(), micros.last()) else { return (None, unique) };
    let show = |m: i64| {
        if dates { format_date((m / MICROS_PER_DAY) as i32) } else { format_timestamp(m, utc) }
    };
    // Converted in place, as in `int_stats`.
    let floats: Vec<f64> = micros.into_iter().map(|m| m as f64).collect();
    let histogram = histogram(&floats).map(|h| TimeHistogram {
        counts: h.counts,
        bin_edges: h.bin_edges.iter().map(|&e| format_timestamp(e.round() as i64, utc)).collect(),
    });
    let stats = histogram.map(|histogram| TemporalStats { min: show(min), max: show(max), histogram });
    (stats, unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_columns_report_range_and_histogram() {
        let day = MICROS_PER_DAY;
        let (t, unique) = temporal_stats(vec![0, 10 * day, 5 * day, 5 * day], true, false);
        let t = t.unwrap();
        assert_eq!(unique, 3);
        assert_eq!(t.min, "1970-01-01");
        assert_eq!(t.max, "1970-01-11");
        assert_eq!(t.histogram.bin_edges[1], "1970-01-02T00:00:00");
        assert_eq!(t.histogram.counts, vec![1, 0, 0, 0, 0, 2, 0, 0, 0, 1]);
    }
}
