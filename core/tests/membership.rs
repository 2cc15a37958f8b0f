//! Membership as Raft state (Ongaro's thesis §4): tests named after its rules, on a small
//! in-memory cluster with a lossless network and instant disks (the simulation covers faults).

use raftq_core::{Config, HardState, Message, Node, Output, Role, Voters};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const HB: u64 = 10;
const EL_MIN: u64 = 100;
const EL_MAX: u64 = 200;

fn cfg() -> Config {
    Config::new(HB, EL_MIN, EL_MAX).expect("valid config")
}

struct Net {
    nodes: BTreeMap<u64, Node<u64>>,
    disks: BTreeMap<u64, HardState<u64>>,
    down: BTreeSet<u64>,
    queue: VecDeque<(u64, u64, Message, Option<Voters<u64>>)>,
    now: u64,
    /// Every `(term, leader)` seen.
    leaders: BTreeMap<u64, u64>,
    /// The `ConfigChanged` outputs of each node, in order.
    config_events: Vec<(u64, Vec<u64>, bool)>,
}

impl Net {
    /// Nodes `ids`, each acking all the others before it starts (an in-memory raftq cluster).
    fn new(ids: &[u64]) -> Self {
        let mut net = Net {
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            down: BTreeSet::new(),
            queue: VecDeque::new(),
            now: 0,
            leaders: BTreeMap::new(),
            config_events: Vec::new(),
        };
        for &id in ids {
            let acks: Vec<u64> = ids.iter().copied().filter(|&p| p != id).collect();
            net.boot(id, &acks, cfg());
        }
        net
    }

    /// Start node `id` from its disk (empty at first), acking `acks`.
    fn boot(&mut self, id: u64, acks: &[u64], config: Config) {
        let mut n = Node::new(id, config, id * 7919);
        for &a in acks {
            n.add_member(a, self.now);
        }
        let disk = self.disks.get(&id).cloned().unwrap_or_default();
        n.start(disk, self.now);
        self.nodes.insert(id, n);
        self.down.remove(&id);
        self.drain(id);
    }

    fn crash(&mut self, id: u64) {
        self.down.insert(id);
        self.queue.retain(|(f, t, _, _)| *f != id && *t != id);
    }

    fn node(&mut self, id: u64) -> &mut Node<u64> {
        self.nodes.get_mut(&id).expect("node")
    }

    /// Handle a node's outputs: sends queued, persists completed at once (instant disk).
    fn drain(&mut self, id: u64) {
        loop {
            let outs = self.node(id).take_outputs();
            if outs.is_empty() {
                return;
            }
            for o in outs {
                match o {
                    Output::Send { to, msg, voters }
                        if !self.down.contains(&to) && self.nodes.contains_key(&to) =>
                    {
                        self.queue.push_back((id, to, msg, voters));
                    }
                    Output::Persist { seq, state } => {
                        self.disks.insert(id, state);
                        let now = self.now;
                        self.node(id).persisted(seq, now);
                    }
                    Output::ConfigChanged {
                        voters, committed, ..
                    } => self
                        .config_events
                        .push((id, voters.as_slice().to_vec(), committed)),
                    _ => {}
                }
            }
        }
    }

    /// Advance by one ms: deliver everything queued, fire due timers.
    fn tick(&mut self) {
        self.now += 1;
        let now = self.now;
        while let Some((from, to, msg, voters)) = self.queue.pop_front() {
            if self.down.contains(&to) {
                continue;
            }
            self.node(to).step_with_voters(from, msg, voters, now);
            self.drain(to);
        }
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            if self.down.contains(&id) {
                continue;
            }
            if self.node(id).next_deadline().is_some_and(|d| d <= now) {
                self.node(id).tick(now);
                self.drain(id);
            }
            let n = &self.nodes[&id];
            if n.role() == Role::Leader {
                let prev = self.leaders.insert(n.term(), id);
                assert!(
                    prev.is_none_or(|p| p == id),
                    "two leaders in term {}: {prev:?} and {id}",
                    n.term()
                );
            }
        }
    }

    /// Run until `f` holds (at most `ms`); whether it did.
    fn run_until(&mut self, ms: u64, mut f: impl FnMut(&Net) -> bool) -> bool {
        for _ in 0..ms {
            if f(self) {
                return true;
            }
            self.tick();
        }
        f(self)
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.tick();
        }
    }

    fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .find(|(id, n)| !self.down.contains(id) && n.role() == Role::Leader)
            .map(|(id, _)| *id)
    }

    fn elect(&mut self) -> u64 {
        assert!(self.run_until(5_000, |n| n.leader().is_some()), "a leader");
        self.leader().expect("leader")
    }

    /// Propose on the leader and run until every running voter committed it.
    fn write(&mut self) {
        let l = self.elect();
        let now = self.now;
        let v = self.node(l).propose(now).expect("propose");
        self.drain(l);
        let voters = self.nodes[&l].voters().clone();
        let ok = self.run_until(2_000, |n| {
            n.nodes
                .iter()
                .filter(|(id, _)| !n.down.contains(id) && voters.contains(id))
                .all(|(_, x)| x.committed() >= v)
        });
        assert!(ok, "write {v:?} committed everywhere");
    }

    fn committed_voters(&self, id: u64) -> Option<Vec<u64>> {
        self.nodes[&id]
            .committed_voters()
            .map(|v| v.as_slice().to_vec())
    }
}

#[test]
fn s4_1_the_first_leader_gives_its_first_version_the_configuration_and_every_node_persists_it() {
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    for id in 1..=3 {
        let disk = &net.disks[&id];
        assert_eq!(
            disk.latest_voters.as_ref().map(|v| v.as_slice().to_vec()),
            Some(vec![1, 2, 3]),
            "node {id}'s disk holds the configuration"
        );
        assert_eq!(net.committed_voters(id), Some(vec![1, 2, 3]));
    }
}

#[test]
fn s4_1_a_restarted_node_runs_with_the_configuration_it_held_not_with_its_acks() {
    // the README demo's power cut: every node killed; the one restarted first finds no peer to
    // ack and would, counting over its acks, lead a cluster of one
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    for id in 1..=3 {
        net.crash(id);
    }
    net.boot(1, &[], cfg());
    assert_eq!(net.node(1).voters().as_slice(), &[1, 2, 3]);
    net.run(3 * EL_MAX);
    assert_ne!(net.node(1).role(), Role::Leader, "alone it is no majority");
    assert!(net.node(1).committed() > raftq_core::Version::ZERO);
    // its peers come back: one leader, the committed data kept
    let before = net.nodes[&1].committed();
    net.boot(2, &[1, 3], cfg());
    net.boot(3, &[1, 2], cfg());
    net.write();
    for id in 1..=3 {
        assert!(net.nodes[&id].committed() > before);
    }
}

#[test]
fn s4_1_a_removal_goes_through_the_leader_and_quorums_follow_the_configuration() {
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    let l = net.elect();
    let gone = if l == 3 { 2 } else { 3 };
    net.crash(gone);
    // the app's ackNode with time 0, on the leader only (a lost POST elsewhere)
    let now = net.now;
    net.node(l).remove_member(&gone, now);
    net.drain(l);
    let want: Vec<u64> = (1..=3).filter(|&i| i != gone).collect();
    assert!(
        net.run_until(2_000, |n| n.committed_voters(l).as_ref() == Some(&want)),
        "the removal commits with a majority of the new configuration"
    );
    // the other node follows the configuration, although its app never acked the removal
    let other = want.iter().copied().find(|&i| i != l).expect("other");
    assert!(net.run_until(500, |n| n.committed_voters(other).as_ref() == Some(&want)));
    // two of two now: writes commit without the removed node
    net.write();
    assert!(net
        .config_events
        .iter()
        .any(|(id, v, committed)| *id == other && *committed && *v == want));
}

#[test]
fn s4_1_one_change_at_a_time_and_none_before_the_new_leader_committed_in_its_term() {
    let mut net = Net::new(&[1, 2, 3, 4, 5]);
    net.write();
    let l = net.elect();
    let others: Vec<u64> = (1..=5).filter(|&i| i != l).collect();
    let now = net.now;
    // two removals at once
    net.node(l).remove_member(&others[0], now);
    net.node(l).remove_member(&others[1], now);
    assert!(
        net.node(l).voters().len() == 4,
        "one change proposed, not two"
    );
    assert_ne!(
        net.node(l).committed_voters().map(|v| v.len()),
        Some(4),
        "not committed yet"
    );
    net.drain(l);
    assert!(net.run_until(2_000, |n| n.committed_voters(l).map(|v| v.len()) == Some(3)));
    // never more than one server between the committed and the latest configuration of a node
    for (id, n) in &net.nodes {
        let c = n.committed_voters().expect("configuration");
        assert!(!c.disjoint_majorities(n.voters()), "node {id}");
    }
    // a new leader: nothing changes before its own re-proposal committed
    let l2 = {
        let now = net.now;
        net.node(l)
            .transfer_leadership(None, now)
            .expect("transfer");
        net.drain(l);
        assert!(net.run_until(2_000, |n| n.leader().is_some_and(|x| x != l)));
        net.leader().expect("new leader")
    };
    let n2 = &net.nodes[&l2];
    assert_eq!(
        n2.committed().term,
        n2.term(),
        "its own version committed first"
    );
}

#[test]
fn s4_2_1_a_new_server_catches_up_as_a_learner_before_it_counts() {
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    net.write();
    let l = net.elect();
    // node 4 starts (fresh, acking the cluster) and the leader's app acks it
    net.boot(4, &[1, 2, 3], cfg());
    let now = net.now;
    net.node(l).add_member(4, now);
    // at once: a learner (replicated to), not a voter
    assert_eq!(net.node(l).voters().len(), 3);
    assert_eq!(net.node(l).learners(), vec![4]);
    net.drain(l);
    assert!(net.run_until(2_000, |n| n.committed_voters(l) == Some(vec![1, 2, 3, 4])));
    assert!(net.run_until(500, |n| n.committed_voters(4) == Some(vec![1, 2, 3, 4])));
    assert!(net.nodes[&4].committed() >= net.nodes[&l].committed());
    assert!(net.node(l).learners().is_empty());
}

#[test]
fn s4_2_2_a_leader_removing_itself_steps_down_once_the_change_commits() {
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    let l = net.elect();
    // the leader's own app asks first; the others' apps agree (else their next leader would
    // add it back: intents are each app's)
    let now = net.now;
    net.node(l).remove_member(&l, now);
    assert!(
        !net.node(l).voters().contains(&l),
        "in effect at once (4.1)"
    );
    net.drain(l);
    for id in (1..=3).filter(|&i| i != l) {
        net.node(id).remove_member(&l, now);
        net.drain(id);
    }
    let rest: Vec<u64> = (1..=3).filter(|&i| i != l).collect();
    assert!(net.run_until(3_000, |n| n.leader().is_some_and(|x| x != l)));
    let ok = net.run_until(1_000, |n| {
        rest.iter()
            .all(|&i| n.committed_voters(i).as_ref() == Some(&rest))
    });
    assert!(
        ok,
        "{:?}",
        net.nodes
            .values()
            .map(|n| (
                n.id(),
                n.role(),
                n.term(),
                n.status().voters,
                n.committed_voters().cloned()
            ))
            .collect::<Vec<_>>()
    );
    eprintln!("events {:?} leaders {:?}", net.config_events, net.leaders);
    assert_ne!(net.nodes[&l].role(), Role::Leader);
    net.write();
}

#[test]
fn s4_2_3_a_removed_server_cannot_disrupt() {
    let mut net = Net::new(&[1, 2, 3]);
    net.write();
    let l = net.elect();
    let gone = if l == 3 { 2 } else { 3 };
    for id in 1..=3 {
        if id != gone {
            let now = net.now;
            net.node(id).remove_member(&gone, now);
            net.drain(id);
        }
    }
    let rest: Vec<u64> = (1..=3).filter(|&i| i != gone).collect();
    assert!(net.run_until(2_000, |n| n.committed_voters(l).as_ref() == Some(&rest)));
    // the removed node may never learn that its removal committed (nothing is sent to it any
    // more): it times out and asks for votes, which the others ignore (not a peer of theirs)
    let term = net.nodes[&l].term();
    net.run(5 * EL_MAX);
    assert_eq!(
        net.nodes[&l].term(),
        term,
        "the cluster's term is untouched"
    );
    assert_eq!(net.leader(), Some(l));
    let ignored: u64 = rest
        .iter()
        .map(|&i| {
            net.nodes[&i]
                .metrics()
                .rejected
                .get(raftq_core::NOT_A_MEMBER)
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert!(
        ignored > 0,
        "its vote requests reached the others and were ignored"
    );
    net.write();
    // once it is no peer of anyone's, a node holding only configurations without it stays
    // quiet: the one it holds as latest excludes it, and it is in no other it holds
    assert!(!net.nodes[&l].voters().contains(&gone));
}

#[test]
fn bootstrap_expect_holds_the_first_election_until_enough_members_are_known() {
    let mut c = cfg();
    c.bootstrap_expect = 3;
    let mut net = Net::new(&[]);
    // processes started at the same moment: nobody answered the first node's ackNode POSTs
    net.boot(1, &[], c.clone());
    net.run(3 * EL_MAX);
    assert_ne!(
        net.node(1).role(),
        Role::Leader,
        "a majority of one is no cluster"
    );
    assert_eq!(net.node(1).metrics().pre_votes_started, 0);
    // the others start and ack everyone; the first node's app acks them as their POSTs arrive
    net.boot(2, &[1, 3], c.clone());
    net.boot(3, &[1, 2], c);
    for p in [2, 3] {
        let now = net.now;
        net.node(1).add_member(p, now);
        net.drain(1);
    }
    net.write();
    assert_eq!(net.committed_voters(1), Some(vec![1, 2, 3]));
}

#[test]
fn a_node_without_a_configuration_bootstraps_from_its_acks_as_raftq_does() {
    // raftq 1.0.0's three-field file: no configuration; a lone node leads at once
    let mut net = Net::new(&[]);
    net.disks.insert(
        1,
        HardState {
            term: 4,
            ..HardState::default()
        },
    );
    net.boot(1, &[], cfg());
    assert!(!net.node(1).has_configuration());
    let l = net.elect();
    assert_eq!(l, 1);
    assert_eq!(net.committed_voters(1), Some(vec![1]));
}
