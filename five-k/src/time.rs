//! Timestamps as Marathon writes them: `2026-12-06T14:35:05.123Z`.
//!
//! Marathon names app versions by the time of the change, and clients
//! parse them (marathon-python reads `%Y-%m-%dT%H:%M:%S.%fZ`). Versions
//! are also compared as text, so the format is fixed: UTC, milliseconds,
//! always three digits. Text in this form sorts in time order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats a moment as Marathon does.
pub fn format(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let seconds = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Year, month and day of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, exact for the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A clock that never goes back and never repeats a millisecond: two
/// changes in one millisecond must still be two versions, in order.
#[derive(Debug, Default)]
pub struct VersionClock {
    last: Option<SystemTime>,
}

impl VersionClock {
    /// The version for a change made `now`.
    pub fn next(&mut self, now: SystemTime) -> String {
        let millis = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis()
        };
        let at = match self.last {
            Some(last) if millis(now) <= millis(last) => last + Duration::from_millis(1),
            _ => now,
        };
        self.last = Some(at);
        format(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(millis)
    }

    #[test]
    fn moments_are_written_as_marathon_writes_them() {
        assert_eq!(format(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(format(at(1_796_999_705_123)), "2026-12-11T14:35:05.123Z");
        assert_eq!(format(at(951_782_400_000)), "2000-02-29T00:00:00.000Z");
        assert_eq!(format(at(4_107_542_399_999)), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn versions_made_in_one_millisecond_still_differ_and_sort_in_order() {
        let mut clock = VersionClock::default();
        let first = clock.next(at(5_000));
        let second = clock.next(at(5_000));
        let third = clock.next(at(4_000));
        assert!(first < second && second < third, "{first} {second} {third}");
    }
}
