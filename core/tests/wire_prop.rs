//! Property test of `wire::decode` over generated field maps (a seeded generator, no dev-dependency).
//!
//! An independent oracle, written from the wire contract rather than from `decode`'s code, says
//! for every generated body whether it is well-formed and, if not, which fields offend. The
//! properties, for every body on every channel:
//! - `decode` never panics;
//! - it accepts exactly the bodies the oracle accepts, and decodes them to the oracle's message;
//! - every accepted message re-encodes (`wire::encode`) to the very fields it was read from;
//! - every rejection names (in `field` and in its text) one of the offending fields;
//! - it reads only the fields of its channel (the addon's field buffer holds only those).
//!
//! Numbers outside [0, 2^53 − 1], fractions, NaN, ±∞ and wrong types are rejected; so are
//! `lastTerm > term`, `dataTerm != term` (syncData), `dataTerm > term` (dataResponse) and a commit
//! version ahead of the data version (term-major order, and its index above the data index).
//!
//! `WIRE_PROP_CASES` (default 300,000 per channel) and `WIRE_PROP_SEED` (default: fixed) tune a
//! run; a failure prints the seed, the case number and a shrunk body.

use raftq_core::wire::{self, Field, Fields, Out};
use raftq_core::{Channel, Message, Version};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

const MAX: f64 = 9_007_199_254_740_991.0; // 2^53 - 1

const ALL_NAMES: [&str; 13] = [
    wire::TERM,
    wire::GRANTED,
    wire::SUCCESS,
    wire::PRE_VOTE,
    wire::TRANSFER,
    wire::LAST_TERM,
    wire::LAST_INDEX,
    wire::DATA,
    wire::DATA_TERM,
    wire::DATA_INDEX,
    wire::COMMIT_TERM,
    wire::COMMIT_INDEX,
    wire::ROUND,
];

/// The fields of each channel, as the contract lists them (`data` is only tested for presence).
fn channel_fields(c: Channel) -> &'static [&'static str] {
    match c {
        Channel::VoteRequest => &[
            wire::TERM,
            wire::PRE_VOTE,
            wire::TRANSFER,
            wire::LAST_TERM,
            wire::LAST_INDEX,
        ],
        Channel::VoteResponse => &[wire::TERM, wire::PRE_VOTE, wire::GRANTED],
        Channel::SyncData => &[
            wire::TERM,
            wire::DATA_TERM,
            wire::DATA_INDEX,
            wire::COMMIT_TERM,
            wire::COMMIT_INDEX,
            wire::TRANSFER,
            wire::ROUND,
        ],
        Channel::DataResponse => &[
            wire::TERM,
            wire::SUCCESS,
            wire::DATA_TERM,
            wire::DATA_INDEX,
            wire::ROUND,
        ],
    }
}

const OPTIONAL_FLAGS: [&str; 2] = [wire::PRE_VOTE, wire::TRANSFER];

/// Optional counters: absent (`undefined`/`null`) is 0, and 0 is sent as absent.
const OPTIONAL_COUNTERS: [&str; 1] = [wire::ROUND];

/// A generated body; remembers which fields `decode` read.
#[derive(Clone, Debug, Default)]
struct Body {
    fields: BTreeMap<&'static str, Field>,
    data: bool,
    reads: RefCell<Vec<&'static str>>,
}

impl Fields for Body {
    fn field(&self, name: &'static str) -> Field {
        self.reads.borrow_mut().push(name);
        self.fields.get(name).copied().unwrap_or(Field::Missing)
    }
    fn has_data(&self) -> bool {
        self.reads.borrow_mut().push(wire::DATA);
        self.data
    }
}

impl Body {
    fn get(&self, name: &str) -> Field {
        self.fields.get(name).copied().unwrap_or(Field::Missing)
    }
    fn fresh(&self) -> Body {
        Body {
            fields: self.fields.clone(),
            data: self.data,
            reads: RefCell::new(Vec::new()),
        }
    }
}

// ---- the oracle ----

/// A valid counter, per the contract: a number, integral, within [0, 2^53 − 1] (−0 is 0).
fn counter(f: Field) -> Option<u64> {
    match f {
        Field::Number(n) if (0.0..=MAX).contains(&n) && n.trunc() == n => Some(n as u64),
        _ => None,
    }
}

fn required_bool(f: Field) -> Option<bool> {
    match f {
        Field::Bool(b) => Some(b),
        _ => None,
    }
}

/// An optional counter: absent (`undefined`/`null`) is 0.
fn optional_counter(f: Field) -> Option<u64> {
    match f {
        Field::Missing => Some(0),
        f => counter(f),
    }
}

/// An optional flag: absent (`undefined`/`null`) is false.
fn optional_flag(f: Field) -> Option<bool> {
    match f {
        Field::Missing => Some(false),
        Field::Bool(b) => Some(b),
        _ => None,
    }
}

/// The message the body must decode to, or the fields that offend (never empty).
fn oracle(c: Channel, b: &Body) -> Result<Message, Vec<&'static str>> {
    let mut bad: Vec<&'static str> = Vec::new();
    let num = |name: &'static str, bad: &mut Vec<&'static str>| {
        let v = counter(b.get(name));
        if v.is_none() {
            bad.push(name);
        }
        v
    };
    let flag = |name: &'static str, bad: &mut Vec<&'static str>| {
        let v = optional_flag(b.get(name));
        if v.is_none() {
            bad.push(name);
        }
        v
    };
    let boolean = |name: &'static str, bad: &mut Vec<&'static str>| {
        let v = required_bool(b.get(name));
        if v.is_none() {
            bad.push(name);
        }
        v
    };
    let opt_num = |name: &'static str, bad: &mut Vec<&'static str>| {
        let v = optional_counter(b.get(name));
        if v.is_none() {
            bad.push(name);
        }
        v
    };
    let term = num(wire::TERM, &mut bad);
    let msg = match c {
        Channel::VoteRequest => {
            let lt = num(wire::LAST_TERM, &mut bad);
            let li = num(wire::LAST_INDEX, &mut bad);
            let pre = flag(wire::PRE_VOTE, &mut bad);
            let tr = flag(wire::TRANSFER, &mut bad);
            if let (Some(t), Some(lt)) = (term, lt) {
                if lt > t {
                    bad.extend([wire::LAST_TERM, wire::TERM]);
                }
            }
            match (term, lt, li, pre, tr) {
                (Some(term), Some(lt), Some(li), Some(pre_vote), Some(transfer)) => {
                    Some(Message::VoteRequest {
                        term,
                        pre_vote,
                        last: Version::new(lt, li),
                        transfer,
                    })
                }
                _ => None,
            }
        }
        Channel::VoteResponse => {
            let pre = flag(wire::PRE_VOTE, &mut bad);
            let g = boolean(wire::GRANTED, &mut bad);
            match (term, pre, g) {
                (Some(term), Some(pre_vote), Some(granted)) => Some(Message::VoteResponse {
                    term,
                    pre_vote,
                    granted,
                }),
                _ => None,
            }
        }
        Channel::SyncData => {
            let dt = num(wire::DATA_TERM, &mut bad);
            let di = num(wire::DATA_INDEX, &mut bad);
            let ct = num(wire::COMMIT_TERM, &mut bad);
            let ci = num(wire::COMMIT_INDEX, &mut bad);
            let tr = flag(wire::TRANSFER, &mut bad);
            let round = opt_num(wire::ROUND, &mut bad);
            if let (Some(t), Some(dt)) = (term, dt) {
                if dt != t {
                    bad.extend([wire::DATA_TERM, wire::TERM]);
                }
            }
            if let (Some(dt), Some(di), Some(ct), Some(ci)) = (dt, di, ct, ci) {
                // the commit point may not be ahead of the data version: neither in (term,
                // index) order nor by index (the latter covers an equal term)
                if ct > dt || ci > di {
                    bad.extend([
                        wire::COMMIT_TERM,
                        wire::COMMIT_INDEX,
                        wire::DATA_TERM,
                        wire::DATA_INDEX,
                    ]);
                }
            }
            match (term, dt, di, ct, ci, tr, round) {
                (
                    Some(term),
                    Some(dt),
                    Some(di),
                    Some(ct),
                    Some(ci),
                    Some(transfer),
                    Some(round),
                ) => Some(Message::Append {
                    term,
                    version: Version::new(dt, di),
                    with_data: b.data,
                    commit: Version::new(ct, ci),
                    transfer,
                    round,
                }),
                _ => None,
            }
        }
        Channel::DataResponse => {
            let dt = num(wire::DATA_TERM, &mut bad);
            let di = num(wire::DATA_INDEX, &mut bad);
            let s = boolean(wire::SUCCESS, &mut bad);
            let round = opt_num(wire::ROUND, &mut bad);
            if let (Some(t), Some(dt)) = (term, dt) {
                if dt > t {
                    bad.extend([wire::DATA_TERM, wire::TERM]);
                }
            }
            match (term, dt, di, s, round) {
                (Some(term), Some(dt), Some(di), Some(success), Some(round)) => {
                    Some(Message::AppendResponse {
                        term,
                        success,
                        latest: Version::new(dt, di),
                        round,
                    })
                }
                _ => None,
            }
        }
    };
    match msg {
        Some(m) if bad.is_empty() => Ok(m),
        _ => {
            assert!(!bad.is_empty(), "oracle bug: no message and no offender");
            Err(bad)
        }
    }
}

// ---- the generator (SplitMix64) ----

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A valid counter, biased to small values, the edges and the top of the range.
    fn counter(&mut self) -> u64 {
        match self.below(6) {
            0 => self.below(4),
            1 => self.below(1000),
            2 => self.pick(&[
                0,
                1,
                (1 << 31) - 1,
                1 << 32,
                (1 << 40) + 1,
                (1 << 52) + 1,
                (1 << 53) - 2,
                (1 << 53) - 1,
            ]),
            3 => (1 << 53) - 1 - self.below(1000),
            _ => self.below(1 << 53),
        }
    }
    /// A counter in [0, hi].
    fn counter_upto(&mut self, hi: u64) -> u64 {
        match self.below(3) {
            0 => hi,
            1 => hi.saturating_sub(self.below(3)),
            _ => self.below(hi.saturating_add(1)),
        }
    }
    /// Any number, valid or not.
    fn number(&mut self) -> f64 {
        const ODD: [f64; 21] = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            -1.0,
            -1e-300,
            0.5,
            1.5,
            f64::EPSILON,
            f64::MIN_POSITIVE,
            5e-324,
            9_007_199_254_740_992.0,      // 2^53
            9_007_199_254_740_994.0,      // 2^53 + 2
            18_446_744_073_709_551_616.0, // 2^64
            1e21,
            1e308,
            f64::MAX,
            -f64::MAX,
            -9_007_199_254_740_991.0,
            4_503_599_627_370_495.5, // 2^52 - 0.5
            -9_007_199_254_740_992.0,
        ];
        match self.below(4) {
            0 => self.pick(&ODD),
            1 => self.counter() as f64,
            2 => (self.below(2000) as f64 - 1000.0) / 8.0,
            _ => f64::from_bits(self.next()), // any bit pattern: NaNs, subnormals, huge
        }
    }
    fn field(&mut self) -> Field {
        match self.below(10) {
            0 => Field::Missing,
            1 | 2 => Field::Bool(self.chance(50)),
            3 => Field::Other(self.pick(&[
                "string",
                "symbol",
                "object",
                "function",
                "bigint",
                "unreadable",
                "unknown",
            ])),
            _ => Field::Number(self.number()),
        }
    }
    /// A confirmation round: usually none (0, absent from the body).
    fn round(&mut self) -> u64 {
        if self.chance(60) {
            0
        } else {
            self.counter()
        }
    }
    fn valid_message(&mut self, c: Channel) -> Message {
        let term = self.counter();
        match c {
            Channel::VoteRequest => {
                let lt = self.counter_upto(term);
                Message::VoteRequest {
                    term,
                    pre_vote: self.chance(50),
                    last: Version::new(lt, self.counter()),
                    transfer: self.chance(20),
                }
            }
            Channel::VoteResponse => Message::VoteResponse {
                term,
                pre_vote: self.chance(50),
                granted: self.chance(50),
            },
            Channel::SyncData => {
                let di = self.counter();
                let ct = self.counter_upto(term);
                let ci = self.counter_upto(di);
                let ci = if ct == term { ci.min(di) } else { ci };
                Message::Append {
                    term,
                    version: Version::new(term, di),
                    with_data: self.chance(50),
                    commit: Version::new(ct, ci),
                    transfer: self.chance(20),
                    round: self.round(),
                }
            }
            Channel::DataResponse => Message::AppendResponse {
                term,
                success: self.chance(50),
                latest: Version::new(self.counter_upto(term), self.counter()),
                round: self.round(),
            },
        }
    }
}

fn encoded(msg: &Message) -> Body {
    let mut b = Body {
        data: matches!(
            msg,
            Message::Append {
                with_data: true,
                ..
            }
        ),
        ..Body::default()
    };
    wire::encode(msg, |k, v| {
        b.fields.insert(
            k,
            match v {
                Out::Number(n) => Field::Number(n as f64),
                Out::Bool(x) => Field::Bool(x),
            },
        );
    });
    b
}

/// A body for `c`: a valid message's fields, then 0–3 mutations (a field replaced by anything,
/// removed, or nudged by one; a relation broken; a stray field added); or all fields random.
fn generate(g: &mut Gen, c: Channel) -> Body {
    let names = channel_fields(c);
    let mut b = if g.chance(85) {
        let m = g.valid_message(c);
        encoded(&m)
    } else {
        let mut b = Body::default();
        for &n in names {
            if g.chance(85) {
                b.fields.insert(n, g.field());
            }
        }
        b
    };
    b.data = g.chance(50);
    for _ in 0..g.below(4) {
        let name = g.pick(names);
        match g.below(6) {
            0 => {
                b.fields.remove(name);
            }
            1 => {
                let f = g.field();
                b.fields.insert(name, f);
            }
            2 => {
                // off by one around a valid value (relations, 2^53 - 1 + 1, -1)
                if let Field::Number(n) = b.get(name) {
                    let d = if g.chance(50) { 1.0 } else { -1.0 };
                    b.fields.insert(name, Field::Number(n + d));
                }
            }
            3 => {
                // copy one numeric field onto another (equal terms, swapped orders)
                let other = g.pick(names);
                let f = b.get(other);
                b.fields.insert(name, f);
            }
            4 => {
                let stray = g.pick(&ALL_NAMES);
                if !names.contains(&stray) {
                    let f = g.field();
                    b.fields.insert(stray, f);
                }
            }
            _ => {
                let f = Field::Number(g.number());
                b.fields.insert(name, f);
            }
        }
    }
    b
}

// ---- the properties ----

/// `None` when every property holds for `b`, else what broke.
fn check(c: Channel, b: &Body) -> Option<String> {
    let body = b.fresh();
    let got = match catch_unwind(AssertUnwindSafe(|| wire::decode(c, &body))) {
        Ok(r) => r,
        Err(_) => return Some("decode panicked".into()),
    };
    let allowed = channel_fields(c);
    if let Some(stray) = body
        .reads
        .borrow()
        .iter()
        .find(|n| !(allowed.contains(n) || (c == Channel::SyncData && **n == wire::DATA)))
    {
        return Some(format!("decode read `{stray}`, not a field of {c:?}"));
    }
    match (oracle(c, b), got) {
        (Ok(want), Ok(m)) => {
            if want != m {
                return Some(format!("decoded {m:?}, the oracle says {want:?}"));
            }
            // re-encode: the same fields (an optional flag may be absent for `false` either way)
            let again = encoded(&m);
            for &n in allowed {
                let sent = again.get(n);
                let read = b.get(n);
                let same = match (sent, read) {
                    (Field::Number(x), Field::Number(y)) => x == y, // -0 == 0
                    (Field::Bool(x), Field::Bool(y)) => x == y,
                    // an optional counter: absent and 0 (or -0) are the same
                    (Field::Missing, Field::Missing | Field::Number(0.0))
                        if OPTIONAL_COUNTERS.contains(&n) =>
                    {
                        true
                    }
                    // an optional flag: absent and `false` are the same
                    (Field::Missing | Field::Bool(false), Field::Missing | Field::Bool(false)) => {
                        OPTIONAL_FLAGS.contains(&n)
                    }
                    _ => false,
                };
                if !same {
                    return Some(format!(
                        "`{n}` re-encodes as {sent:?}, was read as {read:?} ({m:?})"
                    ));
                }
            }
            let again = again.fresh();
            match wire::decode(c, &again) {
                Ok(m2) if m2 == m => None,
                other => Some(format!(
                    "re-encoded {m:?} decodes to {other:?} (fields {:?})",
                    again.fields
                )),
            }
        }
        (Ok(want), Err(e)) => Some(format!("rejected ({e}) but well-formed: {want:?}")),
        (Err(bad), Ok(m)) => Some(format!("accepted as {m:?} but {bad:?} offend")),
        (Err(bad), Err(e)) => {
            if !bad.contains(&e.field) {
                return Some(format!(
                    "rejection names `{}` ({e}); offenders: {bad:?}",
                    e.field
                ));
            }
            let text = e.to_string();
            if !text.contains(&format!("`{}`", e.field)) {
                return Some(format!("rejection text does not name the field: {text}"));
            }
            // a wrong type is named in the text
            if let Field::Other(t) = b.get(e.field) {
                if !text.contains(t) {
                    return Some(format!("rejection text does not name the type {t}: {text}"));
                }
            }
            None
        }
    }
}

/// Greedy shrink: drop fields, then simplify values, while the failure remains.
fn shrink(c: Channel, mut b: Body) -> Body {
    loop {
        let mut progressed = false;
        let keys: Vec<&'static str> = b.fields.keys().copied().collect();
        for k in keys {
            let mut t = b.fresh();
            t.fields.remove(k);
            if check(c, &t).is_some() {
                b = t;
                progressed = true;
                continue;
            }
            // candidates in order of simplicity: never trade one for a later one (no cycles)
            let simpler = [Field::Number(0.0), Field::Number(1.0), Field::Bool(false)];
            let rank = simpler.iter().position(|s| *s == b.get(k));
            for (i, simpler) in simpler.into_iter().enumerate() {
                if rank.is_some_and(|r| r <= i) {
                    break;
                }
                let mut t = b.fresh();
                t.fields.insert(k, simpler);
                if check(c, &t).is_some() {
                    b = t;
                    progressed = true;
                    break;
                }
            }
        }
        if b.data {
            let mut t = b.fresh();
            t.data = false;
            if check(c, &t).is_some() {
                b = t;
                progressed = true;
            }
        }
        if !progressed {
            return b;
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn decode_agrees_with_the_contract_on_generated_bodies() {
    let cases = env_u64("WIRE_PROP_CASES", 300_000);
    let seed = env_u64("WIRE_PROP_SEED", 0x5EED_0006);
    println!(
        "wire_prop: seed {seed}, {cases} cases per channel (WIRE_PROP_SEED / WIRE_PROP_CASES)"
    );
    let mut accepted = [0u64; 4];
    for (ci, c) in Channel::ALL.into_iter().enumerate() {
        let mut g = Gen(seed ^ ((ci as u64 + 1) << 56));
        for case in 0..cases {
            let b = generate(&mut g, c);
            if let Some(why) = check(c, &b) {
                let small = shrink(c, b.fresh());
                panic!(
                    "{c:?} case {case} (seed {seed}): {why}\n  body: {:?} data={}\n  shrunk: {:?} data={}\n  shrunk failure: {}",
                    b.fields,
                    b.data,
                    small.fields,
                    small.data,
                    check(c, &small).unwrap_or_default()
                );
            }
            if oracle(c, &b).is_ok() {
                accepted[ci] += 1;
            }
        }
    }
    println!("wire_prop: well-formed bodies per channel {accepted:?} of {cases}");
    // the generator must exercise both sides of every channel
    for (ci, &a) in accepted.iter().enumerate() {
        assert!(
            a > cases / 10 && a < cases - cases / 10,
            "channel {ci}: {a} of {cases} well-formed: the generator is lopsided"
        );
    }
}

/// Exhaustive edge values on every numeric and boolean field of a valid body of each channel.
#[test]
fn every_bad_value_of_every_field_is_rejected_with_its_name() {
    let bad_numbers = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        -0.5,
        0.5,
        1.0 + f64::EPSILON,
        5e-324,
        9_007_199_254_740_992.0,
        9_007_199_254_740_994.0,
        1e308,
        f64::MAX,
        -f64::MAX,
    ];
    let bad_types = ["string", "symbol", "object", "function", "bigint"];
    let mut g = Gen(7);
    let mut checked = 0;
    for c in Channel::ALL {
        let m = g.valid_message(c);
        let valid = encoded(&m);
        assert_eq!(wire::decode(c, &valid.fresh()), Ok(m.clone()));
        for &name in channel_fields(c) {
            let numeric =
                matches!(valid.get(name), Field::Number(_)) || OPTIONAL_COUNTERS.contains(&name);
            let optional = OPTIONAL_FLAGS.contains(&name);
            let mut values: Vec<Field> = bad_types.iter().map(|t| Field::Other(t)).collect();
            if numeric {
                values.extend(bad_numbers.iter().map(|&n| Field::Number(n)));
                values.extend([Field::Bool(true), Field::Bool(false)]);
                if !OPTIONAL_COUNTERS.contains(&name) {
                    values.push(Field::Missing);
                }
            } else {
                values.extend([Field::Number(0.0), Field::Number(1.0)]);
                if !optional {
                    values.push(Field::Missing);
                }
            }
            for v in values {
                let mut b = valid.fresh();
                b.fields.insert(name, v);
                let e = wire::decode(c, &b)
                    .expect_err(&format!("{c:?}: `{name}` = {v:?} was accepted"));
                assert_eq!(e.field, name, "{c:?}: `{name}` = {v:?}: {e}");
                checked += 1;
            }
        }
        // the edges of the range are accepted: 0, -0 (as 0) and 2^53 - 1 on every counter
        for &name in channel_fields(c) {
            if !matches!(valid.get(name), Field::Number(_)) {
                continue;
            }
            for edge in [0.0, -0.0, MAX] {
                let mut b = valid.fresh();
                b.fields.insert(name, Field::Number(edge));
                let want = oracle(c, &b);
                let got = wire::decode(c, &b.fresh()).map_err(|e| e.field);
                match want {
                    Ok(m) => assert_eq!(got, Ok(m), "{c:?}: `{name}` = {edge}"),
                    // the edge broke a relation (e.g. term 0 under lastTerm 5): a relation
                    // field is named
                    Err(bad) => assert!(
                        got.as_ref().is_err_and(|f| bad.contains(f)),
                        "{c:?}: `{name}` = {edge}: {got:?}, offenders {bad:?}"
                    ),
                }
            }
        }
    }
    assert!(checked > 100);
}

/// The relations, each broken by the smallest step, on otherwise valid bodies.
#[test]
fn relations_are_enforced_at_their_boundary() {
    let n = |x: u64| Field::Number(x as f64);
    let body = |pairs: &[(&'static str, Field)]| Body {
        fields: pairs.iter().copied().collect(),
        ..Body::default()
    };
    let top = (1u64 << 53) - 1;
    // lastTerm <= term
    for (t, lt, ok) in [
        (5, 5, true),
        (5, 6, false),
        (top, top, true),
        (top - 1, top, false),
    ] {
        let b = body(&[
            (wire::TERM, n(t)),
            (wire::LAST_TERM, n(lt)),
            (wire::LAST_INDEX, n(1)),
        ]);
        let r = wire::decode(Channel::VoteRequest, &b);
        assert_eq!(r.is_ok(), ok, "lastTerm {lt} term {t}: {r:?}");
        if !ok {
            assert_eq!(r.map_err(|e| e.field), Err(wire::LAST_TERM));
        }
    }
    // syncData: dataTerm == term, commit <= version
    let sync = |t, dt, di, ct, ci| {
        let b = body(&[
            (wire::TERM, n(t)),
            (wire::DATA_TERM, n(dt)),
            (wire::DATA_INDEX, n(di)),
            (wire::COMMIT_TERM, n(ct)),
            (wire::COMMIT_INDEX, n(ci)),
        ]);
        wire::decode(Channel::SyncData, &b).map_err(|e| e.field)
    };
    assert!(sync(5, 5, 9, 5, 9).is_ok());
    assert!(sync(5, 5, 9, 4, 9).is_ok());
    assert_eq!(sync(5, 4, 9, 4, 9), Err(wire::DATA_TERM));
    assert_eq!(sync(5, 6, 9, 4, 9), Err(wire::DATA_TERM));
    assert_eq!(sync(5, 5, 9, 5, 10), Err(wire::COMMIT_INDEX));
    assert_eq!(sync(5, 5, 9, 6, 9), Err(wire::COMMIT_INDEX));
    assert_eq!(sync(5, 5, 9, 4, 10), Err(wire::COMMIT_INDEX)); // older term, higher index
    assert!(sync(top, top, top, top, top).is_ok());
    // dataResponse: dataTerm <= term
    let resp = |t, dt| {
        let b = body(&[
            (wire::TERM, n(t)),
            (wire::DATA_TERM, n(dt)),
            (wire::DATA_INDEX, n(3)),
            (wire::SUCCESS, Field::Bool(true)),
        ]);
        wire::decode(Channel::DataResponse, &b).map_err(|e| e.field)
    };
    assert!(resp(7, 7).is_ok());
    assert_eq!(resp(7, 8), Err(wire::DATA_TERM));
}
