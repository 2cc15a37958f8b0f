//! Exhaustive model checking of raftq-core with [stateright]: every interleaving of a small
//! cluster, up to a bound, run on the real [`raftq_core::Node`] (not a re-implementation).
//!
//! The model plays the host of three nodes the way the addon and the simulation
//! (`core/tests/sim`) do, with every choice left to the checker:
//! - the network is a set of messages in flight; any of them may be delivered (removing it),
//!   delivered and kept (a duplicate, delivered again later or never), or dropped, in any order;
//!   a send to a full network (`max_net`) is lost;
//! - each node has its own clock, which only its timer moves: `Timer(n)` jumps node `n`'s clock
//!   to [`Node::next_deadline`] and ticks it (election timeouts, pre-votes, heartbeats,
//!   check-quorum, proposal timeouts). Clocks of different nodes are unrelated, which allows
//!   every relative timing (safety must not depend on clocks);
//! - each node's disk is the state of its last completed `Persist`; `Persist(n, seq)` completes
//!   its oldest pending request (a host that coalesces writes completes several at once: the
//!   same as completing each in turn with nothing in between);
//! - `Restart(n)` crashes node `n` (everything not on disk is lost, pending persists included)
//!   and starts a fresh `Node` from its disk at once (messages in flight stay: to the new
//!   incarnation they are late messages);
//! - `Propose(n)` is the app's `replicateData` on a leader, at most `max_proposals` times; the
//!   value of the `k`-th proposal is the ghost id `k` (the initial value is 0).
//!
//! The state space is bounded by a maximal term (`max_term`: no timer fires on a non-leader at
//! it), the network's size, the number of restarts and proposals, and the checker's depth.
//! States are deduplicated by a fingerprint of their canonical form: [`Node::canonical`] moves
//! each node's times to an origin at its clock and its persist numbers to one at its last
//! completed persist, and drops its metrics (see `core/src/node/modelcheck.rs`). Symmetry
//! reduction (stateright's `Representative`) is not used: it is sound only if permuting node
//! ids maps behaviours onto behaviours, and the core breaks ties by id order (`BTreeMap`
//! iteration, the transfer target among equally up-to-date followers); the ids also sit inside
//! the nodes' private state, which only the core could rewrite.
//!
//! Where the checker starts: a fresh cluster, or every state along a scripted path
//! ([`RaftModel::script`], e.g. [`elect_and_commit`], [`figure8`]), so that the depth bound
//! buys behaviours near interesting states (after an election and a commit) rather than only
//! the first few actions of a cluster.
//!
//! The properties (`prop`), checked in every state: election safety (one leader per term over
//! the whole history), leader completeness (a version committed in term t is on the chain of
//! every leader of term t or later), state-machine safety (committed versions form one chain,
//! each with one value, the same on every node), nothing acknowledged before persisted (a vote
//! grant, data ack or own vote request leaves only when the sender's disk backs it), committed
//! never lost (every committed version is on a majority of disks, itself or a descendant,
//! counted over the configuration the committing node held then, as the simulation's
//! `check_majority` does), proposals reported committed are committed, the host contract, and
//! the simulation's invariant 13 (one configuration per version, and a configuration taking
//! effect on the chain of the newest committed version shares a majority with that version's:
//! [`Voters::disjoint_majorities`]). `sometimes`: a leader is elected, a proposed value commits.
//!
//! Ghost state (never read by the nodes) records what the properties need across history: the
//! leader of each term, every committed version, each version's value and parent (the version
//! it was proposed on or re-proposes), and what the host saw go wrong at the moment it happened
//! (an acknowledgement sent before its state was on disk, a version with two values, a proposal
//! reported committed that was not).
//!
//! Membership (issue 14: the configuration is Raft state, changed one server at a time by the
//! leader toward the app's intents): `AddMember(n, m)`/`RemoveMember(n, m)` is the app's
//! `ackNode` for `m` reaching node `n` alone ([`Node::add_member`]/[`Node::remove_member`]: a
//! lost POST elsewhere, so views differ), at most `max_intents` times per path, only on a node
//! that holds a configuration (one that holds none bootstraps from its acks, and its app acks
//! the cluster's members only: the simulation's contract). With `newcomer`, a 4th server exists,
//! outside the configuration and not started until the app first acks it somewhere; it then
//! starts fresh, acking the voters of the newest committed configuration (the simulation's
//! `boot_acks`), catches up as a learner and may be added. A restarted node replays the acks
//! its app gave it (the app's address book outlives the process). The configurations are
//! followed through `Output::ConfigChanged` and the voters riding data appends.

use raftq_core::{BrokenRule, Config, HardState, Message, Node, Output, Role, Version, Voters};
use stateright::{Model, Property};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Node ids: 1, 2, 3.
pub type Id = u8;
/// A data value: 0 the initial one, `k` the `k`-th proposal's.
pub type Val = u8;

/// One message in flight (`data`: the value riding an `Append` with data).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub from: Id,
    pub to: Id,
    pub msg: Message,
    pub data: Option<Val>,
    /// The configuration riding an `Append` with data.
    pub voters: Option<Voters<Id>>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{} ", self.from, self.to)?;
        let v = |v: Version| format!("({},{})", v.term, v.index);
        match self.msg {
            Message::VoteRequest {
                term,
                pre_vote,
                last,
                transfer,
            } => write!(
                f,
                "{}VoteRequest t{term} last {}{}",
                if pre_vote { "Pre" } else { "" },
                v(last),
                if transfer { " transfer" } else { "" }
            ),
            Message::VoteResponse {
                term,
                pre_vote,
                granted,
            } => write!(
                f,
                "{}Vote t{term} {}",
                if pre_vote { "Pre" } else { "" },
                if granted { "granted" } else { "denied" }
            ),
            Message::Append {
                term,
                version,
                with_data: _,
                commit,
                transfer,
                round,
            } => {
                write!(f, "Append t{term} {} commit {}", v(version), v(commit))?;
                if let Some(x) = self.data {
                    write!(f, " data={x}")?;
                }
                if let Some(vs) = &self.voters {
                    write!(f, " voters {:?}", vs.as_slice())?;
                }
                if transfer {
                    write!(f, " transfer")?;
                }
                if round != 0 {
                    write!(f, " round {round}")?;
                }
                Ok(())
            }
            Message::AppendResponse {
                term,
                success,
                latest,
                round,
            } => {
                write!(
                    f,
                    "AppendResponse t{term} {} latest {}",
                    if success { "ok" } else { "fail" },
                    v(latest)
                )?;
                if round != 0 {
                    write!(f, " round {round}")?;
                }
                Ok(())
            }
        }
    }
}

/// What the checker may do next.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Deliver a message and remove it from the network.
    Deliver(Envelope),
    /// Deliver a message and keep it in flight (it is duplicated).
    Duplicate(Envelope),
    /// Lose a message.
    Drop(Envelope),
    /// Node `n`'s clock jumps to its next deadline and it ticks.
    Timer(Id),
    /// The persist request `seq` of node `n` completes (and every earlier one).
    Persist(Id, u64),
    /// Node `n` crashes and restarts from its disk.
    Restart(Id),
    /// The app proposes a new value on node `n` (a leader).
    Propose(Id),
    /// The app's `ackNode` for node `m` with a truthy `time` reaches node `n` (which holds a
    /// configuration): [`Node::add_member`].
    AddMember(Id, Id),
    /// The app's `ackNode` for node `m` with `time: 0` reaches node `n`:
    /// [`Node::remove_member`].
    RemoveMember(Id, Id),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Deliver(e) => write!(f, "deliver   {e:?}"),
            Action::Duplicate(e) => write!(f, "duplicate {e:?} (delivered, kept in flight)"),
            Action::Drop(e) => write!(f, "drop      {e:?}"),
            Action::Timer(n) => write!(f, "timer     node {n}"),
            Action::Persist(n, s) => write!(f, "persisted node {n} seq {s}"),
            Action::Restart(n) => write!(f, "restart   node {n} (crash, start from disk)"),
            Action::Propose(n) => write!(f, "propose   on node {n}"),
            Action::AddMember(n, m) => write!(f, "ackNode   add {m} on node {n}"),
            Action::RemoveMember(n, m) => write!(f, "ackNode   remove {m} on node {n}"),
        }
    }
}

/// A step of a scripted path (resolved against the state it starts from).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Timer(Id),
    /// Complete the oldest pending persist.
    Persist(Id),
    /// Deliver the lowest message in flight from the first node to the second.
    Deliver(Id, Id),
    /// Drop the lowest message in flight from the first node to the second.
    Drop(Id, Id),
    Propose(Id),
    /// Complete every pending persist of the node, one by one.
    PersistAll(Id),
    /// Deliver every message in flight from the first node to the second, lowest first (also
    /// those sent meanwhile; none is fine).
    DeliverAll(Id, Id),
    /// Drop every message in flight from the first node to the second.
    DropAll(Id, Id),
    AddMember(Id, Id),
    RemoveMember(Id, Id),
}

/// One node and what its host keeps for it.
#[derive(Clone, Debug)]
pub struct Server {
    pub node: Node<Id>,
    /// The node's clock: the `now` of all its inputs.
    pub clock: u64,
    /// The last completed persist (or what the node started from), with the values of its
    /// latest and committed versions.
    pub disk: HardState<Id>,
    pub disk_vals: (Val, Val),
    /// Persist requests not completed yet, oldest first.
    pub pending: Vec<(u64, HardState<Id>, Val, Val)>,
    /// The last seq reported completed to this incarnation.
    pub done_seq: u64,
    /// The value of every version the node holds (the host drops one on `Released`).
    pub values: BTreeMap<Version, Val>,
    /// The configuration the node holds (its latest version's voters, from
    /// `Output::ConfigChanged`; after a restart, its disk's), `None` while it bootstraps.
    pub cur_voters: Option<Voters<Id>>,
    /// The app's `ackNode` calls that reached this node, in order (a restart replays them: the
    /// app's address book outlives the process).
    pub told: Vec<(Id, bool)>,
    /// The nodes its app acked when it started (the others of [`IDS`]; for the newcomer, the
    /// voters of the newest committed configuration then).
    pub acks: Vec<Id>,
    /// Started (the newcomer starts when the app first acks it somewhere).
    pub up: bool,
    /// Hash of the canonical form of all the above (see [`Server::rehash`]).
    hash: u64,
}

impl Server {
    /// A hash of everything that determines the server's future: the node's canonical form
    /// (times relative to its clock, persist numbers relative to its last completed one,
    /// metrics left out), the host's disk, pending persists (numbered likewise) and values.
    fn rehash(&mut self) {
        let mut h = DefaultHasher::new();
        self.node.canonical(self.clock).hash(&mut h);
        self.disk.hash(&mut h);
        self.disk_vals.hash(&mut h);
        self.pending.len().hash(&mut h);
        for (seq, st, a, b) in &self.pending {
            (seq - self.done_seq).hash(&mut h);
            st.hash(&mut h);
            (a, b).hash(&mut h);
        }
        self.values.hash(&mut h);
        self.cur_voters.hash(&mut h);
        self.told.hash(&mut h);
        self.acks.hash(&mut h);
        self.up.hash(&mut h);
        self.hash = h.finish();
    }
}

/// What the properties need across history.
#[derive(Clone, Debug, Default, Hash)]
pub struct Ghost {
    /// Every (term, node) seen leading.
    pub leaders: BTreeSet<(u64, Id)>,
    /// Every version seen as some node's commit point.
    pub committed: BTreeSet<Version>,
    /// For each of them, the (lowest) term in which it was committed: the term of the node
    /// whose commit point it became (a leader's, or the term of the leader a follower follows).
    pub commit_term: BTreeMap<Version, u64>,
    /// Each version's value (the first one stored).
    pub value_of: BTreeMap<Version, Val>,
    /// Each version's parent: the latest version of the leader that proposed it, or the
    /// version a new leader's re-proposal copies.
    pub parent: BTreeMap<Version, Version>,
    pub proposals: u8,
    pub restarts: u8,
    /// `AddMember`/`RemoveMember` actions taken.
    pub intents: u8,
    /// For each committed version, the configuration the node that first committed it held
    /// then (what its majority is counted over; none recorded: the 3 first members).
    pub commit_voters: BTreeMap<Version, Voters<Id>>,
    /// The configuration each version holds where it differs from its parent's (as some node
    /// reported it taking effect).
    pub config_of: BTreeMap<Version, Voters<Id>>,
    /// A version with two configurations, or a configuration taking effect on the chain of
    /// the newest committed version with a majority disjoint from one of that version's.
    pub configs: Option<String>,
    /// An acknowledgement sent while the sender's disk did not back it.
    pub early_ack: Option<String>,
    /// A version stored with a second value, or created on a second parent.
    pub two_values: Option<String>,
    /// A proposal reported committed that the node's commit point does not contain.
    pub false_outcome: Option<String>,
    /// The host contract broken (data sent or persisted without its value, ...).
    pub contract: Option<String>,
}

#[derive(Clone, Debug)]
pub struct State {
    /// Shared with the states it came from until changed (an action changes one node).
    pub servers: Vec<Arc<Server>>,
    /// Messages in flight, sorted, without duplicates.
    pub net: Vec<Envelope>,
    pub ghost: Arc<Ghost>,
    /// Fingerprint of the canonical form (see [`State::canonical_hash`]).
    fp: u64,
}

impl Hash for State {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.fp.hash(h);
    }
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.fp == other.fp
    }
}

impl Eq for State {}

impl State {
    /// A hash of everything that determines the future: each node's canonical form (times
    /// relative to its clock, persist numbers relative to its last completed one), the host's
    /// disk, pending persists (numbered likewise) and values, the network, and the ghost.
    fn canonical_hash(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for s in &self.servers {
            s.hash.hash(&mut h);
        }
        self.net.hash(&mut h);
        self.ghost.hash(&mut h);
        h.finish()
    }

    fn srv(&mut self, i: usize) -> &mut Server {
        Arc::make_mut(&mut self.servers[i])
    }

    fn g(&mut self) -> &mut Ghost {
        Arc::make_mut(&mut self.ghost)
    }

    fn net_insert(&mut self, e: Envelope) {
        if let Err(k) = self.net.binary_search(&e) {
            self.net.insert(k, e);
        }
    }

    fn net_remove(&mut self, e: &Envelope) {
        if let Ok(k) = self.net.binary_search(e) {
            self.net.remove(k);
        }
    }

    pub fn server(&self, id: Id) -> &Server {
        &self.servers[usize::from(id - 1)]
    }

    /// Whether `a` is `b` or one of its ancestors (by the ghost parents).
    pub fn descends(&self, a: Version, b: Version) -> bool {
        let mut cur = b;
        loop {
            if cur == a {
                return true;
            }
            if cur < a || cur.index < a.index {
                return false;
            }
            match self.ghost.parent.get(&cur) {
                Some(&p) => cur = p,
                None => return false,
            }
        }
    }

    /// The configuration in effect at `v`: that of `v` or of its nearest ancestor that has one
    /// (`None`: bootstrap, no configuration on the chain).
    pub fn cfg_of(&self, v: Version) -> Option<&Voters<Id>> {
        let mut cur = v;
        loop {
            if let Some(c) = self.ghost.config_of.get(&cur) {
                return Some(c);
            }
            cur = *self.ghost.parent.get(&cur)?;
        }
    }

    /// The newest committed version (committed versions form one chain while the properties
    /// hold).
    pub fn max_committed(&self) -> Version {
        self.ghost
            .committed
            .iter()
            .copied()
            .max_by_key(|v| (v.index, v.term))
            .unwrap_or(Version::ZERO)
    }

    /// The voters a committed version's majority is counted over.
    pub fn voters_of_commit(&self, c: Version) -> Vec<Id> {
        match self.ghost.commit_voters.get(&c) {
            Some(v) => v
                .iter()
                .copied()
                .filter(|&id| id >= 1 && usize::from(id) <= self.servers.len())
                .collect(),
            None => IDS.to_vec(),
        }
    }

    fn on_one_chain(&self, a: Version, b: Version) -> bool {
        if a.index <= b.index {
            self.descends(a, b)
        } else {
            self.descends(b, a)
        }
    }

    /// One line per node and the network: for traces.
    pub fn summary(&self) -> String {
        let v = |v: Version| format!("({},{})", v.term, v.index);
        let mut out = String::new();
        for s in &self.servers {
            let n = &s.node;
            if !s.up {
                out.push_str(&format!("    node {} not started\n", n.id()));
                continue;
            }
            let role = match (n.role(), n.is_pre_candidate()) {
                (Role::Leader, _) => "LEADER   ",
                (Role::Candidate, _) => "candidate",
                (Role::Follower, true) => "pre-cand ",
                (Role::Follower, false) => "follower ",
            };
            let vals = |x: Version| s.values.get(&x).map_or("?".into(), |d| d.to_string());
            out.push_str(&format!(
                "    node {} {role} t{} voted {:?} latest {}={} committed {}={} | disk t{} voted {:?} latest {}={} committed {} | pending persists {:?}\n",
                n.id(),
                n.term(),
                n.voted_for(),
                v(n.latest()),
                vals(n.latest()),
                v(n.committed()),
                vals(n.committed()),
                s.disk.term,
                s.disk.voted_for,
                v(s.disk.latest),
                s.disk_vals.0,
                v(s.disk.committed),
                s.pending.iter().map(|p| p.0).collect::<Vec<_>>(),
            ));
            if n.has_configuration() || !s.told.is_empty() {
                let ids = |v: Option<&Voters<Id>>| {
                    v.map_or("-".into(), |v| format!("{:?}", v.as_slice()))
                };
                out.push_str(&format!(
                    "           voters {} committed voters {} | disk voters {} | acks told {:?}\n",
                    ids(s.cur_voters.as_ref()),
                    ids(n.committed_voters()),
                    ids(s.disk.latest_voters.as_ref()),
                    s.told
                ));
            }
        }
        out.push_str(&format!("    in flight ({}):", self.net.len()));
        if self.net.is_empty() {
            out.push_str(" none");
        }
        for e in &self.net {
            out.push_str(&format!("\n      {e:?}"));
        }
        out
    }
}

/// The model: which rule is broken and the bounds.
#[derive(Clone, Debug)]
pub struct RaftModel {
    pub broken: Option<BrokenRule>,
    pub pre_vote: bool,
    pub check_quorum: bool,
    /// No timer fires on a non-leader at this term (so no term goes beyond it).
    pub max_term: u64,
    /// Messages in flight at most (a send beyond is lost).
    pub max_net: usize,
    pub max_restarts: u8,
    pub max_proposals: u8,
    /// Offer `Duplicate` actions.
    pub duplicates: bool,
    /// Record acknowledgements sent before their state was on disk (off: let them happen, to
    /// see what they lead to).
    pub check_acks: bool,
    pub heartbeat: u64,
    pub election: u64,
    /// The checker starts from every state along this path (from the fresh cluster on): every
    /// behaviour within the depth bound of some point of it is explored.
    pub script: Vec<Step>,
    /// Start only from the state the script ends in (not from every state along it).
    pub start_at_end: bool,
    /// `AddMember`/`RemoveMember` actions at most (over the whole path, script included).
    pub max_intents: u8,
    /// Start from the states of the scripted path from this index on only (the ones before
    /// are explored by another run).
    pub skip: usize,
    /// A 4th server, [`NEWCOMER`], outside the configuration, started when the app first acks
    /// it on some node.
    pub newcomer: bool,
}

impl Default for RaftModel {
    fn default() -> Self {
        RaftModel {
            broken: None,
            pre_vote: true,
            check_quorum: true,
            max_term: 3,
            max_net: 4,
            max_restarts: 1,
            max_proposals: 2,
            duplicates: true,
            check_acks: true,
            heartbeat: 1,
            election: 3,
            script: Vec::new(),
            start_at_end: false,
            max_intents: 0,
            newcomer: false,
            skip: 0,
        }
    }
}

/// The first members (they ack each other); node 4, with [`RaftModel::newcomer`], is a fresh
/// server outside the configuration until the app acks it.
pub const IDS: [Id; 3] = [1, 2, 3];
pub const NEWCOMER: Id = 4;

fn id_of(i: usize) -> Id {
    Id::try_from(i + 1).unwrap_or(Id::MAX)
}

pub mod prop {
    pub const ELECTION_SAFETY: &str = "election safety";
    pub const LEADER_COMPLETENESS: &str = "leader completeness";
    pub const STATE_MACHINE_SAFETY: &str = "state machine safety";
    pub const PERSIST_BEFORE_ACK: &str = "nothing acknowledged before persisted";
    pub const NEVER_LOST: &str = "committed never lost";
    pub const OUTCOMES: &str = "proposals reported committed are committed";
    pub const HOST_CONTRACT: &str = "host contract";
    pub const CONFIGS: &str = "configurations in effect have overlapping majorities";
    pub const LEADER_ELECTED: &str = "a leader is elected";
    pub const VALUE_COMMITTED: &str = "a proposed value commits";
    pub const SAFETY: [&str; 8] = [
        ELECTION_SAFETY,
        LEADER_COMPLETENESS,
        STATE_MACHINE_SAFETY,
        PERSIST_BEFORE_ACK,
        NEVER_LOST,
        OUTCOMES,
        HOST_CONTRACT,
        CONFIGS,
    ];
}

/// Node 1 is elected in term 1 with node 2's vote, commits its re-proposal (1,1) and then the
/// first proposal (1,2) with node 2; every message to node 3 is lost (it stays at term 0).
/// (`pre_vote`: as the model's option.)
pub fn elect_and_commit(pre_vote: bool) -> Vec<Step> {
    use Step::*;
    let mut s = vec![Timer(1)];
    if pre_vote {
        s.extend([
            Drop(1, 3),
            Deliver(1, 2), // pre-vote request
            Deliver(2, 1), // pre-vote granted: node 1 campaigns in term 1
        ]);
    }
    s.extend([
        Persist(1), // its vote for itself: the vote requests leave
        Drop(1, 3),
        Deliver(1, 2), // vote request
        Persist(2),    // node 2's vote: the grant leaves
        Deliver(2, 1), // node 1 leads term 1, re-proposes the initial value as (1,1)
        Drop(1, 3),
        Persist(1),
        Deliver(1, 2), // (1,1) with its data
        Persist(2),
        Deliver(2, 1), // ack: (1,1) commits
        Drop(1, 3),
        Propose(1), // (1,2), value 1
        Drop(1, 3),
        PersistAll(1),
        DeliverAll(1, 2), // (1,2) with its data
        PersistAll(2),
        DeliverAll(2, 1), // ack: (1,2) commits
        PersistAll(1),
        DeliverAll(1, 2), // the commit of (1,2)
        PersistAll(2),
        DeliverAll(2, 1),
    ]);
    s
}

/// `elect_and_commit`, then the app acks the newcomer (node 4) on the leader: node 4 starts
/// (acking nodes 1 to 3), catches up as a learner, and the leader adds it, committing the
/// configuration [1, 2, 3, 4] at (1,3) with nodes 2 and 4 (everything to node 3 is lost). Needs
/// [`RaftModel::newcomer`] and an intent.
pub fn elect_commit_and_add() -> Vec<Step> {
    use Step::*;
    let mut s = elect_and_commit(true);
    s.push(AddMember(1, 4));
    for _ in 0..3 {
        s.extend([
            DropAll(1, 3),
            PersistAll(1),
            DeliverAll(1, 4),
            PersistAll(4),
            DeliverAll(4, 1),
        ]);
    }
    for _ in 0..2 {
        s.extend([
            DropAll(1, 3),
            PersistAll(1),
            DeliverAll(1, 2),
            DeliverAll(1, 4),
            PersistAll(2),
            PersistAll(4),
            DeliverAll(2, 1),
            DeliverAll(4, 1),
        ]);
    }
    s.push(PersistAll(1));
    s
}

/// Figure 8 of the Raft paper, with pre-vote off (§5.4.2), up to the point where a leader
/// counts replicas of an earlier term's version: node 1 leads term 1 and proposes (1,1) (value
/// 1), which only it holds; node 3 leads term 2 (node 2's vote) and proposes (2,1) (value 2),
/// which only it holds; node 1 leads term 3 (node 2's vote) and replicates (1,1) to node 2, whose
/// ack reaches it. Correct: (1,1) is not committed (it is not of term 3, and the re-proposal of
/// the new term is what commits). With `BrokenRule::CommitCurrentTerm` it is (and there is no
/// re-proposal).
pub fn figure8() -> Vec<Step> {
    use Step::*;
    vec![
        // term 1: node 1, with node 2's vote
        Timer(1),
        PersistAll(1),
        Deliver(1, 2),
        PersistAll(2),
        Deliver(2, 1),
        PersistAll(1),
        DropAll(1, 2), // its first heartbeat
        DropAll(1, 3),
        Propose(1), // (1,1), value 1: on node 1 only
        PersistAll(1),
        DropAll(1, 2),
        DropAll(1, 3),
        // term 2: node 3 times out twice (term 1 it cannot win), then wins with node 2's vote
        Timer(3),
        PersistAll(3),
        DropAll(3, 1),
        DropAll(3, 2),
        Timer(3),
        PersistAll(3),
        Deliver(3, 2),
        PersistAll(2),
        Deliver(2, 3),
        PersistAll(3),
        DropAll(3, 2),
        Propose(3), // (2,1), value 2: on node 3 only
        PersistAll(3),
        DropAll(3, 2),
        // term 3: node 1 hears of term 2 (node 3's vote request), times out, wins with node 2
        Deliver(3, 1),
        PersistAll(1),
        DropAll(3, 1),
        DropAll(1, 3),
        Timer(1),
        PersistAll(1),
        DropAll(1, 3),
        Deliver(1, 2),
        PersistAll(2),
        Deliver(2, 1),
        PersistAll(1),
        DropAll(1, 3),
        // node 1 sends (1,1) to node 2, which acks it
        DeliverAll(1, 2),
        PersistAll(2),
        DeliverAll(2, 1),
        PersistAll(1),
    ]
}

impl RaftModel {
    /// The action `step` stands for in `st`.
    pub fn resolve(&self, st: &State, step: Step) -> Option<Action> {
        let lowest = |from: Id, to: Id| {
            st.net
                .iter()
                .find(|e| e.from == from && e.to == to)
                .cloned()
        };
        match step {
            Step::Timer(n) => Some(Action::Timer(n)),
            Step::Persist(n) => st
                .server(n)
                .pending
                .first()
                .map(|p| Action::Persist(n, p.0)),
            Step::Deliver(a, b) => lowest(a, b).map(Action::Deliver),
            Step::Drop(a, b) => lowest(a, b).map(Action::Drop),
            Step::Propose(n) => Some(Action::Propose(n)),
            Step::AddMember(n, m) => Some(Action::AddMember(n, m)),
            Step::RemoveMember(n, m) => Some(Action::RemoveMember(n, m)),
            Step::PersistAll(n) => self.resolve(st, Step::Persist(n)),
            Step::DeliverAll(a, b) => self.resolve(st, Step::Deliver(a, b)),
            Step::DropAll(a, b) => self.resolve(st, Step::Drop(a, b)),
        }
    }

    /// The scripted path from the fresh cluster: each state with the action taken from it.
    pub fn scripted_path(&self) -> Vec<(State, Option<Action>)> {
        let mut st = self.fresh();
        let mut path = Vec::new();
        for &step in &self.script {
            let repeat = matches!(
                step,
                Step::PersistAll(_) | Step::DeliverAll(..) | Step::DropAll(..)
            );
            loop {
                let Some(a) = self.resolve(&st, step) else {
                    if repeat {
                        break;
                    }
                    panic!("script step {step:?} is not possible in\n{}", st.summary());
                };
                let next = self
                    .next_state(&st, a.clone())
                    .unwrap_or_else(|| panic!("script step {a:?} changed nothing"));
                path.push((st, Some(a)));
                st = next;
                if !repeat {
                    break;
                }
            }
        }
        path.push((st, None));
        path
    }

    /// `path` (from one of the initial states) preceded by the scripted steps that lead to its
    /// first state.
    pub fn full_path(&self, path: Vec<(State, Option<Action>)>) -> Vec<(State, Option<Action>)> {
        let Some((first, _)) = path.first() else {
            return path;
        };
        let script = self.scripted_path();
        let k = script.iter().position(|(s, _)| s == first).unwrap_or(0);
        let mut full: Vec<_> = script.into_iter().take(k).collect();
        full.extend(path);
        full
    }

    fn fresh(&self) -> State {
        let mut st = State {
            servers: Vec::new(),
            net: Vec::new(),
            ghost: Arc::new(Ghost::default()),
            fp: 0,
        };
        st.g().value_of.insert(Version::ZERO, 0);
        st.g().committed.insert(Version::ZERO);
        st.g().commit_term.insert(Version::ZERO, 0);
        let n = IDS.len() + usize::from(self.newcomer);
        for i in 0..n {
            let id = id_of(i);
            let disk = HardState::default();
            let up = IDS.contains(&id);
            let acks: Vec<Id> = IDS.iter().copied().filter(|&m| m != id).collect();
            let node = if up {
                self.boot(id, &disk, &acks, &[], 0)
            } else {
                Node::new(id, self.config(), 1)
            };
            st.servers.push(Arc::new(Server {
                node,
                clock: 0,
                disk,
                disk_vals: (0, 0),
                pending: Vec::new(),
                done_seq: 0,
                values: BTreeMap::from([(Version::ZERO, 0)]),
                cur_voters: None,
                told: Vec::new(),
                acks,
                up,
                hash: 0,
            }));
        }
        for i in 0..n {
            self.handle_outputs(&mut st, i);
        }
        st.fp = st.canonical_hash();
        st
    }

    fn config(&self) -> Config {
        let mut c = Config::new(self.heartbeat, self.election, self.election)
            .unwrap_or_else(|e| panic!("model timing: {e}"));
        c.pre_vote = self.pre_vote;
        c.check_quorum = self.check_quorum;
        c.broken_rule = self.broken;
        c
    }

    /// A fresh node `id` started from `disk` at `now`, with `acks` as members, then what the
    /// app told it since (`told`, in order).
    fn boot(
        &self,
        id: Id,
        disk: &HardState<Id>,
        acks: &[Id],
        told: &[(Id, bool)],
        now: u64,
    ) -> Node<Id> {
        // election_min == election_max: the node's RNG is never drawn, any seed will do
        let mut node = Node::new(id, self.config(), 1);
        for &m in acks {
            node.add_member(m, now);
        }
        for &(m, keep) in told {
            if keep {
                node.add_member(m, now);
            } else {
                node.remove_member(&m, now);
            }
        }
        node.start(disk.clone(), now);
        node
    }

    /// Whether `disk` backs `msg` from `from` to `to` (the simulation's invariant 5).
    fn backed(st: &State, from: Id, to: Id, msg: &Message, disk: &HardState<Id>) -> bool {
        let d = disk;
        match *msg {
            Message::VoteRequest { pre_vote: true, .. }
            | Message::VoteResponse { pre_vote: true, .. } => true,
            Message::VoteResponse {
                granted: true,
                term,
                ..
            } => d.term > term || (d.term == term && d.voted_for == Some(to)),
            Message::AppendResponse {
                success: true,
                term,
                latest,
                ..
            } => {
                d.term >= term
                    && d.latest >= latest
                    && (d.term > term || st.descends(latest, d.latest))
            }
            Message::VoteRequest { term, .. } => {
                d.term > term || (d.term == term && d.voted_for == Some(from))
            }
            Message::VoteResponse { granted: false, .. }
            | Message::AppendResponse { success: false, .. } => true,
            ref m => d.term >= m.term(),
        }
    }

    fn store(st: &mut State, i: usize, v: Version, x: Val) {
        match st.ghost.value_of.get(&v) {
            Some(&have) if have != x => {
                if st.ghost.two_values.is_none() {
                    st.g().two_values = Some(format!(
                        "node {} stores value {x} for {v:?}, which has value {have}",
                        i + 1
                    ));
                }
            }
            Some(_) => {}
            None => {
                st.g().value_of.insert(v, x);
            }
        }
        st.srv(i).values.insert(v, x);
    }

    fn set_parent(st: &mut State, v: Version, p: Version) {
        match st.ghost.parent.get(&v) {
            Some(&had) if had != p => {
                if st.ghost.two_values.is_none() {
                    st.g().two_values = Some(format!(
                        "version {v:?} created on {had:?} and again on {p:?}"
                    ));
                }
            }
            Some(_) => {}
            None => {
                st.g().parent.insert(v, p);
            }
        }
    }

    /// Node `i` has `v` as its commit point, in `term`.
    fn committed(st: &mut State, i: usize, v: Version, term: u64) {
        if st.ghost.commit_term.get(&v).is_none_or(|&t| t > term) {
            let voters = st.servers[i].cur_voters.clone();
            let g = st.g();
            g.committed.insert(v);
            g.commit_term.insert(v, term);
            if let Some(vs) = voters {
                g.commit_voters.entry(v).or_insert(vs);
            }
        }
    }

    /// Node `i` reports `voters` in effect from `version` on (its latest version's). The
    /// simulation's invariant 13: one configuration per version, and one that takes effect on
    /// the chain of the newest committed version shares a majority with that version's.
    fn config_changed(st: &mut State, i: usize, version: Version, voters: Voters<Id>) {
        let id = id_of(i);
        st.srv(i).cur_voters = Some(voters.clone());
        if st.ghost.configs.is_some() {
            return;
        }
        if let Some(had) = st.ghost.config_of.get(&version) {
            if *had != voters {
                let what = format!(
                    "version {version:?} holds voters {:?} on node {id} and {:?} elsewhere",
                    voters.as_slice(),
                    had.as_slice()
                );
                st.g().configs = Some(what);
                return;
            }
        } else if st.cfg_of(version) != Some(&voters) {
            st.g().config_of.insert(version, voters.clone());
        }
        // the newest commit known: the global one, or this node's own when newer
        let max = st.max_committed();
        let own = st.servers[i].node.committed();
        let g = if own != max && st.descends(max, own) {
            own
        } else {
            max
        };
        if st.descends(g, version) {
            if let Some(cg) = st.cfg_of(g) {
                if cg.disjoint_majorities(&voters) {
                    let what = format!(
                        "node {id} holds voters {:?} at {version:?} while {g:?} (committed) has {:?}: disjoint majorities",
                        voters.as_slice(),
                        cg.as_slice()
                    );
                    st.g().configs = Some(what);
                }
            }
        }
    }

    fn contract(st: &mut State, what: String) {
        if st.ghost.contract.is_none() {
            st.g().contract = Some(what);
        }
    }

    /// Take node `i`'s outputs and act on them as the host; then rehash the server.
    fn handle_outputs(&self, st: &mut State, i: usize) {
        let outs = st.srv(i).node.take_outputs();
        let id = id_of(i);
        for out in outs {
            match out {
                Output::Send { to, msg, voters } => {
                    if self.check_acks && st.ghost.early_ack.is_none() {
                        let disk = &st.servers[i].disk;
                        if !Self::backed(st, id, to, &msg, disk) {
                            let what = format!(
                                "node {id} sent {:?} while its disk holds {disk:?}",
                                Envelope {
                                    from: id,
                                    to,
                                    msg: msg.clone(),
                                    data: None,
                                    voters: None,
                                }
                            );
                            st.g().early_ack = Some(what);
                        }
                    }
                    if to < 1 || usize::from(to) > st.servers.len() || to == id {
                        Self::contract(st, format!("node {id} sent to node {to}"));
                        continue;
                    }
                    let data = match msg {
                        Message::Append {
                            with_data: true,
                            version,
                            ..
                        } => {
                            match st.servers[i].values.get(&version) {
                                Some(&x) => Some(x),
                                None => {
                                    Self::contract(
                                    st,
                                    format!("node {id} sent the data of {version:?} without its value"),
                                );
                                    continue;
                                }
                            }
                        }
                        _ => None,
                    };
                    let e = Envelope {
                        from: id,
                        to,
                        msg,
                        data,
                        voters,
                    };
                    // a full network loses what is sent (an identical message is already there)
                    if st.net.len() < self.max_net {
                        st.net_insert(e);
                    }
                }
                Output::Persist { seq, state } => {
                    let s = &st.servers[i];
                    match (s.values.get(&state.latest), s.values.get(&state.committed)) {
                        (Some(&a), Some(&b)) => st.srv(i).pending.push((seq, state, a, b)),
                        _ => Self::contract(
                            st,
                            format!("node {id} asked to persist {state:?} without both values"),
                        ),
                    }
                }
                Output::Alias { version, copy_of } => match st.servers[i].values.get(&copy_of) {
                    Some(&x) => {
                        Self::set_parent(st, version, copy_of);
                        Self::store(st, i, version, x);
                    }
                    None => Self::contract(
                        st,
                        format!("node {id} aliased {version:?} to {copy_of:?} without its value"),
                    ),
                },
                Output::Committed(v) => {
                    let t = st.servers[i].node.term();
                    Self::committed(st, i, v, t);
                }
                Output::ConfigChanged {
                    version,
                    voters,
                    committed: false,
                } => Self::config_changed(st, i, version, voters),
                Output::Proposal {
                    version,
                    committed: true,
                    ..
                } => {
                    let c = st.servers[i].node.committed();
                    if !st.descends(version, c) && st.ghost.false_outcome.is_none() {
                        st.g().false_outcome = Some(format!(
                            "node {id} reported {version:?} committed; its commit point {c:?} does not contain it"
                        ));
                    }
                }
                Output::Released(v) => {
                    st.srv(i).values.remove(&v);
                }
                _ => {}
            }
        }
        let n = &st.servers[i].node;
        let (role, term, c) = (n.role(), n.term(), n.committed());
        if role == Role::Leader && !st.ghost.leaders.contains(&(term, id)) {
            st.g().leaders.insert((term, id));
        }
        if !st.servers[i].values.contains_key(&c) {
            Self::contract(st, format!("node {id} committed {c:?} without its value"));
        }
        Self::committed(st, i, c, term);
        st.srv(i).rehash();
    }

    fn deliver(&self, st: &mut State, e: &Envelope) {
        let i = usize::from(e.to - 1);
        let now = st.servers[i].clock;
        let out = st
            .srv(i)
            .node
            .step_with_voters(e.from, e.msg.clone(), e.voters.clone(), now);
        if let Some(v) = out.accepted {
            match e.data {
                Some(x) => Self::store(st, i, v, x),
                None => Self::contract(
                    st,
                    format!("node {} accepted {v:?} from a message without data", e.to),
                ),
            }
        }
        self.handle_outputs(st, i);
    }
}

impl Model for RaftModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut out: Vec<State> = Vec::new();
        let mut path = self.scripted_path();
        if self.start_at_end {
            path.drain(..path.len() - 1);
        } else {
            path.drain(..self.skip.min(path.len() - 1));
        }
        for (st, _) in path {
            // with membership actions, only where they are possible: before any node holds a
            // configuration the same run without them (and without the newcomer, which does
            // not start before it is acked) explores the same behaviours
            if self.max_intents > 0
                && !st
                    .servers
                    .iter()
                    .any(|s| s.up && s.node.has_configuration())
            {
                continue;
            }
            if !out.contains(&st) {
                out.push(st);
            }
        }
        out
    }

    fn actions(&self, st: &State, actions: &mut Vec<Action>) {
        for e in &st.net {
            if !st.server(e.to).up {
                actions.push(Action::Drop(e.clone()));
                continue;
            }
            actions.push(Action::Deliver(e.clone()));
            if self.duplicates {
                actions.push(Action::Duplicate(e.clone()));
            }
            actions.push(Action::Drop(e.clone()));
        }
        for (i, s) in st.servers.iter().enumerate() {
            let id = id_of(i);
            let n = &s.node;
            if !s.up {
                continue;
            }
            if n.next_deadline().is_some() && (n.role() == Role::Leader || n.term() < self.max_term)
            {
                actions.push(Action::Timer(id));
            }
            // the oldest only: completing a later one at once is the same as completing each
            // in turn with nothing in between (the node releases what each backs either way)
            if let Some(first) = s.pending.first() {
                actions.push(Action::Persist(id, first.0));
            }
            if st.ghost.restarts < self.max_restarts {
                actions.push(Action::Restart(id));
            }
            if n.role() == Role::Leader && st.ghost.proposals < self.max_proposals {
                actions.push(Action::Propose(id));
            }
            // the app's acks reach a node that holds a configuration (one without counts over
            // its acks: its app acks the cluster's members only, as in the simulation)
            if st.ghost.intents < self.max_intents && n.has_configuration() {
                for m in (0..st.servers.len()).map(id_of) {
                    let had = n.intents().find(|(x, _)| **x == m).map(|(_, k)| k);
                    // (a node's own membership is implied: it can only be removed)
                    if had == Some(true) || (had.is_none() && m == id) {
                        actions.push(Action::RemoveMember(id, m));
                    } else {
                        actions.push(Action::AddMember(id, m));
                    }
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut st = last.clone();
        match action {
            Action::Deliver(e) => {
                st.net_remove(&e);
                self.deliver(&mut st, &e);
            }
            Action::Duplicate(e) => self.deliver(&mut st, &e),
            Action::Drop(e) => st.net_remove(&e),
            Action::Timer(id) => {
                let i = usize::from(id - 1);
                let s = st.srv(i);
                let d = s.node.next_deadline()?;
                s.clock = s.clock.max(d);
                let now = s.clock;
                s.node.tick(now);
                self.handle_outputs(&mut st, i);
            }
            Action::Persist(id, seq) => {
                let i = usize::from(id - 1);
                let s = st.srv(i);
                let k = s.pending.iter().position(|p| p.0 == seq)?;
                let (_, state, a, b) = s.pending[k].clone();
                s.disk = state;
                s.disk_vals = (a, b);
                s.pending.drain(..=k);
                s.done_seq = seq;
                let now = s.clock;
                s.node.persisted(seq, now);
                self.handle_outputs(&mut st, i);
            }
            Action::Restart(id) => {
                let i = usize::from(id - 1);
                st.g().restarts += 1;
                let now = st.servers[i].clock;
                let s = &st.servers[i];
                let node = self.boot(id, &s.disk, &s.acks, &s.told, now);
                let s = st.srv(i);
                s.node = node;
                s.cur_voters = s.disk.latest_voters.clone();
                s.pending.clear();
                s.done_seq = 0;
                s.values = BTreeMap::from([
                    (s.disk.latest, s.disk_vals.0),
                    (s.disk.committed, s.disk_vals.1),
                ]);
                self.handle_outputs(&mut st, i);
            }
            Action::Propose(id) => {
                let i = usize::from(id - 1);
                let before = st.servers[i].node.latest();
                let now = st.servers[i].clock;
                let v = st.srv(i).node.propose(now).ok()?;
                st.g().proposals += 1;
                let x = st.ghost.proposals;
                Self::set_parent(&mut st, v, before);
                Self::store(&mut st, i, v, x);
                self.handle_outputs(&mut st, i);
            }
            Action::AddMember(id, m) | Action::RemoveMember(id, m) => {
                let keep = matches!(action, Action::AddMember(..));
                let i = usize::from(id - 1);
                st.g().intents += 1;
                if keep && !st.server(m).up {
                    // the newcomer starts, acking the cluster's members (those of the newest
                    // committed configuration: the app's contract for a node that holds none)
                    let j = usize::from(m - 1);
                    let acks: Vec<Id> = match st.cfg_of(st.max_committed()) {
                        Some(c) => c.iter().copied().filter(|&x| x != m).collect(),
                        None => IDS.to_vec(),
                    };
                    let now = st.servers[j].clock;
                    let node = self.boot(m, &st.servers[j].disk, &acks, &[], now);
                    let s = st.srv(j);
                    s.node = node;
                    s.acks = acks;
                    s.up = true;
                    self.handle_outputs(&mut st, j);
                }
                let s = st.srv(i);
                let now = s.clock;
                s.told.push((m, keep));
                if keep {
                    s.node.add_member(m, now);
                } else {
                    s.node.remove_member(&m, now);
                }
                self.handle_outputs(&mut st, i);
            }
        }
        st.fp = st.canonical_hash();
        Some(st)
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        self.next_state(last, action).map(|s| s.summary())
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            // at most one leader per term, over the whole history
            Property::always(prop::ELECTION_SAFETY, |_, st: &State| {
                let l: Vec<_> = st.ghost.leaders.iter().collect();
                l.windows(2).all(|w| w[0].0 != w[1].0)
            }),
            // a version committed in term t is on the chain of every leader of t or later (a
            // stale leader of an earlier term may lack it)
            Property::always(prop::LEADER_COMPLETENESS, |_, st: &State| {
                st.servers.iter().all(|s| {
                    s.node.role() != Role::Leader
                        || st
                            .ghost
                            .commit_term
                            .iter()
                            .all(|(&c, &t)| t > s.node.term() || st.descends(c, s.node.latest()))
                })
            }),
            // committed versions form one chain, and each has one value (the same on every node)
            Property::always(prop::STATE_MACHINE_SAFETY, |_, st: &State| {
                let c: Vec<Version> = st.ghost.committed.iter().copied().collect();
                st.ghost.two_values.is_none()
                    && c.windows(2).all(|w| st.on_one_chain(w[0], w[1]))
                    && st.servers.iter().all(|s| {
                        let v = s.node.committed();
                        s.values.get(&v) == st.ghost.value_of.get(&v)
                    })
            }),
            Property::always(prop::PERSIST_BEFORE_ACK, |_, st: &State| {
                st.ghost.early_ack.is_none()
            }),
            // every committed version is on a majority of disks (or a version descending from it),
            // of the voters the node that committed it counted over (the configuration it held)
            Property::always(prop::NEVER_LOST, |_, st: &State| {
                st.ghost.committed.iter().all(|&c| {
                    let voters = st.voters_of_commit(c);
                    voters
                        .iter()
                        .filter(|&&id| st.descends(c, st.server(id).disk.latest))
                        .count()
                        * 2
                        > voters.len()
                })
            }),
            Property::always(prop::CONFIGS, |_, st: &State| st.ghost.configs.is_none()),
            Property::always(prop::OUTCOMES, |_, st: &State| {
                st.ghost.false_outcome.is_none()
            }),
            Property::always(prop::HOST_CONTRACT, |_, st: &State| {
                st.ghost.contract.is_none()
            }),
            Property::sometimes(prop::LEADER_ELECTED, |_, st: &State| {
                !st.ghost.leaders.is_empty()
            }),
            Property::sometimes(prop::VALUE_COMMITTED, |_, st: &State| {
                st.ghost
                    .committed
                    .iter()
                    .any(|c| st.ghost.value_of.get(c).is_some_and(|&x| x != 0))
            }),
        ]
    }
}

/// A path as a readable trace: each action, then every node and the network after it.
pub fn trace(path: &[(State, Option<Action>)]) -> String {
    let mut out = String::new();
    if let Some((s0, _)) = path.first() {
        out.push_str("  initial state\n");
        out.push_str(&s0.summary());
        out.push('\n');
    }
    for (k, w) in path.windows(2).enumerate() {
        if let Some(a) = &w[0].1 {
            out.push_str(&format!("  {:>2}. {a:?}\n", k + 1));
            out.push_str(&w[1].0.summary());
            out.push('\n');
        }
    }
    if let Some((last, _)) = path.last() {
        let g = &last.ghost;
        for (what, v) in [
            ("early ack", &g.early_ack),
            ("two values", &g.two_values),
            ("false outcome", &g.false_outcome),
            ("host contract", &g.contract),
            ("configurations", &g.configs),
        ] {
            if let Some(v) = v {
                out.push_str(&format!("  {what}: {v}\n"));
            }
        }
        out.push_str(&format!(
            "  leaders (term, node): {:?}\n  committed: {:?}\n",
            g.leaders, g.committed
        ));
    }
    out
}
