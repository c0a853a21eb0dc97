//! The framework's binary, run as a child process the way an operator
//! runs it, with its log kept for the test to wait on and to show when a
//! test fails.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread::JoinHandle,
};

use super::eventually;

/// The framework's binary, running. Killed (SIGKILL) when dropped.
pub struct Framework {
    child: Child,
    /// Everything it logged so far.
    output: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Framework {
    /// Starts `binary` with `args`, logging at `info` without colours. A
    /// framework with a web page (from step 05 on) serves it on a free
    /// port (`WEB_ADDR`), so that several can run at once; the page's URL
    /// is in its log ([`Framework::web_url`]).
    pub fn start(binary: &Path, args: &[&str]) -> Framework {
        let mut child = Command::new(binary)
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("WEB_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped");
        let output = Arc::new(Mutex::new(String::new()));
        let collected = output.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Shown when a test fails.
                println!("[framework {}] {line}", std::process::id());
                let mut output = collected.lock().unwrap();
                output.push_str(&line);
                output.push('\n');
            }
        });
        Framework {
            child,
            output,
            reader: Some(reader),
        }
    }

    /// The process ID, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of its web page, once it logged it ("web page served
    /// url=…").
    pub async fn web_url(&self) -> String {
        let line = self.wait_for_output("web page served").await;
        let url = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("url="))
            .unwrap_or_else(|| panic!("no url= in {line:?}"));
        url.to_string()
    }

    /// Everything the framework logged so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// How many lines of its log so far contain `text`.
    pub fn count_output(&self, text: &str) -> usize {
        self.output()
            .lines()
            .filter(|line| line.contains(text))
            .count()
    }

    /// Waits until the framework logs a line containing `text`, and
    /// returns that line.
    pub async fn wait_for_output(&self, text: &str) -> String {
        let what = format!("the framework logging {text:?}");
        eventually(&what, async || {
            let output = self.output();
            let line = output.lines().find(|line| line.contains(text))?;
            Some(line.to_string())
        })
        .await
    }

    /// Waits until the framework exits; then its whole output is in
    /// [`Framework::output`].
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        let status = eventually("the framework exiting", async || {
            child.try_wait().expect("waiting for the framework")
        })
        .await;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        status
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("checking the framework")
            .is_none()
    }

    /// Sends it a signal by name: `STOP` pauses it (as a long garbage
    /// collection or a frozen VM would), `CONT` resumes it, `USR1`, `INT`…
    pub fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{name} {}", self.pid());
    }

    /// Kills it with SIGKILL, as a crash would: no clean-up, no last word
    /// to the master or to ZooKeeper.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Framework {
    fn drop(&mut self) {
        self.kill();
    }
}
