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
            Output::Send { to, msg, .. } => Some((*to, msg.clone())),
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

/// A failed append response: promises nothing, leaves at once.
fn refusal(term: u64, latest: Version) -> Message {
    Message::AppendResponse {
        term,
        success: false,
        latest,
        round: 0,
    }
}

fn ack(term: u64, latest: Version) -> Message {
    Message::AppendResponse {
        term,
        success: true,
        latest,
        round: 0,
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
        ..HardState::default()
    };
    let mut n = node_from(1, &[2, 3], state);
    // after the restart's vote fence (see s6_4_1_a_restarted_member_keeps_its_lease_promise)
    // same last term, shorter
    n.step(2, vote_req(4, Version::new(3, 4)), EL + 1);
    let out = settle(&mut n, EL + 1);
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
    n.step(3, vote_req(5, Version::new(2, 9)), EL + 2);
    let out = settle(&mut n, EL + 2);
    assert!(matches!(
        sends(&out)[..],
        [(3, Message::VoteResponse { granted: false, .. })]
    ));
    // newer last term wins even if shorter
    n.step(3, vote_req(6, Version::new(4, EL + 1)), EL + 3);
    let out = settle(&mut n, EL + 3);
    assert_eq!(sends(&out), vec![(3, granted(6))]);
}

#[test]
fn s5_4_1_pre_vote_also_checks_up_to_date_and_changes_nothing() {
    let state = HardState {
        term: 2,
        voted_for: Some(3),
        latest: Version::new(2, EL + 2),
        committed: Version::new(2, EL + 2),
        ..HardState::default()
    };
    let mut n = node_from(1, &[2, 3], state);
    // after the restart's vote fence (see s6_4_1_a_restarted_member_keeps_its_lease_promise)
    let pv = |last| Message::VoteRequest {
        term: 3,
        pre_vote: true,
        last,
        transfer: false,
    };
    n.step(2, pv(Version::new(2, EL + 1)), EL + 1);
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
    n.step(2, pv(Version::new(2, EL + 2)), EL + 1);
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
        ..HardState::default()
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
                transfer: false,
                round: 0,
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
        ..HardState::default()
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
        round: 0,
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
    assert!(sends(&out).is_empty(), "the ack waits for the data on disk");
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
            round: 0,
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
                latest: Version::ZERO,
                round: 0,
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
        round: 0,
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
            round: 0,
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
            transfer: true,
            round: 0,
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
            round: 0,
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
fn removing_members_is_no_local_shrink_of_the_quorum() {
    // thesis §4.1: a removal is a configuration change through the leader; an app's ack with
    // `time: 0` alone never lets a leader cut off from its peers commit by itself
    let mut l = leader_of_three();
    let v = l.propose(EL + 1).expect("propose");
    let out = l.take_outputs();
    let _ = flush_persist(&mut l, &out, EL + 1);
    assert!(l.committed() < v);
    l.remove_member(&3, EL + 2);
    l.remove_member(&2, EL + 2);
    let out = l.take_outputs();
    let _ = flush_persist(&mut l, &out, EL + 2);
    assert!(l.committed() < v, "two of three voters are still needed");
    assert_eq!(
        l.voters().len(),
        3,
        "nothing changes before the own-term commit"
    );
}

#[test]
fn raftq_1_0_0_state_restores_and_a_restart_keeps_the_vote() {
    let state = HardState {
        term: 3,
        voted_for: Some(2),
        latest: Version::ZERO,
        committed: Version::ZERO,
        ..HardState::default()
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

// ---- the boundary: members only, limits, flow control, held replies, failing disks ----

use raftq_core::{MAX_INDEX_STEP, MAX_TERM_STEP, MAX_VALUE, MAX_VOTE_TERM_STEP, NOT_A_MEMBER};

fn append(
    term: u64,
    version: Version,
    with_data: bool,
    commit: Version,
    transfer: bool,
) -> Message {
    Message::Append {
        term,
        version,
        with_data,
        commit,
        transfer,
        round: 0,
    }
}

/// `leader_of_three` with every persist requested so far completed (its re-proposal on disk).
fn settled_leader_of_three() -> Node<u64> {
    let mut n = leader_of_three();
    let requested = n.status().persist_requested;
    n.persisted(requested, EL);
    n.take_outputs();
    assert_eq!(n.status().persist_done, requested);
    n
}

/// Everything a message could change, to compare before and after: the node's state as
/// `getStatus()` shows it, with ages measured at one fixed time (an ignored message still tells
/// the node what time it is).
fn observable(n: &Node<u64>) -> String {
    format!("{:?}", n.status_at(1_000_000))
}

/// Node 2 of {1,2,3}, following leader 1 in term 1 and holding its version (1,1), committed.
fn follower_of_one() -> Node<u64> {
    let mut f = node(2, &[1, 3]);
    f.step(
        1,
        append(1, Version::new(1, 1), true, Version::new(1, 1), false),
        1,
    );
    settle(&mut f, 1);
    assert_eq!((f.leader(), f.committed()), (Some(&1), Version::new(1, 1)));
    f
}

#[test]
fn boundary_a_stranger_changes_nothing_and_gets_no_reply() {
    let forged = [
        append(9, Version::new(9, 7), true, Version::new(9, 7), false),
        append(1, Version::new(1, 2), true, Version::new(1, 2), true),
        vote_req(9, Version::new(9, 9)),
        Message::VoteRequest {
            term: 2,
            pre_vote: false,
            last: Version::new(1, 5),
            transfer: true,
        },
        granted(9),
        ack(9, Version::new(9, 9)),
    ];
    // on a follower and on a leader, the stranger 99 is ignored whatever it sends
    for mut n in [follower_of_one(), leader_of_three()] {
        for msg in &forged {
            let before = observable(&n);
            let outcome = n.step(99, msg.clone(), EL / 2);
            assert_eq!(outcome.ignored, Some(NOT_A_MEMBER), "{msg:?}");
            assert_eq!(outcome.accepted, None);
            assert!(n.take_outputs().is_empty(), "no reply, no persist: {msg:?}");
            assert_eq!(observable(&n), before, "{msg:?} changed the node");
        }
    }
}

#[test]
fn boundary_a_removed_member_is_a_stranger() {
    let mut f = follower_of_one();
    f.remove_member(&3, 2);
    f.take_outputs();
    let before = observable(&f);
    let out = f.step(3, vote_req(5, Version::new(1, 1)), EL * 3);
    assert_eq!(out.ignored, Some(NOT_A_MEMBER));
    assert!(f.take_outputs().is_empty());
    assert_eq!(observable(&f), before);
}

#[test]
fn s3_10_a_removed_leader_may_still_hand_over_in_its_term_and_nothing_else() {
    // the README demo's crash handler: the leader removes itself from the others, then
    // `serviceCrashed` sends the hand-off
    let mut f = follower_of_one();
    f.remove_member(&1, 5);
    f.take_outputs();
    assert_eq!(
        f.leader(),
        Some(&1),
        "the leader of the term is remembered: no second vote"
    );
    // a plain heartbeat from it is a stranger's
    let out = f.step(
        1,
        append(1, Version::new(1, 1), false, Version::new(1, 1), false),
        6,
    );
    assert_eq!(out.ignored, Some(NOT_A_MEMBER));
    assert!(f.take_outputs().is_empty());
    // its hand-off in its own term starts our campaign at once
    let out = f.step(
        1,
        append(1, Version::new(1, 1), false, Version::new(1, 1), true),
        7,
    );
    assert_eq!(out.ignored, None);
    assert_eq!((f.role(), f.term()), (Role::Candidate, 2));
    let out = settle(&mut f, 7);
    let reqs: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::VoteRequest { transfer: true, .. }))
        .collect();
    assert_eq!(
        reqs.len(),
        1,
        "a transfer campaign, to the remaining member only: {out:?}"
    );
    assert_eq!(reqs[0].0, 3);
}

#[test]
fn s3_10_a_removed_leaders_hand_off_of_another_term_is_ignored() {
    let mut f = follower_of_one();
    f.remove_member(&1, 5);
    f.step(3, vote_req(2, Version::new(1, 1)), EL * 2); // term 2 now
    f.take_outputs();
    assert_eq!(f.term(), 2);
    let before = observable(&f);
    let out = f.step(
        1,
        append(2, Version::new(1, 1), false, Version::new(1, 1), true),
        EL * 2 + 1,
    );
    assert_eq!(out.ignored, Some(NOT_A_MEMBER));
    assert_eq!(observable(&f), before);
}

#[test]
fn s4_2_3_a_transfer_flag_overrides_the_lease_only_one_term_ahead() {
    let mut f = follower_of_one(); // in lease with leader 1, term 1
    let transfer_req = |term| Message::VoteRequest {
        term,
        pre_vote: false,
        last: Version::new(1, 1),
        transfer: true,
    };
    let before = observable(&f);
    let out = f.step(3, transfer_req(5), 2);
    assert_eq!(out.ignored, Some("vote request while a leader is active"));
    assert!(f.take_outputs().is_empty());
    assert_eq!(
        observable(&f),
        before,
        "a flag alone does not depose the leader"
    );
    // the real hand-off campaign (term + 1) is granted despite the lease
    f.step(3, transfer_req(2), 3);
    let out = settle(&mut f, 3);
    assert_eq!(sends(&out), vec![(3, granted(2))]);
}

#[test]
fn boundary_terms_and_indexes_never_jump_out_of_reach() {
    let mut f = follower_of_one();
    let before = observable(&f);
    let far = 1 + MAX_TERM_STEP + 1;
    // an append beyond its step is dropped: nothing changes
    assert_eq!(
        f.step(
            3,
            append(far, Version::new(far, 2), true, Version::new(1, 1), false),
            EL * 2
        )
        .ignored,
        Some(raftq_core::TERM_TOO_FAR)
    );
    let far_index = 1 + MAX_INDEX_STEP + 1;
    let out = f.step(
        1,
        append(
            1,
            Version::new(1, far_index),
            true,
            Version::new(1, 1),
            false,
        ),
        2,
    );
    assert_eq!(out.ignored, Some(raftq_core::INDEX_TOO_FAR));
    assert!(f.take_outputs().is_empty());
    assert_eq!(observable(&f), before);
    // a vote request, vote response or append response beyond its step (a member cut off
    // for 2^16 election timeouts without pre-vote sends them) moves the term by that step, never
    // more, and grants nothing: the cluster reaches the lone node's term one step per message
    // (a pre-vote request from that far too: it is taken as a vote request one step ahead)
    for (i, msg) in [
        vote_req(MAX_VALUE, Version::new(MAX_VALUE, 1)),
        Message::VoteRequest {
            term: MAX_VALUE,
            pre_vote: true,
            last: Version::new(MAX_VALUE, 1),
            transfer: false,
        },
        granted(MAX_VALUE),
        ack(MAX_VALUE, Version::ZERO),
    ]
    .into_iter()
    .enumerate()
    {
        let t = f.term();
        f.step(3, msg, EL * 2 + i as u64);
        assert_eq!(f.term(), t + MAX_VOTE_TERM_STEP);
        assert_eq!((f.role(), f.voted_for()), (Role::Follower, None));
        let out = settle(&mut f, EL * 2 + i as u64);
        assert!(
            !sends(&out)
                .iter()
                .any(|(_, m)| matches!(m, Message::VoteResponse { granted: true, .. })),
            "no vote granted: {out:?}"
        );
    }
    assert_eq!(f.committed(), Version::new(1, 1));
    // the largest jumps allowed are taken: a vote request's, then a leader's append
    let near = f.term() + MAX_VOTE_TERM_STEP;
    f.step(3, vote_req(near, Version::new(1, 1)), EL * 3);
    assert_eq!(f.term(), near);
    let top = near + MAX_TERM_STEP;
    let v = Version::new(top, 2);
    f.step(
        1,
        append(top, v, true, Version::new(1, 1), false),
        EL * 3 + 1,
    );
    assert_eq!((f.term(), f.latest(), f.leader()), (top, v, Some(&1)));
}

#[test]
fn boundary_at_the_top_of_the_number_space_a_node_neither_campaigns_nor_proposes() {
    let top = HardState {
        term: MAX_VALUE,
        voted_for: None,
        latest: Version::new(3, 4),
        committed: Version::new(3, 4),
        ..HardState::default()
    };
    let mut n = node_from(1, &[2, 3], top);
    n.tick(EL);
    let out = n.take_outputs();
    assert!(
        sends(&out).is_empty(),
        "no (pre-)vote request for term 2^53: {out:?}"
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Log(l) if l.contains("exhausted"))));
    assert_eq!(n.term(), MAX_VALUE);
    // a leader whose next index would not fit refuses the proposal
    let full = HardState {
        term: 1,
        voted_for: None,
        latest: Version::new(1, MAX_VALUE),
        committed: Version::new(1, MAX_VALUE),
        ..HardState::default()
    };
    let mut n = node_from(1, &[], full);
    n.tick(EL);
    n.tick(EL);
    assert_eq!(n.role(), Role::Follower, "cannot re-propose at 2^53");
    assert_eq!(n.propose(EL + 1), Err(ProposeError::NotLeader));
}

#[test]
fn boundary_a_lone_leader_refuses_a_proposal_past_the_top() {
    let near_top = HardState {
        term: 0,
        voted_for: None,
        latest: Version::new(0, MAX_VALUE - 1),
        committed: Version::new(0, MAX_VALUE - 1),
        ..HardState::default()
    };
    let mut n = node_from(1, &[], near_top);
    n.tick(EL);
    settle(&mut n, EL);
    assert_eq!(n.role(), Role::Leader);
    assert_eq!(
        n.latest(),
        Version::new(1, MAX_VALUE),
        "re-proposal took the last index"
    );
    assert_eq!(n.propose(EL + 1), Err(ProposeError::Exhausted));
}

/// Leader 1 of {1,2,3}; follower 3 fails every append (it never receives the data). Returns the
/// times of the appends sent to 3 (and whether each carried data) over `ms` milliseconds, with 3
/// answering every append at once and 2 acking normally.
fn starved_follower_sends(ms: u64) -> Vec<(u64, bool)> {
    let mut n = settled_leader_of_three();
    let mut log = Vec::new();
    let mut now = EL;
    let mut inbox: Vec<(u64, Message)> = Vec::new();
    while now < EL + ms {
        n.tick(now);
        let out = settle(&mut n, now);
        inbox.extend(sends(&out));
        // deliver at once, answering as the followers would, until quiet (bounded)
        for _ in 0..10_000 {
            let Some((to, m)) = inbox.pop() else { break };
            if let Message::Append {
                term,
                version,
                with_data,
                ..
            } = m
            {
                if to == 3 {
                    log.push((now, with_data));
                    // 3 never gets the data: it answers with its old version, failing
                    n.step(
                        3,
                        Message::AppendResponse {
                            term,
                            success: false,
                            latest: Version::ZERO,
                            round: 0,
                        },
                        now,
                    );
                } else {
                    n.step(2, ack(term, version), now);
                }
                let out = settle(&mut n, now);
                inbox.extend(sends(&out));
            }
        }
        assert!(
            inbox.is_empty(),
            "the leader and its followers never went quiet at {now} ms"
        );
        now += 1;
    }
    log
}

#[test]
fn boundary_a_follower_that_never_receives_data_costs_a_bounded_rate() {
    let ms = 20 * EL;
    let log = starved_follower_sends(ms);
    // heartbeats (one per HB) plus at most one answer per HB to its failing responses
    let bound = 2 * (ms / HB) as usize + 2;
    assert!(!log.is_empty());
    assert!(
        log.len() <= bound,
        "{} appends to the starved follower in {ms} ms (bound {bound})",
        log.len()
    );
    // data resends back off: each gap at least as long as the one before, up to the cap
    let data: Vec<u64> = log.iter().filter(|(_, d)| *d).map(|(t, _)| *t).collect();
    assert!(data.len() >= 3, "data was resent: {data:?}");
    let gaps: Vec<u64> = data.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "no backoff: {gaps:?}"
    );
    assert!(gaps[gaps.len() - 1] > gaps[0], "no backoff: {gaps:?}");
    let cap = 8 * (EL / 2).max(HB) + HB;
    assert!(
        gaps.iter().all(|g| *g <= cap),
        "backoff over its cap: {gaps:?}"
    );
}

#[test]
fn boundary_a_claimed_version_beyond_the_leaders_is_not_counted() {
    let mut n = leader_of_three();
    let v = n.propose(EL + 1).expect("leader");
    settle(&mut n, EL + 1);
    let before = n.committed();
    let out = n.step(2, ack(1, Version::new(1, v.index + 5)), EL + 2);
    assert_eq!(
        out.ignored,
        Some("response claims a version the leader does not hold")
    );
    n.step(3, ack(1, Version::new(1, v.index + 9)), EL + 2);
    assert_eq!(
        n.committed(),
        before,
        "nothing committed on claims the leader cannot check"
    );
    n.step(2, ack(1, v), EL + 3);
    assert_eq!(n.committed(), v);
}

#[test]
fn fig2_held_replies_keep_only_the_newest_per_destination_and_channel() {
    let mut f = node(2, &[1, 3]);
    // the first data persist never completes (a hung disk)
    f.step(
        1,
        append(1, Version::new(1, 1), true, Version::ZERO, false),
        1,
    );
    let first = f.take_outputs();
    let (seq, _) = last_persist(&first).expect("data persisted");
    for t in 2..100_002u64 {
        f.step(
            1,
            append(1, Version::new(1, 1), false, Version::ZERO, false),
            t,
        );
    }
    // only refusals leave (one per heartbeat: they promise nothing); the acks wait
    let out = sends(&f.take_outputs());
    assert_eq!(out.len(), 100_000);
    assert!(out
        .iter()
        .all(|s| *s == (1, refusal(1, Version::new(1, 1)))));
    assert_eq!(f.status().held, 1, "one reply per (destination, channel)");
    f.persisted(seq, 100_003);
    let released = sends(&f.take_outputs());
    assert_eq!(released, vec![(1, ack(1, Version::new(1, 1)))]);
    assert_eq!(f.status().held, 0);
}

#[test]
fn fig2_held_replies_to_a_removed_member_are_dropped() {
    let mut f = node(2, &[1, 3]);
    f.step(3, vote_req(1, Version::ZERO), 1);
    let out = f.take_outputs();
    let (seq, _) = last_persist(&out).expect("vote persisted");
    assert_eq!(f.status().held, 1);
    f.remove_member(&3, 2);
    assert_eq!(f.status().held, 0);
    f.persisted(seq, 3);
    assert!(sends(&f.take_outputs()).is_empty());
}

#[test]
fn boundary_a_leader_that_cannot_persist_hands_leadership_over() {
    let mut n = settled_leader_of_three();
    let latest = n.latest();
    n.step(2, ack(1, latest), EL + 1);
    n.step(3, ack(1, Version::ZERO), EL + 1);
    n.take_outputs();
    // a proposal whose persist never completes
    n.propose(EL + 2).expect("leader");
    n.take_outputs();
    let mut t = EL + 2;
    while t < EL + 2 + EL - HB {
        t += HB;
        n.step(2, ack(1, n.latest()), t);
        n.step(3, ack(1, n.latest()), t);
        n.tick(t);
        n.take_outputs();
        assert_eq!(n.role(), Role::Leader, "still leading at {t} ms");
    }
    let mut out = Vec::new();
    while n.role() == Role::Leader && t < EL * 4 {
        t += HB;
        n.tick(t);
        out = n.take_outputs();
    }
    assert_eq!(n.role(), Role::Follower);
    assert!(
        t <= EL + 2 + EL + 2 * HB,
        "handed over after an election timeout: {t} ms"
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Log(l) if l.starts_with("leader cannot persist"))));
    let hand_off: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Append { transfer: true, .. }))
        .collect();
    assert_eq!(hand_off.len(), 1, "{out:?}");
}

#[test]
fn fig2_an_ack_waits_only_for_the_write_that_backs_it() {
    let mut f = follower_of_one();
    let v2 = Version::new(1, 2);
    // new data: its write (seq a) must complete before the ack
    f.step(1, append(1, v2, true, Version::new(1, 1), false), 10);
    let out = f.take_outputs();
    let (a, state) = last_persist(&out).expect("the new version is written");
    assert_eq!(state.latest, v2);
    assert!(
        sends(&out).is_empty(),
        "no ack before its version is on disk"
    );
    // the leader's commit point moves: another write (seq b) for the commit point
    f.step(1, append(1, v2, false, v2, false), 11);
    let out = f.take_outputs();
    let (b, state) = last_persist(&out).expect("the commit point is written");
    assert!(b > a);
    assert_eq!(state.committed, v2);
    // a heartbeat while the ack waits: a refusal says the follower is there and holds v2
    assert_eq!(sends(&out), vec![(1, refusal(1, v2))]);
    // the version's write completes: both acks of v2 leave, though the commit point's write
    // is still pending (a slow disk must not starve the leader's check-quorum)
    f.persisted(a, 12);
    assert_eq!(
        sends(&f.take_outputs()),
        vec![(1, ack(1, v2))],
        "newest per channel"
    );
    f.step(1, append(1, v2, false, v2, false), 13);
    assert_eq!(
        sends(&f.take_outputs()),
        vec![(1, ack(1, v2))],
        "a heartbeat's ack at once"
    );
    assert_eq!(
        f.status().persist_done,
        a,
        "the commit point's write still pending"
    );
    // a vote, though, waits for the write of the vote itself
    f.step(3, vote_req(2, v2), EL * 3);
    let out = f.take_outputs();
    let (c, state) = last_persist(&out).expect("the vote is written");
    assert_eq!((state.term, state.voted_for), (2, Some(3)));
    f.persisted(b, EL * 3 + 1);
    assert!(
        sends(&f.take_outputs()).is_empty(),
        "not released by an older write"
    );
    f.persisted(c, EL * 3 + 2);
    assert_eq!(sends(&f.take_outputs()), vec![(3, granted(2))]);
}

#[test]
fn s6_4_1_a_restarted_member_keeps_its_lease_promise() {
    // it may have renewed a leader's lease just before it crashed: for election_min after the
    // start it refuses to help depose one, as if it had just heard from it
    let state = HardState {
        term: 2,
        voted_for: None,
        latest: Version::new(2, 2),
        committed: Version::new(2, 2),
        ..HardState::default()
    };
    let mut n = node_from(1, &[2, 3], state.clone());
    n.step(2, vote_req(3, Version::new(2, 2)), EL - 1);
    assert!(sends(&settle(&mut n, EL - 1)).is_empty(), "ignored");
    assert_eq!(n.term(), 2);
    n.step(2, vote_req(3, Version::new(2, 2)), EL);
    assert_eq!(sends(&settle(&mut n, EL)), vec![(2, granted(3))]);
    // a fresh node (term 0) promised nothing: it votes at once
    let mut n = node_from(1, &[2, 3], HardState::default());
    n.step(2, vote_req(1, Version::ZERO), 1);
    assert_eq!(sends(&settle(&mut n, 1)), vec![(2, granted(1))]);
}
