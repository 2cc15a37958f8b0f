//! Conversions between JS values and the core's types: node id keys, version keys, incoming
//! message fields, outgoing output records.

use super::protocol::RecordKind;
use napi::bindgen_prelude::{Array, JsObjectValue, Object, Unknown};
use napi::JsString;
use napi::{Env, Result, ValueType};
use raftq_core::wire::{self, Field, Fields, Out};
use raftq_core::{Channel, Output, Version};

/// A send record is an array: `[to, channel, data | undefined, ...fields]` (the positions are
/// published by `protocol()`, which `index.js` builds its body literals from).
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub const SEND_TO: u32 = 0;
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub const SEND_CHANNEL: u32 = 1;
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub const SEND_DATA: u32 = 2;
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub const SEND_FIELDS: u32 = 3;

/// The fields of an outgoing message per channel, in the order `wire::encode` puts them and a
/// send record holds them; the last one (`transfer`, always `true`) of the vote request and the
/// sync is present only when set (`last_optional`).
pub const OUT_FIELDS: [&[&str]; 4] = [
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

/// Whether the last of a channel's `OUT_FIELDS` is present only when set.
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub fn last_optional(channel: Channel) -> bool {
    matches!(channel, Channel::VoteRequest | Channel::SyncData)
}

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
/// The tags of the other `typeof` names (published by `protocol()`).
pub const TYPE_TAGS: [(&str, f64); 5] = [
    ("string", 3.0),
    ("symbol", 4.0),
    ("object", 5.0),
    ("function", 6.0),
    ("bigint", 7.0),
];
// published by `protocol()` (not registered in the lib's test build)
#[cfg_attr(test, allow(dead_code))]
pub const TAG_UNKNOWN: f64 = 8.0;

/// The type name of a tag above `TAG_BOOL` (`typeof` of what JS found).
fn tag_type_name(tag: f64) -> &'static str {
    TYPE_TAGS
        .iter()
        .find(|(_, t)| *t == tag)
        .map_or("unknown", |(n, _)| n)
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

/// A record object: `{ kind, ...fields }` (see `protocol::RecordKind`).
pub fn record<'env>(env: &'env Env, kind: RecordKind) -> Result<Object<'env>> {
    let mut o = Object::new(env)?;
    o.set_named_property("kind", kind as u32)?;
    Ok(o)
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

/// The records handed to JS: a send record (array) or a record object per output.
pub struct Records<'env> {
    env: &'env Env,
    pub arr: Array<'env>,
    /// The values of the versions: sends and persists read them, aliases and releases change
    /// them (the host side of `Output::Alias` / `Output::Released`, done here).
    pub values: Values<'env>,
}

impl<'env> Records<'env> {
    pub fn new(env: &'env Env, values: Values<'env>) -> Result<Self> {
        Ok(Records {
            env,
            arr: env.create_array(0)?,
            values,
        })
    }

    pub fn log(&mut self, line: &str) -> Result<()> {
        let mut r = record(self.env, RecordKind::Log)?;
        r.set_named_property("message", line)?;
        self.arr.insert(r)
    }

    /// The incoming message's data value (`data`, read once by the caller) was accepted as
    /// `v`: keep it (before the outputs).
    pub fn accepted(&mut self, v: Version, data: Unknown) -> Result<()> {
        self.values.set(v, data)
    }

    /// A method's result: `result`'s fields plus `records`.
    pub fn with(self, mut result: Object<'env>) -> Result<Object<'env>> {
        result.set_named_property("records", self.arr)?;
        Ok(result)
    }

    pub fn outputs(&mut self, outs: Vec<Output<String>>) -> Result<()> {
        for o in outs {
            self.output(o)?;
        }
        Ok(())
    }

    fn output(&mut self, o: Output<String>) -> Result<()> {
        let env = self.env;
        let r = match o {
            Output::Send { to, msg } => {
                // flat: `index.js` builds the body object from it (a JS literal is far cheaper
                // than setting named properties through N-API)
                let mut r = env.create_array(0)?;
                let channel = msg.channel();
                let index = channel_index(channel);
                let names = OUT_FIELDS[index];
                r.insert(to)?;
                r.insert(index as u32)?;
                match msg {
                    raftq_core::Message::Append {
                        version,
                        with_data: true,
                        ..
                    } => r.insert(self.values.get(version)?)?,
                    _ => r.insert(())?,
                }
                let mut i = 0;
                let mut err = Ok(());
                wire::encode(&msg, |name, v| {
                    if err.is_ok() {
                        err = if names.get(i) != Some(&name) {
                            Err(napi::Error::from_reason(format!(
                                "outgoing field `{name}` is not where OUT_FIELDS puts it"
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
                return self.arr.insert(r);
            }
            // the persist queue takes them before (`Inner::take_outputs`)
            Output::Persist { .. } => return Ok(()),
            Output::RoleChanged(role) => {
                let mut r = record(env, RecordKind::Role)?;
                r.set_named_property("role", role as u32)?;
                r
            }
            Output::LeaderChanged(leader) => {
                let mut r = record(env, RecordKind::Leader)?;
                r.set_named_property("leader", leader)?;
                r
            }
            Output::Alias { version, copy_of } => {
                let value = self.values.get(copy_of)?;
                return self.values.set(version, value);
            }
            Output::DataChanged(v) => {
                let mut r = record(env, RecordKind::Data)?;
                r.set_named_property("value", self.values.get(v)?)?;
                r
            }
            // the host needs nothing of a commit: its effects come as Proposal, Data, Released
            Output::Committed(_) => return Ok(()),
            // not requested by this binding yet (issue 8)
            Output::Confirmed { .. } => return Ok(()),
            Output::Log(line) => return self.log(&line),
            Output::Proposal {
                version, committed, ..
            } => {
                let mut r = record(env, RecordKind::Proposal)?;
                r.set_named_property("version", version_key(version))?;
                r.set_named_property("committed", committed)?;
                r
            }
            Output::TransferEnded { succeeded } => {
                let mut r = record(env, RecordKind::Transfer)?;
                r.set_named_property("succeeded", succeeded)?;
                r
            }
            Output::Released(v) => return self.values.release(v),
        };
        self.arr.insert(r)
    }
}
