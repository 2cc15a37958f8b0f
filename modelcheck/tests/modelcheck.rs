//! Exhaustive runs of the model (see the crate docs).
//!
//! - `bounded_run`: in `npm test`; `MODELCHECK_DEPTH=<n>` (from the fresh cluster) and
//!   `MODELCHECK_NEAR_DEPTH=<n>` (along the scripts) deepen it, `MODELCHECK_MEMBERSHIP_DEPTH=<n>`
//!   the membership runs (4 servers; about 10 times the states per action).
//! - `deep_run` (ignored):
//!   `cargo test --manifest-path modelcheck/Cargo.toml -- --ignored --nocapture deep_run`.
//! - `catches_*`: each broken rule of the core (`BrokenRule`) gives a counterexample, printed as
//!   a trace (`--nocapture`).

use raftq_core::BrokenRule;
use raftq_modelcheck::{
    elect_and_commit, elect_commit_and_add, prop, trace, Action, RaftModel, State,
};
use stateright::{Checker, HasDiscoveries, Model};
use std::time::Instant;

/// Memory: a run costs about 0.7 KB per state explored (the states of its last level wait in
/// the checker's queue whole); the machine is shared. `MODELCHECK_STATE_CAP` overrides it.
fn state_cap() -> usize {
    env_usize("MODELCHECK_STATE_CAP").unwrap_or(6_000_000)
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn threads() -> usize {
    env_usize("MODELCHECK_THREADS").unwrap_or(1)
}

/// stateright counts the initial state as depth 1 and skips (does not even check) states at
/// its target depth: paths of up to `actions` actions need a target of `actions + 2`.
fn target(actions: usize) -> usize {
    actions + 2
}

struct Run {
    states: usize,
    unique: usize,
    secs: f64,
}

/// Check every path of up to `depth` actions from each initial state of `model`; panics (with
/// the trace) on a counterexample to any safety property.
fn check_all(model: RaftModel, depth: usize, label: &str) -> Run {
    let t = Instant::now();
    let inits = model.init_states().len();
    let checker = model
        .clone()
        .checker()
        .threads(threads())
        .target_max_depth(target(depth))
        .target_state_count(state_cap())
        .spawn_bfs()
        .join();
    let run = Run {
        states: checker.state_count(),
        unique: checker.unique_state_count(),
        secs: t.elapsed().as_secs_f64(),
    };
    println!(
        "{label}: {inits} initial state(s), every path of up to {depth} actions from each: {} states explored, {} unique, {:.1} s",
        run.states, run.unique, run.secs
    );
    for name in prop::SAFETY {
        if let Some(path) = checker.discovery(name) {
            let full = model.full_path(path.into_vec());
            panic!(
                "{label}: counterexample to \"{name}\" ({} actions):\n{}",
                full.len() - 1,
                trace(&full)
            );
        }
    }
    assert!(
        run.states < state_cap(),
        "{label}: stopped at the state cap ({}): not exhaustive to depth {depth}",
        state_cap()
    );
    run
}

/// The five runs, with the rules intact: from the fresh cluster (every election of the first
/// terms, with pre-vote and check-quorum, duplicates, a restart and two proposals); within
/// `near` actions of every state of two scripted paths (an election and two commits; Figure 8
/// of the Raft paper, pre-vote and check-quorum off); and the membership runs, within
/// `member.depth` actions of every state (holding a configuration) of an election and two
/// commits with up to two of the app's acks reaching single nodes and a newcomer to add, then of
/// the newcomer's addition (learner catch-up, the change committed) with one more ack.
fn runs(fresh: usize, near: usize, member: Membership, label: &str) -> Vec<Run> {
    let mut out = Vec::new();
    out.push(check_all(
        RaftModel::default(),
        fresh,
        &format!("{label}, fresh cluster"),
    ));
    let m = RaftModel {
        script: elect_and_commit(true),
        ..RaftModel::default()
    };
    out.push(check_all(
        m,
        near,
        &format!("{label}, along elect_and_commit"),
    ));
    let m = RaftModel {
        pre_vote: false,
        check_quorum: false,
        max_term: 4,
        script: raftq_modelcheck::figure8(),
        ..RaftModel::default()
    };
    out.push(check_all(m, near, &format!("{label}, along figure8")));
    // membership: along elect_and_commit, up to 2 of the app's acks reach single nodes (node
    // 4 is a newcomer to add); then along the addition of node 4 that follows it in
    // elect_commit_and_add, one more ack (two runs: the memory of one run grows with its
    // states)
    let m = RaftModel {
        script: elect_and_commit(true),
        newcomer: true,
        max_intents: 2,
        duplicates: member.duplicates,
        ..RaftModel::default()
    };
    let skip = m.scripted_path().len();
    out.push(check_all(
        m.clone(),
        member.depth,
        &format!("{label}, along elect_and_commit, membership"),
    ));
    let m = RaftModel {
        script: elect_commit_and_add(),
        skip,
        ..m
    };
    out.push(check_all(
        m,
        member.depth,
        &format!("{label}, along elect_commit_and_add"),
    ));
    out
}

/// The membership runs: with 4 servers a state costs about 2.5 KB in the checker's queue, and
/// each action of depth multiplies the states by about 10 (`MODELCHECK_MEMBERSHIP_DEPTH`).
struct Membership {
    depth: usize,
    duplicates: bool,
}

fn total(label: &str, r: &[Run], t: Instant) {
    println!(
        "{label}: {} states explored, {} unique, {:.1} s",
        r.iter().map(|r| r.states).sum::<usize>(),
        r.iter().map(|r| r.unique).sum::<usize>(),
        t.elapsed().as_secs_f64()
    );
}

/// In `npm test` (about 30 s and 2.7 GB of memory here). `MODELCHECK_DEPTH` (fresh cluster),
/// `MODELCHECK_NEAR_DEPTH` (along the scripts) and `MODELCHECK_MEMBERSHIP_DEPTH` override the
/// depths.
#[test]
fn bounded_run() {
    let fresh = env_usize("MODELCHECK_DEPTH").unwrap_or(7);
    let near = env_usize("MODELCHECK_NEAR_DEPTH").unwrap_or(3);
    let t = Instant::now();
    let member = Membership {
        depth: env_usize("MODELCHECK_MEMBERSHIP_DEPTH").unwrap_or(3),
        duplicates: false,
    };
    let r = runs(fresh, near, member, "bounded run");
    total("bounded run", &r, t);
}

/// `cargo test --manifest-path modelcheck/Cargo.toml -- --ignored --nocapture deep_run` (about
/// 4 GB of memory, 80 s here; the same variables as `bounded_run`, deeper by default, and the
/// membership runs with duplicates).
#[test]
#[ignore]
fn deep_run() {
    let fresh = env_usize("MODELCHECK_DEPTH").unwrap_or(8);
    let near = env_usize("MODELCHECK_NEAR_DEPTH").unwrap_or(4);
    let t = Instant::now();
    let member = Membership {
        depth: env_usize("MODELCHECK_MEMBERSHIP_DEPTH").unwrap_or(3),
        duplicates: true,
    };
    let r = runs(fresh, near, member, "deep run");
    total("deep run", &r, t);
}

/// The fresh cluster elects a leader within the bound (the bound is not too small to matter),
/// and a proposal commits along the first script.
#[test]
fn a_leader_is_elected_and_a_value_commits() {
    let checker = RaftModel::default()
        .checker()
        .threads(threads())
        .target_max_depth(target(7))
        .finish_when(HasDiscoveries::AllOf(
            [prop::LEADER_ELECTED].into_iter().collect(),
        ))
        .spawn_bfs()
        .join();
    let path = checker
        .discovery(prop::LEADER_ELECTED)
        .expect("no leader within 7 actions of the fresh cluster")
        .into_vec();
    println!(
        "first leader after {} actions:\n{}",
        path.len() - 1,
        trace(&path)
    );
    let m = RaftModel {
        script: elect_and_commit(true),
        start_at_end: true,
        ..RaftModel::default()
    };
    let checker = m.checker().target_max_depth(target(0)).spawn_bfs().join();
    assert!(checker.discovery(prop::VALUE_COMMITTED).is_some());
}

/// The shortest counterexample to any safety property in `model`, by iterative deepening
/// (stateright's BFS keeps the last violation found in a block of states, not the first):
/// returns the property and the whole path (the scripted steps to the initial state it started
/// from, then what the checker found).
fn counterexample(
    model: RaftModel,
    max_depth: usize,
    label: &str,
) -> (&'static str, usize, Vec<(State, Option<Action>)>) {
    let t = Instant::now();
    let mut states = 0;
    for depth in 0..=max_depth {
        let checker = model
            .clone()
            .checker()
            .threads(threads())
            .target_max_depth(target(depth))
            .finish_when(HasDiscoveries::AnyFailures)
            .target_state_count(state_cap())
            .spawn_bfs()
            .join();
        states += checker.state_count();
        let unique = checker.unique_state_count();
        println!(
            "{label}: depth {depth}: {} states, {unique} unique, {:.1} s",
            checker.state_count(),
            t.elapsed().as_secs_f64()
        );
        assert!(
            checker.state_count() < state_cap(),
            "{label}: state cap reached at depth {depth}"
        );
        let found = prop::SAFETY
            .into_iter()
            .filter_map(|name| checker.discovery(name).map(|p| (name, p.into_vec())))
            .min_by_key(|(_, p)| p.len());
        let Some((name, path)) = found else {
            continue;
        };
        let found_len = path.len() - 1;
        let full = model.full_path(path);
        println!(
            "{label}: counterexample to \"{name}\": {} actions ({} scripted, then {found_len} found by the checker, none shorter; {states} states explored over depths 0..={depth}, {unique} unique at depth {depth}, {:.1} s)\n{}",
            full.len() - 1,
            full.len() - 1 - found_len,
            t.elapsed().as_secs_f64(),
            trace(&full)
        );
        return (name, found_len, full);
    }
    panic!(
        "{label}: no counterexample within {max_depth} actions ({states} states, {:.1} s)",
        t.elapsed().as_secs_f64()
    );
}

/// `model` (a rule broken) has a shortest counterexample, to one of `expected`; the same model
/// with the rule kept has none among all paths as long (the checker bites where the rule is
/// broken, and only there).
fn caught(model: RaftModel, max_depth: usize, label: &str, expected: &[&str]) {
    let (name, found, _) = counterexample(model.clone(), max_depth, label);
    assert!(expected.contains(&name), "{label}: {name}");
    let kept = RaftModel {
        broken: None,
        ..model
    };
    check_all(kept, found, &format!("{label} kept (control)"));
}

/// `rule` broken, starting where the script `elect_and_commit` ends.
fn broken(rule: BrokenRule, pre_vote: bool) -> RaftModel {
    RaftModel {
        broken: Some(rule),
        pre_vote,
        script: elect_and_commit(pre_vote),
        start_at_end: true,
        ..RaftModel::default()
    }
}

#[test]
fn catches_votes_for_out_of_date_candidates() {
    let m = RaftModel {
        check_quorum: false,
        duplicates: false,
        max_restarts: 0,
        ..broken(BrokenRule::UpToDateVote, false)
    };
    caught(m, 9, "UpToDateVote", &[prop::LEADER_COMPLETENESS]);
}

#[test]
fn catches_acks_before_persist() {
    // from the fresh cluster
    let m = RaftModel {
        broken: Some(BrokenRule::PersistBeforeAck),
        ..RaftModel::default()
    };
    caught(m, 8, "PersistBeforeAck", &[prop::PERSIST_BEFORE_ACK]);
}

#[test]
fn catches_commits_of_earlier_terms() {
    let m = RaftModel {
        broken: Some(BrokenRule::CommitCurrentTerm),
        pre_vote: false,
        check_quorum: false,
        duplicates: false,
        max_restarts: 0,
        max_term: 4,
        script: raftq_modelcheck::figure8(),
        start_at_end: true,
        ..RaftModel::default()
    };
    caught(m, 8, "CommitCurrentTerm", &[prop::LEADER_COMPLETENESS]);
}

#[test]
fn catches_what_acks_before_persist_lead_to() {
    // with the acknowledgements unchecked, what an early ack leads to: a leader counts an ack
    // whose version is not on the follower's disk and commits a version that a majority of
    // disks lacks (one crash from being lost)
    let m = RaftModel {
        check_acks: false,
        pre_vote: false,
        check_quorum: false,
        duplicates: false,
        ..broken(BrokenRule::PersistBeforeAck, false)
    };
    caught(
        m,
        8,
        "PersistBeforeAck, acks unchecked",
        &[
            prop::ELECTION_SAFETY,
            prop::LEADER_COMPLETENESS,
            prop::NEVER_LOST,
            prop::STATE_MACHINE_SAFETY,
        ],
    );
}

#[test]
fn catches_lost_proposals_reported_committed() {
    caught(
        broken(BrokenRule::ReportLostAsCommitted, true),
        8,
        "ReportLostAsCommitted",
        &[prop::OUTCOMES],
    );
}

/// `rule` broken, from where `elect_and_commit` ends, with up to `intents` of the app's
/// `ackNode` calls reaching single nodes.
fn broken_membership(rule: BrokenRule, intents: u8) -> RaftModel {
    RaftModel {
        max_intents: intents,
        duplicates: false,
        max_restarts: 0,
        ..broken(rule, true)
    }
}

#[test]
fn catches_quorums_over_local_acks() {
    caught(
        broken_membership(BrokenRule::LocalAckQuorum, 2),
        8,
        "LocalAckQuorum",
        &[
            prop::NEVER_LOST,
            prop::ELECTION_SAFETY,
            prop::LEADER_COMPLETENESS,
            prop::STATE_MACHINE_SAFETY,
            prop::CONFIGS,
        ],
    );
}

#[test]
fn catches_two_configuration_changes_in_flight() {
    caught(
        broken_membership(BrokenRule::TwoChangesInFlight, 2),
        8,
        "TwoChangesInFlight",
        &[prop::CONFIGS],
    );
}

/// The scripts end where their docs say (else the runs near them would check elsewhere).
#[test]
fn scripts_reach_their_end_states() {
    use raftq_core::{Role, Version};
    let m = RaftModel {
        script: elect_and_commit(true),
        ..RaftModel::default()
    };
    let path = m.scripted_path();
    let end = &path[path.len() - 1].0;
    assert_eq!(end.server(1).node.role(), Role::Leader);
    for n in [1, 2] {
        assert_eq!(end.server(n).node.committed(), Version::new(1, 2));
        assert_eq!(end.server(n).disk.latest, Version::new(1, 2));
    }
    assert_eq!(end.server(3).node.term(), 0);

    // the newcomer, node 4, is a voter: [1, 2, 3, 4] committed at (1,3) on nodes 1, 2 and 4
    let m = RaftModel {
        script: elect_commit_and_add(),
        newcomer: true,
        max_intents: 2,
        ..RaftModel::default()
    };
    let path = m.scripted_path();
    let end = &path[path.len() - 1].0;
    assert_eq!(end.server(1).node.role(), Role::Leader);
    let all = raftq_core::Voters::new([1, 2, 3, 4]);
    for n in [1, 2, 4] {
        assert_eq!(end.server(n).node.committed(), Version::new(1, 3));
        assert_eq!(end.server(n).node.committed_voters(), Some(&all));
        assert_eq!(end.server(n).disk.latest_voters.as_ref(), Some(&all));
    }
    assert_eq!(end.ghost.intents, 1);

    let m = RaftModel {
        broken: Some(BrokenRule::CommitCurrentTerm),
        pre_vote: false,
        check_quorum: false,
        max_term: 4,
        script: raftq_modelcheck::figure8(),
        ..RaftModel::default()
    };
    let path = m.scripted_path();
    let end = &path[path.len() - 1].0;
    let n1 = &end.server(1).node;
    assert_eq!((n1.role(), n1.term()), (Role::Leader, 3));
    // the broken rule: (1,1), of term 1, committed in term 3 on the copies of nodes 1 and 2
    assert_eq!(n1.committed(), Version::new(1, 1));
    assert_eq!(end.server(2).disk.latest, Version::new(1, 1));
    assert_eq!(end.server(3).node.latest(), Version::new(2, 1));
    // with the rule kept, node 1 re-proposes its latest in term 3 and commits that instead
    let m = RaftModel { broken: None, ..m };
    let path = m.scripted_path();
    let end = &path[path.len() - 1].0;
    assert_eq!(end.server(1).node.committed().term, 3);
}

/// Deeper from where `elect_and_commit` ends: up to two of the app's acks and every action
/// around them (`MODELCHECK_MEMBERSHIP_END_DEPTH`, 5: a removal, its commit and the next
/// change fit; 3.9 million states, 25 s and 7 GB of memory here).
/// `cargo test --manifest-path modelcheck/Cargo.toml -- --ignored --nocapture membership_from_the_end`
#[test]
#[ignore]
fn membership_from_the_end() {
    let depth = env_usize("MODELCHECK_MEMBERSHIP_END_DEPTH").unwrap_or(5);
    let m = RaftModel {
        script: elect_and_commit(true),
        start_at_end: true,
        newcomer: true,
        max_intents: 2,
        duplicates: false,
        ..RaftModel::default()
    };
    check_all(m, depth, "membership from the end of elect_and_commit");
}
