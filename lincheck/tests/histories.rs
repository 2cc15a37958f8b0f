//! The checker on hand-made histories (it must be able to fail: a stale read, the dirty read of
//! issue 15 item 3), and on the chaos run's history when `RAFTQ_LINCHECK_HISTORY` names it
//! (`npm test` runs the chaos test first, which writes it).

use raftq_lincheck::{check, check_deep, parse, Kind, Op};

fn w(value: u64, invoke: f64, complete: f64) -> Op {
    Op {
        kind: Kind::Write,
        value,
        invoke,
        complete: Some(complete),
    }
}

fn lost(value: u64, invoke: f64) -> Op {
    Op {
        kind: Kind::Write,
        value,
        invoke,
        complete: None,
    }
}

fn r(value: u64, invoke: f64, complete: f64) -> Op {
    Op {
        kind: Kind::Read,
        value,
        invoke,
        complete: Some(complete),
    }
}

#[test]
fn a_sequential_history_is_linearizable() {
    let h = [
        r(0, 0.0, 1.0),
        w(1, 2.0, 3.0),
        r(1, 4.0, 5.0),
        w(2, 6.0, 7.0),
        r(2, 8.0, 9.0),
    ];
    assert!(check(&h).linearizable);
}

#[test]
fn overlapping_operations_may_take_effect_in_either_order() {
    // the read overlaps the write: it may see the old value or the new one
    assert!(check(&[w(1, 0.0, 1.0), w(2, 2.0, 6.0), r(1, 3.0, 4.0)]).linearizable);
    assert!(check(&[w(1, 0.0, 1.0), w(2, 2.0, 6.0), r(2, 3.0, 4.0)]).linearizable);
}

#[test]
fn a_stale_read_is_not_linearizable() {
    // write 2 completed before the read began: reading 1 is a register going back
    let h = [w(1, 0.0, 1.0), w(2, 2.0, 3.0), r(1, 4.0, 5.0)];
    assert!(!check(&h).linearizable);
}

#[test]
fn a_read_of_a_value_never_written_is_not_linearizable() {
    assert!(!check(&[w(1, 0.0, 1.0), r(7, 2.0, 3.0)]).linearizable);
}

#[test]
fn an_indeterminate_write_may_or_may_not_take_effect() {
    // write 2 timed out: it may have committed (seen later), or not (never seen)
    assert!(check(&[w(1, 0.0, 1.0), lost(2, 2.0), r(2, 5.0, 6.0), r(2, 7.0, 8.0)]).linearizable);
    assert!(check(&[w(1, 0.0, 1.0), lost(2, 2.0), r(1, 5.0, 6.0), r(1, 7.0, 8.0)]).linearizable);
    // but not both, one after the other
    assert!(!check(&[w(1, 0.0, 1.0), lost(2, 2.0), r(2, 5.0, 6.0), r(1, 7.0, 8.0)]).linearizable);
}

#[test]
fn the_dirty_read_of_confirm_leadership_and_get_data_is_not_linearizable() {
    // issue 15 item 3, the README's old recipe: the leader commits 1, then proposes 2 (never
    // committed: it is cut off; replicate() times out); `confirmLeadership()` still says true
    // (its round left before the cut) and `getData()` shows 2. The new leader never had 2: a
    // read there sees 1. A register that went 1, 2, 1.
    let h = [
        w(1, 0.0, 10.0),
        lost(2, 20.0),
        r(2, 21.0, 25.0),
        r(1, 400.0, 410.0),
    ];
    assert!(!check(&h).linearizable);
    // read() instead rejects on the cut-off leader (no read in the history): linearizable
    let h = [w(1, 0.0, 10.0), lost(2, 20.0), r(1, 400.0, 410.0)];
    assert!(check(&h).linearizable);
}

#[test]
fn the_history_format_parses_and_refuses_nonsense() {
    let text = r#"
{"op":"write","value":1,"invoke":0,"complete":1.5}
{"op":"write","value":2,"invoke":2,"complete":null,"indeterminate":true}
{"op":"read","value":1,"invoke":3,"complete":4}
"#;
    let ops = parse(text).expect("parses");
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[1].complete, None);
    assert!(check(&ops).linearizable);
    assert!(parse(r#"{"op":"read","value":1,"invoke":3,"complete":2}"#).is_err());
    assert!(parse(r#"{"op":"erase","value":1,"invoke":3,"complete":4}"#).is_err());
    assert!(parse(r#"{"op":"read","value":-1,"invoke":3,"complete":4}"#).is_err());
    assert!(
        parse(r#"{"op":"read","value":1,"invoke":3,"complete":null,"indeterminate":true}"#)
            .is_err()
    );
}

#[test]
fn the_chaos_run_history_is_linearizable() {
    let Ok(path) = std::env::var("RAFTQ_LINCHECK_HISTORY") else {
        println!("RAFTQ_LINCHECK_HISTORY not set: no chaos history to check (npm test sets it)");
        return;
    };
    // a relative path is the workspace root's (cargo runs tests in the package's directory)
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the chaos test writes it: run it first)"));
    let ops = parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let t0 = std::time::Instant::now();
    let report = check_deep(ops);
    println!(
        "{path}: {} writes ({} indeterminate), {} reads: linearizable {} ({} ms)",
        report.writes,
        report.indeterminate,
        report.reads,
        report.linearizable,
        t0.elapsed().as_millis()
    );
    assert!(
        report.writes > 0 && report.reads > 0,
        "{report:?}: the run did nothing"
    );
    assert!(report.linearizable, "{path}: NOT linearizable ({report:?})");
}
