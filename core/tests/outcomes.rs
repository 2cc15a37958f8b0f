//! Exact tests of the outcome outputs: `Proposal` (committed or not), `TransferEnded` and
//! `Released`, the decisions the host (`replicate()`, `transferLeadership()`, the values it
//! holds) takes from the core. The simulation checks them under faults (invariant 11).

use raftq_core::{Config, HardState, Message, Node, Output, Role, Version};

const HB: u64 = 10;
const EL: u64 = 100;

fn node(id: u64, peers: &[u64]) -> Node<u64> {
    let mut n = Node::new(id, Config::new(HB, EL, EL).expect("config"), id);
    for &p in peers {
        n.add_member(p, 0);
    }
    n.start(HardState::default(), 0);
    n.take_outputs();
    n
}

/// Complete every persist requested so far.
fn persist_all(n: &mut Node<u64>, now: u64) {
    let seq = n.status().persist_requested;
    n.persisted(seq, now);
}

fn ack(term: u64, latest: Version) -> Message {
    Message::AppendResponse {
        term,
        success: true,
        latest,
        round: 0,
    }
}

/// Node 1 of {1,2,3}, leader of term 1 at `EL`, its re-proposal (1,1) committed.
fn leader() -> Node<u64> {
    let mut n = node(1, &[2, 3]);
    n.tick(EL);
    let granted = |pre_vote| Message::VoteResponse {
        term: 1,
        pre_vote,
        granted: true,
    };
    n.step(2, granted(true), EL);
    persist_all(&mut n, EL);
    n.step(2, granted(false), EL);
    assert_eq!(n.role(), Role::Leader);
    persist_all(&mut n, EL);
    n.step(2, ack(1, Version::new(1, 1)), EL);
    assert_eq!(n.committed(), Version::new(1, 1));
    n.take_outputs();
    n
}

fn proposals(out: &[Output<u64>]) -> Vec<(Version, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Proposal {
                version, committed, ..
            } => Some((*version, *committed)),
            _ => None,
        })
        .collect()
}

fn transfers(out: &[Output<u64>]) -> Vec<bool> {
    out.iter()
        .filter_map(|o| match o {
            Output::TransferEnded { succeeded } => Some(*succeeded),
            _ => None,
        })
        .collect()
}

fn released(out: &[Output<u64>]) -> Vec<Version> {
    out.iter()
        .filter_map(|o| match o {
            Output::Released(v) => Some(*v),
            _ => None,
        })
        .collect()
}

#[test]
fn a_proposal_is_reported_committed_once_a_majority_holds_it() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader proposes");
    persist_all(&mut n, EL + 1);
    assert!(proposals(&n.take_outputs()).is_empty(), "one copy of three");
    n.step(3, ack(1, v), EL + 2);
    let out = n.take_outputs();
    assert_eq!(proposals(&out), vec![(v, true)]);
    // the committed one before it is released, exactly once
    assert_eq!(released(&out), vec![Version::new(1, 1)]);
    n.step(2, ack(1, v), EL + 3);
    assert!(proposals(&n.take_outputs()).is_empty(), "decided once");
}

#[test]
fn a_proposal_never_committed_is_reported_not_committed_after_an_election_timeout() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader proposes");
    persist_all(&mut n, EL + 1);
    n.tick(EL + 1 + EL - 1);
    assert!(proposals(&n.take_outputs()).is_empty());
    n.tick(EL + 1 + EL);
    assert_eq!(proposals(&n.take_outputs()), vec![(v, false)]);
}

#[test]
fn a_proposal_superseded_by_a_later_leader_is_reported_not_committed() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader proposes"); // (1,2), on no follower
    persist_all(&mut n, EL + 1);
    n.take_outputs();
    // node 2 won term 2 without it and committed its own (2,2) from (1,1)
    let w = Version::new(2, 2);
    n.step(
        2,
        Message::Append {
            term: 2,
            version: w,
            with_data: true,
            commit: w,
            transfer: false,
            round: 0,
        },
        EL + 5,
    );
    let out = n.take_outputs();
    assert_eq!(proposals(&out), vec![(v, false)]);
    assert!(released(&out).contains(&v), "the lost version is released");
}

#[test]
fn a_proposal_re_proposed_by_the_same_node_as_a_later_leader_is_reported_committed() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader proposes"); // (1,2)
    persist_all(&mut n, EL + 1);
    // node 2 leads term 2 with (1,2) as its latest and hands leadership back (TimeoutNow):
    // node 1 campaigns for term 3 at once and wins
    let t = EL + 5;
    n.step(
        2,
        Message::Append {
            term: 2,
            version: v,
            with_data: false,
            commit: Version::new(1, 1),
            transfer: true,
            round: 0,
        },
        t,
    );
    assert_eq!((n.role(), n.term()), (Role::Candidate, 3));
    persist_all(&mut n, t);
    n.step(
        2,
        Message::VoteResponse {
            term: 3,
            pre_vote: false,
            granted: true,
        },
        t,
    );
    assert_eq!((n.role(), n.term()), (Role::Leader, 3));
    persist_all(&mut n, t);
    assert!(proposals(&n.take_outputs()).is_empty());
    // its re-proposal (3,3) carries (1,2)'s value: committed, so (1,2) was
    n.step(2, ack(3, Version::new(3, 3)), t + 1);
    assert_eq!(proposals(&n.take_outputs()), vec![(v, true)]);
}

#[test]
fn a_transfer_succeeds_when_another_node_leads_and_fails_after_an_election_timeout() {
    let mut n = leader();
    assert_eq!(n.transfer_leadership(Some(2), EL + 1), Ok(2));
    n.take_outputs();
    // node 2 campaigns (TimeoutNow) and wins term 2
    n.step(
        2,
        Message::Append {
            term: 2,
            version: Version::new(2, 2),
            with_data: true,
            commit: Version::new(1, 1),
            transfer: false,
            round: 0,
        },
        EL + 3,
    );
    assert_eq!(transfers(&n.take_outputs()), vec![true]);

    let mut n = leader();
    assert_eq!(n.transfer_leadership(Some(3), EL + 1), Ok(3));
    n.take_outputs();
    n.tick(EL + 1 + EL - 1);
    assert!(transfers(&n.take_outputs()).is_empty());
    n.tick(EL + 1 + EL);
    assert_eq!(transfers(&n.take_outputs()), vec![false]);
}

#[test]
fn a_restart_ends_what_the_previous_run_promised() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader proposes");
    n.transfer_leadership(Some(2), EL + 1).ok();
    n.stop();
    assert!(n
        .take_outputs()
        .iter()
        .all(|o| !matches!(o, Output::Proposal { .. } | Output::TransferEnded { .. })));
    n.start(n.hard_state(), EL + 2);
    let out = n.take_outputs();
    assert_eq!(proposals(&out), vec![(v, false)]);
    assert_eq!(transfers(&out), vec![false]);
}
