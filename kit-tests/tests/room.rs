//! The room on this machine: `bin/room start`, then the README's commands
//! of steps 2 to 4 exactly as written, `10.10.4.2` read as `127.0.0.1` (the
//! one substitution the README asks for), `zk://` masters included; each
//! says what the README says it says. Then `bin/go-ha` beside the room
//! (its own ports), `bin/go-ha` on a taken port, and `bin/room stop`
//! leaving nothing running.
//!
//! The room has fixed ports (2181, 5050), so everything here runs in one
//! test, in order; the test fails at once, saying so, if they are taken.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use kit_tests::{Background, log_field, repo_root};

/// The longest any step may take to say what the README says.
const WITHIN: Duration = Duration::from_secs(60);

/// The README's commands of the section whose heading starts with
/// `heading`: those of its ```sh blocks, and those quoted inline as
/// `` `…bin/go-ha` `` (lines joined), with 10.10.4.2 read as 127.0.0.1.
fn section_commands(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("no section {heading:?} in the README"));
    let section = &readme[start + 1..];
    let section = &section[..section[4..]
        .find("\n### ")
        .map_or(section.len(), |end| end + 4)];
    let section = section.replace("10.10.4.2", "127.0.0.1");
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
        } else if in_sh && !line.trim().is_empty() {
            commands.push(line.split(" # ").next().unwrap().trim().to_string());
        }
    }
    let joined = section.replace('\n', " ");
    for quoted in joined.split('`').skip(1).step_by(2) {
        if quoted.ends_with("bin/go-ha") && quoted.contains('=') {
            commands.push(quoted.to_string());
        }
    }
    commands
}

/// The one command among `commands` that starts with `prefix`.
fn command<'a>(commands: &'a [String], prefix: &str) -> &'a str {
    let found: Vec<&String> = commands.iter().filter(|c| c.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "{prefix:?} among {commands:?}");
    found[0]
}

/// `A=1 B=2 program args` as a command to run: `cargo run -p X -- args` runs
/// the binary cargo built, so that no build is timed by a wait.
fn to_command(root: &Path, line: &str) -> Command {
    let words: Vec<&str> = line.split_whitespace().collect();
    let split = words
        .iter()
        .position(|word| !word.contains('=') || word.starts_with("--"))
        .unwrap();
    let (env, words) = words.split_at(split);
    let mut command = match words {
        ["cargo", "run", "-p", package, "--", args @ ..] => {
            let mut command = Command::new(root.join("target/debug").join(package));
            command.args(args);
            command
        }
        [program, args @ ..] if program.starts_with("bin/") => {
            let mut command = Command::new(root.join(program));
            command.args(args);
            command
        }
        _ => panic!("no way to run {line:?} here"),
    };
    for assignment in env {
        let (key, value) = assignment.split_once('=').unwrap();
        command.env(key, value);
    }
    command.current_dir(root);
    command
}

fn run(root: &Path, line: &str) -> Output {
    to_command(root, line).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn taken(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits until `condition` holds, at most [`WITHIN`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {WITHIN:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The room, stopped when dropped (also when the test fails half-way).
struct Room {
    root: PathBuf,
    dir: tempfile::TempDir,
}

impl Room {
    fn command(&self, action: &str) -> Output {
        Command::new(self.root.join("bin/room"))
            .arg(action)
            .env("ROOM_DIR", self.dir.path())
            .output()
            .unwrap()
    }

    /// The pids the room wrote down, to check that they are gone.
    fn pids(&self) -> Vec<String> {
        ["zookeeper.pid", "mesos-local.pid"]
            .iter()
            .filter_map(|file| std::fs::read_to_string(self.dir.path().join(file)).ok())
            .map(|pid| pid.trim().to_string())
            .collect()
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        let _ = self.command("stop");
    }
}

fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn running_tasks(framework: &mut Background, count: usize) {
    let mut running = std::collections::BTreeSet::new();
    framework.wait_for(
        |line| {
            if line.contains("state=\"TASK_RUNNING\"") {
                running.extend(log_field(line, "task").map(str::to_string));
            }
            (running.len() == count).then_some(())
        },
        WITHIN,
    );
}

/// The first line containing `text`, from now on.
fn line_with(program: &mut Background, text: &str) -> String {
    program.wait_for(|line| line.contains(text).then(|| line.to_string()), WITHIN)
}

#[test]
fn the_readme_steps_2_to_4_run_on_bin_room_with_127_0_0_1() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for port in [2181, 5050] {
        assert!(
            !taken(port),
            "port {port} is taken: the room needs it (is bin/room or a mesos-local running?)"
        );
    }
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "-p", "mesos-local"])
        .args([
            "-p",
            "hello-mesos-02",
            "-p",
            "hello-mesos-03",
            "-p",
            "hello-mesos-04",
        ])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(built.success());

    // The top of the workshop: start the room, look at it, diagnose it.
    let top = section_commands(&readme, "## The workshop");
    assert_eq!(command(&top, "bin/room start"), "bin/room start");
    let room = Room {
        root: root.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let started = room.command("start");
    assert!(started.status.success(), "{}", text(&started));
    assert!(text(&started).contains("read 127.0.0.1 wherever the README says 10.10.4.2"));
    let status = room.command("status");
    assert!(status.status.success(), "{}", text(&status));
    let again = room.command("start");
    assert!(text(&again).contains("already running"), "{}", text(&again));
    let diagnosis = run(&root, command(&top, "MASTER_IP=127.0.0.1 bin/diagnose"));
    assert!(diagnosis.status.success(), "{}", text(&diagnosis));
    assert!(text(&diagnosis).contains("All checks passed."));

    step_2_and_3(&root, &readme);
    step_4(&root, &readme);
    go_ha_beside_the_room_and_on_a_taken_port(&root);

    // Stopping leaves nothing running, and the ports free.
    let pids = room.pids();
    assert_eq!(pids.len(), 2, "the room's pid files");
    let stopped = room.command("stop");
    assert!(stopped.status.success(), "{}", text(&stopped));
    for pid in &pids {
        assert!(!alive(pid), "pid {pid} outlived bin/room stop");
    }
    // The processes are gone; the kernel frees their ports right after.
    wait_until("the room's ports free", || !taken(2181) && !taken(5050));
    let status = room.command("status");
    assert!(!status.status.success());
    assert!(text(&status).contains("ZooKeeper is not running"));

    // A port taken by something else: the room says so and starts nothing.
    let squatter = TcpListener::bind("127.0.0.1:5050").unwrap();
    let refused = room.command("start");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("port 5050"), "{}", text(&refused));
    assert!(
        room.pids().is_empty(),
        "started something: {}",
        text(&refused)
    );
    assert!(!taken(2181), "ZooKeeper started all the same");
    drop(squatter);
}

/// Step 2 leaves its framework's state in ZooKeeper; step 3 starts from it,
/// as the README says, survives `kill -9`, and ends with `--teardown`.
fn step_2_and_3(root: &Path, readme: &str) {
    let step_2 = section_commands(readme, "### 2.");
    let line = command(&step_2, "cargo run -p hello-mesos-02");
    assert!(
        line.contains("--master zk://127.0.0.1:2181/mesos"),
        "{line}"
    );
    let mut framework = Background::spawn(to_command(root, line));
    let read = line_with(&mut framework, "state read from ZooKeeper");
    assert!(
        read.contains("url=zk://127.0.0.1:2181/hello-mesos"),
        "{read}"
    );
    line_with(
        &mut framework,
        "leading master detected addr=http://127.0.0.1:5050",
    );
    let subscribed = line_with(&mut framework, "INFO mesos::driver: subscribed");
    let step_2_id = log_field(&subscribed, "framework_id").unwrap().to_string();
    running_tasks(&mut framework, 2);
    drop(framework);

    let step_3 = section_commands(readme, "### 3.");
    let line = command(&step_3, "cargo run -p hello-mesos-03 -- --master");
    let mut framework = Background::spawn(to_command(root, line));
    let read = line_with(&mut framework, "state read from ZooKeeper");
    assert!(
        read.contains(&step_2_id),
        "step 2's state carries over: {read}"
    );
    line_with(&mut framework, "the master removed this framework");
    let subscribed = line_with(&mut framework, "INFO mesos::driver: subscribed");
    let step_3_id = log_field(&subscribed, "framework_id").unwrap().to_string();
    assert_ne!(step_3_id, step_2_id);
    running_tasks(&mut framework, 2);
    // "Kill it with kill -9 and start it again": its framework, its tasks.
    Command::new("kill")
        .args(["-9", &framework.id().to_string()])
        .status()
        .unwrap();
    drop(framework);
    let mut framework = Background::spawn(to_command(root, line));
    let read = line_with(&mut framework, "state read from ZooKeeper");
    assert!(
        read.contains(&format!("framework_id=\"{step_3_id}\"")) && read.contains("tasks=2"),
        "{read}"
    );
    let subscribed = line_with(&mut framework, "INFO mesos::driver: subscribed");
    assert!(subscribed.contains(&step_3_id), "{subscribed}");
    line_with(&mut framework, "reconciling the tasks we know tasks=2");
    drop(framework);

    let teardown = run(
        root,
        command(&step_3, "cargo run -p hello-mesos-03 -- --teardown"),
    );
    assert!(teardown.status.success(), "{}", text(&teardown));
}

/// Step 4 as the README writes it for the room: go-ha on the room's master
/// and ZooKeeper; `bin/go-ha kill` hands leadership over, and prints no
/// script internals.
fn step_4(root: &Path, readme: &str) {
    let step_4 = section_commands(readme, "### 4.");
    let line = command(&step_4, "MESOS_MASTER=");
    assert!(line.contains("http://127.0.0.1:5050"), "{line}");
    let mut go_ha = Background::spawn(to_command(root, line));
    line_with(&mut go_ha, "elected: this instance leads");
    line_with(&mut go_ha, "standby: waiting");
    let kill = run(root, "bin/go-ha kill");
    assert!(kill.status.success(), "{}", text(&kill));
    line_with(&mut go_ha, "elected: this instance leads");
    // go-ha starts the killed one again, before or after the election.
    if !go_ha
        .seen()
        .iter()
        .any(|l| l.contains("is gone; starting it again"))
    {
        line_with(&mut go_ha, "is gone; starting it again");
    }
    assert!(
        !go_ha
            .seen()
            .iter()
            .any(|l| l.contains("Killed") || l.contains("trap -")),
        "script internals:\n{}",
        go_ha.seen().join("\n")
    );
    drop(go_ha);
    let leader = run(root, "bin/go-ha leader");
    assert_eq!(leader.status.code(), Some(1));
    assert!(text(&leader).contains("nothing runs"), "{}", text(&leader));
}

/// Plain `bin/go-ha` while the room holds 2181 and 5050: its own ZooKeeper
/// and master elsewhere. And a page's port taken: it stops, saying which.
fn go_ha_beside_the_room_and_on_a_taken_port(root: &Path) {
    let mut go_ha = Background::spawn(to_command(root, "STEP=04 bin/go-ha"));
    let zookeeper = line_with(&mut go_ha, "go-ha: starting ZooKeeper on 127.0.0.1:");
    assert!(!zookeeper.contains(":2181 "), "{zookeeper}");
    let master = line_with(&mut go_ha, "go-ha: starting a simulated Mesos master on");
    assert!(!master.ends_with(":5050"), "{master}");
    line_with(&mut go_ha, "elected: this instance leads");
    drop(go_ha);

    let squatter = TcpListener::bind("127.0.0.1:8089").unwrap();
    let refused = run(root, "bin/go-ha");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("port 8089 (scheduler-2's page) is taken"),
        "{}",
        text(&refused)
    );
    drop(squatter);
}
