//! Raft messages as they ride raftq's four channels.

/// A data version: the (term, index) of a log entry holding a whole `data` value.
/// Ordered by term, then index, which is exactly Raft's "at least as up-to-date" order (§5.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub term: u64,
    pub index: u64,
}

impl Version {
    pub const ZERO: Version = Version { term: 0, index: 0 };

    pub const fn new(term: u64, index: u64) -> Self {
        Version { term, index }
    }

    /// What a commit point `c` proves about this proposed version (one leader per term, whose
    /// versions form one chain): `Some(true)` committed (`c` is of its term, at or beyond it);
    /// `Some(false)` not provably contained (a later term, or at or beyond its index in another
    /// term: a newer leader's data replaced it, or carries it only as that leader's copy);
    /// `None` not decided yet. How a host learns the fate of a proposal that timed out: keep
    /// its version and ask each later [`crate::Output::Committed`].
    pub fn fate_under(self, c: Version) -> Option<bool> {
        if c.term == self.term && c.index >= self.index {
            Some(true)
        } else if c.term > self.term || c.index >= self.index {
            Some(false)
        } else {
            None
        }
    }
}

/// raftq's four message channels. Each outgoing event name has an incoming twin that the app
/// dispatches on the receiving node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    VoteRequest,
    VoteResponse,
    SyncData,
    DataResponse,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::VoteRequest,
        Channel::VoteResponse,
        Channel::SyncData,
        Channel::DataResponse,
    ];

    /// The event a node emits (`subscribe`) to send this message.
    pub fn outgoing_event(self) -> &'static str {
        match self {
            Channel::VoteRequest => "voteRequest",
            Channel::VoteResponse => "voteResponse",
            Channel::SyncData => "syncData",
            Channel::DataResponse => "dataResponse",
        }
    }

    /// The event the app dispatches on the receiver.
    pub fn incoming_event(self) -> &'static str {
        match self {
            Channel::VoteRequest => "voteRequestReceived",
            Channel::VoteResponse => "voteResponseReceived",
            Channel::SyncData => "dataReceived",
            Channel::DataResponse => "dataResponseReceived",
        }
    }

    /// The field holding the sender's `RaftNode` in raftq's bodies.
    pub fn sender_field(self) -> &'static str {
        match self {
            Channel::VoteRequest => "candidate",
            Channel::VoteResponse => "voter",
            Channel::SyncData | Channel::DataResponse => "node",
        }
    }

    pub fn from_incoming_event(name: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|c| c.incoming_event() == name)
    }
}

/// A Raft message. The sender travels beside it (raftq puts the sender's `RaftNode` in the body).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// `voteRequest`: RequestVote, or a pre-vote (§9.6 of Ongaro's thesis) asking whether the
    /// sender could win an election at `term` without anyone raising their term. `transfer` marks
    /// a campaign started by leadership transfer: voters ignore their leader lease for it.
    VoteRequest {
        term: u64,
        pre_vote: bool,
        last: Version,
        transfer: bool,
    },
    /// `voteResponse`.
    VoteResponse {
        term: u64,
        pre_vote: bool,
        granted: bool,
    },
    /// `syncData`: AppendEntries for the leader's latest version (`with_data` says whether the
    /// whole data value rides along) and its commit point; a heartbeat when the follower already
    /// holds `version`. `transfer` is TimeoutNow: campaign at once. `round` (0: none, and then
    /// absent from the body) is the leader's newest leadership-confirmation round, sent only
    /// while a confirmation ([`crate::Node::confirm_leadership`]) or a post-pause check is
    /// pending.
    Append {
        term: u64,
        version: Version,
        with_data: bool,
        commit: Version,
        transfer: bool,
        round: u64,
    },
    /// `dataResponse`: `success` when the follower now holds the leader's `version` (persisted);
    /// `latest` is the follower's latest version either way. `round` (0: none, and then absent
    /// from the body) echoes the highest confirmation round the follower has received from the
    /// leader of `term`; it is set only in answer to an append that carried a round.
    AppendResponse {
        term: u64,
        success: bool,
        latest: Version,
        round: u64,
    },
}

impl Message {
    pub fn term(&self) -> u64 {
        match *self {
            Message::VoteRequest { term, .. }
            | Message::VoteResponse { term, .. }
            | Message::Append { term, .. }
            | Message::AppendResponse { term, .. } => term,
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Message::VoteRequest { .. } => Channel::VoteRequest,
            Message::VoteResponse { .. } => Channel::VoteResponse,
            Message::Append { .. } => Channel::SyncData,
            Message::AppendResponse { .. } => Channel::DataResponse,
        }
    }
}
