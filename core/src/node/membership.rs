//! Membership as raftq has it: `ackNode` adds or updates a member, a falsy `time` removes it.
//!
//! This is NOT joint consensus (Raft §6) nor even single-server changes through the log
//! (thesis §4.1): each node's member list is whatever the application told it, out of band.
//! Majorities are counted over members + self in each node's own view. What that risks:
//! - views that disagree (a node added on some nodes but not others) allow two disjoint
//!   "majorities": two leaders in one term, or a committed value lost;
//! - even with views that agree, several changes within one term let votes cast under one
//!   membership count toward a majority of another (the simulation found two leaders in one
//!   term this way, seed 60547, when three nodes of six were removed during an election);
//! - a new configuration whose majority lacks the committed data can elect a leader without it.
//!
//! Changes are safe when they are applied one node at a time, on every node, while the cluster
//! is stable: every member up and following one leader in one term, nobody campaigning, and
//! every member holding the latest committed version on disk (persisted, not just received),
//! committed in that term. raftq's API
//! offers nothing stronger; the simulation (`core/tests/sim`) changes membership only then.

use super::{Node, NodeId, Progress, Role};

impl<I: NodeId> Node<I> {
    /// `ackNode` with a truthy `time`: add (or keep) a member. Works before `start`.
    pub fn add_member(&mut self, id: I, now: u64) {
        self.observe(now);
        if id == self.id || self.members.contains_key(&id) {
            return;
        }
        // a new member counts as active until the next check-quorum round (as etcd): it may
        // not have started yet, and a leader must not step down for a node that just joined
        self.members.insert(
            id.clone(),
            Progress {
                needs_data: true,
                recent_active: true,
                ..Progress::default()
            },
        );
        if self.started && self.role == Role::Leader {
            self.send_append(id, now, false);
        }
    }

    /// `ackNode` with a falsy `time`: forget a member. Quorums shrink at once.
    pub fn remove_member(&mut self, id: &I, now: u64) {
        self.observe(now);
        if self.members.remove(id).is_none() {
            return;
        }
        if self.transfer.as_ref().is_some_and(|(t, _)| t == id) {
            self.transfer = None;
        }
        // nothing more goes to it, replies waiting for a persist included
        self.gated.retain(|g| g.to != *id);
        if self.role != Role::Leader && self.leader.as_ref() == Some(id) {
            // our leader left (raftq apps remove a crashing node from the others before it
            // hands over): its lease ends, and its hand-off in this term is still honoured.
            // `leader` stays: forgetting it would let us vote again in this term.
            self.last_leader_contact = None;
            self.departed_leader = Some((id.clone(), self.term));
        }
        if !self.started {
            return;
        }
        match self.role {
            Role::Leader => {
                self.maybe_commit(now);
                self.check_confirms();
            }
            Role::Candidate => self.maybe_win(now),
            Role::Follower => self.maybe_win_pre_vote(now),
        }
    }
}
