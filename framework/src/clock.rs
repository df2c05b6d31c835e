//! Milliseconds since the Unix epoch are the runtime's unit of time (timer due times, the
//! clock, call deadlines).

use std::time::Duration;

/// `d` in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
