//! What `persistAgent.restore(node)` returned, checked before the core starts from it. A shape
//! it cannot trust is refused (the node then does not start: safer than forgetting a vote), and
//! so is a body another node (or cluster) persisted: its term and vote are not ours. raftq
//! 1.0.0's `{ term, votedFor, data }` restores, as version zero.

use super::convert::{id_key, intern_key, type_name, Key};
use super::js::{self, Builtins};
use super::Restored;
use napi::bindgen_prelude::{JsObjectValue, Object, Unknown};
use napi::{Env, JsValue, Result, ValueType};
use raftq_core::{wire, HardState, Version, Voters};

/// `Ok(Err(reason))` for a body that is refused; `Err` when reading it threw (a getter).
pub fn parse<'env>(
    env: &'env Env,
    b: &Builtins,
    r: Unknown<'env>,
    id: &Unknown<'env>,
    cluster: Option<&str>,
) -> Result<std::result::Result<Restored<'env>, String>> {
    let empty = |data: Unknown<'env>| Restored {
        state: HardState {
            term: 0,
            voted_for: None,
            latest: Version::ZERO,
            committed: Version::ZERO,
            latest_voters: None,
            committed_voters: None,
        },
        data,
        committed_data: None,
    };
    match r.get_type()? {
        ValueType::Undefined | ValueType::Null => {
            let e = js::freeze(env, b, Object::new(env)?.to_unknown())?;
            return Ok(Ok(empty(e)));
        }
        ValueType::Object => {}
        t => {
            return Ok(Err(format!(
                "restored data must be an object, got {}",
                type_name(t)
            )))
        }
    }
    // SAFETY: the type was checked
    let r: Object = unsafe { r.cast()? };
    let get = |name: &str| -> Result<Unknown<'env>> { r.get_named_property_unchecked(name) };
    let is_undefined = |v: &Unknown| -> Result<bool> { Ok(v.get_type()? == ValueType::Undefined) };

    // raftq 1.0.0's bodies have no `nodeId` (nor `cluster`): they restore as before
    let node_id = get("nodeId")?;
    if !is_undefined(&node_id)? && !js::strict_equals(env, &node_id, id)? {
        return Ok(Err(format!(
            "the persisted state belongs to another node (nodeId {}, this node is {})",
            show_id(env, b, &node_id),
            show_id(env, b, id)
        )));
    }
    // options.cluster: a body that names a cluster restores only into that cluster
    let theirs = get("cluster")?;
    if !is_undefined(&theirs)? {
        let same = match (theirs.get_type()?, cluster) {
            // SAFETY: the type was checked
            (ValueType::String, Some(c)) => {
                let t: String = unsafe { theirs.cast()? };
                t == c
            }
            _ => false,
        };
        if !same {
            let mine = match cluster {
                None => "has no options.cluster".to_string(),
                Some(c) => format!("is in {}", quote(c)),
            };
            return Ok(Err(format!(
                "the persisted state belongs to another cluster ({}, this node {mine})",
                show_id(env, b, &theirs)
            )));
        }
    }
    let Some(term) = counter(&get("term")?)? else {
        return Ok(Err(
            "restored `term` must be a non-negative integer".to_string()
        ));
    };
    let voted = get("votedFor")?;
    let voted_for = match voted.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        _ => match id_key(&voted)? {
            Ok(k) => Some(k),
            Err(_) if !is_id(&voted)? => {
                return Ok(Err(
                    "restored `votedFor` must be a node id or null".to_string()
                ))
            }
            Err(reason) => return Ok(Err(format!("persisted `votedFor` {reason}"))),
        },
    };
    let data = get("data")?;
    let data = if is_undefined(&data)? {
        Object::new(env)?.to_unknown()
    } else {
        data
    };
    // what JSON cannot hold (a BigInt from a reviver, a cycle) would make every later persist
    // fail for good: refused here. What it holds differently (a Date from a reviver) is taken
    // as JSON holds it, as the leader stores every value it replicates (see `js::normalise`)
    let data = match json_value(env, b, "data", &data)? {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    const OURS: [&str; 4] = ["dataTerm", "dataIndex", "commitTerm", "commitIndex"];
    let mut fields = [None; 4];
    let mut present = 0;
    for (i, f) in OURS.iter().enumerate() {
        let v = get(f)?;
        if !is_undefined(&v)? {
            present += 1;
            fields[i] = Some(v);
        }
    }
    if present == 0 {
        // raftq 1.0.0's `{ term, votedFor, data }`: its data is version zero
        let mut out = empty(data);
        out.state.term = term;
        out.state.voted_for = voted_for;
        return Ok(Ok(out));
    }
    let mut n = [0u64; 4];
    for (i, f) in OURS.iter().enumerate() {
        let v = match &fields[i] {
            Some(v) => counter(v)?,
            None => None,
        };
        match v {
            Some(v) => n[i] = v,
            None => {
                return Ok(Err(format!(
                    "restored `{f}` must be a non-negative integer"
                )))
            }
        }
    }
    let latest = Version::new(n[0], n[1]);
    let committed = Version::new(n[2], n[3]);
    let same_version = latest == committed;
    if !same_version && !r.has_named_property("committedData")? {
        return Ok(Err(
            "restored `committedData` is missing (the commit version differs from the data version)"
                .to_string(),
        ));
    }
    if committed > latest {
        return Ok(Err(
            "restored commit version is ahead of the data version".to_string()
        ));
    }
    let committed_data = if same_version {
        None
    } else {
        match json_value(env, b, "committedData", &get("committedData")?)? {
            Ok(v) => Some(v),
            Err(why) => return Ok(Err(why)),
        }
    };
    // the configurations (absent from raftq's files and older raftq-native ones: the node
    // then bootstraps from its acks)
    let latest_voters = match voters(&get("members")?)? {
        Ok(v) => v,
        Err(reason) => return Ok(Err(format!("restored `members` {reason}"))),
    };
    let committed_voters = if same_version {
        latest_voters.clone()
    } else {
        match voters(&get("committedMembers")?)? {
            Ok(v) => v,
            Err(reason) => return Ok(Err(format!("restored `committedMembers` {reason}"))),
        }
    };
    Ok(Ok(Restored {
        state: HardState {
            term,
            voted_for,
            latest,
            committed,
            latest_voters,
            committed_voters,
        },
        data,
        committed_data,
    }))
}

/// A persisted configuration: absent, or a non-empty array of node ids.
pub fn voters(v: &Unknown) -> Result<std::result::Result<Option<Voters<Key>>, String>> {
    match v.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(Ok(None)),
        ValueType::Object => {}
        t => {
            return Ok(Err(format!(
                "must be an array of node ids, got {}",
                type_name(t)
            )))
        }
    }
    // SAFETY: the type was checked
    let o: Object = unsafe { v.cast()? };
    if !o.is_array()? {
        return Ok(Err("must be an array of node ids".to_string()));
    }
    let len = o.get_array_length()?;
    if len == 0 || len > MAX_VOTERS {
        return Ok(Err(format!(
            "must hold 1 to {MAX_VOTERS} node ids, got {len}"
        )));
    }
    let mut keys = Vec::with_capacity(len as usize);
    for i in 0..len {
        let e: Unknown = o.get_element(i)?;
        match intern_key(&e)? {
            Ok(k) => keys.push(k),
            Err(reason) => return Ok(Err(format!("holds an id that {reason}"))),
        }
    }
    Ok(Ok(Some(Voters::new(keys))))
}

/// The most voters a configuration read from outside (a file, a message) may hold.
pub const MAX_VOTERS: u32 = 1024;

/// A restored value as JSON holds it, frozen; `Err(reason)` when JSON cannot hold it.
fn json_value<'env>(
    env: &'env Env,
    b: &Builtins,
    name: &str,
    v: &Unknown<'env>,
) -> Result<std::result::Result<Unknown<'env>, String>> {
    Ok(match js::normalise(env, b, v) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(format!(
            "restored `{name}` must be a JSON value (got {})",
            type_name(v.get_type()?)
        )),
        Err(why) => Err(format!(
            "restored `{name}` must be a JSON value, which it is not ({why}): every later persist would fail"
        )),
    })
}

/// `Number.isSafeInteger(v) && v >= 0`.
fn counter(v: &Unknown) -> Result<Option<u64>> {
    if v.get_type()? != ValueType::Number {
        return Ok(None);
    }
    // SAFETY: the type was checked
    let n: f64 = unsafe { v.cast()? };
    Ok(
        if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= wire::MAX_SAFE_INTEGER {
            Some(n as u64)
        } else {
            None
        },
    )
}

/// A string or a finite number.
fn is_id(v: &Unknown) -> Result<bool> {
    Ok(match v.get_type()? {
        ValueType::String => true,
        // SAFETY: the type was checked
        ValueType::Number => unsafe { v.cast::<f64>()? }.is_finite(),
        _ => false,
    })
}

/// An id as a log line shows it: strings quoted, so `1` and `'1'` read differently.
pub fn show_id(env: &Env, b: &Builtins, v: &Unknown) -> String {
    match v.get_type() {
        Ok(ValueType::String) => match js::stringify(env, b, v) {
            Ok(Some(s)) => s,
            _ => "a string".to_string(),
        },
        Ok(ValueType::Number) => js::to_string(v).unwrap_or_else(|_| "a number".to_string()),
        Ok(t) => format!("a {}", type_name(t)),
        Err(_) => "a value".to_string(),
    }
}

/// A Rust string as JSON quotes it.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
