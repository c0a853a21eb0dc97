//! HAProxy's master CLI: how 5K reloads HAProxy and learns that the
//! reload is done.
//!
//! HAProxy runs in master-worker mode (`haproxy -W -S <socket>`): a
//! master process parses the configuration and forks a worker that
//! serves. On `reload` the master re-executes itself, parses the new file
//! and forks a new worker, which takes the listening sockets over from
//! the old one through the master's socket pair (the `-x sockpair@` of
//! HAProxy's management guide, automatic in master-worker mode): the
//! ports never close, so no connection is refused during a reload, unlike
//! starting a new process with `-sf`, which binds anew and can drop the
//! connections queued on the old process's sockets. The old worker stops
//! accepting, finishes its connections and leaves.
//!
//! `reload` answers nothing, so 5K reads `show proc` before and after:
//! the master's reload count goes up once the new worker is forked, its
//! failure count if the new configuration did not load.

use std::{path::Path, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UnixStream,
};

/// How long the master CLI may be away: it is closed while the master
/// re-executes itself and parses the new file (milliseconds). Longer
/// means HAProxy is down, and KILLs must not wait on it much.
const CONNECT_PATIENCE: Duration = Duration::from_secs(3);

/// What `show proc` says, as far as a reload is concerned.
#[derive(Debug, Default, PartialEq)]
pub struct Processes {
    /// The master's reload count, and how many of them failed.
    pub reloads: u64,
    pub failed: u64,
    /// The current workers' pids.
    pub workers: Vec<u32>,
    /// Workers of earlier configurations still finishing connections.
    pub old_workers: Vec<u32>,
}

/// Sends one command and reads the answer to the end (the master closes
/// the connection after each command when no prompt is asked for).
pub async fn command(socket: &Path, command: &str) -> std::io::Result<String> {
    let mut stream = connect(socket).await?;
    stream.write_all(format!("{command}\n").as_bytes()).await?;
    stream.shutdown().await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

pub async fn show_proc(socket: &Path) -> std::io::Result<Processes> {
    let answer = command(socket, "show proc").await?;
    parse_show_proc(&answer)
        .ok_or_else(|| std::io::Error::other(format!("unexpected answer to show proc: {answer:?}")))
}

/// Connects, trying again while the master re-executes itself.
async fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return Ok(stream),
            Err(error) if tokio::time::Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Reads `show proc` (HAProxy 2.6's layout, management guide 9.4):
///
/// ```text
/// #<PID>          <type>          <reloads>       <uptime>        <version>
/// 1162            master          5 [failed: 0]   0d00h02m07s     2.6.12
/// # workers
/// 1271            worker          1               0d00h00m00s     2.6.12
/// # old workers
/// 1233            worker          3               0d00h00m43s     2.6.12
/// # programs
/// ```
pub fn parse_show_proc(answer: &str) -> Option<Processes> {
    let mut processes = Processes::default();
    let mut section = "";
    let mut master_seen = false;
    for line in answer.lines() {
        if let Some(heading) = line.strip_prefix("# ") {
            section = heading.trim();
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [first, ..] if first.starts_with('#') => {}
            [_, "master", reloads, "[failed:", failed, ..] => {
                processes.reloads = reloads.parse().ok()?;
                processes.failed = failed.trim_end_matches(']').parse().ok()?;
                master_seen = true;
            }
            [pid, "worker", ..] => {
                let pid = pid.parse().ok()?;
                match section {
                    "old workers" => processes.old_workers.push(pid),
                    _ => processes.workers.push(pid),
                }
            }
            _ => {}
        }
    }
    master_seen.then_some(processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_proc_as_haproxy_2_6_prints_it() {
        let answer = "#<PID>          <type>          <reloads>       <uptime>        <version>      \n\
            19201           master          23 [failed: 1]  0d00h11m24s     2.6.12-1+deb12u4\n\
            # workers\n\
            29123           worker          0               0d00h00m00s     2.6.12-1+deb12u4\n\
            # old workers\n\
            29001           worker          1               0d00h00m02s     2.6.12-1+deb12u4\n\
            # programs\n\n";
        assert_eq!(
            parse_show_proc(answer),
            Some(Processes {
                reloads: 23,
                failed: 1,
                workers: vec![29123],
                old_workers: vec![29001],
            })
        );
    }

    #[test]
    fn an_answer_without_a_master_is_not_show_proc() {
        assert_eq!(parse_show_proc("Unknown command.\n"), None);
    }
}
