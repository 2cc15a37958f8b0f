//! Paper-style tests of what issue 8 asks of the core: leadership confirmation (ReadIndex,
//! thesis §6.4), the leader's lease and a paused leader (§6.4.1, §6.2), per-member progress,
//! proposal outcomes with a reason and a timeout, metrics, and the `pre_vote` / `check_quorum`
//! options. Election timeouts are fixed (min == max) so times are exact.

use raftq_core::{
    Channel, Config, ConfirmError, HardState, Message, Node, Output, ProposalFailure, Role, Version,
};

const HB: u64 = 10;
const EL: u64 = 100;

fn cfg() -> Config {
    Config::new(HB, EL, EL).expect("valid config")
}

fn node_with(id: u64, peers: &[u64], config: Config) -> Node<u64> {
    let mut n = Node::new(id, config, id);
    for &p in peers {
        n.add_member(p, 0);
    }
    n.start(HardState::default(), 0);
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

fn confirmed(out: &[Output<u64>]) -> Vec<(u64, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Confirmed { id, confirmed } => Some((*id, *confirmed)),
            _ => None,
        })
        .collect()
}

fn proposals(out: &[Output<u64>]) -> Vec<(Version, bool, Option<ProposalFailure>, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Proposal {
                version,
                committed,
                failure,
                latency_ms,
            } => Some((*version, *committed, *failure, *latency_ms)),
            _ => None,
        })
        .collect()
}

/// The rounds the appends in `out` carry, per destination.
fn rounds(out: &[Output<u64>]) -> Vec<(u64, u64)> {
    sends(out)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Message::Append { round, .. } => Some((to, round)),
            _ => None,
        })
        .collect()
}

fn persist_all(n: &mut Node<u64>, now: u64) -> Vec<Output<u64>> {
    let seq = n.status().persist_requested;
    n.persisted(seq, now);
    n.take_outputs()
}

fn pre_granted(term: u64) -> Message {
    Message::VoteResponse {
        term,
        pre_vote: true,
        granted: true,
    }
}

fn granted(term: u64) -> Message {
    Message::VoteResponse {
        term,
        pre_vote: false,
        granted: true,
    }
}

fn response(term: u64, success: bool, latest: Version, round: u64) -> Message {
    Message::AppendResponse {
        term,
        success,
        latest,
        round,
    }
}

/// Node 1 of {1, 2, 3} (config `c`), leader of term 1 at time `EL`, every persist done,
/// outputs drained.
fn leader_with(c: Config) -> Node<u64> {
    let mut n = node_with(1, &[2, 3], c.clone());
    n.tick(EL);
    n.take_outputs();
    if c.pre_vote {
        n.step(2, pre_granted(1), EL);
        n.take_outputs();
    }
    persist_all(&mut n, EL);
    n.step(2, granted(1), EL);
    n.take_outputs();
    persist_all(&mut n, EL);
    assert_eq!(n.role(), Role::Leader);
    n
}

fn leader() -> Node<u64> {
    leader_with(cfg())
}

// ---- confirmation rounds (ReadIndex) ----

#[test]
fn s6_4_a_lone_leader_confirms_at_once() {
    let mut n = node_with(1, &[], cfg());
    n.tick(EL);
    n.take_outputs();
    persist_all(&mut n, EL);
    assert_eq!(n.role(), Role::Leader);
    let id = n.confirm_leadership(EL + 1).expect("leader");
    assert_eq!(confirmed(&n.take_outputs()), vec![(id, true)]);
}

#[test]
fn s6_4_confirmation_sends_a_round_at_once_and_needs_a_majority_echoing_it() {
    let mut n = leader();
    let latest = n.latest();
    let id = n.confirm_leadership(EL + 1).expect("leader");
    let out = n.take_outputs();
    assert_eq!(
        rounds(&out),
        vec![(2, 1), (3, 1)],
        "round 1 to every member at once, not at the next heartbeat"
    );
    assert!(confirmed(&out).is_empty());
    // a response in flight since before the request echoes no round: it does not count
    n.step(2, response(1, true, latest, 0), EL + 2);
    assert!(confirmed(&n.take_outputs()).is_empty());
    // nor does an echo of an older round (there is none older here: 0 is "none")
    n.step(2, response(1, true, latest, 1), EL + 3);
    assert_eq!(
        confirmed(&n.take_outputs()),
        vec![(id, true)],
        "2 of 3 (the leader and node 2) echoed round 1"
    );
    // once nothing is pending, heartbeats carry a new round each (for the lease) with
    // check-quorum, none without it
    n.tick(EL + 3 + HB);
    let out = n.take_outputs();
    assert_eq!(rounds(&out), vec![(2, 2), (3, 2)], "{out:?}");
    let mut c = cfg();
    c.check_quorum = false;
    let mut n = leader_with(c);
    n.confirm_leadership(EL + 1).expect("leader");
    n.take_outputs();
    n.step(2, response(1, true, latest, 1), EL + 3);
    n.tick(EL + 3 + HB);
    let out = n.take_outputs();
    assert!(!rounds(&out).is_empty());
    assert!(rounds(&out).iter().all(|&(_, r)| r == 0), "{out:?}");
}

#[test]
fn s6_4_requests_of_one_input_share_one_round_and_a_later_request_needs_a_later_round() {
    let mut n = leader();
    let latest = n.latest();
    let a = n.confirm_leadership(EL + 1).expect("leader");
    let b = n.confirm_leadership(EL + 1).expect("leader");
    assert_ne!(a, b);
    let out = n.take_outputs();
    assert_eq!(rounds(&out), vec![(2, 1), (3, 1)], "one round for both");
    let c = n.confirm_leadership(EL + 2).expect("leader");
    assert_eq!(rounds(&n.take_outputs()), vec![(2, 2), (3, 2)]);
    // the echo of round 1 answers the first two only
    n.step(3, response(1, true, latest, 1), EL + 3);
    assert_eq!(confirmed(&n.take_outputs()), vec![(a, true), (b, true)]);
    n.step(3, response(1, true, latest, 2), EL + 4);
    assert_eq!(confirmed(&n.take_outputs()), vec![(c, true)]);
    assert_eq!(n.metrics().confirmations_true, 3);
}

#[test]
fn s6_4_an_echo_of_a_round_never_sent_is_ignored() {
    let mut n = leader();
    let latest = n.latest();
    n.confirm_leadership(EL + 1).expect("leader");
    n.take_outputs();
    let o = n.step(2, response(1, true, latest, 7), EL + 2);
    assert_eq!(
        o.ignored,
        Some("response echoes a round the leader never sent")
    );
    assert!(confirmed(&n.take_outputs()).is_empty());
}

#[test]
fn s6_4_a_follower_echoes_the_highest_round_of_its_leader_only_when_asked() {
    let mut f = node_with(2, &[1, 3], cfg());
    let append = |round| Message::Append {
        term: 1,
        version: Version::ZERO,
        with_data: false,
        commit: Version::ZERO,
        transfer: false,
        round,
    };
    let echo = |out: &[Output<u64>]| -> Vec<u64> {
        sends(out)
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::AppendResponse { round, .. } => Some(round),
                _ => None,
            })
            .collect()
    };
    f.step(1, append(3), 1);
    assert_eq!(echo(&f.take_outputs()), vec![3]);
    // a reordered older round: still the highest seen
    f.step(1, append(2), 2);
    assert_eq!(echo(&f.take_outputs()), vec![3]);
    // a heartbeat without a round gets a response without one (heartbeats stay small)
    f.step(1, append(0), 3);
    assert_eq!(echo(&f.take_outputs()), vec![0]);
    // a new term's leader starts over
    let mut m = append(1);
    if let Message::Append { term, version, .. } = &mut m {
        *term = 2;
        *version = Version::ZERO;
    }
    f.step(3, m, 4);
    assert_eq!(echo(&f.take_outputs()), vec![1]);
}

#[test]
fn s6_4_confirmation_fails_when_deposed_or_after_an_election_timeout() {
    let mut n = leader();
    let a = n.confirm_leadership(EL + 1).expect("leader");
    n.take_outputs();
    // node 2 answers only what it got before the request (its echo of the round is lost):
    // enough for check-quorum, not for the confirmation
    n.step(2, response(1, true, n.latest(), 0), EL + 2);
    n.tick(EL + 1 + EL - 1);
    assert_eq!(n.role(), Role::Leader);
    assert!(confirmed(&n.take_outputs()).is_empty());
    n.tick(EL + 1 + EL);
    assert_eq!(confirmed(&n.take_outputs()), vec![(a, false)]);

    let mut n = leader();
    let b = n.confirm_leadership(EL + 1).expect("leader");
    n.take_outputs();
    // a newer term: deposed, the request fails at once
    n.step(3, response(2, false, Version::ZERO, 0), EL + 2);
    assert_eq!(confirmed(&n.take_outputs()), vec![(b, false)]);
    assert_eq!(n.role(), Role::Follower);
    assert_eq!(n.confirm_leadership(EL + 3), Err(ConfirmError::NotLeader));

    let mut n = leader();
    let c = n.confirm_leadership(EL + 1).expect("leader");
    n.stop();
    assert_eq!(confirmed(&n.take_outputs()), vec![(c, false)]);
    assert_eq!(n.confirm_leadership(EL + 2), Err(ConfirmError::NotStarted));
    assert_eq!(n.metrics().confirmations_false, 1);
}

// ---- the lease, and a paused leader ----

#[test]
fn s6_4_1_lease_counts_from_when_the_echoed_round_was_sent_less_the_drift_margin() {
    let mut n = leader();
    let latest = n.latest();
    assert!(!n.status_at(EL).lease_valid, "nobody answered yet");
    // the first heartbeat goes out at EL + HB with round 1
    n.tick(EL + HB);
    assert_eq!(rounds(&n.take_outputs()), vec![(2, 1), (3, 1)]);
    // an answer that echoes no round proves nothing about when it was sent
    n.step(2, response(1, true, latest, 0), EL + HB + 1);
    assert!(!n.status_at(EL + HB + 1).lease_valid);
    // the echo arrives 40 ms after the round went out: the lease counts from the sending
    n.step(2, response(1, true, latest, 1), EL + HB + 40);
    assert!(n.status_at(EL + HB + 40).lease_valid);
    let lease = EL - EL * raftq_core::LEASE_DRIFT_PERCENT / 100;
    assert!(n.status_at(EL + HB + lease - 1).lease_valid);
    assert!(
        !n.status_at(EL + HB + lease).lease_valid,
        "ends election_min (less the drift margin) after the round was sent, not after the echo"
    );
    // a follower knows how long ago its leader spoke
    let mut f = node_with(2, &[1, 3], cfg());
    assert_eq!(f.status_at(5).last_leader_contact, None, "never heard");
    f.step(
        1,
        Message::Append {
            term: 1,
            version: Version::ZERO,
            with_data: false,
            commit: Version::ZERO,
            transfer: false,
            round: 0,
        },
        10,
    );
    assert_eq!(f.status_at(45).last_leader_contact, Some(35));
    assert!(!f.status_at(45).lease_valid, "only a leader has a lease");
}

#[test]
fn s6_4_1_a_paused_leader_loses_its_lease_ignores_stale_responses_and_steps_down() {
    let mut n = leader();
    let latest = n.latest();
    n.tick(EL + HB);
    n.take_outputs();
    n.step(2, response(1, true, latest, 1), EL + HB + 5);
    n.step(3, response(1, true, latest, 1), EL + HB + 6);
    n.take_outputs();
    assert!(n.status_at(EL + HB + 6).lease_valid);
    // SIGSTOP for 10 s: the first thing the process sees after is a response that waited in a
    // socket all along
    let resumed = EL + 10_000;
    assert!(
        !n.status_at(resumed).lease_valid,
        "expired before any input"
    );
    n.step(2, response(1, true, latest, 1), resumed);
    let out = n.take_outputs();
    assert!(
        !n.status_at(resumed).lease_valid,
        "a response from before the pause does not renew the lease"
    );
    assert_eq!(n.metrics().pauses_detected, 1);
    // it sent a new round at once, and a confirmation now waits for an echo of it or later
    assert_eq!(rounds(&out), vec![(2, 2), (3, 2)]);
    let id = n.confirm_leadership(resumed).expect("still leader");
    n.take_outputs();
    n.step(3, response(1, true, latest, 0), resumed + 1);
    assert!(confirmed(&n.take_outputs()).is_empty());
    // its first timer check: nobody answered after the pause, so it steps down
    n.tick(resumed + 2);
    let out = n.take_outputs();
    assert_eq!(n.role(), Role::Follower);
    assert_eq!(confirmed(&out), vec![(id, false)]);
}

#[test]
fn s6_4_1_a_paused_leader_that_hears_a_majority_again_keeps_leading() {
    let mut n = leader();
    let latest = n.latest();
    let resumed = EL + 10_000;
    n.tick(resumed);
    // the pause was noticed by the tick itself: it stepped down at once (no one answered
    // within the check-quorum period)
    assert_eq!(n.role(), Role::Follower);

    let mut n = leader();
    n.tick(EL + HB);
    n.take_outputs();
    n.step(2, response(1, true, latest, 1), EL + HB + 1);
    n.take_outputs();
    // paused, and the first input is a response to the fence round
    n.step(2, response(1, true, latest, 0), resumed);
    let out = n.take_outputs();
    let fence = rounds(&out)[0].1;
    n.step(2, response(1, true, latest, fence), resumed + 3);
    assert!(
        n.status_at(resumed + 3).lease_valid,
        "node 2 answered after the pause"
    );
    n.tick(resumed + 4);
    assert_eq!(n.role(), Role::Leader, "heard a majority after the pause");
    // and the fence is lifted: heartbeats carry the lease's rounds only (one new per beat)
    n.tick(resumed + 4 + HB);
    assert_eq!(
        rounds(&n.take_outputs()),
        vec![(2, fence + 1), (3, fence + 1)]
    );
}

// ---- options ----

#[test]
fn options_check_quorum_off_no_step_down_no_lease_but_confirmation_works() {
    let mut c = cfg();
    c.check_quorum = false;
    let mut n = leader_with(c);
    let latest = n.latest();
    n.step(2, response(1, true, latest, 0), EL + 1);
    assert!(
        !n.status_at(EL + 1).lease_valid,
        "no lease without check-quorum"
    );
    for t in (EL + HB..5 * EL).step_by(HB as usize) {
        n.tick(t);
    }
    assert_eq!(n.role(), Role::Leader, "nobody answered, yet it stays");
    let id = n.confirm_leadership(5 * EL).expect("leader");
    n.take_outputs();
    n.step(2, response(1, true, latest, 1), 5 * EL + 1);
    assert_eq!(confirmed(&n.take_outputs()), vec![(id, true)]);
}

#[test]
fn options_pre_vote_off_campaigns_at_once_with_a_real_vote_request() {
    let mut c = cfg();
    c.pre_vote = false;
    let mut n = node_with(1, &[2, 3], c);
    n.tick(EL);
    let out = n.take_outputs();
    assert_eq!(n.term(), 1);
    assert_eq!(n.role(), Role::Candidate);
    persist_all(&mut n, EL);
    let reqs: Vec<_> = sends(&out)
        .into_iter()
        .chain(sends(&n.take_outputs()))
        .filter(|(_, m)| matches!(m, Message::VoteRequest { .. }))
        .collect();
    assert!(reqs.iter().all(|(_, m)| matches!(
        m,
        Message::VoteRequest {
            pre_vote: false,
            term: 1,
            ..
        }
    )));
    assert_eq!(n.metrics().pre_votes_started, 0);
    assert_eq!(n.metrics().elections_started, 1);
}

// ---- per-member progress ----

#[test]
fn progress_shows_each_members_match_contact_reachability_and_lag() {
    let mut n = leader();
    let latest = n.latest();
    n.step(2, response(1, true, latest, 0), EL + 2);
    n.take_outputs();
    let s = n.status_at(EL + 12);
    assert_eq!(
        s.committed, latest,
        "node 2's ack committed the re-proposal"
    );
    let p2 = &s.progress[0];
    let p3 = &s.progress[1];
    assert_eq!((p2.id, p3.id), (2, 3));
    assert_eq!(p2.match_version, Some(latest));
    assert_eq!(p2.last_contact, Some(10));
    assert!(p2.reachable && !p2.lagging);
    assert_eq!(p3.match_version, None);
    assert_eq!(p3.last_contact, None);
    assert!(!p3.reachable && p3.lagging);
    // a partitioned follower's contact age grows, and it becomes unreachable
    let s = n.status_at(EL + 2 + EL);
    assert_eq!(s.progress[0].last_contact, Some(EL));
    assert!(!s.progress[0].reachable);
    // only the leader reports progress
    let f = node_with(2, &[1, 3], cfg());
    assert!(f.status().progress.is_empty());
}

// ---- proposal outcomes ----

#[test]
fn proposals_time_out_with_their_own_timeout_and_report_the_latency() {
    let mut n = leader();
    let v = n.propose_with_timeout(EL + 1, 30).expect("leader");
    n.take_outputs();
    persist_all(&mut n, EL + 2);
    n.tick(EL + 30);
    assert!(proposals(&n.take_outputs()).is_empty());
    n.tick(EL + 31);
    assert_eq!(
        proposals(&n.take_outputs()),
        vec![(v, false, Some(ProposalFailure::TimedOut), 30)]
    );
    // it may still commit: the commit point says so later
    let c = Version::new(1, v.index);
    assert_eq!(v.fate_under(c), Some(true));
    assert_eq!(n.metrics().proposals_timed_out, 1);
}

#[test]
fn proposals_committed_report_latency_and_superseded_ones_say_so() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader");
    n.take_outputs();
    persist_all(&mut n, EL + 2);
    n.step(2, response(1, true, v, 0), EL + 8);
    assert_eq!(proposals(&n.take_outputs()), vec![(v, true, None, 7)]);
    assert_eq!(n.metrics().proposals_committed, 1);
    assert_eq!(n.metrics().commit_latency_ms_total, 7);

    // a proposal on a minority, then a newer leader commits its own data beyond it
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader");
    n.take_outputs();
    let newer = Version::new(2, v.index + 1);
    n.step(
        3,
        Message::Append {
            term: 2,
            version: newer,
            with_data: true,
            commit: newer,
            transfer: false,
            round: 0,
        },
        EL + 5,
    );
    assert_eq!(
        proposals(&n.take_outputs()),
        vec![(v, false, Some(ProposalFailure::Superseded), 4)]
    );
    assert_eq!(v.fate_under(newer), Some(false));
}

#[test]
fn proposals_pending_at_a_restart_end_as_stopped() {
    let mut n = leader();
    let v = n.propose(EL + 1).expect("leader");
    n.take_outputs();
    n.start(HardState::default(), EL + 3);
    assert_eq!(
        proposals(&n.take_outputs()),
        vec![(v, false, Some(ProposalFailure::Stopped), 2)]
    );
}

// ---- metrics ----

#[test]
fn metrics_count_elections_messages_and_rejections() {
    let mut n = leader();
    let m = n.metrics().clone();
    assert_eq!(m.pre_votes_started, 1);
    assert_eq!(m.elections_started, 1);
    assert_eq!(m.elections_won, 1);
    assert_eq!(m.leader_changes, 1);
    assert_eq!(m.messages_in(Channel::VoteResponse), 2);
    // 2 pre-votes, 2 vote requests, 2 appends on election
    assert_eq!(m.messages_out(Channel::VoteRequest), 4);
    assert_eq!(m.messages_out(Channel::SyncData), 2);
    let o = n.step(9, response(1, true, Version::ZERO, 0), EL + 1);
    assert_eq!(o.ignored, Some(raftq_core::NOT_A_MEMBER));
    let o = n.step(2, response(0, true, Version::ZERO, 0), EL + 2);
    assert_eq!(o.ignored, Some("stale response"));
    let m = n.metrics();
    assert_eq!(m.messages_in(Channel::DataResponse), 2);
    assert_eq!(m.rejected.get(raftq_core::NOT_A_MEMBER), Some(&1));
    assert_eq!(m.rejected.get("stale response"), Some(&1));
}

// ---- issue 15: the lease cannot outlive the followers' promise; reads (ReadIndex) ----

/// Take `n`'s outputs, completing every persist it asks for at `now`; the messages it sends.
fn settle(n: &mut Node<u64>, now: u64) -> Vec<(u64, Message)> {
    let mut out = sends(&n.take_outputs());
    loop {
        let s = n.status();
        if s.persist_done >= s.persist_requested {
            return out;
        }
        n.persisted(s.persist_requested, now);
        out.extend(sends(&n.take_outputs()));
    }
}

/// Deliver `queue` (from, to, msg) at `now`, and what it causes, at once, except what `drop`
/// says is lost. Nodes are `nodes[id - 1]`.
fn deliver(
    nodes: &mut [Node<u64>],
    mut queue: Vec<(u64, u64, Message)>,
    now: u64,
    drop: impl Fn(u64, u64) -> bool,
) {
    while !queue.is_empty() {
        let mut next = Vec::new();
        for (from, to, msg) in queue {
            if drop(from, to) {
                continue;
            }
            let n = &mut nodes[(to - 1) as usize];
            n.step(from, msg, now);
            next.extend(settle(n, now).into_iter().map(|(t, m)| (to, t, m)));
        }
        queue = next;
    }
}

fn from(id: u64, out: Vec<(u64, Message)>) -> Vec<(u64, u64, Message)> {
    out.into_iter().map(|(to, m)| (id, to, m)).collect()
}

#[test]
fn s6_4_1_no_deposed_leader_holds_a_lease_while_a_newer_leader_leads() {
    // issue 15 item 5: node 1 leads term 1; its heartbeat of T0 reaches 2 and 3 at T0 + 1;
    // 2's answer takes 80 ms to come back, 3's is lost, then 1 is cut off. 2 promised not to
    // help depose 1 until T0 + 1 + EL (election_min after it heard 1); 3 times out then and
    // wins term 2 with 2's vote. Counted from the answer's arrival, 1's lease would last
    // until T0 + 81 + EL: 80 ms beside a newer leader.
    let mut nodes: Vec<Node<u64>> = (1..=3)
        .map(|id| {
            let peers: Vec<u64> = (1..=3).filter(|&p| p != id).collect();
            node_with(id, &peers, cfg())
        })
        .collect();
    nodes[0].tick(EL);
    let out = from(1, settle(&mut nodes[0], EL));
    deliver(&mut nodes, out, EL, |_, _| false);
    assert_eq!(nodes[0].role(), Role::Leader);
    assert_eq!(nodes[0].committed().term, 1, "committed in its term");

    let t0 = EL + HB;
    nodes[0].tick(t0);
    let beats = settle(&mut nodes[0], t0);
    assert!(rounds(
        &beats
            .iter()
            .map(|(to, m)| Output::Send {
                to: *to,
                msg: m.clone(),
                voters: None,
            })
            .collect::<Vec<_>>()
    )
    .iter()
    .all(|&(_, r)| r > 0));
    let mut answer = Vec::new();
    for (to, m) in beats {
        let n = &mut nodes[(to - 1) as usize];
        n.step(1, m, t0 + 1);
        let replies = settle(n, t0 + 1);
        if to == 2 {
            answer = replies;
        }
    }
    assert_eq!(answer.len(), 1, "2 answers the heartbeat");
    // 80 ms late
    let (_, reply) = answer.remove(0);
    nodes[0].step(2, reply, t0 + 81);
    nodes[0].take_outputs();

    // 3 times out when 2's promise ends, and wins with 2 (1 is cut off)
    let t3 = t0 + 1 + EL;
    nodes[2].tick(t3);
    let out = from(3, settle(&mut nodes[2], t3));
    deliver(&mut nodes, out, t3, |a, b| a == 1 || b == 1);
    assert_eq!(
        (nodes[2].role(), nodes[2].term()),
        (Role::Leader, 2),
        "3 leads term 2 at T0 + 1 + EL"
    );
    assert_eq!(nodes[0].role(), Role::Leader, "1 does not know yet");
    for t in t0 + 1..t3 + EL {
        let valid = nodes[0].status_at(t).lease_valid;
        if t >= t3 {
            assert!(!valid, "node 1 reports a lease at {t} while 3 leads term 2");
        }
    }
    // it had one, counted from the heartbeat's sending, less the drift margin
    let lease = EL - EL * raftq_core::LEASE_DRIFT_PERCENT / 100;
    assert!(nodes[0].status_at(t0 + 81).lease_valid);
    assert!(!nodes[0].status_at(t0 + lease).lease_valid);
    // and a lease read there is no read: it waits for a round, which fails
    let id = nodes[0]
        .read_index(t3, true)
        .expect("still thinks it leads");
    assert!(reads(&nodes[0].take_outputs()).is_empty());
    nodes[0].tick(t3 + EL);
    assert_eq!(
        reads(&nodes[0].take_outputs()),
        vec![(id, Err(raftq_core::ReadFailure::TimedOut))]
    );
}

/// The reads decided in `out`: the version answered, or why not.
fn reads(out: &[Output<u64>]) -> Vec<(u64, Result<Version, raftq_core::ReadFailure>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::ReadReady { id, version } => Some((*id, Ok(*version))),
            Output::ReadFailed { id, failure } => Some((*id, Err(*failure))),
            _ => None,
        })
        .collect()
}

#[test]
fn s6_4_read_index_waits_for_a_round_sent_after_the_request_and_answers_the_commit_point() {
    let mut n = leader();
    // commit the new term's version: 2 acknowledges it
    let latest = n.latest();
    n.step(2, response(1, true, latest, 0), EL + 1);
    n.take_outputs();
    assert_eq!(n.committed(), latest);
    // a proposal in flight: read() must not answer it (a dirty read) until it commits
    let v = n.propose(EL + 2).expect("leader");
    n.take_outputs();
    persist_all(&mut n, EL + 2);
    let id = n.read_index(EL + 3, false).expect("leader");
    let out = n.take_outputs();
    assert!(reads(&out).is_empty());
    let r = rounds(&out);
    assert!(!r.is_empty(), "a round goes out at once");
    let round = r[0].1;
    // an answer echoing an older round does not confirm
    n.step(3, response(1, false, latest, round - 1), EL + 4);
    assert!(reads(&n.take_outputs()).is_empty());
    n.step(3, response(1, false, latest, round), EL + 5);
    assert_eq!(
        reads(&n.take_outputs()),
        vec![(id, Ok(latest))],
        "the commit point, not the proposal {v:?}"
    );
    // once the proposal commits, a read answers it
    n.step(2, response(1, true, v, round), EL + 6);
    n.take_outputs();
    let id = n.read_index(EL + 7, false).expect("leader");
    n.take_outputs();
    n.step(2, response(1, true, v, round + 1), EL + 8);
    assert_eq!(reads(&n.take_outputs()), vec![(id, Ok(v))]);
}

#[test]
fn s6_4_read_index_waits_for_a_commit_of_the_leaders_own_term() {
    let mut n = leader();
    let latest = n.latest();
    assert_ne!(n.committed().term, 1, "nothing of term 1 committed yet");
    let id = n.read_index(EL + 1, false).expect("leader");
    let round = rounds(&n.take_outputs())[0].1;
    // confirmed, but the commit point may lag the cluster's: it waits
    n.step(2, response(1, false, Version::ZERO, round), EL + 2);
    assert!(reads(&n.take_outputs()).is_empty());
    n.step(2, response(1, true, latest, round), EL + 3);
    assert_eq!(reads(&n.take_outputs()), vec![(id, Ok(latest))]);
}

#[test]
fn s6_4_read_index_fails_when_not_leader_deposed_stopped_or_late() {
    let mut f = node_with(2, &[1, 3], cfg());
    assert_eq!(f.read_index(1, false), Err(ConfirmError::NotLeader));
    let mut n = leader();
    let a = n.read_index(EL + 1, false).expect("leader");
    n.take_outputs();
    n.step(2, response(2, false, Version::ZERO, 0), EL + 2);
    assert_eq!(
        reads(&n.take_outputs()),
        vec![(a, Err(raftq_core::ReadFailure::NotLeader))]
    );
    let mut n = leader();
    let b = n.read_index(EL + 1, false).expect("leader");
    n.stop();
    assert_eq!(
        reads(&n.take_outputs()),
        vec![(b, Err(raftq_core::ReadFailure::Stopped))]
    );
    assert_eq!(n.read_index(EL + 2, false), Err(ConfirmError::NotStarted));
    let mut n = leader();
    let c = n.read_index(EL + 1, false).expect("leader");
    n.take_outputs();
    n.tick(EL + 1 + EL);
    assert!(reads(&n.take_outputs()).contains(&(c, Err(raftq_core::ReadFailure::TimedOut))));
}

#[test]
fn s6_4_1_a_lease_read_answers_at_once_only_while_the_lease_holds() {
    let mut n = leader();
    let latest = n.latest();
    n.tick(EL + HB);
    let round = rounds(&n.take_outputs())[0].1;
    n.step(2, response(1, true, latest, round), EL + HB + 1);
    n.take_outputs();
    assert!(n.status_at(EL + HB + 2).lease_valid);
    let id = n.read_index(EL + HB + 2, true).expect("leader");
    assert_eq!(reads(&n.take_outputs()), vec![(id, Ok(latest))], "no round");
    // after the lease: a round like any read
    let late = EL + HB + EL;
    let id = n.read_index(late, true).expect("leader");
    let out = n.take_outputs();
    assert!(reads(&out).is_empty());
    assert!(!rounds(&out).is_empty());
    // a transfer ends the lease for the rest of the term
    let mut n = leader();
    n.tick(EL + HB);
    let round = rounds(&n.take_outputs())[0].1;
    n.step(2, response(1, true, latest, round), EL + HB + 1);
    n.step(3, response(1, true, latest, round), EL + HB + 1);
    n.take_outputs();
    n.transfer_leadership(Some(2), EL + HB + 2).expect("leader");
    n.take_outputs();
    assert!(!n.status_at(EL + HB + 3).lease_valid);
    let _ = id;
}
