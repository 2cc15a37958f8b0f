//! The Raft node: state, inputs and outputs. Handlers live in the sibling modules
//! (`election`, `replication`, `membership`); this file holds the state and the plumbing.

use crate::config::Config;
use crate::message::{Channel, Message, Version};
use crate::rng::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

mod election;
mod leadership;
pub use leadership::LEASE_DRIFT_PERCENT;
mod membership;
#[cfg(feature = "rule-switches")]
mod modelcheck;
mod replication;

pub use membership::Voters;

/// `StepOutcome::ignored` for a message whose sender is not a member (never acked, or removed):
/// it changes nothing and gets no reply.
pub const NOT_A_MEMBER: &str = "sender is not a member";
/// `StepOutcome::ignored` for a message whose term is too far ahead of ours ([`MAX_TERM_STEP`]
/// for appends, [`MAX_VOTE_TERM_STEP`] for the others).
pub const TERM_TOO_FAR: &str = "term jumps too far ahead";
/// `StepOutcome::ignored` for a message carrying a version index more than [`MAX_INDEX_STEP`]
/// ahead of our latest.
pub const INDEX_TOO_FAR: &str = "index jumps too far ahead";

/// The largest term or index a node makes or accepts: the largest integer a JS number holds
/// exactly (terms and indexes ride raftq's JSON bodies as numbers).
pub const MAX_VALUE: u64 = (1 << 53) - 1;
/// How far ahead of our term a leader's append (`syncData`) may be. No real cluster gets 4
/// billion elections ahead of a member; a forged or corrupt body cannot move a term by more, so
/// one message leaves (2^53 - 1) / 2^32, about two million such jumps of room before terms run
/// out.
pub const MAX_TERM_STEP: u64 = 1 << 32;
/// How far ahead of our term any other message (vote requests and responses, append responses)
/// may be. These raise the terms of the few nodes they reach without a leader's append raising
/// the others': the gap they leave must stay well within [`MAX_TERM_STEP`], so that the next
/// leader's appends still reach every node (with one limit for all, the nodes a far-ahead vote
/// request missed would fall out of reach for good).
pub const MAX_VOTE_TERM_STEP: u64 = 1 << 16;
/// How far ahead of our latest version's index an incoming index may be (a trillion writes: a
/// new node still catches up with any real cluster in one message).
pub const MAX_INDEX_STEP: u64 = 1 << 40;

/// What the core needs of a node id: the addon uses a string key that keeps the JS type
/// (`0` and `'0'` differ), the simulation small integers.
pub trait NodeId: Clone + Eq + Ord + Hash + Debug {}
impl<T: Clone + Eq + Ord + Hash + Debug> NodeId for T {}

/// raftq's `RaftRole` numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Candidate = 1,
    Follower = 2,
    Leader = 3,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Candidate => "CANDIDATE",
            Role::Follower => "FOLLOWER",
            Role::Leader => "LEADER",
        }
    }
}

/// What must survive a crash: raftq's `{term, votedFor, data}` plus the data versions. `latest`
/// is the version whose value is stored as `data`; `committed` the newest version known
/// committed (its value stored separately when it differs from `latest`). raftq 1.0.0's
/// three-field files restore as `latest = committed = Version::ZERO`. `latest_voters` and
/// `committed_voters` are the configurations of those versions (`None`: the node held none, as
/// in raftq 1.0.0's files and those of raftq-native before replicated membership).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HardState<I> {
    pub term: u64,
    pub voted_for: Option<I>,
    pub latest: Version,
    pub committed: Version,
    pub latest_voters: Option<Voters<I>>,
    pub committed_voters: Option<Voters<I>>,
}

impl<I> Default for HardState<I> {
    fn default() -> Self {
        HardState {
            term: 0,
            voted_for: None,
            latest: Version::ZERO,
            committed: Version::ZERO,
            latest_voters: None,
            committed_voters: None,
        }
    }
}

/// Effects for the host, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output<I> {
    /// Send `msg` to `to`. For an `Append` with `with_data`, attach the value of its `version`
    /// and `voters`, the configuration of that version (`None` only when the leader holds none).
    Send {
        to: I,
        msg: Message,
        voters: Option<Voters<I>>,
    },
    /// Persist `state` (with the values of its versions). Report completion with
    /// [`Node::persisted`]; a later request supersedes an earlier one (coalesce freely), and
    /// completing `seq` completes every request before it.
    Persist {
        seq: u64,
        state: HardState<I>,
    },
    RoleChanged(Role),
    LeaderChanged(Option<I>),
    /// A new version whose value is the value of `copy_of` (a new leader re-proposes its latest
    /// data in its own term, §5.4.2).
    Alias {
        version: Version,
        copy_of: Version,
    },
    /// The committed version changed (raftq's `dataChanged`: on every node, the leader
    /// included, a value is announced once it is committed, never when it is only proposed).
    /// What `getData()` shows is [`Node::visible`] (the latest version on the leader).
    DataChanged(Version),
    /// The commit point advanced to this version.
    Committed(Version),
    /// A line for raftq's `log` event.
    Log(String),
    /// A proposal ([`Node::propose`] returned `version`) is decided, exactly once:
    /// `committed` when the commit point reached it (or this node's re-proposal of its value as
    /// a later term's leader); otherwise it is not known committed, and `failure` says why (a
    /// commit at or beyond it that does not provably contain it, no commit within its timeout,
    /// or a restart). (After [`Node::stop`], undecided ones wait for the next start.)
    /// `latency_ms` is the time from the proposal to this decision (the commit latency when
    /// `committed`).
    ///
    /// After [`ProposalFailure::TimedOut`] the version may still commit: keep it and watch
    /// [`Output::Committed`]; [`Version::fate_under`] says what each commit point proves.
    Proposal {
        version: Version,
        committed: bool,
        failure: Option<ProposalFailure>,
        latency_ms: u64,
    },
    /// A [`Node::confirm_leadership`] request is decided, exactly once: `confirmed` when a
    /// majority (this node included) answered a confirmation round sent after the request, in
    /// the term of the request, while this node still led it; not when it stopped leading
    /// (deposed, stepped down, stopped, restarted) or `election_max` ms passed first.
    Confirmed {
        id: u64,
        confirmed: bool,
    },
    /// The oldest pending [`Node::transfer_leadership`] request ended, exactly once per
    /// request: `succeeded` when another node became leader, not when `election_max` ms passed
    /// first (or the node restarted).
    TransferEnded {
        succeeded: bool,
    },
    /// The configuration changed: `committed` false for the latest version's voters (in effect
    /// at once, §4.1), true for the committed version's. `version` is the version holding it.
    ConfigChanged {
        version: Version,
        voters: Voters<I>,
        committed: bool,
    },
    /// A [`Node::read_index`] request may be answered with the value of `version`, the
    /// commit point when it was decided (linearizable: see `read_index`). Exactly once per
    /// request, this or [`Output::ReadFailed`].
    ReadReady {
        id: u64,
        version: Version,
    },
    /// A [`Node::read_index`] request failed (exactly once per request, or
    /// [`Output::ReadReady`]).
    ReadFailed {
        id: u64,
        failure: ReadFailure,
    },
    /// The value of this version is no longer needed: the host may release it. (A restart
    /// replaces every version with the restored ones, without an output per version.)
    Released(Version),
}

/// What happened to one incoming message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// The message's data value was accepted as this version: the host must keep the value that
    /// came with the message under this version before it handles the outputs.
    pub accepted: Option<Version>,
    /// Why the message was ignored, if it was (stale, from a non-member, node stopped, ...).
    pub ignored: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    NotStarted,
    NotLeader,
    /// A leadership transfer is in progress: proposals wait for the new leader.
    Transferring,
    /// The next index would exceed [`MAX_VALUE`] (only forged input gets a cluster there).
    Exhausted,
}

/// Why a proposal was not committed (see [`Output::Proposal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProposalFailure {
    /// A commit point at or beyond it that does not provably contain it: a newer leader's data
    /// replaced it (or carries it only as that leader's copy, which this node cannot tell).
    Superseded,
    /// Neither committed nor superseded within its timeout: it may still commit.
    TimedOut,
    /// The node restarted (or the host called [`Node::end_outcomes`]) before it was decided.
    Stopped,
}

impl ProposalFailure {
    pub fn name(self) -> &'static str {
        match self {
            ProposalFailure::Superseded => "superseded",
            ProposalFailure::TimedOut => "timed out",
            ProposalFailure::Stopped => "stopped",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmError {
    NotStarted,
    NotLeader,
}

/// Why a [`Node::read_index`] request failed (see [`Output::ReadFailed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadFailure {
    /// This node stopped leading (deposed, stepped down, restarted) before it could answer.
    NotLeader,
    /// No majority confirmed its leadership, or it committed no version of its term, within
    /// `election_max` ms of the request.
    TimedOut,
    /// The node was stopped ([`Node::stop`]).
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferError {
    NotStarted,
    NotLeader,
    NoCandidate,
    UnknownMember,
}

/// A snapshot of the node for status/metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status<I> {
    pub id: I,
    pub started: bool,
    pub role: Role,
    pub pre_candidate: bool,
    pub term: u64,
    pub voted_for: Option<I>,
    pub leader: Option<I>,
    pub latest: Version,
    pub committed: Version,
    pub visible: Version,
    /// The nodes it talks to: voters of the versions it holds and the nodes it acked.
    pub members: Vec<I>,
    /// The voters it counts over (its latest version's, or while bootstrapping itself and its
    /// acks).
    pub voters: Vec<I>,
    /// The committed version's voters (`None`: no configuration held yet).
    pub committed_voters: Option<Vec<I>>,
    /// Leader only: nodes it replicates to that do not vote yet.
    pub learners: Vec<I>,
    pub persist_requested: u64,
    pub persist_done: u64,
    pub transferring_to: Option<I>,
    /// Leader only: each member's acknowledged version in this term.
    pub matches: Vec<(I, Option<Version>)>,
    /// Replies held until a persist completes (bounded: see [`Node::persisted`]).
    pub held: usize,
    /// Leader only, with check-quorum on: a majority (this node included) answered within the
    /// last `election_min` ms, counted from the `now` of the inputs (a leader that was paused
    /// longer than that reports `false` until a majority answered a round sent after the
    /// pause). Always `true` for a leader without other members; `false` on other nodes.
    pub lease_valid: bool,
    /// Followers: ms since this node last heard from its current leader (`None` if never, or
    /// when it knows no leader, and on the leader itself).
    pub last_leader_contact: Option<u64>,
    /// Leader only: each member's progress in this term.
    pub progress: Vec<MemberProgress<I>>,
}

/// A leader's view of one member (see [`Status::progress`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberProgress<I> {
    pub id: I,
    /// The highest version of ours it acknowledged (persisted) in this term.
    pub match_version: Option<Version>,
    /// ms since its last response in this term (`None`: none yet).
    pub last_contact: Option<u64>,
    /// It answered within the last `election_min` ms.
    pub reachable: bool,
    /// Its acknowledged version is behind our commit point (or it acknowledged none).
    pub lagging: bool,
}

/// Counters since the node was created (restarts do not reset them). See [`Node::metrics`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Metrics {
    /// Pre-vote phases started (`pre_vote` on).
    pub pre_votes_started: u64,
    /// Real elections started (a term raised to campaign), transfers included.
    pub elections_started: u64,
    pub elections_won: u64,
    /// Times this node learnt of a new leader (itself included).
    pub leader_changes: u64,
    /// Messages stepped, per channel in [`Channel::ALL`] order (see [`Metrics::messages_in`]).
    pub messages_in: [u64; 4],
    /// Messages handed to the host to send, per channel in [`Channel::ALL`] order.
    pub messages_out: [u64; 4],
    /// Incoming messages ignored, by [`StepOutcome::ignored`] reason.
    pub rejected: BTreeMap<&'static str, u64>,
    pub proposals_committed: u64,
    pub proposals_superseded: u64,
    pub proposals_timed_out: u64,
    pub proposals_stopped: u64,
    /// Sum of `latency_ms` over committed proposals (with `proposals_committed`: the mean).
    pub commit_latency_ms_total: u64,
    pub confirmations_true: u64,
    pub confirmations_false: u64,
    /// Times a leader found a gap longer than `election_min` between two inputs (a paused
    /// process) and fenced its lease.
    pub pauses_detected: u64,
    /// Configuration changes this node proposed as leader.
    pub config_changes: u64,
}

impl Metrics {
    pub fn messages_in(&self, c: Channel) -> u64 {
        self.messages_in[channel_slot(c)]
    }
    pub fn messages_out(&self, c: Channel) -> u64 {
        self.messages_out[channel_slot(c)]
    }
}

fn channel_slot(c: Channel) -> usize {
    match c {
        Channel::VoteRequest => 0,
        Channel::VoteResponse => 1,
        Channel::SyncData => 2,
        Channel::DataResponse => 3,
    }
}

/// A leader's view of one member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Progress {
    /// Highest version of ours this member acknowledged (persisted) in this term.
    pub(crate) matched: Option<Version>,
    /// Whether the member may lack our latest version (send the data with the next append).
    pub(crate) needs_data: bool,
    /// Heard from it since the last check-quorum round.
    pub(crate) recent_active: bool,
    /// The version whose data we last sent it, when, and how many times in a row (data resends
    /// of one version back off: a follower that never receives it costs one message per
    /// interval, not a storm).
    pub(crate) data_sent: Option<(Version, u64, u32)>,
    /// When an append to it last went out in answer to one of its responses (at most one such
    /// answer per heartbeat interval, whatever it replies).
    pub(crate) answered_at: Option<u64>,
    /// When its last response of this term arrived.
    pub(crate) last_contact: Option<u64>,
    /// When its last response that counts for the lease arrived (none before it passed the
    /// fence of a detected pause).
    pub(crate) lease_contact: Option<u64>,
    /// The highest confirmation round it echoed in this term.
    pub(crate) round_acked: u64,
}

/// How many versions a node holds at most (committed + uncommitted).
pub(crate) const MAX_HELD: usize = 64;

/// How many replies may wait for a persist at most. They are coalesced to the newest per
/// destination and channel first, so this bound only matters with thousands of members.
pub(crate) const MAX_GATED: usize = 256;

/// A held version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Entry<I> {
    pub(crate) v: Version,
    /// The term whose leader confirmed this version is on its log (sent it, or matched it in a
    /// heartbeat); 0 when unconfirmed. Only versions confirmed in the current term may be
    /// committed by index (Raft's log matching, without a log).
    pub(crate) seen: u64,
    /// The configuration in effect from this version on (`None`: none held, bootstrap).
    pub(crate) voters: Option<Voters<I>>,
}

/// A proposal not decided yet (see [`Output::Proposal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Pending {
    /// What `propose` returned.
    pub(crate) version: Version,
    /// The newest version known to hold its value on its chain: the proposal itself, or this
    /// node's re-proposal of it as a later term's leader.
    pub(crate) carrier: Version,
    /// Not committed by then: decided as not committed.
    pub(crate) deadline: u64,
    /// When it was proposed.
    pub(crate) at: u64,
}

/// A leadership confirmation not decided yet (see [`Output::Confirmed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Confirm {
    pub(crate) id: u64,
    /// Confirmed once a majority echoed this round (or a later one).
    pub(crate) round: u64,
    pub(crate) deadline: u64,
}

/// A read (see [`Node::read_index`]) not answered yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ReadWait {
    pub(crate) id: u64,
    /// Leadership is confirmed once a majority echoed this round (or a later one).
    pub(crate) round: u64,
    /// A majority did: it waits only for a commit of this leader's term.
    pub(crate) confirmed: bool,
    pub(crate) deadline: u64,
}

/// A message waiting for a persist to complete before it may leave.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Gated<I> {
    pub(crate) seq: u64,
    pub(crate) to: I,
    pub(crate) msg: Message,
}

/// One Raft node of raftq's model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node<I: NodeId> {
    pub(crate) id: I,
    pub(crate) config: Config,
    pub(crate) rng: Rng,
    pub(crate) started: bool,

    // persistent state (as last requested; `persist_done` says how much of it is on disk)
    pub(crate) term: u64,
    pub(crate) voted_for: Option<I>,
    /// Versions held, ascending: `log[0]` is the committed one, the last is the latest. Older
    /// versions are obsolete (each holds a whole value), so only the few not yet known
    /// committed are kept, at most [`MAX_HELD`].
    pub(crate) log: VecDeque<Entry<I>>,

    // volatile state
    pub(crate) role: Role,
    pub(crate) pre_candidate: bool,
    pub(crate) leader: Option<I>,
    /// The peers: voters of the versions held and the nodes acked (see `sync_peers`).
    pub(crate) members: BTreeMap<I, Progress>,
    /// The app's intents (`ackNode`): true to have the node as a member, false to remove it.
    pub(crate) intents: BTreeMap<I, bool>,
    /// Bootstrap configuration: this node and the nodes it acked.
    pub(crate) boot_voters: Voters<I>,
    pub(crate) votes: BTreeMap<I, bool>,
    pub(crate) visible: Version,

    // timers (absolute ms)
    pub(crate) election_deadline: u64,
    pub(crate) heartbeat_deadline: u64,
    /// Followers: time we last heard from a current leader (leader lease, §4.2.3 / etcd).
    pub(crate) last_leader_contact: Option<u64>,
    /// Do not stand for election before this time (after a transfer away or `serviceCrashed`).
    pub(crate) no_campaign_until: u64,
    pub(crate) transfer: Option<(I, u64)>,
    /// The leader of our current term after the app removed it (`ackNode` with `time: 0`): its
    /// hand-off (TimeoutNow) in that term is still honoured. raftq apps remove a crashing node
    /// from the others before it dispatches `serviceCrashed`, which sends the hand-off.
    pub(crate) departed_leader: Option<(I, u64)>,

    // persistence
    pub(crate) persist_requested: u64,
    pub(crate) persist_done: u64,
    /// The state changed and must be persisted, but not before the current input is handled:
    /// one write for a new term, the data that came with it and the commit point it moved
    /// (not three, one after the other, on a slow disk). Requested when the outputs are taken,
    /// or before any reply that waits for a write.
    pub(crate) persist_wanted: bool,
    /// Candidate: the persist of our term and self-vote; we may not win before it completes.
    pub(crate) campaign_seq: u64,
    /// What is on disk: the state of the last completed persist (or the restored one).
    pub(crate) disk: HardState<I>,
    /// The state requested under each seq not yet completed, oldest first.
    pub(crate) pending_states: VecDeque<(u64, HardState<I>)>,
    pub(crate) gated: VecDeque<Gated<I>>,
    /// Whether the overflow of `gated` was reported since it last drained.
    pub(crate) gated_overflow_logged: bool,
    /// Whether the wait for `bootstrap_expect` members was reported.
    pub(crate) bootstrap_wait_logged: bool,
    /// Since when a persist has been outstanding without progress (leader: hand over when this
    /// exceeds the longest election timeout).
    pub(crate) persist_stalled_since: Option<u64>,

    // outcomes for the host
    /// Proposals not decided yet, oldest first.
    pub(crate) proposals: VecDeque<Pending>,
    /// Deadlines of the transfer requests not ended yet, oldest first.
    pub(crate) transfer_waits: VecDeque<u64>,
    /// Leadership confirmations not decided yet, oldest first.
    pub(crate) confirms: VecDeque<Confirm>,
    /// The id of the last confirmation request (ids are unique over the node's life).
    pub(crate) confirm_seq: u64,
    /// Reads not answered yet, oldest first (ids from `confirm_seq` too).
    pub(crate) reads: VecDeque<ReadWait>,
    /// The committed version last announced with [`Output::DataChanged`].
    pub(crate) announced: Version,

    // confirmation rounds
    /// Leader: the newest round of this leadership (0: none yet).
    pub(crate) round: u64,
    /// Leader: `round` was raised in this input and goes to every member when the outputs are
    /// taken (one round for every request made meanwhile).
    pub(crate) round_wanted: bool,
    /// Leader: the round sent after a detected pause (0: none pending); until a member echoes
    /// it, its responses do not count for the lease or check-quorum (they may have waited in a
    /// socket through the pause).
    pub(crate) fence_round: u64,
    /// Follower: the highest round received from the leader of this term.
    pub(crate) seen_round: (u64, u64),
    /// The `now` of the last input (pauses show as gaps).
    pub(crate) last_input: u64,
    /// Leader: when each recent round first went out, `(term, round, at)`, oldest first: an
    /// echo of a round proves the member heard us no earlier than that (the lease counts from
    /// it, not from when the echo arrived).
    pub(crate) round_sent: VecDeque<(u64, u64, u64)>,
    /// The term in which this node last told a follower to campaign at once (a transfer): its
    /// voters ignore their lease for that campaign, so this leader holds none in that term.
    pub(crate) handed_off: Option<u64>,
    /// Until then (after a start) this node refuses to help depose a leader, as if it had just
    /// heard from one: a leader's lease may rest on a promise it made before it restarted.
    pub(crate) vote_fence_until: u64,

    pub(crate) metrics: Metrics,

    pub(crate) outputs: Vec<Output<I>>,
}

impl<I: NodeId> Node<I> {
    /// A stopped node. Members may be added before [`Node::start`] (raftq's in-memory clusters
    /// ack every peer first, then start).
    pub fn new(id: I, config: Config, seed: u64) -> Self {
        Node {
            boot_voters: Voters::new([id.clone()]),
            id,
            config,
            rng: Rng::new(seed),
            started: false,
            term: 0,
            voted_for: None,
            log: VecDeque::from([Entry {
                v: Version::ZERO,
                seen: 0,
                voters: None,
            }]),
            role: Role::Follower,
            pre_candidate: false,
            leader: None,
            members: BTreeMap::new(),
            intents: BTreeMap::new(),
            votes: BTreeMap::new(),
            visible: Version::ZERO,
            election_deadline: 0,
            heartbeat_deadline: 0,
            last_leader_contact: None,
            no_campaign_until: 0,
            transfer: None,
            departed_leader: None,
            persist_requested: 0,
            persist_done: 0,
            persist_wanted: false,
            campaign_seq: 0,
            disk: HardState::default(),
            pending_states: VecDeque::new(),
            gated: VecDeque::new(),
            gated_overflow_logged: false,
            bootstrap_wait_logged: false,
            persist_stalled_since: None,
            proposals: VecDeque::new(),
            transfer_waits: VecDeque::new(),
            confirms: VecDeque::new(),
            confirm_seq: 0,
            reads: VecDeque::new(),
            announced: Version::ZERO,
            round: 0,
            round_wanted: false,
            fence_round: 0,
            seen_round: (0, 0),
            last_input: 0,
            round_sent: VecDeque::new(),
            handed_off: None,
            vote_fence_until: 0,
            metrics: Metrics::default(),
            outputs: Vec::new(),
        }
    }

    /// `serviceStarted`: (re)start from the restored persistent state as a follower. A second
    /// call restarts cleanly (volatile state reset, persistent state taken from `restored`).
    pub fn start(&mut self, restored: HardState<I>, now: u64) {
        // what the previous run promised ends with it
        self.last_input = self.last_input.max(now);
        self.end_outcomes();
        let before = self.config_marks();
        let committed = restored.committed.min(restored.latest);
        self.term = restored.term.max(restored.latest.term);
        self.voted_for = restored.voted_for;
        self.log.clear();
        let same = restored.latest == committed;
        self.log.push_back(Entry {
            v: committed,
            seen: 0,
            voters: if same {
                restored.latest_voters.clone()
            } else {
                restored.committed_voters.clone()
            },
        });
        if !same {
            self.log.push_back(Entry {
                v: restored.latest,
                seen: 0,
                voters: restored.latest_voters.clone(),
            });
        }
        let was = self.role;
        self.role = Role::Follower;
        self.pre_candidate = false;
        self.leader = None;
        self.votes.clear();
        self.transfer = None;
        self.last_leader_contact = None;
        self.no_campaign_until = 0;
        self.departed_leader = None;
        self.gated.clear();
        self.persist_stalled_since = None;
        self.pending_states.clear();
        self.persist_wanted = false;
        // what was restored is on disk
        self.persist_done = self.persist_requested;
        self.disk = self.hard_state();
        self.config_moved(before);
        for p in self.members.values_mut() {
            *p = Progress::default();
        }
        self.round = 0;
        self.round_wanted = false;
        self.fence_round = 0;
        self.seen_round = (0, 0);
        self.round_sent.clear();
        self.handed_off = None;
        // a member that renewed a leader's lease had that leader's term on disk (only
        // successful responses count): it keeps its promise across a restart
        self.vote_fence_until = if self.term > 0 {
            now.saturating_add(self.config.election_min)
        } else {
            0
        };
        self.last_input = now;
        self.started = true;
        self.visible = committed;
        self.announced = committed;
        self.reset_election_timer(now);
        self.log_line("raft started".to_string());
        if was != Role::Follower {
            self.outputs.push(Output::RoleChanged(Role::Follower));
        }
        self.outputs.push(Output::DataChanged(committed));
    }

    /// `destroy()`: no more timers or outputs; persistent state stays readable.
    pub fn stop(&mut self) {
        self.started = false;
        self.gated.clear();
        self.transfer = None;
        self.round_wanted = false;
        self.fail_confirms();
        // undecided proposals and transfers stay: the next start decides them (not committed,
        // not succeeded); a host that never restarts answers them itself
    }

    pub fn take_outputs(&mut self) -> Vec<Output<I>> {
        self.flush_round();
        self.flush_persist();
        std::mem::take(&mut self.outputs)
    }

    /// Move the outputs into `out` (reusing its allocation).
    pub fn drain_outputs_into(&mut self, out: &mut Vec<Output<I>>) {
        self.flush_round();
        self.flush_persist();
        out.append(&mut self.outputs);
    }

    pub fn has_outputs(&self) -> bool {
        !self.outputs.is_empty() || self.persist_wanted || self.round_wanted
    }

    /// Counters since the node was created.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The earliest time at which [`Node::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.started {
            return None;
        }
        let mut d = self.election_deadline;
        if self.role == Role::Leader {
            d = d.min(self.heartbeat_deadline);
        }
        if let Some((_, t)) = &self.transfer {
            d = d.min(*t);
        }
        if let Some(p) = self.proposals.iter().map(|p| p.deadline).min() {
            d = d.min(p);
        }
        if let Some(c) = self.confirms.front() {
            d = d.min(c.deadline);
        }
        if let Some(r) = self.reads.iter().map(|r| r.deadline).min() {
            d = d.min(r);
        }
        if let Some(t) = self.transfer_waits.front() {
            d = d.min(*t);
        }
        Some(d)
    }

    pub fn id(&self) -> &I {
        &self.id
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn is_started(&self) -> bool {
        self.started
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn is_pre_candidate(&self) -> bool {
        self.pre_candidate
    }
    pub fn leader(&self) -> Option<&I> {
        self.leader.as_ref()
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn voted_for(&self) -> Option<&I> {
        self.voted_for.as_ref()
    }
    /// The newest version held.
    pub fn latest(&self) -> Version {
        self.log.back().map(|e| e.v).unwrap_or_default()
    }
    /// The newest version known committed.
    pub fn committed(&self) -> Version {
        self.log.front().map(|e| e.v).unwrap_or_default()
    }
    /// The version `getData()` shows: the latest on the leader, the committed one elsewhere.
    pub fn visible(&self) -> Version {
        self.visible
    }
    pub fn members(&self) -> impl Iterator<Item = &I> {
        self.members.keys()
    }
    pub fn is_member(&self, id: &I) -> bool {
        self.members.contains_key(id)
    }
    /// The versions whose values the host must keep; any other may be released.
    pub fn live_versions(&self) -> impl Iterator<Item = Version> + '_ {
        self.log.iter().map(|e| e.v)
    }
    pub fn hard_state(&self) -> HardState<I> {
        HardState {
            term: self.term,
            voted_for: self.voted_for.clone(),
            latest: self.latest(),
            committed: self.committed(),
            latest_voters: self.log.back().and_then(|e| e.voters.clone()),
            committed_voters: self.committed_voters().cloned(),
        }
    }

    /// [`Node::status_at`] at the time of the last input.
    pub fn status(&self) -> Status<I> {
        self.status_at(self.last_input)
    }

    /// A snapshot at `now` (ages and the lease are measured to `now`; it changes nothing).
    pub fn status_at(&self, now: u64) -> Status<I> {
        let leader = self.started && self.role == Role::Leader;
        let committed = self.committed();
        Status {
            id: self.id.clone(),
            started: self.started,
            role: self.role,
            pre_candidate: self.pre_candidate,
            term: self.term,
            voted_for: self.voted_for.clone(),
            leader: self.leader.clone(),
            latest: self.latest(),
            committed: self.committed(),
            visible: self.visible,
            members: self.members.keys().cloned().collect(),
            voters: self.voters().iter().cloned().collect(),
            committed_voters: self.committed_voters().map(|v| v.iter().cloned().collect()),
            learners: if leader { self.learners() } else { Vec::new() },
            persist_requested: self.persist_requested,
            persist_done: self.persist_done,
            transferring_to: self.transfer.as_ref().map(|(t, _)| t.clone()),
            matches: if self.role == Role::Leader {
                self.members
                    .iter()
                    .map(|(k, p)| (k.clone(), p.matched))
                    .collect()
            } else {
                Vec::new()
            },
            held: self.gated.len(),
            lease_valid: leader && self.lease_valid(now),
            last_leader_contact: if self.started
                && self.role != Role::Leader
                && self.leader.is_some()
            {
                self.last_leader_contact.map(|t| now.saturating_sub(t))
            } else {
                None
            },
            progress: if leader {
                self.members
                    .iter()
                    .filter(|(id, _)| **id != self.id)
                    .map(|(id, p)| MemberProgress {
                        id: id.clone(),
                        match_version: p.matched,
                        last_contact: p.last_contact.map(|t| now.saturating_sub(t)),
                        reachable: p
                            .last_contact
                            .is_some_and(|t| now < t.saturating_add(self.config.election_min)),
                        lagging: p.matched.is_none_or(|m| m < committed),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    // ---- plumbing shared by the handlers ----

    pub(crate) fn log_line(&mut self, line: String) {
        self.outputs.push(Output::Log(line));
    }

    /// The voters counted over.
    pub(crate) fn cluster_size(&self) -> usize {
        self.voters().len()
    }

    pub(crate) fn quorum(&self) -> usize {
        self.voters().quorum()
    }

    pub(crate) fn random_election_timeout(&mut self) -> u64 {
        self.rng
            .range_inclusive(self.config.election_min, self.config.election_max)
    }

    pub(crate) fn reset_election_timer(&mut self, now: u64) {
        let t = self.random_election_timeout();
        self.election_deadline = now.saturating_add(t);
    }

    /// Ask the host to persist the current hard state; returns the request's seq.
    pub(crate) fn request_persist(&mut self) -> u64 {
        self.persist_wanted = false;
        self.persist_requested += 1;
        let seq = self.persist_requested;
        let state = self.hard_state();
        self.pending_states.push_back((seq, state.clone()));
        self.outputs.push(Output::Persist { seq, state });
        seq
    }

    /// Whether `state`, once on disk, backs what `msg` to `to` acknowledges: a vote grant needs
    /// the vote (or a later term), a data ack its version (at least) in its term, our own vote
    /// request our vote. A refusal (vote denied, append failed) promises nothing: it leaves at
    /// once, even before its term is on disk (a node that forgets a term it only refused in is
    /// merely behind, which Raft tolerates), so a slow disk does not silence a follower.
    fn backs(&self, state: &HardState<I>, to: &I, msg: &Message) -> bool {
        match *msg {
            Message::VoteResponse {
                granted: true,
                pre_vote: false,
                term,
            } => state.term > term || (state.term == term && state.voted_for.as_ref() == Some(to)),
            Message::VoteRequest {
                pre_vote: false,
                term,
                ..
            } => {
                state.term > term
                    || (state.term == term && state.voted_for.as_ref() == Some(&self.id))
            }
            Message::AppendResponse {
                success: true,
                term,
                latest,
                ..
            } => state.term >= term && state.latest >= latest,
            _ => true,
        }
    }

    /// Persist the current hard state once the current input is handled (see `persist_wanted`).
    pub(crate) fn persist_later(&mut self) {
        self.persist_wanted = true;
    }

    pub(crate) fn flush_persist(&mut self) {
        if self.persist_wanted {
            self.request_persist();
        }
    }

    pub(crate) fn persist_pending(&self) -> bool {
        self.persist_done < self.persist_requested
    }

    /// Send a message that acknowledges our persistent state (vote, term, held data): it
    /// leaves once what it acknowledges is on disk — at once when it already is (a heartbeat's
    /// ack does not wait for the write of a new commit point: with a slow disk, holding every
    /// reply while any write is pending starves the leader's check-quorum), else with the first
    /// requested write that backs it.
    /// Returns whether it waits.
    pub(crate) fn send_after_persist(&mut self, to: I, msg: Message) -> bool {
        self.flush_persist();
        #[cfg(feature = "rule-switches")]
        if self
            .config
            .broken(crate::config::BrokenRule::PersistBeforeAck)
        {
            self.send_now(to, msg);
            return false;
        }
        if self.persist_pending() && !self.backs(&self.disk, &to, &msg) {
            let seq = self
                .pending_states
                .iter()
                .find(|(_, state)| self.backs(state, &to, &msg))
                .map_or(self.persist_requested, |(seq, _)| *seq);
            // the newest reply to one destination on one channel supersedes the older ones (a
            // later answer reflects a later state); what is dropped is as if the network lost it
            let channel = msg.channel();
            self.gated
                .retain(|g| !(g.to == to && g.msg.channel() == channel));
            if self.gated.len() >= MAX_GATED {
                self.gated.pop_front();
                if !self.gated_overflow_logged {
                    self.gated_overflow_logged = true;
                    self.log_line(format!(
                        "more than {MAX_GATED} replies wait for a persist: dropping the oldest"
                    ));
                }
            }
            self.gated.push_back(Gated { seq, to, msg });
            true
        } else {
            self.send_now(to, msg);
            false
        }
    }

    pub(crate) fn send_now(&mut self, to: I, msg: Message) {
        self.metrics.messages_out[channel_slot(msg.channel())] += 1;
        let voters = match msg {
            Message::Append {
                with_data: true,
                version,
                ..
            } => self
                .log
                .iter()
                .rev()
                .find(|e| e.v == version)
                .and_then(|e| e.voters.clone()),
            _ => None,
        };
        self.outputs.push(Output::Send { to, msg, voters });
    }

    /// A persist request completed: release what waited for it.
    pub fn persisted(&mut self, seq: u64, now: u64) {
        if seq <= self.persist_done || seq > self.persist_requested {
            return;
        }
        self.observe(now);
        self.persist_done = seq;
        // progress: what is still outstanding was requested later
        self.persist_stalled_since = self.persist_pending().then_some(now);
        while self.pending_states.front().is_some_and(|(s, _)| *s <= seq) {
            if let Some((_, state)) = self.pending_states.pop_front() {
                self.disk = state;
            }
        }
        if !self.started {
            return;
        }
        // in order; each waits for the write that backs it (not always the newest)
        let mut i = 0;
        while i < self.gated.len() {
            if self.gated[i].seq <= seq {
                if let Some(g) = self.gated.remove(i) {
                    self.send_now(g.to, g.msg);
                }
            } else {
                i += 1;
            }
        }
        if self.gated.is_empty() {
            self.gated_overflow_logged = false;
        }
        match self.role {
            Role::Leader => self.maybe_commit(now),
            Role::Candidate => self.maybe_win(now),
            Role::Follower => {}
        }
    }

    pub(crate) fn set_role(&mut self, role: Role) {
        if self.role != role {
            self.role = role;
            self.outputs.push(Output::RoleChanged(role));
            self.log_line(format!("node become {}", role.name()));
        }
    }

    pub(crate) fn set_leader(&mut self, leader: Option<I>) {
        if self.leader != leader {
            if leader.is_some() {
                self.metrics.leader_changes += 1;
            }
            self.leader = leader.clone();
            let other = leader.as_ref().is_some_and(|l| *l != self.id);
            self.outputs.push(Output::LeaderChanged(leader));
            if other {
                // another node leads: every pending transfer request succeeded
                while self.transfer_waits.pop_front().is_some() {
                    self.outputs.push(Output::TransferEnded { succeeded: true });
                }
            }
        }
    }

    /// Decide every pending proposal and transfer request as failed (done by a restart; a
    /// host that replaces the node calls it on the old one).
    pub fn end_outcomes(&mut self) {
        let now = self.last_input;
        while let Some(p) = self.proposals.pop_front() {
            self.decide(p, now, Err(ProposalFailure::Stopped));
        }
        while self.transfer_waits.pop_front().is_some() {
            self.outputs
                .push(Output::TransferEnded { succeeded: false });
        }
        self.fail_confirms();
    }

    /// Report one proposal's outcome (and count it).
    fn decide(&mut self, p: Pending, now: u64, outcome: Result<(), ProposalFailure>) {
        let latency_ms = now.saturating_sub(p.at);
        let m = &mut self.metrics;
        match outcome {
            Ok(()) => {
                m.proposals_committed += 1;
                m.commit_latency_ms_total = m.commit_latency_ms_total.saturating_add(latency_ms);
            }
            Err(ProposalFailure::Superseded) => m.proposals_superseded += 1,
            Err(ProposalFailure::TimedOut) => m.proposals_timed_out += 1,
            Err(ProposalFailure::Stopped) => m.proposals_stopped += 1,
        }
        let committed = self.report_committed(outcome.is_ok());
        self.outputs.push(Output::Proposal {
            version: p.version,
            committed,
            failure: if committed { None } else { outcome.err() },
            latency_ms,
        });
    }

    /// Timers of the outcomes: proposals not committed, transfers not ended and confirmations
    /// not confirmed in time.
    pub(crate) fn expire_pending(&mut self, now: u64) {
        let mut i = 0;
        while i < self.proposals.len() {
            if self.proposals[i].deadline <= now {
                if let Some(p) = self.proposals.remove(i) {
                    self.decide(p, now, Err(ProposalFailure::TimedOut));
                }
            } else {
                i += 1;
            }
        }
        while self.transfer_waits.front().is_some_and(|t| *t <= now) {
            self.transfer_waits.pop_front();
            self.outputs
                .push(Output::TransferEnded { succeeded: false });
        }
        while self.confirms.front().is_some_and(|c| c.deadline <= now) {
            if let Some(c) = self.confirms.pop_front() {
                self.end_confirm(c.id, false);
            }
        }
        self.expire_reads(now);
    }

    /// The commit point moved to `c`: decide the proposals it settles. A proposal is committed
    /// when `c` is of its carrier's term at or beyond it (one leader per term, whose versions
    /// form one chain). A commit of a later term, or at or beyond its index in another term,
    /// does not provably contain it: not committed (the caller retries). Anything else waits.
    pub(crate) fn decide_proposals(&mut self, c: Version) {
        let now = self.last_input;
        let mut i = 0;
        while i < self.proposals.len() {
            let p = self.proposals[i];
            let committed = c.term == p.carrier.term && c.index >= p.carrier.index;
            let lost = !committed && (c.term > p.carrier.term || c.index >= p.version.index);
            if committed || lost {
                self.proposals.remove(i);
                let outcome = if committed {
                    Ok(())
                } else {
                    Err(ProposalFailure::Superseded)
                };
                self.decide(p, now, outcome);
            } else {
                i += 1;
            }
        }
    }

    #[cfg(feature = "rule-switches")]
    fn report_committed(&self, committed: bool) -> bool {
        committed
            || self
                .config
                .broken(crate::config::BrokenRule::ReportLostAsCommitted)
    }

    #[cfg(not(feature = "rule-switches"))]
    fn report_committed(&self, committed: bool) -> bool {
        committed
    }

    /// A new leader re-proposed `latest` as `alias`: the proposals on `latest`'s chain in its
    /// term (the very version or an earlier one of the same term) are carried by `alias` now.
    pub(crate) fn carry_proposals(&mut self, latest: Version, alias: Version) {
        for p in self.proposals.iter_mut() {
            if p.carrier.term == latest.term && p.carrier.index <= latest.index {
                p.carrier = alias;
            }
        }
    }

    pub(crate) fn update_visible(&mut self) {
        self.visible = if self.role == Role::Leader {
            self.latest()
        } else {
            self.committed()
        };
        let c = self.committed();
        if c != self.announced {
            self.announced = c;
            self.outputs.push(Output::DataChanged(c));
        }
    }
}
