//! Cron schedules for timers (the `cron` feature): parsing a pattern and finding its next
//! occurrence after a time, in UTC, on croner.
//!
//! Patterns have five fields (`minute hour day-of-month month day-of-week`) or six with
//! seconds first (`*/10 * * * * *`), as croner reads them: `*/5 * * * *` is every five
//! minutes, `0 9 * * MON-FRI` 09:00 UTC on weekdays, `@hourly` the start of each hour.

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::error::{Error, Result};

/// Checks `pattern` and returns the first occurrence strictly after `after_ms` (ms since
/// the Unix epoch), in ms.
pub(crate) fn next_after(pattern: &str, after_ms: u64) -> Result<u64> {
    let bad = |why: String| Error::bad_request(format!("cron pattern {pattern:?}: {why}"));
    let cron: Cron = pattern.parse().map_err(|e| bad(format!("{e}")))?;
    let after = i64::try_from(after_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(|| bad(format!("{after_ms} ms is out of range")))?;
    let next = cron
        .find_next_occurrence(&after, false)
        .map_err(|e| bad(format!("no next occurrence: {e}")))?;
    u64::try_from(next.timestamp_millis()).map_err(|_| bad("it is before 1970".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    /// 2026-01-05 00:00:00 UTC, a Monday.
    const MONDAY: u64 = 1_767_571_200_000;

    #[test]
    fn occurrences_follow_the_schedule_in_utc() {
        assert_eq!(next_after("*/5 * * * *", MONDAY).unwrap(), MONDAY + 5 * MIN);
        assert_eq!(
            next_after("*/5 * * * *", MONDAY + 1).unwrap(),
            MONDAY + 5 * MIN
        );
        assert_eq!(
            next_after("*/5 * * * *", MONDAY + 7 * MIN + 30_000).unwrap(),
            MONDAY + 10 * MIN
        );
        assert_eq!(
            next_after("0 9 * * MON-FRI", MONDAY).unwrap(),
            MONDAY + 9 * 60 * MIN
        );
        assert_eq!(
            next_after("*/10 * * * * *", MONDAY + 500).unwrap(),
            MONDAY + 10_000
        );
        assert_eq!(next_after("@hourly", MONDAY).unwrap(), MONDAY + 60 * MIN);
    }

    #[test]
    fn bad_patterns_are_bad_requests() {
        for pattern in ["", "* * *", "61 * * * *", "nonsense"] {
            let err = next_after(pattern, MONDAY).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::BadRequest, "{pattern}: {err}");
            assert!(err.to_string().contains("cron pattern"), "{err}");
        }
    }
}
