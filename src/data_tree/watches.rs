//! Watch tables (`WatchManager`), one pair per tree copy, holding only the
//! watches of the sessions connected to this copy's shard.
//!
//! As in ZooKeeper there are two tables: the data table (getData/exists
//! watches, persistent, persistent-recursive) and the child table
//! (getChildren watches, persistent). A session holds at most one mode per
//! (table, path); the last registration wins, as in 3.8. A trigger fires every
//! standard and persistent watch on the exact path, and every recursive watch
//! on the path or an ancestor (never for NodeChildrenChanged); standard ones
//! are removed. One trigger yields at most one event per session.

use std::collections::{HashMap, HashSet};

use crate::protocol::EventType;

use super::path::parent_of;

/// What a read or addWatch asks to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// getData with watch: data table, one-shot.
    Data,
    /// exists with watch: data table, one-shot (also on a missing node).
    Exist,
    /// getChildren with watch: child table, one-shot.
    Child,
    /// addWatch PERSISTENT: data and child tables, never removed by firing.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: data table, fires for descendants too.
    PersistentRecursive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Standard,
    Persistent,
    Recursive,
}

#[derive(Default, Debug, Clone)]
pub(crate) struct WatchTable {
    by_path: HashMap<Box<str>, HashMap<i64, Mode>>,
    by_session: HashMap<i64, HashSet<Box<str>>>,
    recursive: usize,
}

impl WatchTable {
    pub(crate) fn add(&mut self, path: &str, session_id: i64, mode: Mode) {
        let watchers = match self.by_path.get_mut(path) {
            Some(w) => w,
            None => self.by_path.entry(path.into()).or_default(),
        };
        if watchers.insert(session_id, mode) == Some(Mode::Recursive) {
            self.recursive -= 1;
        }
        if mode == Mode::Recursive {
            self.recursive += 1;
        }
        let paths = self.by_session.entry(session_id).or_default();
        if !paths.contains(path) {
            paths.insert(path.into());
        }
    }

    pub(crate) fn mode(&self, path: &str, session_id: i64) -> Option<Mode> {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&session_id))
            .copied()
    }

    pub(crate) fn remove(&mut self, path: &str, session_id: i64) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = watchers.remove(&session_id) else {
            return false;
        };
        if mode == Mode::Recursive {
            self.recursive -= 1;
        }
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_session.get_mut(&session_id) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_session.remove(&session_id);
            }
        }
        true
    }

    pub(crate) fn remove_session(&mut self, session_id: i64) {
        let Some(paths) = self.by_session.remove(&session_id) else {
            return;
        };
        for path in paths.iter() {
            if let Some(watchers) = self.by_path.get_mut(&**path) {
                if watchers.remove(&session_id) == Some(Mode::Recursive) {
                    self.recursive -= 1;
                }
                if watchers.is_empty() {
                    self.by_path.remove(&**path);
                }
            }
        }
    }

    /// Fires the watches an event on `path` triggers and returns the sessions
    /// to notify (sorted, deduplicated), minus `suppress`. One-shot watches
    /// are removed even when suppressed, as in ZooKeeper.
    pub(crate) fn trigger(&mut self, path: &str, event: EventType, suppress: &[i64]) -> Vec<i64> {
        let mut fired = Vec::new();
        let walk_ancestors = self.recursive > 0;
        let mut local = path;
        loop {
            let at_parent = local != path;
            if let Some(watchers) = self.by_path.get_mut(local) {
                let mut one_shot = Vec::new();
                for (&session_id, &mode) in watchers.iter() {
                    match mode {
                        Mode::Recursive if event != EventType::NodeChildrenChanged => {
                            fired.push(session_id)
                        }
                        Mode::Persistent if !at_parent => fired.push(session_id),
                        Mode::Standard if !at_parent => {
                            fired.push(session_id);
                            one_shot.push(session_id);
                        }
                        _ => {}
                    }
                }
                for session_id in one_shot {
                    watchers.remove(&session_id);
                    if let Some(paths) = self.by_session.get_mut(&session_id) {
                        paths.remove(local);
                        if paths.is_empty() {
                            self.by_session.remove(&session_id);
                        }
                    }
                }
                if watchers.is_empty() {
                    self.by_path.remove(local);
                }
            }
            if !walk_ancestors || local == "/" {
                break;
            }
            local = parent_of(local);
        }
        fired.sort_unstable();
        fired.dedup();
        fired.retain(|s| !suppress.contains(s));
        fired
    }

    pub(crate) fn count(&self) -> usize {
        self.by_path.values().map(|w| w.len()).sum()
    }

    /// Every (session, path) in this table, sorted.
    pub(crate) fn pairs(&self) -> Vec<(i64, String)> {
        let mut out: Vec<(i64, String)> = self
            .by_session
            .iter()
            .flat_map(|(session_id, paths)| paths.iter().map(move |p| (*session_id, p.to_string())))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_fires_once_persistent_stays() {
        let mut t = WatchTable::default();
        t.add("/a", 1, Mode::Standard);
        t.add("/a", 2, Mode::Persistent);
        assert_eq!(t.trigger("/a", EventType::NodeDataChanged, &[]), vec![1, 2]);
        assert_eq!(t.trigger("/a", EventType::NodeDataChanged, &[]), vec![2]);
        assert_eq!(t.count(), 1);
    }

    #[test]
    fn recursive_fires_for_descendants_but_not_child_events() {
        let mut t = WatchTable::default();
        t.add("/a", 1, Mode::Recursive);
        t.add("/a", 2, Mode::Standard);
        assert_eq!(t.trigger("/a/b/c", EventType::NodeCreated, &[]), vec![1]);
        assert_eq!(
            t.trigger("/a/b", EventType::NodeChildrenChanged, &[]),
            Vec::<i64>::new()
        );
        assert_eq!(t.trigger("/a", EventType::NodeDataChanged, &[]), vec![1, 2]);
        assert_eq!(
            t.trigger("/x", EventType::NodeDataChanged, &[]),
            Vec::<i64>::new()
        );
        t.remove("/a", 1);
        assert_eq!(t.recursive, 0);
    }

    #[test]
    fn suppress_and_session_removal() {
        let mut t = WatchTable::default();
        t.add("/a", 1, Mode::Standard);
        t.add("/b", 1, Mode::Recursive);
        assert_eq!(
            t.trigger("/a", EventType::NodeDeleted, &[1]),
            Vec::<i64>::new()
        );
        assert_eq!(t.mode("/a", 1), None);
        t.remove_session(1);
        assert_eq!(t.count(), 0);
        assert_eq!(t.recursive, 0);
        assert!(t.by_session.is_empty());
    }
}
