//! raftq-native: a drop-in replacement for the `raftq` npm package. The Raft logic lives in
//! `raftq-core`; this crate is the napi-rs addon around it.

mod binding;
mod driver;
