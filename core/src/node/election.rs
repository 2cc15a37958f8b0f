//! Leader election (Raft §5.2, §5.4.1) with pre-vote and check-quorum (Ongaro's thesis §9.6,
//! §6.2), leader lease for followers, and leadership transfer (thesis §3.10).

use super::{
    Node, NodeId, Output, Progress, Role, TransferError, MAX_VALUE, MAX_VOTE_TERM_STEP,
    TERM_TOO_FAR,
};
use crate::message::{Message, Version};

impl<I: NodeId> Node<I> {
    /// Timers: the leader's heartbeat and check-quorum, everyone else's election timeout.
    pub fn tick(&mut self, now: u64) {
        if !self.started {
            return;
        }
        self.observe(now);
        self.expire_pending(now);
        if self
            .transfer
            .as_ref()
            .is_some_and(|(_, deadline)| now >= *deadline)
        {
            // ids are the host's keys: the host names the target in its own log lines
            self.transfer = None;
            self.log_line("leadership transfer timed out".to_string());
        }
        if self.role == Role::Leader {
            if self.persist_stalled(now) {
                return;
            }
            if now >= self.heartbeat_deadline {
                self.lease_round();
                self.broadcast_append(now);
            }
            if now >= self.election_deadline {
                if self.config.check_quorum {
                    self.check_quorum(now);
                } else {
                    self.election_deadline = now.saturating_add(self.config.election_min);
                }
            }
            return;
        }
        if now >= self.election_deadline {
            if now < self.no_campaign_until {
                let wait = self.random_election_timeout();
                self.election_deadline = self.no_campaign_until.max(now.saturating_add(wait));
                return;
            }
            if self.config.pre_vote {
                self.pre_vote(now);
            } else {
                self.campaign(now, false);
            }
        }
    }

    /// A leader whose persists have made no progress for the longest election timeout cannot
    /// commit nor promise anything: it hands leadership to its most up-to-date follower and
    /// steps down (as after `serviceCrashed`). Returns whether it did. (The longest: a disk
    /// that is merely slow — a write per `minimumElectionTime`, say — is no reason to go.)
    fn persist_stalled(&mut self, now: u64) -> bool {
        if !self.persist_pending() {
            self.persist_stalled_since = None;
            return false;
        }
        let since = *self.persist_stalled_since.get_or_insert(now);
        let stalled_for = now.saturating_sub(since);
        if stalled_for < self.config.election_max {
            return false;
        }
        self.log_line(format!(
            "leader cannot persist for {stalled_for} ms: handing leadership over"
        ));
        self.step_down_and_hand_over(now);
        true
    }

    /// Hand leadership to the most up-to-date follower (if any), become a follower, and do not
    /// stand for election for the longest election timeout.
    pub(crate) fn step_down_and_hand_over(&mut self, now: u64) {
        if self.role == Role::Leader {
            if let Some(target) = self.best_transferee() {
                self.send_transfer(target, now);
            }
        }
        let term = self.term;
        self.become_follower(term, None, now);
        self.last_leader_contact = None;
        self.no_campaign_until = now.saturating_add(self.config.election_max);
        self.election_deadline = self.no_campaign_until;
    }

    /// Check-quorum: a leader that has not heard from a majority within an election timeout
    /// steps down, so a partitioned leader stops accepting writes it can never commit.
    fn check_quorum(&mut self, now: u64) {
        let active = self.voters_where(true, |p| p.recent_active);
        if active < self.quorum() {
            self.log_line(format!(
                "leader lost its majority ({active} of {} reachable)",
                self.cluster_size()
            ));
            let term = self.term;
            self.become_follower(term, None, now);
            return;
        }
        for p in self.members.values_mut() {
            p.recent_active = false;
        }
        self.election_deadline = now.saturating_add(self.config.election_min);
    }

    /// Whether we heard from a leader within the minimum election timeout: then votes that
    /// would depose it are ignored (thesis §4.2.3), which stops a rejoining node from
    /// disrupting a healthy cluster.
    pub(crate) fn in_lease(&self, now: u64) -> bool {
        if !self.config.check_quorum {
            return false;
        }
        if self.role == Role::Leader || now < self.vote_fence_until {
            return true;
        }
        self.leader.is_some()
            && self
                .last_leader_contact
                .is_some_and(|t| now < t.saturating_add(self.config.election_min))
    }

    /// Whether a campaign (and then a re-proposal) stays within [`MAX_VALUE`].
    fn may_campaign(&mut self) -> bool {
        if !self.may_be_needed() {
            // a learner, or a node removed from every configuration it holds (§4.2.3)
            return false;
        }
        let expect = self.config.bootstrap_expect;
        if expect > 0 && !self.has_configuration() && self.voters().len() < expect {
            if !self.bootstrap_wait_logged {
                self.bootstrap_wait_logged = true;
                self.log_line(format!(
                    "waiting for {expect} members before the first election ({} known)",
                    self.voters().len()
                ));
            }
            return false;
        }
        if self.term < MAX_VALUE && self.latest().index < MAX_VALUE {
            return true;
        }
        self.log_line("term or index space exhausted: not standing for election".to_string());
        false
    }

    /// Pre-vote: ask whether we could win at `term + 1` without anyone raising a term.
    fn pre_vote(&mut self, now: u64) {
        if !self.may_campaign() {
            self.reset_election_timer(now);
            return;
        }
        // a candidate whose election timed out goes back through pre-vote (as etcd's
        // pre-candidate): its own term stays until a majority says it could win
        self.set_role(Role::Follower);
        self.metrics.pre_votes_started += 1;
        self.pre_candidate = true;
        self.set_leader(None);
        self.votes.clear();
        let me = self.id.clone();
        self.votes.insert(me, true);
        self.reset_election_timer(now);
        let msg = Message::VoteRequest {
            term: self.term + 1,
            pre_vote: true,
            last: self.latest(),
            transfer: false,
        };
        let targets: Vec<I> = self.members.keys().cloned().collect();
        for to in targets {
            self.send_now(to, msg.clone());
        }
        self.maybe_win_pre_vote(now);
    }

    /// Stand for election at `term + 1`. `transfer` marks a campaign asked for by the leader
    /// (skips pre-vote, and voters ignore their lease for it).
    pub(crate) fn campaign(&mut self, now: u64, transfer: bool) {
        if !self.may_campaign() {
            self.reset_election_timer(now);
            return;
        }
        self.pre_candidate = false;
        self.metrics.elections_started += 1;
        self.term += 1;
        self.voted_for = Some(self.id.clone());
        self.votes.clear();
        let me = self.id.clone();
        self.votes.insert(me, true);
        self.transfer = None;
        self.set_leader(None);
        self.set_role(Role::Candidate);
        self.campaign_seq = self.request_persist();
        self.reset_election_timer(now);
        let msg = Message::VoteRequest {
            term: self.term,
            pre_vote: false,
            last: self.latest(),
            transfer,
        };
        let targets: Vec<I> = self.members.keys().cloned().collect();
        for to in targets {
            // our own vote must be on disk before anyone counts on our request
            self.send_after_persist(to, msg.clone());
        }
        self.maybe_win(now);
    }

    fn granted_count(&self) -> (usize, usize) {
        let mut yes = 0;
        let mut no = 0;
        let voters = self.voters();
        for (id, granted) in &self.votes {
            if !voters.contains(id) {
                continue; // only the voters of our configuration count
            }
            if *granted {
                yes += 1;
            } else {
                no += 1;
            }
        }
        (yes, no)
    }

    pub(crate) fn maybe_win_pre_vote(&mut self, now: u64) {
        if !self.pre_candidate || !self.started {
            return;
        }
        let (yes, no) = self.granted_count();
        if yes >= self.quorum() {
            self.campaign(now, false);
        } else if no >= self.quorum() {
            self.pre_candidate = false;
        }
    }

    pub(crate) fn maybe_win(&mut self, now: u64) {
        if self.role != Role::Candidate || !self.started {
            return;
        }
        let (yes, no) = self.granted_count();
        if yes >= self.quorum() && self.persist_done >= self.campaign_seq {
            self.become_leader(now);
        } else if no >= self.quorum() {
            let term = self.term;
            self.become_follower(term, None, now);
        }
    }

    /// Become a follower at `term` (raising our term, forgetting our vote, if it is newer).
    pub(crate) fn become_follower(&mut self, term: u64, leader: Option<I>, now: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            // replies still waiting for a persist belong to an older term now: stale
            self.gated.retain(|g| g.msg.term() >= term);
            self.persist_later();
        }
        let was_leader = self.role == Role::Leader;
        if was_leader {
            // confirmations need this leadership: they fail with it
            self.fail_confirms();
            self.fence_round = 0;
            self.round_wanted = false;
        }
        self.pre_candidate = false;
        self.votes.clear();
        self.transfer = None;
        self.set_role(Role::Follower);
        if leader.is_some() {
            self.last_leader_contact = Some(now);
        }
        self.set_leader(leader);
        if was_leader || self.election_deadline <= now {
            self.reset_election_timer(now);
        }
        self.update_visible();
    }

    fn become_leader(&mut self, now: u64) {
        self.pre_candidate = false;
        self.votes.clear();
        self.metrics.elections_won += 1;
        self.round = 0;
        self.round_wanted = false;
        self.fence_round = 0;
        self.set_role(Role::Leader);
        let me = self.id.clone();
        self.set_leader(Some(me));
        for p in self.members.values_mut() {
            *p = Progress {
                needs_data: true,
                ..Progress::default()
            };
        }
        // §5.4.2: a leader commits only entries of its own term. Each entry holds the whole
        // value, so re-proposing the latest value in the new term makes it committable and
        // supersedes any old-term version a follower might still hold.
        let latest = self.latest();
        #[cfg(feature = "rule-switches")]
        let reopen = !self
            .config
            .broken(crate::config::BrokenRule::CommitCurrentTerm);
        #[cfg(not(feature = "rule-switches"))]
        let reopen = true;
        if reopen {
            let v = Version::new(self.term, latest.index + 1);
            // the alias before the new entry: a version the entry pushes out is released after
            self.outputs.push(Output::Alias {
                version: v,
                copy_of: latest,
            });
            // the first version of a node that held no configuration gets the one it counted
            // its election over
            let voters = Some(self.voters_to_hold());
            self.push_entry(v, self.term, voters);
            self.carry_proposals(latest, v);
            self.request_persist();
        }
        self.update_visible();
        self.election_deadline = now.saturating_add(self.config.election_min);
        self.broadcast_append(now);
        self.maybe_commit(now);
    }

    /// A member's vote request (not a pre-vote), vote response or append response whose term
    /// is beyond one message's reach ([`MAX_VOTE_TERM_STEP`] ahead of ours): the same message
    /// at our term + that step. Without it, a node cut off for 2^16 election timeouts with
    /// pre-vote off would never rejoin (every side dropping the other's messages); with it,
    /// its answers and requests drag the others' terms toward its own one bounded step per
    /// message (the lease still ignores its requests, its answers depose a leader as any
    /// higher term does), until the cluster's next election is within reach of it. A forged
    /// body still moves a term by at most the step, and an append (a leader's claim on the
    /// data) is never taken at a term it does not carry.
    pub(crate) fn within_reach(&self, msg: &Message, reason: &'static str) -> Option<Message> {
        if reason != TERM_TOO_FAR {
            return None;
        }
        let term = self.term.saturating_add(MAX_VOTE_TERM_STEP).min(MAX_VALUE);
        match *msg {
            // never granted: no data version is older than any. A pre-vote from that far ahead
            // too (it asks for no term change, but a node that far behind never answers it,
            // and one outside every configuration it holds never campaigns to close the gap)
            Message::VoteRequest { .. } => Some(Message::VoteRequest {
                term,
                pre_vote: false,
                last: Version::ZERO,
                transfer: false,
            }),
            Message::VoteResponse { pre_vote, .. } => Some(Message::VoteResponse {
                term,
                pre_vote,
                // a grant is for the term it names, not this one
                granted: false,
            }),
            Message::AppendResponse { latest, round, .. } => Some(Message::AppendResponse {
                term,
                // an answer to an append of another term
                success: false,
                latest,
                round,
            }),
            Message::Append { .. } => None,
        }
    }

    pub(crate) fn on_vote_request(
        &mut self,
        from: I,
        term: u64,
        pre_vote: bool,
        last: Version,
        transfer: bool,
        now: u64,
    ) -> Option<&'static str> {
        // a transfer campaign (the leader told `from` to stand) is exactly one term ahead; only
        // then does it override the lease, so a flag alone cannot depose a healthy leader
        let transfer = transfer && !pre_vote && term == self.term.saturating_add(1);
        if term > self.term && !transfer && self.in_lease(now) {
            return Some("vote request while a leader is active");
        }
        if term < self.term {
            let reply = Message::VoteResponse {
                term: self.term,
                pre_vote,
                granted: false,
            };
            self.send_after_persist(from, reply);
            return None;
        }
        if pre_vote {
            // never changes our state: grant if an election at `term` could be won by `from`
            let granted = term > self.term && self.up_to_date(last);
            let reply = Message::VoteResponse {
                term: if granted { term } else { self.term },
                pre_vote: true,
                granted,
            };
            self.send_now(from, reply);
            return None;
        }
        if term > self.term {
            self.become_follower(term, None, now);
        }
        let can_vote = self.voted_for.as_ref() == Some(&from)
            || (self.voted_for.is_none() && self.leader.is_none());
        let granted = can_vote && self.up_to_date(last);
        if granted {
            if self.voted_for.is_none() {
                self.voted_for = Some(from.clone());
                self.request_persist();
            }
            self.reset_election_timer(now);
        }
        let reply = Message::VoteResponse {
            term: self.term,
            pre_vote: false,
            granted,
        };
        // a grant is a promise: it leaves only once our vote is on disk
        self.send_after_persist(from, reply);
        None
    }

    /// §5.4.1: a candidate's data must be at least as up to date as ours.
    fn up_to_date(&self, last: Version) -> bool {
        #[cfg(feature = "rule-switches")]
        if self.config.broken(crate::config::BrokenRule::UpToDateVote) {
            return true;
        }
        last >= self.latest()
    }

    pub(crate) fn on_vote_response(
        &mut self,
        from: I,
        term: u64,
        pre_vote: bool,
        granted: bool,
        now: u64,
    ) -> Option<&'static str> {
        if !self.members.contains_key(&from) {
            return Some("vote from a non-member");
        }
        if pre_vote && granted {
            if !self.pre_candidate || term != self.term + 1 {
                return Some("stale pre-vote");
            }
            self.votes.insert(from, true);
            self.maybe_win_pre_vote(now);
            return None;
        }
        if term > self.term {
            self.become_follower(term, None, now);
            return None;
        }
        if pre_vote {
            if !self.pre_candidate {
                return Some("stale pre-vote");
            }
            self.votes.insert(from, false);
            self.maybe_win_pre_vote(now);
            return None;
        }
        if term < self.term || self.role != Role::Candidate {
            return Some("stale vote");
        }
        self.votes.insert(from, granted);
        self.maybe_win(now);
        None
    }

    /// `serviceCrashed`: a leader hands leadership to its most up-to-date follower first
    /// (fast failover); the node becomes a follower, keeps its term and vote (forgetting the
    /// vote, as raftq 1.0.0 does, allows two votes in one term), and does not stand for election
    /// for an election timeout.
    pub fn crashed(&mut self, now: u64) {
        if !self.started {
            return;
        }
        self.observe(now);
        self.step_down_and_hand_over(now);
        self.request_persist();
    }

    /// Hand leadership to `to` (or the most up-to-date follower): bring it up to date and tell
    /// it to campaign at once. Proposals are refused until the transfer ends (new leader seen,
    /// or an election timeout passed).
    pub fn transfer_leadership(&mut self, to: Option<I>, now: u64) -> Result<I, TransferError> {
        if !self.started {
            return Err(TransferError::NotStarted);
        }
        self.observe(now);
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader);
        }
        let target = match to {
            Some(t) if t == self.id => return Err(TransferError::NoCandidate),
            Some(t) if !self.voters().contains(&t) || !self.members.contains_key(&t) => {
                return Err(TransferError::UnknownMember)
            }
            Some(t) => t,
            None => self.best_transferee().ok_or(TransferError::NoCandidate)?,
        };
        self.transfer = Some((target.clone(), now.saturating_add(self.config.election_min)));
        self.transfer_waits
            .push_back(now.saturating_add(self.config.election_max));
        self.send_transfer(target.clone(), now);
        Ok(target)
    }

    /// The member with the newest acknowledged version.
    fn best_transferee(&self) -> Option<I> {
        let voters = self.voters();
        self.members
            .iter()
            .filter(|(id, _)| **id != self.id && voters.contains(id))
            .max_by_key(|(_, p)| (p.matched, p.recent_active))
            .map(|(id, _)| id.clone())
    }

    /// TimeoutNow, riding `syncData`: carries the data when the target may lack our latest
    /// version, so one message both brings it up to date and starts its campaign.
    fn send_transfer(&mut self, target: I, now: u64) {
        // its voters ignore their lease for the campaign this starts: ours ends
        self.handed_off = Some(self.term);
        self.send_append(target, now, true);
    }
}
