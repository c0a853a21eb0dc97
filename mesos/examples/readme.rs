//! The README's example of the library (its section "The library"),
//! compiled: the lines between `// README begin` and `// README end` are
//! the README's snippet, character for character, and
//! `kit-tests/tests/readme.rs` checks that they stay so.
//!
//! ```text
//! cargo run -p mesos --example readme     # needs the room's ZooKeeper at 10.10.4.2
//! ```

use mesos::{
    Driver, DriverConfig, DriverEvent, MasterSpec, Scheduler,
    v1::{FrameworkInfo, scheduler::Call},
};

/// A scheduler that only says what happens.
struct Watcher;

impl Scheduler for Watcher {
    fn on_event(&mut self, event: &DriverEvent) -> Vec<Call> {
        println!("{event:?}");
        vec![]
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let framework_info = FrameworkInfo {
        user: "root".into(),
        name: "readme".into(),
        ..Default::default()
    };
    let mut scheduler = Watcher;
    run(framework_info, &mut scheduler).await
}

// Formatted as in the README, not as rustfmt would.
#[rustfmt::skip]
async fn run(framework_info: FrameworkInfo, scheduler: &mut impl Scheduler) -> Result<(), Box<dyn std::error::Error>> {
// README begin
let master: MasterSpec = "zk://10.10.4.2:2181/mesos".parse()?;
let (driver, mut events) = Driver::start(DriverConfig::new(master, framework_info))?;
while let Some(event) = events.recv().await {
    for call in scheduler.on_event(&event) { driver.call(call).await?; }
}
// README end
    Ok(())
}
