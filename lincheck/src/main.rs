//! `raftq-lincheck <history.jsonl>`: exit 0 when the history is linearizable, 1 when not, 2 on
//! bad input.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: raftq-lincheck <history.jsonl>");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("raftq-lincheck: {path}: {e}");
            std::process::exit(2);
        }
    };
    let ops = match raftq_lincheck::parse(&text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("raftq-lincheck: {path}: {e}");
            std::process::exit(2);
        }
    };
    let t0 = std::time::Instant::now();
    let r = raftq_lincheck::check_deep(ops);
    println!(
        "{path}: {} writes ({} indeterminate), {} reads: {} ({} ms)",
        r.writes,
        r.indeterminate,
        r.reads,
        if r.linearizable {
            "linearizable"
        } else {
            "NOT linearizable"
        },
        t0.elapsed().as_millis()
    );
    std::process::exit(if r.linearizable { 0 } else { 1 });
}
