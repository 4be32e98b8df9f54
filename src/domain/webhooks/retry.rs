//! When a failed delivery is tried again: `WEBHOOK_RETRY_SCHEDULE`, the delays in seconds
//! after each failed attempt (default `5,30,120,600,3600,14400,43200,86400`: nine attempts
//! over about 1.8 days). After the last delay's attempt fails, the delivery is `failed`.

use std::time::Duration;

use thiserror::Error;

/// The default schedule, in seconds.
pub const DEFAULT_SCHEDULE: &str = "5,30,120,600,3600,14400,43200,86400";
/// Most retries a schedule may list, and the longest delay (7 days).
pub const MAX_RETRIES: usize = 30;
pub const MAX_DELAY_SECONDS: u64 = 7 * 86_400;

/// The delays before each retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "WEBHOOK_RETRY_SCHEDULE must list 0 to {MAX_RETRIES} delays in whole seconds, each 1 to {MAX_DELAY_SECONDS}, separated by commas: {0}"
)]
pub struct MalformedSchedule(String);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule::parse(DEFAULT_SCHEDULE).expect("the default schedule is well formed")
    }
}

impl RetrySchedule {
    /// Parses `5,30,120` (spaces allowed; empty: no retry).
    pub fn parse(raw: &str) -> Result<Self, MalformedSchedule> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(RetrySchedule(Vec::new()));
        }
        let delays = raw
            .split(',')
            .map(|part| match part.trim().parse::<u64>() {
                Ok(s) if (1..=MAX_DELAY_SECONDS).contains(&s) => Ok(Duration::from_secs(s)),
                _ => Err(MalformedSchedule(format!("{:?} is not a delay", part.trim()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > MAX_RETRIES {
            return Err(MalformedSchedule(format!("{} delays", delays.len())));
        }
        Ok(RetrySchedule(delays))
    }

    /// The wait before the next attempt once `attempts` attempts have failed, or `None` when
    /// none is left (the delivery has failed).
    pub fn delay_after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }

    /// Attempts in all: the first and one per delay.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_allows_nine_attempts_with_the_documented_delays() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.max_attempts(), 9);
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(2), Some(Duration::from_secs(30)));
        assert_eq!(schedule.delay_after(8), Some(Duration::from_secs(86_400)));
        assert_eq!(schedule.delay_after(9), None, "the ninth failure is final");
        assert_eq!(schedule.delay_after(0), None);
    }

    #[test]
    fn a_schedule_lists_whole_seconds_within_bounds() {
        assert_eq!(RetrySchedule::parse(" 1, 2 ,3").unwrap().max_attempts(), 4);
        assert_eq!(RetrySchedule::parse("").unwrap().max_attempts(), 1);
        for bad in ["0", "1,,2", "-5", "1.5", "a", "604801"] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
        assert!(RetrySchedule::parse(&vec!["1"; MAX_RETRIES + 1].join(",")).is_err());
    }
}
