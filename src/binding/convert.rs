//! Conversions between JS values and the core's types: node id keys, version keys, incoming
//! message fields, and the records of one call's outputs (handled by `raftq::State::apply`).

use napi::bindgen_prelude::{JsObjectValue, Object, Unknown};
use napi::JsString;
use napi::{JsValue, Result, ValueType};
use raftq_core::wire::{self, Field, Fields};
use raftq_core::{Message, Output, ProposalFailure, ReadFailure, Version, Voters};
use std::cell::Cell;

/// The longest string id accepted, in UTF-16 code units (JS `length`). Every message names its
/// sender: a bound on ids bounds what a sender can make the node hold or log.
pub const ID_MAX_LEN: usize = 256;

/// A node id inside the addon and the core: `n:<number>` or `s:<string>`, so `0` and `'0'`
/// stay different ids and both keep their JS type on the way back. Shared, not copied: the ids
/// of members and of this node are interned (`intern_key`), so a message from a member costs a
/// lookup and a reference count, no allocation.
pub type Key = std::sync::Arc<str>;

/// The interned ids of this thread (members and self, as acked: the app decides how many).
/// Beyond `INTERN_MAX` nothing more is interned (still correct, only not shared).
const INTERN_MAX: usize = 65_536;

thread_local! {
    static INTERNED: std::cell::RefCell<std::collections::HashSet<Key>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// The id's key text, built in a stack buffer, handed to `f`; `Err(reason)` for an invalid id
/// (the reason completes "`<field>` ...").
fn with_key_text<R>(
    v: &Unknown,
    f: impl FnOnce(&str) -> R,
) -> Result<std::result::Result<R, String>> {
    // "s:" + at most 256 UTF-16 units, each at most 3 UTF-8 bytes, + the NUL napi writes
    let mut buf = [0u8; 2 + 3 * ID_MAX_LEN + 1];
    Ok(match v.get_type()? {
        ValueType::Number => {
            // SAFETY: the type was checked just above
            let n: f64 = unsafe { v.cast()? };
            if !n.is_finite() {
                Err(ID_TYPE_REASON.to_string())
            } else {
                use std::io::Write;
                let mut cur = std::io::Cursor::new(&mut buf[..]);
                // -0 === 0 in JS
                let n = if n == 0.0 { 0.0 } else { n };
                let ok = write!(cur, "n:{n}").is_ok();
                let len = cur.position() as usize;
                match std::str::from_utf8(&buf[..len]) {
                    Ok(text) if ok => Ok(f(text)),
                    _ => Err(ID_TYPE_REASON.to_string()),
                }
            }
        }
        ValueType::String => {
            // SAFETY: the type was checked just above
            let js: JsString = unsafe { v.cast()? };
            // the length first: a huge id is rejected without being copied
            let len = js.utf16_len()?;
            if len > ID_MAX_LEN {
                Err(format!(
                    "must be at most {ID_MAX_LEN} characters long (got {len})"
                ))
            } else {
                buf[0] = b's';
                buf[1] = b':';
                let mut written = 0usize;
                // SAFETY: N-API call on the JS thread; the buffer outlives it and its size is
                // passed (napi writes at most size - 1 bytes and a NUL)
                let status = unsafe {
                    napi::sys::napi_get_value_string_utf8(
                        js.value().env,
                        js.value().value,
                        buf[2..].as_mut_ptr().cast(),
                        buf.len() - 2,
                        &mut written,
                    )
                };
                if status != napi::sys::Status::napi_ok {
                    return Err(napi::Error::from_status(napi::Status::from(status)));
                }
                match std::str::from_utf8(&buf[..2 + written]) {
                    // U+FFFD in the text: the id itself, or a lone surrogate napi read as it
                    Ok(text) if text.contains('\u{FFFD}') && super::js::has_lone_surrogate(v)? => {
                        Err(LONE_SURROGATE_REASON.to_string())
                    }
                    Ok(text) => Ok(f(text)),
                    Err(_) => Err(ID_TYPE_REASON.to_string()),
                }
            }
        }
        _ => Err(ID_TYPE_REASON.to_string()),
    })
}

/// The key of a node id (`Err(reason)` when invalid): the interned one when there is one, else
/// a new one (not kept: ids from strangers are never remembered).
pub fn id_key(v: &Unknown) -> Result<std::result::Result<Key, String>> {
    with_key_text(v, |text| {
        INTERNED
            .with(|set| set.borrow().get(text).cloned())
            .unwrap_or_else(|| Key::from(text))
    })
}

/// The key of a member's or this node's id, interned (see `Key`).
pub fn intern_key(v: &Unknown) -> Result<std::result::Result<Key, String>> {
    with_key_text(v, |text| {
        INTERNED.with(|set| {
            let mut set = set.borrow_mut();
            if let Some(k) = set.get(text) {
                return k.clone();
            }
            let k = Key::from(text);
            if set.len() < INTERN_MAX {
                set.insert(k.clone());
            }
            k
        })
    })
}

/// A key back to the node id in its JS type (the inverse of `id_key`).
pub fn key_to_id<'env>(env: &'env napi::Env, key: &str) -> Result<Unknown<'env>> {
    use napi::bindgen_prelude::ToNapiValue;
    match key.split_at_checked(2) {
        Some(("n:", n)) => n.parse::<f64>().unwrap_or(f64::NAN).into_unknown(env),
        Some(("s:", s)) => s.into_unknown(env),
        _ => key.into_unknown(env),
    }
}

const ID_TYPE_REASON: &str = "must be a string or a finite number";
/// Lone surrogates read as U+FFFD: two such ids would be one node.
const LONE_SURROGATE_REASON: &str =
    "must not contain a lone surrogate (an unpaired UTF-16 code unit: it would read as U+FFFD, the same as other ids)";

/// A key as the id reads in a log line: a number as itself, a string quoted (`5050` and
/// `"5050"` are different nodes), control characters and quotes escaped (ids come from the
/// network).
pub fn display_id(key: &str) -> String {
    let (quoted, raw) = match key.split_at_checked(2) {
        Some(("n:", n)) => (false, n),
        Some(("s:", s)) => (true, s),
        _ => (false, key),
    };
    let mut out = String::with_capacity(raw.len() + 2);
    if quoted {
        out.push('"');
    }
    for c in raw.chars() {
        if c.is_control() || (quoted && (c == '"' || c == '\\')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if quoted {
        out.push('"');
    }
    out
}

/// A version as a map key on the JS side.
pub fn version_key(v: Version) -> String {
    format!("{}:{}", v.term, v.index)
}

pub fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::Function => "function",
        ValueType::External => "external",
        ValueType::BigInt => "bigint",
        _ => "unknown",
    }
}

/// An incoming message body read field by field (no serde: only the fields the core needs
/// cross the boundary).
pub struct JsFields<'a, 'env> {
    pub env: &'a napi::Env,
    pub b: &'a super::js::Builtins,
    pub obj: &'a Object<'env>,
    /// Whether `data` is present, when the caller read it already (read once).
    pub data: Option<bool>,
    /// A read threw (a getter, a Proxy): its exception is pending; the caller takes it.
    pub thrown: Cell<bool>,
}

impl<'a, 'env> JsFields<'a, 'env> {
    pub fn new(
        env: &'a napi::Env,
        b: &'a super::js::Builtins,
        obj: &'a Object<'env>,
        data: Option<bool>,
    ) -> Self {
        JsFields {
            env,
            b,
            obj,
            data,
            thrown: Cell::new(false),
        }
    }

    fn get(&self, name: &str) -> Option<Unknown<'_>> {
        if self.thrown.get() {
            return None;
        }
        match self.b.prop(self.env, self.obj, name) {
            Ok(v) => Some(v),
            Err(_) => {
                self.thrown.set(true);
                None
            }
        }
    }
}

impl Fields for JsFields<'_, '_> {
    fn field(&self, name: &'static str) -> Field {
        let Some(v) = self.get(name) else {
            return Field::Other("unreadable");
        };
        match v.get_type() {
            Ok(ValueType::Undefined | ValueType::Null) => Field::Missing,
            // SAFETY: the type was checked
            Ok(ValueType::Number) => match unsafe { v.cast::<f64>() } {
                Ok(n) => Field::Number(n),
                Err(_) => Field::Other("unreadable"),
            },
            // SAFETY: the type was checked
            Ok(ValueType::Boolean) => match unsafe { v.cast::<bool>() } {
                Ok(b) => Field::Bool(b),
                Err(_) => Field::Other("unreadable"),
            },
            Ok(t) => Field::Other(type_name(t)),
            Err(_) => Field::Other("unreadable"),
        }
    }

    fn has_data(&self) -> bool {
        if let Some(d) = self.data {
            return d;
        }
        self.get(wire::DATA)
            .and_then(|v| v.get_type().ok())
            .is_some_and(|t| t != ValueType::Undefined)
    }
}

/// The data value of each version the core holds: a JS object (version key -> value) the
/// binding keeps by reference. Values stay JS values; only references move.
pub struct Values<'env> {
    pub obj: Object<'env>,
}

impl<'env> Values<'env> {
    pub fn get(&self, v: Version) -> Result<Unknown<'env>> {
        self.obj.get_named_property_unchecked(&version_key(v))
    }

    pub fn set(&mut self, v: Version, value: Unknown) -> Result<()> {
        self.obj.set_named_property(&version_key(v), value)
    }

    pub fn release(&mut self, v: Version) -> Result<()> {
        self.obj.delete_named_property(version_key(v)).map(|_| ())
    }
}

/// What one call into the core produced, in order, for the bus to emit. Values are read when
/// the record is made (a later `Released` in the same batch may drop them).
pub enum Rec<'env> {
    /// A message to a member; `data`: the value its version carries, when it carries one, and
    /// `voters` that version's configuration.
    Send {
        to: Key,
        msg: Message,
        data: Option<Unknown<'env>>,
        voters: Option<Voters<Key>>,
    },
    Role(u32),
    /// The known leader changed (the term it leads, as far as this node knows).
    Leader(Option<Key>, u64),
    /// What `getData()` shows changed, to this value of this version.
    Data(Unknown<'env>, Version),
    Log(String),
    Proposal {
        version: Version,
        committed: bool,
        failure: Option<ProposalFailure>,
        latency_ms: u64,
    },
    /// The commit point advanced (what a timed-out proposal's fate is read from).
    Committed(Version),
    /// A `confirmLeadership()` request is decided.
    Confirmed {
        id: u64,
        confirmed: bool,
    },
    Transfer {
        succeeded: bool,
    },
    /// The configuration changed: the latest version's (`committed` false) or the committed
    /// one's.
    Config {
        voters: Voters<Key>,
        version: Version,
        committed: bool,
    },
    /// A `read()` is decided: the committed value and its version (read when the record is
    /// made), or why not.
    Read {
        id: u64,
        result: std::result::Result<(Unknown<'env>, Version), ReadFailure>,
    },
}

/// The records of one call, and the values store (aliases and releases change it here).
pub struct Records<'env> {
    pub list: Vec<Rec<'env>>,
    pub values: Values<'env>,
    /// The node's term once the outputs were taken (what `leaderChanged` reports).
    pub term: u64,
}

impl<'env> Records<'env> {
    pub fn new(values: Values<'env>) -> Self {
        Records {
            list: Vec::new(),
            values,
            term: 0,
        }
    }

    pub fn log(&mut self, line: impl Into<String>) {
        self.list.push(Rec::Log(line.into()));
    }

    /// The incoming message's data value (`data`, read once by the caller) was accepted as
    /// `v`: keep it (before the outputs).
    pub fn accepted(&mut self, v: Version, data: Unknown) -> Result<()> {
        self.values.set(v, data)
    }

    pub fn outputs(&mut self, outs: Vec<Output<Key>>) -> Result<()> {
        for o in outs {
            self.output(o)?;
        }
        Ok(())
    }

    fn output(&mut self, o: Output<Key>) -> Result<()> {
        let r = match o {
            Output::Send { to, msg, voters } => {
                let data = match msg {
                    Message::Append {
                        version,
                        with_data: true,
                        ..
                    } => Some(self.values.get(version)?),
                    _ => None,
                };
                Rec::Send {
                    to,
                    msg,
                    data,
                    voters,
                }
            }
            // the persist queue takes them before (`Inner::take_outputs`)
            Output::Persist { .. } => return Ok(()),
            Output::RoleChanged(role) => Rec::Role(role as u32),
            Output::LeaderChanged(leader) => Rec::Leader(leader, self.term),
            Output::Alias { version, copy_of } => {
                let value = self.values.get(copy_of)?;
                return self.values.set(version, value);
            }
            Output::DataChanged(v) => Rec::Data(self.values.get(v)?, v),
            // the effects of a commit come as Proposal, Data, Released; the class reads the
            // fate of timed-out proposals from it
            Output::Committed(c) => Rec::Committed(c),
            Output::Log(line) => Rec::Log(line),
            Output::Proposal {
                version,
                committed,
                failure,
                latency_ms,
            } => Rec::Proposal {
                version,
                committed,
                failure,
                latency_ms,
            },
            Output::Confirmed { id, confirmed } => Rec::Confirmed { id, confirmed },
            Output::TransferEnded { succeeded } => Rec::Transfer { succeeded },
            Output::ReadReady { id, version } => Rec::Read {
                id,
                result: Ok((self.values.get(version)?, version)),
            },
            Output::ReadFailed { id, failure } => Rec::Read {
                id,
                result: Err(failure),
            },
            Output::Released(v) => return self.values.release(v),
            Output::ConfigChanged {
                version,
                voters,
                committed,
            } => Rec::Config {
                voters,
                version,
                committed,
            },
        };
        self.list.push(r);
        Ok(())
    }
}
