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
//! small as before.

use super::{Confirm, ConfirmError, Node, NodeId, Output, Role};

impl<I: NodeId> Node<I> {
    /// `confirmLeadership()`: check with a majority, in one round trip, that this node still
    /// leads in its term. Returns the request's id; [`Output::Confirmed`] with that id follows
    /// exactly once (at once, in the outputs of this call, for a leader without other
    /// members). Requests made before the outputs are taken share one round, which goes out
    /// with those outputs.
    pub fn confirm_leadership(&mut self, now: u64) -> Result<u64, ConfirmError> {
        if !self.started {
            return Err(ConfirmError::NotStarted);
        }
        self.observe(now);
        if self.role != Role::Leader {
            return Err(ConfirmError::NotLeader);
        }
        self.confirm_seq += 1;
        let id = self.confirm_seq;
        if !self.round_wanted {
            self.round += 1;
            self.round_wanted = true;
        }
        self.confirms.push_back(Confirm {
            id,
            round: self.round,
            deadline: now.saturating_add(self.config.election_max),
        });
        self.check_confirms();
        Ok(id)
    }

    /// Whether rounds ride the leader's appends (a confirmation or a fence is pending).
    pub(crate) fn round_pending(&self) -> bool {
        !self.confirms.is_empty() || self.fence_round != 0 || self.round_wanted
    }

    /// The round a leader's append carries (0: none).
    pub(crate) fn append_round(&self) -> u64 {
        if self.role == Role::Leader && self.round_pending() {
            self.round
        } else {
            0
        }
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
    }

    /// The leader's lease: check-quorum on, and a majority (us included) answered within the
    /// last `election_min` ms (responses held back by a pause's fence do not count).
    pub(crate) fn lease_valid(&self, now: u64) -> bool {
        if !self.config.check_quorum || self.role != Role::Leader {
            return false;
        }
        let min = self.config.election_min;
        let fresh = self.voters_where(true, |p| {
            p.lease_contact.is_some_and(|t| now < t.saturating_add(min))
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
        if !self.round_wanted {
            self.round += 1;
            self.round_wanted = true;
        }
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
    pub(crate) fn take_echo(&mut self, from: &I, round: u64, now: u64) -> Option<bool> {
        if round > self.round {
            return None;
        }
        let fence = self.fence_round;
        let p = self.members.get_mut(from)?;
        p.round_acked = p.round_acked.max(round);
        p.last_contact = Some(now);
        let counts = fence == 0 || p.round_acked >= fence;
        if counts {
            p.lease_contact = Some(now);
        }
        Some(counts)
    }
}
