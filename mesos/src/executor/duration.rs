//! Durations as Mesos writes them: `15mins`, `2secs`, `2.5hrs`.
//!
//! The agent hands an executor its timeouts in environment variables
//! (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, MESOS_RECOVERY_TIMEOUT,
//! MESOS_SUBSCRIPTION_BACKOFF_MAX), each printed by stout's `Duration`
//! (`3rdparty/stout/include/stout/duration.hpp`, `operator<<`), and
//! Mesos' executor library reads them back with `Duration::parse`. This
//! module is both halves: [`parse`] accepts what `Duration::parse` accepts
//! and nothing more, [`format()`] writes what `operator<<` writes (the
//! simulated agent uses it to fill an executor's environment).
//!
//! The format is a decimal number, maybe with a fraction, glued to a unit:
//! `ns`, `us`, `ms`, `secs`, `mins`, `hrs`, `days` or `weeks`. There is no
//! sign (stout has a TODO for negative durations), no exponent and no
//! space.

use std::time::Duration;

/// Nanoseconds per unit, by the unit's name in Mesos' spelling.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("secs", 1_000_000_000),
    ("mins", 60 * 1_000_000_000),
    ("hrs", 3_600 * 1_000_000_000),
    ("days", 86_400 * 1_000_000_000),
    ("weeks", 7 * 86_400 * 1_000_000_000),
];

/// The longest duration stout can hold: `int64_t` nanoseconds.
const MAX_NANOS: f64 = i64::MAX as f64;

/// Text that is not a Mesos duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: {problem}")]
pub struct DurationError {
    /// The text as it was given.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Reads a duration as stout's `Duration::parse` does: the longest
/// prefix of digits and dots is the number, the rest must be a unit.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let error = |problem: String| DurationError {
        text: text.to_string(),
        problem,
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| error("expected a number followed by a unit, e.g. 5secs".into()))?;
    let (number, unit) = text.split_at(split);
    // `f64::from_str` would also take "inf", "1e3" or "-1"; none of them
    // gets here, since the number is digits and dots only.
    let value: f64 = number
        .parse()
        .map_err(|_| error(format!("{number:?} is not a decimal number")))?;
    let (_, factor) = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| {
            error(format!(
                "unknown unit {unit:?}; the units are ns, us, ms, secs, mins, hrs, days and weeks"
            ))
        })?;
    let nanos = value * *factor as f64;
    if nanos > MAX_NANOS {
        return Err(error(
            "longer than a Duration can hold (2^63 nanoseconds, about 292 years)".into(),
        ));
    }
    // stout truncates (`static_cast<int64_t>(value * unit)`), and so does
    // this cast.
    Ok(Duration::from_nanos(nanos as u64))
}

/// Writes a duration as stout's `operator<<` does: in the largest unit
/// it reaches, unless the next smaller unit makes it a whole number
/// (90 s is `90secs`, not `1.5mins`; 90.5 s is `1.50833333333333mins`),
/// with at most 15 significant digits.
pub fn format(duration: Duration) -> String {
    // stout's durations are i64 nanoseconds; longer ones do not exist.
    let nanos = u64::try_from(duration.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    // The bucket: the largest unit not above the duration (ns at least).
    let bucket = UNITS
        .iter()
        .rposition(|(_, factor)| nanos >= *factor)
        .unwrap_or(0);
    // One unit down if the bucket's unit gives a fraction and the smaller
    // one a whole number.
    let index = if bucket > 0 && nanos % UNITS[bucket].1 != 0 && nanos % UNITS[bucket - 1].1 == 0 {
        bucket - 1
    } else {
        bucket
    };
    let (unit, factor) = UNITS[index];
    if index == 0 {
        return format!("{nanos}{unit}");
    }
    format!("{}{unit}", significant(nanos as f64 / factor as f64, 15))
}

/// `value` with at most `digits` significant digits and no trailing
/// zeros, as a C++ stream with `precision(digits)` writes a number from 1
/// to below 10^digits (what every bucket above holds).
fn significant(value: f64, digits: usize) -> String {
    let integer_digits = (value.log10().floor() as usize) + 1;
    let decimals = digits.saturating_sub(integer_digits);
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_every_unit_and_fractions() {
        let cases = [
            ("10ns", Duration::from_nanos(10)),
            ("3us", Duration::from_micros(3)),
            ("250ms", Duration::from_millis(250)),
            ("5secs", Duration::from_secs(5)),
            ("15mins", Duration::from_secs(900)),
            ("2.5hrs", Duration::from_secs(9000)),
            ("1days", Duration::from_secs(86_400)),
            ("2weeks", Duration::from_secs(14 * 86_400)),
            (".5secs", Duration::from_millis(500)),
            ("0secs", Duration::ZERO),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_stout_refuses_naming_the_text() {
        for text in [
            "",
            "5",
            "secs",
            "5 secs",
            " 5secs",
            "-5secs",
            "5sec",
            "5s",
            "1e3secs",
            "1.2.3secs",
            "inf",
            "5SECS",
            "99999999weeks",
        ] {
            let error = parse(text).expect_err(text);
            assert_eq!(error.text, text);
            assert!(error.to_string().contains(&format!("{text:?}")), "{error}");
        }
    }

    #[test]
    fn writes_what_mesos_writes() {
        let cases = [
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_500), "1500ns"),
            (Duration::from_micros(2), "2us"),
            (Duration::from_millis(5), "5ms"),
            (Duration::from_secs(5), "5secs"),
            (Duration::from_millis(5_500), "5500ms"),
            (Duration::from_secs(61), "61secs"),
            (Duration::from_secs(90), "90secs"),
            (Duration::from_millis(90_500), "1.50833333333333mins"),
            (Duration::from_secs(120), "2mins"),
            (Duration::from_secs(900), "15mins"),
            (Duration::from_secs(9000), "150mins"),
            (Duration::from_secs(9000 * 2), "5hrs"),
            (Duration::from_secs(10 * 86_400), "10days"),
            (Duration::from_secs(7 * 86_400), "1weeks"),
            (Duration::from_secs(86_400 + 1), "1.00001157407407days"),
            (Duration::ZERO, "0ns"),
        ];
        for (duration, expected) in cases {
            assert_eq!(format(duration), expected, "{duration:?}");
        }
    }

    proptest! {
        /// What Mesos writes, Mesos reads back: exactly when the number
        /// is whole, to 15 significant digits otherwise.
        #[test]
        fn round_trip(nanos in 0u64..=i64::MAX as u64) {
            let duration = Duration::from_nanos(nanos);
            let text = format(duration);
            let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let error = (back.as_nanos() as f64 - nanos as f64).abs();
            prop_assert!(error <= nanos as f64 * 1e-14 + 1.0, "{text}: {back:?} vs {duration:?}");
        }

        #[test]
        fn reads_whole_units_exactly(value in 0u64..10_000, unit in 0usize..8) {
            let (name, factor) = UNITS[unit];
            let text = format!("{value}{name}");
            let duration = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(duration.as_nanos(), u128::from(value * factor));
        }

        #[test]
        fn never_panics(text in "\\PC{0,20}") {
            let _ = parse(&text);
        }
    }
}
