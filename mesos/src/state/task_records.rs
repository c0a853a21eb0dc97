//! The scheduler's task records, kept so that a save looks only at what
//! changed.
//!
//! A scheduler saves its state after every round of events (write-ahead:
//! store, then act). If each save compared all its task records with the
//! stored ones, a scheduler with 10,000 tasks would do 10,000 comparisons
//! per save, and a restarted one, which hears about all 10,000 while it
//! reconciles, would do millions before it knows its tasks again
//! (BENCHMARKS.md, "Recovery").
//!
//! So the records live in a map that notes every task ID inserted or
//! removed since its last save. A save then writes the difference for those
//! IDs alone. Missing a change here would lose a write-ahead record, so the
//! map notes changes itself, in its only mutating methods, rather than
//! trusting the scheduler to say what it changed. And it only skips the
//! other records when it knows they equal what is stored: when it was read
//! from, or last saved to, the very store state being written. Anything
//! else (records built by hand, a store that wrote or read since) makes the
//! save compare every record, which is always right, only slower.

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Deref,
    sync::atomic::{AtomicU64, Ordering},
};

use super::TaskRecord;

#[cfg(test)]
mod tests;

/// Task records by task ID: a map that notes which IDs changed since it
/// was last saved, so that [`StateStore::save`](super::StateStore::save)
/// serializes and compares those alone, not all 10,000 at every event.
///
/// It reads like a `BTreeMap<String, TaskRecord>` (it dereferences to one);
/// it changes only through [`insert`](Self::insert),
/// [`remove`](Self::remove) and [`clear`](Self::clear), which note the
/// change themselves: a change the scheduler forgot to mention would be a
/// lost write-ahead record. Records read from a store ([`load`]) or saved to
/// it skip the unchanged ones only while that store has written or read
/// nothing else since; records built by hand, or from another store, are
/// compared in full, which is always right, only slower.
///
/// [`load`]: super::StateStore::load
#[derive(Debug, Clone, Default)]
pub struct TaskRecords {
    records: BTreeMap<String, TaskRecord>,
    /// The IDs inserted or removed since the records equalled the stored
    /// state `saved_as`.
    changed: BTreeSet<String>,
    /// The store state (a [`Stamp`]) these records equalled, outside
    /// `changed`. `None`: not known to equal any, so a save compares all.
    saved_as: Option<Stamp>,
}

/// Names one state of a store's task records. Every change of the records
/// a store knows gets a new stamp, unique in the process, so two equal
/// stamps mean the very same stored records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// A stamp no store has had before.
    pub(crate) fn new() -> Stamp {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Stamp(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a save must look at.
pub(crate) enum ToCompare<'a> {
    /// Only these task IDs can differ from what is stored.
    Only(&'a BTreeSet<String>),
    /// Any record can differ: compare them all.
    All,
}

impl TaskRecords {
    /// No task records.
    pub fn new() -> TaskRecords {
        TaskRecords::default()
    }

    /// Records `record` for `task_id`, and returns the one it replaces.
    pub fn insert(&mut self, task_id: String, record: TaskRecord) -> Option<TaskRecord> {
        if self.saved_as.is_some() && !self.changed.contains(&task_id) {
            self.changed.insert(task_id.clone());
        }
        self.records.insert(task_id, record)
    }

    /// Forgets `task_id`'s record, and returns it.
    pub fn remove(&mut self, task_id: &str) -> Option<TaskRecord> {
        let removed = self.records.remove(task_id);
        if removed.is_some() && self.saved_as.is_some() {
            self.changed.insert(task_id.to_string());
        }
        removed
    }

    /// Forgets every record.
    pub fn clear(&mut self) {
        let records = std::mem::take(&mut self.records);
        if self.saved_as.is_some() {
            self.changed.extend(records.into_keys());
        }
    }

    /// Records that were read from, or saved to, the store state `stamp`.
    pub(crate) fn stored(records: BTreeMap<String, TaskRecord>, stamp: Stamp) -> TaskRecords {
        TaskRecords {
            records,
            changed: BTreeSet::new(),
            saved_as: Some(stamp),
        }
    }

    /// The records alone.
    pub(crate) fn into_map(self) -> BTreeMap<String, TaskRecord> {
        self.records
    }

    /// What a save to the store state `stamp` must compare.
    pub(crate) fn to_compare(&self, stamp: Stamp) -> ToCompare<'_> {
        if self.saved_as == Some(stamp) {
            ToCompare::Only(&self.changed)
        } else {
            ToCompare::All
        }
    }

    /// The records now equal the store state `stamp`: a save succeeded.
    pub(crate) fn saved_as(&mut self, stamp: Stamp) {
        self.changed.clear();
        self.saved_as = Some(stamp);
    }
}

impl Deref for TaskRecords {
    type Target = BTreeMap<String, TaskRecord>;

    fn deref(&self) -> &Self::Target {
        &self.records
    }
}

/// Records built by hand are not known to equal anything stored: their
/// first save compares them all.
impl From<BTreeMap<String, TaskRecord>> for TaskRecords {
    fn from(records: BTreeMap<String, TaskRecord>) -> TaskRecords {
        TaskRecords {
            records,
            ..TaskRecords::default()
        }
    }
}

impl FromIterator<(String, TaskRecord)> for TaskRecords {
    fn from_iter<I: IntoIterator<Item = (String, TaskRecord)>>(iter: I) -> TaskRecords {
        TaskRecords::from(BTreeMap::from_iter(iter))
    }
}

impl<'a> IntoIterator for &'a TaskRecords {
    type Item = (&'a String, &'a TaskRecord);
    type IntoIter = std::collections::btree_map::Iter<'a, String, TaskRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

/// Equal when the records are: what was saved when is not part of them.
impl PartialEq for TaskRecords {
    fn eq(&self, other: &TaskRecords) -> bool {
        self.records == other.records
    }
}

impl Eq for TaskRecords {}

impl PartialEq<BTreeMap<String, TaskRecord>> for TaskRecords {
    fn eq(&self, other: &BTreeMap<String, TaskRecord>) -> bool {
        &self.records == other
    }
}
