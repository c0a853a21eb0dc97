//! Every command in the README's `sh` blocks is run or checked here, so the
//! guide cannot rot. A command this test does not know fails it: add a
//! check when adding a command to the README.
//!
//! Commands that would reach the workshop's VMs (10.10.4.x) are never sent
//! there: their flags are parsed (`--help` after them makes the program
//! validate them and exit), and `vagrant` commands are checked with
//! `vagrant validate` under the same settings.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use kit_tests::{generate_in_checkout, repo_root};

/// The commands of the README's ```sh blocks, comments removed.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh_block = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh_block = trimmed == "```sh";
            continue;
        }
        if in_sh_block {
            let command = trimmed.split(" # ").next().unwrap().trim();
            if !command.is_empty() {
                commands.push(command.to_string());
            }
        }
    }
    commands
}

/// Splits `A=1 B=2 program args` into the environment and the words.
/// (README commands quote only with single quotes, without spaces inside.)
fn split(command: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = Vec::new();
    let mut words = Vec::new();
    for word in command.split_whitespace() {
        let word = word.trim_matches('\'').to_string();
        match word.split_once('=') {
            Some((key, value))
                if words.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
            {
                env.push((key.to_string(), value.to_string()))
            }
            _ => words.push(word),
        }
    }
    (env, words)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn build_workspace_binaries() {
    let status = Command::new(cargo())
        .args(["build", "--workspace", "--bins", "--examples", "--quiet"])
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(status.success(), "the workspace's binaries do not build");
}

/// Runs `program args… --help`: clap validates every flag before `--help`.
fn assert_flags_parse(program: &Path, args: &[String]) {
    let output = Command::new(program)
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} {} is rejected:\n{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a program until a line of its output satisfies `done`.
fn run_until(program: &Path, args: &[&str], mut done: impl FnMut(&str) -> bool, within: Duration) {
    let mut child = Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let finished = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if done(&line) => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        finished,
        "{} {args:?} did not get there within {within:?}:\n{}",
        program.display(),
        seen.join("\n")
    );
}

/// Checks one README command; panics if it fails or is unknown.
fn check(command: &str) {
    let root = repo_root();
    let (env, words) = split(command);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        // The test command itself: CI must run exactly it.
        ["bin/test"] => {
            let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
            assert!(ci.contains("bin/test"), ".ci/run does not run bin/test");
        }
        // Run against real services by tests/diagnose.rs; here, check that
        // the settings the README uses are ones the script reads.
        ["bin/diagnose-vagrant-setup.sh"] => {
            let script =
                std::fs::read_to_string(root.join("bin/diagnose-vagrant-setup.sh")).unwrap();
            for (key, _) in &env {
                assert!(
                    script.contains(key.as_str()),
                    "the diagnose script ignores {key}"
                );
            }
        }
        // Run by tests/offline.rs.
        ["bin/prepare-offline.sh"] => assert!(root.join("bin/prepare-offline.sh").exists()),
        // No VMs here: validate the Vagrantfile under the same settings.
        ["vagrant", subcommand, ..] => {
            assert!(
                [
                    "up",
                    "ssh",
                    "provision",
                    "halt",
                    "destroy",
                    "reload",
                    "status"
                ]
                .contains(subcommand),
                "unexpected vagrant command {subcommand}"
            );
            let dotfiles = tempfile::tempdir().unwrap();
            let validated = Command::new("vagrant")
                .args(["validate", "--ignore-provider"])
                .envs(env.iter().cloned())
                .env("VAGRANT_CHECKPOINT_DISABLE", "1")
                .env("VAGRANT_DOTFILE_PATH", dotfiles.path())
                .current_dir(&root)
                .output()
                .expect("vagrant is not installed: run bin/test, which installs it");
            assert!(
                validated.status.success(),
                "{command}: the Vagrantfile does not validate:\n{}",
                String::from_utf8_lossy(&validated.stdout)
            );
        }
        ["diff", "-r", left, right] => {
            assert!(
                root.join(left).is_dir() && root.join(right).is_dir(),
                "{command}: no such steps"
            );
            let status = Command::new("diff")
                .args(["-r", left, right])
                .current_dir(&root)
                .output()
                .unwrap()
                .status;
            assert!(
                status.code() == Some(1),
                "{command}: the steps should differ (exit {status})"
            );
        }
        // The first set-up command: two tasks really run.
        ["cargo", "run", "-p", "hello-mesos"] => {
            let mut running = 0;
            run_until(
                &root.join("target/debug/hello-mesos"),
                &["--instances", "2"],
                |line| {
                    running += usize::from(line.contains("TASK_RUNNING"));
                    running == 2
                },
                Duration::from_secs(60),
            );
        }
        ["cargo", "run", "-p", "mesos", "--example", "offers"] => {
            run_until(
                &root.join("target/debug/examples/offers"),
                &[],
                |line| line.starts_with("offer "),
                Duration::from_secs(60),
            );
        }
        // Generating inside the checkout is checked in a copy of it.
        ["cargo", "generate", ..] | ["cargo", "run", "-p", "awesome-framework"] => {}
        ["cargo", "run", "-p", package, "--", args @ ..] => {
            let args: Vec<String> = args
                .iter()
                .filter(|a| **a != "--help")
                .map(|a| a.to_string())
                .collect();
            assert_flags_parse(&root.join("target/debug").join(package), &args);
        }
        _ => panic!("README command without a check in kit-tests/tests/readme.rs: {command}"),
    }
}

#[test]
fn every_readme_command_works() {
    let commands = readme_commands();
    assert!(commands.len() >= 10, "found only {commands:?}");
    build_workspace_binaries();
    for command in &commands {
        check(command);
    }
}

#[test]
fn generating_inside_the_checkout_joins_the_workspace_and_runs() {
    let readme = readme_commands();
    let generate = readme
        .iter()
        .find(|c| c.starts_with("cargo generate"))
        .expect("the README shows cargo generate");
    let (_, words) = split(generate);
    let run = readme
        .iter()
        .find(|c| c.starts_with("cargo run -p awesome-framework"))
        .expect("the README shows how to run the generated framework");

    let checkout = tempfile::tempdir().unwrap();
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let framework = generate_in_checkout(checkout.path(), &args);
    let manifest = std::fs::read_to_string(checkout.path().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("awesome-framework"),
        "not added to the workspace:\n{manifest}"
    );

    let (_, run_words) = split(run);
    let target_dir = repo_root().join("target");
    let built = Command::new(cargo())
        .args(["build", "--offline", "--quiet", "-p", &run_words[3]])
        .current_dir(checkout.path())
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .unwrap();
    assert!(
        built.success(),
        "{run} does not build in {}",
        framework.display()
    );
    assert_flags_parse(&target_dir.join("debug/awesome-framework"), &[]);
}
