//! The template generates a framework that builds and runs, and
//! `steps/01-generate` is exactly what it generates for `hello-mesos`.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use kit_tests::{generate, repo_root, tree_differences};

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
    std::fs::copy(repo_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target_dir = repo_root().join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(&cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .unwrap();
    assert!(build.success(), "the generated crate does not build");

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
    let _framework = KillOnDrop(framework);

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
    let framework = &state.frameworks[0];
    assert_eq!(framework.info.name, "awesome-framework");
    for task in state.tasks.iter().filter(|t| !t.completed) {
        assert_eq!(
            task.resources.scalar("cpus"),
            Some(0.25),
            "the --define'd cpus per task"
        );
        assert!(task.id.starts_with("awesome-framework-"), "{}", task.id);
    }
    // It keeps exactly three: no more launches once they run.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(master.state().tasks.len(), 3);
}
