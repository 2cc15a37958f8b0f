//! Conversions between JS values and the core's types: node id keys, version keys, incoming
//! message fields, outgoing output records.

use napi::bindgen_prelude::{Array, JsObjectValue, Null, Object, Unknown};
use napi::JsString;
use napi::{Env, Result, ValueType};
use raftq_core::wire::{self, Field, Fields, Out};
use raftq_core::{Channel, HardState, Output, Version};

/// Record kinds of the arrays handed to JS (`index.js` mirrors these numbers).
pub const REC_SEND: u32 = 0;
pub const REC_PERSIST: u32 = 1;
pub const REC_ROLE: u32 = 2;
pub const REC_LEADER: u32 = 3;
pub const REC_ALIAS: u32 = 4;
pub const REC_DATA: u32 = 5;
pub const REC_COMMITTED: u32 = 6;
pub const REC_LOG: u32 = 7;
pub const REC_PROPOSAL: u32 = 8;
pub const REC_TRANSFER: u32 = 9;
pub const REC_RELEASED: u32 = 10;

/// The fields of an outgoing message per channel, in the order `wire::encode` puts them and
/// `index.js` (`_send`) reads them from a send record; the last one (`transfer`, always `true`)
/// of the vote request and the sync is present only when set.
const OUT_FIELDS: [&[&str]; 4] = [
    &[
        wire::TERM,
        wire::PRE_VOTE,
        wire::LAST_TERM,
        wire::LAST_INDEX,
        wire::TRANSFER,
    ],
    &[wire::TERM, wire::GRANTED, wire::PRE_VOTE],
    &[
        wire::TERM,
        wire::DATA_TERM,
        wire::DATA_INDEX,
        wire::COMMIT_TERM,
        wire::COMMIT_INDEX,
        wire::TRANSFER,
    ],
    &[wire::TERM, wire::SUCCESS, wire::DATA_TERM, wire::DATA_INDEX],
];

/// A channel's number on the JS side (`Channel::ALL`'s order).
pub fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::VoteRequest => 0,
        Channel::VoteResponse => 1,
        Channel::SyncData => 2,
        Channel::DataResponse => 3,
    }
}

/// The longest string id accepted, in UTF-16 code units (JS `length`). Every message names its
/// sender: a bound on ids bounds what a sender can make the node hold or log.
pub const ID_MAX_LEN: usize = 256;

/// The one place where a JS node id becomes the core's id: `n:<number>` or `s:<string>`, so
/// `0` and `'0'` stay different ids and both keep their JS type on the way back. `Err(reason)`
/// for anything else (a bad id is rejected input); the reason completes "`<field>` ...".
pub fn id_key(v: &Unknown) -> Result<std::result::Result<String, String>> {
    Ok(match v.get_type()? {
        ValueType::Number => {
            // SAFETY: the type was checked just above
            let n: f64 = unsafe { v.cast()? };
            if !n.is_finite() {
                Err(ID_TYPE_REASON.to_string())
            } else if n == 0.0 {
                Ok("n:0".to_string()) // -0 === 0 in JS
            } else {
                Ok(format!("n:{n}"))
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
                // SAFETY: the type was checked just above
                let s: String = unsafe { v.cast()? };
                Ok(format!("s:{s}"))
            }
        }
        _ => Err(ID_TYPE_REASON.to_string()),
    })
}

const ID_TYPE_REASON: &str = "must be a string or a finite number";

/// A key as the id reads in a log line: the string or the number itself, control characters
/// escaped (ids come from the network).
pub fn display_id(key: &str) -> String {
    let raw = key.get(2..).unwrap_or(key);
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
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
    pub obj: &'a Object<'env>,
}

impl JsFields<'_, '_> {
    fn get(&self, name: &str) -> Option<Unknown<'_>> {
        self.obj.get_named_property_unchecked::<Unknown>(name).ok()
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
        self.get(wire::DATA)
            .and_then(|v| v.get_type().ok())
            .is_some_and(|t| t != ValueType::Undefined)
    }
}

/// Slots of the field buffer `index.js` fills for `NativeNode::receive_fields`: two numbers per
/// field, a tag (`TAG_*`) and the value (the number, or 0/1 for a boolean). The JS side reads the
/// fields (V8's inline caches make that nearly free) and only classifies them; every check of
/// type and range stays in `wire::decode`. `index.js` mirrors these numbers.
pub const SLOT_NAMES: [&str; 11] = [
    wire::TERM,
    wire::GRANTED,
    wire::SUCCESS,
    wire::PRE_VOTE,
    wire::TRANSFER,
    wire::LAST_TERM,
    wire::LAST_INDEX,
    wire::DATA_TERM,
    wire::DATA_INDEX,
    wire::COMMIT_TERM,
    wire::COMMIT_INDEX,
];
/// The slot whose tag tells whether `data` is present (not `undefined`).
pub const SLOT_DATA: usize = SLOT_NAMES.len();
/// Length of the buffer, in numbers.
pub const SLOTS_LEN: usize = 2 * (SLOT_NAMES.len() + 1);

/// The slots `index.js` fills for each channel (a bit per slot index): exactly the fields
/// `wire::decode` reads on it. Any other field is read from the object itself.
pub fn channel_slots(channel: Channel) -> u32 {
    const fn bits(slots: &[usize]) -> u32 {
        let mut m = 0;
        let mut i = 0;
        while i < slots.len() {
            m |= 1 << slots[i];
            i += 1;
        }
        m
    }
    match channel {
        Channel::VoteRequest => bits(&[0, 3, 4, 5, 6]),
        Channel::VoteResponse => bits(&[0, 1, 3]),
        Channel::SyncData => bits(&[0, 4, 7, 8, 9, 10, SLOT_DATA]),
        Channel::DataResponse => bits(&[0, 2, 7, 8]),
    }
}

pub const TAG_MISSING: f64 = 0.0;
pub const TAG_NUMBER: f64 = 1.0;
pub const TAG_BOOL: f64 = 2.0;

/// The type name of a tag above `TAG_BOOL` (`typeof` of what JS found).
fn tag_type_name(tag: f64) -> &'static str {
    match tag as u32 {
        3 => "string",
        4 => "symbol",
        5 => "object",
        6 => "function",
        7 => "bigint",
        _ => "unknown",
    }
}

/// An incoming message body as classified by `index.js` into the slot buffer; a field outside
/// the channel's slots falls back to reading the object by name.
pub struct SlotFields<'a, 'env> {
    pub slots: &'a [f64],
    pub filled: u32,
    pub obj: &'a Object<'env>,
}

impl SlotFields<'_, '_> {
    fn slot(&self, i: usize) -> Option<(f64, f64)> {
        if self.filled & (1 << i) == 0 {
            return None;
        }
        Some((*self.slots.get(2 * i)?, *self.slots.get(2 * i + 1)?))
    }
}

impl Fields for SlotFields<'_, '_> {
    fn field(&self, name: &'static str) -> Field {
        let found = SLOT_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.slot(i));
        let Some((tag, value)) = found else {
            return JsFields { obj: self.obj }.field(name);
        };
        if tag == TAG_MISSING {
            Field::Missing
        } else if tag == TAG_NUMBER {
            Field::Number(value)
        } else if tag == TAG_BOOL {
            Field::Bool(value != 0.0)
        } else {
            Field::Other(tag_type_name(tag))
        }
    }

    fn has_data(&self) -> bool {
        match self.slot(SLOT_DATA) {
            Some((tag, _)) => tag != TAG_MISSING,
            None => JsFields { obj: self.obj }.has_data(),
        }
    }
}

/// The sender's key, read from the nested `RaftNode` (`candidate` / `voter` / `node`).
pub fn sender_key(obj: &Object, field: &str) -> Result<std::result::Result<String, String>> {
    let v: Unknown = obj.get_named_property_unchecked(field)?;
    if v.get_type()? != ValueType::Object {
        return Ok(Err(format!("field `{field}` must be a RaftNode object")));
    }
    // SAFETY: the type was checked
    let node: Object = unsafe { v.cast()? };
    let id: Unknown = node.get_named_property_unchecked("id")?;
    Ok(id_key(&id)?.map_err(|reason| format!("field `{field}.id` {reason}")))
}

/// `[REC_PERSIST, seq, term, votedForKey, latestKey, lt, li, committedKey, ct, ci]`: a persist
/// request (seq 0 for the current state, as `destroy()` persists it).
pub fn persist_record(r: &mut Array, seq: u64, state: HardState<String>) -> Result<()> {
    r.insert(REC_PERSIST)?;
    r.insert(seq as f64)?;
    r.insert(state.term as f64)?;
    r.insert(state.voted_for)?;
    r.insert(version_key(state.latest))?;
    r.insert(state.latest.term as f64)?;
    r.insert(state.latest.index as f64)?;
    r.insert(version_key(state.committed))?;
    r.insert(state.committed.term as f64)?;
    r.insert(state.committed.index as f64)
}

/// A JS array: a fixed header (the method's own result) followed by one record per output.
pub struct Records<'env> {
    env: &'env Env,
    pub arr: Array<'env>,
}

impl<'env> Records<'env> {
    pub fn new(env: &'env Env) -> Result<Self> {
        Ok(Records {
            env,
            arr: env.create_array(0)?,
        })
    }

    pub fn head<T: napi::bindgen_prelude::ToNapiValue>(&mut self, v: T) -> Result<()> {
        self.arr.insert(v)
    }

    fn record(&self) -> Result<Array<'env>> {
        self.env.create_array(0)
    }

    pub fn log(&mut self, line: &str) -> Result<()> {
        let mut r = self.record()?;
        r.insert(REC_LOG)?;
        r.insert(line)?;
        self.arr.insert(r)
    }

    pub fn outputs(&mut self, outs: Vec<Output<String>>) -> Result<()> {
        for o in outs {
            self.output(o)?;
        }
        Ok(())
    }

    fn output(&mut self, o: Output<String>) -> Result<()> {
        let mut r = self.record()?;
        match o {
            Output::Send { to, msg } => {
                // flat: `index.js` builds the body object (a JS literal is far cheaper than
                // setting named properties through N-API)
                let channel = msg.channel();
                let index = channel_index(channel);
                let names = OUT_FIELDS[index];
                let data = match msg {
                    raftq_core::Message::Append {
                        version,
                        with_data: true,
                        ..
                    } => Some(version_key(version)),
                    _ => None,
                };
                r.insert(REC_SEND)?;
                r.insert(to)?;
                r.insert(index as u32)?;
                r.insert(data)?;
                let mut i = 0;
                let mut err = Ok(());
                wire::encode(&msg, |name, v| {
                    if err.is_ok() {
                        err = if names.get(i) != Some(&name) {
                            Err(napi::Error::from_reason(format!(
                                "outgoing field `{name}` is not where index.js expects it"
                            )))
                        } else {
                            match v {
                                Out::Number(n) => r.insert(n as f64),
                                Out::Bool(b) => r.insert(b),
                            }
                        };
                        i += 1;
                    }
                });
                err?;
            }
            Output::Persist { seq, state } => persist_record(&mut r, seq, state)?,
            Output::RoleChanged(role) => {
                r.insert(REC_ROLE)?;
                r.insert(role as u32)?;
            }
            Output::LeaderChanged(leader) => {
                r.insert(REC_LEADER)?;
                match leader {
                    Some(k) => r.insert(k)?,
                    None => r.insert(Null)?,
                }
            }
            Output::Alias { version, copy_of } => {
                r.insert(REC_ALIAS)?;
                r.insert(version_key(version))?;
                r.insert(version_key(copy_of))?;
            }
            Output::DataChanged(v) => {
                r.insert(REC_DATA)?;
                r.insert(version_key(v))?;
            }
            Output::Committed(v) => {
                r.insert(REC_COMMITTED)?;
                r.insert(version_key(v))?;
                r.insert(v.term as f64)?;
                r.insert(v.index as f64)?;
            }
            Output::Log(line) => {
                r.insert(REC_LOG)?;
                r.insert(line)?;
            }
            Output::Proposal { version, committed } => {
                r.insert(REC_PROPOSAL)?;
                r.insert(version_key(version))?;
                r.insert(committed)?;
            }
            Output::TransferEnded { succeeded } => {
                r.insert(REC_TRANSFER)?;
                r.insert(succeeded)?;
            }
            Output::Released(v) => {
                r.insert(REC_RELEASED)?;
                r.insert(version_key(v))?;
            }
        }
        self.arr.insert(r)
    }
}
