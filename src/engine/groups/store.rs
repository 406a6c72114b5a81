//! The embedded daemon's group table (groups spec sections 9.1, 9.7, 14).
//!
//! Groups hold their members sorted byte-wise by private group name, which is
//! the order a single daemon lists them in membership messages, and the group
//! id that advances with every join, leave and disconnect.

use std::collections::BTreeMap;

use super::codec::{GroupId, Name};

/// A connection's id inside the daemon.
pub type ConnId = u64;

/// One group on this daemon.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// The current view's id.
    pub gid: GroupId,
    /// Members by private group name (byte-wise order).
    pub members: BTreeMap<Name, ConnId>,
}

/// All groups with at least one member.
#[derive(Clone, Debug)]
pub struct GroupTable {
    groups: BTreeMap<Name, Group>,
    proc_id: i32,
    time: i32,
}

/// What a change did to a group.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing: duplicate join or leave of a non-member.
    None,
    /// The group changed; it still has members.
    Changed,
    /// The last member left; the group is gone.
    Emptied,
}

impl GroupTable {
    /// An empty table whose new groups get ids `(proc_id, time, 1)`.
    pub fn new(proc_id: i32, time: i32) -> Self {
        GroupTable {
            groups: BTreeMap::new(),
            proc_id,
            time,
        }
    }

    /// A group by name.
    pub fn get(&self, name: &Name) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Group)> {
        self.groups.iter()
    }

    /// Adds `member`; creates the group at index 1 or advances its index.
    pub fn join(&mut self, group: &Name, member: &Name, conn: ConnId) -> Change {
        let (proc_id, time) = (self.proc_id, self.time);
        let g = self.groups.entry(group.clone()).or_insert_with(|| Group {
            gid: GroupId {
                proc_id,
                time,
                index: 0,
            },
            members: BTreeMap::new(),
        });
        if g.members.contains_key(member) {
            return Change::None;
        }
        g.members.insert(member.clone(), conn);
        g.gid.index = g.gid.index.wrapping_add(1);
        Change::Changed
    }

    /// Removes `member`; deletes the group when it empties.
    pub fn leave(&mut self, group: &Name, member: &Name) -> Change {
        let Some(g) = self.groups.get_mut(group) else {
            return Change::None;
        };
        if g.members.remove(member).is_none() {
            return Change::None;
        }
        if g.members.is_empty() {
            self.groups.remove(group);
            return Change::Emptied;
        }
        g.gid.index = g.gid.index.wrapping_add(1);
        Change::Changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn group_id_advances_and_restarts_after_empty() {
        let mut t = GroupTable::new(7, 9);
        assert_eq!(t.join(&n("g"), &n("#b#d"), 2), Change::Changed);
        assert_eq!(t.get(&n("g")).unwrap().gid.index, 1);
        assert_eq!(t.join(&n("g"), &n("#a#d"), 1), Change::Changed);
        assert_eq!(t.join(&n("g"), &n("#a#d"), 1), Change::None);
        let g = t.get(&n("g")).unwrap();
        assert_eq!(g.gid.index, 2);
        let order: Vec<_> = g.members.keys().map(|m| m.to_string()).collect();
        assert_eq!(order, ["#a#d", "#b#d"]);
        assert_eq!(t.leave(&n("g"), &n("#x#d")), Change::None);
        assert_eq!(t.leave(&n("g"), &n("#a#d")), Change::Changed);
        assert_eq!(t.get(&n("g")).unwrap().gid.index, 3);
        assert_eq!(t.leave(&n("g"), &n("#b#d")), Change::Emptied);
        assert!(t.is_empty());
        t.join(&n("g"), &n("#a#d"), 1);
        assert_eq!(
            t.get(&n("g")).unwrap().gid,
            GroupId {
                proc_id: 7,
                time: 9,
                index: 1
            }
        );
    }
}
