//! raftq-core: a sans-IO Raft state machine for raftq's model.
//!
//! raftq replicates one JSON `data` value from the leader to its followers, over four message
//! channels the application carries itself, with members announced out of band (`ackNode`).
//! This crate decides everything Raft-hard for that model and nothing else: it never sleeps,
//! spawns, locks, reads a clock or calls JavaScript. Inputs come in through [`Node`]'s methods
//! with the current time (milliseconds, any monotonic origin); outputs (messages to send, state
//! to persist, role and data changes) are taken with [`Node::take_outputs`].
//!
//! The replicated "log" holds whole data values: every entry ([`Version`]) supersedes the one
//! before it, so a node only ever needs its latest version, its committed one, and the few in
//! between it has received. The data itself never enters the core: the host keeps one value per
//! version (a JS reference in the addon, an integer in the simulation) and the core says which
//! versions are still alive ([`Node::live_versions`]).

mod config;
mod message;
mod node;
mod rng;
pub mod wire;

#[cfg(feature = "rule-switches")]
pub use config::BrokenRule;
pub use config::{Config, ConfigError};
pub use message::{Channel, Message, Version};
pub use node::{
    ConfirmError, HardState, MemberProgress, Metrics, Node, NodeId, Output, ProposalFailure,
    ProposeError, ReadFailure, Role, Status, StepOutcome, TransferError, Voters, INDEX_TOO_FAR,
    LEASE_DRIFT_PERCENT, MAX_INDEX_STEP, MAX_TERM_STEP, MAX_VALUE, MAX_VOTE_TERM_STEP,
    NOT_A_MEMBER, TERM_TOO_FAR,
};
