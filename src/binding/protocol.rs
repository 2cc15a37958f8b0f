//! The one description of the JS <-> Rust boundary that `index.js` needs: record kinds, roles,
//! channels (event names, sender field, the fields of outgoing bodies and of the incoming field
//! buffer), the send record's layout and the field buffer's tags. `index.js` builds its hot-path
//! code (body literals, field readers) from `protocol()` once at load; nothing numeric is
//! written twice by hand.

// `protocol()` is registered by napi outside the lib's test build only
#![cfg_attr(test, allow(dead_code))]

use super::convert::{self, OUT_FIELDS, SEND_CHANNEL, SEND_DATA, SEND_FIELDS, SEND_TO};
use napi_derive::napi;
use raftq_core::{Channel, Role};

/// The kind of a record object handed to JS (`record.kind`). Send records are arrays (see
/// `SendLayout`), every other record an object with `kind` and named fields.
#[napi]
pub enum RecordKind {
    /// `{ kind, role }`
    Role,
    /// `{ kind, leader }`: the leader's key, or null.
    Leader,
    /// `{ kind, value }`: what `getData()` shows changed.
    Data,
    /// `{ kind, message }`: a line for the `log` event.
    Log,
    /// `{ kind, version, committed }`: the proposal `version` is decided.
    Proposal,
    /// `{ kind, succeeded }`: the oldest pending transfer request ended.
    Transfer,
}

/// raftq's `RaftRole` (the core's numbering).
#[napi]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum RaftRole {
    CANDIDATE = 1,
    FOLLOWER = 2,
    LEADER = 3,
}

const _: () = {
    assert!(RaftRole::CANDIDATE as u32 == Role::Candidate as u32);
    assert!(RaftRole::FOLLOWER as u32 == Role::Follower as u32);
    assert!(RaftRole::LEADER as u32 == Role::Leader as u32);
};

/// One of raftq's four channels, as JS sees it.
#[napi(object)]
pub struct ChannelSpec {
    /// The event a node emits to send (`voteRequest`, ...).
    pub outgoing: String,
    /// The event the app dispatches on the receiver (`voteRequestReceived`, ...).
    pub incoming: String,
    /// The body field holding the sender's `RaftNode`.
    pub sender: String,
    /// Whether the body may carry `data`.
    pub carries_data: bool,
    /// The fields of an outgoing body, in the order they follow `SendLayout.fields` in a send
    /// record.
    pub out_fields: Vec<String>,
    /// Whether the last of `outFields` is present only when set (`transfer`).
    pub last_optional: bool,
    /// The fields of an incoming body the JS side reads into the field buffer.
    pub in_fields: Vec<String>,
}

/// Where a send record (an array) keeps what: the destination key, the channel's index in
/// `Protocol.channels`, the data value (`undefined` when the body carries none), and the first
/// body field.
#[napi(object)]
pub struct SendLayout {
    pub to: u32,
    pub channel: u32,
    pub data: u32,
    pub fields: u32,
}

/// The incoming field buffer (`Float64Array`): per field of `slotNames`, a tag at `2 * i` and
/// the value at `2 * i + 1`; then the tag of `data`'s presence at `2 * slotNames.length`.
#[napi(object)]
pub struct FieldBuffer {
    pub slot_names: Vec<String>,
    pub length: u32,
    pub tag_missing: f64,
    pub tag_number: f64,
    pub tag_bool: f64,
    /// `typeof` names with their tags; any other type gets `tagUnknown`.
    pub type_names: Vec<String>,
    pub type_tags: Vec<f64>,
    pub tag_unknown: f64,
}

#[napi(object)]
pub struct Protocol {
    pub channels: Vec<ChannelSpec>,
    pub send: SendLayout,
    pub fields: FieldBuffer,
}

/// The boundary's description (see the module comment).
#[napi]
pub fn protocol() -> Protocol {
    let channels = Channel::ALL
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let slots = convert::channel_slots(c);
            ChannelSpec {
                outgoing: c.outgoing_event().to_string(),
                incoming: c.incoming_event().to_string(),
                sender: c.sender_field().to_string(),
                carries_data: c == Channel::SyncData,
                out_fields: OUT_FIELDS[i].iter().map(|s| s.to_string()).collect(),
                last_optional: convert::last_optional(c),
                in_fields: convert::SLOT_NAMES
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| slots & (1 << k) != 0)
                    .map(|(_, n)| n.to_string())
                    .collect(),
            }
        })
        .collect();
    Protocol {
        channels,
        send: SendLayout {
            to: SEND_TO,
            channel: SEND_CHANNEL,
            data: SEND_DATA,
            fields: SEND_FIELDS,
        },
        fields: FieldBuffer {
            slot_names: convert::SLOT_NAMES.iter().map(|s| s.to_string()).collect(),
            length: convert::SLOTS_LEN as u32,
            tag_missing: convert::TAG_MISSING,
            tag_number: convert::TAG_NUMBER,
            tag_bool: convert::TAG_BOOL,
            type_names: convert::TYPE_TAGS
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
            type_tags: convert::TYPE_TAGS.iter().map(|(_, t)| *t).collect(),
            tag_unknown: convert::TAG_UNKNOWN,
        },
    }
}
