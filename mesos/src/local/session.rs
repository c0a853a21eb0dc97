//! A custom executor's container: its process and everything it starts.
//!
//! A Mesos agent destroying an executor's container kills every process
//! in it, however the executor arranged them: the cgroups isolator kills
//! the cgroup, and the POSIX launcher kills the whole process tree,
//! process groups and sessions included (`PosixLauncher::destroy` →
//! `os::killtree(pid, SIGKILL, true, true)`,
//! `src/slave/containerizer/mesos/launcher.cpp`). Killing the executor's
//! process group is not enough: an executor commonly starts each task in
//! a process group of its own, so that it can kill one task and not the
//! others, and those groups would outlive the executor, re-parented to
//! PID 1.
//!
//! Here, on Linux, the executor starts as the leader of a new session
//! ([`new_session`]): every process it starts stays in that session
//! unless it calls `setsid` itself, whatever process group it moves to.
//! Destroying the container SIGKILLs its process group and every process
//! of its session ([`kill_sessions`]), found by scanning `/proc`. Elsewhere, the executor
//! gets a process group of its own and only that group is killed.

/// Makes the command's process the leader of a new session (Linux), or
/// of a new process group (elsewhere). A session leader leads its own
/// process group too, so signalling its group still works.
pub(crate) fn new_session(command: &mut tokio::process::Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe functions may be called: setsid is a plain
    // system call, and nothing here allocates or takes a lock.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    command.process_group(0);
}

/// SIGKILLs every live process of the sessions `sids` (Linux; elsewhere
/// nothing: the executor's process group is all there is to kill),
/// scanning `/proc` until a scan finds none: a process forking while it
/// is scanned has its child found by the next scan, and a SIGKILLed
/// process forks no more. Blocking (it reads `/proc`), but quick; usable
/// from `Drop`. The caller kills the leaders' process groups.
///
/// A session ID is safe to use after its leader died: Linux does not
/// reuse a pid while a session or process group still holds it.
pub(crate) fn kill_sessions(sids: &[u32]) {
    #[cfg(target_os = "linux")]
    kill_session_members(sids);
    #[cfg(not(target_os = "linux"))]
    let _ = sids;
}

#[cfg(target_os = "linux")]
fn kill_session_members(sids: &[u32]) {
    // A bound, in case a process outruns the scans (a fork bomb).
    const SCANS: usize = 16;
    let sids: Vec<u32> = sids.iter().copied().filter(|sid| *sid != 0).collect();
    if sids.is_empty() {
        return;
    }
    for _ in 0..SCANS {
        let members = session_members(&sids);
        if members.is_empty() {
            return;
        }
        for pid in members {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) is a plain system call.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
    tracing::warn!(?sids, "processes of a destroyed container may still run");
}

/// The live (not zombie) processes of the sessions `sids`.
#[cfg(target_os = "linux")]
fn session_members(sids: &[u32]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // A process that ended since the listing has no stat any more.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parse_stat(&stat))
                .is_some_and(|stat| sids.contains(&stat.session) && !stat.dead())
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` that matter here (proc(5)).
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    state: char,
    session: u32,
}

#[cfg(target_os = "linux")]
impl Stat {
    /// A zombie (or dying) process: it runs no more, and cannot be killed.
    fn dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `pid (comm) state ppid pgrp session ...`. The command name may
/// contain spaces and parentheses, so the fields are read after its last
/// `)`.
#[cfg(target_os = "linux")]
fn parse_stat(stat: &str) -> Option<Stat> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let session = fields.nth(2)?.parse().ok()?;
    Some(Stat { state, session })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "4242 (a) b) (c) S 1 4242 4240 0 -1 4194560 99 0 0 0";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                state: 'S',
                session: 4240
            })
        );
        let zombie = parse_stat("7 (sleep) Z 1 7 7 0").unwrap();
        assert!(zombie.dead());
        assert_eq!(parse_stat("7 (sleep"), None);
        assert_eq!(parse_stat("7 (sleep) S 1 7 x"), None);
    }
}
