//! Acting on leadership safely: confirmation rounds (ReadIndex, thesis §6.4), the leader's
//! lease (thesis §6.4.1) and what a pause of the whole process does to both.
//!
//! A confirmation round is a number the leader raises when a request comes in and sends at once
//! to every member on `syncData` (`round`); a follower echoes the highest round it received
//! from the leader of its term on its `dataResponse`. A member that echoes round `r` in term
//! `t` was a follower of this leader in `t` after the round was sent, so after the request: once
//! a majority (the leader included) did, no node can have been elected in a later term before
//! the request (its voters would have refused the round's append). Responses that were in
//! flight when the request came echo older rounds (or none) and do not count. Rounds travel only
//! while a confirmation (or the check after a pause) is pending: heartbeats otherwise stay as
//! small as before — except with check-quorum on, where each heartbeat starts a new round: the
//! lease counts from when the round a member echoed was *sent* (a member that echoes it heard
//! the leader no earlier than that, and refuses to depose it for `election_min` after hearing
//! it), not from when the echo arrived; less a clock-drift margin (thesis §6.4.1).
//!
//! Reads (thesis §6.4, ReadIndex): [`Node::read_index`] rides the same rounds and answers
//! with the commit point once this leader confirmed its leadership after the request and
//! committed a version of its own term.

use super::{Confirm, ConfirmError, Node, NodeId, Output, ReadFailure, ReadWait, Role};

/// The share of `election_min` the lease gives up to clock drift between the leader and its
/// followers (a follower whose clock runs this much faster than the leader's still keeps its
/// promise for as long as the leader counts on it).
pub const LEASE_DRIFT_PERCENT: u64 = 10;

/// How many sent rounds a leader remembers at most (older ones can prove no lease anyway once
/// `election_min` passed; this bounds the memory under a storm of confirmations).
const ROUNDS_KEPT: usize = 1024;

impl<I: NodeId> Node<I> {
    /// `confirmLeadership()`: check with a majority, in one round trip, that this node still
    /// leads in its term. Returns the request's id; [`Output::Confirmed`] with that id follows
    /// exactly once (at once, in the outputs of this call, for a leader without other
    /// members). Requests made before the outputs are taken share one round, which goes out
    /// with those outputs.
    pub fn confirm_leadership(&mut self, now: u64) -> Result<u64, ConfirmError> {
        let id = self.leader_request(now)?;
        self.want_round();
        self.confirms.push_back(Confirm {
            id,
            round: self.round,
            deadline: now.saturating_add(self.config.election_max),
        });
        self.check_confirms();
        Ok(id)
    }

    /// `read()`: a linearizable read (ReadIndex, thesis §6.4). Returns the request's id;
    /// [`Output::ReadReady`] (with the version whose value to answer) or
    /// [`Output::ReadFailed`] follows exactly once. It is ready once (1) a majority (this node
    /// included) echoed a confirmation round sent after the request, in the term of the request,
    /// while this node still led it — so no newer leader was elected before the request, and
    /// every version committed before it is on this leader's chain — and (2) this leader has
    /// committed a version of its own term (the commit point then covers every such version:
    /// before its first commit, a new leader's commit point may lag the cluster's). The answer is
    /// the commit point at that time, which covers the commit point at the request.
    ///
    /// `lease`: answer at once, without a round, while the lease is valid (see
    /// [`super::Status::lease_valid`]) and a version of this term is committed; otherwise as
    /// without it. Only as safe as the bound on clock drift ([`LEASE_DRIFT_PERCENT`]).
    pub fn read_index(&mut self, now: u64, lease: bool) -> Result<u64, ConfirmError> {
        let id = self.leader_request(now)?;
        if lease && self.lease_valid(now) && self.committed().term == self.term {
            let version = self.read_version();
            self.outputs.push(Output::ReadReady { id, version });
            return Ok(id);
        }
        self.want_round();
        self.reads.push_back(ReadWait {
            id,
            round: self.round,
            confirmed: false,
            deadline: now.saturating_add(self.config.election_max),
        });
        self.check_confirms();
        Ok(id)
    }

    /// A request that needs this node to lead (confirmation or read): its id (unique over the
    /// node's life), or why not.
    fn leader_request(&mut self, now: u64) -> Result<u64, ConfirmError> {
        if !self.started {
            return Err(ConfirmError::NotStarted);
        }
        self.observe(now);
        if self.role != Role::Leader {
            return Err(ConfirmError::NotLeader);
        }
        self.confirm_seq += 1;
        Ok(self.confirm_seq)
    }

    /// A new round goes out with the outputs of this input (one for every request made meanwhile).
    fn want_round(&mut self) {
        if !self.round_wanted {
            self.round += 1;
            self.round_wanted = true;
        }
    }

    /// Answer the confirmed reads once a version of this term is committed (called when a
    /// confirmation round completes and when the commit point moves).
    pub(crate) fn serve_reads(&mut self) {
        if !self.started || self.role != Role::Leader || self.committed().term != self.term {
            return;
        }
        let version = self.read_version();
        let outputs = &mut self.outputs;
        self.reads.retain(|r| {
            if r.confirmed {
                outputs.push(Output::ReadReady { id: r.id, version });
            }
            !r.confirmed
        });
    }

    /// The version a ready read answers with: the commit point.
    fn read_version(&self) -> super::Version {
        #[cfg(feature = "rule-switches")]
        if self.config.broken(crate::config::BrokenRule::ReadLatest) {
            return self.latest();
        }
        self.committed()
    }

    /// Reads not answered within `election_max` ms of their request fail.
    pub(crate) fn expire_reads(&mut self, now: u64) {
        let outputs = &mut self.outputs;
        self.reads.retain(|r| {
            let late = r.deadline <= now;
            if late {
                outputs.push(Output::ReadFailed {
                    id: r.id,
                    failure: ReadFailure::TimedOut,
                });
            }
            !late
        });
    }

    /// Whether rounds ride the leader's appends (a confirmation, a read or a fence is pending).
    pub(crate) fn round_pending(&self) -> bool {
        !self.confirms.is_empty()
            || self.reads.iter().any(|r| !r.confirmed)
            || self.fence_round != 0
            || self.round_wanted
    }

    /// The round a leader's append carries (0: none). With check-quorum, every append carries
    /// one (the lease is counted from rounds).
    pub(crate) fn append_round(&self) -> u64 {
        if self.role == Role::Leader && (self.round_pending() || self.config.check_quorum) {
            self.round
        } else {
            0
        }
    }

    /// The heartbeat: with check-quorum, a new round for the lease (unless one was just raised).
    pub(crate) fn lease_round(&mut self) {
        if self.config.check_quorum && self.role == Role::Leader && !self.round_wanted {
            self.round += 1;
        }
    }

    /// An append carrying `round` goes out at `now`: remember when the round first did.
    pub(crate) fn note_round_sent(&mut self, round: u64, now: u64) {
        if round == 0 {
            return;
        }
        let term = self.term;
        if self
            .round_sent
            .back()
            .is_some_and(|&(t, r, _)| t == term && r == round)
        {
            return;
        }
        if self.round_sent.back().is_some_and(|&(t, _, _)| t != term) {
            self.round_sent.clear();
        }
        let keep_from = now.saturating_sub(self.config.election_min);
        while self.round_sent.len() >= ROUNDS_KEPT
            || self
                .round_sent
                .front()
                .is_some_and(|&(_, _, at)| at < keep_from)
        {
            self.round_sent.pop_front();
        }
        self.round_sent.push_back((term, round, now));
    }

    /// When `round` of this term first went out (`None`: never, or too long ago to matter).
    fn round_sent_at(&self, round: u64) -> Option<u64> {
        let term = self.term;
        self.round_sent
            .iter()
            .rev()
            .find(|&&(t, r, _)| t == term && r == round)
            .map(|&(_, _, at)| at)
    }

    /// How long a lease lasts from the sending of a round a member echoed.
    fn lease_ms(&self) -> u64 {
        let min = self.config.election_min;
        min - min * LEASE_DRIFT_PERCENT / 100
    }

    /// Send a round raised in this input to every member (before the outputs are taken).
    pub(crate) fn flush_round(&mut self) {
        if !self.round_wanted {
            return;
        }
        self.round_wanted = false;
        if self.started && self.role == Role::Leader {
            let now = self.last_input;
            self.broadcast_append(now);
        }
    }

    /// Members (and us) that echoed at least `round`.
    fn echoed(&self, round: u64) -> usize {
        self.voters_where(true, |p| p.round_acked >= round)
    }

    /// Decide the confirmations a majority answered (rounds only grow, so the oldest first),
    /// and lift a pause's fence once a majority passed it.
    pub(crate) fn check_confirms(&mut self) {
        if !self.started || self.role != Role::Leader {
            return;
        }
        let q = self.quorum();
        if self.fence_round != 0 && self.echoed(self.fence_round) >= q {
            self.fence_round = 0;
        }
        #[cfg(feature = "rule-switches")]
        if self
            .config
            .broken(crate::config::BrokenRule::ConfirmWithoutRound)
        {
            // any response of the term counts, whenever it was sent
            let heard = self.voters_where(true, |p| p.last_contact.is_some());
            if heard >= q {
                while let Some(c) = self.confirms.pop_front() {
                    self.end_confirm(c.id, true);
                }
            }
            return;
        }
        while let Some(c) = self.confirms.front().copied() {
            if self.echoed(c.round) < q {
                break;
            }
            self.confirms.pop_front();
            self.end_confirm(c.id, true);
        }
        let mut any = false;
        for i in 0..self.reads.len() {
            let r = self.reads[i];
            if !r.confirmed && self.echoed(r.round) >= q {
                self.reads[i].confirmed = true;
                any = true;
            }
        }
        if any {
            self.serve_reads();
        }
    }

    pub(crate) fn end_confirm(&mut self, id: u64, confirmed: bool) {
        if confirmed {
            self.metrics.confirmations_true += 1;
        } else {
            self.metrics.confirmations_false += 1;
        }
        self.outputs.push(Output::Confirmed { id, confirmed });
    }

    /// Every pending confirmation fails (no longer leader, stopped, restarted).
    pub(crate) fn fail_confirms(&mut self) {
        while let Some(c) = self.confirms.pop_front() {
            self.end_confirm(c.id, false);
        }
        let failure = if self.started {
            ReadFailure::NotLeader
        } else {
            ReadFailure::Stopped
        };
        while let Some(r) = self.reads.pop_front() {
            self.outputs.push(Output::ReadFailed { id: r.id, failure });
        }
    }

    /// The leader's lease: check-quorum on, no transfer sent in this term, and a majority (us
    /// included) echoed a round sent within the last `election_min` ms less the drift margin
    /// (responses held back by a pause's fence do not count). Each such member refuses to help
    /// elect another leader until `election_min` after it received that round.
    pub(crate) fn lease_valid(&self, now: u64) -> bool {
        if !self.config.check_quorum
            || self.role != Role::Leader
            || self.handed_off == Some(self.term)
        {
            return false;
        }
        let lease = self.lease_ms();
        let fresh = self.voters_where(true, |p| {
            p.lease_contact
                .is_some_and(|t| now < t.saturating_add(lease))
        });
        fresh >= self.quorum()
    }

    /// Every input with a time passes here first. A leader that sees a gap longer than
    /// `election_min` since its previous input was paused (SIGSTOP, a long GC, a starved
    /// process): others may have elected a new leader meanwhile, and responses that waited in
    /// its sockets say nothing about now. It forgets who answered (lease and check-quorum start
    /// over) and sends a new round at once; until a member echoes it, its responses do not
    /// count. Its next timer check steps it down unless a majority answered the round first.
    pub(crate) fn observe(&mut self, now: u64) {
        let gap = now.saturating_sub(self.last_input);
        self.last_input = self.last_input.max(now);
        if !self.started || self.role != Role::Leader || gap <= self.config.election_min {
            return;
        }
        self.metrics.pauses_detected += 1;
        self.log_line(format!(
            "leader was paused for {gap} ms: its lease ends until a majority answers again"
        ));
        self.want_round();
        self.fence_round = self.round;
        let me = self.id.clone();
        for (id, p) in self.members.iter_mut() {
            if *id != me {
                p.recent_active = false;
                p.lease_contact = None;
            }
        }
    }

    /// Leader: a response of our term from `from` echoed `round` (0: none). Returns whether
    /// the response counts as a sign of life now (not held back by a pause's fence), or `None`
    /// when the echo is implausible (a round we never sent).
    /// Only a successful response renews the lease: it left once the member's term was on disk,
    /// so the member restarts with it and keeps its promise (see `vote_fence_until`).
    pub(crate) fn take_echo(
        &mut self,
        from: &I,
        round: u64,
        success: bool,
        now: u64,
    ) -> Option<bool> {
        if round > self.round {
            return None;
        }
        let fence = self.fence_round;
        let sent = self.round_sent_at(round);
        let p = self.members.get_mut(from)?;
        p.round_acked = p.round_acked.max(round);
        p.last_contact = Some(now);
        let counts = fence == 0 || p.round_acked >= fence;
        if counts && success {
            if let Some(at) = sent {
                p.lease_contact = p.lease_contact.max(Some(at));
            }
        }
        Some(counts)
    }
}
