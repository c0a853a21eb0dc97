//! The peer: pymesos, the Python v1 HTTP client a user would pick instead,
//! doing the same launches (`pymesos/scheduler.py`) against the same
//! simulated master, over JSON. `bin/bench` installs it into a virtualenv
//! of its own (`target/bench-venv`) for the full run only.

use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::offer_cycle::{TASK_CPUS, TASK_MEM};

/// The virtualenv's python, if `bin/bench` made one.
fn python() -> Result<std::path::PathBuf> {
    let python = crate::procs::target_dir().join("../bench-venv/bin/python");
    if !python.exists() {
        bail!(
            "no pymesos virtualenv at {}: run bin/bench (the full run installs it)",
            python.display()
        );
    }
    Ok(python)
}

pub fn available() -> bool {
    python().is_ok()
}

pub fn command(master: &str, tasks: usize) -> Result<Command> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pymesos/scheduler.py");
    let mut command = Command::new(python()?);
    command
        .arg(script)
        .args(["--master", master, "--tasks", &tasks.to_string()])
        .args(["--cpus", TASK_CPUS, "--mem", TASK_MEM])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(command)
}
