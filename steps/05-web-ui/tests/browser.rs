//! The web page in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`) driven over WebDriver, against the framework on
//! the simulated master and a real ZooKeeper. What a user does: look at
//! the running tasks, type a new count, submit; and the same on a standby,
//! which ends on the leader's page with the count applied.
//!
//! Without Chromium and its driver this test fails, saying how to install
//! them; it never skips.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mesos::{
    leader::current_leader,
    testing::{Cluster, eventually, free_port, web},
};

/// The framework under test: this step's binary (Cargo names it after
/// the package, so the line is the same in every step).
const BINARY: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

const INSTALL_HINT: &str = "This test drives a real Chromium. Install it with `sudo apt-get \
install -y chromium chromium-driver` (Debian/Ubuntu), or run `bin/test`, which installs what the \
tests need. Elsewhere, set CHROMIUM and CHROMEDRIVER to their paths.";

/// Chromium's WebDriver server, killed when dropped, and the browser's
/// settings.
struct Chrome {
    driver: Child,
    port: u16,
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

impl Chrome {
    fn start() -> Chrome {
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port().unwrap();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {}: {e}. {INSTALL_HINT}", chromedriver.display())
            });
        Chrome {
            driver,
            port,
            chromium,
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A browser session. Started headless, with what Chromium needs to
    /// run as root on a machine without network: no sandbox, no GPU, and
    /// none of its background connections to Google.
    async fn browser(&self) -> Client {
        let url = format!("http://127.0.0.1:{}", self.port);
        eventually("chromedriver answering", async || {
            let status = web::get(&format!("{url}/status")).await;
            status.json()["value"]["ready"].as_bool()?.then_some(())
        })
        .await;
        let options = serde_json::json!({
            "binary": self.chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", self.profile.path().display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}. {INSTALL_HINT}"))
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The program at `$variable`, else `default`, which must exist.
fn program(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found. {INSTALL_HINT}",
        path.display()
    );
    path
}

/// The text of an element, or "" if there is none.
async fn text_of(browser: &Client, css: &str) -> String {
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Reloads the page until it shows `count` tasks in the running table
/// and `count` as the count to run.
async fn wait_showing_running(browser: &Client, count: usize) {
    let what = format!("the page showing {count} running tasks");
    eventually(&what, async || {
        browser.refresh().await.ok()?;
        let rows = browser
            .find_all(Locator::Css("#running tbody tr"))
            .await
            .ok()?;
        let instances = text_of(browser, "#instances").await;
        (rows.len() == count && instances == count.to_string()).then_some(())
    })
    .await;
}

/// Types `count` into the form and submits it, as a user would.
async fn submit_count(browser: &Client, count: usize) {
    let field = browser.find(Locator::Id("instances-field")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&count.to_string()).await.unwrap();
    let button = browser.find(Locator::Css("form button")).await.unwrap();
    button.click().await.unwrap();
}

/// Waits until the browser is at `url`.
async fn wait_at(browser: &Client, url: &str) {
    let what = format!("the browser at {url}");
    eventually(&what, async || {
        let now = browser.current_url().await.ok()?;
        (now.as_str() == url).then_some(())
    })
    .await;
}

#[tokio::test]
async fn in_a_browser_the_count_changes_on_the_leader_and_through_a_standby() {
    let chrome = Chrome::start();
    let cluster = Cluster::start(BINARY).await;
    let first = cluster.framework(&[]);
    let second = cluster.framework(&[]);
    cluster.wait_for_running(2).await;
    let urls = [first.web_url().await, second.web_url().await];
    let client = cluster.zookeeper_client().await;
    let leader = eventually("a leader", async || {
        current_leader(&client, &cluster.root).await.ok()?
    })
    .await
    .id;
    let standby = urls.iter().find(|url| **url != leader).unwrap().clone();

    let browser = chrome.browser().await;
    browser.goto(&leader).await.unwrap();
    wait_showing_running(&browser, 2).await;
    assert!(text_of(&browser, ".role").await.contains("leader"));

    // On the leader's page: a new count, typed and submitted.
    submit_count(&browser, 3).await;
    wait_at(&browser, &format!("{leader}/?saved=3")).await;
    assert!(
        text_of(&browser, ".notice")
            .await
            .contains("Saved: 3 tasks to run.")
    );
    wait_showing_running(&browser, 3).await;
    cluster.wait_for_running(3).await;
    let screenshot = screenshot_path();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(&screenshot, png).unwrap();
    println!("screenshot of the leader's page: {}", screenshot.display());

    // The same form on a standby: checked there, handed to the leader, and
    // the browser ends on the leader's page with the count applied.
    browser.goto(&standby).await.unwrap();
    assert!(text_of(&browser, ".role").await.contains("standby"));
    submit_count(&browser, 4).await;
    wait_at(&browser, &format!("{leader}/?forwarded=4")).await;
    assert!(
        text_of(&browser, ".notice")
            .await
            .contains("which took it: 4 tasks")
    );
    wait_showing_running(&browser, 4).await;
    cluster.wait_for_running(4).await;

    // Bad input in the browser: the page comes back with the reason.
    let field = browser.find(Locator::Id("instances-field")).await.unwrap();
    field.clear().await.unwrap();
    // The field is type=number: the browser itself refuses letters, so
    // this goes past its checks the way a number out of range does.
    field.send_keys("101").await.unwrap();
    // Past the browser's own check (min/max), as an old browser would.
    browser
        .execute("document.querySelector('form').noValidate = true", vec![])
        .await
        .unwrap();
    browser
        .find(Locator::Css("form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = eventually("the reason shown next to the field", async || {
        let error = text_of(&browser, "#instances-error").await;
        (!error.is_empty()).then_some(error)
    })
    .await;
    assert!(error.contains("At most 100"), "{error}");
    assert_eq!(cluster.stored().await.instances.as_deref(), Some("4"));

    browser.close().await.unwrap();
}

/// Where the screenshot goes: the target directory, to be looked at.
fn screenshot_path() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    dir.join(concat!(env!("CARGO_PKG_NAME"), "-page.png"))
}
