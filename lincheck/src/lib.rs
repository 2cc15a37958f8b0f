//! Linearizability of a history of register operations, checked with stateright's
//! [`LinearizabilityTester`] over its [`Register`] model (a published, well-kept checker rather
//! than a home-made one).
//!
//! The history is what the chaos run (`scripts/chaos.js`) records, one JSON object per line:
//!
//! ```text
//! {"op":"write","value":17,"invoke":1234.5,"complete":1240.1}
//! {"op":"write","value":18,"invoke":1241.0,"complete":null,"indeterminate":true}
//! {"op":"read","value":17,"invoke":1239.9,"complete":1244.2}
//! ```
//!
//! The register holds the id of the last write (`0` before any): the chaos writer appends its
//! write id to the data with `replicate()`, and a reader's `read()` returns the data, whose last
//! write id is the value read. Times are milliseconds on one clock (the controller's). A write
//! whose outcome is unknown (timed out, or rejected in a way that does not prove it was not
//! committed) is `indeterminate`: it is in flight forever, and may or may not have taken effect
//! at any time after its invocation. Reads that failed are not in the history (they have no
//! effect).

use stateright::semantics::register::{Register, RegisterOp, RegisterRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Write,
    Read,
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub kind: Kind,
    /// The write's id, or the id the read saw.
    pub value: u64,
    pub invoke: f64,
    /// `None`: indeterminate (in flight forever).
    pub complete: Option<f64>,
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Report {
    pub writes: usize,
    pub reads: usize,
    pub indeterminate: usize,
    pub linearizable: bool,
}

/// Parse the JSON lines (blank lines skipped).
pub fn parse(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields = flat_object(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let get = |k: &str| fields.iter().find(|(name, _)| name == k).map(|(_, v)| v);
        let kind = match get("op") {
            Some(Json::Str(s)) if s == "write" => Kind::Write,
            Some(Json::Str(s)) if s == "read" => Kind::Read,
            other => {
                return Err(format!(
                    "line {}: op must be \"write\" or \"read\", got {other:?}",
                    n + 1
                ))
            }
        };
        let number = |k: &str| match get(k) {
            Some(Json::Num(x)) if x.is_finite() => Ok(*x),
            other => Err(format!(
                "line {}: {k} must be a number, got {other:?}",
                n + 1
            )),
        };
        let value = number("value")?;
        if value < 0.0 || value.fract() != 0.0 || value > 9_007_199_254_740_991.0 {
            return Err(format!(
                "line {}: value must be a non-negative integer",
                n + 1
            ));
        }
        let invoke = number("invoke")?;
        let indeterminate = matches!(get("indeterminate"), Some(Json::Bool(true)));
        let complete = match get("complete") {
            _ if indeterminate => None,
            Some(Json::Num(x)) if x.is_finite() && *x >= invoke => Some(*x),
            other => {
                return Err(format!(
                    "line {}: complete must be a number >= invoke (or the op indeterminate), got {other:?}",
                    n + 1
                ))
            }
        };
        if kind == Kind::Read && complete.is_none() {
            return Err(format!(
                "line {}: a read cannot be indeterminate (leave it out)",
                n + 1
            ));
        }
        ops.push(Op {
            kind,
            value: value as u64,
            invoke,
            complete,
        });
    }
    Ok(ops)
}

/// Check `ops` for linearizability as a register starting at 0.
///
/// The tester's search copies what remains of the history at every step: quadratic in memory,
/// hopeless for a whole run. So the history is cut at *quiescent reads* (a read that no other
/// determinate operation overlaps: every other one completed before it began or began after it
/// completed). Real-time order puts such a read `R` after everything before it and before
/// everything after it, so the history is linearizable iff each segment (up to and including
/// its `R`) is, starting from the value the previous `R` read. An indeterminate write takes
/// part in every segment from its invocation on until a read observes its value: one not
/// observed yet can be taken as not applied so far (an unobserved application changes no
/// read), one observed took effect there and never again (values are unique write ids); one
/// never observed is left out.
pub fn check(ops: &[Op]) -> Report {
    let report = |linearizable| Report {
        writes: ops.iter().filter(|o| o.kind == Kind::Write).count(),
        reads: ops.iter().filter(|o| o.kind == Kind::Read).count(),
        indeterminate: ops.iter().filter(|o| o.complete.is_none()).count(),
        linearizable,
    };
    let mut det: Vec<&Op> = ops.iter().filter(|o| o.complete.is_some()).collect();
    det.sort_by(|a, b| {
        a.invoke
            .partial_cmp(&b.invoke)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    // an indeterminate write no read ever observed can be taken as never applied (dropping an
    // unobserved application changes no read): only the observed ones are searched
    let read_values: BTreeSet<u64> = ops
        .iter()
        .filter(|o| o.kind == Kind::Read)
        .map(|o| o.value)
        .collect();
    let mut lost: Vec<&Op> = ops
        .iter()
        .filter(|o| o.complete.is_none() && read_values.contains(&o.value))
        .collect();
    lost.sort_by(|a, b| {
        a.invoke
            .partial_cmp(&b.invoke)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let end = |o: &Op| o.complete.unwrap_or(f64::INFINITY);
    // the latest completion among det[..i], and the cut reads
    let mut cuts = vec![false; det.len()];
    let mut max_before = f64::NEG_INFINITY;
    for i in 0..det.len() {
        let o = det[i];
        let next_invoke = det.get(i + 1).map_or(f64::INFINITY, |n| n.invoke);
        cuts[i] = o.kind == Kind::Read && max_before < o.invoke && next_invoke > end(o);
        max_before = max_before.max(end(o));
    }
    let mut observed: BTreeSet<u64> = BTreeSet::new();
    let mut init = 0u64;
    let mut from = 0usize;
    for i in 0..det.len() {
        if !cuts[i] && i + 1 != det.len() {
            continue;
        }
        let segment = &det[from..=i];
        let seg_end = end(det[i]);
        // indeterminate writes invoked before this segment ends and not observed before it
        let pending: Vec<Op> = lost
            .iter()
            .filter(|w| w.invoke < seg_end && !observed.contains(&w.value))
            .map(|w| (*w).clone())
            .collect();
        let mut seg: Vec<Op> = segment.iter().map(|o| (*o).clone()).collect();
        let start = segment[0].invoke;
        for mut w in pending {
            // carried over from earlier segments: in flight from this segment's start
            w.invoke = w.invoke.max(start);
            seg.push(w);
        }
        if !check_segment(init, &seg) {
            return report(false);
        }
        for o in segment {
            if o.kind == Kind::Read {
                observed.insert(o.value);
            }
        }
        init = det[i].value;
        from = i + 1;
    }
    report(true)
}

/// One segment, as a register starting at `init`.
///
/// Each operation runs on a "thread" of the tester that is free at its invocation (one
/// operation at a time per thread); the tester's real-time order comes from the order of the
/// invocation and completion events, sorted by time (an invocation before a completion at the
/// same time: concurrent, the order the clock cannot tell).
fn check_segment(init: u64, ops: &[Op]) -> bool {
    #[derive(PartialEq, PartialOrd)]
    struct Event {
        at: f64,
        /// 0: invocation, 1: completion
        phase: u8,
        op: usize,
    }
    let mut events: Vec<Event> = Vec::with_capacity(ops.len() * 2);
    for (k, o) in ops.iter().enumerate() {
        events.push(Event {
            at: o.invoke,
            phase: 0,
            op: k,
        });
        if let Some(c) = o.complete {
            events.push(Event {
                at: c,
                phase: 1,
                op: k,
            });
        }
    }
    events.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mut tester = LinearizabilityTester::new(Register(init));
    let mut free: BTreeSet<usize> = BTreeSet::new();
    let mut next_thread = 0usize;
    let mut thread_of = vec![usize::MAX; ops.len()];
    let mut valid = true;
    for e in &events {
        let o = &ops[e.op];
        if e.phase == 0 {
            let t = match free.pop_first() {
                Some(t) => t,
                None => {
                    next_thread += 1;
                    next_thread - 1
                }
            };
            thread_of[e.op] = t;
            let op = match o.kind {
                Kind::Write => RegisterOp::Write(o.value),
                Kind::Read => RegisterOp::Read,
            };
            valid &= tester.on_invoke(t, op).is_ok();
        } else {
            let t = thread_of[e.op];
            let ret = match o.kind {
                Kind::Write => RegisterRet::WriteOk,
                Kind::Read => RegisterRet::ReadOk(o.value),
            };
            valid &= tester.on_return(t, ret).is_ok();
            free.insert(t);
        }
    }
    valid && tester.is_consistent()
}

/// [`check`] on a thread with a large stack (the tester's search recurses once per operation).
pub fn check_deep(ops: Vec<Op>) -> Report {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || check(&ops))
        .and_then(|h| {
            h.join()
                .map_err(|_| std::io::Error::other("the check panicked"))
        })
        .unwrap_or_else(|e| panic!("linearizability check failed to run: {e}"))
}

// ---- a parser for one flat JSON object per line (strings, numbers, booleans, null) ----

#[derive(Debug, PartialEq)]
enum Json {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

fn flat_object(s: &str) -> Result<Vec<(String, Json)>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let expect = |i: &mut usize, c: u8| -> Result<(), String> {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, *i))
        }
    };
    let string = |i: &mut usize| -> Result<String, String> {
        expect(i, b'"')?;
        let mut out = String::new();
        while *i < b.len() {
            match b[*i] {
                b'"' => {
                    *i += 1;
                    return Ok(out);
                }
                b'\\' => return Err("escapes are not used in histories".into()),
                _ => {
                    let start = *i;
                    while *i < b.len() && b[*i] != b'"' && b[*i] != b'\\' {
                        *i += 1;
                    }
                    out.push_str(&s[start..*i]);
                }
            }
        }
        Err("unterminated string".into())
    };
    let mut out = Vec::new();
    ws(&mut i);
    expect(&mut i, b'{')?;
    ws(&mut i);
    if i < b.len() && b[i] == b'}' {
        return Ok(out);
    }
    loop {
        ws(&mut i);
        let key = string(&mut i)?;
        ws(&mut i);
        expect(&mut i, b':')?;
        ws(&mut i);
        let v = if i < b.len() && b[i] == b'"' {
            Json::Str(string(&mut i)?)
        } else {
            let start = i;
            while i < b.len() && !matches!(b[i], b',' | b'}') && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            match &s[start..i] {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                "null" => Json::Null,
                t => Json::Num(t.parse::<f64>().map_err(|_| format!("bad value {t:?}"))?),
            }
        };
        out.push((key, v));
        ws(&mut i);
        if i < b.len() && b[i] == b',' {
            i += 1;
            continue;
        }
        expect(&mut i, b'}')?;
        return Ok(out);
    }
}
