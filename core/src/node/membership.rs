//! Membership as Raft state (Ongaro's thesis §4): the set of voting members is part of every
//! version, persisted with it, replicated with it and changed one server at a time by the leader.
//!
//! - **The configuration travels with the versions.** Every held version carries the voters in
//!   effect from it on ([`Voters`]); a version reaches a follower with its data and its voters.
//!   A node counts every quorum (votes, commits, check-quorum, the lease, confirmation rounds)
//!   over the voters of the latest version it holds, committed or not (§4.1). Its persisted
//!   state holds the voters of its latest and committed versions, so a restarted node runs with
//!   the configuration it held before.
//! - **`ackNode` is the app's intent and address book.** An ack with a truthy `time` asks for the
//!   node to be a member, a falsy one for it to leave. A leader moves the configuration toward
//!   the intents it holds, one server at a time (§4.1): only once it committed a version of its
//!   own term (the fix of the single-server bug, thesis errata), with no other change in flight;
//!   removals first; a new server first catches up as a non-voting learner (§4.2.1). A follower
//!   keeps its intents and acts on them once it leads. A leader whose removal commits steps down
//!   (§4.2.2). Removed servers cannot disrupt: pre-vote and the lease (§4.2.3), and a node that
//!   is not in its own configuration never campaigns.
//! - **Bootstrap.** A node that holds no configuration (a fresh node, or a file written by raftq
//!   1.0.0 or an older raftq-native) counts over itself and the nodes it acked, as raftq does,
//!   until it holds a version with voters (as a leader it gives its first version the voters it
//!   counted over). [`crate::Config::bootstrap_expect`] keeps such a node from campaigning until
//!   it knows that many members (Consul's `bootstrap_expect`).

use super::{Node, NodeId, Output, Progress, Role};
use crate::message::Version;
use std::sync::Arc;

/// A configuration: the voting members, sorted and without duplicates. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Voters<I>(Arc<[I]>);

impl<I: NodeId> Voters<I> {
    pub fn new(ids: impl IntoIterator<Item = I>) -> Self {
        let mut v: Vec<I> = ids.into_iter().collect();
        v.sort();
        v.dedup();
        Voters(v.into())
    }
    pub fn contains(&self, id: &I) -> bool {
        self.0.binary_search(id).is_ok()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, I> {
        self.0.iter()
    }
    pub fn as_slice(&self) -> &[I] {
        &self.0
    }
    /// The size of a majority.
    pub fn quorum(&self) -> usize {
        self.0.len() / 2 + 1
    }
    fn with(&self, id: &I) -> Self {
        Voters::new(self.iter().cloned().chain(std::iter::once(id.clone())))
    }
    fn without(&self, id: &I) -> Self {
        Voters::new(self.iter().filter(|x| *x != id).cloned())
    }
    /// Whether some majority of `self` and some majority of `other` share no member.
    pub fn disjoint_majorities(&self, other: &Voters<I>) -> bool {
        let shared = self.iter().filter(|x| other.contains(x)).count();
        let only_self = self.len() - shared;
        let only_other = other.len() - shared;
        let need =
            self.quorum().saturating_sub(only_self) + other.quorum().saturating_sub(only_other);
        need <= shared
    }
}

impl<I: NodeId> Node<I> {
    /// `ackNode` with a truthy `time`: the app wants `id` to be a member (and knows its address).
    /// Works before `start`.
    pub fn add_member(&mut self, id: I, now: u64) {
        if !self.set_intent(&id, true, now) {
            return;
        }
        if !self.started {
            return;
        }
        if self.role == Role::Leader && id != self.id {
            self.send_append(id, now, false);
        }
        self.after_config_input(now);
    }

    /// `ackNode` with a falsy `time`: the app wants `id` to leave. It stays a voter until a
    /// leader's configuration without it is in effect.
    pub fn remove_member(&mut self, id: &I, now: u64) {
        if !self.set_intent(id, false, now) {
            return;
        }
        if self.role != Role::Leader && self.leader.as_ref() == Some(id) {
            // our leader is leaving (raftq apps remove a crashing node from the others before it
            // hands over): its lease ends, and its hand-off in this term is still honoured.
            // `leader` stays: forgetting it would let us vote again in this term.
            self.last_leader_contact = None;
            self.departed_leader = Some((id.clone(), self.term));
        }
        if self.started {
            self.after_config_input(now);
        }
    }

    /// Record the app's intent for `id`; whether it changed (then the bootstrap voters and the
    /// peers follow it).
    fn set_intent(&mut self, id: &I, keep: bool, now: u64) -> bool {
        self.observe(now);
        if self.intents.get(id) == Some(&keep) {
            return false;
        }
        self.intents.insert(id.clone(), keep);
        self.refresh_boot_voters();
        self.sync_peers();
        true
    }

    /// The app's intents so far: `(id, true)` to have it as a member, `(id, false)` to remove it.
    pub fn intents(&self) -> impl Iterator<Item = (&I, bool)> {
        self.intents.iter().map(|(id, keep)| (id, *keep))
    }

    /// The voters a node counts over: those of its latest version, or (holding none) itself and
    /// the nodes it acked.
    pub fn voters(&self) -> &Voters<I> {
        #[cfg(feature = "rule-switches")]
        if self
            .config
            .broken(crate::config::BrokenRule::LocalAckQuorum)
        {
            return &self.boot_voters;
        }
        self.held_voters()
    }

    /// The configuration held: the latest version's voters, or the bootstrap one.
    fn held_voters(&self) -> &Voters<I> {
        match self.log.back().and_then(|e| e.voters.as_ref()) {
            Some(v) => v,
            None => &self.boot_voters,
        }
    }

    /// The configuration a new leader gives its first version.
    pub(crate) fn voters_to_hold(&self) -> Voters<I> {
        self.held_voters().clone()
    }

    /// The voters of the committed version (`None`: bootstrap, no configuration held).
    pub fn committed_voters(&self) -> Option<&Voters<I>> {
        self.log.front().and_then(|e| e.voters.as_ref())
    }

    /// Whether this node holds a configuration (not bootstrapping from its acks).
    pub fn has_configuration(&self) -> bool {
        self.log.iter().any(|e| e.voters.is_some())
    }

    /// Leader: the nodes it replicates to that do not vote yet (acked, not in the configuration).
    pub fn learners(&self) -> Vec<I> {
        let voters = self.held_voters();
        self.members
            .keys()
            .filter(|id| !voters.contains(id) && self.intents.get(*id) == Some(&true))
            .cloned()
            .collect()
    }

    /// How many voters satisfy `f` on their progress, this node counting as `me`.
    pub(crate) fn voters_where(&self, me: bool, f: impl Fn(&Progress) -> bool) -> usize {
        self.voters()
            .iter()
            .filter(|id| {
                if **id == self.id {
                    me
                } else {
                    self.members.get(*id).is_some_and(&f)
                }
            })
            .count()
    }

    /// Whether this node is a voter of a configuration it holds, committed or not: then it
    /// campaigns (thesis §4.2.2: a server left out of its latest configuration may still be
    /// needed until that configuration commits; it does not count its own vote). A node in none
    /// of them (a learner, a removed node) never campaigns.
    pub(crate) fn may_be_needed(&self) -> bool {
        #[cfg(feature = "rule-switches")]
        if self
            .config
            .broken(crate::config::BrokenRule::LocalAckQuorum)
        {
            return true;
        }
        self.log.iter().any(|e| match &e.voters {
            Some(v) => v.contains(&self.id),
            None => true,
        })
    }

    pub(crate) fn refresh_boot_voters(&mut self) {
        let acked = self
            .intents
            .iter()
            .filter(|(id, keep)| **keep && **id != self.id)
            .map(|(id, _)| id.clone());
        let voters = Voters::new(acked.chain(std::iter::once(self.id.clone())));
        self.boot_voters = voters;
    }

    /// The nodes this one talks to: the voters of every version it holds and the nodes it acked,
    /// itself excepted. Progress of nodes that stay is kept.
    pub(crate) fn sync_peers(&mut self) {
        let mut want: Vec<I> = self
            .intents
            .iter()
            .filter(|(_, keep)| **keep)
            .map(|(id, _)| id.clone())
            .collect();
        for e in &self.log {
            if let Some(v) = &e.voters {
                want.extend(v.iter().cloned());
            }
        }
        if self.log.iter().any(|e| e.voters.is_none()) {
            want.extend(self.boot_voters.iter().cloned());
        }
        want.sort();
        want.dedup();
        want.retain(|id| *id != self.id);
        let same =
            want.len() == self.members.len() && want.iter().all(|id| self.members.contains_key(id));
        if same {
            return;
        }
        let gone: Vec<I> = self
            .members
            .keys()
            .filter(|id| want.binary_search(id).is_err())
            .cloned()
            .collect();
        for id in &gone {
            self.members.remove(id);
            if self.transfer.as_ref().is_some_and(|(t, _)| t == id) {
                self.transfer = None;
            }
            // nothing more goes to it, replies waiting for a persist included
            self.gated.retain(|g| g.to != *id);
        }
        for id in want {
            // a new peer counts as active until the next check-quorum round (as etcd): it may
            // not have started yet, and a leader must not step down for a node that just joined
            self.members.entry(id).or_insert(Progress {
                needs_data: true,
                recent_active: true,
                ..Progress::default()
            });
        }
    }

    /// After an ack or a configuration change: quorums may have moved.
    pub(crate) fn after_config_input(&mut self, now: u64) {
        match self.role {
            Role::Leader => {
                self.maybe_commit(now);
                self.check_confirms();
                self.reconcile_configuration(now);
            }
            Role::Candidate => self.maybe_win(now),
            Role::Follower => self.maybe_win_pre_vote(now),
        }
    }

    /// Whether a configuration change is in flight: the latest version's voters differ from the
    /// committed version's.
    fn change_in_flight(&self) -> bool {
        #[cfg(feature = "rule-switches")]
        if self
            .config
            .broken(crate::config::BrokenRule::TwoChangesInFlight)
        {
            return false;
        }
        self.log
            .iter()
            .any(|e| e.voters.as_ref() != self.committed_voters())
    }

    /// Whether an intent disagrees with the configuration (a change may be due).
    fn intents_pending(&self) -> bool {
        let voters = self.held_voters();
        self.intents
            .iter()
            .any(|(id, keep)| *keep != voters.contains(id))
    }

    /// Leader: propose the next single-server change toward the intents, if one is due and
    /// allowed. Removals first (a gone voter weighs on every quorum); an addition only once the
    /// learner holds our commit point.
    pub(crate) fn reconcile_configuration(&mut self, now: u64) {
        if !self.started || self.role != Role::Leader || self.transfer.is_some() {
            return;
        }
        // a new leader first commits a version of its own term (then every configuration it
        // could conflict with is settled), and one change at a time
        let committed = self.committed();
        #[cfg(feature = "rule-switches")]
        let own_term = committed.term == self.term
            || self
                .config
                .broken(crate::config::BrokenRule::TwoChangesInFlight);
        #[cfg(not(feature = "rule-switches"))]
        let own_term = committed.term == self.term;
        if !own_term || self.change_in_flight() || !self.intents_pending() {
            return;
        }
        if self.latest().index >= super::MAX_VALUE {
            return;
        }
        let voters = self.held_voters().clone();
        // (never the last voter: the nodes to add come first then)
        let remove = voters
            .iter()
            .find(|id| **id != self.id && self.intents.get(*id) == Some(&false))
            .or_else(|| {
                voters
                    .iter()
                    .find(|id| **id == self.id && self.intents.get(*id) == Some(&false))
            })
            .filter(|_| voters.len() > 1)
            .cloned();
        let next = if let Some(id) = remove {
            self.log_line(format!(
                "configuration change: removing a voter ({} left)",
                voters.len() - 1
            ));
            voters.without(&id)
        } else {
            let caught_up = self.members.iter().find(|(id, p)| {
                !voters.contains(id)
                    && self.intents.get(*id) == Some(&true)
                    && p.matched.is_some_and(|m| m >= committed)
            });
            let Some((id, _)) = caught_up else {
                return;
            };
            let id = id.clone();
            self.log_line(format!(
                "configuration change: adding a voter ({} then)",
                voters.len() + 1
            ));
            voters.with(&id)
        };
        self.propose_configuration(next, now);
    }

    /// A new version of our term holding the latest data under the configuration `next`.
    fn propose_configuration(&mut self, next: Voters<I>, now: u64) {
        let latest = self.latest();
        let v = Version::new(self.term, latest.index + 1);
        self.metrics.config_changes += 1;
        // the alias before the new entry: a version the entry pushes out is released after
        self.outputs.push(Output::Alias {
            version: v,
            copy_of: latest,
        });
        self.append_own(v, Some(next), now);
    }

    /// The commit point moved: a leader no longer in the committed configuration steps down
    /// (§4.2.2); the next change may be due.
    pub(crate) fn after_commit_configuration(&mut self, now: u64) {
        if self.role != Role::Leader {
            return;
        }
        if self
            .committed_voters()
            .is_some_and(|v| !v.contains(&self.id))
        {
            self.log_line("removed from the configuration: stepping down".to_string());
            self.step_down_and_hand_over(now);
            return;
        }
        self.reconcile_configuration(now);
    }

    /// Report a change of the latest or the committed configuration to the host.
    pub(crate) fn note_configuration(
        &mut self,
        before_latest: Option<Voters<I>>,
        before_committed: Option<Voters<I>>,
    ) {
        let latest = self.log.back().and_then(|e| e.voters.clone());
        if latest.is_some() && latest != before_latest {
            if let Some(voters) = latest {
                self.outputs.push(Output::ConfigChanged {
                    version: self.latest(),
                    voters,
                    committed: false,
                });
            }
        }
        let committed = self.committed_voters().cloned();
        if committed.is_some() && committed != before_committed {
            if let Some(voters) = committed {
                self.outputs.push(Output::ConfigChanged {
                    version: self.committed(),
                    voters,
                    committed: true,
                });
            }
        }
    }
}

impl<I: NodeId> Node<I> {
    /// The latest and committed configurations, to compare after a change of the held versions.
    pub(crate) fn config_marks(&self) -> ConfigMarks<I> {
        (
            self.log.back().and_then(|e| e.voters.clone()),
            self.committed_voters().cloned(),
        )
    }

    /// The held versions changed: peers follow the configurations, and the host hears of a
    /// changed one.
    pub(crate) fn config_moved(&mut self, before: ConfigMarks<I>) {
        self.sync_peers();
        self.note_configuration(before.0, before.1);
    }
}

pub(crate) type ConfigMarks<I> = (Option<Voters<I>>, Option<Voters<I>>);
