//! A deterministic, fault-injecting simulation of a raftq-core cluster.
//!
//! One seed fixes everything: cluster size, timing, fault mix, every latency and every fault.
//! The harness plays the host of each node the way the addon does: it keeps one data value per
//! version (a random `u64` token instead of a JS value), carries messages between nodes over a
//! lossy, duplicating, reordering, partitionable network, persists hard state asynchronously to
//! a per-node "disk" and crash-restarts nodes from it. After every step it checks Raft's safety
//! properties as they apply to raftq's model (one replicated value, a log of whole-value
//! versions), and at the end of each seed that the healed cluster converges.
//!
//! Beyond crashes and the network, a seed may bring:
//! - strangers: one or two ids that are never members forge messages of every kind, with
//!   extreme terms and versions, to random nodes (invariant 7: they change nothing);
//! - confused members: vote requests with huge terms and no data, and data acks claiming
//!   versions beyond the leader's latest, spoofed with a member's id (invariant 10: a commit
//!   stands on a majority of disks; invariant 9: terms and versions keep room to grow);
//! - a data-starved follower: every `Append` carrying data to it is lost for a long stretch;
//! - disks that are slow, that fail (the host retries the newest state after `heartbeat` ms, as
//!   the addon does) or that hang for 1-5 s;
//! - and, on every directed link, a bound on the messages sent per `heartbeat` window
//!   (invariant 8), which flow control keeps and a ping-pong of appends and refusals breaks;
//! - membership changes at any moment (`membership_change`): the app's `ackNode` to add,
//!   remove or replace a node (the leader included) reaching some of the running nodes only,
//!   removed nodes that go on running, newcomers that start and ack the cluster. The
//!   configuration is Raft's (replicated with the versions, changed one server at a time by the
//!   leader); invariant 13 checks that every configuration that takes effect shares a majority
//!   with the committed one, and the liveness phase that the configuration reaches what the app
//!   wants once healed.
//!
//! Reproduce one seed with `RAFTQ_SIM_FIRST_SEED=<seed>` (and the same `RAFTQ_SIM_STEPS`), and
//! print its events with `RAFTQ_SIM_TRACE=1` as well.

#![allow(dead_code)]

use raftq_core::{
    BrokenRule, Config, ConfirmError, HardState, Message, Node, Output, ProposalFailure,
    ProposeError, Role, Version, Voters, MAX_INDEX_STEP, MAX_TERM_STEP, MAX_VALUE, NOT_A_MEMBER,
};
use std::cmp::Ordering;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// small deterministic helpers (no dependencies)

/// SplitMix64: tiny, fast, and good enough to drive a simulation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut r = Rng(seed ^ 0x7261_6674_715f_7369); // "raftq_si"
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`; 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        per_mille > 0 && self.below(1000) < per_mille
    }
}

/// FxHash-style hasher: the maps here are keyed by small integers and hashed millions of times.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

// ---------------------------------------------------------------------------------------------
// parameters, results

/// The invariants, as named in violation reports.
pub mod inv {
    pub const ELECTION_SAFETY: &str = "1 election safety";
    pub const LEADER_COMPLETENESS: &str = "2 leader completeness";
    pub const STATE_MACHINE_SAFETY: &str = "3 state machine safety";
    pub const ONE_VALUE: &str = "4 one value per version";
    pub const PERSIST_BEFORE_ACK: &str = "5 nothing acknowledged before persisted";
    pub const VISIBLE: &str = "6 visible data";
    pub const STRANGERS: &str = "7 strangers change nothing";
    pub const RATE: &str = "8 message rate per link";
    pub const ROOM: &str = "9 terms and versions keep room";
    pub const MAJORITY: &str = "10 a commit stands on a majority of disks";
    pub const OUTCOMES: &str = "11 outcomes reported are true";
    pub const CONFIRM: &str = "12 a confirmed leader was not stale at the request";
    pub const CONFIGS: &str = "13 configurations in effect have overlapping majorities";
    pub const READ: &str = "14 a read answers a commit point covering every commit before it";
    pub const LEASE: &str = "15 no deposed leader holds a lease while a newer leader leads";
    pub const LIVENESS: &str = "liveness";
    pub const HOST_CONTRACT: &str = "host contract";
    pub const PANIC: &str = "panic";
}

/// Invariant 8: on every directed link `a -> b`, in every window of `heartbeat` ms (aligned on
/// multiples of it), `sends <= RATE_SLACK + 2 * events(a) + requests(b -> a)`, where `events`
/// counts what makes a node send at once (proposals, commit advances, role changes, transfers,
/// `serviceCrashed`, membership changes) and `requests` the vote requests and appends `a`
/// received from `b` in the window (each deserves a reply). What the slack leaves: one timer
/// message (heartbeat or pre-vote), one append answering responses (flow control, core rule
/// R4) and three replies released by a persist (the newest per channel, R5). 10,000 seeds
/// with flow control reach 4; without it (`BrokenRule::NoFlowControl`) ping-pong reaches 29.
pub const RATE_SLACK: u64 = 5;

/// Ids that are never members.
const STRANGER_IDS: [u64; 3] = [0, 99, u64::MAX];

#[derive(Clone, Debug)]
pub struct Params {
    /// Steps (processed events) of the faulty phase of each seed.
    pub steps: u64,
    /// Simulated time the healed cluster gets to converge; 0 skips the liveness phase.
    pub liveness_ms: u64,
    pub broken: Option<BrokenRule>,
    /// Print every event (for reproducing one seed).
    pub trace: bool,
    /// Check invariant 5 (nothing acknowledged before persisted). Only turned off to show what
    /// an early acknowledgement leads to further on, once a crash loses what it promised.
    pub check_acks: bool,
    /// Check invariant 8 (message rate per link).
    pub check_rate: bool,
    /// Invariant 7 also requires strangers' messages to be ignored as `NOT_A_MEMBER` (not for
    /// another reason, however harmless). Off, it checks only that nothing changed.
    pub stranger_reason: bool,
    /// Confused members' vote requests carry huge terms (up to `MAX_VALUE`); off, at most
    /// 1,000 beyond the target's.
    pub huge_terms: bool,
}

impl Params {
    pub fn new(steps: u64) -> Self {
        Params {
            steps,
            liveness_ms: 10_000,
            broken: None,
            trace: false,
            check_acks: true,
            check_rate: true,
            stranger_reason: true,
            huge_terms: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Violation {
    pub seed: u64,
    /// Steps processed when it was found (faulty phase and liveness phase together).
    pub step: u64,
    pub time_ms: u64,
    pub invariant: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} step {} t={}ms: [{}] {}",
            self.seed, self.step, self.time_ms, self.invariant, self.detail
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub seeds: u64,
    pub steps: u64,
    pub liveness_steps: u64,
    pub elections: u64,
    pub commits: u64,
    pub proposals: u64,
    /// Proposals reported committed / not committed, transfers reported succeeded / failed.
    pub proposals_committed: u64,
    pub proposals_lost: u64,
    /// Proposals not committed, by reason: superseded, timed out.
    pub proposals_superseded: u64,
    pub proposals_timed_out: u64,
    /// Leadership confirmations reported true / false.
    pub confirms_true: u64,
    pub confirms_false: u64,
    /// Reads answered / failed.
    pub reads_ready: u64,
    pub reads_failed: u64,
    /// Processes frozen for a while (SIGSTOP): messages, timers and persist completions wait.
    pub pauses: u64,
    /// Seeds run without pre-vote / without check-quorum.
    pub seeds_no_pre_vote: u64,
    pub seeds_no_check_quorum: u64,
    pub transfers_succeeded: u64,
    pub transfers_failed: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub membership_changes: u64,
    pub transfers: u64,
    pub service_crashes: u64,
    /// Links cut and nodes isolated.
    pub partitions: u64,
    /// Messages from strangers delivered (each checked by invariant 7).
    pub strangers: u64,
    /// Messages spoofed with a member's id (huge vote requests, acks beyond the leader).
    pub forged: u64,
    /// Persist attempts that failed (and were retried).
    pub disk_failures: u64,
    /// Disk hangs of 1-5 s.
    pub disk_hangs: u64,
    /// Seeds with a data-starved follower, and the appends with data it lost.
    pub starved_seeds: u64,
    pub starved_drops: u64,
    /// Leaders that handed over because their disk made no progress (core rule R6).
    pub stalled_leaders: u64,
    /// Largest `sends - 2 * events - requests` seen in one window on one link (invariant 8
    /// allows up to `RATE_SLACK`).
    pub max_rate_excess: u64,
    /// Simulated milliseconds of the faulty phase, summed.
    pub faulty_ms: u64,
    /// Simulated milliseconds the liveness phase needed, summed.
    pub converge_ms: u64,
    pub max_converge_ms: u64,
    /// Hash of the event sequence (per seed; summed wrapping over seeds).
    pub fingerprint: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.seeds += o.seeds;
        self.steps += o.steps;
        self.liveness_steps += o.liveness_steps;
        self.elections += o.elections;
        self.commits += o.commits;
        self.proposals += o.proposals;
        self.proposals_committed += o.proposals_committed;
        self.proposals_lost += o.proposals_lost;
        self.proposals_superseded += o.proposals_superseded;
        self.proposals_timed_out += o.proposals_timed_out;
        self.confirms_true += o.confirms_true;
        self.confirms_false += o.confirms_false;
        self.reads_ready += o.reads_ready;
        self.reads_failed += o.reads_failed;
        self.seeds_no_pre_vote += o.seeds_no_pre_vote;
        self.pauses += o.pauses;
        self.seeds_no_check_quorum += o.seeds_no_check_quorum;
        self.transfers_succeeded += o.transfers_succeeded;
        self.transfers_failed += o.transfers_failed;
        self.messages += o.messages;
        self.dropped += o.dropped;
        self.crashes += o.crashes;
        self.membership_changes += o.membership_changes;
        self.transfers += o.transfers;
        self.service_crashes += o.service_crashes;
        self.partitions += o.partitions;
        self.strangers += o.strangers;
        self.forged += o.forged;
        self.disk_failures += o.disk_failures;
        self.disk_hangs += o.disk_hangs;
        self.starved_seeds += o.starved_seeds;
        self.starved_drops += o.starved_drops;
        self.stalled_leaders += o.stalled_leaders;
        self.max_rate_excess = self.max_rate_excess.max(o.max_rate_excess);
        self.faulty_ms += o.faulty_ms;
        self.converge_ms += o.converge_ms;
        self.max_converge_ms = self.max_converge_ms.max(o.max_converge_ms);
        self.fingerprint = self.fingerprint.wrapping_add(o.fingerprint);
    }
}

// ---------------------------------------------------------------------------------------------
// events

#[derive(Clone, Debug)]
enum Kind {
    Deliver {
        from: usize,
        to: usize,
        msg: Message,
        /// The data value riding an `Append` with `with_data`.
        data: Option<u64>,
        /// The configuration riding it.
        voters: Option<Voters<u64>>,
    },
    Timer {
        node: usize,
        gen: u64,
    },
    PersistDone {
        node: usize,
        life: u64,
        seq: u64,
    },
    Restart {
        node: usize,
        life: u64,
    },
    Fault,
    Client,
    /// A fault aimed at a leader just after it proposed: crash it or isolate it while its
    /// new version is still on a minority (how Figure 8 of the Raft paper begins).
    Strike {
        node: usize,
        life: u64,
    },
    /// A stranger sends a forged message to a random node.
    Stranger,
    /// A message spoofed with a member's id.
    Forge,
    /// A node's disk hangs for a while.
    DiskHang,
}

struct Event {
    at: u64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed: `BinaryHeap` pops the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

// ---------------------------------------------------------------------------------------------
// nodes as their host sees them

/// What survives a crash: the last completed persist.
#[derive(Clone, Debug, Default)]
struct Disk {
    state: HardState<u64>,
    latest_val: u64,
    committed_val: u64,
}

struct PendingPersist {
    seq: u64,
    disk: Disk,
}

struct Slot {
    id: u64,
    node: Node<u64>,
    /// Running: started, neither crashed nor removed.
    up: bool,
    /// Bumped on every crash/removal: events of an earlier life are void.
    life: u64,
    values: FxMap<Version, u64>,
    disk: Disk,
    /// Seq of the last completed persist in this life.
    disk_seq: u64,
    pending: VecDeque<PendingPersist>,
    /// Persists complete in order (one writer per node): the time the last one completes.
    persist_tail: u64,
    timer_gen: u64,
    timer_at: Option<u64>,
    /// `committed()` as last checked in this life.
    last_committed: Version,
    /// The term in which we last recorded this node as leader (saves map look-ups).
    recorded_leader_term: u64,
    /// The disk completes nothing before this time (hung, or waiting to retry a failed write).
    stall_until: u64,
    /// Proposals of this life not decided yet, with the time they were made and their timeout.
    proposals: Vec<(Version, u64, u64)>,
    /// Leadership confirmations of this life not decided yet: id, the node's term and the
    /// event count and the time when asked.
    confirms: Vec<(u64, u64, u64, u64)>,
    /// Reads (`read_index`) of this life not answered yet: id, and the highest version
    /// committed anywhere when asked.
    reads: Vec<(u64, Version)>,
    /// Transfer requests of this life not ended yet.
    transfers: u64,
    /// The node's term when the oldest of them was asked.
    transfer_term: u64,
    /// The leader named by the last `LeaderChanged` output handled.
    named_leader: Option<u64>,
    /// The process is frozen until then (SIGSTOP): everything for it waits.
    paused_until: u64,
    /// The configuration of its latest version, from its `ConfigChanged` outputs in order.
    cur_voters: Option<Voters<u64>>,
    /// `cur_voters` when its last `Committed` output was handled: what the commit counted.
    commit_voters: Option<Voters<u64>>,
}

/// Invariant 8's counters for one directed link `a -> b`, in one window.
#[derive(Clone, Copy, Default)]
struct LinkWindow {
    window: u64,
    /// Messages `a` sent to `b`.
    sends: u64,
    /// Vote requests and appends `a` received from `b`.
    requests: u64,
}

/// Invariant 8's count of what makes a node send at once, in one window.
#[derive(Clone, Copy, Default)]
struct NodeWindow {
    window: u64,
    events: u64,
}

fn fresh_values() -> FxMap<Version, u64> {
    let mut m = FxMap::default();
    m.insert(Version::ZERO, 0);
    m
}

// ---------------------------------------------------------------------------------------------
// the simulation of one seed

const MAX_NODES: usize = 7;

/// Most values a node may hold: its versions (at most 64 in the core) plus the restored two.
const VALUES_HELD_MAX: usize = 66;

struct Sim {
    seed: u64,
    p: Params,
    rng: Rng,
    now: u64,
    steps: u64,
    ev_seq: u64,
    heap: BinaryHeap<Event>,
    config: Config,
    slots: Vec<Slot>,
    /// The membership the application wants (what it acks); the configuration follows it
    /// through the leader, and must reach it once healed.
    member: Vec<bool>,
    min_members: usize,
    /// `cut[a][b]`: messages from a to b are lost.
    cut: [[bool; MAX_NODES]; MAX_NODES],
    loss: u64,
    dup: u64,
    long_delay: u64,
    crash_weight: u64,
    /// Chance (per mille) that a proposal is followed by a strike on its leader (twice that
    /// for a new leader).
    strike: u64,
    /// Longest gap between two proposals.
    client_gap: u64,
    /// Longest time a persist takes (usually 20 ms; a slow disk in some seeds).
    disk_max_ms: u64,
    faults_on: bool,
    /// The ids strangers use (one or two), and the mean gap between their messages (0: none).
    strangers: Vec<u64>,
    stranger_gap: u64,
    /// Mean gap between messages spoofed with a member's id (0: none).
    forge_gap: u64,
    /// Chance (per mille) that a persist attempt fails.
    disk_fail: u64,
    /// Mean gap between disk hangs (0: none).
    hang_gap: u64,
    /// A follower that loses every append carrying data to it from `.1` to `.2` ms.
    starve: Option<(usize, u64, u64)>,
    link_win: [[LinkWindow; MAX_NODES]; MAX_NODES],
    node_win: [NodeWindow; MAX_NODES],

    // what the invariants remember across the run
    term_leader: FxMap<u64, u64>,
    /// The event count (`events`) at which each term's leader was first seen.
    term_elected: FxMap<u64, u64>,
    /// Events processed so far (orders elections and confirmation requests).
    events: u64,
    max_committed: Version,
    /// The newest proposal reported committed, with the commit point that contained it.
    promised: Option<(Version, Version)>,
    values: FxMap<Version, u64>,
    parent: FxMap<Version, Version>,
    /// The voters of each version that changed the configuration (others inherit their
    /// parent's), across all nodes.
    vconf: FxMap<Version, Voters<u64>>,

    stats: Stats,
    outbuf: Vec<Output<u64>>,
}

type Res<T> = Result<T, Violation>;

impl Sim {
    fn new(seed: u64, p: Params) -> Self {
        let mut rng = Rng::new(seed);
        let n = rng.range(3, MAX_NODES as u64) as usize;
        let heartbeat = rng.range(8, 12);
        let election_min = rng.range(90, 140);
        let election_max = election_min + rng.range(40, 100);
        #[allow(unused_mut)]
        let mut config = Config::new(heartbeat, election_min, election_max).expect("config");
        config.broken_rule = p.broken;
        // safety must not depend on pre-vote or check-quorum: a share of seeds runs without
        config.pre_vote = !rng.chance(150);
        config.check_quorum = !rng.chance(150);
        // usually everyone is a member; sometimes one node waits outside to be added
        let outside = if n > 3 && rng.chance(300) { 1 } else { 0 };
        let mut member = vec![false; n];
        for m in member.iter_mut().take(n - outside) {
            *m = true;
        }
        // a share of fresh clusters waits for all its first members before the first election
        if rng.chance(200) {
            config.bootstrap_expect = n - outside;
        }
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            slots.push(Slot {
                id: i as u64 + 1,
                node: Node::new(i as u64 + 1, config.clone(), rng.next_u64()),
                up: false,
                life: 0,
                values: fresh_values(),
                disk: Disk::default(),
                disk_seq: 0,
                pending: VecDeque::new(),
                persist_tail: 0,
                timer_gen: 0,
                timer_at: None,
                last_committed: Version::ZERO,
                recorded_leader_term: 0,
                stall_until: 0,
                proposals: Vec::new(),
                confirms: Vec::new(),
                reads: Vec::new(),
                transfers: 0,
                transfer_term: 0,
                named_leader: None,
                paused_until: 0,
                cur_voters: None,
                commit_voters: None,
            });
        }
        let loss = rng.range(50, 200);
        let dup = rng.range(0, 60);
        let long_delay = rng.range(0, 30);
        let crash_weight = rng.range(8, 30);
        let strike = rng.range(0, 150);
        let client_gap = if rng.chance(300) { 300 } else { 60 };
        let disk_max_ms = if rng.chance(100) { 80 } else { 20 };
        let mut strangers = vec![STRANGER_IDS[rng.below(STRANGER_IDS.len() as u64) as usize]];
        if rng.chance(500) {
            let other = STRANGER_IDS[rng.below(STRANGER_IDS.len() as u64) as usize];
            if other != strangers[0] {
                strangers.push(other);
            }
        }
        let stranger_gap = if rng.chance(700) {
            rng.range(30, 300)
        } else {
            0
        };
        let forge_gap = if rng.chance(500) {
            rng.range(50, 500)
        } else {
            0
        };
        let disk_fail = if rng.chance(200) {
            rng.range(20, 300)
        } else {
            0
        };
        let hang_gap = if rng.chance(150) {
            rng.range(500, 3_000)
        } else {
            0
        };
        let starve = if rng.chance(150) {
            let node = rng.below(n as u64) as usize;
            let from = rng.range(0, 1_500);
            Some((node, from, from + rng.range(1_000, 4_000)))
        } else {
            None
        };
        let mut values = FxMap::default();
        values.insert(Version::ZERO, 0);
        Sim {
            seed,
            p,
            rng,
            now: 0,
            steps: 0,
            ev_seq: 0,
            heap: BinaryHeap::with_capacity(256),
            config,
            slots,
            member,
            min_members: if n == 3 { 2 } else { 3 },
            cut: [[false; MAX_NODES]; MAX_NODES],
            loss,
            dup,
            long_delay,
            crash_weight,
            strike,
            client_gap,
            disk_max_ms,
            faults_on: true,
            strangers,
            stranger_gap,
            forge_gap,
            disk_fail,
            hang_gap,
            starve,
            link_win: [[LinkWindow::default(); MAX_NODES]; MAX_NODES],
            node_win: [NodeWindow::default(); MAX_NODES],
            term_leader: FxMap::default(),
            term_elected: FxMap::default(),
            events: 0,
            max_committed: Version::ZERO,
            promised: None,
            values,
            parent: FxMap::default(),
            vconf: FxMap::default(),
            stats: Stats::default(),
            outbuf: Vec::with_capacity(64),
        }
    }

    fn violation(&self, invariant: &'static str, detail: String) -> Violation {
        Violation {
            seed: self.seed,
            step: self.steps,
            time_ms: self.now,
            invariant,
            detail,
        }
    }

    fn push(&mut self, at: u64, kind: Kind) {
        self.ev_seq += 1;
        self.heap.push(Event {
            at,
            seq: self.ev_seq,
            kind,
        });
    }

    fn n(&self) -> usize {
        self.slots.len()
    }

    fn id(&self, i: usize) -> u64 {
        self.slots[i].id
    }

    // ---- the run ----

    fn run(mut self) -> Res<Stats> {
        let n = self.n();
        for i in 0..n {
            if self.member[i] {
                self.boot(i)?;
            }
        }
        self.check()?;
        let t = self.rng.range(30, 300);
        self.push(t, Kind::Fault);
        let t = self.rng.range(20, 100);
        self.push(t, Kind::Client);
        if self.stranger_gap > 0 {
            let t = self.rng.range(1, 2 * self.stranger_gap);
            self.push(t, Kind::Stranger);
        }
        if self.forge_gap > 0 {
            let t = self.rng.range(1, 2 * self.forge_gap);
            self.push(t, Kind::Forge);
        }
        if self.hang_gap > 0 {
            let t = self.rng.range(1, 2 * self.hang_gap);
            self.push(t, Kind::DiskHang);
        }

        // the faulty phase
        while self.steps < self.p.steps {
            let Some(ev) = self.heap.pop() else {
                return Err(self.violation(inv::LIVENESS, "event queue ran dry".into()));
            };
            if self.process(ev)? {
                self.steps += 1;
                self.check()?;
            }
        }
        let faulty_steps = self.steps;
        self.stats.faulty_ms = self.now;
        if self.stats.starved_drops > 0 {
            self.stats.starved_seeds = 1;
        }
        if self.p.liveness_ms == 0 {
            self.check_room()?;
            self.stats.seeds = 1;
            self.stats.seeds_no_pre_vote = u64::from(!self.config.pre_vote);
            self.stats.seeds_no_check_quorum = u64::from(!self.config.check_quorum);
            self.stats.steps = faulty_steps;
            self.stats.elections = self.term_leader.len() as u64;
            return Ok(self.stats);
        }

        // the liveness phase: heal everything, restart crashed members, no more faults or
        // proposals; the cluster must converge
        self.faults_on = false;
        self.cut = [[false; MAX_NODES]; MAX_NODES];
        self.loss = 0;
        self.dup = 0;
        self.long_delay = 0;
        if self.p.trace {
            eprintln!("t={} --- healed: liveness phase ---", self.now);
        }
        // the nodes the app wants, and every node a running one still counts as a voter (an
        // app that stopped a node before the configuration left it brings it back: no Raft
        // can decide without a majority of its configuration)
        loop {
            let down = (0..n).find(|&i| {
                !self.slots[i].up && (self.member[i] || self.counted_as_voter(self.id(i)))
            });
            let Some(i) = down else { break };
            self.boot(i)?;
        }
        self.check()?;
        // every running node that holds a configuration learns what the app wants
        self.tell_intents()?;
        let start = self.now;
        let deadline = self.now + self.p.liveness_ms;
        while !self.converged() {
            let Some(ev) = self.heap.pop() else {
                return Err(self.violation(inv::LIVENESS, "event queue ran dry".into()));
            };
            if ev.at > deadline {
                let state = self.describe();
                return Err(self.violation(
                    inv::LIVENESS,
                    format!(
                        "no convergence within {} ms of healing: {state}",
                        self.p.liveness_ms
                    ),
                ));
            }
            if self.process(ev)? {
                self.steps += 1;
                self.check()?;
                if self.steps.is_multiple_of(256) {
                    // again for nodes that got a configuration since (or came back)
                    self.tell_intents()?;
                }
            }
        }
        self.stats.seeds = 1;
        self.stats.seeds_no_pre_vote = u64::from(!self.config.pre_vote);
        self.stats.seeds_no_check_quorum = u64::from(!self.config.check_quorum);
        self.stats.steps = faulty_steps;
        self.stats.liveness_steps = self.steps - faulty_steps;
        self.stats.elections = self.term_leader.len() as u64;
        self.stats.converge_ms = self.now - start;
        self.stats.max_converge_ms = self.now - start;
        self.check_room()?;
        self.check_can_propose()?;
        Ok(self.stats)
    }

    /// Invariant 9: whatever terms and versions came in, every node can still campaign and
    /// propose for a long time: its term and latest index stay `MAX_INDEX_STEP` (2^40) below
    /// `MAX_VALUE`.
    fn check_room(&self) -> Res<()> {
        let limit = MAX_VALUE - MAX_INDEX_STEP;
        for s in &self.slots {
            let (term, latest) = (s.node.term(), s.node.latest());
            if term > limit || latest.index > limit || latest.term > limit {
                return Err(self.violation(
                    inv::ROOM,
                    format!(
                        "node {} ended with term {term}, latest {latest:?}: less than 2^40 below {MAX_VALUE}",
                        s.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Invariant 9, in deed: the converged leader still accepts a proposal.
    fn check_can_propose(&mut self) -> Res<()> {
        let Some(&l) = self.leaders().first() else {
            return Err(self.violation(inv::LIVENESS, "no leader after convergence".into()));
        };
        let now = self.now;
        let latest = self.slots[l].node.latest();
        match self.slots[l].node.propose(now) {
            Ok(v) if v == Version::new(self.slots[l].node.term(), latest.index + 1) => Ok(()),
            // a transfer asked for just before healing may still be under way
            Err(ProposeError::Transferring) => Ok(()),
            r => Err(self.violation(
                inv::ROOM,
                format!(
                    "converged leader {} (term {}, latest {latest:?}) cannot propose: {r:?}",
                    self.id(l),
                    self.slots[l].node.term()
                ),
            )),
        }
    }

    /// Exactly one leader among the live members, everyone's commit point at the leader's
    /// latest version, with equal values.
    fn converged(&self) -> bool {
        let mut leader = None;
        for (i, s) in self.slots.iter().enumerate() {
            if !self.member[i] {
                continue;
            }
            if !s.up {
                return false;
            }
            if s.node.role() == Role::Leader {
                if leader.is_some() {
                    return false;
                }
                leader = Some(i);
            }
        }
        let Some(l) = leader else { return false };
        let ln = &self.slots[l].node;
        let c = ln.committed();
        if c != ln.latest() {
            return false;
        }
        // the configuration reached what the app wants
        let want: Vec<u64> = (0..self.n())
            .filter(|&i| self.member[i])
            .map(|i| self.id(i))
            .collect();
        if ln.committed_voters().map(|v| v.as_slice()) != Some(&want[..]) {
            return false;
        }
        let val = self.slots[l].values.get(&c);
        if val.is_none() {
            return false;
        }
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, _)| self.member[*i])
            .all(|(_, s)| s.node.committed() == c && s.values.get(&c) == val)
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.slots.iter().enumerate() {
            let st = s.node.status();
            out.push_str(&format!(
                "\n  node {} wanted={} up={} role={:?}{} term={} voted={:?} leader={:?} latest={:?} committed={:?} visible={:?} persist={}/{} disk={:?} peers={:?} voters={:?}",
                s.id,
                self.member[i],
                s.up,
                st.role,
                if st.pre_candidate { "(pre)" } else { "" },
                st.term,
                st.voted_for,
                st.leader,
                st.latest,
                st.committed,
                st.visible,
                st.persist_done,
                st.persist_requested,
                s.disk.state,
                st.members,
                st.voters,
            ));
            out.push_str(&format!(
                " intents={:?}",
                s.node.intents().collect::<Vec<_>>()
            ));
        }
        out.push_str(&format!("\n  max committed {:?}", self.max_committed));
        out
    }

    fn trace(&self, what: fmt::Arguments<'_>) {
        if self.p.trace {
            eprintln!("t={} s={} {}", self.now, self.steps, what);
        }
    }

    /// Handle one event; `true` when it was a step (not a stale or no-op timer/persist event).
    fn process(&mut self, ev: Event) -> Res<bool> {
        self.now = ev.at;
        self.events += 1;
        let tag: u64 = match &ev.kind {
            Kind::Deliver { from, to, .. } => 1 + (*from as u64) * 8 + (*to as u64) * 64,
            Kind::Timer { node, .. } => 2 + (*node as u64) * 8,
            Kind::PersistDone { node, seq, .. } => 3 + (*node as u64) * 8 + seq * 64,
            Kind::Restart { node, .. } => 4 + (*node as u64) * 8,
            Kind::Fault => 5,
            Kind::Client => 6,
            Kind::Strike { node, .. } => 7 + (*node as u64) * 8,
            Kind::Stranger => 8,
            Kind::Forge => 9,
            Kind::DiskHang => 10,
        };
        self.stats.fingerprint = (self.stats.fingerprint.rotate_left(7) ^ tag ^ (ev.at << 20))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        match ev.kind {
            Kind::Deliver {
                from,
                to,
                msg,
                data,
                voters,
            } => {
                if !self.slots[to].up || self.cut[from][to] {
                    self.stats.dropped += 1;
                    return Ok(true);
                }
                self.deliver(from, to, msg, data, voters)?;
                Ok(true)
            }
            Kind::Timer { node, gen } => {
                let s = &mut self.slots[node];
                if gen != s.timer_gen || !s.up {
                    return Ok(false);
                }
                if s.paused_until > self.now {
                    let at = s.paused_until;
                    self.push(at, Kind::Timer { node, gen });
                    return Ok(false);
                }
                s.timer_at = None;
                match s.node.next_deadline() {
                    Some(d) if d <= self.now => {
                        self.trace(format_args!("tick {}", self.id(node)));
                        let now = self.now;
                        self.slots[node].node.tick(now);
                        self.after_step(node)?;
                        Ok(true)
                    }
                    _ => {
                        self.schedule_timer(node);
                        Ok(false)
                    }
                }
            }
            Kind::PersistDone { node, life, seq } => {
                let s = &self.slots[node];
                if life != s.life || !s.up || seq <= s.disk_seq {
                    return Ok(false);
                }
                if self.now < s.stall_until.max(s.paused_until) {
                    // the disk hangs (or waits to retry), or the process is frozen: this write
                    // completes afterwards
                    let at = s.stall_until.max(s.paused_until);
                    self.push(at, Kind::PersistDone { node, life, seq });
                    return Ok(false);
                }
                if self.faults_on && self.rng.chance(self.disk_fail) {
                    // the write fails; as the addon does, the host retries after `heartbeat` ms
                    // with the newest state requested, and writes nothing else meanwhile
                    let newest = s.pending.back().map_or(seq, |pp| pp.seq.max(seq));
                    let at = self.now + self.config.heartbeat + self.rng.range(1, self.disk_max_ms);
                    let s = &mut self.slots[node];
                    s.stall_until = at;
                    s.persist_tail = s.persist_tail.max(at);
                    self.stats.disk_failures += 1;
                    self.trace(format_args!(
                        "persist of {} seq {seq} failed; retry seq {newest} at {at}",
                        self.id(node)
                    ));
                    self.push(
                        at,
                        Kind::PersistDone {
                            node,
                            life,
                            seq: newest,
                        },
                    );
                    return Ok(true);
                }
                // coalescing: sometimes the write that completes is the newest requested one
                let target = match s.pending.back() {
                    Some(last) if last.seq > seq && self.rng.chance(300) => last.seq,
                    _ => seq,
                };
                let s = &mut self.slots[node];
                while let Some(pp) = s.pending.pop_front() {
                    if pp.seq == target {
                        s.disk = pp.disk;
                        break;
                    }
                }
                s.disk_seq = target;
                self.trace(format_args!(
                    "persisted {} seq {target}: {:?}",
                    self.id(node),
                    self.slots[node].disk.state
                ));
                let now = self.now;
                self.slots[node].node.persisted(target, now);
                self.after_step(node)?;
                Ok(true)
            }
            Kind::Restart { node, life } => {
                let s = &self.slots[node];
                if life != s.life || s.up || !self.member[node] {
                    return Ok(false);
                }
                self.boot(node)?;
                Ok(true)
            }
            Kind::Strike { node, life } => {
                let s = &self.slots[node];
                if !self.faults_on || life != s.life || !s.up {
                    return Ok(false);
                }
                if self.rng.chance(500) {
                    self.crash_for_a_while(node);
                } else {
                    self.isolate(node);
                }
                Ok(true)
            }
            Kind::Fault => {
                if !self.faults_on {
                    return Ok(false);
                }
                self.fault()?;
                let t = self.now + self.rng.range(10, 150);
                self.push(t, Kind::Fault);
                Ok(true)
            }
            Kind::Client => {
                if !self.faults_on {
                    return Ok(false);
                }
                self.client()?;
                let t = self.now + self.rng.range(5, self.client_gap);
                self.push(t, Kind::Client);
                Ok(true)
            }
            Kind::Stranger => {
                if !self.faults_on {
                    return Ok(false);
                }
                self.stranger()?;
                let t = self.now + self.rng.range(1, 2 * self.stranger_gap);
                self.push(t, Kind::Stranger);
                Ok(true)
            }
            Kind::Forge => {
                if !self.faults_on {
                    return Ok(false);
                }
                self.forge()?;
                let t = self.now + self.rng.range(1, 2 * self.forge_gap);
                self.push(t, Kind::Forge);
                Ok(true)
            }
            Kind::DiskHang => {
                if !self.faults_on {
                    return Ok(false);
                }
                let i = self.rng.below(self.n() as u64) as usize;
                let until = self.now + self.rng.range(1_000, 5_000);
                let s = &mut self.slots[i];
                s.stall_until = s.stall_until.max(until);
                s.persist_tail = s.persist_tail.max(until);
                self.stats.disk_hangs += 1;
                self.trace(format_args!("disk of {} hangs until {until}", self.id(i)));
                let t = self.now + self.rng.range(1, 2 * self.hang_gap);
                self.push(t, Kind::DiskHang);
                Ok(true)
            }
        }
    }

    /// Step `msg` from node `from` on node `to` (up), as its host does.
    fn deliver(
        &mut self,
        from: usize,
        to: usize,
        msg: Message,
        data: Option<u64>,
        voters: Option<Voters<u64>>,
    ) -> Res<()> {
        if self.paused(to) {
            // it waits in the frozen process's socket
            let at = self.slots[to].paused_until;
            self.push(
                at,
                Kind::Deliver {
                    from,
                    to,
                    msg,
                    data,
                    voters,
                },
            );
            return Ok(());
        }
        self.trace(format_args!(
            "deliver {} -> {}: {:?}{}",
            self.id(from),
            self.id(to),
            msg,
            if data.is_some() { " +data" } else { "" }
        ));
        if matches!(msg, Message::VoteRequest { .. } | Message::Append { .. }) {
            self.note_request(to, from);
        }
        let from_id = self.id(from);
        let now = self.now;
        let outcome = self.slots[to]
            .node
            .step_with_voters(from_id, msg, voters, now);
        if let Some(reason) = outcome.ignored {
            self.trace(format_args!("  ignored: {reason}"));
        }
        if let Some(v) = outcome.accepted {
            match data {
                Some(x) => self.store(to, v, x)?,
                None => {
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!(
                            "node {} accepted version {v:?} from a message without data",
                            self.id(to)
                        ),
                    ))
                }
            }
        }
        self.after_step(to)
    }

    // ---- invariant 8: message rate per link ----

    fn window(&self) -> u64 {
        self.now / self.config.heartbeat
    }

    fn link(&mut self, a: usize, b: usize) -> &mut LinkWindow {
        let w = self.window();
        let l = &mut self.link_win[a][b];
        if l.window != w {
            *l = LinkWindow {
                window: w,
                ..LinkWindow::default()
            };
        }
        l
    }

    fn events(&mut self, a: usize) -> &mut NodeWindow {
        let w = self.window();
        let e = &mut self.node_win[a];
        if e.window != w {
            *e = NodeWindow {
                window: w,
                events: 0,
            };
        }
        e
    }

    /// Something that makes node `a` send at once to its peers.
    fn note_event(&mut self, a: usize) {
        self.events(a).events += 1;
    }

    /// `a` received a request from `b`: it may answer.
    fn note_request(&mut self, a: usize, b: usize) {
        self.link(a, b).requests += 1;
    }

    /// `a` sends to `b`: check invariant 8.
    fn note_send(&mut self, a: usize, b: usize, msg: &Message) -> Res<()> {
        let events = self.events(a).events;
        let l = self.link(a, b);
        l.sends += 1;
        let (sends, requests) = (l.sends, l.requests);
        let excess = sends.saturating_sub(2 * events + requests);
        self.stats.max_rate_excess = self.stats.max_rate_excess.max(excess);
        if self.p.check_rate && excess > RATE_SLACK {
            return Err(self.violation(
                inv::RATE,
                format!(
                    "node {} sent {sends} messages to {} in the {} ms window from t={} ({} events on the sender, {requests} requests from the receiver; bound {RATE_SLACK} + 2 x events + requests), the last {msg:?}",
                    self.id(a),
                    self.id(b),
                    self.config.heartbeat,
                    self.window() * self.config.heartbeat,
                    events,
                ),
            ));
        }
        Ok(())
    }

    // ---- strangers and confused members ----

    /// A term for a forged message to a node at term `t`: its own, a little or a lot beyond
    /// (just within and just beyond one message's reach), up to `MAX_VALUE`.
    fn wild_term(&mut self, t: u64) -> u64 {
        let x = match self.rng.below(8) {
            0 => t,
            1 => t + 1,
            2 => t + self.rng.range(2, 100),
            3 => t + MAX_TERM_STEP,
            4 => t + MAX_TERM_STEP + 1,
            5 => MAX_VALUE,
            6 => MAX_VALUE - 1,
            _ => self.rng.range(t, MAX_VALUE),
        };
        x.min(MAX_VALUE)
    }

    /// A version for a forged message to a node whose latest is `l`.
    /// A confirmation round as a forger picks it: none, small, or huge.
    fn wild_round(&mut self) -> u64 {
        match self.rng.below(4) {
            0 | 1 => 0,
            2 => self.rng.range(1, 10),
            _ => self.rng.range(1, MAX_VALUE),
        }
    }

    fn wild_version(&mut self, l: Version, term: u64) -> Version {
        let v = match self.rng.below(8) {
            0 => l,
            1 => Version::new(l.term, l.index + 1),
            2 => Version::new(term, l.index + 1),
            3 => Version::new(term, l.index + MAX_INDEX_STEP),
            4 => Version::new(term, l.index + MAX_INDEX_STEP + 1),
            5 => Version::new(MAX_VALUE, MAX_VALUE),
            6 => Version::new(term, MAX_VALUE),
            _ => Version::ZERO,
        };
        Version::new(v.term.min(MAX_VALUE), v.index.min(MAX_VALUE))
    }

    /// A stranger's message to node `to`, of any kind: vote requests (pre-votes and transfers
    /// among them), granted votes, appends with data, transfers and terms at or beyond the
    /// node's, successful acks; terms and versions up to `MAX_VALUE`.
    fn stranger_message(&mut self, to: usize) -> Message {
        let node = &self.slots[to].node;
        let (t, l, c) = (node.term(), node.latest(), node.committed());
        match self.rng.below(4) {
            0 => {
                let term = if self.rng.chance(100) {
                    t.saturating_sub(1)
                } else {
                    self.wild_term(t)
                };
                let last = self.wild_version(l, term);
                Message::VoteRequest {
                    term,
                    pre_vote: self.rng.chance(500),
                    last,
                    transfer: self.rng.chance(300),
                }
            }
            1 => {
                let pre_vote = self.rng.chance(400);
                let term = match self.rng.below(3) {
                    0 => t,
                    1 => t + 1,
                    _ => self.wild_term(t),
                };
                Message::VoteResponse {
                    term,
                    pre_vote,
                    granted: self.rng.chance(850),
                }
            }
            2 => {
                let term = self.wild_term(t);
                let version = self.wild_version(l, term);
                let commit = match self.rng.below(4) {
                    0 => c,
                    1 => l,
                    2 => version,
                    _ => Version::new(MAX_VALUE, MAX_VALUE),
                };
                Message::Append {
                    term,
                    version,
                    with_data: self.rng.chance(600),
                    commit,
                    transfer: self.rng.chance(300),
                    round: self.wild_round(),
                }
            }
            _ => {
                let term = if self.rng.chance(500) {
                    t
                } else {
                    self.wild_term(t)
                };
                let latest = self.wild_version(l, term);
                Message::AppendResponse {
                    term,
                    success: self.rng.chance(850),
                    latest,
                    round: self.wild_round(),
                }
            }
        }
    }

    /// A stranger sends a forged message to a random running node. Invariant 7: at delivery
    /// the node ignores it, changes nothing observable (status and timers) and says nothing.
    fn stranger(&mut self) -> Res<()> {
        let ups: Vec<usize> = (0..self.n()).filter(|&i| self.slots[i].up).collect();
        let Some(to) = self.pick(&ups) else {
            return Ok(());
        };
        let from = self.strangers[self.rng.below(self.strangers.len() as u64) as usize];
        let msg = self.stranger_message(to);
        self.trace(format_args!("stranger {from} -> {}: {msg:?}", self.id(to)));
        let now = self.now;
        let node = &mut self.slots[to].node;
        let before = (node.status(), node.next_deadline());
        let outcome = node.step(from, msg.clone(), now);
        let after = (node.status(), node.next_deadline());
        let said = node.take_outputs();
        self.stats.strangers += 1;
        let reason_ok = !self.p.stranger_reason || outcome.ignored == Some(NOT_A_MEMBER);
        if before != after || !said.is_empty() || outcome.accepted.is_some() || !reason_ok {
            return Err(self.violation(
                inv::STRANGERS,
                format!(
                    "node {} stepped {msg:?} from stranger {from}: {outcome:?}\n  before: {before:?}\n  after:  {after:?}\n  outputs: {said:?}",
                    self.id(to)
                ),
            ));
        }
        Ok(())
    }

    /// What an honest but confused member might send, spoofed with its id: a vote request
    /// (pre-vote or not) with a huge term and no data, or a successful ack claiming a version
    /// beyond the leader's latest (which must not count toward a commit, invariant 10).
    fn forge(&mut self) -> Res<()> {
        let leaders = self.leaders();
        let ups = self.up_members();
        let (to, ack) = match self.pick(&leaders) {
            Some(l) if self.rng.chance(500) => (l, true),
            _ => match self.pick(&ups) {
                Some(i) => (i, false),
                None => return Ok(()),
            },
        };
        let peers: Vec<usize> = self.slots[to]
            .node
            .members()
            .filter_map(|&id| usize::try_from(id).ok())
            .filter(|&id| (1..=self.n()).contains(&id) && id - 1 != to)
            .map(|id| id - 1)
            .collect();
        let Some(from) = self.pick(&peers) else {
            return Ok(());
        };
        if self.paused(to) {
            // a forged ack would wait out the pause in the socket and might then name a version
            // the leader made meanwhile: a claim it cannot tell from a real ack
            return Ok(());
        }
        let node = &self.slots[to].node;
        let (t, l) = (node.term(), node.latest());
        let msg = if ack {
            let index = match self.rng.below(5) {
                0 => l.index + 1,
                1 => l.index + self.rng.range(2, 100),
                2 => l.index + MAX_INDEX_STEP,
                3 => l.index + MAX_INDEX_STEP + 1,
                _ => MAX_VALUE,
            };
            Message::AppendResponse {
                term: t,
                success: true,
                latest: Version::new(t, index.min(MAX_VALUE)),
                round: self.wild_round(),
            }
        } else {
            let term = match self.rng.below(6) {
                _ if !self.p.huge_terms => t + self.rng.range(1, 1_000),
                0 => t + 1,
                1 => t + self.rng.range(2, 1_000),
                2 => t + MAX_TERM_STEP,
                3 => t + MAX_TERM_STEP + 1,
                4 => MAX_VALUE,
                _ => self.rng.range(t + 1, MAX_VALUE),
            };
            Message::VoteRequest {
                term: term.min(MAX_VALUE),
                pre_vote: self.rng.chance(500),
                last: Version::ZERO,
                transfer: false,
            }
        };
        self.stats.forged += 1;
        self.trace(format_args!("forged, as {}:", self.id(from)));
        self.deliver(from, to, msg, None, None)
    }

    /// After any input to node `i`: handle its outputs, re-arm its timer, release values the
    /// core no longer needs.
    fn after_step(&mut self, i: usize) -> Res<()> {
        self.handle_outputs(i)?;
        self.schedule_timer(i);
        // values are dropped only on `Released`: a version never released is a leak
        let s = &self.slots[i];
        if s.values.len() > VALUES_HELD_MAX {
            let live = s.node.live_versions().count();
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!(
                    "node {} holds {} values ({live} live): versions never released",
                    s.id,
                    s.values.len()
                ),
            ));
        }
        Ok(())
    }

    fn schedule_timer(&mut self, i: usize) {
        let now = self.now;
        let s = &mut self.slots[i];
        if !s.up {
            return;
        }
        let Some(d) = s.node.next_deadline() else {
            return;
        };
        let t = d.max(now + 1);
        if s.timer_at.is_none_or(|at| t < at) {
            s.timer_gen += 1;
            s.timer_at = Some(t);
            let gen = s.timer_gen;
            self.push(t, Kind::Timer { node: i, gen });
        }
    }

    fn handle_outputs(&mut self, i: usize) -> Res<()> {
        let mut buf = std::mem::take(&mut self.outbuf);
        self.slots[i].node.drain_outputs_into(&mut buf);
        // invariant 8: what makes a node send at once, counted before those sends
        for out in &buf {
            if matches!(out, Output::Committed(_) | Output::RoleChanged(_)) {
                self.note_event(i);
            }
        }
        let mut result = Ok(());
        for out in buf.drain(..) {
            if result.is_err() {
                continue;
            }
            result = self.handle_output(i, out);
        }
        self.outbuf = buf;
        result
    }

    fn handle_output(&mut self, i: usize, out: Output<u64>) -> Res<()> {
        match out {
            Output::Send { to, msg, voters } => self.send(i, to, msg, voters),
            Output::Persist { seq, state } => {
                let s = &self.slots[i];
                let (Some(&lv), Some(&cv)) =
                    (s.values.get(&state.latest), s.values.get(&state.committed))
                else {
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!(
                            "node {} asked to persist {state:?} without holding both values",
                            s.id
                        ),
                    ));
                };
                self.trace(format_args!("  persist {} seq {seq}: {state:?}", s.id));
                let delay = self.rng.range(1, self.disk_max_ms);
                let s = &mut self.slots[i];
                s.pending.push_back(PendingPersist {
                    seq,
                    disk: Disk {
                        state,
                        latest_val: lv,
                        committed_val: cv,
                    },
                });
                let at = s.persist_tail.max(self.now + delay);
                s.persist_tail = at;
                let life = s.life;
                self.push(at, Kind::PersistDone { node: i, life, seq });
                Ok(())
            }
            Output::Alias { version, copy_of } => {
                let Some(&x) = self.slots[i].values.get(&copy_of) else {
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!(
                            "node {} aliased {version:?} to {copy_of:?}, whose value it does not hold",
                            self.id(i)
                        ),
                    ));
                };
                self.trace(format_args!(
                    "  alias {} {version:?} = {copy_of:?}",
                    self.id(i)
                ));
                self.set_parent(version, copy_of)?;
                self.store(i, version, x)
            }
            Output::RoleChanged(r) => {
                self.trace(format_args!("  {} role {:?}", self.id(i), r));
                Ok(())
            }
            Output::Proposal {
                version,
                committed,
                failure,
                latency_ms,
            } => self.proposal_decided(i, version, committed, failure, latency_ms),
            Output::Confirmed { id, confirmed } => self.confirm_decided(i, id, confirmed),
            Output::ReadReady { id, version } => self.read_decided(i, id, Some(version)),
            Output::ReadFailed { id, .. } => self.read_decided(i, id, None),
            Output::TransferEnded { succeeded } => self.transfer_ended(i, succeeded),
            Output::LeaderChanged(l) => {
                self.slots[i].named_leader = l;
                Ok(())
            }
            Output::Committed(_) => {
                let s = &mut self.slots[i];
                s.commit_voters = s.cur_voters.clone();
                Ok(())
            }
            Output::ConfigChanged {
                version,
                voters,
                committed,
            } => self.config_changed(i, version, voters, committed),
            Output::Released(v) => {
                let s = &mut self.slots[i];
                if s.node.live_versions().any(|l| l == v) {
                    let id = s.id;
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!("node {id} released {v:?}, which it still holds"),
                    ));
                }
                s.values.remove(&v);
                Ok(())
            }
            Output::Log(line) => {
                if line.starts_with("leader cannot persist") {
                    self.stats.stalled_leaders += 1;
                }
                self.trace(format_args!("  {} log: {line}", self.id(i)));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Invariant 11, proposals: each decided once; one reported committed is on the chain of
    /// the node's commit point (so of every later leader's data, checked in `check`).
    /// and the reason given for one not committed holds: superseded only once the node's
    /// commit point is at or beyond it in another term (or of a later term), timed out only
    /// once its timeout passed; `latency_ms` is the time since it was proposed.
    fn proposal_decided(
        &mut self,
        i: usize,
        v: Version,
        committed: bool,
        failure: Option<ProposalFailure>,
        latency_ms: u64,
    ) -> Res<()> {
        let id = self.id(i);
        let now = self.now;
        let s = &mut self.slots[i];
        let Some(k) = s.proposals.iter().position(|(p, _, _)| *p == v) else {
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!("node {id} decided {v:?}, which is not a pending proposal of it"),
            ));
        };
        let (_, at, timeout) = s.proposals.remove(k);
        self.trace(format_args!(
            "  {id} proposal {v:?} committed: {committed} ({failure:?}, {latency_ms} ms)"
        ));
        if latency_ms != now - at {
            return Err(self.violation(
                inv::OUTCOMES,
                format!(
                    "node {id} decided {v:?} after {} ms, reported {latency_ms}",
                    now - at
                ),
            ));
        }
        if committed == failure.is_some() {
            return Err(self.violation(
                inv::OUTCOMES,
                format!("node {id} decided {v:?} committed: {committed} with failure {failure:?}"),
            ));
        }
        if !committed {
            self.stats.proposals_lost += 1;
            let c = self.slots[i].node.committed();
            match failure {
                Some(ProposalFailure::Superseded) => {
                    self.stats.proposals_superseded += 1;
                    if v.fate_under(c) != Some(false) {
                        return Err(self.violation(
                            inv::OUTCOMES,
                            format!("node {id} reported {v:?} superseded at commit point {c:?}"),
                        ));
                    }
                }
                Some(ProposalFailure::TimedOut) => {
                    self.stats.proposals_timed_out += 1;
                    if now < at + timeout {
                        return Err(self.violation(
                            inv::OUTCOMES,
                            format!(
                                "node {id} reported {v:?} (t={at}, timeout {timeout} ms) timed out at t={now}"
                            ),
                        ));
                    }
                }
                other => {
                    return Err(self.violation(
                        inv::OUTCOMES,
                        format!(
                            "node {id} decided {v:?} not committed for {other:?} while running"
                        ),
                    ));
                }
            }
            return Ok(());
        }
        self.stats.proposals_committed += 1;
        let c = self.slots[i].node.committed();
        if !self.ancestor_or_equal(v, c) {
            return Err(self.violation(
                inv::OUTCOMES,
                format!("node {id} reported {v:?} committed; its commit point {c:?} does not contain it"),
            ));
        }
        if self.promised.is_none_or(|(_, pc)| c >= pc) {
            self.promised = Some((v, c));
        }
        Ok(())
    }

    /// Invariant 12: a leadership confirmation is decided once; reported true, the node leads
    /// the term it was asked in, and no node had been elected in a later term before the
    /// request (ReadIndex: the leader's committed data was not stale when it was asked).
    fn confirm_decided(&mut self, i: usize, cid: u64, confirmed: bool) -> Res<()> {
        let id = self.id(i);
        let s = &mut self.slots[i];
        let Some(k) = s.confirms.iter().position(|(c, _, _, _)| *c == cid) else {
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!("node {id} decided confirmation {cid}, which is not pending"),
            ));
        };
        let (_, term, asked, _) = s.confirms.remove(k);
        self.trace(format_args!(
            "  {id} confirmation {cid} (term {term}): {confirmed}"
        ));
        if !confirmed {
            self.stats.confirms_false += 1;
            return Ok(());
        }
        self.stats.confirms_true += 1;
        let node = &self.slots[i].node;
        // a leader whose removal committed in the same input steps down right after deciding
        // (§4.2.2): it still led when it confirmed
        let removed = node.committed_voters().is_some_and(|v| !v.contains(&id));
        if (node.role() != Role::Leader && !removed) || node.term() != term {
            return Err(self.violation(
                inv::CONFIRM,
                format!(
                    "node {id} confirmed its leadership of term {term} as {:?} of term {}",
                    node.role(),
                    node.term()
                ),
            ));
        }
        if let Some((t, at)) = self
            .term_elected
            .iter()
            .find(|(&t, &at)| t > term && at < asked)
        {
            return Err(self.violation(
                inv::CONFIRM,
                format!(
                    "node {id} confirmed its leadership of term {term}; node {:?} had been elected in term {t} (event {at}) before the request (event {asked})",
                    self.term_leader.get(t)
                ),
            ));
        }
        Ok(())
    }

    /// Invariant 13: a read is answered once, with a version the node committed (its commit
    /// point when the outputs are handled is at or beyond it), on the
    /// chain at or beyond every version committed anywhere before the request.
    fn read_decided(&mut self, i: usize, rid: u64, version: Option<Version>) -> Res<()> {
        let id = self.id(i);
        let s = &mut self.slots[i];
        let Some(k) = s.reads.iter().position(|(r, _)| *r == rid) else {
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!("node {id} answered read {rid}, which is not pending"),
            ));
        };
        let (_, before) = s.reads.remove(k);
        let Some(v) = version else {
            self.stats.reads_failed += 1;
            return Ok(());
        };
        self.stats.reads_ready += 1;
        let committed = self.slots[i].node.committed();
        if !self.ancestor_or_equal(v, committed) || !self.ancestor_or_equal(before, v) {
            return Err(self.violation(
                inv::READ,
                format!(
                    "node {id} answered read {rid} with {v:?} (its commit point {committed:?}); {before:?} was committed before the request"
                ),
            ));
        }
        Ok(())
    }

    /// Invariant 11, transfers: each request ends once; a success follows the news of another
    /// node's leadership (the `LeaderChanged` just before), in the term asked or a later one.
    fn transfer_ended(&mut self, i: usize, succeeded: bool) -> Res<()> {
        let s = &mut self.slots[i];
        let id = s.id;
        if s.transfers == 0 {
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!("node {id} ended a transfer it was not asked for"),
            ));
        }
        s.transfers -= 1;
        self.trace(format_args!(
            "  {id} transfer ended, succeeded: {succeeded}"
        ));
        if !succeeded {
            self.stats.transfers_failed += 1;
            return Ok(());
        }
        self.stats.transfers_succeeded += 1;
        let s = &self.slots[i];
        let asked = s.transfer_term;
        let named = s.named_leader;
        let real = named.is_some_and(|x| {
            x != id && self.term_leader.iter().any(|(&t, &l)| l == x && t >= asked)
        });
        if !real {
            return Err(self.violation(
                inv::OUTCOMES,
                format!(
                    "node {id} reported its transfer (asked in term {asked}) succeeded; the leader it named last is {named:?}"
                ),
            ));
        }
        if s.transfers == 0 {
            let t = s.node.term();
            self.slots[i].transfer_term = t;
        }
        Ok(())
    }

    fn send(&mut self, i: usize, to_id: u64, msg: Message, voters: Option<Voters<u64>>) -> Res<()> {
        self.check_send(i, to_id, &msg)?;
        let to = match usize::try_from(to_id) {
            Ok(t) if (1..=self.n()).contains(&t) => t - 1,
            _ => {
                return Err(self.violation(
                    inv::HOST_CONTRACT,
                    format!("node {} sent to unknown node {to_id}", self.id(i)),
                ))
            }
        };
        let data = match msg {
            Message::Append {
                with_data: true,
                version,
                ..
            } => match self.slots[i].values.get(&version) {
                Some(&x) => Some(x),
                None => {
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!(
                            "node {} sent the data of {version:?}, whose value it does not hold (live: {:?})",
                            self.id(i),
                            self.slots[i].node.live_versions().collect::<Vec<_>>()
                        ),
                    ))
                }
            },
            _ => None,
        };
        self.trace(format_args!("  send {} -> {to_id}: {msg:?}", self.id(i)));
        self.stats.messages += 1;
        self.note_send(i, to, &msg)?;
        if let Some((starved, from, until)) = self.starve {
            if to == starved
                && data.is_some()
                && self.faults_on
                && (from..until).contains(&self.now)
            {
                self.trace(format_args!("  lost: {to_id} is starved of data"));
                self.stats.starved_drops += 1;
                self.stats.dropped += 1;
                return Ok(());
            }
        }
        if self.cut[i][to] || self.rng.chance(self.loss) {
            self.stats.dropped += 1;
            return Ok(());
        }
        let copies = if self.rng.chance(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let latency = if self.rng.chance(self.long_delay) {
                self.rng.range(100, 1_000)
            } else {
                self.rng.range(1, 30)
            };
            let at = self.now + latency;
            self.push(
                at,
                Kind::Deliver {
                    from: i,
                    to,
                    msg: msg.clone(),
                    data,
                    voters: voters.clone(),
                },
            );
        }
        Ok(())
    }

    /// Invariant 5: a message leaves only once what it acknowledges is on disk.
    /// - a vote grant: the term and the vote for the destination (or a later term);
    /// - a data ack (`AppendResponse` with `success`): the term, and a latest version at least
    ///   as new as the acked one; within the ack's own term, the acked version itself or a
    ///   descendant. (Across terms the disk may hold an unrelated newer version: an ack gated
    ///   on a persist that was coalesced with a later one, which replaced the acked version by
    ///   a newer term's. Harmless: that leader's term is over for this node, which cannot also
    ///   have voted for a leader lacking the version. Seed 95466 shows it.)
    /// - our own vote request: our vote for ourselves in its term (or a later term);
    /// - a refusal (a vote denied, a failed append): nothing. It promises nothing, so it may
    ///   leave before its term is on disk (a node that forgets a term it only refused in is
    ///   merely behind); holding refusals behind a slow disk starved the leader's check-quorum
    ///   (a 200 ms disk with 200 ms elections never committed, junk test);
    /// - any other message but pre-votes (a leader's append): its term.
    fn check_send(&self, i: usize, to: u64, msg: &Message) -> Res<()> {
        if !self.p.check_acks {
            return Ok(());
        }
        let d = &self.slots[i].disk.state;
        let ok = match *msg {
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
                    && (d.term > term || self.ancestor_or_equal(latest, d.latest))
            }
            Message::VoteRequest { term, .. } => {
                d.term > term || (d.term == term && d.voted_for == Some(self.id(i)))
            }
            Message::VoteResponse { granted: false, .. }
            | Message::AppendResponse { success: false, .. } => true,
            ref m => d.term >= m.term(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.violation(
                inv::PERSIST_BEFORE_ACK,
                format!(
                    "node {} sent {msg:?} to {to} while its disk holds {d:?}",
                    self.id(i)
                ),
            ))
        }
    }

    /// Invariant 4: one value per version, across all nodes and the whole run.
    fn store(&mut self, i: usize, v: Version, x: u64) -> Res<()> {
        match self.values.entry(v) {
            MapEntry::Occupied(e) => {
                if *e.get() != x {
                    let have = *e.get();
                    return Err(self.violation(
                        inv::ONE_VALUE,
                        format!(
                            "node {} stores value {x:#x} for {v:?}, which already has {have:#x}",
                            self.id(i)
                        ),
                    ));
                }
            }
            MapEntry::Vacant(e) => {
                e.insert(x);
            }
        }
        self.slots[i].values.insert(v, x);
        Ok(())
    }

    fn set_parent(&mut self, v: Version, p: Version) -> Res<()> {
        if p >= v {
            return Err(self.violation(
                inv::HOST_CONTRACT,
                format!("new version {v:?} is not newer than its parent {p:?}"),
            ));
        }
        match self.parent.entry(v) {
            MapEntry::Occupied(e) => {
                if *e.get() != p {
                    let had = *e.get();
                    return Err(self.violation(
                        inv::ONE_VALUE,
                        format!("version {v:?} created twice: on {had:?} and on {p:?}"),
                    ));
                }
            }
            MapEntry::Vacant(e) => {
                e.insert(p);
            }
        }
        Ok(())
    }

    /// Whether `a` is `b` or one of its ancestors (walks `b`'s parents down to `a`'s index).
    fn ancestor_or_equal(&self, a: Version, b: Version) -> bool {
        let mut cur = b;
        loop {
            if cur == a {
                return true;
            }
            if cur.index < a.index || cur < a {
                return false;
            }
            match self.parent.get(&cur) {
                Some(&p) => cur = p,
                None => return false,
            }
        }
    }

    fn on_one_chain(&self, a: Version, b: Version) -> bool {
        if a.index <= b.index {
            self.ancestor_or_equal(a, b)
        } else {
            self.ancestor_or_equal(b, a)
        }
    }

    /// Invariants 1, 2, 3 and 6, after every step.
    fn check(&mut self) -> Res<()> {
        for i in 0..self.n() {
            let s = &self.slots[i];
            if !s.up {
                continue;
            }
            let id = s.id;
            let node = &s.node;
            let role = node.role();
            let term = node.term();
            let latest = node.latest();
            let committed = node.committed();
            let visible = node.visible();
            // 6
            let want = if role == Role::Leader {
                latest
            } else {
                committed
            };
            if visible != want {
                return Err(self.violation(
                    inv::VISIBLE,
                    format!(
                        "node {id} ({role:?}) shows {visible:?}; latest {latest:?}, committed {committed:?}"
                    ),
                ));
            }
            // 1
            if role == Role::Leader && s.recorded_leader_term != term {
                match self.term_leader.entry(term) {
                    MapEntry::Occupied(e) => {
                        if *e.get() != id {
                            let other = *e.get();
                            return Err(self.violation(
                                inv::ELECTION_SAFETY,
                                format!("nodes {other} and {id} both leaders in term {term}"),
                            ));
                        }
                    }
                    MapEntry::Vacant(e) => {
                        e.insert(id);
                        self.term_elected.insert(term, self.events);
                        self.trace(format_args!("  node {id} LEADER of term {term}"));
                        // sometimes a new leader dies or is cut off soon after its election,
                        // before what it replicates first reaches a majority
                        if self.faults_on && self.rng.chance(self.strike * 2) {
                            let at = self.now + self.rng.range(0, 40);
                            let life = self.slots[i].life;
                            self.push(at, Kind::Strike { node: i, life });
                        }
                    }
                }
                self.slots[i].recorded_leader_term = term;
            }
            // 3
            let old = self.slots[i].last_committed;
            if committed != old {
                if committed.index < old.index || !self.ancestor_or_equal(old, committed) {
                    return Err(self.violation(
                        inv::STATE_MACHINE_SAFETY,
                        format!(
                            "node {id}'s commit point moved from {old:?} to {committed:?}, not a descendant"
                        ),
                    ));
                }
                let max = self.max_committed;
                if !self.on_one_chain(max, committed) {
                    return Err(self.violation(
                        inv::STATE_MACHINE_SAFETY,
                        format!(
                            "node {id} committed {committed:?}, which is not on one chain with committed {max:?}"
                        ),
                    ));
                }
                if !self.slots[i].values.contains_key(&committed) {
                    return Err(self.violation(
                        inv::HOST_CONTRACT,
                        format!("node {id} committed {committed:?} without holding its value"),
                    ));
                }
                if role == Role::Leader && self.p.check_acks {
                    self.check_majority(i, committed)?;
                }
                if committed != max && self.ancestor_or_equal(max, committed) {
                    self.max_committed = committed;
                    self.stats.commits += 1;
                }
                self.slots[i].last_committed = committed;
            }
        }
        // 11: outcomes decided in time (a proposal within its timeout, a confirmation within
        // election_max, with a timer's slack; a frozen process decides them when it resumes)
        for s in &self.slots {
            for &(v, at, timeout) in &s.proposals {
                if s.up && self.now > (at + timeout).max(s.paused_until) + self.config.heartbeat {
                    return Err(self.violation(
                        inv::OUTCOMES,
                        format!(
                            "node {}'s proposal {v:?} of t={at} is still undecided",
                            s.id
                        ),
                    ));
                }
            }
            if let Some(&(c, _, _, at)) = s.confirms.first() {
                if s.up
                    && self.now
                        > (at + self.config.election_max).max(s.paused_until)
                            + self.config.heartbeat
                {
                    return Err(self.violation(
                        inv::OUTCOMES,
                        format!("node {}'s confirmation {c} is still undecided", s.id),
                    ));
                }
            }
        }
        // 14
        let newest = self
            .slots
            .iter()
            .filter(|s| s.up && s.node.role() == Role::Leader)
            .map(|s| s.node.term())
            .max();
        if let Some(newest) = newest {
            for s in &self.slots {
                let n = &s.node;
                if s.up
                    && n.role() == Role::Leader
                    && n.term() < newest
                    && n.status_at(self.now).lease_valid
                {
                    return Err(self.violation(
                        inv::LEASE,
                        format!(
                            "node {} (leader of term {}) holds a lease while a leader of term {newest} leads",
                            s.id,
                            n.term()
                        ),
                    ));
                }
            }
        }
        // 2, once the commit point of this step is known
        let max = self.max_committed;
        for s in &self.slots {
            if s.up
                && s.node.role() == Role::Leader
                && s.node.term() >= max.term
                && !self.ancestor_or_equal(max, s.node.latest())
            {
                return Err(self.violation(
                    inv::LEADER_COMPLETENESS,
                    format!(
                        "node {} leads term {} with latest {:?}, which does not descend from committed {max:?}",
                        s.id,
                        s.node.term(),
                        s.node.latest()
                    ),
                ));
            }
        }
        // 11 (after 2, which sees a lost commit first): a proposal reported committed is on every later leader's chain
        if let Some((p, c)) = self.promised {
            for s in &self.slots {
                if s.up
                    && s.node.role() == Role::Leader
                    && s.node.term() >= c.term
                    && !self.ancestor_or_equal(p, s.node.latest())
                {
                    return Err(self.violation(
                        inv::OUTCOMES,
                        format!(
                            "node {} leads term {} with latest {:?}, without {p:?} reported committed (in {c:?})",
                            s.id,
                            s.node.term(),
                            s.node.latest()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Invariant 10: when leader `l` commits `v`, a majority of the members hold `v` (or a
    /// version descending from it) on disk: acknowledgements the leader counted were real, and
    /// claims of versions it does not hold were not counted.
    fn check_majority(&self, l: usize, v: Version) -> Res<()> {
        // over the voters the leader counted when it committed
        let voters = match &self.slots[l].commit_voters {
            Some(v) => v.clone(),
            None => self.slots[l].node.voters().clone(),
        };
        let members: Vec<usize> = voters
            .iter()
            .filter_map(|&id| usize::try_from(id).ok())
            .filter(|&id| (1..=self.n()).contains(&id))
            .map(|id| id - 1)
            .collect();
        let holding: Vec<u64> = members
            .iter()
            .filter(|&&j| self.ancestor_or_equal(v, self.slots[j].disk.state.latest))
            .map(|&j| self.id(j))
            .collect();
        if holding.len() * 2 > members.len() {
            return Ok(());
        }
        let disks: Vec<(u64, Version)> = members
            .iter()
            .map(|&j| (self.id(j), self.slots[j].disk.state.latest))
            .collect();
        Err(self.violation(
            inv::MAJORITY,
            format!(
                "leader {} committed {v:?}, held on disk by {holding:?} only of voters {:?} (disks: {disks:?})",
                self.id(l),
                voters.as_slice()
            ),
        ))
    }

    // ---- lives ----

    /// Start node `i` (first start, restart after a crash, or re-admission) from its disk.
    fn boot(&mut self, i: usize) -> Res<()> {
        let seed = self.rng.next_u64();
        let now = self.now;
        let me = self.id(i);
        let members: Vec<u64> = self.boot_acks(i);
        let gone: Vec<u64> = (0..self.n())
            .filter(|&j| !self.member[j] && j != i)
            .map(|j| self.id(j))
            .collect();
        let s = &mut self.slots[i];
        s.node = Node::new(s.id, self.config.clone(), seed);
        for m in members {
            if m != me {
                s.node.add_member(m, now);
            }
        }
        if s.disk.state.latest_voters.is_some() {
            // a node that holds a configuration knows what its app no longer wants too
            for g in gone {
                s.node.remove_member(&g, now);
            }
        }
        s.cur_voters = None;
        s.commit_voters = None;
        s.values = FxMap::default();
        s.values.insert(s.disk.state.latest, s.disk.latest_val);
        s.values
            .insert(s.disk.state.committed, s.disk.committed_val);
        s.pending.clear();
        s.proposals.clear();
        s.confirms.clear();
        s.reads.clear();
        s.transfers = 0;
        s.named_leader = None;
        s.disk_seq = 0;
        s.persist_tail = now;
        s.timer_at = None;
        s.timer_gen += 1;
        s.recorded_leader_term = 0;
        // a restarted node is never behind what it had on disk: checked from there
        s.last_committed = s.disk.state.committed;
        s.up = true;
        let restored = s.disk.state.clone();
        s.node.start(restored, now);
        self.trace(format_args!(
            "boot {} from {:?}",
            self.id(i),
            self.slots[i].disk.state
        ));
        self.after_step(i)
    }

    /// Crash node `i`: everything not on disk is lost, in-flight persists included.
    fn crash(&mut self, i: usize) {
        self.trace(format_args!("crash {}", self.id(i)));
        let s = &mut self.slots[i];
        s.node.stop();
        s.up = false;
        s.life += 1;
        s.pending.clear();
        s.proposals.clear();
        s.confirms.clear();
        s.reads.clear();
        s.transfers = 0;
        s.paused_until = 0;
        s.timer_at = None;
        s.timer_gen += 1;
        s.values = FxMap::default();
        self.stats.crashes += 1;
    }

    /// Crash node `i` and restart it from its disk a little later.
    fn crash_for_a_while(&mut self, i: usize) {
        self.crash(i);
        let down_for = if self.rng.chance(200) {
            self.rng.range(300, 2_000)
        } else {
            self.rng.range(5, 300)
        };
        let life = self.slots[i].life;
        let at = self.now + down_for;
        self.push(at, Kind::Restart { node: i, life });
    }

    fn isolate(&mut self, a: usize) {
        for b in 0..self.n() {
            if b != a {
                self.cut[a][b] = true;
                self.cut[b][a] = true;
            }
        }
        self.stats.partitions += 1;
        self.trace(format_args!("isolate {}", self.id(a)));
    }

    // ---- the outside world: faults and the application ----

    fn up_members(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.member[i] && self.slots[i].up)
            .collect()
    }

    fn leaders(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.slots[i].up && self.slots[i].node.role() == Role::Leader)
            .collect()
    }

    fn pick(&mut self, v: &[usize]) -> Option<usize> {
        if v.is_empty() {
            None
        } else {
            Some(v[self.rng.below(v.len() as u64) as usize])
        }
    }

    /// The application's `replicateData`, on whoever believes it leads.
    fn client(&mut self) -> Res<()> {
        let leaders = self.leaders();
        let Some(i) = self.pick(&leaders) else {
            return Ok(());
        };
        if self.paused(i) {
            return Ok(()); // the app is frozen with it
        }
        // now and then a burst, more versions than a node holds (`MAX_HELD`) before a commit
        let burst = if self.rng.chance(30) {
            self.rng.range(2, 100)
        } else {
            1
        };
        // now and then, before writing, the app checks it still leads (sometimes on a node
        // that does not)
        if self.rng.chance(300) {
            let j = if self.rng.chance(200) {
                self.rng.below(self.n() as u64) as usize
            } else {
                i
            };
            if self.slots[j].up && !self.paused(j) {
                self.confirm(j)?;
            }
        }
        for _ in 0..burst {
            let before = self.slots[i].node.latest();
            let now = self.now;
            // a share of proposals with their own timeout (issue 8's `replicateTimeout`)
            let timeout = if self.rng.chance(200) {
                self.rng.range(1, 2 * self.config.election_max)
            } else {
                self.config.election_max
            };
            match self.slots[i].node.propose_with_timeout(now, timeout) {
                Ok(v) => {
                    self.trace(format_args!("propose on {}: {v:?}", self.id(i)));
                    if self.values.contains_key(&v) {
                        return Err(self.violation(
                            inv::ONE_VALUE,
                            format!(
                                "propose on node {} returned existing version {v:?}",
                                self.id(i)
                            ),
                        ));
                    }
                    self.set_parent(v, before)?;
                    let now = self.now;
                    self.slots[i].proposals.push((v, now, timeout));
                    let token = self.rng.next_u64() | 1;
                    self.store(i, v, token)?;
                    self.stats.proposals += 1;
                    self.note_event(i);
                }
                Err(e) => self.trace(format_args!("propose on {}: {e:?}", self.id(i))),
            }
            self.after_step(i)?;
            if !self.slots[i].up || self.slots[i].node.role() != Role::Leader {
                break;
            }
        }
        if self.rng.chance(self.strike) {
            let at = self.now + self.rng.range(0, 15);
            let life = self.slots[i].life;
            self.push(at, Kind::Strike { node: i, life });
        }
        Ok(())
    }

    fn paused(&self, i: usize) -> bool {
        self.slots[i].paused_until > self.now
    }

    /// Freeze node `i`'s process (SIGSTOP) for a while: longer than an election timeout as
    /// often as not, so a leader may wake up deposed, with responses from before waiting.
    fn pause(&mut self, i: usize) {
        if !self.slots[i].up || self.paused(i) {
            return;
        }
        let until = self.now
            + self
                .rng
                .range(self.config.election_min / 2, 3 * self.config.election_max);
        self.slots[i].paused_until = until;
        self.stats.pauses += 1;
        self.trace(format_args!("pause {} until {until}", self.id(i)));
    }

    /// `confirmLeadership()` on node `i` (up).
    fn confirm(&mut self, i: usize) -> Res<()> {
        let now = self.now;
        let term = self.slots[i].node.term();
        let events = self.events;
        match self.slots[i].node.confirm_leadership(now) {
            Ok(cid) => {
                self.trace(format_args!(
                    "confirm on {} (term {term}): request {cid}",
                    self.id(i)
                ));
                self.slots[i].confirms.push((cid, term, events, now));
                self.note_event(i);
                // and a read, half of them by the lease
                let lease = self.rng.chance(500);
                let before = self.max_committed;
                if let Ok(rid) = self.slots[i].node.read_index(now, lease) {
                    self.slots[i].reads.push((rid, before));
                }
            }
            Err(ConfirmError::NotLeader) => {
                if self.slots[i].node.role() == Role::Leader {
                    return Err(self.violation(
                        inv::OUTCOMES,
                        format!("leader {} refused to confirm: not leader", self.id(i)),
                    ));
                }
            }
            Err(e) => {
                return Err(self.violation(
                    inv::HOST_CONTRACT,
                    format!("confirm on running node {}: {e:?}", self.id(i)),
                ));
            }
        }
        self.after_step(i)
    }

    fn fault(&mut self) -> Res<()> {
        let n = self.n();
        let roll = self.rng.below(100 + self.crash_weight);
        match roll {
            0..=14 => {
                // cut a link, one way or both
                let a = self.rng.below(n as u64) as usize;
                let b = self.rng.below(n as u64) as usize;
                if a != b {
                    self.cut[a][b] = true;
                    if self.rng.chance(500) {
                        self.cut[b][a] = true;
                    }
                    self.stats.partitions += 1;
                    self.trace(format_args!("cut {} -> {}", self.id(a), self.id(b)));
                }
            }
            15..=24 => {
                // isolate a node (often the leader), or freeze its process for a while
                let leaders = self.leaders();
                let a = match self.pick(&leaders) {
                    Some(l) if self.rng.chance(500) => l,
                    _ => self.rng.below(n as u64) as usize,
                };
                if self.rng.chance(250) {
                    self.pause(a);
                } else {
                    self.isolate(a);
                }
            }
            25..=44 => {
                self.cut = [[false; MAX_NODES]; MAX_NODES];
                self.trace(format_args!("heal all"));
            }
            45..=54 => {
                let a = self.rng.below(n as u64) as usize;
                for b in 0..n {
                    self.cut[a][b] = false;
                    self.cut[b][a] = false;
                }
                self.trace(format_args!("heal {}", self.id(a)));
            }
            55..=64 => {
                // at any moment: during elections, partitions, crashes and pauses alike
                self.membership_change()?;
            }
            65..=71 => {
                // serviceCrashed on a leader
                let leaders = self.leaders();
                if let Some(l) = self.pick(&leaders).filter(|&l| !self.paused(l)) {
                    self.trace(format_args!("serviceCrashed on {}", self.id(l)));
                    let now = self.now;
                    self.note_event(l);
                    self.slots[l].node.crashed(now);
                    self.stats.service_crashes += 1;
                    self.after_step(l)?;
                }
            }
            72..=79 => {
                let leaders = self.leaders();
                if let Some(l) = self.pick(&leaders).filter(|&l| !self.paused(l)) {
                    let now = self.now;
                    // usually to the most up-to-date follower, sometimes to a chosen member
                    let to = if self.rng.chance(250) {
                        let ups = self.up_members();
                        self.pick(&ups).map(|t| self.id(t))
                    } else {
                        None
                    };
                    self.note_event(l);
                    let r = self.slots[l].node.transfer_leadership(to, now);
                    if r.is_ok() {
                        let s = &mut self.slots[l];
                        if s.transfers == 0 {
                            s.transfer_term = s.node.term();
                        }
                        s.transfers += 1;
                    }
                    self.trace(format_args!(
                        "transfer leadership from {}: {r:?}",
                        self.id(l)
                    ));
                    self.stats.transfers += 1;
                    self.after_step(l)?;
                }
            }
            80..=99 => {} // a quiet moment
            _ => {
                // crash-restart: a random member, or one of the leaders
                let ups = self.up_members();
                let leaders = self.leaders();
                let victim = if self.rng.chance(400) {
                    self.pick(&leaders)
                } else {
                    self.pick(&ups)
                };
                if let Some(v) = victim {
                    self.crash_for_a_while(v);
                }
            }
        }
        Ok(())
    }

    /// The configuration of version `v`: that of the newest version on its chain that changed
    /// it (`None`: no configuration, bootstrap).
    fn cfg_of(&self, v: Version) -> Option<&Voters<u64>> {
        let mut cur = v;
        loop {
            if let Some(c) = self.vconf.get(&cur) {
                return Some(c);
            }
            cur = *self.parent.get(&cur)?;
        }
    }

    /// Whom node `i` acks when it boots. Before the cluster holds a configuration, the first
    /// members (all ack each other, as an in-memory cluster does); then the voters of the
    /// newest committed configuration: the app's contract for a node without a configuration
    /// of its own (bootstrap counts over its acks) is that it acks the cluster's members, not
    /// other newcomers (several empty newcomers acking each other could out-vote the holders
    /// of the committed data: the documented risk of bootstrapping from acks).
    fn boot_acks(&self, i: usize) -> Vec<u64> {
        let me = self.id(i);
        let mut acks: Vec<u64> = match self.cfg_of(self.max_committed) {
            Some(c) => c.iter().copied().collect(),
            None => (0..self.n())
                .filter(|&j| self.member[j])
                .map(|j| self.id(j))
                .collect(),
        };
        if self.slots[i].disk.state.latest_voters.is_some() {
            // its own configuration is what counts: it may ack every node its app wants
            acks.extend(
                (0..self.n())
                    .filter(|&j| self.member[j])
                    .map(|j| self.id(j)),
            );
        }
        acks.sort_unstable();
        acks.dedup();
        acks.retain(|&a| a != me);
        acks
    }

    /// A node's latest (or committed) configuration changed. Invariant 13: one configuration
    /// per version, and a configuration that takes effect on the chain of the newest committed
    /// version has majorities that overlap those of that version's configuration (so no two
    /// disjoint majorities can decide: one server at a time, one change in flight).
    fn config_changed(
        &mut self,
        i: usize,
        version: Version,
        voters: Voters<u64>,
        committed: bool,
    ) -> Res<()> {
        self.trace(format_args!(
            "  {} config {}{version:?}: {:?}",
            self.id(i),
            if committed { "committed " } else { "" },
            voters.as_slice()
        ));
        if committed {
            return Ok(());
        }
        self.slots[i].cur_voters = Some(voters.clone());
        if let Some(had) = self.vconf.get(&version) {
            if *had != voters {
                return Err(self.violation(
                    inv::CONFIGS,
                    format!(
                        "version {version:?} holds voters {:?} on node {} and {:?} elsewhere",
                        voters.as_slice(),
                        self.id(i),
                        had.as_slice()
                    ),
                ));
            }
        } else if self.cfg_of(version) != Some(&voters) {
            self.vconf.insert(version, voters.clone());
        }
        // the newest commit known: the global one, or this node's own when newer (a leader
        // commits and proposes the next change in one step, before `check` sees the commit)
        let own = self.slots[i].node.committed();
        let g = if own != self.max_committed && self.ancestor_or_equal(self.max_committed, own) {
            own
        } else {
            self.max_committed
        };
        if self.ancestor_or_equal(g, version) {
            if let Some(cg) = self.cfg_of(g) {
                if cg.disjoint_majorities(&voters) {
                    return Err(self.violation(
                        inv::CONFIGS,
                        format!(
                            "node {} holds voters {:?} at {version:?} while {g:?} (committed) has {:?}: disjoint majorities",
                            self.id(i),
                            voters.as_slice(),
                            cg.as_slice()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether a running node holds `id` in one of its configurations.
    fn counted_as_voter(&self, id: u64) -> bool {
        self.slots.iter().any(|s| {
            s.up && (s.node.voters().contains(&id)
                || s.node.committed_voters().is_some_and(|v| v.contains(&id))
                || s.disk
                    .state
                    .latest_voters
                    .as_ref()
                    .is_some_and(|v| v.contains(&id)))
        })
    }

    /// The app's intents, to every running node that holds a configuration (a node without
    /// one counts over its acks: see `boot_acks`).
    fn tell_intents(&mut self) -> Res<()> {
        let now = self.now;
        let cluster: Vec<u64> = self
            .cfg_of(self.max_committed)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default();
        for j in 0..self.n() {
            // (a frozen process gets them too: the app's acks reach it when it resumes)
            if !self.slots[j].up {
                continue;
            }
            self.note_event(j);
            if !self.slots[j].node.has_configuration() {
                // a node without one acks the cluster's voters only (see `boot_acks`)
                for &c in &cluster {
                    if c != self.id(j) {
                        self.slots[j].node.add_member(c, now);
                    }
                }
                self.after_step(j)?;
                continue;
            }
            for x in 0..self.n() {
                let xid = self.id(x);
                if self.member[x] {
                    self.slots[j].node.add_member(xid, now);
                } else {
                    self.slots[j].node.remove_member(&xid, now);
                }
            }
            self.after_step(j)?;
        }
        Ok(())
    }

    /// The app changes membership at any moment, as raftq apps do: `ackNode` for a node reaches
    /// some of the running nodes (each on its own: a lost POST, a node that is down), a removed
    /// node sometimes goes on running, a newcomer starts and acks the cluster. Additions,
    /// removals (the leader's too, and self-removals) and replacements, during elections,
    /// partitions and crashes alike. The configuration moves through the leader.
    fn membership_change(&mut self) -> Res<()> {
        if self.cfg_of(self.max_committed).is_none() {
            // the cluster bootstraps first (see `boot_acks`)
            return Ok(());
        }
        let n = self.n();
        let members: Vec<usize> = (0..n).filter(|&i| self.member[i]).collect();
        let outsiders: Vec<usize> = (0..n).filter(|&i| !self.member[i]).collect();
        let can_add = !outsiders.is_empty();
        let can_remove = members.len() > self.min_members;
        let roll = self.rng.below(1000);
        let (add, remove) = match (can_add, can_remove) {
            (true, true) if roll < 250 => (true, true), // replace
            (true, true) => (roll < 600, roll >= 600),
            (a, r) => (a, r),
        };
        if remove {
            let leaders = self.leaders();
            let x = match self.pick(&leaders) {
                Some(l) if self.member[l] && self.rng.chance(300) => Some(l),
                _ => self.pick(&members),
            };
            if let Some(x) = x {
                let xid = self.id(x);
                self.trace(format_args!("membership: remove {xid}"));
                self.member[x] = false;
                self.tell_some(x, false)?;
                if self.slots[x].up && self.rng.chance(500) {
                    // the removed node leaves (destroy); its disk stays for a later re-admission
                    self.crash(x);
                    self.stats.crashes -= 1;
                }
                self.stats.membership_changes += 1;
            }
        }
        if add {
            if let Some(x) = self.pick(&outsiders) {
                let xid = self.id(x);
                self.trace(format_args!("membership: add {xid}"));
                self.member[x] = true;
                if !self.slots[x].up {
                    self.boot(x)?;
                }
                self.tell_some(x, true)?;
                self.stats.membership_changes += 1;
            }
        }
        Ok(())
    }

    /// `ackNode` for `x` (keep or remove) on a random share of the running nodes that hold a
    /// configuration, `x` itself included.
    fn tell_some(&mut self, x: usize, keep: bool) -> Res<()> {
        let xid = self.id(x);
        let now = self.now;
        let share = self.rng.range(300, 1000);
        for j in 0..self.n() {
            if !self.slots[j].up || !self.slots[j].node.has_configuration() || self.paused(j) {
                continue;
            }
            if !self.rng.chance(share) {
                continue;
            }
            self.note_event(j);
            if keep {
                self.slots[j].node.add_member(xid, now);
            } else {
                self.slots[j].node.remove_member(&xid, now);
            }
            self.after_step(j)?;
        }
        Ok(())
    }
}

/// Run one seed; a panic in the core is reported as a violation of that seed.
pub fn run_seed(seed: u64, p: &Params) -> Result<Stats, Violation> {
    let p2 = p.clone();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        Sim::new(seed, p2).run()
    })) {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            Err(Violation {
                seed,
                step: 0,
                time_ms: 0,
                invariant: inv::PANIC,
                detail: msg,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// running many seeds on all cores

pub struct Report {
    pub stats: Stats,
    /// Violations found, lowest seed first.
    pub violations: Vec<Violation>,
    pub elapsed: Duration,
    pub threads: usize,
}

/// Run seeds `first .. first + count` on all cores. With `stop_at_first`, stop once a
/// violation is found; the lowest violating seed is still found deterministically (seeds are
/// claimed in order, and every seed below a found one is run).
pub fn run_seeds(first: u64, count: u64, p: &Params, stop_at_first: bool) -> Report {
    let start = Instant::now();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count.max(1) as usize);
    let next = AtomicU64::new(0);
    let best = AtomicU64::new(u64::MAX);
    let total = Mutex::new(Stats::default());
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Stats::default();
                loop {
                    let k = next.fetch_add(1, AtomicOrdering::Relaxed);
                    if k >= count {
                        break;
                    }
                    let seed = first + k;
                    if seed > best.load(AtomicOrdering::Relaxed) {
                        break;
                    }
                    match run_seed(seed, p) {
                        Ok(s) => local.add(&s),
                        Err(v) => {
                            if stop_at_first {
                                best.fetch_min(seed, AtomicOrdering::Relaxed);
                            }
                            found.lock().unwrap().push(v);
                        }
                    }
                }
                total.lock().unwrap().add(&local);
            });
        }
    });
    let mut violations = found.into_inner().unwrap();
    violations.sort_by_key(|v| v.seed);
    Report {
        stats: total.into_inner().unwrap(),
        violations,
        elapsed: start.elapsed(),
        threads,
    }
}

pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}
