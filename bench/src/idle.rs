//! A scheduler's resident memory when it has nothing to do: step 01
//! subscribed with no task to launch, a few seconds after it started.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::Result;

use crate::procs::{self, Process};

/// Step 01's RSS in MB, idle.
pub fn run() -> Result<f64> {
    let (_master, port) = procs::start_master(1, crate::offer_cycle::AGENT_RESOURCES, true)?;
    let mut command = Command::new(procs::binary("hello-mesos")?);
    command
        .args(["--master", &format!("127.0.0.1:{port}"), "--instances", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let framework = Process::spawn("hello-mesos", &mut command)?;
    // Subscribed, and past its first offers.
    std::thread::sleep(Duration::from_secs(3));
    procs::memory_mb(framework.pid(), "VmRSS")
}
