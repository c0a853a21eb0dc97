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

use kit_tests::{Background, generate_in_checkout, log_field, repo_root};

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

/// Runs a program until a line of its output satisfies `done`, then
/// stops it as Ctrl-C would.
fn run_until(program: &Path, args: &[&str], mut done: impl FnMut(&str) -> bool, within: Duration) {
    let mut program = Background::start(program, args);
    program.wait_for(|line| done(line).then_some(()), within);
}

/// `task-output`, really run against `cargo run -p hello-mesos`. The
/// README's command names the master's address and a task ID from its
/// transcript: they must look like what the framework logs, and the check
/// uses the ones of the framework it started instead.
fn check_task_output(root: &Path, args: &[&str]) {
    let master = args
        .iter()
        .position(|a| *a == "--master")
        .map(|i| args[i + 1])
        .expect("the README's task-output command has --master");
    assert!(
        master.starts_with("127.0.0.1:"),
        "{master}: the README shows the simulated master's address, as hello-mesos logs it"
    );
    let task_id = *args.last().unwrap();
    assert!(
        task_id.starts_with("hello-mesos-"),
        "{task_id}: not a task ID of hello-mesos"
    );

    let mut framework = Background::start(&root.join("target/debug/hello-mesos"), &[]);
    let within = Duration::from_secs(60);
    let address = framework.wait_for(
        |line| {
            line.contains("simulated Mesos master running")
                .then(|| log_field(line, "address").map(str::to_string))
                .flatten()
        },
        within,
    );
    // The log line the README points at, with the task's stdout.
    let started = framework.wait_for(
        |line| {
            let task = log_field(line, "task_id")?;
            let stdout = log_field(line, "stdout")?;
            line.contains(" INFO ")
                .then(|| (task.to_string(), stdout.to_string()))
        },
        within,
    );
    let (started_task, stdout) = started;
    assert!(stdout.ends_with("/stdout"), "{stdout}");
    let args: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            a if a == master => address.as_str(),
            a if a == task_id => started_task.as_str(),
            a => a,
        })
        .collect();
    let example = root.join("target/debug/examples/task-output");
    if args.contains(&"--follow") {
        run_until(&example, &args, |line| line == "Hey Mesos", within);
        return;
    }
    // The task writes once it runs: ask until it has.
    let deadline = Instant::now() + within;
    loop {
        let output = Command::new(&example).args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "task-output {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if stdout.lines().any(|line| line == "Hey Mesos") {
            assert!(stdout.lines().all(|line| line == "Hey Mesos"), "{stdout}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "task-output {args:?} printed no Hey Mesos within {within:?}: {stdout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a script's `--dry-run` says it would do.
fn dry_run(root: &Path, script: &str) -> String {
    let output = Command::new("bash")
        .arg(root.join(script))
        .arg("--dry-run")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} --dry-run failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The diagnose script with the README's settings, pointed at a real
/// ZooKeeper and a simulated master with as many agents as the settings
/// say the room has (2 unless AGENT_COUNT says otherwise).
fn diagnose(root: &Path, env: &[(String, String)]) {
    let agents: usize = env
        .iter()
        .find(|(key, _)| key == "AGENT_COUNT")
        .map_or(2, |(_, value)| value.parse().unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let zookeeper = mesos::testing::ZooKeeperServer::start();
    let master = runtime
        .block_on(mesos::local::LocalMaster::start(
            mesos::local::LocalMasterConfig {
                agents,
                ..Default::default()
            },
        ))
        .unwrap();
    let output = Command::new("bash")
        .arg(root.join("bin/diagnose-vagrant-setup.sh"))
        .envs(env.iter().cloned())
        .env("MASTER_IP", "127.0.0.1")
        .env("MASTER_PORT", master.addr().port.to_string())
        .env("ZK", zookeeper.connect_string())
        .env("SKIP_VAGRANT", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "diagnose with {env:?} failed against {agents} agent(s):\n{report}"
    );
    assert!(
        report.contains(&format!("{agents} agent(s) registered")),
        "{report}"
    );
    runtime.block_on(master.shutdown());
}

/// Checks one README command; panics if it fails or is unknown.
fn check(command: &str) {
    let root = repo_root();
    let (env, words) = split(command);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        // The test command itself: CI must run exactly it. Running it here
        // would run this test again; its dry run shows what it runs.
        ["bin/test"] => {
            let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
            // A line of its own (under `set -e`: a failure ends CI there).
            assert!(
                ci.lines()
                    .any(|line| line == "bin/test" || line == "exec bin/test"),
                ".ci/run does not run bin/test"
            );
            let planned = dry_run(&root, "bin/test");
            for step in [
                "+ bin/check-vagrant.sh",
                "+ cargo fmt --all -- --check",
                "+ cargo clippy --workspace --all-targets --locked -- -D warnings",
                "+ cargo test --workspace --locked",
            ] {
                assert!(
                    planned.lines().any(|line| line == step),
                    "bin/test does not run `{step}`:\n{planned}"
                );
            }
        }
        // Run against local services in place of the room's VMs, with the
        // README's settings: the agent count it expects must be the one
        // that passes (and tests/diagnose.rs checks the failures).
        ["bin/diagnose-vagrant-setup.sh"] => diagnose(&root, &env),
        // The vendoring is run by tests/offline.rs (elsewhere, without the
        // box); here, what the README's command would do, in its dry run.
        ["bin/prepare-offline.sh"] => {
            let planned = dry_run(&root, "bin/prepare-offline.sh");
            let vagrantfile = std::fs::read_to_string(root.join("Vagrantfile")).unwrap();
            for step in [
                "+ cargo vendor --locked --versioned-dirs vendor",
                "+ write .cargo/config.toml",
            ] {
                assert!(
                    planned.lines().any(|line| line == step),
                    "bin/prepare-offline.sh does not `{step}`:\n{planned}"
                );
            }
            let boxed = planned
                .lines()
                .find_map(|line| {
                    line.strip_prefix("+ vagrant box add ")
                        .or_else(|| line.strip_prefix("==> the Vagrant box "))
                })
                .unwrap_or_else(|| panic!("no Vagrant box downloaded:\n{planned}"));
            let name = boxed.split_whitespace().next().unwrap();
            assert!(
                vagrantfile.contains(&format!("\"{name}\"")),
                "the box {name} is not the Vagrantfile's"
            );
        }
        ["bin/go-ha"] => go_ha(&env),
        // It refuses while a go-ha runs; otherwise go-ha's data is gone.
        ["bin/go-ha", "clean"] => {
            let output = Command::new(root.join("bin/go-ha"))
                .arg("clean")
                .output()
                .unwrap();
            assert!(output.status.success(), "{command}: {output:?}");
            assert!(!root.join("target/go-ha").exists(), "{command} left it");
        }
        // The room on this machine needs its own ports (2181, 5050):
        // kit-tests/tests/room.rs runs these, and the steps on it, alone.
        ["bin/room", "start" | "status" | "stop" | "clean"] => {}
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
        // A unified diff, coloured on a terminal: far easier to read
        // than diff's default.
        ["diff", "-ru", "--color=auto", left, right] => {
            assert!(
                root.join(left).is_dir() && root.join(right).is_dir(),
                "{command}: no such steps"
            );
            let status = Command::new("diff")
                .args(["-ru", "--color=auto", left, right])
                .current_dir(&root)
                .output()
                .unwrap()
                .status;
            assert!(
                status.code() == Some(1),
                "{command}: the steps should differ (exit {status})"
            );
        }
        // 5K: it serves the API on the simulated master.
        ["cargo", "run", "-p", "five-k"] => {
            run_until(
                &root.join("target/debug/five-k"),
                &["--http-address", "127.0.0.1:0"],
                |line| line.contains("Marathon's REST API served on"),
                Duration::from_secs(60),
            );
        }
        // The first set-up command: two tasks really run.
        ["cargo", "run", "-p", "hello-mesos"] => {
            let mut running = std::collections::BTreeSet::new();
            run_until(
                &root.join("target/debug/hello-mesos"),
                &["--instances", "2"],
                |line| {
                    if line.contains("TASK_RUNNING") {
                        running.extend(log_field(line, "task").map(str::to_string));
                    }
                    running.len() == 2
                },
                Duration::from_secs(60),
            );
        }
        [
            "cargo",
            "run",
            "-p",
            "mesos",
            "--example",
            "task-output",
            "--",
            args @ ..,
        ] => {
            check_task_output(&root, args);
        }
        ["cargo", "run", "-p", "mesos", "--example", "offers"] => {
            run_until(
                &root.join("target/debug/examples/offers"),
                &[],
                |line| line.starts_with("offer "),
                Duration::from_secs(60),
            );
        }
        // Step 6's fast layers: run them, and see the original workshop's
        // first test among those that passed.
        ["cargo", "test", "-p", package, "--bins"] => {
            let output = Command::new(cargo())
                .args(["test", "--quiet", "-p", package, "--bins"])
                .current_dir(&root)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("test result: ok"),
                "{command} fails:\n{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let listed = Command::new(cargo())
                .args(["test", "--quiet", "-p", package, "--bins", "--", "--list"])
                .current_dir(&root)
                .output()
                .unwrap();
            let list = String::from_utf8_lossy(&listed.stdout);
            assert!(
                list.contains("an_offer_of_2_cpus_and_1024_mb_gives_one_launch: test")
                    && list.contains("a_scheduler_keeps_its_promises_whatever_happens: test"),
                "{command} does not run the decision and property tests:\n{list}"
            );
        }
        // Every layer, ZooKeeper included: bin/test runs the workspace's
        // tests, this package's among them.
        ["cargo", "test", "-p", package] => {
            let script = std::fs::read_to_string(root.join("bin/test")).unwrap();
            assert!(
                script.contains("cargo test --workspace"),
                "bin/test does not run the workspace's tests"
            );
            assert!(
                root.join("target/debug").join(package).exists(),
                "{package} is not a binary of the workspace"
            );
        }
        // Generating inside the checkout is checked in a copy of it.
        ["cargo", "generate", ..] | ["cargo", "run", "-p", "awesome-framework"] => {}
        // An operator's change of the count: the node the steps watch (each
        // step's tests/zookeeper_state.rs changes it and sees it adopted).
        ["zkCli.sh", "-server", _, "set", node, count] => {
            assert_eq!(*node, "/hello-mesos/state/instances", "{command}");
            assert!(count.parse::<usize>().is_ok(), "{command}");
        }
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

/// The README's Rust snippet is compiled: it is the body of
/// `mesos/examples/readme.rs`, which `every_readme_command_works` builds
/// (as bin/test's clippy does).
#[test]
fn the_readme_rust_snippet_is_the_compiled_example() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let snippets: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    let example = std::fs::read_to_string(repo_root().join("mesos/examples/readme.rs")).unwrap();
    let compiled = example
        .split("// README begin\n")
        .nth(1)
        .and_then(|rest| rest.split("// README end\n").next())
        .expect("README begin/end markers in mesos/examples/readme.rs");
    assert_eq!(
        snippets,
        [compiled],
        "README's Rust snippets vs mesos/examples/readme.rs"
    );
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
    // It joins the workspace through the root's `frameworks/*`: the root
    // Cargo.toml, comments and all, is left as it is.
    let manifest = std::fs::read(checkout.path().join("Cargo.toml")).unwrap();
    let ours = std::fs::read(repo_root().join("Cargo.toml")).unwrap();
    assert!(
        manifest == ours,
        "cargo generate changed the root Cargo.toml:\n{}",
        String::from_utf8_lossy(&manifest)
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

/// `bin/go-ha` on a test ZooKeeper and a simulated master: three instances
/// elect a leader; `bin/go-ha cycle` and `bin/go-ha kill` hand leadership
/// over; stopping go-ha stops every instance.
fn go_ha(env: &[(String, String)]) {
    let root = repo_root();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let zookeeper = mesos::testing::ZooKeeperServer::start();
    let master = runtime
        .block_on(mesos::local::LocalMaster::start(mesos::testing::config()))
        .unwrap();
    let zk_url = format!("zk://{}/hello-mesos", zookeeper.connect_string());
    let mut go_ha = Command::new(root.join("bin/go-ha"))
        .envs(env.iter().cloned())
        .env("ZK_URL", &zk_url)
        .env("MESOS_MASTER", master.addr().to_string())
        .env("ZK_SESSION_TIMEOUT", "2")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // If an assertion fails, go-ha must not go on running its instances
    // (they would hold the web ports that later tests need).
    struct StopOnPanic(u32);
    impl Drop for StopOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let pid = self.0.to_string();
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
            }
        }
    }
    let _stop = StopOnPanic(go_ha.id());
    let (lines, received) = mpsc::channel();
    for stream in [
        Box::new(go_ha.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(go_ha.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let mut seen: Vec<String> = Vec::new();
    // Waits until `count` lines in all contain `text`.
    let mut wait_for = |text: &str, count: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen.iter().filter(|line| line.contains(text)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("bin/go-ha: no {count} × {text:?}:\n{}", seen.join("\n")),
            }
        }
        seen.clone()
    };
    let go_ha_command = |action: &str| {
        let output = Command::new(root.join("bin/go-ha"))
            .arg(action)
            .output()
            .unwrap();
        assert!(output.status.success(), "bin/go-ha {action}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    wait_for("elected: this instance leads", 1);
    wait_for("standby: waiting", 2);
    let leader = go_ha_command("leader");
    assert!(leader.trim().contains(':'), "host:pid, got {leader:?}");
    go_ha_command("cycle");
    wait_for("giving up leadership", 1);
    wait_for("elected: this instance leads", 2);
    go_ha_command("kill");
    wait_for("is gone; starting it again", 1);
    wait_for("elected: this instance leads", 3);
    let output = wait_for("started (pid", 4);
    let pids: Vec<String> = output
        .iter()
        .filter(|line| line.contains("started (pid"))
        .filter_map(|line| line.rsplit_once("(pid ")?.1.split(')').next())
        .map(str::to_string)
        .collect();

    // Stopping go-ha (Ctrl-C or kill) stops the instances it started,
    // even the one started a moment ago (CI once saw it outlive go-ha).
    Command::new("kill")
        .args(["-TERM", &go_ha.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while go_ha.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bin/go-ha did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in &pids {
        let alive = Command::new("kill").args(["-0", pid]).status().unwrap();
        assert!(!alive.success(), "scheduler pid {pid} outlived bin/go-ha");
    }
    drop(master);
}
