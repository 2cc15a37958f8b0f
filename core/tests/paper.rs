//! Small exact tests named after the rules of the Raft paper (Figure 2, §5) and of Ongaro's
//! thesis (§3.10 transfer, §4.2.3 lease, §6.2 check-quorum, §9.6 pre-vote): inputs in,
//! expected outputs and state out. Election timeouts are fixed (min == max) so times are exact.

use raftq_core::{Config, HardState, Message, Node, Output, ProposeError, Role, Version};

const HB: u64 = 10;
const EL: u64 = 100;

fn cfg() -> Config {
    Config::new(HB, EL, EL).expect("valid config")
}

/// A started node `id` whose members are `peers`.
fn node(id: u64, peers: &[u64]) -> Node<u64> {
    node_from(id, peers, HardState::default())
}

fn node_from(id: u64, peers: &[u64], state: HardState<u64>) -> Node<u64> {
    let mut n = Node::new(id, cfg(), id);
    for &p in peers {
        n.add_member(p, 0);
    }
    n.start(state, 0);
    n.take_outputs();
    n
}

fn sends(out: &[Output<u64>]) -> Vec<(u64, Message)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn last_persist(out: &[Output<u64>]) -> Option<(u64, HardState<u64>)> {
    out.iter().rev().find_map(|o| match o {
        Output::Persist { seq, state } => Some((*seq, state.clone())),
        _ => None,
    })
}

/// Complete every persist requested so far; returns the outputs released.
fn flush_persist(n: &mut Node<u64>, out: &[Output<u64>], now: u64) -> Vec<Output<u64>> {
    if let Some((seq, _)) = last_persist(out) {
        n.persisted(seq, now);
    }
    n.take_outputs()
}

/// Take the outputs, complete their persists, and return everything (released sends included).
fn settle(n: &mut Node<u64>, now: u64) -> Vec<Output<u64>> {
    let out = n.take_outputs();
    let released = flush_persist(n, &out, now);
    [out, released].concat()
}

fn vote_req(term: u64, last: Version) -> Message {
    Message::VoteRequest {
        term,
        pre_vote: false,
        last,
        transfer: false,
    }
}

fn granted(term: u64) -> Message {
    Message::VoteResponse {
        term,
        pre_vote: false,
        granted: true,
    }
}

fn pre_granted(term: u64) -> Message {
    Message::VoteResponse {
        term,
        pre_vote: true,
        granted: true,
    }
}

fn ack(term: u64, latest: Version) -> Message {
    Message::AppendResponse {
        term,
        success: true,
        latest,
    }
}

/// Node 1 of {1,2,3} elected leader of term 1 at time `EL`; outputs drained.
fn leader_of_three() -> Node<u64> {
    let mut n = node(1, &[2, 3]);
    n.tick(EL);
    n.take_outputs();
    n.step(2, pre_granted(1), EL);
    let out = n.take_outputs();
    let out = [out, flush_persist(&mut n, &[], EL)].concat();
    let _ = flush_persist(&mut n, &out, EL);
    n.step(2, granted(1), EL);
    n.take_outputs();
    assert_eq!(n.role(), Role::Leader);
    n
}

#[test]
fn s9_6_election_timeout_starts_a_pre_vote_without_raising_the_term() {
    let mut n = node(1, &[2, 3]);
    n.tick(EL - 1);
    assert!(n.take_outputs().is_empty(), "nothing before the timeout");
    n.tick(EL);
    let out = n.take_outputs();
    let s = sends(&out);
    assert_eq!(s.len(), 2);
    for (_, m) in &s {
        assert_eq!(
            *m,
            Message::VoteRequest {
                term: 1,
                pre_vote: true,
                last: Version::ZERO,
                transfer: false
            }
        );
    }
    assert_eq!(n.term(), 0, "pre-vote never raises the term");
    assert!(
        last_persist(&out).is_none(),
        "nothing to persist for a pre-vote"
    );
    assert!(n.is_pre_candidate());
}

#[test]
fn s5_2_pre_vote_majority_starts_election_and_requests_wait_for_the_persisted_vote() {
    let mut n = node(1, &[2, 3]);
    n.tick(EL);
    n.take_outputs();
    n.step(2, pre_granted(1), EL + 1);
    let out = n.take_outputs();
    assert_eq!(n.term(), 1);
    assert_eq!(n.role(), Role::Candidate);
    assert_eq!(n.voted_for(), Some(&1));
    let (_, state) = last_persist(&out).expect("term and vote persisted");
    assert_eq!((state.term, state.voted_for), (1, Some(1)));
    assert!(
        sends(&out).is_empty(),
        "vote requests wait for our own vote on disk"
    );
    let released = flush_persist(&mut n, &out, EL + 2);
    let s = sends(&released);
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|(_, m)| *m == vote_req(1, Version::ZERO)));
}

#[test]
fn s5_2_one_vote_per_term_first_come_first_served() {
    let mut n = node(1, &[2, 3]);
    n.step(2, vote_req(1, Version::ZERO), 1);
    let out = settle(&mut n, 1);
    assert_eq!(sends(&out), vec![(2, granted(1))]);
    n.step(3, vote_req(1, Version::ZERO), 2);
    let out = n.take_outputs();
    assert_eq!(
        sends(&out),
        vec![(
            3,
            Message::VoteResponse {
                term: 1,
                pre_vote: false,
                granted: false
            }
        )]
    );
    // the same candidate asking again (a duplicate) gets the same answer
    n.step(2, vote_req(1, Version::ZERO), 3);
    assert_eq!(sends(&n.take_outputs()), vec![(2, granted(1))]);
}

#[test]
fn fig2_a_vote_grant_leaves_only_after_the_vote_is_persisted() {
    let mut n = node(1, &[2, 3]);
    n.step(2, vote_req(4, Version::ZERO), 1);
    let out = n.take_outputs();
    let (seq, state) = last_persist(&out).expect("vote persisted");
    assert_eq!((state.term, state.voted_for), (4, Some(2)));
    assert!(
        sends(&out).is_empty(),
        "no grant before the persist completed"
    );
    n.persisted(seq, 2);
    assert_eq!(sends(&n.take_outputs()), vec![(2, granted(4))]);
}

#[test]
fn s5_4_1_vote_denied_to_a_candidate_with_older_data() {
    let state = HardState {
        term: 3,
        voted_for: None,
        latest: Version::new(3, 5),
        committed: Version::new(3, 5),
    };
    let mut n = node_from(1, &[2, 3], state);
    // same last term, shorter
    n.step(2, vote_req(4, Version::new(3, 4)), 1);
    let out = settle(&mut n, 1);
    assert!(matches!(
        sends(&out)[..],
        [(
            2,
            Message::VoteResponse {
                granted: false,
                term: 4,
                ..
            }
        )]
    ));
    // older last term, longer
    n.step(3, vote_req(5, Version::new(2, 9)), 2);
    let out = settle(&mut n, 2);
    assert!(matches!(
        sends(&out)[..],
        [(3, Message::VoteResponse { granted: false, .. })]
    ));
    // newer last term wins even if shorter
    n.step(3, vote_req(6, Version::new(4, 1)), 3);
    let out = settle(&mut n, 3);
    assert_eq!(sends(&out), vec![(3, granted(6))]);
}

#[test]
fn s5_4_1_pre_vote_also_checks_up_to_date_and_changes_nothing() {
    let state = HardState {
        term: 2,
        voted_for: Some(3),
        latest: Version::new(2, 2),
        committed: Version::new(2, 2),
    };
    let mut n = node_from(1, &[2, 3], state);
    let pv = |last| Message::VoteRequest {
        term: 3,
        pre_vote: true,
        last,
        transfer: false,
    };
    n.step(2, pv(Version::new(2, 1)), 1);
    let out = n.take_outputs();
    assert!(matches!(
        sends(&out)[..],
        [(
            2,
            Message::VoteResponse {
                granted: false,
                pre_vote: true,
                term: 2
            }
        )]
    ));
    n.step(2, pv(Version::new(2, 2)), 1);
    let out = n.take_outputs();
    assert!(matches!(
        sends(&out)[..],
        [(
            2,
            Message::VoteResponse {
                granted: true,
                pre_vote: true,
                term: 3
            }
        )]
    ));
    assert!(last_persist(&out).is_none());
    assert_eq!((n.term(), n.voted_for()), (2, Some(&3)), "state untouched");
}

#[test]
fn s5_4_2_new_leader_reproposes_its_latest_data_in_its_own_term_and_sends_it_at_once() {
    let state = HardState {
        term: 0,
        voted_for: None,
        latest: Version::new(0, 0),
        committed: Version::new(0, 0),
    };
    let mut n = node_from(1, &[2, 3], state);
    n.tick(EL);
    n.step(2, pre_granted(1), EL);
    let out = n.take_outputs();
    let _ = flush_persist(&mut n, &out, EL);
    n.step(3, granted(1), EL);
    let out = n.take_outputs();
    assert_eq!(n.role(), Role::Leader);
    assert!(out.contains(&Output::Alias {
        version: Version::new(1, 1),
        copy_of: Version::ZERO
    }));
    assert_eq!(n.latest(), Version::new(1, 1));
    let s = sends(&out);
    assert_eq!(s.len(), 2, "appends to both followers at once");
    for (_, m) in s {
        assert_eq!(
            m,
            Message::Append {
                term: 1,
                version: Version::new(1, 1),
                with_data: true,
                commit: Version::ZERO,
                transfer: false
            }
        );
    }
}

#[test]
fn s5_3_commit_needs_a_majority_of_persisted_copies_including_the_leaders_own() {
    let mut n = leader_of_three();
    let v = n.propose(EL + 1).expect("leader proposes");
    assert_eq!(v, Version::new(1, 2));
    let out = n.take_outputs();
    assert_eq!(
        sends(&out).len(),
        2,
        "sent at once, not at the next heartbeat"
    );
    // a follower acks, but the leader's own copy is not on disk yet: no commit
    n.step(2, ack(1, v), EL + 2);
    assert!(n.committed() < v);
    assert!(!n
        .take_outputs()
        .iter()
        .any(|o| matches!(o, Output::Committed(_))));
    let out = flush_persist(&mut n, &out, EL + 3);
    assert!(out.contains(&Output::Committed(v)));
    assert_eq!(n.committed(), v);
    // the commit point goes out at once, to both followers
    let s = sends(&out);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s
        .iter()
        .all(|(_, m)| matches!(m, Message::Append { commit, .. } if *commit == v)));
}

#[test]
fn s5_4_2_leader_never_commits_an_older_term_version_by_counting_replicas() {
    let state = HardState {
        term: 1,
        voted_for: None,
        latest: Version::new(1, 1),
        committed: Version::ZERO,
    };
    let mut n = node_from(1, &[2, 3], state);
    n.tick(EL);
    n.step(2, pre_granted(2), EL);
    let out = n.take_outputs();
    let _ = flush_persist(&mut n, &out, EL);
    n.step(2, granted(2), EL);
    let out = n.take_outputs();
    let _ = flush_persist(&mut n, &out, EL);
    assert_eq!(n.role(), Role::Leader);
    // both followers claim the old-term version (1,1); it must not commit by counting
    n.step(2, ack(2, Version::new(1, 1)), EL + 1);
    n.step(3, ack(2, Version::new(1, 1)), EL + 1);
    assert_eq!(n.committed(), Version::ZERO);
    // the re-proposed version of term 2 commits it
    n.step(2, ack(2, Version::new(2, 2)), EL + 2);
    assert_eq!(n.committed(), Version::new(2, 2));
}

#[test]
fn s5_3_heartbeats_carry_data_only_to_a_follower_lacking_the_latest_version() {
    let mut n = leader_of_three();
    let latest = n.latest();
    n.step(2, ack(1, latest), EL + 1);
    n.take_outputs();
    n.tick(EL + HB);
    let s = sends(&n.take_outputs());
    let to2 = s.iter().find(|(to, _)| *to == 2).expect("heartbeat to 2");
    let to3 = s.iter().find(|(to, _)| *to == 3).expect("heartbeat to 3");
    assert!(matches!(
        to2.1,
        Message::Append {
            with_data: false,
            ..
        }
    ));
    // 3 never acked; its data is still in flight (sent at EL), so not resent yet
    assert!(matches!(
        to3.1,
        Message::Append {
            with_data: false,
            ..
        }
    ));
    // once the in-flight window passed, a heartbeat resends the data to 3 only
    n.tick(EL + EL / 2 + 1);
    let s = sends(&n.take_outputs());
    assert!(s.iter().any(|(to, m)| *to == 3
        && matches!(
            m,
            Message::Append {
                with_data: true,
                ..
            }
        )));
    let to2: Vec<_> = s.iter().filter(|(to, _)| *to == 2).collect();
    assert_eq!(to2.len(), 1, "one heartbeat to 2: {s:?}");
    assert!(matches!(
        to2[0].1,
        Message::Append {
            with_data: false,
            ..
        }
    ));
}

#[test]
fn s5_3_lagging_follower_receives_only_the_newest_version() {
    let mut f = node(2, &[1, 3]);
    let append = |version, with_data, commit| Message::Append {
        term: 1,
        version,
        with_data,
        commit,
        transfer: false,
    };
    // the follower missed (1,2)..(1,4); the leader sends (1,5) alone
    let o = f.step(1, append(Version::new(1, 5), true, Version::new(1, 4)), 1);
    assert_eq!(o.accepted, Some(Version::new(1, 5)));
    assert_eq!(f.latest(), Version::new(1, 5));
    assert_eq!(
        f.committed(),
        Version::ZERO,
        "(1,4) is not held: nothing to show yet"
    );
    let out = f.take_outputs();
    assert!(sends(&out).is_empty(), "ack waits for the data on disk");
    let out = flush_persist(&mut f, &out, 2);
    assert_eq!(sends(&out), vec![(1, ack(1, Version::new(1, 5)))]);
    // a heartbeat with commit (1,5) commits it
    let o = f.step(1, append(Version::new(1, 5), false, Version::new(1, 5)), 3);
    assert_eq!(o.accepted, None);
    assert_eq!(f.committed(), Version::new(1, 5));
    assert_eq!(f.visible(), Version::new(1, 5));
    assert_eq!(
        f.live_versions().collect::<Vec<_>>(),
        vec![Version::new(1, 5)]
    );
}

#[test]
fn fig2_follower_rejects_an_append_of_an_older_term_and_reports_its_term() {
    let state = HardState {
        term: 5,
        voted_for: None,
        ..HardState::default()
    };
    let mut f = node_from(2, &[1, 3], state);
    let o = f.step(
        1,
        Message::Append {
            term: 4,
            version: Version::new(4, 1),
            with_data: true,
            commit: Version::ZERO,
            transfer: false,
        },
        1,
    );
    assert_eq!(o.accepted, None);
    assert!(o.ignored.is_some());
    assert_eq!(
        sends(&f.take_outputs()),
        vec![(
            1,
            Message::AppendResponse {
                term: 5,
                success: false,
                latest: Version::ZERO
            }
        )]
    );
    assert_eq!(f.latest(), Version::ZERO);
}

#[test]
fn committed_data_never_goes_backwards_on_a_follower() {
    let mut f = node(2, &[1, 3]);
    let append = |version, commit| Message::Append {
        term: 1,
        version,
        with_data: true,
        commit,
        transfer: false,
    };
    f.step(1, append(Version::new(1, 1), Version::ZERO), 1);
    f.step(1, append(Version::new(1, 2), Version::new(1, 2)), 2);
    assert_eq!(f.committed(), Version::new(1, 2));
    // a delayed, older message
    f.step(1, append(Version::new(1, 1), Version::new(1, 1)), 3);
    assert_eq!(f.committed(), Version::new(1, 2));
    assert_eq!(f.latest(), Version::new(1, 2));
}

#[test]
fn s6_2_check_quorum_leader_without_a_majority_steps_down() {
    let mut n = leader_of_three();
    n.step(2, ack(1, n.latest()), EL + 10);
    n.tick(2 * EL);
    assert_eq!(
        n.role(),
        Role::Leader,
        "heard from 2: a majority with itself"
    );
    n.tick(3 * EL);
    assert_eq!(
        n.role(),
        Role::Follower,
        "heard from nobody for an election timeout"
    );
    assert_eq!(n.leader(), None);
}

#[test]
fn s4_2_3_follower_in_leader_lease_ignores_votes_that_would_depose_its_leader() {
    let mut f = node(2, &[1, 3]);
    f.step(
        1,
        Message::Append {
            term: 1,
            version: Version::new(1, 1),
            with_data: true,
            commit: Version::ZERO,
            transfer: false,
        },
        10,
    );
    f.take_outputs();
    let o = f.step(3, vote_req(2, Version::new(1, 1)), 20);
    assert!(o.ignored.is_some());
    assert!(f.take_outputs().is_empty());
    assert_eq!(f.term(), 1, "term not raised by the rejoining node");
    // after the lease, the vote is considered
    f.step(3, vote_req(2, Version::new(1, 1)), 10 + EL + 1);
    assert_eq!(f.term(), 2);
}

#[test]
fn s9_6_partitioned_node_rejoining_does_not_disrupt_the_leader() {
    let mut lone = node(3, &[1, 2]);
    // partitioned: its timeouts fire again and again, its term never moves
    for k in 1..=5 {
        lone.tick(k * EL);
    }
    let out = lone.take_outputs();
    assert_eq!(lone.term(), 0);
    let s = sends(&out);
    assert_eq!(s.len(), 10, "a pre-vote to both peers per timeout: {s:?}");
    assert!(s.iter().all(|(_, m)| matches!(
        m,
        Message::VoteRequest {
            pre_vote: true,
            term: 1,
            ..
        }
    )));
    // the leader of a healthy cluster does not grant its pre-vote, and keeps its term
    let mut leader = leader_of_three();
    let o = leader.step(
        3,
        Message::VoteRequest {
            term: 1,
            pre_vote: true,
            last: Version::ZERO,
            transfer: false,
        },
        EL + 1,
    );
    assert_eq!(o.ignored, None);
    let s = sends(&leader.take_outputs());
    assert_eq!(s.len(), 1, "one refusal: {s:?}");
    assert!(matches!(
        s[0],
        (
            3,
            Message::VoteResponse {
                granted: false,
                pre_vote: true,
                ..
            }
        )
    ));
    // even one asking for a term beyond the leader's is ignored while the leader leads
    let o = leader.step(
        3,
        Message::VoteRequest {
            term: 2,
            pre_vote: true,
            last: Version::ZERO,
            transfer: false,
        },
        EL + 2,
    );
    assert!(o.ignored.is_some());
    assert!(sends(&leader.take_outputs()).is_empty());
    assert_eq!(leader.role(), Role::Leader);
    assert_eq!(leader.term(), 1);
}

#[test]
fn s3_10_leadership_transfer_brings_the_target_up_to_date_and_it_campaigns_at_once() {
    let mut l = leader_of_three();
    let latest = l.latest();
    assert_eq!(l.transfer_leadership(Some(2), EL + 1), Ok(2));
    let s = sends(&l.take_outputs());
    let (_, msg) = s
        .iter()
        .find(|(to, _)| *to == 2)
        .expect("TimeoutNow to 2")
        .clone();
    assert_eq!(
        msg,
        Message::Append {
            term: 1,
            version: latest,
            with_data: true,
            commit: Version::ZERO,
            transfer: true
        }
    );
    assert_eq!(l.propose(EL + 1), Err(ProposeError::Transferring));
    // the target, even inside its lease, campaigns at once (no pre-vote)
    let mut t = node(2, &[1, 3]);
    t.step(1, msg, EL + 2);
    let out = t.take_outputs();
    assert_eq!(t.role(), Role::Candidate);
    assert_eq!(t.term(), 2);
    let out = flush_persist(&mut t, &out, EL + 3);
    let reqs: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::VoteRequest { .. }))
        .collect();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|(_, m)| matches!(
        m,
        Message::VoteRequest {
            term: 2,
            pre_vote: false,
            transfer: true,
            ..
        }
    )));
    // a voter in its lease still votes for a transfer campaign
    let mut v = node(3, &[1, 2]);
    v.step(
        1,
        Message::Append {
            term: 1,
            version: latest,
            with_data: true,
            commit: Version::ZERO,
            transfer: false,
        },
        EL + 2,
    );
    let out = v.take_outputs();
    let _ = flush_persist(&mut v, &out, EL + 2);
    let (_, req) = reqs[0].clone();
    v.step(2, req, EL + 4);
    let out = settle(&mut v, EL + 4);
    assert_eq!(sends(&out), vec![(2, granted(2))]);
}

#[test]
fn service_crashed_leader_hands_off_and_does_not_stand_again_for_an_election_timeout() {
    let mut l = leader_of_three();
    l.step(3, ack(1, l.latest()), EL + 1);
    l.take_outputs();
    l.crashed(EL + 2);
    let out = l.take_outputs();
    assert_eq!(l.role(), Role::Follower);
    assert_eq!(l.voted_for(), Some(&1), "the vote of this term is kept");
    assert!(last_persist(&out).is_some(), "state persisted on crash");
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert!(matches!(
        s[0],
        (
            3,
            Message::Append {
                transfer: true,
                with_data: false,
                ..
            }
        )
    ));
    // no campaign before an election timeout has passed
    l.tick(EL + 2 + EL - 1);
    assert!(sends(&l.take_outputs()).is_empty());
    assert_eq!(l.term(), 1);
    l.tick(EL + 2 + EL);
    assert!(
        l.is_pre_candidate(),
        "then it may stand again (through pre-vote)"
    );
}

#[test]
fn lone_node_becomes_leader_after_its_election_timeout() {
    let mut n = node(1, &[]);
    n.tick(EL - 1);
    assert_eq!(n.role(), Role::Follower);
    n.tick(EL);
    let out = n.take_outputs();
    assert_eq!(n.role(), Role::Candidate, "self-vote not yet on disk");
    let _ = flush_persist(&mut n, &out, EL);
    assert_eq!(n.role(), Role::Leader);
    let v = n.propose(EL + 1).expect("propose");
    let out = n.take_outputs();
    let out = flush_persist(&mut n, &out, EL + 1);
    assert!(out.contains(&Output::Committed(v)));
}

#[test]
fn votes_and_acks_from_non_members_are_ignored() {
    let mut n = node(1, &[2, 3]);
    n.tick(EL);
    n.take_outputs();
    let o = n.step(9, pre_granted(1), EL);
    assert!(o.ignored.is_some());
    assert!(n.is_pre_candidate());
    assert_eq!(n.term(), 0);
    let mut l = leader_of_three();
    let v = l.propose(EL + 1).expect("propose");
    let out = l.take_outputs();
    let _ = flush_persist(&mut l, &out, EL + 1);
    l.step(9, ack(1, v), EL + 2);
    assert!(l.committed() < v);
}

#[test]
fn removing_a_member_shrinks_the_quorum() {
    let mut l = leader_of_three();
    let v = l.propose(EL + 1).expect("propose");
    let out = l.take_outputs();
    let _ = flush_persist(&mut l, &out, EL + 1);
    assert!(l.committed() < v);
    l.remove_member(&3, EL + 2);
    l.remove_member(&2, EL + 2);
    assert_eq!(
        l.committed(),
        v,
        "alone, its own persisted copy is a majority"
    );
}

#[test]
fn raftq_1_0_0_state_restores_and_a_restart_keeps_the_vote() {
    let state = HardState {
        term: 3,
        voted_for: Some(2),
        latest: Version::ZERO,
        committed: Version::ZERO,
    };
    let mut n = node_from(1, &[2, 3], state.clone());
    assert_eq!((n.term(), n.voted_for()), (3, Some(&2)));
    n.step(3, vote_req(3, Version::ZERO), 1);
    let out = settle(&mut n, 1);
    assert!(matches!(
        sends(&out)[..],
        [(3, Message::VoteResponse { granted: false, .. })]
    ));
    // a second serviceStarted restarts cleanly from what is given
    n.start(state, 5);
    assert_eq!(n.role(), Role::Follower);
    assert_eq!(n.hard_state().voted_for, Some(2));
}

#[test]
fn a_stopped_node_ignores_everything_and_has_no_deadline() {
    let mut n = node(1, &[2, 3]);
    n.stop();
    assert_eq!(n.next_deadline(), None);
    let o = n.step(2, vote_req(9, Version::ZERO), 1);
    assert!(o.ignored.is_some());
    n.tick(10_000);
    assert!(n.take_outputs().is_empty());
    assert_eq!(n.term(), 0);
}

#[test]
fn s6_2_a_member_added_to_a_lone_leader_gets_a_round_before_check_quorum_counts_it() {
    let mut n = node(1, &[]);
    n.tick(EL);
    let _ = settle(&mut n, EL);
    assert_eq!(n.role(), Role::Leader);
    // the new member has not started yet: it cannot answer before the next check
    n.add_member(2, EL + 90);
    n.tick(2 * EL);
    assert_eq!(
        n.role(),
        Role::Leader,
        "not deposed by a member that just joined"
    );
    n.tick(3 * EL);
    assert_eq!(
        n.role(),
        Role::Follower,
        "a silent member does count after a full round"
    );
}
