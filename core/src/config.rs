//! Timing configuration, with raftq's option names in the error messages.

use std::fmt;

/// Timing of one node, in milliseconds (raftq's `heartbeat`, `minimumElectionTime`,
/// `maximumElectionTime`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Interval between the leader's heartbeats.
    pub heartbeat: u64,
    /// Lower bound of the randomised election timeout; also the check-quorum period and the
    /// leader lease a follower grants to a leader it hears from.
    pub election_min: u64,
    /// Upper bound (inclusive) of the randomised election timeout.
    pub election_max: u64,
    /// Pre-vote (thesis §9.6): a node whose election timer fires first asks whether it could
    /// win before raising its term. Off: it campaigns at once with a real vote request.
    /// Default on.
    pub pre_vote: bool,
    /// Check-quorum and leases (thesis §6.2, §4.2.3): a leader that has not heard from a
    /// majority within `election_min` steps down, followers ignore vote requests while they hear
    /// from a leader, and a leader reports `Status::lease_valid`. Off: none of these (the lease
    /// is never valid); [`crate::Node::confirm_leadership`] still works. Default on.
    pub check_quorum: bool,
    /// A node that holds no configuration yet (a fresh cluster) does not stand for election until
    /// it knows this many members, itself included (Consul's `bootstrap_expect`; 0: off).
    pub bootstrap_expect: usize,
    /// Test-only: disable one safety rule so the simulation can prove it notices.
    #[cfg(feature = "rule-switches")]
    pub broken_rule: Option<BrokenRule>,
}

/// The rules the simulation must be able to catch when they are switched off.
#[cfg(feature = "rule-switches")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokenRule {
    /// Grant (pre-)votes without comparing the candidate's data version with ours (§5.4.1).
    UpToDateVote,
    /// Release acknowledgements (vote grants, data acks) before their state was persisted.
    PersistBeforeAck,
    /// Let a leader commit a version of an earlier term by counting replicas (§5.4.2), and do
    /// not re-propose the latest data in the new term on election.
    CommitCurrentTerm,
    /// Step messages from senders that are not members (as raftq 1.0.0 does).
    AcceptStrangers,
    /// Answer every failing append response at once and resend data without backing off (the
    /// leader/follower ping-pong of a follower that never receives the data).
    NoFlowControl,
    /// Report every decided proposal as committed, also those a commit superseded or that
    /// timed out (`replicate()` resolving `true` for a value that may be lost).
    ReportLostAsCommitted,
    /// Confirm leadership on any response of the leader's term, also those that echo no round
    /// or a round sent before the request (ReadIndex without its round trip).
    ConfirmWithoutRound,
    /// Count quorums over the nodes acked locally (raftq's membership) instead of the
    /// configuration held.
    LocalAckQuorum,
    /// Let a leader propose a configuration change while another is not committed yet (and
    /// before it committed a version of its own term).
    TwoChangesInFlight,
    /// Answer reads with the latest version (what `confirmLeadership()` + `getData()` gives on
    /// the leader), not the commit point.
    ReadLatest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn new(heartbeat: u64, election_min: u64, election_max: u64) -> Result<Self, ConfigError> {
        let c = Config {
            heartbeat,
            election_min,
            election_max,
            pre_vote: true,
            check_quorum: true,
            bootstrap_expect: 0,
            #[cfg(feature = "rule-switches")]
            broken_rule: None,
        };
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat == 0 {
            return Err(ConfigError("heartbeat must be a number > 0".into()));
        }
        if self.election_min == 0 {
            return Err(ConfigError(
                "minimumElectionTime must be a number > 0".into(),
            ));
        }
        if self.election_max < self.election_min {
            return Err(ConfigError(
                "maximumElectionTime must be >= minimumElectionTime".into(),
            ));
        }
        Ok(())
    }

    #[cfg(feature = "rule-switches")]
    pub(crate) fn broken(&self, rule: BrokenRule) -> bool {
        self.broken_rule == Some(rule)
    }
}
