//! Deterministic fault-injecting simulation of raftq-core (see `sim/mod.rs`).
//!
//! `cargo test -p raftq-core --release -- --nocapture` prints one summary line per test.
//! Environment:
//! - `RAFTQ_SIM_SEEDS` (default 10000), `RAFTQ_SIM_STEPS` (default 2000 per seed)
//! - `RAFTQ_SIM_FIRST_SEED`: first seed; alone it reproduces just that seed
//! - `RAFTQ_SIM_SOAK=1`: 1,000,000 seeds
//! - `RAFTQ_SIM_TRACE=1`: print every event (use with one seed)
//! - `RAFTQ_SIM_BROKEN_SEEDS` (default 5000): bound of the broken-rule searches
//! - `RAFTQ_SIM_BROKEN=<BrokenRule>` runs the main test with that rule off; with it,
//!   `RAFTQ_SIM_LIVENESS=0` skips the liveness phase and `RAFTQ_SIM_CHECK_ACKS=0` invariant 5
//!   (as the broken-rule tests do), e.g. to trace the seed a broken-rule test reported:
//!   `RAFTQ_SIM_BROKEN=CommitCurrentTerm RAFTQ_SIM_LIVENESS=0 RAFTQ_SIM_FIRST_SEED=818 RAFTQ_SIM_TRACE=1`
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

/// `RAFTQ_SIM_BROKEN=UpToDateVote|PersistBeforeAck|CommitCurrentTerm`: run the main simulation
/// with that rule switched off (to study how a broken rule shows, e.g. with one traced seed).
fn broken_from_env() -> Option<BrokenRule> {
    let name = std::env::var("RAFTQ_SIM_BROKEN").ok()?;
    Some(match name.as_str() {
        "UpToDateVote" => BrokenRule::UpToDateVote,
        "PersistBeforeAck" => BrokenRule::PersistBeforeAck,
        "CommitCurrentTerm" => BrokenRule::CommitCurrentTerm,
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
    p.broken = broken_from_env();
    if p.broken.is_some() && env_u64("RAFTQ_SIM_LIVENESS").unwrap_or(1) == 0 {
        p.liveness_ms = 0;
    }
    if p.broken.is_some() && env_u64("RAFTQ_SIM_CHECK_ACKS").unwrap_or(1) == 0 {
        p.check_acks = false;
    }
    let r = run_seeds(first, count, &p, false);
    let s = &r.stats;
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
    for v in r.violations.iter().take(10) {
        println!("  violation: {v}");
    }
    if let Some(v) = r.violations.first() {
        panic!(
            "{} of {count} seeds violated an invariant; first: {v}\n(reproduce: RAFTQ_SIM_FIRST_SEED={} RAFTQ_SIM_TRACE=1)",
            r.violations.len(),
            v.seed
        );
    }
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
    let bound = env_u64("RAFTQ_SIM_BROKEN_SEEDS").unwrap_or(5_000);
    let mut p = params();
    p.broken = Some(rule);
    p.check_acks = check_acks;
    // look for safety violations: the liveness phase would end a seed at a stall instead
    p.liveness_ms = 0;
    let r = run_seeds(0, bound, &p, true);
    match r.violations.first() {
        Some(v) => {
            println!(
                "broken rule {rule:?}{}: caught at seed {} ({:.1} s): {v}",
                if check_acks {
                    ""
                } else {
                    " (invariant 5 unchecked)"
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

#[test]
fn catches_votes_for_out_of_date_candidates() {
    catches(BrokenRule::UpToDateVote, true);
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
    catches(BrokenRule::CommitCurrentTerm, true);
}
