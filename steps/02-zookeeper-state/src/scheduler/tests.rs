//! The scheduler's decisions, checked without a master: build an event with
//! the library's test kit, hand it to the scheduler, read the calls it
//! returns. No network, no clock, so `cargo test` runs these in
//! milliseconds. They are the original workshop's two tests; step 06 of the
//! workshop shows how far this goes.

use mesos::testing::{calls as read, events::*};

use super::*;

/// A scheduler that keeps one task of 0.5 cpu and 128 MB running.
fn scheduler() -> Scheduler {
    let spec = TaskSpec {
        name: "hello".into(),
        cpus: 0.5,
        mem: 128.0,
        command: "sleep 600".into(),
        kind: TaskKind::Shell,
    };
    // Nothing stored yet: no framework ID, no tasks.
    Scheduler::new(1, spec, None, TaskRecords::new())
}

#[test]
fn an_offer_of_2_cpus_and_1024_mb_gives_one_launch() {
    let calls = scheduler().on_event(&offers([offer("o-1").cpus(2.0).mem(1024.0)]));
    assert_eq!(read::accepted(&calls), ["o-1"]);
    assert_eq!(read::launched(&calls).len(), 1);
}

#[test]
fn an_offer_of_0_1_cpu_gives_one_decline() {
    let calls = scheduler().on_event(&offers([offer("o-1").cpus(0.1)]));
    assert_eq!(read::declined(&calls), ["o-1"]);
    assert!(read::launched(&calls).is_empty());
}
