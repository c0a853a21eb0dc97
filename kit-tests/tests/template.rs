//! The template generates a framework that builds and runs, and
//! `steps/01-generate` is exactly what it generates for `hello-mesos`.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use std::path::Path;

use kit_tests::{generate, generate_command, generate_in_checkout, repo_root, tree_differences};

/// The answers that produce `steps/01-generate`: the defaults, with the
/// library two folders up.
const STEP_01_DEFINES: &[(&str, &str)] = &[("mesos", "../../mesos")];

#[test]
fn step_01_is_what_the_template_generates() {
    let temp = tempfile::tempdir().unwrap();
    let generated = generate("hello-mesos", temp.path(), STEP_01_DEFINES);
    let step = repo_root().join("steps/01-generate");
    let differences = tree_differences(&step, &generated);
    assert!(
        differences.is_empty(),
        "steps/01-generate has drifted from the template; run bin/regenerate-step-01. Differences:\n  {}",
        differences.join("\n  ")
    );
}

/// Kills the framework process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_generated_framework_builds_and_keeps_its_tasks_running() {
    // Generated outside the checkout, as by a user of `cargo generate --git`,
    // with non-default answers, pointing at the library by absolute path.
    let temp = tempfile::tempdir().unwrap();
    let library = repo_root().join("mesos");
    let crate_dir = generate(
        "awesome-framework",
        temp.path(),
        &[
            ("mesos", library.to_str().unwrap()),
            ("instances", "3"),
            ("cpus", "0.25"),
        ],
    );

    // Build it with the workspace's lock file and target directory, so the
    // dependencies compiled for the workspace are reused, offline.
    assert!(
        build_alone(&crate_dir),
        "the generated crate does not build"
    );
    let target_dir = repo_root().join("target");

    let master = mesos::local::LocalMaster::start(Default::default())
        .await
        .unwrap();
    let framework = Command::new(target_dir.join("debug/awesome-framework"))
        .args(["--master", &master.addr().to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut framework = KillOnDrop(framework);

    let running = |state: &mesos::local::Snapshot| {
        state
            .tasks
            .iter()
            .filter(|t| t.state == mesos::v1::TaskState::TaskRunning && !t.completed)
            .count()
    };
    let state = master
        .wait_for(|state| running(state) == 3, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("3 tasks never ran: {e}"));
    let registered = &state.frameworks[0];
    assert_eq!(registered.info.name, "awesome-framework");
    for task in state.tasks.iter().filter(|t| !t.completed) {
        assert_eq!(task.resources.cpus(), 0.25, "the --define'd cpus per task");
        assert!(task.id.starts_with("awesome-framework-"), "{}", task.id);
    }
    // It keeps exactly three: once they run it suppresses offers, and
    // after that, with no offer left in its hands, it cannot launch more.
    let suppressed = mesos::testing::eventually("a SUPPRESS, with no offer held", async || {
        let state = master.state();
        let suppressed = master
            .calls()
            .iter()
            .any(|call| call.accepted && call.kind == mesos::v1::scheduler::call::Type::Suppress);
        (suppressed && state.offers.is_empty()).then_some(state)
    })
    .await;
    assert_eq!(suppressed.tasks.len(), 3, "{:#?}", suppressed.tasks);

    // Ctrl-C: the framework disconnects and exits cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &framework.0.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = framework.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "Ctrl-C should end the framework cleanly: {status}"
    );
    master
        .wait_for(
            |state| state.frameworks.iter().all(|f| !f.connected),
            Duration::from_secs(10),
        )
        .await
        .expect("the master sees the framework disconnect");
}

#[test]
fn cargo_generate_git_finds_the_template_through_the_root_config() {
    // `cargo generate --git <this repository>`: the root cargo-generate.toml
    // points at template/. A local clone stands in for the URL.
    let temp = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .arg("generate")
        .arg("--git")
        .arg(repo_root())
        .args([
            "--name",
            "from-git",
            "--silent",
            "--vcs",
            "none",
            "--define",
            "mesos=../mesos",
        ])
        .arg("--destination")
        .arg(temp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::create_dir(temp.path().join("by-path")).unwrap();
    let by_path = generate(
        "from-git",
        &temp.path().join("by-path"),
        &[("mesos", "../mesos")],
    );
    let differences = tree_differences(&by_path, &temp.path().join("from-git"));
    assert!(
        differences.is_empty(),
        "--git and --path generate different crates: {differences:?}"
    );
}

/// Builds a generated crate outside the workspace as the other tests do:
/// with the workspace's lock file and target directory, offline.
fn build_alone(crate_dir: &Path) -> bool {
    std::fs::copy(repo_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(&cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", repo_root().join("target"))
        .status()
        .unwrap()
        .success()
}

/// The sentence generation stops with when the default, the library from
/// the checkout's workspace, cannot work.
fn outside_the_checkout(name: &str, folder: &Path) -> String {
    format!(
        "{name} is generated outside the kit's checkout, so it cannot take the kit's mesos \
         library from the checkout's workspace: delete the empty folder {} and generate again \
         with --define mesos=<path to the kit>/mesos (or the kit's git URL).",
        folder.display()
    )
}

#[test]
fn outside_the_checkout_with_the_defaults_generation_stops_and_says_what_to_pass() {
    let temp = tempfile::tempdir().unwrap();
    assert!(
        !temp
            .path()
            .ancestors()
            .any(|d| d.join("Cargo.toml").exists()),
        "this test needs a temporary directory outside any Cargo project, not {}",
        temp.path().display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut by_git = Command::new(cargo);
    by_git
        .arg("generate")
        .arg("--git")
        .arg(repo_root())
        .args(["--name", "by-git", "--silent", "--vcs", "none"])
        .arg("--destination")
        .arg(temp.path())
        .stdin(Stdio::null());
    for (name, mut command) in [
        ("by-path", generate_command("by-path", temp.path(), &[])),
        ("by-git", by_git),
    ] {
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}: generated anyway");
        let folder = temp.path().join(name);
        assert!(
            stderr.contains(&outside_the_checkout(name, &folder)),
            "{name}: not the sentence expected:\n{stderr}"
        );
        assert!(
            !folder.join("Cargo.toml").exists(),
            "{name}: a crate was written"
        );
    }

    // Doing as it says works, and the crate builds.
    std::fs::remove_dir(temp.path().join("by-path")).expect("an empty folder");
    let library = repo_root().join("mesos");
    let crate_dir = generate(
        "by-path",
        temp.path(),
        &[("mesos", library.to_str().unwrap())],
    );
    assert!(
        build_alone(&crate_dir),
        "the generated crate does not build"
    );
}

#[test]
fn anywhere_inside_the_checkout_the_default_finds_the_library() {
    // Next to the steps, where a path relative to the root (`../mesos`)
    // would be wrong: the crate takes the library from the workspace.
    let checkout = tempfile::tempdir().unwrap();
    let crate_dir = generate_in_checkout(
        checkout.path(),
        &[
            "generate",
            "--path",
            "template",
            "--name",
            "deep-framework",
            "--destination",
            "steps",
        ],
    );
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("mesos.workspace = true"), "{manifest}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "-p", "deep-framework"])
        .current_dir(checkout.path())
        .env("CARGO_TARGET_DIR", repo_root().join("target"))
        .status()
        .unwrap();
    assert!(
        built.success(),
        "the crate generated in steps/ does not build"
    );
}
