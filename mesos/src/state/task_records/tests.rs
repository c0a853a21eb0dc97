//! A save that compares only the changed records must store exactly what a
//! save that compares them all would. Checked on random sequences of what a
//! scheduler does (change records, copy them, save, fail to save, read the
//! state again), against a store whose ZooKeeper is simulated: a successful
//! write is remembered as ZooKeeper would confirm it, a failed one is not.

use proptest::prelude::*;

use super::*;
use crate::{
    state::{Connection, Layout, StateStore, plan, state_of},
    v1::TaskState,
};

/// What a scheduler does to its records and its store.
#[derive(Debug, Clone)]
enum Step {
    /// Records task `id` in `copy` with one of a few states.
    Insert {
        copy: usize,
        id: u8,
        state: u8,
    },
    Remove {
        copy: usize,
        id: u8,
    },
    Clear {
        copy: usize,
    },
    /// `to` becomes a copy of `from` (a scheduler keeping an old copy
    /// around, or two schedulers sharing a store).
    Copy {
        from: usize,
        to: usize,
    },
    /// Saves `copy`; ZooKeeper confirms the write, or it fails.
    Save {
        copy: usize,
        confirmed: bool,
    },
    /// Reads the state again (after a conflict, say), and `copy` becomes
    /// what was read.
    Load {
        copy: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let copy = 0..2usize;
    prop_oneof![
        4 => (copy.clone(), 0..6u8, 0..3u8).prop_map(|(copy, id, state)| Step::Insert { copy, id, state }),
        2 => (copy.clone(), 0..6u8).prop_map(|(copy, id)| Step::Remove { copy, id }),
        1 => copy.clone().prop_map(|copy| Step::Clear { copy }),
        1 => (copy.clone(), copy.clone()).prop_map(|(from, to)| Step::Copy { from, to }),
        4 => (copy.clone(), any::<bool>()).prop_map(|(copy, confirmed)| Step::Save { copy, confirmed }),
        1 => copy.prop_map(|copy| Step::Load { copy }),
    ]
}

/// A store as `connect` leaves it, without a ZooKeeper behind it.
fn offline_store() -> StateStore {
    let url: crate::state::ZkUrl = "zk://127.0.0.1:1/fw".parse().unwrap();
    StateStore {
        nodes: Layout::new(&url.path),
        connection: Connection {
            servers: url.servers.clone(),
            digest: None,
            client: None,
        },
        url,
        known: BTreeMap::new(),
        stamp: Stamp::new(),
        in_doubt: None,
        fence: None,
    }
}

/// What `save_tasks` does, with ZooKeeper's answer given.
fn save(store: &mut StateStore, tasks: &mut TaskRecords, confirmed: bool) {
    let wanted = store.wanted_tasks(tasks).unwrap();
    let changes = plan(&store.known, wanted, &[]);
    if confirmed {
        store.remember(changes);
        tasks.saved_as(store.stamp);
    }
}

/// The task records ZooKeeper holds.
fn stored(store: &StateStore) -> BTreeMap<String, TaskRecord> {
    state_of(&store.nodes, &store.known).tasks.into_map()
}

proptest! {
    #[test]
    fn a_confirmed_save_stores_exactly_the_records(steps in prop::collection::vec(step(), 0..60)) {
        let mut store = offline_store();
        let mut copies = [TaskRecords::new(), TaskRecords::new()];
        let states = [TaskState::TaskStaging, TaskState::TaskRunning, TaskState::TaskFinished];
        for step in steps {
            match step {
                Step::Insert { copy, id, state } => {
                    let record = TaskRecord {
                        state: states[state as usize],
                        agent_id: Some(format!("agent-{id}")),
                    };
                    copies[copy].insert(format!("t{id}"), record);
                }
                Step::Remove { copy, id } => {
                    copies[copy].remove(&format!("t{id}"));
                }
                Step::Clear { copy } => copies[copy].clear(),
                Step::Copy { from, to } => copies[to] = copies[from].clone(),
                Step::Save { copy, confirmed } => {
                    save(&mut store, &mut copies[copy], confirmed);
                    if confirmed {
                        prop_assert_eq!(&stored(&store), &*copies[copy]);
                    }
                }
                Step::Load { copy } => {
                    // What `load` does once it has read the nodes: ZooKeeper
                    // holds what the store knows, as no one else writes here.
                    store.stamp = Stamp::new();
                    copies[copy] = TaskRecords::stored(stored(&store), store.stamp);
                }
            }
        }
    }
}

#[test]
fn records_note_changes_only_once_they_were_saved() {
    let record = || TaskRecord {
        state: TaskState::TaskRunning,
        agent_id: None,
    };
    // Built by hand: a save compares them all anyway.
    let mut tasks = TaskRecords::from_iter([("a".to_string(), record())]);
    tasks.insert("b".into(), record());
    let stamp = Stamp::new();
    assert!(matches!(tasks.to_compare(stamp), ToCompare::All));

    tasks.saved_as(stamp);
    assert!(matches!(tasks.to_compare(stamp), ToCompare::Only(ids) if ids.is_empty()));
    tasks.insert("c".into(), record());
    tasks.remove("a");
    tasks.remove("not recorded");
    let only = |tasks: &TaskRecords| match tasks.to_compare(stamp) {
        ToCompare::Only(ids) => ids.iter().cloned().collect::<Vec<_>>(),
        ToCompare::All => panic!("compares all"),
    };
    assert_eq!(only(&tasks), ["a", "c"]);
    tasks.clear();
    assert_eq!(only(&tasks), ["a", "b", "c"]);
    // Saved to another state of the store: all again.
    assert!(matches!(tasks.to_compare(Stamp::new()), ToCompare::All));
}
