//! Deterministic fault-injecting simulation of raftq-core (see `sim/mod.rs`).
//!
//! `cargo test -p raftq-core --test simulation -- --nocapture` prints a summary per test (the
//! test profile: optimised, with overflow checks and debug assertions).
//! Environment:
//! - `RAFTQ_SIM_SEEDS` (default 10000), `RAFTQ_SIM_STEPS` (default 2000 per seed)
//! - `RAFTQ_SIM_FIRST_SEED`: first seed; alone it reproduces just that seed
//! - `RAFTQ_SIM_SOAK=1`: 1,000,000 seeds
//! - `RAFTQ_SIM_TRACE=1`: print every event (use with one seed)
//! - `RAFTQ_SIM_SHOW` (default 10): how many violations to print
//! - `RAFTQ_SIM_HUGE_TERMS=0`: confused members' vote requests stay within 1,000 terms of the
//!   target's, instead of reaching up to 2^53 - 1
//! - `RAFTQ_SIM_BROKEN_SEEDS` (default 5000): bound of the broken-rule searches
//! - `RAFTQ_SIM_BROKEN=<BrokenRule>` runs the main test with that rule off; with it,
//!   `RAFTQ_SIM_LIVENESS=0` skips the liveness phase, `RAFTQ_SIM_CHECK_ACKS=0` invariants 5 and
//!   10 and `RAFTQ_SIM_CHECK_RATE=0` invariant 8 (as the broken-rule tests do), e.g. to trace
//!   the seed a broken-rule test reported:
//!   `RAFTQ_SIM_BROKEN=CommitCurrentTerm RAFTQ_SIM_LIVENESS=0 RAFTQ_SIM_FIRST_SEED=16 RAFTQ_SIM_TRACE=1`
//!   or to see which invariants catch a rule over many seeds:
//!   `RAFTQ_SIM_BROKEN=UpToDateVote RAFTQ_SIM_LIVENESS=0 RAFTQ_SIM_SEEDS=5000 RAFTQ_SIM_SHOW=5000`
//!
//! A seed reproduces exactly with the same `RAFTQ_SIM_STEPS`.

mod sim;

use raftq_core::BrokenRule;
use sim::{env_u64, run_seed, run_seeds, Params};

fn params() -> Params {
    let mut p = Params::new(env_u64("RAFTQ_SIM_STEPS").unwrap_or(2_000));
    p.trace = env_u64("RAFTQ_SIM_TRACE").unwrap_or(0) != 0;
    p
}

/// `RAFTQ_SIM_BROKEN=<BrokenRule>` (`UpToDateVote`, `PersistBeforeAck`, `CommitCurrentTerm`,
/// `AcceptStrangers`, `NoFlowControl`, `ReportLostAsCommitted`): run the main simulation
/// with that rule switched off (to study how a broken rule shows, e.g. with one traced seed).
fn broken_from_env() -> Option<BrokenRule> {
    let name = std::env::var("RAFTQ_SIM_BROKEN").ok()?;
    Some(match name.as_str() {
        "UpToDateVote" => BrokenRule::UpToDateVote,
        "PersistBeforeAck" => BrokenRule::PersistBeforeAck,
        "CommitCurrentTerm" => BrokenRule::CommitCurrentTerm,
        "AcceptStrangers" => BrokenRule::AcceptStrangers,
        "NoFlowControl" => BrokenRule::NoFlowControl,
        "ReportLostAsCommitted" => BrokenRule::ReportLostAsCommitted,
        "ConfirmWithoutRound" => BrokenRule::ConfirmWithoutRound,
        other => panic!("RAFTQ_SIM_BROKEN={other:?} is not a BrokenRule"),
    })
}

#[test]
fn simulation_holds_raft_safety_and_converges() {
    let first = env_u64("RAFTQ_SIM_FIRST_SEED");
    let soak = env_u64("RAFTQ_SIM_SOAK").unwrap_or(0) != 0;
    let count = env_u64("RAFTQ_SIM_SEEDS").unwrap_or(match (soak, first) {
        (true, _) => 1_000_000,
        (false, Some(_)) => 1,
        (false, None) => 10_000,
    });
    let first = first.unwrap_or(0);
    let mut p = params();
    p.huge_terms = env_u64("RAFTQ_SIM_HUGE_TERMS").unwrap_or(1) != 0;
    p.broken = broken_from_env();
    if p.broken.is_some() && env_u64("RAFTQ_SIM_LIVENESS").unwrap_or(1) == 0 {
        p.liveness_ms = 0;
    }
    if p.broken.is_some() && env_u64("RAFTQ_SIM_CHECK_ACKS").unwrap_or(1) == 0 {
        p.check_acks = false;
    }
    if p.broken.is_some() && env_u64("RAFTQ_SIM_CHECK_RATE").unwrap_or(1) == 0 {
        p.check_rate = false;
    }
    let r = run_seeds(first, count, &p, false);
    let s = &r.stats;
    let secs = |ms: u64| ms as f64 / 1000.0;
    println!(
        "raftq-core simulation: seeds {first}..{} ({} threads): {} seeds ok, {} steps ({} per seed) + {} liveness steps, {} elections, {} commits, {} proposals, {} messages ({} dropped), {} crash-restarts, {} membership changes, {} transfers, {} serviceCrashed, converged in avg {} ms (max {} ms), {} violations, elapsed {:.1} s",
        first + count,
        r.threads,
        s.seeds,
        s.steps,
        p.steps,
        s.liveness_steps,
        s.elections,
        s.commits,
        s.proposals,
        s.messages,
        s.dropped,
        s.crashes,
        s.membership_changes,
        s.transfers,
        s.service_crashes,
        s.converge_ms / s.seeds.max(1),
        s.max_converge_ms,
        r.violations.len(),
        r.elapsed.as_secs_f64(),
    );
    println!(
        "  faults: {} partitions, {} stranger messages, {} forged by members, {} failed persists, {} disk hangs ({} leaders handed over), {} seeds with a data-starved follower ({} appends with data lost); faulty phase avg {:.1} s simulated; largest per-link excess over 2 x events + requests in a heartbeat window: {} (bound {})",
        s.partitions,
        s.strangers,
        s.forged,
        s.disk_failures,
        s.disk_hangs,
        s.stalled_leaders,
        s.starved_seeds,
        s.starved_drops,
        secs(s.faulty_ms / s.seeds.max(1)),
        s.max_rate_excess,
        sim::RATE_SLACK,
    );
    println!(
        "  outcomes: {} proposals reported committed, {} not ({} superseded, {} timed out); {} transfers succeeded, {} failed; {} leadership confirmations true, {} false; {} reads answered, {} failed; {} seeds without pre-vote, {} without check-quorum; {} processes paused",
        s.proposals_committed,
        s.proposals_lost,
        s.proposals_superseded,
        s.proposals_timed_out,
        s.transfers_succeeded,
        s.transfers_failed,
        s.confirms_true,
        s.confirms_false,
        s.reads_ready,
        s.reads_failed,
        s.seeds_no_pre_vote,
        s.seeds_no_check_quorum,
        s.pauses,
    );
    let show = env_u64("RAFTQ_SIM_SHOW").unwrap_or(10) as usize;
    for v in r.violations.iter().take(show) {
        println!("  violation: {v}");
    }
    if let Some(v) = r.violations.first() {
        panic!(
            "{} of {count} seeds violated an invariant; first: {v}\n(reproduce: RAFTQ_SIM_FIRST_SEED={} RAFTQ_SIM_TRACE=1)",
            r.violations.len(),
            v.seed
        );
    }
    // a run that never exercised a fault proves nothing about it (a few seeds may miss some)
    if count >= COVERAGE_MIN_SEEDS {
        let gaps = coverage_gaps(s);
        assert!(
            gaps.is_empty(),
            "{count} seeds saw no {}: the simulation no longer exercises them",
            gaps.join(", no ")
        );
    }
}

/// Runs of at least this many seeds must have seen every kind of fault.
const COVERAGE_MIN_SEEDS: u64 = 100;

/// The kinds of fault (and of progress) a run saw none of.
fn coverage_gaps(s: &sim::Stats) -> Vec<&'static str> {
    [
        ("crashes", s.crashes),
        ("drops", s.dropped),
        ("partitions", s.partitions),
        ("commits", s.commits),
        ("membership changes", s.membership_changes),
        ("transfers", s.transfers),
        ("serviceCrashed", s.service_crashes),
        ("stranger messages", s.strangers),
        ("forged messages", s.forged),
        ("disk failures", s.disk_failures),
        ("disk hangs", s.disk_hangs),
        ("data-starved followers", s.starved_seeds),
        ("proposals reported committed", s.proposals_committed),
        ("proposals reported not committed", s.proposals_lost),
        ("transfers succeeded", s.transfers_succeeded),
        ("transfers failed", s.transfers_failed),
        ("proposals superseded", s.proposals_superseded),
        ("proposals timed out", s.proposals_timed_out),
        ("leadership confirmations true", s.confirms_true),
        ("leadership confirmations false", s.confirms_false),
        ("reads answered", s.reads_ready),
        ("seeds without pre-vote", s.seeds_no_pre_vote),
        ("seeds without check-quorum", s.seeds_no_check_quorum),
        ("paused processes", s.pauses),
    ]
    .into_iter()
    .filter(|&(_, n)| n == 0)
    .map(|(what, _)| what)
    .collect()
}

#[test]
fn coverage_floor_notices_a_missing_fault() {
    let mut s = sim::Stats {
        crashes: 1,
        dropped: 1,
        partitions: 1,
        commits: 1,
        membership_changes: 1,
        transfers: 1,
        service_crashes: 1,
        strangers: 1,
        forged: 1,
        disk_failures: 1,
        disk_hangs: 1,
        starved_seeds: 1,
        proposals_committed: 1,
        proposals_lost: 1,
        transfers_succeeded: 1,
        transfers_failed: 1,
        proposals_superseded: 1,
        proposals_timed_out: 1,
        confirms_true: 1,
        confirms_false: 1,
        reads_ready: 1,
        seeds_no_pre_vote: 1,
        seeds_no_check_quorum: 1,
        pauses: 1,
        ..sim::Stats::default()
    };
    assert_eq!(coverage_gaps(&s), Vec::<&str>::new());
    s.strangers = 0;
    s.partitions = 0;
    assert_eq!(coverage_gaps(&s), vec!["partitions", "stranger messages"]);
    assert_eq!(coverage_gaps(&sim::Stats::default()).len(), 24);
}

#[test]
fn simulation_is_deterministic() {
    let p = Params::new(1_000);
    for seed in [1, 7, 4242] {
        let a = run_seed(seed, &p).map(|s| (s.fingerprint, s.steps, s.commits, s.elections));
        let b = run_seed(seed, &p).map(|s| (s.fingerprint, s.steps, s.commits, s.elections));
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "seed {seed} ran differently twice"),
            (Err(e), _) | (_, Err(e)) => panic!("{e}"),
        }
    }
}

/// Switch one safety rule off in every node and run seeds until the simulation notices.
fn catches(rule: BrokenRule, check_acks: bool) -> sim::Violation {
    catches_with(rule, |p| p.check_acks = check_acks)
}

/// `catches`, with the parameters adjusted by `adjust` first.
fn catches_with(rule: BrokenRule, adjust: impl FnOnce(&mut Params)) -> sim::Violation {
    let bound = env_u64("RAFTQ_SIM_BROKEN_SEEDS").unwrap_or(5_000);
    let mut p = params();
    p.broken = Some(rule);
    // look for safety violations: the liveness phase would end a seed at a stall instead
    p.liveness_ms = 0;
    adjust(&mut p);
    let r = run_seeds(0, bound, &p, true);
    match r.violations.first() {
        Some(v) => {
            println!(
                "broken rule {rule:?}{}{}: caught at seed {} ({:.1} s): {v}",
                if p.check_acks {
                    ""
                } else {
                    " (invariant 5 unchecked)"
                },
                if p.stranger_reason {
                    ""
                } else {
                    " (strangers' ignore reason unchecked)"
                },
                v.seed,
                r.elapsed.as_secs_f64()
            );
            v.clone()
        }
        None => panic!(
            "broken rule {rule:?} went unnoticed in {bound} seeds ({} steps)",
            r.stats.steps
        ),
    }
}

// Which invariant catches each broken rule was found over seeds 0..5000 (`RAFTQ_SIM_BROKEN=<rule>
// RAFTQ_SIM_LIVENESS=0 RAFTQ_SIM_SEEDS=5000 RAFTQ_SIM_SHOW=5000`): every violating seed of a rule
// reports the same invariant, so each test asserts exactly that one.

#[test]
fn catches_votes_for_out_of_date_candidates() {
    // a leader elected without the committed version (1162 of 5000 seeds)
    let v = catches(BrokenRule::UpToDateVote, true);
    assert_eq!(v.invariant, sim::inv::LEADER_COMPLETENESS, "{v}");
}

#[test]
fn catches_acks_before_persist() {
    let v = catches(BrokenRule::PersistBeforeAck, true);
    assert_eq!(v.invariant, sim::inv::PERSIST_BEFORE_ACK);
    // and what it leads to once a crash loses what was acknowledged: a vote granted twice in
    // one term, or a committed version missing from a later leader
    let v = catches(BrokenRule::PersistBeforeAck, false);
    assert!(
        [
            sim::inv::ELECTION_SAFETY,
            sim::inv::LEADER_COMPLETENESS,
            sim::inv::STATE_MACHINE_SAFETY
        ]
        .contains(&v.invariant),
        "{v}"
    );
}

#[test]
fn catches_commits_of_earlier_terms() {
    // rare (5 of 5000 seeds): an old-term version counted committed, then a later leader
    // elected without it
    let v = catches(BrokenRule::CommitCurrentTerm, true);
    assert_eq!(v.invariant, sim::inv::LEADER_COMPLETENESS, "{v}");
}

#[test]
fn catches_strangers_accepted() {
    // members only off: a stranger's message is stepped (3528 of 5000 seeds)
    let v = catches(BrokenRule::AcceptStrangers, true);
    assert_eq!(v.invariant, sim::inv::STRANGERS, "{v}");
    // not only the reason it is ignored for: it changes the node's state or makes it talk
    let v = catches_with(BrokenRule::AcceptStrangers, |p| p.stranger_reason = false);
    assert_eq!(v.invariant, sim::inv::STRANGERS, "{v}");
}

#[test]
fn catches_ping_pong_without_flow_control() {
    // every failing response answered at once, data resent without backing off (2088 of 5000
    // seeds)
    let v = catches(BrokenRule::NoFlowControl, true);
    assert_eq!(v.invariant, sim::inv::RATE, "{v}");
    // and it is a storm, not a near miss: with the rate unchecked, how far beyond the bound
    let mut p = Params::new(2_000);
    p.broken = Some(BrokenRule::NoFlowControl);
    p.liveness_ms = 0;
    p.check_rate = false;
    let r = run_seeds(0, 200, &p, false);
    assert!(r.violations.is_empty(), "{:?}", r.violations.first());
    println!(
        "without flow control, 200 seeds: largest per-link excess {} (bound {})",
        r.stats.max_rate_excess,
        sim::RATE_SLACK
    );
    assert!(
        r.stats.max_rate_excess >= 3 * sim::RATE_SLACK,
        "largest excess without flow control: {}",
        r.stats.max_rate_excess
    );
}

#[test]
fn catches_lost_proposals_reported_committed() {
    // replicate() resolving true for a version a commit superseded or that timed out
    let v = catches(BrokenRule::ReportLostAsCommitted, true);
    assert_eq!(v.invariant, sim::inv::OUTCOMES, "{v}");
}

#[test]
fn catches_leadership_confirmed_without_a_round() {
    // ReadIndex without its round trip: responses of the term sent before the request count,
    // so a leader deposed (unknowingly) since confirms its stale leadership
    let v = catches(BrokenRule::ConfirmWithoutRound, true);
    assert_eq!(v.invariant, sim::inv::CONFIRM, "{v}");
}

#[test]
fn catches_reads_answered_with_the_latest_version() {
    // issue 15 item 3: confirmLeadership() + getData() on the leader answers its latest,
    // possibly uncommitted, version: a dirty read
    let v = catches(BrokenRule::ReadLatest, true);
    assert_eq!(v.invariant, sim::inv::READ, "{v}");
}

/// The simulation is only as strict as its build: an overflow in the core must panic (a
/// violation), not wrap. `npm test` runs it in the test profile; a `--release` run would not
/// check, and this test says so instead of passing quietly.
#[test]
fn simulation_runs_with_overflow_checks_and_debug_assertions() {
    let asserted = std::panic::catch_unwind(|| debug_assert!(std::hint::black_box(false)));
    assert!(
        asserted.is_err(),
        "debug assertions are off: run the simulation in the test profile (cargo test -p raftq-core), not --release"
    );
    let max = std::hint::black_box(u64::MAX);
    let wrapped = std::panic::catch_unwind(|| max + std::hint::black_box(1));
    assert!(
        wrapped.is_err(),
        "u64 overflow did not panic: overflow checks are off"
    );
}

#[test]
fn catches_quorums_over_local_acks() {
    // raftq's membership (each node counts over what its app acked): views that disagree let
    // two disjoint majorities decide, so a node elected without the committed data (or two
    // leaders in one term) follows
    let v = catches(BrokenRule::LocalAckQuorum, true);
    assert!(
        [
            sim::inv::ELECTION_SAFETY,
            sim::inv::LEADER_COMPLETENESS,
            sim::inv::STATE_MACHINE_SAFETY,
            sim::inv::MAJORITY,
        ]
        .contains(&v.invariant),
        "{v}"
    );
}

#[test]
fn catches_two_configuration_changes_in_flight() {
    // a second change before the first committed: the configuration in effect may then share
    // no majority with the committed one
    let v = catches(BrokenRule::TwoChangesInFlight, true);
    assert_eq!(v.invariant, sim::inv::CONFIGS, "{v}");
}
