//! A node cut off for longer than one message's term step (2^16 election timeouts, with
//! pre-vote off, so that it raises its term at every timeout) rejoins once healed: the others
//! learn its term in bounded steps (each far-ahead response or vote request moves a term by at
//! most `MAX_VOTE_TERM_STEP`), a node of theirs wins the next election (the lone node's data is
//! older) and the lone node follows it. A single far-ahead body still cannot move a term by
//! more than that step.

use raftq_core::{
    Config, HardState, Message, Node, Output, Role, Version, Voters, MAX_VOTE_TERM_STEP,
};
use std::collections::VecDeque;

const HB: u64 = 10;
const EL_MIN: u64 = 100;
const EL_MAX: u64 = 200;

fn cfg(pre_vote: bool) -> Config {
    let mut c = Config::new(HB, EL_MIN, EL_MAX).expect("valid config");
    c.pre_vote = pre_vote;
    c
}

/// Three nodes on an in-memory network with instant disks (every persist completes at once)
/// and a cut that drops every message to or from the nodes in it.
struct Net {
    nodes: Vec<Node<u64>>,
    cut: Vec<bool>,
    queue: VecDeque<(u64, u64, Message, Option<Voters<u64>>)>,
    now: u64,
}

impl Net {
    fn new(pre_vote: bool) -> Net {
        let ids = [1u64, 2, 3];
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut n = Node::new(id, cfg(pre_vote), id * 7919);
                for &p in &ids {
                    if p != id {
                        n.add_member(p, 0);
                    }
                }
                n.start(HardState::default(), 0);
                n
            })
            .collect();
        Net {
            nodes,
            cut: vec![false; 3],
            queue: VecDeque::new(),
            now: 0,
        }
    }

    fn node(&mut self, id: u64) -> &mut Node<u64> {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Handle node `i`'s outputs: persists complete, sends are queued (or dropped by the cut).
    fn route(&mut self, i: usize) -> bool {
        let out = self.nodes[i].take_outputs();
        let any = !out.is_empty();
        let from = (i + 1) as u64;
        for o in out {
            match o {
                Output::Persist { seq, .. } => {
                    let now = self.now;
                    self.nodes[i].persisted(seq, now);
                }
                Output::Send { to, msg, voters }
                    if !self.cut[i] && !self.cut[(to - 1) as usize] =>
                {
                    self.queue.push_back((from, to, msg, voters));
                }
                _ => {}
            }
        }
        any
    }

    /// Route every output and deliver every queued message, until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                any |= self.route(i);
            }
            while let Some((from, to, msg, voters)) = self.queue.pop_front() {
                any = true;
                let now = self.now;
                self.node(to).step_with_voters(from, msg, voters, now);
                self.route((to - 1) as usize);
            }
            if !any {
                return;
            }
        }
    }

    /// Advance time to the earliest deadline (at most `until`), tick the nodes due.
    fn advance(&mut self, until: u64) {
        let next = self
            .nodes
            .iter()
            .filter_map(|n| n.next_deadline())
            .min()
            .unwrap_or(until)
            .clamp(self.now, until);
        self.now = next;
        let now = self.now;
        for n in &mut self.nodes {
            if n.next_deadline().is_some_and(|d| d <= now) {
                n.tick(now);
            }
        }
        self.pump();
    }

    fn run_until(&mut self, until: u64) {
        while self.now < until {
            self.advance(until);
        }
    }

    /// One leader that every node names, all in one term.
    fn agreed(&self) -> Option<(u64, u64)> {
        let leaders: Vec<&Node<u64>> = self
            .nodes
            .iter()
            .filter(|n| n.role() == Role::Leader)
            .collect();
        let [l] = leaders[..] else { return None };
        let (id, term) = (*l.id(), l.term());
        self.nodes
            .iter()
            .all(|n| n.leader() == Some(&id) && n.term() == term)
            .then_some((id, term))
    }

    fn wait_agreed(&mut self, within: u64) -> Option<(u64, u64)> {
        let end = self.now + within;
        while self.now < end {
            if let Some(a) = self.agreed() {
                return Some(a);
            }
            self.advance(end);
        }
        self.agreed()
    }
}

/// Cut node 3 off, let it campaign alone until its term is `gap` beyond the others', heal.
fn partitioned(gap: u64) -> (Net, u64) {
    let mut net = Net::new(false);
    net.pump();
    let (leader, term) = net.wait_agreed(10_000).expect("a first leader");
    // node 3 must not lead: the others go on without it
    let lone = if leader == 3 { 1 } else { 3 };
    net.cut[(lone - 1) as usize] = true;
    // a write the lone node misses: its data is older than the others'
    let now = net.now;
    let v = net.node(leader).propose(now).expect("the leader proposes");
    net.pump();
    net.run_until(net.now + 2_000);
    assert!(net.node(leader).committed() >= v, "committed by the two");
    // the lone node raises its term at every election timeout (pre-vote off): fast-forward its
    // timeouts (one tick each, a few microseconds) rather than 2^16 simulated timeouts of all
    let cluster_term = net.nodes.iter().map(|n| n.term()).min().unwrap_or(term);
    while net.node(lone).term() < cluster_term + gap {
        let d = net
            .node(lone)
            .next_deadline()
            .expect("a lone node has a deadline");
        net.node(lone).tick(d);
        net.pump();
    }
    // its clock jumped ahead: the network's time follows
    let t = net.node(lone).next_deadline().unwrap_or(net.now);
    net.now = net.now.max(t.saturating_sub(EL_MAX));
    (net, lone)
}

#[test]
fn rejoin_after_two_to_the_sixteen_election_timeouts_without_pre_vote() {
    for gap in [MAX_VOTE_TERM_STEP + 10, 3 * MAX_VOTE_TERM_STEP + 5] {
        let (mut net, lone) = partitioned(gap);
        let lone_term = net.node(lone).term();
        let others_max = net
            .nodes
            .iter()
            .filter(|n| *n.id() != lone)
            .map(|n| n.term())
            .max()
            .unwrap_or(0);
        assert!(
            lone_term > others_max + MAX_VOTE_TERM_STEP,
            "the lone node's term {lone_term} is not out of one step's reach of {others_max}"
        );
        net.cut = vec![false; 3];
        // healed: within some election rounds per step of the gap, one leader for all three
        let rounds = gap / MAX_VOTE_TERM_STEP + 2;
        let agreed = net.wait_agreed(rounds * 20 * EL_MAX);
        let terms: Vec<u64> = net.nodes.iter().map(|n| n.term()).collect();
        let (leader, term) = agreed.unwrap_or_else(|| {
            panic!("gap {gap}: no agreed leader after healing; terms {terms:?}, lone {lone}")
        });
        assert!(
            term >= lone_term,
            "the cluster's term {term} reached the lone node's {lone_term}"
        );
        assert_ne!(leader, lone, "the lone node's data is older: it cannot win");
        assert_eq!(net.node(lone).role(), Role::Follower);
        // and it keeps working: a proposal commits everywhere
        let now = net.now;
        let v = net.node(leader).propose(now).expect("the leader proposes");
        net.pump();
        net.run_until(net.now + 5 * HB);
        for n in &net.nodes {
            assert_eq!(n.committed(), v, "node {} committed the proposal", n.id());
        }
    }
}

#[test]
fn a_far_ahead_body_moves_a_term_by_at_most_one_step_and_a_leader_with_a_lease_ignores_vote_requests(
) {
    let mut net = Net::new(false);
    net.pump();
    let (leader, term) = net.wait_agreed(10_000).expect("a leader");
    let follower = if leader == 1 { 2 } else { 1 };
    let sender = 6 - leader - follower;
    let now = net.now;
    // a vote request from a member far ahead, while the follower hears from its leader: ignored
    let far = term + 10 * MAX_VOTE_TERM_STEP;
    let req = Message::VoteRequest {
        term: far,
        pre_vote: false,
        last: Version::new(far, 1),
        transfer: false,
    };
    net.node(follower).step(sender, req, now);
    assert_eq!(
        net.node(follower).term(),
        term,
        "in its lease, a follower's term stays"
    );
    // an append response from a member far ahead: the leader steps down, by one step at most
    let resp = Message::AppendResponse {
        term: far,
        success: false,
        latest: Version::ZERO,
        round: 0,
    };
    net.node(leader).step(sender, resp, now);
    let t = net.node(leader).term();
    assert!(
        t > term && t <= term + MAX_VOTE_TERM_STEP,
        "one far-ahead body moved the term {term} -> {t}"
    );
    assert_ne!(net.node(leader).role(), Role::Leader);
    // the cluster elects again and carries on
    net.pump();
    assert!(net.wait_agreed(20 * EL_MAX).is_some(), "a leader again");
}
