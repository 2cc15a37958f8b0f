//! Exhaustive runs of the model (see the crate docs). `MODELCHECK_DEPTH=<n>` deepens the
//! bounded run; `cargo test -p raftq-modelcheck -- --ignored` runs the deep one.

use raftq_core::BrokenRule;
use raftq_modelcheck::{prop, trace, RaftModel};
use stateright::{Checker, HasDiscoveries, Model};
use std::time::{Duration, Instant};

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

struct Run {
    depth: usize,
    states: usize,
    unique: usize,
    secs: f64,
}

/// Check `model` to `depth` actions per path; panics (with the trace) on a counterexample.
fn check_all(model: RaftModel, depth: usize, label: &str) -> Run {
    let t = Instant::now();
    let threads = env_usize("MODELCHECK_THREADS").unwrap_or(1);
    let checker = model
        .checker()
        .threads(threads)
        // the checker skips states at the target depth: +1 for the initial state, +1 for that
        .target_max_depth(depth + 2)
        .spawn_bfs()
        .join();
    let run = Run {
        depth: checker.max_depth().saturating_sub(1),
        states: checker.state_count(),
        unique: checker.unique_state_count(),
        secs: t.elapsed().as_secs_f64(),
    };
    println!(
        "{label}: depth {} actions, {} states explored, {} unique, {:.1} s",
        run.depth, run.states, run.unique, run.secs
    );
    for name in prop::SAFETY {
        if let Some(path) = checker.discovery(name) {
            let v = path.into_vec();
            panic!(
                "{label}: counterexample to \"{name}\" ({} actions):\n{}",
                v.len() - 1,
                trace(&v)
            );
        }
    }
    run
}

#[test]
fn smoke() {
    let depth = env_usize("MODELCHECK_DEPTH").unwrap_or(8);
    check_all(RaftModel::default(), depth, "smoke");
}

#[test]
fn script_prints() {
    let m = RaftModel {
        script: raftq_modelcheck::elect_and_commit(),
        ..RaftModel::default()
    };
    println!("{}", trace(&m.scripted_path()));
}
