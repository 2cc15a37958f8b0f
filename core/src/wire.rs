//! Field names of the messages on raftq's channels, and validation of incoming ones.
//!
//! raftq's own fields are kept (`term`, `granted`, `success`, plus `destination`, `timeout` and
//! the sender's `RaftNode`, which the host fills in); ours are added beside them. Every incoming
//! message is checked field by field: a missing, mistyped or out-of-range field rejects it with
//! a reason, before anything in the node changes.

use crate::message::{Channel, Message, Version};
use std::fmt;

pub const TERM: &str = "term";
pub const GRANTED: &str = "granted";
pub const SUCCESS: &str = "success";
pub const PRE_VOTE: &str = "preVote";
pub const TRANSFER: &str = "transfer";
pub const LAST_TERM: &str = "lastTerm";
pub const LAST_INDEX: &str = "lastIndex";
pub const DATA: &str = "data";
pub const DATA_TERM: &str = "dataTerm";
pub const DATA_INDEX: &str = "dataIndex";
pub const COMMIT_TERM: &str = "commitTerm";
pub const COMMIT_INDEX: &str = "commitIndex";
/// Optional (absent means 0): the leader's confirmation round on `syncData`, its echo on
/// `dataResponse`. Present only when not 0.
pub const ROUND: &str = "round";
/// On a `syncData` that carries `data`: the voters of that version (an array of node ids, which
/// the host reads and passes to [`crate::Node::step_with_voters`]). Also the persisted body's
/// field for the latest version's voters.
pub const MEMBERS: &str = "members";

/// Largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// One field of an incoming message as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    /// Absent, `undefined` or `null`.
    Missing,
    Number(f64),
    Bool(bool),
    /// Present with another type (named for the error message).
    Other(&'static str),
}

/// Read access to an incoming message's fields (a JS object in the addon, a map in tests).
pub trait Fields {
    fn field(&self, name: &'static str) -> Field;
    /// Whether the message carries a `data` value (any JSON value but `undefined`).
    fn has_data(&self) -> bool;
}

/// Why an incoming message was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub field: &'static str,
    pub problem: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}` {}", self.field, self.problem)
    }
}

impl std::error::Error for WireError {}

fn err(field: &'static str, problem: impl Into<String>) -> WireError {
    WireError {
        field,
        problem: problem.into(),
    }
}

fn integer(m: &impl Fields, name: &'static str) -> Result<u64, WireError> {
    match m.field(name) {
        Field::Number(n)
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER =>
        {
            Ok(n as u64)
        }
        Field::Number(n) => Err(err(
            name,
            format!("must be a non-negative safe integer, got {n}"),
        )),
        Field::Missing => Err(err(name, "is missing")),
        Field::Bool(_) => Err(err(name, "must be a number, got boolean")),
        Field::Other(t) => Err(err(name, format!("must be a number, got {t}"))),
    }
}

fn boolean(m: &impl Fields, name: &'static str) -> Result<bool, WireError> {
    match m.field(name) {
        Field::Bool(b) => Ok(b),
        Field::Missing => Err(err(name, "is missing")),
        Field::Number(_) => Err(err(name, "must be a boolean, got number")),
        Field::Other(t) => Err(err(name, format!("must be a boolean, got {t}"))),
    }
}

/// An optional integer: absent means 0.
fn optional_integer(m: &impl Fields, name: &'static str) -> Result<u64, WireError> {
    match m.field(name) {
        Field::Missing => Ok(0),
        _ => integer(m, name),
    }
}

/// An optional flag: absent means `false`.
fn flag(m: &impl Fields, name: &'static str) -> Result<bool, WireError> {
    match m.field(name) {
        Field::Missing => Ok(false),
        _ => boolean(m, name),
    }
}

fn read_version(
    m: &impl Fields,
    term: &'static str,
    index: &'static str,
) -> Result<Version, WireError> {
    let v = Version::new(integer(m, term)?, integer(m, index)?);
    Ok(v)
}

/// Validate and decode the body of a message received on `channel`. The sender's identity is
/// read by the host (it lives in a nested `RaftNode`).
pub fn decode(channel: Channel, m: &impl Fields) -> Result<Message, WireError> {
    let term = integer(m, TERM)?;
    let msg = match channel {
        Channel::VoteRequest => {
            let last = read_version(m, LAST_TERM, LAST_INDEX)?;
            if last.term > term {
                return Err(err(LAST_TERM, "is greater than the candidate's term"));
            }
            Message::VoteRequest {
                term,
                pre_vote: flag(m, PRE_VOTE)?,
                last,
                transfer: flag(m, TRANSFER)?,
            }
        }
        Channel::VoteResponse => Message::VoteResponse {
            term,
            pre_vote: flag(m, PRE_VOTE)?,
            granted: boolean(m, GRANTED)?,
        },
        Channel::SyncData => {
            let version = read_version(m, DATA_TERM, DATA_INDEX)?;
            let commit = read_version(m, COMMIT_TERM, COMMIT_INDEX)?;
            if version.term != term {
                return Err(err(DATA_TERM, "must equal the leader's term"));
            }
            if commit > version || commit.index > version.index {
                return Err(err(COMMIT_INDEX, "is ahead of the leader's data version"));
            }
            Message::Append {
                term,
                version,
                with_data: m.has_data(),
                commit,
                transfer: flag(m, TRANSFER)?,
                round: optional_integer(m, ROUND)?,
            }
        }
        Channel::DataResponse => {
            let latest = read_version(m, DATA_TERM, DATA_INDEX)?;
            if latest.term > term {
                return Err(err(DATA_TERM, "is greater than the responder's term"));
            }
            Message::AppendResponse {
                term,
                success: boolean(m, SUCCESS)?,
                latest,
                round: optional_integer(m, ROUND)?,
            }
        }
    };
    Ok(msg)
}

/// A field of an outgoing message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out {
    Number(u64),
    Bool(bool),
}

/// The fields of `msg` the core owns, in a stable order (the host adds `destination`, `timeout`,
/// the sender's `RaftNode` and, for `syncData` with `with_data`, `data`).
pub fn encode(msg: &Message, mut put: impl FnMut(&'static str, Out)) {
    match *msg {
        Message::VoteRequest {
            term,
            pre_vote,
            last,
            transfer,
        } => {
            put(TERM, Out::Number(term));
            put(PRE_VOTE, Out::Bool(pre_vote));
            put(LAST_TERM, Out::Number(last.term));
            put(LAST_INDEX, Out::Number(last.index));
            if transfer {
                put(TRANSFER, Out::Bool(true));
            }
        }
        Message::VoteResponse {
            term,
            pre_vote,
            granted,
        } => {
            put(TERM, Out::Number(term));
            put(GRANTED, Out::Bool(granted));
            put(PRE_VOTE, Out::Bool(pre_vote));
        }
        Message::Append {
            term,
            version,
            commit,
            transfer,
            round,
            with_data: _,
        } => {
            put(TERM, Out::Number(term));
            put(DATA_TERM, Out::Number(version.term));
            put(DATA_INDEX, Out::Number(version.index));
            put(COMMIT_TERM, Out::Number(commit.term));
            put(COMMIT_INDEX, Out::Number(commit.index));
            if transfer {
                put(TRANSFER, Out::Bool(true));
            }
            if round != 0 {
                put(ROUND, Out::Number(round));
            }
        }
        Message::AppendResponse {
            term,
            success,
            latest,
            round,
        } => {
            put(TERM, Out::Number(term));
            put(SUCCESS, Out::Bool(success));
            put(DATA_TERM, Out::Number(latest.term));
            put(DATA_INDEX, Out::Number(latest.index));
            if round != 0 {
                put(ROUND, Out::Number(round));
            }
        }
    }
}
