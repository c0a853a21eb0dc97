//! What the web page shows of the scheduler, and how it gets there.
//!
//! Every instance serves the page, but only the leader knows the tasks:
//! they live in its scheduler, which runs in its term (`leadership.rs`).
//! So after each round of events the term publishes a [`Leading`] snapshot on a
//! `watch` channel, and `None` when the term ends; the web server reads the
//! latest one when a page is asked for. The scheduler never waits for the
//! web server, and the page never sees a scheduler half-way through an
//! event.

use serde::Serialize;

use crate::scheduler::Scheduler;

/// What the leader knows, for the page and `/api/state`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Leading {
    /// The framework's ID, once the master gave one.
    pub framework_id: Option<String>,
    /// How many tasks to run.
    pub instances: usize,
    /// The master the leader is subscribed to.
    pub master: Option<String>,
    /// Tasks running (and the rest that have started: killing,
    /// unreachable), by task ID.
    pub running: Vec<TaskRow>,
    /// Tasks launched and not running yet.
    pub staging: Vec<TaskRow>,
}

/// One task, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub id: String,
    /// As Mesos spells it: `TASK_RUNNING`.
    pub state: String,
    /// The agent's host, or its ID if no offer told us the host.
    pub agent: String,
    /// When it started running, and when its state last changed (UTC).
    pub started: Option<String>,
    pub changed: Option<String>,
    /// The last status update's message and reason.
    pub message: Option<String>,
    pub reason: Option<String>,
}

impl Leading {
    /// A snapshot of `scheduler`, subscribed to `master`.
    pub fn of(scheduler: &Scheduler, master: Option<String>) -> Leading {
        let mut leading = Leading {
            framework_id: scheduler.framework_id().map(|id| id.value.clone()),
            instances: scheduler.instances(),
            master,
            ..Leading::default()
        };
        for (id, record) in scheduler.tasks() {
            let details = scheduler.details(id).cloned().unwrap_or_default();
            let row = TaskRow {
                id: id.clone(),
                state: record.state.as_str_name().to_string(),
                agent: details
                    .host
                    .or_else(|| record.agent_id.clone())
                    .unwrap_or_default(),
                started: details.started.map(utc),
                changed: details.changed.map(utc),
                message: details.message,
                reason: details.reason,
            };
            let waiting = matches!(record.state.as_str_name(), "TASK_STAGING" | "TASK_STARTING");
            if waiting {
                leading.staging.push(row);
            } else {
                leading.running.push(row);
            }
        }
        leading
    }
}

/// Seconds since the epoch as `2026-11-24 10:52:15 UTC`.
pub fn utc(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as i64;
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm (days since 1970-01-01).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        time / 3_600,
        time % 3_600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_517_535.5), "2026-11-24 10:52:15 UTC");
        assert_eq!(utc(-5.0), "1970-01-01 00:00:00 UTC");
    }
}
